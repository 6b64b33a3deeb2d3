#!/bin/sh
# demo.sh - iopd's demonstration, from a built source tree:
#
#   contrib/demo.sh              (contrib/quickstart.sh demo builds, then runs this)
#
# Runs `iopd -f` on conf/demo.conf from a fresh state: the ledger of an
# earlier run is removed first, or iopd would start by recording every
# demo prompt since then as missed (a page of "missed" lines).  The banner
# ends with the command to try next, in another terminal.
#
# IOPD (default ./iopd) and IOPD_DEMO_CONF (default conf/demo.conf) override.
set -eu
cd "$(dirname "$0")/.."
IOPD=${IOPD:-./iopd}
CONF=${IOPD_DEMO_CONF:-conf/demo.conf}
setting() { sed -n "s/^ *$1 *= *\"\\(.*\\)\";.*/\\1/p" "$CONF" | head -n 1; }
state=$(setting state_dir)
sock=$(setting control_socket)
[ -n "$state" ] && [ -n "$sock" ] || { echo "demo.sh: $CONF sets no state_dir or control_socket" >&2; exit 1; }

# a fresh ledger (only the ledger and its marker: state_dir may be any
# folder; without the marker iopd takes the missing ledger for a new one)
rm -f "$state/ledger.db" "$state/ledger.db-wal" "$state/ledger.db-shm" "$state/ledger.id"
mkdir -p "$state"
chmod 700 "$state"
chmod o-r "$CONF"             # iopd refuses patient files others can read
cat <<BANNER
iopd demo: $CONF, state in $state (fresh).
  Reminder lines appear below within a minute (the demo patient takes a
  "dose" every minute); iopd's own log lines are on stderr.  Ctrl-C stops it.
  In another terminal, try:  ./iopctl -s $sock status
BANNER
exec "$IOPD" -f -c "$CONF"
