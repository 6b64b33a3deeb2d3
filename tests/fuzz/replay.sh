#!/bin/sh
# replay.sh - every input of tests/fuzz/corpus once through its target,
# built without libFuzzer (replay_main.c): the regression inputs of the
# fuzzers in every `make check`, with whatever compiler and sanitizers
# the build has.  One TAP-like line per target.
set -u
srcdir=${srcdir:-.}
corpus=$srcdir/tests/fuzz/corpus
n=0 failed=0
export IOPD_FUZZ_CONF_D=${IOPD_FUZZ_CONF_D:-$srcdir/tests/fuzz/conf.d}
# in a sanitizer build: library leaks that are understood (lsan.supp)
LSAN_OPTIONS=${LSAN_OPTIONS:-}${LSAN_OPTIONS:+:}suppressions=$(cd "$srcdir/tests/fuzz" && pwd)/lsan.supp
export LSAN_OPTIONS
for t in tests/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	[ -d "$corpus/$name" ] || continue
	n=$((n + 1))
	if out=$("$t" "$corpus/$name" 2>&1); then
		echo "ok $n - $name: $(printf '%s' "$out" | tail -n 1)"
	else
		failed=$((failed + 1))
		printf '%s\n' "$out" | tail -n 40
		echo "not ok $n - $name"
	fi
done
if [ $n -eq 0 ]; then
	echo "no fuzz target built"
	exit 1
fi
echo "$((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
