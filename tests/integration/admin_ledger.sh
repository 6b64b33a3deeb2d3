#!/bin/bash
# admin_ledger.sh - the ledger's upkeep (issue 11, item 7) with the real
# daemon: iopctl backup while it runs, a restore from that copy, and
# daemon.ledger_retention.
#
# Proves:
#   * iopctl backup FILE: exit 0, the size and the time; the copy is a whole
#     SQLite database (integrity_check ok), mode 0600, in rollback-journal
#     mode, with every row sent so far; a relative FILE is taken from
#     iopctl's folder; an existing FILE is never replaced (exit 1, the file
#     unchanged); a folder iopd cannot write: exit 1, saying so;
#   * restore: iopd stopped, the copy put in place of ledger.db: iopd starts
#     on it without --new-ledger (ledger.id names it) and knows what it sent;
#   * retention "30d": restarted 45 days later, the rows settled on the
#     first day (the reminder, its outcomes) are deleted in the background,
#     the recent ones (missed at the catch-up) and the overrides stay;
#     the log says how many; iopd -t refuses "7d" (FILE:LINE), takes
#     "forever".
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "admin_ledger.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/webhook.so" ] || skip_all "no webhook.so in $IOPD_PLUGIN_DIR"

start_webhook
CONF=$T/iopd.conf
STATE=$T/d.state
write_conf() { # RETENTION
	{
		iopd_daemon_block d "ledger_retention = \"$1\";"
		cat <<EOF
channels = ( { name = "hook"; module = "webhook"; url = "$WEBHOOK_URL/hook"; } );
templates = { session = { sms = "s"; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = ( { id = "op"; name = "Op"; kind = "OP"; timezone = "UTC"; weeks = 1;
               sessions = ( { id = "g"; type = "group"; days = ["sat"]; start = "23:00"; duration = "1h"; } ); } );
patients = (
  { id = "p-1"; program = "op"; start = "2026-12-01"; medications = ( { label = "d"; times = ["17:00"]; channels = ["hook"]; } ); },
  { id = "p-2"; program = "op"; start = "2026-12-01"; medications = ( { label = "d"; times = ["17:00"]; channels = ["hook"]; } ); }
);
EOF
	} >"$CONF"
	chmod 600 "$CONF"
}
write_conf 30d
agenda_json "$CONF" 2026-12-01T16:00:00Z 2026-12-01T18:00:00Z "$T/agenda.jsonl"
P1=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["patient"] == "p-1"')
P2=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["patient"] == "p-2"')
run() { # NAME CMD...: RC, $T/NAME.out, $T/NAME.err
	local n=$1
	shift
	RC=0
	"$@" >"$T/$n.out" 2>"$T/$n.err" || RC=$?
	add_log "$T/$n.err"
}

start_iopd D "$CONF" '2026-12-01 16:59:57'
ctl D opt-out p-2 hook --reason "asked" >/dev/null
wait_status D "$P1" sent 15 || true
check "17:00: p-1 sent, p-2 skipped (opted out)" test "$(rec D "$P1" status) $(rec D "$P2" status)" = "sent skipped"

# --- backup while it runs ---------------------------------------------------------------
mkdir -p "$T/backups"
run b1 ctl D backup "$T/backups/ledger-1.db"
check "backup: exit 0, the size and the time" \
	grep -Eq "^ledger copied to $T/backups/ledger-1.db: [0-9]+ bytes, as it was at 2026-12-01T17:00:[0-9]{2}Z \([0-9.]+ s\)$" "$T/b1.out"
check "... the size said is the file's" grep -qF " $(stat -c %s "$T/backups/ledger-1.db") bytes" "$T/b1.out"
check "... mode 0600" test "$(stat -c %a "$T/backups/ledger-1.db")" = 600
check "... a whole database" test "$(sqlite3 "$T/backups/ledger-1.db" 'PRAGMA integrity_check')" = ok
check "... in rollback-journal mode (one file)" test "$(sqlite3 "$T/backups/ledger-1.db" 'PRAGMA journal_mode')" = delete
check "... with what was sent, and the opt-out" test \
	"$(sqlite3 "$T/backups/ledger-1.db" "SELECT status FROM reminder WHERE printf('%016x', id) = '$P1'; SELECT count(*) FROM override")" = "sent
1"
check "... no temporary file left" test "$(ls "$T/backups")" = ledger-1.db
cksum "$T/backups/ledger-1.db" >"$T/sum1"
run b2 ctl D backup "$T/backups/ledger-1.db"
check "backup to a file that exists: exit 1, never replaced" \
	sh -c "[ $RC = 1 ] && grep -q 'exists: iopctl backup never replaces a file' '$T/b2.err' && cksum '$T/backups/ledger-1.db' | cmp -s - '$T/sum1'"
run b3 sh -c "cd '$T/backups' && '$IOPCTL' -s '$D_SOCK' --json backup ledger-2.db"
check "a relative FILE is iopctl's folder's (JSON answer: path, bytes)" "$PY" - "$T/b3.out" "$T/backups/ledger-2.db" <<'EOF'
import json, os, sys
a = json.load(open(sys.argv[1]))
assert a["ok"] and a["path"] == sys.argv[2] and a["bytes"] == os.path.getsize(sys.argv[2]), a
EOF
run b4 ctl D backup "$T/nowhere/ledger.db"
check "a folder that is not there: exit 1, saying so" sh -c "[ $RC = 1 ] && grep -q 'cannot create a file in the folder' '$T/b4.err'"
run b5 ctl D backup
check "backup without FILE: exit 2" test "$RC" = 2
stop_iopd D

# --- restore -----------------------------------------------------------------------------
mv "$STATE/ledger.db" "$T/ledger.db.broken"
cp "$T/backups/ledger-1.db" "$STATE/ledger.db"
chmod 600 "$STATE/ledger.db"
start_iopd R "$CONF" '2026-12-01 17:00:30'
check "restored from the copy: iopd starts without --new-ledger" grep -q " started: " "$R_LOG"
check "... knows what was sent" test "$(rec R "$P1" status)" = sent
ctl R --json history p-2 >"$T/h2.jsonl"
check "... and the opt-out" test "$(jsonl_count "$T/h2.jsonl" '"override" in r')" = 1
stop_iopd R

# --- retention ---------------------------------------------------------------------------
check "iopd -t: a retention under 30 days is refused, FILE:LINE" sh -c "
	write() { sed 's/ledger_retention = \"30d\"/ledger_retention = \"7d\"/' '$CONF' >'$T/short.conf'; chmod 600 '$T/short.conf'; }
	write; ! '$IOPD' -t -c '$T/short.conf' 2>'$T/short.err' &&
	grep -q '^$T/short.conf:[0-9]*: daemon.ledger_retention \"7d\" is shorter than 30 days' '$T/short.err'"
check "iopd -t: \"forever\" is taken" sh -c "
	sed 's/ledger_retention = \"30d\"/ledger_retention = \"forever\"/' '$CONF' >'$T/forever.conf'; chmod 600 '$T/forever.conf'
	'$IOPD' -t -c '$T/forever.conf' >/dev/null"
N_OUT=$(sql R "SELECT count(*) FROM outcome WHERE printf('%016x', id) = '$P1'")
check "before: p-1's reminder has its outcomes" test "$N_OUT" -ge 1
start_iopd L "$CONF" '2027-01-15 12:00:00'
waitfor "grep -q 'ledger retention: ' '$L_LOG'" 30 || true
check "45 days later: the log says the old rows were deleted" \
	grep -Eq "ledger retention: [0-9]+ rows settled before 2026-12-16T12:00:[0-9]{2}Z deleted" "$L_LOG"
check "... the first day's reminders are gone, with their outcomes" \
	test "$(sql L "SELECT count(*) FROM reminder WHERE printf('%016x', id) IN ('$P1', '$P2'); SELECT count(*) FROM outcome WHERE printf('%016x', id) IN ('$P1', '$P2')" | tr '\n' ' ')" = "0 0 "
check "... the ones missed at the catch-up stay" test "$(sql L "SELECT count(*) FROM reminder WHERE status = 'missed'")" -ge 6
check "... the overrides and their log stay" \
	test "$(sql L "SELECT count(*) FROM override; SELECT count(*) FROM override_log" | tr '\n' ' ')" = "1 1 "
stop_iopd L
check "SIGTERM: exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$D_LOG" "$R_LOG" "$L_LOG"
finish
