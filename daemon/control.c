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
 * stall the loop. */
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

#include "agenda.h"
#include "civil.h"
#include "ctl_proto.h"
#include "daemon_int.h"
#include "ident.h"
#include "log.h"
#include "metrics.h"
#include "plugin_host.h"
#include "timefmt.h"

#define CTL_MAX_REQUEST 8192
#define CTL_IDLE 30.0                  /* seconds a client may take */
#define CONN_MAGIC 0x636f6e6eu

struct conn {
	uint32_t magic;
	struct daemon *dm;
	int fd;
	ev_io io;
	ev_timer idle;
	struct sbuf in, out;
	size_t sent;
	bool json, answered, waiting, dead, linked;
	struct conn *prev, *next;
	/* send-test in flight */
	struct snapshot *test_snap;
	struct chan_inst *test_inst;
	struct iopd_message test_msg;
	char test_id[IDENT_HEX_LEN + 1];
	char *test_text, *test_to;
};

struct control {
	int fd;
	char *path;
	ev_io io;
	struct conn *conns;
};

/* ---- answers -------------------------------------------------------- */

static void conn_free(struct conn *c);
static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents);

static void answer(struct conn *c, bool ok)
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

static void fail(struct conn *c, const char *fmt, ...) IOPD_PRINTF(2, 3);

static void fail(struct conn *c, const char *fmt, ...)
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
		sbuf_printf(&c->out, "iopd: %s\n", m.s ? m.s : "");
	}
	sbuf_free(&m);
	answer(c, false);
}

static void ok_message(struct conn *c, const char *text)
{
	if (c->json) {
		sbuf_adds(&c->out, "{\"ok\":true,\"message\":");
		sbuf_json_str(&c->out, text);
		sbuf_adds(&c->out, "}\n");
	} else {
		sbuf_printf(&c->out, "%s\n", text);
	}
	answer(c, true);
}

/* ---- status ---------------------------------------------------------- */

struct day_counts {
	const struct snapshot *s;
	long n[SNAP_MAX_CHANNELS][REC_COUNT];
};

static void count_cb(const char *channel, enum rec_status st, long n, void *arg)
{
	struct day_counts *dc = arg;
	int ch = snapshot_channel(dc->s, channel);

	if (ch >= 0 && st >= 0)
		dc->n[ch][st] += n;
}

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

static void status_json(struct conn *c, const struct day_counts *dc, const struct dispatch_stats *st)
{
	struct daemon *dm = c->dm;
	const struct snapshot *s = dm->snap;
	struct sbuf *o = &c->out;
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
	sbuf_printf(o, ",\"queued\":%ld,\"in_flight\":%ld,\"waiting_retry\":%ld,\"ledger\":{\"path\":",
	    st->queued, st->inflight, st->waiting_retry);
	sbuf_printf(o, "\"%s/ledger.db\",\"bytes\":%lld,\"error\":", s->state_dir,
	    (long long)dm->ledger->ops->size(dm->ledger));
	if (st->ledger_error)
		sbuf_json_str(o, st->ledger_error);
	else
		sbuf_adds(o, "null");
	/* the last error that is not the ledger's, e.g. a failed reload, as
	 * the text form shows it ("last error:") */
	sbuf_adds(o, "},\"last_error\":");
	if (dm->last_error[0])
		sbuf_json_str(o, dm->last_error);
	else
		sbuf_adds(o, "null");
	sbuf_adds(o, ",\"channels\":[");
	for (i = 0; i < s->nchannels; i++) {
		const long *n = dc->n[i];
		sbuf_printf(o, "%s{\"name\":", i ? "," : "");
		sbuf_json_str(o, s->channels[i].name);
		sbuf_printf(o, ",\"module\":\"%s\",\"today\":{\"sent\":%ld,\"failed\":%ld,\"expired\":%ld,"
		    "\"missed\":%ld,\"skipped\":%ld,\"retry\":%ld}}", s->channels[i].module, n[REC_SENT],
		    n[REC_FAILED], n[REC_EXPIRED], n[REC_MISSED], n[REC_SKIPPED], n[REC_RETRY]);
	}
	sbuf_adds(o, "]}\n");
}

static void status_text(struct conn *c, const struct day_counts *dc, const struct dispatch_stats *st)
{
	struct daemon *dm = c->dm;
	const struct snapshot *s = dm->snap;
	struct sbuf *o = &c->out;
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
	sbuf_printf(o, "ledger:    %s/ledger.db (%lld bytes)%s%s\n", s->state_dir,
	    (long long)dm->ledger->ops->size(dm->ledger), st->ledger_error ? ": CANNOT WRITE: " : "",
	    st->ledger_error ? st->ledger_error : "");
	if (dm->last_error[0])
		sbuf_printf(o, "last error: %s\n", dm->last_error);
	sbuf_printf(o, "\n%-16s %6s %6s %7s %6s %7s %5s\n", "today", "sent", "failed", "expired",
	    "missed", "skipped", "retry");
	for (i = 0; i < s->nchannels; i++) {
		const long *n = dc->n[i];
		sbuf_printf(o, "%-16s %6ld %6ld %7ld %6ld %7ld %5ld\n", s->channels[i].name, n[REC_SENT],
		    n[REC_FAILED], n[REC_EXPIRED], n[REC_MISSED], n[REC_SKIPPED], n[REC_RETRY]);
	}
}

static void cmd_status(struct conn *c, int argc, char **argv)
{
	struct day_counts dc;
	struct dispatch_stats st;

	memset(&dc, 0, sizeof dc);
	dc.s = c->dm->snap;
	c->dm->ledger->ops->counts_since(c->dm->ledger, today_start(c->dm), count_cb, &dc);
	dispatch_stats(c->dm->dispatch, &st);
	if (c->json)
		status_json(c, &dc, &st);
	else
		status_text(c, &dc, &st);
	answer(c, true);
}

/* ---- agenda: the calendar with what the ledger knows ------------------ */

static const char *live_status(const struct snapshot *s, const struct agenda_row *r, char *buf,
    size_t len, void *arg)
{
	struct daemon *dm = arg;
	struct ledger_rec rec;
	char tmp[1024];

	if (dm->ledger->ops->lookup(dm->ledger, r->id, &rec, tmp, sizeof tmp) == 1) {
		if (rec.status == REC_SKIPPED && rec.reason && !strchr(rec.reason, ' '))
			snprintf(buf, len, "skipped:%s", rec.reason);
		else
			snprintf(buf, len, "%s", rec_status_names[rec.status]);
		return buf;
	}
	if (r->status == STATUS_SCHEDULED && dispatch_paused(dm->dispatch, r->o->patient->id))
		return "skipped:paused";
	if (r->status == STATUS_SCHEDULED &&
	    dispatch_opted_out(dm->dispatch, r->o->patient->id, s->channels[r->ch].name))
		return "skipped:opt-out";
	return NULL;
}

/* "from=T" "to=T" "patient=ID": the window defaults to the next 24 hours. */
static void cmd_agenda(struct conn *c, int argc, char **argv)
{
	struct daemon *dm = c->dm;
	int64_t from = (int64_t)ev_now(dm->loop), to = from + 86400, patient = -1;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int i;

	for (i = 1; i < argc; i++) {
		int64_t *t = strncmp(argv[i], "from=", 5) == 0 ? &from : strncmp(argv[i], "to=", 3) == 0 ? &to : NULL;
		if (t && parse_instant(strchr(argv[i], '=') + 1, dm->snap->tz, t) == 0)
			continue;
		if (strncmp(argv[i], "patient=", 8) == 0 && (patient = snapshot_patient(dm->snap, argv[i] + 8)) >= 0)
			continue;
		fail(c, "agenda: bad argument \"%s\" (from=T, to=T, patient=ID)", argv[i]);
		return;
	}
	if (!(f = open_memstream(&text, &len))) {
		fail(c, "agenda: %s", strerror(errno));
		return;
	}
	agenda_print(dm->snap, from, to, patient, c->json ? AGENDA_JSONL : AGENDA_TABLE, f, live_status, dm);
	fclose(f);
	sbuf_add(&c->out, text, len);
	free(text);
	answer(c, true);
}

/* ---- history ------------------------------------------------------------- */

static void hist_rec(const struct ledger_rec *r, void *arg)
{
	struct conn *c = arg;
	char id[IDENT_HEX_LEN + 1], at[FMT_UTC_LEN + 1], due[FMT_UTC_LEN + 1];
	const char *detail = r->status == REC_SENT ? r->gateway_id : r->reason;

	ident_hex(r->id, id);
	fmt_utc(r->at, at);
	fmt_utc(r->due, due);
	if (c->json) {
		sbuf_printf(&c->out, "{\"at\":\"%s\",\"id\":\"%s\",\"kind\":\"%s\",\"channel\":", at, id, r->kind);
		sbuf_json_str(&c->out, r->channel);
		sbuf_printf(&c->out, ",\"due\":\"%s\",\"status\":\"%s\",\"attempt\":%d,\"%s\":", due,
		    rec_status_names[r->status], r->attempts, r->status == REC_SENT ? "gateway_id" : "reason");
		if (detail)
			sbuf_json_str(&c->out, detail);
		else
			sbuf_adds(&c->out, "null");
		sbuf_adds(&c->out, "}\n");
	} else {
		sbuf_printf(&c->out, "%s  %s  %-11s %-10s %s  %-8s %7d  %s\n", at, id, r->kind, r->channel,
		    due, rec_status_names[r->status], r->attempts, detail ? detail : "");
	}
}

static void hist_ovr(const struct ledger_ovr *o, void *arg)
{
	struct conn *c = arg;
	char at[FMT_UTC_LEN + 1];
	const char *what = o->kind == OVR_PAUSE ? (o->on ? "paused" : "resumed") : (o->on ? "opted out" : "opted in");

	fmt_utc(o->at, at);
	if (c->json) {
		sbuf_printf(&c->out, "{\"at\":\"%s\",\"override\":\"%s\",\"channel\":", at, what);
		if (o->channel && *o->channel)
			sbuf_json_str(&c->out, o->channel);
		else
			sbuf_adds(&c->out, "null");
		sbuf_adds(&c->out, ",\"source\":");
		sbuf_json_str(&c->out, o->source ? o->source : "");
		sbuf_adds(&c->out, "}\n");
	} else {
		sbuf_printf(&c->out, "%s  %s%s%s (%s)\n", at, what, !o->channel || !*o->channel ? "" :
		    o->kind == OVR_OPTOUT && !o->on ? " to " : " of ", o->channel ? o->channel : "",
		    o->source ? o->source : "");
	}
}

static void cmd_history(struct conn *c, int argc, char **argv)
{
	struct ledger *l = c->dm->ledger;

	if (argc != 2) {
		fail(c, "usage: history PATIENT");
		return;
	}
	if (!c->json)
		sbuf_printf(&c->out, "%-20s  %-16s  %-11s %-10s %-20s  %-8s %7s  %s\n", "AT", "ID", "KIND",
		    "CHANNEL", "DUE", "STATUS", "ATTEMPT", "GATEWAY ID / REASON");
	if (l->ops->history(l, argv[1], hist_rec, hist_ovr, c)) {
		fail(c, "history: %s", l->ops->error(l));
		return;
	}
	if (snapshot_patient(c->dm->snap, argv[1]) < 0 && !c->json)
		sbuf_printf(&c->out, "(note: %s is not in the current configuration)\n", argv[1]);
	answer(c, true);
}

/* ---- overrides ------------------------------------------------------------ */

static void cmd_override(struct conn *c, int argc, char **argv)
{
	bool pause = strcmp(argv[0], "pause") == 0 || strcmp(argv[0], "resume") == 0;
	int on = strcmp(argv[0], "pause") == 0 || strcmp(argv[0], "opt-out") == 0;
	char err[256], msg[512];

	if (argc != (pause ? 2 : 3)) {
		fail(c, "usage: %s PATIENT%s", argv[0], pause ? "" : " CHANNEL");
		return;
	}
	if (snapshot_patient(c->dm->snap, argv[1]) < 0) {
		fail(c, "no patient \"%s\" in the current configuration", argv[1]);
		return;
	}
	if (!pause && snapshot_channel(c->dm->snap, argv[2]) < 0) {
		fail(c, "no channel \"%s\" in the current configuration", argv[2]);
		return;
	}
	if (dispatch_override(c->dm->dispatch, pause ? OVR_PAUSE : OVR_OPTOUT, argv[1],
	    pause ? NULL : argv[2], on, "iopctl", err, sizeof err)) {
		fail(c, "could not record it in the ledger: %s", err);
		return;
	}
	snprintf(msg, sizeof msg, "%s: %s%s%s from the next send", argv[1],
	    pause ? (on ? "paused" : "resumed") : (on ? "opted out of " : "opted in to "),
	    pause ? "" : argv[2], "");
	ok_message(c, msg);
}

/* ---- reload ---------------------------------------------------------- */

static void reload_done(int ok, const char *errors, void *arg)
{
	struct conn *c = arg;

	if (ok)
		ok_message(c, "reloaded");
	else
		fail(c, "reload failed; the previous configuration keeps running:\n%s", errors ? errors : "");
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
		ok_message(c, msg);
	else
		fail(c, "%s", msg);
}

static void cmd_send_test(struct conn *c, int argc, char **argv)
{
	struct daemon *dm = c->dm;
	int ch;
	uint64_t id;
	char when[FMT_UTC_LEN + 1];

	if (argc != 3) {
		fail(c, "usage: send-test CHANNEL ADDRESS");
		return;
	}
	if ((ch = snapshot_channel(dm->snap, argv[1])) < 0 || !dm->snap->channels[ch].inst) {
		fail(c, "no channel \"%s\" in the current configuration", argv[1]);
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
	answer(c, true);
}

static const struct {
	const char *name;
	void (*fn)(struct conn *c, int argc, char **argv);
} commands[] = {
	{"status", cmd_status}, {"agenda", cmd_agenda}, {"history", cmd_history},
	{"pause", cmd_override}, {"resume", cmd_override}, {"opt-out", cmd_override},
	{"opt-in", cmd_override}, {"reload", cmd_reload}, {"send-test", cmd_send_test},
	{"metrics", cmd_metrics},
};

static void handle(struct conn *c, char *line)
{
	struct ctl_req r;
	enum ctl_req_rc rc = ctl_parse_request(line, &r);
	size_t i;

	c->json = r.json;
	if (rc == CTL_REQ_NOT_IOPD) {
		sbuf_adds(&c->out, "iopd: this is iopd's control socket, protocol IOPD/1 "
		    "(see docs/control-protocol.md)\n");
		answer(c, false);
		return;
	}
	if (rc == CTL_REQ_TOO_MANY) {
		fail(c, "too many arguments (at most %d)", CTL_MAX_ARGS);
		return;
	}
	if (rc == CTL_REQ_BAD_ESCAPE) {
		fail(c, "bad percent-encoding in \"%s\"", r.bad);
		return;
	}
	if (c->dm->stopping) {
		fail(c, "iopd is stopping");
		return;
	}
	for (i = 0; i < IOPD_NELEM(commands); i++)
		if (strcmp(commands[i].name, r.argv[0]) == 0) {
			commands[i].fn(c, r.argc, r.argv);
			return;
		}
	fail(c, "unknown command \"%s\" (status, agenda, history, pause, resume, opt-out, opt-in, "
	    "send-test, reload, metrics)", r.argv[0]);
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
		answer(c, false);
	}
}

static void conn_write(struct conn *c)
{
	ssize_t n = write(c->fd, c->out.s + c->sent, c->out.len - c->sent);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (c->sent += (size_t)n) == c->out.len)
		conn_free(c);
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

	if (c->waiting) {                  /* a reload or a test send takes its time */
		ev_timer_again(loop, w);
		return;
	}
	conn_free(c);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *dm = w->data;
	struct control *ctl = dm->control;
	int fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct conn *c;

	if (fd < 0)
		return;
	c = xcalloc(1, sizeof *c);
	c->magic = CONN_MAGIC;
	c->dm = dm;
	c->fd = fd;
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
 * answers on it. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	if (access(path, F_OK) != 0)
		return 0;
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
	ev_io_init(&ctl->io, accept_cb, fd, EV_READ);
	ctl->io.data = dm;
	ev_io_start(dm->loop, &ctl->io);
	dm->control = ctl;
	return 0;
}

void control_stop(struct daemon *dm)
{
	struct control *ctl = dm->control;

	if (!ctl)
		return;
	ev_io_stop(dm->loop, &ctl->io);
	close(ctl->fd);
	unlink(ctl->path);
	while (ctl->conns) {
		struct conn *c = ctl->conns;
		if (c->waiting && c->test_inst) {
			chan_inst_cancel(c->test_inst, c);   /* its done will not run */
			c->waiting = false;
		}
		conn_free(c);
	}
	free(ctl->path);
	free(ctl);
	dm->control = NULL;
}
