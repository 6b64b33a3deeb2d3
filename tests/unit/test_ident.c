/* test_ident.c - daemon/ident.c and the stability of reminder ids (SPEC 5,
 * docs/ids.md).
 *
 * The SipHash-2-4 vectors are the reference implementation's (key 00..0f,
 * message 00..n-1); the expected ids of docs/ids.md were computed by an
 * independent Python transcription of that document.  The stability tests
 * go end to end: two configuration files through conf_load and the
 * calendar, compared reminder by reminder. */
#include "config.h"

#include "unit.h"

#include "agenda.h"
#include "calendar.h"
#include "ident.h"

/* SipHash-2-4, key 00 01 .. 0f, message 00 01 .. (n-1), n = 0..63. */
static const uint64_t sip_vectors[64] = {
	0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
	0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
	0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
	0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL, 0xa129ca6149be45e5ULL,
	0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL, 0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL,
	0xbed65cf21aa2ee98ULL, 0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
	0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL, 0x2f2e6163076bcfadULL,
	0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL, 0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL,
	0x7127512f72f27cceULL, 0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
	0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL, 0x9abfd8766a33735cULL,
	0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL, 0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL,
	0xf935451de4f21df2ULL, 0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
	0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL, 0xa192d576b245165aULL,
	0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL, 0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL,
	0xb78dbfaf3a8d83bdULL, 0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
	0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL, 0x958a324ceb064572ULL,
};

/* The key bytes 00..0f as SipHash's two little-endian words. */
static const uint64_t sip_key[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

static void test_siphash_official(void **state)
{
	unsigned char msg[64];
	size_t n;

	(void)state;
	for (n = 0; n < sizeof msg; n++)
		msg[n] = (unsigned char)n;
	/* the two vectors quoted everywhere */
	assert_true(siphash24(sip_key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(siphash24(sip_key, msg, 15) == 0xa129ca6149be45e5ULL);
	assert_true(siphash24(sip_key, "", 0) == 0x726fdb47dd0e0e31ULL);
	for (n = 0; n < 64; n++)
		if (siphash24(sip_key, msg, n) != sip_vectors[n])
			fail_msg("length %zu: %016llx, expected %016llx", n,
			    (unsigned long long)siphash24(sip_key, msg, n), (unsigned long long)sip_vectors[n]);
}

static void test_siphash_unaligned(void **state)
{
	unsigned char buf[80];
	size_t n, off;

	(void)state;
	/* the reading is byte-wise: any alignment gives the same result */
	for (off = 1; off < 8; off++) {
		for (n = 0; n < 64; n++)
			buf[off + n] = (unsigned char)n;
		for (n = 0; n < 64; n++)
			assert_true(siphash24(sip_key, buf + off, n) == sip_vectors[n]);
	}
}

/* docs/ids.md, computed independently. */
static void test_documented_ids(void **state)
{
	static const struct {
		const char *f[5];
		int64_t occ;
		uint64_t series, id;
	} v[] = {
		/* SPEC 5's example reminder: event 2026-12-01T00:00:00Z */
		{{"p-0001", "session", "iop-evening/group", "1d@19:00", "sms"}, 1796083200,
		    0x4c0445dce52c737cULL, 0x1f9b27545e8a1644ULL},
		{{"p-0001", "session", "iop-evening/group", "1d@19:00", "sms"}, 1796162400,
		    0x4c0445dce52c737cULL, 0xb310092484ddb7beULL},
		{{"p-0001", "aftercare", "aftercare", "", "term"}, 0,
		    0x33a154e259a296ceULL, 0x4f51f3fb0c39970bULL},
		{{"", "", "", "", ""}, 0, 0xac6675673a8f70c9ULL, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint64_t s = ident_series(v[i].f[0], v[i].f[1], v[i].f[2], v[i].f[3], v[i].f[4]);
		if (s != v[i].series)
			fail_msg("series %zu: %016llx", i, (unsigned long long)s);
		if (v[i].id && ident_reminder(s, v[i].occ) != v[i].id)
			fail_msg("id %zu: %016llx", i, (unsigned long long)ident_reminder(s, v[i].occ));
	}
	/* a negative occurrence: 8 bytes of two's complement */
	assert_true(ident_reminder(ident_series("p-0001", "medication", "morning dose", "", "sms"), -1) ==
	    0xcfafbefc8c3db003ULL);
	/* NULL fields are empty ones */
	assert_true(ident_series(NULL, NULL, NULL, NULL, NULL) == 0xac6675673a8f70c9ULL);
}

static void test_series_fields_apart(void **state)
{
	char big[601];
	uint64_t a, b;

	(void)state;
	/* the NUL separators keep fields apart */
	a = ident_series("ab", "session", "c", "1d", "sms");
	b = ident_series("a", "session", "bc", "1d", "sms");
	assert_true(a != b);
	a = ident_series("p", "session", "x/y", "1d", "sms");
	b = ident_series("p", "session", "x/y", "1d", "sm");
	assert_true(a != b);
	/* every field counts */
	a = ident_series("p", "session", "s", "1d", "sms");
	assert_true(a != ident_series("q", "session", "s", "1d", "sms"));
	assert_true(a != ident_series("p", "appointment", "s", "1d", "sms"));
	assert_true(a != ident_series("p", "session", "t", "1d", "sms"));
	assert_true(a != ident_series("p", "session", "s", "2d", "sms"));
	assert_true(a != ident_series("p", "session", "s", "1d", "email"));
	assert_true(ident_reminder(a, 100) != ident_reminder(a, 101));
	/* longer than the stack buffer: same construction (computed independently) */
	memset(big, 'p', 600);
	big[600] = '\0';
	a = ident_series(big, "appointment", "family", "2h", "email");
	assert_true(a == 0x2d3df7cf7d3fcf13ULL);
	assert_true(ident_reminder(a, 1796083200) == 0x47fd204d5781c355ULL);
}

static void test_hex_round_trip(void **state)
{
	static const uint64_t v[] = {
		0, 1, 0x9f2c41d07ab3e815ULL, 0xffffffffffffffffULL, 0x0123456789abcdefULL,
		0x8000000000000000ULL, 0x00000000000000f0ULL,
	};
	static const char *const bad[] = {
		"", "9f2c41d07ab3e81", "9f2c41d07ab3e8155", "9F2C41D07AB3E815", "9f2c41d07ab3e81g",
		" 9f2c41d07ab3e81", "9f2c41d07ab3e815 ", "0x9f2c41d07ab3e8", "-f2c41d07ab3e815",
	};
	char buf[IDENT_HEX_LEN + 1];
	uint64_t id;
	size_t i;

	(void)state;
	ident_hex(0x9f2c41d07ab3e815ULL, buf);
	assert_string_equal(buf, "9f2c41d07ab3e815");
	ident_hex(1, buf);
	assert_string_equal(buf, "0000000000000001");   /* always 16 digits */
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		ident_hex(v[i], buf);
		assert_int_equal(strlen(buf), IDENT_HEX_LEN);
		assert_int_equal(ident_parse(buf, &id), 0);
		assert_true(id == v[i]);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		id = 42;
		if (ident_parse(bad[i], &id) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(id == 42);
	}
}

/* ---- end to end: ids through conf_load and the calendar ------------------- */

/* The clinic every variant below edits. */
static const char base_conf[] =
	"daemon = { timezone = \"America/Chicago\"; quiet_hours = { from = \"21:00\"; to = \"08:00\"; }; };\n"
	"channels = ( { name = \"sms\"; module = \"sms\"; }, { name = \"email\"; module = \"smtp\"; },\n"
	"  { name = \"term\"; module = \"console\"; } );\n"
	"templates = { session = { sms = \"See you {day} at {time}.\"; };\n"
	"  medication = { sms = \"Time for your {label}.\"; };\n"
	"  aftercare = { sms = \"Checking in.\"; }; };\n"
	"programs = (\n"
	"  { id = \"iop-evening\"; name = \"Evening\";\n"
	"    sessions = ( { id = \"group\"; days = [\"mon\", \"wed\", \"thu\"]; start = \"18:00\"; location = \"Room 2\"; },\n"
	"      { id = \"indiv\"; days = [\"tue\"]; start = \"17:00\";\n"
	"        reminders = ( { before = \"1d\"; channels = [\"sms\"]; } ); } );\n"
	"    reminders = ( { before = \"1d\"; at = \"19:00\"; channels = [\"sms\", \"email\"]; },\n"
	"      { before = \"2h\"; channels = [\"sms\", \"term\"]; } );\n"
	"    aftercare = { at = \"10:00\"; after = [\"7d\", \"30d\"]; channels = [\"sms\"]; }; }\n"
	");\n"
	"patients = (\n"
	"  { id = \"p-0001\"; first_name = \"Alex\"; phone = \"+12125554567\"; email = \"alex@example.org\";\n"
	"    timezone = \"America/Denver\"; program = \"iop-evening\"; start = \"2026-11-30\"; discharge = \"2026-12-20\";\n"
	"    appointments = ( { at = \"2026-12-03 16:00\"; type = \"family\"; },\n"
	"      { id = \"intake\"; at = \"2026-11-30 09:00\"; type = \"individual\"; } );\n"
	"    medications = ( { label = \"morning dose\"; times = [\"08:00\"]; channels = [\"sms\"]; } ); }\n"
	");\n";

/* The same clinic, edited in every way that must not change an id: other
 * patients (before and after), other programs, template texts, quiet hours
 * (dues move, occurrences do not), names, locations, and every list and
 * group written in another order. */
static const char edited_conf[] =
	"templates = { aftercare = { sms = \"Hello {first_name}, how are you?\"; };\n"
	"  medication = { sms = \"Reminder: {label} at {time}.\"; es = { sms = \"{label}\"; }; };\n"
	"  session = { sms = \"{first_name}: {day} {time} {location}\"; email_subject = \"Hi\"; }; };\n"
	"channels = ( { name = \"term\"; module = \"console\"; }, { name = \"ehr\"; module = \"webhook\"; },\n"
	"  { name = \"email\"; module = \"smtp\"; timeout = \"30s\"; }, { name = \"sms\"; module = \"sms\"; rate = 2.0; } );\n"
	"daemon = { quiet_hours = { from = \"22:30\"; to = \"07:15\"; }; timezone = \"America/Chicago\"; clinic_phone = \"+13125559999\"; };\n"
	"programs = (\n"
	"  { id = \"php-day\"; sessions = ( { id = \"group\"; days = [\"mon\"]; start = \"09:00\"; } );\n"
	"    reminders = ( { before = \"1d\"; channels = [\"sms\"]; } ); },\n"
	"  { aftercare = { channels = [\"sms\"]; after = [\"7d\", \"30d\"]; at = \"10:00\"; };\n"
	"    reminders = ( { channels = [\"term\", \"sms\"]; before = \"2h\"; },\n"
	"      { channels = [\"email\", \"sms\"]; at = \"19:00\"; before = \"1d\"; } );\n"
	"    sessions = ( { id = \"indiv\"; days = [\"tue\"]; start = \"17:00\"; type = \"individual\";\n"
	"        reminders = ( { before = \"1d\"; channels = [\"sms\"]; } ); },\n"
	"      { id = \"group\"; days = [\"thu\", \"mon\", \"wed\"]; start = \"18:00\"; location = \"Room 5\"; } );\n"
	"    name = \"Evenings\"; id = \"iop-evening\"; weeks = 8; }\n"
	");\n"
	"patients = (\n"
	"  { id = \"p-0000\"; program = \"iop-evening\"; start = \"2026-11-30\"; phone = \"+13125550000\"; },\n"
	"  { program = \"php-day\"; id = \"a-first\"; start = \"2026-11-30\"; },\n"
	"  { medications = ( { channels = [\"sms\"]; times = [\"08:00\"]; label = \"morning dose\"; } );\n"
	"    appointments = ( { id = \"intake\"; type = \"individual\"; at = \"2026-11-30 09:00\"; location = \"B\"; },\n"
	"      { type = \"family\"; at = \"2026-12-03 16:00\"; duration = \"1h\"; } );\n"
	"    discharge = \"2026-12-20\"; start = \"2026-11-30\"; program = \"iop-evening\"; timezone = \"America/Denver\";\n"
	"    email = \"alex@example.org\"; phone = \"+13055556543\"; first_name = \"Alexandra\"; language = \"es\";\n"
	"    id = \"p-0001\"; },\n"
	"  { id = \"p-0002\"; program = \"iop-evening\"; start = \"2026-12-07\"; email = \"b@example.org\"; }\n"
	");\n";

struct idrow {
	char key[200];                 /* what identifies the reminder, spelled out */
	char lead[32], channel[32], kind[16];
	uint64_t id;
};

struct idset {
	struct idrow *v;
	size_t n, cap;
};

static int collect(const struct snapshot *s, const struct agenda_row *r, void *arg)
{
	struct idset *set = arg;
	struct idrow *x;
	char ev[FMT_UTC_LEN + 1];

	if (set->n == set->cap) {
		set->cap = set->cap ? 2 * set->cap : 64;
		set->v = realloc(set->v, set->cap * sizeof *set->v);
		assert_non_null(set->v);
	}
	x = &set->v[set->n++];
	fmt_utc(r->o->event, ev);
	snprintf(x->key, sizeof x->key, "%s|%s|%s|%s|%s|%s", r->o->patient->id, kind_names[r->o->kind],
	    r->o->series, r->o->lead_key, s->channels[r->ch].name, ev);
	snprintf(x->lead, sizeof x->lead, "%s", r->o->lead_key);
	snprintf(x->channel, sizeof x->channel, "%s", s->channels[r->ch].name);
	snprintf(x->kind, sizeof x->kind, "%s", kind_names[r->o->kind]);
	x->id = r->id;
	return 0;
}

/* Every reminder of patient `pid` in a configuration text. */
static struct idset ids_of(const char *text, const char *pid)
{
	struct idset set = {0};
	struct snapshot *s = unit_load_ok(unit_dir, text);
	int64_t p = snapshot_patient(s, pid);

	assert_true(p >= 0);
	agenda_walk(s, unit_t("2026-01-01T00:00:00Z"), unit_t("2028-01-01T00:00:00Z"), p, collect, &set);
	snapshot_unref(s);
	assert_true(set.n > 0);
	return set;
}

static const struct idrow *find_key(const struct idset *set, const char *key)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->v[i].key, key) == 0)
			return &set->v[i];
	return NULL;
}

static bool has_id(const struct idset *set, uint64_t id)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->v[i].id == id)
			return true;
	return false;
}

/* Replaces the one occurrence of `from` in `text`; to free. */
static char *edit(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
	char *r = malloc(n);

	if (!at)
		fail_msg("the test's edit \"%s\" matches nothing", from);
	assert_non_null(r);
	assert_null(strstr(at + 1, from));
	snprintf(r, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	return r;
}

static void test_ids_unique_and_stable_across_loads(void **state)
{
	struct idset a = ids_of(base_conf, "p-0001"), b = ids_of(base_conf, "p-0001");
	size_t i, j;

	(void)state;
	/* every kind is there: sessions under three rules, appointments,
	 * medication, aftercare */
	assert_true(a.n > 40);
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++) {
		assert_string_equal(a.v[i].key, b.v[i].key);
		assert_true(a.v[i].id == b.v[i].id);
		for (j = 0; j < i; j++)
			if (a.v[i].id == a.v[j].id)
				fail_msg("%s and %s share the id %016llx", a.v[i].key, a.v[j].key,
				    (unsigned long long)a.v[i].id);
	}
	free(a.v);
	free(b.v);
}

static void test_ids_survive_unrelated_edits(void **state)
{
	struct idset a = ids_of(base_conf, "p-0001"), b = ids_of(edited_conf, "p-0001");
	size_t i;
	int kinds[KIND_COUNT] = {0};

	(void)state;
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++) {
		const struct idrow *x = find_key(&b, a.v[i].key);
		int k;
		if (!x)
			fail_msg("%s is gone after the edits", a.v[i].key);
		if (x->id != a.v[i].id)
			fail_msg("%s: id %016llx became %016llx", a.v[i].key, (unsigned long long)a.v[i].id,
			    (unsigned long long)x->id);
		for (k = 0; k < KIND_COUNT; k++)
			kinds[k] += strcmp(a.v[i].kind, kind_names[k]) == 0;
	}
	for (i = 0; i < KIND_COUNT; i++)
		assert_true(kinds[i] > 0);
	free(a.v);
	free(b.v);
}

/* Edits that change what identifies some reminders: exactly those get new
 * ids, the others keep theirs. */
static void test_ids_change_with_identity(void **state)
{
	static const struct {
		const char *from, *to;
		const char *lead, *channel, *match;  /* the rows that change: this lead, this
		                                      * channel, a key with this part (NULL: any) */
		const char *from2, *to2;             /* a second edit to go with the first */
	} v[] = {
		/* the lead */
		{"before = \"2h\"", "before = \"3h\"", "2h", NULL, NULL},
		{"before = \"1d\"; at = \"19:00\"", "before = \"2d\"; at = \"19:00\"", "1d@19:00", NULL, NULL},
		/* `at` is part of the lead key */
		{"at = \"19:00\"", "at = \"20:00\"", "1d@19:00", NULL, NULL},
		/* the channel's name */
		{"{ name = \"term\"; module = \"console\"; }", "{ name = \"console\"; module = \"console\"; }",
		    NULL, "term", NULL, "[\"sms\", \"term\"]", "[\"sms\", \"console\"]"},
		/* the occurrence: the sessions' start, an appointment's time */
		{"start = \"18:00\"", "start = \"18:30\"", NULL, NULL, "|session|iop-evening/group|"},
		{"at = \"2026-12-03 16:00\"", "at = \"2026-12-03 16:30\"", NULL, NULL, "|appointment|family|"},
		/* a medication time: its occurrence */
		{"times = [\"08:00\"]", "times = [\"08:05\"]", NULL, NULL, "|medication|"},
		/* the medication's label is its series */
		{"label = \"morning dose\"", "label = \"am dose\"", NULL, NULL, "|medication|"},
		/* an appointment's key: its id, else its type */
		{"type = \"family\"", "type = \"family-therapy\"", NULL, NULL, "|appointment|family|"},
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		char *text = edit(base_conf, v[i].from, v[i].to);
		struct idset a, b;
		size_t changed = 0;

		if (v[i].from2) {
			char *t2 = edit(text, v[i].from2, v[i].to2);
			free(text);
			text = t2;
		}
		a = ids_of(base_conf, "p-0001");
		b = ids_of(text, "p-0001");
		for (j = 0; j < a.n; j++) {
			bool want = (!v[i].lead || strcmp(a.v[j].lead, v[i].lead) == 0) &&
			    (!v[i].channel || strcmp(a.v[j].channel, v[i].channel) == 0) &&
			    (!v[i].match || strstr(a.v[j].key, v[i].match));
			bool gone = !has_id(&b, a.v[j].id);
			if (want != gone)
				fail_msg("edit %zu (%s -> %s): %s %s", i, v[i].from, v[i].to, a.v[j].key,
				    gone ? "changed its id" : "kept its id");
			changed += gone;
		}
		assert_true(changed > 0);
		free(a.v);
		free(b.v);
		free(text);
	}
}

/* Texts that mean the same lead give the same ids (docs/ids.md: the
 * canonical `before`). */
static void test_ids_follow_canonical_lead(void **state)
{
	char *t1 = edit(base_conf, "before = \"2h\"", "before = \"120m\"");
	char *t2 = edit(base_conf, "before = \"1d\"; channels", "before = \"24h\"; channels");
	struct idset a = ids_of(base_conf, "p-0001"), b = ids_of(t1, "p-0001"), c = ids_of(t2, "p-0001");
	size_t i;

	(void)state;
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++)
		assert_true(has_id(&b, a.v[i].id));
	/* "1d" and "24h" are different leads (calendar vs exact): new ids for
	 * the Tuesday series that used "1d", whose due also moves only across
	 * a DST change */
	for (i = 0; i < a.n; i++)
		if (strstr(a.v[i].key, "|iop-evening/indiv|"))
			assert_false(has_id(&c, a.v[i].id));
		else
			assert_true(has_id(&c, a.v[i].id));
	free(a.v);
	free(b.v);
	free(c.v);
	free(t1);
	free(t2);
}

/* The patient's id is part of every id; other patients' ids never collide
 * with the same schedule's. */
static void test_ids_per_patient(void **state)
{
	char *text = edit(base_conf, "id = \"p-0001\"", "id = \"p-0009\"");
	struct idset a = ids_of(base_conf, "p-0001"), b = ids_of(text, "p-0009");
	size_t i;

	(void)state;
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++)
		assert_false(has_id(&b, a.v[i].id));
	free(a.v);
	free(b.v);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_official),
		cmocka_unit_test(test_siphash_unaligned),
		cmocka_unit_test(test_documented_ids),
		cmocka_unit_test(test_series_fields_apart),
		cmocka_unit_test(test_hex_round_trip),
		cmocka_unit_test_setup_teardown(test_ids_unique_and_stable_across_loads, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_ids_survive_unrelated_edits, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_ids_change_with_identity, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_ids_follow_canonical_lead, unit_setup, unit_teardown),
		cmocka_unit_test_setup_teardown(test_ids_per_patient, unit_setup, unit_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	tz_cleanup();
	return rc;
}
