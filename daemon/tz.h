/* tz.h - IANA time zones without touching the process-wide TZ.
 *
 * Each zone's TZif file (version 2 or later) is read once from the system
 * zone database ($TZDIR, else /usr/share/zoneinfo) and cached for the life
 * of the process; instants past the file's table follow its POSIX-TZ footer
 * rule.  Lookups are binary searches over the transitions and are safe to
 * call from several threads at once.
 *
 * Conventions (see civil.h): an instant is UTC seconds since the epoch; a
 * wall time is a local clock reading as date * 86400 + seconds of day. */
#ifndef IOPD_TZ_H
#define IOPD_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct tz;

/* The zone called `name` ("America/New_York", "UTC"), loaded on first use.
 * Returns NULL and a reason in err for names that are not IANA zone names
 * of the system database (absolute paths and ".." are refused). */
const struct tz *tz_get(const char *name, char *err, size_t errlen);
const char *tz_name(const struct tz *z);
/* Everything tz_offset and tz_from_wall answer from, as bytes appended to
 * b: two zones read alike if and only if their descriptions are equal (the
 * snapshot cache compares them to the zone database of the day). */
void tz_describe(const struct tz *z, struct sbuf *b);

/* UTC offset in seconds east of Greenwich in force at instant t. */
int32_t tz_offset(const struct tz *z, int64_t t);

/* The wall time at instant t: t + tz_offset(z, t). */
int64_t tz_to_wall(const struct tz *z, int64_t t);

/* The instant of wall time w, by SPEC 3.2 (RFC 5545 3.3.5): a wall time
 * that occurs twice means the first of the two; one that does not exist
 * (clocks go forward) is read with the offset in force before the gap. */
int64_t tz_from_wall(const struct tz *z, int64_t w);

/* Frees every cached zone.  Only at exit, when no thread uses a zone. */
void tz_cleanup(void);

#endif
