/* fuzz_twilio.c - Twilio's replies (plugins/sms/sms_fmt.c over the JSON
 * member scanner of plugins/common/gw_text.c): what an HTTPS peer, or
 * anything between iopd and it, sends back to a Messages.json POST.
 *
 * The input is a reply body, read as the answer of each HTTP status the
 * module tells apart, with and without a Retry-After.  Invariants: see
 * fuzz_gw.h; the JSON scanner never writes past the buffer it is given,
 * whatever its size (each is allocated to the byte, for ASan). */
#include "config.h"

#include "fuzz_gw.h"

#include "../../plugins/sms/sms_fmt.h"

static const long statuses[] = {200, 201, 301, 400, 401, 404, 408, 429, 500, 503};
static const char *const retry_afters[] = {NULL, "120", "Wed, 02 Dec 2026 18:00:00 GMT"};
static const char *const keys[] = {"sid", "code", "message", "status", "more_info", ""};
static const size_t outlens[] = {1, 2, 3, 4, 7, 34, GW_ID_MAX};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void members(const char *body, size_t len)
{
	size_t k, o;

	for (k = 0; k < FUZZ_NELEM(keys); k++)
		for (o = 0; o < FUZZ_NELEM(outlens); o++) {
			char *out = malloc(outlens[o]);
			enum gw_json_type t = gw_json_member(body, len, keys[k], out, outlens[o]);
			FUZZ_CHECK(t >= GW_JSON_ABSENT && t <= GW_JSON_ARRAY);
			if (t == GW_JSON_STRING || t == GW_JSON_NUMBER)
				FUZZ_CHECK(memchr(out, '\0', outlens[o]) != NULL);
			free(out);
		}
	FUZZ_CHECK(gw_json_member(body, len, "sid", NULL, 0) <= GW_JSON_ARRAY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the body as the module holds it: exactly `size` bytes, no NUL
	 * promised (gw_buf keeps one after it; the parser must not need it) */
	char *body = malloc(size ? size : 1);
	size_t s, a;

	memcpy(body, data, size);
	members(body, size);
	for (s = 0; s < FUZZ_NELEM(statuses); s++)
		for (a = 0; a < FUZZ_NELEM(retry_afters); a++) {
			struct gw_result r;
			gw_result_init(&r);
			sms_twilio_reply(&r, statuses[s], body, size, retry_afters[a], 1795000000.0);
			fuzz_gw_result(&r);
			if (statuses[s] >= 400 && statuses[s] != 408 && statuses[s] != 429 &&
			    statuses[s] < 500)
				FUZZ_CHECK(r.result != IOPD_DELIVERED);
		}
	free(body);
	return 0;
}
