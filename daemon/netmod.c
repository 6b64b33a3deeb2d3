/* netmod.c - see netmod.h */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include "module.h"
#include "netmod.h"

/* Defined where the module's code is linked into the program itself;
 * absent (NULL) from the iopd executable, which loads net.so instead. */
extern const struct netmod iopd_netmod __attribute__((weak));

static const struct module_spec spec = {
	"network", "IOPD_NETMOD", IOPD_BUILD_NETMOD_PATH, IOPD_NETMOD_PATH, "iopd_netmod",
};
static pthread_once_t net_once = PTHREAD_ONCE_INIT;
static const struct netmod *net;
static char net_err[PATH_MAX + 256];

static void net_load(void)
{
	net = &iopd_netmod ? &iopd_netmod : module_load(&spec, net_err, sizeof net_err);
}

const struct netmod *netmod(char *err, size_t errlen)
{
	pthread_once(&net_once, net_load);
	if (!net)
		snprintf(err, errlen, "%s", net_err);
	return net;
}
