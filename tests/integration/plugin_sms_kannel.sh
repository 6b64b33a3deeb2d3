#!/bin/bash
# plugin_sms_kannel.sh - the sms plugin, api = "kannel", through
# tests/tools/sendone against a real Kannel (bearerbox + smsbox + fakesmsc):
# delivery seen at the fake SMSC (ASCII, GSM 7-bit accents, UCS-2), the
# sendsms query (against the HTTP sink), refused credentials, a stopped
# SMSC, smsbox down, and configuration errors.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/plugin_sms_kannel.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "plugin_sms_kannel.sh: tests/lib.sh not found" >&2; exit 99; }

. "$TESTS_DIR/integration/fixtures/sendone_lib.sh" sms
need "$PY" curl

# kannel_conf NAME URL SECRETFILE [extra settings]
kannel_conf() {
	cat >"$T/$1.conf" <<EOF
channel = {
  name = "sms";
  module = "sms";
  api = "kannel";
  url = "$2";
  user = "iopd";
  token_file = "$3";
  from = "12345";
  timeout = "5s";
  ${4:-}
};
EOF
}
# got TEXT-LINE: wait until the fake SMSC printed this message
got() { waitfor "grep -qF -- '$1' '$KANNEL_FAKESMSC_OUT'" 10; }

start_kannel
printf '%s\n' "$KANNEL_PASS" >"$T/kannel.pw"
chmod 600 "$T/kannel.pw"
kannel_conf k "$KANNEL_SENDSMS_URL" kannel.pw

# --- delivered, as the SMSC sees it ------------------------------------------------
run k --id 00000000000000a0 --to +15551230001 --text "Hi Alex, reminder: Tue at 6:00 PM" --expires-in 7200
check "delivered: exit 0" test "$RC" -eq 0
check "delivered as kannel:<id>" grep -qx "00000000000000a0 delivered kannel:00000000000000a0" "$T/k.stdout"
check "the SMSC got it" got "<12345 +15551230001 text Hi Alex, reminder: Tue at 6:00 PM>"

run k --id 00000000000000a1 --to +15551230002 --text "Café à 6 € {ok} ¿sì? Ñ"
check "GSM 7-bit accents: delivered" grep -qx "00000000000000a1 delivered kannel:00000000000000a1" "$T/k.stdout"
check "GSM 7-bit accents: intact at the SMSC" got "<12345 +15551230002 text Café à 6 € {ok} ¿sì? Ñ>"

text='Hola, mañana á las 6 😀 Zażółć'
run k --id 00000000000000a2 --to +15551230003 --text "$text"
check "not GSM 7-bit: delivered" grep -qx "00000000000000a2 delivered kannel:00000000000000a2" "$T/k.stdout"
check "not GSM 7-bit: sent as UCS-2" got "<12345 +15551230003 ucs-2 "
check "not GSM 7-bit: UCS-2 decodes to the text" "$PY" - "$KANNEL_FAKESMSC_OUT" "$text" <<'EOF'
import re, sys
from urllib.parse import unquote_to_bytes
out = open(sys.argv[1], encoding="utf-8", errors="replace").read()
m = re.search(r"<12345 \+15551230003 ucs-2 (\S+)>", out)
assert m, out
got = unquote_to_bytes(m.group(1).replace("+", "%20")).decode("utf-16-be")   # fakesmsc: "+" is 0x20
assert got == sys.argv[2], (got, sys.argv[2])
EOF
check "no number or text in the log lines" \
	test "$(grep -cE '5551230|Alex|mañana' "$T/k.stderr" || true)" -eq 0

# --- the query, as an HTTP sink playing Kannel sees it ------------------------------
start_webhook --status 202
kannel_conf q "$WEBHOOK_URL/cgi-bin/sendsms" kannel.pw \
	'smsc = "FAKE"; dlr_url = "http://127.0.0.1:9/dlr?id={id}&type=%d";'
run q --id 00000000000000b0 --to +15551230001 --text "Hola, mañana á las 6" --expires-in 7200
check "query: delivered on 202" grep -qx "00000000000000b0 delivered kannel:00000000000000b0" "$T/q.stdout"
check "query: every parameter as Kannel wants it" "$PY" - "$WEBHOOK_LOG" "$KANNEL_PASS" <<'EOF'
import json, sys
from urllib.parse import parse_qs
r = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][-1]
assert r["method"] == "GET" and r["path"] == "/cgi-bin/sendsms", r
q = {k: v[0] for k, v in parse_qs(r["query"], keep_blank_values=True).items()}
want = {"username": "iopd", "password": sys.argv[2], "from": "12345", "to": "+15551230001",
        "text": "Hola, mañana á las 6", "coding": "2", "charset": "UTF-8", "smsc": "FAKE",
        "dlr-mask": "31", "dlr-url": "http://127.0.0.1:9/dlr?id=00000000000000b0&type=%d"}
v = int(q.pop("validity"))
assert 118 <= v <= 120, v
assert q == want, (q, want)
EOF

# --- failures ---------------------------------------------------------------------
printf 'not-the-password\n' >"$T/wrong.pw"
chmod 600 "$T/wrong.pw"
kannel_conf wrong "$KANNEL_SENDSMS_URL" wrong.pw
run wrong -n 2 --id 00000000000000c0 --to +15551230001
check "bad password: permanent, with Kannel's words" \
	test "$(sort "$T/wrong.stdout" | tr '\n' '/')" = "00000000000000c0 permanent kannel HTTP 403: Authorization failed for sendsms/00000000000000c1 permanent kannel HTTP 403: Authorization failed for sendsms/"
check "bad password: one error log line for both" test "$(grep -c 'refused our credentials' "$T/wrong.stderr")" -eq 1 -a \
	"$(grep -c '^<3>\[sms\] sms/kannel: the gateway refused our credentials (kannel HTTP 403: Authorization failed for sendsms)' "$T/wrong.stderr")" -eq 1
check "bad password: never logged, nor the URL" \
	test "$(grep -cE 'not-the-password|password=|sendsms\?' "$T/wrong.stderr" || true)" -eq 0

curl -s -o /dev/null "$KANNEL_ADMIN_URL/stop-smsc?password=$KANNEL_ADMIN_PW&smsc=FAKE"
waitfor "! curl -s '$KANNEL_STATUS_URL' | grep -q 'FAKE:$KANNEL_SMSC_PORT (online'" 10 || true
run k --id 00000000000000c2 --to +15551230001
check "SMSC stopped: 'Not routable' is transient (an outage)" \
	grep -qx "00000000000000c2 transient kannel HTTP 403: Not routable. Do not try again. retry_after=-1" "$T/k.stdout"
curl -s -o /dev/null "$KANNEL_ADMIN_URL/start-smsc?password=$KANNEL_ADMIN_PW&smsc=FAKE"
"$RIG_DIR/kannel.sh" fakesmsc "$KANNEL_DIR" >"$T/fakesmsc.restart" 2>&1 || true
run k --id 00000000000000c3 --to +15551230004 --text "back again"
check "SMSC back: delivered" grep -qx "00000000000000c3 delivered kannel:00000000000000c3" "$T/k.stdout"
check "SMSC back: the SMSC got it" got "<12345 +15551230004 text back again>"

"$RIG_DIR/kannel.sh" stop "$KANNEL_DIR" >/dev/null 2>&1
run k --id 00000000000000c4 --to +15551230001
check "smsbox down: transient, connection refused" \
	grep -Eqx "00000000000000c4 transient curl 7: .*retry_after=-1" "$T/k.stdout"

# --- configuration -----------------------------------------------------------------
cat >"$T/bad.conf" <<'EOF'
channel = {
  name = "sms"; module = "sms"; api = "kannel";
  url = "http://127.0.0.1:13013/cgi-bin/sendsms?username=iopd&password=secret";
  account = "AC0123";
  dlr_url = "gopher://x/";
  token_file = "kannel.pw";
};
EOF
run bad
check "bad config: exit 1" test "$RC" -eq 1
check "bad config: credentials in the url refused at its line" \
	grep -qF "$T/bad.conf:3: channel sms: url must not carry username or password" "$T/bad.stderr"
check "bad config: a twilio key at its line" \
	grep -qF "$T/bad.conf:4: channel sms: account is not used with api = \"kannel\"" "$T/bad.stderr"
check "bad config: dlr_url scheme at its line" \
	grep -qF "$T/bad.conf:5: channel sms: dlr_url must start with https:// or http://" "$T/bad.stderr"
check "bad config: user required" grep -qF "$T/bad.conf:1: channel sms: user is required" "$T/bad.stderr"

# the sanitizer build: every run of sendone ended clean
check "no sanitizer reports" test "$(cat "$T"/*.stderr | grep -cE 'Sanitizer|runtime error' || true)" -eq 0

finish
