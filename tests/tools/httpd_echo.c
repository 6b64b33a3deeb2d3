/* httpd_echo - the inbound HTTP listener (daemon/httpd.c) alone on a libev
 * loop, answering every request with what it understood of it.
 *
 * The harness of tests/integration/inbound_http.sh.
 *
 * USAGE
 *   httpd_echo (--listen HOST:PORT | --systemd) [--max-body N] [--max-header N]
 *              [--max-conns N] [--life SECS] [-v]
 *
 *   --systemd listens on the one socket systemd (or systemd-socket-activate)
 *   passed.  Limits left out take httpd's defaults.  Prints "listening" on
 *   stdout once it does; SIGTERM or SIGINT stops it (httpd_free with any
 *   late answers still pending) and it prints, on stdout:
 *
 *     stats requests=N too_large=N header_too_large=N bad=N cut=N conns=N held=N
 *     lateness worst=X.X ms stall=Y.Y ms ticks=N
 *
 *   `worst` is the worst lateness of a 10 ms ev_timer running beside the
 *   listener (wall clock: a busy machine adds to it); `stall` the longest
 *   the loop went without polling, as CPU time (echo_invoke).
 *
 * ANSWER
 *   200 (or the `status` parameter), application/json:
 *     {"method":..., "target":..., "path":...,
 *      "headers":{"host":..., "content-type":..., ...},    (those present)
 *      "params":[["name","value",from_body], ...],
 *      "first":{"name":"value of httpd_param_get(name)", ...},
 *      "pad":"xxx..."}                                     (if asked)
 *   Parameters that steer it (query or body): delay_ms=N answers N ms
 *   later (the connection waits suspended; "late TARGET" is printed on
 *   stdout then), pad=N adds N bytes to the answer, status=N answers with
 *   that status. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <systemd/sd-daemon.h>

#include "httpd.h"
#include "log.h"
#include "util.h"

#define ECHO_TICK 0.010

static const char *const echo_headers[] = {
	"host", "content-type", "content-length", "transfer-encoding", "x-twilio-signature",
	"user-agent", "x-forwarded-for",
};

struct echo_late {                     /* one answer waiting for its delay */
	ev_timer t;
	struct httpd_req *r;
	struct echo *e;
	struct echo_late *next;
};

struct echo {
	struct ev_loop *loop;
	struct httpd *h;
	struct echo_late *late;        /* pending late answers */
	ev_timer tick;
	ev_signal sigterm, sigint;
	double last_wall, worst;       /* the tick's lateness */
	double stall;                  /* the longest batch of callbacks */
	unsigned long ticks;
};

static double echo_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void echo_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct echo *e = w->data;
	double wall = ev_time();

	(void)loop;
	(void)revents;
	if (e->ticks++ > 0 && wall - (e->last_wall + ECHO_TICK) > e->worst)
		e->worst = wall - (e->last_wall + ECHO_TICK);
	e->last_wall = wall;
}

/* Runs the callbacks of one loop iteration, between two polls: how long
 * the loop could not poll.  Counted as the smaller of the wall-clock and
 * the CPU time it took, which leaves out the times the machine simply did
 * not run us. */
static void echo_invoke(struct ev_loop *loop)
{
	struct echo *e = ev_userdata(loop);
	double w0 = ev_time(), c0 = echo_cpu(), w, c;

	ev_invoke_pending(loop);
	w = ev_time() - w0;
	c = echo_cpu() - c0;
	if ((w < c ? w : c) > e->stall)
		e->stall = w < c ? w : c;
}

/* Whether a parameter before the i-th has this name. */
static bool echo_seen(struct httpd_req *r, size_t i, const char *name)
{
	const char *other;

	while (i-- > 0) {
		httpd_param(r, i, &other, NULL, NULL);
		if (strcmp(other, name) == 0)
			return true;
	}
	return false;
}

static void echo_json(struct httpd_req *r, struct sbuf *b)
{
	const char *name, *value, *v;
	bool from_body;
	size_t i, j, n = httpd_nparams(r);
	long pad = 0;

	sbuf_adds(b, "{\"method\":");
	sbuf_json_str(b, httpd_method(r));
	sbuf_adds(b, ",\"target\":");
	sbuf_json_str(b, httpd_target(r));
	sbuf_adds(b, ",\"path\":");
	sbuf_json_str(b, httpd_path(r));
	sbuf_adds(b, ",\"headers\":{");
	for (i = j = 0; i < IOPD_NELEM(echo_headers); i++) {
		if (!(v = httpd_header(r, echo_headers[i])))
			continue;
		sbuf_adds(b, j++ ? "," : "");
		sbuf_json_str(b, echo_headers[i]);
		sbuf_addc(b, ':');
		sbuf_json_str(b, v);
	}
	sbuf_adds(b, "},\"params\":[");
	for (i = 0; i < n; i++) {
		httpd_param(r, i, &name, &value, &from_body);
		sbuf_adds(b, i ? ",[" : "[");
		sbuf_json_str(b, name);
		sbuf_addc(b, ',');
		sbuf_json_str(b, value);
		sbuf_adds(b, from_body ? ",true]" : ",false]");
	}
	sbuf_adds(b, "],\"first\":{");
	for (i = j = 0; i < n; i++) {
		httpd_param(r, i, &name, NULL, NULL);
		if (echo_seen(r, i, name))
			continue;
		sbuf_adds(b, j++ ? "," : "");
		sbuf_json_str(b, name);
		sbuf_addc(b, ':');
		sbuf_json_str(b, httpd_param_get(r, name));
	}
	sbuf_addc(b, '}');
	if ((v = httpd_param_get(r, "pad")) && (pad = strtol(v, NULL, 10)) > 0) {
		sbuf_adds(b, ",\"pad\":\"");
		sbuf_reserve(b, (size_t)pad);
		memset(b->s + b->len, 'x', (size_t)pad);
		b->len += (size_t)pad;
		b->s[b->len] = '\0';
		sbuf_addc(b, '"');
	}
	sbuf_adds(b, "}\n");
}

static void echo_answer(struct httpd_req *r)
{
	const char *st = httpd_param_get(r, "status");
	struct sbuf b = {0};

	echo_json(r, &b);
	httpd_answer(r, st ? atoi(st) : 200, "application/json", b.s, b.len);
	sbuf_free(&b);
}

static void echo_late_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct echo_late *l = w->data, **pp;

	(void)loop;
	(void)revents;
	for (pp = &l->e->late; *pp != l; pp = &(*pp)->next)
		;
	*pp = l->next;
	echo_answer(l->r);
	free(l);
}

static void echo_request(struct httpd_req *r, void *arg)
{
	struct echo *e = arg;
	const char *d = httpd_param_get(r, "delay_ms");
	struct echo_late *l;

	if (!d || atol(d) <= 0) {
		echo_answer(r);
		return;
	}
	l = xcalloc(1, sizeof *l);
	l->r = r;
	l->e = e;
	ev_timer_init(&l->t, echo_late_cb, (double)atol(d) / 1000.0, 0.0);
	l->t.data = l;
	ev_timer_start(e->loop, &l->t);
	l->next = e->late;
	e->late = l;
	printf("late %s\n", httpd_target(r));
	fflush(stdout);
}

static void echo_stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void echo_usage(void)
{
	fprintf(stderr, "usage: httpd_echo (--listen HOST:PORT | --systemd) [--max-body N] "
	    "[--max-header N] [--max-conns N] [--life SECS] [-v]\n");
	exit(2);
}

static int echo_listen_fd(void)
{
	int n = sd_listen_fds(1);

	if (n != 1) {
		fprintf(stderr, "httpd_echo: --systemd: %d sockets passed, want 1\n", n < 0 ? 0 : n);
		exit(1);
	}
	return SD_LISTEN_FDS_START;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'}, {"systemd", no_argument, NULL, 's'},
		{"max-body", required_argument, NULL, 'b'}, {"max-header", required_argument, NULL, 'H'},
		{"max-conns", required_argument, NULL, 'c'}, {"life", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	struct httpd_limits lim = {0};
	struct httpd_stats st;
	struct echo e = {0};
	const char *listen_on = NULL;
	char err[256];
	int ch, fd = -1, verbose = 0;
	struct echo_late *l;

	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l': listen_on = optarg; break;
		case 's': fd = echo_listen_fd(); break;
		case 'b': lim.max_body = strtoul(optarg, NULL, 10); break;
		case 'H': lim.max_header = strtoul(optarg, NULL, 10); break;
		case 'c': lim.max_conns = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': lim.max_conn_time = strtod(optarg, NULL); break;
		case 'v': verbose = 1; break;
		default: echo_usage();
		}
	}
	if (optind != argc || (!listen_on && fd < 0))
		echo_usage();
	log_init(verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	signal(SIGPIPE, SIG_IGN);
	e.loop = ev_default_loop(EVFLAG_AUTO);
	e.h = httpd_new(e.loop, listen_on, fd, &lim, echo_request, &e, err, sizeof err);
	if (!e.h) {
		fprintf(stderr, "httpd_echo: %s\n", err);
		return 1;
	}
	ev_set_userdata(e.loop, &e);
	ev_set_invoke_pending_cb(e.loop, echo_invoke);
	ev_timer_init(&e.tick, echo_tick_cb, ECHO_TICK, ECHO_TICK);
	e.tick.data = &e;
	ev_timer_start(e.loop, &e.tick);
	ev_signal_init(&e.sigterm, echo_stop_cb, SIGTERM);
	ev_signal_start(e.loop, &e.sigterm);
	ev_signal_init(&e.sigint, echo_stop_cb, SIGINT);
	ev_signal_start(e.loop, &e.sigint);
#if defined(__SANITIZE_ADDRESS__)
	printf("sanitizers\n");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	printf("sanitizers\n");
#endif
#endif
	printf("listening\n");
	fflush(stdout);
	ev_run(e.loop, 0);

	httpd_stats(e.h, &st);
	httpd_free(e.h);               /* drops the late answers still pending */
	while ((l = e.late) != NULL) {
		e.late = l->next;
		ev_timer_stop(e.loop, &l->t);
		free(l);
	}
	printf("stats requests=%llu too_large=%llu header_too_large=%llu bad=%llu cut=%llu conns=%u held=%u\n",
	    st.requests, st.too_large, st.header_too_large, st.bad, st.cut, st.conns, st.held);
	printf("lateness worst=%.1f ms stall=%.1f ms ticks=%lu\n", e.worst * 1e3, e.stall * 1e3, e.ticks);
	ev_loop_destroy(e.loop);
	return 0;
}
