#!/bin/bash
# bench/run.sh [W1|W2|W3|W4|W5|W6|WM|W2PG|W3PG|all]... - iopd against its alternatives, in one run.
#
# Prints, per workload, median (min-max) of N runs of iopd and of each alternative
# measured in this same invocation, the ratios, and the targets of BENCH.md with
# PASS/MISS.  See bench/README.md.  Not a test: nothing here is part of `make check`.
#
# Environment (defaults): P=100000 patients (W1 W4 W5), RUNS=5, RUNS_SLOW=3,
#   PIN=1 (sink worker on cpu 0, every client on cpu 1), SINK_PORT=28204,
#   BENCH_DATA=bench/data (generated data, results/<stamp>/), IOPD=./iopd,
#   W1_REMIND_TZ=1 (also time Remind with tzconvert), W2_N=100000, W2_CONC=256,
#   W2_LEAD=10 (s from config generation to the due instant), W2_SIGN=1 (HMAC key),
#   W2_PERF=0 (1: perf record of the daemon during each burst, RUNDIR/perf.data;
#   W2_PERF_FREQ=1999, W2_PERF_CG=-g or e.g. "--call-graph dwarf,16384"),
#   W2_STRACE=0 (1, without W2_PERF: system calls of the daemon, RUNDIR/strace.txt),
#   APPRISE_MODES="seq seq-sync fanout gather" (empty: none), APPRISE_N=5000, WRK_SECS=10,
#   W3_N=10000, W3_SECS=60, W3_CONC=256, W3_WARMUP=256 (reminders 5 s before the
#   window, not counted: they open the connections), W5_HUP_AT=20 (s after the first due),
#   W6_N=100000 (status callbacks), W6_PORT=28205 (iopd's inbound listener),
#   W6_SMS_LEAD=15 (s from config generation to the sms burst), W6_GAP=40 (s from the
#   burst to the spread's first due: the burst must be over by then), W6_AT=10 (s after the
#   spread's first due that the callbacks start), W6_CONN=128 (wrk's connections to iopd:
#   each waits for its callback's commit, so batches hold at most this many),
#   P_BIG=1000000 (WM: the million-patient size), BIG_SPLIT=100000 (WM: patients per
#   file of its patients folder; one file may hold 64 MiB), W1_PHONES=1 (W1 also times
#   iopd -t on the same calendar with a phone number for every patient).
# W2PG, W3PG: W2 and W3 with the ledger in PostgreSQL (a private cluster, tests/rig/pg.sh,
#   pinned with the sink on cpu 0), one instance and two instances sharing it, each round
#   against the SQLite figure of the same round; PG_BENCH_PORT=28432.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

P=${P:-100000}
W1_REMIND_TZ=${W1_REMIND_TZ:-1}
W2_N=${W2_N:-100000}
W2_CONC=${W2_CONC:-256}
W2_LEAD=${W2_LEAD:-10}
W2_SIGN=${W2_SIGN:-1}
W2_PERF=${W2_PERF:-0}
W2_STRACE=${W2_STRACE:-0}
W2_CPU_FILE=
APPRISE_MODES=${APPRISE_MODES-seq seq-sync fanout gather}
APPRISE_N=${APPRISE_N:-5000}
WRK_SECS=${WRK_SECS:-10}
W3_N=${W3_N:-10000}
W3_SECS=${W3_SECS:-60}
W3_CONC=${W3_CONC:-256}
W3_LEAD=${W3_LEAD:-10}
W3_WARMUP=${W3_WARMUP:-256}
W5_HUP_AT=${W5_HUP_AT:-20}
W6_N=${W6_N:-100000}
W6_PORT=${W6_PORT:-28205}
W6_SMS_LEAD=${W6_SMS_LEAD:-15}
W6_AT=${W6_AT:-10}
W6_CONN=${W6_CONN:-128}
W6_GAP=${W6_GAP:-40}
P_BIG=${P_BIG:-1000000}
BIG_SPLIT=${BIG_SPLIT:-100000}
W1_PHONES=${W1_PHONES:-1}
GEN_SPLIT=()                    # gen_iopd.py --split N, for the configurations WM writes
BG_LEAD=10                      # s more before a spread's first due with background patients

trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$IOPD" ] || die "no $IOPD: build first (make -j2)"

# ---------------------------------------------------------------- data
# The calendar of gen_calendar.py (TSV + Remind files) and its iopd configuration.
calendar_data() { # P -> prints the folder
  local p=$1 d=$BENCH_DATA/calendar-$1
  if [ ! -s "$d/iopd.conf" ] || [ ! -s "$d/calendar-tz.rem" ]; then
    log "generating the $p-patient calendar in $d"
    "$SYSPY" "$BENCH_DIR/gen_calendar.py" "$p" "$d" >&2 || die "gen_calendar.py"
    "$SYSPY" "$BENCH_DIR/gen_iopd.py" calendar "$d" --tsv "$d/patients.tsv" \
      --url "$SINK_URL" >&2 || die "gen_iopd.py calendar"
  fi
  echo "$d"
}

# The same calendar at P_BIG patients: the TSV alone (no Remind files), the
# patients in files of BIG_SPLIT each (patients/*.conf).
calendar_big() { # P -> prints the folder
  local p=$1 d=$BENCH_DATA/calendar-$1
  if [ ! -s "$d/iopd.conf" ] || [ ! -d "$d/patients" ]; then
    log "generating the $p-patient calendar in $d (patients in files of $BIG_SPLIT)"
    "$SYSPY" "$BENCH_DIR/gen_calendar.py" "$p" "$d" --tsv-only >&2 || die "gen_calendar.py"
    "$SYSPY" "$BENCH_DIR/gen_iopd.py" calendar "$d" --tsv "$d/patients.tsv" --split "$BIG_SPLIT" \
      --url "$SINK_URL" >&2 || die "gen_iopd.py calendar"
  fi
  echo "$d"
}

# The calendar of `calendar_data P` with a phone number for every patient.
calendar_phones() { # P -> prints the folder
  local d; d=$(calendar_data "$1")
  if [ ! -s "$d/phones/iopd.conf" ]; then
    "$SYSPY" "$BENCH_DIR/gen_iopd.py" calendar "$d/phones" --tsv "$d/patients.tsv" --phones \
      --url "$SINK_URL" >&2 || die "gen_iopd.py calendar --phones"
  fi
  echo "$d/phones"
}

# Days (a multiple of 7) that move the calendar's enrollments (from 2026-11-30) to
# start at least a week from now: a daemon holding it has nothing due while it runs.
future_shift() {
  "$SYSPY" -c 'import datetime as d
base = d.date(2026, 11, 30); need = d.date.today() + d.timedelta(days=7)
print(max(0, -(-(need - base).days // 7) * 7))'
}

# The daemon's patients cache for CONF (daemon/snapcache.h): the daemon
# started once on it with its clock past every enrollment (libfaketime:
# nothing is due, nothing is sent), then stopped; it writes
# state_dir/patients.cache at start, which `iopd agenda` then reads.
FAKETIME_LIB=${FAKETIME_LIB:-$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)}
cache_file() { # CONF -> the cache file of its state_dir
  echo "$(sed -n 's/^ *state_dir = "\(.*\)";/\1/p' "$1")/patients.cache"
}
cache_warm() { # CONF
  local conf=$1 f
  f=$(cache_file "$conf")
  [ -n "$FAKETIME_LIB" ] || die "libfaketime not found (apt-get install libfaketime; or set FAKETIME_LIB)"
  rm -f "$f"
  FAKETIME='@2030-01-01 00:00:00' LD_PRELOAD=$FAKETIME_LIB daemon_start "$conf" "$OUT_DIR/cache-warm.log"
  daemon_stop
  [ -s "$f" ] || die "the daemon wrote no patients cache for $conf (see $OUT_DIR/cache-warm.log)"
}
# "$@" with the cache of CONF out of the way
without_cache() { # CONF CMD...
  local f rc
  f=$(cache_file "$1"); shift
  mv "$f" "$f.aside"
  "$@"; rc=$?
  mv "$f.aside" "$f"
  return $rc
}

# ---------------------------------------------------------------- W1
w1() {
  need_tools remind taskset
  "$SYSPY" -c 'import dateutil, zoneinfo' 2>/dev/null || die "$SYSPY lacks dateutil (apt-get install python3-dateutil)"
  local d conf expect rows r t n w=W1 td=$OUT_DIR/w1
  mkdir -p "$td"
  d=$(calendar_data "$P")
  conf=$d/iopd.conf
  expect=$((17 * P))
  log "W1: $P patients, 7-day window 2027-01-11..17, expected $expect occurrences"

  # the mapping: at 2,000 patients, iopd's rows == dateutil's occurrences (patient, UTC, kind)
  local c; c=$(calendar_data 2000)
  "$IOPD" agenda -c "$c/iopd.conf" --from 2027-01-10 --to 2027-01-19 >"$td/cross-agenda.jsonl" 2>/dev/null &&
    "$SYSPY" "$BENCH_DIR/expand_rrule.py" "$c/patients.tsv" >"$td/cross-rrule.txt" 2>/dev/null &&
    "$SYSPY" "$BENCH_DIR/w1_crosscheck.py" "$td/cross-agenda.jsonl" "$td/cross-rrule.txt" >&2 ||
    die "W1: iopd's calendar differs from dateutil's (see $td)"
  rm -f "$td/cross-agenda.jsonl" "$td/cross-rrule.txt"

  # warm-up runs, which also check the counts at full size
  pin "$IOPD" -t -c "$conf" >&2 2>/dev/null || die "iopd -t failed"
  rows=$(pin "$IOPD" agenda -c "$conf" --from 2027-01-11 --to 2027-01-18 --no-ledger 2>/dev/null | wc -l)
  [ "$rows" -eq "$expect" ] || die "W1: iopd agenda printed $rows rows, expected $expect"
  n=$(pin remind -q -b1 "$d/calendar.rem" 2027-01-11 '*7' | grep -c ' [gm][123]$')
  [ "$n" -eq "$expect" ] || die "W1: Remind printed $n occurrences, expected $expect"
  log "W1: counts OK: iopd agenda $rows rows, Remind $n occurrences (dateutil: checked on each run)"
  # the patients cache a running daemon keeps; the agenda with it is the
  # agenda without it, byte for byte
  cache_warm "$conf"
  pin "$IOPD" agenda -c "$conf" --from 2027-01-11 --to 2027-01-18 --no-ledger 2>"$td/agenda-cached.err" | md5sum >"$td/agenda-cached.md5"
  without_cache "$conf" pin "$IOPD" agenda -c "$conf" --from 2027-01-11 --to 2027-01-18 --no-ledger 2>"$td/agenda-fresh.err" |
    md5sum >"$td/agenda-fresh.md5"
  cmp -s "$td/agenda-cached.md5" "$td/agenda-fresh.md5" && cmp -s "$td/agenda-cached.err" "$td/agenda-fresh.err" ||
    die "W1: the agenda with the patients cache differs from the agenda without it"
  log "W1: the agenda with the daemon's patients cache = without it ($(cut -c1-12 "$td/agenda-cached.md5"))"

  : >"$td/check"; : >"$td/agenda"; : >"$td/load"; : >"$td/remind"; : >"$td/remtz"; : >"$td/dateutil"
  : >"$td/phones"; : >"$td/nocache"; : >"$td/ledger"
  local phones=
  if [ "$W1_PHONES" = 1 ]; then
    phones=$(calendar_phones "$P")/iopd.conf
    pin "$IOPD" -t -c "$phones" >/dev/null 2>&1 || die "iopd -t failed on $phones"
  fi
  WARM=("$d")
  [ -z "$phones" ] || WARM+=("$(dirname "$phones")")
  for r in $(seq 1 "$RUNS"); do
    log "W1 round $r/$RUNS"
    walltime pin "$IOPD" -t -c "$conf" >>"$td/check"; echo >>"$td/check"
    if [ -n "$phones" ]; then
      walltime pin "$IOPD" -t -c "$phones" >>"$td/phones"; echo >>"$td/phones"
    fi
    walltime pin "$IOPD" agenda -c "$conf" --from 2027-01-11 --to 2027-01-18 --no-ledger >>"$td/agenda"; echo >>"$td/agenda"
    # an empty window: configuration load + positioning every stream, no rows
    walltime pin "$IOPD" agenda -c "$conf" --from 2027-01-11 --to 2027-01-11 --no-ledger >>"$td/load"; echo >>"$td/load"
    # the agenda of a configuration no daemon has cached
    without_cache "$conf" walltime pin "$IOPD" agenda -c "$conf" --from 2027-01-11 --to 2027-01-18 --no-ledger >>"$td/nocache"
    echo >>"$td/nocache"
    # as a user runs it beside the daemon: each row's status looked up in
    # its ledger (which the daemon that wrote the cache left in state_dir)
    walltime pin "$IOPD" agenda -c "$conf" --from 2027-01-11 --to 2027-01-18 >>"$td/ledger"; echo >>"$td/ledger"
    walltime pin remind -q -b1 "$d/calendar.rem" 2027-01-11 '*7' >>"$td/remind"; echo >>"$td/remind"
    if [ "$r" -le "$RUNS_SLOW" ]; then
      if [ "$W1_REMIND_TZ" = 1 ]; then
        walltime pin remind -q -b1 "$d/calendar-tz.rem" 2027-01-11 '*7' >>"$td/remtz"; echo >>"$td/remtz"
      fi
      local t0 t1 occ
      warm
      t0=$EPOCHREALTIME
      occ=$(pin "$SYSPY" "$BENCH_DIR/expand_rrule.py" "$d/patients.tsv" 2>&1 >/dev/null | sed -n 's/^occurrences=//p')
      t1=$EPOCHREALTIME
      [ "$occ" = "$expect" ] || die "W1: dateutil found $occ occurrences, expected $expect"
      calc "$t1 - $t0" >>"$td/dateutil"; echo >>"$td/dateutil"
    fi
  done
  WARM=()
  local s_check s_agenda s_load s_rem s_remtz s_du
  s_check=$(record $w "iopd -t (config check, s)" "$td/check" s "$P patients")
  [ -s "$td/phones" ] && record $w "iopd -t, a phone for every patient (s)" "$td/phones" s \
    "$P patients, libphonenumber for each number" >/dev/null
  record $w "iopd agenda wall (s)" "$td/agenda" s "$expect rows, jsonl to /dev/null; patients from the daemon's cache" >/dev/null
  s_load=$(record $w "iopd agenda empty window (s)" "$td/load" s "config load (cache) + stream seek, no rows")
  record $w "iopd agenda wall, no patients cache (s)" "$td/nocache" s "$expect rows; every patient read" >/dev/null
  record $w "iopd agenda wall, beside the ledger (s)" "$td/ledger" s "$expect rows; without --no-ledger: the statuses of the ledger the daemon left" >/dev/null
  rates "$td/agenda" "$expect" "$td/agenda.rate"
  rates "$td/remind" "$expect" "$td/remind.rate"
  rates "$td/dateutil" "$expect" "$td/dateutil.rate"
  s_agenda=$(record $w "iopd agenda" "$td/agenda.rate" rows/s "whole process")
  rates "$td/nocache" "$expect" "$td/nocache.rate"
  record $w "iopd agenda, no patients cache" "$td/nocache.rate" rows/s "whole process" >/dev/null
  rates "$td/ledger" "$expect" "$td/ledger.rate"
  record $w "iopd agenda, beside the ledger" "$td/ledger.rate" rows/s "whole process" >/dev/null
  s_rem=$(record $w "Remind plain (-q -b1 '*7')" "$td/remind.rate" occ/s "whole process, local times only")
  if [ -s "$td/remtz" ]; then
    rates "$td/remtz" "$expect" "$td/remtz.rate"
    s_remtz=$(record $w "Remind tzconvert()" "$td/remtz.rate" occ/s "whole process, UTC per line")
  fi
  s_du=$(record $w "dateutil rrule + zoneinfo" "$td/dateutil.rate" occ/s "whole process, UTC + local")
  # rows/s of the walk alone (agenda - empty window), for the record
  paste "$td/agenda" "$td/load" | awk -v n="$expect" '$1 > $2 { printf "%.1f\n", n / ($1 - $2) }' >"$td/walk.rate"
  record $w "iopd agenda, walk only" "$td/walk.rate" rows/s "(agenda - empty window) per run; informative" >/dev/null

  local chk ag du rem r1 r2
  chk=$(echo "$s_check" | cut -d' ' -f1)
  ag=$(echo "$s_agenda" | cut -d' ' -f1)
  du=$(echo "$s_du" | cut -d' ' -f1)
  rem=$(echo "$s_rem" | cut -d' ' -f1)
  r1=$(calc "$ag / $du"); r2=$(calc "$ag / $rem")
  verdict $w "iopd -t <= 0.5 s ($P patients)" "$(fmtnum "$chk") s" "$(pass_if "$chk <= 0.5")"
  verdict $w "agenda >= 100x dateutil+zoneinfo" "$(fmtnum "$ag") / $(fmtnum "$du") rows/s = $(fmtnum "$r1")x" "$(pass_if "$r1 >= 100")"
  verdict $w "agenda >= 10x Remind plain" "$(fmtnum "$ag") / $(fmtnum "$rem") rows/s = $(fmtnum "$r2")x" "$(pass_if "$r2 >= 10")"
  # informative: the same ratios for the walk alone (configuration load excluded)
  local wk; wk=$(stats "$td/walk.rate" | cut -d' ' -f1)
  verdict $w "(info) walk only vs dateutil / vs Remind plain" "$(fmtnum "$(calc "$wk / $du")")x / $(fmtnum "$(calc "$wk / $rem")")x" "info"
}

# ---------------------------------------------------------------- W2
# One iopd burst run: N reminders due at one instant; prints the sink's deliveries/s.
# LEDGER: sqlite (default), pg1 (PostgreSQL, one instance), pg2 (two instances).
w2_iopd_once() { # RUNDIR N CONC [LEDGER]
  local dir=$1 n=$2 conc=$3 ledger=${4:-sqlite} due keyopt=() base got i now rate line k
  rm -rf "$dir"; mkdir -p "$dir"
  if [ "$W2_SIGN" = 1 ]; then
    printf 'bench-hmac-key\n' >"$dir/hook.key"; chmod 600 "$dir/hook.key"; keyopt=(--key "$dir/hook.key")
  fi
  due=$(( $(date +%s) + W2_LEAD ))
  for k in $(pg_instances "$ledger"); do
    "$SYSPY" "$BENCH_DIR/gen_iopd.py" burst "$dir/$k" --n "$n" --due "$due" --url "$SINK_URL" \
      --concurrency "$conc" "${keyopt[@]}" --daemon-extra "$(pg_extra "$ledger" "$k")" >/dev/null ||
      die "gen_iopd.py burst"
  done
  [ "$ledger" = sqlite ] || pg_reset
  sink logtruncate
  base=$(sink count)
  for k in $(pg_instances "$ledger"); do
    daemon_start "$dir/$k/iopd.conf" "$dir/$k/iopd.log"
  done
  now=$(date +%s)
  [ "$now" -lt "$due" ] || log "W2: the daemon was ready only $((now - due)) s after the due instant (raise W2_LEAD)"
  local cpu0 cpu1 flt0 flt1 perfpid=     # CPU of the daemon started last (pg2: one of two)
  cpu0=$(cputicks "$DAEMON_PID"); flt0=$(minflt "$DAEMON_PID")
  if [ "$W2_PERF" = 1 ]; then
    local cg; read -ra cg <<<"${W2_PERF_CG:--g}"
    perf record -q -F "${W2_PERF_FREQ:-1999}" "${cg[@]}" -p "$DAEMON_PID" -o "$dir/perf.data" >/dev/null 2>&1 &
    perfpid=$!
  elif [ "$W2_STRACE" = 1 ]; then
    strace -c -f -p "$DAEMON_PID" -o "$dir/strace.txt" &
    perfpid=$!
  fi
  for i in $(seq 1 1200); do               # at most 10 min
    got=$(( $(sink count) - base - i ))     # each poll is a request too
    [ "$got" -ge "$n" ] && break
    sleep 0.5
  done
  sleep 0.5                                # the last outcomes' commit
  cpu1=$(cputicks "$DAEMON_PID"); flt1=$(minflt "$DAEMON_PID")
  [ -z "$perfpid" ] || { kill -INT "$perfpid"; wait "$perfpid"; }
  daemon_stop_all
  sleep 1.3                                # nginx flushes its access log every second
  line=$("$SYSPY" "$BENCH_DIR/sinklog.py" rate "$(sink_log)")
  local cpu_us; cpu_us=$(calc "($cpu1 - $cpu0) * 1000000 / $(getconf CLK_TCK) / $n")
  echo "$ledger $line due=$due cpu_us_per_delivery=$cpu_us faults_per_delivery=$(calc "($flt1 - $flt0) / $n")" >>"$dir/../runs.txt"
  [ -z "$W2_CPU_FILE" ] || echo "$cpu_us" >>"$W2_CPU_FILE"
  local req distinct sent
  req=$(echo "$line" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
  distinct=$(echo "$line" | sed -n 's/.*distinct=\([0-9]*\).*/\1/p')
  if [ "$ledger" = sqlite ]; then
    sent=$("$SYSPY" -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("select count(*) from reminder where status = ?", ("sent",)).fetchone()[0])' "$dir/i1/state/ledger.db")
  else
    sent=$(pg_q "SELECT count(*) FROM reminder WHERE status = 'sent'")
    [ "$ledger" = pg2 ] && log "W2 $ledger: sent per instance: $(pg_q "SELECT string_agg(instance || '=' || n, ' ') FROM (SELECT instance, count(*) n FROM outcome WHERE status = 'sent' GROUP BY 1 ORDER BY 1) s")"
  fi
  [ "$distinct" -eq "$n" ] || log "W2: only $distinct of $n reminders reached the sink"
  [ "$sent" -eq "$n" ] || log "W2: the ledger has $sent of $n reminders sent"
  [ "$req" -eq "$distinct" ] || log "W2: $((req - distinct)) duplicate request(s)"
  echo "$line" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p'
}

# The floor (curl_floor.c): iopd's requests from a bare libcurl multi on
# libev, nothing else, pinned like iopd; W2's durable floor adds the least
# ledger a durable client keeps.  Built on first use.
FLOOR=
floor_build() {
  [ -n "$FLOOR" ] && return 0
  FLOOR=$BENCH_DATA/curl_floor
  if [ ! -x "$FLOOR" ] || [ "$BENCH_DIR/curl_floor.c" -nt "$FLOOR" ]; then
    mkdir -p "$BENCH_DATA"
    # shellcheck disable=SC2046  # pkg-config's words
    cc -std=c11 -O2 -Wall -Wextra -o "$FLOOR" "$BENCH_DIR/curl_floor.c" \
      $(pkg-config --cflags --libs libcurl sqlite3) -lev ||
      die "cannot build curl_floor.c (libcurl, SQLite and libev headers)"
  fi
}

floor_burst_once() { # N CONC CPUFILE [LEDGER] -> the rate at the sink; CPU per request appended to CPUFILE
  local a
  sink logtruncate
  a=$(pin "$FLOOR" burst "$SINK_URL" "$1" "$2" ${4:+"$4"}) || log "curl_floor burst failed: $a"
  lat_field "$a" cpu_us_per_request >>"$3"
  sleep 1.3                                # nginx flushes its access log every second
  lat_field "$("$SYSPY" "$BENCH_DIR/sinklog.py" rate "$(sink_log)")" rate
}

w2() {
  need_tools nginx wrk taskset curl cc pkg-config
  floor_build
  [ -z "$APPRISE_MODES" ] || "$SYSPY" -c 'import apprise' 2>/dev/null ||
    die "$SYSPY cannot import apprise (apt-get install apprise)"
  local w=W2 td=$OUT_DIR/w2 r m
  mkdir -p "$td"; : >"$td/wrk"; : >"$td/iopd"; : >"$td/iopd-cpu"; : >"$td/floor"; : >"$td/floor-cpu"
  : >"$td/dfloor"; : >"$td/dfloor-cpu"
  W2_CPU_FILE=$td/iopd-cpu
  for m in $APPRISE_MODES; do : >"$td/apprise-$m"; done
  sink_up
  log "W2: $W2_N reminders due at once, webhook channel (concurrency $W2_CONC, HMAC-signed: $W2_SIGN), durable ledger"
  for r in $(seq 1 "$RUNS"); do
    log "W2 round $r/$RUNS"
    # wrk: the HTTP limit of one client core + the one sink core
    (cd "$BENCH_DIR" && pin wrk -t1 -c16 -d"${WRK_SECS}s" -s wrk-post.lua "$SINK_URL") >"$td/wrk-$r.out" 2>&1
    sed -n 's/^ANCHOR wrk .* rps=\([0-9.]*\).*/\1/p' "$td/wrk-$r.out" >>"$td/wrk"
    if [ "$r" -le "$RUNS_SLOW" ]; then
      for m in $APPRISE_MODES; do
        pin "$SYSPY" "$BENCH_DIR/apprise_lib.py" --n "$APPRISE_N" --mode "$m" --k 16 --max-seconds 180 \
          >"$td/apprise-$m-$r.out" 2>&1 || log "apprise $m run $r failed (see $td)"
        sed -n 's/^ANCHOR .* rate=\([0-9.]*\).*/\1/p' "$td/apprise-$m-$r.out" >>"$td/apprise-$m"
      done
    fi
    w2_iopd_once "$BENCH_DATA/w2/run" "$W2_N" "$W2_CONC" sqlite >>"$td/iopd"
    floor_burst_once "$W2_N" "$W2_CONC" "$td/floor-cpu" >>"$td/floor"
    # the ledger beside iopd's, in the folder w2_iopd_once made
    floor_burst_once "$W2_N" "$W2_CONC" "$td/dfloor-cpu" "$BENCH_DATA/w2/floor-ledger.db" >>"$td/dfloor"
  done
  local s_iopd s_wrk best=0 bestm= s
  s_wrk=$(record $w "wrk -t1 -c16 (HTTP limit)" "$td/wrk" req/s "${WRK_SECS}s, keep-alive, same sink")
  for m in $APPRISE_MODES; do
    s=$(record $w "Apprise library --mode $m" "$td/apprise-$m" deliveries/s "$APPRISE_N deliveries, in-loop rate")
    s=$(echo "$s" | cut -d' ' -f1)
    if awk "BEGIN { exit !($s > $best) }"; then best=$s; bestm=$m; fi
  done
  s_iopd=$(record $w "iopd webhook, durable ledger" "$td/iopd" deliveries/s "$W2_N due at once, concurrency $W2_CONC; first..last request at the sink")
  record $w "iopd CPU per delivery (user+system)" "$td/iopd-cpu" us "/proc/PID/stat from ready to the last outcome" >/dev/null
  local io wr r1 r2 fr fw dr dw
  io=$(echo "$s_iopd" | cut -d' ' -f1); wr=$(echo "$s_wrk" | cut -d' ' -f1)
  fr=$(record $w "libcurl floor (curl_floor.c), no ledger" "$td/floor" requests/s "the same requests and concurrency, nothing else" | cut -d' ' -f1)
  record $w "libcurl floor CPU per request (user+system)" "$td/floor-cpu" us "getrusage over the run" >/dev/null
  dr=$(record $w "durable floor (curl_floor.c + least ledger)" "$td/dfloor" requests/s "the floor with a claim and an outcome committed per request, batched" | cut -d' ' -f1)
  record $w "durable floor CPU per request (user+system)" "$td/dfloor-cpu" us "getrusage over the run" >/dev/null
  fw=$(fmtnum "$(calc "100 * $fr / $wr")"); dw=$(fmtnum "$(calc "100 * $dr / $wr")")
  log "W2: the floor is $fw% of wrk, the durable floor $dw%; iopd is $(fmtnum "$(calc "100 * $io / $fr")")% of the floor, $(fmtnum "$(calc "100 * $io / $dr")")% of the durable floor"
  r1=$(calc "100 * $io / $wr"); r2=$(calc "$io / ($best + ($best == 0))")
  verdict $w "iopd >= 30% of wrk -c16" "$(fmtnum "$io") / $(fmtnum "$wr") = $(fmtnum "$r1")% (floor $fw%, durable floor $dw%)" "$(pass_if "$r1 >= 30")"
  [ -z "$bestm" ] ||
    verdict $w "iopd >= 50x Apprise best library mode ($bestm)" "$(fmtnum "$io") / $(fmtnum "$best") = $(fmtnum "$r2")x (floor $(fmtnum "$(calc "$fr / $best")")x, durable floor $(fmtnum "$(calc "$dr / $best")")x)" "$(pass_if "$r2 >= 50")"
}

# ---------------------------------------------------------------- W3 / W5
# One spread run: N reminders over S seconds (+ optional background calendar);
# with HUP_AT, a SIGHUP that many seconds after the first due.  Leaves in RUNDIR:
# agenda.jsonl, iopd.log, metrics.txt, hup.txt; prints the lateness line.
# LEDGER (with no TSV): sqlite (default), pg1, pg2 (see w2_iopd_once).
spread_once() { # RUNDIR N SECS CONC [TSV SHIFT HUP_AT [LEDGER]]
  local dir=$1 n=$2 secs=$3 conc=$4 tsv=${5:-} shift=${6:-0} hupat=${7:-} ledger=${8:-sqlite}
  local t0 bg=() base got i sock k edited
  rm -rf "$dir"; mkdir -p "$dir"
  t0=$(( $(date +%s) + W3_LEAD ))
  [ -n "$tsv" ] && { bg=(--tsv "$tsv" --shift-days "$shift" --before 2h "${GEN_SPLIT[@]}"); t0=$((t0 + BG_LEAD)); }
  # a warm-up group (as many as the channel's concurrency) 5 s before the window
  # opens the channel's connections, as a warm-up run would; it is not counted
  for k in $(pg_instances "$ledger"); do
    "$SYSPY" "$BENCH_DIR/gen_iopd.py" spread "$dir/$k" --n "$n" --t0 "$t0" --secs "$secs" \
      --warmup "$W3_WARMUP" --url "$SINK_URL" --concurrency "$conc" "${bg[@]}" \
      --daemon-extra "$(pg_extra "$ledger" "$k")" >/dev/null || die "gen_iopd.py spread"
  done
  # ids and dues, from iopd's own agenda
  "$IOPD" agenda -c "$dir/i1/iopd.conf" --from "$(date -u -d "@$t0" +%Y-%m-%dT%H:%M:%SZ)" \
    --to "$(date -u -d "@$((t0 + secs))" +%Y-%m-%dT%H:%M:%SZ)" >"$dir/agenda.jsonl" 2>/dev/null
  [ "$(wc -l <"$dir/agenda.jsonl")" -eq "$n" ] || die "spread: the agenda has $(wc -l <"$dir/agenda.jsonl") rows, expected $n"
  [ "$ledger" = sqlite ] || pg_reset
  sink logtruncate
  base=$(sink count)
  for k in $(pg_instances "$ledger"); do
    daemon_start "$dir/$k/iopd.conf" "$dir/$k/iopd.log"
  done
  sock=$dir/i1/state/control.sock
  [ "$(date +%s)" -lt "$t0" ] || log "spread: the daemon was ready only after the first due (raise W3_LEAD)"
  if [ -n "$hupat" ]; then
    # an edit before the reload, as an admin's would be: the patients are
    # read again (an unchanged configuration would take them from the cache)
    edited=0
    for k in $(pg_instances "$ledger"); do
      for f in "$dir/$k"/patients.conf "$dir/$k"/patients/*.conf; do
        [ -f "$f" ] && echo "# edited before the reload" >>"$f" && edited=$((edited + 1))
      done
    done
    [ "$edited" -gt 0 ] || die "spread: no patients file to edit before the reload in $dir"
    while [ "$EPOCHSECONDS" -lt $((t0 + hupat)) ]; do sleep 0.1; done
    echo "$EPOCHREALTIME" >"$dir/hup.txt"
    kill -HUP "$DAEMON_PID"
  fi
  for i in $(seq 1 $((secs + 60))); do
    sleep_to_half_second                    # away from the bursts (lib.sh)
    got=$(( $(sink count) - base - i ))     # each poll is a request too
    [ "$got" -ge $((n + W3_WARMUP)) ] && [ "$EPOCHSECONDS" -gt $((t0 + secs)) ] && break
  done
  "$IOPCTL" -s "$sock" metrics >"$dir/metrics.txt" 2>&1 || true
  daemon_stop_all
  sleep 1.3
  "$SYSPY" "$BENCH_DIR/sinklog.py" lateness "$(sink_log)" "$dir/agenda.jsonl"
}

# lat_field LINE KEY: the value of the word KEY=VALUE in LINE (sinklog.py's and
# curl_floor's lines)
lat_field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

floor_spread_once() { # RUNDIR -> the lateness line of W3's timing from curl_floor
  local dir=$1 t0
  rm -rf "$dir"; mkdir -p "$dir"
  t0=$(( $(date +%s) + 8 ))                # the warm-up 5 s before
  sink logtruncate
  pin "$FLOOR" spread "$SINK_URL" "$W3_N" "$W3_SECS" "$W3_CONC" "$t0" "$W3_WARMUP" "$dir/dues.jsonl" >&2 ||
    log "curl_floor spread failed"
  sleep 1.3
  "$SYSPY" "$BENCH_DIR/sinklog.py" lateness "$(sink_log)" "$dir/dues.jsonl"
}

w3() {
  need_tools nginx taskset cc pkg-config
  floor_build
  local w=W3 td=$OUT_DIR/w3 r line
  mkdir -p "$td"; : >"$td/p50"; : >"$td/p99"; : >"$td/max"; : >"$td/floor-p50"; : >"$td/floor-p99"
  sink_up
  log "W3: $W3_N reminders spread over $W3_SECS s (concurrency $W3_CONC); lateness = sink time - due"
  for r in $(seq 1 "$RUNS_SLOW"); do
    log "W3 run $r/$RUNS_SLOW (about $((W3_SECS + W3_LEAD + 10)) s)"
    line=$(spread_once "$BENCH_DATA/w3/run" "$W3_N" "$W3_SECS" "$W3_CONC")
    log "W3 run $r: $line"
    echo "$line" >>"$td/runs.txt"
    [ "$(lat_field "$line" missing)" = 0 ] || log "W3: $(lat_field "$line" missing) reminders never reached the sink"
    lat_field "$line" p50 >>"$td/p50"; lat_field "$line" p99 >>"$td/p99"; lat_field "$line" max >>"$td/max"
    line=$(floor_spread_once "$BENCH_DATA/w3/floor")
    log "W3 run $r, libcurl floor: $line"
    echo "floor $line" >>"$td/runs.txt"
    lat_field "$line" p50 >>"$td/floor-p50"; lat_field "$line" p99 >>"$td/floor-p99"
  done
  record $w "iopd lateness p50" "$td/p50" ms "per run" >/dev/null
  local s f; s=$(record $w "iopd lateness p99" "$td/p99" ms "per run")
  record $w "iopd lateness max" "$td/max" ms "per run" >/dev/null
  record $w "libcurl floor (curl_floor.c) lateness p50" "$td/floor-p50" ms "the same requests and timing, nothing else" >/dev/null
  f=$(record $w "libcurl floor (curl_floor.c) lateness p99" "$td/floor-p99" ms "the same requests and timing, nothing else")
  s=$(echo "$s" | cut -d' ' -f1); f=$(echo "$f" | cut -d' ' -f1)
  verdict $w "p99 dispatch lateness <= 5 ms" "$(fmtnum "$s") ms, floor $(fmtnum "$f") (nginx \$msec: 1 ms)" "$(pass_if "$s <= 5")"
}

w5() {
  need_tools nginx taskset
  local w=W5 td=$OUT_DIR/w5 r line d shift dir stall hup rl t_end
  mkdir -p "$td"; : >"$td/stall"; : >"$td/p99"; : >"$td/max"; : >"$td/winmax"; : >"$td/reload"
  d=$(calendar_data "$P")
  shift=$(future_shift)
  sink_up
  log "W5: $P calendar patients (moved $shift days ahead: none due) + W3 load ($W3_N over $W3_SECS s); SIGHUP at +$W5_HUP_AT s"
  for r in $(seq 1 "$RUNS_SLOW"); do
    log "W5 run $r/$RUNS_SLOW"
    dir=$BENCH_DATA/w5/run
    line=$(spread_once "$dir" "$W3_N" "$W3_SECS" "$W3_CONC" "$d/patients.tsv" "$shift" "$W5_HUP_AT")
    stall=$(sed -n 's/^iopd_reload_longest_stall_seconds //p' "$dir/metrics.txt")
    grep -q '^iopd_reloads_total{result="ok"} 1' "$dir/metrics.txt" || log "W5: the reload did not succeed (see $dir/i1/iopd.log)"
    rl=$(sed -n 's/.*reloaded .* in \([0-9.]*\) s (loop paused.*/\1/p' "$dir/i1/iopd.log" | head -1)
    hup=$(cut -d. -f1 "$dir/hup.txt")
    t_end=$(calc "$(cat "$dir/hup.txt") + ${rl:-0} + 1")
    # the reminders due from 1 s before the signal to 1 s after the swap: what a stall would delay
    local win; win=$("$SYSPY" "$BENCH_DIR/sinklog.py" lateness "$(sink_log)" "$dir/agenda.jsonl" --window $((hup - 1)) "$t_end")
    log "W5 run $r: stall ${stall} s, reload ${rl} s; all: $line; during the reload: $win"
    echo "stall=$stall reload=$rl all: $line; reload window: $win" >>"$td/runs.txt"
    calc "${stall:-nan} * 1000" >>"$td/stall"; echo >>"$td/stall"
    echo "${rl:-nan}" >>"$td/reload"
    lat_field "$line" p99 >>"$td/p99"; lat_field "$line" max >>"$td/max"
    lat_field "$win" max >>"$td/winmax"
  done
  local s_stall s_win
  s_stall=$(record $w "iopd_reload_longest_stall_seconds" "$td/stall" ms "swap on the loop (iopctl metrics)")
  record $w "reload duration (thread)" "$td/reload" s "parse + schedule off the loop" >/dev/null
  s_win=$(record $w "lateness max during the reload" "$td/winmax" ms "reminders due from HUP-1s to swap+1s")
  record $w "lateness p99, whole run" "$td/p99" ms "W3 load with a reload" >/dev/null
  record $w "lateness max, whole run" "$td/max" ms "" >/dev/null
  s_stall=$(echo "$s_stall" | cut -d' ' -f1); s_win=$(echo "$s_win" | cut -d' ' -f1)
  verdict $w "longest loop stall <= 100 ms (metric)" "$(fmtnum "$s_stall") ms" "$(pass_if "$s_stall <= 100")"
  verdict $w "... seen from outside: lateness during the reload <= 100 ms" "$(fmtnum "$s_win") ms" "$(pass_if "$s_win <= 100")"
}

# ---------------------------------------------------------------- W2PG / W3PG
# The same bursts and spreads with the ledger in PostgreSQL: one instance, and
# two instances sharing it (both on the client core), each round against the
# SQLite run of that round.
w2pg() {
  need_tools nginx taskset curl
  local w=W2PG td=$OUT_DIR/w2pg r l
  mkdir -p "$td"
  for l in sqlite pg1 pg2; do : >"$td/$l"; done
  sink_up
  pg_up
  log "W2PG: $W2_N reminders due at once (concurrency $W2_CONC): SQLite, PostgreSQL with 1 and 2 instances"
  for r in $(seq 1 "$RUNS"); do
    for l in sqlite pg1 pg2; do
      log "W2PG round $r/$RUNS: $l"
      w2_iopd_once "$BENCH_DATA/w2pg/run" "$W2_N" "$W2_CONC" "$l" >>"$td/$l"
    done
  done
  local s1 s2 s3
  s1=$(record $w "iopd, SQLite ledger" "$td/sqlite" deliveries/s "same rounds as the PostgreSQL runs" | cut -d' ' -f1)
  s2=$(record $w "iopd, PostgreSQL ledger, 1 instance" "$td/pg1" deliveries/s "private cluster, TCP loopback" | cut -d' ' -f1)
  s3=$(record $w "iopd, PostgreSQL ledger, 2 instances" "$td/pg2" deliveries/s "both on the client core" | cut -d' ' -f1)
  local r1; r1=$(calc "100 * $s2 / $s1")
  verdict $w "PostgreSQL, 1 instance >= 50% of SQLite" "$(fmtnum "$s2") / $(fmtnum "$s1") = $(fmtnum "$r1")%" "$(pass_if "$r1 >= 50")"
  verdict $w "(info) 2 instances vs 1" "$(fmtnum "$s3") / $(fmtnum "$s2") = $(fmtnum "$(calc "$s3 / $s2")")x" info
}

w3pg() {
  need_tools nginx taskset
  local w=W3PG td=$OUT_DIR/w3pg r l line
  mkdir -p "$td"
  for l in sqlite pg1 pg2; do : >"$td/$l.p50"; : >"$td/$l.p99"; : >"$td/$l.max"; done
  sink_up
  pg_up
  log "W3PG: $W3_N reminders over $W3_SECS s: SQLite, PostgreSQL with 1 and 2 instances"
  for r in $(seq 1 "$RUNS_SLOW"); do
    for l in sqlite pg1 pg2; do
      log "W3PG round $r/$RUNS_SLOW: $l (about $((W3_SECS + W3_LEAD + 10)) s)"
      line=$(spread_once "$BENCH_DATA/w3pg/run" "$W3_N" "$W3_SECS" "$W3_CONC" "" 0 "" "$l")
      log "W3PG $l run $r: $line"
      echo "$l $line" >>"$td/runs.txt"
      [ "$(lat_field "$line" missing)" = 0 ] || log "W3PG $l: $(lat_field "$line" missing) reminders never reached the sink"
      lat_field "$line" p50 >>"$td/$l.p50"; lat_field "$line" p99 >>"$td/$l.p99"; lat_field "$line" max >>"$td/$l.max"
    done
  done
  local p
  for l in sqlite pg1 pg2; do
    record $w "lateness p50, $l" "$td/$l.p50" ms "per run" >/dev/null
    p=$(record $w "lateness p99, $l" "$td/$l.p99" ms "per run" | cut -d' ' -f1)
    record $w "lateness max, $l" "$td/$l.max" ms "per run" >/dev/null
    [ "$l" = pg1 ] && verdict $w "PostgreSQL, 1 instance: p99 lateness <= 5 ms" "$(fmtnum "$p") ms" "$(pass_if "$p <= 5")"
    [ "$l" = sqlite ] && verdict $w "(info) SQLite p99 in the same rounds" "$(fmtnum "$p") ms" info
  done
}

# ---------------------------------------------------------------- W6
# Rows of the ledger (read-only), e.g. ledger_count DB "status = 'sent' AND channel = 'sms'".
ledger_count() {
  "$SYSPY" -c 'import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
print(db.execute("select count(*) from reminder where " + sys.argv[2]).fetchone()[0])' "$1" "$2" 2>/dev/null || echo 0
}

# One W6 run: W6_N sms reminders sent in a burst first, then W3's spread of
# webhook reminders; W6_AT s into it, wrk posts one signed status callback for
# each sms reminder (as fast as it can, 16 connections).  Prints KEY=VALUE words:
# wrk's rate (each 200 is a receipt committed), the receipts the ledger holds,
# wrk's errors, the lateness of the whole spread and of the reminders due while
# the callbacks ran (win_*).
w6_once() { # RUNDIR
  local dir=$1 now sms_due t0 i sent got ws we wline lat win rec
  rm -rf "$dir"; mkdir -p "$dir"
  printf 'bench-twilio-token\n' >"$dir/tw.tok"; chmod 600 "$dir/tw.tok"
  now=$(date +%s); sms_due=$((now + W6_SMS_LEAD)); t0=$((sms_due + W6_GAP))
  "$SYSPY" "$BENCH_DIR/gen_iopd.py" spread "$dir" --n "$W3_N" --t0 "$t0" --secs "$W3_SECS" \
    --warmup "$W3_WARMUP" --url "$SINK_URL" --concurrency "$W3_CONC" --sms-n "$W6_N" \
    --sms-due "$sms_due" --sms-token "$dir/tw.tok" --listen "127.0.0.1:$W6_PORT" >/dev/null ||
    die "gen_iopd.py spread (W6)"
  "$IOPD" agenda -c "$dir/iopd.conf" --from "$(date -u -d "@$sms_due" +%Y-%m-%dT%H:%M:%SZ)" \
    --to "$(date -u -d "@$((sms_due + 1))" +%Y-%m-%dT%H:%M:%SZ)" >"$dir/sms.jsonl" 2>/dev/null
  "$IOPD" agenda -c "$dir/iopd.conf" --from "$(date -u -d "@$t0" +%Y-%m-%dT%H:%M:%SZ)" \
    --to "$(date -u -d "@$((t0 + W3_SECS))" +%Y-%m-%dT%H:%M:%SZ)" >"$dir/agenda.jsonl" 2>/dev/null
  [ "$(wc -l <"$dir/agenda.jsonl")" -eq "$W3_N" ] || die "W6: the spread has $(wc -l <"$dir/agenda.jsonl") rows"
  got=$("$SYSPY" "$BENCH_DIR/w6_callbacks.py" "$dir/sms.jsonl" "http://127.0.0.1:$W6_PORT" \
    "$dir/tw.tok" "$dir/callbacks.txt") || die "w6_callbacks.py"
  [ "$got" -eq "$W6_N" ] || die "W6: $got callbacks for $W6_N sms reminders"
  sink logtruncate
  daemon_start "$dir/iopd.conf" "$dir/iopd.log"
  [ "$(date +%s)" -lt "$sms_due" ] || log "W6: the daemon was ready only after the sms burst fell due (raise W6_SMS_LEAD)"
  for i in $(seq 1 1200); do
    sent=$(ledger_count "$dir/state/ledger.db" "status = 'sent' AND channel = 'sms'")
    [ "$sent" -ge "$W6_N" ] && break
    sleep 0.1
  done
  [ "$sent" -ge "$W6_N" ] || log "W6: only $sent of $W6_N sms reminders were sent"
  [ "$(date +%s)" -lt "$t0" ] || log "W6: the sms burst ended after the spread began"
  while [ "$EPOCHSECONDS" -lt $((t0 + W6_AT)) ]; do sleep 0.05; done
  ws=$EPOCHREALTIME
  local wpid cpu=()
  [ "$PIN" = 1 ] && cpu=(taskset -c 0)       # iopd is on cpu 1, the sink's trickle on 0
  (cd "$BENCH_DIR" && CALLBACKS_FILE="$dir/callbacks.txt" exec "${cpu[@]}" wrk -t1 -c"$W6_CONN" -d300s \
    -s wrk-callbacks.lua "http://127.0.0.1:$W6_PORT") >"$dir/wrk.out" 2>&1 &
  wpid=$!
  # done when iopd counts every receipt recorded (after its commit); then wrk
  # stops, and its summary covers the time it ran
  while kill -0 "$wpid" 2>/dev/null; do
    got=$("$IOPCTL" -s "$dir/state/control.sock" metrics 2>/dev/null |
      sed -n 's/^iopd_receipts_total{state="delivered"} //p')
    [ "${got:-0}" -ge "$W6_N" ] && break
    sleep 0.05
  done
  kill -INT "$wpid" 2>/dev/null
  wait "$wpid" 2>/dev/null
  we=$EPOCHREALTIME
  wline=$(sed -n 's/^ANCHOR wrk-callbacks //p' "$dir/wrk.out")
  # the rate of receipts: W6_N over the time wrk ran (its extra requests past
  # the end repeat the last callback, counted once)
  wline="$wline receipts_per_s=$(calc "$W6_N / $(lat_field "$wline" secs)")"
  rec=$(ledger_count "$dir/state/ledger.db" "channel = 'sms' AND receipt = 'delivered'")
  [ "$rec" -eq "$W6_N" ] || log "W6: the ledger holds $rec of $W6_N receipts"
  while [ "$EPOCHSECONDS" -le $((t0 + W3_SECS + 2)) ]; do sleep_to_half_second; done
  "$IOPCTL" -s "$dir/state/control.sock" metrics >"$dir/metrics.txt" 2>&1 || true
  daemon_stop
  sleep 1.3
  lat=$("$SYSPY" "$BENCH_DIR/sinklog.py" lateness "$(sink_log)" "$dir/agenda.jsonl")
  win=$("$SYSPY" "$BENCH_DIR/sinklog.py" lateness "$(sink_log)" "$dir/agenda.jsonl" --window \
    "${ws%.*}" "${we%.*}" | sed 's/\([a-z0-9]*\)=/win_\1=/g')
  echo "$wline recorded=$rec $lat $win"
}

w6() {
  need_tools nginx wrk taskset
  local w=W6 td=$OUT_DIR/w6 r line
  mkdir -p "$td"; : >"$td/wrk"; : >"$td/iopd"; : >"$td/p99"; : >"$td/winp99"
  sink_up
  log "W6: $W6_N signed status callbacks posted by wrk -c$W6_CONN while W3's $W3_N reminders fall due; durable ledger"
  for r in $(seq 1 "$RUNS_SLOW"); do
    log "W6 round $r/$RUNS_SLOW (about $((W6_SMS_LEAD + W6_GAP + W3_SECS + 10)) s)"
    (cd "$BENCH_DIR" && pin wrk -t1 -c16 -d"${WRK_SECS}s" -s wrk-post.lua "$SINK_URL") >"$td/wrk-$r.out" 2>&1
    sed -n 's/^ANCHOR wrk .* rps=\([0-9.]*\).*/\1/p' "$td/wrk-$r.out" >>"$td/wrk"
    line=$(w6_once "$BENCH_DATA/w6/run")
    log "W6 run $r: $line"
    echo "$line" >>"$td/runs.txt"
    [ "$(lat_field "$line" err_status)" = 0 ] || log "W6: $(lat_field "$line" err_status) callbacks not answered 200"
    lat_field "$line" receipts_per_s >>"$td/iopd"
    lat_field "$line" p99 >>"$td/p99"
    lat_field "$line" win_p99 >>"$td/winp99"
  done
  local s_wrk s_iopd s_p99 s_win io wr r1
  s_wrk=$(record $w "wrk -t1 -c16 on the sink (HTTP limit)" "$td/wrk" req/s "${WRK_SECS}s, same run")
  s_iopd=$(record $w "iopd receipts recorded (signed callbacks)" "$td/iopd" receipts/s \
    "$W6_N Twilio status callbacks, wrk -c$W6_CONN; each 200 after its commit")
  s_p99=$(record $w "W3 lateness p99, whole spread" "$td/p99" ms "$W3_N reminders over $W3_SECS s")
  s_win=$(record $w "W3 lateness p99 while the callbacks ran" "$td/winp99" ms "reminders due during wrk")
  io=$(echo "$s_iopd" | cut -d' ' -f1); wr=$(echo "$s_wrk" | cut -d' ' -f1)
  s_p99=$(echo "$s_p99" | cut -d' ' -f1); s_win=$(echo "$s_win" | cut -d' ' -f1)
  r1=$(calc "100 * $io / $wr")
  verdict $w "receipts >= 15% of wrk -c16 on the sink" "$(fmtnum "$io") / $(fmtnum "$wr") = $(fmtnum "$r1")%" "$(pass_if "$r1 >= 15")"
  verdict $w "W3 p99 lateness <= 5 ms while callbacks arrive" "$(fmtnum "$s_win") ms (whole spread: $(fmtnum "$s_p99") ms)" "$(pass_if "$s_win <= 5")"
}

# ---------------------------------------------------------------- W4
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

# RSS of a daemon holding FULL minus the same daemon with EMPTY, per patient,
# RUNS_EACH times; records them under workload W.
rss_runs() { # W P FULL EMPTY TD RUNS_EACH
  local w=$1 p=$2 full=$3 empty=$4 td=$5 n=$6 r a b c
  : >"$td/full"; : >"$td/empty"; : >"$td/per"; : >"$td/warm"; : >"$td/perwarm"
  for r in $(seq 1 "$n"); do
    rm -rf "$full/state" "$empty/state"
    # a first start reads every patient (and writes the patients cache)...
    daemon_start "$full/iopd.conf" "$td/full-$r.log"; sleep 1; a=$(rss_kib "$DAEMON_PID"); daemon_stop
    # ... the next one takes them from the cache
    daemon_start "$full/iopd.conf" "$td/warm-$r.log"; sleep 1; c=$(rss_kib "$DAEMON_PID"); daemon_stop
    daemon_start "$empty/iopd.conf" "$td/empty-$r.log"; sleep 1; b=$(rss_kib "$DAEMON_PID"); daemon_stop
    echo "$a" >>"$td/full"; echo "$b" >>"$td/empty"; echo "$c" >>"$td/warm"
    calc "($a - $b) * 1024 / $p" >>"$td/per"; echo >>"$td/per"
    calc "($c - $b) * 1024 / $p" >>"$td/perwarm"; echo >>"$td/perwarm"
    log "$w run $r: $a KiB (from the cache: $c KiB) - $b KiB"
  done
  record "$w" "RSS, $p patients" "$td/full" KiB "first start: every patient read" >/dev/null
  record "$w" "RSS, $p patients, from the cache" "$td/warm" KiB "next start" >/dev/null
  record "$w" "RSS, empty daemon" "$td/empty" KiB "" >/dev/null
  record "$w" "RSS per patient, from the cache" "$td/perwarm" bytes "(from the cache - empty) / $p" >/dev/null
  local s; s=$(record "$w" "RSS per patient" "$td/per" bytes "(full - empty) / $p")
  s=$(echo "$s" | cut -d' ' -f1)
  verdict "$w" "<= 1 KiB RSS per patient ($p patients)" "$(fmtnum "$s") B" "$(pass_if "$s <= 1024")"
}

w4() {
  local w=W4 td=$OUT_DIR/w4 d shift full empty
  mkdir -p "$td"
  d=$(calendar_data "$P")
  shift=$(future_shift)
  full=$BENCH_DATA/w4/full; empty=$BENCH_DATA/w4/empty
  "$SYSPY" "$BENCH_DIR/gen_iopd.py" calendar "$full" --tsv "$d/patients.tsv" --shift-days "$shift" \
    --before 2h --url "$SINK_URL" >/dev/null || die "gen_iopd.py"
  "$SYSPY" "$BENCH_DIR/gen_iopd.py" calendar "$empty" --tsv "$d/patients.tsv" --empty \
    --before 2h --url "$SINK_URL" >/dev/null || die "gen_iopd.py"
  log "W4: RSS of the daemon holding $P patients (enrollments moved $shift days ahead) minus the empty daemon"
  rss_runs $w "$P" "$full" "$empty" "$td" "$RUNS"
}

# ---------------------------------------------------------------- WM
# The million: iopd -t (wall time and peak RSS), the agenda's week, the
# daemon's RSS per patient (as W4) and a reload under W3's load (as W5), at
# P_BIG patients in files of BIG_SPLIT.
wm() {
  need_tools nginx taskset
  local w=WM td=$OUT_DIR/wm d conf r line rows shift full empty expect
  mkdir -p "$td"; : >"$td/check"; : >"$td/peak"; : >"$td/agenda"
  d=$(calendar_big "$P_BIG")
  conf=$d/iopd.conf
  expect=$((17 * P_BIG))
  log "WM: $P_BIG patients ($(ls "$d/patients" | wc -l) files)"
  WARM=("$d")
  pin "$IOPD" -t -c "$conf" >/dev/null 2>&1 || die "iopd -t failed on $conf"
  rows=$(pin "$IOPD" agenda -c "$conf" --from 2027-01-11 --to 2027-01-18 --no-ledger 2>/dev/null | wc -l)
  [ "$rows" -eq "$expect" ] || die "WM: iopd agenda printed $rows rows, expected $expect"
  cache_warm "$conf"
  : >"$td/nocache"
  without_cache "$conf" walltime pin "$IOPD" agenda -c "$conf" --from 2027-01-11 --to 2027-01-18 --no-ledger >>"$td/nocache"
  echo >>"$td/nocache"
  local cpu=()
  [ "$PIN" = 1 ] && cpu=(taskset -c 1)
  for r in $(seq 1 "$RUNS_SLOW"); do
    # wall time and peak RSS of the whole process (/usr/bin/time; iopd's own
    # messages go to /dev/null)
    warm
    line=$(/usr/bin/time -f 'TIME %e %M' -o /dev/stdout "${cpu[@]}" "$IOPD" -t -c "$conf" 2>/dev/null |
      sed -n 's/^TIME //p')
    echo "${line% *}" >>"$td/check"; echo "${line#* }" >>"$td/peak"
    walltime pin "$IOPD" agenda -c "$conf" --from 2027-01-11 --to 2027-01-18 --no-ledger >>"$td/agenda"; echo >>"$td/agenda"
    log "WM round $r: iopd -t ${line% *} s, peak ${line#* } KiB"
  done
  WARM=()
  local s_check s_peak
  s_check=$(record $w "iopd -t (config check, s)" "$td/check" s "$P_BIG patients" | cut -d' ' -f1)
  s_peak=$(record $w "iopd -t peak RSS" "$td/peak" KiB "/usr/bin/time %M" | cut -d' ' -f1)
  rates "$td/agenda" "$expect" "$td/agenda.rate"
  record $w "iopd agenda, 7 days" "$td/agenda.rate" rows/s "$expect rows, whole process, patients from the daemon's cache" >/dev/null
  rates "$td/nocache" "$expect" "$td/nocache.rate"
  record $w "iopd agenda, 7 days, no patients cache" "$td/nocache.rate" rows/s "one run" >/dev/null
  verdict $w "iopd -t <= 5 s ($P_BIG patients)" "$(fmtnum "$s_check") s" "$(pass_if "$s_check <= 5")"
  verdict $w "iopd -t peak RSS <= 1.5 GiB" "$(fmtnum "$(calc "$s_peak / 1024")") MiB" \
    "$(pass_if "$s_peak <= 1572864")"

  # the daemon's RSS per patient
  shift=$(future_shift)
  full=$BENCH_DATA/wm/full; empty=$BENCH_DATA/wm/empty
  "$SYSPY" "$BENCH_DIR/gen_iopd.py" calendar "$full" --tsv "$d/patients.tsv" --shift-days "$shift" \
    --before 2h --split "$BIG_SPLIT" --url "$SINK_URL" >/dev/null || die "gen_iopd.py"
  "$SYSPY" "$BENCH_DIR/gen_iopd.py" calendar "$empty" --tsv "$d/patients.tsv" --empty \
    --before 2h --url "$SINK_URL" >/dev/null || die "gen_iopd.py"
  rss_runs $w "$P_BIG" "$full" "$empty" "$td" "$RUNS_SLOW"
  rm -rf "$full" "$empty"

  # a reload with P_BIG patients under W3's load (W5's measurement)
  sink_up
  local stall rl hup t_end win s_stall s_win dir=$BENCH_DATA/wm/run
  : >"$td/stall"; : >"$td/winmax"; : >"$td/reload"
  GEN_SPLIT=(--split "$BIG_SPLIT"); BG_LEAD=40
  for r in $(seq 1 "$RUNS_SLOW"); do
    log "WM reload run $r/$RUNS_SLOW"
    line=$(spread_once "$dir" "$W3_N" "$W3_SECS" "$W3_CONC" "$d/patients.tsv" "$shift" "$W5_HUP_AT")
    stall=$(sed -n 's/^iopd_reload_longest_stall_seconds //p' "$dir/metrics.txt")
    grep -q '^iopd_reloads_total{result="ok"} 1' "$dir/metrics.txt" || log "WM: the reload did not succeed (see $dir/i1/iopd.log)"
    rl=$(sed -n 's/.*reloaded .* in \([0-9.]*\) s (loop paused.*/\1/p' "$dir/i1/iopd.log" | head -1)
    hup=$(cut -d. -f1 "$dir/hup.txt")
    t_end=$(calc "$(cat "$dir/hup.txt") + ${rl:-0} + 1")
    win=$("$SYSPY" "$BENCH_DIR/sinklog.py" lateness "$(sink_log)" "$dir/agenda.jsonl" --window $((hup - 1)) "$t_end")
    log "WM reload run $r: stall ${stall} s, reload ${rl} s; all: $line; during the reload: $win"
    echo "stall=$stall reload=$rl all: $line; reload window: $win" >>"$td/runs.txt"
    calc "${stall:-nan} * 1000" >>"$td/stall"; echo >>"$td/stall"
    echo "${rl:-nan}" >>"$td/reload"
    lat_field "$win" max >>"$td/winmax"
  done
  GEN_SPLIT=(); BG_LEAD=10
  rm -rf "$dir"
  s_stall=$(record $w "iopd_reload_longest_stall_seconds" "$td/stall" ms "swap on the loop (iopctl metrics)" | cut -d' ' -f1)
  record $w "reload duration (thread)" "$td/reload" s "parse + schedule off the loop" >/dev/null
  s_win=$(record $w "lateness max during the reload" "$td/winmax" ms "reminders due from HUP-1s to swap+1s" | cut -d' ' -f1)
  verdict $w "reload: longest loop stall <= 100 ms (metric)" "$(fmtnum "$s_stall") ms" "$(pass_if "$s_stall <= 100")"
  verdict $w "... seen from outside: lateness during the reload <= 100 ms" "$(fmtnum "$s_win") ms" "$(pass_if "$s_win <= 100")"
}

# ---------------------------------------------------------------- report
report() {
  echo
  echo "== iopd bench $STAMP on $(hostname) ($(nproc) cpus, PIN=$PIN, RUNS=$RUNS, RUNS_SLOW=$RUNS_SLOW)"
  echo
  printf '| %-3s | %-48s | %-34s | %-11s | %-3s |\n' W measurement "median (min-max)" unit n
  echo "|-----|--------------------------------------------------|------------------------------------|-------------|-----|"
  while IFS=$'\t' read -r wl what med mn mx unit n note; do
    printf '| %-3s | %-48s | %-34s | %-11s | %-3s |\n' "$wl" "$what" \
      "$(fmtnum "$med") ($(fmtnum "$mn")-$(fmtnum "$mx"))" "$unit" "$n"
  done <"$RESULTS"
  echo
  printf '| %-3s | %-52s | %-46s | %-4s |\n' W target measured ""
  echo "|-----|------------------------------------------------------|------------------------------------------------|------|"
  while IFS=$'\t' read -r wl target measured v; do
    printf '| %-3s | %-52s | %-46s | %-4s |\n' "$wl" "$target" "$measured" "$v"
  done <"$VERDICTS"
  echo
  echo "raw data: $OUT_DIR"
}

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(all)
for x in "${want[@]}"; do
  case "$x" in
  W1|w1) w1 ;;
  W2|w2) w2 ;;
  W3|w3) w3 ;;
  W4|w4) w4 ;;
  W5|w5) w5 ;;
  W6|w6) w6 ;;
  WM|wm) wm ;;
  W2PG|w2pg) w2pg ;;
  W3PG|w3pg) w3pg ;;
  all) w1; w2; w3; w4; w5; w6; wm ;;
  *) die "unknown workload $x (W1 W2 W3 W4 W5 W6 WM W2PG W3PG all)" ;;
  esac
done
report | tee "$OUT_DIR/report.md"
