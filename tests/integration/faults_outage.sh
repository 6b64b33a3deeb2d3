#!/bin/bash
# faults_outage.sh - a gateway outage of twenty minutes, end to end with the
# real iopd and its webhook plugin, on a clock forty times faster than real
# (libfaketime, absolute start 2026-12-01 16:59:30 UTC, a Tuesday).
#
# Until 17:20 (fake) the gateway answers every request 503 with Retry-After:
# 120; then it is well again.  Four patients have, each, session reminders
# 15 minutes before sessions at 17:25 and 17:45, and medication prompts at
# 17:02, 17:15 and 17:35 (medication_grace 10 minutes).  Afterwards:
#   * every reminder is final, sent or expired: none failed, none left open;
#   * nothing was attempted at or after its expiry: no session reminder at or
#     after its session, no medication prompt past its grace (each request's
#     X-Iopd-Timestamp: when it left, on iopd's own clock);
#   * Retry-After was honoured: no attempt less than 120 s after a 503;
#   * what expired during the outage (the 17:02 prompts, expiring 17:12)
#     never reached the gateway once it was up; what fell due after it (the
#     17:45 sessions' reminders, the 17:35 prompts) went out once, first try;
#   * each reminder reached the gateway as often as the ledger counts its
#     attempts, and was accepted at most once.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "faults_outage.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/webhook.so" ] || skip_all "no webhook.so in $IOPD_PLUGIN_DIR"

start_webhook
curl -s -o /dev/null -X POST "$WEBHOOK_URL/__control?status=503&retry_after=120&times=1000000"
{
	iopd_daemon_block o 'medication_grace = "10m";'
	# a long timeout: on the fast clock 2 minutes are 3 real seconds
	echo "channels = ( { name = \"ehr\"; module = \"webhook\"; url = \"$WEBHOOK_URL/hooks/ehr\"; timeout = \"2m\"; } );"
	cat <<'EOF'
templates = { session = { sms = "s"; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = ( { id = "prog"; name = "Program"; kind = "IOP"; timezone = "UTC"; weeks = 1;
  sessions = ( { id = "early"; type = "group"; days = ["tue"]; start = "17:25"; duration = "10m"; },
               { id = "late"; type = "group"; days = ["tue"]; start = "17:45"; duration = "10m"; } );
  reminders = ( { before = "15m"; channels = ["ehr"]; } ); } );
EOF
	sep="patients = ("
	for i in 1 2 3 4; do
		echo "$sep { id = \"p-$i\"; first_name = \"P\"; program = \"prog\"; start = \"2026-12-01\";
    medications = ( { label = \"dose\"; times = [\"17:02\", \"17:15\", \"17:35\"]; channels = [\"ehr\"];
                      from = \"2026-12-01\"; until = \"2026-12-01\"; } ); }"
		sep=,
	done
	echo ");"
} >"$T/o.conf"
agenda_json "$T/o.conf" 2026-12-01T17:00:00Z 2026-12-01T18:00:00Z "$T/agenda.jsonl"
add_log "$T/agenda.jsonl"
check "agenda: 20 reminders between 17:00 and 18:00" \
	test "$(jsonl_count "$T/agenda.jsonl")" -eq 20

start_iopd O "$T/o.conf" "$(before '2026-12-01 17:02:00' 4 x40)" x40
add_log "$O_LOG"
at_fake() { # 'hh:mm:ss' -> true once iopd's clock is past it that day
	"$PY" -c 'import sys; sys.exit(float(sys.argv[1]) < float(sys.argv[2]))' \
		"$(fake_now O)" "$(epoch "2026-12-01 $1")"
}
# 21 fake minutes: 31.5 real seconds, give or take
check "the outage lasts until 17:20 (fake)" waitfor "at_fake 17:20:00" 60
curl -s -o /dev/null "$WEBHOOK_URL/__control/reset"
echo "# gateway up at $(date -u -d "@$(fake_now O)" +%T) (fake)"
# the last prompt is due 17:35: 22.5 real seconds on
final() { [ "$(sql O "SELECT count(*) FROM reminder WHERE status IN ('sent','expired')")" -eq 20 ]; }
check "every reminder is final: sent or expired" waitfor final 60
sql O "SELECT printf('%016x', id), kind, status, attempts, due, expires FROM reminder ORDER BY due, id" |
	sed 's/^/# /'

# The ledger against the gateway's own record of what it got and answered.
"$PY" - "$O_DB" "$WEBHOOK_LOG" "$(epoch '2026-12-01 17:20:00')" "$O_SPEED" >"$T/verdicts" <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
up = int(sys.argv[3])
rem = {("%016x" % (i & (1 << 64) - 1)): dict(kind=k, due=d, event=e, expires=x, status=s, attempts=a)
       for i, k, d, e, x, s, a in db.execute(
           "SELECT id, kind, due, event, expires, status, attempts FROM reminder")}
outs = {}
for i, at, st, att, why in db.execute("SELECT id, at, status, attempt, reason FROM outcome ORDER BY at, rowid"):
    outs.setdefault("%016x" % (i & (1 << 64) - 1), []).append((at, st, att, why or ""))
reqs, times, sent_at = {}, {}, {}
speed = float(sys.argv[4])
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r["path"] != "/__control":
        reqs.setdefault(r["idempotency_key"], []).append(r["reply"])
        times.setdefault(r["idempotency_key"], []).append((r["t"], r["reply"]))
        sent_at.setdefault(r["idempotency_key"], []).append(int(r["headers"]["X-Iopd-Timestamp"]))

def verdict(name, ok):
    print("%s %s" % ("ok" if ok else "FAIL", name))

verdict("none failed, none open", all(r["status"] in ("sent", "expired") for r in rem.values()))
# when each attempt left, on iopd's clock: the X-Iopd-Timestamp it signs
late = [(k, ts) for k, v in sent_at.items() for ts in v if ts >= rem[k]["expires"]]
verdict("no attempt at or after its expiry %s" % late, not late)
sessions = [k for k, v in sent_at.items() if rem[k]["kind"] == "session" and max(v) >= rem[k]["event"]]
verdict("no session reminder at or after its session %s" % sessions, not sessions)
meds = [k for k, v in sent_at.items() if rem[k]["kind"] == "medication" and max(v) > rem[k]["event"] + 600]
verdict("no medication prompt past its grace %s" % meds, not meds)
# the gateway's clock: each request's arrival, real seconds; the fake clock
# runs `speed` times as fast, exactly (the ledger's times are those of the
# records, which may follow a reply by a loop iteration or more)
early = []
for k, v in times.items():
    for (a, ra), (b, _) in zip(v, v[1:]):
        if ra == 503 and (b - a) * speed < 119.5:
            early.append((k, round((b - a) * speed, 1)))
verdict("Retry-After: 120 honoured %s" % early[:3], not early)
gone = [k for k, r in rem.items() if r["expires"] <= up and 200 in reqs.get(k, [])]
verdict("what expired during the outage never reached the gateway %s" % gone, not gone)
after = [k for k, r in rem.items() if r["due"] >= up + 60]
verdict("%d reminders due after the outage sent once, first try" % len(after),
        len(after) == 8 and all(rem[k]["status"] == "sent" and rem[k]["attempts"] == 1 for k in after))
expired_early = [k for k, r in rem.items() if r["kind"] == "medication" and r["expires"] <= up]
verdict("the 4 prompts of 17:02 expired", len(expired_early) == 4 and
        all(rem[k]["status"] == "expired" for k in expired_early))
count = [k for k, r in rem.items() if len(reqs.get(k, [])) != r["attempts"]]
verdict("as many requests as attempts %s" % count, not count)
twice = [k for k, v in reqs.items() if v.count(200) > 1]
verdict("accepted at most once %s" % twice, not twice)
verdict("some reminders were retried through the outage",
        sum(1 for o in outs.values() if any(st == "retry" for _, st, _, _ in o)) >= 8)
EOF
while read -r v name; do
	if [ "$v" = ok ]; then ok "$name"; else fail "$name"; fi
done <"$T/verdicts"
check "the log says the channel recovered" grep -q "channel recovered" "$O_LOG"
stop_iopd O
check "SIGTERM: exit 0" test "$IOPD_RC" -eq 0
check "no sanitizer report" sanitizer_clean "$O_LOG"
finish
