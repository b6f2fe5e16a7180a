/*
 * metrics: a small process-wide registry of Prometheus-style metrics
 * (counters, gauges, histograms with labels), rendered in the Prometheus
 * text exposition format 0.0.4 by tsv_metrics_render (served as GET
 * /metrics; the list is in docs/operations.md "Metrics").
 *
 * It lives in common/ so that every layer counts its own work where it
 * happens (storage counts validated bytes and GC runs, jobs count finished
 * jobs, server counts requests) without a lower layer knowing about HTTP.
 *
 * A family is looked up by name (created on first use with its help text,
 * kind, label names and, for histograms, bucket bounds; later lookups return
 * the same family and ignore those arguments). A child (one combination of
 * label values, at most TSV_METRIC_MAX_LABELS) is created on first use.
 * Values are atomics: an update takes the family's mutex only to find the
 * child. Label values longer than 127 bytes are cut.
 *
 * Ownership: families and children live until the process exits (their
 * number is bounded by the code's fixed names and label sets).
 * Thread-safety: every function is thread-safe.
 * Errors: updates never fail (out of memory drops the update); render
 * returns 0 or -1 with err.
 */
#ifndef TSV_METRICS_H
#define TSV_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

#define TSV_METRIC_MAX_LABELS 4

typedef enum tsv_metric_kind {
    TSV_METRIC_COUNTER,
    TSV_METRIC_GAUGE,
    TSV_METRIC_HISTOGRAM,
} tsv_metric_kind;

typedef struct tsv_metric_family tsv_metric_family;

/* Finds or creates a family. label_names: NULL-terminated (NULL = none).
 * buckets: ascending upper bounds of a histogram (+Inf is implied).
 * Returns NULL only when out of memory. */
tsv_metric_family *tsv_metrics_family(tsv_metric_kind kind, const char *name, const char *help,
                                      const char *const *label_names, const double *buckets,
                                      size_t n_buckets);

/* label_values: as many as the family has label names (NULL when none). */
void tsv_metric_add(tsv_metric_family *f, const char *const *label_values, uint64_t n);
/* Gauges only. */
void tsv_metric_set(tsv_metric_family *f, const char *const *label_values, double v);
void tsv_metric_gauge_add(tsv_metric_family *f, const char *const *label_values, double delta);
/* Histograms only. */
void tsv_metric_observe(tsv_metric_family *f, const char *const *label_values, double v);

/* Convenience for counters with up to two labels, named at the call site:
 * tsv_metrics_count("tsvault_x_total", "help", "kind", "kv", "result", "ok", 1). Pass
 * NULL label names for fewer labels. */
void tsv_metrics_count(const char *name, const char *help, const char *l1, const char *v1,
                       const char *l2, const char *v2, uint64_t n);

/* Appends every family, in registration order, in the text format. */
int tsv_metrics_render(tsv_buf *out, tsv_error *err);

/* Families counted in more than one layer share their name and help. */
#define TSV_METRIC_RESTORES "tsvault_restores_total"
#define TSV_METRIC_RESTORES_HELP                                                                   \
    "Restores by kind (kv, sql, bucket_metadata, bucket, shard, job) and result (success, "        \
    "failure, canceled)."

/* Latency buckets in seconds shared by the request histograms. */
extern const double tsv_metrics_latency_buckets[];
extern const size_t tsv_metrics_latency_n;

#endif
