#!/bin/bash
# reload_good.sh - a good reload under load.  Faked clock, ten times as fast,
# from 17:59:55: 300 patients take a prompt every minute 18:00..18:03 on the
# webhook channel "hook" (concurrency 8); patients 1-6 take theirs on the
# channel "slow" (concurrency 1, the sink answers after 0.5 s), so at any
# moment one of them is in flight and the others wait in the queue.
#   * At the 18:01 burst, as soon as the first "slow" request arrives, the
#     configuration gains p-00301..p-00320 and loses p-00006 (`iopctl
#     reload`).
#   * Around 18:02 it is reloaded again and again (same content), so the
#     18:02 burst falls due while reload threads parse.
# Then:
#   * nothing is sent twice (a reminder delivered before a reload is not
#     sent after it: same id), nothing is lost (every prompt of a patient in
#     both configurations is sent once);
#   * the "slow" send in flight at the reload completes (recorded sent);
#   * p-00006's queued 18:01 prompt is dropped (skipped, "removed from the
#     configuration") and not sent; nothing of it after that is sent;
#   * the new patients' prompts from 18:02 on are sent, none before;
#   * every request is recorded sent; nothing is left inflight.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/reload_good.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "reload_good.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"

start_webhook --delay 0.01
SOCK=$T/ctl.sock
DB=$T/state/ledger.db
CONF=$T/iopd.conf
MEDS=18:00,18:01,18:02,18:03
common=(--state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" --med "$MEDS" --timeout 60s
	--slow-url "$WEBHOOK_URL/delay/0.5/slow" --slow 6 --include)
mkdir "$T/old" "$T/new"
gen_conf "$T/old/iopd.conf" "${common[@]}" --patients 300
gen_conf "$T/new/iopd.conf" "${common[@]}" --patients 320 --skip p-00006
for c in old new; do
	"$IOPD" agenda -c "$T/$c/iopd.conf" --from 2026-12-01T18:00:00Z --to 2026-12-01T18:04:00Z >"$T/$c.jsonl"
done
cp -p "$T/old/iopd.conf" "$CONF"
cp -p "$T/old/iopd.conf.patients.inc" "$CONF.patients.inc"
# the new patient file in place, atomically
install_new() {
	cp -p "$T/new/iopd.conf.patients.inc" "$CONF.patients.inc.tmp"
	mv "$CONF.patients.inc.tmp" "$CONF.patients.inc"
}

R0=${EPOCHREALTIME/./}
iopd_start run "$CONF" '@2026-12-01 17:59:55 x10' || { fail "iopd did not start"; finish; }
add_log "$IOPD_LOG"
# real_at FAKE_SECONDS_AFTER_START: sleep until then (x10)
real_at() { local us=$((R0 + $1 * 100000 - ${EPOCHREALTIME/./})); [ "$us" -le 0 ] || sleep "$((us / 1000000)).$(printf %06d $((us % 1000000)))"; }

# --- the 18:01 burst: reload with patients added and one removed ------------------
slow_reqs() { jsonl_count "$WEBHOOK_LOG" 'r["path"].endswith("/slow")'; }
check "18:00: the slow channel's six prompts go out" waitfor '[ "$(slow_reqs)" -ge 6 ]' 30
waitfor '[ "$(slow_reqs)" -ge 7 ]' 30 || true       # 18:01: the first one is in flight
install_new
rc=0
ctl reload >"$T/reload1.out" 2>&1 || rc=$?
add_log "$T/reload1.out"
check "reload 1 (added 20, removed p-00006) under load: exit 0" test "$rc" -eq 0
inflight_id=$(jsonl_field "$WEBHOOK_LOG" 'r["idempotency_key"]' 'r["path"].endswith("/slow")' | sed -n 7p)
sent_before=$(sink_ids "$WEBHOOK_LOG" | sort -u)

# --- reloads again and again across 18:02 -------------------------------------
real_at 118
n=0 bad=0
while [ "${EPOCHREALTIME/./}" -lt $((R0 + 130 * 100000)) ]; do
	ctl reload >/dev/null 2>&1 || bad=$((bad + 1))
	n=$((n + 1))
done
check "$n reloads across the 18:02 burst, all exit 0" test "$bad" -eq 0

# --- wait for 18:03's burst to be done ------------------------------------------------
"$PY" - "$T/old.jsonl" "$T/new.jsonl" >"$T/expect" <<'PYEOF'
import json, sys
old = [json.loads(l) for l in open(sys.argv[1])]
new = [json.loads(l) for l in open(sys.argv[2])]
oldp = {r["patient"] for r in old}
newp = {r["patient"] for r in new}
both = sorted(r["id"] for r in old if r["patient"] in newp)
gone = [r for r in old if r["patient"] not in newp]
added = [r for r in new if r["patient"] not in oldp]
print("BOTH", *both)
print("GONE_00", *[r["id"] for r in gone if r["due"].endswith("18:00:00Z")])
print("GONE_01", *[r["id"] for r in gone if r["due"].endswith("18:01:00Z")])
print("GONE_LATER", *[r["id"] for r in gone if r["due"] >= "2026-12-01T18:02"])
print("NEW_EARLY", *[r["id"] for r in added if r["due"] < "2026-12-01T18:02"])
print("NEW_LATER", *[r["id"] for r in added if r["due"] >= "2026-12-01T18:02"])
PYEOF
get() { grep "^$1 " "$T/expect" | cut -d' ' -f2- | tr ' ' '\n' | grep . | sort || true; }
nexp=$(($(get BOTH | wc -l) + $(get GONE_00 | wc -l) + $(get NEW_LATER | wc -l)))
check "all $nexp expected prompts reach the sink" \
	waitfor '[ "$(sink_ids "$WEBHOOK_LOG" | sort -u | wc -l)" -ge '"$nexp"' ]' 40
sleep 1
sink_ids "$WEBHOOK_LOG" | sort >"$T/sent_all"
sort -u "$T/sent_all" >"$T/sent"
echo "# $(wc -l <"$T/sent_all") requests, $(wc -l <"$T/sent") reminders, $((n + 1)) reloads"
check "no duplicate" test -z "$(uniq -d "$T/sent_all")"
check "nothing lost: every prompt of a patient in both configurations sent" \
	test -z "$(comm -23 <(get BOTH) "$T/sent")"
check "a reminder delivered before the reload is not sent after it" \
	test "$(comm -12 <(echo "$sent_before") "$T/sent_all" | wc -l)" -eq "$(echo "$sent_before" | grep -c .)"
check "p-00006's 18:00 prompt (before the reload) sent" test -z "$(comm -23 <(get GONE_00) "$T/sent")"
check "p-00006's queued 18:01 prompt not sent" test -z "$(comm -12 <(get GONE_01) "$T/sent")"
g01=$(get GONE_01)
check "... and recorded skipped: removed from the configuration" \
	test "$(ledger_q "$DB" "SELECT status || ':' || reason FROM reminder WHERE id = $((16#$g01))")" = \
	"skipped:removed from the configuration"
check "p-00006's later prompts never sent" test -z "$(comm -12 <(get GONE_LATER) "$T/sent")"
check "... nor recorded" test "$(for i in $(get GONE_LATER); do ledger_q "$DB" "SELECT id FROM reminder WHERE id = $((16#$i))"; done | wc -l)" -eq 0
check "the new patients' prompts from 18:02 on sent" test -z "$(comm -23 <(get NEW_LATER) "$T/sent")"
check "none of theirs from before the reload" test -z "$(comm -12 <(get NEW_EARLY) "$T/sent")"
check "nothing else reached the sink" \
	test -z "$(comm -13 <( (get BOTH; get GONE_00; get NEW_LATER) | sort) "$T/sent")"
check "the slow send in flight at the reload ($inflight_id) completed: sent" \
	test "$(ledger_q "$DB" "SELECT status FROM reminder WHERE id = $((16#${inflight_id:-0}))")" = sent
check "ledger: every request recorded sent" \
	test "$(ledger_q "$DB" "SELECT count(*) FROM reminder WHERE status = 'sent'")" -eq "$(wc -l <"$T/sent")"
check "ledger: nothing inflight or retry" \
	test "$(ledger_q "$DB" "SELECT count(*) FROM reminder WHERE status IN ('inflight', 'retry')")" -eq 0
check "the log counts the reloads" test "$(grep -c 'loop paused' "$IOPD_LOG")" -eq $((n + 1))
iopd_stop
check "stops cleanly" test "${STOP_RC:-1}" -eq 0
iopd_finish
