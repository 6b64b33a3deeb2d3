#!/bin/bash
# durability_quiet_catchup.sh - a reminder that fell due while iopd was down
# and is caught up at start during the patient's quiet hours waits for the
# morning, like a retry would, and is not lost by a crash meanwhile.
# Faked clock; quiet hours 21:00-08:00; catch_up 2h; two patients' aftercare
# check-ins are due 2026-12-27 20:59 (valid 24 h).
#   1. iopd runs at 20:58:50 and stops before 20:59: nothing is sent;
#   2. restarted at 21:10 (overdue 11 min, within catch_up): nothing is sent
#      at night; the ledger says retry ("quiet hours");
#   3. kill -9; restarted at 07:59:57: both are sent once, at or after 08:00.
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "durability_quiet_catchup.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"

start_webhook
SOCK=$T/ctl.sock
DB=$T/state/ledger.db
gen_conf "$T/iopd.conf" --state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" \
	--patients 2 --quiet 21:00-08:00 --catch-up 2h --discharge 2026-12-20 --aftercare 20:59/7d
nreq() { sink_ids "$WEBHOOK_LOG" | wc -l; }
statuses() { ledger_q "$DB" "SELECT group_concat(status) FROM (SELECT status FROM reminder ORDER BY status) s"; }

# --- 1. up before the due time, down at it ------------------------------------
iopd_start run1 "$T/iopd.conf" '2026-12-27 20:58:50'
add_log "$IOPD_LOG"
iopd_stop
check "run 1 stops cleanly, before 20:59" test "${STOP_RC:-1}" -eq 0
check "nothing sent yet" test "$(nreq)" -eq 0

# --- 2. back at 21:10: overdue within catch_up, but in quiet hours ------------
iopd_start run2 "$T/iopd.conf" '2026-12-27 21:10:00'
add_log "$IOPD_LOG"
check "the ledger holds both, waiting" waitfor '[ "$(statuses)" = "retry,retry" ]' 10
sleep 2
check "21:10: nothing sent during quiet hours" test "$(nreq)" -eq 0
check "the reason names quiet hours" \
	test "$(ledger_q "$DB" "SELECT count(*) FROM reminder WHERE reason LIKE '%quiet hours%'")" -eq 2
iopd_kill9

# --- 3. the crash lost nothing: sent in the morning ---------------------------
iopd_start run3 "$T/iopd.conf" '2026-12-28 07:59:57'
add_log "$IOPD_LOG"
check "08:00: both sent" waitfor '[ "$(nreq)" -eq 2 ]' 10
check "the ledger says sent for both" waitfor '[ "$(statuses)" = "sent,sent" ]' 5
eight=$(date -u -d '2026-12-28 08:00:00' +%s)
check "sent at or after 08:00 (X-Iopd-Timestamp)" "$PY" - "$WEBHOOK_LOG" "$eight" <<'PYEOF'
import json, sys
ts = [int(json.loads(l)["headers"]["X-Iopd-Timestamp"]) for l in open(sys.argv[1]) if l.strip()]
assert len(ts) == 2 and all(t >= int(sys.argv[2]) for t in ts), ts
PYEOF
iopd_stop
iopd_finish
