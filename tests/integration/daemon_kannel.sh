#!/bin/bash
# daemon_kannel.sh - the real iopd with the sms plugin, api = "kannel", against
# a private Kannel (bearerbox + smsbox + fakesmsc) on loopback, fake clock.
#
# Proves (SPEC 4.1, 6; issue 3 "sms, api kannel"): reminders reach the fake
# SMSC at their due time with the text exactly as rendered (GSM 7-bit accents
# and a UCS-2 text with an emoji intact; the language variants chosen by the
# patient's language), recorded sent.  A bad sendsms password: never
# delivered, recorded failed on its one attempt with Kannel's reason (see the
# note below).  smsbox down: the reminder is retried and delivered once smsbox
# is back; one whose session starts while smsbox is still down is recorded
# expired and never reaches the SMSC, not even after smsbox returns.
#
# Note on the bad password: Kannel answers 403 "Authorization failed for
# sendsms", and SPEC 6 lists "other HTTP 4xx" as permanent: the sms plugin
# reports refused credentials as PERMANENT (gw_result_auth in
# plugins/common/gw.h, the same in every module).  So the reminder is recorded
# failed on its first attempt, with "Authorization failed" as the reason, and
# never retried; the refusal is logged once as an error.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "daemon_kannel.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/sms.so" ] || skip_all "no sms.so in $IOPD_PLUGIN_DIR"

start_kannel
SMSBOX=$(command -v smsbox || echo /usr/sbin/smsbox)
secret_file kannel.pw "$KANNEL_PASS"
secret_file wrong.pw 'not-the-password'

# Timeline (fake UTC): start 16:59:48; 16:59:52 three reminders due (two on
# the good channel, one on the bad); smsbox is then stopped; 16:59:56 two more
# due: "down" (session 18:00) and "soon" (session 17:00:00, 4 s later); once
# "soon" is recorded expired, smsbox comes back and "down" goes out on a retry.
START='2026-12-01 16:59:48'
DUE2=$(epoch '2026-12-01 16:59:56')
SOON_EVENT=$(epoch '2026-12-01 17:00:00')

k_channel() { # NAME PASSWORDFILE
	echo "{ name = \"$1\"; module = \"sms\"; api = \"kannel\"; url = \"$KANNEL_SENDSMS_URL\";
    user = \"$KANNEL_USER\"; token_file = \"$T/$2\"; from = \"12345\"; timeout = \"3s\"; }"
}
program() { # ID CHANNEL SESSION_START BEFORE   (UTC; Tuesday 2026-12-01)
	echo "{ id = \"$1\"; name = \"Program $1\"; kind = \"IOP\"; timezone = \"UTC\"; weeks = 1;
    sessions = ( { id = \"grp\"; type = \"group\"; days = [\"tue\"]; start = \"$3\"; duration = \"1h\"; } );
    reminders = ( { before = \"$4\"; channels = [\"$2\"]; } ); }"
}
patient() { # ID NAME PHONE LANG PROGRAM
	echo "{ id = \"$1\"; first_name = \"$2\"; phone = \"$3\"; language = \"$4\"; program = \"$5\"; start = \"2026-12-01\"; }"
}
{
	iopd_daemon_block d
	echo "channels = ( $(k_channel sms kannel.pw), $(k_channel smsbad wrong.pw) );"
	cat <<'EOF2'
templates = {
  session = { sms = "Hi {first_name}, see you {day} at {time}. Café ¿sì? Ñ €";
              es = { sms = "Hola {first_name}, nos vemos {day} a las {time}. ¡Mañana!"; };
              pl = { sms = "Cześć {first_name}, do zobaczenia {day} o {time} 😀 Zażółć"; }; };
  medication = { sms = "m"; }; aftercare = { sms = "a"; };
};
EOF2
	echo "programs = ( $(program main sms 18:00 3608s), $(program bad smsbad 18:00 3608s),
  $(program down sms 18:00 3604s), $(program soon sms 17:00 4s) );"
	echo "patients = (
  $(patient p-en Ana +12125550001 en main),
  $(patient p-es Benito +12125550002 es main),
  $(patient p-pl Celina +12125550003 pl main),
  $(patient p-bad Dora +12125550004 en bad),
  $(patient p-down Emil +12125550005 en down),
  $(patient p-soon Fay +12125550006 en soon) );"
} >"$T/iopd.conf"
chmod 600 "$T/iopd.conf"

agenda_json "$T/iopd.conf" 2026-12-01T00:00:00Z 2026-12-02T00:00:00Z "$T/agenda.jsonl"
add_log "$T/agenda.jsonl"
for p in en es pl bad down soon; do
	printf -v "ID_$p" '%s' "$(jsonl_field "$T/agenda.jsonl" 'r["id"]' "r[\"patient\"] == \"p-$p\"")"
done
check "agenda: due times as planned" test "$(jsonl_field "$T/agenda.jsonl" 'r["patient"] + "@" + r["due"]' | sort | tr '\n' ' ')" = \
	"p-bad@2026-12-01T16:59:52Z p-down@2026-12-01T16:59:56Z p-en@2026-12-01T16:59:52Z p-es@2026-12-01T16:59:52Z p-pl@2026-12-01T16:59:52Z p-soon@2026-12-01T16:59:56Z "

got() { grep -qF -- "$1" "$KANNEL_FAKESMSC_OUT"; }
not() { ! "$@"; }
start_iopd D "$T/iopd.conf" "$START"

# --- delivered, text exactly as rendered ---------------------------------------
wait_status D "$ID_en" sent 10 || true
wait_status D "$ID_es" sent 3 || true
wait_status D "$ID_pl" sent 3 || true
for p in en es pl; do
	id=ID_$p
	check "$p: sent once, gateway id kannel:<id>" test "$(rec D "${!id}" 'status, attempts, gateway_id')" = "sent|1|kannel:${!id}"
	check "$p: recorded at its due time" test "$(rec D "${!id}" 'updated - due')" -le 1
done
waitfor "[ \$(grep -c 'Got message' '$KANNEL_FAKESMSC_OUT') -ge 3 ]" 10 || true
check "en: the SMSC got the rendered text (GSM 7-bit accents intact)" \
	got "<12345 +12125550001 text Hi Ana, see you Tue Dec 1 at 6:00 PM. Café ¿sì? Ñ €>"
check "es: the SMSC got the Spanish variant, with Spanish day and month names" \
	got "<12345 +12125550002 text Hola Benito, nos vemos mar 1 dic a las 18:00. ¡Mañana!>"
check "pl: sent as UCS-2, decodes to the rendered text (Polish names, 24-hour clock)" "$PY" - "$KANNEL_FAKESMSC_OUT" \
	"Cześć Celina, do zobaczenia wto, 1 gru o 18:00 😀 Zażółć" <<'EOF2'
import re, sys
from urllib.parse import unquote_to_bytes
out = open(sys.argv[1], encoding="utf-8", errors="replace").read()
m = re.search(r"<12345 \+12125550003 ucs-2 (\S+)>", out)
assert m, out
got = unquote_to_bytes(m.group(1).replace("+", "%20")).decode("utf-16-be")   # fakesmsc: "+" is 0x20
assert got == sys.argv[2], (got, sys.argv[2])
EOF2

# --- smsbox down ------------------------------------------------------------------
SMSBOX_PID=$(cat "$KANNEL_DIR/smsbox.pid")
stop_pid "$SMSBOX_PID" 5
waitfor "! curl -s -o /dev/null --max-time 1 '$KANNEL_SENDSMS_URL'" 5 || fail "smsbox still answers"
check "smsbox stopped before the next reminders fall due" \
	"$PY" -c "import sys; sys.exit(not float('$(fake_now D)') < $DUE2 - 0.3)"
wait_status D "$ID_soon" expired 10 || true
check "soon: expired (smsbox down until its session began)" \
	grep -Eq '^expired\|[1-9][0-9]*\|.*curl 7' <<<"$(rec D "$ID_soon")"
check "soon: expired no later than its session" test "$(rec D "$ID_soon" "updated <= $SOON_EVENT")" = 1
check "down: retrying meanwhile (curl 7)" grep -Eq '^retry\|[1-9][0-9]*\|.*curl 7' <<<"$(rec D "$ID_down")"
( cd "$KANNEL_DIR" && exec "$SMSBOX" -v 1 "$KANNEL_DIR/kannel.conf" ) >>"$KANNEL_DIR/smsbox.stdout" 2>&1 </dev/null &
track $!
echo $! >"$KANNEL_DIR/smsbox.pid"
waitfor "[ \"\$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' '$KANNEL_SENDSMS_URL')\" != 000 ]" 15 ||
	fail "smsbox did not come back"
wait_status D "$ID_down" sent 35 || true
check "down: delivered once smsbox was back" grep -Eq '^sent\|([2-9]|[1-9][0-9]+)\|' <<<"$(rec D "$ID_down")"
waitfor "got '<12345 +12125550005 text Hi Emil'" 10 || true
check "down: the SMSC got it" got "<12345 +12125550005 text Hi Emil, see you Tue Dec 1 at 6:00 PM."
sleep 1
check "soon: never reached the SMSC" not got '+12125550006'
check "soon: still expired" test "$(rec D "$ID_soon" status)" = expired

# --- the bad password ---------------------------------------------------------------
check "bad password: failed on its one attempt, with Kannel's reason" \
	test "$(rec D "$ID_bad" 'status, attempts, reason')" = "failed|1|kannel HTTP 403: Authorization failed for sendsms"
check "bad password: one outcome, failed, not retried" \
	test "$(outcomes D "$ID_bad")" = "failed|1|kannel HTTP 403: Authorization failed for sendsms"
check "bad password: the failure is a warning with Kannel's reason" \
	test "$(grep -c "^<4>\[smsbad\] failed: kannel HTTP 403: Authorization failed for sendsms (patient p-bad, reminder $ID_bad)$" "$D_LOG")" -eq 1
check "bad password: never reached the SMSC" not got '+12125550004'
check "bad password: logged as an error, once" test "$(grep -c 'refused our credentials' "$D_LOG")" -eq 1 -a \
	"$(grep -c '^<3>\[smsbad\] sms/kannel: the gateway refused our credentials (kannel HTTP 403: Authorization failed for sendsms)' "$D_LOG")" -eq 1
check "bad password: neither password nor sendsms URL in the log" \
	test "$(grep -cE 'not-the-password|password=|sendsms\?' "$D_LOG" || true)" -eq 0
check "log: no phone number or text" \
	test "$(grep -cE '555123|Ana|Benito|Celina|Hola|see you' "$D_LOG" || true)" -eq 0
check "SMSC: exactly 4 messages" test "$(grep -c 'Got message' "$KANNEL_FAKESMSC_OUT")" -eq 4

stop_iopd D
check "SIGTERM: exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$D_LOG"
finish
