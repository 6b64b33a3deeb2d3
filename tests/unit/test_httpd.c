/* test_httpd.c - the pure parts of the inbound HTTP listener: form and
 * percent decoding (daemon/form.c), limits arithmetic and the listen
 * address (daemon/httpd_util.c).  The listener itself is tested whole, on
 * real sockets, by tests/integration/inbound_http.sh. */
#include "config.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "form.h"
#include "httpd_util.h"

/* ---- percent-decoding ------------------------------------------------------ */

static void decode_ok(const char *in, bool plus, const char *want)
{
	char buf[256];

	snprintf(buf, sizeof buf, "%s", in);
	assert_int_equal(form_decode(buf, plus), 0);
	assert_string_equal(buf, want);
}

static void decode_bad(const char *in)
{
	char buf[256];

	snprintf(buf, sizeof buf, "%s", in);
	assert_int_equal(form_decode(buf, true), -1);
}

static void test_decode(void **state)
{
	(void)state;
	decode_ok("", true, "");
	decode_ok("plain", true, "plain");
	decode_ok("a+b", true, "a b");
	decode_ok("a+b", false, "a+b");
	decode_ok("%2B1555", true, "+1555");
	decode_ok("%2b%2F%3d", true, "+/=");
	decode_ok("%C3%A9t%C3%A9", true, "\xc3\xa9t\xc3\xa9");
	decode_ok("100%25", true, "100%");
	decode_ok("%25%32%30", true, "%20");       /* decoded once, not twice */
	decode_ok("%20+%20", true, "   ");
	decode_bad("%");
	decode_bad("%2");
	decode_bad("a%zz");
	decode_bad("%g0");
	decode_bad("%0");
	decode_bad("x%00y");                        /* NUL cannot be carried */
}

/* ---- form parsing ---------------------------------------------------------- */

static void want_param(const struct form *f, size_t i, const char *name, const char *value, bool body)
{
	assert_true(i < f->n);
	assert_string_equal(f->v[i].name, name);
	assert_string_equal(f->v[i].value, value);
	assert_int_equal(f->v[i].from_body, body);
}

static void test_form_order_and_flags(void **state)
{
	struct form f = {0};
	const char *q = "key=K&from=%2B15550001111&text=Hello+World%21&text=again";
	const char *b = "From=%2B1&Body=STOP&To=%2B18005551212";

	(void)state;
	assert_int_equal(form_parse(&f, q, strlen(q), false), 0);
	assert_int_equal(form_parse(&f, b, strlen(b), true), 0);
	assert_int_equal(f.n, 7);
	want_param(&f, 0, "key", "K", false);
	want_param(&f, 1, "from", "+15550001111", false);
	want_param(&f, 2, "text", "Hello World!", false);
	want_param(&f, 3, "text", "again", false);
	want_param(&f, 4, "From", "+1", true);
	want_param(&f, 5, "Body", "STOP", true);
	want_param(&f, 6, "To", "+18005551212", true);
	assert_string_equal(form_get(&f, "text"), "Hello World!");    /* the first */
	assert_string_equal(form_get(&f, "From"), "+1");              /* names are exact */
	assert_string_equal(form_get(&f, "from"), "+15550001111");
	assert_null(form_get(&f, "missing"));
	form_free(&f);
	assert_int_equal(f.n, 0);
	assert_null(f.v);
}

static void test_form_edges(void **state)
{
	struct form f = {0};
	const char *s = "&&a&=v&b=&c==d&&e=1=2&=&";
	const char bin[] = "x=1&y=2";

	(void)state;
	assert_int_equal(form_parse(&f, s, strlen(s), false), 0);
	assert_int_equal(f.n, 6);
	want_param(&f, 0, "a", "", false);          /* no '=': empty value */
	want_param(&f, 1, "", "v", false);
	want_param(&f, 2, "b", "", false);
	want_param(&f, 3, "c", "=d", false);        /* split at the first '=' */
	want_param(&f, 4, "e", "1=2", false);
	want_param(&f, 5, "", "", false);           /* "=" alone; the empty pieces: nothing */
	form_free(&f);
	/* Only `len` bytes count: the buffer need not end there. */
	assert_int_equal(form_parse(&f, bin, 3, true), 0);
	assert_int_equal(f.n, 1);
	want_param(&f, 0, "x", "1", true);
	form_free(&f);
	assert_int_equal(form_parse(&f, "", 0, true), 0);
	assert_int_equal(f.n, 0);
	form_free(&f);
}

static void test_form_bad_leaves_form_unchanged(void **state)
{
	struct form f = {0};
	const char *good = "a=1", *bad = "b=2&c=%zz&d=4";
	static const char nul[] = "Body=STOP\0 please&b=1";

	(void)state;
	assert_int_equal(form_parse(&f, good, strlen(good), false), 0);
	assert_int_equal(form_parse(&f, bad, strlen(bad), true), -1);
	assert_int_equal(f.n, 1);
	want_param(&f, 0, "a", "1", false);
	assert_int_equal(form_parse(&f, "n%00=1", 6, true), -1);
	assert_int_equal(f.n, 1);
	/* a NUL byte would cut the text short: "STOP" of "STOP\0 please" */
	assert_int_equal(form_parse(&f, nul, sizeof nul - 1, true), -1);
	assert_int_equal(form_parse(&f, "b=1&\0=x", 7, true), -1);
	assert_int_equal(f.n, 1);
	want_param(&f, 0, "a", "1", false);
	form_free(&f);
}

static void test_form_content_type(void **state)
{
	(void)state;
	assert_true(form_is_urlencoded("application/x-www-form-urlencoded"));
	assert_true(form_is_urlencoded("Application/X-WWW-Form-URLEncoded"));
	assert_true(form_is_urlencoded("application/x-www-form-urlencoded; charset=UTF-8"));
	assert_true(form_is_urlencoded(" application/x-www-form-urlencoded ;charset=utf-8"));
	assert_false(form_is_urlencoded(NULL));
	assert_false(form_is_urlencoded(""));
	assert_false(form_is_urlencoded("application/json"));
	assert_false(form_is_urlencoded("application/x-www-form-urlencodedx"));
	assert_false(form_is_urlencoded("multipart/form-data; boundary=x"));
}

/* ---- limits ------------------------------------------------------------------ */

static void test_limits_defaults(void **state)
{
	struct httpd_limits l, in = {0};

	(void)state;
	httpd_limits_resolve(&l, NULL);
	assert_int_equal(l.max_body, 64 * 1024);
	assert_int_equal(l.max_header, 8 * 1024);
	assert_int_equal(l.max_conns, 256);
	assert_true(l.max_conn_time == 10.0);
	in.max_body = 1000;
	in.max_conn_time = 2.5;
	httpd_limits_resolve(&l, &in);
	assert_int_equal(l.max_body, 1000);            /* given: kept */
	assert_int_equal(l.max_header, 8 * 1024);      /* zero: default */
	assert_true(l.max_conn_time == 2.5);
}

static void test_limits_clamped(void **state)
{
	struct httpd_limits l, in = {SIZE_MAX, 10, 1000000, 1e9};

	(void)state;
	httpd_limits_resolve(&l, &in);
	assert_int_equal(l.max_body, 16 * 1024 * 1024);
	assert_int_equal(l.max_header, 1024);          /* below the floor */
	assert_int_equal(l.max_conns, 65536);
	assert_true(l.max_conn_time == 3600.0);
	in.max_conn_time = -1;
	httpd_limits_resolve(&l, &in);
	assert_true(l.max_conn_time == 10.0);          /* not positive: default */
	in.max_conn_time = NAN;
	httpd_limits_resolve(&l, &in);
	assert_true(l.max_conn_time == 10.0);
	in.max_conn_time = 0.001;
	httpd_limits_resolve(&l, &in);
	assert_true(l.max_conn_time == 0.1);
}

static void test_limits_arithmetic(void **state)
{
	(void)state;
	/* The pool holds the header block, a record per header, the answer. */
	assert_true(httpd_pool_bytes(8192) >= 2 * 8192);
	assert_true(httpd_pool_bytes(8192) < 64 * 1024);
	/* libmicrohttpd's inactivity timeout: after the whole life, always. */
	assert_int_equal(httpd_idle_secs(10.0), 11);
	assert_int_equal(httpd_idle_secs(2.5), 4);
	assert_int_equal(httpd_idle_secs(0.1), 2);
	assert_true(httpd_body_fits(0, 65536, 65536));
	assert_false(httpd_body_fits(0, 65537, 65536));
	assert_true(httpd_body_fits(65000, 536, 65536));
	assert_false(httpd_body_fits(65000, 537, 65536));
	assert_false(httpd_body_fits(65536, 1, 65536));
	assert_true(httpd_body_fits(65536, 0, 65536));
	assert_false(httpd_body_fits(10, SIZE_MAX, 65536));    /* no wrap-around */
	assert_false(httpd_body_fits(SIZE_MAX, 1, 65536));
}

static void test_content_length(void **state)
{
	uint64_t n = 7;

	(void)state;
	assert_int_equal(httpd_content_length("0", &n), 0);
	assert_true(n == 0);
	assert_int_equal(httpd_content_length("65537", &n), 0);
	assert_true(n == 65537);
	assert_int_equal(httpd_content_length(" 12 ", &n), 0);
	assert_true(n == 12);
	assert_int_equal(httpd_content_length("99999999999999999999999999", &n), 0);
	assert_true(n == UINT64_MAX);                     /* saturated, still "too large" */
	n = 7;
	assert_int_equal(httpd_content_length("", &n), -1);
	assert_int_equal(httpd_content_length("-1", &n), -1);
	assert_int_equal(httpd_content_length("12a", &n), -1);
	assert_int_equal(httpd_content_length("1 2", &n), -1);
	assert_true(n == 7);                             /* untouched on error */
}

/* ---- listen addresses ----------------------------------------------------------- */

static void listen_ok(const char *s, int family, const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char err[200], text[INET6_ADDRSTRLEN];

	assert_int_equal(httpd_listen_addr(s, &ss, &len, err, sizeof err), 0);
	assert_int_equal(ss.ss_family, family);
	if (family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;

		assert_int_equal(len, sizeof *v4);
		assert_non_null(inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text));
		assert_int_equal(ntohs(v4->sin_port), port);
	} else {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;

		assert_int_equal(len, sizeof *v6);
		assert_non_null(inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text));
		assert_int_equal(ntohs(v6->sin6_port), port);
	}
	assert_string_equal(text, addr);
}

static void listen_bad(const char *s, const char *says)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[200];

	assert_int_equal(httpd_listen_addr(s, &ss, &len, err, sizeof err), -1);
	assert_non_null(strstr(err, s));            /* names what it refused */
	assert_non_null(strstr(err, says));
}

static void test_listen(void **state)
{
	(void)state;
	listen_ok("127.0.0.1:8787", AF_INET, "127.0.0.1", 8787);
	listen_ok("0.0.0.0:1", AF_INET, "0.0.0.0", 1);
	listen_ok("localhost:65535", AF_INET, "127.0.0.1", 65535);
	listen_ok("[::1]:8787", AF_INET6, "::1", 8787);
	listen_ok("[::]:80", AF_INET6, "::", 80);
	listen_ok("[2001:db8::5]:443", AF_INET6, "2001:db8::5", 443);
	listen_bad("127.0.0.1", "host:port");
	listen_bad("127.0.0.1:", "host:port");
	listen_bad("127.0.0.1:0", "host:port");
	listen_bad("127.0.0.1:65536", "host:port");
	listen_bad("127.0.0.1:80x", "host:port");
	listen_bad("127.0.0.1:-80", "host:port");
	listen_bad("example.org:80", "numeric");
	listen_bad("::1:80", "numeric");
	listen_bad("[::1:80", "numeric");
	listen_bad("[127.0.0.1]:80", "numeric");
	listen_bad("1.2.3:80", "numeric");
	listen_bad(":80", "numeric");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_form_order_and_flags),
		cmocka_unit_test(test_form_edges),
		cmocka_unit_test(test_form_bad_leaves_form_unchanged),
		cmocka_unit_test(test_form_content_type),
		cmocka_unit_test(test_limits_defaults),
		cmocka_unit_test(test_limits_clamped),
		cmocka_unit_test(test_limits_arithmetic),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
