#!/bin/bash
# pg_twoway_shared.sh - SPEC 8 and 9: a STOP a patient texts to one
# instance stops the sends of every instance sharing the PostgreSQL ledger.
#
# Instances a and b, one configuration (each its own inbound listener).  The
# STOP reaches a before anything is due; a records the opt-out (origin:
# reply) in the shared ledger and stops.  b, started afterwards, never heard
# the STOP: its claim reads the shared opt-out and records the patient's
# reminder skipped (opt-out); the other patient's, due with it, goes out.
# Instance c, 45 days later with daemon.ledger_retention = "30d", deletes
# the settled reminders, their outcomes and the reply from the shared
# ledger, and keeps the opt-out (the record of consent).
set -eu
export IOPD_TEST_LEDGER=postgresql
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "pg_twoway_shared.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/sms.so" ] || skip_all "no sms.so in $IOPD_PLUGIN_DIR"

start_twilio
secret_file tw.tok "$TWILIO_TOKEN"
conf() { # NAME PORT [DAEMON SETTINGS]
	{
		iopd_daemon_block "$1" "clinic_phone = \"+15550009999\"; ${3:-}"
		cat <<EOF2
channels = ( { name = "sms"; module = "sms"; api = "twilio"; url = "$TWILIO_API"; account = "$TWILIO_SID";
               token_file = "$T/tw.tok"; from = "+15550001111"; timeout = "5s"; } );
inbound = { listen = "127.0.0.1:$2"; public_url = "http://127.0.0.1:$2"; };
templates = { session = { sms = "Hi {first_name}."; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = ( { id = "g"; name = "G"; kind = "IOP"; timezone = "UTC"; weeks = 1;
  sessions = ( { id = "s"; type = "group"; days = ["tue"]; start = "18:00"; duration = "1h"; } );
  reminders = ( { before = "1h"; channels = ["sms"]; } ); } );
patients = (
  { id = "p-stop"; first_name = "Ona"; phone = "+15557770011"; program = "g"; start = "2026-12-01"; },
  { id = "p-go"; first_name = "Two"; phone = "+15557770012"; program = "g"; start = "2026-12-01"; } );
EOF2
	} >"$T/$1.conf"
	chmod 600 "$T/$1.conf"
}
PA=$(free_port)
PB=$(free_port)
conf a "$PA"
conf b "$PB"
agenda_json "$T/a.conf" 2026-12-01T00:00:00Z 2026-12-02T00:00:00Z "$T/agenda.jsonl" 2>/dev/null
STOPPED=$(agenda_id "$T/agenda.jsonl" p-stop sms)
GOES=$(agenda_id "$T/agenda.jsonl" p-go sms)

start_iopd A "$T/a.conf" '2026-12-01 16:50:00'
check "STOP to instance a: 200" test "$("$PY" "$RIG_DIR/twilio_post.py" --listen "http://127.0.0.1:$PA" \
	--public "http://127.0.0.1:$PA" --token "$TWILIO_TOKEN" --path /sms/sms/reply \
	From=+15557770011 Body=STOP MessageSid=SMstop1)" = "200 <Response/>"
check "the shared ledger: opted out, by the reply, through a" \
	test "$(sql A "SELECT kind || ':' || origin || ':' || channel FROM override WHERE patient = 'p-stop'")" = "opt-out:reply:sms"
check "... the reply's intent, never its text" \
	test "$(sql A "SELECT intent || ':' || instance FROM reply WHERE patient = 'p-stop'")" = "stop:a"
stop_iopd A
check "a: SIGTERM, exit 0" test "$IOPD_RC" = 0

start_iopd B "$T/b.conf" '2026-12-01 16:59:57'
wait_status B "$GOES" sent 30 || true
wait_status B "$STOPPED" skipped 30 || true
check "b never heard the STOP: the claim skips p-stop's reminder (opt-out)" \
	test "$(rec B "$STOPPED" 'status, reason, attempts')" = "skipped|opt-out|0"
check "... recorded by b" test "$(sql B "SELECT instance FROM outcome WHERE lpad(to_hex(id), 16, '0') = '$STOPPED'")" = b
check "... it never reached the gateway" \
	test "$(jsonl_count "$TWILIO_LOG" 'r["form"] and r["form"].get("To") == "+15557770011"')" = 0
check "p-go's, due with it: sent by b" test "$(rec B "$GOES" status)" = sent
check "... once" test "$(jsonl_count "$TWILIO_LOG" 'r["form"] and r["form"].get("To") == "+15557770012"')" = 1
check "b's history of p-stop: the opt-out by the reply, the skip" \
	"$PY" - <<PYEOF
import subprocess, sys
t = subprocess.run(["$IOPCTL", "-s", "$T/b.state/control.sock", "history", "p-stop"], capture_output=True, text=True).stdout
assert "opt" in t and "reply" in t.lower() and "skipped" in t, t
PYEOF
stop_iopd B
check "b: SIGTERM, exit 0" test "$IOPD_RC" = 0

conf c "$(free_port)" 'ledger_retention = "30d";'
start_iopd C "$T/c.conf" '2027-01-15 12:00:00'
check "c, 45 days later: retention empties the settled rows of the shared ledger" \
	waitfor "[ \"\$(sql C 'SELECT (SELECT count(*) FROM reminder) + (SELECT count(*) FROM outcome) + (SELECT count(*) FROM reply)')\" = 0 ]" 30
check "... and says so" waitfor "grep -q 'ledger retention: [0-9]* rows settled before 2026-12-16T12:00:[0-9]*Z deleted' '$C_LOG'" 10
check "... the opt-out stays" test "$(sql C "SELECT origin FROM override WHERE patient = 'p-stop'")" = reply
stop_iopd C
check "c: SIGTERM, exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$A_LOG" "$B_LOG" "$C_LOG"
finish
