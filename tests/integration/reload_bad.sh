#!/bin/bash
# reload_bad.sh - a reload with a broken configuration keeps the old one
# running.  iopd runs three patients whose prompts are due at 18:00 (faked
# clock, started 17:59:40, or 17:59:00 under valgrind) through the webhook
# channel at $URL/hook; before 18:00 the file is replaced by broken ones:
#   * a syntax error (SIGHUP): the log says "reload failed" with FILE:LINE,
#     the systemd STATUS= line and `iopctl status` show the failure;
#   * an unknown channel, with the webhook URL changed (`iopctl reload`):
#     exit 1, the FILE:LINE error on stderr;
#   * a patient file readable by others (`iopctl reload`): exit 1 and why;
# then at 18:00 the three prompts go out through the OLD configuration (to
# /hook, not to the broken file's URL), and a good reload afterwards works.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/reload_bad.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "reload_bad.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"

start_webhook
start_notify
SOCK=$T/ctl.sock
DB=$T/state/ledger.db
CONF=$T/iopd.conf
gen_conf "$CONF" --state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" --patients 3 --med 18:00
cp -p "$CONF" "$T/good.conf"
IOPD_ENV=("NOTIFY_SOCKET=$NOTIFY_SOCKET")
# the bad reloads below must be done before 18:00: 20 s, or 60 s for an iopd
# under valgrind (RIG_WAIT_SCALE > 1), slow to start and to read a file
clock='2026-12-01 17:59:40'
[ "${RIG_WAIT_SCALE:-1}" -le 1 ] || clock='2026-12-01 17:59:00'
iopd_start run "$CONF" "$clock"
add_log "$IOPD_LOG"
check "ready: READY=1 sent" waitfor "grep -q READY=1 '$NOTIFY_LOG'" 5

# replace CONF by CONF with sed expression $1 applied (mode 0600, like the original)
broken() { sed "$1" "$T/good.conf" >"$CONF.new"; chmod 600 "$CONF.new"; mv "$CONF.new" "$CONF"; }

# --- a syntax error, by SIGHUP ------------------------------------------------------
broken 's/^  catch_up = "2h";/  catch_up = = "2h";/'
line=$(grep -n 'catch_up = =' "$CONF" | cut -d: -f1)
kill -HUP "$IOPD_PID"
check "SIGHUP: the log says the reload failed" waitfor "grep -q 'reload failed' '$IOPD_LOG'" 10
check "SIGHUP: ... with FILE:LINE of the syntax error" grep -q "iopd.conf:$line: syntax error" "$IOPD_LOG"
check "SIGHUP: ... and that the old configuration keeps running" \
	grep -q "still running the previous configuration" "$IOPD_LOG"
check "systemd STATUS= tells the failure" \
	waitfor "grep 'STATUS=' '$NOTIFY_LOG' | grep -q 'reload failed'" 5
check "READY=1 again after RELOADING=1" "$PY" - "$NOTIFY_LOG" <<'PYEOF'
import json, sys
f = [x for l in open(sys.argv[1]) for x in json.loads(l)["fields"]]
i = f.index("RELOADING=1")
assert "READY=1" in f[i:], f
PYEOF
rc=0
ctl status >"$T/status.txt" 2>&1 || rc=$?
check "iopctl status: exit 0" test "$rc" -eq 0
check "iopctl status: shows the failed reload" grep -q "reload failed" "$T/status.txt"
check "iopctl status: counts it" grep -q "0 reloads, 1 failed" "$T/status.txt"

# --- an unknown channel, by iopctl reload ----------------------------------------
broken "s|^\(  { id = \"p-00002\".*\)channels = \[\"hook\"\]|\1channels = [\"nope\"]|; s|$WEBHOOK_URL/hook|$WEBHOOK_URL/broken|"
line=$(grep -n '"nope"' "$CONF" | cut -d: -f1)
rc=0
ctl reload >"$T/reload2.out" 2>"$T/reload2.err" || rc=$?
add_log "$T/reload2.err"
check "iopctl reload: exit 1 on an unknown channel" test "$rc" -eq 1
check "iopctl reload: prints FILE:LINE: unknown channel" \
	grep -q "iopd.conf:$line: .*unknown channel \"nope\"" "$T/reload2.err"
check "iopctl reload: says the old configuration keeps running" \
	grep -q "previous configuration keeps running" "$T/reload2.err"
check "the log has the same error" grep -q "iopd.conf:$line: .*unknown channel" "$IOPD_LOG"
ctl --json status >"$T/status.json"
check "iopctl status --json: reload_failures 2, reloads 0, 3 patients, last_error" "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["reload_failures"] == 2 and s["reloads"] == 0 and s["patients"] == 3, s
assert s["last_error"].startswith("reload failed") and "unknown channel" in s["last_error"], s' \
	"$T/status.json"

# --- a patient file others can read ----------------------------------------------
cp -p "$T/good.conf" "$CONF"
chmod 644 "$CONF"
rc=0
ctl reload >"$T/reload3.out" 2>"$T/reload3.err" || rc=$?
add_log "$T/reload3.err"
check "iopctl reload: exit 1 on a world-readable patient file" test "$rc" -eq 1
check "iopctl reload: says why" grep -qi "readable" "$T/reload3.err"
chmod 600 "$CONF"
broken "s|$WEBHOOK_URL/hook|$WEBHOOK_URL/broken|; s/^  catch_up/  nonsense_key = 1;\n  catch_up/"
rc=0
ctl reload >/dev/null 2>"$T/reload4.err" || rc=$?
check "iopctl reload: exit 1 on an unknown key" test "$rc" -eq 1

# --- the old configuration still sends ---------------------------------------------
check "no request before 18:00 (the bad reloads took < 20 s)" test "$(sink_ids "$WEBHOOK_LOG" | wc -l)" -eq 0
check "18:00: the three prompts delivered" waitfor '[ "$(sink_ids "$WEBHOOK_LOG" | sort -u | wc -l)" -eq 3 ]' 30
check "... to the old configuration's URL (/hook)" \
	test "$(jsonl_count "$WEBHOOK_LOG" 'r["path"] == "/hook"')" -eq 3
check "... and recorded sent" \
	waitfor '[ "$(ledger_q "$DB" "SELECT count(*) FROM reminder WHERE status = '"'sent'"'")" -eq 3 ]' 5

# --- a good reload still works -------------------------------------------------------
cp -p "$T/good.conf" "$CONF"
rc=0
ctl reload >"$T/reload5.out" 2>&1 || rc=$?
check "a good reload afterwards: exit 0" test "$rc" -eq 0
check "... says reloaded" grep -q "reloaded" "$T/reload5.out"
check "... and the log says why it paused the loop" grep -q "loop paused" "$IOPD_LOG"
iopd_stop
check "stops cleanly" test "${STOP_RC:-1}" -eq 0
iopd_finish
