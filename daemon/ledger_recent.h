/* ledger_recent.h - the reminders a shared ledger's instance recorded
 * lately, in memory.
 *
 * The loop may not wait on a database server, yet the inbound side asks
 * the ledger on the loop about a reminder (a delivery receipt: which
 * channel sent it, which receipt it has; a patient's CONFIRM: the latest
 * reminder sent).  A gateway calls back the instance that sent (the status
 * callback's URL is that instance's), so with PostgreSQL these questions
 * are answered from what this instance committed itself: its claims,
 * outcomes, notes, receipts and responses, the last RECENT_CAP of them,
 * and from the rows it fetched from the server before acting on a callback
 * (ledger_ops.fetch: another instance's reminder, its receipt).
 * Owned by ledger_pg.c, on the loop. */
#ifndef IOPD_LEDGER_RECENT_H
#define IOPD_LEDGER_RECENT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

struct recent;

struct recent *recent_new(size_t cap);
void recent_free(struct recent *c);
/* A committed row: added, or its state (status, attempts, reason, gateway
 * id, time) changed; the oldest row goes when the cache is full. */
void recent_put(struct recent *c, const struct ledger_rec *r);
/* A row as the server has it now (fetched): replaces what was known of
 * it, receipt and response included. */
void recent_set(struct recent *c, const struct ledger_rec *r);
void recent_receipt(struct recent *c, uint64_t id, const char *state, int64_t at);
void recent_respond(struct recent *c, uint64_t id, const char *response);
/* As ledger_ops.lookup and latest_sent: 1 found (strings copied into
 * buf), 0 not. */
int recent_get(const struct recent *c, uint64_t id, struct ledger_rec *r, char *buf, size_t len);
int recent_latest_sent(const struct recent *c, const char *patient, const char *const *channels,
    const char *const *kinds, int64_t since, struct ledger_rec *r, char *buf, size_t len);

#endif
