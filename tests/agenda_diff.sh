#!/bin/sh
# Differential test: `iopd agenda` against the independent reference
# tests/reference/agenda_ref.py (written from SPEC 3-5 and docs/ids.md only)
# on AGENDA_DIFF_N (default 60) seeded random calendars from
# tests/reference/gen_calendars.py, over windows around DST transitions, a
# whole-enrollment window and --patient.  Stops at the first difference and
# prints the seed, the calendar and the first differing lines.
# AGENDA_DIFF_SEED sets the first seed (default 1); IOPD the binary.
# Skips (77) only when python3 has no zoneinfo module.
# the system's python3 first, as tests/lib.sh picks it
[ -x /usr/bin/python3 ] && PYTHON=${PYTHON:-/usr/bin/python3}
PYTHON=${PYTHON:-python3}
srcdir=${srcdir:-$(dirname "$0")/..}
IOPD=${IOPD:-./iopd}

if ! "$PYTHON" -c 'import zoneinfo' >/dev/null 2>&1; then
	echo "agenda_diff: $PYTHON has no zoneinfo module; skipping"
	exit 77
fi
if [ ! -x "$IOPD" ]; then
	echo "agenda_diff: $IOPD is not built" >&2
	exit 99
fi
exec "$PYTHON" "$srcdir/tests/reference/diff_driver.py" "$IOPD" \
	"${AGENDA_DIFF_N:-60}" "${AGENDA_DIFF_SEED:-1}"
