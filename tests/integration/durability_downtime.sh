#!/bin/bash
# durability_downtime.sh - SPEC 6 after downtime, with a faked clock
# (catch_up 90m, medication_grace 30m, no quiet hours; two patients, each
# with medication prompts and two daily sessions with reminders):
#   1. a fresh ledger started at 08:00 does not send the past (a prompt due
#      07:50 would still be within catch_up and grace), nor record it;
#   2. stopped at 08:00, restarted at 08:35 (downtime < catch_up): the
#      prompts due 08:10 and 08:20 are sent at once;
#   3. stopped at 08:35, restarted at 11:45 (downtime > catch_up): prompts
#      due 09:00 and 10:00 (overdue by more than catch_up) are recorded
#      missed and never sent; the prompt due 11:00 (within catch_up, past
#      medication_grace) is missed; the reminder due 11:20 of the session at
#      11:40 (within catch_up, but the session has begun) is missed; the
#      prompt and the session reminder due 11:30 (session at 12:00) are sent;
#   4. the wall clock steps back an hour under a running iopd: the ledger's
#      mark stays where it was, and a restart offers nothing again;
#   5. nothing sent in one run is sent again in a later one.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/durability_downtime.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "durability_downtime.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"

start_webhook
SOCK=$T/ctl.sock
DB=$T/state/ledger.db
gen_conf "$T/iopd.conf" --state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" \
	--patients 2 --med 07:50,08:10,08:20,09:00,10:00,11:00,11:30 \
	--sessions 's1140@11:40/20m,s1200@12:00/30m' --catch-up 90m --grace 30m
"$IOPD" agenda -c "$T/iopd.conf" --from 2026-12-01T07:00:00Z --to 2026-12-01T12:00:00Z >"$T/agenda.jsonl"
# ids KIND HH:MM -> the ids (both patients) of that kind due at that time
ids() {
	jsonl_field "$T/agenda.jsonl" 'r["id"]' \
		"r['kind'] == '$1' and r['due'] == '2026-12-01T$2:00Z'" | sort
}
sent() { sink_ids "$WEBHOOK_LOG" | sort; }
# status_of ID -> the ledger's status and reason, or "none"
status_of() {
	local s
	s=$(ledger_q "$DB" "SELECT status || '|' || coalesce(reason, '') FROM reminder WHERE id = $((16#$1))")
	echo "${s:-none|}"
}
# all_status STATUS REASON_PART KIND HH:MM: every id of that group has it
all_status() {
	local id s
	for id in $(ids "$3" "$4"); do
		s=$(status_of "$id")
		case $s in "$1|"*"$2"*) ;; *) echo "# $3 $4 $id: $s" >&2; return 1 ;; esac
	done
}
nsent() { sink_ids "$WEBHOOK_LOG" | wc -l; }
check "the agenda has 18 reminders in the window" test "$(wc -l <"$T/agenda.jsonl")" -eq 18

# --- 1. a fresh ledger at 08:00 ------------------------------------------------
iopd_start run1 "$T/iopd.conf" '2026-12-01 08:00:00'
add_log "$IOPD_LOG"
sleep 2
check "fresh ledger: nothing of the past sent" test "$(nsent)" -eq 0
check "fresh ledger: the 07:50 prompts not recorded either" all_status none '' medication 07:50
check "fresh ledger: log says it schedules from now on" grep -q "new ledger: scheduling from now on" "$IOPD_LOG"
iopd_stop
check "run 1 stops cleanly" test "${STOP_RC:-1}" -eq 0

# --- 2. downtime 35 min < catch_up --------------------------------------------
iopd_start run2 "$T/iopd.conf" '2026-12-01 08:35:00'
add_log "$IOPD_LOG"
want=$( (ids medication 08:10; ids medication 08:20) | sort)
check "short downtime: the 08:10 and 08:20 prompts sent at once (within 5 s)" \
	waitfor "[ \"\$(sent)\" = \"\$want\" ]" 5
check "short downtime: log says it catches up" grep -q "catching up from" "$IOPD_LOG"
sleep 1
check "short downtime: nothing else sent" test "$(sent)" = "$want"
check "short downtime: 08:10 prompts recorded sent" all_status sent '' medication 08:10
check "short downtime: 08:20 prompts recorded sent" all_status sent '' medication 08:20
check "the 07:50 prompts (before the first start) stay unrecorded" all_status none '' medication 07:50
iopd_stop
check "run 2 stops cleanly" test "${STOP_RC:-1}" -eq 0
before=$(nsent)

# --- 3. downtime 3h10 > catch_up ----------------------------------------------
iopd_start run3 "$T/iopd.conf" '2026-12-01 11:45:00'
add_log "$IOPD_LOG"
want3=$( (ids medication 11:30; ids session 11:30) | sort)
new_sent() { sink_ids "$WEBHOOK_LOG" | tail -n +$((before + 1)) | sort; }
check "long downtime: the 11:30 prompts and session reminders sent at once" \
	waitfor "[ \"\$(new_sent)\" = \"\$want3\" ]" 5
sleep 1
check "long downtime: nothing else sent" test "$(new_sent)" = "$want3"
check "09:00 prompts missed (overdue by more than catch_up)" \
	all_status missed 'catch_up' medication 09:00
check "10:00 prompts missed (overdue by more than catch_up)" \
	all_status missed 'catch_up' medication 10:00
check "11:00 prompts missed (past medication_grace, within catch_up)" \
	all_status missed 'medication_grace' medication 11:00
check "11:20 reminders of the 11:40 session missed (the session has begun)" \
	all_status missed 'begun' session 11:20
check "11:30 prompts recorded sent" all_status sent '' medication 11:30
check "11:30 session reminders recorded sent" all_status sent '' session 11:30
missed=$( (ids medication 09:00; ids medication 10:00; ids medication 11:00; ids session 11:20) | sort)
check "no missed reminder ever reached the sink" test -z "$(comm -12 <(sent | sort -u) <(echo "$missed"))"
iopd_stop
check "run 3 stops cleanly" test "${STOP_RC:-1}" -eq 0

# --- 4. the wall clock steps back an hour under a running iopd ------------------
# -- the ledger's mark must not go back with it, or the next start would offer
# an hour again.  libfaketime rereads FAKETIME_TIMESTAMP_FILE at every clock
# call (FAKETIME_NO_CACHE=1).  Holding "@DATE", the file starts the clock at
# DATE when iopd starts, and it runs on from there while the file stays the
# same; rewritten to another "@DATE", the clock jumps to that DATE and runs on
# from it (libfaketime 0.9.10).  The file is replaced by a rename, never
# rewritten in place: iopd would read it empty or half written.  A FAKETIME
# variable would win over the file: iopd must not inherit the runner's.
ts_file() { # '@DATE' -> $T/faketime, atomically
	printf '%s\n' "$1" >"$T/faketime.tmp"
	mv -f "$T/faketime.tmp" "$T/faketime"
}
timeline_begin '2026-12-01 11:50:00'
ts_file '@2026-12-01 11:50:00'
mapfile -t FE < <(fake_env '2026-12-01 11:50:00' | grep -v '^FAKETIME=')
spawn run4 env -u FAKETIME TZ=UTC "${FE[@]}" FAKETIME_TIMESTAMP_FILE="$T/faketime" FAKETIME_NO_CACHE=1 \
	"$IOPD" -f -c "$T/iopd.conf"
IOPD_PID=$SPAWN_PID
IOPD_LOG=$T/run4.out
add_log "$IOPD_LOG"
waitfor "ctl status" 20 || fail "run 4 did not start"
mark_of() { ledger_mark "$DB"; }
m1150=$(date -u -d '2026-12-01 11:50:00' +%s)
check "11:50: the mark is at the start" waitfor "[ \$(mark_of) -ge $m1150 ]" 5
now=$(timeline_epoch)
ts_file "@$(fmt_date "$((${now%.*} - 3600)).${now#*.}")"      # an hour back
sleep 1
ctl reload >/dev/null                   # runs the schedule now, at 10:50
sleep 1
loaded=$(ctl --json status | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["loaded_at"])')
check "iopd saw the clock step back: reloaded at 10:50 ($loaded)" \
	grep -q '^2026-12-01T10:5[0-2]:' <<<"$loaded"
check "the clock stepped back to 10:50: the mark stays ($(( $(mark_of) - m1150 )) s after 11:50)" \
	test "$(mark_of)" -ge "$m1150"
iopd_kill9
n4=$(nsent)
iopd_start run5 "$T/iopd.conf" '2026-12-01 11:52:00'
add_log "$IOPD_LOG"
sleep 2
check "restarted at 11:52: nothing of the past offered or sent again" test "$(nsent)" -eq "$n4"
check "... no catching up over the stepped-back hour" \
	test -z "$(grep "catching up from [0-9]\{4,\}" "$IOPD_LOG")"
iopd_stop

# --- 5. across the runs ------------------------------------------------------------
check "no reminder sent twice" test -z "$(sent | uniq -d)"
check "ledger: nothing inflight or retry" \
	test "$(ledger_q "$DB" "SELECT count(*) FROM reminder WHERE status IN ('inflight', 'retry')")" -eq 0
check "ledger: 8 sent, 8 missed" \
	test "$(ledger_q "$DB" "SELECT group_concat(status || '=' || n) FROM (SELECT status, count(*) n FROM reminder GROUP BY status ORDER BY status) s")" = "missed=8,sent=8"
iopd_finish
