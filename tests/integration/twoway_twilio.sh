#!/bin/bash
# twoway_twilio.sh - two-way SMS with a Twilio-like peer (SPEC 8): the sink
# of tests/rig fakes Twilio's Messages API; tests/rig/twilio_post.py posts
# callbacks signed as Twilio signs them, to inbound.listen, signed for
# public_url (a TLS proxy would sit in between).
#
# Proves: every send carries StatusCallback (public_url, path, our id);
# correctly signed status callbacks are recorded on their reminders, and
# answered with an empty TwiML <Response/>; a callback delivered twice
# counts once; wrongly signed, unsigned, or signed for another URL: 403
# and nothing recorded; out-of-order receipts (a stage after a final
# state, a final state after another, delivered after read) change
# nothing; a receipt posted to another channel's path is not taken for
# it; undelivered with no fallback, and a permanent refusal, reach the
# staff webhook as {"type":"failed",...}; a permanent refusal on a channel
# with a fallback goes out once more by e-mail (an id of its own, recorded
# as the fallback of the first), unless the patient has no e-mail (staff
# told), and a fallback that fails too is told to staff; STOP on a channel whose gateway
# answers itself (replies = false) is recorded, told to staff, and not
# answered by iopd; YES while opted out by a reply starts again; HELP on a
# channel with replies = true is answered through the Messages API as a
# recorded send of kind "reply"; every malformed request class gets its
# status and changes nothing; while another process holds a lock on the
# ledger a callback is answered 503 and nothing of it is kept, and the
# gateway's retry once the lock is gone is taken (the ledger used to count
# as down until iopd had something of its own to write); kill -9 right
# after a callback was answered loses nothing it recorded.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "twoway_twilio.sh: daemon_lib.sh not found" >&2; exit 99; }
for m in sms webhook smtp; do
	[ -f "$IOPD_PLUGIN_DIR/$m.so" ] || skip_all "no $m.so in $IOPD_PLUGIN_DIR"
done

PORT=$(free_port)
LISTEN=http://127.0.0.1:$PORT
PUBLIC=https://iopd.example.org/twoway
start_twilio
start_webhook STAFF
make_certs
start_smtp --tls "$CERT" "$KEY" --auth iopd:s3cret-pw
secret_file smtp.pw 's3cret-pw'
secret_file tw.tok "$TWILIO_TOKEN"
secret_file ehr.key 'staff-hmac-key'

START='2026-12-01 16:59:56'
{
	iopd_daemon_block d 'clinic_phone = "+15550009999";'
	cat <<EOF2
channels = (
  { name = "sms"; module = "sms"; api = "twilio"; url = "$TWILIO_API"; account = "$TWILIO_SID";
    token_file = "$T/tw.tok"; from = "+15550001111"; timeout = "5s"; fallback = "email"; },
  { name = "email"; module = "smtp"; url = "$SMTP_URL"; from = "Clinic <noreply@clinic.example>";
    user = "iopd"; token_file = "$T/smtp.pw"; ca_file = "$CERT"; timeout = "5s"; },
  { name = "sms2"; module = "sms"; api = "twilio"; url = "$TWILIO_API"; account = "$TWILIO_SID";
    token_file = "$T/tw.tok"; from = "+15550002222"; timeout = "5s"; replies = true; },
  { name = "ehr"; module = "webhook"; url = "$STAFF_URL/staff"; token_file = "$T/ehr.key"; }
);
inbound = { listen = "127.0.0.1:$PORT"; public_url = "$PUBLIC/"; staff = "ehr"; };
templates = { session = { sms = "Hi {first_name}, see you {day} at {time}."; };
              medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = (
  { id = "one"; name = "One"; kind = "IOP"; timezone = "UTC"; weeks = 1;
    sessions = ( { id = "g"; type = "group"; days = ["tue"]; start = "18:00"; duration = "1h"; } );
    reminders = ( { before = "3600s"; channels = ["sms"]; }, { before = "3590s"; channels = ["sms"]; } ); },
  { id = "two"; name = "Two"; kind = "IOP"; timezone = "UTC"; weeks = 1;
    sessions = ( { id = "g"; type = "group"; days = ["tue"]; start = "18:00"; duration = "1h"; } );
    reminders = ( { before = "3600s"; channels = ["sms2"]; } ); },
  { id = "three"; name = "Three"; kind = "IOP"; timezone = "UTC"; weeks = 1;
    sessions = ( { id = "g"; type = "group"; days = ["tue"]; start = "18:00"; duration = "1h"; } );
    reminders = ( { before = "3600s"; channels = ["sms"]; } ); } );
patients = (
  { id = "p-1"; first_name = "Una"; phone = "+15557770001"; program = "one"; start = "2026-12-01"; },
  { id = "p-2"; first_name = "Dos"; phone = "+15557770002"; program = "two"; start = "2026-12-01"; },
  { id = "p-3"; first_name = "Tres"; phone = "+15557721211"; program = "two"; start = "2026-12-01"; },
  { id = "p-4"; first_name = "Cuatro"; phone = "+15558821211"; email = "cuatro@example.org";
    program = "three"; start = "2026-12-01"; },
  { id = "p-5"; first_name = "Cinco"; phone = "+15559921211"; email = "rcpt550-cinco@example.org";
    program = "three"; start = "2026-12-01"; },
  { id = "p-6"; first_name = "Seis"; phone = "+15556621211"; program = "three"; start = "2026-12-01"; } );
EOF2
} >"$T/iopd.conf"
chmod 600 "$T/iopd.conf"
agenda_json "$T/iopd.conf" 2026-12-01T00:00:00Z 2026-12-02T00:00:00Z "$T/agenda.jsonl"
R1=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["patient"] == "p-1" and r["lead"] == "3600s"')
R2=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["patient"] == "p-1" and r["lead"] == "3590s"')
R3=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["patient"] == "p-2"')
R4=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["patient"] == "p-3"')
R5=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["patient"] == "p-4"')
R6=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["patient"] == "p-5"')
R7=$(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["patient"] == "p-6"')

post() { # PATH PARAM=VALUE... [--sign-with X | --no-signature]: "STATUS BODY"
	local path=$1
	shift
	"$PY" "$RIG_DIR/twilio_post.py" --listen "$LISTEN" --public "$PUBLIC" --token "$TWILIO_TOKEN" \
		--path "$path" "$@"
}
status() { post "/sms/$1/status?id=$2" MessageSid="SM$2" MessageStatus="$3" ${4:+ErrorCode=$4} "${@:5}"; }
staff() { jsonl_count "$STAFF_LOG" "r[\"path\"] == \"/staff\" and $1"; }
sent_to() { jsonl_count "$TWILIO_LOG" "r[\"path\"].endswith(\"/Messages.json\") and r[\"form\"][\"To\"] == \"$1\""; }
state() { sql D "SELECT count(*) FROM callback; SELECT count(*) FROM reply; SELECT count(*) FROM reminder WHERE receipt IS NOT NULL; SELECT count(*) FROM override" | tr '\n' ' '; }

start_iopd D "$T/iopd.conf" "$START"
wait_status D "$R1" sent 15 || true
check "sent, with StatusCallback: public_url, the path, our id" test \
	"$(jsonl_field "$TWILIO_LOG" 'r["form"].get("StatusCallback")' "r[\"idempotency_key\"] == \"$R1\"")" = "$PUBLIC/sms/sms/status?id=$R1"

# --- status callbacks ------------------------------------------------------------
check "delivered: 200, empty TwiML" test "$(status sms "$R1" delivered)" = "200 <Response/>"
check "... as text/xml" test "$(status sms "$R1" delivered '' --ctype)" = "200 text/xml <Response/>"
check "delivered: recorded on the reminder" test "$(rec D "$R1" receipt)" = delivered
AT1=$(rec D "$R1" receipt_at)
sleep 1
check "the same callback again: 200" test "$(status sms "$R1" delivered)" = "200 <Response/>"
check "... counted once" test "$(rec D "$R1" receipt_at)" = "$AT1" -a \
	"$(ctl D metrics | sed -n 's/^iopd_callbacks_duplicate_total //p')" = 2 -a \
	"$(ctl D metrics | sed -n 's/^iopd_receipts_total{state="delivered"} //p')" = 1
S0=$(state)
check "signed with another token: 403" test "$(status sms "$R1" failed '' --sign-with not-the-token)" = "403 forbidden"
check "unsigned: 403" test "$(status sms "$R1" failed '' --no-signature)" = "403 forbidden"
check "signed for another URL: 403" test "$(post "/sms/sms/status?id=$R2" MessageSid=SMx MessageStatus=failed \
	--signed-path "/sms/sms/status?id=$R1")" = "403 forbidden"
check "refused callbacks recorded nothing" test "$(state)" = "$S0"

# --- out of order ------------------------------------------------------------------
check "a stage after the final state: taken" test "$(status sms "$R1" sent)" = "200 <Response/>"
check "a failure after delivered: taken" test "$(status sms "$R1" failed 30003)" = "200 <Response/>"
check "... the receipt stays delivered" test "$(rec D "$R1" 'receipt, receipt_at')" = "delivered|$AT1"
wait_status D "$R2" sent 20 || true
check "read before delivered: read" test "$(status sms "$R2" read)" = "200 <Response/>" -a "$(rec D "$R2" receipt)" = read
check "delivered after read: no change" test "$(status sms "$R2" delivered)" = "200 <Response/>" -a "$(rec D "$R2" receipt)" = read
check "a receipt posted to another channel's path: not taken for it" \
	test "$(status sms2 "$R2" failed)" = "200 <Response/>" -a "$(rec D "$R2" receipt)" = read

# --- undelivered without fallback; a permanent refusal -------------------------------
wait_status D "$R3" sent 20 || true
check "undelivered (30003): recorded with Twilio's code" test "$(status sms2 "$R3" undelivered 30003)" = "200 <Response/>" -a \
	"$(rec D "$R3" 'receipt, receipt_reason')" = "undelivered|twilio 30003"
waitfor "[ \$(staff '\"$R3\" in r[\"body\"]') -ge 1 ]" 10 || true
check "... no fallback: staff told it failed" test "$(jsonl_field "$STAFF_LOG" 'r["body"]' "\"$R3\" in r[\"body\"]")" = \
	"{\"type\":\"failed\",\"patient\":\"p-2\",\"channel\":\"sms2\",\"reminder\":\"$R3\",\"reason\":\"twilio 30003\"}"
wait_status D "$R4" failed 20 || true
waitfor "[ \$(staff '\"$R4\" in r[\"body\"]') -ge 1 ]" 10 || true
check "refused for good (21211): staff told" test "$(jsonl_field "$STAFF_LOG" 'r["body"]' "\"$R4\" in r[\"body\"]")" = \
	"{\"type\":\"failed\",\"patient\":\"p-3\",\"channel\":\"sms2\",\"reminder\":\"$R4\",\"reason\":\"twilio 21211: HTTP 400\"}"

# --- a permanent refusal on a channel with a fallback ------------------------------
fb_of() { sql D "SELECT printf('%016x', id) FROM reminder WHERE origin = (SELECT id FROM reminder WHERE printf('%016x', id) = '$1')"; }
wait_status D "$R5" failed 20 || true
FB5=$(fb_of "$R5")
check "refused for good: a fallback of its own id" test -n "$FB5" -a "$FB5" != "$R5"
wait_status D "$FB5" sent 15 || true
check "... sent by e-mail" test "$(rec D "$FB5" 'channel, kind, status')" = "email|session|sent"
check "... the SMTP peer got it" test "$(jsonl_count "$SMTP_LOG" '"cuatro@example.org" in r["rcpt_tos"]')" = 1
check "... and staff were not told" test "$(staff "\"$R5\" in r[\"body\"]")" = 0
FB6=$(fb_of "$R6")
wait_status D "$FB6" failed 20 || true
check "a fallback that fails too (SMTP 550): failed" test "$(rec D "$FB6" 'channel, status')" = "email|failed"
waitfor "[ \$(staff '\"$FB6\" in r[\"body\"]') -ge 1 ]" 10 || true
check "... staff told, of the fallback" test "$(jsonl_field "$STAFF_LOG" 'r["body"]' "\"$FB6\" in r[\"body\"]")" = \
	"{\"type\":\"failed\",\"patient\":\"p-5\",\"channel\":\"email\",\"reminder\":\"$FB6\",\"reason\":\"SMTP 550 5.1.1\"}"
wait_status D "$R7" failed 20 || true
waitfor "[ \$(staff '\"$R7\" in r[\"body\"]') -ge 1 ]" 10 || true
check "no e-mail, no fallback: staff told" test "$(sql D "SELECT count(*) FROM reminder WHERE kind = 'session' AND origin = (SELECT id FROM reminder WHERE printf('%016x', id) = '$R7')")" = 0 -a \
	"$(staff "\"$R7\" in r[\"body\"]")" = 1
check "notices are signed like SPEC 4.2" test "$(staff 'r["headers"].get("X-Iopd-Signature", "").startswith("sha256=") and r["headers"].get("X-Iopd-Timestamp")')" = 4

# --- replies ------------------------------------------------------------------------------
N=$(jsonl_count "$TWILIO_LOG")
check "STOP: 200, empty TwiML" test "$(post /sms/sms/reply From=+15557770001 To=+15550001111 Body=Stop MessageSid=SMin1)" = "200 <Response/>"
check "STOP: opted out, by a reply" test "$(sql D "SELECT channel, origin FROM override WHERE patient = 'p-1' ORDER BY channel" | tr '\n' ' ')" = "sms|reply sms2|reply "
waitfor "[ \$(staff '\"intent\\\":\\\"stop\" in r[\"body\"]') -ge 1 ]" 10 || true
check "STOP: staff told" test "$(staff '"\"intent\":\"stop\"" in r["body"] and "\"text\"" not in r["body"]')" = 1
sleep 1
check "STOP on a replies = false channel: iopd does not answer (Twilio does)" test "$(jsonl_count "$TWILIO_LOG")" = "$N"
check "HELP on a replies = true channel: 200" test "$(post /sms/sms2/reply From=+15557770002 To=+15550002222 Body=help MessageSid=SMin2)" = "200 <Response/>"
waitfor "[ \$(sent_to +15557770002) -ge 2 ]" 10 || true
check "HELP: answered through the Messages API" test "$(jsonl_field "$TWILIO_LOG" 'r["form"]["Body"]' 'r["form"] and r["form"].get("To") == "+15557770002" and r["form"].get("Body", "").startswith("Appointment")')" = \
	"Appointment reminders. For help call +15550009999. Reply STOP to opt out."
check "HELP: the answer is a recorded send of kind reply" test "$(sql D "SELECT kind, channel, status FROM reminder WHERE kind = 'reply'")" = "reply|sms2|sent"
check "an other text: 200" test "$(post /sms/sms2/reply From=+15557770002 Body='can we talk?' MessageSid=SMin3)" = "200 <Response/>"
waitfor "[ \$(staff '\"other\" in r[\"body\"]') -ge 1 ]" 10 || true
check "an other text: staff get it, with the text" test "$(staff '"\"intent\":\"other\"" in r["body"] and "\"text\":\"can we talk?\"" in r["body"]')" = 1
check "... which the ledger does not keep" test "$(sqlite3 "$D_DB" .dump | grep -c 'can we talk' || true)" = 0

# --- malformed requests: their status, and nothing changes -----------------------------
S1=$(state)
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "an unknown path: 404" test "$(code "$LISTEN/nothing")" = 404
check "an unknown channel: 404" test "$(post /sms/nochan/status MessageSid=SM1 MessageStatus=delivered)" = "404 not found"
check "a channel that takes no callbacks: 404" test "$(post /sms/ehr/status MessageSid=SM1 MessageStatus=delivered)" = "404 not found"
check "the wrong method: 404" test "$(code "$LISTEN/sms/sms/status?id=$R1")" = 404
check "signed, but no MessageSid: 400" test "$(post "/sms/sms/status?id=$R1" MessageStatus=delivered)" = "400 bad request"
check "signed, a bad id: 400" test "$(post "/sms/sms/status?id=nothex" MessageSid=SM9 MessageStatus=delivered)" = "400 bad request"
check "a reply without From: 400" test "$(post /sms/sms/reply Body=STOP MessageSid=SMin9)" = "400 bad request"
head -c 70000 /dev/zero | tr '\0' a >"$T/big"
check "a body over 64 KiB: 413" test "$(code -X POST -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$T/big" "$LISTEN/sms/sms/reply")" = 413
check "none of them changed anything" test "$(state)" = "$S1"
check "/healthz: ok" test "$(curl -s "$LISTEN/healthz")" = ok

# --- the ledger locked by another process: 503, nothing kept; the retry is taken ---------
# hold_lock.py DB UNLOCK LOCKED: BEGIN IMMEDIATE until UNLOCK appears (30 s at most);
# LOCKED appears once the lock is held
cat >"$T/hold_lock.py" <<'EOF'
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[3], "w").close()
end = time.monotonic() + 30
while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
    time.sleep(0.05)
db.execute("ROLLBACK")
EOF
S2=$(state)
spawn lock "$PY" "$T/hold_lock.py" "$D_DB" "$T/unlock" "$T/locked"
LOCK_PID=$SPAWN_PID
waitfor "[ -f '$T/locked' ]" 10
taken() { post /sms/sms2/reply From=+15557770002 Body=T MessageSid=SMin5; }
A1=$(taken)
A2=$(taken)
check "the ledger locked by another process: 503, try again ($A1)" \
	test "$A1" = "503 the ledger cannot record it now; try again"
check "... again while the lock lasts: 503 ($A2)" test "$A2" = "503 the ledger cannot record it now; try again"
touch "$T/unlock"
waitfor "! alive $LOCK_PID" 10
check "... nothing of it was recorded" test "$(state)" = "$S2"
check "the gateway's retry once the lock is gone: 200" waitfor "[ \"\$(taken)\" = '200 <Response/>' ]" 30
check "... recorded once" test "$(sql D "SELECT count(*) FROM reply WHERE intent = 'taken'")" = 1

# --- YES while opted out by a reply, then kill -9 at once --------------------------------
check "YES while opted out by a reply: 200" test "$(post /sms/sms/reply From=+15557770001 Body=YES MessageSid=SMin4)" = "200 <Response/>"
kill -9 "$D_PID"
wait "$D_PID" 2>/dev/null || true
check "kill -9 right after: the START is in the ledger" test "$(sql D "SELECT intent FROM reply WHERE patient = 'p-1' ORDER BY at, rowid" | tr '\n' ' ')" = "stop start " -a \
	-z "$(sql D "SELECT 1 FROM override WHERE patient = 'p-1'")"
start_iopd E "$T/iopd.conf" '2026-12-01 17:01:00'
ctl E --json history p-1 >"$T/history.jsonl"
add_log "$T/history.jsonl"
check "after the restart, history shows the receipt" test "$(jsonl_count "$T/history.jsonl" "r.get(\"id\") == \"$R1\" and r.get(\"receipt\") == \"delivered\"")" -ge 1
check "... read shows as delivered" test "$(jsonl_count "$T/history.jsonl" "r.get(\"id\") == \"$R2\" and r.get(\"receipt\") == \"delivered\"")" -ge 1
check "... and the replies" test "$(jsonl_field "$T/history.jsonl" 'r["reply"]' '"kind" not in r and "reply" in r' | tr '\n' ' ')" = "stop start "
ctl E --json agenda --patient p-1 --from 2026-12-01T16:00:00Z --to 2026-12-01T18:00:00Z >"$T/agenda-live.jsonl"
add_log "$T/agenda-live.jsonl"
check "agenda: each reminder with its receipt" test "$(jsonl_field "$T/agenda-live.jsonl" 'r["id"] + ":" + r.get("receipt", "-")' | sort | tr '\n' ' ')" = \
	"$(printf '%s\n' "$R1:delivered" "$R2:delivered" | sort | tr '\n' ' ')"
ctl E agenda --patient p-1 --from 2026-12-01T16:00:00Z --to 2026-12-01T18:00:00Z >"$T/agenda-live.txt"
check "agenda table: the receipt beside the status" test "$(grep -c 'sent (delivered)' "$T/agenda-live.txt")" = 2
ctl E metrics >"$T/metrics.txt"
check "metrics: refused by cause" grep -q '^iopd_callbacks_refused_total{cause="signature"} ' "$T/metrics.txt"
stop_iopd E
check "SIGTERM: exit 0" test "$IOPD_RC" = 0
check "no text or number in the log" test "$(grep -chE '555777000|can we talk|Appointment reminders' "$D_LOG" "$E_LOG" | paste -sd+ | bc)" = 0
check "no sanitizer report" sanitizer_clean "$D_LOG" "$E_LOG"
finish
