#!/bin/bash
# config_hostile.sh - bad configurations against the real iopd and iopd -t
# (the hostile-input audit):
#   * control_socket naming an existing file (the ledger of another iopd):
#     -t refuses it at its FILE:LINE; the daemon refuses to start; the file
#     is intact;
#   * a NUL byte: -t refuses it at its FILE:LINE (the rest of the file used
#     to be silently dropped);
#   * @include of a FIFO and of /dev/zero: -t answers at once with a
#     FILE:LINE error; a running iopd's reload of them fails at once, iopd
#     keeps running and SIGTERM ends it;
#   * a patient id with a newline and "<0>": refused, naming the rule; the
#     message is escaped, so no forged log line (no line of iopd's output
#     starts with "<0>", none holds a raw control character);
#   * a state_dir others can read: a warning from -t and in the log; the
#     ledger and its marker are 0600 all the same (umask 077);
#   * a token_file that is a symbolic link: refused;
#   * a state_dir of 100,000 characters, a configuration with neither
#     channels nor programs, a file that does not exist: -t says what is
#     wrong as FILE:LINE;
#   * iopd is not dumpable (no core file, no ptrace by its user): run as
#     nobody, its /proc files belong to root.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/config_hostile.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "config_hostile.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"

start_webhook
SOCK=$T/ctl.sock
CONF=$T/iopd.conf
gen_conf "$T/good.conf" --state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" --patients 3 --med 09:00
# variant NAME SED: good.conf edited, mode 0600; its path in $V
variant() { V=$T/$1.conf; sed "$2" "$T/good.conf" >"$V"; chmod 600 "$V"; }
# check_t NAME: iopd -t on $V, output in $T/NAME.t, status in RC (bounded: 20 s)
check_t() {
	RC=0
	timeout 20 env TZ=UTC "$IOPD" -t -c "$V" >"$T/$1.t" 2>&1 || RC=$?
	add_log "$T/$1.t"
}
line_of() { grep -n -- "$1" "$V" | head -1 | cut -d: -f1; }

# --- control_socket naming a file that is not a socket -----------------------------------
mkdir -p "$T/other"
printf 'SQLite format 3\0 stand-in for a ledger\n' >"$T/other/ledger.db"
sum=$(md5sum <"$T/other/ledger.db")
variant sockfile "s#control_socket = \".*\";#control_socket = \"$T/other/ledger.db\";#"
check_t sockfile
check "-t: a control_socket that is a file: exit 1" test "$RC" -eq 1
check "... at its FILE:LINE, saying iopd would have to delete it" \
	grep -q "^$V:$(line_of control_socket): daemon.control_socket $T/other/ledger.db exists and is not a socket (it is a file): iopd would have to delete it" "$T/sockfile.t"
RC=0
timeout 20 env TZ=UTC "$IOPD" -f -c "$V" >"$T/sockfile.run" 2>&1 || RC=$?
add_log "$T/sockfile.run"
check "the daemon refuses to start on it: exit 1" test "$RC" -eq 1
check "the file is intact" test "$(md5sum <"$T/other/ledger.db")" = "$sum"

# --- a NUL byte ---------------------------------------------------------------------------------
"$PY" - "$T/good.conf" "$T/nul.conf" <<'PYEOF'
import os, sys
text = open(sys.argv[1], "rb").read().replace(b"catch_up", b"\0catch_up", 1)
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, text + b'closures = [ "2026-12-25" ];\n')
os.close(fd)
PYEOF
V=$T/nul.conf
check_t nul
check "-t: a NUL byte: exit 1" test "$RC" -eq 1
check "... at its FILE:LINE" grep -q "^$V:$(grep -an catch_up "$V" | cut -d: -f1): a NUL byte (\\\\0) at column 3" "$T/nul.t"

# --- @include of a FIFO, of /dev/zero ------------------------------------------------------------
mkfifo "$T/pipe.conf"
variant fifo '$a @include "pipe.conf"'
t0=$SECONDS
check_t fifo
check "-t: @include of a FIFO: exit 1, at once" test "$RC" -eq 1 -a $((SECONDS - t0)) -lt 10
check "... at the include's FILE:LINE: not a regular file" \
	grep -q "^$V:$(line_of '@include'): cannot read @include \"pipe.conf\" ($T/pipe.conf): it is a FIFO: name a regular file" "$T/fifo.t"
variant zero '$a @include "/dev/zero"'
check_t zero
check "-t: @include of /dev/zero: exit 1 (not out of memory)" test "$RC" -eq 1
check "... a character device" grep -q "it is a character device: name a regular file" "$T/zero.t"

cp -p "$T/good.conf" "$CONF"
iopd_start run "$CONF" || { fail "iopd did not start"; finish; }
add_log "$IOPD_LOG"
cp -p "$T/fifo.conf" "$CONF"
RC=0
timeout 20 "$IOPCTL" -s "$SOCK" reload >"$T/reload_fifo.out" 2>&1 || RC=$?
check "reload with a FIFO included: fails at once (exit 1)" test "$RC" -eq 1
check "... saying why" grep -q "it is a FIFO: name a regular file" "$T/reload_fifo.out"
cp -p "$T/zero.conf" "$CONF"
RC=0
timeout 20 "$IOPCTL" -s "$SOCK" reload >"$T/reload_zero.out" 2>&1 || RC=$?
check "reload with /dev/zero included: fails at once (exit 1)" test "$RC" -eq 1
check "iopd still answers" ctl status
t0=$SECONDS
iopd_stop 10
check "SIGTERM ends it, cleanly (exit 0, $((SECONDS - t0)) s)" test "$STOP_RC" = 0

# --- a patient id that would forge a log line -----------------------------------------------------
variant forged 's/id = "p-00002";/id = "p-00002\\n<0>iopd: all patients deleted";/'
check_t forged
check "-t: a newline in a patient id: exit 1" test "$RC" -eq 1
check "... naming the rule, the value escaped" \
	grep -qF "patient id \"p-00002\\n<0>iopd: all patients deleted\": use letters A-Z a-z, digits, '.', '_' and '-' only" "$T/forged.t"
variant spaced 's/id = "p-00003";/id = "p 3";/'
check_t spaced
check "-t: a space in a patient id: exit 1" test "$RC" -eq 1
RC=0
timeout 20 env TZ=UTC "$IOPD" -f -c "$T/forged.conf" >"$T/forged.run" 2>&1 || RC=$?
add_log "$T/forged.run"
check "the daemon refuses it: exit 1" test "$RC" -eq 1
check "... and its log has no forged line" test -z "$(grep -v '^<[0-7]>' "$T/forged.run" || true)" -a \
	-z "$(grep '^<0>' "$T/forged.run" || true)"
check "... nor a raw control character" test -z "$(tr -d '\n' <"$T/forged.run" | LC_ALL=C grep -P '[\x00-\x1f\x7f]' || true)"

# --- a state folder others can read; the ledger is 0600 all the same -------------------------------
mkdir -m 755 "$T/open"
variant open "s#state_dir = \".*\";#state_dir = \"$T/open\";#"
check_t open
check "-t: a state_dir others can read: ok, with a warning at its FILE:LINE" \
	test "$RC" -eq 0 -a -n "$(grep "^$V:$(line_of state_dir): warning: daemon.state_dir $T/open can be read by other users (mode 0755): chmod 700" "$T/open.t")"
cp -p "$V" "$CONF"
iopd_start open "$CONF" || { fail "iopd did not start"; finish; }
add_log "$IOPD_LOG"
check "the daemon's log has the warning" grep -q "^<4>.*can be read by other users (mode 0755)" "$IOPD_LOG"
check "the ledger is 0600 (umask 077)" test "$(stat -c %a "$T/open/ledger.db")" = 600
check "so are the marker and the -wal" \
	test "$(stat -c %a "$T/open/ledger.id"):$(stat -c %a "$T/open/ledger.db-wal")" = 600:600
iopd_stop

# --- token_file: a symbolic link ------------------------------------------------------------------
printf 'k3y\n' >"$T/hook.key"
chmod 600 "$T/hook.key"
ln -s "$T/hook.key" "$T/link.key"
variant link "s#concurrency = 8;#concurrency = 8; token_file = \"$T/link.key\";#"
check_t link
check "-t: a token_file that is a symbolic link: exit 1" test "$RC" -eq 1
check "... saying so at its FILE:LINE" grep -q "^$V:$(line_of token_file): .*link.key is a symbolic link: name the file itself" "$T/link.t"
variant key "s#concurrency = 8;#concurrency = 8; token_file = \"$T/hook.key\";#"
check_t key
check "-t: the file itself: ok" test "$RC" -eq 0

# --- what -t used to accept ------------------------------------------------------------------------
long=/$(head -c 99999 /dev/zero | tr '\0' a)
variant long "s#state_dir = \".*\";#state_dir = \"$long\";#"
check_t long
check "-t: a state_dir of 100,000 characters: exit 1, at its FILE:LINE" \
	grep -q "^$V:$(line_of state_dir): daemon.state_dir is 100000 bytes long; the ledger inside it needs a path under 512 bytes" "$T/long.t"
printf 'daemon = { state_dir = "%s"; control_socket = "%s"; };\n' "$T/state" "$SOCK" >"$T/empty.conf"
V=$T/empty.conf
check_t empty
check "-t: no channels, no programs: exit 1" test "$RC" -eq 1
check "... says what is missing and what to add" \
	grep -q "^$V:1: no channels: iopd would have nowhere to send; add channels = (" "$T/empty.t"
check "... both" grep -q "^$V:1: no programs: no patient can be enrolled; add programs = (" "$T/empty.t"
V=$T/absent.conf
check_t absent
check "-t: a file that is not there: FILE:LINE too" \
	grep -qx "$V:1: cannot read the configuration: No such file or directory" "$T/absent.t"

# --- not dumpable ------------------------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	mkdir -p "$T/nobody"
	gen_conf "$T/nobody/iopd.conf" --state "$T/nobody/state" --socket "$T/nobody/ctl.sock" \
		--url "$WEBHOOK_URL" --patients 1 --med 09:00
	chown -R 65534:65534 "$T/nobody"
	chmod 755 "$T"
	# without the runner's libfaketime, whose shared memory nobody may not open
	spawn nobody without_faketime setpriv --reuid=65534 --regid=65534 --clear-groups env TZ=UTC \
		IOPD_PLUGIN_DIR="$IOPD_PLUGIN_DIR" "$IOPD" -f -c "$T/nobody/iopd.conf"
	NB=$SPAWN_PID
	if waitfor "[ -S '$T/nobody/ctl.sock' ] || ! alive $NB" 20 && alive "$NB"; then
		NB=$(pgrep -u 65534 -f -- "-c $T/nobody/iopd.conf" | head -n 1)   # iopd, not the wrappers
		check "iopd is not dumpable: its /proc files belong to root, not to its user" \
			test "$(stat -c %u "/proc/$NB/status")" -eq 0
		check "... (it does run as nobody)" test "$(awk '/^Uid:/ { print $2 }' "/proc/$NB/status")" -eq 65534
	else
		fail "iopd as nobody did not start"
	fi
	stop_pid "$NB"
	chmod 700 "$T"
else
	skip "not dumpable: needs root and setpriv"
fi
iopd_finish
