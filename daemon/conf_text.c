/* conf_text.c - see conf_text.h */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_text.h"

#define MAX_NEST 256                   /* deeper than any configuration */

/* libconfig's text as code: strings and comments are single tokens. */
struct lex {
	const char *s, *p, *end;
	int line;
	int depth;
	char open[MAX_NEST];           /* the brackets open at p */
};

static bool name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '*';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static void skip_string(struct lex *x)
{
	while (x->p < x->end && *x->p != '"') {
		if (*x->p == '\\' && x->p + 1 < x->end)
			x->p++;
		else if (*x->p == '\n')
			x->line++;
		x->p++;
	}
	if (x->p < x->end)
		x->p++;
}

static void skip_comment(struct lex *x, bool block)
{
	while (x->p < x->end) {
		if (!block && *x->p == '\n')
			return;                /* the newline is code: it ends the line */
		if (block && *x->p == '*' && x->p + 1 < x->end && x->p[1] == '/') {
			x->p += 2;
			return;
		}
		x->line += *x->p++ == '\n';
	}
}

/* The next character of code, or 0 at the end: a string comes as one '"',
 * comments are skipped, '\n' ends each line; brackets are tracked. */
static char next_code(struct lex *x)
{
	while (x->p < x->end) {
		char c = *x->p++;
		if (c == '"') {
			skip_string(x);
			return '"';
		}
		if (c == '#' || (c == '/' && x->p < x->end && (*x->p == '/' || *x->p == '*'))) {
			bool block = c == '/' && *x->p == '*';
			x->p += c == '/';
			skip_comment(x, block);
			continue;
		}
		if (c == '\n')
			x->line++;
		else if (c == '{' || c == '(' || c == '[')
			x->open[x->depth < MAX_NEST ? x->depth : MAX_NEST - 1] = c, x->depth++;
		else if ((c == '}' || c == ')' || c == ']') && x->depth > 0)
			x->depth--;
		return c;
	}
	return 0;
}

static void lex_init(struct lex *x, const char *text, size_t len)
{
	memset(x, 0, sizeof *x);
	x->s = x->p = text;
	x->end = text + len;
	x->line = 1;
}

/* After a name: is the next code '=' or ':' (it names a setting)? */
static bool names_setting(const struct lex *at)
{
	struct lex x = *at;
	char c;

	while ((c = next_code(&x)) == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\n')
		;
	return c == '=' || c == ':';
}

int conf_text_merge(struct sbuf *text, const char *name)
{
	struct lex x;
	struct sbuf out = {0};
	size_t n = strlen(name), copied = 0;
	char c;
	int count = 0;

	if (!text->s)
		return 0;
	lex_init(&x, text->s, text->len);
	while ((c = next_code(&x)) != 0) {
		const char *start = x.p - 1;
		/* a name starts here unless it goes on from the byte before (a
		 * comment between two names separates them) */
		if (x.depth == 0 && name_start(c) && (start == x.s || !name_char(start[-1]))) {
			const char *e = start;
			while (e < x.end && name_char(*e))
				e++;
			x.p = e;
			if ((size_t)(e - start) == n && memcmp(start, name, n) == 0 && names_setting(&x) &&
			    ++count > 1) {
				sbuf_add(&out, text->s + copied, (size_t)(e - text->s) - copied);
				sbuf_printf(&out, "*%d", count);
				copied = (size_t)(e - text->s);
			}
			continue;
		}
	}
	if (count > 1) {
		sbuf_add(&out, text->s + copied, text->len - copied);
		sbuf_free(text);
		*text = out;
	} else {
		sbuf_free(&out);
	}
	return count;
}

static bool ends_value(char c)
{
	return c == '"' || c == '}' || c == ')' || c == ']' || name_char(c) || c == '.';
}

static bool starts_value(char c)
{
	return c == '"' || c == '{' || c == '(' || c == '[' || name_char(c) || c == '+' || c == '.';
}

int conf_text_missing_comma(const char *text, int line)
{
	struct lex x;
	char c, last = 0, first = 0, inside = 0;
	int last_line = 0, cur = 1;

	lex_init(&x, text, strlen(text));
	while ((c = next_code(&x)) != 0 && cur <= line) {
		if (c == '\n') {
			cur++;
			if (cur == line)               /* what the error's line is inside of */
				inside = x.depth > 0 ? x.open[x.depth <= MAX_NEST ? x.depth - 1 : MAX_NEST - 1] : 0;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r')
			continue;
		if (cur == line) {
			first = c;
			break;
		}
		last = c;
		last_line = cur;
	}
	if (line < 2 || !first || !last_line || (inside != '(' && inside != '['))
		return 0;
	return ends_value(last) && starts_value(first) ? last_line : 0;
}

int conf_text_repeat(const char *s, const char *name)
{
	size_t n = strlen(name);
	char *end;
	long k;

	if (strncmp(s, name, n) != 0)
		return 0;
	if (!s[n])
		return 1;
	if (s[n] != '*' || s[n + 1] < '1' || s[n + 1] > '9')
		return 0;
	k = strtol(s + n + 1, &end, 10);
	return *end || k < 2 || k > 1000000 ? 0 : (int)k;
}
