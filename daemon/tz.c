#include "config.h"
#include "tz.h"
