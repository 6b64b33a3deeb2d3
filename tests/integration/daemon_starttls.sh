#!/bin/bash
# daemon_starttls.sh - an SMTP relay that cannot do STARTTLS is reported at
# start, not only at the first e-mail (issue 11, item 9).
#
# Three smtp channels, no reminder due: "plain" points at a relay that offers
# no STARTTLS, "tls" at one that does (its certificate trusted through
# ca_file), "mute" at a port that accepts connections and never says a word.
# Proves: at start, without waiting for any send, "plain" is logged at error
# level ("does not offer STARTTLS"), "tls" at info ("offers STARTTLS"); the
# probe blocks nothing: iopd is ready, and `iopctl status` answers at once,
# while the mute relay still holds its probe; `iopctl status` (text and
# JSON) shows plain's error with its time, and no error for tls; nothing was
# sent to either relay (no MAIL).
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "daemon_starttls.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/smtp.so" ] || skip_all "no smtp.so in $IOPD_PLUGIN_DIR"

make_certs
start_smtp PLAIN
start_smtp TLS --tls "$CERT" "$KEY"
# a relay that accepts the connection and never greets
MUTE_PORT=$(free_port)
spawn mute "$PY" -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $MUTE_PORT)); s.listen(8)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
"
waitfor "$PY -c 'import socket; socket.create_connection((\"127.0.0.1\", $MUTE_PORT), 1).close()'" 10 || true

channel() { # NAME URL [extra]
	echo "{ name = \"$1\"; module = \"smtp\"; url = \"$2\"; from = \"Clinic <noreply@clinic.example>\";
    timeout = \"20s\"; ${3:-} }"
}
{
	iopd_daemon_block d
	echo "channels = ( $(channel plain "$PLAIN_URL"), $(channel tls "$TLS_URL" "ca_file = \"$CERT\";"),
  $(channel mute "smtp://127.0.0.1:$MUTE_PORT") );"
	cat <<'EOF'
templates = { session = { sms = "Hi {first_name}, see you {day} at {time}."; }; };
programs = ( { id = "p"; timezone = "UTC"; weeks = 1;
  sessions = ( { id = "g"; days = [ "mon" ]; start = "18:00"; } );
  reminders = ( { before = "1h"; channels = [ "plain", "tls", "mute" ]; } ); } );
patients = ( { id = "p-1"; first_name = "Ana"; email = "ana@example.org"; timezone = "UTC";
  program = "p"; start = "2026-12-07"; } );
EOF
} >"$T/iopd.conf"

t0=$EPOCHREALTIME
start_iopd D "$T/iopd.conf" '2026-12-01 09:00:00'
waitfor "grep -q 'does not offer STARTTLS' '$D_LOG' && grep -q 'offers STARTTLS' '$D_LOG'" 15 || true
t1=$EPOCHREALTIME
check "plain: at start, an error: the relay does not offer STARTTLS" \
	grep -Eq "^<3>\[plain\] smtp: 127\.0\.0\.1:$PLAIN_PORT does not offer STARTTLS" "$D_LOG"
check "tls: at start, the relay offers STARTTLS (info)" \
	grep -Eq "^<6>\[tls\] smtp: 127\.0\.0\.1:$TLS_PORT offers STARTTLS" "$D_LOG"
check "tls: no error" test -z "$(grep '^<3>\[tls\]' "$D_LOG" || true)"
check "both found within 15 s of start, before any reminder is due" \
	"$PY" -c "import sys; sys.exit(not $t1 - $t0 < 15)"

# the mute relay still holds its probe: the loop answers all the same
ms0=$EPOCHREALTIME
ctl D status >"$T/status.txt"
ms1=$EPOCHREALTIME
check "status answers at once while a probe hangs ($("$PY" -c "print(int(($ms1 - $ms0) * 1000))") ms)" \
	"$PY" -c "import sys; sys.exit(not $ms1 - $ms0 < 2)"
check "mute: no verdict yet (its probe is still waiting)" test -z "$(grep '\[mute\] smtp:' "$D_LOG" || true)"
add_log "$T/status.txt"
check "status: plain's error, with its time" grep -Eq \
	"^channel plain: error at 2026-12-01T09:00:[0-9]{2}Z: smtp: 127\.0\.0\.1:$PLAIN_PORT does not offer STARTTLS" "$T/status.txt"
check "status: no error for tls" test -z "$(grep '^channel tls:' "$T/status.txt" || true)"
ctl D --json status >"$T/status.json"
add_log "$T/status.json"
check "status --json: problem of plain, null for tls and mute" "$PY" - "$T/status.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
ch = {c["name"]: c for c in s["channels"]}
p = ch["plain"]["problem"]
assert p and "does not offer STARTTLS" in p["message"] and p["at"].startswith("2026-12-01T09:00:"), p
assert ch["tls"]["problem"] is None and ch["mute"]["problem"] is None, ch
EOF
check "nothing was sent (no MAIL at either relay)" \
	test "$(cat "$PLAIN_EVENTS" "$TLS_EVENTS" 2>/dev/null | wc -l)" -eq 0
stop_iopd D
check "SIGTERM with a probe in flight: exit 0" test "$IOPD_RC" = 0
check "no sanitizer report" sanitizer_clean "$D_LOG"
finish
