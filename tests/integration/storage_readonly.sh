#!/bin/bash
# storage_readonly.sh - the state directory turns read-only under a running
# iopd (chattr +i on the ledger's files and folder, as root, on a filesystem
# where that stops writes through descriptors already open, e.g. ext4;
# skipped elsewhere).  50 prompts fall due at 18:00 (faked clock):
#   * iopd sends NOTHING it cannot record: the sink gets no request;
#   * it says why: the log ("ledger: cannot record ..."), `iopctl status`
#     (text: CANNOT WRITE; --json: ledger.error), systemd STATUS= (LEDGER:);
#   * an override cannot be recorded either: `iopctl pause` exits 1 and says so;
#   * a reload while read-only works (the old patient p-00050 is removed: its
#     queued prompt is dropped, its note waits for the ledger);
#   * once writable again, sending resumes by itself: the 49 prompts of the
#     remaining patients are sent once each, p-00050's is recorded skipped,
#     nothing is left inflight.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/storage_readonly.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "storage_readonly.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (chattr +i)"
need chattr lsattr

# Does chattr +i stop a write through a descriptor opened before?  (ext4: yes;
# tmpfs: no.)  Always undone, even if the test dies.
RIG_STOPCMDS+=("chattr -R -i $(printf %q "$T") 2>/dev/null")
probe=$("$PY" - "$T/probe" <<'PYEOF'
import os, subprocess, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o600)
if subprocess.run(["chattr", "+i", p], capture_output=True).returncode:
    print("chattr-failed"); sys.exit()
try:
    os.pwrite(fd, b"x", 0)
    print("writes-go-on")
except OSError:
    print("ok")
finally:
    subprocess.run(["chattr", "-i", p], capture_output=True)
PYEOF
)
rm -f "$T/probe"
[ "$probe" = ok ] || skip_all "chattr +i does not make open files read-only in $T ($probe)"

start_webhook
start_notify
SOCK=$T/ctl.sock
STATE=$T/state
DB=$STATE/ledger.db
CONF=$T/iopd.conf
mkdir "$T/a" "$T/b"
gen_conf "$T/a/iopd.conf" --state "$STATE" --socket "$SOCK" --url "$WEBHOOK_URL" --patients 50 --med 18:00
gen_conf "$T/b/iopd.conf" --state "$STATE" --socket "$SOCK" --url "$WEBHOOK_URL" --patients 49 --med 18:00
cp -p "$T/a/iopd.conf" "$CONF"
"$IOPD" agenda -c "$CONF" --from 2026-12-01T18:00:00Z --to 2026-12-01T18:00:01Z >"$T/agenda.jsonl"
gone=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["patient"] == "p-00050"')
IOPD_ENV=("NOTIFY_SOCKET=$NOTIFY_SOCKET")
iopd_start run "$CONF" '2026-12-01 17:59:48'
add_log "$IOPD_LOG"
sleep 1                                 # the start mark is written
readonly_on() { chattr +i "$DB" "$DB-wal" "$DB-shm" "$STATE"; }
readonly_off() { chattr -i "$DB" "$DB-wal" "$DB-shm" "$STATE"; }
readonly_on
check "the ledger's files are immutable now" test "$(lsattr -d "$STATE" | cut -c5)" = i

# --- 18:00: due, but nothing can be recorded ---------------------------------------
check "the log says it cannot record, and stops sending" \
	waitfor "grep -q 'ledger: cannot record' '$IOPD_LOG'" 20
grep 'ledger: cannot record' "$IOPD_LOG" | head -1 | sed 's/^/# /'
check "... naming the file it cannot write, and why" \
	grep -q "cannot record .*ledger.db.*: Operation not permitted" "$IOPD_LOG"
sleep 2
check "the sink got no request" test "$(sink_ids "$WEBHOOK_LOG" | wc -l)" -eq 0
ctl status >"$T/status.txt" || true
check "iopctl status says CANNOT WRITE" grep -q "CANNOT WRITE" "$T/status.txt"
ctl --json status >"$T/status.json" || true
check "iopctl status --json: ledger.error, and 50 waiting" "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["ledger"]["error"], s
assert s["queued"] + s["in_flight"] == 50, s' "$T/status.json"
check "systemd STATUS= names the ledger" \
	waitfor "grep STATUS= '$NOTIFY_LOG' | grep -q LEDGER:" 10
rc=0
ctl pause p-00001 >/dev/null 2>"$T/pause.err" || rc=$?
check "iopctl pause: exit 1, cannot be recorded" test "$rc" -eq 1
check "... says so" grep -q "could not record it in the ledger" "$T/pause.err"

# --- a reload while read-only: p-00050 removed -------------------------------------
cp -p "$T/b/iopd.conf" "$CONF"
rc=0
ctl reload >"$T/reload.out" 2>&1 || rc=$?
check "a reload while read-only: exit 0" test "$rc" -eq 0
sleep 1
check "still nothing sent" test "$(sink_ids "$WEBHOOK_LOG" | wc -l)" -eq 0

# --- writable again -----------------------------------------------------------------
readonly_off
check "sending resumes by itself: 49 prompts" \
	waitfor '[ "$(sink_ids "$WEBHOOK_LOG" | sort -u | wc -l)" -eq 49 ]' 20
check "the log says it resumed" grep -q "writable again; sending resumes" "$IOPD_LOG"
sleep 1
check "none twice" test -z "$(sink_ids "$WEBHOOK_LOG" | sort | uniq -d)"
check "p-00050's prompt not sent" test -z "$(sink_ids "$WEBHOOK_LOG" | grep -x "$gone")"
check "ledger: 49 sent" waitfor "[ \$(ledger_q '$DB' \"SELECT count(*) FROM reminder WHERE status = 'sent'\") -eq 49 ]" 5
check "ledger: p-00050's prompt skipped (removed from the configuration)" \
	test "$(ledger_q "$DB" "SELECT status || ':' || reason FROM reminder WHERE id = $((16#$gone))")" = \
	"skipped:removed from the configuration"
check "ledger: nothing inflight" \
	test "$(ledger_q "$DB" "SELECT count(*) FROM reminder WHERE status = 'inflight'")" -eq 0
ctl --json status >"$T/status2.json"
check "iopctl status: the ledger error is gone" "$PY" -c '
import json, sys; s = json.load(open(sys.argv[1])); assert s["ledger"]["error"] is None, s' "$T/status2.json"
rc=0
ctl pause p-00001 >/dev/null 2>&1 || rc=$?
check "iopctl pause works again" test "$rc" -eq 0
iopd_stop
check "stops cleanly" test "${STOP_RC:-1}" -eq 0
iopd_finish
