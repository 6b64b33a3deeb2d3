#!/bin/bash
# ops_man.sh - the man pages as built (man/*.[578] from man/*.in):
#
#   no warnings from groff -ww (and man --warnings, when man is installed)
#   a NAME line whatis/apropos can read (lexgrog, when installed)
#   no @VAR@ left
#   complete against the code: every key of the daemon group (conf.c),
#     every iopd option (main.c), every iopctl command (iopctl.c), every
#     module key of the shipped plugins, every host service of plugin.h
#
# Run by `make check` from the top build directory (sources from $srcdir).
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/ops_lib.sh" ] && { . "$d/ops_lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "ops_man.sh: ops_lib.sh not found" >&2; exit 99; }
need groff
SRC=$(cd "$TESTS_DIR/.." && pwd)
PAGES="iopd.8 iopctl.8 iopd.conf.5 iopd-plugin.7"
for p in $PAGES; do
	[ -f "$IOPD_BUILDDIR/man/$p" ] || skip_all "no $IOPD_BUILDDIR/man/$p (run make first)"
done

for p in $PAGES; do
	f=$IOPD_BUILDDIR/man/$p
	out=$(groff -ww -z -man "$f" 2>&1) || true
	check "$p: groff -ww -z: no warnings${out:+ ($out)}" test -z "$out"
	if command -v man >/dev/null; then
		# (without a runner's libfaketime: it cannot open its semaphore
		# in man's seccomp sandbox, and says so on stderr)
		out=$(without_faketime env MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null) || true
		check "$p: man --warnings: no warnings${out:+ ($out)}" test -z "$out"
	fi
	if command -v lexgrog >/dev/null; then
		check "$p: whatis can read its NAME" sh -c "lexgrog '$f' >/dev/null"
	fi
	check "$p: no @VAR@ left" sh -c "! grep -n '@[A-Za-z_]*@' '$f'"
	check "$p.in: no paths of a developer's machine" \
		sh -c "! grep -Eq '/work/|/home/|/tmp/|/shared' '$SRC/man/$p.in'"
done

# the rendered text, to look words up in
text() { groff -man -Tutf8 -rLL=2000n -rHY=0 -P-cbou "$IOPD_BUILDDIR/man/$1" 2>/dev/null | tr -s ' \n' ' '; }
CONF5=$(text iopd.conf.5)
IOPD8=$(text iopd.8)
CTL8=$(text iopctl.8)
PLUG7=$(text iopd-plugin.7)

# every key of `daemon = {...}` (conf.c) is in iopd.conf(5)
keys=$(sed -n '/daemon_keys\[\] = {/,/};/p' "$SRC/daemon/conf.c" | grep -o '"[a-z_]*"' | tr -d '"')
check "conf.c's daemon keys found ($(echo $keys | wc -w))" test "$(echo $keys | wc -w)" -ge 10
for k in $keys; do
	check "iopd.conf(5) documents daemon.$k" grep -q " $k " <<<"$CONF5 "
done
# every key of programs, sessions, rules, aftercare, patients, appointments, medications
for arr in program_keys session_keys rule_keys aftercare_keys patient_keys appt_keys med_keys; do
	for k in $(sed -n "/ $arr\[\] = {/,/};/p" "$SRC"/daemon/conf_p*.c | grep -o '"[a-z_]*"' | tr -d '"'); do
		check "iopd.conf(5) documents $k ($arr)" grep -q "$k" <<<"$CONF5"
	done
done
# every module key of the shipped plugins, and the common ones
for m in sms smtp webhook console; do
	for k in $(sed -n "/${m}_keys\[\] = {/,/};/p" "$SRC/plugins/$m/$m.c" | grep -o '"[a-z_]*"' | tr -d '"'); do
		check "iopd.conf(5) documents $m's key $k" grep -q "$k" <<<"$CONF5"
	done
done
for k in name module rate concurrency timeout insecure_tls token_file token_credential; do
	check "iopd.conf(5) documents the common channel key $k" grep -q " $k " <<<"$CONF5"
done
for s in scheduled skipped:paused skipped:opt-out skipped:no-contact skipped:quiet-hours \
	inflight retry sent failed expired missed; do
	check "iopd.conf(5) explains the status $s" grep -q "$s" <<<"$CONF5"
done
for ph in first_name date day time location label clinic_phone; do
	check "iopd.conf(5) lists the placeholder {$ph}" grep -qF "{$ph}" <<<"$CONF5"
done

# every option of iopd (the daemon's getopt string in main.c, and every long
# option of its commands) is in iopd(8)
opts=$(sed -n '/^static int daemon_args/,/^}/s/.*getopt_long(argc, argv, "\([^"]*\)".*/\1/p' "$SRC/daemon/main.c" | tr -d ':' | fold -w1 | sort -u)
check "main.c's options found ($(echo $opts | wc -w))" test "$(echo $opts | wc -w)" -ge 7
for o in $opts; do
	check "iopd(8) documents -$o" grep -q -- "-$o" <<<"$IOPD8"
done
longs=$(grep -o '{"[a-z-]*", [a-z_]*_argument' "$SRC/daemon/main.c" | grep -o '"[a-z-]*"' | tr -d '"' | sort -u)
check "main.c's long options found ($(echo $longs | wc -w))" test "$(echo $longs | wc -w)" -ge 12
for o in $longs; do
	check "iopd(8) documents --$o" grep -q -- "--$o" <<<"$IOPD8"
done
for w in SIGTERM SIGHUP READY=1 STATUS= WATCHDOG=1 RELOADING=1 STOPPING=1 IOPD_PLUGIN_DIR \
	CREDENTIALS_DIRECTORY NOTIFY_SOCKET JOURNAL_STREAM IOPD_REMINDER_ID IOPD_PATIENT_ID \
	IOPD_CHANNEL "EXIT STATUS" FILES agenda render locales-all iopd.log; do
	check "iopd(8) covers $w" grep -qF -- "$w" <<<"$IOPD8"
done

# every iopctl command (its command table) and exit status is in iopctl(8)
cmds=$(sed -n '/ commands\[\] = {/,/};/p' "$SRC/tools/iopctl.c" | grep -o '{"[a-z-]*"' | tr -d '{"')
check "iopctl.c's commands found ($(echo $cmds | wc -w))" test "$(echo $cmds | wc -w)" -ge 9
for c in $cmds agenda; do
	check "iopctl(8) documents $c" grep -q " $c" <<<"$CTL8"
done
for w in --json --socket --help --version IOPD_CONTROL_SOCKET "EXIT STATUS" iopd_reminders_total \
	iopd_delivery_latency_seconds iopd_retries_total iopd_ledger_bytes iopd_reloads_total \
	iopd_scheduled_series iopd_loop_stall_seconds_max iopd_loop_busy_cpu_seconds_max "92 days"; do
	check "iopctl(8) covers $w" grep -qF -- "$w" <<<"$CTL8"
done

# iopd-plugin(7): every member of struct iopd_host and of the ops
for m in $(sed -n '/^struct iopd_host {/,/^};/p' "$SRC/include/iopd/plugin.h" | \
	grep -o '(\*[a-z_]*)' | tr -d '(*)'); do
	check "iopd-plugin(7) explains host->$m" grep -q "$m" <<<"$PLUG7"
done
for w in configure start send cancel stop iopd_plugin IOPD_PLUGIN_DEFINE -module -avoid-version \
	IOPD_DELIVERED IOPD_TRANSIENT IOPD_PERMANENT IOPD_OPTED_OUT example.c abi_major; do
	check "iopd-plugin(7) covers $w" grep -qF -- "$w" <<<"$PLUG7"
done
finish
