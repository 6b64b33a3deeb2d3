# shellcheck shell=bash
# tests/lib.sh -- shared helpers for iopd integration tests (bash, `set -eu` safe).
#
# Source it from a test (srcdir-aware, works from any working directory):
#   for d in "$(dirname "$0")" "${srcdir:-.}/tests" "${srcdir:-.}"; do
#     [ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }; done
#
# Sourcing creates the private dir $T, installs an EXIT/INT/TERM trap that stops
# every process the test started (pid-based, bounded, then SIGKILL), dumps the
# registered logs when the test fails, and removes $T unless KEEP=1.
#
# Results:   ok MSG | fail MSG | skip MSG | check MSG CMD...  (TAP-ish lines)
#            need TOOL...        exit 77 (SKIP) unless every tool is on PATH
#            need_pymod PY MOD   exit 77 unless interpreter PY can import MOD
#            skip_all REASON     exit 77 now
#            finish              print "N passed, N failed[, N skipped]" and exit
#                                (1 if anything failed); the trap does it too
# Waiting:   waitfor 'CMD' [TIMEOUT_S=10]  eval CMD every 0.05 s until true
#            RIG_WAIT_SCALE=N (an integer, default 1) multiplies every bounded
#            wait (waitfor, stop_pid, stop_all): a slow iopd (valgrind, `make
#            check-valgrind`) gets more time, and no check gets weaker
# JSON logs: jsonl_count FILE [COND]        records where python COND(r) holds
#            jsonl_field FILE EXPR [COND]  EXPR(r) of matching records, one a line
# Ports:     free_port [N]       unused 127.0.0.1 TCP port (base of N consecutive)
# Processes: spawn NAME CMD...   background CMD, output in $T/NAME.out; sets
#                                SPAWN_PID; stopped by the trap
#            track PID [LOG...]  let the trap stop a pid started elsewhere
#            add_log FILE...     dump FILE on failure (e.g. the daemon's log)
#            stop_pid PID [TIMEOUT_S=5]  SIGTERM, bounded wait, SIGKILL; sets
#                                STOP_RC (exit status if it was our child, else "")
#            stop_all            stop everything now (the trap calls it as well)
#            alive PID           true while PID runs (zombies count as dead)
# Peers (all on 127.0.0.1, kernel-chosen ports, wait until ready; the times the
# sinks and the notify listener log, "t", are on the test's clock: see
# tests/rig/testclock.py). NAME is an optional UPPERCASE variable prefix, so a
# test can run several of a kind:
#   start_webhook [NAME=WEBHOOK] [webhook_sink.py args]
#        -> NAME_PID NAME_PORT NAME_URL NAME_LOG NAME_DIR
#   start_twilio  [NAME=TWILIO]  [webhook_sink.py args]
#        -> as webhook + NAME_SID NAME_TOKEN NAME_API (Messages.json URL)
#   start_smtp    [NAME=SMTP]    [smtp_sink.py args, e.g. --tls "$CERT" "$KEY" --auth u:p]
#        -> NAME_PID NAME_PORT NAME_URL NAME_LOG NAME_EVENTS NAME_MAILDIR NAME_DIR
#   start_notify  [NAME=NOTIFY]  [SOCKET|@abstract] [notify_listen.py args]
#        -> NAME_PID NAME_SOCKET (value for NOTIFY_SOCKET) NAME_LOG NAME_DIR
#   start_kannel  [NAME=KANNEL]
#        -> NAME_DIR NAME_ADMIN_PORT NAME_SMSBOX_PORT NAME_SMSC_PORT NAME_SENDSMS_PORT
#           NAME_SENDSMS_URL NAME_USER NAME_PASS NAME_ADMIN_PW NAME_STATUS_PW
#           NAME_ADMIN_URL NAME_STATUS_URL NAME_FAKESMSC_OUT NAME_PIDS
#        delivered SMS: grep 'Got message' "$KANNEL_FAKESMSC_OUT"
#          (lines "DEBUG: Got message N: <FROM TO text TEXT>", one per part);
#        fakesmsc exits on admin stop-smsc: after start-smsc run
#          sh "$RIG_DIR/kannel.sh" fakesmsc "$KANNEL_DIR"
#        two-way (kannel.sh): export KANNEL_GET_URL=URL (sms-service get-url)
#          and KANNEL_MO=1 before start_kannel, then
#   kannel_mo [NAME=KANNEL] FROM TO TEXT...  a phone's text, through fakesmsc
#        (waits, bounded, until fakesmsc says it sent it)
#   make_certs    -> CERT KEY (trusted self-signed), OTHER_CERT OTHER_KEY (untrusted)
#   start_pg      [NAME=PG] [SETTING=VALUE ...]   a private PostgreSQL cluster
#        (tests/rig/pg.sh: initdb in a folder of its own, run by `postgres`
#        when the suite runs as root, else by the current user; a Unix socket
#        in that folder and a free 127.0.0.1 port; database iopd, role iopd;
#        SETTING=VALUE go to postgresql.conf); SKIP (77) without the server
#        -> NAME_DIR NAME_PORT NAME_SOCKET NAME_TCP (conninfo over TCP, needs
#           the password) NAME_LOCAL (over the socket, trusted) NAME_PASSWORD_FILE
#           (0600: a token_file) NAME_BIN NAME_LOG
#   start_pg_standby NAME PRIMARY   a streaming replica of cluster PRIMARY
#        (read-only until pg_promote NAME), same variables
#   pg_stop [NAME=PG] [fast|immediate]   pg_start [NAME=PG]   pg_promote [NAME=PG]
#   pg_q [NAME=PG] SQL              rows of SQL in database iopd, '|'-separated
# Time.  No test depends on today's date or on the machine's clock: the suite
# passes whatever the date, also with the test runner's own clock faked by
# libfaketime (tests/date_independence.sh checks that at two other dates,
# with FAKETIME=+N and FAKETIME=@DATE in the runner's environment).  So:
#   * a clock given to iopd (or to any process under test) is ABSOLUTE,
#     FAKETIME=@DATE (faketime_env, start_iopd, iopd_start), never a +N/-N
#     offset: libfaketime counts those from the machine's real clock, which
#     is not the test's when the runner's clock is faked;
#   * the test's own clock is its shell's $EPOCHREALTIME (now_epoch), never
#     `date`, time.time() or another process's idea of now: under a runner
#     faked to "@DATE" every new process starts at DATE;
#   * a process that must agree with the test's clock (iopd where it would
#     run on the real clock, sendone) gets an explicit absolute clock at the
#     test's now (clock_env); the times the peers log are on the test's clock
#     already (RIG_CLOCK, tests/rig/testclock.py);
#   * one timeline across restarts and kill -9: timeline_begin once, then
#     start each run at "$(timeline_now)";
#   * dates in test configurations are fixed ones that keep their meaning in
#     any year (2026-12-01...), never today's; make_certs' certificates are
#     valid 2020-2039.
#
#   now_epoch     the test's clock now: Unix seconds, 6 decimals
#   fmt_date EPOCH        'YYYY-MM-DD hh:mm:ss[.ffffff]' (UTC) of EPOCH
#   faketime_env 'YYYY-MM-DD hh:mm:ss[.ffffff]' [SPEED e.g. x10]
#            prints one VAR=value per line for an exact fake start (a
#            leading @ is accepted):
#              mapfile -t FT < <(faketime_env '2026-12-01 17:59:50')
#              spawn iopd env "${FT[@]}" "$IOPD" --config "$T/iopd.conf"
#            (LD_PRELOAD=<libfaketimeMT.so.1> followed by the inherited
#            LD_PRELOAD without any libfaketime: a runner under libfaketime
#            must not fake the clock a second time; FAKETIME=@DATE [SPEED];
#            ASAN_OPTIONS+=verify_asan_link_order=0 so sanitizer builds accept
#            the preload, plus allocator_release_to_os_interval_ms=-1, without
#            which ASan and libfaketime deadlock at start; DATE is local time
#            of the process: set TZ too)
#   clock_env     faketime_env at the test's now: a process started with it
#                 agrees with the test's clock (it lags by its own start-up,
#                 a few ms); CLOCK_MONOTONIC stays the machine's, as
#                 systemd wants it (FAKETIME_DONT_FAKE_MONOTONIC=1)
#   timeline_begin 'YYYY-MM-DD hh:mm:ss[.ffffff]'   (UTC) a fake timeline
#                 that is there now, and runs on with the test's clock
#   timeline_now  '@YYYY-MM-DD hh:mm:ss.ffffff': where the timeline is now
#                 (its start + the time elapsed on the test's clock), the
#                 start for iopd_start / start_iopd / faketime_env.  Exact
#                 to the microsecond (libfaketime reads fractional seconds),
#                 never rounded down: a run started at it lags the timeline
#                 by its start-up only, so a restart never goes back behind
#                 what a killed run had seen
#   timeline_epoch  the same as Unix seconds, 6 decimals
#   faketime_lib  prints the libfaketimeMT path (status 1 if none;
#                 FAKETIME_LIB overrides the search)
#   without_faketime CMD...  CMD without the runner's libfaketime, for tools
#                 to which the clock means nothing and that break under it
#                 (man's seccomp sandbox)
#
# libfaketime 0.9.10 keeps some state in shared memory named by FAKETIME_SHARED
# (a semaphore and a segment, /dev/shm/sem.faketime_sem_PID and
# /dev/shm/faketime_shm_PID, made by the first faked process that does not
# inherit the name), among it a start time that a process which inherits the
# name may take for its own start, even given FAKETIME=@DATE of its own.  So
# the processes a test starts do not inherit it: sourcing this file unsets
# FAKETIME_SHARED.  A test shell that is the FIRST process under a runner's
# libfaketime (LD_PRELOAD and FAKETIME, no FAKETIME_SHARED) starts itself
# again, once, with one made for it: libfaketime made its own while bash
# started, and then leaves bash on the machine's clock until it reads its
# settings again about 10 s later, when $EPOCHREALTIME jumps.  (Its own cannot
# be kept: the first subshell that exits removes it.)  The trap removes the
# one made for it.
#
# Variables: T (private dir)  TESTS_DIR  RIG_DIR  PY (the system's python3, else python3 on PATH)
#            SYSPY (/usr/bin/python3, has Debian's python3-aiosmtpd)

# ---------------------------------------------------------------- libfaketime
# first, before this shell starts anything (see the header)
faketime_lib() {
  local f
  for f in ${FAKETIME_LIB:-} /usr/lib/*/faketime/libfaketimeMT.so.1 \
           /usr/lib/faketime/libfaketimeMT.so.1 /usr/lib64/faketime/libfaketimeMT.so.1 \
           /usr/local/lib/faketime/libfaketimeMT.so.1; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}

# libfaketime's shared memory for the test (see the header)
RIG_FT_OWN=
_rig_ft_setup() { # the test script's arguments
  local pair
  if [[ ${FAKETIME_SHARED:-} == "/faketime_sem_$$ "* ]] && [ "${RIG_FT_REEXEC:-}" != $$ ] &&
     [ -f "$0" ]; then
    # made while this shell started, so its clock jumps: start again with another
    pair=$(_rig_ft_pair) && RIG_FT_REEXEC=$$ FAKETIME_SHARED=$pair exec "$BASH" "$0" "$@"
  fi
  if [ "${RIG_FT_REEXEC:-}" = $$ ]; then
    RIG_FT_OWN=$FAKETIME_SHARED
    rm -f "/dev/shm/sem.faketime_sem_$$" "/dev/shm/faketime_shm_$$"    # the one made at start
  fi
  # not for the processes the test starts: one of them started on a clock of
  # its own at @DATE could start from the time in there instead of its own
  unset FAKETIME_SHARED
}
# _rig_ft_pair: new shared memory, made by an env(1) under libfaketime that
# execs, and so leaves it behind for us; status 1 if none could be made.
# env makes it under the PID of the subshell it replaces: a pair of that name
# left in /dev/shm by a dead process (one that exec'd or was killed) would
# make libfaketime give up silently, so that one goes first.
_rig_ft_pair() {
  local lib pair
  lib=$(faketime_lib) || return 1
  pair=$( (unset FAKETIME_SHARED
           rm -f "/dev/shm/sem.faketime_sem_$BASHPID" "/dev/shm/faketime_shm_$BASHPID"
           LD_PRELOAD=$lib FAKETIME=+0 exec env sh -c 'printf %s "${FAKETIME_SHARED:-}"') 2>/dev/null)
  case $pair in /faketime_sem_*" "/faketime_shm_*) ;; *) return 1 ;; esac
  [ -e "$(_rig_ft_file sem "$pair")" ] && [ -e "$(_rig_ft_file shm "$pair")" ] && echo "$pair"
}
_rig_ft_file() { # sem|shm 'SEM SHM' -> its file
  local n
  if [ "$1" = sem ]; then n=${2%% *}; echo "/dev/shm/sem.${n#/}"; else n=${2##* }; echo "/dev/shm/${n#/}"; fi
}
_rig_ft_shared_rm() {
  [ -n "$RIG_FT_OWN" ] || return 0
  rm -f "$(_rig_ft_file sem "$RIG_FT_OWN")" "$(_rig_ft_file shm "$RIG_FT_OWN")"
  RIG_FT_OWN=
}

_rig_ft_setup "$@"

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_DIR=$TESTS_DIR/rig
# The tests need python3's standard library only, and start it some 1,800
# times a pass: the system's own python3 first, which imports nothing at
# start-up that a test does not ask for (another installation's site
# packages may: a pyenv one spent 42 ms of each start importing certifi,
# over a minute of CPU a pass); else python3 on PATH, resolved once (skips
# pyenv shims).
if [ -z "${PY:-}" ]; then
  if [ -x /usr/bin/python3 ]; then
    PY=/usr/bin/python3
  else
    PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || PY=python3
  fi
fi
SYSPY=${SYSPY:-/usr/bin/python3}
RIG_STEP=0.05

RIG_PASS=0 RIG_FAIL=0 RIG_SKIP=0 RIG_N=0
RIG_PIDS=() RIG_LOGS=() RIG_STOPCMDS=()
RIG_FINISHED=0

# ---------------------------------------------------------------- results
ok()   { RIG_N=$((RIG_N + 1)); RIG_PASS=$((RIG_PASS + 1)); echo "ok $RIG_N - $*"; }
fail() { RIG_N=$((RIG_N + 1)); RIG_FAIL=$((RIG_FAIL + 1)); echo "not ok $RIG_N - $*"; }
skip() { RIG_N=$((RIG_N + 1)); RIG_SKIP=$((RIG_SKIP + 1)); echo "ok $RIG_N - # SKIP $*"; }
check() { # MSG CMD... -> ok/fail by CMD's status
  local msg=$1; shift
  if "$@"; then ok "$msg"; else fail "$msg"; fi
}
skip_all() { echo "1..0 # SKIP $*"; exit 77; }
need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || skip_all "required tool '$t' not found"
  done
}
need_pymod() { # PY MODULE
  "$1" -c "import $2" >/dev/null 2>&1 || skip_all "$1 cannot import $2"
}
_rig_summary() {
  if [ "$RIG_SKIP" -gt 0 ]; then
    echo "$RIG_PASS passed, $RIG_FAIL failed, $RIG_SKIP skipped"
  else
    echo "$RIG_PASS passed, $RIG_FAIL failed"
  fi
}
finish() {
  RIG_FINISHED=1
  _rig_summary
  [ "$RIG_FAIL" -eq 0 ] && exit 0
  exit 1
}

# ---------------------------------------------------------------- waiting
_rig_now_us() { local t=${EPOCHREALTIME:-}; t=${t//[!0-9]/}; echo "${t:-0}"; }
waitfor() { # 'CMD' [TIMEOUT_S]
  local cmd=$1 timeout t0 deadline n=0 max
  timeout=$(_rig_scaled "${2:-10}")
  if [ -n "${EPOCHREALTIME:-}" ]; then
    t0=$(_rig_now_us)
    deadline=$((t0 + $(_rig_secs_us "$timeout")))
    until eval "$cmd" >/dev/null 2>&1; do
      n=$((n + 1))
      if [ "$(_rig_now_us)" -ge "$deadline" ]; then
        # in the log: a wait that ended too soon shows a clock that jumped
        echo "# waitfor: gave up after $n checks, $((($(_rig_now_us) - t0) / 1000)) ms by the clock: $cmd" >&2
        return 1
      fi
      sleep "$RIG_STEP"
    done
  else
    max=$(( $(_rig_secs_us "$timeout") / 50000 ))
    until eval "$cmd" >/dev/null 2>&1; do
      n=$((n + 1)); [ "$n" -le "$max" ] || return 1
      sleep "$RIG_STEP"
    done
  fi
}
_rig_scaled() { # SECONDS -> SECONDS * RIG_WAIT_SCALE (a decimal string)
  local s=${RIG_WAIT_SCALE:-1}
  [ "$s" = 1 ] && { echo "$1"; return; }
  echo $(( $(_rig_secs_us "$1") * s / 1000 ))e-3 | awk '{ printf "%.3f\n", $1 }'
}
_rig_secs_us() { # "2.5" -> 2500000
  local s=$1 i f
  i=${s%%.*}; f=
  [ "$i" != "$s" ] && f=${s#*.}
  f=${f}000000; f=${f:0:6}
  echo $(( ${i:-0} * 1000000 + 10#$f ))
}

# ---------------------------------------------------------------- JSON lines
# COND / EXPR are python expressions over the record r (a dict), e.g.
#   jsonl_count "$HOOK_LOG" 'r["path"] == "/hook" and r["reply"] == 200'
#   jsonl_field "$SMTP_LOG" 'r["auth_user"]' 'r["tls"]'
#   waitfor "[ \$(jsonl_count '$HOOK_LOG') -ge 2 ]" 5
jsonl_count() { # FILE [COND] -> number of records matching COND
  "$PY" - "$1" "${2:-True}" <<'PYEOF'
import json, sys
n = 0
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                n += bool(eval(sys.argv[2], {}, {"r": r}))
except FileNotFoundError:
    pass
print(n)
PYEOF
}
jsonl_field() { # FILE EXPR [COND] -> EXPR of each matching record, one per line
  "$PY" - "$1" "$2" "${3:-True}" <<'PYEOF'
import json, sys
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                if eval(sys.argv[3], {}, {"r": r}):
                    v = eval(sys.argv[2], {}, {"r": r})
                    print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
except FileNotFoundError:
    pass
PYEOF
}

# ---------------------------------------------------------------- ports
free_port() { # [N] -> port P such that P..P+N-1 are free on 127.0.0.1
  local used=
  [ -f "$T/.ports" ] && used=$(tr '\n' ' ' <"$T/.ports")
  local p
  p=$("$PY" - "${1:-1}" "$used" <<'EOF'
import socket, sys
n = int(sys.argv[1]); used = {int(x) for x in sys.argv[2].split()}
for _ in range(200):
    socks = []
    try:
        s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
        base = s.getsockname()[1]
        if base + n - 1 > 65535 or used & set(range(base, base + n)):
            continue
        for p in range(base + 1, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); sys.exit(0)
    except OSError:
        pass
    finally:
        for s in socks: s.close()
sys.exit(1)
EOF
  ) || { echo "free_port: no free port found" >&2; return 1; }
  local i
  for ((i = 0; i < ${1:-1}; i++)); do echo $((p + i)) >>"$T/.ports"; done
  echo "$p"
}

# ---------------------------------------------------------------- processes
alive() { # PID: running and not a zombie
  local st
  [ -n "${1:-}" ] || return 1
  if [ -r "/proc/$1/stat" ]; then
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }; st=${st%% *}
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
  else
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "${st#Z}" = "$st" ]
  fi
}
add_log() { RIG_LOGS+=("$@"); }
track() { # PID [LOG...]
  RIG_PIDS+=("$1"); shift
  [ $# -eq 0 ] || RIG_LOGS+=("$@")
}
spawn() { # NAME CMD... -> SPAWN_PID; stdout+stderr in $T/NAME.out
  local name=$1; shift
  "$@" >"$T/$name.out" 2>&1 </dev/null &
  SPAWN_PID=$!
  track "$SPAWN_PID" "$T/$name.out"
}
stop_pid() { # PID [TIMEOUT_S]
  local pid=$1 deadline
  STOP_RC=
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( $(_rig_now_us) + $(_rig_secs_us "$(_rig_scaled "${2:-5}")") ))
  while alive "$pid" && [ "$(_rig_now_us)" -lt "$deadline" ]; do sleep "$RIG_STEP"; done
  if alive "$pid"; then
    echo "# stop_pid: $pid did not exit after SIGTERM, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # reap it if it is our child (wait fails harmlessly otherwise)
  if wait "$pid" 2>/dev/null; then STOP_RC=0; else STOP_RC=$?; [ "$STOP_RC" -eq 127 ] && STOP_RC=; fi
  local keep=() p                      # forget it: its pid may be reused later
  for p in "${RIG_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  RIG_PIDS=("${keep[@]}")
  return 0
}
stop_all() {
  local c p left deadline
  for c in "${RIG_STOPCMDS[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  RIG_STOPCMDS=()
  [ ${#RIG_PIDS[@]} -gt 0 ] || return 0
  for p in "${RIG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  deadline=$(( $(_rig_now_us) + $(_rig_secs_us "$(_rig_scaled "${RIG_STOP_TIMEOUT:-5}")") ))
  while :; do
    left=()
    for p in "${RIG_PIDS[@]}"; do alive "$p" && left+=("$p"); done
    [ ${#left[@]} -gt 0 ] || break
    if [ "$(_rig_now_us)" -ge "$deadline" ]; then
      echo "# stop_all: SIGKILL ${left[*]}" >&2
      kill -KILL "${left[@]}" 2>/dev/null || true
      break
    fi
    sleep "$RIG_STEP"
  done
  for p in "${RIG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  RIG_PIDS=()
}
_rig_dump_logs() {
  local f
  for f in "${RIG_LOGS[@]}"; do
    [ -s "$f" ] || continue
    echo "----- $f (last ${RIG_DUMP_LINES:-60} lines) -----"
    tail -n "${RIG_DUMP_LINES:-60}" "$f"
  done >&2
}
_rig_exit() {
  local rc=$?
  set +e
  trap - EXIT
  trap '' INT TERM
  stop_all
  if [ "$rc" -ne 77 ]; then
    if [ "$RIG_FINISHED" -eq 0 ]; then
      [ "$rc" -ne 0 ] && echo "# test aborted with status $rc${RIG_ERR:+ at: $RIG_ERR}" >&2
      _rig_summary
    fi
    [ "$RIG_FAIL" -gt 0 ] && rc=1
    [ "$rc" -ne 0 ] && { rc=1; _rig_dump_logs; }
  fi
  _rig_ft_shared_rm
  if [ "${KEEP:-0}" = 1 ]; then
    echo "# KEEP=1: test files kept in $T" >&2
  else
    rm -rf "$T"
  fi
  exit "$rc"
}

# ---------------------------------------------------------------- peers
_rig_name() { # default "$@" -> RIG_NAME, RIG_NSHIFT
  RIG_NAME=$1 RIG_NSHIFT=0
  case ${2:-} in [A-Z]*) [[ $2 =~ ^[A-Z][A-Z0-9_]*$ ]] && { RIG_NAME=$2; RIG_NSHIFT=1; } ;; esac
  return 0                           # an argument that is no NAME is not a failure (set -e)
}
_rig_set() { printf -v "$1" '%s' "$2"; }
_rig_wait_ready() { # PID READYFILE TIMEOUT WHAT
  local deadline
  deadline=$(( $(_rig_now_us) + $(_rig_secs_us "$3") ))
  while [ ! -s "$2" ]; do
    if ! alive "$1"; then echo "# $4 exited during start-up" >&2; return 1; fi
    if [ "$(_rig_now_us)" -ge "$deadline" ]; then echo "# $4 not ready after $3 s" >&2; return 1; fi
    sleep "$RIG_STEP"
  done
}

start_webhook() { # [NAME] [webhook_sink.py args]
  _rig_name WEBHOOK "$@"; shift "$RIG_NSHIFT"
  local n=$RIG_NAME d scheme=http a
  d=$T/${n,,}
  mkdir -p "$d"; rm -f "$d/ready"
  for a in "$@"; do [ "$a" = --tls ] && scheme=https; done
  spawn "$(basename "$d")" env "$(_rig_peer_clock)" "$PY" "$RIG_DIR/webhook_sink.py" --port 0 \
    --log "$d/requests.jsonl" --ready-file "$d/ready" "$@"
  local pid=$SPAWN_PID
  _rig_wait_ready "$pid" "$d/ready" 10 "webhook sink $n" || return 1
  _rig_set "${n}_PID" "$pid"
  _rig_set "${n}_PORT" "$(cat "$d/ready")"
  _rig_set "${n}_URL" "$scheme://127.0.0.1:$(cat "$d/ready")"
  _rig_set "${n}_LOG" "$d/requests.jsonl"
  _rig_set "${n}_DIR" "$d"
  add_log "$d/requests.jsonl"
}

start_twilio() { # [NAME] [webhook_sink.py args]
  _rig_name TWILIO "$@"; shift "$RIG_NSHIFT"
  local n=$RIG_NAME sid token url
  sid=AC$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  start_webhook "$n" --twilio-auth "$sid:$token" "$@" || return 1
  url=${n}_URL
  _rig_set "${n}_SID" "$sid"
  _rig_set "${n}_TOKEN" "$token"
  _rig_set "${n}_API" "${!url}/2010-04-01/Accounts/$sid/Messages.json"
}

start_smtp() { # [NAME] [smtp_sink.py args]
  _rig_name SMTP "$@"; shift "$RIG_NSHIFT"
  local n=$RIG_NAME d scheme=smtp a
  need_pymod "$SYSPY" aiosmtpd
  d=$T/${n,,}
  mkdir -p "$d"; rm -f "$d/ready"
  for a in "$@"; do [ "$a" = --smtps ] && scheme=smtps; done
  spawn "$(basename "$d")" env "$(_rig_peer_clock)" "$SYSPY" "$RIG_DIR/smtp_sink.py" --port 0 \
    --maildir "$d/maildir" --log "$d/mail.jsonl" --events "$d/events.jsonl" \
    --ready-file "$d/ready" "$@"
  local pid=$SPAWN_PID
  _rig_wait_ready "$pid" "$d/ready" 10 "smtp sink $n" || return 1
  _rig_set "${n}_PID" "$pid"
  _rig_set "${n}_PORT" "$(cat "$d/ready")"
  _rig_set "${n}_URL" "$scheme://127.0.0.1:$(cat "$d/ready")"
  _rig_set "${n}_LOG" "$d/mail.jsonl"
  _rig_set "${n}_EVENTS" "$d/events.jsonl"
  _rig_set "${n}_MAILDIR" "$d/maildir"
  _rig_set "${n}_DIR" "$d"
  add_log "$d/events.jsonl"
}

start_notify() { # [NAME] [SOCKET|@abstract] [notify_listen.py args]
  _rig_name NOTIFY "$@"; shift "$RIG_NSHIFT"
  local n=$RIG_NAME d sock
  d=$T/${n,,}
  mkdir -p "$d"; rm -f "$d/ready"
  sock=$d/notify.sock
  [ ${#sock} -lt 100 ] || sock="@iopd-notify-$$-${n,,}"    # sun_path limit (108)
  case ${1:-} in ''|-*) ;; *) sock=$1; shift ;; esac
  spawn "$(basename "$d")" env "$(_rig_peer_clock)" "$PY" "$RIG_DIR/notify_listen.py" "$sock" \
    --timeout 600 --out "$d/notify.jsonl" --ready-file "$d/ready" "$@"
  local pid=$SPAWN_PID
  _rig_wait_ready "$pid" "$d/ready" 10 "notify listener $n" || return 1
  _rig_set "${n}_PID" "$pid"
  _rig_set "${n}_SOCKET" "$sock"
  _rig_set "${n}_LOG" "$d/notify.jsonl"
  _rig_set "${n}_DIR" "$d"
  add_log "$d/notify.jsonl"
}

start_kannel() { # [NAME]
  _rig_name KANNEL "$@"; shift "$RIG_NSHIFT"
  local n=$RIG_NAME d base rc=1 try line k v
  d=$T/${n,,}
  for try in 1 2 3 4 5; do           # 3 = a port was taken meanwhile: new base
    base=$(free_port 4) || return 1
    rc=0
    sh "$RIG_DIR/kannel.sh" start "$d" "$base" >"$d.start.out" 2>&1 || rc=$?
    [ "$rc" -eq 3 ] || break
    echo "# start_kannel: port clash at base $base (try $try)" >&2
  done
  RIG_STOPCMDS+=("$(printf 'sh %q stop %q' "$RIG_DIR/kannel.sh" "$d")")
  add_log "$d.start.out" "$d/bearerbox.stdout" "$d/smsbox.stdout" "$d/fakesmsc.out"
  [ "$rc" -eq 77 ] && skip_all "Kannel not installed ($(tail -n 1 "$d.start.out"))"
  if [ "$rc" -ne 0 ]; then cat "$d.start.out" >&2; return 1; fi
  while IFS= read -r line; do
    case $line in KANNEL_*=*) ;; *) continue ;; esac
    k=${line%%=*}; v=${line#*=}; v=${v#\'}; v=${v%\'}
    _rig_set "${n}_${k#KANNEL_}" "$v"
  done <"$d/env"
  local pids=${n}_PIDS p
  for p in ${!pids}; do RIG_PIDS+=("$p"); done
}

kannel_mo() { # [NAME] FROM TO TEXT...
  _rig_name KANNEL "$@"; shift "$RIG_NSHIFT"
  local n=$RIG_NAME d out before from=$1 to=$2
  shift 2
  d=${n}_DIR; d=${!d}; out=$d/fakesmsc.out
  before=$(grep -c 'fakesmsc: sent message' "$out" || true)
  printf '%s %s text %s\n' "$from" "$to" "$*" >"$d/mo.fifo"
  waitfor "[ \$(grep -c 'fakesmsc: sent message' '$out') -gt $before ]" 10
}

make_certs() { # -> CERT KEY OTHER_CERT OTHER_KEY
  local rc=0
  sh "$RIG_DIR/mkcert.sh" "$T/certs" || rc=$?
  [ "$rc" -eq 77 ] && skip_all "mkcert.sh needs openssl and faketime"
  [ "$rc" -eq 0 ] || return 1
  # shellcheck disable=SC2034  # used by the tests that source this file
  CERT=$T/certs/cert.pem KEY=$T/certs/key.pem
  # shellcheck disable=SC2034
  OTHER_CERT=$T/certs/other-cert.pem OTHER_KEY=$T/certs/other-key.pem
}

_rig_pg_env() { # NAME DIR: NAME_* from DIR/env
  local n=$1 line k v
  while IFS= read -r line; do
    case $line in PG_*=*) ;; *) continue ;; esac
    k=${line%%=*}; v=${line#*=}; v=${v#\'}; v=${v%\'}
    _rig_set "${n}_${k#PG_}" "$v"
  done <"$2/env"
  _rig_set "${n}_LOG" "$2/log"
  add_log "$2/log"
}
_rig_pg_make() { # NAME CMD ARGS... -> runs pg.sh CMD DIR ARGS with a free port; sets NAME_*
  local n=$1 cmd=$2 d rc=1 try port
  shift 2
  d=$(mktemp -d "${TMPDIR:-/tmp}/iopd-pg.XXXXXX")
  chmod 755 "$d"                   # the server's user must reach its folder
  RIG_STOPCMDS+=("$(printf 'without_faketime sh %q stop %q immediate; rm -rf %q' "$RIG_DIR/pg.sh" "$d/c" "$d")")
  for try in 1 2 3 4 5; do           # 3 = the port was taken meanwhile
    port=$(free_port) || return 1
    rm -rf "$d/c"
    rc=0
    case $cmd in
    init) without_faketime sh "$RIG_DIR/pg.sh" init "$d/c" "$port" "$@" >"$d/start.out" 2>&1 || rc=$? ;;
    standby) without_faketime sh "$RIG_DIR/pg.sh" standby "$d/c" "$1" "$port" >"$d/start.out" 2>&1 ||
      rc=$? ;;
    esac
    [ "$rc" -eq 3 ] || break
    echo "# start_pg: port $port was taken (try $try)" >&2
  done
  [ "$rc" -eq 77 ] && skip_all "PostgreSQL server not installed ($(tail -n 1 "$d/start.out"))"
  if [ "$rc" -ne 0 ]; then cat "$d/start.out" >&2; return 1; fi
  _rig_pg_env "$n" "$d/c"
}
start_pg() { # [NAME] [SETTING=VALUE ...]
  _rig_name PG "$@"; shift "$RIG_NSHIFT"
  _rig_pg_make "$RIG_NAME" init "$@"
}
start_pg_standby() { # NAME PRIMARY
  local dir=${2}_DIR
  _rig_pg_make "$1" standby "${!dir}"
}
_rig_pg_dir() { # [NAME] -> RIG_NAME, RIG_NSHIFT, RIG_PGDIR
  _rig_name PG "$@"
  local v=${RIG_NAME}_DIR
  RIG_PGDIR=${!v}
}
# The server runs on the machine's clock even when the test runner's clock
# is faked (tests/date_independence.sh): leases and heartbeats are the
# server's own times, compared with each other only.
pg_stop() {
  _rig_pg_dir "$@"; shift "$RIG_NSHIFT"
  without_faketime sh "$RIG_DIR/pg.sh" stop "$RIG_PGDIR" "${1:-fast}"
}
pg_start() { _rig_pg_dir "$@"; without_faketime sh "$RIG_DIR/pg.sh" start "$RIG_PGDIR" >/dev/null; }
pg_promote() { _rig_pg_dir "$@"; without_faketime sh "$RIG_DIR/pg.sh" promote "$RIG_PGDIR"; }
pg_q() { # [NAME] SQL
  _rig_pg_dir "$@"; shift "$RIG_NSHIFT"
  without_faketime sh "$RIG_DIR/pg.sh" psql "$RIG_PGDIR" -A -t -F '|' -v ON_ERROR_STOP=1 -c "$1"
}

# ---------------------------------------------------------------- time
_rig_preload_without_faketime() { # the inherited LD_PRELOAD minus libfaketime*
  local - p kept=() IFS=$' \t\n:'
  set -f
  for p in ${LD_PRELOAD:-}; do
    case ${p##*/} in libfaketime*) ;; *) kept+=("$p") ;; esac
  done
  IFS=' '
  echo "${kept[*]}"
}
faketime_env() { # 'YYYY-MM-DD hh:mm:ss[.ffffff]' [SPEED]
  local lib pre
  lib=$(faketime_lib) || { echo "faketime_env: libfaketimeMT.so.1 not found" >&2; return 1; }
  pre=$(_rig_preload_without_faketime)
  echo "LD_PRELOAD=$lib${pre:+ $pre}"
  echo "FAKETIME=@${1#@}${2:+ $2}"
  # ASan insists on being first in the library list; libfaketime is preloaded
  echo "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:allocator_release_to_os_interval_ms=-1"
}
without_faketime() { # CMD...
  local pre
  pre=$(_rig_preload_without_faketime)
  if [ -n "$pre" ]; then
    env -u FAKETIME -u FAKETIME_SHARED -u FAKETIME_TIMESTAMP_FILE LD_PRELOAD="$pre" "$@"
  else
    env -u FAKETIME -u FAKETIME_SHARED -u FAKETIME_TIMESTAMP_FILE -u LD_PRELOAD "$@"
  fi
}
_rig_us_epoch() { printf '%d.%06d\n' "$(($1 / 1000000))" "$(($1 % 1000000))"; }
now_epoch() { _rig_us_epoch "$(_rig_now_us)"; }
fmt_date() { # EPOCH (Unix seconds, maybe with a fraction)
  local s=${1%%.*} f=
  [ "$s" = "$1" ] || f=.${1#*.}
  echo "$(date -u -d "@$s" '+%Y-%m-%d %H:%M:%S')$f"
}
_rig_date_us() { # '[@]YYYY-MM-DD hh:mm:ss[.ffffff]' (UTC) -> Unix microseconds
  local d=${1#@} s f=
  case $d in *.*) f=${d##*.}; d=${d%.*} ;; esac
  s=$(date -u -d "$d UTC" +%s) || return 1
  f=${f}000000
  echo $((s * 1000000 + 10#${f:0:6}))
}
clock_env() {
  faketime_env "$(fmt_date "$(now_epoch)")" || return 1
  echo "FAKETIME_DONT_FAKE_MONOTONIC=1"
}
# RIG_CLOCK=... for a peer: the test's clock and the kernel's uptime, read
# together (tests/rig/testclock.py carries the clock on from there)
_rig_peer_clock() {
  local t=$EPOCHREALTIME up=
  read -r up _ 2>/dev/null </proc/uptime || true
  echo "RIG_CLOCK=${t/,/.}${up:+ $up}"
}
# _rig_clock_env: clock_env, or nothing where libfaketime is missing (then no
# runner can be faked either, and the machine's clock is the test's)
_rig_clock_env() { faketime_lib >/dev/null 2>&1 && clock_env; return 0; }
timeline_begin() { # 'YYYY-MM-DD hh:mm:ss[.ffffff]'
  RIG_TL_BASE=$(_rig_date_us "$1") || { echo "timeline_begin: bad date '$1'" >&2; return 1; }
  RIG_TL_T0=$(_rig_now_us)
}
timeline_epoch() {
  _rig_us_epoch $((${RIG_TL_BASE:?timeline_begin first} + $(_rig_now_us) - RIG_TL_T0))
}
timeline_now() { echo "@$(fmt_date "$(timeline_epoch)")"; }

# ---------------------------------------------------------------- per-test setup
T=$(mktemp -d "${TMPDIR:-/tmp}/iopd-test.XXXXXX")
RIG_ERR=
trap '_rig_exit' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'RIG_ERR="line $LINENO: $BASH_COMMAND"' ERR
