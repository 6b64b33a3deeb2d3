/* retention.c - see retention.h.
 *
 * Reminders settled longer ago than daemon.ledger_retention (sent,
 * failed, expired, missed, skipped: never one still open), their
 * outcomes, the replies and the callback keys as old are deleted through
 * the ledger's prune operation, RETENTION_STEP rows of each at a time,
 * each step its own short transaction on the loop's connection (a
 * writer of its own would make the loop's batches wait on its lock).  A
 * step runs only when nothing else wants the loop soon: no batch pending,
 * nothing queued, no claim held and nothing due in the next
 * RETENTION_CLEAR seconds; so it never delays a claim's commit.  A large
 * backlog (a first start with a year of rows) goes in steps a quarter
 * second apart; then a look every hour.  Overrides and their log are
 * kept: they are the record of consent.  A networked ledger (PostgreSQL)
 * takes the step as a batch of its own, answered later on the loop. */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "daemon_int.h"
#include "log.h"
#include "retention.h"
#include "timefmt.h"

#define RETENTION_STEP 200             /* rows of each kind per transaction */
#define RETENTION_FIRST 5.0            /* s after the start: the first look */
#define RETENTION_AGAIN 0.25           /* s between steps while old rows remain */
#define RETENTION_BUSY 1.0             /* s: the loop had no moment, look again */
#define RETENTION_IDLE 3600.0          /* s between looks once none remain */
#define RETENTION_CLEAR 2.0            /* s: nothing may be due this soon */

static void again(struct daemon *dm, double after)
{
	ev_timer_stop(dm->loop, &dm->retention_w);
	ev_timer_set(&dm->retention_w, after, 0.);
	ev_timer_start(dm->loop, &dm->retention_w);
}

static bool loop_has_a_moment(struct daemon *dm)
{
	int64_t next = sched_next_due(dm->sched);

	return !dm->stopping && !dm->ledger_lost && dispatch_idle(dm->dispatch, RETENTION_CLEAR) &&
	    (next == CAL_END || (double)next - ev_now(dm->loop) > RETENTION_CLEAR);
}

/* A step's end: `n` rows deleted, or the step failed (n < 0). */
static void step_end(struct daemon *dm, int64_t before, long n)
{
	char t[FMT_UTC_LEN + 1];

	if (n < 0) {
		log_warn("ledger retention: %s (tried again in an hour)", dm->ledger->ops->error(dm->ledger));
		again(dm, RETENTION_IDLE);
		return;
	}
	dm->retention_deleted += n;
	if (n > 0) {
		again(dm, RETENTION_AGAIN);
		return;
	}
	if (dm->retention_deleted) {
		fmt_utc(before, t);
		log_notice("ledger retention: %ld rows settled before %s deleted (daemon.ledger_retention)",
		    dm->retention_deleted, t);
	}
	dm->retention_deleted = 0;
	again(dm, RETENTION_IDLE);
}

/* A step as a batch of its own (a backend without synchronous
 * transactions); its prune writes inside it. */
struct step {
	struct daemon *dm;
	struct ledger_batch b;
	int64_t before;
};

static int step_write(struct ledger *l, void *arg)
{
	struct step *st = arg;

	return l->ops->prune(l, st->before, RETENTION_STEP) < 0 ? -1 : 0;
}

static void step_done(int rc, void *arg)
{
	struct step *st = arg;
	struct daemon *dm = st->dm;

	dm->retention_step = NULL;
	step_end(dm, st->before, rc ? -1 : st->b.pruned);
	free(st);
}

static void step_submit(struct daemon *dm, int64_t before)
{
	struct step *st = xcalloc(1, sizeof *st);

	st->dm = dm;
	st->before = before;
	st->b.mark = -1;
	st->b.extra = step_write;
	st->b.extra_arg = st;
	dm->retention_step = st;
	dm->ledger->ops->submit(dm->ledger, &st->b, step_done, st);
}

static void step_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *dm = w->data;
	struct ledger *l = dm->ledger;
	int64_t before;
	long n;

	if (!dm->snap->ledger_retention || !l->ops->prune) {   /* "forever" (a reload may change it) */
		again(dm, RETENTION_IDLE);
		return;
	}
	if (!loop_has_a_moment(dm)) {
		again(dm, RETENTION_BUSY);
		return;
	}
	before = (int64_t)ev_now(loop) - dm->snap->ledger_retention;
	if (!l->ops->begin) {
		if (!dm->retention_step)
			step_submit(dm, before);   /* step_done goes on */
		return;
	}
	if (l->ops->begin(l) || (n = l->ops->prune(l, before, RETENTION_STEP)) < 0 || l->ops->commit(l)) {
		l->ops->rollback(l);
		step_end(dm, before, -1);
		return;
	}
	step_end(dm, before, n);
}

void retention_start(struct daemon *dm)
{
	ev_timer_init(&dm->retention_w, step_cb, 0., 0.);
	dm->retention_w.data = dm;
	again(dm, RETENTION_FIRST);
}

void retention_stop(struct daemon *dm)
{
	if (dm->loop)
		ev_timer_stop(dm->loop, &dm->retention_w);
	/* the ledger is closed after: its answer never comes */
	free(dm->retention_step);
	dm->retention_step = NULL;
}
