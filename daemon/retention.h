/* retention.h - daemon.ledger_retention: the ledger's old rows go, a
 * little at a time, when the loop has a moment. */
#ifndef IOPD_RETENTION_H
#define IOPD_RETENTION_H

struct daemon;

/* Arms the upkeep (a first look shortly after the start). */
void retention_start(struct daemon *dm);
void retention_stop(struct daemon *dm);

#endif
