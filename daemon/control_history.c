/* control_history.c - iopctl history, on a control job's thread.
 *
 * A patient's sends, the overrides of their consent and their replies,
 * merged into one list in time order: what happened to them, as it
 * happened.  The ledger hands the three kinds over one after the other
 * (each in order), so every row is formatted as it comes and the rows are
 * sorted before they go out; a patient's history is a few thousand rows
 * at most.  At the same second a reply comes before what it caused (the
 * opt-out of a STOP, then the answer).
 *
 * Times are the patient's wall clock (their zone in the configuration, or
 * daemon.timezone for a patient no longer in it): in text
 * "2026-12-01 18:00:05 -06:00"; JSON keeps UTC and adds `*_local`. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "control_job_int.h"
#include "ident.h"
#include "safetext.h"
#include "timefmt.h"

/* Rows of a second: a reply, then overrides, then sends. */
enum { ROW_REPLY, ROW_OVERRIDE, ROW_SEND };

#define LOCAL_CELL 26                  /* "2026-12-01 18:00:05 -06:00" */

struct hrow {
	int64_t at;
	int type;
	size_t seq;
	char *line;
};

struct hist {
	bool json;
	const struct tz *tz;
	struct hrow *rows;
	size_t n, cap;
	struct sbuf b;                 /* the row being made */
};

static void push(struct hist *h, int64_t at, int type)
{
	grow_array(&h->rows, &h->cap, h->n + 1, sizeof *h->rows);
	h->rows[h->n].at = at;
	h->rows[h->n].type = type;
	h->rows[h->n].seq = h->n;
	h->rows[h->n].line = xstrdup(h->b.s ? h->b.s : "");
	h->n++;
	sbuf_reset(&h->b);
}

static int cmp_row(const void *a, const void *b)
{
	const struct hrow *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	if (x->type != y->type)
		return x->type - y->type;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The text cell: "2026-12-01 18:00:05 -06:00". */
static const char *local_cell(const struct hist *h, int64_t t, char *buf)
{
	char l[FMT_LOCAL_LEN + 1];

	fmt_local(t, h->tz, l);
	snprintf(buf, LOCAL_CELL + 1, "%.10s %.8s %.6s", l, l + 11, l + 19);
	return buf;
}

/* "NAME":"UTC","NAME_local":"local", after `sep` */
static void json_time(struct hist *h, const char *sep, const char *name, int64_t t)
{
	char u[FMT_UTC_LEN + 1], l[FMT_LOCAL_LEN + 1];

	fmt_utc(t, u);
	fmt_local(t, h->tz, l);
	sbuf_printf(&h->b, "%s\"%s\":\"%s\",\"%s_local\":\"%s\"", sep, name, u, name, l);
}

static void json_str_or_null(struct sbuf *b, const char *name, const char *v)
{
	sbuf_printf(b, ",\"%s\":", name);
	if (v)
		sbuf_json_str(b, v);
	else
		sbuf_adds(b, "null");
}

/* A receipt as iopctl shows it (SPEC 8): "read" is delivered, and read. */
static const char *receipt_shown(const char *receipt)
{
	return receipt && strcmp(receipt, "read") == 0 ? "delivered" : receipt;
}

static void rec_json(struct hist *h, const struct ledger_rec *r, const char *id)
{
	const char *detail = r->status == REC_SENT ? r->gateway_id : r->reason;
	const char *receipt = receipt_shown(r->receipt);
	char origin[IDENT_HEX_LEN + 1];

	json_time(h, "{", "at", r->at);
	sbuf_printf(&h->b, ",\"id\":\"%s\",\"kind\":\"%s\",\"channel\":", id, r->kind);
	sbuf_json_str(&h->b, r->channel);
	json_time(h, ",", "due", r->due);
	sbuf_printf(&h->b, ",\"status\":\"%s\",\"attempt\":%d", rec_status_names[r->status], r->attempts);
	json_str_or_null(&h->b, r->status == REC_SENT ? "gateway_id" : "reason", detail);
	if (receipt)
		sbuf_printf(&h->b, ",\"receipt\":\"%s\"", receipt);
	if (r->response)
		sbuf_printf(&h->b, ",\"reply\":\"%s\"", r->response);
	if (r->origin) {
		ident_hex(r->origin, origin);
		sbuf_printf(&h->b, ",\"origin\":\"%s\"", origin);
	}
	sbuf_adds(&h->b, "}\n");
}

static void rec_text(struct hist *h, const struct ledger_rec *r, const char *id)
{
	const char *detail = r->status == REC_SENT ? r->gateway_id : r->reason;
	const char *receipt = receipt_shown(r->receipt);
	char at[LOCAL_CELL + 1], due[LOCAL_CELL + 1];

	sbuf_printf(&h->b, "%s  %s  %-11s %-10s %s  %-8s %7d  ", local_cell(h, r->at, at), id, r->kind,
	    r->channel, local_cell(h, r->due, due), rec_status_names[r->status], r->attempts);
	if (detail)                            /* a gateway's words: escaped for the terminal */
		safe_escape(&h->b, detail, strlen(detail));
	sbuf_printf(&h->b, "%s%s%s%s%s%s\n", receipt ? " [receipt: " : "", receipt ? receipt : "",
	    receipt ? "]" : "", r->response ? " [patient: " : "", r->response ? r->response : "",
	    r->response ? "]" : "");
}

static void hist_rec(const struct ledger_rec *r, void *arg)
{
	struct hist *h = arg;
	char id[IDENT_HEX_LEN + 1];

	ident_hex(r->id, id);
	if (h->json)
		rec_json(h, r, id);
	else
		rec_text(h, r, id);
	push(h, r->at, ROW_SEND);
}

static const char *ovr_what(const struct ledger_ovr *ov)
{
	return ov->kind == OVR_PAUSE ? (ov->on ? "paused" : "resumed") :
	    (ov->on ? "opted out" : "opted in");
}

static void ovr_json(struct hist *h, const struct ledger_ovr *ov)
{
	json_time(h, "{", "at", ov->at);
	sbuf_printf(&h->b, ",\"override\":\"%s\"", ovr_what(ov));
	json_str_or_null(&h->b, "channel", ov->channel && *ov->channel ? ov->channel : NULL);
	sbuf_adds(&h->b, ",\"source\":");
	sbuf_json_str(&h->b, ov->source ? ov->source : "");
	sbuf_printf(&h->b, ",\"origin\":\"%s\"", ovr_origin_names[ov->origin]);
	json_str_or_null(&h->b, "by", ov->author);
	if (ov->author && ov->uid >= 0)
		sbuf_printf(&h->b, ",\"uid\":%ld", ov->uid);
	else
		sbuf_adds(&h->b, ",\"uid\":null");
	json_str_or_null(&h->b, "reason", ov->reason);
	if (ov->until > 0)
		json_time(h, ",", "until", ov->until);
	sbuf_adds(&h->b, "}\n");
}

/* "paused (iopctl) by alice (uid 1000) until 2026-12-05 00:00:00 -06:00: away" */
static void ovr_text(struct hist *h, const struct ledger_ovr *ov)
{
	char at[LOCAL_CELL + 1], until[LOCAL_CELL + 1];
	bool chan = ov->channel && *ov->channel;

	sbuf_printf(&h->b, "%s  %s%s%s (", local_cell(h, ov->at, at), ovr_what(ov),
	    !chan ? "" : ov->kind == OVR_OPTOUT && !ov->on ? " to " : " of ", chan ? ov->channel : "");
	safe_escape(&h->b, ov->source ? ov->source : "", ov->source ? strlen(ov->source) : 0);
	sbuf_addc(&h->b, ')');
	if (ov->author) {
		sbuf_adds(&h->b, " by ");
		safe_escape(&h->b, ov->author, strlen(ov->author));
		if (ov->uid >= 0)
			sbuf_printf(&h->b, " (uid %ld)", ov->uid);
	}
	if (ov->until > 0)
		sbuf_printf(&h->b, " until %s", local_cell(h, ov->until, until));
	if (ov->reason) {
		sbuf_adds(&h->b, ": ");
		safe_escape(&h->b, ov->reason, strlen(ov->reason));
	}
	sbuf_addc(&h->b, '\n');
}

static void hist_ovr(const struct ledger_ovr *ov, void *arg)
{
	struct hist *h = arg;

	if (h->json)
		ovr_json(h, ov);
	else
		ovr_text(h, ov);
	push(h, ov->at, ROW_OVERRIDE);
}

/* A patient's reply: its intent (never its text) and what it applied to. */
static void hist_reply(const struct ledger_reply *rp, void *arg)
{
	struct hist *h = arg;
	char at[LOCAL_CELL + 1], id[IDENT_HEX_LEN + 1], ev[LOCAL_CELL + 1];

	ident_hex(rp->reminder, id);
	if (h->json) {
		json_time(h, "{", "at", rp->at);
		sbuf_printf(&h->b, ",\"reply\":\"%s\",\"channel\":", rp->intent);
		sbuf_json_str(&h->b, rp->channel);
		if (rp->reminder) {
			sbuf_printf(&h->b, ",\"reminder\":\"%s\"", id);
			json_time(h, ",", "event", rp->event);
			sbuf_adds(&h->b, "}\n");
		} else {
			sbuf_adds(&h->b, ",\"reminder\":null,\"event\":null}\n");
		}
	} else {
		sbuf_printf(&h->b, "%s  reply %s on %s", local_cell(h, rp->at, at), rp->intent, rp->channel);
		if (rp->reminder)
			sbuf_printf(&h->b, " (reminder %s, event %s)", id, local_cell(h, rp->event, ev));
		sbuf_addc(&h->b, '\n');
	}
	push(h, rp->at, ROW_REPLY);
}

static void hist_free(struct hist *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->rows[i].line);
	free(h->rows);
	sbuf_free(&h->b);
}

void cjob_history(const struct cjob_req *req, const struct snapshot *s, struct ledger *r,
    struct cjob_out *o)
{
	const char *p = req->patient_id;
	int64_t pi = snapshot_patient(s, p);
	struct hist h;
	size_t i;

	memset(&h, 0, sizeof h);
	h.json = o->json;
	h.tz = pi >= 0 ? s->patients[pi].tz : s->tz;
	if (r->ops->history(r, p, hist_rec, hist_ovr, hist_reply, &h)) {
		cjob_out_error(o, "history", r->ops->error(r));
		hist_free(&h);
		return;
	}
	if (h.n > 1)
		qsort(h.rows, h.n, sizeof *h.rows, cmp_row);
	if (!o->json)
		sbuf_printf(&o->buf, "%-*s  %-16s  %-11s %-10s %-*s  %-8s %7s  %s\n", LOCAL_CELL,
		    "AT (patient's time)", "ID", "KIND", "CHANNEL", LOCAL_CELL, "DUE (patient's time)",
		    "STATUS", "ATTEMPT", "GATEWAY ID / REASON");
	for (i = 0; i < h.n && !o->failed; i++) {
		sbuf_adds(&o->buf, h.rows[i].line);
		cjob_out_maybe_flush(o);
	}
	if (!o->json) {
		sbuf_printf(&o->buf, "(times in %s, ", tz_name(h.tz));
		if (pi >= 0) {
			sbuf_adds(&o->buf, "the patient's zone)\n");
		} else {
			sbuf_adds(&o->buf, "daemon.timezone: ");
			safe_escape(&o->buf, p, strlen(p));
			sbuf_adds(&o->buf, " is not in the current configuration)\n");
		}
	}
	cjob_out_flush(o);
	hist_free(&h);
}
