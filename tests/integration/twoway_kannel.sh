#!/bin/bash
# twoway_kannel.sh - two-way SMS through a real Kannel (bearerbox, smsbox,
# fakesmsc): patients' texts reach iopd through the sms-service get-url,
# delivery reports through the dlr-url iopd puts on every send (SPEC 8).
#
# Proves: HELP is answered (once, discreetly, with the clinic's number); a
# text from a number that is no patient's is dropped unanswered; a STOP
# (written "  stop. ") opts the patient out before the next reminder, which
# is skipped and never reaches the phone, is answered once and told to
# staff; START lifts it (answered) and the next reminder goes out; its
# delivery report (fakesmsc's type 1, through smsbox) is recorded on it; C
# confirms it (answered with the `confirmed` template), R reaches the staff
# webhook with the reminder and its event; a failed report (type 16, sent
# as smsbox would) is recorded and the reminder goes out once more by
# e-mail, its fallback, with an id of its own; the same report again counts
# once; a wrong key is refused and changes nothing.  Texts are in neither
# the log nor the ledger.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "twoway_kannel.sh: daemon_lib.sh not found" >&2; exit 99; }
for m in sms smtp webhook; do
	[ -f "$IOPD_PLUGIN_DIR/$m.so" ] || skip_all "no $m.so in $IOPD_PLUGIN_DIR"
done

PORT=$(free_port)
CBKEY=k3y-s3cret_0123456789abcdef
export KANNEL_GET_URL="http://127.0.0.1:$PORT/sms/sms/reply?key=$CBKEY&from=%p&to=%P&text=%a"
export KANNEL_MO=1
start_kannel
make_certs
start_smtp --tls "$CERT" "$KEY" --auth iopd:s3cret-pw
start_webhook STAFF
secret_file kannel.pw "$KANNEL_PASS"
secret_file cb.key "$CBKEY"
secret_file smtp.pw 's3cret-pw'
secret_file ehr.key 'staff-hmac-key'

ANA=+15551230001
START='2026-12-01 16:59:40'
{
	iopd_daemon_block d 'clinic_phone = "+15550009999";'
	cat <<EOF2
channels = (
  { name = "sms"; module = "sms"; api = "kannel"; url = "$KANNEL_SENDSMS_URL"; user = "$KANNEL_USER";
    token_file = "$T/kannel.pw"; from = "12345"; timeout = "3s";
    callback_key_file = "$T/cb.key"; fallback = "email"; },
  { name = "email"; module = "smtp"; url = "$SMTP_URL"; from = "Clinic <noreply@clinic.example>";
    user = "iopd"; token_file = "$T/smtp.pw"; ca_file = "$CERT"; timeout = "5s"; },
  { name = "ehr"; module = "webhook"; url = "$STAFF_URL/staff"; token_file = "$T/ehr.key"; }
);
inbound = { listen = "127.0.0.1:$PORT"; public_url = "http://127.0.0.1:$PORT"; staff = "ehr"; };
templates = {
  session = { sms = "Hi {first_name}, see you {day} at {time}."; email_subject = "Reminder"; };
  medication = { sms = "m"; }; aftercare = { sms = "a"; };
  confirmed = { sms = "Thank you {first_name}, see you {day} at {time}."; };
};
programs = ( { id = "grp"; name = "Evening group"; kind = "IOP"; timezone = "UTC"; weeks = 1;
  sessions = ( { id = "g"; type = "group"; days = ["tue"]; start = "18:00"; duration = "1h"; } );
  reminders = ( { before = "3600s"; channels = ["sms"]; }, { before = "3580s"; channels = ["sms"]; },
                { before = "3560s"; channels = ["sms"]; } ); } );
patients = ( { id = "p-ana"; first_name = "Ana"; phone = "$ANA"; email = "ana@example.org";
               program = "grp"; start = "2026-12-01"; } );
EOF2
} >"$T/iopd.conf"
chmod 600 "$T/iopd.conf"

agenda_json "$T/iopd.conf" 2026-12-01T00:00:00Z 2026-12-02T00:00:00Z "$T/agenda.jsonl"
R1=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["lead"] == "3600s"')
R2=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["lead"] == "3580s"')
R3=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["lead"] == "3560s"')
DUE1=$(epoch '2026-12-01 17:00:00')
DUE2=$(epoch '2026-12-01 17:00:20')
EVENT=$(epoch '2026-12-01 18:00:00')

got() { grep -cF -- "$1" "$KANNEL_FAKESMSC_OUT" || true; }
before() { "$PY" -c "import sys; sys.exit(not float('$(fake_now D)') < $1)"; }
staff() { jsonl_count "$STAFF_LOG" "r[\"path\"] == \"/staff\" and $1"; }
HELP_TEXT="<12345 $ANA text Appointment reminders. For help call +15550009999. Reply STOP to opt out.>"
STOPPED_TEXT="<12345 $ANA text You will get no more reminders from this number."
STARTED_TEXT="<12345 $ANA text Reminders from this number are on again."

start_iopd D "$T/iopd.conf" "$START"
check "listening: /healthz answers ok" test "$(curl -s "http://127.0.0.1:$PORT/healthz")" = ok

# --- HELP, and a stranger ----------------------------------------------------
kannel_mo "$ANA" 12345 HELP
waitfor "[ \$(got '$HELP_TEXT') -ge 1 ]" 10 || true
check "HELP: answered with the help text" test "$(got "$HELP_TEXT")" = 1
kannel_mo +15559990000 12345 HELP
waitfor "grep -q 'no patient' '$D_LOG'" 10 || true
check "a stranger's text: dropped, unanswered" test "$(got ' +15559990000 ')" = 0 -a \
	"$(grep -c "no patient's: dropped" "$D_LOG")" = 1

# --- STOP before the first reminder ---------------------------------------------
kannel_mo "$ANA" 12345 '  stop. '
waitfor "[ \"\$(sql D \"SELECT origin FROM override WHERE patient = 'p-ana' AND channel = 'sms'\")\" = reply ]" 10 || true
check "STOP: opted out of sms, by a reply" \
	test "$(sql D "SELECT kind, origin FROM override WHERE patient = 'p-ana'")" = "opt-out|reply"
check "STOP: in force before the next reminder fell due" before "$DUE1"
waitfor "[ \$(got '$STOPPED_TEXT') -ge 1 ]" 10 || true
check "STOP: answered once" test "$(got "$STOPPED_TEXT")" = 1
waitfor "[ \$(staff 'r[\"form\"] is None and \"\\\"intent\\\":\\\"stop\\\"\" in r[\"body\"]') -ge 1 ]" 10 || true
check "STOP: staff told, signed" test "$(staff '"\"intent\":\"stop\"" in r["body"] and r["headers"].get("X-Iopd-Signature", "").startswith("sha256=")')" = 1
wait_status D "$R1" skipped 40 || true
check "the next reminder: skipped, opt-out" test "$(rec D "$R1" 'status, reason')" = "skipped|opt-out"
check "the next reminder: never reached the phone" test "$(got "$ANA text Hi Ana")" = 0

# --- START, and a reminder that goes out and is delivered ----------------------
kannel_mo "$ANA" 12345 Start
waitfor "[ -z \"\$(sql D \"SELECT 1 FROM override WHERE patient = 'p-ana'\")\" ]" 10 || true
check "START: the opt-out is lifted" test -z "$(sql D "SELECT 1 FROM override WHERE patient = 'p-ana'")"
check "START: before the reminder after" before "$DUE2"
waitfor "[ \$(got '$STARTED_TEXT') -ge 1 ]" 10 || true
check "START: answered once" test "$(got "$STARTED_TEXT")" = 1
wait_status D "$R2" sent 25 || true
check "the reminder after: sent" test "$(rec D "$R2" status)" = sent
waitfor "[ \"\$(rec D '$R2' receipt)\" = delivered ]" 10 || true
check "its delivery report (type 1, through smsbox): delivered" test "$(rec D "$R2" receipt)" = delivered

# --- C and R ---------------------------------------------------------------------
kannel_mo "$ANA" 12345 c
waitfor "[ \"\$(rec D '$R2' response)\" = confirm ]" 10 || true
check "C: confirms the session of the latest reminder" test "$(rec D "$R2" response)" = confirm
check "C: the reply is recorded on it" test "$(sql D "SELECT intent, printf('%016x', reminder), event FROM reply WHERE intent = 'confirm'")" = "confirm|$R2|$EVENT"
waitfor "[ \$(got '$ANA text Thank you Ana, see you Tue Dec 1 at 6:00 PM.') -ge 1 ]" 10 || true
check "C: answered with the confirmed template" test "$(got "$ANA text Thank you Ana, see you Tue Dec 1 at 6:00 PM.")" = 1
kannel_mo "$ANA" 12345 R
waitfor "[ \$(staff '\"\\\"intent\\\":\\\"reschedule\\\"\" in r[\"body\"]') -ge 1 ]" 10 || true
check "R: staff told, with the reminder and its event" test "$(jsonl_field "$STAFF_LOG" 'r["body"]' '"reschedule" in r["body"]')" = \
	"{\"type\":\"reply\",\"intent\":\"reschedule\",\"patient\":\"p-ana\",\"channel\":\"sms\",\"reminder\":\"$R2\",\"event\":\"2026-12-01T18:00:00Z\",\"received\":\"$(jsonl_field "$STAFF_LOG" 'r["body"]' '"reschedule" in r["body"]' | sed 's/.*"received":"\([^"]*\)".*/\1/')\"}"

# --- a failed report: the fallback e-mail --------------------------------------------
# The fake SMSC delivers everything (and says so at once), so the phone is
# taken away first: bearerbox queues the third reminder (smsbox answers 202),
# and the failed report comes from us, as smsbox would send it.
DUE3=$(epoch '2026-12-01 17:00:40')
FAKE_PID=$(cat "$KANNEL_DIR/fakesmsc.pid")
stop_pid "$FAKE_PID" 5
check "the phone is away before the third reminder falls due" before "$DUE3"
wait_status D "$R3" sent 40 || true
check "the third reminder: accepted by Kannel (queued)" test "$(rec D "$R3" 'status, receipt')" = "sent|"
DLR="http://127.0.0.1:$PORT/sms/sms/status?key=$CBKEY&id=$R3&type=16"
check "a failed report (type 16): taken" test "$(curl -s -o /dev/null -w '%{http_code}' "$DLR")" = 200
check "recorded failed on the reminder" test "$(rec D "$R3" 'receipt, receipt_reason')" = "failed|kannel type 16"
FB=$(sql D "SELECT printf('%016x', id) FROM reminder WHERE origin = (SELECT id FROM reminder WHERE printf('%016x', id) = '$R3')")
check "a fallback of its own id, on email" test -n "$FB" -a "$FB" != "$R3"
wait_status D "$FB" sent 15 || true
check "the fallback: sent by e-mail" test "$(rec D "$FB" 'channel, kind, status')" = "email|session|sent"
waitfor "[ \$(jsonl_count '$SMTP_LOG' '\"ana@example.org\" in r[\"rcpt_tos\"]') -ge 1 ]" 10 || true
check "the SMTP peer got it" test "$(jsonl_count "$SMTP_LOG" '"ana@example.org" in r["rcpt_tos"]')" = 1
check "the same report again: taken" test "$(curl -s -o /dev/null -w '%{http_code}' "$DLR")" = 200
check "a wrong key: 403" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/sms/sms/status?key=nope&id=$R2&type=16")" = 403
check "... and nothing changed" test "$(rec D "$R2" receipt)" = delivered
# the phone comes back: the queued reminder is delivered late, and smsbox
# reports it; a final receipt is never replaced by a later one
sh "$RIG_DIR/kannel.sh" fakesmsc "$KANNEL_DIR" >/dev/null
track "$(cat "$KANNEL_DIR/fakesmsc.pid")"
waitfor "[ \$(grep -c 'id=$R3&type=1' '$KANNEL_DIR/smsbox.log') -ge 1 ]" 20 || true
check "the late delivery report came" test "$(grep -c "id=$R3&type=1" "$KANNEL_DIR/smsbox.log")" -ge 1
sleep 0.5
check "... and changed nothing: still failed" test "$(rec D "$R3" receipt)" = failed
check "one fallback, one mail, whatever came twice" test "$(sql D "SELECT count(*) FROM reminder WHERE origin IS NOT NULL AND kind = 'session'")" = 1 -a \
	"$(jsonl_count "$SMTP_LOG")" = 1

ctl D metrics >"$T/metrics.txt"
add_log "$T/metrics.txt"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics.txt"; }
check "metrics: replies by intent" test "$(metric 'iopd_replies_total{intent="stop"}') $(metric 'iopd_replies_total{intent="help"}') $(metric 'iopd_replies_total{intent="confirm"}')" = "1 1 1"
check "metrics: the stranger" test "$(metric iopd_replies_unknown_sender_total)" = 1
# delivered: the answers to HELP, STOP, START and C, and the reminder after
check "metrics: receipts by state" test "$(metric 'iopd_receipts_total{state="failed"}')" = 1 -a \
	"$(metric 'iopd_receipts_total{state="delivered"}')" = 5 -a "$(metric iopd_receipts_ignored_total)" = 1
check "metrics: the report that came twice, counted once" test "$(metric iopd_callbacks_duplicate_total)" = 1
check "metrics: refused, by cause" test "$(metric 'iopd_callbacks_refused_total{cause="key"}')" = 1

ctl D --json agenda --from 2026-12-01T16:00:00Z --to 2026-12-01T18:00:00Z >"$T/agenda-live.jsonl"
add_log "$T/agenda-live.jsonl"
check "agenda: receipts and what the patient said" test "$(jsonl_field "$T/agenda-live.jsonl" \
	'r["id"] + ":" + r["status"] + ":" + r.get("receipt", "-") + ":" + r.get("reply", "-")' | sort | tr '\n' ' ')" = \
	"$(printf '%s\n' "$R1:skipped:opt-out:-:-" "$R2:sent:delivered:reschedule" "$R3:sent:failed:-" | sort | tr '\n' ' ')"

# --- history, privacy ------------------------------------------------------------
ctl D --json history p-ana >"$T/history.jsonl"
add_log "$T/history.jsonl"
check "history: the receipt and the confirmation" test "$(jsonl_count "$T/history.jsonl" "r.get(\"id\") == \"$R2\" and r.get(\"receipt\") == \"delivered\" and r.get(\"reply\") == \"reschedule\"")" -ge 1
check "history: the replies' intents" test "$(jsonl_field "$T/history.jsonl" 'r["reply"]' '"at" in r and "kind" not in r and "reply" in r' | tr '\n' ' ')" = "help stop start confirm reschedule "
check "no text in the ledger" test "$(sqlite3 "$D_DB" .dump | grep -ciE 'stop\.|thank you|appointment reminders' || true)" = 0
check "no text or number in the log" test "$(grep -cE '5551230001|Thank you|Appointment reminders' "$D_LOG" || true)" = 0
stop_iopd D
check "SIGTERM: exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$D_LOG"
finish
