#!/bin/bash
# ops_cli.sh - the small things a new user trips on (issue 11, item 10):
#
#   iopd --help / -h / --version / -V, iopctl --help / --version: stdout,
#     exit 0 (no "invalid option -- '-'"); a bad option or an unknown
#     command: exit 1 (iopd) or 2 (iopctl) with the nearest known command
#   iopctl stauts: `unknown command "stauts" (did you mean status?)`, before
#     iopd is asked; iopd's own answer to an unknown command says the same
#   logs on a terminal (a pty): no "<N>" prefixes, warnings in words; the
#     same daemon with stderr in a file keeps them
#   iopd -c without -f, outside systemd, on a host with neither journald
#     nor syslog (a private mount namespace hides them): it says, before it
#     leaves the terminal, that it logs to state_dir/iopd.log, and does
#   a language without locale data: `iopd -t` warns once, with the count
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "ops_cli.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/console.so" ] || skip_all "no console.so in $IOPD_PLUGIN_DIR"

run() { # NAME CMD... -> RC, $T/NAME.out, $T/NAME.err
	local n=$1
	shift
	RC=0
	"$@" >"$T/$n.out" 2>"$T/$n.err" </dev/null || RC=$?
	add_log "$T/$n.out" "$T/$n.err"
}

# --- --help and --version -----------------------------------------------------------
VERSION=$(sed -n 's/^AC_INIT(\[iopd\], \[\([^]]*\)\].*/\1/p' "$_dl_here/../../configure.ac" 2>/dev/null || true)
for o in --help -h; do
	run help "$IOPD" $o
	check "iopd $o: exit 0" test "$RC" -eq 0
	check "iopd $o: the usage on stdout, with render and --text" \
		sh -c "grep -q '^usage: iopd' '$T/help.out' && grep -q 'iopd render' '$T/help.out' && grep -q -- '--text' '$T/help.out'"
	check "iopd $o: nothing on stderr" test ! -s "$T/help.err"
	run chelp "$IOPCTL" $o
	check "iopctl $o: exit 0, usage on stdout" sh -c "[ $RC -eq 0 ] && grep -q '^usage: iopctl' '$T/chelp.out'"
done
for o in --version -V; do
	run ver "$IOPD" $o
	check "iopd $o: exit 0, \"iopd VERSION\"" sh -c "[ $RC -eq 0 ] && grep -Eqx 'iopd [0-9]+\.[0-9]+\.[0-9]+' '$T/ver.out'"
	run cver "$IOPCTL" $o
	check "iopctl $o: exit 0, \"iopctl VERSION\"" sh -c "[ $RC -eq 0 ] && grep -Eqx 'iopctl [0-9]+\.[0-9]+\.[0-9]+' '$T/cver.out'"
done
[ -z "$VERSION" ] || check "the version is configure's ($VERSION)" grep -qx "iopd $VERSION" "$T/ver.out"
run bad "$IOPD" --frobnicate
check "iopd --frobnicate: exit 1 with the usage" sh -c "[ $RC -eq 1 ] && grep -q '^usage: iopd' '$T/bad.err'"
run typo "$IOPD" agendaa -c x.conf
check "iopd agendaa: exit 1, did you mean agenda?" \
	sh -c "[ $RC -eq 1 ] && grep -qF 'unknown command \"agendaa\" (did you mean agenda?)' '$T/typo.err'"

# --- iopctl stauts ---------------------------------------------------------------------
run stauts "$IOPCTL" -s "$T/nowhere.sock" stauts
check "iopctl stauts: exit 2, without asking iopd" test "$RC" -eq 2
check "iopctl stauts: unknown command \"stauts\" (did you mean status?)" \
	grep -qF 'iopctl: unknown command "stauts" (did you mean status?)' "$T/stauts.err"
run nonsense "$IOPCTL" -s "$T/nowhere.sock" frobnicate
check "iopctl frobnicate: exit 2, no guess" \
	sh -c "[ $RC -eq 2 ] && grep -q 'unknown command \"frobnicate\"' '$T/nonsense.err' && ! grep -q 'did you mean' '$T/nonsense.err'"
run arity "$IOPCTL" -s "$T/nowhere.sock" pause
check "iopctl pause (no patient): exit 2, says what it takes" \
	sh -c "[ $RC -eq 2 ] && grep -q 'pause takes 1 argument' '$T/arity.err'"

# --- the daemon: its answer to an unknown command; logs on a terminal ---------------
conf() { # NAME
	iopd_daemon_block "$1"
	cat <<'EOF'
channels = ( { name = "term"; module = "console"; } );
templates = { session = { sms = "Hi"; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = ( { id = "p"; timezone = "UTC";
  sessions = ( { id = "g"; days = [ "mon" ]; start = "18:00"; } );
  reminders = ( { before = "1h"; channels = [ "term" ]; } ); } );
patients = ( { id = "p-1"; program = "p"; start = "2026-12-07"; } );
EOF
}
conf d >"$T/d.conf"
start_iopd D "$T/d.conf" '2026-12-01 09:00:00'
"$PY" - "$D_SOCK" >"$T/raw.out" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"IOPD/1 text stauts\n")
s.shutdown(socket.SHUT_WR)
print(s.makefile("rb").read().decode(), end="")
EOF
add_log "$T/raw.out"
check "iopd answers an unknown command: ERR, did you mean status?" \
	sh -c "head -n 1 '$T/raw.out' | grep -qx ERR && grep -qF 'unknown command \"stauts\" (did you mean status?)' '$T/raw.out'"
stop_iopd D
check "file stderr: lines keep their <N> prefixes" grep -q '^<5>iopd .* started' "$D_LOG"

# a terminal: iopd -f under a pty, its output read back
conf t | sed 's/module = "console"; }/module = "console"; insecure_tls = true; }/' >"$T/t.conf"
chmod 600 "$T/t.conf"
mapfile -t FT < <(faketime_env '2026-12-01 09:00:00')
timeout -k 5 40 env TZ=UTC "${FT[@]}" "$PY" - "$IOPD" "$T/t.conf" "$T/t.state/control.sock" >"$T/tty.out" 2>&1 <<'EOF' || true
import os, pty, select, signal, sys, time
iopd, conf, sock = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(iopd, [iopd, "-f", "-c", conf])
out, t0, stopped = b"", time.time(), False
while time.time() - t0 < 30:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if not stopped and b" started: " in out:
        os.kill(pid, signal.SIGTERM)
        stopped = True
os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace").replace("\r\n", "\n"))
EOF
add_log "$T/tty.out"
check "terminal: iopd started and stopped" sh -c "grep -q '^iopd .* started: ' '$T/tty.out' && grep -q '^stopped' '$T/tty.out'"
check "terminal: no <N> prefix on any line" test -z "$(grep '^<[0-9]>' "$T/tty.out" || true)"
check "terminal: a warning says so in words" grep -q '^warning: \[term\] TLS certificate verification is OFF' "$T/tty.out"

# --- detached, no journald, no syslog: a log file, and it says so -------------------
if ! unshare -m true 2>/dev/null; then
	skip "detached logging: cannot unshare a mount namespace here"
else
	conf f >"$T/f.conf"
	chmod 600 "$T/f.conf"
	cat >"$T/detach.sh" <<'EOF'
# no journald (a tmpfs over /run) and no syslog socket (/dev/null over /dev/log)
set -eu
mount -t tmpfs tmpfs /run
if [ -S /dev/log ]; then mount --bind /dev/null /dev/log; fi
env -u NOTIFY_SOCKET -u INVOCATION_ID -u JOURNAL_STREAM TZ=UTC "$IOPD" -c "$T/f.conf" >"$T/detach.out" 2>&1
EOF
	rc=0
	export IOPD T
	timeout -k 5 30 unshare -m bash "$T/detach.sh" || rc=$?
	add_log "$T/detach.out"
	check "detached: the starting command returns 0" test "$rc" -eq 0
	check "detached: it said where the logs go" \
		grep -Eq "^iopd: running in the background \(pid [0-9]+\); logging to $T/f.state/iopd.log \(no journald, no syslog on this host\)$" "$T/detach.out"
	waitfor "[ -S '$T/f.state/control.sock' ]" 10 || true
	pid=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' "$T/detach.out")
	[ -z "$pid" ] || track "$pid"
	# the start line follows READY (the socket answers first): wait for it
	check "detached: the log file holds the start line, with a timestamp and a level" \
		waitfor "grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z notice: iopd .* started: ' '$T/f.state/iopd.log'" 10
	check "detached: the log file is private (0600)" test "$(stat -c %a "$T/f.state/iopd.log")" = 600
	"$IOPCTL" -s "$T/f.state/control.sock" reload >/dev/null 2>&1 || true
	check "detached: later lines go there too (a reload)" \
		waitfor "grep -q 'notice: reloaded ' '$T/f.state/iopd.log'" 10
	[ -z "$pid" ] || kill -TERM "$pid"
	[ -z "$pid" ] || check "detached: it stops on SIGTERM" waitfor "! alive $pid" 10
	add_log "$T/f.state/iopd.log"
fi

# --- a language without locale data: one warning at -t, with the count -----------
conf l >"$T/l.conf"
sed -i 's/patients = ( { id = "p-1"; program = "p"; start = "2026-12-07"; } );/patients = (\n  { id = "p-1"; program = "p"; start = "2026-12-07"; language = "tlh"; },\n  { id = "p-2"; program = "p"; start = "2026-12-07"; language = "tlh"; } );/' "$T/l.conf"
chmod 600 "$T/l.conf"
run lang env TZ=UTC "$IOPD" -t -c "$T/l.conf"
check "iopd -t: still valid (exit 0)" test "$RC" -eq 0
check "iopd -t: one warning for the language, at its first patient, with the count" \
	sh -c "[ \$(grep -c 'warning: .*language \"tlh\"' '$T/lang.err') -eq 1 ] &&
	  grep -q 'l.conf:[0-9]*: warning: patients\[0\] id \"p-1\": language: language \"tlh\" (2 patients): no date and time names' '$T/lang.err'"
finish
