/* test_plugin_webhook.c - the pure parts of the webhook module
 * (plugins/webhook/webhook_fmt.h): the JSON body, its HMAC signature
 * (against values computed independently with `openssl dgst -sha256
 * -hmac`), and the reading of replies. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "../../plugins/webhook/webhook_fmt.h"

static const struct iopd_message msg = {
	"9f2c41d07ab3e815", "session", "p-0001", "ehr", "ignored@example.org",
	"the text", "the subject", "the body", 1796083200, 1796004000, 0, 1
};

static const char body_want[] =
    "{\"id\":\"9f2c41d07ab3e815\",\"kind\":\"session\",\"patient\":\"p-0001\","
    "\"event\":\"2026-12-01T00:00:00Z\",\"due\":\"2026-11-30T02:00:00Z\",\"channel\":\"ehr\","
    "\"status\":\"due\"}";

static void test_utc(void **state)
{
	char out[32];

	(void)state;
	webhook_utc(out, sizeof out, 1796083200);
	assert_string_equal(out, "2026-12-01T00:00:00Z");
	webhook_utc(out, sizeof out, 0);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	webhook_utc(out, sizeof out, 1835438461);
	assert_string_equal(out, "2028-02-29T12:01:01Z");
	webhook_utc(out, sizeof out, 253402300799);            /* the last second of 9999 */
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	webhook_utc(out, sizeof out, 253402300800);
	assert_string_equal(out, "10000-01-01T00:00:00Z");
	webhook_utc(out, 12, 1796083200);                       /* cut short, never overrun */
	assert_string_equal(out, "2026-12-01T");
}

static void test_body(void **state)
{
	struct gw_buf b = {0};

	(void)state;
	webhook_body(&b, &msg);
	assert_string_equal(gw_buf_str(&b), body_want);
	/* no contact details, no text */
	assert_null(strstr(b.s, "example.org"));
	assert_null(strstr(b.s, "text"));
	gw_buf_free(&b);
}

static void test_body_escapes(void **state)
{
	struct iopd_message m = msg;
	struct gw_buf b = {0};

	(void)state;
	m.patient = "p-\"quoted\"\\\n";
	m.channel = "ehr-ñ";
	webhook_body(&b, &m);
	assert_non_null(strstr(gw_buf_str(&b), "\"patient\":\"p-\\\"quoted\\\"\\\\\\n\""));
	assert_non_null(strstr(b.s, "\"channel\":\"ehr-ñ\""));
	gw_buf_free(&b);
}

/* Each expected value was computed once, independently, as
 *   printf '%s' '<timestamp>.<body>' | openssl dgst -sha256 -hmac '<key>' */
static void test_signature_known_vectors(void **state)
{
	static const struct {
		const char *key, *ts, *body, *want;
	} v[] = {
		{"k3y-for-tests", "1764547200", body_want,
		 "5401f247d4b713915236549deb58e86d70052eb802eb053acb023d91b834f547"},
		{"key", "1", "x", "fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec"},
		/* a key longer than SHA-256's block: HMAC hashes it first */
		{"this key is longer than the sixty-four bytes of a SHA-256 block, so HMAC hashes it first",
		 "0", "", "1acf99f1e307247da85041b1898ce9b30f41c82f5c165d75c93b2e65a86519c1"},
		{"cl\xc3\xa9", "1796083200", "{\"a\":\"\xc3\xa9\"}",
		 "1014a2dd21a4ffc41e7cfa81e64b7b1687129fe994da631efb3cab27fba38f5d"},
	};
	char sig[WEBHOOK_SIG_MAX], want[WEBHOOK_SIG_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		assert_int_equal(webhook_signature(v[i].key, strlen(v[i].key), v[i].ts, v[i].body,
		    strlen(v[i].body), sig, sizeof sig), 0);
		snprintf(want, sizeof want, "sha256=%s", v[i].want);
		assert_string_equal(sig, want);
	}
	/* too small a buffer is an error, never a truncated signature */
	assert_int_equal(webhook_signature("key", 3, "1", "x", 1, sig, WEBHOOK_SIG_MAX - 1), -1);
}

/* A channel's signer is keyed once and signs every request: each
 * signature starts from the keyed state, never from the previous one's. */
static void test_signer_reused(void **state)
{
	static const char *const bodies[] = {"x", "", "{\"a\":1}", "x"};
	struct webhook_signer *s = webhook_signer_new("key", 3);
	char sig[WEBHOOK_SIG_MAX], want[WEBHOOK_SIG_MAX];
	size_t i;
	int round;

	(void)state;
	assert_non_null(s);
	for (round = 0; round < 2; round++)
		for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
			assert_int_equal(webhook_signer_sign(s, "1", bodies[i], strlen(bodies[i]), sig,
			    sizeof sig), 0);
			assert_int_equal(webhook_signature("key", 3, "1", bodies[i], strlen(bodies[i]), want,
			    sizeof want), 0);
			assert_string_equal(sig, want);
		}
	assert_int_equal(webhook_signer_sign(s, "1", "x", 1, sig, sizeof sig), 0);
	assert_string_equal(sig, "sha256=fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec");
	assert_int_equal(webhook_signer_sign(s, "1", "x", 1, sig, WEBHOOK_SIG_MAX - 1), -1);
	webhook_signer_free(s);
	webhook_signer_free(NULL);
}

static void reply(struct gw_result *r, long status, const char *body, const char *ra)
{
	gw_result_init(r);
	webhook_reply(r, status, body, body ? strlen(body) : 0, ra, 1796083200.0);
}

static void test_replies(void **state)
{
	struct gw_result r;

	(void)state;
	reply(&r, 200, "{\"ok\": true, \"id\": \"evt_123\"}", NULL);
	assert_int_equal(r.result, IOPD_DELIVERED);
	assert_string_equal(r.gateway_id, "evt_123");
	reply(&r, 201, "{\"id\": 42}", NULL);
	assert_string_equal(r.gateway_id, "42");
	reply(&r, 202, "accepted", NULL);
	assert_string_equal(r.gateway_id, "http-202");
	reply(&r, 204, NULL, NULL);
	assert_string_equal(r.gateway_id, "http-204");
	reply(&r, 200, "{\"id\": {\"nested\": 1}}", NULL);
	assert_string_equal(r.gateway_id, "http-200");
	reply(&r, 200, "{\"id\": \"a b\\nc\"}", NULL);
	assert_string_equal(r.gateway_id, "a_b_c");

	reply(&r, 429, "", "12");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_true(r.retry_after == 12.0);
	reply(&r, 503, "", "Tue, 01 Dec 2026 00:01:00 GMT");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_true(r.retry_after == 60.0);
	assert_string_equal(r.reason, "HTTP 503");
	reply(&r, 500, "", NULL);
	assert_true(r.retry_after < 0);
	reply(&r, 422, "{\"id\": \"x\"}", "5");
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_string_equal(r.reason, "HTTP 422");
	reply(&r, 401, "", NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_true(r.auth_failed);
	assert_string_equal(r.reason, "HTTP 401");
}


/* ABI 1.1: a staff notice is posted verbatim; everything else as before. */
static void test_notice_verbatim(void **state)
{
	static const char json[] = "{\"type\":\"failed\",\"patient\":\"p-1\",\"channel\":\"sms\","
	    "\"reminder\":\"00000000000000a1\",\"reason\":\"twilio 30003\"}";
	struct iopd_message n = msg;
	struct gw_buf b = {0};

	(void)state;
	n.kind = "notice";
	n.body = json;
	webhook_request_body(&b, &n);
	assert_string_equal(gw_buf_str(&b), json);
	gw_buf_free(&b);
	webhook_request_body(&b, &msg);
	assert_string_equal(gw_buf_str(&b), body_want);
	gw_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utc),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_body_escapes),
		cmocka_unit_test(test_signature_known_vectors),
		cmocka_unit_test(test_signer_reused),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_notice_verbatim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
