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
 * kept: they are the record of consent. */
#include "config.h"

#include <math.h>

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

static void step_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *dm = w->data;
	struct ledger *l = dm->ledger;
	int64_t before;
	char t[FMT_UTC_LEN + 1];
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
	if (l->ops->begin(l) || (n = l->ops->prune(l, before, RETENTION_STEP)) < 0 || l->ops->commit(l)) {
		log_warn("ledger retention: %s (tried again in an hour)", l->ops->error(l));
		l->ops->rollback(l);
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
}
