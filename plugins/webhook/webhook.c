/* webhook.c - the "webhook" delivery module: one signed JSON POST per reminder.
 *
 *     { name = "ehr"; module = "webhook";
 *       url = "https://ehr.example.org/hooks/iopd";
 *       token_file = "/etc/iopd/secrets/ehr";   # optional: the HMAC-SHA256 key
 *       ca_file = "/etc/iopd/ehr-ca.pem";       # optional: trust this CA instead
 *     }
 *
 * Each reminder that falls due becomes
 *
 *     POST url
 *     Content-Type: application/json
 *     Idempotency-Key: <id>
 *     X-Iopd-Timestamp: <unix seconds>
 *     X-Iopd-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>   (with a key)
 *
 *     {"id":"..","kind":"..","patient":"..","event":"..Z","due":"..Z","channel":"..","status":"due"}
 *
 * A staff notice (ABI 1.1, message kind "notice": iopd tells the staff
 * channel of a patient's reply or of a reminder that failed for good,
 * SPEC 8) is posted the same way, signed alike, its body the JSON iopd
 * made, verbatim.
 *
 * The body carries no contact details and no text: the receiver (an EHR,
 * a paging system) knows its patients.  A receiver verifies the signature
 * over the exact bytes received, and should refuse old timestamps to
 * stop replays.  The id is stable across retries: receivers deduplicate
 * on Idempotency-Key.
 *
 * Outcomes: 2xx delivered (gateway id: a JSON "id" in the reply, else
 * "http-<status>"); 408, 429, 5xx and network errors transient, honouring
 * Retry-After; other 4xx permanent, 401 included (refused credentials,
 * also logged once as an error: see gw_result_auth). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iopd/plugin.h"
#include "../common/gw.h"
#include "webhook_fmt.h"

#define WEBHOOK_VERSION "1.1"

struct webhook {
	const struct iopd_host *h;
	char *url;
	char *key;                     /* the HMAC key (secret_load), or NULL: unsigned */
	struct webhook_signer *signer; /* keyed with key, or NULL: unsigned */
	struct gw_net net;
	struct gw_xfers xfers;
};

static const char *const webhook_keys[] = {"url", "ca_file", NULL};
static const char *const webhook_schemes[] = {"https", "http", NULL};

static void webhook_free(struct webhook *wh)
{
	if (!wh)
		return;
	webhook_signer_free(wh->signer);
	wh->h->secret_free(wh->key);
	gw_net_free(&wh->net);
	free(wh->url);
	free(wh);
}

static void webhook_classify(void *owner, struct gw_xfer *x, CURLcode rc, struct gw_result *r);

static void *webhook_configure(const struct iopd_host *h, const config_setting_t *s,
    const struct iopd_channel_info *info)
{
	struct gw_conf c = {h, s, 0};
	struct webhook *wh = calloc(1, sizeof *wh);
	const char *url;

	if (!wh) {
		h->conf_error(h, s, "out of memory");
		return NULL;
	}
	wh->h = h;
	if (h->conf_check_keys(h, s, webhook_keys) > 0)
		c.errors++;
	if ((url = gw_conf_string(&c, "url", 1)) != NULL &&
	    gw_conf_url(&c, "url", url, webhook_schemes, "http") >= 0 && !(wh->url = strdup(url)))
		gw_conf_error(&c, s, "out of memory");
	gw_conf_net(&c, info, &wh->net, "http,https", "iopd-webhook/" WEBHOOK_VERSION);
	/* Optional: NULL and silence without token_file/token_credential;
	 * NULL after an error report when one is set but unusable. */
	wh->key = h->secret_load(h, s, 0);
	if (!wh->key && (config_setting_get_member(s, "token_file") ||
	    config_setting_get_member(s, "token_credential")))
		c.errors++;
	if (wh->key && !(wh->signer = webhook_signer_new(wh->key, strlen(wh->key))))
		gw_conf_error(&c, s, "cannot set up HMAC-SHA256 (out of memory?)");
	if (c.errors) {
		webhook_free(wh);
		return NULL;
	}
	wh->xfers.h = h;
	wh->xfers.owner = wh;
	wh->xfers.classify = webhook_classify;
	wh->xfers.module = "webhook";
	return wh;
}

static int webhook_start(void *inst)
{
	struct webhook *wh = inst;

	if (!wh->key)
		wh->h->log(wh->h, IOPD_LOG_NOTICE, "webhook: no token_file: requests are not signed");
	return 0;
}

static void webhook_classify(void *owner, struct gw_xfer *x, CURLcode rc, struct gw_result *r)
{
	struct webhook *wh = owner;
	long status = 0;

	if (rc != CURLE_OK) {
		gw_result_curl(r, rc, x->errbuf);
		return;
	}
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	webhook_reply(r, status, x->reply.body.s, x->reply.body.len, x->reply.retry_after,
	    wh->h->now(wh->h));
}

/* Headers of one request; -1 when out of memory. */
static int webhook_headers(struct webhook *wh, struct gw_xfer *x, const char *id)
{
	char ts[32], sig[WEBHOOK_SIG_MAX];

	snprintf(ts, sizeof ts, "%lld", (long long)wh->h->now(wh->h));   /* > 0: truncation is floor */
	if (gw_xfer_header(x, "Content-Type: application/json") < 0 ||
	    gw_xfer_header(x, "Idempotency-Key: %s", id) < 0 ||
	    gw_xfer_header(x, "X-Iopd-Timestamp: %s", ts) < 0 ||
	    gw_xfer_header(x, "Expect:") < 0)          /* no 100-continue round trip */
		return -1;
	if (!wh->signer)
		return 0;
	if (webhook_signer_sign(wh->signer, ts, x->req.s, x->req.len, sig, sizeof sig) < 0)
		return -1;
	return gw_xfer_header(x, "X-Iopd-Signature: %s", sig);
}

static void webhook_send(void *inst, const struct iopd_message *m, iopd_done_fn done, void *token)
{
	struct webhook *wh = inst;
	struct gw_xfer *x = gw_xfer_new(&wh->xfers, &wh->net, wh->url, 1, m, done, token);

	if (!x)
		return;                /* done has been called */
	webhook_request_body(&x->req, m);
	if (!gw_buf_str(&x->req) || webhook_headers(wh, x, x->id) < 0) {
		gw_xfer_fail(x, IOPD_TRANSIENT, "webhook: cannot build the request (out of memory?)");
		return;
	}
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->req.s);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->req.len);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	gw_xfer_submit(x);
}

static void webhook_cancel(void *inst, void *token)
{
	struct webhook *wh = inst;

	gw_xfers_cancel(&wh->xfers, token);
}

static void webhook_stop(void *inst)
{
	struct webhook *wh = inst;

	if (wh->xfers.h)
		gw_xfers_drop_all(&wh->xfers);
	webhook_free(wh);
}

static const struct iopd_plugin_ops webhook_ops = {
	webhook_configure, webhook_start, webhook_send, webhook_cancel, webhook_stop
};

IOPD_PLUGIN_DEFINE("webhook", WEBHOOK_VERSION, IOPD_CONTACT_NONE, webhook_ops);
