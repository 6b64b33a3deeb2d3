/* conf_read.c - see conf_read.h.
 *
 * The scanner follows libconfig 1.5's scanner.l rule for rule (longest
 * match, then the first rule), the parser its grammar.y, and each setting
 * gets the line libconfig records for it: the line the scanner has read
 * up to when the parser makes it.  That is the line of the setting's
 * name; for an element of a list or array, the line of its '{', '(' or
 * '[', or of its value; but for a string element the parser must see the
 * token after the string (another string would be joined to it), so its
 * line is that token's. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_read.h"
#include "conf_skim.h"
#include "util.h"

#define MAX_DEPTH 128                  /* deeper: libconfig's business */
#define NUM_MAX 64                     /* longest number token taken */

enum tok {
	T_EOF, T_NAME, T_EQUALS, T_COMMA, T_SEMI, T_GROUP_START, T_GROUP_END, T_ARRAY_START,
	T_ARRAY_END, T_LIST_START, T_LIST_END, T_BOOL, T_INT, T_INT64, T_HEX, T_HEX64, T_FLOAT,
	T_STRING, T_BAD
};

struct token {
	enum tok t;
	const char *s;                 /* the token's text (a string: inside the quotes) */
	size_t n;
	int line;                      /* the line the scanner is on after it */
	bool esc;                      /* a string with a backslash or a line break */
	uint64_t hash;                 /* a name's (FNV-1a) */
	union {
		int i;
		long long ll;
		double f;
	} v;                           /* a number's value */
};

/* A bump allocator that can start over (one patient at a time). */
struct bump_chunk {
	struct bump_chunk *next;
	size_t size, used;
	max_align_t data[];
};

struct bump {
	struct bump_chunk *head;
};

#define BUMP_CHUNK ((size_t)256 << 10)

struct name {
	char *s;
	size_t n;
	uint64_t hash;
};

#define FNV_BASIS 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

/* One streamed list: where its next element starts (the scanner's state
 * after the token before it, and that token). */
struct stream {
	config_setting_t *list;
	const char *p;
	int line;
	struct token tok;
	long count, next;
	const char *end;               /* lazy: just after its ')' as skimmed */
	int end_line;
	bool unchecked;                /* lazy: skimmed, not yet read */
};

struct conf_reader {
	const char *p, *end;           /* the scanner */
	int line;
	struct token tok;              /* the parser's lookahead */
	config_t *cfg;
	config_setting_t *root;
	struct bump keep, scratch, *mem;
	config_setting_t **stack;      /* the members of the aggregates being read */
	size_t nstack, capstack;
	int depth, npatients;
	struct stream *streams;
	size_t nstreams, capstreams;
	struct sbuf str;               /* a string's value being joined */
	struct name *names;            /* settings' names, one copy of each */
	size_t capnames, nnames;
	bool check;                    /* reading only to check: string values are not kept */
	bool lazy;                     /* patients lists skimmed (conf_read_lazy) */
};

/* ---- memory ----------------------------------------------------------- */

static void *bump_alloc(struct bump *b, size_t n)
{
	struct bump_chunk *c = b->head;
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (!c || c->size - c->used < n) {
		size_t size = n > BUMP_CHUNK / 4 ? n : BUMP_CHUNK;
		c = xmalloc(sizeof *c + size);
		c->size = size;
		c->used = 0;
		c->next = b->head;
		b->head = c;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

/* Keeps the newest chunk, empty. */
static void bump_reset(struct bump *b)
{
	struct bump_chunk *c, *next;

	if (!b->head)
		return;
	for (c = b->head->next; c; c = next) {
		next = c->next;
		free(c);
	}
	b->head->next = NULL;
	b->head->used = 0;
}

static void bump_free(struct bump *b)
{
	bump_reset(b);
	free(b->head);
	b->head = NULL;
}

static char *bump_strndup(struct bump *b, const char *s, size_t n)
{
	char *d = bump_alloc(b, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* ---- the scanner (scanner.l) ------------------------------------------ */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_xdigit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '*';
}

static bool name_char(char c)
{
	return name_start(c) || is_digit(c) || c == '-' || c == '_';
}

/* Blanks, line breaks and comments; false for a comment left open (a
 * block comment ends libconfig's text; not ours to judge). */
static bool skip_space(struct conf_reader *r)
{
	const char *p = r->p, *end = r->end;

	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\n'))
			r->line += *p++ == '\n';
		if (p < end && (*p == '#' || (*p == '/' && p + 1 < end && p[1] == '/'))) {
			/* libconfig 1.5's rule is (#|//).*$: without a line break
			 * after it, the text's last line is garbage to it */
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl)
				return false;
			p = nl;
		} else if (p < end && *p == '/' && p + 1 < end && p[1] == '*') {
			for (p += 2; p + 1 < end && !(p[0] == '*' && p[1] == '/'); p++)
				r->line += *p == '\n';
			if (p + 1 >= end)
				return false;
			p += 2;
		} else {
			r->p = p;
			return true;
		}
	}
}

/* A string: its raw text up to the closing quote.  Escapes are undone
 * when its value is taken (str_append).  Only the escapes every libconfig
 * reads alike are taken: \n \r \t \f \\ \" and \xHH but \x00 (1.5 drops it,
 * later versions end the string there); 1.5 keeps a backslash before
 * anything else, later versions read \a \b \v as control characters. */
static enum tok scan_string(struct conf_reader *r)
{
	const char *p = r->p, *end = r->end;       /* after the opening quote */

	r->tok.s = p;
	r->tok.esc = false;
	for (; p < end && *p != '"'; p++) {
		if (*p == '\\') {
			r->tok.esc = true;
			if (p + 1 < end && strchr("nrtf\\\"", p[1]) && p[1]) {
				p++;
			} else if (p + 3 < end && (p[1] == 'x' || p[1] == 'X') && is_xdigit(p[2]) &&
			    is_xdigit(p[3]) && (p[2] != '0' || p[3] != '0')) {
				p += 3;
			} else {
				return T_BAD;
			}
		} else if (*p == '\n') {
			r->tok.esc = true;
			r->line++;
		}
	}
	if (p == end)
		return T_BAD;                  /* left open */
	r->tok.n = (size_t)(p - r->tok.s);
	r->p = p + 1;
	return T_STRING;
}

static size_t count_digits(const char *p, const char *end, bool (*is)(char))
{
	const char *q = p;

	while (q < end && is(*q))
		q++;
	return (size_t)(q - p);
}

/* An exponent [eE][-+]?[0-9]+ at p: its length, or 0. */
static size_t exponent(const char *p, const char *end)
{
	size_t k = 1, d;

	if (p >= end || (*p != 'e' && *p != 'E'))
		return 0;
	if (p + 1 < end && (p[1] == '-' || p[1] == '+'))
		k++;
	d = count_digits(p + k, end, is_digit);
	return d ? k + d : 0;
}

/* The longest of libconfig's number rules at p (float, integer, integer64,
 * hex, hex64; the first of them on a tie), or T_BAD when none matches. */
static enum tok scan_number(const char *p, const char *end, size_t *len)
{
	size_t sign = (*p == '-' || *p == '+'), d1 = count_digits(p + sign, end, is_digit), best = 0, n;
	const char *q = p + sign + d1;
	enum tok t = T_BAD;

	if (q < end && *q == '.') {    /* [-+]?[0-9]*\.[0-9]*([eE][-+]?[0-9]+)? */
		size_t d2 = count_digits(q + 1, end, is_digit);
		n = sign + d1 + 1 + d2;
		n += exponent(p + n, end);
		best = n, t = T_FLOAT;
	}
	if (d1 && (n = exponent(q, end)) > 0 && sign + d1 + n > best)   /* [-+]?[0-9]+[eE]... */
		best = sign + d1 + n, t = T_FLOAT;
	if (d1 && sign + d1 > best)
		best = sign + d1, t = T_INT;
	if (d1 && q < end && *q == 'L') {
		n = sign + d1 + 1 + (q + 1 < end && q[1] == 'L');
		if (n > best)
			best = n, t = T_INT64;
	}
	if (!sign && p + 2 < end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && is_xdigit(p[2])) {
		n = 2 + count_digits(p + 2, end, is_xdigit);
		if (n > best)
			best = n, t = T_HEX;
		if (p + n < end && p[n] == 'L') {
			n += 1 + (p + n + 1 < end && p[n + 1] == 'L');
			if (n > best)
				best = n, t = T_HEX64;
		}
	}
	*len = best;
	return t;
}

static bool word_is(const char *s, size_t n, const char *w)
{
	size_t i;

	if (n != strlen(w))
		return false;
	for (i = 0; i < n; i++)
		if ((s[i] | 0x20) != w[i])
			return false;
	return true;
}

/* A number's value, for the numbers every libconfig reads alike: an
 * integer in int's range (1.5 truncates a bigger one, later versions make
 * it a 64-bit integer), one with L or LL in long long's, hex of at most 7
 * digits (an int in every version), any float; and followed by what can
 * end it (1.5 reads "0b1" as 0 and a name b1, later versions as 1). */
static enum tok number_value(struct token *tok, enum tok t, char after)
{
	char buf[NUM_MAX];
	long long v;

	if (tok->n >= NUM_MAX || t == T_HEX64 || (t == T_HEX && tok->n > 9) || name_char(after) ||
	    after == '.' || after == '+')
		return T_BAD;
	memcpy(buf, tok->s, tok->n);
	buf[tok->n] = '\0';
	errno = 0;
	switch (t) {
	case T_INT:
		v = strtoll(buf, NULL, 10);
		if (errno || v < INT_MIN || v > INT_MAX)
			return T_BAD;
		tok->v.i = (int)v;
		return t;
	case T_INT64:
		tok->v.ll = strtoll(buf, NULL, 10);
		return errno ? T_BAD : t;
	case T_HEX:
		tok->v.i = (int)strtol(buf, NULL, 16);
		return t;
	default:
		tok->v.f = strtod(buf, NULL);     /* atof(), as libconfig */
		return t;
	}
}

static enum tok scan(struct conf_reader *r)
{
	const char *p;
	size_t n;

	if (!skip_space(r))
		return T_BAD;
	p = r->p;
	if (p == r->end)
		return T_EOF;
	r->tok.s = p;
	r->tok.n = 1;
	r->p = p + 1;
	switch (*p) {
	case '=': case ':': return T_EQUALS;
	case ',': return T_COMMA;
	case ';': return T_SEMI;
	case '{': return T_GROUP_START;
	case '}': return T_GROUP_END;
	case '[': return T_ARRAY_START;
	case ']': return T_ARRAY_END;
	case '(': return T_LIST_START;
	case ')': return T_LIST_END;
	case '"': return scan_string(r);
	default: break;
	}
	if (name_start(*p)) {
		uint64_t h = (FNV_BASIS ^ (unsigned char)*p) * FNV_PRIME;
		for (n = 1; p + n < r->end && name_char(p[n]); n++)
			h = (h ^ (unsigned char)p[n]) * FNV_PRIME;
		r->tok.hash = h;
		r->tok.n = n;
		r->p = p + n;
		return word_is(p, n, "true") || word_is(p, n, "false") ? T_BOOL : T_NAME;
	}
	if (*p == '-' || *p == '+' || *p == '.' || is_digit(*p)) {
		enum tok t = scan_number(p, r->end, &n);
		r->tok.n = n;
		r->p = p + n;
		return t == T_BAD ? T_BAD : number_value(&r->tok, t, r->p < r->end ? *r->p : ' ');
	}
	return T_BAD;                  /* libconfig's TOK_GARBAGE, '@', a NUL... */
}

/* The next token into r->tok; false (the reader gives up) on T_BAD. */
static bool next(struct conf_reader *r)
{
	r->tok.t = scan(r);
	r->tok.line = r->line;
	return r->tok.t != T_BAD;
}

/* ---- values ------------------------------------------------------------ */

static int hexval(char c)
{
	return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Appends a string token's value (scanner.l's STRING rules, for the
 * escapes scan_string takes). */
static void str_append(struct sbuf *b, const struct token *t)
{
	const char *p = t->s, *end = t->s + t->n;

	if (!t->esc) {
		sbuf_add(b, p, t->n);
		return;
	}
	while (p < end) {
		const char *q = memchr(p, '\\', (size_t)(end - p));
		if (!q) {
			sbuf_add(b, p, (size_t)(end - p));
			break;
		}
		sbuf_add(b, p, (size_t)(q - p));
		switch (q[1]) {
		case 'n': sbuf_addc(b, '\n'); break;
		case 'r': sbuf_addc(b, '\r'); break;
		case 't': sbuf_addc(b, '\t'); break;
		case 'f': sbuf_addc(b, '\f'); break;
		case 'x': case 'X':
			sbuf_addc(b, (char)(hexval(q[2]) << 4 | hexval(q[3])));
			p = q + 4;
			continue;
		default: sbuf_addc(b, q[1]); break;      /* \\ and \" */
		}
		p = q + 2;
	}
}

static config_setting_t *new_setting(struct conf_reader *r, config_setting_t *parent,
    const char *name, int type, int line)
{
	config_setting_t *s = bump_alloc(r->mem, sizeof *s);

	memset(s, 0, sizeof *s);
	s->name = (char *)name;
	s->type = (short)type;
	s->parent = parent;
	s->config = r->cfg;
	s->line = (unsigned)line;
	return s;
}

/* A scalar token's value into s (its type set). */
static void set_number(config_setting_t *s, const struct token *t)
{
	switch (t->t) {
	case T_INT:
		s->type = CONFIG_TYPE_INT;
		s->value.ival = t->v.i;
		break;
	case T_INT64:
		s->type = CONFIG_TYPE_INT64;
		s->value.llval = t->v.ll;
		break;
	case T_HEX:
		s->type = CONFIG_TYPE_INT;
		s->format = CONFIG_FORMAT_HEX;
		s->value.ival = t->v.i;
		break;
	case T_FLOAT:
		s->type = CONFIG_TYPE_FLOAT;
		s->value.fval = t->v.f;
		break;
	default:
		s->type = CONFIG_TYPE_BOOL;
		s->value.ival = word_is(t->s, t->n, "true");
		break;
	}
}

static bool is_scalar(enum tok t)
{
	return t == T_BOOL || t == T_INT || t == T_INT64 || t == T_HEX || t == T_HEX64 ||
	    t == T_FLOAT || t == T_STRING;
}

/* A scalar (the lookahead) into s; strings next to each other are one.
 * Leaves the token after it as the lookahead. */
static bool scalar(struct conf_reader *r, config_setting_t *s)
{
	if (r->tok.t != T_STRING) {
		set_number(s, &r->tok);
		return next(r);
	}
	sbuf_reset(&r->str);
	do {
		if (!r->check)
			str_append(&r->str, &r->tok);
		if (!next(r))
			return false;
	} while (r->tok.t == T_STRING);
	s->type = CONFIG_TYPE_STRING;
	s->value.sval = r->check ? (char *)"" : bump_strndup(r->mem, r->str.s ? r->str.s : "",
	    r->str.len);
	return true;
}

/* ---- the parser (grammar.y) ------------------------------------------- */

static bool value(struct conf_reader *r, config_setting_t *s);
static bool settings(struct conf_reader *r, config_setting_t *group);

static void push(struct conf_reader *r, config_setting_t *s)
{
	grow_array(&r->stack, &r->capstack, r->nstack + 1, sizeof *r->stack);
	r->stack[r->nstack++] = s;
}

/* The members pushed since `base` become the aggregate's list. */
static void close_members(struct conf_reader *r, config_setting_t *s, size_t base)
{
	size_t n = r->nstack - base;
	config_list_t *l;

	if (!n)
		return;                        /* libconfig makes the list at the first member */
	l = bump_alloc(r->mem, sizeof *l);
	l->length = (unsigned)n;
	l->elements = bump_alloc(r->mem, n * sizeof *l->elements);
	memcpy(l->elements, r->stack + base, n * sizeof *l->elements);
	s->value.list = l;
	r->nstack = base;
}

static bool expect(struct conf_reader *r, enum tok t)
{
	return r->tok.t == t && next(r);
}

/* An element of list or array `parent` (the lookahead starts it); NULL
 * if the text is not ours.  An array takes scalars of one type. */
static config_setting_t *element(struct conf_reader *r, config_setting_t *parent, size_t base)
{
	config_setting_t *e;
	enum tok t = r->tok.t;

	if (parent->type == CONFIG_TYPE_ARRAY && !is_scalar(t))
		return NULL;
	e = new_setting(r, parent, NULL, CONFIG_TYPE_NONE, r->tok.line);
	if (t == T_GROUP_START || t == T_LIST_START || t == T_ARRAY_START)
		return value(r, e) ? e : NULL;
	if (!is_scalar(t) || !scalar(r, e))
		return NULL;
	if (t == T_STRING)
		e->line = (unsigned)r->tok.line;   /* the token after it: see the head */
	if (parent->type == CONFIG_TYPE_ARRAY && r->nstack > base && r->stack[base]->type != e->type)
		return NULL;                   /* "mismatched element type in array" */
	return e;
}

/* ( value, ... ) or [ scalar, ... ] after the opening bracket. */
static bool elements(struct conf_reader *r, config_setting_t *s, enum tok close)
{
	size_t base = r->nstack;

	if (r->tok.t != close) {
		for (;;) {
			config_setting_t *e = element(r, s, base);
			if (!e)
				return false;
			push(r, e);
			if (r->tok.t != T_COMMA)
				break;
			if (!next(r))
				return false;
		}
	}
	close_members(r, s, base);
	return expect(r, close);
}

/* The value of s, which the lookahead starts. */
static bool value(struct conf_reader *r, config_setting_t *s)
{
	bool ok;

	if (is_scalar(r->tok.t))
		return scalar(r, s);
	if (++r->depth > MAX_DEPTH)
		return false;
	switch (r->tok.t) {
	case T_GROUP_START:
		s->type = CONFIG_TYPE_GROUP;
		ok = next(r) && settings(r, s) && expect(r, T_GROUP_END);
		break;
	case T_LIST_START:
		s->type = CONFIG_TYPE_LIST;
		ok = next(r) && elements(r, s, T_LIST_END);
		break;
	case T_ARRAY_START:
		s->type = CONFIG_TYPE_ARRAY;
		ok = next(r) && elements(r, s, T_ARRAY_END);
		break;
	default:
		ok = false;
	}
	r->depth--;
	return ok;
}

/* The one copy of a name (in `keep`): 100,000 patients use a dozen
 * names, and a group's members are told apart by address. */
static char *name_of(struct conf_reader *r, const char *s, size_t n, uint64_t hash)
{
	size_t i, j;

	if (2 * (r->nnames + 1) > r->capnames) {
		size_t cap = r->capnames ? 2 * r->capnames : 64;
		struct name *v = xcalloc(cap, sizeof *v);
		for (i = 0; i < r->capnames; i++) {
			if (!r->names[i].s)
				continue;
			for (j = r->names[i].hash & (cap - 1); v[j].s; j = (j + 1) & (cap - 1))
				;
			v[j] = r->names[i];
		}
		free(r->names);
		r->names = v;
		r->capnames = cap;
	}
	for (j = hash & (r->capnames - 1); r->names[j].s; j = (j + 1) & (r->capnames - 1))
		if (r->names[j].hash == hash && r->names[j].n == n && memcmp(r->names[j].s, s, n) == 0)
			return r->names[j].s;
	r->nnames++;
	r->names[j].s = bump_strndup(&r->keep, s, n);
	r->names[j].n = n;
	r->names[j].hash = hash;
	return r->names[j].s;
}

static bool duplicate(const struct conf_reader *r, size_t base, const char *name)
{
	size_t i;

	for (i = base; i < r->nstack; i++)
		if (r->stack[i]->name == name)
			return true;
	return false;
}

static bool stream_list(struct conf_reader *r, config_setting_t *list);

/* NAME = value [;,]: the lookahead is the name. */
static bool setting(struct conf_reader *r, config_setting_t *group, size_t base)
{
	const struct token name = r->tok;
	bool top = group == r->root, repeat;
	config_setting_t *s;
	char *copy;

	repeat = top && name.n == 8 && memcmp(name.s, "patients", 8) == 0 && ++r->npatients > 1;
	if (repeat) {
		char b[32];
		uint64_t h = FNV_BASIS;
		size_t i, n = (size_t)snprintf(b, sizeof b, "patients*%d", r->npatients);
		for (i = 0; i < n; i++)
			h = (h ^ (unsigned char)b[i]) * FNV_PRIME;
		copy = name_of(r, b, n, h);
	} else {
		copy = name_of(r, name.s, name.n, name.hash);
	}
	if (duplicate(r, base, copy))
		return false;                  /* "duplicate setting name" */
	s = new_setting(r, group, copy, CONFIG_TYPE_NONE, name.line);
	push(r, s);
	if (!next(r) || !expect(r, T_EQUALS))
		return false;
	if (top && r->tok.t == T_LIST_START && strncmp(copy, "patients", 8) == 0 &&
	    (!copy[8] || repeat)) {
		if (!stream_list(r, s))
			return false;
	} else if (!value(r, s)) {
		return false;
	}
	if (r->tok.t == T_SEMI || r->tok.t == T_COMMA)
		return next(r);
	return true;
}

/* Settings up to the end of the group (or of the text). */
static bool settings(struct conf_reader *r, config_setting_t *group)
{
	size_t base = r->nstack;

	while (r->tok.t == T_NAME)
		if (!setting(r, group, base))
			return false;
	close_members(r, group, base);
	return true;
}

/* ---- streamed lists ---------------------------------------------------- */

static void save(const struct conf_reader *r, struct stream *st)
{
	st->p = r->p;
	st->line = r->line;
	st->tok = r->tok;
}

static void restore(struct conf_reader *r, const struct stream *st)
{
	r->p = st->p;
	r->line = st->line;
	r->tok = st->tok;
}

/* One element of a streamed list, into the scratch arena. */
static config_setting_t *stream_elem(struct conf_reader *r, config_setting_t *list)
{
	struct bump *keep = r->mem;
	config_setting_t *e;

	bump_reset(&r->scratch);
	r->mem = &r->scratch;
	e = element(r, list, r->nstack);
	r->mem = keep;
	return e;
}

/* A top-level patients list, the lookahead its '(': its elements are read
 * here to check them (libconfig reads the whole text before any of it is
 * used) and again, one at a time, by conf_read_next. */
/* Reads (to check) the elements of st from its first, counting them; the
 * lookahead is then the list's ')'. */
static bool check_list(struct conf_reader *r, struct stream *st)
{
	st->count = 0;
	if (r->tok.t == T_LIST_END)
		return true;
	for (;;) {
		bool ok;
		r->check = true;
		ok = stream_elem(r, st->list) != NULL;
		r->check = false;
		if (!ok)
			return false;
		st->count++;
		if (r->tok.t != T_COMMA)
			return r->tok.t == T_LIST_END;
		if (!next(r))
			return false;
	}
}

/* A non-empty patients list skimmed, not read (conf_skim.h): from after
 * the lookahead (one token into the list) to just after its ')', counting
 * lines.  On text this reader takes, it ends where reading would
 * (conf_read_check makes sure); a cached read needs no more. */
static bool skim_list(struct conf_reader *r, struct stream *st)
{
	struct conf_skim sk = {r->p, r->tok.t == T_LIST_START ? 2 : 1, r->line};

	if (!conf_skim(&sk, r->end))
		return false;
	r->p = sk.p;
	r->line = sk.line;
	st->end = sk.p;
	st->end_line = sk.line;
	st->unchecked = true;
	return next(r);
}

/* A top-level patients list, the lookahead its '(': its elements are read
 * here to check them (libconfig reads the whole text before any of it is
 * used), or skimmed (lazy), and read again, one at a time, by
 * conf_read_next. */
static bool stream_list(struct conf_reader *r, config_setting_t *list)
{
	struct stream *st;

	list->type = CONFIG_TYPE_LIST;
	if (!next(r))
		return false;
	grow_array(&r->streams, &r->capstreams, r->nstreams + 1, sizeof *r->streams);
	st = &r->streams[r->nstreams++];
	memset(st, 0, sizeof *st);
	st->list = list;
	save(r, st);
	if (r->lazy && r->tok.t != T_LIST_END)
		return skim_list(r, st);
	return check_list(r, st) && expect(r, T_LIST_END);
}

int conf_read_check(struct conf_reader *r)
{
	size_t i;

	for (i = 0; i < r->nstreams; i++) {
		struct stream *st = &r->streams[i];
		if (!st->unchecked)
			continue;
		restore(r, st);
		/* read as the skim went: to the same ')' on the same line */
		if (!check_list(r, st) || r->p != st->end || r->line != st->end_line)
			return -1;
		st->unchecked = false;
	}
	return 0;
}

static struct stream *find_stream(const struct conf_reader *r, const config_setting_t *list)
{
	size_t i;

	for (i = 0; i < r->nstreams; i++)
		if (r->streams[i].list == list)
			return &r->streams[i];
	return NULL;
}

long conf_read_count(const struct conf_reader *r, const config_setting_t *list)
{
	const struct stream *st = r ? find_stream(r, list) : NULL;

	return st && !st->unchecked ? st->count : -1;
}

config_setting_t *conf_read_next(struct conf_reader *r, const config_setting_t *list)
{
	struct stream *st = find_stream(r, list);
	config_setting_t *e;

	if (!st || st->unchecked || st->next >= st->count)
		return NULL;
	restore(r, st);
	e = stream_elem(r, st->list);
	if (!e)                                /* read once already: cannot happen */
		return NULL;
	e->hook = (void *)(uintptr_t)(st->next + 1);
	st->next++;
	if (r->tok.t == T_COMMA)
		next(r);
	save(r, st);
	return e;
}

/* ---- the whole text ----------------------------------------------------- */

struct conf_reader *conf_read(const char *text, size_t len, config_t *cfg)
{
	return conf_read_lazy(text, len, cfg, false);
}

struct conf_reader *conf_read_lazy(const char *text, size_t len, config_t *cfg, bool lazy)
{
	struct conf_reader *r = xcalloc(1, sizeof *r);

	r->lazy = lazy;
	r->p = text;
	r->end = text + len;
	r->line = 1;
	r->cfg = cfg;
	r->mem = &r->keep;
	r->root = new_setting(r, NULL, NULL, CONFIG_TYPE_GROUP, 0);
	if (!next(r) || !settings(r, r->root) || r->tok.t != T_EOF) {
		conf_read_free(r);
		return NULL;
	}
	return r;
}

config_setting_t *conf_read_root(const struct conf_reader *r)
{
	return r->root;
}

void conf_read_free(struct conf_reader *r)
{
	if (!r)
		return;
	bump_free(&r->keep);
	bump_free(&r->scratch);
	free(r->stack);
	free(r->streams);
	free(r->names);
	sbuf_free(&r->str);
	free(r);
}

int conf_index(const config_setting_t *s)
{
	if (s->hook)
		return (int)((uintptr_t)s->hook - 1);
	return config_setting_index(s);
}
