#!/bin/bash
# reload_memory.sh - reloads leave memory flat, and how long they stall the
# loop.
#   1. A small calendar (300 patients whose prompts fall due as it begins,
#      so sends are in flight across reloads) is reloaded RELOADS (1000) times
#      with `iopctl reload`: VmRSS and open descriptors after 1000 stay within
#      a small tolerance of their values after 100.
#   2. A larger calendar (BIG, 20000 patients, about 100,000 series) is
#      reloaded three times while a probe asks `status` over the control
#      socket back to back; prints the longest "loop paused" of the log, the
#      iopd_reload_longest_stall_seconds metric and the probe's longest round
#      trip (which bounds any stall of the loop, not just the swap).
#   3. `iopctl reload` asked while a reload runs is answered by a reload that
#      reads the file as it is then (a broken file -> exit 1), not by the one
#      already running.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/reload_memory.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "reload_memory.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"

RELOADS=${RELOADS:-1000}
BIG=${BIG:-20000}
start_webhook --delay 0.05
SOCK=$T/ctl.sock
CONF=$T/iopd.conf
mkdir "$T/small" "$T/big"
gen_conf "$T/small/iopd.conf" --state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" \
	--patients 300 --med 18:00 --include
gen_conf "$T/big/iopd.conf" --state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" \
	--patients "$BIG" --med 08:00,20:00 --sessions 's1@18:00/1d,s2@12:00/2h' --include
use() { # small|big: its files in place
	cp -p "$T/$1/iopd.conf.patients.inc" "$CONF.patients.inc.tmp"
	mv "$CONF.patients.inc.tmp" "$CONF.patients.inc"
	cp -p "$T/$1/iopd.conf" "$CONF"
}
use small
# faked clock, at real speed (the stall is measured with it): 300 prompts fall
# due at 18:00, and the sink takes 50 ms each, so sends are in flight while
# the reloads begin
iopd_start run "$CONF" '2026-12-01 17:59:59'
add_log "$IOPD_LOG"
waitfor '[ "$(sink_ids "$WEBHOOK_LOG" | wc -l)" -gt 0 ]' 10 || true
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$IOPD_PID/status"; }
nfd() { ls "/proc/$IOPD_PID/fd" | wc -l; }

# --- 1. a thousand reloads ----------------------------------------------------
bad=0 t0=$(now_epoch)
for ((i = 1; i <= RELOADS; i++)); do
	ctl reload >/dev/null 2>&1 || bad=$((bad + 1))
	if [ "$i" -eq 100 ]; then r100=$(rss); f100=$(nfd); fi
done
t1=$(now_epoch)
r1000=$(rss) f1000=$(nfd)
echo "# $RELOADS reloads in $(awk "BEGIN {printf \"%.2f\", $t1 - $t0}") s; VmRSS after 100: $r100 kB, after $RELOADS: $r1000 kB; fds $f100 -> $f1000"
echo "# $(sink_ids "$WEBHOOK_LOG" | wc -l) reminders sent meanwhile"
check "the 300 prompts sent once each, across the reloads" \
	waitfor '[ "$(sink_ids "$WEBHOOK_LOG" | sort -u | wc -l)" -eq 300 ]' 20
check "... none twice" test -z "$(sink_ids "$WEBHOOK_LOG" | sort | uniq -d)"
check "$RELOADS reloads, every one exit 0 ($bad failed)" test "$bad" -eq 0
tol=$((r100 / 20 > 2048 ? r100 / 20 : 2048))     # 5 %, at least 2 MB
if grep -qa AddressSanitizer "$IOPD"; then
	# ASan keeps freed memory in quarantine: RSS says nothing there (its
	# leak check at the clean stop below does)
	skip "VmRSS flat (a sanitizer build: $r100 kB -> $r1000 kB)"
else
	check "VmRSS flat: $r100 kB -> $r1000 kB (tolerance $tol kB)" test $((r1000 - r100)) -le "$tol"
fi
check "open descriptors flat: $f100 -> $f1000" test $((f1000 - f100)) -le 2
check "the log says reloaded $RELOADS times" test "$(grep -c 'loop paused' "$IOPD_LOG")" -eq "$RELOADS"

# --- 2. the loop stall of a larger calendar ---------------------------------------
use big
"$PY" "$FIXTURES/ctl_probe.py" "$SOCK" 120 --stop-file "$T/probe.stop" >"$T/probe.out" &
probe=$!
track "$probe"
sleep 0.5
lines0=$(wc -l <"$IOPD_LOG")
for i in 1 2 3; do
	t0=$(now_epoch)
	rc=0
	ctl reload >/dev/null 2>&1 || rc=$?
	t1=$(now_epoch)
	check "reload $i of $BIG patients: exit 0 ($(awk "BEGIN {printf \"%.2f\", $t1 - $t0}") s)" test "$rc" -eq 0
done
sleep 0.5
touch "$T/probe.stop"
wait "$probe" || true
paused=$(tail -n +"$lines0" "$IOPD_LOG" | sed -n 's/.*loop paused \([0-9.]*\) ms.*/\1/p' | sort -n | tail -1)
metric=$(ctl metrics | awk '$1 == "iopd_reload_longest_stall_seconds" {print $2}')
read -r _ pmax _ pmed _ pcount <"$T/probe.out"
ctl --json status >"$T/status.json"
series=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["scheduled_series"])' "$T/status.json")
echo "# reload of $BIG patients ($series series): longest 'loop paused' $paused ms;" \
	"iopd_reload_longest_stall_seconds $metric; control probe: longest $pmax ms, median $pmed ms ($pcount asks)"
check "the log names the pause" test -n "$paused"
check "the metric is at least the longest logged pause" \
	"$PY" -c "import sys; sys.exit(not (float('$metric') * 1000 >= float('$paused') - 0.1))"
check "the probe was answered throughout ($pcount answers)" test "$pcount" -gt 10
check "no loop stall over 2 s (probe: $pmax ms)" "$PY" -c "import sys; sys.exit(not float('$pmax') < 2000)"

# --- 3. iopctl reload while a reload runs -------------------------------------------
nr=$(grep -c '^<5>reloading' "$IOPD_LOG")
kill -HUP "$IOPD_PID"
# once it has begun, its thread has read the main file (the patients, @included
# at its end, take it another 150 ms or so): break the main file now
waitfor "[ \$(grep -c '^<5>reloading' '$IOPD_LOG') -gt $nr ]" 5 || true
sleep 0.02
sed 's/^  catch_up = "2h";/  catch_up = = "2h";/' "$T/big/iopd.conf" >"$CONF.new"
chmod 600 "$CONF.new"
mv "$CONF.new" "$CONF"
rc=0
ctl reload >/dev/null 2>"$T/late.err" || rc=$?
check "iopctl reload during a reload answers for the file as it is now (broken: exit 1)" test "$rc" -eq 1
check "... with its FILE:LINE" grep -q "iopd.conf:[0-9]*: syntax error" "$T/late.err"
use big
rc=0
ctl reload >/dev/null 2>&1 || rc=$?
check "and a good reload after it: exit 0" test "$rc" -eq 0
iopd_stop 30
check "stops cleanly" test "${STOP_RC:-1}" -eq 0
iopd_finish
