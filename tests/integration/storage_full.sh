#!/bin/bash
# storage_full.sh - the state directory fills up under a running iopd (a
# 2 MB tmpfs mounted there, as root; skipped where mounting is impossible),
# then gets space back.  50 prompts fall due at 18:00 (faked clock):
#   * iopd sends NOTHING it cannot record: the sink gets no request;
#   * it says why: the log ("ledger: cannot record ... full"), `iopctl
#     status` (CANNOT WRITE; --json: ledger.error);
#   * the filler removed, sending resumes by itself: all 50 sent once each,
#     recorded sent, nothing left inflight.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/storage_full.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "storage_full.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (mounts a tmpfs)"
need mount umount dd df

STATE=$T/state
mkdir -m 700 "$STATE"
mount -t tmpfs -o size=2m,mode=0700 iopd-test-full "$STATE" 2>/dev/null ||
	skip_all "cannot mount a tmpfs here"
# lazily, so it works while a process still holds a file there
RIG_STOPCMDS+=("umount -l $(printf %q "$STATE")")

start_webhook
SOCK=$T/ctl.sock
DB=$STATE/ledger.db
gen_conf "$T/iopd.conf" --state "$STATE" --socket "$SOCK" --url "$WEBHOOK_URL" --patients 50 --med 18:00
# the disk must be full before 18:00: 12 s, or 40 s for an iopd under
# valgrind (RIG_WAIT_SCALE > 1), slow to start
clock='2026-12-01 17:59:48'
[ "${RIG_WAIT_SCALE:-1}" -le 1 ] || clock='2026-12-01 17:59:20'
iopd_start run "$T/iopd.conf" "$clock"
add_log "$IOPD_LOG"
sleep 1                                 # the start mark is written
dd if=/dev/zero of="$STATE/filler" bs=4k 2>/dev/null || true
check "the state directory is full" test "$(df -k --output=avail "$STATE" | tail -1 | tr -d ' ')" -eq 0

# --- 18:00: due, but nothing can be recorded ---------------------------------------
check "the log says it cannot record, and stops sending" \
	waitfor "grep -q 'ledger: cannot record' '$IOPD_LOG'" 20
grep 'ledger: cannot record' "$IOPD_LOG" | head -1 | sed 's/^/# /'
check "... because the disk is full" grep -q "cannot record .*full.*no space left" "$IOPD_LOG"
sleep 2
check "the sink got no request" test "$(sink_ids "$WEBHOOK_LOG" | wc -l)" -eq 0
ctl status >"$T/status.txt" || true
check "iopctl status says CANNOT WRITE" grep -q "CANNOT WRITE" "$T/status.txt"
ctl --json status >"$T/status.json" || true
check "iopctl status --json: ledger.error, and 50 waiting" "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert "full" in s["ledger"]["error"], s
assert s["queued"] + s["in_flight"] == 50, s' "$T/status.json"

# --- space again ------------------------------------------------------------------
rm -f "$STATE/filler"
check "sending resumes by itself: 50 prompts" \
	waitfor '[ "$(sink_ids "$WEBHOOK_LOG" | sort -u | wc -l)" -eq 50 ]' 20
check "the log says it resumed" grep -q "writable again; sending resumes" "$IOPD_LOG"
sleep 1
check "none twice" test -z "$(sink_ids "$WEBHOOK_LOG" | sort | uniq -d)"
check "ledger: 50 sent" waitfor "[ \$(ledger_q '$DB' \"SELECT count(*) FROM reminder WHERE status = 'sent'\") -eq 50 ]" 5
check "ledger: nothing inflight" \
	test "$(ledger_q "$DB" "SELECT count(*) FROM reminder WHERE status = 'inflight'")" -eq 0
iopd_stop
check "stops cleanly" test "${STOP_RC:-1}" -eq 0
iopd_finish
