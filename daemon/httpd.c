/* httpd.c - the inbound HTTP listener on the daemon's loop (see httpd.h).
 *
 * libmicrohttpd (MHD) parses HTTP and keeps the connections; it runs in its
 * "external event loop" mode, with no thread of its own:
 *
 *   - MHD_USE_EPOLL gathers every socket of MHD (listener, connections, the
 *     wake-up pipe of MHD_resume_connection) in one epoll descriptor; an
 *     ev_io watches it, and MHD_run() (which never blocks: it polls with a
 *     zero timeout) runs when it is readable;
 *   - MHD_get_timeout() says when MHD wants to run even without an event
 *     (its own timeouts, or connections with data already read, 0 ms): one
 *     ev_timer, re-armed after every MHD_run();
 *   - after a late answer resumes a connection, MHD_run() is asked for on
 *     the next loop iteration (ev_feed_event), never from inside MHD.
 *
 * Each step of MHD_run() is bounded (one read or write per ready socket),
 * so a client, slow or fast, never holds the loop.
 *
 * Bounds.  Connections: MHD_OPTION_CONNECTION_LIMIT; at the limit MHD
 * stops accepting and new clients wait in the listen backlog until a slot
 * frees (at most max_conn_time later), instead of being refused.  There is
 * no per-address limit: behind a TLS proxy every client has the proxy's
 * address.
 * Header bytes: MHD's per-connection memory pool (httpd_pool_bytes), plus
 * our own count against max_header.  Body bytes: a declared Content-Length
 * over max_body is answered 413 before the body is read; a chunked body is
 * cut as soon as it outgrows max_body (httpd_overflow).  Time: MHD's
 * connection timeout only measures inactivity, which every byte resets, so
 * each connection has an ev_timer of its own for its whole life (renewed
 * when a request was answered on a kept-alive connection); when it fires,
 * the socket is shut down and MHD, seeing it, closes the connection.
 *
 * Requests.  MHD calls the access handler once the headers are in (checks
 * and 413 / 431 / 400 happen then), once per piece of body, and once more
 * when the request is complete: only then is it handed to the owner, who
 * answers at once or later.  An unanswered request's connection is
 * suspended (MHD then neither reads nor times it out) and resumed by
 * httpd_answer, after which MHD calls the handler again to take the answer.
 * The raw request target comes from MHD_OPTION_URI_LOG_CALLBACK, which sees
 * it before MHD decodes anything; that callback also creates our request,
 * and MHD_OPTION_NOTIFY_COMPLETED frees it. */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <systemd/sd-daemon.h>

#include "form.h"
#include "httpd.h"
#include "httpd_util.h"
#include "log.h"
#include "util.h"

#define HTTPD_MAGIC 0x48545044u        /* "HTPD" */
#define HTTPD_REQ_MAGIC 0x48524551u    /* "HREQ" */
#define HTTPD_CONN_MAGIC 0x48434f4eu   /* "HCON" */

#define HTTPD_413_BODY "request body too large\n"

enum httpd_req_state {
	REQ_HEAD,                      /* created: the headers are being read */
	REQ_BODY,                      /* headers accepted: the body is being read */
	REQ_HELD,                      /* complete, with the owner, unanswered */
	REQ_ANSWERED,                  /* answered, the answer not yet queued */
	REQ_DONE                       /* answer queued (ours or the owner's) */
};

/* One TCP connection: MHD's socket context. */
struct httpd_conn {
	unsigned magic;
	struct httpd *h;
	int fd;
	bool cut;                      /* shut down at the end of its life */
	ev_timer life;
};

struct httpd_req {
	unsigned magic;
	struct httpd *h;
	struct MHD_Connection *conn;   /* NULL once the connection is gone */
	enum httpd_req_state state;
	bool suspended;
	char *target, *path, *method;
	struct sbuf body;
	struct form params;
	unsigned status;
	struct MHD_Response *resp;     /* REQ_ANSWERED: the answer to queue */
	struct httpd_req *prev, *next; /* in h->held while REQ_HELD */
};

struct httpd {
	unsigned magic;
	struct ev_loop *loop;
	struct MHD_Daemon *d;
	struct httpd_limits lim;
	httpd_fn fn;
	void *arg;
	ev_io io;                      /* MHD's epoll descriptor */
	ev_timer timer;                /* the timeout MHD asks for */
	struct httpd_req *held;        /* handed to the owner, unanswered */
	bool stopping;                 /* inside httpd_free */
	struct httpd_stats st;
};

static struct httpd *httpd_check(const void *p)
{
	const struct httpd *h = p;

	assert(h && h->magic == HTTPD_MAGIC);
	return (struct httpd *)h;
}

static struct httpd_req *httpd_req_check(const void *p)
{
	const struct httpd_req *r = p;

	assert(r && r->magic == HTTPD_REQ_MAGIC);
	return (struct httpd_req *)r;
}

/* ------------------------------------------------------------------------
 * Driving MHD from the loop
 * --------------------------------------------------------------------- */

static void httpd_rearm(struct httpd *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	ev_timer_stop(h->loop, &h->timer);
	if (MHD_get_timeout(h->d, &ms) == MHD_YES) {
		ev_timer_set(&h->timer, (double)ms / 1000.0, 0.0);
		ev_timer_start(h->loop, &h->timer);
	}
}

static void httpd_run(struct httpd *h)
{
	MHD_run(h->d);
	httpd_rearm(h);
}

static void httpd_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	httpd_run(httpd_check(w->data));
}

static void httpd_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	httpd_run(httpd_check(w->data));
}

/* MHD_run on the next loop iteration: safe from inside MHD's callbacks. */
static void httpd_kick(struct httpd *h)
{
	ev_feed_event(h->loop, &h->io, EV_READ);
}

/* MHD's own messages may quote a request (and a Kannel request carries a
 * phone number): debug level only, and log.c scrubs numbers anyway. */
static void httpd_mhd_log(void *cls, const char *fmt, va_list ap) IOPD_PRINTF(2, 0);
static void httpd_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	vsnprintf(buf, sizeof buf, fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("httpd: libmicrohttpd: %s", buf);
}

/* ------------------------------------------------------------------------
 * Connections and their whole life
 * --------------------------------------------------------------------- */

static void httpd_life_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct httpd_conn *k = w->data;

	(void)loop;
	(void)revents;
	assert(k && k->magic == HTTPD_CONN_MAGIC);
	/* MHD sees the socket end (or, if the connection is suspended, fails
	 * to write the late answer) and closes it: never close it ourselves. */
	k->cut = true;
	k->h->st.cut++;
	shutdown(k->fd, SHUT_RDWR);
	log_debug("httpd: a connection reached max_conn_time (%.1f s): cut", k->h->lim.max_conn_time);
	httpd_run(k->h);
}

static struct httpd_conn *httpd_conn_new(struct httpd *h, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct httpd_conn *k = xcalloc(1, sizeof *k);

	k->magic = HTTPD_CONN_MAGIC;
	k->h = h;
	k->fd = ci ? ci->connect_fd : -1;
	ev_timer_init(&k->life, httpd_life_cb, h->lim.max_conn_time, 0.0);
	k->life.data = k;
	if (k->fd >= 0)
		ev_timer_start(h->loop, &k->life);
	h->st.conns++;
	return k;
}

static void httpd_conn_free(struct httpd *h, struct httpd_conn *k)
{
	assert(k->magic == HTTPD_CONN_MAGIC);
	ev_timer_stop(h->loop, &k->life);
	h->st.conns--;
	k->magic = 0;
	free(k);
}

/* A request was answered and the connection stays open for the next one:
 * that one gets a whole life of its own. */
static void httpd_conn_renew(struct httpd *h, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct httpd_conn *k = ci ? ci->socket_context : NULL;

	if (!k || k->cut || k->fd < 0)
		return;
	assert(k->magic == HTTPD_CONN_MAGIC);
	ev_timer_stop(h->loop, &k->life);
	ev_timer_set(&k->life, h->lim.max_conn_time, 0.0);
	ev_timer_start(h->loop, &k->life);
}

static void httpd_conn_cb(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct httpd *h = httpd_check(cls);

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		*ctx = httpd_conn_new(h, c);
	} else if (*ctx) {
		httpd_conn_free(h, *ctx);
		*ctx = NULL;
	}
}

/* ------------------------------------------------------------------------
 * Requests
 * --------------------------------------------------------------------- */

static void *httpd_uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct httpd_req *r = xcalloc(1, sizeof *r);

	(void)c;
	r->magic = HTTPD_REQ_MAGIC;
	r->h = httpd_check(cls);
	r->target = xstrdup(uri ? uri : "");
	r->state = REQ_HEAD;
	return r;
}

static void httpd_held_link(struct httpd *h, struct httpd_req *r)
{
	r->prev = NULL;
	r->next = h->held;
	if (h->held)
		h->held->prev = r;
	h->held = r;
	h->st.held++;
}

static void httpd_held_unlink(struct httpd *h, struct httpd_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		h->held = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	h->st.held--;
}

static void httpd_req_free(struct httpd_req *r)
{
	free(r->target);
	free(r->path);
	free(r->method);
	sbuf_free(&r->body);
	form_free(&r->params);
	if (r->resp)
		MHD_destroy_response(r->resp);
	r->magic = 0;
	free(r);
}

static void httpd_completed_cb(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct httpd *h = httpd_check(cls);
	struct httpd_req *r = *req_cls;

	*req_cls = NULL;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		httpd_conn_renew(h, c);
	if (!r)
		return;
	httpd_req_check(r);
	if (r->state == REQ_HELD) {
		if (!h->stopping) {
			/* MHD never ends a suspended connection by itself; should it
			 * ever, the owner still holds r: keep it for httpd_answer. */
			r->conn = NULL;
			r->suspended = false;
			return;
		}
		httpd_held_unlink(h, r);
	}
	httpd_req_free(r);
}

static struct MHD_Response *httpd_response(const char *ctype, const char *body, size_t len)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);
	if (!resp)
		iopd_oom();
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype ? ctype : "text/plain") != MHD_YES)
		log_err("httpd: content type \"%s\" refused; answered without one", ctype);
	return resp;
}

static enum MHD_Result httpd_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result rc = MHD_queue_response(c, status, resp);

	MHD_destroy_response(resp);
	return rc;
}

/* The owner's answer (a refused one closes the connection). */
static enum MHD_Result httpd_queue_answer(struct httpd_req *r, struct MHD_Connection *c)
{
	struct MHD_Response *resp = r->resp;

	r->resp = NULL;
	r->state = REQ_DONE;
	return httpd_queue(c, r->status, resp);
}

/* Answers from httpd itself; the owner never sees the request. */
static enum MHD_Result httpd_refuse(struct httpd_req *r, struct MHD_Connection *c,
    unsigned status, const char *why)
{
	r->state = REQ_DONE;
	log_debug("httpd: answered %u: %s", status, why);
	return httpd_queue(c, status, httpd_response("text/plain", why, strlen(why)));
}

static enum MHD_Result httpd_head_add(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *n = cls;

	(void)kind;
	*n += strlen(key) + 2 + (value ? strlen(value) : 0) + 2;     /* "key: value\r\n" */
	return MHD_YES;
}

/* The request line and headers as sent, give or take spaces MHD trimmed. */
static size_t httpd_head_bytes(struct MHD_Connection *c, const struct httpd_req *r, const char *version)
{
	size_t n = strlen(r->method) + 1 + strlen(r->target) + 1 + strlen(version) + 2 + 2;

	MHD_get_connection_values(c, MHD_HEADER_KIND, httpd_head_add, &n);
	return n;
}

/* The headers are in: refuse now what must be refused before the body. */
static enum MHD_Result httpd_head(struct httpd *h, struct httpd_req *r, struct MHD_Connection *c,
    const char *method, const char *version)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *q = strchr(r->target, '?');
	uint64_t n;

	r->conn = c;
	r->method = xstrdup(method);
	if (httpd_head_bytes(c, r, version) > h->lim.max_header) {
		h->st.header_too_large++;
		return httpd_refuse(r, c, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
		    "request header fields too large\n");
	}
	if (cl && httpd_content_length(cl, &n) == 0 && n > h->lim.max_body) {
		h->st.too_large++;
		return httpd_refuse(r, c, MHD_HTTP_CONTENT_TOO_LARGE, HTTPD_413_BODY);
	}
	r->path = q ? xasprintf("%.*s", (int)(q - r->target), r->target) : xstrdup(r->target);
	if (form_decode(r->path, false) < 0 || (q && form_parse(&r->params, q + 1, strlen(q + 1), false) < 0)) {
		h->st.bad++;
		return httpd_refuse(r, c, MHD_HTTP_BAD_REQUEST, "bad percent-encoding in the request target\n");
	}
	r->state = REQ_BODY;
	return MHD_YES;
}

/* A body outgrows max_body while it arrives (chunked: no length was
 * declared).  MHD 0.9.75 takes an answer only before the body or after
 * all of it (MHD_queue_response), and reading the rest is what the bound
 * is there to avoid.  So the 413 is written here, on a socket MHD has
 * nothing queued on (it reads a request body), its write side is shut,
 * and MHD is told to close the connection. */
static enum MHD_Result httpd_overflow(struct httpd *h, struct httpd_req *r, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	char ans[192];
	int n;

	h->st.too_large++;
	r->state = REQ_DONE;
	n = snprintf(ans, sizeof ans, "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
	    sizeof HTTPD_413_BODY - 1, HTTPD_413_BODY);
	if (ci && n > 0 && (size_t)n < sizeof ans) {
		/* Best effort: a client whose socket buffer is full sees the close only. */
		if (send(ci->connect_fd, ans, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("httpd: 413 not sent: %s", strerror(errno));
		shutdown(ci->connect_fd, SHUT_WR);
	}
	log_debug("httpd: answered 413: body over %zu bytes", h->lim.max_body);
	return MHD_NO;
}

static enum MHD_Result httpd_body(struct httpd *h, struct httpd_req *r, struct MHD_Connection *c,
    const char *data, size_t *size)
{
	if (!httpd_body_fits(r->body.len, *size, h->lim.max_body))
		return httpd_overflow(h, r, c);
	sbuf_add(&r->body, data, *size);
	*size = 0;
	return MHD_YES;
}

/* The whole request is in: decode the form body, hand it to the owner. */
static enum MHD_Result httpd_complete(struct httpd *h, struct httpd_req *r, struct MHD_Connection *c)
{
	const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

	if (r->body.len && form_is_urlencoded(ctype) &&
	    form_parse(&r->params, r->body.s, r->body.len, true) < 0) {
		h->st.bad++;
		return httpd_refuse(r, c, MHD_HTTP_BAD_REQUEST, "bad percent-encoding in the form body\n");
	}
	r->state = REQ_HELD;
	httpd_held_link(h, r);
	h->st.requests++;
	h->fn(r, h->arg);
	if (r->state == REQ_ANSWERED)
		return httpd_queue_answer(r, c);
	MHD_suspend_connection(c);
	r->suspended = true;
	return MHD_YES;
}

static enum MHD_Result httpd_access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data, size_t *size, void **req_cls)
{
	struct httpd *h = httpd_check(cls);
	struct httpd_req *r = *req_cls;

	if (!r)                        /* the URI callback always made one */
		r = *req_cls = httpd_uri_cb(h, url, c);
	httpd_req_check(r);
	switch (r->state) {
	case REQ_HEAD:
		return httpd_head(h, r, c, method, version);
	case REQ_BODY:
		if (*size)
			return httpd_body(h, r, c, data, size);
		return httpd_complete(h, r, c);
	case REQ_ANSWERED:             /* resumed by httpd_answer */
		return httpd_queue_answer(r, c);
	case REQ_HELD:                 /* resumed by httpd_free: drop it */
	case REQ_DONE:
		break;
	}
	return MHD_NO;
}

/* ------------------------------------------------------------------------
 * The listening socket
 * --------------------------------------------------------------------- */

static int httpd_bind(const char *listen_on, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (!listen_on || httpd_listen_addr(listen_on, &ss, &len, err, errlen) < 0) {
		if (!listen_on)
			snprintf(err, errlen, "nothing to listen on");
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: socket: %s", listen_on, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", listen_on, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* A socket systemd passed: MHD closes what it listens on, so it gets a
 * duplicate and the caller keeps `fd` (a reload can listen on it again). */
static int httpd_adopt(int fd, char *err, size_t errlen)
{
	int dup;

	if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
		snprintf(err, errlen, "descriptor %d is not a listening stream socket", fd);
		return -1;
	}
	if ((dup = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		snprintf(err, errlen, "cannot duplicate descriptor %d: %s", fd, strerror(errno));
		return -1;
	}
	return dup;
}

/* ------------------------------------------------------------------------
 * Public API
 * --------------------------------------------------------------------- */

static struct MHD_Daemon *httpd_start(struct httpd *h, int lfd)
{
	return MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, httpd_access_cb, h,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)lfd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h->lim.max_conns,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, httpd_pool_bytes(h->lim.max_header),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)httpd_idle_secs(h->lim.max_conn_time),
	    MHD_OPTION_URI_LOG_CALLBACK, httpd_uri_cb, h,
	    MHD_OPTION_NOTIFY_COMPLETED, httpd_completed_cb, h,
	    MHD_OPTION_NOTIFY_CONNECTION, httpd_conn_cb, h,
	    MHD_OPTION_EXTERNAL_LOGGER, httpd_mhd_log, h,
	    MHD_OPTION_END);
}

struct httpd *httpd_new(struct ev_loop *loop, const char *listen_on, int fd,
    const struct httpd_limits *lim, httpd_fn fn, void *arg, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *di;
	struct httpd *h;
	int lfd = fd >= 0 ? httpd_adopt(fd, err, errlen) : httpd_bind(listen_on, err, errlen);

	if (lfd < 0)
		return NULL;
	h = xcalloc(1, sizeof *h);
	h->magic = HTTPD_MAGIC;
	h->loop = loop;
	h->fn = fn;
	h->arg = arg;
	httpd_limits_resolve(&h->lim, lim);
	/* On failure MHD has closed lfd on some paths and not on others:
	 * leaking one descriptor beats closing someone else's. */
	if (!(h->d = httpd_start(h, lfd)) ||
	    !(di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD))) {
		snprintf(err, errlen, "libmicrohttpd could not start (out of memory or descriptors?)");
		if (h->d)
			MHD_stop_daemon(h->d);
		free(h);
		return NULL;
	}
	ev_io_init(&h->io, httpd_io_cb, di->epoll_fd, EV_READ);
	h->io.data = h;
	ev_io_start(loop, &h->io);
	ev_timer_init(&h->timer, httpd_timer_cb, 0.0, 0.0);
	h->timer.data = h;
	httpd_rearm(h);
	return h;
}

void httpd_free(struct httpd *h)
{
	struct httpd_req *r, *next;

	if (!h)
		return;
	httpd_check(h);
	h->stopping = true;
	/* MHD_stop_daemon aborts the process on a suspended connection. */
	for (r = h->held; r; r = next) {
		next = r->next;
		if (r->suspended) {
			r->suspended = false;
			MHD_resume_connection(r->conn);
		} else if (!r->conn) {
			httpd_held_unlink(h, r);
			httpd_req_free(r);
		}
	}
	ev_io_stop(h->loop, &h->io);
	ev_timer_stop(h->loop, &h->timer);
	MHD_stop_daemon(h->d);         /* runs the completed and closed callbacks */
	assert(!h->held && h->st.conns == 0);
	h->magic = 0;
	free(h);
}

void httpd_stats(const struct httpd *h, struct httpd_stats *st)
{
	*st = httpd_check(h)->st;
}

const char *httpd_method(const struct httpd_req *r)
{
	return httpd_req_check(r)->method;
}

const char *httpd_path(const struct httpd_req *r)
{
	return httpd_req_check(r)->path;
}

const char *httpd_target(const struct httpd_req *r)
{
	return httpd_req_check(r)->target;
}

const char *httpd_header(const struct httpd_req *r, const char *name)
{
	httpd_req_check(r);
	return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name) : NULL;
}

size_t httpd_nparams(const struct httpd_req *r)
{
	return httpd_req_check(r)->params.n;
}

void httpd_param(const struct httpd_req *r, size_t i, const char **name, const char **value,
    bool *from_body)
{
	const struct form_param *p;

	httpd_req_check(r);
	assert(i < r->params.n);
	p = &r->params.v[i];
	if (name)
		*name = p->name;
	if (value)
		*value = p->value;
	if (from_body)
		*from_body = p->from_body;
}

const char *httpd_param_get(const struct httpd_req *r, const char *name)
{
	return form_get(&httpd_req_check(r)->params, name);
}

void httpd_answer(struct httpd_req *r, int status, const char *ctype, const char *body, size_t len)
{
	struct httpd *h;

	httpd_req_check(r);
	assert(r->state == REQ_HELD);
	h = r->h;
	httpd_held_unlink(h, r);
	if (!r->conn) {                /* its connection is gone */
		httpd_req_free(r);
		return;
	}
	r->status = status >= 100 && status <= 599 ? (unsigned)status : MHD_HTTP_INTERNAL_SERVER_ERROR;
	r->resp = httpd_response(ctype, body, len);
	r->state = REQ_ANSWERED;
	if (r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->conn);
		httpd_kick(h);
	}
}
