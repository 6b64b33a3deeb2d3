/* conf_read.h - libconfig's syntax, read by iopd into libconfig's own tree.
 *
 * libconfig 1.5 builds its tree with a flex scanner and a malloc per
 * setting: for 100,000 patients that was half of `iopd -t` and a 400 MB
 * tree (bench W1), and a million patients would not fit in memory at all.
 * This reader takes the same text (conf_source.h: the includes expanded)
 * and builds the tree libconfig would build, in libconfig's public structs
 * (libconfig.h), so that the typed layer and the plugins read it through
 * libconfig's own getters; but in arenas, and the elements of the
 * top-level `patients` lists are read one at a time (conf_read_next), so
 * the patients are never in memory as a tree all at once.
 *
 * It takes only text it reads exactly as libconfig does: the same
 * settings, names, types, values and line numbers (tests/unit/
 * test_conf_read compares the two).  Anything else (a syntax error, a
 * string or comment left open, nesting deeper than MAX_DEPTH) makes
 * conf_read() return NULL; then libconfig reads the text, and its
 * diagnostics are the ones reported, as before. */
#ifndef IOPD_CONF_READ_H
#define IOPD_CONF_READ_H

#include <stdbool.h>
#include <stddef.h>

#include <libconfig.h>

struct conf_reader;

/* Reads `text` (NUL-terminated, `len` bytes).  The second and later
 * top-level settings called `patients` are named "patients*2", ... as
 * conf_text_merge() renames them for libconfig.  Every setting's `config`
 * is cfg (libconfig's getters read its options).  NULL: the text is not
 * one this reader takes; read it with libconfig. */
struct conf_reader *conf_read(const char *text, size_t len, config_t *cfg);
/* The same, but with `lazy` the top-level patients lists are only skimmed
 * (their end found), for a caller that may take the patients from the
 * snapshot cache (snapcache.h) instead of reading them.  Before reading
 * them (conf_read_count, conf_read_next), conf_read_check() must read them
 * once: -1 if they are not text this reader takes (then libconfig reads
 * the whole text). */
struct conf_reader *conf_read_lazy(const char *text, size_t len, config_t *cfg, bool lazy);
int conf_read_check(struct conf_reader *r);
config_setting_t *conf_read_root(const struct conf_reader *r);
/* A top-level `patients = ( ... )` list is streamed: it has no elements
 * of its own (config_setting_length() is 0); this is how many it has,
 * or -1 if `list` is not streamed (or skimmed and not yet checked). */
long conf_read_count(const struct conf_reader *r, const config_setting_t *list);
/* The next element of streamed `list`, from the first; valid until the
 * next call.  Its parent is `list`, and conf_index() gives its index. */
config_setting_t *conf_read_next(struct conf_reader *r, const config_setting_t *list);
void conf_read_free(struct conf_reader *r);

/* The index of s in its parent (config_setting_index(), which a streamed
 * element cannot use). */
int conf_index(const config_setting_t *s);

#endif
