/* test_lang.c - daemon/lang.c and render.c: {day} and {time} in the
 * patient's language, from the C library's locale data (SPEC 4.1 as issue
 * 11 extends it).
 *
 * English is built in and must stay byte for byte what iopd always wrote
 * ("Tue Dec 1", "6:00 PM"), checked against timefmt.c's own formatter over
 * every day of two years and every minute of a day.  Spanish and French
 * come from the locales of Debian's locales-all (es_ES, fr_FR, ...), which
 * iopd needs at run time: their absence fails the test; other languages
 * are checked where their locale is installed. */
#include "config.h"

#include <locale.h>
#include <pthread.h>

#include "unit.h"

#include "calendar.h"
#include "civil.h"
#include "lang.h"
#include "render.h"

static int64_t wall(int y, int m, int d, int hh, int mm)
{
	return wall_make(civil_to_days(y, m, d), hh * 3600 + mm * 60);
}

static bool have_locale(const char *name)
{
	locale_t l = newlocale(LC_TIME_MASK, name, (locale_t)0);

	if (l)
		freelocale(l);
	return l != (locale_t)0;
}

/* es_ES and fr_FR are required (locales-all is one of iopd's packages). */
static void need_locale(const char *name)
{
	if (!have_locale(name))
		fail_msg("no locale %s: install Debian's locales-all (contrib/quickstart.sh lists it)", name);
}

static void day_is(const char *code, int64_t w, const char *want)
{
	char buf[LANG_DAY_MAX];

	lang_day(lang_get(code), w, buf, sizeof buf);
	assert_string_equal(buf, want);
}

static void time_is(const char *code, int64_t w, const char *want)
{
	char buf[LANG_TIME_MAX];

	lang_time(lang_get(code), w, buf, sizeof buf);
	assert_string_equal(buf, want);
}

/* "en" is the built-in English, identical to timefmt.c's for every day
 * and minute: the golden and differential tests compare its texts. */
static void test_english_unchanged(void **state)
{
	const struct lang *en = lang_get("en");
	char a[LANG_DAY_MAX], b[64];
	int32_t d, first = civil_to_days(2026, 1, 1);
	int s;

	(void)state;
	assert_ptr_equal(en, lang_english());
	assert_null(lang_locale(en));
	assert_false(lang_fallback(en));
	for (d = first; d < first + 731; d++) {
		lang_day(en, wall_make(d, 0), a, sizeof a);
		fmt_day(wall_make(d, 0), b, sizeof b);
		assert_string_equal(a, b);
	}
	for (s = 0; s < 86400; s += 60) {
		lang_time(en, wall_make(first, s), a, sizeof a);
		fmt_time12(wall_make(first, s), b, sizeof b);
		assert_string_equal(a, b);
	}
	day_is("en", wall(2026, 12, 1, 18, 0), "Tue Dec 1");
	time_is("en", wall(2026, 12, 1, 18, 0), "6:00 PM");
	time_is("en", wall(2026, 12, 1, 0, 5), "12:05 AM");
	/* no language at all is English too */
	assert_ptr_equal(lang_get(""), en);
	assert_ptr_equal(lang_get(NULL), en);
}

static void test_spanish(void **state)
{
	(void)state;
	need_locale("es_ES.UTF-8");
	assert_string_equal(lang_locale(lang_get("es")), "es_ES.UTF-8");
	assert_false(lang_fallback(lang_get("es")));
	day_is("es", wall(2026, 12, 1, 18, 0), "mar 1 dic");
	day_is("es", wall(2026, 12, 7, 18, 0), "lun 7 dic");
	day_is("es", wall(2027, 3, 6, 9, 0), "sáb 6 mar");
	time_is("es", wall(2026, 12, 1, 18, 0), "18:00");
	time_is("es", wall(2026, 12, 1, 8, 5), "08:05");
	/* a regional code takes its own locale when there is one */
	if (have_locale("es_MX.UTF-8")) {
		assert_string_equal(lang_locale(lang_get("es-MX")), "es_MX.UTF-8");
		assert_string_equal(lang_locale(lang_get("es_mx")), "es_MX.UTF-8");
		day_is("es-MX", wall(2026, 12, 1, 18, 0), "mar 1 dic");
	}
	/* and its language's when there is none (es-419: Latin America) */
	assert_string_equal(lang_locale(lang_get("es-419")), "es_ES.UTF-8");
	assert_string_equal(lang_locale(lang_get("es-ZZ")), "es_ES.UTF-8");
}

static void test_french(void **state)
{
	(void)state;
	need_locale("fr_FR.UTF-8");
	day_is("fr", wall(2026, 12, 1, 18, 0), "mar. 1 déc.");
	day_is("fr", wall(2027, 3, 7, 18, 0), "dim. 7 mars");
	time_is("fr", wall(2026, 12, 1, 18, 0), "18:00");
	if (have_locale("fr_CA.UTF-8"))
		day_is("fr-CA", wall(2026, 12, 1, 18, 0), "mar 1 déc");
}

/* The locale's own order and clock: German "Di 1. Dez", British English
 * day before month on a 24-hour clock, Chinese without spaces or padding. */
static void test_other_orders(void **state)
{
	(void)state;
	if (have_locale("de_DE.UTF-8")) {
		day_is("de", wall(2026, 12, 1, 18, 0), "Di 1. Dez");
		time_is("de", wall(2026, 12, 1, 18, 0), "18:00");
	}
	if (have_locale("en_GB.UTF-8")) {
		day_is("en-GB", wall(2026, 12, 1, 18, 0), "Tue 1 Dec");
		time_is("en-GB", wall(2026, 12, 1, 18, 0), "18:00");
	}
	if (have_locale("en_US.UTF-8")) {
		/* the locale's own English is the built-in one */
		day_is("en-US", wall(2026, 12, 1, 18, 0), "Tue Dec 1");
		time_is("en-US", wall(2026, 12, 1, 18, 0), "6:00 PM");
	}
	if (have_locale("zh_CN.UTF-8"))
		time_is("zh", wall(2026, 12, 1, 18, 0), "18时00分");
}

/* No locale data: English, and said so (lang_fallback) for `iopd -t`;
 * "en-XX" is English without a warning. */
static void test_fallback(void **state)
{
	const struct lang *xx = lang_get("xx"), *bad = lang_get("Spanish");

	(void)state;
	assert_true(lang_fallback(xx));
	assert_null(lang_locale(xx));
	assert_string_equal(lang_code(xx), "xx");
	assert_true(lang_fallback(bad));
	assert_false(lang_fallback(lang_get("en-XX")));
	day_is("xx", wall(2026, 12, 1, 18, 0), "Tue Dec 1");
	time_is("xx", wall(2026, 12, 1, 18, 0), "6:00 PM");
}

/* Loaded once: the same code gives the same object. */
static void test_loaded_once(void **state)
{
	(void)state;
	assert_ptr_equal(lang_get("fr"), lang_get("fr"));
	assert_ptr_equal(lang_get("xx"), lang_get("xx"));
	assert_ptr_not_equal(lang_get("fr"), lang_get("es"));
}

/* Several threads asking and formatting at once (a reload's thread loads
 * while the loop renders): every answer the same. */
static void *worker(void *arg)
{
	const char *const codes[] = {"es", "fr", "de", "it", "pt", "en", "xx", "es-MX", "fr-CA", "nl"};
	char a[LANG_DAY_MAX], b[LANG_DAY_MAX];
	int i, *bad = arg;

	for (i = 0; i < 2000; i++) {
		const struct lang *l = lang_get(codes[i % 10]);
		lang_day(l, wall(2026, 12, 1 + i % 28, 18, 0), a, sizeof a);
		lang_day(lang_get(codes[i % 10]), wall(2026, 12, 1 + i % 28, 18, 0), b, sizeof b);
		if (strcmp(a, b) != 0 || !*a)
			(*bad)++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	int bad[4] = {0, 0, 0, 0}, i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &bad[i]), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(bad[i], 0);
	}
}

/* ---- rendering: what the daemon sends, per patient ---------------------------- */

static const char calendar[] =
	"daemon = { timezone = \"UTC\"; clinic_phone = \"+13125550100\"; };\n"
	"channels = ( { name = \"sms\"; module = \"sms\"; }, { name = \"email\"; module = \"smtp\"; },\n"
	"  { name = \"ehr\"; module = \"webhook\"; } );\n"
	"templates = { session = { sms = \"{first_name}: {day} {time} ({date})\";\n"
	"    email_subject = \"On {day}\";\n"
	"    es = { sms = \"{first_name}: el {day} a las {time} ({date})\"; };\n"
	"    fr = { sms = \"{first_name} : le {day} à {time} ({date})\"; }; }; };\n"
	"programs = ( { id = \"p\"; timezone = \"UTC\";\n"
	"  sessions = ( { id = \"g\"; days = [ \"tue\" ]; start = \"18:00\"; } );\n"
	"  reminders = ( { before = \"1h\"; channels = [ \"sms\", \"email\", \"ehr\" ]; } ); } );\n"
	"patients = (\n"
	"  { id = \"en\"; first_name = \"Ann\"; phone = \"+13125550101\"; email = \"a@example.org\";\n"
	"    program = \"p\"; start = \"2026-12-01\"; timezone = \"America/New_York\"; },\n"
	"  { id = \"es\"; first_name = \"Eva\"; phone = \"+13125550102\"; language = \"es\";\n"
	"    program = \"p\"; start = \"2026-12-01\"; timezone = \"Europe/Madrid\"; },\n"
	"  { id = \"fr\"; first_name = \"Zoé\"; phone = \"+13125550103\"; language = \"fr\";\n"
	"    program = \"p\"; start = \"2026-12-01\"; timezone = \"Asia/Tokyo\"; } );\n";

/* The text of patient `id`'s reminder on channel `ch` due at `due`. */
static enum render_form text_of(const struct snapshot *s, const char *id, const char *ch,
    struct rendered *r)
{
	int64_t p = snapshot_patient(s, id);
	struct stream st[8];
	uint32_t n = cal_streams(s, (uint32_t)p, st);
	int c = snapshot_channel(s, ch);
	struct occ o;

	assert_true(p >= 0 && c >= 0 && n >= 1);
	cal_seek(s, &st[0], unit_t("2026-12-01T00:00:00Z"));
	cal_occ(s, &st[0], &o);
	return render_occ(s, &o, (uint16_t)c, r);
}

static void test_render_languages(void **state)
{
	struct snapshot *s = unit_load_ok(unit_dir, calendar);
	struct rendered r = {{0}};

	(void)state;
	/* English in New York: the session at 18:00 UTC is 1:00 PM there */
	assert_int_equal(text_of(s, "en", "sms", &r), RENDER_TEXT);
	assert_string_equal(r.text.s, "Ann: Tue Dec 1 1:00 PM (2026-12-01)");
	assert_int_equal(text_of(s, "en", "email", &r), RENDER_EMAIL);
	assert_string_equal(r.subject.s, "On Tue Dec 1");
	assert_string_equal(r.body.s, "Ann: Tue Dec 1 1:00 PM (2026-12-01)");
	assert_int_equal(text_of(s, "en", "ehr", &r), RENDER_NONE);
	need_locale("es_ES.UTF-8");
	need_locale("fr_FR.UTF-8");
	/* Spanish in Madrid: 19:00; the subject is the template's own field,
	 * with Spanish names all the same */
	assert_int_equal(text_of(s, "es", "sms", &r), RENDER_TEXT);
	assert_string_equal(r.text.s, "Eva: el mar 1 dic a las 19:00 (2026-12-01)");
	text_of(s, "es", "email", &r);
	assert_string_equal(r.subject.s, "On mar 1 dic");
	/* French in Tokyo: the next day, 03:00; {date} stays ISO 8601 */
	text_of(s, "fr", "sms", &r);
	assert_string_equal(r.text.s, "Zoé : le mer. 2 déc. à 03:00 (2026-12-02)");
	rendered_free(&r);
	snapshot_unref(s);
}

/* A patient language without locale data: one warning, at the first
 * patient, with how many; the configuration stays valid. */
static void test_fallback_warning(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "w.conf");
	struct snapshot *s = unit_load_text(unit_dir, "w.conf",
	    "programs = ( { id = \"p\"; } );\n"
	    "patients = (\n"
	    "  { id = \"a\"; program = \"p\"; start = \"2026-12-01\"; language = \"xx\"; },\n"
	    "  { id = \"b\"; program = \"p\"; start = \"2026-12-01\"; language = \"xx\"; },\n"
	    "  { id = \"c\"; program = \"p\"; start = \"2026-12-01\"; language = \"en\"; },\n"
	    "  { id = \"d\"; program = \"p\"; start = \"2026-12-01\"; language = \"qq\"; } );\n",
	    CONF_CALENDAR, &e);

	(void)state;
	assert_non_null(s);
	assert_int_equal(e.count, 0);
	assert_int_equal(e.nwarn, 2);
	assert_non_null(strstr(e.warn.s, "w.conf:3: warning: patients[0] id \"a\": language: language \"xx\" "
	    "(2 patients): no date and time names"));
	assert_non_null(strstr(e.warn.s, "w.conf:6: warning: patients[3] id \"d\": language: language \"qq\" "
	    "(1 patient)"));
	assert_non_null(strstr(e.warn.s, "{day} and {time} are in English"));
	snapshot_unref(s);
	errs_free(&e);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_english_unchanged),
		cmocka_unit_test(test_spanish),
		cmocka_unit_test(test_french),
		cmocka_unit_test(test_other_orders),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_loaded_once),
		cmocka_unit_test(test_threads),
		cmocka_unit_test_setup_teardown(test_render_languages, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_fallback_warning, unit_setup, unit_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	lang_cleanup();
	tz_cleanup();
	return rc;
}
