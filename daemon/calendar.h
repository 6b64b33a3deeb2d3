/* calendar.h - what gets scheduled (SPEC 4), lazily.
 *
 * The calendar is a set of streams, one per (patient, series, rule): a
 * session series under one reminder rule, a patient's appointments, one
 * medication entry, a patient's aftercare plan.  A stream yields its
 * reminder groups in order of due time, one at a time; a group is one
 * occurrence under one rule, and holds one reminder per channel of the
 * rule.  Nothing is materialised for a whole enrollment: a stream is 32
 * bytes of position, so the daemon holds 100,000 patients cheaply.
 *
 * The engine is pure: no clock, no I/O.  `iopd agenda` and the daemon both
 * read the calendar only through this interface (DESIGN invariant 1). */
#ifndef IOPD_CALENDAR_H
#define IOPD_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot.h"

#define CAL_END INT64_MAX              /* a stream with nothing left */

enum status {
	STATUS_SCHEDULED,
	STATUS_PAUSED,                 /* skipped:paused */
	STATUS_OPTOUT,                 /* skipped:opt-out */
	STATUS_NOCONTACT,              /* skipped:no-contact */
	STATUS_QUIET,                  /* skipped:quiet-hours */
	STATUS_COUNT
};
extern const char *const status_names[STATUS_COUNT];

enum stream_kind { STREAM_SESSION, STREAM_APPTS, STREAM_MED, STREAM_AFTERCARE };

struct stream {
	int64_t due;                   /* the current group's due; CAL_END when done */
	int64_t event;                 /* its event (medication/aftercare: unshifted due) */
	int32_t pos;                   /* session/medication: date; lists: entry index */
	uint32_t patient;              /* index into snapshot.patients */
	uint16_t series;               /* session or medication index */
	uint16_t sub;                  /* medication: time index; lists: rule/offset index */
	uint8_t kind;                  /* enum stream_kind */
	uint8_t rule;                  /* session: index into the series' rules */
	bool quiet_skip;               /* quiet hours reached the event: skipped */
};

/* One reminder group's details. */
struct occ {
	const struct patient *patient;
	const struct rule *rule;       /* its channels (and lead) */
	const char *series;            /* identity of the series, for ids */
	const char *lead;              /* `before` as written; "" without lead */
	const char *lead_key;          /* identity of the lead, for ids */
	const char *location, *label;  /* for templates */
	int64_t due, event;
	int32_t tmpl;                  /* template index */
	enum kind kind;
	bool quiet_skip;
};

/* Fills `out` (if not NULL) with patient p's streams, unpositioned, and
 * returns how many there are. */
uint32_t cal_streams(const struct snapshot *s, uint32_t p, struct stream *out);
/* Positions st at its first group with due >= t. */
void cal_seek(const struct snapshot *s, struct stream *st, int64_t t);
/* Moves st to its next group. */
void cal_next(const struct snapshot *s, struct stream *st);
/* The current group of a positioned stream (st->due != CAL_END). */
void cal_occ(const struct snapshot *s, const struct stream *st, struct occ *o);
/* Hints that st's group is read soon (cal_occ, cal_next, the row's text):
 * stage 0 asks for its patient's entry, stage 1 (once that is in) for
 * what the entry points to, stage 2 for what those point to.  A walk of
 * many patients calls each stage a few streams ahead of the next one, so
 * the cache misses overlap instead of waiting one after the other.  (Not
 * an inline: GCC drops a call to a function it sees does nothing but
 * prefetch, as a call without effect.) */
void cal_prefetch(const struct snapshot *s, const struct stream *st, int stage);

/* The status of the group's reminder on channel ch (SPEC 4, first match). */
enum status cal_status(const struct snapshot *s, const struct occ *o, uint16_t ch);
/* Its id (SPEC 5). */
uint64_t cal_id(const struct snapshot *s, const struct occ *o, uint16_t ch);
/* The series part of the id (ident_series): the same for every group of
 * one stream, except appointments; cal_id = ident_reminder(this, event). */
uint64_t cal_series_id(const struct snapshot *s, const struct occ *o, uint16_t ch);

/* `t` moved to the end of the patient's quiet hours if it falls in them
 * (SPEC 4); used for retries too, so a retry never wakes a patient. */
int64_t cal_after_quiet(const struct patient *p, int64_t t);

/* Finds the reminder `id` of patient p that fell due at `due` (a ledger
 * record) by seeking the patient's streams there: its group and channel.
 * Returns 0, or -1 if the calendar no longer has it. */
int cal_find(const struct snapshot *s, uint32_t p, int64_t due, uint64_t id, struct occ *o,
    uint16_t *ch);

#endif
