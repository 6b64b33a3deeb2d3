/* civil.h - proleptic Gregorian calendar arithmetic on plain integers.
 *
 * iopd keeps three kinds of time apart:
 *   instant  int64_t seconds since 1970-01-01T00:00:00Z (UTC)
 *   date     int32_t days since 1970-01-01 (a calendar date, no zone)
 *   wall     int64_t seconds since 1970-01-01T00:00:00 of a local clock,
 *            i.e. date * 86400 + seconds of the day, not yet tied to a zone
 * Converting wall <-> instant needs a zone (tz.h); everything here is pure. */
#ifndef IOPD_CIVIL_H
#define IOPD_CIVIL_H

#include <stdint.h>

#define DAY_SECS 86400

struct civil {
	int32_t y;
	int m, d;              /* 1..12, 1..31 */
};

/* Days since 1970-01-01 of y-m-d (after H. Hinnant's days_from_civil). */
static inline int32_t civil_to_days(int32_t y, int m, int d)
{
	int32_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static inline struct civil days_to_civil(int32_t z)
{
	struct civil c;
	int32_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	c.d = doy - (153 * mp + 2) / 5 + 1;
	c.m = mp < 10 ? mp + 3 : mp - 9;
	c.y = yoe + era * 400 + (c.m <= 2);
	return c;
}

/* 0 = Monday .. 6 = Sunday (ISO order, as iopd's `days` lists are written). */
static inline int days_weekday(int32_t z)
{
	int w = (int)((z % 7 + 7 + 3) % 7);    /* 1970-01-01 was a Thursday (3) */
	return w;
}

static inline int civil_month_days(int32_t y, int m)
{
	static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 ? 28 + leap : md[m - 1];
}

/* Floor division for negative instants. */
static inline int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static inline int32_t wall_date(int64_t wall)
{
	return (int32_t)floordiv(wall, DAY_SECS);
}

static inline int32_t wall_secs(int64_t wall)
{
	return (int32_t)(wall - (int64_t)wall_date(wall) * DAY_SECS);
}

static inline int64_t wall_make(int32_t date, int32_t secs)
{
	return (int64_t)date * DAY_SECS + secs;
}

#endif
