/* main.c - iopd's command line: the daemon, `-t`, `agenda`, `render` and
 * `ledger-copy`. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>

#include "agenda.h"
#include "agenda_ledger.h"
#include "conf.h"
#include "daemon.h"
#include "lang.h"
#include "ledger.h"
#include "log.h"
#include "netmod.h"
#include "plugin_host.h"
#include "preview.h"
#include "suggest.h"
#include "timefmt.h"
#include "tz.h"

static void usage(FILE *f)
{
	fputs("usage: iopd [-f] [-v] [-l LEVEL] [--new-ledger] -c FILE\n"
	      "                                                 run the daemon\n"
	      "       iopd -t -c FILE                          check the configuration\n"
	      "       iopd agenda -c FILE --from T --to T [--patient ID] [--format jsonl|table] [--text]\n"
	      "                   [--no-ledger]                 print the reminders due in [T, T)\n"
	      "                                                 (with the ledger's statuses, if it has one)\n"
	      "       iopd render -c FILE --patient ID [--at T] [--count N]\n"
	      "                                                 a patient's next reminders, as they read\n"
	      "       iopd ledger-copy -c FILE --from LEDGER.db  copy a SQLite ledger into the\n"
	      "                                                 PostgreSQL ledger FILE configures\n"
	      "       iopd -h | --help, iopd -V | --version\n"
	      "  -c, --config FILE     the configuration\n"
	      "  -f, --foreground      stay in the foreground, log to stderr\n"
	      "  -t, --test            check the configuration, print a summary, exit\n"
	      "  -v, --verbose         log at debug level\n"
	      "  -l, --log-level LEVEL err, warning, notice, info or debug\n"
	      "T: 2026-12-01T18:00:00Z, 2026-12-01T18:00:00-05:00, or 2026-12-01 (midnight in\n"
	      "daemon.timezone).  See iopd(8), iopd.conf(5).\n", f);
}

static int check_config(const char *path)
{
	struct errs e = {0};
	struct snapshot *s;

	huge_pages_allow();                    /* a load, then exit (util.c) */
	s = conf_load(path, CONF_FULL, &e);

	errs_print(&e, stderr);
	if (!s) {
		errs_free(&e);
		return 1;
	}
	printf("%s: ok: %u programs, %u patients, %u channels\n", path, s->nprograms, s->npatients,
	    s->nchannels);
	snapshot_unref(s);
	errs_free(&e);
	return 0;
}

/* The options of `agenda` and `render`. */
struct cmd_args {
	const char *config, *from, *to, *patient, *format, *at, *count;
	int text, no_ledger;
};

static int cmd_parse_args(const char *cmd, int argc, char **argv, struct cmd_args *a)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"from", required_argument, NULL, 'F'},
		{"to", required_argument, NULL, 'T'}, {"patient", required_argument, NULL, 'p'},
		{"format", required_argument, NULL, 'o'}, {"text", no_argument, NULL, 'x'},
		{"at", required_argument, NULL, 'a'}, {"count", required_argument, NULL, 'n'},
		{"no-ledger", no_argument, NULL, 'L'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int c;

	memset(a, 0, sizeof *a);
	a->format = "jsonl";
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:F:T:p:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a->config = optarg; break;
		case 'F': a->from = optarg; break;
		case 'T': a->to = optarg; break;
		case 'p': a->patient = optarg; break;
		case 'o': a->format = optarg; break;
		case 'x': a->text = 1; break;
		case 'a': a->at = optarg; break;
		case 'n': a->count = optarg; break;
		case 'L': a->no_ledger = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "iopd %s: unexpected argument \"%s\"\n", cmd, argv[optind]);
		return -1;
	}
	return 0;
}

static int agenda_check_args(const struct cmd_args *a)
{
	if (!a->config || !a->from || !a->to || a->at || a->count) {
		fputs("iopd agenda: needs -c FILE, --from T and --to T (--at and --count are render's)\n",
		    stderr);
		usage(stderr);
		return -1;
	}
	if (strcmp(a->format, "jsonl") && strcmp(a->format, "table")) {
		fprintf(stderr, "iopd agenda: unknown --format \"%s\" (jsonl or table)\n", a->format);
		return -1;
	}
	return 0;
}

static int render_check_args(const struct cmd_args *a, int *count)
{
	char *end;
	long n = a->count ? strtol(a->count, &end, 10) : 5;

	if (!a->config || !a->patient || a->from || a->to || a->text || a->no_ledger) {
		fputs("iopd render: needs -c FILE and --patient ID (and takes --at T, --count N)\n", stderr);
		usage(stderr);
		return -1;
	}
	if (a->count && (*end || n < 1 || n > 1000)) {
		fprintf(stderr, "iopd render: --count \"%s\": give a number from 1 to 1000\n", a->count);
		return -1;
	}
	*count = (int)n;
	return 0;
}

static int parse_when(const char *cmd, const char *what, const char *text, const struct tz *zone,
    int64_t *t)
{
	if (parse_instant(text, zone, t) == 0)
		return 0;
	fprintf(stderr, "iopd %s: %s \"%s\" is not a time: write 2026-12-01T18:00:00Z, "
	    "2026-12-01T18:00:00-05:00 or 2026-12-01\n", cmd, what, text);
	return -1;
}

/* agenda and render: the patients from the daemon's cache when it holds
 * them (snapcache.h); never written here (SPEC 2: the agenda writes
 * nothing). */
static struct snapshot *load_calendar(const char *config)
{
	struct errs e = {0};
	struct conf_cache cc = {.use = true};
	struct snapshot *s;

	huge_pages_allow();                    /* a load, then exit (util.c) */
	s = conf_load_cache(config, CONF_CALENDAR, &e, &cc);

	errs_print(&e, stderr);
	errs_free(&e);
	conf_cache_free(&cc);
	return s;
}

static int64_t find_patient(const char *cmd, const struct snapshot *s, const char *id)
{
	int64_t p = snapshot_patient(s, id);

	if (p < 0)
		fprintf(stderr, "iopd %s: no patient \"%s\" in %s\n", cmd, id, s->config_file);
	return p;
}

/* The ledger of the configuration's state_dir, read only beside a running
 * daemon (ledger_sqlite_peek): what it recorded, and the runtime pauses
 * and opt-outs, over the configuration's statuses.  None (NULL): the
 * configuration alone, as with --no-ledger, printed exactly as then; one
 * that cannot be read is said on stderr and left out. */
static struct agenda_ledger *agenda_ledger_open(const struct snapshot *s, struct ledger **l)
{
	struct agenda_ledger *al = NULL;
	char err[1024];
	const struct netmod *net;
	int rc;

	if (s->ledger != LEDGER_POSTGRESQL)
		rc = ledger_sqlite_peek(s->state_dir, l, err, sizeof err);
	else
		rc = (net = netmod(err, sizeof err)) ? net->ledger_pg_peek(s, l, err, sizeof err) : -1;

	if (rc == 1 && !(al = agenda_ledger_new(*l, false, err, sizeof err))) {
		(*l)->ops->close(*l);
		*l = NULL;
		rc = -1;
	}
	if (rc < 0)
		fprintf(stderr, "iopd agenda: the ledger is left out (%s): the statuses are the "
		    "configuration's alone\n", err);
	return al;
}

/* Says that the statuses are the ledger's too: the table's first line,
 * or (JSON lines stay JSON) a line on stderr. */
static void agenda_ledger_header(const struct snapshot *s, const struct agenda_ledger *al,
    bool table)
{
	char t[FMT_UTC_LEN + 1];
	size_t n = agenda_ledger_overrides(al);

	fmt_utc((int64_t)time(NULL), t);
	char where[512];

	if (s->ledger == LEDGER_POSTGRESQL)
		snprintf(where, sizeof where, "in PostgreSQL");
	else
		snprintf(where, sizeof where, "%s/ledger.db", s->state_dir);
	fprintf(table ? stdout : stderr, "%sstatuses include the ledger %s as of %s: what "
	    "it recorded, and %zu pause%s and opt-out%s in force (--no-ledger: the configuration "
	    "alone)\n", table ? "# " : "iopd agenda: ", where, t, n, n == 1 ? "" : "s",
	    n == 1 ? "" : "s");
}

static int run_agenda(int argc, char **argv)
{
	struct cmd_args a;
	struct snapshot *s;
	struct ledger *l = NULL;
	struct agenda_ledger *al = NULL;
	int64_t from, to, patient = -1;
	int rc = 1, format;

	if (cmd_parse_args("agenda", argc, argv, &a) || agenda_check_args(&a))
		return 1;
	if (!(s = load_calendar(a.config)))
		return 1;
	if (parse_when("agenda", "--from", a.from, s->tz, &from) ||
	    parse_when("agenda", "--to", a.to, s->tz, &to))
		goto out;
	if (a.patient && (patient = find_patient("agenda", s, a.patient)) < 0)
		goto out;
	format = (strcmp(a.format, "table") ? AGENDA_JSONL : AGENDA_TABLE) | (a.text ? AGENDA_TEXT : 0);
	if (!a.no_ledger && (al = agenda_ledger_open(s, &l)))
		agenda_ledger_header(s, al, strcmp(a.format, "table") == 0);
	if (agenda_print(s, from, to, patient, format, stdout, al ? agenda_ledger_status : NULL, al)) {
		perror("iopd agenda: writing the agenda");
		goto out;
	}
	rc = 0;
out:
	agenda_ledger_free(al);
	if (l)
		l->ops->close(l);
	snapshot_unref(s);
	return rc;
}

static int run_render(int argc, char **argv)
{
	struct cmd_args a;
	struct snapshot *s;
	int64_t at = (int64_t)time(NULL), patient;
	int rc = 1, count;

	if (cmd_parse_args("render", argc, argv, &a) || render_check_args(&a, &count))
		return 1;
	if (!(s = load_calendar(a.config)))
		return 1;
	if ((a.at && parse_when("render", "--at", a.at, s->tz, &at)) ||
	    (patient = find_patient("render", s, a.patient)) < 0)
		goto out;
	if (preview_print(s, (uint32_t)patient, at, count, stdout)) {
		perror("iopd render: writing");
		goto out;
	}
	rc = 0;
out:
	snapshot_unref(s);
	return rc;
}

static int daemon_args(int argc, char **argv, struct daemon_opts *o, int *test)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
		{"test", no_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
		{"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'}, {"new-ledger", no_argument, NULL, 'N'},
		{NULL, 0, NULL, 0}
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:ftvl:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'N': o->new_ledger = 1; break;
		case 'c': o->config = optarg; break;
		case 'f': o->foreground = 1; break;
		case 't': *test = 1; break;
		case 'v': o->verbose++; break;
		case 'l':
			if ((o->log_level = log_parse_level(optarg)) < 0) {
				fprintf(stderr, "iopd: unknown log level \"%s\" (err, warning, notice, info, debug)\n", optarg);
				return 1;
			}
			break;
		case 'V': printf("%s\n", PACKAGE_STRING); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 1;
		}
	}
	if (!o->config || optind < argc) {
		static const char *const cmds[] = {"agenda", "render", "ledger-copy"};
		const char *near = optind < argc ? suggest_nearest(argv[optind], cmds, 3) : NULL;
		if (optind < argc)
			fprintf(stderr, "iopd: unknown command \"%s\"%s%s%s (agenda, render; or -c FILE to "
			    "run the daemon)\n", argv[optind], near ? " (did you mean " : "", near ? near : "",
			    near ? "?)" : "");
		else
			fputs("iopd: needs -c FILE\n", stderr);
		usage(stderr);
		return 1;
	}
	return 0;
}

/* Whatever iopd runs as: files it makes (the ledger, its journal) are its
 * own alone, and no core dump or debugger of another user gets the secrets
 * and patient data in its memory (the unit also sets LimitCORE=0). */
static void protect_process(void)
{
	umask(077);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* The network module (netmod.h), which the daemon and ledger-copy run in. */
static const struct netmod *net_or_say(const char *cmd)
{
	char err[1024];
	const struct netmod *net = netmod(err, sizeof err);

	if (!net)
		fprintf(stderr, "iopd%s%s: %s\n", *cmd ? " " : "", cmd, err);
	return net;
}

int main(int argc, char **argv)
{
	struct daemon_opts o = {0};
	const struct netmod *net;
	int test = 0, rc;

	protect_process();
	log_init(LOG_LVL_INFO);
	if (argc > 1 && strcmp(argv[1], "agenda") == 0)
		rc = run_agenda(argc - 1, argv + 1);
	else if (argc > 1 && strcmp(argv[1], "render") == 0)
		rc = run_render(argc - 1, argv + 1);
	else if (argc > 1 && strcmp(argv[1], "ledger-copy") == 0)
		rc = (net = net_or_say(argv[1])) ? net->ledger_copy_main(argc - 1, argv + 1) : 1;
	else if ((rc = daemon_args(argc, argv, &o, &test)) == 0 && test)
		rc = check_config(o.config);
	else if (rc == 0)
		rc = (net = net_or_say("")) ? net->daemon_main(&o) : 1;
	plugin_unload_all();
	lang_cleanup();
	tz_cleanup();
	return rc;
}
