/* test_alarm.c - daemon/alarm.c: the timerfd that wakes the loop at a
 * held reminder's due instant.  How exactly it wakes is measured in bench/
 * (W3), not here; here: that it wakes a loop nothing else would wake,
 * never before its instant, that a new instant replaces the old, and that
 * an alarm alone does not keep the loop running. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "alarm.h"

struct rig {
	struct ev_loop *loop;
	int pipe[2];
	ev_io never;                   /* keeps the loop alive; never readable */
	struct alarm a;
};

static void never_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	fail_msg("the pipe nobody writes became readable");
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof *r);

	assert_non_null(r);
	r->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(r->loop);
	assert_int_equal(pipe(r->pipe), 0);
	ev_io_init(&r->never, never_cb, r->pipe[0], EV_READ);
	alarm_init(&r->a, r->loop);
	assert_true(r->a.fd >= 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	ev_io_stop(r->loop, &r->never);
	alarm_close(&r->a);
	ev_loop_destroy(r->loop);
	close(r->pipe[0]);
	close(r->pipe[1]);
	free(r);
	return 0;
}

/* One loop iteration with nothing but the pipe and the alarm: without the
 * alarm, libev would block for its longest wait (about a minute). */
static double run_once(struct rig *r)
{
	ev_io_start(r->loop, &r->never);
	ev_run(r->loop, EVRUN_ONCE);
	return ev_time();
}

static void test_wakes_the_loop(void **state)
{
	struct rig *r = *state;
	double at = ev_time() + 0.05, woke;

	alarm_set(&r->a, at);
	assert_true(alarm_next(&r->a) == at);
	woke = run_once(r);
	assert_true(woke >= at);           /* never before its instant */
	assert_true(woke < at + 10);
	assert_true(alarm_next(&r->a) == 0);
}

static void test_replaced(void **state)
{
	struct rig *r = *state;
	double late = ev_time() + 30, at = ev_time() + 0.05, woke;

	alarm_set(&r->a, late);
	alarm_set(&r->a, at);              /* an earlier due held since */
	assert_true(alarm_next(&r->a) == at);
	woke = run_once(r);
	assert_true(woke >= at);
	assert_true(woke < late - 10);
}

static void test_past_instant_wakes_at_once(void **state)
{
	struct rig *r = *state;
	double t0 = ev_time();

	alarm_set(&r->a, t0 - 1);
	assert_true(alarm_next(&r->a) == 0);
	assert_true(run_once(r) < t0 + 10);
	/* the readiness was read: the next iteration blocks again, until a
	 * new instant */
	alarm_set(&r->a, ev_time() + 0.05);
	assert_true(run_once(r) < t0 + 10);
}

static void test_does_not_keep_the_loop(void **state)
{
	struct rig *r = *state;
	double t0 = ev_time();

	alarm_set(&r->a, t0 + 30);
	ev_run(r->loop, 0);                /* nothing else is active: returns */
	assert_true(ev_time() < t0 + 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_wakes_the_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_past_instant_wakes_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_does_not_keep_the_loop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
