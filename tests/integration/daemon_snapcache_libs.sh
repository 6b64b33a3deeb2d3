#!/bin/bash
# daemon_snapcache_libs.sh - a patients cache holds numbers libphonenumber
# checked: it is used only while loading the phone module now would find
# the very libraries the daemon that wrote it used (daemon/snapcache_libs.h).
#
# 40 patients with phone numbers; the dynamic loader says whether `iopd
# agenda` loaded phone.so (LD_DEBUG=files): it does not when it takes the
# patients from the cache, it does when it reads them.  LD_LIBRARY_PATH
# names a directory of this test's, as an admin's might.  Proves:
#   * with nothing changed, the agenda takes the cache and loads no phone
#     library;
#   * a copy of libphonenumber put in that directory (which the loader
#     would now find first), the same library replaced in place by another
#     build, LD_LIBRARY_PATH changed, the phone module named elsewhere
#     (IOPD_PHONEMOD): the agenda reads the patients again;
#   * each time its rows are the same as from the cache;
#   * a cache of patients without a number ignores the phone libraries.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "daemon_snapcache_libs.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/console.so" ] || skip_all "no console.so in $IOPD_PLUGIN_DIR"
LIBPN=$(ldd "$IOPD_BUILDDIR/daemon/.libs/phone.so" | awk '$1 ~ /^libphonenumber/ { print $3 }')
[ -f "$LIBPN" ] || skip_all "libphonenumber not found beside phone.so"
command -v objcopy >/dev/null || skip_all "no objcopy to make another build of libphonenumber"

mkdir -m 700 "$T/libs" "$T/other"
write_conf() { # NAME WITH-PHONES (and the default_country they are read in)
	local country=
	[ "$2" = 1 ] && country='default_country = "US";'
	{
		iopd_daemon_block "$1" "$country"
		cat <<'EOF2'
channels = ( { name = "term"; module = "console"; stream = "stdout"; } );
templates = { session = { sms = "Group at {time}"; }; };
programs = ( { id = "iop"; weeks = 4; sessions = ( { id = "g"; days = ["mon", "thu"]; start = "18:00"; } );
  reminders = ( { before = "2h"; channels = ["term"]; } ); } );
patients = (
EOF2
		for i in $(seq 1 40); do
			phone=; [ "$2" = 1 ] && phone=$(printf ' phone = "(312) 555-%04d";' $((100 + i)))
			printf '  { id = "p-%03d"; program = "iop"; start = "2026-12-%02d";%s }%s\n' "$i" $((i % 28 + 1)) "$phone" \
				"$([ "$i" -lt 40 ] && echo ,)"
		done
		echo ");"
	} >"$T/$1.conf"
	chmod 600 "$T/$1.conf"
}
write_conf a 1
CONF=$T/a.conf
CLOCK='2030-01-01 00:00:00'
export LD_LIBRARY_PATH=$T/libs

# Did `iopd agenda` load the phone module?  (OUT gets its rows)
phone_loaded() { # OUT
	rm -f "$T"/ld.agenda.*
	env TZ=UTC LD_DEBUG=files "LD_DEBUG_OUTPUT=$T/ld.agenda" "$IOPD" agenda --no-ledger -c "$CONF" \
		--from 2026-12-01 --to 2027-01-15 >"$1" 2>"$1.err" || echo "agenda failed" >>"$1"
	grep -q 'file=.*/phone\.so' "$T"/ld.agenda.*
}
pass() { check "$1" true; }
read_again() { # WHAT OUT
	if phone_loaded "$2"; then pass "$1: the agenda reads the patients again"; else fail "$1: the agenda took the cache"; fi
	check "... and its rows are the cache's" cmp -s "$2" "$T/cached.jsonl"
}

start_iopd a "$CONF" "$CLOCK" || { fail "iopd did not start"; finish; }
check "the daemon wrote the cache" waitfor "[ -s '$T/a.state/patients.cache' ]" 10
stop_iopd a
if phone_loaded "$T/cached.jsonl"; then fail "with nothing changed, the agenda read the patients"; else
	pass "with nothing changed, the agenda takes the cache and loads no phone library"; fi
check "... and has the patients' rows" grep -q '"patient":"p-040"' "$T/cached.jsonl"

# a library the loader would now find first
cp "$LIBPN" "$T/libs/"
read_again "a copy of libphonenumber in a directory of LD_LIBRARY_PATH" "$T/copy.jsonl"

# the cache written with that copy, then the copy replaced in place (same
# file, same directory) by another build of it
start_iopd a "$CONF" "$CLOCK" || { fail "iopd did not start with the copy"; finish; }
check "the daemon rewrote the cache" waitfor "grep -q 'patients cache written' '$a_LOG'" 10
stop_iopd a
if phone_loaded "$T/copy2.jsonl"; then fail "the cache written with the copy was not used"; else
	pass "the cache written with the copy is used"; fi
objcopy --remove-section .note.gnu.build-id "$LIBPN" "$T/other/lib.so"
cat "$T/other/lib.so" >"$T/libs/$(basename "$LIBPN")"
read_again "that copy replaced in place by another build" "$T/rebuilt.jsonl"
rm "$T/libs/$(basename "$LIBPN")"

start_iopd a "$CONF" "$CLOCK" || { fail "iopd did not start again"; finish; }
check "the daemon rewrote the cache" waitfor "grep -q 'patients cache written' '$a_LOG'" 10
stop_iopd a
if phone_loaded "$T/again.jsonl"; then fail "the rewritten cache was not used"; else pass "the rewritten cache is used"; fi
LD_LIBRARY_PATH=$T/other read_again "LD_LIBRARY_PATH changed" "$T/env.jsonl"
cp "$IOPD_BUILDDIR/daemon/.libs/phone.so" "$T/phone.so"
IOPD_PHONEMOD=$T/phone.so read_again "the phone module named elsewhere" "$T/mod.jsonl"

# patients without a number: the cache owes the phone libraries nothing
write_conf b 0
start_iopd b "$T/b.conf" "$CLOCK" || { fail "iopd did not start (no numbers)"; finish; }
check "the daemon wrote the cache of patients without numbers" waitfor "[ -s '$T/b.state/patients.cache' ]" 10
stop_iopd b
LD_LIBRARY_PATH=$T/other start_iopd b "$T/b.conf" "$CLOCK" || { fail "iopd did not start (no numbers, again)"; finish; }
check "... which it takes whatever LD_LIBRARY_PATH says" test "$(grep -c 'patients from the cache' "$b_LOG")" -eq 1
stop_iopd b
sanitizer_clean "$a_LOG" "$b_LOG"
finish
