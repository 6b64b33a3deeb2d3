#!/bin/bash
# ledger_replaced.sh - the ledger's file deleted or replaced, under a running
# iopd and between two runs.  Faked clock, six times as fast, from 17:59:00;
# 20 patients take a prompt at 18:00 on the webhook channel.
#   * ledger.db deleted while iopd runs (before 18:00): noticed within
#     seconds, said in the log, `iopctl status` (text: CANNOT WRITE; --json:
#     ledger.error) and systemd's STATUS= (LEDGER:); a pause cannot be
#     recorded (exit 1); at 18:00 nothing is sent (nothing can be recorded);
#   * restarted on that folder (ledger.id names a ledger, ledger.db is
#     gone): refused, exit 1, saying what happened and --new-ledger; the
#     marker is still there;
#   * with --new-ledger: starts on a new, empty ledger, and the marker
#     names the new one; the orphaned -wal of the lost ledger is set aside,
#     not deleted and not replayed;
#   * replaced by another iopd's ledger between runs: refused the same way
#     ("not the ledger that lived here"); accepted with --new-ledger;
#   * replaced while running (mv over it): noticed as "replaced";
#   * a state folder without a marker (an older iopd's): the marker is
#     written, and the next start is an ordinary one.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/ledger_replaced.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "ledger_replaced.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"

start_webhook
start_notify
SOCK=$T/ctl.sock
STATE=$T/state
DB=$STATE/ledger.db
CONF=$T/iopd.conf
gen_conf "$CONF" --state "$STATE" --socket "$SOCK" --url "$WEBHOOK_URL" --patients 20 --med 18:00
marker_id() { sed -n "s/^ledger //p" "$STATE/ledger.id" 2>/dev/null || true; }
# start_plain NAME [iopd args]: iopd in the foreground, real clock, waiting
# until it answers or exits; exit status in START_RC when it exited
start_plain() {
	local name=$1
	shift
	START_RC=
	spawn "$name" env TZ=UTC "$IOPD" -f -c "$CONF" "$@"
	IOPD_PID=$SPAWN_PID
	IOPD_LOG=$T/$name.out
	add_log "$IOPD_LOG"
	waitfor "ctl status || ! alive $IOPD_PID" 30 || true
	if ! alive "$IOPD_PID"; then
		wait "$IOPD_PID" 2>/dev/null && START_RC=0 || START_RC=$?
	fi
}

# --- deleted while running ------------------------------------------------------------
IOPD_ENV=("NOTIFY_SOCKET=$NOTIFY_SOCKET")
iopd_start run "$CONF" '@2026-12-01 17:59:00 x6' || { fail "iopd did not start"; finish; }
unset IOPD_ENV
add_log "$IOPD_LOG"
check "a marker names the new ledger" test -n "$(marker_id)"
first_id=$(marker_id)
check "the marker is iopd's alone (umask 077)" test "$(stat -c %a "$STATE/ledger.id")" = 600
check "so is the ledger" test "$(stat -c %a "$DB")" = 600
rm "$DB"
check "noticed: the log says the ledger was deleted" \
	waitfor "grep -q 'ledger.db was deleted or moved away while iopd ran' '$IOPD_LOG'" 5
ctl status >"$T/status.txt" || true
check "iopctl status: CANNOT WRITE, deleted" grep -q "CANNOT WRITE: .*ledger.db was deleted" "$T/status.txt"
ctl --json status >"$T/status.json" || true
check "iopctl status --json: ledger.error" "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert "deleted or moved away" in s["ledger"]["error"], s' "$T/status.json"
check "systemd STATUS= says LEDGER: ... deleted" \
	waitfor "grep STATUS= '$NOTIFY_LOG' | grep -q 'LEDGER: .*deleted or moved away'" 5
rc=0
ctl pause p-00001 >/dev/null 2>"$T/pause.err" || rc=$?
check "a pause cannot be recorded: exit 1" test "$rc" -eq 1
check "... and says why" grep -q "could not record it in the ledger: .*deleted" "$T/pause.err"
# 18:00 falls due about 10 s (real) after the start
check "18:00 passes (the dispatcher cannot record its claims)" \
	waitfor "grep -q 'ledger: cannot record' '$IOPD_LOG'" 30
sleep 2
check "nothing was sent" test "$(sink_ids "$WEBHOOK_LOG" | wc -l)" -eq 0
iopd_stop

# --- restarted on the folder without its ledger ------------------------------------------
check "the lost ledger's -wal is still there" test -f "$DB-wal"
start_plain refused
check "restart without the ledger: refused, exit 1" test "${START_RC:-running}" = 1
check "... saying the ledger that lived here is missing" \
	grep -q "ledger.db is missing, but .*ledger.id says a ledger (id ${first_id:0:8}...) lived here" "$IOPD_LOG"
check "... and what to do (--new-ledger)" grep -q "start iopd once with --new-ledger" "$IOPD_LOG"
check "... no new ledger was made" test ! -e "$DB"
check "... the marker is untouched" test "$(marker_id)" = "$first_id"

start_plain adopted --new-ledger
check "--new-ledger: iopd starts" test -z "$START_RC"
check "... on a new ledger, named by the marker" test -f "$DB" -a "$(marker_id)" != "$first_id"
check "... the log says so" grep -q -- "--new-ledger: .*ledger.db (id .*) is this folder's ledger from now on (a new, empty one)" "$IOPD_LOG"
check "... the lost ledger's -wal was set aside, not deleted" \
	test -n "$(find "$STATE" -name 'ledger.db-wal.orphaned-*')"
second_id=$(marker_id)
ctl pause p-00002 >/dev/null
iopd_stop

# --- replaced between runs --------------------------------------------------------------------
mkdir "$T/other"
gen_conf "$T/other/iopd.conf" --state "$T/other/state" --socket "$T/other/ctl.sock" --url "$WEBHOOK_URL" \
	--patients 1 --med 18:00
spawn other env TZ=UTC "$IOPD" -f -c "$T/other/iopd.conf"
OTHER=$SPAWN_PID
waitfor "'$IOPCTL' -s '$T/other/ctl.sock' status" 30 || true
stop_pid "$OTHER"
mv "$DB" "$T/mine.db"
cp "$T/other/state/ledger.db" "$DB"
rm -f "$DB-wal" "$DB-shm"
start_plain replaced
check "restart on another ledger: refused, exit 1" test "${START_RC:-running}" = 1
check "... it is not the ledger that lived here" \
	grep -q "ledger.db is not the ledger that lived here (its id is .*ledger.id names ${second_id:0:8}...): it was replaced" "$IOPD_LOG"
check "... the other ledger is untouched, the marker too" \
	test "$(marker_id)" = "$second_id" -a "$(cmp -s "$DB" "$T/other/state/ledger.db" && echo same)" = same
mv "$T/mine.db" "$DB"
start_plain mine
check "its own ledger back: iopd starts" test -z "$START_RC"
check "... the pause recorded before is still there" \
	test "$(ledger_q "$DB" "SELECT count(*) FROM override WHERE patient = 'p-00002'")" -eq 1

# --- replaced while running ----------------------------------------------------------------------
cp "$T/other/state/ledger.db" "$STATE/next.db"
mv "$STATE/next.db" "$DB"
check "replaced under a running iopd: noticed" \
	waitfor "grep -q 'ledger.db was replaced while iopd ran' '$IOPD_LOG'" 5
ctl --json status >"$T/status2.json" || true
check "iopctl status --json: replaced" "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert "was replaced while iopd ran" in s["ledger"]["error"], s' "$T/status2.json"
iopd_stop
start_plain other_adopted --new-ledger
check "the other ledger adopted with --new-ledger" test -z "$START_RC"
check "... the marker names it now" \
	test "$(marker_id)" = "$(ledger_q "$DB" "SELECT value FROM meta WHERE key = 'ledger_id'")"
iopd_stop

# --- an older iopd's folder: no marker yet --------------------------------------------------------
rm -f "$STATE/ledger.id"
start_plain upgrade
check "no marker: iopd starts" test -z "$START_RC"
check "... and records the ledger in a marker" \
	test "$(marker_id)" = "$(ledger_q "$DB" "SELECT value FROM meta WHERE key = 'ledger_id'")"
iopd_stop
iopd_finish
