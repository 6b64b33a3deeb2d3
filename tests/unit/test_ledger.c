/* test_ledger.c - the SQLite ledger's schemas 3 and 4: a version 2 ledger
 * with rows is migrated in place, keeping every row and telling where its
 * overrides came from; the operations of two-way SMS (receipts,
 * responses, replies, callback keys, the latest send, derived sends) and
 * of upkeep (who set an override, why and until when; prune; backup; the
 * read-only peek of `iopd agenda`, which makes no file) write and read
 * back through ledger.h; the agenda's statuses from a ledger, before and
 * after it reads the ledger's ids. */
#include "config.h"

#include <sqlite3.h>

#include "unit.h"

#include "agenda_ledger.h"
#include "ledger.h"
#include "snapshot.h"

/* Schema 2 as iopd 0.1 made it (ledger_sqlite.c, migrations 0 and 1). */
static const char schema_v2[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
    "CREATE TABLE outcome(id INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL,"
    "  attempt INTEGER NOT NULL, reason TEXT, gateway_id TEXT);"
    "CREATE INDEX outcome_id ON outcome(id);"
    "CREATE TABLE override(kind TEXT NOT NULL, patient TEXT NOT NULL, channel TEXT NOT NULL,"
    "  source TEXT, at INTEGER NOT NULL, PRIMARY KEY(kind, patient, channel)) WITHOUT ROWID;"
    "CREATE TABLE override_log(at INTEGER NOT NULL, kind TEXT NOT NULL, patient TEXT NOT NULL,"
    "  channel TEXT NOT NULL, on_ INTEGER NOT NULL, source TEXT);"
    "CREATE INDEX override_log_patient ON override_log(patient);"
    "CREATE TABLE reminder("
    "  id INTEGER NOT NULL UNIQUE,"
    "  patient TEXT NOT NULL, channel TEXT NOT NULL, kind TEXT NOT NULL,"
    "  due INTEGER NOT NULL, event INTEGER NOT NULL, expires INTEGER NOT NULL,"
    "  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    "  reason TEXT, gateway_id TEXT, updated INTEGER NOT NULL);"
    "CREATE INDEX reminder_patient ON reminder(patient, due);"
    "CREATE INDEX reminder_open ON reminder(status) WHERE status IN ('inflight', 'retry');"
    "CREATE INDEX reminder_updated ON reminder(updated);"
    "PRAGMA user_version = 2;";

static const char rows_v2[] =
    "INSERT INTO meta VALUES('mark', '1764608000');"
    "INSERT INTO reminder VALUES(1, 'p-1', 'sms', 'session', 1764608000, 1764611600, 1764611600,"
    "  'sent', 1, NULL, 'SM1', 1764608001);"
    "INSERT INTO reminder VALUES(2, 'p-1', 'sms', 'medication', 1764610000, 1764610000, 1764613600,"
    "  'sent', 1, NULL, 'SM2', 1764610001);"
    "INSERT INTO reminder VALUES(3, 'p-1', 'email', 'session', 1764608000, 1764611600, 1764611600,"
    "  'inflight', 2, NULL, NULL, 1764608002);"
    "INSERT INTO reminder VALUES(-5, 'p-2', 'sms', 'aftercare', 1764608000, 1764608000, 1764694400,"
    "  'failed', 1, 'twilio 21211: HTTP 400', NULL, 1764608003);"
    "INSERT INTO outcome VALUES(1, 1764608001, 'sent', 1, NULL, 'SM1');"
    "INSERT INTO outcome VALUES(-5, 1764608003, 'failed', 1, 'twilio 21211: HTTP 400', NULL);"
    "INSERT INTO override VALUES('opt-out', 'p-1', 'email', 'iopctl', 1764600000);"
    "INSERT INTO override VALUES('opt-out', 'p-2', 'sms', 'opted out at the gateway: twilio 21610', 1764600001);"
    "INSERT INTO override VALUES('pause', 'p-3', '', 'iopctl', 1764600002);"
    "INSERT INTO override_log VALUES(1764600000, 'opt-out', 'p-1', 'email', 1, 'iopctl');"
    "INSERT INTO override_log VALUES(1764600001, 'opt-out', 'p-2', 'sms', 1, "
    "  'opted out at the gateway: twilio 21610');";

static struct ledger *make_v2(char **dirp)
{
	char *path, err[512];
	sqlite3 *db;
	struct ledger *l;

	*dirp = unit_path(unit_dir, "state");
	assert_int_equal(mkdir(*dirp, 0700), 0);
	path = unit_path(*dirp, "ledger.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, schema_v2, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, rows_v2, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(path);
	l = ledger_sqlite_open(*dirp, err, sizeof err);
	if (!l)
		fail_msg("%s", err);
	return l;
}

static int user_version(const char *dir)
{
	char *path = unit_path(dir, "ledger.db");
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
	return v;
}

struct seen {
	int n;
	char what[16][96];
};

static void ovr_cb(const struct ledger_ovr *o, void *arg)
{
	struct seen *s = arg;

	snprintf(s->what[s->n++ % 16], sizeof s->what[0], "%s %s %s %s %d",
	    o->kind == OVR_PAUSE ? "pause" : "opt-out", o->patient, o->channel ? o->channel : "",
	    ovr_origin_names[o->origin], o->on);
}

static void rec_cb(const struct ledger_rec *r, void *arg)
{
	struct seen *s = arg;

	snprintf(s->what[s->n++ % 16], sizeof s->what[0], "%lld %s %s %s", (long long)r->id,
	    r->channel, rec_status_names[r->status], r->receipt ? r->receipt : "-");
}

static void reply_cb(const struct ledger_reply *r, void *arg)
{
	struct seen *s = arg;

	snprintf(s->what[s->n++ % 16], sizeof s->what[0], "reply %s %s %lld", r->intent, r->channel,
	    (long long)r->reminder);
}

static void test_migrate_v2(void **state)
{
	char *dir, buf[2048];
	struct ledger *l = make_v2(&dir);
	struct ledger_rec r;
	struct seen s;

	(void)state;
	assert_int_equal(user_version(dir), 4);
	assert_int_equal(l->ops->get_mark(l), 1764608000);
	/* every row, as it was, with nothing of schema 3 set */
	assert_int_equal(l->ops->lookup(l, 1, &r, buf, sizeof buf), 1);
	assert_string_equal(r.kind, "session");
	assert_int_equal(r.status, REC_SENT);
	assert_string_equal(r.gateway_id, "SM1");
	assert_int_equal(r.origin, 0);
	assert_null(r.receipt);
	assert_null(r.response);
	assert_null(r.tmpl);
	assert_int_equal(l->ops->lookup(l, (uint64_t)-5, &r, buf, sizeof buf), 1);
	assert_string_equal(r.reason, "twilio 21211: HTTP 400");
	memset(&s, 0, sizeof s);
	assert_int_equal(l->ops->pending(l, rec_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.what[0], "3 email inflight -");
	/* overrides: iopctl's are staff's, the gateway's are the gateway's */
	memset(&s, 0, sizeof s);
	assert_int_equal(l->ops->overrides(l, ovr_cb, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.what[0], "opt-out p-1 email staff 1");
	assert_string_equal(s.what[1], "opt-out p-2 sms gateway 1");
	assert_string_equal(s.what[2], "pause p-3  staff 1");
	memset(&s, 0, sizeof s);
	assert_int_equal(l->ops->history(l, "p-2", rec_cb, ovr_cb, reply_cb, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.what[0], "-5 sms failed -");
	assert_string_equal(s.what[1], "opt-out p-2 sms gateway 1");
	l->ops->close(l);
	/* opening it again migrates nothing */
	l = ledger_sqlite_open(dir, buf, sizeof buf);
	assert_non_null(l);
	assert_int_equal(user_version(dir), 4);
	l->ops->close(l);
	unit_rmtree(dir);
}

static void test_newer_refused(void **state)
{
	char *dir = unit_path(unit_dir, "state"), *path, err[512];
	sqlite3 *db;

	(void)state;
	assert_int_equal(mkdir(dir, 0700), 0);
	path = unit_path(dir, "ledger.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 5", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(ledger_sqlite_open(dir, err, sizeof err));
	assert_non_null(strstr(err, "schema version 5, newer than this iopd knows (4)"));
	free(path);
	unit_rmtree(dir);
}

static void test_twoway_ops(void **state)
{
	static const char *const phones[] = {"sms", NULL}, *const events[] = {"session", "appointment", NULL};
	static const char *const meds[] = {"medication", NULL};
	char *dir, buf[2048];
	struct ledger *l = make_v2(&dir);
	struct ledger_rec r, d;
	struct ledger_reply rp = {77, "p-1", "sms", "confirm", 1764609000, 1, 1764611600, 99};
	struct ledger_ovr o = {OVR_OPTOUT, "p-1", "sms", "reply STOP on sms", 1764609100, 1, OVR_REPLY};
	struct seen s;

	(void)state;
	/* a receipt, a response, a reply, a callback key: one batch */
	assert_int_equal(l->ops->begin(l), 0);
	assert_int_equal(l->ops->receipt(l, 1, "delivered", 1764608100, NULL), 0);
	assert_int_equal(l->ops->respond(l, 1, "confirm"), 0);
	assert_int_equal(l->ops->reply(l, &rp), 0);
	assert_int_equal(l->ops->reply(l, &rp), 0);         /* the same again: kept once */
	assert_int_equal(l->ops->callback_mark(l, "sms/SM1:delivered", 1764608100), 0);
	assert_int_equal(l->ops->set_override(l, &o), 0);
	/* a fallback, as the dispatcher makes it durable */
	memset(&d, 0, sizeof d);
	d.id = 1001;
	d.patient = "p-1";
	d.channel = "email";
	d.kind = "session";
	d.due = 1764608000;
	d.event = d.expires = 1764611600;
	d.status = REC_RETRY;
	d.reason = "queued: fallback of 0000000000000001";
	d.at = 1764608200;
	d.origin = 1;
	assert_int_equal(l->ops->note(l, &d), 0);
	/* an answer and a notice, claimed */
	d.id = 1002;
	d.channel = "sms";
	d.kind = "reply";
	d.origin = 77;
	d.tmpl = "confirmed";
	assert_int_equal(l->ops->claim(l, &d), CLAIM_OK);
	d.id = 1003;
	d.channel = "ehr";
	d.kind = "notice";
	d.tmpl = NULL;
	d.body = "{\"type\":\"reply\"}";
	assert_int_equal(l->ops->claim(l, &d), CLAIM_OK);
	assert_int_equal(l->ops->commit(l), 0);

	assert_int_equal(l->ops->lookup(l, 1, &r, buf, sizeof buf), 1);
	assert_string_equal(r.receipt, "delivered");
	assert_int_equal(r.receipt_at, 1764608100);
	assert_string_equal(r.response, "confirm");
	assert_int_equal(l->ops->lookup(l, 1001, &r, buf, sizeof buf), 1);
	assert_int_equal(r.origin, 1);
	assert_int_equal(r.status, REC_RETRY);
	assert_int_equal(l->ops->lookup(l, 1002, &r, buf, sizeof buf), 1);
	assert_string_equal(r.tmpl, "confirmed");
	assert_int_equal(r.origin, 77);
	assert_int_equal(l->ops->lookup(l, 1003, &r, buf, sizeof buf), 1);
	assert_string_equal(r.body, "{\"type\":\"reply\"}");
	/* the keys of callbacks taken, pruned by age */
	assert_int_equal(l->ops->callback_seen(l, "sms/SM1:delivered"), 1);
	assert_int_equal(l->ops->callback_seen(l, "sms/SM1:read"), 0);
	assert_int_equal(l->ops->begin(l), 0);
	assert_int_equal(l->ops->callback_prune(l, 1764608100), 0);
	assert_int_equal(l->ops->commit(l), 0);
	assert_int_equal(l->ops->callback_seen(l, "sms/SM1:delivered"), 1);
	assert_int_equal(l->ops->begin(l), 0);
	assert_int_equal(l->ops->callback_prune(l, 1764608101), 0);
	assert_int_equal(l->ops->commit(l), 0);
	assert_int_equal(l->ops->callback_seen(l, "sms/SM1:delivered"), 0);
	/* the latest send to a phone, by channel, kind and age */
	assert_int_equal(l->ops->latest_sent(l, "p-1", phones, events, 0, &r, buf, sizeof buf), 1);
	assert_int_equal(r.id, 1);
	assert_int_equal(r.event, 1764611600);
	assert_int_equal(l->ops->latest_sent(l, "p-1", phones, meds, 0, &r, buf, sizeof buf), 1);
	assert_int_equal(r.id, 2);
	assert_int_equal(l->ops->latest_sent(l, "p-1", phones, meds, 1764610002, &r, buf, sizeof buf), 0);
	assert_int_equal(l->ops->latest_sent(l, "p-2", phones, events, 0, &r, buf, sizeof buf), 0);
	/* history: outcomes with their receipt, overrides with their origin, replies */
	memset(&s, 0, sizeof s);
	assert_int_equal(l->ops->history(l, "p-1", rec_cb, ovr_cb, reply_cb, &s), 0);
	assert_string_equal(s.what[0], "1 sms sent delivered");
	assert_string_equal(s.what[s.n - 3], "opt-out p-1 email staff 1");
	assert_string_equal(s.what[s.n - 2], "opt-out p-1 sms reply 1");
	assert_string_equal(s.what[s.n - 1], "reply confirm sms 1");
	l->ops->close(l);
	unit_rmtree(dir);
}

/* ---- claims ------------------------------------------------------------ */

/* A first claim makes the row at attempt 1; a claim of a reminder in
 * flight or waiting for a retry counts one more attempt; a final one is
 * left alone (CLAIM_FINAL, its attempts and status untouched). */
static void test_claim_attempts(void **state)
{
	char *dir, buf[2048];
	struct ledger *l = make_v2(&dir);
	struct ledger_rec r, got;

	(void)state;
	memset(&r, 0, sizeof r);
	r.id = 4242;
	r.patient = "p-9";
	r.channel = "sms";
	r.kind = "session";
	r.due = 1764608000;
	r.event = r.expires = 1764611600;
	r.at = 1764608000;
	r.attempts = 7;                    /* the claim says how many there were */
	assert_int_equal(l->ops->begin(l), 0);
	assert_int_equal(l->ops->claim(l, &r), CLAIM_OK);
	assert_int_equal(r.attempts, 1);
	r.at++;
	assert_int_equal(l->ops->claim(l, &r), CLAIM_OK);          /* still in flight: a restart */
	assert_int_equal(r.attempts, 2);
	r.status = REC_RETRY;
	r.reason = "HTTP 503";
	r.at++;
	assert_int_equal(l->ops->record(l, &r), 0);
	r.at++;
	assert_int_equal(l->ops->claim(l, &r), CLAIM_OK);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(l->ops->commit(l), 0);
	assert_int_equal(l->ops->lookup(l, 4242, &got, buf, sizeof buf), 1);
	assert_int_equal(got.status, REC_INFLIGHT);
	assert_int_equal(got.attempts, 3);
	assert_int_equal(got.at, 1764608003);
	/* sent: final */
	assert_int_equal(l->ops->begin(l), 0);
	r.status = REC_SENT;
	r.reason = NULL;
	r.gateway_id = "SM9";
	r.at++;
	assert_int_equal(l->ops->record(l, &r), 0);
	r.at++;
	assert_int_equal(l->ops->claim(l, &r), CLAIM_FINAL);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(l->ops->commit(l), 0);
	assert_int_equal(l->ops->lookup(l, 4242, &got, buf, sizeof buf), 1);
	assert_int_equal(got.status, REC_SENT);
	assert_int_equal(got.attempts, 3);
	assert_int_equal(got.at, 1764608004);
	/* a row that migrated as final (schema 2's reminder 1, sent) */
	assert_int_equal(l->ops->begin(l), 0);
	r.id = 1;
	assert_int_equal(l->ops->claim(l, &r), CLAIM_FINAL);
	assert_int_equal(l->ops->commit(l), 0);
	l->ops->close(l);
	unit_rmtree(dir);
}

/* ---- schema 4: who, why, until -------------------------------------------- */

struct ovr_seen {
	int n;
	char what[8][160];
};

static void ovr_full(const struct ledger_ovr *o, void *arg)
{
	struct ovr_seen *s = arg;

	snprintf(s->what[s->n++ % 8], sizeof s->what[0], "%s %s %s %ld %s %lld %d",
	    o->patient, o->source ? o->source : "-", o->author ? o->author : "-", o->uid,
	    o->reason ? o->reason : "-", (long long)o->until, o->on);
}

static void test_override_author(void **state)
{
	char *dir, err[512];
	struct ledger *l;
	struct ledger_ovr a = {OVR_PAUSE, "p-1", NULL, "iopctl", 1764600000, 1, OVR_STAFF,
		"alice", 1000, "in hospital", 1764700000};
	struct ledger_ovr b = {OVR_OPTOUT, "p-2", "sms", "reply STOP on sms", 1764600001, 1, OVR_REPLY,
		NULL, 7, NULL, 0};         /* no author: the uid means nothing */
	struct ledger_ovr c = {OVR_PAUSE, "p-1", NULL, "pause ended", 1764700000, 0, OVR_STAFF,
		"iopd", -1, NULL, 0};
	struct ovr_seen seen;

	(void)state;
	dir = unit_path(unit_dir, "state");
	l = ledger_sqlite_open(dir, err, sizeof err);
	assert_non_null(l);
	assert_int_equal(l->ops->begin(l), 0);
	assert_int_equal(l->ops->set_override(l, &a), 0);
	assert_int_equal(l->ops->set_override(l, &b), 0);
	assert_int_equal(l->ops->commit(l), 0);
	memset(&seen, 0, sizeof seen);
	assert_int_equal(l->ops->overrides(l, ovr_full, &seen), 0);
	assert_int_equal(seen.n, 2);                /* by kind: opt-outs, then pauses */
	assert_string_equal(seen.what[0], "p-2 reply STOP on sms - -1 - 0 1");
	assert_string_equal(seen.what[1], "p-1 iopctl alice 1000 in hospital 1764700000 1");
	/* lifted by iopd at its end: gone from the overrides, both in the log */
	assert_int_equal(l->ops->begin(l), 0);
	assert_int_equal(l->ops->set_override(l, &c), 0);
	assert_int_equal(l->ops->commit(l), 0);
	memset(&seen, 0, sizeof seen);
	assert_int_equal(l->ops->overrides(l, ovr_full, &seen), 0);
	assert_int_equal(seen.n, 1);
	memset(&seen, 0, sizeof seen);
	assert_int_equal(l->ops->history(l, "p-1", rec_cb, ovr_full, reply_cb, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.what[0], "p-1 iopctl alice 1000 in hospital 1764700000 1");
	assert_string_equal(seen.what[1], "p-1 pause ended iopd -1 - 0 0");
	l->ops->close(l);
	free(dir);
}

/* ---- prune ---------------------------------------------------------------------- */

static void put_rec(struct ledger *l, uint64_t id, const char *status, int64_t at)
{
	struct ledger_rec r;

	memset(&r, 0, sizeof r);
	r.id = id;
	r.patient = "p-1";
	r.channel = "sms";
	r.kind = "medication";
	r.due = r.event = at;
	r.expires = at + 3600;
	r.status = rec_status_parse(status);
	r.attempts = 1;
	r.at = at;
	if (r.status == REC_INFLIGHT)
		assert_int_equal(l->ops->claim(l, &r), CLAIM_OK);
	else
		assert_int_equal(l->ops->record(l, &r), 0);
}

static long count(const char *dir, const char *sql)
{
	char *path = unit_path(dir, "ledger.db");
	sqlite3 *db;
	sqlite3_stmt *st;
	long v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
	return v;
}

static void test_prune(void **state)
{
	char *dir = unit_path(unit_dir, "state"), err[512];
	struct ledger *l = ledger_sqlite_open(dir, err, sizeof err);
	struct ledger_reply rp = {9, "p-1", "sms", "stop", 1000, 0, 0, 0};
	struct ledger_ovr o = {OVR_OPTOUT, "p-1", "sms", "reply STOP on sms", 1000, 1, OVR_REPLY};
	uint64_t id;
	long n, total = 0;

	(void)state;
	assert_non_null(l);
	assert_int_equal(l->ops->begin(l), 0);
	for (id = 1; id <= 25; id++)               /* old and settled: go */
		put_rec(l, id, id % 2 ? "sent" : "skipped", 1000 + (int64_t)id);
	put_rec(l, 100, "retry", 1000);            /* old but open: stays */
	put_rec(l, 101, "inflight", 1000);
	put_rec(l, 102, "sent", 5000);             /* recent: stays */
	assert_int_equal(l->ops->reply(l, &rp), 0);
	rp.id = 10;
	rp.at = 6000;
	assert_int_equal(l->ops->reply(l, &rp), 0);
	assert_int_equal(l->ops->callback_mark(l, "sms/SM1:delivered", 1000), 0);
	assert_int_equal(l->ops->callback_mark(l, "sms/SM2:delivered", 6000), 0);
	assert_int_equal(l->ops->set_override(l, &o), 0);
	assert_int_equal(l->ops->commit(l), 0);
	assert_int_equal(count(dir, "SELECT count(*) FROM outcome"), 27);   /* the claim has none */
	/* steps of at most 10 reminders, 10 replies, 10 keys */
	do {
		assert_int_equal(l->ops->begin(l), 0);
		n = l->ops->prune(l, 4000, 10);
		assert_int_equal(l->ops->commit(l), 0);
		assert_true(n >= 0 && n <= 30);
		total += n;
	} while (n > 0);
	assert_int_equal(total, 25 + 1 + 1);
	assert_int_equal(count(dir, "SELECT count(*) FROM reminder"), 3);
	assert_int_equal(count(dir, "SELECT count(*) FROM outcome"), 2);
	assert_int_equal(count(dir, "SELECT count(*) FROM reply"), 1);
	assert_int_equal(count(dir, "SELECT count(*) FROM callback"), 1);
	assert_int_equal(count(dir, "SELECT count(*) FROM override"), 1);
	assert_int_equal(count(dir, "SELECT count(*) FROM override_log"), 1);
	l->ops->close(l);
	free(dir);
}

/* ---- backup and peek ---------------------------------------------------------------- */

static int file_there(const char *dir, const char *name)
{
	char *p = unit_path(dir, name);
	int r = access(p, F_OK) == 0;

	free(p);
	return r;
}

static void test_backup(void **state)
{
	char *dir = unit_path(unit_dir, "state"), *copy = unit_path(unit_dir, "copy.db"), err[512];
	struct ledger *l = ledger_sqlite_open(dir, err, sizeof err), *b;
	struct ledger_rec r;
	char buf[1024];
	int64_t bytes = 0;
	int fd;

	(void)state;
	assert_non_null(l);
	assert_int_equal(l->ops->begin(l), 0);
	put_rec(l, 42, "sent", 1000);
	assert_int_equal(l->ops->commit(l), 0);
	fd = open(copy, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(l->ops->backup(l, copy, &bytes, err, sizeof err), 0);
	assert_true(bytes > 0);
	/* the copy: a ledger of its own, with the same identity and rows */
	{
		char *rdir = unit_path(unit_dir, "restored"), *dst = unit_path(rdir, "ledger.db");
		assert_int_equal(mkdir(rdir, 0700), 0);
		assert_int_equal(rename(copy, dst), 0);
		b = ledger_sqlite_open(rdir, err, sizeof err);
		assert_non_null(b);
		assert_string_equal(b->ops->identity(b), l->ops->identity(l));
		assert_int_equal(b->ops->lookup(b, 42, &r, buf, sizeof buf), 1);
		assert_int_equal(r.status, REC_SENT);
		b->ops->close(b);
		free(dst);
		free(rdir);
	}
	l->ops->close(l);
	free(copy);
	free(dir);
}

/* Every id, in SQL's (signed) order; past `max`, nothing. */
static void test_ids(void **state)
{
	char *dir;
	struct ledger *l = make_v2(&dir);
	int64_t *ids;
	size_t n;

	(void)state;
	assert_int_equal(l->ops->ids(l, 4, &ids, &n), 0);
	assert_int_equal(n, 4);
	assert_true(ids[0] == -5 && ids[1] == 1 && ids[2] == 2 && ids[3] == 3);
	free(ids);
	assert_int_equal(l->ops->ids(l, 3, &ids, &n), 1);
	assert_null(ids);
	assert_int_equal(n, 0);
	l->ops->close(l);
	free(dir);
}

/* The agenda's statuses from the ledger: the same before and after the
 * ledger's ids are read (past the first lookups), for rows the ledger has
 * (one with the top bit set) and rows it has not. */
static void test_agenda_status(void **state)
{
	struct patient pat = {.id = "p-1"};
	struct channel chan = {.name = "sms"};
	struct snapshot snap = {.channels = &chan};
	struct occ o = {.patient = &pat, .due = 1764608000};
	struct agenda_row row = {.o = &o, .status = STATUS_SCHEDULED};
	struct agenda_live live;
	struct agenda_ledger *al;
	char *dir, err[256], buf[64];
	struct ledger *l = make_v2(&dir);
	int i;

	(void)state;
	assert_non_null(al = agenda_ledger_new(l, false, err, sizeof err));
	for (i = 0; i < 2 * 4096; i++) {     /* across the switch to the ids */
		const char *st;

		row.id = 1000 + (uint64_t)i;
		assert_null(agenda_ledger_status(&snap, &row, buf, sizeof buf, &live, al));
		row.id = 2;
		assert_non_null(st = agenda_ledger_status(&snap, &row, buf, sizeof buf, &live, al));
		assert_string_equal(st, "sent");
		row.id = (uint64_t)-5;
		assert_non_null(st = agenda_ledger_status(&snap, &row, buf, sizeof buf, &live, al));
		assert_string_equal(st, "failed");
	}
	agenda_ledger_free(al);
	l->ops->close(l);
	free(dir);
}

static void test_peek(void **state)
{
	char *dir = unit_path(unit_dir, "state"), *none = unit_path(unit_dir, "none"), err[512], buf[1024];
	char *wal = unit_path(dir, "ledger.db-wal"), *db_path = unit_path(dir, "ledger.db");
	struct ledger_ovr o = {OVR_PAUSE, "p-1", NULL, "iopctl", 1000, 1, OVR_STAFF, "alice", 1000, NULL, 0};
	struct ledger *l, *p;
	struct ledger_rec r;
	struct seen s;
	sqlite3 *db;

	(void)state;
	/* no state folder, or no ledger in it: nothing, and nothing made */
	assert_int_equal(ledger_sqlite_peek(none, &p, err, sizeof err), 0);
	assert_int_equal(access(none, F_OK), -1);
	assert_int_equal(mkdir(none, 0700), 0);
	assert_int_equal(ledger_sqlite_peek(none, &p, err, sizeof err), 0);
	assert_false(file_there(none, "ledger.db"));
	/* beside a writer: through its -wal and -shm */
	l = ledger_sqlite_open(dir, err, sizeof err);
	assert_non_null(l);
	assert_int_equal(l->ops->begin(l), 0);
	put_rec(l, 7, "sent", 1000);
	assert_int_equal(l->ops->set_override(l, &o), 0);
	assert_int_equal(l->ops->commit(l), 0);
	assert_true(file_there(dir, "ledger.db-wal") && file_there(dir, "ledger.db-shm"));
	assert_int_equal(ledger_sqlite_peek(dir, &p, err, sizeof err), 1);
	memset(&s, 0, sizeof s);
	assert_int_equal(p->ops->overrides(p, ovr_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(p->ops->lookup(p, 7, &r, buf, sizeof buf), 1);
	/* the writer goes on beside it, and the reader sees the new rows */
	assert_int_equal(l->ops->begin(l), 0);
	put_rec(l, 8, "sent", 1001);
	assert_int_equal(l->ops->commit(l), 0);
	assert_int_equal(p->ops->lookup(p, 8, &r, buf, sizeof buf), 1);
	p->ops->close(p);
	/* the writer stopped: the file alone, and no -wal or -shm made */
	l->ops->close(l);
	assert_false(file_there(dir, "ledger.db-wal") || file_there(dir, "ledger.db-shm"));
	assert_int_equal(ledger_sqlite_peek(dir, &p, err, sizeof err), 1);
	assert_int_equal(p->ops->lookup(p, 8, &r, buf, sizeof buf), 1);
	assert_int_equal(r.status, REC_SENT);
	p->ops->close(p);
	assert_false(file_there(dir, "ledger.db-wal") || file_there(dir, "ledger.db-shm"));
	/* a -wal without its -shm: not read (SQLite would make the -shm) */
	assert_int_equal(close(open(wal, O_WRONLY | O_CREAT, 0600)), 0);
	assert_int_equal(ledger_sqlite_peek(dir, &p, err, sizeof err), -1);
	assert_non_null(strstr(err, "ledger.db-wal is there without"));
	assert_false(file_there(dir, "ledger.db-shm"));
	assert_int_equal(unlink(wal), 0);
	/* an older schema (the daemon migrates it at its start): said, not read */
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_false(file_there(dir, "ledger.db-wal") || file_there(dir, "ledger.db-shm"));
	assert_int_equal(ledger_sqlite_peek(dir, &p, err, sizeof err), -1);
	assert_non_null(strstr(err, "schema version 3, this iopd reads 4"));
	free(wal);
	free(db_path);
	free(dir);
	free(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_v2, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_newer_refused, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_twoway_ops, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_claim_attempts, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_override_author, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_prune, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_backup, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_peek, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_ids, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_agenda_status, unit_setup, unit_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
