/* conf_templates.c - templates = { NAME = { sms = ...; ...; LANG = { ... }; }; ... }
 * and the checks on their texts: placeholders at load, discretion (SPEC
 * 4.1) and SMS length once the whole calendar is known. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf_parts.h"
#include "lang.h"
#include "template.h"

static const char *const field_keys[] = {"sms", "email_subject", "email_body", NULL};

static int compile_field(struct conf_ctx *c, const config_setting_t *g, const char *key,
    const struct tmpl_text **out)
{
	const char *src = NULL;
	char err[256], where[256];
	int rc = conf_string(c, g, key, false, &src);

	if (rc != CONF_OK)
		return rc == CONF_BAD;
	if (!(*out = tmpl_compile(&c->snap->arena, src, err, sizeof err))) {
		const config_setting_t *s = conf_member(g, key);
		errs_set(c->errs, s, "%s: %s", conf_path(s, where, sizeof where), err);
		return 1;
	}
	return 0;
}

static int parse_fields(struct conf_ctx *c, const config_setting_t *g, struct tmpl_fields *f)
{
	return compile_field(c, g, "sms", &f->sms) + compile_field(c, g, "email_subject", &f->subject) +
	    compile_field(c, g, "email_body", &f->body);
}

static bool lang_name_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz");

	if (n < 2 || n > 3)
		return false;
	if (!s[n])
		return true;
	return (s[n] == '-' || s[n] == '_') && strlen(s + n + 1) >= 2 && strlen(s + n + 1) <= 8;
}

static int parse_lang(struct conf_ctx *c, const config_setting_t *g, struct tmpl_lang *l)
{
	l->lang = intern(&c->snap->strings, config_setting_name(g));
	if (!lang_name_ok(l->lang)) {
		errs_set(c->errs, g, "template language group \"%s\": expected a language code like "
		    "\"es\" or \"pt-BR\" (or one of the keys sms, email_subject, email_body, discreet)", l->lang);
		return 1;
	}
	return conf_check_keys(c, g, field_keys) + parse_fields(c, g, &l->f);
}

static int parse_template(struct conf_ctx *c, const config_setting_t *g, struct template *t)
{
	int i, n = config_setting_length(g), bad = 0;

	t->name = intern(&c->snap->strings, config_setting_name(g));
	t->discreet = true;
	if (conf_expect(c, g, CONFIG_TYPE_GROUP, "a group { sms = \"...\"; }"))
		return 1;
	t->langs = arena_alloc(&c->snap->arena, sizeof *t->langs * (size_t)(n ? n : 1));
	for (i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(m);
		if (config_setting_type(m) == CONFIG_TYPE_GROUP)
			bad += parse_lang(c, m, &t->langs[t->nlangs++]);
		else if (strcmp(k, "discreet") && strcmp(k, "sms") && strcmp(k, "email_subject") &&
		    strcmp(k, "email_body")) {
			errs_set(c->errs, m, "unknown key \"%s\" in template %s (known keys: sms, "
			    "email_subject, email_body, discreet, or a language group like es = { ... })",
			    k, t->name);
			bad++;
		}
	}
	bad += parse_fields(c, g, &t->f);
	bad += conf_bool(c, g, "discreet", false, &t->discreet) == CONF_BAD;
	if (!t->f.sms && !bad) {
		errs_set(c->errs, g, "template %s: missing required key \"sms\" (the text for SMS and "
		    "the console, and the e-mail body when email_body is missing)", t->name);
		bad++;
	}
	return bad;
}

int conf_parse_templates(struct conf_ctx *c, const config_setting_t *group)
{
	struct snapshot *s = c->snap;
	int i, n, bad = 0, k;

	if (conf_expect(c, group, CONFIG_TYPE_GROUP, "a group { session = { sms = ...; }; ... }"))
		return 1;
	n = config_setting_length(group);
	s->templates = arena_alloc(&s->arena, sizeof *s->templates * (size_t)(n ? n : 1));
	for (i = 0; i < n; i++)
		bad += parse_template(c, config_setting_get_elem(group, (unsigned)i), &s->templates[s->ntemplates++]);
	for (k = 0; k < KIND_COUNT; k++)
		s->default_tmpl[k] = snapshot_template(s, kind_names[k == KIND_APPOINTMENT ? KIND_SESSION : k]);
	return bad;
}

int conf_template_ref(struct conf_ctx *c, const config_setting_t *g, const char *key,
    const char *fallback, int32_t *out)
{
	const char *name = NULL;
	char where[256];
	int rc = conf_string(c, g, key, false, &name);

	*out = -1;
	if (rc == CONF_BAD)
		return 1;
	if (!name && !fallback)
		return 0;
	*out = snapshot_template(c->snap, name ? name : fallback);
	if (*out >= 0)
		return 0;
	if (name) {
		const char **names = xreallocarray(NULL, (size_t)c->snap->ntemplates + 1, sizeof *names);
		char hint[96];
		uint16_t i;
		for (i = 0; i < c->snap->ntemplates; i++)
			names[i] = c->snap->templates[i].name;
		errs_set(c->errs, conf_member(g, key), "%s: unknown template \"%s\"%s "
		    "(define it in templates = { %s = { sms = \"...\"; }; })",
		    conf_path(conf_member(g, key), where, sizeof where), name,
		    conf_did_you_mean(name, names, c->snap->ntemplates, hint, sizeof hint), name);
		free(names);
	} else {
		errs_set(c->errs, g, "%s: no template \"%s\" is defined for this reminder: define "
		    "templates.%s or set template = \"...\" here", conf_path(g, where, sizeof where),
		    fallback, fallback);
	}
	return 1;
}

/* ---- checks on the texts, once every program and patient is known ---- */

static int check_discreet(struct conf_ctx *c, const config_setting_t *g, const struct template *t)
{
	const struct snapshot *s = c->snap;
	const char *names[256];
	const struct tmpl_fields *fs[65];
	size_t nn = 0, nf = 0, i;
	char word[64];
	uint16_t k;

	for (k = 0; k < s->nprograms && nn < IOPD_NELEM(names); k++)
		if (s->programs[k].name)
			names[nn++] = s->programs[k].name;
	fs[nf++] = &t->f;
	for (k = 0; k < t->nlangs && nf < IOPD_NELEM(fs); k++)
		fs[nf++] = &t->langs[k].f;
	for (i = 0; i < nf; i++) {
		const struct tmpl_text *txt[2] = {fs[i]->sms, fs[i]->subject};
		size_t j;
		for (j = 0; j < 2; j++)
			if (txt[j] && tmpl_names_treatment(txt[j]->src, names, nn, word, sizeof word)) {
				/* at the offending text itself (i > 0: in its language group) */
				const config_setting_t *at = i ? conf_member(g, t->langs[i - 1].lang) : g;
				at = at ? conf_member(at, j ? "email_subject" : "sms") : NULL;
				errs_set(c->errs, at ? at : g, "template %s: the %s text names treatment (\"%s\"), which "
				    "would disclose it to anyone who sees the message; reword it, or set "
				    "discreet = false if every patient consented", t->name,
				    j ? "email_subject" : "sms", word);
				return 1;
			}
	}
	return 0;
}

/* What the SMS length check renders each template with: the longest
 * value each placeholder takes anywhere in the calendar, and the
 * patients' languages.  Found once for every template (a walk through
 * 100,000 patients per template was 4% of loading them). */
struct longest {
	const char *v[PH_COUNT];
	const struct lang *langs[16];
	size_t nlangs;
};

static void longer(const char **slot, size_t *len, const char *x)
{
	size_t n;

	if (x && x != *slot && (n = strlen(x)) > *len) {
		*slot = x;
		*len = n;
	}
}

static void longest_values(const struct snapshot *s, const char *v[PH_COUNT])
{
	size_t first = 0, loc = 0, label = 0;
	uint32_t i;
	uint16_t k, j;

	v[PH_FIRST_NAME] = v[PH_LOCATION] = v[PH_LABEL] = "";
	v[PH_DATE] = "2026-12-31";
	v[PH_DAY] = "Wed Sep 30";
	v[PH_TIME] = "12:00 PM";
	v[PH_CLINIC_PHONE] = s->clinic_phone;
	for (k = 0; k < s->nprograms; k++)
		for (j = 0; j < s->programs[k].nsessions; j++)
			longer(&v[PH_LOCATION], &loc, s->programs[k].sessions[j].location);
	for (i = 0; i < s->npatients; i++) {
		const struct patient *p = &s->patients[i];
		longer(&v[PH_FIRST_NAME], &first, p->first_name);
		for (j = 0; j < p->nappts; j++)
			longer(&v[PH_LOCATION], &loc, p->appts[j].location);
		for (j = 0; j < p->nmeds; j++)
			longer(&v[PH_LABEL], &label, p->meds[j].label);
	}
}

/* The longest {day} and {time} of the languages of `langs` (and English):
 * a Spanish "miércoles" is longer than "Wed", and its accent can turn the
 * whole text into UCS-2. */
static void longest_clock(const struct lang *const *langs, size_t n, char *day, char *clock)
{
	char d[LANG_DAY_MAX], t[LANG_TIME_MAX];
	size_t i;

	lang_longest(lang_english(), day, LANG_DAY_MAX, clock, LANG_TIME_MAX);
	for (i = 0; i < n; i++) {
		lang_longest(langs[i], d, sizeof d, t, sizeof t);
		if (strlen(d) > strlen(day))
			memcpy(day, d, sizeof d);
		if (strlen(t) > strlen(clock))
			memcpy(clock, t, sizeof t);
	}
}

/* The languages of the calendar's patients (the first 16 distinct). */
static size_t patient_langs(const struct snapshot *s, const struct lang **v, size_t max)
{
	size_t n = 0, k;
	uint32_t i;

	for (i = 0; i < s->npatients && n < max; i++) {
		if (n && v[n - 1] == s->patients[i].lang)
			continue;              /* the usual case: one language for all */
		for (k = 0; k < n && v[k] != s->patients[i].lang; k++)
			;
		if (k == n && s->patients[i].lang)
			v[n++] = s->patients[i].lang;
	}
	return n;
}

static void check_sms_length(struct conf_ctx *c, const config_setting_t *g, const struct template *t,
    const struct longest *lo)
{
	struct tmpl_values v;
	char day[LANG_DAY_MAX], clock[LANG_TIME_MAX];
	uint16_t k;

	memcpy(v.v, lo->v, sizeof v.v);
	for (k = 0; k <= t->nlangs; k++) {
		const struct tmpl_text *txt = k ? t->langs[k - 1].f.sms : t->f.sms;
		const struct lang *own = k ? lang_get(t->langs[k - 1].lang) : NULL;
		struct sbuf out = {0};
		int ucs2, parts;

		if (!txt)
			continue;
		/* a language group is read by its language's patients; the
		 * template's own text by every other one */
		longest_clock(own ? &own : lo->langs, own ? 1 : lo->nlangs, day, clock);
		v.v[PH_DAY] = day;
		v.v[PH_TIME] = clock;
		tmpl_render(txt, &v, &out);
		parts = sms_segments(out.s, &ucs2);
		if (parts > 2)
			warn_set(c->errs, g, "template %s%s%s: the SMS text can need %d parts (%s, with the "
			    "longest names and labels of this calendar); keep it within 2", t->name,
			    k ? "." : "", k ? t->langs[k - 1].lang : "", parts, ucs2 ? "UCS-2" : "GSM-7");
		sbuf_free(&out);
	}
}

/* Values already found clean, by pointer (interned), direct-mapped: 100,000
 * patients share a handful of labels, and scanning each for every patient
 * was 6% of loading them (bench W1). */
#define CLEAN_SLOTS 64

/* Labels and locations are rendered into texts too: one that names
 * treatment ("methadone dose") discloses it as surely as a template does.
 * They are data, not templates, so this is a warning (once per text). */
static void warn_value(struct conf_ctx *c, int line, const char *what, const char *v,
    const char **seen, size_t *nseen, const char **clean)
{
	char word[64];
	size_t i, slot = ((uintptr_t)v >> 3) % CLEAN_SLOTS;

	if (!v || *nseen >= 16 || clean[slot] == v)
		return;
	for (i = 0; i < *nseen; i++)
		if (seen[i] == v)              /* interned: equal texts share a pointer */
			return;
	if (!tmpl_names_treatment(v, NULL, 0, word, sizeof word)) {
		clean[slot] = v;
		return;
	}
	seen[(*nseen)++] = v;
	warn_line(c->errs, line, "%s \"%s\" names treatment (\"%s\") and is shown in reminder "
	    "texts through {%s}: consider a neutral wording", what, v, word, what);
}

static void check_values(struct conf_ctx *c, const config_setting_t *root)
{
	const struct snapshot *s = c->snap;
	const config_setting_t *gl = conf_member(root, "programs");
	const char *seen[16], *clean[CLEAN_SLOTS] = {NULL};
	size_t nseen = 0;
	uint32_t i;
	uint16_t j, k;

	for (k = 0; gl && k < s->nprograms; k++) {
		const config_setting_t *pg = config_setting_get_elem(gl, k);
		for (j = 0; j < s->programs[k].nsessions; j++)
			warn_value(c, pg ? config_setting_source_line(pg) : 0, "location",
			    s->programs[k].sessions[j].location, seen, &nseen, clean);
	}
	for (i = 0; c->patient_line && i < s->npatients; i++) {
		const struct patient *p = &s->patients[i];
		for (j = 0; j < p->nmeds; j++)
			warn_value(c, c->patient_line[i], "label", p->meds[j].label, seen, &nseen, clean);
		for (j = 0; j < p->nappts; j++)
			warn_value(c, c->patient_line[i], "location", p->appts[j].location, seen, &nseen,
			    clean);
	}
}

int conf_check_templates(struct conf_ctx *c, const config_setting_t *group)
{
	const struct snapshot *s = c->snap;
	struct longest lo;
	uint16_t i;
	int bad = 0;

	longest_values(s, lo.v);
	lo.nlangs = patient_langs(s, lo.langs, IOPD_NELEM(lo.langs));
	for (i = 0; i < s->ntemplates; i++) {
		const config_setting_t *g = conf_member(group, s->templates[i].name);
		if (s->templates[i].discreet)
			bad += check_discreet(c, g, &s->templates[i]);
		check_sms_length(c, g, &s->templates[i], &lo);
	}
	check_values(c, config_setting_parent(group));
	return bad;
}

/* ---- the answers' templates (SPEC 8) ------------------------------------ */

/* Discreet: they name no treatment and no program, only the number to
 * call; and short (GSM 7-bit, one part with a 15-digit clinic_phone). */
static const struct {
	const char *name, *sms;
} reply_defaults[] = {
	{"help", "Appointment reminders. For help call {clinic_phone}. Reply STOP to opt out."},
	{"stopped", "You will get no more reminders from this number. Reply START to get them "
	    "again. Questions: {clinic_phone}"},
	{"started", "Reminders from this number are on again. Reply STOP to opt out. Questions: "
	    "{clinic_phone}"},
};

void conf_reply_templates(struct conf_ctx *c)
{
	struct snapshot *s = c->snap;
	struct template *t;
	size_t i, missing = 0;
	char err[128];

	for (i = 0; i < IOPD_NELEM(reply_defaults); i++)
		missing += snapshot_template(s, reply_defaults[i].name) < 0;
	if (!missing)
		return;
	t = arena_alloc(&s->arena, sizeof *t * (s->ntemplates + missing));
	if (s->ntemplates)
		memcpy(t, s->templates, sizeof *t * s->ntemplates);
	s->templates = t;
	for (i = 0; i < IOPD_NELEM(reply_defaults); i++) {
		if (snapshot_template(s, reply_defaults[i].name) >= 0)
			continue;
		t = &s->templates[s->ntemplates++];
		memset(t, 0, sizeof *t);
		t->name = intern(&s->strings, reply_defaults[i].name);
		t->discreet = true;
		t->f.sms = tmpl_compile(&s->arena, reply_defaults[i].sms, err, sizeof err);
	}
}
