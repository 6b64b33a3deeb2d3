#!/bin/bash
# ops_notify.sh - sd_notify(3) without systemd: the real iopd against a fake
# notify socket (tests/rig/notify_listen.py records each datagram).
#
#   READY=1 once started, then STATUS= (scheduled, next due, sent today, ...)
#   WATCHDOG=1 at half of WATCHDOG_USEC (400 ms -> every 200 ms), from the
#     loop: a stopped process (SIGSTOP) sends none until SIGCONT
#   RELOADING=1 with MONOTONIC_USEC, then READY=1, around `iopctl reload`,
#     SIGHUP and a refused reload (whose error then shows in STATUS=)
#   STOPPING=1 on SIGTERM, then exit 0
#   without NOTIFY_SOCKET: nothing is sent and iopd runs the same
#
# Run by `make check` from the top build directory.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/ops_lib.sh" ] && { . "$d/ops_lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "ops_notify.sh: ops_lib.sh not found" >&2; exit 99; }
ops_need_build

start_notify
ops_due_in 3
ops_conf "$T/n.conf" N '{ name = "term"; module = "console"; }' '"term"'
ops_start N "$T/n.conf" NOTIFY_SOCKET="$NOTIFY_SOCKET" WATCHDOG_USEC=400000
L=$NOTIFY_LOG

# n_with FIELD: datagrams holding FIELD (exact, or a prefix ending in '=')
n_with() { jsonl_count "$L" "any(f == '$1' or ('$1'.endswith('=') and f.startswith('$1')) for f in r['fields'])"; }
# first_index FIELD [AFTER]: index of the first datagram with FIELD after AFTER
first_index() {
	"$PY" - "$L" "$1" "${2:--1}" <<'EOF'
import json, sys
f, field, after = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [json.loads(l) for l in open(f) if l.strip()]
for i, r in enumerate(rows):
    if i > after and any(x == field or (field.endswith("=") and x.startswith(field)) for x in r["fields"]):
        print(i); break
else:
    print(-1)
EOF
}

waitfor "[ \$(n_with READY=1) -ge 1 ]" 5 || true
check "READY=1 arrives" test "$(n_with READY=1)" -ge 1
check "READY=1 is the first datagram" test "$(first_index READY=1)" -eq 0
check "sent by iopd itself (NotifyAccess=main)" \
	test "$(jsonl_field "$L" 'r["pid"]' 'True' | sort -u)" = "$N_PID"
waitfor "[ \$(n_with STATUS=) -ge 1 ]" 5 || true
status1=$(jsonl_field "$L" '[f for f in r["fields"] if f.startswith("STATUS=")][0]' \
	'any(f.startswith("STATUS=") for f in r["fields"])' | head -n 1)
echo "# first $status1"
check "STATUS= follows READY=1" test "$(first_index STATUS=)" -ge "$(first_index READY=1)"
check "STATUS= names what is scheduled and when" \
	grep -Eq 'STATUS=[0-9]+ series scheduled, next due [0-9T:Z-]+; today 0 sent, 0 failed; ' <<<"$status1"

# --- the watchdog cadence ------------------------------------------------------
# (the count is judged against the time that really passed: a loaded CI
# machine may stretch the sleep)
n0=$(n_with WATCHDOG=1)
w0=$EPOCHREALTIME
sleep 2
n1=$(n_with WATCHDOG=1)
w1=$EPOCHREALTIME
pings=$((n1 - n0))
check "WATCHDOG=1 about every 200 ms ($pings pings in $("$PY" -c "print('%.2f' % ($w1 - $w0))") s)" \
	"$PY" -c "import sys; e = ($w1 - $w0) / 0.2; sys.exit(not (e - 3 <= $pings <= e + 3))"
gaps=$("$PY" - "$L" <<'EOF'
import json, sys
t = [json.loads(l)["t"] for l in open(sys.argv[1]) if '"WATCHDOG=1"' in l]
g = sorted(b - a for a, b in zip(t, t[1:]))
print("%.3f %.3f" % (g[len(g) // 2], g[-1]) if g else "0 9")
EOF
)
read -r median worst <<<"$gaps"
check "median gap between pings is 0.2 s (median $median, worst $worst)" \
	"$PY" -c "import sys; sys.exit(not (0.15 <= $median <= 0.25 and $worst < 0.5))"

# --- sent today, as the ledger counts it -------------------------------------
waitfor "grep -q 'today 1 sent' '$L'" 12 || true
check "STATUS= counts today's sent reminder (within the refresh)" grep -q 'today 1 sent, 0 failed' "$L"

# --- a stopped loop stops pinging ---------------------------------------------
kill -STOP "$N_PID"
sleep 0.3                                  # a datagram already in the socket may land
s0=$(n_with WATCHDOG=1)
sleep 1.5
s1=$(n_with WATCHDOG=1)
kill -CONT "$N_PID"
check "no WATCHDOG=1 while stopped ($((s1 - s0)) in 1.5 s)" test "$s1" -eq "$s0"
waitfor "[ \$(n_with WATCHDOG=1) -ge $((s1 + 3)) ]" 3 || true
check "pings resume after SIGCONT" test "$(n_with WATCHDOG=1)" -ge $((s1 + 3))

# --- reloads -------------------------------------------------------------------
reload_seen() { # LABEL: RELOADING=1 + MONOTONIC_USEC, then READY=1, after datagram $before
	local r k
	r=$(first_index RELOADING=1 "$before")
	check "$1: RELOADING=1" test "$r" -ge 0
	# (the machine's CLOCK_MONOTONIC, not a test runner's libfaketime's)
	k=$(without_faketime "$PY" - "$L" "$r" <<'EOF'
import json, sys, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
f = rows[int(sys.argv[2])]["fields"]
m = [int(x.split("=", 1)[1]) for x in f if x.startswith("MONOTONIC_USEC=")]
# CLOCK_MONOTONIC, as python's time.monotonic(): a few seconds ago at most
print(1 if m and 0 <= time.monotonic() * 1e6 - m[0] < 30e6 else 0)
EOF
	)
	check "$1: MONOTONIC_USEC in the same datagram, on CLOCK_MONOTONIC" test "$k" = 1
	check "$1: READY=1 after it" test "$(first_index READY=1 "$r")" -gt "$r"
}
before=$(($(wc -l <"$L") - 1))
rc=0
ops_ctl N reload >"$T/reload.out" 2>&1 || rc=$?
check "iopctl reload answers OK" test "$rc" -eq 0
waitfor "[ \$(first_index READY=1 $before) -ge 0 ]" 5 || true
reload_seen "iopctl reload"

before=$(($(wc -l <"$L") - 1))
kill -HUP "$N_PID"
waitfor "[ \$(first_index READY=1 \$(first_index RELOADING=1 $before)) -ge 0 ]" 5 || true
reload_seen "SIGHUP"

before=$(($(wc -l <"$L") - 1))
cp "$T/n.conf" "$T/n.conf.good"
echo 'bogus_key = 1;' >>"$T/n.conf"
rc=0
ops_ctl N reload >"$T/reload2.out" 2>&1 || rc=$?
check "a refused reload: iopctl exits 1" test "$rc" -eq 1
waitfor "[ \$(first_index READY=1 \$(first_index RELOADING=1 $before)) -ge 0 ]" 5 || true
reload_seen "refused reload"
waitfor "grep -q 'last error: reload failed' '$L'" 3 || true
check "STATUS= shows the last error" grep -q 'STATUS=.*last error: reload failed' "$L"
check "STATUS= stays one line (the error's line breaks are spaces)" \
	test "$(jsonl_count "$L" 'any(f.startswith("STATUS=") for f in r["fields"]) and len(r["fields"]) > 1 and not any(f.startswith(("READY", "STOPPING", "RELOADING", "MONOTONIC", "WATCHDOG")) for f in r["fields"])')" -eq 0
cp "$T/n.conf.good" "$T/n.conf"
check "iopd still answers" sh -c '"$0" -s "$1" status >/dev/null' "$IOPCTL" "$N_SOCK"

# --- SIGTERM -------------------------------------------------------------------
before=$(($(wc -l <"$L") - 1))
stop_pid "$N_PID" 15
check "exit 0 after SIGTERM" test "${STOP_RC:-x}" = 0
check "STOPPING=1 sent" test "$(first_index STOPPING=1 "$before")" -ge 0
check "no READY=1 after STOPPING=1" \
	test "$(first_index READY=1 "$(first_index STOPPING=1 "$before")")" -eq -1

# --- without NOTIFY_SOCKET ------------------------------------------------------
total=$(wc -l <"$L")
ops_due_in 60
ops_conf "$T/q.conf" Q '{ name = "term"; module = "console"; }' '"term"'
ops_start Q "$T/q.conf" WATCHDOG_USEC=400000
sleep 0.6
check "without NOTIFY_SOCKET nothing is sent" test "$(wc -l <"$L")" -eq "$total"
check "and no watchdog is set up" sh -c "! grep -q 'watchdog' '$Q_LOG'"
stop_pid "$Q_PID" 15
check "exit 0" test "${STOP_RC:-x}" = 0
check "no contact details or texts in the logs" sh -c "! grep -Eq '2125554|example\\.org|$OPS_NAME_MARK' '$N_LOG' '$Q_LOG' '$L'"
finish
