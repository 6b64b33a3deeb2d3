#!/bin/sh
# Private loopback Kannel (bearerbox + fakesmsc + smsbox) for iopd tests.
#
# usage: kannel.sh start DIR PORTBASE   ports: admin=BASE smsbox=BASE+1
#                                         fake SMSC=BASE+2 sendsms=BASE+3
#        kannel.sh stop DIR             admin shutdown, bounded wait, SIGKILL leftovers
#        kannel.sh fakesmsc DIR         (re)start fakesmsc, wait until FAKE is online
#                                       (fakesmsc exits when the SMSC is stopped via
#                                       admin stop-smsc; after start-smsc call this)
#
# start writes DIR/kannel.conf (from kannel.conf.in next to this script), waits
# (bounded) until sendsms answers and the FAKE smsc is online, then prints
# KEY=VALUE lines (also saved in DIR/env, sourceable):
#   KANNEL_DIR KANNEL_ADMIN_PORT KANNEL_SMSBOX_PORT KANNEL_SMSC_PORT KANNEL_SENDSMS_PORT
#   KANNEL_SENDSMS_URL KANNEL_USER KANNEL_PASS KANNEL_ADMIN_PW KANNEL_STATUS_PW
#   KANNEL_STATUS_URL KANNEL_ADMIN_URL KANNEL_FAKESMSC_OUT KANNEL_PIDS
# and '#' comment lines telling how to check delivery.
#
# Two-way (RIG 1b), from the environment of `start`:
#   KANNEL_GET_URL=URL  the sms-service group hands every MO message to URL
#                       (get-url, max-messages = 0: nothing is texted back)
#   KANNEL_MO=1         fakesmsc also sends MO messages: it reads lines
#                       "FROM TO text WORDS..." from DIR/mo.fifo, printing
#                       "sent message N" for each (write one, wait for it)
#
# Delivered (MT) messages: fakesmsc prints one line per SMS (per part) to
# DIR/fakesmsc.out:  DEBUG: Got message N: <FROM TO text TEXT>
#   grep -c 'Got message' DIR/fakesmsc.out       # number of SMS parts delivered
#   grep -F 'text Hello' DIR/fakesmsc.out         # a given text
# Concatenated parts look like '<FROM TO udh %05%00%03... data ...>'.
#
# Exit: 0 ok, 1 failed, 2 usage, 3 a port was busy (retry with another base),
#       77 Kannel binaries missing. Binaries can be overridden with BEARERBOX,
#       SMSBOX, FAKESMSC; defaults search PATH and the Debian locations.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
STEP=0.05                      # poll interval (s)
TRIES=200                      # polls per wait -> about 10 s (+ curl time)

usage() { sed -n '2,12p' "$0" >&2; exit 2; }

findbin() { # VAR-override name candidates...
  if [ -n "$1" ]; then echo "$1"; return 0; fi
  shift
  for c in "$@"; do
    case $c in
      */*) [ -x "$c" ] && { echo "$c"; return 0; } ;;
      *) p=$(command -v "$c" 2>/dev/null) && { echo "$p"; return 0; } ;;
    esac
  done
  return 1
}

alive() { # PID -> true if running and not a zombie
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

getconf() { # KEY -> first value of 'KEY = value' in DIR/kannel.conf
  sed -n "s/^$1[[:space:]]*=[[:space:]]*\"\{0,1\}\([^\"]*\)\"\{0,1\}[[:space:]]*\$/\1/p" "$D/kannel.conf" | head -n 1
}

http_code() { curl -s -o /dev/null --max-time 1 -w '%{http_code}' "$1" 2>/dev/null || true; }

smsc_online() {
  curl -s --max-time 1 "http://127.0.0.1:$ADMIN_PORT/status.txt?password=$STATUS_PW" 2>/dev/null \
    | grep -q "FAKE:$SMSC_PORT (online"
}

port_busy() { # did a box fail because a port was taken?
  grep -qiE 'address already in use|could not bind|bind.*failed|make_server_socket' \
    "$D"/bearerbox.stdout "$D"/smsbox.stdout "$D"/bearerbox.log "$D"/smsbox.log 2>/dev/null
}

die() { # MSG [RC]
  echo "kannel.sh: $1" >&2
  for f in bearerbox.stdout smsbox.stdout fakesmsc.out; do
    [ -s "$D/$f" ] && { echo "---- $D/$f (tail)" >&2; tail -n 15 "$D/$f" >&2; }
  done
  rc=${2:-1}
  port_busy && rc=3
  TERM_AT=0 do_stop >/dev/null 2>&1 || true
  exit "$rc"
}

load_env() {
  [ -f "$D/env" ] || return 1
  # shellcheck disable=SC1091
  . "$D/env"
  ADMIN_PORT=$KANNEL_ADMIN_PORT SMSC_PORT=$KANNEL_SMSC_PORT
  ADMIN_PW=$KANNEL_ADMIN_PW STATUS_PW=$KANNEL_STATUS_PW
}

start_fakesmsc() {
  if [ -p "$D/mo.fifo" ]; then
    # MO lines from the fifo (opened read-write: never an EOF, never a block)
    ( cd "$D" && exec "$FAKESMSC" -H 127.0.0.1 -r "$SMSC_PORT" -i 0.01 ) \
      >>"$D/fakesmsc.out" 2>&1 <>"$D/mo.fifo" &
  else
    # -m 0: send no MO messages, only print what arrives
    ( cd "$D" && exec "$FAKESMSC" -H 127.0.0.1 -r "$SMSC_PORT" -m 0 '000 000 text unused' ) \
      >>"$D/fakesmsc.out" 2>&1 </dev/null &
  fi
  echo $! >"$D/fakesmsc.pid"
  i=0
  until smsc_online; do
    i=$((i + 1)); [ $i -le $TRIES ] || return 1
    alive "$(cat "$D/fakesmsc.pid")" || return 1
    port_busy && return 1
    sleep $STEP
  done
}

do_start() {
  BEARERBOX=$(findbin "${BEARERBOX:-}" bearerbox /usr/sbin/bearerbox /usr/local/sbin/bearerbox) ||
    { echo "kannel.sh: bearerbox not found (apt-get install kannel)" >&2; exit 77; }
  SMSBOX=$(findbin "${SMSBOX:-}" smsbox /usr/sbin/smsbox /usr/local/sbin/smsbox) ||
    { echo "kannel.sh: smsbox not found (apt-get install kannel)" >&2; exit 77; }
  FAKESMSC=$(findbin "${FAKESMSC:-}" fakesmsc /usr/lib/kannel/test/fakesmsc /usr/local/lib/kannel/test/fakesmsc) ||
    { echo "kannel.sh: fakesmsc not found (apt-get install kannel-extras)" >&2; exit 77; }
  command -v curl >/dev/null 2>&1 || { echo "kannel.sh: curl not found" >&2; exit 77; }
  case $BASE in ''|*[!0-9]*) usage ;; esac
  if [ "$BASE" -lt 1024 ] || [ "$BASE" -gt 65532 ]; then
    echo "kannel.sh: bad PORTBASE $BASE" >&2; exit 2
  fi

  ADMIN_PORT=$BASE SMSBOX_PORT=$((BASE + 1)) SMSC_PORT=$((BASE + 2)) SENDSMS_PORT=$((BASE + 3))
  # a port that already answers belongs to someone else: do not mistake it for ours
  for p in $ADMIN_PORT $SMSBOX_PORT $SMSC_PORT $SENDSMS_PORT; do
    rc=0; curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/" 2>/dev/null || rc=$?
    [ $rc -eq 7 ] || { echo "kannel.sh: port $p is in use" >&2; exit 3; }
  done
  rm -f "$D"/*.pid "$D"/*.log "$D"/*.stdout "$D/fakesmsc.out" "$D/env" "$D/mo.fifo"
  sed -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" -e "s|@SMSBOX_PORT@|$SMSBOX_PORT|g" \
      -e "s|@SMSC_PORT@|$SMSC_PORT|g" -e "s|@SENDSMS_PORT@|$SENDSMS_PORT|g" \
      -e "s|@DIR@|$D|g" "$HERE/kannel.conf.in" >"$D/kannel.conf"
  if [ -n "${KANNEL_GET_URL:-}" ]; then
    printf '\ngroup = sms-service\nkeyword = default\nget-url = "%s"\nmax-messages = 0\n' \
      "$KANNEL_GET_URL" >>"$D/kannel.conf"
  else
    printf '\ngroup = sms-service\nkeyword = default\ntext = "No service specified"\n' >>"$D/kannel.conf"
  fi
  if [ "${KANNEL_MO:-0}" = 1 ]; then mkfifo "$D/mo.fifo"; fi
  ADMIN_PW=$(getconf admin-password) STATUS_PW=$(getconf status-password)
  USER_=$(getconf username) PASS=$(getconf password)

  # order matters: bearerbox, then the SMSC client, then smsbox
  ( cd "$D" && exec "$BEARERBOX" -v 1 "$D/kannel.conf" ) >"$D/bearerbox.stdout" 2>&1 </dev/null &
  echo $! >"$D/bearerbox.pid"
  i=0
  until [ "$(http_code "http://127.0.0.1:$ADMIN_PORT/status.txt?password=$STATUS_PW")" = 200 ]; do
    i=$((i + 1)); [ $i -le $TRIES ] || die "bearerbox admin port $ADMIN_PORT did not answer"
    alive "$(cat "$D/bearerbox.pid")" || die "bearerbox exited"
    port_busy && die "bearerbox could not bind"
    sleep $STEP
  done
  start_fakesmsc || die "fake SMSC did not come online on port $SMSC_PORT"
  ( cd "$D" && exec "$SMSBOX" -v 1 "$D/kannel.conf" ) >"$D/smsbox.stdout" 2>&1 </dev/null &
  echo $! >"$D/smsbox.pid"
  i=0
  until [ "$(http_code "http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms")" != 000 ]; do
    i=$((i + 1)); [ $i -le $TRIES ] || die "smsbox sendsms port $SENDSMS_PORT did not answer"
    alive "$(cat "$D/smsbox.pid")" || die "smsbox exited"
    port_busy && die "smsbox could not bind"
    sleep $STEP
  done

  for p in bearerbox fakesmsc smsbox; do
    alive "$(cat "$D/$p.pid")" || die "$p exited during start-up"
  done
  cat >"$D/env" <<EOF
KANNEL_DIR='$D'
KANNEL_ADMIN_PORT=$ADMIN_PORT
KANNEL_SMSBOX_PORT=$SMSBOX_PORT
KANNEL_SMSC_PORT=$SMSC_PORT
KANNEL_SENDSMS_PORT=$SENDSMS_PORT
KANNEL_SENDSMS_URL='http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms'
KANNEL_USER='$USER_'
KANNEL_PASS='$PASS'
KANNEL_ADMIN_PW='$ADMIN_PW'
KANNEL_STATUS_PW='$STATUS_PW'
KANNEL_ADMIN_URL='http://127.0.0.1:$ADMIN_PORT'
KANNEL_STATUS_URL='http://127.0.0.1:$ADMIN_PORT/status.txt?password=$STATUS_PW'
KANNEL_FAKESMSC_OUT='$D/fakesmsc.out'
KANNEL_PIDS='$(cat "$D/bearerbox.pid") $(cat "$D/fakesmsc.pid") $(cat "$D/smsbox.pid")'
EOF
  cat "$D/env"
  echo "# delivered SMS: grep 'Got message' '$D/fakesmsc.out'   (DEBUG: Got message N: <FROM TO text TEXT>)"
  echo "# count: grep -c 'Got message' '$D/fakesmsc.out'; counters: curl \"\$KANNEL_STATUS_URL\""
}

do_stop() {
  if [ -f "$D/env" ]; then
    load_env
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$ADMIN_PORT/shutdown?password=$ADMIN_PW" || true
  fi
  pids=
  for p in bearerbox smsbox fakesmsc; do
    [ -f "$D/$p.pid" ] && pids="$pids $(cat "$D/$p.pid")"
  done
  # smsbox may re-fork itself under a new pid: also catch anything run with our conf
  for f in /proc/[0-9]*/cmdline; do
    [ -r "$f" ] || continue
    if tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "$D/kannel.conf"; then
      p=${f#/proc/}; pids="$pids ${p%/cmdline}"
    fi
  done
  i=0                              # graceful shutdown takes about 1 s
  while [ $i -lt 60 ]; do
    left=
    for p in $pids; do alive "$p" && left="$left $p"; done
    [ -z "$left" ] && break
    [ $i -eq "${TERM_AT:-40}" ] && for p in $left; do kill -TERM "$p" 2>/dev/null || true; done
    i=$((i + 1)); sleep $STEP
  done
  for p in $pids; do
    if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  rm -f "$D"/bearerbox.pid "$D"/smsbox.pid "$D"/fakesmsc.pid
  echo "kannel stopped"
}

[ $# -ge 2 ] || usage
CMD=$1
mkdir -p "$2"
D=$(cd "$2" && pwd)
case $CMD in
  start) [ $# -eq 3 ] || usage; BASE=$3; do_start ;;
  stop) do_stop ;;
  fakesmsc)
    load_env || { echo "kannel.sh: $D is not a started Kannel dir" >&2; exit 1; }
    FAKESMSC=$(findbin "${FAKESMSC:-}" fakesmsc /usr/lib/kannel/test/fakesmsc /usr/local/lib/kannel/test/fakesmsc) || exit 77
    if [ -f "$D/fakesmsc.pid" ] && alive "$(cat "$D/fakesmsc.pid")"; then
      kill "$(cat "$D/fakesmsc.pid")" 2>/dev/null || true
    fi
    start_fakesmsc || { echo "kannel.sh: fake SMSC did not come online" >&2; exit 1; }
    echo "fakesmsc pid $(cat "$D/fakesmsc.pid")" ;;
  *) usage ;;
esac
