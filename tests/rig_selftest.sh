#!/bin/bash
# Self-test of the integration-test rig (tests/lib.sh + tests/rig/*): start every
# peer on kernel-chosen loopback ports, send one message of each kind, check it
# arrived, stop everything and check nothing is left running.
# Automake-style: exit 0 pass, 1 fail, 77 skip (a required tool is missing).
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests" "${srcdir:-.}"; do
  # shellcheck source-path=SCRIPTDIR source=lib.sh
  if [ -f "$d/lib.sh" ]; then . "$d/lib.sh"; break; fi
done
[ -n "${RIG_DIR:-}" ] || { echo "rig_selftest: tests/lib.sh not found" >&2; exit 99; }

need curl openssl faketime "$PY"
need_pymod "$SYSPY" aiosmtpd
make_certs

# ------------------------------------------------------------------ start peers
start_webhook HOOK
start_webhook HOOKTLS --tls "$CERT" "$KEY"
start_twilio TWILIO
start_smtp SMTP
start_smtp SMTPTLS --tls "$CERT" "$KEY" --auth iopd:s3cret
start_notify NOTIFY
start_notify NOTIFYABS "@iopd-selftest-$$"
start_kannel KANNEL
ok "all peers started (hook :$HOOK_PORT, https :$HOOKTLS_PORT, twilio :$TWILIO_PORT," \
   "smtp :$SMTP_PORT, smtp+tls :$SMTPTLS_PORT, kannel base :$KANNEL_ADMIN_PORT)"

# ------------------------------------------------------------------ webhook
c=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
      -H 'Idempotency-Key: k-1' --data '{"event":"reminder","n":1}' "$HOOK_URL/hook")
check "webhook POST -> 200 ($c)" [ "$c" = 200 ]
check "webhook request logged with body and idempotency key" \
  [ "$(jsonl_count "$HOOK_LOG" 'r["path"] == "/hook" and r["body"] == "{\"event\":\"reminder\",\"n\":1}" and r["idempotency_key"] == "k-1"')" = 1 ]
c=$(curl -s -o /dev/null -w '%{http_code}' --data x "$HOOK_URL/status/503/hook")
check "webhook /status/503/ -> 503 ($c)" [ "$c" = 503 ]
curl -s -o /dev/null -X POST "$HOOK_URL/__control?status=500&times=1"
c=$(curl -s -o /dev/null -w '%{http_code}' "$HOOK_URL/a")
c="$c $(curl -s -o /dev/null -w '%{http_code}' "$HOOK_URL/b")"
check "webhook control queue: 500 once, then 200 ($c)" [ "$c" = "500 200" ]
c=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CERT" "$HOOKTLS_URL/tls")
check "https sink verified with the rig cert ($c)" [ "$c" = 200 ]
rc=0; curl -s -o /dev/null --cacert "$OTHER_CERT" "$HOOKTLS_URL/tls" || rc=$?
check "https sink fails verification against the other cert (curl rc $rc)" [ "$rc" = 60 ]
mapfile -t FT < <(faketime_env '2039-06-01 12:00:00')
c=$(env "${FT[@]}" curl -s -o /dev/null -w '%{http_code}' --cacert "$CERT" "$HOOKTLS_URL/tls2039")
check "rig cert still valid at a faked 2039 date ($c)" [ "$c" = 200 ]

# ------------------------------------------------------------------ Twilio shape
A="$TWILIO_SID:$TWILIO_TOKEN"
out=$(curl -s -w '\n%{http_code}' -u "$A" -H 'I-Twilio-Idempotency-Token: tw-1' \
  --data-urlencode To=+15551230001 --data-urlencode From=+15557654321 \
  --data-urlencode 'Body=Reminder: Termin morgen 09:00 ü' --data-urlencode ValidityPeriod=3600 \
  --data-urlencode "StatusCallback=$HOOK_URL/twilio-status" "$TWILIO_API")
check "twilio send -> 201 queued with SM sid" \
  grep -qE '"sid": "SM[0-9a-f]{32}", "status": "queued"' <<<"$out"
check "twilio reply code 201" [ "${out##*$'\n'}" = 201 ]
check "twilio form fields logged" [ "$(jsonl_count "$TWILIO_LOG" \
  'r["form"]["To"] == "+15551230001" and r["form"]["Body"].endswith("ü") and r["form"]["ValidityPeriod"] == "3600" and r["idempotency_key"] == "tw-1" and r["twilio"]["sid"].startswith("SM")')" = 1 ]
out=$(curl -s -w '\n%{http_code}' -u "$A" --data-urlencode To=+15551221610 \
  --data-urlencode From=+15557654321 --data-urlencode Body=x "$TWILIO_API")
check "twilio 21610 -> 400 with Twilio error JSON" \
  grep -qE '^\{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400\}$' <<<"${out%$'\n'*}"
check "twilio 21610 reply code 400" [ "${out##*$'\n'}" = 400 ]
hdr=$(curl -s -D - -o /dev/null -u "$A" --data-urlencode To=+15551220429 \
  --data-urlencode From=+15557654321 --data-urlencode Body=x "$TWILIO_API" | tr -d '\r')
check "twilio 20429 -> 429 with Retry-After" \
  grep -qzE 'HTTP/1.1 429 .*Retry-After: 1' <<<"$hdr"
c=$(curl -s -o /dev/null -w '%{http_code}' -u "$TWILIO_SID:wrong" -d To=1 "$TWILIO_API")
check "twilio wrong token -> 401 ($c)" [ "$c" = 401 ]

# ------------------------------------------------------------------ SMTP
printf 'From: iopd <iopd@example.test>\r\nTo: ops@example.test\r\nSubject: rig selftest\r\n\r\nhello\r\n' >"$T/msg.txt"
rc=0; curl -s --url "$SMTP_URL" --mail-from iopd@example.test --mail-rcpt ops@example.test \
  --upload-file "$T/msg.txt" || rc=$?
check "smtp plain: curl rc $rc" [ "$rc" = 0 ]
check "smtp plain: envelope logged" \
  [ "$(jsonl_count "$SMTP_LOG" 'r["rcpt_tos"] == ["ops@example.test"] and not r["tls"]')" = 1 ]
check "smtp plain: one file in the Maildir" [ "$(find "$SMTP_MAILDIR/new" -type f | wc -l)" = 1 ]
rc=0; curl -s --url "$SMTP_URL" --mail-from iopd@example.test --mail-rcpt rcpt550-x@example.test \
  --upload-file "$T/msg.txt" || rc=$?
check "smtp rcpt550- -> curl rc 55 ($rc)" [ "$rc" = 55 ]
rc=0; curl -s --url "$SMTPTLS_URL" --ssl-reqd --cacert "$CERT" --user iopd:s3cret \
  --mail-from iopd@example.test --mail-rcpt tls@example.test --upload-file "$T/msg.txt" || rc=$?
check "smtp STARTTLS+AUTH: curl rc $rc" [ "$rc" = 0 ]
check "smtp STARTTLS+AUTH: logged with tls and auth_user" \
  [ "$(jsonl_count "$SMTPTLS_LOG" 'r["tls"] and r["auth_user"] == "iopd" and r["rcpt_tos"] == ["tls@example.test"]')" = 1 ]
rc=0; curl -s --url "$SMTPTLS_URL" --ssl-reqd --cacert "$CERT" --user iopd:wrong \
  --mail-from iopd@example.test --mail-rcpt tls@example.test --upload-file "$T/msg.txt" || rc=$?
check "smtp bad password -> curl rc 67 ($rc)" [ "$rc" = 67 ]

# ------------------------------------------------------------------ sd_notify
send_notify() { # SOCKET MESSAGE -> prints sender pid
  "$PY" -c 'import os, socket, sys
a = sys.argv[1]; a = "\0" + a[1:] if a.startswith("@") else a
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(sys.argv[2].encode(), a)
print(os.getpid())' "$1" "$2"
}
spid=$(send_notify "$NOTIFY_SOCKET" $'READY=1\nSTATUS=selftest ready')
waitfor "[ \"\$(jsonl_count '$NOTIFY_LOG')\" = 1 ]" 5 || true
check "notify datagram received with sender pid" [ "$(jsonl_count "$NOTIFY_LOG" \
  "r['fields'] == ['READY=1', 'STATUS=selftest ready'] and r['pid'] == $spid")" = 1 ]
send_notify "$NOTIFYABS_SOCKET" 'WATCHDOG=1' >/dev/null
waitfor "[ \"\$(jsonl_count '$NOTIFYABS_LOG')\" = 1 ]" 5 || true
check "notify on abstract socket $NOTIFYABS_SOCKET" \
  [ "$(jsonl_field "$NOTIFYABS_LOG" 'r["fields"][0]')" = WATCHDOG=1 ]

# ------------------------------------------------------------------ faketime
mapfile -t FT < <(faketime_env '2026-12-01 17:59:50')
d=$(env "${FT[@]}" TZ=UTC date '+%F %T')
check "faketime_env starts the clock at 2026-12-01 17:59:50 ($d)" \
  grep -q '^2026-12-01 17:59:5[0-2]$' <<<"$d"

# A shell under the runner's libfaketime starts again with shared memory made
# by env(1) (the header of tests/lib.sh), which libfaketime names by env's PID.
# Stale pairs under the next PIDs, as faked processes that exec'd or were
# killed leave them in /dev/shm, must not leave the shell without one.
# (No fork from reading the last PID to the end of the loop: a fork would
# take one of those PIDs itself.)
planted=()
read -r max </proc/sys/kernel/pid_max
read -r last </proc/sys/kernel/ns_last_pid
set -C
for ((i = 1; i <= 300; i++)); do
  p=$(((last + i) % max))
  f=/dev/shm/sem.faketime_sem_$p
  { [ "$p" -ge 300 ] && ! [ -d "/proc/$p" ] && : >"$f"; } 2>/dev/null && planted+=("$f")
done
set +C
pair=$(_rig_ft_pair) || pair=
check "libfaketime memory made beside ${#planted[@]} stale pairs under the next PIDs ($pair)" \
  sh -c "[ -s '$(_rig_ft_file sem "${pair:-x y}")' ] && [ -e '$(_rig_ft_file shm "${pair:-x y}")' ]"
[ -z "$pair" ] || rm -f "$(_rig_ft_file sem "$pair")" "$(_rig_ft_file shm "$pair")"
for f in "${planted[@]}"; do [ -s "$f" ] || rm -f "$f"; done

# ------------------------------------------------------------------ Kannel
b=$(curl -s -G "$KANNEL_SENDSMS_URL" --data-urlencode "username=$KANNEL_USER" \
  --data-urlencode "password=$KANNEL_PASS" --data-urlencode from=12345 \
  --data-urlencode to=+15551230001 --data-urlencode 'text=rig selftest sms' \
  --data-urlencode dlr-mask=31 --data-urlencode "dlr-url=$HOOK_URL/dlr?id=st1&type=%d")
check "kannel sendsms GET accepted ($b)" [ "$b" = "0: Accepted for delivery" ]
waitfor "grep -q 'text rig selftest sms>' '$KANNEL_FAKESMSC_OUT'" 10 || true
check "fakesmsc received the SMS" grep -q 'Got message [0-9]*: <12345 +15551230001 text rig selftest sms>' "$KANNEL_FAKESMSC_OUT"
waitfor "[ \"\$(jsonl_count '$HOOK_LOG' 'r[\"query\"] == \"id=st1&type=1\"')\" = 1 ]" 10 || true
check "kannel delivery report (type 1) reached the webhook" \
  [ "$(jsonl_count "$HOOK_LOG" 'r["path"] == "/dlr" and r["query"] == "id=st1&type=1"')" = 1 ]
b=$(curl -s -H "X-Kannel-Username: $KANNEL_USER" -H "X-Kannel-Password: $KANNEL_PASS" \
  -H 'X-Kannel-From: 12345' -H 'X-Kannel-To: 15551230003' -H 'Content-Type: text/plain' \
  --data-binary 'rig post' "$KANNEL_SENDSMS_URL")
check "kannel sendsms POST accepted ($b)" [ "$b" = "0: Accepted for delivery" ]
waitfor "grep -q 'text rig post>' '$KANNEL_FAKESMSC_OUT'" 10 || true
check "fakesmsc received the POSTed SMS" grep -q 'text rig post>' "$KANNEL_FAKESMSC_OUT"

# ------------------------------------------------------------------ stop, no leftovers
ports="$HOOK_PORT $HOOKTLS_PORT $TWILIO_PORT $SMTP_PORT $SMTPTLS_PORT $KANNEL_ADMIN_PORT $KANNEL_SMSBOX_PORT $KANNEL_SMSC_PORT $KANNEL_SENDSMS_PORT"
rcs=
for v in HOOK HOOKTLS TWILIO SMTP SMTPTLS NOTIFY NOTIFYABS; do
  pid=${v}_PID
  stop_pid "${!pid}" 5
  rcs="$rcs $v=$STOP_RC"
done
check "sinks exit 0 on SIGTERM:$rcs" [ -z "$(tr ' ' '\n' <<<"$rcs" | grep -v '=0$' | grep .)" ]
t0=${EPOCHREALTIME:-0}
stop_all
echo "# stop_all took $(awk "BEGIN{printf \"%.2f\", ${EPOCHREALTIME:-0} - $t0}") s"
leftover=
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
  alive "$pid" || continue
  cwd=$(readlink "$p/cwd" 2>/dev/null) || cwd=
  if [ "${cwd#"$T"}" != "$cwd" ] || tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$T/"; then
    leftover="$leftover $pid:$(tr '\0' ' ' <"$p/cmdline" | cut -c1-60)"
  fi
done
check "no peer process left running${leftover:+:$leftover}" [ -z "$leftover" ]
busy=
for p in $ports; do
  rc=0; curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/" || rc=$?
  [ "$rc" = 7 ] || busy="$busy $p"
done
check "all peer ports closed${busy:+ (still open:$busy)}" [ -z "$busy" ]
check "notify socket file removed" [ ! -e "$NOTIFY_SOCKET" ]

finish
