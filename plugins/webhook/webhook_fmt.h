/* webhook_fmt.h - the pure parts of the webhook module: the request body,
 * its signature, and the reading of the reply.  Unit-tested on their own
 * (tests/unit/test_plugin_webhook.c). */
#ifndef IOPD_PLUGIN_WEBHOOK_FMT_H
#define IOPD_PLUGIN_WEBHOOK_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/gw.h"

/* The body to POST for m: a "notice" (ABI 1.1: a JSON document the host
 * made for the staff channel, SPEC 8) verbatim, anything else as
 * webhook_body. */
void webhook_request_body(struct gw_buf *b, const struct iopd_message *m);

/* "sha256=" and 64 hex digits, and the NUL. */
#define WEBHOOK_SIG_MAX 72

/* An instant as UTC with Z: "2026-12-01T00:00:00Z" (21 bytes with NUL). */
void webhook_utc(char *out, size_t n, int64_t t);

/* The JSON body (SPEC 4.2): id, kind, patient, event, due, channel, and
 * status "due"; no contact details, no text. */
void webhook_body(struct gw_buf *b, const struct iopd_message *m);

/* "sha256=<lowercase hex HMAC-SHA256(key, "<timestamp>.<body>")>" into out.
 * Returns 0, or -1 (out of memory, or out too small).  webhook_signature
 * keys a signer for one signature; a channel keeps one signer
 * (webhook_signer_new, once) and signs each request with it. */
struct webhook_signer;
struct webhook_signer *webhook_signer_new(const char *key, size_t keylen);
void webhook_signer_free(struct webhook_signer *s);
int webhook_signer_sign(struct webhook_signer *s, const char *timestamp,
    const char *body, size_t bodylen, char *out, size_t outlen);
int webhook_signature(const char *key, size_t keylen, const char *timestamp,
    const char *body, size_t bodylen, char *out, size_t outlen);

/* Reads a reply: gw_http_status, and for a 2xx the gateway id is the
 * top-level "id" of a JSON body (string or number), else "http-<status>". */
void webhook_reply(struct gw_result *r, long status, const char *body, size_t len,
    const char *retry_after, double now);

#endif
