/* form.h - percent-decoding and application/x-www-form-urlencoded
 * parameters, for the inbound HTTP listener (httpd.c).
 *
 * Pure: no I/O, no allocation failure to handle (util.h's x* allocators).
 * Parameters keep the order in which they came and remember whether the
 * body or the query string carried them: Twilio signs the POST parameters
 * only, Kannel sends everything in the query. */
#ifndef IOPD_FORM_H
#define IOPD_FORM_H

#include <stdbool.h>
#include <stddef.h>

struct form_param {
	char *name, *value;            /* decoded, NUL-terminated */
	bool from_body;
};

struct form {
	struct form_param *v;
	size_t n, cap;
};

/* Decodes s in place: %XX escapes always, '+' as a space when `plus` (form
 * encoding; a path keeps its '+').  -1 for a '%' not followed by two hex
 * digits or an escape that decodes to NUL (a C string cannot carry it, and
 * no gateway sends one); s is then left half-decoded. */
int form_decode(char *s, bool plus);

/* Appends the parameters of `len` bytes at s ("a=1&b=2&a=3"): split at '&',
 * each at its first '=' (none: the value is ""), empty pieces skipped.
 * 0, or -1 if a piece does not decode or holds a NUL byte (the form is
 * then unchanged). */
int form_parse(struct form *f, const char *s, size_t len, bool from_body);

/* The value of the first parameter named `name` (exact, case-sensitive), or NULL. */
const char *form_get(const struct form *f, const char *name);

/* Content-Type application/x-www-form-urlencoded, any case, parameters
 * such as "; charset=utf-8" allowed. */
bool form_is_urlencoded(const char *ctype);

void form_free(struct form *f);

#endif
