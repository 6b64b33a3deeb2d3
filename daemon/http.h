/* http.h - one libcurl multi handle driven by libev.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION -> one
 * ev_io each) and when to call it back (CURLMOPT_TIMERFUNCTION -> one
 * ev_timer, replaced on each call).  No transfer ever blocks the loop. */
#ifndef IOPD_HTTP_H
#define IOPD_HTTP_H

#include <stddef.h>

#include <curl/curl.h>
#include <ev.h>

#include "iopd/plugin.h"

struct http;

struct http *http_new(struct ev_loop *loop);
/* Adds `easy`; done(easy, rc, arg) runs once when it ends, unless
 * cancelled.  Returns 0 or -1 (not added; done will not run). */
int http_submit(struct http *h, CURL *easy, iopd_http_fn done, void *arg);
/* Removes `easy` if it is still running; its done will not run. */
void http_cancel(struct http *h, CURL *easy);
size_t http_active(const struct http *h);
/* Cancels what still runs (no callbacks) and frees everything. */
void http_free(struct http *h);

/* The engine as the plugin host sees it: a handle and its two calls.
 * The host is in every iopd command; the engine, and libcurl, only in the
 * network module (netmod.h), so the host is handed pointers, not symbols. */
struct http_port {
	struct http *http;
	int (*submit)(struct http *h, CURL *easy, iopd_http_fn done, void *arg);
	void (*cancel)(struct http *h, CURL *easy);
};
/* NULL for NULL (no engine: the host's submits fail). */
const struct http_port *http_port(struct http *h);

#endif
