#!/bin/bash
# ops_detach.sh - `iopd -c FILE` without -f, outside systemd, detaches once
# it is ready: the command returns 0 while the daemon runs on in its own
# session; a start that fails returns 1 with the reason on the terminal.
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "ops_detach.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"

start_webhook
SOCK=$T/ctl.sock
gen_conf "$T/iopd.conf" --state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" --patients 1
unset NOTIFY_SOCKET INVOCATION_ID
mapfile -t CLK < <(_rig_clock_env)        # on the test's clock (tests/lib.sh)
rc=0
timeout 20 env -u NOTIFY_SOCKET -u INVOCATION_ID "${CLK[@]}" "$IOPD" -c "$T/iopd.conf" >"$T/start.out" 2>&1 || rc=$?
check "the starting command returns 0" test "$rc" -eq 0
check "the control socket answers" waitfor 'ctl status >/dev/null 2>&1' 5
pid=$(ctl --json status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
track "$pid"
check "the daemon runs in a session of its own" \
	test "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid"
check "its standard streams are detached" test "$(readlink "/proc/$pid/fd/2")" = /dev/null
kill -TERM "$pid"
check "it stops on SIGTERM" waitfor "! alive $pid" 10

printf 'daemon = { nonsense = 1; };\n' >"$T/bad.conf"
rc=0
timeout 20 env -u NOTIFY_SOCKET -u INVOCATION_ID "$IOPD" -c "$T/bad.conf" >"$T/bad.out" 2>&1 || rc=$?
check "a failing start returns 1" test "$rc" -eq 1
check "and says why, with FILE:LINE" grep -q "bad.conf:1: unknown key \"nonsense\"" "$T/bad.out"
iopd_finish
