#!/bin/sh
# Automake wrapper for tz_property.py: tz.c (via tests/unit/tzprobe) against
# python3's zoneinfo.  Skips (77) only when python3 has no zoneinfo module.
PYTHON=${PYTHON:-python3}
srcdir=${srcdir:-$(dirname "$0")/..}
probe=./tests/unit/tzprobe

if ! "$PYTHON" -c 'import zoneinfo' >/dev/null 2>&1; then
	echo "tz_property: $PYTHON has no zoneinfo module; skipping"
	exit 77
fi
if [ ! -x "$probe" ]; then
	echo "tz_property: $probe is not built (run make check)" >&2
	exit 99
fi
exec "$PYTHON" "$srcdir/tests/tz_property.py" "$probe"
