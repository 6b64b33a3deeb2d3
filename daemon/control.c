/* control.c - the control socket that iopctl talks to.
 *
 * Protocol, version 1 (docs/control-protocol.md): the client sends one
 * line
 *
 *     IOPD/1 FORMAT COMMAND [ARG ...]\n
 *
 * FORMAT is "text" or "json"; arguments are percent-encoded, separated by
 * single spaces.  The daemon answers "OK\n" or "ERR\n", then the body
 * (human text, or JSON), then closes the connection.  Every connection is
 * non-blocking and bounded in size and time, so a stuck client cannot
 * stall the loop.  Answers that need the ledger or a walk of the calendar
 * (status, agenda, history) are made on a thread (control_job.c) and
 * streamed through as the client reads them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "civil.h"
#include "consent.h"
#include "control_int.h"
#include "control_job.h"
#include "ctl_proto.h"
#include "daemon_int.h"
#include "ident.h"
#include "log.h"
#include "metrics.h"
#include "plugin_host.h"
#include "safetext.h"
#include "suggest.h"
#include "timefmt.h"

#define CTL_MAX_REQUEST 8192
#define CTL_IDLE 30.0                  /* seconds a client may take */
#define CTL_ACCEPT_PAUSE 1.0           /* seconds without accept() when out of descriptors */
/* The longest `agenda` window one request may ask for: a quarter (a
 * 12-week program and then some).  Its answer streams, so the bound is not
 * about memory but about one request keeping a thread and the ledger busy
 * for minutes; longer views: several requests, or `iopd agenda` offline. */
#define CTL_AGENDA_MAX_DAYS 92
#define CTL_CHUNK 65536                /* bytes passed from a job to its client at a time */
#define CONN_MAGIC 0x636f6e6eu

/* ---- answers -------------------------------------------------------- */

static void conn_free(struct conn *c);
static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents);

void ctl_answer(struct conn *c, bool ok)
{
	struct sbuf b = {0};

	sbuf_adds(&b, ok ? "OK\n" : "ERR\n");
	sbuf_add(&b, c->out.s ? c->out.s : "", c->out.len);
	sbuf_free(&c->out);
	c->out = b;
	c->answered = true;
	c->waiting = false;
	if (c->dead) {                     /* the daemon stopped listening meanwhile */
		conn_free(c);
		return;
	}
	ev_io_stop(c->dm->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_start(c->dm->loop, &c->io);
}

void ctl_fail(struct conn *c, const char *fmt, ...)
{
	struct sbuf m = {0};
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(&m, fmt, ap);
	va_end(ap);
	sbuf_reset(&c->out);
	if (c->json) {
		sbuf_adds(&c->out, "{\"ok\":false,\"error\":");
		sbuf_json_str(&c->out, m.s ? m.s : "");
		sbuf_adds(&c->out, "}\n");
	} else {
		/* iopctl prints it to a terminal: arguments echoed in it are escaped */
		sbuf_adds(&c->out, "iopd: ");
		safe_escape_lines(&c->out, m.s ? m.s : "", m.len);
		sbuf_addc(&c->out, '\n');
	}
	sbuf_free(&m);
	ctl_answer(c, false);
}

void ctl_ok(struct conn *c, const char *text)
{
	if (c->json) {
		sbuf_adds(&c->out, "{\"ok\":true,\"message\":");
		sbuf_json_str(&c->out, text);
		sbuf_adds(&c->out, "}\n");
	} else {
		sbuf_printf(&c->out, "%s\n", text);
	}
	ctl_answer(c, true);
}

/* ---- answers made by a job --------------------------------------------- */

static void job_read_cb(struct ev_loop *loop, ev_io *w, int revents);

/* The answer comes from job j: the client gets its bytes as they come. */
static void stream(struct conn *c, struct cjob *j)
{
	c->job = j;
	c->answered = true;
	sbuf_reset(&c->out);
	c->sent = 0;
	ev_io_stop(c->dm->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_init(&c->job_io, job_read_cb, cjob_fd(j), EV_READ);
	c->job_io.data = c;
	ev_io_start(c->dm->loop, &c->job_io);
}

void ctl_start_job(struct conn *c, struct cjob_req *req)
{
	char err[256];
	struct cjob *j;

	req->json = c->json;
	if (!(j = cjob_start(c->dm->control->jobs, c->dm->snap, c->dm->ledger, req, err, sizeof err)))
		ctl_fail(c, "%s", err);
	else
		stream(c, j);
}

/* A prep job's answer is for the loop: gathered, then handed to `then`. */
static void job_collect(struct conn *c)
{
	char buf[4096];
	ssize_t n = read(cjob_fd(c->job), buf, sizeof buf);
	ctl_then_fn then = c->then;
	char *body;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && c->got.len < CTL_MAX_REQUEST * 8) {
		sbuf_add(&c->got, buf, (size_t)n);
		return;
	}
	ev_io_stop(c->dm->loop, &c->job_io);
	cjob_release(c->job);
	c->job = NULL;
	c->then = NULL;
	sbuf_addc(&c->got, '\0');
	body = c->got.s;
	if (strncmp(body, "OK\n", 3) != 0) {
		sbuf_reset(&c->out);               /* the job's error, as it is */
		sbuf_adds(&c->out, strncmp(body, "ERR\n", 4) == 0 ? body + 4 : "iopd: the job failed\n");
		ctl_answer(c, false);
	} else {
		then(c, body + 3);
	}
}

void ctl_prep(struct conn *c, struct cjob_req *req, ctl_then_fn then)
{
	char err[256];
	struct cjob *j;

	req->kind = CJOB_PREP;
	req->json = false;
	req->uid = c->uid;
	if (!(j = cjob_start(c->dm->control->jobs, c->dm->snap, c->dm->ledger, req, err, sizeof err))) {
		ctl_fail(c, "%s", err);
		return;
	}
	c->job = j;                            /* the idle timer waits for it */
	c->then = then;
	sbuf_reset(&c->got);
	ev_io_init(&c->job_io, job_read_cb, cjob_fd(j), EV_READ);
	c->job_io.data = c;
	ev_io_start(c->dm->loop, &c->job_io);
}

/* Bytes from the job: to the client, and nothing more is read from the job
 * until the client took them (the pipe fills, the job waits). */
static void job_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	ssize_t n;

	if (c->then) {
		job_collect(c);
		return;
	}
	sbuf_reserve(&c->out, CTL_CHUNK);
	n = read(cjob_fd(c->job), c->out.s, CTL_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {                      /* the whole answer went out */
		conn_free(c);
		return;
	}
	c->out.len = (size_t)n;
	c->sent = 0;
	ev_io_stop(loop, w);
	ev_io_start(loop, &c->io);
}

/* ---- status ---------------------------------------------------------- */

/* Local midnight of today in daemon.timezone. */
static int64_t today_start(const struct daemon *dm)
{
	int64_t now = (int64_t)ev_now(dm->loop);

	return tz_from_wall(dm->snap->tz, wall_make(wall_date(tz_to_wall(dm->snap->tz, now)), 0));
}

static void duration_text(char *buf, size_t len, double secs)
{
	long s = (long)secs;

	if (s >= 86400)
		snprintf(buf, len, "%ldd %ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%ldh %ldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%ldm %lds", s / 60, s % 60);
}

struct inst_list {
	struct sbuf *o;
	int n;
};

static void inst_json(const struct ledger_instance *i, void *arg)
{
	struct inst_list *li = arg;
	struct sbuf *o = li->o;
	char t[FMT_UTC_LEN + 1];

	sbuf_adds(o, li->n++ ? "," : "");
	sbuf_adds(o, "{\"name\":");
	sbuf_json_str(o, i->name);
	sbuf_adds(o, ",\"host\":");
	sbuf_json_str(o, i->host ? i->host : "");
	sbuf_printf(o, ",\"heartbeat_age\":%.1f,\"fingerprint\":", i->heartbeat_age);
	sbuf_json_str(o, i->fingerprint ? i->fingerprint : "");
	fmt_utc(i->started, t);
	sbuf_printf(o, ",\"in_flight\":%ld,\"started\":\"%s\",\"live\":%s,\"stopped\":%s,"
	    "\"self\":%s}", i->inflight, t, i->live ? "true" : "false", i->stopped ? "true" : "false",
	    i->self ? "true" : "false");
}

/* The ledger's part of status: which, where, how big, why it cannot be
 * written, and the instances sharing it. */
static void ledger_json(struct daemon *dm, const struct dispatch_stats *st, struct sbuf *o)
{
	struct ledger *l = dm->ledger;
	const char *down = daemon_ledger_error(dm, st);
	char where[512];

	l->ops->describe(l, where, sizeof where);
	sbuf_printf(o, "\"ledger\":{\"backend\":\"%s\",\"path\":", l->ops->name);
	sbuf_json_str(o, where);
	sbuf_printf(o, ",\"bytes\":%lld,\"error\":", (long long)l->ops->size(l));
	if (down)
		sbuf_json_str(o, down);
	else
		sbuf_adds(o, "null");
	if (l->ops->instances) {
		struct inst_list li = {o, 0};
		sbuf_adds(o, ",\"instance\":");
		sbuf_json_str(o, dm->snap->instance);
		sbuf_adds(o, ",\"fingerprint\":");
		sbuf_json_str(o, dm->snap->fingerprint ? dm->snap->fingerprint : "");
		sbuf_adds(o, ",\"instances\":[");
		l->ops->instances(l, inst_json, &li);
		sbuf_adds(o, "]");
	}
	sbuf_adds(o, "}");
}

static void inst_text(const struct ledger_instance *i, void *arg)
{
	struct sbuf *o = arg;
	char age[32];

	duration_text(age, sizeof age, i->heartbeat_age);
	sbuf_printf(o, "  %-20s %-16s %-10s %9ld  %s%s\n", i->name,
	    i->fingerprint && *i->fingerprint ? i->fingerprint : "-", age, i->inflight,
	    i->stopped ? "stopped" : i->live ? "live" : "LEASE EXPIRED", i->self ? " (this one)" : "");
}

static void ledger_text(struct daemon *dm, const struct dispatch_stats *st, struct sbuf *o)
{
	struct ledger *l = dm->ledger;
	const char *down = daemon_ledger_error(dm, st);
	char where[512];

	l->ops->describe(l, where, sizeof where);
	sbuf_printf(o, "ledger:    %s (%lld bytes)%s%s\n", where, (long long)l->ops->size(l),
	    down ? ": CANNOT WRITE: " : "", down ? down : "");
	if (!l->ops->instances)
		return;
	sbuf_printf(o, "instances sharing the ledger (heartbeat: time since the last one):\n"
	    "  %-20s %-16s %-10s %9s  %s\n", "NAME", "FINGERPRINT", "HEARTBEAT", "IN FLIGHT", "STATE");
	l->ops->instances(l, inst_text, o);
}

/* The last error the channel's module logged (e.g. a relay without
 * STARTTLS), as {"at":...,"message":...}, or null. */
static char *problem_json(const struct channel *ch)
{
	double at;
	const char *p = ch->inst ? chan_inst_problem(ch->inst, &at) : NULL;
	char t[FMT_UTC_LEN + 1];
	struct sbuf o = {0};

	if (!p)
		return xstrdup("null");
	fmt_utc((int64_t)at, t);
	sbuf_printf(&o, "{\"at\":\"%s\",\"message\":", t);
	sbuf_json_str(&o, p);
	sbuf_addc(&o, '}');
	return o.s;
}

/* Everything but the day's counts per channel (the job adds them, from
 * the ledger): up to the "channels" array; each channel's problem, which
 * only the loop may read, goes with the request. */
static void status_json(struct conn *c, const struct dispatch_stats *st, struct cjob_req *req)
{
	struct daemon *dm = c->dm;
	const struct snapshot *s = dm->snap;
	struct sbuf *o = &req->head;
	char t[FMT_UTC_LEN + 1];
	int64_t nd = sched_next_due(dm->sched);
	uint16_t i;

	sbuf_printf(o, "{\"ok\":true,\"version\":\"%s\",\"pid\":%ld,\"uptime\":%.0f,\"config\":",
	    PACKAGE_VERSION, (long)getpid(), ev_now(dm->loop) - (double)dm->started);
	sbuf_json_str(o, dm->config);
	fmt_utc(s->loaded_at, t);
	sbuf_printf(o, ",\"loaded_at\":\"%s\",\"reloads\":%ld,\"reload_failures\":%ld,"
	    "\"programs\":%u,\"patients\":%u,\"scheduled_series\":%zu,\"next_due\":", t, dm->reloads,
	    dm->reload_failures, s->nprograms, s->npatients, dm->sched->heap.n);
	if (nd == CAL_END)
		sbuf_adds(o, "null");
	else
		sbuf_printf(o, "\"%s\"", (fmt_utc(nd, t), t));
	sbuf_printf(o, ",\"queued\":%ld,\"in_flight\":%ld,\"waiting_retry\":%ld,"
	    "\"loop_stall_max_seconds\":%.6f,\"loop_busy_cpu_max_seconds\":%.6f,",
	    st->queued, st->inflight, st->waiting_retry, dm->loop_stall_max, dm->loop_busy_max);
	ledger_json(dm, st, o);
	/* the last error that is not the ledger's, e.g. a failed reload, as
	 * the text form shows it ("last error:") */
	sbuf_adds(o, ",\"last_error\":");
	if (dm->last_error[0])
		sbuf_json_str(o, dm->last_error);
	else
		sbuf_adds(o, "null");
	sbuf_adds(o, ",\"channels\":[");
	req->problems = xcalloc(s->nchannels ? s->nchannels : 1, sizeof *req->problems);
	req->nproblems = s->nchannels;
	for (i = 0; i < s->nchannels; i++)
		req->problems[i] = problem_json(&s->channels[i]);
}

static void status_text(struct conn *c, const struct dispatch_stats *st, struct sbuf *o)
{
	struct daemon *dm = c->dm;
	const struct snapshot *s = dm->snap;
	char t[FMT_UTC_LEN + 1], up[32], in[32];
	int64_t nd = sched_next_due(dm->sched);
	uint16_t i;

	duration_text(up, sizeof up, ev_now(dm->loop) - (double)dm->started);
	fmt_utc(s->loaded_at, t);
	sbuf_printf(o, "iopd %s, pid %ld, up %s\n", PACKAGE_VERSION, (long)getpid(), up);
	sbuf_printf(o, "config:    %s (loaded %s; %ld reloads, %ld failed)\n", dm->config, t,
	    dm->reloads, dm->reload_failures);
	sbuf_printf(o, "calendar:  %u programs, %u patients, %u channels, %zu series scheduled\n",
	    s->nprograms, s->npatients, s->nchannels, dm->sched->heap.n);
	if (nd == CAL_END) {
		sbuf_adds(o, "next due:  nothing scheduled\n");
	} else {
		fmt_utc(nd, t);
		duration_text(in, sizeof in, fmax(0, (double)nd - ev_now(dm->loop)));
		sbuf_printf(o, "next due:  %s (in %s)\n", t, in);
	}
	sbuf_printf(o, "delivery:  %ld queued, %ld in flight, %ld waiting to retry\n", st->queued,
	    st->inflight, st->waiting_retry);
	ledger_text(dm, st, o);
	sbuf_printf(o, "loop:      held %.1f ms at most (%.1f ms of CPU in one iteration)\n",
	    dm->loop_stall_max * 1000, dm->loop_busy_max * 1000);
	if (dm->last_error[0])
		sbuf_printf(o, "last error: %s\n", dm->last_error);
	for (i = 0; i < s->nchannels; i++) {
		double at;
		const char *p = s->channels[i].inst ? chan_inst_problem(s->channels[i].inst, &at) : NULL;
		if (p)
			sbuf_printf(o, "channel %s: error at %s: %s\n", s->channels[i].name,
			    (fmt_utc((int64_t)at, t), t), p);
	}
}

/* What the loop knows goes into the answer now; the day's counts come
 * from the ledger, on the job's thread (a busy day is many rows). */
static void cmd_status(struct conn *c, int argc, char **argv)
{
	struct cjob_req req;
	struct dispatch_stats st;

	memset(&req, 0, sizeof req);
	req.kind = CJOB_STATUS;
	req.since = today_start(c->dm);
	dispatch_stats(c->dm->dispatch, &st);
	if (c->json)
		status_json(c, &st, &req);
	else
		status_text(c, &st, &req.head);
	ctl_start_job(c, &req);
}

/* ---- agenda: the calendar with what the ledger knows ------------------ */

/* "from=T" "to=T" "patient=ID": the window defaults to the next 24 hours. */
static void cmd_agenda(struct conn *c, int argc, char **argv)
{
	struct daemon *dm = c->dm;
	struct cjob_req req;
	int i;

	memset(&req, 0, sizeof req);
	req.kind = CJOB_AGENDA;
	req.from = (int64_t)ev_now(dm->loop);
	req.to = req.from + 86400;
	req.patient = -1;
	for (i = 1; i < argc; i++) {
		int64_t *t = strncmp(argv[i], "from=", 5) == 0 ? &req.from :
		    strncmp(argv[i], "to=", 3) == 0 ? &req.to : NULL;
		if (t && parse_instant(strchr(argv[i], '=') + 1, dm->snap->tz, t) == 0)
			continue;
		if (strncmp(argv[i], "patient=", 8) == 0 &&
		    (req.patient = snapshot_patient(dm->snap, argv[i] + 8)) >= 0)
			continue;
		ctl_fail(c, "agenda: bad argument \"%s\" (from=T, to=T, patient=ID)", argv[i]);
		return;
	}
	if (req.to - req.from > (int64_t)CTL_AGENDA_MAX_DAYS * 86400) {
		ctl_fail(c, "agenda: the window is %.1f days long; one request may ask for at most %d days: "
		    "ask for several windows, or run `iopd agenda -c FILE` for a longer one (it reads "
		    "the ledger beside the daemon)", (double)(req.to - req.from) / 86400,
		    CTL_AGENDA_MAX_DAYS);
		return;
	}
	ctl_start_job(c, &req);
}

/* ---- history ------------------------------------------------------------- */

static void cmd_history(struct conn *c, int argc, char **argv)
{
	struct cjob_req req;

	if (argc != 2) {
		ctl_fail(c, "usage: history PATIENT");
		return;
	}
	memset(&req, 0, sizeof req);
	req.kind = CJOB_HISTORY;
	req.patient_id = xstrdup(argv[1]);
	ctl_start_job(c, &req);
}

/* ---- what the commands that change something share --------------------- */

const char *ctl_option(struct conn *c, int argc, char **argv, int from, const char *key,
    const char *const *keys, int *bad)
{
	const char *v = NULL;
	size_t n = strlen(key);
	const char *const *k;
	int i;

	for (i = from; i < argc && !*bad; i++) {
		const char *eq = strchr(argv[i], '=');
		for (k = keys; eq && *k; k++)
			if ((size_t)(eq - argv[i]) == strlen(*k) && strncmp(argv[i], *k, strlen(*k)) == 0)
				break;
		if (!eq || !*k) {
			ctl_fail(c, "%s: unexpected argument \"%s\"", argv[0], argv[i]);
			*bad = -1;
		} else if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=') {
			v = argv[i] + n + 1;
		}
	}
	return *bad ? NULL : v;
}

const char *ctl_body_value(const char *body, const char *key, char *out, size_t len)
{
	size_t n = strlen(key);
	const char *line, *nl;

	for (line = body; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (strncmp(line, key, n) == 0 && line[n] == ' ') {
			snprintf(out, len, "%.*s", (int)(nl ? (size_t)(nl - line) - n - 1 : strlen(line + n + 1)),
			    line + n + 1);
			return out;
		}
	}
	return NULL;
}

uint64_t ctl_parse_id(const char *s)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < IDENT_HEX_LEN; i++) {
		char ch = s[i];
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
		    ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
		if (d < 0)
			return 0;
		v = v << 4 | (uint64_t)d;
	}
	return s[IDENT_HEX_LEN] ? 0 : v;
}

/* ---- reload ---------------------------------------------------------- */

static void reload_done(int ok, const char *errors, void *arg)
{
	struct conn *c = arg;

	if (ok)
		ctl_ok(c, "reloaded");
	else
		ctl_fail(c, "reload failed; the previous configuration keeps running:\n%s", errors ? errors : "");
}

static void cmd_reload(struct conn *c, int argc, char **argv)
{
	c->waiting = true;
	daemon_reload(c->dm, reload_done, c);
}

/* ---- send-test ------------------------------------------------------------ */

static void test_done(void *token, const struct iopd_outcome *o)
{
	struct conn *c = token;
	static const char *const names[] = {"delivered", "transient failure", "permanent failure", "opted out"};
	char msg[512];

	snprintf(msg, sizeof msg, "test message %s on %s: %s%s%s", c->test_id, c->test_msg.channel,
	    names[o->result], o->result == IOPD_DELIVERED ? ", gateway id " : ": ",
	    (o->result == IOPD_DELIVERED ? o->gateway_id : o->reason) ? (o->result == IOPD_DELIVERED ?
	    o->gateway_id : o->reason) : "-");
	c->test_inst = NULL;
	if (o->result == IOPD_DELIVERED)
		ctl_ok(c, msg);
	else
		ctl_fail(c, "%s", msg);
}

static void cmd_send_test(struct conn *c, int argc, char **argv)
{
	struct daemon *dm = c->dm;
	int ch;
	uint64_t id;
	char when[FMT_UTC_LEN + 1];

	if (argc != 3) {
		ctl_fail(c, "usage: send-test CHANNEL ADDRESS");
		return;
	}
	if ((ch = snapshot_channel(dm->snap, argv[1])) < 0 || !dm->snap->channels[ch].inst) {
		ctl_fail(c, "no channel \"%s\" in the current configuration", argv[1]);
		return;
	}
	id = ident_reminder(ident_series("", "test", argv[1], "", argv[2]), (int64_t)(ev_now(dm->loop) * 1000));
	ident_hex(id, c->test_id);
	fmt_utc((int64_t)ev_now(dm->loop), when);
	c->test_snap = snapshot_ref(dm->snap);
	c->test_inst = dm->snap->channels[ch].inst;
	c->test_text = xasprintf("iopd test message (%s)", when);
	c->test_to = xstrdup(argv[2]);
	memset(&c->test_msg, 0, sizeof c->test_msg);
	c->test_msg.id = c->test_id;
	c->test_msg.kind = "test";
	c->test_msg.patient = "test";
	c->test_msg.channel = dm->snap->channels[ch].name;
	c->test_msg.to = c->test_to;
	c->test_msg.text = c->test_msg.body = c->test_text;
	c->test_msg.subject = "iopd test message";
	c->test_msg.event = c->test_msg.due = (int64_t)ev_now(dm->loop);
	c->test_msg.attempt = 1;
	c->waiting = true;
	log_notice("[%s] send-test %s requested over the control socket", argv[1], c->test_id);
	chan_inst_send(c->test_inst, &c->test_msg, test_done, c);
}

/* ---- dispatch of commands ------------------------------------------------ */

static void cmd_metrics(struct conn *c, int argc, char **argv)
{
	metrics_text(c->dm, &c->out);
	ctl_answer(c, true);
}

static const struct {
	const char *name;
	void (*fn)(struct conn *c, int argc, char **argv);
} commands[] = {
	{"status", cmd_status}, {"agenda", cmd_agenda}, {"history", cmd_history},
	{"pause", ctl_cmd_override}, {"resume", ctl_cmd_override}, {"opt-out", ctl_cmd_override},
	{"opt-in", ctl_cmd_override}, {"retry", ctl_cmd_retry}, {"cancel", ctl_cmd_cancel},
	{"backup", ctl_cmd_backup}, {"reload", cmd_reload}, {"send-test", cmd_send_test},
	{"metrics", cmd_metrics},
};

/* `unknown command "stauts" (did you mean status?)`, as iopctl says it. */
static void unknown_command(struct conn *c, const char *name)
{
	const char *names[IOPD_NELEM(commands)], *near;
	size_t i;

	for (i = 0; i < IOPD_NELEM(commands); i++)
		names[i] = commands[i].name;
	near = suggest_nearest(name, names, IOPD_NELEM(commands));
	ctl_fail(c, "unknown command \"%s\"%s%s%s (status, agenda, history, pause, resume, opt-out, "
	    "opt-in, retry, cancel, backup, send-test, reload, metrics)", name, near ? " (did you mean " : "", near ? near : "",
	    near ? "?)" : "");
}

static void handle(struct conn *c, char *line)
{
	struct ctl_req r;
	enum ctl_req_rc rc = ctl_parse_request(line, &r);
	size_t i;

	c->json = r.json;
	if (rc == CTL_REQ_NOT_IOPD) {
		sbuf_adds(&c->out, "iopd: this is iopd's control socket, protocol IOPD/1 "
		    "(see docs/control-protocol.md)\n");
		ctl_answer(c, false);
		return;
	}
	if (rc == CTL_REQ_TOO_MANY) {
		ctl_fail(c, "too many arguments (at most %d)", CTL_MAX_ARGS);
		return;
	}
	if (rc == CTL_REQ_BAD_ESCAPE) {
		ctl_fail(c, "bad percent-encoding in \"%s\"", r.bad);
		return;
	}
	if (c->dm->stopping) {
		ctl_fail(c, "iopd is stopping");
		return;
	}
	c->argc = r.argc;                  /* they point into c->in: kept for `then` */
	for (i = 0; i < (size_t)r.argc && i < IOPD_NELEM(c->argv); i++)
		c->argv[i] = r.argv[i];
	for (i = 0; i < IOPD_NELEM(commands); i++)
		if (strcmp(commands[i].name, r.argv[0]) == 0) {
			commands[i].fn(c, r.argc, r.argv);
			return;
		}
	unknown_command(c, r.argv[0]);
}

/* ---- connections ------------------------------------------------------ */

static void conn_unlink(struct conn *c)
{
	struct control *ctl = c->dm->control;

	if (!c->linked)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->linked = false;
}

/* Closes the connection; its memory waits for a pending answer (a reload
 * or a test send), which then finds it dead and frees it. */
static void conn_free(struct conn *c)
{
	conn_unlink(c);
	if (c->job) {
		ev_io_stop(c->dm->loop, &c->job_io);
		cjob_release(c->job);          /* a job still writing stops */
		c->job = NULL;
	}
	if (c->fd >= 0) {
		ev_io_stop(c->dm->loop, &c->io);
		ev_timer_stop(c->dm->loop, &c->idle);
		close(c->fd);
		c->fd = -1;
	}
	if (c->waiting) {
		c->dead = true;
		return;
	}
	snapshot_unref(c->test_snap);
	free(c->test_text);
	free(c->test_to);
	free(c->pending_msg);
	sbuf_free(&c->got);
	sbuf_free(&c->in);
	sbuf_free(&c->out);
	c->magic = 0;
	free(c);
}

static void conn_read(struct conn *c)
{
	char buf[4096], *nl;
	ssize_t n = read(c->fd, buf, sizeof buf);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(c);
		return;
	}
	sbuf_add(&c->in, buf, (size_t)n);
	if ((nl = memchr(c->in.s, '\n', c->in.len))) {
		*nl = '\0';
		ev_io_stop(c->dm->loop, &c->io);
		handle(c, c->in.s);
	} else if (c->in.len > CTL_MAX_REQUEST) {
		sbuf_adds(&c->out, "iopd: request too long\n");
		ctl_answer(c, false);
	}
}

/* The idle timer is restarted by every write that gets through: a client
 * reading a long answer is not idle, however long it takes. */
static void conn_write(struct conn *c)
{
	ssize_t n = write(c->fd, c->out.s + c->sent, c->out.len - c->sent);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		conn_free(c);
		return;
	}
	ev_timer_again(c->dm->loop, &c->idle);
	if ((c->sent += (size_t)n) < c->out.len)
		return;
	if (!c->job) {
		conn_free(c);
		return;
	}
	ev_io_stop(c->dm->loop, &c->io);       /* all passed on: the job's next bytes */
	ev_io_start(c->dm->loop, &c->job_io);
}

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;

	if (c->magic != CONN_MAGIC)
		abort();
	if (c->answered)
		conn_write(c);
	else
		conn_read(c);
}

static void conn_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;

	/* a reload or a test send takes its time; so may a job before its
	 * next bytes (while it has none, the client is not the one idle) */
	if (c->waiting || (c->job && ev_is_active(&c->job_io))) {
		ev_timer_again(loop, w);
		return;
	}
	conn_free(c);
}

/* accept() fails for want of a descriptor (EMFILE, ENFILE) or of memory
 * (ENOBUFS, ENOMEM): the client stays in the backlog and the socket stays
 * readable, so the watcher would fire again at once, for ever, at 100 %
 * CPU.  It is stopped for CTL_ACCEPT_PAUSE instead; the connections that
 * end meanwhile give their descriptors back. */
static void accept_pause(struct daemon *dm, int err)
{
	struct control *ctl = dm->control;

	if (!ctl->accept_failing)
		log_err("control socket: cannot accept a connection (%s): pausing for %.0f s at a time "
		    "until it can", strerror(err), CTL_ACCEPT_PAUSE);
	ctl->accept_failing = true;
	ev_io_stop(dm->loop, &ctl->io);
	ev_timer_set(&ctl->accept_again, CTL_ACCEPT_PAUSE, 0.);
	ev_timer_start(dm->loop, &ctl->accept_again);
}

static void accept_again_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *dm = w->data;

	ev_io_start(loop, &dm->control->io);
}

/* Who is at the other end: the author of the overrides and cancels that
 * connection makes (the kernel's word, not the client's). */
static long peer_uid(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 || len != sizeof cr)
		return -1;
	return (long)cr.uid;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *dm = w->data;
	struct control *ctl = dm->control;
	int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct conn *c;

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			accept_pause(dm, errno);
		return;
	}
	if (ctl->accept_failing)
		log_notice("control socket: accepting connections again");
	ctl->accept_failing = false;
	c = xcalloc(1, sizeof *c);
	c->magic = CONN_MAGIC;
	c->dm = dm;
	c->fd = fd;
	c->uid = peer_uid(fd);
	ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
	ev_timer_init(&c->idle, conn_idle_cb, CTL_IDLE, CTL_IDLE);
	c->io.data = c->idle.data = c;
	ev_io_start(loop, &c->io);
	ev_timer_start(loop, &c->idle);
	c->next = ctl->conns;
	if (ctl->conns)
		ctl->conns->prev = c;
	ctl->conns = c;
	c->linked = true;
}

/* ---- the listening socket ------------------------------------------------ */

/* A socket file left by a previous run is removed, unless a daemon still
 * answers on it.  Anything else at that path is left alone and refused:
 * a control_socket naming the ledger must not delete it (iopd -t says the
 * same; this catches a file put there since). */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket: iopd will not delete it; name "
		    "another daemon.control_socket", path);
		return -1;
	}
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = fd >= 0 ? connect(fd, (struct sockaddr *)&sa, sizeof sa) : -1;
	if (fd >= 0)
		close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "%s: another iopd is already running there", path);
		return -1;
	}
	unlink(path);
	return 0;
}

int control_start(struct daemon *dm, char *err, size_t errlen)
{
	const char *path = dm->snap->control_socket;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct control *ctl;
	int fd;

	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "control_socket path too long: %s", path);
		return -1;
	}
	if (clear_stale(path, err, errlen))
		return -1;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 16) < 0) {
		snprintf(err, errlen, "%s: %s (is its folder there and writable?)", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ctl = xcalloc(1, sizeof *ctl);
	ctl->fd = fd;
	ctl->path = xstrdup(path);
	ctl->jobs = cjobs_new(dm->loop);
	ev_io_init(&ctl->io, accept_cb, fd, EV_READ);
	ctl->io.data = dm;
	ev_io_start(dm->loop, &ctl->io);
	ev_timer_init(&ctl->accept_again, accept_again_cb, 0., 0.);
	ctl->accept_again.data = dm;
	dm->control = ctl;
	return 0;
}

void control_stop(struct daemon *dm)
{
	struct control *ctl = dm->control;

	if (!ctl)
		return;
	ev_io_stop(dm->loop, &ctl->io);
	ev_timer_stop(dm->loop, &ctl->accept_again);
	close(ctl->fd);
	unlink(ctl->path);
	while (ctl->conns) {
		struct conn *c = ctl->conns;
		if (c->waiting && c->test_inst) {
			chan_inst_cancel(c->test_inst, c);   /* its done will not run */
			c->waiting = false;
		}
		if (c->waiting && c->ovr_pending) {
			consent_cancel(dm->consent, c);
			c->waiting = false;
		}
		if (c->waiting && (c->part.joined || c->watching)) {   /* neither will these */
			dispatch_leave(dm->dispatch, &c->part);
			dispatch_unwatch(dm->dispatch, c);
			c->waiting = false;
		}
		conn_free(c);
	}
	cjobs_free(ctl->jobs);                 /* waits for their threads: they stop at once */
	free(ctl->path);
	free(ctl);
	dm->control = NULL;
}
