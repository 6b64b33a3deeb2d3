#!/bin/bash
# control_stall.sh - no control command stalls the loop, under a W3-like
# load.  Faked clock (absolute, normal speed) from 17:59:40; 2,400 patients
# get a reminder due each day at 18:00:00 + (i mod 60) s, 40 a second for a
# minute, on a webhook channel (concurrency 32).  While that minute's
# reminders go out, clients keep asking, back to back:
#   * `agenda --json` over 92 days (the longest window one request may ask
#     for: about 220,000 rows, over 48 MB), one after the other;
#   * `agenda` over three years (refused at once, saying the bound);
#   * status (text and --json), history, metrics.
# Then:
#   * every reminder was delivered, none late: the X-Iopd-Timestamp the
#     webhook carries is its due second (at most 1 s after);
#   * no iteration of the loop used more than 20 ms of CPU (50 ms under
#     ASan+UBSan, with a small quarantine: see iopd_start) beyond what the
#     machine held every process, and the loop was never held more than
#     250 ms beyond that either (iopd's own measures: iopctl metrics
#     iopd_loop_busy_cpu_seconds_max, the CPU time of its longest
#     iteration, and iopd_loop_stall_seconds_max, how late a 100 ms timer
#     ran: that one also counts waiting for the disk's fsync and for a CPU
#     on a busy machine, so a probe beside the daemon measures those
#     alone, a 100 ms sleep's lateness plus the slowest fdatasync of a
#     block on the ledger's disk; before, one agenda held the loop for
#     seconds);
#   * the watchdog ping (WATCHDOG_USEC=1 s: every 0.5 s) never paused more
#     than 1.5 s;
#   * every 92-day answer arrived whole: byte for byte what `iopd agenda`
#     prints for the window (nothing in it is settled yet), each over 48 MB;
#     so did one read by a slow client over a minute, twice the time a
#     client may stay idle;
#   * the three-year window was refused (exit 1) with the bound in the error.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/control_stall.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "control_stall.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"

N=2400
SPREAD=60
start_webhook
start_notify
SOCK=$T/ctl.sock
CONF=$T/iopd.conf
# S programs, each with a daily session at 18:10 and one rule due
# (600 - k) s before it: patient i (program i mod S) is due at 18:00:00 + k.
"$PY" - "$CONF" "$T/state" "$SOCK" "$WEBHOOK_URL" "$N" "$SPREAD" <<'PYEOF'
import os, sys
out, state, sock, url, n, spread = sys.argv[1:5] + [int(x) for x in sys.argv[5:7]]
progs = []
for k in range(spread):
    progs.append('  { id = "w%02d"; kind = "IOP"; timezone = "UTC"; weeks = 20;\n'
                 '    sessions = ( { id = "g"; type = "group"; days = ["mon","tue","wed","thu","fri","sat","sun"];'
                 ' start = "18:10"; duration = "1h"; location = "Room 1"; } );\n'
                 '    reminders = ( { before = "%ds"; channels = ["hook"]; } ); }' % (k, 600 - k))
pats = ['  { id = "p-%05d"; first_name = "P"; program = "w%02d"; start = "2026-12-01"; }'
        % (i, i % spread) for i in range(n)]
text = """daemon = {
  timezone = "UTC"; state_dir = "%s"; control_socket = "%s";
  quiet_hours = { from = "00:00"; to = "00:00"; };
};
channels = ( { name = "hook"; module = "webhook"; url = "%s/hook"; concurrency = 32; timeout = "10s"; } );
templates = { session = { sms = "Group at {time}."; }; };
programs = (
%s
);
patients = (
%s
);
""" % (state, sock, url, ",\n".join(progs), ",\n".join(pats))
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, text.encode())
os.close(fd)
PYEOF
FROM=2026-12-02T00:00:00Z
TO=2027-03-04T00:00:00Z                 # 92 days
env TZ=UTC "$IOPD" agenda -c "$CONF" --from "$FROM" --to "$TO" >"$T/ref.jsonl"
env TZ=UTC "$IOPD" agenda -c "$CONF" --from 2026-12-01T18:00:00Z --to 2026-12-01T18:01:00Z >"$T/minute.jsonl"
check "the minute holds $N reminders" test "$(wc -l <"$T/minute.jsonl")" -eq "$N"
ref_bytes=$(stat -c %s "$T/ref.jsonl")
echo "# the 92-day agenda: $(wc -l <"$T/ref.jsonl") rows, $ref_bytes bytes"
check "the 92-day answer is over 48 MB" test "$ref_bytes" -gt $((48 * 1000 * 1000))

# libfaketimeMT blocks every signal around each clock read it fakes (two
# sigprocmask calls and a lock): libcurl reads the monotonic clock some
# 30 times a transfer, so that was most of the CPU of the loop's busiest
# iteration (perf: 1,300 of those calls in the due second's).  The
# schedule reads the wall clock, which stays faked.
IOPD_ENV=("NOTIFY_SOCKET=$NOTIFY_SOCKET" "WATCHDOG_USEC=1000000" "FAKETIME_DONT_FAKE_MONOTONIC=1")
# Under ASan, freed memory waits in a quarantine (256 MB), and whichever
# thread frees next when it is full recycles a tenth of it: the loop's
# thread, recycling 25 MB the agenda threads freed, used 24-109 ms of CPU
# in one iteration (perf: QuarantineCallback::Recycle, munmap and the TLB
# shootdowns it sends), none of it iopd's own work.  A 16 MB quarantine
# recycles 2 MB at a time; the daemon's alone, the clients keep the
# default.  A plain build ignores ASAN_OPTIONS.
t_spawn=$(_rig_now_us)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16 \
	iopd_start run "$CONF" '@2026-12-01 17:59:40' || { fail "iopd did not start"; finish; }
add_log "$IOPD_LOG"
# the daemon's clock: 17:59:40 at the spawn, then as the real one
fake_secs() { echo $(( ($(_rig_now_us) - t_spawn) / 1000000 )); }    # since 17:59:40

# The machine's own hiccups, the same way the daemon measures its stall
# (a 100 ms timer's lateness) plus the disk's: written as it goes, read at
# the end whatever state the probe is in.
"$PY" - "$T/state/probe.dat" "$T/probe.out" <<'PYEOF' &
import os, sys, time
dat, out = sys.argv[1:3]
fd = os.open(dat, os.O_WRONLY | os.O_CREAT, 0o600)
late_max = sync_max = 0.0
while True:
    t0 = time.monotonic()
    time.sleep(0.1)
    late_max = max(late_max, time.monotonic() - t0 - 0.1)
    t0 = time.monotonic()
    os.pwrite(fd, b"x" * 4096, 0)
    os.fdatasync(fd)
    sync_max = max(sync_max, time.monotonic() - t0)
    with open(out + ".new", "w") as f:
        f.write("%.6f %.6f\n" % (late_max, sync_max))
    os.rename(out + ".new", out)
PYEOF
track $!

# --- the load: the minute from 18:00:00, and clients all along -------------------------
n=0
until [ "$(fake_secs)" -ge 16 ]; do sleep 0.1; done          # 17:59:56
: >"$T/big.rc"
# each answer compared as it arrives (cmp reads it from the pipe: 50 MB
# files written meanwhile would only slow the ledger's fsyncs down)
long_agendas() {
	local i=$1 k=0 st
	while [ "$(fake_secs)" -lt 85 ]; do
		k=$((k + 1))
		"$IOPCTL" -s "$SOCK" --json agenda --from "$FROM" --to "$TO" 2>"$T/big.$i.err" |
			cmp -s - "$T/ref.jsonl" && st=(0 0) || st=("${PIPESTATUS[@]}")
		echo "$i.$k ${st[0]} $([ "${st[1]}" = 0 ] && echo whole || echo differs)" >>"$T/big.rc"
	done
}
long_agendas 1 &
A1=$!
track "$A1"
# and a slow client: the same answer read at about 0.8 MB/s, over a minute,
# longer than the 30 s a client may be idle (the job waits on the full pipe,
# the idle timer restarts with every write that gets through)
"$PY" - "$SOCK" "$FROM" "$TO" "$T/ref.jsonl" >"$T/slow.out" 2>&1 <<'PYEOF' &
import hashlib, socket, sys, time
sock, frm, to, ref = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
s.sendall(("IOPD/1 json agenda from=%s to=%s\n" % (frm, to)).encode())
h, n, t0, data = hashlib.sha256(), 0, time.time(), b""
while True:
    b = s.recv(262144)
    if not b:
        break
    data += b
    if len(data) > 1 << 20:
        h.update(data); n += len(data); data = b""
    time.sleep(0.3 * len(b) / 262144)
h.update(data); n += len(data)
want = hashlib.sha256(b"OK\n" + open(ref, "rb").read()).hexdigest()
print("%d bytes in %.0f s: %s" % (n, time.time() - t0, "whole" if h.hexdigest() == want else "cut-short"))
PYEOF
SLOW=$!
track "$SLOW"
while [ "$(fake_secs)" -lt 85 ]; do
	n=$((n + 1))
	rc=0
	ctl agenda --from 2026-12-04 --to 2029-12-05 >/dev/null 2>"$T/years.err" || rc=$?
	echo "$rc" >>"$T/years.rc"
	ctl status >/dev/null || echo "status $n failed" >>"$T/small.fail"
	ctl --json status >"$T/status.json" || echo "status --json $n failed" >>"$T/small.fail"
	ctl history "p-$(printf %05d $((n % N)))" >/dev/null || echo "history $n failed" >>"$T/small.fail"
	ctl metrics >"$T/metrics.txt" || echo "metrics $n failed" >>"$T/small.fail"
	sleep 0.2
done
wait "$A1" 2>/dev/null || true
waitfor "! alive $SLOW" 60 || true
echo "# $n rounds of small commands; $(wc -l <"$T/big.rc") long agendas"

# --- what came of it ----------------------------------------------------------------------
check "every reminder of the minute delivered" \
	waitfor "[ \$(sink_ids '$WEBHOOK_LOG' | sort -u | wc -l) -eq $N ]" 20
check "none late: X-Iopd-Timestamp at most 1 s after the due" "$PY" - "$WEBHOOK_LOG" "$T/minute.jsonl" <<'PYEOF'
import calendar, json, sys, time
due = {}
for l in open(sys.argv[2]):
    r = json.loads(l)
    due[r["id"]] = calendar.timegm(time.strptime(r["due"], "%Y-%m-%dT%H:%M:%SZ"))
late = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    k = r.get("idempotency_key")
    if k in due:
        late.append(int(r["headers"]["X-Iopd-Timestamp"]) - due[k])
print("# lateness (s): min %d max %d, %d of %d at the due second" %
      (min(late), max(late), late.count(0), len(late)))
assert min(late) >= 0 and max(late) <= 1, (min(late), max(late))
PYEOF
stall=$(sed -n 's/^iopd_loop_stall_seconds_max //p' "$T/metrics.txt")
busy=$(sed -n 's/^iopd_loop_busy_cpu_seconds_max //p' "$T/metrics.txt")
read -r probe_late probe_sync <"$T/probe.out"
allowed=$("$PY" -c "print('%.6f' % (0.250 + $probe_late + $probe_sync))")
# ASan and UBSan make the same work take two to three times the CPU: their
# build is held to 50 ms (an agenda on the loop once took seconds).  A
# thread's CPU time here also counts what the machine took from it while
# it ran: a virtual machine that reports no steal time (/proc/stat) and
# a kernel without IRQ time accounting charge both to the running thread.
# The probe's sleep lateness measures that same hiccup, so it is allowed
# on top, as for the stall.
cpu_base=0.020
grep -q __asan_init "$IOPD" && cpu_base=0.050
cpu_max=$("$PY" -c "print('%.6f' % ($cpu_base + $probe_late))")
echo "# the loop: held $stall s at most, $busy s of CPU in its longest iteration (load: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "# the machine (the probe): a 100 ms sleep $probe_late s late at most, the slowest fdatasync $probe_sync s"
check "no iteration of the loop used more than $cpu_max s of CPU (metrics)" \
	"$PY" -c "import sys; sys.exit(0 if float('$busy') < $cpu_max else 1)"
check "the loop was never held more than 250 ms beyond the machine's own hiccups ($allowed s)" \
	"$PY" -c "import sys; sys.exit(0 if float('$stall') < $allowed else 1)"
check "status --json says the same" "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["loop_busy_cpu_max_seconds"] < float(sys.argv[3]) and s["loop_stall_max_seconds"] < float(sys.argv[2]), s' "$T/status.json" "$allowed" "$cpu_max"
check "the watchdog ping never paused more than 1.5 s" "$PY" - "$NOTIFY_LOG" <<'PYEOF'
import json, sys
ts = [r["t"] for r in map(json.loads, open(sys.argv[1])) if "WATCHDOG=1" in r["fields"]]
gaps = [b - a for a, b in zip(ts, ts[1:])]
print("# %d pings, longest gap %.3f s" % (len(ts), max(gaps)))
assert len(ts) > 100 and max(gaps) <= 1.5, max(gaps)
PYEOF
check "every small command answered" test ! -s "$T/small.fail"
check "the three-year window: refused (exit 1) every time" test -z "$(grep -vx 1 "$T/years.rc")"
check "... saying the bound" grep -q "the window is 1097.0 days long; one request may ask for at most 92 days" "$T/years.err"
check "every 92-day agenda: exit 0" test -z "$(awk '$2 != 0' "$T/big.rc")"
sed 's/^/# the slow client: /' "$T/slow.out"
check "the slow client got the whole answer over more than 30 s" "$PY" -c '
import sys
w = open(sys.argv[1]).read().split()
assert w[-1] == "whole" and float(w[3]) > 30, w' "$T/slow.out"
check "every 92-day answer arrived whole ($ref_bytes bytes, as iopd agenda prints it)" \
	test -z "$(awk '$3 != "whole"' "$T/big.rc")"
awk '$3 != "whole"' "$T/big.rc" | sed 's/^/# /' 
iopd_stop
check "iopd stops cleanly" test "$STOP_RC" = 0
iopd_finish
