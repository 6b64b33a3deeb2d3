#!/bin/bash
# pg_failover.sh - SPEC 9: target_session_attrs=read-write across a
# failover, and a schema newer than iopd.
#   1. a conninfo with two hosts whose first is read-only (a server with
#      default_transaction_read_only = on): iopd ends on the writable one;
#   2. a real failover: a primary and its streaming standby (hot standby,
#      read-only), one conninfo naming both.  iopd runs on the primary;
#      the primary crashes (immediate stop) in the middle of a run, the
#      standby is promoted: iopd reconnects to it by itself and goes on,
#      with the instance's mark and claims as replicated.  Every reminder
#      is delivered, and at most the channel's concurrency twice (the
#      sends in flight at the crash, whose outcome the standby had not
#      received: replication is asynchronous here);
#   3. a ledger whose schema is newer than this iopd: refused, with the
#      reason in the log and the status; nothing is sent; once it is back
#      to a version iopd knows, iopd connects by itself.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/pg_failover.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "pg_failover.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"
. "$TESTS_DIR/integration/fixtures/pg_lib.sh"     # $PG: the primary

start_webhook
sessions=
for k in $(seq 0 12); do                   # 20 patients, a reminder every 3 s from 10:00:00
	sessions="$sessions${sessions:+,}s$k@10:10/$((600 - 3 * k))s"
done

# --- 1. the first host is read-only -----------------------------------------------
start_pg RO default_transaction_read_only=on
CONNINFO="host=$RO_SOCKET,$PG_SOCKET port=$RO_PORT,$PG_PORT user=iopd dbname=iopd target_session_attrs=read-write" \
	inst_conf ro --url "$WEBHOOK_URL/ro" --patients 1 --med 10:00
inst_start ro '@2026-12-01 09:59:50'
check "read-only first host: connected to the writable one" \
	grep -q "connected to $PG_SOCKET:$PG_PORT/iopd (before: $RO_SOCKET:$RO_PORT: .*read-only" "${INST_LOG[ro]}"
check "and it sends" waitfor "[ \$(jsonl_count '$WEBHOOK_LOG' \"r['path'] == '/ro/hook'\") -eq 1 ]" 30
inst_stop ro
pg_stop RO

# --- 2. a failover -----------------------------------------------------------------
start_pg_standby STBY PG
check "the standby is in recovery (read-only)" test "$(pg_q STBY "SELECT pg_is_in_recovery()")" = t
CONNINFO="host=$PG_SOCKET,$STBY_SOCKET port=$PG_PORT,$STBY_PORT user=iopd dbname=iopd target_session_attrs=read-write" \
	inst_conf fo --url "$WEBHOOK_URL/fo" --patients 20 --sessions "$sessions"
"$IOPD" agenda -c "$T/fo/iopd.conf" --from 2026-12-01T10:00:00Z --to 2026-12-01T10:02:00Z |
	"$PY" -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin]' | sort >"$T/expected"
check "the agenda has 260 reminders" test "$(wc -l <"$T/expected")" -eq 260
inst_start fo '@2026-12-01 09:59:55'
check "on the primary" grep -q "connected to $PG_SOCKET:$PG_PORT/iopd" "${INST_LOG[fo]}"
fo() { jsonl_field "$WEBHOOK_LOG" 'r["idempotency_key"]' "r['path'] == '/fo/hook'"; }
waitfor "[ \$(fo | wc -l) -ge 60 ]" 40 || fail "the run did not get under way"
pg_stop PG immediate
crash_n=$(fo | wc -l)
pg_promote STBY
echo "# primary crashed after $crash_n requests; standby promoted"
check "the standby is the primary now" test "$(pg_q STBY "SELECT pg_is_in_recovery()")" = f
check "iopd reconnected to the new primary by itself" \
	waitfor "grep -q 'connected to $STBY_SOCKET:$STBY_PORT/iopd' '${INST_LOG[fo]}'" 30
check "every reminder delivered" \
	waitfor "[ -z \"\$(comm -23 '$T/expected' <(fo | sort -u))\" ]" 90
sleep 1
dups=$(fo | sort | uniq -d | wc -l)
echo "# $(fo | wc -l) requests for 260 reminders: $dups sent twice"
check "sent twice: at most the concurrency in flight at the crash ($dups <= 8)" test "$dups" -le 8
check "the new primary's ledger: all sent, nothing open" \
	waitfor "[ \"\$(pg_q STBY \"SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FROM reminder WHERE kind = 'session'\")\" = '260|260' ]" 20
check "the instance's mark went on, on the new primary" \
	test "$(pg_q STBY "SELECT mark >= extract(epoch FROM timestamptz '2026-12-01 10:00:36+00') FROM instance WHERE name = 'fo'")" = t
inst_stop fo

# --- 3. a newer schema ---------------------------------------------------------------
pg_q STBY "UPDATE iopd_meta SET value = '3' WHERE key = 'schema'" >/dev/null
CONNINFO="host=$STBY_SOCKET port=$STBY_PORT user=iopd dbname=iopd" \
	inst_conf late --url "$WEBHOOK_URL/late" --patients 1 --first 100 --med 10:00
IOPD_NOWAIT=1 inst_start late '@2026-12-01 09:59:50'
check "a newer schema is refused, with the reason in the status" \
	waitfor "inst_ctl late status | grep -q \"CANNOT WRITE: .*schema is version 3, newer than this iopd knows (2): run a newer iopd\"" 20
check "... and in the log" grep -q "newer than this iopd knows" "${INST_LOG[late]}"
check "it registered nothing" test "$(pg_q STBY "SELECT count(*) FROM instance WHERE name = 'late'")" -eq 0
pg_q STBY "UPDATE iopd_meta SET value = '2' WHERE key = 'schema'" >/dev/null
check "back to version 1: it connects by itself and sends" \
	waitfor "[ \$(jsonl_count '$WEBHOOK_LOG' \"r['path'] == '/late/hook'\") -eq 1 ]" 30
inst_stop late
iopd_finish
