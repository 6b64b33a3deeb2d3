/* agenda_ledger.h - the agenda's statuses as a ledger knows them.
 *
 * A reminder the ledger recorded shows its state there (sent, failed,
 * retry, skipped:paused, skipped:cancelled ...); one not yet due shows the
 * calendar's status, or skipped:paused / skipped:opt-out when a runtime
 * override (iopctl, a patient's STOP, a gateway) covers it -- a pause with
 * an end only for what falls due before that end.  `iopctl agenda` reads
 * through a control job's reader connection, `iopd agenda` through
 * ledger_sqlite_peek; both only read. */
#ifndef IOPD_AGENDA_LEDGER_H
#define IOPD_AGENDA_LEDGER_H

#include <stdbool.h>
#include <stddef.h>

#include "agenda.h"
#include "ledger.h"

struct agenda_ledger;

/* Reads the overrides in force from `r` (kept by the caller, and used by
 * every status asked for).  `live`: also the receipts and replies
 * (struct agenda_live), as iopctl shows them.  NULL with the ledger's
 * error in err. */
struct agenda_ledger *agenda_ledger_new(struct ledger *r, bool live, char *err, size_t errlen);
void agenda_ledger_free(struct agenda_ledger *al);
/* How many overrides are in force (pauses and opt-outs). */
size_t agenda_ledger_overrides(const struct agenda_ledger *al);
/* An agenda_status_fn (agenda.h); arg is the agenda_ledger. */
const char *agenda_ledger_status(const struct snapshot *s, const struct agenda_row *r, char *buf,
    size_t len, struct agenda_live *live, void *arg);

/* A reason recorded by `iopctl cancel` ("cancelled by ..."). */
bool agenda_ledger_cancelled(const char *reason);

#endif
