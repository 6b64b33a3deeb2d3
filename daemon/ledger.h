/* ledger.h - the durable record of every reminder's fate (SPEC 6).
 *
 * A storage interface with two backends: SQLite, one file per host
 * (ledger_sqlite.c, the default), and PostgreSQL, shared by several iopd
 * instances that claim each reminder before sending it (ledger_pg.c,
 * SPEC 9).
 *
 * Writes happen in batches (struct ledger_batch): notes, outcomes,
 * overrides, claims and the schedule's mark, in one transaction.  A batch
 * is submitted and its result arrives later, on the loop, through a
 * callback: at once for SQLite (one local transaction, one fsync), after a
 * round trip for PostgreSQL.  The daemon keeps one batch in flight at a
 * time, hands nothing to a plugin before the batch that claimed it
 * committed, and reuses no concurrency slot before the batch holding its
 * outcome did.
 *
 * A start (`load`) reads the mark, the active overrides and the reminders
 * this instance left open; a networked backend that cannot reach its
 * server yet keeps trying and calls back once it could.
 *
 * The ledger holds ids, patient ids, channel names, times, statuses,
 * gateway message ids and reasons, receipts, replies' intents and
 * consent with its origin: never contact details or message texts, a
 * patient's reply included (SPEC 6, 8; DESIGN invariant 5). */
#ifndef IOPD_LEDGER_H
#define IOPD_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rec_status {
	REC_NONE = -1,                 /* not in the ledger */
	REC_INFLIGHT = 0,              /* claimed: a send is (or was, before a crash) under way */
	REC_RETRY,                     /* a transient failure; retried until it expires */
	REC_SENT,                      /* final: the gateway accepted it */
	REC_FAILED,                    /* final: permanent failure, or opted out at the gateway */
	REC_EXPIRED,                   /* final: retries ran past its expiry */
	REC_MISSED,                    /* final: fell due while iopd was down, too late to send */
	REC_SKIPPED,                   /* final: not sent by rule (paused, opt-out, quiet hours ...) */
	REC_COUNT
};
extern const char *const rec_status_names[REC_COUNT];
int rec_final(enum rec_status s);
enum rec_status rec_status_parse(const char *s);

/* A send's ledger row.  Besides the calendar's reminders, the ledger holds
 * the sends derived from them or from patients' replies (SPEC 8): a
 * fallback (the reminder's kind, `origin` the reminder it stands in for),
 * an answer to a reply (kind "reply", `tmpl` its template, `origin` the
 * reply) and a staff notice (kind "notice", `body` its JSON). */
struct ledger_rec {
	uint64_t id;
	const char *patient, *channel, *kind;
	int64_t due, event, expires;   /* Unix seconds */
	enum rec_status status;
	const char *reason;            /* why (failed, skipped, expired, retry), or NULL */
	const char *gateway_id;        /* sent: the gateway's message id, or NULL */
	int attempts;                  /* sends so far, this one included */
	int64_t at;                    /* when this state was reached */
	/* derived sends: written when the row is made, never changed */
	uint64_t origin;               /* see above; 0: none */
	const char *tmpl;              /* an answer's template name, or NULL */
	const char *body;              /* a notice's JSON (never a reply's text), or NULL */
	/* read back only (lookup, pending, history, latest_sent) */
	const char *receipt;           /* the final delivery report: "delivered", "undelivered",
	                                * "failed", or NULL */
	int64_t receipt_at;
	const char *response;          /* the patient's "confirm", "reschedule", "taken", or NULL */
};

/* Runtime overrides set by staff, a patient's reply or a gateway, over
 * the configuration. */
enum ovr_kind { OVR_PAUSE, OVR_OPTOUT };
/* Who set it: a START lifts what a reply or the gateway set, never staff's. */
enum ovr_origin { OVR_STAFF = 0, OVR_REPLY, OVR_GATEWAY, OVR_ORIGIN_COUNT };
extern const char *const ovr_origin_names[OVR_ORIGIN_COUNT];
/* The origin a ledger stored by its name; staff for NULL or a name unknown. */
enum ovr_origin ovr_origin_parse(const char *s);

struct ledger_ovr {
	enum ovr_kind kind;
	const char *patient;
	const char *channel;           /* OVR_OPTOUT only */
	const char *source;            /* "iopctl", "reply STOP on sms", "gateway: twilio 21610" ... */
	int64_t at;
	int on;                        /* history rows: 1 set, 0 undone */
	enum ovr_origin origin;
	/* Who and why (schema 4): the user name and uid of the control
	 * socket's peer (SO_PEERCRED), or "iopd" (uid -1) for what the daemon
	 * does itself (an expired pause lifted); NULL and -1 for replies and
	 * gateways, and for rows of older ledgers.  `reason` is the staff's
	 * free text (--reason), or NULL. */
	const char *author;
	long uid;                      /* the author's, when author is set; -1: none */
	const char *reason;
	int64_t until;                 /* OVR_PAUSE set with --until: lifted then; 0: none */
};

/* One reply of a patient (SPEC 8): its intent, never its text. */
struct ledger_reply {
	uint64_t id;                   /* the reply's own id (one per text) */
	const char *patient, *channel; /* the channel it came in on */
	const char *intent;            /* "stop", "start", "help", "confirm", ... */
	int64_t at;                    /* when it arrived */
	uint64_t reminder;             /* the reminder it applied to, or 0 */
	int64_t event;                 /* that reminder's event, or 0 */
	uint64_t answer;               /* the id of iopd's answer, or 0 */
};

/* What a claim found (struct ledger_batch.results). */
enum claim_result {
	CLAIM_FINAL = 0,               /* final already (sent, settled): never again */
	CLAIM_OK = 1,                  /* claimed: in flight, attempts + 1 */
	CLAIM_HELD = 2,                /* another instance holds it under a live lease */
	CLAIM_SKIPPED = 3              /* paused or opted out in the shared ledger: recorded
	                                * skipped, with the reason in the claim's `reason` */
};

typedef void (*ledger_rec_fn)(const struct ledger_rec *r, void *arg);
typedef void (*ledger_ovr_fn)(const struct ledger_ovr *o, void *arg);
typedef void (*ledger_count_fn)(const char *channel, enum rec_status s, long n, void *arg);
typedef void (*ledger_reply_fn)(const struct ledger_reply *r, void *arg);

struct ledger;

/* One transaction's worth of writes.  The submitter owns it (and the
 * strings it points to) until `done` runs; the results are written into it
 * before that.  Order inside the transaction: notes, outcomes, overrides,
 * claims, mark. */
struct ledger_batch {
	const struct ledger_rec *notes;        /* skipped, missed ...: never over a final state */
	size_t nnotes;
	const struct ledger_rec *outcomes;     /* of claimed sends */
	size_t noutcomes;
	const struct ledger_ovr *ovrs;         /* pauses, opt-outs (set or lifted) */
	size_t novrs;
	struct ledger_rec *claims;             /* out: attempts; reason when skipped */
	size_t nclaims;
	int *results;                          /* out: enum claim_result, one per claim */
	/* other modules' writes in the same transaction (the dispatcher's
	 * parts, dispatch_join), after the claims; NULL: none.  0, or -1: the
	 * batch fails.  A backend without synchronous transactions records
	 * what the ledger operations called from it ask for, and sends it with
	 * the batch (ledger_pg.c). */
	int (*extra)(struct ledger *l, void *arg);
	void *extra_arg;
	int64_t mark;                          /* written when >= 0 */
	long pruned;                           /* out: rows a prune in `extra` deleted, when
	                                        * the backend knows only after the commit */
	size_t lost;                           /* out: outcomes not recorded because another
	                                        * instance took their claim over */
};

/* rc 0: the batch committed; -1: nothing of it was kept (error() says why). */
typedef void (*ledger_done_fn)(int rc, void *arg);

/* What a start needs, handed over by `load`. */
struct ledger_load {
	ledger_ovr_fn ovr;             /* each active override */
	void (*ovr_reset)(void *arg);  /* a shared ledger: the overrides are read again (ovr follows) */
	ledger_rec_fn pending;         /* each reminder this instance left in flight or waiting */
	ledger_rec_fn orphan;          /* later, a shared ledger: one another instance left open
	                                * and whose lease ran out; NULL: not wanted */
	void (*done)(int64_t mark, void *arg);   /* once: the mark (-1: a new ledger; now was
	                                          * written as its mark) */
	void (*ready)(void *arg);      /* a networked ledger takes writes again after an outage */
	void *arg;
};

/* Another instance sharing the ledger (and this one), for `iopctl status`. */
struct ledger_instance {
	const char *name, *fingerprint, *host;
	double heartbeat_age;          /* seconds since its last heartbeat */
	int64_t started;               /* Unix seconds */
	long inflight;                 /* claims in flight */
	bool live;                     /* heartbeat within its lease */
	bool stopped;                  /* stopped cleanly */
	bool self;
};
typedef void (*ledger_inst_fn)(const struct ledger_instance *i, void *arg);

struct ledger_ops {
	const char *name;
	void (*close)(struct ledger *l);
	/* ---- every backend -------------------------------------------------- */
	/* Writes a batch in one transaction; `done` runs exactly once, maybe
	 * before submit returns (SQLite). */
	void (*submit)(struct ledger *l, struct ledger_batch *b, ledger_done_fn done, void *arg);
	/* Reads what a start needs (see struct ledger_load).  -1: an error no
	 * retry can fix (error() says it); a networked backend otherwise keeps
	 * trying until it can, and says why meanwhile (health). */
	int (*load)(struct ledger *l, int64_t now, const struct ledger_load *cb);
	/* A clean stop, once nothing is in flight: a shared ledger releases
	 * this instance's claims.  `done` runs exactly once. */
	void (*stop)(struct ledger *l, ledger_done_fn done, void *arg);
	/* Why the ledger cannot be written now, or NULL. */
	const char *(*health)(struct ledger *l);
	/* Where it is, for status: a path, or a server and the instance name. */
	void (*describe)(struct ledger *l, char *buf, size_t len);
	/* The instances sharing the ledger (a shared backend; NULL otherwise). */
	int (*instances)(struct ledger *l, ledger_inst_fn fn, void *arg);
	/* What decides reminders changed (a reload): the shared fingerprint. */
	void (*set_fingerprint)(struct ledger *l, const char *fingerprint);
	/* ---- synchronous transactions (a local backend; NULL otherwise) ---- */
	int (*begin)(struct ledger *l);
	int (*commit)(struct ledger *l);           /* -1: nothing of the batch is kept */
	void (*rollback)(struct ledger *l);
	/* claim: unless the reminder is final, records it in flight with one
	 * more attempt (r->attempts is set to the new count). */
	int (*claim)(struct ledger *l, struct ledger_rec *r);
	/* record: the outcome of a claimed send (sent, retry, failed, expired). */
	int (*record)(struct ledger *l, const struct ledger_rec *r);
	/* note: a reminder not sent by rule (skipped, missed); it never
	 * overwrites a final state, so offering a reminder twice is harmless. */
	int (*note)(struct ledger *l, const struct ledger_rec *r);
	int (*set_mark)(struct ledger *l, int64_t t);
	int64_t (*get_mark)(struct ledger *l);
	int (*set_override)(struct ledger *l, const struct ledger_ovr *o);
	int (*overrides)(struct ledger *l, ledger_ovr_fn fn, void *arg);     /* active ones */
	int (*pending)(struct ledger *l, ledger_rec_fn fn, void *arg);       /* in flight, retry */
	/* ---- reads (every backend) ------------------------------------------ */
	/* 1 found, 0 not, -1 error.  A shared backend answers on the loop
	 * from what it committed lately and what it fetched (see fetch); its
	 * reader asks the server (dispatch looks nothing up when l->shared). */
	int (*lookup)(struct ledger *l, uint64_t id, struct ledger_rec *r, char *buf, size_t len);
	/* ids: every reminder's id, in SQL's order (as signed 64-bit numbers),
	 * into a new array: the agenda then looks up only the ids the ledger
	 * has.  0, or 1 with nothing made past `max` rows (lookups then), or
	 * -1.  NULL: not offered. */
	int (*ids)(struct ledger *l, size_t max, int64_t **ids, size_t *n);
	int (*history)(struct ledger *l, const char *patient, ledger_rec_fn fn,
	    ledger_ovr_fn ofn, ledger_reply_fn rfn, void *arg);
	/* Outcomes per channel and status since t; a networked backend answers
	 * from what it last read (every few seconds), never waiting. */
	int (*counts_since)(struct ledger *l, int64_t t, ledger_count_fn fn, void *arg);
	int64_t (*size)(struct ledger *l);          /* bytes on disk (a server: the database) */
	const char *(*error)(struct ledger *l);     /* the last error, for logs */
	/* Its identity: 32 hex digits drawn when the ledger was created (a
	 * ledger of an older iopd gets one at its first open). */
	const char *(*identity)(struct ledger *l);
	/* 0 while the ledger's place still holds the file that is open; -1
	 * (error() says) once it was deleted, moved or replaced under iopd,
	 * which would otherwise go on writing to a file nobody will read.
	 * begin() makes the same check, so nothing is committed (or sent)
	 * meanwhile; it passes again if the file is put back. */
	int (*check)(struct ledger *l);
	/* A second, read-only connection to the same ledger, for another
	 * thread (WAL lets it read beside the writer): only lookup, overrides,
	 * history, counts_since, error and close may be used on it.  May be
	 * called from any thread.  NULL with the reason in err. */
	struct ledger *(*reader)(struct ledger *l, char *err, size_t errlen);

	/* ---- two-way SMS (SPEC 8); writes go in a batch like the rest ---- */

	/* receipt: a final delivery report on reminder `id` (its state, time
	 * and reason), replacing the one recorded; the caller has checked
	 * that it ranks above it. */
	int (*receipt)(struct ledger *l, uint64_t id, const char *state, int64_t at,
	    const char *reason);
	/* respond: what the patient said of reminder `id` ("confirm" ...). */
	int (*respond)(struct ledger *l, uint64_t id, const char *response);
	/* reply: one reply of one patient. */
	int (*reply)(struct ledger *l, const struct ledger_reply *r);
	/* callback_seen: 1 if a callback with this key was recorded, else 0
	 * (-1: error).  callback_mark records the key; callback_prune forgets
	 * keys recorded before `before` (gateways repeat within hours). */
	int (*callback_seen)(struct ledger *l, const char *key);
	int (*callback_mark)(struct ledger *l, const char *key, int64_t at);
	int (*callback_prune)(struct ledger *l, int64_t before);
	/* latest_sent: the latest send to `patient` recorded sent at or after
	 * `since`, on one of `channels` and of one of `kinds` (both
	 * NULL-terminated).  1 found (r filled, strings in buf), 0 none, -1. */
	int (*latest_sent)(struct ledger *l, const char *patient, const char *const *channels,
	    const char *const *kinds, int64_t since, struct ledger_rec *r, char *buf, size_t len);
	/* fetch (a shared ledger; NULL for a local one, whose reads are the
	 * ledger itself): what lookup, latest_sent and callback_seen answer
	 * is read again from the server, so that the loop acts on what every
	 * instance recorded (another's reminder, its receipt, a reply it took
	 * already): the reminders `ids`, each patient's latest sent reminder
	 * per channel and kind, and which callback `keys` were recorded.  One
	 * round trip; the loop never waits.  `done` runs exactly once, maybe
	 * before fetch returns: rc 0, or -1 (error() says why: the caller
	 * answers as when the ledger cannot be written). */
	void (*fetch)(struct ledger *l, const uint64_t *ids, size_t nids,
	    const char *const *patients, size_t npatients, const char *const *keys, size_t nkeys,
	    ledger_done_fn done, void *arg);

	/* ---- upkeep (daemon.ledger_retention, iopctl backup) ---- */

	/* prune: one small step of retention, inside a batch: deletes at most
	 * `limit` finished reminders (final status) last changed before
	 * `before`, with their outcomes, and at most `limit` replies and
	 * callback keys older than `before`.  Overrides and their log are
	 * kept, as are reminders still open.  Returns the rows of the three
	 * kinds deleted (0: nothing left to do), or -1.  A backend whose
	 * batches are answered later (PostgreSQL) returns 0 and puts the count
	 * in the batch's `pruned` once it committed. */
	long (*prune)(struct ledger *l, int64_t before, int limit);
	/* backup: a consistent copy of the whole ledger into `path`, an empty
	 * file the caller has just created (mode 0600, O_EXCL); runs on any
	 * thread with connections of its own and never makes the writer wait.
	 * 0 with the copy's size in *bytes, or -1 with the reason in err (a
	 * backend that is backed up otherwise, e.g. with pg_dump, says so). */
	int (*backup)(struct ledger *l, const char *path, int64_t *bytes, char *err, size_t errlen);
};

struct ledger {
	const struct ledger_ops *ops;
	/* several instances write it: overrides and claims are decided in the
	 * ledger, not from this instance's memory, and lookups are not cheap */
	bool shared;
};

/* Opens state_dir/ledger.db, creating state_dir (mode 0700) and the
 * ledger if they are missing. */
struct ledger *ledger_sqlite_open(const char *state_dir, char *err, size_t errlen);
/* Whether state_dir holds a SQLite ledger (-1: cannot tell, see errno). */
int ledger_sqlite_exists(const char *state_dir);
/* For a program beside the daemon (`iopd agenda`): the ledger in
 * state_dir read only, as a reader (see reader() for what it may do),
 * without ever creating, locking for long or writing a file -- not even
 * the -wal and -shm files a read-only SQLite connection makes when they
 * are missing.  With the daemon running (or after a crash: both files
 * there) it reads through them like any reader, each query its own short
 * read transaction; with the daemon stopped (neither there: everything is
 * in the database file) it reads the file as immutable.  1 with *out set,
 * 0 when state_dir holds no ledger, -1 with the reason in err. */
int ledger_sqlite_peek(const char *state_dir, struct ledger **out, char *err, size_t errlen);

/* The daemon's way in (ledger_guard.c): ledger_sqlite_open, checked
 * against the marker state_dir/ledger.id, which names the ledger that
 * lives there.  A state_dir whose marker names a ledger that is missing
 * or different is refused with what to do, unless `adopt` (iopd
 * --new-ledger): then the ledger found, or a new empty one, becomes the
 * folder's.  Nothing is ever deleted. */
struct ledger *ledger_open_guarded(const char *state_dir, int adopt, char *err, size_t errlen);

struct ev_loop;
struct snapshot;
/* The shared PostgreSQL ledger that s->pg_conninfo names, as instance
 * s->instance (ledger_pg.c).  It connects in the background (load). */
struct ledger *ledger_pg_open(struct ev_loop *loop, const struct snapshot *s, char *err,
    size_t errlen);

/* For `iopd agenda`: the PostgreSQL ledger s configures, read only on a
 * blocking connection of its own (see reader() for what it may do).  1
 * with *out set, 0 when the database holds no ledger yet, or -1 with the
 * reason in err. */
int ledger_pg_peek(const struct snapshot *s, struct ledger **out, char *err, size_t errlen);

/* `iopd ledger-copy` (ledger_copy.c): 0, or 1 with the reasons on stderr. */
int ledger_copy_main(int argc, char **argv);

/* submit and load for a backend with synchronous transactions (ledger.c). */
void ledger_sync_submit(struct ledger *l, struct ledger_batch *b, ledger_done_fn done, void *arg);
/* Copies v into *buf (advancing it, *len shrinking) so that a record read by
 * a backend outlives the row it came from; "" when buf is full, NULL for NULL. */
const char *ledger_keep(char **buf, size_t *len, const char *v);
int ledger_sync_load(struct ledger *l, int64_t now, const struct ledger_load *cb);

#endif
