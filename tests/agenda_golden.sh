#!/bin/sh
# Golden agendas: `iopd agenda` on each tests/golden/NAME.conf, for every
# `# run: ARGS` line in it, must print exactly tests/golden/NAME.expected
# (each run's output preceded by its `# run: ARGS` line); a `# render: ARGS`
# line runs `iopd render` the same way (texts.conf: the texts a patient
# reads, in English, Spanish and French).  The expected
# agendas were derived by hand from SPEC 3-5 (tests/golden/README.md) and
# confirmed with tests/reference/agenda_ref.py.  A unified diff is printed on
# mismatch.  IOPD overrides the binary (default ./iopd in the build tree).
srcdir=${srcdir:-$(dirname "$0")/..}
IOPD=${IOPD:-./iopd}
golden=$srcdir/tests/golden

if [ ! -x "$IOPD" ]; then
	echo "agenda_golden: $IOPD is not built" >&2
	exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/agenda_golden.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
# the files hold patient data: give iopd private copies (and their @includes)
cp "$golden"/*.conf "$golden"/*.inc "$tmp"/ || exit 99
chmod 600 "$tmp"/*

fail=0
for conf in "$golden"/*.conf; do
	name=$(basename "$conf" .conf)
	actual=$tmp/$name.actual
	: >"$actual"
	grep -E '^# (run|render): ' "$conf" | sed 's/^# //' | while IFS= read -r line; do
		cmd=${line%%:*}
		args=${line#*: }
		# --no-ledger: the calendar alone, whatever ledger the default
		# state_dir of this machine may hold (without one, the output is
		# the same: tests/integration/admin_overrides.sh)
		[ "$cmd" = run ] && cmd=agenda && args="$args --no-ledger"
		echo "# $line" >>"$actual"
		# shellcheck disable=SC2086 # ARGS are words
		"$IOPD" "$cmd" -c "$tmp/$name.conf" $args >>"$actual" 2>"$tmp/$name.err"
		rc=$?
		if [ $rc -ne 0 ]; then
			echo "# iopd exited $rc: $(cat "$tmp/$name.err")" >>"$actual"
		fi
	done
	if diff -u "$golden/$name.expected" "$actual"; then
		echo "PASS: $name"
	else
		echo "FAIL: $name (- expected, + iopd agenda)"
		fail=1
	fi
done
exit $fail
