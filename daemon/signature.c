/* signature.c - see signature.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "signature.h"
#include "util.h"

/* By name, then by value for repeated names (Twilio's own libraries sort
 * a repeated parameter's values). */
static int param_cmp(const void *a, const void *b)
{
	const struct iopd_param *x = *(const struct iopd_param *const *)a;
	const struct iopd_param *y = *(const struct iopd_param *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

int sig_twilio(const char *token, const char *url, const struct iopd_param *params, size_t n,
    char out[SIG_TWILIO_LEN + 1])
{
	const struct iopd_param **sorted = xreallocarray(NULL, n ? n : 1, sizeof *sorted);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct sbuf text = {0};
	size_t i;
	int rc = -1;

	for (i = 0; i < n; i++)
		sorted[i] = &params[i];
	qsort(sorted, n, sizeof *sorted, param_cmp);
	sbuf_adds(&text, url);
	for (i = 0; i < n; i++) {
		sbuf_adds(&text, sorted[i]->name);
		sbuf_adds(&text, sorted[i]->value);
	}
	if (HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)(text.s ? text.s : ""),
	    text.len, md, &mdlen) && mdlen == 20) {
		EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
		rc = 0;
	}
	sbuf_free(&text);
	free(sorted);
	return rc;
}

bool sig_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

bool sig_twilio_ok(const char *token, const char *url, const struct iopd_param *params,
    size_t n, const char *given)
{
	char want[SIG_TWILIO_LEN + 1];

	if (!given || strlen(given) != SIG_TWILIO_LEN)
		return false;
	if (sig_twilio(token, url, params, n, want) != 0)
		return false;
	return sig_equal(want, given);
}
