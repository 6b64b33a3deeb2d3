#!/bin/bash
# date_independence.sh - no test depends on today's date or on the machine's
# clock.  Runs every test of `make check` that fakes or reads the clock
# again, with the test runner's own clock faked by libfaketime (preloaded
# into the runner: LD_PRELOAD + FAKETIME, inherited by everything the test
# starts), at other dates, one for each way libfaketime fakes a clock:
#
#   offset    FAKETIME=+N: every process shares one clock, N seconds ahead
#             of the machine's; here 2027-11-05 10:00 UTC, more than a year
#             ahead, in the week of the US fall-back (Sunday Nov 7)
#   absolute  FAKETIME='@DATE': every process starts at DATE when it starts;
#             here 2031-03-07 16:30 UTC, years ahead, in the week of the US
#             spring-forward (Sunday Mar 9)
#
# Each test runs at one of the two, taken in turn along the list (the first
# at the offset, the second at the absolute date, ...), so both ways meet
# the shared helpers in every run and the pass costs what make check does;
# IOPD_DATE_BOTH=1 runs every test at both.
#
# The check fails if any test fails.  Tests run IOPD_DATE_JOBS at a
# time (default: twice the number of processors: the tests mostly wait on
# their clocks and peers); each is stopped after
# IOPD_DATE_TIMEOUT seconds (default 900).  FAKETIME_RUNNER_LIB names the
# libfaketime to preload (default: the plain libfaketime.so.1, as faketime(1)
# preloads it).  Prints one result line per test and date, the log of each
# failed test, and last the plain line "N passed, N failed" (runs of a test
# at a date; skips are not counted); exits 1 if anything failed, 77 if
# libfaketime is not installed.
#
# Run it from the top build directory of a built tree, like `make check`:
#   cd BUILDDIR && SRCDIR/tests/date_independence.sh [TEST...]
# TEST...: only these (paths as in Makefile.am's TESTS, e.g.
# tests/integration/durability_kill9.sh).  Logs: date-check/LABEL/TEST.log.
# shellcheck disable=SC2016  # make variables and run_one's arguments, quoted on purpose
set -u
top=$(pwd)
[ -f Makefile ] || { echo "date_independence.sh: no Makefile here: run it from the build directory" >&2; exit 99; }

# What make check would run, and where the sources are.
make -s Makefile >/dev/null 2>&1     # up to date with Makefile.am first
list=$(printf 'iopd-date-tests:\n\t@echo "SRCDIR=$(srcdir)"\n\t@echo "TESTS=$(TESTS)"\n' |
	make -s --no-print-directory -f Makefile -f - iopd-date-tests) ||
	{ echo "date_independence.sh: cannot read TESTS from the Makefile" >&2; exit 99; }
srcdir=$(echo "$list" | sed -n 's/^SRCDIR=//p')
srcdir=$(cd "${srcdir:-.}" && pwd)
all=$(echo "$list" | sed -n 's/^TESTS=//p')

# The runner's libfaketime: the plain (not MT) library, as faketime(1)
# preloads it, so the tests' own helpers must cope with it.
lib=
for f in ${FAKETIME_RUNNER_LIB:-} /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 \
         /usr/lib64/faketime/libfaketime.so.1 /usr/local/lib/faketime/libfaketime.so.1; do
	[ -f "$f" ] && { lib=$f; break; }
done
if [ -z "$lib" ]; then
	echo "date_independence.sh: libfaketime not found: SKIP"
	exit 77
fi

# A test that fakes or reads the clock: a shell script test that starts
# iopd, a plugin or a peer, fakes a clock, or reads the time.
clock_re='faketime|FAKETIME|timeline_|now_epoch|clock_env|start_iopd|iopd_start|ops_start|\$IOPD\b|sendone_lib|make_certs|EPOCHREALTIME|\<date\>|time\.time|X-Iopd-Timestamp'
if [ $# -gt 0 ]; then
	tests=("$@")
else
	tests=()
	for t in $all; do
		case $t in *.sh) ;; *) continue ;; esac
		grep -qE "$clock_re" "$srcdir/$t" 2>/dev/null && tests+=("$t")
	done
fi
[ ${#tests[@]} -gt 0 ] || { echo "date_independence.sh: no test selected" >&2; exit 99; }

jobs=${IOPD_DATE_JOBS:-$((2 * $(nproc 2>/dev/null || echo 2)))}
limit=${IOPD_DATE_TIMEOUT:-900}
out=$top/date-check
rm -rf "$out"
mkdir -p "$out"

# run_one LABEL FAKETIME TEST: one test under the faked runner clock; prints
# its result line and appends "RESULT LABEL TEST" to $out/results.
run_one() {
	local label=$1 spec=$2 t=$3 log rc=0 res pid
	log=$out/$label/$t.log
	mkdir -p "$(dirname "$log")"
	# timeout(1) runs in a process group of its own: pass a stop on to it
	trap 'kill -TERM $pid 2>/dev/null' INT TERM HUP
	(cd "$top" && exec env srcdir="$srcdir" timeout -k 10 "$limit" \
		env LD_PRELOAD="$lib${LD_PRELOAD:+ $LD_PRELOAD}" FAKETIME="$spec" \
		"$srcdir/$t") >"$log" 2>&1 </dev/null &
	pid=$!
	wait "$pid" || rc=$?
	case $rc in
	0) res=PASS ;;
	77) res=SKIP ;;
	124 | 137) res=FAIL; echo "# timed out after $limit s" >>"$log" ;;
	*) res=FAIL ;;
	esac
	echo "$res: $t [$label]"
	echo "$res $label $t" >>"$out/results"
}
export -f run_one
export top srcdir lib limit out

# What the tests need besides iopd: sendone, the test plugins (make check
# would build them first).
printf 'iopd-date-build: $(check_PROGRAMS) $(check_LTLIBRARIES)\n' |
	make -s --no-print-directory -j"$jobs" -f Makefile -f - all iopd-date-build >/dev/null ||
	{ echo "date_independence.sh: the build failed" >&2; exit 99; }

# The two clocks.  The offset is counted from the machine's real clock, the
# way faketime(1) turns a date into an offset.
off_label=2027-11-05
off_spec=+$(($(date -u -d '2027-11-05 10:00:00 UTC' +%s) - $(date -u +%s)))
abs_label=2031-03-07
abs_spec='@2031-03-07 16:30:00'

t0=$(date +%s)
both=${IOPD_DATE_BOTH:-0}
echo "# ${#tests[@]} tests, $([ "$both" = 1 ] && echo "each at both dates" || echo "each at one date in turn"), $jobs at a time; the runner's clock faked by $lib"
echo "# $off_label: FAKETIME='$off_spec' (offset), $abs_label: FAKETIME='$abs_spec' (absolute)"
# one queue for both dates, so the machine stays busy to the end
i=0
for t in "${tests[@]}"; do
	if [ "$both" = 1 ] || [ $((i % 2)) -eq 0 ]; then printf '%s\n%s\n%s\n' "$off_label" "$off_spec" "$t"; fi
	if [ "$both" = 1 ] || [ $((i % 2)) -eq 1 ]; then printf '%s\n%s\n%s\n' "$abs_label" "$abs_spec" "$t"; fi
	i=$((i + 1))
done | tr '\n' '\0' | xargs -0 -n 3 -P "$jobs" bash -c 'run_one "$1" "$2" "$3"' _

passed=$(grep -c '^PASS ' "$out/results" 2>/dev/null)
failed=$(grep -c '^FAIL ' "$out/results" 2>/dev/null)
skipped=$(grep -c '^SKIP ' "$out/results" 2>/dev/null)
grep '^FAIL ' "$out/results" 2>/dev/null | while read -r _ label t; do
	echo "----- $out/$label/$t.log: its failed checks and figures, then its last 60 lines"
	grep -E '^(not ok|# )' "$out/$label/$t.log" | head -n 40
	tail -n 60 "$out/$label/$t.log"
done
echo "# date independence: $skipped skipped, $(($(date +%s) - t0)) s"
echo "${passed:-0} passed, ${failed:-0} failed"
[ "${failed:-0}" -eq 0 ]
