/* dispatch.h - from a due reminder to a recorded outcome.
 *
 * The dispatcher owns everything about reminders between "due" and
 * "final": one queue per channel (by name, so queues survive reloads),
 * the channel's token bucket and concurrency slots, retries with
 * exponential backoff and full jitter, expiry, and the batches written to
 * the ledger.  It asks consent.h before it queues a reminder and again
 * when it hands one to a plugin.
 *
 * Ledger discipline (SPEC 6, DESIGN invariant 2): once per loop iteration
 * every pending note, outcome and claim goes to the ledger in one
 * transaction; only after it commits are claimed reminders handed to their
 * plugins and the slots of recorded outcomes reused.  If the commit fails
 * (read-only or full disk), nothing is sent and the batch is retried. */
#ifndef IOPD_DISPATCH_H
#define IOPD_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "calendar.h"
#include "ledger.h"
#include "snapshot.h"

struct dispatch;
struct consent;

/* `c` (the daemon's) is asked before every send and told of the
 * opt-outs gateways report. */
struct dispatch *dispatch_new(struct ev_loop *loop, struct ledger *l, struct consent *c);
/* The ledger's mark, once its start was read (ledger load). */
void dispatch_loaded(struct dispatch *d, int64_t mark);
/* The ledger takes writes again (a networked ledger reconnected): a
 * refused batch is tried again at once. */
void dispatch_ledger_ready(struct dispatch *d);
/* Frees everything; sends still in flight are abandoned (they stay
 * "inflight" in the ledger and go out again at the next start). */
void dispatch_free(struct dispatch *d);

/* Switches to a new configuration: channel settings, and queued reminders
 * re-resolved in it (dropped if their patient or channel is gone). */
void dispatch_use(struct dispatch *d, struct snapshot *s);

/* A group fell due (or was overdue at start): each of its channels is
 * queued, or noted as skipped or missed. */
void dispatch_offer(struct dispatch *d, const struct snapshot *s, const struct occ *o);
/* A reminder the ledger had in flight or waiting for a retry at start. */
void dispatch_resume(struct dispatch *d, const struct snapshot *s, const struct occ *o,
    uint16_t ch, const struct ledger_rec *r);
/* Records a final state for a reminder that will not be sent (e.g. gone
 * from the calendar). */
void dispatch_note(struct dispatch *d, const struct ledger_rec *r);
/* The schedule's mark, written with the next batch. */
void dispatch_mark(struct dispatch *d, int64_t mark);
/* Offers due before `before` may repeat what an earlier run or schedule
 * offered (start-up catch-up, a reload's new schedule): each is looked up
 * in the ledger first, and left alone if it is settled there. */
void dispatch_recheck(struct dispatch *d, int64_t before);

/* ---- sends that are not the calendar's own (SPEC 8) --------------------- */

enum send_type {
	SEND_REMINDER = 0,             /* the calendar's */
	SEND_FALLBACK,                 /* a reminder, once more, on its channel's `fallback` */
	SEND_ANSWER,                   /* iopd's answer to a patient's text (kind "reply") */
	SEND_NOTICE                    /* a JSON notice to the staff channel (kind "notice") */
};

struct send_spec {
	enum send_type type;
	uint64_t id;                   /* its own id (docs/ids.md) */
	uint64_t origin;               /* fallback: the reminder; answer: the reply; notice:
	                                * the reply or the reminder it tells of */
	uint32_t patient;              /* index into the snapshot's patients */
	uint16_t ch;                   /* the channel it goes out on */
	int32_t tmpl;                  /* fallback, answer: its template; notice: -1 */
	enum kind kind;                /* fallback: the reminder's kind */
	int64_t due, event, expires;   /* answer: event = the reminder confirmed, or the reply */
	const char *location, *label;  /* fallback: the reminder's; notice: label = its type */
	const char *body;              /* notice: the JSON to post */
	const char *stored;            /* notice: the JSON the ledger keeps, without a reply's
	                                * text (NULL: body) */
	const char *why;               /* why it was made, for the log and the ledger */
};

/* Queues a derived send; unless `prior` (the ledger's row, at start-up),
 * it is written to the ledger with the next batch.  false if it is on its
 * way already or settled in the ledger. */
bool dispatch_send(struct dispatch *d, const struct snapshot *s, const struct send_spec *sp,
    const struct ledger_rec *prior);

/* A reminder (or a fallback) refused for good: `sent` describes it,
 * `reason` is the gateway's.  Called before its failure is committed;
 * what the function queues (dispatch_send) is committed with it. */
typedef void (*dispatch_failed_fn)(void *arg, const struct snapshot *s,
    const struct send_spec *sent, const char *reason);
void dispatch_on_failed(struct dispatch *d, dispatch_failed_fn fn, void *arg);

/* Another module's writes in the dispatcher's next batch (one transaction,
 * one fsync): `write` runs inside it; `done` runs after the commit (ok,
 * before the batch's claims are handed to plugins) or when it failed (the
 * part leaves the batch either way). */
struct dispatch_part {
	int (*write)(struct ledger *l, void *arg);     /* 0, or -1: the batch fails */
	void (*done)(bool ok, void *arg);
	void *arg;
	bool joined;
	struct dispatch_part *next;
};
void dispatch_join(struct dispatch *d, struct dispatch_part *p);
/* The part leaves the batch before it is written; `done` is not called. */
void dispatch_leave(struct dispatch *d, struct dispatch_part *p);
/* Has the dispatcher nothing to write or send in the next `horizon`
 * seconds (no batch pending, nothing queued, no claim held for a due that
 * close)?  Then the ledger's upkeep may take a moment (retention.c). */
bool dispatch_idle(const struct dispatch *d, double horizon);
/* Does the ledger refuse writes (a batch failed and waits to be tried again)? */
bool dispatch_ledger_down(const struct dispatch *d);

/* ---- queue control (iopctl retry, iopctl cancel), as Postfix's queue ----- */

enum dispatch_ctl {
	DCTL_DONE,                     /* done, see each function */
	DCTL_REFUSED,                  /* not possible now: msg says why */
	DCTL_NOT_HERE                  /* the dispatcher does not hold that id */
};

/* What happened to a reminder iopctl retry sent on its way: `ok` when it
 * was sent, else why not (another transient failure, expired, skipped
 * ...).  Called once, on the loop. */
typedef void (*dispatch_watch_fn)(void *arg, bool ok, const char *what);

/* Is `id` on its way (queued, waiting, claimed, in flight)? */
bool dispatch_holds(const struct dispatch *d, uint64_t id);

/* A reminder waiting for a retry, or for the end of the patient's quiet
 * hours, goes now: at the front of its queue (the channel's rate and
 * concurrency still hold), quiet hours or not, if it is still wanted and
 * has not expired.  DCTL_DONE: fn(arg, ...) is called once when its
 * attempt is settled; DCTL_REFUSED: msg says why (queued already, in
 * flight ...). */
enum dispatch_ctl dispatch_retry(struct dispatch *d, uint64_t id, dispatch_watch_fn fn, void *arg,
    char *msg, size_t len);
/* The watcher `arg` is gone: fn will not be called for it. */
void dispatch_unwatch(struct dispatch *d, void *arg);

/* A reminder the dispatcher holds (queued, waiting, claimed ahead of its
 * due) is never sent: recorded skipped with `reason` in the next batch.
 * DCTL_REFUSED: too late, a send is under way (msg). */
enum dispatch_ctl dispatch_cancel(struct dispatch *d, uint64_t id, const char *reason, char *msg,
    size_t len);
/* A reminder of the calendar not yet due: recorded skipped with `reason`
 * in the next batch, and not sent when it falls due (the ledger's final
 * state refuses its claim even after a restart). */
void dispatch_cancel_future(struct dispatch *d, const struct snapshot *s, const struct occ *o,
    uint16_t ch, const char *reason);

/* Shutdown: stop starting sends; `done` runs once nothing is in flight. */
void dispatch_drain(struct dispatch *d, void (*done)(void *arg), void *arg);

struct dispatch_stats {
	long queued, inflight, waiting_retry;
	long sent, failed, expired, missed, skipped, retries;   /* since start */
	const char *ledger_error;      /* non-NULL while the ledger refuses writes */
};
void dispatch_stats(const struct dispatch *d, struct dispatch_stats *st);
/* Channels whose last send failed transiently, comma-separated ("" if none). */
void dispatch_failing(const struct dispatch *d, char *buf, size_t len);

/* Per-channel counters since start, for metrics. */
#define LATENCY_BUCKETS 12
extern const double latency_bounds[LATENCY_BUCKETS];     /* seconds; the last is +Inf */

struct channel_counts {
	const char *channel;
	long by_kind[KIND_COUNT][REC_COUNT];   /* outcomes and notes */
	long retries;
	long latency[LATENCY_BUCKETS];         /* due -> delivered, cumulative buckets */
	double latency_sum;
	long latency_n;
	int inflight, queued;
};
typedef void (*channel_counts_fn)(const struct channel_counts *c, void *arg);
void dispatch_counts(const struct dispatch *d, channel_counts_fn fn, void *arg);

/* Backoff before retry `attempt` (1, 2, ...): full jitter, uniform in
 * [0, min(cap, base * 2^(attempt-1))].  Exposed for tests. */
double dispatch_backoff(int attempt, double base, double cap, uint64_t *rng);

#endif
