/* gw.c - the glue helpers of gw.h: results, configuration, curl options,
 * and the sends in flight.  The pure text helpers are in gw_text.c. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gw.h"

#define GW_XFER_MAGIC 0x47575846u      /* "GWXF" */

/* ========================================================================
 * Results
 * ===================================================================== */

void gw_result_init(struct gw_result *r)
{
	memset(r, 0, sizeof *r);
	r->result = IOPD_TRANSIENT;
	r->retry_after = -1.0;
}

void gw_result_set(struct gw_result *r, enum iopd_result res, const char *fmt, ...)
{
	va_list ap;

	r->result = res;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
}

void gw_result_auth(struct gw_result *r, const char *fmt, ...)
{
	va_list ap;

	r->result = IOPD_PERMANENT;
	r->auth_failed = 1;
	r->retry_after = -1.0;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
}

void gw_result_misdirected(struct gw_result *r, const char *fmt, ...)
{
	va_list ap;

	r->result = IOPD_PERMANENT;
	r->misdirected = 1;
	r->retry_after = -1.0;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
}

void gw_result_curl(struct gw_result *r, CURLcode rc, const char *errbuf)
{
	const char *what = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
	char clean[GW_REASON_MAX];

	gw_reason_clean(clean, sizeof clean, what, strlen(what));
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		gw_result_set(r, IOPD_TRANSIENT, "TLS certificate verification failed: %s", clean);
		break;
	default:
		gw_result_set(r, IOPD_TRANSIENT, "curl %d: %s", (int)rc, clean);
		break;
	}
	r->retry_after = -1.0;
}

void gw_http_status(struct gw_result *r, long status, const char *retry_after, double now)
{
	r->retry_after = -1.0;
	if (status >= 200 && status <= 299) {
		r->result = IOPD_DELIVERED;
		return;
	}
	if (status == 401) {
		gw_result_auth(r, "HTTP %ld", status);
		return;
	}
	if (status >= 300 && status <= 399) {
		gw_result_misdirected(r, "HTTP %ld: a redirect (never followed): check the channel's url",
		    status);
		return;
	}
	if (status >= 400 && status <= 499 && status != 408 && status != 429) {
		gw_result_set(r, IOPD_PERMANENT, "HTTP %ld", status);
		return;
	}
	gw_result_set(r, IOPD_TRANSIENT, "HTTP %ld", status);
	if (status == 408 || status == 429 || (status >= 500 && status <= 599))
		r->retry_after = gw_retry_after(retry_after, now);
}

void gw_result_outcome(const struct gw_result *r, struct iopd_outcome *o)
{
	memset(o, 0, sizeof *o);
	o->result = r->result;
	o->retry_after = -1.0;
	if (r->result == IOPD_DELIVERED) {
		o->gateway_id = r->gateway_id[0] ? r->gateway_id : NULL;
		return;
	}
	o->reason = r->reason;
	if (r->result == IOPD_TRANSIENT)
		o->retry_after = r->retry_after;
}

/* ========================================================================
 * Configuration
 * ===================================================================== */

void gw_conf_error(struct gw_conf *c, const config_setting_t *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->h->conf_error(c->h, s ? s : c->group, "%s", msg);
	c->errors++;
}

const char *gw_conf_string(struct gw_conf *c, const char *key, int required)
{
	const config_setting_t *s = config_setting_get_member(c->group, key);
	const char *v, *p;

	if (!s) {
		if (required)
			gw_conf_error(c, c->group, "%s is required", key);
		return NULL;
	}
	v = config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
	if (!v || !*v) {
		gw_conf_error(c, s, "%s must be a non-empty string", key);
		return NULL;
	}
	for (p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			gw_conf_error(c, s, "%s must not contain control characters", key);
			return NULL;
		}
	return v;
}

int gw_host_is_loopback(const char *host)
{
	char buf[64];
	size_t n = host ? strlen(host) : 0;
	struct in_addr a4;
	struct in6_addr a6;

	if (n && host[n - 1] == '.')
		n--;                   /* "localhost." */
	if (n == 9 && strncasecmp(host, "localhost", 9) == 0)
		return 1;
	if (n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0)
		return 1;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, host, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, buf, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return 0;
}

static int gw_scheme_index(const char *scheme, const char *const *schemes)
{
	int i;

	for (i = 0; schemes[i]; i++)
		if (strcmp(scheme, schemes[i]) == 0)
			return i;
	return -1;
}

static void gw_schemes_join(char *buf, size_t n, const char *const *schemes)
{
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; schemes[i] && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%s://", i ? " or " : "", schemes[i]);
}

int gw_conf_url(struct gw_conf *c, const char *key, const char *url,
    const char *const *schemes, const char *plain)
{
	const config_setting_t *s = config_setting_get_member(c->group, key);
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL, list[128];
	int idx = -1;

	if (!s)
		s = c->group;
	gw_schemes_join(list, sizeof list, schemes);
	if (!u) {
		gw_conf_error(c, s, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
		gw_conf_error(c, s, "%s \"%s\" is not a valid URL (%s...)", key, url, list);
	} else if ((idx = gw_scheme_index(scheme, schemes)) < 0) {
		gw_conf_error(c, s, "%s must start with %s", key, list);
	} else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
		gw_conf_error(c, s, "%s must not hold a user name or password: secrets come from "
		    "token_file or token_credential", key);
		idx = -1;
	} else if (plain && strcmp(scheme, plain) == 0 && !gw_host_is_loopback(host)) {
		c->h->log(c->h, IOPD_LOG_WARNING, "%s uses plain %s to %s, which is not a loopback "
		    "address: messages and credentials cross the network unencrypted", key, plain, host);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		curl_free(pass);
	}
	curl_url_cleanup(u);
	return idx;
}

int gw_conf_net(struct gw_conf *c, const struct iopd_channel_info *info, struct gw_net *n,
    const char *protocols, const char *user_agent)
{
	double t = info && info->timeout > 0.0 ? info->timeout : 15.0;
	const char *ca;
	int errors = c->errors;

	memset(n, 0, sizeof *n);
	if (t > 86400.0)
		t = 86400.0;
	n->timeout_ms = (long)(t * 1000.0 + 0.5);
	if (n->timeout_ms < 1)
		n->timeout_ms = 1;
	n->insecure_tls = info ? info->insecure_tls : 0;
	n->protocols = protocols;
	n->user_agent = user_agent;
	ca = gw_conf_string(c, "ca_file", 0);
	if (ca) {
		const config_setting_t *s = config_setting_get_member(c->group, "ca_file");

		if (ca[0] != '/')
			gw_conf_error(c, s, "ca_file must be an absolute path");
		else if (access(ca, R_OK) != 0)
			gw_conf_error(c, s, "ca_file %s: %s", ca, strerror(errno));
		else if (!(n->ca_file = strdup(ca)))
			gw_conf_error(c, s, "out of memory");
	}
	return c->errors > errors ? -1 : 0;
}

void gw_net_free(struct gw_net *n)
{
	free(n->ca_file);
	n->ca_file = NULL;
}

/* ========================================================================
 * curl
 * ===================================================================== */

static size_t gw_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct gw_reply *r = arg;
	size_t n = size * nmemb;
	size_t room = r->body.len < GW_BODY_MAX ? GW_BODY_MAX - r->body.len : 0;

	gw_buf_add(&r->body, p, n < room ? n : room);
	return n;                      /* the rest is read and dropped */
}

static size_t gw_header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	static const char name[] = "Retry-After:";
	struct gw_reply *r = arg;
	size_t n = size * nmemb, k = 0, i;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0)
		r->retry_after[0] = '\0';      /* a new response (after a 1xx): start over */
	if (n > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
		for (i = sizeof name - 1; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		for (; i < n && p[i] != '\r' && p[i] != '\n' && k + 1 < sizeof r->retry_after; i++)
			r->retry_after[k++] = p[i];
		while (k > 0 && (r->retry_after[k - 1] == ' ' || r->retry_after[k - 1] == '\t'))
			k--;
		r->retry_after[k] = '\0';
	}
	return n;
}

int gw_easy_opts(CURL *e, const struct gw_net *n, const char *url, char *errbuf)
{
	CURLcode rc = CURLE_OK;

	errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, n->timeout_ms);
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK)
		return -1;
#if LIBCURL_VERSION_NUM >= 0x075500
	/* Belt and braces: the URL was checked at configure, and redirects
	 * are never followed; still, nothing but these protocols, ever. */
	if (n->protocols && (rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, n->protocols)) != CURLE_OK)
		return -1;
#endif
	if (n->insecure_tls) {
		/* A per-channel test setting; the host logs it at every start. */
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (n->ca_file) {
		rc = curl_easy_setopt(e, CURLOPT_CAINFO, n->ca_file);
	}
	if (rc == CURLE_OK && n->user_agent)
		rc = curl_easy_setopt(e, CURLOPT_USERAGENT, n->user_agent);
	return rc == CURLE_OK ? 0 : -1;
}

size_t gw_read_req(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct gw_xfer *x = arg;
	size_t room = size * nmemb, left = x->req.len - x->req_off;
	size_t n = left < room ? left : room;

	assert(x->magic == GW_XFER_MAGIC);
	if (n) {
		memcpy(dst, x->req.s + x->req_off, n);
		x->req_off += n;
	}
	return n;
}

int gw_seek_req(void *arg, curl_off_t offset, int origin)
{
	struct gw_xfer *x = arg;

	assert(x->magic == GW_XFER_MAGIC);
	if (origin != SEEK_SET || offset < 0 || (size_t)offset > x->req.len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->req_off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ========================================================================
 * Sends in flight
 * ===================================================================== */

static void gw_xfer_link(struct gw_xfers *l, struct gw_xfer *x)
{
	x->prev = NULL;
	x->next = l->head;
	if (l->head)
		l->head->prev = x;
	l->head = x;
	l->count++;
}

static int gw_xfer_linked(const struct gw_xfers *l, const struct gw_xfer *x)
{
	return x->prev || l->head == x;
}

static void gw_xfer_unlink(struct gw_xfers *l, struct gw_xfer *x)
{
	if (!gw_xfer_linked(l, x))
		return;
	if (x->prev)
		x->prev->next = x->next;
	else
		l->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	l->count--;
}

/* Easy handles kept for the next sends of a channel.  A new handle per
 * send cost an allocation of curl's whole per-transfer state and its
 * buffers, and its cleanup (bench W2: ~5% of a delivery's CPU); a reset
 * one keeps them and forgets every option (the next send sets its own).
 * At most as many as were ever in flight at once, and never more than: */
#define GW_IDLE_MAX 256

static CURL *gw_easy_get(struct gw_xfers *l)
{
	return l->nidle ? l->idle[--l->nidle] : curl_easy_init();
}

/* The handle is in no multi handle any more (finished or cancelled). */
static void gw_easy_put(struct gw_xfers *l, CURL *e)
{
	if (!l->idle)
		l->idle = calloc(GW_IDLE_MAX, sizeof *l->idle);
	if (!l->idle || l->nidle == GW_IDLE_MAX) {
		curl_easy_cleanup(e);
		return;
	}
	curl_easy_reset(e);            /* drops its pointers into the xfer (error buffer, request) */
	l->idle[l->nidle++] = e;
}

/* The easy handle goes first: it points into x (error buffer, request). */
static void gw_xfer_free(struct gw_xfer *x)
{
	if (x->easy)
		gw_easy_put(x->list, x->easy);
	curl_slist_free_all(x->headers);
	curl_slist_free_all(x->rcpt);
	gw_buf_wipe(&x->req);
	gw_buf_free(&x->reply.body);
	x->magic = 0;
	free(x);
}

static void gw_log_outcome(struct gw_xfers *l, const char *id, const struct gw_result *r)
{
	static const char *const names[] = {"delivered", "transient", "permanent", "opted-out"};
	const char *name = (unsigned)r->result < 4 ? names[r->result] : "?";

	if (r->result == IOPD_DELIVERED)
		l->h->log(l->h, IOPD_LOG_DEBUG, "%s: %s %s: gateway id %s", l->module, id, name,
		    r->gateway_id[0] ? r->gateway_id : "(none)");
	else
		l->h->log(l->h, IOPD_LOG_DEBUG, "%s: %s %s: %s", l->module, id, name, r->reason);
	/* Refused credentials fail every send of the channel alike: say so
	 * once, loudly, and again when they work. */
	if (r->auth_failed && !l->auth_failing) {
		l->h->log(l->h, IOPD_LOG_ERR, "%s: the gateway refused our credentials (%s); "
		    "reminders fail until the secret is fixed and iopd reloaded",
		    l->module, r->reason);
		l->auth_failing = 1;
	} else if (l->auth_failing && r->result == IOPD_DELIVERED) {
		l->h->log(l->h, IOPD_LOG_NOTICE, "%s: the gateway accepts our credentials again",
		    l->module);
		l->auth_failing = 0;
	}
	/* so does a url that leads somewhere else */
	if (r->misdirected && !l->misdirected) {
		l->h->log(l->h, IOPD_LOG_ERR, "%s: the reply is not the gateway's (%s); reminders fail "
		    "until the url is fixed and iopd reloaded", l->module, r->reason);
		l->misdirected = 1;
	} else if (l->misdirected && r->result == IOPD_DELIVERED) {
		l->h->log(l->h, IOPD_LOG_NOTICE, "%s: the gateway answers as expected again", l->module);
		l->misdirected = 0;
	}
}

/* Reports and frees.  x is freed BEFORE done runs: from inside done the
 * host may send again, cancel others or even stop the instance, and
 * nothing of ours may be touched after that. */
static void gw_xfer_finish(struct gw_xfer *x, const struct gw_result *r)
{
	struct gw_xfers *l = x->list;
	iopd_done_fn done = x->done;
	void *token = x->token;
	struct iopd_outcome o;

	gw_log_outcome(l, x->id, r);
	gw_xfer_unlink(l, x);
	gw_xfer_free(x);
	gw_result_outcome(r, &o);      /* points into r, which the caller keeps */
	done(token, &o);
}

static void gw_report(iopd_done_fn done, void *token, const char *reason)
{
	struct iopd_outcome o = {IOPD_TRANSIENT, NULL, reason, -1.0};

	done(token, &o);
}

void gw_xfer_fail(struct gw_xfer *x, enum iopd_result res, const char *reason)
{
	struct gw_result r;

	gw_result_init(&r);
	gw_result_set(&r, res, "%s", reason);
	gw_xfer_finish(x, &r);
}

struct gw_xfer *gw_xfer_new(struct gw_xfers *l, const struct gw_net *n, const char *url,
    int capture, const struct iopd_message *m, iopd_done_fn done, void *token)
{
	struct gw_xfer *x = calloc(1, sizeof *x);

	if (!x) {
		gw_report(done, token, "out of memory");
		return NULL;
	}
	x->magic = GW_XFER_MAGIC;
	x->list = l;
	x->m = m;
	x->done = done;
	x->token = token;
	snprintf(x->id, sizeof x->id, "%s", m->id ? m->id : "");
	if (!(x->easy = gw_easy_get(l)) || gw_easy_opts(x->easy, n, url, x->errbuf) < 0) {
		gw_xfer_fail(x, IOPD_TRANSIENT, "cannot set up the transfer (out of memory?)");
		return NULL;
	}
	if (capture) {
		curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, gw_write_cb);
		curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, &x->reply);
		curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, gw_header_cb);
		curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, &x->reply);
	}
	return x;
}

static void gw_xfer_http_done(CURL *easy, CURLcode rc, void *arg)
{
	struct gw_xfer *x = arg;
	struct gw_result r;

	assert(x && x->magic == GW_XFER_MAGIC && x->easy == easy);
	gw_result_init(&r);
	x->list->classify(x->list->owner, x, rc, &r);
	gw_xfer_finish(x, &r);
}

int gw_xfer_header(struct gw_xfer *x, const char *fmt, ...)
{
	struct curl_slist *l;
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line || strpbrk(line, "\r\n"))
		return -1;
	if (!(l = curl_slist_append(x->headers, line)))
		return -1;
	x->headers = l;
	return 0;
}

void gw_xfer_submit(struct gw_xfer *x)
{
	struct gw_xfers *l = x->list;

	gw_xfer_link(l, x);
	if (l->h->http_submit(l->h, x->easy, gw_xfer_http_done, x) == 0)
		return;
	gw_xfer_fail(x, IOPD_TRANSIENT, "transfer not started (iopd is stopping?)");
}

void gw_xfers_cancel(struct gw_xfers *l, void *token)
{
	struct gw_xfer *x;

	for (x = l->head; x; x = x->next)
		if (x->token == token) {
			l->h->http_cancel(l->h, x->easy);
			gw_xfer_unlink(l, x);
			gw_xfer_free(x);
			return;
		}
}

void gw_xfers_drop_all(struct gw_xfers *l)
{
	size_t n = l->count;

	while (l->head) {
		struct gw_xfer *x = l->head;

		l->h->http_cancel(l->h, x->easy);
		gw_xfer_unlink(l, x);
		gw_xfer_free(x);
	}
	if (n)
		l->h->log(l->h, IOPD_LOG_WARNING, "%s: stopped with %zu send%s in flight", l->module,
		    n, n == 1 ? "" : "s");
	while (l->nidle)
		curl_easy_cleanup(l->idle[--l->nidle]);
	free(l->idle);
	l->idle = NULL;
}
