/* control_job.c - see control_job.h.
 *
 * Threads and ownership.  The loop owns the set and every job struct: it
 * creates them, starts the threads (a few at once, the rest wait in
 * order), joins them and frees them.  A thread owns the write end
 * of its pipe and the ledger reader it opens; it reads the snapshot, which
 * nothing changes, and touches nothing else but its `done` flag, then
 * wakes the loop (ev_async).  The connection owns the read end until it
 * releases the job. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agenda.h"
#include "agenda_ledger.h"
#include "calendar.h"
#include "control_job.h"
#include "control_job_int.h"
#include "ident.h"
#include "log.h"
#include "safetext.h"
#include "timefmt.h"

/* Threads at once, per class: agendas and histories may run long (a slow
 * client keeps its job waiting on the pipe), so more of them wait in turn;
 * `status` and the prep of an override are short and have slots of their
 * own, never queued behind them. */
#define JOB_THREADS_LONG 4
#define JOB_THREADS_STATUS 8
#define JOB_CHUNK (64 * 1024)          /* what a job gathers before writing it */

struct cjob {
	struct cjobs *set;
	struct cjob *next;
	struct cjob_req req;
	struct snapshot *snap;         /* referenced until the job is freed */
	struct ledger *ledger;         /* the daemon's: only for reader() */
	int rfd, wfd;                  /* the pipe: the connection's end, the thread's */
	pthread_t thread;
	bool started, joined, released;
	atomic_bool done;              /* the thread has ended */
};

struct cjobs {
	struct ev_loop *loop;
	ev_async done_w;
	struct cjob *jobs;             /* in the order they came */
	int running[2];                /* threads of each class (job_class) */
};

/* The short ones (status; the name of a user for an override) have slots
 * of their own; agendas, histories, searches of the calendar and backups
 * may take a while. */
static int job_class(const struct cjob *j)
{
	return j->req.kind == CJOB_STATUS || (j->req.kind == CJOB_PREP && !j->req.find_id);
}

static bool job_may_run(const struct cjob *j)
{
	return j->set->running[job_class(j)] < (job_class(j) ? JOB_THREADS_STATUS : JOB_THREADS_LONG);
}

/* ---- on the thread: the answer ---------------------------------------------- */

static void out_write(struct cjob_out *o, const char *s, size_t n)
{
	if (!o->failed && n && fwrite(s, 1, n, o->f) != n)
		o->failed = true;          /* the client is gone (EPIPE) */
}

void cjob_out_flush(struct cjob_out *o)
{
	if (!o->started) {
		out_write(o, "OK\n", 3);
		o->started = true;
	}
	out_write(o, o->buf.s, o->buf.len);
	sbuf_reset(&o->buf);
}

void cjob_out_maybe_flush(struct cjob_out *o)
{
	if (o->buf.len >= JOB_CHUNK)
		cjob_out_flush(o);
}

/* The error as an answer, or, once bytes went out, as the answer's last line. */
void cjob_out_error(struct cjob_out *o, const char *what, const char *why)
{
	struct sbuf m = {0};

	sbuf_reset(&o->buf);
	if (!o->started)
		out_write(o, "ERR\n", 4);
	if (o->json) {
		sbuf_adds(&m, "{\"ok\":false,\"error\":");
		sbuf_printf(&o->buf, "%s: %s%s", what, why, o->started ? " (the answer is incomplete)" : "");
		sbuf_json_str(&m, o->buf.s);
		sbuf_adds(&m, "}\n");
	} else {
		sbuf_printf(&m, "iopd: %s: ", what);
		safe_escape(&m, why, strlen(why));
		sbuf_adds(&m, o->started ? " (the answer is incomplete)\n" : "\n");
	}
	out_write(o, m.s, m.len);
	o->started = true;
	sbuf_reset(&o->buf);
	sbuf_free(&m);
}

/* ---- agenda: the calendar with what the ledger knows ------------------------- */

/* The runtime overrides are read from the ledger, where iopd records them
 * before it acts on them: the thread needs nothing of the loop's. */
static void job_agenda(struct cjob *j, struct ledger *r, struct cjob_out *o)
{
	struct agenda_ledger *al;
	char err[512];

	if (!(al = agenda_ledger_new(r, true, err, sizeof err))) {
		cjob_out_error(o, "agenda", err);
		return;
	}
	cjob_out_flush(o);
	agenda_print(j->snap, j->req.from, j->req.to, j->req.patient,
	    j->req.json ? AGENDA_JSONL : AGENDA_TABLE, o->f, agenda_ledger_status, al);
	agenda_ledger_free(al);
}

/* ---- status: the day's counts per channel ---------------------------------------- */

struct day_counts {
	const struct snapshot *s;
	long n[SNAP_MAX_CHANNELS][REC_COUNT];
};

static void count_cb(const char *channel, enum rec_status st, long n, void *arg)
{
	struct day_counts *dc = arg;
	int ch = snapshot_channel(dc->s, channel);

	if (ch >= 0 && st >= 0)
		dc->n[ch][st] += n;
}

/* The loop wrote everything else (head): the channels come last, in JSON
 * the "channels" array, in text the table. */
static void req_free(struct cjob_req *req)
{
	size_t i;

	free(req->patient_id);
	free(req->path);
	sbuf_free(&req->head);
	for (i = 0; i < req->nproblems; i++)
		free(req->problems[i]);
	free(req->problems);
}

static void job_status(struct cjob *j, struct ledger *r, struct cjob_out *o)
{
	const struct snapshot *s = j->snap;
	struct day_counts *dc = xcalloc(1, sizeof *dc);
	uint16_t i;

	dc->s = s;
	if (r)                             /* none without a ledger: its error is in head */
		r->ops->counts_since(r, j->req.since, count_cb, dc);
	sbuf_add(&o->buf, j->req.head.s ? j->req.head.s : "", j->req.head.len);
	if (!o->json)
		sbuf_printf(&o->buf, "\n%-16s %6s %6s %7s %6s %7s %5s\n", "today", "sent", "failed",
		    "expired", "missed", "skipped", "retry");
	for (i = 0; i < s->nchannels; i++) {
		const long *n = dc->n[i];
		if (o->json) {
			sbuf_printf(&o->buf, "%s{\"name\":", i ? "," : "");
			sbuf_json_str(&o->buf, s->channels[i].name);
			sbuf_printf(&o->buf, ",\"module\":\"%s\",\"today\":{\"sent\":%ld,\"failed\":%ld,"
			    "\"expired\":%ld,\"missed\":%ld,\"skipped\":%ld,\"retry\":%ld},\"problem\":%s}",
			    s->channels[i].module, n[REC_SENT], n[REC_FAILED], n[REC_EXPIRED], n[REC_MISSED],
			    n[REC_SKIPPED], n[REC_RETRY], j->req.problems ? j->req.problems[i] : "null");
		} else {
			sbuf_printf(&o->buf, "%-16s %6ld %6ld %7ld %6ld %7ld %5ld\n", s->channels[i].name,
			    n[REC_SENT], n[REC_FAILED], n[REC_EXPIRED], n[REC_MISSED], n[REC_SKIPPED], n[REC_RETRY]);
		}
	}
	if (o->json)
		sbuf_adds(&o->buf, "]}\n");
	cjob_out_flush(o);
	free(dc);
}

static void *job_main(void *arg)
{
	struct cjob *j = arg;
	struct cjob_out o;
	struct ledger *r;
	char err[512];
	int fd = j->wfd;

	j->wfd = -1;                       /* the thread's now (the loop reads it only after the join) */
	memset(&o, 0, sizeof o);
	o.json = j->req.json;
	if (!(o.f = fdopen(fd, "w"))) {
		close(fd);
	} else {
		r = j->req.kind == CJOB_PREP || j->req.kind == CJOB_BACKUP ? NULL :
		    j->ledger->ops->reader(j->ledger, err, sizeof err);
		if (j->req.kind == CJOB_PREP)
			cjob_prep(&j->req, j->snap, &o);
		else if (j->req.kind == CJOB_BACKUP)
			cjob_backup(&j->req, j->ledger, &o);
		else if (j->req.kind == CJOB_STATUS)
			job_status(j, r, &o);      /* says what is wrong with the ledger */
		else if (!r)
			cjob_out_error(&o, "cannot read the ledger", err);
		else if (j->req.kind == CJOB_AGENDA)
			job_agenda(j, r, &o);
		else
			cjob_history(&j->req, j->snap, r, &o);
		if (r)
			r->ops->close(r);
		fclose(o.f);                   /* end of file for the connection */
	}
	sbuf_free(&o.buf);
	atomic_store(&j->done, true);
	ev_async_send(j->set->loop, &j->set->done_w);
	return NULL;
}

/* ---- on the loop: starting, reaping ------------------------------------------------ */

static void job_free(struct cjob *j)
{
	struct cjob **p;

	for (p = &j->set->jobs; *p != j; p = &(*p)->next)
		;
	*p = j->next;
	if (j->rfd >= 0)
		close(j->rfd);
	if (j->wfd >= 0)
		close(j->wfd);
	snapshot_unref(j->snap);
	req_free(&j->req);
	free(j);
}

static void job_run(struct cjob *j)
{
	int rc;

	j->started = true;
	if ((rc = pthread_create(&j->thread, NULL, job_main, j)) != 0) {
		/* no thread: the answer is an error, written here (it fits the pipe) */
		static const char text[] = "ERR\niopd: cannot start a thread for this answer; try again\n";
		log_warn("control: cannot start a thread: %s", strerror(rc));
		if (write(j->wfd, text, sizeof text - 1) < 0)
			log_debug("control: %s", strerror(errno));
		close(j->wfd);
		j->wfd = -1;
		j->joined = true;
		atomic_store(&j->done, true);
		return;
	}
	j->set->running[job_class(j)]++;
}

/* Joins what ended, frees what nobody reads any more, starts what waits. */
static void reap(struct cjobs *set)
{
	struct cjob *j, *next;

	for (j = set->jobs; j; j = next) {
		next = j->next;
		if (j->started && !j->joined && atomic_load(&j->done)) {
			pthread_join(j->thread, NULL);
			j->joined = true;
			set->running[job_class(j)]--;
		}
		if (j->released && (j->joined || !j->started))
			job_free(j);
	}
	for (j = set->jobs; j; j = j->next)
		if (!j->started && !j->released && job_may_run(j))
			job_run(j);
}

static void done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	reap(w->data);
}

struct cjobs *cjobs_new(struct ev_loop *loop)
{
	struct cjobs *set = xcalloc(1, sizeof *set);

	set->loop = loop;
	ev_async_init(&set->done_w, done_cb);
	set->done_w.data = set;
	ev_async_start(loop, &set->done_w);
	return set;
}

void cjobs_free(struct cjobs *set)
{
	struct cjob *j;

	if (!set)
		return;
	for (j = set->jobs; j; j = j->next) {
		j->released = true;            /* a thread's next write fails: it ends */
		if (j->rfd >= 0)
			close(j->rfd);
		j->rfd = -1;
	}
	for (j = set->jobs; j; j = j->next)
		if (j->started && !j->joined) {
			pthread_join(j->thread, NULL);
			j->joined = true;
		}
	while (set->jobs)
		job_free(set->jobs);
	ev_async_stop(set->loop, &set->done_w);
	free(set);
}

struct cjob *cjob_start(struct cjobs *set, struct snapshot *s, struct ledger *l,
    struct cjob_req *req, char *err, size_t errlen)
{
	struct cjob *j, **p;
	int fd[2];

	if (pipe2(fd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot make a pipe: %s", strerror(errno));
		req_free(req);
		return NULL;
	}
	fcntl(fd[0], F_SETFL, O_NONBLOCK);
	j = xcalloc(1, sizeof *j);
	j->set = set;
	j->req = *req;
	memset(req, 0, sizeof *req);
	j->snap = snapshot_ref(s);
	j->ledger = l;
	j->rfd = fd[0];
	j->wfd = fd[1];
	atomic_init(&j->done, false);
	for (p = &set->jobs; *p; p = &(*p)->next)
		;
	*p = j;
	if (job_may_run(j))
		job_run(j);
	return j;
}

int cjob_fd(const struct cjob *j)
{
	return j->rfd;
}

void cjob_release(struct cjob *j)
{
	j->released = true;
	if (j->rfd >= 0) {
		close(j->rfd);
		j->rfd = -1;
	}
	reap(j->set);
}
