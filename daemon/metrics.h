/* metrics.h - Prometheus text exposition of iopd's counters. */
#ifndef IOPD_METRICS_H
#define IOPD_METRICS_H

#include "daemon_int.h"
#include "util.h"

void metrics_text(struct daemon *dm, struct sbuf *out);
/* daemon.metrics_file: the same text, replaced atomically (temporary file
 * in the same folder, then rename).  0, or -1 with the reason in err. */
int metrics_write_file(struct daemon *dm, const char *path, char *err, size_t errlen);

#endif
