#!/bin/bash
# admin_overrides.sh - overrides that tell the truth, and `iopd agenda` with
# the ledger (issue 11, items 4 and 5), with the real daemon, a Twilio-like
# peer and inbound replies.  Faked clock from 2026-12-01 16:58:00 UTC, six
# times as fast.
#
# Proves:
#   * iopctl resume of a patient `paused = true` in the file: exit 1, "stays
#     paused", naming FILE:LINE of its entry; a pause set with iopctl on top
#     is lifted, the configuration's holds;
#   * iopctl opt-in of a patient who texted STOP: exit 1, "only their START
#     lifts it", the opt-out stays; the same for one the gateway reported
#     (Twilio 21610) while inbound would hear the START;
#   * pause --until --reason: recorded with the user name and uid of the
#     caller (SO_PEERCRED), its reason and end; the reminder before the end
#     is skipped:paused, the daemon lifts the pause at its end (recorded, by
#     iopd), the reminder after it is sent;
#   * history: sends and overrides merged in time order, in the patient's
#     zone (text "-06:00"; JSON UTC + *_local, by, uid, reason, until);
#   * iopd agenda: without a ledger, byte for byte what --no-ledger prints;
#     beside the running daemon, skipped:paused / skipped:opt-out from its
#     overrides, a header line (table) or a stderr line (JSON lines stay
#     JSON); after the stop, the ledger's statuses (sent); never a file
#     made in state_dir, never a -wal or -shm touched.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "admin_overrides.sh: daemon_lib.sh not found" >&2; exit 99; }
for m in sms webhook; do
	[ -f "$IOPD_PLUGIN_DIR/$m.so" ] || skip_all "no $m.so in $IOPD_PLUGIN_DIR"
done

PORT=$(free_port)
LISTEN=http://127.0.0.1:$PORT
PUBLIC=https://iopd.example.org
start_twilio
start_webhook
secret_file tw.tok "$TWILIO_TOKEN"
CONF=$T/iopd.conf
STATE=$T/d.state
{
	iopd_daemon_block d
	cat <<EOF
channels = (
  { name = "sms"; module = "sms"; api = "twilio"; url = "$TWILIO_API"; account = "$TWILIO_SID";
    token_file = "$T/tw.tok"; from = "+15550001111"; timeout = "5s"; },
  { name = "hook"; module = "webhook"; url = "$WEBHOOK_URL/hook"; timeout = "5s"; }
);
inbound = { listen = "127.0.0.1:$PORT"; public_url = "$PUBLIC"; };
templates = { session = { sms = "s"; }; medication = { sms = "Time for your {label}."; };
              aftercare = { sms = "a"; }; };
programs = ( { id = "op"; name = "Op"; kind = "OP"; timezone = "UTC"; weeks = 200;
               sessions = ( { id = "g"; type = "group"; days = ["sat"]; start = "23:00"; duration = "1h"; } ); } );
patients = (
  { id = "p-cfg"; first_name = "Cfg"; program = "op"; start = "2026-12-01"; paused = true; medications = ( { label = "dose"; times = ["17:00"]; channels = ["hook"]; } ); },
  { id = "p-1"; first_name = "Una"; phone = "+15557770001"; program = "op"; start = "2026-12-01"; medications = ( { label = "dose"; times = ["18:30"]; channels = ["sms"]; } ); },
  { id = "p-gw"; first_name = "Gw"; phone = "+15557721610"; program = "op"; start = "2026-12-01"; medications = ( { label = "dose"; times = ["16:59"]; channels = ["sms"]; } ); },
  { id = "p-chi"; first_name = "Chi"; timezone = "America/Chicago"; program = "op"; start = "2026-12-01";
    medications = ( { label = "dose"; times = ["11:00", "11:02"]; channels = ["hook"]; } ); }
);
EOF
} >"$CONF"
chmod 600 "$CONF"
CFG_LINE=$(grep -n 'id = "p-cfg"' "$CONF" | cut -d: -f1)
FROM=2026-12-01T16:00:00Z
TO=2026-12-01T19:00:00Z
ME=$(id -un)
MYUID=$(id -u)
listing() { (cd "$STATE" && find . -printf '%p %i\n' | sort); }   # names and inodes: made or replaced
json_lines() { "$PY" -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$1"; }

# --- iopd agenda without a ledger: exactly the configuration's -------------------
env TZ=UTC "$IOPD" agenda -c "$CONF" --from $FROM --to $TO >"$T/a0.jsonl" 2>"$T/a0.err"
env TZ=UTC "$IOPD" agenda -c "$CONF" --from $FROM --to $TO --no-ledger >"$T/a0n.jsonl"
env TZ=UTC "$IOPD" agenda -c "$CONF" --from $FROM --to $TO --format table >"$T/a0.txt"
env TZ=UTC "$IOPD" agenda -c "$CONF" --from $FROM --to $TO --format table --no-ledger >"$T/a0n.txt"
check "no ledger: the same JSON lines as --no-ledger, nothing on stderr" \
	sh -c "cmp -s '$T/a0.jsonl' '$T/a0n.jsonl' && [ ! -s '$T/a0.err' ]"
check "no ledger: the same table as --no-ledger" cmp -s "$T/a0.txt" "$T/a0n.txt"
check "no ledger: state_dir left empty" test -z "$(ls -A "$STATE")"
id_of() { jsonl_field "$T/a0.jsonl" 'r["id"]' "r['patient'] == '$1' and r['due'] == '$2'"; }
CHI1=$(id_of p-chi 2026-12-01T17:00:00Z)
CHI2=$(id_of p-chi 2026-12-01T17:02:00Z)
GW=$(id_of p-gw 2026-12-01T16:59:00Z)
check "the agenda has p-chi's two prompts" test -n "$CHI1" -a -n "$CHI2"

start_iopd D "$CONF" '2026-12-01 16:58:00' x6

# --- resume against the configuration ------------------------------------------------
RC=0; ctl D resume p-cfg >"$T/r1.out" 2>"$T/r1.err" || RC=$?
check "resume of a patient paused = true in the file: exit 1" test "$RC" = 1
check "... says it stays paused, and where ($CONF:$CFG_LINE)" \
	grep -qF "p-cfg stays paused: paused = true in its entry at $CONF:$CFG_LINE holds it" "$T/r1.err"
check "... nothing recorded" test "$(sql D "SELECT count(*) FROM override_log WHERE patient = 'p-cfg'")" = 0
RC=0; ctl D pause p-cfg --reason "on leave" >"$T/p1.out" 2>&1 || RC=$?
check "pause on top of it: exit 0, saying the configuration's pause holds after it" \
	sh -c "[ $RC = 0 ] && grep -qF 'the configuration pauses p-cfg as well' '$T/p1.out'"
RC=0; ctl D resume p-cfg >"$T/r2.out" 2>"$T/r2.err" || RC=$?
check "resume again: exit 1, the one set with iopctl lifted, the file's holds" \
	sh -c "[ $RC = 1 ] && grep -qF 'the one set with iopctl is lifted' '$T/r2.err'"
check "... both recorded (pause, resume)" \
	test "$(sql D "SELECT group_concat(on_, ',') FROM (SELECT on_ FROM override_log WHERE patient = 'p-cfg' ORDER BY rowid) AS x")" = "1,0"

# --- pause --until --reason --------------------------------------------------------
RC=0; ctl D pause p-chi --until 2026-12-01T17:01:00Z --reason "in hospital" >"$T/p2.out" 2>&1 || RC=$?
check "pause --until: exit 0, the end in the patient's time" \
	sh -c "[ $RC = 0 ] && grep -qF 'p-chi: paused from the next send until 2026-12-01T11:01:00-06:00' '$T/p2.out'"
check "... recorded with its author ($ME, uid $MYUID), reason and end" \
	test "$(sql D "SELECT author, uid, reason, until, origin FROM override WHERE patient = 'p-chi'")" = \
	"$ME|$MYUID|in hospital|$(epoch '2026-12-01 17:01:00')|staff"
RC=0; ctl D pause p-chi --until 2026-11-30 >/dev/null 2>"$T/p3.err" || RC=$?
check "an end in the past: exit 1" sh -c "[ $RC = 1 ] && grep -q 'not in the future' '$T/p3.err'"
RC=0; ctl D opt-out p-1 hook --until 2026-12-02 >/dev/null 2>&1 || RC=$?
check "opt-out takes no --until: exit 2" test "$RC" = 2

# --- iopd agenda beside the running daemon ---------------------------------------------
ctl D opt-out p-1 sms --reason "asked at the desk" >/dev/null
before=$(listing)
env TZ=UTC "$IOPD" agenda -c "$CONF" --from $FROM --to $TO >"$T/a1.jsonl" 2>"$T/a1.err"
env TZ=UTC "$IOPD" agenda -c "$CONF" --from $FROM --to $TO --format table >"$T/a1.txt" 2>"$T/a1t.err"
env TZ=UTC "$IOPD" agenda -c "$CONF" --from $FROM --to $TO --no-ledger >"$T/a1n.jsonl"
add_log "$T/a1.err" "$T/a1.txt"
st() { jsonl_field "$1" 'r["status"]' "r['id'] == '$2'"; }
check "running: p-chi's prompt before the pause's end: skipped:paused" test "$(st "$T/a1.jsonl" "$CHI1")" = skipped:paused
check "... the one after it: scheduled" test "$(st "$T/a1.jsonl" "$CHI2")" = scheduled
check "... p-1 opted out of sms with iopctl: skipped:opt-out" \
	test "$(jsonl_field "$T/a1.jsonl" 'r["status"]' 'r["patient"] == "p-1"')" = skipped:opt-out
check "... every line is a JSON object" json_lines "$T/a1.jsonl"
check "... the same ids in the same order as --no-ledger" \
	test "$(jsonl_field "$T/a1.jsonl" 'r["id"]' | tr '\n' ' ')" = "$(jsonl_field "$T/a1n.jsonl" 'r["id"]' | tr '\n' ' ')"
check "... --no-ledger: scheduled" test "$(st "$T/a1n.jsonl" "$CHI1")" = scheduled
if is_pg; then LEDGER_NAME="in PostgreSQL"; else LEDGER_NAME=$STATE/ledger.db; fi
check "... JSON lines: the ledger named on stderr" grep -q "^iopd agenda: statuses include the ledger $LEDGER_NAME as of .*: what it recorded, and 2 pauses and opt-outs in force" "$T/a1.err"
check "... table: a first line saying so" grep -q "^# statuses include the ledger $LEDGER_NAME" <(head -n 1 "$T/a1.txt")
check "... table: nothing on stderr" test ! -s "$T/a1t.err"
check "... no file made or changed in state_dir by iopd agenda" test "$(listing)" = "$before"

# --- a patient's STOP, and the gateway's 21610 ------------------------------------------
post() { "$PY" "$RIG_DIR/twilio_post.py" --listen "$LISTEN" --public "$PUBLIC" --token "$TWILIO_TOKEN" --path "$@"; }
check "STOP from p-1's phone: taken" test "$(post /sms/sms/reply From=+15557770001 To=+15550001111 Body=STOP MessageSid=SMin1)" = "200 <Response/>"
check "... p-1 is opted out of sms by the reply now (it was staff's: staff's stays)" \
	test "$(sql D "SELECT origin FROM override WHERE patient = 'p-1' AND channel = 'sms'")" = staff
ctl D opt-in p-1 sms >/dev/null
check "staff's opt-in lifts staff's opt-out" test -z "$(sql D "SELECT 1 FROM override WHERE patient = 'p-1' AND channel = 'sms'")"
post /sms/sms/reply From=+15557770001 To=+15550001111 Body=STOP MessageSid=SMin2 >/dev/null
check "a second STOP: opted out by the reply" test "$(sql D "SELECT origin FROM override WHERE patient = 'p-1' AND channel = 'sms'")" = reply
RC=0; ctl D opt-in p-1 sms >"$T/o1.out" 2>"$T/o1.err" || RC=$?
check "opt-in after the patient's STOP: exit 1" test "$RC" = 1
check "... says only their START lifts it" grep -qF "p-1 opted out of sms by texting STOP: only their START lifts it" "$T/o1.err"
check "... the opt-out stays the reply's" test "$(sql D "SELECT origin FROM override WHERE patient = 'p-1' AND channel = 'sms'")" = reply
RC=0; ctl D --json opt-in p-1 sms >"$T/o1j.out" 2>&1 || RC=$?
check "... in JSON too: ok false" sh -c "[ $RC = 1 ] && grep -q '\"ok\":false' '$T/o1j.out'"
wait_status D "$GW" failed 30 || true
check "p-gw's prompt: refused by the gateway (21610)" grep -q 21610 <<<"$(rec D "$GW" reason)"
waitfor "[ \"\$(sql D \"SELECT origin FROM override WHERE patient = 'p-gw'\")\" = gateway ]" 10 || true
RC=0; ctl D opt-in p-gw sms >"$T/o2.out" 2>"$T/o2.err" || RC=$?
check "opt-in of a number the gateway reported unsubscribed (inbound on): exit 1" test "$RC" = 1
check "... says the gateway refuses until the patient's START" grep -q "reported p-gw's number as unsubscribed" "$T/o2.err"
check "... the opt-out stays" test "$(sql D "SELECT origin FROM override WHERE patient = 'p-gw'")" = gateway
RC=0; ctl D opt-in p-chi hook >"$T/o3.out" 2>&1 || RC=$?
check "opt-in of a patient not opted out: exit 0, nothing changed" \
	sh -c "[ $RC = 0 ] && grep -qF 'p-chi was not opted out of hook: nothing changed' '$T/o3.out'"

# --- the pause's end, the sends around it --------------------------------------------
wait_status D "$CHI1" skipped 40 || true
check "17:00Z (11:00 in Chicago): skipped, paused" test "$(rec D "$CHI1" 'status, reason')" = "skipped|paused"
waitfor "[ \"\$(sql D \"SELECT count(*) FROM override_log WHERE patient = 'p-chi'\")\" = 2 ]" 30 || true
check "17:01Z: the daemon lifted the pause, recorded by iopd" \
	test "$(sql D "SELECT on_, source, author, at FROM override_log WHERE patient = 'p-chi' ORDER BY rowid LIMIT 1 OFFSET 1")" = \
	"0|pause ended|iopd|$(epoch '2026-12-01 17:01:00')"
check "... and it is no longer in force" test -z "$(sql D "SELECT 1 FROM override WHERE patient = 'p-chi'")"
wait_status D "$CHI2" sent 30 || true
check "17:02Z: sent" test "$(rec D "$CHI2" status)" = sent

# --- history, merged and in the patient's zone -----------------------------------------
ctl D history p-chi >"$T/h.txt"
ctl D --json history p-chi >"$T/h.jsonl"
add_log "$T/h.txt" "$T/h.jsonl"
check "history (text): pause, skipped, pause ended, sent, in that order" "$PY" - "$T/h.txt" "$CHI1" "$CHI2" "$ME" "$MYUID" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
body = [l for l in lines[1:] if not l.startswith("(")]
want = [("paused (iopctl) by %s (uid %s) until 2026-12-01 11:01:00 -06:00: in hospital" % (sys.argv[4], sys.argv[5]), "2026-12-01 10:58:"),
        (sys.argv[2] + "  medication  hook", "2026-12-01 1"),
        ("resumed (pause ended) by iopd", "2026-12-01 11:01:00 -06:00"),
        (sys.argv[3] + "  medication  hook", "2026-12-01 11:02:")]
assert len(body) == 4, body
for (what, at), line in zip(want, body):
    assert what in line and line.startswith(at), (what, at, line)
assert " skipped " in body[1] and " sent " in body[3], body
assert lines[0].startswith("AT (patient's time)"), lines[0]
assert lines[-1] == "(times in America/Chicago, the patient's zone)", lines[-1]
EOF
check "history (JSON): UTC and local times, author, uid, reason, until" "$PY" - "$T/h.jsonl" "$ME" "$MYUID" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r.get("override") or r["status"] for r in rows] == ["paused", "skipped", "resumed", "sent"], rows
p = rows[0]
assert p["by"] == sys.argv[2] and p["uid"] == int(sys.argv[3]) and p["reason"] == "in hospital", p
assert p["until"] == "2026-12-01T17:01:00Z" and p["until_local"] == "2026-12-01T11:01:00-06:00", p
assert p["source"] == "iopctl" and p["origin"] == "staff" and p["at_local"].endswith("-06:00"), p
s = rows[1]
assert s["due"] == "2026-12-01T17:00:00Z" and s["due_local"] == "2026-12-01T11:00:00-06:00", s
assert s["at_local"][:16] in ("2026-12-01T10:59", "2026-12-01T11:00") and s["reason"] == "paused", s
assert rows[2]["by"] == "iopd" and rows[2]["uid"] is None and rows[2]["source"] == "pause ended", rows[2]
EOF

# --- a reminder years ahead, cancelled: found by a long agenda ------------------------
# More rows than the agenda looks up one by one (4,096): past them it reads
# the ledger's ids once, and this row comes after that.
LONG_TO=2029-12-01T00:00:00Z
env TZ=UTC "$IOPD" agenda -c "$CONF" --from $FROM --to $LONG_TO --no-ledger >"$T/l0.jsonl"
LATE=$(jsonl_field "$T/l0.jsonl" 'r["id"]' 'r["patient"] == "p-gw" and r["due"] == "2029-09-01T16:59:00Z"')
LATE_ROW=$(grep -n "\"$LATE\"" "$T/l0.jsonl" | cut -d: -f1)
check "the agenda to $LONG_TO has p-gw's prompt of 2029-09-01 at row $LATE_ROW (of $(wc -l <"$T/l0.jsonl")), past 4,096" \
	test -n "$LATE" -a "${LATE_ROW:-0}" -gt 4096
ctl D cancel "$LATE" --reason "moved away" >/dev/null

# --- after the stop: the ledger's statuses, read without a file made -------------------
stop_iopd D
check "SIGTERM: exit 0" test "$IOPD_RC" = 0
is_pg || check "stopped: no -wal, no -shm" test ! -e "$STATE/ledger.db-wal" -a ! -e "$STATE/ledger.db-shm"
before=$(listing)
is_pg || sum=$(cksum <"$STATE/ledger.db")
env TZ=UTC "$IOPD" agenda -c "$CONF" --from $FROM --to $TO >"$T/a2.jsonl" 2>"$T/a2.err"
check "stopped: the ledger's statuses (skipped:paused, sent)" \
	test "$(st "$T/a2.jsonl" "$CHI1") $(st "$T/a2.jsonl" "$CHI2")" = "skipped:paused sent"
check "... p-gw's prompt: failed (refused by the gateway)" \
	test "$(st "$T/a2.jsonl" "$GW")" = failed
env TZ=UTC "$IOPD" agenda -c "$CONF" --from $FROM --to $LONG_TO >"$T/l1.jsonl" 2>"$T/l1.err"
check "... the long agenda: p-gw's prompt of 2029-09-01 skipped:cancelled" \
	test "$(st "$T/l1.jsonl" "$LATE")" = skipped:cancelled
check "... and today's as in the short one (skipped:paused, sent, failed)" \
	test "$(st "$T/l1.jsonl" "$CHI1") $(st "$T/l1.jsonl" "$CHI2") $(st "$T/l1.jsonl" "$GW")" = "skipped:paused sent failed"
check "... p-gw's others: skipped:opt-out (the gateway's)" \
	test "$(jsonl_field "$T/l1.jsonl" 'r["status"]' 'r["patient"] == "p-gw"' | sort | uniq -c | awk '{print $2}' | tr '\n' ' ')" = "failed skipped:cancelled skipped:opt-out "
check "... no file made in state_dir (no -wal, no -shm)" test "$(listing)" = "$before"
is_pg || check "... the ledger's file unchanged" test "$(cksum <"$STATE/ledger.db")" = "$sum"
check "no phone number or text in the log" test -z "$(grep -E '5557770001|5557721610|Time for your' "$D_LOG")"
check "no sanitizer report" sanitizer_clean "$D_LOG"
finish
