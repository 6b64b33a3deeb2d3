#!/bin/bash
# pg_ledger_copy.sh - `iopd ledger-copy -c FILE --from LEDGER.db` (SPEC 2, 9):
# a clinic moves from its SQLite ledger to a shared PostgreSQL one.
#   * a SQLite ledger with history: reminders sent, one skipped for a pause
#     and one for an opt-out (set with iopctl), a reminder left in flight by
#     a kill -9 (its send never answered), the mark;
#   * copied into an empty PostgreSQL ledger: the same rows, outcomes,
#     overrides (with origin, author, reason, end) and override log,
#     replies and callback keys, the mark, the open reminder owned by the
#     instance FILE names;
#   * a second copy is refused (the target holds rows), and so are a
#     configuration whose ledger is not postgresql and a file that is not
#     a ledger;
#   * iopd started on PostgreSQL carries on where the SQLite one stopped:
#     nothing sent again except the reminder left in flight (at least once),
#     the pause and the opt-out still hold, its history is there.
# Both runs on fake clocks twice as fast as the real one.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/pg_ledger_copy.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "pg_ledger_copy.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"
. "$TESTS_DIR/integration/fixtures/pg_lib.sh"

start_webhook
SOCK=$T/lite.sock
DB=$T/lite/ledger.db
# six patients at 10:00 and 10:01; p-00001 on the slow channel, whose sink
# answers after 3 s: iopd is killed before
gen_conf "$T/lite.conf" --state "$T/lite" --socket "$SOCK" --url "$WEBHOOK_URL" --patients 6 \
	--med 10:00,10:01 --slow-url "$WEBHOOK_URL/delay/3" --slow 1
"$IOPD" agenda -c "$T/lite.conf" --from 2026-12-01T10:00:00Z --to 2026-12-01T10:02:00Z >"$T/agenda.jsonl"
ids() { jsonl_field "$T/agenda.jsonl" 'r["id"]' "$1" | sort; }
check "the agenda has 12 reminders, two on the slow channel" \
	test "$(wc -l <"$T/agenda.jsonl"):$(ids "r['channel'] == 'slow'" | wc -l)" = "12:2"

# --- the SQLite run -----------------------------------------------------------------
iopd_start lite "$T/lite.conf" '@2026-12-01 09:59:50 x2'
check "pause p-00002" ctl pause p-00002
check "opt-out p-00003 hook" ctl opt-out p-00003 hook
check "the 10:00 reminders of p-00004..6 sent, p-00001's on its way" \
	waitfor "[ \$(ledger_q '$DB' \"SELECT count(*) FROM reminder WHERE status = 'sent'\") -eq 3 ] && [ \$(jsonl_count '$WEBHOOK_LOG' \"r['path'] == '/delay/3'\") -eq 1 ]" 30
iopd_kill9
check "p-00001's was in flight at the kill" \
	test "$(ledger_q "$DB" "SELECT count(*) FROM reminder WHERE status = 'inflight'")" -eq 1
lite_rows=$(ledger_q "$DB" "SELECT count(*) FROM reminder")
lite_outcomes=$(ledger_q "$DB" "SELECT count(*) FROM outcome")
lite_mark=$(ledger_q "$DB" "SELECT value FROM meta WHERE key = 'mark'")
echo "# SQLite: $lite_rows reminders, $lite_outcomes outcomes, mark $lite_mark"

# --- the copy -------------------------------------------------------------------------
# the same configuration, on PostgreSQL, as instance "clinic"
sed "s|^  clinic_phone = .*|&\n  $(pg_extra clinic 30s)|; s|$T/lite.sock|$T/pg.sock|; s|\"$T/lite\"|\"$T/pgstate\"|" \
	"$T/lite.conf" >"$T/pg.conf"
chmod 600 "$T/pg.conf"
check "the PostgreSQL configuration is valid" "$IOPD" -t -c "$T/pg.conf"
# a reply and a callback key, as two-way SMS leaves them (schema 3)
sqlite3 "$DB" "INSERT INTO reply(id, patient, channel, intent, at) VALUES(42, 'p-00003', 'hook', 'stop', 1796119000); INSERT INTO callback(key, at) VALUES('sms/SM1', 1796119000)"
check "ledger-copy succeeds" "$IOPD" ledger-copy -c "$T/pg.conf" --from "$DB"
"$IOPD" ledger-copy -c "$T/pg.conf" --from "$DB" >"$T/again.out" 2>&1 && again=0 || again=$?
check "a second copy is refused: the target holds rows" \
	test "$again" -eq 1 -a -n "$(grep 'already holds rows' "$T/again.out")"
sed 's/^/# /' "$T/again.out"
check "rows: reminders and outcomes as in SQLite" \
	test "$(pg_q "SELECT (SELECT count(*) FROM reminder) || ':' || (SELECT count(*) FROM outcome)")" = "$lite_rows:$lite_outcomes"
check "every reminder with its status, attempts, reason" \
	test "$(pg_q "SELECT string_agg(lpad(to_hex(id), 16, '0') || status || attempts || coalesce(reason, ''), ',' ORDER BY id) FROM reminder")" = \
	"$(ledger_q "$DB" "SELECT group_concat(x, ',') FROM (SELECT printf('%016x', id) || status || attempts || coalesce(reason, '') x FROM reminder ORDER BY id)")"
check "overrides and their log" \
	test "$(pg_q "SELECT (SELECT string_agg(kind || ':' || patient, ',' ORDER BY kind) FROM override) || '/' || (SELECT count(*) FROM override_log)")" = "opt-out:p-00003,pause:p-00002/2"
check "... with their origin, author, uid, reason and end (schemas 3 and 4)" \
	test "$(pg_q "SELECT string_agg(kind || origin || coalesce(author, '') || coalesce(uid::text, '') || coalesce(reason, '') || coalesce(until::text, ''), ',' ORDER BY kind) FROM override")" = \
	"$(ledger_q "$DB" "SELECT group_concat(x, ',') FROM (SELECT kind || origin || coalesce(author, '') || coalesce(uid, '') || coalesce(reason, '') || coalesce(until, '') x FROM override ORDER BY kind)")"
check "replies and callback keys" \
	test "$(pg_q "SELECT (SELECT string_agg(intent || ':' || patient, ',') FROM reply) || '/' || (SELECT string_agg(key, ',') FROM callback)")" = "stop:p-00003/sms/SM1"
check "the mark, in instance clinic's row (stopped)" \
	test "$(pg_q "SELECT mark || ':' || stopped FROM instance WHERE name = 'clinic'")" = "$lite_mark:true"
check "the reminder left in flight is clinic's" \
	test "$(pg_q "SELECT status || ':' || owner FROM reminder WHERE status IN ('inflight', 'retry')")" = "inflight:clinic"
lite_conf_out=$("$IOPD" ledger-copy -c "$T/lite.conf" --from "$DB" 2>&1) && rc=0 || rc=$?
check "a SQLite configuration is refused" test "$rc" -eq 1 -a -n "$(echo "$lite_conf_out" | grep 'is not "postgresql"')"
echo "not a ledger" >"$T/junk.db"
junk_out=$("$IOPD" ledger-copy -c "$T/pg.conf" --from "$T/junk.db" 2>&1) && rc=0 || rc=$?
check "a file that is not a ledger is refused" test "$rc" -eq 1 -a -n "$(echo "$junk_out" | grep -i 'not an iopd ledger\|not a database')"

# --- PostgreSQL carries on --------------------------------------------------------------
n0=$(sink_ids "$WEBHOOK_LOG" | wc -l)
SOCK=$T/pg.sock
iopd_start pg "$T/pg.conf" '@2026-12-01 10:00:40 x2'
check "the reminder left in flight is sent again" \
	waitfor "[ \$(jsonl_count '$WEBHOOK_LOG' \"r['path'] == '/delay/3'\") -ge 2 ]" 30
check "the 10:01 reminders of p-00001 and p-00004..6 are sent" \
	waitfor "[ \$(pg_q \"SELECT count(*) FROM reminder WHERE status = 'sent'\") -eq 8 ]" 60
sleep 1
check "nothing sent twice but the one in flight at the kill" \
	test "$(sink_ids "$WEBHOOK_LOG" | sort | uniq -d)" = "$(ids "r['channel'] == 'slow' and r['due'].startswith('2026-12-01T10:00')")"
check "the pause and the opt-out still hold" \
	test -z "$(comm -12 <(sink_ids "$WEBHOOK_LOG" | sort -u) <(ids "r['patient'] in ('p-00002', 'p-00003')"))"
check "history through the new ledger: the pause set under SQLite" \
	waitfor "ctl history p-00002 | grep -q 'paused (iopctl)'" 5
check "the copied instance row was taken by the first start" \
	test "$(pg_q "SELECT stopped || ':' || (token <> 'ledger-copy') FROM instance WHERE name = 'clinic'")" = "false:true"
iopd_stop
iopd_finish
