/* signature.h - checking who sent a callback (SPEC 8).
 *
 * Twilio signs each request it makes: X-Twilio-Signature is the base64 of
 * HMAC-SHA1, keyed by the account's auth token, of the URL Twilio called
 * (iopd's public_url, then the path and query as received) followed by
 * every POST parameter's name and value, sorted by name.  Kannel presents
 * a shared key instead.  Both are compared in constant time. */
#ifndef IOPD_SIGNATURE_H
#define IOPD_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>

#include "iopd/plugin.h"

#define SIG_TWILIO_LEN 28              /* base64 of 20 bytes */

/* The signature of `url` and the POST parameters `params` (any order)
 * into out (SIG_TWILIO_LEN + 1 bytes).  0, or -1 (out of memory). */
int sig_twilio(const char *token, const char *url, const struct iopd_param *params, size_t n,
    char out[SIG_TWILIO_LEN + 1]);
/* Does `given` (the header's value, or NULL) match? */
bool sig_twilio_ok(const char *token, const char *url, const struct iopd_param *params,
    size_t n, const char *given);
/* Equal strings, in time that depends on their lengths only. */
bool sig_equal(const char *a, const char *b);

#endif
