/* http.c - one libcurl multi handle driven by libev (see http.h).
 *
 * This is curl's "multi_socket" API in the shape of its evhiperfifo
 * example, with the example's shortcuts removed:
 *
 *   - CURLMOPT_SOCKETFUNCTION: curl names a socket and what it waits for;
 *     we keep one ev_io per socket, attached to it with curl_multi_assign,
 *     and tell curl about readiness with curl_multi_socket_action.
 *   - CURLMOPT_TIMERFUNCTION: curl asks for ONE timeout, which replaces
 *     the previous one (-1 deletes it, 0 means "as soon as you can").  We
 *     only arm an ev_timer there; curl forbids driving the multi handle
 *     from inside its own callbacks, so the work happens when it fires.
 *   - after every curl_multi_socket_action, finished transfers are read
 *     with curl_multi_info_read and found through CURLINFO_PRIVATE.
 *
 * Ownership: the easy handle stays the caller's.  We only borrow its
 * CURLOPT_PRIVATE (our struct http_xfer) and CURLOPT_SHARE while it runs,
 * and reset both before handing it back, so a finished or cancelled
 * handle carries no pointer into this module. */
#include "config.h"

#include <assert.h>
#include <stdlib.h>

#include "http.h"
#include "log.h"
#include "util.h"

/* Magic numbers for everything that travels through a void * (curl's
 * userp/sockp/private, libev's w->data): a stale or foreign pointer trips
 * an assertion instead of corrupting memory quietly. */
#define HTTP_MAGIC 0x48545450u         /* "HTTP" */
#define HTTP_XFER_MAGIC 0x58464552u    /* "XFER" */
#define HTTP_SOCK_MAGIC 0x534f434bu    /* "SOCK" */

/* Idle connections kept for reuse.  curl's default is 4 per easy handle
 * currently added, which shrinks to a handful between two bursts of
 * reminders and closes the very connections the next burst wants.
 * (Was 64: a channel with concurrency above 64 then closed and reopened
 * its surplus connections on every send; bench W2 at concurrency 256 spent
 * a quarter of its time in connect/close.  An idle connection costs an fd
 * and a few KB; no more are opened than the channels' concurrency.) */
#define HTTP_MAX_IDLE_CONNECTIONS 1024L

/* One submitted transfer. */
struct http_xfer {
	unsigned magic;
	struct http *h;
	CURL *easy;
	iopd_http_fn done;
	void *arg;
	struct http_xfer *prev, *next;
};

/* One socket curl asked us to watch. */
struct http_sock {
	unsigned magic;
	struct http *h;
	curl_socket_t fd;
	ev_io io;
	struct http_sock *prev, *next;
};

struct http {
	unsigned magic;
	struct ev_loop *loop;
	CURLM *multi;
	CURLSH *share;
	ev_timer timer;                /* the one timeout curl asked for */
	struct http_xfer *xfers;       /* every transfer in the multi handle */
	struct http_sock *socks;       /* every socket being watched */
	size_t active;
	int reaping;                   /* inside http_reap: http_free is a bug */
	struct http_port port;         /* this, for the plugin host */
};

static struct http *http_check(const void *p)
{
	const struct http *h = p;

	assert(h && h->magic == HTTP_MAGIC);
	return (struct http *)h;
}

/* ------------------------------------------------------------------------
 * Transfers
 * --------------------------------------------------------------------- */

static struct http_xfer *http_private(CURL *easy)
{
	struct http_xfer *x = NULL;

	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK)
		return NULL;
	return x;
}

/* The transfer `easy` belongs to, or NULL once it is finished or
 * cancelled (CURLOPT_PRIVATE is reset then). */
static struct http_xfer *http_xfer_of(struct http *h, CURL *easy)
{
	struct http_xfer *x = http_private(easy);

	if (!x)
		return NULL;
	if (x->magic != HTTP_XFER_MAGIC || x->easy != easy || x->h != h) {
		/* The host owns CURLOPT_PRIVATE (plugin.h); someone else set it. */
		log_err("http: easy handle %p carries a foreign CURLOPT_PRIVATE", (void *)easy);
		return NULL;
	}
	return x;
}

static void http_xfer_link(struct http *h, struct http_xfer *x)
{
	x->prev = NULL;
	x->next = h->xfers;
	if (h->xfers)
		h->xfers->prev = x;
	h->xfers = x;
	h->active++;
}

static void http_xfer_unlink(struct http *h, struct http_xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		h->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	h->active--;
}

/* Forgets a transfer whose handle is not (or no longer) in the multi
 * handle, leaving no pointer of ours in the easy handle. */
static void http_xfer_drop(struct http *h, struct http_xfer *x)
{
	CURL *easy = x->easy;

	curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)NULL);
	if (h->share)
		curl_easy_setopt(easy, CURLOPT_SHARE, (CURLSH *)NULL);
	http_xfer_unlink(h, x);
	x->magic = 0;
	free(x);
}

/* Hands the easy handle back to its owner.  No callback. */
static void http_xfer_release(struct http *h, struct http_xfer *x)
{
	CURLMcode mrc = curl_multi_remove_handle(h->multi, x->easy);

	if (mrc != CURLM_OK)
		log_err("http: curl_multi_remove_handle: %s", curl_multi_strerror(mrc));
	http_xfer_drop(h, x);
}

/* A transfer ended: release it first, then call back, so the callback
 * may free or resubmit its handle, submit others or cancel others. */
static void http_finish(struct http *h, CURL *easy, CURLcode rc)
{
	struct http_xfer *x = http_xfer_of(h, easy);
	iopd_http_fn done;
	void *arg;

	if (!x) {
		curl_multi_remove_handle(h->multi, easy);
		return;
	}
	done = x->done;
	arg = x->arg;
	http_xfer_release(h, x);
	done(easy, rc, arg);
}

/* Reads every finished transfer.  Callbacks run in between; that is safe:
 * curl_multi_remove_handle (a cancel) also drops a queued message of that
 * handle, and adding handles does not touch the message queue. */
static void http_reap(struct http *h)
{
	CURLMsg *msg;
	int left;

	h->reaping++;
	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			http_finish(h, msg->easy_handle, msg->data.result);
	h->reaping--;
}

/* The one place that drives curl: from a socket event or the timeout. */
static void http_action(struct http *h, curl_socket_t fd, int flags)
{
	int running;
	CURLMcode mrc = curl_multi_socket_action(h->multi, fd, flags, &running);

	if (mrc != CURLM_OK)
		log_err("http: curl_multi_socket_action: %s", curl_multi_strerror(mrc));
	http_reap(h);
}

/* ------------------------------------------------------------------------
 * Sockets: CURLMOPT_SOCKETFUNCTION
 * --------------------------------------------------------------------- */

static void http_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_sock *s = w->data;
	int flags = 0;

	(void)loop;
	assert(s && s->magic == HTTP_SOCK_MAGIC);
	if (revents & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (revents & EV_ERROR)
		flags |= CURL_CSELECT_ERR;
	/* `s` may be freed inside (CURL_POLL_REMOVE): use nothing of it after. */
	http_action(s->h, s->fd, flags);
}

static struct http_sock *http_sock_new(struct http *h, curl_socket_t fd)
{
	struct http_sock *s = xcalloc(1, sizeof *s);

	s->magic = HTTP_SOCK_MAGIC;
	s->h = h;
	s->fd = fd;
	ev_io_init(&s->io, http_io_cb, fd, 0);
	s->io.data = s;
	s->next = h->socks;
	if (h->socks)
		h->socks->prev = s;
	h->socks = s;
	curl_multi_assign(h->multi, fd, s);
	return s;
}

static void http_sock_free(struct http *h, struct http_sock *s)
{
	ev_io_stop(h->loop, &s->io);
	if (s->prev)
		s->prev->next = s->next;
	else
		h->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->magic = 0;
	free(s);
}

/* libev forbids ev_io_set on an active watcher: stop, set, restart.  The
 * set also makes libev re-register the fd, which matters when curl closed
 * a socket and got the same number back for a new one. */
static void http_sock_watch(struct http *h, struct http_sock *s, int what)
{
	int events = 0;

	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	ev_io_stop(h->loop, &s->io);
	ev_io_set(&s->io, s->fd, events);
	if (events)
		ev_io_start(h->loop, &s->io);
}

static int http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct http *h = http_check(userp);
	struct http_sock *s = sockp;

	(void)easy;
	assert(!s || s->magic == HTTP_SOCK_MAGIC);
	if (what == CURL_POLL_REMOVE) {
		if (s)
			http_sock_free(h, s);
		return 0;
	}
	if (!s)
		s = http_sock_new(h, fd);
	http_sock_watch(h, s, what);
	return 0;
}

/* ------------------------------------------------------------------------
 * The timeout: CURLMOPT_TIMERFUNCTION
 * --------------------------------------------------------------------- */

static void http_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	http_action(http_check(w->data), CURL_SOCKET_TIMEOUT, 0);
}

/* Replaces the timeout.  A 0 ms timeout becomes a 0 s ev_timer (it fires
 * on the next loop iteration): calling curl_multi_socket_action from here
 * would re-enter curl, which curl does not allow. */
static int http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = http_check(userp);

	(void)multi;
	ev_timer_stop(h->loop, &h->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&h->timer, (double)timeout_ms / 1000.0, 0.0);
		ev_timer_start(h->loop, &h->timer);
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Public API
 * --------------------------------------------------------------------- */

/* A share handle for TLS sessions only: the handles of one multi already
 * share its DNS and connection caches, but TLS session ids are kept per
 * easy handle, and plugins make a new easy handle per send.  Sharing them
 * turns the handshake of every reconnect into a cheap resumption.  All
 * use is on the loop thread, so the share needs no lock callbacks. */
static CURLSH *http_share_new(void)
{
	CURLSH *sh = curl_share_init();

	if (sh && curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		curl_share_cleanup(sh);
		sh = NULL;
	}
	if (!sh)
		log_warn("http: no TLS session sharing (curl_share_init failed)");
	return sh;
}

static void http_multi_setup(struct http *h)
{
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	/* CURLMOPT_MAX_HOST_CONNECTIONS stays 0 (no limit): each channel has its
	 * own `concurrency`, enforced above us.  CURLMOPT_PIPELINING keeps its
	 * default, HTTP/2 multiplexing where the server offers it. */
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, HTTP_MAX_IDLE_CONNECTIONS);
}

struct http *http_new(struct ev_loop *loop)
{
	struct http *h;

	/* Reference counted by curl, and thread-safe since 7.84; iopd's main
	 * still calls it first, before any thread exists. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("http: curl_global_init failed");
		return NULL;
	}
	h = xcalloc(1, sizeof *h);
	h->magic = HTTP_MAGIC;
	h->loop = loop;
	h->port = (struct http_port){h, http_submit, http_cancel};
	h->multi = curl_multi_init();
	if (!h->multi) {
		log_err("http: curl_multi_init failed");
		free(h);
		curl_global_cleanup();
		return NULL;
	}
	h->share = http_share_new();
	ev_timer_init(&h->timer, http_timeout_cb, 0.0, 0.0);
	h->timer.data = h;
	http_multi_setup(h);
	return h;
}

int http_submit(struct http *h, CURL *easy, iopd_http_fn done, void *arg)
{
	struct http_xfer *x;
	CURLMcode mrc;

	http_check(h);
	if (!easy || !done)
		return -1;
	x = http_private(easy);
	if (x && x->magic == HTTP_XFER_MAGIC)
		return -1;             /* already running (here or elsewhere) */
	x = xcalloc(1, sizeof *x);
	x->magic = HTTP_XFER_MAGIC;
	x->h = h;
	x->easy = easy;
	x->done = done;
	x->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)x);
	/* Signals would interrupt the loop thread; with the threaded resolver
	 * curl needs none.  (The daemon ignores SIGPIPE for TLS writes.) */
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	if (h->share)
		curl_easy_setopt(easy, CURLOPT_SHARE, h->share);
	http_xfer_link(h, x);
	mrc = curl_multi_add_handle(h->multi, easy);
	if (mrc != CURLM_OK) {
		log_err("http: curl_multi_add_handle: %s", curl_multi_strerror(mrc));
		http_xfer_drop(h, x);
		return -1;
	}
	return 0;
}

void http_cancel(struct http *h, CURL *easy)
{
	struct http_xfer *x;

	http_check(h);
	if (easy && (x = http_xfer_of(h, easy)) != NULL)
		http_xfer_release(h, x);
}

size_t http_active(const struct http *h)
{
	return http_check(h)->active;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	http_check(h);
	/* A done callback freeing the module that is calling it. */
	assert(!h->reaping);
	while (h->xfers)
		http_xfer_release(h, h->xfers);
	/* curl_multi_cleanup still closes cached connections and would report
	 * their sockets to a half-freed module: unhook it, then stop and free
	 * the watchers ourselves while their fds are still open. */
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, (curl_socket_callback)NULL);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, (curl_multi_timer_callback)NULL);
	while (h->socks)
		http_sock_free(h, h->socks);
	ev_timer_stop(h->loop, &h->timer);
	curl_multi_cleanup(h->multi);
	if (h->share && curl_share_cleanup(h->share) != CURLSHE_OK)
		log_err("http: share handle still in use at exit");
	h->magic = 0;
	free(h);
	curl_global_cleanup();
}

const struct http_port *http_port(struct http *h)
{
	return h ? &http_check(h)->port : NULL;
}
