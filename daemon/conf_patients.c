/* conf_patients.c - patients = ( { id = ...; program = ...; start = ...; ... }, ... )
 *
 * Errors inside a patient are written with the patient's place, id and
 * key path (conf_path): `patients[3] id "p-0004": medications[0].times[1]:
 * bad time "8am": ...`, so an admin finds the patient in a long file. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf_parts.h"
#include "conf_read.h"
#include "lang.h"
#include "phone.h"
#include "safetext.h"
#include "timefmt.h"

static const char *const patient_keys[] = {
	"id", "first_name", "phone", "email", "timezone", "language", "program", "start",
	"discharge", "absences", "appointments", "medications", "channels", "opt_out",
	"quiet_hours", "paused", NULL
};
static const char *const appt_keys[] = {
	"id", "at", "type", "duration", "location", "template", "reminders", NULL
};
static const char *const med_keys[] = {"label", "times", "channels", "from", "until", "template", NULL};

static int parse_appt(struct conf_ctx *c, const config_setting_t *g, const struct program *p,
    struct appointment *a)
{
	const config_setting_t *m;
	const char *at = NULL, *id = NULL;
	struct dur d = {0, 0};
	int64_t wall;
	int bad;
	uint16_t i;

	if (conf_expect(c, g, CONFIG_TYPE_GROUP, "a group { at = \"2026-12-03 16:00\"; type = ...; }"))
		return 1;
	bad = conf_check_keys(c, g, appt_keys);
	bad += conf_string(c, g, "id", false, &id) == CONF_BAD;
	bad += conf_string(c, g, "type", false, &a->type) == CONF_BAD;
	bad += conf_string(c, g, "location", false, &a->location) == CONF_BAD;
	bad += conf_dur(c, g, "duration", false, &d, NULL) == CONF_BAD;
	a->duration = (int32_t)dur_approx_secs(d);
	bad += conf_template_ref(c, g, "template", NULL, &a->tmpl);
	a->rules = p->rules;
	if ((m = conf_member(g, "reminders")))
		bad += conf_parse_rules(c, m, &a->rules);
	if (conf_string(c, g, "at", true, &at) != CONF_OK) {
		bad++;
	} else if (parse_date_hhmm(at, &wall)) {
		const config_setting_t *as = conf_member(g, "at");
		char where[256];
		errs_set(c->errs, as, "%s: bad time \"%s\": write \"YYYY-MM-DD HH:MM\" (the program's "
		    "local time)", conf_path(as, where, sizeof where), at);
		bad++;
	} else {
		a->at = tz_from_wall(p->tz, wall);
	}
	a->key = id ? id : a->type ? a->type : "";
	for (i = 0; !bad && i < a->rules.n; i++)
		if (a->rules.v[i].tmpl < 0 && a->tmpl < 0 && c->snap->default_tmpl[KIND_APPOINTMENT] < 0) {
			int32_t dummy;
			return conf_template_ref(c, g, "template", "session", &dummy);
		}
	return bad;
}

static int cmp_appt(const void *x, const void *y)
{
	const struct appointment *a = x, *b = y;
	return (a->at > b->at) - (a->at < b->at);
}

static int parse_appts(struct conf_ctx *c, const config_setting_t *list, const struct program *p,
    struct patient *pt)
{
	int i, n, bad = 0;

	if (conf_expect(c, list, CONFIG_TYPE_LIST, "a list ( { at = ...; }, ... )"))
		return 1;
	n = config_setting_length(list);
	if (n > 65535) {
		errs_set(c->errs, list, "too many appointments (at most 65535)");
		return 1;
	}
	pt->appts = arena_alloc(&c->snap->arena, sizeof *pt->appts * (size_t)(n ? n : 1));
	for (i = 0; i < n; i++)
		bad += parse_appt(c, config_setting_get_elem(list, (unsigned)i), p, &pt->appts[i]);
	pt->nappts = (uint16_t)n;
	qsort(pt->appts, pt->nappts, sizeof *pt->appts, cmp_appt);
	return bad;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

static int parse_times(struct conf_ctx *c, const config_setting_t *g, struct medication *m)
{
	const config_setting_t *ts = NULL;
	uint32_t n, i, k = 0;
	int bad = 0;
	char where[256];

	if (conf_string_list(c, g, "times", true, &ts) != CONF_OK)
		return 1;
	n = (uint32_t)config_setting_length(ts);
	m->times = arena_alloc(&c->snap->arena, sizeof *m->times * (n ? n : 1));
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(ts, i);
		const char *v = config_setting_get_string(e);
		if (parse_hhmm(v, &m->times[k]) == 0) {
			k++;
		} else {
			errs_set(c->errs, e, "%s: bad time \"%s\": write HH:MM on a 24-hour clock, 00:00 to 23:59",
			    conf_path(e, where, sizeof where), v);
			bad++;
		}
	}
	if (!n) {
		errs_set(c->errs, ts, "%s: empty list: give at least one time",
		    conf_path(ts, where, sizeof where));
		bad++;
	}
	qsort(m->times, k, sizeof *m->times, cmp_i32);
	for (i = 0, n = 0; i < k; i++)
		if (!n || m->times[n - 1] != m->times[i])
			m->times[n++] = m->times[i];
	m->ntimes = (uint16_t)n;
	return bad;
}

static int parse_med(struct conf_ctx *c, const config_setting_t *g, const struct patient *pt,
    struct medication *m)
{
	char where[256];
	int bad;

	if (conf_expect(c, g, CONFIG_TYPE_GROUP, "a group { label = ...; times = [...]; channels = [...]; }"))
		return 1;
	bad = conf_check_keys(c, g, med_keys);
	bad += conf_string(c, g, "label", true, &m->label) != CONF_OK;
	bad += parse_times(c, g, m);
	if (conf_channels(c, g, "channels", true, &m->rule.channels) != CONF_OK) {
		bad++;
	} else if (!m->rule.channels) {
		/* as for reminder rules: an empty list would silently send nothing */
		const config_setting_t *cs = conf_member(g, "channels");
		errs_set(c->errs, cs, "%s: empty channel list: name at least one channel",
		    conf_path(cs, where, sizeof where));
		bad++;
	}
	conf_rule_channels(c, &m->rule);
	m->rule.at = -1;
	bad += conf_template_ref(c, g, "template", "medication", &m->rule.tmpl);
	m->from = pt->start;
	m->until = pt->end;
	bad += conf_date(c, g, "from", false, &m->from) == CONF_BAD;
	bad += conf_date(c, g, "until", false, &m->until) == CONF_BAD;
	if (!bad && m->until < m->from) {
		/* at `until`, or at `from` when until is the enrollment's end;
		 * with neither, the enrollment itself ends before it starts,
		 * which is said at its discharge */
		const config_setting_t *at = conf_member(g, "until");
		const config_setting_t *from = conf_member(g, "from");
		if (at)
			errs_set(c->errs, at, "%s: is before from", conf_path(at, where, sizeof where));
		else if (from)
			errs_set(c->errs, from, "%s: is after the end of the enrollment (until's default)",
			    conf_path(from, where, sizeof where));
		bad++;
	}
	return bad;
}

static int parse_meds(struct conf_ctx *c, const config_setting_t *list, struct patient *pt)
{
	int i, n, bad = 0;

	if (conf_expect(c, list, CONFIG_TYPE_LIST, "a list ( { label = ...; times = [...]; }, ... )"))
		return 1;
	n = config_setting_length(list);
	if (n > 65535) {
		errs_set(c->errs, list, "too many medications (at most 65535)");
		return 1;
	}
	pt->meds = arena_alloc(&c->snap->arena, sizeof *pt->meds * (size_t)(n ? n : 1));
	for (i = 0; i < n; i++)
		bad += parse_med(c, config_setting_get_elem(list, (unsigned)i), pt, &pt->meds[i]);
	pt->nmeds = (uint16_t)n;
	return bad;
}

/* A number as written ("(312) 555-0101" in daemon.default_country, or
 * "+1 312 555 0101") becomes E.164 in the snapshot; an invalid one is an
 * error that names the patient and the number's country, never the
 * number (SPEC 7). */
static int parse_phone(struct conf_ctx *c, const config_setting_t *g, struct patient *pt)
{
	const config_setting_t *ps = conf_member(g, "phone");
	struct phone_result pc;
	char where[256];

	if (phone_check(pt->phone, c->snap->default_country, &pc) != 0) {
		errs_set(c->errs, ps, "%s: not a valid phone number: %s", conf_path(ps, where, sizeof where),
		    pc.why);
		pt->phone = NULL;
		return 1;
	}
	pt->phone = intern(&c->snap->strings, pc.e164);
	return 0;
}

static int parse_contact(struct conf_ctx *c, const config_setting_t *g, struct patient *pt)
{
	int bad = conf_string(c, g, "phone", false, &pt->phone) == CONF_BAD;
	char where[256];

	bad += conf_string(c, g, "email", false, &pt->email) == CONF_BAD;
	if (pt->phone)
		bad += parse_phone(c, g, pt);
	if (pt->email && !conf_email_ok(pt->email)) {
		const config_setting_t *es = conf_member(g, "email");
		errs_set(c->errs, es, "%s: not an e-mail address like name@example.org",
		    conf_path(es, where, sizeof where));
		bad++;
	}
	return bad;
}

/* " (did you mean "iop-evening"?)" for an unknown program id. */
static const char *program_hint(const struct snapshot *s, const char *id, char *buf, size_t len)
{
	const char **names = xreallocarray(NULL, (size_t)s->nprograms + 1, sizeof *names);
	const char *hint;
	uint16_t i;

	for (i = 0; i < s->nprograms; i++)
		names[i] = s->programs[i].id;
	hint = conf_did_you_mean(id, names, s->nprograms, buf, len);
	free(names);
	return hint;
}

/* The index of the program with interned id `id` (snapshot_program()):
 * the programs' ids are interned too (and unique), so the address names
 * one.  A strcmp through 210 programs for each patient was 6% of loading
 * 100,000; here the addresses are sorted once, then searched. */
static int cmp_addr(const void *a, const void *b, void *arg)
{
	const struct snapshot *s = arg;
	uintptr_t x = (uintptr_t)s->programs[*(const uint16_t *)a].id;
	uintptr_t y = (uintptr_t)s->programs[*(const uint16_t *)b].id;

	return (x > y) - (x < y);
}

static int program_index(struct conf_ctx *c, const char *id)
{
	struct snapshot *s = c->snap;
	uint16_t i, lo = 0, hi = s->nprograms;

	if (!c->prog_of) {
		c->prog_of = xreallocarray(NULL, s->nprograms + 1u, sizeof *c->prog_of);
		for (i = 0; i < s->nprograms; i++)
			c->prog_of[i] = i;
		qsort_r(c->prog_of, s->nprograms, sizeof *c->prog_of, cmp_addr, s);
	}
	while (lo < hi) {                      /* the first at or after id */
		uint16_t mid = (uint16_t)(lo + (hi - lo) / 2);
		if ((uintptr_t)s->programs[c->prog_of[mid]].id < (uintptr_t)id)
			lo = (uint16_t)(mid + 1);
		else
			hi = mid;
	}
	return lo < s->nprograms && s->programs[c->prog_of[lo]].id == id ? c->prog_of[lo] : -1;
}

static int parse_enrollment(struct conf_ctx *c, const config_setting_t *g, struct patient *pt,
    const struct program **prog)
{
	const char *pid = NULL;
	char where[256], hint[96];
	int bad = 0, idx;

	*prog = NULL;
	if (conf_string(c, g, "program", true, &pid) != CONF_OK)
		bad++;
	else if ((idx = program_index(c, pid)) < 0) {
		const config_setting_t *ps = conf_member(g, "program");
		errs_set(c->errs, ps, "%s: unknown program \"%s\"%s (define it in programs = ( ... ))",
		    conf_path(ps, where, sizeof where), pid, program_hint(c->snap, pid, hint, sizeof hint));
		bad++;
	} else {
		pt->program = (uint16_t)idx;
		*prog = &c->snap->programs[idx];
	}
	if (conf_date(c, g, "start", true, &pt->start) != CONF_OK)
		return bad + 1;
	pt->end = *prog ? pt->start + 7 * (*prog)->weeks - 1 : pt->start;
	bad += conf_date(c, g, "discharge", false, &pt->end) == CONF_BAD;
	if (pt->end < pt->start) {
		const config_setting_t *ds = conf_member(g, "discharge");
		errs_set(c->errs, ds, "%s: is before start", conf_path(ds, where, sizeof where));
		bad++;
	}
	return bad;
}

static int parse_patient(struct conf_ctx *c, const config_setting_t *g, struct patient *pt)
{
	const struct program *prog;
	const config_setting_t *m;
	uint32_t n = 0;
	int bad;

	if (conf_expect(c, g, CONFIG_TYPE_GROUP, "a group { id = ...; program = ...; start = ...; }"))
		return 1;
	pt->file = intern(&c->snap->strings, setting_file(c->errs, g));
	pt->line = setting_line(c->errs, g);
	bad = conf_check_keys(c, g, patient_keys);
	if (conf_string_copy(c, g, "id", true, &pt->id) != CONF_OK || !*pt->id) {
		char where[256];
		if (pt->id)
			errs_set(c->errs, conf_member(g, "id"), "%s: the patient id is empty",
			    conf_path(conf_member(g, "id"), where, sizeof where));
		return bad + 1;
	}
	if (!safe_id(pt->id)) {
		/* ids go into the log, the ledger and iopctl arguments as they are */
		errs_set(c->errs, conf_member(g, "id"), "patient id \"%s\": use "
		    SAFE_ID_RULE " (e.g. \"p-00042\")", pt->id);
		pt->id = NULL;
		return bad + 1;
	}
	bad += conf_string(c, g, "first_name", false, &pt->first_name) == CONF_BAD;
	bad += parse_contact(c, g, pt);
	pt->tz = c->snap->tz;
	bad += conf_tz(c, g, "timezone", false, &pt->tz) == CONF_BAD;
	if (!c->lang_en)
		c->lang_en = intern(&c->snap->strings, "en");
	pt->language = c->lang_en;
	bad += conf_string(c, g, "language", false, &pt->language) == CONF_BAD;
	pt->lang = lang_get(pt->language);
	bad += parse_enrollment(c, g, pt, &prog);
	bad += conf_dates(c, g, "absences", false, &pt->absences, &n) == CONF_BAD;
	pt->nabsences = (uint16_t)n;
	pt->allow = ~(chanmask)0;
	bad += conf_channels(c, g, "channels", false, &pt->allow) == CONF_BAD;
	bad += conf_channels(c, g, "opt_out", false, &pt->optout) == CONF_BAD;
	pt->quiet = c->snap->quiet;
	bad += conf_quiet(c, g, "quiet_hours", false, &pt->quiet) == CONF_BAD;
	bad += conf_bool(c, g, "paused", false, &pt->paused) == CONF_BAD;
	if (!prog)
		return bad + 1;
	if ((m = conf_member(g, "appointments")))
		bad += parse_appts(c, m, prog, pt);
	if ((m = conf_member(g, "medications")))
		bad += parse_meds(c, m, pt);
	return bad;
}

/* A language without locale data: once per language, at its first
 * patient, with how many patients speak it. */
struct lang_miss {
	const struct lang *lang;
	char where[256];               /* the first patient's `language`: conf_path */
	int line;                      /* and its line in the text */
	uint32_t n;
};

static void note_language(struct lang_miss *v, size_t *n, const struct patient *pt,
    const config_setting_t *g)
{
	size_t i;

	if (!pt->lang || !lang_fallback(pt->lang))
		return;
	for (i = 0; i < *n && v[i].lang != pt->lang; i++)
		;
	if (i == *n) {
		const config_setting_t *ls = conf_member(g, "language");
		if (!ls)
			ls = g;
		if (*n == 16)
			return;
		v[i].lang = pt->lang;
		conf_path(ls, v[i].where, sizeof v[i].where);
		v[i].line = config_setting_source_line(ls);
		v[i].n = 0;
		(*n)++;
	}
	v[i].n++;
}

static void warn_languages(struct conf_ctx *c, const struct lang_miss *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		warn_line(c->errs, v[i].line, "%s: language \"%s\" (%u patient%s): no date and time names "
		    "for it on this system (no such locale: install Debian's locales-all, or use a code "
		    "like \"es\" or \"es-MX\"): {day} and {time} are in English", v[i].where,
		    lang_code(v[i].lang), v[i].n, v[i].n == 1 ? "" : "s");
}

/* A top-level list's patients: read one at a time when the reader
 * streams it (conf_read.h), else libconfig's elements. */
static long list_length(const struct conf_ctx *c, const config_setting_t *list)
{
	long n = conf_read_count(c->reader, list);

	return n >= 0 ? n : config_setting_length(list);
}

static const config_setting_t *list_elem(struct conf_ctx *c, const config_setting_t *list, long i)
{
	const config_setting_t *e;

	if (conf_read_count(c->reader, list) < 0)
		return config_setting_get_elem(list, (unsigned)i);
	e = conf_read_next(c->reader, list);
	if (e && c->check && c->snap->ledger == LEDGER_POSTGRESQL) {   /* for its fingerprint */
		grow_array(&c->fp_patients, &c->capfp_patients, c->nfp_patients + 1,
		    sizeof *c->fp_patients);
		c->fp_patients[c->nfp_patients++] = conf_fp_setting(e);
	}
	return e;
}

/* What the checks after the last patient need of each: lines. */
static void note_lines(struct conf_ctx *c, uint32_t k, const config_setting_t *g)
{
	const config_setting_t *id = conf_member(g, "id");

	c->patient_line[k] = config_setting_source_line(g);
	c->patient_id_line[k] = config_setting_source_line(id ? id : g);
}

int conf_parse_patients(struct conf_ctx *c, const config_setting_t *const *lists, size_t nlists)
{
	struct snapshot *s = c->snap;
	struct lang_miss miss[16];
	size_t l, nmiss = 0, total = 0;
	uint32_t k = 0;
	long i;
	int bad = 0;

	for (l = 0; l < nlists; l++) {
		if (conf_expect(c, lists[l], CONFIG_TYPE_LIST, "a list ( { id = ...; program = ...; }, ... )"))
			bad++;
		else
			total += (size_t)list_length(c, lists[l]);
	}
	s->patients = arena_alloc(&s->arena, sizeof *s->patients * (total ? total : 1));
	c->patient_line = xreallocarray(NULL, total ? total : 1, sizeof *c->patient_line);
	c->patient_id_line = xreallocarray(NULL, total ? total : 1, sizeof *c->patient_id_line);
	for (l = 0; l < nlists; l++) {
		int t = config_setting_type(lists[l]);
		long n = t == CONFIG_TYPE_LIST || t == CONFIG_TYPE_ARRAY ? list_length(c, lists[l]) : 0;
		for (i = 0; i < n; i++, k++) {
			struct patient *pt = &s->patients[k];
			const config_setting_t *g = list_elem(c, lists[l], i);
			if (!g) {                      /* the reader read it once already */
				errs_set(c->errs, lists[l], "patients[%ld]: could not be read again", i);
				s->npatients = k;
				return bad + 1;
			}
			note_lines(c, k, g);
			bad += parse_patient(c, g, pt) != 0;
			if (!pt->id)
				pt->id = "";
			note_language(miss, &nmiss, pt, g);
		}
	}
	s->npatients = k;
	warn_languages(c, miss, nmiss);
	return bad;
}
