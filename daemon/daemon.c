/* daemon.c - the running service: wiring, the schedule tick, signals,
 * start-up reconciliation, reloads and shutdown.
 *
 * Everything happens on one libev loop.  The other threads are a
 * reload's, which parses the new configuration and builds its schedule
 * while the loop keeps sending (the loop then swaps them in), and those of
 * the control socket's long answers (control_job.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "civil.h"
#include "conf.h"
#include "consent.h"
#include "daemon_int.h"
#include "followup.h"
#include "inbound.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "plugin_host.h"
#include "retention.h"
#include "timefmt.h"

#define DRAIN_BOUND 10.0               /* seconds in-flight sends get at SIGTERM */
#define RELOAD_JOIN_BOUND 5            /* seconds a reload may still take at the stop */
#define OFFERS_PER_TICK 2000           /* then yield to I/O and come back */
/* Groups are offered this many seconds before their due, so their claims
 * are committed (an fsync) before it and they leave at the due instant
 * itself (dispatch.c job_send_at_due; bench W3). */
#define LOOKAHEAD 0.5
#define STATUS_EVERY 1.0               /* seconds: STATUS= is rebuilt (sent if changed) */
#define STALL_EVERY 0.1                /* seconds between two measures of the loop's lateness */
#define LEDGER_RETRY_PAUSE 5.0         /* seconds: the end of a pause not recorded, tried again */

static int log_level_for(const struct daemon_opts *o, const struct snapshot *s);
static void refresh_today(struct daemon *dm);

/* ---- the schedule tick ------------------------------------------------- */

static void offer_cb(const struct snapshot *s, const struct occ *o, void *arg)
{
	struct daemon *dm = arg;

	dispatch_offer(dm->dispatch, s, o);
}

static void arm_tick(struct daemon *dm, bool more)
{
	int64_t next = sched_next_due(dm->sched);
	double at = more ? ev_now(dm->loop) : (double)next - LOOKAHEAD;

	if (!more && next == CAL_END) {
		ev_periodic_stop(dm->loop, &dm->tick_w);
		return;
	}
	ev_periodic_set(&dm->tick_w, at, 0., NULL);
	ev_periodic_again(dm->loop, &dm->tick_w);
}

/* Offers every group due up to now; the periodic is absolute wall time,
 * so a clock step forward makes everything overdue fall due at once (and
 * what is too late is recorded missed), and a step back repeats nothing:
 * the schedule's mark only moves forward. */
static void run_schedule(struct daemon *dm)
{
	int64_t until = (int64_t)floor(ev_now(dm->loop) + LOOKAHEAD) + 1;
	size_t n;

	if (dm->stopping || !dm->ledger_ready)
		return;                        /* before the ledger's mark is known: nothing */
	n = sched_run(dm->sched, until, OFFERS_PER_TICK, offer_cb, dm);
	dispatch_mark(dm->dispatch, dm->sched->mark);
	arm_tick(dm, n == OFFERS_PER_TICK);
}

static void tick_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	run_schedule(w->data);
}

/* ---- pauses with an end (iopctl pause until=T) -------------------------- */

static void pause_lifted(int rc, const char *err, void *arg);

/* Lifts, and records lifted, every pause whose end has come, one at a
 * time; a pause is no longer in force from its end on (consent_paused),
 * recorded or not. */
static void pause_expiry_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct daemon *dm = w->data;
	int64_t now = (int64_t)ev_now(loop);
	const char *p;
	struct consent_change ch = {OVR_PAUSE, NULL, NULL, 0, OVR_STAFF, "pause ended", now,
		"iopd", -1, NULL, 0};

	if (dm->pause_lifting)
		return;                        /* one on its way to the ledger: its answer goes on */
	if (!(p = consent_first_expired(dm->consent, now))) {
		daemon_pause_expiry_arm(dm);
		return;
	}
	dm->pause_lifting = xstrdup(p);
	ch.patient = dm->pause_lifting;
	consent_submit(dm->consent, dm->ledger, &ch, pause_lifted, dm);
}

/* One pause's end was recorded (then the next), or could not be. */
static void pause_lifted(int rc, const char *err, void *arg)
{
	struct daemon *dm = arg;

	if (rc)
		log_warn("[%s] cannot record the end of the pause yet (%s): tried again in %.0f s",
		    dm->pause_lifting, err, LEDGER_RETRY_PAUSE);
	free(dm->pause_lifting);
	dm->pause_lifting = NULL;
	if (rc) {
		ev_periodic_set(&dm->pause_w, ev_now(dm->loop) + LEDGER_RETRY_PAUSE, 0., NULL);
		ev_periodic_again(dm->loop, &dm->pause_w);
		return;
	}
	pause_expiry_cb(dm->loop, &dm->pause_w, 0);
}

void daemon_pause_expiry_arm(struct daemon *dm)
{
	int64_t t = consent_next_expiry(dm->consent);

	if (!t) {
		ev_periodic_stop(dm->loop, &dm->pause_w);
		return;
	}
	ev_periodic_set(&dm->pause_w, (double)t, 0., NULL);
	ev_periodic_again(dm->loop, &dm->pause_w);
}

/* ---- start-up: what the ledger left open ------------------------------ */

static void pending_cb(const struct ledger_rec *r, void *arg)
{
	struct daemon *dm = arg;
	struct ledger_rec *k;

	grow_array(&dm->pending, &dm->npending_cap, dm->npending + 1, sizeof *dm->pending);
	k = &dm->pending[dm->npending++];
	*k = *r;
	k->patient = xstrdup(r->patient);
	k->channel = xstrdup(r->channel);
	k->kind = xstrdup(r->kind);
	k->tmpl = r->tmpl ? xstrdup(r->tmpl) : NULL;
	k->body = r->body ? xstrdup(r->body) : NULL;
	k->reason = k->gateway_id = k->receipt = k->response = NULL;
}

/* A fallback, an answer to a reply or a staff notice (SPEC 8)? */
static bool rec_derived(const struct ledger_rec *r)
{
	return r->origin || strcmp(r->kind, "reply") == 0 || strcmp(r->kind, "notice") == 0;
}

/* A send derived from a reminder or a reply (SPEC 8), open at the last
 * stop: made again from its row (a fallback's texts from its reminder's
 * group in the calendar).  false if the configuration no longer has what
 * it needs. */
static bool resume_derived(struct daemon *dm, const struct ledger_rec *r)
{
	const struct snapshot *s = dm->snap;
	struct send_spec sp;

	if (!followup_spec(s, r, &sp))
		return false;
	if (strcmp(r->kind, "notice") == 0) {
		sp.type = SEND_NOTICE;
		sp.body = r->body ? r->body : "{}";
		sp.label = r->body && strncmp(r->body, "{\"type\":\"failed\"", 16) == 0 ? "failed" : "reply";
	} else if (strcmp(r->kind, "reply") == 0) {
		sp.type = SEND_ANSWER;
		if (!r->tmpl || (sp.tmpl = snapshot_template(s, r->tmpl)) < 0)
			return false;
	} else {
		sp.type = SEND_FALLBACK;
		if (!followup_texts(s, r->origin, &sp))
			return false;
	}
	dispatch_send(dm->dispatch, s, &sp, r);
	return true;
}

/* A reminder in flight at the last stop goes out again with the same id;
 * one the calendar no longer has is closed. */
static void resume_one(struct daemon *dm, const struct ledger_rec *r)
{
	int64_t p = snapshot_patient(dm->snap, r->patient);
	bool derived = rec_derived(r);
	struct occ o;
	uint16_t ch;

	if (derived && resume_derived(dm, r)) {
		return;
	} else if (!derived && p >= 0 && cal_find(dm->snap, (uint32_t)p, r->due, r->id, &o, &ch) == 0) {
		dispatch_resume(dm->dispatch, dm->snap, &o, ch, r);
	} else {
		struct ledger_rec n = *r;
		n.status = REC_SKIPPED;
		n.reason = "no longer in the configuration";
		n.at = (int64_t)ev_now(dm->loop);
		dispatch_note(dm->dispatch, &n);
	}
}

static void resume_pending(struct daemon *dm)
{
	size_t i;

	for (i = 0; i < dm->npending; i++) {
		resume_one(dm, &dm->pending[i]);
		free((char *)dm->pending[i].patient);
		free((char *)dm->pending[i].channel);
		free((char *)dm->pending[i].kind);
		free((char *)dm->pending[i].tmpl);
		free((char *)dm->pending[i].body);
	}
	if (dm->npending)
		log_notice("resumed %zu reminder(s) left open at the last stop", dm->npending);
	free(dm->pending);
	dm->pending = NULL;
	dm->npending = dm->npending_cap = 0;
}

/* A shared ledger: a reminder another instance left in flight (or waiting
 * to retry) and whose lease ran out.  This instance sends it, with the same
 * id, if its claim wins; one this configuration does not know is left to
 * an instance that does (the fingerprints differ: the log says so).  A
 * derived send (an answer, a notice, a fallback) is made again from its
 * row, as at a start. */
static void orphan_cb(const struct ledger_rec *r, void *arg)
{
	struct daemon *dm = arg;
	int64_t p = snapshot_patient(dm->snap, r->patient);
	struct occ o;
	uint16_t ch;

	if (!dm->ledger_ready || dm->stopping)
		return;
	if (rec_derived(r))
		resume_derived(dm, r);
	else if (p >= 0 && cal_find(dm->snap, (uint32_t)p, r->due, r->id, &o, &ch) == 0)
		dispatch_resume(dm->dispatch, dm->snap, &o, ch, r);
}

static void ovr_cb(const struct ledger_ovr *o, void *arg)
{
	struct daemon *dm = arg;

	consent_loaded(o, dm->consent);
	if (o->until && dm->ledger_ready)     /* a shared ledger's, read again */
		daemon_pause_expiry_arm(dm);
}

static void ovr_reset_cb(void *arg)
{
	consent_reset(((struct daemon *)arg)->consent);
}

static void ledger_ready_cb(void *arg)
{
	dispatch_ledger_ready(((struct daemon *)arg)->dispatch);
}

/* Where the schedule starts: where the last run stopped, or now on a new
 * ledger (history before iopd was installed is neither sent nor missed). */
static int64_t start_mark(struct daemon *dm, int64_t m)
{
	int64_t now = (int64_t)floor(ev_now(dm->loop));

	if (m < 0) {
		/* the ledger wrote the time its load began as the mark (with a
		 * server out of reach at start, that may be a while ago) */
		log_info("new ledger: scheduling from now on");
		return dm->load_now ? dm->load_now : now;
	}
	if (m < now)
		log_notice("catching up from %lld s ago (reminders overdue by more than catch_up are "
		    "recorded missed)", (long long)(now - m));
	return m;
}

/* The ledger's start is read and the daemon's watchers are up: resume what
 * the last run left open, and let the schedule run from the mark. */
static void ledger_go(struct daemon *dm)
{
	int64_t mark = start_mark(dm, dm->load_mark);

	resume_pending(dm);
	dispatch_loaded(dm->dispatch, mark);
	if (dm->sched->mark != mark) {
		/* it was built before the ledger answered (a networked one that
		 * was not reachable at start): build it again from the mark */
		sched_free(dm->sched);
		dm->sched = sched_new(dm->snap, mark);
		dm->sched_gen++;
	}
	dm->ledger_ready = true;
	daemon_pause_expiry_arm(dm);           /* pauses that ended while iopd was down, too */
	retention_start(dm);
	/* the last run may have offered (and settled) anything due up to now */
	dispatch_recheck(dm->dispatch, (int64_t)floor(ev_now(dm->loop)) + 1);
	run_schedule(dm);
	refresh_today(dm);
}

static void loaded_cb(int64_t mark, void *arg)
{
	struct daemon *dm = arg;

	dm->load_mark = mark;
	dm->loaded = true;
	if (dm->sched) {                   /* daemon_start is done: go now */
		ledger_go(dm);
		daemon_status_line(dm);
	}
}

static int ledger_start(struct daemon *dm)
{
	static const struct ledger_load cb0 = {ovr_cb, ovr_reset_cb, pending_cb, orphan_cb, loaded_cb,
		ledger_ready_cb, NULL};
	struct ledger_load *cb = &dm->load_cb;

	*cb = cb0;
	cb->arg = dm;
	dm->load_now = (int64_t)floor(ev_now(dm->loop));
	if (dm->ledger->ops->load(dm->ledger, dm->load_now, cb)) {
		log_err("ledger: %s", dm->ledger->ops->error(dm->ledger));
		return -1;
	}
	return 0;
}

/* ---- channels ------------------------------------------------------- */

static void start_channels(struct daemon *dm, struct snapshot *s)
{
	uint16_t i;

	for (i = 0; i < s->nchannels; i++) {
		struct channel *c = &s->channels[i];
		if (c->insecure_tls)
			log_warn("[%s] TLS certificate verification is OFF (insecure_tls): for tests only",
			    c->name);
		if (c->inst && chan_inst_start(c->inst, dm->loop, http_port(dm->http)) != 0) {
			log_err("[%s] channel could not start: its reminders wait and retry", c->name);
			snprintf(dm->last_error, sizeof dm->last_error, "channel %s could not start", c->name);
		}
	}
}

/* ---- status ----------------------------------------------------------- */

static void today_cb(const char *channel, enum rec_status st, long n, void *arg)
{
	struct daemon *dm = arg;

	if (st == REC_SENT)
		dm->today_sent += n;
	else if (st == REC_FAILED || st == REC_EXPIRED)
		dm->today_failed += n;
}

/* "Sent today" is the ledger's count since local midnight (daemon.timezone),
 * as `iopctl status` shows it, not a counter since start.  The query runs
 * on the loop, so only when the day begins (at start, after midnight, or
 * when a reload moved daemon.timezone): then it counts a day's rows once,
 * or, just after midnight, hardly any.  In between, the dispatcher's own
 * counters add what happened since the query. */
static void refresh_today(struct daemon *dm)
{
	int64_t now = (int64_t)ev_now(dm->loop);
	int64_t midnight = tz_from_wall(dm->snap->tz, wall_make(wall_date(tz_to_wall(dm->snap->tz, now)), 0));
	struct dispatch_stats st;

	if (midnight == dm->today_midnight)
		return;
	dm->today_midnight = midnight;
	dm->today_sent = dm->today_failed = 0;
	dm->ledger->ops->counts_since(dm->ledger, midnight, today_cb, dm);
	dispatch_stats(dm->dispatch, &st);
	dm->today_base_sent = st.sent;
	dm->today_base_failed = st.failed + st.expired;
}

/* One line, e.g. "2431 series scheduled, next due 2026-12-01T23:00:00Z;
 * today 118 sent, 2 failed; 0 queued, 1 in flight; failing: sms; last
 * error: ...".  notify_status sends it only when it changed. */
void daemon_status_line(struct daemon *dm)
{
	struct dispatch_stats st;
	char next[FMT_UTC_LEN + 1] = "none", failing[256];
	int64_t nd = sched_next_due(dm->sched);
	const char *down;

	dispatch_stats(dm->dispatch, &st);
	down = daemon_ledger_error(dm, &st);
	dispatch_failing(dm->dispatch, failing, sizeof failing);
	if (nd != CAL_END)
		fmt_utc(nd, next);
	if (dm->stopping) {
		notify_status("stopping: %ld send(s) in flight", st.inflight);
		return;
	}
	if (!dm->ledger_ready) {
		notify_status("waiting for the ledger, nothing is sent: %s", down ? down : "connecting");
		return;
	}
	notify_status("%zu series scheduled, next due %s; today %ld sent, %ld failed; "
	    "%ld queued, %ld in flight%s%s%s%s",
	    dm->sched->heap.n, next, dm->today_sent + (st.sent - dm->today_base_sent),
	    dm->today_failed + (st.failed + st.expired - dm->today_base_failed), st.queued + st.waiting_retry,
	    st.inflight, *failing ? "; failing: " : "", failing,
	    down ? "; LEDGER: " : dm->last_error[0] ? "; last error: " : "",
	    down ? down : dm->last_error);
}

/* A ledger file that is gone, a networked ledger that is not connected
 * (health), or the dispatcher's last refused batch. */
const char *daemon_ledger_error(const struct daemon *dm, const struct dispatch_stats *st)
{
	const char *h = dm->ledger->ops->health ? dm->ledger->ops->health(dm->ledger) : NULL;

	if (dm->ledger_lost)
		return dm->ledger_lost_why;
	return h ? h : st->ledger_error;
}

/* The ledger's file deleted or replaced under a running iopd: nothing can
 * be recorded any more (begin() refuses), so nothing is sent; say so at
 * once, not only at the next batch, which may be hours away. */
static void watch_ledger(struct daemon *dm)
{
	struct ledger *l = dm->ledger;

	if (!l->ops->check || l->ops->check(l) == 0) {   /* a server has no file to lose */
		if (dm->ledger_lost)
			log_notice("ledger: %s/ledger.db is back", dm->snap->state_dir);
		dm->ledger_lost = false;
		return;
	}
	if (!dm->ledger_lost)
		log_err("ledger: %s", l->ops->error(l));
	snprintf(dm->ledger_lost_why, sizeof dm->ledger_lost_why, "%s", l->ops->error(l));
	dm->ledger_lost = true;
}

static void status_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *dm = w->data;

	watch_ledger(dm);
	refresh_today(dm);
	daemon_status_line(dm);
}

/* ---- the loop's longest stall ------------------------------------------ */

/* Nothing may hold the loop (sends would leave late, the watchdog ping
 * would stop).  Two measures, in `iopctl status` and the metrics:
 *   - stall: how late a timer due every STALL_EVERY runs, i.e. how long
 *     the loop was held, whatever held it (a long callback, an fsync, a
 *     machine so busy the loop waited for a CPU);
 *   - busy: the CPU time the loop's thread used in its longest iteration
 *     (from poll returning to the next poll): iopd's own work alone, what
 *     a control command or a reload costs the loop. */
static void stall_arm(struct daemon *dm)
{
	ev_timer_set(&dm->stall_w, STALL_EVERY, 0.);
	ev_timer_start(dm->loop, &dm->stall_w);
	dm->stall_due = ev_now(dm->loop) + STALL_EVERY;
}

static void stall_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *dm = w->data;
	double late = ev_time() - dm->stall_due;

	if (late > dm->loop_stall_max) {
		dm->loop_stall_max = late;
		if (late > 1.0)
			log_warn("the event loop was held for %.1f s", late);
	}
	stall_arm(dm);
}

/* The thread's CPU time (not a clock a faked time changes). */
static double thread_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* First of an iteration's callbacks (highest priority check watcher)... */
static void busy_begin_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	struct daemon *dm = w->data;

	dm->busy_from = thread_cpu();
}

/* ... and the last thing before the next poll (lowest priority prepare). */
static void busy_end_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct daemon *dm = w->data;
	double busy = dm->busy_from > 0 ? thread_cpu() - dm->busy_from : 0;

	if (busy > dm->loop_busy_max)
		dm->loop_busy_max = busy;
}

static void stall_start(struct daemon *dm)
{
	ev_now_update(dm->loop);
	stall_arm(dm);
	ev_set_priority(&dm->busy_begin_w, EV_MAXPRI);
	ev_set_priority(&dm->busy_end_w, EV_MINPRI);
	ev_check_start(dm->loop, &dm->busy_begin_w);
	ev_prepare_start(dm->loop, &dm->busy_end_w);
}

static void stall_stop(struct daemon *dm)
{
	ev_timer_stop(dm->loop, &dm->stall_w);
	ev_check_stop(dm->loop, &dm->busy_begin_w);
	ev_prepare_stop(dm->loop, &dm->busy_end_w);
}

/* ---- daemon.metrics_file ------------------------------------------------ */

static void metrics_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *dm = w->data;
	char err[512];

	if (!dm->snap->metrics_file)
		return;
	if (metrics_write_file(dm, dm->snap->metrics_file, err, sizeof err) != 0) {
		if (!dm->metrics_failing)          /* once, not every interval */
			log_warn("metrics_file: %s", err);
		dm->metrics_failing = true;
	} else if (dm->metrics_failing) {
		log_notice("metrics_file: %s written again", dm->snap->metrics_file);
		dm->metrics_failing = false;
	}
}

/* (Re)arms the timer for the current configuration: at start and after a
 * reload, which may add, drop or change metrics_file or its interval. */
static void metrics_arm(struct daemon *dm)
{
	ev_timer_stop(dm->loop, &dm->metrics_w);
	if (!dm->snap->metrics_file)
		return;
	ev_timer_set(&dm->metrics_w, 0., dm->snap->metrics_interval);   /* the first one now */
	ev_timer_start(dm->loop, &dm->metrics_w);
}

/* ---- reload ------------------------------------------------------------ */

static void *reload_thread(void *arg)
{
	struct daemon *dm = arg;

	struct conf_cache cc = {.use = true, .keep = true};
	char err[256];

	dm->reload_cache[0] = '\0';
	dm->reload_snap = conf_load_cache(dm->config, CONF_FULL, &dm->reload_errs, &cc);
	if (dm->reload_snap) {
		dm->reload_sched = sched_new(dm->reload_snap, dm->reload_mark);
		/* the patients cache for the next start or reload, off the loop */
		if (cc.hit)
			snprintf(dm->reload_cache, sizeof dm->reload_cache, "patients from the cache");
		else if (cc.can_save && conf_cache_save(&cc, dm->reload_snap, err, sizeof err) != 0)
			snprintf(dm->reload_cache, sizeof dm->reload_cache, "patients cache not written: %s", err);
	}
	conf_cache_free(&cc);
	malloc_trim(0);                    /* the parse tree's memory (see daemon_main), off the loop */
	ev_async_send(dm->loop, &dm->reload_done_w);
	return NULL;
}

static void reload_begin(struct daemon *dm)
{
	int rc;

	notify_reloading();
	log_notice("reloading %s", dm->config);
	memset(&dm->reload_errs, 0, sizeof dm->reload_errs);
	dm->reload_snap = NULL;
	dm->reload_sched = NULL;
	dm->reload_mark = dm->sched->mark;
	dm->reload_gen = dm->sched_gen;
	dm->reload_started = ev_time();
	dm->reload_running = true;
	if ((rc = pthread_create(&dm->reload_thread, NULL, reload_thread, dm)) != 0) {
		/* no thread: parse here; the loop stalls, but the reload happens */
		log_warn("reload: no thread (%s); parsing on the main loop", strerror(rc));
		reload_thread(dm);
		dm->reload_thread = pthread_self();
	}
}

static void reload_answer(struct daemon *dm, int ok, const char *errors)
{
	struct reload_waiter *w = dm->waiters, *next;

	dm->waiters = NULL;
	for (; w; w = next) {
		next = w->next;
		if (w->fn)
			w->fn(ok, errors, w->arg);
		free(w);
	}
}

static bool streq0(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Which ledger, and as which instance, is fixed at start. */
static void ledger_settings_changed(struct daemon *dm, const struct snapshot *n)
{
	const struct snapshot *o = dm->snap;

	if (o->ledger != n->ledger || !streq0(o->instance, n->instance) ||
	    !streq0(o->pg_conninfo, n->pg_conninfo) || o->pg_lease != n->pg_lease ||
	    !streq0(o->pg_token_file, n->pg_token_file) ||
	    !streq0(o->pg_token_credential, n->pg_token_credential) ||
	    (o->ledger == LEDGER_SQLITE && strcmp(o->state_dir, n->state_dir) != 0))
		log_warn("reload: daemon.ledger, postgresql, instance and state_dir take effect at the next "
		    "start; this one keeps its ledger");
	if (dm->ledger->ops->set_fingerprint && n->fingerprint)
		dm->ledger->ops->set_fingerprint(dm->ledger, n->fingerprint);
}

static void reload_swap(struct daemon *dm)
{
	double t0 = ev_time(), stall;
	struct snapshot *old = dm->snap;

	if (dm->reload_gen != dm->sched_gen) {
		/* the ledger's mark arrived while the thread worked: its schedule
		 * starts at a guess; build it again from the mark */
		sched_free(dm->reload_sched);
		dm->reload_sched = sched_new(dm->reload_snap, dm->sched->mark);
	}
	ledger_settings_changed(dm, dm->reload_snap);
	start_channels(dm, dm->reload_snap);
	dispatch_use(dm->dispatch, dm->reload_snap);
	/* the new schedule starts at the mark the old one had when the thread
	 * began; what the old one offered since comes again: look it up */
	dispatch_recheck(dm->dispatch, dm->sched->mark);
	sched_free(dm->sched);
	dm->sched = dm->reload_sched;
	dm->snap = dm->reload_snap;
	inbound_reload(dm->inbound);       /* a new listen address, or none */
	snapshot_unref(old);
	dm->reload_snap = NULL;
	dm->reload_sched = NULL;
	run_schedule(dm);                  /* what fell due while the thread worked */
	log_set_level(log_level_for(dm->opts, dm->snap));   /* daemon.log_level may have changed */
	metrics_arm(dm);
	stall = ev_time() - t0;
	if (stall > dm->reload_longest_swap)
		dm->reload_longest_swap = stall;
	dm->reloads++;
	log_notice("reloaded %s in %.3f s (loop paused %.1f ms): %u programs, %u patients, %u channels",
	    dm->config, ev_time() - dm->reload_started, stall * 1000, dm->snap->nprograms,
	    dm->snap->npatients, dm->snap->nchannels);
}

static void reload_done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct daemon *dm = w->data;

	if (!pthread_equal(dm->reload_thread, pthread_self()))
		pthread_join(dm->reload_thread, NULL);
	dm->reload_running = false;
	if (dm->reload_errs.warn.len)
		log_warn("reload warnings:\n%s", dm->reload_errs.warn.s);
	if (dm->reload_cache[0])
		log_info("reload: %s", dm->reload_cache);
	if (!dm->reload_snap || dm->stopping) {
		const char *text = dm->reload_errs.text.s ? dm->reload_errs.text.s : "cancelled: stopping";
		dm->reload_failures++;
		log_err("reload failed; still running the previous configuration:\n%s", text);
		snprintf(dm->last_error, sizeof dm->last_error, "reload failed: %.200s", text);
		if (dm->reload_snap) {
			sched_free(dm->reload_sched);
			snapshot_unref(dm->reload_snap);
			dm->reload_snap = NULL;
		}
		reload_answer(dm, 0, text);
	} else {
		reload_swap(dm);
		reload_answer(dm, 1, NULL);
	}
	errs_free(&dm->reload_errs);
	notify_ready();                    /* after RELOADING=1, whatever the result */
	refresh_today(dm);
	daemon_status_line(dm);
	if (dm->reload_again && !dm->stopping) {
		/* those who asked while this one ran get the next one's answer:
		 * it reads the files as they are now (this one may have read
		 * them before the edit they asked about) */
		dm->reload_again = false;
		dm->waiters = dm->waiters_next;
		dm->waiters_next = NULL;
		reload_begin(dm);
	}
}

void daemon_reload(struct daemon *dm, reload_fn fn, void *arg)
{
	struct reload_waiter *w = xcalloc(1, sizeof *w);

	w->fn = fn;
	w->arg = arg;
	if (dm->stopping) {
		if (fn)
			fn(0, "iopd is stopping", arg);
		free(w);
		return;
	}
	if (dm->reload_running) {
		/* the file may have changed since the running one began: run
		 * again after it, and answer this asker then, not now */
		w->next = dm->waiters_next;
		dm->waiters_next = w;
		dm->reload_again = true;
	} else {
		w->next = dm->waiters;
		dm->waiters = w;
		reload_begin(dm);
	}
}

static void hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	daemon_reload(w->data, NULL, NULL);
}

/* ---- shutdown -------------------------------------------------------- */

static void stopped(int rc, void *arg)
{
	struct daemon *dm = arg;

	if (rc)
		log_warn("ledger: %s", dm->ledger->ops->error(dm->ledger));
	ev_break(dm->loop, EVBREAK_ALL);
}

static void drained(void *arg)
{
	struct daemon *dm = arg;

	log_info("all sends finished");
	if (dm->ledger->ops->stop)
		dm->ledger->ops->stop(dm->ledger, stopped, dm);   /* releases this instance's claims */
	else
		ev_break(dm->loop, EVBREAK_ALL);
}

static void drain_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	log_warn("sends still in flight after %.0f s: they will go out again at the next start",
	    DRAIN_BOUND);
	ev_break(loop, EVBREAK_ALL);
}

static void term_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *dm = w->data;

	if (dm->stopping)
		return;
	dm->stopping = true;
	notify_stopping();                 /* STOPPING=1, then the bounded drain */
	daemon_status_line(dm);
	log_notice("stopping (signal %d): taking no new work, letting sends in flight finish", w->signum);
	ev_periodic_stop(loop, &dm->tick_w);
	control_stop(dm);
	inbound_stop(dm->inbound);
	ev_timer_set(&dm->drain_w, DRAIN_BOUND, 0.);
	ev_timer_start(loop, &dm->drain_w);
	dispatch_drain(dm->dispatch, drained, dm);
}

/* ---- main ------------------------------------------------------------- */

static struct snapshot *load_config(const char *path, struct conf_cache *cc)
{
	struct errs e = {0};
	struct snapshot *s = conf_load_cache(path, CONF_FULL, &e, cc);

	/* through the log, not straight to stderr: each FILE:LINE line then
	 * carries its priority (journalctl -p warning finds them) */
	if (e.warn.len)
		log_warn("%s", e.warn.s);
	if (e.text.len)
		log_err("%s", e.text.s);
	if (!s)
		log_err("%s: %d error(s); not starting", path, e.count);
	else if (cc->hit)
		log_info("%u patients from the cache in %s", s->npatients, s->state_dir);
	errs_free(&e);
	return s;
}

/* The patients cache, written at the first start of a configuration (the
 * state_dir exists now) so that the next start, reload or agenda reads
 * the patients from it. */
static void save_start_cache(struct daemon *dm)
{
	char err[256];

	if (dm->start_cache.can_save) {
		if (conf_cache_save(&dm->start_cache, dm->snap, err, sizeof err) != 0)
			log_notice("patients cache not written: %s", err);
		else
			log_info("patients cache written in %s", dm->snap->state_dir);
	}
	conf_cache_free(&dm->start_cache);
}

static void watchers_init(struct daemon *dm)
{
	ev_periodic_init(&dm->tick_w, tick_cb, 0., 0., NULL);
	ev_periodic_init(&dm->pause_w, pause_expiry_cb, 0., 0., NULL);
	dm->pause_w.data = dm;
	ev_signal_init(&dm->term_w, term_cb, SIGTERM);
	ev_signal_init(&dm->int_w, term_cb, SIGINT);
	ev_signal_init(&dm->hup_w, hup_cb, SIGHUP);
	ev_timer_init(&dm->drain_w, drain_timeout_cb, 0., 0.);
	ev_timer_init(&dm->status_w, status_cb, STATUS_EVERY, STATUS_EVERY);
	ev_timer_init(&dm->metrics_w, metrics_cb, 0., 0.);
	ev_async_init(&dm->reload_done_w, reload_done_cb);
	ev_timer_init(&dm->stall_w, stall_cb, 0., 0.);
	ev_check_init(&dm->busy_begin_w, busy_begin_cb);
	ev_prepare_init(&dm->busy_end_w, busy_end_cb);
	dm->stall_w.data = dm->busy_begin_w.data = dm->busy_end_w.data = dm;
	dm->tick_w.data = dm->term_w.data = dm->int_w.data = dm->hup_w.data = dm;
	dm->drain_w.data = dm->status_w.data = dm->reload_done_w.data = dm->metrics_w.data = dm;
	ev_signal_start(dm->loop, &dm->term_w);
	ev_signal_start(dm->loop, &dm->int_w);
	ev_signal_start(dm->loop, &dm->hup_w);
	ev_timer_start(dm->loop, &dm->status_w);
	ev_async_start(dm->loop, &dm->reload_done_w);
}

static struct ledger *open_ledger(struct daemon *dm, char *err, size_t errlen)
{
	const struct snapshot *s = dm->snap;

	if (s->ledger == LEDGER_SQLITE)
		return ledger_open_guarded(s->state_dir, dm->opts->new_ledger, err, errlen);
	/* no ledger file in it, but it is still iopd's folder (SPEC 3.3), where
	 * the control socket often lives */
	if (mkdir(s->state_dir, 0700) != 0 && errno != EEXIST)
		log_warn("state_dir %s: %s", s->state_dir, strerror(errno));
	return ledger_pg_open(dm->loop, s, err, errlen);
}

static int daemon_start(struct daemon *dm)
{
	char err[512];

	dm->ledger = open_ledger(dm, err, sizeof err);
	if (!dm->ledger) {
		log_err("ledger: %s", err);
		return -1;
	}
	save_start_cache(dm);
	dm->http = http_new(dm->loop);
	start_channels(dm, dm->snap);
	dm->consent = consent_new();           /* filled by the ledger's load (ovr_cb) */
	dm->dispatch = dispatch_new(dm->loop, dm->ledger, dm->consent);
	dispatch_on_failed(dm->dispatch, followup_failed, dm);
	dispatch_use(dm->dispatch, dm->snap);
	if (ledger_start(dm))
		return -1;
	/* SQLite has answered by now; a server may not have: the schedule is
	 * then built from now, and again from the mark once it answers */
	dm->sched = sched_new(dm->snap, dm->loaded && dm->load_mark >= 0 ? dm->load_mark :
	    (int64_t)floor(ev_now(dm->loop)));
	watchers_init(dm);
	if (control_start(dm, err, sizeof err) != 0) {
		log_err("control socket: %s", err);
		return -1;
	}
	dm->inbound = inbound_new(dm);
	if (inbound_start(dm->inbound, err, sizeof err) != 0) {
		log_err("inbound: %s", err);
		return -1;
	}
	notify_start(dm->loop);
	metrics_arm(dm);
	stall_start(dm);
	if (dm->loaded)
		ledger_go(dm);
	return 0;
}

/* A reload still reading its files when iopd stops is waited for, but not
 * for ever: stopping must not depend on a file system that does not
 * answer.  If the thread is still at it, the ledger is closed cleanly and
 * the process ends here, the thread with it. */
static void reload_join(struct daemon *dm)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += RELOAD_JOIN_BOUND;
	if (pthread_timedjoin_np(dm->reload_thread, NULL, &until) == 0)
		return;
	log_err("a reload still reads the configuration after %d s: stopping without it",
	    RELOAD_JOIN_BOUND);
	control_stop(dm);
	if (dm->ledger)
		dm->ledger->ops->close(dm->ledger);
	_exit(dm->exit_code);
}

static void daemon_cleanup(struct daemon *dm)
{
	if (dm->reload_running && !pthread_equal(dm->reload_thread, pthread_self())) {
		reload_join(dm);
		sched_free(dm->reload_sched);
		snapshot_unref(dm->reload_snap);
		errs_free(&dm->reload_errs);
	}
	if (dm->waiters_next) {            /* a reload asked for, never begun */
		struct reload_waiter *w = dm->waiters_next;
		while (w->next)
			w = w->next;
		w->next = dm->waiters;
		dm->waiters = dm->waiters_next;
		dm->waiters_next = NULL;
	}
	reload_answer(dm, 0, "iopd stopped");
	control_stop(dm);
	notify_stop(dm->loop);
	if (dm->loop) {
		ev_timer_stop(dm->loop, &dm->metrics_w);
		ev_periodic_stop(dm->loop, &dm->pause_w);
		stall_stop(dm);
	}
	retention_stop(dm);
	inbound_stop(dm->inbound);
	dispatch_free(dm->dispatch);
	inbound_free(dm->inbound);         /* after the batches that held its writes */
	consent_free(dm->consent);
	free(dm->pause_lifting);
	sched_free(dm->sched);
	snapshot_unref(dm->snap);          /* stops the channels' plugin instances */
	if (dm->http)
		http_free(dm->http);
	if (dm->ledger)
		dm->ledger->ops->close(dm->ledger);
	for (size_t i = 0; i < dm->npending; i++) {
		free((char *)dm->pending[i].patient);
		free((char *)dm->pending[i].channel);
		free((char *)dm->pending[i].kind);
		free((char *)dm->pending[i].tmpl);
		free((char *)dm->pending[i].body);
	}
	free(dm->pending);
	free(dm->config);
}

static int log_level_for(const struct daemon_opts *o, const struct snapshot *s)
{
	if (o->log_level)
		return o->log_level;
	if (o->verbose)
		return LOG_LVL_DEBUG;
	return s->log_level > 0 ? s->log_level : LOG_LVL_INFO;
}

/* ---- detaching ------------------------------------------------------- */

/* Without -f, and when neither systemd nor another supervisor watches
 * (no $NOTIFY_SOCKET, no $INVOCATION_ID), iopd detaches like a classic
 * daemon.  It forks before any loop or thread exists; the parent waits
 * until the child is ready, or failed, so its exit status tells which, and
 * start-up errors still reach the terminal.  Returns the pipe the child
 * reports readiness on, or -1 when iopd stays in the foreground. */
static int detach(const struct daemon_opts *o)
{
	int p[2];
	pid_t pid;
	char c = 0;
	ssize_t n;

	if (o->foreground || getenv("NOTIFY_SOCKET") || getenv("INVOCATION_ID"))
		return -1;
	if (pipe(p) < 0 || (pid = fork()) < 0) {
		log_warn("cannot detach (%s): staying in the foreground", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 && c == '1' ? 0 : 1);
	}
	close(p[0]);
	setsid();
	return p[1];
}

/* The terminal learns where the logs go (the journal, syslog, or a file
 * in state_dir) before its streams are closed: a detached daemon is never
 * silent without saying so. */
static void detached_ready(int fd, const struct snapshot *s)
{
	char *file, where[512];
	int null;

	if (fd < 0)
		return;
	file = xasprintf("%s/iopd.log", s->state_dir);
	log_detach(file, where, sizeof where);
	fprintf(stderr, "iopd: running in the background (pid %ld); %s\n", (long)getpid(), where);
	fflush(stderr);
	free(file);
	if ((null = open("/dev/null", O_RDWR)) >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (write(fd, "1", 1) != 1)
		log_warn("could not tell the starting process that iopd is ready");
	close(fd);
}

int daemon_main(const struct daemon_opts *o)
{
	struct daemon dm;
	int rc = 1, ready_fd;

	memset(&dm, 0, sizeof dm);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	dm.start_cache.use = dm.start_cache.keep = true;
	if (!(dm.snap = load_config(o->config, &dm.start_cache)))
		goto out;
	/* libconfig's tree of the file was freed, but malloc keeps the pages
	 * (~4 KB per patient, 10 times the snapshot itself): give them back
	 * (bench W4: RSS per patient held). */
	malloc_trim(0);
	log_set_level(log_level_for(o, dm.snap));
	dm.opts = o;
	ready_fd = detach(o);
	dm.config = xstrdup(dm.snap->config_file);
	dm.loop = ev_default_loop(EVFLAG_AUTO);
	dm.started = time(NULL);
	if (daemon_start(&dm) == 0) {
		char where[512];
		/* READY=1 only now: configuration parsed, plugins configured and
		 * started, ledger open and reconciled, control socket listening */
		notify_ready();
		detached_ready(ready_fd, dm.snap);     /* a detached iopd's log starts here */
		dm.ledger->ops->describe(dm.ledger, where, sizeof where);
		log_notice("iopd %s started: %u programs, %u patients, %u channels; ledger %s",
		    PACKAGE_VERSION, dm.snap->nprograms, dm.snap->npatients, dm.snap->nchannels, where);
		daemon_status_line(&dm);
		ev_run(dm.loop, 0);
		rc = dm.exit_code;
		log_notice("stopped");
	}
	daemon_cleanup(&dm);
out:
	conf_cache_free(&dm.start_cache);
	curl_global_cleanup();
	return rc;
}
