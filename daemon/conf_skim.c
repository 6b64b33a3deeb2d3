/* conf_skim.c - see conf_skim.h.
 *
 * Token by token, the skim took 9.3 ms over W1's patients: a patient's
 * line is 250 bytes and 45 tokens (strings, parentheses), each a branch
 * the cpu cannot foresee.  Where 64 bytes hold no backslash and no
 * comment, every quote in them opens or closes a string, so which bytes
 * are inside strings follows from the quotes alone, and the parentheses
 * and newlines outside are counted at once: 4.6-4.9 ms. */
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
 * comes before it; with in_string, the rest of the string s->p is in.
 * false if the text ends first.  (The line count is a local: the bytes
 * are read through a char pointer, which may alias s->line, and s->line
 * would be stored before every read.) */
static bool token(struct conf_skim *s, const char *end, bool in_string)
{
	const char *p = s->p;
	int line = s->line;
	char c = '"';

	if (!in_string) {
		while (p < end && !stops(*p))
			p++;
		if (p == end)
			return false;
		c = *p++;
	}
	if (c == '\n') {
		line++;
	} else if (c == '"') {
		for (; p < end && *p != '"'; p++)
			if (*p == '\\' && p + 1 < end)
				line += *++p == '\n';
			else
				line += *p == '\n';
		if (p++ == end)
			return false;
	} else if (c == '#' || (c == '/' && p < end && *p == '/')) {
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			return false;
	} else if (c == '/' && p < end && *p == '*') {
		for (p++; p + 1 < end && !(p[0] == '*' && p[1] == '/'); p++)
			line += *p == '\n';
		if (p + 1 >= end)
			return false;
		p += 2;
	} else if (c == '(') {
		s->depth++;
	} else if (c == ')') {
		s->depth--;
	}
	s->p = p;
	s->line = line;
	return true;
}

bool conf_skim_tokens(struct conf_skim *s, const char *end)
{
	while (s->depth > 0)
		if (!token(s, end, false))
			return false;
	return true;
}

#if defined(__SSE2__)

#define BLOCK 64

/* A block, as four registers. */
struct block16x4 {
	__m128i a, b, c, d;
};

/* Which of the block's bytes equal ch, as bits.  (Written out: gcc -O2
 * keeps a loop over an array of four in memory.) */
static inline uint64_t bytes_eq(struct block16x4 v, char ch)
{
	const __m128i k = _mm_set1_epi8(ch);

	return (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v.a, k)) |
	    (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v.b, k)) << 16 |
	    (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v.c, k)) << 32 |
	    (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v.d, k)) << 48;
}

/* Bit i set when an odd number of x's bits 0..i are.  With x the quotes:
 * the bytes from each opening quote up to its closing one. */
static inline uint64_t prefix_xor(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

enum block { BLOCK_END, BLOCK_PASSED, BLOCK_UNCLEAR };

/* The BLOCK bytes at s->p at once, unless they hold a backslash (a quote
 * may be escaped) or a comment.  *in_string: s->p is inside a string that
 * an earlier block left open; updated for the next block. */
static enum block block(struct conf_skim *s, bool *in_string)
{
	const __m128i *q = (const __m128i *)(const void *)s->p;
	const struct block16x4 v = {_mm_loadu_si128(q), _mm_loadu_si128(q + 1), _mm_loadu_si128(q + 2),
	    _mm_loadu_si128(q + 3)};
	uint64_t in, nl, open, close, pc;
	int i;

	in = prefix_xor(bytes_eq(v, '"'));
	if (*in_string)
		in = ~in;
	if (bytes_eq(v, '\\') || ((bytes_eq(v, '#') | bytes_eq(v, '/')) & ~in))
		return BLOCK_UNCLEAR;
	nl = bytes_eq(v, '\n');
	open = bytes_eq(v, '(') & ~in;
	close = bytes_eq(v, ')') & ~in;
	if (__builtin_popcountll(close) < s->depth) {   /* the list cannot end here */
		s->depth += __builtin_popcountll(open) - __builtin_popcountll(close);
	} else {
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
	}
	s->line += __builtin_popcountll(nl);
	s->p += BLOCK;
	*in_string = in >> 63;
	return BLOCK_PASSED;
}

bool conf_skim(struct conf_skim *s, const char *end)
{
	const char *tokens_to = s->p;          /* one token at a time before here */
	bool in_string = false;

	while (s->depth > 0) {
		if (s->p >= tokens_to && end - s->p >= BLOCK) {
			enum block b = block(s, &in_string);
			if (b == BLOCK_END)
				return true;
			if (b == BLOCK_PASSED)
				continue;
			tokens_to = s->p + BLOCK;
		}
		if (!token(s, end, in_string))
			return false;
		in_string = false;
	}
	return true;
}

#else

bool conf_skim(struct conf_skim *s, const char *end)
{
	return conf_skim_tokens(s, end);
}

#endif
