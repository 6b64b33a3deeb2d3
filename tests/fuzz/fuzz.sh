#!/bin/sh
# fuzz.sh - `make fuzz` in a build configured with --enable-fuzzing:
#
#   fuzz.sh FUZZDIR TARGET...      (FUZZDIR: tests/fuzz of the sources)
#
# For each target: every input of FUZZDIR/corpus/NAME is run once (the
# regression inputs), then libFuzzer runs for $FUZZ_SECONDS (default 60)
# from that corpus, with FUZZDIR/dict/NAME.dict when there is one.  New
# inputs go to fuzz-out/NAME/new, a crash, leak, timeout or failed
# invariant to fuzz-out/NAME/ (crash-*, leak-*, timeout-*): copy it into
# the corpus once the fault is fixed.  $FUZZ_JOBS targets run at once
# (default 1).  One line "PASS: NAME" or "FAIL: NAME" per target, then
# "N passed, N failed"; the exit status is 1 if any target failed.
set -u
fuzzdir=$1
shift
: "${FUZZ_SECONDS:=60}" "${FUZZ_JOBS:=1}"
out=$PWD/fuzz-out

if [ "${1:-}" = --one ]; then           # one target (run through xargs below)
	t=$2
	name=$(basename "$t")
	dir=$out/$name
	rm -rf "$dir" && mkdir -p "$dir/new" "$dir/tmp"
	log=$dir/log
	dict=
	[ -f "$fuzzdir/dict/$name.dict" ] && dict=-dict=$fuzzdir/dict/$name.dict
	# each target's scratch folders under the build, not in /tmp
	export TMPDIR="$dir/tmp"
	export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1:allocator_may_return_null=1
	LSAN_OPTIONS=${LSAN_OPTIONS:-}${LSAN_OPTIONS:+:}suppressions=$(cd "$fuzzdir" && pwd)/lsan.supp
	export LSAN_OPTIONS
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	ok=1
	if [ -d "$fuzzdir/corpus/$name" ]; then
		find "$fuzzdir/corpus/$name" -type f | sort >"$dir/inputs"
		n=$(wc -l <"$dir/inputs")
		# shellcheck disable=SC2046
		if ! "$t" -timeout=20 -rss_limit_mb=2048 $(cat "$dir/inputs") >"$log" 2>&1; then
			ok=0
			echo "$name: a regression input fails:" >&2
		else
			echo "$name: $n corpus inputs replayed" >>"$dir/summary"
		fi
	fi
	if [ $ok = 1 ]; then
		# shellcheck disable=SC2086
		if ! "$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		    -print_final_stats=1 -artifact_prefix="$dir/" $dict \
		    "$dir/new" ${n:+"$fuzzdir/corpus/$name"} >"$log" 2>&1; then
			ok=0
			echo "$name: libFuzzer found a fault:" >&2
		fi
	fi
	if [ $ok = 1 ]; then
		grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$log" | tail -n 2 >>"$dir/summary"
		echo "PASS: $name ($(sed -n 's/^stat::number_of_executed_units: *//p' "$log") runs in ${FUZZ_SECONDS}s)"
	else
		grep -E 'ERROR|SUMMARY|check failed|Test unit written|artifact_prefix|==[0-9]+==' "$log" | head -n 30 >&2
		tail -n 40 "$log" >&2
		echo "FAIL: $name (log: $log)"
	fi
	exit 0
fi

mkdir -p "$out"
for t in "$@"; do printf '%s\n' "$t"; done |
	xargs -P "$FUZZ_JOBS" -I '{}' sh "$0" "$fuzzdir" --one '{}' >"$out/results"
cat "$out/results"
p=$(grep -c '^PASS: ' "$out/results")
f=$(grep -c '^FAIL: ' "$out/results")
echo "fuzz: $p passed, $f failed"
[ "$f" -eq 0 ] && [ $((p + f)) -eq $# ]
