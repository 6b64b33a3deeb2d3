# shellcheck shell=bash
# tests/integration/ops_lib.sh -- helpers of the operations tests
# (tests/integration/ops_*.sh, tests/system/nspawn.sh).  Not a test itself:
#   for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
#     [ -f "$d/ops_lib.sh" ] && { . "$d/ops_lib.sh"; break; }; done
#
# It sources tests/lib.sh (ok/fail/check/finish, waitfor, peers, $T) and
# finds the build the test runs in: `make check` runs every test from the
# top BUILD directory ($PWD), also an out-of-tree or distcheck one.
# IOPD_BUILDDIR, IOPD, IOPCTL and IOPD_PLUGIN_DIR override.
#
# Reminders that fall due a few seconds from now, on the test's own clock
# (tests/lib.sh, Time: now_epoch), at real speed (the watchdog and notify
# tests time real intervals); ops_start gives iopd that clock (clock_env),
# so the daemon and the test agree on "now" whatever the machine's clock:
#   ops_due_in SECS      sets OPS_AT ("YYYY-MM-DD HH:MM", UTC), OPS_BEFORE
#                        ("Ns") and OPS_DUE (Unix s): an appointment at OPS_AT with a reminder
#                        `before = OPS_BEFORE` falls due SECS s from now
#   ops_conf FILE NAME CHANNELS RULE_CHANNELS [DAEMON_EXTRA] [NPATIENTS=1]
#                        writes a complete configuration: daemon block (zone
#                        UTC, no quiet hours, state_dir $T/NAME.state, control
#                        socket in it), the CHANNELS list text, a discreet
#                        template whose text holds OPS_TEXT_MARK, a program,
#                        and NPATIENTS patients p-0001... (first name
#                        OPS_NAME_MARK, phone +1212555456N, e-mail
#                        alexN@example.org, in the program since the test's
#                        today), each with one appointment due as
#                        ops_due_in said, on RULE_CHANNELS (e.g. '"term"').
#                        Mode 0600.  Sets NAME_SOCK, NAME_STATE.
#   ops_start NAME CONF [ENV=VAL ...] [-- IOPD ARGS]
#                        iopd -f -c CONF (plus args) in the background on the
#                        test's clock (clock_env), env added; waits until
#                        started.  NAME_PID, NAME_LOG
#                        (stderr), NAME_OUT (stdout)
#   ops_ctl NAME ARGS    iopctl -s NAME_SOCK ARGS
#   leaks_contact FILE   true if FILE holds a phone number beyond its last
#                        two digits, an e-mail address, a first name or a
#                        message text of ops_conf's patients

_ol_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$_ol_here/../lib.sh"

IOPD_BUILDDIR=${IOPD_BUILDDIR:-${abs_top_builddir:-$PWD}}
IOPD=${IOPD:-$IOPD_BUILDDIR/iopd}
IOPCTL=${IOPCTL:-$IOPD_BUILDDIR/iopctl}
# Explicit, so an installed plugin never stands in for one built here.
export IOPD_PLUGIN_DIR=${IOPD_PLUGIN_DIR:-$IOPD_BUILDDIR/plugins/.libs}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# The daemon's environment must not say it runs under systemd.
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID JOURNAL_STREAM STATE_DIRECTORY \
	RUNTIME_DIRECTORY CREDENTIALS_DIRECTORY LISTEN_FDS 2>/dev/null || true

ops_need_build() {
	[ -x "$IOPD" ] || skip_all "no $IOPD (run from the build directory, or set IOPD)"
	[ -x "$IOPCTL" ] || skip_all "no $IOPCTL"
	[ -f "$IOPD_PLUGIN_DIR/console.so" ] || skip_all "no plugins in $IOPD_PLUGIN_DIR"
}

OPS_TEXT_MARK=QzxTextMark
OPS_NAME_MARK=Zebulonia
OPS_PHONE_BASE=+1212555456

_ol_set() { printf -v "$1" '%s' "$2"; }
_ol_get() { local v=$1; printf '%s' "${!v}"; }

ops_due_in() { # SECS
	local now due event
	now=$(now_epoch)
	now=${now%.*}
	due=$((now + $1))
	event=$(( (due + 60 + 59) / 60 * 60 ))   # a whole minute, 60..119 s after due
	OPS_AT=$(date -u -d "@$event" '+%Y-%m-%d %H:%M')
	OPS_BEFORE="$((event - due))s"
	# shellcheck disable=SC2034  # for the tests that source this file
	OPS_DUE=$due
}

ops_conf() { # FILE NAME CHANNELS RULE_CHANNELS [DAEMON_EXTRA] [NPATIENTS]
	local f=$1 n=$2 chans=$3 rule=$4 extra=${5:-} np=${6:-1} i day
	local state=$T/$n.state
	mkdir -p "$state"
	chmod 700 "$state"
	_ol_set "${n}_SOCK" "$state/control.sock"
	_ol_set "${n}_STATE" "$state"
	day=$(fmt_date "$(now_epoch)")
	day=${day%% *}
	{
		cat <<EOF
daemon = {
  timezone = "UTC";
  state_dir = "$state";
  control_socket = "$state/control.sock";
  quiet_hours = { from = "00:00"; to = "00:00"; };
  clinic_phone = "+13125559999";
  $extra
};
channels = ( $chans );
templates = {
  session = { sms = "Hi {first_name}, $OPS_TEXT_MARK {day} at {time}.";
              email_subject = "Reminder"; };
};
programs = (
  { id = "op"; name = "Outpatient"; kind = "OP"; weeks = 1;
    sessions = ( );
    reminders = ( { before = "1h"; channels = [ $rule ]; } ); }
);
patients = (
EOF
		for ((i = 1; i <= np; i++)); do
			cat <<EOF
  { id = "p-000$i"; first_name = "$OPS_NAME_MARK"; phone = "$OPS_PHONE_BASE$((i % 10))";
    email = "alex$i@example.org"; program = "op"; start = "$day";
    appointments = ( { id = "a$i"; at = "$OPS_AT"; type = "individual"; duration = "1h";
                       reminders = ( { before = "$OPS_BEFORE"; channels = [ $rule ]; } ); } ); }$([ "$i" -lt "$np" ] && echo ,)
EOF
		done
		echo ");"
	} >"$f"
	chmod 600 "$f"
}

ops_start() { # NAME CONF [ENV=VAL ...] [-- IOPD ARGS]
	local n=$1 conf=$2 pid sock
	local -a envs=() args=()
	shift 2
	mapfile -t envs < <(_rig_clock_env)
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	[ "${1:-}" = -- ] && { shift; args=("$@"); }
	sock=$(_ol_get "${n}_SOCK")
	env TZ=UTC "${envs[@]}" "$IOPD" -f -c "$conf" "${args[@]}" \
		>"$T/$n.stdout" 2>"$T/$n.log" </dev/null &
	pid=$!
	track "$pid" "$T/$n.log" "$T/$n.stdout"
	_ol_set "${n}_PID" "$pid"
	_ol_set "${n}_LOG" "$T/$n.log"
	_ol_set "${n}_OUT" "$T/$n.stdout"
	if ! waitfor "grep -q ' started: ' '$T/$n.log' && [ -S '$sock' ]" 15; then
		echo "# ops_start $n: not started after 15 s" >&2
		alive "$pid" || echo "# ops_start $n: iopd exited" >&2
		return 1
	fi
}

ops_ctl() { # NAME ARGS...
	local n=$1
	shift
	"$IOPCTL" -s "$(_ol_get "${n}_SOCK")" "$@"
}

leaks_contact() { # FILE...
	grep -Eq "2125554|example\.org|$OPS_NAME_MARK|$OPS_TEXT_MARK" "$@"
}
