/* sms_fmt.c - the pure parts of the sms module (see sms_fmt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sms_fmt.h"

static int sms_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

static int sms_ishex(int c)
{
	return sms_isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int sms_e164(const char *p)
{
	size_t n = 0;

	if (!p || *p++ != '+' || *p < '1' || *p > '9')
		return 0;
	for (; sms_isdigit(p[n]); n++)
		;
	return p[n] == '\0' && n >= 2 && n <= 15;
}

int sms_twilio_is_service(const char *from)
{
	size_t i;

	if (strncmp(from, "MG", 2) != 0 || strlen(from) != 34)
		return 0;
	for (i = 2; i < 34; i++)
		if (!sms_ishex(from[i]))
			return 0;
	return 1;
}

int sms_twilio_from_ok(const char *from)
{
	size_t n = 0;
	int letters = 0;

	if (sms_e164(from) || sms_twilio_is_service(from))
		return 1;
	for (; from[n]; n++) {
		char c = from[n];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			letters++;
		else if (!sms_isdigit(c) && c != ' ')
			return 0;
	}
	return n >= 1 && n <= 11 && letters > 0;
}

long sms_twilio_validity(int64_t expires, double now)
{
	double left;

	if (expires == 0)
		return 0;
	left = (double)expires - now;
	if (!(left >= 1.0))
		return 1;              /* also NaN: the shortest Twilio takes */
	if (left >= (double)SMS_TWILIO_VALIDITY_MAX)
		return SMS_TWILIO_VALIDITY_MAX;
	return (long)left;             /* rounded down: never past the expiry */
}

long sms_kannel_validity(int64_t expires, double now)
{
	double left;

	if (expires == 0)
		return 0;
	left = ((double)expires - now) / 60.0;
	if (!(left >= 1.0))
		return 1;
	if (left >= (double)SMS_KANNEL_VALIDITY_MAX)
		return SMS_KANNEL_VALIDITY_MAX;
	return (long)left;
}

/* ------------------------------------------------------------------------
 * Twilio
 * --------------------------------------------------------------------- */

void sms_twilio_form(struct gw_buf *b, const char *to, const char *from, const char *text,
    long validity, const char *status_callback)
{
	gw_buf_adds(b, "To=");
	gw_form_escape(b, to);
	gw_buf_adds(b, sms_twilio_is_service(from) ? "&MessagingServiceSid=" : "&From=");
	gw_form_escape(b, from);
	gw_buf_adds(b, "&Body=");
	gw_form_escape(b, text ? text : "");
	if (validity > 0)
		gw_buf_printf(b, "&ValidityPeriod=%ld", validity);
	if (status_callback) {
		gw_buf_adds(b, "&StatusCallback=");
		gw_form_escape(b, status_callback);
	}
}

/* Twilio's "code": a number (a string of digits is taken too). */
static long sms_twilio_code(const char *body, size_t len)
{
	char buf[32], *end;
	enum gw_json_type t = gw_json_member(body, len, "code", buf, sizeof buf);
	long code;

	if (t != GW_JSON_NUMBER && t != GW_JSON_STRING)
		return 0;
	code = strtol(buf, &end, 10);
	return *end == '\0' && end != buf && code > 0 && code < 1000000 ? code : 0;
}

void sms_twilio_reply(struct gw_result *r, long status, const char *body, size_t len,
    const char *retry_after, double now)
{
	char sid[GW_ID_MAX];
	long code;

	gw_http_status(r, status, retry_after, now);
	if (r->result == IOPD_DELIVERED) {
		/* Twilio answers a created message with its JSON resource; a
		 * 2xx without one came from something else (a proxy's or portal's
		 * page): nothing says the message exists, so it is not "sent" */
		if (gw_json_member(body, len, "sid", sid, sizeof sid) != GW_JSON_STRING ||
		    gw_token_clean(r->gateway_id, sizeof r->gateway_id, sid) != 0)
			gw_result_misdirected(r, "HTTP %ld but the reply is not Twilio's JSON (no \"sid\"): "
			    "check the channel's url", status);
		return;
	}
	if (!(code = sms_twilio_code(body, len)))
		return;                /* "HTTP <status>" says it all */
	gw_result_set(r, r->result, "twilio %ld: HTTP %ld", code, status);
	switch (code) {
	case 21610:
		r->result = IOPD_OPTED_OUT;
		break;
	case 21211:
	case 21614:
		r->result = IOPD_PERMANENT;
		break;
	case 20429:
		r->result = IOPD_TRANSIENT;
		r->retry_after = gw_retry_after(retry_after, now);
		break;
	case 21611:
		r->result = IOPD_TRANSIENT;
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------------
 * Kannel
 * --------------------------------------------------------------------- */

/* The characters of GSM 03.38 outside ASCII, basic table and extension
 * table (which adds only the euro sign outside ASCII), sorted. */
static const unsigned sms_gsm_extra[] = {
	0x00a1, 0x00a3, 0x00a4, 0x00a5, 0x00a7, 0x00bf, 0x00c4, 0x00c5, 0x00c6, 0x00c7,
	0x00c9, 0x00d1, 0x00d6, 0x00d8, 0x00dc, 0x00df, 0x00e0, 0x00e4, 0x00e5, 0x00e6,
	0x00e8, 0x00e9, 0x00ec, 0x00f1, 0x00f2, 0x00f6, 0x00f8, 0x00f9, 0x00fc, 0x0393,
	0x0394, 0x0398, 0x039b, 0x039e, 0x03a0, 0x03a3, 0x03a6, 0x03a8, 0x03a9, 0x20ac
};

static int sms_gsm_char(unsigned cp)
{
	size_t lo = 0, hi = sizeof sms_gsm_extra / sizeof sms_gsm_extra[0];

	if (cp < 0x80)                 /* all of printable ASCII but '`'; LF, CR, FF */
		return (cp >= 0x20 && cp < 0x7f && cp != '`') || cp == '\n' || cp == '\r' || cp == '\f';
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (sms_gsm_extra[mid] == cp)
			return 1;
		if (sms_gsm_extra[mid] < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The next code point of a UTF-8 string, or -1 if it is not valid UTF-8. */
static long sms_utf8_next(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	unsigned long cp;
	int n, i;

	if (p[0] < 0x80) {
		*pp = p + 1;
		return p[0];
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 1, cp = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 2, cp = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 3, cp = p[0] & 0x07u;
	else
		return -1;
	for (i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;             /* overlong, out of range, or a surrogate */
	*pp = p + n + 1;
	return (long)cp;
}

int sms_gsm7(const char *text)
{
	const unsigned char *p = (const unsigned char *)(text ? text : "");

	while (*p) {
		long cp = sms_utf8_next(&p);

		if (cp < 0 || !sms_gsm_char((unsigned)cp))
			return 0;
	}
	return 1;
}

static void sms_param(struct gw_buf *b, const char *name, const char *value)
{
	gw_buf_adds(b, name);
	gw_buf_addc(b, '=');
	gw_form_escape(b, value);
	gw_buf_addc(b, '&');
}

/* The DLR URL with "{id}" replaced by the reminder id. */
static void sms_dlr_url(struct gw_buf *b, const char *tmpl, const char *id)
{
	const char *p;

	while ((p = strstr(tmpl, "{id}")) != NULL) {
		gw_buf_add(b, tmpl, (size_t)(p - tmpl));
		gw_buf_adds(b, id);
		tmpl = p + 4;
	}
	gw_buf_adds(b, tmpl);
}

void sms_kannel_url(struct gw_buf *b, const char *base, const struct sms_kannel_req *q)
{
	size_t n = strlen(base);

	gw_buf_adds(b, base);
	if (!strchr(base, '?'))
		gw_buf_addc(b, '?');
	else if (n && base[n - 1] != '?' && base[n - 1] != '&')
		gw_buf_addc(b, '&');
	sms_param(b, "username", q->user);
	sms_param(b, "password", q->password);
	if (q->from)
		sms_param(b, "from", q->from);
	sms_param(b, "to", q->to);
	sms_param(b, "text", q->text ? q->text : "");
	/* Kannel reads `text` in `charset` and converts it to the coding:
	 * GSM 7-bit by default, which turns what it cannot hold into '?';
	 * UCS-2 (coding=2) for everything else. */
	if (!sms_gsm7(q->text))
		sms_param(b, "coding", "2");
	if (q->validity > 0)
		gw_buf_printf(b, "validity=%ld&", q->validity);
	if (q->smsc)
		sms_param(b, "smsc", q->smsc);
	if (q->dlr_url) {
		struct gw_buf dlr = {0};

		sms_dlr_url(&dlr, q->dlr_url, q->id ? q->id : "");
		gw_buf_adds(b, "dlr-mask=31&");    /* every report Kannel has (DOMAIN R11) */
		if (gw_buf_str(&dlr))
			sms_param(b, "dlr-url", dlr.s);
		else
			b->oom = 1;
		gw_buf_free(&dlr);
	}
	gw_buf_adds(b, "charset=UTF-8");
}

void sms_kannel_reply(struct gw_result *r, long status, const char *body, size_t len,
    const char *id)
{
	char said[96];

	gw_reason_clean(said, sizeof said, body ? body : "", body ? len : 0);
	r->retry_after = -1.0;
	if (status >= 200 && status <= 299) {
		r->result = IOPD_DELIVERED;
		snprintf(r->gateway_id, sizeof r->gateway_id, "kannel:%s", id);
		return;
	}
	gw_result_set(r, IOPD_TRANSIENT, "kannel HTTP %ld%s%s", status, said[0] ? ": " : "", said);
	if (status >= 300 && status <= 399) {
		gw_result_misdirected(r, "kannel HTTP %ld: a redirect (never followed): check the "
		    "channel's url", status);
	} else if (status == 403 && strncmp(said, "Authorization failed", 20) == 0) {
		gw_result_auth(r, "kannel HTTP %ld: %s", status, said);
	} else if (status == 403 && strstr(said, "Not routable")) {
		/* "Not routable. Do not try again." is what smsbox answers while
		 * its SMSC is stopped or disconnected: an outage of the gateway,
		 * not a verdict on the number.  Retried until the reminder
		 * expires, like any other outage. */
	} else if (status >= 400 && status <= 499) {
		r->result = IOPD_PERMANENT;
	}
}

/* ------------------------------------------------------------------------
 * Callbacks
 * --------------------------------------------------------------------- */

void sms_callback_url(struct gw_buf *b, const char *base, const char *id, int kannel)
{
	gw_buf_adds(b, base);
	gw_buf_addc(b, strchr(base, '?') ? '&' : '?');
	gw_buf_adds(b, "id=");
	gw_buf_adds(b, id);
	if (kannel)
		gw_buf_adds(b, "&type=%d");
}

/* The first parameter called `name`, or NULL. */
static const char *sms_param_get(const struct iopd_request *rq, const char *name)
{
	size_t i;

	for (i = 0; i < rq->nparams; i++)
		if (rq->params[i].name && strcmp(rq->params[i].name, name) == 0)
			return rq->params[i].value;
	return NULL;
}

static int sms_id_ok(const char *id)
{
	size_t n = 0;

	for (; id && ((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')); n++)
		;
	return id && n == 16 && id[n] == '\0';
}

/* A gateway's token (a MessageSid, a status word) fit for a key and a log:
 * 1..GW_ID_MAX-1 bytes of 0x21..0x7e, nothing cleaned away. */
static int sms_token_ok(const char *t, size_t max)
{
	size_t n = 0;

	for (; t && t[n] > 0x20 && t[n] < 0x7f; n++)
		;
	return t && n > 0 && n < max && t[n] == '\0';
}

static const struct {
	const char *status;
	enum iopd_receipt receipt;
} sms_twilio_statuses[] = {
	{"delivered", IOPD_RECEIPT_DELIVERED}, {"undelivered", IOPD_RECEIPT_UNDELIVERED},
	{"failed", IOPD_RECEIPT_FAILED}, {"canceled", IOPD_RECEIPT_FAILED},
	{"read", IOPD_RECEIPT_READ},
};

static enum iopd_receipt sms_twilio_receipt(const char *status)
{
	size_t i;

	for (i = 0; i < sizeof sms_twilio_statuses / sizeof sms_twilio_statuses[0]; i++)
		if (strcmp(sms_twilio_statuses[i].status, status) == 0)
			return sms_twilio_statuses[i].receipt;
	return IOPD_RECEIPT_INTERIM;   /* queued, sending, sent, accepted, ... */
}

static int sms_twilio_status(const struct iopd_request *rq, struct iopd_callback *out,
    struct sms_cb_buf *buf)
{
	const char *sid = sms_param_get(rq, "MessageSid");
	const char *status = sms_param_get(rq, "MessageStatus");
	const char *code = sms_param_get(rq, "ErrorCode");
	const char *id = sms_param_get(rq, "id");

	if (!sms_token_ok(sid, GW_ID_MAX) || !sms_token_ok(status, sizeof buf->stage))
		return -1;
	if (id && !sms_id_ok(id))
		return -1;
	out->type = IOPD_CALLBACK_RECEIPT;
	out->reminder = id;
	out->gateway_id = sid;
	snprintf(buf->stage, sizeof buf->stage, "%s", status);
	out->stage = buf->stage;
	out->receipt = (int)sms_twilio_receipt(status);
	snprintf(buf->dedup, sizeof buf->dedup, "%s:%s", sid, status);
	out->dedup = buf->dedup;
	/* Twilio's error codes have five digits; a longer run of digits could
	 * be a phone number, which never goes to the ledger or the log. */
	if (code && *code && strspn(code, "0123456789") == strlen(code) && strlen(code) <= 6) {
		snprintf(buf->reason, sizeof buf->reason, "twilio %s", code);
		out->reason = buf->reason;
	}
	return 0;
}

int sms_twilio_callback(const struct iopd_request *rq, struct iopd_callback *out,
    struct sms_cb_buf *buf)
{
	const char *sid, *from, *body;

	if (strcmp(rq->what, "status") == 0)
		return sms_twilio_status(rq, out, buf);
	sid = sms_param_get(rq, "MessageSid");
	from = sms_param_get(rq, "From");
	body = sms_param_get(rq, "Body");
	if (!sms_token_ok(sid, GW_ID_MAX) || !from || !*from)
		return -1;
	out->type = IOPD_CALLBACK_REPLY;
	out->from = from;
	out->text = body ? body : "";
	snprintf(buf->dedup, sizeof buf->dedup, "%s", sid);
	out->dedup = buf->dedup;
	return 0;
}

/* Kannel's %p: "+15551230001", or the digits alone when the SMSC drops
 * the '+': the sender as E.164. */
static const char *sms_kannel_from(const char *p, struct sms_cb_buf *buf)
{
	if (!p || !*p)
		return NULL;
	if (*p != '+' && strspn(p, "0123456789") == strlen(p) && strlen(p) < sizeof buf->from - 1) {
		snprintf(buf->from, sizeof buf->from, "+%s", p);
		return buf->from;
	}
	return p;
}

int sms_kannel_callback(const struct iopd_request *rq, struct iopd_callback *out,
    struct sms_cb_buf *buf)
{
	const char *id, *type;
	char *end;
	long t;

	if (strcmp(rq->what, "reply") == 0) {
		const char *text = sms_param_get(rq, "text");

		if (!(out->from = sms_kannel_from(sms_param_get(rq, "from"), buf)))
			return -1;
		out->type = IOPD_CALLBACK_REPLY;
		out->text = text ? text : "";
		return 0;
	}
	id = sms_param_get(rq, "id");
	type = sms_param_get(rq, "type");
	if (!sms_id_ok(id) || !type || !*type)
		return -1;
	t = strtol(type, &end, 10);
	if (*end || t <= 0 || t > 1024)
		return -1;
	out->type = IOPD_CALLBACK_RECEIPT;
	out->reminder = id;
	out->receipt = t == 1 ? IOPD_RECEIPT_DELIVERED : t == 2 || t == 16 ? IOPD_RECEIPT_FAILED :
	    IOPD_RECEIPT_INTERIM;
	snprintf(buf->stage, sizeof buf->stage, "%ld", t);
	out->stage = buf->stage;
	snprintf(buf->dedup, sizeof buf->dedup, "%s:%ld", id, t);
	out->dedup = buf->dedup;
	if (out->receipt == IOPD_RECEIPT_FAILED) {
		snprintf(buf->reason, sizeof buf->reason, "kannel type %ld", t);
		out->reason = buf->reason;
	}
	return 0;
}
