#!/bin/bash
# daemon_rate.sh - per-channel `rate` and `concurrency` (SPEC 4.2), end to end
# with the real iopd and webhook receivers, under a fake clock (rate 1).
#
# Ten patients, each with one reminder per channel, all due at the same
# instant, on three channels:
#   paced: rate = 2, no concurrency limit given, prompt receiver
#          -> every send at least ~0.5 s after the previous one;
#   capped: concurrency = 2, no rate, receiver answers after 1 s
#          -> never more than 2 requests open at the receiver, and 2 reached;
#   both:  rate = 2, concurrency = 2, receiver answers after 1.2 s
#          -> both limits hold at once.
# All thirty are delivered, each once.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "daemon_rate.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/webhook.so" ] || skip_all "no webhook.so in $IOPD_PLUGIN_DIR"

start_webhook PACED
start_webhook CAPPED --delay 1
start_webhook BOTH --delay 1.2
START='2026-12-01 16:59:56'
DUE=$(epoch '2026-12-01 17:00:00')
pts=
for i in 0 1 2 3 4 5 6 7 8 9; do
	pts="$pts${pts:+,
  }{ id = \"p-$i\"; first_name = \"P\"; program = \"prog\"; start = \"2026-12-01\"; }"
done
{
	iopd_daemon_block d
	echo "channels = (
  { name = \"paced\"; module = \"webhook\"; url = \"$PACED_URL/hooks\"; rate = 2.0; timeout = \"5s\"; },
  { name = \"capped\"; module = \"webhook\"; url = \"$CAPPED_URL/hooks\"; concurrency = 2; timeout = \"5s\"; },
  { name = \"both\"; module = \"webhook\"; url = \"$BOTH_URL/hooks\"; rate = 2.0; concurrency = 2; timeout = \"5s\"; } );"
	cat <<'EOF'
templates = { session = { sms = "s"; }; medication = { sms = "m"; }; aftercare = { sms = "a"; }; };
programs = ( { id = "prog"; name = "Program"; kind = "IOP"; timezone = "UTC"; weeks = 1;
  sessions = ( { id = "grp"; type = "group"; days = ["tue"]; start = "18:00"; duration = "1h"; } );
  reminders = ( { before = "1h"; channels = ["paced", "capped", "both"]; } ); } );
EOF
	echo "patients = ( $pts );"
} >"$T/iopd.conf"

start_iopd D "$T/iopd.conf" "$START"
OFF=$(to_fake D 0)
waitfor "[ \$(sql D \"SELECT count(*) FROM reminder WHERE status = 'sent'\") -eq 30 ]" 20 || true
check "all 30 sent, each on its first attempt" \
	test "$(sql D "SELECT count(*) FROM reminder WHERE status = 'sent' AND attempts = 1")" = 30

# spacing LOG -> the gaps between consecutive arrivals (fake seconds); overlap
# LOG DELAY -> the most requests open at once at the receiver
analyse() { # LOG DELAY RATE MAXCONC
	"$PY" - "$@" "$OFF" "$DUE" <<'EOF'
import json, sys
log, delay, rate, maxc, off, due = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
recs = [json.loads(l) for l in open(log)]
t = sorted(r["t"] + off for r in recs)
keys = [r["idempotency_key"] for r in recs]
assert len(t) == 10 and len(set(keys)) == 10, (len(t), len(set(keys)))
assert t[0] >= due - 0.05 and t[0] - due < 1.0, ("first send not at due", t[0] - due)
gaps = [b - a for a, b in zip(t, t[1:])]
if rate:
    # the bucket paces the STARTS of sends 1/rate apart; each request then
    # waits for its claim to be committed (an fsync) and for the receiver's
    # thread, so arrivals jitter by up to ~0.1 s under load: a gap may look
    # shorter when the previous request was late.  A burst (gap ~0, as with a
    # bucket of `rate` tokens) is what this catches; the average is exact.
    assert min(gaps) >= 0.6 / rate, ("rate exceeded", ["%.3f" % g for g in gaps])
    assert t[-1] - t[0] >= 9 / rate - 0.1, ("faster than rate on average", t[-1] - t[0])
    # and not much slower either, when nothing else limits it
    if not delay:
        assert t[-1] - t[0] <= 9 / rate + 0.5, ("too slow", t[-1] - t[0])
if delay:
    # open at x: arrived at or before x, answered (delay later) after x
    conc = [sum(1 for a in t if a <= x + 1e-6 and x < a + delay - 0.05) for x in t]
    assert max(conc) <= maxc, ("concurrency exceeded", conc)
    assert max(conc) == maxc, ("never reached the limit", conc)
print("gaps " + " ".join("%.2f" % g for g in gaps))
EOF
}
check "paced (rate 2): sends 0.5 s apart, no burst" analyse "$PACED_LOG" 0 2 0
check "capped (concurrency 2): at most 2 open, and 2 reached" analyse "$CAPPED_LOG" 1 0 2
check "both (rate 2, concurrency 2): both hold" analyse "$BOTH_LOG" 1.2 2 2

stop_iopd D
check "SIGTERM: exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$D_LOG"
finish
