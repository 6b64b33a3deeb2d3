#!/bin/bash
# faults_corrupt.sh - a damaged ledger, end to end with the real iopd and its
# webhook plugin (fake clock five times faster than real, from 2026-12-01
# 17:59:55 UTC).  Ten prompts are due at 18:00, ten at 18:01, ten at 18:02.
#   1. 18:00: sent.  Then, iopd running, an admin's tools checkpoint the
#      ledger (sqlite3: PRAGMA wal_checkpoint) and take a backup, and the
#      disk garbles every page of ledger.db but the first.
#   2. 18:01: nothing is sent that the ledger cannot record; the log and
#      `iopctl status` say the ledger is damaged and to restore it from a
#      backup; iopd keeps running and stops cleanly.
#   3. Restarted on the damaged file: iopd refuses to start, saying which
#      file is damaged and what to do (restore it from a backup, or move it
#      aside), and sends nothing.
#   4. The backup restored: iopd starts, sends the 18:01 prompts once (catch
#      up) and the 18:02 ones, and not the 18:00 ones again.
#   5. Stopped, 8 bytes of each page overwritten: refused again.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "faults_corrupt.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/webhook.so" ] || skip_all "no webhook.so in $IOPD_PLUGIN_DIR"
"$PY" -c 'import sqlite3' 2>/dev/null || skip_all "$PY has no sqlite3 module"

start_webhook
ten_prompts_conf c '"18:00", "18:01", "18:02"'
agenda_json "$T/c.conf" 2026-12-01T18:00:00Z 2026-12-01T18:03:00Z "$T/agenda.jsonl"
sink_ids() { jsonl_field "$WEBHOOK_LOG" 'r["idempotency_key"]' 'r["path"] != "/__control"'; }
nreq() { sink_ids | wc -l; }
due_ids() { jsonl_field "$T/agenda.jsonl" 'r["id"]' "r[\"due\"] == \"2026-12-01T$1Z\"" | sort; }
DB=$T/c.state/ledger.db

# garble FILE FIRST_PAGE BYTES: from the page FIRST_PAGE (0-based) on, the
# first BYTES bytes (all of the page if 0) of each page become 0x5a: a
# b-tree page's header (its type, cell count, ...) is always among them
garble() {
	"$PY" - "$@" <<'EOF'
import os, sys
path, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
size = 4096
pages = os.path.getsize(path) // size
with open(path, "r+b") as f:
    for p in range(first, pages):
        f.seek(p * size)
        f.write(b"\x5a" * (n or size))
print(pages - first)
EOF
}
# run_once START: iopd in the foreground on the fake clock, until it
# exits by itself (or 30 s pass); its status in RC, its output in $T/once.log
run_once() {
	local -a FT
	mapfile -t FT < <(faketime_env "$1" x5)
	RC=0
	env TZ=UTC "${FT[@]}" timeout -s KILL $((30 * ${RIG_WAIT_SCALE:-1})) "$IOPD" -f -c "$T/c.conf" \
		>"$T/once.log" 2>&1 </dev/null || RC=$?
	add_log "$T/once.log"
}

# --- 1. 18:00 sent; then the ledger is damaged under the running iopd ---------
start_iopd C "$T/c.conf" "$(before '2026-12-01 18:00:00' 3 x5)" x5
add_log "$C_LOG"
check "1: the ten 18:00 prompts are sent" waitfor '[ "$(nreq)" -eq 10 ]' 20
check "1: ... and recorded" waitfor "[ \"\$(sql C \"SELECT count(*) FROM reminder WHERE status = 'sent'\")\" -eq 10 ]" 5
check "1: a checkpoint and a backup while iopd runs" "$PY" - "$DB" "$T/backup.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
dst = sqlite3.connect(sys.argv[2])
db.backup(dst)
dst.close()
assert sqlite3.connect(sys.argv[2]).execute("SELECT count(*) FROM reminder").fetchone()[0] == 10
EOF
t_damage=$EPOCHREALTIME
echo "# garbled $(garble "$DB" 1 0) pages of ledger.db"

# --- 2. 18:01: nothing sent that cannot be recorded ------------------------------------
check "2: the log says the ledger is damaged and what to do" \
	waitfor "grep -q 'ledger: cannot record .*malformed.*damaged.*restore it from a backup' '$C_LOG'" 30
grep -m1 "ledger: cannot record" "$C_LOG" | sed 's/^/# /'
ctl C status >"$T/status.txt" 2>&1 || true
check "2: iopctl status says CANNOT WRITE: damaged" grep -q "CANNOT WRITE.*damaged" "$T/status.txt"
sleep 2
check "2: nothing sent since the damage" "$PY" -c 'import json, sys
t = float(sys.argv[2])
late = [r["idempotency_key"] for r in map(json.loads, open(sys.argv[1]))
        if r["path"] != "/__control" and r["t"] > t]
assert not late, late' "$WEBHOOK_LOG" "$t_damage"
check "2: iopd still answers" ctl C status
stop_iopd C
check "2: SIGTERM: exit 0" test "$IOPD_RC" -eq 0

# --- 3. restarted on the damaged ledger ----------------------------------------------
run_once '2026-12-01 18:01:30'
check "3: iopd refuses to start (exit 1)" test "$RC" -eq 1
grep "damaged" "$T/once.log" | head -n 2 | sed 's/^/# /'
check "3: ... naming the file, saying it is damaged" grep -q "$DB is damaged" "$T/once.log"
check "3: ... and what to do: restore it from a backup, or move it aside" \
	grep -q "restore it from a backup, or move it aside" "$T/once.log"
check "3: nothing sent" test "$(nreq)" -eq 10

# --- 4. the backup restored --------------------------------------------------------
rm -f "$DB" "$DB-wal" "$DB-shm"
cp "$T/backup.db" "$DB"
start_iopd C "$T/c.conf" '2026-12-01 18:01:50' x5
add_log "$C_LOG"
check "4: restored: the 18:01 and 18:02 prompts are sent" waitfor '[ "$(nreq)" -eq 30 ]' 30
sleep 1
check "4: each prompt sent once, the 18:00 ones not again" \
	test "$(sink_ids | sort | uniq -d | wc -l)" -eq 0 -a "$(nreq)" -eq 30
check "4: exactly the agenda's prompts" \
	test "$(sink_ids | sort)" = "$( (due_ids 18:00:00; due_ids 18:01:00; due_ids 18:02:00) | sort)"
stop_iopd C
check "4: SIGTERM: exit 0" test "$IOPD_RC" -eq 0

# --- 5. a few bytes overwritten while iopd is stopped ------------------------------
echo "# overwrote the first 8 bytes of $(garble "$DB" 1 8) pages"
run_once '2026-12-01 18:03:00'
check "5: refused again (exit 1), saying so" test "$RC" -eq 1
check "5: ... naming the file" grep -q "$DB is damaged" "$T/once.log"
check "5: nothing sent" test "$(nreq)" -eq 30
check "no sanitizer report" sanitizer_clean "$C_LOG" "$T/once.log"
finish
