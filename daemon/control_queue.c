/* control_queue.c - iopctl retry, cancel and backup: queue control as
 * Postfix's postqueue and postsuper give it, and the ledger's copy.
 *
 *   retry ID     a reminder waiting for a retry or for the end of quiet
 *                hours goes now; the answer waits for its attempt and
 *                says how it went
 *   cancel ID    never send it: recorded skipped, "cancelled by USER
 *                (uid N): REASON"; a reminder not yet due is found in the
 *                calendar (a prep job) and recorded now, so the claim
 *                refuses it when it falls due, even after a restart; the
 *                answer comes once that is committed
 *   backup FILE  the ledger's online copy, on a job's thread */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_int.h"
#include "log.h"
#include "timefmt.h"

#define REASON_MAX 300

static const char *const cancel_keys[] = {"reason", NULL};

/* "retried 3 times, last sent at ..." of a settled reminder. */
static void settled_text(const struct ledger_rec *r, const struct snapshot *s, char *buf, size_t len)
{
	int64_t p = snapshot_patient(s, r->patient);
	char t[FMT_LOCAL_LEN + 1];
	const char *detail = r->status == REC_SENT ? r->gateway_id : r->reason;

	fmt_local(r->at, p >= 0 ? s->patients[p].tz : s->tz, t);
	snprintf(buf, len, "it was %s at %s%s%s%s (attempt %d)", rec_status_names[r->status], t,
	    detail ? " (" : "", detail ? detail : "", detail ? ")" : "", r->attempts);
}

/* ---- a shared ledger: the row as the server has it --------------------------- */

/* Another instance's reminder is not in this one's memory: the commands
 * that look a reminder up read its row from the server first. */
static void row_fetched(int rc, void *arg)
{
	struct conn *c = arg;
	void (*next)(struct conn *c) = c->fetched;
	struct ledger *l = c->dm->ledger;

	c->fetched = NULL;
	c->waiting = false;                /* `next` waits again if it must */
	if (c->dead)
		ctl_fail(c, "gone");           /* frees it */
	else if (rc != 0)
		ctl_fail(c, "%s: cannot read the ledger now (%s): try again", c->argv[1], l->ops->error(l));
	else
		next(c);
}

/* true: `next` runs once the row of c->argv[1] is read (maybe before
 * this returns); false: the ledger is local, its lookups are current. */
static bool fetch_row(struct conn *c, void (*next)(struct conn *c))
{
	struct ledger *l = c->dm->ledger;
	uint64_t id = ctl_parse_id(c->argv[1]);

	if (!l->shared || !l->ops->fetch)
		return false;
	c->fetched = next;
	c->waiting = true;
	l->ops->fetch(l, &id, 1, NULL, 0, NULL, 0, row_fetched, c);
	return true;
}

/* ---- retry ------------------------------------------------------------------ */

static void retry_done(void *arg, bool ok, const char *what)
{
	struct conn *c = arg;
	char *m = xasprintf("%s: %s", c->argv[1], what);

	c->watching = false;
	if (ok)
		ctl_ok(c, m);
	else
		ctl_fail(c, "%s", m);
	free(m);
}

/* Not in this instance's queue: what the ledger says of it. */
static void retry_not_here(struct conn *c)
{
	struct daemon *dm = c->dm;
	struct ledger_rec r;
	char msg[512], buf[2048];
	const char *hex = c->argv[1];

	if (dm->ledger->ops->lookup(dm->ledger, ctl_parse_id(hex), &r, buf, sizeof buf) != 1) {
		ctl_fail(c, "%s is not waiting in iopd's queue, and the ledger has no record of it: not "
		    "due yet (iopctl agenda shows when it is), or not a reminder of this configuration",
		    hex);
	} else if (!rec_final(r.status) && dm->ledger->shared) {
		ctl_fail(c, "%s is %s in the ledger, held by another instance sharing it: retry it there "
		    "(iopctl status lists the instances)", hex, rec_status_names[r.status]);
	} else {
		settled_text(&r, dm->snap, msg, sizeof msg);
		ctl_fail(c, "%s is not waiting to be sent: %s", hex, msg);
	}
}

void ctl_cmd_retry(struct conn *c, int argc, char **argv)
{
	struct daemon *dm = c->dm;
	char msg[512];
	uint64_t id;

	if (argc != 2 || !(id = ctl_parse_id(argv[1]))) {
		ctl_fail(c, "usage: retry ID (the reminder's 16 hex digits, as iopctl agenda and history "
		    "show them)");
		return;
	}
	switch (dispatch_retry(dm->dispatch, id, retry_done, c, msg, sizeof msg)) {
	case DCTL_DONE:                        /* the answer waits for the attempt */
		c->waiting = c->watching = true;
		return;
	case DCTL_REFUSED:
		ctl_fail(c, "%s: not retried: %s", argv[1], msg);
		return;
	case DCTL_NOT_HERE:
		break;
	}
	if (!fetch_row(c, retry_not_here))
		retry_not_here(c);
}

/* ---- cancel ----------------------------------------------------------------- */

static int no_write(struct ledger *l, void *arg)
{
	(void)l;
	(void)arg;
	return 0;
}

/* A shared ledger: the cancel's note is kept unless another instance
 * holds the reminder's claim (ledger_pg_sql.c, note): read again, the row
 * says which. */
static void cancel_checked(struct conn *c)
{
	struct ledger *l = c->dm->ledger;
	struct ledger_rec r;
	char buf[2048], msg[512];

	if (l->ops->lookup(l, ctl_parse_id(c->argv[1]), &r, buf, sizeof buf) != 1 ||
	    r.status == REC_SKIPPED) {
		ctl_ok(c, c->pending_msg);
	} else if (!rec_final(r.status)) {
		ctl_fail(c, "%s: not cancelled: it is %s in the ledger, held by another instance sharing "
		    "it: cancel it there (iopctl status lists the instances)", c->argv[1],
		    rec_status_names[r.status]);
	} else {
		settled_text(&r, c->dm->snap, msg, sizeof msg);
		ctl_fail(c, "%s: not cancelled: %s", c->argv[1], msg);
	}
}

/* The batch holding the cancel's record committed (or failed). */
static void cancel_committed(bool ok, void *arg)
{
	struct conn *c = arg;

	if (ok && c->recheck) {
		c->recheck = false;
		if (fetch_row(c, cancel_checked))
			return;
	}
	if (ok)
		ctl_ok(c, c->pending_msg);
	else
		ctl_fail(c, "%s; but the ledger cannot be written now (iopctl status says why): it is "
		    "recorded once it can, and nothing is sent meanwhile", c->pending_msg);
}

/* Answers `msg` once the dispatcher's next batch is committed. */
static void answer_after_commit(struct conn *c, char *msg)
{
	free(c->pending_msg);
	c->pending_msg = msg;
	c->part.write = no_write;
	c->part.done = cancel_committed;
	c->part.arg = c;
	c->waiting = true;
	dispatch_join(c->dm->dispatch, &c->part);
}

/* Not queued, not in the ledger: due later.  Where the calendar has it
 * (the prep job looked), it is recorded cancelled now. */
static void cancel_future(struct conn *c, const char *hex, const char *found, const char *reason)
{
	const struct snapshot *s = c->dm->snap;
	char patient[256], when[FMT_LOCAL_LEN + 1];
	long long due;
	int64_t p;
	struct occ o;
	uint16_t ch;

	if (!found || sscanf(found, "%255s %lld", patient, &due) != 2 ||
	    (p = snapshot_patient(s, patient)) < 0 ||
	    cal_find(s, (uint32_t)p, (int64_t)due, ctl_parse_id(hex), &o, &ch) != 0) {
		ctl_fail(c, "no reminder %s: not in iopd's queue, not in the ledger, and not in the "
		    "calendar from now on (iopctl agenda shows the ids)", hex);
		return;
	}
	dispatch_cancel_future(c->dm->dispatch, s, &o, ch, reason);
	fmt_local(o.due, o.patient->tz, when);
	log_ctx(LOG_LVL_NOTICE, &(struct log_ctx){hex, o.patient->id, s->channels[ch].name},
	    "cancelled with iopctl before its due (%s)", when);
	answer_after_commit(c, xasprintf("%s (%s of %s on %s, due %s): will not be sent: %s", hex,
	    kind_names[o.kind], o.patient->id, s->channels[ch].name, when, reason));
}

static void cancel_then(struct conn *c, char *body)
{
	struct daemon *dm = c->dm;
	char name[128], where[512];
	const char *hex = c->argv[1], *author = ctl_body_value(body, "author", name, sizeof name);
	const char *found = ctl_body_value(body, "found", where, sizeof where), *text = NULL;
	uint64_t id = ctl_parse_id(hex);
	char msg[512], buf[2048], *reason;
	struct ledger_rec r;
	int i;

	for (i = 2; i < c->argc; i++)
		if (strncmp(c->argv[i], "reason=", 7) == 0)
			text = c->argv[i] + 7;
	reason = xasprintf("cancelled by %s", author ? author : "unknown");
	if (c->uid >= 0) {
		char *t = xasprintf("%s (uid %ld)", reason, c->uid);
		free(reason);
		reason = t;
	}
	if (text) {
		char *t = xasprintf("%s: %s", reason, text);
		free(reason);
		reason = t;
	}
	switch (dispatch_cancel(dm->dispatch, id, reason, msg, sizeof msg)) {
	case DCTL_DONE:
		answer_after_commit(c, xasprintf("%s: %s: %s", hex, msg, reason));
		break;
	case DCTL_REFUSED:
		ctl_fail(c, "%s: not cancelled: %s", hex, msg);
		break;
	case DCTL_NOT_HERE:
		if (dm->ledger->ops->lookup(dm->ledger, id, &r, buf, sizeof buf) != 1) {
			cancel_future(c, hex, found, reason);
		} else if (rec_final(r.status)) {
			settled_text(&r, dm->snap, msg, sizeof msg);
			ctl_fail(c, "%s: nothing to cancel: %s", hex, msg);
		} else {
			/* open in the ledger, but no longer queued here */
			r.status = REC_SKIPPED;
			r.reason = reason;
			r.at = (int64_t)ev_now(dm->loop);
			dispatch_note(dm->dispatch, &r);
			c->recheck = dm->ledger->shared;
			answer_after_commit(c, xasprintf("%s: will not be sent: %s", hex, reason));
		}
	}
	free(reason);
}

/* Not on its way, not in the ledger: the calendar is searched (on the
 * job's thread) from where the schedule stands. */
static void cancel_prep(struct conn *c)
{
	struct daemon *dm = c->dm;
	struct cjob_req req;
	struct ledger_rec r;
	uint64_t id = ctl_parse_id(c->argv[1]);
	char buf[2048];

	memset(&req, 0, sizeof req);
	if (!dispatch_holds(dm->dispatch, id) && dm->ledger->ops->lookup(dm->ledger, id, &r, buf, sizeof buf) != 1) {
		req.find_id = id;
		req.find_from = dm->sched->mark;
	}
	ctl_prep(c, &req, cancel_then);
}

void ctl_cmd_cancel(struct conn *c, int argc, char **argv)
{
	struct daemon *dm = c->dm;
	const char *reason, *p;
	uint64_t id;
	int bad = 0;

	if (argc < 2 || !(id = ctl_parse_id(argv[1]))) {
		ctl_fail(c, "usage: cancel ID [reason=TEXT] (the reminder's 16 hex digits, as iopctl "
		    "agenda and history show them)");
		return;
	}
	if ((reason = ctl_option(c, argc, argv, 2, "reason", cancel_keys, &bad)) == NULL && bad)
		return;
	for (p = reason; p && *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f) {
			ctl_fail(c, "cancel: the reason is one line of text, without control characters");
			return;
		}
	if (reason && (!*reason || strlen(reason) > REASON_MAX)) {
		ctl_fail(c, "cancel: the reason takes 1 to %d bytes", REASON_MAX);
		return;
	}
	if (dispatch_holds(dm->dispatch, id) || !fetch_row(c, cancel_prep))
		cancel_prep(c);
}

/* ---- backup ------------------------------------------------------------------- */

void ctl_cmd_backup(struct conn *c, int argc, char **argv)
{
	struct cjob_req req;

	if (argc != 2 || argv[1][0] != '/') {
		ctl_fail(c, "usage: backup FILE (an absolute path, written by iopd as its own user; "
		    "iopctl makes a relative one absolute)");
		return;
	}
	log_notice("ledger backup to %s asked over the control socket (uid %ld)", argv[1], c->uid);
	memset(&req, 0, sizeof req);
	req.kind = CJOB_BACKUP;
	req.path = xstrdup(argv[1]);
	ctl_start_job(c, &req);
}
