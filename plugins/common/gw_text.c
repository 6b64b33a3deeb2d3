/* gw_text.c - the pure text helpers of gw.h: buffers, encoders, the JSON
 * member scanner, HTTP dates, and cleaning what gateways say.  No curl
 * transfer, no host: everything here is unit-tested on its own. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "civil.h"            /* header-only: the daemon's calendar arithmetic */
#include "gw.h"

#define GW_JSON_DEPTH 32               /* nesting we follow before calling it invalid */
#define GW_JSON_KEY_MAX 64

/* Locale-free character classes: the daemon may run under any locale. */
static int gw_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

static int gw_isalpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ========================================================================
 * Buffers
 * ===================================================================== */

static int gw_buf_grow(struct gw_buf *b, size_t extra)
{
	size_t cap;
	char *s;

	if (b->oom)
		return -1;
	if (extra < b->cap - b->len)
		return 0;
	if (extra > ((size_t)-1) / 4 - b->len) {
		b->oom = 1;
		return -1;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len <= extra)
		cap *= 2;
	s = realloc(b->s, cap);
	if (!s) {
		b->oom = 1;
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

void gw_buf_add(struct gw_buf *b, const void *p, size_t n)
{
	if (gw_buf_grow(b, n) < 0)
		return;
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void gw_buf_adds(struct gw_buf *b, const char *s)
{
	gw_buf_add(b, s, strlen(s));
}

void gw_buf_addc(struct gw_buf *b, char c)
{
	gw_buf_add(b, &c, 1);
}

void gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if (gw_buf_grow(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void gw_buf_free(struct gw_buf *b)
{
	free(b->s);
	memset(b, 0, sizeof *b);
}

void gw_buf_wipe(struct gw_buf *b)
{
	if (b->s)
		explicit_bzero(b->s, b->cap);
	gw_buf_free(b);
}

const char *gw_buf_str(const struct gw_buf *b)
{
	if (b->oom)
		return NULL;
	return b->s ? b->s : "";
}

/* ========================================================================
 * Encoders
 * ===================================================================== */

static const char gw_hex_upper[] = "0123456789ABCDEF";

void gw_form_escape(struct gw_buf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (gw_isalpha(c) || gw_isdigit(c) || c == '*' || c == '-' || c == '.' || c == '_') {
			gw_buf_addc(b, (char)c);
		} else if (c == ' ') {
			gw_buf_addc(b, '+');
		} else {
			char e[3] = {'%', gw_hex_upper[c >> 4], gw_hex_upper[c & 15]};

			gw_buf_add(b, e, 3);
		}
	}
}

void gw_json_string(struct gw_buf *b, const char *s)
{
	gw_buf_addc(b, '"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':
			gw_buf_adds(b, "\\\"");
			break;
		case '\\':
			gw_buf_adds(b, "\\\\");
			break;
		case '\n':
			gw_buf_adds(b, "\\n");
			break;
		case '\r':
			gw_buf_adds(b, "\\r");
			break;
		case '\t':
			gw_buf_adds(b, "\\t");
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				gw_buf_printf(b, "\\u%04x", c);
			else
				gw_buf_addc(b, (char)c);
		}
	}
	gw_buf_addc(b, '"');
}

/* ========================================================================
 * The JSON member scanner
 *
 * Not a JSON library: it walks the top-level object of a gateway's reply,
 * skipping every value it is not asked for (strings with their escapes,
 * nested objects and arrays up to GW_JSON_DEPTH), and returns the one it
 * is asked for.  Bounded by the text's length; no allocation.
 * ===================================================================== */

struct gw_js {
	const char *p, *end;
};

/* Where unescaped string bytes go: out[0..cap), `n` used, `cut` once a
 * byte did not fit (everything after is dropped too). */
struct gw_js_out {
	char *s;
	size_t cap, n;
	int cut;
};

static void gw_js_ws(struct gw_js *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static void gw_js_put(struct gw_js_out *o, const char *b, size_t n)
{
	if (!o || !o->s || o->cut)
		return;
	if (o->n + n >= o->cap) {      /* a character is copied whole or not at all */
		o->cut = 1;
		return;
	}
	memcpy(o->s + o->n, b, n);
	o->n += n;
}

static int gw_js_hex4(struct gw_js *j, unsigned *v)
{
	int i;

	*v = 0;
	if (j->end - j->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = *j->p++;

		*v <<= 4;
		if (gw_isdigit(c))
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

static void gw_js_put_cp(struct gw_js_out *o, unsigned cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	gw_js_put(o, b, n);
}

/* \uXXXX, with a surrogate pair joined; a lone surrogate becomes U+FFFD. */
static int gw_js_unicode(struct gw_js *j, struct gw_js_out *o)
{
	unsigned cp, lo;

	if (gw_js_hex4(j, &cp) < 0)
		return -1;
	if (cp >= 0xd800 && cp <= 0xdbff && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
		struct gw_js save = *j;

		j->p += 2;
		if (gw_js_hex4(j, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
			gw_js_put_cp(o, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
			return 0;
		}
		*j = save;
	}
	gw_js_put_cp(o, cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp);
	return 0;
}

static int gw_js_escape(struct gw_js *j, struct gw_js_out *o)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k;
	char c;

	if (j->p >= j->end)
		return -1;
	c = *j->p++;
	if (c == 'u')
		return gw_js_unicode(j, o);
	if (!(k = strchr(from, c)) || c == '\0')
		return -1;
	gw_js_put(o, &to[k - from], 1);
	return 0;
}

/* A string at j->p; its unescaped value goes to o (may be NULL). */
static int gw_js_string(struct gw_js *j, struct gw_js_out *o)
{
	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p++;

		if (c == '"') {
			if (o && o->s)
				o->s[o->n] = '\0';
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (gw_js_escape(j, o) < 0)
				return -1;
			continue;
		}
		/* Raw UTF-8 is copied byte by byte; a multi-byte character is
		 * kept whole by taking its continuation bytes along. */
		if (c >= 0xc0) {
			const char *start = j->p - 1;

			while (j->p < j->end && ((unsigned char)*j->p & 0xc0) == 0x80)
				j->p++;
			gw_js_put(o, start, (size_t)(j->p - start));
		} else {
			char b = (char)c;

			gw_js_put(o, &b, 1);
		}
	}
	return -1;
}

static int gw_js_digits(struct gw_js *j)
{
	const char *start = j->p;

	while (j->p < j->end && gw_isdigit(*j->p))
		j->p++;
	return j->p > start ? 0 : -1;
}

static int gw_js_number(struct gw_js *j, struct gw_js_out *o)
{
	const char *start = j->p;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->end - j->p >= 2 && j->p[0] == '0' && gw_isdigit(j->p[1]))
		return -1;             /* no leading zeros in JSON */
	if (gw_js_digits(j) < 0)
		return -1;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (gw_js_digits(j) < 0)
			return -1;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (gw_js_digits(j) < 0)
			return -1;
	}
	gw_js_put(o, start, (size_t)(j->p - start));
	if (o && o->s && !o->cut)
		o->s[o->n] = '\0';
	return 0;
}

static int gw_js_literal(struct gw_js *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return -1;
	j->p += n;
	return 0;
}

static enum gw_json_type gw_js_value(struct gw_js *j, int depth, struct gw_js_out *o);

/* An object or array at j->p, skipped. */
static enum gw_json_type gw_js_container(struct gw_js *j, int depth)
{
	char close = *j->p == '{' ? '}' : ']';
	enum gw_json_type type = close == '}' ? GW_JSON_OBJECT : GW_JSON_ARRAY;

	if (depth >= GW_JSON_DEPTH)
		return GW_JSON_INVALID;
	j->p++;
	gw_js_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return type;
	}
	for (;;) {
		if (type == GW_JSON_OBJECT) {
			gw_js_ws(j);
			if (gw_js_string(j, NULL) < 0)
				return GW_JSON_INVALID;
			gw_js_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return GW_JSON_INVALID;
		}
		if (gw_js_value(j, depth + 1, NULL) == GW_JSON_INVALID)
			return GW_JSON_INVALID;
		gw_js_ws(j);
		if (j->p >= j->end)
			return GW_JSON_INVALID;
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ == close)
			return type;
		return GW_JSON_INVALID;
	}
}

static enum gw_json_type gw_js_value(struct gw_js *j, int depth, struct gw_js_out *o)
{
	gw_js_ws(j);
	if (j->p >= j->end)
		return GW_JSON_INVALID;
	switch (*j->p) {
	case '"':
		return gw_js_string(j, o) == 0 ? GW_JSON_STRING : GW_JSON_INVALID;
	case '{':
	case '[':
		return gw_js_container(j, depth);
	case 't':
		return gw_js_literal(j, "true") == 0 ? GW_JSON_BOOL : GW_JSON_INVALID;
	case 'f':
		return gw_js_literal(j, "false") == 0 ? GW_JSON_BOOL : GW_JSON_INVALID;
	case 'n':
		return gw_js_literal(j, "null") == 0 ? GW_JSON_NULL : GW_JSON_INVALID;
	default:
		return gw_js_number(j, o) == 0 ? GW_JSON_NUMBER : GW_JSON_INVALID;
	}
}

enum gw_json_type gw_json_member(const char *js, size_t len, const char *key,
    char *out, size_t outlen)
{
	struct gw_js j = {js, js ? js + len : NULL};
	struct gw_js_out val = {outlen ? out : NULL, outlen, 0, 0};

	assert(key && strlen(key) < GW_JSON_KEY_MAX - 1);
	if (out && outlen)
		out[0] = '\0';
	if (!js)
		return GW_JSON_INVALID;
	gw_js_ws(&j);
	if (j.p >= j.end || *j.p++ != '{')
		return GW_JSON_INVALID;
	gw_js_ws(&j);
	if (j.p < j.end && *j.p == '}')
		return GW_JSON_ABSENT;
	for (;;) {
		char name[GW_JSON_KEY_MAX];
		struct gw_js_out k = {name, sizeof name, 0, 0};
		enum gw_json_type t;
		int match;

		gw_js_ws(&j);
		if (gw_js_string(&j, &k) < 0)
			return GW_JSON_INVALID;
		name[k.n] = '\0';
		match = !k.cut && strcmp(name, key) == 0;
		gw_js_ws(&j);
		if (j.p >= j.end || *j.p++ != ':')
			return GW_JSON_INVALID;
		t = gw_js_value(&j, 1, match ? &val : NULL);
		if (t == GW_JSON_INVALID || match) {
			if (t != GW_JSON_STRING && t != GW_JSON_NUMBER && out && outlen)
				out[0] = '\0';
			return t;
		}
		gw_js_ws(&j);
		if (j.p >= j.end)
			return GW_JSON_INVALID;
		if (*j.p == '}')
			return GW_JSON_ABSENT;
		if (*j.p++ != ',')
			return GW_JSON_INVALID;
	}
}

/* ========================================================================
 * HTTP dates and Retry-After
 * ===================================================================== */

/* Between min and max digits; returns the number of digits read, or -1. */
static int gw_uint(const char **pp, int min, int max, int *v)
{
	const char *p = *pp;
	int n = 0;

	*v = 0;
	while (n < max && gw_isdigit(*p)) {
		*v = *v * 10 + (*p++ - '0');
		n++;
	}
	if (n < min || gw_isdigit(*p))
		return -1;
	*pp = p;
	return n;
}

static int gw_month(const char **pp, int *mon)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int i;

	for (i = 0; i < 12; i++)
		if (strncmp(*pp, names + 3 * i, 3) == 0) {
			*pp += 3;
			*mon = i + 1;
			return 0;
		}
	return -1;
}

static int gw_lit(const char **pp, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*pp, lit, n) != 0)
		return -1;
	*pp += n;
	return 0;
}

static int gw_hms(const char **pp, int *h, int *m, int *s)
{
	if (gw_uint(pp, 2, 2, h) < 0 || gw_lit(pp, ":") < 0 || gw_uint(pp, 2, 2, m) < 0 ||
	    gw_lit(pp, ":") < 0 || gw_uint(pp, 2, 2, s) < 0)
		return -1;
	return 0;
}

/* "06 Nov 1994 08:49:37 GMT" (IMF-fixdate) or "06-Nov-94 08:49:37 GMT"
 * (RFC 850), after the weekday and its comma. */
static int gw_date_dmy(const char *p, int *y, int *mo, int *d, int *h, int *mi, int *s)
{
	char sep;
	int n;

	if (gw_lit(&p, " ") < 0 || gw_uint(&p, 2, 2, d) < 0)
		return -1;
	sep = *p++;
	if ((sep != ' ' && sep != '-') || gw_month(&p, mo) < 0 || *p++ != sep)
		return -1;
	if ((n = gw_uint(&p, 2, 4, y)) < 0 || n == 3 || (sep == ' ' && n != 4))
		return -1;
	/* RFC 850's two-digit year: RFC 9110 wants the most recent past year
	 * ending in those digits; a fixed pivot does, until 2069. */
	if (n == 2)
		*y += *y < 70 ? 2000 : 1900;
	if (gw_lit(&p, " ") < 0 || gw_hms(&p, h, mi, s) < 0 || gw_lit(&p, " GMT") < 0)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p ? -1 : 0;
}

/* "Nov  6 08:49:37 1994" (asctime), after the weekday and its space. */
static int gw_date_asctime(const char *p, int *y, int *mo, int *d, int *h, int *mi, int *s)
{
	if (gw_month(&p, mo) < 0 || gw_lit(&p, " ") < 0)
		return -1;
	if (*p == ' ')
		p++;
	if (gw_uint(&p, 1, 2, d) < 0 || gw_lit(&p, " ") < 0 || gw_hms(&p, h, mi, s) < 0 ||
	    gw_lit(&p, " ") < 0 || gw_uint(&p, 4, 4, y) < 0)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p ? -1 : 0;
}

int gw_http_date(const char *s, int64_t *t)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, rc;

	while (gw_isalpha(*p))
		p++;
	if (p - s < 3)
		return -1;
	if (*p == ',')
		rc = gw_date_dmy(p + 1, &y, &mo, &d, &h, &mi, &sec);
	else if (*p == ' ')
		rc = gw_date_asctime(p + 1, &y, &mo, &d, &h, &mi, &sec);
	else
		return -1;
	if (rc < 0 || y < 1970 || d < 1 || d > civil_month_days(y, mo) || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (sec == 60)
		sec = 59;              /* a leap second: near enough */
	*t = (int64_t)civil_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

double gw_retry_after(const char *v, double now)
{
	int64_t t;

	if (!v)
		return -1.0;
	while (*v == ' ' || *v == '\t')
		v++;
	if (!*v)
		return -1.0;
	if (gw_isdigit(*v)) {
		double secs = 0.0;

		for (; gw_isdigit(*v); v++)
			if (secs < 1e9)
				secs = secs * 10.0 + (*v - '0');
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v)
			return -1.0;
		return secs < 1e9 ? secs : 1e9;
	}
	if (gw_http_date(v, &t) < 0)
		return -1.0;
	return (double)t > now ? (double)t - now : 0.0;
}

/* ========================================================================
 * Cleaning what gateways say
 * ===================================================================== */

/* A phone-number-like run at src[i]: digits (with an optional leading
 * '+') and the separators people put in numbers.  Returns where its last
 * digit ends, and its digit count in *digits. */
static size_t gw_number_run(const char *src, size_t srclen, size_t i, int *digits)
{
	size_t end = i;

	*digits = 0;
	if (src[i] == '+')
		i++;
	for (; i < srclen && (gw_isdigit(src[i]) || strchr(" -()", src[i])); i++)
		if (gw_isdigit(src[i])) {
			(*digits)++;
			end = i + 1;
		}
	return end;
}

char *gw_reason_clean(char *dst, size_t n, const char *src, size_t srclen)
{
	size_t i = 0, o = 0, plain_until = 0;
	int space = 0;

	if (n == 0)
		return dst;
	while (i < srclen && src[i] && o + 1 < n) {
		unsigned char c = (unsigned char)src[i];
		int digits;

		if (i >= plain_until && (gw_isdigit(c) || (c == '+' && i + 1 < srclen && gw_isdigit(src[i + 1])))) {
			size_t end = gw_number_run(src, srclen, i, &digits);

			if (digits >= 6) {     /* never a code or a port: a phone number */
				c = '#';
				i = end - 1;
			} else {
				plain_until = end;
			}
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = o > 0;
			i++;
			continue;
		}
		if (c >= 0x80) {               /* one '?' per UTF-8 character */
			while (i + 1 < srclen && ((unsigned char)src[i + 1] & 0xc0) == 0x80)
				i++;
			c = '?';
		} else if (c < 0x20 || c == 0x7f) {
			c = '?';
		}
		if (space) {
			if (o + 2 >= n)
				break;
			dst[o++] = ' ';
			space = 0;
		}
		dst[o++] = (char)c;
		i++;
	}
	dst[o] = '\0';
	return dst;
}

int gw_token_clean(char *dst, size_t n, const char *src)
{
	size_t o = 0;

	if (n == 0)
		return -1;
	for (; src && *src && o + 1 < n; src++)
		dst[o++] = (*src > 0x20 && *src < 0x7f) ? *src : '_';
	dst[o] = '\0';
	return o ? 0 : -1;
}

const char *gw_phone_tail(const char *phone, char *buf)
{
	const char *p;
	char last[2] = {0, 0};
	int k = 0;

	for (p = phone ? phone + strlen(phone) : NULL; p && p > phone && k < 2;)
		if (gw_isdigit(*--p))
			last[1 - k++] = *p;
	if (k < 2)
		snprintf(buf, 8, "**");
	else
		snprintf(buf, 8, "**%c%c", last[0], last[1]);
	return buf;
}
