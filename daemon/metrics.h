/* metrics.h - Prometheus text exposition of iopd's counters. */
#ifndef IOPD_METRICS_H
#define IOPD_METRICS_H

#include "daemon_int.h"
#include "util.h"

void metrics_text(struct daemon *dm, struct sbuf *out);

#endif
