/* iopctl - talks to a running iopd over its control socket.
 *
 * It only formats a request (protocol IOPD/1, docs/control-protocol.md),
 * prints the answer, and exits 0 when iopd said OK, 1 when it refused or
 * failed (a failed reload included), 2 on a usage error and 3 when iopd
 * cannot be reached. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "suggest.h"

#define DEFAULT_SOCKET "/run/iopd/control.sock"
#define WAIT_SECONDS 300               /* a reload of a large calendar takes a while */

static void usage(FILE *f)
{
	fputs("usage: iopctl [-s SOCKET] [--json] COMMAND [ARGS]\n"
	      "  status                         uptime, schedule, deliveries today\n"
	      "  agenda [--from T] [--to T] [--patient ID]\n"
	      "                                 the live schedule with ledger statuses (default: next 24 h)\n"
	      "  history PATIENT                a patient's sends, overrides and replies, in time order\n"
	      "  pause PATIENT [--until T] [--reason TEXT]\n"
	      "  resume PATIENT [--reason TEXT]\n"
	      "  opt-out PATIENT CHANNEL [--reason TEXT]\n"
	      "  opt-in PATIENT CHANNEL [--reason TEXT]\n"
	      "  retry ID                       a reminder waiting for a retry (or for the end of\n"
	      "                                 quiet hours) goes now; says how it went\n"
	      "  cancel ID [--reason TEXT]      never send this reminder\n"
	      "  backup FILE                    a consistent copy of the ledger, made by iopd\n"
	      "  send-test CHANNEL ADDRESS      a test message through a channel\n"
	      "  reload                         reload the configuration and wait for the result\n"
	      "  metrics                        Prometheus text format\n"
	      "  -h, --help, -V, --version\n"
	      "SOCKET defaults to $IOPD_CONTROL_SOCKET, else " DEFAULT_SOCKET ".  See iopctl(8).\n", f);
}

static void add_arg(char *req, size_t len, const char *a)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(req);

	if (n + 1 < len)
		req[n++] = ' ';
	for (; *a && n + 4 < len; a++) {
		unsigned char c = (unsigned char)*a;
		if (c <= ' ' || c == '%' || c >= 0x7f) {
			req[n++] = '%';
			req[n++] = hex[c >> 4];
			req[n++] = hex[c & 15];
		} else {
			req[n++] = (char)c;
		}
	}
	req[n] = '\0';
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "iopctl: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		fprintf(stderr, "iopctl: cannot reach iopd at %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Prints the body; returns 0 for "OK", 1 for "ERR", 3 if the answer broke off. */
static int read_answer(int fd)
{
	char buf[65536];
	size_t head = 0;
	int status = -1;
	time_t deadline = time(NULL) + WAIT_SECONDS;
	char first[8];

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t n;
		if (poll(&p, 1, 1000) == 0) {
			if (time(NULL) > deadline) {
				fputs("iopctl: iopd did not answer in time\n", stderr);
				return 3;
			}
			continue;
		}
		n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (status < 0) {              /* the status line: "OK\n" or "ERR\n" */
			size_t i = 0;
			while (i < (size_t)n && buf[i] != '\n' && head < sizeof first - 1)
				first[head++] = buf[i++];
			if (i == (size_t)n)
				continue;
			first[head] = '\0';
			status = strcmp(first, "OK") == 0 ? 0 : 1;
			fwrite(buf + i + 1, 1, (size_t)n - i - 1, status ? stderr : stdout);
		} else {
			fwrite(buf, 1, (size_t)n, status ? stderr : stdout);
		}
	}
	if (status < 0) {
		fputs("iopctl: iopd closed the connection without an answer\n", stderr);
		return 3;
	}
	return status;
}

/* agenda's options become key=value arguments. */
static int agenda_args(int argc, char **argv, char *req, size_t len)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'}, {"to", required_argument, NULL, 't'},
		{"patient", required_argument, NULL, 'p'}, {NULL, 0, NULL, 0}
	};
	char kv[512];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == '?')
			return -1;
		snprintf(kv, sizeof kv, "%s=%s", c == 'f' ? "from" : c == 't' ? "to" : "patient", optarg);
		add_arg(req, len, kv);
	}
	return optind == argc ? 0 : -1;
}

enum { OPT_UNTIL = 1, OPT_REASON = 2 };

static const struct {
	const char *cmd;
	int n;                         /* its arguments; -1: options (agenda) */
	int opts;                      /* OPT_*: the options it takes besides */
} commands[] = {
	{"status", 0, 0}, {"agenda", -1, 0}, {"history", 1, 0}, {"pause", 1, OPT_UNTIL | OPT_REASON},
	{"resume", 1, OPT_REASON}, {"opt-out", 2, OPT_REASON}, {"opt-in", 2, OPT_REASON},
	{"retry", 1, 0}, {"cancel", 1, OPT_REASON}, {"backup", 1, 0}, {"send-test", 2, 0},
	{"reload", 0, 0}, {"metrics", 0, 0},
};

/* The command's own options (--until T, --reason TEXT) become key=value
 * arguments after the positional ones; 0, or -1 on a usage error. */
static int command_args(int opts, int argc, char **argv, char *req, size_t len)
{
	static const struct option lo[] = {
		{"until", required_argument, NULL, 'u'}, {"reason", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0}
	};
	char kv[4096];
	int c, i;

	optind = 0;                            /* a new scan, in GNU order: options anywhere */
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == '?' || (c == 'u' && !(opts & OPT_UNTIL)) || (c == 'r' && !(opts & OPT_REASON))) {
			if (c != '?')
				fprintf(stderr, "iopctl: %s takes no --%s\n", argv[0], c == 'u' ? "until" : "reason");
			return -1;
		}
		snprintf(kv, sizeof kv, "%s=%s", c == 'u' ? "until" : "reason", optarg);
		add_arg(req, len, kv);
	}
	for (i = optind; i < argc; i++)
		if (strchr(argv[i], '=') && strcmp(argv[0], "backup") != 0) {
			fprintf(stderr, "iopctl: %s: unexpected \"%s\"\n", argv[0], argv[i]);
			return -1;
		}
	return 0;
}

/* backup FILE: the daemon writes it, from its own working directory. */
static int absolute_arg(const char *path, char *out, size_t len)
{
	char cwd[4096];

	if (path[0] == '/')
		return snprintf(out, len, "%s", path) < (int)len ? 0 : -1;
	if (!getcwd(cwd, sizeof cwd))
		return -1;
	return snprintf(out, len, "%s/%s", cwd, path) < (int)len ? 0 : -1;
}

/* The positional arguments among argv[1..argc): options and their values
 * left out. */
static int positionals(int argc, char **argv)
{
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return n + argc - i - 1;
		if (strncmp(argv[i], "--", 2) == 0) {
			if (!strchr(argv[i], '=') && i + 1 < argc)
				i++;               /* --until T */
			continue;
		}
		n++;
	}
	return n;
}

/* Every other command: its positional arguments, then its options as
 * key=value; backup's FILE made absolute. */
static int other_args(int argc, char **argv, char *req, size_t len)
{
	char opts[8192] = "", path[4096];
	size_t k;
	int i;

	for (k = 0; k < sizeof commands / sizeof commands[0]; k++)
		if (strcmp(commands[k].cmd, argv[0]) == 0)
			break;
	if (command_args(commands[k].opts, argc, argv, opts, sizeof opts))
		return -1;
	for (i = optind; i < argc; i++) {      /* getopt_long moved them to the end */
		if (strcmp(argv[0], "backup") == 0) {
			if (absolute_arg(argv[i], path, sizeof path)) {
				fprintf(stderr, "iopctl: backup: cannot make %s an absolute path\n", argv[i]);
				return -1;
			}
			add_arg(req, len, path);
		} else {
			add_arg(req, len, argv[i]);
		}
	}
	if (strlen(req) + strlen(opts) + 2 >= len) {
		fputs("iopctl: the request is too long\n", stderr);
		return -1;
	}
	strcat(req, opts);
	return 0;
}

/* 0, or 2 after saying what is wrong: an unknown command (with the
 * nearest known one) or the wrong number of arguments. */
static int check_args(const char *cmd, int nargs)
{
	const char *names[sizeof commands / sizeof commands[0]], *near;
	size_t i;

	for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		names[i] = commands[i].cmd;
		if (strcmp(commands[i].cmd, cmd) == 0) {
			if (commands[i].n < 0 || commands[i].n == nargs)
				return 0;
			fprintf(stderr, "iopctl: %s takes %d argument%s\n", cmd, commands[i].n,
			    commands[i].n == 1 ? "" : "s");
			usage(stderr);
			return 2;
		}
	}
	near = suggest_nearest(cmd, names, i);
	fprintf(stderr, "iopctl: unknown command \"%s\"%s%s%s (try iopctl --help)\n", cmd,
	    near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}
	};
	const char *sock = getenv("IOPD_CONTROL_SOCKET");
	char req[8192];
	int c, json = 0, fd, i, rc;

	while ((c = getopt_long(argc, argv, "+s:jhV", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': puts("iopctl " PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if ((rc = check_args(argv[optind], strcmp(argv[optind], "send-test") == 0 ?
	    argc - optind - 1 : positionals(argc - optind, argv + optind))) != 0)
		return rc;
	snprintf(req, sizeof req, "IOPD/1 %s", json ? "json" : "text");
	add_arg(req, sizeof req, argv[optind]);
	if (strcmp(argv[optind], "agenda") == 0) {
		if (agenda_args(argc - optind, argv + optind, req, sizeof req)) {
			usage(stderr);
			return 2;
		}
	} else if (strcmp(argv[optind], "send-test") == 0) {
		for (i = optind + 1; i < argc; i++)
			add_arg(req, sizeof req, argv[i]);
	} else if (other_args(argc - optind, argv + optind, req, sizeof req)) {
		usage(stderr);
		return 2;
	}
	strcat(req, "\n");
	if ((fd = connect_to(sock ? sock : DEFAULT_SOCKET)) < 0)
		return 3;
	if (write_all(fd, req, strlen(req))) {
		fprintf(stderr, "iopctl: sending the request: %s\n", strerror(errno));
		close(fd);
		return 3;
	}
	shutdown(fd, SHUT_WR);
	rc = read_answer(fd);
	close(fd);
	return rc;
}
