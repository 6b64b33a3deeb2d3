#!/bin/bash
# faults_busy.sh - another process holds a write lock on the ledger (an
# admin's sqlite3 shell in a transaction, a careless backup script: here
# python's sqlite3 with BEGIN IMMEDIATE) while reminders fall due, end to
# end with the real iopd and its webhook plugin (fake clock, 2026-12-01).
#   A. iopd running: ten prompts due at 18:00:00 while the lock is held
#      from 17:59:55 for 12 s:
#      * nothing is sent that the ledger cannot record: the gateway gets no
#        request while the lock lasts;
#      * the log and `iopctl status` (text and JSON) say the ledger is
#        locked by another process and what iopd does about it;
#      * iopd keeps answering: `iopctl status` never waits on the lock;
#      * released, sending resumes by itself: ten sent, once each, nothing
#        left in flight, and the error is gone from `iopctl status`.
#   B. iopd started while the lock is held: it starts, says so, and sends
#      the 18:05 prompts once the lock is released.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "faults_busy.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/webhook.so" ] || skip_all "no webhook.so in $IOPD_PLUGIN_DIR"
"$PY" -c 'import sqlite3' 2>/dev/null || skip_all "$PY has no sqlite3 module"

start_webhook
ten_prompts_conf b '"18:00", "18:05"'
nreq() { sink_ids "$WEBHOOK_LOG" | wc -l; }
sink_ids() { jsonl_field "$1" 'r["idempotency_key"]' 'r["path"] != "/__control"'; }

# hold_lock NAME SECONDS: BEGIN IMMEDIATE on the ledger for that long;
# $T/NAME.locked appears once the lock is held; $T/NAME.out gets the number
# of requests the gateway had got just before the lock was released (a count,
# not a time: each process here may run on a clock of its own)
cat >"$T/hold_lock.py" <<'EOF'
import json, os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[2]))
got = 0
if os.path.exists(sys.argv[4]):
    got = sum(1 for l in open(sys.argv[4]) if json.loads(l)["path"] != "/__control")
db.execute("ROLLBACK")
print(got, flush=True)
EOF
hold_lock() {
	spawn "$1" "$PY" "$T/hold_lock.py" "$B_DB" "$2" "$T/$1.locked" "$WEBHOOK_LOG"
	waitfor "[ -f '$T/$1.locked' ]" 10
}

# --- A. the lock taken while iopd runs --------------------------------------------
start_iopd B "$T/b.conf" "$(before '2026-12-01 18:00:00' 10)"
add_log "$B_LOG"
check "A: iopd wrote its start mark" waitfor "[ -n \"\$(sql B \"SELECT value FROM meta WHERE key = 'mark'\")\" ]" 5
waitfor "\"$PY\" -c 'import sys; sys.exit(float(sys.argv[1]) < float(sys.argv[2]))' \"\$(fake_now B)\" $(epoch '2026-12-01 17:59:55')" 10 || true
hold_lock lockA 12
check "A: the lock is held (before 18:00)" test "$(nreq)" -eq 0
# status every half second while the lock lasts: each answer quick
slow=0 n=0
limit=$((1000 * ${RIG_WAIT_SCALE:-1}))
while [ ! -s "$T/lockA.out" ] && [ $n -lt 40 ]; do
	t0=$EPOCHREALTIME
	ctl B status >"$T/status.txt" 2>&1 || true
	ms=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
	[ "$ms" -le "$limit" ] || { slow=$((slow + 1)); echo "# iopctl status took $ms ms"; }
	n=$((n + 1))
	grep -q "CANNOT WRITE" "$T/status.txt" && cp "$T/status.txt" "$T/status.locked"
	ctl B --json status >"$T/status.json" 2>/dev/null && grep -q '"error":"' "$T/status.json" &&
		cp "$T/status.json" "$T/status.locked.json"
	[ -s "$T/lockA.out" ] && break
	sleep 0.5
done
check "A: iopctl status never waited on the lock ($n answers, all within ${limit} ms)" test "$slow" -eq 0
check "A: the log says the ledger is locked by another process" \
	grep -q "ledger: cannot record .*locked.*another process" "$B_LOG"
grep -m1 "ledger: cannot record" "$B_LOG" | sed 's/^/# /'
check "A: iopctl status says CANNOT WRITE, locked" grep -q "CANNOT WRITE.*locked" "$T/status.locked"
check "A: iopctl status --json: ledger.error says locked" "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert "locked" in s["ledger"]["error"], s
assert s["queued"] + s["in_flight"] == 10, s' "$T/status.locked.json"
check "A: the lock is released" waitfor "[ -s '$T/lockA.out' ]" 20
check "A: sending resumes by itself: ten prompts" waitfor '[ "$(nreq)" -eq 10 ]' 20
# under_lock LOCKNAME: requests the gateway had got when that lock was released
under_lock() { cat "$T/$1.out"; }
check "A: nothing was sent while the ledger was locked" test "$(under_lock lockA)" -eq 0
check "A: the log says so" waitfor "grep -q 'writable again; sending resumes' '$B_LOG'" 5
check "A: none twice" test -z "$(sink_ids "$WEBHOOK_LOG" | sort | uniq -d)"
check "A: ledger: ten sent, nothing in flight" \
	waitfor "[ \"\$(sql B \"SELECT count(*) FROM reminder WHERE status = 'sent'\")\" -eq 10 ]" 5
check "A: ... and every request the gateway got is recorded sent" "$PY" - "$B_DB" "$WEBHOOK_LOG" <<'EOF'
import json, sqlite3, sys
sent = {"%016x" % (i & (1 << 64) - 1) for (i,) in
        sqlite3.connect(sys.argv[1]).execute("SELECT id FROM reminder WHERE status = 'sent'")}
got = {json.loads(l)["idempotency_key"] for l in open(sys.argv[2])} - {None}
assert got <= sent, got - sent
EOF
ctl B status >"$T/status.after" || true
check "A: iopctl status: the error is gone" test -z "$(grep 'CANNOT WRITE' "$T/status.after")"
stop_iopd B
check "A: SIGTERM: exit 0" test "$IOPD_RC" -eq 0

# --- B. iopd started while the lock is held -----------------------------------------
hold_lock lockB $((6 + 2 * ${RIG_WAIT_SCALE:-1}))   # longer than iopd takes to start
start_iopd B "$T/b.conf" '2026-12-01 18:04:58'
add_log "$B_LOG"
check "B: started under the lock, and answers" ctl B status
check "B: the 18:05 prompts wait for the lock" waitfor "grep -q 'ledger: cannot record' '$B_LOG'" 10
check "B: released, the ten 18:05 prompts are sent" waitfor '[ "$(nreq)" -eq 20 ]' 25
check "B: nothing was sent while the ledger was locked" test "$(under_lock lockB)" -eq 10
check "B: none twice" test -z "$(sink_ids "$WEBHOOK_LOG" | sort | uniq -d)"
stop_iopd B
check "B: SIGTERM: exit 0" test "$IOPD_RC" -eq 0
check "no sanitizer report" sanitizer_clean "$B_LOG"
finish
