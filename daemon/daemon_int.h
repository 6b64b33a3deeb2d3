/* daemon_int.h - the running daemon's state, shared by daemon.c (wiring,
 * signals, reload), control.c (the control socket) and metrics.c. */
#ifndef IOPD_DAEMON_INT_H
#define IOPD_DAEMON_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include <ev.h>

#include "conf.h"
#include "daemon.h"
#include "dispatch.h"
#include "errs.h"
#include "http.h"
#include "ledger.h"
#include "schedule.h"
#include "snapshot.h"

struct control;
struct consent;
struct inbound;

typedef void (*reload_fn)(int ok, const char *errors, void *arg);

struct reload_waiter {
	reload_fn fn;
	void *arg;
	struct reload_waiter *next;
};

struct daemon {
	struct ev_loop *loop;
	char *config;                  /* absolute path */
	struct snapshot *snap;         /* current configuration */
	struct sched *sched;
	struct ledger *ledger;
	struct dispatch *dispatch;
	struct consent *consent;       /* pauses and opt-outs over the configuration */
	struct http *http;
	struct control *control;
	struct inbound *inbound;       /* the listener for gateways' callbacks, or NULL */
	time_t started;
	long reloads, reload_failures;
	char last_error[256];

	ev_periodic tick_w;            /* the next due reminder */
	ev_periodic pause_w;           /* the earliest end of a pause (iopctl pause --until) */
	ev_timer retention_w;          /* the ledger's upkeep (retention.c) */
	long retention_deleted;        /* rows deleted by the current run of steps */
	ev_signal term_w, int_w, hup_w;
	ev_timer drain_w, status_w, metrics_w;
	/* the loop's longest stall (seconds): how late stall_w ran, and the
	 * most CPU one iteration took (daemon.c, stall_cb and busy_*_cb) */
	ev_timer stall_w;
	ev_check busy_begin_w;
	ev_prepare busy_end_w;
	double stall_due, loop_stall_max, busy_from, loop_busy_max;
	bool stopping;
	int exit_code;

	/* a reload runs conf_load + sched_new on a thread, then swaps here */
	pthread_t reload_thread;
	bool reload_running, reload_again;
	ev_async reload_done_w;
	struct snapshot *reload_snap;
	struct sched *reload_sched;
	struct errs reload_errs;
	int64_t reload_mark;
	double reload_started;
	double reload_longest_swap;    /* seconds: the longest loop stall a swap caused */
	char reload_cache[300];        /* what became of the patients cache (logged on the loop) */
	struct conf_cache start_cache; /* the first load's, saved once state_dir exists */
	struct reload_waiter *waiters;      /* answered by the running reload */
	struct reload_waiter *waiters_next; /* asked while it ran: answered by the next one */

	/* daemon.metrics_file: written every metrics_interval (metrics_w);
	 * a failure is logged once, and again when writing works again */
	bool metrics_failing;

	/* today's outcomes from the ledger (sent, failed), for STATUS=;
	 * read when the day begins (today_midnight changes); the dispatcher's
	 * totals at that moment (base) let the line count what happened since */
	long today_sent, today_failed, today_base_sent, today_base_failed;
	int64_t today_midnight;

	/* the ledger's file was deleted or replaced under us (ledger check):
	 * found by status_w within a second, or by the next batch */
	bool ledger_lost;
	char ledger_lost_why[512];

	const struct daemon_opts *opts;   /* -v / -l win over daemon.log_level */

	/* the ledger's start (ledger load): with a server, it may come after
	 * start-up; until then the schedule does not run (ledger_ready) */
	struct ledger_load load_cb;
	struct ledger_rec *pending;    /* left open by the last run, resumed at ledger_go */
	size_t npending, npending_cap;
	int64_t load_mark, load_now;
	bool loaded, ledger_ready;
	char *pause_lifting;           /* the patient whose pause's end is being recorded */
	void *retention_step;          /* a retention step on its way to a networked ledger */
	unsigned sched_gen, reload_gen; /* the schedule was rebuilt from the ledger's mark */
};

/* Asks for a reload; fn (may be NULL) runs when it succeeded or failed. */
void daemon_reload(struct daemon *dm, reload_fn fn, void *arg);
/* Updates the systemd STATUS= line. */
void daemon_status_line(struct daemon *dm);
/* Why the ledger cannot be written now (so nothing is sent), or NULL:
 * the dispatcher's last failed batch, a ledger file that is gone, or a
 * networked ledger that is not connected. */
const char *daemon_ledger_error(const struct daemon *dm, const struct dispatch_stats *st);

/* The pauses with an end changed (iopctl pause --until): the timer that
 * lifts them is set again for the earliest. */
void daemon_pause_expiry_arm(struct daemon *dm);

int control_start(struct daemon *dm, char *err, size_t errlen);
void control_stop(struct daemon *dm);

#endif
