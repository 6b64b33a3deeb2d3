/* control_job_int.h - what the answers made on a control job's thread
 * share (control_job.c, control_history.c, control_admin.c): the answer
 * gathered in chunks into the job's pipe, and the jobs' bodies. */
#ifndef IOPD_CONTROL_JOB_INT_H
#define IOPD_CONTROL_JOB_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "control_job.h"

/* An answer gathered in chunks: "OK\n" goes out with the first chunk, so
 * an error before it (the usual case: the ledger cannot be read) is still
 * a plain "ERR\n" answer. */
struct cjob_out {
	FILE *f;
	struct sbuf buf;
	bool json, started, failed;
};

/* "OK\n" (once), then what buf holds. */
void cjob_out_flush(struct cjob_out *o);
/* The same when buf holds a chunk's worth. */
void cjob_out_maybe_flush(struct cjob_out *o);
/* The error as an answer, or, once bytes went out, as the answer's last line. */
void cjob_out_error(struct cjob_out *o, const char *what, const char *why);

/* iopctl history (control_history.c). */
void cjob_history(const struct cjob_req *req, const struct snapshot *s, struct ledger *r,
    struct cjob_out *o);
/* iopctl backup, and what admin commands need before the loop acts
 * (control_admin.c). */
void cjob_backup(const struct cjob_req *req, struct ledger *l, struct cjob_out *o);
void cjob_prep(const struct cjob_req *req, const struct snapshot *s, struct cjob_out *o);

#endif
