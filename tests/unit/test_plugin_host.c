/* test_plugin_host.c - daemon/plugin_host.c with the real example plugin.
 *
 * TEST_BUILDDIR (from Makefile.am) locates the build tree's plugins:
 * plugins/.libs/example.so, console.so and sms.so, the refused ones in
 * tests/unit/.libs (badabi.so: ABI 2.0; badops.so: short ops table), and
 * abi10.so there, a plugin built against ABI 1.0, which must still load. */
#include "config.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "errs.h"
#include "http.h"
#include "log.h"
#include "plugin_host.h"

#ifndef TEST_BUILDDIR
#error "TEST_BUILDDIR must be defined by Makefile.am"
#endif
#define PLUGINS TEST_BUILDDIR "/plugins/.libs"
#define BADPLUGINS TEST_BUILDDIR "/tests/unit/.libs"

static char tmp[64];
static char conf_path[128];
static config_t cfg;
static int cfg_loaded;

/* ------------------------------------------------------------------------
 * Helpers
 * --------------------------------------------------------------------- */

static void write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);     /* exactly `mode`, whatever the umask */
	close(fd);
}

static char *tmp_path(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s/%s", tmp, name);
	return buf[i];
}

/* Writes the channel file and returns its `channel` group. */
static const config_setting_t *load_channel(const char *text)
{
	if (cfg_loaded)
		config_destroy(&cfg);
	write_file(conf_path, text, 0600);
	config_init(&cfg);
	cfg_loaded = 1;
	assert_int_equal(config_read_file(&cfg, conf_path), CONFIG_TRUE);
	return config_lookup(&cfg, "channel");
}

/* Configures the example plugin on `text`; errors land in `e`. */
static struct chan_inst *configure_example(const char *text, struct errs *e)
{
	char err[512];
	const struct plugin_mod *m;
	const config_setting_t *s = load_channel(text);
	struct iopd_channel_info info = {"t1", 15.0, 0};

	setenv("IOPD_PLUGIN_DIR", PLUGINS, 1);
	m = plugin_load("example", NULL, err, sizeof err);
	assert_non_null(m);
	memset(e, 0, sizeof *e);
	e->main_file = conf_path;
	return chan_inst_configure(m, s, &info, tmp, e);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, hay ? hay : "(null)");
}

/* The one error configure_example must report, at `line`. */
static void expect_conf_error(const char *text, int line, const char *msg)
{
	struct errs e;
	char where[256];

	assert_null(configure_example(text, &e));
	snprintf(where, sizeof where, "%s:%d: ", conf_path, line);
	assert_contains(e.text.s, where);
	assert_contains(e.text.s, msg);
	errs_free(&e);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static int group_setup(void **state)
{
	(void)state;
	log_init(LOG_LVL_WARNING);
	snprintf(tmp, sizeof tmp, "/tmp/iopd-test-ph-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(conf_path, sizeof conf_path, "%s/ch.conf", tmp);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (cfg_loaded)
		config_destroy(&cfg);
	plugin_unload_all();
	nftw(tmp, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ------------------------------------------------------------------------
 * Loading
 * --------------------------------------------------------------------- */

static void test_load_example(void **state)
{
	char err[512] = "";
	const struct plugin_mod *m, *again;

	(void)state;
	setenv("IOPD_PLUGIN_DIR", PLUGINS, 1);
	m = plugin_load("example", "/nonexistent", err, sizeof err);
	assert_non_null(m);
	assert_string_equal(plugin_desc(m)->name, "example");
	assert_int_equal(plugin_desc(m)->abi_major, IOPD_PLUGIN_ABI_MAJOR);
	assert_string_equal(plugin_path(m), PLUGINS "/example.so");
	again = plugin_load("example", NULL, err, sizeof err);
	assert_ptr_equal(m, again);
}

/* Without $IOPD_PLUGIN_DIR, a program running from the build tree finds
 * the build tree's plugins. */
static void test_load_from_build_tree(void **state)
{
	char err[512] = "";
	const struct plugin_mod *m;

	(void)state;
	unsetenv("IOPD_PLUGIN_DIR");
	m = plugin_load("console", "/nonexistent", err, sizeof err);
	if (!m)
		fail_msg("%s", err);
	assert_contains(plugin_path(m), "/plugins/.libs/console.so");
	assert_int_equal(plugin_desc(m)->contact, IOPD_CONTACT_NONE);
}

static void test_bad_module_names(void **state)
{
	static const char *const bad[] = {"", "../example", "a/b", "Example", "ex ample", "x.so"};
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_null(plugin_load(bad[i], NULL, err, sizeof err));
		assert_contains(err, "bad module name");
	}
}

static void test_not_found(void **state)
{
	char err[512];

	(void)state;
	setenv("IOPD_PLUGIN_DIR", tmp, 1);
	assert_null(plugin_load("no-such_module", NULL, err, sizeof err));
	assert_contains(err, "plugin \"no-such_module\" not found");
	assert_contains(err, tmp);
}

static void test_abi_mismatch(void **state)
{
	char err[512];

	(void)state;
	setenv("IOPD_PLUGIN_DIR", BADPLUGINS, 1);
	assert_null(plugin_load("badabi", NULL, err, sizeof err));
	assert_contains(err, "badabi.so was built for ABI 2.0; this iopd speaks 1.x: rebuild it");
	/* refused, so not cached: it is refused again */
	assert_null(plugin_load("badabi", NULL, err, sizeof err));
}

static void test_small_ops(void **state)
{
	char err[512];

	(void)state;
	setenv("IOPD_PLUGIN_DIR", BADPLUGINS, 1);
	assert_null(plugin_load("badops", NULL, err, sizeof err));
	assert_contains(err, "operations table");
}

/* example.so copied to renamed.so says it is "example": refused. */
static void test_name_mismatch(void **state)
{
	char err[512], buf[65536];
	FILE *in = fopen(PLUGINS "/example.so", "rb"), *out;
	size_t n;

	(void)state;
	assert_non_null(in);
	out = fopen(tmp_path("renamed.so"), "wb");
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
	setenv("IOPD_PLUGIN_DIR", tmp, 1);
	assert_null(plugin_load("renamed", NULL, err, sizeof err));
	assert_contains(err, "calls itself \"example\", not \"renamed\"");
}

/* ------------------------------------------------------------------------
 * Configuration diagnostics
 * --------------------------------------------------------------------- */

static void test_unknown_keys(void **state)
{
	struct errs e;
	char want[512];

	(void)state;
	assert_null(configure_example(
	    "# line 1\n"
	    "channel = {\n"
	    "  name = \"t1\";\n"
	    "  module = \"example\";\n"
	    "  bogus = 1;\n"
	    "  delay = 0.5;\n"
	    "  colour = \"red\";\n"
	    "};\n", &e));
	assert_int_equal(e.count, 2);
	snprintf(want, sizeof want, "%s:5: unknown key \"bogus\" in channel t1 (module example); "
	    "known keys: name, module, rate, concurrency, timeout, insecure_tls, token_file, "
	    "token_credential, fallback, replies, callback_key_file, delay\n", conf_path);
	assert_contains(e.text.s, want);
	snprintf(want, sizeof want, "%s:7: unknown key \"colour\" in channel t1", conf_path);
	assert_contains(e.text.s, want);
	errs_free(&e);
}

static void test_typed_key_errors(void **state)
{
	(void)state;
	expect_conf_error("channel = {\n name = \"t1\";\n module = \"example\";\n delay = \"soon\";\n};\n",
	    4, "channel t1: delay must be a number of seconds");
	expect_conf_error("channel = {\n name = \"t1\";\n module = \"example\";\n\n delay = 99;\n};\n",
	    5, "channel t1: delay must be between 0 and 60 seconds");
}

static void test_configure_ok_then_free_unstarted(void **state)
{
	struct errs e;
	struct chan_inst *c;

	(void)state;
	c = configure_example("channel = { name = \"t1\"; module = \"example\"; delay = 1; timeout = 3; };\n", &e);
	assert_non_null(c);
	assert_int_equal(e.count, 0);
	assert_string_equal(chan_inst_name(c), "t1");
	chan_inst_free(c);             /* stop without start */
	errs_free(&e);
}

/* ------------------------------------------------------------------------
 * Secrets
 * --------------------------------------------------------------------- */

static void test_secret_read_file(void **state)
{
	char err[512];
	char *s, *big;

	(void)state;
	write_file(tmp_path("s1"), "abc\n\n", 0600);
	s = secret_read_file(tmp_path("s1"), err, sizeof err);
	assert_string_equal(s, "abc\n");           /* ONE newline less */
	free(s);

	write_file(tmp_path("s2"), "no newline", 0640);   /* group may read */
	s = secret_read_file(tmp_path("s2"), err, sizeof err);
	assert_string_equal(s, "no newline");
	free(s);

	write_file(tmp_path("s3"), "\n", 0600);
	assert_null(secret_read_file(tmp_path("s3"), err, sizeof err));
	assert_contains(err, "is empty");

	write_file(tmp_path("s4"), "hunter2\n", 0644);
	assert_null(secret_read_file(tmp_path("s4"), err, sizeof err));
	assert_contains(err, "is readable by other users; chmod o-r ");
	assert_contains(err, "s4");
	assert_true(strstr(err, "hunter2") == NULL);

	assert_null(secret_read_file(tmp_path("missing"), err, sizeof err));
	assert_contains(err, "cannot open");
	assert_contains(err, "No such file");

	assert_null(secret_read_file(tmp, err, sizeof err));
	assert_contains(err, "not a regular file");

	/* 64 KiB is the most a secret may be; one byte more is refused */
	big = xmalloc(64 * 1024 + 2);
	memset(big, 'k', 64 * 1024 + 1);
	big[64 * 1024] = '\0';
	write_file(tmp_path("s5"), big, 0600);
	s = secret_read_file(tmp_path("s5"), err, sizeof err);
	assert_non_null(s);
	assert_int_equal(strlen(s), 64 * 1024);
	free(s);
	big[64 * 1024] = 'k';
	big[64 * 1024 + 1] = '\0';
	write_file(tmp_path("s5"), big, 0600);
	assert_null(secret_read_file(tmp_path("s5"), err, sizeof err));
	assert_contains(err, "is larger than 65536 bytes: not a secret");
	free(big);
}

/* A symbolic link is refused, whatever it points to: the mode and owner
 * checks would judge the target, which the link's owner may change. */
static void test_secret_symlink(void **state)
{
	char err[512];
	char *s;

	(void)state;
	write_file(tmp_path("real"), "token\n", 0600);
	assert_int_equal(symlink(tmp_path("real"), tmp_path("link")), 0);
	assert_null(secret_read_file(tmp_path("link"), err, sizeof err));
	assert_contains(err, "is a symbolic link: name the file itself");
	s = secret_read_file(tmp_path("real"), err, sizeof err);
	assert_string_equal(s, "token");
	free(s);
}

/* Owned by root or by iopd's own user; another account could rewrite it. */
static void test_secret_owner(void **state)
{
	char err[512];
	uid_t other = 65534;

	(void)state;
	if (geteuid() != 0)
		skip();                        /* only root can give a file away */
	write_file(tmp_path("owned"), "token\n", 0600);
	assert_int_equal(chown(tmp_path("owned"), other, (gid_t)-1), 0);
	assert_null(secret_read_file(tmp_path("owned"), err, sizeof err));
	assert_contains(err, "belongs to uid 65534, neither root nor iopd's user");
}

static void test_secret_load_file(void **state)
{
	struct errs e;
	struct chan_inst *c;

	(void)state;
	/* relative to config_dir (tmp) */
	write_file(tmp_path("tok"), "t0ken\n", 0600);
	c = configure_example("channel = { name = \"t1\"; module = \"example\"; token_file = \"tok\"; };\n", &e);
	assert_non_null(c);
	assert_int_equal(e.count, 0);
	chan_inst_free(c);
	errs_free(&e);

	expect_conf_error("channel = {\n name = \"t1\";\n module = \"example\";\n token_file = \"nope\";\n};\n",
	    4, "channel t1: token_file: cannot open");

	write_file(tmp_path("open"), "t0ken\n", 0604);
	expect_conf_error("channel = {\n name = \"t1\";\n module = \"example\";\n token_file = \"open\";\n};\n",
	    4, "is readable by other users; chmod o-r ");

	expect_conf_error("channel = {\n name = \"t1\";\n module = \"example\";\n token_file = \"tok\";\n"
	    " token_credential = \"tok\";\n};\n", 5, "token_file and token_credential are both set");

	expect_conf_error("channel = {\n name = \"t1\";\n module = \"example\";\n token_file = 7;\n};\n",
	    4, "token_file must be a non-empty string");
}

static void test_secret_load_credential(void **state)
{
	struct errs e;
	struct chan_inst *c;
	char dir[256];

	(void)state;
	unsetenv("CREDENTIALS_DIRECTORY");
	expect_conf_error("channel = {\n name = \"t1\";\n module = \"example\";\n token_credential = \"sms\";\n};\n",
	    4, "needs $CREDENTIALS_DIRECTORY, which is not set");

	snprintf(dir, sizeof dir, "%s", tmp_path("creds"));
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file(tmp_path("creds/sms"), "s3cret", 0400);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	c = configure_example("channel = { name = \"t1\"; module = \"example\"; token_credential = \"sms\"; };\n", &e);
	assert_non_null(c);
	assert_int_equal(e.count, 0);
	chan_inst_free(c);
	errs_free(&e);

	expect_conf_error("channel = {\n name = \"t1\";\n module = \"example\";\n token_credential = \"../tok\";\n};\n",
	    4, "must be a plain name, without '/'");
	expect_conf_error("channel = {\n name = \"t1\";\n module = \"example\";\n token_credential = \"other\";\n};\n",
	    4, "cannot open");
	unsetenv("CREDENTIALS_DIRECTORY");
}

/* ------------------------------------------------------------------------
 * Running an instance
 * --------------------------------------------------------------------- */

struct outcome_log {
	int n;
	struct {
		const void *token;
		enum iopd_result result;
		char text[80];
		double retry_after;
	} o[8];
	struct ev_loop *loop;
	int want;
};

static void record_done(void *token, const struct iopd_outcome *o)
{
	struct outcome_log *l = *(struct outcome_log **)token;

	assert_true(l->n < 8);
	l->o[l->n].token = token;
	l->o[l->n].result = o->result;
	snprintf(l->o[l->n].text, sizeof l->o[l->n].text, "%s",
	    o->result == IOPD_DELIVERED ? (o->gateway_id ? o->gateway_id : "") : (o->reason ? o->reason : ""));
	l->o[l->n].retry_after = o->retry_after;
	if (++l->n >= l->want)
		ev_break(l->loop, EVBREAK_ALL);
}

static void stop_loop(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void test_send_outcomes_and_cancel(void **state)
{
	struct errs e;
	struct chan_inst *c;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct http *http = http_new(loop);
	struct outcome_log log = {0};
	struct outcome_log *tok[4] = {&log, &log, &log, &log};
	struct iopd_message m[4];
	static const char *const texts[] = {"hello", "please be transient", "permanent one", "cancel me"};
	static const char *const ids[] = {"00000000000000a1", "00000000000000a2", "00000000000000a3", "00000000000000a4"};
	ev_timer guard;
	int i;

	(void)state;
	c = configure_example("channel = { name = \"t1\"; module = \"example\"; delay = 0.05; };\n", &e);
	assert_non_null(c);
	assert_int_equal(chan_inst_start(c, loop, http_port(http)), 0);
	log.loop = loop;
	log.want = 3;
	for (i = 0; i < 4; i++) {
		memset(&m[i], 0, sizeof m[i]);
		m[i].id = ids[i];
		m[i].kind = "test";
		m[i].patient = "P1";
		m[i].channel = "t1";
		m[i].text = texts[i];
		m[i].attempt = 1;
		chan_inst_send(c, &m[i], record_done, &tok[i]);
	}
	chan_inst_cancel(c, &tok[3]);
	ev_timer_init(&guard, stop_loop, 5.0, 0.0);
	ev_timer_start(loop, &guard);
	ev_run(loop, 0);
	/* a little longer: the cancelled one must stay silent */
	ev_timer_stop(loop, &guard);
	ev_timer_set(&guard, 0.2, 0.0);
	ev_timer_start(loop, &guard);
	ev_run(loop, 0);
	ev_timer_stop(loop, &guard);

	assert_int_equal(log.n, 3);
	for (i = 0; i < 3; i++) {
		int k = (int)((struct outcome_log *const *)log.o[i].token - tok);

		assert_true(k >= 0 && k < 3);
		switch (k) {
		case 0:
			assert_int_equal(log.o[i].result, IOPD_DELIVERED);
			assert_string_equal(log.o[i].text, "example-00000000000000a1");
			break;
		case 1:
			assert_int_equal(log.o[i].result, IOPD_TRANSIENT);
			assert_true(log.o[i].retry_after > 0);
			break;
		default:
			assert_int_equal(log.o[i].result, IOPD_PERMANENT);
		}
	}
	chan_inst_free(c);
	errs_free(&e);
	http_free(http);
	ev_loop_destroy(loop);
}


/* ------------------------------------------------------------------------
 * ABI 1.1
 * --------------------------------------------------------------------- */

static struct chan_inst *configure_module(const char *dir, const char *module, const char *text,
    struct errs *e)
{
	char err[512];
	const struct plugin_mod *m;
	const config_setting_t *s = load_channel(text);
	struct iopd_channel_info info = {"t1", 15.0, 0};

	setenv("IOPD_PLUGIN_DIR", dir, 1);
	m = plugin_load(module, NULL, err, sizeof err);
	if (!m)
		fail_msg("%s", err);
	memset(e, 0, sizeof *e);
	e->main_file = conf_path;
	return chan_inst_configure(m, s, &info, tmp, e);
}

static void sync_done(void *token, const struct iopd_outcome *o)
{
	*(int *)token = (int)o->result + 1;
}

/* A plugin built against 1.0 (a five-operation table) loads, configures,
 * sends; it takes no callbacks and is never given a notice. */
static void test_abi10_loads(void **state)
{
	struct errs e;
	struct chan_inst *c;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct http *http = http_new(loop);
	struct iopd_message m = {"00000000000000c1", "session", "P1", "t1", "+15550001234", "hi",
		NULL, NULL, 0, 0, 0, 1};
	struct iopd_request rq = {"status", NULL, 0};
	struct iopd_callback cb;
	char err[512];
	int done = 0;

	(void)state;
	setenv("IOPD_PLUGIN_DIR", BADPLUGINS, 1);
	assert_non_null(plugin_load("abi10", NULL, err, sizeof err));
	assert_int_equal(plugin_desc(plugin_load("abi10", NULL, err, sizeof err))->abi_minor, 0);
	c = configure_module(BADPLUGINS, "abi10", "channel = { name = \"t1\"; module = \"abi10\"; };\n", &e);
	assert_non_null(c);
	assert_null(chan_inst_inbound(c));
	assert_int_equal(chan_inst_takes_notices(c), 0);
	assert_int_equal(chan_inst_start(c, loop, http_port(http)), 0);
	assert_int_equal(chan_inst_callback(c, &rq, &cb), -1);
	chan_inst_send(c, &m, sync_done, &done);
	assert_int_equal(done, IOPD_DELIVERED + 1);
	chan_inst_free(c);
	errs_free(&e);
	http_free(http);
	ev_loop_destroy(loop);
}

/* The sms plugin takes callbacks: Kannel's by key (GET, answers on by
 * default), Twilio's by signature (POST, answers off: Twilio's own). */
static void test_sms_inbound(void **state)
{
	struct errs e;
	struct chan_inst *c;
	const struct iopd_inbound *in;
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct http *http = http_new(loop);
	const config_setting_t *g;
	struct iopd_param p[] = {{"id", "00000000000000d4"}, {"type", "1"}};
	struct iopd_request rq = {"status", p, 2};
	struct iopd_callback cb;

	(void)state;
	write_file(tmp_path("pw"), "secret\n", 0600);
	write_file(tmp_path("key"), "K3y-abc_9\n", 0600);
	c = configure_module(PLUGINS, "sms", "channel = { name = \"t1\"; module = \"sms\"; api = \"kannel\";\n"
	    "  url = \"http://127.0.0.1:1/cgi-bin/sendsms\"; user = \"u\"; token_file = \"pw\";\n"
	    "  callback_key_file = \"key\"; };\n", &e);
	if (!c)
		fail_msg("%s", e.text.s);
	assert_non_null(in = chan_inst_inbound(c));
	assert_int_equal(in->auth, IOPD_AUTH_KEY);
	assert_string_equal(in->method, "GET");
	assert_int_equal(in->replies, 1);
	assert_int_equal(chan_inst_takes_notices(c), 1);
	g = config_lookup(&cfg, "channel");
	assert_int_equal(chan_inst_inbound_bind(c, g, "https://iopd.example.org/", &e), 0);
	assert_string_equal(chan_inst_auth_secret(c), "K3y-abc_9");
	assert_int_equal(chan_inst_start(c, loop, http_port(http)), 0);
	assert_int_equal(chan_inst_callback(c, &rq, &cb), 0);
	assert_int_equal(cb.type, IOPD_CALLBACK_RECEIPT);
	assert_int_equal(cb.receipt, IOPD_RECEIPT_DELIVERED);
	p[1].value = "x";
	assert_int_equal(chan_inst_callback(c, &rq, &cb), -1);
	chan_inst_free(c);
	errs_free(&e);
	c = configure_module(PLUGINS, "sms", "channel = { name = \"t1\"; module = \"sms\"; api = \"twilio\";\n"
	    "  account = \"AC1\"; from = \"+15550001111\"; token_file = \"pw\"; };\n", &e);
	assert_non_null(c);
	assert_non_null(in = chan_inst_inbound(c));
	assert_int_equal(in->auth, IOPD_AUTH_TWILIO);
	assert_string_equal(in->method, "POST");
	assert_int_equal(in->replies, 0);
	assert_int_equal(chan_inst_inbound_bind(c, config_lookup(&cfg, "channel"), "https://x.example", &e), 0);
	assert_string_equal(chan_inst_auth_secret(c), "secret");   /* the channel's token */
	chan_inst_free(c);
	errs_free(&e);
	/* the example plugin (1.1, no callbacks): notices yes, callbacks no */
	c = configure_example("channel = { name = \"t1\"; module = \"example\"; };\n", &e);
	assert_non_null(c);
	assert_null(chan_inst_inbound(c));
	assert_int_equal(chan_inst_takes_notices(c), 1);
	chan_inst_free(c);
	errs_free(&e);
	http_free(http);
	ev_loop_destroy(loop);
}

static void test_abi_has(void **state)
{
	(void)state;
	assert_true(IOPD_ABI_HAS(sizeof(struct iopd_host), struct iopd_host, callback_url));
	assert_false(IOPD_ABI_HAS(offsetof(struct iopd_host, callback_url), struct iopd_host, callback_url));
	assert_true(IOPD_ABI_HAS(sizeof(struct iopd_plugin_ops), struct iopd_plugin_ops, callback));
	assert_false(IOPD_ABI_HAS(offsetof(struct iopd_plugin_ops, inbound), struct iopd_plugin_ops, inbound));
	assert_int_equal(IOPD_PLUGIN_ABI_MINOR, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_example),
		cmocka_unit_test(test_load_from_build_tree),
		cmocka_unit_test(test_bad_module_names),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_abi_mismatch),
		cmocka_unit_test(test_small_ops),
		cmocka_unit_test(test_name_mismatch),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_typed_key_errors),
		cmocka_unit_test(test_configure_ok_then_free_unstarted),
		cmocka_unit_test(test_secret_read_file),
		cmocka_unit_test(test_secret_symlink),
		cmocka_unit_test(test_secret_owner),
		cmocka_unit_test(test_secret_load_file),
		cmocka_unit_test(test_secret_load_credential),
		cmocka_unit_test(test_send_outcomes_and_cancel),
		cmocka_unit_test(test_abi10_loads),
		cmocka_unit_test(test_sms_inbound),
		cmocka_unit_test(test_abi_has),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
