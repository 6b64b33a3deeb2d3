/* alarm.h - waking the loop at an exact wall-clock instant.
 *
 * libev's epoll backend sleeps in whole milliseconds, rounded up, and the
 * kernel adds its timer slack: a timer or periodic fires 0.5-1.2 ms after
 * its time (bench W3, measured with perf at every due second).  A timerfd
 * armed at the instant makes epoll_wait return at it, to the microsecond;
 * the watchers due by then run in the same loop iteration.
 *
 * An alarm only wakes the loop: what runs at the instant stays a libev
 * watcher of its own, so a missing or misarmed alarm costs precision,
 * never an event.  Linux only, as iopd is. */
#ifndef IOPD_ALARM_H
#define IOPD_ALARM_H

#include <ev.h>

struct alarm {
	struct ev_loop *loop;
	ev_io io;                      /* the timerfd, readable once it fired */
	int fd;                        /* -1: no timerfd, libev's timing only */
	double at;                     /* the instant last asked for, 0 if none */
};

void alarm_init(struct alarm *a, struct ev_loop *loop);
/* Arms the alarm for `at` (ev_time's clock, CLOCK_REALTIME), replacing the
 * instant it was armed for. */
void alarm_set(struct alarm *a, double at);
/* The instant it is armed for, 0 once that is past. */
double alarm_next(const struct alarm *a);
void alarm_close(struct alarm *a);

#endif
