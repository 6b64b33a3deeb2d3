#!/bin/bash
# daemon_smtp.sh - the real iopd with the smtp plugin against the loopback
# SMTP sink (STARTTLS required, AUTH required), under a fake clock.
#
# Proves (SPEC 4.1, 4.2, 6, 7; issue 3 "smtp"): at its due time, over
# STARTTLS (the relay's certificate verified against the channel's ca_file)
# and after AUTH, one RFC 5322 message per reminder: Date (the fake send
# time), Message-ID, From, To, an RFC 2047 Subject that decodes to the
# rendered subject, UTF-8 text/plain body as rendered in the patient's zone;
# the "es" variant field by field (its subject, the main body); a template
# without email fields gets the subject "Reminder" and the sms text as body;
# recorded sent with the relay's queue id.  451 at RCPT -> retried; 550 at
# RCPT -> failed; 554 after DATA -> failed; a relay whose certificate is not
# the trusted one -> retried (transient) and logged, nothing sent to it.
# No address, name or text in the logs.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "daemon_smtp.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/smtp.so" ] || skip_all "no smtp.so in $IOPD_PLUGIN_DIR"

make_certs
start_smtp --tls "$CERT" "$KEY" --auth iopd:s3cret-pw
start_smtp OTHER --tls "$OTHER_CERT" "$OTHER_KEY" --auth iopd:s3cret-pw
secret_file smtp.pw 's3cret-pw'

START='2026-12-01 16:59:56'
DUE=$(epoch '2026-12-01 17:00:00')

s_channel() { # NAME URL
	echo "{ name = \"$1\"; module = \"smtp\"; url = \"$2\"; from = \"Clinic Reminders <noreply@clinic.example>\";
    user = \"iopd\"; token_file = \"$T/smtp.pw\"; ca_file = \"$CERT\"; timeout = \"5s\"; }"
}
program() { # ID CHANNEL [TEMPLATE]
	echo "{ id = \"$1\"; name = \"Program $1\"; kind = \"IOP\"; timezone = \"UTC\"; weeks = 1;
    sessions = ( { id = \"grp\"; type = \"group\"; days = [\"tue\"]; start = \"18:00\"; duration = \"1h\"; location = \"Room 2\"; } );
    reminders = ( { before = \"1h\"; channels = [\"$2\"]; template = \"${3:-session}\"; } ); }"
}
patient() { # ID NAME EMAIL TZ LANG PROGRAM
	echo "{ id = \"$1\"; first_name = \"$2\"; email = \"$3\"; timezone = \"$4\"; language = \"$5\";
    program = \"$6\"; start = \"2026-12-01\"; }"
}
{
	iopd_daemon_block d 'clinic_phone = "+13125559999";'
	echo "channels = ( $(s_channel email "$SMTP_URL"), $(s_channel emailother "$OTHER_URL") );"
	cat <<'EOF'
templates = {
  session = { sms = "Hi {first_name}, see you {day} at {time}.";
              email_subject = "Your appointment on {day} — café ✓";
              email_body = "Hello {first_name},\nsee you {date} at {time} in {location}.\nCall {clinic_phone}. Ünïcödé ✓\n.\nA line after a lone dot.";
              es = { email_subject = "Su cita: {day} {time}"; }; };
  plain = { sms = "Hi {first_name}, a reminder from the clinic."; };
  medication = { sms = "m"; }; aftercare = { sms = "a"; };
};
EOF
	echo "programs = ( $(program main email), $(program plain email plain), $(program other emailother) );"
	echo "patients = (
  $(patient p-en Ana ana@example.org America/Denver en main),
  $(patient p-es Beatriz beatriz@example.org Europe/Madrid es main),
  $(patient p-plain Carl carl@example.org UTC en plain),
  $(patient p-451 Dan rcpt451-dan@example.org UTC en main),
  $(patient p-550 Eva rcpt550-eva@example.org UTC en main),
  $(patient p-554 Finn data554-finn@example.org UTC en main),
  $(patient p-tls Gus gus@example.org UTC en other) );"
} >"$T/iopd.conf"
chmod 600 "$T/iopd.conf"

agenda_json "$T/iopd.conf" 2026-12-01T00:00:00Z 2026-12-02T00:00:00Z "$T/agenda.jsonl"
add_log "$T/agenda.jsonl"
for p in en es plain 451 550 554 tls; do
	printf -v "ID_$p" '%s' "$(jsonl_field "$T/agenda.jsonl" 'r["id"]' "r[\"patient\"] == \"p-$p\"")"
done

start_iopd D "$T/iopd.conf" "$START"
wait_status D "$ID_en" sent 10 || true
wait_status D "$ID_es" sent 3 || true
wait_status D "$ID_plain" sent 3 || true
wait_status D "$ID_550" failed 3 || true
wait_status D "$ID_554" failed 3 || true
waitfor "[ \"\$(rec D $ID_451 attempts)\" -ge 2 ] && [ \"\$(rec D $ID_tls attempts)\" -ge 2 ]" 12 || true

for p in en es plain; do
	id=ID_$p
	key=$(jsonl_field "$SMTP_LOG" 'r["key"]' "r[\"rcpt_tos\"] == [\"$(sed -n "s/.*id = \"p-$p\"; first_name = \"[^\"]*\"; email = \"\([^\"]*\)\".*/\1/p" "$T/iopd.conf")\"]")
	check "$p: sent once, gateway id = the relay's queue id" \
		test "$(rec D "${!id}" 'status, attempts, gateway_id')" = "sent|1|$key"
done
check "messages: TLS, AUTH, envelope, headers, RFC 2047 subject, UTF-8 body, due time" \
	"$PY" - "$SMTP_LOG" "$(to_fake D 0)" "$DUE" "$ID_en" "$ID_es" "$ID_plain" <<'EOF'
import email, email.policy, email.utils, json, re, sys
from email.header import decode_header, make_header
log, off, due = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
ids = dict(zip(("en", "es", "plain"), sys.argv[4:7]))
recs = {r["rcpt_tos"][0]: r for r in map(json.loads, open(log, encoding="utf-8"))}
assert len(recs) == 3, sorted(recs)
body_main = "Hello {n},\nsee you 2026-12-01 at {t} in Room 2.\nCall +13125559999. Ünïcödé ✓\n.\nA line after a lone dot."
want = {
  "ana@example.org": ("en", "Your appointment on Tue Dec 1 — café ✓", body_main.format(n="Ana", t="11:00 AM")),
  "beatriz@example.org": ("es", "Su cita: mar 1 dic 19:00", body_main.format(n="Beatriz", t="19:00")),
  "carl@example.org": ("plain", "Reminder", "Hi Carl, a reminder from the clinic."),
}
for to, (name, subject, body) in want.items():
    r = recs[to]
    assert r["tls"] is True and r["auth_user"] == "iopd", r
    assert r["mail_from"] == "noreply@clinic.example" and r["rcpt_tos"] == [to], r
    rx = r["t"] + off
    assert due - 0.05 <= rx < due + 1.5, ("not at its due time", name, rx - due)
    raw = r["data"]
    assert all(ord(c) < 128 for c in raw), "8-bit data in the message"
    m = email.message_from_string(raw, policy=email.policy.compat32)
    # raw headers: the subject RFC 2047-encoded when not ASCII
    subj_raw = m["Subject"]
    if subject.isascii():
        assert subj_raw == subject, subj_raw
    else:
        assert "=?UTF-8?" in subj_raw.upper(), subj_raw
    assert str(make_header(decode_header(subj_raw))) == subject, (str(make_header(decode_header(subj_raw))), subject)
    assert email.utils.parseaddr(m["From"]) == ("Clinic Reminders", "noreply@clinic.example"), m["From"]
    assert email.utils.parseaddr(m["To"])[1] == to, m["To"]
    d = email.utils.parsedate_to_datetime(m["Date"]).timestamp()
    assert abs(d - rx) <= 2 and d >= due, ("Date header", m["Date"], d - due)
    mid = m["Message-ID"]
    assert re.fullmatch(r"<%s\.%d@clinic\.example>" % (ids[name], due), mid), mid
    assert m["MIME-Version"] == "1.0", m["MIME-Version"]
    assert m.get_content_type() == "text/plain" and m.get_content_charset() == "utf-8", m["Content-Type"]
    text = m.get_payload(decode=True).decode("utf-8").replace("\r\n", "\n")
    assert text.rstrip("\n") == body, (text, body)
    # nothing but the rendered reminder: no other patient data
    assert "+1" not in raw.replace("+13125559999", ""), raw
EOF

# --- failures ---------------------------------------------------------------------
check "451 at RCPT: retried (transient), not failed" \
	grep -Eq '^retry\|([2-9]|[1-9][0-9]+)\|.*451' <<<"$(rec D "$ID_451")"
check "451: the relay saw each attempt" \
	test "$(jsonl_count "$SMTP_EVENTS" 'r["stage"] == "rcpt" and r["reply"].startswith("451")')" -ge 2
check "550 at RCPT: failed, with the code" grep -Eq '^failed\|1\|.*550' <<<"$(rec D "$ID_550")"
check "554 after DATA: failed, with the code" grep -Eq '^failed\|1\|.*554' <<<"$(rec D "$ID_554")"
check "550/554: tried once each" \
	test "$(jsonl_count "$SMTP_EVENTS" 'r["reply"].startswith(("550", "554"))')" -eq 2
check "unknown certificate: retried (transient)" \
	grep -Eq '^retry\|([2-9]|[1-9][0-9]+)\|.*(TLS|certificate|SSL)' <<<"$(rec D "$ID_tls")"
check "unknown certificate: logged as a warning" \
	grep -Eq '^<4>\[emailother\] channel failing: .*(TLS|certificate)' "$D_LOG"
check "unknown certificate: the other relay got nothing (no AUTH, no message)" \
	test "$(jsonl_count "$OTHER_EVENTS" 'r["stage"] in ("auth", "mail", "data")')" -eq 0 -a ! -s "$OTHER_LOG"
check "log: no address, name or text" \
	test "$(grep -cE '@example\.org|Ana|Beatriz|Hello|appointment|s3cret' "$D_LOG" || true)" -eq 0

stop_iopd D
check "SIGTERM: exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$D_LOG"
finish
