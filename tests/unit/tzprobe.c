/* tzprobe - answers time zone queries on stdin, one line each, so that
 * tests/tz_property.py can compare tz.c with python3's zoneinfo.
 *
 *   O zone instant   ->  the UTC offset in seconds (tz_offset)
 *   W zone wall      ->  the instant of that wall time (tz_from_wall)
 *   T zone instant   ->  the wall time (tz_to_wall)
 *
 * A query that cannot be answered gets "ERR reason", so the output stays in
 * step with the input. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tz.h"

int main(void)
{
	char line[512], zone[300], err[256];
	char op;
	int64_t v;

	while (fgets(line, sizeof line, stdin)) {
		const struct tz *z;

		if (sscanf(line, " %c %299s %" SCNd64, &op, zone, &v) != 3 || !strchr("OWT", op)) {
			printf("ERR bad query\n");
			continue;
		}
		if (!(z = tz_get(zone, err, sizeof err))) {
			printf("ERR %s\n", err);
			continue;
		}
		if (op == 'O')
			printf("%" PRId32 "\n", tz_offset(z, v));
		else if (op == 'W')
			printf("%" PRId64 "\n", tz_from_wall(z, v));
		else
			printf("%" PRId64 "\n", tz_to_wall(z, v));
	}
	tz_cleanup();
	return ferror(stdout) || fflush(stdout) != 0;
}
