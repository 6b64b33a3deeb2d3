/* alarm.c - waking the loop at an exact wall-clock instant (see alarm.h). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "alarm.h"
#include "log.h"

static void alarm_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct alarm *a = w->data;
	uint64_t expirations;

	(void)loop;
	(void)revents;
	/* clears the readiness; the watchers due now run in this iteration */
	if (read(a->fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
		log_warn("alarm: read: %s", strerror(errno));
}

void alarm_init(struct alarm *a, struct ev_loop *loop)
{
	a->loop = loop;
	a->at = 0;
	a->fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (a->fd < 0) {
		log_warn("alarm: timerfd_create: %s (reminders may leave up to 1 ms after their due)", strerror(errno));
		return;
	}
	ev_io_init(&a->io, alarm_cb, a->fd, EV_READ);
	a->io.data = a;
	ev_io_start(loop, &a->io);
	ev_unref(loop);                /* an alarm alone does not keep the loop running */
}

void alarm_set(struct alarm *a, double at)
{
	struct itimerspec its = {0};

	a->at = at;
	if (a->fd < 0)
		return;
	its.it_value.tv_sec = (time_t)floor(at);
	its.it_value.tv_nsec = (long)((at - floor(at)) * 1e9);
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1;      /* all zero would disarm it */
	if (timerfd_settime(a->fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn("alarm: timerfd_settime: %s", strerror(errno));
}

double alarm_next(const struct alarm *a)
{
	return a->at > ev_time() ? a->at : 0;
}

void alarm_close(struct alarm *a)
{
	if (a->fd < 0)
		return;
	ev_ref(a->loop);
	ev_io_stop(a->loop, &a->io);
	close(a->fd);
	a->fd = -1;
}
