/* ledger_sqlite.c - the ledger in SQLite (WAL, synchronous=FULL).
 *
 * One connection writes, used only from the loop thread; readers (the
 * control socket's long answers) get connections of their own, read-only,
 * on their threads.  Statements are prepared once.  The schema version
 * lives in PRAGMA user_version; migrations run in order at open, and a
 * ledger newer than this binary is refused. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ledger.h"
#include "util.h"

const char *const rec_status_names[REC_COUNT] = {
	"inflight", "retry", "sent", "failed", "expired", "missed", "skipped"
};

int rec_final(enum rec_status s)
{
	return s >= REC_SENT;
}

enum rec_status rec_status_parse(const char *s)
{
	int i;

	for (i = 0; s && i < REC_COUNT; i++)
		if (strcmp(rec_status_names[i], s) == 0)
			return (enum rec_status)i;
	return REC_NONE;
}

#define SCHEMA_VERSION 4

/* migrations[v] brings a ledger from version v to v + 1. */
static const char *const migrations[SCHEMA_VERSION] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
	"CREATE TABLE reminder("
	"  id INTEGER PRIMARY KEY,"       /* the 64-bit id, as a signed integer */
	"  patient TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL,"
	"  due INTEGER NOT NULL, event INTEGER NOT NULL, expires INTEGER NOT NULL,"
	"  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT, gateway_id TEXT, updated INTEGER NOT NULL);"
	"CREATE INDEX reminder_patient ON reminder(patient, due);"
	"CREATE INDEX reminder_open ON reminder(status) WHERE status IN ('inflight', 'retry');"
	"CREATE INDEX reminder_updated ON reminder(updated);"
	"CREATE TABLE outcome(id INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL,"
	"  attempt INTEGER NOT NULL, reason TEXT, gateway_id TEXT);"
	"CREATE INDEX outcome_id ON outcome(id);"
	"CREATE TABLE override(kind TEXT NOT NULL, patient TEXT NOT NULL, channel TEXT NOT NULL,"
	"  source TEXT, at INTEGER NOT NULL, PRIMARY KEY(kind, patient, channel)) WITHOUT ROWID;"
	"CREATE TABLE override_log(at INTEGER NOT NULL, kind TEXT NOT NULL, patient TEXT NOT NULL,"
	"  channel TEXT NOT NULL, on_ INTEGER NOT NULL, source TEXT);"
	"CREATE INDEX override_log_patient ON override_log(patient);",
	/* 1 -> 2 (bench W2): the reminder table keyed by an ordinary rowid, the
	 * 64-bit id a UNIQUE column.  Keyed by the random id itself, every claim
	 * and every outcome rewrote a random leaf page of the table: with 100,000
	 * reminders a batch touched about one page per record, and the ledger
	 * wrote ~33 KB of WAL per delivery.  Rows now go in in claim order, so a
	 * batch shares its pages: 2.6 times fewer bytes at equal batches (same
	 * statements: ON CONFLICT(id) works on a UNIQUE column as it did on the
	 * key).  Same columns, indexes and rows; ids keep their meaning. */
	"CREATE TABLE reminder_v2("
	"  id INTEGER NOT NULL UNIQUE,"   /* the 64-bit id, as a signed integer */
	"  patient TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL,"
	"  due INTEGER NOT NULL, event INTEGER NOT NULL, expires INTEGER NOT NULL,"
	"  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT, gateway_id TEXT, updated INTEGER NOT NULL);"
	"INSERT INTO reminder_v2(id, patient, channel, kind, due, event, expires, status, attempts,"
	"  reason, gateway_id, updated) SELECT id, patient, channel, kind, due, event, expires, status,"
	"  attempts, reason, gateway_id, updated FROM reminder ORDER BY updated, id;"
	"DROP TABLE reminder;"
	"ALTER TABLE reminder_v2 RENAME TO reminder;"
	"CREATE INDEX reminder_patient ON reminder(patient, due);"
	"CREATE INDEX reminder_open ON reminder(status) WHERE status IN ('inflight', 'retry');"
	"CREATE INDEX reminder_updated ON reminder(updated);",
	/* 2 -> 3 (SPEC 8, two-way SMS): what a send derives from (a fallback's
	 * reminder, an answer's reply, a notice's subject), an answer's
	 * template and a notice's JSON, so a restart resumes them; the final
	 * receipt and the patient's response on a reminder; replies (intent,
	 * never text); the keys of callbacks already taken; and where an
	 * override came from: a START lifts what replies and gateways set,
	 * never what staff set.  Earlier overrides were staff's (iopctl), or
	 * the gateway's (recorded as "opted out at the gateway: ..."). */
	"ALTER TABLE reminder ADD COLUMN origin INTEGER;"
	"ALTER TABLE reminder ADD COLUMN template TEXT;"
	"ALTER TABLE reminder ADD COLUMN body TEXT;"
	"ALTER TABLE reminder ADD COLUMN receipt TEXT;"
	"ALTER TABLE reminder ADD COLUMN receipt_at INTEGER;"
	"ALTER TABLE reminder ADD COLUMN receipt_reason TEXT;"
	"ALTER TABLE reminder ADD COLUMN response TEXT;"
	"CREATE TABLE reply(id INTEGER NOT NULL, patient TEXT NOT NULL, channel TEXT NOT NULL,"
	"  intent TEXT NOT NULL, at INTEGER NOT NULL, reminder INTEGER, event INTEGER,"
	"  answer INTEGER, PRIMARY KEY(id, patient));"
	"CREATE INDEX reply_patient ON reply(patient, at);"
	"CREATE TABLE callback(key TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX callback_at ON callback(at);"
	"ALTER TABLE override ADD COLUMN origin TEXT NOT NULL DEFAULT 'staff';"
	"ALTER TABLE override_log ADD COLUMN origin TEXT NOT NULL DEFAULT 'staff';"
	"UPDATE override SET origin = 'gateway' WHERE source LIKE 'opted out at the gateway%';"
	"UPDATE override_log SET origin = 'gateway' WHERE source LIKE 'opted out at the gateway%';",
	/* 3 -> 4 (day-to-day administration): who set an override (the user
	 * name and uid of iopctl's caller), why (--reason), and until when a
	 * pause lasts (--until; the daemon lifts it then); replies by time,
	 * for daemon.ledger_retention.  Earlier rows have none of it. */
	"ALTER TABLE override ADD COLUMN author TEXT;"
	"ALTER TABLE override ADD COLUMN uid INTEGER;"
	"ALTER TABLE override ADD COLUMN reason TEXT;"
	"ALTER TABLE override ADD COLUMN until INTEGER;"
	"ALTER TABLE override_log ADD COLUMN author TEXT;"
	"ALTER TABLE override_log ADD COLUMN uid INTEGER;"
	"ALTER TABLE override_log ADD COLUMN reason TEXT;"
	"ALTER TABLE override_log ADD COLUMN until INTEGER;"
	"CREATE INDEX reply_at ON reply(at);"
};

enum {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_CLAIM, Q_RECLAIM, Q_RECORD, Q_NOTE, Q_OUTCOME, Q_LOOKUP, Q_SET_MARK, Q_GET_MARK,
	Q_OVR_SET, Q_OVR_DEL, Q_OVR_LOG, Q_OVR_LIST, Q_PENDING, Q_HIST, Q_HIST_OVR, Q_COUNTS,
	Q_GET_ID, Q_SET_ID,
	Q_RECEIPT, Q_RESPOND, Q_REPLY, Q_CB_SEEN, Q_CB_MARK, Q_CB_PRUNE, Q_LATEST, Q_HIST_REPLY,
	Q_PRUNE_REM, Q_PRUNE_OUT, Q_PRUNE_REPLY, Q_PRUNE_CB, Q_IDS,
	Q_COUNT
};

/* The columns of a reminder row, in row_rec's order (after its id). */
#define REC_COLS "patient, channel, kind, due, event, expires, status, attempts, reason, " \
	"gateway_id, updated, origin, template, body, receipt, receipt_at, response"

static const char *const queries[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	/* A claim is Q_CLAIM, and Q_RECLAIM when the reminder has a row (a
	 * retry, a restart's resend); a final reminder is left alone: no row
	 * comes back.  One upsert with RETURNING did both, but RETURNING made
	 * every first claim ~40% dearer (bench W2; see sq_claim). */
	[Q_CLAIM] = "INSERT INTO reminder(id, patient, channel, kind, due, event, expires, status, "
	    "attempts, updated, origin, template, body) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 'inflight', "
	    "1, ?8, ?13, ?14, ?15) ON CONFLICT(id) DO NOTHING",
	[Q_RECLAIM] = "UPDATE reminder SET status = 'inflight', attempts = attempts + 1, updated = ?2 "
	    "WHERE id = ?1 AND status IN ('inflight', 'retry') RETURNING attempts",
	[Q_RECORD] = "INSERT INTO reminder(id, patient, channel, kind, due, event, expires, status, "
	    "attempts, reason, gateway_id, updated, origin, template, body) VALUES(?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) ON CONFLICT(id) DO UPDATE SET status = ?8, attempts = max(attempts, ?9), "
	    "reason = ?10, gateway_id = ?11, updated = ?12",
	[Q_NOTE] = "INSERT INTO reminder(id, patient, channel, kind, due, event, expires, status, "
	    "attempts, reason, gateway_id, updated, origin, template, body) VALUES(?1, ?2, ?3, ?4, ?5, "
	    "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) ON CONFLICT(id) DO UPDATE SET status = ?8, reason = ?10, updated = ?12 "
	    "WHERE status IN ('inflight', 'retry')",
	[Q_OUTCOME] = "INSERT INTO outcome(id, at, status, attempt, reason, gateway_id) "
	    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_LOOKUP] = "SELECT " REC_COLS " FROM reminder WHERE id = ?1",
	[Q_IDS] = "SELECT id FROM reminder ORDER BY id",      /* the UNIQUE index alone */
	[Q_SET_MARK] = "INSERT OR REPLACE INTO meta(key, value) VALUES('mark', ?1)",
	[Q_GET_MARK] = "SELECT value FROM meta WHERE key = 'mark'",
	[Q_OVR_SET] = "INSERT OR REPLACE INTO override(kind, patient, channel, source, at, origin, "
	    "author, uid, reason, until) VALUES(?1, ?2, ?3, ?4, ?5, ?7, ?8, ?9, ?10, ?11)",
	[Q_OVR_DEL] = "DELETE FROM override WHERE kind = ?1 AND patient = ?2 AND channel = ?3",
	[Q_OVR_LOG] = "INSERT INTO override_log(at, kind, patient, channel, on_, source, origin, "
	    "author, uid, reason, until) VALUES(?5, ?1, ?2, ?3, ?6, ?4, ?7, ?8, ?9, ?10, ?11)",
	[Q_OVR_LIST] = "SELECT kind, patient, channel, source, at, origin, author, uid, reason, until "
	    "FROM override",
	[Q_PENDING] = "SELECT id, " REC_COLS " FROM reminder WHERE status IN ('inflight', 'retry')",
	[Q_HIST] = "SELECT r.id, r.patient, r.channel, r.kind, r.due, r.event, r.expires, o.status, "
	    "o.attempt, o.reason, o.gateway_id, o.at, r.origin, r.template, NULL, r.receipt, "
	    "r.receipt_at, r.response FROM reminder r JOIN outcome o ON o.id = r.id "
	    "WHERE r.patient = ?1 ORDER BY o.at, r.due, r.id",
	[Q_HIST_OVR] = "SELECT kind, patient, channel, source, at, origin, author, uid, reason, until, "
	    "on_ FROM override_log WHERE patient = ?1 ORDER BY at, rowid",
	[Q_COUNTS] = "SELECT channel, status, count(*) FROM reminder WHERE updated >= ?1 "
	    "GROUP BY channel, status",
	[Q_GET_ID] = "SELECT value FROM meta WHERE key = 'ledger_id'",
	[Q_SET_ID] = "INSERT INTO meta(key, value) VALUES('ledger_id', ?1)",
	[Q_RECEIPT] = "UPDATE reminder SET receipt = ?2, receipt_at = ?3, receipt_reason = ?4 "
	    "WHERE id = ?1",
	[Q_RESPOND] = "UPDATE reminder SET response = ?2 WHERE id = ?1",
	[Q_REPLY] = "INSERT OR IGNORE INTO reply(id, patient, channel, intent, at, reminder, event, "
	    "answer) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[Q_CB_SEEN] = "SELECT 1 FROM callback WHERE key = ?1",
	[Q_CB_MARK] = "INSERT OR IGNORE INTO callback(key, at) VALUES(?1, ?2)",
	[Q_CB_PRUNE] = "DELETE FROM callback WHERE at < ?1",
	/* newest first; the channel and kind are checked by the caller */
	[Q_LATEST] = "SELECT id, " REC_COLS " FROM reminder WHERE patient = ?1 AND status = 'sent' "
	    "AND updated >= ?2 ORDER BY updated DESC, due DESC, id",
	[Q_HIST_REPLY] = "SELECT id, patient, channel, intent, at, reminder, event, answer FROM reply "
	    "WHERE patient = ?1 ORDER BY at, rowid",
	/* retention: the oldest first, a bounded step at a time */
	[Q_PRUNE_REM] = "DELETE FROM reminder WHERE rowid IN (SELECT rowid FROM reminder WHERE "
	    "updated < ?1 AND status NOT IN ('inflight', 'retry') ORDER BY updated LIMIT ?2) RETURNING id",
	[Q_PRUNE_OUT] = "DELETE FROM outcome WHERE id = ?1",
	[Q_PRUNE_REPLY] = "DELETE FROM reply WHERE rowid IN (SELECT rowid FROM reply WHERE at < ?1 "
	    "ORDER BY at LIMIT ?2)",
	[Q_PRUNE_CB] = "DELETE FROM callback WHERE key IN (SELECT key FROM callback WHERE at < ?1 "
	    "ORDER BY at LIMIT ?2)",
};

#define ID_HEX 32

struct ledger_sqlite {
	struct ledger base;
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	char *path;
	char err[PATH_MAX + 256];
	char id[ID_HEX + 1];           /* identity(); "" on a reader */
	dev_t dev;                     /* the file opened: check() compares */
	ino_t ino;
};

static struct ledger_sqlite *lsq(struct ledger *l)
{
	return (struct ledger_sqlite *)l;
}

/* Why a write failed, as the system sees it: SQLite says only "disk I/O
 * error" (its saved errno is not reliable by then), which does not tell an
 * admin what to fix.  A file of the ledger that cannot be written (read-only
 * mount, immutable, permissions), else a full filesystem; "" if neither. */
static void diagnose(struct ledger_sqlite *s, char *buf, size_t len)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char p[PATH_MAX];
	struct statvfs vfs;
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < IOPD_NELEM(suffix); i++) {
		snprintf(p, sizeof p, "%s%s", s->path, suffix[i]);
		if (access(p, W_OK) != 0 && errno != ENOENT) {
			snprintf(buf, len, "; %s: %s", p, strerror(errno));
			return;
		}
	}
	if (statvfs(s->path, &vfs) == 0 && vfs.f_bavail == 0)
		snprintf(buf, len, "; no space left on the ledger's filesystem");
}

static int fail(struct ledger_sqlite *s, const char *what)
{
	int code = sqlite3_errcode(s->db);
	char why[PATH_MAX + 64] = "";

	if (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN ||
	    code == SQLITE_READONLY)
		diagnose(s, why, sizeof why);
	else if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		snprintf(why, sizeof why, "; another process holds a lock on the ledger (an sqlite3 "
		    "shell, a script in a transaction?): end its transaction");
	else if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
		snprintf(why, sizeof why, "; the ledger file is damaged: stop iopd and restore it "
		    "from a backup");
	snprintf(s->err, sizeof s->err, "%s: %s%s", what, sqlite3_errmsg(s->db), why);
	return -1;
}

/* Runs a prepared statement that returns no rows. */
static int step_done(struct ledger_sqlite *s, int q)
{
	int rc = sqlite3_step(s->q[q]);

	sqlite3_reset(s->q[q]);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return fail(s, queries[q]);
	return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int sq_check(struct ledger *l)
{
	struct ledger_sqlite *s = lsq(l);
	struct stat st;
	int gone = stat(s->path, &st) != 0;

	if (!gone && st.st_dev == s->dev && st.st_ino == s->ino)
		return 0;
	snprintf(s->err, sizeof s->err, "%s was %s while iopd ran: it is not the file iopd has open, "
	    "so nothing more is recorded or sent; put it back, or restart iopd (which refuses a "
	    "missing or different ledger unless started with --new-ledger)", s->path,
	    gone ? "deleted or moved away" : "replaced");
	return -1;
}

static int sq_begin(struct ledger *l)
{
	if (sq_check(l))
		return -1;
	return step_done(lsq(l), Q_BEGIN);
}

static int sq_commit(struct ledger *l)
{
	struct ledger_sqlite *s = lsq(l);

	if (step_done(s, Q_COMMIT) == 0)
		return 0;
	if (!sqlite3_get_autocommit(s->db))
		step_done(s, Q_ROLLBACK);
	return -1;
}

static void sq_rollback(struct ledger *l)
{
	struct ledger_sqlite *s = lsq(l);

	if (!sqlite3_get_autocommit(s->db))
		step_done(s, Q_ROLLBACK);
}

static void bind_ident(sqlite3_stmt *st, const struct ledger_rec *r)
{
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
	bind_text(st, 2, r->patient);
	bind_text(st, 3, r->channel);
	bind_text(st, 4, r->kind);
	sqlite3_bind_int64(st, 5, r->due);
	sqlite3_bind_int64(st, 6, r->event);
	sqlite3_bind_int64(st, 7, r->expires);
}

/* What a derived send carries from its making on (?13 ?14 ?15). */
static void bind_derived(sqlite3_stmt *st, const struct ledger_rec *r)
{
	if (r->origin)
		sqlite3_bind_int64(st, 13, (sqlite3_int64)r->origin);
	else
		sqlite3_bind_null(st, 13);
	bind_text(st, 14, r->tmpl);
	bind_text(st, 15, r->body);
}

/* A reminder already in the ledger: claimed again unless final. */
static int reclaim(struct ledger_sqlite *s, struct ledger_rec *r)
{
	sqlite3_stmt *st = s->q[Q_RECLAIM];
	int rc, found = 0;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
	sqlite3_bind_int64(st, 2, r->at);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->attempts = sqlite3_column_int(st, 0);
		found = 1;
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail(s, "claim");
	return found ? CLAIM_OK : CLAIM_FINAL;
}

/* The first claim of a reminder inserts its row (attempt 1); any later
 * one finds the row there and goes through reclaim.  Both run inside the
 * batch's write transaction, so nothing comes between the two. */
static int sq_claim(struct ledger *l, struct ledger_rec *r)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_CLAIM];
	int rc;

	bind_ident(st, r);
	sqlite3_bind_int64(st, 8, r->at);
	bind_derived(st, r);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail(s, "claim");
	if (!sqlite3_changes(s->db))
		return reclaim(s, r);
	r->attempts = 1;
	return CLAIM_OK;
}

static int put(struct ledger_sqlite *s, int q, const struct ledger_rec *r)
{
	sqlite3_stmt *st = s->q[q], *o = s->q[Q_OUTCOME];

	bind_ident(st, r);
	bind_text(st, 8, rec_status_names[r->status]);
	sqlite3_bind_int(st, 9, r->attempts);
	bind_text(st, 10, r->reason);
	bind_text(st, 11, r->gateway_id);
	sqlite3_bind_int64(st, 12, r->at);
	bind_derived(st, r);
	if (step_done(s, q))
		return -1;
	if (!sqlite3_changes(s->db))
		return 0;                      /* a note on a final reminder: nothing happened */
	sqlite3_bind_int64(o, 1, (sqlite3_int64)r->id);
	sqlite3_bind_int64(o, 2, r->at);
	bind_text(o, 3, rec_status_names[r->status]);
	sqlite3_bind_int(o, 4, r->attempts);
	bind_text(o, 5, r->reason);
	bind_text(o, 6, r->gateway_id);
	return step_done(s, Q_OUTCOME);
}

static int sq_record(struct ledger *l, const struct ledger_rec *r)
{
	return put(lsq(l), Q_RECORD, r);
}

static int sq_note(struct ledger *l, const struct ledger_rec *r)
{
	return put(lsq(l), Q_NOTE, r);
}

/* Columns (id,) then REC_COLS. */
static void row_rec(sqlite3_stmt *st, int c, struct ledger_rec *r, char *buf, size_t len)
{
	r->patient = ledger_keep(&buf, &len, col_text(st, c));
	r->channel = ledger_keep(&buf, &len, col_text(st, c + 1));
	r->kind = ledger_keep(&buf, &len, col_text(st, c + 2));
	r->due = sqlite3_column_int64(st, c + 3);
	r->event = sqlite3_column_int64(st, c + 4);
	r->expires = sqlite3_column_int64(st, c + 5);
	r->status = rec_status_parse(col_text(st, c + 6));
	r->attempts = sqlite3_column_int(st, c + 7);
	r->reason = ledger_keep(&buf, &len, col_text(st, c + 8));
	r->gateway_id = ledger_keep(&buf, &len, col_text(st, c + 9));
	r->at = sqlite3_column_int64(st, c + 10);
	r->origin = (uint64_t)sqlite3_column_int64(st, c + 11);
	r->tmpl = ledger_keep(&buf, &len, col_text(st, c + 12));
	r->body = ledger_keep(&buf, &len, col_text(st, c + 13));
	r->receipt = ledger_keep(&buf, &len, col_text(st, c + 14));
	r->receipt_at = sqlite3_column_int64(st, c + 15);
	r->response = ledger_keep(&buf, &len, col_text(st, c + 16));
}

static int sq_lookup(struct ledger *l, uint64_t id, struct ledger_rec *r, char *buf, size_t len)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_LOOKUP];
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	rc = sqlite3_step(st);
	r->id = id;
	r->status = REC_NONE;
	if (rc == SQLITE_ROW)
		row_rec(st, 0, r, buf, len);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(s, "lookup");
	return rc == SQLITE_ROW;
}

static int sq_ids(struct ledger *l, size_t max, int64_t **ids, size_t *n)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_IDS];
	size_t cap = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		if (*n == cap)
			*ids = xreallocarray(*ids, cap = cap ? 2 * cap : 4096, sizeof **ids);
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	free(*ids);
	*ids = NULL;
	*n = 0;
	return rc == SQLITE_ROW ? 1 : fail(s, "ids");        /* more than max, or an error */
}

static int sq_set_mark(struct ledger *l, int64_t t)
{
	struct ledger_sqlite *s = lsq(l);

	sqlite3_bind_int64(s->q[Q_SET_MARK], 1, t);
	return step_done(s, Q_SET_MARK);
}

static int64_t sq_get_mark(struct ledger *l)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_GET_MARK];
	int64_t v = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

static const char *const ovr_names[] = {"pause", "opt-out"};

static int sq_set_override(struct ledger *l, const struct ledger_ovr *o)
{
	struct ledger_sqlite *s = lsq(l);
	int q = o->on ? Q_OVR_SET : Q_OVR_DEL, k;

	for (k = 0; k < 2; k++, q = Q_OVR_LOG) {
		sqlite3_stmt *st = s->q[q];
		sqlite3_bind_text(st, 1, ovr_names[o->kind], -1, SQLITE_STATIC);
		bind_text(st, 2, o->patient);
		bind_text(st, 3, o->channel ? o->channel : "");
		if (q != Q_OVR_DEL) {
			bind_text(st, 4, o->source);
			sqlite3_bind_int64(st, 5, o->at);
			sqlite3_bind_text(st, 7, ovr_origin_names[o->origin], -1, SQLITE_STATIC);
			bind_text(st, 8, o->author);
			if (o->author && o->uid >= 0)
				sqlite3_bind_int64(st, 9, o->uid);
			else
				sqlite3_bind_null(st, 9);
			bind_text(st, 10, o->reason);
			if (o->until > 0)
				sqlite3_bind_int64(st, 11, o->until);
			else
				sqlite3_bind_null(st, 11);
		}
		if (q == Q_OVR_LOG)
			sqlite3_bind_int(st, 6, o->on);
		if (step_done(s, q))
			return -1;
	}
	return 0;
}

static void row_ovr(sqlite3_stmt *st, struct ledger_ovr *o)
{
	o->kind = strcmp(col_text(st, 0), "pause") == 0 ? OVR_PAUSE : OVR_OPTOUT;
	o->patient = col_text(st, 1);
	o->channel = col_text(st, 2);
	o->source = col_text(st, 3);
	o->at = sqlite3_column_int64(st, 4);
	o->origin = ovr_origin_parse(col_text(st, 5));
	o->author = col_text(st, 6);
	o->uid = sqlite3_column_type(st, 7) == SQLITE_NULL ? -1 : (long)sqlite3_column_int64(st, 7);
	o->reason = col_text(st, 8);
	o->until = sqlite3_column_int64(st, 9);
	o->on = 1;
}

static int sq_overrides(struct ledger *l, ledger_ovr_fn fn, void *arg)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_OVR_LIST];
	struct ledger_ovr o;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_ovr(st, &o);
		fn(&o, arg);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : fail(s, "overrides");
}

static int each_rec(struct ledger_sqlite *s, int q, ledger_rec_fn fn, void *arg)
{
	sqlite3_stmt *st = s->q[q];
	struct ledger_rec r;
	char buf[4096];
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r.id = (uint64_t)sqlite3_column_int64(st, 0);
		row_rec(st, 1, &r, buf, sizeof buf);
		fn(&r, arg);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : fail(s, queries[q]);
}

static int sq_pending(struct ledger *l, ledger_rec_fn fn, void *arg)
{
	return each_rec(lsq(l), Q_PENDING, fn, arg);
}

static void row_reply(sqlite3_stmt *st, struct ledger_reply *r)
{
	r->id = (uint64_t)sqlite3_column_int64(st, 0);
	r->patient = col_text(st, 1);
	r->channel = col_text(st, 2);
	r->intent = col_text(st, 3);
	r->at = sqlite3_column_int64(st, 4);
	r->reminder = (uint64_t)sqlite3_column_int64(st, 5);
	r->event = sqlite3_column_int64(st, 6);
	r->answer = (uint64_t)sqlite3_column_int64(st, 7);
}

static int sq_history(struct ledger *l, const char *patient, ledger_rec_fn fn, ledger_ovr_fn ofn,
    ledger_reply_fn rfn, void *arg)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_HIST_OVR], *rq = s->q[Q_HIST_REPLY];
	struct ledger_ovr o;
	struct ledger_reply r;
	int rc;

	bind_text(s->q[Q_HIST], 1, patient);
	if (each_rec(s, Q_HIST, fn, arg))
		return -1;
	bind_text(st, 1, patient);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_ovr(st, &o);
		o.on = sqlite3_column_int(st, 10);
		ofn(&o, arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail(s, "history");
	bind_text(rq, 1, patient);
	while ((rc = sqlite3_step(rq)) == SQLITE_ROW) {
		row_reply(rq, &r);
		if (rfn)
			rfn(&r, arg);
	}
	sqlite3_reset(rq);
	return rc == SQLITE_DONE ? 0 : fail(s, "history");
}

/* ---- two-way SMS ----------------------------------------------------- */

static int sq_receipt(struct ledger *l, uint64_t id, const char *state, int64_t at, const char *reason)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_RECEIPT];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	bind_text(st, 2, state);
	sqlite3_bind_int64(st, 3, at);
	bind_text(st, 4, reason);
	return step_done(s, Q_RECEIPT);
}

static int sq_respond(struct ledger *l, uint64_t id, const char *response)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_RESPOND];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	bind_text(st, 2, response);
	return step_done(s, Q_RESPOND);
}

static void bind_id_or_null(sqlite3_stmt *st, int i, uint64_t id)
{
	if (id)
		sqlite3_bind_int64(st, i, (sqlite3_int64)id);
	else
		sqlite3_bind_null(st, i);
}

static int sq_reply(struct ledger *l, const struct ledger_reply *r)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_REPLY];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
	bind_text(st, 2, r->patient);
	bind_text(st, 3, r->channel);
	bind_text(st, 4, r->intent);
	sqlite3_bind_int64(st, 5, r->at);
	bind_id_or_null(st, 6, r->reminder);
	if (r->reminder)
		sqlite3_bind_int64(st, 7, r->event);
	else
		sqlite3_bind_null(st, 7);
	bind_id_or_null(st, 8, r->answer);
	return step_done(s, Q_REPLY);
}

static int sq_callback_seen(struct ledger *l, const char *key)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_CB_SEEN];
	int rc;

	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(s, "callback lookup");
	return rc == SQLITE_ROW;
}

static int sq_callback_mark(struct ledger *l, const char *key, int64_t at)
{
	struct ledger_sqlite *s = lsq(l);

	bind_text(s->q[Q_CB_MARK], 1, key);
	sqlite3_bind_int64(s->q[Q_CB_MARK], 2, at);
	return step_done(s, Q_CB_MARK);
}

static int sq_callback_prune(struct ledger *l, int64_t before)
{
	struct ledger_sqlite *s = lsq(l);

	sqlite3_bind_int64(s->q[Q_CB_PRUNE], 1, before);
	return step_done(s, Q_CB_PRUNE);
}

static int in_list(const char *v, const char *const *list)
{
	for (; v && list && *list; list++)
		if (strcmp(v, *list) == 0)
			return 1;
	return 0;
}

static int sq_latest_sent(struct ledger *l, const char *patient, const char *const *channels,
    const char *const *kinds, int64_t since, struct ledger_rec *r, char *buf, size_t len)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_LATEST];
	int rc, found = 0;

	bind_text(st, 1, patient);
	sqlite3_bind_int64(st, 2, since);
	while (!found && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!in_list(col_text(st, 2), channels) || !in_list(col_text(st, 3), kinds))
			continue;
		r->id = (uint64_t)sqlite3_column_int64(st, 0);
		row_rec(st, 1, r, buf, len);
		found = 1;
	}
	if (!found && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		return fail(s, "latest sent");
	}
	sqlite3_reset(st);
	return found;
}

/* ---- upkeep ------------------------------------------------------------ */

/* One DELETE ... LIMIT step of the oldest rows; the rows it removed. */
static long prune_step(struct ledger_sqlite *s, int q, int64_t before, int limit)
{
	sqlite3_stmt *st = s->q[q];

	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, limit);
	if (step_done(s, q))
		return -1;
	return (long)sqlite3_changes(s->db);
}

static long sq_prune(struct ledger *l, int64_t before, int limit)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_PRUNE_REM], *out = s->q[Q_PRUNE_OUT];
	sqlite3_int64 *ids = xreallocarray(NULL, limit > 0 ? (size_t)limit : 1, sizeof *ids);
	long n = 0, more;
	int rc, i;

	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (n < limit)
			ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(ids);
		return fail(s, "pruning the ledger");
	}
	/* the outcomes of the reminders gone (by the index on outcome.id) */
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(out, 1, ids[i]);
		if (step_done(s, Q_PRUNE_OUT)) {
			free(ids);
			return -1;
		}
	}
	free(ids);
	if ((more = prune_step(s, Q_PRUNE_REPLY, before, limit)) < 0)
		return -1;
	n += more;
	if ((more = prune_step(s, Q_PRUNE_CB, before, limit)) < 0)
		return -1;
	return n + more;
}

static int open_ro(const char *path, sqlite3 **db, char *err, size_t errlen)
{
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
	    sqlite3_exec(*db, "PRAGMA busy_timeout = 2000", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
	return -1;
}

/* The whole ledger in one step: one read transaction, so the copy is the
 * ledger at one instant.  In WAL mode a reader never holds the writer up
 * (the WAL only grows a little meanwhile, as checkpoints wait for it); a
 * copy made in several steps would start again each time the daemon
 * wrote, and on a busy day never end. */
static int sq_backup(struct ledger *l, const char *path, int64_t *bytes, char *err, size_t errlen)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	struct stat st;
	int rc = -1;

	if (open_ro(s->path, &src, err, errlen))
		goto out;
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, dst ? sqlite3_errmsg(dst) : "out of memory");
		goto out;
	}
	if (!(b = sqlite3_backup_init(dst, "main", src, "main"))) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(dst));
		goto out;
	}
	rc = sqlite3_backup_step(b, -1);
	if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE) {
		snprintf(err, errlen, "copying %s: %s", s->path, sqlite3_errmsg(dst));
		rc = -1;
		goto out;
	}
	/* a copy in rollback-journal mode: one file, whole, to store away
	 * (iopd puts it back in WAL mode when it opens it) */
	if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(dst));
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	if (dst && sqlite3_close(dst) != SQLITE_OK && rc == 0) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(dst));
		rc = -1;
	}
	sqlite3_close(src);
	if (rc == 0) {
		if (stat(path, &st) == 0) {
			*bytes = (int64_t)st.st_size;
		} else {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			rc = -1;
		}
	}
	return rc;
}

static int sq_counts_since(struct ledger *l, int64_t t, ledger_count_fn fn, void *arg)
{
	struct ledger_sqlite *s = lsq(l);
	sqlite3_stmt *st = s->q[Q_COUNTS];
	int rc;

	sqlite3_bind_int64(st, 1, t);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn(col_text(st, 0), rec_status_parse(col_text(st, 1)), sqlite3_column_int64(st, 2), arg);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : fail(s, "counts");
}

static int64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

static int64_t sq_size(struct ledger *l)
{
	struct ledger_sqlite *s = lsq(l);
	char wal[PATH_MAX];

	snprintf(wal, sizeof wal, "%s-wal", s->path);
	return file_size(s->path) + file_size(wal);
}

static const char *sq_error(struct ledger *l)
{
	return lsq(l)->err;
}

static const char *sq_identity(struct ledger *l)
{
	return lsq(l)->id;
}

static struct ledger *sq_reader(struct ledger *l, char *err, size_t errlen);

static void sq_close(struct ledger *l)
{
	struct ledger_sqlite *s = lsq(l);
	int i;

	if (!s)
		return;
	for (i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->q[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static void sq_describe(struct ledger *l, char *buf, size_t len)
{
	snprintf(buf, len, "%s", lsq(l)->path);
}

static const struct ledger_ops sqlite_ops = {
	.name = "sqlite", .close = sq_close,
	.submit = ledger_sync_submit, .load = ledger_sync_load, .describe = sq_describe,
	.begin = sq_begin, .commit = sq_commit, .rollback = sq_rollback, .claim = sq_claim,
	.record = sq_record, .note = sq_note, .set_mark = sq_set_mark, .get_mark = sq_get_mark,
	.set_override = sq_set_override, .overrides = sq_overrides, .pending = sq_pending,
	.lookup = sq_lookup, .ids = sq_ids, .history = sq_history, .counts_since = sq_counts_since,
	.size = sq_size, .error = sq_error,
	.receipt = sq_receipt, .respond = sq_respond, .reply = sq_reply,
	.callback_seen = sq_callback_seen, .callback_mark = sq_callback_mark,
	.callback_prune = sq_callback_prune, .latest_sent = sq_latest_sent,
	.identity = sq_identity, .check = sq_check, .reader = sq_reader,
	.prune = sq_prune, .backup = sq_backup,
};

static int pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int migrate(struct ledger_sqlite *s)
{
	int v = pragma_int(s->db, "PRAGMA user_version");
	char sql[64];

	if (v < 0)
		return fail(s, "reading the schema version");
	if (v > SCHEMA_VERSION) {
		snprintf(s->err, sizeof s->err, "%s has schema version %d, newer than this iopd knows "
		    "(%d): run a newer iopd, or move the file aside", s->path, v, SCHEMA_VERSION);
		return -1;
	}
	for (; v < SCHEMA_VERSION; v++) {
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(s->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			fail(s, "migrating the ledger");
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}

/* A ledger iopd will not start on: what it says, and what to do. */
static int damaged(struct ledger_sqlite *s, const char *why)
{
	char *nl;

	snprintf(s->err, sizeof s->err, "%s is damaged (%s): iopd will not start on it; restore it "
	    "from a backup, or move it aside and start iopd once with --new-ledger (what it "
	    "recorded as sent may then be sent again)", s->path, why);
	while ((nl = strchr(s->err, '\n')))   /* quick_check's report has lines: one log line */
		*nl = ' ';
	return -1;
}

static int is_damage(int code)
{
	return code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
}

/* SQLite meets a damaged page only when it reads it, at any time later,
 * and a write there loses records: so every page is read once at start
 * (quick_check: the b-trees and records, without integrity_check's slow
 * cross-check of every index entry). */
static int check_intact(struct ledger_sqlite *s)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK)
		return is_damage(sqlite3_errcode(s->db)) ? damaged(s, sqlite3_errmsg(s->db)) :
		    fail(s, "checking the ledger");
	if (sqlite3_step(st) != SQLITE_ROW)
		rc = is_damage(sqlite3_errcode(s->db)) ? damaged(s, sqlite3_errmsg(s->db)) :
		    fail(s, "checking the ledger");
	else if (strcmp(col_text(st, 0) ? col_text(st, 0) : "", "ok") != 0)
		rc = damaged(s, col_text(st, 0) ? col_text(st, 0) : "quick_check");
	sqlite3_finalize(st);
	return rc;
}

static int prepare_all(struct ledger_sqlite *s)
{
	int i;

	for (i = 0; i < Q_COUNT; i++)
		if (sqlite3_prepare_v3(s->db, queries[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) != SQLITE_OK)
			return fail(s, queries[i]);
	return 0;
}

/* The ledger's identity, drawn once: the marker in state_dir names it
 * (ledger_guard.c), so a ledger replaced by another is told apart. */
static int load_identity(struct ledger_sqlite *s)
{
	static const char hex[] = "0123456789abcdef";
	sqlite3_stmt *get = s->q[Q_GET_ID], *set = s->q[Q_SET_ID];
	unsigned char r[ID_HEX / 2];
	const char *v;
	size_t i;
	int rc;

	if ((rc = sqlite3_step(get)) == SQLITE_ROW && (v = col_text(get, 0)) && strlen(v) == ID_HEX)
		snprintf(s->id, sizeof s->id, "%s", v);
	sqlite3_reset(get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(s, "reading the ledger's identity");
	if (s->id[0])
		return 0;
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		snprintf(s->err, sizeof s->err, "no random bytes for the ledger's identity: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof r; i++) {
		s->id[2 * i] = hex[r[i] >> 4];
		s->id[2 * i + 1] = hex[r[i] & 15];
	}
	s->id[ID_HEX] = '\0';
	sqlite3_bind_text(set, 1, s->id, -1, SQLITE_STATIC);
	if (step_done(s, Q_SET_ID)) {
		s->id[0] = '\0';
		return -1;
	}
	return 0;
}

/* The file now open, for check(). */
static int note_file(struct ledger_sqlite *s)
{
	struct stat st;

	if (stat(s->path, &st) != 0) {
		snprintf(s->err, sizeof s->err, "%s: %s", s->path, strerror(errno));
		return -1;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
}

static int setup(struct ledger_sqlite *s)
{
	/* cache_size: up to 64 MiB of pages (the default, 2 MiB, is a tenth of
	 * the pages 100,000 reminders touch: bench W2 re-read ~8 pages per
	 * delivery with pread; now ~0.6).  Memory grows only as pages are used.
	 * busy_timeout: SQLite waits for another process's lock by sleeping,
	 * on the loop thread; a batch it refuses is tried again a few seconds
	 * later (dispatch.c), so the wait stays short (2 s stalled the loop for
	 * 2 s at every try: tests/integration/faults_busy.sh). */
	if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 20; PRAGMA cache_size = -65536;",
	    NULL, NULL, NULL) != SQLITE_OK)
		return is_damage(sqlite3_errcode(s->db)) ? damaged(s, sqlite3_errmsg(s->db)) :
		    fail(s, "configuring the ledger");
	if (check_intact(s) || migrate(s) || prepare_all(s) || load_identity(s))
		return -1;
	return note_file(s);
}

static int make_state_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		snprintf(err, errlen, "state_dir %s is not a directory", dir);
		return -1;
	}
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	snprintf(err, errlen, "cannot create state_dir %s: %s", dir, strerror(errno));
	return -1;
}

/* A -wal file without its database (the ledger was deleted, its -wal
 * left) would be replayed into the new one: moved aside, never deleted. */
static void set_aside_orphans(const char *db)
{
	static const char *const suffix[] = {"-wal", "-shm", "-journal"};
	char p[PATH_MAX], q[PATH_MAX + 32];
	size_t i;

	for (i = 0; i < IOPD_NELEM(suffix); i++) {
		snprintf(p, sizeof p, "%s%s", db, suffix[i]);
		snprintf(q, sizeof q, "%s.orphaned-%lld", p, (long long)time(NULL));
		if (access(p, F_OK) == 0)
			rename(p, q);
	}
}

int ledger_sqlite_exists(const char *state_dir)
{
	char p[PATH_MAX];
	struct stat st;

	snprintf(p, sizeof p, "%s/ledger.db", state_dir);
	if (stat(p, &st) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

struct ledger *ledger_sqlite_open(const char *state_dir, char *err, size_t errlen)
{
	struct ledger_sqlite *s;

	if (make_state_dir(state_dir, err, errlen))
		return NULL;
	s = xcalloc(1, sizeof *s);
	s->base.ops = &sqlite_ops;
	s->path = xasprintf("%s/ledger.db", state_dir);
	if (ledger_sqlite_exists(state_dir) == 0)
		set_aside_orphans(s->path);
	if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", s->path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		sq_close(&s->base);
		return NULL;
	}
	if (setup(s)) {
		snprintf(err, errlen, "%s", s->err);
		sq_close(&s->base);
		return NULL;
	}
	return &s->base;
}

/* Runs on the reader's own thread: only the writer's path and identity of
 * its file are read, and they never change. */
static struct ledger *sq_reader(struct ledger *l, char *err, size_t errlen)
{
	struct ledger_sqlite *w = lsq(l), *s = xcalloc(1, sizeof *s);

	s->base.ops = &sqlite_ops;
	s->path = xstrdup(w->path);
	s->dev = w->dev;
	s->ino = w->ino;
	if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, "PRAGMA busy_timeout = 2000", NULL, NULL, NULL) != SQLITE_OK ||
	    prepare_all(s) || sq_check(&s->base) || note_file(s)) {
		if (s->err[0])
			snprintf(err, errlen, "%s", s->err);
		else
			snprintf(err, errlen, "%s: %s", s->path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		sq_close(&s->base);
		return NULL;
	}
	return &s->base;
}

/* ---- read only, beside the daemon (iopd agenda) ---------------------------- */

static bool file_there(const char *path, const char *suffix)
{
	char p[PATH_MAX];

	snprintf(p, sizeof p, "%s%s", path, suffix);
	return access(p, F_OK) == 0;
}

/* "file:" + the path, with what a URI would read otherwise escaped. */
static char *uri_of(const char *path, const char *query)
{
	static const char hex[] = "0123456789ABCDEF";
	struct sbuf b = {0};

	sbuf_adds(&b, "file:");
	for (; *path; path++) {
		unsigned char c = (unsigned char)*path;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("/-._~", c)) {
			sbuf_addc(&b, (char)c);
		} else {
			sbuf_addc(&b, '%');
			sbuf_addc(&b, hex[c >> 4]);
			sbuf_addc(&b, hex[c & 15]);
		}
	}
	sbuf_printf(&b, "?%s", query);
	return b.s;
}

int ledger_sqlite_peek(const char *state_dir, struct ledger **out, char *err, size_t errlen)
{
	struct ledger_sqlite *s;
	bool wal, shm;
	char *uri;
	int v;

	*out = NULL;
	switch (ledger_sqlite_exists(state_dir)) {
	case 0:
		return 0;
	case -1:
		if (errno == ENOTDIR)
			return 0;
		snprintf(err, errlen, "cannot read %s/ledger.db: %s", state_dir, strerror(errno));
		return -1;
	}
	s = xcalloc(1, sizeof *s);
	s->base.ops = &sqlite_ops;
	s->path = xasprintf("%s/ledger.db", state_dir);
	wal = file_there(s->path, "-wal");
	shm = file_there(s->path, "-shm");
	if (wal != shm) {
		/* SQLite would make the missing one */
		snprintf(err, errlen, "%s-%s is there without %s-%s (an iopd starting or stopping, or one "
		    "that crashed): not read, so as not to create files beside the daemon's; try again, or "
		    "start iopd", s->path, wal ? "wal" : "shm", s->path, wal ? "shm" : "wal");
		sq_close(&s->base);
		return -1;
	}
	/* both there: a running daemon's (or a crashed one's), read through
	 * them; neither: a stopped daemon's, whole in the file */
	uri = uri_of(s->path, wal ? "mode=ro" : "mode=ro&immutable=1");
	if (sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK || sqlite3_exec(s->db, "PRAGMA busy_timeout = 1000", NULL, NULL, NULL)
	    != SQLITE_OK) {
		snprintf(err, errlen, "cannot read %s: %s", s->path, s->db ? sqlite3_errmsg(s->db) :
		    "out of memory");
		free(uri);
		sq_close(&s->base);
		return -1;
	}
	free(uri);
	if ((v = pragma_int(s->db, "PRAGMA user_version")) != SCHEMA_VERSION) {
		if (v < 0)
			snprintf(err, errlen, "cannot read %s: %s", s->path, sqlite3_errmsg(s->db));
		else
			snprintf(err, errlen, "%s has schema version %d, this iopd reads %d (%s)", s->path, v,
			    SCHEMA_VERSION, v < SCHEMA_VERSION ? "the daemon upgrades it at its next start" :
			    "it was written by a newer iopd");
		sq_close(&s->base);
		return -1;
	}
	if (prepare_all(s) || note_file(s)) {
		snprintf(err, errlen, "cannot read %s: %s", s->path, s->err);
		sq_close(&s->base);
		return -1;
	}
	*out = &s->base;
	return 1;
}
