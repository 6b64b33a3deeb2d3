/* snapshot.h - one parsed configuration, immutable once built.
 *
 * conf_load() turns the libconfig tree into these plain structs and frees
 * the tree.  Everything lives in the snapshot's arena; strings are interned
 * and cross-references are indexes, which keeps 100,000 patients at a few
 * hundred bytes each.  A reload builds a new snapshot and swaps it in; the
 * old one lives until its last in-flight send completes (refcount). */
#ifndef IOPD_SNAPSHOT_H
#define IOPD_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "dur.h"
#include "iopd/plugin.h"
#include "tz.h"
#include "util.h"

#define SNAP_MAX_CHANNELS 64           /* channel sets are 64-bit masks */
#define LEDGER_RETENTION_DEFAULT (400 * 86400)
#define LEDGER_RETENTION_MIN (30 * 86400)

typedef uint64_t chanmask;

enum kind { KIND_SESSION, KIND_APPOINTMENT, KIND_MEDICATION, KIND_AFTERCARE, KIND_COUNT };
extern const char *const kind_names[KIND_COUNT];

enum program_kind { PROGRAM_IOP, PROGRAM_PHP, PROGRAM_OP };

/* Quiet hours as seconds of the day; from == to means none. */
struct quiet {
	int32_t from, to;
};

struct tmpl_text;                      /* a compiled template text (template.h) */
struct lang;                           /* {day} and {time} of a language (lang.h) */

struct tmpl_fields {
	const struct tmpl_text *sms, *subject, *body;   /* NULL: not set here */
};

struct tmpl_lang {
	const char *lang;
	struct tmpl_fields f;
};

struct template {
	const char *name;
	struct tmpl_fields f;
	struct tmpl_lang *langs;
	uint16_t nlangs;
	bool discreet;
};

/* One reminder rule: `before` (and `at`) a session or appointment, sent on
 * each channel of `channels`. */
struct rule {
	struct dur before;
	const char *before_text;       /* as written: the agenda's `lead` */
	const char *lead_key;          /* identity of the lead, for ids */
	int32_t at;                    /* seconds of day, patient's zone; -1: none */
	int32_t tmpl;                  /* index into snapshot.templates; -1: the entry's */
	chanmask channels;
	const uint16_t *chan;          /* the same channels, in channel-name order (nchan):
	                                * one array per set of channels, shared (a copy of 64
	                                * in each rule was a quarter of a patient's memory) */
	uint8_t nchan;
};

struct rules {
	const struct rule *v;
	uint16_t n;
};

struct session {
	const char *id, *type, *location;
	const char *series_key;        /* "program/session": identity for ids */
	struct rules rules;            /* its own, or the program's */
	int32_t start;                 /* seconds of day, program's zone */
	int32_t duration;              /* seconds */
	int32_t tmpl;                  /* -1: the kind's default */
	uint8_t days;                  /* bit 0 = Monday ... bit 6 = Sunday */
};

struct aftercare {
	int32_t *after;                /* days after the enrollment end */
	const char **after_text;
	uint16_t n;
	int32_t at;                    /* seconds of day, patient's zone */
	struct rule rule;              /* channels and template (no lead) */
};

struct program {
	const char *id, *name;
	const struct tz *tz;
	int32_t *closures;             /* sorted dates: the global ones and the program's */
	uint32_t nclosures;
	struct session *sessions;
	uint16_t nsessions;
	struct rules rules;
	struct aftercare aftercare;    /* aftercare.n == 0: none */
	enum program_kind kind;
	int weeks;
};

struct appointment {
	const char *key;               /* identity for ids: `id`, else `type` */
	const char *type, *location;
	struct rules rules;            /* its own, or the program's */
	int64_t at;                    /* instant (`at` read in the program's zone) */
	int32_t duration;
	int32_t tmpl;                  /* -1: the kind's default */
};

struct medication {
	const char *label;
	int32_t *times;                /* seconds of day, patient's zone, ascending */
	uint16_t ntimes;
	int32_t from, until;           /* dates, both included */
	struct rule rule;              /* channels and template (no lead) */
};

struct patient {
	const char *id, *first_name, *phone, *email, *language;
	const struct tz *tz;
	const struct lang *lang;       /* from language: names of days, months, the clock */
	int32_t *absences;             /* sorted dates */
	struct appointment *appts;     /* sorted by instant */
	struct medication *meds;
	chanmask allow;                /* allow-list (all channels if absent) */
	chanmask optout;
	struct quiet quiet;
	int32_t start, end;            /* enrollment dates, both included */
	uint32_t rank;                 /* position in patient-id order */
	uint16_t program;
	uint16_t nabsences, nappts, nmeds;
	bool paused;
	/* where its entry is (the line of its `{`), for messages that send an
	 * admin there: iopctl resume of a patient `paused = true` holds */
	const char *file;
	int32_t line;
};

struct chan_inst;

struct channel {
	const char *name, *module;
	const char *file;              /* where it is defined */
	struct chan_inst *inst;        /* NULL when plugins were not configured */
	double rate;                   /* messages/s; 0: unlimited */
	double timeout;                /* seconds */
	int concurrency;
	int line;
	enum iopd_contact contact;
	bool insecure_tls;
	/* two-way (SPEC 8) */
	int16_t fallback;              /* channel index of `fallback`; -1: none */
	bool replies;                  /* iopd answers keywords on this channel */
	bool callbacks;                /* its plugin takes callbacks (full mode only) */
};

/* inbound = { ... } (SPEC 8); listen == NULL: no listener. */
struct inbound_conf {
	const char *listen;            /* "host:port" */
	const char *public_url;        /* without a trailing '/' */
	int32_t staff;                 /* channel index of `staff`; -1: none */
};

enum ledger_kind { LEDGER_SQLITE, LEDGER_POSTGRESQL };

struct snapshot {
	struct arena arena;
	struct intern strings;
	void *image;                   /* the patients, when read from the cache (snapcache.h) */
	unsigned refs;

	const char *config_file;       /* absolute path */
	time_t loaded_at;

	/* daemon = { ... } */
	const struct tz *tz;
	const char *state_dir, *control_socket, *plugin_dir, *clinic_phone;
	const char *default_country;   /* daemon.default_country ("US"); NULL: none */
	struct quiet quiet;
	int64_t catch_up;              /* seconds */
	int64_t medication_grace;      /* seconds */
	int log_level;                 /* daemon.log_level; -1: not set */
	const char *metrics_file;      /* daemon.metrics_file (absolute); NULL: none */
	double metrics_interval;       /* daemon.metrics_interval, seconds (default 15) */
	int64_t ledger_retention;      /* daemon.ledger_retention, seconds; 0: forever */
	struct inbound_conf inbound;
	/* daemon.ledger, daemon.postgresql, daemon.instance (SPEC 9) */
	enum ledger_kind ledger;
	const char *instance;          /* default: the host name */
	const char *pg_conninfo;       /* never with a password in it */
	const char *pg_token_file;     /* absolute; or NULL */
	const char *pg_token_credential;
	double pg_lease;               /* seconds */
	/* a shared ledger: hex digest of what decides reminders (programs,
	 * patients, templates, channels; not per-host settings); else NULL */
	const char *fingerprint;

	struct channel *channels;      /* in file order */
	uint16_t *channel_order;       /* channel indexes in name order */
	struct template *templates;
	int32_t default_tmpl[KIND_COUNT];   /* "session", ...; -1 if not defined */
	struct program *programs;
	struct patient *patients;      /* in reading order; rank gives id order */
	uint32_t *patient_order;       /* patient indexes in id order */
	uint16_t nchannels, ntemplates, nprograms;
	uint32_t npatients;
};

struct snapshot *snapshot_new(void);
struct snapshot *snapshot_ref(struct snapshot *s);
/* Drops a reference; frees the snapshot (and its plugin instances) at 0. */
void snapshot_unref(struct snapshot *s);

int snapshot_channel(const struct snapshot *s, const char *name);       /* index or -1 */
int snapshot_template(const struct snapshot *s, const char *name);
int snapshot_program(const struct snapshot *s, const char *id);
int64_t snapshot_patient(const struct snapshot *s, const char *id);      /* index or -1 */

/* Is `date` in the ascending array? (binary search) */
bool date_in(const int32_t *sorted, uint32_t n, int32_t date);

#endif
