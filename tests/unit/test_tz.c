/* test_tz.c - unit tests for daemon/tz.c.
 *
 * Expected values for real zones were taken from python3's zoneinfo and the
 * expected values for the hand-made TZif files below from glibc
 * (TZ='...' date), except where noted.  tests/tz_property.py compares far
 * more points; these pin the cases the SPEC calls out. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "civil.h"
#include "tz.h"

#define H 3600
#define M 60

static char err[256];

/* An instant (UTC) or a wall time (local) from calendar fields: both are
 * date * 86400 + seconds of the day. */
static int64_t at(int y, int mo, int d, int h, int mi)
{
	return wall_make(civil_to_days(y, mo, d), h * H + mi * M);
}

static const struct tz *get(const char *name)
{
	const struct tz *z = tz_get(name, err, sizeof err);

	if (!z)
		fail_msg("tz_get(\"%s\"): %s", name, err);
	return z;
}

/* --- real zones ----------------------------------------------------------- */

static void test_known_offsets(void **state)
{
	(void)state;
	assert_int_equal(tz_offset(get("America/New_York"), at(2024, 1, 15, 12, 0)), -5 * H);
	assert_int_equal(tz_offset(get("America/New_York"), at(2024, 7, 15, 12, 0)), -4 * H);
	assert_int_equal(tz_offset(get("Asia/Kolkata"), at(2024, 7, 15, 12, 0)), 5 * H + 30 * M);
	assert_int_equal(tz_offset(get("America/St_Johns"), at(2024, 1, 15, 12, 0)), -(3 * H + 30 * M));
	assert_int_equal(tz_offset(get("America/St_Johns"), at(2024, 7, 15, 12, 0)), -(2 * H + 30 * M));
	assert_int_equal(tz_offset(get("Europe/London"), at(2024, 7, 15, 12, 0)), 1 * H);
	assert_int_equal(tz_to_wall(get("Asia/Kolkata"), at(2024, 7, 15, 12, 0)), at(2024, 7, 15, 17, 30));
	/* Before the first transition: time type 0, local mean time. */
	assert_int_equal(tz_offset(get("America/New_York"), at(1800, 1, 1, 0, 0)), -17762);
}

static void test_new_york_spring_forward(void **state)
{
	const struct tz *z = get("America/New_York");

	(void)state;
	/* 2024-03-10: 02:00 EST becomes 03:00 EDT at 07:00Z. */
	assert_int_equal(tz_offset(z, at(2024, 3, 10, 6, 59) + 59), -5 * H);
	assert_int_equal(tz_offset(z, at(2024, 3, 10, 7, 0)), -4 * H);
	assert_int_equal(tz_from_wall(z, at(2024, 3, 10, 1, 59) + 59), at(2024, 3, 10, 6, 59) + 59);
	/* 02:30 does not exist: read with EST, the offset before the gap. */
	assert_int_equal(tz_from_wall(z, at(2024, 3, 10, 2, 30)), at(2024, 3, 10, 7, 30));
	assert_int_equal(tz_to_wall(z, at(2024, 3, 10, 7, 30)), at(2024, 3, 10, 3, 30));
	assert_int_equal(tz_from_wall(z, at(2024, 3, 10, 2, 0)), at(2024, 3, 10, 7, 0));
	assert_int_equal(tz_from_wall(z, at(2024, 3, 10, 3, 0)), at(2024, 3, 10, 7, 0));
}

static void test_new_york_fall_back(void **state)
{
	const struct tz *z = get("America/New_York");

	(void)state;
	/* 2024-11-03: 02:00 EDT becomes 01:00 EST at 06:00Z; 01:30 happens
	 * twice and means the first, EDT one. */
	assert_int_equal(tz_from_wall(z, at(2024, 11, 3, 1, 30)), at(2024, 11, 3, 5, 30));
	assert_int_equal(tz_from_wall(z, at(2024, 11, 3, 0, 59) + 59), at(2024, 11, 3, 4, 59) + 59);
	assert_int_equal(tz_from_wall(z, at(2024, 11, 3, 1, 0)), at(2024, 11, 3, 5, 0));
	assert_int_equal(tz_from_wall(z, at(2024, 11, 3, 2, 0)), at(2024, 11, 3, 7, 0));
	assert_int_equal(tz_to_wall(z, at(2024, 11, 3, 6, 30)), at(2024, 11, 3, 1, 30));
}

static void test_lord_howe_half_hour_dst(void **state)
{
	const struct tz *z = get("Australia/Lord_Howe");

	(void)state;
	assert_int_equal(tz_offset(z, at(2024, 7, 1, 0, 0)), 10 * H + 30 * M);
	assert_int_equal(tz_offset(z, at(2024, 12, 1, 0, 0)), 11 * H);
	/* 2024-10-06 02:00 -> 02:30: 02:15 is read at +10:30. */
	assert_int_equal(tz_from_wall(z, at(2024, 10, 6, 2, 15)), at(2024, 10, 5, 15, 45));
	assert_int_equal(tz_from_wall(z, at(2024, 10, 6, 2, 30)), at(2024, 10, 5, 15, 30));
	/* 2024-04-07 02:00 -> 01:30: 01:45 twice, the first at +11. */
	assert_int_equal(tz_from_wall(z, at(2024, 4, 7, 1, 45)), at(2024, 4, 6, 14, 45));
	assert_int_equal(tz_from_wall(z, at(2024, 4, 7, 2, 0)), at(2024, 4, 6, 15, 30));
}

static void test_chatham(void **state)
{
	const struct tz *z = get("Pacific/Chatham");

	(void)state;
	assert_int_equal(tz_offset(z, at(2024, 7, 1, 0, 0)), 12 * H + 45 * M);
	assert_int_equal(tz_offset(z, at(2024, 12, 1, 0, 0)), 13 * H + 45 * M);
	/* 2024-09-29 02:45 -> 03:45 at 14:00Z the day before. */
	assert_int_equal(tz_from_wall(z, at(2024, 9, 29, 3, 0)), at(2024, 9, 28, 14, 15));
	assert_int_equal(tz_from_wall(z, at(2024, 9, 29, 3, 45)), at(2024, 9, 28, 14, 0));
	/* 2024-04-07 03:45 -> 02:45: 03:00 twice, the first at +13:45. */
	assert_int_equal(tz_from_wall(z, at(2024, 4, 7, 3, 0)), at(2024, 4, 6, 13, 15));
}

static void test_kathmandu_1986(void **state)
{
	const struct tz *z = get("Asia/Kathmandu");

	(void)state;
	/* +05:30 until 1986-01-01 00:00 local, then +05:45. */
	assert_int_equal(tz_offset(z, at(1985, 12, 31, 18, 29) + 59), 5 * H + 30 * M);
	assert_int_equal(tz_offset(z, at(1985, 12, 31, 18, 30)), 5 * H + 45 * M);
	assert_int_equal(tz_from_wall(z, at(1986, 1, 1, 0, 10)), at(1985, 12, 31, 18, 40));
	assert_int_equal(tz_from_wall(z, at(2024, 6, 1, 12, 0)), at(2024, 6, 1, 6, 15));
}

static void test_dublin_negative_dst(void **state)
{
	const struct tz *z = get("Europe/Dublin");

	(void)state;
	/* Irish Standard Time (+1) is the summer time; winter is "DST" at 0. */
	assert_int_equal(tz_offset(z, at(2024, 1, 15, 12, 0)), 0);
	assert_int_equal(tz_offset(z, at(2024, 7, 15, 12, 0)), 1 * H);
	assert_int_equal(tz_from_wall(z, at(2024, 3, 31, 1, 30)), at(2024, 3, 31, 1, 30));
	assert_int_equal(tz_from_wall(z, at(2024, 10, 27, 1, 30)), at(2024, 10, 27, 0, 30));
	/* Past the table the footer "IST-1GMT0,M10.5.0,M3.5.0/1" decides. */
	assert_int_equal(tz_offset(z, at(2090, 7, 1, 0, 0)), 1 * H);
	assert_int_equal(tz_offset(z, at(2090, 12, 1, 0, 0)), 0);
}

static void test_day_skips(void **state)
{
	const struct tz *apia = get("Pacific/Apia"), *kiri = get("Pacific/Kiritimati");

	(void)state;
	/* Samoa skipped 2011-12-30: -10 -> +14 at 10:00Z. */
	assert_int_equal(tz_to_wall(apia, at(2011, 12, 30, 9, 59)), at(2011, 12, 29, 23, 59));
	assert_int_equal(tz_to_wall(apia, at(2011, 12, 30, 10, 0)), at(2011, 12, 31, 0, 0));
	assert_int_equal(tz_from_wall(apia, at(2011, 12, 30, 12, 0)), at(2011, 12, 30, 22, 0));
	/* Kiritimati skipped 1994-12-31. */
	assert_int_equal(tz_from_wall(kiri, at(1994, 12, 31, 12, 0)), at(1994, 12, 31, 22, 0));
	assert_int_equal(tz_from_wall(kiri, at(1995, 1, 1, 0, 0)), at(1994, 12, 31, 10, 0));
	assert_int_equal(tz_offset(kiri, at(2024, 1, 1, 0, 0)), 14 * H);
}

static void test_sao_paulo_midnight(void **state)
{
	const struct tz *z = get("America/Sao_Paulo");

	(void)state;
	/* 2018-11-04 00:00 -> 01:00: midnight itself does not exist. */
	assert_int_equal(tz_from_wall(z, at(2018, 11, 4, 0, 0)), at(2018, 11, 4, 3, 0));
	assert_int_equal(tz_from_wall(z, at(2018, 11, 4, 0, 30)), at(2018, 11, 4, 3, 30));
	assert_int_equal(tz_from_wall(z, at(2018, 11, 4, 1, 0)), at(2018, 11, 4, 3, 0));
	/* 2019-02-17 00:00 -> 2019-02-16 23:00: 23:30 twice, the first at -2. */
	assert_int_equal(tz_from_wall(z, at(2019, 2, 16, 23, 30)), at(2019, 2, 17, 1, 30));
	assert_int_equal(tz_offset(z, at(2024, 1, 1, 0, 0)), -3 * H);
}

static void test_far_future(void **state)
{
	const struct tz *z = get("America/New_York");

	(void)state;
	/* 2090 is past the table (2037): the footer rule is expanded. */
	assert_int_equal(tz_offset(z, at(2090, 1, 15, 12, 0)), -5 * H);
	assert_int_equal(tz_offset(z, at(2090, 7, 15, 12, 0)), -4 * H);
	assert_int_equal(tz_offset(z, at(2090, 3, 12, 6, 59) + 59), -5 * H);
	assert_int_equal(tz_offset(z, at(2090, 3, 12, 7, 0)), -4 * H);
	assert_int_equal(tz_from_wall(z, at(2090, 3, 12, 2, 30)), at(2090, 3, 12, 7, 30));
	assert_int_equal(tz_from_wall(z, at(2090, 11, 5, 1, 30)), at(2090, 11, 5, 5, 30));
	/* Still expanded in 2400, and frozen at standard time after it. */
	assert_int_equal(tz_offset(z, at(2400, 7, 1, 0, 0)), -4 * H);
	assert_int_equal(tz_offset(z, at(2500, 7, 1, 0, 0)), -5 * H);
}

static void test_utc(void **state)
{
	const struct tz *z = get("UTC");

	(void)state;
	assert_string_equal(tz_name(z), "UTC");
	assert_int_equal(tz_offset(z, at(2024, 7, 1, 0, 0)), 0);
	assert_int_equal(tz_offset(z, -((int64_t)1 << 40)), 0);
	assert_int_equal(tz_from_wall(z, at(2024, 3, 10, 2, 30)), at(2024, 3, 10, 2, 30));
	assert_int_equal(tz_to_wall(z, 1234567890), 1234567890);
}

static void test_cache(void **state)
{
	(void)state;
	assert_ptr_equal(get("Europe/London"), get("Europe/London"));
	assert_string_equal(tz_name(get("Europe/London")), "Europe/London");
}

/* tz_from_wall remembers its last answers: they answer for the zone asked
 * and no other, also once the zones were freed and loaded again (a zone
 * loaded anew may take the memory a freed one had). */
static void test_from_wall_memo(void **state)
{
	const int64_t w = at(2026, 1, 15, 9, 0);
	const struct tz *ny, *la;

	(void)state;
	for (int i = 0; i < 3; i++) {
		ny = get("America/New_York");
		la = get("America/Los_Angeles");
		for (int k = 0; k < 3; k++) {
			assert_int_equal(tz_from_wall(ny, w), w + 5 * H);
			assert_int_equal(tz_from_wall(la, w), w + 8 * H);
		}
		tz_cleanup();
		/* this time Los Angeles first: the memory New York had */
		la = get("America/Los_Angeles");
		assert_int_equal(tz_from_wall(la, w), w + 8 * H);
		ny = get("America/New_York");
		assert_int_equal(tz_from_wall(ny, w), w + 5 * H);
		tz_cleanup();
	}
}

static void test_bad_names(void **state)
{
	static const char *const bad[] = {
		"", "/etc/passwd", "../etc/passwd", "America/../UTC", "America//New_York",
		"America/", "Europe/Lon don", "Europe/London.bak", "a\\b", "Europe/Paris\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_null(tz_get(bad[i], err, sizeof err));
		assert_non_null(strstr(err, "bad time zone name"));
	}
	assert_null(tz_get(NULL, err, sizeof err));
	assert_null(tz_get("Mars/Olympus_Mons", err, sizeof err));
	assert_string_equal(err,
	    "unknown time zone \"Mars/Olympus_Mons\" (not in /usr/share/zoneinfo)");
	assert_null(tz_get("America", err, sizeof err));       /* a directory */
	assert_non_null(strstr(err, "unknown time zone \"America\""));
	assert_null(tz_get("UTC/Foo", err, sizeof err));        /* under a file */
	assert_non_null(strstr(err, "unknown time zone"));
}

/* --- hand-made zone files under $TZDIR ------------------------------------ */

static char tzdir[200];

struct tzif_spec {
	const char *name;
	char version;
	int ntrans;
	const int64_t *trans;
	const unsigned char *idx;
	int ntypes;
	const int32_t *types;
	int leaps;
	const char *footer;
	size_t truncate;          /* the file's length, if nonzero: cut short, or grown with zeros */
};

static void put32(FILE *f, uint32_t v)
{
	unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};
	fwrite(b, 1, 4, f);
}

static void put64(FILE *f, int64_t v)
{
	put32(f, (uint32_t)((uint64_t)v >> 32));
	put32(f, (uint32_t)v);
}

static void put_header(FILE *f, char version, uint32_t nleap, uint32_t ntrans, uint32_t ntypes)
{
	fwrite("TZif", 1, 4, f);
	fputc(version, f);
	for (int i = 0; i < 15; i++)
		fputc(0, f);
	put32(f, 0);
	put32(f, 0);
	put32(f, nleap);
	put32(f, ntrans);
	put32(f, ntypes);
	put32(f, 4);
}

static void write_tzif(const struct tzif_spec *s)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tzdir, s->name);
	assert_non_null(f = fopen(path, "wb"));
	/* A v1 block with one type: v2+ readers must skip it. */
	put_header(f, s->version, 0, 0, 1);
	put32(f, (uint32_t)s->types[0]);
	fputc(0, f);
	fputc(0, f);
	fwrite("ABC", 1, 4, f);
	if (s->version != '\0') {
		put_header(f, s->version, (uint32_t)s->leaps, (uint32_t)s->ntrans, (uint32_t)s->ntypes);
		for (int i = 0; i < s->ntrans; i++)
			put64(f, s->trans[i]);
		for (int i = 0; i < s->ntrans; i++)
			fputc(s->idx[i], f);
		for (int i = 0; i < s->ntypes; i++) {
			put32(f, (uint32_t)s->types[i]);
			fputc(0, f);
			fputc(0, f);
		}
		fwrite("ABC", 1, 4, f);
		for (int i = 0; i < s->leaps; i++) {
			put64(f, 78796800 + i);
			put32(f, (uint32_t)i + 1);
		}
		fprintf(f, "\n%s\n", s->footer);
	}
	assert_int_equal(fclose(f), 0);
	if (s->truncate)
		assert_int_equal(truncate(path, (off_t)s->truncate), 0);
}

static int setup_tzdir(void **state)
{
	static const int32_t t0[] = {0}, t2[] = {-3 * H, -2 * H};
	static const int64_t close_at[] = {1700000000, 1700003600, 1700007200};
	static const unsigned char close_idx[] = {1, 0, 1};
	static const int32_t close_types[] = {0, 5 * H};
	const struct tzif_spec files[] = {
		{"Fixed", '2', 0, NULL, NULL, 1, t0, 0, "<+0530>-5:30", 0},
		{"Nrule", '3', 0, NULL, NULL, 1, t0, 0, "XXX3YYY,59/0,300/1", 0},
		{"Jrule", '4', 0, NULL, NULL, 1, t0, 0, "XXX3YYY,J60/0,J300/1", 0},
		{"J59", '2', 0, NULL, NULL, 1, t0, 0, "XXX3YYY,J59/0,J60/0", 0},
		{"AllDST", '3', 0, NULL, NULL, 1, t0, 0, "EST5EDT4,0/0,J365/25", 0},
		{"Nuuk", '3', 0, NULL, NULL, 1, t0, 0, "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 0},
		{"Jerusalem", '3', 0, NULL, NULL, 1, t0, 0, "IST-2IDT,M3.4.4/26,M10.5.0", 0},
		{"Close", '2', 3, close_at, close_idx, 2, close_types, 0, "<+05>-5", 0},
		{"V1", '\0', 0, NULL, NULL, 1, t0, 0, "", 0},
		{"V9", '9', 0, NULL, NULL, 1, t0, 0, "UTC0", 0},
		{"Leap", '2', 0, NULL, NULL, 1, t0, 2, "UTC0", 0},
		{"Trunc", '2', 3, close_at, close_idx, 2, close_types, 0, "<+05>-5", 100},
		{"BadFooter", '2', 0, NULL, NULL, 2, t2, 0, "AAA3BBB,M13.1.0,M11.1.0", 0},
		{"NoEnd", '2', 0, NULL, NULL, 2, t2, 0, "AAA3BBB,M3.2.0", 0},
		/* a zone file is never megabytes: refused before it is read */
		{"Huge", '2', 0, NULL, NULL, 1, t0, 0, "UTC0", (1 << 20) + 1},
	};
	char path[512];
	FILE *f;

	(void)state;
	snprintf(tzdir, sizeof tzdir, "%s/test_tz.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tzdir))
		return -1;
	snprintf(path, sizeof path, "%s/Test", tzdir);
	if (mkdir(path, 0700) < 0)
		return -1;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		struct tzif_spec s = files[i];
		char name[64];

		snprintf(name, sizeof name, "Test/%s", s.name);
		s.name = name;
		write_tzif(&s);
	}
	snprintf(path, sizeof path, "%s/Test/Text", tzdir);
	if (!(f = fopen(path, "w")))
		return -1;
	fputs("# not a zone\n", f);
	fclose(f);
	return setenv("TZDIR", tzdir, 1);
}

static int teardown_tzdir(void **state)
{
	char path[512];
	struct dirent *e;
	DIR *d;

	(void)state;
	unsetenv("TZDIR");
	snprintf(path, sizeof path, "%s/Test", tzdir);
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof path, "%s/Test/%s", tzdir, e->d_name);
			unlink(path);
		}
	closedir(d);
	snprintf(path, sizeof path, "%s/Test", tzdir);
	return rmdir(path) == 0 && rmdir(tzdir) == 0 ? 0 : -1;
}

static void test_tzdir_footer_only(void **state)
{
	(void)state;
	assert_int_equal(tz_offset(get("Test/Fixed"), at(2024, 1, 1, 0, 0)), 5 * H + 30 * M);
	assert_int_equal(tz_from_wall(get("Test/Fixed"), at(2024, 1, 1, 5, 30)), at(2024, 1, 1, 0, 0));
	/* An unknown name reports the directory it looked in. */
	assert_null(tz_get("Test/Nope", err, sizeof err));
	assert_non_null(strstr(err, tzdir));
}

/* "n" counts from 0 and counts Feb 29: day 59 is Mar 1, or Feb 29 in leap
 * years.  "Jn" counts from 1 and never counts Feb 29: J60 is always Mar 1,
 * J59 always Feb 28.  (CPython's zoneinfo gets both wrong; glibc agrees.) */
static void test_tzdir_julian_rules(void **state)
{
	const struct tz *n = get("Test/Nrule"), *j = get("Test/Jrule"), *j59 = get("Test/J59");

	(void)state;
	assert_int_equal(tz_offset(n, at(2023, 3, 1, 2, 59) + 59), -3 * H);
	assert_int_equal(tz_offset(n, at(2023, 3, 1, 3, 0)), -2 * H);
	assert_int_equal(tz_offset(n, at(2024, 2, 29, 2, 59) + 59), -3 * H);
	assert_int_equal(tz_offset(n, at(2024, 2, 29, 3, 0)), -2 * H);
	assert_int_equal(tz_offset(n, at(2023, 10, 28, 2, 59) + 59), -2 * H);   /* day 300 */
	assert_int_equal(tz_offset(n, at(2023, 10, 28, 3, 0)), -3 * H);
	assert_int_equal(tz_offset(n, at(2024, 10, 27, 3, 0)), -3 * H);
	assert_int_equal(tz_offset(j, at(2024, 2, 29, 3, 0)), -3 * H);
	assert_int_equal(tz_offset(j, at(2024, 3, 1, 3, 0)), -2 * H);
	assert_int_equal(tz_offset(j, at(2023, 10, 27, 2, 59) + 59), -2 * H);  /* J300 */
	assert_int_equal(tz_offset(j, at(2023, 10, 27, 3, 0)), -3 * H);
	assert_int_equal(tz_offset(j, at(2024, 10, 27, 3, 0)), -3 * H);
	assert_int_equal(tz_offset(j59, at(2024, 2, 28, 2, 59)), -3 * H);
	assert_int_equal(tz_offset(j59, at(2024, 2, 28, 3, 0)), -2 * H);
	assert_int_equal(tz_offset(j59, at(2024, 2, 29, 12, 0)), -2 * H);
	assert_int_equal(tz_offset(j59, at(2024, 3, 1, 2, 0)), -3 * H);
}

static void test_tzdir_odd_times(void **state)
{
	const struct tz *all = get("Test/AllDST"), *nuuk = get("Test/Nuuk");
	const struct tz *jer = get("Test/Jerusalem");

	(void)state;
	/* "0/0,J365/25" is DST all year: RFC 8536 3.3.1.  (glibc shows EST
	 * for the first hours of each UTC year: it evaluates one UTC year.) */
	assert_int_equal(tz_offset(all, at(2024, 1, 1, 0, 0)), -4 * H);
	assert_int_equal(tz_offset(all, at(2024, 7, 1, 0, 0)), -4 * H);
	assert_int_equal(tz_offset(all, at(2090, 1, 1, 0, 0)), -4 * H);
	/* M3.5.0/-1: 23:00 on the Saturday before the last Sunday of March. */
	assert_int_equal(tz_offset(nuuk, at(2024, 3, 31, 0, 59) + 59), -2 * H);
	assert_int_equal(tz_offset(nuuk, at(2024, 3, 31, 1, 0)), -1 * H);
	assert_int_equal(tz_from_wall(nuuk, at(2024, 3, 30, 23, 30)), at(2024, 3, 31, 1, 30));
	assert_int_equal(tz_offset(nuuk, at(2024, 10, 27, 1, 0)), -2 * H);
	/* M3.4.4/26: 02:00 on the Friday after the fourth Thursday. */
	assert_int_equal(tz_offset(jer, at(2024, 3, 28, 23, 59) + 59), 2 * H);
	assert_int_equal(tz_offset(jer, at(2024, 3, 29, 0, 0)), 3 * H);
	assert_int_equal(tz_from_wall(jer, at(2024, 3, 29, 2, 30)), at(2024, 3, 29, 0, 30));
}

/* Transitions an hour apart with offsets five hours apart: the clock
 * reads [t+5h, t+6h) at +5, then [t+1h, t+2h) at 0, then t+7h on at +5.
 * The +-27 h window must see all of them at once. */
static void test_tzdir_close_transitions(void **state)
{
	const struct tz *z = get("Test/Close");
	const int64_t t = 1700000000;

	(void)state;
	assert_int_equal(tz_offset(z, t - 1), 0);
	assert_int_equal(tz_offset(z, t), 5 * H);
	assert_int_equal(tz_offset(z, t + H), 0);
	assert_int_equal(tz_offset(z, t + 2 * H), 5 * H);
	/* Walls that exist once. */
	assert_int_equal(tz_from_wall(z, t + 5 * H + 30 * M), t + 30 * M);
	assert_int_equal(tz_from_wall(z, t + 90 * M), t + 90 * M);
	assert_int_equal(tz_from_wall(z, t + 8 * H), t + 3 * H);
	/* Skipped when the clock first jumped: t+30m, at offset 0. */
	assert_int_equal(tz_from_wall(z, t + 30 * M), t + 30 * M);
	/* Skipped last by the jump from t+2h to t+7h, so read at 0, the
	 * offset in force before that gap (not at +5 from the first one). */
	assert_int_equal(tz_from_wall(z, t + 6 * H + 30 * M), t + 6 * H + 30 * M);
	assert_int_equal(tz_from_wall(z, t + 3 * H), t + 3 * H);
}

static void test_tzdir_bad_files(void **state)
{
	static const struct {
		const char *name, *why;
	} bad[] = {
		{"Test/V1", "unsupported TZif version"},
		{"Test/V9", "unsupported TZif version"},
		{"Test/Leap", "leap-second"},
		{"Test/Trunc", "truncated"},
		{"Test/BadFooter", "bad TZ string footer"},
		{"Test/NoEnd", "bad TZ string footer"},
		{"Test/Text", "not a TZif file"},
		{"Test/Huge", "File too large"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_null(tz_get(bad[i].name, err, sizeof err));
		if (!strstr(err, bad[i].why))
			fail_msg("%s: \"%s\" does not say \"%s\"", bad[i].name, err, bad[i].why);
	}
}

/* --- threads ---------------------------------------------------------------- */

static const char *const thread_zones[] = {
	"Europe/Berlin", "Asia/Tokyo", "America/Chicago", "Australia/Sydney",
	"Europe/Berlin", "Pacific/Auckland", "America/Chicago", "Africa/Cairo",
};

static int64_t zone_checksum(const struct tz *z)
{
	int64_t sum = 0;

	for (int64_t w = at(2024, 1, 1, 0, 0); w < at(2025, 1, 1, 0, 0); w += 977)
		sum += tz_from_wall(z, w) - w + tz_offset(z, w);
	return sum;
}

static int64_t thread_sums[8];

/* Threads load the same zones at once, then read them without the lock. */
static void *thread_main(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	char e[128];
	const struct tz *z = tz_get(thread_zones[i], e, sizeof e);

	if (!z)
		return (void *)1;
	thread_sums[i] = zone_checksum(z);
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[8];

	(void)state;
	for (uintptr_t i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, (void *)i), 0);
	for (int i = 0; i < 8; i++) {
		void *r;
		assert_int_equal(pthread_join(th[i], &r), 0);
		assert_null(r);
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(thread_sums[i], zone_checksum(get(thread_zones[i])));
	assert_ptr_equal(get("Europe/Berlin"), get("Europe/Berlin"));
}

static int teardown_all(void **state)
{
	(void)state;
	tz_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest system_zones[] = {
		cmocka_unit_test(test_known_offsets),
		cmocka_unit_test(test_new_york_spring_forward),
		cmocka_unit_test(test_new_york_fall_back),
		cmocka_unit_test(test_lord_howe_half_hour_dst),
		cmocka_unit_test(test_chatham),
		cmocka_unit_test(test_kathmandu_1986),
		cmocka_unit_test(test_dublin_negative_dst),
		cmocka_unit_test(test_day_skips),
		cmocka_unit_test(test_sao_paulo_midnight),
		cmocka_unit_test(test_far_future),
		cmocka_unit_test(test_utc),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_from_wall_memo),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_threads),
	};
	const struct CMUnitTest own_zones[] = {
		cmocka_unit_test(test_tzdir_footer_only),
		cmocka_unit_test(test_tzdir_julian_rules),
		cmocka_unit_test(test_tzdir_odd_times),
		cmocka_unit_test(test_tzdir_close_transitions),
		cmocka_unit_test(test_tzdir_bad_files),
	};
	int failed;

	/* TZDIR is read when a zone is first loaded: the system zones run
	 * without it, and the test directory holds only names of its own. */
	unsetenv("TZDIR");
	failed = cmocka_run_group_tests_name("system zones", system_zones, NULL, NULL);
	failed += cmocka_run_group_tests_name("TZDIR zones", own_zones, setup_tzdir, teardown_tzdir);
	teardown_all(NULL);
	return failed;
}
