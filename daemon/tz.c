/* tz.c - see tz.h.
 *
 * A loaded zone is reduced to what the API needs: the instants at which the
 * UTC offset changes and the offset of each period between them.  The TZif
 * table is taken as is and its POSIX TZ footer is expanded into the same
 * table up to TZ_LAST_YEAR, so every lookup is one binary search over
 * immutable data.  Transitions that change only the abbreviation or the
 * isdst flag are dropped: no caller can observe them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "civil.h"
#include "tz.h"
#include "util.h"

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_FIRST_YEAR 1800            /* footer-only zones start here */
#define TZ_LAST_YEAR 2400             /* footer rules are expanded through this year */
#define TZ_MAX_OFF (26 * 3600)        /* RFC 8536 keeps offsets within +-26 h ... */
#define TZ_WINDOW (27 * 3600)         /* ... so w - off always lies within w +- 27 h */
#define TZ_LIMIT ((int64_t)1 << 60)   /* inputs are clamped here: no overflow */
#define TZ_MAX_FILE (1 << 20)
#define TZ_MAX_COUNT 65536u
#define TZ_LETTERS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/* Period k runs from at[k-1] (or the beginning of time) to at[k] (or the
 * end of time) at UTC offset off[k]: n transitions make n + 1 periods. */
struct tz {
	struct tz *next;              /* the cache list */
	uint64_t serial;              /* never reused: keys tz_memo */
	char *name;
	int64_t *at;
	int32_t *off;
	size_t n;
};

/* Readers walk the list without the lock: a zone is complete before it is
 * published with a release store and never changes afterwards.  The mutex
 * only serialises loading. */
static _Atomic(struct tz *) tz_list;
static atomic_uint_fast64_t tz_serials;
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

/* --- the POSIX TZ footer ----------------------------------------------------- */

struct tz_rule {                      /* one end of the DST period */
	char kind;                    /* 'J' Jn, 'D' n, 'M' Mm.w.d */
	int m, w, d;                  /* for 'J' and 'D' the day number is d */
	int32_t secs;                 /* local time of day: may be < 0 or > 24 h */
};

struct tz_footer {
	int32_t std, dst;             /* UTC offsets, seconds east */
	int has_dst;
	struct tz_rule start, end;
};

static int tz_num(const char **p, int lo, int hi, int *out)
{
	const char *s = *p;
	int v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9')
		if ((v = v * 10 + (*s++ - '0')) > hi)
			return -1;
	*p = s;
	*out = v;
	return v < lo ? -1 : 0;
}

/* [+-]hh[:mm[:ss]], the form of both offsets and rule times. */
static int tz_hms(const char **p, int maxh, int32_t *out)
{
	int sign = **p == '-' ? -1 : 1, h, m = 0, s = 0;

	if (**p == '+' || **p == '-')
		(*p)++;
	if (tz_num(p, 0, maxh, &h) < 0)
		return -1;
	if (**p == ':' && ((*p)++, tz_num(p, 0, 59, &m) < 0))
		return -1;
	if (**p == ':' && ((*p)++, tz_num(p, 0, 59, &s) < 0))
		return -1;
	*out = sign * (h * 3600 + m * 60 + s);
	return 0;
}

/* A name and the offset after it.  Names are three or more letters, or
 * <...> as zic writes "<+1030>".  POSIX counts hours west; we store east. */
static int tz_name_offset(const char **p, int32_t *off, int optional)
{
	const char *s = *p;
	size_t n;

	if (*s == '<') {
		n = strspn(++s, "+-0123456789" TZ_LETTERS);
		if (n == 0 || s[n] != '>')
			return -1;
		s += n + 1;
	} else if ((n = strspn(s, TZ_LETTERS)) >= 3) {
		s += n;
	} else {
		return -1;
	}
	*p = s;
	if (optional && (!*s || *s == ','))
		return 0;
	if (tz_hms(p, 24, off) < 0)
		return -1;
	*off = -*off;
	return 0;
}

static int tz_rule(const char **p, struct tz_rule *r)
{
	int ok;

	if (*(*p)++ != ',')
		return -1;
	r->kind = **p == 'M' || **p == 'J' ? *(*p)++ : 'D';
	if (r->kind == 'M')
		ok = tz_num(p, 1, 12, &r->m) == 0 && *(*p)++ == '.' &&
		    tz_num(p, 1, 5, &r->w) == 0 && *(*p)++ == '.' && tz_num(p, 0, 6, &r->d) == 0;
	else
		ok = tz_num(p, r->kind == 'J', 365, &r->d) == 0;
	r->secs = 2 * 3600;
	/* RFC 8536 (version 3) lets the time run from -167 h to 167 h. */
	if (ok && **p == '/')
		ok = ((*p)++, tz_hms(p, 167, &r->secs) == 0);
	return ok ? 0 : -1;
}

static int tz_parse_footer(const char *s, struct tz_footer *f)
{
	memset(f, 0, sizeof *f);
	if (tz_name_offset(&s, &f->std, 0) < 0)
		return -1;
	if (!*s)
		return 0;
	f->has_dst = 1;
	f->dst = f->std + 3600;
	if (tz_name_offset(&s, &f->dst, 1) < 0)
		return -1;
	if (!*s)                      /* POSIX leaves the rule open; use the US one */
		s = ",M3.2.0,M11.1.0";
	if (tz_rule(&s, &f->start) < 0 || tz_rule(&s, &f->end) < 0)
		return -1;
	return *s ? -1 : 0;
}

/* The instant at which rule r takes effect in year y, r's time of day
 * being read at UTC offset off. */
static int64_t tz_rule_at(const struct tz_rule *r, int32_t y, int32_t off)
{
	int32_t jan1 = civil_to_days(y, 1, 1), first, day;

	if (r->kind == 'J')           /* Feb 29 is never counted: J60 is March 1 */
		day = jan1 + r->d - 1 + (r->d >= 60 && civil_month_days(y, 2) == 29);
	else if (r->kind == 'D')      /* zero-based, Feb 29 counted */
		day = jan1 + r->d;
	else {
		first = civil_to_days(y, r->m, 1);
		/* days_weekday counts from Monday, POSIX from Sunday. */
		day = first + (r->d - (days_weekday(first) + 1) % 7 + 7) % 7 + (r->w - 1) * 7;
		while (day >= first + civil_month_days(y, r->m))
			day -= 7;     /* week 5 is the last such weekday */
	}
	return wall_make(day, r->secs) - off;
}

/* --- building the table ------------------------------------------------------ */

/* Appends a change to offset o at instant t.  An event at or before the
 * previous one replaces it: the later rule wins, as in "0/0,J365/25" (DST
 * all year), where DST ends and starts again at the same instant. */
static void tz_push(struct tz *z, int64_t t, int32_t o)
{
	while (z->n > 0 && z->at[z->n - 1] >= t)
		z->n--;
	if (o != z->off[z->n]) {
		z->at[z->n] = t;
		z->off[++z->n] = o;
	}
}

/* Adds the footer's transitions of years y0..TZ_LAST_YEAR that fall after
 * `after`.  The start time is read in standard time, the end in DST. */
static void tz_expand(struct tz *z, const struct tz_footer *f, int32_t y0, int64_t after)
{
	for (int32_t y = y0; y <= TZ_LAST_YEAR; y++) {
		int64_t s = tz_rule_at(&f->start, y, f->std), e = tz_rule_at(&f->end, y, f->dst);
		int first_dst = s < e;        /* southern zones end DST first */

		if ((first_dst ? s : e) > after)
			tz_push(z, first_dst ? s : e, first_dst ? f->dst : f->std);
		if ((first_dst ? e : s) > after)
			tz_push(z, first_dst ? e : s, first_dst ? f->std : f->dst);
	}
}

/* --- reading TZif files (RFC 8536) ------------------------------------------- */

struct tz_hdr {
	uint32_t isut, isstd, leap, time, type, chars;
};

static uint32_t tz_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t tz_be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)tz_be32(p) << 32 | tz_be32(p + 4));
}

/* Reads a 44-byte header; returns the size of the data block after it
 * (times of `tsize` bytes), or 0 if there is no sane header. */
static size_t tz_header(const unsigned char *p, size_t len, struct tz_hdr *h, size_t tsize)
{
	uint32_t *c[] = {&h->isut, &h->isstd, &h->leap, &h->time, &h->type, &h->chars};

	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return 0;
	for (int i = 0; i < 6; i++)
		if ((*c[i] = tz_be32(p + 20 + 4 * i)) > TZ_MAX_COUNT)
			return 0;
	return h->time * (tsize + 1) + h->type * 6 + h->chars + h->leap * (tsize + 4) +
	    h->isstd + h->isut;
}

/* Builds z's table from a TZif image; returns NULL or what is wrong. */
static const char *tz_parse(struct tz *z, const unsigned char *p, size_t len)
{
	const unsigned char *times, *idx, *types, *nl;
	struct tz_hdr h;
	struct tz_footer f = {0};
	char footer[256];
	size_t v1, v2, flen;

	if (!(v1 = tz_header(p, len, &h, 4)))
		return "not a TZif file";
	if (p[4] < '2' || p[4] > '4')         /* only v2+ have 64-bit times */
		return "unsupported TZif version (need 2, 3 or 4)";
	if (len - 44 < v1 || !(v2 = tz_header(p + 44 + v1, len - 44 - v1, &h, 8)) ||
	    len - 88 - v1 < v2 + 1 || p[88 + v1 + v2] != '\n')
		return "truncated TZif file";
	if (h.leap)
		return "leap-second (\"right/\") zones are not supported";
	if (h.type == 0)
		return "no local time types";
	times = p + 88 + v1;
	idx = times + 8 * h.time;
	types = idx + h.time;
	p = times + v2 + 1;                   /* the footer, up to the next newline */
	len -= 88 + v1 + v2 + 1;
	nl = memchr(p, '\n', len);
	if (!nl || (flen = (size_t)(nl - p)) >= sizeof footer || memchr(p, '\0', flen))
		return "bad TZ string footer";
	memcpy(footer, p, flen);
	footer[flen] = '\0';
	if (flen && tz_parse_footer(footer, &f) < 0)
		return "bad TZ string footer";
	for (uint32_t i = 0; i < h.type; i++) {
		int32_t off = (int32_t)tz_be32(types + 6 * i);
		if (off < -TZ_MAX_OFF || off > TZ_MAX_OFF || types[6 * i + 4] > 1)
			return "bad local time type";
	}

	z->at = xreallocarray(NULL, h.time + 2 * (TZ_LAST_YEAR - TZ_FIRST_YEAR + 2), sizeof *z->at);
	z->off = xreallocarray(NULL, h.time + 2 * (TZ_LAST_YEAR - TZ_FIRST_YEAR + 2) + 1,
	    sizeof *z->off);
	z->off[0] = (int32_t)tz_be32(types); /* before the first transition: type 0 */
	for (uint32_t i = 0; i < h.time; i++) {
		if (idx[i] >= h.type || (i > 0 && tz_be64(times + 8 * i) <= tz_be64(times + 8 * i - 8)))
			return "bad transition table";
		tz_push(z, tz_be64(times + 8 * i), (int32_t)tz_be32(types + 6 * idx[i]));
	}
	if (flen && h.time > 0 && f.has_dst) {
		/* The rules of the year before the last transition may still fall
		 * after it; zic's "big bang" at -2^59 must not overflow the days. */
		int64_t last = tz_be64(times + 8 * (h.time - 1)), lim = (int64_t)9999 * 366 * DAY_SECS;
		int32_t y = days_to_civil(wall_date(last < -lim ? -lim : last > lim ? lim : last)).y;
		tz_expand(z, &f, y - 1 < TZ_FIRST_YEAR ? TZ_FIRST_YEAR : y - 1, last);
	} else if (flen && h.time == 0) {
		/* No transitions: the footer alone defines the zone, at all times.
		 * If DST spans the new year, it is on when the first rule comes. */
		z->off[0] = f.has_dst && tz_rule_at(&f.end, TZ_FIRST_YEAR, f.dst) <
		    tz_rule_at(&f.start, TZ_FIRST_YEAR, f.std) ? f.dst : f.std;
		if (f.has_dst)
			tz_expand(z, &f, TZ_FIRST_YEAR, INT64_MIN);
	}
	z->at = xreallocarray(z->at, z->n, sizeof *z->at);
	z->off = xreallocarray(z->off, z->n + 1, sizeof *z->off);
	return NULL;
}

/* Reads a whole regular file; NULL with errno set if there is none. */
static unsigned char *tz_slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	ssize_t r = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), bad;

	if (fd < 0)
		return NULL;
	/* A directory such as "America" is no zone either. */
	bad = fstat(fd, &st) < 0 ? errno : !S_ISREG(st.st_mode) ? ENOENT :
	    st.st_size > TZ_MAX_FILE ? EFBIG : 0;
	buf = bad ? NULL : xmalloc((size_t)st.st_size + 1);
	for (*len = 0; buf && *len <= (size_t)st.st_size; *len += (size_t)r)
		if ((r = read(fd, buf + *len, (size_t)st.st_size + 1 - *len)) <= 0)
			break;
	bad = r < 0 ? errno : bad;
	close(fd);
	if (bad) {
		free(buf);
		errno = bad;
		return NULL;
	}
	return buf;
}

/* IANA names only: letters, digits and "/_-+", no empty components and no
 * dots, so that a name can never leave the zone directory. */
static int tz_valid_name(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < 256 && name[0] != '/' && name[n - 1] != '/' &&
	    !strstr(name, "//") && !strstr(name, "..") &&
	    strspn(name, TZ_LETTERS "0123456789/_-+") == n;
}

static void tz_free(struct tz *z)
{
	free(z->name);
	free(z->at);
	free(z->off);
	free(z);
}

static struct tz *tz_load(const char *name, char *err, size_t errlen)
{
	const char *dir = getenv("TZDIR"), *why = NULL;
	struct tz *z = xcalloc(1, sizeof *z);
	unsigned char *buf = NULL;
	char path[4096];
	size_t len;

	z->serial = atomic_fetch_add(&tz_serials, 1) + 1;

	if (!dir || !*dir)
		dir = TZ_DEFAULT_DIR;
	z->name = xstrdup(name);
	errno = ENAMETOOLONG;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) < sizeof path)
		buf = tz_slurp(path, &len);
	if (!buf && errno == ENOENT && strcmp(name, "UTC") == 0) {
		/* A system without tzdata still knows UTC. */
		z->at = xmalloc(sizeof *z->at);
		z->off = xcalloc(1, sizeof *z->off);
		return z;
	}
	if (!buf && (errno == ENOENT || errno == ENOTDIR))
		snprintf(err, errlen, "unknown time zone \"%s\" (not in %s)", name, dir);
	else if (!buf || (why = tz_parse(z, buf, len)))
		snprintf(err, errlen, "time zone \"%s\": %s: %s", name, path, why ? why : strerror(errno));
	if (!buf || why) {
		free(buf);
		tz_free(z);
		return NULL;
	}
	free(buf);
	return z;
}

static struct tz *tz_find(const char *name)
{
	struct tz *z = atomic_load_explicit(&tz_list, memory_order_acquire);

	while (z && strcmp(z->name, name) != 0)
		z = z->next;
	return z;
}

const struct tz *tz_get(const char *name, char *err, size_t errlen)
{
	struct tz *z;

	if (!name || !tz_valid_name(name)) {
		snprintf(err, errlen, "bad time zone name \"%s\" (expected an IANA name "
		    "such as \"Europe/Paris\" or \"UTC\")", name ? name : "(null)");
		return NULL;
	}
	if ((z = tz_find(name)))
		return z;
	/* Loading under the lock also keeps two threads from loading one zone. */
	pthread_mutex_lock(&tz_lock);
	if (!(z = tz_find(name)) && (z = tz_load(name, err, errlen))) {
		z->next = atomic_load_explicit(&tz_list, memory_order_relaxed);
		atomic_store_explicit(&tz_list, z, memory_order_release);
	}
	pthread_mutex_unlock(&tz_lock);
	return z;
}

const char *tz_name(const struct tz *z)
{
	return z->name;
}

void tz_describe(const struct tz *z, struct sbuf *b)
{
	uint64_t n = z->n;

	sbuf_add(b, z->name, strlen(z->name) + 1);
	sbuf_add(b, (const char *)&n, sizeof n);
	sbuf_add(b, (const char *)z->at, z->n * sizeof *z->at);
	sbuf_add(b, (const char *)z->off, (z->n + 1) * sizeof *z->off);
}

void tz_cleanup(void)
{
	struct tz *z;

	pthread_mutex_lock(&tz_lock);
	z = atomic_exchange(&tz_list, NULL);
	pthread_mutex_unlock(&tz_lock);
	while (z) {
		struct tz *next = z->next;
		tz_free(z);
		z = next;
	}
}

/* --- lookups ------------------------------------------------------------------ */

static int64_t tz_clamp(int64_t t)
{
	return t < -TZ_LIMIT ? -TZ_LIMIT : t > TZ_LIMIT ? TZ_LIMIT : t;
}

/* The period holding instant t: the number of transitions at or before t. */
static size_t tz_period(const struct tz *z, int64_t t)
{
	size_t lo = 0, hi = z->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int32_t tz_offset(const struct tz *z, int64_t t)
{
	return z->off[tz_period(z, t)];
}

int64_t tz_to_wall(const struct tz *z, int64_t t)
{
	t = tz_clamp(t);
	return t + z->off[tz_period(z, t)];
}

/* SPEC 3.2.  An instant u shows wall time w if u = w - off_k for the period
 * k holding u; as |off| <= 26 h, only periods meeting w +- 27 h can hold
 * one.  Periods are in order, so the first match is the earlier of a
 * repeated wall time.  With no match w is in a gap, the one after the last
 * period whose wall-clock span starts at or before w: its offset is the one
 * in force before the gap.  The first period scanned always qualifies, as
 * it starts 27 h or more before w. */
static int64_t from_wall(const struct tz *z, int64_t w)
{
	size_t k, before;

	before = k = tz_period(z, w - TZ_WINDOW);
	for (; k <= z->n && (k == 0 || z->at[k - 1] <= w + TZ_WINDOW); k++) {
		int64_t u = w - z->off[k];

		if (k > 0 && u < z->at[k - 1])
			continue;     /* w is before this period's wall-clock span */
		if (k == z->n || u < z->at[k])
			return u;
		before = k;           /* w is after it: a gap, or a later period */
	}
	return w - z->off[before];
}

/* The instants of the wall times asked last, per thread (bench W1: an
 * agenda asks each zone the same few wall times, the sessions' and the
 * medications', for thousands of patients each day; the search was a
 * tenth of it).  Keyed by the zone's serial, which no other zone ever
 * has, so a freed zone's entries can never answer for another. */
#define TZ_MEMO 64
static _Thread_local struct tz_memo {
	uint64_t serial;              /* 0: empty */
	int64_t w, u;
} tz_memo[TZ_MEMO];

int64_t tz_from_wall(const struct tz *z, int64_t w)
{
	struct tz_memo *m;

	w = tz_clamp(w);
	m = &tz_memo[(z->serial * 31 + (uint64_t)w / 60) % TZ_MEMO];
	if (m->serial != z->serial || m->w != w) {
		m->serial = z->serial;
		m->w = w;
		m->u = from_wall(z, w);
	}
	return m->u;
}
