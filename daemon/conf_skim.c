/* conf_skim.c - see conf_skim.h.
 *
 * Token by token, the skim took 9.3 ms over W1's patients: a patient's
 * line is 250 bytes and 45 tokens (strings, parentheses), each a branch
 * the cpu cannot foresee.  Where 64 bytes hold no backslash and no
 * comment, every quote in them opens or closes a string, so which bytes
 * are inside strings follows from the quotes alone, and the parentheses
 * and newlines outside are counted at once: 5 ms. */
#include "config.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "conf_skim.h"

/* Characters a token starts at. */
static bool stops(char c)
{
	return c == '"' || c == '\n' || c == '#' || c == '/' || c == '(' || c == ')';
}

/* One token (a newline, a string, a comment or a parenthesis) and what
 * comes before it.  false if the text ends first. */
static bool token(struct conf_skim *s, const char *end)
{
	const char *p = s->p;
	char c;

	while (p < end && !stops(*p))
		p++;
	if (p == end)
		return false;
	c = *p++;
	if (c == '\n') {
		s->line++;
	} else if (c == '"') {
		for (; p < end && *p != '"'; p++)
			if (*p == '\\' && p + 1 < end)
				s->line += *++p == '\n';
			else
				s->line += *p == '\n';
		if (p++ == end)
			return false;
	} else if (c == '#' || (c == '/' && p < end && *p == '/')) {
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			return false;
	} else if (c == '/' && p < end && *p == '*') {
		for (p++; p + 1 < end && !(p[0] == '*' && p[1] == '/'); p++)
			s->line += *p == '\n';
		if (p + 1 >= end)
			return false;
		p += 2;
	} else if (c == '(') {
		s->depth++;
	} else if (c == ')') {
		s->depth--;
	}
	s->p = p;
	return true;
}

bool conf_skim_tokens(struct conf_skim *s, const char *end)
{
	while (s->depth > 0)
		if (!token(s, end))
			return false;
	return true;
}

#if defined(__SSE2__)

#define BLOCK 64

/* Which of the block's bytes equal c, as bits. */
static inline uint64_t bytes_eq(const __m128i v[4], char c)
{
	const __m128i k = _mm_set1_epi8(c);
	uint64_t m = 0;
	int i;

	for (i = 0; i < 4; i++)
		m |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v[i], k)) << (16 * i);
	return m;
}

/* Bit i set when an odd number of x's bits 0..i are.  With x the quotes:
 * the bytes from each opening quote up to its closing one. */
static inline uint64_t prefix_xor(uint64_t x)
{
	int k;

	for (k = 1; k < 64; k <<= 1)
		x ^= x << k;
	return x;
}

enum block { BLOCK_END, BLOCK_PASSED, BLOCK_UNCLEAR };

/* The BLOCK bytes at s->p at once, unless they hold a backslash (a quote
 * may be escaped) or a comment.  A string still open at the end of the
 * block is left for the next one, which then starts at its quote. */
static enum block block(struct conf_skim *s)
{
	__m128i v[4];
	uint64_t quotes, in, keep = ~0ULL, nl, open, close, pc;
	int i, n = BLOCK, nclose;

	for (i = 0; i < 4; i++)
		v[i] = _mm_loadu_si128((const __m128i *)(const void *)(s->p + 16 * i));
	quotes = bytes_eq(v, '"');
	in = prefix_xor(quotes);
	if (bytes_eq(v, '\\') || ((bytes_eq(v, '#') | bytes_eq(v, '/')) & ~in))
		return BLOCK_UNCLEAR;
	if (in >> 63) {
		n = 63 - __builtin_clzll(quotes);      /* the open string's quote */
		if (n == 0)
			return BLOCK_UNCLEAR;          /* a string longer than the block */
		keep = (1ULL << n) - 1;
	}
	nl = bytes_eq(v, '\n') & keep;
	open = bytes_eq(v, '(') & ~in & keep;
	close = bytes_eq(v, ')') & ~in & keep;
	nclose = __builtin_popcountll(close);
	if (nclose < s->depth) {               /* the list cannot end here */
		s->depth += __builtin_popcountll(open) - nclose;
		s->line += __builtin_popcountll(nl);
		s->p += n;
		return BLOCK_PASSED;
	}
	for (pc = open | close; pc; pc &= pc - 1) {
		i = __builtin_ctzll(pc);
		if (open >> i & 1) {
			s->depth++;
		} else if (--s->depth == 0) {
			s->line += __builtin_popcountll(nl & (~0ULL >> (63 - i)));
			s->p += i + 1;
			return BLOCK_END;
		}
	}
	s->line += __builtin_popcountll(nl);
	s->p += n;
	return BLOCK_PASSED;
}

bool conf_skim(struct conf_skim *s, const char *end)
{
	const char *tokens_to = s->p;          /* one token at a time before here */

	while (s->depth > 0) {
		if (s->p >= tokens_to && end - s->p >= BLOCK) {
			enum block b = block(s);
			if (b == BLOCK_END)
				return true;
			if (b == BLOCK_PASSED)
				continue;
			tokens_to = s->p + BLOCK;
		}
		if (!token(s, end))
			return false;
	}
	return true;
}

#else

bool conf_skim(struct conf_skim *s, const char *end)
{
	return conf_skim_tokens(s, end);
}

#endif
