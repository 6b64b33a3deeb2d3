/* agenda.c - see agenda.h */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agenda.h"
#include "ident.h"
#include "sheap.h"
#include "timefmt.h"

/* Rows of one (due, patient) batch: their channels interleave across
 * streams, so they are sorted by (channel, id) before they go out. */
struct batch_row {
	struct occ o;
	uint64_t id;
	uint16_t ch, chrank;
	enum status status;
};

struct walk {
	const struct snapshot *s;
	struct stream *st;
	uint32_t nst;
	struct sheap heap;
	struct batch_row *rows;
	size_t nrows, caprows;
	uint16_t chrank[SNAP_MAX_CHANNELS];
};

static int cmp_row(const void *a, const void *b)
{
	const struct batch_row *x = a, *y = b;

	if (x->chrank != y->chrank)
		return x->chrank < y->chrank ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

static void add_streams(struct walk *w, uint32_t p, int64_t from, int64_t to)
{
	uint32_t n = cal_streams(w->s, p, NULL), i;

	w->st = xreallocarray(w->st, w->nst + n, sizeof *w->st);
	cal_streams(w->s, p, w->st + w->nst);
	for (i = w->nst; i < w->nst + n; i++) {
		cal_seek(w->s, &w->st[i], from);
		if (w->st[i].due < to)
			sheap_append(&w->heap, w->st[i].due, w->s->patients[p].rank, i);
	}
	w->nst += n;
}

static void batch_add(struct walk *w, const struct stream *st)
{
	struct occ o;
	uint8_t i;

	cal_occ(w->s, st, &o);
	for (i = 0; i < o.rule->nchan; i++) {
		struct batch_row *r;
		grow_array(&w->rows, &w->caprows, w->nrows + 1, sizeof *w->rows);
		r = &w->rows[w->nrows++];
		r->o = o;
		r->ch = o.rule->chan[i];
		r->chrank = w->chrank[r->ch];
		r->id = cal_id(w->s, &o, r->ch);
		r->status = cal_status(w->s, &o, r->ch);
	}
}

static int batch_flush(struct walk *w, agenda_fn fn, void *arg)
{
	size_t i;
	int stop = 0;

	if (w->nrows > 1)
		qsort(w->rows, w->nrows, sizeof *w->rows, cmp_row);
	for (i = 0; i < w->nrows && !stop; i++) {
		struct agenda_row r = {&w->rows[i].o, w->rows[i].id, w->rows[i].ch, w->rows[i].status};
		stop = fn(w->s, &r, arg);
	}
	w->nrows = 0;
	return stop;
}

void agenda_walk(const struct snapshot *s, int64_t from, int64_t to, int64_t patient,
    agenda_fn fn, void *arg)
{
	struct walk w;
	uint32_t p;
	uint16_t i;
	int stop = 0;

	memset(&w, 0, sizeof w);
	w.s = s;
	for (i = 0; i < s->nchannels; i++)
		w.chrank[s->channel_order[i]] = i;
	for (p = 0; p < s->npatients; p++)
		if (patient < 0 || (int64_t)p == patient)
			add_streams(&w, p, from, to);
	sheap_heapify(&w.heap);
	while (w.heap.n && !stop) {
		int64_t due = sheap_top(&w.heap)->due;
		uint32_t rank = sheap_top(&w.heap)->rank;

		while (w.heap.n && sheap_top(&w.heap)->due == due && sheap_top(&w.heap)->rank == rank) {
			struct stream *st = &w.st[sheap_top(&w.heap)->idx];
			batch_add(&w, st);
			cal_next(s, st);
			if (st->due < to)
				sheap_replace_top(&w.heap, st->due, rank);
			else
				sheap_pop(&w.heap);
		}
		stop = batch_flush(&w, fn, arg);
	}
	sheap_free(&w.heap);
	free(w.st);
	free(w.rows);
}

void agenda_row_json(const struct snapshot *s, const struct agenda_row *r, const char *status,
    struct sbuf *b)
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
	sbuf_add(b, "\"}", 2);
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
	char id[IDENT_HEX_LEN + 1], stbuf[64];
	const char *st = p->status ? p->status(s, r, stbuf, sizeof stbuf, p->status_arg) : NULL;

	if (p->format == AGENDA_JSONL) {
		agenda_row_json(s, r, st, &p->buf);
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
	add_cell(p, st ? st : status_names[r->status]);
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
