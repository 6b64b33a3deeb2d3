/* notify.c - see notify.h */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

static ev_timer watchdog_w;
static char last_status[512];

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	sd_notify(0, "WATCHDOG=1");
}

void notify_start(struct ev_loop *loop)
{
	uint64_t usec = 0;

	/* WATCHDOG_USEC without NOTIFY_SOCKET: nobody to ping */
	if (getenv("NOTIFY_SOCKET") && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		double every = (double)usec / 2e6;
		ev_timer_init(&watchdog_w, watchdog_cb, every, every);
		ev_timer_start(loop, &watchdog_w);
		log_info("systemd watchdog: pinging every %.3g s", every);
	}
}

void notify_stop(struct ev_loop *loop)
{
	ev_timer_stop(loop, &watchdog_w);
}

void notify_ready(void)
{
	sd_notify(0, "READY=1");
}

/* RELOADING=1 needs MONOTONIC_USEC (systemd 253 Type=notify-reload). */
void notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL);
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void notify_status(const char *fmt, ...)
{
	char buf[sizeof last_status], *p;
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* One line: a newline would end the STATUS= assignment (and start
	 * another), so line breaks and other control characters become
	 * spaces, and trailing ones go. */
	for (p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	for (n = strlen(buf); n > 0 && buf[n - 1] == ' '; n--)
		buf[n - 1] = '\0';
	if (strcmp(buf, last_status) == 0)
		return;
	memcpy(last_status, buf, sizeof buf);
	sd_notifyf(0, "STATUS=%s", buf);
}
