/* ledger_pg_read.h - a PostgreSQL ledger read on a blocking connection of
 * its own (ledger_pg_read.c), off the loop: the reader that ledger_ops
 * hands to worker threads, and `iopd agenda`'s (ledger_pg_peek,
 * ledger.h). */
#ifndef IOPD_LEDGER_PG_READ_H
#define IOPD_LEDGER_PG_READ_H

#include <libpq-fe.h>

#include "ledger.h"

/* Connects (blocking, a few seconds at most per host): a ledger on which
 * only lookup, overrides, history, counts_since, size, describe, error
 * and close may be used.  NULL with the reason in err. */
struct ledger *pg_reader_open(const char *conninfo, const char *password, const char *app,
    char *err, size_t errlen);

/* PG_REC_COLS and PG_OVR_COLS (ledger_pg_sql.h) of a row, as records whose
 * strings point into the result. */
void pg_row_rec(const PGresult *res, int row, struct ledger_rec *r);
void pg_row_ovr(const PGresult *res, int row, struct ledger_ovr *o);

#endif
