#!/bin/bash
# control_fds.sh - iopd out of file descriptors does not spin.  A running
# iopd gets a low RLIMIT_NOFILE (prlimit on its pid: a few descriptors more
# than it holds); a client then opens 60 control connections and keeps them,
# so accept() fails with EMFILE while clients still wait in the backlog.
#   * iopd uses little CPU meanwhile (it used to call accept() in a busy
#     loop: 90-100 % of a core): under 20 % of the 3 s measured;
#   * it says so once in the log ("cannot accept a connection");
#   * once the connections close, `iopctl status` answers again, and the
#     log says that accepting works again;
#   * clients that ask for long agendas and read nothing hold their jobs
#     (the threads wait on full pipes) but never `status`, which answers at
#     once; a further agenda waits its turn and is answered once they go.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/control_fds.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "control_fds.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
need prlimit

start_webhook
SOCK=$T/ctl.sock
gen_conf "$T/iopd.conf" --state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" --patients 50 \
	--med 06:00,12:00,18:00,22:00 --date 2026-12-01 --until 2026-12-28
iopd_start run "$T/iopd.conf" || { fail "iopd did not start"; finish; }
add_log "$IOPD_LOG"

# CPU seconds (user + system) iopd used so far
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' \
	"/proc/$IOPD_PID/stat"; }

nfd=$(find "/proc/$IOPD_PID/fd" -mindepth 1 | wc -l)
limit=$((nfd + 6))
prlimit --pid "$IOPD_PID" --nofile="$limit:"     # the soft limit: it can go back up
echo "# iopd holds $nfd descriptors; limit now $limit"

# 60 connections, held until $T/release exists (connects beyond the backlog
# just time out)
"$PY" - "$SOCK" "$T/held" "$T/release" >"$T/client.out" 2>&1 <<'PYEOF' &
import os, socket, sys, time
path, held, release = sys.argv[1:4]
conns = []
for _ in range(60):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.2)
    try:
        s.connect(path)
        conns.append(s)
    except OSError:
        s.close()
open(held, "w").write("%d\n" % len(conns))
deadline = time.time() + 60
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.05)
for s in conns:
    s.close()
PYEOF
CLIENT=$!
track "$CLIENT"
check "the client holds its connections" waitfor "[ -s '$T/held' ]" 30
check "iopd says it cannot accept (once)" waitfor "grep -q 'cannot accept a connection' '$IOPD_LOG'" 10
c0=$(cpu)
sleep 3
c1=$(cpu)
echo "# iopd used $c0 -> $c1 CPU seconds over 3 s while out of descriptors"
check "no busy loop: under 0.6 CPU seconds in 3 s" \
	"$PY" -c "import sys; sys.exit(0 if float('$c1') - float('$c0') < 0.6 else 1)"
check "said once, not at every attempt" test "$(grep -c 'cannot accept a connection' "$IOPD_LOG")" -eq 1
check "iopd is still running" alive "$IOPD_PID"

touch "$T/release"
wait "$CLIENT" 2>/dev/null || true
check "the connections are gone: iopctl status answers again" waitfor "ctl status" 40
check "the log says accepting works again" grep -q 'accepting connections again' "$IOPD_LOG"
prlimit --pid "$IOPD_PID" --nofile=1024:

# --- slow clients hold their agendas, not the others ------------------------------------
"$PY" - "$SOCK" "$T/stuck" "$T/unstick" >"$T/stuck.out" 2>&1 <<'PYEOF' &
import os, socket, sys, time
path, ready, release = sys.argv[1:4]
conns = []
for _ in range(6):                       # more than the threads for long answers
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"IOPD/1 json agenda from=2026-12-01 to=2027-01-01\n")
    conns.append(s)
open(ready, "w").write("ok\n")
deadline = time.time() + 60
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.05)
for s in conns:
    s.close()
PYEOF
STUCK=$!
track "$STUCK"
check "six clients ask for long agendas and read nothing" waitfor "[ -s '$T/stuck' ]" 10
sleep 1
t0=$(_rig_now_us)
check "status still answers" ctl status
check "... at once (under 2 s)" test $(( ($(_rig_now_us) - t0) / 1000 )) -lt 2000
"$IOPCTL" -s "$SOCK" --json agenda --from 2026-12-01 --to 2026-12-02 >"$T/queued.jsonl" 2>&1 &
QUEUED=$!
track "$QUEUED"
sleep 1
check "a seventh agenda waits its turn" alive "$QUEUED"
touch "$T/unstick"
check "... and is answered once the slow clients go" waitfor "! alive $QUEUED" 20
check "... in full" test "$(wc -l <"$T/queued.jsonl")" -eq 200
iopd_stop
check "iopd stops cleanly" test "$STOP_RC" = 0
iopd_finish
