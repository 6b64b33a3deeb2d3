/* netmod.h - the half of iopd that speaks to the network and to systemd.
 *
 * libcurl, libpq, libmicrohttpd, libsystemd and OpenSSL bring forty-odd
 * shared objects; loading them and running their constructors took half
 * of every iopd command's start (15-18 ms here).  The daemon,
 * `ledger-copy` and the PostgreSQL ledger need them; `iopd agenda`,
 * `render` and `-t` of a clinic on SQLite do not (`-t` loads the plugins,
 * with what they link).  So the code that calls them is a module,
 * net.so, that iopd loads on first use; a program that links that code in
 * (the unit tests, the test tools) uses its own copy.
 *
 * The module resolves everything else (logging, the configuration, the
 * calendar, the ledger's SQLite side) from the iopd executable, which
 * exports its symbols for it: one copy of each piece of state. */
#ifndef IOPD_NETMOD_H
#define IOPD_NETMOD_H

#include <stddef.h>

#include "daemon.h"
#include "ledger.h"
#include "snapshot.h"

struct netmod {
	const char *version;           /* PACKAGE_STRING of the module's build */
	int (*daemon_main)(const struct daemon_opts *o);
	int (*ledger_copy_main)(int argc, char **argv);
	int (*ledger_pg_peek)(const struct snapshot *s, struct ledger **out, char *err, size_t errlen);
	int (*pg_conninfo_check)(const char *conninfo, char *err, size_t errlen);
};

/* What net.so exports (netmod_entry.c). */
extern const struct netmod iopd_netmod;

/* The module, loaded on the first call (thread-safe) and kept; NULL with
 * the reason in err if it cannot be. */
const struct netmod *netmod(char *err, size_t errlen);

#endif
