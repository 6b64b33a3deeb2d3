#!/bin/sh
# tests/valgrind/check.sh - the last test of `make check-valgrind`: reads
# the report of every iopd process the other tests ran under valgrind
# (tests/valgrind/iopd, one file each in $IOPD_VALGRIND_LOGS).  Passes
# when there was at least one and every report is empty: no memory error,
# nothing definitely lost.  Skipped outside check-valgrind.
set -u
logs=${IOPD_VALGRIND_LOGS:-}
[ -n "$logs" ] || { echo "1..0 # SKIP not run by make check-valgrind"; exit 77; }
n=$(find "$logs" -name 'iopd.*.log' 2>/dev/null | wc -l)
bad=$(find "$logs" -name 'iopd.*.log' -size +0 2>/dev/null)
if [ "$n" -eq 0 ]; then
	echo "not ok 1 - no iopd ran under valgrind (is IOPD tests/valgrind/iopd?)"
	exit 1
fi
if [ -n "$bad" ]; then
	for f in $bad; do echo "----- $f"; head -n 80 "$f"; done
	echo "not ok 1 - $(echo "$bad" | wc -l) of $n iopd processes had memory errors or leaks"
	exit 1
fi
echo "ok 1 - $n iopd processes under valgrind: no memory error, nothing definitely lost"
