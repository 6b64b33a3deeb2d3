/* curl_floor.c - the least a libcurl client driven by libev does to send
 * iopd's webhook requests: W2's and W3's floor on this machine.
 *
 *   curl_floor burst  URL N CONC [LEDGER.db]
 *   curl_floor spread URL N SECS CONC T0 WARMUP DUES.jsonl
 *
 * Each request is what iopd's webhook module sends (the same headers and a
 * body of the same shape and size, see plugins/webhook/webhook.c), set up
 * with the options iopd sets, through one multi handle driven by libev the
 * way daemon/http.c drives it, with easy handles kept and reused.  Nothing
 * else: no ledger, no consent, no template, no HMAC (the signature header
 * carries a fixed value of the same length), no log line.  So what this
 * program reaches is the most iopd could reach with libcurl on one loop.
 *
 * burst:  N requests, CONC at a time, as W2 sends them.  With LEDGER.db,
 *         the least a durable client writes (W2's durable floor): a claim
 *         committed before its request leaves and its outcome after, in a
 *         fresh SQLite ledger set up as iopd sets up its own (WAL,
 *         synchronous = FULL), one commit per loop iteration (the
 *         outcomes of the iteration's replies with the claims of the
 *         requests that take their slots), as iopd batches its commits.
 *         The ledger is one table of one row per reminder, keyed by its
 *         64-bit id (UNIQUE, so a claim can refuse a second send), with the
 *         columns SPEC.md names (id, channel, due, attempts, status, time,
 *         gateway id or error) and the patient; iopd's other indexes (the
 *         history, the open reminders, the counts) and its outcome log are
 *         left out.
 * spread: W3's timing.  WARMUP requests at T0 - 5 (they open the
 *         connections), then request i falls due at T0 + i % SECS: each
 *         second's group is started when a CLOCK_REALTIME timerfd armed at
 *         that whole second fires, as iopd's alarm.c wakes its loop.  The ids
 *         and dues go to DUES.jsonl for sinklog.py lateness.
 *
 * The sink's access log gives the rates and the lateness, as for iopd.  On
 * exit one line: ANCHOR curl_floor mode=... requests=... failed=...
 * commits=... cpu_us_per_request=... (user + system over the whole run). */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <ev.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct outcome {
	int64_t id;
	int code;                    /* the reply's status, -1: none */
};

struct req {
	CURL *easy;
	int64_t id;                  /* the ledger's key */
	struct curl_slist *headers;
	char body[512];
	char errbuf[CURL_ERROR_SIZE];
};

static struct {
	struct ev_loop *loop;
	CURLM *multi;
	CURLSH *share;
	ev_timer timer;
	const char *url;
	struct req *pool;            /* conc requests, each reused */
	int *idle, nidle;            /* free slots of pool */
	long n, started, done, failed;
	long secs, t0, warmup, second;   /* spread: the next second to start, -1: warm-up */
	int tfd;
	ev_io tio;
	/* the durable floor */
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *claim, *outcome;
	ev_prepare flush;
	int *claimed, nclaimed;      /* claims not yet committed (pool slots) */
	struct outcome *replied;     /* outcomes not yet committed */
	int nreplied;
	long commits;
} fl;

static size_t discard(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p;
	(void)arg;
	return size * nmemb;
}

static void fail(const char *what)
{
	fprintf(stderr, "curl_floor: %s\n", what);
	exit(1);
}

static void send_req(struct req *r)
{
	if (curl_multi_add_handle(fl.multi, r->easy) != CURLM_OK)
		fail("curl_multi_add_handle");
}

/* splitmix64: ids spread over the key space as iopd's hashed ids are */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void start(const char *id, long due)
{
	struct req *r;
	char line[128];

	if (fl.nidle == 0)
		fail("no idle slot (raise CONC)");
	r = &fl.pool[fl.idle[--fl.nidle]];
	curl_slist_free_all(r->headers);
	r->headers = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(line, sizeof line, "Idempotency-Key: %s", id);
	r->headers = curl_slist_append(r->headers, line);
	snprintf(line, sizeof line, "X-Iopd-Timestamp: %ld", due);
	r->headers = curl_slist_append(r->headers, line);
	r->headers = curl_slist_append(r->headers, "X-Iopd-Signature: sha256="
	    "0000000000000000000000000000000000000000000000000000000000000000");
	snprintf(r->body, sizeof r->body,
	    "{\"id\":\"%s\",\"kind\":\"session\",\"patient\":\"p000001\",\"event\":\"2027-01-11T23:00:00Z\","
	    "\"due\":\"2027-01-11T22:00:00Z\",\"channel\":\"hook\",\"status\":\"due\"}", id);
	curl_easy_setopt(r->easy, CURLOPT_URL, fl.url);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	r->id = (int64_t)mix((uint64_t)fl.started);
	if (fl.db)
		fl.claimed[fl.nclaimed++] = (int)(r - fl.pool);   /* leaves once committed */
	else
		send_req(r);
	fl.started++;
}

static void start_next_burst(void)
{
	char id[32];

	while (fl.nidle > 0 && fl.started < fl.n) {
		snprintf(id, sizeof id, "floor-%07ld", fl.started);
		start(id, (long)time(NULL));
	}
}

static void finished(void)
{
	CURLMsg *m;
	int left;
	long code;

	while ((m = curl_multi_info_read(fl.multi, &left)) != NULL) {
		struct req *r;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		code = 0;
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		if (m->data.result != CURLE_OK || code / 100 != 2)
			fl.failed++;
		curl_multi_remove_handle(fl.multi, m->easy_handle);
		/* The slot's next claim is committed with this outcome, and
		 * its request leaves after that commit: the outcome is
		 * recorded before the slot is reused (SPEC.md 6). */
		if (fl.db)
			fl.replied[fl.nreplied++] = (struct outcome){ r->id,
			    m->data.result == CURLE_OK ? (int)code : -1 };
		fl.idle[fl.nidle++] = (int)(r - fl.pool);
		fl.done++;
	}
	if (fl.secs == 0)
		start_next_burst();
	if (fl.done == fl.n + fl.warmup && !fl.db)
		ev_break(fl.loop, EVBREAK_ALL);
}

/* ---- the durable floor's ledger ---- */

static void db_exec(const char *sql)
{
	if (sqlite3_exec(fl.db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail(sqlite3_errmsg(fl.db));
}

static sqlite3_stmt *db_prepare(const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v3(fl.db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		fail(sqlite3_errmsg(fl.db));
	return st;
}

static void db_step(sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		fail(sqlite3_errmsg(fl.db));
	sqlite3_reset(st);
}

static void db_open(const char *path)
{
	char wal[4096];

	snprintf(wal, sizeof wal, "%s-wal", path);
	unlink(path);
	unlink(wal);
	if (sqlite3_open(path, &fl.db) != SQLITE_OK)
		fail("cannot open the ledger");
	db_exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -65536;"
	    "CREATE TABLE reminder(id INTEGER NOT NULL UNIQUE, patient TEXT NOT NULL,"
	    "  channel TEXT NOT NULL, due INTEGER NOT NULL, status TEXT NOT NULL,"
	    "  attempts INTEGER NOT NULL, reason TEXT, gateway_id TEXT, updated INTEGER NOT NULL);");
	fl.begin = db_prepare("BEGIN IMMEDIATE");
	fl.commit = db_prepare("COMMIT");
	fl.claim = db_prepare("INSERT INTO reminder(id, patient, channel, due, status, attempts, updated) "
	    "VALUES(?1, ?2, 'hook', ?3, 'inflight', 1, ?3) ON CONFLICT(id) DO NOTHING");
	fl.outcome = db_prepare("UPDATE reminder SET status = ?2, reason = ?3, updated = ?4 WHERE id = ?1");
}

/* One commit: the replies' outcomes and the claims of the requests that
 * take their slots; then those requests leave. */
static void db_flush(void)
{
	long now = (long)time(NULL);
	char patient[16];
	int i;

	db_step(fl.begin);
	for (i = 0; i < fl.nreplied; i++) {
		const struct outcome *o = &fl.replied[i];
		sqlite3_bind_int64(fl.outcome, 1, o->id);
		sqlite3_bind_text(fl.outcome, 2, o->code / 100 == 2 ? "sent" : "retry", -1, SQLITE_STATIC);
		if (o->code / 100 == 2)
			sqlite3_bind_null(fl.outcome, 3);
		else
			sqlite3_bind_text(fl.outcome, 3, "HTTP error", -1, SQLITE_STATIC);
		sqlite3_bind_int64(fl.outcome, 4, now);
		db_step(fl.outcome);
	}
	for (i = 0; i < fl.nclaimed; i++) {
		struct req *r = &fl.pool[fl.claimed[i]];
		snprintf(patient, sizeof patient, "p%06ld", (long)((uint64_t)r->id % 1000000));
		sqlite3_bind_int64(fl.claim, 1, r->id);
		sqlite3_bind_text(fl.claim, 2, patient, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(fl.claim, 3, now);
		db_step(fl.claim);
	}
	db_step(fl.commit);
	fl.commits++;
	for (i = 0; i < fl.nclaimed; i++)
		send_req(&fl.pool[fl.claimed[i]]);
	fl.nclaimed = fl.nreplied = 0;
}

/* Once per loop iteration, before it polls, as iopd's dispatch commits */
static void on_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)w;
	(void)revents;
	if (fl.nclaimed || fl.nreplied)
		db_flush();
	if (fl.done == fl.n && !fl.nclaimed && !fl.nreplied)
		ev_break(loop, EVBREAK_ALL);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	int running, ev = (revents & EV_READ ? CURL_CSELECT_IN : 0) |
	    (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);

	(void)loop;
	curl_multi_socket_action(fl.multi, w->fd, ev, &running);
	finished();
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	int running;

	(void)loop;
	(void)w;
	(void)revents;
	curl_multi_socket_action(fl.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	finished();
}

static int socket_cb(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
	ev_io *w = sockp;
	int ev = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);

	(void)e;
	(void)arg;
	if (what == CURL_POLL_REMOVE) {
		if (w) {
			ev_io_stop(fl.loop, w);
			free(w);
			curl_multi_assign(fl.multi, s, NULL);
		}
		return 0;
	}
	if (!w) {
		if (!(w = malloc(sizeof *w)))
			fail("out of memory");
		ev_io_init(w, on_io, s, ev);
		curl_multi_assign(fl.multi, s, w);
	} else {
		ev_io_stop(fl.loop, w);
		ev_io_set(w, s, ev);
	}
	ev_io_start(fl.loop, w);
	return 0;
}

static int timer_cb(CURLM *m, long ms, void *arg)
{
	(void)m;
	(void)arg;
	ev_timer_stop(fl.loop, &fl.timer);
	if (ms >= 0) {
		ev_timer_set(&fl.timer, ms / 1000.0, 0.0);
		ev_timer_start(fl.loop, &fl.timer);
	}
	return 0;
}

/* spread: arm the timerfd at the next group's whole second */
static void arm(void)
{
	struct itimerspec its = {0};

	its.it_value.tv_sec = fl.second < 0 ? fl.t0 - 5 : fl.t0 + fl.second;
	if (timerfd_settime(fl.tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		fail("timerfd_settime");
}

static void on_second(struct ev_loop *loop, ev_io *w, int revents)
{
	unsigned long long ticks;
	char id[32];
	long i, due;

	(void)revents;
	if (read(w->fd, &ticks, sizeof ticks) < 0)
		return;
	if (fl.second < 0) {
		for (i = 0; i < fl.warmup; i++) {
			snprintf(id, sizeof id, "floor-warm-%04ld", i);
			start(id, fl.t0 - 5);
		}
	} else {
		due = fl.t0 + fl.second;
		for (i = fl.second; i < fl.n; i += fl.secs) {
			snprintf(id, sizeof id, "floor-%07ld", i);
			start(id, due);
		}
	}
	if (++fl.second < fl.secs)
		arm();
	else
		ev_io_stop(loop, w);
	on_timeout(loop, &fl.timer, 0);   /* as iopd: the transfers start in this turn */
}

static void write_dues(const char *path)
{
	FILE *f = fopen(path, "w");
	char due[32];
	long i;

	if (!f)
		fail("cannot write the dues file");
	for (i = 0; i < fl.n; i++) {
		time_t t = (time_t)(fl.t0 + i % fl.secs);

		strftime(due, sizeof due, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		fprintf(f, "{\"id\":\"floor-%07ld\",\"due\":\"%s\"}\n", i, due);
	}
	if (fclose(f) != 0)
		fail("cannot write the dues file");
}

static void setup(int conc, const char *ledger)
{
	int i;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(fl.multi = curl_multi_init()))
		fail("curl init");
	fl.loop = EV_DEFAULT;
	ev_timer_init(&fl.timer, on_timeout, 0.0, 0.0);
	curl_multi_setopt(fl.multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(fl.multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(fl.multi, CURLMOPT_MAXCONNECTS, 1024L);
	fl.share = curl_share_init();
	curl_share_setopt(fl.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	fl.pool = calloc((size_t)conc, sizeof *fl.pool);
	fl.idle = calloc((size_t)conc, sizeof *fl.idle);
	fl.claimed = calloc((size_t)conc, sizeof *fl.claimed);
	fl.replied = calloc((size_t)conc, sizeof *fl.replied);
	if (!fl.pool || !fl.idle || !fl.claimed || !fl.replied)
		fail("out of memory");
	if (ledger) {
		db_open(ledger);
		ev_prepare_init(&fl.flush, on_flush);
		ev_prepare_start(fl.loop, &fl.flush);
	}
	for (i = 0; i < conc; i++) {
		CURL *e = curl_easy_init();

		if (!e)
			fail("curl_easy_init");
		fl.pool[i].easy = e;
		curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)&fl.pool[i]);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, fl.pool[i].errbuf);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 15000L);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(e, CURLOPT_USERAGENT, "iopd-webhook/1.1");
		curl_easy_setopt(e, CURLOPT_SHARE, fl.share);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, discard);
		fl.idle[fl.nidle++] = i;
	}
}

int main(int argc, char **argv)
{
	struct rusage ru;
	const char *ledger = NULL;
	int conc;

	if ((argc == 5 || argc == 6) && strcmp(argv[1], "burst") == 0) {
		ledger = argc == 6 ? argv[5] : NULL;
		fl.n = atol(argv[3]);
		conc = atoi(argv[4]);
	} else if (argc == 9 && strcmp(argv[1], "spread") == 0) {
		fl.n = atol(argv[3]);
		fl.secs = atol(argv[4]);
		conc = atoi(argv[5]);
		fl.t0 = atol(argv[6]);
		fl.warmup = atol(argv[7]);
	} else {
		fprintf(stderr, "usage: curl_floor burst URL N CONC [LEDGER.db]\n"
		    "       curl_floor spread URL N SECS CONC T0 WARMUP DUES.jsonl\n");
		return 2;
	}
	if (fl.n <= 0 || conc <= 0 || (argc == 9 && (fl.secs <= 0 || fl.warmup < 0 || fl.warmup > conc)))
		fail("N, CONC and SECS must be positive, WARMUP from 0 to CONC");
	fl.url = argv[2];
	setup(conc, ledger);
	if (fl.secs) {
		write_dues(argv[8]);
		fl.second = fl.warmup > 0 ? -1 : 0;
		if ((fl.tfd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK)) < 0)
			fail("timerfd_create");
		ev_io_init(&fl.tio, on_second, fl.tfd, EV_READ);
		ev_io_start(fl.loop, &fl.tio);
		arm();
	} else {
		start_next_burst();
		on_timeout(fl.loop, &fl.timer, 0);
	}
	ev_run(fl.loop, 0);
	getrusage(RUSAGE_SELF, &ru);
	printf("ANCHOR curl_floor mode=%s requests=%ld failed=%ld commits=%ld cpu_us_per_request=%.1f\n",
	    argv[1], fl.done, fl.failed, fl.commits,
	    ((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) /
	    (double)(fl.done ? fl.done : 1));
	return fl.failed ? 1 : 0;
}
