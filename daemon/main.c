/* main.c - iopd's command line: the daemon, `-t` and `agenda`. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "agenda.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "plugin_host.h"
#include "timefmt.h"
#include "tz.h"

static void usage(FILE *f)
{
	fputs("usage: iopd [-f] [-v] [-l LEVEL] [--new-ledger] -c FILE\n"
	      "                                                 run the daemon\n"
	      "       iopd -t -c FILE                          check the configuration\n"
	      "       iopd agenda -c FILE --from T --to T [--patient ID] [--format jsonl|table]\n"
	      "                                                 print the reminders due in [T, T)\n"
	      "T: 2026-12-01T18:00:00Z, 2026-12-01T18:00:00-05:00, or 2026-12-01 (midnight in\n"
	      "daemon.timezone).  See iopd(8), iopd.conf(5).\n", f);
}

static int check_config(const char *path)
{
	struct errs e = {0};
	struct snapshot *s = conf_load(path, CONF_FULL, &e);

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

struct agenda_args {
	const char *config, *from, *to, *patient, *format;
};

static int agenda_parse_args(int argc, char **argv, struct agenda_args *a)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"from", required_argument, NULL, 'F'},
		{"to", required_argument, NULL, 'T'}, {"patient", required_argument, NULL, 'p'},
		{"format", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
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
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc || !a->config || !a->from || !a->to) {
		fputs("iopd agenda: needs -c FILE, --from T and --to T\n", stderr);
		usage(stderr);
		return -1;
	}
	if (strcmp(a->format, "jsonl") && strcmp(a->format, "table")) {
		fprintf(stderr, "iopd agenda: unknown --format \"%s\" (jsonl or table)\n", a->format);
		return -1;
	}
	return 0;
}

static int parse_when(const char *what, const char *text, const struct tz *zone, int64_t *t)
{
	if (parse_instant(text, zone, t) == 0)
		return 0;
	fprintf(stderr, "iopd agenda: %s \"%s\" is not a time: write 2026-12-01T18:00:00Z, "
	    "2026-12-01T18:00:00-05:00 or 2026-12-01\n", what, text);
	return -1;
}

static int run_agenda(int argc, char **argv)
{
	struct agenda_args a;
	struct errs e = {0};
	struct snapshot *s;
	int64_t from, to, patient = -1;
	int rc = 1;

	if (agenda_parse_args(argc, argv, &a))
		return 1;
	s = conf_load(a.config, CONF_CALENDAR, &e);
	errs_print(&e, stderr);
	errs_free(&e);
	if (!s)
		return 1;
	if (parse_when("--from", a.from, s->tz, &from) || parse_when("--to", a.to, s->tz, &to))
		goto out;
	if (a.patient && (patient = snapshot_patient(s, a.patient)) < 0) {
		fprintf(stderr, "iopd agenda: no patient \"%s\" in %s\n", a.patient, s->config_file);
		goto out;
	}
	if (agenda_print(s, from, to, patient, strcmp(a.format, "table") ? AGENDA_JSONL : AGENDA_TABLE,
	    stdout, NULL, NULL)) {
		perror("iopd agenda: writing the agenda");
		goto out;
	}
	rc = 0;
out:
	snapshot_unref(s);
	return rc;
}

/* Whatever iopd runs as: files it makes (the ledger, its journal) are its
 * own alone, and no core dump or debugger of another user gets the secrets
 * and patient data in its memory (the unit also sets LimitCORE=0). */
static void protect_process(void)
{
	umask(077);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
	static const struct option main_opts[] = {
		{"new-ledger", no_argument, NULL, 'N'}, {NULL, 0, NULL, 0}
	};
	struct daemon_opts o = {0};
	int c, test = 0, rc;

	protect_process();
	log_init(LOG_LVL_INFO);
	if (argc > 1 && strcmp(argv[1], "agenda") == 0) {
		rc = run_agenda(argc - 1, argv + 1);
		goto out;
	}
	while ((c = getopt_long(argc, argv, "c:ftvl:hV", main_opts, NULL)) != -1) {
		switch (c) {
		case 'N': o.new_ledger = 1; break;
		case 'c': o.config = optarg; break;
		case 'f': o.foreground = 1; break;
		case 't': test = 1; break;
		case 'v': o.verbose++; break;
		case 'l':
			if ((o.log_level = log_parse_level(optarg)) < 0) {
				fprintf(stderr, "iopd: unknown log level \"%s\" (err, warning, notice, info, debug)\n", optarg);
				return 1;
			}
			break;
		case 'V': puts(PACKAGE_STRING); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (!o.config || optind < argc) {
		usage(stderr);
		return 1;
	}
	rc = test ? check_config(o.config) : daemon_main(&o);
out:
	plugin_unload_all();
	tz_cleanup();
	return rc;
}
