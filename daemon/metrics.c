/* metrics.c - `iopctl metrics` and daemon.metrics_file: the Prometheus
 * text exposition format, version 0.0.4.
 *
 * Every family is written as one block (HELP, TYPE, then all its samples),
 * as the format requires.  Everything comes from counters the dispatcher
 * and the daemon already keep, plus the ledger's size; nothing here names
 * a patient. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inbound.h"
#include "ledger.h"
#include "metrics.h"

static void help(struct sbuf *o, const char *name, const char *type, const char *text)
{
	sbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void reminders_cb(const struct channel_counts *c, void *arg)
{
	struct sbuf *o = arg;
	int k, s;

	for (k = 0; k < KIND_COUNT; k++)
		for (s = REC_SENT; s < REC_COUNT; s++)
			if (c->by_kind[k][s])
				sbuf_printf(o, "iopd_reminders_total{kind=\"%s\",channel=\"%s\",status=\"%s\"} %ld\n",
				    kind_names[k], c->channel, rec_status_names[s], c->by_kind[k][s]);
}

static void retries_cb(const struct channel_counts *c, void *arg)
{
	sbuf_printf(arg, "iopd_retries_total{channel=\"%s\"} %ld\n", c->channel, c->retries);
}

static void queued_cb(const struct channel_counts *c, void *arg)
{
	sbuf_printf(arg, "iopd_queued{channel=\"%s\"} %d\n", c->channel, c->queued);
}

static void inflight_cb(const struct channel_counts *c, void *arg)
{
	sbuf_printf(arg, "iopd_in_flight{channel=\"%s\"} %d\n", c->channel, c->inflight);
}

static void latency_cb(const struct channel_counts *c, void *arg)
{
	struct sbuf *o = arg;
	int i;

	for (i = 0; i < LATENCY_BUCKETS; i++) {
		if (isinf(latency_bounds[i]))
			sbuf_printf(o, "iopd_delivery_latency_seconds_bucket{channel=\"%s\",le=\"+Inf\"} %ld\n",
			    c->channel, c->latency[i]);
		else
			sbuf_printf(o, "iopd_delivery_latency_seconds_bucket{channel=\"%s\",le=\"%g\"} %ld\n",
			    c->channel, latency_bounds[i], c->latency[i]);
	}
	sbuf_printf(o, "iopd_delivery_latency_seconds_sum{channel=\"%s\"} %.6f\n", c->channel, c->latency_sum);
	sbuf_printf(o, "iopd_delivery_latency_seconds_count{channel=\"%s\"} %ld\n", c->channel, c->latency_n);
}

/* A gauge per configured channel: 1 while its last send failed transiently. */
static void failing(struct daemon *dm, struct sbuf *o)
{
	char list[1024], *save = NULL, *name;
	uint16_t i;

	dispatch_failing(dm->dispatch, list, sizeof list);
	for (i = 0; i < dm->snap->nchannels; i++) {
		const char *ch = dm->snap->channels[i].name;
		int on = 0;
		char copy[sizeof list];
		memcpy(copy, list, sizeof copy);
		for (name = strtok_r(copy, ", ", &save); name; name = strtok_r(NULL, ", ", &save))
			on |= strcmp(name, ch) == 0;
		sbuf_printf(o, "iopd_channel_failing{channel=\"%s\"} %d\n", ch, on);
	}
}

/* Two-way SMS (SPEC 8): what the gateways' callbacks came to. */
static void inbound_metrics(struct daemon *dm, struct sbuf *o)
{
	struct inbound_stats st;
	int i;

	inbound_stats(dm->inbound, &st);
	help(o, "iopd_replies_total", "counter", "Patients' texts recorded since start, by intent.");
	for (i = 0; i < INTENT_COUNT; i++)
		sbuf_printf(o, "iopd_replies_total{intent=\"%s\"} %ld\n", intent_names[i], st.replies[i]);
	help(o, "iopd_replies_unknown_sender_total", "counter",
	    "Texts from numbers that are no patient's, dropped unanswered.");
	sbuf_printf(o, "iopd_replies_unknown_sender_total %ld\n", st.unknown_sender);
	help(o, "iopd_receipts_total", "counter", "Delivery reports since start, by state "
	    "(interim: a stage on the way, taken and not kept).");
	for (i = 0; i < RCPT_COUNT; i++)
		sbuf_printf(o, "iopd_receipts_total{state=\"%s\"} %ld\n", inbound_receipt_names[i],
		    st.receipts[i]);
	help(o, "iopd_receipts_ignored_total", "counter",
	    "Final delivery reports not recorded: for no send of that channel, or after another.");
	sbuf_printf(o, "iopd_receipts_ignored_total %ld\n", st.receipts_ignored);
	help(o, "iopd_callbacks_duplicate_total", "counter",
	    "Callbacks a gateway delivered again, taken once.");
	sbuf_printf(o, "iopd_callbacks_duplicate_total %ld\n", st.duplicates);
	help(o, "iopd_callbacks_refused_total", "counter", "Callbacks refused, by cause.");
	for (i = 0; i < REFUSED_COUNT; i++)
		sbuf_printf(o, "iopd_callbacks_refused_total{cause=\"%s\"} %ld\n",
		    inbound_refusal_names[i], st.refused[i]);
}

void metrics_text(struct daemon *dm, struct sbuf *o)
{
	int64_t nd = sched_next_due(dm->sched);

	help(o, "iopd_build_info", "gauge", "Always 1; the version of iopd.");
	sbuf_printf(o, "iopd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	help(o, "iopd_start_time_seconds", "gauge", "Unix time iopd started.");
	sbuf_printf(o, "iopd_start_time_seconds %lld\n", (long long)dm->started);
	help(o, "iopd_reminders_total", "counter",
	    "Reminders by kind, channel and final status since start.");
	dispatch_counts(dm->dispatch, reminders_cb, o);
	help(o, "iopd_retries_total", "counter", "Transient failures that were retried, since start.");
	dispatch_counts(dm->dispatch, retries_cb, o);
	help(o, "iopd_queued", "gauge", "Reminders due and waiting for a send slot or a retry.");
	dispatch_counts(dm->dispatch, queued_cb, o);
	help(o, "iopd_in_flight", "gauge", "Sends under way.");
	dispatch_counts(dm->dispatch, inflight_cb, o);
	help(o, "iopd_channel_failing", "gauge", "1 while the channel's last send failed transiently.");
	failing(dm, o);
	help(o, "iopd_delivery_latency_seconds", "histogram",
	    "From a reminder's due time to the gateway accepting it.");
	dispatch_counts(dm->dispatch, latency_cb, o);
	inbound_metrics(dm, o);
	help(o, "iopd_scheduled_series", "gauge",
	    "Reminder series (patient x series x rule x channel set) in the schedule.");
	sbuf_printf(o, "iopd_scheduled_series %zu\n", dm->sched->heap.n);
	help(o, "iopd_next_due_timestamp_seconds", "gauge",
	    "Unix time the next reminder falls due (0: nothing scheduled).");
	sbuf_printf(o, "iopd_next_due_timestamp_seconds %lld\n", nd == CAL_END ? 0LL : (long long)nd);
	help(o, "iopd_patients", "gauge", "Patients in the configuration.");
	sbuf_printf(o, "iopd_patients %u\n", dm->snap->npatients);
	help(o, "iopd_channels", "gauge", "Channels in the configuration.");
	sbuf_printf(o, "iopd_channels %u\n", dm->snap->nchannels);
	help(o, "iopd_ledger_bytes", "gauge", "Size of the ledger on disk.");
	sbuf_printf(o, "iopd_ledger_bytes %lld\n", (long long)dm->ledger->ops->size(dm->ledger));
	help(o, "iopd_reloads_total", "counter", "Configuration reloads since start, by result.");
	sbuf_printf(o, "iopd_reloads_total{result=\"ok\"} %ld\niopd_reloads_total{result=\"failed\"} %ld\n",
	    dm->reloads, dm->reload_failures);
	help(o, "iopd_reload_longest_stall_seconds", "gauge", "Longest loop pause a reload swap caused.");
	sbuf_printf(o, "iopd_reload_longest_stall_seconds %.6f\n", dm->reload_longest_swap);
	help(o, "iopd_loop_stall_seconds_max", "gauge",
	    "Longest time the event loop was held (a timer ran that much late), since start.");
	sbuf_printf(o, "iopd_loop_stall_seconds_max %.6f\n", dm->loop_stall_max);
	help(o, "iopd_loop_busy_cpu_seconds_max", "gauge",
	    "Most CPU time one iteration of the event loop used, since start.");
	sbuf_printf(o, "iopd_loop_busy_cpu_seconds_max %.6f\n", dm->loop_busy_max);
	help(o, "iopd_config_loaded_timestamp_seconds", "gauge",
	    "Unix time the running configuration was loaded.");
	sbuf_printf(o, "iopd_config_loaded_timestamp_seconds %lld\n", (long long)dm->snap->loaded_at);
}

/* Writes the whole text to a temporary file in the same folder, then
 * renames it over `path`: a reader (node_exporter's textfile collector)
 * sees the old file or the new one, never half of one.  Mode 0644: the
 * metrics name no patient, and the collector runs as another user. */
int metrics_write_file(struct daemon *dm, const char *path, char *err, size_t errlen)
{
	struct sbuf o = {0};
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	size_t off = 0;
	int fd = mkostemp(tmp, O_CLOEXEC), rc = -1;

	if (fd < 0) {
		snprintf(err, errlen, "cannot create a file next to %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	metrics_text(dm, &o);
	while (off < o.len) {
		ssize_t n = write(fd, o.s + off, o.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, 0644) < 0) {
		snprintf(err, errlen, "chmod %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename to %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	sbuf_free(&o);
	free(tmp);
	return rc;
}
