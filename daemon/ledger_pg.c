/* ledger_pg.c - the ledger in PostgreSQL, shared by several instances
 * (SPEC 9).  Statements: ledger_pg_sql.c; the connection: pg_conn.c.
 *
 * Life of a session: connect (any host of the conninfo, read-write as
 * target_session_attrs asks), set synchronous_commit, create or upgrade
 * the schema under an advisory lock, prepare the statements; the first
 * time, register this instance (name, a random token for this process,
 * its lease) and read its mark, the overrides and what it left open
 * (load).  Then batches: each one request, so one transaction and one
 * round trip.  A timer (`tick`, a sixth of the lease) renews the lease
 * (the heartbeat), reads the other instances, the overrides and the
 * claims whose lease ran out (handed to the daemon to take over).
 *
 * Nothing here waits on the server from the loop.  What other modules
 * write inside a batch (receipts, replies, callback keys: the
 * dispatcher's parts) is recorded while the batch is laid out and sent
 * with it.  Reads go to a reader with a blocking connection of its own,
 * on a worker thread (ledger_pg_read.c); the few the loop makes (a
 * receipt's reminder, a patient's latest reminder, a callback seen
 * before) are answered from what this instance committed lately
 * (ledger_recent.c) and from the rows it fetched just before (pg_fetch:
 * the inbound side reads what other instances recorded before it acts on
 * a callback). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "conf.h"
#include "ledger.h"
#include "ledger_pg_read.h"
#include "ledger_pg_sql.h"
#include "ledger_recent.h"
#include "log.h"
#include "pg_conn.h"
#include "strset.h"
#include "util.h"

#define TICK_MIN 0.5                   /* seconds between heartbeats, at least */
#define TICK_MAX 5.0                   /* and at most */
#define RETRY_TRANSIENT 3              /* a deadlock or serialization failure: tries again */
#define RECENT_CAP 65536               /* rows remembered for the loop's questions */
/* After connecting, claims whose lease ran out are left alone this long
 * (beyond the lease): an outage of the server stopped every instance's
 * heartbeat, and the others need a moment to reconnect and renew theirs
 * before their claims count as abandoned.  pg_conn.c's backoff is at most
 * 5 s. */
#define TAKEOVER_GRACE 5.0

enum lp_state {
	LP_DOWN,                       /* not connected */
	LP_SETUP,                      /* schema, statements */
	LP_LOADING,                    /* registering the instance, reading its start */
	LP_READY,
	LP_REFUSED                     /* the schema is newer, or the instance is taken: no writes */
};

struct counts {
	char *channel;
	enum rec_status status;
	long n;
};

struct inst {
	struct ledger_instance i;
	char *warned;                  /* the fingerprint last warned about */
};

/* One submitted batch, until its done has run. */
struct pg_job {
	struct ledger_pg *p;
	struct pg_job *next;
	struct ledger_batch *b;
	ledger_done_fn done;
	void *arg;
	int tries;
	int claim_stmt, outcome_stmt;  /* which statement of the request, or -1 */
	int prune_stmt;
	PGresult *claim, *outcome, *prune;
	/* what the batch's parts recorded, for ledger_recent once committed */
	struct ledger_rec *receipts;   /* id, receipt, receipt_at; response */
	size_t nreceipts, capreceipts;
	char **keys;                   /* callback keys */
	size_t nkeys, capkeys;
};

/* One fetch (pg_fetch), until its done has run. */
enum { F_IDS, F_LATEST, F_KEYS, F_N };
struct pg_fetch {
	struct ledger_pg *p;
	struct pg_fetch *next;
	ledger_done_fn done;
	void *arg;
	PGresult *res[F_N];
};

struct ledger_pg {
	struct ledger base;
	struct ev_loop *loop;
	struct pgc *conn;
	atomic_bool up;                /* ready for writes: readers on threads ask it */
	struct pg_job *rec;            /* the batch being laid out: the parts write into it */
	struct pgc_req *rec_req;
	int rec_first, rec_n;          /* the parts' first statement, how many they added */
	struct recent *recent;
	struct strset cb_seen[2];      /* callback keys committed: this period's, the last one's */
	char *conninfo, *password, *instance, *fingerprint, *host;
	char token[33];
	double lease, tick;
	enum lp_state state;
	const struct ledger_load *cb;
	int64_t load_now;
	bool loaded;
	ev_timer tick_w;
	struct pg_job *jobs;           /* submitted, not answered */
	struct pg_fetch *fetches;      /* sent, not answered */
	PGresult *load_res[5];         /* inst_put, mark_init, ovr_list, pending */
	PGresult *beat_res[8];
	bool beating, loading;
	bool warned_conflict;
	int last_orphans;
	double up_since;               /* ev_now when the session became ready */
	/* what the last heartbeat read */
	struct inst *insts;
	size_t ninsts;
	struct counts *counts;
	size_t ncounts;
	int64_t counts_since, counts_wanted;
	int64_t size;
	char err[512], health[512];
};

static struct ledger_pg *lpg(struct ledger *l)
{
	return (struct ledger_pg *)l;
}

/* ---- errors, health ---------------------------------------------------- */

static void set_state(struct ledger_pg *p, enum lp_state st)
{
	p->state = st;
	atomic_store(&p->up, st == LP_READY);
}

static void set_err(struct ledger_pg *p, const char *fmt, ...) IOPD_PRINTF(2, 3);

static void set_err(struct ledger_pg *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof p->err, fmt, ap);
	va_end(ap);
}

static const char *pg_health(struct ledger *l)
{
	struct ledger_pg *p = lpg(l);

	if (p->state == LP_READY)
		return NULL;
	if (p->health[0])
		return p->health;
	if (p->state == LP_DOWN)
		return pgc_error(p->conn)[0] ? pgc_error(p->conn) : "connecting to PostgreSQL";
	return "connecting to PostgreSQL";
}

static void set_health(struct ledger_pg *p, const char *fmt, ...) IOPD_PRINTF(2, 3);

static void set_health(struct ledger_pg *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->health, sizeof p->health, fmt, ap);
	va_end(ap);
}

/* Errors after which this session is of no use: the server went read-only
 * (a failover demoted it), is shutting down, or the link broke. */
static bool needs_reconnect(const char *sqlstate)
{
	return strcmp(sqlstate, "25006") == 0 || strncmp(sqlstate, "57", 2) == 0 ||
	    strncmp(sqlstate, "08", 2) == 0;
}

static bool transient(const char *sqlstate)
{
	return strcmp(sqlstate, "40P01") == 0 || strcmp(sqlstate, "40001") == 0;
}

/* ---- text parameters --------------------------------------------------- */

/* PostgreSQL array literals, built as text parameters: {"a","b",NULL}. */
struct arr {
	struct sbuf b;
	bool any;
};

static void arr_open(struct arr *a)
{
	sbuf_reset(&a->b);
	sbuf_addc(&a->b, '{');
	a->any = false;
}

static void arr_sep(struct arr *a)
{
	if (a->any)
		sbuf_addc(&a->b, ',');
	a->any = true;
}

static void arr_i64(struct arr *a, int64_t v)
{
	arr_sep(a);
	sbuf_printf(&a->b, "%" PRId64, v);
}

static void arr_str(struct arr *a, const char *s)
{
	arr_sep(a);
	if (!s) {
		sbuf_adds(&a->b, "NULL");
		return;
	}
	sbuf_addc(&a->b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_addc(&a->b, '\\');
		sbuf_addc(&a->b, *s);
	}
	sbuf_addc(&a->b, '"');
}

static const char *arr_close(struct arr *a)
{
	sbuf_addc(&a->b, '}');
	return a->b.s;
}

#define NARR 14

struct arrs {
	struct arr a[NARR];
	const char *v[NARR + 4];
	char n1[24], n2[24];
};

static void arrs_free(struct arrs *x)
{
	int i;

	for (i = 0; i < NARR; i++)
		sbuf_free(&x->a[i].b);
}

static void arr_id(struct arr *a, uint64_t id)
{
	if (id)
		arr_i64(a, (int64_t)id);
	else
		arr_str(a, NULL);
}

/* What a derived send carries from its making on: origin, template, body
 * into arrays k, k + 1, k + 2. */
static void arrs_derived(struct arrs *x, int k, const struct ledger_rec *r, size_t n)
{
	size_t i;
	int m;

	for (m = k; m < k + 3; m++)
		arr_open(&x->a[m]);
	for (i = 0; i < n; i++) {
		arr_id(&x->a[k], r[i].origin);
		arr_str(&x->a[k + 1], r[i].tmpl);
		arr_str(&x->a[k + 2], r[i].body);
	}
	for (m = k; m < k + 3; m++)
		x->v[m] = arr_close(&x->a[m]);
}

/* The identifying columns of records: arrays 0..6. */
static void arrs_ident(struct arrs *x, const struct ledger_rec *r, size_t n)
{
	size_t i;
	int k;

	for (k = 0; k < 7; k++)
		arr_open(&x->a[k]);
	for (i = 0; i < n; i++) {
		arr_i64(&x->a[0], (int64_t)r[i].id);
		arr_str(&x->a[1], r[i].patient);
		arr_str(&x->a[2], r[i].channel);
		arr_str(&x->a[3], r[i].kind);
		arr_i64(&x->a[4], r[i].due);
		arr_i64(&x->a[5], r[i].event);
		arr_i64(&x->a[6], r[i].expires);
	}
	for (k = 0; k < 7; k++)
		x->v[k] = arr_close(&x->a[k]);
}

/* ---- the batch --------------------------------------------------------------- */

static void add_notes(struct ledger_pg *p, struct pgc_req *r, const struct ledger_batch *b)
{
	struct arrs x;
	size_t i;
	int k;

	memset(&x, 0, sizeof x);
	arrs_ident(&x, b->notes, b->nnotes);
	for (k = 7; k < 11; k++)
		arr_open(&x.a[k]);
	for (i = 0; i < b->nnotes; i++) {
		arr_str(&x.a[7], rec_status_names[b->notes[i].status]);
		arr_i64(&x.a[8], b->notes[i].attempts);
		arr_str(&x.a[9], b->notes[i].reason);
		arr_i64(&x.a[10], b->notes[i].at);
	}
	for (k = 7; k < 11; k++)
		x.v[k] = arr_close(&x.a[k]);
	arrs_derived(&x, 11, b->notes, b->nnotes);      /* $12..$14 for now, moved below */
	x.v[14] = x.v[13];
	x.v[13] = x.v[12];
	x.v[12] = x.v[11];
	x.v[11] = p->instance;
	pgc_req_exec(r, "note", 15, x.v);
	arrs_free(&x);
}

static void add_outcomes(struct ledger_pg *p, struct pgc_req *r, const struct ledger_batch *b)
{
	struct arrs x;
	size_t i;
	int k;

	memset(&x, 0, sizeof x);
	for (k = 0; k < 6; k++)
		arr_open(&x.a[k]);
	for (i = 0; i < b->noutcomes; i++) {
		const struct ledger_rec *o = &b->outcomes[i];
		arr_i64(&x.a[0], (int64_t)o->id);
		arr_str(&x.a[1], rec_status_names[o->status]);
		arr_i64(&x.a[2], o->attempts);
		arr_str(&x.a[3], o->reason);
		arr_str(&x.a[4], o->gateway_id);
		arr_i64(&x.a[5], o->at);
	}
	for (k = 0; k < 6; k++)
		x.v[k] = arr_close(&x.a[k]);
	x.v[6] = p->instance;
	x.v[7] = p->token;
	pgc_req_exec(r, "outcome", 8, x.v);
	arrs_free(&x);
}

static const char *const ovr_kinds[] = {"pause", "opt-out"};

static void add_override(struct ledger_pg *p, struct pgc_req *r, const struct ledger_ovr *o)
{
	char at[24], on[4], uid[24], until[24];
	const char *v[12] = {ovr_kinds[o->kind], o->patient, o->channel ? o->channel : "", o->source, at,
		on, p->instance, ovr_origin_names[o->origin], o->author,
		o->author && o->uid >= 0 ? uid : NULL, o->reason, o->until > 0 ? until : NULL};

	snprintf(at, sizeof at, "%" PRId64, o->at);
	snprintf(on, sizeof on, "%d", o->on ? 1 : 0);
	snprintf(uid, sizeof uid, "%ld", o->uid);
	snprintf(until, sizeof until, "%" PRId64, o->until);
	if (o->on) {
		const char *set[10] = {v[0], v[1], v[2], v[3], v[4], v[7], v[8], v[9], v[10], v[11]};
		pgc_req_exec(r, "ovr_set", 10, set);
	} else {
		pgc_req_exec(r, "ovr_del", 3, v);
	}
	pgc_req_exec(r, "ovr_log", 12, v);
}

static void add_claims(struct ledger_pg *p, struct pgc_req *r, const struct ledger_batch *b)
{
	struct arrs x;

	memset(&x, 0, sizeof x);
	arrs_ident(&x, b->claims, b->nclaims);
	snprintf(x.n1, sizeof x.n1, "%" PRId64, b->claims[0].at);
	x.v[7] = x.n1;
	x.v[8] = p->instance;
	x.v[9] = p->token;
	arrs_derived(&x, 10, b->claims, b->nclaims);
	pgc_req_exec(r, "claim", 13, x.v);
	arrs_free(&x);
}

static void add_mark(struct ledger_pg *p, struct pgc_req *r, int64_t mark)
{
	char m[24];
	const char *v[3] = {m, p->instance, p->token};

	snprintf(m, sizeof m, "%" PRId64, mark);
	pgc_req_exec(r, "mark", 3, v);
}

static void job_parts_clear(struct pg_job *j)
{
	size_t i;

	for (i = 0; i < j->nreceipts; i++) {
		free((char *)j->receipts[i].receipt);
		free((char *)j->receipts[i].response);
	}
	j->nreceipts = 0;
	for (i = 0; i < j->nkeys; i++)
		free(j->keys[i]);
	j->nkeys = 0;
}

/* The parts' writes (b->extra), recorded into r by the ledger operations
 * they call (pg_receipt ...).  -1: a part failed, nothing is sent. */
static int add_parts(struct ledger_pg *p, struct pg_job *j, struct pgc_req *r)
{
	int rc;

	job_parts_clear(j);
	p->rec = j;
	p->rec_req = r;
	p->rec_n = 0;
	rc = j->b->extra(&p->base, j->b->extra_arg);
	p->rec = NULL;
	p->rec_req = NULL;
	return rc;
}

static struct pgc_req *batch_req(struct pg_job *j)
{
	struct ledger_pg *p = j->p;
	const struct ledger_batch *b = j->b;
	struct pgc_req *r = pgc_req_new();
	int n = 0;
	size_t i;

	j->claim_stmt = j->outcome_stmt = j->prune_stmt = -1;
	if (b->nnotes) {
		add_notes(p, r, b);
		n++;
	}
	if (b->noutcomes) {
		add_outcomes(p, r, b);
		j->outcome_stmt = n++;
	}
	for (i = 0; i < b->novrs; i++) {
		add_override(p, r, &b->ovrs[i]);
		n += 2;
	}
	if (b->nclaims) {
		add_claims(p, r, b);
		j->claim_stmt = n++;
	}
	if (b->extra) {
		p->rec_first = n;
		if (add_parts(p, j, r)) {
			pgc_req_free(r);
			return NULL;
		}
	}
	if (b->mark >= 0)
		add_mark(p, r, b->mark);
	return r;
}

static bool batch_result(void *arg, int stmt, PGresult *res)
{
	struct pg_job *j = arg;

	if (stmt == j->claim_stmt) {
		j->claim = res;
		return true;
	}
	if (stmt == j->outcome_stmt) {
		j->outcome = res;
		return true;
	}
	if (stmt == j->prune_stmt) {
		j->prune = res;
		return true;
	}
	return false;
}

static int cmp_claim(const void *a, const void *b, void *arg)
{
	const struct ledger_rec *c = arg;
	uint64_t x = c[*(const size_t *)a].id, y = c[*(const size_t *)b].id;

	return x < y ? -1 : x > y;
}

/* The claim statement's rows, back onto the batch's claims (by id). */
static void claim_results(struct pg_job *j)
{
	struct ledger_batch *b = j->b;
	size_t *idx = xmalloc((b->nclaims + 1) * sizeof *idx), i;
	int row, rows = j->claim ? PQntuples(j->claim) : 0;

	for (i = 0; i < b->nclaims; i++) {
		idx[i] = i;
		b->results[i] = CLAIM_HELD;    /* no row: held by another (just now) */
	}
	qsort_r(idx, b->nclaims, sizeof *idx, cmp_claim, b->claims);
	for (row = 0; row < rows; row++) {
		uint64_t id = (uint64_t)strtoll(PQgetvalue(j->claim, row, 0), NULL, 10);
		size_t lo = 0, hi = b->nclaims;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (b->claims[idx[mid]].id < id)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == b->nclaims || b->claims[idx[lo]].id != id)
			continue;
		struct ledger_rec *c = &b->claims[idx[lo]];
		const char *st = PQgetisnull(j->claim, row, 2) ? NULL : PQgetvalue(j->claim, row, 2);
		const char *was = PQgetisnull(j->claim, row, 4) ? NULL : PQgetvalue(j->claim, row, 4);
		if (st && strcmp(st, "inflight") == 0) {
			b->results[idx[lo]] = CLAIM_OK;
			c->attempts = atoi(PQgetvalue(j->claim, row, 1));
		} else if (st) {
			b->results[idx[lo]] = CLAIM_SKIPPED;
			/* the static names, so the reason outlives the result */
			c->reason = strcmp(PQgetvalue(j->claim, row, 3), "paused") == 0 ? "paused" : "opt-out";
		} else if (was && rec_final(rec_status_parse(was))) {
			b->results[idx[lo]] = CLAIM_FINAL;
		}
	}
	free(idx);
}

static void job_unlink(struct pg_job *j)
{
	struct pg_job **pp;

	for (pp = &j->p->jobs; *pp && *pp != j; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = j->next;
}

static void job_free(struct pg_job *j)
{
	PQclear(j->claim);
	PQclear(j->outcome);
	PQclear(j->prune);
	job_parts_clear(j);
	free(j->receipts);
	free(j->keys);
	free(j);
}

/* What the batch committed, for the loop's questions (ledger_recent.h). */
static void remember(struct pg_job *j)
{
	struct ledger_pg *p = j->p;
	const struct ledger_batch *b = j->b;
	size_t i;

	for (i = 0; i < b->nnotes; i++)
		recent_put(p->recent, &b->notes[i]);
	for (i = 0; i < b->noutcomes; i++)
		recent_put(p->recent, &b->outcomes[i]);
	for (i = 0; i < b->nclaims; i++) {
		struct ledger_rec r = b->claims[i];
		if (b->results[i] == CLAIM_OK)
			r.status = REC_INFLIGHT;
		else if (b->results[i] == CLAIM_SKIPPED)
			r.status = REC_SKIPPED;
		else
			continue;
		recent_put(p->recent, &r);
	}
	for (i = 0; i < j->nreceipts; i++) {
		const struct ledger_rec *r = &j->receipts[i];
		if (r->receipt)
			recent_receipt(p->recent, r->id, r->receipt, r->receipt_at);
		if (r->response)
			recent_respond(p->recent, r->id, r->response);
	}
	for (i = 0; i < j->nkeys; i++)
		strset_add(&p->cb_seen[0], j->keys[i]);
}

static int job_send(struct pg_job *j);

static void batch_done(void *arg, int rc, const char *err, const char *sqlstate, bool lost)
{
	struct pg_job *j = arg;
	struct ledger_pg *p = j->p;

	if (rc == 0) {
		if (j->b->nclaims)
			claim_results(j);
		j->b->lost = j->outcome ? (size_t)PQntuples(j->outcome) : 0;
		j->b->pruned = j->prune && PQntuples(j->prune) ? atol(PQgetvalue(j->prune, 0, 0)) : 0;
		remember(j);
	} else if (transient(sqlstate) && ++j->tries <= RETRY_TRANSIENT) {
		/* two instances claimed overlapping batches and the server chose
		 * this one to fail: nothing was kept; the same batch again */
		log_debug("postgresql: %s; trying the batch again", err);
		PQclear(j->claim);
		PQclear(j->outcome);
		PQclear(j->prune);
		j->claim = j->outcome = j->prune = NULL;
		if (job_send(j) == 0)
			return;
		set_err(p, "%s", err);
	} else {
		set_err(p, "%s%s", err, lost ? " (its commit is not known: it is written again)" : "");
		if (needs_reconnect(sqlstate))
			pgc_reset(p->conn, err);
	}
	job_unlink(j);
	j->done(rc, j->arg);
	job_free(j);
}

static int job_send(struct pg_job *j)
{
	struct pgc_req *r = batch_req(j);

	if (!r)
		return -2;                     /* a part failed: error() says why */
	return pgc_send(j->p->conn, r, batch_result, batch_done, j);
}

static void pg_submit(struct ledger *l, struct ledger_batch *b, ledger_done_fn done, void *arg)
{
	struct ledger_pg *p = lpg(l);
	struct pg_job *j;
	int rc;

	b->lost = 0;
	if (p->state != LP_READY) {
		set_err(p, "%s", pg_health(l));
		done(-1, arg);
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->p = p;
	j->b = b;
	j->done = done;
	j->arg = arg;
	if ((rc = job_send(j)) != 0) {
		if (rc == -1)
			set_err(p, "%s", pg_health(l) ? pg_health(l) : "not connected to PostgreSQL");
		job_free(j);
		done(-1, arg);
		return;
	}
	j->next = p->jobs;
	p->jobs = j;
}

/* ---- rows to records -------------------------------------------------------- */

static const char *col(const PGresult *r, int row, int c)
{
	return PQgetisnull(r, row, c) ? NULL : PQgetvalue(r, row, c);
}

static int64_t col_i64(const PGresult *r, int row, int c)
{
	const char *v = col(r, row, c);

	return v ? strtoll(v, NULL, 10) : 0;
}

static void each_ovr(const PGresult *res, ledger_ovr_fn fn, void *arg)
{
	int i, n = res ? PQntuples(res) : 0;

	for (i = 0; i < n; i++) {
		struct ledger_ovr o;
		pg_row_ovr(res, i, &o);
		fn(&o, arg);
	}
}

static void each_rec(const PGresult *res, ledger_rec_fn fn, void *arg)
{
	int i, n = res ? PQntuples(res) : 0;

	for (i = 0; i < n; i++) {
		struct ledger_rec r;
		pg_row_rec(res, i, &r);
		fn(&r, arg);
	}
}

/* ---- the heartbeat ------------------------------------------------------------ */

static void insts_free(struct ledger_pg *p, struct inst *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free((char *)v[i].i.name);
		free((char *)v[i].i.host);
		free((char *)v[i].i.fingerprint);
		free(v[i].warned);
	}
	free(v);
}

static const char *warned_before(const struct inst *old, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(old[i].i.name, name) == 0)
			return old[i].warned;
	return NULL;
}

/* The instances as read: every live one whose configuration differs from
 * this one's is logged, once per fingerprint it shows. */
static void read_instances(struct ledger_pg *p, const PGresult *res)
{
	size_t n = (size_t)PQntuples(res), i;
	struct inst *v = xcalloc(n + 1, sizeof *v);

	for (i = 0; i < n; i++) {
		struct ledger_instance *x = &v[i].i;
		const char *w;
		x->name = xstrdup(col(res, (int)i, 0));
		x->host = col(res, (int)i, 1) ? xstrdup(col(res, (int)i, 1)) : NULL;
		x->fingerprint = col(res, (int)i, 2) ? xstrdup(col(res, (int)i, 2)) : NULL;
		x->heartbeat_age = col(res, (int)i, 3) ? atof(col(res, (int)i, 3)) : 0;
		x->started = col_i64(res, (int)i, 4);
		x->inflight = (long)col_i64(res, (int)i, 5);
		x->stopped = col(res, (int)i, 6) && *col(res, (int)i, 6) == 't';
		x->live = col(res, (int)i, 7) && *col(res, (int)i, 7) == 't';
		x->self = strcmp(x->name, p->instance) == 0;
		w = warned_before(p->insts, p->ninsts, x->name);
		v[i].warned = w ? xstrdup(w) : NULL;
		if (x->live && !x->self && x->fingerprint && strcmp(x->fingerprint, p->fingerprint) != 0 &&
		    (!v[i].warned || strcmp(v[i].warned, x->fingerprint) != 0)) {
			log_warn("instance %s (on %s) shares this ledger with a different configuration "
			    "(fingerprint %s, this one %s): reminders only one of them knows are sent by it "
			    "alone, and a reminder both know but schedule differently may go out twice",
			    x->name, x->host ? x->host : "?", x->fingerprint, p->fingerprint);
			free(v[i].warned);
			v[i].warned = xstrdup(x->fingerprint);
		}
	}
	insts_free(p, p->insts, p->ninsts);
	p->insts = v;
	p->ninsts = n;
}

static void read_counts(struct ledger_pg *p, const PGresult *res)
{
	size_t n = (size_t)PQntuples(res), i;

	for (i = 0; i < p->ncounts; i++)
		free(p->counts[i].channel);
	free(p->counts);
	p->counts = xcalloc(n + 1, sizeof *p->counts);
	p->ncounts = n;
	for (i = 0; i < n; i++) {
		p->counts[i].channel = xstrdup(col(res, (int)i, 0));
		p->counts[i].status = rec_status_parse(col(res, (int)i, 1));
		p->counts[i].n = (long)col_i64(res, (int)i, 2);
	}
}

enum { B_SET, B_BEAT, B_INSTS, B_OVRS, B_ORPHANS, B_SIZE, B_COUNTS, B_N };

static bool beat_result(void *arg, int stmt, PGresult *res)
{
	struct ledger_pg *p = arg;

	if (stmt < 0 || stmt >= B_N)
		return false;
	p->beat_res[stmt] = res;
	return true;
}

static void beat_clear(struct ledger_pg *p)
{
	int i;

	for (i = 0; i < B_N; i++) {
		PQclear(p->beat_res[i]);
		p->beat_res[i] = NULL;
	}
}

static void beat_done(void *arg, int rc, const char *err, const char *sqlstate, bool lost)
{
	struct ledger_pg *p = arg;
	PGresult **r = p->beat_res;
	const struct ledger_load *cb = p->cb;
	int norphans;

	p->beating = false;
	if (rc != 0) {
		log_debug("postgresql: heartbeat: %s", err);
		if (needs_reconnect(sqlstate))
			pgc_reset(p->conn, err);
		beat_clear(p);
		return;
	}
	if (PQntuples(r[B_BEAT]) == 0 && p->state == LP_READY) {
		set_state(p, LP_REFUSED);
		set_health(p, "instance %s was registered again by another iopd: this one no longer "
		    "claims anything (is daemon.instance unique?)", p->instance);
		log_err("ledger: %s", p->health);
	}
	read_instances(p, r[B_INSTS]);
	if (cb->ovr_reset) {
		cb->ovr_reset(cb->arg);
		each_ovr(r[B_OVRS], cb->ovr, cb->arg);
	}
	norphans = PQntuples(r[B_ORPHANS]);
	if (cb->orphan && p->state == LP_READY && norphans > 0 &&
	    ev_now(p->loop) - p->up_since >= p->lease + TAKEOVER_GRACE) {
		if (norphans != p->last_orphans)
			log_info("ledger: %d reminder(s) left open by instances that stopped or whose lease "
			    "ran out: this one takes over those its configuration has", norphans);
		each_rec(r[B_ORPHANS], cb->orphan, cb->arg);
		p->last_orphans = norphans;
	} else if (norphans == 0) {
		p->last_orphans = 0;
	}
	p->size = col_i64(r[B_SIZE], 0, 0);
	if (r[B_COUNTS]) {
		read_counts(p, r[B_COUNTS]);
		p->counts_since = p->counts_wanted;
	}
	beat_clear(p);
}

static void beat(struct ledger_pg *p)
{
	struct pgc_req *r;
	char since[24];
	const char *v[3] = {p->instance, p->token, p->fingerprint};

	if (p->beating || (p->state != LP_READY && p->state != LP_REFUSED) || !p->loaded)
		return;
	r = pgc_req_new();
	/* a heartbeat needs no fsync (lost in a crash of the server, it is the
	 * next one's job): it must not wait behind the disk */
	pgc_req_sql(r, "SET LOCAL synchronous_commit TO off", 0, NULL);
	pgc_req_exec(r, "beat", 3, v);
	pgc_req_exec(r, "inst_list", 0, NULL);
	pgc_req_exec(r, "ovr_list", 0, NULL);
	pgc_req_exec(r, "orphans", 1, v);
	pgc_req_exec(r, "size", 0, NULL);
	if (p->counts_wanted >= 0) {
		const char *s[1] = {since};
		snprintf(since, sizeof since, "%" PRId64, p->counts_wanted);
		pgc_req_exec(r, "counts", 1, s);
	}
	if (pgc_send(p->conn, r, beat_result, beat_done, p) == 0)
		p->beating = true;
}

/* ---- start: register, read the mark, overrides, what was left open ---- */

static void load_step(struct ledger_pg *p);

static void load_clear(struct ledger_pg *p)
{
	size_t i;

	for (i = 0; i < IOPD_NELEM(p->load_res); i++) {
		PQclear(p->load_res[i]);
		p->load_res[i] = NULL;
	}
}

static bool load_result(void *arg, int stmt, PGresult *res)
{
	struct ledger_pg *p = arg;

	if (stmt < 0 || stmt >= (int)IOPD_NELEM(p->load_res))
		return false;
	p->load_res[stmt] = res;
	return true;
}

static void ready(struct ledger_pg *p)
{
	p->up_since = ev_now(p->loop);
	set_state(p, LP_READY);
	p->health[0] = '\0';
	beat(p);
}

static void register_done(void *arg, int rc, const char *err, const char *sqlstate, bool lost)
{
	struct ledger_pg *p = arg;
	PGresult **r = p->load_res;
	int64_t mark;

	p->loading = false;
	if (rc != 0 || PQntuples(r[0]) == 0) {
		/* the row changed between the two steps: read it again */
		if (rc != 0)
			set_health(p, "registering instance %s: %s", p->instance, err);
		load_clear(p);
		if (rc != 0 && needs_reconnect(sqlstate))
			pgc_reset(p->conn, err);
		return;                        /* the tick tries again */
	}
	mark = PQgetisnull(r[0], 0, 0) ? -1 : col_i64(r[0], 0, 0);
	each_ovr(r[2], p->cb->ovr, p->cb->arg);
	each_rec(r[3], p->cb->pending, p->cb->arg);
	load_clear(p);
	p->loaded = true;
	log_info("ledger: registered as instance %s (lease %.0f s, configuration %s)", p->instance,
	    p->lease, p->fingerprint);
	ready(p);
	p->cb->done(mark, p->cb->arg);
}

/* Step 2: the registration, in one transaction with what the start reads. */
static void load_register(struct ledger_pg *p, const char *old_token)
{
	char pid[16], lease[32], now[24];
	const char *v[8] = {p->instance, p->token, p->host, pid, PACKAGE_VERSION, p->fingerprint, lease,
		old_token};
	const char *m[3] = {p->instance, p->token, now};
	struct pgc_req *r = pgc_req_new();

	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	snprintf(lease, sizeof lease, "%.3f", p->lease);
	snprintf(now, sizeof now, "%" PRId64, p->load_now);
	pgc_req_exec(r, "inst_put", 8, v);
	pgc_req_exec(r, "mark_init", 3, m);
	pgc_req_exec(r, "ovr_list", 0, NULL);
	pgc_req_exec(r, "pending", 1, v);
	if (pgc_send(p->conn, r, load_result, register_done, p) == 0)
		p->loading = true;
}

/* Step 1: who holds this instance's name now.  A live holder on another
 * host, or a live process here, is another iopd: this one waits (and
 * says so) until that lease runs out.  The same host with that pid gone
 * is this instance's last run, killed: its row is taken at once. */
static void inst_got(void *arg, int rc, const char *err, const char *sqlstate, bool lost)
{
	struct ledger_pg *p = arg;
	PGresult *r = p->load_res[0];
	char *old = NULL;

	p->load_res[0] = NULL;
	p->loading = false;
	if (rc != 0) {
		set_health(p, "reading instance %s: %s", p->instance, err);
		PQclear(r);
		if (needs_reconnect(sqlstate))
			pgc_reset(p->conn, err);
		return;
	}
	if (r && PQntuples(r) == 1) {
		const char *host = col(r, 0, 1);
		long pid = (long)col_i64(r, 0, 2);
		bool live = col(r, 0, 3) && *col(r, 0, 3) == 't';
		bool here = host && strcmp(host, p->host) == 0;
		bool gone = here && pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
		if (live && !gone) {
			set_health(p, "instance %s is registered by a running iopd (pid %ld on %s, heartbeat "
			    "%.0f s ago): is daemon.instance unique?  Waiting for its lease to run out", p->instance,
			    pid, host ? host : "?", atof(col(r, 0, 4) ? col(r, 0, 4) : "0"));
			if (!p->warned_conflict)
				log_warn("ledger: %s", p->health);
			p->warned_conflict = true;
			PQclear(r);
			return;
		}
		old = xstrdup(col(r, 0, 0));
	}
	PQclear(r);
	load_register(p, old);
	free(old);
}

static void load_step(struct ledger_pg *p)
{
	const char *v[1] = {p->instance};
	struct pgc_req *r = pgc_req_new();

	set_state(p, LP_LOADING);
	pgc_req_exec(r, "inst_get", 1, v);
	if (pgc_send(p->conn, r, load_result, inst_got, p) == 0)
		p->loading = true;
}

/* After a reconnect, this instance's open reminders are read again: the
 * server may be another one now (a failover), which lost the last commits
 * of the old primary when replication was asynchronous -- a claim or an
 * outcome this instance saw committed.  What the daemon does not hold in
 * memory is resumed (and sent again, with the same id: at least once,
 * SPEC 6); the rest is ignored there. */
static bool own_result(void *arg, int stmt, PGresult *res)
{
	struct ledger_pg *p = arg;

	if (p->cb->orphan && PQntuples(res) > 0) {
		log_notice("ledger: %d reminder(s) open under this instance's name or released: "
		    "resuming those not under way here", PQntuples(res));
		each_rec(res, p->cb->orphan, p->cb->arg);
	}
	return false;
}

static void own_done(void *arg, int rc, const char *err, const char *sqlstate, bool lost)
{
}

static void recheck_own(struct ledger_pg *p)
{
	const char *v[1] = {p->instance};
	struct pgc_req *r = pgc_req_new();

	pgc_req_exec(r, "pending", 1, v);
	pgc_send(p->conn, r, own_result, own_done, p);
}

/* ---- sessions ------------------------------------------------------------- */

static void setup_done(void *arg, int rc, const char *err, const char *sqlstate, bool lost)
{
	struct ledger_pg *p = arg;

	if (rc != 0) {
		bool again = strcmp(p->health, err) == 0;
		if (strcmp(sqlstate, PG_SQLSTATE_NEWER) == 0) {
			set_state(p, LP_REFUSED);
			set_health(p, "%s", err);
		} else {
			set_health(p, "setting up the session: %s", err);
		}
		if (!again)
			log_err("ledger: %s", p->health);
		return;                        /* the tick tries again, on a new session */
	}
	if (!p->loaded) {
		load_step(p);
		return;
	}
	log_notice("ledger: connected again (%s); sending resumes", pgc_server(p->conn));
	ready(p);
	recheck_own(p);
	if (p->cb->ready)
		p->cb->ready(p->cb->arg);
}

/* A new session: synchronous_commit on (a claim must survive a crash of
 * the server), custom plans, a statement timeout below the connection's
 * own, the schema, and the statements of this session. */
static void setup(struct ledger_pg *p)
{
	struct pgc_req *r = pgc_req_new();
	char sql[96];
	unsigned i;

	set_state(p, LP_SETUP);
	pgc_req_sql(r, "SET synchronous_commit = on", 0, NULL);
	/* Each execution planned for the table as it is: a generic plan made
	 * on the first few batches, while the table was small, would scan it
	 * whole for every batch once it is large (a burst of 100,000 into a
	 * new ledger ran 6 times slower). */
	pgc_req_sql(r, "SET plan_cache_mode = force_custom_plan", 0, NULL);
	snprintf(sql, sizeof sql, "SET statement_timeout = %ld", (long)(fmax(p->lease / 2, 5.0) * 1000));
	pgc_req_sql(r, sql, 0, NULL);
	pgc_req_sql(r, pg_schema_sql, 0, NULL);
	for (i = 0; i < pg_nstmts; i++)
		pgc_req_prepare(r, pg_stmts[i].name, pg_stmts[i].sql);
	pgc_send(p->conn, r, NULL, setup_done, p);
}

static void conn_state(struct pgc *c, bool up, const char *why, void *arg)
{
	struct ledger_pg *p = arg;

	p->beating = p->loading = false;
	load_clear(p);
	beat_clear(p);
	if (up) {
		p->health[0] = '\0';
		setup(p);
		return;
	}
	if (p->state == LP_READY)
		log_err("ledger: lost the connection to PostgreSQL (%s): nothing is sent until it is back",
		    why ? why : "?");
	if (p->state != LP_REFUSED)
		set_state(p, LP_DOWN);
	set_health(p, "not connected to PostgreSQL: %s", why ? why : "connecting");
}

/* Every tick: the heartbeat when ready; else whatever step is stuck is
 * tried again (a refused session, an instance name still held). */
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ledger_pg *p = w->data;

	if (!pgc_up(p->conn)) {
		pgc_connect(p->conn);
		return;
	}
	switch (p->state) {
	case LP_READY:
		beat(p);
		break;
	case LP_LOADING:
		if (!p->loading)
			load_step(p);
		break;
	case LP_SETUP:
	case LP_DOWN:
		if (p->health[0])      /* the session's setup failed: a new session */
			pgc_reset(p->conn, p->health);
		break;
	case LP_REFUSED:
		if (!p->loaded)        /* a newer schema: maybe rolled back since */
			pgc_reset(p->conn, p->health);
		else
			beat(p);
	}
}

/* ---- the ledger interface ----------------------------------------------- */

static int pg_load(struct ledger *l, int64_t now, const struct ledger_load *cb)
{
	struct ledger_pg *p = lpg(l);

	p->cb = cb;
	p->load_now = now;
	ev_timer_start(p->loop, &p->tick_w);
	pgc_connect(p->conn);
	return 0;
}

struct stop_ctx {
	ledger_done_fn done;
	void *arg;
};

static void stop_done(void *arg, int rc, const char *err, const char *sqlstate, bool lost)
{
	struct stop_ctx *s = arg;

	if (rc == 0)
		log_info("ledger: claims released; instance stopped");
	s->done(rc, s->arg);
	free(s);
}

static void pg_stop(struct ledger *l, ledger_done_fn done, void *arg)
{
	struct ledger_pg *p = lpg(l);
	const char *v[2] = {p->instance, p->token};
	struct pgc_req *r;
	struct stop_ctx *s;

	if (!p->loaded || !pgc_up(p->conn)) {
		set_err(p, "not connected: the claims of %s stay until its lease runs out", p->instance);
		done(-1, arg);
		return;
	}
	s = xcalloc(1, sizeof *s);
	s->done = done;
	s->arg = arg;
	r = pgc_req_new();
	pgc_req_exec(r, "release", 2, v);
	pgc_req_exec(r, "stopped", 2, v);
	if (pgc_send(p->conn, r, NULL, stop_done, s) != 0) {
		free(s);
		set_err(p, "not connected: the claims of %s stay until its lease runs out", p->instance);
		done(-1, arg);
	}
}

static void pg_describe(struct ledger *l, char *buf, size_t len)
{
	struct ledger_pg *p = lpg(l);
	const char *srv = pgc_server(p->conn);

	snprintf(buf, len, "postgresql %s, instance %s", *srv ? srv : p->conninfo, p->instance);
}

static int pg_instances(struct ledger *l, ledger_inst_fn fn, void *arg)
{
	struct ledger_pg *p = lpg(l);
	size_t i;

	for (i = 0; i < p->ninsts; i++)
		fn(&p->insts[i].i, arg);
	return 0;
}

static void pg_set_fingerprint(struct ledger *l, const char *fp)
{
	struct ledger_pg *p = lpg(l);

	if (fp && strcmp(fp, p->fingerprint) != 0) {
		free(p->fingerprint);
		p->fingerprint = xstrdup(fp);
	}
}

/* From the last heartbeat's reading; a new `t` is read from the next. */
static int pg_counts_since(struct ledger *l, int64_t t, ledger_count_fn fn, void *arg)
{
	struct ledger_pg *p = lpg(l);
	size_t i;

	p->counts_wanted = t;
	if (p->counts_since != t)
		return 0;
	for (i = 0; i < p->ncounts; i++)
		fn(p->counts[i].channel, p->counts[i].status, p->counts[i].n, arg);
	return 0;
}

static int64_t pg_size(struct ledger *l)
{
	return lpg(l)->size;
}

static const char *pg_error(struct ledger *l)
{
	return lpg(l)->err;
}

/* ---- what the batch's parts write (two-way SMS, consent) ---------------- */

/* The request the parts write into, or NULL (and error() says so): a
 * shared ledger takes writes only in a batch. */
static struct pgc_req *rec_req(struct ledger_pg *p, const char *what)
{
	if (!p->rec_req)
		set_err(p, "%s outside a batch (the PostgreSQL ledger writes in batches only)", what);
	return p->rec_req;
}

static void rec_exec(struct ledger_pg *p, const char *name, int n, const char *const *v)
{
	pgc_req_exec(p->rec_req, name, n, v);
	p->rec_n++;
}

static struct ledger_rec *rec_note(struct ledger_pg *p, uint64_t id)
{
	struct pg_job *j = p->rec;
	struct ledger_rec *r;

	grow_array(&j->receipts, &j->capreceipts, j->nreceipts + 1, sizeof *j->receipts);
	r = &j->receipts[j->nreceipts++];
	memset(r, 0, sizeof *r);
	r->id = id;
	return r;
}

static int pg_receipt(struct ledger *l, uint64_t id, const char *state, int64_t at, const char *reason)
{
	struct ledger_pg *p = lpg(l);
	struct pgc_req *r = rec_req(p, "receipt");
	char ids[24], ats[24];
	const char *v[4] = {ids, state, ats, reason};
	struct ledger_rec *n;

	if (!r)
		return -1;
	snprintf(ids, sizeof ids, "%" PRId64, (int64_t)id);
	snprintf(ats, sizeof ats, "%" PRId64, at);
	rec_exec(p, "receipt", 4, v);
	n = rec_note(p, id);
	n->receipt = xstrdup(state);
	n->receipt_at = at;
	return 0;
}

static int pg_respond(struct ledger *l, uint64_t id, const char *response)
{
	struct ledger_pg *p = lpg(l);
	struct pgc_req *r = rec_req(p, "response");
	char ids[24];
	const char *v[2] = {ids, response};

	if (!r)
		return -1;
	snprintf(ids, sizeof ids, "%" PRId64, (int64_t)id);
	rec_exec(p, "respond", 2, v);
	rec_note(p, id)->response = xstrdup(response);
	return 0;
}

static const char *id_or_null(char *buf, size_t len, uint64_t id)
{
	if (!id)
		return NULL;
	snprintf(buf, len, "%" PRId64, (int64_t)id);
	return buf;
}

static int pg_reply(struct ledger *l, const struct ledger_reply *y)
{
	struct ledger_pg *p = lpg(l);
	struct pgc_req *r = rec_req(p, "reply");
	char ids[24], ats[24], rem[24], ev[24], ans[24];
	const char *v[9];

	if (!r)
		return -1;
	snprintf(ids, sizeof ids, "%" PRId64, (int64_t)y->id);
	snprintf(ats, sizeof ats, "%" PRId64, y->at);
	snprintf(ev, sizeof ev, "%" PRId64, y->event);
	v[0] = ids;
	v[1] = y->patient;
	v[2] = y->channel;
	v[3] = y->intent;
	v[4] = ats;
	v[5] = id_or_null(rem, sizeof rem, y->reminder);
	v[6] = y->reminder ? ev : NULL;
	v[7] = id_or_null(ans, sizeof ans, y->answer);
	v[8] = p->instance;
	rec_exec(p, "reply", 9, v);
	return 0;
}

static int pg_set_override(struct ledger *l, const struct ledger_ovr *o)
{
	struct ledger_pg *p = lpg(l);
	struct pgc_req *r = rec_req(p, "override");

	if (!r)
		return -1;
	add_override(p, r, o);
	p->rec_n += 2;
	return 0;
}

static long pg_prune(struct ledger *l, int64_t before, int limit)
{
	struct ledger_pg *p = lpg(l);
	struct pgc_req *r = rec_req(p, "retention");
	char b[24], n[16];
	const char *v[2] = {b, n};

	if (!r)
		return -1;
	snprintf(b, sizeof b, "%" PRId64, before);
	snprintf(n, sizeof n, "%d", limit);
	p->rec->prune_stmt = p->rec_first + p->rec_n;
	rec_exec(p, "prune", 2, v);
	return 0;                          /* the count comes with the commit (pruned) */
}

static int pg_callback_mark(struct ledger *l, const char *key, int64_t at)
{
	struct ledger_pg *p = lpg(l);
	struct pgc_req *r = rec_req(p, "callback key");
	char ats[24];
	const char *v[2] = {key, ats};
	struct pg_job *j = p->rec;

	if (!r)
		return -1;
	snprintf(ats, sizeof ats, "%" PRId64, at);
	rec_exec(p, "cb_mark", 2, v);
	grow_array(&j->keys, &j->capkeys, j->nkeys + 1, sizeof *j->keys);
	j->keys[j->nkeys++] = xstrdup(key);
	return 0;
}

/* The keys older than `before` go from the ledger; here, the keys of the
 * period before last (the keys are kept at least one period). */
static int pg_callback_prune(struct ledger *l, int64_t before)
{
	struct ledger_pg *p = lpg(l);
	struct pgc_req *r = rec_req(p, "callback pruning");
	char b[24];
	const char *v[1] = {b};

	if (!r)
		return -1;
	snprintf(b, sizeof b, "%" PRId64, before);
	rec_exec(p, "cb_prune", 1, v);
	strset_free(&p->cb_seen[1]);
	p->cb_seen[1] = p->cb_seen[0];
	memset(&p->cb_seen[0], 0, sizeof p->cb_seen[0]);
	return 0;
}

/* ---- the loop's reads: what this instance committed or fetched ------------ */

/* A callback this instance took, or found taken when it fetched (a
 * gateway may retry at another instance). */
static int pg_callback_seen(struct ledger *l, const char *key)
{
	struct ledger_pg *p = lpg(l);

	return strset_has(&p->cb_seen[0], key) || strset_has(&p->cb_seen[1], key);
}

static int pg_lookup(struct ledger *l, uint64_t id, struct ledger_rec *r, char *buf, size_t len)
{
	return recent_get(lpg(l)->recent, id, r, buf, len);
}

static int pg_latest_sent(struct ledger *l, const char *patient, const char *const *channels,
    const char *const *kinds, int64_t since, struct ledger_rec *r, char *buf, size_t len)
{
	return recent_latest_sent(lpg(l)->recent, patient, channels, kinds, since, r, buf, len);
}

static bool fetch_result(void *arg, int stmt, PGresult *res)
{
	struct pg_fetch *f = arg;

	if (stmt < 0 || stmt >= F_N)
		return false;
	f->res[stmt] = res;
	return true;
}

static void fetch_free(struct pg_fetch *f)
{
	int i;

	for (i = 0; i < F_N; i++)
		PQclear(f->res[i]);
	free(f);
}

/* The rows read replace what this instance knew of them. */
static void fetch_done(void *arg, int rc, const char *err, const char *sqlstate, bool lost)
{
	struct pg_fetch *f = arg, **pp;
	struct ledger_pg *p = f->p;
	int i, k;

	for (pp = &p->fetches; *pp && *pp != f; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = f->next;
	if (rc == 0) {
		for (k = F_IDS; k <= F_LATEST; k++)
			for (i = 0; f->res[k] && i < PQntuples(f->res[k]); i++) {
				struct ledger_rec r;
				pg_row_rec(f->res[k], i, &r);
				recent_set(p->recent, &r);
			}
		for (i = 0; f->res[F_KEYS] && i < PQntuples(f->res[F_KEYS]); i++)
			strset_add(&p->cb_seen[0], PQgetvalue(f->res[F_KEYS], i, 0));
	} else {
		set_err(p, "reading the ledger: %s", err);
		if (needs_reconnect(sqlstate))
			pgc_reset(p->conn, err);
	}
	f->done(rc, f->arg);
	fetch_free(f);
}

static void pg_fetch(struct ledger *l, const uint64_t *ids, size_t nids, const char *const *patients,
    size_t npatients, const char *const *keys, size_t nkeys, ledger_done_fn done, void *arg)
{
	struct ledger_pg *p = lpg(l);
	struct arrs x;
	struct pg_fetch *f;
	struct pgc_req *r;
	size_t i;

	if (p->state != LP_READY)
		goto refused;
	memset(&x, 0, sizeof x);
	for (i = 0; i < F_N; i++)
		arr_open(&x.a[i]);
	for (i = 0; i < nids; i++)
		arr_i64(&x.a[F_IDS], (int64_t)ids[i]);
	for (i = 0; i < npatients; i++)
		arr_str(&x.a[F_LATEST], patients[i]);
	for (i = 0; i < nkeys; i++)
		arr_str(&x.a[F_KEYS], keys[i]);
	r = pgc_req_new();
	pgc_req_exec(r, "fetch_ids", 1, (const char *[]){arr_close(&x.a[F_IDS])});
	pgc_req_exec(r, "fetch_latest", 1, (const char *[]){arr_close(&x.a[F_LATEST])});
	pgc_req_exec(r, "fetch_keys", 1, (const char *[]){arr_close(&x.a[F_KEYS])});
	arrs_free(&x);
	f = xcalloc(1, sizeof *f);
	f->p = p;
	f->done = done;
	f->arg = arg;
	if (pgc_send(p->conn, r, fetch_result, fetch_done, f) != 0) {
		free(f);
		goto refused;
	}
	f->next = p->fetches;
	p->fetches = f;
	return;
refused:
	set_err(p, "%s", pg_health(l) ? pg_health(l) : "not connected to PostgreSQL");
	done(-1, arg);
}

/* A reader for a worker thread: a connection of its own.  Not while the
 * ledger is out of reach (it would only wait for its connect timeout). */
static struct ledger *pg_reader(struct ledger *l, char *err, size_t errlen)
{
	struct ledger_pg *p = lpg(l);
	char app[160];

	if (!atomic_load(&p->up)) {
		snprintf(err, errlen, "the PostgreSQL ledger is out of reach");
		return NULL;
	}
	snprintf(app, sizeof app, "%s-reader", p->instance);
	return pg_reader_open(p->conninfo, p->password, app, err, errlen);
}

/* ---- open, close ----------------------------------------------------------- */

static void pg_close(struct ledger *l)
{
	struct ledger_pg *p = lpg(l);

	if (!p)
		return;
	ev_timer_stop(p->loop, &p->tick_w);
	pgc_free(p->conn);                 /* drops what it carried, without callbacks */
	while (p->jobs) {
		struct pg_job *j = p->jobs;
		p->jobs = j->next;
		job_free(j);
	}
	while (p->fetches) {
		struct pg_fetch *f = p->fetches;
		p->fetches = f->next;
		fetch_free(f);
	}
	load_clear(p);
	beat_clear(p);
	recent_free(p->recent);
	strset_free(&p->cb_seen[0]);
	strset_free(&p->cb_seen[1]);
	insts_free(p, p->insts, p->ninsts);
	p->counts_wanted = 0;
	while (p->ncounts)
		free(p->counts[--p->ncounts].channel);
	free(p->counts);
	if (p->password) {
		explicit_bzero(p->password, strlen(p->password));
		free(p->password);
	}
	free(p->conninfo);
	free(p->instance);
	free(p->fingerprint);
	free(p->host);
	free(p);
}

static const struct ledger_ops pg_ops = {
	.name = "postgresql", .close = pg_close,
	.submit = pg_submit, .load = pg_load, .stop = pg_stop, .health = pg_health,
	.describe = pg_describe, .instances = pg_instances, .set_fingerprint = pg_set_fingerprint,
	.lookup = pg_lookup, .counts_since = pg_counts_since, .size = pg_size, .error = pg_error,
	.set_override = pg_set_override, .reader = pg_reader,
	.receipt = pg_receipt, .respond = pg_respond, .reply = pg_reply,
	.callback_seen = pg_callback_seen, .callback_mark = pg_callback_mark,
	.callback_prune = pg_callback_prune, .latest_sent = pg_latest_sent, .prune = pg_prune,
	.fetch = pg_fetch,
};

struct ledger *ledger_pg_open(struct ev_loop *loop, const struct snapshot *s, char *err, size_t errlen)
{
	struct ledger_pg *p;
	struct pgc_params cp;
	unsigned char rnd[16];
	char host[256];
	size_t i;

	p = xcalloc(1, sizeof *p);
	p->base.ops = &pg_ops;
	p->base.shared = true;
	p->loop = loop;
	p->recent = recent_new(RECENT_CAP);
	if (s->pg_token_file || s->pg_token_credential) {
		if (!(p->password = conf_pg_password(s, err, errlen))) {
			free(p);
			return NULL;
		}
	}
	if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) {
		snprintf(err, errlen, "no random bytes for the instance token: %s", strerror(errno));
		pg_close(&p->base);
		return NULL;
	}
	for (i = 0; i < sizeof rnd; i++)
		snprintf(p->token + 2 * i, 3, "%02x", rnd[i]);
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "?");
	host[sizeof host - 1] = '\0';
	p->host = xstrdup(host);
	p->conninfo = xstrdup(s->pg_conninfo);
	p->instance = xstrdup(s->instance);
	p->fingerprint = xstrdup(s->fingerprint ? s->fingerprint : "");
	p->lease = s->pg_lease;
	p->tick = fmin(TICK_MAX, fmax(TICK_MIN, p->lease / 6));
	p->counts_since = p->counts_wanted = -1;
	memset(&cp, 0, sizeof cp);
	cp.conninfo = s->pg_conninfo;
	cp.password = p->password;
	cp.application_name = s->instance;
	cp.query_timeout = fmax(p->lease / 2, 5.0) + 5.0;
	p->conn = pgc_new(loop, &cp, conn_state, p);
	ev_timer_init(&p->tick_w, tick_cb, p->tick, p->tick);
	p->tick_w.data = p;
	set_health(p, "connecting to PostgreSQL");
	return &p->base;
}
