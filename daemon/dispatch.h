/* dispatch.h - from a due reminder to a recorded outcome.
 *
 * The dispatcher owns everything about reminders between "due" and
 * "final": one queue per channel (by name, so queues survive reloads),
 * the channel's token bucket and concurrency slots, retries with
 * exponential backoff and full jitter, expiry, the runtime overrides
 * (pause, opt-out), and the batches written to the ledger.
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

struct dispatch *dispatch_new(struct ev_loop *loop, struct ledger *l);
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

/* Runtime overrides: written to the ledger in a transaction of their own,
 * in force here once it committed; then done (may be NULL) gets rc 0, or
 * -1 with the ledger's error.  With a shared ledger, the other instances
 * apply it from their next claim. */
typedef void (*dispatch_ovr_fn)(int rc, const char *err, void *arg);
void dispatch_override(struct dispatch *d, enum ovr_kind kind, const char *patient,
    const char *channel, int on, const char *source, dispatch_ovr_fn done, void *arg);
/* The ledger's overrides, as read at start (and again, for a shared one). */
void dispatch_override_loaded(struct dispatch *d, const struct ledger_ovr *o);
void dispatch_overrides_reset(struct dispatch *d);
bool dispatch_paused(const struct dispatch *d, const char *patient);
bool dispatch_opted_out(const struct dispatch *d, const char *patient, const char *channel);

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
