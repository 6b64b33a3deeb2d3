/* test_conf_ledger.c - daemon/conf_ledger.c and daemon/fingerprint.c:
 * daemon.ledger, daemon.postgresql, daemon.instance (SPEC 9), every error
 * at its FILE:LINE, and the fingerprint that instances sharing a ledger
 * compare: the same whatever differs per host or in form, different when
 * what decides reminders differs. */
#include "config.h"

#include <unistd.h>

#include "unit.h"

static const char program[] =
    "channels = ( { name = \"term\"; module = \"console\"; } );\n"
    "templates = { medication = { sms = \"Hi {first_name}, your {label}.\"; }; };\n"
    "programs = ( { id = \"op\"; name = \"OP\"; kind = \"OP\"; } );\n";

/* A configuration: its daemon group's body, then the program, then `tail`. */
static char *conf_text(const char *daemon, const char *tail)
{
	char *t = NULL;

	assert_true(asprintf(&t, "daemon = {\n%s};\n%s%s", daemon, program, tail) > 0);
	return t;
}

static struct snapshot *load(const char *daemon, const char *tail, enum conf_mode mode, struct errs *e)
{
	char *text = conf_text(daemon, tail);
	struct snapshot *s = unit_load_text(unit_dir, "l.conf", text, mode, e);

	free(text);
	return s;
}

static void test_defaults(void **state)
{
	struct errs e = {0};
	struct snapshot *s;
	char host[256];

	(void)state;
	s = load("  timezone = \"UTC\";\n", "", CONF_FULL, &e);
	if (!s)
		fail_msg("%s", e.text.s);
	assert_int_equal(s->ledger, LEDGER_SQLITE);
	assert_null(s->pg_conninfo);
	assert_null(s->fingerprint);               /* only a shared ledger needs one */
	assert_true(s->pg_lease == 30.0);
	assert_int_equal(gethostname(host, sizeof host), 0);
	host[sizeof host - 1] = '\0';
	if (strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(host))
		assert_string_equal(s->instance, host);
	snapshot_unref(s);
	errs_free(&e);
}

static void test_postgresql(void **state)
{
	struct errs e = {0};
	struct snapshot *s;
	char *pw = unit_write(unit_dir, "pg.secret", "s3cret\n", 0600), *path;

	(void)state;
	s = load("  ledger = \"postgresql\";\n"
	    "  postgresql = { conninfo = \"host=db1,db2 dbname=iopd user=iopd target_session_attrs=read-write\";\n"
	    "    token_file = \"pg.secret\"; lease = \"10s\"; };\n"
	    "  instance = \"node-a\";\n", "", CONF_FULL, &e);
	if (!s)
		fail_msg("%s", e.text.s);
	assert_int_equal(s->ledger, LEDGER_POSTGRESQL);
	assert_string_equal(s->instance, "node-a");
	assert_non_null(strstr(s->pg_conninfo, "host=db1,db2"));
	path = unit_path(unit_dir, "pg.secret");       /* relative to the file's folder */
	assert_string_equal(s->pg_token_file, path);
	assert_true(s->pg_lease == 10.0);
	assert_non_null(s->fingerprint);
	assert_int_equal(strlen(s->fingerprint), 16);
	{
		char err[256], *secret = conf_pg_password(s, err, sizeof err);
		assert_non_null(secret);
		assert_string_equal(secret, "s3cret");
		free(secret);
	}
	snapshot_unref(s);
	/* the ledger's settings draw no warning (the configuration has no
	 * patients: that one is expected) */
	if (e.nwarn && (strstr(e.warn.s, "postgresql") || strstr(e.warn.s, "token_file") ||
	    strstr(e.warn.s, "instance") || strstr(e.warn.s, "ledger")))
		fail_msg("%s", e.warn.s);
	errs_free(&e);
	free(path);
	free(pw);
}

static void test_errors(void **state)
{
	struct errs e = {0};
	char *path = unit_path(unit_dir, "l.conf");
	char *loose = unit_write(unit_dir, "loose.secret", "pw\n", 0644);

	(void)state;
	assert_null(load("  ledger = \"mysql\";\n"                                              /* 2 */
	    "  instance = \"node a\";\n", "", CONF_CALENDAR, &e));                                /* 3 */
	{
		const struct unit_err want[] = {
			{path, 2, "daemon.ledger must be \"sqlite\" (the default: state_dir/ledger.db) or \"postgresql\""},
			{path, 3, "daemon.instance \"node a\": use 1 to 63 letters, digits"},
		};
		unit_expect_errs(&e, want, 2, unit_dir);
	}
	errs_free(&e);

	assert_null(load("  ledger = \"postgresql\";\n", "", CONF_CALENDAR, &e));
	{
		const struct unit_err want[] = {{path, 2, "daemon.ledger = \"postgresql\" needs daemon.postgresql"}};
		unit_expect_errs(&e, want, 1, unit_dir);
	}
	errs_free(&e);

	assert_null(load("  ledger = \"postgresql\";\n"
	    "  postgresql = {\n"                                                                    /* 3 */
	    "    conninfo = \"host=db password=hunter2\";\n"                                         /* 4 */
	    "    token_file = \"loose.secret\";\n"                                                   /* 5 */
	    "    lease = \"0s\";\n"                                                                  /* 6 */
	    "    colour = 1;\n"                                                                      /* 7 */
	    "  };\n", "", CONF_FULL, &e));
	{
		const struct unit_err want[] = {
			{path, 4, "daemon.postgresql.conninfo must not hold a password: put it in a file"},
			{path, 5, "loose.secret is readable by other users; chmod o-r"},
			{path, 6, "daemon.postgresql.lease must be between 1s and 1h"},
			{path, 7, "unknown key \"colour\" in daemon.postgresql"},
		};
		unit_expect_errs(&e, want, 4, unit_dir);
	}
	assert_null(strstr(e.text.s, "hunter2"));        /* a password is never echoed */
	errs_free(&e);

	assert_null(load("  ledger = \"postgresql\";\n"
	    "  postgresql = { conninfo = \"host='db\";\n"                                         /* 3 */
	    "    token_file = \"nowhere.secret\";\n"                                                /* 4 */
	    "    token_credential = \"pg\"; };\n", "", CONF_FULL, &e));                              /* 5 */
	{
		const struct unit_err want[] = {
			{path, 3, "daemon.postgresql.conninfo: unterminated quoted string"},
			{path, 5, "token_file and token_credential are both set; keep one"},
		};
		unit_expect_errs(&e, want, 2, unit_dir);
	}
	errs_free(&e);

	/* a URI is a conninfo too, with its password */
	assert_null(load("  ledger = \"postgresql\";\n"
	    "  postgresql = { conninfo = \"postgresql://iopd:hunter2@db/iopd\"; };\n", "", CONF_CALENDAR, &e));
	{
		const struct unit_err want[] = {{path, 3, "must not hold a password"}};
		unit_expect_errs(&e, want, 1, unit_dir);
	}
	errs_free(&e);

	/* -t reads the secret; the agenda does not */
	assert_null(load("  ledger = \"postgresql\";\n"
	    "  postgresql = { conninfo = \"host=db\";\n    token_file = \"nowhere.secret\"; };\n", "",
	    CONF_FULL, &e));
	{
		const struct unit_err want[] = {{path, 4, "token_file: cannot open"}};
		unit_expect_errs(&e, want, 1, unit_dir);
	}
	errs_free(&e);
	{
		struct snapshot *s = load("  ledger = \"postgresql\";\n"
		    "  postgresql = { conninfo = \"host=db\";\n    token_file = \"nowhere.secret\"; };\n", "",
		    CONF_CALENDAR, &e);
		assert_non_null(s);
		snapshot_unref(s);
	}
	errs_free(&e);

	/* postgresql settings without ledger = "postgresql": a warning */
	{
		struct snapshot *s = load("  postgresql = { conninfo = \"host=db\"; };\n", "", CONF_CALENDAR, &e);
		assert_non_null(s);
		assert_int_equal(s->ledger, LEDGER_SQLITE);
		assert_int_equal(e.nwarn, 1);
		assert_non_null(strstr(e.warn.s, "daemon.postgresql is not used"));
		snapshot_unref(s);
	}
	errs_free(&e);
	free(loose);
	free(path);
}

/* ---- the fingerprint -------------------------------------------------------- */

static const char pg_daemon[] =
    "  ledger = \"postgresql\";\n  postgresql = { conninfo = \"host=db\"; };\n";

static char *fp_of(const char *daemon_extra, const char *tail)
{
	struct errs e = {0};
	char *daemon = NULL, *fp;
	struct snapshot *s;

	assert_true(asprintf(&daemon, "%s  timezone = \"UTC\";\n%s", pg_daemon, daemon_extra) > 0);
	s = load(daemon, tail, CONF_FULL, &e);
	if (!s)
		fail_msg("%s", e.text.s);
	fp = strdup(s->fingerprint);
	snapshot_unref(s);
	errs_free(&e);
	free(daemon);
	return fp;
}

static const char two_patients[] =
    "patients = (\n"
    "  { id = \"p1\"; first_name = \"A\"; program = \"op\"; start = \"2026-12-01\";\n"
    "    medications = ( { label = \"dose\"; times = [\"08:00\", \"20:00\"]; channels = [\"term\"]; } ); },\n"
    "  { id = \"p2\"; first_name = \"B\"; program = \"op\"; start = \"2026-12-01\"; }\n"
    ");\n";

static void test_fingerprint(void **state)
{
	char *base, *fp;

	(void)state;
	base = fp_of("", two_patients);
	/* per host: instance, sockets, folders, log level, the server's address */
	fp = fp_of("  instance = \"b\";\n  control_socket = \"/run/b.sock\";\n  state_dir = \"/var/b\";\n"
	    "  log_level = \"debug\";\n  metrics_file = \"/var/b/iopd.prom\";\n", two_patients);
	assert_string_equal(fp, base);
	free(fp);
	/* order and form: patients, keys and times reordered, comments */
	fp = fp_of("", "# the same two\npatients = (\n"
	    "  { id = \"p2\"; program = \"op\"; first_name = \"B\"; start = \"2026-12-01\"; },\n"
	    "  { first_name = \"A\"; id = \"p1\"; start = \"2026-12-01\"; program = \"op\";\n"
	    "    medications = ( { times = [\"20:00\", \"08:00\"]; label = \"dose\"; channels = [\"term\"]; } ); }\n"
	    ");\n");
	assert_string_equal(fp, base);
	free(fp);
	/* what decides reminders: a time, a patient, a daemon-wide setting */
	fp = fp_of("", "patients = (\n"
	    "  { id = \"p1\"; first_name = \"A\"; program = \"op\"; start = \"2026-12-01\";\n"
	    "    medications = ( { label = \"dose\"; times = [\"08:00\", \"21:00\"]; channels = [\"term\"]; } ); },\n"
	    "  { id = \"p2\"; first_name = \"B\"; program = \"op\"; start = \"2026-12-01\"; }\n);\n");
	assert_string_not_equal(fp, base);
	free(fp);
	fp = fp_of("", "patients = (\n"
	    "  { id = \"p1\"; first_name = \"A\"; program = \"op\"; start = \"2026-12-01\";\n"
	    "    medications = ( { label = \"dose\"; times = [\"08:00\", \"20:00\"]; channels = [\"term\"]; } ); }\n);\n");
	assert_string_not_equal(fp, base);
	free(fp);
	fp = fp_of("  catch_up = \"1h\";\n", two_patients);
	assert_string_not_equal(fp, base);
	free(fp);
	free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_postgresql, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_errors, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_fingerprint, unit_setup, unit_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
