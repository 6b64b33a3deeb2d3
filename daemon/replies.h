/* replies.h - a patient's text, acted on (SPEC 8).
 *
 * The text's keyword (keyword.h) decides: consent changes for every
 * patient whose phone is the sender (STOP, START), what the patient said
 * of a reminder (C, R, T), the answer sent back on the channel the text
 * came in on (at most one, at once, where the channel has replies = true)
 * and the notices to the staff channel.  Nothing of the text is kept, but
 * for an "other" notice to staff, which carries it and is not stored.
 *
 * The ledger's writes are collected in a struct cb_writes and committed
 * with the batch that answers the gateway; the sends are queued at once
 * (dispatch_send), their ledger rows in that same batch. */
#ifndef IOPD_REPLIES_H
#define IOPD_REPLIES_H

#include <stdint.h>

#include "consent.h"
#include "daemon_int.h"
#include "keyword.h"

/* What one callback writes.  Strings point into `snap` (held) or into
 * the struct itself. */
struct cb_writes {
	struct snapshot *snap;         /* a reference, or NULL */
	struct ledger_reply *replies;
	size_t nreplies, capreplies;
	struct consent_change *changes;
	size_t nchanges, capchanges;
	uint64_t *respond_ids;         /* reminders the patient confirmed, ... */
	const char **responses;        /* ... "confirm", "reschedule", "taken" */
	size_t nresponds, capresponds;
	uint64_t receipt;              /* a receipt's reminder, or 0 */
	const char *receipt_state;     /* "delivered", "undelivered", "failed", "read" */
	char receipt_reason[64];
	int64_t receipt_at;
	char source[64];               /* of consent changes: "reply STOP on sms" */
};

/* Into the ledger's open batch; 0, or -1. */
int cb_writes_put(struct ledger *l, const struct cb_writes *w);
/* Once committed: the consent changes are in force. */
void cb_writes_apply(struct consent *c, const struct cb_writes *w);
void cb_writes_free(struct cb_writes *w);

/* The inbound side's state for replies: the patients of a snapshot by
 * phone number, and a sequence for the ids of texts a gateway gives no
 * key of its own. */
struct reply_ctx {
	struct snapshot *snap;         /* a reference: the index is of it */
	uint32_t *by_phone;            /* patient indexes with a phone, by phone, then id */
	uint32_t n;
	uint64_t seq;
};
void reply_ctx_free(struct reply_ctx *rc);

/* The ids of the patients whose phone is `from` (in dm->snap; shared
 * phones give several), to fn. */
void replies_patients(struct daemon *dm, struct reply_ctx *rc, const char *from,
    void (*fn)(const char *patient, void *arg), void *arg);

/* Acts on a text from `from` that came in on channel `ch` of dm->snap at
 * `now`; `key` is what the gateway identifies it by (or NULL).  Fills w.
 * Returns its intent, or -1 when the sender is no patient (nothing to
 * write, no answer). */
int replies_take(struct daemon *dm, struct reply_ctx *rc, uint16_t ch, const char *from,
    const char *text, const char *key, int64_t now, struct cb_writes *w);

#endif
