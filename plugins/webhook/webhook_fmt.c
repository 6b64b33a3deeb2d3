/* webhook_fmt.c - the pure parts of the webhook module (see webhook_fmt.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "webhook_fmt.h"

void webhook_utc(char *out, size_t n, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		snprintf(out, n, "1970-01-01T00:00:00Z");
		return;
	}
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void webhook_member(struct gw_buf *b, const char *name, const char *value, int first)
{
	if (!first)
		gw_buf_addc(b, ',');
	gw_json_string(b, name);
	gw_buf_addc(b, ':');
	gw_json_string(b, value ? value : "");
}

void webhook_body(struct gw_buf *b, const struct iopd_message *m)
{
	char event[32], due[32];

	webhook_utc(event, sizeof event, m->event);
	webhook_utc(due, sizeof due, m->due);
	gw_buf_addc(b, '{');
	webhook_member(b, "id", m->id, 1);
	webhook_member(b, "kind", m->kind, 0);
	webhook_member(b, "patient", m->patient, 0);
	webhook_member(b, "event", event, 0);
	webhook_member(b, "due", due, 0);
	webhook_member(b, "channel", m->channel, 0);
	webhook_member(b, "status", "due", 0);
	gw_buf_addc(b, '}');
}

void webhook_request_body(struct gw_buf *b, const struct iopd_message *m)
{
	if (m->kind && strcmp(m->kind, "notice") == 0 && m->body)
		gw_buf_adds(b, m->body);
	else
		webhook_body(b, m);
}

int webhook_signature(const char *key, size_t keylen, const char *timestamp,
    const char *body, size_t bodylen, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	struct gw_buf signed_text = {0};
	int rc = -1;

	gw_buf_adds(&signed_text, timestamp);
	gw_buf_addc(&signed_text, '.');
	gw_buf_add(&signed_text, body, bodylen);
	if (!gw_buf_str(&signed_text) || keylen > (size_t)0x7fffffff)
		goto out;
	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)signed_text.s,
	    signed_text.len, md, &mdlen) || mdlen * 2 + 8 > outlen)
		goto out;
	memcpy(out, "sha256=", 7);
	for (i = 0; i < mdlen; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[7 + 2 * mdlen] = '\0';
	rc = 0;
out:
	gw_buf_free(&signed_text);
	return rc;
}

void webhook_reply(struct gw_result *r, long status, const char *body, size_t len,
    const char *retry_after, double now)
{
	char id[GW_ID_MAX];
	enum gw_json_type t;

	gw_http_status(r, status, retry_after, now);
	if (r->result != IOPD_DELIVERED)
		return;
	t = gw_json_member(body, len, "id", id, sizeof id);
	if ((t == GW_JSON_STRING || t == GW_JSON_NUMBER) &&
	    gw_token_clean(r->gateway_id, sizeof r->gateway_id, id) == 0)
		return;
	snprintf(r->gateway_id, sizeof r->gateway_id, "http-%ld", status);
}
