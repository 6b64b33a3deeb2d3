/* safetext.c - see safetext.h */
#include "config.h"

#include <string.h>

#include "safetext.h"

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;                      /* overlong, beyond Unicode, a surrogate */
	return len;
}

bool safe_utf8(const char *s, size_t n, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (!(k = utf8_len(p + i, n - i))) {
			if (bad)
				*bad = i;
			return false;
		}
		i += k;
	}
	return true;
}

static void escape_byte(struct sbuf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

	if (c == '\n')
		sbuf_add(b, "\\n", 2);
	else if (c == '\r')
		sbuf_add(b, "\\r", 2);
	else if (c == '\t')
		sbuf_add(b, "\\t", 2);
	else
		sbuf_add(b, e, 4);
}

void safe_escape(struct sbuf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		k = utf8_len(p + i, n - i);
		if (k == 1 && p[i] >= 0x20 && p[i] != 0x7f) {
			sbuf_addc(b, (char)p[i]);
		} else if (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) {
			escape_byte(b, p[i]);          /* a C1 control (U+0080-U+009F): CSI ... */
			escape_byte(b, p[i + 1]);
		} else if (k > 1) {
			sbuf_add(b, s + i, k);
		} else {
			escape_byte(b, p[i]);
			k = 1;
		}
		i += k;
	}
}

void safe_escape_lines(struct sbuf *b, const char *s, size_t n)
{
	const char *end = s + n, *nl;

	for (; s < end; s = nl + 1) {
		nl = memchr(s, '\n', (size_t)(end - s));
		safe_escape(b, s, (size_t)((nl ? nl : end) - s));
		if (!nl)
			break;
		sbuf_addc(b, '\n');
	}
}

bool safe_id(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

	return n > 0 && s[n] == '\0';
}
