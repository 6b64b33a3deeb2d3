#!/bin/bash
# ops_logging.sh - iopd's logging, end to end with the real daemon:
#
#   stderr: every line "<N>..." (sd-daemon(3) priority prefixes), also each
#     line of a multi-line message; info by default, -v debug, -l LEVEL,
#     daemon.log_level (and a reload that changes it); -l beats the file
#   SPEC 7 redaction, at every level: no phone number beyond its last two
#     digits, no e-mail address, first name or message text, while SMS go
#     out through a Twilio-style gateway that fails and recovers
#   a failing channel: one warning, then back-off; its recovery logged once
#   the journal: with $JOURNAL_STREAM naming stderr, lines go to the
#     journal's socket with PRIORITY, SYSLOG_IDENTIFIER, IOPD_REMINDER_ID,
#     IOPD_PATIENT_ID, IOPD_CHANNEL (a fake journald in a private mount
#     namespace; skipped without unshare); a stale $JOURNAL_STREAM (stderr
#     redirected) keeps stderr
#
# Run by `make check` from the top build directory.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/ops_lib.sh" ] && { . "$d/ops_lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "ops_logging.sh: ops_lib.sh not found" >&2; exit 99; }
ops_need_build
need curl

# every line of FILE is "<3>".."<7>" + text
prefixed() { ! grep -Evq '^<[3-7]>' "$1"; }
levels() { sed -n 's/^<\([0-9]\)>.*/\1/p' "$1" | sort -u | tr -d '\n'; }

# --- SMS through a failing, then recovering gateway ----------------------
start_twilio
printf '%s\n' "$TWILIO_TOKEN" >"$T/tw.token"
chmod 600 "$T/tw.token"
# The first 4 requests fail with 503 (Retry-After 1 s), then all succeed;
# one request at a time (concurrency = 1), so no success comes between.
curl -s -o /dev/null -X POST "$TWILIO_URL/__control?status=503&times=4&retry_after=1"
SMS="{ name = \"sms\"; module = \"sms\"; api = \"twilio\"; url = \"$TWILIO_API\";
  account = \"$TWILIO_SID\"; token_file = \"$T/tw.token\"; from = \"+13125551111\"; timeout = \"5s\";
  concurrency = 1; }"
ops_due_in 2
ops_conf "$T/s.conf" S "$SMS" '"sms"' "" 3
ops_start S "$T/s.conf"
# 3 reminders; each retry waits up to 5, 10, 20 s (full jitter): bounded
waitfor "[ \$(jsonl_count '$TWILIO_LOG' 'r[\"reply\"] == 201') -ge 3 ]" 45 || true
check "all 3 SMS delivered after the gateway recovered" \
	test "$(jsonl_count "$TWILIO_LOG" 'r["reply"] == 201')" -ge 3
check "the gateway failed some first ($(jsonl_count "$TWILIO_LOG" 'r["reply"] == 503') x 503)" \
	test "$(jsonl_count "$TWILIO_LOG" 'r["reply"] == 503')" -ge 2
waitfor "grep -q 'channel recovered' '$S_LOG'" 5 || true
check "the failing channel is warned about once (4 failures)" \
	test "$(grep -c '^<4>\[sms\] channel failing' "$S_LOG")" -eq 1
check "its recovery is logged once, at notice, with the count" \
	test "$(grep -c '^<5>\[sms\] channel recovered after 4 failed attempts' "$S_LOG")" -eq 1
check "recovery comes after the warning" \
	test "$(grep -n 'channel failing' "$S_LOG" | head -n 1 | cut -d: -f1)" -lt \
	"$(grep -n 'channel recovered' "$S_LOG" | head -n 1 | cut -d: -f1)"
check "sends are logged with patient and reminder ids" \
	grep -Eq '^<6>\[sms\] sent \(attempt [0-9]+, gateway id SM[0-9a-f]+\) \(patient p-000[1-3], reminder [0-9a-f]{16}\)' "$S_LOG"
check "the phone reached the gateway (so it was there to leak)" \
	grep -q '2125554561' "$TWILIO_LOG"
check "stderr: every line has a <N> prefix" prefixed "$S_LOG"
check "default level info: no debug lines (levels $(levels "$S_LOG"))" sh -c "! grep -q '^<7>' '$S_LOG'"
check "no phone beyond 2 digits, e-mail, first name or text at info" sh -c "! leaks() { :; }; ! grep -Eq '2125554|example\\.org|$OPS_NAME_MARK|$OPS_TEXT_MARK' '$S_LOG'"
stop_pid "$S_PID" 15

# --- the same at debug (-v), through a gateway that fails permanently ----
curl -s -o /dev/null -X POST "$TWILIO_URL/__control/reset"
curl -s -o /dev/null -X POST "$TWILIO_URL/__control?twilio_error=21211&times=1"
ops_due_in 2
ops_conf "$T/v.conf" V "$SMS" '"sms"' "" 2
ops_start V "$T/v.conf" -- -v
waitfor "[ \$(grep -c 'failed: \\|\\] sent ' '$V_LOG') -ge 2 ]" 15 || true
check "-v: debug lines" grep -q '^<7>' "$V_LOG"
check "-v: the plugin names the number by its last two digits" grep -Eq '^<7>\[sms\] .*\*\*6[12]' "$V_LOG"
check "a permanent failure is logged with the gateway's reason" \
	grep -Eq '^<4>\[sms\] failed: .*21211' "$V_LOG"
check "debug: still no phone, e-mail, name or text" \
	sh -c "! grep -Eq '2125554|example\\.org|$OPS_NAME_MARK|$OPS_TEXT_MARK' '$V_LOG'"
stop_pid "$V_PID" 15

# --- levels: -l, daemon.log_level, reload ------------------------------------
ops_due_in 600
ops_conf "$T/l.conf" L '{ name = "term"; module = "console"; }' '"term"' 'log_level = "warning";'
ops_start L "$T/l.conf" || true
check "log_level = warning: no notice/info lines (levels $(levels "$L_LOG"))" \
	sh -c "! grep -q '^<[5-7]>' '$L_LOG'"
sed -i 's/log_level = "warning";/log_level = "notice";/' "$T/l.conf"
ops_ctl L reload >/dev/null
check "a reload to log_level = notice takes effect (its own line shows)" \
	grep -q '^<5>reloaded ' "$L_LOG"
sed -i 's/log_level = "notice";/log_level = "debug";/' "$T/l.conf"
ops_ctl L reload >/dev/null
echo 'bogus = 1;' >>"$T/l.conf"
ops_ctl L reload >/dev/null 2>&1 || true
check "a multi-line message: each line has its <N>" prefixed "$L_LOG"
check "the reload error is an error line" grep -q '^<3>reload failed' "$L_LOG"
stop_pid "$L_PID" 15
sed -i '/^bogus = 1;/d' "$T/l.conf"
rm -rf "${L_STATE:?}"/*
ops_start L "$T/l.conf" -- -l notice || true
ops_ctl L reload >/dev/null
check "-l notice beats log_level = debug, also after a reload" \
	sh -c "! grep -q '^<[67]>' '$L_LOG' && grep -q '^<5>reloaded' '$L_LOG'"
stop_pid "$L_PID" 15
rc=0
"$IOPD" -l loud -c "$T/l.conf" 2>"$T/badlevel" || rc=$?
check "-l with an unknown level: exit 1 and the levels listed" \
	sh -c "[ $rc -eq 1 ] && grep -q 'err, warning, notice, info, debug' '$T/badlevel'"

# --- stale JOURNAL_STREAM: stderr was redirected, so stderr it stays ---------
rm -rf "${L_STATE:?}"/*
ops_start L "$T/l.conf" JOURNAL_STREAM=1:1 || true
check "JOURNAL_STREAM of another stream: stderr, with prefixes" \
	sh -c "grep -q '^<5>iopd .* started' '$L_LOG'"
stop_pid "$L_PID" 15

# --- the journal: a fake journald in a private mount namespace ---------------
if ! unshare -m true 2>/dev/null; then
	skip "journal fields: cannot unshare a mount namespace here"
	finish
fi
ops_due_in 3
ops_conf "$T/j.conf" J '{ name = "term"; module = "console"; }' '"term"'
cat >"$T/journal.sh" <<'EOF'
# in a private mount namespace: a tmpfs /run with a datagram socket where
# libsystemd's sd_journal_sendv() looks for journald; iopd on the test's
# clock (as clock_env in tests/lib.sh), carried on from CLOCK0, the test's now
# when it started this script
set -eu
timeline_begin "$(fmt_date "$CLOCK0")"
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal
"$PY" "$RIG_DIR/notify_listen.py" /run/systemd/journal/socket --timeout 60 \
	--out "$T/journal.jsonl" --ready-file "$T/journal.ready" &
lp=$!
for _ in $(seq 100); do [ -s "$T/journal.ready" ] && break; sleep 0.05; done
: >"$T/J.log"
mapfile -t clk < <(faketime_env "$(timeline_now)")
env "${clk[@]}" FAKETIME_DONT_FAKE_MONOTONIC=1 JOURNAL_STREAM="$(stat -c '%d:%i' "$T/J.log")" TZ=UTC \
	"$IOPD" -f -c "$T/j.conf" \
	>"$T/J.stdout" 2>>"$T/J.log" </dev/null &
ip=$!
for _ in $(seq 200); do grep -q '"IOPD_CHANNEL=term"' "$T/journal.jsonl" 2>/dev/null && break; sleep 0.05; done
"$IOPCTL" -s "$J_SOCK" reload >/dev/null 2>&1 || true
sleep 0.3
kill -TERM "$ip"; wait "$ip" || true
kill -TERM "$lp"; wait "$lp" || true
EOF
export PY RIG_DIR T IOPD IOPCTL J_SOCK
export -f timeline_begin timeline_now timeline_epoch fmt_date faketime_env faketime_lib \
	_rig_now_us _rig_us_epoch _rig_date_us _rig_preload_without_faketime
rc=0
CLOCK0=$(now_epoch)
export CLOCK0
timeout -k 5 40 unshare -m bash "$T/journal.sh" >"$T/journal.out" 2>&1 || rc=$?
add_log "$T/journal.out" "$T/journal.jsonl" "$T/J.log"
check "fake journald run ended cleanly" test "$rc" -eq 0
JL=$T/journal.jsonl
has() { jsonl_count "$JL" "$1"; }
check "journal: the start line, PRIORITY=5, SYSLOG_IDENTIFIER=iopd" \
	test "$(has '"PRIORITY=5" in r["fields"] and "SYSLOG_IDENTIFIER=iopd" in r["fields"] and any(f.startswith("MESSAGE=iopd ") and " started: " in f for f in r["fields"])')" -ge 1
check "journal: the send with IOPD_REMINDER_ID, IOPD_PATIENT_ID, IOPD_CHANNEL" \
	test "$(has 'any(f.startswith("MESSAGE=sent ") for f in r["fields"]) and "PRIORITY=6" in r["fields"] and "IOPD_PATIENT_ID=p-0001" in r["fields"] and "IOPD_CHANNEL=term" in r["fields"] and any(len(f) == 33 and f.startswith("IOPD_REMINDER_ID=") for f in r["fields"])')" -ge 1
check "journal: the reload, at notice" \
	test "$(has '"PRIORITY=5" in r["fields"] and any(f.startswith("MESSAGE=reloaded ") for f in r["fields"])')" -ge 1
check "journal: nothing about it left on stderr" sh -c "! grep -q 'started' '$T/J.log'"
check "journal: no contact details" \
	sh -c "! grep -Eq '2125554|example\\.org|$OPS_NAME_MARK|$OPS_TEXT_MARK' '$JL'"
finish
