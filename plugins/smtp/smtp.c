/* smtp.c - the "smtp" delivery module: one e-mail per reminder, through a relay.
 *
 *     { name = "email"; module = "smtp";
 *       url = "smtp://mail.example.org:587";    # STARTTLS, required; or smtps:// (implicit TLS)
 *       from = "Clinic <noreply@example.org>";  # the envelope sender is the address part
 *       user = "iopd"; token_file = "/etc/iopd/secrets/smtp";   # optional; together
 *       helo = "iopd.example.org";              # optional: the EHLO name
 *       ca_file = "/etc/iopd/relay-ca.pem"; }   # optional: trust this CA instead
 *
 * TLS is never optional: smtp:// requires STARTTLS (CURLUSESSL_ALL), so a
 * relay that does not offer it gets nothing, not even the password.  The
 * message is RFC 5322 text/plain UTF-8, quoted-printable, with an RFC
 * 2047 subject when it is not plain ASCII (smtp_fmt.c); libcurl does the
 * dot-stuffing.  The patient's address is never logged, nor the subject
 * or the text; reasons carry the reply code and enhanced status code
 * only, because a server's text often echoes the address.
 *
 * At start, an asynchronous probe (a connect-only transfer through the
 * host's curl multi handle: greeting, EHLO, STARTTLS or TLS, no AUTH, no
 * mail) tells the admin at once that the relay cannot do TLS, rather than
 * at the first reminder: logged at error level, which `iopctl status`
 * shows for the channel.  A relay that cannot be reached is a warning:
 * it may come back before the first send.
 *
 * Outcomes (smtp_reply): accepted -> delivered, with the server's queue id
 * ("queued as X") as gateway id, else our Message-ID; 4xx -> transient;
 * 5xx -> permanent; network and TLS errors -> transient.  Refused
 * credentials (535, curl 67) are permanent like any SMTP 5xx, and flagged
 * so the refusal is logged once as an error: see gw_result_auth in gw.h,
 * the same in every module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iopd/plugin.h"
#include "../common/gw.h"
#include "smtp_fmt.h"

#define SMTP_VERSION "1.0"

struct smtp {
	const struct iopd_host *h;
	char *url;                     /* with the EHLO name as its path, if `helo` */
	char from_name[SMTP_NAME_MAX];
	char from_addr[SMTP_ADDR_MAX];
	char mail_from[SMTP_ADDR_MAX + 2];     /* "<from_addr>" */
	char *user;                    /* NULL: no AUTH */
	char *secret;
	struct gw_net net;
	struct gw_xfers xfers;
	CURL *probe;                   /* the start-up probe, while it runs */
	char probe_err[CURL_ERROR_SIZE];
};

static const char *const smtp_keys[] = {"url", "from", "user", "helo", "ca_file", NULL};
static const char *const smtp_schemes[] = {"smtps", "smtp", NULL};

static void smtp_free(struct smtp *sm)
{
	sm->h->secret_free(sm->secret);
	gw_net_free(&sm->net);
	free(sm->url);
	free(sm->user);
	free(sm);
}

/* ------------------------------------------------------------------------
 * configure
 * --------------------------------------------------------------------- */

static int smtp_helo_ok(const char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
		return strspn(s + 1, "0123456789abcdefABCDEF.:") == n - 2;     /* address literal */
	return n <= 253 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == n &&
	    s[0] != '.' && s[0] != '-';
}

/* libcurl takes the EHLO name from the URL's path: smtp://host:587/name. */
static char *smtp_url_with_helo(struct gw_conf *c, const char *url, const char *helo)
{
	const config_setting_t *hs = config_setting_get_member(c->group, "helo");
	CURLU *u = curl_url();
	char *path = NULL, *out = NULL;
	int has_path;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		gw_conf_error(c, hs, "cannot read url");
		goto out;
	}
	has_path = path && strcmp(path, "/") != 0 && path[0];
	if (helo && has_path) {
		gw_conf_error(c, hs, "url already names the EHLO host in its path; drop helo or the path");
		goto out;
	}
	if (helo && !smtp_helo_ok(helo)) {
		gw_conf_error(c, hs, "helo must be a host name or an address literal like [192.0.2.1]");
		goto out;
	}
	if (helo && curl_url_set(u, CURLUPART_PATH, helo, 0) != CURLUE_OK) {
		gw_conf_error(c, hs, "out of memory");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
		gw_conf_error(c, c->group, "out of memory");
out:
	curl_free(path);
	curl_url_cleanup(u);
	if (!out)
		return NULL;
	path = strdup(out);            /* ours to free(), not curl_free() */
	curl_free(out);
	if (!path)
		gw_conf_error(c, c->group, "out of memory");
	return path;
}

static void smtp_conf_from(struct gw_conf *c, struct smtp *sm)
{
	const char *from = gw_conf_string(c, "from", 1);

	if (!from)
		return;
	if (smtp_parse_from(from, sm->from_name, sizeof sm->from_name, sm->from_addr,
	    sizeof sm->from_addr) < 0) {
		gw_conf_error(c, config_setting_get_member(c->group, "from"),
		    "from must be an address (noreply@example.org) or a name and an address "
		    "(Clinic <noreply@example.org>)");
		return;
	}
	snprintf(sm->mail_from, sizeof sm->mail_from, "<%s>", sm->from_addr);
}

/* user and the secret go together: AUTH needs both, and a secret alone
 * would be read for nothing. */
static void smtp_conf_auth(struct gw_conf *c, struct smtp *sm)
{
	const config_setting_t *s = c->group;
	const char *user = gw_conf_string(c, "user", 0);
	const config_setting_t *f = config_setting_get_member(s, "token_file");
	const config_setting_t *k = config_setting_get_member(s, "token_credential");

	if (!user) {
		if (f || k)
			gw_conf_error(c, f ? f : k, "%s without user: set user, or drop it",
			    f ? "token_file" : "token_credential");
		return;
	}
	if (!(sm->user = strdup(user)))
		gw_conf_error(c, s, "out of memory");
	if (!(sm->secret = c->h->secret_load(c->h, s, 1)))
		c->errors++;           /* reported by the host */
}

static void smtp_classify(void *owner, struct gw_xfer *x, CURLcode rc, struct gw_result *r);

static void *smtp_configure(const struct iopd_host *h, const config_setting_t *s,
    const struct iopd_channel_info *info)
{
	struct gw_conf c = {h, s, 0};
	struct smtp *sm = calloc(1, sizeof *sm);
	const char *url;

	if (!sm) {
		h->conf_error(h, s, "out of memory");
		return NULL;
	}
	sm->h = h;
	if (h->conf_check_keys(h, s, smtp_keys) > 0)
		c.errors++;
	if ((url = gw_conf_string(&c, "url", 1)) != NULL &&
	    gw_conf_url(&c, "url", url, smtp_schemes, NULL) >= 0)
		sm->url = smtp_url_with_helo(&c, url, gw_conf_string(&c, "helo", 0));
	smtp_conf_from(&c, sm);
	smtp_conf_auth(&c, sm);
	gw_conf_net(&c, info, &sm->net, "smtp,smtps", NULL);
	if (c.errors) {
		smtp_free(sm);
		return NULL;
	}
	sm->xfers.h = h;
	sm->xfers.owner = sm;
	sm->xfers.classify = smtp_classify;
	sm->xfers.module = "smtp";
	return sm;
}

/* ------------------------------------------------------------------------
 * start: the probe
 * --------------------------------------------------------------------- */

/* The relay's host and port, for log lines ("mail.example.org:587"). */
static void smtp_relay(const struct smtp *sm, char *buf, size_t len)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;

	snprintf(buf, len, "the relay");
	if (u && curl_url_set(u, CURLUPART_URL, sm->url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		snprintf(buf, len, "%s:%s", host, port);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

static void smtp_probe_done(CURL *easy, CURLcode rc, void *arg)
{
	struct smtp *sm = arg;
	char relay[300];

	smtp_relay(sm, relay, sizeof relay);
	if (rc == CURLE_OK)
		sm->h->log(sm->h, IOPD_LOG_INFO, "smtp: %s offers %s", relay,
		    strncmp(sm->url, "smtps:", 6) == 0 ? "TLS" : "STARTTLS");
	else if (rc == CURLE_USE_SSL_FAILED)
		sm->h->log(sm->h, IOPD_LOG_ERR, "smtp: %s does not offer STARTTLS: no e-mail can be "
		    "sent through it (iopd never sends in clear text); enable STARTTLS on the relay, "
		    "or use an smtps:// relay", relay);
	else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
	    rc == CURLE_SSL_CACERT_BADFILE)
		sm->h->log(sm->h, IOPD_LOG_ERR, "smtp: TLS with %s failed at start: %s", relay,
		    sm->probe_err[0] ? sm->probe_err : curl_easy_strerror(rc));
	else
		sm->h->log(sm->h, IOPD_LOG_WARNING, "smtp: %s cannot be reached at start (%s): "
		    "e-mails wait and retry", relay, sm->probe_err[0] ? sm->probe_err : curl_easy_strerror(rc));
	curl_easy_cleanup(easy);
	sm->probe = NULL;
}

/* Never blocks: the probe runs in the host's multi handle like a send. */
static int smtp_start(void *inst)
{
	struct smtp *sm = inst;
	CURL *e = curl_easy_init();

	if (!e || gw_easy_opts(e, &sm->net, sm->url, sm->probe_err) < 0) {
		if (e)
			curl_easy_cleanup(e);
		sm->h->log(sm->h, IOPD_LOG_WARNING, "smtp: cannot probe the relay (out of memory?)");
		return 0;
	}
	curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (sm->h->http_submit(sm->h, e, smtp_probe_done, sm) != 0) {
		curl_easy_cleanup(e);
		return 0;
	}
	sm->probe = e;
	return 0;
}

/* ------------------------------------------------------------------------
 * send
 * --------------------------------------------------------------------- */

/* For SMTP, libcurl hands every reply line to the header callback: we
 * keep them for the queue id and the enhanced status code. */
static size_t smtp_lines_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct gw_reply *r = arg;
	size_t n = size * nmemb;
	size_t room = r->body.len < GW_BODY_MAX ? GW_BODY_MAX - r->body.len : 0;

	gw_buf_add(&r->body, p, n < room ? n : room);
	return n;
}

static void smtp_classify(void *owner, struct gw_xfer *x, CURLcode rc, struct gw_result *r)
{
	struct smtp *sm = owner;
	long code = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	smtp_reply(r, rc, code, x->reply.body.s, x->reply.body.len, x->errbuf);
	if (r->result != IOPD_DELIVERED ||
	    smtp_queue_id(x->reply.body.s, x->reply.body.len, r->gateway_id, sizeof r->gateway_id) == 0)
		return;
	/* No queue id: our Message-ID (see smtp_message), without brackets. */
	snprintf(r->gateway_id, sizeof r->gateway_id, "%s.%lld@%s", x->id, (long long)x->m->due,
	    strchr(sm->from_addr, '@') + 1);
}

static int smtp_setup(struct smtp *sm, struct gw_xfer *x, const char *to)
{
	struct curl_slist *rcpt;
	char path[SMTP_ADDR_MAX + 2];
	CURL *e = x->easy;

	snprintf(path, sizeof path, "<%s>", to);
	if (!(rcpt = curl_slist_append(NULL, path)))
		return -1;
	x->rcpt = rcpt;
	if (curl_easy_setopt(e, CURLOPT_MAIL_FROM, sm->mail_from) != CURLE_OK ||
	    (sm->user && (curl_easy_setopt(e, CURLOPT_USERNAME, sm->user) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PASSWORD, sm->secret) != CURLE_OK)))
		return -1;
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, x->rcpt);
	/* smtp://: STARTTLS or nothing.  smtps:// is TLS from the start. */
	curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, gw_read_req);
	curl_easy_setopt(e, CURLOPT_READDATA, x);
	curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, gw_seek_req);
	curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->req.len);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, smtp_lines_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &x->reply);
	return 0;
}

static void smtp_send(void *inst, const struct iopd_message *m, iopd_done_fn done, void *token)
{
	struct smtp *sm = inst;
	struct smtp_msg msg;
	struct gw_xfer *x;
	char msgid[GW_ID_MAX];

	if (!smtp_addr_ok(m->to)) {
		/* Never the address itself in a reason. */
		struct iopd_outcome o = {IOPD_PERMANENT, NULL, "smtp: not a usable e-mail address", -1.0};

		done(token, &o);
		return;
	}
	if (!(x = gw_xfer_new(&sm->xfers, &sm->net, sm->url, 0, m, done, token)))
		return;                /* done has been called */
	memset(&msg, 0, sizeof msg);
	msg.from_name = sm->from_name;
	msg.from_addr = sm->from_addr;
	msg.to = m->to;
	msg.subject = m->subject;
	msg.body = m->body ? m->body : m->text;
	msg.id = x->id;
	msg.date = (int64_t)sm->h->now(sm->h);
	msg.due = m->due;
	smtp_message(&x->req, &msg, msgid, sizeof msgid);
	if (!gw_buf_str(&x->req) || smtp_setup(sm, x, m->to) < 0) {
		gw_xfer_fail(x, IOPD_TRANSIENT, "smtp: cannot build the message (out of memory?)");
		return;
	}
	sm->h->log(sm->h, IOPD_LOG_DEBUG, "smtp: sending %s as %s", x->id, msgid);
	gw_xfer_submit(x);
}

static void smtp_cancel(void *inst, void *token)
{
	struct smtp *sm = inst;

	gw_xfers_cancel(&sm->xfers, token);
}

static void smtp_stop(void *inst)
{
	struct smtp *sm = inst;

	if (sm->probe) {               /* the host has withdrawn it already */
		sm->h->http_cancel(sm->h, sm->probe);
		curl_easy_cleanup(sm->probe);
		sm->probe = NULL;
	}
	gw_xfers_drop_all(&sm->xfers);
	smtp_free(sm);
}

static const struct iopd_plugin_ops smtp_ops = {
	smtp_configure, smtp_start, smtp_send, smtp_cancel, smtp_stop
};

IOPD_PLUGIN_DEFINE("smtp", SMTP_VERSION, IOPD_CONTACT_EMAIL, smtp_ops);
