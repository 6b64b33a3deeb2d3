/* notify.h - telling systemd how iopd is doing (sd_notify(3)).
 *
 * Without $NOTIFY_SOCKET every call is a no-op.  The watchdog is pinged
 * from a timer of the main loop at half of $WATCHDOG_USEC, so a loop that
 * is stuck stops pinging and systemd restarts the service. */
#ifndef IOPD_NOTIFY_H
#define IOPD_NOTIFY_H

#include <ev.h>

#include "util.h"

void notify_start(struct ev_loop *loop);
void notify_stop(struct ev_loop *loop);
void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
/* The one-line STATUS=, sent only when it changed. */
void notify_status(const char *fmt, ...) IOPD_PRINTF(1, 2);

#endif
