/* sms.c - the "sms" delivery module: Twilio's Messages API or Kannel's sendsms.
 *
 *     { name = "sms"; module = "sms"; api = "twilio";
 *       url = "https://api.twilio.com/2010-04-01/Accounts/AC0123/Messages.json";  # default from account
 *       account = "AC0123";                 # the basic-auth user: account SID (or API key SID)
 *       token_file = "/etc/iopd/secrets/sms";   # auth token (or API key secret)
 *       from = "+15550001111"; }            # E.164, "MG..." service SID, or alphanumeric ID
 *
 *     { name = "sms"; module = "sms"; api = "kannel";
 *       url = "http://127.0.0.1:13013/cgi-bin/sendsms";
 *       user = "iopd"; token_file = "/etc/iopd/secrets/kannel";   # sendsms-user password
 *       from = "12345";                     # optional: Kannel's global-sender otherwise
 *       smsc = "FAKE";                      # optional: force an SMSC
 *       dlr_url = "http://127.0.0.1:8080/dlr?id={id}&type=%d"; }  # optional
 *
 * Both take `ca_file` (trust this CA for an https:// url) and the common
 * keys (`replies`, `fallback`, `callback_key_file` are the host's).  The patient's phone is never logged beyond its last two digits,
 * nor the text at all; the Kannel URL is never logged (its query holds
 * the password).
 *
 * Twilio: POST To, From, Body, ValidityPeriod (until the reminder expires,
 * at most Twilio's 10 h) with HTTP basic auth, and the reminder id as
 * I-Twilio-Idempotency-Token, so a retry after a lost reply is not sent
 * twice.  Kannel: GET sendsms with the query (Kannel wants POSTed
 * parameters in X-Kannel headers; a GET is simpler and as safe on
 * loopback), validity in minutes, UCS-2 when the text is not GSM 7-bit.
 * The outcome mappings are in sms_fmt.h.
 *
 * Two-way (ABI 1.1), when iopd has an `inbound` block: every Twilio send
 * carries StatusCallback (the host's callback URL with our id), every
 * Kannel send dlr-mask and a dlr-url with our id (and the channel's key,
 * which the host put in the URL).  The callbacks themselves are read by
 * sms_twilio_callback and sms_kannel_callback; the host authenticates
 * them first (Twilio's signature with our token, Kannel's key) and does
 * everything else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iopd/plugin.h"
#include "../common/gw.h"
#include "sms_fmt.h"

#define SMS_VERSION "1.1"
#define SMS_TWILIO_URL "https://api.twilio.com/2010-04-01/Accounts/%s/Messages.json"

enum sms_api { SMS_TWILIO, SMS_KANNEL };

struct sms {
	const struct iopd_host *h;
	enum sms_api api;
	char *url;
	char *from;                    /* NULL (Kannel only): the gateway's default */
	char *user;                    /* Twilio account / Kannel user */
	char *secret;                  /* Twilio auth token / Kannel password */
	char *smsc, *dlr_url;          /* Kannel only; NULL if unset */
	struct gw_net net;
	struct gw_xfers xfers;
	struct sms_cb_buf cb;          /* what the last callback's reading points to */
};

static const char *const sms_keys[] = {
	"api", "url", "from", "account", "user", "smsc", "dlr_url", "ca_file", NULL
};
static const char *const sms_schemes[] = {"https", "http", NULL};

static void sms_free(struct sms *sm)
{
	sm->h->secret_free(sm->secret);
	gw_net_free(&sm->net);
	free(sm->url);
	free(sm->from);
	free(sm->user);
	free(sm->smsc);
	free(sm->dlr_url);
	free(sm);
}

/* ------------------------------------------------------------------------
 * configure
 * --------------------------------------------------------------------- */

/* strdup into *dst, counting an error when out of memory. */
static void sms_keep(struct gw_conf *c, char **dst, const char *v)
{
	if (v && !(*dst = strdup(v)))
		gw_conf_error(c, c->group, "out of memory");
}

static int sms_conf_api(struct gw_conf *c, enum sms_api *api)
{
	const char *v = gw_conf_string(c, "api", 1);

	if (!v)
		return -1;
	if (strcmp(v, "twilio") == 0)
		*api = SMS_TWILIO;
	else if (strcmp(v, "kannel") == 0)
		*api = SMS_KANNEL;
	else {
		gw_conf_error(c, config_setting_get_member(c->group, "api"),
		    "api must be \"twilio\" or \"kannel\"");
		return -1;
	}
	return 0;
}

/* A key the other api takes is a mistake worth naming. */
static void sms_conf_refuse(struct gw_conf *c, const char *key, const char *api)
{
	const config_setting_t *s = config_setting_get_member(c->group, key);

	if (s)
		gw_conf_error(c, s, "%s is not used with api = \"%s\"", key, api);
}

static void sms_conf_twilio(struct gw_conf *c, struct sms *sm)
{
	const char *account = gw_conf_string(c, "account", 1);
	const char *from = gw_conf_string(c, "from", 1);
	const char *url = gw_conf_string(c, "url", 0);

	sms_conf_refuse(c, "user", "twilio");
	sms_conf_refuse(c, "smsc", "twilio");
	sms_conf_refuse(c, "dlr_url", "twilio");
	if (account && strpbrk(account, ": /?#")) {
		gw_conf_error(c, config_setting_get_member(c->group, "account"),
		    "account must be a Twilio SID (no ':', '/', spaces)");
		account = NULL;
	}
	if (from && !sms_twilio_from_ok(from)) {
		gw_conf_error(c, config_setting_get_member(c->group, "from"),
		    "from must be an E.164 number (+15550001111), a Messaging Service SID (MG...) "
		    "or an alphanumeric sender ID of up to 11 characters");
		from = NULL;
	}
	sms_keep(c, &sm->user, account);
	sms_keep(c, &sm->from, from);
	if (url) {
		if (gw_conf_url(c, "url", url, sms_schemes, "http") >= 0)
			sms_keep(c, &sm->url, url);
	} else if (account) {
		size_t n = strlen(SMS_TWILIO_URL) + strlen(account);

		if (!(sm->url = malloc(n)))
			gw_conf_error(c, c->group, "out of memory");
		else
			snprintf(sm->url, n, SMS_TWILIO_URL, account);
	}
}

static void sms_conf_kannel(struct gw_conf *c, struct sms *sm)
{
	const char *url = gw_conf_string(c, "url", 1);
	const char *user = gw_conf_string(c, "user", 1);
	const char *dlr = gw_conf_string(c, "dlr_url", 0);

	sms_conf_refuse(c, "account", "kannel");
	if (url && gw_conf_url(c, "url", url, sms_schemes, "http") >= 0) {
		if (strstr(url, "password=") || strstr(url, "username="))
			gw_conf_error(c, config_setting_get_member(c->group, "url"),
			    "url must not carry username or password: set user, and the password "
			    "in token_file or token_credential");
		else
			sms_keep(c, &sm->url, url);
	}
	if (dlr && gw_conf_url(c, "dlr_url", dlr, sms_schemes, NULL) < 0)
		dlr = NULL;
	sms_keep(c, &sm->user, user);
	sms_keep(c, &sm->from, gw_conf_string(c, "from", 0));
	sms_keep(c, &sm->smsc, gw_conf_string(c, "smsc", 0));
	sms_keep(c, &sm->dlr_url, dlr);
}

static void sms_classify(void *owner, struct gw_xfer *x, CURLcode rc, struct gw_result *r);

static void *sms_configure(const struct iopd_host *h, const config_setting_t *s,
    const struct iopd_channel_info *info)
{
	struct gw_conf c = {h, s, 0};
	struct sms *sm = calloc(1, sizeof *sm);

	if (!sm) {
		h->conf_error(h, s, "out of memory");
		return NULL;
	}
	sm->h = h;
	if (h->conf_check_keys(h, s, sms_keys) > 0)
		c.errors++;
	if (sms_conf_api(&c, &sm->api) == 0) {
		if (sm->api == SMS_TWILIO)
			sms_conf_twilio(&c, sm);
		else
			sms_conf_kannel(&c, sm);
	}
	gw_conf_net(&c, info, &sm->net, "http,https", "iopd-sms/" SMS_VERSION);
	/* Twilio's auth token or Kannel's password; reported by the host. */
	if (!(sm->secret = h->secret_load(h, s, 1)))
		c.errors++;
	if (c.errors) {
		sms_free(sm);
		return NULL;
	}
	sm->xfers.h = h;
	sm->xfers.owner = sm;
	sm->xfers.classify = sms_classify;
	sm->xfers.module = sm->api == SMS_TWILIO ? "sms/twilio" : "sms/kannel";
	return sm;
}

/* The host's callback URL for `what`, or NULL (no `inbound`, or a host
 * older than ABI 1.1). */
static const char *sms_callback_base(const struct sms *sm, const char *what)
{
	const struct iopd_host *h = sm->h;

	if (!IOPD_ABI_HAS(h->size, struct iopd_host, callback_url) || !h->callback_url)
		return NULL;
	return h->callback_url(h, what);
}

static int sms_start(void *inst)
{
	struct sms *sm = inst;

	if (sm->api == SMS_KANNEL && sm->dlr_url && sms_callback_base(sm, "status")) {
		sm->h->log(sm->h, IOPD_LOG_WARNING, "sms/kannel: dlr_url is ignored: iopd's inbound "
		    "listener takes this channel's delivery reports");
		free(sm->dlr_url);
		sm->dlr_url = NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * send
 * --------------------------------------------------------------------- */

static void sms_classify(void *owner, struct gw_xfer *x, CURLcode rc, struct gw_result *r)
{
	struct sms *sm = owner;
	long status = 0;

	if (rc != CURLE_OK) {
		gw_result_curl(r, rc, x->errbuf);
		return;
	}
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (sm->api == SMS_TWILIO)
		sms_twilio_reply(r, status, x->reply.body.s, x->reply.body.len, x->reply.retry_after,
		    sm->h->now(sm->h));
	else
		sms_kannel_reply(r, status, x->reply.body.s, x->reply.body.len, x->id);
}

static void sms_send_twilio(struct sms *sm, const struct iopd_message *m, iopd_done_fn done,
    void *token)
{
	struct gw_xfer *x = gw_xfer_new(&sm->xfers, &sm->net, sm->url, 1, m, done, token);
	const char *cb = sms_callback_base(sm, "status");
	struct gw_buf status = {0};
	long validity;
	int oom;

	if (!x)
		return;                /* done has been called */
	validity = sms_twilio_validity(m->expires, sm->h->now(sm->h));
	if (cb)
		sms_callback_url(&status, cb, m->id, 0);
	oom = cb && !gw_buf_str(&status);
	sms_twilio_form(&x->req, m->to, sm->from, m->text, validity, cb ? gw_buf_str(&status) : NULL);
	gw_buf_free(&status);
	if (!gw_buf_str(&x->req) || oom ||
	    gw_xfer_header(x, "Accept: application/json") < 0 ||
	    gw_xfer_header(x, "I-Twilio-Idempotency-Token: %s", x->id) < 0 ||
	    gw_xfer_header(x, "Expect:") < 0 ||
	    curl_easy_setopt(x->easy, CURLOPT_USERNAME, sm->user) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_PASSWORD, sm->secret) != CURLE_OK) {
		gw_xfer_fail(x, IOPD_TRANSIENT, "sms: cannot build the request (out of memory?)");
		return;
	}
	curl_easy_setopt(x->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	/* Content-Type: application/x-www-form-urlencoded is curl's default. */
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->req.s);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->req.len);
	gw_xfer_submit(x);
}

static void sms_send_kannel(struct sms *sm, const struct iopd_message *m, iopd_done_fn done,
    void *token)
{
	struct sms_kannel_req q = {
		sm->user, sm->secret, sm->from, m->to, m->text, sm->smsc, sm->dlr_url, m->id,
		sms_kannel_validity(m->expires, sm->h->now(sm->h))
	};
	const char *cb = sms_callback_base(sm, "status");
	struct gw_buf url = {0}, dlr = {0};
	struct gw_xfer *x;

	if (cb) {
		sms_callback_url(&dlr, cb, m->id, 1);
		q.dlr_url = gw_buf_str(&dlr);
		if (!q.dlr_url)
			url.oom = 1;
	}
	sms_kannel_url(&url, sm->url, &q);
	gw_buf_wipe(&dlr);             /* it holds the callback key */
	if (!gw_buf_str(&url)) {
		struct iopd_outcome o = {IOPD_TRANSIENT, NULL, "sms: out of memory", -1.0};

		gw_buf_wipe(&url);
		done(token, &o);
		return;
	}
	x = gw_xfer_new(&sm->xfers, &sm->net, url.s, 1, m, done, token);
	gw_buf_wipe(&url);             /* curl has its own copy */
	if (!x)
		return;
	curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
	gw_xfer_submit(x);
}

static void sms_send(void *inst, const struct iopd_message *m, iopd_done_fn done, void *token)
{
	struct sms *sm = inst;
	char tail[8];

	if (!sms_e164(m->to)) {
		/* The host checks phone numbers at load time; this is a guard,
		 * and it says nothing about the number itself. */
		struct iopd_outcome o = {IOPD_PERMANENT, NULL, "sms: no valid E.164 phone number", -1.0};

		done(token, &o);
		return;
	}
	sm->h->log(sm->h, IOPD_LOG_DEBUG, "%s: sending %s to %s", sm->xfers.module, m->id,
	    gw_phone_tail(m->to, tail));
	if (sm->api == SMS_TWILIO)
		sms_send_twilio(sm, m, done, token);
	else
		sms_send_kannel(sm, m, done, token);
}

static void sms_cancel(void *inst, void *token)
{
	struct sms *sm = inst;

	gw_xfers_cancel(&sm->xfers, token);
}

static void sms_stop(void *inst)
{
	struct sms *sm = inst;

	gw_xfers_drop_all(&sm->xfers);
	sms_free(sm);
}

/* ------------------------------------------------------------------------
 * Callbacks (ABI 1.1)
 * --------------------------------------------------------------------- */

/* Twilio signs its webhooks with our auth token and answers STOP, HELP
 * and START itself (Advanced Opt-Out), so iopd does not by default;
 * Kannel presents a key and answers nothing. */
static int sms_inbound(void *inst, struct iopd_inbound *in)
{
	struct sms *sm = inst;

	in->auth = sm->api == SMS_TWILIO ? IOPD_AUTH_TWILIO : IOPD_AUTH_KEY;
	in->method = sm->api == SMS_TWILIO ? "POST" : "GET";
	in->replies = sm->api == SMS_KANNEL;
	return 0;
}

static int sms_callback(void *inst, const struct iopd_request *rq, struct iopd_callback *out)
{
	struct sms *sm = inst;

	memset(&sm->cb, 0, sizeof sm->cb);
	if (sm->api == SMS_TWILIO)
		return sms_twilio_callback(rq, out, &sm->cb);
	return sms_kannel_callback(rq, out, &sm->cb);
}

static const struct iopd_plugin_ops sms_ops = {
	sms_configure, sms_start, sms_send, sms_cancel, sms_stop, sms_inbound, sms_callback
};

IOPD_PLUGIN_DEFINE("sms", SMS_VERSION, IOPD_CONTACT_PHONE, sms_ops);
