/* calendar.c - see calendar.h.  SPEC section 4 is implemented here and
 * nowhere else; the comments quote the rule each step follows. */
#include "config.h"

#include <stdlib.h>

#include "calendar.h"
#include "civil.h"
#include "ident.h"
#include "tz.h"
#include "util.h"

const char *const status_names[STATUS_COUNT] = {
	"scheduled", "skipped:paused", "skipped:opt-out", "skipped:no-contact", "skipped:quiet-hours"
};

/* ---- due times ------------------------------------------------------ */

/* "due = event - before.  Calendar units (w, d) count back from the
 * event's actual wall time in its zone (after 3.2), and the result is read
 * again by 3.2; exact units are then subtracted." */
static int64_t minus_before(int64_t event, struct dur before, const struct tz *event_zone)
{
	int64_t t = event;

	if (before.days)
		t = tz_from_wall(event_zone, tz_to_wall(event_zone, event) - (int64_t)before.days * DAY_SECS);
	return t - before.secs;
}

/* "With `at`: take the instant (event - before), its calendar date in the
 * patient's zone, and due is local time `at` on that date." */
static int64_t apply_at(int64_t t, int32_t at, const struct tz *pz)
{
	if (at < 0)
		return t;
	return tz_from_wall(pz, wall_make(wall_date(tz_to_wall(pz, t)), at));
}

/* "A due whose local wall time is in [from, to) (the window may cross
 * midnight) moves to the end of that window."  Returns the new due, or
 * `due` itself outside quiet hours. */
static int64_t after_quiet(int64_t due, struct quiet q, const struct tz *pz)
{
	int64_t w;
	int32_t s, d;

	if (q.from == q.to)
		return due;
	w = tz_to_wall(pz, due);
	s = wall_secs(w);
	d = wall_date(w);
	if (q.from < q.to)
		return s >= q.from && s < q.to ? tz_from_wall(pz, wall_make(d, q.to)) : due;
	if (s >= q.from)
		return tz_from_wall(pz, wall_make(d + 1, q.to));
	if (s < q.to)
		return tz_from_wall(pz, wall_make(d, q.to));
	return due;
}

/* Due of a session or appointment reminder.  "If [the end of quiet hours]
 * is at or after the event, the reminder is skipped:quiet-hours and keeps
 * its original due." */
static void event_due(struct stream *st, int64_t event, const struct rule *r,
    const struct tz *event_zone, const struct patient *p)
{
	int64_t due = apply_at(minus_before(event, r->before, event_zone), r->at, p->tz);
	int64_t moved = after_quiet(due, p->quiet, p->tz);

	st->event = event;
	st->quiet_skip = moved != due && moved >= event;
	st->due = st->quiet_skip ? due : moved;
}

int64_t cal_after_quiet(const struct patient *p, int64_t t)
{
	return after_quiet(t, p->quiet, p->tz);
}

/* ---- streams ---------------------------------------------------------- */

static const struct patient *pat(const struct snapshot *s, const struct stream *st)
{
	return &s->patients[st->patient];
}

static const struct program *prog(const struct snapshot *s, const struct stream *st)
{
	return &s->programs[pat(s, st)->program];
}

uint32_t cal_streams(const struct snapshot *s, uint32_t pi, struct stream *out)
{
	const struct patient *p = &s->patients[pi];
	const struct program *pr = &s->programs[p->program];
	struct stream base = {CAL_END, 0, 0, pi, 0, 0, 0, 0, false};
	uint32_t n = 0;
	uint16_t i, r;

#define EMIT(K, SERIES, RULE) do { if (out) { out[n] = base; out[n].kind = (K); \
	out[n].series = (SERIES); out[n].rule = (uint8_t)(RULE); } n++; } while (0)
	for (i = 0; i < pr->nsessions; i++)
		for (r = 0; r < pr->sessions[i].rules.n && r < 256; r++)
			EMIT(STREAM_SESSION, i, r);
	for (i = 0; i < p->nappts; i++)
		if (p->appts[i].rules.n) {
			EMIT(STREAM_APPTS, 0, 0);
			break;
		}
	for (i = 0; i < p->nmeds; i++)
		EMIT(STREAM_MED, i, 0);
	if (pr->aftercare.n)
		EMIT(STREAM_AFTERCARE, 0, 0);
#undef EMIT
	return n;
}

/* Sessions: "each date D from start to the enrollment end (both included),
 * in the program's zone, whose weekday is in days, that is not a closure
 * (global or program) nor a patient absence". */
static bool session_day(const struct program *pr, const struct patient *p,
    const struct session *se, int32_t d)
{
	return (se->days >> days_weekday(d) & 1) && !date_in(pr->closures, pr->nclosures, d) &&
	    !date_in(p->absences, p->nabsences, d);
}

static void session_at(const struct snapshot *s, struct stream *st, int32_t d)
{
	const struct program *pr = prog(s, st);
	const struct session *se = &pr->sessions[st->series];

	for (; d <= pat(s, st)->end; d++)
		if (session_day(pr, pat(s, st), se, d)) {
			st->pos = d;
			event_due(st, tz_from_wall(pr->tz, wall_make(d, se->start)),
			    &se->rules.v[st->rule], pr->tz, pat(s, st));
			return;
		}
	st->due = CAL_END;
}

static void session_seek(const struct snapshot *s, struct stream *st, int64_t t)
{
	const struct program *pr = prog(s, st);
	const struct rule *r = &pr->sessions[st->series].rules.v[st->rule];
	/* A due lies within a few days of event - before (`at` moves it by
	 * less than a day, quiet hours by less than another), so start that
	 * far back and walk forward: dues of one stream never go backwards. */
	int64_t back = (int64_t)r->before.days + r->before.secs / DAY_SECS + 3;
	int64_t d0 = (int64_t)wall_date(tz_to_wall(pr->tz, t)) - back;
	int32_t d = d0 < pat(s, st)->start ? pat(s, st)->start : (int32_t)d0;

	for (session_at(s, st, d); st->due < t; session_at(s, st, st->pos + 1))
		;
}

/* Lists (appointments x rules, aftercare offsets): few entries, so the
 * next group is found by a scan for the smallest (due, entry, sub) after
 * the current one, which needs no state beyond the current position. */
static int list_entries(const struct snapshot *s, const struct stream *st)
{
	return st->kind == STREAM_APPTS ? pat(s, st)->nappts : prog(s, st)->aftercare.n;
}

static int list_subs(const struct snapshot *s, const struct stream *st, int e)
{
	return st->kind == STREAM_APPTS ? pat(s, st)->appts[e].rules.n : 1;
}

static void list_due(const struct snapshot *s, struct stream *st, int e, int sub)
{
	const struct patient *p = pat(s, st);
	const struct program *pr = prog(s, st);

	if (st->kind == STREAM_APPTS) {
		/* appointments: "one event at `at`, read in the program's zone" */
		event_due(st, p->appts[e].at, &p->appts[e].rules.v[sub], pr->tz, p);
	} else {
		/* "Aftercare: for each after offset N: due at local time at on
		 * (enrollment end + N), in the patient's zone"; quiet hours apply,
		 * and "event equals the unshifted due time". */
		int64_t due = tz_from_wall(p->tz, wall_make(p->end + pr->aftercare.after[e], pr->aftercare.at));
		st->event = due;
		st->due = after_quiet(due, p->quiet, p->tz);
		st->quiet_skip = false;
	}
}

static bool key_less(int64_t d1, int e1, int s1, int64_t d2, int e2, int s2)
{
	return d1 != d2 ? d1 < d2 : e1 != e2 ? e1 < e2 : s1 < s2;
}

/* Positions st at the smallest (due, entry, sub) that is after (t, e0, s0)
 * when `strict`, or with due >= t otherwise. */
static void list_find(const struct snapshot *s, struct stream *st, int64_t t, int e0, int s0,
    bool strict)
{
	struct stream best = *st, cur = *st;
	int e, sub;

	best.due = CAL_END;
	for (e = 0; e < list_entries(s, st); e++)
		for (sub = 0; sub < list_subs(s, st, e); sub++) {
			list_due(s, &cur, e, sub);
			if (strict ? !key_less(t, e0, s0, cur.due, e, sub) : cur.due < t)
				continue;
			if (best.due == CAL_END || key_less(cur.due, e, sub, best.due, best.pos, best.sub)) {
				best = cur;
				best.pos = e;
				best.sub = (uint16_t)sub;
			}
		}
	*st = best;
}

/* Medication: "for each date from `from` to `until` (both included), in
 * the patient's zone, and each time in `times`: a prompt due at that local
 * time.  No lead, no quiet hours."  Within a day the prompts go by
 * instant, which differs from the order of the times only inside a DST
 * gap; across days the order is that of the dates. */
static int64_t med_instant(const struct patient *p, const struct medication *m, int32_t d, int i)
{
	return tz_from_wall(p->tz, wall_make(d, m->times[i]));
}

/* The first prompt of day d after (t, i0) (strict) or at/after t. */
static bool med_in_day(const struct patient *p, const struct medication *m, struct stream *st,
    int32_t d, int64_t t, int i0, bool strict)
{
	int64_t best = CAL_END;
	int i, bi = -1;

	for (i = 0; i < m->ntimes; i++) {
		int64_t u = med_instant(p, m, d, i);
		if (strict ? !key_less(t, 0, i0, u, 0, i) : u < t)
			continue;
		if (bi < 0 || u < best) {
			best = u;
			bi = i;
		}
	}
	if (bi < 0)
		return false;
	st->pos = d;
	st->sub = (uint16_t)bi;
	st->due = st->event = best;
	st->quiet_skip = false;
	return true;
}

static void med_from(const struct snapshot *s, struct stream *st, int32_t d, int64_t t, int i0,
    bool strict)
{
	const struct patient *p = pat(s, st);
	const struct medication *m = &p->meds[st->series];

	for (; d <= m->until; d++) {
		if (med_in_day(p, m, st, d, t, i0, strict))
			return;
		if (strict) {              /* past the current day: anything goes */
			strict = false;
			t = INT64_MIN;
		}
	}
	st->due = CAL_END;
}

void cal_seek(const struct snapshot *s, struct stream *st, int64_t t)
{
	const struct patient *p = pat(s, st);

	switch (st->kind) {
	case STREAM_SESSION:
		session_seek(s, st, t);
		break;
	case STREAM_MED: {
		const struct medication *m = &p->meds[st->series];
		int32_t d = wall_date(tz_to_wall(p->tz, t)) - 1;
		med_from(s, st, d < m->from ? m->from : d, t, 0, false);
		break;
	}
	default:
		list_find(s, st, t, 0, 0, false);
	}
}

void cal_next(const struct snapshot *s, struct stream *st)
{
	if (st->due == CAL_END)
		return;
	switch (st->kind) {
	case STREAM_SESSION:
		session_at(s, st, st->pos + 1);
		break;
	case STREAM_MED:
		med_from(s, st, st->pos, st->due, st->sub, true);
		break;
	default:
		list_find(s, st, st->due, st->pos, st->sub, true);
	}
}

/* ---- details, statuses, ids ---------------------------------------- */

static int32_t pick_template(const struct snapshot *s, int32_t rule, int32_t entry, enum kind k)
{
	return rule >= 0 ? rule : entry >= 0 ? entry : s->default_tmpl[k];
}

void cal_occ(const struct snapshot *s, const struct stream *st, struct occ *o)
{
	const struct patient *p = pat(s, st);
	const struct program *pr = prog(s, st);

	o->patient = p;
	o->due = st->due;
	o->event = st->event;
	o->quiet_skip = st->quiet_skip;
	o->location = o->label = NULL;
	o->lead = o->lead_key = "";
	switch (st->kind) {
	case STREAM_SESSION: {
		const struct session *se = &pr->sessions[st->series];
		o->kind = KIND_SESSION;
		o->rule = &se->rules.v[st->rule];
		o->series = se->series_key;
		o->location = se->location;
		o->tmpl = pick_template(s, o->rule->tmpl, se->tmpl, KIND_SESSION);
		break;
	}
	case STREAM_APPTS: {
		const struct appointment *a = &p->appts[st->pos];
		o->kind = KIND_APPOINTMENT;
		o->rule = &a->rules.v[st->sub];
		o->series = a->key;
		o->location = a->location;
		o->tmpl = pick_template(s, o->rule->tmpl, a->tmpl, KIND_APPOINTMENT);
		break;
	}
	case STREAM_MED: {
		const struct medication *m = &p->meds[st->series];
		o->kind = KIND_MEDICATION;
		o->rule = &m->rule;
		o->series = o->label = m->label;
		o->tmpl = pick_template(s, m->rule.tmpl, -1, KIND_MEDICATION);
		return;
	}
	default:
		o->kind = KIND_AFTERCARE;
		o->rule = &pr->aftercare.rule;
		o->series = "aftercare";
		o->tmpl = pick_template(s, pr->aftercare.rule.tmpl, -1, KIND_AFTERCARE);
		return;
	}
	o->lead = o->rule->before_text;
	o->lead_key = o->rule->lead_key;
}

/* Every cache line of [p, p + n).  A macro: GCC drops a call to a static
 * function that does nothing but prefetch (calendar.h). */
#define PREFETCH_ALL(p, n) do { \
	for (size_t off_ = 0; off_ < (n); off_ += 64) \
		__builtin_prefetch((const char *)(p) + off_); \
	__builtin_prefetch((const char *)(p) + (n) - 1); \
} while (0)

void cal_prefetch(const struct snapshot *s, const struct stream *st, int stage)
{
	const struct patient *p = pat(s, st);

	switch (stage) {
	case 0:
		PREFETCH_ALL(p, sizeof *p);
		break;
	case 1:
		__builtin_prefetch(p->id);
		if (st->kind == STREAM_MED)
			PREFETCH_ALL(&p->meds[st->series], sizeof *p->meds);
		else if (st->kind == STREAM_SESSION && p->nabsences)
			__builtin_prefetch(p->absences);
		break;
	default:
		if (st->kind == STREAM_MED)
			__builtin_prefetch(p->meds[st->series].times);
	}
}

/* "status is scheduled, or, first match wins: skipped:paused,
 * skipped:opt-out, skipped:no-contact, skipped:quiet-hours." */
enum status cal_status(const struct snapshot *s, const struct occ *o, uint16_t ch)
{
	const struct patient *p = o->patient;
	chanmask bit = (chanmask)1 << ch;
	enum iopd_contact c = s->channels[ch].contact;

	if (p->paused)
		return STATUS_PAUSED;
	if ((p->optout & bit) || !(p->allow & bit))
		return STATUS_OPTOUT;
	if ((c == IOPD_CONTACT_PHONE && !p->phone) || (c == IOPD_CONTACT_EMAIL && !p->email))
		return STATUS_NOCONTACT;
	if (o->quiet_skip)
		return STATUS_QUIET;
	return STATUS_SCHEDULED;
}

uint64_t cal_series_id(const struct snapshot *s, const struct occ *o, uint16_t ch)
{
	return ident_series(o->patient->id, kind_names[o->kind], o->series, o->lead_key,
	    s->channels[ch].name);
}

uint64_t cal_id(const struct snapshot *s, const struct occ *o, uint16_t ch)
{
	return ident_reminder(cal_series_id(s, o, ch), o->event);
}

int cal_find(const struct snapshot *s, uint32_t p, int64_t due, uint64_t id, struct occ *o,
    uint16_t *ch)
{
	uint32_t n = cal_streams(s, p, NULL), i;
	struct stream *st = xreallocarray(NULL, n ? n : 1, sizeof *st);
	int found = -1;

	cal_streams(s, p, st);
	for (i = 0; i < n && found < 0; i++)
		for (cal_seek(s, &st[i], due); st[i].due == due && found < 0; cal_next(s, &st[i])) {
			uint8_t k;
			cal_occ(s, &st[i], o);
			for (k = 0; k < o->rule->nchan && found < 0; k++)
				if (cal_id(s, o, o->rule->chan[k]) == id) {
					*ch = o->rule->chan[k];
					found = 0;
				}
		}
	free(st);
	return found;
}
