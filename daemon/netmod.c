/* netmod.c - see netmod.h */
#include "config.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmod.h"
#include "plugin_host.h"

/* Defined where the module's code is linked into the program itself;
 * absent (NULL) from the iopd executable, which loads net.so instead. */
extern const struct netmod iopd_netmod __attribute__((weak));

static pthread_once_t net_once = PTHREAD_ONCE_INIT;
static const struct netmod *net;
static char net_err[PATH_MAX + 256];

/* The installed module, under the same root as this executable: an iopd
 * installed with DESTDIR=ROOT (a staging root, an image being built) runs
 * from ROOT$(sbindir) and finds its module in ROOT$(pkglibdir). */
static void installed_path(char *out, size_t len)
{
	char exe[PATH_MAX];
	size_t n = plugin_exe_path(exe, sizeof exe), tail = strlen(IOPD_SBIN_PATH);
	size_t root = n >= tail && strcmp(exe + n - tail, IOPD_SBIN_PATH) == 0 ? n - tail : 0;

	snprintf(out, len, "%.*s%s", (int)root, exe, IOPD_NETMOD_PATH);
}

/* $IOPD_NETMOD (like $IOPD_PLUGIN_DIR, for a copy of iopd), the build
 * tree's module for an iopd run from the build tree, the installed one
 * otherwise: never one from a checkout for an installed iopd.  It shares
 * iopd's structures, so it must be of the same version. */
static void net_load(void)
{
	const char *env = getenv("IOPD_NETMOD");
	char path[PATH_MAX];
	const struct netmod *m;
	void *dl;

	if (&iopd_netmod) {
		net = &iopd_netmod;
		return;
	}
	if (env && *env)
		snprintf(path, sizeof path, "%s", env);
	else if (plugin_runs_from_build_tree())
		snprintf(path, sizeof path, "%s", IOPD_BUILD_NETMOD_PATH);
	else
		installed_path(path, sizeof path);
	/* RTLD_NOW: what the module lacks is said here, not mid-run */
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		snprintf(net_err, sizeof net_err, "cannot load iopd's network module: %s "
		    "(reinstall iopd, or name the module with IOPD_NETMOD)", dlerror());
		return;
	}
	m = dlsym(dl, "iopd_netmod");
	if (!m || strcmp(m->version, PACKAGE_STRING) != 0) {
		snprintf(net_err, sizeof net_err, "%s is not the network module of %s (%s): "
		    "reinstall iopd", path, PACKAGE_STRING, m ? m->version : "no iopd_netmod");
		dlclose(dl);
		return;
	}
	net = m;
}

const struct netmod *netmod(char *err, size_t errlen)
{
	pthread_once(&net_once, net_load);
	if (!net)
		snprintf(err, errlen, "%s", net_err);
	return net;
}
