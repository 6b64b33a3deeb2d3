/* netmod.c - see netmod.h */
#include "config.h"

#include <stdio.h>

#include "module.h"
#include "netmod.h"

/* Defined where the module's code is linked into the program itself;
 * absent (NULL) from the iopd executable, which loads net.so instead. */
extern const struct netmod iopd_netmod __attribute__((weak));

static struct module net = MODULE("network", "IOPD_NETMOD", IOPD_BUILD_NETMOD_PATH, IOPD_NETMOD_PATH,
    "iopd_netmod", &iopd_netmod);

const struct netmod *netmod(char *err, size_t errlen)
{
	const char *why;
	const struct netmod *n = module_get(&net, &why);

	if (!n)
		snprintf(err, errlen, "%s", why);
	return n;
}
