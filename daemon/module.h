/* module.h - loading one of iopd's own modules (net.so, phone.so).
 *
 * Some of iopd's code lives in modules that iopd loads on first use, so
 * that the commands that never need what they link (libcurl and the
 * rest for net.so, libphonenumber and ICU for phone.so) do not pay for
 * loading it.  A module exports one structure whose first member is the
 * PACKAGE_STRING of its build: it shares iopd's structures, so it must be
 * of the same version. */
#ifndef IOPD_MODULE_H
#define IOPD_MODULE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* One module; a static of its forwarder (netmod.c, phone.c), set up with
 * MODULE().  The last three members are module.c's own. */
struct module {
	const char *what;              /* "network": for messages */
	const char *env;               /* "IOPD_NETMOD": names the module */
	const char *build_path;        /* the build tree's module */
	const char *installed_path;    /* the installed one */
	const char *symbol;            /* the structure it exports */
	/* That structure when the module's code is linked into the program
	 * itself (the unit tests; the address of a weak symbol, NULL in the
	 * iopd executable): then nothing is loaded. */
	const void *linked;
	pthread_mutex_t lock;          /* one load at a time */
	const void *got;               /* the structure; read atomically */
	char err[PATH_MAX + 256];      /* why not: set by a load that failed */
};

#define MODULE(what, env, build_path, installed_path, symbol, linked) \
	{ (what), (env), (build_path), (installed_path), (symbol), (linked), \
	  PTHREAD_MUTEX_INITIALIZER, NULL, "" }

/* The module's structure, loaded on the first call (thread-safe) and kept
 * (never unloaded); NULL when it cannot be loaded, with the reason in
 * *why (set only then). */
const void *module_get(struct module *m, const char **why);

/* Has module_get loaded it yet (in any thread)? */
bool module_loaded(const struct module *m);

/* Where the module is loaded from, or would be if it were needed now:
 * $env (like $IOPD_PLUGIN_DIR, for a copy of iopd), the build tree's
 * module for an iopd run from the build tree, the installed one otherwise
 * (never one from a checkout for an installed iopd); "" when it is linked
 * into the program. */
void module_path(const struct module *m, char *out, size_t len);

#endif
