#!/bin/bash
# plugin_sms_twilio.sh - the sms plugin, api = "twilio", through
# tests/tools/sendone against the sink's Twilio Messages API: the request
# (form, basic auth, idempotency token, ValidityPeriod), Twilio's error
# codes, rate limiting, a reply read to its first 16 KiB only, network and
# TLS failures, configuration errors.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/plugin_sms_twilio.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "plugin_sms_twilio.sh: tests/lib.sh not found" >&2; exit 99; }

. "$TESTS_DIR/integration/fixtures/sendone_lib.sh" sms
need "$PY" curl

control() { curl -s -o /dev/null -X POST "$TWILIO_URL/__control?$1"; }
# twilio_conf NAME URL [extra settings]: a channel with the sink's account
twilio_conf() {
	cat >"$T/$1.conf" <<EOF
channel = {
  name = "sms";
  module = "sms";
  api = "twilio";
  url = "$2";
  account = "$TWILIO_SID";
  token_file = "twilio.token";
  from = "+15550001111";
  timeout = "5s";
  ${3:-}
};
EOF
}

start_twilio
printf '%s\n' "$TWILIO_TOKEN" >"$T/twilio.token"
chmod 600 "$T/twilio.token"
twilio_conf tw "$TWILIO_API"

# --- delivered: the request Twilio gets ----------------------------------------
run tw --id 00000000000000a0 --to +15551230001 --text "Hi Alex, reminder: Tue at 6:00 PM & more" \
	--expires-in 7200
check "delivered: exit 0" test "$RC" -eq 0
check "delivered with Twilio's sid" grep -Eqx "00000000000000a0 delivered SM[0-9a-f]{32}" "$T/tw.stdout"
check "the sid is the one the sink made" "$PY" - "$TWILIO_LOG" "$T/tw.stdout" <<'EOF'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][-1]
sid = open(sys.argv[2]).read().split()[2]
assert r["twilio"]["sid"] == sid, (r["twilio"], sid)
EOF
check "form, auth, idempotency token, validity" "$PY" - "$TWILIO_LOG" "$TWILIO_SID" <<'EOF'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][-1]
f = r["form"]
assert r["method"] == "POST" and r["headers"]["Content-Type"] == "application/x-www-form-urlencoded", r
assert f["To"] == "+15551230001" and f["From"] == "+15550001111", f
assert f["Body"] == "Hi Alex, reminder: Tue at 6:00 PM & more", f
assert 7190 <= int(f["ValidityPeriod"]) <= 7200, f
assert set(f) == {"To", "From", "Body", "ValidityPeriod"}, f
assert r["auth_user"] == sys.argv[2] and r["twilio"]["auth_ok"], r
assert r["headers"]["I-Twilio-Idempotency-Token"] == "00000000000000a0", r["headers"]
EOF

run tw --id 00000000000000a1 --to +15551230002 --text "Hola, mañana a las 6 😀" --expires-in 90000
check "long expiry: ValidityPeriod capped at Twilio's 36000; UTF-8 body intact" "$PY" - "$TWILIO_LOG" <<'EOF'
import json, sys
f = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][-1]["form"]
assert f["ValidityPeriod"] == "36000" and f["Body"] == "Hola, mañana a las 6 😀", f
EOF
run tw --id 00000000000000a2 --to +15551230003
check "no expiry: no ValidityPeriod" "$PY" - "$TWILIO_LOG" <<'EOF'
import json, sys
f = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][-1]["form"]
assert "ValidityPeriod" not in f, f
EOF

# --- Twilio's errors (DOMAIN R10) ------------------------------------------------
run tw --id 00000000000000b0 --to +15551221610
check "21610: opted-out" grep -qx "00000000000000b0 opted-out twilio 21610: HTTP 400" "$T/tw.stdout"
run tw --id 00000000000000b1 --to +15551221211
check "21211: permanent, no number in the reason" \
	grep -qx "00000000000000b1 permanent twilio 21211: HTTP 400" "$T/tw.stdout"
run tw --id 00000000000000b2 --to +15005550009
check "21614: permanent" grep -qx "00000000000000b2 permanent twilio 21614: HTTP 400" "$T/tw.stdout"
run tw --id 00000000000000b3 --to +15005550002
check "21612 (other 4xx): permanent" grep -qx "00000000000000b3 permanent twilio 21612: HTTP 400" "$T/tw.stdout"
control 'twilio_error=20429&retry_after=7'
run tw --id 00000000000000b4 --to +15551230004
check "429 + Retry-After: transient, retry_after=7" \
	grep -qx "00000000000000b4 transient twilio 20429: HTTP 429 retry_after=7" "$T/tw.stdout"
run tw --id 00000000000000b5 --to +15551200500
check "500: transient" grep -qx "00000000000000b5 transient twilio 20500: HTTP 500 retry_after=-1" "$T/tw.stdout"
control 'status=503&retry_after=30&body=%3Chtml%3Edown%3C%2Fhtml%3E'
run tw --id 00000000000000b6 --to +15551230006
check "503 without JSON: transient, retry_after=30" \
	grep -qx "00000000000000b6 transient HTTP 503 retry_after=30" "$T/tw.stdout"
# a reply body is kept up to 16 KiB: Twilio's code after that is never read
padded() { "$PY" -c 'import sys, urllib.parse
print(urllib.parse.quote("{\"message\": \"%s\", \"code\": 21610, \"status\": 400}" % ("x" * int(sys.argv[1]))))' "$1"; }
control "status=400&body=$(padded 16000)"
run tw --id 00000000000000f7 --to +15551230007
check "a 400 whose code is within 16 KiB: read (opted-out)" \
	grep -qx "00000000000000f7 opted-out twilio 21610: HTTP 400" "$T/tw.stdout"
control "status=400&body=$(padded 17000)"
run tw --id 00000000000000f8 --to +15551230008
check "... past 16 KiB: never read, the rest of the body dropped" \
	grep -qx "00000000000000f8 permanent HTTP 400" "$T/tw.stdout"
check "no phone number in any outcome or log line" \
	test "$(cat "$T"/tw.stdout "$T"/tw.stderr | grep -cE '555123|555122|5550009|5550002|5551200' || true)" -eq 0

printf 'not-the-token\n' >"$T/wrong.token"
chmod 600 "$T/wrong.token"
twilio_conf wrong "$TWILIO_API"
sed -i 's/twilio.token/wrong.token/' "$T/wrong.conf"
run wrong -n 2 --id 00000000000000b8 --to +15551230008
check "wrong token: permanent, with Twilio's code (a 4xx; SPEC 6)" \
	test "$(sort "$T/wrong.stdout" | tr '\n' '/')" = \
	"00000000000000b8 permanent twilio 20003: HTTP 401/00000000000000b9 permanent twilio 20003: HTTP 401/"
check "wrong token: each sent once, not retried" \
	test "$(jsonl_count "$TWILIO_LOG" 'r["idempotency_key"] in ("00000000000000b8", "00000000000000b9")')" -eq 2
check "wrong token: one error log line for both" test "$(grep -c 'refused our credentials' "$T/wrong.stderr")" -eq 1 -a \
	"$(grep -c '^<3>\[sms\] sms/twilio: the gateway refused our credentials (twilio 20003: HTTP 401)' "$T/wrong.stderr")" -eq 1
check "wrong token: never logged" test "$(grep -c "not-the-token\|$TWILIO_TOKEN" "$T/wrong.stderr" || true)" -eq 0

# --- not Twilio: a 2xx without Twilio's JSON, a redirect (a wrong url) ---------------
control 'times=2&body=%3Chtml%3EWelcome%20to%20the%20network%3C/html%3E&ctype=text/html'
run tw -n 2 --id 00000000000000ba --to +15551230009
check "a 201 with an HTML page: permanent, not delivered" \
	test "$(sort "$T/tw.stdout" | cut -d' ' -f1-2 | tr '\n' '/')" = \
	"00000000000000ba permanent/00000000000000bb permanent/"
check "... the reason says it is not Twilio's reply" \
	grep -q "permanent HTTP 201 but the reply is not Twilio's JSON (no \"sid\"): check the channel's url" "$T/tw.stdout"
check "... one error log line for both" \
	test "$(grep -c '^<3>\[sms\] sms/twilio: the reply is not the gateway.s' "$T/tw.stderr")" -eq 1
twilio_conf moved "$TWILIO_URL/status/302/Messages.json"
run moved -n 2 --id 00000000000000bc --to +15551230009
check "a redirect: permanent, the reason says so" \
	test "$(grep -c "permanent HTTP 302: a redirect (never followed): check the channel's url" "$T/moved.stdout")" -eq 2
check "a redirect: each sent once, not retried or followed" \
	test "$(jsonl_count "$TWILIO_LOG" 'r["idempotency_key"] in ("00000000000000bc", "00000000000000bd")')" -eq 2
check "a redirect: one error log line" \
	test "$(grep -c '^<3>\[sms\] sms/twilio: the reply is not the gateway.s (HTTP 302' "$T/moved.stderr")" -eq 1

# --- network and TLS ---------------------------------------------------------------
port=$(free_port)
twilio_conf refused "http://127.0.0.1:$port/2010-04-01/Accounts/$TWILIO_SID/Messages.json"
run refused --id 00000000000000c0 --to +15551230001
check "connection refused: transient" \
	grep -Eqx "00000000000000c0 transient curl 7: .*retry_after=-1" "$T/refused.stdout"

twilio_conf slow "$TWILIO_API" 'timeout = "1s";'
sed -i '/timeout = "5s";/d' "$T/slow.conf"
control 'delay=4'
t0=$(now_epoch); t0=${t0%.*}
run slow --id 00000000000000c1 --to +15551230001
t1=$(now_epoch); t1=${t1%.*}
check "delayed reply: timeout, transient" \
	grep -Eqx "00000000000000c1 transient curl 28: .*retry_after=-1" "$T/slow.stdout"
check "timeout honoured (took $((t1 - t0)) s)" test $((t1 - t0)) -le 3

make_certs
start_twilio TWS --tls "$OTHER_CERT" "$OTHER_KEY"
printf '%s\n' "$TWS_TOKEN" >"$T/tws.token"
chmod 600 "$T/tws.token"
cat >"$T/tls.conf" <<EOF
channel = { name = "sms"; module = "sms"; api = "twilio"; url = "$TWS_API";
  account = "$TWS_SID"; token_file = "tws.token"; from = "+15550001111"; timeout = "5s"; };
EOF
run tls --id 00000000000000d0 --to +15551230001
check "HTTPS sink with an unknown certificate: transient, TLS said plainly" \
	grep -Eqx "00000000000000d0 transient TLS certificate verification failed: .*retry_after=-1" "$T/tls.stdout"
check "nothing reached the sink" test ! -s "$TWS_LOG"
sed -i "s|timeout = \"5s\";|timeout = \"5s\"; ca_file = \"$OTHER_CERT\";|" "$T/tls.conf"
run tls --id 00000000000000d1 --to +15551230001
check "trusted through ca_file: delivered" grep -Eqx "00000000000000d1 delivered SM[0-9a-f]{32}" "$T/tls.stdout"

# --- configuration -------------------------------------------------------------------
cat >"$T/bad.conf" <<'EOF'
channel = {
  name = "sms"; module = "sms";
  api = "twilio";
  url = "ftp://api.twilio.example/x";
  from = "not a number!";
  user = "iopd";
};
EOF
run bad
check "bad config: exit 1" test "$RC" -eq 1
check "bad config: url scheme at its line" \
	grep -qF "$T/bad.conf:4: channel sms: url must start with https:// or http://" "$T/bad.stderr"
check "bad config: from at its line" grep -qF "$T/bad.conf:5: channel sms: from must be" "$T/bad.stderr"
check "bad config: a kannel key at its line" \
	grep -qF "$T/bad.conf:6: channel sms: user is not used with api = \"twilio\"" "$T/bad.stderr"
check "bad config: account required" grep -qF "$T/bad.conf:1: channel sms: account is required" "$T/bad.stderr"
check "bad config: the secret required" grep -qF "$T/bad.conf:1: channel sms: needs a secret" "$T/bad.stderr"

cat >"$T/bad2.conf" <<'EOF'
channel = { name = "sms"; module = "sms";
  api = "nexmo"; };
EOF
run bad2
check "unknown api at its line" grep -qF "$T/bad2.conf:2: channel sms: api must be \"twilio\" or \"kannel\"" "$T/bad2.stderr"

chmod 644 "$T/twilio.token"
run tw --id 00000000000000e0 --to +15551230001
check "a token file readable by others: refused" test "$RC" -eq 1
check "... with the reason" grep -q "readable by other users" "$T/tw.stderr"
chmod 600 "$T/twilio.token"

# plain http to a non-loopback host: a warning (the unknown key stops it there)
cat >"$T/plain.conf" <<EOF
channel = { name = "sms"; module = "sms"; api = "twilio"; account = "$TWILIO_SID";
  token_file = "twilio.token"; from = "MG0123456789abcdef0123456789abcdef";
  url = "http://192.0.2.1/x"; nope = 1; };
EOF
run plain
check "plain http off loopback: warned" grep -q "plain http to 192.0.2.1" "$T/plain.stderr"

# the sanitizer build: every run of sendone ended clean
check "no sanitizer reports" test "$(cat "$T"/*.stderr | grep -cE 'Sanitizer|runtime error' || true)" -eq 0

finish
