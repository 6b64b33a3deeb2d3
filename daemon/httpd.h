/* httpd.h - the inbound HTTP listener (SPEC 8), on the daemon's loop.
 *
 * libmicrohttpd parses HTTP and handles connections; it runs without
 * threads of its own, driven from libev (its epoll descriptor watched by
 * an ev_io, its timeout by an ev_timer), so the loop never waits on a
 * client.  Everything is bounded: connections, header bytes, body bytes
 * (a larger body is answered 413 without reading it), and the whole life
 * of a connection (a client sending a byte a second is cut off).
 *
 * The owner sees complete requests only, and answers each exactly once,
 * at once or later (after a ledger commit): an unanswered request keeps
 * its connection suspended until httpd_answer. */
#ifndef IOPD_HTTPD_H
#define IOPD_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

struct httpd;
struct httpd_req;                      /* one complete request, until answered */

/* A zero member takes its default (64 KiB, 8 KiB, 256, 10 s). */
struct httpd_limits {
	size_t max_body;               /* bytes; larger: 413 (SPEC 8: 64 KiB) */
	size_t max_header;             /* request line and headers, bytes */
	unsigned max_conns;            /* open connections at once */
	double max_conn_time;          /* seconds a connection may live, in all */
};

/* Called on the loop thread when a request is complete (its whole body
 * in).  `r` stays valid until httpd_answer(r, ...), which must be called
 * exactly once, from fn itself or later (its connection waits, suspended;
 * max_conn_time still cuts its client off, but r stays valid), or until
 * httpd_free.  Answered by httpd itself, never seen by fn: 413 (body over
 * max_body, declared or chunked), 431 (headers over max_header), 400 (a
 * path or parameter with a bad %-escape or %00); and by libmicrohttpd:
 * 400 (malformed HTTP), 414 (request line too long), 431. */
typedef void (*httpd_fn)(struct httpd_req *r, void *arg);

/* Listens on `listen` ("host:port", "[v6]:port"), or, when fd >= 0, on
 * that already listening socket (one systemd passed, sd_listen_fds): fd
 * stays the caller's (httpd listens on a duplicate of it), so a reload may
 * free the listener and make a new one on the same fd.  `lim` may be NULL.
 * NULL on failure with the reason in err. */
struct httpd *httpd_new(struct ev_loop *loop, const char *listen, int fd,
    const struct httpd_limits *lim, httpd_fn fn, void *arg, char *err, size_t errlen);
/* Closes the listener and every connection; requests not yet answered are
 * dropped (their clients see the connection close) and freed: the owner
 * must forget them and never answer them.  Not from inside httpd_fn. */
void httpd_free(struct httpd *h);

/* What the listener refused by itself (the owner never saw these requests)
 * and what it holds, for metrics. */
struct httpd_stats {
	unsigned long long requests;   /* complete requests handed to httpd_fn */
	unsigned long long too_large;  /* answered 413 */
	unsigned long long header_too_large;  /* answered 431 (above max_header) */
	unsigned long long bad;        /* answered 400: bad percent-encoding */
	unsigned long long cut;        /* connections cut at max_conn_time */
	unsigned conns;                /* connections open now */
	unsigned held;                 /* requests handed out, not yet answered */
};
void httpd_stats(const struct httpd *h, struct httpd_stats *st);

const char *httpd_method(const struct httpd_req *r);
const char *httpd_path(const struct httpd_req *r);      /* decoded, without the query */
const char *httpd_target(const struct httpd_req *r);    /* path and query, as received */
const char *httpd_header(const struct httpd_req *r, const char *name);   /* any case; NULL */

/* Parameters, decoded, in the order received: those of the query string,
 * then those of an application/x-www-form-urlencoded body. */
size_t httpd_nparams(const struct httpd_req *r);
void httpd_param(const struct httpd_req *r, size_t i, const char **name, const char **value,
    bool *from_body);
const char *httpd_param_get(const struct httpd_req *r, const char *name);   /* the first; NULL */

/* Answers with `status`, content type `ctype` (NULL: text/plain) and a
 * copy of `body`; frees r. */
void httpd_answer(struct httpd_req *r, int status, const char *ctype, const char *body, size_t len);

#endif
