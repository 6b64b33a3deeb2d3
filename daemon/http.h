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

#endif
