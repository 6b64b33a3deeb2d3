/* test_plugin_gw.c - the shared helpers of the network plugins
 * (plugins/common/gw.h): encoders, the JSON member scanner, Retry-After
 * and HTTP dates, the cleaning of gateway text, and the HTTP status map. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "../../plugins/common/gw.h"

#define NOW 1796083200.0               /* 2026-12-01T00:00:00Z */

static char *form(const char *s)
{
	static char out[512];
	struct gw_buf b = {0};

	gw_form_escape(&b, s);
	assert_non_null(gw_buf_str(&b));
	snprintf(out, sizeof out, "%s", gw_buf_str(&b));
	gw_buf_free(&b);
	return out;
}

static void test_form_escape(void **state)
{
	(void)state;
	assert_string_equal(form("+15551234567"), "%2B15551234567");
	assert_string_equal(form("Hi Alex, 6:00 PM"), "Hi+Alex%2C+6%3A00+PM");
	assert_string_equal(form("a-b.c_d*e~f"), "a-b.c_d*e%7Ef");
	assert_string_equal(form("café €"), "caf%C3%A9+%E2%82%AC");
	assert_string_equal(form("a&b=c%d\n"), "a%26b%3Dc%25d%0A");
	assert_string_equal(form(""), "");
}

static void test_buf_grows_and_printf(void **state)
{
	struct gw_buf b = {0};
	int i;

	(void)state;
	assert_string_equal(gw_buf_str(&b), "");
	for (i = 0; i < 1000; i++)
		gw_buf_printf(&b, "%d,", i % 10);
	assert_int_equal(b.len, 2000);
	assert_int_equal(strlen(b.s), 2000);
	assert_memory_equal(b.s + 1990, "5,6,7,8,9,", 10);
	gw_buf_wipe(&b);
	assert_null(b.s);
	assert_int_equal(b.len, 0);
}

static void test_json_string(void **state)
{
	struct gw_buf b = {0};

	(void)state;
	gw_json_string(&b, "a\"b\\c\nd\te\x01" "f/é");
	assert_string_equal(gw_buf_str(&b), "\"a\\\"b\\\\c\\nd\\te\\u0001f/é\"");
	gw_buf_free(&b);
}

static const char twilio_ok[] =
    "{\"account_sid\": \"AC0123\", \"api_version\": \"2010-04-01\", \"body\": \"hi \\\"sid\\\"\","
    " \"error_code\": null, \"num_segments\": \"1\", \"price\": null,"
    " \"subresource_uris\": {\"media\": \"/x\", \"sid\": \"SMnested\"},"
    " \"tags\": [1, 2.5e3, -0.1, true, false, null, {\"sid\": [\"deep\"]}],"
    " \"sid\": \"SM0123456789abcdef0123456789abcdef\", \"status\": \"queued\"}";

static void test_json_member_skips_nested(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(gw_json_member(twilio_ok, strlen(twilio_ok), "sid", out, sizeof out),
	    GW_JSON_STRING);
	assert_string_equal(out, "SM0123456789abcdef0123456789abcdef");
	assert_int_equal(gw_json_member(twilio_ok, strlen(twilio_ok), "error_code", out, sizeof out),
	    GW_JSON_NULL);
	assert_string_equal(out, "");
	assert_int_equal(gw_json_member(twilio_ok, strlen(twilio_ok), "tags", out, sizeof out),
	    GW_JSON_ARRAY);
	assert_int_equal(gw_json_member(twilio_ok, strlen(twilio_ok), "code", out, sizeof out),
	    GW_JSON_ABSENT);
	assert_int_equal(gw_json_member(twilio_ok, strlen(twilio_ok), "media", out, sizeof out),
	    GW_JSON_ABSENT);
}

static void test_json_member_numbers_and_escapes(void **state)
{
	static const char err[] = " {\"code\":21610,\"message\":\"Attempt to send to "
	    "unsubscribed recipient\",\"more_info\":\"https://www.twilio.com/docs/errors/21610\","
	    "\"status\":400}\n";
	static const char esc[] = "{\"k\\u0065y\": \"a\\u00e9\\ud83d\\ude00\\/\\n\", \"n\": -12.5E+3}";
	char out[64];

	(void)state;
	assert_int_equal(gw_json_member(err, strlen(err), "code", out, sizeof out), GW_JSON_NUMBER);
	assert_string_equal(out, "21610");
	assert_int_equal(gw_json_member(err, strlen(err), "status", out, sizeof out), GW_JSON_NUMBER);
	assert_string_equal(out, "400");
	/* keys are compared unescaped; \u escapes become UTF-8, pairs joined */
	assert_int_equal(gw_json_member(esc, strlen(esc), "key", out, sizeof out), GW_JSON_STRING);
	assert_string_equal(out, "a\xc3\xa9\xf0\x9f\x98\x80/\n");
	assert_int_equal(gw_json_member(esc, strlen(esc), "n", out, sizeof out), GW_JSON_NUMBER);
	assert_string_equal(out, "-12.5E+3");
}

static void test_json_member_bad_input(void **state)
{
	static const char *const bad[] = {
		"", "[]", "\"sid\"", "{\"sid\"}", "{\"a\":1,}", "{\"a\":tru}", "{\"a\":\"open",
		"{\"a\":01}", "{\"a\":[1,2}", "{\"a\":1 \"sid\":\"x\"}", "<html>502</html>",
		"{\"a\":\"\\x\"}",
	};
	char deep[200], out[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(gw_json_member(bad[i], strlen(bad[i]), "sid", out, sizeof out),
		    GW_JSON_INVALID);
	assert_int_equal(gw_json_member(NULL, 0, "sid", out, sizeof out), GW_JSON_INVALID);
	/* an object whose value nests deeper than the scanner follows */
	memset(deep, '[', sizeof deep);
	memcpy(deep, "{\"a\":", 5);
	assert_int_equal(gw_json_member(deep, sizeof deep, "sid", out, sizeof out), GW_JSON_INVALID);
	/* the length bounds the scan: no reading past it */
	assert_int_equal(gw_json_member("{\"sid\":\"abc\"}", 10, "sid", out, sizeof out),
	    GW_JSON_INVALID);
	assert_int_equal(gw_json_member("{}", 2, "sid", out, sizeof out), GW_JSON_ABSENT);
}

static void test_json_member_truncates_whole_characters(void **state)
{
	static const char js[] = "{\"id\":\"ab\xc3\xa9\xc3\xa9\"}";
	char out[5];

	(void)state;
	/* room for 4 bytes: "ab" and one é, never half of the second */
	assert_int_equal(gw_json_member(js, strlen(js), "id", out, sizeof out), GW_JSON_STRING);
	assert_string_equal(out, "ab\xc3\xa9");
	assert_int_equal(gw_json_member(js, strlen(js), "id", NULL, 0), GW_JSON_STRING);
}

static void test_http_date_forms(void **state)
{
	int64_t t = 0;

	(void)state;
	assert_int_equal(gw_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(gw_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(gw_http_date("Sun Nov  6 08:49:37 1994", &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(gw_http_date("Tue, 01 Dec 2026 00:00:00 GMT", &t), 0);
	assert_int_equal(t, 1796083200);
	assert_int_equal(gw_http_date("Tue, 29 Feb 2028 12:00:00 GMT", &t), 0);   /* leap year */
	assert_int_equal(t, 1835438400);
	assert_int_equal(gw_http_date("Wednesday, 01-Dec-27 00:00:00 GMT", &t), 0);
	assert_int_equal(t, 1827619200);
}

static void test_http_date_rejects(void **state)
{
	static const char *const bad[] = {
		"", "120", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 06 Nov 1994 08:49:37", "Sun, 06 Xyz 1994 08:49:37 GMT",
		"Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 29 Feb 2027 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
		"Sun, 06-Nov-1994 08:49:37 GMT x", "Sun Nov  6 08:49:37 94", "Su, 06 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1969 08:49:37 GMT",
	};
	size_t i;
	int64_t t;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(gw_http_date(bad[i], &t), -1);
}

static void test_retry_after(void **state)
{
	(void)state;
	assert_true(gw_retry_after("120", NOW) == 120.0);
	assert_true(gw_retry_after(" 0 ", NOW) == 0.0);
	assert_true(gw_retry_after("99999999999999999999", NOW) == 1e9);
	assert_true(gw_retry_after("Tue, 01 Dec 2026 00:01:30 GMT", NOW) == 90.0);
	assert_true(gw_retry_after("Tue, 01 Dec 2026 00:00:01 GMT", NOW + 0.5) == 0.5);
	/* a date in the past: now */
	assert_true(gw_retry_after("Mon, 30 Nov 2026 23:00:00 GMT", NOW) == 0.0);
	assert_true(gw_retry_after(NULL, NOW) < 0);
	assert_true(gw_retry_after("", NOW) < 0);
	assert_true(gw_retry_after("-5", NOW) < 0);
	assert_true(gw_retry_after("1.5", NOW) < 0);
	assert_true(gw_retry_after("soon", NOW) < 0);
}

static char *clean(const char *s, size_t n)
{
	static char out[64];

	return gw_reason_clean(out, n, s, strlen(s));
}

static void test_reason_clean(void **state)
{
	(void)state;
	assert_string_equal(clean("  Missing receiver number,\r\n rejected\n", 64),
	    "Missing receiver number, rejected");
	/* phone numbers, however written, never get through; codes and ports do */
	assert_string_equal(clean("Number +15551234567 denied", 64), "Number # denied");
	assert_string_equal(clean("to 555-123-4567 failed", 64), "to # failed");
	assert_string_equal(clean("(555) 123 4567!", 64), "(#!");
	assert_string_equal(clean("twilio 21610: HTTP 400 port 23013", 64),
	    "twilio 21610: HTTP 400 port 23013");
	assert_string_equal(clean("Failed to connect to 127.0.0.1 port 9", 64),
	    "Failed to connect to 127.0.0.1 port 9");
	assert_string_equal(clean("caf\xc3\xa9\x01x\x7f", 64), "caf?\?x?");
	assert_string_equal(clean("abcdefgh", 5), "abcd");
	assert_string_equal(clean("ab cdefgh", 4), "ab");
	assert_string_equal(clean("", 64), "");
}

static void test_token_and_phone_tail(void **state)
{
	char out[8], tail[8];

	(void)state;
	assert_int_equal(gw_token_clean(out, sizeof out, "SM12\n x"), 0);
	assert_string_equal(out, "SM12__x");
	assert_int_equal(gw_token_clean(out, sizeof out, "0123456789"), 0);
	assert_string_equal(out, "0123456");
	assert_int_equal(gw_token_clean(out, sizeof out, ""), -1);
	assert_string_equal(gw_phone_tail("+15551234567", tail), "**67");
	assert_string_equal(gw_phone_tail("+1 555 123 45 6-7", tail), "**67");
	assert_string_equal(gw_phone_tail("7", tail), "**");
	assert_string_equal(gw_phone_tail(NULL, tail), "**");
}

static void test_http_status(void **state)
{
	static const struct {
		long status;
		const char *retry_after;
		enum iopd_result result;
		double retry;
		int auth, misdirected;
	} cases[] = {
		{200, NULL, IOPD_DELIVERED, -1, 0},
		{204, "5", IOPD_DELIVERED, -1, 0},
		{400, "5", IOPD_PERMANENT, -1, 0},
		{404, NULL, IOPD_PERMANENT, -1, 0},
		{401, "5", IOPD_PERMANENT, -1, 1},
		{408, "7", IOPD_TRANSIENT, 7, 0},
		{429, "30", IOPD_TRANSIENT, 30, 0},
		{429, NULL, IOPD_TRANSIENT, -1, 0},
		{500, NULL, IOPD_TRANSIENT, -1, 0},
		{503, "Tue, 01 Dec 2026 00:02:00 GMT", IOPD_TRANSIENT, 120, 0},
		{301, "5", IOPD_PERMANENT, -1, 0, 1},
		{302, NULL, IOPD_PERMANENT, -1, 0, 1},
		{307, NULL, IOPD_PERMANENT, -1, 0, 1},
		{100, NULL, IOPD_TRANSIENT, -1, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct gw_result r;
		struct iopd_outcome o;
		char want[32];

		gw_result_init(&r);
		gw_http_status(&r, cases[i].status, cases[i].retry_after, NOW);
		gw_result_outcome(&r, &o);
		assert_int_equal(o.result, cases[i].result);
		assert_int_equal(r.auth_failed, cases[i].auth);
		assert_int_equal(r.misdirected, cases[i].misdirected);
		assert_true(o.retry_after == cases[i].retry);
		snprintf(want, sizeof want, "HTTP %ld", cases[i].status);
		if (o.result == IOPD_DELIVERED) {
			assert_null(o.reason);
			assert_null(o.gateway_id);
		} else if (cases[i].misdirected) {
			assert_true(strncmp(o.reason, want, strlen(want)) == 0);
			assert_non_null(strstr(o.reason, "a redirect (never followed): check the channel's url"));
		} else {
			assert_string_equal(o.reason, want);
		}
	}
}

static void test_result_curl(void **state)
{
	struct gw_result r;

	(void)state;
	gw_result_init(&r);
	gw_result_curl(&r, CURLE_PEER_FAILED_VERIFICATION,
	    "SSL certificate problem: self-signed certificate");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_string_equal(r.reason,
	    "TLS certificate verification failed: SSL certificate problem: self-signed certificate");
	gw_result_curl(&r, CURLE_COULDNT_CONNECT, "");
	assert_string_equal(r.reason, "curl 7: Couldn't connect to server");
	gw_result_curl(&r, CURLE_OPERATION_TIMEDOUT, "Operation timed out after 1001 milliseconds");
	assert_string_equal(r.reason, "curl 28: Operation timed out after 1001 milliseconds");
	assert_true(r.retry_after < 0);
}

static void test_loopback(void **state)
{
	static const char *const yes[] = {
		"localhost", "LOCALHOST.", "sms.localhost", "127.0.0.1", "127.1.2.3", "[::1]", "::1",
		"[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]",
	};
	static const char *const no[] = {
		"example.org", "localhost.example.org", "128.0.0.1", "10.0.0.1", "[::2]", "", "[]",
		"mylocalhost", "127.0.0.1.example.org",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
		assert_true(gw_host_is_loopback(yes[i]));
	for (i = 0; i < sizeof no / sizeof no[0]; i++)
		assert_false(gw_host_is_loopback(no[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_escape),
		cmocka_unit_test(test_buf_grows_and_printf),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_json_member_skips_nested),
		cmocka_unit_test(test_json_member_numbers_and_escapes),
		cmocka_unit_test(test_json_member_bad_input),
		cmocka_unit_test(test_json_member_truncates_whole_characters),
		cmocka_unit_test(test_http_date_forms),
		cmocka_unit_test(test_http_date_rejects),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_reason_clean),
		cmocka_unit_test(test_token_and_phone_tail),
		cmocka_unit_test(test_http_status),
		cmocka_unit_test(test_result_curl),
		cmocka_unit_test(test_loopback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
