#!/bin/bash
# ops_unit.sh - the systemd files as built (contrib/iopd.service from
# contrib/iopd.service.in, contrib/sysusers.d/iopd.conf,
# contrib/tmpfiles.d/iopd.conf) and contrib/iopd.socket, checked with
# systemd's own tools:
#
#   systemd-analyze verify --man=no: SILENT (its exit status is 0 even for
#     unknown keys and bad values, so any output at all fails the test), on
#     a copy whose commands point at the binaries built here, and on the
#     socket unit beside it
#   systemd-analyze security --offline=true: exposure at most 1.5
#   the settings issue 5 asks for are there; no @VAR@ is left
#   systemd-sysusers and systemd-tmpfiles, into a scratch root: user and
#     group iopd, /etc/iopd root:iopd 0750
#
# Run by `make check` from the top build directory; SKIP without systemd.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/ops_lib.sh" ] && { . "$d/ops_lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "ops_unit.sh: ops_lib.sh not found" >&2; exit 99; }
ops_need_build
need systemd-analyze

UNIT=$IOPD_BUILDDIR/contrib/iopd.service
SYSUSERS=$IOPD_BUILDDIR/contrib/sysusers.d/iopd.conf
TMPFILES=$IOPD_BUILDDIR/contrib/tmpfiles.d/iopd.conf
[ -f "$UNIT" ] || skip_all "no $UNIT (run make first)"
add_log "$UNIT"

# --- what the unit says ----------------------------------------------------
setting() { grep -Eq "^$1=" "$UNIT"; }
check "no @VAR@ left in the generated files" sh -c "! grep -n '@[A-Za-z_]*@' '$UNIT' '$SYSUSERS' '$TMPFILES'"
check "Type=notify" grep -qx 'Type=notify' "$UNIT"
check "ExecStartPre= checks the configuration (iopd -t -c)" \
	grep -Eq '^ExecStartPre=/[^ ]*/iopd -t -c /[^ ]*/iopd/iopd.conf$' "$UNIT"
check "ExecStart= runs iopd on the same file" \
	grep -Eq '^ExecStart=/[^ ]*/iopd -f -c /[^ ]*/iopd/iopd.conf$' "$UNIT"
check "ExecReload= is the synchronous iopctl reload" grep -Eq '^ExecReload=/[^ ]*/iopctl reload$' "$UNIT"
check "WatchdogSec=" setting WatchdogSec
check "Restart=on-failure" grep -qx 'Restart=on-failure' "$UNIT"
check "a static system user iopd, not DynamicUser" \
	sh -c "grep -qx 'User=iopd' '$UNIT' && grep -qx 'Group=iopd' '$UNIT' && ! grep -q '^DynamicUser=' '$UNIT'"
check "the choice is explained" grep -q 'not DynamicUser=' "$UNIT"
for k in StateDirectory RuntimeDirectory ConfigurationDirectory; do
	check "$k=iopd" grep -qx "$k=iopd" "$UNIT"
done
check "secrets through LoadCredential=" setting LoadCredential
check "no core dumps (LimitCORE=0)" grep -qx 'LimitCORE=0' "$UNIT"
SRC=$(cd "$TESTS_DIR/.." && pwd)
SOCKET=$SRC/contrib/iopd.socket
check "the templates name no path of a developer's machine" \
	sh -c "! grep -Eq '/work/|/home/|/tmp/|/shared' '$SRC/contrib/iopd.service.in' '$SRC/contrib/iopd.sysusers' '$SRC/contrib/iopd.tmpfiles.in' '$SRC/contrib/iopd.pc.in' '$SOCKET'"
check "iopd.socket: the inbound listener's port on loopback" grep -qx 'ListenStream=127.0.0.1:8787' "$SOCKET"
check "iopd.socket: enabled with sockets.target" grep -qx 'WantedBy=sockets.target' "$SOCKET"
check "iopd.socket: activates iopd.service (same name, no Service=)" sh -c "! grep -q '^Service=' '$SOCKET'"

# --- systemd-analyze verify: silent -------------------------------------------
mkdir -p "$T/verify"
sed -E -e "s#^(Exec[A-Za-z]*=)/[^ ]*/iopd( |\$)#\\1$IOPD\\2#" \
	-e "s#^(Exec[A-Za-z]*=)/[^ ]*/iopctl( |\$)#\\1$IOPCTL\\2#" "$UNIT" >"$T/verify/iopd.service"
add_log "$T/verify/iopd.service"
check "the copy runs the binaries built here" grep -q "^ExecStart=$IOPD " "$T/verify/iopd.service"
rc=0
out=$(cd "$T/verify" && systemd-analyze verify --man=no ./iopd.service 2>&1) || rc=$?
[ -z "$out" ] || printf '# verify said:\n%s\n' "$out" | sed 's/^/# /'
check "systemd-analyze verify: exit 0" test "$rc" -eq 0
check "systemd-analyze verify: no output at all" test -z "$out"
cp "$SOCKET" "$T/verify/iopd.socket"
rc=0
out=$(cd "$T/verify" && systemd-analyze verify --man=no ./iopd.socket 2>&1) || rc=$?
[ -z "$out" ] || printf '# verify said:\n%s\n' "$out" | sed 's/^/# /'
check "systemd-analyze verify iopd.socket: exit 0, no output" test "$rc" -eq 0 -a -z "$out"
# The test would catch a typo: the same check on a broken copy must speak.
sed 's/^NoNewPrivileges=/NoNewPrivilegs=/' "$T/verify/iopd.service" >"$T/verify/broken.service"
out=$(cd "$T/verify" && systemd-analyze verify --man=no ./broken.service 2>&1) || true
check "(a misspelt key would be caught: verify speaks)" test -n "$out"

# --- systemd-analyze security: exposure <= 1.5 ----------------------------------
rc=0
systemd-analyze security --offline=true --no-pager "$UNIT" >"$T/security.out" 2>&1 || rc=$?
add_log "$T/security.out"
score=$(sed -n 's/.*Overall exposure level for iopd.service: \([0-9.]*\).*/\1/p' "$T/security.out")
echo "# exposure: ${score:-?}"
check "systemd-analyze security ran" test -n "$score"
check "exposure $score <= 1.5" "$PY" -c "import sys; sys.exit(not float('${score:-99}') <= 1.5)"
rc=0
systemd-analyze security --offline=true --threshold=15 --no-pager "$UNIT" >/dev/null 2>&1 || rc=$?
check "--threshold=15 agrees (exit 0)" test "$rc" -eq 0
check "security: the unit parses without complaints" \
	sh -c "! grep -Eqi 'unknown|invalid|ignoring|failed to parse' '$T/security.out'"

# --- sysusers and tmpfiles, into a scratch root --------------------------------
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	R=$T/root
	mkdir -p "$R/etc"
	rc=0
	systemd-sysusers --root="$R" "$SYSUSERS" >"$T/sysusers.out" 2>&1 || rc=$?
	add_log "$T/sysusers.out"
	check "systemd-sysusers accepts iopd.sysusers" test "$rc" -eq 0
	check "user iopd, a system uid, in its own group" \
		awk -F: '$1 == "iopd" && $3 < 1000 && $3 > 0 { ok = 1 } END { exit !ok }' "$R/etc/passwd"
	check "group iopd" grep -q '^iopd:' "$R/etc/group"
	rc=0
	systemd-tmpfiles --root="$R" --create "$TMPFILES" >"$T/tmpfiles.out" 2>&1 || rc=$?
	add_log "$T/tmpfiles.out"
	check "systemd-tmpfiles accepts iopd.tmpfiles" test "$rc" -eq 0
	etc=$(sed -n 's#^d \(/[^ ]*\)/iopd 0750 root iopd -$#\1#p' "$TMPFILES")
	gid=$(awk -F: '$1 == "iopd" { print $3 }' "$R/etc/group")
	check "the configuration folder: 0750 root:iopd" \
		test "$(stat -c '%a %u %g' "$R$etc/iopd" 2>/dev/null)" = "750 0 $gid"
else
	skip "systemd-sysusers / systemd-tmpfiles not installed"
fi
finish
