/* fuzz_parsers.c - the small parsers of configuration values and of the
 * command line: durations (dur.c), dates, times and instants
 * (timefmt.c), phone numbers and e-mail addresses (conf_util.c, and the
 * sms module's own E.164 check).
 *
 * The input is one value, tried as each kind.  Invariants: what parses
 * formats back to the same text (or, for durations, to a text that
 * parses to the same value); an instant read in a zone is never before
 * the wall time it names and at most a day's offset after it (SPEC 3.2);
 * the host and the sms module agree on what an E.164 number is. */
#include "config.h"

#include "fuzz.h"

#include "civil.h"
#include "conf_util.h"
#include "dur.h"
#include "phone.h"
#include "timefmt.h"
#include "tz.h"

#include "../../plugins/sms/sms_fmt.h"

/* A zone without DST, the US rule, half-hour DST, and one east of the
 * date line whose offset changed by a whole day (2011-12-30 never was). */
static const char *const zone_names[] = {
	"UTC", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia"
};
static const struct tz *zones[FUZZ_NELEM(zone_names)];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < FUZZ_NELEM(zone_names); i++)
		if (!(zones[i] = tz_get(zone_names[i], err, sizeof err))) {
			fprintf(stderr, "fuzz_parsers: %s\n", err);
			exit(1);
		}
	return 0;
}

static void durations(const char *s)
{
	struct dur d, again;
	char err[256], text[64], text2[64];

	if (dur_parse(s, &d, err, sizeof err) != 0) {
		FUZZ_CHECK(err[0] != '\0');
		return;
	}
	FUZZ_CHECK(d.days >= 0 && d.secs >= 0);
	dur_format(d, text, sizeof text);
	FUZZ_CHECK(dur_parse(text, &again, err, sizeof err) == 0);
	FUZZ_CHECK(again.days == d.days && again.secs == d.secs);
	dur_format(again, text2, sizeof text2);
	FUZZ_CHECK(strcmp(text, text2) == 0);
	FUZZ_CHECK(dur_is_zero(d) == (dur_approx_secs(d) == 0));
}

static void dates_and_times(const char *s)
{
	int32_t date, secs;
	int64_t wall;
	char buf[FMT_UTC_LEN + 1];

	if (parse_date(s, &date) == 0) {
		fmt_date(date, buf);
		FUZZ_CHECK(strcmp(buf, s) == 0);
	}
	if (parse_hhmm(s, &secs) == 0) {
		FUZZ_CHECK(secs >= 0 && secs < DAY_SECS && secs % 60 == 0);
		snprintf(buf, sizeof buf, "%02d:%02d", secs / 3600, secs / 60 % 60);
		FUZZ_CHECK(strcmp(buf, s) == 0);
	}
	if (parse_date_hhmm(s, &wall) == 0) {
		fmt_wall_short(wall, buf);
		FUZZ_CHECK(strncmp(buf, s, 10) == 0 && strcmp(buf + 11, s + 11) == 0);
	}
}

/* The wall time an instant's text names, if it has no UTC offset. */
static int wall_of(const char *s, int64_t *w)
{
	size_t len = strlen(s), n = len > 16 && s[16] == ':' ? 19 : len > 10 ? 16 : 10;
	int32_t date;
	char day[FMT_DATE_LEN + 1];

	if (len != n || (n > 10 && !strchr("Tt ", s[10])))
		return -1;
	memcpy(day, s, FMT_DATE_LEN);
	day[FMT_DATE_LEN] = '\0';
	FUZZ_CHECK(parse_date(day, &date) == 0);
	*w = wall_make(date, 0);
	if (n > 10)
		*w += ((s[11] - '0') * 10 + s[12] - '0') * 3600 + ((s[14] - '0') * 10 + s[15] - '0') * 60;
	if (n > 16)
		*w += (s[17] - '0') * 10 + s[18] - '0';
	return 0;
}

static int year_ok(const char *text)
{
	return strncmp(text, "1900", 4) >= 0 && strncmp(text, "2399", 4) <= 0;
}

static void instants(const char *s)
{
	char utc[FMT_UTC_LEN + 1], local[FMT_LOCAL_LEN + 1];
	int64_t t, back, w;
	size_t i;

	for (i = 0; i < FUZZ_NELEM(zones); i++) {
		if (parse_instant(s, zones[i], &t) != 0)
			return;                /* the zone never decides the form */
		/* written again, in UTC and in the zone, it reads the same; years
		 * outside the accepted ones do not read at all */
		fmt_utc(t, utc);
		if (year_ok(utc))
			FUZZ_CHECK(parse_instant(utc, zones[i], &back) == 0 && back == t);
		/* local mean times of old had seconds, which the form has not */
		fmt_local(t, zones[i], local);
		if (year_ok(local) && tz_offset(zones[i], t) % 60 == 0)
			FUZZ_CHECK(parse_instant(local, zones[i], &back) == 0 && back == t);
		if (wall_of(s, &w) == 0) {     /* a wall time in the zone: SPEC 3.2 */
			int64_t shown = tz_to_wall(zones[i], t);
			FUZZ_CHECK(shown >= w && shown - w <= DAY_SECS + 3600);
		}
	}
}

/* A number the configuration accepts reaches the sms plugin as E.164,
 * which the plugin takes, and the log shows at most its last two digits. */
static void contacts(const char *s)
{
	static const char *const regions[] = {NULL, "US", "MX", "FR"};
	struct phone_result pr;
	char buf[16];
	size_t i;

	for (i = 0; i < IOPD_NELEM(regions); i++)
		if (phone_check(s, regions[i], &pr) == 0) {
			FUZZ_CHECK(sms_e164(pr.e164) != 0);
			FUZZ_CHECK(strlen(gw_phone_tail(pr.e164, buf)) < 8);
		} else {
			FUZZ_CHECK(pr.why[0] != '\0');
		}
	(void)conf_email_ok(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);

	durations(s);
	dates_and_times(s);
	instants(s);
	contacts(s);
	free(s);
	return 0;
}
