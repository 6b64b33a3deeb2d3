#!/bin/bash
# daemon_demo.sh - the README's quick start promise: `./iopd -f -c
# conf/demo.conf` prints reminder lines on stdout within a minute of start,
# in the console plugin's format, with no network and no credentials.
#
# Runs the shipped conf/demo.conf (a copy whose state_dir and control_socket
# point into the test's directory, mode 0600) under a fake clock that starts
# at 11:44:55 UTC, 5 s before a medication prompt and the session reminder
# of the noon session (15 min before) fall due.  Proves: both lines appear
# within 60 s of start (fake and real), exactly in the console format
#   <due, UTC> term demo-1 <kind> <16 hex id>: <rendered text>
# and the ids are the agenda's; Ctrl-C (SIGINT) stops it with exit 0; the
# shipped file itself still passes `iopd -t`.
#
# Then contrib/demo.sh, which `contrib/quickstart.sh demo` runs: started two
# hours after that first run on the same state folder, it starts from a
# fresh ledger (no page of "missed" lines for the prompts in between) and
# its banner ends with the command to try next, `./iopctl -s SOCKET status`.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "daemon_demo.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/console.so" ] || skip_all "no console.so in $IOPD_PLUGIN_DIR"
DEMO=$_dl_here/../../conf/demo.conf
[ -f "$DEMO" ] || DEMO=${srcdir:-.}/conf/demo.conf
[ -f "$DEMO" ] || { echo "daemon_demo.sh: conf/demo.conf not found" >&2; exit 99; }

# the shipped file, as is (a copy: -t refuses it if others may read it)
cp "$DEMO" "$T/demo-as-shipped.conf"
chmod 600 "$T/demo-as-shipped.conf"
rc=0
(cd "$T" && env TZ=UTC "$IOPD" -t -c demo-as-shipped.conf) >"$T/check.out" 2>&1 || rc=$?
add_log "$T/check.out"
check "iopd -t accepts conf/demo.conf" test "$rc" -eq 0
check "iopd -t: one summary line" grep -qx "demo-as-shipped.conf: ok: 1 programs, 1 patients, 1 channels" "$T/check.out"

mkdir -p "$T/demo.state"
chmod 700 "$T/demo.state"
sed -e "s|\"/tmp/iopd-demo\"|\"$T/demo.state\"|" \
    -e "s|\"/tmp/iopd-demo/control.sock\"|\"$T/demo.state/control.sock\"|" "$DEMO" >"$T/demo.conf"
chmod 600 "$T/demo.conf"
check "the copy points state_dir and control_socket into the test dir" \
	test "$(grep -v '^ *#' "$T/demo.conf" | grep -c "$T/demo.state")" -eq 2 -a \
	"$(grep -v '^ *#' "$T/demo.conf" | grep -c '/tmp/iopd-demo')" -eq 0

agenda_json "$T/demo.conf" 2026-12-01T11:45:00Z 2026-12-01T11:45:01Z "$T/agenda.jsonl"
add_log "$T/agenda.jsonl"
ID_MED=$(agenda_id "$T/agenda.jsonl" demo-1 term medication)
ID_SES=$(agenda_id "$T/agenda.jsonl" demo-1 term session)

real0=$EPOCHREALTIME
start_iopd DEMO "$T/demo.conf" '2026-12-01 11:44:55'
waitfor "[ \$(grep -c ' term demo-1 ' '$DEMO_OUT') -ge 2 ]" 60 || true
real1=$EPOCHREALTIME
fake1=$(fake_now DEMO)
check "two reminder lines on stdout" test "$(grep -c ' term demo-1 ' "$DEMO_OUT")" -ge 2
check "within 60 s of start: $("$PY" -c "print('%.1f' % ($real1 - $real0))") s real" \
	"$PY" -c "import sys; sys.exit(not ($real1 - $real0 < 60 and $fake1 - $(epoch '2026-12-01 11:44:55') < 60))"
check "the medication prompt, in the console format" grep -qx \
	"2026-12-01T11:45:00Z term demo-1 medication $ID_MED: Hi Alex, it is 11:45 AM: time for your demo dose." "$DEMO_OUT"
check "the session reminder, in the console format" grep -qx \
	"2026-12-01T11:45:00Z term demo-1 session $ID_SES: Hi Alex, reminder: appointment Tue Dec 1 at 12:00 PM in Room 1." "$DEMO_OUT"
check "every stdout line is a console line" \
	test "$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z term demo-1 (medication|session) [0-9a-f]{16}: Hi Alex, ' "$DEMO_OUT" || true)" -eq 0
check "nothing but log lines on stderr (no reminder text)" \
	test "$(grep -c 'Hi Alex' "$DEMO_LOG" || true)" -eq 0
check "the ledger: both sent" test "$(rec DEMO "$ID_MED" status) $(rec DEMO "$ID_SES" status)" = "sent sent"

# Ctrl-C
kill -INT "$DEMO_PID"
waitfor "! alive $DEMO_PID" 10 || true
rc=0
wait "$DEMO_PID" || rc=$?
check "Ctrl-C (SIGINT): exit 0" test "$rc" -eq 0
check "no sanitizer report" sanitizer_clean "$DEMO_LOG"
check "the ledger was the test's, not /tmp/iopd-demo's" grep -qF "ledger $T/demo.state/ledger.db" "$DEMO_LOG"

# --- contrib/demo.sh: a fresh state each time, and the next command to try ----------
DEMOSH=$_dl_here/../../contrib/demo.sh
[ -f "$DEMOSH" ] || DEMOSH=${srcdir:-.}/contrib/demo.sh
check "the first run left a ledger behind" test -s "$T/demo.state/ledger.db"
mapfile -t FT < <(faketime_env '2026-12-01 14:00:00')
env TZ=UTC "${FT[@]}" IOPD="$IOPD" IOPD_DEMO_CONF="$T/demo.conf" sh "$DEMOSH" \
	>"$T/demosh.stdout" 2>"$T/demosh.log" </dev/null &
DPID=$!
track "$DPID" "$T/demosh.stdout" "$T/demosh.log"
waitfor "grep -q ' started: ' '$T/demosh.log' && [ -S '$T/demo.state/control.sock' ]" 15 || true
check "demo.sh: iopd started" grep -q ' started: ' "$T/demosh.log"
check "demo.sh: a fresh ledger (\"new ledger\")" grep -q 'new ledger: scheduling from now on' "$T/demosh.log"
check "demo.sh: no catching up over the two hours since the last run" \
	test -z "$(grep -iE 'catching up|missed' "$T/demosh.log" || true)"
check "demo.sh: the banner's last line is the next command to try" \
	test "$(grep -v -E '^[0-9]{4}-' "$T/demosh.stdout" | tail -n 1)" = \
	"  In another terminal, try:  ./iopctl -s $T/demo.state/control.sock status"
check "demo.sh: and that command works" "$IOPCTL" -s "$T/demo.state/control.sock" status
kill -INT "$DPID"
waitfor "! alive $DPID" 10 || true
rc=0
wait "$DPID" || rc=$?
check "demo.sh: Ctrl-C stops it, exit 0" test "$rc" -eq 0
check "demo.sh: no missed reminder in the new ledger" \
	test "$(sqlite3 "$T/demo.state/ledger.db" "SELECT count(*) FROM reminder WHERE status = 'missed'")" -eq 0
check "no sanitizer report (demo.sh)" sanitizer_clean "$T/demosh.log"
finish
