#!/bin/bash
# durability_retry.sh - a reminder waiting for a retry when iopd stops
# (SIGTERM or kill -9) is resumed with the same id, but keeps its backoff and
# the patient's quiet hours: a restart does not turn it into a send at night.
# Faked clock; quiet hours 21:00-08:00; two patients' aftercare check-ins
# are due 2026-12-27 20:59 (valid 24 h).
#   1. 20:59: the gateway answers 503 with Retry-After: 120, so the retry
#      falls at 21:01, in quiet hours: it waits until 08:00; the ledger says
#      retry;
#   2. SIGTERM; restart at 21:05: nothing is sent (the retry still waits for
#      08:00), `iopctl status` counts 2 waiting to retry;
#   3. kill -9; restart at 07:59:57 the next day: both are sent once, at or
#      after 08:00 (fake), with the same id, attempt 2; the ledger says sent.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/durability_retry.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "durability_retry.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"
need curl

start_webhook
SOCK=$T/ctl.sock
DB=$T/state/ledger.db
gen_conf "$T/iopd.conf" --state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" \
	--patients 2 --quiet 21:00-08:00 --discharge 2026-12-20 --aftercare 20:59/7d
"$IOPD" agenda -c "$T/iopd.conf" --from 2026-12-27 --to 2026-12-28 >"$T/agenda.jsonl"
jsonl_field "$T/agenda.jsonl" 'r["id"]' | sort >"$T/ids"
check "two aftercare check-ins due 2026-12-27 20:59" \
	test "$(jsonl_count "$T/agenda.jsonl" 'r["due"] == "2026-12-27T20:59:00Z"')" -eq 2
curl -s -o /dev/null -X POST "$WEBHOOK_URL/__control?status=503&times=2&retry_after=120"
nreq() { sink_ids "$WEBHOOK_LOG" | wc -l; }
statuses() { ledger_q "$DB" "SELECT group_concat(status) FROM (SELECT status FROM reminder ORDER BY status) s"; }

# --- 1. the first attempt fails; the retry would fall in quiet hours ---------
iopd_start run1 "$T/iopd.conf" '2026-12-27 20:58:58'
add_log "$IOPD_LOG"
check "20:59: both attempted once" waitfor '[ "$(nreq)" -eq 2 ]' 10
check "the ledger says retry for both" waitfor '[ "$(statuses)" = "retry,retry" ]' 5
iopd_stop
check "run 1 stops cleanly" test "${STOP_RC:-1}" -eq 0

# --- 2. restarted at 21:05, in quiet hours --------------------------------------
iopd_start run2 "$T/iopd.conf" '2026-12-27 21:05:00'
add_log "$IOPD_LOG"
check "resumed, same ids" grep -q "resumed 2 reminder(s) left open" "$IOPD_LOG"
sleep 3
check "21:05: nothing sent during quiet hours" test "$(nreq)" -eq 2
ctl --json status >"$T/status.json" || true
check "iopctl status: 2 waiting to retry" "$PY" -c '
import json, sys; s = json.load(open(sys.argv[1])); assert s["waiting_retry"] == 2, s' "$T/status.json"
iopd_kill9

# --- 3. restarted just before 08:00 the next morning ------------------------------
iopd_start run3 "$T/iopd.conf" '2026-12-28 07:59:57'
add_log "$IOPD_LOG"
check "08:00: both retried" waitfor '[ "$(nreq)" -eq 4 ]' 10
check "the ledger says sent for both" waitfor '[ "$(statuses)" = "sent,sent" ]' 5
sleep 1
check "each sent exactly twice in all (the failed attempt and the retry)" \
	test "$(sink_ids "$WEBHOOK_LOG" | sort | uniq -c | awk '{print $1}' | sort -u)" = 2
check "same ids as the agenda's" test "$(sink_ids "$WEBHOOK_LOG" | sort -u)" = "$(cat "$T/ids")"
eight=$(date -u -d '2026-12-28 08:00:00' +%s)
check "the retries left at or after 08:00 (X-Iopd-Timestamp)" "$PY" - "$WEBHOOK_LOG" "$eight" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
late = [int(r["headers"]["X-Iopd-Timestamp"]) for r in recs[2:]]
assert len(late) == 2 and all(t >= int(sys.argv[2]) for t in late), late
PYEOF
check "attempt 2 in the ledger" \
	test "$(ledger_q "$DB" "SELECT group_concat(attempts) FROM reminder")" = "2,2"
iopd_stop
iopd_finish
