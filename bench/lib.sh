# shellcheck shell=bash
# bench/lib.sh - helpers for bench/run.sh (sourced).  Nothing here is a test.
#
# Conventions: every figure is "median (min-max)" over the runs of one
# invocation; alternatives are measured in the same invocation as iopd.
# Results go to $RESULTS (TSV: workload, what, median, min, max, unit, n, note)
# and the verdicts to $VERDICTS; run.sh prints both as tables at the end.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
BENCH_DATA=${BENCH_DATA:-$BENCH_DIR/data}
export BENCH_DATA
IOPD=${IOPD:-$ROOT/iopd}
IOPCTL=${IOPCTL:-$ROOT/iopctl}
export IOPD_PLUGIN_DIR=${IOPD_PLUGIN_DIR:-$ROOT/plugins/.libs}
SYSPY=${SYSPY:-/usr/bin/python3}          # Debian's python: has dateutil and apprise
SINK_PORT=${SINK_PORT:-28204}
export SINK_PORT
SINK_URL="http://127.0.0.1:$SINK_PORT/"
PIN=${PIN:-1}                             # 1: sink worker on cpu 0, every client on cpu 1
RUNS=${RUNS:-5}                           # runs of fast measurements (after a warm-up)
RUNS_SLOW=${RUNS_SLOW:-3}                 # runs of slow ones (dateutil, Remind tzconvert, W3, W5)

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT_DIR=${OUT_DIR:-$BENCH_DATA/results/$STAMP}
mkdir -p "$OUT_DIR"
RESULTS=$OUT_DIR/results.tsv
VERDICTS=$OUT_DIR/verdicts.tsv
: >"$RESULTS"
: >"$VERDICTS"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# cpu 1 for clients (iopd, wrk, apprise, curl, Remind, python); no-op with PIN=0
pin() {
  if [ "$PIN" = 1 ]; then taskset -c 1 "$@"; else "$@"; fi
}

# Sleeps until the middle of the next wall-clock second.  The spreads' reminders
# fall due on whole seconds and each second's burst is over within tens of
# milliseconds; a harness that polls (a fork of curl, awk, date: 10-20 ms of
# CPU) in that window ran on iopd's cpu and was measured as iopd's lateness
# (seen: 2-16 ms of one burst's first 30 ms).  Bash's clock, no fork.
sleep_to_half_second() {
  local us=${EPOCHREALTIME#*.}
  us=$((10#$us))
  sleep "$(printf '0.%06d' $(( (1500000 - us) % 1000000 )))"
}

need_tools() {
  local t miss=()
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || miss+=("$t"); done
  [ ${#miss[@]} -eq 0 ] || die "missing tools: ${miss[*]} (see bench/README.md: apt-get install ...)"
}

# float arithmetic: calc 'EXPR' (awk syntax)
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# Files and folders that walltime reads into the page cache before it starts
# the clock.  Some machines page out file pages idle for a minute (DAMON's
# pageout): a run would then time the disk instead of the tool.  Every tool
# is timed on warm files alike.
WARM=()
warm() {
  [ "${#WARM[@]}" -eq 0 ] || find "${WARM[@]}" -type f -exec cat {} + >/dev/null 2>&1 || true
}

# wall seconds of one run of "$@" (stdout to /dev/null, stderr appended to $OUT_DIR/stderr.log)
walltime() {
  local t0 t1 rc
  warm
  t0=$EPOCHREALTIME
  "$@" >/dev/null 2>>"$OUT_DIR/stderr.log"
  rc=$?
  t1=$EPOCHREALTIME
  [ "$rc" -eq 0 ] || { log "command failed ($rc): $*"; return "$rc"; }
  calc "$t1 - $t0"
}

# stats FILE -> "median min max n" of the numbers in FILE (one a line)
stats() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan nan nan 0"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.6f %.6f %.6f %d\n", m, v[1], v[NR], NR }'
}

# record WORKLOAD WHAT FILE UNIT [NOTE]: stats of FILE into $RESULTS; echoes "median min max n"
record() {
  local w=$1 what=$2 file=$3 unit=$4 note=${5:-} s
  s=$(stats "$file")
  set -- $s
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$what" "$1" "$2" "$3" "$unit" "$4" "$note" >>"$RESULTS"
  log "$w $what: $(fmtnum "$1") ($(fmtnum "$2")-$(fmtnum "$3")) $unit, n=$4${note:+; $note}"
  echo "$s"
}

# rates FILE_OF_SECONDS COUNT OUTFILE: COUNT / each time
rates() {
  awk -v n="$2" '$1 > 0 { printf "%.3f\n", n / $1 }' "$1" >"$3"
}

# verdict WORKLOAD TARGET_TEXT MEASURED_TEXT PASS|MISS
verdict() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$VERDICTS"
  log "VERDICT $1: $3 -> target $2: $4"
}

# pass_if EXPR -> PASS or MISS
# a figure that is nan (nothing measured) passes nothing
pass_if() { case $1 in *nan*) echo MISS; return ;; esac; awk "BEGIN { exit !($1) }" && echo PASS || echo MISS; }

# fmtnum X: thousands separators for big numbers, 3 significant decimals for small ones
fmtnum() {
  awk -v x="$1" 'function commas(s,   r) { r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } return s r }
    BEGIN { if (x == "nan") { print x; exit }
      a = (x < 0) ? -x : x
      if (a >= 1000) printf "%s%s\n", (x < 0 ? "-" : ""), commas(sprintf("%.0f", a))
      else if (a >= 100) printf "%.0f\n", x
      else if (a >= 10) printf "%.1f\n", x
      else if (a >= 1) printf "%.2f\n", x
      else printf "%.3g\n", x }'
}

# cputicks PID -> user + system clock ticks the process has used (/proc/PID/stat)
cputicks() {
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# Minor page faults of process PID so far (a fault traps to the hypervisor on
# some virtual machines, so it is worth counting per delivery).
minflt() {
  awk '{ sub(/^.*\) /, ""); print $8 }' "/proc/$1/stat"
}

# ---------------------------------------------------------------- the sink
sink() { "$BENCH_DIR/sink.sh" "$@"; }
sink_up() {
  PIN=$PIN sink start >&2 || die "the nginx sink did not start"
}
sink_down() { sink stop >&2 || true; }
SINK_LOG=
sink_log() { [ -n "$SINK_LOG" ] || SINK_LOG=$(sink log); echo "$SINK_LOG"; }

# ---------------------------------------------------------------- daemons
DAEMON_PID=
DAEMON_PIDS=()
# daemon_start CONF LOG: iopd in the foreground (pinned), waits until its control
# socket answers and its ledger takes writes; sets DAEMON_PID (the last one
# started; DAEMON_PIDS holds every one)
daemon_start() {
  local conf=$1 logf=$2 sock i
  sock=$(sed -n 's/^ *control_socket = "\(.*\)";/\1/p' "$conf")
  # not through pin(): a backgrounded function is a subshell, and $! would be
  # its pid instead of the daemon's
  if [ "$PIN" = 1 ]; then
    taskset -c 1 "$IOPD" -f -c "$conf" 2>"$logf" &
  else
    "$IOPD" -f -c "$conf" 2>"$logf" &
  fi
  DAEMON_PID=$!
  DAEMON_PIDS+=("$DAEMON_PID")
  for i in $(seq 1 600); do
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      cat "$logf" >&2; die "iopd exited during start"
    fi
    [ -S "$sock" ] && "$IOPCTL" -s "$sock" status 2>/dev/null | grep -q '^ledger:' &&
      ! "$IOPCTL" -s "$sock" status 2>/dev/null | grep -q 'CANNOT WRITE' && return 0
    sleep 0.05
  done
  die "iopd did not answer on $sock within 30 s"
}
daemon_stop() {
  local i keep=() p
  [ -n "$DAEMON_PID" ] || return 0
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  for i in $(seq 1 300); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$DAEMON_PID" 2>/dev/null && kill -KILL "$DAEMON_PID" 2>/dev/null
  wait "$DAEMON_PID" 2>/dev/null || true
  for p in "${DAEMON_PIDS[@]}"; do [ "$p" = "$DAEMON_PID" ] || keep+=("$p"); done
  DAEMON_PIDS=("${keep[@]}")
  DAEMON_PID=
}
daemon_stop_all() {
  while [ ${#DAEMON_PIDS[@]} -gt 0 ]; do
    DAEMON_PID=${DAEMON_PIDS[-1]}
    daemon_stop
  done
}

# ---------------------------------------------------------------- PostgreSQL
# W2PG and W3PG keep their ledger in a private cluster (tests/rig/pg.sh): its
# server processes share cpu 0 with the sink (PIN=1); iopd reaches it over
# TCP on loopback, with the password from a token_file.
PG_BASE=
pg_instances() { case $1 in pg2) echo i1 i2 ;; *) echo i1 ;; esac; }
pg_extra() { # LEDGER INSTANCE -> settings of the daemon group ("" for SQLite)
  [ "$1" = sqlite ] && return 0
  printf 'ledger = "postgresql"; postgresql = { conninfo = "%s"; token_file = "%s"; }; instance = "%s";' \
    "$PG_TCP" "$PG_PASSWORD_FILE" "$2"
}
pg_up() {
  local p
  [ -n "$PG_BASE" ] && return 0
  PG_BASE=$(mktemp -d /tmp/iopd-bench-pg.XXXXXX)
  chmod 755 "$PG_BASE"
  sh "$ROOT/tests/rig/pg.sh" init "$PG_BASE/c" "${PG_BENCH_PORT:-28432}" >&2 ||
    die "the PostgreSQL cluster did not start (is postgresql installed? is PG_BENCH_PORT free?)"
  # shellcheck disable=SC1091
  . "$PG_BASE/c/env"
  if [ "$PIN" = 1 ]; then             # the postmaster, and what it forks from now on
    p=$(head -n 1 "$PG_BASE/c/data/postmaster.pid")
    for p in $p $(pgrep -P "$p"); do taskset -a -cp 0 "$p" >/dev/null; done
  fi
}
pg_q() { "$PG_BIN/psql" -X -q -At -h "$PG_SOCKET" -p "$PG_PORT" -U iopd -d iopd -c "$1"; }
pg_reset() { # a new, empty ledger for each run, as SQLite's new state folder
  "$PG_BIN/psql" -X -q -h "$PG_SOCKET" -p "$PG_PORT" -U iopd -d postgres \
    -c "DROP DATABASE IF EXISTS iopd WITH (FORCE)" -c "CREATE DATABASE iopd" >/dev/null || die "pg_reset"
}
pg_down() {
  [ -n "$PG_BASE" ] || return 0
  sh "$ROOT/tests/rig/pg.sh" stop "$PG_BASE/c" fast >/dev/null 2>&1 || true
  rm -rf "$PG_BASE"
  PG_BASE=
}

cleanup() {
  daemon_stop_all
  sink_down
  pg_down
}
