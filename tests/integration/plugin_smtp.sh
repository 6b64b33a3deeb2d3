#!/bin/bash
# plugin_smtp.sh - the smtp plugin through tests/tools/sendone against the
# loopback SMTP sink: STARTTLS+AUTH and SMTPS delivery with the message
# parsed back by Python's email package (headers, RFC 2047 subject, UTF-8
# body), every kind of SMTP refusal, a server without STARTTLS, TLS and
# network failures, and configuration errors.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/plugin_smtp.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "plugin_smtp.sh: tests/lib.sh not found" >&2; exit 99; }

. "$TESTS_DIR/integration/fixtures/sendone_lib.sh" smtp
need "$PY"

# smtp_conf NAME URL [extra settings]: the clinic's relay, with AUTH
smtp_conf() {
	cat >"$T/$1.conf" <<EOF
channel = {
  name = "email";
  module = "smtp";
  url = "$2";
  from = "Clinic Café <noreply@clinic.example>";
  user = "iopd";
  token_file = "smtp.pw";
  ca_file = "$CERT";
  helo = "iopd.clinic.example";
  timeout = "5s";
  ${3:-}
};
EOF
}

make_certs
printf 's3cret\n' >"$T/smtp.pw"
chmod 600 "$T/smtp.pw"
start_smtp TLS --tls "$CERT" "$KEY" --auth iopd:s3cret
smtp_conf tls "$TLS_URL"

# --- STARTTLS + AUTH: the message as a mail reader sees it ----------------------------
subject='Recordatorio: su cita de mañana en la clínica, martes 1 de diciembre a las 6:00 PM – por favor llegue 10 minutos antes'
body=$(printf 'Hola Alex,\n\nsu cita es mañana a las 6:00 PM. ¡Gracias! €\n.\nFrom the clinic, with a line that is quite a bit longer than seventy-six characters so it must be wrapped softly.\ntrailing space \n')
before=$(now_epoch); before=${before%.*}
run tls --id 00000000000000a0 --to alex@patient.example --subject "$subject" --body "$body"
after=$(now_epoch); after=${after%.*}
check "STARTTLS+AUTH: exit 0" test "$RC" -eq 0
check "STARTTLS+AUTH: delivered with the server's queue id" "$PY" - "$TLS_LOG" "$T/tls.stdout" <<'EOF'
import json, sys
rec = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][-1]
out = open(sys.argv[2]).read().split()
assert out[:2] == ["00000000000000a0", "delivered"] and out[2] == rec["key"], (out, rec["key"])
EOF
check "STARTTLS+AUTH: the sink saw AUTH (so its absence below means something)" \
	grep -q '"stage": "auth"' "$TLS_EVENTS"
check "envelope, TLS and AUTH" "$PY" - "$TLS_LOG" <<'EOF'
import json, sys
rec = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][-1]
assert rec["mail_from"] == "noreply@clinic.example", rec["mail_from"]
assert rec["rcpt_tos"] == ["alex@patient.example"], rec["rcpt_tos"]
assert rec["tls"] is True and rec["auth_user"] == "iopd", rec
EOF
check "the message, parsed back" "$PY" - "$TLS_LOG" "$subject" "$body" "$before" "$after" <<'EOF'
import email, email.policy, email.utils, json, re, sys
rec = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][-1]
subject, body, before, after = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
raw = rec["data"].encode("utf-8")
lines = raw.split(b"\r\n")
head, _, rest = raw.partition(b"\r\n\r\n")
# CRLF only, 7-bit on the wire, headers within 78, body lines within 76
assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF"
assert all(b < 128 for b in raw), "8-bit data"
assert all(len(l) <= 78 for l in head.split(b"\r\n")), head
assert all(len(l) <= 76 for l in rest.split(b"\r\n")), rest
msg = email.message_from_bytes(raw, policy=email.policy.default)
assert str(msg["Subject"]) == subject, (str(msg["Subject"]), subject)
assert "=?UTF-8?B?" in head.decode(), "subject not RFC 2047 encoded"
assert msg["From"].addresses[0].display_name == "Clinic Café", msg["From"]
assert msg["From"].addresses[0].addr_spec == "noreply@clinic.example", msg["From"]
assert str(msg["To"]) == "alex@patient.example", msg["To"]
assert msg["MIME-Version"] == "1.0" and msg.get_content_type() == "text/plain", msg
assert msg.get_content_charset() == "utf-8", msg.get_content_charset()
assert msg["Content-Transfer-Encoding"] == "quoted-printable"
assert msg["Auto-Submitted"] == "auto-generated"
assert re.fullmatch(r"<00000000000000a0\.\d+@clinic\.example>", msg["Message-ID"]), msg["Message-ID"]
date = email.utils.parsedate_to_datetime(msg["Date"]).timestamp()
assert before - 2 <= date <= after + 2, (msg["Date"], before, after)
got = msg.get_content().replace("\r\n", "\n")
assert got.rstrip("\n") == body.rstrip("\n"), (got, body)
assert "\ntrailing space \n" in got, repr(got)       # QP kept the trailing space
EOF
check "no address, subject or text in the log lines or outcomes" \
	test "$(cat "$T/tls.stdout" "$T/tls.stderr" | grep -cE 'patient\.example|Recordatorio|Hola' || true)" -eq 0

run tls --id 00000000000000a1 --to alex@patient.example \
	--subject "Appointment reminder: a plain ASCII subject that is long enough to need folding in the header" \
	--body "plain"
check "ASCII subject: delivered" grep -Eqx "00000000000000a1 delivered \S+" "$T/tls.stdout"
check "ASCII subject: folded, not encoded, unfolds back" "$PY" - "$TLS_LOG" <<'EOF'
import email, email.policy, json, sys
raw = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][-1]["data"]
head = raw.split("\r\n\r\n")[0]
subj = head[head.index("\r\nSubject:") + 2:]
subj = subj[:subj.index("\r\nMessage-ID:")]
assert "=?" not in subj and "\r\n " in subj, subj
assert all(len(l) <= 78 for l in subj.split("\r\n")), subj
msg = email.message_from_string(raw, policy=email.policy.default)
want = "Appointment reminder: a plain ASCII subject that is long enough to need folding in the header"
assert str(msg["Subject"]) == want, str(msg["Subject"])
EOF

# --- SMTP refusals: the reply code decides -----------------------------------------
run tls --id 00000000000000b0 --to rcpt451-alex@patient.example
check "451 at RCPT: transient" grep -qx "00000000000000b0 transient SMTP 451 4.3.0 retry_after=-1" "$T/tls.stdout"
run tls --id 00000000000000b1 --to rcpt550-alex@patient.example
check "550 at RCPT: permanent" grep -qx "00000000000000b1 permanent SMTP 550 5.1.1" "$T/tls.stdout"
run tls --id 00000000000000b2 --to data554-alex@patient.example
check "554 after DATA: permanent" grep -qx "00000000000000b2 permanent SMTP 554 5.6.0" "$T/tls.stdout"
run tls --id 00000000000000b3 --to data451-alex@patient.example
check "451 after DATA: transient" grep -qx "00000000000000b3 transient SMTP 451 4.3.0 retry_after=-1" "$T/tls.stdout"
check "refusals: no address in the reasons" test "$(grep -c 'patient' "$T/tls.stdout" || true)" -eq 0
run tls --id 00000000000000b4 --to "not an address"
check "unusable address: permanent, without the address" \
	grep -qx "00000000000000b4 permanent smtp: not a usable e-mail address" "$T/tls.stdout"

printf 'wrong\n' >"$T/wrong.pw"
chmod 600 "$T/wrong.pw"
smtp_conf wrong "$TLS_URL"
sed -i 's/smtp.pw/wrong.pw/' "$T/wrong.conf"
auth535=$(jsonl_count "$TLS_EVENTS" 'r["stage"] == "auth" and r["reply"] == "535"')
run wrong -n 2 --id 00000000000000b8 --to alex@patient.example
check "wrong password: permanent (an SMTP 5xx), with the codes" test "$(sort "$T/wrong.stdout" | tr '\n' '/')" = \
	"00000000000000b8 permanent SMTP 535 5.7.8: authentication failed/00000000000000b9 permanent SMTP 535 5.7.8: authentication failed/"
check "wrong password: one error log line" test "$(grep -c 'refused our credentials' "$T/wrong.stderr")" -eq 1 -a \
	"$(grep -c '^<3>\[email\] smtp: the gateway refused our credentials (SMTP 535 5.7.8: authentication failed)' "$T/wrong.stderr")" -eq 1
check "wrong password: each refused once, not retried" \
	test "$(jsonl_count "$TLS_EVENTS" 'r["stage"] == "auth" and r["reply"] == "535"')" -eq $((auth535 + 2))

# --- TLS is not optional ---------------------------------------------------------------
start_smtp PLAIN
smtp_conf plain "$PLAIN_URL"
run plain --id 00000000000000c0 --to alex@patient.example
check "no STARTTLS offered: transient, refused" \
	grep -qx "00000000000000c0 transient SMTP server does not offer STARTTLS, which is required retry_after=-1" \
	"$T/plain.stdout"
check "no STARTTLS: no AUTH, no MAIL went out" absent '"stage": "(auth|mail)"' "$PLAIN_EVENTS"

start_smtp SMTPS --smtps "$CERT" "$KEY" --auth iopd:s3cret
smtp_conf smtps "$SMTPS_URL"
run smtps --id 00000000000000c1 --to alex@patient.example --subject "x" --body "y"
check "smtps://: delivered" grep -Eqx "00000000000000c1 delivered \S+" "$T/smtps.stdout"
check "smtps://: AUTH over TLS" grep -q '"auth_user": "iopd"' "$SMTPS_LOG"

start_smtp OTHER --tls "$OTHER_CERT" "$OTHER_KEY" --auth iopd:s3cret
smtp_conf other "$OTHER_URL"
run other --id 00000000000000c2 --to alex@patient.example
check "unknown certificate: transient, said plainly" \
	grep -Eqx "00000000000000c2 transient TLS certificate verification failed: .*retry_after=-1" "$T/other.stdout"
check "unknown certificate: the password never went out" absent '"stage": "auth"' "$OTHER_EVENTS"

port=$(free_port)
smtp_conf refused "smtp://127.0.0.1:$port"
run refused --id 00000000000000c3 --to alex@patient.example
check "connection refused: transient" grep -Eqx "00000000000000c3 transient curl 7: .*retry_after=-1" "$T/refused.stdout"

smtp_conf slow "$TLS_URL"
sed -i 's/timeout = "5s";/timeout = "1s";/' "$T/slow.conf"
run slow --id 00000000000000c4 --to slow4-alex@patient.example
check "slow server: timeout, transient" grep -Eqx "00000000000000c4 transient curl 28: .*retry_after=-1" "$T/slow.stdout"

# --- configuration -------------------------------------------------------------------
cat >"$T/bad.conf" <<'EOF'
channel = {
  name = "email"; module = "smtp";
  url = "http://mail.example.org/x";
  from = "Clinic";
  token_file = "smtp.pw";
  helo = "bad name!";
};
EOF
run bad
check "bad config: exit 1" test "$RC" -eq 1
check "bad config: url scheme at its line" \
	grep -qF "$T/bad.conf:3: channel email: url must start with smtps:// or smtp://" "$T/bad.stderr"
check "bad config: from at its line" grep -qF "$T/bad.conf:4: channel email: from must be an address" "$T/bad.stderr"
check "bad config: a secret without user, at its line" \
	grep -qF "$T/bad.conf:5: channel email: token_file without user" "$T/bad.stderr"

cat >"$T/bad2.conf" <<'EOF'
channel = {
  name = "email"; module = "smtp";
  url = "smtp://mail.example.org:587/already.example";
  from = "noreply@clinic.example";
  user = "iopd";
  helo = "iopd.example";
};
EOF
run bad2
check "helo and a URL path: refused at helo's line" \
	grep -qF "$T/bad2.conf:6: channel email: url already names the EHLO host" "$T/bad2.stderr"
check "user without a secret: reported" grep -qF "channel email: needs a secret" "$T/bad2.stderr"

# the sanitizer build: every run of sendone ended clean
check "no sanitizer reports" test "$(cat "$T"/*.stderr | grep -cE 'Sanitizer|runtime error' || true)" -eq 0

finish
