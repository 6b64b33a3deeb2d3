/* test_recent.c - what a shared ledger's loop reads (ledger_recent.c): a
 * row this instance committed keeps its final state against a later,
 * staler note; a row fetched from the server replaces what was known of
 * it, receipt and response included; the latest send is chosen by the
 * time it was sent, then its due, as the server's fetch orders it. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "ledger_recent.h"

static struct ledger_rec row(uint64_t id, const char *kind, enum rec_status st, int64_t at)
{
	struct ledger_rec r;

	memset(&r, 0, sizeof r);
	r.id = id;
	r.patient = "p-1";
	r.channel = "sms";
	r.kind = kind;
	r.due = at - 10;
	r.event = at + 3600;
	r.expires = at + 3600;
	r.status = st;
	r.attempts = 1;
	r.at = at;
	return r;
}

static void test_put_keeps_final(void **state)
{
	struct recent *c = recent_new(4);
	struct ledger_rec r = row(1, "session", REC_SENT, 100), got;
	char buf[512];

	(void)state;
	recent_put(c, &r);
	r.status = REC_RETRY;
	recent_put(c, &r);
	assert_int_equal(recent_get(c, 1, &got, buf, sizeof buf), 1);
	assert_int_equal(got.status, REC_SENT);
	assert_int_equal(recent_get(c, 2, &got, buf, sizeof buf), 0);
	assert_int_equal(got.status, REC_NONE);
	recent_free(c);
}

static void test_set_replaces(void **state)
{
	struct recent *c = recent_new(4);
	struct ledger_rec r = row(1, "session", REC_INFLIGHT, 100), got;
	char buf[512];

	(void)state;
	recent_put(c, &r);                     /* stale: another instance sent it since */
	r.status = REC_SENT;
	r.at = 120;
	r.gateway_id = "SM1";
	r.receipt = "failed";
	r.receipt_at = 130;
	r.response = "confirm";
	recent_set(c, &r);
	assert_int_equal(recent_get(c, 1, &got, buf, sizeof buf), 1);
	assert_int_equal(got.status, REC_SENT);
	assert_string_equal(got.gateway_id, "SM1");
	assert_string_equal(got.receipt, "failed");
	assert_int_equal(got.receipt_at, 130);
	assert_string_equal(got.response, "confirm");
	/* the server's row wins over a final one known here, too */
	r.receipt = "delivered";
	r.response = NULL;
	recent_set(c, &r);
	assert_int_equal(recent_get(c, 1, &got, buf, sizeof buf), 1);
	assert_string_equal(got.receipt, "delivered");
	assert_null(got.response);
	recent_free(c);
}

static void test_latest_sent(void **state)
{
	static const char *const sms[] = {"sms", NULL};
	static const char *const events[] = {"session", "appointment", NULL};
	struct recent *c = recent_new(2);
	struct ledger_rec a = row(1, "session", REC_SENT, 100), b = row(2, "appointment", REC_SENT, 200);
	struct ledger_rec m = row(3, "medication", REC_SENT, 300), got;
	char buf[512];

	(void)state;
	recent_set(c, &a);
	recent_set(c, &b);
	assert_int_equal(recent_latest_sent(c, "p-1", sms, events, 0, &got, buf, sizeof buf), 1);
	assert_int_equal(got.id, 2);
	assert_int_equal(recent_latest_sent(c, "p-1", sms, events, 201, &got, buf, sizeof buf), 0);
	recent_set(c, &m);                     /* full: the oldest (1) goes */
	assert_int_equal(recent_get(c, 1, &got, buf, sizeof buf), 0);
	assert_int_equal(recent_latest_sent(c, "p-1", sms, events, 0, &got, buf, sizeof buf), 1);
	assert_int_equal(got.id, 2);
	recent_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_keeps_final),
		cmocka_unit_test(test_set_replaces),
		cmocka_unit_test(test_latest_sent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
