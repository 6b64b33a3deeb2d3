/* pg_conn.c - see pg_conn.h.
 *
 * States: DOWN (waiting out a backoff, or not started), CONNECTING (one
 * host at a time: maybe resolving its name on a thread, then polling
 * libpq's connect with a timer), UP (pipeline mode; requests in flight in
 * order).  Nothing here blocks: libpq's socket is watched by one ev_io,
 * PQflush runs again when it is writable, results are read when it is
 * readable. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "log.h"
#include "pg_conn.h"
#include "util.h"

#define BACKOFF_BASE 0.25              /* seconds: the first reconnect */
#define BACKOFF_CAP 5.0                /* never wait longer between rounds */
#define CONNECT_TIMEOUT 10.0           /* per host, unless the conninfo says */
#define MAX_ADDRS 8                    /* addresses tried per host name */

enum pgc_state { PGC_DOWN, PGC_CONNECTING, PGC_UP };
enum stmt_kind { ST_SQL, ST_PREPARE, ST_EXEC };

struct pgc_stmt {
	enum stmt_kind kind;
	char *text;                    /* SQL, or the prepared statement's name */
	char *sql;                     /* ST_PREPARE: its SQL */
	char **params;
	int nparams;
};

struct pgc_req {
	struct pgc_req *next;
	struct pgc_stmt *st;
	size_t nst, capst;
	pgc_result_fn res;
	pgc_done_fn done;
	void *arg;
	int cur;                       /* the statement whose result comes next */
	bool after_result;             /* a result came; the NULL that ends it is due */
	bool failed;
	char err[256], sqlstate[6];
};

/* One host (or one address of a host name) to try. */
struct target {
	char *host, *hostaddr, *port;
	bool resolve;                  /* a name: resolve it first */
};

/* A host name being resolved on a thread: shared with it, so freed by
 * whichever of the two finishes last. */
struct resolve {
	pthread_mutex_t mu;
	bool abandoned;
	struct pgc *c;
	char *host;
	char *addrs[MAX_ADDRS];
	int naddrs;
	char err[128];
};

struct pgc {
	struct ev_loop *loop;
	enum pgc_state state;
	PGconn *conn;
	char **kw, **vals;             /* the conninfo's options, less host, hostaddr, port, password */
	size_t nkw;
	char *password, *appname;
	double connect_timeout, query_timeout;
	struct target *hosts, *round;  /* as configured; this round's (names resolved) */
	size_t nhosts, nround, next;
	struct resolve *resolving;
	ev_async resolved_w;
	ev_io io;
	ev_timer timer;                /* connect timeout, query timeout, or backoff */
	bool timer_backoff;
	int fails;                     /* rounds failed in a row */
	uint64_t rng;
	struct pgc_req *head, *tail;   /* sent, waiting for answers */
	char err[512], server[256];
	pgc_state_fn state_fn;
	void *arg;
};

/* ---- requests ------------------------------------------------------------ */

struct pgc_req *pgc_req_new(void)
{
	return xcalloc(1, sizeof(struct pgc_req));
}

void pgc_req_free(struct pgc_req *r)
{
	size_t i;
	int k;

	if (!r)
		return;
	for (i = 0; i < r->nst; i++) {
		for (k = 0; k < r->st[i].nparams; k++)
			free(r->st[i].params[k]);
		free(r->st[i].params);
		free(r->st[i].text);
		free(r->st[i].sql);
	}
	free(r->st);
	free(r);
}

static struct pgc_stmt *req_add(struct pgc_req *r, enum stmt_kind kind, const char *text,
    int nparams, const char *const *values)
{
	struct pgc_stmt *s;
	int k;

	grow_array(&r->st, &r->capst, r->nst + 1, sizeof *r->st);
	s = &r->st[r->nst++];
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->text = xstrdup(text);
	s->nparams = nparams;
	if (nparams > 0) {
		s->params = xcalloc((size_t)nparams, sizeof *s->params);
		for (k = 0; k < nparams; k++)
			s->params[k] = values[k] ? xstrdup(values[k]) : NULL;
	}
	return s;
}

void pgc_req_sql(struct pgc_req *r, const char *sql, int nparams, const char *const *values)
{
	req_add(r, ST_SQL, sql, nparams, values);
}

void pgc_req_prepare(struct pgc_req *r, const char *name, const char *sql)
{
	req_add(r, ST_PREPARE, name, 0, NULL)->sql = xstrdup(sql);
}

void pgc_req_exec(struct pgc_req *r, const char *name, int nparams, const char *const *values)
{
	req_add(r, ST_EXEC, name, nparams, values);
}

/* ---- small helpers -------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);   /* splitmix64 */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* libpq's messages end with a newline, and may hold several lines. */
static void one_line(char *dst, size_t len, const char *msg)
{
	size_t n;

	snprintf(dst, len, "%s", msg && *msg ? msg : "unknown error");
	for (n = strlen(dst); n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '); n--)
		dst[n - 1] = '\0';
	for (n = 0; dst[n]; n++)
		if (dst[n] == '\n' || dst[n] == '\t')
			dst[n] = ' ';
}

static void target_free(struct target *t)
{
	free(t->host);
	free(t->hostaddr);
	free(t->port);
}

static void round_free(struct pgc *c)
{
	size_t i;

	for (i = 0; i < c->nround; i++)
		target_free(&c->round[i]);
	free(c->round);
	c->round = NULL;
	c->nround = c->next = 0;
}

static char *dup_nonempty(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

/* The n-th element of a comma-separated libpq list ("db1,db2"). */
static char *list_elem(const char *list, size_t n)
{
	const char *p = list;
	size_t i, len;

	if (!list)
		return NULL;
	for (i = 0; i < n; i++) {
		p = strchr(p, ',');
		if (!p)
			return NULL;
		p++;
	}
	len = strcspn(p, ",");
	return len ? xasprintf("%.*s", (int)len, p) : NULL;
}

static size_t list_len(const char *list)
{
	size_t n = 1;

	if (!list || !*list)
		return 0;
	for (; *list; list++)
		n += *list == ',';
	return n;
}

static bool is_numeric(const char *h)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* ---- the conninfo: options, and the hosts to try ------------------------ */

static void kw_add(struct pgc *c, const char *k, const char *v)
{
	size_t cap = c->nkw + 2;

	c->kw = xrealloc(c->kw, cap * sizeof *c->kw);
	c->vals = xrealloc(c->vals, cap * sizeof *c->vals);
	c->kw[c->nkw] = xstrdup(k);
	c->vals[c->nkw] = xstrdup(v);
	c->nkw++;
	c->kw[c->nkw] = c->vals[c->nkw] = NULL;
}

static bool kw_has(const struct pgc *c, const char *k)
{
	size_t i;

	for (i = 0; i < c->nkw; i++)
		if (strcmp(c->kw[i], k) == 0)
			return true;
	return false;
}

static int parse_conninfo(struct pgc *c, const char *conninfo, char *err, size_t errlen)
{
	char *msg = NULL, *hosts = NULL, *addrs = NULL, *ports = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &msg), *o;
	size_t i, n;

	if (!opts) {
		one_line(err, errlen, msg ? msg : "cannot parse the conninfo");
		PQfreemem(msg);
		return -1;
	}
	for (o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			hosts = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			addrs = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			ports = o->val;
		else if (strcmp(o->keyword, "connect_timeout") == 0)
			c->connect_timeout = c->connect_timeout > 0 ? c->connect_timeout : atof(o->val);
		else if (strcmp(o->keyword, "password") != 0 && strcmp(o->keyword, "application_name") != 0)
			kw_add(c, o->keyword, o->val);
	}
	/* A dead peer must be noticed without waiting for the kernel's
	 * defaults (two hours of silence): the admin's settings win. */
	if (!kw_has(c, "keepalives_idle"))
		kw_add(c, "keepalives_idle", "10");
	if (!kw_has(c, "keepalives_interval"))
		kw_add(c, "keepalives_interval", "5");
	if (!kw_has(c, "keepalives_count"))
		kw_add(c, "keepalives_count", "3");
	n = list_len(hosts) > list_len(addrs) ? list_len(hosts) : list_len(addrs);
	if (n == 0)
		n = 1;                         /* libpq's default: the local socket */
	c->hosts = xcalloc(n, sizeof *c->hosts);
	c->nhosts = n;
	for (i = 0; i < n; i++) {
		struct target *t = &c->hosts[i];
		t->host = list_elem(hosts, i);
		t->hostaddr = list_elem(addrs, i);
		t->port = list_len(ports) > 1 ? list_elem(ports, i) : dup_nonempty(ports);
		t->resolve = t->host && !t->hostaddr && t->host[0] != '/' && t->host[0] != '@' &&
		    !is_numeric(t->host);
	}
	PQconninfoFree(opts);
	return 0;
}

/* ---- the connection's socket ------------------------------------------- */

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void start_round(struct pgc *c);
static void try_next(struct pgc *c);

static void watch(struct pgc *c, int events)
{
	int fd = c->conn ? PQsocket(c->conn) : -1;

	if (fd < 0) {
		ev_io_stop(c->loop, &c->io);
		return;
	}
	if (ev_is_active(&c->io) && c->io.fd == fd && (c->io.events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(c->loop, &c->io);
	ev_io_set(&c->io, fd, events);
	ev_io_start(c->loop, &c->io);
}

static void timer_arm(struct pgc *c, double after, bool backoff)
{
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_set(&c->timer, after, 0.);
	ev_timer_start(c->loop, &c->timer);
	c->timer_backoff = backoff;
}

/* Every request fails: nothing of the unanswered ones is known to be kept
 * (lost: their sync point went out, so a commit may have happened). */
static void fail_all(struct pgc *c, const char *why)
{
	struct pgc_req *r;

	while ((r = c->head)) {
		c->head = r->next;
		if (!c->head)
			c->tail = NULL;
		r->done(r->arg, -1, why, "08006", true);
		pgc_req_free(r);
	}
}

static void close_conn(struct pgc *c)
{
	ev_io_stop(c->loop, &c->io);
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
}

/* The connection is gone: fail what it carried, tell the owner, and try
 * again after a backoff. */
static void lose(struct pgc *c, const char *why)
{
	bool was_up = c->state == PGC_UP;

	close_conn(c);
	ev_timer_stop(c->loop, &c->timer);
	c->state = PGC_DOWN;
	snprintf(c->err, sizeof c->err, "%s", why);
	fail_all(c, why);
	if (was_up)
		c->state_fn(c, false, why, c->arg);
	timer_arm(c, 0.05, true);          /* at once (a failover: find the new primary) */
}

void pgc_reset(struct pgc *c, const char *why)
{
	if (c->state == PGC_UP)
		lose(c, why);
}

/* ---- connecting ----------------------------------------------------------- */

static void backoff(struct pgc *c)
{
	double cap = fmin(BACKOFF_CAP, BACKOFF_BASE * ldexp(1.0, c->fails > 20 ? 20 : c->fails));
	double t = cap * (0.5 + 0.5 * ((double)(rng_next(&c->rng) >> 11) / 9007199254740992.0));

	c->fails++;
	c->state = PGC_DOWN;
	round_free(c);
	log_debug("postgresql: next connection attempt in %.1f s", t);
	timer_arm(c, t, true);
}

static void round_failed(struct pgc *c)
{
	if (c->fails == 0)
		log_warn("postgresql: cannot connect: %s; retrying (nothing is sent until it connects)",
		    c->err);
	else
		log_debug("postgresql: cannot connect: %s", c->err);
	c->state_fn(c, false, c->err, c->arg);
	backoff(c);
}

static void note_error(struct pgc *c, const struct target *t, const char *msg)
{
	char line[256], *e = c->err;
	size_t n = strlen(e);

	one_line(line, sizeof line, msg);
	snprintf(e + n, sizeof c->err - n, "%s%s%s%s: %s", n ? "; " : "",
	    t->host ? t->host : t->hostaddr ? t->hostaddr : "local socket", t->port ? ":" : "",
	    t->port ? t->port : "", line);
}

static void notice_cb(void *arg, const char *message)
{
	char line[256];

	one_line(line, sizeof line, message);
	log_debug("postgresql: %s", line);
}

static void connected(struct pgc *c)
{
	ev_timer_stop(c->loop, &c->timer);
	if (PQsetnonblocking(c->conn, 1) != 0 || PQenterPipelineMode(c->conn) != 1) {
		note_error(c, &c->round[c->next - 1], PQerrorMessage(c->conn));
		close_conn(c);
		try_next(c);
		return;
	}
	PQsetNoticeProcessor(c->conn, notice_cb, c);
	snprintf(c->server, sizeof c->server, "%s:%s/%s", PQhost(c->conn), PQport(c->conn), PQdb(c->conn));
	c->state = PGC_UP;
	c->fails = 0;
	round_free(c);
	watch(c, EV_READ);
	if (c->err[0])                     /* hosts tried before, e.g. a failover */
		log_info("postgresql: connected to %s (before: %s)", c->server, c->err);
	else
		log_info("postgresql: connected to %s", c->server);
	c->err[0] = '\0';
	c->state_fn(c, true, NULL, c->arg);
}

static void poll_connect(struct pgc *c)
{
	switch (PQconnectPoll(c->conn)) {
	case PGRES_POLLING_READING:
		watch(c, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		watch(c, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		connected(c);
		break;
	default:
		note_error(c, &c->round[c->next - 1], PQerrorMessage(c->conn));
		close_conn(c);
		try_next(c);
	}
}

static void attempt(struct pgc *c, const struct target *t)
{
	const char *kw[64], *vals[64];
	size_t n = 0, i;

	for (i = 0; i < c->nkw && n < 56; i++, n++) {
		kw[n] = c->kw[i];
		vals[n] = c->vals[i];
	}
#define KV(k, v) do { if (v) { kw[n] = (k); vals[n] = (v); n++; } } while (0)
	KV("host", t->host);
	KV("hostaddr", t->hostaddr);
	KV("port", t->port);
	KV("password", c->password);
	KV("application_name", c->appname);
#undef KV
	kw[n] = vals[n] = NULL;
	c->conn = PQconnectStartParams(kw, vals, 0);
	if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
		note_error(c, t, c->conn ? PQerrorMessage(c->conn) : "out of memory");
		close_conn(c);
		try_next(c);
		return;
	}
	timer_arm(c, c->connect_timeout, false);
	watch(c, EV_WRITE);                /* libpq: poll as if the last answer was WRITING */
}

static void *resolve_main(void *arg)
{
	struct resolve *r = arg;
	struct addrinfo hints, *res = NULL, *a;
	int rc, i;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(r->host, NULL, &hints, &res);
	if (rc != 0)
		snprintf(r->err, sizeof r->err, "cannot resolve %s: %s", r->host, gai_strerror(rc));
	for (a = res; a && r->naddrs < MAX_ADDRS; a = a->ai_next) {
		char buf[INET6_ADDRSTRLEN];
		const void *p = a->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
		if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
		    inet_ntop(a->ai_family, p, buf, sizeof buf))
			r->addrs[r->naddrs++] = xstrdup(buf);
	}
	if (res)
		freeaddrinfo(res);
	pthread_mutex_lock(&r->mu);
	if (!r->abandoned) {
		ev_async_send(r->c->loop, &r->c->resolved_w);
		pthread_mutex_unlock(&r->mu);
		return NULL;
	}
	pthread_mutex_unlock(&r->mu);
	for (i = 0; i < r->naddrs; i++)
		free(r->addrs[i]);
	pthread_mutex_destroy(&r->mu);
	free(r->host);
	free(r);
	return NULL;
}

static void resolve_start(struct pgc *c, const struct target *t)
{
	struct resolve *r = xcalloc(1, sizeof *r);
	pthread_attr_t at;
	pthread_t th;

	pthread_mutex_init(&r->mu, NULL);
	r->c = c;
	r->host = xstrdup(t->host);
	c->resolving = r;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, resolve_main, r) != 0) {
		c->resolving = NULL;
		note_error(c, t, "cannot start a thread to resolve the host name");
		pthread_mutex_destroy(&r->mu);
		free(r->host);
		free(r);
		try_next(c);
	}
	pthread_attr_destroy(&at);
}

/* The name of round[next - 1] is resolved: its addresses are tried next. */
static void resolved_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct pgc *c = w->data;
	struct resolve *r = c->resolving;
	struct target name;
	size_t at = c->next, i;

	if (!r)
		return;
	c->resolving = NULL;
	name = c->round[at - 1];
	if (r->naddrs == 0)
		note_error(c, &name, r->err[0] ? r->err : "no address");
	c->round = xrealloc(c->round, (c->nround + (size_t)r->naddrs + 1) * sizeof *c->round);
	memmove(&c->round[at + (size_t)r->naddrs], &c->round[at], (c->nround - at) * sizeof *c->round);
	for (i = 0; i < (size_t)r->naddrs; i++) {
		struct target *t = &c->round[at + i];
		t->host = xstrdup(name.host);
		t->hostaddr = r->addrs[i];
		t->port = name.port ? xstrdup(name.port) : NULL;
		t->resolve = false;
	}
	c->nround += (size_t)r->naddrs;
	pthread_mutex_destroy(&r->mu);
	free(r->host);
	free(r);
	try_next(c);
}

static void try_next(struct pgc *c)
{
	const struct target *t;

	if (c->next >= c->nround) {
		round_failed(c);
		return;
	}
	t = &c->round[c->next++];
	if (t->resolve)
		resolve_start(c, t);
	else
		attempt(c, t);
}

static void start_round(struct pgc *c)
{
	size_t i;

	round_free(c);
	c->round = xcalloc(c->nhosts, sizeof *c->round);
	for (i = 0; i < c->nhosts; i++) {
		c->round[i].host = c->hosts[i].host ? xstrdup(c->hosts[i].host) : NULL;
		c->round[i].hostaddr = c->hosts[i].hostaddr ? xstrdup(c->hosts[i].hostaddr) : NULL;
		c->round[i].port = c->hosts[i].port ? xstrdup(c->hosts[i].port) : NULL;
		c->round[i].resolve = c->hosts[i].resolve;
	}
	c->nround = c->nhosts;
	c->next = 0;
	c->err[0] = '\0';
	c->state = PGC_CONNECTING;
	try_next(c);
}

void pgc_connect(struct pgc *c)
{
	if (c->state == PGC_DOWN && !ev_is_active(&c->timer))
		start_round(c);
}

/* ---- requests on the wire --------------------------------------------------- */

static void flush_out(struct pgc *c)
{
	int rc = PQflush(c->conn);

	if (rc < 0) {
		char why[256];
		one_line(why, sizeof why, PQerrorMessage(c->conn));
		lose(c, why);
		return;
	}
	watch(c, rc == 1 ? EV_READ | EV_WRITE : EV_READ);
}

static int write_req(struct pgc *c, struct pgc_req *r)
{
	size_t i;
	int ok = 1;

	for (i = 0; i < r->nst && ok; i++) {
		struct pgc_stmt *s = &r->st[i];
		const char *const *v = (const char *const *)s->params;
		switch (s->kind) {
		case ST_SQL:
			ok = PQsendQueryParams(c->conn, s->text, s->nparams, NULL, v, NULL, NULL, 0);
			break;
		case ST_PREPARE:
			ok = PQsendPrepare(c->conn, s->text, s->sql, 0, NULL);
			break;
		default:
			ok = PQsendQueryPrepared(c->conn, s->text, s->nparams, v, NULL, NULL, 0);
		}
	}
	return ok && PQpipelineSync(c->conn) == 1 ? 0 : -1;
}

int pgc_send(struct pgc *c, struct pgc_req *r, pgc_result_fn res, pgc_done_fn done, void *arg)
{
	if (c->state != PGC_UP) {
		pgc_req_free(r);
		return -1;
	}
	r->res = res;
	r->done = done;
	r->arg = arg;
	if (write_req(c, r)) {
		char why[256];
		one_line(why, sizeof why, PQerrorMessage(c->conn));
		pgc_req_free(r);
		lose(c, why);
		return -1;
	}
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	if (!ev_is_active(&c->timer))
		timer_arm(c, c->query_timeout, false);
	flush_out(c);
	return 0;
}

static void req_error(struct pgc_req *r, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (r->failed)
		return;                        /* the first error is the one that counts */
	r->failed = true;
	one_line(r->err, sizeof r->err, PQresultErrorMessage(res));
	snprintf(r->sqlstate, sizeof r->sqlstate, "%s", state ? state : "");
}

/* A request's sync point arrived: it is complete. */
static void req_complete(struct pgc *c)
{
	struct pgc_req *r = c->head;

	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	r->done(r->arg, r->failed ? -1 : 0, r->err, r->sqlstate, false);
	pgc_req_free(r);
}

static void read_results(struct pgc *c)
{
	int nulls = 0;

	while (c->state == PGC_UP && c->head && !PQisBusy(c->conn)) {
		PGresult *res = PQgetResult(c->conn);
		struct pgc_req *r = c->head;

		if (!res) {                        /* the end of one statement's results */
			if (r->after_result)
				r->cur++;
			r->after_result = false;
			if (++nulls > 1)
				break;             /* nothing more has arrived */
			continue;
		}
		nulls = 0;
		timer_arm(c, c->query_timeout, false);
		switch (PQresultStatus(res)) {
		case PGRES_PIPELINE_SYNC:
			PQclear(res);
			req_complete(c);
			continue;
		case PGRES_FATAL_ERROR:
		case PGRES_NONFATAL_ERROR:
		case PGRES_BAD_RESPONSE:
			req_error(r, res);
			break;
		case PGRES_PIPELINE_ABORTED:
			if (!r->failed) {
				r->failed = true;
				snprintf(r->err, sizeof r->err, "aborted");
			}
			break;
		default:
			if (!r->failed && r->res && r->res(r->arg, r->cur, res))
				res = NULL;                /* kept by the callee */
		}
		r->after_result = true;
		PQclear(res);
	}
	if (c->state == PGC_UP && !c->head)
		ev_timer_stop(c->loop, &c->timer);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pgc *c = w->data;

	if (c->state == PGC_CONNECTING) {
		poll_connect(c);
		return;
	}
	if (c->state != PGC_UP)
		return;
	if (revents & EV_READ) {
		if (!PQconsumeInput(c->conn)) {
			char why[256];
			one_line(why, sizeof why, PQerrorMessage(c->conn));
			lose(c, why);
			return;
		}
		read_results(c);
		if (c->state == PGC_UP && PQstatus(c->conn) == CONNECTION_BAD) {
			lose(c, "the server closed the connection");
			return;
		}
	}
	if (c->state == PGC_UP)
		flush_out(c);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pgc *c = w->data;
	char why[384];

	if (c->timer_backoff) {
		c->timer_backoff = false;
		start_round(c);
		return;
	}
	if (c->state == PGC_CONNECTING) {
		snprintf(why, sizeof why, "no connection after %.0f s", c->connect_timeout);
		note_error(c, &c->round[c->next - 1], why);
		close_conn(c);
		try_next(c);
		return;
	}
	if (c->state == PGC_UP && c->head) {
		snprintf(why, sizeof why, "no answer from %s for %.0f s", c->server, c->query_timeout);
		log_warn("postgresql: %s: connecting again", why);
		lose(c, why);
	}
}

/* ---- life cycle ------------------------------------------------------------- */

static void state_nop(struct pgc *c, bool up, const char *why, void *arg)
{
}

int pg_conninfo_check(const char *conninfo, char *err, size_t errlen)
{
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &msg), *o;
	int rc = 0;

	if (!opts) {
		snprintf(err, errlen, "%s", msg ? msg : "cannot be read (out of memory)");
		err[strcspn(err, "\n")] = '\0';
		PQfreemem(msg);
		return -1;
	}
	for (o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			rc = 1;
	PQconninfoFree(opts);
	return rc;
}

struct pgc *pgc_new(struct ev_loop *loop, const struct pgc_params *p, pgc_state_fn fn, void *arg)
{
	struct pgc *c = xcalloc(1, sizeof *c);
	char err[256];

	c->loop = loop;
	c->connect_timeout = p->connect_timeout;
	c->query_timeout = p->query_timeout > 0 ? p->query_timeout : 30.0;
	if (parse_conninfo(c, p->conninfo, err, sizeof err) != 0) {
		snprintf(c->err, sizeof c->err, "%s", err);
		c->nhosts = 0;
	}
	if (c->connect_timeout <= 0)
		c->connect_timeout = CONNECT_TIMEOUT;
	c->password = p->password ? xstrdup(p->password) : NULL;
	c->appname = p->application_name ? xstrdup(p->application_name) : NULL;
	c->state_fn = fn ? fn : state_nop;
	c->arg = arg;
	if (getrandom(&c->rng, sizeof c->rng, 0) != sizeof c->rng)
		c->rng = (uint64_t)(uintptr_t)c ^ (uint64_t)ev_time();
	ev_io_init(&c->io, io_cb, -1, EV_READ);
	ev_timer_init(&c->timer, timer_cb, 0., 0.);
	ev_async_init(&c->resolved_w, resolved_cb);
	c->io.data = c->timer.data = c->resolved_w.data = c;
	ev_async_start(loop, &c->resolved_w);
	return c;
}

void pgc_free(struct pgc *c)
{
	size_t i;

	if (!c)
		return;
	if (c->resolving) {                /* the thread frees it when it ends */
		pthread_mutex_lock(&c->resolving->mu);
		c->resolving->abandoned = true;
		pthread_mutex_unlock(&c->resolving->mu);
	}
	ev_async_stop(c->loop, &c->resolved_w);
	ev_timer_stop(c->loop, &c->timer);
	close_conn(c);
	while (c->head) {
		struct pgc_req *r = c->head;
		c->head = r->next;
		pgc_req_free(r);
	}
	round_free(c);
	for (i = 0; i < c->nhosts; i++)
		target_free(&c->hosts[i]);
	free(c->hosts);
	for (i = 0; i < c->nkw; i++) {
		free(c->kw[i]);
		free(c->vals[i]);
	}
	free(c->kw);
	free(c->vals);
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->appname);
	free(c);
}

bool pgc_up(const struct pgc *c)
{
	return c->state == PGC_UP;
}

const char *pgc_error(const struct pgc *c)
{
	return c->err;
}

const char *pgc_server(const struct pgc *c)
{
	return c->server;
}
