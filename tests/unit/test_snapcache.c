/* test_snapcache.c - the patients' snapshot cache (daemon/snapcache.c) is
 * used only when it holds what reading the configuration would give now.
 *
 * Each test writes a configuration (patients in a folder, read through a
 * glob), loads it as the daemon does (conf_load_cache keeping what a save
 * needs) and saves the cache, then changes one thing and loads again as
 * `iopd agenda` does.  Whatever the change, the agenda and the messages of
 * the second load must be those of a reading without any cache, and the
 * cache must be used exactly when nothing it depends on changed. */
#include "config.h"

#include <sys/wait.h>
#include <utime.h>

#include "unit.h"

#include "agenda.h"
#include "phone.h"
#include "snapcache.h"
#include "snapcache_libs.h"

/* %s: the scratch folder (state_dir and control_socket are absolute) */
static const char main_conf[] =
	"daemon = { timezone = \"America/Chicago\"; state_dir = \"%s/state\";\n"
	"  control_socket = \"%s/state/control.sock\";\n"
	"  default_country = \"us\"; clinic_phone = \"+13125559999\"; };\n"
	"channels = ( { name = \"term\"; module = \"console\"; } );\n"
	"templates = { session = { sms = \"Group at {time}\"; }; medication = { sms = \"{label} now\"; };\n"
	"  appointment = { sms = \"See you {day}\"; }; };\n"
	"programs = ( { id = \"iop\"; weeks = 4; sessions = ( { id = \"g\"; days = [\"mon\", \"thu\"];\n"
	"  start = \"18:00\"; location = \"Room 2\"; } ); reminders = ( { before = \"2h\"; channels = [\"term\"]; } ); } );\n"
	"@include \"patients/*.conf\"\n";

static const char patients_a[] =
	"patients = (\n"
	"  { id = \"p-1\"; first_name = \"Ana\"; program = \"iop\"; start = \"2026-12-07\";\n"
	"    medications = ( { label = \"dose\"; times = [\"08:00\", \"20:00\"]; channels = [\"term\"]; } ); },\n"
	"  { id = \"p-2\"; first_name = \"Bo\"; language = \"zz\"; timezone = \"Europe/London\";\n"
	"    program = \"iop\"; start = \"2026-12-08\";\n"
	"    appointments = ( { at = \"2026-12-10 09:30\"; type = \"intake\"; } ); }\n"
	");\n";

static const char patients_b[] =
	"patients = ( { id = \"p-3\"; first_name = \"Cy\"; program = \"iop\"; start = \"2026-12-09\"; } );\n";

static char *main_file, *pdir, *state;

/* The main file, its first `from` replaced with `to` (as long) if given. */
static void write_main(const char *from, const char *to)
{
	char text[2048], *at;

	snprintf(text, sizeof text, main_conf, unit_dir, unit_dir);
	if (from && (at = strstr(text, from)))
		memcpy(at, to, strlen(to));
	free(main_file);
	main_file = unit_write(unit_dir, "main.conf", text, 0600);
}

static int setup(void **st)
{
	unit_setup(st);
	pdir = unit_path(unit_dir, "patients");
	state = unit_path(unit_dir, "state");
	assert_int_equal(mkdir(pdir, 0700), 0);
	assert_int_equal(mkdir(state, 0700), 0);
	main_file = NULL;
	write_main(NULL, NULL);
	free(unit_write(pdir, "a.conf", patients_a, 0600));
	free(unit_write(pdir, "b.conf", patients_b, 0600));
	return 0;
}

static int teardown(void **st)
{
	free(main_file);
	free(pdir);
	free(state);
	return unit_teardown(st);
}

/* The agenda of a snapshot over December 2026, and the messages, as text. */
static char *agenda_of(const struct snapshot *s, const struct errs *e)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	int64_t from, to;

	assert_non_null(f);
	assert_int_equal(parse_instant("2026-12-01T00:00:00Z", s->tz, &from), 0);
	assert_int_equal(parse_instant("2027-01-01T00:00:00Z", s->tz, &to), 0);
	fprintf(f, "warnings:\n%s", e->warn.s ? e->warn.s : "");
	assert_int_equal(agenda_print(s, from, to, -1, AGENDA_JSONL, f, NULL, NULL), 0);
	fclose(f);
	return out;
}

/* A load as the daemon's: the cache written when it was not used. */
static void daemon_load(bool expect_hit)
{
	struct conf_cache cc = {.use = true, .keep = true};
	struct errs e = {0};
	struct snapshot *s = conf_load_cache(main_file, CONF_FULL, &e, &cc);
	char err[256];

	if (!s)
		fail_msg("%s", e.text.s);
	assert_int_equal(cc.hit, expect_hit);
	assert_int_equal(cc.can_save, !expect_hit);
	if (cc.can_save && conf_cache_save(&cc, s, err, sizeof err) != 0)
		fail_msg("save: %s", err);
	conf_cache_free(&cc);
	snapshot_unref(s);
	errs_free(&e);
}

/* Each patient's entry (file and line, for iopctl's messages) and
 * configured pause are the same in both snapshots. */
static void same_entries(const struct snapshot *a, const struct snapshot *b)
{
	size_t i;

	assert_int_equal(a->npatients, b->npatients);
	for (i = 0; i < a->npatients; i++) {
		assert_non_null(a->patients[i].file);
		assert_string_equal(a->patients[i].file, b->patients[i].file);
		assert_int_equal(a->patients[i].line, b->patients[i].line);
		assert_int_equal(a->patients[i].paused, b->patients[i].paused);
	}
}

/* A load as the agenda's; its agenda must be that of a load without any
 * cache, and the cache used or not as `expect_hit` says. */
static void agenda_load(bool expect_hit)
{
	struct conf_cache cc = {.use = true};
	struct errs e = {0}, e2 = {0};
	struct snapshot *s = conf_load_cache(main_file, CONF_CALENDAR, &e, &cc);
	struct snapshot *plain = conf_load(main_file, CONF_CALENDAR, &e2);
	char *a, *b;

	if (!s || !plain)
		fail_msg("%s%s", e.text.s ? e.text.s : "", e2.text.s ? e2.text.s : "");
	assert_int_equal(cc.hit, expect_hit);
	assert_false(cc.can_save);             /* the agenda keeps nothing to write */
	a = agenda_of(s, &e);
	b = agenda_of(plain, &e2);
	assert_string_equal(a, b);
	same_entries(s, plain);
	/* from the cache, the daemon's numbers are not checked again (conf.c) */
	assert_string_equal(s->default_country, "US");
	assert_string_equal(s->clinic_phone, plain->clinic_phone);
	assert_non_null(strstr(a, "language \"zz\" (1 patient)"));   /* said again from the cache */
	assert_non_null(strstr(a, "\"patient\":\"p-3\""));
	free(a);
	free(b);
	conf_cache_free(&cc);
	snapshot_unref(s);
	snapshot_unref(plain);
	errs_free(&e);
	errs_free(&e2);
}

static char *cache_file(void)
{
	return unit_path(state, SNAPCACHE_FILE);
}

/* ---- used when nothing changed ------------------------------------------------ */

static void test_hit(void **st)
{
	struct stat sb;
	char *cf = cache_file();

	(void)st;
	daemon_load(false);
	assert_int_equal(stat(cf, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	agenda_load(true);
	daemon_load(true);                     /* the daemon's next start reads it too */
	free(cf);
}

/* A file touched, its text the same: still the same patients. */
static void test_touch(void **st)
{
	char *b = unit_path(pdir, "b.conf");

	(void)st;
	daemon_load(false);
	assert_int_equal(utime(b, NULL), 0);
	agenda_load(true);
	free(b);
}

/* ---- not used when anything changed ------------------------------------------- */

static void test_edit(void **st)
{
	(void)st;
	daemon_load(false);
	free(unit_write(pdir, "a.conf", "patients = ( { id = \"p-9\"; program = \"iop\"; "
	    "start = \"2026-12-07\"; language = \"zz\"; } );\n", 0600));
	agenda_load(false);
	daemon_load(false);                    /* and written again */
	agenda_load(true);
}

/* The same size and the same modification time, one digit changed. */
static void test_same_size_same_mtime(void **st)
{
	char *b = unit_path(pdir, "b.conf"), *edited = strdup(patients_b);
	struct stat before, after;
	struct timespec ts[2];

	(void)st;
	daemon_load(false);
	assert_int_equal(stat(b, &before), 0);
	memcpy(strstr(edited, "2026-12-09"), "2026-12-16", 10);
	free(unit_write(pdir, "b.conf", edited, 0600));
	ts[0] = before.st_atim;
	ts[1] = before.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, b, ts, 0), 0);
	assert_int_equal(stat(b, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	agenda_load(false);
	free(b);
	free(edited);
}

/* The main file (which includes the others) changed: a program's lead. */
static void test_main_changed(void **st)
{
	(void)st;
	daemon_load(false);
	write_main("\"2h\"", "\"3h\"");
	agenda_load(false);
}

/* A country with no numbering plan, the cache written with a good one:
 * the cache never vouches for numbers it was not written with. */
static void test_country_changed(void **st)
{
	struct conf_cache cc = {.use = true};
	struct errs e = {0};

	(void)st;
	daemon_load(false);
	write_main("\"us\"", "\"zz\"");
	assert_null(conf_load_cache(main_file, CONF_CALENDAR, &e, &cc));
	assert_false(cc.hit);
	assert_non_null(strstr(e.text.s, "\"zz\" is not a country code"));
	conf_cache_free(&cc);
	errs_free(&e);
}

/* Another file matches the glob; then the same text moves to another file
 * (the text read is the same, its files and lines are not). */
static void test_glob_gains_a_file(void **st)
{
	char *b = unit_path(pdir, "b.conf"), *c = unit_path(pdir, "c.conf");

	(void)st;
	daemon_load(false);
	free(unit_write(pdir, "c.conf", "# nothing yet\n", 0600));
	agenda_load(false);
	daemon_load(false);
	assert_int_equal(rename(b, c), 0);     /* b's text now comes after "# nothing yet" */
	free(unit_write(pdir, "b.conf", "# nothing yet\n", 0600));
	agenda_load(false);
	free(b);
	free(c);
}

/* The zone database changed under the cache (TZDIR, a zone replaced). */
static void test_zone_changed(void **st)
{
	char *tzdir = unit_path(unit_dir, "zoneinfo"), *sub, cmd[1024];

	(void)st;
	sub = unit_path(tzdir, "America");
	assert_int_equal(mkdir(tzdir, 0700), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	free(sub);
	sub = unit_path(tzdir, "Europe");
	assert_int_equal(mkdir(sub, 0700), 0);
	free(sub);
	snprintf(cmd, sizeof cmd, "cp /usr/share/zoneinfo/America/Chicago %s/America/Chicago && "
	    "cp /usr/share/zoneinfo/Europe/London %s/Europe/London && "
	    "cp /usr/share/zoneinfo/UTC %s/UTC", tzdir, tzdir, tzdir);
	assert_int_equal(system(cmd), 0);
	setenv("TZDIR", tzdir, 1);
	tz_cleanup();
	daemon_load(false);
	agenda_load(true);
	/* London now keeps Lisbon's rules (the same offsets in 2026, other
	 * names and history): what the patients were read with differs */
	snprintf(cmd, sizeof cmd, "cp /usr/share/zoneinfo/Europe/Lisbon %s/Europe/London", tzdir);
	assert_int_equal(system(cmd), 0);
	tz_cleanup();
	agenda_load(false);
	unsetenv("TZDIR");
	tz_cleanup();
	free(tzdir);
}

/* ---- not used when it is not whole, not ours, or not private ------------------- */

/* Runs `script` on the cache file ($F), which must come out changed: a
 * byte written over one that already had its value would leave a good
 * cache, and the test would fail by chance. */
static void rewrite_cache(const char *script)
{
	char *cf = cache_file();

	setenv("F", cf, 1);
	assert_int_equal(system("cp \"$F\" \"$F.before\""), 0);
	assert_int_equal(system(script), 0);
	if (system("! cmp -s \"$F\" \"$F.before\"") != 0)
		fail_msg("%s left the cache as it was", script);
	assert_int_equal(system("rm -f \"$F.before\""), 0);
	unsetenv("F");
	free(cf);
}

static void test_truncated(void **st)
{
	(void)st;
	daemon_load(false);
	rewrite_cache("truncate -s -1 \"$F\"");
	agenda_load(false);
	daemon_load(false);
	rewrite_cache("truncate -s 100 \"$F\"");     /* inside the header */
	agenda_load(false);
	daemon_load(false);
	rewrite_cache(": > \"$F\"");
	agenda_load(false);
}

/* Shell: the byte of $F at offset N complemented (so it surely changes). */
#define FLIP(n) "b=$(od -An -tu1 -j " n " -N1 \"$F\" | tr -d ' '); " \
	"printf \"\\\\$(printf %03o $((255 - b)))\" | dd of=\"$F\" bs=1 seek=" n " conv=notrunc status=none"

static void test_corrupted(void **st)
{
	(void)st;
	daemon_load(false);
	/* one byte of the payload, in its middle */
	rewrite_cache("n=$(stat -c %s \"$F\"); " FLIP("$((n / 2))"));
	agenda_load(false);
	daemon_load(false);
	/* one byte of a string only the checksum watches (a first name) */
	rewrite_cache("n=$(grep -obUa 'Cy' \"$F\" | head -1 | cut -d: -f1); test -n \"$n\" && "
	    "printf 'D' | dd of=\"$F\" bs=1 seek=$n conv=notrunc status=none");
	agenda_load(false);
	daemon_load(false);
	/* one byte of the key */
	rewrite_cache(FLIP("20"));
	agenda_load(false);
}

static void test_not_private(void **st)
{
	char *cf = cache_file();

	(void)st;
	daemon_load(false);
	assert_int_equal(chmod(cf, 0640), 0);
	agenda_load(false);
	assert_int_equal(chmod(cf, 0604), 0);
	agenda_load(false);
	assert_int_equal(chmod(cf, 0620), 0);  /* others may write it, not read it */
	agenda_load(false);
	assert_int_equal(chmod(cf, 0602), 0);
	agenda_load(false);
	assert_int_equal(chmod(cf, 0600), 0);
	agenda_load(true);
	if (geteuid() == 0) {                  /* another user's file: only root can make one */
		assert_int_equal(chown(cf, 65534, 65534), 0);
		agenda_load(false);
		daemon_load(false);            /* replaced by one of our own */
		agenda_load(true);
	}
	/* a symbolic link to a good cache is not followed */
	{
		char *other = unit_path(unit_dir, "elsewhere.cache"), cmd[2048];
		snprintf(cmd, sizeof cmd, "mv %s %s && ln -s %s %s", cf, other, other, cf);
		assert_int_equal(system(cmd), 0);
		agenda_load(false);
		free(other);
	}
	free(cf);
}

/* ---- written whole or not at all ------------------------------------------------ */

/* Writers racing (each a new file renamed over the cache) while a reader
 * loads: every load is the right agenda, from the cache or not; no
 * temporary file is left. */
static void test_concurrent_writers(void **st)
{
	pid_t kids[2];
	int k, i, status, hits = 0;
	char cmd[1024];

	(void)st;
	daemon_load(false);
	for (k = 0; k < 2; k++) {
		if ((kids[k] = fork()) == 0) {
			for (i = 0; i < 15; i++) {
				struct conf_cache cc = {.use = false, .keep = true};
				struct errs e = {0};
				struct snapshot *s = conf_load_cache(main_file, CONF_FULL, &e, &cc);
				char err[256];
				if (!s || conf_cache_save(&cc, s, err, sizeof err) != 0)
					_exit(1);
				conf_cache_free(&cc);
				snapshot_unref(s);
				errs_free(&e);
			}
			_exit(0);
		}
		assert_true(kids[k] > 0);
	}
	for (i = 0; i < 30; i++) {
		struct conf_cache cc = {.use = true};
		struct errs e = {0}, e2 = {0};
		struct snapshot *s = conf_load_cache(main_file, CONF_CALENDAR, &e, &cc);
		struct snapshot *plain = conf_load(main_file, CONF_CALENDAR, &e2);
		char *a = agenda_of(s, &e), *b = agenda_of(plain, &e2);
		assert_string_equal(a, b);
		hits += cc.hit;
		free(a);
		free(b);
		conf_cache_free(&cc);
		snapshot_unref(s);
		snapshot_unref(plain);
		errs_free(&e);
		errs_free(&e2);
	}
	for (k = 0; k < 2; k++) {
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_true(hits > 0);                 /* a file is always there to read */
	snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", state);
	assert_int_equal(system(cmd), 0);      /* patients.cache alone */
	agenda_load(true);
}

/* iopd -t's reading (conf_load) neither reads nor writes the cache. */
static void test_check_writes_nothing(void **st)
{
	struct errs e = {0};
	struct snapshot *s;
	char cmd[1024];

	(void)st;
	s = conf_load(main_file, CONF_FULL, &e);
	assert_non_null(s);
	snapshot_unref(s);
	errs_free(&e);
	agenda_load(false);              /* nor does the agenda's */
	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", state);
	assert_int_equal(system(cmd), 0);
}

/* The flags of the mapping that holds address a (/proc/self/smaps). */
static bool vma_has_flag(uintptr_t a, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false, found = false;
	unsigned long lo, hi;

	assert_non_null(f);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = a >= lo && a < hi;
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			found = strstr(line, flag) != NULL;
			break;
		}
	fclose(f);
	return found;
}

#define HUGE ((uintptr_t)2 << 20)

static bool zeroed(const char *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* Whether [p, p + n) lies in huge pages it fills: aligned to them, and
 * its first and last bytes in a mapping marked for them. */
static bool in_huge_pages(const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p;

	return a % HUGE == 0 && vma_has_flag(a, " hg") && vma_has_flag(a + n - 1, " hg");
}

/* The big buffers of a load (the configuration's text, the cache read)
 * and the arenas the patients are parsed into ask for huge pages, whole
 * ones: in 4 KiB pages, loading 100,000 patients faulted 17,000 times
 * (bench W1), and a block that merely spanned huge pages still faulted
 * 4 KiB at a time at each end. */
static void test_huge_alloc(void **st)
{
	size_t n = (8 << 20) + 4096;
	char *b = huge_alloc(n), *small, *big;
	uint32_t *ids;
	size_t i, cap = 0;
	struct arena a = {0};
	struct sbuf text = {0};

	(void)st;
	if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0)
		skip();                        /* a kernel without them */
	/* the daemon's default: none */
	assert_false(vma_has_flag(((uintptr_t)b + n / 2) & ~(HUGE - 1), " hg"));
	free(b);
	small = arena_alloc(&a, 64);
	assert_false(vma_has_flag((uintptr_t)small, " hg"));
	arena_free(&a);
	sbuf_reserve(&text, n);
	assert_false(vma_has_flag(((uintptr_t)text.s + n / 2) & ~(HUGE - 1), " hg"));
	sbuf_free(&text);

	huge_pages_allow();
	b = huge_alloc(n);
	assert_true(in_huge_pages(b, n));
	free(b);
	b = huge_allocarray(3, HUGE / 2);
	assert_true(in_huge_pages(b, 3 * HUGE / 2));
	free(b);
	b = huge_alloc(HUGE * 3 / 4);            /* most of one: a whole one */
	assert_true(in_huge_pages(b, HUGE * 3 / 4));
	free(b);
	b = huge_alloc(4096);                    /* a little: malloc's */
	assert_false(vma_has_flag((uintptr_t)b, " hg"));
	free(b);
	/* an array growing past half of one (the agenda's rows), kept */
	ids = NULL;
	for (i = 0; i < (1 << 20) / sizeof *ids; i++) {
		grow_array(&ids, &cap, i + 1, sizeof *ids);
		ids[i] = (uint32_t)i;
	}
	assert_true(in_huge_pages(ids, cap * sizeof *ids));
	for (i = 0; i < (1 << 20) / sizeof *ids && ids[i] == i; i++)
		;
	assert_int_equal(i, (1 << 20) / sizeof *ids);
	free(ids);
	small = arena_alloc(&a, 64);
	big = arena_alloc(&a, 9 << 20);          /* more than a chunk: a block of its own */
	assert_true(vma_has_flag((uintptr_t)small, " hg"));
	assert_true(vma_has_flag((uintptr_t)big, " hg") && vma_has_flag((uintptr_t)big + (9 << 20) - 1, " hg"));
	assert_true(zeroed(small, 64) && zeroed(big, 9 << 20));
	/* the chunk goes on being filled after the big block */
	assert_ptr_equal(arena_alloc(&a, 8), small + 64);
	arena_free(&a);
	/* a buffer growing past a huge page (the configuration's text) */
	sbuf_add(&text, "x", 1);
	sbuf_reserve(&text, n);
	assert_string_equal(text.s, "x");
	assert_true(in_huge_pages(text.s, text.cap));
	sbuf_free(&text);
}

/* The description of the phone libraries: what this process loaded
 * holds; each line stops holding when what it says changes; a line
 * cut short, an unknown question or an empty description never holds. */
static void test_libs(void **st)
{
	struct sbuf d = {0};
	char err[256], *env;
	struct phone_result pr;
	const char *v;

	(void)st;
	assert_int_equal(snapcache_libs_describe(&d, err, sizeof err), 0);
	if (!phone_loaded())                   /* no number checked yet: nothing owed */
		assert_string_equal(d.s, "phone\t-\tunused\n");
	assert_int_equal(phone_check("+13125559999", NULL, &pr), 0);
	sbuf_reset(&d);
	assert_int_equal(snapcache_libs_describe(&d, err, sizeof err), 0);
	assert_non_null(strstr(d.s, "\nobject\t"));
	assert_non_null(strstr(d.s, "libphonenumber.so"));
	assert_non_null(strstr(d.s, "\npath\t/etc/ld.so.cache\t"));
	assert_int_equal(snapcache_libs_current(d.s, d.len), 0);

	v = getenv("LD_LIBRARY_PATH");
	env = v ? xstrdup(v) : NULL;
	setenv("LD_LIBRARY_PATH", "/nonexistent", 1);
	assert_int_equal(snapcache_libs_current(d.s, d.len), -1);
	if (env)
		setenv("LD_LIBRARY_PATH", env, 1);
	else
		unsetenv("LD_LIBRARY_PATH");
	free(env);
	assert_int_equal(snapcache_libs_current(d.s, d.len), 0);

	assert_int_equal(snapcache_libs_current(d.s, d.len - 1), -1);      /* no final newline */
	assert_int_equal(snapcache_libs_current("", 0), -1);
	assert_int_equal(snapcache_libs_current("phone\t-\tunused\n", 15), 0);
	assert_int_equal(snapcache_libs_current("phone\t-\tused\n", 13), -1);
	assert_int_equal(snapcache_libs_current("magic\t-\t\n", 9), -1);
	assert_int_equal(snapcache_libs_current("path\t/\n", 7), -1);
	assert_int_equal(snapcache_libs_current("\t\tunused\n", 9), -1);
	assert_int_equal(snapcache_libs_current("path\t/nonexistent/x\terrno:2\n", 28), 0);
	assert_int_equal(snapcache_libs_current("object\t/nonexistent/x\terrno:2\n", 30), 0);
	assert_int_equal(snapcache_libs_current("object\t/proc/self/exe\terrno:2\n", 30), -1);
	sbuf_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_touch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_size_same_mtime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_main_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_country_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_glob_gains_a_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zone_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_writes_nothing, setup, teardown),
		cmocka_unit_test(test_huge_alloc),
		cmocka_unit_test_setup_teardown(test_libs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
