/* timefmt.c - see timefmt.h */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "civil.h"
#include "timefmt.h"

const char *const weekday_abbr[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const day_names[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Reads exactly n digits. */
static int digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int date_prefix(const char *s, int32_t *date)
{
	int y, m, d;

	if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &m) || s[7] != '-' ||
	    digits(s + 8, 2, &d))
		return -1;
	if (y < TIMEFMT_MIN_YEAR || y > TIMEFMT_MAX_YEAR || m < 1 || m > 12 || d < 1 ||
	    d > civil_month_days(y, m))
		return -1;
	*date = civil_to_days(y, m, d);
	return 0;
}

static int hhmm_prefix(const char *s, int32_t *secs)
{
	int h, m;

	if (digits(s, 2, &h) || s[2] != ':' || digits(s + 3, 2, &m) || h > 23 || m > 59)
		return -1;
	*secs = h * 3600 + m * 60;
	return 0;
}

int parse_date(const char *s, int32_t *date)
{
	return strlen(s) == 10 ? date_prefix(s, date) : -1;
}

int parse_hhmm(const char *s, int32_t *secs)
{
	return strlen(s) == 5 ? hhmm_prefix(s, secs) : -1;
}

int parse_date_hhmm(const char *s, int64_t *wall)
{
	int32_t date, secs;

	if (strlen(s) != 16 || (s[10] != ' ' && s[10] != 'T') || date_prefix(s, &date) ||
	    hhmm_prefix(s + 11, &secs))
		return -1;
	*wall = wall_make(date, secs);
	return 0;
}

/* "Z", "+HH:MM", "-HH:MM", "+HHMM", "+HH" -> seconds east. */
static int parse_offset(const char *s, int32_t *off)
{
	int h = 0, m = 0, sign;
	size_t n = strlen(s);

	if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
		*off = 0;
		return 0;
	}
	if (s[0] != '+' && s[0] != '-')
		return -1;
	sign = s[0] == '-' ? -1 : 1;
	if (digits(s + 1, 2, &h))
		return -1;
	if (n == 6 && s[3] == ':') {
		if (digits(s + 4, 2, &m))
			return -1;
	} else if (n == 5) {
		if (digits(s + 3, 2, &m))
			return -1;
	} else if (n != 3) {
		return -1;
	}
	if (h > 23 || m > 59)
		return -1;
	*off = sign * (h * 3600 + m * 60);
	return 0;
}

int parse_instant(const char *s, const struct tz *zone, int64_t *t)
{
	int32_t date, secs = 0, off;
	const char *rest;
	int sec = 0;

	if (date_prefix(s, &date))
		return -1;
	rest = s + 10;
	if (*rest == 'T' || *rest == 't' || *rest == ' ') {
		if (hhmm_prefix(rest + 1, &secs))
			return -1;
		rest += 6;
		if (*rest == ':') {
			if (digits(rest + 1, 2, &sec) || sec > 59)
				return -1;
			secs += sec;
			rest += 3;
		}
	}
	if (!*rest) {
		*t = tz_from_wall(zone, wall_make(date, secs));
		return 0;
	}
	if (parse_offset(rest, &off))
		return -1;
	*t = wall_make(date, secs) - off;
	return 0;
}

static void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

static void put_wall(int64_t wall, char *buf)
{
	struct civil c = days_to_civil(wall_date(wall));
	int32_t s = wall_secs(wall);
	int y = c.y < 0 ? 0 : c.y > 9999 ? 9999 : c.y;

	put2(buf, y / 100);
	put2(buf + 2, y % 100);
	buf[4] = '-';
	put2(buf + 5, c.m);
	buf[7] = '-';
	put2(buf + 8, c.d);
	buf[10] = 'T';
	put2(buf + 11, s / 3600);
	buf[13] = ':';
	put2(buf + 14, s / 60 % 60);
	buf[16] = ':';
	put2(buf + 17, s % 60);
}

size_t fmt_utc(int64_t t, char *buf)
{
	put_wall(t, buf);
	buf[19] = 'Z';
	buf[20] = '\0';
	return FMT_UTC_LEN;
}

size_t fmt_local(int64_t t, const struct tz *zone, char *buf)
{
	int32_t off = tz_offset(zone, t);
	int32_t a = off < 0 ? -off : off;

	put_wall(t + off, buf);
	buf[19] = off < 0 ? '-' : '+';
	put2(buf + 20, a / 3600);
	buf[22] = ':';
	put2(buf + 23, a / 60 % 60);
	buf[25] = '\0';
	return FMT_LOCAL_LEN;
}

/* put_wall writes all 19 characters of date and time: the short forms
 * build in a buffer of that size and copy what they show, so a caller's
 * FMT_DATE_LEN + 1 bytes (render.c) are not overrun (found by ASan). */
size_t fmt_date(int32_t date, char *buf)
{
	char full[FMT_UTC_LEN + 1];

	put_wall(wall_make(date, 0), full);
	memcpy(buf, full, FMT_DATE_LEN);
	buf[FMT_DATE_LEN] = '\0';
	return FMT_DATE_LEN;
}

size_t fmt_wall_short(int64_t wall, char *buf)
{
	char full[FMT_UTC_LEN + 1];

	put_wall(wall, full);
	full[10] = ' ';
	memcpy(buf, full, 16);
	buf[16] = '\0';
	return 16;
}

void fmt_day(int64_t wall, char *buf, size_t len)
{
	int32_t date = wall_date(wall);
	struct civil c = days_to_civil(date);

	snprintf(buf, len, "%s %s %d", day_names[days_weekday(date)], month_names[c.m - 1], c.d);
}

void fmt_time12(int64_t wall, char *buf, size_t len)
{
	int32_t s = wall_secs(wall);
	int h = s / 3600, m = s / 60 % 60;

	snprintf(buf, len, "%d:%02d %s", h % 12 ? h % 12 : 12, m, h < 12 ? "AM" : "PM");
}
