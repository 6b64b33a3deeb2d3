/* webhook_fmt.c - the pure parts of the webhook module (see webhook_fmt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>

#include "webhook_fmt.h"

/* v (0 <= v < 10^width) as exactly `width` decimal digits. */
static void webhook_digits(char *out, int v, int width)
{
	while (width--) {
		out[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

void webhook_utc(char *out, size_t n, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		snprintf(out, n, "1970-01-01T00:00:00Z");
		return;
	}
	if (n >= 21 && tm.tm_year >= -1900 && tm.tm_year <= 9999 - 1900) {
		/* by hand: two per request, and snprintf was 2% of a delivery (bench W2) */
		webhook_digits(out, tm.tm_year + 1900, 4);
		out[4] = '-';
		webhook_digits(out + 5, tm.tm_mon + 1, 2);
		out[7] = '-';
		webhook_digits(out + 8, tm.tm_mday, 2);
		out[10] = 'T';
		webhook_digits(out + 11, tm.tm_hour, 2);
		out[13] = ':';
		webhook_digits(out + 14, tm.tm_min, 2);
		out[16] = ':';
		webhook_digits(out + 17, tm.tm_sec, 2);
		memcpy(out + 19, "Z", 2);
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

/* The keyed HMAC-SHA256 of a channel (RFC 2104): SHA-256 states that have
 * already taken the key XOR ipad and the key XOR opad, made once.  Each
 * signature copies them and hashes only its own bytes.  HMAC() fetched
 * the algorithm and keyed it on every call, and an EVP_MAC context copy
 * still cost three digest contexts: most of a signature (bench W2). */
#define WEBHOOK_BLOCK 64               /* SHA-256's block */

struct webhook_signer {
	EVP_MD_CTX *inner, *outer;     /* keyed: never finalised */
	EVP_MD_CTX *work;              /* each signature's copy */
};

void webhook_signer_free(struct webhook_signer *s)
{
	if (!s)
		return;
	EVP_MD_CTX_free(s->inner);
	EVP_MD_CTX_free(s->outer);
	EVP_MD_CTX_free(s->work);
	free(s);
}

/* A SHA-256 state that has hashed the key block XOR pad. */
static EVP_MD_CTX *webhook_keyed(const unsigned char *k, unsigned char pad)
{
	unsigned char block[WEBHOOK_BLOCK];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t i;

	for (i = 0; i < WEBHOOK_BLOCK; i++)
		block[i] = k[i] ^ pad;
	if (c && (!EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(c, block, sizeof block))) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	OPENSSL_cleanse(block, sizeof block);
	return c;
}

struct webhook_signer *webhook_signer_new(const char *key, size_t keylen)
{
	struct webhook_signer *s = calloc(1, sizeof *s);
	unsigned char k[WEBHOOK_BLOCK] = {0};
	unsigned int n = 0;

	if (!s)
		return NULL;
	/* a key longer than a block is hashed first; a shorter one is padded */
	if (keylen > WEBHOOK_BLOCK) {
		if (!EVP_Digest(key, keylen, k, &n, EVP_sha256(), NULL))
			goto fail;
	} else if (keylen) {
		memcpy(k, key, keylen);
	}
	s->inner = webhook_keyed(k, 0x36);
	s->outer = webhook_keyed(k, 0x5c);
	s->work = EVP_MD_CTX_new();
	OPENSSL_cleanse(k, sizeof k);
	if (s->inner && s->outer && s->work)
		return s;
fail:
	OPENSSL_cleanse(k, sizeof k);
	webhook_signer_free(s);
	return NULL;
}

/* HMAC(key, "<timestamp>.<body>") into md (at least EVP_MAX_MD_SIZE). */
static int webhook_mac(struct webhook_signer *s, const char *timestamp, const char *body,
    size_t bodylen, unsigned char *md, size_t *mdlen)
{
	unsigned char ih[EVP_MAX_MD_SIZE];
	unsigned int ihlen = 0, n = 0;

	if (!EVP_MD_CTX_copy_ex(s->work, s->inner) ||
	    !EVP_DigestUpdate(s->work, timestamp, strlen(timestamp)) ||
	    !EVP_DigestUpdate(s->work, ".", 1) || !EVP_DigestUpdate(s->work, body, bodylen) ||
	    !EVP_DigestFinal_ex(s->work, ih, &ihlen) ||
	    !EVP_MD_CTX_copy_ex(s->work, s->outer) || !EVP_DigestUpdate(s->work, ih, ihlen) ||
	    !EVP_DigestFinal_ex(s->work, md, &n))
		return -1;
	*mdlen = n;
	return 0;
}

int webhook_signer_sign(struct webhook_signer *s, const char *timestamp,
    const char *body, size_t bodylen, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t mdlen = 0, i;

	if (webhook_mac(s, timestamp, body, bodylen, md, &mdlen) < 0 || mdlen * 2 + 8 > outlen)
		return -1;
	memcpy(out, "sha256=", 7);
	for (i = 0; i < mdlen; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[7 + 2 * mdlen] = '\0';
	return 0;
}

int webhook_signature(const char *key, size_t keylen, const char *timestamp,
    const char *body, size_t bodylen, char *out, size_t outlen)
{
	struct webhook_signer *s = webhook_signer_new(key, keylen);
	int rc = s ? webhook_signer_sign(s, timestamp, body, bodylen, out, outlen) : -1;

	webhook_signer_free(s);
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
