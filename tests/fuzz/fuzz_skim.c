/* fuzz_skim.c - the skim over a cached patients list (conf_skim.c), which
 * takes 64 bytes at a time where it can.
 *
 * The input's first byte picks how many lists are open (1-3); the rest is
 * the text, in a buffer of exactly its length (an over-read is caught).
 * Invariant: conf_skim and conf_skim_tokens, the token-by-token skim it
 * falls back on, agree on whether the list ends, and if it does, where
 * and on which line. */
#include "config.h"

#include "fuzz.h"

#include "conf_skim.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_skim blocks, tokens;
	bool ended;
	char *text;

	if (size < 1)
		return 0;
	text = malloc(size);                   /* size - 1 bytes used; never 0 */
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	blocks.p = tokens.p = text;
	blocks.depth = tokens.depth = 1 + data[0] % 3;
	blocks.line = tokens.line = 0;
	ended = conf_skim(&blocks, text + size - 1);
	FUZZ_CHECK(ended == conf_skim_tokens(&tokens, text + size - 1));
	FUZZ_CHECK(!ended || (blocks.p == tokens.p && blocks.line == tokens.line));
	free(text);
	return 0;
}
