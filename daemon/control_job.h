/* control_job.h - the long part of a control command, off the loop.
 *
 * `iopctl agenda` over months walks hundreds of thousands of rows and looks
 * each up in the ledger; `history` of a patient of years reads thousands;
 * `status` counts the day's reminders.  None of that may stall the loop
 * (sends leave late, the watchdog ping stops), so each runs on a thread of
 * its own: over the immutable snapshot (a reference is held) and with a
 * read-only ledger connection of its own (ledger.h, reader), writing its
 * answer into a pipe.  The pipe is the bounded buffer between the thread
 * and the control socket: the loop passes its bytes on as the client takes
 * them, and a thread whose pipe is full waits -- a slow client slows its
 * own job, nothing else.
 *
 * The answer in the pipe is the whole protocol answer: "OK\n" or "ERR\n",
 * then the body (docs/control-protocol.md).  An error found after the
 * first bytes went out ends the body with an error line instead. */
#ifndef IOPD_CONTROL_JOB_H
#define IOPD_CONTROL_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "ledger.h"
#include "snapshot.h"
#include "util.h"

enum cjob_kind {
	CJOB_AGENDA, CJOB_HISTORY, CJOB_STATUS,
	CJOB_PREP,                     /* for the loop, not the client: see control_admin.c */
	CJOB_BACKUP
};

struct cjob_req {
	enum cjob_kind kind;
	bool json;
	int64_t from, to, patient;     /* agenda: the window, a patient (index) or -1 */
	char *patient_id;              /* history: the patient asked about */
	int64_t since;                 /* status: the day's counts are of reminders settled since */
	struct sbuf head;              /* status: the answer's beginning, made on the loop */
	char **problems;               /* status, JSON: each channel's "problem" value, made on the loop */
	size_t nproblems;
	long uid;                      /* prep: the user whose name is wanted */
	uint64_t find_id;              /* prep: a reminder to find in the calendar (0: none) */
	int64_t find_from;             /* ... due at or after this */
	char *path;                    /* backup: the new file (absolute) */
};

struct cjobs;
struct cjob;

struct cjobs *cjobs_new(struct ev_loop *loop);
/* Cuts every answer short, waits for the threads (they stop at their next
 * row or write), frees everything. */
void cjobs_free(struct cjobs *set);

/* Starts a job (or queues it behind those running), taking over req's
 * contents.  Returns it, or NULL with the reason in err.  The answer is
 * read from cjob_fd(), non-blocking, until end of file. */
struct cjob *cjob_start(struct cjobs *set, struct snapshot *s, struct ledger *l,
    struct cjob_req *req, char *err, size_t errlen);
int cjob_fd(const struct cjob *j);
/* The connection is done with the job (its answer read to the end, or the
 * client gone): the descriptor is closed and the job must not be used
 * again.  A thread still working stops soon after; the set frees it. */
void cjob_release(struct cjob *j);

#endif
