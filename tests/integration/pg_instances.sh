#!/bin/bash
# pg_instances.sh - SPEC 9: three iopd instances, one configuration, one
# PostgreSQL ledger (a private cluster started here).  A burst of 3,000
# reminders due at the same second, to the loopback webhook sink; every
# instance runs the whole schedule under the same absolute fake clock.
#   * every reminder reaches the sink exactly once (but for a retry after a
#     transient failure, which the ledger records), and each instance sent
#     some of them (the ledger's outcomes name the instance);
#   * no request before its claim: per id, requests <= attempts;
#   * the ledger has all 3,000 sent, nothing left in flight;
#   * `iopctl status` (text and JSON) on any instance lists the three, live,
#     with the same fingerprint, and nobody logged a differing one;
#   * a clean stop releases the instance's claims and marks it stopped.
#
# PATIENTS (3000) overrides the burst's size.
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/pg_instances.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "pg_instances.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"
. "$TESTS_DIR/integration/fixtures/pg_lib.sh"

N=${PATIENTS:-3000}
start_webhook --delay 0.01
for i in a b c; do
	inst_conf "$i" --url "$WEBHOOK_URL" --patients "$N" --med 10:00 --include
done
"$IOPD" agenda -c "$T/a/iopd.conf" --from 2026-12-01T10:00:00Z --to 2026-12-01T10:00:01Z |
	"$PY" -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin]' | sort >"$T/expected"
check "the agenda has $N reminders due at 10:00" test "$(wc -l <"$T/expected")" -eq "$N"

# the three start together, their clocks at the same fake instant
for i in a b c; do IOPD_NOWAIT=1 inst_start "$i" '@2026-12-01 09:59:52'; done
for i in a b c; do inst_wait "$i"; done
check "all three run before the burst is due" \
	test "$(jsonl_count "$WEBHOOK_LOG")" -eq 0
waitfor "[ \$(pg_q \"SELECT count(*) FROM reminder WHERE status = 'sent'\") -ge $N ]" 90 || true
sleep 1

sink_ids "$WEBHOOK_LOG" >"$T/sent_all"
sort -u "$T/sent_all" >"$T/sent_unique"
check "every reminder reached the sink" test -z "$(comm -23 "$T/expected" "$T/sent_unique")"
check "nothing else reached the sink" test -z "$(comm -13 "$T/expected" "$T/sent_unique")"
# a request the sink logged but whose answer the instance did not get (the
# loopback sink drops connections under load) is retried, with the same id:
# that is the gateway's at-least-once, recorded as a retry; anything else
# sent twice would be two instances sending it
sort "$T/sent_all" | uniq -d >"$T/dups"
pg_q "SELECT DISTINCT lpad(to_hex(id), 16, '0') FROM outcome WHERE status = 'retry'" | sort >"$T/retried"
echo "# $(wc -l <"$T/sent_all") requests for $N reminders; $(wc -l <"$T/retried") retried after a transient failure"
check "each exactly once, but for the retries a failure caused" test -z "$(comm -23 "$T/dups" "$T/retried")"
check "one outcome 'sent' per reminder, by one instance" \
	test "$(pg_q "SELECT count(*) FROM (SELECT id FROM outcome WHERE status = 'sent' GROUP BY id HAVING count(*) > 1) d")" -eq 0
total=0
for i in a b c; do
	n=$(sent_by "$i" | wc -l)
	echo "# instance $i sent $n"
	total=$((total + n))
	check "instance $i sent some" test "$n" -gt 0
done
check "the instances' outcomes add up to $N ($total)" test "$total" -eq "$N"
check "ledger: $N sent" test "$(pg_q "SELECT count(*) FROM reminder WHERE status = 'sent'")" -eq "$N"
check "ledger: nothing in flight" test "$(pg_q "SELECT count(*) FROM reminder WHERE status <> 'sent'")" -eq 0
pg_q "SELECT lpad(to_hex(id), 16, '0'), attempts FROM reminder" | sort >"$T/attempts"
check "no request without its claim first (requests <= attempts, per id)" \
	"$PY" - "$T/attempts" "$T/sent_all" <<'PYEOF'
import collections, sys
att = dict(l.strip().split("|") for l in open(sys.argv[1]) if l.strip())
seen = collections.Counter(l.strip() for l in open(sys.argv[2]))
bad = [(i, n, att.get(i)) for i, n in seen.items() if n > int(att.get(i, 0))]
assert not bad, bad[:10]
PYEOF

# --- status lists every instance ------------------------------------------------
sleep 1                                    # a heartbeat read the others
inst_ctl b status >"$T/status.txt"
sed 's/^/# /' "$T/status.txt"
check "status (text) lists the three instances, live" \
	test "$(grep -cE '^  [abc] +[0-9a-f]{16} .* live' "$T/status.txt")" -eq 3
check "status (text) marks this one" grep -qE '^  b .*\(this one\)' "$T/status.txt"
inst_ctl b --json status >"$T/status.json"
check "status (JSON): backend, instance, three live instances, one fingerprint" "$PY" - "$T/status.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))["ledger"]
assert s["backend"] == "postgresql" and s["instance"] == "b", s
names = sorted(i["name"] for i in s["instances"] if i["live"])
assert names == ["a", "b", "c"], s["instances"]
assert len({i["fingerprint"] for i in s["instances"]}) == 1, s["instances"]
assert [i["self"] for i in s["instances"]] == [False, True, False], s["instances"]
assert all(i["heartbeat_age"] < 5 for i in s["instances"]), s["instances"]
PYEOF
check "no instance warned about a differing configuration" \
	test -z "$(grep -l 'different configuration' "${INST_LOG[a]}" "${INST_LOG[b]}" "${INST_LOG[c]}" || true)"

# --- a clean stop releases --------------------------------------------------------
inst_stop c
check "instance c exits 0 on SIGTERM" test "${STOP_RC:-1}" -eq 0
check "instance c: stopped in the ledger, no claim left" \
	test "$(pg_q "SELECT stopped, (SELECT count(*) FROM reminder WHERE owner = 'c' AND status IN ('inflight', 'retry')) FROM instance WHERE name = 'c'")" = "t|0"
sleep 1
check "status on a shows c stopped" waitfor "inst_ctl a status | grep -qE '^  c .*stopped'" 10
for i in a b; do inst_stop "$i"; done
iopd_finish
