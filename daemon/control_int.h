/* control_int.h - the control socket's connections, shared by control.c
 * (the socket, the protocol, the read-only commands) and the commands
 * that change something: control_override.c (pause, resume, opt-out,
 * opt-in) and control_queue.c (retry, cancel, backup). */
#ifndef IOPD_CONTROL_INT_H
#define IOPD_CONTROL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "control_job.h"
#include "daemon_int.h"
#include "ident.h"
#include "plugin_host.h"

struct conn;

/* What a command does with the answer of its prep job (control_admin.c),
 * on the loop: `body` is what the job printed after "OK\n". */
typedef void (*ctl_then_fn)(struct conn *c, char *body);

struct conn {
	uint32_t magic;
	struct daemon *dm;
	int fd;
	ev_io io;
	ev_timer idle;
	struct sbuf in, out;
	size_t sent;
	bool json, answered, waiting, dead, linked;
	struct conn *prev, *next;
	long uid;                      /* the peer's (SO_PEERCRED); -1: unknown */
	/* an answer made by a job (control_job.h): read from job_io into out
	 * while out is empty, written to the client while it is not; or, with
	 * `then`, gathered in `in` for the loop (ctl_prep) */
	struct cjob *job;
	ev_io job_io;
	ctl_then_fn then;
	struct sbuf got;
	/* send-test in flight */
	struct snapshot *test_snap;
	struct chan_inst *test_inst;
	struct iopd_message test_msg;
	char test_id[IDENT_HEX_LEN + 1];
	char *test_text, *test_to;
	/* a command answered once the dispatcher's next batch committed
	 * (cancel), or when a retried reminder's attempt ended (retry) */
	struct dispatch_part part;
	char *pending_msg;
	bool watching;
	/* a shared ledger: the reminder's row is read from the server first
	 * (control_queue.c), then `fetched` runs; `recheck`: a cancel's row
	 * is read again once its note committed */
	void (*fetched)(struct conn *c);
	bool recheck;
	/* an override on its way to the ledger (consent_submit): answered
	 * with pending_msg, as ok or not, once it committed */
	bool ovr_pending, ovr_ok, ovr_pause;
	/* the request's arguments, kept for `then` (they point into `in`) */
	int argc;
	char *argv[12];
};

struct control {
	int fd;
	char *path;
	ev_io io;
	struct cjobs *jobs;
	ev_timer accept_again;         /* accepting paused: out of descriptors */
	bool accept_failing;           /* said once in the log */
	struct conn *conns;
};

/* Answers: OK or ERR, the body in c->out; a text or JSON message. */
void ctl_answer(struct conn *c, bool ok);
void ctl_fail(struct conn *c, const char *fmt, ...) IOPD_PRINTF(2, 3);
void ctl_ok(struct conn *c, const char *text);
/* The answer is made by a job on a thread and streamed to the client. */
void ctl_start_job(struct conn *c, struct cjob_req *req);
/* A CJOB_PREP job for the loop: `then` gets its lines (or the request
 * fails with the job's error). */
void ctl_prep(struct conn *c, struct cjob_req *req, ctl_then_fn then);

/* The value of option "KEY=VALUE" among argv[from..argc), or NULL; -1 in
 * *bad (after answering) for an option that is not one of `keys`. */
const char *ctl_option(struct conn *c, int argc, char **argv, int from, const char *key,
    const char *const *keys, int *bad);
/* The value of line "KEY VALUE" of a prep job's answer, copied into out,
 * or NULL. */
const char *ctl_body_value(const char *body, const char *key, char *out, size_t len);
/* Parses a reminder id: 16 hex digits; 0 when it is not one. */
uint64_t ctl_parse_id(const char *s);

void ctl_cmd_override(struct conn *c, int argc, char **argv);
void ctl_cmd_retry(struct conn *c, int argc, char **argv);
void ctl_cmd_cancel(struct conn *c, int argc, char **argv);
void ctl_cmd_backup(struct conn *c, int argc, char **argv);

#endif
