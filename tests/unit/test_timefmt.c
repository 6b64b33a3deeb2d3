/* test_timefmt.c - daemon/timefmt.c: the dates, times and instants of the
 * configuration and the command line, and the agenda's and templates'
 * formats (SPEC 2, 3.1, 3.2, 4.1, 5).  Expected values were computed
 * independently (Python's datetime and zoneinfo), not with civil.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "civil.h"

/* 2026-12-01 is day 20788 of the Unix epoch, a Tuesday. */
#define D20261201 20788

static void test_parse_date(void **state)
{
	static const struct {
		const char *s;
		int32_t days;
	} ok[] = {
		{"1970-01-01", 0}, {"2026-12-01", D20261201}, {"2000-03-01", 11017},
		{"2024-02-29", 19782}, {"1900-01-01", -25567}, {"2399-12-31", 157053},
		{"2026-03-08", 20520}, {"2026-11-01", 20758},
	};
	static const char *const bad[] = {
		"2026-02-30", "2026-02-29", "2100-02-29", "2026-04-31", "2026-13-01", "2026-00-10",
		"2026-12-00", "2026-12-32", "1899-12-31", "2400-01-01", "2026-1-01", "2026-12-1",
		"26-12-01", "2026/12/01", "2026-12-01 ", " 2026-12-01", "2026-12-01T00:00", "20261201",
		"", "2026-12-0a", "+026-12-01", "-026-12-01",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int32_t d = -1;
		if (parse_date(ok[i].s, &d) != 0)
			fail_msg("%s refused", ok[i].s);
		assert_int_equal(d, ok[i].days);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int32_t d = 42;
		if (parse_date(bad[i], &d) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(d, 42);
	}
}

static void test_parse_hhmm(void **state)
{
	static const struct {
		const char *s;
		int32_t secs;
	} ok[] = {
		{"00:00", 0}, {"07:00", 25200}, {"18:00", 64800}, {"23:59", 86340}, {"12:30", 45000},
		{"02:30", 9000},
	};
	static const char *const bad[] = {
		"25:00", "24:00", "7:00", "07:0", "07:60", "0700", "07:00:00", " 07:00", "07:00 ",
		"07.00", "-1:00", "7pm", "", "ab:cd", "07:5x",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int32_t s = -1;
		if (parse_hhmm(ok[i].s, &s) != 0)
			fail_msg("%s refused", ok[i].s);
		assert_int_equal(s, ok[i].secs);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int32_t s = 42;
		if (parse_hhmm(bad[i], &s) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(s, 42);
	}
}

static void test_parse_date_hhmm(void **state)
{
	static const char *const bad[] = {
		"2026-12-03", "2026-12-03 16", "2026-12-03  16:00", "2026-12-03 16:00:00",
		"2026-12-03 25:00", "2026-02-30 16:00", "2026-12-03_16:00", "2026-12-03 4:00",
		"2026-12-03 16:00Z", "",
	};
	int64_t w = -1;
	size_t i;

	(void)state;
	assert_int_equal(parse_date_hhmm("2026-12-03 16:00", &w), 0);
	assert_int_equal(w, (int64_t)(D20261201 + 2) * 86400 + 16 * 3600);
	assert_int_equal(parse_date_hhmm("2026-12-03T16:00", &w), 0);
	assert_int_equal(w, (int64_t)(D20261201 + 2) * 86400 + 16 * 3600);
	assert_int_equal(parse_date_hhmm("1969-12-31 23:59", &w), 0);
	assert_int_equal(w, -60);                       /* wall times before 1970 are negative */
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		w = 42;
		if (parse_date_hhmm(bad[i], &w) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(w, 42);
	}
}

static void test_parse_instant(void **state)
{
	const struct tz *utc = unit_zone("UTC");
	static const struct {
		const char *s;
		const char *zone;
		int64_t t;
	} ok[] = {
		{"2026-12-01T18:00:00Z", "UTC", 1796148000},
		{"2026-12-01T18:00:00Z", "America/New_York", 1796148000},   /* Z: the zone is moot */
		{"2026-12-01t18:00:00z", "UTC", 1796148000},
		{"2026-12-01T18:00:00+00:00", "America/New_York", 1796148000},
		{"2026-12-01T18:00:00-00:00", "America/New_York", 1796148000},
		{"2026-12-01T18:00:00-05:00", "UTC", 1796166000},
		{"2026-12-01T18:00:00+05:45", "UTC", 1796127300},
		{"2026-12-01T18:00:00-03:30", "UTC", 1796160600},
		{"2026-12-01T18:00:00-0330", "UTC", 1796160600},
		{"2026-12-01T18:00:00-03", "UTC", 1796148000 + 3 * 3600},
		{"2026-12-01T18:00Z", "UTC", 1796148000},                    /* seconds optional */
		{"2026-12-01 18:00:00Z", "UTC", 1796148000},
		{"2026-12-01T18:00:59Z", "UTC", 1796148059},
		/* without an offset: a wall time in the zone (the daemon's) */
		{"2026-12-01", "UTC", 1796083200},
		{"2026-12-01", "America/New_York", 1796101200},            /* midnight EST */
		{"2026-12-01", "Asia/Kathmandu", 1796083200 - 20700},
		{"2026-12-01T18:00", "America/New_York", 1796166000},
		{"2026-12-01T18:00:00", "America/New_York", 1796166000},
		/* SPEC 3.2: 02:30 on spring-forward night is read with the offset
		 * before the gap (EST): 07:30Z, i.e. 03:30 EDT */
		{"2026-03-08T02:30", "America/New_York", 1772955000},
		{"2026-03-08T02:00", "America/New_York", 1772955000 - 1800},
		{"2026-03-08T03:00", "America/New_York", 1772955000 - 1800},  /* 03:00 EDT = 07:00Z */
		/* a time that occurs twice means the first (EDT): 05:30Z */
		{"2026-11-01T01:30", "America/New_York", 1793511000},
		{"2026-11-01T02:00", "America/New_York", 1793511000 + 3 * 1800}, /* 02:00 EST = 07:00Z */
	};
	static const char *const bad[] = {
		"2026-12-01T18:00:00+24:00", "2026-12-01T18:00:00+05:60", "2026-12-01T25:00Z",
		"2026-12-01T18:00:60Z", "2026-12-01T18Z", "20261201T180000Z", "2026-12-01T18:00:00 Z",
		"2026-12-01T18:00:00+05:3", "2026-12-01T18:00:00+5", "2026-12-01T18:00:00EST",
		"2026-12-01T18:00:00.000Z", "2026-02-30", "2026-12-01T", "2026-12-01X", "tomorrow", "",
		"2026-12-01T18:00:00+05:45:00",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t t = -1;
		if (parse_instant(ok[i].s, unit_zone(ok[i].zone), &t) != 0)
			fail_msg("%s (%s) refused", ok[i].s, ok[i].zone);
		if (t != ok[i].t)
			fail_msg("%s (%s): %lld, expected %lld", ok[i].s, ok[i].zone, (long long)t,
			    (long long)ok[i].t);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t t = 42;
		if (parse_instant(bad[i], utc, &t) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(t, 42);
	}
}

static void test_fmt_utc(void **state)
{
	char buf[FMT_UTC_LEN + 1];

	(void)state;
	assert_int_equal(fmt_utc(1796148000, buf), FMT_UTC_LEN);
	assert_string_equal(buf, "2026-12-01T18:00:00Z");
	fmt_utc(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	fmt_utc(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
	fmt_utc(1796148059, buf);
	assert_string_equal(buf, "2026-12-01T18:00:59Z");
	fmt_utc(951782400, buf);                        /* a leap day */
	assert_string_equal(buf, "2000-02-29T00:00:00Z");
}

static void test_fmt_local(void **state)
{
	static const struct {
		int64_t t;
		const char *zone, *want;
	} v[] = {
		{1796148000, "Asia/Kathmandu", "2026-12-01T23:45:00+05:45"},
		{1796148000, "America/St_Johns", "2026-12-01T14:30:00-03:30"},
		{1796148000, "UTC", "2026-12-01T18:00:00+00:00"},              /* never Z */
		{1796148000, "Europe/London", "2026-12-01T18:00:00+00:00"},
		{1796148000, "America/New_York", "2026-12-01T13:00:00-05:00"},
		{1796148000, "America/Denver", "2026-12-01T11:00:00-07:00"},
		{1796148000, "Asia/Kolkata", "2026-12-01T23:30:00+05:30"},
		{1796148000, "Pacific/Chatham", "2026-12-02T07:45:00+13:45"},
		{1772955000, "America/New_York", "2026-03-08T03:30:00-04:00"},
		{1772955000 - 3600, "America/New_York", "2026-03-08T01:30:00-05:00"},
		{1793511000, "America/New_York", "2026-11-01T01:30:00-04:00"},
		{1793511000 + 3600, "America/New_York", "2026-11-01T01:30:00-05:00"},
	};
	size_t i;
	char buf[FMT_LOCAL_LEN + 1];

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		assert_int_equal(fmt_local(v[i].t, unit_zone(v[i].zone), buf), FMT_LOCAL_LEN);
		if (strcmp(buf, v[i].want))
			fail_msg("%lld in %s: %s, expected %s", (long long)v[i].t, v[i].zone, buf, v[i].want);
	}
}

static void test_fmt_date_and_wall(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(fmt_date(D20261201, buf), FMT_DATE_LEN);
	assert_string_equal(buf, "2026-12-01");
	fmt_date(-25567, buf);
	assert_string_equal(buf, "1900-01-01");
	assert_int_equal(fmt_wall_short((int64_t)D20261201 * 86400 + 18 * 3600 + 5 * 60, buf), 16);
	assert_string_equal(buf, "2026-12-01 18:05");
}

static int64_t wall(int32_t date, int h, int m)
{
	return (int64_t)date * 86400 + h * 3600 + m * 60;
}

static void test_fmt_day(void **state)
{
	static const struct {
		int32_t date;
		const char *want;
	} v[] = {
		{D20261201, "Tue Dec 1"}, {D20261201 + 1, "Wed Dec 2"}, {D20261201 + 5, "Sun Dec 6"},
		{D20261201 + 6, "Mon Dec 7"}, {D20261201 + 30, "Thu Dec 31"}, {D20261201 + 31, "Fri Jan 1"},
		{20520, "Sun Mar 8"}, {19782, "Thu Feb 29"}, {0, "Thu Jan 1"}, {-1, "Wed Dec 31"},
	};
	size_t i;
	char buf[32];

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		fmt_day(wall(v[i].date, 18, 0), buf, sizeof buf);
		assert_string_equal(buf, v[i].want);
		fmt_day(wall(v[i].date, 23, 59), buf, sizeof buf);   /* the date, whatever the time */
		assert_string_equal(buf, v[i].want);
	}
	fmt_day(wall(D20261201, 0, 0), buf, 6);                  /* truncated, terminated */
	assert_string_equal(buf, "Tue D");
}

static void test_fmt_time12(void **state)
{
	static const struct {
		int h, m;
		const char *want;
	} v[] = {
		{18, 0, "6:00 PM"}, {0, 0, "12:00 AM"}, {12, 30, "12:30 PM"}, {12, 0, "12:00 PM"},
		{0, 5, "12:05 AM"}, {11, 59, "11:59 AM"}, {23, 59, "11:59 PM"}, {9, 7, "9:07 AM"},
		{13, 0, "1:00 PM"}, {1, 0, "1:00 AM"}, {10, 0, "10:00 AM"},
	};
	size_t i;
	char buf[16];

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		fmt_time12(wall(D20261201, v[i].h, v[i].m), buf, sizeof buf);
		assert_string_equal(buf, v[i].want);
		fmt_time12(wall(-3, v[i].h, v[i].m), buf, sizeof buf);   /* before 1970 too */
		assert_string_equal(buf, v[i].want);
	}
}

static void test_weekday_abbr(void **state)
{
	static const char *const want[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	int i;

	(void)state;
	for (i = 0; i < 7; i++)
		assert_string_equal(weekday_abbr[i], want[i]);
	/* days_weekday and the abbreviations agree: 2026-12-01 is a Tuesday */
	assert_string_equal(weekday_abbr[days_weekday(D20261201)], "tue");
	assert_string_equal(weekday_abbr[days_weekday(-1)], "wed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_date),
		cmocka_unit_test(test_parse_hhmm),
		cmocka_unit_test(test_parse_date_hhmm),
		cmocka_unit_test(test_parse_instant),
		cmocka_unit_test(test_fmt_utc),
		cmocka_unit_test(test_fmt_local),
		cmocka_unit_test(test_fmt_date_and_wall),
		cmocka_unit_test(test_fmt_day),
		cmocka_unit_test(test_fmt_time12),
		cmocka_unit_test(test_weekday_abbr),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	tz_cleanup();
	return rc;
}
