/* ledger_pg_sql.h - the PostgreSQL ledger's schema and statements
 * (ledger_pg_sql.c), shared by the daemon's backend (ledger_pg.c) and
 * `iopd ledger-copy` (ledger_copy.c). */
#ifndef IOPD_LEDGER_PG_SQL_H
#define IOPD_LEDGER_PG_SQL_H

#define PG_SCHEMA_VERSION 1
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
