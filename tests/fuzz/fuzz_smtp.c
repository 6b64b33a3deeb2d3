/* fuzz_smtp.c - an SMTP server's replies (plugins/smtp/smtp_fmt.c): the
 * queue id after the message, the enhanced status code of a refusal,
 * and curl's error text, which may quote the server.
 *
 * The input is the server's reply lines as curl's debug callback
 * collects them.  Invariants: see fuzz_gw.h; a queue id fits its buffer
 * (allocated to the byte) and is printable; curl's success is delivered
 * whatever the lines say. */
#include "config.h"

#include "fuzz_gw.h"

#include "../../plugins/smtp/smtp_fmt.h"

static const long codes[] = {0, 250, 354, 421, 451, 452, 530, 535, 550, 552, 554};
static const CURLcode rcs[] = {CURLE_OK, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
	CURLE_LOGIN_DENIED, CURLE_USE_SSL_FAILED, CURLE_PEER_FAILED_VERIFICATION};
static const size_t idlens[] = {1, 2, 5, 16, GW_ID_MAX};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *lines = malloc(size ? size : 1), errbuf[CURL_ERROR_SIZE];
	size_t c, k;

	memcpy(lines, data, size);
	for (k = 0; k < FUZZ_NELEM(idlens); k++) {
		char *id = malloc(idlens[k]);
		if (smtp_queue_id(lines, size, id, idlens[k]) == 0) {
			FUZZ_CHECK(id[0] != '\0');
			fuzz_gw_printable(id, idlens[k]);
		}
		free(id);
	}
	/* curl's message may quote the server: the input, cut as curl cuts it */
	snprintf(errbuf, sizeof errbuf, "%.*s", (int)(size < sizeof errbuf ? size : sizeof errbuf - 1),
	    (const char *)data);
	for (c = 0; c < FUZZ_NELEM(codes); c++)
		for (k = 0; k < FUZZ_NELEM(rcs); k++) {
			struct gw_result r;
			gw_result_init(&r);
			smtp_reply(&r, rcs[k], codes[c], lines, size, errbuf);
			fuzz_gw_result(&r);
			FUZZ_CHECK((r.result == IOPD_DELIVERED) == (rcs[k] == CURLE_OK));
		}
	free(lines);
	return 0;
}
