/* metrics.c - `iopctl metrics`: the Prometheus text format (version 0.0.4).
 *
 * Everything comes from counters the dispatcher already keeps; nothing
 * here names a patient. */
#include "config.h"

#include <math.h>
#include <stdio.h>

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

static void queue_cb(const struct channel_counts *c, void *arg)
{
	sbuf_printf(arg, "iopd_queued{channel=\"%s\"} %d\niopd_in_flight{channel=\"%s\"} %d\n",
	    c->channel, c->queued, c->channel, c->inflight);
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

void metrics_text(struct daemon *dm, struct sbuf *o)
{
	help(o, "iopd_reminders_total", "counter", "Reminders by kind, channel and final status since start.");
	dispatch_counts(dm->dispatch, reminders_cb, o);
	help(o, "iopd_retries_total", "counter", "Transient failures that were retried.");
	dispatch_counts(dm->dispatch, retries_cb, o);
	help(o, "iopd_queued", "gauge", "Reminders due and waiting for a send slot.");
	dispatch_counts(dm->dispatch, queue_cb, o);
	help(o, "iopd_delivery_latency_seconds", "histogram", "From due time to delivered.");
	dispatch_counts(dm->dispatch, latency_cb, o);
	help(o, "iopd_scheduled_series", "gauge", "Series (patient x series x rule) in the schedule.");
	sbuf_printf(o, "iopd_scheduled_series %zu\n", dm->sched->heap.n);
	help(o, "iopd_patients", "gauge", "Patients in the configuration.");
	sbuf_printf(o, "iopd_patients %u\n", dm->snap->npatients);
	help(o, "iopd_ledger_bytes", "gauge", "Size of the ledger on disk.");
	sbuf_printf(o, "iopd_ledger_bytes %lld\n", (long long)dm->ledger->ops->size(dm->ledger));
	help(o, "iopd_reloads_total", "counter", "Configuration reloads.");
	sbuf_printf(o, "iopd_reloads_total{result=\"ok\"} %ld\niopd_reloads_total{result=\"failed\"} %ld\n",
	    dm->reloads, dm->reload_failures);
	help(o, "iopd_reload_longest_stall_seconds", "gauge", "Longest loop pause a reload swap caused.");
	sbuf_printf(o, "iopd_reload_longest_stall_seconds %.6f\n", dm->reload_longest_swap);
	help(o, "iopd_start_time_seconds", "gauge", "Unix time iopd started.");
	sbuf_printf(o, "iopd_start_time_seconds %lld\n", (long long)dm->started);
}
