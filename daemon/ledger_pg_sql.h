/* ledger_pg_sql.h - the PostgreSQL ledger's schema and statements
 * (ledger_pg_sql.c), shared by the daemon's backend (ledger_pg.c) and
 * `iopd ledger-copy` (ledger_copy.c). */
#ifndef IOPD_LEDGER_PG_SQL_H
#define IOPD_LEDGER_PG_SQL_H

#define PG_SCHEMA_VERSION 2

/* The columns of a reminder row (row_rec's order) and of an override. */
#define PG_REC_COLS "id, patient, channel, kind, due, event, expires, status, attempts, reason, " \
	"gateway_id, updated, origin, template, body, receipt, receipt_at, response"
#define PG_OVR_COLS "kind, patient, channel, source, at, origin, author, uid, reason, until"
/* SQLSTATE raised by the schema block when the database's schema is newer
 * than this iopd knows. */
#define PG_SQLSTATE_NEWER "IO001"

/* Creates or upgrades the schema, one instance at a time (a transaction-
 * scoped advisory lock); refuses a newer one. */
extern const char pg_schema_sql[];

/* The prepared statements of a session: name, text, in order. */
struct pg_stmt_def {
	const char *name, *sql;
};
extern const struct pg_stmt_def pg_stmts[];
extern const unsigned pg_nstmts;

#endif
