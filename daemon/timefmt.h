/* timefmt.h - reading and writing dates and times (ISO 8601 subsets).
 *
 * Formatting is hand-rolled rather than strftime(): the agenda writes
 * millions of timestamps and must not depend on the process's TZ or locale. */
#ifndef IOPD_TIMEFMT_H
#define IOPD_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "tz.h"

/* Years iopd accepts in configuration and on the command line. */
#define TIMEFMT_MIN_YEAR 1900
#define TIMEFMT_MAX_YEAR 2399

/* Each returns 0 on success, -1 if s is not exactly of the form. */
int parse_date(const char *s, int32_t *date);              /* YYYY-MM-DD */
int parse_hhmm(const char *s, int32_t *secs);              /* HH:MM, 00:00..23:59 */
int parse_date_hhmm(const char *s, int64_t *wall);         /* YYYY-MM-DD HH:MM (or T) */

/* An instant from the command line: "2026-12-01T18:00:00Z",
 * "2026-12-01T18:00:00-05:00", "2026-12-01T18:00" or a bare date
 * "2026-12-01"; without an offset it is a wall time in `zone` (3.2). */
int parse_instant(const char *s, const struct tz *zone, int64_t *t);

#define FMT_UTC_LEN 20          /* 2026-12-01T00:00:00Z */
#define FMT_LOCAL_LEN 25        /* 2026-11-29T19:00:00-07:00 */
#define FMT_DATE_LEN 10

size_t fmt_utc(int64_t t, char *buf);                      /* writes FMT_UTC_LEN + NUL */
size_t fmt_local(int64_t t, const struct tz *zone, char *buf);   /* FMT_LOCAL_LEN + NUL */
size_t fmt_date(int32_t date, char *buf);                  /* FMT_DATE_LEN + NUL */
size_t fmt_wall_short(int64_t wall, char *buf);            /* 2026-11-29 19:00 */
void fmt_day(int64_t wall, char *buf, size_t len);         /* "Tue Dec 1" */
void fmt_time12(int64_t wall, char *buf, size_t len);      /* "6:00 PM" */

extern const char *const weekday_abbr[7];                  /* "mon".."sun" */

#endif
