/* test_dur.c - daemon/dur.c: parsing and canonical text of durations
 * (SPEC 3.1; the canonical form is the lead key of docs/ids.md). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dur.h"

static const struct {
	const char *text;
	int32_t days;
	int64_t secs;
	const char *canon;
} good[] = {
	{"90m", 0, 5400, "1h30m"},
	{"1d", 1, 0, "1d"},
	{"1d2h", 1, 7200, "1d2h"},
	{"2w", 14, 0, "14d"},
	{"1w", 7, 0, "7d"},
	{"1w2d3h4m5s", 9, 3 * 3600 + 4 * 60 + 5, "9d3h4m5s"},
	{"24h", 0, 86400, "24h"},             /* calendar and exact units never merge */
	{"48h", 0, 172800, "48h"},
	{"2h", 0, 7200, "2h"},
	{"15s", 0, 15, "15s"},
	{"60s", 0, 60, "1m"},
	{"3600s", 0, 3600, "1h"},
	{"0s", 0, 0, "0s"},
	{"0d", 0, 0, "0s"},
	{"0w0d0h0m0s", 0, 0, "0s"},
	{"007m", 0, 420, "7m"},               /* leading zeros are digits like any other */
	{"1h1d", 1, 3600, "1d1h"},            /* any order; the canonical text sorts */
	{"1d1d", 2, 0, "2d"},                 /* repeated units add up */
	{"1h90m", 0, 9000, "2h30m"},
	{"1d23h59m59s", 1, 86399, "1d23h59m59s"},
	{"10000000d", 10000000, 0, "10000000d"},          /* the largest calendar part */
	{"10000000m", 0, 600000000, "166666h40m"},        /* the largest exact part */
};

static void test_parse_and_format(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct dur d = {-1, -1};
		char err[200] = "", buf[64];

		if (dur_parse(good[i].text, &d, err, sizeof err) != 0)
			fail_msg("\"%s\" refused: %s", good[i].text, err);
		if (d.days != good[i].days || d.secs != good[i].secs)
			fail_msg("\"%s\": got %dd + %llds, expected %dd + %llds", good[i].text, (int)d.days,
			    (long long)d.secs, (int)good[i].days, (long long)good[i].secs);
		dur_format(d, buf, sizeof buf);
		assert_string_equal(buf, good[i].canon);
		/* the canonical text reads back as the same duration */
		{
			struct dur e;
			assert_int_equal(dur_parse(buf, &e, err, sizeof err), 0);
			assert_int_equal(e.days, d.days);
			assert_int_equal(e.secs, d.secs);
		}
	}
}

static const struct {
	const char *text;
	const char *why;                   /* a part of the message */
} bad[] = {
	{"", "empty duration"},
	{"5", "bad duration \"5\""},           /* a number without a unit */
	{"h", "bad duration \"h\""},           /* a unit without a number */
	{"1x", "bad duration \"1x\""},
	{"-1d", "bad duration \"-1d\""},
	{"+1d", "bad duration \"+1d\""},
	{"1.5h", "bad duration \"1.5h\""},
	{"1 d", "bad duration \"1 d\""},
	{" 1d", "bad duration \" 1d\""},
	{"1d ", "bad duration \"1d \""},
	{"1D", "bad duration \"1D\""},         /* units are lowercase */
	{"1H", "bad duration \"1H\""},
	{"1d2", "bad duration \"1d2\""},
	{"1dh", "bad duration \"1dh\""},
	{"2hours", "bad duration \"2hours\""},
	{"P1D", "bad duration \"P1D\""},       /* not ISO 8601 */
	{"10000001d", "too large"},
	{"1428572w", "too large"},             /* 10,000,004 days */
	{"99999999999999999999999h", "too large"},   /* would overflow int64 */
	{"10000001m", "too large"},
	{"166667h", "too large"},              /* 600,001,200 s */
	{"10000000d10000000d", "too large"},   /* each part fits, the sum does not */
};

static void test_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct dur d = {123, 456};
		char err[200] = "";

		if (dur_parse(bad[i].text, &d, err, sizeof err) != -1)
			fail_msg("\"%s\" accepted as %dd + %llds", bad[i].text, (int)d.days, (long long)d.secs);
		if (!strstr(err, bad[i].why))
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].text, err, bad[i].why);
		/* a refused text leaves the output alone */
		assert_int_equal(d.days, 123);
		assert_int_equal(d.secs, 456);
	}
}

static void test_error_buffer_small(void **state)
{
	struct dur d;
	char err[8];

	(void)state;
	memset(err, 'x', sizeof err);
	assert_int_equal(dur_parse("5", &d, err, sizeof err), -1);
	assert_int_equal(strlen(err), sizeof err - 1);      /* truncated, terminated */
}

static void test_helpers(void **state)
{
	struct dur zero = {0, 0}, day = {1, 0}, sec = {0, 1}, both = {2, 90};
	char buf[64];

	(void)state;
	assert_true(dur_is_zero(zero));
	assert_false(dur_is_zero(day));
	assert_false(dur_is_zero(sec));
	assert_int_equal(dur_approx_secs(zero), 0);
	assert_int_equal(dur_approx_secs(day), 86400);
	assert_int_equal(dur_approx_secs(both), 2 * 86400 + 90);
	dur_format(both, buf, sizeof buf);
	assert_string_equal(buf, "2d1m30s");
	/* a short buffer is truncated, never overrun */
	memset(buf, 'x', sizeof buf);
	dur_format(both, buf, 4);
	assert_string_equal(buf, "2d1");
	assert_int_equal(buf[4], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_format),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_buffer_small),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
