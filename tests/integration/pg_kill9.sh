#!/bin/bash
# pg_kill9.sh - SPEC 9 and 6 under kill -9: three instances share one
# PostgreSQL ledger (lease 5 s); in the middle of a burst of 3,000
# reminders, instance b is killed with SIGKILL.
#   * every reminder reaches the sink;
#   * a reminder sent twice is one b had in flight when it died (b logged
#     its send, never its outcome): at most the channel's concurrency, and
#     its second send came only after b's lease ran out; nothing the live
#     instances sent went out twice;
#   * b's claims were taken over and sent by a or c, with the same id;
#   * b started again at once takes its own name back (its pid is gone),
#     without waiting for the lease.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/pg_kill9.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "pg_kill9.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"
. "$TESTS_DIR/integration/fixtures/pg_lib.sh"

N=${PATIENTS:-3000}
CONC=8
LEASE=5
start_webhook --delay 0.05
for i in a b c; do
	LEASE=${LEASE}s inst_conf "$i" --url "$WEBHOOK_URL" --patients "$N" --med 10:00 --include \
		--concurrency "$CONC"
done
"$IOPD" agenda -c "$T/a/iopd.conf" --from 2026-12-01T10:00:00Z --to 2026-12-01T10:00:01Z |
	"$PY" -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin]' | sort >"$T/expected"
check "the agenda has $N reminders due at 10:00" test "$(wc -l <"$T/expected")" -eq "$N"

for i in a b c; do IOPD_NOWAIT=1 inst_start "$i" '@2026-12-01 09:59:52'; done
for i in a b c; do inst_wait "$i"; done
# b dies once the burst is well under way and b has sent part of it
waitfor "[ \$(jsonl_count '$WEBHOOK_LOG') -ge $((N / 5)) ] && [ \$(sent_by b | wc -l) -ge 20 ]" 60 ||
	fail "the burst did not get under way"
check "b killed, and its server sessions ended" inst_kill9 b
# b's lease ends LEASE after its last heartbeat, in the server's clock (this
# machine's): taken from the ledger, since on a loaded machine that beat
# may be well over a tick (lease / 6) before the kill
beat_age=$(pg_q "SELECT extract(epoch FROM clock_timestamp() - heartbeat) FROM instance WHERE name = 'b'")
lease_end=$("$PY" -c "print($EPOCHREALTIME - $beat_age + $LEASE)")
echo "# b's last heartbeat $(printf '%.2f' "$("$PY" -c "print($KILLED_AT - $lease_end + $LEASE)")") s before the kill"
held=$(pg_q "SELECT count(*) FROM reminder WHERE owner = 'b' AND status = 'inflight'")
pg_q "SELECT lpad(to_hex(id), 16, '0') FROM reminder WHERE owner = 'b' AND status = 'inflight'" |
	sort >"$T/held_by_b"
echo "# b killed with $held claims in flight; the sink had $(jsonl_count "$WEBHOOK_LOG") requests"
check "b held at most its concurrency in flight ($held <= $CONC)" test "$held" -le "$CONC"
waitfor "[ \$(pg_q \"SELECT count(*) FROM reminder WHERE status = 'sent'\") -ge $N ]" 120 || true
sleep 1

sink_ids "$WEBHOOK_LOG" >"$T/sent_all"
sort -u "$T/sent_all" >"$T/sent_unique"
check "nothing lost: every reminder reached the sink" test -z "$(comm -23 "$T/expected" "$T/sent_unique")"
check "ledger: all $N sent, nothing in flight" \
	test "$(pg_q "SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FROM reminder")" = "$N|$N"
sort "$T/sent_all" | uniq -d >"$T/dups"
sending_logged b | sort -u >"$T/b_sending"
sed -n 's/.*] sent (attempt.*reminder \([0-9a-f]\{16\}\)).*/\1/p' "${INST_LOG[b]}" | sort -u >"$T/b_sent"
comm -23 "$T/b_sending" "$T/b_sent" >"$T/b_inflight"
echo "# duplicates: $(wc -l <"$T/dups"); b's sends without an outcome: $(wc -l <"$T/b_inflight")"
check "duplicates ($(wc -l <"$T/dups")) <= concurrency ($CONC)" test "$(wc -l <"$T/dups")" -le "$CONC"
check "every duplicate was in flight at b when it died" test -z "$(comm -23 "$T/dups" "$T/b_inflight")"
for i in a c; do sent_by "$i"; done | sort >"$T/ac_sent"
check "b's claims were taken over and sent by a or c" test -z "$(comm -23 "$T/held_by_b" "$T/ac_sent")"
check "the duplicates' second sends came after b's lease ran out" "$PY" - "$WEBHOOK_LOG" "$T/dups" \
	"$lease_end" <<'PYEOF'
import json, sys
log, dups, lease_end = sys.argv[1], set(open(sys.argv[2]).read().split()), float(sys.argv[3])
times = {}
for line in open(log):
    r = json.loads(line)
    if r.get("idempotency_key") in dups:
        times.setdefault(r["idempotency_key"], []).append(r["t"])
# 0.1 s: the sink's clock follows the test's to within its 10 ms steps, and
# lease_end was read a query later than the beat's age
early = [(i, t[1] - lease_end) for i, t in times.items() if t[1] < lease_end - 0.1]
print("# second sends, seconds after b's lease ended: %s" % sorted(round(t[1] - lease_end, 2) for t in times.values()))
assert not early, early
PYEOF

# --- b again, at once ---------------------------------------------------------------
inst_start b '@2026-12-01 10:05:00'
check "b restarted takes its name back (its last run's pid is gone)" \
	waitfor "grep -q 'registered as instance b' '${INST_LOG[b]}'" 10
check "... without waiting for a lease" test -z "$(grep 'registered by a running iopd' "${INST_LOG[b]}" || true)"
for i in a b c; do inst_stop "$i"; done
iopd_finish
