/* control_override.c - iopctl pause, resume, opt-out and opt-in.
 *
 * Runtime overrides over the configuration (consent.h), recorded with who
 * asked (the socket's peer, SO_PEERCRED, by name and uid), when, why
 * (reason=) and, for a pause, until when (until=: the daemon lifts it
 * then).  The answer says what will actually happen, which is not always
 * what was asked:
 *
 *   - resume does not undo `paused = true` in the configuration, nor
 *     opt-in an `opt_out` there: the patient stays paused or opted out,
 *     and the answer (ERR) says which entry to edit;
 *   - opt-in never lifts an opt-out a patient made by texting STOP: only
 *     their START does (TCPA); nor one a gateway reported when a START
 *     would reach iopd (it lifts it then); without a way in for replies,
 *     it is lifted, and the answer says the gateway still refuses.
 *
 * The name of the user comes from a prep job (NSS may block); the
 * decision is made on the loop, against the consent then in force. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent.h"
#include "control_int.h"
#include "timefmt.h"

#define REASON_MAX 300

static const char *const pause_keys[] = {"until", "reason", NULL};
static const char *const other_keys[] = {"reason", NULL};

struct ovr_req {
	enum ovr_kind kind;
	int on;
	const char *patient, *channel, *reason;
	int64_t until;
};

/* Parses and checks a request; 0, or -1 after answering. */
static int parse_req(struct conn *c, int argc, char **argv, struct ovr_req *q)
{
	const struct snapshot *s = c->dm->snap;
	bool pause = strcmp(argv[0], "pause") == 0 || strcmp(argv[0], "resume") == 0;
	int npos = pause ? 2 : 3, bad = 0;
	const char *until = NULL, *p;

	memset(q, 0, sizeof *q);
	q->kind = pause ? OVR_PAUSE : OVR_OPTOUT;
	q->on = strcmp(argv[0], "pause") == 0 || strcmp(argv[0], "opt-out") == 0;
	if (argc < npos || (argc > npos && !strchr(argv[npos], '='))) {
		ctl_fail(c, "usage: %s PATIENT%s%s [reason=TEXT]", argv[0], pause ? "" : " CHANNEL",
		    strcmp(argv[0], "pause") == 0 ? " [until=T]" : "");
		return -1;
	}
	q->patient = argv[1];
	q->channel = pause ? NULL : argv[2];
	if (strcmp(argv[0], "pause") == 0)
		until = ctl_option(c, argc, argv, npos, "until", pause_keys, &bad);
	q->reason = ctl_option(c, argc, argv, npos, "reason", strcmp(argv[0], "pause") == 0 ?
	    pause_keys : other_keys, &bad);
	if (bad)
		return -1;
	if (snapshot_patient(s, q->patient) < 0) {
		ctl_fail(c, "no patient \"%s\" in the current configuration", q->patient);
		return -1;
	}
	if (q->channel && snapshot_channel(s, q->channel) < 0) {
		ctl_fail(c, "no channel \"%s\" in the current configuration", q->channel);
		return -1;
	}
	for (p = q->reason; p && *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f) {
			ctl_fail(c, "%s: the reason is one line of text, without control characters", argv[0]);
			return -1;
		}
	if (q->reason && (strlen(q->reason) > REASON_MAX || !*q->reason)) {
		ctl_fail(c, "%s: the reason takes 1 to %d bytes", argv[0], REASON_MAX);
		return -1;
	}
	if (until && parse_instant(until, s->tz, &q->until) != 0) {
		ctl_fail(c, "pause: until \"%s\" is not a time: write 2026-12-01T18:00:00Z, "
		    "2026-12-01T18:00:00-05:00 or 2026-12-01", until);
		return -1;
	}
	if (until && q->until <= (int64_t)ev_now(c->dm->loop)) {
		ctl_fail(c, "pause: until %s is not in the future", until);
		return -1;
	}
	return 0;
}

/* What the configuration itself says of the patient. */
static bool conf_opted_out(const struct snapshot *s, const struct patient *p, const char *channel)
{
	int ch = snapshot_channel(s, channel);
	chanmask bit = ch >= 0 ? (chanmask)1 << ch : 0;

	return ch >= 0 && ((p->optout & bit) || !(p->allow & bit));
}

/* Can a START of the patient reach iopd on this channel (SPEC 8)? */
static bool start_reaches(const struct snapshot *s, const char *channel)
{
	int ch = snapshot_channel(s, channel);

	return ch >= 0 && s->inbound.listen && s->channels[ch].callbacks;
}

struct verdict {
	bool write, ok;
	struct sbuf msg;
};

static void decide_pause(struct conn *c, const struct ovr_req *q, const struct patient *p,
    struct verdict *v)
{
	int64_t had = consent_pause_until(c->dm->consent, q->patient);
	char t[FMT_LOCAL_LEN + 1];

	v->write = v->ok = true;
	if (had >= 0)
		sbuf_printf(&v->msg, "%s was paused already; it is now paused ", q->patient);
	else
		sbuf_printf(&v->msg, "%s: paused from the next send ", q->patient);
	if (q->until) {
		fmt_local(q->until, p->tz, t);
		sbuf_printf(&v->msg, "until %s (the patient's time; then iopd lifts it)", t);
	} else {
		sbuf_printf(&v->msg, "until iopctl resume %s", q->patient);
	}
	if (p->paused)
		sbuf_printf(&v->msg, "; the configuration pauses %s as well (paused = true in the "
		    "entry at %s:%d), and that holds after this pause", q->patient, p->file, p->line);
}

static void decide_resume(struct conn *c, const struct ovr_req *q, const struct patient *p,
    struct verdict *v)
{
	bool had = consent_pause_until(c->dm->consent, q->patient) >= 0;

	v->write = had;
	v->ok = !p->paused;
	if (p->paused)
		sbuf_printf(&v->msg, "%s stays paused: paused = true in its entry at %s:%d holds it "
		    "(iopctl resume lifts only pauses set with iopctl%s); set paused = false there and "
		    "run iopctl reload", q->patient, p->file, p->line,
		    had ? "; the one set with iopctl is lifted" : ", and there is none");
	else if (had)
		sbuf_printf(&v->msg, "%s: resumed from the next send", q->patient);
	else
		sbuf_printf(&v->msg, "%s was not paused: nothing changed", q->patient);
}

static void decide_optout(struct conn *c, const struct ovr_req *q, const struct patient *p,
    struct verdict *v)
{
	int o = consent_optout_origin(c->dm->consent, q->patient, q->channel);

	v->ok = true;
	v->write = o != OVR_STAFF;
	if (o == OVR_STAFF) {
		sbuf_printf(&v->msg, "%s was opted out of %s already: nothing changed", q->patient,
		    q->channel);
		return;
	}
	sbuf_printf(&v->msg, "%s: opted out of %s from the next send", q->patient, q->channel);
	if (o >= 0)
		sbuf_printf(&v->msg, "; it was opted out %s before: now only iopctl opt-in lifts it, "
		    "not the patient's START", o == OVR_REPLY ? "by the patient's STOP" : "by the gateway");
	if (conf_opted_out(c->dm->snap, p, q->channel))
		sbuf_printf(&v->msg, "; the configuration opts %s out of %s as well (opt_out or "
		    "channels in the entry at %s:%d)", q->patient, q->channel, p->file, p->line);
}

static void decide_optin(struct conn *c, const struct ovr_req *q, const struct patient *p,
    struct verdict *v)
{
	const struct snapshot *s = c->dm->snap;
	int o = consent_optout_origin(c->dm->consent, q->patient, q->channel);
	bool conf = conf_opted_out(s, p, q->channel);

	if (o == OVR_REPLY) {
		sbuf_printf(&v->msg, "%s opted out of %s by texting STOP: only their START lifts it "
		    "(TCPA): nothing changed", q->patient, q->channel);
		return;
	}
	if (o == OVR_GATEWAY && start_reaches(s, q->channel)) {
		sbuf_printf(&v->msg, "the gateway of %s reported %s's number as unsubscribed (the "
		    "patient texted STOP to it): it refuses texts to that number until the patient texts "
		    "START, which lifts this too: nothing changed", q->channel, q->patient);
		return;
	}
	v->write = o >= 0;
	v->ok = !conf;
	if (conf)
		sbuf_printf(&v->msg, "%s stays opted out of %s: opt_out or channels in its entry at "
		    "%s:%d holds it (iopctl opt-in lifts only opt-outs made at run time%s); edit the "
		    "entry and run iopctl reload", q->patient, q->channel, p->file, p->line,
		    o >= 0 ? "; that one is lifted" : ", and there is none");
	else if (o < 0)
		sbuf_printf(&v->msg, "%s was not opted out of %s: nothing changed", q->patient, q->channel);
	else
		sbuf_printf(&v->msg, "%s: opted in to %s from the next send", q->patient, q->channel);
	if (o == OVR_GATEWAY)
		sbuf_printf(&v->msg, "; but the gateway reported the number as unsubscribed: it refuses "
		    "texts to it until the patient texts START to the clinic's number (which iopd, without "
		    "inbound, does not hear)");
	if (v->ok && o >= 0 && (p->paused || consent_pause_until(c->dm->consent, q->patient) >= 0))
		sbuf_printf(&v->msg, "; %s is paused, though: nothing is sent until resumed", q->patient);
}

/* The change committed (or not): the answer says what changed. */
static void override_recorded(int rc, const char *err, void *arg)
{
	struct conn *c = arg;
	char *msg = c->pending_msg;

	c->pending_msg = NULL;
	c->ovr_pending = false;
	if (rc) {
		ctl_fail(c, "could not record it in the ledger: %s", err);
	} else {
		if (c->ovr_pause)
			daemon_pause_expiry_arm(c->dm);
		if (c->ovr_ok)
			ctl_ok(c, msg);
		else
			ctl_fail(c, "%s", msg);
	}
	free(msg);
}

static void override_then(struct conn *c, char *body)
{
	struct daemon *dm = c->dm;
	char name[128];
	const char *author = ctl_body_value(body, "author", name, sizeof name);
	struct consent_change ch;
	struct verdict v;
	struct ovr_req q;
	int64_t pi;

	if (parse_req(c, c->argc, c->argv, &q))
		return;                        /* the configuration changed meanwhile */
	pi = snapshot_patient(dm->snap, q.patient);
	memset(&v, 0, sizeof v);
	if (q.kind == OVR_PAUSE)
		(q.on ? decide_pause : decide_resume)(c, &q, &dm->snap->patients[pi], &v);
	else
		(q.on ? decide_optout : decide_optin)(c, &q, &dm->snap->patients[pi], &v);
	memset(&ch, 0, sizeof ch);
	ch.kind = q.kind;
	ch.patient = q.patient;
	ch.channel = q.channel;
	ch.on = q.on;
	ch.origin = OVR_STAFF;
	ch.source = "iopctl";
	ch.at = (int64_t)ev_now(dm->loop);
	ch.author = author ? author : "unknown";
	ch.uid = c->uid;
	ch.reason = q.reason;
	ch.until = q.until;
	if (v.write) {
		/* answered once the ledger has it: at once with SQLite, after a
		 * round trip with a server */
		c->pending_msg = xstrdup(v.msg.s ? v.msg.s : "");
		c->ovr_ok = v.ok;
		c->ovr_pause = q.kind == OVR_PAUSE;
		c->ovr_pending = true;
		c->waiting = true;
		consent_submit(dm->consent, dm->ledger, &ch, override_recorded, c);
	} else if (v.ok) {
		ctl_ok(c, v.msg.s);
	} else {
		ctl_fail(c, "%s", v.msg.s);
	}
	sbuf_free(&v.msg);
}

void ctl_cmd_override(struct conn *c, int argc, char **argv)
{
	struct ovr_req q;
	struct cjob_req req;

	if (parse_req(c, argc, argv, &q))
		return;
	memset(&req, 0, sizeof req);
	ctl_prep(c, &req, override_then);
}
