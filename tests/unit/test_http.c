/* test_http.c - daemon/http.c against a real HTTP server on 127.0.0.1.
 *
 * The server runs in threads of this process (one per connection, HTTP/1.1
 * keep-alive), so a slow response sleeps in its own thread while the libev
 * loop under test keeps running.  Paths:
 *   /n/N      200, body "N"
 *   /fast     200, body "fast"
 *   /slow/MS  200 after MS milliseconds, body "slow" */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "http.h"
#include "log.h"

/* ------------------------------------------------------------------------
 * The server
 * --------------------------------------------------------------------- */

static int srv_fd = -1;
static int srv_port;
static pthread_t srv_thread;

static void srv_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int srv_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int srv_respond(int fd, const char *path)
{
	char body[64], resp[256];
	long ms;

	if (sscanf(path, "/slow/%ld", &ms) == 1) {
		srv_sleep_ms(ms);
		snprintf(body, sizeof body, "slow");
	} else if (strncmp(path, "/n/", 3) == 0) {
		snprintf(body, sizeof body, "%.32s", path + 3);
	} else {
		snprintf(body, sizeof body, "fast");
	}
	snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	return srv_write_all(fd, resp, strlen(resp));
}

/* Reads requests (GET, no body) until the client closes. */
static void *srv_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096], path[256];
	size_t len = 0;

	for (;;) {
		char *end = NULL;
		ssize_t n;

		buf[len] = '\0';
		while (!(end = strstr(buf, "\r\n\r\n"))) {
			if (len >= sizeof buf - 1)
				goto out;
			n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto out;
			len += (size_t)n;
			buf[len] = '\0';
		}
		if (sscanf(buf, "GET %255s", path) != 1 || srv_respond(fd, path) < 0)
			goto out;
		end += 4;
		len -= (size_t)(end - buf);
		memmove(buf, end, len);
	}
out:
	close(fd);
	return NULL;
}

static void *srv_accept(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(srv_fd, NULL, NULL);
		pthread_t t;
		pthread_attr_t at;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;   /* shutdown() by the teardown */
		}
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &at, srv_conn, (void *)(intptr_t)fd) != 0)
			close(fd);
		pthread_attr_destroy(&at);
	}
}

static int srv_start(void **state)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof a;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_LVL_WARNING);
	srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(srv_fd, 128) < 0 || getsockname(srv_fd, (struct sockaddr *)&a, &alen) < 0)
		return -1;
	srv_port = ntohs(a.sin_port);
	return pthread_create(&srv_thread, NULL, srv_accept, NULL) == 0 ? 0 : -1;
}

static int srv_stop(void **state)
{
	(void)state;
	shutdown(srv_fd, SHUT_RDWR);
	pthread_join(srv_thread, NULL);
	close(srv_fd);
	return 0;
}

/* ------------------------------------------------------------------------
 * Client side
 * --------------------------------------------------------------------- */

struct tx {
	CURL *easy;
	char body[64];
	size_t len;
	int calls;
	CURLcode rc;
	double t_done;
	struct tctx *t;
	void (*then)(struct tx *x);    /* extra work inside the done callback */
};

struct tctx {
	struct ev_loop *loop;
	struct http *h;
	int ndone, want;
	ev_timer guard;
	struct tx *victim, *extra;     /* for the callback tests */
};

static size_t tx_write(char *p, size_t size, size_t n, void *arg)
{
	struct tx *x = arg;
	size_t k = size * n;

	if (x->len + k >= sizeof x->body)
		return 0;
	memcpy(x->body + x->len, p, k);
	x->len += k;
	x->body[x->len] = '\0';
	return k;
}

static void tx_done(CURL *easy, CURLcode rc, void *arg)
{
	struct tx *x = arg;

	assert_ptr_equal(easy, x->easy);
	x->calls++;
	x->rc = rc;
	x->t_done = ev_time();
	x->t->ndone++;
	if (x->then)
		x->then(x);
	if (x->t->ndone >= x->t->want)
		ev_break(x->t->loop, EVBREAK_ALL);
}

static void tx_init(struct tx *x, struct tctx *t, const char *path)
{
	char url[128];

	memset(x, 0, sizeof *x);
	x->t = t;
	x->easy = curl_easy_init();
	assert_non_null(x->easy);
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", srv_port, path);
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, tx_write);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, 10000L);
}

static void tx_submit(struct tx *x)
{
	assert_int_equal(http_submit(x->t->h, x->easy, tx_done, x), 0);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void t_init(struct tctx *t)
{
	memset(t, 0, sizeof *t);
	t->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(t->loop);
	t->h = http_new(t->loop);
	assert_non_null(t->h);
	ev_timer_init(&t->guard, guard_cb, 0.0, 0.0);
}

/* Runs the loop until `want` callbacks happened or `secs` passed. */
static void t_run(struct tctx *t, int want, double secs)
{
	t->want = want;
	ev_now_update(t->loop);
	ev_timer_set(&t->guard, secs, 0.0);
	ev_timer_start(t->loop, &t->guard);
	if (t->ndone < want)
		ev_run(t->loop, 0);
	ev_timer_stop(t->loop, &t->guard);
}

static void t_fini(struct tctx *t)
{
	http_free(t->h);
	ev_loop_destroy(t->loop);
}

static long tx_status(const struct tx *x)
{
	long code = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

/* ------------------------------------------------------------------------
 * Tests
 * --------------------------------------------------------------------- */

static void test_fifty_concurrent(void **state)
{
	enum { N = 50 };
	struct tctx t;
	struct tx x[N];
	char path[32], want[16];
	int i;

	(void)state;
	t_init(&t);
	for (i = 0; i < N; i++) {
		snprintf(path, sizeof path, "/n/%d", i);
		tx_init(&x[i], &t, path);
		tx_submit(&x[i]);
	}
	assert_int_equal(http_active(t.h), N);
	t_run(&t, N, 10.0);
	assert_int_equal(t.ndone, N);
	assert_int_equal(http_active(t.h), 0);
	for (i = 0; i < N; i++) {
		snprintf(want, sizeof want, "%d", i);
		assert_int_equal(x[i].calls, 1);
		assert_int_equal(x[i].rc, CURLE_OK);
		assert_int_equal(tx_status(&x[i]), 200);
		assert_string_equal(x[i].body, want);
		/* the handle is the caller's again: it can run once more */
		curl_easy_cleanup(x[i].easy);
	}
	t_fini(&t);
}

/* A transfer that fails before it ever has a socket is driven only by the
 * 0 ms timeout curl asks for when the handle is added: the loop must not
 * wait at all for it. */
static void test_zero_timeout(void **state)
{
	struct tctx t;
	struct tx x;
	double start;
	int i;

	(void)state;
	t_init(&t);
	tx_init(&x, &t, "/");
	curl_easy_setopt(x.easy, CURLOPT_URL, "iopd-nosuchscheme://127.0.0.1/");
	tx_submit(&x);
	start = ev_time();
	t.want = 1;
	for (i = 0; i < 5 && !x.calls; i++)
		ev_run(t.loop, EVRUN_NOWAIT);
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.rc, CURLE_UNSUPPORTED_PROTOCOL);
	assert_true(ev_time() - start < 0.5);
	assert_int_equal(http_active(t.h), 0);
	curl_easy_cleanup(x.easy);
	t_fini(&t);
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 200 ms must stay 200 ms, not 200 / 1000 == 0 s: that would still time
 * out on time, but by spinning the loop, so the CPU time tells. */
static void test_subsecond_timeout(void **state)
{
	struct tctx t;
	struct tx x;
	double start, took, cpu;

	(void)state;
	t_init(&t);
	tx_init(&x, &t, "/slow/3000");
	curl_easy_setopt(x.easy, CURLOPT_TIMEOUT_MS, 200L);
	start = ev_time();
	cpu = cpu_seconds();
	tx_submit(&x);
	t_run(&t, 1, 5.0);
	took = x.t_done - start;
	cpu = cpu_seconds() - cpu;
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.rc, CURLE_OPERATION_TIMEDOUT);
	assert_true(took >= 0.15);
	assert_true(took < 1.5);
	if (cpu > 0.5 * took)
		fail_msg("busy loop: %.3f s of CPU in %.3f s", cpu, took);
	curl_easy_cleanup(x.easy);
	t_fini(&t);
}

static void test_slow_does_not_block_fast(void **state)
{
	struct tctx t;
	struct tx slow, fast;
	double start;

	(void)state;
	t_init(&t);
	tx_init(&slow, &t, "/slow/1000");
	tx_init(&fast, &t, "/fast");
	start = ev_time();
	tx_submit(&slow);
	tx_submit(&fast);
	t_run(&t, 2, 10.0);
	assert_int_equal(slow.calls, 1);
	assert_int_equal(fast.calls, 1);
	assert_int_equal(slow.rc, CURLE_OK);
	assert_int_equal(fast.rc, CURLE_OK);
	assert_string_equal(fast.body, "fast");
	assert_string_equal(slow.body, "slow");
	assert_true(fast.t_done - start < 0.5);
	assert_true(slow.t_done - start >= 0.9);
	assert_true(fast.t_done < slow.t_done);
	curl_easy_cleanup(slow.easy);
	curl_easy_cleanup(fast.easy);
	t_fini(&t);
}

static void test_cancel(void **state)
{
	struct tctx t;
	struct tx x, never;

	(void)state;
	t_init(&t);
	tx_init(&x, &t, "/slow/300");
	tx_init(&never, &t, "/fast");
	tx_submit(&x);
	assert_int_equal(http_submit(t.h, x.easy, tx_done, &x), -1);   /* already running */
	t_run(&t, 1, 0.1);
	http_cancel(t.h, x.easy);
	http_cancel(t.h, x.easy);          /* twice: harmless */
	http_cancel(t.h, never.easy);      /* never submitted: harmless */
	assert_int_equal(http_active(t.h), 0);
	t_run(&t, 1, 0.6);                 /* past the server's answer */
	assert_int_equal(x.calls, 0);
	/* and the handle can be used again */
	tx_submit(&x);
	t_run(&t, 1, 5.0);
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.rc, CURLE_OK);
	curl_easy_cleanup(x.easy);
	curl_easy_cleanup(never.easy);
	t_fini(&t);
}

/* From inside a done callback: cancel another transfer, submit a new one,
 * and resubmit the handle that just finished. */
static void then_juggle(struct tx *x)
{
	struct tctx *t = x->t;

	if (x->calls == 1) {
		http_cancel(t->h, t->victim->easy);
		tx_submit(t->extra);
		tx_submit(x);
	}
}

static void test_callbacks_may_reenter(void **state)
{
	struct tctx t;
	struct tx a, victim, extra;

	(void)state;
	t_init(&t);
	tx_init(&a, &t, "/n/1");
	tx_init(&victim, &t, "/slow/400");
	tx_init(&extra, &t, "/n/2");
	t.victim = &victim;
	t.extra = &extra;
	a.then = then_juggle;
	tx_submit(&victim);
	tx_submit(&a);
	t_run(&t, 3, 5.0);                 /* a twice, extra once */
	t_run(&t, 99, 0.6);                /* and the victim never */
	assert_int_equal(a.calls, 2);
	assert_int_equal(extra.calls, 1);
	assert_int_equal(victim.calls, 0);
	assert_int_equal(extra.rc, CURLE_OK);
	assert_string_equal(extra.body, "2");
	assert_int_equal(http_active(t.h), 0);
	curl_easy_cleanup(a.easy);
	curl_easy_cleanup(victim.easy);
	curl_easy_cleanup(extra.easy);
	t_fini(&t);
}

/* http_free with transfers running: no callback, nothing leaks (ASan),
 * and the handles are the caller's to clean up afterwards. */
static void test_free_in_flight(void **state)
{
	enum { N = 10 };
	struct tctx t;
	struct tx x[N];
	int i;

	(void)state;
	t_init(&t);
	for (i = 0; i < N; i++) {
		tx_init(&x[i], &t, i % 2 ? "/slow/2000" : "/n/5");
		tx_submit(&x[i]);
	}
	t_run(&t, N, 0.2);
	assert_true(http_active(t.h) >= N / 2);
	t_fini(&t);
	for (i = 0; i < N; i++) {
		if (i % 2)
			assert_int_equal(x[i].calls, 0);
		curl_easy_cleanup(x[i].easy);
	}
}

static void test_free_idle(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);

	(void)state;
	http_free(http_new(loop));
	http_free(NULL);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifty_concurrent),
		cmocka_unit_test(test_zero_timeout),
		cmocka_unit_test(test_subsecond_timeout),
		cmocka_unit_test(test_slow_does_not_block_fast),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_callbacks_may_reenter),
		cmocka_unit_test(test_free_in_flight),
		cmocka_unit_test(test_free_idle),
	};

	return cmocka_run_group_tests(tests, srv_start, srv_stop);
}
