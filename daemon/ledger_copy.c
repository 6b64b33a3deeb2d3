/* ledger_copy.c - `iopd ledger-copy -c FILE --from LEDGER.db`: a SQLite
 * ledger's history (reminders, outcomes, overrides and their log) and its
 * mark, into the empty PostgreSQL ledger that FILE configures, as the
 * instance FILE names (SPEC 2, SPEC 9).
 *
 * A one-shot command: it blocks, on both databases, in one PostgreSQL
 * transaction that locks the tables and refuses a target holding rows.
 * Reminders left open in the SQLite file (in flight, waiting to retry)
 * become that instance's, so its first start resumes them; its mark is
 * the file's. */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "conf.h"
#include "ledger.h"
#include "ledger_pg_sql.h"
#include "util.h"

#define SQLITE_KNOWN 4                 /* the SQLite schema versions this copies */

struct copy {
	const char *config, *from;
	struct snapshot *snap;
	sqlite3 *src;
	PGconn *pg;
	int version;                   /* the SQLite ledger's schema */
	long n[6];
};

static void usage(FILE *f)
{
	fputs("usage: iopd ledger-copy -c FILE --from LEDGER.db\n"
	      "copies a SQLite ledger into the (empty) PostgreSQL ledger FILE configures\n", f);
}

static int say(const char *fmt, ...) IOPD_PRINTF(1, 2);

static int say(const char *fmt, ...)
{
	va_list ap;

	fputs("iopd ledger-copy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static int pg_ok(struct copy *c, PGresult *r, const char *what)
{
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN) {
		PQclear(r);
		return 0;
	}
	say("%s: %s", what, PQresultErrorMessage(r));
	PQclear(r);
	return -1;
}

static int pg_exec(struct copy *c, const char *sql, const char *what)
{
	return pg_ok(c, PQexec(c->pg, sql), what);
}

/* ---- the source ------------------------------------------------------------- */

static int open_source(struct copy *c)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_open_v2(c->from, &c->src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return say("cannot open %s: %s", c->from, c->src ? sqlite3_errmsg(c->src) : "out of memory");
	sqlite3_busy_timeout(c->src, 5000);
	if (sqlite3_prepare_v2(c->src, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v < 1)
		return say("%s is not an iopd ledger (%s)", c->from, v < 0 ? sqlite3_errmsg(c->src) :
		    "no schema version");
	if (v > SQLITE_KNOWN)
		return say("%s has schema version %d, newer than this iopd copies (%d): use the iopd "
		    "that wrote it", c->from, v, SQLITE_KNOWN);
	c->version = v;
	/* one read transaction: a consistent copy even if a daemon writes it */
	if (sqlite3_exec(c->src, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return say("%s: %s", c->from, sqlite3_errmsg(c->src));
	return 0;
}

/* ---- the target ------------------------------------------------------------- */

static int connect_target(struct copy *c)
{
	const char *kw[] = {"dbname", "application_name", "password", NULL};
	const char *v[] = {c->snap->pg_conninfo, "iopd-ledger-copy", NULL, NULL};
	char err[512], *pw = NULL;

	if (c->snap->pg_token_file || c->snap->pg_token_credential) {
		if (!(pw = conf_pg_password(c->snap, err, sizeof err)))
			return say("%s: the PostgreSQL password: %s", c->config, err);
		v[2] = pw;
	} else {
		kw[2] = NULL;
	}
	c->pg = PQconnectdbParams(kw, v, 1);
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	if (PQstatus(c->pg) != CONNECTION_OK)
		return say("cannot connect to PostgreSQL: %s", PQerrorMessage(c->pg));
	if (pg_exec(c, "SET synchronous_commit = on", "setting up the session") ||
	    pg_exec(c, pg_schema_sql, "creating the schema") || pg_exec(c, "BEGIN", "BEGIN") ||
	    pg_exec(c, "LOCK TABLE reminder, outcome, override, override_log, instance IN EXCLUSIVE MODE",
	    "locking the ledger"))
		return -1;
	return 0;
}

/* The target must be empty: ledger-copy never merges two histories. */
static int check_empty(struct copy *c)
{
	PGresult *r = PQexec(c->pg, "SELECT (SELECT count(*) FROM reminder), (SELECT count(*) FROM outcome), "
	    "(SELECT count(*) FROM override), (SELECT count(*) FROM override_log), "
	    "(SELECT count(*) FROM instance), (SELECT count(*) FROM reply)");
	static const char *const names[] = {"reminders", "outcomes", "overrides", "override changes",
		"instances", "replies"};
	char held[256] = "";
	size_t n = 0;
	int i;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return pg_ok(c, r, "reading the target");
	for (i = 0; i < 6; i++) {
		long k = atol(PQgetvalue(r, 0, i));
		if (k > 0)
			n += (size_t)snprintf(held + n, sizeof held - n, "%s%ld %s", n ? ", " : "", k, names[i]);
	}
	PQclear(r);
	if (n)
		return say("the PostgreSQL ledger %s already holds rows (%s): ledger-copy only fills an "
		    "empty one, it never merges two ledgers", PQdb(c->pg), held);
	return 0;
}

/* ---- COPY ... FROM STDIN, in text format ------------------------------------ */

static void field(struct sbuf *b, sqlite3_stmt *st, int col, bool first)
{
	const unsigned char *s;

	if (!first)
		sbuf_addc(b, '\t');
	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		sbuf_adds(b, "\\N");
		return;
	}
	if (sqlite3_column_type(st, col) == SQLITE_INTEGER) {
		sbuf_printf(b, "%" PRId64, (int64_t)sqlite3_column_int64(st, col));
		return;
	}
	for (s = sqlite3_column_text(st, col); s && *s; s++) {
		switch (*s) {
		case '\\': sbuf_adds(b, "\\\\"); break;
		case '\t': sbuf_adds(b, "\\t"); break;
		case '\n': sbuf_adds(b, "\\n"); break;
		case '\r': sbuf_adds(b, "\\r"); break;
		default: sbuf_addc(b, (char)*s);
		}
	}
}

/* Copies the rows of `select` (SQLite) into `copy` (PostgreSQL); with
 * open_owner, one more column: this instance for reminders still open
 * (column 7 is their status), NULL for the others. */
static int copy_table(struct copy *c, const char *select, const char *copy, const char *what,
    bool open_owner, long *count)
{
	sqlite3_stmt *st;
	struct sbuf b = {0};
	int rc, ncol, i;

	if (sqlite3_prepare_v2(c->src, select, -1, &st, NULL) != SQLITE_OK)
		return say("%s: reading %s: %s", c->from, what, sqlite3_errmsg(c->src));
	if (pg_ok(c, PQexec(c->pg, copy), what)) {
		sqlite3_finalize(st);
		return -1;
	}
	ncol = sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		sbuf_reset(&b);
		for (i = 0; i < ncol; i++)
			field(&b, st, i, i == 0);
		if (open_owner) {
			const char *s = (const char *)sqlite3_column_text(st, 7);
			bool open = s && (strcmp(s, "inflight") == 0 || strcmp(s, "retry") == 0);
			sbuf_addc(&b, '\t');
			sbuf_adds(&b, open ? c->snap->instance : "\\N");
		}
		sbuf_addc(&b, '\n');
		if (PQputCopyData(c->pg, b.s, (int)b.len) != 1)
			break;
		(*count)++;
	}
	sqlite3_finalize(st);
	sbuf_free(&b);
	if (rc != SQLITE_DONE) {
		PQputCopyEnd(c->pg, "the source failed");
		pg_ok(c, PQgetResult(c->pg), what);
		return say("%s: reading %s: %s", c->from, what, sqlite3_errmsg(c->src));
	}
	if (PQputCopyEnd(c->pg, NULL) != 1)
		return say("%s: %s", what, PQerrorMessage(c->pg));
	return pg_ok(c, PQgetResult(c->pg), what);
}

/* The instance's row, stopped: its first start registers over it and
 * schedules from the file's mark. */
static int copy_mark(struct copy *c, int64_t *mark)
{
	sqlite3_stmt *st;
	char m[24], lease[32], host[256];
	const char *v[6] = {c->snap->instance, host, PACKAGE_VERSION, c->snap->fingerprint, lease, NULL};

	*mark = -1;
	if (sqlite3_prepare_v2(c->src, "SELECT value FROM meta WHERE key = 'mark'", -1, &st, NULL) ==
	    SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		*mark = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "?");
	host[sizeof host - 1] = '\0';
	snprintf(lease, sizeof lease, "%.3f", c->snap->pg_lease);
	snprintf(m, sizeof m, "%" PRId64, *mark);
	v[5] = *mark >= 0 ? m : NULL;
	return pg_ok(c, PQexecParams(c->pg, "INSERT INTO instance(name, token, host, pid, version, "
	    "fingerprint, lease, heartbeat, started, stopped, inflight, mark) VALUES($1, 'ledger-copy', $2, "
	    "0, $3, $4, make_interval(secs => $5::float8), clock_timestamp(), clock_timestamp(), true, 0, "
	    "$6::bigint)", 6, NULL, v, NULL, NULL, 0), "writing the mark");
}

/* The columns of schemas 3 (two-way SMS) and 4 (administration), or NULLs
 * for a ledger from before them. */
static const char *since(const struct copy *c, int version, const char *cols, const char *none)
{
	return c->version >= version ? cols : none;
}

static int copy_all(struct copy *c)
{
	char rem[512], ovr[512], log[512];
	int64_t mark;

	snprintf(rem, sizeof rem, "SELECT id, patient, channel, kind, due, event, expires, status, "
	    "attempts, reason, gateway_id, updated, %s FROM reminder ORDER BY rowid", since(c, 3,
	    "origin, template, body, receipt, receipt_at, receipt_reason, response",
	    "NULL, NULL, NULL, NULL, NULL, NULL, NULL"));
	snprintf(ovr, sizeof ovr, "SELECT kind, patient, channel, source, at, %s, %s FROM override",
	    since(c, 3, "origin", "'staff'"), since(c, 4, "author, uid, reason, until",
	    "NULL, NULL, NULL, NULL"));
	snprintf(log, sizeof log, "SELECT at, kind, patient, channel, on_, source, %s, %s FROM "
	    "override_log ORDER BY rowid", since(c, 3, "origin", "'staff'"), since(c, 4,
	    "author, uid, reason, until", "NULL, NULL, NULL, NULL"));
	if (copy_table(c, rem, "COPY reminder(id, patient, channel, kind, due, event, expires, status, "
	    "attempts, reason, gateway_id, updated, origin, template, body, receipt, receipt_at, "
	    "receipt_reason, response, owner) FROM STDIN", "reminders", true, &c->n[0]) ||
	    copy_table(c, "SELECT id, at, status, attempt, reason, gateway_id FROM outcome ORDER BY rowid",
	    "COPY outcome(id, at, status, attempt, reason, gateway_id) FROM STDIN", "outcomes", false,
	    &c->n[1]) ||
	    copy_table(c, ovr, "COPY override(kind, patient, channel, source, at, origin, author, uid, "
	    "reason, until) FROM STDIN", "overrides", false, &c->n[2]) ||
	    copy_table(c, log, "COPY override_log(at, kind, patient, channel, on_, source, origin, author, "
	    "uid, reason, until) FROM STDIN", "override changes", false, &c->n[3]) ||
	    (c->version >= 3 && (copy_table(c, "SELECT id, patient, channel, intent, at, reminder, event, "
	    "answer FROM reply ORDER BY at, rowid", "COPY reply(id, patient, channel, intent, at, reminder, "
	    "event, answer) FROM STDIN", "replies", false, &c->n[4]) ||
	    copy_table(c, "SELECT key, at FROM callback", "COPY callback(key, at) FROM STDIN",
	    "callback keys", false, &c->n[5]))) ||
	    copy_mark(c, &mark) || pg_exec(c, "COMMIT", "COMMIT"))
		return -1;
	printf("%s: copied %ld reminders, %ld outcomes, %ld overrides, %ld override changes, %ld replies "
	    "and %ld callback keys into PostgreSQL %s:%s/%s as instance %s (mark %" PRId64 ")\n", c->from,
	    c->n[0], c->n[1], c->n[2], c->n[3], c->n[4], c->n[5], PQhost(c->pg), PQport(c->pg), PQdb(c->pg),
	    c->snap->instance, mark);
	return 0;
}

static int parse_args(int argc, char **argv, struct copy *c)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"from", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}
	};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "c:F:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': c->config = optarg; break;
		case 'F': c->from = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc || !c->config || !c->from) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int ledger_copy_main(int argc, char **argv)
{
	struct copy c;
	struct errs e = {0};
	int rc = 1;

	memset(&c, 0, sizeof c);
	if (parse_args(argc, argv, &c))
		return 1;
	c.snap = conf_load(c.config, CONF_CALENDAR, &e);
	errs_print(&e, stderr);
	errs_free(&e);
	if (!c.snap)
		return 1;
	if (c.snap->ledger != LEDGER_POSTGRESQL) {
		say("%s: daemon.ledger is not \"postgresql\": there is no PostgreSQL ledger to copy into",
		    c.config);
		goto out;
	}
	if (!c.snap->fingerprint)          /* CONF_CALENDAR does not compute it */
		c.snap->fingerprint = "";
	if (open_source(&c) == 0 && connect_target(&c) == 0 && check_empty(&c) == 0 && copy_all(&c) == 0)
		rc = 0;
out:
	if (c.pg)
		PQfinish(c.pg);                /* an open transaction is rolled back */
	if (c.src)
		sqlite3_close(c.src);
	snapshot_unref(c.snap);
	return rc;
}
