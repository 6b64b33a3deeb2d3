#!/bin/bash
# faults_control.sh - what a local client may send to the control socket
# that is not a request (docs/control-protocol.md), against the real iopd
# (fake clock ten times faster than real, so its 30 s idle limit is 3 s):
#   * a line of more than 8 KiB, another protocol, binary bytes and NULs,
#     more than eight arguments, a bad percent escape: each answered ERR
#     with what is wrong (in JSON when JSON was asked for), never OK;
#   * twenty clients that connect and say nothing, or half a line, do not
#     keep iopd from answering another: `iopctl status` works meanwhile,
#     and each silent client is dropped once it has idled 30 s (fake);
#   * iopd is well afterwards and stops cleanly.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "faults_control.sh: daemon_lib.sh not found" >&2; exit 99; }

{
	iopd_daemon_block k
	cat <<'EOF'
channels = ( { name = "term"; module = "console"; } );
templates = { session = { sms = "s"; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = ( { id = "prog"; name = "Program"; kind = "IOP"; timezone = "UTC"; weeks = 1;
  sessions = ( { id = "grp"; type = "group"; days = ["sun"]; start = "09:00"; duration = "1h"; } );
  reminders = ( { before = "1h"; channels = ["term"]; } ); } );
patients = ( { id = "p-1"; first_name = "P"; program = "prog"; start = "2026-12-01"; } );
EOF
} >"$T/k.conf"
start_iopd K "$T/k.conf" '2026-12-01 12:00:00' x10
add_log "$K_LOG"

# ask NAME: sends $T/NAME.req as is on one connection, the answer in $T/NAME.ans
ask() {
	"$PY" - "$K_SOCK" "$T/$1.req" "$T/$1.ans" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(open(sys.argv[2], "rb").read())
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
open(sys.argv[3], "wb").write(out)
EOF
}
refused() { # NAME REQUEST-BYTES (printf format) PATTERN: ERR, and the answer matches
	printf "$2" >"$T/$1.req"
	ask "$1" || true
	head -c 300 "$T/$1.ans" | tr '\n' '|' | sed 's/^/# /'
	echo
	[ "$(head -n 1 "$T/$1.ans")" = ERR ] && grep -q -- "$3" "$T/$1.ans"
}

"$PY" -c 'import sys; sys.stdout.write("IOPD/1 text status " + "x" * 9000)' >"$T/long.req"
ask long || true
check "a line of more than 8 KiB: ERR, request too long" \
	grep -qz '^ERR.iopd: request too long' "$T/long.ans"
check "another protocol: ERR, names IOPD/1" refused http 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' 'protocol IOPD/1'
check "binary bytes and NULs: ERR" refused binary '\001\377\000IOPD/1 text status\000\n' 'protocol IOPD/1'
check "nine arguments: ERR, too many" refused many 'IOPD/1 text pause 1 2 3 4 5 6 7 8 9\n' 'too many arguments'
check "a bad escape: ERR, says which" refused escape 'IOPD/1 text pause p%%zz\n' 'bad percent-encoding in "p%zz"'
check "%00: ERR" refused nul 'IOPD/1 text pause p%%00\n' 'bad percent-encoding'
check "a bad escape asked in JSON: ERR, one JSON object" refused jescape 'IOPD/1 json pause %%4\n' '"ok":false'
check "... that parses" "$PY" -c 'import json, sys; d = json.loads(open(sys.argv[1]).read().split("\n", 1)[1]); assert d["ok"] is False and "percent" in d["error"], d' "$T/jescape.ans"
check "an unknown command: ERR, lists the commands" refused unknown 'IOPD/1 text launch\n' 'unknown command "launch"'

# twenty silent or half-spoken clients, held open
"$PY" - "$K_SOCK" "$T/idle.out" <<'EOF' &
import socket, sys, time
socks = []
for i in range(20):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    if i % 2:
        s.sendall(b"IOPD/1 text sta")     # half a line, never finished
    socks.append(s)
open(sys.argv[2] + ".ready", "w").close()
t0 = time.time()
closed = 0
for s in socks:
    s.settimeout(30)
    try:
        closed += s.recv(100) == b""
    except OSError:
        pass
open(sys.argv[2], "w").write("%d %.1f\n" % (closed, time.time() - t0))
EOF
IDLE_PID=$!
track "$IDLE_PID"
waitfor "[ -f '$T/idle.out.ready' ]" 10
check "twenty idle clients: iopctl status is still answered" ctl K status
check "... and pause/resume work" sh -c "'$IOPCTL' -s '$K_SOCK' pause p-1 && '$IOPCTL' -s '$K_SOCK' resume p-1"
check "every idle client is dropped after 30 s (fake)" waitfor "[ -s '$T/idle.out' ]" 30
echo "# $(cat "$T/idle.out") (dropped, real seconds)"
check "... all twenty" test "$(cut -d' ' -f1 "$T/idle.out")" -eq 20
check "iopd answers afterwards" ctl K status
stop_iopd K
check "SIGTERM: exit 0" test "$IOPD_RC" -eq 0
check "no sanitizer report" sanitizer_clean "$K_LOG"
finish
