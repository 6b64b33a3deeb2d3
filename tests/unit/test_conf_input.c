/* test_conf_input.c - hostile input to the configuration reader (issue
 * "bad-input audit"): NUL bytes, @include of things that are not regular
 * files or too large, patient ids and values that would forge log lines,
 * invalid UTF-8, and what -t must refuse because the daemon could not use
 * it (overlong paths, a control_socket that is not a socket, an empty
 * configuration), each reported as FILE:LINE; and the bounds on what is
 * read (64 MiB a file, 256 MiB in all, includes 16 files deep). */
#include "config.h"

#include <errno.h>
#include <signal.h>

#include "unit.h"

#include "plugin_host.h"

static void expect_one(const struct errs *e, const char *file, int line, const char *text)
{
	const struct unit_err want[] = {{file, line, text}};

	unit_expect_errs(e, want, 1, unit_dir);
}

/* The daemon's paths in the scratch folder, a channel, a program and a
 * patient: a configuration -t accepts; `extra` goes first. To free. */
static char *clinic(const char *extra)
{
	size_t len = strlen(extra) + 2 * strlen(unit_dir) + 512;
	char *t = malloc(len);
	int n;

	assert_non_null(t);
	n = snprintf(t, len, "%s\ndaemon = { state_dir = \"%s/state\"; control_socket = \"%s/ctl.sock\"; };\n"
	    "channels = ( { name = \"term\"; module = \"console\"; } );\n"
	    "programs = ( { id = \"op\"; kind = \"OP\"; } );\n"
	    "patients = ( { id = \"p\"; program = \"op\"; start = \"2026-12-01\"; } );\n",
	    extra, unit_dir, unit_dir);
	assert_true(n > 0 && (size_t)n < len);
	return t;
}

/* No error or warning at all. */
static void expect_clean(struct snapshot *s, const struct errs *e)
{
	if (!s || e->count || e->nwarn)
		fail_msg("unexpected diagnostics:\n%s%s", e->warn.s ? e->warn.s : "",
		    e->text.s ? e->text.s : "");
	snapshot_unref(s);
}

/* ---- 3: a NUL byte ------------------------------------------------------------ */

/* libconfig reads a C string: everything after the NUL (here the closures
 * and a patient) would silently be lost, and -t would say ok. */
static void test_nul_byte(void **state)
{
	static const char text[] = "programs = ( { id = \"op\"; kind = \"OP\"; } );\n"
	    "# a comment\x00 with a NUL\n"
	    "closures = [ \"2026-12-25\" ];\n";
	char *path = unit_path(unit_dir, "nul.conf");
	FILE *f = fopen(path, "w");
	struct errs e = {0};

	(void)state;
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, sizeof text - 1, f), sizeof text - 1);
	assert_int_equal(fclose(f), 0);
	assert_null(conf_load(path, CONF_CALENDAR, &e));
	expect_one(&e, path, 2, "a NUL byte (\\0) at column 12");
	errs_free(&e);
	free(path);
}

/* ---- 5: @include of what is not a regular file ---------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
	fail_msg("conf_load hung (a FIFO?)");
}

static void test_include_not_regular(void **state)
{
	char *fifo = unit_path(unit_dir, "fifo"), *sub = unit_path(unit_dir, "folder"), *path;
	struct errs e = {0};

	(void)state;
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	signal(SIGALRM, on_alarm);
	alarm(20);                         /* a FIFO used to block for ever */
	path = unit_write(unit_dir, "main.conf", "@include \"fifo\"\n@include \"/dev/zero\"\n"
	    "@include \"folder\"\n", 0600);
	assert_null(conf_load(path, CONF_CALENDAR, &e));
	alarm(0);
	{
		const struct unit_err want[] = {
			{path, 1, "cannot read @include \"fifo\""},
			{path, 2, "cannot read @include \"/dev/zero\" (/dev/zero): it is a character device: name a regular file"},
			{path, 3, "cannot read @include \"folder\""},
		};
		unit_expect_errs(&e, want, 3, unit_dir);
		assert_non_null(strstr(e.text.s, "it is a FIFO: name a regular file"));
		assert_non_null(strstr(e.text.s, "it is a folder: name a regular file"));
	}
	errs_free(&e);
	/* the main file itself */
	assert_null(conf_load(fifo, CONF_CALENDAR, &e));
	expect_one(&e, fifo, 1, "cannot read the configuration: it is a FIFO");
	errs_free(&e);
	free(path);
	free(fifo);
	free(sub);
}

/* A regular file larger than the cap is refused before it is read whole;
 * so is a configuration whose includes add up to more than the total cap. */
static void test_include_too_large(void **state)
{
	char *big = unit_path(unit_dir, "big.conf"), *path;
	struct errs e = {0};
	int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)65 << 20), 0);    /* sparse: nothing on disk */
	assert_int_equal(close(fd), 0);
	path = unit_write(unit_dir, "main.conf", "# big\n@include \"big.conf\"\n", 0600);
	assert_null(conf_load(path, CONF_CALENDAR, &e));
	expect_one(&e, path, 2, "it is larger than 64 MiB, the most iopd reads of one file");
	errs_free(&e);
	free(path);
	free(big);
}

/* A file read from several includes counts each time: the whole text is
 * bounded as well (256 MiB), not only each file (64 MiB). */
static void test_includes_too_large_together(void **state)
{
	char *big = unit_path(unit_dir, "big.conf"), *path, *blank = malloc(1 << 20);
	struct errs e = {0};
	int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600), i;

	(void)state;
	assert_true(fd >= 0 && blank);
	memset(blank, '\n', 1 << 20);     /* text (blank lines): each read is kept */
	for (i = 0; i < 60; i++)
		assert_int_equal(write(fd, blank, 1 << 20), 1 << 20);
	assert_int_equal(close(fd), 0);
	free(blank);
	path = unit_write(unit_dir, "main.conf", "@include \"big.conf\"\n@include \"big.conf\"\n"
	    "@include \"big.conf\"\n@include \"big.conf\"\n@include \"big.conf\"\n", 0600);
	assert_null(conf_load(path, CONF_CALENDAR, &e));
	expect_one(&e, path, 5, "with it the configuration and its includes would be larger than "
	    "256 MiB, the most iopd reads");
	errs_free(&e);
	free(path);
	free(big);
}

/* Files 16 deep (the main one and 15 nested includes) are read; one more
 * is an error where its @include is written. */
static void test_include_depth(void **state)
{
	char name[32], text[64], *path, *last = NULL;
	struct errs e = {0};
	struct snapshot *s;
	int i;

	(void)state;
	/* main.conf -> 1.inc -> ... -> 15.inc: 16 files deep */
	for (i = 1; i < 15; i++) {
		snprintf(name, sizeof name, "%d.inc", i);
		snprintf(text, sizeof text, "# level %d\n@include \"%d.inc\"\n", i, i + 1);
		free(unit_write(unit_dir, name, text, 0600));
	}
	free(unit_write(unit_dir, "15.inc", "# the deepest that is read\n", 0600));
	path = unit_write(unit_dir, "main.conf", "@include \"1.inc\"\n"
	    "programs = ( { id = \"op\"; kind = \"OP\"; } );\n", 0600);
	s = conf_load(path, CONF_CALENDAR, &e);
	if (!s)
		fail_msg("%s", e.text.s);
	snapshot_unref(s);
	errs_free(&e);
	free(unit_write(unit_dir, "15.inc", "# one level too many\n@include \"16.inc\"\n", 0600));
	free(unit_write(unit_dir, "16.inc", "# never read\n", 0600));
	last = unit_path(unit_dir, "15.inc");
	assert_null(conf_load(path, CONF_CALENDAR, &e));
	expect_one(&e, last, 2, "includes nested too deep");
	errs_free(&e);
	free(last);
	free(path);
}

/* ---- 7: patient ids, escaped values, UTF-8 --------------------------------------- */

static void test_patient_id_rule(void **state)
{
	char *path = unit_path(unit_dir, "ids.conf");
	struct errs e = {0};
	struct snapshot *s;

	(void)state;
	assert_null(unit_load_text(unit_dir, "ids.conf",
	    "programs = ( { id = \"op\"; kind = \"OP\"; } );\n"
	    "patients = (\n"
	    "  { id = \"p-00042.a_B\"; program = \"op\"; start = \"2026-12-01\"; },\n"
	    "  { id = \"x\\n<0>iopd: forged line\"; program = \"op\"; start = \"2026-12-01\"; },\n"
	    "  { id = \"two words\"; program = \"op\"; start = \"2026-12-01\"; },\n"
	    "  { id = \"caf\\xc3\\xa9\"; program = \"op\"; start = \"2026-12-01\"; }\n"
	    ");\n", CONF_CALENDAR, &e));
	{
		const struct unit_err want[] = {
			{path, 4, "patient id \"x\\n<0>iopd: forged line\": use letters A-Z a-z, digits, '.', '_' and '-' only"},
			{path, 5, "patient id \"two words\": use letters"},
			{path, 6, "patient id \"caf\xc3\xa9\": use letters"},
		};
		unit_expect_errs(&e, want, 3, unit_dir);
	}
	/* the value is echoed escaped: no raw newline in any message */
	assert_null(strstr(e.text.s, "\n<0>"));
	errs_free(&e);
	s = unit_load_text(unit_dir, "ids.conf", "programs = ( { id = \"op\"; kind = \"OP\"; } );\n"
	    "patients = ( { id = \"p-00042.a_B\"; program = \"op\"; start = \"2026-12-01\"; } );\n",
	    CONF_CALENDAR, &e);
	expect_clean(s, &e);
	free(path);
}

/* Any value echoed in a message: control characters and escape sequences
 * come out as \n, \xNN, never raw (a terminal or the journal would read
 * them). */
static void test_values_escaped(void **state)
{
	char *path = unit_path(unit_dir, "esc.conf");
	struct errs e = {0};
	const char *p;

	(void)state;
	assert_null(unit_load_text(unit_dir, "esc.conf",
	    "daemon = { timezone = \"Europe/\\x1b[31mRed\\r\\n<3>x\"; log_level = \"\\x07\\x7f\"; };\n",
	    CONF_CALENDAR, &e));
	{
		const struct unit_err want[] = {
			{path, 1, "bad time zone name \"Europe/\\x1b[31mRed\\r\\n<3>x\""},
			{path, 1, "unknown level \"\\x07\\x7f\""},
		};
		unit_expect_errs(&e, want, 2, unit_dir);
	}
	for (p = e.text.s; *p; p++)
		if (*p != '\n')
			assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	errs_free(&e);
	free(path);
}

static void test_invalid_utf8(void **state)
{
	char *path = unit_path(unit_dir, "u.conf");
	struct errs e = {0};
	struct snapshot *s;

	(void)state;
	assert_null(unit_load_text(unit_dir, "u.conf",
	    "templates = {\n"
	    "  session = { sms = \"Hola {first_name}, ma\xf1" "ana a las {time}.\"; };\n"
	    "};\n"
	    "programs = ( { id = \"op\"; kind = \"OP\"; } );\n"
	    "patients = ( { id = \"p\"; first_name = \"Jos\xe9\"; program = \"op\"; start = \"2026-12-01\"; } );\n",
	    CONF_CALENDAR, &e));
	{
		const struct unit_err want[] = {
			{path, 2, "templates.session.sms: not valid UTF-8 (byte 0xf1, byte 22 of the value): save the file as UTF-8"},
			{path, 5, "patients[0] id \"p\": first_name: not valid UTF-8 (byte 0xe9, byte 4 of the value)"},
		};
		unit_expect_errs(&e, want, 2, unit_dir);
	}
	errs_free(&e);
	/* the same in UTF-8 is fine */
	s = unit_load_text(unit_dir, "u.conf",
	    "templates = { session = { sms = \"Hola {first_name}, ma\xc3\xb1" "ana a las {time}.\"; }; };\n"
	    "programs = ( { id = \"op\"; kind = \"OP\"; } );\n"
	    "patients = ( { id = \"p\"; first_name = \"Jos\xc3\xa9\"; program = \"op\"; start = \"2026-12-01\"; } );\n",
	    CONF_CALENDAR, &e);
	expect_clean(s, &e);
	free(path);
}

/* ---- 2, 8, 11: what the daemon could not use ---------------------------------- */

static void test_control_socket_not_a_socket(void **state)
{
	char *ledger = unit_write(unit_dir, "ledger.db", "SQLite format 3", 0600), *text, *path;
	struct errs e = {0};

	(void)state;
	assert_true(asprintf(&text, "daemon = {\n  control_socket = \"%s\";\n};\n", ledger) > 0);
	path = unit_write(unit_dir, "main.conf", text, 0600);
	free(text);
	text = clinic("");
	{
		/* main.conf's own daemon group wins over the clinic's: first */
		FILE *f = fopen(path, "a");
		assert_non_null(f);
		fputs(strstr(text, "channels"), f);
		fclose(f);
	}
	assert_null(conf_load(path, CONF_FULL, &e));
	expect_one(&e, path, 2, "exists and is not a socket (it is a file): iopd would have to delete it");
	errs_free(&e);
	/* the agenda does not care where the socket is */
	snapshot_unref(conf_load(path, CONF_CALENDAR, &e));
	assert_int_equal(e.count, 0);
	assert_int_equal(access(ledger, F_OK), 0);
	free(text);
	free(path);
	free(ledger);
}

static void test_overlong_paths(void **state)
{
	size_t n = 100000;
	char *longdir = malloc(n + 1), *text, *path = unit_path(unit_dir, "main.conf"), *tail;

	(void)state;
	assert_non_null(longdir);
	memset(longdir, 'a', n);
	longdir[0] = '/';
	longdir[n] = '\0';
	tail = clinic("");
	assert_true(asprintf(&text, "daemon = {\n  state_dir = \"%s\";\n  control_socket = \"/run/%.*s\";\n"
	    "  metrics_file = \"/var/%.*s.prom\";\n};\n%s", longdir, 200, longdir + 1, 5000, longdir + 1,
	    strstr(tail, "channels")) > 0);
	{
		struct errs e = {0};
		const struct unit_err want[] = {
			{path, 2, "daemon.state_dir is 100000 bytes long; the ledger inside it needs a path under 512 bytes"},
			{path, 3, "daemon.control_socket is 205 bytes long; a Unix socket's path has room for at most 107"},
			{path, 4, "daemon.metrics_file is 5010 bytes long: at most"},
		};
		assert_null(unit_load_text(unit_dir, "main.conf", text, CONF_FULL, &e));
		unit_expect_errs(&e, want, 3, unit_dir);
		errs_free(&e);
	}
	free(text);
	free(tail);
	free(longdir);
	free(path);
}

static void test_empty_configuration(void **state)
{
	char *path = unit_path(unit_dir, "empty.conf"), *text;
	struct errs e = {0};
	struct snapshot *s;

	(void)state;
	assert_true(asprintf(&text, "# nothing yet\ndaemon = { state_dir = \"%s/state\"; control_socket = \"%s/ctl.sock\"; };\n",
	    unit_dir, unit_dir) > 0);
	assert_null(unit_load_text(unit_dir, "empty.conf", text, CONF_FULL, &e));
	{
		const struct unit_err want[] = {
			{path, 1, "no channels: iopd would have nowhere to send; add channels = ("},
			{path, 1, "no programs: no patient can be enrolled; add programs = ("},
		};
		unit_expect_errs(&e, want, 2, unit_dir);
	}
	errs_free(&e);
	free(text);
	/* a clinic without patients yet runs: a warning */
	text = clinic("");
	*strstr(text, "patients") = '\0';
	s = unit_load_text(unit_dir, "empty.conf", text, CONF_FULL, &e);
	assert_non_null(s);
	snapshot_unref(s);
	assert_int_equal(e.count, 0);
	assert_int_equal(e.nwarn, 1);
	assert_non_null(strstr(e.warn.s, "warning: no patients: nothing will be sent"));
	errs_free(&e);
	free(text);
	free(path);
}

static void test_state_dir_readable(void **state)
{
	char *dir = unit_path(unit_dir, "state"), *text = clinic("");
	struct errs e = {0};
	struct snapshot *s;

	(void)state;
	assert_int_equal(mkdir(dir, 0700), 0);
	expect_clean(unit_load_text(unit_dir, "main.conf", text, CONF_FULL, &e), &e);
	assert_int_equal(chmod(dir, 0755), 0);
	s = unit_load_text(unit_dir, "main.conf", text, CONF_FULL, &e);
	assert_non_null(s);
	snapshot_unref(s);
	assert_int_equal(e.nwarn, 1);
	assert_non_null(strstr(e.warn.s, "can be read by other users (mode 0755): chmod 700"));
	errs_free(&e);
	free(text);
	free(dir);
}

/* A medication's dates default to the enrollment's: when that ends before
 * it starts, the error is said once, at the discharge (reading it used to
 * crash on a medication with neither from nor until). */
static void test_med_dates_of_a_bad_enrollment(void **state)
{
	static const char text[] =
	    "templates = { medication = { sms = \"m\"; }; };\n"
	    "patients = ( { id = \"p\"; program = \"op\"; start = \"2026-03-08\";\n"
	    "  discharge = \"2025-03-08\";\n"
	    "  medications = ( { label = \"night\"; times = [\"02:30\"]; channels = [\"term\"]; } ); },\n"
	    "  { id = \"q\"; program = \"op\"; start = \"2026-03-08\"; discharge = \"2026-03-10\";\n"
	    "  medications = ( { label = \"dose\"; times = [\"09:00\"]; channels = [\"term\"];\n"
	    "    from = \"2026-03-11\"; } ); } );\n"
	    "channels = ( { name = \"term\"; module = \"console\"; } );\n"
	    "programs = ( { id = \"op\"; kind = \"OP\"; } );\n";
	char *path = unit_path(unit_dir, "main.conf");
	struct errs e = {0};
	const struct unit_err want[] = {
		{path, 3, "patients[0] id \"p\": discharge: is before start"},
		{path, 7, "from: is after the end of the enrollment (until's default)"},
	};

	(void)state;
	assert_null(unit_load_text(unit_dir, "main.conf", text, CONF_CALENDAR, &e));
	unit_expect_errs(&e, want, 2, unit_dir);
	errs_free(&e);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nul_byte, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_include_not_regular, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_include_too_large, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_includes_too_large_together, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_include_depth, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_patient_id_rule, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_values_escaped, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_invalid_utf8, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_control_socket_not_a_socket, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_overlong_paths, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_empty_configuration, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_state_dir_readable, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_med_dates_of_a_bad_enrollment, unit_setup, unit_teardown),
	};

	int rc;

	/* the build tree's plugins (console) for CONF_FULL; no systemd folders */
	setenv("IOPD_PLUGIN_DIR", TEST_BUILDDIR "/plugins/.libs", 1);
	unsetenv("STATE_DIRECTORY");
	unsetenv("RUNTIME_DIRECTORY");
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	plugin_unload_all();
	tz_cleanup();
	return rc;
}
