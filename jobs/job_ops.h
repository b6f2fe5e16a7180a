/*
 * job_ops: what a running job's operation reports to the jobs manager
 * (jobs.c): cancellation, log lines, progress, buckets it created. Every
 * operation (job_restore.c, job_vault.c, job_pull.c, job_push.c) gets one.
 *
 * Thread-safety: the callbacks are called from the job's worker thread.
 */
#ifndef TSV_JOB_OPS_H
#define TSV_JOB_OPS_H

#include <stdint.h>

#include "tsv_error.h"

typedef struct tsv_job_ops {
    int (*canceled)(void *ctx);
    void (*log)(void *ctx, const char *level, const char *msg);
    void (*totals)(void *ctx, uint64_t bytes, uint64_t shards);
    void (*advance)(void *ctx, uint64_t bytes, uint64_t shards);
    /* Must make the ID durable before returning 0. */
    int (*created_bucket)(void *ctx, const char *bucket_id, tsv_error *err);
} tsv_job_ops;

/* A formatted log line (at most 1023 bytes) through ops->log. */
void tsv_job_logf(const tsv_job_ops *ops, void *ctx, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
