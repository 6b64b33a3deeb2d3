#!/bin/bash
# durability_kill9.sh - SPEC 6 under kill -9.  A burst of reminders due at
# the same instant goes out through a webhook channel (concurrency 8) to the
# loopback sink, which answers after a small delay; iopd is killed with
# SIGKILL at random moments (some during start-up) and restarted, again and
# again, then left to finish.  Two bursts:
#   A. 3000 reminders, 10 kills, no rate limit;
#   B. 200 reminders, 4 kills, rate 20/s: most of the burst waits in the
#      channel's queue (offered, not yet claimed) when iopd dies, and what
#      was sent before a restart must not hold up the rest after it.
# For each:
#   * every reminder of the burst reached the sink (nothing lost), and no
#     other request did;
#   * the ids sent before a kill and sent again after it are at most the
#     channel's concurrency, for every kill (only the sends in flight at
#     the crash repeat), and no id is sent twice within one run;
#   * B: the last run sends again at once (within 1.5 s of its start);
#   * after each kill the ledger had at most `concurrency` rows inflight,
#     and its mark had not passed the burst while part of it had no row yet
#     (so the restart offers the rest again);
#   * no request left before its claim was durable: for each id, requests
#     seen by the sink <= attempts in the ledger;
#   * the ledger says sent for all, and no row is left inflight.
#
# ROUNDS (10), PATIENTS (3000), SEED (random) override burst A's defaults.
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/durability_kill9.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "durability_kill9.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"

CONC=8
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
echo "# seed $SEED"
start_webhook --delay 0.02
SOCK=$T/ctl.sock

# burst NAME PATIENTS ROUNDS 'YYYY-MM-DD HH:MM' [gen_conf args]
burst() {
	local name=$1 patients=$2 rounds=$3 due=$4 k
	shift 4
	local dir=$T/$name
	local db=$dir/state/ledger.db due_s
	due_s=$(date -u -d "$due" +%s)
	mkdir -p "$dir"
	echo "# burst $name: $patients reminders due $due, $rounds kills, concurrency $CONC $*"
	gen_conf "$dir/iopd.conf" --state "$dir/state" --socket "$SOCK" --url "$WEBHOOK_URL/$name" \
		--patients "$patients" --med "${due#* }" --concurrency "$CONC" --include "$@"
	"$IOPD" agenda -c "$dir/iopd.conf" --from "${due/ /T}:00Z" --to "${due/ /T}:01Z" |
		"$PY" -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin]' | sort >"$dir/expected"
	check "$name: the agenda has $patients reminders due at $due" \
		test "$(wc -l <"$dir/expected")" -eq "$patients"
	# this burst's requests only, in the order the sink got them
	lines() { jsonl_count "$WEBHOOK_LOG" "r['path'] == '/$name/hook'"; }
	ids() { jsonl_field "$WEBHOOK_LOG" 'r["idempotency_key"]' "r['path'] == '/$name/hook'"; }

	# One timeline for every run, from 2 s before the burst: each restart
	# continues where the killed run was (tests/lib.sh, timeline_now).
	local bounds=(0) inflight=() marks_ok=0 start_fail=0 rows mark
	timeline_begin "$(fmt_date $((due_s - 2)))"
	for ((k = 1; k <= rounds; k++)); do
		if [ $((k % 4)) -eq 0 ]; then
			# a kill during start-up: reconciliation, re-offers, first batches
			IOPD_NOWAIT=1 iopd_start "$name-run$k" "$dir/iopd.conf" "$(timeline_now)"
			sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
		else
			iopd_start "$name-run$k" "$dir/iopd.conf" "$(timeline_now)" || start_fail=$((start_fail + 1))
			[ "$k" -ne 1 ] || waitfor "[ \$(lines) -gt 0 ]" 20 || true   # the burst began
			sleep "$((RANDOM % 2 + ${KILL_MIN:-0})).$((RANDOM % 10))$((RANDOM % 10))"
		fi
		iopd_kill9
		sleep 0.3                       # requests already on the wire land
		bounds+=("$(lines)")
		inflight+=("$(ledger_q "$db" "SELECT count(*) FROM reminder WHERE status = 'inflight'" 2>/dev/null || echo 0)")
		rows=$(ledger_q "$db" "SELECT count(*) FROM reminder" 2>/dev/null || echo 0)
		mark=$(ledger_mark "$db" 2>/dev/null || echo 0)
		# part of the burst has no row yet: the mark must not have passed it
		if [ "$rows" -lt "$patients" ] && [ "${mark:-0}" -gt "$due_s" ]; then
			echo "# kill $k: mark $mark passed the burst ($due_s) with $rows/$patients rows" >&2
		else
			marks_ok=$((marks_ok + 1))
		fi
		echo "# $name kill $k: sink has ${bounds[$k]} requests; ledger: ${inflight[$((k - 1))]} inflight, $rows rows, mark $((${mark:-0} - due_s)) s after due"
	done
	check "$name: every run started ($start_fail failed)" test "$start_fail" -eq 0
	check "$name: at every kill the mark had not passed reminders without a row" \
		test "$marks_ok" -eq "$rounds"

	local before=${bounds[$rounds]} t0 first
	iopd_start "$name-final" "$dir/iopd.conf" "$(timeline_now)"
	# from its first answer: how long a start takes (a sanitizer build on a
	# loaded machine: over 2 s) is not what this measures
	t0=${EPOCHREALTIME/./}
	add_log "$IOPD_LOG"
	waitfor "[ \$(lines) -gt $before ]" 30 || true
	first=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
	echo "# $name: the last run's first send came $first ms after it answered"
	# what was sent before must not hold up the rest (it took the rate's
	# tokens, and the claims' slots, before iopd looked the ledger up first)
	[ "${RATED:-0}" = 0 ] ||
		check "$name: the last run sends again within 1.5 s of answering ($first ms)" test "$first" -le 1500
	waitfor "[ \$(ledger_q '$db' \"SELECT count(*) FROM reminder WHERE status = 'sent'\") -ge $patients ]" 60 || true
	iopd_stop
	check "$name: the last run exits 0 on SIGTERM" test "${STOP_RC:-1}" -eq 0
	bounds+=("$(lines)")

	# --- the sink's view ------------------------------------------------------
	ids >"$dir/sent_all"
	sort -u "$dir/sent_all" >"$dir/sent_unique"
	check "$name: nothing lost: every reminder reached the sink" \
		test -z "$(comm -23 "$dir/expected" "$dir/sent_unique")"
	check "$name: nothing else reached the sink" test -z "$(comm -13 "$dir/expected" "$dir/sent_unique")"
	local dups=$(($(wc -l <"$dir/sent_all") - $(wc -l <"$dir/sent_unique")))
	echo "# $name: $(wc -l <"$dir/sent_all") requests for $(wc -l <"$dir/sent_unique") reminders: $dups duplicates over $rounds kills"
	check "$name: duplicates ($dups) <= concurrency x kills ($((CONC * rounds)))" test "$dups" -le $((CONC * rounds))
	# per run: ids sent in run k and again in a later run were in flight at kill k
	"$PY" - "$dir/sent_all" "$CONC" "${bounds[@]}" >"$dir/perkill" <<'PYEOF' || true
import sys
ids = [l.strip() for l in open(sys.argv[1]) if l.strip()]
conc, bounds = int(sys.argv[2]), [int(b) for b in sys.argv[3:]]
runs = [ids[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]
bad, again_all = 0, []
for k, run in enumerate(runs):
    later = set(x for r in runs[k + 1:] for x in r)
    again = len(set(run) & later)
    twice = len(run) - len(set(run))
    if k < len(runs) - 1:
        again_all.append(again)
    if again > conc or twice:
        bad += 1
        print("run %d: %d requests, %d sent again later, %d twice within the run"
              % (k + 1, len(run), again, twice))
print("sent again after each kill: %s" % " ".join(map(str, again_all)))
print("BAD %d" % bad)
PYEOF
	sed 's/^/# /' "$dir/perkill"
	check "$name: per kill, sent again <= concurrency ($CONC); nothing twice within a run" \
		grep -qx "BAD 0" "$dir/perkill"
	local maxif=0 n
	for n in "${inflight[@]}"; do [ "$n" -gt "$maxif" ] && maxif=$n; done
	echo "# $name: ledger rows inflight after each kill: ${inflight[*]}"
	check "$name: after each kill at most $CONC rows inflight (max $maxif)" test "$maxif" -le "$CONC"

	# --- the ledger's view ----------------------------------------------------
	check "$name: ledger: all $patients sent" \
		test "$(ledger_q "$db" "SELECT count(*) FROM reminder WHERE status = 'sent'")" -eq "$patients"
	check "$name: ledger: no row left inflight, nothing else" \
		test "$(ledger_q "$db" "SELECT count(*) FROM reminder WHERE status <> 'sent'")" -eq 0
	ledger_q "$db" "SELECT printf('%016x', id), attempts FROM reminder" | sort >"$dir/attempts"
	check "$name: no request without a durable claim first (requests <= attempts, per id)" \
		"$PY" - "$dir/attempts" "$dir/sent_all" <<'PYEOF'
import collections, sys
att = dict(l.strip().split("|") for l in open(sys.argv[1]))
seen = collections.Counter(l.strip() for l in open(sys.argv[2]))
bad = [(i, n, att.get(i)) for i, n in seen.items() if n > int(att.get(i, 0))]
assert not bad, bad[:10]
PYEOF
}

burst A "${PATIENTS:-3000}" "${ROUNDS:-10}" '2026-12-01 18:00'
RATED=1 KILL_MIN=1 burst B 200 4 '2026-12-01 19:00' --rate 20
iopd_finish
