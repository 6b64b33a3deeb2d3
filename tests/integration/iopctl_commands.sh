#!/bin/bash
# iopctl_commands.sh - every iopctl command against a running iopd, as
# documented in docs/control-protocol.md and the README.  Faked clock, six
# times as fast, from 17:59:10 (under valgrind twice as fast, from 17:59:00);
# four patients take prompts at 18:00 and 18:01 on the webhook channel
# "hook"; a second channel "bad" answers 404.
#   * the control socket is mode 0660;
#   * pause p-00002 and opt-out p-00003 hook (errors: unknown patient or
#     channel -> exit 1); the live agenda shows skipped:paused / opt-out;
#   * 18:00: p-00001 and p-00004 sent; p-00002 recorded skipped (paused) and
#     p-00003 skipped (opt-out), neither sent; resume and opt-in;
#   * agenda afterwards: "sent" / "skipped:paused" / "skipped:opt-out" from
#     the ledger; 18:01: all four sent;
#   * history (text and --json): every outcome and the overrides;
#   * status (text, and --json parsed), send-test (delivered through the
#     sink, exit 0; to the failing channel: exit 1; unknown channel: exit 1),
#     reload, metrics (every line valid Prometheus text, counts right);
#   * exit codes: usage errors 2, daemon not running 3, IOPD_CONTROL_SOCKET;
#   * a ledger of a newer schema (user_version 99) is refused at start with
#     a clear message, exit 1.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/iopctl_commands.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "iopctl_commands.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"

start_webhook
SOCK=$T/ctl.sock
DB=$T/state/ledger.db
CONF=$T/iopd.conf
gen_conf "$CONF" --state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" --patients 4 \
	--med 18:00,18:01 --bad-url "$WEBHOOK_URL/status/404/bad" --timeout 60s
"$IOPD" agenda -c "$CONF" --from 2026-12-01T18:00:00Z --to 2026-12-01T18:02:00Z >"$T/agenda.jsonl"
idof() { jsonl_field "$T/agenda.jsonl" 'r["id"]' "r['patient'] == '$1' and r['due'] == '2026-12-01T$2:00Z'"; }
# run NAME CMD...: exit status in RC, output in $T/NAME.stdout / .stderr
run() {
	local name=$1
	shift
	RC=0
	"$@" >"$T/$name.stdout" 2>"$T/$name.stderr" || RC=$?
	add_log "$T/$name.stderr"
}
sent_ids() { sink_ids "$WEBHOOK_LOG" | sort; }

# The overrides below must be in before 18:00, and the resume and opt-in
# before 18:01: 8 s and 10 s real time at six times as fast.  An iopd under
# valgrind (RIG_WAIT_SCALE > 1) may take most of 8 s just to start, and
# sends slowly: there the clock starts at 17:59:00 and runs twice as fast
# (30 s real time for each).
clock='@2026-12-01 17:59:10 x6'
[ "${RIG_WAIT_SCALE:-1}" -le 1 ] || clock='@2026-12-01 17:59:00 x2'
iopd_start run "$CONF" "$clock" || { fail "iopd did not start"; finish; }
add_log "$IOPD_LOG"
check "the control socket is a socket, mode 0660" test "$(stat -c %F:%a "$SOCK")" = "socket:660"

# --- overrides before 18:00 -----------------------------------------------------
run pause ctl pause p-00002
check "pause p-00002: exit 0" test "$RC" -eq 0
check "pause: says so" grep -q "p-00002: paused" "$T/pause.stdout"
run optout ctl --json opt-out p-00003 hook
check "opt-out p-00003 hook (--json): exit 0" test "$RC" -eq 0
check "opt-out --json: {\"ok\":true,...}" "$PY" -c '
import json, sys; r = json.load(open(sys.argv[1])); assert r["ok"] is True and "p-00003" in r["message"], r' \
	"$T/optout.stdout"
run pause_unknown ctl pause nobody
check "pause of an unknown patient: exit 1" test "$RC" -eq 1
check "... says why on stderr" grep -q 'no patient "nobody"' "$T/pause_unknown.stderr"
run optout_unknown ctl --json opt-out p-00001 pigeon
check "opt-out of an unknown channel: exit 1" test "$RC" -eq 1
check "... --json error object on stderr" "$PY" -c '
import json, sys; r = json.load(open(sys.argv[1])); assert r["ok"] is False and "pigeon" in r["error"], r' \
	"$T/optout_unknown.stderr"
run agenda1 ctl --json agenda --from 2026-12-01T18:00:00Z --to 2026-12-01T18:02:00Z
check "agenda before 18:00: exit 0" test "$RC" -eq 0
check "agenda: the live schedule, statuses from the overrides" "$PY" - "$T/agenda1.stdout" "$T/agenda.jsonl" <<'PYEOF'
import json, sys
live = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ref = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert [r["id"] for r in live] == [r["id"] for r in ref], (live, ref)
st = {(r["patient"], r["due"][11:16]): r["status"] for r in live}
want = {"p-00001": "scheduled", "p-00002": "skipped:paused", "p-00003": "skipped:opt-out",
        "p-00004": "scheduled"}
for (p, t), s in st.items():
    assert s == want[p], (p, t, s)
PYEOF
run agenda_p ctl agenda --patient p-00002 --from 2026-12-01 --to 2026-12-02
check "agenda --patient (table): p-00002 only" "$PY" - "$T/agenda_p.stdout" <<'PYEOF'
import sys
rows = [l for l in open(sys.argv[1]) if l.strip()][1:]
assert rows and all("p-00002" in l for l in rows), rows
PYEOF
run agenda_bad ctl agenda --from yesterday
check "agenda with a bad time: exit 1" test "$RC" -eq 1

# --- 18:00 ---------------------------------------------------------------------------
want=$( (idof p-00001 18:00; idof p-00004 18:00) | sort)
check "18:00: p-00001 and p-00004 sent" waitfor '[ "$(sent_ids)" = "$want" ]' 20
sleep 1
check "18:00: nothing else (paused, opted out)" test "$(sent_ids)" = "$want"
check "ledger: p-00002's 18:00 skipped (paused)" \
	test "$(ledger_q "$DB" "SELECT status || ':' || reason FROM reminder WHERE id = $((16#$(idof p-00002 18:00)))")" = "skipped:paused"
check "ledger: p-00003's 18:00 skipped (opt-out)" \
	test "$(ledger_q "$DB" "SELECT status || ':' || reason FROM reminder WHERE id = $((16#$(idof p-00003 18:00)))")" = "skipped:opt-out"
run resume ctl resume p-00002
check "resume p-00002: exit 0" test "$RC" -eq 0
run optin ctl opt-in p-00003 hook
check "opt-in p-00003 hook: exit 0" test "$RC" -eq 0
run agenda2 ctl --json agenda --from 2026-12-01T18:00:00Z --to 2026-12-01T18:02:00Z
check "agenda after the sends: ledger statuses, and scheduled again after resume/opt-in" \
	"$PY" - "$T/agenda2.stdout" <<'PYEOF'
import json, sys
st = {(r["patient"], r["due"][11:16]): r["status"] for r in map(json.loads, open(sys.argv[1])) }
want = {("p-00001", "18:00"): "sent", ("p-00002", "18:00"): "skipped:paused",
        ("p-00003", "18:00"): "skipped:opt-out", ("p-00004", "18:00"): "sent"}
for p in ("p-00001", "p-00002", "p-00003", "p-00004"):
    want[(p, "18:01")] = "scheduled"
assert st == want, st
PYEOF
run agenda_t ctl agenda --from 2026-12-01T18:00:00Z --to 2026-12-01T18:02:00Z
check "agenda (table): a header and 8 rows" test "$(grep -c . "$T/agenda_t.stdout")" -eq 9

# --- 18:01 ---------------------------------------------------------------------------
check "18:01: all four sent (resumed, opted in)" \
	waitfor '[ "$(sent_ids | wc -l)" -eq 6 ]' 20
check "18:01: p-00002 and p-00003 among them" \
	test -n "$(sent_ids | grep -x "$(idof p-00002 18:01)")" -a -n "$(sent_ids | grep -x "$(idof p-00003 18:01)")"
waitfor "[ \$(ledger_q '$DB' \"SELECT count(*) FROM reminder WHERE status = 'sent'\") -eq 6 ]" 5 || true

# --- history --------------------------------------------------------------------------
run hist ctl --json history p-00002
check "history --json p-00002: exit 0" test "$RC" -eq 0
check "history: every outcome, and the pause and resume" "$PY" - "$T/hist.stdout" \
	"$(idof p-00002 18:00)" "$(idof p-00002 18:01)" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = [r for r in rows if "status" in r]
ovr = [r for r in rows if "override" in r]
got = {(r["id"], r["status"]) for r in out}
assert (sys.argv[2], "skipped") in got, rows
assert (sys.argv[3], "sent") in got, rows
assert any(r["status"] == "skipped" and r["reason"] == "paused" for r in out), out
assert any(r["status"] == "sent" and r["gateway_id"] for r in out), out
assert [r["override"] for r in ovr] == ["paused", "resumed"], ovr
assert all(r["source"] == "iopctl" for r in ovr), ovr
for r in out:
    assert set(r) >= {"at", "id", "kind", "channel", "due", "status", "attempt"}, r
PYEOF
run hist_t ctl history p-00003
check "history (text): the outcomes and 'opted out of hook' / 'opted in to'" \
	grep -q "opted out of hook" "$T/hist_t.stdout"
check "history (text): the opt-in" grep -q "opted in to hook (iopctl)" "$T/hist_t.stdout"
check "history (text): sent and skipped rows" \
	test "$(grep -c "$(idof p-00003 18:00)\|$(idof p-00003 18:01)" "$T/hist_t.stdout")" -eq 2
run hist_none ctl history nobody
check "history of a patient never seen: exit 0, a note" grep -q "not in the current configuration" "$T/hist_none.stdout"
check "no contact details or message text in history" \
	test -z "$(grep -i "time for your\|+1312555" "$T/hist.stdout" "$T/hist_t.stdout")"

# --- status -------------------------------------------------------------------------
run status ctl status
check "status: exit 0" test "$RC" -eq 0
for w in "iopd " "config:" "calendar:" "next due:" "delivery:" "ledger:" "today"; do
	check "status (text) shows '$w'" grep -q "^$w" "$T/status.stdout"
done
check "status (text): hook sent 6, skipped 2 today" \
	grep -Eq '^hook +6 +0 +0 +0 +2 +0$' "$T/status.stdout"
run status_j ctl --json status
check "status --json: parsed, right figures" "$PY" - "$T/status_j.stdout" "$CONF" <<'PYEOF'
import json, os, sys
s = json.load(open(sys.argv[1]))
assert s["ok"] is True and s["patients"] == 4 and s["programs"] == 1, s
assert os.path.realpath(s["config"]) == os.path.realpath(sys.argv[2]), s
assert s["uptime"] >= 0 and s["pid"] > 0 and s["version"], s
assert s["ledger"]["error"] is None and s["ledger"]["bytes"] > 0, s
ch = {c["name"]: c for c in s["channels"]}
assert set(ch) == {"hook", "bad"}, ch
assert ch["hook"]["today"]["sent"] == 6 and ch["hook"]["today"]["skipped"] == 2, ch
assert ch["hook"]["module"] == "webhook", ch
assert s["last_error"] is None, s
for k in ("loaded_at", "reloads", "reload_failures", "scheduled_series", "next_due",
          "queued", "in_flight", "waiting_retry"):
    assert k in s, k
PYEOF

# --- send-test -----------------------------------------------------------------------
n0=$(jsonl_count "$WEBHOOK_LOG")
run st ctl send-test hook "+12125550000"
check "send-test hook: exit 0" test "$RC" -eq 0
check "send-test: says delivered, with the gateway id" grep -q "delivered" "$T/st.stdout"
tid=$(sed -n 's/^test message \([0-9a-f]\{16\}\) .*/\1/p' "$T/st.stdout")
check "send-test: reached the sink, with its id as the idempotency key" \
	test "$(jsonl_count "$WEBHOOK_LOG" "r['idempotency_key'] == '$tid' and r['path'] == '/hook'")" -eq 1
check "send-test: a kind 'test' webhook body" test "$(jsonl_count "$WEBHOOK_LOG" \
	"r['idempotency_key'] == '$tid' and '\"kind\":\"test\"' in r['body']")" -eq 1
check "send-test: not in the ledger" \
	test "$(ledger_q "$DB" "SELECT count(*) FROM reminder WHERE patient = 'test'")" -eq 0
run st_bad ctl send-test bad "+12125550000"
check "send-test to a failing channel (404): exit 1" test "$RC" -eq 1
check "... says why" grep -q "permanent failure" "$T/st_bad.stderr"
check "... it did reach the (failing) gateway" \
	test "$(jsonl_count "$WEBHOOK_LOG" 'r["path"] == "/status/404/bad"')" -eq 1
run st_unknown ctl send-test pigeon x
check "send-test to an unknown channel: exit 1" test "$RC" -eq 1

# --- reload, metrics --------------------------------------------------------------------
run reload ctl reload
check "reload: exit 0, 'reloaded'" test "$RC" -eq 0 -a "$(cat "$T/reload.stdout")" = reloaded
run reload_j ctl --json reload
check "reload --json: ok true" "$PY" -c '
import json, sys; assert json.load(open(sys.argv[1]))["ok"] is True' "$T/reload_j.stdout"
run metrics ctl metrics
check "metrics: exit 0" test "$RC" -eq 0
check "metrics: valid Prometheus text, right counts" "$PY" - "$T/metrics.stdout" <<'PYEOF'
import re, sys
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
sample = re.compile(r"^(%s)(\{%s(?:,%s)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$" % (name, label, label))
types, samples = {}, {}
for ln in open(sys.argv[1]).read().splitlines():
    if not ln:
        continue
    if ln.startswith("# HELP "):
        assert re.match(r"^# HELP %s .+$" % name, ln), ln
        continue
    if ln.startswith("# TYPE "):
        m = re.match(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % name, ln)
        assert m, ln
        assert m.group(1) not in types, "TYPE twice: " + ln
        types[m.group(1)] = m.group(2)
        continue
    assert not ln.startswith("#"), ln
    m = sample.match(ln)
    assert m, "bad sample line: %r" % ln
    base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
    assert m.group(1) in types or base in types, "no TYPE for " + ln
    samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
k = 'iopd_reminders_total{kind="medication",channel="hook",status="sent"}'
assert samples.get(k) == 6, (k, samples.get(k))
k = 'iopd_reminders_total{kind="medication",channel="hook",status="skipped"}'
assert samples.get(k) == 2, (k, samples.get(k))
assert samples["iopd_reloads_total{result=\"ok\"}"] >= 2, samples
assert "iopd_reload_longest_stall_seconds" in samples, samples
assert samples["iopd_patients"] == 4, samples
PYEOF
check "metrics name no patient" test -z "$(grep "p-0000" "$T/metrics.stdout")"

# --- exit codes ----------------------------------------------------------------------
run unknown ctl frobnicate
check "unknown command: exit 2" test "$RC" -eq 2
run noargs "$IOPCTL" -s "$SOCK"
check "no command: exit 2" test "$RC" -eq 2
run arity ctl pause
check "pause without a patient: exit 2" test "$RC" -eq 2
run arity2 ctl opt-out p-00001
check "opt-out without a channel: exit 2" test "$RC" -eq 2
run badopt "$IOPCTL" --frobnicate status
check "unknown option: exit 2" test "$RC" -eq 2
run help "$IOPCTL" --help
check "--help: exit 0, usage on stdout" test "$RC" -eq 0 -a -s "$T/help.stdout"
run env_sock env IOPD_CONTROL_SOCKET="$SOCK" "$IOPCTL" status
check "IOPD_CONTROL_SOCKET names the socket" test "$RC" -eq 0
run nosock "$IOPCTL" -s "$T/nowhere.sock" status
check "no daemon at the socket: exit 3" test "$RC" -eq 3
check "... and says so" grep -q "cannot reach iopd" "$T/nosock.stderr"
iopd_stop
check "iopd stops cleanly" test "${STOP_RC:-1}" -eq 0
check "the socket is removed at stop" test ! -e "$SOCK"
run stopped ctl status
check "daemon not running: exit 3" test "$RC" -eq 3

# --- a ledger newer than this iopd ------------------------------------------------------
# (SQLite's file: iopd reaches a PostgreSQL ledger after its start, and
# refuses a newer schema there while running; pg_failover.sh checks that)
is_pg && iopd_finish
ledger_q "$DB" "PRAGMA user_version = 99" >/dev/null
run newer timeout 20 env TZ=UTC "$IOPD" -f -c "$CONF"
check "a ledger of schema 99: iopd exits 1" test "$RC" -eq 1
check "... with a clear message" grep -q "schema version 99, newer than this iopd knows" "$T/newer.stderr"
check "... and left it alone" test "$(ledger_q "$DB" "PRAGMA user_version")" -eq 99
check "... and no control socket behind" test ! -e "$SOCK"
iopd_finish
