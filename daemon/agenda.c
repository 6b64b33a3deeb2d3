/* agenda.c - see agenda.h */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agenda.h"
#include "ident.h"
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
#define NONE UINT32_MAX

struct walk {
	const struct snapshot *s;
	struct stream *st;
	uint32_t nst;
	uint32_t *next;                /* per stream: the next stream of its bucket */
	uint32_t *bucket;              /* per slab: its first stream, or NONE */
	uint64_t *series;              /* per stream: cached series hash of its first channel */
	uint8_t *has_series;
	int64_t from, to, width;
	uint32_t nslabs;
	struct batch_row *rows;
	struct row_key *keys;
	size_t nrows, caprows, capkeys;
	uint16_t chrank[SNAP_MAX_CHANNELS];
};

static int cmp_key(const void *a, const void *b)
{
	const struct row_key *x = a, *y = b;

	if (x->due != y->due)
		return x->due < y->due ? -1 : 1;
	if (x->rank_ch != y->rank_ch)
		return x->rank_ch < y->rank_ch ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

static uint32_t slab_of(const struct walk *w, int64_t due)
{
	return (uint32_t)((due - w->from) / w->width);
}

static void bucket_push(struct walk *w, uint32_t i)
{
	uint32_t b = slab_of(w, w->st[i].due);

	w->next[i] = w->bucket[b];
	w->bucket[b] = i;
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
	for (k = 0; k < o.rule->nchan; k++) {
		struct batch_row *r;
		struct row_key *key;
		grow_array(&w->rows, &w->caprows, w->nrows + 1, sizeof *w->rows);
		grow_array(&w->keys, &w->capkeys, w->nrows + 1, sizeof *w->keys);
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

static int slab_flush(struct walk *w, agenda_fn fn, void *arg)
{
	size_t i;
	int stop = 0;

	if (w->nrows > 1)
		qsort(w->keys, w->nrows, sizeof *w->keys, cmp_key);
	for (i = 0; i < w->nrows && !stop; i++) {
		const struct batch_row *b = &w->rows[w->keys[i].row];
		struct agenda_row r = {&b->o, b->id, b->ch, b->status};
		stop = fn(w->s, &r, arg);
	}
	w->nrows = 0;
	return stop;
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
	w.st = xreallocarray(NULL, n ? n : 1, sizeof *w.st);
	w.next = xreallocarray(NULL, n ? n : 1, sizeof *w.next);
	w.series = xreallocarray(NULL, n ? n : 1, sizeof *w.series);
	w.has_series = xcalloc(n ? n : 1, 1);
	w.bucket = xreallocarray(NULL, w.nslabs, sizeof *w.bucket);
	for (b = 0; b < w.nslabs; b++)
		w.bucket[b] = NONE;
	for (p = 0; p < s->npatients; p++)
		if (patient < 0 || (int64_t)p == patient)
			w.nst += cal_streams(s, p, w.st + w.nst);
	/* in reverse, so each bucket lists its streams in stream order */
	for (i = w.nst; i-- > 0;) {
		cal_seek(s, &w.st[i], from);
		if (w.st[i].due < to)
			bucket_push(&w, i);
	}
	for (b = 0; b < w.nslabs && !stop; b++) {
		int64_t end = from + (int64_t)(b + 1) * w.width;
		uint32_t list = w.bucket[b];

		w.bucket[b] = NONE;
		while (list != NONE) {
			struct stream *st = &w.st[list];
			uint32_t next = w.next[list];
			do {                   /* every group of this stream in the slab */
				slab_add(&w, list);
				cal_next(s, st);
			} while (st->due < end && st->due < to);
			if (st->due < to)
				bucket_push(&w, list);
			list = next;
		}
		stop = slab_flush(&w, fn, arg);
	}
	free(w.st);
	free(w.next);
	free(w.series);
	free(w.has_series);
	free(w.bucket);
	free(w.rows);
	free(w.keys);
}

void agenda_row_json(const struct snapshot *s, const struct agenda_row *r, const char *status,
    const struct agenda_live *live, struct sbuf *b)
{
	const struct occ *o = r->o;
	char buf[FMT_LOCAL_LEN + 1], id[IDENT_HEX_LEN + 1];

	ident_hex(r->id, id);
	sbuf_reserve(b, 256);
	sbuf_add(b, "{\"id\":\"", 7);
	sbuf_add(b, id, IDENT_HEX_LEN);
	sbuf_add(b, "\",\"due\":\"", 9);
	sbuf_add(b, buf, fmt_utc(o->due, buf));
	sbuf_add(b, "\",\"due_local\":\"", 15);
	sbuf_add(b, buf, fmt_local(o->due, o->patient->tz, buf));
	sbuf_add(b, "\",\"patient\":", 12);
	sbuf_json_str(b, o->patient->id);
	sbuf_add(b, ",\"kind\":\"", 9);
	sbuf_adds(b, kind_names[o->kind]);
	sbuf_add(b, "\",\"event\":\"", 11);
	sbuf_add(b, buf, fmt_utc(o->event, buf));
	sbuf_add(b, "\",\"lead\":", 9);
	sbuf_json_str(b, o->lead);
	sbuf_add(b, ",\"channel\":", 11);
	sbuf_json_str(b, s->channels[r->ch].name);
	sbuf_add(b, ",\"template\":", 12);
	sbuf_json_str(b, o->tmpl >= 0 ? s->templates[o->tmpl].name : "");
	sbuf_add(b, ",\"status\":\"", 11);
	sbuf_adds(b, status ? status : status_names[r->status]);
	sbuf_addc(b, '"');
	if (live && live->receipt)
		sbuf_printf(b, ",\"receipt\":\"%s\"", live->receipt);
	if (live && live->reply)
		sbuf_printf(b, ",\"reply\":\"%s\"", live->reply);
	sbuf_addc(b, '}');
}

/* ---- printing --------------------------------------------------------- */

struct printer {
	FILE *f;
	struct sbuf buf;
	int err;
	/* table mode: every cell, then widths */
	char **cells;
	size_t ncells, capcells;
	enum agenda_format format;
	agenda_status_fn status;
	void *status_arg;
};

#define TABLE_COLS 9
static const char *const table_head[TABLE_COLS] = {
	"DUE (patient's time)", "PATIENT", "KIND", "EVENT (patient's time)", "LEAD", "CHANNEL",
	"TEMPLATE", "STATUS", "ID"
};

static void flush_buf(struct printer *p, size_t above)
{
	if (p->buf.len > above) {
		if (fwrite(p->buf.s, 1, p->buf.len, p->f) != p->buf.len)
			p->err = 1;
		sbuf_reset(&p->buf);
	}
}

static void add_cell(struct printer *p, const char *text)
{
	grow_array(&p->cells, &p->capcells, p->ncells + 1, sizeof *p->cells);
	p->cells[p->ncells++] = xstrdup(text);
}

/* "2026-11-29 19:00 -07:00": the patient's wall clock and its offset. */
static void local_cell(struct printer *p, int64_t t, const struct tz *z)
{
	char b[FMT_LOCAL_LEN + 1], cell[32];

	fmt_local(t, z, b);
	snprintf(cell, sizeof cell, "%.10s %.5s %.6s", b, b + 11, b + 19);
	add_cell(p, cell);
}

static int print_row(const struct snapshot *s, const struct agenda_row *r, void *arg)
{
	struct printer *p = arg;
	char id[IDENT_HEX_LEN + 1], stbuf[64], cell[128];
	struct agenda_live live = {NULL, NULL};
	const char *st = p->status ? p->status(s, r, stbuf, sizeof stbuf, &live, p->status_arg) : NULL;

	if (p->format == AGENDA_JSONL) {
		agenda_row_json(s, r, st, &live, &p->buf);
		sbuf_addc(&p->buf, '\n');
		flush_buf(p, 1 << 16);
		return p->err;
	}
	local_cell(p, r->o->due, r->o->patient->tz);
	add_cell(p, r->o->patient->id);
	add_cell(p, kind_names[r->o->kind]);
	local_cell(p, r->o->event, r->o->patient->tz);
	add_cell(p, *r->o->lead ? r->o->lead : "-");
	add_cell(p, s->channels[r->ch].name);
	add_cell(p, r->o->tmpl >= 0 ? s->templates[r->o->tmpl].name : "-");
	snprintf(cell, sizeof cell, "%s%s%s%s%s%s", st ? st : status_names[r->status],
	    live.receipt || live.reply ? " (" : "", live.receipt ? live.receipt : "",
	    live.receipt && live.reply ? ", " : "", live.reply ? live.reply : "",
	    live.receipt || live.reply ? ")" : "");
	add_cell(p, cell);
	ident_hex(r->id, id);
	add_cell(p, id);
	return 0;
}

static void table_cell(struct sbuf *b, const char *text, size_t width, bool last)
{
	if (last)
		sbuf_printf(b, "%s\n", text);
	else
		sbuf_printf(b, "%-*s  ", (int)width, text);
}

static void print_table(struct printer *p)
{
	size_t w[TABLE_COLS], i, c;

	for (c = 0; c < TABLE_COLS; c++)
		w[c] = strlen(table_head[c]);
	for (i = 0; i < p->ncells; i++)
		if (strlen(p->cells[i]) > w[i % TABLE_COLS])
			w[i % TABLE_COLS] = strlen(p->cells[i]);
	for (c = 0; c < TABLE_COLS; c++)
		table_cell(&p->buf, table_head[c], w[c], c + 1 == TABLE_COLS);
	for (i = 0; i < p->ncells; i++) {
		table_cell(&p->buf, p->cells[i], w[i % TABLE_COLS], i % TABLE_COLS + 1 == TABLE_COLS);
		free(p->cells[i]);
		flush_buf(p, 1 << 16);
	}
	if (!p->ncells)
		sbuf_adds(&p->buf, "(no reminders in this window)\n");
	free(p->cells);
}

int agenda_print(const struct snapshot *s, int64_t from, int64_t to, int64_t patient,
    enum agenda_format format, FILE *f, agenda_status_fn status, void *arg)
{
	struct printer p;

	memset(&p, 0, sizeof p);
	p.f = f;
	p.format = format;
	p.status = status;
	p.status_arg = arg;
	agenda_walk(s, from, to, patient, print_row, &p);
	if (format == AGENDA_TABLE)
		print_table(&p);
	flush_buf(&p, 0);
	sbuf_free(&p.buf);
	if (fflush(f) != 0)
		p.err = 1;
	return p.err ? -1 : 0;
}
