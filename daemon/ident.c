/* ident.c - see ident.h */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "util.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);      \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                         \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                         \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);      \
	} while (0)

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

/* SipHash-2-4 (Aumasson & Bernstein), byte-order independent. */
uint64_t siphash24(const uint64_t key[2], const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + (len & ~(size_t)7);
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t left = len & 7, i;

	for (; p != end; p += 8) {
		m = load_le64(p);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < left; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
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

/* siphash24 of the occurrence's 8 little-endian bytes, with the words
 * taken as they are (bench W1: one id per agenda row; packing and loading
 * the bytes was a third of the hash). */
uint64_t ident_reminder(uint64_t series, int64_t occurrence)
{
	const uint64_t k0 = series, k1 = series ^ 0x6f63637572656e63ULL;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	const uint64_t m = (uint64_t)occurrence, b = (uint64_t)8 << 56;

	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
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
