/* fuzz_gw.h - the checks every gateway-reply target makes of what a
 * reply came to (plugins/common/gw.h, struct gw_result). */
#ifndef IOPD_TESTS_FUZZ_GW_H
#define IOPD_TESTS_FUZZ_GW_H

#include <math.h>

#include "fuzz.h"

#include "../../plugins/common/gw.h"

/* Printable ASCII, at most n - 1 bytes, NUL-terminated. */
static inline void fuzz_gw_printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		FUZZ_CHECK(s[i] >= 0x20 && s[i] < 0x7f);
	FUZZ_CHECK(i < n);
}

/* A result as the host will record it (ledger, log, status): a known
 * outcome, a retry delay that is a delay, and a reason that is one line
 * of printable ASCII with no run of 7 or more digits, so never a phone
 * number the gateway chose to echo (SPEC 7). */
static inline void fuzz_gw_result(const struct gw_result *r)
{
	size_t i, run = 0;

	FUZZ_CHECK(r->result == IOPD_DELIVERED || r->result == IOPD_TRANSIENT ||
	    r->result == IOPD_PERMANENT || r->result == IOPD_OPTED_OUT);
	FUZZ_CHECK(r->retry_after == -1.0 || (isfinite(r->retry_after) && r->retry_after >= 0));
	fuzz_gw_printable(r->reason, sizeof r->reason);
	for (i = 0; r->reason[i]; i++) {
		run = r->reason[i] >= '0' && r->reason[i] <= '9' ? run + 1 : 0;
		FUZZ_CHECK(run < 7);
	}
	fuzz_gw_printable(r->gateway_id, sizeof r->gateway_id);
	if (r->result != IOPD_DELIVERED)
		FUZZ_CHECK(r->reason[0] != '\0');
}

#endif
