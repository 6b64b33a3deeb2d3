/* ctl_proto.c - see ctl_proto.h. */
#include "config.h"

#include <string.h>

#include "ctl_proto.h"

static int hexval(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
	    ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* Percent-decodes in place; -1 on a bad escape or a NUL. */
static int unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '%') {
			int h = hexval(s[1]), l = h < 0 ? -1 : hexval(s[2]);
			if (l < 0 || (h == 0 && l == 0))
				return -1;
			*w++ = (char)(h * 16 + l);
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
	return 0;
}

enum ctl_req_rc ctl_parse_request(char *line, struct ctl_req *r)
{
	/* "IOPD/1", FORMAT, COMMAND, the arguments, and one more to tell
	 * that there were too many */
	char *word[CTL_MAX_ARGS + 4], *save = NULL, *tok;
	int n = 0, i;

	memset(r, 0, sizeof *r);
	for (tok = strtok_r(line, " ", &save); tok && n < CTL_MAX_ARGS + 4;
	    tok = strtok_r(NULL, " ", &save))
		word[n++] = tok;
	if (n < 3 || strcmp(word[0], "IOPD/1") != 0 ||
	    (strcmp(word[1], "json") != 0 && strcmp(word[1], "text") != 0))
		return CTL_REQ_NOT_IOPD;
	r->json = strcmp(word[1], "json") == 0;
	if (n > CTL_MAX_ARGS + 3)
		return CTL_REQ_TOO_MANY;
	for (i = 2; i < n; i++) {
		if (unescape(word[i])) {
			r->bad = word[i];
			return CTL_REQ_BAD_ESCAPE;
		}
		r->argv[r->argc++] = word[i];
	}
	return CTL_REQ_OK;
}
