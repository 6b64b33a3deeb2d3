/* ledger_pg_read.c - a PostgreSQL ledger read on a blocking connection of
 * its own: the reader of ledger_ops (iopctl status, agenda and history on
 * the control socket's worker threads) and `iopd agenda` beside the
 * daemon.  Never used on the loop.  Each call is one short read-only
 * statement; nothing is written. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "conf.h"
#include "ledger.h"
#include "ledger_pg_read.h"
#include "ledger_pg_sql.h"
#include "util.h"

#define READER_CONNECT_TIMEOUT "3"     /* seconds */
#define READER_STATEMENT_TIMEOUT "SET statement_timeout = 30000"

struct pg_reader {
	struct ledger base;
	PGconn *c;
	char err[512];
};

static struct pg_reader *rd(struct ledger *l)
{
	return (struct pg_reader *)l;
}

static void rd_fail(struct pg_reader *p, const char *what, const char *msg)
{
	snprintf(p->err, sizeof p->err, "%s: %s", what, msg);
	p->err[strcspn(p->err, "\n")] = '\0';
}

static PGresult *rd_q(struct pg_reader *p, const char *what, const char *sql, int n,
    const char *const *v)
{
	PGresult *r = PQexecParams(p->c, sql, n, NULL, v, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rd_fail(p, what, PQresultErrorMessage(r));
		PQclear(r);
		return NULL;
	}
	return r;
}

static const char *col(const PGresult *r, int row, int c)
{
	return PQgetisnull(r, row, c) ? NULL : PQgetvalue(r, row, c);
}

static int64_t col_i64(const PGresult *r, int row, int c)
{
	const char *v = col(r, row, c);

	return v ? strtoll(v, NULL, 10) : 0;
}

/* PG_REC_COLS of row `row` (strings point into the result unless buf). */
void pg_row_rec(const PGresult *res, int row, struct ledger_rec *r)
{
	memset(r, 0, sizeof *r);
	r->id = (uint64_t)col_i64(res, row, 0);
	r->patient = col(res, row, 1);
	r->channel = col(res, row, 2);
	r->kind = col(res, row, 3);
	r->due = col_i64(res, row, 4);
	r->event = col_i64(res, row, 5);
	r->expires = col_i64(res, row, 6);
	r->status = rec_status_parse(col(res, row, 7));
	r->attempts = (int)col_i64(res, row, 8);
	r->reason = col(res, row, 9);
	r->gateway_id = col(res, row, 10);
	r->at = col_i64(res, row, 11);
	r->origin = (uint64_t)col_i64(res, row, 12);
	r->tmpl = col(res, row, 13);
	r->body = col(res, row, 14);
	r->receipt = col(res, row, 15);
	r->receipt_at = col_i64(res, row, 16);
	r->response = col(res, row, 17);
}

/* PG_OVR_COLS of row `row`. */
void pg_row_ovr(const PGresult *res, int row, struct ledger_ovr *o)
{
	memset(o, 0, sizeof *o);
	o->kind = strcmp(col(res, row, 0), "pause") == 0 ? OVR_PAUSE : OVR_OPTOUT;
	o->patient = col(res, row, 1);
	o->channel = col(res, row, 2);
	o->source = col(res, row, 3);
	o->at = col_i64(res, row, 4);
	o->origin = ovr_origin_parse(col(res, row, 5));
	o->author = col(res, row, 6);
	o->uid = col(res, row, 7) ? (long)col_i64(res, row, 7) : -1;
	o->reason = col(res, row, 8);
	o->until = col_i64(res, row, 9);
	o->on = 1;
}

static int rd_lookup(struct ledger *l, uint64_t id, struct ledger_rec *r, char *buf, size_t len)
{
	char ids[24];
	const char *v[1] = {ids};
	PGresult *res;

	snprintf(ids, sizeof ids, "%" PRId64, (int64_t)id);
	res = rd_q(rd(l), "lookup", "SELECT " PG_REC_COLS " FROM reminder WHERE id = $1", 1, v);
	r->id = id;
	r->status = REC_NONE;
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		pg_row_rec(res, 0, r);
		r->patient = ledger_keep(&buf, &len, r->patient);
		r->channel = ledger_keep(&buf, &len, r->channel);
		r->kind = ledger_keep(&buf, &len, r->kind);
		r->reason = ledger_keep(&buf, &len, r->reason);
		r->gateway_id = ledger_keep(&buf, &len, r->gateway_id);
		r->tmpl = ledger_keep(&buf, &len, r->tmpl);
		r->body = ledger_keep(&buf, &len, r->body);
		r->receipt = ledger_keep(&buf, &len, r->receipt);
		r->response = ledger_keep(&buf, &len, r->response);
	}
	PQclear(res);
	return r->status != REC_NONE;
}

static int rd_overrides(struct ledger *l, ledger_ovr_fn fn, void *arg)
{
	PGresult *res = rd_q(rd(l), "overrides", "SELECT " PG_OVR_COLS " FROM override", 0, NULL);
	struct ledger_ovr o;
	int i;

	if (!res)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		pg_row_ovr(res, i, &o);
		fn(&o, arg);
	}
	PQclear(res);
	return 0;
}

static int rd_history(struct ledger *l, const char *patient, ledger_rec_fn fn, ledger_ovr_fn ofn,
    ledger_reply_fn rfn, void *arg)
{
	struct pg_reader *p = rd(l);
	const char *v[1] = {patient};
	PGresult *res = rd_q(p, "history", "SELECT r.id, r.patient, r.channel, r.kind, r.due, r.event, "
	    "r.expires, o.status, o.attempt, o.reason, o.gateway_id, o.at, r.origin, r.template, NULL, "
	    "r.receipt, r.receipt_at, r.response FROM reminder r JOIN outcome o ON o.id = r.id "
	    "WHERE r.patient = $1 ORDER BY o.at, r.due, r.id", 1, v);
	struct ledger_rec r;
	struct ledger_ovr o;
	struct ledger_reply y;
	int i;

	if (!res)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		pg_row_rec(res, i, &r);
		fn(&r, arg);
	}
	PQclear(res);
	if (!(res = rd_q(p, "history", "SELECT " PG_OVR_COLS ", on_ FROM override_log "
	    "WHERE patient = $1 ORDER BY at, ctid", 1, v)))
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		pg_row_ovr(res, i, &o);
		o.on = (int)col_i64(res, i, 10);
		ofn(&o, arg);
	}
	PQclear(res);
	if (!(res = rd_q(p, "history", "SELECT id, patient, channel, intent, at, reminder, event, "
	    "answer FROM reply WHERE patient = $1 ORDER BY at, id", 1, v)))
		return -1;
	for (i = 0; rfn && i < PQntuples(res); i++) {
		memset(&y, 0, sizeof y);
		y.id = (uint64_t)col_i64(res, i, 0);
		y.patient = col(res, i, 1);
		y.channel = col(res, i, 2);
		y.intent = col(res, i, 3);
		y.at = col_i64(res, i, 4);
		y.reminder = (uint64_t)col_i64(res, i, 5);
		y.event = col_i64(res, i, 6);
		y.answer = (uint64_t)col_i64(res, i, 7);
		rfn(&y, arg);
	}
	PQclear(res);
	return 0;
}

static int rd_counts_since(struct ledger *l, int64_t t, ledger_count_fn fn, void *arg)
{
	char ts[24];
	const char *v[1] = {ts};
	PGresult *res;
	int i;

	snprintf(ts, sizeof ts, "%" PRId64, t);
	res = rd_q(rd(l), "counts", "SELECT channel, status, count(*) FROM reminder WHERE updated >= $1 "
	    "GROUP BY channel, status", 1, v);
	if (!res)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		fn(col(res, i, 0), rec_status_parse(col(res, i, 1)), (long)col_i64(res, i, 2), arg);
	PQclear(res);
	return 0;
}

static int64_t rd_size(struct ledger *l)
{
	PGresult *res = rd_q(rd(l), "size", "SELECT pg_database_size(current_database())", 0, NULL);
	int64_t n = res && PQntuples(res) ? col_i64(res, 0, 0) : -1;

	PQclear(res);
	return n;
}

static const char *rd_error(struct ledger *l)
{
	return rd(l)->err;
}

static void rd_close(struct ledger *l)
{
	if (!l)
		return;
	PQfinish(rd(l)->c);
	free(l);
}

/* One statement; the ids come back as text, one row each. */
static int rd_ids(struct ledger *l, size_t max, int64_t **ids, size_t *n)
{
	char lim[24];
	const char *v[1] = {lim};
	PGresult *res;
	size_t i;

	*ids = NULL;
	*n = 0;
	snprintf(lim, sizeof lim, "%zu", max + 1);
	if (!(res = rd_q(rd(l), "ids", "SELECT id FROM reminder ORDER BY id LIMIT $1", 1, v)))
		return -1;
	if ((size_t)PQntuples(res) > max) {
		PQclear(res);
		return 1;
	}
	*n = (size_t)PQntuples(res);
	*ids = xreallocarray(NULL, *n ? *n : 1, sizeof **ids);
	for (i = 0; i < *n; i++)
		(*ids)[i] = col_i64(res, (int)i, 0);
	PQclear(res);
	return 0;
}

static void rd_describe(struct ledger *l, char *buf, size_t len)
{
	PGconn *c = rd(l)->c;

	snprintf(buf, len, "postgresql %s:%s/%s", PQhost(c), PQport(c), PQdb(c));
}

static const struct ledger_ops reader_ops = {
	.name = "postgresql", .close = rd_close, .describe = rd_describe,
	.lookup = rd_lookup, .ids = rd_ids, .overrides = rd_overrides, .history = rd_history,
	.counts_since = rd_counts_since, .size = rd_size, .error = rd_error,
};

struct ledger *pg_reader_open(const char *conninfo, const char *password, const char *app,
    char *err, size_t errlen)
{
	const char *kw[] = {"dbname", "application_name", "connect_timeout", "password", NULL};
	const char *v[] = {conninfo, app, READER_CONNECT_TIMEOUT, password, NULL};
	struct pg_reader *p = xcalloc(1, sizeof *p);
	PGresult *r;

	p->base.ops = &reader_ops;
	p->base.shared = true;
	if (!password)
		kw[3] = NULL;
	p->c = PQconnectdbParams(kw, v, 1);
	if (PQstatus(p->c) != CONNECTION_OK) {
		snprintf(err, errlen, "PostgreSQL: %s", PQerrorMessage(p->c));
		err[strcspn(err, "\n")] = '\0';
		rd_close(&p->base);
		return NULL;
	}
	r = PQexec(p->c, READER_STATEMENT_TIMEOUT "; SET default_transaction_read_only = on");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "PostgreSQL: %s", PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = '\0';
		PQclear(r);
		rd_close(&p->base);
		return NULL;
	}
	PQclear(r);
	return &p->base;
}

/* 1 if the database holds iopd's tables, 0 if not (no iopd ran on it
 * yet), -1 with the reason. */
static int has_ledger(struct ledger *l, char *err, size_t errlen)
{
	PGresult *r = rd_q(rd(l), "reading the schema", "SELECT to_regclass('iopd_meta') IS NOT NULL",
	    0, NULL);
	int rc;

	if (!r) {
		snprintf(err, errlen, "%s", rd(l)->err);
		return -1;
	}
	rc = PQntuples(r) == 1 && *PQgetvalue(r, 0, 0) == 't';
	PQclear(r);
	return rc;
}

int ledger_pg_peek(const struct snapshot *s, struct ledger **out, char *err, size_t errlen)
{
	char *pw = NULL, app[160];
	int rc = -1;

	*out = NULL;
	if ((s->pg_token_file || s->pg_token_credential) && !(pw = conf_pg_password(s, err, errlen)))
		return -1;
	snprintf(app, sizeof app, "%s-agenda", s->instance ? s->instance : "iopd");
	if ((*out = pg_reader_open(s->pg_conninfo, pw, app, err, errlen)))
		rc = has_ledger(*out, err, errlen);
	if (rc != 1 && *out) {
		rd_close(*out);
		*out = NULL;
	}
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	return rc;
}
