#!/bin/bash
# twoway_consent.sh - a STOP is in force before any further send, even one
# already claimed in the ledger and waiting for its due instant (SPEC 8).
#
# The dispatcher claims a reminder half a second before its due and holds it
# until then (bench W3); consent is asked again at the moment of sending.
# The fake clock runs at a tenth of real speed, so that half second lasts
# five: the STOP arrives, reliably, while the reminder is claimed (in flight
# in the ledger) and not yet handed to its plugin.  It is then recorded
# skipped (opt-out), after one claim, and never reaches the gateway; a
# reminder of another patient due at the same instant goes out.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "twoway_consent.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/sms.so" ] || skip_all "no sms.so in $IOPD_PLUGIN_DIR"

PORT=$(free_port)
start_twilio
secret_file tw.tok "$TWILIO_TOKEN"
{
	iopd_daemon_block d 'clinic_phone = "+15550009999";'
	cat <<EOF2
channels = ( { name = "sms"; module = "sms"; api = "twilio"; url = "$TWILIO_API"; account = "$TWILIO_SID";
               token_file = "$T/tw.tok"; from = "+15550001111"; timeout = "5s"; } );
inbound = { listen = "127.0.0.1:$PORT"; public_url = "http://127.0.0.1:$PORT"; };
templates = { session = { sms = "Hi {first_name}."; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = ( { id = "g"; name = "G"; kind = "IOP"; timezone = "UTC"; weeks = 1;
  sessions = ( { id = "s"; type = "group"; days = ["tue"]; start = "18:00"; duration = "1h"; } );
  reminders = ( { before = "1h"; channels = ["sms"]; } ); } );
patients = (
  { id = "p-stop"; first_name = "Ona"; phone = "+15557770011"; program = "g"; start = "2026-12-01"; },
  { id = "p-go"; first_name = "Two"; phone = "+15557770012"; program = "g"; start = "2026-12-01"; } );
EOF2
} >"$T/iopd.conf"
chmod 600 "$T/iopd.conf"
agenda_json "$T/iopd.conf" 2026-12-01T00:00:00Z 2026-12-02T00:00:00Z "$T/agenda.jsonl"
STOPPED=$(agenda_id "$T/agenda.jsonl" p-stop sms)
GOES=$(agenda_id "$T/agenda.jsonl" p-go sms)
DUE=$(epoch '2026-12-01 17:00:00')

start_iopd D "$T/iopd.conf" '2026-12-01 16:59:59' x0.1
waitfor "[ \"\$(rec D '$STOPPED' status 2>/dev/null)\" = inflight ]" 30 || true
check "claimed ahead of its due, held" test "$(rec D "$STOPPED" 'status, attempts')" = "inflight|1"
check "... and the due is still ahead" "$PY" -c "import sys; sys.exit(not float('$(fake_now D)') < $DUE - 0.05)"
check "STOP while it is held: 200" test "$("$PY" "$RIG_DIR/twilio_post.py" --listen "http://127.0.0.1:$PORT" \
	--public "http://127.0.0.1:$PORT" --token "$TWILIO_TOKEN" --path /sms/sms/reply \
	From=+15557770011 Body=STOP MessageSid=SMstop1)" = "200 <Response/>"
check "... answered before the due" "$PY" -c "import sys; sys.exit(not float('$(fake_now D)') < $DUE)"
wait_status D "$GOES" sent 30 || true
wait_status D "$STOPPED" skipped 30 || true
check "the held reminder: skipped, opt-out, after its one claim" \
	test "$(rec D "$STOPPED" 'status, reason, attempts')" = "skipped|opt-out|1"
check "... it never reached the gateway" \
	test "$(jsonl_count "$TWILIO_LOG" 'r["form"] and r["form"].get("To") == "+15557770011"')" = 0
check "... the log says why" grep -q "not sent: opt-out since it was claimed (patient p-stop, reminder $STOPPED)" "$D_LOG"
check "the other patient's, due with it: sent" test "$(jsonl_count "$TWILIO_LOG" 'r["form"] and r["form"].get("To") == "+15557770012"')" = 1
stop_iopd D
check "SIGTERM: exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$D_LOG"
finish
