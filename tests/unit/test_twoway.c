/* test_twoway.c - the pure parts of two-way SMS (SPEC 8) on the daemon's
 * side: what a patient's text means (keyword.c), and Twilio's request
 * signature (signature.c), checked against Twilio's published example. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "keyword.h"
#include "signature.h"
#include "util.h"

static void test_keywords(void **state)
{
	static const struct {
		const char *text;
		enum intent intent;
	} cases[] = {
		{"STOP", INTENT_STOP}, {"stop", INTENT_STOP}, {"  Stop. ", INTENT_STOP},
		{"STOP!!!", INTENT_STOP}, {"\tstopall\n", INTENT_STOP}, {"Unsubscribe", INTENT_STOP},
		{"CANCEL", INTENT_STOP}, {"cancel", INTENT_STOP}, {"End", INTENT_STOP},
		{"quit", INTENT_STOP}, {"REVOKE", INTENT_STOP}, {"optout", INTENT_STOP},
		{"opt out", INTENT_STOP}, {"OPT   OUT", INTENT_STOP}, {"opt-out", INTENT_STOP},
		{"\"stop\"", INTENT_STOP},
		{"START", INTENT_START}, {"unstop", INTENT_START}, {"start.", INTENT_START},
		{"HELP", INTENT_HELP}, {"help?", INTENT_HELP}, {"Info", INTENT_HELP},
		{"C", INTENT_CONFIRM}, {"c", INTENT_CONFIRM}, {"Confirm!", INTENT_CONFIRM},
		{"R", INTENT_RESCHEDULE}, {"reschedule", INTENT_RESCHEDULE},
		{"T", INTENT_TAKEN}, {"taken", INTENT_TAKEN}, {" t ", INTENT_TAKEN},
		/* anything else */
		{"", INTENT_OTHER}, {"   ", INTENT_OTHER}, {"...", INTENT_OTHER},
		{"stop it", INTENT_OTHER}, {"please stop", INTENT_OTHER}, {"STOPP", INTENT_OTHER},
		{"cancel my appointment", INTENT_OTHER}, {"I can't come", INTENT_OTHER},
		{"CR", INTENT_OTHER}, {"st op", INTENT_OTHER}, {"stöp", INTENT_OTHER},
		{"ＳＴＯＰ", INTENT_OTHER},           /* full-width letters are not ASCII */
		{"help me, I need to talk to someone about my session tomorrow", INTENT_OTHER},
		{"UNSUBSCRIBEXXXXXXXX", INTENT_OTHER},
	};
	size_t i;

	(void)state;
	for (i = 0; i < IOPD_NELEM(cases); i++) {
		enum intent got = keyword_intent(cases[i].text, false);
		if (got != cases[i].intent)
			fail_msg("\"%s\": %s, expected %s", cases[i].text, intent_names[got],
			    intent_names[cases[i].intent]);
	}
	assert_int_equal(keyword_intent(NULL, false), INTENT_OTHER);
}

/* YES is START while the phone is opted out by a reply, CONFIRM otherwise;
 * nothing else depends on it. */
static void test_yes(void **state)
{
	(void)state;
	assert_int_equal(keyword_intent("YES", false), INTENT_CONFIRM);
	assert_int_equal(keyword_intent(" yes! ", false), INTENT_CONFIRM);
	assert_int_equal(keyword_intent("YES", true), INTENT_START);
	assert_int_equal(keyword_intent("Yes.", true), INTENT_START);
	assert_int_equal(keyword_intent("C", true), INTENT_CONFIRM);
	assert_int_equal(keyword_intent("STOP", true), INTENT_STOP);
	assert_int_equal(keyword_intent("yes please", true), INTENT_OTHER);
	assert_string_equal(intent_names[INTENT_RESCHEDULE], "reschedule");
}

/* Twilio's own libraries test this example (RIG 1c). */
static const struct iopd_param vector[] = {
	{"CallSid", "CA1234567890ABCDE"}, {"Caller", "+14158675309"}, {"Digits", "1234"},
	{"From", "+14158675309"}, {"To", "+18005551212"},
};
#define VECTOR_URL "https://mycompany.com/myapp.php?foo=1&bar=2"
#define VECTOR_SIG "RSOYDt4T1cUTdK1PDd93/VVr8B8="

static void test_twilio_vector(void **state)
{
	char sig[SIG_TWILIO_LEN + 1];
	struct iopd_param shuffled[5] = {vector[3], vector[0], vector[4], vector[2], vector[1]};

	(void)state;
	assert_int_equal(sig_twilio("12345", VECTOR_URL, vector, 5, sig), 0);
	assert_string_equal(sig, VECTOR_SIG);
	/* the parameters' order as received does not matter: sorted by name */
	assert_int_equal(sig_twilio("12345", VECTOR_URL, shuffled, 5, sig), 0);
	assert_string_equal(sig, VECTOR_SIG);
	assert_true(sig_twilio_ok("12345", VECTOR_URL, shuffled, 5, VECTOR_SIG));
}

static void test_twilio_refusals(void **state)
{
	struct iopd_param changed[5];

	(void)state;
	memcpy(changed, vector, sizeof changed);
	changed[2].value = "1235";
	assert_false(sig_twilio_ok("12345", VECTOR_URL, vector, 5, NULL));
	assert_false(sig_twilio_ok("12345", VECTOR_URL, vector, 5, ""));
	assert_false(sig_twilio_ok("12346", VECTOR_URL, vector, 5, VECTOR_SIG));       /* token */
	assert_false(sig_twilio_ok("12345", VECTOR_URL "&x=1", vector, 5, VECTOR_SIG)); /* URL */
	assert_false(sig_twilio_ok("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", vector, 5,
	    VECTOR_SIG));                                                               /* scheme */
	assert_false(sig_twilio_ok("12345", VECTOR_URL, changed, 5, VECTOR_SIG));     /* a value */
	assert_false(sig_twilio_ok("12345", VECTOR_URL, vector, 4, VECTOR_SIG));      /* one fewer */
	assert_false(sig_twilio_ok("12345", VECTOR_URL, vector, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
	assert_false(sig_twilio_ok("12345", VECTOR_URL, vector, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8=="));
	assert_false(sig_twilio_ok("12345", VECTOR_URL, vector, 5, "rsoydt4t1cutdk1pdd93/vvr8b8="));
}

/* A GET (no POST parameters): the URL alone, its query included. */
static void test_twilio_no_params(void **state)
{
	char a[SIG_TWILIO_LEN + 1], b[SIG_TWILIO_LEN + 1];

	(void)state;
	assert_int_equal(sig_twilio("tok", "https://x.example/sms/s/status?id=1", NULL, 0, a), 0);
	assert_int_equal(sig_twilio("tok", "https://x.example/sms/s/status?id=2", NULL, 0, b), 0);
	assert_int_equal(strlen(a), SIG_TWILIO_LEN);
	assert_string_not_equal(a, b);
	assert_true(sig_twilio_ok("tok", "https://x.example/sms/s/status?id=1", NULL, 0, a));
}

static void test_equal(void **state)
{
	(void)state;
	assert_true(sig_equal("k3y", "k3y"));
	assert_false(sig_equal("k3y", "k3z"));
	assert_false(sig_equal("k3y", "k3yy"));
	assert_false(sig_equal("", "k"));
	assert_true(sig_equal("", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_yes),
		cmocka_unit_test(test_twilio_vector),
		cmocka_unit_test(test_twilio_refusals),
		cmocka_unit_test(test_twilio_no_params),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
