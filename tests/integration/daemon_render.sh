#!/bin/bash
# daemon_render.sh - templates rendered by the real daemon (SPEC 4.1) and the
# privacy of its logs (SPEC 6, 7), through the console channel (stdout) and
# an sms channel (Twilio-shaped sink), under a fake clock.
#
# Proves: {date} {day} {time} in the PATIENT's zone (New York, Tokyo across
# midnight, Kathmandu +05:45), {location}, {label} (medication), {clinic_phone}
# (aftercare), {first_name}; the language variant used for a patient whose
# language matches, field by field: a variant without `sms` falls back to the
# template's own sms, a language without a variant to the template; {day}
# and {time} in the patient's language whatever text carries them (Spanish
# "mié 2 dic" "03:00", French "mar. 1 déc." "23:45", from locales-all).  The e-mail
# subject default "Reminder" is proven in daemon_smtp.sh (it needs an e-mail).
# Logs: at info level (the default) no phone number, no e-mail address, no
# message text, no first name; at debug level at most the last two digits of
# a phone number.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "daemon_render.sh: daemon_lib.sh not found" >&2; exit 99; }
for m in console sms; do
	[ -f "$IOPD_PLUGIN_DIR/$m.so" ] || skip_all "no $m.so in $IOPD_PLUGIN_DIR"
done

start_twilio
start_twilio TWV
secret_file tw.tok "$TWILIO_TOKEN"
secret_file twv.tok "$TWV_TOKEN"
START='2026-12-01 16:59:56'

conf() { # NAME TWILIO-PREFIX TOKENFILE [daemon extra]
	local api=${2}_API sid=${2}_SID
	iopd_daemon_block "$1" "clinic_phone = \"+13125559999\"; ${4:-}"
	echo "channels = ( { name = \"term\"; module = \"console\"; },
  { name = \"sms\"; module = \"sms\"; api = \"twilio\"; url = \"${!api}\"; account = \"${!sid}\";
    token_file = \"$T/$3\"; from = \"+13125551111\"; timeout = \"5s\"; } );"
	cat <<'EOF'
templates = {
  session = { sms = "Hi {first_name}: {date} ({day}) at {time}, {location}.";
              es = { sms = "Hola {first_name}: {date} ({day}) a las {time}, {location}."; }; };
  visit = { sms = "Visit for {first_name} on {day} at {time}.";
            email_subject = "Visit";
            es = { email_subject = "Visita"; }; };
  medication = { sms = "Time for your {label}, {first_name} ({time})."; };
  aftercare = { sms = "Checking in, {first_name}. Call {clinic_phone} any time."; };
};
programs = (
  { id = "prog"; name = "Program"; kind = "IOP"; timezone = "UTC"; weeks = 1;
    sessions = ( { id = "grp"; type = "group"; days = ["tue"]; start = "18:00"; duration = "1h"; location = "Room 2, 3rd floor"; } );
    reminders = ( { before = "1h"; channels = ["term", "sms"]; } ); },
  { id = "visits"; name = "Visits"; kind = "OP"; timezone = "UTC"; weeks = 1;
    sessions = ( { id = "v"; type = "individual"; days = ["tue"]; start = "18:00"; duration = "1h"; } );
    reminders = ( { before = "1h"; channels = ["term"]; template = "visit"; } ); },
  { id = "after"; name = "After"; kind = "OP"; timezone = "UTC"; weeks = 1;
    sessions = ( { id = "x"; type = "group"; days = ["mon"]; start = "09:00"; duration = "1h"; } );
    reminders = ( { before = "1h"; channels = ["term"]; } );
    aftercare = { at = "17:00"; after = ["1d"]; channels = ["term"]; }; }
);
patients = (
  { id = "p-ny"; first_name = "Nora"; phone = "+17735553401"; email = "nora@example.org";
    timezone = "America/New_York"; program = "prog"; start = "2026-12-01"; },
  { id = "p-tokyo"; first_name = "Taro"; phone = "+17735553402"; email = "taro@example.org";
    timezone = "Asia/Tokyo"; language = "es"; program = "prog"; start = "2026-12-01"; },
  { id = "p-ktm"; first_name = "Kiran"; phone = "+17735553403"; email = "kiran@example.org";
    timezone = "Asia/Kathmandu"; language = "fr"; program = "prog"; start = "2026-12-01"; },
  { id = "p-visit"; first_name = "Vera"; phone = "+17735553404"; language = "es";
    timezone = "UTC"; program = "visits"; start = "2026-12-01"; },
  { id = "p-med"; first_name = "Mia"; phone = "+17735553405"; timezone = "Europe/Paris";
    program = "visits"; start = "2026-12-02";
    medications = ( { label = "evening tablet"; times = ["18:00"]; channels = ["term"]; from = "2026-12-01"; until = "2026-12-01"; } ); },
  { id = "p-after"; first_name = "Ada"; phone = "+17735553406"; timezone = "UTC";
    program = "after"; start = "2026-11-02"; discharge = "2026-11-30"; }
);
EOF
}
conf d TWILIO tw.tok >"$T/d.conf"
conf v TWV twv.tok 'log_level = "debug";' >"$T/v.conf"

agenda_json "$T/d.conf" 2026-12-01T17:00:00Z 2026-12-01T17:00:01Z "$T/agenda.jsonl"
add_log "$T/agenda.jsonl"
check "agenda: 9 reminders due 17:00Z" test "$(jsonl_count "$T/agenda.jsonl")" -eq 9
id() { agenda_id "$T/agenda.jsonl" "$@"; }

start_iopd D "$T/d.conf" "$START"
start_iopd V "$T/v.conf" "$START"
waitfor "[ \$(grep -c ' term ' '$D_OUT') -ge 6 ] && [ \$(jsonl_count '$TWILIO_LOG') -ge 3 ]" 10 || true
waitfor "[ \$(grep -c ' term ' '$V_OUT') -ge 6 ] && [ \$(jsonl_count '$TWV_LOG') -ge 3 ]" 5 || true

line() { # PATIENT KIND TEXT -> the exact console line
	echo "2026-12-01T17:00:00Z term $1 $2 $(id "$1" term "$2"): $3"
}
expect() { # MSG PATIENT KIND TEXT
	check "$1" grep -qxF "$(line "$2" "$3" "$4")" "$D_OUT"
}
expect "New York: date, day, 12-hour time in the patient's zone, location" p-ny session \
	"Hi Nora: 2026-12-01 (Tue Dec 1) at 1:00 PM, Room 2, 3rd floor."
expect "Tokyo (language es): the next day, after midnight, in Spanish, Spanish names" p-tokyo session \
	"Hola Taro: 2026-12-02 (mié 2 dic) a las 03:00, Room 2, 3rd floor."
expect "Kathmandu (+05:45; language fr, no such variant): the template's own text, French names" p-ktm session \
	"Hi Kiran: 2026-12-01 (mar. 1 déc.) at 23:45, Room 2, 3rd floor."
expect "language es, variant without sms: falls back to the template's sms" p-visit session \
	"Visit for Vera on mar 1 dic at 18:00."
expect "medication: {label}, time in the patient's zone (Paris)" p-med medication \
	"Time for your evening tablet, Mia (6:00 PM)."
expect "aftercare: {clinic_phone}" p-after aftercare \
	"Checking in, Ada. Call +13125559999 any time."
check "exactly 6 console lines" test "$(wc -l <"$D_OUT")" -eq 6
check "sms carries the same rendered texts" "$PY" - "$TWILIO_LOG" <<'EOF'
import json, sys
bodies = sorted((r["form"]["To"], r["form"]["Body"]) for r in map(json.loads, open(sys.argv[1], encoding="utf-8")))
assert bodies == [
  ("+17735553401", "Hi Nora: 2026-12-01 (Tue Dec 1) at 1:00 PM, Room 2, 3rd floor."),
  ("+17735553402", "Hola Taro: 2026-12-02 (mié 2 dic) a las 03:00, Room 2, 3rd floor."),
  ("+17735553403", "Hi Kiran: 2026-12-01 (mar. 1 déc.) at 23:45, Room 2, 3rd floor."),
], bodies
EOF
check "the debug daemon printed the same lines" cmp -s <(sort "$D_OUT") <(sort "$V_OUT")

# --- logs ---------------------------------------------------------------------------
stop_iopd D
check "info daemon: exit 0" test "$IOPD_RC" = 0
stop_iopd V
check "debug daemon: exit 0" test "$IOPD_RC" = 0
check "info log: sends are logged (the check below looks at something)" \
	test "$(grep -c '\] sent (attempt 1' "$D_LOG")" -eq 9
# (the gateway's message ids are random hex: "0123" may occur in one)
check "info log: no phone digits, address, name or text" \
	test "$(sed -E 's/SM[0-9a-f]{32}/SM/g' "$D_LOG" |
		grep -cE '0123|5550001111|@example|Nora|Taro|Kiran|Vera|Mia|Ada|Hi |Hola|Time for|Checking in|Room 2|tablet' || true)" -eq 0
check "debug log: more lines than info" test "$(wc -l <"$V_LOG")" -gt "$(wc -l <"$D_LOG")"
check "debug log: at most the last two digits of a phone number" "$PY" - "$V_LOG" "$T" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
# digits that are not the patient's: ids, Twilio sids, ports, paths
text = text.replace(sys.argv[2], "T")
text = re.sub(r"SM[0-9a-f]{32}|\b[0-9a-f]{16}\b|127\.0\.0\.1:[0-9]+|port [0-9]+", "X", text)
for n in range(1, 7):
    phone = "+177355534%02d" % n
    for k in range(3, len(phone)):
        assert phone[-k:] not in text, ("phone digits in the debug log", phone[-k:])
for bad in ("@example", "Nora", "Taro", "Hola", "Room 2", "Hi Nora"):
    assert bad not in text, bad
EOF
check "no sanitizer report" sanitizer_clean "$D_LOG" "$V_LOG"
finish
