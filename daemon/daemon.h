/* daemon.h - the running service: loop, schedule, delivery, control. */
#ifndef IOPD_DAEMON_H
#define IOPD_DAEMON_H

struct daemon_opts {
	const char *config;
	int foreground;
	int verbose;
	int log_level;                 /* 0: from the configuration or -v */
	int new_ledger;                /* --new-ledger: the ledger found (or a new one) is
	                                * state_dir's, whatever ledger.id says */
};

int daemon_main(const struct daemon_opts *o);

#endif
