/* test_plugin_sms.c - the pure parts of the sms module (plugins/sms/sms_fmt.h):
 * Twilio's form and replies, Kannel's URL and replies, validity periods,
 * the GSM 7-bit check. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "../../plugins/sms/sms_fmt.h"

#define NOW 1796083200.0               /* 2026-12-01T00:00:00Z */

static void test_e164_and_from(void **state)
{
	(void)state;
	assert_true(sms_e164("+15551234567"));
	assert_true(sms_e164("+491"));
	assert_true(sms_e164("+123456789012345"));
	assert_false(sms_e164("+1234567890123456"));
	assert_false(sms_e164("+0551234567"));
	assert_false(sms_e164("15551234567"));
	assert_false(sms_e164("+1555 1234567"));
	assert_false(sms_e164("+1"));
	assert_false(sms_e164(NULL));

	assert_true(sms_twilio_from_ok("+15550001111"));
	assert_true(sms_twilio_from_ok("MG0123456789abcdef0123456789ABCDEF"));
	assert_true(sms_twilio_is_service("MG0123456789abcdef0123456789ABCDEF"));
	assert_false(sms_twilio_is_service("MG0123"));
	assert_false(sms_twilio_is_service("+15550001111"));
	assert_true(sms_twilio_from_ok("Clinic"));
	assert_true(sms_twilio_from_ok("My Clinic 1"));
	assert_false(sms_twilio_from_ok("My Clinic 12"));       /* 12 characters */
	assert_false(sms_twilio_from_ok("12345"));              /* no letter: not an ID */
	assert_false(sms_twilio_from_ok("Clinic!"));
	assert_false(sms_twilio_from_ok(""));
}

static void test_validity(void **state)
{
	(void)state;
	assert_int_equal(sms_twilio_validity(0, NOW), 0);
	assert_int_equal(sms_twilio_validity((int64_t)NOW + 7200, NOW), 7200);
	assert_int_equal(sms_twilio_validity((int64_t)NOW + 7200, NOW + 0.5), 7199);
	assert_int_equal(sms_twilio_validity((int64_t)NOW + 86400, NOW), 36000);
	assert_int_equal(sms_twilio_validity((int64_t)NOW, NOW), 1);
	assert_int_equal(sms_twilio_validity((int64_t)NOW - 60, NOW), 1);

	assert_int_equal(sms_kannel_validity(0, NOW), 0);
	assert_int_equal(sms_kannel_validity((int64_t)NOW + 7200, NOW), 120);
	assert_int_equal(sms_kannel_validity((int64_t)NOW + 119, NOW), 1);
	assert_int_equal(sms_kannel_validity((int64_t)NOW + 30, NOW), 1);
	assert_int_equal(sms_kannel_validity((int64_t)NOW + 3600 * 24 * 7, NOW), 10080);
	assert_int_equal(sms_kannel_validity((int64_t)NOW + 3600LL * 24 * 365 * 2, NOW),
	    SMS_KANNEL_VALIDITY_MAX);
}

static void test_twilio_form(void **state)
{
	struct gw_buf b = {0};

	(void)state;
	sms_twilio_form(&b, "+15551234567", "+15550001111", "Hi Alex, see you Tue 6:00 PM & bye", 3600, NULL);
	assert_string_equal(gw_buf_str(&b),
	    "To=%2B15551234567&From=%2B15550001111&Body=Hi+Alex%2C+see+you+Tue+6%3A00+PM+%26+bye"
	    "&ValidityPeriod=3600");
	gw_buf_free(&b);
	sms_twilio_form(&b, "+15551234567", "MG0123456789abcdef0123456789abcdef", "Hola, mañana", 0, NULL);
	assert_string_equal(gw_buf_str(&b),
	    "To=%2B15551234567&MessagingServiceSid=MG0123456789abcdef0123456789abcdef"
	    "&Body=Hola%2C+ma%C3%B1ana");
	gw_buf_free(&b);
}

static void twilio(struct gw_result *r, long status, const char *body, const char *ra)
{
	gw_result_init(r);
	sms_twilio_reply(r, status, body, body ? strlen(body) : 0, ra, NOW);
}

static const char *twilio_err(int code, int status)
{
	static char buf[256];

	snprintf(buf, sizeof buf, "{\"code\": %d, \"message\": \"The 'To' number +15551221211 is "
	    "not valid\", \"more_info\": \"https://www.twilio.com/docs/errors/%d\", \"status\": %d}",
	    code, code, status);
	return buf;
}

static void test_twilio_replies(void **state)
{
	struct gw_result r;

	(void)state;
	twilio(&r, 201, "{\"account_sid\": \"AC1\", \"subresource_uris\": {\"sid\": \"no\"}, "
	    "\"sid\": \"SM0123456789abcdef0123456789abcdef\", \"status\": \"queued\"}", NULL);
	assert_int_equal(r.result, IOPD_DELIVERED);
	assert_string_equal(r.gateway_id, "SM0123456789abcdef0123456789abcdef");
	/* a 2xx that is not Twilio's JSON came from something else: not sent */
	twilio(&r, 200, "<html><body>Welcome to the hotel network</body></html>", NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_true(r.misdirected);
	assert_false(r.auth_failed);
	assert_string_equal(r.reason, "HTTP 200 but the reply is not Twilio's JSON (no \"sid\"): "
	    "check the channel's url");
	twilio(&r, 201, "{\"status\": \"queued\"}", NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_true(r.misdirected);
	twilio(&r, 201, "{\"sid\": 5}", NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	twilio(&r, 201, "", NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	/* a redirect: never followed, a wrong url */
	twilio(&r, 302, "", NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_true(r.misdirected);
	assert_string_equal(r.reason, "HTTP 302: a redirect (never followed): check the channel's url");

	twilio(&r, 400, twilio_err(21610, 400), NULL);
	assert_int_equal(r.result, IOPD_OPTED_OUT);
	assert_string_equal(r.reason, "twilio 21610: HTTP 400");
	twilio(&r, 400, twilio_err(21211, 400), NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_string_equal(r.reason, "twilio 21211: HTTP 400");       /* no number in it */
	twilio(&r, 400, twilio_err(21614, 400), NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	twilio(&r, 400, twilio_err(21612, 400), NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_string_equal(r.reason, "twilio 21612: HTTP 400");
	twilio(&r, 400, twilio_err(21611, 400), NULL);
	assert_int_equal(r.result, IOPD_TRANSIENT);

	twilio(&r, 429, twilio_err(20429, 429), "17");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_true(r.retry_after == 17.0);
	assert_string_equal(r.reason, "twilio 20429: HTTP 429");
	twilio(&r, 400, twilio_err(20429, 400), "Tue, 01 Dec 2026 00:00:30 GMT");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_true(r.retry_after == 30.0);
	twilio(&r, 429, "", "3");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_true(r.retry_after == 3.0);
	assert_string_equal(r.reason, "HTTP 429");

	twilio(&r, 500, twilio_err(20500, 500), NULL);
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_string_equal(r.reason, "twilio 20500: HTTP 500");
	twilio(&r, 503, "<html>Service Unavailable</html>", "60");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_string_equal(r.reason, "HTTP 503");
	assert_true(r.retry_after == 60.0);

	twilio(&r, 401, twilio_err(20003, 401), NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_true(r.auth_failed);
	assert_string_equal(r.reason, "twilio 20003: HTTP 401");
	twilio(&r, 404, twilio_err(20404, 404), NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_string_equal(r.reason, "twilio 20404: HTTP 404");
	twilio(&r, 400, "{\"code\": \"21610\"}", NULL);       /* a string code is read too */
	assert_int_equal(r.result, IOPD_OPTED_OUT);
	twilio(&r, 400, "{\"code\": 2.5}", NULL);
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_string_equal(r.reason, "HTTP 400");
}

static void test_gsm7(void **state)
{
	(void)state;
	assert_true(sms_gsm7(""));
	assert_true(sms_gsm7("Hi Alex, reminder: Tue Dec 1 at 6:00 PM. Reply STOP to opt out."));
	assert_true(sms_gsm7("{[~]}|^\\ €5 @ £ ¥ è é ù ì ò Ç Ø ø Å å Δ _ Φ Γ Λ Ω Π Ψ Σ Θ Ξ Æ æ ß É "
	    "¤ ¡ Ä Ö Ñ Ü § ¿ ä ö ñ ü à\r\n"));
	assert_false(sms_gsm7("`"));
	assert_false(sms_gsm7("Hola, es hora de su dosis matutina, ¿está bien? á"));
	assert_false(sms_gsm7("Zaż\xc3\xb3\xc5\x82\xc4\x87"));
	assert_false(sms_gsm7("\xf0\x9f\x98\x80"));                  /* an emoji */
	assert_false(sms_gsm7("\t"));
	assert_false(sms_gsm7("\xc3"));                              /* broken UTF-8 */
	assert_false(sms_gsm7("\xc0\xa0"));                          /* overlong */
	assert_false(sms_gsm7("\xed\xa0\x80"));                      /* a surrogate */
}

static void test_kannel_url(void **state)
{
	struct sms_kannel_req q = {
		"iopd", "s3cr&t+", "12345", "+15551234567", "Hi Alex, 6:00 PM", NULL, NULL,
		"00000000000000a0", 120
	};
	struct gw_buf b = {0};

	(void)state;
	sms_kannel_url(&b, "http://127.0.0.1:13013/cgi-bin/sendsms", &q);
	assert_string_equal(gw_buf_str(&b), "http://127.0.0.1:13013/cgi-bin/sendsms?username=iopd"
	    "&password=s3cr%26t%2B&from=12345&to=%2B15551234567&text=Hi+Alex%2C+6%3A00+PM"
	    "&validity=120&charset=UTF-8");
	gw_buf_wipe(&b);

	/* not GSM 7-bit: UCS-2; a base URL with a query; smsc; DLR with the id */
	q.from = NULL;
	q.text = "Hola, mañana á las 6";
	q.validity = 0;
	q.smsc = "FAKE";
	q.dlr_url = "http://127.0.0.1:8080/dlr?id={id}&type=%d";
	sms_kannel_url(&b, "http://kannel/cgi-bin/sendsms?account=x", &q);
	assert_string_equal(gw_buf_str(&b), "http://kannel/cgi-bin/sendsms?account=x&username=iopd"
	    "&password=s3cr%26t%2B&to=%2B15551234567&text=Hola%2C+ma%C3%B1ana+%C3%A1+las+6"
	    "&coding=2&smsc=FAKE&dlr-mask=31"
	    "&dlr-url=http%3A%2F%2F127.0.0.1%3A8080%2Fdlr%3Fid%3D00000000000000a0%26type%3D%25d"
	    "&charset=UTF-8");
	gw_buf_wipe(&b);
	sms_kannel_url(&b, "http://kannel/sendsms?", &q);
	assert_non_null(strstr(gw_buf_str(&b), "/sendsms?username=iopd&"));
	gw_buf_wipe(&b);
}

static void kannel(struct gw_result *r, long status, const char *body)
{
	gw_result_init(r);
	sms_kannel_reply(r, status, body, strlen(body), "00000000000000a0");
}

static void test_kannel_replies(void **state)
{
	struct gw_result r;

	(void)state;
	kannel(&r, 202, "0: Accepted for delivery");
	assert_int_equal(r.result, IOPD_DELIVERED);
	assert_string_equal(r.gateway_id, "kannel:00000000000000a0");
	kannel(&r, 202, "3: Queued for later delivery");
	assert_int_equal(r.result, IOPD_DELIVERED);

	kannel(&r, 403, "Authorization failed for sendsms");
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_true(r.auth_failed);
	assert_string_equal(r.reason, "kannel HTTP 403: Authorization failed for sendsms");
	kannel(&r, 403, "Not routable. Do not try again.");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_false(r.auth_failed);
	assert_string_equal(r.reason, "kannel HTTP 403: Not routable. Do not try again.");

	kannel(&r, 400, "Number(s) has/have been denied by white- and/or black-lists.");
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_string_equal(r.reason,
	    "kannel HTTP 400: Number(s) has/have been denied by white- and/or black-lists.");
	/* Kannel does not echo the number; if a gateway did, it stays out */
	kannel(&r, 400, "Receiver +15551234567 rejected\n");
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_string_equal(r.reason, "kannel HTTP 400: Receiver # rejected");
	kannel(&r, 400, "");
	assert_string_equal(r.reason, "kannel HTTP 400");
	kannel(&r, 301, "Moved");
	assert_int_equal(r.result, IOPD_PERMANENT);
	assert_true(r.misdirected);
	assert_string_equal(r.reason, "kannel HTTP 301: a redirect (never followed): check the channel's url");

	kannel(&r, 503, "Temporal failure, try again later.");
	assert_int_equal(r.result, IOPD_TRANSIENT);
	assert_true(r.retry_after < 0);
	assert_string_equal(r.reason, "kannel HTTP 503: Temporal failure, try again later.");
}


/* ---- callbacks (ABI 1.1) ------------------------------------------------ */

static void test_callback_urls(void **state)
{
	struct gw_buf b = {0};

	(void)state;
	sms_callback_url(&b, "https://iopd.example.org/sms/sms/status", "00000000000000a1", 0);
	assert_string_equal(gw_buf_str(&b), "https://iopd.example.org/sms/sms/status?id=00000000000000a1");
	gw_buf_free(&b);
	sms_callback_url(&b, "http://127.0.0.1:8787/sms/k/status?key=K3y", "00000000000000a1", 1);
	assert_string_equal(gw_buf_str(&b), "http://127.0.0.1:8787/sms/k/status?key=K3y&id=00000000000000a1&type=%d");
	gw_buf_free(&b);
	/* Twilio: StatusCallback on the form */
	sms_twilio_form(&b, "+15551234567", "+15550001111", "Hi", 60,
	    "https://iopd.example.org/sms/sms/status?id=00000000000000a1");
	assert_string_equal(gw_buf_str(&b), "To=%2B15551234567&From=%2B15550001111&Body=Hi&ValidityPeriod=60"
	    "&StatusCallback=https%3A%2F%2Fiopd.example.org%2Fsms%2Fsms%2Fstatus%3Fid%3D00000000000000a1");
	gw_buf_free(&b);
}

/* Reads a callback from "name=value" pairs. */
static int cb(int kannel, const char *what, struct iopd_callback *out, struct sms_cb_buf *buf,
    const char *const *pairs)
{
	struct iopd_param p[16];
	struct iopd_request rq = {what, p, 0};
	static char copies[16][128];

	for (; pairs[rq.nparams]; rq.nparams++) {
		char *eq;
		snprintf(copies[rq.nparams], sizeof copies[0], "%s", pairs[rq.nparams]);
		eq = strchr(copies[rq.nparams], '=');
		*eq = '\0';
		p[rq.nparams].name = copies[rq.nparams];
		p[rq.nparams].value = eq + 1;
	}
	memset(out, 0, sizeof *out);
	memset(buf, 0, sizeof *buf);
	return kannel ? sms_kannel_callback(&rq, out, buf) : sms_twilio_callback(&rq, out, buf);
}

#define PAIRS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_twilio_callbacks(void **state)
{
	struct iopd_callback o;
	struct sms_cb_buf b;

	(void)state;
	/* an incoming message */
	assert_int_equal(cb(0, "reply", &o, &b, PAIRS("ToCountry=US", "From=+15557770001",
	    "To=+15550001111", "Body=Stop", "MessageSid=SM0123", "NumMedia=0")), 0);
	assert_int_equal(o.type, IOPD_CALLBACK_REPLY);
	assert_string_equal(o.from, "+15557770001");
	assert_string_equal(o.text, "Stop");
	assert_string_equal(o.dedup, "SM0123");
	assert_int_equal(cb(0, "reply", &o, &b, PAIRS("From=+15557770001", "MessageSid=SM1")), 0);
	assert_string_equal(o.text, "");
	assert_int_equal(cb(0, "reply", &o, &b, PAIRS("Body=Stop", "MessageSid=SM1")), -1);
	assert_int_equal(cb(0, "reply", &o, &b, PAIRS("From=+15557770001", "Body=Stop")), -1);
	/* status callbacks: final and interim, our id from the query */
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("id=00000000000000a1", "MessageSid=SMab",
	    "MessageStatus=delivered", "AccountSid=AC1")), 0);
	assert_int_equal(o.type, IOPD_CALLBACK_RECEIPT);
	assert_int_equal(o.receipt, IOPD_RECEIPT_DELIVERED);
	assert_string_equal(o.reminder, "00000000000000a1");
	assert_string_equal(o.gateway_id, "SMab");
	assert_string_equal(o.dedup, "SMab:delivered");
	assert_null(o.reason);
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageSid=SMab", "MessageStatus=undelivered",
	    "ErrorCode=30003")), 0);
	assert_int_equal(o.receipt, IOPD_RECEIPT_UNDELIVERED);
	assert_null(o.reminder);
	assert_string_equal(o.reason, "twilio 30003");
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageSid=SMab", "MessageStatus=failed",
	    "ErrorCode=30008")), 0);
	assert_int_equal(o.receipt, IOPD_RECEIPT_FAILED);
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageSid=SMab", "MessageStatus=read")), 0);
	assert_int_equal(o.receipt, IOPD_RECEIPT_READ);
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageSid=SMab", "MessageStatus=canceled")), 0);
	assert_int_equal(o.receipt, IOPD_RECEIPT_FAILED);
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageSid=SMab", "MessageStatus=sent")), 0);
	assert_int_equal(o.receipt, IOPD_RECEIPT_INTERIM);
	assert_string_equal(o.stage, "sent");
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageSid=SMab", "MessageStatus=queued",
	    "ErrorCode=not-a-number")), 0);
	assert_int_equal(o.receipt, IOPD_RECEIPT_INTERIM);
	assert_null(o.reason);
	/* a "code" as long as a phone number is no reason to keep */
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageSid=SMab", "MessageStatus=failed",
	    "ErrorCode=15557770001")), 0);
	assert_int_equal(o.receipt, IOPD_RECEIPT_FAILED);
	assert_null(o.reason);
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageSid=SMab", "MessageStatus=failed",
	    "ErrorCode=123456")), 0);
	assert_string_equal(o.reason, "twilio 123456");
	/* malformed */
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageStatus=delivered")), -1);
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageSid=SMab")), -1);
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageSid=SM ab", "MessageStatus=delivered")), -1);
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("MessageSid=", "MessageStatus=delivered")), -1);
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("id=00000000000000A1", "MessageSid=SMab",
	    "MessageStatus=delivered")), -1);
	assert_int_equal(cb(0, "status", &o, &b, PAIRS("id=a1", "MessageSid=SMab",
	    "MessageStatus=delivered")), -1);
}

static void test_kannel_callbacks(void **state)
{
	struct iopd_callback o;
	struct sms_cb_buf b;

	(void)state;
	/* MO through the sms-service get-url */
	assert_int_equal(cb(1, "reply", &o, &b, PAIRS("from=+15551230001", "to=12345", "text=C")), 0);
	assert_int_equal(o.type, IOPD_CALLBACK_REPLY);
	assert_string_equal(o.from, "+15551230001");
	assert_string_equal(o.text, "C");
	assert_null(o.dedup);
	assert_int_equal(cb(1, "reply", &o, &b, PAIRS("from=15551230001", "to=12345")), 0);
	assert_string_equal(o.from, "+15551230001");       /* an SMSC that drops the '+' */
	assert_string_equal(o.text, "");
	assert_int_equal(cb(1, "reply", &o, &b, PAIRS("to=12345", "text=STOP")), -1);
	assert_int_equal(cb(1, "reply", &o, &b, PAIRS("from=", "text=STOP")), -1);
	/* delivery reports */
	assert_int_equal(cb(1, "status", &o, &b, PAIRS("id=00000000000000b2", "type=1")), 0);
	assert_int_equal(o.type, IOPD_CALLBACK_RECEIPT);
	assert_int_equal(o.receipt, IOPD_RECEIPT_DELIVERED);
	assert_string_equal(o.reminder, "00000000000000b2");
	assert_string_equal(o.dedup, "00000000000000b2:1");
	assert_null(o.reason);
	assert_int_equal(cb(1, "status", &o, &b, PAIRS("id=00000000000000b2", "type=2")), 0);
	assert_int_equal(o.receipt, IOPD_RECEIPT_FAILED);
	assert_string_equal(o.reason, "kannel type 2");
	assert_int_equal(cb(1, "status", &o, &b, PAIRS("id=00000000000000b2", "type=16")), 0);
	assert_int_equal(o.receipt, IOPD_RECEIPT_FAILED);
	assert_string_equal(o.reason, "kannel type 16");
	assert_int_equal(cb(1, "status", &o, &b, PAIRS("id=00000000000000b2", "type=8")), 0);
	assert_int_equal(o.receipt, IOPD_RECEIPT_INTERIM);     /* the SMSC's ack, not final */
	assert_string_equal(o.stage, "8");
	assert_int_equal(cb(1, "status", &o, &b, PAIRS("id=00000000000000b2", "type=4")), 0);
	assert_int_equal(o.receipt, IOPD_RECEIPT_INTERIM);
	/* malformed */
	assert_int_equal(cb(1, "status", &o, &b, PAIRS("type=1")), -1);
	assert_int_equal(cb(1, "status", &o, &b, PAIRS("id=00000000000000b2")), -1);
	assert_int_equal(cb(1, "status", &o, &b, PAIRS("id=00000000000000b2", "type=%d")), -1);
	assert_int_equal(cb(1, "status", &o, &b, PAIRS("id=00000000000000b2", "type=0")), -1);
	assert_int_equal(cb(1, "status", &o, &b, PAIRS("id=xyz", "type=1")), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e164_and_from),
		cmocka_unit_test(test_validity),
		cmocka_unit_test(test_twilio_form),
		cmocka_unit_test(test_twilio_replies),
		cmocka_unit_test(test_gsm7),
		cmocka_unit_test(test_kannel_url),
		cmocka_unit_test(test_kannel_replies),
		cmocka_unit_test(test_callback_urls),
		cmocka_unit_test(test_twilio_callbacks),
		cmocka_unit_test(test_kannel_callbacks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
