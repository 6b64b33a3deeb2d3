/* snapcache.c - see snapcache.h.
 *
 * The file: a header (its key, the payload's length and checksum, where
 * each table starts), then the payload: the patients (struct patient, as
 * in memory, every pointer replaced by a tagged offset into the payload),
 * their order and lines, then a heap of what they point to (strings,
 * arrays, appointments and medications, each with its own pointers
 * replaced), the zones and languages with their descriptions, and what
 * reading them said.  Loading reads it whole into one block, which the
 * snapshot then owns, and turns each offset back into a pointer.
 *
 * A pointer slot holds 0 (NULL) or TAG | offset; a patient's zone and
 * language hold their index in the zone and language tables plus one;
 * an appointment's rules hold PROGRAM_RULES when they are its program's. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "conf_source.h"
#include "lang.h"
#include "snapcache.h"
#include "snapcache_libs.h"
#include "tz.h"

#define FORMAT 4                       /* 2: a patient's file; 3: XXH3 key and checksum; 4: libs */
#define TAG ((uint64_t)1 << 63)
#define PROGRAM_RULES ((uint64_t)1)
#define PAYLOAD_MAX ((uint64_t)1 << 40)
static const char magic[8] = {'I', 'O', 'P', 'D', 'P', 'A', 'T', '1'};

struct header {
	char magic[8];
	uint32_t format, header_size;
	unsigned char key[SNAPCACHE_KEY_LEN];
	uint64_t payload_len, checksum;
	uint64_t npatients, nzones, nlangs, nsaid;
	uint64_t off_patients, off_order, off_lines, off_id_lines, off_zones, off_langs, off_said;
	uint64_t off_libs, libs_len;   /* the phone libraries (snapcache_libs.h) */
	uint64_t sizes[5];             /* of patient, appointment, medication, rule, a pointer */
};

/* A zone or a language: its name, and its description (tz_describe,
 * lang_describe) when the cache was written. */
struct named {
	uint64_t name, desc, desc_len;
};

struct said {
	uint32_t warn, pad;
	uint64_t file;
	int64_t line;
	uint64_t text;
};

static void sizes(uint64_t v[5])
{
	v[0] = sizeof(struct patient);
	v[1] = sizeof(struct appointment);
	v[2] = sizeof(struct medication);
	v[3] = sizeof(struct rule);
	v[4] = sizeof(void *);
}

/* ---- checksum ----------------------------------------------------------- */

/* The file's integrity (the key says what it is): XXH3-64, which any
 * change of a byte changes, at memory speed (37 MB for 100,000 patients:
 * 2 ms, where the four-lane multiply-rotate it replaced took 4). */
static uint64_t checksum(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}

/* ---- the key ------------------------------------------------------------ */

struct keyctx {
	XXH3_state_t *st;
	bool build_id;                 /* the last object had one */
	bool exe_id;                   /* the program had one */
};

static void key_add(struct keyctx *k, const void *p, size_t n)
{
	XXH3_128bits_update(k->st, p, n);
}

static void key_u64(struct keyctx *k, uint64_t v)
{
	key_add(k, &v, sizeof v);
}

/* A file by what changes when it is replaced or written: device, inode,
 * size, modification and change times. */
static void key_file(struct keyctx *k, const char *path)
{
	struct stat st;

	key_add(k, path, strlen(path) + 1);
	if (stat(path, &st) != 0) {
		key_u64(k, (uint64_t)errno);
		return;
	}
	key_u64(k, (uint64_t)st.st_dev);
	key_u64(k, (uint64_t)st.st_ino);
	key_u64(k, (uint64_t)st.st_size);
	key_u64(k, (uint64_t)st.st_mtim.tv_sec);
	key_u64(k, (uint64_t)st.st_mtim.tv_nsec);
	key_u64(k, (uint64_t)st.st_ctim.tv_sec);
	key_u64(k, (uint64_t)st.st_ctim.tv_nsec);
}

/* The C library: its answers (sorting, locales) end up in the patients.
 * (Those of the phone libraries are checked apart: snapcache_libs.h.) */
static bool key_library(const char *name)
{
	return strstr(name, "/libc.so") != NULL;
}

/* An object's GNU build id, if it has one: what it is, whatever the
 * dates of its file (libfaketime shifts those). */
static void key_build_id(struct keyctx *k, const struct dl_phdr_info *info)
{
	const unsigned char *id;
	size_t n;
	int i;

	k->build_id = false;
	for (i = 0; i < info->dlpi_phnum && !k->build_id; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_NOTE &&
		    snapcache_libs_build_id((const void *)(info->dlpi_addr + ph->p_vaddr), ph->p_memsz, &id, &n)) {
			key_add(k, id, n);
			k->build_id = true;
		}
	}
}

static int key_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct keyctx *k = arg;

	(void)size;
	if (!info->dlpi_name || !*info->dlpi_name) {
		key_build_id(k, info);         /* the program itself */
		k->exe_id = k->build_id;
	} else if (key_library(info->dlpi_name)) {
		key_add(k, info->dlpi_name, strlen(info->dlpi_name) + 1);
		key_build_id(k, info);
		if (!k->build_id)
			key_file(k, info->dlpi_name);
	}
	return 0;
}

void snapcache_key(const struct conf_source *src, struct snapcache_key *out)
{
	struct keyctx k = {XXH3_createState(), false, false};
	XXH128_canonical_t sum;
	uint64_t v[5];
	size_t i;

	if (!k.st)
		iopd_oom();
	XXH3_128bits_reset(k.st);
	key_add(&k, "iopd patients cache", 20);
	key_u64(&k, FORMAT);
	key_add(&k, PACKAGE_STRING, sizeof PACKAGE_STRING);
	sizes(v);
	key_add(&k, v, sizeof v);
	dl_iterate_phdr(key_object, &k);
	if (!k.exe_id)                         /* a program linked without one */
		key_file(&k, "/proc/self/exe");
	key_u64(&k, src->nfiles);
	key_u64(&k, src->nspans);
	for (i = 0; i < src->nspans; i++) {
		key_u64(&k, (uint64_t)src->spans[i].out_line);
		key_u64(&k, (uint64_t)src->spans[i].line);
		key_u64(&k, (uint64_t)src->spans[i].file);
	}
	key_u64(&k, src->text.len);
	key_add(&k, src->text.s ? src->text.s : "", src->text.len);
	XXH128_canonicalFromHash(&sum, XXH3_128bits_digest(k.st));
	memcpy(out->b, sum.digest, sizeof out->b);
	XXH3_freeState(k.st);
}

/* ---- writing -------------------------------------------------------------- */

struct strmap {                         /* by address: strings and shared arrays */
	const void **key;
	uint64_t *off;
	size_t cap, n;
};

struct writer {
	const struct snapshot *s;
	struct sbuf heap;
	uint64_t heap_base;            /* the heap's offset in the payload */
	struct strmap strs;            /* strings already in the heap, by address */
	const struct tz **zones;
	const struct lang **langs;
	size_t nzones, capzones, nlangs, caplangs;
};

static uint64_t heap_off(const struct writer *w)
{
	return w->heap_base + w->heap.len;
}

static void heap_align(struct writer *w)
{
	static const char zero[8];

	if (w->heap.len & 7)
		sbuf_add(&w->heap, zero, 8 - (w->heap.len & 7));
}

static uint64_t put_bytes(struct writer *w, const void *p, size_t n)
{
	uint64_t off;

	if (!p)
		return 0;
	heap_align(w);
	off = heap_off(w);
	if (n)
		sbuf_add(&w->heap, p, n);
	else
		sbuf_add(&w->heap, "\0\0\0\0\0\0\0", 8);     /* an empty array is not NULL */
	return TAG | off;
}

static size_t str_hash(const void *p, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)p;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return (size_t)(h ^ (h >> 32)) & (cap - 1);
}

static void strmap_grow(struct strmap *m)
{
	struct strmap n = {NULL, NULL, m->cap ? 2 * m->cap : 1024, m->n};
	size_t i, j;

	n.key = xcalloc(n.cap, sizeof *n.key);
	n.off = xcalloc(n.cap, sizeof *n.off);
	for (i = 0; i < m->cap; i++) {
		if (!m->key[i])
			continue;
		for (j = str_hash(m->key[i], n.cap); n.key[j]; j = (j + 1) & (n.cap - 1))
			;
		n.key[j] = m->key[i];
		n.off[j] = m->off[i];
	}
	free(m->key);
	free(m->off);
	*m = n;
}

/* The slot of address p in the map: its own if p was put before, else the
 * empty one it goes into (the map grown first, so there always is one). */
static size_t memo_slot(struct strmap *m, const void *p)
{
	size_t j;

	if (2 * (m->n + 1) > m->cap)
		strmap_grow(m);
	for (j = str_hash(p, m->cap); m->key[j]; j = (j + 1) & (m->cap - 1))
		if (m->key[j] == p)
			break;
	return j;
}

/* A string, once per address (interned strings are shared). */
static uint64_t put_str(struct writer *w, const char *s)
{
	struct strmap *m = &w->strs;
	size_t j;

	if (!s)
		return 0;
	j = memo_slot(m, s);
	if (!m->key[j]) {
		m->key[j] = s;
		m->off[j] = TAG | heap_off(w);
		m->n++;
		sbuf_add(&w->heap, s, strlen(s) + 1);
	}
	return m->off[j];
}

#define SLOT(field, v) do { uint64_t v_ = (v); memcpy(&(field), &v_, sizeof v_); } while (0)

/* An array shared by address (rules' channel arrays), once. */
static uint64_t put_shared(struct writer *w, const void *p, size_t n)
{
	struct strmap *m = &w->strs;
	size_t j;

	if (!p)
		return 0;
	j = memo_slot(m, p);
	if (!m->key[j]) {
		m->key[j] = p;
		m->off[j] = put_bytes(w, p, n);
		m->n++;
	}
	return m->off[j];
}

/* A copy of the array v of n elements, whose pointers the writer turns
 * into offsets (the snapshot's own stays as it is); put_copy writes it
 * and frees it. */
static void *array_copy(const void *v, size_t n, size_t size)
{
	void *copy = xreallocarray(NULL, n ? n : 1, size);

	memcpy(copy, v, n * size);
	return copy;
}

static uint64_t put_copy(struct writer *w, void *copy, size_t bytes)
{
	uint64_t off = put_bytes(w, copy, bytes);

	free(copy);
	return off;
}

static void rule_slots(struct writer *w, struct rule *r)
{
	SLOT(r->before_text, put_str(w, r->before_text));
	SLOT(r->lead_key, put_str(w, r->lead_key));
	SLOT(r->chan, put_shared(w, r->chan, r->nchan * sizeof *r->chan));
}

static uint64_t put_rules(struct writer *w, const struct rule *v, uint16_t n)
{
	struct rule *copy;
	uint16_t i;

	if (!v)
		return 0;
	copy = array_copy(v, n, sizeof *copy);
	for (i = 0; i < n; i++)
		rule_slots(w, &copy[i]);
	return put_copy(w, copy, n * sizeof *copy);
}

static uint64_t put_appts(struct writer *w, const struct patient *p)
{
	const struct rule *own = w->s->programs[p->program].rules.v;
	struct appointment *copy;
	uint16_t i;

	if (!p->appts)
		return 0;
	copy = array_copy(p->appts, p->nappts, sizeof *copy);
	for (i = 0; i < p->nappts; i++) {
		struct appointment *a = &copy[i];
		SLOT(a->key, put_str(w, a->key));
		SLOT(a->type, put_str(w, a->type));
		SLOT(a->location, put_str(w, a->location));
		if (a->rules.v == own)
			SLOT(a->rules.v, PROGRAM_RULES);
		else
			SLOT(a->rules.v, put_rules(w, a->rules.v, a->rules.n));
	}
	return put_copy(w, copy, p->nappts * sizeof *copy);
}

static uint64_t put_meds(struct writer *w, const struct patient *p)
{
	struct medication *copy;
	uint16_t i;

	if (!p->meds)
		return 0;
	copy = array_copy(p->meds, p->nmeds, sizeof *copy);
	for (i = 0; i < p->nmeds; i++) {
		struct medication *m = &copy[i];
		SLOT(m->label, put_str(w, m->label));
		SLOT(m->times, put_bytes(w, m->times, m->ntimes * sizeof *m->times));
		rule_slots(w, &m->rule);
	}
	return put_copy(w, copy, p->nmeds * sizeof *copy);
}

/* The index (plus one) of x in the table v, added if new. */
static uint64_t table_index(const void ***v, size_t *n, size_t *cap, const void *x)
{
	size_t i;

	if (!x)
		return 0;
	for (i = 0; i < *n; i++)
		if ((*v)[i] == x)
			return i + 1;
	grow_array(v, cap, *n + 1, sizeof **v);
	(*v)[(*n)++] = x;
	return *n;
}

static void put_patient(struct writer *w, const struct patient *p, struct patient *out)
{
	*out = *p;
	SLOT(out->id, put_str(w, p->id));
	SLOT(out->first_name, put_str(w, p->first_name));
	SLOT(out->phone, put_str(w, p->phone));
	SLOT(out->email, put_str(w, p->email));
	SLOT(out->language, put_str(w, p->language));
	SLOT(out->file, put_str(w, p->file));
	SLOT(out->tz, table_index((const void ***)&w->zones, &w->nzones, &w->capzones, p->tz));
	SLOT(out->lang, table_index((const void ***)&w->langs, &w->nlangs, &w->caplangs, p->lang));
	SLOT(out->absences, put_bytes(w, p->absences, p->nabsences * sizeof *p->absences));
	SLOT(out->appts, put_appts(w, p));
	SLOT(out->meds, put_meds(w, p));
}

static uint64_t put_named(struct writer *w, const char *name, const struct sbuf *desc,
    struct named *out)
{
	out->name = put_str(w, name);
	out->desc = put_bytes(w, desc->s ? desc->s : "", desc->len);
	out->desc_len = desc->len;
	return 0;
}

/* The zones and languages tables, what was said, the phone libraries. */
static void put_tables(struct writer *w, const struct snapcache_extra *x, const struct sbuf *libs,
    struct header *h)
{
	struct named *z = xcalloc(w->nzones + w->nlangs + 1, sizeof *z);
	struct said *sd = xcalloc(x->nsaid + 1, sizeof *sd);
	size_t i;

	for (i = 0; i < w->nzones; i++) {
		struct sbuf d = {0};
		tz_describe(w->zones[i], &d);
		put_named(w, tz_name(w->zones[i]), &d, &z[i]);
		sbuf_free(&d);
	}
	for (i = 0; i < w->nlangs; i++) {
		struct sbuf d = {0};
		lang_describe(w->langs[i], &d);
		put_named(w, lang_code(w->langs[i]), &d, &z[w->nzones + i]);
		sbuf_free(&d);
	}
	for (i = 0; i < x->nsaid; i++) {
		sd[i].warn = (uint32_t)x->said[i].warn;
		sd[i].file = x->said[i].file;
		sd[i].line = x->said[i].line;
		sd[i].text = put_str(w, x->said[i].text);
	}
	h->nzones = w->nzones;
	h->nlangs = w->nlangs;
	h->nsaid = x->nsaid;
	h->off_zones = put_bytes(w, z, w->nzones * sizeof *z) & ~TAG;
	h->off_langs = put_bytes(w, z + w->nzones, w->nlangs * sizeof *z) & ~TAG;
	h->off_said = put_bytes(w, sd, x->nsaid * sizeof *sd) & ~TAG;
	h->off_libs = put_bytes(w, libs->s, libs->len) & ~TAG;
	h->libs_len = libs->len;
	sbuf_addc(&w->heap, '\0');             /* every string ends inside the payload */
	heap_align(w);
	free(z);
	free(sd);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = write(fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The payload's fixed part: patients, their order and lines. */
static size_t fixed_part(const struct snapshot *s, const struct snapcache_extra *x,
    struct writer *w, struct header *h, unsigned char **out)
{
	size_t n = s->npatients, len, i;
	unsigned char *b;

	h->off_patients = 0;
	h->off_order = n * sizeof(struct patient);
	h->off_lines = h->off_order + ((n * 4 + 7) & ~(size_t)7);
	h->off_id_lines = h->off_lines + ((n * 4 + 7) & ~(size_t)7);
	len = h->off_id_lines + ((n * 4 + 7) & ~(size_t)7);
	b = xcalloc(len ? len : 1, 1);
	w->heap_base = len;
	for (i = 0; i < n; i++) {
		int32_t l = x->patient_line[i], idl = x->patient_id_line[i];
		put_patient(w, &s->patients[i], (struct patient *)(void *)(b + i * sizeof(struct patient)));
		memcpy(b + h->off_order + 4 * i, &s->patient_order[i], 4);
		memcpy(b + h->off_lines + 4 * i, &l, 4);
		memcpy(b + h->off_id_lines + 4 * i, &idl, 4);
	}
	*out = b;
	return len;
}

/* The checksum of the payload as the reader reads it, in one piece. */
static uint64_t payload_checksum(const void *fixed, size_t nfixed, const struct sbuf *heap)
{
	XXH3_state_t *st = XXH3_createState();
	uint64_t sum;

	if (!st)
		iopd_oom();
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, fixed, nfixed);
	XXH3_64bits_update(st, heap->s ? heap->s : "", heap->len);
	sum = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return sum;
}

int snapcache_save(const char *state_dir, const struct snapcache_key *k, const struct snapshot *s,
    const struct snapcache_extra *x, char *err, size_t errlen)
{
	struct writer w;
	struct header h;
	struct sbuf libs = {0};
	unsigned char *fixed = NULL;
	size_t nfixed;
	char *path = xasprintf("%s/" SNAPCACHE_FILE, state_dir), *tmp = xasprintf("%s.XXXXXX", path);
	int fd = -1, rc = -1;

	memset(&w, 0, sizeof w);
	memset(&h, 0, sizeof h);
	if (snapcache_libs_describe(&libs, err, errlen) != 0)
		goto out;
	w.s = s;
	memcpy(h.magic, magic, sizeof magic);
	h.format = FORMAT;
	h.header_size = sizeof h;
	memcpy(h.key, k->b, sizeof h.key);
	h.npatients = s->npatients;
	sizes(h.sizes);
	nfixed = fixed_part(s, x, &w, &h, &fixed);
	put_tables(&w, x, &libs, &h);
	h.payload_len = nfixed + w.heap.len;
	h.checksum = payload_checksum(fixed, nfixed, &w.heap);
	if ((fd = mkstemp(tmp)) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || write_all(fd, &h, sizeof h) != 0 ||
	    write_all(fd, fixed, nfixed) != 0 || write_all(fd, w.heap.s ? w.heap.s : "", w.heap.len) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	free(fixed);
	sbuf_free(&libs);
	sbuf_free(&w.heap);
	free(w.strs.key);
	free(w.strs.off);
	free(w.zones);
	free(w.langs);
	free(path);
	free(tmp);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

struct snapcache {
	struct header h;
	unsigned char *buf;            /* the payload */
	size_t len;
	const struct tz **zones;
	const struct lang **langs;
};

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n > 0) {
		ssize_t k = read(fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Only a regular file of this user that no one else may read or write. */
static int safe_file(int fd, const struct stat *st)
{
	(void)fd;
	return S_ISREG(st->st_mode) && st->st_uid == geteuid() && !(st->st_mode & 077) ? 0 : -1;
}

static int header_ok(const struct header *h, const struct snapcache_key *k, off_t size)
{
	uint64_t v[5];

	sizes(v);
	return memcmp(h->magic, magic, sizeof magic) == 0 && h->format == FORMAT &&
	    h->header_size == sizeof *h && memcmp(h->key, k->b, sizeof h->key) == 0 &&
	    memcmp(h->sizes, v, sizeof v) == 0 && h->payload_len < PAYLOAD_MAX &&
	    (uint64_t)size == sizeof *h + h->payload_len && h->payload_len > 0 ? 0 : -1;
}

/* The payload, read into memory rather than mapped: relocating a private
 * mapping wrote every page of it, a copy-on-write fault and a TLB flush
 * each (9,000 for 100,000 patients), which cost more than the copy where
 * faults trap to the hypervisor; read, the buffer takes huge pages.  And
 * a file truncated in place would take a mapping's pages away (SIGBUS). */
static int load_payload(struct snapcache *c, int fd)
{
	c->buf = huge_alloc(c->len);
	return read_all(fd, c->buf, c->len);
}

struct snapcache *snapcache_open(const char *state_dir, const struct snapcache_key *k)
{
	char *path = xasprintf("%s/" SNAPCACHE_FILE, state_dir);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct snapcache *c = NULL;
	struct header h;
	struct stat st;

	free(path);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || safe_file(fd, &st) != 0 || read_all(fd, &h, sizeof h) != 0 ||
	    header_ok(&h, k, st.st_size) != 0)
		goto out;
	c = xcalloc(1, sizeof *c);
	c->h = h;
	c->len = h.payload_len;
	if (load_payload(c, fd) != 0 || checksum(c->buf, c->len) != h.checksum ||
	    c->buf[c->len - 1] != '\0') {
		snapcache_free(c);
		c = NULL;
	}
out:
	close(fd);
	return c;
}

/* A table entry's name and description, checked to lie in the payload. */
static const char *named_at(const struct snapcache *c, uint64_t v, uint64_t len)
{
	uint64_t off = v & ~TAG;

	return (v & TAG) && off < c->len && len <= c->len - off ? (const char *)c->buf + off : NULL;
}

static int table_ok(const struct snapcache *c, uint64_t off, uint64_t n, size_t size)
{
	return off <= c->len && n <= (c->len - off) / size && !(off & 7) ? 0 : -1;
}

int snapcache_current(struct snapcache *c)
{
	const struct named *z = (const struct named *)(void *)(c->buf + c->h.off_zones);
	const struct named *l = (const struct named *)(void *)(c->buf + c->h.off_langs);
	uint64_t i;
	int ok = 0;

	if (table_ok(c, c->h.off_zones, c->h.nzones, sizeof *z) ||
	    table_ok(c, c->h.off_langs, c->h.nlangs, sizeof *l) ||
	    c->h.off_libs > c->len || c->h.libs_len > c->len - c->h.off_libs ||
	    snapcache_libs_current((const char *)c->buf + c->h.off_libs, c->h.libs_len) != 0)
		return -1;
	free(c->zones);
	free(c->langs);
	c->zones = xcalloc(c->h.nzones + 1, sizeof *c->zones);
	c->langs = xcalloc(c->h.nlangs + 1, sizeof *c->langs);
	for (i = 0; i < c->h.nzones + c->h.nlangs && ok == 0; i++) {
		const struct named *e = i < c->h.nzones ? &z[i] : &l[i - c->h.nzones];
		const char *name = named_at(c, e->name, 1), *desc = named_at(c, e->desc, e->desc_len);
		struct sbuf now = {0};
		char err[256];
		if (!name || !desc)
			return -1;
		if (i < c->h.nzones) {
			if (!(c->zones[i] = tz_get(name, err, sizeof err)))
				return -1;
			tz_describe(c->zones[i], &now);
		} else {
			c->langs[i - c->h.nzones] = lang_get(name);
			lang_describe(c->langs[i - c->h.nzones], &now);
		}
		if (now.len != e->desc_len || memcmp(now.s, desc, now.len) != 0)
			ok = -1;
		sbuf_free(&now);
	}
	return ok;
}

/* ---- relocation ---- */

struct reloc {
	unsigned char *buf;
	size_t len;
	bool bad;
};

static uint64_t slot_of(const void *field)
{
	uint64_t v;

	memcpy(&v, field, sizeof v);
	return v;
}

/* The payload address of a tagged offset with `size` bytes behind it. */
static void *at(struct reloc *r, uint64_t v, size_t size)
{
	uint64_t off = v & ~TAG;

	if (!v)
		return NULL;
	if (!(v & TAG) || off >= r->len || size > r->len - off) {
		r->bad = true;
		return NULL;
	}
	return r->buf + off;
}

#define FIX_STR(field) ((field) = at(r, slot_of(&(field)), 1))
#define FIX_ARRAY(field, n) ((field) = at(r, slot_of(&(field)), (size_t)(n) * sizeof *(field)))

static void fix_rule(struct reloc *r, struct rule *x)
{
	FIX_STR(x->before_text);
	FIX_STR(x->lead_key);
	FIX_ARRAY(x->chan, x->nchan);
}

static void fix_patient(struct reloc *r, const struct snapcache *c, const struct snapshot *s,
    struct patient *p)
{
	uint64_t zone = slot_of(&p->tz), lang = slot_of(&p->lang);
	uint16_t i, j;

	FIX_STR(p->id);
	FIX_STR(p->first_name);
	FIX_STR(p->phone);
	FIX_STR(p->email);
	FIX_STR(p->language);
	FIX_STR(p->file);
	if (zone > c->h.nzones || lang > c->h.nlangs || p->program >= s->nprograms) {
		r->bad = true;
		return;
	}
	p->tz = zone ? c->zones[zone - 1] : NULL;
	p->lang = lang ? c->langs[lang - 1] : NULL;
	FIX_ARRAY(p->absences, p->nabsences);
	FIX_ARRAY(p->appts, p->nappts);
	FIX_ARRAY(p->meds, p->nmeds);
	for (i = 0; p->appts && i < p->nappts; i++) {
		struct appointment *a = &p->appts[i];
		uint64_t rules = slot_of(&a->rules.v);
		FIX_STR(a->key);
		FIX_STR(a->type);
		FIX_STR(a->location);
		if (rules == PROGRAM_RULES) {
			a->rules = s->programs[p->program].rules;
		} else {
			struct rule *v = at(r, rules, a->rules.n * sizeof(struct rule));
			for (j = 0; v && j < a->rules.n; j++)
				fix_rule(r, &v[j]);
			a->rules.v = v;
		}
	}
	for (i = 0; p->meds && i < p->nmeds; i++) {
		struct medication *m = &p->meds[i];
		FIX_STR(m->label);
		FIX_ARRAY(m->times, m->ntimes);
		fix_rule(r, &m->rule);
	}
}

int snapcache_apply(struct snapcache *c, struct snapshot *s, int **line, int **id_line,
    struct errs *errs)
{
	struct reloc r = {c->buf, c->len, false};
	uint64_t n = c->h.npatients, i;
	const struct said *sd;
	int *l, *il;

	if (!c->zones || table_ok(c, c->h.off_patients, n, sizeof(struct patient)) ||
	    table_ok(c, c->h.off_order, n, 4) || table_ok(c, c->h.off_lines, n, 4) ||
	    table_ok(c, c->h.off_id_lines, n, 4) || table_ok(c, c->h.off_said, c->h.nsaid, sizeof *sd) ||
	    n > UINT32_MAX)
		return -1;
	for (i = 0; i < n && !r.bad; i++)
		fix_patient(&r, c, s, (struct patient *)(void *)(c->buf + c->h.off_patients) + i);
	for (i = 0; i < n && !r.bad; i++) {
		uint32_t o;
		memcpy(&o, c->buf + c->h.off_order + 4 * i, 4);
		r.bad = o >= n;
	}
	if (r.bad)
		return -1;             /* the buffer is half relocated: c must be freed */
	l = xreallocarray(NULL, n ? n : 1, sizeof *l);
	il = xreallocarray(NULL, n ? n : 1, sizeof *il);
	memcpy(l, c->buf + c->h.off_lines, n * 4);
	memcpy(il, c->buf + c->h.off_id_lines, n * 4);
	sd = (const struct said *)(void *)(c->buf + c->h.off_said);
	for (i = 0; i < c->h.nsaid; i++) {
		const char *text = named_at(c, sd[i].text, 1);
		struct errs_said one = {(int)sd[i].warn, sd[i].file, (int)sd[i].line, (char *)text};
		if (text)
			errs_replay(errs, &one, 1);
	}
	s->patients = (struct patient *)(void *)(c->buf + c->h.off_patients);
	s->patient_order = (uint32_t *)(void *)(c->buf + c->h.off_order);
	s->npatients = (uint32_t)n;
	s->image = c->buf;
	c->buf = NULL;
	*line = l;
	*id_line = il;
	return 0;
}

void snapcache_free(struct snapcache *c)
{
	if (!c)
		return;
	free(c->buf);
	free(c->zones);
	free(c->langs);
	free(c);
}
