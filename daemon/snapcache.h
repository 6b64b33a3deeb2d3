/* snapcache.h - a configuration's patients, compiled once, kept in state_dir.
 *
 * Reading the patients is nearly all of loading a configuration (bench
 * W1: 100,000 patients).  As a name server compiles its zones once (NSD's
 * database), the daemon keeps what the patients compile to in
 * state_dir/patients.cache: the snapshot's patients with offsets instead
 * of pointers.  The daemon (at start and at each reload), `iopd agenda`
 * and `iopd render` take the patients from there when it holds the ones
 * the configuration would give now, and read only the rest of the
 * configuration (a few programs, channels, templates).  `iopd -t` always
 * reads everything; only the daemon writes the cache.
 *
 * A stale cache is never used:
 *   - it is keyed by a 128-bit XXH3 hash of everything the patients are
 *     read from: the whole text of the configuration and its includes
 *     (every byte of every file, which files and in which order, where
 *     each line came from), this build of iopd (its build id) and the
 *     C library it runs with.  XXH3 rather than
 *     SHA-256, as rsync compares files: the key tells texts apart, it
 *     guards against no one (whoever can write the configuration or
 *     state_dir decides what iopd reads anyway), and SHA-256 of 25 MB was
 *     14-16 ms of the W1 agenda's ~350 (bench), XXH3 takes under 2;
 *   - the zones and languages the patients were read with are kept whole
 *     and compared to what the system gives now (tz_describe,
 *     lang_describe): a new zone database or a locale installed or
 *     removed makes the cache unused;
 *   - so are the phone module and libraries that checked and normalised
 *     their numbers, and where the dynamic loader found them
 *     (snapcache_libs.h): the ones loading the module now would find;
 *   - the file must be a regular file of the user reading it, readable
 *     by no one else (it holds patient data), whole (its length) and
 *     intact (a checksum of every byte);
 *   - it is written to a new file renamed over the old one, so a reader
 *     sees the old file or the new one, never part of one.
 * A cache that is not used costs one read of its header; the configuration
 * is then read as if there were none. */
#ifndef IOPD_SNAPCACHE_H
#define IOPD_SNAPCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "errs.h"
#include "snapshot.h"

struct conf_source;

#define SNAPCACHE_FILE "patients.cache"

#define SNAPCACHE_KEY_LEN 16

struct snapcache_key {
	unsigned char b[SNAPCACHE_KEY_LEN];
};

/* The key of what the patients of `src` (its text, files and lines) read
 * to with this iopd and these libraries. */
void snapcache_key(const struct conf_source *src, struct snapcache_key *k);

/* What a save keeps besides the snapshot's patients. */
struct snapcache_extra {
	const int *patient_line, *patient_id_line;  /* conf_ctx's */
	const struct errs_said *said;               /* what reading the patients said */
	size_t nsaid;
};

/* Writes s's patients to state_dir/patients.cache (mode 0600, through a
 * new file renamed over the old).  -1 with the reason in err. */
int snapcache_save(const char *state_dir, const struct snapcache_key *k, const struct snapshot *s,
    const struct snapcache_extra *x, char *err, size_t errlen);

struct snapcache;

/* state_dir's cache if it is key's, safe and whole; else NULL. */
struct snapcache *snapcache_open(const char *state_dir, const struct snapcache_key *k);
/* Are the zones and languages it was read with the system's now? */
int snapcache_current(struct snapcache *c);
/* Its patients into s (patients, patient_order; its memory passes to s),
 * their lines into *line and *id_line (malloc'd, one each), and what
 * reading them said into errs.  -1 (s untouched) if it does not fit s. */
int snapcache_apply(struct snapcache *c, struct snapshot *s, int **line, int **id_line,
    struct errs *errs);
void snapcache_free(struct snapcache *c);

#endif
