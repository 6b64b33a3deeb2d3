/* fuzz_tzif.c - the TZif reader (tz.c, RFC 8536): headers, transition
 * tables, local time types and the POSIX TZ footer, expanded to 2400.
 *
 * The input is a zone file: it is written to $TZDIR/Fuzz/Zone of a
 * scratch folder and loaded through tz_get(), as a zone named in a
 * configuration is.  Invariants for a zone that loads: every offset is
 * within RFC 8536's +-26 h (tz.c relies on it), a wall time's instant
 * shows that wall time or, in a gap, a later one within a day (SPEC
 * 3.2); zones that do not load say why. */
#include "config.h"

#include "fuzz.h"

#include "civil.h"
#include "tz.h"

static char *zone_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *dir;

	(void)argc;
	(void)argv;
	dir = malloc(strlen(fuzz_scratch()) + 6);
	sprintf(dir, "%s/Fuzz", fuzz_scratch());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		perror(dir);
		exit(1);
	}
	setenv("TZDIR", fuzz_scratch(), 1);
	zone_path = malloc(strlen(dir) + 6);
	sprintf(zone_path, "%s/Zone", dir);
	free(dir);
	return 0;
}

/* Instants around which zones change: the epoch, 2026's DST changes in
 * both hemispheres, the far past and future (footer rules run to 2400). */
static const int64_t probes[] = {
	0, 1772953200, 1775404800, 1793509200, 1798761600, -2208988800LL, 13569465600LL,
	-(1LL << 59), 1LL << 59, INT64_MIN, INT64_MAX
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "";
	const struct tz *z;
	size_t i;

	fuzz_write(zone_path, data, size, 0600);
	if (!(z = tz_get("Fuzz/Zone", err, sizeof err))) {
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	for (i = 0; i < FUZZ_NELEM(probes); i++) {
		int64_t t = probes[i], w, back;
		int32_t off = tz_offset(z, t);
		FUZZ_CHECK(off >= -26 * 3600 && off <= 26 * 3600);
		w = tz_to_wall(z, t);
		back = tz_from_wall(z, w);
		/* a wall time that occurs twice means the first: never later */
		if (t > -(1LL << 59) && t < (1LL << 59))
			FUZZ_CHECK(back <= t);
		if (w > -(1LL << 59) && w < (1LL << 59)) {
			int64_t shown = tz_to_wall(z, tz_from_wall(z, w));
			FUZZ_CHECK(shown >= w && shown - w <= 2 * DAY_SECS);
		}
	}
	tz_cleanup();
	return 0;
}
