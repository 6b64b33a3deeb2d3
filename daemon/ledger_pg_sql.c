/* ledger_pg_sql.c - the PostgreSQL ledger's schema and statements.
 *
 * Same tables and columns as the SQLite ledger's schema 4 (reminder,
 * outcome, override, override_log, reply, callback), plus what sharing
 * needs:
 *   reminder.owner   the instance holding its claim (in flight or waiting
 *                    to retry), or that finished it; NULL: released
 *   outcome.instance, override_log.instance   who recorded it
 *   instance         one row per instance: its heartbeat and lease, the
 *                    fingerprint of its configuration, its claims in
 *                    flight, its own mark (schedule progress)
 * Times of reminders are Unix seconds, as in SQLite; leases and
 * heartbeats use the server's clock (clock_timestamp()), so the hosts'
 * clocks need not agree.
 *
 * A claim is live while its owner's heartbeat is within its lease and the
 * owner did not stop.  Every statement that changes a claim checks that:
 * one instance claims a reminder, another takes it over only once the
 * lease ran out (or was released), and an outcome is recorded only by the
 * instance that holds the claim. */
#include "config.h"

#include "ledger_pg_sql.h"
#include "util.h"

/* The condition "r's claim is not held by a live instance other than the
 * one at PARAM". */
#define CLAIMABLE(param) \
	"(r.owner IS NULL OR r.owner = " param " OR NOT EXISTS (SELECT 1 FROM instance n " \
	"WHERE n.name = r.owner AND NOT n.stopped AND n.heartbeat > clock_timestamp() - n.lease))"

const char pg_schema_sql[] =
    "DO $iopd$\n"
    "DECLARE v integer := 0;\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(7306589441127760);\n"   /* one creator or upgrader at a time */
    "  IF to_regclass('iopd_meta') IS NOT NULL THEN\n"
    "    SELECT value::integer INTO v FROM iopd_meta WHERE key = 'schema';\n"
    "  END IF;\n"
    "  IF coalesce(v, 0) > 2 THEN\n"
    "    RAISE EXCEPTION 'the ledger''s schema is version %, newer than this iopd knows (2): run "
    "a newer iopd', v USING ERRCODE = '" PG_SQLSTATE_NEWER "';\n"
    "  END IF;\n"
    "  IF coalesce(v, 0) < 1 THEN\n"
    "    CREATE TABLE iopd_meta(key text PRIMARY KEY, value text NOT NULL);\n"
    "    CREATE TABLE reminder(id bigint PRIMARY KEY,\n"
    "      patient text NOT NULL, channel text NOT NULL, kind text NOT NULL,\n"
    "      due bigint NOT NULL, event bigint NOT NULL, expires bigint NOT NULL,\n"
    "      status text NOT NULL, attempts integer NOT NULL DEFAULT 0,\n"
    "      reason text, gateway_id text, updated bigint NOT NULL, owner text);\n"
    "    CREATE INDEX reminder_patient ON reminder(patient, due);\n"
    "    CREATE INDEX reminder_open ON reminder(owner) WHERE status IN ('inflight', 'retry');\n"
    "    CREATE INDEX reminder_updated ON reminder(updated);\n"
    "    CREATE TABLE outcome(id bigint NOT NULL, at bigint NOT NULL, status text NOT NULL,\n"
    "      attempt integer NOT NULL, reason text, gateway_id text, instance text);\n"
    "    CREATE INDEX outcome_id ON outcome(id);\n"
    "    CREATE TABLE override(kind text NOT NULL, patient text NOT NULL, channel text NOT NULL,\n"
    "      source text, at bigint NOT NULL, PRIMARY KEY(kind, patient, channel));\n"
    "    CREATE TABLE override_log(at bigint NOT NULL, kind text NOT NULL, patient text NOT NULL,\n"
    "      channel text NOT NULL, on_ integer NOT NULL, source text, instance text);\n"
    "    CREATE INDEX override_log_patient ON override_log(patient);\n"
    "    CREATE TABLE instance(name text PRIMARY KEY, token text NOT NULL, host text,\n"
    "      pid integer, version text, fingerprint text, lease interval NOT NULL,\n"
    "      heartbeat timestamptz NOT NULL, started timestamptz NOT NULL,\n"
    "      stopped boolean NOT NULL DEFAULT false, inflight integer NOT NULL DEFAULT 0,\n"
    "      mark bigint);\n"
    "    INSERT INTO iopd_meta(key, value) VALUES('schema', '1');\n"
    "    v := 1;\n"
    "  END IF;\n"
    /* 1 -> 2: what SQLite's schemas 3 and 4 brought (two-way SMS, day-to-day
     * administration): a derived send's origin, template and notice; the
     * final receipt and the patient's response; replies (intent, never
     * text); the keys of callbacks taken; an override's origin, author,
     * reason and end */
    "  IF v < 2 THEN\n"
    "    ALTER TABLE reminder ADD COLUMN origin bigint, ADD COLUMN template text,\n"
    "      ADD COLUMN body text, ADD COLUMN receipt text, ADD COLUMN receipt_at bigint,\n"
    "      ADD COLUMN receipt_reason text, ADD COLUMN response text;\n"
    "    CREATE TABLE reply(id bigint NOT NULL, patient text NOT NULL, channel text NOT NULL,\n"
    "      intent text NOT NULL, at bigint NOT NULL, reminder bigint, event bigint,\n"
    "      answer bigint, instance text, PRIMARY KEY(id, patient));\n"
    "    CREATE INDEX reply_patient ON reply(patient, at);\n"
    "    CREATE INDEX reply_at ON reply(at);\n"
    "    CREATE TABLE callback(key text PRIMARY KEY, at bigint NOT NULL);\n"
    "    CREATE INDEX callback_at ON callback(at);\n"
    "    ALTER TABLE override ADD COLUMN origin text NOT NULL DEFAULT 'staff',\n"
    "      ADD COLUMN author text, ADD COLUMN uid bigint, ADD COLUMN reason text,\n"
    "      ADD COLUMN until bigint;\n"
    "    ALTER TABLE override_log ADD COLUMN origin text NOT NULL DEFAULT 'staff',\n"
    "      ADD COLUMN author text, ADD COLUMN uid bigint, ADD COLUMN reason text,\n"
    "      ADD COLUMN until bigint;\n"
    "    UPDATE iopd_meta SET value = '2' WHERE key = 'schema';\n"
    "  END IF;\n"
    "END\n"
    "$iopd$";

/* Claims a batch in one statement: each reminder not final and not held
 * by a live instance becomes this instance's, in flight, attempts + 1;
 * one whose patient is paused or opted out of the channel (the shared
 * overrides, read in this same statement) is recorded skipped instead.
 * Rows go in id order, so two instances claiming overlapping batches take
 * their row locks in the same order.  One row out per reminder in: the
 * claim (attempts, status, reason) or, when it was not claimed, the status
 * it had (final, or NULL/open: held by another instance). */
static const char claim_sql[] =
    "WITH i AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[],"
    "    $5::bigint[], $6::bigint[], $7::bigint[], $11::bigint[], $12::text[], $13::text[])"
    "    AS t(id, patient, channel, kind, due, event, expires, origin, template, body)),"
    " b AS (SELECT i.*, CASE"
    "    WHEN i.kind IN ('reply', 'notice') THEN NULL"   /* answers and notices: never held back */
    "    WHEN EXISTS (SELECT 1 FROM override o WHERE o.kind = 'pause' AND o.patient = i.patient"
    "      AND o.channel = '' AND (o.until IS NULL OR o.until > $8)) THEN 'paused'"
    "    WHEN EXISTS (SELECT 1 FROM override o WHERE o.kind = 'opt-out' AND o.patient = i.patient"
    "      AND o.channel = i.channel) THEN 'opt-out' END AS why"
    "  FROM i WHERE EXISTS (SELECT 1 FROM instance WHERE name = $9 AND token = $10)),"
    " c AS (INSERT INTO reminder AS r (id, patient, channel, kind, due, event, expires, status,"
    "    attempts, reason, updated, owner, origin, template, body)"
    "  SELECT id, patient, channel, kind, due, event, expires,"
    "    CASE WHEN why IS NULL THEN 'inflight' ELSE 'skipped' END,"
    "    CASE WHEN why IS NULL THEN 1 ELSE 0 END, why, $8, $9, origin, template, body"
    "  FROM b ORDER BY id"
    "  ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,"
    "    attempts = r.attempts + excluded.attempts, updated = excluded.updated, owner = excluded.owner"
    "  WHERE r.status IN ('inflight', 'retry') AND " CLAIMABLE("excluded.owner")
    "  RETURNING r.id, r.attempts, r.status, r.reason),"
    " l AS (INSERT INTO outcome(id, at, status, attempt, reason, instance)"
    "  SELECT id, $8, status, attempts, reason, $9 FROM c WHERE status = 'skipped')"
    " SELECT i.id, c.attempts, c.status, c.reason, r.status"
    " FROM i LEFT JOIN c ON c.id = i.id LEFT JOIN reminder r ON r.id = i.id";

/* Outcomes of this instance's claims; a claim another instance took over
 * (after this one's lease ran out) is left alone.  Returns the ids whose
 * outcome was not recorded (recorded already, identically, counts as
 * recorded: a batch whose commit was not confirmed is sent again). */
static const char outcome_sql[] =
    "WITH i AS (SELECT DISTINCT ON (id) * FROM unnest($1::bigint[], $2::text[], $3::integer[],"
    "    $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY"
    "    AS t(id, status, attempts, reason, gateway_id, at, n) ORDER BY id, n DESC),"
    " u AS (UPDATE reminder r SET status = i.status, attempts = greatest(r.attempts, i.attempts),"
    "    reason = i.reason, gateway_id = i.gateway_id, updated = i.at"
    "  FROM i WHERE r.id = i.id AND r.owner = $7 AND r.status IN ('inflight', 'retry')"
    "    AND EXISTS (SELECT 1 FROM instance WHERE name = $7 AND token = $8)"
    "  RETURNING i.*),"
    " l AS (INSERT INTO outcome(id, at, status, attempt, reason, gateway_id, instance)"
    "  SELECT id, at, status, attempts, reason, gateway_id, $7 FROM u)"
    " SELECT i.id FROM i WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.id = i.id)"
    "  AND NOT EXISTS (SELECT 1 FROM reminder r WHERE r.id = i.id AND r.owner = $7"
    "    AND r.status = i.status AND r.attempts = i.attempts)";

/* Reminders not sent by rule (skipped, missed, expired, or waiting out
 * quiet hours): never over a final state, nor over a live claim of
 * another instance. */
static const char note_sql[] =
    "WITH i AS (SELECT DISTINCT ON (id) * FROM unnest($1::bigint[], $2::text[], $3::text[],"
    "    $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::integer[],"
    "    $10::text[], $11::bigint[], $13::bigint[], $14::text[], $15::text[]) WITH ORDINALITY"
    "    AS t(id, patient, channel, kind, due, event, expires, status, attempts, reason, at,"
    "    origin, template, body, n) ORDER BY id, n DESC),"
    " u AS (INSERT INTO reminder AS r (id, patient, channel, kind, due, event, expires, status,"
    "    attempts, reason, updated, owner, origin, template, body)"
    "  SELECT id, patient, channel, kind, due, event, expires, status, attempts, reason, at, $12,"
    "    origin, template, body"
    "  FROM i ORDER BY id"
    "  ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,"
    "    updated = excluded.updated, owner = excluded.owner"
    "  WHERE r.status IN ('inflight', 'retry') AND " CLAIMABLE("excluded.owner")
    "  RETURNING r.id)"
    " INSERT INTO outcome(id, at, status, attempt, reason, instance)"
    " SELECT i.id, i.at, i.status, i.attempts, i.reason, $12 FROM i JOIN u ON u.id = i.id";

static const char orphans_sql[] =
    "SELECT " PG_REC_COLS " FROM reminder r WHERE r.status IN ('inflight', 'retry') AND r.owner IS DISTINCT FROM $1"
    " AND " CLAIMABLE("$1") " ORDER BY due LIMIT 1000";

const struct pg_stmt_def pg_stmts[] = {
	{"claim", claim_sql},
	{"outcome", outcome_sql},
	{"note", note_sql},
	{"mark", "UPDATE instance SET mark = $1 WHERE name = $2 AND token = $3"},
	{"ovr_set", "INSERT INTO override(kind, patient, channel, source, at, origin, author, uid, "
	    "reason, until) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
	    "ON CONFLICT (kind, patient, channel) DO UPDATE SET source = excluded.source, at = excluded.at, "
	    "origin = excluded.origin, author = excluded.author, uid = excluded.uid, "
	    "reason = excluded.reason, until = excluded.until"},
	{"ovr_del", "DELETE FROM override WHERE kind = $1 AND patient = $2 AND channel = $3"},
	{"ovr_log", "INSERT INTO override_log(at, kind, patient, channel, on_, source, instance, origin, "
	    "author, uid, reason, until) VALUES($5, $1, $2, $3, $6, $4, $7, $8, $9, $10, $11, $12)"},
	{"inst_get", "SELECT token, host, pid, NOT stopped AND heartbeat > clock_timestamp() - lease, "
	    "extract(epoch FROM clock_timestamp() - heartbeat)::float8 FROM instance WHERE name = $1"},
	/* a start registers the instance: only over a row that is stopped, whose
	 * lease ran out, or whose token is the one just read (a restart after
	 * kill -9 on this host: the caller checked that pid is gone) */
	{"inst_put", "INSERT INTO instance AS x (name, token, host, pid, version, fingerprint, lease, "
	    "heartbeat, started, stopped, inflight) VALUES($1, $2, $3, $4, $5, $6, make_interval(secs => "
	    "$7::float8), clock_timestamp(), clock_timestamp(), false, 0) ON CONFLICT (name) DO UPDATE SET "
	    "token = excluded.token, host = excluded.host, pid = excluded.pid, version = excluded.version, "
	    "fingerprint = excluded.fingerprint, lease = excluded.lease, heartbeat = excluded.heartbeat, "
	    "started = excluded.started, stopped = false, inflight = 0 WHERE x.token IS NOT DISTINCT FROM $8 "
	    "OR x.stopped OR x.heartbeat <= clock_timestamp() - x.lease RETURNING x.mark"},
	{"mark_init", "UPDATE instance SET mark = $3 WHERE name = $1 AND token = $2 AND mark IS NULL"},
	{"ovr_list", "SELECT " PG_OVR_COLS " FROM override"},
	/* what this instance left open; also what a clean stop released (its
	 * own last run's, or another's): free to take at once, so a restart
	 * resumes its retries as SQLite's does rather than a lease later */
	{"pending", "SELECT " PG_REC_COLS " FROM reminder WHERE (owner = $1 OR owner IS NULL) AND "
	    "status IN ('inflight', 'retry')"},
	{"beat", "UPDATE instance SET heartbeat = clock_timestamp(), fingerprint = $3, inflight = "
	    "(SELECT count(*) FROM reminder WHERE owner = $1 AND status = 'inflight') "
	    "WHERE name = $1 AND token = $2 RETURNING 1"},
	{"inst_list", "SELECT name, host, fingerprint, extract(epoch FROM clock_timestamp() - heartbeat)"
	    "::float8, extract(epoch FROM started)::bigint, inflight, stopped, NOT stopped AND heartbeat > "
	    "clock_timestamp() - lease FROM instance ORDER BY name"},
	{"orphans", orphans_sql},
	{"size", "SELECT pg_database_size(current_database())"},
	{"counts", "SELECT channel, status, count(*) FROM reminder WHERE updated >= $1 "
	    "GROUP BY channel, status"},
	/* a clean stop: its claims are the others' to take at once */
	{"release", "UPDATE reminder SET owner = NULL WHERE owner = $1 AND status IN ('inflight', 'retry') "
	    "AND EXISTS (SELECT 1 FROM instance WHERE name = $1 AND token = $2)"},
	/* two-way SMS (SPEC 8): written in the batches of the inbound side */
	{"receipt", "UPDATE reminder SET receipt = $2, receipt_at = $3, receipt_reason = $4 WHERE id = $1"},
	{"respond", "UPDATE reminder SET response = $2 WHERE id = $1"},
	{"reply", "INSERT INTO reply(id, patient, channel, intent, at, reminder, event, answer, instance) "
	    "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"},
	{"cb_mark", "INSERT INTO callback(key, at) VALUES($1, $2) ON CONFLICT DO NOTHING"},
	{"cb_prune", "DELETE FROM callback WHERE at < $1"},
	/* retention (daemon.ledger_retention): a bounded step, the oldest
	 * first; the rows of the three kinds deleted */
	{"prune", "WITH r AS (DELETE FROM reminder WHERE ctid IN (SELECT ctid FROM reminder WHERE "
	    "updated < $1 AND status NOT IN ('inflight', 'retry') ORDER BY updated LIMIT $2) RETURNING id),"
	    " o AS (DELETE FROM outcome WHERE id IN (SELECT id FROM r) RETURNING 1),"
	    " y AS (DELETE FROM reply WHERE ctid IN (SELECT ctid FROM reply WHERE at < $1 ORDER BY at "
	    "LIMIT $2) RETURNING 1),"
	    " c AS (DELETE FROM callback WHERE key IN (SELECT key FROM callback WHERE at < $1 ORDER BY at "
	    "LIMIT $2) RETURNING 1)"
	    " SELECT (SELECT count(*) FROM r) + (SELECT count(*) FROM y) + (SELECT count(*) FROM c)"},
	/* what the loop reads before it acts on a callback (ledger_ops.fetch):
	 * reminders by id; each patient's latest sent reminder per channel
	 * and kind, latest as ledger_recent.c orders (updated, then due); the
	 * callback keys recorded */
	{"fetch_ids", "SELECT " PG_REC_COLS " FROM reminder WHERE id = ANY($1::bigint[])"},
	{"fetch_latest", "SELECT DISTINCT ON (patient, channel, kind) " PG_REC_COLS " FROM reminder "
	    "WHERE patient = ANY($1::text[]) AND status = 'sent' "
	    "ORDER BY patient, channel, kind, updated DESC, due DESC"},
	{"fetch_keys", "SELECT key FROM callback WHERE key = ANY($1::text[])"},
	{"stopped", "UPDATE instance SET stopped = true, inflight = 0, heartbeat = clock_timestamp() "
	    "WHERE name = $1 AND token = $2"},
};
const unsigned pg_nstmts = IOPD_NELEM(pg_stmts);
