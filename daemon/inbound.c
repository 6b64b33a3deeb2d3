/* inbound.c - see inbound.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "followup.h"
#include "httpd.h"
#include "ident.h"
#include "inbound.h"
#include "log.h"
#include "plugin_host.h"
#include "replies.h"
#include "signature.h"

#define INBOUND_MAX_BODY (64 * 1024)   /* SPEC 8: larger is 413 */
#define INBOUND_MAX_HEADER (8 * 1024)
#define INBOUND_MAX_CONNS 256
#define INBOUND_CONN_TIME 15.0         /* seconds a connection may live */
#define INBOUND_KEEP_KEYS (3 * 86400)  /* gateways repeat a callback within hours */
#define INBOUND_PRUNE_EVERY 3600.0
#define ITEM_MAGIC 0x63626974u         /* "cbit" */

const char *const inbound_refusal_names[REFUSED_COUNT] = {
	"not_found", "signature", "key", "malformed", "ledger"
};
const char *const inbound_receipt_names[RCPT_COUNT] = {
	"delivered", "undelivered", "failed", "read", "interim"
};

/* One callback waiting for the batch that records it. */
struct cb_item {
	uint32_t magic;
	struct cb_item *next;
	struct httpd_req *req;         /* NULL once the listener is gone: recorded, unanswered */
	struct httpd_req **dups;       /* the same callback again, answered alike */
	size_t ndups, capdups;
	bool twiml;
	char *dedup;                   /* "CHANNEL/KEY", or NULL */
	int intent;                    /* a reply's, for counting; -1 */
	int receipt;                   /* enum inbound_receipt; -1 */
	struct cb_writes w;
};

/* A callback read, not yet taken: a shared ledger's rows are fetched
 * first (ledger_ops.fetch).  Its own copy of what the plugin read (whose
 * strings live no longer than the request's handling). */
struct cb_wait {
	struct cb_wait *next;
	struct httpd_req *req;         /* NULL once the listener is gone: dropped */
	char *channel;
	bool twiml;
	struct iopd_callback cb;       /* strings owned */
};

struct inbound {
	struct daemon *dm;
	struct httpd *httpd;
	char *listen;                  /* what httpd listens on */
	int fd;                        /* the socket systemd passed, or -1 */
	struct dispatch_part part;
	struct cb_item *items, **tail; /* for the next batch */
	struct cb_item *b_items;       /* in the batch in flight (written by it) */
	struct cb_wait *waiting, **wtail;   /* for the next fetch */
	struct cb_wait *fetched;       /* the fetch in flight's (none: NULL) */
	struct reply_ctx rc;
	double next_prune;
	struct inbound_stats st;
};

/* ---- answers ------------------------------------------------------------ */

static const char *const refusal_text[REFUSED_COUNT] = {
	"not found\n", "forbidden\n", "forbidden\n", "bad request\n",
	"the ledger cannot record it now; try again\n"
};

/* 200, or 503 for a callback its batch could not record. */
static void send_answer(struct httpd_req *r, int status, bool twiml)
{
	static const char twiml_empty[] = "<Response/>";
	const char *why = refusal_text[REFUSED_LEDGER];

	if (!r)
		return;
	if (status == 200 && twiml)
		httpd_answer(r, 200, "text/xml", twiml_empty, sizeof twiml_empty - 1);
	else if (status == 200)
		httpd_answer(r, 200, "text/plain", "", 0);
	else
		httpd_answer(r, status, "text/plain", why, strlen(why));
}

static void refuse(struct inbound *in, struct httpd_req *r, int status, enum inbound_refusal why)
{
	in->st.refused[why]++;
	httpd_answer(r, status, "text/plain", refusal_text[why], strlen(refusal_text[why]));
}

static void item_free(struct cb_item *it)
{
	cb_writes_free(&it->w);
	free(it->dups);
	free(it->dedup);
	it->magic = 0;
	free(it);
}

static void item_answer(struct inbound *in, struct cb_item *it, bool ok)
{
	size_t i;

	if (!ok)
		in->st.refused[REFUSED_LEDGER] += 1 + (long)it->ndups;
	send_answer(it->req, ok ? 200 : 503, it->twiml);
	for (i = 0; i < it->ndups; i++)
		send_answer(it->dups[i], ok ? 200 : 503, it->twiml);
}

/* ---- the batch ------------------------------------------------------ */

/* The items waiting become the batch's (a batch laid out again, after a
 * transient failure, writes the same ones); those coming meanwhile wait
 * for the next batch. */
static int part_write(struct ledger *l, void *arg)
{
	struct inbound *in = arg;
	double now = ev_now(in->dm->loop);
	struct cb_item *it;

	if (!in->b_items) {
		in->b_items = in->items;
		in->items = NULL;
		in->tail = &in->items;
	}
	for (it = in->b_items; it; it = it->next) {
		if (it->dedup && l->ops->callback_mark(l, it->dedup, (int64_t)now))
			return -1;
		if (cb_writes_put(l, &it->w))
			return -1;
	}
	if (now >= in->next_prune) {
		if (l->ops->callback_prune(l, (int64_t)now - INBOUND_KEEP_KEYS))
			return -1;
		in->next_prune = now + INBOUND_PRUNE_EVERY;
	}
	return 0;
}

/* Committed (consent in force, answers 200) or not (503: the gateway
 * tries again; nothing of it was kept). */
static void part_done(bool ok, void *arg)
{
	struct inbound *in = arg;
	struct cb_item *it = in->b_items, *next;

	if (!it) {                         /* failed before it was written: those waiting */
		it = in->items;
		in->items = NULL;
		in->tail = &in->items;
	}
	in->b_items = NULL;
	if (in->items)                     /* came while the batch was in flight */
		dispatch_join(in->dm->dispatch, &in->part);
	for (; it; it = next) {
		next = it->next;
		if (ok) {
			cb_writes_apply(in->dm->consent, &it->w);
			if (it->intent >= 0)
				in->st.replies[it->intent]++;
			if (it->receipt >= 0)
				in->st.receipts[it->receipt]++;
		}
		item_answer(in, it, ok);
		item_free(it);
	}
}

static struct cb_item *item_new(struct inbound *in, struct httpd_req *r, bool twiml)
{
	struct cb_item *it = xcalloc(1, sizeof *it);

	it->magic = ITEM_MAGIC;
	it->req = r;
	it->twiml = twiml;
	it->intent = it->receipt = -1;
	return it;
}

static void item_queue(struct inbound *in, struct cb_item *it)
{
	*in->tail = it;
	in->tail = &it->next;
	dispatch_join(in->dm->dispatch, &in->part);
}

static void attach(struct cb_item *it, struct httpd_req *r)
{
	grow_array(&it->dups, &it->capdups, it->ndups + 1, sizeof *it->dups);
	it->dups[it->ndups++] = r;
}

/* The same callback already waiting in this batch: it gets the answer
 * that one gets.  true if r was attached. */
static bool attach_duplicate(struct inbound *in, const char *key, struct httpd_req *r)
{
	struct cb_item *it;
	int k;

	for (k = 0; k < 2; k++)
		for (it = k ? in->b_items : in->items; it; it = it->next)
			if (it->dedup && strcmp(it->dedup, key) == 0) {
				attach(it, r);
				return true;
			}
	return false;
}

/* ---- receipts -------------------------------------------------------------- */

/* A final receipt's stage: a later receipt never replaces one of an
 * equal or higher stage (SPEC 8); read comes after delivered. */
static int receipt_rank(const char *state)
{
	if (!state)
		return -1;
	return strcmp(state, "read") == 0 ? 4 : 3;
}

/* The reminder's receipt of the highest stage waiting in this batch or
 * the one in flight, or NULL. */
static struct cb_item *pending_receipt(const struct inbound *in, uint64_t id)
{
	struct cb_item *it, *best = NULL;
	int k;

	for (k = 0; k < 2; k++)
		for (it = k ? in->b_items : in->items; it; it = it->next)
			if (it->w.receipt == id && (!best ||
			    receipt_rank(it->w.receipt_state) > receipt_rank(best->w.receipt_state)))
				best = it;
	return best;
}

static const char *receipt_state(int receipt)
{
	switch (receipt) {
	case IOPD_RECEIPT_DELIVERED: return "delivered";
	case IOPD_RECEIPT_UNDELIVERED: return "undelivered";
	case IOPD_RECEIPT_FAILED: return "failed";
	case IOPD_RECEIPT_READ: return "read";
	default: return NULL;
	}
}

static bool calendar_kind(const char *kind)
{
	int k;

	for (k = 0; k < KIND_COUNT; k++)
		if (strcmp(kind, kind_names[k]) == 0)
			return true;
	return false;
}

/* Fills it->w with the receipt, or returns false: nothing to record (a
 * stage on the way, a reminder the channel never sent, a receipt of an
 * earlier or the same stage as the one recorded), or it went with another
 * item (*taken: the same receipt waiting in this batch).  A receipt is its
 * own key: the same one again (same id, same state) counts once, without a
 * key in the ledger (one write less per receipt, bench W6). */
static bool receipt_take(struct inbound *in, struct cb_item *it, uint16_t ch,
    const struct iopd_callback *cb, bool *taken)
{
	struct daemon *dm = in->dm;
	const char *state = receipt_state(cb->receipt), *have;
	struct cb_item *p;
	struct ledger_rec r;
	char buf[2048], hex[IDENT_HEX_LEN + 1];
	uint64_t id;
	bool first;

	*taken = false;
	if (!state) {
		in->st.receipts[RCPT_INTERIM]++;
		return false;
	}
	if (!cb->reminder || ident_parse(cb->reminder, &id) ||
	    dm->ledger->ops->lookup(dm->ledger, id, &r, buf, sizeof buf) != 1 ||
	    strcmp(r.channel, dm->snap->channels[ch].name) != 0) {
		in->st.receipts_ignored++;
		return false;
	}
	p = pending_receipt(in, id);
	have = p && receipt_rank(p->w.receipt_state) > receipt_rank(r.receipt) ? p->w.receipt_state : r.receipt;
	first = !have;
	if (receipt_rank(state) <= receipt_rank(have)) {
		if (strcmp(state, have) != 0) {
			in->st.receipts_ignored++;     /* superseded: a final one is kept */
		} else if (p && have == p->w.receipt_state) {
			attach(p, it->req);            /* answered with the one waiting */
			in->st.duplicates++;
			*taken = true;
		} else {
			in->st.duplicates++;
		}
		return false;
	}
	it->w.receipt = id;
	it->w.receipt_state = state;
	it->w.receipt_at = (int64_t)ev_now(dm->loop);
	snprintf(it->w.receipt_reason, sizeof it->w.receipt_reason, "%s", cb->reason ? cb->reason : "");
	it->receipt = cb->receipt == IOPD_RECEIPT_DELIVERED ? RCPT_DELIVERED :
	    cb->receipt == IOPD_RECEIPT_UNDELIVERED ? RCPT_UNDELIVERED :
	    cb->receipt == IOPD_RECEIPT_FAILED ? RCPT_FAILED : RCPT_READ;
	ident_hex(id, hex);
	log_ctx(LOG_LVL_INFO, &(struct log_ctx){hex, r.patient, r.channel}, "receipt: %s%s%s", state,
	    cb->reason ? " " : "", cb->reason ? cb->reason : "");
	/* the first final word on it, and a failure: fallback, or staff */
	if (first && (cb->receipt == IOPD_RECEIPT_UNDELIVERED || cb->receipt == IOPD_RECEIPT_FAILED) &&
	    r.status == REC_SENT && calendar_kind(r.kind))
		followup_receipt_failed(dm, &r, cb->reason ? cb->reason : state);
	return true;
}

/* ---- requests -------------------------------------------------------------- */

/* "/sms/CHANNEL/reply" or ".../status": the channel's name into name. */
static bool route(const char *path, char *name, size_t len, const char **what)
{
	const char *p, *slash;

	if (strncmp(path, "/sms/", 5) != 0)
		return false;
	p = path + 5;
	if (!(slash = strchr(p, '/')) || slash == p || (size_t)(slash - p) >= len)
		return false;
	if (strcmp(slash + 1, "reply") == 0)
		*what = "reply";
	else if (strcmp(slash + 1, "status") == 0)
		*what = "status";
	else
		return false;
	memcpy(name, p, (size_t)(slash - p));
	name[slash - p] = '\0';
	return true;
}

/* The request's parameters for the plugin (the key stays the host's), and
 * the POST ones for Twilio's signature. */
struct params {
	struct iopd_param *all, *post;
	size_t nall, npost;
};

static void params_read(struct httpd_req *r, struct params *p)
{
	size_t n = httpd_nparams(r), i;

	p->all = xreallocarray(NULL, n ? n : 1, sizeof *p->all);
	p->post = xreallocarray(NULL, n ? n : 1, sizeof *p->post);
	p->nall = p->npost = 0;
	for (i = 0; i < n; i++) {
		const char *name, *value;
		bool body;

		httpd_param(r, i, &name, &value, &body);
		if (body)
			p->post[p->npost++] = (struct iopd_param){name, value};
		if (strcmp(name, "key") != 0 || body)
			p->all[p->nall++] = (struct iopd_param){name, value};
	}
}

static void params_free(struct params *p)
{
	free(p->all);
	free(p->post);
}

static bool authentic(struct inbound *in, struct httpd_req *r, const struct channel *c,
    const struct iopd_inbound *ib, const struct params *p)
{
	const char *secret = chan_inst_auth_secret(c->inst);

	if (ib->auth == IOPD_AUTH_KEY) {
		const char *key = httpd_param_get(r, "key");
		if (key && sig_equal(key, secret))
			return true;
		in->st.refused[REFUSED_KEY]++;
	} else {
		char *url = xasprintf("%s%s", in->dm->snap->inbound.public_url, httpd_target(r));
		bool ok = sig_twilio_ok(secret, url, p->post, p->npost, httpd_header(r, "X-Twilio-Signature"));
		free(url);
		if (ok)
			return true;
		in->st.refused[REFUSED_SIGNATURE]++;
	}
	log_ctx(LOG_LVL_WARNING, &(struct log_ctx){NULL, NULL, c->name}, "callback refused: %s",
	    ib->auth == IOPD_AUTH_KEY ? "missing or wrong key" : "missing or wrong X-Twilio-Signature");
	httpd_answer(r, 403, "text/plain", "forbidden\n", 10);
	return false;
}

/* Acts on what the plugin read; answers now, or queues the item for the
 * batch. */
static void take(struct inbound *in, struct httpd_req *r, uint16_t ch, bool twiml,
    const struct iopd_callback *cb)
{
	struct daemon *dm = in->dm;
	const char *chname = dm->snap->channels[ch].name;
	struct cb_item *it;
	char *key = NULL;
	bool seen, taken = false;

	if (cb->type != IOPD_CALLBACK_REPLY && cb->type != IOPD_CALLBACK_RECEIPT) {
		send_answer(r, 200, twiml);
		return;
	}
	if (dispatch_ledger_down(dm->dispatch)) {
		refuse(in, r, 503, REFUSED_LEDGER);
		return;
	}
	if (cb->dedup && cb->type == IOPD_CALLBACK_REPLY) {
		/* taken before: waiting in this batch (answered with it), or in
		 * the ledger (answered now); either way counted once */
		key = xasprintf("%s/%s", chname, cb->dedup);
		seen = attach_duplicate(in, key, r);
		if (!seen && dm->ledger->ops->callback_seen(dm->ledger, key) == 1) {
			send_answer(r, 200, twiml);
			seen = true;
		}
		if (seen) {
			in->st.duplicates++;
			free(key);
			return;
		}
	}
	it = item_new(in, r, twiml);
	it->dedup = key;
	if (cb->type == IOPD_CALLBACK_REPLY) {
		it->intent = replies_take(dm, &in->rc, ch, cb->from, cb->text, cb->dedup,
		    (int64_t)ev_now(dm->loop), &it->w);
		if (it->intent < 0) {
			in->st.unknown_sender++;
			log_ctx(LOG_LVL_INFO, &(struct log_ctx){NULL, NULL, chname},
			    "a text from a number that is no patient's: dropped");
		}
	}
	if ((cb->type == IOPD_CALLBACK_REPLY && it->intent < 0) ||
	    (cb->type == IOPD_CALLBACK_RECEIPT && !receipt_take(in, it, ch, cb, &taken))) {
		if (!taken)
			send_answer(r, 200, twiml);
		item_free(it);
		return;
	}
	item_queue(in, it);
}

/* ---- a shared ledger: its rows first --------------------------------------- */

/* Another instance may have sent the reminder a receipt is about, or the
 * one a reply answers, or taken this very callback already (a gateway
 * retries on any instance behind its URL): with a shared ledger, its rows
 * are read before the callback is taken, for the callbacks that came
 * meanwhile together. */
static bool fetch_first(const struct inbound *in, const struct iopd_callback *cb)
{
	const struct ledger *l = in->dm->ledger;

	return l->shared && l->ops->fetch &&
	    (cb->type == IOPD_CALLBACK_REPLY || cb->type == IOPD_CALLBACK_RECEIPT);
}

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void wait_free(struct cb_wait *w)
{
	free(w->channel);
	free((char *)w->cb.dedup);
	free((char *)w->cb.from);
	if (w->cb.text)
		explicit_bzero((char *)w->cb.text, strlen(w->cb.text));
	free((char *)w->cb.text);
	free((char *)w->cb.reminder);
	free((char *)w->cb.gateway_id);
	free((char *)w->cb.stage);
	free((char *)w->cb.reason);
	free(w);
}

/* What a fetch reads: the receipts' reminders, the senders' patients, the
 * replies' keys. */
struct fetch_args {
	uint64_t *ids;
	const char **patients;
	char **keys;
	size_t nids, npatients, nkeys, capids, cappatients, capkeys;
};

static void fetch_patient(const char *patient, void *arg)
{
	struct fetch_args *a = arg;

	grow_array(&a->patients, &a->cappatients, a->npatients + 1, sizeof *a->patients);
	a->patients[a->npatients++] = patient;
}

static void fetch_args_add(struct inbound *in, struct fetch_args *a, const struct cb_wait *w)
{
	const struct iopd_callback *cb = &w->cb;
	uint64_t id;

	if (cb->type == IOPD_CALLBACK_RECEIPT && cb->reminder && !ident_parse(cb->reminder, &id)) {
		grow_array(&a->ids, &a->capids, a->nids + 1, sizeof *a->ids);
		a->ids[a->nids++] = id;
	}
	if (cb->type != IOPD_CALLBACK_REPLY)
		return;
	replies_patients(in->dm, &in->rc, cb->from, fetch_patient, a);
	if (cb->dedup) {
		grow_array(&a->keys, &a->capkeys, a->nkeys + 1, sizeof *a->keys);
		a->keys[a->nkeys++] = xasprintf("%s/%s", w->channel, cb->dedup);
	}
}

static void fetch_start(struct inbound *in);

/* The rows are in: each callback is taken as on a local ledger.  The
 * ledger out of reach: 503, the gateway tries again. */
static void fetch_done(int rc, void *arg)
{
	struct inbound *in = arg;
	struct cb_wait *w = in->fetched, *next;
	int ch;

	in->fetched = NULL;
	if (rc != 0)
		log_warn("inbound: cannot read the ledger (%s): callbacks answered 503",
		    in->dm->ledger->ops->error(in->dm->ledger));
	for (; w; w = next) {
		next = w->next;
		if (!w->req)
			;                      /* its listener is gone: the gateway tries again */
		else if (rc != 0)
			refuse(in, w->req, 503, REFUSED_LEDGER);
		else if ((ch = snapshot_channel(in->dm->snap, w->channel)) < 0)
			refuse(in, w->req, 404, REFUSED_NOT_FOUND);     /* a reload took it away */
		else
			take(in, w->req, (uint16_t)ch, w->twiml, &w->cb);
		wait_free(w);
	}
	if (in->waiting)
		fetch_start(in);
}

static void fetch_start(struct inbound *in)
{
	struct ledger *l = in->dm->ledger;
	struct fetch_args a;
	struct cb_wait *w;
	size_t i;

	memset(&a, 0, sizeof a);
	in->fetched = in->waiting;
	in->waiting = NULL;
	in->wtail = &in->waiting;
	for (w = in->fetched; w; w = w->next)
		fetch_args_add(in, &a, w);
	l->ops->fetch(l, a.ids, a.nids, a.patients, a.npatients, (const char *const *)a.keys, a.nkeys,
	    fetch_done, in);
	for (i = 0; i < a.nkeys; i++)
		free(a.keys[i]);
	free(a.keys);
	free(a.ids);
	free(a.patients);
}

/* Waits for the next fetch (the one in flight read before it came). */
static void wait_queue(struct inbound *in, struct httpd_req *r, const char *channel, bool twiml,
    const struct iopd_callback *cb)
{
	struct cb_wait *w;

	if (dispatch_ledger_down(in->dm->dispatch)) {
		refuse(in, r, 503, REFUSED_LEDGER);
		return;
	}
	w = xcalloc(1, sizeof *w);
	w->req = r;
	w->channel = xstrdup(channel);
	w->twiml = twiml;
	w->cb = *cb;
	w->cb.dedup = dup0(cb->dedup);
	w->cb.from = dup0(cb->from);
	w->cb.text = dup0(cb->text);
	w->cb.reminder = dup0(cb->reminder);
	w->cb.gateway_id = dup0(cb->gateway_id);
	w->cb.stage = dup0(cb->stage);
	w->cb.reason = dup0(cb->reason);
	*in->wtail = w;
	in->wtail = &w->next;
	if (!in->fetched)
		fetch_start(in);
}

static void sms_request(struct inbound *in, struct httpd_req *r)
{
	const struct snapshot *s = in->dm->snap;
	char name[128];
	const char *what = NULL;
	const struct channel *c;
	const struct iopd_inbound *ib;
	struct iopd_request rq;
	struct iopd_callback cb;
	struct params p;
	int ch;

	if (!route(httpd_path(r), name, sizeof name, &what) || (ch = snapshot_channel(s, name)) < 0 ||
	    !(c = &s->channels[ch])->inst || !(ib = chan_inst_inbound(c->inst)) ||
	    !chan_inst_auth_secret(c->inst) || strcmp(httpd_method(r), ib->method) != 0) {
		refuse(in, r, 404, REFUSED_NOT_FOUND);
		return;
	}
	params_read(r, &p);
	if (!authentic(in, r, c, ib, &p)) {
		params_free(&p);
		return;
	}
	rq.what = what;
	rq.params = p.all;
	rq.nparams = p.nall;
	if (chan_inst_callback(c->inst, &rq, &cb) != 0) {
		log_ctx(LOG_LVL_NOTICE, &(struct log_ctx){NULL, NULL, c->name},
		    "callback refused: its plugin cannot read it (400)");
		refuse(in, r, 400, REFUSED_MALFORMED);
	} else if (fetch_first(in, &cb)) {
		wait_queue(in, r, c->name, ib->auth == IOPD_AUTH_TWILIO, &cb);
	} else {
		take(in, r, (uint16_t)ch, ib->auth == IOPD_AUTH_TWILIO, &cb);
	}
	params_free(&p);
}

static void on_request(struct httpd_req *r, void *arg)
{
	struct inbound *in = arg;
	const char *m = httpd_method(r);

	if (strcmp(httpd_path(r), "/healthz") == 0 && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)) {
		httpd_answer(r, 200, "text/plain", "ok\n", 3);
		return;
	}
	sms_request(in, r);
}

/* ---- listening -------------------------------------------------------- */

static const struct httpd_limits limits = {
	INBOUND_MAX_BODY, INBOUND_MAX_HEADER, INBOUND_MAX_CONNS, INBOUND_CONN_TIME
};

struct inbound *inbound_new(struct daemon *dm)
{
	struct inbound *in = xcalloc(1, sizeof *in);

	in->dm = dm;
	in->fd = -1;
	in->tail = &in->items;
	in->wtail = &in->waiting;
	in->part.write = part_write;
	in->part.done = part_done;
	in->part.arg = in;
	in->next_prune = ev_now(dm->loop);
	return in;
}

/* The socket systemd passed (iopd.socket), if any: LISTEN_FDS is taken
 * out of the environment so nothing iopd starts inherits it. */
static int systemd_socket(void)
{
	int n = sd_listen_fds(1);

	if (n < 1)
		return -1;
	if (n > 1)
		log_warn("systemd passed %d sockets; iopd listens on the first only", n);
	return SD_LISTEN_FDS_START;
}

/* Answers of requests still waiting for their batch cannot be given once
 * their listener is gone: they are recorded all the same. */
static void orphan_items(struct inbound *in)
{
	struct cb_item *it;
	struct cb_wait *w;
	int k;

	for (k = 0; k < 2; k++)
		for (it = k ? in->b_items : in->items; it; it = it->next) {
			it->req = NULL;
			it->ndups = 0;
		}
	for (k = 0; k < 2; k++)
		for (w = k ? in->fetched : in->waiting; w; w = w->next)
			w->req = NULL;
}

static void close_listener(struct inbound *in)
{
	if (!in->httpd)
		return;
	orphan_items(in);
	httpd_free(in->httpd);
	in->httpd = NULL;
	free(in->listen);
	in->listen = NULL;
}

static int open_listener(struct inbound *in, const char *listen, char *err, size_t errlen)
{
	struct httpd *h = httpd_new(in->dm->loop, listen, in->fd, &limits, on_request, in, err, errlen);

	if (!h)
		return -1;
	close_listener(in);
	in->httpd = h;
	in->listen = xstrdup(listen);
	log_notice("inbound: listening on %s for gateways' callbacks%s", in->fd >= 0 ?
	    "the socket systemd passed" : listen, in->fd >= 0 ? "" : "");
	return 0;
}

int inbound_start(struct inbound *in, char *err, size_t errlen)
{
	const struct inbound_conf *c = &in->dm->snap->inbound;

	in->fd = systemd_socket();
	if (!c->listen) {
		if (in->fd >= 0)
			log_warn("systemd passed a socket, but the configuration has no inbound block: "
			    "nothing is served on it");
		return 0;
	}
	return open_listener(in, c->listen, err, errlen);
}

void inbound_reload(struct inbound *in)
{
	const struct inbound_conf *c = &in->dm->snap->inbound;
	char err[512];

	if (!c->listen) {
		if (in->httpd)
			log_notice("inbound: no inbound block any more: stopped listening");
		close_listener(in);
		return;
	}
	if (in->httpd && (in->fd >= 0 || strcmp(in->listen, c->listen) == 0))
		return;                        /* the same address, or systemd's socket */
	if (open_listener(in, c->listen, err, sizeof err) != 0)
		log_err("inbound: cannot listen on %s (%s); %s", c->listen, err,
		    in->httpd ? "still listening where it was" : "not listening");
}

void inbound_stop(struct inbound *in)
{
	if (in)
		close_listener(in);
}

static void items_free(struct cb_item *it)
{
	struct cb_item *next;

	for (; it; it = next) {
		next = it->next;
		item_free(it);
	}
}

static void waits_free(struct cb_wait *w)
{
	struct cb_wait *next;

	for (; w; w = next) {
		next = w->next;
		wait_free(w);
	}
}

void inbound_free(struct inbound *in)
{
	if (!in)
		return;
	close_listener(in);
	items_free(in->items);
	items_free(in->b_items);
	waits_free(in->waiting);
	waits_free(in->fetched);
	if (in->fd >= 0)
		close(in->fd);
	reply_ctx_free(&in->rc);
	free(in);
}

void inbound_stats(const struct inbound *in, struct inbound_stats *st)
{
	if (in)
		*st = in->st;
	else
		memset(st, 0, sizeof *st);
}
