/* fuzz_kannel.c - Kannel's replies to a sendsms request
 * (plugins/sms/sms_fmt.c, sms_kannel_reply): a status line's words that
 * end up, cleaned, in the ledger and the log.
 *
 * The input is a reply body, read as the answer of each HTTP status
 * smsbox gives.  Invariants: see fuzz_gw.h; only a 2xx is delivered. */
#include "config.h"

#include "fuzz_gw.h"

#include "../../plugins/sms/sms_fmt.h"

static const long statuses[] = {200, 202, 302, 400, 403, 404, 500, 503};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size ? size : 1), clean[GW_REASON_MAX];
	size_t s, n;

	memcpy(body, data, size);
	for (s = 0; s < FUZZ_NELEM(statuses); s++) {
		struct gw_result r;
		gw_result_init(&r);
		sms_kannel_reply(&r, statuses[s], body, size, "0123456789abcdef");
		fuzz_gw_result(&r);
		FUZZ_CHECK((r.result == IOPD_DELIVERED) == (statuses[s] >= 200 && statuses[s] <= 299));
	}
	for (n = 1; n <= 8; n++) {             /* every short destination, to the byte */
		char *d = malloc(n);
		gw_reason_clean(d, n, body, size);
		fuzz_gw_printable(d, n);
		free(d);
	}
	gw_reason_clean(clean, sizeof clean, body, size);
	fuzz_gw_printable(clean, sizeof clean);
	free(body);
	return 0;
}
