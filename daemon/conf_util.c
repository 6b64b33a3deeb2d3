/* conf_util.c - see conf_util.h */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_read.h"
#include "conf_text.h"
#include "conf_util.h"
#include "safetext.h"
#include "suggest.h"
#include "timefmt.h"

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group { ... }";
	case CONFIG_TYPE_LIST: return "a list ( ... )";
	case CONFIG_TYPE_ARRAY: return "an array [ ... ]";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "true or false";
	default: return "nothing";
	}
}

/* Is s an element of a top-level `patients` list (or of a repeat)? */
static bool is_patient(const config_setting_t *s)
{
	const config_setting_t *list = config_setting_parent(s);

	return list && !config_setting_name(s) && config_setting_name(list) &&
	    config_setting_parent(list) && config_setting_is_root(config_setting_parent(list)) &&
	    conf_text_repeat(config_setting_name(list), "patients");
}

/* Is s inside a patient (or the patient itself)? */
static bool in_patient(const config_setting_t *s)
{
	for (; s && !config_setting_is_root(s); s = config_setting_parent(s))
		if (is_patient(s))
			return true;
	return false;
}

/* Appends s's path; returns whether it ended with a patient's id (the
 * next part then follows ": " rather than "."). */
static bool path_of(const config_setting_t *s, struct sbuf *b)
{
	const config_setting_t *p = config_setting_parent(s), *id;
	const char *name = config_setting_name(s);
	bool after_id = false;

	if (!p || config_setting_is_root(s))
		return false;
	if (!config_setting_is_root(p))
		after_id = path_of(p, b);
	if (name) {
		if (b->len)
			sbuf_adds(b, after_id ? ": " : ".");
		if (conf_text_repeat(name, "patients") > 1)
			name = "patients";     /* a repeat from another file */
		sbuf_adds(b, name);
		return false;
	}
	if (after_id)
		sbuf_adds(b, ": ");
	sbuf_printf(b, "[%d]", conf_index(s));
	if (!is_patient(s) || !(id = conf_member(s, "id")) ||
	    config_setting_type(id) != CONFIG_TYPE_STRING || !*config_setting_get_string(id))
		return false;
	sbuf_adds(b, " id ");
	sbuf_json_str(b, config_setting_get_string(id));
	return true;
}

const char *conf_path(const config_setting_t *s, char *buf, size_t len)
{
	struct sbuf b = {0};

	path_of(s, &b);
	snprintf(buf, len, "%s", b.s ? b.s : "(top level)");
	sbuf_free(&b);
	return buf;
}

const char *conf_did_you_mean(const char *s, const char *const *names, size_t n, char *buf,
    size_t len)
{
	const char *near = suggest_nearest(s, names, n);

	if (!near)
		return "";
	snprintf(buf, len, " (did you mean \"%s\"?)", near);
	return buf;
}

const config_setting_t *conf_member(const config_setting_t *g, const char *key)
{
	const config_list_t *l = g && g->type == CONFIG_TYPE_GROUP ? g->value.list : NULL;
	unsigned i;

	for (i = 0; l && i < l->length; i++) {
		const char *n = l->elements[i]->name;
		if (n && n[0] == key[0] && strcmp(n, key) == 0)
			return l->elements[i];
	}
	return NULL;
}

static void known_keys(struct sbuf *b, const char *const *allowed)
{
	size_t i;

	for (i = 0; allowed[i]; i++)
		sbuf_printf(b, "%s%s", i ? ", " : "", allowed[i]);
}

/* "patients*2" (a list merged from another file) counts as patients. */
static bool key_allowed(const char *name, const char *const *allowed)
{
	size_t k;

	for (k = 0; allowed[k]; k++)
		if (allowed[k][0] == name[0] && strcmp(allowed[k], name) == 0)
			return true;
	if (name[0] == 'p' && conf_text_repeat(name, "patients") > 1)
		for (k = 0; allowed[k]; k++)
			if (strcmp(allowed[k], "patients") == 0)
				return true;
	return false;
}

int conf_check_keys(struct conf_ctx *c, const config_setting_t *g, const char *const *allowed)
{
	int i, n = config_setting_length(g), bad = 0;
	char where[256], hint[96];

	for (i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		struct sbuf b = {0};
		size_t k;

		if (!name || key_allowed(name, allowed))
			continue;
		for (k = 0; allowed[k]; k++)
			;
		known_keys(&b, allowed);
		conf_path(g, where, sizeof where);
		conf_did_you_mean(name, allowed, k, hint, sizeof hint);
		if (in_patient(g))             /* the patient first, as every error in one */
			errs_set(c->errs, m, "%s: unknown key \"%s\"%s (known keys: %s)", where, name,
			    suggest_nearest(name, allowed, k) ? hint : "", b.s ? b.s : "none");
		else
			errs_set(c->errs, m, "unknown key \"%s\" in %s%s (known keys: %s)", name, where,
			    suggest_nearest(name, allowed, k) ? hint : "", b.s ? b.s : "none");
		sbuf_free(&b);
		bad++;
	}
	return bad;
}

int conf_expect(struct conf_ctx *c, const config_setting_t *s, int type, const char *what)
{
	char where[256];
	int t = config_setting_type(s);

	if (t == type || (type == CONFIG_TYPE_LIST && t == CONFIG_TYPE_ARRAY) ||
	    (type == CONFIG_TYPE_ARRAY && t == CONFIG_TYPE_LIST))
		return CONF_OK;
	errs_set(c->errs, s, "%s: expected %s, got %s", conf_path(s, where, sizeof where),
	    what ? what : type_name(type), type_name(t));
	return CONF_BAD;
}

/* The member `key` of `g`, or NULL (with an error when required). */
static const config_setting_t *member(struct conf_ctx *c, const config_setting_t *g,
    const char *key, bool required, int *rc)
{
	const config_setting_t *s = conf_member(g, key);
	char where[256];

	*rc = CONF_OK;
	if (s)
		return s;
	*rc = CONF_ABSENT;
	if (required) {
		errs_set(c->errs, g, "%s: missing required key \"%s\"", conf_path(g, where, sizeof where),
		    key);
		*rc = CONF_BAD;
	}
	return NULL;
}

static int bad_value(struct conf_ctx *c, const config_setting_t *s, const char *fmt, ...)
    IOPD_PRINTF(3, 4);

static int bad_value(struct conf_ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	char where[256];
	struct sbuf b = {0};
	va_list ap;

	va_start(ap, fmt);
	sbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	errs_set(c->errs, s, "%s: %s", conf_path(s, where, sizeof where), b.s);
	sbuf_free(&b);
	return CONF_BAD;
}

/* Every string iopd reads is UTF-8: names and texts go into messages,
 * e-mail and JSON, where a stray Latin-1 byte would be garbled or refused. */
static int utf8_ok(struct conf_ctx *c, const config_setting_t *s, const char *v)
{
	char where[256];
	size_t bad;

	if (safe_utf8(v, strlen(v), &bad))
		return CONF_OK;
	errs_set(c->errs, s, "%s: not valid UTF-8 (byte 0x%02x, byte %zu of the value): save the "
	    "file as UTF-8", conf_path(s, where, sizeof where), (unsigned char)v[bad], bad + 1);
	return CONF_BAD;
}

/* A string member: the setting and its value, or an error for a wrong type. */
static int string_member(struct conf_ctx *c, const config_setting_t *g, const char *key,
    bool required, const config_setting_t **sp, const char **v, const char *what)
{
	int rc;
	const config_setting_t *s = member(c, g, key, required, &rc);

	if (!s)
		return rc;
	if (conf_expect(c, s, CONFIG_TYPE_STRING, what))
		return CONF_BAD;
	*sp = s;
	*v = config_setting_get_string(s);
	return utf8_ok(c, s, *v);
}

int conf_string(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    const char **out)
{
	const config_setting_t *s = NULL;
	const char *v = NULL;
	int rc = string_member(c, g, key, required, &s, &v, NULL);

	if (rc == CONF_OK)
		*out = intern(&c->snap->strings, v);
	return rc;
}

int conf_string_copy(struct conf_ctx *c, const config_setting_t *g, const char *key,
    bool required, const char **out)
{
	const config_setting_t *s = NULL;
	const char *v = NULL;
	int rc = string_member(c, g, key, required, &s, &v, NULL);

	if (rc == CONF_OK)
		*out = arena_strdup(&c->snap->arena, v);
	return rc;
}

int conf_int(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    long min, long max, long *out)
{
	int rc;
	const config_setting_t *s = member(c, g, key, required, &rc);
	char where[256];
	long long v;

	if (!s)
		return rc;
	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return conf_expect(c, s, CONFIG_TYPE_INT, NULL);
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		errs_set(c->errs, s, "%s: %lld is out of range (%ld to %ld)",
		    conf_path(s, where, sizeof where), v, min, max);
		return CONF_BAD;
	}
	*out = (long)v;
	return CONF_OK;
}

int conf_float(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    double min, double max, double *out)
{
	int rc, t;
	const config_setting_t *s = member(c, g, key, required, &rc);
	char where[256];
	double v;

	if (!s)
		return rc;
	t = config_setting_type(s);
	if (t == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
		v = (double)config_setting_get_int64(s);
	else
		return conf_expect(c, s, CONFIG_TYPE_FLOAT, NULL);
	if (!(v >= min && v <= max)) {
		errs_set(c->errs, s, "%s: %g is out of range (%g to %g)",
		    conf_path(s, where, sizeof where), v, min, max);
		return CONF_BAD;
	}
	*out = v;
	return CONF_OK;
}

int conf_bool(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    bool *out)
{
	int rc;
	const config_setting_t *s = member(c, g, key, required, &rc);

	if (!s)
		return rc;
	if (conf_expect(c, s, CONFIG_TYPE_BOOL, NULL))
		return CONF_BAD;
	*out = config_setting_get_bool(s) != 0;
	return CONF_OK;
}

int conf_dur(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    struct dur *out, const char **text)
{
	const config_setting_t *s = NULL;
	const char *v = NULL;
	char err[200];
	int rc = string_member(c, g, key, required, &s, &v, "a string (a duration like \"2h\")");

	if (rc != CONF_OK)
		return rc;
	if (dur_parse(v, out, err, sizeof err))
		return bad_value(c, s, "%s", err);
	if (text)
		*text = intern(&c->snap->strings, v);
	return CONF_OK;
}

/* A string member read by `parse` into an int32 (a time, a date): `what`
 * is the expected type for a wrong one, `noun` and `why` make the message
 * for a bad value. */
static int parsed_string(struct conf_ctx *c, const config_setting_t *g, const char *key,
    bool required, int32_t *out, int (*parse)(const char *, int32_t *), const char *what,
    const char *noun, const char *why)
{
	const config_setting_t *s = NULL;
	const char *v = NULL;
	int rc = string_member(c, g, key, required, &s, &v, what);

	if (rc != CONF_OK)
		return rc;
	if (parse(v, out))
		return bad_value(c, s, "bad %s \"%s\": %s", noun, v, why);
	return CONF_OK;
}

int conf_hhmm(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    int32_t *out)
{
	return parsed_string(c, g, key, required, out, parse_hhmm, "a string (a time like \"18:00\")",
	    "time", "write HH:MM on a 24-hour clock, 00:00 to 23:59");
}

int conf_date(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    int32_t *out)
{
	return parsed_string(c, g, key, required, out, parse_date, "a string (a date like \"2026-12-01\")",
	    "date", "write YYYY-MM-DD (a real calendar date)");
}

int conf_tz(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    const struct tz **out)
{
	const config_setting_t *s = NULL;
	const char *v = NULL;
	char err[256];
	const struct tz *z;
	int rc = string_member(c, g, key, required, &s, &v, "a string (an IANA zone like \"America/Chicago\")");

	if (rc != CONF_OK)
		return rc;
	if (!(z = tz_get(v, err, sizeof err)))
		return bad_value(c, s, "%s", err);
	*out = z;
	return CONF_OK;
}

int conf_quiet(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    struct quiet *out)
{
	static const char *const keys[] = {"from", "to", NULL};
	int rc;
	const config_setting_t *s = member(c, g, key, required, &rc);
	struct quiet q;
	int bad;

	if (!s)
		return rc;
	if (conf_expect(c, s, CONFIG_TYPE_GROUP, "a group { from = \"21:00\"; to = \"08:00\"; }"))
		return CONF_BAD;
	bad = conf_check_keys(c, s, keys);
	bad |= conf_hhmm(c, s, "from", true, &q.from) != CONF_OK;
	bad |= conf_hhmm(c, s, "to", true, &q.to) != CONF_OK;
	if (bad)
		return CONF_BAD;
	*out = q;
	return CONF_OK;
}

/* A list member: the setting, or an error when it is not a list/array. */
static const config_setting_t *list_member(struct conf_ctx *c, const config_setting_t *g,
    const char *key, bool required, int *rc, const char *what)
{
	const config_setting_t *s = member(c, g, key, required, rc);

	if (s && conf_expect(c, s, CONFIG_TYPE_ARRAY, what)) {
		*rc = CONF_BAD;
		return NULL;
	}
	return s;
}

const char *conf_elem_string(struct conf_ctx *c, const config_setting_t *s, int i)
{
	const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

	if (!e || conf_expect(c, e, CONFIG_TYPE_STRING, NULL) ||
	    utf8_ok(c, e, config_setting_get_string(e)) != CONF_OK)
		return NULL;
	return config_setting_get_string(e);
}

int conf_strings(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    const char ***out, uint32_t *n)
{
	int rc, i, len, bad = 0;
	const config_setting_t *s = list_member(c, g, key, required, &rc,
	    "a list of strings [ \"a\", \"b\" ]");
	const char **v;

	if (!s)
		return rc;
	len = config_setting_length(s);
	v = arena_alloc(&c->snap->arena, sizeof *v * (size_t)(len ? len : 1));
	for (i = 0; i < len; i++) {
		const char *e = conf_elem_string(c, s, i);
		if (!e)
			bad = 1;
		v[i] = e ? intern(&c->snap->strings, e) : NULL;
	}
	if (bad)
		return CONF_BAD;
	*out = v;
	*n = (uint32_t)len;
	return CONF_OK;
}

int conf_string_list(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    const config_setting_t **list)
{
	int rc, i, len, bad = 0;
	const config_setting_t *s = list_member(c, g, key, required, &rc,
	    "a list of strings [ \"a\", \"b\" ]");

	if (!s)
		return rc;
	len = config_setting_length(s);
	for (i = 0; i < len; i++)
		if (!conf_elem_string(c, s, i))
			bad = 1;
	if (bad)
		return CONF_BAD;
	*list = s;
	return CONF_OK;
}

static int cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

int conf_dates(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    int32_t **out, uint32_t *n)
{
	int rc, i, len, bad = 0;
	const config_setting_t *s = list_member(c, g, key, required, &rc,
	    "a list of dates [ \"2026-12-25\" ]");
	uint32_t k = 0;
	int32_t *v;

	if (!s)
		return rc;
	len = config_setting_length(s);
	v = arena_alloc(&c->snap->arena, sizeof *v * (size_t)(len ? len : 1));
	for (i = 0; i < len; i++) {
		const char *e = conf_elem_string(c, s, i);
		if (!e) {
			bad = 1;
		} else if (parse_date(e, &v[k])) {
			bad_value(c, config_setting_get_elem(s, (unsigned)i),
			    "bad date \"%s\": write YYYY-MM-DD (a real calendar date)", e);
			bad = 1;
		} else {
			k++;
		}
	}
	if (bad)
		return CONF_BAD;
	qsort(v, k, sizeof *v, cmp_i32);
	for (i = 0, len = 0; (uint32_t)i < k; i++)
		if (!len || v[len - 1] != v[i])
			v[len++] = v[i];
	*out = v;
	*n = (uint32_t)len;
	return CONF_OK;
}

int conf_channels(struct conf_ctx *c, const config_setting_t *g, const char *key, bool required,
    chanmask *out)
{
	int rc, i, len, bad = 0;
	const config_setting_t *s = list_member(c, g, key, required, &rc,
	    "a list of channel names [ \"sms\", \"email\" ]");
	chanmask m = 0;

	if (!s)
		return rc;
	len = config_setting_length(s);
	for (i = 0; i < len; i++) {
		const char *e = conf_elem_string(c, s, i);
		int ch = e ? snapshot_channel(c->snap, e) : -1;
		if (!e) {
			bad = 1;
		} else if (ch < 0) {
			char hint[96];
			bad_value(c, config_setting_get_elem(s, (unsigned)i),
			    "unknown channel \"%s\"%s (define it in channels = ( ... ))", e,
			    conf_channel_hint(c->snap, e, hint, sizeof hint));
			bad = 1;
		} else {
			m |= (chanmask)1 << ch;
		}
	}
	if (bad)
		return CONF_BAD;
	*out = m;
	return CONF_OK;
}

const char *conf_channel_hint(const struct snapshot *s, const char *name, char *buf, size_t len)
{
	const char *names[SNAP_MAX_CHANNELS];
	uint16_t i;

	for (i = 0; i < s->nchannels && i < SNAP_MAX_CHANNELS; i++)
		names[i] = s->channels[i].name;
	return conf_did_you_mean(name, names, i, buf, len);
}

bool conf_email_ok(const char *e)
{
	const char *at = strchr(e, '@');
	const char *p;

	if (!at || at == e || !at[1] || strchr(at + 1, '@'))
		return false;
	for (p = e; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',')
			return false;
	return true;
}
