/* inbound.h - the gateways' callbacks (SPEC 8): routing, authentication,
 * recording, answers.
 *
 *   GET  /healthz                       "ok"
 *   POST /sms/CHANNEL/reply | status    Twilio (X-Twilio-Signature)
 *   GET  /sms/CHANNEL/reply | status    Kannel (key=...)
 *
 * httpd.h parses HTTP and bounds the clients; this module routes a
 * complete request to its channel, checks it with the secret the plugin
 * host holds (signature.h), lets the channel's plugin read it (an
 * iopd_callback: a reply or a receipt), acts on it (replies.c,
 * followup.c) and answers 200 only once what it recorded is committed:
 * its writes join the dispatcher's next batch (dispatch_join), so a
 * burst of callbacks costs one fsync per loop iteration, not one each.
 * 403 for a missing or wrong signature or key, 404 for an unknown path or
 * channel (or a method the channel's gateway does not use), 400 for a
 * request its plugin cannot read, 503 while the ledger refuses writes;
 * nothing is recorded for any of them.  A callback the gateway delivers
 * again (same key) counts once. */
#ifndef IOPD_INBOUND_H
#define IOPD_INBOUND_H

#include "daemon_int.h"
#include "keyword.h"

struct inbound;

struct inbound *inbound_new(struct daemon *dm);
/* Starts listening on dm->snap's inbound.listen, or on the socket systemd
 * passed (sd_listen_fds); nothing without an `inbound` block.  0, or -1
 * with the reason in err. */
int inbound_start(struct inbound *in, char *err, size_t errlen);
/* After a reload: listens where the new configuration says (a new
 * address, or none).  A failure is logged; the old listener stays. */
void inbound_reload(struct inbound *in);
/* Shutdown: stops listening; callbacks waiting for their commit are still
 * recorded, unanswered.  inbound_free (after the dispatcher is gone)
 * frees what is left. */
void inbound_stop(struct inbound *in);
void inbound_free(struct inbound *in);

enum inbound_refusal {
	REFUSED_NOT_FOUND, REFUSED_SIGNATURE, REFUSED_KEY, REFUSED_MALFORMED, REFUSED_LEDGER,
	REFUSED_COUNT
};
extern const char *const inbound_refusal_names[REFUSED_COUNT];

enum inbound_receipt { RCPT_DELIVERED, RCPT_UNDELIVERED, RCPT_FAILED, RCPT_READ, RCPT_INTERIM,
	RCPT_COUNT };
extern const char *const inbound_receipt_names[RCPT_COUNT];

/* Counters since start, for metrics. */
struct inbound_stats {
	long replies[INTENT_COUNT];    /* recorded replies, by intent */
	long unknown_sender;           /* texts from no patient's phone: dropped */
	long receipts[RCPT_COUNT];     /* recorded receipts by state; interim: taken, not kept */
	long receipts_ignored;         /* for no reminder of that channel, or superseded */
	long duplicates;               /* callbacks taken before */
	long refused[REFUSED_COUNT];
};
void inbound_stats(const struct inbound *in, struct inbound_stats *st);

#endif
