/* conf.h - reading a configuration into a snapshot.
 *
 * The libconfig tree lives only inside conf_load(): it is parsed into the
 * snapshot's plain structs (snapshot.h) and freed.  Every error is
 * collected as "FILE:LINE: message" before giving up, so one run of
 * `iopd -t` lists them all. */
#ifndef IOPD_CONF_H
#define IOPD_CONF_H

#include "errs.h"
#include "snapcache.h"
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
/* The snapshot cache (snapcache.h): whether conf_load_cache may take the
 * patients from state_dir's cache (`use`: the daemon, agenda, render) and
 * keeps what writing the cache takes (`keep`: the daemon, which writes it
 * with conf_cache_save once state_dir exists).  Never for `iopd -t`,
 * which reads everything. */
struct conf_cache {
	bool use, keep;
	bool hit;                      /* the patients came from the cache */
	bool can_save;                 /* they did not, and conf_cache_save can write them */
	struct snapcache_key key;
	int *patient_line, *patient_id_line;
	struct errs_capture said;
};

struct snapshot *conf_load_cache(const char *path, enum conf_mode mode, struct errs *errs,
    struct conf_cache *cc);
/* Writes s's patients to s->state_dir's cache; -1 with the reason. */
int conf_cache_save(struct conf_cache *cc, const struct snapshot *s, char *err, size_t errlen);
void conf_cache_free(struct conf_cache *cc);

#endif
