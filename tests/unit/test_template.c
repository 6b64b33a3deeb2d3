/* test_template.c - daemon/template.c: compiling and rendering texts,
 * language fallback, discretion, and SMS segment counts (SPEC 4.1). */
#include "config.h"

#include "unit.h"

#include "template.h"

/* ---- compiling and rendering ------------------------------------------------ */

static struct arena arena;

static int teardown_arena(void **state)
{
	(void)state;
	arena_free(&arena);
	return 0;
}

static const struct tmpl_text *compile_ok(const char *src)
{
	char err[256] = "";
	const struct tmpl_text *t = tmpl_compile(&arena, src, err, sizeof err);

	if (!t)
		fail_msg("\"%s\" refused: %s", src, err);
	return t;
}

static void test_compile_errors(void **state)
{
	static const struct {
		const char *src, *why;
	} v[] = {
		{"Hi {fist_name}", "unknown placeholder {fist_name}"},
		{"Hi {first_name", "unclosed \"{\""},
		{"Hi {", "unclosed \"{\""},
		{"{}", "unknown placeholder {}"},
		{"{FIRST_NAME}", "unknown placeholder {FIRST_NAME}"},     /* names are lowercase */
		{"{ first_name }", "unknown placeholder { first_name }"},
		{"{first_name}{labels}", "unknown placeholder {labels}"},
		{"{{first_name}}", "unknown placeholder {{first_name}"},   /* no escape for braces */
		{"Call {clinic_phone} or {phone}", "unknown placeholder {phone}"},
		{"{date} {time} {day", "unclosed"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		char err[256] = "";
		if (tmpl_compile(&arena, v[i].src, err, sizeof err))
			fail_msg("\"%s\" accepted", v[i].src);
		if (!strstr(err, v[i].why))
			fail_msg("\"%s\": \"%s\" lacks \"%s\"", v[i].src, err, v[i].why);
	}
}

static void render(const struct tmpl_text *t, const struct tmpl_values *v, char *out, size_t len)
{
	struct sbuf b = {0};

	tmpl_render(t, v, &b);
	assert_non_null(b.s);
	snprintf(out, len, "%s", b.s);
	sbuf_free(&b);
}

static void test_render(void **state)
{
	struct tmpl_values v = {{0}};
	char out[512];

	(void)state;
	v.v[PH_FIRST_NAME] = "Alex";
	v.v[PH_DATE] = "2026-12-01";
	v.v[PH_DAY] = "Tue Dec 1";
	v.v[PH_TIME] = "6:00 PM";
	v.v[PH_LOCATION] = "Room 2";
	v.v[PH_LABEL] = "morning dose";
	v.v[PH_CLINIC_PHONE] = "+13125559999";
	render(compile_ok("Hi {first_name}, reminder: appointment {day} at {time}. Reply STOP to opt out."),
	    &v, out, sizeof out);
	assert_string_equal(out, "Hi Alex, reminder: appointment Tue Dec 1 at 6:00 PM. Reply STOP to opt out.");
	render(compile_ok("{date}|{day}|{time}|{location}|{label}|{clinic_phone}|{first_name}"), &v, out,
	    sizeof out);
	assert_string_equal(out, "2026-12-01|Tue Dec 1|6:00 PM|Room 2|morning dose|+13125559999|Alex");
	render(compile_ok("{first_name}{first_name}"), &v, out, sizeof out);
	assert_string_equal(out, "AlexAlex");
	render(compile_ok("no placeholder"), &v, out, sizeof out);
	assert_string_equal(out, "no placeholder");
	render(compile_ok("a } b"), &v, out, sizeof out);               /* a lone } is a literal */
	assert_string_equal(out, "a } b");
	render(compile_ok(""), &v, out, sizeof out);                     /* never NULL */
	assert_string_equal(out, "");
	render(compile_ok("{label}"), &v, out, sizeof out);
	assert_string_equal(out, "morning dose");
	/* values are inserted as they are, never re-read as placeholders */
	v.v[PH_FIRST_NAME] = "{time}";
	render(compile_ok("Hi {first_name}"), &v, out, sizeof out);
	assert_string_equal(out, "Hi {time}");
	/* a missing value (no location for this event) renders as nothing */
	v.v[PH_LOCATION] = NULL;
	render(compile_ok("at [{location}]"), &v, out, sizeof out);
	assert_string_equal(out, "at []");
	/* UTF-8 passes through */
	v.v[PH_FIRST_NAME] = "José";
	render(compile_ok("Hola {first_name}, ¿cómo está?"), &v, out, sizeof out);
	assert_string_equal(out, "Hola José, ¿cómo está?");
}

static void test_ph_names(void **state)
{
	static const char *const want[PH_COUNT] = {
		"first_name", "date", "day", "time", "location", "label", "clinic_phone"
	};
	int i;

	(void)state;
	for (i = 0; i < PH_COUNT; i++)
		assert_string_equal(tmpl_ph_name((enum tmpl_ph)i), want[i]);
	assert_string_equal(tmpl_ph_name(PH_LITERAL), "");
}

/* ---- language fallback, through the configuration --------------------------- */

static const char *src_of(const struct tmpl_text *t)
{
	return t ? t->src : "(null)";
}

static void test_language_fallback(void **state)
{
	struct snapshot *s = unit_load_ok(unit_dir,
	    "templates = {\n"
	    "  full = { sms = \"EN sms\"; email_subject = \"EN subject\"; email_body = \"EN body\";\n"
	    "    es = { sms = \"ES sms\"; };\n"
	    "    fr = { email_subject = \"FR subject\"; };\n"
	    "    pt-BR = { sms = \"PT sms\"; email_body = \"PT body\"; }; };\n"
	    "  bare = { sms = \"EN only\"; es = { sms = \"ES only\"; }; };\n"
	    "};\n");
	const struct template *full = &s->templates[snapshot_template(s, "full")];
	const struct template *bare = &s->templates[snapshot_template(s, "bare")];

	(void)state;
	/* the language's own field, else the template's, field by field */
	assert_string_equal(src_of(tmpl_sms(full, "es")), "ES sms");
	assert_string_equal(src_of(tmpl_subject(full, "es")), "EN subject");
	assert_string_equal(src_of(tmpl_body(full, "es")), "EN body");
	assert_string_equal(src_of(tmpl_sms(full, "fr")), "EN sms");
	assert_string_equal(src_of(tmpl_subject(full, "fr")), "FR subject");
	assert_string_equal(src_of(tmpl_body(full, "fr")), "EN body");
	assert_string_equal(src_of(tmpl_sms(full, "pt-BR")), "PT sms");
	assert_string_equal(src_of(tmpl_body(full, "pt-BR")), "PT body");
	assert_string_equal(src_of(tmpl_subject(full, "pt-BR")), "EN subject");
	/* no group for the language (or none given): the template's own */
	assert_string_equal(src_of(tmpl_sms(full, "en")), "EN sms");
	assert_string_equal(src_of(tmpl_sms(full, "de")), "EN sms");
	assert_string_equal(src_of(tmpl_sms(full, NULL)), "EN sms");
	/* a regional code falls back to its language's group: "es-MX" gets
	 * "es"; codes are otherwise compared exactly */
	assert_string_equal(src_of(tmpl_sms(full, "es-MX")), "ES sms");
	assert_string_equal(src_of(tmpl_sms(full, "esp")), "EN sms");
	assert_string_equal(src_of(tmpl_sms(full, "ES")), "EN sms");
	/* sms is the e-mail body when there is none; the subject may be unset
	 * (the sender then uses "Reminder") */
	assert_string_equal(src_of(tmpl_body(bare, "en")), "EN only");
	assert_string_equal(src_of(tmpl_body(bare, "es")), "ES only");
	assert_null(tmpl_subject(bare, "en"));
	assert_null(tmpl_subject(bare, "es"));
	snapshot_unref(s);
}

/* ---- discretion -------------------------------------------------------------- */

static void test_names_treatment(void **state)
{
	static const char *const programs[] = {"Sunrise Path", "Evening IOP", NULL};
	static const struct {
		const char *text, *word;           /* word: NULL if the text is discreet */
	} v[] = {
		{"Hi {first_name}, reminder: appointment {day} at {time}.", NULL},
		{"Your addiction group starts at 6", "addiction"},
		{"Your ADDICTION group starts at 6", "addiction"},
		{"Rehab at 6", "rehab"},
		{"detox check-in", "detox"},
		{"Time for your methadone.", "methadone"},
		{"buprenorphine refill", "buprenorphine"},
		{"Suboxone", "suboxone"},
		{"Your IOP session", "iop"},
		{"php group", "php"},
		{"MAT dose", "mat"},
		{"Stay sober!", "sober"},
		{"sober-living house", "sober"},
		{"(sober)", "sober"},
		{"Sobering news", NULL},               /* a word boundary, not a substring */
		{"Please format your reply", NULL},    /* "mat" inside a word */
		{"Sudden change of plans", NULL},      /* "sud" inside a word */
		{"rehabbing the garden", NULL},
		{"The matinee", NULL},
		{"relapse prevention", "relapse"},
		{"recovery group", "recovery"},
		{"mental health check", "mental health"},
		{"Mental  health", NULL},              /* phrases match as written */
		{"partial hospitalization", "partial hospitalization"},
		{"intensive outpatient", "intensive outpatient"},
		{"12-step meeting", "12-step"},
		{"Su cita de rehabilitación", "rehabilitación"},
		{"Tratamiento de adicción", "adicción"},
		{"Su metadona", "metadona"},
		{"A session at Sunrise Path today", "Sunrise Path"},   /* a program's name */
		{"sunrise path", "Sunrise Path"},                        /* any case */
		{"Sunrise is at 6:42", NULL},
		{"Welcome to Evening IOP", "iop"},     /* the word list is checked first */
		{"adicciónes", NULL},                  /* a non-ASCII letter continues the word */
		{"", NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		char word[64] = "";
		int r = tmpl_names_treatment(v[i].text, programs, 2, word, sizeof word);
		if (v[i].word && (!r || strcmp(word, v[i].word)))
			fail_msg("\"%s\": got %d \"%s\", expected \"%s\"", v[i].text, r, word, v[i].word);
		if (!v[i].word && r)
			fail_msg("\"%s\" refused for \"%s\"", v[i].text, word);
	}
	/* NULL and empty phrases are skipped */
	{
		static const char *const odd[] = {NULL, ""};
		char word[64];
		assert_int_equal(tmpl_names_treatment("anything at all", odd, 2, word, sizeof word), 0);
	}
}

/* The same through the configuration: refused unless discreet = false. */
static void test_discretion_in_config(void **state)
{
	struct errs e = {0};
	struct snapshot *s;
	const char *text =
	    "templates = {\n"
	    "  ok = { sms = \"Sobering thought: see you {day}.\"; email_body = \"Your methadone visit\"; };\n"
	    "  consented = { sms = \"Your IOP group is {day}\"; discreet = false; };\n"
	    "  sms_bad = { sms = \"Your detox check-in\"; };\n"
	    "  subject_bad = { sms = \"See you\"; email_subject = \"Rehab reminder\"; };\n"
	    "  es_bad = { sms = \"See you\";\n"
	    "    es = { sms = \"Su cita de desintoxicación\"; }; };\n"
	    "  name_bad = { sms = \"A session at Sunrise Path\"; };\n"
	    "  strict = { sms = \"Your recovery group\"; discreet = true; };\n"
	    "};\n"
	    "programs = ( { id = \"sp\"; name = \"Sunrise Path\"; } );\n";
	char *path;

	(void)state;
	s = unit_load_text(unit_dir, "d.conf", text, CONF_CALENDAR, &e);
	assert_null(s);
	path = unit_path(unit_dir, "d.conf");
	{
		const struct unit_err want[] = {
			{path, 4, "template sms_bad: the sms text names treatment (\"detox\")"},
			{path, 5, "template subject_bad: the email_subject text names treatment (\"rehab\")"},
			{path, 7, "template es_bad: the sms text names treatment (\"desintoxicación\")"},
			{path, 8, "template name_bad: the sms text names treatment (\"Sunrise Path\")"},
			{path, 9, "template strict: the sms text names treatment (\"recovery\")"},
		};
		unit_expect_errs(&e, want, sizeof want / sizeof want[0], unit_dir);
	}
	free(path);
	errs_free(&e);
}

/* ---- SMS segments ---------------------------------------------------------- */

static char *repeat(const char *unit, size_t n, const char *tail)
{
	size_t len = strlen(unit) * n + strlen(tail) + 1, i;
	char *s = malloc(len);

	assert_non_null(s);
	s[0] = '\0';
	for (i = 0; i < n; i++)
		strcat(s, unit);
	strcat(s, tail);
	return s;
}

static void test_sms_segments(void **state)
{
	static const struct {
		const char *unit;              /* repeated n times, then `tail` */
		size_t n;
		const char *tail;
		int parts, ucs2;
	} v[] = {
		/* GSM-7: 160 alone, 153 a part */
		{"a", 0, "", 1, 0},
		{"a", 1, "", 1, 0},
		{"a", 160, "", 1, 0},
		{"a", 161, "", 2, 0},
		{"a", 306, "", 2, 0},
		{"a", 307, "", 3, 0},
		{"a", 459, "", 3, 0},
		{"a", 460, "", 4, 0},
		/* the basic set beyond letters, including its non-ASCII characters */
		{"@$_!\"#%&'()*+,-./:;<=>?\n\r 0123456789", 4, "", 1, 0},
		{"£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", 1, "", 1, 0},
		{"é", 160, "", 1, 0},
		{"é", 161, "", 2, 0},
		/* the extension set: two septets each */
		{"[", 80, "", 1, 0},
		{"[", 80, "a", 2, 0},
		{"{}", 40, "", 1, 0},
		{"^~|\\", 20, "", 1, 0},
		{"€", 80, "", 1, 0},
		{"€", 81, "", 2, 0},
		{"a", 158, "]", 1, 0},
		{"a", 159, "]", 2, 0},
		/* UCS-2: 70 alone, 67 a part; one character outside GSM-7 is enough */
		{"ж", 70, "", 1, 1},
		{"ж", 71, "", 2, 1},
		{"ж", 134, "", 2, 1},
		{"ж", 135, "", 3, 1},
		{"a", 69, "ą", 1, 1},
		{"a", 70, "ą", 2, 1},
		{"a", 69, "`", 1, 1},           /* the backtick is not GSM-7 */
		{"a", 69, "á", 1, 1},           /* á is not in the GSM basic set (à is) */
		{"a", 69, "\t", 1, 1},          /* neither is the tab */
		{"a", 159, "\t", 3, 1},         /* 160 UTF-16 units: 3 parts of 67 */
		/* characters outside the BMP take two UTF-16 units */
		{"😀", 35, "", 1, 1},
		{"😀", 36, "", 2, 1},
		{"a", 68, "😀", 1, 1},
		{"a", 69, "😀", 2, 1},
		{"😀", 67, "", 2, 1},
		{"😀", 68, "", 3, 1},
		/* invalid UTF-8 counts as a replacement character */
		{"\xff", 1, "", 1, 1},
		{"a", 70, "\xc3", 2, 1},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		char *s = repeat(v[i].unit, v[i].n, v[i].tail);
		int ucs2 = -1, parts = sms_segments(s, &ucs2);
		if (parts != v[i].parts || ucs2 != v[i].ucs2)
			fail_msg("case %zu (\"%s\" x %zu + \"%s\"): %d parts, ucs2 %d; expected %d, %d", i,
			    v[i].unit, v[i].n, v[i].tail, parts, ucs2, v[i].parts, v[i].ucs2);
		free(s);
	}
}

/* A template that can need more than two parts is a warning, not an error,
 * and the longest values of the calendar are used. */
static void test_sms_length_warning(void **state)
{
	struct errs e = {0};
	struct snapshot *s;
	char text[2048];
	char *name = repeat("x", 200, "");

	(void)state;
	snprintf(text, sizeof text,
	    "templates = {\n"
	    "  short = { sms = \"Hi {first_name}\"; };\n"
	    "  long = { sms = \"Hi {first_name}! %s\"; };\n"
	    "};\n"
	    "programs = ( { id = \"p\"; } );\n"
	    "patients = ( { id = \"a\"; first_name = \"%s\"; program = \"p\"; start = \"2026-12-01\"; } );\n",
	    "0123456789012345678901234567890123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789012345678901234567890123456789"
	    "0123456789", name);
	s = unit_load_text(unit_dir, "w.conf", text, CONF_CALENDAR, &e);
	assert_non_null(s);
	assert_int_equal(e.count, 0);
	assert_int_equal(e.nwarn, 1);
	assert_non_null(strstr(e.warn.s, ":3: warning: template long: the SMS text can need 3 parts"));
	snapshot_unref(s);
	errs_free(&e);
	free(name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_compile_errors, teardown_arena),
		cmocka_unit_test_teardown(test_render, teardown_arena),
		cmocka_unit_test(test_ph_names),
		cmocka_unit_test_setup_teardown(test_language_fallback, unit_setup, unit_teardown),
		cmocka_unit_test(test_names_treatment),
		cmocka_unit_test_setup_teardown(test_discretion_in_config, unit_setup, unit_teardown),
		cmocka_unit_test(test_sms_segments),
		cmocka_unit_test_setup_teardown(test_sms_length_warning, unit_setup, unit_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	tz_cleanup();
	return rc;
}
