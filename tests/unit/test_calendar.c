/* test_calendar.c - daemon/calendar.c and the agenda walk: what gets
 * scheduled (SPEC 4) and in which order (SPEC 5), end to end from a
 * configuration text through conf_load(CONF_CALENDAR).
 *
 * Each scenario lists its reminders as text lines,
 *     DUE PATIENT KIND CHANNEL LEAD ev=EVENT STATUS TEMPLATE
 * (instants in UTC; LEAD "-" when there is none), worked out by hand from
 * the SPEC; they are compared as sets, the order being checked on its own
 * (test_agenda_order).  Every scenario's snapshot also goes through
 * check_streams: cal_seek against a brute-force walk of each stream, and
 * agenda windows against the whole agenda. */
#include "config.h"

#include "unit.h"

#include "agenda.h"
#include "calendar.h"
#include "ident.h"

/* ---- rows as text ------------------------------------------------------------ */

struct row {
	char text[256];
	int64_t due;
	uint32_t rank;
	uint16_t chrank;
	uint64_t id;
};

struct rows {
	struct row *v;
	size_t n, cap;
};

static uint16_t chrank_of(const struct snapshot *s, uint16_t ch)
{
	uint16_t i;

	for (i = 0; i < s->nchannels; i++)
		if (s->channel_order[i] == ch)
			return i;
	fail();
	return 0;
}

static int add_row(const struct snapshot *s, const struct agenda_row *r, void *arg)
{
	struct rows *rs = arg;
	struct row *x;
	char due[FMT_UTC_LEN + 1], ev[FMT_UTC_LEN + 1];

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 64;
		rs->v = realloc(rs->v, rs->cap * sizeof *rs->v);
		assert_non_null(rs->v);
	}
	x = &rs->v[rs->n++];
	fmt_utc(r->o->due, due);
	fmt_utc(r->o->event, ev);
	snprintf(x->text, sizeof x->text, "%s %s %s %s %s ev=%s %s %s", due, r->o->patient->id,
	    kind_names[r->o->kind], s->channels[r->ch].name, *r->o->lead ? r->o->lead : "-", ev,
	    status_names[r->status], r->o->tmpl >= 0 ? s->templates[r->o->tmpl].name : "(none)");
	x->due = r->o->due;
	x->rank = r->o->patient->rank;
	x->chrank = chrank_of(s, r->ch);
	x->id = r->id;
	/* the row's id is the calendar's id of that reminder */
	assert_true(x->id == cal_id(s, r->o, r->ch));
	return 0;
}

static struct rows walk(const struct snapshot *s, const char *from, const char *to, const char *pid)
{
	struct rows rs = {0};
	int64_t p = -1;

	if (pid) {
		p = snapshot_patient(s, pid);
		assert_true(p >= 0);
	}
	agenda_walk(s, unit_t(from), unit_t(to), p, add_row, &rs);
	return rs;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The rows of [from, to) (of one patient, or all) are exactly `want`. */
static void expect_rows(const struct snapshot *s, const char *from, const char *to, const char *pid,
    const char *const *want, size_t n)
{
	struct rows rs = walk(s, from, to, pid);
	const char **got = calloc(rs.n + 1, sizeof *got), **exp = calloc(n + 1, sizeof *exp);
	size_t i, j;
	int bad = rs.n != n;

	assert_non_null(got);
	assert_non_null(exp);
	for (i = 0; i < rs.n; i++)
		got[i] = rs.v[i].text;
	memcpy(exp, want, n * sizeof *want);
	qsort(got, rs.n, sizeof *got, cmp_str);
	qsort(exp, n, sizeof *exp, cmp_str);
	for (i = 0, j = 0; i < rs.n || j < n; ) {
		int c = i == rs.n ? 1 : j == n ? -1 : strcmp(got[i], exp[j]);
		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			print_error("unexpected: %s\n", got[i++]);
			bad = 1;
		} else {
			print_error("missing:    %s\n", exp[j++]);
			bad = 1;
		}
	}
	if (bad) {
		print_error("all %zu rows (expected %zu):\n", rs.n, n);
		for (i = 0; i < rs.n; i++)
			print_error("  %s\n", rs.v[i].text);
		fail();
	}
	free(got);
	free(exp);
	free(rs.v);
}

#define EXPECT(s, from, to, pid, ...) do { \
	static const char *const want_[] = {__VA_ARGS__}; \
	expect_rows(s, from, to, pid, want_, sizeof want_ / sizeof want_[0]); \
} while (0)

/* ---- streams against brute force ---------------------------------------------- */

#define T_BEGIN "2020-01-01T00:00:00Z"
#define T_END "2032-01-01T00:00:00Z"
#define MAX_OCC 20000

struct occpos {
	int64_t due, event;
	int32_t pos;
	uint16_t sub;
};

static bool same_pos(const struct stream *st, const struct occpos *o)
{
	return st->due == o->due && st->event == o->event && st->pos == o->pos && st->sub == o->sub;
}

/* For one stream: the whole sequence from the beginning, then cal_seek
 * from many instants must land on the first group with due >= t. */
static void check_stream(const struct snapshot *s, const struct stream *proto)
{
	struct occpos *seq = malloc(MAX_OCC * sizeof *seq);
	struct stream st = *proto;
	size_t n = 0, i, k;
	int64_t probes[8];

	assert_non_null(seq);
	for (cal_seek(s, &st, unit_t(T_BEGIN)); st.due != CAL_END; cal_next(s, &st)) {
		assert_true(n < MAX_OCC);
		if (n)
			assert_true(st.due >= seq[n - 1].due);      /* dues never go backwards */
		seq[n].due = st.due;
		seq[n].event = st.event;
		seq[n].pos = st.pos;
		seq[n].sub = st.sub;
		n++;
	}
	cal_next(s, &st);                                      /* stays at the end */
	assert_true(st.due == CAL_END);
	for (i = 0; i <= n; i++) {
		int64_t base = i < n ? seq[i].due : unit_t(T_END);
		size_t np = 0;
		probes[np++] = base;
		probes[np++] = base - 1;
		probes[np++] = base + 1;
		probes[np++] = base - 3600;
		probes[np++] = base - 86400 - 1800;
		probes[np++] = base - 7 * 86400;
		probes[np++] = i ? (seq[i - 1].due + base) / 2 : unit_t(T_BEGIN);
		probes[np++] = base + 43200;
		for (k = 0; k < np; k++) {
			int64_t t = probes[k];
			size_t want = 0;
			struct stream fresh = *proto;
			while (want < n && seq[want].due < t)
				want++;
			cal_seek(s, &fresh, t);
			if (want == n) {
				if (fresh.due != CAL_END)
					fail_msg("seek to %lld: found %lld past the end", (long long)t, (long long)fresh.due);
				continue;
			}
			if (!same_pos(&fresh, &seq[want]))
				fail_msg("stream kind %d of patient %u: seek to %lld landed on due %lld pos %d sub %u, "
				    "expected due %lld pos %d sub %u", proto->kind, proto->patient, (long long)t,
				    (long long)fresh.due, fresh.pos, fresh.sub, (long long)seq[want].due,
				    seq[want].pos, seq[want].sub);
			/* and goes on from there as the walk did */
			cal_next(s, &fresh);
			if (want + 1 < n)
				assert_true(same_pos(&fresh, &seq[want + 1]));
			else
				assert_true(fresh.due == CAL_END);
		}
	}
	free(seq);
}

/* Every stream of every patient; then agenda windows against the whole. */
static void check_streams(const struct snapshot *s)
{
	static const char *const cuts[] = {
		"2026-03-07T00:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z", "2026-06-01T00:00:00Z",
		"2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-30T00:00:00Z", "2026-12-01T07:00:00Z",
		"2026-12-01T08:00:00Z", "2026-12-02T16:00:00Z", "2027-01-01T00:00:00Z", "2027-06-01T00:00:00Z",
	};
	struct rows all = {0};
	uint32_t p;
	size_t a, b;

	for (p = 0; p < s->npatients; p++) {
		uint32_t n = cal_streams(s, p, NULL), i;
		struct stream *st = calloc(n + 1, sizeof *st);
		assert_non_null(st);
		assert_int_equal(cal_streams(s, p, st), n);
		for (i = 0; i < n; i++)
			check_stream(s, &st[i]);
		free(st);
	}
	agenda_walk(s, unit_t(T_BEGIN), unit_t(T_END), -1, add_row, &all);
	for (a = 0; a < sizeof cuts / sizeof cuts[0]; a++)
		for (b = a; b < sizeof cuts / sizeof cuts[0]; b++) {
			struct rows w = {0};
			int64_t from = unit_t(cuts[a]), to = unit_t(cuts[b]);
			size_t i, j = 0;
			agenda_walk(s, from, to, -1, add_row, &w);
			for (i = 0; i < all.n; i++) {
				if (all.v[i].due < from || all.v[i].due >= to)
					continue;
				if (j >= w.n || strcmp(all.v[i].text, w.v[j].text) || all.v[i].id != w.v[j].id)
					fail_msg("window [%s, %s): row %zu differs from the whole agenda's %s", cuts[a],
					    cuts[b], j, all.v[i].text);
				j++;
			}
			assert_int_equal(j, w.n);
			free(w.v);
		}
	free(all.v);
}

static struct snapshot *load(const char *text)
{
	struct snapshot *s = unit_load_ok(unit_dir, text);

	check_streams(s);
	return s;
}

/* ---- sessions ---------------------------------------------------------------- */

static void test_sessions_days_closures_enrollment(void **state)
{
	struct snapshot *s = load(
	    "daemon = { quiet_hours = { from = \"00:00\"; to = \"00:00\"; }; };\n"
	    "channels = ( { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { session = { sms = \"x\"; }; };\n"
	    "closures = [ \"2026-12-03\" ];\n"
	    "programs = ( { id = \"iop\"; weeks = 2; closures = [ \"2026-12-07\" ];\n"
	    "    sessions = ( { id = \"g\"; days = [ \"mon\", \"wed\", \"thu\" ]; start = \"18:00\"; } );\n"
	    "    reminders = ( { before = \"2h\"; channels = [ \"term\" ]; } ); },\n"
	    "  { id = \"other\"; closures = [ \"2026-12-02\" ]; } );\n"
	    "patients = (\n"
	    "  { id = \"a\"; program = \"iop\"; start = \"2026-11-30\"; discharge = \"2026-12-10\";\n"
	    "    absences = [ \"2026-12-09\" ]; },\n"
	    "  { id = \"b\"; program = \"iop\"; start = \"2026-12-01\"; } );\n");

	(void)state;
	/* a: Mon 11-30, Wed 12-02, [Thu 12-03 closed], [Mon 12-07 program
	 * closure], [Wed 12-09 absent], Thu 12-10 = discharge, included.
	 * b: start Tue 12-01, end 12-01 + 7*2 - 1 = Mon 12-14, included. */
	EXPECT(s, "2026-11-01", "2027-03-01", NULL,
	    "2026-11-30T16:00:00Z a session term 2h ev=2026-11-30T18:00:00Z scheduled session",
	    "2026-12-02T16:00:00Z a session term 2h ev=2026-12-02T18:00:00Z scheduled session",
	    "2026-12-10T16:00:00Z a session term 2h ev=2026-12-10T18:00:00Z scheduled session",
	    "2026-12-02T16:00:00Z b session term 2h ev=2026-12-02T18:00:00Z scheduled session",
	    "2026-12-09T16:00:00Z b session term 2h ev=2026-12-09T18:00:00Z scheduled session",
	    "2026-12-10T16:00:00Z b session term 2h ev=2026-12-10T18:00:00Z scheduled session",
	    "2026-12-14T16:00:00Z b session term 2h ev=2026-12-14T18:00:00Z scheduled session");
	/* the window is [from, to) on due */
	EXPECT(s, "2026-12-02T16:00:00Z", "2026-12-10T16:00:00Z", NULL,
	    "2026-12-02T16:00:00Z a session term 2h ev=2026-12-02T18:00:00Z scheduled session",
	    "2026-12-02T16:00:00Z b session term 2h ev=2026-12-02T18:00:00Z scheduled session",
	    "2026-12-09T16:00:00Z b session term 2h ev=2026-12-09T18:00:00Z scheduled session");
	/* one patient */
	EXPECT(s, "2026-11-01", "2027-03-01", "a",
	    "2026-11-30T16:00:00Z a session term 2h ev=2026-11-30T18:00:00Z scheduled session",
	    "2026-12-02T16:00:00Z a session term 2h ev=2026-12-02T18:00:00Z scheduled session",
	    "2026-12-10T16:00:00Z a session term 2h ev=2026-12-10T18:00:00Z scheduled session");
	snapshot_unref(s);
}

/* `before` with calendar units across both DST changes of 2026 in New
 * York, and session times inside the gap and the overlap (SPEC 3.1, 3.2,
 * 4). */
static void test_before_across_dst(void **state)
{
	struct snapshot *s = load(
	    "daemon = { timezone = \"America/New_York\"; quiet_hours = { from = \"00:00\"; to = \"00:00\"; }; };\n"
	    "channels = ( { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { session = { sms = \"x\"; }; };\n"
	    "programs = ( { id = \"p\"; sessions = (\n"
	    "  { id = \"sun18\"; days = [ \"sun\" ]; start = \"18:00\"; reminders = (\n"
	    "    { before = \"1d\"; channels = [ \"term\" ]; }, { before = \"24h\"; channels = [ \"term\" ]; },\n"
	    "    { before = \"1d2h\"; channels = [ \"term\" ]; } ); },\n"
	    "  { id = \"sun0230\"; days = [ \"sun\" ]; start = \"02:30\"; reminders = (\n"
	    "    { before = \"1h\"; channels = [ \"term\" ]; }, { before = \"1d\"; channels = [ \"term\" ]; } ); },\n"
	    "  { id = \"mon0230\"; days = [ \"mon\" ]; start = \"02:30\"; reminders = (\n"
	    "    { before = \"1d\"; channels = [ \"term\" ]; } ); },\n"
	    "  { id = \"sun0130\"; days = [ \"sun\" ]; start = \"01:30\"; reminders = (\n"
	    "    { before = \"1d\"; channels = [ \"term\" ]; }, { before = \"30m\"; channels = [ \"term\" ]; } ); }\n"
	    "); } );\n"
	    "patients = ( { id = \"spring\"; program = \"p\"; start = \"2026-03-07\"; discharge = \"2026-03-09\"; },\n"
	    "  { id = \"fall\"; program = \"p\"; start = \"2026-10-31\"; discharge = \"2026-11-01\"; } );\n");

	(void)state;
	EXPECT(s, "2026-01-01", "2027-01-01", "spring",
	    /* Sun 03-08 18:00 EDT = 22:00Z: one calendar day back is Sat 18:00
	     * EST = 23:00Z (23 hours); 24h is exact; 1d2h = 1d then 2h */
	    "2026-03-07T23:00:00Z spring session term 1d ev=2026-03-08T22:00:00Z scheduled session",
	    "2026-03-07T22:00:00Z spring session term 24h ev=2026-03-08T22:00:00Z scheduled session",
	    "2026-03-07T21:00:00Z spring session term 1d2h ev=2026-03-08T22:00:00Z scheduled session",
	    /* 02:30 on spring-forward night does not exist: 03:30 EDT = 07:30Z;
	     * one day back counts from that actual wall time, 03:30: Sat 03:30
	     * EST = 08:30Z */
	    "2026-03-08T06:30:00Z spring session term 1h ev=2026-03-08T07:30:00Z scheduled session",
	    "2026-03-07T08:30:00Z spring session term 1d ev=2026-03-08T07:30:00Z scheduled session",
	    /* Mon 02:30 EDT = 06:30Z; one day back lands in the gap, read
	     * again by 3.2: 03:30 EDT = 07:30Z */
	    "2026-03-08T07:30:00Z spring session term 1d ev=2026-03-09T06:30:00Z scheduled session",
	    /* 01:30 EST, before the change */
	    "2026-03-07T06:30:00Z spring session term 1d ev=2026-03-08T06:30:00Z scheduled session",
	    "2026-03-08T06:00:00Z spring session term 30m ev=2026-03-08T06:30:00Z scheduled session");
	EXPECT(s, "2026-01-01", "2027-01-01", "fall",
	    /* Sun 11-01 18:00 EST = 23:00Z: one day back is Sat 18:00 EDT =
	     * 22:00Z (25 hours) */
	    "2026-10-31T22:00:00Z fall session term 1d ev=2026-11-01T23:00:00Z scheduled session",
	    "2026-10-31T23:00:00Z fall session term 24h ev=2026-11-01T23:00:00Z scheduled session",
	    "2026-10-31T20:00:00Z fall session term 1d2h ev=2026-11-01T23:00:00Z scheduled session",
	    /* 02:30 EST = 07:30Z; 1h exact = 06:30Z (the second 01:30) */
	    "2026-11-01T06:30:00Z fall session term 1h ev=2026-11-01T07:30:00Z scheduled session",
	    "2026-10-31T06:30:00Z fall session term 1d ev=2026-11-01T07:30:00Z scheduled session",
	    /* 01:30 occurs twice: the first, EDT = 05:30Z */
	    "2026-10-31T05:30:00Z fall session term 1d ev=2026-11-01T05:30:00Z scheduled session",
	    "2026-11-01T05:00:00Z fall session term 30m ev=2026-11-01T05:30:00Z scheduled session");
	snapshot_unref(s);
}

/* SPEC 4: "With at: take the instant (event - before), its calendar date
 * in the patient's zone, and due is local time at on that date in the
 * patient's zone."  The first case is SPEC 5's example row. */
static int json_row(const struct snapshot *s, const struct agenda_row *r, void *arg)
{
	struct sbuf *b = arg;

	if (b->len)
		return 0;
	agenda_row_json(s, r, NULL, NULL, b);
	return 1;                                  /* stop after the first row */
}

static void test_at_in_patient_zone(void **state)
{
	struct snapshot *s = load(
	    "channels = ( { name = \"sms\"; module = \"sms\"; }, { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { session = { sms = \"x\"; }; };\n"
	    "programs = ( { id = \"iop-evening\"; timezone = \"America/Chicago\";\n"
	    "  sessions = ( { id = \"group\"; days = [ \"mon\" ]; start = \"18:00\"; } );\n"
	    "  reminders = ( { before = \"1d\"; at = \"19:00\"; channels = [ \"term\" ]; } ); } );\n"
	    "patients = (\n"
	    "  { id = \"p-0001\"; program = \"iop-evening\"; start = \"2026-11-30\"; discharge = \"2026-11-30\";\n"
	    "    timezone = \"America/Denver\"; quiet_hours = { from = \"00:00\"; to = \"00:00\"; }; },\n"
	    "  { id = \"tyo\"; program = \"iop-evening\"; start = \"2026-11-30\"; discharge = \"2026-11-30\";\n"
	    "    timezone = \"Asia/Tokyo\"; quiet_hours = { from = \"00:00\"; to = \"00:00\"; }; },\n"
	    "  { id = \"chi\"; program = \"iop-evening\"; start = \"2026-11-30\"; discharge = \"2026-11-30\";\n"
	    "    timezone = \"America/Chicago\"; quiet_hours = { from = \"00:00\"; to = \"00:00\"; }; },\n"
	    "  { id = \"kir\"; program = \"iop-evening\"; start = \"2026-11-30\"; discharge = \"2026-11-30\";\n"
	    "    timezone = \"Pacific/Kiritimati\"; quiet_hours = { from = \"00:00\"; to = \"00:00\"; }; },\n"
	    "  { id = \"den-quiet\"; program = \"iop-evening\"; start = \"2026-11-30\"; discharge = \"2026-11-30\";\n"
	    "    timezone = \"America/Denver\"; quiet_hours = { from = \"18:30\"; to = \"20:00\"; }; } );\n");
	struct sbuf b = {0};
	struct rows rs;

	(void)state;
	/* the event: Mon 11-30 18:00 CST = 12-01 00:00Z; minus 1d: Sun 11-29
	 * 18:00 CST = 11-30 00:00Z */
	EXPECT(s, "2026-11-01", "2027-01-01", NULL,
	    /* Denver: Sun 17:00 MST -> Sun 19:00 MST */
	    "2026-11-30T02:00:00Z p-0001 session term 1d ev=2026-12-01T00:00:00Z scheduled session",
	    /* Tokyo: Mon 09:00 JST -> Mon 19:00 JST */
	    "2026-11-30T10:00:00Z tyo session term 1d ev=2026-12-01T00:00:00Z scheduled session",
	    "2026-11-30T01:00:00Z chi session term 1d ev=2026-12-01T00:00:00Z scheduled session",
	    /* Kiritimati (+14): Mon 14:00 -> Mon 19:00 = 05:00Z */
	    "2026-11-30T05:00:00Z kir session term 1d ev=2026-12-01T00:00:00Z scheduled session",
	    /* quiet hours after `at`: 19:00 MST is in [18:30, 20:00) -> 20:00 MST */
	    "2026-11-30T03:00:00Z den-quiet session term 1d ev=2026-12-01T00:00:00Z scheduled session");
	/* SPEC 5's row, to the byte (its id is ours: docs/ids.md) */
	agenda_walk(s, unit_t("2026-11-30T02:00:00Z"), unit_t("2026-11-30T02:00:01Z"), -1, json_row, &b);
	rs = walk(s, "2026-11-30T02:00:00Z", "2026-11-30T02:00:01Z", NULL);
	assert_int_equal(rs.n, 1);
	{
		char id[IDENT_HEX_LEN + 1], want[512];
		ident_hex(rs.v[0].id, id);
		snprintf(want, sizeof want, "{\"id\":\"%s\",\"due\":\"2026-11-30T02:00:00Z\","
		    "\"due_local\":\"2026-11-29T19:00:00-07:00\",\"patient\":\"p-0001\",\"kind\":\"session\","
		    "\"event\":\"2026-12-01T00:00:00Z\",\"lead\":\"1d\",\"channel\":\"term\","
		    "\"template\":\"session\",\"status\":\"scheduled\"}", id);
		assert_string_equal(b.s, want);
		assert_true(rs.v[0].id == ident_reminder(ident_series("p-0001", "session", "iop-evening/group",
		    "1d@19:00", "term"), unit_t("2026-12-01T00:00:00Z")));
	}
	sbuf_free(&b);
	free(rs.v);
	snapshot_unref(s);
}

/* ---- quiet hours ------------------------------------------------------------- */

static const char quiet_conf[] =
	"daemon = { quiet_hours = { from = \"21:00\"; to = \"08:00\"; }; };\n"
	"channels = ( { name = \"term\"; module = \"console\"; } );\n"
	"templates = { session = { sms = \"x\"; }; aftercare = { sms = \"y\"; }; };\n"
	"programs = ( { id = \"q\";\n"
	"  sessions = (\n"
	"    { id = \"s0900\"; days = [ \"tue\" ]; start = \"09:00\"; reminders = ( { before = \"2h\"; channels = [ \"term\" ]; } ); },\n"
	"    { id = \"s0830\"; days = [ \"tue\" ]; start = \"08:30\"; reminders = ( { before = \"1h\"; channels = [ \"term\" ]; } ); },\n"
	"    { id = \"s0800\"; days = [ \"tue\" ]; start = \"08:00\"; reminders = ( { before = \"1h\"; channels = [ \"term\" ]; } ); },\n"
	"    { id = \"s2200\"; days = [ \"tue\" ]; start = \"22:00\"; reminders = ( { before = \"30m\"; channels = [ \"term\" ]; } ); },\n"
	"    { id = \"s1800\"; days = [ \"tue\" ]; start = \"18:00\"; reminders = ( { before = \"19h\"; channels = [ \"term\" ]; } ); },\n"
	"    { id = \"s2130\"; days = [ \"tue\" ]; start = \"21:30\"; reminders = ( { before = \"30m\"; channels = [ \"term\" ]; } ); },\n"
	"    { id = \"s1000\"; days = [ \"tue\" ]; start = \"10:00\"; reminders = ( { before = \"2h\"; channels = [ \"term\" ]; } ); },\n"
	"    { id = \"s1200\"; days = [ \"tue\" ]; start = \"12:00\"; reminders = ( { before = \"1d\"; at = \"06:00\"; channels = [ \"term\" ]; } ); },\n"
	"    { id = \"s1400\"; days = [ \"tue\" ]; start = \"14:00\"; reminders = ( { before = \"1h\"; channels = [ \"term\" ]; } ); },\n"
	"    { id = \"s1230\"; days = [ \"tue\" ]; start = \"12:30\"; reminders = ( { before = \"30m\"; channels = [ \"term\" ]; } ); },\n"
	"    { id = \"s1500\"; days = [ \"tue\" ]; start = \"15:00\"; reminders = ( { before = \"2h\"; channels = [ \"term\" ]; } ); }\n"
	"  );\n"
	"  aftercare = { at = \"07:00\"; after = [ \"1d\" ]; channels = [ \"term\" ]; }; } );\n"
	"patients = (\n"
	"  { id = \"dq\"; program = \"q\"; start = \"2026-12-01\"; discharge = \"2026-12-01\";\n"
	"    appointments = ( { at = \"2026-12-02 08:00\"; type = \"a8\"; reminders = ( { before = \"1h\"; channels = [ \"term\" ]; } ); },\n"
	"      { at = \"2026-12-02 09:00\"; type = \"a9\"; reminders = ( { before = \"2h\"; channels = [ \"term\" ]; } ); } ); },\n"
	"  { id = \"ov\"; program = \"q\"; start = \"2026-12-01\"; discharge = \"2026-12-01\";\n"
	"    quiet_hours = { from = \"22:00\"; to = \"07:00\"; };\n"
	"    appointments = ( { at = \"2026-12-02 08:00\"; type = \"a8\"; reminders = ( { before = \"1h\"; channels = [ \"term\" ]; } ); } ); },\n"
	"  { id = \"nq\"; program = \"q\"; start = \"2026-12-01\"; discharge = \"2026-12-01\";\n"
	"    quiet_hours = { from = \"00:00\"; to = \"00:00\"; }; },\n"
	"  { id = \"noon\"; program = \"q\"; start = \"2026-12-01\"; discharge = \"2026-12-01\";\n"
	"    quiet_hours = { from = \"12:00\"; to = \"14:00\"; }; } );\n";

static void test_quiet_hours(void **state)
{
	struct snapshot *s = load(quiet_conf);

	(void)state;
	/* daemon quiet hours 21:00-08:00 (crossing midnight) */
	EXPECT(s, "2026-11-01", "2027-01-01", "dq",
	    "2026-12-01T08:00:00Z dq session term 2h ev=2026-12-01T09:00:00Z scheduled session",     /* 07:00 -> 08:00 */
	    "2026-12-01T08:00:00Z dq session term 1h ev=2026-12-01T08:30:00Z scheduled session",     /* 07:30 -> 08:00 */
	    "2026-12-01T07:00:00Z dq session term 1h ev=2026-12-01T08:00:00Z skipped:quiet-hours session", /* at the event: skipped, due kept */
	    "2026-12-01T21:30:00Z dq session term 30m ev=2026-12-01T22:00:00Z skipped:quiet-hours session", /* would be next morning */
	    "2026-12-01T08:00:00Z dq session term 19h ev=2026-12-01T18:00:00Z scheduled session",    /* 23:00 the day before */
	    "2026-12-01T21:00:00Z dq session term 30m ev=2026-12-01T21:30:00Z skipped:quiet-hours session", /* `from` is inside */
	    "2026-12-01T08:00:00Z dq session term 2h ev=2026-12-01T10:00:00Z scheduled session",     /* `to` is outside */
	    "2026-11-30T08:00:00Z dq session term 1d ev=2026-12-01T12:00:00Z scheduled session",     /* `at` 06:00 -> 08:00 */
	    "2026-12-01T13:00:00Z dq session term 1h ev=2026-12-01T14:00:00Z scheduled session",
	    "2026-12-01T12:00:00Z dq session term 30m ev=2026-12-01T12:30:00Z scheduled session",
	    "2026-12-01T13:00:00Z dq session term 2h ev=2026-12-01T15:00:00Z scheduled session",
	    /* appointments the same way */
	    "2026-12-02T07:00:00Z dq appointment term 1h ev=2026-12-02T08:00:00Z skipped:quiet-hours session",
	    "2026-12-02T08:00:00Z dq appointment term 2h ev=2026-12-02T09:00:00Z scheduled session",
	    /* aftercare moves, never skipped; event = the unshifted due */
	    "2026-12-02T08:00:00Z dq aftercare term - ev=2026-12-02T07:00:00Z scheduled aftercare");
	/* the patient's own window, 22:00-07:00, replaces the daemon's */
	EXPECT(s, "2026-11-01", "2027-01-01", "ov",
	    "2026-12-01T07:00:00Z ov session term 2h ev=2026-12-01T09:00:00Z scheduled session",
	    "2026-12-01T07:30:00Z ov session term 1h ev=2026-12-01T08:30:00Z scheduled session",
	    "2026-12-01T07:00:00Z ov session term 1h ev=2026-12-01T08:00:00Z scheduled session",
	    "2026-12-01T21:30:00Z ov session term 30m ev=2026-12-01T22:00:00Z scheduled session",
	    "2026-12-01T07:00:00Z ov session term 19h ev=2026-12-01T18:00:00Z scheduled session",
	    "2026-12-01T21:00:00Z ov session term 30m ev=2026-12-01T21:30:00Z scheduled session",
	    "2026-12-01T08:00:00Z ov session term 2h ev=2026-12-01T10:00:00Z scheduled session",
	    "2026-11-30T07:00:00Z ov session term 1d ev=2026-12-01T12:00:00Z scheduled session",
	    "2026-12-01T13:00:00Z ov session term 1h ev=2026-12-01T14:00:00Z scheduled session",
	    "2026-12-01T12:00:00Z ov session term 30m ev=2026-12-01T12:30:00Z scheduled session",
	    "2026-12-01T13:00:00Z ov session term 2h ev=2026-12-01T15:00:00Z scheduled session",
	    "2026-12-02T07:00:00Z ov appointment term 1h ev=2026-12-02T08:00:00Z scheduled session",
	    "2026-12-02T07:00:00Z ov aftercare term - ev=2026-12-02T07:00:00Z scheduled aftercare");
	/* from == to: no quiet hours at all */
	EXPECT(s, "2026-11-01", "2027-01-01", "nq",
	    "2026-12-01T07:00:00Z nq session term 2h ev=2026-12-01T09:00:00Z scheduled session",
	    "2026-12-01T07:30:00Z nq session term 1h ev=2026-12-01T08:30:00Z scheduled session",
	    "2026-12-01T07:00:00Z nq session term 1h ev=2026-12-01T08:00:00Z scheduled session",
	    "2026-12-01T21:30:00Z nq session term 30m ev=2026-12-01T22:00:00Z scheduled session",
	    "2026-11-30T23:00:00Z nq session term 19h ev=2026-12-01T18:00:00Z scheduled session",
	    "2026-12-01T21:00:00Z nq session term 30m ev=2026-12-01T21:30:00Z scheduled session",
	    "2026-12-01T08:00:00Z nq session term 2h ev=2026-12-01T10:00:00Z scheduled session",
	    "2026-11-30T06:00:00Z nq session term 1d ev=2026-12-01T12:00:00Z scheduled session",
	    "2026-12-01T13:00:00Z nq session term 1h ev=2026-12-01T14:00:00Z scheduled session",
	    "2026-12-01T12:00:00Z nq session term 30m ev=2026-12-01T12:30:00Z scheduled session",
	    "2026-12-01T13:00:00Z nq session term 2h ev=2026-12-01T15:00:00Z scheduled session",
	    "2026-12-02T07:00:00Z nq aftercare term - ev=2026-12-02T07:00:00Z scheduled aftercare");
	/* a window that does not cross midnight, 12:00-14:00 */
	EXPECT(s, "2026-11-01", "2027-01-01", "noon",
	    "2026-12-01T07:00:00Z noon session term 2h ev=2026-12-01T09:00:00Z scheduled session",
	    "2026-12-01T07:30:00Z noon session term 1h ev=2026-12-01T08:30:00Z scheduled session",
	    "2026-12-01T07:00:00Z noon session term 1h ev=2026-12-01T08:00:00Z scheduled session",
	    "2026-12-01T21:30:00Z noon session term 30m ev=2026-12-01T22:00:00Z scheduled session",
	    "2026-11-30T23:00:00Z noon session term 19h ev=2026-12-01T18:00:00Z scheduled session",
	    "2026-12-01T21:00:00Z noon session term 30m ev=2026-12-01T21:30:00Z scheduled session",
	    "2026-12-01T08:00:00Z noon session term 2h ev=2026-12-01T10:00:00Z scheduled session",
	    "2026-11-30T06:00:00Z noon session term 1d ev=2026-12-01T12:00:00Z scheduled session",
	    "2026-12-01T13:00:00Z noon session term 1h ev=2026-12-01T14:00:00Z skipped:quiet-hours session",  /* 14:00 = event */
	    "2026-12-01T12:00:00Z noon session term 30m ev=2026-12-01T12:30:00Z skipped:quiet-hours session",
	    "2026-12-01T14:00:00Z noon session term 2h ev=2026-12-01T15:00:00Z scheduled session",    /* 13:00 -> 14:00 */
	    "2026-12-02T07:00:00Z noon aftercare term - ev=2026-12-02T07:00:00Z scheduled aftercare");
	snapshot_unref(s);
}

/* Quiet hours are the patient's local time, across a DST change. */
static void test_quiet_hours_local_dst(void **state)
{
	struct snapshot *s = load(
	    "daemon = { timezone = \"America/New_York\"; quiet_hours = { from = \"21:00\"; to = \"08:00\"; }; };\n"
	    "channels = ( { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { session = { sms = \"x\"; }; };\n"
	    "programs = ( { id = \"p\"; sessions = ( { id = \"s\"; days = [ \"sun\", \"mon\" ]; start = \"09:00\"; } );\n"
	    "  reminders = ( { before = \"3h\"; channels = [ \"term\" ]; } ); } );\n"
	    "patients = ( { id = \"a\"; program = \"p\"; start = \"2026-03-08\"; discharge = \"2026-03-09\"; } );\n");

	(void)state;
	/* Sun 03-08 09:00 EDT = 13:00Z; 3h before = 06:00 EDT -> 08:00 EDT =
	 * 12:00Z.  Mon the same. */
	EXPECT(s, "2026-01-01", "2027-01-01", NULL,
	    "2026-03-08T12:00:00Z a session term 3h ev=2026-03-08T13:00:00Z scheduled session",
	    "2026-03-09T12:00:00Z a session term 3h ev=2026-03-09T13:00:00Z scheduled session");
	snapshot_unref(s);
}

/* ---- statuses ------------------------------------------------------------------ */

static void test_statuses_first_match(void **state)
{
	struct snapshot *s = load(
	    "channels = ( { name = \"sms\"; module = \"sms\"; }, { name = \"email\"; module = \"smtp\"; },\n"
	    "  { name = \"ehr\"; module = \"webhook\"; }, { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { session = { sms = \"x\"; }; };\n"
	    "programs = ( { id = \"p\"; sessions = (\n"
	    "  { id = \"early\"; days = [ \"tue\" ]; start = \"08:00\";\n"
	    "    reminders = ( { before = \"1h\"; channels = [ \"sms\", \"email\", \"ehr\", \"term\" ]; } ); },\n"
	    "  { id = \"late\"; days = [ \"tue\" ]; start = \"18:00\";\n"
	    "    reminders = ( { before = \"2h\"; channels = [ \"term\", \"ehr\", \"email\", \"sms\" ]; } ); } ); } );\n"
	    "patients = (\n"
	    "  { id = \"full\"; program = \"p\"; start = \"2026-12-01\"; discharge = \"2026-12-01\";\n"
	    "    phone = \"+12125550000\"; email = \"f@example.org\"; },\n"
	    "  { id = \"paused\"; program = \"p\"; start = \"2026-12-01\"; discharge = \"2026-12-01\";\n"
	    "    paused = true; opt_out = [ \"sms\" ]; },\n"
	    "  { id = \"optout\"; program = \"p\"; start = \"2026-12-01\"; discharge = \"2026-12-01\";\n"
	    "    opt_out = [ \"sms\" ]; channels = [ \"sms\", \"email\", \"term\" ]; },\n"
	    "  { id = \"nophone\"; program = \"p\"; start = \"2026-12-01\"; discharge = \"2026-12-01\";\n"
	    "    email = \"n@example.org\"; } );\n");

	(void)state;
	EXPECT(s, "2026-11-01", "2027-01-01", NULL,
	    /* early: 07:00 is quiet, moving it reaches the event */
	    "2026-12-01T07:00:00Z full session sms 1h ev=2026-12-01T08:00:00Z skipped:quiet-hours session",
	    "2026-12-01T07:00:00Z full session email 1h ev=2026-12-01T08:00:00Z skipped:quiet-hours session",
	    "2026-12-01T07:00:00Z full session ehr 1h ev=2026-12-01T08:00:00Z skipped:quiet-hours session",
	    "2026-12-01T07:00:00Z full session term 1h ev=2026-12-01T08:00:00Z skipped:quiet-hours session",
	    "2026-12-01T16:00:00Z full session sms 2h ev=2026-12-01T18:00:00Z scheduled session",
	    "2026-12-01T16:00:00Z full session email 2h ev=2026-12-01T18:00:00Z scheduled session",
	    "2026-12-01T16:00:00Z full session ehr 2h ev=2026-12-01T18:00:00Z scheduled session",
	    "2026-12-01T16:00:00Z full session term 2h ev=2026-12-01T18:00:00Z scheduled session",
	    /* paused wins over everything */
	    "2026-12-01T07:00:00Z paused session sms 1h ev=2026-12-01T08:00:00Z skipped:paused session",
	    "2026-12-01T07:00:00Z paused session email 1h ev=2026-12-01T08:00:00Z skipped:paused session",
	    "2026-12-01T07:00:00Z paused session ehr 1h ev=2026-12-01T08:00:00Z skipped:paused session",
	    "2026-12-01T07:00:00Z paused session term 1h ev=2026-12-01T08:00:00Z skipped:paused session",
	    "2026-12-01T16:00:00Z paused session sms 2h ev=2026-12-01T18:00:00Z skipped:paused session",
	    "2026-12-01T16:00:00Z paused session email 2h ev=2026-12-01T18:00:00Z skipped:paused session",
	    "2026-12-01T16:00:00Z paused session ehr 2h ev=2026-12-01T18:00:00Z skipped:paused session",
	    "2026-12-01T16:00:00Z paused session term 2h ev=2026-12-01T18:00:00Z skipped:paused session",
	    /* opted out (sms), outside the allow-list (ehr: webhooks too), no
	     * e-mail (no-contact before quiet-hours) */
	    "2026-12-01T07:00:00Z optout session sms 1h ev=2026-12-01T08:00:00Z skipped:opt-out session",
	    "2026-12-01T07:00:00Z optout session email 1h ev=2026-12-01T08:00:00Z skipped:no-contact session",
	    "2026-12-01T07:00:00Z optout session ehr 1h ev=2026-12-01T08:00:00Z skipped:opt-out session",
	    "2026-12-01T07:00:00Z optout session term 1h ev=2026-12-01T08:00:00Z skipped:quiet-hours session",
	    "2026-12-01T16:00:00Z optout session sms 2h ev=2026-12-01T18:00:00Z skipped:opt-out session",
	    "2026-12-01T16:00:00Z optout session email 2h ev=2026-12-01T18:00:00Z skipped:no-contact session",
	    "2026-12-01T16:00:00Z optout session ehr 2h ev=2026-12-01T18:00:00Z skipped:opt-out session",
	    "2026-12-01T16:00:00Z optout session term 2h ev=2026-12-01T18:00:00Z scheduled session",
	    /* no phone: sms only; webhook and console never lack a contact */
	    "2026-12-01T07:00:00Z nophone session sms 1h ev=2026-12-01T08:00:00Z skipped:no-contact session",
	    "2026-12-01T07:00:00Z nophone session email 1h ev=2026-12-01T08:00:00Z skipped:quiet-hours session",
	    "2026-12-01T07:00:00Z nophone session ehr 1h ev=2026-12-01T08:00:00Z skipped:quiet-hours session",
	    "2026-12-01T07:00:00Z nophone session term 1h ev=2026-12-01T08:00:00Z skipped:quiet-hours session",
	    "2026-12-01T16:00:00Z nophone session sms 2h ev=2026-12-01T18:00:00Z skipped:no-contact session",
	    "2026-12-01T16:00:00Z nophone session email 2h ev=2026-12-01T18:00:00Z scheduled session",
	    "2026-12-01T16:00:00Z nophone session ehr 2h ev=2026-12-01T18:00:00Z scheduled session",
	    "2026-12-01T16:00:00Z nophone session term 2h ev=2026-12-01T18:00:00Z scheduled session");
	snapshot_unref(s);
}

/* ---- medication ------------------------------------------------------------------ */

static void test_medication(void **state)
{
	struct snapshot *s = load(
	    "daemon = { timezone = \"America/New_York\"; };\n"
	    "channels = ( { name = \"sms\"; module = \"sms\"; } );\n"
	    "templates = { medication = { sms = \"x\"; }; other = { sms = \"y\"; }; };\n"
	    "closures = [ \"2026-03-07\" ];\n"
	    "programs = ( { id = \"p\"; } );\n"
	    "patients = (\n"
	    "  { id = \"m\"; program = \"p\"; start = \"2026-03-07\"; discharge = \"2026-03-09\"; phone = \"+12125550000\";\n"
	    "    absences = [ \"2026-03-07\" ];\n"
	    "    medications = (\n"
	    "      { label = \"gap\"; times = [ \"03:15\", \"01:30\", \"02:30\", \"03:00\" ]; channels = [ \"sms\" ]; },\n"
	    "      { label = \"ext\"; times = [ \"20:00\" ]; channels = [ \"sms\" ]; template = \"other\";\n"
	    "        from = \"2026-03-01\"; until = \"2026-03-02\"; } ); },\n"
	    "  { id = \"f\"; program = \"p\"; start = \"2026-11-01\"; discharge = \"2026-11-01\"; paused = true;\n"
	    "    medications = ( { label = \"am\"; times = [ \"01:30\" ]; channels = [ \"sms\" ]; } ); } );\n");
	struct stream st[4];
	uint32_t n;
	int64_t last = INT64_MIN;
	int count = 0;

	(void)state;
	EXPECT(s, "2026-01-01", "2027-01-01", NULL,
	    /* outside the enrollment, kept (explicit dates) */
	    "2026-03-02T01:00:00Z m medication sms - ev=2026-03-02T01:00:00Z scheduled other",
	    "2026-03-03T01:00:00Z m medication sms - ev=2026-03-03T01:00:00Z scheduled other",
	    /* Sat 03-07, EST; closure and absence cancel nothing; quiet hours
	     * do not apply */
	    "2026-03-07T06:30:00Z m medication sms - ev=2026-03-07T06:30:00Z scheduled medication",
	    "2026-03-07T07:30:00Z m medication sms - ev=2026-03-07T07:30:00Z scheduled medication",
	    "2026-03-07T08:00:00Z m medication sms - ev=2026-03-07T08:00:00Z scheduled medication",
	    "2026-03-07T08:15:00Z m medication sms - ev=2026-03-07T08:15:00Z scheduled medication",
	    /* Sun 03-08: 01:30 EST, 03:00 EDT, 03:15 EDT, and 02:30 (the gap)
	     * = 03:30 EDT, last */
	    "2026-03-08T06:30:00Z m medication sms - ev=2026-03-08T06:30:00Z scheduled medication",
	    "2026-03-08T07:00:00Z m medication sms - ev=2026-03-08T07:00:00Z scheduled medication",
	    "2026-03-08T07:15:00Z m medication sms - ev=2026-03-08T07:15:00Z scheduled medication",
	    "2026-03-08T07:30:00Z m medication sms - ev=2026-03-08T07:30:00Z scheduled medication",
	    /* Mon 03-09, EDT */
	    "2026-03-09T05:30:00Z m medication sms - ev=2026-03-09T05:30:00Z scheduled medication",
	    "2026-03-09T06:30:00Z m medication sms - ev=2026-03-09T06:30:00Z scheduled medication",
	    "2026-03-09T07:00:00Z m medication sms - ev=2026-03-09T07:00:00Z scheduled medication",
	    "2026-03-09T07:15:00Z m medication sms - ev=2026-03-09T07:15:00Z scheduled medication",
	    /* 01:30 on the night clocks go back: the first, once; paused; no
	     * phone does not matter after paused */
	    "2026-11-01T05:30:00Z f medication sms - ev=2026-11-01T05:30:00Z skipped:paused medication");
	/* the stream itself yields 03-08 by instant, not by the order of times */
	n = cal_streams(s, 0, st);
	assert_int_equal(n, 2);
	assert_int_equal(st[0].kind, STREAM_MED);
	for (cal_seek(s, &st[0], unit_t("2026-03-08T00:00:00Z")); st[0].due < unit_t("2026-03-08T12:00:00Z");
	    cal_next(s, &st[0])) {
		static const int32_t order[] = {1 * 3600 + 1800, 3 * 3600, 3 * 3600 + 900, 2 * 3600 + 1800};
		assert_true(st[0].due > last);
		assert_int_equal(s->patients[0].meds[0].times[st[0].sub], order[count]);
		last = st[0].due;
		count++;
	}
	assert_int_equal(count, 4);
	snapshot_unref(s);
}

/* ---- aftercare and appointments ----------------------------------------------------- */

static void test_aftercare(void **state)
{
	struct snapshot *s = load(
	    "channels = ( { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { aftercare = { sms = \"x\"; }; checkin = { sms = \"y\"; }; };\n"
	    "closures = [ \"2026-12-27\" ];\n"
	    "programs = ( { id = \"p\"; timezone = \"America/Chicago\";\n"
	    "  aftercare = { at = \"10:00\"; after = [ \"1w\", \"30d\", \"90d\" ]; channels = [ \"term\" ]; }; },\n"
	    "  { id = \"q\"; weeks = 12;\n"
	    "  aftercare = { at = \"10:00\"; after = [ \"1w\", \"4w2d\" ]; channels = [ \"term\" ]; template = \"checkin\"; }; } );\n"
	    "patients = (\n"
	    "  { id = \"a\"; program = \"p\"; start = \"2026-11-30\"; discharge = \"2026-12-20\"; timezone = \"America/Denver\";\n"
	    "    absences = [ \"2026-12-27\" ]; },\n"
	    "  { id = \"b\"; program = \"q\"; start = \"2026-11-30\"; timezone = \"America/Denver\"; } );\n");

	(void)state;
	EXPECT(s, "2026-01-01", "2028-01-01", NULL,
	    /* end 12-20 + 7 = 12-27 (closure and absence do not matter),
	     * 10:00 in the patient's zone (MST), not the program's */
	    "2026-12-27T17:00:00Z a aftercare term - ev=2026-12-27T17:00:00Z scheduled aftercare",
	    "2027-01-19T17:00:00Z a aftercare term - ev=2027-01-19T17:00:00Z scheduled aftercare",
	    /* + 90 = 2027-03-20, after the change to MDT */
	    "2027-03-20T16:00:00Z a aftercare term - ev=2027-03-20T16:00:00Z scheduled aftercare",
	    /* default end: 11-30 + 7 * 12 - 1 = 2027-02-21; + 7 = 02-28 (MST),
	     * + 30 = 03-23 (MDT) */
	    "2027-02-28T17:00:00Z b aftercare term - ev=2027-02-28T17:00:00Z scheduled checkin",
	    "2027-03-23T16:00:00Z b aftercare term - ev=2027-03-23T16:00:00Z scheduled checkin");
	snapshot_unref(s);
}

static void test_appointments(void **state)
{
	struct snapshot *s = load(
	    "channels = ( { name = \"sms\"; module = \"sms\"; }, { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { session = { sms = \"x\"; }; family = { sms = \"y\"; }; other = { sms = \"z\"; }; };\n"
	    "closures = [ \"2026-12-25\" ];\n"
	    "programs = ( { id = \"p\"; timezone = \"America/Chicago\";\n"
	    "  reminders = ( { before = \"1d\"; at = \"19:00\"; channels = [ \"sms\" ]; },\n"
	    "    { before = \"2h\"; channels = [ \"term\" ]; } ); } );\n"
	    "patients = ( { id = \"a\"; program = \"p\"; start = \"2026-11-30\"; discharge = \"2026-12-31\";\n"
	    "  timezone = \"America/Denver\"; phone = \"+12125550000\"; absences = [ \"2026-12-24\" ];\n"
	    "  quiet_hours = { from = \"00:00\"; to = \"00:00\"; };\n"
	    "  appointments = (\n"
	    "    { at = \"2026-12-03 16:00\"; type = \"family\"; },\n"
	    "    { id = \"intake\"; at = \"2026-11-20 09:00\"; type = \"individual\"; template = \"family\";\n"
	    "      reminders = ( { before = \"3h\"; channels = [ \"term\" ]; } ); },\n"
	    "    { at = \"2026-12-25 10:00\"; type = \"none\"; reminders = ( ); },\n"
	    "    { at = \"2026-12-24 11:00\"; type = \"holiday\"; },\n"
	    "    { at = \"2027-02-01 12:00\"; type = \"follow-up\"; template = \"family\";\n"
	    "      reminders = ( { before = \"1h\"; channels = [ \"term\" ]; template = \"other\"; } ); } ); } );\n");

	(void)state;
	EXPECT(s, "2026-01-01", "2028-01-01", NULL,
	    /* 16:00 CST = 22:00Z; the program's rules; 1d@19:00 in Denver */
	    "2026-12-03T02:00:00Z a appointment sms 1d ev=2026-12-03T22:00:00Z scheduled session",
	    "2026-12-03T20:00:00Z a appointment term 2h ev=2026-12-03T22:00:00Z scheduled session",
	    /* before the enrollment: kept; its own rules and the entry's template */
	    "2026-11-20T12:00:00Z a appointment term 3h ev=2026-11-20T15:00:00Z scheduled family",
	    /* on an absence day (and a closure would not matter either) */
	    "2026-12-24T02:00:00Z a appointment sms 1d ev=2026-12-24T17:00:00Z scheduled session",
	    "2026-12-24T15:00:00Z a appointment term 2h ev=2026-12-24T17:00:00Z scheduled session",
	    /* after the enrollment; the rule's template beats the entry's */
	    "2027-02-01T17:00:00Z a appointment term 1h ev=2027-02-01T18:00:00Z scheduled other");
	snapshot_unref(s);
}

/* ---- the agenda's order ----------------------------------------------------------- */

static void check_order(const struct rows *rs)
{
	size_t i;

	for (i = 1; i < rs->n; i++) {
		const struct row *a = &rs->v[i - 1], *b = &rs->v[i];
		int ok = a->due != b->due ? a->due < b->due :
		    a->rank != b->rank ? a->rank < b->rank :
		    a->chrank != b->chrank ? a->chrank < b->chrank : a->id < b->id;
		if (!ok)
			fail_msg("out of order:\n  %s\n  %s", a->text, b->text);
	}
}

static void test_agenda_order(void **state)
{
	struct snapshot *s = load(
	    "channels = ( { name = \"term\"; module = \"console\"; }, { name = \"sms\"; module = \"sms\"; },\n"
	    "  { name = \"email\"; module = \"smtp\"; }, { name = \"ehr\"; module = \"webhook\"; } );\n"
	    "templates = { session = { sms = \"x\"; }; };\n"
	    "programs = ( { id = \"p\";\n"
	    "  sessions = ( { id = \"g\"; days = [ \"tue\" ]; start = \"18:00\"; },\n"
	    "    { id = \"h\"; days = [ \"tue\" ]; start = \"19:00\"; } );\n"
	    "  reminders = ( { before = \"1d\"; at = \"12:00\"; channels = [ \"term\", \"sms\", \"email\", \"ehr\" ]; } ); } );\n"
	    "patients = (\n"
	    "  { id = \"b\"; program = \"p\"; start = \"2026-12-01\"; discharge = \"2026-12-01\";\n"
	    "    phone = \"+12125550000\"; email = \"b@example.org\";\n"
	    "    appointments = ( { at = \"2026-12-01 09:00\"; type = \"x\"; } ); },\n"
	    "  { id = \"a-2\"; program = \"p\"; start = \"2026-12-01\"; discharge = \"2026-12-01\"; },\n"
	    "  { id = \"a-10\"; program = \"p\"; start = \"2026-12-01\"; discharge = \"2026-12-01\"; } );\n");
	struct rows rs = walk(s, "2026-11-01", "2027-01-01", NULL);
	static const char *const prefix[] = {
		/* one due for everything: by patient (byte order: "a-10" < "a-2"),
		 * then channel name, then id (two per patient and channel) */
		"2026-11-30T12:00:00Z a-10 session ehr", "2026-11-30T12:00:00Z a-10 session ehr",
		"2026-11-30T12:00:00Z a-10 session email", "2026-11-30T12:00:00Z a-10 session email",
		"2026-11-30T12:00:00Z a-10 session sms", "2026-11-30T12:00:00Z a-10 session sms",
		"2026-11-30T12:00:00Z a-10 session term", "2026-11-30T12:00:00Z a-10 session term",
		"2026-11-30T12:00:00Z a-2 session ehr", "2026-11-30T12:00:00Z a-2 session ehr",
	};
	size_t i;

	(void)state;
	assert_int_equal(rs.n, 3 * 8 + 4);
	for (i = 0; i < sizeof prefix / sizeof prefix[0]; i++)
		if (strncmp(rs.v[i].text, prefix[i], strlen(prefix[i])))
			fail_msg("row %zu: %s, expected %s ...", i, rs.v[i].text, prefix[i]);
	/* b's rows: the appointment and the sessions interleave by id within a channel */
	for (i = 16; i < rs.n; i++)
		assert_non_null(strstr(rs.v[i].text, " b "));
	assert_non_null(strstr(rs.v[16].text, " ehr "));
	assert_non_null(strstr(rs.v[27].text, " term "));
	check_order(&rs);
	free(rs.v);
	snapshot_unref(s);
}

/* One time a day: the next prompt is the next day's, also across the
 * nights the clocks change (a gap moves it later, a repeat takes the
 * first). */
static void test_medication_once_a_day(void **state)
{
	struct snapshot *s = load(
	    "daemon = { timezone = \"America/New_York\"; };\n"
	    "channels = ( { name = \"sms\"; module = \"sms\"; } );\n"
	    "templates = { medication = { sms = \"x\"; }; };\n"
	    "programs = ( { id = \"p\"; } );\n"
	    "patients = ( { id = \"m\"; program = \"p\"; start = \"2026-03-06\"; discharge = \"2026-11-02\";\n"
	    "    phone = \"+12125550000\";\n"
	    "    medications = (\n"
	    "      { label = \"spring\"; times = [ \"02:30\" ]; channels = [ \"sms\" ]; until = \"2026-03-10\"; },\n"
	    "      { label = \"fall\"; times = [ \"01:30\" ]; channels = [ \"sms\" ];\n"
	    "        from = \"2026-10-31\"; } ); } );\n");

	(void)state;
	EXPECT(s, "2026-01-01", "2027-01-01", NULL,
	    "2026-03-06T07:30:00Z m medication sms - ev=2026-03-06T07:30:00Z scheduled medication",
	    "2026-03-07T07:30:00Z m medication sms - ev=2026-03-07T07:30:00Z scheduled medication",
	    /* 02:30 does not exist on 03-08: 03:30 EDT */
	    "2026-03-08T07:30:00Z m medication sms - ev=2026-03-08T07:30:00Z scheduled medication",
	    "2026-03-09T06:30:00Z m medication sms - ev=2026-03-09T06:30:00Z scheduled medication",
	    "2026-03-10T06:30:00Z m medication sms - ev=2026-03-10T06:30:00Z scheduled medication",
	    "2026-10-31T05:30:00Z m medication sms - ev=2026-10-31T05:30:00Z scheduled medication",
	    /* 01:30 twice on 11-01: the first (EDT), once */
	    "2026-11-01T05:30:00Z m medication sms - ev=2026-11-01T05:30:00Z scheduled medication",
	    "2026-11-02T06:30:00Z m medication sms - ev=2026-11-02T06:30:00Z scheduled medication");
	snapshot_unref(s);
}

/* ---- the JSON lines ------------------------------------------------------------ */

/* A patient id is a JSON string in every row, also one longer than a
 * row's usual room. */
static void test_jsonl_patient_ids(void **state)
{
	char longid[301], text[2048], *out = NULL;
	size_t outlen = 0, i;
	struct snapshot *s;
	FILE *f;

	(void)state;
	memset(longid, 'x', 300);
	longid[300] = '\0';
	snprintf(text, sizeof text,
	    "channels = ( { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { medication = { sms = \"x\"; }; };\n"
	    "programs = ( { id = \"p\"; } );\n"
	    "patients = (\n"
	    "  { id = \"p-1\"; program = \"p\"; start = \"2026-12-01\"; discharge = \"2026-12-01\";\n"
	    "    medications = ( { label = \"m\"; times = [ \"09:00\" ]; channels = [ \"term\" ]; } ); },\n"
	    "  { id = \"%s\"; program = \"p\"; start = \"2026-12-01\"; discharge = \"2026-12-01\";\n"
	    "    medications = ( { label = \"m\"; times = [ \"09:00\" ]; channels = [ \"term\" ]; } ); } );\n",
	    longid);
	s = load(text);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	assert_int_equal(agenda_print(s, unit_t("2026-12-01T00:00:00Z"), unit_t("2026-12-02T00:00:00Z"), -1,
	    AGENDA_JSONL, f, NULL, NULL), 0);
	fclose(f);
	assert_non_null(strstr(out, "\"patient\":\"p-1\",\"kind\":\"medication\","));
	snprintf(text, sizeof text, "\"patient\":\"%s\",\"kind\":\"medication\",", longid);
	assert_non_null(strstr(out, text));
	for (i = 0; i < outlen; i++)           /* whole rows, one a line */
		if (out[i] == '\n')
			assert_true(out[i - 1] == '}' && (i + 1 == outlen || out[i + 1] == '{'));
	assert_true(outlen > 0 && out[outlen - 1] == '\n');
	free(out);
	snapshot_unref(s);
}

/* Patients listed against their id order: each due's rows come out of
 * the walk far out of order (reversed, 400 at one instant), and are still
 * given in order; a patient's two medications at one instant too. */
static void test_agenda_order_reversed(void **state)
{
	struct sbuf text = {0};
	struct snapshot *s;
	struct rows rs;
	int i;

	(void)state;
	sbuf_adds(&text,
	    "channels = ( { name = \"term\"; module = \"console\"; }, { name = \"sms\"; module = \"sms\"; } );\n"
	    "templates = { medication = { sms = \"x\"; }; };\n"
	    "programs = ( { id = \"p\"; } );\npatients = (\n");
	for (i = 400; i > 0; i--)
		sbuf_printf(&text, "  { id = \"p%03d\"; program = \"p\"; start = \"2026-12-01\"; "
		    "discharge = \"2026-12-02\"; phone = \"+1212555%04d\";\n"
		    "    medications = ( { label = \"a\"; times = [ \"09:00\" ]; channels = [ \"sms\", \"term\" ]; },\n"
		    "      { label = \"b\"; times = [ \"09:00\", \"21:00\" ]; channels = [ \"term\" ]; } ); }%s\n",
		    i, i, i > 1 ? "," : " );");
	s = load(text.s);
	rs = walk(s, "2026-12-01", "2026-12-03", NULL);
	assert_int_equal(rs.n, 400 * 2 * (2 + 2));
	check_order(&rs);
	assert_non_null(strstr(rs.v[0].text, " p001 "));
	assert_non_null(strstr(rs.v[rs.n - 1].text, " p400 "));
	free(rs.v);
	sbuf_free(&text);
	snapshot_unref(s);
}

/* A window of five centuries walks slabs wider than an hour (their
 * number is bounded): its rows are those of a short window, in the same
 * order, also in the slabs whose dues go past the hour (a prompt every 10
 * minutes for 50 patients puts hundreds of rows in every slab, some
 * past it). */
#define TIMES_HOUR(h) "\"" h ":00\", \"" h ":10\", \"" h ":20\", \"" h ":30\", \"" h ":40\", \"" h ":50\""
#define TIMES_10MIN TIMES_HOUR("00") "," TIMES_HOUR("01") "," TIMES_HOUR("02") "," TIMES_HOUR("03") "," \
	TIMES_HOUR("04") "," TIMES_HOUR("05") "," TIMES_HOUR("06") "," TIMES_HOUR("07") "," \
	TIMES_HOUR("08") "," TIMES_HOUR("09") "," TIMES_HOUR("10") "," TIMES_HOUR("11") "," \
	TIMES_HOUR("12") "," TIMES_HOUR("13") "," TIMES_HOUR("14") "," TIMES_HOUR("15") "," \
	TIMES_HOUR("16") "," TIMES_HOUR("17") "," TIMES_HOUR("18") "," TIMES_HOUR("19") "," \
	TIMES_HOUR("20") "," TIMES_HOUR("21") "," TIMES_HOUR("22") "," TIMES_HOUR("23")

static void test_agenda_wide_window(void **state)
{
	struct sbuf text = {0};
	struct snapshot *s;
	struct rows narrow, wide;
	size_t i;

	(void)state;
	sbuf_adds(&text,
	    "channels = ( { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { medication = { sms = \"x\"; }; };\n"
	    "programs = ( { id = \"p\"; } );\npatients = (\n");
	for (i = 50; i > 0; i--)
		sbuf_printf(&text, "  { id = \"p%02zu\"; program = \"p\"; start = \"2026-12-01\"; "
		    "discharge = \"2026-12-02\";\n"
		    "    medications = ( { label = \"m\"; times = [ " TIMES_10MIN " ]; channels = [ \"term\" ]; } ); }%s\n",
		    i, i > 1 ? "," : " );");
	s = load(text.s);
	narrow = walk(s, "2026-12-01", "2026-12-03", NULL);
	wide = walk(s, "1901-01-01", "2399-12-31", NULL);
	assert_int_equal(narrow.n, 50 * 2 * 144);
	assert_int_equal(wide.n, narrow.n);
	for (i = 0; i < narrow.n; i++)
		assert_string_equal(wide.v[i].text, narrow.v[i].text);
	check_order(&wide);
	free(narrow.v);
	free(wide.v);
	sbuf_free(&text);
	snapshot_unref(s);
}

/* ---- the table streams ------------------------------------------------------------ */

/* A window of months is printed as it is walked, never held whole: the
 * first bytes reach the file long before the last row is walked (the
 * daemon streams an answer of tens of megabytes to iopctl this way).  The
 * columns are as wide as the configuration's longest values. */
struct stream_probe {
	size_t rows, rows_at_first_write, bytes;
	struct sbuf head;
};

static ssize_t probe_write(void *cookie, const char *buf, size_t n)
{
	struct stream_probe *sp = cookie;

	if (!sp->bytes)
		sp->rows_at_first_write = sp->rows;
	if (sp->head.len < 4096)
		sbuf_add(&sp->head, buf, n < 4096 ? n : 4096);
	sp->bytes += n;
	return (ssize_t)n;
}

static const char *probe_status(const struct snapshot *s, const struct agenda_row *r, char *buf,
    size_t len, struct agenda_live *live, void *arg)
{
	(void)s;
	(void)r;
	(void)buf;
	(void)len;
	(void)live;
	((struct stream_probe *)arg)->rows++;
	return NULL;
}

static void test_table_streams(void **state)
{
	struct snapshot *s = load(
	    "channels = ( { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { medication = { sms = \"x\"; }; a_long_template_name = { sms = \"y\"; }; };\n"
	    "programs = ( { id = \"p\"; weeks = 60; } );\n"
	    "patients = ( { id = \"short\"; program = \"p\"; start = \"2026-12-01\";\n"
	    "    medications = ( { label = \"m\"; times = [ "
	    "\"00:00\", \"01:00\", \"02:00\", \"03:00\", \"04:00\", \"05:00\","
	    "\"06:00\", \"07:00\", \"08:00\", \"09:00\", \"10:00\", \"11:00\","
	    "\"12:00\", \"13:00\", \"14:00\", \"15:00\", \"16:00\", \"17:00\","
	    "\"18:00\", \"19:00\", \"20:00\", \"21:00\", \"22:00\", \"23:00\" ];\n"
	    "    channels = [ \"term\" ]; } ); },\n"
	    "  { id = \"a-patient-with-a-long-id\"; program = \"p\"; start = \"2026-12-01\"; } );\n");
	cookie_io_functions_t io = {NULL, probe_write, NULL, NULL};
	struct stream_probe sp;
	FILE *f;
	const char *nl;

	(void)state;
	memset(&sp, 0, sizeof sp);
	f = fopencookie(&sp, "w", io);
	assert_non_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	assert_int_equal(agenda_print(s, unit_t("2026-12-01T00:00:00Z"), unit_t("2027-12-01T00:00:00Z"), -1,
	    AGENDA_TABLE, f, probe_status, &sp), 0);
	fclose(f);
	assert_int_equal(sp.rows, 365 * 24);    /* a year: several flushes of the printer */
	assert_true(sp.rows_at_first_write < sp.rows / 2);
	/* the header is as wide as the longest id and template name, though
	 * neither appears in the rows */
	nl = strchr(sp.head.s, '\n');
	assert_non_null(nl);
	assert_non_null(strstr(sp.head.s, "PATIENT                   KIND"));
	assert_non_null(strstr(sp.head.s, "TEMPLATE              STATUS"));
	assert_non_null(strstr(nl, "short                     medication"));
	sbuf_free(&sp.head);
	snapshot_unref(s);
}

/* ---- a rich calendar: cal_seek everywhere --------------------------------------- */

static void test_seek_rich_calendar(void **state)
{
	struct snapshot *s = load(
	    "daemon = { timezone = \"America/New_York\"; };\n"
	    "channels = ( { name = \"sms\"; module = \"sms\"; }, { name = \"term\"; module = \"console\"; } );\n"
	    "templates = { session = { sms = \"x\"; }; medication = { sms = \"y\"; }; aftercare = { sms = \"z\"; }; };\n"
	    "closures = [ \"2026-03-09\", \"2026-11-02\" ];\n"
	    "programs = (\n"
	    "  { id = \"ny\"; closures = [ \"2026-03-11\" ];\n"
	    "    sessions = ( { id = \"eve\"; days = [ \"mon\", \"wed\", \"thu\", \"sun\" ]; start = \"18:00\"; },\n"
	    "      { id = \"night\"; days = [ \"sun\", \"sat\" ]; start = \"02:30\";\n"
	    "        reminders = ( { before = \"1d\"; channels = [ \"term\" ]; }, { before = \"1h30m\"; channels = [ \"sms\" ]; } ); },\n"
	    "      { id = \"early\"; days = [ \"tue\", \"fri\" ]; start = \"08:15\";\n"
	    "        reminders = ( { before = \"2w\"; at = \"23:30\"; channels = [ \"sms\", \"term\" ]; } ); },\n"
	    /* `at` after the event: for tyo, the next day */
	    "      { id = \"odd\"; days = [ \"fri\" ]; start = \"18:00\";\n"
	    "        reminders = ( { before = \"1h\"; at = \"23:00\"; channels = [ \"term\" ]; } ); } );\n"
	    "    reminders = ( { before = \"1d\"; at = \"19:00\"; channels = [ \"sms\" ]; },\n"
	    "      { before = \"2h\"; channels = [ \"term\" ]; }, { before = \"3d5h\"; channels = [ \"term\" ]; } );\n"
	    "    aftercare = { at = \"07:30\"; after = [ \"30d\", \"1d\", \"1w\" ]; channels = [ \"sms\", \"term\" ]; }; },\n"
	    "  { id = \"lh\"; timezone = \"Australia/Lord_Howe\"; weeks = 30;\n"
	    "    sessions = ( { id = \"am\"; days = [ \"mon\", \"tue\", \"wed\", \"thu\", \"fri\" ]; start = \"01:45\"; },\n"
	    "      { id = \"pm\"; days = [ \"sat\" ]; start = \"23:50\"; } );\n"
	    "    reminders = ( { before = \"1d\"; at = \"02:15\"; channels = [ \"term\" ]; }, { before = \"50m\"; channels = [ \"sms\" ]; } ); } );\n"
	    "patients = (\n"
	    "  { id = \"ny1\"; program = \"ny\"; start = \"2026-02-20\"; discharge = \"2026-04-10\"; phone = \"+13125550001\";\n"
	    "    absences = [ \"2026-03-08\" ];\n"
	    "    appointments = ( { at = \"2026-03-08 02:30\"; type = \"a\"; }, { at = \"2026-03-08 03:30\"; type = \"b\"; },\n"
	    "      { at = \"2026-03-08 02:30\"; type = \"c\"; reminders = ( { before = \"1d\"; at = \"00:00\"; channels = [ \"sms\" ]; } ); },\n"
	    "      { at = \"2026-11-01 01:30\"; type = \"d\"; }, { at = \"2026-02-01 12:00\"; type = \"e\"; } );\n"
	    "    medications = ( { label = \"m\"; times = [ \"23:59\", \"00:00\", \"02:30\", \"01:59\", \"03:00\" ]; channels = [ \"sms\" ];\n"
	    "      from = \"2026-02-25\"; until = \"2026-11-10\"; } ); },\n"
	    "  { id = \"tyo\"; program = \"ny\"; start = \"2026-10-20\"; timezone = \"Asia/Tokyo\"; phone = \"+81312345678\";\n"
	    "    quiet_hours = { from = \"20:00\"; to = \"09:30\"; };\n"
	    "    medications = ( { label = \"n\"; times = [ \"08:00\", \"20:00\" ]; channels = [ \"term\" ]; } ); },\n"
	    "  { id = \"nz\"; program = \"ny\"; start = \"2026-03-01\"; timezone = \"Pacific/Chatham\";\n"
	    "    quiet_hours = { from = \"12:00\"; to = \"13:00\"; }; },\n"
	    "  { id = \"ktm\"; program = \"lh\"; start = \"2026-03-20\"; timezone = \"Asia/Kathmandu\";\n"
	    "    appointments = ( { at = \"2026-04-05 02:15\"; type = \"x\"; } );\n"
	    "    medications = ( { label = \"k\"; times = [ \"06:00\" ]; channels = [ \"sms\" ]; } ); },\n"
	    "  { id = \"lhp\"; program = \"lh\"; start = \"2026-09-20\"; timezone = \"Australia/Lord_Howe\";\n"
	    "    quiet_hours = { from = \"01:50\"; to = \"02:10\"; }; },\n"
	    "  { id = \"stj\"; program = \"lh\"; start = \"2026-10-01\"; discharge = \"2026-11-20\"; timezone = \"America/St_Johns\";\n"
	    "    quiet_hours = { from = \"00:00\"; to = \"00:00\"; }; }\n"
	    ");\n");
	struct rows rs = walk(s, T_BEGIN, T_END, NULL);

	(void)state;
	assert_true(rs.n > 1000);
	check_order(&rs);
	free(rs.v);
	snapshot_unref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sessions_days_closures_enrollment, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_before_across_dst, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_at_in_patient_zone, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_quiet_hours, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_quiet_hours_local_dst, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_statuses_first_match, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_medication, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_medication_once_a_day, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_aftercare, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_appointments, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_agenda_order, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_agenda_order_reversed, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_agenda_wide_window, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_seek_rich_calendar, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_patient_ids, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_table_streams, unit_setup, unit_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	tz_cleanup();
	return rc;
}
