/* schedule.c - see schedule.h */
#include "config.h"

#include <stdlib.h>

#include "schedule.h"
#include "util.h"

struct sched *sched_new(struct snapshot *snap, int64_t mark)
{
	struct sched *s = xcalloc(1, sizeof *s);
	uint32_t p, n = 0, i;

	s->snap = snapshot_ref(snap);
	s->mark = mark;
	for (p = 0; p < snap->npatients; p++)
		n += cal_streams(snap, p, NULL);
	s->st = xreallocarray(NULL, n ? n : 1, sizeof *s->st);
	for (p = 0; p < snap->npatients; p++)
		s->nst += cal_streams(snap, p, s->st + s->nst);
	for (i = 0; i < s->nst; i++) {
		cal_seek(snap, &s->st[i], mark);
		if (s->st[i].due != CAL_END)
			sheap_append(&s->heap, s->st[i].due, snap->patients[s->st[i].patient].rank, i);
	}
	sheap_heapify(&s->heap);
	return s;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	sheap_free(&s->heap);
	free(s->st);
	snapshot_unref(s->snap);
	free(s);
}

int64_t sched_next_due(const struct sched *s)
{
	return s->heap.n ? sheap_top(&s->heap)->due : CAL_END;
}

size_t sched_run(struct sched *s, int64_t until, size_t max, sched_offer_fn fn, void *arg)
{
	size_t done = 0;

	while (s->heap.n && sheap_top(&s->heap)->due < until && done < max) {
		struct stream *st = &s->st[sheap_top(&s->heap)->idx];
		struct occ o;

		cal_occ(s->snap, st, &o);
		fn(s->snap, &o, arg);
		done++;
		cal_next(s->snap, st);
		if (st->due != CAL_END)
			sheap_replace_top(&s->heap, st->due, sheap_top(&s->heap)->rank);
		else
			sheap_pop(&s->heap);
	}
	/* the mark only moves forward: after the wall clock stepped back,
	 * `until` is behind it, and a mark written back to the ledger would
	 * make the next start offer again what was offered already */
	if (done < max || !s->heap.n) {
		if (until > s->mark)
			s->mark = until;
	} else if (sheap_top(&s->heap)->due > s->mark)
		s->mark = sheap_top(&s->heap)->due;
	return done;
}
