#!/bin/sh
# probe.sh - runs in the test container once iopd.service started (see
# iopd-test-probe.service); every wait is bounded.  Writes /out/probe.txt
# (KEY=value lines and sections), /out/journal.json, then the container
# is powered off by the unit.
set -u
O=/out/probe.txt
show() { systemctl show iopd -p ActiveState -p SubState -p MainPID -p NRestarts -p Result -p StatusText; }
say() { echo "$*" >>"$O"; }
waitfor() { # SECONDS CMD...
	n=$(($1 * 10)); shift
	while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}
: >"$O"
say "## started"
waitfor 20 sh -c 'systemctl show iopd -p SubState | grep -qx SubState=running'
show | sed 's/^/start./' >>"$O"
say "## delivery"
waitfor 30 sh -c 'journalctl -u iopd -o cat --no-pager | grep -q "^sent (attempt 1"'
say "delivered=$?"
waitfor 3 sh -c 'systemctl show iopd -p StatusText --value | grep -q "today 1 sent"'
say "status.after_send=$(systemctl show iopd -p StatusText --value)"
/opt/iopd/iopctl status >/out/iopctl-status.txt 2>&1
say "iopctl_status_rc=$?"
say "## reload"
systemctl reload iopd
say "reload_rc=$?"
say "reload.active=$(systemctl show iopd -p ActiveState --value)"
waitfor 5 sh -c 'journalctl -u iopd -o cat --no-pager | grep -q "^reloaded "'
say "reload_logged=$?"
say "status.after_reload=$(systemctl show iopd -p StatusText --value)"
say "## watchdog"
pid=$(systemctl show iopd -p MainPID --value)
say "hung_pid=$pid"
kill -STOP "$pid"
waitfor 20 sh -c 'systemctl show iopd -p NRestarts --value | grep -qv "^0$"'
say "restarted=$?"
waitfor 20 sh -c "systemctl show iopd -p SubState | grep -qx SubState=running && ! systemctl show iopd -p MainPID | grep -qx MainPID=$pid"
say "running_again=$?"
show | sed 's/^/after./' >>"$O"
say "## journal"
journalctl -u iopd -o json --no-pager >/out/journal.json 2>&1
journalctl -u iopd -o short-monotonic --no-pager >/out/journal.txt 2>&1
say "system=$(systemctl is-system-running 2>&1)"
systemctl --failed --no-legend >>"$O" 2>&1
say "## end"
