#!/bin/bash
# daemon_twilio.sh - the real iopd with the sms plugin, api = "twilio", against
# the loopback sink speaking Twilio's Messages API, under a fake clock.
#
# Proves (SPEC 4.1, 4.2, 6, 7; issue 3 "sms, api twilio"): a reminder is POSTed
# at its due time with basic auth, To/From/Body (the template rendered in the
# patient's zone; the "es" variant for language = "es"), ValidityPeriod
# (present, at most the seconds left until the session) and the id as
# I-Twilio-Idempotency-Token; the ledger records it sent with the SM sid.
# 21610 -> failed "opted out", and the opt-out is persistent: the patient's
# next reminder on that channel is skipped, `iopctl history` shows both, and
# after a restart the future reminders still show skipped:opt-out.
# 21211 -> failed (permanent).  20429 + Retry-After and a plain HTTP 429 +
# Retry-After: the retry waits at least that long, then delivered.
# Logs (info) show no phone number, name or text.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "daemon_twilio.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/sms.so" ] || skip_all "no sms.so in $IOPD_PLUGIN_DIR"

start_twilio
start_twilio TW429
start_twilio TWH429
secret_file tw.tok "$TWILIO_TOKEN"
secret_file tw429.tok "$TW429_TOKEN"
secret_file twh429.tok "$TWH429_TOKEN"
curl -s -o /dev/null -X POST "$TW429_URL/__control?twilio_error=20429&retry_after=4&times=1"
curl -s -o /dev/null -X POST "$TWH429_URL/__control?status=429&retry_after=3&times=1&body=slow%20down&ctype=text/plain"

START='2026-12-01 16:59:56'
DUE=$(epoch '2026-12-01 17:00:00')
EVENT=$(epoch '2026-12-01 18:00:00')

tw_channel() { # NAME SINKPREFIX TOKENFILE
	local sid=${2}_SID api=${2}_API
	echo "{ name = \"$1\"; module = \"sms\"; api = \"twilio\"; url = \"${!api}\"; account = \"${!sid}\";
    token_file = \"$T/$3\"; from = \"+13125551111\"; timeout = \"5s\"; }"
}
program() { # ID WEEKS CHANNEL RULES...  (sessions: Tue 13:00 in New York = 18:00Z)
	local id=$1 weeks=$2 ch=$3 rules='' r
	shift 3
	for r in "$@"; do rules="$rules${rules:+, }{ before = \"$r\"; channels = [\"$ch\"]; }"; done
	echo "{ id = \"$id\"; name = \"Program $id\"; kind = \"IOP\"; timezone = \"America/New_York\"; weeks = $weeks;
    sessions = ( { id = \"grp\"; type = \"group\"; days = [\"tue\"]; start = \"13:00\"; duration = \"1h\"; location = \"Sala 2\"; } );
    reminders = ( $rules ); }"
}
patient() { # ID NAME PHONE TZ LANG PROGRAM
	echo "{ id = \"$1\"; first_name = \"$2\"; phone = \"$3\"; timezone = \"$4\"; language = \"$5\";
    program = \"$6\"; start = \"2026-12-01\"; }"
}
{
	iopd_daemon_block d 'clinic_phone = "+13125559999";'
	echo "channels = ( $(tw_channel sms TWILIO tw.tok), $(tw_channel sms429 TW429 tw429.tok),
  $(tw_channel smsh429 TWH429 twh429.tok) );"
	cat <<'EOF'
templates = {
  session = { sms = "Hi {first_name}, reminder: {day} at {time} in {location}. Call {clinic_phone}.";
              es = { sms = "Hola {first_name}, recordatorio: {day} a las {time}, {location}. ¡Gracias!"; }; };
  medication = { sms = "m"; }; aftercare = { sms = "a"; };
};
EOF
	echo "programs = ( $(program main 1 sms 1h), $(program optout 2 sms 1h 3595s),
  $(program r429 1 sms429 1h), $(program h429 1 smsh429 1h) );"
	echo "patients = (
  $(patient p-en Alexander +12025550001 America/Los_Angeles en main),
  $(patient p-es Beatriz +12025550002 Pacific/Auckland es main),
  $(patient p-stop Carla +16175521610 UTC en optout),
  $(patient p-bad Dmitri +16175521211 UTC en main),
  $(patient p-429 Eve +12025550005 UTC en r429),
  $(patient p-h429 Farid +12025550006 UTC en h429) );"
} >"$T/iopd.conf"
chmod 600 "$T/iopd.conf"

agenda_json "$T/iopd.conf" 2026-12-01T00:00:00Z 2026-12-10T00:00:00Z "$T/agenda.jsonl"
add_log "$T/agenda.jsonl"
ID_en=$(agenda_id "$T/agenda.jsonl" p-en sms)
ID_es=$(agenda_id "$T/agenda.jsonl" p-es sms)
ID_bad=$(agenda_id "$T/agenda.jsonl" p-bad sms)
ID_429=$(agenda_id "$T/agenda.jsonl" p-429 sms429)
ID_h429=$(agenda_id "$T/agenda.jsonl" p-h429 smsh429)
mapfile -t STOP_IDS < <(jsonl_field "$T/agenda.jsonl" 'r["id"]' 'r["patient"] == "p-stop"')
check "agenda: p-stop has 4 reminders (2 rules x 2 weeks)" test "${#STOP_IDS[@]}" -eq 4
ID_stop1=${STOP_IDS[0]} ID_stop2=${STOP_IDS[1]}
check "agenda: p-stop's second reminder is due 5 s after the first" \
	test "$(jsonl_field "$T/agenda.jsonl" 'r["due"]' "r[\"id\"] == \"$ID_stop2\"")" = 2026-12-01T17:00:05Z

start_iopd D "$T/iopd.conf" "$START"

wait_status D "$ID_en" sent 8 || true
wait_status D "$ID_es" sent 2 || true
wait_status D "$ID_bad" failed 2 || true
wait_status D "$ID_stop1" failed 2 || true
wait_status D "$ID_stop2" skipped 8 || true
wait_status D "$ID_429" sent 10 || true
wait_status D "$ID_h429" sent 10 || true

# --- delivered, as Twilio sees it ----------------------------------------------
sid_en=$(jsonl_field "$TWILIO_LOG" 'r["twilio"]["sid"]' "r[\"idempotency_key\"] == \"$ID_en\"")
check "en: sent once, gateway id = the SM sid" \
	test "$(rec D "$ID_en" 'status, attempts, gateway_id')" = "sent|1|$sid_en"
check "en: the sid looks like Twilio's" grep -Eqx 'SM[0-9a-f]{32}' <<<"$sid_en"
check "es: sent" test "$(rec D "$ID_es" 'status, attempts')" = "sent|1"
check "requests: auth, form fields, rendered text, validity, timing" \
	"$PY" - "$TWILIO_LOG" "$(to_fake D 0)" "$DUE" "$EVENT" "$TWILIO_SID" <<EOF
import json, sys
log, off, due, event, sid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
recs = {}
for l in open(log, encoding="utf-8"):
    r = json.loads(l)
    recs.setdefault(r["idempotency_key"], []).append(r)
want = {
  "$ID_en": ("+12025550001", "Hi Alexander, reminder: Tue Dec 1 at 10:00 AM in Sala 2. Call +13125559999."),
  "$ID_es": ("+12025550002", "Hola Beatriz, recordatorio: mié 2 dic a las 07:00, Sala 2. ¡Gracias!"),
}
for rid, (to, body) in want.items():
    assert len(recs.get(rid, [])) == 1, (rid, recs.get(rid))
    r = recs[rid][0]
    assert r["method"] == "POST" and r["auth_user"] == sid and r["twilio"]["auth_ok"], r
    f = r["form"]
    assert set(f) == {"To", "From", "Body", "ValidityPeriod"}, f
    assert f["To"] == to and f["From"] == "+13125551111", f
    assert f["Body"] == body, (f["Body"], body)
    vp = int(f["ValidityPeriod"])
    rx = r["t"] + off                            # fake time the sink got it
    assert 0 < vp <= event - int(rx) and vp >= event - rx - 2, (vp, event - rx)
    assert due - 0.05 <= rx < due + 1.0, ("not at its due time", rx - due)
    assert r["reply"] == 201
# the failing ones were tried once each, and nothing else went out
for rid, n in (("$ID_bad", 1), ("$ID_stop1", 1), ("$ID_stop2", 0)):
    assert len(recs.get(rid, [])) == n, (rid, recs.get(rid))
assert sum(len(v) for v in recs.values()) == 4, {k: len(v) for k, v in recs.items()}
EOF

# --- 21610, 21211 ----------------------------------------------------------------
check "21610: failed, 'opted out'" \
	grep -Eq '^failed\|1\|opted out at the gateway: twilio 21610' <<<"$(rec D "$ID_stop1")"
check "21610: the next reminder of that patient on that channel is skipped (opt-out)" \
	test "$(rec D "$ID_stop2" 'status, attempts, reason')" = "skipped|0|opt-out"
check "21610: the opt-out is in the ledger" \
	test "$(sql D "SELECT count(*) FROM override WHERE kind = 'opt-out' AND patient = 'p-stop' AND channel = 'sms'")" = 1
ctl D history p-stop >"$T/history.txt" 2>&1 || true
add_log "$T/history.txt"
check "iopctl history: the failure, the opt-out and the skip" "$PY" - "$T/history.txt" "$ID_stop1" "$ID_stop2" <<'EOF'
import sys
text = open(sys.argv[1]).read()
lines = text.splitlines()
assert any(sys.argv[2] in l and " failed " in l and "21610" in l for l in lines), text
assert any(sys.argv[3] in l and " skipped " in l and "opt-out" in l for l in lines), text
assert any("opted out of sms" in l for l in lines), text
EOF
check "21211: failed, permanent, with Twilio's code" \
	grep -Eq '^failed\|1\|twilio 21211' <<<"$(rec D "$ID_bad")"

# --- 20429 and HTTP 429 with Retry-After ------------------------------------------
check "20429: sent on attempt 2" test "$(rec D "$ID_429" 'status, attempts')" = "sent|2"
check "HTTP 429: sent on attempt 2" test "$(rec D "$ID_h429" 'status, attempts')" = "sent|2"
gap() { # LOG ID -> seconds between the first two requests
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
t = sorted(json.loads(l)["t"] for l in open(sys.argv[1]) if json.loads(l)["idempotency_key"] == sys.argv[2])
print("%.3f" % (t[1] - t[0]) if len(t) == 2 else "none")
EOF
}
g1=$(gap "$TW429_LOG" "$ID_429")
g2=$(gap "$TWH429_LOG" "$ID_h429")
check "20429 + Retry-After: 4: the retry waited $g1 s" "$PY" -c "import sys; sys.exit(not 3.95 <= float('$g1') < 7)"
check "HTTP 429 + Retry-After: 3: the retry waited $g2 s" "$PY" -c "import sys; sys.exit(not 2.95 <= float('$g2') < 6)"
check "20429: first reply was Twilio's 20429" \
	test "$(jsonl_field "$TW429_LOG" 'r["twilio"]["error_code"]' "r[\"idempotency_key\"] == \"$ID_429\"" | head -n 1)" = 20429

# --- privacy of the logs -----------------------------------------------------------
check "log: no phone number, name or text at info level" \
	test "$(grep -cE '555765|5557621|Alexander|Beatriz|Carla|Hola|recordatorio|reminder:' "$D_LOG" || true)" -eq 0

# --- the opt-out survives a restart --------------------------------------------------
stop_iopd D
check "SIGTERM: exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$D_LOG"
mv "$D_LOG" "$T/D.first.log"
start_iopd D "$T/iopd.conf" '2026-12-01 17:00:20'
ctl D agenda --patient p-stop --from 2026-12-08T00:00:00Z --to 2026-12-09T00:00:00Z >"$T/agenda2.txt" 2>&1 || true
add_log "$T/agenda2.txt"
check "after a restart: p-stop's next week is skipped:opt-out on sms" \
	test "$(grep -c 'skipped:opt-out' "$T/agenda2.txt")" -eq 2
ctl D history p-stop >"$T/history2.txt" 2>&1 || true
check "after a restart: history still shows the opt-out" grep -q "opted out of sms" "$T/history2.txt"
stop_iopd D
check "second run: exit 0, no sanitizer report" test "$IOPD_RC" = 0 -a -z "$(grep -lE 'Sanitizer|runtime error:' "$D_LOG" || true)"
check "nothing more was sent" test "$(jsonl_count "$TWILIO_LOG")" -eq 4
finish
