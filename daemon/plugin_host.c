#include "config.h"
#include "plugin_host.h"
