/* ctl_proto.h - reading a control-protocol request line (protocol IOPD/1,
 * docs/control-protocol.md).
 *
 * Pure: no socket, no daemon state, so the one piece of the control
 * socket that reads what any local user sends can be tested and fuzzed on
 * its own.  control.c answers what it finds. */
#ifndef IOPD_CTL_PROTO_H
#define IOPD_CTL_PROTO_H

#include <stdbool.h>

#define CTL_MAX_ARGS 8                 /* arguments after the command */

struct ctl_req {
	bool json;                     /* FORMAT was "json" (else "text") */
	int argc;                      /* the command and its arguments */
	char *argv[CTL_MAX_ARGS + 1];  /* into the line, percent-decoded */
	const char *bad;               /* CTL_REQ_BAD_ESCAPE: the word, as sent */
};

enum ctl_req_rc {
	CTL_REQ_OK = 0,
	CTL_REQ_NOT_IOPD,              /* no "IOPD/1 text|json COMMAND": not our protocol */
	CTL_REQ_TOO_MANY,              /* more than CTL_MAX_ARGS arguments */
	CTL_REQ_BAD_ESCAPE             /* a bad %XX, or %00 */
};

/* Splits the NUL-terminated `line` (without its "\n") at spaces, in
 * place, and percent-decodes the command and its arguments.  On
 * CTL_REQ_BAD_ESCAPE, r->bad points to the offending word (decoded up to
 * the bad escape).  r->json is set whenever the header could be read, so
 * that an error is answered in the format asked for. */
enum ctl_req_rc ctl_parse_request(char *line, struct ctl_req *r);

#endif
