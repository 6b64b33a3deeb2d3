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

#include <stddef.h>

struct module_spec {
	const char *what;              /* "network": for messages */
	const char *env;               /* "IOPD_NETMOD": names the module */
	const char *build_path;        /* the build tree's module */
	const char *installed_path;    /* the installed one */
	const char *symbol;            /* the structure it exports */
};

/* Where the module would be loaded from: $env (like $IOPD_PLUGIN_DIR, for
 * a copy of iopd), the build tree's module for an iopd run from the build
 * tree, the installed one otherwise (never one from a checkout for an
 * installed iopd). */
void module_path(const struct module_spec *m, char *out, size_t len);

/* The module's structure, loaded from module_path and kept (never
 * unloaded); NULL with the reason in err. */
const void *module_load(const struct module_spec *m, char *err, size_t errlen);

#endif
