#!/bin/bash
# daemon_webhook.sh - the real iopd, its webhook plugin and the loopback HTTP
# sink, under a fake clock that starts 4 s before reminders fall due.
#
# Proves (SPEC 4.2, 6): each reminder is POSTed at its due time, with exactly
# the body fields id, kind, patient, event, due, channel, status "due" (and
# nothing about the patient's contact or the text) and the headers
# Idempotency-Key, X-Iopd-Timestamp, X-Iopd-Signature (HMAC-SHA256 of
# "timestamp.body" with the token_file key, recomputed here); the ledger
# records it sent with the gateway's id.  Failures: a 5xx then success is
# retried once and sent once (attempts 2, same id); a 4xx is failed with the
# reason; 429 + Retry-After: 7 waits at least 7 s; connection refused, then
# the sink comes up: delivered; a reply slower than the channel's timeout:
# retried and delivered.
#
# Clocks: the sink logs real time; the daemon runs on a fake clock (FAKETIME
# '@START', rate 1), so a real instant r is START + (r - T0) for it, T0 being
# when it was launched (to_fake).  The daemon's own view is in the
# X-Iopd-Timestamp header (whole seconds).  Both are compared with due.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "daemon_webhook.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/webhook.so" ] || skip_all "no webhook.so in $IOPD_PLUGIN_DIR"

control() { curl -s -o /dev/null -X POST "$WEBHOOK_URL/__control?$1"; }

start_webhook
REFUSED_PORT=$(free_port)
secret_file hook.key 'k3y-for-e2e'

START='2026-12-01 16:59:56'          # a Tuesday; sessions at 18:00 UTC, reminders 1 h before
DUE=$(epoch '2026-12-01 17:00:00')
EVENT=$(epoch '2026-12-01 18:00:00')

# one channel, program and patient per scenario: one reminder each
channels=() programs=() patients=()
scenario() { # CHANNEL URL PATIENT [TIMEOUT=5s]
	channels+=("{ name = \"$1\"; module = \"webhook\"; url = \"$2\"; token_file = \"$T/hook.key\"; timeout = \"${4:-5s}\"; }")
	programs+=("{ id = \"prog-$1\"; name = \"Program $1\"; kind = \"IOP\"; weeks = 1;
    sessions = ( { id = \"grp\"; type = \"group\"; days = [\"tue\"]; start = \"18:00\"; duration = \"1h\"; location = \"Room 2\"; } );
    reminders = ( { before = \"1h\"; channels = [\"$1\"]; } ); }")
	patients+=("{ id = \"$3\"; first_name = \"Alexandra\"; phone = \"+12025554321\"; email = \"alexandra@example.org\";
    program = \"prog-$1\"; start = \"2026-12-01\"; }")
}
scenario ok "$WEBHOOK_URL/hooks/first" p-ok
scenario ok2 "$WEBHOOK_URL/hooks/second" p-ok2
scenario r5xx "$WEBHOOK_URL/hooks/r5xx" p-5xx
scenario r4xx "$WEBHOOK_URL/status/422/hooks/r4xx" p-4xx
scenario r429 "$WEBHOOK_URL/hooks/r429" p-429
scenario refused "http://127.0.0.1:$REFUSED_PORT/hooks/refused" p-refused
scenario slow "$WEBHOOK_URL/hooks/slow" p-slow 2s

join() { local IFS=,; echo "$*"; }
{
	iopd_daemon_block d
	echo "channels = ( $(join "${channels[@]}") );"
	echo 'templates = { session = { sms = "Hi {first_name}, {day} at {time}."; };
  medication = { sms = "m"; }; aftercare = { sms = "a"; }; };'
	echo "programs = ( $(join "${programs[@]}") );"
	echo "patients = ( $(join "${patients[@]}") );"
} >"$T/iopd.conf"
chmod 600 "$T/iopd.conf"

agenda_json "$T/iopd.conf" 2026-12-01T00:00:00Z 2026-12-02T00:00:00Z "$T/agenda.jsonl"
add_log "$T/agenda.jsonl"
check "agenda: 7 reminders, all due 17:00Z" \
	test "$(jsonl_count "$T/agenda.jsonl" 'r["due"] == "2026-12-01T17:00:00Z" and r["status"] == "scheduled"')" -eq 7
for s in ok:p-ok ok2:p-ok2 r5xx:p-5xx r4xx:p-4xx r429:p-429 refused:p-refused slow:p-slow; do
	printf -v "ID_${s%%:*}" '%s' "$(agenda_id "$T/agenda.jsonl" "${s#*:}" "${s%%:*}")"
done

# the sink's behaviour, per path (FIFO rules, each used once; a rule's path
# matches by PREFIX, so no scenario's path is a prefix of another's)
control 'status=200&body=%7B%22id%22%3A%22evt-77%22%7D&path=/hooks/first'
control 'status=503&times=1&path=/hooks/r5xx'
control 'status=429&retry_after=7&times=1&path=/hooks/r429'
control 'delay=4&times=1&path=/hooks/slow'

start_iopd D "$T/iopd.conf" "$START"
check "daemon started before the due time" \
	"$PY" -c "import sys; sys.exit(not float('$(fake_now D)') < $DUE - 0.5)"

# --- connection refused: bring the receiver up once the first attempt failed --
waitfor "[ \"\$(rec D $ID_refused attempts)\" = 1 ] && [ \"\$(rec D $ID_refused status)\" = retry ]" 12 ||
	fail "refused: no failed first attempt recorded"
check "refused: the first attempt is recorded as a retry (curl 7)" \
	grep -q "curl 7" <<<"$(rec D "$ID_refused" reason)"
start_webhook LATE --port "$REFUSED_PORT"

# --- wait for every final state (bounded) ---------------------------------------
wait_status D "$ID_ok" sent 8 || true
wait_status D "$ID_ok2" sent 2 || true
wait_status D "$ID_r4xx" failed 2 || true
wait_status D "$ID_r5xx" sent 12 || true
wait_status D "$ID_slow" sent 12 || true
wait_status D "$ID_r429" sent 12 || true
wait_status D "$ID_refused" sent 20 || true

check "ok: sent, with the gateway's JSON id" test "$(rec D "$ID_ok" 'status, attempts, gateway_id')" = "sent|1|evt-77"
check "ok2: sent, gateway id from the status" test "$(rec D "$ID_ok2" 'status, attempts, gateway_id')" = "sent|1|http-200"
check "ok: ledger due/event/expires/channel/patient" \
	test "$(rec D "$ID_ok" 'patient, channel, kind, due, event, expires')" = "p-ok|ok|session|$DUE|$EVENT|$EVENT"
check "5xx then 2xx: sent on attempt 2" test "$(rec D "$ID_r5xx" 'status, attempts')" = "sent|2"
check "5xx then 2xx: outcomes retry, sent" \
	test "$(outcomes D "$ID_r5xx" | cut -d'|' -f1,2 | tr '\n' ' ')" = "retry|1 sent|2 "
check "4xx: failed, with the reason" test "$(rec D "$ID_r4xx" 'status, attempts, reason')" = "failed|1|HTTP 422"
check "429: sent on attempt 2" test "$(rec D "$ID_r429" 'status, attempts')" = "sent|2"
check "refused: sent once the receiver came up" test "$(rec D "$ID_refused" status)" = sent
check "timeout: sent on a later attempt" test "$(rec D "$ID_slow" 'status, attempts')" = "sent|2"
check "timeout: the first attempt failed as a timeout (curl 28)" \
	grep -q "curl 28" <<<"$(outcomes D "$ID_slow" | head -n 1)"

# Everything the sinks saw, checked at once.
check "requests: bodies, headers, signatures, times" "$PY" - "$WEBHOOK_LOG" "$LATE_LOG" \
	"$T/agenda.jsonl" "$(to_fake D 0)" "$DUE" <<EOF
import hashlib, hmac, json, sys
log, late, agenda, off, due = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
key = b"k3y-for-e2e"
ids = {"ok": "$ID_ok", "ok2": "$ID_ok2", "r5xx": "$ID_r5xx", "r4xx": "$ID_r4xx",
       "r429": "$ID_r429", "refused": "$ID_refused", "slow": "$ID_slow"}
ag = {json.loads(l)["id"]: json.loads(l) for l in open(agenda)}
recs = [json.loads(l) for l in open(log)] + [json.loads(l) for l in open(late)]
by = {}
for r in recs:
    by.setdefault(r["headers"].get("Idempotency-Key"), []).append(r)
assert set(by) == set(ids.values()), (sorted(by), ids)
want = {"ok": 1, "ok2": 1, "r5xx": 2, "r4xx": 1, "r429": 2, "refused": 1, "slow": 2}
for name, rid in ids.items():
    assert len(by[rid]) == want[name], (name, len(by[rid]))
for r in recs:
    h, rid = r["headers"], r["headers"]["Idempotency-Key"]
    a = ag[rid]
    assert r["method"] == "POST" and h["Content-Type"] == "application/json", r
    ts = h["X-Iopd-Timestamp"]
    sig = "sha256=" + hmac.new(key, (ts + "." + r["body"]).encode(), hashlib.sha256).hexdigest()
    assert h["X-Iopd-Signature"] == sig, ("bad signature", r)
    body = json.loads(r["body"])
    assert list(body) == ["id", "kind", "patient", "event", "due", "channel", "status"], body
    exp = {"id": rid, "kind": "session", "patient": a["patient"], "event": a["event"],
           "due": a["due"], "channel": a["channel"], "status": "due"}
    assert body == exp, (body, exp)
    blob = json.dumps(r)
    for secret in ("5557654321", "alexandra@", "Alexandra", "k3y-for-e2e"):
        assert secret not in blob, ("contact detail or secret in a request", secret)
    # the daemon's clock when it signed, and the sink's clock in fake time
    fake_rx = r["t"] + off
    assert int(ts) >= due and fake_rx >= due - 0.05, ("sent before it was due", ts, fake_rx)
    assert abs(fake_rx - int(ts)) < 1.6, ("timestamp header far from the send", ts, fake_rx)
first = {rid: min(by[rid], key=lambda r: r["t"]) for rid in by}
for name in ("ok", "ok2", "r5xx", "r4xx", "r429", "slow"):
    r = first[ids[name]]
    lag = r["t"] + off - due
    assert 0 <= lag + 0.05 and lag < 1.0, ("first attempt not at its due time", name, lag)
    assert int(r["headers"]["X-Iopd-Timestamp"]) == due, (name, r["headers"]["X-Iopd-Timestamp"])
# 429 + Retry-After: 7 -> the retry no sooner than 7 s later, on both clocks
a, b = sorted(by[ids["r429"]], key=lambda r: r["t"])
assert a["reply"] == 429 and b["reply"] == 200, (a["reply"], b["reply"])
assert b["t"] - a["t"] >= 6.95, ("Retry-After not honoured (sink)", b["t"] - a["t"])
assert int(b["headers"]["X-Iopd-Timestamp"]) - int(a["headers"]["X-Iopd-Timestamp"]) >= 7
assert b["t"] - a["t"] < 9, ("retry much later than asked", b["t"] - a["t"])
# 5xx then 200: one 503 then one 200, same body; exactly one 2xx overall
a, b = sorted(by[ids["r5xx"]], key=lambda r: r["t"])
assert (a["reply"], b["reply"]) == (503, 200) and a["body"] == b["body"], (a, b)
# one 2xx per delivered reminder (the timed-out first try of "slow" was
# answered 200 too late: the sink logs before it sleeps)
twoxx = {"ok": 1, "ok2": 1, "r5xx": 1, "r4xx": 0, "r429": 1, "refused": 1, "slow": 2}
for name, rid in ids.items():
    assert sum(200 <= r["reply"] < 300 for r in by[rid]) == twoxx[name], name
EOF

check "refused: the late receiver got it once" test "$(jsonl_count "$LATE_LOG")" -eq 1
check "info log: one 'sent' line per delivered reminder" \
	test "$(grep -c '\] sent (attempt' "$D_LOG")" -eq 6
check "info log: the 4xx failure is a warning with its reason" \
	grep -q "^<4>\[r4xx\] failed: HTTP 422 (patient p-4xx, reminder $ID_r4xx)" "$D_LOG"
ctl D status >"$T/status.txt" 2>&1 || true
add_log "$T/status.txt"
check "iopctl status: today 6 sent, 1 failed" \
	test "$(awk '/^today/ {t = 1; next} t && NF == 7 {s += $2; f += $3} END {print s + 0, f + 0}' "$T/status.txt")" = "6 1"

stop_iopd D
check "SIGTERM: exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$D_LOG"
finish
