/* preview.h - `iopd render`: a patient's next reminders, as the patient
 * will read them.
 *
 * The same calendar (agenda_walk) and the same rendering (render_occ) as
 * the daemon: what is shown is what would be sent, in the patient's
 * language and zone.  No network, nothing written. */
#ifndef IOPD_PREVIEW_H
#define IOPD_PREVIEW_H

#include <stdint.h>
#include <stdio.h>

#include "snapshot.h"

/* Prints the first `count` reminders of patient index p due at or after
 * `from` that carry a text (not the webhook's), with their status: a
 * skipped one is shown too, marked.  Returns 0, or -1 on a write error. */
int preview_print(const struct snapshot *s, uint32_t p, int64_t from, int count, FILE *f);

#endif
