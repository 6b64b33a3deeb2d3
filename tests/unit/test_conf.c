/* test_conf.c - daemon/conf*.c: every class of configuration error, each
 * reported as FILE:LINE at the offending setting, all of them in one run;
 * and what valid configurations turn into (SPEC 3, 3.3, 7).
 *
 * The big error run reads tests/unit/conf/errors.conf, whose "#!" marks
 * say which diagnostics each line must produce (see the file's head).
 * Everything that needs file modes or a working directory of its own is
 * written to a scratch folder. */
#include "config.h"

#include <errno.h>

#include "unit.h"

#include "calendar.h"
#include "plugin_host.h"

#ifndef TEST_SRCDIR
#error "TEST_SRCDIR must be defined by Makefile.am"
#endif
#ifndef TEST_BUILDDIR
#error "TEST_BUILDDIR must be defined by Makefile.am"
#endif
#define FIXTURES TEST_SRCDIR "/tests/unit/conf"

/* ---- the marked fixtures ----------------------------------------------------- */

struct marks {
	struct unit_err v[256];
	char *owned[256];              /* strings to free */
	size_t n, nowned;
};

static char *keep(struct marks *m, char *s)
{
	assert_true(m->nowned < 256);
	m->owned[m->nowned++] = s;
	return s;
}

/* Adds the "#!" marks of `path` (absolute) to m. */
static void read_marks(struct marks *m, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int no = 0;
	const char *file = keep(m, strdup(path));

	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f)) {
		char *p = line, *mark;
		no++;
		line[strcspn(line, "\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#')                 /* a comment line explains, never marks */
			continue;
		for (mark = strstr(p, "#!"); mark; ) {
			char *text = mark + 2, *next = strstr(text, "#!"), *end;
			while (*text == ' ')
				text++;
			end = next ? next : text + strlen(text);
			while (end > text && end[-1] == ' ')
				end--;
			assert_true(m->n < 256);
			m->v[m->n].file = file;
			m->v[m->n].line = no;
			m->v[m->n].text = keep(m, strndup(text, (size_t)(end - text)));
			m->n++;
			mark = next;
		}
	}
	fclose(f);
}

static void free_marks(struct marks *m)
{
	size_t i;

	for (i = 0; i < m->nowned; i++)
		free(m->owned[i]);
}

/* One run over errors.conf and its @include, from another working
 * directory: every mark, nothing else, each at its own file and line. */
static void test_every_error_in_one_run(void **state)
{
	char *fixdir = realpath(FIXTURES, NULL), *main_file, *included, cwd[PATH_MAX];
	struct marks *m = calloc(1, sizeof *m);
	struct errs e = {0};

	(void)state;
	assert_non_null(fixdir);
	assert_non_null(m);
	main_file = unit_path(fixdir, "errors.conf");
	included = unit_path(fixdir, "more/errors-patients.conf");
	read_marks(m, main_file);
	read_marks(m, included);
	assert_true(m->n > 100);
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(unit_dir), 0);           /* the include is found all the same */
	assert_null(conf_load(main_file, CONF_CALENDAR, &e));
	assert_int_equal(chdir(cwd), 0);
	unit_expect_errs(&e, m->v, m->n, fixdir);
	assert_int_equal(e.nwarn, 0);
	errs_free(&e);
	free_marks(m);
	free(m);
	free(main_file);
	free(included);
	free(fixdir);
}

/* ---- syntax and files -------------------------------------------------------- */

static void expect_one(const struct errs *e, const char *file, int line, const char *text)
{
	const struct unit_err want[] = {{file, line, text}};

	unit_expect_errs(e, want, 1, unit_dir);
}

static void test_syntax_error_main(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "main.conf");

	(void)state;
	assert_null(unit_load_text(unit_dir, "main.conf",
	    "daemon = {\n  timezone = \"UTC\";\n  catch_up = \"2h\"\n  quiet_hours = { from = ; };\n};\n",
	    CONF_CALENDAR, &e));
	expect_one(&e, path, 4, "syntax error");
	errs_free(&e);
	/* a setting given twice is libconfig's error too */
	assert_null(unit_load_text(unit_dir, "main.conf",
	    "daemon = { timezone = \"UTC\"; };\n\ndaemon = { };\n", CONF_CALENDAR, &e));
	expect_one(&e, path, 3, "duplicate setting name");
	errs_free(&e);
	/* an array of mixed types */
	assert_null(unit_load_text(unit_dir, "main.conf",
	    "closures = [\n  \"2026-12-25\",\n  5 ];\n", CONF_CALENDAR, &e));
	expect_one(&e, path, 3, "mismatched element type in array");
	errs_free(&e);
	free(path);
}

/* A syntax error in an included file names that file and its line. */
static void test_syntax_error_included(void **state)
{
	struct errs e = {0};
	char *sub = unit_path(unit_dir, "patients"), *inc, cwd[PATH_MAX];

	(void)state;
	assert_int_equal(mkdir(sub, 0700), 0);
	free(unit_write(sub, "clinic.conf", "patients = (\n  { id = \"p1\";\n    program = \"x\"\n    start = ; }\n);\n", 0600));
	inc = unit_path(sub, "clinic.conf");
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir("/"), 0);
	assert_null(unit_load_text(unit_dir, "main.conf", "daemon = { };\n\n@include \"patients/clinic.conf\"\n",
	    CONF_CALENDAR, &e));
	assert_int_equal(chdir(cwd), 0);
	expect_one(&e, inc, 4, "syntax error");
	errs_free(&e);
	free(inc);
	free(sub);
}

static void test_missing_files(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "main.conf"), *nofile = unit_path(unit_dir, "absent.conf");

	(void)state;
	assert_null(unit_load_text(unit_dir, "main.conf", "daemon = { };\n@include \"patients/none.conf\"\n",
	    CONF_CALENDAR, &e));
	expect_one(&e, path, 2, "cannot read @include \"patients/none.conf\"");
	errs_free(&e);
	/* no file at all: at its first line, as every message has one */
	assert_null(conf_load(nofile, CONF_CALENDAR, &e));
	expect_one(&e, nofile, 1, "cannot read the configuration: No such file or directory");
	errs_free(&e);
	free(path);
	free(nofile);
}

/* A relative @include is read against the main file's folder, whatever
 * the working directory, including nested folders. */
static void test_relative_include_other_cwd(void **state)
{
	struct errs e = {0};
	char *sub = unit_path(unit_dir, "conf.d"), *sub2 = unit_path(unit_dir, "conf.d/patients"), *main_file;
	char cwd[PATH_MAX];
	struct snapshot *s;

	(void)state;
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mkdir(sub2, 0700), 0);
	free(unit_write(sub2, "clinic.conf",
	    "patients = ( { id = \"p1\"; program = \"op\"; start = \"2026-12-01\"; } );\n", 0600));
	free(unit_write(sub, "programs.conf", "programs = ( { id = \"op\"; kind = \"OP\"; } );\n", 0600));
	main_file = unit_write(unit_dir, "main.conf",
	    "daemon = { timezone = \"America/Chicago\"; };\n"
	    "@include \"conf.d/programs.conf\"\n"
	    "@include \"conf.d/patients/clinic.conf\"\n", 0600);
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(sub2), 0);
	s = conf_load(main_file, CONF_CALENDAR, &e);
	assert_int_equal(chdir(cwd), 0);
	if (!s)
		fail_msg("%s", e.text.s);
	assert_int_equal(s->nprograms, 1);
	assert_int_equal(s->npatients, 1);
	assert_string_equal(s->patients[0].id, "p1");
	assert_string_equal(s->config_file, main_file);
	snapshot_unref(s);
	errs_free(&e);
	free(main_file);
	free(sub);
	free(sub2);
}

/* An @include inside an included file is read against that file's own
 * folder; errors in it name it and its own lines; a loop is refused. */
static void test_nested_include(void **state)
{
	struct errs e = {0};
	char *sub = unit_path(unit_dir, "patients"), *main_file, *loop_file, *bad;
	struct snapshot *s;

	(void)state;
	assert_int_equal(mkdir(sub, 0700), 0);
	free(unit_write(sub, "all.conf", "patients = (\n@include \"one.conf\"\n,\n"
	    "@include \"two.conf\" # the second\n);\n", 0600));
	free(unit_write(sub, "one.conf", "{ id = \"p1\"; program = \"op\"; start = \"2026-12-01\"; }\n", 0600));
	free(unit_write(sub, "two.conf", "/* @include \"nowhere.conf\" is commented out */\n"
	    "{ id = \"p2\"; program = \"op\";\n  start = \"2026-12-01\"; }\n", 0600));
	main_file = unit_write(unit_dir, "main.conf",
	    "programs = ( { id = \"op\"; kind = \"OP\"; } );\n"
	    "@include \"patients/all.conf\"\n", 0600);
	s = conf_load(main_file, CONF_CALENDAR, &e);
	if (!s)
		fail_msg("%s", e.text.s);
	assert_int_equal(s->npatients, 2);
	snapshot_unref(s);
	errs_free(&e);

	/* an error on line 3 of patients/two.conf is reported there */
	free(unit_write(sub, "two.conf", "{ id = \"p2\"; program = \"op\";\n"
	    "  start = \"2026-12-01\";\n  colour = \"red\"; }\n", 0600));
	bad = unit_path(unit_dir, "patients/two.conf");
	assert_null(conf_load(main_file, CONF_CALENDAR, &e));
	expect_one(&e, bad, 3, "unknown key \"colour\"");
	errs_free(&e);

	/* a file that includes itself */
	loop_file = unit_write(sub, "two.conf", "@include \"two.conf\"\n", 0600);
	assert_null(conf_load(main_file, CONF_CALENDAR, &e));
	expect_one(&e, bad, 1, "it includes itself");
	errs_free(&e);
	free(loop_file);
	free(bad);
	free(main_file);
	free(sub);
}

/* ---- wrong types at the top and in the blocks ---------------------------------- */

static void test_wrong_types(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *why;
	} v[] = {
		{"daemon = 5;\n", 1, "daemon: expected a group"},
		{"daemon = ( );\n", 1, "daemon: expected a group"},
		{"channels = { };\n", 1, "channels: expected a list"},
		{"channels = \"sms\";\n", 1, "channels: expected a list"},
		{"templates = ( );\n", 1, "templates: expected a group"},
		{"templates = { session = \"Hi\"; };\n", 1, "templates.session: expected a group"},
		{"closures = \"2026-12-25\";\n", 1, "closures: expected a list of dates"},
		{"closures = [ 20261225 ];\n", 1, "closures[0]: expected a string, got an integer"},
		{"programs = { };\n", 1, "programs: expected a list"},
		{"programs = ( \"iop\" );\n", 1, "programs[0]: expected a group"},
		{"patients = 5;\n", 1, "patients: expected a list"},
		{"patients = ( [ \"p1\" ] );\n", 1, "patients[0]: expected a group"},
		{"daemon = {\n  quiet_hours = \"21:00-08:00\"; };\n", 2, "daemon.quiet_hours: expected a group"},
		{"daemon = {\n  timezone = 5; };\n", 2, "daemon.timezone: expected a string"},
		{"daemon = {\n  catch_up = 2.5; };\n", 2, "daemon.catch_up: expected a string"},
		{"daemon = {\n  ledger_retention = \"7d\"; };\n", 2,
		    "daemon.ledger_retention \"7d\" is shorter than 30 days"},
		{"daemon = {\n  ledger_retention = \"ever\"; };\n", 2, "daemon.ledger_retention"},
		{"daemon = {\n  quiet_hours = { from = 2100; to = \"08:00\"; }; };\n", 2,
		    "daemon.quiet_hours.from: expected a string (a time like \"18:00\")"},
		{"programs = ( { id = \"x\";\n  sessions = { }; } );\n", 2, "programs[0].sessions: expected a list"},
		{"programs = ( { id = \"x\";\n  reminders = \"1d\"; } );\n", 2, "programs[0].reminders: expected a list"},
		{"programs = ( { id = \"x\";\n  aftercare = ( ); } );\n", 2, "programs[0].aftercare: expected a group"},
		{"programs = ( { id = 5; } );\n", 1, "programs[0].id: expected a string"},
		{"programs = ( { id = \"x\";\n  weeks = 12.5; } );\n", 2, "programs[0].weeks: expected an integer, got a number"},
		{"programs = ( { id = \"x\";\n  weeks = 600; } );\n", 2, "programs[0].weeks: 600 is out of range (1 to 520)"},
		{"programs = ( { id = \"x\";\n  weeks = 99999999999L; } );\n", 2, "programs[0].weeks: 99999999999 is out of range"},
		{"programs = ( { id = \"x\";\n  weeks = -1; } );\n", 2, "programs[0].weeks: -1 is out of range"},
		{"programs = ( { id = \"x\";\n  name = [ \"X\" ]; } );\n", 2, "programs[0].name: expected a string"},
		{"programs = ( { id = \"x\";\n  closures = \"2026-12-25\"; } );\n", 2, "programs[0].closures: expected a list of dates"},
		{"programs = ( { id = \"x\"; } );\npatients = ( { id = \"p\"; program = \"x\"; start = \"2026-12-01\";\n"
		    "  appointments = { }; } );\n", 3, "patients[0] id \"p\": appointments: expected a list"},
		{"programs = ( { id = \"x\"; } );\npatients = ( { id = \"p\"; program = \"x\"; start = \"2026-12-01\";\n"
		    "  medications = \"x\"; } );\n", 3, "patients[0] id \"p\": medications: expected a list"},
		{"programs = ( { id = \"x\"; } );\npatients = ( { id = \"p\"; program = \"x\"; start = \"2026-12-01\";\n"
		    "  medications = ( \"x\" ); } );\n", 3, "patients[0] id \"p\": medications[0]: expected a group"},
		{"programs = ( { id = \"x\"; } );\npatients = ( { id = \"p\"; program = \"x\"; start = \"2026-12-01\";\n"
		    "  appointments = ( 5 ); } );\n", 3, "patients[0] id \"p\": appointments[0]: expected a group"},
		{"programs = ( { id = \"x\"; } );\npatients = ( { id = \"p\"; program = \"x\";\n"
		    "  start = 20261201; } );\n", 3, "patients[0] id \"p\": start: expected a string (a date like \"2026-12-01\")"},
		{"programs = ( { id = \"x\"; } );\npatients = ( { id = \"p\"; program = \"x\"; start = \"2026-12-01\";\n"
		    "  absences = \"2026-12-02\"; } );\n", 3, "patients[0] id \"p\": absences: expected a list of dates"},
		{"programs = ( { id = \"x\"; } );\npatients = ( { id = \"p\"; program = \"x\"; start = \"2026-12-01\";\n"
		    "  paused = 0; } );\n", 3, "patients[0] id \"p\": paused: expected true or false, got an integer"},
		{"programs = ( { id = \"x\"; } );\npatients = ( { id = 7; program = \"x\"; start = \"2026-12-01\"; } );\n",
		    2, "patients[0].id: expected a string"},
		{"channels = ( { name = \"t\"; module = \"console\";\n  timeout = 15; } );\n", 2,
		    "channels[0].timeout: expected a string (a duration like \"2h\")"},
		{"channels = ( { name = [ \"t\" ]; module = \"console\"; } );\n", 1, "channels[0].name: expected a string"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct errs e = {0};
		char *path = unit_path(unit_dir, "t.conf");
		struct snapshot *s = unit_load_text(unit_dir, "t.conf", v[i].text, CONF_CALENDAR, &e);
		if (s)
			fail_msg("case %zu accepted:\n%s", i, v[i].text);
		expect_one(&e, path, v[i].line, v[i].why);
		errs_free(&e);
		free(path);
	}
}

/* ---- references to the default templates --------------------------------------- */

static void test_default_templates_missing(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "t.conf");
	const char *text =
	    "channels = ( { name = \"sms\"; module = \"sms\"; } );\n"                        /* 1 */
	    "templates = { other = { sms = \"Hi\"; }; };\n"                                  /* 2 */
	    "programs = ( { id = \"x\";\n"                                                   /* 3 */
	    "  sessions = (\n"                                                               /* 4 */
	    "    { id = \"g\"; days = [ \"mon\" ]; start = \"18:00\"; },\n"                  /* 5 */
	    "    { id = \"h\"; days = [ \"tue\" ]; start = \"18:00\"; template = \"other\"; },\n" /* 6: ok */
	    "    { id = \"i\"; days = [ \"wed\" ]; start = \"18:00\";\n"                     /* 7 */
	    "      reminders = ( { before = \"1h\"; channels = [ \"sms\" ]; template = \"other\"; } ); },\n" /* 8: ok */
	    "    { id = \"j\"; days = [ \"thu\" ]; start = \"18:00\"; reminders = ( ); }\n"  /* 9: no rules, ok */
	    "  );\n"                                                                         /* 10 */
	    "  reminders = ( { before = \"1d\"; channels = [ \"sms\" ]; } );\n"              /* 11 */
	    "  aftercare = { at = \"10:00\"; after = [ \"7d\" ]; channels = [ \"sms\" ]; };\n" /* 12 */
	    "} );\n"                                                                         /* 13 */
	    "patients = ( { id = \"p\"; program = \"x\"; start = \"2026-12-01\";\n"          /* 14 */
	    "  appointments = ( { at = \"2026-12-03 16:00\"; },\n"                           /* 15 */
	    "    { at = \"2026-12-04 16:00\"; template = \"other\"; } );\n"                 /* 16: ok */
	    "  medications = ( { label = \"m\"; times = [ \"08:00\" ]; channels = [ \"sms\" ]; },\n" /* 17 */
	    "    { label = \"n\"; times = [ \"09:00\" ]; channels = [ \"sms\" ]; template = \"other\"; } ); } );\n"; /* 18: ok */
	const struct unit_err want[] = {
		{path, 5, "programs[0].sessions[0]: no template \"session\" is defined for this reminder"},
		{path, 12, "programs[0].aftercare: no template \"aftercare\" is defined"},
		{path, 15, "patients[0] id \"p\": appointments[0]: no template \"session\" is defined"},
		{path, 17, "patients[0] id \"p\": medications[0]: no template \"medication\" is defined"},
	};

	(void)state;
	assert_null(unit_load_text(unit_dir, "t.conf", text, CONF_CALENDAR, &e));
	unit_expect_errs(&e, want, sizeof want / sizeof want[0], unit_dir);
	errs_free(&e);
	free(path);
}

/* A patient with an unknown program is one error, without a cascade. */
static void test_no_cascade(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "t.conf");

	(void)state;
	assert_null(unit_load_text(unit_dir, "t.conf",
	    "channels = ( { name = \"sms\"; module = \"sms\"; } );\n"
	    "templates = { session = { sms = \"Hi\"; }; medication = { sms = \"Hi\"; }; };\n"
	    "programs = ( { id = \"x\"; reminders = ( { before = \"1d\"; channels = [ \"sms\" ]; } ); } );\n"
	    "patients = ( { id = \"p\"; program = \"y\"; start = \"2026-12-01\";\n"
	    "  appointments = ( { at = \"2026-12-03 16:00\"; } );\n"
	    "  medications = ( { label = \"m\"; times = [ \"08:00\" ]; channels = [ \"sms\" ]; } ); },\n"
	    "  { id = \"q\"; program = \"x\"; start = \"2026-12-01\"; } );\n", CONF_CALENDAR, &e));
	expect_one(&e, path, 4, "patients[0] id \"p\": program: unknown program \"y\"");
	errs_free(&e);
	free(path);
}

/* ---- valid configurations ------------------------------------------------------ */

static void test_defaults(void **state)
{
	struct snapshot *s = unit_load_ok(unit_dir,
	    "channels = ( { name = \"sms\"; module = \"sms\"; }, { name = \"email\"; module = \"smtp\"; },\n"
	    "  { name = \"ehr\"; module = \"webhook\"; }, { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { session = { sms = \"Hi\"; }; medication = { sms = \"Dose\"; }; aftercare = { sms = \"Hello\"; }; };\n"
	    "programs = ( { id = \"iop\"; sessions = ( { id = \"g\"; days = [ \"mon\" ]; start = \"18:00\"; } ); } );\n"
	    "patients = ( { id = \"p\"; program = \"iop\"; start = \"2026-11-30\";\n"
	    "  medications = ( { label = \"m\"; times = [ \"08:00\", \"07:00\", \"08:00\" ]; channels = [ \"sms\" ]; } ); } );\n");
	const struct program *pr = &s->programs[0];
	const struct patient *p = &s->patients[0];
	int32_t start;

	(void)state;
	/* SPEC 3.3 */
	assert_string_equal(tz_name(s->tz), "UTC");
	assert_string_equal(s->state_dir, "/var/lib/iopd");
	assert_string_equal(s->control_socket, "/run/iopd/control.sock");
	assert_null(s->plugin_dir);                        /* the compiled-in folder */
	assert_int_equal(s->quiet.from, 21 * 3600);
	assert_int_equal(s->quiet.to, 8 * 3600);
	assert_int_equal(s->catch_up, 2 * 3600);
	assert_int_equal(s->medication_grace, 3600);
	assert_int_equal(s->ledger_retention, 400 * 86400);
	assert_string_equal(s->clinic_phone, "");
	assert_int_equal(s->log_level, -1);                /* info, the daemon's default */
	assert_true(pr->tz == s->tz);
	assert_int_equal(pr->weeks, 12);
	assert_int_equal(pr->kind, PROGRAM_IOP);
	assert_int_equal(pr->nclosures, 0);
	assert_int_equal(pr->aftercare.n, 0);
	assert_int_equal(pr->rules.n, 0);
	assert_int_equal(pr->sessions[0].rules.n, 0);
	assert_int_equal(pr->sessions[0].duration, 0);
	assert_null(pr->sessions[0].location);
	assert_int_equal(pr->sessions[0].tmpl, -1);
	assert_true(p->tz == s->tz);
	assert_string_equal(p->language, "en");
	assert_false(p->paused);
	assert_int_equal(p->quiet.from, s->quiet.from);
	assert_int_equal(p->quiet.to, s->quiet.to);
	assert_true(parse_date("2026-11-30", &start) == 0);
	assert_int_equal(p->start, start);
	assert_int_equal(p->end, start + 7 * 12 - 1);      /* start + 7 * weeks - 1 day */
	assert_int_equal(p->nabsences, 0);
	assert_int_equal(p->nappts, 0);
	assert_true(p->allow == ~(chanmask)0);             /* no allow-list: every channel */
	assert_true(p->optout == 0);
	assert_null(p->phone);
	assert_null(p->email);
	assert_null(p->first_name);
	/* medication: the enrollment by default; times sorted, duplicates once */
	assert_int_equal(p->meds[0].from, p->start);
	assert_int_equal(p->meds[0].until, p->end);
	assert_int_equal(p->meds[0].ntimes, 2);
	assert_int_equal(p->meds[0].times[0], 7 * 3600);
	assert_int_equal(p->meds[0].times[1], 8 * 3600);
	/* channels: the common keys' defaults, and the standard modules' contacts */
	{
		int i;
		for (i = 0; i < s->nchannels; i++) {
			assert_true(s->channels[i].rate == 0);
			assert_int_equal(s->channels[i].concurrency, 8);
			assert_true(s->channels[i].timeout == 15);
			assert_false(s->channels[i].insecure_tls);
			assert_null(s->channels[i].inst);          /* no plugin in calendar mode */
		}
		assert_int_equal(s->channels[snapshot_channel(s, "sms")].contact, IOPD_CONTACT_PHONE);
		assert_int_equal(s->channels[snapshot_channel(s, "email")].contact, IOPD_CONTACT_EMAIL);
		assert_int_equal(s->channels[snapshot_channel(s, "ehr")].contact, IOPD_CONTACT_NONE);
		assert_int_equal(s->channels[snapshot_channel(s, "term")].contact, IOPD_CONTACT_NONE);
		/* name order for the agenda: ehr, email, sms, term */
		assert_string_equal(s->channels[s->channel_order[0]].name, "ehr");
		assert_string_equal(s->channels[s->channel_order[3]].name, "term");
	}
	/* the kinds' default templates; appointments use "session" */
	assert_int_equal(s->default_tmpl[KIND_SESSION], snapshot_template(s, "session"));
	assert_int_equal(s->default_tmpl[KIND_APPOINTMENT], snapshot_template(s, "session"));
	assert_int_equal(s->default_tmpl[KIND_MEDICATION], snapshot_template(s, "medication"));
	assert_int_equal(s->default_tmpl[KIND_AFTERCARE], snapshot_template(s, "aftercare"));
	assert_true(s->templates[0].discreet);
	snapshot_unref(s);
}

/* daemon.ledger_retention = "forever": nothing is ever deleted (0). */
static void test_retention_forever(void **state)
{
	struct snapshot *s = unit_load_ok(unit_dir,
	    "daemon = { ledger_retention = \"forever\"; };\n"
	    "channels = ( { name = \"sms\"; module = \"sms\"; } );\n"
	    "programs = ( { id = \"iop\"; sessions = ( { id = \"g\"; days = [ \"mon\" ]; start = \"18:00\"; } ); } );\n");

	(void)state;
	assert_int_equal(s->ledger_retention, 0);
	snapshot_unref(s);
}

static void test_values_set(void **state)
{
	struct snapshot *s = unit_load_ok(unit_dir,
	    "daemon = { timezone = \"America/New_York\"; state_dir = \"/srv/iopd\";\n"
	    "  control_socket = \"/run/x.sock\"; plugin_dir = \"/opt/iopd/plugins\";\n"
	    "  quiet_hours = { from = \"22:30\"; to = \"06:45\"; }; catch_up = \"90m\";\n"
	    "  medication_grace = \"1h30m\"; clinic_phone = \"+13125559999\"; log_level = \"debug\";\n"
	    "  ledger_retention = \"6w\"; };\n"
	    "channels = ( { name = \"sms\"; module = \"sms\"; rate = 2; concurrency = 3; timeout = \"1m\";\n"
	    "  insecure_tls = true; api = \"twilio\"; url = \"https://example.org\"; } );\n"
	    "closures = [ \"2027-01-01\", \"2026-12-25\", \"2026-12-25\" ];\n"
	    "programs = ( { id = \"a\"; name = \"Day\"; kind = \"php\"; timezone = \"America/Chicago\"; weeks = 4;\n"
	    "    closures = [ \"2026-12-31\", \"2026-12-25\" ]; },\n"
	    "  { id = \"b\"; kind = \"OP\"; } );\n"
	    "patients = (\n"
	    "  { id = \"z\"; program = \"a\"; start = \"2026-12-01\"; timezone = \"Europe/Madrid\"; language = \"es\";\n"
	    "    quiet_hours = { from = \"00:00\"; to = \"00:00\"; }; paused = true; channels = [ \"sms\" ];\n"
	    "    opt_out = [ \"sms\" ]; absences = [ \"2026-12-09\", \"2026-12-02\" ];\n"
	    "    phone = \"+34600000000\"; email = \"z@example.es\"; first_name = \"Zoe\"; },\n"
	    "  { id = \"a\"; program = \"b\"; start = \"2026-12-01\"; discharge = \"2026-12-01\"; }\n"
	    ");\n");
	const struct program *a = &s->programs[0];
	const struct patient *z = &s->patients[0];
	int32_t d;

	(void)state;
	assert_string_equal(tz_name(s->tz), "America/New_York");
	assert_string_equal(s->state_dir, "/srv/iopd");
	assert_string_equal(s->control_socket, "/run/x.sock");
	assert_string_equal(s->plugin_dir, "/opt/iopd/plugins");
	assert_int_equal(s->quiet.from, 22 * 3600 + 1800);
	assert_int_equal(s->quiet.to, 6 * 3600 + 2700);
	assert_int_equal(s->catch_up, 5400);
	assert_int_equal(s->medication_grace, 5400);
	assert_int_equal(s->ledger_retention, 42 * 86400);
	assert_string_equal(s->clinic_phone, "+13125559999");
	assert_true(s->log_level >= 0);
	assert_true(s->channels[0].rate == 2.0);
	assert_int_equal(s->channels[0].concurrency, 3);
	assert_true(s->channels[0].timeout == 60);
	assert_true(s->channels[0].insecure_tls);
	/* the program's closures: its own and the global ones, sorted, once */
	assert_string_equal(tz_name(a->tz), "America/Chicago");
	assert_int_equal(a->kind, PROGRAM_PHP);
	assert_int_equal(a->weeks, 4);
	assert_int_equal(a->nclosures, 3);
	parse_date("2026-12-25", &d);
	assert_int_equal(a->closures[0], d);
	parse_date("2026-12-31", &d);
	assert_int_equal(a->closures[1], d);
	parse_date("2027-01-01", &d);
	assert_int_equal(a->closures[2], d);
	assert_int_equal(s->programs[1].kind, PROGRAM_OP);
	assert_int_equal(s->programs[1].nclosures, 2);
	assert_true(s->programs[1].tz == s->tz);           /* the daemon's zone */
	/* the patient */
	assert_string_equal(tz_name(z->tz), "Europe/Madrid");
	assert_string_equal(z->language, "es");
	/* where each entry is, for messages that send an admin there */
	assert_int_equal(z->line, 13);
	assert_int_equal(s->patients[1].line, 17);
	assert_true(z->file == s->patients[1].file);
	assert_true(strlen(z->file) > 8 && strcmp(z->file + strlen(z->file) - 8, "/ok.conf") == 0);
	assert_int_equal(z->quiet.from, z->quiet.to);      /* from == to: none */
	assert_true(z->paused);
	assert_true(z->allow == 1);
	assert_true(z->optout == 1);
	assert_int_equal(z->nabsences, 2);
	assert_true(z->absences[0] < z->absences[1]);
	assert_int_equal(z->end, z->start + 7 * 4 - 1);     /* the program's weeks */
	assert_int_equal(s->patients[1].end, s->patients[1].start);   /* a one-day enrollment */
	/* patients by id for lookups and the agenda's order */
	assert_int_equal(snapshot_patient(s, "a"), 1);
	assert_int_equal(snapshot_patient(s, "z"), 0);
	assert_int_equal(snapshot_patient(s, "y"), -1);
	assert_int_equal(s->patients[1].rank, 0);
	assert_int_equal(s->patients[0].rank, 1);
	snapshot_unref(s);
}

/* SPEC 3's example configuration, as printed there (module keys included). */
static void test_spec_example(void **state)
{
	struct snapshot *s = unit_load_ok(unit_dir,
	    "daemon = {\n"
	    "  timezone       = \"America/New_York\";\n"
	    "  state_dir      = \"/var/lib/iopd\";\n"
	    "  control_socket = \"/run/iopd/control.sock\";\n"
	    "  plugin_dir     = \"/usr/lib/iopd/plugins\";\n"
	    "  quiet_hours    = { from = \"21:00\"; to = \"08:00\"; };\n"
	    "  catch_up       = \"2h\";\n"
	    "  medication_grace = \"1h\";\n"
	    "  clinic_phone   = \"+13125559999\";\n"
	    "};\n"
	    "channels = (\n"
	    "  { name = \"sms\"; module = \"sms\"; api = \"twilio\";\n"
	    "    url = \"https://api.twilio.com/2010-04-01/Accounts/AC0123/Messages.json\";\n"
	    "    account = \"AC0123\"; token_file = \"/etc/iopd/secrets/sms\";\n"
	    "    from = \"+13125551111\"; rate = 1.0; concurrency = 4; timeout = \"10s\"; },\n"
	    "  { name = \"email\"; module = \"smtp\"; url = \"smtp://mail.example.org:587\";\n"
	    "    from = \"Clinic <noreply@example.org>\"; user = \"iopd\"; token_file = \"/etc/iopd/secrets/smtp\"; },\n"
	    "  { name = \"ehr\"; module = \"webhook\"; url = \"https://ehr.example.org/hooks/iopd\";\n"
	    "    token_file = \"/etc/iopd/secrets/ehr\"; },\n"
	    "  { name = \"term\"; module = \"console\"; }\n"
	    ");\n"
	    "templates = {\n"
	    "  session    = { sms = \"Hi {first_name}, reminder: appointment {day} at {time}. Reply STOP to opt out.\";\n"
	    "                 email_subject = \"Appointment reminder\";\n"
	    "                 email_body = \"...\" ; };\n"
	    "  medication = { sms = \"Hi {first_name}, time for your {label}.\";\n"
	    "                 es = { sms = \"Hola {first_name}, es hora de su {label}.\"; }; };\n"
	    "  aftercare  = { sms = \"Hi {first_name}, checking in. Call us at {clinic_phone} any time.\"; };\n"
	    "};\n"
	    "closures = [ \"2026-12-25\", \"2027-01-01\" ];\n"
	    "programs = (\n"
	    "  { id = \"iop-evening\"; name = \"Evening IOP\"; kind = \"IOP\";\n"
	    "    timezone = \"America/Chicago\";\n"
	    "    weeks = 12;\n"
	    "    closures = [ \"2027-01-15\" ];\n"
	    "    sessions = (\n"
	    "      { id = \"group\";  type = \"group\";      days = [\"mon\",\"wed\",\"thu\"]; start = \"18:00\"; duration = \"3h\"; location = \"Room 2\"; },\n"
	    "      { id = \"indiv\";  type = \"individual\"; days = [\"tue\"];             start = \"17:00\"; duration = \"1h\";\n"
	    "        reminders = ( { before = \"1d\"; channels = [\"sms\"]; } ); }\n"
	    "    );\n"
	    "    reminders = (\n"
	    "      { before = \"1d\"; at = \"19:00\"; channels = [\"sms\",\"email\"]; template = \"session\"; },\n"
	    "      { before = \"2h\"; channels = [\"sms\"]; template = \"session\"; }\n"
	    "    );\n"
	    "    aftercare = { at = \"10:00\"; after = [\"7d\",\"30d\",\"90d\"]; channels = [\"sms\"]; template = \"aftercare\"; };\n"
	    "  }\n"
	    ");\n"
	    "patients = (\n"
	    "  { id = \"p-0001\"; first_name = \"Alex\";\n"
	    "    phone = \"+12125554567\"; email = \"alex@example.org\";\n"
	    "    timezone = \"America/Denver\";\n"
	    "    language = \"en\";\n"
	    "    program = \"iop-evening\"; start = \"2026-11-30\"; discharge = \"2027-02-20\";\n"
	    "    absences = [ \"2026-12-02\" ];\n"
	    "    appointments = ( { at = \"2026-12-03 16:00\"; type = \"family\"; duration = \"1h\"; } );\n"
	    "    medications = ( { label = \"morning dose\"; times = [\"08:00\"]; channels = [\"sms\"];\n"
	    "                      from = \"2026-11-30\"; until = \"2027-05-30\"; } );\n"
	    "    channels = [\"sms\",\"email\"];\n"
	    "    opt_out  = [ \"email\" ];\n"
	    "    quiet_hours = { from = \"22:00\"; to = \"07:00\"; };\n"
	    "    paused = false;\n"
	    "  }\n"
	    ");\n");
	const struct program *pr = &s->programs[0];

	(void)state;
	assert_int_equal(s->nprograms, 1);
	assert_int_equal(s->npatients, 1);
	assert_int_equal(s->nchannels, 4);
	/* the 3 of the file, and the answers' defaults: help, stopped, started */
	assert_int_equal(s->ntemplates, 6);
	assert_true(snapshot_template(s, "help") >= 3);
	assert_true(snapshot_template(s, "stopped") >= 3);
	assert_true(snapshot_template(s, "started") >= 3);
	assert_int_equal(pr->nsessions, 2);
	assert_int_equal(pr->nclosures, 3);
	assert_int_equal(pr->rules.n, 2);
	assert_string_equal(pr->rules.v[0].lead_key, "1d@19:00");
	assert_string_equal(pr->rules.v[0].before_text, "1d");
	assert_string_equal(pr->rules.v[1].lead_key, "2h");
	assert_int_equal(pr->sessions[0].rules.n, 2);      /* the program's */
	assert_int_equal(pr->sessions[1].rules.n, 1);      /* its own */
	assert_string_equal(pr->sessions[0].series_key, "iop-evening/group");
	assert_int_equal(pr->sessions[0].duration, 3 * 3600);
	assert_int_equal(pr->sessions[0].days, 1 | 4 | 8);
	assert_int_equal(pr->aftercare.n, 3);
	assert_int_equal(pr->aftercare.after[2], 90);
	assert_int_equal(s->patients[0].appts[0].at, unit_t("2026-12-03T22:00:00Z"));   /* Chicago */
	assert_string_equal(s->patients[0].appts[0].key, "family");
	assert_int_equal(s->patients[0].appts[0].rules.n, 2);
	assert_int_equal(s->patients[0].quiet.from, 22 * 3600);
	snapshot_unref(s);
}

/* The configuration shipped in conf/ (and its patients file) is valid. */
static void test_shipped_config(void **state)
{
	struct errs e = {0};
	char cwd[PATH_MAX];
	struct snapshot *s;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(unit_dir), 0);
	s = conf_load(TEST_SRCDIR "/conf/iopd.conf", CONF_CALENDAR, &e);
	assert_int_equal(chdir(cwd), 0);
	if (!s)
		fail_msg("conf/iopd.conf:\n%s", e.text.s);
	assert_int_equal(e.nwarn, 0);
	assert_true(s->nprograms >= 2);
	assert_true(s->npatients >= 4);
	assert_int_equal(s->nchannels, 4);
	assert_true(snapshot_program(s, "iop-evening") >= 0);
	assert_true(snapshot_program(s, "php-day") >= 0);
	snapshot_unref(s);
	errs_free(&e);
}

/* ---- SPEC 7: file modes, only where secrets and patients are checked ---------- */

static const char no_channels[] =
	"programs = ( { id = \"op\"; kind = \"OP\"; } );\n";

/* What -t wants besides (CONF_FULL): a channel, and the daemon's paths in
 * the scratch folder rather than this machine's defaults.  To free. */
static char *full_tail(void)
{
	char *t;

	assert_true(asprintf(&t, "daemon = { state_dir = \"%s/state\"; control_socket = \"%s/ctl.sock\"; };\n"
	    "channels = ( { name = \"term\"; module = \"console\"; } );\n", unit_dir, unit_dir) > 0);
	return t;
}

static void test_patient_file_modes(void **state)
{
	struct errs e = {0};
	char *main_file, *pat, *sub = unit_path(unit_dir, "patients"), cwd[PATH_MAX], *tail = full_tail();
	struct snapshot *s;
	char text[2048];

	(void)state;
	assert_int_equal(mkdir(sub, 0755), 0);
	/* patients in the main file, readable by other */
	snprintf(text, sizeof text, "%s\npatients = (\n  { id = \"p\"; program = \"op\"; start = \"2026-12-01\"; } );\n%s",
	    no_channels, tail);
	main_file = unit_write(unit_dir, "main.conf", text, 0644);
	s = conf_load(main_file, CONF_CALENDAR, &e);      /* agenda: no mode check */
	assert_non_null(s);
	snapshot_unref(s);
	assert_null(conf_load(main_file, CONF_FULL, &e));
	expect_one(&e, main_file, 4, "holds patient data and is readable by other users; chmod o-r");
	errs_free(&e);
	assert_int_equal(chmod(main_file, 0640), 0);      /* group-readable is fine */
	s = conf_load(main_file, CONF_FULL, &e);
	if (!s)
		fail_msg("%s", e.text.s);
	snapshot_unref(s);
	free(main_file);

	/* patients in an included file, checked from another working directory;
	 * the main file without patients may be world-readable */
	pat = unit_write(sub, "clinic.conf",
	    "patients = (\n  { id = \"p\"; program = \"op\"; start = \"2026-12-01\"; },\n"
	    "  { id = \"q\"; program = \"op\"; start = \"2026-12-01\"; } );\n", 0644);
	snprintf(text, sizeof text, "%s@include \"patients/clinic.conf\"\n%s", no_channels, tail);
	main_file = unit_write(unit_dir, "main.conf", text, 0644);
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir("/"), 0);
	s = conf_load(main_file, CONF_FULL, &e);
	assert_int_equal(chdir(cwd), 0);
	assert_null(s);
	{
		/* once per file, at its first patient */
		const struct unit_err want[] = {{pat, 2, "readable by other users"}};
		unit_expect_errs(&e, want, 1, unit_dir);
		assert_non_null(strstr(e.text.s, pat));     /* the message names the real path */
	}
	errs_free(&e);
	assert_int_equal(chmod(pat, 0600), 0);
	assert_int_equal(chdir("/"), 0);
	s = conf_load(main_file, CONF_FULL, &e);
	assert_int_equal(chdir(cwd), 0);
	if (!s)
		fail_msg("%s", e.text.s);
	snapshot_unref(s);
	free(main_file);
	free(pat);
	free(sub);
	free(tail);
}


/* ---- patients in a folder: @include with a glob, lists merged ---------------- */

static const char folder_main[] =
	"programs = ( { id = \"op\"; kind = \"OP\"; } );\n"            /* 1 */
	"@include \"patients/*.conf\"\n"                                /* 2 */
	"channels = ( { name = \"term\"; module = \"console\"; } );\n";  /* 3 */

/* One file per patient, read in the order of their names (not the order
 * they were written), relative to the including file, as one list. */
static void test_glob_include(void **state)
{
	struct errs e = {0};
	char *sub = unit_path(unit_dir, "patients"), *main_file, cwd[PATH_MAX];
	struct snapshot *s;

	(void)state;
	assert_int_equal(mkdir(sub, 0700), 0);
	free(unit_write(sub, "b.conf", "patients = ( { id = \"p-b\"; program = \"op\"; start = \"2026-12-01\"; } );\n", 0600));
	free(unit_write(sub, "a.conf", "# group a\npatients = (\n  { id = \"p-a1\"; program = \"op\"; start = \"2026-12-01\"; },\n"
	    "  { id = \"p-a2\"; program = \"op\"; start = \"2026-12-01\"; } );\n", 0600));
	free(unit_write(sub, "c.conf.bak", "nonsense = 1;\n", 0600));        /* not *.conf */
	free(unit_write(sub, ".d.conf", "nonsense = 1;\n", 0600));           /* hidden */
	main_file = unit_write(unit_dir, "main.conf", folder_main, 0600);
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir("/"), 0);                /* relative to main.conf, not the cwd */
	s = conf_load(main_file, CONF_FULL, &e);
	assert_int_equal(chdir(cwd), 0);
	if (!s)
		fail_msg("%s", e.text.s);
	assert_int_equal(e.nwarn, 0);
	assert_int_equal(s->npatients, 3);
	assert_string_equal(s->patients[0].id, "p-a1");
	assert_string_equal(s->patients[1].id, "p-a2");
	assert_string_equal(s->patients[2].id, "p-b");
	snapshot_unref(s);
	errs_free(&e);
	free(main_file);
	free(sub);
}

/* Ten files and more: the tenth list is "patients*10" (a repeat, as the
 * second is "patients*2"), read by iopd's reader and by libconfig alike
 * (a first_name with "\\q" is a text only libconfig reads). */
static void test_glob_many(void **state)
{
	char *sub = unit_path(unit_dir, "patients"), *main_file;
	int k, pass;

	(void)state;
	assert_int_equal(mkdir(sub, 0700), 0);
	main_file = unit_write(unit_dir, "main.conf", folder_main, 0600);
	for (pass = 0; pass < 2; pass++) {
		struct errs e = {0};
		struct snapshot *s;
		for (k = 0; k < 12; k++) {
			char name[32], text[160];
			snprintf(name, sizeof name, "%02d.conf", k);
			snprintf(text, sizeof text, "patients = ( { id = \"p-%02d\"; first_name = \"%s\"; "
			    "program = \"op\"; start = \"2026-12-01\"; } );\n", k, pass && k == 11 ? "A\\qB" : "A");
			free(unit_write(sub, name, text, 0600));
		}
		s = conf_load(main_file, CONF_CALENDAR, &e);
		if (!s)
			fail_msg("%s", e.text.s);
		assert_int_equal(s->npatients, 12);
		assert_string_equal(s->patients[11].id, "p-11");
		assert_string_equal(s->patients[11].first_name, pass ? "A\\qB" : "A");
		snapshot_unref(s);
		errs_free(&e);
	}
	free(main_file);
	free(sub);
}

/* Errors in the merged files name their own file, line and index; a
 * patient id given twice names both places. */
static void test_glob_errors(void **state)
{
	struct errs e = {0};
	char *sub = unit_path(unit_dir, "patients"), *main_file, *a, *b;

	(void)state;
	assert_int_equal(mkdir(sub, 0700), 0);
	a = unit_write(sub, "a.conf", "patients = (\n  { id = \"p-1\"; program = \"op\"; start = \"2026-12-01\"; },\n"
	    "  { id = \"p-2\"; program = \"op\";\n    start = \"2026-13-01\"; } );\n", 0600);
	b = unit_write(sub, "b.conf", "# the second file\n"
	    "patients = ( { id = \"p-3\"; program = \"op\"; start = \"2026-12-01\";\n"
	    "    colour = \"red\"; },\n"
	    "  {\n    id = \"p-1\"; program = \"op\"; start = \"2026-12-01\"; } );\n", 0600);
	main_file = unit_write(unit_dir, "main.conf", folder_main, 0600);
	assert_null(conf_load(main_file, CONF_CALENDAR, &e));
	{
		const struct unit_err want[] = {
			{a, 4, "patients[1] id \"p-2\": start: bad date \"2026-13-01\""},
			{b, 3, "patients[0] id \"p-3\": unknown key \"colour\""},
			{b, 5, "duplicate patient id \"p-1\" (also at "},
		};
		unit_expect_errs(&e, want, 3, unit_dir);
		assert_non_null(strstr(e.text.s, "patients/a.conf:2)"));
	}
	errs_free(&e);
	free(a);
	free(b);
	free(main_file);
	free(sub);
}

/* No file in the folder: a warning (a clinic may have no patients yet);
 * no folder at all: an error; a subfolder or a FIFO that matches: skipped,
 * with a warning (a FIFO would block the read). */
static void test_glob_edges(void **state)
{
	struct errs e = {0};
	char *sub = unit_path(unit_dir, "patients"), *main_file, *dir, *fifo;
	struct snapshot *s;

	(void)state;
	main_file = unit_write(unit_dir, "main.conf", folder_main, 0600);
	assert_null(conf_load(main_file, CONF_CALENDAR, &e));
	expect_one(&e, main_file, 2, "@include \"patients/*.conf\": no folder");
	errs_free(&e);

	assert_int_equal(mkdir(sub, 0700), 0);
	s = conf_load(main_file, CONF_CALENDAR, &e);
	assert_non_null(s);
	assert_int_equal(s->npatients, 0);
	assert_int_equal(e.nwarn, 1);
	assert_non_null(strstr(e.warn.s, "main.conf:2: warning: @include \"patients/*.conf\" matches no file"));
	snapshot_unref(s);
	errs_free(&e);

	dir = unit_path(sub, "old.conf");
	fifo = unit_path(sub, "pipe.conf");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	free(unit_write(sub, "p.conf", "patients = ( { id = \"p\"; program = \"op\"; start = \"2026-12-01\"; } );\n", 0600));
	s = conf_load(main_file, CONF_CALENDAR, &e);
	assert_non_null(s);
	assert_int_equal(s->npatients, 1);
	assert_int_equal(e.nwarn, 2);
	assert_non_null(strstr(e.warn.s, "old.conf is not a regular file: skipped"));
	assert_non_null(strstr(e.warn.s, "pipe.conf is not a regular file: skipped"));
	snapshot_unref(s);
	errs_free(&e);
	free(dir);
	free(fifo);
	free(main_file);
	free(sub);
}

/* patients = ( ... ) in the main file and in an included one: one list;
 * other settings given twice stay libconfig's error. */
static void test_merge_lists(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "main.conf");
	struct snapshot *s;

	(void)state;
	free(unit_write(unit_dir, "more.conf", "patients = ( { id = \"q\"; program = \"op\"; start = \"2026-12-01\"; } );\n", 0600));
	s = unit_load_text(unit_dir, "main.conf",
	    "programs = ( { id = \"op\"; kind = \"OP\"; } );\n"
	    "patients = ( { id = \"p\"; program = \"op\"; start = \"2026-12-01\"; } );\n"
	    "/* patients = ( ) in a comment */\n"
	    "templates = { t = { sms = \"patients = (\"; }; };\n"
	    "@include \"more.conf\"\n", CONF_CALENDAR, &e);
	if (!s)
		fail_msg("%s", e.text.s);
	assert_int_equal(s->npatients, 2);
	assert_string_equal(s->patients[1].id, "q");
	snapshot_unref(s);
	errs_free(&e);
	assert_null(unit_load_text(unit_dir, "main.conf",
	    "programs = ( );\n@include \"more.conf\"\nprograms = ( );\n", CONF_CALENDAR, &e));
	expect_one(&e, path, 3, "duplicate setting name");
	errs_free(&e);
	free(path);
}

/* ---- messages that help ---------------------------------------------------------- */

/* A missing ',' between two elements of a list: the line that lacks it. */
static void test_missing_comma(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "main.conf");

	(void)state;
	assert_null(unit_load_text(unit_dir, "main.conf",
	    "programs = (\n"
	    "  { id = \"a\"; kind = \"OP\"; }   # no comma\n"
	    "\n"
	    "  { id = \"b\"; kind = \"OP\"; }\n"
	    ");\n", CONF_CALENDAR, &e));
	expect_one(&e, path, 2, "syntax error: missing ',' after line 2");
	assert_non_null(strstr(e.text.s, "libconfig stopped at line 4"));
	errs_free(&e);
	/* in a group, ';' is optional: a real error is reported where it is */
	assert_null(unit_load_text(unit_dir, "main.conf",
	    "daemon = {\n  timezone = \"UTC\"\n  catch_up = ;\n};\n", CONF_CALENDAR, &e));
	expect_one(&e, path, 3, "syntax error (libconfig syntax");
	errs_free(&e);
	free(path);
}

/* "did you mean ...?" for programs, channels, templates and keys. */
static void test_suggestions(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "t.conf");
	const struct unit_err want[] = {
		{path, 3, "unknown channel \"smss\" (did you mean \"sms\"?)"},
		{path, 3, "unknown template \"sesion\" (did you mean \"session\"?)"},
		{path, 4, "program: unknown program \"iop-evenng\" (did you mean \"iop-evening\"?)"},
		{path, 4, "unknown key \"frist_name\" (did you mean \"first_name\"?)"},
		{path, 5, "unknown key \"timezon\" in daemon (did you mean \"timezone\"?)"},
	};

	(void)state;
	assert_null(unit_load_text(unit_dir, "t.conf",
	    "channels = ( { name = \"sms\"; module = \"sms\"; } );\n"
	    "templates = { session = { sms = \"Hi\"; }; };\n"
	    "programs = ( { id = \"iop-evening\"; reminders = ( { before = \"1d\"; channels = [ \"smss\" ]; template = \"sesion\"; } ); } );\n"
	    "patients = ( { id = \"p\"; program = \"iop-evenng\"; start = \"2026-12-01\"; frist_name = \"A\"; } );\n"
	    "daemon = { timezon = \"UTC\"; };\n", CONF_CALENDAR, &e));
	unit_expect_errs(&e, want, 5, unit_dir);
	errs_free(&e);
	/* nothing near enough: no guess */
	assert_null(unit_load_text(unit_dir, "t.conf",
	    "programs = ( { id = \"iop\"; } );\n"
	    "patients = ( { id = \"p\"; program = \"php-day\"; start = \"2026-12-01\"; } );\n", CONF_CALENDAR, &e));
	assert_null(strstr(e.text.s, "did you mean"));
	errs_free(&e);
	free(path);
}

/* Errors are printed in file and line order, whatever order the parser
 * found them in (template texts are checked after the patients). */
static void test_errors_in_order(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "t.conf");
	const char *first, *second;

	(void)state;
	assert_null(unit_load_text(unit_dir, "t.conf",
	    "programs = ( { id = \"op\"; } );\n"
	    "templates = { session = { sms = \"Your rehab group\"; }; };\n"
	    "patients = ( { id = \"p\"; program = \"op\"; start = \"2026-12-32\"; } );\n", CONF_CALENDAR, &e));
	assert_int_equal(e.count, 2);
	first = strstr(e.text.s, "t.conf:2:");
	second = strstr(e.text.s, "t.conf:3:");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
	errs_free(&e);
	free(path);
}

/* ---- phone numbers: the numbering plan (libphonenumber) --------------------------- */

static void test_phone_numbers(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "t.conf");
	struct snapshot *s = unit_load_ok(unit_dir,
	    "daemon = { default_country = \"us\"; clinic_phone = \"(312) 555-0100\"; };\n"
	    "programs = ( { id = \"op\"; } );\n"
	    "patients = (\n"
	    "  { id = \"a\"; program = \"op\"; start = \"2026-12-01\"; phone = \"(312) 555-0101\"; },\n"
	    "  { id = \"b\"; program = \"op\"; start = \"2026-12-01\"; phone = \"+44 20 7946 0958\"; },\n"
	    "  { id = \"c\"; program = \"op\"; start = \"2026-12-01\"; phone = \"+1 312-555-0102\"; },\n"
	    "  { id = \"d\"; program = \"op\"; start = \"2026-12-01\"; phone = \"+15551234567\"; } );\n");

	(void)state;
	/* national notation in the default country, stored as E.164; the
	 * clinic's number stays as written (it is shown to patients) */
	assert_string_equal(s->default_country, "US");
	assert_string_equal(s->patients[0].phone, "+13125550101");
	assert_string_equal(s->patients[1].phone, "+442079460958");
	assert_string_equal(s->patients[2].phone, "+13125550102");
	/* the area code 555 of examples and tests (SPEC 3's own) reaches
	 * nobody, but is accepted */
	assert_string_equal(s->patients[3].phone, "+15551234567");
	assert_string_equal(s->clinic_phone, "(312) 555-0100");
	snapshot_unref(s);

	/* a Chicago number without its country code reads as a Dutch one: no
	 * such Dutch number; the message names the country, not the number */
	assert_null(unit_load_text(unit_dir, "t.conf",
	    "daemon = { default_country = \"US\"; };\n"
	    "programs = ( { id = \"op\"; } );\n"
	    "patients = ( { id = \"a\"; program = \"op\"; start = \"2026-12-01\";\n"
	    "  phone = \"+3125550101\"; } );\n", CONF_CALENDAR, &e));
	expect_one(&e, path, 4, "patients[0] id \"a\": phone: not a valid phone number: not a number in use "
	    "in the numbering plan of +31 (Netherlands)");
	assert_non_null(strstr(e.text.s, "is its country code +1 missing?"));
	assert_null(strstr(e.text.s, "3125550101"));
	errs_free(&e);

	{
		const struct unit_err want[] = {
			{path, 1, "daemon.default_country: \"USA\" is not a country code"},
			{path, 3, "patients[0] id \"a\": phone: not a valid phone number: it has no country code"},
			{path, 4, "patients[1] id \"b\": phone: not a valid phone number: too short for a number of +44 (United Kingdom and 3 other countries)"},
			{path, 5, "patients[2] id \"c\": phone: not a valid phone number: it is not a telephone number"},
		};
		assert_null(unit_load_text(unit_dir, "t.conf",
		    "daemon = { default_country = \"USA\"; };\n"
		    "programs = ( { id = \"op\"; } );\n"
		    "patients = ( { id = \"a\"; program = \"op\"; start = \"2026-12-01\"; phone = \"312 555 0101\"; },\n"
		    "  { id = \"b\"; program = \"op\"; start = \"2026-12-01\"; phone = \"+44 20 79\"; },\n"
		    "  { id = \"c\"; program = \"op\"; start = \"2026-12-01\"; phone = \"call me\"; } );\n",
		    CONF_CALENDAR, &e));
		unit_expect_errs(&e, want, 4, unit_dir);
	}
	errs_free(&e);
	free(path);
}

/* ---- CONF_FULL: plugins check their own keys -------------------------------- */

/* A program, a patient and the daemon's paths in the scratch folder, after
 * `text` (so the lines of text stay as they are).  To free. */
static char *with_clinic(const char *text)
{
	char *t;

	assert_true(asprintf(&t, "%sdaemon = { state_dir = \"%s/state\"; control_socket = \"%s/ctl.sock\"; };\n"
	    "programs = ( { id = \"op\"; kind = \"OP\"; } );\n"
	    "patients = ( { id = \"p\"; program = \"op\"; start = \"2026-12-01\"; } );\n",
	    text, unit_dir, unit_dir) > 0);
	return t;
}

static void test_full_mode_plugin_keys(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "f.conf"), *text;
	struct snapshot *s;

	(void)state;
	text = with_clinic(
	    "channels = (\n"
	    "  { name = \"term\"; module = \"console\";\n"
	    "    colour = \"green\"; },\n"                 /* the module's keys are the plugin's */
	    "  { name = \"err\"; module = \"console\"; stream = \"stderr\"; rate = 5.0; concurrency = 2; },\n"
	    "  { name = \"bad\"; module = \"console\"; stream = \"printer\"; }\n"
	    ");\n");
	/* agenda: no plugin is loaded, the module keys are not looked at */
	s = unit_load_text(unit_dir, "f.conf", text, CONF_CALENDAR, &e);
	if (!s)
		fail_msg("%s", e.text.s);
	snapshot_unref(s);
	assert_int_equal(e.count, 0);
	/* -t and the daemon: the plugin reports them at their lines */
	assert_null(conf_load(path, CONF_FULL, &e));
	{
		const struct unit_err want[] = {
			{path, 3, "unknown key \"colour\" in channel term (module console)"},
			{path, 5, "stream must be \"stdout\" or \"stderr\""},
		};
		unit_expect_errs(&e, want, 2, unit_dir);
	}
	errs_free(&e);
	free(text);
	/* a valid one, with the insecure_tls warning */
	text = with_clinic("channels = ( { name = \"term\"; module = \"console\";\n  insecure_tls = true; } );\n");
	s = unit_load_text(unit_dir, "f.conf", text, CONF_FULL, &e);
	if (!s)
		fail_msg("%s", e.text.s);
	assert_non_null(s->channels[0].inst);
	assert_int_equal(s->channels[0].contact, IOPD_CONTACT_NONE);
	assert_int_equal(e.nwarn, 1);
	assert_non_null(strstr(e.warn.s, "f.conf:2: warning: channel term: TLS certificate verification is OFF"));
	snapshot_unref(s);
	errs_free(&e);
	free(text);
	/* a module that does not exist */
	text = with_clinic("channels = ( { name = \"fax\";\n  module = \"fax\"; } );\n");
	assert_null(unit_load_text(unit_dir, "f.conf", text, CONF_FULL, &e));
	expect_one(&e, path, 2, "channel fax: module \"fax\":");
	errs_free(&e);
	free(text);
	free(path);
}


/* Two-way SMS (SPEC 8): inbound, and the channels' fallback, replies and
 * callback_key_file, each error at its line, all in one run. */
static void test_inbound_errors(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "in.conf"), *inc = unit_path(unit_dir, "inc.conf");
	char *pw = unit_write(unit_dir, "pw", "secret\n", 0600);
	char *badkey = unit_write(unit_dir, "badkey", "has space\n", 0600);
	struct sbuf text = {0};

	(void)state;
	free(unit_write(unit_dir, "inc.conf", "inbound = { listen = \"127.0.0.1:8787\"; "
	    "public_url = \"https://x.example\"; };\n", 0600));
	sbuf_printf(&text,
	    "channels = (\n"
	    "  { name = \"k\"; module = \"sms\"; api = \"kannel\"; url = \"http://127.0.0.1:1/s\";\n"
	    "    user = \"u\"; token_file = \"%s\"; fallback = \"nowhere\"; },\n"           /* 3: no callback key; 3: fallback */
	    "  { name = \"k2\"; module = \"sms\"; api = \"kannel\"; url = \"http://127.0.0.1:1/s\";\n"
	    "    user = \"u\"; token_file = \"%s\";\n"
	    "    callback_key_file = \"%s\"; fallback = \"k2\"; },\n"                          /* 6, 6 */
	    "  { name = \"t\"; module = \"sms\"; api = \"twilio\"; account = \"AC1\"; from = \"+15550001111\";\n"
	    "    token_file = \"%s\"; callback_key_file = \"%s\"; },\n"                        /* 8 */
	    "  { name = \"term\"; module = \"console\";\n"
	    "    replies = true; },\n"                                                      /* 10 */
	    "  { name = \"ehr\"; module = \"webhook\"; url = \"https://ehr.example\"; }\n"
	    ");\n"
	    "inbound = {\n"
	    "  listen = \"example.org:80\";\n"                                               /* 14 */
	    "  public_url = \"ftp://x.example\";\n"                                          /* 15 */
	    "  staff = \"term\";\n"                                                          /* 16 */
	    "  colour = 1;\n"                                                                 /* 17 */
	    "};\n"
	    "programs = ( { id = \"op\"; } );\n", pw, pw, badkey, pw, pw);
	assert_null(unit_load_text(unit_dir, "in.conf", text.s, CONF_FULL, &e));
	{
		const struct unit_err want[] = {
			{path, 3, "channel k: fallback \"nowhere\" is not a channel"},
			{path, 6, "fallback names the channel itself"},
			{path, 10, "channel term: replies: module console takes no replies"},
			{path, 14, "inbound.listen \"example.org:80\": expected ADDRESS:PORT with a numeric address"},
			{path, 15, "inbound.public_url \"ftp://x.example\": expected http:// or https://"},
			{path, 16, "inbound.staff: channel term is a console channel"},
			{path, 17, "unknown key \"colour\" in inbound"},
		};
		unit_expect_errs(&e, want, IOPD_NELEM(want), unit_dir);
	}
	errs_free(&e);
	/* the same channels with a good block: the callback keys are checked */
	sbuf_reset(&text);
	sbuf_printf(&text,
	    "channels = (\n"
	    "  { name = \"k\"; module = \"sms\"; api = \"kannel\"; url = \"http://127.0.0.1:1/s\";\n"
	    "    user = \"u\"; token_file = \"%s\"; },\n"                                    /* 2 */
	    "  { name = \"k2\"; module = \"sms\"; api = \"kannel\"; url = \"http://127.0.0.1:1/s\";\n"
	    "    user = \"u\"; token_file = \"%s\";\n"
	    "    callback_key_file = \"%s\"; },\n"                                           /* 6 */
	    "  { name = \"t\"; module = \"sms\"; api = \"twilio\"; account = \"AC1\"; from = \"+15550001111\";\n"
	    "    token_file = \"%s\"; callback_key_file = \"%s\"; },\n"                      /* 8 */
	    "  { name = \"ehr\"; module = \"webhook\"; url = \"https://ehr.example\"; }\n"
	    ");\n"
	    "inbound = { listen = \"127.0.0.1:8787\"; public_url = \"https://iopd.example/\"; "
	    "staff = \"ehr\"; };\n"
	    "programs = ( { id = \"op\"; } );\n", pw, pw, badkey, pw, pw);
	assert_null(unit_load_text(unit_dir, "in.conf", text.s, CONF_FULL, &e));
	{
		const struct unit_err want[] = {
			{path, 2, "channel k: callback_key_file is required with inbound"},
			{path, 6, "callback_key_file: the key may hold only letters, digits"},
			{path, 8, "callback_key_file is not used: this channel's callbacks are signed with its token"},
		};
		unit_expect_errs(&e, want, IOPD_NELEM(want), unit_dir);
	}
	errs_free(&e);
	/* inbound only in the main file */
	assert_null(unit_load_text(unit_dir, "in.conf", "@include \"inc.conf\"\n", CONF_CALENDAR, &e));
	expect_one(&e, inc, 1, "inbound belongs in the main configuration file");
	errs_free(&e);
	sbuf_free(&text);
	free(path);
	free(inc);
	free(pw);
	free(badkey);
}

/* A valid two-way configuration: what the snapshot holds. */
static void test_inbound_ok(void **state)
{
	struct errs e = {0};
	char *pw = unit_write(unit_dir, "pw", "secret\n", 0600);
	char *key = unit_write(unit_dir, "key", "k3y_0123-abc\n", 0600);
	struct sbuf text = {0};
	struct snapshot *s;
	int k, t, ehr;

	(void)state;
	sbuf_printf(&text,
	    "channels = (\n"
	    "  { name = \"k\"; module = \"sms\"; api = \"kannel\"; url = \"http://127.0.0.1:1/s\";\n"
	    "    user = \"u\"; token_file = \"%s\"; callback_key_file = \"%s\"; fallback = \"ehr\"; },\n"
	    "  { name = \"t\"; module = \"sms\"; api = \"twilio\"; account = \"AC1\"; from = \"+15550001111\";\n"
	    "    token_file = \"%s\"; },\n"
	    "  { name = \"ehr\"; module = \"webhook\"; url = \"https://ehr.example\"; }\n"
	    ");\n"
	    "inbound = { listen = \"[::1]:8787\"; public_url = \"https://iopd.example/in//\"; "
	    "staff = \"ehr\"; };\n"
	    "programs = ( { id = \"op\"; } );\n"
	    "patients = ( { id = \"p\"; program = \"op\"; start = \"2026-12-01\"; } );\n", pw, key, pw);
	s = unit_load_text(unit_dir, "ok.conf", text.s, CONF_FULL, &e);
	if (!s)
		fail_msg("%s", e.text.s);
	k = snapshot_channel(s, "k");
	t = snapshot_channel(s, "t");
	ehr = snapshot_channel(s, "ehr");
	assert_string_equal(s->inbound.listen, "[::1]:8787");
	assert_string_equal(s->inbound.public_url, "https://iopd.example/in");
	assert_int_equal(s->inbound.staff, ehr);
	assert_int_equal(s->channels[k].fallback, ehr);
	assert_int_equal(s->channels[t].fallback, -1);
	assert_true(s->channels[k].replies);       /* Kannel answers nothing itself */
	assert_false(s->channels[t].replies);      /* Twilio's Advanced Opt-Out does */
	assert_true(s->channels[k].callbacks && s->channels[t].callbacks && !s->channels[ehr].callbacks);
	assert_string_equal(chan_inst_auth_secret(s->channels[k].inst), "k3y_0123-abc");
	assert_string_equal(chan_inst_auth_secret(s->channels[t].inst), "secret");
	assert_null(chan_inst_auth_secret(s->channels[ehr].inst));
	assert_int_equal(e.nwarn, 1);              /* clinic_phone, which the answers give */
	assert_non_null(strstr(e.warn.s, "daemon.clinic_phone, which is not set"));
	snapshot_unref(s);
	errs_free(&e);
	sbuf_free(&text);
	free(pw);
	free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_error_in_one_run, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error_main, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_syntax_error_included, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_missing_files, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_relative_include_other_cwd, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_nested_include, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_types, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_default_templates_missing, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_no_cascade, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_defaults, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_values_set, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_retention_forever, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_spec_example, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_shipped_config, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_patient_file_modes, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_full_mode_plugin_keys, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_glob_include, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_glob_errors, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_glob_many, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_glob_edges, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_merge_lists, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_missing_comma, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_suggestions, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_errors_in_order, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_phone_numbers, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_inbound_errors, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_inbound_ok, unit_setup, unit_teardown),
	};
	int rc;

	/* the build tree's plugins (console) for CONF_FULL */
	setenv("IOPD_PLUGIN_DIR", TEST_BUILDDIR "/plugins/.libs", 1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	plugin_unload_all();
	tz_cleanup();
	return rc;
}
