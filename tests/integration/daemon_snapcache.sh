#!/bin/bash
# daemon_snapcache.sh - the real daemon writes its patients' cache
# (state_dir/patients.cache) and reads it back only while it holds what
# the configuration gives now; `iopd agenda` reads it, `iopd -t` and the
# agenda never write it.
#
# 300 patients in a folder of files (a glob), one speaking a language this
# system has no locale for (a warning that reading the patients gives, so
# one the cache must give again).  The fake clock is past every enrollment:
# nothing is due.  Proves:
#   * the first start writes the cache (mode 0600); the agenda with it is
#     byte for byte the agenda without it, warnings included;
#   * a reload of the same configuration, and the next start, take the
#     patients from it, with where each one's entry is (iopctl resume of a
#     patient `paused = true` names its file and line);
#   * a patients file edited to the same size and modification time: the
#     reload reads the patients again, and the agenda shows the edit;
#   * a cache file others may read is not used (and is replaced by one
#     they may not); nor is one written by another build of iopd (its
#     build id removed);
#   * `iopd -t` and `iopd agenda` write no cache.
set -eu
for d in "$(dirname "$0")" "${srcdir:-.}/tests/integration"; do
	[ -f "$d/daemon_lib.sh" ] && { . "$d/daemon_lib.sh"; break; }
done
[ -n "${IOPD:-}" ] || { echo "daemon_snapcache.sh: daemon_lib.sh not found" >&2; exit 99; }
[ -f "$IOPD_PLUGIN_DIR/console.so" ] || skip_all "no console.so in $IOPD_PLUGIN_DIR"

CONF=$T/iopd.conf
CACHE=$T/a.state/patients.cache
mkdir -m 700 "$T/patients"
{
	iopd_daemon_block a
	cat <<'EOF'
channels = ( { name = "term"; module = "console"; stream = "stdout"; } );
templates = { session = { sms = "Group at {time}"; }; medication = { sms = "{label} now"; }; };
programs = ( { id = "iop"; weeks = 4; sessions = ( { id = "g"; days = ["mon", "thu"]; start = "18:00"; } );
  reminders = ( { before = "2h"; channels = ["term"]; } ); } );
@include "patients/*.conf"
EOF
} >"$CONF"
for f in 0 1 2; do
	{
		echo "patients = ("
		for i in $(seq $((f * 100 + 1)) $((f * 100 + 100))); do
			lang=; [ "$i" = 150 ] && lang=' language = "zz";'
			[ "$i" = 250 ] && lang=' paused = true;'
			printf '  { id = "p-%05d"; program = "iop"; start = "2026-12-%02d";%s medications = ( { label = "dose"; times = ["08:00"]; channels = ["term"]; } ); }%s\n' \
				"$i" $((i % 28 + 1)) "$lang" "$([ "$i" -lt $((f * 100 + 100)) ] && echo ,)"
		done
		echo ");"
	} >"$T/patients/$f.conf"
	chmod 600 "$T/patients/$f.conf"
done
chmod 600 "$CONF"
CLOCK='2030-01-01 00:00:00'

# the agenda (rows and messages) now, with whatever cache there is
agenda() { # OUT: the calendar alone (--no-ledger: the running daemon's ledger may change between two runs)
	env TZ=UTC "$IOPD" agenda --no-ledger -c "$CONF" --from 2026-12-01 --to 2027-01-15 >"$1" 2>"$1.err"
	cat "$1.err" >>"$1"
}
# the same, the cache out of the way
agenda_nocache() { # OUT
	if [ -e "$CACHE" ]; then mv "$CACHE" "$CACHE.aside"; fi
	agenda "$1"
	if [ -e "$CACHE.aside" ]; then mv "$CACHE.aside" "$CACHE"; fi
}
from_cache() { grep -c 'patients from the cache' "$a_LOG" || true; }

# --- -t and the agenda write nothing ------------------------------------------
env TZ=UTC "$IOPD" -t -c "$CONF" >/dev/null 2>&1
agenda "$T/none.jsonl"
check "iopd -t and iopd agenda write no cache" test ! -e "$CACHE"

# --- the first start writes it; the agenda reads it ----------------------------
start_iopd a "$CONF" "$CLOCK" || { fail "iopd did not start"; finish; }
check "the first start wrote the cache" waitfor "[ -s '$CACHE' ]" 10
check "... mode 0600" test "$(stat -c %a "$CACHE")" = 600
check "... and did not read one" test "$(from_cache)" -eq 0
agenda "$T/cached.jsonl"
agenda_nocache "$T/fresh.jsonl"
check "the agenda with the cache is the agenda without it" cmp -s "$T/cached.jsonl" "$T/fresh.jsonl"
check "... warnings included" grep -q 'language "zz" (1 patient)' "$T/cached.jsonl.err"
check "... with every patient" test "$(grep -c '"kind":"medication"' "$T/cached.jsonl")" -gt 300

# --- a reload of the same configuration reads it ---------------------------------
ctl a reload >/dev/null
check "a reload of the same configuration takes the patients from the cache" \
	waitfor "grep -q 'reload: patients from the cache' '$a_LOG'" 10

# --- an edit of the same size and time is seen --------------------------------------
f=$T/patients/1.conf
mtime=$(stat -c %y "$f")
size=$(stat -c %s "$f")
sed -i 's/id = "p-00150"; program = "iop"; start = "2026-12-11"/id = "p-00150"; program = "iop"; start = "2026-12-18"/' "$f"
touch -d "$mtime" "$f"
check "the edited file has its old size and time" \
	test "$(stat -c %s "$f")" = "$size" -a "$(stat -c %y "$f")" = "$mtime"
n=$(grep -c 'reload: ' "$a_LOG" || true)
ctl a reload >/dev/null
waitfor "[ \$(grep -c 'reloaded ' '$a_LOG') -ge 2 ]" 10 || true
check "the reload after the edit reads the patients again" \
	test "$(grep -c 'reload: patients from the cache' "$a_LOG")" -eq 1
agenda "$T/edited.jsonl"
agenda_nocache "$T/edited-fresh.jsonl"
check "the agenda shows the edit" sh -c "! cmp -s '$T/edited.jsonl' '$T/cached.jsonl'"
check "... as a reading without the cache does" cmp -s "$T/edited.jsonl" "$T/edited-fresh.jsonl"
stop_iopd a

# --- the next start reads the cache the reload wrote ---------------------------------
start_iopd a "$CONF" "$CLOCK" || { fail "iopd did not start again"; finish; }
check "the next start takes the patients from the cache" test "$(from_cache)" -eq 1
# a patient's entry (file and line) comes from the cache too: iopctl says it
line=$(grep -n '"p-00250"' "$T/patients/2.conf" | cut -d: -f1)
RC=0; ctl a resume p-00250 >"$T/resume.out" 2>&1 || RC=$?
check "... with each patient's entry: resume names $T/patients/2.conf:$line" \
	sh -c "[ $RC = 1 ] && grep -qF 'paused = true in its entry at $T/patients/2.conf:$line' '$T/resume.out'"
stop_iopd a

# --- a cache others may read is not used, and is replaced -----------------------------
chmod 644 "$CACHE"
start_iopd a "$CONF" "$CLOCK" || { fail "iopd did not start (mode 644)"; finish; }
check "a cache others may read is not used" test "$(from_cache)" -eq 0
check "... and is replaced by a private one" waitfor "[ \"\$(stat -c %a '$CACHE')\" = 600 ]" 10
stop_iopd a

# --- another build of iopd does not use it -------------------------------------------
if command -v objcopy >/dev/null && objcopy --remove-section .note.gnu.build-id "$IOPD" "$T/iopd-other" 2>/dev/null; then
	chmod 755 "$T/iopd-other"
	IOPD_REAL=$IOPD
	IOPD=$T/iopd-other
	export IOPD_NETMOD=$IOPD_BUILDDIR/daemon/.libs/net.so   # outside the build tree
	start_iopd a "$CONF" "$CLOCK" || { fail "the other iopd did not start"; finish; }
	check "another build does not use the cache" test "$(from_cache)" -eq 0
	stop_iopd a
	unset IOPD_NETMOD
	IOPD=$IOPD_REAL
	start_iopd a "$CONF" "$CLOCK" || { fail "iopd did not start (after the other build)"; finish; }
	check "... nor this build the other's" test "$(from_cache)" -eq 0
	stop_iopd a
else
	skip "objcopy cannot make another build of iopd"
fi
sanitizer_clean "$a_LOG"
finish
