/* httpd_util.h - the pure parts of the inbound HTTP listener: its limits
 * and their arithmetic, and the listen address.  Split from httpd.c so the
 * unit tests can reach them; nothing else should need them. */
#ifndef IOPD_HTTPD_UTIL_H
#define IOPD_HTTPD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "httpd.h"

#define HTTPD_DEFAULT_MAX_BODY (64 * 1024)       /* SPEC 8 */
#define HTTPD_DEFAULT_MAX_HEADER (8 * 1024)      /* nginx's and Apache's usual bound */
#define HTTPD_DEFAULT_MAX_CONNS 256u
#define HTTPD_DEFAULT_MAX_CONN_TIME 10.0         /* Twilio gives up after 15 s */

/* `in` (may be NULL) with every zero member replaced by its default and
 * every member clamped to what the listener can honour. */
void httpd_limits_resolve(struct httpd_limits *out, const struct httpd_limits *in);

/* libmicrohttpd's per-connection memory pool for a header bound: the
 * request line and headers are parsed in place in it, next to a record per
 * header and, later, the answer's own header lines. */
size_t httpd_pool_bytes(size_t max_header);

/* libmicrohttpd's inactivity timeout, whole seconds: only a backstop,
 * since our own bound on the whole life of a connection comes first. */
unsigned httpd_idle_secs(double max_conn_time);

/* Whether `more` bytes still fit after `have`, within `max`, without overflow. */
bool httpd_body_fits(size_t have, size_t more, size_t max);

/* A Content-Length value: 0 and its value in *n (saturated at UINT64_MAX),
 * or -1 if it is not a decimal number. */
int httpd_content_length(const char *v, uint64_t *n);

/* "host:port": a numeric IPv4 address, "[v6]" or "localhost" (127.0.0.1),
 * and a port 1..65535.  Names are refused: resolving them could block. */
int httpd_listen_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len,
    char *err, size_t errlen);

#endif
