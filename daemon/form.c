/* form.c - see form.h */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "form.h"
#include "util.h"

static int form_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int form_decode(char *s, bool plus)
{
	char *out = s;
	int hi, lo;

	for (; *s; s++) {
		if (*s == '+' && plus) {
			*out++ = ' ';
		} else if (*s != '%') {
			*out++ = *s;
		} else {
			/* s[1] is NUL at worst, so s[2] is only read when s[1] is a digit. */
			if ((hi = form_hex(s[1])) < 0 || (lo = form_hex(s[2])) < 0 || (hi | lo) == 0)
				return -1;
			*out++ = (char)(hi << 4 | lo);
			s += 2;
		}
	}
	*out = '\0';
	return 0;
}

/* Decodes one "name=value" piece of `len` bytes into f (not yet counted).
 * A NUL byte in it is refused like %00: as a C string it would cut the
 * name or value short (a text "STOP\0..." read as "STOP"). */
static int form_piece(struct form *f, const char *s, size_t len, bool from_body)
{
	const char *eq = memchr(s, '=', len);
	size_t nlen = eq ? (size_t)(eq - s) : len;
	struct form_param *p;
	char *name, *value;

	if (memchr(s, '\0', len))
		return -1;
	name = xmalloc(nlen + 1);
	memcpy(name, s, nlen);
	name[nlen] = '\0';
	value = eq ? xmalloc(len - nlen) : xstrdup("");
	if (eq) {
		memcpy(value, eq + 1, len - nlen - 1);
		value[len - nlen - 1] = '\0';
	}
	if (form_decode(name, true) < 0 || form_decode(value, true) < 0) {
		free(name);
		free(value);
		return -1;
	}
	grow_array(&f->v, &f->cap, f->n + 1, sizeof *f->v);
	p = &f->v[f->n++];
	p->name = name;
	p->value = value;
	p->from_body = from_body;
	return 0;
}

int form_parse(struct form *f, const char *s, size_t len, bool from_body)
{
	size_t n0 = f->n, i = 0, j;

	while (i < len) {
		const char *amp = memchr(s + i, '&', len - i);

		j = amp ? (size_t)(amp - s) : len;
		if (j > i && form_piece(f, s + i, j - i, from_body) < 0) {
			while (f->n > n0) {
				f->n--;
				free(f->v[f->n].name);
				free(f->v[f->n].value);
			}
			return -1;
		}
		i = j + 1;
	}
	return 0;
}

const char *form_get(const struct form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->v[i].name, name) == 0)
			return f->v[i].value;
	return NULL;
}

bool form_is_urlencoded(const char *ctype)
{
	static const char want[] = "application/x-www-form-urlencoded";
	size_t n = sizeof want - 1;

	if (!ctype)
		return false;
	ctype += strspn(ctype, " \t");
	if (strncasecmp(ctype, want, n) != 0)
		return false;
	ctype += n;
	ctype += strspn(ctype, " \t");
	return *ctype == '\0' || *ctype == ';';
}

void form_free(struct form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].value);
	}
	free(f->v);
	f->v = NULL;
	f->n = f->cap = 0;
}
