/* module.c - see module.h */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "plugin_host.h"

/* The installed module, under the same root as this executable: an iopd
 * installed with DESTDIR=ROOT (a staging root, an image being built) runs
 * from ROOT$(sbindir) and finds its modules in ROOT$(pkglibdir). */
static void installed_path(const char *path, char *out, size_t len)
{
	char exe[PATH_MAX];
	size_t n = plugin_exe_path(exe, sizeof exe), tail = strlen(IOPD_SBIN_PATH);
	size_t root = n >= tail && strcmp(exe + n - tail, IOPD_SBIN_PATH) == 0 ? n - tail : 0;

	snprintf(out, len, "%.*s%s", (int)root, exe, path);
}

void module_path(const struct module *m, char *out, size_t len)
{
	const char *env = getenv(m->env);

	if (m->linked)
		snprintf(out, len, "%s", "");
	else if (env && *env)
		snprintf(out, len, "%s", env);
	else if (plugin_runs_from_build_tree())
		snprintf(out, len, "%s", m->build_path);
	else
		installed_path(m->installed_path, out, len);
}

/* The structure the module at module_path exports; NULL with m->err */
static const void *load(struct module *m)
{
	char path[PATH_MAX];
	const char *const *version;
	void *dl;

	module_path(m, path, sizeof path);
	/* RTLD_NOW: what the module lacks is said here, not mid-run */
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		snprintf(m->err, sizeof m->err, "cannot load iopd's %s module: %s (reinstall iopd, or "
		    "name the module with %s)", m->what, dlerror(), m->env);
		return NULL;
	}
	version = dlsym(dl, m->symbol);
	if (!version || strcmp(*version, PACKAGE_STRING) != 0) {
		snprintf(m->err, sizeof m->err, "%s is not the %s module of %s (%s%s): reinstall iopd",
		    path, m->what, PACKAGE_STRING, version ? "" : "no ", version ? *version : m->symbol);
		dlclose(dl);
		return NULL;
	}
	return version;
}

const void *module_get(struct module *m, const char **why)
{
	const void *got = __atomic_load_n(&m->got, __ATOMIC_ACQUIRE);

	if (got)
		return got;
	pthread_mutex_lock(&m->lock);
	if (!m->got && !m->err[0])             /* not tried yet: a failed load says why */
		__atomic_store_n(&m->got, m->linked ? m->linked : load(m), __ATOMIC_RELEASE);
	got = m->got;
	if (!got)
		*why = m->err;
	pthread_mutex_unlock(&m->lock);
	return got;
}

bool module_loaded(const struct module *m)
{
	return __atomic_load_n(&m->got, __ATOMIC_ACQUIRE) != NULL;
}
