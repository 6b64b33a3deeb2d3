/* agenda.h - the reminders of a time window, in the agenda's order.
 *
 * Calendar streams merged a slab of time at a time (agenda.c): rows come
 * out sorted by due, then patient, then channel, then id (SPEC 5) without
 * the window ever being held in memory (one slab's rows at most).
 * `iopd agenda` prints them; the control socket's live agenda walks the
 * same rows. */
#ifndef IOPD_AGENDA_H
#define IOPD_AGENDA_H

#include <stdint.h>
#include <stdio.h>

#include "calendar.h"
#include "snapshot.h"
#include "util.h"

struct agenda_row {
	const struct occ *o;
	uint64_t id;
	uint16_t ch;                   /* channel index */
	enum status status;
};

/* Returns nonzero to stop the walk. */
typedef int (*agenda_fn)(const struct snapshot *s, const struct agenda_row *r, void *arg);

/* Every reminder with due in [from, to), of one patient (index) or all
 * (patient < 0). */
void agenda_walk(const struct snapshot *s, int64_t from, int64_t to, int64_t patient,
    agenda_fn fn, void *arg);

/* What the daemon's ledger adds to a row (SPEC 8), or nothing. */
struct agenda_live {
	const char *receipt;           /* "delivered", "undelivered", "failed", or NULL */
	const char *reply;             /* the patient's "confirm", "reschedule", "taken", or NULL */
};

/* One row as a JSON object (no newline); `status` overrides the
 * calendar's status text when not NULL (the daemon's ledger view), and
 * `live` (or NULL) adds "receipt" and "reply" members where set. */
void agenda_row_json(const struct snapshot *s, const struct agenda_row *r, const char *status,
    const struct agenda_live *live, struct sbuf *out);

enum agenda_format {
	AGENDA_JSONL = 0,
	AGENDA_TABLE = 1,
	AGENDA_TEXT = 0x10             /* or'ed with a format: the texts the patient reads
	                                * (`text`, and `subject` on e-mail channels) */
};

/* A row's status text as the caller sees it (the daemon: from its ledger),
 * or NULL for the calendar's own; it may fill `live` (static strings). */
typedef const char *(*agenda_status_fn)(const struct snapshot *s, const struct agenda_row *r,
    char *buf, size_t len, struct agenda_live *live, void *arg);

/* iopd agenda: prints the window to f, in `format` (enum agenda_format,
 * AGENDA_TEXT or'ed in for texts).  Returns 0, or -1 on a write error. */
int agenda_print(const struct snapshot *s, int64_t from, int64_t to, int64_t patient,
    int format, FILE *f, agenda_status_fn status, void *arg);

#endif
