/* agenda.c - see agenda.h */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agenda.h"
#include "ident.h"
#include "render.h"
#include "timefmt.h"

/* The walk goes a slab of time at a time (bench W1: the k-way merge
 * through a heap of every stream cost a sift through a 500,000-entry heap
 * per row, a third of `iopd agenda` for 100,000 patients).  Each stream
 * sits in the bucket of the slab its next group falls in; a slab's streams
 * emit every row they have in it, the slab's rows are sorted by (due,
 * patient rank, channel rank, id), handed out, and the next slab begins.
 * The order is the merge's, the work is O(rows log rows-per-slab +
 * streams), and memory is bounded by one slab's rows, so the window is
 * still never held whole. */
struct batch_row {
	struct occ o;
	uint64_t id;
	uint16_t ch;
	enum status status;
};

/* A row's sort key; rows are sorted through these, not moved. */
struct row_key {
	int64_t due;
	uint64_t rank_ch;              /* patient rank << 16 | channel rank */
	uint64_t id;
	uint32_t row;
};

#define SLAB_SECS 3600                 /* one hour of dues per slab */
#define SLABS_MAX (1u << 22)           /* wider windows get wider slabs */
/* A slab's bucket: the streams whose next group falls in it.  An array,
 * not a list threaded through the streams (bench W1: reading such a list
 * was a cache miss per stream, each waiting for the one before, 6% of
 * `iopd agenda`). */
struct bucket {
	uint32_t *v;
	uint32_t n, cap;
};

struct walk {
	const struct snapshot *s;
	struct stream *st;
	uint32_t nst;
	struct bucket *bucket;         /* per slab */
	uint64_t *mark;                /* per stream, a bit: in the slab being read */
	uint32_t *order;               /* the slab's streams, in stream order */
	uint64_t *series;              /* per stream: cached series hash of its first channel */
	uint8_t *has_series;
	int64_t from, to, width;
	uint32_t nslabs;
	struct batch_row *rows;
	struct row_key *keys, *spread;  /* spread: slab_order's counting sort */
	size_t nrows, caprows, capkeys, capspread;
	uint32_t count[SLAB_SECS];     /* slab_order: rows per second of the slab */
	uint16_t chrank[SNAP_MAX_CHANNELS];
};

static bool key_less(const struct row_key *x, const struct row_key *y)
{
	if (x->due != y->due)
		return x->due < y->due;
	if (x->rank_ch != y->rank_ch)
		return x->rank_ch < y->rank_ch;
	if (x->id != y->id)
		return x->id < y->id;
	return x->row < y->row;
}

static void key_swap(struct row_key *a, struct row_key *b)
{
	struct row_key t = *a;

	*a = *b;
	*b = t;
}

/* A slab's keys in order: a quicksort with the comparison inlined (bench
 * W1: qsort's call per comparison was a tenth of the walk).  Keys are all
 * different (the row index ends them), so the order is the one and only. */
static void sort_keys(struct row_key *v, size_t n)
{
	while (n > 16) {
		size_t i = 0, j = n - 1, m = n / 2;
		struct row_key pivot;
		if (key_less(&v[m], &v[0]))
			key_swap(&v[m], &v[0]);
		if (key_less(&v[n - 1], &v[0]))
			key_swap(&v[n - 1], &v[0]);
		if (key_less(&v[n - 1], &v[m]))
			key_swap(&v[n - 1], &v[m]);
		pivot = v[m];
		for (;;) {
			while (key_less(&v[i], &pivot))
				i++;
			while (key_less(&pivot, &v[j]))
				j--;
			if (i >= j)
				break;
			key_swap(&v[i++], &v[j--]);
		}
		/* the smaller side by recursion, the larger by the loop */
		if (j + 1 < n - j - 1) {
			sort_keys(v, j + 1);
			v += j + 1;
			n -= j + 1;
		} else {
			sort_keys(v + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	for (size_t i = 1; i < n; i++) {
		struct row_key t = v[i];
		size_t k = i;
		for (; k > 0 && key_less(&t, &v[k - 1]); k--)
			v[k] = v[k - 1];
		v[k] = t;
	}
}

/* (The usual width divides as a constant, by a multiplication: a
 * division per stream and slab was a percent of the walk.) */
static uint32_t slab_of(const struct walk *w, int64_t due)
{
	uint64_t d = (uint64_t)(due - w->from);

	return (uint32_t)(w->width == SLAB_SECS ? d / SLAB_SECS : d / (uint64_t)w->width);
}

static __attribute__((noinline)) void bucket_grow(struct bucket *bk)
{
	bk->cap = bk->cap ? 2 * bk->cap : 16;
	bk->v = xreallocarray(bk->v, bk->cap, sizeof *bk->v);
}

static void bucket_push(struct walk *w, uint32_t i)
{
	struct bucket *bk = &w->bucket[slab_of(w, w->st[i].due)];

	if (bk->n == bk->cap)
		bucket_grow(bk);
	bk->v[bk->n++] = i;
}

/* The reminder id of row (o, channel slot k) of stream i.  The series part
 * (patient, kind, series, lead, channel: SPEC 5) is the same for every group
 * of a session, medication or aftercare stream, so it is hashed once per
 * stream (bench W1: hashing it per row was a tenth of the walk); an
 * appointment stream changes series with each entry. */
static uint64_t row_id(struct walk *w, uint32_t i, const struct occ *o, uint8_t k)
{
	uint16_t ch = o->rule->chan[k];

	if (k != 0 || w->st[i].kind == STREAM_APPTS)
		return cal_id(w->s, o, ch);
	if (!w->has_series[i]) {
		w->series[i] = cal_series_id(w->s, o, ch);
		w->has_series[i] = 1;
	}
	return ident_reminder(w->series[i], o->event);
}

static void slab_add(struct walk *w, uint32_t i)
{
	const struct stream *st = &w->st[i];
	struct occ o;
	uint8_t k;

	cal_occ(w->s, st, &o);
	if (w->nrows + o.rule->nchan > w->caprows) {
		grow_array(&w->rows, &w->caprows, w->nrows + o.rule->nchan, sizeof *w->rows);
		grow_array(&w->keys, &w->capkeys, w->nrows + o.rule->nchan, sizeof *w->keys);
	}
	for (k = 0; k < o.rule->nchan; k++) {
		struct batch_row *r;
		struct row_key *key;
		r = &w->rows[w->nrows];
		key = &w->keys[w->nrows];
		r->o = o;
		r->ch = o.rule->chan[k];
		r->id = row_id(w, i, &o, k);
		r->status = cal_status(w->s, &o, r->ch);
		key->due = o.due;
		key->rank_ch = (uint64_t)o.patient->rank << 16 | w->chrank[r->ch];
		key->id = r->id;
		key->row = (uint32_t)w->nrows++;
	}
}

/* A run that is nearly in order (a patient's rows of one due, among
 * thousands in order) by insertion, which moves each key only as far as
 * it is out of place; a run further out of order (patients not listed in
 * id order) is left to the quicksort after a bounded number of moves. */
static void sort_run(struct row_key *v, size_t n)
{
	size_t budget = 8 * n, i;

	for (i = 1; i < n; i++) {
		struct row_key t = v[i];
		size_t k = i;
		for (; k > 0 && key_less(&t, &v[k - 1]); k--)
			v[k] = v[k - 1];
		v[k] = t;
		if (i - k > budget) {
			sort_keys(v, n);
			return;
		}
		budget -= i - k;
	}
}

/* A slab's keys in order.  Rows are added in stream order, which is
 * patient order, so the rows of one due are nearly always in order
 * already (bench W1: a quicksort of the whole slab was a sixth of `iopd
 * agenda`).  So they are spread by due, keeping the order they came in (a
 * counting sort over the slab's seconds, into `spread`), and each due's
 * rows are sorted by insertion, which only checks a due already in order.
 * A due beyond the count's SLAB_SECS seconds (the slabs of a window too
 * long for hour slabs) has the slab quicksorted whole.  The order is the
 * one and only either way.  Returns the keys in order.  A slab of a few
 * rows is quicksorted: a long window has millions of slabs, mostly empty
 * or nearly, and the count's reset would cost each one SLAB_SECS steps. */
#define SPREAD_MIN 256
static const struct row_key *slab_order(struct walk *w, int64_t start)
{
	struct row_key *in = w->keys, *out;
	size_t i, n = w->nrows, at = 0;

	if (n < SPREAD_MIN) {          /* not worth a pass over the slab's seconds */
		sort_keys(in, n);
		return in;
	}
	memset(w->count, 0, sizeof w->count);
	for (i = 0; i < n; i++) {
		int64_t sec = in[i].due - start;
		if (sec < 0 || sec >= SLAB_SECS) {
			sort_keys(in, n);
			return in;
		}
		w->count[sec]++;
	}
	for (i = 0; i < SLAB_SECS; i++) {
		uint32_t c = w->count[i];
		w->count[i] = (uint32_t)at;
		at += c;
	}
	if (w->capspread < n)
		grow_array(&w->spread, &w->capspread, n, sizeof *w->spread);
	out = w->spread;
	for (i = 0; i < n; i++)
		out[w->count[in[i].due - start]++] = in[i];
	for (i = 0; i < n;) {
		size_t run = i + 1;
		while (run < n && out[run].due == out[i].due)
			run++;
		sort_run(out + i, run - i);
		i = run;
	}
	return out;
}

/* How many places ahead a walk asks for memory (see slab_prefetch) */
#define AHEAD 4

/* The rows of a slab are handed out in another order than they were
 * read, by when their patients' memory has left the cache: each row asks
 * for the fields row_json reads (the id and the zone) of the patient of
 * the row 2 * AHEAD places on, and for the id's text of the one AHEAD
 * places on.  (In the loop, not a helper: see cal_prefetch.) */
static int slab_flush(struct walk *w, int64_t start, agenda_fn fn, void *arg)
{
	const struct row_key *keys = slab_order(w, start);
	size_t i;
	int stop = 0;

	for (i = 0; i < w->nrows && !stop; i++) {
		const struct batch_row *b = &w->rows[keys[i].row];
		struct agenda_row r = {&b->o, b->id, b->ch, b->status};
		if (i + 2 * AHEAD < w->nrows) {
			const struct patient *p = w->rows[keys[i + 2 * AHEAD].row].o.patient;
			__builtin_prefetch(&p->id);
			__builtin_prefetch(&p->tz);
		}
		if (i + AHEAD < w->nrows)
			__builtin_prefetch(w->rows[keys[i + AHEAD].row].o.patient->id);
		stop = fn(w->s, &r, arg);
	}
	w->nrows = 0;
	return stop;
}

/* Slab b's streams in stream order, hence patient order, into w->order (a
 * bitmap of them): the patients' memory is then read forwards instead of
 * where the bucket's order jumps (bench W1: a cache miss for each group's
 * patient was a fifth of the walk).  Returns how many. */
static uint32_t slab_streams(struct walk *w, uint32_t b)
{
	struct bucket *bk = &w->bucket[b];
	uint32_t i, n = 0;
	size_t k;

	for (i = 0; i < bk->n; i++)
		w->mark[bk->v[i] / 64] |= (uint64_t)1 << (bk->v[i] % 64);
	free(bk->v);                   /* read once: its streams move on to later slabs */
	bk->v = NULL;
	bk->n = bk->cap = 0;
	for (k = 0; k <= w->nst / 64; k++)
		for (; w->mark[k]; w->mark[k] &= w->mark[k] - 1)
			w->order[n++] = (uint32_t)(k * 64) + (uint32_t)__builtin_ctzll(w->mark[k]);
	return n;
}

/* Asks for what the streams a few places after the j-th of the slab will
 * read, each step of the chain (the stream, its patient, what the patient
 * points to) AHEAD places before the next (bench W1: with 100,000
 * patients nearly every one of those loads missed the cache, and the walk
 * waited for each in turn). */
static void slab_prefetch(const struct walk *w, uint32_t j, uint32_t n)
{
	int stage;

	if (j + 4 * AHEAD < n) {
		uint32_t x = w->order[j + 4 * AHEAD];
		__builtin_prefetch(&w->st[x]);
		__builtin_prefetch(&w->series[x]);
		__builtin_prefetch(&w->has_series[x]);
	}
	for (stage = 0; stage < 3; stage++)
		if (j + (uint32_t)(3 - stage) * AHEAD < n)
			cal_prefetch(w->s, &w->st[w->order[j + (uint32_t)(3 - stage) * AHEAD]], stage);
}

void agenda_walk(const struct snapshot *s, int64_t from, int64_t to, int64_t patient,
    agenda_fn fn, void *arg)
{
	struct walk w;
	uint32_t p, i, n = 0, b;
	uint16_t c;
	int stop = 0;

	if (to <= from)
		return;
	memset(&w, 0, sizeof w);
	w.s = s;
	w.from = from;
	w.to = to;
	for (c = 0; c < s->nchannels; c++)
		w.chrank[s->channel_order[c]] = c;
	/* slabs: SLAB_SECS wide, wider when the window would need too many */
	w.width = SLAB_SECS;
	if ((uint64_t)to - (uint64_t)from > (uint64_t)SLAB_SECS * SLABS_MAX)
		w.width = (int64_t)(((uint64_t)to - (uint64_t)from) / SLABS_MAX + 1);
	w.nslabs = (uint32_t)(((uint64_t)to - (uint64_t)from - 1) / (uint64_t)w.width + 1);
	for (p = 0; p < s->npatients; p++)
		if (patient < 0 || (int64_t)p == patient)
			n += cal_streams(s, p, NULL);
	w.st = huge_allocarray(n, sizeof *w.st);
	w.series = huge_allocarray(n, sizeof *w.series);
	w.has_series = xcalloc(n ? n : 1, 1);
	w.bucket = xcalloc(w.nslabs, sizeof *w.bucket);
	for (p = 0; p < s->npatients; p++)
		if (patient < 0 || (int64_t)p == patient)
			w.nst += cal_streams(s, p, w.st + w.nst);
	for (i = 0; i < w.nst; i++) {
		cal_seek(s, &w.st[i], from);
		if (w.st[i].due < to)
			bucket_push(&w, i);
	}
	w.mark = xcalloc(w.nst / 64 + 1, sizeof *w.mark);
	w.order = xreallocarray(NULL, w.nst ? w.nst : 1, sizeof *w.order);
	for (b = 0; b < w.nslabs && !stop; b++) {
		int64_t end = from + (int64_t)(b + 1) * w.width;
		uint32_t j, ns = slab_streams(&w, b);

		for (j = 0; j < ns; j++) {
			uint32_t x = w.order[j];
			struct stream *st = &w.st[x];
			slab_prefetch(&w, j, ns);
			do {                   /* every group of this stream in the slab */
				slab_add(&w, x);
				cal_next(s, st);
			} while (st->due < end && st->due < to);
			if (st->due < to)
				bucket_push(&w, x);
		}
		stop = slab_flush(&w, end - w.width, fn, arg);
	}
	free(w.mark);
	free(w.order);
	free(w.st);
	free(w.series);
	free(w.has_series);
	for (b = 0; b < w.nslabs; b++)     /* those of slabs a stop left unread */
		free(w.bucket[b].v);
	free(w.bucket);
	free(w.rows);
	free(w.keys);
	free(w.spread);
}

/* What consecutive rows share, formatted once (bench W1: 1.7M rows, the
 * JSON of their strings and instants was half of the walk).  Rows come in
 * order of due, so the due (and often the event) is the previous row's;
 * lead, channel, template and kind texts are a handful of interned
 * strings, kept by address: the snapshot does not change during a walk. */
#define JSON_SLOTS 64
#define LOCAL_SLOTS 8

struct json_cache {
	int64_t due, event;
	const struct tz *local_tz[LOCAL_SLOTS];
	int64_t local_t[LOCAL_SLOTS];
	char due_s[FMT_UTC_LEN + 1], event_s[FMT_UTC_LEN + 1];
	char local_s[LOCAL_SLOTS][FMT_LOCAL_LEN + 1];
	struct json_strs {
		const char *key[JSON_SLOTS];   /* a string's address */
		struct sbuf json[JSON_SLOTS];  /* and its JSON */
	} lead, chan, tmpl;            /* one table each: a row holds one of each at once */
	bool have_due, have_event;
};

static void json_cache_free(struct json_cache *c)
{
	size_t i;

	for (i = 0; i < JSON_SLOTS; i++) {
		sbuf_free(&c->lead.json[i]);
		sbuf_free(&c->chan.json[i]);
		sbuf_free(&c->tmpl.json[i]);
	}
}

/* The writer of one row: the buffer is reserved for the longest row
 * first, then each piece is a copy (bench W1: a reserve and a strlen for
 * each of a row's dozen pieces was a fifth of the walk). */
static char *put(char *w, const char *s, size_t n)
{
	memcpy(w, s, n);
	return w + n;
}

#define PUT_LIT(w, lit) put((w), (lit), sizeof(lit) - 1)

/* The patient's id as a JSON string at w: copied as it is checked when it
 * needs no escape and fits in PATIENT_ROOM (ids are short), else through
 * sbuf_json_str, after which the row's `room` is reserved again.  Returns
 * where the row goes on. */
#define PATIENT_ROOM 256
static char *patient_json(struct sbuf *b, char *w, const char *id, size_t room)
{
	const unsigned char *p = (const unsigned char *)id;
	char *start = w, *stop = w + PATIENT_ROOM - 2;

	*w++ = '"';
	while (*p >= 0x20 && *p != '"' && *p != '\\' && w < stop)
		*w++ = (char)*p++;
	if (!*p) {
		*w++ = '"';
		return w;
	}
	b->len = (size_t)(start - b->s);
	sbuf_json_str(b, id);                  /* may move the buffer */
	sbuf_reserve(b, room);
	return b->s + b->len;
}

static const struct sbuf *json_str(struct json_strs *c, const char *v)
{
	size_t k = ((uintptr_t)v >> 3) % JSON_SLOTS;

	if (c->key[k] != v) {
		sbuf_reset(&c->json[k]);
		sbuf_json_str(&c->json[k], v);
		c->key[k] = v;
	}
	return &c->json[k];
}

static const char *utc(int64_t t, int64_t *have_t, bool *have, char *str)
{
	if (!*have || *have_t != t) {
		fmt_utc(t, str);
		*have_t = t;
		*have = true;
	}
	return str;
}

static const char *local(struct json_cache *c, int64_t t, const struct tz *z)
{
	size_t k = ((uintptr_t)z >> 4) % LOCAL_SLOTS;

	if (c->local_tz[k] != z || c->local_t[k] != t) {
		fmt_local(t, z, c->local_s[k]);
		c->local_tz[k] = z;
		c->local_t[k] = t;
	}
	return c->local_s[k];
}

static void row_json(const struct snapshot *s, const struct agenda_row *r, const char *status,
    const struct agenda_live *live, struct json_cache *c, struct sbuf *b)
{
	const struct occ *o = r->o;
	const struct sbuf *lead = json_str(&c->lead, o->lead);
	const struct sbuf *chan = json_str(&c->chan, s->channels[r->ch].name);
	const struct sbuf *tmpl = json_str(&c->tmpl, o->tmpl >= 0 ? s->templates[o->tmpl].name : "");
	const char *st = status ? status : status_names[r->status], *kind = kind_names[o->kind];
	size_t nst = strlen(st), nkind = strlen(kind);
	/* the fixed text and instants (under 256 bytes), an id of up to
	 * PATIENT_ROOM, and the variable texts */
	size_t most = 256 + PATIENT_ROOM + lead->len + chan->len + tmpl->len + nst + nkind;
	char *w;

	sbuf_reserve(b, most);
	w = b->s + b->len;
	w = PUT_LIT(w, "{\"id\":\"");
	ident_hex(r->id, w);
	w += IDENT_HEX_LEN;
	w = PUT_LIT(w, "\",\"due\":\"");
	w = put(w, utc(o->due, &c->due, &c->have_due, c->due_s), FMT_UTC_LEN);
	w = PUT_LIT(w, "\",\"due_local\":\"");
	w = put(w, local(c, o->due, o->patient->tz), FMT_LOCAL_LEN);
	w = PUT_LIT(w, "\",\"patient\":");
	w = patient_json(b, w, o->patient->id, most);
	w = PUT_LIT(w, ",\"kind\":\"");
	w = put(w, kind, nkind);
	w = PUT_LIT(w, "\",\"event\":\"");
	if (o->event == o->due)
		w = put(w, c->due_s, FMT_UTC_LEN);
	else
		w = put(w, utc(o->event, &c->event, &c->have_event, c->event_s), FMT_UTC_LEN);
	w = PUT_LIT(w, "\",\"lead\":");
	w = put(w, lead->s, lead->len);
	w = PUT_LIT(w, ",\"channel\":");
	w = put(w, chan->s, chan->len);
	w = PUT_LIT(w, ",\"template\":");
	w = put(w, tmpl->s, tmpl->len);
	w = PUT_LIT(w, ",\"status\":\"");
	w = put(w, st, nst);
	*w++ = '"';
	*w = '\0';
	b->len = (size_t)(w - b->s);
	if (live && live->receipt)
		sbuf_printf(b, ",\"receipt\":\"%s\"", live->receipt);
	if (live && live->reply)
		sbuf_printf(b, ",\"reply\":\"%s\"", live->reply);
	sbuf_addc(b, '}');
}

void agenda_row_json(const struct snapshot *s, const struct agenda_row *r, const char *status,
    const struct agenda_live *live, struct sbuf *b)
{
	struct json_cache c;

	memset(&c, 0, sizeof c);
	row_json(s, r, status, live, &c, b);
	json_cache_free(&c);
}

/* ---- printing --------------------------------------------------------- */

/* The table streams like the JSON lines: its columns are as wide as the
 * longest value the configuration could put in them (patient ids, leads,
 * channel and template names), known before the first row, so no row is
 * held back (a window of months would otherwise sit in memory whole). */
struct printer {
	FILE *f;
	struct sbuf buf;
	int err;
	size_t rows;
	enum agenda_format format;
	bool text;                     /* AGENDA_TEXT: the TEXT column, "text" and "subject" */
	int cols;                      /* TABLE_COLS, less TEXT without --text */
	struct rendered r;
	agenda_status_fn status;
	void *status_arg;
	size_t width[10];
	struct json_cache json;
};

#define TABLE_COLS 10
enum { COL_DUE, COL_PATIENT, COL_KIND, COL_EVENT, COL_LEAD, COL_CHANNEL, COL_TEMPLATE, COL_STATUS };
static const char *const table_head[TABLE_COLS] = {
	"DUE (patient's time)", "PATIENT", "KIND", "EVENT (patient's time)", "LEAD", "CHANNEL",
	"TEMPLATE", "STATUS", "ID", "TEXT (patient's language)"
};
/* "2026-11-29 19:00 -07:00": the patient's wall clock and its offset */
#define LOCAL_CELL_LEN 23
/* the longest status the daemon shows ("skipped:quiet-hours"); a longer
 * one only pushes that row's id to the right */
#define STATUS_LEN 19

static void widen(size_t *w, const char *text)
{
	size_t n = strlen(text);

	if (n > *w)
		*w = n;
}

static void widen_rules(size_t *w, const struct rules *r)
{
	uint16_t i;

	for (i = 0; i < r->n; i++)
		widen(w, *r->v[i].before_text ? r->v[i].before_text : "-");
}

static void table_widths(const struct snapshot *s, int64_t patient, size_t *w)
{
	uint32_t p;
	uint16_t i, k;

	for (i = 0; i < TABLE_COLS; i++)
		w[i] = strlen(table_head[i]);
	widen(&w[COL_DUE], "2026-11-29 19:00 -07:00");
	widen(&w[COL_EVENT], "2026-11-29 19:00 -07:00");
	for (k = 0; k < KIND_COUNT; k++)
		widen(&w[COL_KIND], kind_names[k]);
	widen(&w[COL_LEAD], "-");
	for (i = 0; i < s->nprograms; i++) {
		widen_rules(&w[COL_LEAD], &s->programs[i].rules);
		for (k = 0; k < s->programs[i].nsessions; k++)
			widen_rules(&w[COL_LEAD], &s->programs[i].sessions[k].rules);
	}
	for (p = 0; p < s->npatients; p++) {
		if (patient >= 0 && (int64_t)p != patient)
			continue;
		widen(&w[COL_PATIENT], s->patients[p].id);
		for (k = 0; k < s->patients[p].nappts; k++)
			widen_rules(&w[COL_LEAD], &s->patients[p].appts[k].rules);
	}
	for (i = 0; i < s->nchannels; i++)
		widen(&w[COL_CHANNEL], s->channels[i].name);
	widen(&w[COL_TEMPLATE], "-");
	for (i = 0; i < s->ntemplates; i++)
		widen(&w[COL_TEMPLATE], s->templates[i].name);
	if (w[COL_STATUS] < STATUS_LEN)
		w[COL_STATUS] = STATUS_LEN;
	w[COL_STATUS + 1] = IDENT_HEX_LEN;     /* ID; TEXT, when shown, is last */
}

/* The rows go out a quarter of a MiB at a time: at 64 KiB, 1.7M rows (bench
 * W1) took 12,300 write(2)s (stdio writes the 4 KiB that do not fill its
 * own block apart), 6% of the command where a system call traps to the
 * hypervisor; at 256 KiB, 3,100, and the buffer still fits in the cpu's
 * own cache. */
#define FLUSH_ABOVE ((size_t)1 << 18)

static void flush_buf(struct printer *p, size_t above)
{
	if (p->buf.len > above) {
		if (fwrite(p->buf.s, 1, p->buf.len, p->f) != p->buf.len)
			p->err = 1;
		sbuf_reset(&p->buf);
	}
}

static void table_cell(struct printer *p, int col, const char *text)
{
	if (col + 1 == p->cols)
		sbuf_printf(&p->buf, "%s\n", text);
	else
		sbuf_printf(&p->buf, "%-*s  ", (int)p->width[col], text);
}

/* "2026-11-29 19:00 -07:00": the patient's wall clock and its offset. */
static void local_cell(struct printer *p, int col, int64_t t, const struct tz *z)
{
	char b[FMT_LOCAL_LEN + 1], cell[32];

	fmt_local(t, z, b);
	snprintf(cell, sizeof cell, "%.10s %.5s %.6s", b, b + 11, b + 19);
	table_cell(p, col, cell);
}

static void table_row(struct printer *p, const struct snapshot *s, const struct agenda_row *r,
    const char *st, const struct agenda_live *live)
{
	char id[IDENT_HEX_LEN + 1], cell[128];

	local_cell(p, COL_DUE, r->o->due, r->o->patient->tz);
	table_cell(p, COL_PATIENT, r->o->patient->id);
	table_cell(p, COL_KIND, kind_names[r->o->kind]);
	local_cell(p, COL_EVENT, r->o->event, r->o->patient->tz);
	table_cell(p, COL_LEAD, *r->o->lead ? r->o->lead : "-");
	table_cell(p, COL_CHANNEL, s->channels[r->ch].name);
	table_cell(p, COL_TEMPLATE, r->o->tmpl >= 0 ? s->templates[r->o->tmpl].name : "-");
	/* "sent (delivered, confirm)": the receipt and what the patient said */
	snprintf(cell, sizeof cell, "%s%s%s%s%s%s", st ? st : status_names[r->status],
	    live->receipt || live->reply ? " (" : "", live->receipt ? live->receipt : "",
	    live->receipt && live->reply ? ", " : "", live->reply ? live->reply : "",
	    live->receipt || live->reply ? ")" : "");
	table_cell(p, COL_STATUS, cell);
	ident_hex(r->id, id);
	table_cell(p, COL_STATUS + 1, id);
}

/* ,"text":"...","subject":"..." before the row's closing brace: what the
 * patient reads (null for a module that sends no text, the webhook). */
static void json_texts(struct printer *p, enum render_form form)
{
	p->buf.len--;                          /* the '}' */
	sbuf_adds(&p->buf, ",\"text\":");
	if (form == RENDER_NONE)
		sbuf_adds(&p->buf, "null");
	else
		sbuf_json_str(&p->buf, form == RENDER_EMAIL ? p->r.body.s : p->r.text.s);
	if (form == RENDER_EMAIL) {
		sbuf_adds(&p->buf, ",\"subject\":");
		sbuf_json_str(&p->buf, p->r.subject.s);
	}
	sbuf_addc(&p->buf, '}');
}

/* The table's TEXT cell: one line ("[subject] body" for an e-mail), its
 * line breaks and runs of blanks folded into single spaces. */
static void text_cell(struct printer *p, enum render_form form)
{
	struct sbuf b = {0};
	size_t i, k = 0;

	if (form == RENDER_NONE)
		sbuf_adds(&b, "-");
	else if (form == RENDER_EMAIL)
		sbuf_printf(&b, "[%s] %s", p->r.subject.s, p->r.body.s);
	else
		sbuf_adds(&b, p->r.text.s);
	for (i = 0; i < b.len; i++) {
		bool blank = b.s[i] == ' ' || b.s[i] == '\n' || b.s[i] == '\r' || b.s[i] == '\t';
		if (!blank)
			b.s[k++] = b.s[i];
		else if (k && b.s[k - 1] != ' ')
			b.s[k++] = ' ';
	}
	while (k && b.s[k - 1] == ' ')
		k--;
	b.s[k] = '\0';
	table_cell(p, COL_STATUS + 2, b.s);
	sbuf_free(&b);
}

static int print_row(const struct snapshot *s, const struct agenda_row *r, void *arg)
{
	struct printer *p = arg;
	char stbuf[64];
	struct agenda_live live = {NULL, NULL};
	const char *st = p->status ? p->status(s, r, stbuf, sizeof stbuf, &live, p->status_arg) : NULL;
	enum render_form form = p->text ? render_occ(s, r->o, r->ch, &p->r) : RENDER_NONE;

	if (p->format == AGENDA_JSONL) {
		row_json(s, r, st, &live, &p->json, &p->buf);
		if (p->text)
			json_texts(p, form);
		sbuf_addc(&p->buf, '\n');
	} else {
		table_row(p, s, r, st, &live);
		if (p->text)
			text_cell(p, form);
	}
	p->rows++;
	flush_buf(p, FLUSH_ABOVE);
	return p->err;
}

int agenda_print(const struct snapshot *s, int64_t from, int64_t to, int64_t patient,
    int format, FILE *f, agenda_status_fn status, void *arg)
{
	struct printer p;
	int c;

	memset(&p, 0, sizeof p);
	p.f = f;
	p.format = (enum agenda_format)(format & ~AGENDA_TEXT);
	p.text = (format & AGENDA_TEXT) != 0;
	p.cols = p.text ? TABLE_COLS : TABLE_COLS - 1;
	p.status = status;
	p.status_arg = arg;
	if (p.format == AGENDA_TABLE) {
		table_widths(s, patient, p.width);
		for (c = 0; c < p.cols; c++)
			table_cell(&p, c, table_head[c]);
	}
	agenda_walk(s, from, to, patient, print_row, &p);
	if (p.format == AGENDA_TABLE && !p.rows && !p.err)
		sbuf_adds(&p.buf, "(no reminders in this window)\n");
	flush_buf(&p, 0);
	sbuf_free(&p.buf);
	json_cache_free(&p.json);
	rendered_free(&p.r);
	if (fflush(f) != 0)
		p.err = 1;
	return p.err ? -1 : 0;
}
