/* schedule.h - the daemon's view of the calendar: every stream of a
 * snapshot, in a heap keyed by its next due time.
 *
 * The heap holds streams, not reminders: one entry per series and rule,
 * about ten per patient.  `mark` is the point up to which every group has
 * been offered to the dispatcher; it is what the ledger remembers across
 * restarts.  Building a schedule is pure work on an immutable snapshot and
 * may run off the loop thread (reloads). */
#ifndef IOPD_SCHEDULE_H
#define IOPD_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "sheap.h"
#include "snapshot.h"

struct sched {
	struct snapshot *snap;         /* a reference */
	struct stream *st;
	uint32_t nst;
	struct sheap heap;
	int64_t mark;                  /* every group due before it was offered */
};

/* Every stream of `snap`, positioned at its first group due at or after `mark`. */
struct sched *sched_new(struct snapshot *snap, int64_t mark);
void sched_free(struct sched *s);
int64_t sched_next_due(const struct sched *s);         /* CAL_END if none */

typedef void (*sched_offer_fn)(const struct snapshot *s, const struct occ *o, void *arg);

/* Offers each group due before `until`, in due order, at most `max` of
 * them; moves `mark` forward.  Returns how many it offered. */
size_t sched_run(struct sched *s, int64_t until, size_t max, sched_offer_fn fn, void *arg);

#endif
