#!/bin/bash
# plugin_webhook.sh - the webhook plugin through tests/tools/sendone against
# the loopback HTTP(S) sink: the body and headers byte for byte, the
# signature recomputed in Python, the outcome of every kind of reply,
# network failures, TLS, cancel, and configuration errors.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/plugin_webhook.sh
# SENDONE and IOPD_PLUGIN_DIR override where the tool and plugins are.
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "plugin_webhook.sh: tests/lib.sh not found" >&2; exit 99; }

. "$TESTS_DIR/integration/fixtures/sendone_lib.sh" webhook
need "$PY" curl

# control RULE: queue a reply rule on the sink (see webhook_sink.py)
control() { curl -s -o /dev/null -X POST "$WEBHOOK_URL/__control?$1"; }

start_webhook
printf 'k3y-for-tests\n' >"$T/hook.key"
chmod 600 "$T/hook.key"

# --- two signed POSTs: body, headers, signature ------------------------------
cat >"$T/ok.conf" <<EOF
channel = {
  name = "ehr";
  module = "webhook";
  url = "$WEBHOOK_URL/hooks/iopd";
  token_file = "hook.key";
  timeout = "5s";
};
EOF
before=$(now_epoch); before=${before%.*}
run ok -n 2 --id 00000000000000a0 --patient p-0001 --kind session \
	--to "+15551234567" --text "addiction group at 6"
after=$(now_epoch); after=${after%.*}
check "delivered: exit 0" test "$RC" -eq 0
check "delivered: first outcome" grep -qx "00000000000000a0 delivered http-200" "$T/ok.stdout"
check "delivered: second outcome" grep -qx "00000000000000a1 delivered http-200" "$T/ok.stdout"
check "delivered: two requests" test "$(wc -l <"$WEBHOOK_LOG")" -eq 2
check "body, headers and signature as specified" "$PY" - "$WEBHOOK_LOG" "$before" "$after" <<'EOF'
import hashlib, hmac, json, re, sys
log, before, after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
recs = {}
for line in open(log, encoding="utf-8"):
    r = json.loads(line)
    recs[r["headers"]["Idempotency-Key"]] = r
assert set(recs) == {"00000000000000a0", "00000000000000a1"}, recs.keys()
utc = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
for rid, r in recs.items():
    assert r["method"] == "POST" and r["path"] == "/hooks/iopd", r
    h = r["headers"]
    assert h["Content-Type"] == "application/json", h
    ts = h["X-Iopd-Timestamp"]
    assert ts.isdigit() and before - 1 <= int(ts) <= after + 1, (ts, before, after)
    want = "sha256=" + hmac.new(b"k3y-for-tests", (ts + "." + r["body"]).encode(),
                                hashlib.sha256).hexdigest()
    assert h["X-Iopd-Signature"] == want, (h["X-Iopd-Signature"], want)
    body = json.loads(r["body"])
    assert list(body) == ["id", "kind", "patient", "event", "due", "channel", "status"], body
    assert body["id"] == rid and body["kind"] == "session" and body["patient"] == "p-0001"
    assert body["channel"] == "ehr" and body["status"] == "due", body
    assert utc.match(body["event"]) and utc.match(body["due"]), body
    # no contact details, no text, anywhere in the request
    for secret in ("15551234567", "addiction", "k3y-for-tests"):
        assert secret not in json.dumps(r), secret
    # compact JSON, exactly as the spec shows it
    assert r["body"] == json.dumps(body, separators=(",", ":"), ensure_ascii=False), r["body"]
EOF

# --- the reply decides the outcome -------------------------------------------
cat >"$T/one.conf" <<EOF
channel = { name = "ehr"; module = "webhook"; url = "$WEBHOOK_URL/hooks/iopd"; timeout = "5s"; };
EOF
control 'status=201&body=%7B%22id%22%3A%22evt-42%22%7D'
run one --id 00000000000000b0
check "2xx with a JSON id: that is the gateway id" grep -qx "00000000000000b0 delivered evt-42" "$T/one.stdout"
check "unsigned without token_file" "$PY" -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
assert "X-Iopd-Signature" not in r["headers"] and r["headers"]["Idempotency-Key"] == "00000000000000b0"
' "$WEBHOOK_LOG"
check "unsigned: said once at start" grep -q "requests are not signed" "$T/one.stderr"

control 'status=503&retry_after=7'
run one --id 00000000000000b1
check "503 + Retry-After: transient, retry_after=7" \
	grep -qx "00000000000000b1 transient HTTP 503 retry_after=7" "$T/one.stdout"
control 'status=429&retry_after=Wed,%2021%20Oct%202099%2007:28:00%20GMT'
run one --id 00000000000000b2
check "429 + Retry-After as an HTTP date: transient, seconds until then" \
	grep -Eqx "00000000000000b2 transient HTTP 429 retry_after=[0-9.e+]+" "$T/one.stdout"
control 'status=500'
run one --id 00000000000000b3
check "500: transient, no advice" grep -qx "00000000000000b3 transient HTTP 500 retry_after=-1" "$T/one.stdout"
control 'status=404'
run one --id 00000000000000b4
check "404: permanent" grep -qx "00000000000000b4 permanent HTTP 404" "$T/one.stdout"
control 'status=422'
run one --id 00000000000000b5
check "422: permanent" grep -qx "00000000000000b5 permanent HTTP 422" "$T/one.stdout"
control 'status=401'
run one --id 00000000000000b6
check "401: permanent (credentials), with the reason" test "$(cat "$T/one.stdout")" = "00000000000000b6 permanent HTTP 401"
check "401: logged as an error, once" test "$(grep -c 'refused our credentials' "$T/one.stderr")" -eq 1 -a \
	"$(grep -c '^<3>\[ehr\] webhook: the gateway refused our credentials (HTTP 401)' "$T/one.stderr")" -eq 1
check "401: sent once, not retried" \
	test "$(jsonl_count "$WEBHOOK_LOG" 'r["idempotency_key"] == "00000000000000b6"')" -eq 1
control 'status=302&times=2'
run one -n 2 --id 00000000000000b8
check "302: permanent, a wrong url (redirects are never followed)" \
	test "$(grep -c "permanent HTTP 302: a redirect (never followed): check the channel's url" "$T/one.stdout")" -eq 2
check "302: logged as an error, once for both" \
	test "$(grep -c '^<3>\[ehr\] webhook: the reply is not the gateway.s (HTTP 302' "$T/one.stderr")" -eq 1
check "302: each sent once, not retried" \
	test "$(jsonl_count "$WEBHOOK_LOG" 'r["idempotency_key"] in ("00000000000000b8", "00000000000000b9")')" -eq 2

# --- network failures ----------------------------------------------------------
port=$(free_port)
cat >"$T/refused.conf" <<EOF
channel = { name = "ehr"; module = "webhook"; url = "http://127.0.0.1:$port/hook"; timeout = "5s"; };
EOF
run refused --id 00000000000000c0
check "connection refused: transient" \
	grep -Eqx "00000000000000c0 transient curl 7: .*retry_after=-1" "$T/refused.stdout"

cat >"$T/slow.conf" <<EOF
channel = { name = "ehr"; module = "webhook"; url = "$WEBHOOK_URL/delay/4/hook"; timeout = "1s"; };
EOF
t0=$(now_epoch); t0=${t0%.*}
run slow --id 00000000000000c1
t1=$(now_epoch); t1=${t1%.*}
check "timeout: transient" grep -Eqx "00000000000000c1 transient curl 28: .*retry_after=-1" "$T/slow.stdout"
check "timeout: honoured (took $((t1 - t0)) s)" test $((t1 - t0)) -le 3

# cancel: the host gives up first (sendone's deadline); no outcome follows,
# and nothing leaks (the sanitizer build checks that at exit)
cat >"$T/cancel.conf" <<EOF
channel = { name = "ehr"; module = "webhook"; url = "$WEBHOOK_URL/delay/4/hook"; timeout = "30s"; };
EOF
run cancel --id 00000000000000c2 --deadline 1
check "cancel: sendone reports the missing outcome (exit 3)" test "$RC" -eq 3
check "cancel: no outcome line" test ! -s "$T/cancel.stdout"
check "cancel: the deadline said so" grep -q "no outcome for 00000000000000c2 before the deadline" "$T/cancel.stderr"
check "cancel: no late outcome, no sanitizer report" \
	test "$(grep -cE 'not running|Sanitizer|runtime error' "$T/cancel.stderr" || true)" -eq 0

# --- TLS -----------------------------------------------------------------------
make_certs
start_webhook HOOKS --tls "$CERT" "$KEY"
start_webhook OTHER --tls "$OTHER_CERT" "$OTHER_KEY"
cat >"$T/tls.conf" <<EOF
channel = { name = "ehr"; module = "webhook"; url = "$HOOKS_URL/hook"; ca_file = "$CERT"; timeout = "5s"; };
EOF
run tls --id 00000000000000d0
check "https with ca_file: delivered" grep -qx "00000000000000d0 delivered http-200" "$T/tls.stdout"
check "https: the sink saw TLS" grep -q '"tls": true' "$HOOKS_LOG"
cat >"$T/badtls.conf" <<EOF
channel = { name = "ehr"; module = "webhook"; url = "$OTHER_URL/hook"; ca_file = "$CERT"; timeout = "5s"; };
EOF
run badtls --id 00000000000000d1
check "unknown certificate: transient, said plainly" \
	grep -Eqx "00000000000000d1 transient TLS certificate verification failed: .*retry_after=-1" "$T/badtls.stdout"
check "unknown certificate: nothing was posted" test ! -s "$OTHER_LOG"
cat >"$T/insecure.conf" <<EOF
channel = { name = "ehr"; module = "webhook"; url = "$OTHER_URL/hook"; insecure_tls = true; timeout = "5s"; };
EOF
run insecure --id 00000000000000d2
check "insecure_tls: delivered despite the certificate" \
	grep -qx "00000000000000d2 delivered http-200" "$T/insecure.stdout"

# --- configuration -------------------------------------------------------------
cat >"$T/bad.conf" <<'EOF'
channel = {
  name = "ehr"; module = "webhook";
  url = "ftp://127.0.0.1/hook";
  ca_file = "relative.pem";
  headers = [ "X-A: b" ];
};
EOF
run bad
check "bad config: exit 1" test "$RC" -eq 1
check "bad config: scheme, at its line" \
	grep -qF "$T/bad.conf:3: channel ehr: url must start with https:// or http://" "$T/bad.stderr"
check "bad config: ca_file, at its line" \
	grep -qF "$T/bad.conf:4: channel ehr: ca_file must be an absolute path" "$T/bad.stderr"
check "bad config: unknown key, at its line" \
	grep -qF "$T/bad.conf:5: unknown key \"headers\" in channel ehr (module webhook)" "$T/bad.stderr"
check "bad config: nothing sent" test ! -s "$T/bad.stdout"

cat >"$T/bad2.conf" <<'EOF'
channel = {
  name = "ehr"; module = "webhook";
  token_file = "missing.key";
  url = "https://user:pw@ehr.example.org/hook";
};
EOF
run bad2
check "userinfo in url: refused at its line" grep -qF \
	"$T/bad2.conf:4: channel ehr: url must not hold a user name or password" "$T/bad2.stderr"
check "unreadable token_file: reported" grep -qF "$T/bad2.conf:3:" "$T/bad2.stderr"
check "the refused password is not echoed" test "$(grep -c 'pw@' "$T/bad2.stderr" || true)" -eq 0

cat >"$T/nourl.conf" <<'EOF'
channel = { name = "ehr"; module = "webhook";
  wrong = 1; };
EOF
run nourl
check "missing url: reported at the channel" grep -qF "$T/nourl.conf:1: channel ehr: url is required" "$T/nourl.stderr"

# plain http to a non-loopback host: a warning (configure fails here for
# another reason, so nothing is sent)
cat >"$T/plain.conf" <<'EOF'
channel = { name = "ehr"; module = "webhook"; url = "http://192.0.2.10/hook";
  bogus = 1; };
EOF
run plain
check "plain http off loopback: warned" grep -q "plain http to 192.0.2.10" "$T/plain.stderr"
cat >"$T/plainlo.conf" <<'EOF'
channel = { name = "ehr"; module = "webhook"; url = "http://localhost/hook";
  bogus = 1; };
EOF
run plainlo
check "plain http on loopback: no warning" test "$(grep -c 'plain http' "$T/plainlo.stderr" || true)" -eq 0

# the sanitizer build: every run of sendone ended clean
check "no sanitizer reports" test "$(cat "$T"/*.stderr | grep -cE 'Sanitizer|runtime error' || true)" -eq 0

finish
