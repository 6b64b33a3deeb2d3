#!/bin/bash
# nspawn.sh - iopd under a real systemd: boots the host's own /usr in a
# throw-away systemd-nspawn container (tmpfs root, private network) with
# iopd's unit, sysusers and tmpfiles files as built, and the binaries and
# plugins of this build in /opt/iopd.  Inside (tests/system/probe.sh):
#
#   sysusers makes user and group iopd; the configuration goes in as
#     root:iopd 0640 (iopd-test-setup.service, tests/system/setup.sh)
#   iopd.service (ExecStartPre= iopd -t, Type=notify, the full sandbox,
#     LoadCredential=) starts and reaches active/running
#   a reminder falling due a few seconds after boot is delivered (console
#     channel); a channel of the example plugin reads its secret through
#     token_credential from $CREDENTIALS_DIRECTORY
#   `systemctl reload iopd` (ExecReload= iopctl reload) works and the
#     journal says reloaded; STATUS= reaches systemd's StatusText
#   the journal holds IOPD_REMINDER_ID, IOPD_PATIENT_ID, IOPD_CHANNEL,
#     PRIORITY on iopd's lines
#   a hung loop (SIGSTOP of MainPID) is killed by the watchdog (a drop-in
#     sets WatchdogSec=2s) and restarted: NRestarts >= 1, result 'watchdog'
#
# Needs root, systemd and systemd-container (apt-get install systemd
# systemd-container); exit 77 (SKIP) without them.  About 15-25 s.
# Run by `make check` from the top build directory.
set -eu
for d in "$(dirname "$0")/../integration" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/ops_lib.sh" ] && { . "$d/ops_lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "nspawn.sh: ops_lib.sh not found" >&2; exit 99; }
SYS_DIR=$TESTS_DIR/system
ops_need_build
[ "$(id -u)" -eq 0 ] || skip_all "needs root (systemd-nspawn)"
need systemd-nspawn systemctl journalctl timeout
[ -x /lib/systemd/systemd ] || [ -x /usr/lib/systemd/systemd ] || skip_all "no systemd to boot"
[ -d /sys/fs/cgroup ] || skip_all "no cgroup file system"
for f in contrib/iopd.service contrib/sysusers.d/iopd.conf contrib/tmpfiles.d/iopd.conf; do
	[ -f "$IOPD_BUILDDIR/$f" ] || skip_all "no $IOPD_BUILDDIR/$f (run make first)"
done

D=$T/ns
mkdir -p "$D/out" "$D/opt/plugins" "$D/srv" "$D/credstore" "$D/iopd.service.d"
chmod 755 "$D" "$D/opt" "$D/opt/plugins" "$D/srv"
chmod 700 "$D/credstore"
chmod 777 "$D/out"

# /opt/iopd: this build's binaries, modules and plugins (the container's
# /usr is the host's, read-only, so they live here; the unit's paths are
# moved along, and IOPD_NETMOD and IOPD_PHONEMOD name the modules).
install -m 0755 "$IOPD" "$IOPCTL" "$IOPD_BUILDDIR/daemon/.libs/net.so" \
	"$IOPD_BUILDDIR/daemon/.libs/phone.so" "$D/opt/"
install -m 0755 "$IOPD_PLUGIN_DIR/console.so" "$IOPD_PLUGIN_DIR/example.so" "$D/opt/plugins/"
sed -E -e 's#^(Exec[A-Za-z]*=)/[^ ]*/(iopd|iopctl)( |$)#\1/opt/iopd/\2\3#' \
	-e 's# -c /[^ ]*/iopd/iopd\.conf# -c /etc/iopd/iopd.conf#' \
	"$IOPD_BUILDDIR/contrib/iopd.service" >"$D/iopd.service"
sed -E 's#^d /[^ ]*/iopd#d /etc/iopd#' "$IOPD_BUILDDIR/contrib/tmpfiles.d/iopd.conf" >"$D/tmpfiles.conf"
cp "$IOPD_BUILDDIR/contrib/sysusers.d/iopd.conf" "$D/sysusers.conf"
add_log "$D/iopd.service"
check "the unit runs /opt/iopd/iopd on /etc/iopd/iopd.conf" \
	grep -qx 'ExecStart=/opt/iopd/iopd -f -c /etc/iopd/iopd.conf' "$D/iopd.service"

# The watchdog test's drop-in: 2 s, a quick restart, no core dump, and a
# bounded wait for the SIGABRT'd process.  ASan builds: no leak check at
# the watchdog's abort (LeakSanitizer needs ptrace, which the sandbox denies).
cat >"$D/iopd.service.d/test.conf" <<'EOF'
[Service]
WatchdogSec=2s
RestartSec=1s
TimeoutAbortSec=5s
LimitCORE=0
Environment=ASAN_OPTIONS=detect_leaks=0
Environment=IOPD_NETMOD=/opt/iopd/net.so
Environment=IOPD_PHONEMOD=/opt/iopd/phone.so
EOF

# The secret of the example channel, as systemd's credential store holds it.
printf 'nspawn-test-secret\n' >"$D/credstore/iopd-webhook"
chmod 600 "$D/credstore/iopd-webhook"

# The configuration, with @AT@/@BEFORE@/@DAY@ filled in at boot (setup.sh).
cat >"$D/srv/iopd.conf.in" <<'EOF'
daemon = {
  timezone = "UTC";
  plugin_dir = "/opt/iopd/plugins";
  quiet_hours = { from = "00:00"; to = "00:00"; };
};
channels = (
  { name = "term"; module = "console"; },
  { name = "try"; module = "example"; token_credential = "webhook"; }
);
templates = { session = { sms = "Hi {first_name}, see you {day} at {time}."; }; };
programs = ( { id = "op"; name = "Outpatient"; kind = "OP"; weeks = 1; sessions = ( );
               reminders = ( { before = "1h"; channels = [ "term" ]; } ); } );
patients = (
  { id = "p-0042"; first_name = "Alex"; phone = "+12125554567"; program = "op"; start = "@DAY@";
    appointments = ( { id = "a1"; at = "@AT@"; type = "individual"; duration = "1h";
                       reminders = ( { before = "@BEFORE@"; channels = [ "term" ]; } ); } ); }
);
EOF
echo 4 >"$D/srv/due_in"
cp "$SYS_DIR/setup.sh" "$SYS_DIR/probe.sh" "$D/srv/"
chmod 644 "$D/srv/"*

MACHINE=iopdtest$$
t0=$(now_epoch)
rc=0
# Real systemd: the container runs on the machine's clock, not the test
# runner's (never compared with it); a runner's libfaketime stays out.
without_faketime timeout -k 5 90 systemd-nspawn --register=no --keep-unit -q -D / --volatile=yes \
	--private-network --machine="$MACHINE" \
	--bind="$D/out:/out" \
	--bind-ro="$D/iopd.service:/etc/systemd/system/iopd.service" \
	--bind-ro="$D/iopd.service.d:/etc/systemd/system/iopd.service.d" \
	--bind-ro="$SYS_DIR/iopd-test.target:/etc/systemd/system/iopd-test.target" \
	--bind-ro="$SYS_DIR/iopd-test-setup.service:/etc/systemd/system/iopd-test-setup.service" \
	--bind-ro="$SYS_DIR/iopd-test-probe.service:/etc/systemd/system/iopd-test-probe.service" \
	--bind-ro=/dev/null:/etc/systemd/system/systemd-networkd-wait-online.service \
	--bind-ro="$D/sysusers.conf:/etc/sysusers.d/iopd.conf" \
	--bind-ro="$D/tmpfiles.conf:/etc/tmpfiles.d/iopd.conf" \
	--bind-ro="$D/credstore:/etc/credstore" \
	--bind-ro="$D/opt:/opt/iopd" --bind-ro="$D/srv:/srv/iopd-test" \
	-b systemd.firstboot=off systemd.unit=iopd-test.target >"$D/out/console.log" 2>&1 || rc=$?
t1=$(now_epoch)
echo "# nspawn rc=$rc after $((${t1%.*} - ${t0%.*})) s"
add_log "$D/out/console.log" "$D/out/probe.txt" "$D/out/journal.txt" "$D/out/setup.txt"
P=$D/out/probe.txt
[ -s "$P" ] || { cat "$D/out/console.log" >&2; fail "the container ran the probe"; finish; }
check "the container booted and powered off (nspawn exit 0)" test "$rc" -eq 0
check "the probe finished" grep -qx '## end' "$P"
val() { sed -n "s/^$1=//p" "$P" | head -n 1; }

# --- set-up: sysusers, tmpfiles, the admin's modes ------------------------
check "sysusers made user iopd" grep -q '^iopd:x:[0-9]*:[0-9]*:' "$D/out/setup.txt"
check "the configuration is root:iopd 0640" grep -qx 'config: root:iopd 640' "$D/out/setup.txt"
check "/etc/iopd is root:iopd 0750" grep -qx 'etc/iopd: root:iopd 750' "$D/out/setup.txt"

# --- started, delivered ---------------------------------------------------------
check "iopd.service reached active/running" \
	sh -c "grep -qx 'start.ActiveState=active' '$P' && grep -qx 'start.SubState=running' '$P'"
check "StatusText= is iopd's STATUS= line" grep -Eq '^start.StatusText=[0-9]+ series scheduled, next due ' "$P"
check "the reminder was delivered" test "$(val delivered)" = 0
check "STATUS= counts it: today 1 sent" grep -Eq '^status.after_send=.*today 1 sent' "$P"
check "iopctl status answers inside the sandbox" test "$(val iopctl_status_rc)" = 0
check "the console line is in the journal (stdout)" \
	grep -Eq 'term p-0042 appointment [0-9a-f]{16}: Hi Alex, see you' "$D/out/journal.txt"
check "ExecStartPre= ran the check" grep -q 'iopd.conf: ok: 1 programs, 1 patients, 2 channels' "$D/out/journal.txt"

# --- reload -------------------------------------------------------------------
check "systemctl reload iopd: exit 0" test "$(val reload_rc)" = 0
check "still active after the reload" test "$(val reload.active)" = active
check "the journal says reloaded" test "$(val reload_logged)" = 0

# --- the journal's fields --------------------------------------------------------
J=$D/out/journal.json
add_log "$J"
jf() { jsonl_count "$J" "$1"; }
check "journal: the send carries IOPD_REMINDER_ID, IOPD_PATIENT_ID, IOPD_CHANNEL, PRIORITY" \
	test "$(jf 'r.get("MESSAGE", "").startswith("sent (attempt 1") and r.get("IOPD_PATIENT_ID") == "p-0042" and r.get("IOPD_CHANNEL") == "term" and len(r.get("IOPD_REMINDER_ID", "")) == 16 and r.get("PRIORITY") == "6" and r.get("_SYSTEMD_UNIT") == "iopd.service"')" -ge 1
check "journal: iopd's lines are its own (SYSLOG_IDENTIFIER=iopd)" \
	test "$(jf 'r.get("SYSLOG_IDENTIFIER") == "iopd" and r.get("MESSAGE", "").startswith("iopd ")')" -ge 1
check "journal: the reload at notice" \
	test "$(jf 'r.get("MESSAGE", "").startswith("reloaded ") and r.get("PRIORITY") == "5"')" -ge 1
check "journal: no phone number, name or text in iopd's log lines (the console channel's stdout aside)" \
	test "$(jf 'r.get("_TRANSPORT") != "stdout" and r.get("_SYSTEMD_UNIT") == "iopd.service" and ("5551234" in str(r.get("MESSAGE")) or "Alex" in str(r.get("MESSAGE")) or "see you" in str(r.get("MESSAGE")))')" -eq 0
check "journal: no warnings from systemd about the unit" \
	test "$(jf 'r.get("_SYSTEMD_UNIT") == "iopd.service" and r.get("SYSLOG_IDENTIFIER", "").startswith("(")')" -eq 0

# --- the watchdog -----------------------------------------------------------
check "the hung iopd was restarted (NRestarts >= 1)" \
	sh -c "[ '$(val restarted)' = 0 ] && grep -Eqx 'after.NRestarts=[1-9][0-9]*' '$P'"
check "and runs again, with a new MainPID" test "$(val running_again)" = 0
check "systemd saw the watchdog time out" grep -q 'Watchdog timeout' "$D/out/journal.txt"
check "result 'watchdog'" grep -q "Failed with result 'watchdog'" "$D/out/journal.txt"
check "no unit failed in the container" \
	test -z "$(sed -n '/^system=/,/^## end/p' "$P" | grep -v '^system=\|^## end')"
finish
