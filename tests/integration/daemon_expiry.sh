#!/bin/bash
# daemon_expiry.sh - SPEC 6 "never late in a way that harms", end to end with
# the real iopd and its webhook plugin.
#
# Daemon D (fake clock at normal speed): the gateway refuses connections
#   (nothing listens on its port) until after the events, then comes up.
#   - a session reminder (due 6 s before the session) is recorded expired no
#     later than the session, and NEVER sent: the receiver, up after the
#     session, gets nothing;
#   - a medication prompt (medication_grace = 5s) is recorded expired no later
#     than 8 s after its time, and never sent either.
# Daemon Q (fake clock at x10): the gateway answers 503 + Retry-After: 10 once.
#   - a session reminder due 10:59:55 (patient's zone, America/Chicago) whose
#     retry would land in the patient's quiet hours (11:00-11:01, short so the
#     test is too) is retried at 11:01:00, the end of the window, not before;
#   - a medication prompt due at 11:00, inside those quiet hours, is sent and
#     retried anyway (medication has no quiet hours), 10 s later.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "daemon_expiry.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/webhook.so" ] || skip_all "no webhook.so in $IOPD_PLUGIN_DIR"

TEMPLATES='templates = { session = { sms = "s"; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };'

# ------------------------------------------------------------------ daemon D
PORT=$(free_port)
EVENT=$(epoch '2026-12-01 17:00:00')
{
	iopd_daemon_block d 'medication_grace = "5s";'
	echo "channels = ( { name = \"ehr\"; module = \"webhook\"; url = \"http://127.0.0.1:$PORT/hooks/ehr\"; timeout = \"2s\"; } );"
	echo "$TEMPLATES"
	cat <<'EOF'
programs = ( { id = "prog"; name = "Program"; kind = "IOP"; timezone = "UTC"; weeks = 1;
  sessions = ( { id = "grp"; type = "group"; days = ["tue"]; start = "17:00"; duration = "1h"; } );
  reminders = ( { before = "6s"; channels = ["ehr"]; } ); } );
patients = (
  { id = "p-session"; first_name = "A"; program = "prog"; start = "2026-12-01"; },
  { id = "p-med"; first_name = "B"; program = "prog"; start = "2026-12-02";
    medications = ( { label = "dose"; times = ["17:00"]; channels = ["ehr"]; from = "2026-12-01"; until = "2026-12-01"; } ); }
);
EOF
} >"$T/d.conf"

# ------------------------------------------------------------------ daemon Q
start_webhook
curl -s -o /dev/null -X POST "$WEBHOOK_URL/__control?status=503&retry_after=10&times=1&path=/hooks/q/session"
curl -s -o /dev/null -X POST "$WEBHOOK_URL/__control?status=503&retry_after=10&times=1&path=/hooks/q/med"
{
	iopd_daemon_block q
	echo "channels = (
  { name = \"qs\"; module = \"webhook\"; url = \"$WEBHOOK_URL/hooks/q/session\"; timeout = \"1h\"; },
  { name = \"qm\"; module = \"webhook\"; url = \"$WEBHOOK_URL/hooks/q/med\"; timeout = \"1h\"; } );"
	echo "$TEMPLATES"
	cat <<'EOF'
programs = ( { id = "prog"; name = "Program"; kind = "IOP"; timezone = "America/Chicago"; weeks = 1;
  sessions = ( { id = "grp"; type = "group"; days = ["tue"]; start = "12:30"; duration = "1h"; } );
  reminders = ( { before = "1h30m5s"; channels = ["qs"]; } ); } );
patients = (
  { id = "p-quiet"; first_name = "C"; program = "prog"; start = "2026-12-01"; timezone = "America/Chicago";
    quiet_hours = { from = "11:00"; to = "11:01"; };
    medications = ( { label = "dose"; times = ["11:00"]; channels = ["qm"]; from = "2026-12-01"; until = "2026-12-01"; } ); }
);
EOF
} >"$T/q.conf"

agenda_json "$T/d.conf" 2026-12-01T00:00:00Z 2026-12-02T00:00:00Z "$T/d.agenda"
agenda_json "$T/q.conf" 2026-12-01T00:00:00Z 2026-12-02T00:00:00Z "$T/q.agenda"
add_log "$T/d.agenda" "$T/q.agenda"
ID_S=$(agenda_id "$T/d.agenda" p-session ehr session)
ID_M=$(agenda_id "$T/d.agenda" p-med ehr medication)
ID_QS=$(agenda_id "$T/q.agenda" p-quiet qs session)
ID_QM=$(agenda_id "$T/q.agenda" p-quiet qm medication)
check "agenda: the session reminder is due 16:59:54Z, the prompt 17:00:00Z" \
	test "$(jsonl_field "$T/d.agenda" 'r["due"]' | tr '\n' ' ')" = "2026-12-01T16:59:54Z 2026-12-01T17:00:00Z "
check "agenda: the quiet-hours case is due 10:59:55 local, the prompt 11:00 local" \
	test "$(jsonl_field "$T/q.agenda" 'r["due_local"]' | tr '\n' ' ')" = "2026-12-01T10:59:55-06:00 2026-12-01T11:00:00-06:00 "

start_iopd Q "$T/q.conf" '2026-12-01 16:59:30' x10
start_iopd D "$T/d.conf" '2026-12-01 16:59:51'

# --- D: expired, never sent ------------------------------------------------------------
wait_status D "$ID_S" expired 12 || true
wait_status D "$ID_M" expired 12 || true
check "session: recorded expired" grep -Eq '^expired\|[1-9][0-9]*\|.*curl 7' <<<"$(rec D "$ID_S")"
check "session: expired no later than the session" test "$(rec D "$ID_S" "updated <= $EVENT")" = 1
check "session: every attempt was before the session" \
	test "$(sql D "SELECT count(*) FROM outcome WHERE printf('%016x', id) = '$ID_S' AND at > $EVENT")" = 0
check "medication: recorded expired" grep -Eq '^expired\|[1-9][0-9]*\|.*curl 7' <<<"$(rec D "$ID_M")"
check "medication: expired no later than medication_grace" test "$(rec D "$ID_M" "updated <= $EVENT + 5")" = 1
# the gateway comes up once the grace is over too: nothing may arrive
waitfor "\"\$PY\" -c 'import sys; sys.exit(not float(sys.argv[1]) >= $EVENT + 5.2)' \"\$(fake_now D)\"" 12 || true
start_webhook LATE --port "$PORT"
check "the receiver came up after the session and the grace" \
	"$PY" -c "import sys; sys.exit(not float('$(fake_now D)') >= $EVENT + 5)"

# --- Q: the retry moved out of the quiet hours -------------------------------------------
QUIET_END=$(epoch '2026-12-01 17:01:00')      # 11:01 in Chicago
wait_status Q "$ID_QS" sent 20 || true
wait_status Q "$ID_QM" sent 5 || true
check "quiet hours: the session reminder sent on attempt 2" test "$(rec Q "$ID_QS" 'status, attempts')" = "sent|2"
check "quiet hours: its retry waited for the end of the window (11:01 local)" \
	"$PY" - "$WEBHOOK_LOG" "$ID_QS" "$QUIET_END" <<'EOF'
import json, sys
log, rid, end = sys.argv[1], sys.argv[2], int(sys.argv[3])
ts = [int(r["headers"]["X-Iopd-Timestamp"]) for r in map(json.loads, open(log)) if r["idempotency_key"] == rid]
assert len(ts) == 2, ts
assert ts[0] == end - 65, (ts[0] - end)          # first try at 10:59:55 local
assert end <= ts[1] < end + 5, (ts[1] - end)     # then 11:01:00, not 11:00:05
EOF
check "quiet hours: the medication prompt (no quiet hours) retried 10 s later, inside the window" \
	"$PY" - "$WEBHOOK_LOG" "$ID_QM" "$(epoch '2026-12-01 17:00:00')" <<'EOF'
import json, sys
log, rid, due = sys.argv[1], sys.argv[2], int(sys.argv[3])
ts = [int(r["headers"]["X-Iopd-Timestamp"]) for r in map(json.loads, open(log)) if r["idempotency_key"] == rid]
assert len(ts) == 2, ts
assert due <= ts[0] < due + 2 and ts[0] + 10 <= ts[1] < ts[0] + 15, (ts[0] - due, ts[1] - ts[0])
EOF
check "quiet hours: the log says when the retry is" \
	grep -Eq "^<6>\[qs\] attempt 1 failed \(HTTP 503\); retry in (5[0-9]|6[0-6]) s .*$ID_QS" "$Q_LOG"
stop_iopd Q
check "Q: SIGTERM: exit 0" test "$IOPD_RC" = 0

# --- D: still nothing, a few seconds after the receiver came up ---------------------------
sleep 3
check "the late receiver got nothing" test "$(jsonl_count "$LATE_LOG")" -eq 0
check "both still expired" test "$(rec D "$ID_S" status) $(rec D "$ID_M" status)" = "expired expired"
stop_iopd D
check "D: SIGTERM: exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$D_LOG" "$Q_LOG"
finish
