#!/bin/bash
# ops_netmod.sh - iopd's modules: net.so, the network module
# (daemon/netmod.h), and phone.so, the phone module (daemon/phone.h):
#
#   iopd agenda and render of a clinic on SQLite load none of libcurl,
#     libpq, libmicrohttpd, libsystemd, OpenSSL and net.so (the dynamic
#     loader's own account, LD_DEBUG=files), -t only what the plugins it
#     checks need; the daemon loads net.so
#   with the daemon's patients cache, the agenda loads neither phone.so nor
#     libphonenumber, ICU and the C++ runtime
#   an iopd without its modules: the agenda still works (given its phone
#     module); the daemon and ledger-copy say what is missing and what to
#     do, exit 1; -t of a PostgreSQL ledger says it at the conninfo's
#     FILE:LINE, -t of a clinic_phone at its own
#   IOPD_NETMOD and IOPD_PHONEMOD name the modules; one of another version
#     is refused
#
# Run by `make check` from the top build directory.
set -eu
for d in "$(dirname "$0")/.." "${srcdir:-.}/tests"; do
	[ -f "$d/lib.sh" ] && { . "$d/lib.sh"; break; }
done
[ -n "${TESTS_DIR:-}" ] || { echo "ops_netmod.sh: tests/lib.sh not found" >&2; exit 99; }
. "$TESTS_DIR/integration/fixtures/iopd_lib.sh"

NETMOD=$(dirname "$IOPD")/daemon/.libs/net.so
PHONEMOD=$(dirname "$IOPD")/daemon/.libs/phone.so
[ -f "$NETMOD" ] && [ -f "$PHONEMOD" ] || skip_all "no $NETMOD or $PHONEMOD (run make first)"
PHONE_LIBS='libphonenumber|libicu|libstdc\+\+|/phone\.so'
is_pg && skip_all "a PostgreSQL ledger's commands all load the module"
HEAVY='libcurl|libpq|libmicrohttpd|libsystemd|libcrypto|/net\.so'
HEAVY_T='libpq|libmicrohttpd|libsystemd|/net\.so'   # -t loads the plugins it checks

start_webhook
SOCK=$T/ctl.sock
gen_conf "$T/iopd.conf" --state "$T/state" --socket "$SOCK" --url "$WEBHOOK_URL" \
	--patients 2 --date 2031-03-03 --med 09:00
mapfile -t CLK < <(_rig_clock_env)

# The shared objects a command loaded, as the dynamic loader reports them.
loaded() { # NAME IOPD-ARGS...
	local name=$1
	shift
	rm -f "$T/ld.$name".*
	env LD_DEBUG=files "LD_DEBUG_OUTPUT=$T/ld.$name" "${CLK[@]}" "$IOPD" "$@" >"$T/$name.out" 2>&1 || true
	grep -ho 'file=[^ ]*' "$T/ld.$name".* | sort -u
}
for cmd in "agenda -c $T/iopd.conf --from 2031-03-03 --to 2031-03-10 --no-ledger" \
    "render -c $T/iopd.conf --patient p-00001 --at 2031-03-03" "-t -c $T/iopd.conf"; do
	name=${cmd%% *}
	# shellcheck disable=SC2086
	libs=$(loaded "x$name" $cmd)
	check "iopd $name ran (it loaded $(grep -c . <<<"$libs") objects)" grep -q 'libconfig' <<<"$libs"
	heavy=$HEAVY
	[ "$name" != -t ] || heavy=$HEAVY_T
	check "iopd $name loads none of $heavy" sh -c "! grep -E '$heavy' <<'EOF'
$libs
EOF"
done
check "... and the agenda is there" grep -q '"patient":"p-00001","kind":"medication"' "$T/xagenda.out"

# The daemon loads the module (and its libraries): the loader names it.
IOPD_ENV=(LD_DEBUG=files "LD_DEBUG_OUTPUT=$T/ld.daemon")
iopd_start a "$T/iopd.conf" || { fail "iopd did not start"; iopd_finish; }
unset IOPD_ENV
iopd_stop
check "the daemon loads net.so" grep -q 'file=.*daemon/.libs/net.so' "$T"/ld.daemon.*
check "... and libcurl with it" grep -q 'file=libcurl' "$T"/ld.daemon.*
check "... and phone.so, to check clinic_phone" grep -q 'file=.*daemon/.libs/phone.so' "$T"/ld.daemon.*

# The agenda with the patients cache the daemon wrote checks no number.
libs=$(loaded cached agenda -c "$T/iopd.conf" --from 2031-03-03 --to 2031-03-10 --no-ledger)
check "with the daemon's patients cache, iopd agenda loads none of $PHONE_LIBS" sh -c "! grep -E '$PHONE_LIBS' <<'EOF'
$libs
EOF"
check "... and prints the same agenda" cmp -s "$T/cached.out" "$T/xagenda.out"

# A copy of iopd outside the build tree has no module unless told where.
cp "$IOPD" "$T/iopd-copy"
rc=0
timeout 20 env -u IOPD_NETMOD "${CLK[@]}" "$T/iopd-copy" -f -c "$T/iopd.conf" >"$T/nomod.out" 2>&1 || rc=$?
check "without its module, the daemon exits 1" test "$rc" -eq 1
check "... saying which file is missing and what to do" \
	grep -Eq "^iopd: cannot load iopd's network module: .*/net\.so: .*\(reinstall iopd, or name the module with IOPD_NETMOD\)$" "$T/nomod.out"
rc=0
"$T/iopd-copy" ledger-copy -c "$T/iopd.conf" --from "$T/none.db" >"$T/nomod-copy.out" 2>&1 || rc=$?
check "... ledger-copy too" sh -c "[ $rc = 1 ] && grep -q '^iopd ledger-copy: cannot load' '$T/nomod-copy.out'"
rc=0
IOPD_PHONEMOD=$PHONEMOD env "${CLK[@]}" "$T/iopd-copy" agenda -c "$T/iopd.conf" --from 2031-03-03 \
	--to 2031-03-10 --no-ledger >"$T/copy-agenda.out" 2>&1 || rc=$?
check "... while its agenda needs none" sh -c "[ $rc = 0 ] && cmp -s '$T/copy-agenda.out' '$T/xagenda.out'"
line=$(grep -n 'clinic_phone' "$T/iopd.conf" | head -1 | cut -d: -f1)
rc=0
"$T/iopd-copy" -t -c "$T/iopd.conf" >"$T/phone-nomod.out" 2>&1 || rc=$?
check "-t without the phone module fails at clinic_phone's line, saying what to do" \
	sh -c "[ $rc != 0 ] && grep -q \"iopd.conf:$line: daemon.clinic_phone: .* cannot load iopd's phone module: .*/phone\.so: .*(reinstall iopd, or name the module with IOPD_PHONEMOD)\" '$T/phone-nomod.out'"
export IOPD_PHONEMOD=$PHONEMOD

# -t of a PostgreSQL ledger reads the conninfo through the module.
gen_conf "$T/pg.conf" --state "$T/pgstate" --socket "$SOCK" --url "$WEBHOOK_URL" \
	--patients 1 --daemon-extra 'ledger = "postgresql"; postgresql = { conninfo = "host=127.0.0.1 dbname=x"; }; instance = "a";'
line=$(grep -n 'conninfo' "$T/pg.conf" | head -1 | cut -d: -f1)
rc=0
"$T/iopd-copy" -t -c "$T/pg.conf" >"$T/pg-nomod.out" 2>&1 || rc=$?
check "-t of a PostgreSQL ledger without the module fails at the conninfo's line" \
	sh -c "[ $rc != 0 ] && grep -q 'pg.conf:$line: daemon.postgresql.conninfo cannot be checked: cannot load' '$T/pg-nomod.out'"
rc=0
IOPD_NETMOD=$NETMOD "$T/iopd-copy" -t -c "$T/pg.conf" >"$T/pg-mod.out" 2>&1 || rc=$?
check "... and with IOPD_NETMOD it passes" sh -c "[ $rc = 0 ] && grep -q ': ok: ' '$T/pg-mod.out'"
sed 's/conninfo = "host=127.0.0.1 dbname=x"/conninfo = "host=127.0.0.1 password=secret"/' "$T/pg.conf" >"$T/pgpw.conf"
rc=0
IOPD_NETMOD=$NETMOD "$T/iopd-copy" -t -c "$T/pgpw.conf" >"$T/pgpw.out" 2>&1 || rc=$?
check "... and still refuses a password in the conninfo, at its line" \
	sh -c "[ $rc != 0 ] && grep -q 'pgpw.conf:$line: daemon.postgresql.conninfo must not hold a password' '$T/pgpw.out'"

# A module of another version is refused, by name.
if command -v cc >/dev/null; then
	printf 'const struct { const char *v; } iopd_netmod = { "iopd 0.0" };\n' >"$T/old.c"
	cc -shared -fPIC -o "$T/old.so" "$T/old.c"
	rc=0
	IOPD_NETMOD=$T/old.so timeout 20 env "${CLK[@]}" "$T/iopd-copy" -f -c "$T/iopd.conf" >"$T/oldmod.out" 2>&1 || rc=$?
	check "a module of another version is refused" \
		sh -c "[ $rc = 1 ] && grep -q 'old.so is not the network module of iopd .* (iopd 0.0): reinstall iopd' '$T/oldmod.out'"
else
	skip "no C compiler to build a module of another version"
fi
iopd_finish
