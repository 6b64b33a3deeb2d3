#!/bin/bash
# pg_outage.sh - SPEC 9: the shared ledger's server stops for 30 s in the
# middle of a run, then starts again.  Two instances, one configuration
# (lease 10 s, catch_up 17 s); 20 patients each get a reminder every 10 s
# from 10:00:00 to 10:01:20 but for 10:00:30 (fake clock, absolute, the
# same for both).  PostgreSQL stops (fast shutdown) at about 10:00:12-16
# and starts again 30 s later; the instances reconnect within their
# backoff (at most 5 s): the ledger is back at 10:00:42-52.
#   * while it is down nothing is sent (no claim can be committed), and each
#     instance says why: `iopctl status`, the log, STATUS= (sd_notify);
#     the control socket keeps answering at once;
#   * after it: the reminders due 10:00:20, overdue by more than catch_up
#     when the ledger came back (22 s at least), are recorded missed and
#     never sent (SPEC 6); everything due later (10:00:40 was due in the
#     outage too, but within catch_up: 12 s at most) is sent, each exactly
#     once;
#   * no request went out before its claim: per id, requests <= attempts.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/pg_outage.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "pg_outage.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"
. "$TESTS_DIR/integration/fixtures/pg_lib.sh"

OUTAGE=${OUTAGE:-30}
start_webhook
start_notify
sessions=
for k in 0 1 2 4 5 6 7 8; do              # due 10:00:00 + 10 k s (sessions at 10:10)
	sessions="$sessions${sessions:+,}s$k@10:10/$((600 - 10 * k))s"
done
for i in a b; do
	inst_conf "$i" --url "$WEBHOOK_URL" --patients 20 --sessions "$sessions" --catch-up 17s
done
"$IOPD" agenda -c "$T/a/iopd.conf" --from 2026-12-01T10:00:00Z --to 2026-12-01T10:01:30Z >"$T/agenda.jsonl"
check "the agenda has 160 reminders (20 every 10 s)" test "$(wc -l <"$T/agenda.jsonl")" -eq 160
ids_due() { # HH:MM:SS... -> ids of those dues
	local cond="False" t
	for t in "$@"; do cond="$cond or r['due'] == '2026-12-01T${t}Z'"; done
	jsonl_field "$T/agenda.jsonl" 'r["id"]' "$cond" | sort
}

IOPD_ENV=(NOTIFY_SOCKET="$NOTIFY_SOCKET")
IOPD_NOWAIT=1 inst_start a '@2026-12-01 09:59:55'
unset IOPD_ENV
IOPD_NOWAIT=1 inst_start b '@2026-12-01 09:59:55'
t0=$EPOCHREALTIME
inst_wait a
inst_wait b
waitfor "[ \$(sink_ids '$WEBHOOK_LOG' | sort -u | wc -l) -ge 40 ]" 30 ||
	fail "the reminders due 10:00:00 and 10:00:10 were not sent"
# stop at about 10:00:12 (fake), whatever start-up took
sleep "$("$PY" -c "import sys; print(max(0, 17 - (float(sys.argv[2]) - float(sys.argv[1]))))" "$t0" "$EPOCHREALTIME")"
pg_stop fast
stop_t=$EPOCHREALTIME
before=$(jsonl_count "$WEBHOOK_LOG")
echo "# PostgreSQL stopped; the sink had $before requests"

# --- while it is down ------------------------------------------------------
sleep 5
check "a: status says the ledger cannot be written, and why" \
	waitfor "inst_ctl a status | grep -q 'CANNOT WRITE: .*PostgreSQL'" 10
worst=0
for k in 1 2 3 4 5; do
	s=$EPOCHREALTIME
	inst_ctl b status >/dev/null
	ms=$("$PY" -c "import sys; print(int((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" "$s" "$EPOCHREALTIME")
	[ "$ms" -gt "$worst" ] && worst=$ms
	sleep 0.5
done
check "b: the control socket answers at once meanwhile (worst ${worst} ms)" test "$worst" -lt 1000
inst_ctl a --json status >"$T/down.json"
check "a: JSON status names the ledger's error" "$PY" -c '
import json, sys
e = json.load(open(sys.argv[1]))["ledger"]["error"]
assert e and "PostgreSQL" in e, e' "$T/down.json"
check "a: STATUS= says why nothing is sent" \
	grep -q 'LEDGER: .*PostgreSQL' "$NOTIFY_LOG"
check "the log says the connection was lost" grep -q "lost the connection to PostgreSQL" "${INST_LOG[a]}"
sleep "$("$PY" -c "import sys; print(max(0, $OUTAGE - (float(sys.argv[2]) - float(sys.argv[1]))))" "$stop_t" "$EPOCHREALTIME")"
during=$(jsonl_count "$WEBHOOK_LOG" "r['t'] > $stop_t + 0.5")
pg_start
start_t=$EPOCHREALTIME
check "nothing was sent while PostgreSQL was down ($during requests)" test "$during" -eq 0
echo "# PostgreSQL started again after $("$PY" -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$stop_t" "$start_t") s"

# --- after it --------------------------------------------------------------
want=$(ids_due 10:00:00 10:00:10 10:00:40 10:00:50 10:01:00 10:01:10 10:01:20)
missed=$(ids_due 10:00:20)
check "everything valid sent after the restart" \
	waitfor "[ \"\$(sink_ids '$WEBHOOK_LOG' | sort -u)\" = \"\$want\" ]" 60
check "those overdue by more than catch_up recorded missed" \
	waitfor "[ \$(pg_q \"SELECT count(*) FROM reminder WHERE status = 'missed' AND reason LIKE '%catch_up%'\") -eq 20 ]" 20
check "... and they are exactly the ones due 10:00:20" \
	test "$(pg_q "SELECT lpad(to_hex(id), 16, '0') FROM reminder WHERE status = 'missed'" | sort)" = "$missed"
check "no missed reminder reached the sink" test -z "$(comm -12 <(sink_ids "$WEBHOOK_LOG" | sort -u) <(echo "$missed"))"
check "each sent exactly once" test -z "$(sink_ids "$WEBHOOK_LOG" | sort | uniq -d)"
check "ledger: 140 sent, 20 missed, nothing open" \
	test "$(pg_q "SELECT string_agg(status || '=' || n, ',' ORDER BY status) FROM (SELECT status, count(*) n FROM reminder GROUP BY status) s")" = "missed=20,sent=140"
pg_q "SELECT lpad(to_hex(id), 16, '0'), attempts FROM reminder" | sort >"$T/attempts"
sink_ids "$WEBHOOK_LOG" >"$T/sent_all"
check "no request without its claim first (requests <= attempts, per id)" \
	"$PY" - "$T/attempts" "$T/sent_all" <<'PYEOF'
import collections, sys
att = dict(l.strip().split("|") for l in open(sys.argv[1]) if l.strip())
seen = collections.Counter(l.strip() for l in open(sys.argv[2]))
bad = [(i, n, att.get(i)) for i, n in seen.items() if n > int(att.get(i, 0))]
assert not bad, bad[:10]
PYEOF
check "a: status is clear again" waitfor "! inst_ctl a status | grep -q 'CANNOT WRITE'" 10
check "the log says sending resumed" grep -q "sending resumes" "${INST_LOG[a]}"
for i in a b; do inst_stop "$i"; done
iopd_finish
