/* test_consent.c - runtime consent (consent.h): pauses with an end, which
 * are over at their end whether or not the daemon recorded the lifting
 * yet, and are listed for it to lift; opt-outs by origin, the last
 * setter's. */
#include "config.h"

#include "unit.h"

#include "consent.h"

static void pause_ch(struct consent *c, const char *patient, int on, int64_t until)
{
	struct consent_change ch = {OVR_PAUSE, patient, NULL, on, OVR_STAFF, "iopctl", 1000,
		"alice", 1000, NULL, until};

	consent_apply(c, &ch);
}

static void test_pause_ends(void **state)
{
	struct consent *c = consent_new();

	(void)state;
	assert_int_equal(consent_pause_until(c, "p-1"), -1);
	assert_false(consent_paused(c, "p-1", 0));
	assert_int_equal(consent_next_expiry(c), 0);
	pause_ch(c, "p-1", 1, 0);                      /* until resumed */
	pause_ch(c, "p-2", 1, 5000);
	pause_ch(c, "p-3", 1, 3000);
	assert_int_equal(consent_pause_until(c, "p-1"), 0);
	assert_true(consent_paused(c, "p-1", 1000000));
	assert_true(consent_paused(c, "p-2", 4999));
	assert_false(consent_paused(c, "p-2", 5000)); /* over at its end */
	assert_int_equal(consent_next_expiry(c), 3000);
	assert_null(consent_first_expired(c, 2999));
	assert_string_equal(consent_first_expired(c, 3000), "p-3");
	/* lifted: gone from the ends */
	pause_ch(c, "p-3", 0, 0);
	assert_int_equal(consent_pause_until(c, "p-3"), -1);
	assert_int_equal(consent_next_expiry(c), 5000);
	assert_null(consent_first_expired(c, 4999));
	/* paused again without an end: the end is forgotten */
	pause_ch(c, "p-2", 1, 0);
	assert_int_equal(consent_pause_until(c, "p-2"), 0);
	assert_int_equal(consent_next_expiry(c), 0);
	assert_true(consent_paused(c, "p-2", 9999999));
	/* and with a new one */
	pause_ch(c, "p-2", 1, 7000);
	assert_int_equal(consent_next_expiry(c), 7000);
	consent_free(c);
}

static void test_optout_origin(void **state)
{
	struct consent *c = consent_new();
	struct consent_change stop = {OVR_OPTOUT, "p-1", "sms", 1, OVR_REPLY, "reply STOP on sms", 1000,
		NULL, -1, NULL, 0};
	struct consent_change staff = {OVR_OPTOUT, "p-1", "sms", 1, OVR_STAFF, "iopctl", 1001,
		"alice", 1000, "asked", 0};

	(void)state;
	assert_int_equal(consent_optout_origin(c, "p-1", "sms"), -1);
	consent_apply(c, &stop);
	assert_int_equal(consent_optout_origin(c, "p-1", "sms"), OVR_REPLY);
	assert_false(consent_opted_out(c, "p-1", "email"));
	consent_apply(c, &staff);                      /* staff's now */
	assert_int_equal(consent_optout_origin(c, "p-1", "sms"), OVR_STAFF);
	staff.on = 0;
	consent_apply(c, &staff);
	assert_false(consent_opted_out(c, "p-1", "sms"));
	consent_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pause_ends),
		cmocka_unit_test(test_optout_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
