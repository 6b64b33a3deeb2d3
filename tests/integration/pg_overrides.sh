#!/bin/bash
# pg_overrides.sh - SPEC 9: pauses and opt-outs are shared.  Three
# instances on one PostgreSQL ledger; ten patients take a medication at
# 10:00 and at 10:01 (fake clock, absolute, the same for all three, twice
# as fast as the real one: the minute between takes half a minute).
#   * a pause and an opt-out made through instance a's iopctl before 10:00
#     stop those sends from every instance: the claim, which reads the
#     shared overrides in the same statement, records them skipped (paused,
#     opt-out) whichever instance offers them first;
#   * lifted through instance c's iopctl before 10:01, they hold no more
#     anywhere: the 10:01 reminders all go out;
#   * history (through b) shows the changes and the skips; b's agenda shows
#     the pause once its heartbeat read it.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/pg_overrides.sh
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "pg_overrides.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"
faketime_lib >/dev/null || skip_all "libfaketimeMT not found"
. "$TESTS_DIR/integration/fixtures/pg_lib.sh"

start_webhook
for i in a b c; do inst_conf "$i" --url "$WEBHOOK_URL" --patients 10 --med 10:00,10:01; done
"$IOPD" agenda -c "$T/a/iopd.conf" --from 2026-12-01T10:00:00Z --to 2026-12-01T10:02:00Z >"$T/agenda.jsonl"
ids() { # HH:MM [PATIENT] -> ids
	jsonl_field "$T/agenda.jsonl" 'r["id"]' "r['due'] == '2026-12-01T$1:00Z'${2:+ and r['patient'] == '$2'}" | sort
}
check "the agenda has 20 reminders" test "$(wc -l <"$T/agenda.jsonl")" -eq 20

for i in a b c; do IOPD_NOWAIT=1 inst_start "$i" '@2026-12-01 09:59:45 x2'; done
for i in a b c; do inst_wait "$i"; done
check "a: pause p-00001" inst_ctl a pause p-00001
check "a: opt-out p-00002 hook" inst_ctl a opt-out p-00002 hook
check "ledger: both overrides in force" \
	test "$(pg_q "SELECT string_agg(kind || ':' || patient, ',' ORDER BY kind) FROM override")" = "opt-out:p-00002,pause:p-00001"
check "the 10:00 reminders of the others are sent" \
	waitfor "[ \$(sink_ids '$WEBHOOK_LOG' | sort -u | wc -l) -eq 8 ]" 30
sleep 1
check "no 10:00 reminder of p-00001 or p-00002 reached the sink" \
	test -z "$(comm -12 <(sink_ids "$WEBHOOK_LOG" | sort -u) <( (ids 10:00 p-00001; ids 10:00 p-00002) | sort))"
check "ledger: p-00001's skipped (paused), p-00002's skipped (opt-out)" \
	test "$(pg_q "SELECT string_agg(patient || '=' || status || ':' || reason, ',' ORDER BY patient) FROM reminder WHERE patient IN ('p-00001', 'p-00002')")" = \
	"p-00001=skipped:paused,p-00002=skipped:opt-out"
pg_q "SELECT DISTINCT instance FROM outcome WHERE status = 'sent'" | sort >"$T/senders"
echo "# instances that sent at 10:00: $(tr '\n' ' ' <"$T/senders")"
check "b's agenda shows p-00001 paused (from its heartbeat's reading)" \
	waitfor "inst_ctl b agenda --from 2026-12-01T10:01:00Z --to 2026-12-01T10:02:00Z | grep p-00001 | grep -q 'skipped:paused'" 10

check "c: resume p-00001" inst_ctl c resume p-00001
check "c: opt-in p-00002 hook" inst_ctl c opt-in p-00002 hook
check "ledger: no override left" test "$(pg_q "SELECT count(*) FROM override")" -eq 0
check "the 10:01 reminders all go out, p-00001's and p-00002's too" \
	waitfor "[ \$(sink_ids '$WEBHOOK_LOG' | sort -u | wc -l) -eq 18 ]" 90
check "exactly these" test "$(sink_ids "$WEBHOOK_LOG" | sort -u)" = \
	"$( (ids 10:01; ids 10:00 | grep -vxF -f <( (ids 10:00 p-00001; ids 10:00 p-00002) )) | sort)"
check "each once" test -z "$(sink_ids "$WEBHOOK_LOG" | sort | uniq -d)"
inst_ctl b history p-00001 >"$T/history"
sed 's/^/# /' "$T/history"
check "b's history of p-00001: paused through a, resumed through c, the skip" \
	"$PY" - "$T/history" <<'PYEOF'
import sys
t = open(sys.argv[1]).read()
assert "paused (iopctl)" in t and "resumed (iopctl)" in t and "skipped" in t and "paused" in t, t
assert t.index("paused (iopctl)") < t.index("resumed (iopctl)"), t
PYEOF
# ordered by instance, not by time: a's two commands may fall in one second
# or in two
check "override_log names the instance each change came through" \
	test "$(pg_q "SELECT string_agg(kind || '/' || on_ || '@' || instance, ',' ORDER BY instance, kind, on_ DESC) FROM override_log")" = \
	"opt-out/1@a,pause/1@a,opt-out/0@c,pause/0@c"
for i in a b c; do inst_stop "$i"; done
iopd_finish
