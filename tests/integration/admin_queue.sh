#!/bin/bash
# admin_queue.sh - queue control as Postfix gives it (issue 11, item 8):
# iopctl retry and iopctl cancel against the real daemon and a webhook
# sink.  Faked clock from 2026-12-01 16:59:00 UTC, six times as fast.
#
# Proves:
#   * retry of a reminder waiting for a retry (the gateway said 503,
#     Retry-After: 30 min): sent now, the answer waits for the attempt and
#     says so (exit 0); of one sent already, or unknown: exit 1, saying why;
#   * cancel of a reminder not yet due: recorded skipped at once, "cancelled
#     by USER (uid N): REASON", shown skipped:cancelled by iopctl agenda and
#     iopd agenda; never sent when it falls due -- not after a restart
#     either; of one waiting for a retry: never tried again; of one being
#     sent: "too late", exit 1; of one sent: exit 1; an unknown id: exit 1;
#     (the clock is six times as fast: the "slow" sink's 3 s are 18 s of it)
#   * retry of a reminder waiting for the end of the patient's quiet hours
#     (caught up after downtime at 21:00:30): sent now, quiet hours or not.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "admin_queue.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/webhook.so" ] || skip_all "no webhook.so in $IOPD_PLUGIN_DIR"

start_webhook
CONF=$T/iopd.conf
{
	iopd_daemon_block d
	cat <<EOF
channels = (
  { name = "hook"; module = "webhook"; url = "$WEBHOOK_URL/hook"; timeout = "20s"; },
  { name = "down"; module = "webhook"; url = "$WEBHOOK_URL/down"; timeout = "5s"; },
  { name = "slow"; module = "webhook"; url = "$WEBHOOK_URL/delay/3/slow"; timeout = "90s"; }
);
templates = { session = { sms = "s"; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = ( { id = "op"; name = "Op"; kind = "OP"; timezone = "UTC"; weeks = 1;
               sessions = ( { id = "g"; type = "group"; days = ["sat"]; start = "23:00"; duration = "1h"; } ); } );
patients = (
  { id = "p-r"; program = "op"; start = "2026-12-01"; medications = ( { label = "d"; times = ["17:00"]; channels = ["hook"]; } ); },
  { id = "p-w"; program = "op"; start = "2026-12-01"; medications = ( { label = "d"; times = ["17:00"]; channels = ["down"]; } ); },
  { id = "p-c"; program = "op"; start = "2026-12-01"; medications = ( { label = "d"; times = ["17:01", "17:04"]; channels = ["hook"]; } ); },
  { id = "p-s"; program = "op"; start = "2026-12-01"; medications = ( { label = "d"; times = ["17:02"]; channels = ["slow"]; } ); }
);
EOF
} >"$CONF"
chmod 600 "$CONF"
agenda_json "$CONF" 2026-12-01T16:00:00Z 2026-12-01T18:00:00Z "$T/agenda.jsonl"
id_of() { jsonl_field "$T/agenda.jsonl" 'r["id"]' "r['patient'] == '$1' and r['due'] == '$2'"; }
R=$(id_of p-r 2026-12-01T17:00:00Z)
W=$(id_of p-w 2026-12-01T17:00:00Z)
C=$(id_of p-c 2026-12-01T17:01:00Z)
C2=$(id_of p-c 2026-12-01T17:04:00Z)
S=$(id_of p-s 2026-12-01T17:02:00Z)
ME=$(id -un)
MYUID=$(id -u)
run() { # NAME CMD...: RC, $T/NAME.out (stdout), $T/NAME.err
	local n=$1
	shift
	RC=0
	"$@" >"$T/$n.out" 2>"$T/$n.err" || RC=$?
	add_log "$T/$n.err"
}
hits() { jsonl_count "$WEBHOOK_LOG" "r['idempotency_key'] == '$1'"; }
# the first request of p-r: 503, come back in half an hour; "down" always 503
curl -s -X POST "$WEBHOOK_URL/__control?status=503&times=1&retry_after=1800&path=/hook" >/dev/null
curl -s -X POST "$WEBHOOK_URL/__control?status=503&times=100&retry_after=1800&path=/down" >/dev/null

start_iopd D "$CONF" '2026-12-01 16:59:00' x6

# --- cancel before the due ---------------------------------------------------------
run c1 ctl D cancel "$C" --reason "called in sick"
check "cancel of a reminder not yet due: exit 0" test "$RC" = 0
check "... says it will not be sent, by whom and why" \
	grep -qF "$C (medication of p-c on hook, due 2026-12-01T17:01:00+00:00): will not be sent: cancelled by $ME (uid $MYUID): called in sick" "$T/c1.out"
check "... recorded skipped at once, with the reason" \
	test "$(rec D "$C" 'status, reason')" = "skipped|cancelled by $ME (uid $MYUID): called in sick"
run c1b ctl D cancel "$C2"
check "cancel without a reason: exit 0" test "$RC" = 0
check "... recorded as cancelled by $ME" test "$(rec D "$C2" reason)" = "cancelled by $ME (uid $MYUID)"
ctl D --json agenda --from 2026-12-01T17:00:00Z --to 2026-12-01T17:05:00Z >"$T/live.jsonl"
check "iopctl agenda: skipped:cancelled" test "$(jsonl_field "$T/live.jsonl" 'r["status"]' "r['id'] == '$C'")" = skipped:cancelled
env TZ=UTC "$IOPD" agenda -c "$CONF" --from 2026-12-01T17:00:00Z --to 2026-12-01T17:05:00Z >"$T/off.jsonl" 2>/dev/null
check "iopd agenda beside it: skipped:cancelled" test "$(jsonl_field "$T/off.jsonl" 'r["status"]' "r['id'] == '$C'")" = skipped:cancelled
run c2 ctl D cancel 0123456789abcdef
check "cancel of an unknown id: exit 1, saying so" \
	sh -c "[ $RC = 1 ] && grep -q 'no reminder 0123456789abcdef' '$T/c2.err'"
run c3 ctl D cancel nonsense
check "cancel of something that is no id: exit 1" sh -c "[ $RC = 1 ] && grep -q 'usage: cancel ID' '$T/c3.err'"
run r0 ctl D retry "$C2"
check "retry of a reminder not waiting (cancelled): exit 1, saying what it was" \
	sh -c "[ $RC = 1 ] && grep -q 'is not waiting to be sent: it was skipped at' '$T/r0.err'"
run r00 ctl D retry fedcba9876543210
check "retry of an unknown id: exit 1" sh -c "[ $RC = 1 ] && grep -q 'not waiting in iopd.s queue' '$T/r00.err'"

# --- 17:00: p-r refused for now, p-w too ----------------------------------------------
wait_status D "$R" retry 30 || true
check "p-r: 503, waiting for a retry (Retry-After: 30 min)" test "$(rec D "$R" 'status, attempts')" = "retry|1"
run r1 ctl D retry "$R"
check "retry: exit 0" test "$RC" = 0
check "... the answer says it was sent, at attempt 2" grep -qF "$R: sent on hook (attempt 2, gateway id http-200)" "$T/r1.out"
check "... the sink got it twice" test "$(hits "$R")" = 2
check "... the ledger: sent" test "$(rec D "$R" 'status, attempts')" = "sent|2"
run r2 ctl D retry "$R"
check "retry again: exit 1, it was sent" sh -c "[ $RC = 1 ] && grep -q 'it was sent at' '$T/r2.err'"
wait_status D "$W" retry 30 || true
run r3 ctl D retry "$W"
check "retry of one that fails again: exit 1, the next try's time" \
	sh -c "[ $RC = 1 ] && grep -q '$W: attempt 2 on down failed again (HTTP 503); next try at ' '$T/r3.err'"
run c4 ctl D cancel "$W" --reason "channel retired"
check "cancel of one waiting for a retry: exit 0" test "$RC" = 0
check "... says it will not be tried again" grep -q "waiting for a retry (2 attempts so far): it will not be tried again" "$T/c4.out"
check "... the ledger: skipped, cancelled" test "$(rec D "$W" 'status, reason')" = "skipped|cancelled by $ME (uid $MYUID): channel retired"
run c5 ctl D cancel "$R"
check "cancel of one sent: exit 1, nothing to cancel" sh -c "[ $RC = 1 ] && grep -q 'nothing to cancel: it was sent at' '$T/c5.err'"

# --- 17:01: the cancelled one is not sent ----------------------------------------------
waitfor "grep -q 'not sent: cancelled with iopctl (patient p-c, reminder $C)' '$D_LOG'" 30 || true
check "17:01: the log says it was not sent, cancelled" grep -q "not sent: cancelled with iopctl (patient p-c, reminder $C)" "$D_LOG"
check "... the sink never got it" test "$(hits "$C")" = 0
check "... the ledger still says cancelled" test "$(rec D "$C" status)" = skipped

# --- 17:02: too late while it is being sent ----------------------------------------------
wait_status D "$S" inflight 30 || true
waitfor "[ \"\$(fake_now D | cut -d. -f1)\" -ge $(epoch '2026-12-01 17:02:01') ]" 10 || true
run c6 ctl D cancel "$S"
check "cancel of one being sent: exit 1, too late" sh -c "[ $RC = 1 ] && grep -q 'too late: it is being sent now' '$T/c6.err'"
wait_status D "$S" sent 30 || true
check "... and it was sent" test "$(rec D "$S" status)" = sent

# --- a restart before 17:04: the cancel holds -------------------------------------------
stop_iopd D
start_iopd E "$CONF" '2026-12-01 17:03:40' x6
waitfor "[ \"\$(fake_now E | cut -d. -f1)\" -ge $(epoch '2026-12-01 17:04:30') ]" 20 || true
check "after a restart, 17:04 passed: the cancelled one was never sent" test "$(hits "$C2")" = 0
check "... still cancelled in the ledger" test "$(rec E "$C2" 'status, attempts')" = "skipped|0"
ctl E history p-c >"$T/hist.txt"
check "history shows both cancels, by whom" test "$(grep -c "cancelled by $ME (uid $MYUID)" "$T/hist.txt")" = 2
stop_iopd E
check "SIGTERM: exit 0" test "$IOPD_RC" = 0

# --- quiet hours: caught up after downtime, waiting for the morning; retry sends it ----
CONF2=$T/quiet.conf
{
	iopd_daemon_block q
	cat <<EOF
channels = ( { name = "hook"; module = "webhook"; url = "$WEBHOOK_URL/hook"; } );
templates = { session = { sms = "s"; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = ( { id = "op"; name = "Op"; kind = "OP"; timezone = "UTC"; weeks = 1;
               sessions = ( { id = "g"; type = "group"; days = ["sat"]; start = "23:00"; duration = "1h"; } );
               aftercare = { at = "20:59"; after = ["1d"]; channels = ["hook"]; }; } );
patients = ( { id = "p-q"; program = "op"; start = "2026-11-20"; discharge = "2026-11-30";
               quiet_hours = { from = "21:00"; to = "08:00"; }; } );
EOF
} >"$CONF2"
chmod 600 "$CONF2"
agenda_json "$CONF2" 2026-12-01T20:00:00Z 2026-12-01T22:00:00Z "$T/q.jsonl"
Q=$(jsonl_field "$T/q.jsonl" 'r["id"]' 'r["kind"] == "aftercare"')
start_iopd Q1 "$CONF2" '2026-12-01 20:58:00'
stop_iopd Q1
start_iopd Q2 "$CONF2" '2026-12-01 21:00:30'
wait_status Q2 "$Q" retry 15 || true
check "caught up at 21:00:30, in quiet hours: waiting for the morning" \
	test "$(rec Q2 "$Q" 'status, reason')" = "retry|waiting for the end of the patient's quiet hours"
run q1 ctl Q2 retry "$Q"
check "retry: exit 0, sent now, quiet hours or not" \
	sh -c "[ $RC = 0 ] && grep -qF '$Q: sent on hook (attempt 1' '$T/q1.out'"
check "... the ledger: sent" test "$(rec Q2 "$Q" status)" = sent
stop_iopd Q2
check "no sanitizer report" sanitizer_clean "$D_LOG" "$E_LOG" "$Q1_LOG" "$Q2_LOG"
finish
