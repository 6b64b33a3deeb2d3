#include "iopd/plugin.h"
/* placeholder, replaced by the real module */
IOPD_PLUGIN_EXPORT const struct iopd_plugin iopd_plugin = {0};
