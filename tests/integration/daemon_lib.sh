# shellcheck shell=bash
# tests/integration/daemon_lib.sh -- helpers of the end-to-end tests
# (tests/integration/daemon_*.sh) that run the REAL iopd binary, with its real
# plugins, against the loopback peers of tests/lib.sh, under libfaketime.
# Not a test itself: each daemon_*.sh sources it first, e.g.
#   for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
#     [ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }; done
#
# It sources tests/lib.sh (see its header: ok/fail/check/finish, waitfor,
# peers, free_port, faketime_env, $T), then finds the binaries of the build
# the test runs in: `make check` runs every test from the top BUILD directory
# (also an out-of-tree one, e.g. a sanitizer build in /tmp), so $PWD is it.
# IOPD_BUILDDIR, IOPD, IOPCTL and IOPD_PLUGIN_DIR override.
#
#   epoch 'YYYY-MM-DD hh:mm:ss'      that UTC wall time as Unix seconds
#   secret_file NAME VALUE           $T/NAME, mode 0600, VALUE + newline
#   start_iopd NAME CONF 'YYYY-MM-DD hh:mm:ss' [SPEED e.g. x10]
#        runs `iopd -f -c CONF` with TZ=UTC and a fake clock starting at that
#        UTC time (absolute, by faketime_env: '@' and fractional seconds are
#        accepted, e.g. "$(timeline_now)"; never today's date or an offset
#        from it: tests/lib.sh, Time); waits (bounded) until it has started
#        and its control socket answers.  Sets NAME_PID, NAME_LOG (stderr),
#        NAME_OUT (stdout), NAME_DB (ledger), NAME_SOCK, NAME_T0 (start on
#        the test's own clock, $EPOCHREALTIME, float), NAME_FAKE0 (fake
#        start, Unix s), NAME_SPEED (1 or N).  The peers' logged times are
#        on the test's clock too, so to_fake turns them into the daemon's.
#        CONF must set daemon.state_dir and control_socket (use
#        iopd_daemon_block).  With a PostgreSQL ledger (is_pg), also until
#        its ledger takes writes.
#   iopd_daemon_block NAME [extra settings]  a `daemon = {...}` group for a
#        config file, with state_dir $T/NAME.state and the control socket in it
#   before 'YYYY-MM-DD hh:mm:ss' SECONDS [SPEED e.g. x10]
#        that time, less SECONDS real seconds (times RIG_WAIT_SCALE) on a
#        clock SPEED times as fast: a start that leaves a slow iopd
#        (valgrind) time to start on a new ledger before the first due
#   stop_iopd NAME                   SIGTERM, bounded wait; IOPD_RC = exit status
#   fake_now NAME                    the daemon's fake clock now (float)
#   to_fake NAME REAL                a real Unix time as the daemon's fake time
#                                    (at speed 1, `to_fake NAME 0` is the offset)
#   sql NAME QUERY                   read the ledger (sqlite3, read-only use)
#   rec NAME ID [COLUMNS]            a reminder row by its hex id: default
#                                    "status|attempts|reason|gateway_id"
#   wait_status NAME ID STATUS [TIMEOUT]   until the ledger row has STATUS
#   outcomes NAME ID                 "status|attempt|reason" per outcome, in order
#   agenda_json CONF FROM TO FILE    `iopd agenda --format jsonl` into FILE
#   agenda_id FILE PATIENT CHANNEL [KIND]  the id of the first such reminder
#   ctl NAME ARGS...                 iopctl -s NAME_SOCK ARGS...
#   sanitizer_clean FILE...          no ASan/UBSan/LSan report in the files
#
# One test body, two backends: with IOPD_TEST_LEDGER=postgresql (a wrapper
# such as tests/integration/pg_twoway_consent.sh sets it) the ledger is a
# private PostgreSQL cluster (fixtures/ledger_lib.sh): iopd_daemon_block
# adds daemon.ledger, postgresql (over the cluster's Unix socket, database
# iopd, shared by every daemon of the test; its lease PG_LEASE when set,
# e.g. "4s") and instance NAME, and sql/rec/outcomes read it with psql.
# is_pg: whether it runs so.

_dl_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$_dl_here/../lib.sh"
# shellcheck source=fixtures/ledger_lib.sh
. "$_dl_here/fixtures/ledger_lib.sh"

IOPD_BUILDDIR=${IOPD_BUILDDIR:-${abs_top_builddir:-$PWD}}
IOPD=${IOPD:-$IOPD_BUILDDIR/iopd}
IOPCTL=${IOPCTL:-$IOPD_BUILDDIR/iopctl}
# Explicit, so an installed plugin never stands in for the one built here.
export IOPD_PLUGIN_DIR=${IOPD_PLUGIN_DIR:-$IOPD_BUILDDIR/plugins/.libs}
[ -x "$IOPD" ] || skip_all "no $IOPD (run from the build directory, or set IOPD)"
[ -x "$IOPCTL" ] || skip_all "no $IOPCTL"
echo "# iopd: $IOPD, plugins: $IOPD_PLUGIN_DIR"
faketime_lib >/dev/null || skip_all "libfaketime is not installed (apt-get install libfaketime)"
need sqlite3 curl "$PY"
# The daemon's own output must never hold contact details or texts; a
# test fails on any sanitizer report (the sanitizer build runs these too).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# ASan + libfaketime deadlock at start-up otherwise: ASan's allocator reads
# CLOCK_MONOTONIC (to pace its release of memory to the OS) while holding its
# lock, libfaketime's first clock_gettime initialises itself with dlsym(),
# whose error path calls malloc() -> the same lock.  Never releasing memory
# to the OS means ASan never reads the clock in there.  Harmless otherwise.
case $ASAN_OPTIONS in
*allocator_release_to_os_interval_ms=*) ;;
*) ASAN_OPTIONS=$ASAN_OPTIONS:allocator_release_to_os_interval_ms=-1 ;;
esac
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

epoch() { date -u -d "$1 UTC" +%s; }

secret_file() { # NAME VALUE
	printf '%s\n' "$2" >"$T/$1"
	chmod 600 "$T/$1"
}

iopd_daemon_block() { # NAME [extra settings]
	mkdir -p "$T/$1.state"
	chmod 700 "$T/$1.state"
	cat <<EOF
daemon = {
  timezone = "UTC";
  state_dir = "$T/$1.state";
  control_socket = "$T/$1.state/control.sock";
  quiet_hours = { from = "00:00"; to = "00:00"; };
  ${2:-}
EOF
	if is_pg; then
		printf '  %s\n' "$(ledger_pg_settings "$1")"
	fi
	echo "};"
}

# A configuration of ten patients, each with one medication whose doses
# fall at TIMES on 2026-12-01 (UTC), on one webhook channel "ehr" at
# $WEBHOOK_URL (start_webhook first), written to $T/NAME.conf.
ten_prompts_conf() { # NAME TIMES ('"18:00", "18:05"')
	local i sep="patients = ("
	{
		iopd_daemon_block "$1"
		echo "channels = ( { name = \"ehr\"; module = \"webhook\"; url = \"$WEBHOOK_URL/hooks/ehr\"; } );"
		cat <<'EOF'
templates = { session = { sms = "s"; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = ( { id = "prog"; name = "Program"; kind = "IOP"; timezone = "UTC"; weeks = 1;
  sessions = ( { id = "grp"; type = "group"; days = ["sun"]; start = "09:00"; duration = "1h"; } );
  reminders = ( { before = "1h"; channels = ["ehr"]; } ); } );
EOF
		for i in 0 1 2 3 4 5 6 7 8 9; do
			echo "$sep { id = \"p-$i\"; first_name = \"P\"; program = \"prog\"; start = \"2026-12-01\";
    medications = ( { label = \"dose\"; times = [$2]; channels = [\"ehr\"];
                      from = \"2026-12-01\"; until = \"2026-12-01\"; } ); }"
			sep=,
		done
		echo ");"
	} >"$T/$1.conf"
	chmod 600 "$T/$1.conf"
}

_dl_set() { printf -v "$1" '%s' "$2"; }
_dl_get() { local v=$1; printf '%s' "${!v}"; }

start_iopd() { # NAME CONF 'YYYY-MM-DD hh:mm:ss' [SPEED]
	local n=$1 conf=$2 start=$3 speed=${4:-} pid t0 state sock ft
	local -a FT
	chmod 600 "$conf"
	mapfile -t FT < <(faketime_env "$start" "$speed")
	state=$(sed -n 's/^ *state_dir *= *"\(.*\)";.*/\1/p' "$conf" | head -n 1)
	sock=$(sed -n 's/^ *control_socket *= *"\(.*\)";.*/\1/p' "$conf" | head -n 1)
	t0=$EPOCHREALTIME
	env TZ=UTC "${FT[@]}" "$IOPD" -f -c "$conf" >"$T/$n.stdout" 2>"$T/$n.log" </dev/null &
	pid=$!
	track "$pid" "$T/$n.log" "$T/$n.stdout"
	_dl_set "${n}_PID" "$pid"
	_dl_set "${n}_LOG" "$T/$n.log"
	_dl_set "${n}_OUT" "$T/$n.stdout"
	_dl_set "${n}_DB" "$state/ledger.db"
	_dl_set "${n}_SOCK" "$sock"
	_dl_set "${n}_T0" "$t0"
	_dl_set "${n}_FAKE0" "$(_rig_us_epoch "$(_rig_date_us "$start")")"
	ft=${speed#x}
	_dl_set "${n}_SPEED" "${ft:-1}"
	if ! waitfor "grep -q ' started: ' '$T/$n.log' && [ -S '$sock' ]" 15; then
		echo "# start_iopd $n: not started after 15 s" >&2
		alive "$pid" || echo "# start_iopd $n: iopd exited" >&2
		return 1
	fi
	# a PostgreSQL ledger is reached after the start: until it takes writes
	if is_pg && ! waitfor "'$IOPCTL' -s '$sock' status 2>/dev/null | grep -q '^ledger: ' &&
	    ! '$IOPCTL' -s '$sock' status | grep -q 'CANNOT WRITE'" 30; then
		echo "# start_iopd $n: its PostgreSQL ledger does not take writes after 30 s" >&2
		return 1
	fi
}

before() { # 'YYYY-MM-DD hh:mm:ss' SECONDS [SPEED]
	local speed=${3:-x1}
	date -u -d "@$(( $(epoch "$1") - $2 * ${RIG_WAIT_SCALE:-1} * ${speed#x} ))" '+%Y-%m-%d %H:%M:%S'
}

stop_iopd() { # NAME -> IOPD_RC
	stop_pid "$(_dl_get "${1}_PID")" "${2:-15}"
	# shellcheck disable=SC2034  # read by the tests
	IOPD_RC=$STOP_RC
}

to_fake() { # NAME REAL
	"$PY" -c 'import sys; f0, t0, s, r = map(float, sys.argv[1:]); print("%.3f" % (f0 + s * (r - t0)))' \
		"$(_dl_get "${1}_FAKE0")" "$(_dl_get "${1}_T0")" "$(_dl_get "${1}_SPEED")" "$2"
}
fake_now() { to_fake "$1" "$EPOCHREALTIME"; }

sql() { # NAME QUERY
	if is_pg; then
		ledger_pg_q iopd "$2"
		return
	fi
	ledger_sqlite_q "$(_dl_get "${1}_DB")" "$2" 3000
}
rec() { # NAME ID [COLUMNS]
	sql "$1" "SELECT ${3:-status, attempts, reason, gateway_id} FROM reminder WHERE printf('%016x', id) = '$2'"
}
wait_status() { # NAME ID STATUS [TIMEOUT]
	waitfor "[ \"\$(rec '$1' '$2' status 2>/dev/null)\" = '$3' ]" "${4:-10}"
}
outcomes() { # NAME ID
	sql "$1" "SELECT status, attempt, reason FROM outcome WHERE printf('%016x', id) = '$2' ORDER BY at, rowid"
}

agenda_json() { # CONF FROM TO FILE
	env TZ=UTC "$IOPD" agenda -c "$1" --from "$2" --to "$3" --format jsonl >"$4"
}
agenda_id() { # FILE PATIENT CHANNEL [KIND]
	"$PY" - "$@" <<'EOF'
import json, sys
f, p, c = sys.argv[1:4]
k = sys.argv[4] if len(sys.argv) > 4 else None
for line in open(f):
    r = json.loads(line)
    if r["patient"] == p and r["channel"] == c and (k is None or r["kind"] == k):
        print(r["id"]); break
else:
    sys.exit("no reminder of %s on %s in %s" % (p, c, f))
EOF
}

ctl() { # NAME ARGS...
	local n=$1
	shift
	"$IOPCTL" -s "$(_dl_get "${n}_SOCK")" "$@"
}

sanitizer_clean() { # FILE...
	! grep -qE 'Sanitizer|runtime error:|LeakSanitizer' "$@"
}
