/* conf_util.h - typed access to the libconfig tree, with FILE:LINE errors.
 *
 * The one layer that knows libconfig's types.  Every getter reports a
 * wrong type or bad value at the setting's own line, records the error
 * and returns -1 (0 on success, 1 when an optional key is absent), so a
 * caller can go on and collect every error of the file in one run. */
#ifndef IOPD_CONF_UTIL_H
#define IOPD_CONF_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include <libconfig.h>

#include "dur.h"
#include "errs.h"
#include "snapshot.h"

struct conf_reader;
struct snapcache;

/* Parsing context shared by the conf_*.c files. */
struct conf_ctx {
	struct snapshot *snap;
	struct errs *errs;
	const config_setting_t *root;  /* the tree's top */
	struct conf_reader *reader;    /* NULL: libconfig read the text */
	const char *config_dir;        /* folder of the main file */
	bool check;                    /* -t / daemon: plugins, secrets, file modes */
	/* per patient, lines of the text (errs_line): its group and its `id`
	 * (the group when it has none); the settings themselves are gone once
	 * the patient is read (conf_read.h) */
	int *patient_line, *patient_id_line;
	uint16_t *prog_of;             /* programs by the address of their id (conf_patients.c) */
	struct snapcache *cache;       /* the patients, compiled (snapcache.h), or NULL */
	bool numbers_known;            /* the daemon's country and phone need no check (conf.c) */
	struct {                       /* rules' channel arrays made so far (conf_rule_channels) */
		chanmask mask;
		const uint16_t *chan;
		uint8_t n;
	} chansets[32];
	unsigned nchansets;
	struct errs_capture *said;     /* where what reading the patients says is kept, or NULL */
	/* a shared ledger's fingerprint (fingerprint.c): the hashes of the
	 * patients the reader streamed, which the tree never holds */
	uint64_t *fp_patients;
	size_t nfp_patients, capfp_patients;
	bool restart;                  /* the cache did not fit: load again without it */
	const char *lang_en;           /* "en", interned once */
};

enum { CONF_OK = 0, CONF_ABSENT = 1, CONF_BAD = -1 };

/* "daemon.quiet_hours.from", and inside a patient its index in its file's
 * list, its id and the key path: patients[3] id "p-0004": medications[0].times[1]
 * (for messages, which add ": what is wrong"). */
const char *conf_path(const config_setting_t *s, char *buf, size_t len);

/* The member `key` of group `g`, or NULL: config_setting_get_member()
 * for a plain name (no path), without its byte-by-byte name comparison,
 * which was a tenth of reading 100,000 patients. */
const config_setting_t *conf_member(const config_setting_t *g, const char *key);

/* Reports members of group `g` not in the NULL-terminated `allowed`, with
 * the nearest known key as a suggestion.  "name*2" is a repeat of name
 * (conf_text.h). */
int conf_check_keys(struct conf_ctx *c, const config_setting_t *g, const char *const *allowed);
/* `g` itself must be a group (or a list/array when `kind` says so). */
int conf_expect(struct conf_ctx *c, const config_setting_t *s, int type, const char *what);

int conf_string(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    const char **out);
/* conf_string() for a value that is one of a kind (a patient's id): a copy
 * in the arena, not interned (a table of a million ids is slow to grow and
 * to search, for nothing). */
int conf_string_copy(struct conf_ctx *c, const config_setting_t *g, const char *key,
    bool required, const char **out);
int conf_int(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    long min, long max, long *out);
int conf_float(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    double min, double max, double *out);
int conf_bool(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    bool *out);
int conf_dur(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    struct dur *out, const char **text);
int conf_hhmm(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    int32_t *out);
int conf_date(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    int32_t *out);
int conf_tz(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    const struct tz **out);
int conf_quiet(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    struct quiet *out);
/* A list or array of strings; *n elements in the snapshot's arena. */
int conf_strings(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    const char ***out, uint32_t *n);
/* The same checks, without keeping the strings: *list is the list, whose
 * elements are strings while the tree lives. */
int conf_string_list(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    const config_setting_t **list);
/* A list or array of dates, sorted and without duplicates. */
int conf_dates(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    int32_t **out, uint32_t *n);
/* A list of channel names -> mask (and errors for unknown ones). */
int conf_channels(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    chanmask *out);

/* " (did you mean \"NAME\"?)" for the known name nearest to `s`, or "". */
const char *conf_did_you_mean(const char *s, const char *const *names, size_t n, char *buf,
    size_t len);
/* conf_did_you_mean over the channels' names. */
const char *conf_channel_hint(const struct snapshot *s, const char *name, char *buf, size_t len);

/* A plausible address: one "@", something on both sides, no spaces. */
bool conf_email_ok(const char *e);

/* The element `i` of list `s` as a string, with a typed error. */
const char *conf_elem_string(struct conf_ctx *c, const config_setting_t *s, int i);

#endif
