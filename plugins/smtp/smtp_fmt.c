/* smtp_fmt.c - the pure parts of the smtp module (see smtp_fmt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp_fmt.h"

#define SMTP_LINE 78                   /* RFC 5322 2.1.1: SHOULD */
#define SMTP_QP_LINE 76                /* RFC 2045 6.7 (5): MUST */
#define SMTP_EW_BYTES 42               /* text bytes per encoded-word: 56 base64 characters */

static int smtp_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

/* ------------------------------------------------------------------------
 * Addresses
 * --------------------------------------------------------------------- */

int smtp_addr_ok(const char *addr)
{
	const char *at = addr ? strchr(addr, '@') : NULL, *p;
	size_t n = addr ? strlen(addr) : 0;

	if (!at || at == addr || !at[1] || strchr(at + 1, '@') || n >= SMTP_ADDR_MAX)
		return 0;
	for (p = addr; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("<>()[],;:\\\"", *p))
			return 0;
	return at[1] != '.' && addr[n - 1] != '.';
}

static void smtp_copy(char *dst, size_t n, const char *s, size_t len)
{
	if (len >= n)
		len = n - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static void smtp_trim(const char **s, size_t *len)
{
	while (*len && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

int smtp_parse_from(const char *from, char *name, size_t namelen, char *addr, size_t addrlen)
{
	const char *lt = strchr(from, '<'), *gt, *nm = from;
	size_t nlen;

	name[0] = addr[0] = '\0';
	if (!lt) {
		const char *a = from;
		size_t alen = strlen(from);

		smtp_trim(&a, &alen);
		if (alen >= addrlen)
			return -1;
		smtp_copy(addr, addrlen, a, alen);
		return smtp_addr_ok(addr) ? 0 : -1;
	}
	gt = strchr(lt, '>');
	if (!gt || gt[strspn(gt + 1, " \t") + 1] != '\0' || (size_t)(gt - lt - 1) >= addrlen)
		return -1;
	smtp_copy(addr, addrlen, lt + 1, (size_t)(gt - lt - 1));
	if (!smtp_addr_ok(addr))
		return -1;
	nlen = (size_t)(lt - from);
	smtp_trim(&nm, &nlen);
	if (nlen >= 2 && nm[0] == '"' && nm[nlen - 1] == '"') {
		nm++;
		nlen -= 2;
	}
	if (nlen >= namelen)
		return -1;
	smtp_copy(name, namelen, nm, nlen);
	return 0;
}

/* ------------------------------------------------------------------------
 * Headers
 * --------------------------------------------------------------------- */

void smtp_date(char *out, size_t n, int64_t t)
{
	static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11) {
		snprintf(out, n, "Thu, 01 Jan 1970 00:00:00 +0000");
		return;
	}
	snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
	    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void smtp_base64(struct gw_buf *b, const unsigned char *s, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		char q[4] = {tab[s[i] >> 2], tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
		    tab[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)], tab[s[i + 2] & 63]};

		gw_buf_add(b, q, 4);
	}
	if (n - i == 1) {
		char q[4] = {tab[s[i] >> 2], tab[(s[i] & 3) << 4], '=', '='};

		gw_buf_add(b, q, 4);
	} else if (n - i == 2) {
		char q[4] = {tab[s[i] >> 2], tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
		    tab[(s[i + 1] & 15) << 2], '='};

		gw_buf_add(b, q, 4);
	}
}

/* How many bytes of s[0..n) fit in one encoded-word without splitting a
 * UTF-8 character (a broken sequence is cut anywhere: it is broken). */
static size_t smtp_ew_chunk(const char *s, size_t n)
{
	size_t k;

	if (n <= SMTP_EW_BYTES)
		return n;
	k = SMTP_EW_BYTES;
	while (k > SMTP_EW_BYTES - 3 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return ((unsigned char)s[k] & 0xc0) == 0x80 ? SMTP_EW_BYTES : k;
}

size_t smtp_rfc2047(struct gw_buf *b, const char *s, size_t n, size_t col)
{
	int first = 1;

	while (n > 0 || first) {
		size_t k = smtp_ew_chunk(s, n);

		if (!first) {
			gw_buf_adds(b, "\r\n ");
			col = 1;
		}
		gw_buf_adds(b, "=?UTF-8?B?");
		smtp_base64(b, (const unsigned char *)s, k);
		gw_buf_adds(b, "?=");
		col += 12 + (k + 2) / 3 * 4;
		s += k;
		n -= k;
		first = 0;
	}
	return col;
}

/* Does this unstructured text need RFC 2047: a byte outside printable
 * ASCII, something that reads like an encoded-word, or a word too long
 * to fold? */
static int smtp_needs_2047(const char *s)
{
	size_t word = 0;

	if (strstr(s, "=?"))
		return 1;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x7f)
			return 1;
		word = (c == ' ' || c == '\t' || c == '\r' || c == '\n') ? 0 : word + 1;
		if (word > SMTP_LINE - 2)
			return 1;
	}
	return 0;
}

/* Folds plain ASCII words (any whitespace run counts as one space). */
static void smtp_fold_ascii(struct gw_buf *b, const char *s, size_t col)
{
	while (*s) {
		size_t len;

		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (!*s)
			break;
		len = strcspn(s, " \t\r\n");
		if (col + 1 + len > SMTP_LINE && col > 0) {
			gw_buf_adds(b, "\r\n");
			col = 0;
		}
		gw_buf_addc(b, ' ');
		gw_buf_add(b, s, len);
		col += 1 + len;
		s += len;
	}
}

void smtp_header_text(struct gw_buf *b, const char *name, const char *value)
{
	size_t col = strlen(name) + 1;

	gw_buf_adds(b, name);
	gw_buf_addc(b, ':');
	if (smtp_needs_2047(value)) {
		/* Control characters would survive base64; make them spaces. */
		struct gw_buf clean = {0};
		const char *p;

		for (p = value; *p; p++)
			gw_buf_addc(&clean, (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
		gw_buf_addc(b, ' ');
		if (gw_buf_str(&clean))
			smtp_rfc2047(b, clean.s, clean.len, col + 1);
		else
			b->oom = 1;
		gw_buf_free(&clean);
	} else {
		smtp_fold_ascii(b, value, col);
	}
	gw_buf_adds(b, "\r\n");
}

/* RFC 5322 atext plus space: a display name that needs no quotes. */
static int smtp_phrase_plain(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || smtp_isdigit(*s) ||
		    strchr(" !#$%&'*+-/=?^_`{|}~", *s)))
			return 0;
	return 1;
}

static int smtp_ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

void smtp_header_from(struct gw_buf *b, const char *name, const char *addr)
{
	size_t col = 6, alen = strlen(addr) + 2;

	gw_buf_adds(b, "From: ");
	if (!name || !*name) {
		gw_buf_adds(b, addr);
		gw_buf_adds(b, "\r\n");
		return;
	}
	if (smtp_phrase_plain(name) && !strstr(name, "=?")) {
		gw_buf_adds(b, name);
		col += strlen(name);
	} else if (smtp_ascii_printable(name) && !strstr(name, "=?")) {
		gw_buf_addc(b, '"');
		for (; *name; name++) {
			if (*name == '"' || *name == '\\')
				gw_buf_addc(b, '\\');
			gw_buf_addc(b, *name);
			col++;
		}
		gw_buf_addc(b, '"');
		col += 2;
	} else {
		col = smtp_rfc2047(b, name, strlen(name), col);
	}
	gw_buf_adds(b, col + 1 + alen > SMTP_LINE ? "\r\n <" : " <");
	gw_buf_adds(b, addr);
	gw_buf_adds(b, ">\r\n");
}

/* ------------------------------------------------------------------------
 * Quoted-printable
 * --------------------------------------------------------------------- */

/* Is p at a line break (LF or CRLF) or the end of the text? */
static int smtp_at_eol(const char *p)
{
	return *p == '\0' || *p == '\n' || (p[0] == '\r' && p[1] == '\n');
}

void smtp_qp(struct gw_buf *b, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *p = text ? text : "";
	size_t col = 0;

	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		int enc;

		if (c == '\r' && p[1] == '\n')
			continue;              /* the LF makes the break */
		if (c == '\n') {
			gw_buf_adds(b, "\r\n");
			col = 0;
			continue;
		}
		enc = c == '=' || c >= 0x7f || (c < 0x20 && c != '\t') ||
		    ((c == ' ' || c == '\t') && smtp_at_eol(p + 1)) ||
		    (col == 0 && strncmp(p, "From ", 5) == 0);
		if (col + (enc ? 3 : 1) > SMTP_QP_LINE - 1) {
			gw_buf_adds(b, "=\r\n");       /* soft line break */
			col = 0;
		}
		if (enc) {
			char e[3] = {'=', hex[c >> 4], hex[c & 15]};

			gw_buf_add(b, e, 3);
			col += 3;
		} else {
			gw_buf_addc(b, (char)c);
			col++;
		}
	}
	if (col > 0 || b->len == 0 || b->s[b->len - 1] != '\n')
		gw_buf_adds(b, "\r\n");
}

/* ------------------------------------------------------------------------
 * The message
 * --------------------------------------------------------------------- */

void smtp_message(struct gw_buf *b, const struct smtp_msg *m, char *msgid, size_t msgidlen)
{
	const char *at = strchr(m->from_addr, '@');
	char date[64];

	smtp_date(date, sizeof date, m->date);
	snprintf(msgid, msgidlen, "<%s.%lld@%s>", m->id, (long long)m->due, at ? at + 1 : "localhost");
	gw_buf_printf(b, "Date: %s\r\n", date);
	smtp_header_from(b, m->from_name, m->from_addr);
	gw_buf_printf(b, "To: %s\r\n", m->to);
	smtp_header_text(b, "Subject", m->subject && *m->subject ? m->subject : "Reminder");
	gw_buf_printf(b, "Message-ID: %s\r\n", msgid);
	gw_buf_adds(b, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    /* RFC 3834: no vacation replies or other auto-answers to this */
	    "Auto-Submitted: auto-generated\r\n"
	    "\r\n");
	smtp_qp(b, m->body);
}

/* ------------------------------------------------------------------------
 * Replies
 * --------------------------------------------------------------------- */

/* The start of the line after the last "354" reply line, or NULL. */
static const char *smtp_after_data(const char *lines, size_t len)
{
	const char *p = lines, *end = lines + len, *after = NULL;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (end - p >= 3 && memcmp(p, "354", 3) == 0)
			after = nl ? nl + 1 : end;
		p = nl ? nl + 1 : end;
	}
	return after;
}

static int smtp_word(const char *p, const char *end, char *out, size_t outlen)
{
	char tok[GW_ID_MAX];
	size_t n = 0;

	while (p < end && n + 1 < sizeof tok && *p != ' ' && *p != '\r' && *p != '\n' && *p != '\t')
		tok[n++] = *p++;
	tok[n] = '\0';
	return n ? gw_token_clean(out, outlen, tok) : -1;
}

int smtp_queue_id(const char *lines, size_t len, char *out, size_t outlen)
{
	const char *p, *end;

	if (!lines)
		return -1;
	p = smtp_after_data(lines, len);
	end = lines + len;
	for (; p && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end, *k;

		if (eol - p >= 4 && p[0] == '2') {
			for (k = p; k + 10 <= eol; k++)
				if (strncmp(k, "queued as ", 10) == 0)
					return smtp_word(k + 10, eol, out, outlen);
			for (k = p; k + 3 <= eol; k++)
				if (strncmp(k, "id=", 3) == 0 && (k == p || k[-1] == ' '))
					return smtp_word(k + 3, eol, out, outlen);
		}
		p = nl ? nl + 1 : end;
	}
	return -1;
}

/* The length of the enhanced status code at q (RFC 3463: class "."
 * subject "." detail, subject and detail 1 to 3 digits), 0 if there is
 * none.  Anything longer is not one: a run of digits in a reason could be
 * a phone number the server echoed. */
static size_t smtp_enhanced_len(const char *q, const char *end)
{
	const char *s = q + 1;
	int part, n;

	for (part = 0; part < 2; part++) {
		if (s >= end || *s++ != '.')
			return 0;
		for (n = 0; s < end && smtp_isdigit(*s); s++)
			n++;
		if (n < 1 || n > 3)
			return 0;
	}
	return s < end && *s == '.' ? 0 : (size_t)(s - q);
}

/* The enhanced status code ("5.1.1") of the last reply line with `code`. */
static void smtp_enhanced(const char *lines, size_t len, long code, char *out, size_t outlen)
{
	const char *p = lines, *end = lines + len;
	char want[8];

	out[0] = '\0';
	snprintf(want, sizeof want, "%03ld", code);
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q = p + 4;
		size_t n;

		if (end - p >= 6 && memcmp(p, want, 3) == 0 && (p[3] == ' ' || p[3] == '-') &&
		    *q == want[0]) {
			n = smtp_enhanced_len(q, end);
			if (n >= outlen)
				n = 0;
			memcpy(out, q, n);
			out[n] = '\0';
		}
		p = nl ? nl + 1 : end;
	}
}

void smtp_reply(struct gw_result *r, CURLcode rc, long code, const char *lines, size_t len,
    const char *errbuf)
{
	char esc[16] = "";

	r->retry_after = -1.0;
	if (rc == CURLE_OK) {
		r->result = IOPD_DELIVERED;
		return;
	}
	if (code >= 400 && code <= 599 && lines)
		smtp_enhanced(lines, len, code, esc, sizeof esc);
	if (rc == CURLE_LOGIN_DENIED || code == 530 || code == 534 || code == 535 || code == 538) {
		gw_result_auth(r, "SMTP %ld%s%s: authentication failed", code, esc[0] ? " " : "", esc);
	} else if (rc == CURLE_USE_SSL_FAILED) {
		gw_result_set(r, IOPD_TRANSIENT, "SMTP server does not offer STARTTLS, which is required");
	} else if (code >= 400 && code <= 499) {
		gw_result_set(r, IOPD_TRANSIENT, "SMTP %ld%s%s", code, esc[0] ? " " : "", esc);
	} else if (code >= 500 && code <= 599) {
		gw_result_set(r, IOPD_PERMANENT, "SMTP %ld%s%s", code, esc[0] ? " " : "", esc);
	} else {
		gw_result_curl(r, rc, errbuf);
	}
}
