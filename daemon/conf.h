/* conf.h - reading a configuration into a snapshot.
 *
 * The libconfig tree lives only inside conf_load(): it is parsed into the
 * snapshot's plain structs (snapshot.h) and freed.  Every error is
 * collected as "FILE:LINE: message" before giving up, so one run of
 * `iopd -t` lists them all. */
#ifndef IOPD_CONF_H
#define IOPD_CONF_H

#include "errs.h"
#include "snapshot.h"

enum conf_mode {
	CONF_CALENDAR,                 /* agenda: the calendar only; no plugins, no secrets */
	CONF_FULL                      /* -t and the daemon: plugins configured, secrets and
	                                * file modes checked */
};

/* NULL if there was any error (all of them in errs). */
struct snapshot *conf_load(const char *path, enum conf_mode mode, struct errs *errs);

/* The shared ledger's password (daemon.postgresql.token_file or
 * token_credential), read as every secret; NULL and err when it cannot be. */
char *conf_pg_password(const struct snapshot *s, char *err, size_t errlen);

#endif
