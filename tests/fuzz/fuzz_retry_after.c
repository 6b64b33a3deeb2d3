/* fuzz_retry_after.c - a gateway's Retry-After header (plugins/common/
 * gw_text.c): delay-seconds or an HTTP-date in any of RFC 9110's three
 * forms, which decides when iopd tries again.
 *
 * The input is the header's value.  Invariants: a delay is finite and
 * never negative (-1: none); a date that parses is a real instant, and
 * written again as an IMF-fixdate it parses to the same instant. */
#include "config.h"

#include <time.h>

#include "fuzz_gw.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
		"Sep", "Oct", "Nov", "Dec"};
	char *v = fuzz_cstr(data, size), again[64];
	double d = gw_retry_after(v, 1795000000.0);
	int64_t t, t2;

	FUZZ_CHECK(d == -1.0 || (isfinite(d) && d >= 0 && d <= 1e12));
	if (gw_http_date(v, &t) == 0) {
		time_t tt = (time_t)t;
		struct tm tm;
		FUZZ_CHECK(t >= 0 && gmtime_r(&tt, &tm));
		snprintf(again, sizeof again, "%s, %02d %s %04d %02d:%02d:%02d GMT", wday[tm.tm_wday],
		    tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		FUZZ_CHECK(gw_http_date(again, &t2) == 0 && t2 == t);
	}
	free(v);
	return 0;
}
