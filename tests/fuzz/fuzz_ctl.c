/* fuzz_ctl.c - the control protocol's request line (ctl_proto.c): what
 * any local user who may open the control socket sends.
 *
 * The input is what arrives before the first "\n" (control.c cuts the
 * line there; a NUL ends it earlier).  Invariants: a request is read
 * whole or refused; a read one has a command and at most CTL_MAX_ARGS
 * arguments, none empty; and its words, percent-encoded again as
 * docs/control-protocol.md says a client writes them, read back the
 * same (decoding is the inverse of the documented encoding). */
#include "config.h"

#include "fuzz.h"

#include "ctl_proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Appends " " and w encoded: space, controls, '%' and non-ASCII as %XX. */
static size_t encode(char *out, size_t at, const char *w)
{
	const unsigned char *p = (const unsigned char *)w;

	out[at++] = ' ';
	for (; *p; p++)
		if (*p <= ' ' || *p == '%' || *p >= 0x7f)
			at += (size_t)sprintf(out + at, "%%%02X", *p);
		else
			out[at++] = (char)*p;
	out[at] = '\0';
	return at;
}

static void round_trip(const struct ctl_req *r, size_t size)
{
	char *again = malloc(3 * size + 32);
	struct ctl_req r2;
	size_t at;
	int i;

	at = (size_t)sprintf(again, "IOPD/1 %s", r->json ? "json" : "text");
	for (i = 0; i < r->argc; i++)
		at = encode(again, at, r->argv[i]);
	FUZZ_CHECK(ctl_parse_request(again, &r2) == CTL_REQ_OK);
	FUZZ_CHECK(r2.json == r->json && r2.argc == r->argc);
	for (i = 0; i < r->argc; i++)
		FUZZ_CHECK(strcmp(r2.argv[i], r->argv[i]) == 0);
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_cstr(data, size), *nl = strchr(line, '\n');
	struct ctl_req r;
	int i;

	if (nl)
		*nl = '\0';
	switch (ctl_parse_request(line, &r)) {
	case CTL_REQ_OK:
		FUZZ_CHECK(r.argc >= 1 && r.argc <= CTL_MAX_ARGS + 1 && !r.bad);
		for (i = 0; i < r.argc; i++)
			FUZZ_CHECK(r.argv[i][0] != '\0');
		round_trip(&r, size);
		break;
	case CTL_REQ_BAD_ESCAPE:
		FUZZ_CHECK(r.bad != NULL);
		break;
	case CTL_REQ_TOO_MANY:
	case CTL_REQ_NOT_IOPD:
		FUZZ_CHECK(r.argc == 0);
		break;
	default:
		FUZZ_CHECK(!"an answer ctl_proto.h does not list");
	}
	free(line);
	return 0;
}
