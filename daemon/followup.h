/* followup.h - what happens when a reminder fails for good (SPEC 8).
 *
 * A reminder refused permanently by its gateway, or receipted undelivered
 * or failed, goes out once more on its channel's `fallback` if the patient
 * can be reached there (the contact, no opt-out, no pause) and it has not
 * expired; that send has an id of its own (docs/ids.md) and is recorded
 * as the fallback of the first.  Otherwise -- no fallback, or the fallback
 * itself failed -- the staff channel is told.  Both are queued through
 * the dispatcher (dispatch_send), in the batch that records the failure. */
#ifndef IOPD_FOLLOWUP_H
#define IOPD_FOLLOWUP_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon_int.h"

/* A reminder or fallback failed for good; `sent` as dispatch.h describes
 * it.  The dispatcher's dispatch_failed_fn (arg: the daemon). */
void followup_failed(void *dm, const struct snapshot *s, const struct send_spec *sent,
    const char *reason);

/* A send the ledger knows, `r` its row, as a send_spec (its type left to
 * the caller): false if its patient or channel is gone from `s`. */
bool followup_spec(const struct snapshot *s, const struct ledger_rec *r, struct send_spec *sp);

/* sp's template, kind, location and label: those of reminder `reminder`
 * (sp's patient, due) in the calendar; false if the calendar lost it. */
bool followup_texts(const struct snapshot *s, uint64_t reminder, struct send_spec *sp);

/* The same for a send the ledger knows (a failed receipt), `r` its row. */
void followup_receipt_failed(struct daemon *dm, const struct ledger_rec *r, const char *reason);

/* Queues a notice for the staff channel, if there is one: `json` to
 * post, `stored` what the ledger keeps (NULL: json), about patient
 * `patient` (index), `type` "reply" or "failed", made from `from` (the
 * reply's or the reminder's id).  Returns its id, or 0. */
uint64_t followup_notice(struct daemon *dm, const struct snapshot *s, uint32_t patient,
    const char *type, uint64_t from, const char *json, const char *stored);

#endif
