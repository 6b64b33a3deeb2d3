/* sms_fmt.h - the pure parts of the sms module: requests and replies of
 * Twilio's Messages API and of Kannel's sendsms interface.  Unit-tested on
 * their own (tests/unit/test_plugin_sms.c). */
#ifndef IOPD_PLUGIN_SMS_FMT_H
#define IOPD_PLUGIN_SMS_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/gw.h"

/* Twilio keeps a message queued for at most 10 h (DOMAIN R9). */
#define SMS_TWILIO_VALIDITY_MAX 36000L
/* GSM 03.40's longest relative validity period: 63 weeks, in minutes. */
#define SMS_KANNEL_VALIDITY_MAX 635040L

/* Is `from` a Twilio Messaging Service SID ("MG" and 32 hex digits)? */
int sms_twilio_is_service(const char *from);
/* Is `from` something Twilio sends from: an E.164 number, a Messaging
 * Service SID, or an alphanumeric sender ID (1-11 of A-Z a-z 0-9 space,
 * at least one letter)? */
int sms_twilio_from_ok(const char *from);
/* E.164: "+" then 2 to 15 digits, the first not 0 (SPEC 3.1). */
int sms_e164(const char *phone);

/* ValidityPeriod: whole seconds from now until `expires`, clamped to
 * 1..36000; 0 (leave it out) when expires is 0. */
long sms_twilio_validity(int64_t expires, double now);
/* Kannel's validity: whole minutes from now until `expires`, at least 1;
 * 0 (leave it out) when expires is 0. */
long sms_kannel_validity(int64_t expires, double now);

/* The form body of a Messages.json POST.  `status_callback` (or NULL): the
 * URL Twilio reports the message's status to (StatusCallback). */
void sms_twilio_form(struct gw_buf *b, const char *to, const char *from, const char *text,
    long validity, const char *status_callback);
/* A Twilio reply.  2xx: DELIVERED with the top-level "sid".  Otherwise the
 * top-level "code" decides where it has something to say (DOMAIN R10):
 *   21610          OPTED_OUT (the recipient texted STOP)
 *   21211, 21614   PERMANENT (not a valid, or not a mobile, number)
 *   20429          TRANSIENT, honouring Retry-After (rate limited)
 *   21611          TRANSIENT (the From number's queue is full: back off)
 * else the HTTP status (gw_http_status).  Reason "twilio <code>: HTTP <status>". */
void sms_twilio_reply(struct gw_result *r, long status, const char *body, size_t len,
    const char *retry_after, double now);

/* Can the UTF-8 text go out in the GSM 7-bit default alphabet (with its
 * extension table)?  Otherwise Kannel must send it as UCS-2 (coding=2). */
int sms_gsm7(const char *text);

struct sms_kannel_req {
	const char *user, *password;
	const char *from;              /* NULL: Kannel's global-sender */
	const char *to, *text;
	const char *smsc;              /* NULL: Kannel routes */
	const char *dlr_url;           /* NULL: no delivery reports; "{id}" -> id */
	const char *id;
	long validity;                 /* minutes; 0: none */
};
/* The sendsms URL: base, then the query (it holds the password: never log
 * it, and wipe the buffer). */
void sms_kannel_url(struct gw_buf *b, const char *base, const struct sms_kannel_req *q);
/* A Kannel reply (RIG 1): 2xx DELIVERED as "kannel:<id>" (Kannel names
 * no message id); 403 "Authorization failed" PERMANENT (gw_result_auth);
 * 403 "Not routable" TRANSIENT (its SMSC is down); other 4xx PERMANENT;
 * the rest TRANSIENT.  The reason carries Kannel's words, cleaned. */
void sms_kannel_reply(struct gw_result *r, long status, const char *body, size_t len,
    const char *id);

/* ------------------------------------------------------------------------
 * Callbacks (ABI 1.1): what a gateway posts back
 * --------------------------------------------------------------------- */

/* Room for what a callback's reading points to besides the request. */
struct sms_cb_buf {
	char dedup[GW_ID_MAX + 32];
	char reason[64];
	char from[24];                 /* a sender normalised to E.164 */
	char stage[24];
};

/* `base` with "?" or "&" and the reminder id as `id`: the URL a send asks
 * its status reports at (Twilio: StatusCallback; Kannel: dlr-url, with
 * "&type=%d" for Kannel to fill in). */
void sms_callback_url(struct gw_buf *b, const char *base, const char *id, int kannel);

/* Twilio's incoming-message webhook ("reply": From, Body, MessageSid) and
 * StatusCallback ("status": MessageSid, MessageStatus, ErrorCode, and our
 * `id` in the query).  Statuses delivered, undelivered, failed, read are
 * final (canceled counts as failed); the others are stages.  The reason
 * is "twilio CODE" for an ErrorCode of up to 6 digits, else none.  0, or
 * -1 when a required parameter is missing or bad. */
int sms_twilio_callback(const struct iopd_request *rq, struct iopd_callback *out,
    struct sms_cb_buf *buf);
/* Kannel's sms-service get-url ("reply": from, text) and dlr-url
 * ("status": id, type): type 1 delivered, 2 and 16 failed, others (4
 * queued at the SMSC, 8 accepted by it) stages.  0, or -1. */
int sms_kannel_callback(const struct iopd_request *rq, struct iopd_callback *out,
    struct sms_cb_buf *buf);

#endif
