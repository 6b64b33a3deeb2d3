/* dur.h - iopd durations: "90m", "1d", "1d2h", "2w".
 *
 * `w` and `d` are calendar units (the same wall time N days earlier in the
 * event's zone); `h`, `m` and `s` are exact elapsed seconds.  A duration
 * keeps both parts apart because they are applied differently (SPEC 3.1). */
#ifndef IOPD_DUR_H
#define IOPD_DUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dur {
	int32_t days;          /* calendar part: 7 * w + d */
	int64_t secs;          /* exact part: 3600 * h + 60 * m + s */
};

/* Parses s; on error returns -1 and writes a reason into err. */
int dur_parse(const char *s, struct dur *out, char *err, size_t errlen);
bool dur_is_zero(struct dur d);
/* Exact seconds, with calendar days counted as 86400 s (for bounds only). */
int64_t dur_approx_secs(struct dur d);
/* Canonical text: "90m" -> "1h30m", "1w" -> "7d", zero -> "0s".  The
 * calendar and exact parts stay apart, so "1d" and "24h" remain different. */
void dur_format(struct dur d, char *buf, size_t len);

#endif
