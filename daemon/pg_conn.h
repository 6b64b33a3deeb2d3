/* pg_conn.h - one PostgreSQL connection driven by the libev loop.
 *
 * libpq in non-blocking mode: PQconnectStartParams/PQconnectPoll with
 * iopd's own connect timeout per host (libpq's connect_timeout does not
 * apply to PQconnectPoll), host names resolved off the loop, then pipeline
 * mode.  A request is a few statements sent back to back and closed by one
 * sync point: the server runs them as one transaction (unless they say
 * BEGIN/COMMIT themselves), and its answer arrives later through
 * callbacks.  Requests are answered in the order they were sent.
 *
 * A conninfo that names several hosts ("host=db1,db2") is tried host by
 * host (each address of each), with target_session_attrs honoured by
 * libpq on each connection: after a failover the next connect finds the
 * new primary.  A lost connection fails every request it carried and is
 * made again, with exponential backoff and jitter. */
#ifndef IOPD_PG_CONN_H
#define IOPD_PG_CONN_H

#include <stdbool.h>

#include <ev.h>
#include <libpq-fe.h>

struct pgc;
struct pgc_req;

struct pgc_params {
	const char *conninfo;          /* must not carry a password */
	const char *password;          /* or NULL */
	const char *application_name;
	double connect_timeout;        /* seconds per host; 0: conninfo's connect_timeout, else 10 */
	double query_timeout;          /* a request unanswered this long resets the connection */
};

/* The connection came up (up) or went down (why says why). */
typedef void (*pgc_state_fn)(struct pgc *c, bool up, const char *why, void *arg);

/* libpq's own reading of a conninfo: 0 when it reads and holds no
 * password, 1 when it holds one, -1 with libpq's reason in err when it
 * does not read. */
int pg_conninfo_check(const char *conninfo, char *err, size_t errlen);

struct pgc *pgc_new(struct ev_loop *loop, const struct pgc_params *p, pgc_state_fn fn, void *arg);
/* Closes; requests still pending are dropped without a callback. */
void pgc_free(struct pgc *c);
/* Starts connecting (now, unless a backoff is running). */
void pgc_connect(struct pgc *c);
/* Drops the connection (e.g. the server turned read-only) and connects again. */
void pgc_reset(struct pgc *c, const char *why);
bool pgc_up(const struct pgc *c);
/* Why it is not up (the last connection error), or "". */
const char *pgc_error(const struct pgc *c);
/* "host:port/dbname" of the server it is (or was last) connected to. */
const char *pgc_server(const struct pgc *c);

/* A request under construction: statements in order.  Parameters are
 * text, copied (NULL: SQL NULL). */
struct pgc_req *pgc_req_new(void);
void pgc_req_free(struct pgc_req *r);
/* An SQL statement with $1.. parameters. */
void pgc_req_sql(struct pgc_req *r, const char *sql, int nparams, const char *const *values);
/* Prepares a named statement for this session. */
void pgc_req_prepare(struct pgc_req *r, const char *name, const char *sql);
/* Runs a statement prepared earlier in this session. */
void pgc_req_exec(struct pgc_req *r, const char *name, int nparams, const char *const *values);

/* Each statement's result (tuples or a command's), in order; the callee
 * may keep it (return true: it PQclear()s it itself). */
typedef bool (*pgc_result_fn)(void *arg, int stmt, PGresult *res);
/* The request's end: rc 0 all statements succeeded (committed); -1 failed:
 * err and sqlstate (may be "") say why; nothing of it was kept, unless the
 * connection was lost after the sync point was sent (lost = true): then
 * the commit may have happened. */
typedef void (*pgc_done_fn)(void *arg, int rc, const char *err, const char *sqlstate, bool lost);

/* Sends (takes r either way).  -1 when not connected: nothing is called. */
int pgc_send(struct pgc *c, struct pgc_req *r, pgc_result_fn res, pgc_done_fn done, void *arg);

#endif
