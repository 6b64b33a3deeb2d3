/* sendone - send test messages through one delivery plugin, outside iopd.
 *
 * The harness for plugin tests (console, sms, smtp, webhook): it runs a
 * plugin exactly as iopd does (plugin_host + one curl multi handle on a
 * libev loop) and prints what became of each message.
 *
 * USAGE
 *   sendone -c CHANNEL.conf [-n COUNT] [--to ADDR] [--text T] [--subject S]
 *           [--body B] [--id HEX16] [--expires-in SECS] [--patient P]
 *           [--kind K] [--deadline SECS] [-v]
 *
 *   CHANNEL.conf is a libconfig file holding one channel group, written as
 *   in iopd.conf:
 *
 *       channel = { name = "sms1"; module = "sms"; timeout = "5s";
 *                   url = "http://127.0.0.1:8080/send"; token_file = "sms.token"; };
 *
 *   Relative token_file paths are relative to the file's directory.  The
 *   plugin is looked up like iopd does: $IOPD_PLUGIN_DIR, the installed
 *   plugin directory, then (when run from the build tree) plugins/.libs.
 *
 *   -n COUNT        messages to send (default 1), at most `concurrency` of
 *                   them at once if the channel sets it, else all at once
 *   --to ADDR       recipient (phone or e-mail); required by modules whose
 *                   contact is phone or e-mail, ignored (NULL) otherwise
 *   --text T        text (default "iopd test message"); --subject S
 *                   (default "iopd test"), --body B (default: the text)
 *   --id HEX16      id of the first message (16 hex digits); the next ones
 *                   count up from it.  Default: random.
 *   --expires-in S  expires = now + S seconds (may be negative); default 0
 *                   (never)
 *   --patient P     patient id (default "P-sendone"); --kind K (default "test")
 *   --deadline S    give up on outcomes after S seconds (default: 10 + the
 *                   channel timeout for each wave of `concurrency` sends)
 *   -v              debug logging (stderr)
 *
 * OUTPUT (stdout), one line per outcome, in the order they arrive:
 *   <id> delivered <gateway_id>            ("-" when the plugin gave none)
 *   <id> transient <reason> retry_after=<seconds>   (-1: no advice)
 *   <id> permanent <reason>
 *   <id> opted-out <reason>
 * Reasons are printed as given, with control characters made spaces.
 * Log lines and errors go to stderr.
 *
 * EXIT STATUS
 *   0  every message got exactly one outcome, whatever it was
 *   1  configuration or plugin loading failed (FILE:LINE: ... on stderr),
 *      or the plugin's start failed
 *   2  usage
 *   3  the plugin broke its contract: a second outcome for one send, or
 *      none before the deadline */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>
#include <libconfig.h>

#include "dur.h"
#include "errs.h"
#include "http.h"
#include "log.h"
#include "plugin_host.h"
#include "util.h"

enum { SO_PENDING, SO_INFLIGHT, SO_DONE };

struct so_msg {
	char id[17];
	int state;
	struct iopd_message m;
};

struct so_opts {
	const char *conf;
	long count;
	const char *to, *text, *subject, *body, *patient, *kind;
	int have_id;
	uint64_t id;
	int have_expires;
	long long expires_in;
	double deadline;
	int verbose;
};

/* The run: the loop's callbacks reach everything through this. */
struct so_run {
	struct ev_loop *loop;
	struct chan_inst *chan;
	struct so_msg *msgs;
	long count, next, inflight, ndone;
	long concurrency;
	int broken;                    /* the plugin broke the ABI */
	ev_timer kick;                 /* sends the next wave, outside `done` */
	ev_timer deadline;
};

static void so_usage(void)
{
	fputs("usage: sendone -c CHANNEL.conf [-n COUNT] [--to ADDR] [--text T] [--subject S]\n"
	    "               [--body B] [--id HEX16] [--expires-in SECS] [--patient P] [--kind K]\n"
	    "               [--deadline SECS] [-v]\n", stderr);
	exit(2);
}

static IOPD_NORETURN void so_die(int code, const char *fmt, ...) IOPD_PRINTF(2, 3);
static void so_die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("sendone: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static long long so_number(const char *s, const char *what, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		so_die(2, "%s: bad number \"%s\"", what, s);
	return v;
}

static uint64_t so_hex16(const char *s)
{
	if (strlen(s) != 16 || strspn(s, "0123456789abcdefABCDEF") != 16)
		so_die(2, "--id: want 16 hex digits, got \"%s\"", s);
	return (uint64_t)strtoull(s, NULL, 16);
}

static void so_parse_args(int argc, char **argv, struct so_opts *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"count", required_argument, NULL, 'n'},
		{"to", required_argument, NULL, 't'},
		{"text", required_argument, NULL, 'T'},
		{"subject", required_argument, NULL, 's'},
		{"body", required_argument, NULL, 'b'},
		{"id", required_argument, NULL, 'i'},
		{"expires-in", required_argument, NULL, 'e'},
		{"patient", required_argument, NULL, 'p'},
		{"kind", required_argument, NULL, 'k'},
		{"deadline", required_argument, NULL, 'd'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int ch;

	memset(o, 0, sizeof *o);
	o->count = 1;
	o->text = "iopd test message";
	o->subject = "iopd test";
	o->patient = "P-sendone";
	o->kind = "test";
	o->deadline = -1.0;
	while ((ch = getopt_long(argc, argv, "c:n:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->conf = optarg; break;
		case 'n': o->count = (long)so_number(optarg, "-n", 1, 1000000); break;
		case 't': o->to = optarg; break;
		case 'T': o->text = optarg; break;
		case 's': o->subject = optarg; break;
		case 'b': o->body = optarg; break;
		case 'i': o->id = so_hex16(optarg); o->have_id = 1; break;
		case 'e': o->expires_in = so_number(optarg, "--expires-in", -1000000000LL, 1000000000LL);
			o->have_expires = 1; break;
		case 'p': o->patient = optarg; break;
		case 'k': o->kind = optarg; break;
		case 'd': o->deadline = (double)so_number(optarg, "--deadline", 1, 86400); break;
		case 'v': o->verbose = 1; break;
		default: so_usage();
		}
	}
	if (!o->conf || optind != argc)
		so_usage();
	if (!o->body)
		o->body = o->text;
}

/* ------------------------------------------------------------------------
 * The channel file
 * --------------------------------------------------------------------- */

static void so_read_config(config_t *cfg, const char *path)
{
	char *dup = xstrdup(path);

	config_init(cfg);
	config_set_include_dir(cfg, dirname(dup));
	free(dup);
	if (config_read_file(cfg, path) == CONFIG_TRUE)
		return;
	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
		so_die(1, "%s: cannot read: %s", path, strerror(errno));
	fprintf(stderr, "%s:%d: %s\n", config_error_file(cfg) ? config_error_file(cfg) : path,
	    config_error_line(cfg), config_error_text(cfg));
	exit(1);
}

static const char *so_string_key(struct errs *e, const config_setting_t *ch, const char *key)
{
	const config_setting_t *s = config_setting_get_member(ch, key);

	if (!s) {
		errs_set(e, ch, "channel: %s is required", key);
		return NULL;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING || !*config_setting_get_string(s)) {
		errs_set(e, s, "channel: %s must be a non-empty string", key);
		return NULL;
	}
	return config_setting_get_string(s);
}

static int so_number_key(struct errs *e, const config_setting_t *ch, const char *key, double *v)
{
	const config_setting_t *s = config_setting_get_member(ch, key);

	if (!s)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		*v = config_setting_get_float(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64)
		*v = (double)config_setting_get_int64(s);
	else {
		errs_set(e, s, "channel: %s must be a number", key);
		return -1;
	}
	return 1;
}

/* `timeout` is a duration string, as in iopd.conf ("15s", "1m"). */
static void so_timeout_key(struct errs *e, const config_setting_t *ch, double *timeout)
{
	const config_setting_t *s = config_setting_get_member(ch, "timeout");
	char err[200];
	struct dur d;

	*timeout = 15.0;
	if (!s)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		errs_set(e, s, "channel: timeout must be a string (a duration like \"15s\")");
		return;
	}
	if (dur_parse(config_setting_get_string(s), &d, err, sizeof err) < 0)
		errs_set(e, s, "channel: timeout: %s", err);
	else if (dur_approx_secs(d) <= 0)
		errs_set(e, s, "channel: timeout must be more than 0s");
	else
		*timeout = (double)dur_approx_secs(d);
}

/* The common keys, with iopd.conf's syntax (daemon/conf_channels.c
 * parses them for the daemon); `rate` is the scheduler's business and
 * ignored here. */
static void so_common_keys(struct errs *e, const config_setting_t *ch,
    struct iopd_channel_info *info, long *concurrency)
{
	const config_setting_t *s;
	double v;

	so_timeout_key(e, ch, &info->timeout);
	*concurrency = 0;
	if (so_number_key(e, ch, "concurrency", &v) > 0) {
		if (v >= 1.0 && v <= 1024.0 && v == (double)(long)v)
			*concurrency = (long)v;
		else
			errs_set(e, config_setting_get_member(ch, "concurrency"),
			    "channel: concurrency must be a whole number from 1 to 1024");
	}
	if ((s = config_setting_get_member(ch, "insecure_tls")) != NULL) {
		if (config_setting_type(s) == CONFIG_TYPE_BOOL)
			info->insecure_tls = config_setting_get_bool(s);
		else
			errs_set(e, s, "channel: insecure_tls must be true or false");
	}
}

/* ------------------------------------------------------------------------
 * Messages and outcomes
 * --------------------------------------------------------------------- */

static uint64_t so_random_id(void)
{
	uint64_t v;

	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
	return v;
}

static struct so_msg *so_make_msgs(const struct so_opts *o, const char *channel, int wants_to)
{
	struct so_msg *msgs = xcalloc((size_t)o->count, sizeof *msgs);
	uint64_t id = o->have_id ? o->id : so_random_id();
	int64_t now = (int64_t)time(NULL);
	long i;

	for (i = 0; i < o->count; i++) {
		struct iopd_message *m = &msgs[i].m;

		snprintf(msgs[i].id, sizeof msgs[i].id, "%016" PRIx64, id + (uint64_t)i);
		m->id = msgs[i].id;
		m->kind = o->kind;
		m->patient = o->patient;
		m->channel = channel;
		m->to = wants_to ? o->to : NULL;
		m->text = o->text;
		m->subject = o->subject;
		m->body = o->body;
		m->event = m->due = now;
		m->expires = o->have_expires ? now + o->expires_in : 0;
		m->attempt = 1;
	}
	return msgs;
}

/* Prints s with control characters made spaces: one outcome, one line. */
static void so_put(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

static void so_print_outcome(const char *id, const struct iopd_outcome *o)
{
	static const char *const words[] = {"delivered", "transient", "permanent", "opted-out"};
	const char *word = (unsigned)o->result < IOPD_NELEM(words) ? words[o->result] : "unknown-result";

	printf("%s %s ", id, word);
	if (o->result == IOPD_DELIVERED)
		so_put(o->gateway_id && *o->gateway_id ? o->gateway_id : "-");
	else
		so_put(o->reason && *o->reason ? o->reason : "-");
	if (o->result == IOPD_TRANSIENT)
		printf(" retry_after=%g", o->retry_after < 0 ? -1.0 : o->retry_after);
	putchar('\n');
	fflush(stdout);
}

static void so_done(void *token, const struct iopd_outcome *o);

static void so_pump(struct so_run *r)
{
	long limit = r->concurrency > 0 ? r->concurrency : r->count;

	/* A synchronous plugin calls so_done inside chan_inst_send, which
	 * lowers `inflight` again: this loop, not recursion, sends them all. */
	while (r->next < r->count && r->inflight < limit && !r->broken) {
		struct so_msg *msg = &r->msgs[r->next++];

		msg->state = SO_INFLIGHT;
		r->inflight++;
		chan_inst_send(r->chan, &msg->m, so_done, msg);
	}
}

static struct so_run *so_the_run;      /* for so_done: the ABI's token is the message */

static void so_done(void *token, const struct iopd_outcome *o)
{
	struct so_run *r = so_the_run;
	struct so_msg *msg = token;

	if (!msg || msg < r->msgs || msg >= r->msgs + r->count || msg->state != SO_INFLIGHT) {
		fprintf(stderr, "sendone: plugin reported an outcome for a send that is not running (%s)\n",
		    msg && msg >= r->msgs && msg < r->msgs + r->count ? msg->id : "unknown token");
		r->broken = 1;
		ev_break(r->loop, EVBREAK_ALL);
		return;
	}
	msg->state = SO_DONE;
	r->inflight--;
	r->ndone++;
	so_print_outcome(msg->id, o);
	if (r->ndone == r->count)
		ev_break(r->loop, EVBREAK_ALL);
	else if (r->next < r->count && !ev_is_active(&r->kick))
		ev_timer_start(r->loop, &r->kick);      /* the next send, outside this callback */
}

static void so_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	so_pump(w->data);
}

static void so_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct so_run *r = w->data;
	long i;

	(void)revents;
	for (i = 0; i < r->count; i++)
		if (r->msgs[i].state == SO_INFLIGHT) {
			fprintf(stderr, "sendone: no outcome for %s before the deadline\n", r->msgs[i].id);
			chan_inst_cancel(r->chan, &r->msgs[i]);
		} else if (r->msgs[i].state == SO_PENDING) {
			fprintf(stderr, "sendone: %s never sent (deadline)\n", r->msgs[i].id);
		}
	r->broken = 1;
	ev_break(loop, EVBREAK_ALL);
}

/* ------------------------------------------------------------------------
 * main
 * --------------------------------------------------------------------- */

static struct chan_inst *so_configure(const struct so_opts *o, config_t *cfg,
    const struct plugin_mod **modp, long *concurrency, double *timeout)
{
	struct errs e = {0};
	struct iopd_channel_info info = {0};
	const config_setting_t *ch = config_lookup(cfg, "channel");
	const char *name, *module;
	char err[1024], *dup, *dir;
	struct chan_inst *c = NULL;

	e.main_file = o->conf;
	if (!ch || !config_setting_is_group(ch))
		so_die(1, "%s: no `channel = { ... };` group", o->conf);
	name = so_string_key(&e, ch, "name");
	module = so_string_key(&e, ch, "module");
	so_common_keys(&e, ch, &info, concurrency);
	*timeout = info.timeout;
	if (module && !(*modp = plugin_load(module, NULL, err, sizeof err)))
		errs_set(&e, config_setting_get_member(ch, "module"), "channel: %s", err);
	if (e.count == 0) {
		info.name = name;
		dup = xstrdup(o->conf);
		dir = dirname(dup);
		c = chan_inst_configure(*modp, ch, &info, dir, &e);
		free(dup);
	}
	if (e.count > 0 || !c) {
		errs_print(&e, stderr);
		errs_free(&e);
		exit(1);
	}
	errs_print(&e, stderr);        /* warnings */
	errs_free(&e);
	return c;
}

static int so_contact_needs_to(const struct plugin_mod *mod, const struct so_opts *o)
{
	const struct iopd_plugin *d = plugin_desc(mod);

	if (d->contact == IOPD_CONTACT_NONE)
		return 0;
	if (!o->to)
		so_die(2, "module %s addresses %s: give --to", d->name,
		    d->contact == IOPD_CONTACT_PHONE ? "phone numbers" : "e-mail addresses");
	return 1;
}

static int so_run_loop(struct so_run *r, double deadline)
{
	ev_timer_init(&r->kick, so_kick_cb, 0.0, 0.0);
	r->kick.data = r;
	ev_timer_init(&r->deadline, so_deadline_cb, deadline, 0.0);
	r->deadline.data = r;
	ev_timer_start(r->loop, &r->deadline);
	so_pump(r);
	if (r->ndone < r->count && !r->broken)
		ev_run(r->loop, 0);
	ev_timer_stop(r->loop, &r->kick);
	ev_timer_stop(r->loop, &r->deadline);
	return r->broken ? 3 : 0;
}

int main(int argc, char **argv)
{
	struct so_opts o;
	struct so_run r;
	config_t cfg;
	const struct plugin_mod *mod = NULL;
	struct http *http;
	double deadline, timeout;
	int rc;

	so_parse_args(argc, argv, &o);
	log_init(o.verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	signal(SIGPIPE, SIG_IGN);      /* curl runs with CURLOPT_NOSIGNAL */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	so_read_config(&cfg, o.conf);

	memset(&r, 0, sizeof r);
	r.chan = so_configure(&o, &cfg, &mod, &r.concurrency, &timeout);
	r.count = o.count;
	r.msgs = so_make_msgs(&o, chan_inst_name(r.chan), so_contact_needs_to(mod, &o));
	r.loop = ev_loop_new(EVFLAG_AUTO);
	if (!r.loop || !(http = http_new(r.loop)))
		so_die(1, "cannot set up the event loop");
	so_the_run = &r;
	if (chan_inst_start(r.chan, r.loop, http_port(http)) < 0)
		so_die(1, "channel %s: the plugin's start failed (see its log above)", chan_inst_name(r.chan));

	deadline = o.deadline;
	if (deadline < 0) {
		long wave = r.concurrency > 0 ? r.concurrency : r.count;
		deadline = 10.0 + timeout * (double)((r.count + wave - 1) / wave);
	}
	rc = so_run_loop(&r, deadline);

	chan_inst_free(r.chan);
	http_free(http);
	ev_loop_destroy(r.loop);
	free(r.msgs);
	config_destroy(&cfg);
	plugin_unload_all();
	curl_global_cleanup();
	return rc;
}
