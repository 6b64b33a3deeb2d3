#!/bin/bash
# pg_twoway_instances.sh - SPEC 8 and 9: what a gateway calls back to any
# instance sharing the PostgreSQL ledger holds as if it had reached the
# instance that sent.
#
# Instances a and b, one configuration (each its own inbound listener), a
# Twilio-like gateway and a staff webhook.  a sends the reminders due at
# 17:00; b starts afterwards, so it never sent (nor claimed) any of them.
#   * a "failed" status callback for a's reminder, posted to b: recorded on
#     it, and staff told once; the same callback posted to a afterwards
#     counts as a duplicate (no second notice);
#   * "delivered" posted to a, then again to b: recorded once (b counts a
#     duplicate, its receipt time is a's);
#   * a patient's C posted to b: recorded as the response to a's reminder
#     (and the reply row names it);
#   * a reply (Twilio MessageSid) posted to a, then the gateway's retry to
#     b: taken once (b counts a duplicate, not a reply);
#   * iopctl retry and cancel through b of a reminder a holds (waiting to
#     retry): refused, saying another instance holds it (nothing changed);
#   * kill -9 of a while its staff notice hangs at the webhook: after a's
#     lease b sends that notice, with the same id, and takes over a's
#     reminder waiting to retry, which iopctl cancel through b then cancels.
set -eu
export IOPD_TEST_LEDGER=postgresql
[ -z "${FAKETIME:-}" ] || exit 77   # several instances: absolute clocks, the server's is real
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "pg_twoway_instances.sh: daemon_lib.sh not found" >&2; exit 99; }
for m in sms webhook; do
	[ -f "$IOPD_PLUGIN_DIR/$m.so" ] || skip_all "no $m.so in $IOPD_PLUGIN_DIR"
done

export PG_LEASE=4s
start_twilio
start_webhook STAFF
secret_file tw.tok "$TWILIO_TOKEN"
secret_file ehr.key 'staff-hmac-key'
conf() { # NAME PORT
	{
		iopd_daemon_block "$1" 'clinic_phone = "+15550009999";'
		cat <<EOF2
channels = (
  { name = "sms"; module = "sms"; api = "twilio"; url = "$TWILIO_API"; account = "$TWILIO_SID";
    token_file = "$T/tw.tok"; from = "+15550001111"; timeout = "5s"; },
  { name = "ehr"; module = "webhook"; url = "$STAFF_URL/staff"; token_file = "$T/ehr.key"; } );
inbound = { listen = "127.0.0.1:$2"; public_url = "http://127.0.0.1:$2"; staff = "ehr"; };
templates = { session = { sms = "Hi {first_name}."; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = ( { id = "g"; name = "G"; kind = "IOP"; timezone = "UTC"; weeks = 1;
  sessions = ( { id = "s"; type = "group"; days = ["tue"]; start = "18:00"; duration = "1h"; } );
  reminders = ( { before = "1h"; channels = ["sms"]; } ); } );
patients = (
  { id = "p-1"; first_name = "Una"; phone = "+15557770001"; program = "g"; start = "2026-12-01"; },
  { id = "p-2"; first_name = "Dos"; phone = "+15557770002"; program = "g"; start = "2026-12-01"; },
  { id = "p-3"; first_name = "Tres"; phone = "+15557770003"; program = "g"; start = "2026-12-01"; },
  { id = "p-4"; first_name = "Cuatro"; phone = "+15557770004"; program = "g"; start = "2026-12-01"; },
  { id = "p-5"; first_name = "Cinco"; phone = "+15557770005"; program = "g"; start = "2026-12-01"; },
  { id = "p-6"; first_name = "Seis"; phone = "+15557700503"; program = "g"; start = "2026-12-01"; } );
EOF2
	} >"$T/$1.conf"
	chmod 600 "$T/$1.conf"
}
PA=$(free_port)
PB=$(free_port)
conf a "$PA"
conf b "$PB"
agenda_json "$T/a.conf" 2026-12-01T00:00:00Z 2026-12-02T00:00:00Z "$T/agenda.jsonl" 2>/dev/null
for i in 1 2 3 4 5 6; do
	printf -v "R$i" '%s' "$(agenda_id "$T/agenda.jsonl" "p-$i" sms)"
done

post() { # PORT PATH PARAM=VALUE...: "STATUS BODY"
	local port=$1
	shift
	"$PY" "$RIG_DIR/twilio_post.py" --listen "http://127.0.0.1:$port" --public "http://127.0.0.1:$port" \
		--token "$TWILIO_TOKEN" --path "$@"
}
status() { post "$1" "/sms/sms/status?id=$2" MessageSid="SM$2" MessageStatus="$3" ${4:+ErrorCode=$4}; }
reply() { post "$1" /sms/sms/reply From="$2" Body="$3" MessageSid="$4"; }
metric() { ctl "$1" metrics | sed -n "s/^$2 //p"; }
staff_failed() { jsonl_count "$STAFF_LOG" "'\"type\":\"failed\"' in (r['body'] or '') and '$1' in r['body']"; }

start_iopd A "$T/a.conf" '2026-12-01 16:59:57'
for i in 1 2 3 4 5; do
	r=R$i
	wait_status A "${!r}" sent 30 || true
done
check "a sent the five reminders" test "$(sql A "SELECT count(*) FROM outcome WHERE status = 'sent' AND instance = 'a'")" = 5
start_iopd B "$T/b.conf" '2026-12-01 17:00:10'

# --- a receipt for a's reminder, at b ---------------------------------------------
check "failed for a's reminder, posted to b: 200" test "$(status "$PB" "$R1" failed 30003)" = "200 <Response/>"
check "... recorded on the reminder" test "$(rec A "$R1" receipt)" = failed
check "... staff told, by b" waitfor "[ \"\$(staff_failed $R1)\" = 1 ]" 20
check "the same failed, posted to a: 200" test "$(status "$PA" "$R1" failed 30003)" = "200 <Response/>"
check "... a duplicate at a" test "$(metric A iopd_callbacks_duplicate_total)" = 1
sleep 2
check "... staff told once" test "$(staff_failed "$R1")" = 1
check "... one notice in the ledger" test "$(sql A "SELECT count(*) FROM reminder WHERE kind = 'notice' AND printf('%016x', origin) = '$R1'")" = 1

check "delivered, posted to a: 200" test "$(status "$PA" "$R2" delivered)" = "200 <Response/>"
check "... recorded" test "$(rec A "$R2" receipt)" = delivered
AT2=$(rec A "$R2" receipt_at)
sleep 1
check "the same delivered, posted to b: 200" test "$(status "$PB" "$R2" delivered)" = "200 <Response/>"
check "... counted once: a's receipt stays, b counts a duplicate" \
	test "$(rec A "$R2" receipt_at)" = "$AT2" -a "$(metric B 'iopd_receipts_total{state="delivered"}')" = 0 -a \
	"$(metric B iopd_callbacks_duplicate_total)" = 1

# --- replies at b ------------------------------------------------------------------
check "C from p-3, posted to b: 200" test "$(reply "$PB" +15557770003 C SMc3)" = "200 <Response/>"
check "... the response to a's reminder" test "$(rec A "$R3" response)" = confirm
check "... the reply names it" \
	test "$(sql A "SELECT printf('%016x', reminder) FROM reply WHERE patient = 'p-3'")" = "$R3"

check "C from p-4, posted to a: 200" test "$(reply "$PA" +15557770004 C SMc4)" = "200 <Response/>"
check "... the same reply again (the gateway's retry), posted to b: 200" \
	test "$(reply "$PB" +15557770004 C SMc4)" = "200 <Response/>"
check "... taken once: b counts a duplicate, no second reply" \
	test "$(metric B 'iopd_replies_total{intent="confirm"}')" = 1 -a "$(metric B iopd_callbacks_duplicate_total)" = 2
check "... one reply row" test "$(sql A "SELECT count(*) FROM reply WHERE patient = 'p-4'")" = 1

# --- iopctl through b, of a reminder a holds ------------------------------------------
check "p-6's reminder waits at a for a retry (its gateway answered 503)" \
	waitfor "[ \"\$(rec A '$R6' 'status, owner')\" = 'retry|a' ]" 20
OUT=$(ctl B retry "$R6" 2>&1) && RC=0 || RC=$?
check "iopctl retry through b: refused, held by another instance ($OUT)" \
	test "$RC" != 0 -a -n "$(grep 'held by another instance' <<<"$OUT")"
OUT=$(ctl B cancel "$R6" --reason test 2>&1) && RC=0 || RC=$?
check "iopctl cancel through b: not cancelled, held by another instance ($OUT)" \
	test "$RC" != 0 -a -n "$(grep 'not cancelled: .*held by another instance' <<<"$OUT")"
check "... a holds it still" waitfor "[ \"\$(rec A '$R6' owner)\" = a ]" 5

# --- kill -9 of a while its staff notice hangs ------------------------------------
curl -fsS -X POST "$STAFF_URL/__control?delay=100&times=1" >/dev/null
check "failed for p-5's reminder, posted to a: 200" test "$(status "$PA" "$R5" failed 30003)" = "200 <Response/>"
NOTICE=$(sql A "SELECT printf('%016x', id) FROM reminder WHERE kind = 'notice' AND printf('%016x', origin) = '$R5'")
check "a's notice to staff: in flight at the webhook" \
	waitfor "[ \"\$(rec A '$NOTICE' 'status, owner')\" = 'inflight|a' ] && [ \"\$(staff_failed $R5)\" -ge 1 ]" 20
kill -9 "$A_PID"
check "after a's lease, b sends it with the same id" waitfor "[ \"\$(rec B '$NOTICE' 'status, owner')\" = 'sent|b' ]" 40
check "... through the webhook, with that id (a's, hanging, and b's)" \
	test "$(jsonl_count "$STAFF_LOG" "r['idempotency_key'] == '$NOTICE'")" = 2
check "... once by b" test "$(sql B "SELECT count(*) FROM outcome WHERE status = 'sent' AND printf('%016x', id) = '$NOTICE'")" = 1
# b takes it over at once; its row names b only when b's claim wins, at the
# retry a had set (a backoff with jitter: 72 s after a's 5th attempt)
check "a's reminder waiting to retry: b's now" \
	waitfor "grep -q 'resuming a reminder left retry .*reminder $R6' \"\$B_LOG\"" 20
OUT=$(ctl B cancel "$R6" --reason test 2>&1) && RC=0 || RC=$?
check "iopctl cancel through b: cancelled ($OUT)" test "$RC" = 0
check "... recorded skipped" waitfor "[ \"\$(rec B '$R6' status)\" = skipped ]" 10

stop_iopd B
check "b: SIGTERM, exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$A_LOG" "$B_LOG"
finish
