/* conf_programs.c - programs = ( { id = ...; sessions = (...); reminders = (...);
 * aftercare = {...}; }, ... ) and the reminder rules shared with patients. */
#include "config.h"

#include <stdio.h>
#include <strings.h>
#include <string.h>

#include "conf_parts.h"
#include "timefmt.h"

static const char *const program_keys[] = {
	"id", "name", "kind", "timezone", "weeks", "closures", "sessions", "reminders", "aftercare", NULL
};
static const char *const session_keys[] = {
	"id", "type", "days", "start", "duration", "location", "reminders", "template", NULL
};
static const char *const rule_keys[] = {"before", "at", "channels", "template", NULL};
static const char *const aftercare_keys[] = {"at", "after", "channels", "template", NULL};

void conf_rule_channels(struct conf_ctx *c, struct rule *r)
{
	struct snapshot *s = c->snap;
	uint16_t i, *v;
	unsigned k;

	for (k = 0; k < c->nchansets; k++)
		if (c->chansets[k].mask == r->channels) {
			r->chan = c->chansets[k].chan;
			r->nchan = c->chansets[k].n;
			return;
		}
	v = arena_alloc(&s->arena, sizeof *v * (s->nchannels + 1u));
	r->nchan = 0;
	for (i = 0; i < s->nchannels; i++)
		if (r->channels & ((chanmask)1 << s->channel_order[i]))
			v[r->nchan++] = s->channel_order[i];
	r->chan = v;
	if (c->nchansets < IOPD_NELEM(c->chansets)) {
		c->chansets[c->nchansets].mask = r->channels;
		c->chansets[c->nchansets].chan = v;
		c->chansets[c->nchansets++].n = r->nchan;
	}
}

/* channels = [...] of a rule or entry: required and not empty. */
static int rule_channels(struct conf_ctx *c, const config_setting_t *g, struct rule *r)
{
	char where[256];

	if (conf_channels(c, g, "channels", true, &r->channels) != CONF_OK)
		return 1;
	if (!r->channels) {
		errs_set(c->errs, conf_member(g, "channels"),
		    "%s: empty channel list: name at least one channel",
		    conf_path(conf_member(g, "channels"), where, sizeof where));
		return 1;
	}
	conf_rule_channels(c, r);
	return 0;
}

static int parse_rule(struct conf_ctx *c, const config_setting_t *g, struct rule *r)
{
	char canon[64], key[80];
	int bad;

	r->at = -1;
	if (conf_expect(c, g, CONFIG_TYPE_GROUP, "a group { before = \"1d\"; channels = [...]; }"))
		return 1;
	bad = conf_check_keys(c, g, rule_keys);
	bad += conf_dur(c, g, "before", true, &r->before, &r->before_text) != CONF_OK;
	bad += conf_hhmm(c, g, "at", false, &r->at) == CONF_BAD;
	bad += rule_channels(c, g, r);
	bad += conf_template_ref(c, g, "template", NULL, &r->tmpl);
	if (bad)
		return bad;
	if (dur_is_zero(r->before) && r->at < 0)
		warn_set(c->errs, conf_member(g, "before"), "before = \"%s\": a reminder due "
		    "at the event itself is never sent (it would not be before the event)", r->before_text);
	dur_format(r->before, canon, sizeof canon);
	if (r->at >= 0)
		snprintf(key, sizeof key, "%s@%02d:%02d", canon, r->at / 3600, r->at / 60 % 60);
	else
		snprintf(key, sizeof key, "%s", canon);
	r->lead_key = intern(&c->snap->strings, key);
	return 0;
}

int conf_parse_rules(struct conf_ctx *c, const config_setting_t *list, struct rules *out)
{
	struct rule *v;
	int i, n, bad = 0;

	if (conf_expect(c, list, CONFIG_TYPE_LIST, "a list ( { before = \"1d\"; channels = [...]; }, ... )"))
		return 1;
	n = config_setting_length(list);
	if (n > 255) {
		errs_set(c->errs, list, "%d reminder rules in one list; iopd takes at most 255", n);
		return 1;
	}
	v = arena_alloc(&c->snap->arena, sizeof *v * (size_t)(n ? n : 1));
	for (i = 0; i < n; i++)
		bad += parse_rule(c, config_setting_get_elem(list, (unsigned)i), &v[i]);
	out->v = v;
	out->n = (uint16_t)n;
	return bad;
}

static int parse_days(struct conf_ctx *c, const config_setting_t *g, uint8_t *days)
{
	const char **v;
	uint32_t n, i;
	int bad = 0, k;

	if (conf_strings(c, g, "days", true, &v, &n) != CONF_OK)
		return 1;
	*days = 0;
	for (i = 0; i < n; i++) {
		for (k = 0; k < 7 && strcasecmp(v[i], weekday_abbr[k]) != 0; k++)
			;
		if (k == 7) {
			errs_set(c->errs, config_setting_get_elem(conf_member(g, "days"), i),
			    "unknown weekday \"%s\" (write mon, tue, wed, thu, fri, sat or sun)", v[i]);
			bad++;
		} else {
			*days |= (uint8_t)(1u << k);
		}
	}
	if (!n) {
		errs_set(c->errs, conf_member(g, "days"), "session days: empty list: "
		    "name at least one weekday");
		bad++;
	}
	return bad;
}

/* Every rule of a session must end up with a template. */
static int check_session_templates(struct conf_ctx *c, const config_setting_t *g,
    const struct session *se)
{
	uint16_t i;

	for (i = 0; i < se->rules.n; i++)
		if (se->rules.v[i].tmpl < 0 && se->tmpl < 0 && c->snap->default_tmpl[KIND_SESSION] < 0) {
			int32_t dummy;
			return conf_template_ref(c, g, "template", "session", &dummy);
		}
	return 0;
}

static int parse_session(struct conf_ctx *c, const config_setting_t *g, const struct program *p,
    struct session *se)
{
	const config_setting_t *rs;
	struct dur d = {0, 0};
	char key[512];
	int bad;

	if (conf_expect(c, g, CONFIG_TYPE_GROUP, "a group { id = ...; days = [...]; start = ...; }"))
		return 1;
	bad = conf_check_keys(c, g, session_keys);
	bad += conf_string(c, g, "id", true, &se->id) != CONF_OK;
	bad += conf_string(c, g, "type", false, &se->type) == CONF_BAD;
	bad += conf_string(c, g, "location", false, &se->location) == CONF_BAD;
	bad += parse_days(c, g, &se->days);
	bad += conf_hhmm(c, g, "start", true, &se->start) != CONF_OK;
	bad += conf_dur(c, g, "duration", false, &d, NULL) == CONF_BAD;
	se->duration = (int32_t)dur_approx_secs(d);
	bad += conf_template_ref(c, g, "template", NULL, &se->tmpl);
	se->rules = p->rules;
	if ((rs = conf_member(g, "reminders")))
		bad += conf_parse_rules(c, rs, &se->rules);
	if (bad)
		return bad;
	snprintf(key, sizeof key, "%s/%s", p->id, se->id);
	se->series_key = intern(&c->snap->strings, key);
	return check_session_templates(c, g, se);
}

static int parse_sessions(struct conf_ctx *c, const config_setting_t *list, struct program *p)
{
	int i, n, bad = 0;
	uint16_t j;

	if (conf_expect(c, list, CONFIG_TYPE_LIST, "a list ( { id = ...; days = [...]; ... }, ... )"))
		return 1;
	n = config_setting_length(list);
	p->sessions = arena_alloc(&c->snap->arena, sizeof *p->sessions * (size_t)(n ? n : 1));
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct session *se = &p->sessions[p->nsessions];
		memset(se, 0, sizeof *se);     /* the slot of a refused session is reused */
		if (parse_session(c, g, p, se)) {
			bad++;
			continue;
		}
		for (j = 0; j < p->nsessions && strcmp(p->sessions[j].id, se->id); j++)
			;
		if (j < p->nsessions) {
			errs_set(c->errs, conf_member(g, "id"),
			    "duplicate session id \"%s\" in program %s", se->id, p->id);
			bad++;
			continue;
		}
		p->nsessions++;
	}
	return bad;
}

/* "7d" and "1w" are the same follow-up: one reminder, not two with one id. */
static uint32_t dedupe_days(int32_t *days, const char **text, uint32_t n)
{
	uint32_t i, j, k = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < k && days[j] != days[i]; j++)
			;
		if (j == k) {
			days[k] = days[i];
			text[k++] = text[i];
		}
	}
	return k;
}

static int parse_aftercare(struct conf_ctx *c, const config_setting_t *g, struct aftercare *a)
{
	const char **texts;
	uint32_t n, i;
	int bad;

	if (conf_expect(c, g, CONFIG_TYPE_GROUP, "a group { at = ...; after = [...]; channels = [...]; }"))
		return 1;
	bad = conf_check_keys(c, g, aftercare_keys);
	bad += conf_hhmm(c, g, "at", true, &a->at) != CONF_OK;
	bad += rule_channels(c, g, &a->rule);
	bad += conf_template_ref(c, g, "template", "aftercare", &a->rule.tmpl);
	a->rule.at = -1;
	if (conf_strings(c, g, "after", true, &texts, &n) != CONF_OK)
		return bad + 1;
	a->after = arena_alloc(&c->snap->arena, sizeof *a->after * (n ? n : 1));
	a->after_text = texts;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(conf_member(g, "after"), i);
		struct dur d;
		char err[200];
		int rc = dur_parse(texts[i], &d, err, sizeof err);
		if (rc || d.secs) {
			/* d is not set when the text does not parse */
			errs_set(c->errs, e, "aftercare offset \"%s\": %s", texts[i],
			    rc ? err : "aftercare offsets take w and d only (e.g. \"7d\", \"4w\")");
			bad++;
			continue;
		}
		a->after[i] = d.days;
	}
	if (bad) {
		a->n = 0;
		return bad;
	}
	a->n = (uint16_t)dedupe_days(a->after, a->after_text, n);
	return 0;
}

/* The global closures and the program's own, in one sorted array. */
static void merge_closures(struct conf_ctx *c, struct program *p, const int32_t *g, uint32_t ng,
    const int32_t *own, uint32_t nown)
{
	uint32_t i = 0, j = 0, k = 0;

	p->closures = arena_alloc(&c->snap->arena, sizeof *p->closures * (ng + nown + 1));
	while (i < ng || j < nown) {
		int32_t v = j >= nown || (i < ng && g[i] <= own[j]) ? g[i] : own[j];
		if (i < ng && g[i] == v)
			i++;
		if (j < nown && own[j] == v)
			j++;
		p->closures[k++] = v;
	}
	p->nclosures = k;
}

static int parse_kind(struct conf_ctx *c, const config_setting_t *g, enum program_kind *kind)
{
	static const char *const names[] = {"IOP", "PHP", "OP"};
	const char *k = NULL;
	int i, rc;

	*kind = PROGRAM_IOP;
	if ((rc = conf_string(c, g, "kind", false, &k)) != CONF_OK)
		return rc == CONF_BAD;
	for (i = 0; i < 3; i++)
		if (strcasecmp(k, names[i]) == 0) {
			*kind = (enum program_kind)i;
			return 0;
		}
	errs_set(c->errs, conf_member(g, "kind"),
	    "program kind \"%s\": expected IOP, PHP or OP", k);
	return 1;
}

static int parse_program(struct conf_ctx *c, const config_setting_t *g, struct program *p,
    const int32_t *closures, uint32_t nclosures)
{
	const config_setting_t *m;
	int32_t *own = NULL;
	uint32_t nown = 0;
	long weeks = 12;
	int bad;

	if (conf_expect(c, g, CONFIG_TYPE_GROUP, "a group { id = ...; sessions = (...); }"))
		return 1;
	bad = conf_check_keys(c, g, program_keys);
	bad += conf_string(c, g, "id", true, &p->id) != CONF_OK;
	bad += conf_string(c, g, "name", false, &p->name) == CONF_BAD;
	bad += parse_kind(c, g, &p->kind);
	p->tz = c->snap->tz;
	bad += conf_tz(c, g, "timezone", false, &p->tz) == CONF_BAD;
	bad += conf_int(c, g, "weeks", false, 1, 520, &weeks) == CONF_BAD;
	p->weeks = (int)weeks;
	bad += conf_dates(c, g, "closures", false, &own, &nown) == CONF_BAD;
	merge_closures(c, p, closures, nclosures, own, nown);
	if ((m = conf_member(g, "reminders")))
		bad += conf_parse_rules(c, m, &p->rules);
	if (!p->id)
		return bad;
	if ((m = conf_member(g, "sessions")))
		bad += parse_sessions(c, m, p);
	if ((m = conf_member(g, "aftercare")))
		bad += parse_aftercare(c, m, &p->aftercare);
	return bad;
}

int conf_parse_programs(struct conf_ctx *c, const config_setting_t *list,
    const int32_t *closures, uint32_t nclosures)
{
	struct snapshot *s = c->snap;
	int i, n, bad = 0;

	if (conf_expect(c, list, CONFIG_TYPE_LIST, "a list ( { id = ...; ... }, ... )"))
		return 1;
	n = config_setting_length(list);
	s->programs = arena_alloc(&s->arena, sizeof *s->programs * (size_t)(n ? n : 1));
	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct program *p = &s->programs[s->nprograms];
		/* the slot of a duplicate is reused: no stale id may remain */
		memset(p, 0, sizeof *p);
		if (parse_program(c, g, p, closures, nclosures))
			bad++;
		if (!p->id)
			continue;
		if (snapshot_program(s, p->id) >= 0) {
			errs_set(c->errs, conf_member(g, "id"), "duplicate program id \"%s\"", p->id);
			bad++;
			continue;
		}
		s->nprograms++;
	}
	return bad;
}
