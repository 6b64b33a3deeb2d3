/* ident.c - see ident.h */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "util.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* SipHash-2-4 (Aumasson & Bernstein): its state, one compression of a
 * word, and the final word (the last bytes and the length) with the
 * finalization. */
struct sip {
	uint64_t v0, v1, v2, v3;
};

#define ROUND(s)                                                               \
	do {                                                                   \
		s.v0 += s.v1; s.v1 = ROTL(s.v1, 13); s.v1 ^= s.v0; s.v0 = ROTL(s.v0, 32); \
		s.v2 += s.v3; s.v3 = ROTL(s.v3, 16); s.v3 ^= s.v2;             \
		s.v0 += s.v3; s.v3 = ROTL(s.v3, 21); s.v3 ^= s.v0;             \
		s.v2 += s.v1; s.v1 = ROTL(s.v1, 17); s.v1 ^= s.v2; s.v2 = ROTL(s.v2, 32); \
	} while (0)

static inline struct sip sip_init(uint64_t k0, uint64_t k1)
{
	struct sip s = {0x736f6d6570736575ULL ^ k0, 0x646f72616e646f6dULL ^ k1,
	    0x6c7967656e657261ULL ^ k0, 0x7465646279746573ULL ^ k1};

	return s;
}

static inline void sip_word(struct sip *s, uint64_t m)
{
	struct sip t = *s;

	t.v3 ^= m;
	ROUND(t);
	ROUND(t);
	t.v0 ^= m;
	*s = t;
}

static inline uint64_t sip_final(struct sip *s, uint64_t b)
{
	struct sip t;

	sip_word(s, b);
	t = *s;
	t.v2 ^= 0xff;
	ROUND(t);
	ROUND(t);
	ROUND(t);
	ROUND(t);
	return t.v0 ^ t.v1 ^ t.v2 ^ t.v3;
}

/* One load where the machine is known to be little-endian (a byte at a
 * time was a third of hashing a reminder's series). */
static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(&v, p, sizeof v);
#else
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
#endif
	return v;
}

/* SipHash-2-4, byte-order independent. */
uint64_t siphash24(const uint64_t key[2], const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + (len & ~(size_t)7);
	struct sip s = sip_init(key[0], key[1]);
	uint64_t b = (uint64_t)len << 56;
	size_t left = len & 7, i;

	for (; p != end; p += 8)
		sip_word(&s, load_le64(p));
	for (i = 0; i < left; i++)
		b |= (uint64_t)p[i] << (8 * i);
	return sip_final(&s, b);
}

/* Public, fixed keys: ids must be equal on every machine and every run. */
static const uint64_t series_key[2] = {0x696f70642d696431ULL, 0x7365726965732d31ULL};

/* SipHash of the fields, each followed by a NUL (NULL counts as ""). */
static uint64_t hash_fields(const char *const *f, size_t n)
{
	char stack[512], *buf = stack;
	size_t len[8], total = 0, i;
	uint64_t h;

	for (i = 0; i < n; i++)
		total += (len[i] = strlen(f[i] ? f[i] : "") + 1);
	if (total > sizeof stack)
		buf = xmalloc(total);
	for (total = 0, i = 0; i < n; i++) {
		memcpy(buf + total, f[i] ? f[i] : "", len[i]);
		total += len[i];
	}
	h = siphash24(series_key, buf, total);
	if (buf != stack)
		free(buf);
	return h;
}

uint64_t ident_series(const char *patient, const char *kind, const char *series,
    const char *lead, const char *channel)
{
	const char *f[] = {"iopd-id-1", patient, kind, series, lead, channel};

	return hash_fields(f, IOPD_NELEM(f));
}

uint64_t ident_derived(const char *tag, uint64_t from, const char *a, const char *b)
{
	char hex[IDENT_HEX_LEN + 1];
	const char *f[] = {tag, hex, a, b};

	ident_hex(from, hex);
	return hash_fields(f, IOPD_NELEM(f));
}

/* siphash24 of the occurrence's 8 little-endian bytes, the word taken as
 * it is (bench W1: one id per agenda row; packing and loading the bytes
 * was a third of the hash). */
uint64_t ident_reminder(uint64_t series, int64_t occurrence)
{
	struct sip s = sip_init(series, series ^ 0x6f63637572656e63ULL);

	sip_word(&s, (uint64_t)occurrence);
	return sip_final(&s, (uint64_t)8 << 56);
}

/* A byte at a time, from a table of its two digits (bench W1: one id per
 * agenda row; a digit at a time was a twentieth of `iopd agenda`). */
#define HEX_ROW(x) x "0" x "1" x "2" x "3" x "4" x "5" x "6" x "7" \
	x "8" x "9" x "a" x "b" x "c" x "d" x "e" x "f"
static const char hex_pairs[] =
    HEX_ROW("0") HEX_ROW("1") HEX_ROW("2") HEX_ROW("3") HEX_ROW("4") HEX_ROW("5")
    HEX_ROW("6") HEX_ROW("7") HEX_ROW("8") HEX_ROW("9") HEX_ROW("a") HEX_ROW("b")
    HEX_ROW("c") HEX_ROW("d") HEX_ROW("e") HEX_ROW("f");

void ident_hex(uint64_t id, char buf[IDENT_HEX_LEN + 1])
{
	int i;

	for (i = IDENT_HEX_LEN - 2; i >= 0; i -= 2, id >>= 8)
		memcpy(buf + i, hex_pairs + 2 * (id & 255), 2);
	buf[IDENT_HEX_LEN] = '\0';
}

int ident_parse(const char *s, uint64_t *id)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < IDENT_HEX_LEN; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9')
			v = (v << 4) | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (v << 4) | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	if (s[IDENT_HEX_LEN])
		return -1;
	*id = v;
	return 0;
}
