/* dispatch.c - see dispatch.h.
 *
 * A reminder's journey, as a job:
 *
 *   offer -> queued --(slot and token)--> claiming --(batch commits)--> in flight
 *   in flight --(plugin's done)--> outcome --(batch commits)--> final, or
 *                                                waiting --(timer)--> queued
 *
 * Besides the calendar's reminders, a job may be a send derived from one
 * or from a patient's reply (SPEC 8; dispatch_send): a fallback, an answer
 * or a staff notice.  They travel the same way, recorded alike. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alarm.h"
#include "consent.h"
#include "dispatch.h"
#include "ident.h"
#include "log.h"
#include "plugin_host.h"
#include "render.h"
#include "strset.h"
#include "timefmt.h"
#include "util.h"

#define JOB_MAGIC 0x6a6f6221u
#define RETRY_BASE 5.0                 /* seconds: first retry within 5 s */
#define RETRY_CAP 600.0                /* never wait more than 10 minutes */
#define LEDGER_RETRY 5.0               /* seconds between tries of a refused batch */
#define AFTERCARE_VALID (24 * 3600)    /* an aftercare check-in stays useful a day */
#define COMPLAIN_MAX 3600.0           /* log a failing channel at least hourly */
/* Seconds before a held claim's due in which a batch that holds no claim
 * is not committed (its fsync would make that send late, bench W6); it
 * waits until the held ones have left. */
#define HOLD_GUARD 0.05

/* J_HELD: claimed ahead of its due (the schedule offers a little early,
 * see daemon.c LOOKAHEAD), waiting for the due instant to be sent. */
enum job_state { J_QUEUED, J_CLAIMING, J_INFLIGHT, J_OUTCOME, J_WAITING, J_HELD };

struct dq;

struct job {
	uint32_t magic;
	enum job_state state;
	enum send_type type;
	uint64_t origin;               /* derived sends: see struct send_spec */
	char *body, *stored;           /* a notice's JSON: to post, to keep */
	struct job *next;              /* link in a queue or batch list */
	struct job *all_prev, *all_next;   /* every job, for reloads and shutdown */
	struct dispatch *d;
	struct dq *q;
	uint64_t id;
	char hex[IDENT_HEX_LEN + 1];
	struct snapshot *snap;         /* a reference: the data the job uses */
	uint32_t patient;
	int32_t tmpl;
	uint16_t ch;
	enum kind kind;
	int64_t due, event, expires;
	char *location, *label;        /* copies: they outlive a reload */
	int attempts;
	int claim_result;
	bool durable;                  /* the ledger has it (open): a restart resumes it */
	ev_timer wait;
	ev_periodic hold;              /* J_HELD: fires at the due instant */
	struct rendered r;
	struct iopd_message m;
	/* the outcome, until it is committed */
	enum rec_status out;
	char *reason, *gateway_id;
	double retry_at;
	bool optout_signal;
	/* iopctl: retry (sent now, quiet hours or not, once) and its watcher;
	 * cancel of a claim not yet sent */
	bool forced;
	dispatch_watch_fn watch;
	void *watch_arg;
	char *cancel;
};

struct joblist {
	struct job *head, *tail;
	long n;
};

/* One channel's queue, by name: it outlives the snapshots. */
struct dq {
	char *name;
	struct dispatch *d;
	struct joblist queue;
	int inflight;                  /* slots taken: claiming, in flight, outcome */
	int concurrency;
	double rate, tokens, stamp;    /* token bucket; rate 0: unlimited */
	ev_timer wake;                 /* next token */
	bool gone;                     /* not in the current configuration */
	/* a failing channel is logged once, then with back-off (collectd's
	 * "complain" idea), and its recovery once */
	long fail_streak;
	double next_complain, complain_interval;
	struct channel_counts counts;
};

const double latency_bounds[LATENCY_BUCKETS] = {
	0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 900, 3600, HUGE_VAL
};

struct dispatch {
	struct ev_loop *loop;
	struct ledger *ledger;
	struct snapshot *snap;         /* the current configuration */
	struct dq *qs[SNAP_MAX_CHANNELS * 4];
	int nqs;
	struct idset active;           /* ids queued, in flight or waiting */
	struct job *all;               /* every job */
	struct joblist claims, outcomes;   /* for the next batch */
	struct ledger_rec *notes;      /* strings owned (see dispatch_note) */
	size_t nnotes, capnotes;
	/* the batch in flight (one at a time): what it carries, its results */
	struct ledger_batch batch;
	struct joblist b_claims, b_outcomes;
	struct ledger_rec *b_notes, *b_recs;
	size_t b_nnotes, b_capnotes, b_caprecs;
	struct ledger_ovr *b_ovrs;
	size_t b_capovrs;
	int *b_results;
	size_t b_capresults;
	bool busy;                     /* a batch is in flight */
	double outage_end;             /* the ledger took writes again after refusing them */
	int64_t sched_mark;            /* the schedule's: offered up to here */
	int64_t mark;                  /* what the ledger has */
	int64_t recheck_before;        /* offers due before it may be settled already */
	struct consent *consent;       /* the daemon's: asked, and told of gateway opt-outs */
	struct dispatch_part *parts;   /* others' writes that join the next batch */
	struct dispatch_part *b_parts; /* those in the batch in flight */
	struct alarm hold_next;        /* at the earliest due of a held claim */
	ev_timer hold_w;               /* brings a batch held back by it back */
	dispatch_failed_fn failed_fn;  /* a reminder failed for good: fallback or notice */
	void *failed_arg;
	ev_prepare flush_w;
	ev_idle busy_w;                /* keeps the loop from blocking while work waits */
	ev_timer ledger_retry_w;
	char ledger_err[256];
	bool ledger_down;
	bool draining;
	void (*drained)(void *);
	void *drained_arg;
	uint64_t rng;
	long waiting;
	struct dispatch_stats totals;
	struct idset cancelled;        /* not yet due, cancelled by iopctl (this run) */
};

/* ---- small helpers ------------------------------------------------ */

static void list_push(struct joblist *l, struct job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static void list_push_front(struct joblist *l, struct job *j)
{
	j->next = l->head;
	l->head = j;
	if (!l->tail)
		l->tail = j;
	l->n++;
}

/* In due order: a queue stays sorted when a reminder resumed late -- one
 * taken over from an instance that died, due a while ago -- joins it, and
 * it goes out before the burst queued behind it, ahead of those due at the
 * same time (SPEC 9: at most a lease late).  New offers go to the tail. */
static void list_insert_due(struct joblist *l, struct job *j, bool ahead)
{
	struct job *p;

	if (!l->tail || (!ahead && l->tail->due <= j->due) || l->tail->due < j->due) {
		list_push(l, j);
		return;
	}
	if (ahead ? l->head->due >= j->due : l->head->due > j->due) {
		list_push_front(l, j);
		return;
	}
	for (p = l->head; p->next && (ahead ? p->next->due < j->due : p->next->due <= j->due);
	    p = p->next)
		;
	j->next = p->next;
	p->next = j;
	l->n++;
}

static struct job *list_pop(struct joblist *l)
{
	struct job *j = l->head;

	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->n--;
		j->next = NULL;
	}
	return j;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);   /* splitmix64 */

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double dispatch_backoff(int attempt, double base, double cap, uint64_t *rng)
{
	double ceiling = base * ldexp(1.0, attempt > 30 ? 30 : attempt - 1);

	if (ceiling > cap)
		ceiling = cap;
	return ceiling * ((double)(rng_next(rng) >> 11) / 9007199254740992.0);
}

static double now(const struct dispatch *d)
{
	return ev_now(d->loop);
}

/* Work for the next batch: make sure an iteration writes it.  While a
 * batch is in flight (a networked ledger) its completion does. */
static void ensure_flush(struct dispatch *d)
{
	if (!d->busy && !ev_is_active(&d->busy_w))
		ev_idle_start(d->loop, &d->busy_w);
}

/* ---- queues --------------------------------------------------------- */

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents);

static struct dq *dq_get(struct dispatch *d, const char *name)
{
	struct dq *q;
	int i;

	for (i = 0; i < d->nqs; i++)
		if (strcmp(d->qs[i]->name, name) == 0)
			return d->qs[i];
	if (d->nqs == (int)IOPD_NELEM(d->qs))
		return NULL;
	q = xcalloc(1, sizeof *q);
	q->name = xstrdup(name);
	q->d = d;
	q->concurrency = 8;
	q->complain_interval = 60.0;
	ev_timer_init(&q->wake, wake_cb, 0., 0.);
	q->wake.data = q;
	d->qs[d->nqs++] = q;
	return q;
}

static void dq_settings(struct dq *q, const struct channel *c)
{
	q->concurrency = c->concurrency;
	if (q->rate != c->rate) {
		q->rate = c->rate;
		q->tokens = c->rate > 0 ? 1.0 : 0;     /* the bucket holds one: see dq_token */
		q->stamp = now(q->d);
	}
	q->gone = false;
}

/* Takes a token when the channel's rate allows; else arms the wake timer.
 *
 * The bucket holds at most one token, so sends are at least 1/rate apart.
 * It used to hold `rate` tokens: with rate = 2 and ten reminders due at
 * once, two left at the same instant and a third 0.5 s later, three in
 * the first half second, which a gateway enforcing "2 per second" over a
 * sliding second refuses (tests/integration/daemon_rate.sh).  `rate` is a
 * ceiling the administrator copies from the gateway's terms, so no burst
 * above it. */
static bool dq_token(struct dq *q)
{
	double t = now(q->d);

	if (q->rate <= 0)
		return true;
	q->tokens = fmin(1.0, q->tokens + (t - q->stamp) * q->rate);
	q->stamp = t;
	if (q->tokens >= 1.0) {
		q->tokens -= 1.0;
		return true;
	}
	if (!ev_is_active(&q->wake)) {
		ev_timer_set(&q->wake, (1.0 - q->tokens) / q->rate, 0.);
		ev_timer_start(q->d->loop, &q->wake);
	}
	return false;
}

/* ---- jobs ------------------------------------------------------------ */

static void job_report(struct job *j, bool ok, const char *what);

static void job_free(struct job *j)
{
	struct dispatch *d = j->d;

	job_report(j, false, d->draining ? "iopd stopped before it was sent" : "it left the queue");
	free(j->cancel);
	if (j->state == J_WAITING)
		d->waiting--;
	if (j->all_prev)
		j->all_prev->all_next = j->all_next;
	else
		d->all = j->all_next;
	if (j->all_next)
		j->all_next->all_prev = j->all_prev;
	idset_del(&d->active, j->id);
	ev_timer_stop(d->loop, &j->wait);
	ev_periodic_stop(d->loop, &j->hold);
	rendered_free(&j->r);
	snapshot_unref(j->snap);
	free(j->location);
	free(j->label);
	free(j->reason);
	free(j->gateway_id);
	free(j->body);
	free(j->stored);
	j->magic = 0;
	free(j);
	if (d->draining && d->drained) {
		struct dispatch_stats st;
		dispatch_stats(d, &st);
		if (!st.inflight) {
			void (*done)(void *) = d->drained;
			d->drained = NULL;
			done(d->drained_arg);
		}
	}
}

static const struct patient *job_patient(const struct job *j)
{
	return &j->snap->patients[j->patient];
}

static const struct channel *job_channel(const struct job *j)
{
	return &j->snap->channels[j->ch];
}

static struct log_ctx job_ctx(const struct job *j)
{
	struct log_ctx c = {j->hex, job_patient(j)->id, j->q->name};
	return c;
}

/* The ledger's `kind` of a job: the calendar's, or what it was derived as. */
static const char *job_kind_name(const struct job *j)
{
	if (j->type == SEND_ANSWER)
		return "reply";
	if (j->type == SEND_NOTICE)
		return "notice";
	return kind_names[j->kind];
}

/* Does the patient's quiet-hours window hold this job back?  Reminders
 * (and their fallbacks) but medication prompts; never an answer the
 * patient just asked for, nor a notice to staff (SPEC 8). */
static bool job_quiet_applies(const struct job *j)
{
	return (j->type == SEND_REMINDER || j->type == SEND_FALLBACK) && j->kind != KIND_MEDICATION;
}

static int64_t expiry(const struct snapshot *s, const struct occ *o)
{
	switch (o->kind) {
	case KIND_SESSION:
	case KIND_APPOINTMENT:
		return o->event;                       /* never at or after the event */
	case KIND_MEDICATION:
		return o->event + s->medication_grace;
	default:
		return o->due + AFTERCARE_VALID;
	}
}

static struct ledger_rec job_rec(const struct job *j, enum rec_status st)
{
	struct ledger_rec r;

	memset(&r, 0, sizeof r);
	r.id = j->id;
	r.patient = job_patient(j)->id;
	r.channel = j->q->name;
	r.kind = job_kind_name(j);
	r.origin = j->origin;
	r.tmpl = j->type == SEND_ANSWER && j->tmpl >= 0 ? j->snap->templates[j->tmpl].name : NULL;
	r.body = j->stored;
	r.due = j->due;
	r.event = j->event;
	r.expires = j->expires;
	r.status = st;
	r.attempts = j->attempts;
	r.at = (int64_t)now(j->d);
	return r;
}

/* ---- counters -------------------------------------------------------- */

static struct dq *dq_get(struct dispatch *d, const char *name);

static void count(struct dispatch *d, const char *channel, const char *kind, enum rec_status st)
{
	struct dq *q = channel ? dq_get(d, channel) : NULL;
	int k;

	for (k = 0; q && kind && k < KIND_COUNT; k++)
		if (strcmp(kind_names[k], kind) == 0)
			q->counts.by_kind[k][st]++;
}

static void count_latency(struct dq *q, double secs)
{
	int i;

	for (i = 0; i < LATENCY_BUCKETS; i++)
		if (secs <= latency_bounds[i])
			q->counts.latency[i]++;
	q->counts.latency_sum += secs;
	q->counts.latency_n++;
}

void dispatch_counts(const struct dispatch *d, channel_counts_fn fn, void *arg)
{
	int i;

	for (i = 0; i < d->nqs; i++) {
		struct channel_counts c = d->qs[i]->counts;
		c.channel = d->qs[i]->name;
		c.inflight = d->qs[i]->inflight;
		c.queued = (int)d->qs[i]->queue.n;
		fn(&c, arg);
	}
}

/* ---- notes: final states of reminders that are not sent ---------- */

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void dispatch_note(struct dispatch *d, const struct ledger_rec *r)
{
	struct ledger_rec *n;

	grow_array(&d->notes, &d->capnotes, d->nnotes + 1, sizeof *d->notes);
	n = &d->notes[d->nnotes++];
	*n = *r;
	n->patient = dup_or_null(r->patient);
	n->channel = dup_or_null(r->channel);
	n->kind = dup_or_null(r->kind);
	n->reason = dup_or_null(r->reason);
	n->gateway_id = NULL;
	switch (r->status) {
	case REC_MISSED: d->totals.missed++; break;
	case REC_EXPIRED: d->totals.expired++; break;
	case REC_RETRY: break;                 /* not an outcome: a wait */
	default: d->totals.skipped++; break;
	}
	count(d, r->channel, r->kind, r->status);
	ensure_flush(d);
}

static void notes_free(struct ledger_rec *notes, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		free((char *)notes[i].patient);
		free((char *)notes[i].channel);
		free((char *)notes[i].kind);
		free((char *)notes[i].reason);
	}
	*n = 0;
}

static void job_note(struct job *j, enum rec_status st, const char *reason)
{
	struct ledger_rec r = job_rec(j, st);

	r.reason = reason;
	dispatch_note(j->d, &r);
	log_ctx(LOG_LVL_INFO, &(struct log_ctx){j->hex, job_patient(j)->id, j->q->name},
	    "%s: %s", rec_status_names[st], reason);
	if (j->watch) {
		char *what = xasprintf("not sent: %s: %s", rec_status_names[st], reason);
		job_report(j, false, what);
		free(what);
	}
}

/* ---- starting sends ----------------------------------------------- */

/* A first attempt that fell due while the ledger refused writes, and is
 * overdue by more than catch_up now that it takes them again: missed, as
 * if iopd had been down (SPEC 6, SPEC 9). */
static bool missed_in_outage(const struct job *j, bool first)
{
	const struct dispatch *d = j->d;

	return first && d->outage_end > 0 && (double)j->due < d->outage_end &&
	    now(d) - (double)j->due > (double)j->snap->catch_up;
}

/* Why consent forbids sending a job now (paused, opted out since it was
 * offered), or NULL.  An answer and a notice are never held back: the
 * patient asked for the one, staff must hear the other (a STOP is
 * confirmed once, FCC 2024).  With a shared ledger the claim decides,
 * with what every instance set; at the moment of sending a claimed one
 * (`claimed`), what this instance knows since counts too: a STOP it took
 * in between is never overrun. */
static const char *job_refused(const struct job *j, bool claimed)
{
	const struct patient *p = job_patient(j);

	if (j->type == SEND_ANSWER || j->type == SEND_NOTICE)
		return NULL;
	if (j->d->ledger->shared && !claimed)
		return NULL;
	if (consent_paused(j->d->consent, p->id, (int64_t)now(j->d)))
		return "paused";
	if (consent_opted_out(j->d->consent, p->id, j->q->name))
		return "opt-out";
	return NULL;
}

/* Checks a queued job just before it takes a slot: it may have expired
 * while it waited, or been paused or opted out since it was offered.  A
 * shared ledger decides pauses and opt-outs itself, in the claim: another
 * instance may have changed them since this one last read them. */
static bool job_still_wanted(struct job *j)
{
	const char *why;

	if (now(j->d) >= (double)j->expires) {
		job_note(j, j->attempts ? REC_EXPIRED : REC_MISSED,
		    j->attempts ? "expired before it could be sent again" : "expired while queued");
		return false;
	}
	if (missed_in_outage(j, j->attempts == 0)) {
		job_note(j, REC_MISSED, "overdue by more than catch_up when the ledger took writes again");
		return false;
	}
	if ((why = job_refused(j, false))) {
		job_note(j, REC_SKIPPED, why);
		return false;
	}
	return true;
}

static bool wait_quiet(struct job *j);

/* The second a job would leave at: now, but never before its due (one
 * offered a little early is held until then, job_send_at_due). */
static int64_t send_second(const struct job *j, double t)
{
	int64_t s = (int64_t)floor(t);

	return s > j->due ? s : j->due;
}

static bool in_quiet(const struct job *j, double t)
{
	return cal_after_quiet(job_patient(j), send_second(j, t)) > send_second(j, t);
}

static void pump(struct dq *q)
{
	struct dispatch *d = q->d;

	while (!d->draining && q->queue.head && q->inflight < q->concurrency) {
		struct job *j = q->queue.head;
		if (!job_still_wanted(j)) {
			list_pop(&q->queue);
			job_free(j);
			continue;
		}
		/* a first attempt too can reach the front of its queue inside
		 * the patient's quiet hours: at a catch-up after downtime, or
		 * behind a slow rate; it waits for the morning like a retry */
		if (job_quiet_applies(j) && !j->forced && in_quiet(j, now(d))) {
			list_pop(&q->queue);
			if (wait_quiet(j))
				continue;
			list_push_front(&q->queue, j);
		}
		/* A paced channel's token is taken when the send starts, so its
		 * jobs are not claimed ahead of their due (job_send_at_due would
		 * hold them and release them together, in a burst). */
		if (q->rate > 0 && (double)j->due > now(d)) {
			if (!ev_is_active(&q->wake)) {
				ev_timer_set(&q->wake, (double)j->due - now(d), 0.);
				ev_timer_start(d->loop, &q->wake);
			}
			break;
		}
		if (!dq_token(q))
			break;
		list_pop(&q->queue);
		q->inflight++;
		j->forced = false;             /* a later retry waits for the morning again */
		j->state = J_CLAIMING;
		list_push(&d->claims, j);
		ensure_flush(d);
	}
}

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	pump(w->data);
}

static void job_done(void *token, const struct iopd_outcome *o);
static void hold_cb(struct ev_loop *loop, ev_periodic *w, int revents);

/* A claimed job that consent no longer allows (a STOP committed since it
 * was claimed): recorded skipped instead of sent, its slot freed with the
 * batch like any outcome's. */
static void job_skip_claimed(struct job *j, const char *why)
{
	log_ctx(LOG_LVL_INFO, &(struct log_ctx){j->hex, job_patient(j)->id, j->q->name},
	    "not sent: %s since it was claimed", why);
	j->out = REC_SKIPPED;
	j->reason = xstrdup(why);
	j->state = J_OUTCOME;
	list_push(&j->d->outcomes, j);
	ensure_flush(j->d);
}

/* The message of a job: a reminder's (or an answer's) rendered texts, or
 * a notice's JSON. */
static void job_message(struct job *j, const struct channel *c, const struct patient *p)
{
	memset(&j->m, 0, sizeof j->m);
	j->m.id = j->hex;
	j->m.kind = job_kind_name(j);
	j->m.patient = p->id;
	j->m.channel = c->name;
	if (j->type == SEND_NOTICE) {
		j->m.text = j->m.subject = j->label;
		j->m.body = j->body;
	} else {
		struct render_in in = {p, &j->snap->templates[j->tmpl], j->event, j->location, j->label};

		render(j->snap, &in, &j->r);
		j->m.to = c->contact == IOPD_CONTACT_PHONE ? p->phone :
		    c->contact == IOPD_CONTACT_EMAIL ? p->email : NULL;
		j->m.text = j->r.text.s;
		j->m.subject = j->r.subject.s;
		j->m.body = j->r.body.s;
	}
}

static void job_send(struct job *j)
{
	const struct channel *c = job_channel(j);
	const struct patient *p = job_patient(j);
	struct iopd_outcome down = {IOPD_TRANSIENT, NULL, "channel out of service", -1};
	const char *why;

	j->state = J_INFLIGHT;
	if (j->cancel) {               /* iopctl cancel while it was being claimed */
		job_skip_claimed(j, j->cancel);
		return;
	}
	if ((why = job_refused(j, true))) {   /* consent, asked again at the moment of sending */
		job_skip_claimed(j, why);
		return;
	}
	job_message(j, c, p);
	j->m.event = j->event;
	j->m.due = j->due;
	j->m.expires = j->expires;
	j->m.attempt = j->attempts;
	log_ctx(LOG_LVL_DEBUG, &(struct log_ctx){j->hex, p->id, c->name}, "sending (attempt %d)", j->attempts);
	if (!c->inst)
		job_done(j, &down);
	else
		chan_inst_send(c->inst, &j->m, job_done, j);
}

/* ---- outcomes ------------------------------------------------------- */

static void complain(struct dq *q, const struct job *j, const char *reason)
{
	double t = now(q->d);

	if (q->fail_streak++ == 0 || t >= q->next_complain) {
		log_ctx(LOG_LVL_WARNING, &(struct log_ctx){j->hex, job_patient(j)->id, q->name},
		    "channel failing: %s (%ld failures in a row)", reason, q->fail_streak);
		q->next_complain = t + q->complain_interval;
		q->complain_interval = fmin(q->complain_interval * 2, COMPLAIN_MAX);
	}
}

static void recovered(struct dq *q)
{
	if (q->fail_streak)
		log_notice("[%s] channel recovered after %ld failed attempts", q->name, q->fail_streak);
	q->fail_streak = 0;
	q->complain_interval = 60.0;
}

/* When to try again: backoff with jitter, no sooner than the gateway asked,
 * and outside the patient's quiet hours for kinds that have them.  Counted
 * from the clock, not the loop's cached time: a reply read in the loop
 * iteration that sent its request is later than that time by the
 * iteration's work (a retry left 7 s before Retry-After: 120 ran out under
 * valgrind in tests/integration/faults_outage.sh). */
static double retry_time(struct job *j, double retry_after)
{
	double from = ev_time();
	double t = from + dispatch_backoff(j->attempts, RETRY_BASE, RETRY_CAP, &j->d->rng);

	if (retry_after > 0 && from + retry_after > t)
		t = from + retry_after;
	if (job_quiet_applies(j))
		t = (double)cal_after_quiet(job_patient(j), (int64_t)ceil(t));
	return t;
}

/* What a job is, as a send_spec (its strings are the job's). */
static void job_spec(const struct job *j, struct send_spec *sp)
{
	memset(sp, 0, sizeof *sp);
	sp->type = j->type;
	sp->id = j->id;
	sp->origin = j->origin;
	sp->patient = j->patient;
	sp->ch = j->ch;
	sp->tmpl = j->tmpl;
	sp->kind = j->kind;
	sp->due = j->due;
	sp->event = j->event;
	sp->expires = j->expires;
	sp->location = j->location;
	sp->label = j->label;
}

/* A reminder (or its fallback) refused for good: the follow-up decides
 * between a fallback and a notice to staff.  Called before the failure
 * is committed, so what it queues is committed in the same batch. */
static void job_failed_for_good(struct job *j)
{
	struct send_spec sp;

	if (!j->d->failed_fn || (j->type != SEND_REMINDER && j->type != SEND_FALLBACK))
		return;
	job_spec(j, &sp);
	j->d->failed_fn(j->d->failed_arg, j->snap, &sp, j->reason);
}

static void job_done(void *token, const struct iopd_outcome *o)
{
	struct job *j = token;
	const char *reason = o->reason ? o->reason : "no reason given";

	if (!j || j->magic != JOB_MAGIC || j->state != J_INFLIGHT)
		abort();                       /* a plugin broke the completion contract */
	j->reason = NULL;
	switch (o->result) {
	case IOPD_DELIVERED:
		j->out = REC_SENT;
		j->gateway_id = dup_or_null(o->gateway_id);
		recovered(j->q);
		break;
	case IOPD_OPTED_OUT:
		j->out = REC_FAILED;
		j->reason = xasprintf("opted out at the gateway: %s", reason);
		/* a gateway opt-out never takes over one staff set */
		j->optout_signal = consent_optout_origin(j->d->consent, job_patient(j)->id,
		    j->q->name) != OVR_STAFF;
		job_failed_for_good(j);
		break;
	case IOPD_PERMANENT:
		j->out = REC_FAILED;
		j->reason = xstrdup(reason);
		job_failed_for_good(j);
		break;
	default:
		complain(j->q, j, reason);
		j->retry_at = retry_time(j, o->retry_after);
		j->out = j->retry_at >= (double)j->expires ? REC_EXPIRED : REC_RETRY;
		j->reason = j->out == REC_EXPIRED ?
		    xasprintf("expired after %d attempts; last: %s", j->attempts, reason) : xstrdup(reason);
	}
	j->state = J_OUTCOME;
	list_push(&j->d->outcomes, j);
	ensure_flush(j->d);
}

static bool job_rebind(struct job *j, struct snapshot *s);

/* A retry's time was moved out of the patient's quiet hours on the wall
 * clock (retry_time), but the wait is an ev_timer, which counts monotonic
 * time from libev's cached estimate of the wall clock.  Over the long
 * waits quiet hours make (a whole night), NTP slewing or a step of the wall
 * clock, or a stale estimate when the timer was armed, can let it fire
 * while the wall clock is still inside the window (seen end to end in
 * tests/integration/daemon_expiry.sh: a retry due at the window's end went
 * out just before it).  So look at the wall clock again when it fires and
 * wait out the rest of the window; true if the job waits again (or is
 * gone: quiet hours that now last until it expires). */
static bool wait_quiet(struct job *j)
{
	struct dispatch *d = j->d;
	double t;
	int64_t end;

	if (!job_quiet_applies(j))
		return false;                  /* no quiet hours (SPEC 4, 8) */
	ev_now_update(d->loop);            /* the wall clock now, not the cached one */
	t = now(d);
	if (!in_quiet(j, t))
		return false;                  /* not inside the window */
	end = cal_after_quiet(job_patient(j), send_second(j, t));
	if ((double)end >= (double)j->expires) {
		job_note(j, j->attempts ? REC_EXPIRED : REC_MISSED,
		    "quiet hours last until it is too late");
		job_free(j);
		return true;
	}
	if (!j->durable) {
		/* leaving the queue, it leaves what holds the mark back: the
		 * ledger must know it, or a crash tonight would lose it */
		struct ledger_rec r = job_rec(j, REC_RETRY);
		r.reason = "waiting for the end of the patient's quiet hours";
		dispatch_note(d, &r);
		j->durable = true;
	}
	j->state = J_WAITING;
	d->waiting++;
	ev_timer_set(&j->wait, (double)end - t, 0.);
	ev_timer_start(d->loop, &j->wait);
	return true;
}

static void wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct job *j = w->data;

	j->d->waiting--;
	j->state = J_QUEUED;
	if (j->snap != j->d->snap && !job_rebind(j, j->d->snap)) {
		job_note(j, REC_SKIPPED, "removed from the configuration");
		job_free(j);
		return;
	}
	if (wait_quiet(j))
		return;
	list_push_front(&j->q->queue, j);
	pump(j->q);
}

/* The watcher of iopctl retry learns what its attempt came to. */
static void report_outcome(struct job *j)
{
	char t[FMT_UTC_LEN + 1], *what;

	fmt_utc((int64_t)ceil(j->retry_at), t);
	switch (j->out) {
	case REC_SENT:
		what = xasprintf("sent on %s (attempt %d, gateway id %s)", j->q->name, j->attempts,
		    j->gateway_id ? j->gateway_id : "-");
		break;
	case REC_RETRY:
		what = xasprintf("attempt %d on %s failed again (%s); next try at %s", j->attempts,
		    j->q->name, j->reason, t);
		break;
	default:
		what = xasprintf("%s on %s (attempt %d): %s", rec_status_names[j->out], j->q->name,
		    j->attempts, j->reason ? j->reason : "-");
	}
	job_report(j, j->out == REC_SENT, what);
	free(what);
}

/* After its outcome is durable: free the slot, then finish or wait. */
static void outcome_committed(struct job *j)
{
	struct dispatch *d = j->d;
	struct log_ctx c = job_ctx(j);

	j->q->inflight--;
	if (j->kind < KIND_COUNT)
		j->q->counts.by_kind[j->kind][j->out]++;
	if (j->watch)
		report_outcome(j);
	switch (j->out) {
	case REC_SENT:
		d->totals.sent++;
		count_latency(j->q, now(d) - (double)j->due);
		log_ctx(LOG_LVL_INFO, &c, "sent (attempt %d, gateway id %s)", j->attempts,
		    j->gateway_id ? j->gateway_id : "-");
		break;
	case REC_RETRY:
		d->totals.retries++;
		j->q->counts.retries++;
		log_ctx(LOG_LVL_INFO, &c, "attempt %d failed (%s); retry in %.0f s", j->attempts,
		    j->reason, j->retry_at - now(d));
		rendered_free(&j->r);
		free(j->reason);
		j->reason = NULL;
		j->state = J_WAITING;
		d->waiting++;
		ev_timer_set(&j->wait, fmax(0.0, j->retry_at - now(d)), 0.);
		ev_timer_start(d->loop, &j->wait);
		pump(j->q);
		return;
	case REC_EXPIRED:
		d->totals.expired++;
		log_ctx(LOG_LVL_WARNING, &c, "%s", j->reason);
		break;
	case REC_MISSED:                       /* claimed, then too late (claim_too_late) */
		d->totals.missed++;
		log_ctx(LOG_LVL_INFO, &c, "missed: %s", j->reason);
		break;
	case REC_SKIPPED:
		d->totals.skipped++;
		break;
	default:
		d->totals.failed++;
		log_ctx(LOG_LVL_WARNING, &c, "failed: %s", j->reason);
	}
	pump(j->q);
	job_free(j);
}

/* ---- the batch -------------------------------------------------- */

/* The mark the ledger may hold: never past a reminder it has no record
 * of, or a crash would lose it.  Queued jobs that were offered but not yet
 * claimed are the only such; each queue holds them in due order. */
static int64_t mark_target(const struct dispatch *d)
{
	int64_t m = d->sched_mark;
	int i;

	for (i = 0; i < d->nqs; i++) {
		const struct job *j;
		for (j = d->qs[i]->queue.head; j && (j->durable || j->type != SEND_REMINDER); j = j->next)
			;
		if (j && j->due < m)
			m = j->due;
	}
	return m;
}

static void refund(struct dq *q)
{
	if (q->rate > 0)
		q->tokens = fmin(1.0, q->tokens + 1.0);
}

static int parts_write(struct ledger *l, void *arg);

/* Moves what waits for the next batch into the batch in flight, and lays
 * out its records: each outcome (and the opt-out a gateway signalled with
 * it), each claim. */
static void batch_build(struct dispatch *d)
{
	struct ledger_batch *b = &d->batch;
	struct ledger_rec *n;
	struct job *j;
	size_t k, nrec = (size_t)(d->outcomes.n + d->claims.n);

	d->b_outcomes = d->outcomes;
	d->b_claims = d->claims;
	memset(&d->outcomes, 0, sizeof d->outcomes);
	memset(&d->claims, 0, sizeof d->claims);
	n = d->b_notes;                    /* swap the arrays: no copy */
	d->b_notes = d->notes;
	d->notes = n;
	d->b_nnotes = d->nnotes;
	d->nnotes = 0;
	k = d->capnotes;
	d->capnotes = d->b_capnotes;
	d->b_capnotes = k;
	grow_array(&d->b_recs, &d->b_caprecs, nrec + 1, sizeof *d->b_recs);
	grow_array(&d->b_ovrs, &d->b_capovrs, (size_t)d->b_outcomes.n + 1, sizeof *d->b_ovrs);
	grow_array(&d->b_results, &d->b_capresults, (size_t)d->b_claims.n + 1, sizeof *d->b_results);
	memset(b, 0, sizeof *b);
	b->notes = d->b_notes;
	b->nnotes = d->b_nnotes;
	b->outcomes = d->b_recs;
	b->ovrs = d->b_ovrs;
	for (j = d->b_outcomes.head; j; j = j->next) {
		struct ledger_rec *r = &d->b_recs[b->noutcomes++];
		*r = job_rec(j, j->out);
		r->reason = j->reason;
		r->gateway_id = j->gateway_id;
		if (j->optout_signal)
			d->b_ovrs[b->novrs++] = (struct ledger_ovr){.kind = OVR_OPTOUT,
				.patient = r->patient, .channel = r->channel, .source = j->reason,
				.at = r->at, .on = 1, .origin = OVR_GATEWAY, .uid = -1};
	}
	b->claims = d->b_recs + b->noutcomes;
	b->results = d->b_results;
	for (j = d->b_claims.head; j; j = j->next)
		b->claims[b->nclaims++] = job_rec(j, REC_INFLIGHT);
	d->b_parts = d->parts;             /* they leave the batch when it is done */
	d->parts = NULL;
	if (d->b_parts) {
		b->extra = parts_write;
		b->extra_arg = d;
	}
	b->mark = mark_target(d) != d->mark ? mark_target(d) : -1;
}

/* The batch failed: nothing of it is in the ledger.  Its work goes back in
 * front of what came since, for the next try. */
static void batch_restore(struct dispatch *d)
{
	struct joblist *from[2] = {&d->b_outcomes, &d->b_claims}, *to[2] = {&d->outcomes, &d->claims};
	int k;

	for (k = 0; k < 2; k++) {
		if (from[k]->tail) {
			from[k]->tail->next = to[k]->head;
			if (!to[k]->tail)
				to[k]->tail = from[k]->tail;
			to[k]->head = from[k]->head;
			to[k]->n += from[k]->n;
		}
		memset(from[k], 0, sizeof *from[k]);
	}
	if (d->b_nnotes) {
		grow_array(&d->b_notes, &d->b_capnotes, d->b_nnotes + d->nnotes, sizeof *d->notes);
		memcpy(d->b_notes + d->b_nnotes, d->notes, d->nnotes * sizeof *d->notes);
		d->nnotes += d->b_nnotes;
		d->b_nnotes = 0;
		{                                  /* the batch's array, now holding both, is current */
			struct ledger_rec *t = d->notes;
			size_t c = d->capnotes;
			d->notes = d->b_notes;
			d->capnotes = d->b_capnotes;
			d->b_notes = t;
			d->b_capnotes = c;
		}
	}
}

/* The batch's parts write what they hold, inside its transaction. */
static int parts_write(struct ledger *l, void *arg)
{
	struct dispatch *d = arg;
	struct dispatch_part *p;

	for (p = d->b_parts; p; p = p->next)
		if (p->write(l, p->arg))
			return -1;
	return 0;
}

/* Tells the parts of the batch whether it was committed; they leave it
 * either way (the dispatcher keeps and retries its own work, a part
 * decides for itself: the inbound side answers its callers 503). */
static void parts_done(struct dispatch *d, bool ok)
{
	struct dispatch_part *p = d->b_parts, *next;

	d->b_parts = NULL;
	for (; p; p = next) {
		next = p->next;
		p->next = NULL;
		p->joined = false;
		p->done(ok, p->arg);
	}
}

static void ledger_failed(struct dispatch *d)
{
	struct ledger *l = d->ledger;

	batch_restore(d);
	if (!d->ledger_down || strcmp(d->ledger_err, l->ops->error(l)) != 0)
		log_err("ledger: cannot record (%s): sending is suspended until it can", l->ops->error(l));
	snprintf(d->ledger_err, sizeof d->ledger_err, "%s", l->ops->error(l));
	d->ledger_down = true;
	parts_done(d, false);
	ev_idle_stop(d->loop, &d->busy_w);
	if (!ev_is_active(&d->ledger_retry_w)) {
		ev_timer_set(&d->ledger_retry_w, LEDGER_RETRY, 0.);
		ev_timer_start(d->loop, &d->ledger_retry_w);
	}
}

/* Sends a committed claim now, or at its due instant if it was claimed
 * ahead of it (bench W3: the claim's fsync, 2-8 ms on the test disk, was
 * all of the lateness; claimed up to LOOKAHEAD early, a reminder leaves at
 * its due second).  Still claimed before sent; what is held at a crash is
 * in the ledger as in flight, and goes out, never before its due, at the
 * next start.  The job's periodic sends it; the alarm at the earliest held
 * due only wakes the loop then, where libev would wake 0.5-1.2 ms late. */
static void job_send_at_due(struct job *j)
{
	struct dispatch *d = j->d;

	if ((double)j->due > ev_time()) {
		double next = alarm_next(&d->hold_next);

		if (!next || (double)j->due < next)
			alarm_set(&d->hold_next, (double)j->due);
		j->state = J_HELD;
		ev_periodic_set(&j->hold, (double)j->due, 0., NULL);
		ev_periodic_start(j->d->loop, &j->hold);
		return;
	}
	job_send(j);
}

static void hold_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct job *j = w->data;

	ev_periodic_stop(loop, w);
	job_send(j);
}

static void claim_lost(struct job *j, const char *what)
{
	char *r = xasprintf("not sent: %s", what);

	log_ctx(LOG_LVL_DEBUG, &(struct log_ctx){j->hex, job_patient(j)->id, j->q->name},
	    "not sent by this instance: %s", what);
	job_report(j, false, r);
	free(r);
	j->q->inflight--;
	refund(j->q);
	pump(j->q);
	job_free(j);
}

/* A committed claim that can no longer be sent (its claim waited out a
 * ledger outage): its outcome is recorded instead. */
static bool claim_too_late(struct job *j)
{
	const char *why = NULL;

	if (now(j->d) >= (double)j->expires)
		why = j->kind == KIND_MEDICATION ? "past medication_grace" : "too late: the event has begun";
	else if (missed_in_outage(j, j->attempts == 1))
		why = "overdue by more than catch_up when the ledger took writes again";
	if (!why)
		return false;
	j->out = j->attempts > 1 ? REC_EXPIRED : REC_MISSED;
	j->reason = xstrdup(why);
	j->state = J_OUTCOME;
	list_push(&j->d->outcomes, j);
	ensure_flush(j->d);
	return true;
}

static void claim_committed(struct job *j, int result, const struct ledger_rec *r)
{
	switch (result) {
	case CLAIM_OK:
		j->attempts = r->attempts;
		j->durable = true;
		if (!claim_too_late(j))
			job_send_at_due(j);
		break;
	case CLAIM_SKIPPED:                    /* recorded by the claim itself */
		j->d->totals.skipped++;
		count(j->d, j->q->name, kind_names[j->kind], REC_SKIPPED);
		log_ctx(LOG_LVL_INFO, &(struct log_ctx){j->hex, job_patient(j)->id, j->q->name},
		    "skipped: %s", r->reason ? r->reason : "by the ledger");
		claim_lost(j, "skipped");
		break;
	case CLAIM_HELD:
		claim_lost(j, "another instance holds its claim");
		break;
	default:                               /* sent (or settled) before: never again */
		claim_lost(j, "the ledger has it settled already");
	}
}

static bool batch_empty(const struct dispatch *d);

/* The batch in flight committed (rc 0) or was refused. */
static void batch_done(int rc, void *arg)
{
	struct dispatch *d = arg;
	struct joblist outcomes = d->b_outcomes, claims = d->b_claims;
	struct job *j;
	size_t i;

	d->busy = false;
	if (rc) {
		ledger_failed(d);
		return;
	}
	if (d->ledger_down) {
		log_notice("ledger: writable again; sending resumes");
		d->outage_end = now(d);
	}
	d->ledger_down = false;
	d->ledger_err[0] = '\0';
	if (d->batch.mark >= 0)
		d->mark = d->batch.mark;
	if (d->batch.lost)
		log_warn("ledger: %zu outcome(s) not recorded: another instance took their claims over "
		    "(this instance's lease had run out)", d->batch.lost);
	notes_free(d->b_notes, &d->b_nnotes);
	memset(&d->b_outcomes, 0, sizeof d->b_outcomes);
	memset(&d->b_claims, 0, sizeof d->b_claims);
	/* anything these add (pumped claims, synchronous outcomes) goes in
	 * the next batch */
	/* first what others committed (a STOP's opt-out is in force before
	 * the claims below are handed to plugins) */
	parts_done(d, true);
	while ((j = list_pop(&outcomes))) {
		if (j->optout_signal) {
			struct consent_change o = {OVR_OPTOUT, job_patient(j)->id, j->q->name, 1,
				OVR_GATEWAY, j->reason, (int64_t)now(d)};
			consent_apply(d->consent, &o);
		}
		outcome_committed(j);
	}
	for (i = 0; (j = list_pop(&claims)); i++)
		claim_committed(j, d->batch.results[i], &d->batch.claims[i]);
	if (!batch_empty(d))
		ensure_flush(d);
}

/* Nothing to write.  While the ledger is down a batch is due all the
 * same, empty or not: the one refused may have held others' parts only
 * (callbacks, answered 503 and gone), and until a batch commits the ledger
 * counts as down (callbacks refused at once, status says so). */
static bool batch_empty(const struct dispatch *d)
{
	return !d->ledger_down && !d->nnotes && !d->outcomes.n && !d->claims.n && !d->parts &&
	    mark_target(d) == d->mark;
}

/* The due of a held claim about to leave, or 0.  A batch without claims
 * waits for it (a timer at its due brings the batch back). */
static double hold_imminent(const struct dispatch *d)
{
	double next = alarm_next(&d->hold_next);

	return next && next - ev_time() < HOLD_GUARD ? next : 0;
}

/* Commits the batch.  Claims gate sends, so a batch with claims is
 * committed once per loop iteration, before the loop polls (flush_cb).
 * One without (outcomes, notes, the mark) waits for an iteration with
 * nothing else to do (busy_cb, `all`): its fsync then no longer stops the
 * loop in the middle of a burst, between requests still to be written
 * (bench W3: the outcomes of a second's first replies were committed while
 * the rest of that second's requests waited, 3-5 ms).  It only delays when
 * a slot comes free: the outcome is still committed before its slot is
 * reused, and a batch with claims takes the outcomes along.  Others' parts
 * (the gateways' callbacks, waiting for their answer) are committed like
 * claims, but never in the HOLD_GUARD before a held claim's due (bench W6:
 * a burst of callbacks committed there made that second's sends late).
 *
 * One batch at a time: with SQLite it completes inside submit, and the
 * loop goes on with what its completion added (synchronous plugin
 * outcomes); with a server, the completion comes back later and starts
 * the next one. */
static void flush(struct dispatch *d, bool all)
{
	double held;

	while (!d->busy && !batch_empty(d) && !ev_is_active(&d->ledger_retry_w)) {
		if (!all && !d->claims.n && !d->parts)
			return;                    /* busy_w is active: busy_cb commits it */
		if (!d->claims.n && (held = hold_imminent(d))) {
			ev_idle_stop(d->loop, &d->busy_w);
			ev_timer_stop(d->loop, &d->hold_w);
			ev_timer_set(&d->hold_w, held - ev_time() + 0.001, 0.);
			ev_timer_start(d->loop, &d->hold_w);
			return;
		}
		batch_build(d);
		d->busy = true;
		d->ledger->ops->submit(d->ledger, &d->batch, batch_done, d);
		/* synchronous plugin outcomes land in the lists again: loop */
	}
	/* nothing to write, or nothing to try before the retry timer (which
	 * starts busy_w again), or a batch in flight (its completion does):
	 * an idle watcher left on would spin the loop */
	if (d->busy || batch_empty(d) || ev_is_active(&d->ledger_retry_w))
		ev_idle_stop(d->loop, &d->busy_w);
}

/* Once per loop iteration, before the loop blocks. */
static void flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	flush(w->data, false);
}

static void ledger_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dispatch *d = w->data;

	ensure_flush(d);                     /* the next prepare tries the batch again */
}

void dispatch_ledger_ready(struct dispatch *d)
{
	if (ev_is_active(&d->ledger_retry_w)) {
		ev_timer_stop(d->loop, &d->ledger_retry_w);
		ensure_flush(d);
	}
}

static void hold_guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ensure_flush(w->data);
}

/* An iteration with nothing pending (libev runs idle watchers only then). */
static void busy_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	flush(w->data, true);
}

void dispatch_mark(struct dispatch *d, int64_t mark)
{
	d->sched_mark = mark;
	if (mark_target(d) != d->mark)
		ensure_flush(d);
}

/* ---- offers ------------------------------------------------------------ */

/* A job of any type, with what every job has; the caller fills the rest. */
static struct job *job_alloc(struct dispatch *d, const struct snapshot *s, uint32_t patient,
    uint16_t ch, uint64_t id)
{
	struct job *j = xcalloc(1, sizeof *j);

	j->magic = JOB_MAGIC;
	j->d = d;
	j->q = dq_get(d, s->channels[ch].name);
	j->id = id;
	ident_hex(id, j->hex);
	j->snap = snapshot_ref((struct snapshot *)s);
	j->patient = patient;
	j->ch = ch;
	ev_timer_init(&j->wait, wait_cb, 0., 0.);
	ev_periodic_init(&j->hold, hold_cb, 0., 0., NULL);
	j->hold.data = j;
	j->wait.data = j;
	idset_add(&d->active, id);
	j->all_next = d->all;
	if (d->all)
		d->all->all_prev = j;
	d->all = j;
	return j;
}

/* A calendar reminder: one channel of a group. */
static struct job *job_new(struct dispatch *d, const struct snapshot *s, const struct occ *o,
    uint16_t ch, uint64_t id)
{
	struct job *j = job_alloc(d, s, (uint32_t)(o->patient - s->patients), ch, id);

	j->type = SEND_REMINDER;
	j->tmpl = o->tmpl;
	j->kind = o->kind;
	j->due = o->due;
	j->event = o->event;
	j->expires = expiry(s, o);
	j->location = dup_or_null(o->location);
	j->label = dup_or_null(o->label);
	return j;
}

/* A derived send (struct send_spec). */
static struct job *job_derived(struct dispatch *d, const struct snapshot *s,
    const struct send_spec *sp)
{
	struct job *j = job_alloc(d, s, sp->patient, sp->ch, sp->id);

	j->type = sp->type;
	j->origin = sp->origin;
	j->tmpl = sp->tmpl;
	j->kind = sp->type == SEND_FALLBACK ? sp->kind : KIND_COUNT;
	j->due = sp->due;
	j->event = sp->event;
	j->expires = sp->expires;
	j->location = dup_or_null(sp->location);
	j->label = dup_or_null(sp->label);
	j->body = dup_or_null(sp->body);
	j->stored = dup_or_null(sp->stored ? sp->stored : sp->body);
	return j;
}

static void queue_job(struct job *j)
{
	if (!j->q) {                           /* more channel names than ever fit */
		job_note(j, REC_SKIPPED, "too many channels");
		job_free(j);
		return;
	}
	j->state = J_QUEUED;
	list_insert_due(&j->q->queue, j, j->durable);
	pump(j->q);
}

/* Why a due reminder will not be sent now, or NULL if it will. */
static const char *why_not(struct dispatch *d, const struct snapshot *s, const struct occ *o,
    uint16_t ch, enum status st, enum rec_status *rs)
{
	double t = now(d);

	*rs = REC_SKIPPED;
	if (st != STATUS_SCHEDULED)
		return status_names[st] + strlen("skipped:");
	if (!d->ledger->shared && consent_paused(d->consent, o->patient->id, (int64_t)t))
		return "paused";
	if (!d->ledger->shared && consent_opted_out(d->consent, o->patient->id, s->channels[ch].name))
		return "opt-out";
	*rs = REC_MISSED;
	if (t - (double)o->due > (double)s->catch_up)
		return "overdue by more than catch_up (iopd was not running or the clock jumped)";
	if (t >= (double)expiry(s, o))
		return o->kind == KIND_MEDICATION ? "past medication_grace" : "too late: the event has begun";
	return NULL;
}

void dispatch_recheck(struct dispatch *d, int64_t before)
{
	if (before > d->recheck_before)
		d->recheck_before = before;
}

/* Offered before -- by the last run, or by the schedule a reload replaced --
 * and settled in the ledger since (sent, failed, missed, skipped ...): not
 * queued again.  The claim would refuse it anyway, but only after it took
 * a token of the channel's rate and a slot: after a crash in the middle of
 * a burst, the part already sent held up the rest (at rate = 1/s, a
 * thousand sent reminders meant a quarter of an hour of nothing), and was
 * logged and counted again as missed or skipped. */
static bool settled(struct dispatch *d, int64_t due, uint64_t id)
{
	struct ledger_rec r;
	char buf[1024];

	if (due >= d->recheck_before || d->ledger->shared)
		return false;                  /* a shared ledger: the claim decides */
	return d->ledger->ops->lookup(d->ledger, id, &r, buf, sizeof buf) == 1 && rec_final(r.status);
}

void dispatch_offer(struct dispatch *d, const struct snapshot *s, const struct occ *o)
{
	uint8_t i;

	for (i = 0; i < o->rule->nchan; i++) {
		uint16_t ch = o->rule->chan[i];
		uint64_t id = cal_id(s, o, ch);
		enum rec_status rs;
		const char *why;
		struct job *j;

		if (idset_has(&d->active, id))
			continue;                      /* already on its way */
		if (idset_del(&d->cancelled, id)) {
			char hex[IDENT_HEX_LEN + 1];
			ident_hex(id, hex);
			log_ctx(LOG_LVL_INFO, &(struct log_ctx){hex, o->patient->id, s->channels[ch].name},
			    "not sent: cancelled with iopctl");
			continue;
		}
		if (settled(d, o->due, id))
			continue;                      /* done with before */
		j = job_new(d, s, o, ch, id);
		if ((why = why_not(d, s, o, ch, cal_status(s, o, ch), &rs))) {
			job_note(j, rs, why);
			job_free(j);
			continue;
		}
		queue_job(j);
	}
}

/* A job the ledger had open at start goes on where it was. */
static void resume_job(struct dispatch *d, struct job *j, const struct ledger_rec *r)
{
	j->attempts = r->attempts;
	j->durable = true;
	log_ctx(LOG_LVL_NOTICE, &(struct log_ctx){j->hex, job_patient(j)->id, j->q ? j->q->name : "-"},
	    "resuming a %s left %s at the last stop (attempt %d so far)",
	    j->type == SEND_REMINDER ? "reminder" : job_kind_name(j), rec_status_names[r->status],
	    r->attempts);
	/* One that was waiting for a retry waits again, as job_done would have
	 * it wait: a backoff counted from the recorded failure (r->at, fresh
	 * jitter), then out of the patient's quiet hours.  A restart must not
	 * turn a deferred retry into a send at once, at night.  (The gateway's
	 * Retry-After is not in the ledger; the backoff stands in for it.) */
	if (r->status == REC_RETRY && j->q && j->attempts > 0) {
		double t = fmax(now(d), (double)r->at +
		    dispatch_backoff(j->attempts, RETRY_BASE, RETRY_CAP, &d->rng));
		if (job_quiet_applies(j))
			t = (double)cal_after_quiet(job_patient(j), (int64_t)ceil(t));
		if (t >= (double)j->expires) {
			job_note(j, REC_EXPIRED, "expired: its retry would come too late");
			job_free(j);
			return;
		}
		if (t > now(d)) {
			j->state = J_WAITING;
			d->waiting++;
			ev_timer_set(&j->wait, t - now(d), 0.);
			ev_timer_start(d->loop, &j->wait);
			return;
		}
	}
	queue_job(j);
}

void dispatch_resume(struct dispatch *d, const struct snapshot *s, const struct occ *o,
    uint16_t ch, const struct ledger_rec *r)
{
	if (!idset_has(&d->active, r->id))
		resume_job(d, job_new(d, s, o, ch, r->id), r);
}

bool dispatch_send(struct dispatch *d, const struct snapshot *s, const struct send_spec *sp,
    const struct ledger_rec *prior)
{
	struct ledger_rec r;
	char buf[1024];
	struct job *j;

	if (idset_has(&d->active, sp->id))
		return false;                  /* on its way already */
	if (prior) {
		resume_job(d, job_derived(d, s, sp), prior);
		return true;
	}
	if (d->ledger->ops->lookup(d->ledger, sp->id, &r, buf, sizeof buf) == 1 && rec_final(r.status))
		return false;                  /* done with before */
	j = job_derived(d, s, sp);
	if (j->q) {
		/* in the ledger with the next batch (with what made it: a
		 * failure, a callback), so a crash before its claim loses it not */
		struct ledger_rec n = job_rec(j, REC_RETRY);
		char *why = xasprintf("queued: %s", sp->why ? sp->why : job_kind_name(j));

		n.reason = why;
		dispatch_note(d, &n);
		free(why);
		j->durable = true;
	}
	log_ctx(LOG_LVL_INFO, &(struct log_ctx){j->hex, job_patient(j)->id, j->q ? j->q->name : "-"},
	    "%s queued%s%s", j->type == SEND_FALLBACK ? "fallback" : job_kind_name(j),
	    sp->why ? ": " : "", sp->why ? sp->why : "");
	queue_job(j);
	return true;
}

bool dispatch_idle(const struct dispatch *d, double horizon)
{
	double next = alarm_next(&d->hold_next);
	int i;

	if (!batch_empty(d) || d->ledger_down || d->draining ||
	    (next && next - ev_time() < horizon))
		return false;
	for (i = 0; i < d->nqs; i++)
		if (d->qs[i]->queue.n)
			return false;
	return true;
}

bool dispatch_ledger_down(const struct dispatch *d)
{
	return d->ledger_down;
}

void dispatch_join(struct dispatch *d, struct dispatch_part *p)
{
	if (p->joined)
		return;
	p->joined = true;
	p->next = d->parts;
	d->parts = p;
	ensure_flush(d);
}

void dispatch_leave(struct dispatch *d, struct dispatch_part *p)
{
	struct dispatch_part **q;

	for (q = &d->parts; *q && *q != p; q = &(*q)->next)
		;
	if (!*q)                           /* in the batch in flight: its done is not called */
		for (q = &d->b_parts; *q && *q != p; q = &(*q)->next)
			;
	if (*q)
		*q = p->next;
	p->next = NULL;
	p->joined = false;
}

void dispatch_on_failed(struct dispatch *d, dispatch_failed_fn fn, void *arg)
{
	d->failed_fn = fn;
	d->failed_arg = arg;
}

/* ---- configuration changes ------------------------------------------ */

/* Moves a queued or waiting job to snapshot s, or returns false if its
 * patient or channel is gone there. */
static bool job_rebind(struct job *j, struct snapshot *s)
{
	const char *tname = j->tmpl >= 0 ? j->snap->templates[j->tmpl].name : NULL;
	int64_t p = snapshot_patient(s, job_patient(j)->id);
	int ch = snapshot_channel(s, j->q->name);
	int t = tname ? snapshot_template(s, tname) : -1;

	if (p < 0 || ch < 0)
		return false;
	if (t < 0 && tname && j->kind < KIND_COUNT)
		t = s->default_tmpl[j->kind];
	if (t < 0 && tname)
		return false;
	snapshot_unref(j->snap);
	j->snap = snapshot_ref(s);
	j->patient = (uint32_t)p;
	j->ch = (uint16_t)ch;
	j->tmpl = t;
	return true;
}

static void rebind_queue(struct dispatch *d, struct dq *q, struct snapshot *s)
{
	struct joblist keep = {NULL, NULL, 0};
	struct job *j;

	while ((j = list_pop(&q->queue))) {
		if (job_rebind(j, s)) {
			list_push(&keep, j);
		} else {
			job_note(j, REC_SKIPPED, "removed from the configuration");
			job_free(j);
		}
	}
	q->queue = keep;
}

void dispatch_use(struct dispatch *d, struct snapshot *s)
{
	int i;

	if (d->snap)
		snapshot_unref(d->snap);
	d->snap = snapshot_ref(s);
	for (i = 0; i < d->nqs; i++) {
		int ch = snapshot_channel(s, d->qs[i]->name);
		if (ch >= 0)
			dq_settings(d->qs[i], &s->channels[ch]);
		else
			d->qs[i]->gone = true;
		rebind_queue(d, d->qs[i], s);
	}
	for (i = 0; i < s->nchannels; i++) {
		struct dq *q = dq_get(d, s->channels[i].name);
		if (q)
			dq_settings(q, &s->channels[i]);
	}
}

/* Jobs waiting for a retry are rebound when their timer fires (wait_cb);
 * jobs in flight finish with the snapshot they started with. */

/* ---- life cycle ------------------------------------------------------- */

struct dispatch *dispatch_new(struct ev_loop *loop, struct ledger *l, struct consent *c)
{
	struct dispatch *d = xcalloc(1, sizeof *d);

	d->loop = loop;
	d->ledger = l;
	d->consent = c;
	d->mark = d->sched_mark = -1;      /* until dispatch_loaded */
	if (getrandom(&d->rng, sizeof d->rng, 0) != sizeof d->rng)
		d->rng = (uint64_t)ev_time() ^ (uint64_t)(uintptr_t)d;
	ev_prepare_init(&d->flush_w, flush_cb);
	d->flush_w.data = d;
	ev_prepare_start(loop, &d->flush_w);
	ev_idle_init(&d->busy_w, busy_cb);
	d->busy_w.data = d;
	ev_timer_init(&d->ledger_retry_w, ledger_retry_cb, 0., 0.);
	d->ledger_retry_w.data = d;
	ev_timer_init(&d->hold_w, hold_guard_cb, 0., 0.);
	d->hold_w.data = d;
	alarm_init(&d->hold_next, loop);
	return d;
}

void dispatch_loaded(struct dispatch *d, int64_t mark)
{
	d->mark = d->sched_mark = mark;
}

void dispatch_drain(struct dispatch *d, void (*done)(void *arg), void *arg)
{
	struct dispatch_stats st;
	struct job *j, *next;

	d->draining = true;
	/* claimed ahead of their due and not sent: left in flight in the
	 * ledger, the next start sends them (at their due) */
	for (j = d->all; j; j = next) {
		next = j->all_next;
		if (j->state == J_HELD) {
			j->q->inflight--;
			job_free(j);
		}
	}
	dispatch_stats(d, &st);
	if (!st.inflight) {
		done(arg);
		return;
	}
	d->drained = done;
	d->drained_arg = arg;
}

void dispatch_stats(const struct dispatch *d, struct dispatch_stats *st)
{
	int i;

	*st = d->totals;
	st->queued = st->inflight = 0;
	for (i = 0; i < d->nqs; i++) {
		st->queued += d->qs[i]->queue.n;
		st->inflight += d->qs[i]->inflight;
	}
	st->waiting_retry = d->waiting;
	st->ledger_error = d->ledger_down ? d->ledger_err : NULL;
}

void dispatch_failing(const struct dispatch *d, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < d->nqs && n < len; i++)
		if (d->qs[i]->fail_streak && !d->qs[i]->gone)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "," : "", d->qs[i]->name);
}

void dispatch_free(struct dispatch *d)
{
	int i;

	if (!d)
		return;
	d->drained = NULL;
	ev_prepare_stop(d->loop, &d->flush_w);
	ev_idle_stop(d->loop, &d->busy_w);
	ev_timer_stop(d->loop, &d->ledger_retry_w);
	ev_timer_stop(d->loop, &d->hold_w);
	alarm_close(&d->hold_next);
	while (d->all) {
		struct job *j = d->all;
		if (j->state == J_INFLIGHT && job_channel(j)->inst)
			chan_inst_cancel(job_channel(j)->inst, j);   /* its done must not run */
		job_free(j);
	}
	for (i = 0; i < d->nqs; i++) {
		ev_timer_stop(d->loop, &d->qs[i]->wake);
		free(d->qs[i]->name);
		free(d->qs[i]);
	}
	notes_free(d->notes, &d->nnotes);
	notes_free(d->b_notes, &d->b_nnotes);
	free(d->notes);
	free(d->b_notes);
	free(d->b_recs);
	free(d->b_ovrs);
	free(d->b_results);
	idset_free(&d->active);
	idset_free(&d->cancelled);
	snapshot_unref(d->snap);
	free(d);
}

/* ---- queue control ------------------------------------------------------ */

static void job_report(struct job *j, bool ok, const char *what)
{
	dispatch_watch_fn fn = j->watch;

	if (!fn)
		return;
	j->watch = NULL;
	fn(j->watch_arg, ok, what);
}

bool dispatch_holds(const struct dispatch *d, uint64_t id)
{
	return idset_has(&d->active, id);
}

static struct job *job_by_id(struct dispatch *d, uint64_t id)
{
	struct job *j;

	if (!idset_has(&d->active, id))
		return NULL;
	for (j = d->all; j && j->id != id; j = j->all_next)
		;
	return j;
}

/* Why a job cannot be retried or cancelled now, or NULL. */
static const char *job_busy(const struct job *j, bool cancel)
{
	switch (j->state) {
	case J_INFLIGHT:
		return cancel ? "too late: it is being sent now" : "it is being sent now";
	case J_OUTCOME:
		return cancel ? "too late: it was just sent or refused (iopctl history shows which)" :
		    "its attempt just ended (iopctl history shows how)";
	case J_CLAIMING:
	case J_HELD:
		return cancel ? NULL : "it is claimed and leaves at its due time";
	case J_QUEUED:
		return cancel ? NULL : "it is queued already, waiting for a send slot or the channel's rate";
	default:
		return NULL;
	}
}

static void list_remove(struct joblist *l, struct job *j)
{
	struct job **p, *prev = NULL;

	for (p = &l->head; *p && *p != j; p = &(*p)->next)
		prev = *p;
	if (!*p)
		return;
	*p = j->next;
	if (l->tail == j)
		l->tail = prev;
	l->n--;
	j->next = NULL;
}

enum dispatch_ctl dispatch_retry(struct dispatch *d, uint64_t id, dispatch_watch_fn fn, void *arg,
    char *msg, size_t len)
{
	struct job *j = job_by_id(d, id);
	const char *why;

	if (!j)
		return DCTL_NOT_HERE;
	if (d->draining || (why = job_busy(j, false))) {
		snprintf(msg, len, "%s", d->draining ? "iopd is stopping" : why);
		return DCTL_REFUSED;
	}
	if (j->watch) {
		snprintf(msg, len, "another iopctl retry already waits for it");
		return DCTL_REFUSED;
	}
	ev_timer_stop(d->loop, &j->wait);
	d->waiting--;
	j->state = J_QUEUED;
	j->watch = fn;
	j->watch_arg = arg;
	j->forced = true;
	log_ctx(LOG_LVL_NOTICE, &(struct log_ctx){j->hex, job_patient(j)->id, j->q->name},
	    "retried now with iopctl (attempt %d so far)", j->attempts);
	if (j->snap != d->snap && !job_rebind(j, d->snap)) {
		job_note(j, REC_SKIPPED, "removed from the configuration");
		job_free(j);
		return DCTL_DONE;
	}
	list_push_front(&j->q->queue, j);
	pump(j->q);
	return DCTL_DONE;
}

void dispatch_unwatch(struct dispatch *d, void *arg)
{
	struct job *j;

	for (j = d->all; j; j = j->all_next)
		if (j->watch && j->watch_arg == arg)
			j->watch = NULL;
}

enum dispatch_ctl dispatch_cancel(struct dispatch *d, uint64_t id, const char *reason, char *msg,
    size_t len)
{
	struct job *j = job_by_id(d, id);
	const char *why;

	if (!j)
		return DCTL_NOT_HERE;
	if ((why = job_busy(j, true))) {
		snprintf(msg, len, "%s", why);
		return DCTL_REFUSED;
	}
	switch (j->state) {
	case J_CLAIMING:                       /* skipped when its claim is committed */
		free(j->cancel);
		j->cancel = xstrdup(reason);
		snprintf(msg, len, "it was being claimed: it will not be sent");
		return DCTL_DONE;
	case J_HELD:                           /* claimed ahead of its due: never handed over */
		ev_periodic_stop(d->loop, &j->hold);
		j->state = J_INFLIGHT;
		job_skip_claimed(j, reason);
		snprintf(msg, len, "it was claimed, due at its time: it will not be sent");
		return DCTL_DONE;
	case J_WAITING:
		snprintf(msg, len, "it was waiting for a retry (%d attempt%s so far): it will not be "
		    "tried again", j->attempts, j->attempts == 1 ? "" : "s");
		break;
	default:
		list_remove(&j->q->queue, j);
		snprintf(msg, len, "it was queued to be sent: it will not be");
	}
	job_note(j, REC_SKIPPED, reason);
	job_free(j);
	return DCTL_DONE;
}

void dispatch_cancel_future(struct dispatch *d, const struct snapshot *s, const struct occ *o,
    uint16_t ch, const char *reason)
{
	struct ledger_rec r;

	memset(&r, 0, sizeof r);
	r.id = cal_id(s, o, ch);
	r.patient = o->patient->id;
	r.channel = s->channels[ch].name;
	r.kind = kind_names[o->kind];
	r.due = o->due;
	r.event = o->event;
	r.expires = expiry(s, o);
	r.status = REC_SKIPPED;
	r.reason = reason;
	r.at = (int64_t)now(d);
	dispatch_note(d, &r);
	idset_add(&d->cancelled, r.id);
}
