/* httpd_util.c - see httpd_util.h */
#include "config.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd_util.h"

/* Beyond these a limit protects nothing: a body of 16 MiB per connection,
 * or a day-long connection, is no bound at all. */
#define HTTPD_CEIL_BODY (16u * 1024 * 1024)
#define HTTPD_CEIL_HEADER (1024u * 1024)
#define HTTPD_CEIL_CONNS 65536u
#define HTTPD_CEIL_CONN_TIME 3600.0
#define HTTPD_FLOOR_HEADER 1024u
#define HTTPD_FLOOR_CONN_TIME 0.1

void httpd_limits_resolve(struct httpd_limits *out, const struct httpd_limits *in)
{
	struct httpd_limits l = {0};

	if (in)
		l = *in;
	if (l.max_body == 0)
		l.max_body = HTTPD_DEFAULT_MAX_BODY;
	if (l.max_header == 0)
		l.max_header = HTTPD_DEFAULT_MAX_HEADER;
	if (l.max_conns == 0)
		l.max_conns = HTTPD_DEFAULT_MAX_CONNS;
	if (!(l.max_conn_time > 0))    /* also NaN */
		l.max_conn_time = HTTPD_DEFAULT_MAX_CONN_TIME;
	if (l.max_body > HTTPD_CEIL_BODY)
		l.max_body = HTTPD_CEIL_BODY;
	if (l.max_header > HTTPD_CEIL_HEADER)
		l.max_header = HTTPD_CEIL_HEADER;
	if (l.max_header < HTTPD_FLOOR_HEADER)
		l.max_header = HTTPD_FLOOR_HEADER;
	if (l.max_conns > HTTPD_CEIL_CONNS)
		l.max_conns = HTTPD_CEIL_CONNS;
	if (l.max_conn_time > HTTPD_CEIL_CONN_TIME)
		l.max_conn_time = HTTPD_CEIL_CONN_TIME;
	if (l.max_conn_time < HTTPD_FLOOR_CONN_TIME)
		l.max_conn_time = HTTPD_FLOOR_CONN_TIME;
	*out = l;
}

/* Twice the header bound: the header block itself, then a record of about
 * 56 bytes per header or query parameter (a block of short headers needs
 * more records than bytes), and 4 KiB for the answer's status line and
 * headers.  A request that does not fit is answered 431 (or 414 for a
 * request line alone too long) by libmicrohttpd itself. */
size_t httpd_pool_bytes(size_t max_header)
{
	return 2 * max_header + 4096;
}

/* A second more than the whole life, so that our own timer, which counts
 * what it cuts, always comes first. */
unsigned httpd_idle_secs(double max_conn_time)
{
	return (unsigned)ceil(max_conn_time) + 1;
}

bool httpd_body_fits(size_t have, size_t more, size_t max)
{
	return have <= max && more <= max - have;
}

int httpd_content_length(const char *v, uint64_t *n)
{
	uint64_t x = 0;
	bool any = false;

	for (v += strspn(v, " \t"); *v >= '0' && *v <= '9'; v++, any = true)
		x = x > (UINT64_MAX - 9) / 10 ? UINT64_MAX : x * 10 + (uint64_t)(*v - '0');
	v += strspn(v, " \t");
	if (!any || *v)
		return -1;
	*n = x;
	return 0;
}

static int httpd_port(const char *p, unsigned short *port)
{
	char *end;
	long v;

	if (*p < '0' || *p > '9')
		return -1;
	v = strtol(p, &end, 10);
	if (*end || v < 1 || v > 65535)
		return -1;
	*port = (unsigned short)v;
	return 0;
}

int httpd_listen_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len,
    char *err, size_t errlen)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	const char *colon = strrchr(s, ':');
	char host[64];
	size_t hlen;
	unsigned short port;

	memset(ss, 0, sizeof *ss);
	if (!colon || httpd_port(colon + 1, &port) < 0) {
		snprintf(err, errlen, "\"%s\" is not host:port (e.g. \"127.0.0.1:8787\" or \"[::1]:8787\")", s);
		return -1;
	}
	hlen = (size_t)(colon - s);
	if (hlen >= sizeof host)
		goto bad_host;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) != 1)
			goto bad_host;
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		*len = sizeof *v6;
		return 0;
	}
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
		goto bad_host;
	v4->sin_family = AF_INET;
	v4->sin_port = htons(port);
	*len = sizeof *v4;
	return 0;
bad_host:
	snprintf(err, errlen, "\"%s\": the host must be a numeric IPv4 address, [IPv6] or localhost", s);
	return -1;
}
