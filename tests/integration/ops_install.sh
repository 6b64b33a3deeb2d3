#!/bin/bash
# ops_install.sh - `make install DESTDIR=...` of this build, and what it put
# where:
#
#   FHS paths from the configured prefix, sbindir, libdir, includedir,
#     mandir, docdir, systemd unit / sysusers.d / tmpfiles.d folders
#   the plugins in $(libdir)/iopd/plugins, the folder iopd looks in by
#     default; NAME.so only (no .la, no example plugin); the network module
#     $(libdir)/iopd/net.so, without its .la, which the installed iopd loads
#   nothing in $(sysconfdir): an admin's configuration is never overwritten
#   the installed iopd loads the installed plugins; the installed header
#     and iopd.pc build the example plugin out of tree, exporting only
#     iopd_plugin, and iopd loads it
#   the installed unit, man pages and iopd.pc name the installed paths
#   `make uninstall` leaves no file behind
#
# Run by `make check` from the top build directory.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/ops_lib.sh" ] && { . "$d/ops_lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "ops_install.sh: ops_lib.sh not found" >&2; exit 99; }
ops_need_build
need make cc
B=$IOPD_BUILDDIR
[ -f "$B/Makefile" ] || skip_all "no Makefile in $B"
# A make of its own: not the jobserver or flags of the `make check` around us.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES make --no-print-directory -s "$@"; }

# the configured folders, as make expands them
vars=$(printf 'ops-print-dirs:\n\t@echo "$(prefix)|$(sbindir)|$(sysconfdir)|$(pkglibdir)|$(includedir)|$(mandir)|$(docdir)|$(systemdsystemunitdir)|$(sysusersdir)|$(tmpfilesdir)|$(libdir)"\n' |
	mk -C "$B" -f Makefile -f - ops-print-dirs)
IFS='|' read -r prefix sbindir sysconfdir pkglibdir includedir mandir docdir unitdir sysusersdir tmpfilesdir libdir <<<"$vars"
echo "# prefix=$prefix sbindir=$sbindir sysconfdir=$sysconfdir pkglibdir=$pkglibdir"
check "make knows the folders" test -n "$prefix" -a -n "$unitdir" -a -n "$tmpfilesdir"

D=$T/dest
rc=0
mk -C "$B" install DESTDIR="$D" >"$T/install.out" 2>&1 || rc=$?
add_log "$T/install.out"
check "make install DESTDIR=...: exit 0" test "$rc" -eq 0
find "$D" -type f | sed "s#^$D##" | sort >"$T/files"
add_log "$T/files"
has() { grep -qx "$1" "$T/files"; }
for f in "$sbindir/iopd" "$sbindir/iopctl" "$pkglibdir/net.so" "$pkglibdir/plugins/console.so" "$pkglibdir/plugins/sms.so" \
	"$pkglibdir/plugins/smtp.so" "$pkglibdir/plugins/webhook.so" "$includedir/iopd/plugin.h" \
	"$mandir/man8/iopd.8" "$mandir/man8/iopctl.8" "$mandir/man5/iopd.conf.5" \
	"$mandir/man7/iopd-plugin.7" "$unitdir/iopd.service" "$unitdir/iopd.socket" "$sysusersdir/iopd.conf" \
	"$tmpfilesdir/iopd.conf" "$libdir/pkgconfig/iopd.pc" "$docdir/examples/iopd.conf" \
	"$docdir/examples/patients/p-1001.conf" "$docdir/examples/patients/p-1005.conf" "$docdir/examples/plugin/example.c" \
	"$docdir/control-protocol.md"; do
	check "installed: $f" has "$f"
done
check "programs are executable" test -x "$D$sbindir/iopd" -a -x "$D$sbindir/iopctl"
check "the plugin folder holds NAME.so only" \
	test -z "$(grep "^$pkglibdir/plugins/" "$T/files" | grep -v '/[a-z_-]*\.so$')"
check "the example plugin is not installed as a plugin" sh -c "! grep -q '/plugins/example.so' '$T/files'"
check "nothing installed in sysconfdir (an admin's files are never overwritten)" \
	sh -c "! grep -q '^$sysconfdir/' '$T/files'"
check "everything under the prefix or the systemd folders" \
	sh -c "! grep -v -e '^$prefix/' -e '^$unitdir/' -e '^$sysusersdir/' -e '^$tmpfilesdir/' '$T/files'"
check "the installed unit runs the installed iopd" \
	grep -qx "ExecStart=$sbindir/iopd -f -c $sysconfdir/iopd/iopd.conf" "$D$unitdir/iopd.service"
check "iopd(8) names the installed plugin folder" \
	sh -c "sed 's/\\\\://g' '$D$mandir/man8/iopd.8' | grep -q '$pkglibdir/plugins'"
check "iopd is built to look in the installed plugin folder" \
	grep -qa "$pkglibdir/plugins" "$D$sbindir/iopd"
check "... and for the installed network module" grep -qa "$pkglibdir/net.so" "$D$sbindir/iopd"
check "no libtool file beside it" sh -c "! grep -q '^$pkglibdir/net.la' '$T/files'"

# --- the installed iopd with the installed plugins --------------------------
cat >"$T/c.conf" <<EOF
daemon = { state_dir = "$T/state"; control_socket = "$T/c.sock"; };
channels = ( { name = "term"; module = "console"; }, { name = "sms"; module = "sms"; api = "kannel";
  url = "http://127.0.0.1:13013/cgi-bin/sendsms"; user = "u"; token_file = "$T/tok"; } );
programs = ( { id = "op"; kind = "OP"; } );
EOF
printf 'x\n' >"$T/tok"
chmod 600 "$T/tok" "$T/c.conf"
rc=0
IOPD_PLUGIN_DIR="$D$pkglibdir/plugins" "$D$sbindir/iopd" -t -c "$T/c.conf" >"$T/t.out" 2>&1 || rc=$?
add_log "$T/t.out"
check "the installed iopd loads the installed plugins" test "$rc" -eq 0
check "the installed iopctl runs" sh -c "'$D$sbindir/iopctl' --version | grep -q '^iopctl '"
# (a PostgreSQL ledger's conninfo is read by the module, which an iopd
# installed under DESTDIR finds under DESTDIR)
sed 's#^daemon = { #daemon = { ledger = "postgresql"; postgresql = { conninfo = "host=127.0.0.1"; }; #' \
	"$T/c.conf" >"$T/pg.conf"
rc=0
env -u IOPD_NETMOD IOPD_PLUGIN_DIR="$D$pkglibdir/plugins" "$D$sbindir/iopd" -t -c "$T/pg.conf" \
	>"$T/pg.out" 2>&1 || rc=$?
add_log "$T/pg.out"
check "the installed iopd loads the installed network module" test "$rc" -eq 0

# --- a plugin built out of tree from the installed header and iopd.pc ----
PCDIR=$D$libdir/pkgconfig
check "iopd.pc: plugindir" test "$(PKG_CONFIG_PATH=$PCDIR pkg-config --variable=plugindir iopd)" = "$pkglibdir/plugins"
cflags=$(PKG_CONFIG_PATH=$PCDIR pkg-config --cflags iopd 2>/dev/null) || cflags=
mkdir -p "$T/myplugins"
sed 's/"example"/"mine"/' "$D$docdir/examples/plugin/example.c" >"$T/mine.c"
rc=0
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -I"$D$includedir" $cflags \
	-o "$T/myplugins/mine.so" "$T/mine.c" >"$T/cc.out" 2>&1 || rc=$?
add_log "$T/cc.out"
check "the example plugin builds out of tree, warning-free, from the installed header" test "$rc" -eq 0
exports=$(nm -D --defined-only "$T/myplugins/mine.so" 2>/dev/null | awk '$2 ~ /^[A-Z]$/ && $2 != "A" { print $3 }' |
	grep -v -e '^_init$' -e '^_fini$' | tr '\n' ' ')
check "it exports iopd_plugin and nothing else ($exports)" test "$exports" = "iopd_plugin "
cat >"$T/p.conf" <<EOF
daemon = { state_dir = "$T/state"; control_socket = "$T/p.sock"; };
channels = ( { name = "try"; module = "mine"; delay = 0.1; } );
programs = ( { id = "op"; kind = "OP"; } );
EOF
rc=0
IOPD_PLUGIN_DIR="$T/myplugins" "$D$sbindir/iopd" -t -c "$T/p.conf" >"$T/p.out" 2>&1 || rc=$?
add_log "$T/p.out"
check "the installed iopd loads it" test "$rc" -eq 0

# --- uninstall -----------------------------------------------------------------
rc=0
mk -C "$B" uninstall DESTDIR="$D" >"$T/uninstall.out" 2>&1 || rc=$?
add_log "$T/uninstall.out"
check "make uninstall: exit 0" test "$rc" -eq 0
left=$(find "$D" -type f | sed "s#^$D##")
check "make uninstall leaves no file${left:+ ($left)}" test -z "$left"
finish
