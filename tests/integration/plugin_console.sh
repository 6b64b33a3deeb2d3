#!/bin/bash
# plugin_console.sh - the console plugin through tests/tools/sendone: the
# exact line format, stream = "stderr", and configuration errors.
#
# Run by `make check` from the top build directory; by hand:
#   cd BUILDDIR && SRCDIR/tests/integration/plugin_console.sh
# SENDONE and IOPD_PLUGIN_DIR override where the tool and plugins are.
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "plugin_console.sh: tests/lib.sh not found" >&2; exit 99; }

. "$TESTS_DIR/integration/fixtures/sendone_lib.sh" console

STAMP='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

# --- two messages on stdout: console line, then sendone's outcome, each ---
cat >"$T/con.conf" <<'EOF'
channel = {
  name = "con1";
  module = "console";
};
EOF
rc=0
sendone -c "$T/con.conf" -n 2 --id 00000000000000a0 --patient P7 \
	--text "$(printf 'hello\tworld\r\nagain')" >"$T/out" 2>"$T/err" || rc=$?
add_log "$T/out" "$T/err"
check "sendone exits 0" test "$rc" -eq 0
check "four lines on stdout" test "$(wc -l <"$T/out")" -eq 4
check "line 1 is the first reminder" \
	grep -Eqx "$STAMP con1 P7 test 00000000000000a0: hello world  again" <(sed -n 1p "$T/out")
check "line 2 is its outcome" \
	grep -qx "00000000000000a0 delivered console-00000000000000a0" <(sed -n 2p "$T/out")
check "line 3 is the second reminder" \
	grep -Eqx "$STAMP con1 P7 test 00000000000000a1: hello world  again" <(sed -n 3p "$T/out")
check "line 4 is its outcome" \
	grep -qx "00000000000000a1 delivered console-00000000000000a1" <(sed -n 4p "$T/out")
# The stamp is the due time in UTC: now, give or take a slow machine.
due=$(sed -n '1s/ .*//p' "$T/out")
now=$(now_epoch)
skew=$((${now%.*} - $(date -u -d "$due" +%s)))
check "due is now, in UTC (skew ${skew}s)" test "${skew#-}" -le 60
check "nothing on stderr" test ! -s "$T/err"

# --- stream = "stderr" ------------------------------------------------------
cat >"$T/err.conf" <<'EOF'
channel = { name = "con2"; module = "console"; stream = "stderr"; };
EOF
rc=0
sendone -c "$T/err.conf" --id 00000000000000b0 --text hi >"$T/out2" 2>"$T/err2" || rc=$?
add_log "$T/out2" "$T/err2"
check "stderr stream: exit 0" test "$rc" -eq 0
check "stderr stream: only the outcome on stdout" \
	grep -qx "00000000000000b0 delivered console-00000000000000b0" "$T/out2"
check "stderr stream: one stdout line" test "$(wc -l <"$T/out2")" -eq 1
check "stderr stream: the reminder on stderr" \
	grep -Eqx "$STAMP con2 P-sendone test 00000000000000b0: hi" "$T/err2"

# --- configuration errors: FILE:LINE, exit 1, nothing sent ------------------
cat >"$T/bad.conf" <<'EOF'
channel = {
  name = "con3"; module = "console";
  colour = "red";
  stream = "stdin";
};
EOF
rc=0
sendone -c "$T/bad.conf" >"$T/out3" 2>"$T/err3" || rc=$?
add_log "$T/err3"
check "bad config: exit 1" test "$rc" -eq 1
check "bad config: unknown key at its line" grep -qF \
	"$T/bad.conf:3: unknown key \"colour\" in channel con3 (module console); known keys: name, module, rate, concurrency, timeout, insecure_tls, token_file, token_credential, fallback, replies, callback_key_file, stream" \
	"$T/err3"
check "bad config: bad stream at its line" grep -qF \
	"$T/bad.conf:4: channel con3: stream must be \"stdout\" or \"stderr\"" "$T/err3"
check "bad config: nothing on stdout" test ! -s "$T/out3"

cat >"$T/nomod.conf" <<'EOF'
channel = { name = "con4";
  module = "nosuchplugin"; };
EOF
rc=0
sendone -c "$T/nomod.conf" >/dev/null 2>"$T/err4" || rc=$?
add_log "$T/err4"
check "missing plugin: exit 1" test "$rc" -eq 1
check "missing plugin: reported at the module line" \
	grep -qF "$T/nomod.conf:2: channel: plugin \"nosuchplugin\" not found" "$T/err4"

rc=0
sendone >/dev/null 2>&1 || rc=$?
check "no -c: usage, exit 2" test "$rc" -eq 2

finish
