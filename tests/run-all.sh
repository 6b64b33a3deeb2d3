#!/bin/sh
# run-all.sh - the whole test suite, as CI and `contrib/quickstart.sh test`
# run it, on an already configured and built source tree:
#
#   1. make check            unit tests, property tests, integration tests
#                            against real peers on loopback
#   2. tests/date_independence.sh: every test that fakes or reads the clock
#                            again, with the runner's own clock faked to one
#                            of two other dates in turn (skipped when
#                            IOPD_SKIP_DATECHECK=1)
#   3. make check-valgrind   the integration tests that bear it, with iopd
#                            under valgrind's memcheck (skipped without
#                            valgrind, or when IOPD_SKIP_VALGRIND=1)
#   4. the same as 1. under ASan+UBSan, in an out-of-tree build (build-san/)
#   5. the fuzz targets (tests/fuzz), built with clang and libFuzzer in
#      build-fuzz/, each run $IOPD_FUZZ_SECONDS (15) s, two at a time
#      (skipped when IOPD_SKIP_FUZZ=1)
#   6. make distcheck        with the unit tests (skipped when
#                            IOPD_SKIP_DISTCHECK=1)
#
# The last line is the plain summary "N passed, N failed" over every test
# of every pass, each fuzz target counting as one (automake's own summaries
# are not it).
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
# Tests mostly wait on their clocks and peers: twice as many as there are
# processors run at a time, except under valgrind, which keeps a core busy.
test_jobs=$((2 * jobs))
status=0

count() {   # count DIR -> "pass fail" from automake's .trs files
	find "$1" -name '*.trs' -newer "$2" -exec grep -h '^:test-result:' {} + 2>/dev/null |
		awk '$2=="PASS"{p++} $2=="FAIL"||$2=="ERROR"||$2=="XPASS"{f++} END{print p+0, f+0}'
}

# Each pass's heading says when it began, in seconds from the start: the
# whole run must stay well under CI's limit.
t0=$(date +%s)
stage() { echo "=== $* (at $(($(date +%s) - t0)) s)"; }

stamp=$(mktemp)
passed=0
failed=0

run_check() {   # run_check LABEL DIR JOBS [make args]: make check, or the target given
	label=$1 dir=$2 j=$3
	shift 3
	stage "$label"
	[ $# -gt 0 ] || set -- check
	touch "$stamp"                 # this pass's results only
	if ! make -C "$dir" -j"$j" "$@"; then
		status=1
		find "$dir" -name '*.log' -newer "$stamp" ! -name 'config.log' ! -name 'test-suite.log' |
			while read -r log; do
				trs="${log%.log}.trs"
				grep -qs '^:test-result: \(FAIL\|ERROR\)' "$trs" || continue
				# its verdicts and figures first: the log's tail is
				# often the peers' and the daemon's logs
				echo "----- $log: its failed checks and figures, then its last 60 lines"
				grep -E '^(not ok|# )' "$log" | head -n 40
				tail -n 60 "$log"
			done
	fi
	set -- $(count "$dir" "$stamp")
	passed=$((passed + $1))
	failed=$((failed + $2))
}

run_check "make check" "$top" "$test_jobs"

# The same tests on other dates: its last line is "N passed, N failed" too.
if [ "${IOPD_SKIP_DATECHECK:-0}" != 1 ]; then
	stage "date independence"
	{ tests/date_independence.sh; echo $? >"$stamp.rc"; } 2>&1 | tee date-check.log
	rc=$(cat "$stamp.rc")
	rm -f "$stamp.rc"
	if [ "$rc" -ne 77 ]; then
		set -- $(tail -n 1 date-check.log | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
		if [ $# -eq 2 ]; then
			passed=$((passed + $1))
			failed=$((failed + $2))
		else
			failed=$((failed + 1))
		fi
		[ "$rc" -eq 0 ] || status=1
	fi
fi

if [ "${IOPD_SKIP_VALGRIND:-0}" != 1 ] && command -v valgrind >/dev/null 2>&1; then
	run_check "make check-valgrind" "$top" "$jobs" check-valgrind
fi

# A second, out-of-tree build needs a source tree that was never configured
# in place: `make distdir` gives exactly the distributed sources.
san="$top/build-san"
stage "ASan+UBSan build in $san"
rm -rf "$san" && mkdir -p "$san"
if make distdir distdir="$san/src" >/dev/null && mkdir -p "$san/build" &&
    (cd "$san/build" && ../src/configure --enable-sanitizers CC=clang CXX=clang++ >/dev/null &&
     make -j"$jobs" >/dev/null); then
	run_check "make check under ASan+UBSan" "$san/build" "$test_jobs"
else
	echo "sanitizer build FAILED"
	failed=$((failed + 1))
	status=1
fi

# The fuzz targets: their own out-of-tree build, like the sanitizer pass;
# fuzz.sh prints one PASS: or FAIL: line per target.
if [ "${IOPD_SKIP_FUZZ:-0}" != 1 ]; then
	fz="$top/build-fuzz"
	stage "fuzzing in $fz"
	rm -rf "$fz" && mkdir -p "$fz"
	if make distdir distdir="$fz/src" >/dev/null && mkdir -p "$fz/build" &&
	    (cd "$fz/build" && ../src/configure --enable-fuzzing CC=clang >/dev/null &&
	     make -j"$jobs" >/dev/null); then
		make -C "$fz/build" fuzz FUZZ_SECONDS="${IOPD_FUZZ_SECONDS:-15}" FUZZ_JOBS="$jobs" || status=1
		p=$(grep -c '^PASS: ' "$fz/build/fuzz-out/results" 2>/dev/null)
		f=$(grep -c '^FAIL: ' "$fz/build/fuzz-out/results" 2>/dev/null)
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-0}))
		[ "${p:-0}" -gt 0 ] || { echo "fuzzing: no target ran"; failed=$((failed + 1)); status=1; }
	else
		echo "fuzz build FAILED"
		failed=$((failed + 1))
		status=1
	fi
fi

# distcheck builds the tarball in a read-only tree and runs the tests that
# need no peer (the unit tests): the ASan+UBSan pass above already ran every
# test from the distributed sources, so a file missing from the tarball
# fails there, and the integration tests are not run a third time.
if [ "${IOPD_SKIP_DISTCHECK:-0}" != 1 ]; then
	stage "make distcheck"
	unit=$(printf 'iopd-tests:\n\t@echo $(TESTS)\n' | make -s --no-print-directory -f Makefile -f - iopd-tests |
		tr ' ' '\n' | grep '^tests/unit/' | tr '\n' ' ')
	if make -j"$jobs" distcheck TESTS="$unit" DISTCHECK_CONFIGURE_FLAGS="--with-systemdsystemunitdir=\$\${prefix}/lib/systemd/system --with-sysusersdir=\$\${prefix}/lib/sysusers.d" >distcheck.log 2>&1; then
		passed=$((passed + 1))
		echo "distcheck: ok"
	else
		tail -n 40 distcheck.log
		failed=$((failed + 1))
		status=1
	fi
fi

rm -f "$stamp"
stage "done"
echo "$passed passed, $failed failed"
exit $status
