/* dur.c - see dur.h */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dur.h"

/* Large enough for any sensible lead or offset (about 27 years), small
 * enough that no arithmetic on instants can overflow. */
#define DUR_MAX_UNITS 10000000LL

int dur_parse(const char *s, struct dur *out, char *err, size_t errlen)
{
	const char *p = s;
	int64_t days = 0, secs = 0;
	int seen = 0;

	if (!*p) {
		snprintf(err, errlen, "empty duration (write e.g. \"2h\", \"1d\", \"90m\")");
		return -1;
	}
	while (*p) {
		int64_t n = 0;
		const char *q = p;

		while (*q >= '0' && *q <= '9') {
			n = n * 10 + (*q - '0');
			if (n > DUR_MAX_UNITS) {
				snprintf(err, errlen, "duration \"%s\" is too large", s);
				return -1;
			}
			q++;
		}
		if (q == p || !*q || !strchr("wdhms", *q)) {
			snprintf(err, errlen,
			    "bad duration \"%s\": expected one or more <number><unit> with unit w, d, h, m or s (e.g. \"1d2h\")", s);
			return -1;
		}
		switch (*q) {
		case 'w': days += 7 * n; break;
		case 'd': days += n; break;
		case 'h': secs += 3600 * n; break;
		case 'm': secs += 60 * n; break;
		case 's': secs += n; break;
		}
		p = q + 1;
		seen++;
	}
	if (days > DUR_MAX_UNITS || secs > DUR_MAX_UNITS * 60) {
		snprintf(err, errlen, "duration \"%s\" is too large", s);
		return -1;
	}
	out->days = (int32_t)days;
	out->secs = secs;
	return 0;
}

bool dur_is_zero(struct dur d)
{
	return d.days == 0 && d.secs == 0;
}

int64_t dur_approx_secs(struct dur d)
{
	return (int64_t)d.days * 86400 + d.secs;
}

void dur_format(struct dur d, char *buf, size_t len)
{
	size_t n = 0;
	int64_t s = d.secs;

	buf[0] = '\0';
	if (d.days)
		n += (size_t)snprintf(buf + n, len - n, "%dd", (int)d.days);
	if (s >= 3600 && n < len)
		n += (size_t)snprintf(buf + n, len - n, "%lldh", (long long)(s / 3600));
	s %= 3600;
	if (s >= 60 && n < len)
		n += (size_t)snprintf(buf + n, len - n, "%lldm", (long long)(s / 60));
	s %= 60;
	if ((s || (!d.days && !d.secs)) && n < len)
		snprintf(buf + n, len - n, "%llds", (long long)s);
}
