/* fuzz_conf.c - whole configuration files, as `iopd -t` and the daemon
 * read them: the @include expander, libconfig, every block's parser, the
 * plugins' own checks of their channels, secrets and file modes
 * (conf_load as `iopd -t` and the daemon call it), and, when the calendar
 * alone is valid (as `iopd agenda` reads it), that calendar over two
 * weeks, rendered.
 *
 * The input is written to iopd.conf in a scratch folder that holds a copy
 * of tests/fuzz/conf.d (include files and secrets, all mode 0600), so a
 * corpus file may @include "patients/clinic.conf" or name
 * token_file = "secrets/twilio" as the shipped configuration does, and a
 * FIFO, fifo.inc, that nothing writes to (an @include of it must be
 * refused, not wait for a writer).
 * Invariants checked: a valid configuration's agenda is in order and
 * inside its window; an invalid one has at least one FILE:LINE error; a
 * file the daemon accepts, `iopd agenda` accepts too.  With
 * IOPD_FUZZ_VERBOSE set, it prints what each input came to. */
#include "config.h"

#include "fuzz.h"

#include "agenda.h"
#include "civil.h"
#include "conf.h"
#include "log.h"
#include "render.h"
#include "tz.h"

#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

#define FUZZ_MAX_ROWS 20000            /* a window's rows, at most: keep each run short */
#define FUZZ_RENDERED 64               /* rows rendered through their templates */

static char *conf_path;
static bool verbose;                   /* IOPD_FUZZ_VERBOSE: say what each input came to */

static int copy_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *from = getenv("IOPD_FUZZ_CONF_D");
	char dst[PATH_MAX], *text;
	size_t skip = strlen(from ? from : FUZZ_SRCDIR "/tests/fuzz/conf.d");
	FILE *f;
	long n;

	(void)ftw;
	snprintf(dst, sizeof dst, "%s%s", fuzz_scratch(), path + skip);
	if (flag == FTW_D)
		return mkdir(dst, 0700) < 0 && errno != EEXIST ? -1 : 0;
	if (flag != FTW_F || !(f = fopen(path, "rb")))
		return -1;
	n = st->st_size;
	text = malloc((size_t)n + 1);
	if (!text || fread(text, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	fuzz_write(dst, text, (size_t)n, 0600);
	free(text);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *from = getenv("IOPD_FUZZ_CONF_D");
	char *creds;

	(void)argc;
	(void)argv;
	verbose = getenv("IOPD_FUZZ_VERBOSE") != NULL;
	log_init(verbose ? LOG_LVL_DEBUG : 0);   /* else nothing: libFuzzer's lines only */
	if (nftw(from ? from : FUZZ_SRCDIR "/tests/fuzz/conf.d", copy_one, 16, FTW_PHYS) != 0) {
		fprintf(stderr, "fuzz_conf: cannot copy %s (set IOPD_FUZZ_CONF_D)\n",
		    from ? from : FUZZ_SRCDIR "/tests/fuzz/conf.d");
		exit(1);
	}
	creds = malloc(strlen(fuzz_scratch()) + 10);
	sprintf(creds, "%s/fifo.inc", fuzz_scratch());
	if (mkfifo(creds, 0600) < 0) {
		perror("fuzz_conf: fifo.inc");
		exit(1);
	}
	free(creds);
	/* token_credential = "NAME" reads $CREDENTIALS_DIRECTORY/NAME */
	creds = malloc(strlen(fuzz_scratch()) + 10);
	sprintf(creds, "%s/secrets", fuzz_scratch());
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	free(creds);
	unsetenv("STATE_DIRECTORY");
	unsetenv("RUNTIME_DIRECTORY");
	conf_path = malloc(strlen(fuzz_scratch()) + 12);
	sprintf(conf_path, "%s/iopd.conf", fuzz_scratch());
	return 0;
}

struct walk_state {
	int64_t from, to, last_due;
	long rows;
	struct sbuf line;
};

static int check_row(const struct snapshot *s, const struct agenda_row *r, void *arg)
{
	struct walk_state *w = arg;

	FUZZ_CHECK(r->o->due >= w->from && r->o->due < w->to);
	FUZZ_CHECK(r->o->due >= w->last_due);
	FUZZ_CHECK(r->ch < s->nchannels);
	w->last_due = r->o->due;
	sbuf_reset(&w->line);
	agenda_row_json(s, r, NULL, NULL, &w->line);
	if (w->rows < FUZZ_RENDERED && r->o->tmpl >= 0) {
		struct render_in in = {r->o->patient, &s->templates[r->o->tmpl], r->o->event,
		    r->o->location, r->o->label};
		struct rendered out = {0};
		render(s, &in, &out);
		rendered_free(&out);
	}
	return ++w->rows >= FUZZ_MAX_ROWS;
}

static void walk(const struct snapshot *s, int64_t from)
{
	struct walk_state w = {from, from + 14 * DAY_SECS, INT64_MIN, 0, {0}};

	agenda_walk(s, w.from, w.to, -1, check_row, &w);
	sbuf_free(&w.line);
}

/* One mode's reading; the snapshot if the configuration is valid. */
static struct snapshot *load(enum conf_mode mode)
{
	struct errs e = {0};
	struct snapshot *s = conf_load(conf_path, mode, &e);

	FUZZ_CHECK(s ? e.count == 0 : e.count > 0 && e.text.len > 0);
	if (verbose) {
		printf("%s: %s\n", mode == CONF_FULL ? "full" : "calendar", s ? "valid" : "invalid");
		errs_print(&e, stdout);
	}
	errs_free(&e);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot *cal, *full;
	bool cal_ok;

	fuzz_write(conf_path, data, size, 0600);
	/* `iopd agenda`: the calendar only */
	if ((cal_ok = (cal = load(CONF_CALENDAR)) != NULL)) {
		/* the week of the SPEC's examples, and the first enrollment */
		walk(cal, wall_make(civil_to_days(2026, 11, 30), 0));
		if (cal->npatients)
			walk(cal, wall_make(cal->patients[0].start, 0) - DAY_SECS);
		snapshot_unref(cal);
	}
	/* `iopd -t` and the daemon: plugins, secrets, file modes as well,
	 * so never valid where the calendar alone is not */
	if ((full = load(CONF_FULL))) {
		FUZZ_CHECK(cal_ok);
		snapshot_unref(full);
	}
	return 0;
}
