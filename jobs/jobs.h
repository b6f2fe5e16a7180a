/*
 * jobs: asynchronous operations (the Polaris-style Jobs API, docs/api.md
 * "Jobs API") over storage: creation from a JSON request, a bounded worker
 * pool, persistence of every state change in the KV's "jobs" database
 * (storage/jobs_store.h), cancellation, logs, live metrics, retention.
 *
 * Scheduling: a job holds a lock key (its target bucket name; "*" for full
 * restores and restores of every bucket, which conflicts with every key).
 * Workers take the oldest pending job whose key conflicts with no running
 * job, so jobs on one bucket run one after the other and others in parallel.
 *
 * Restart: at open, a job found "running" was interrupted: its partial work
 * is rolled back (buckets it created are deleted) and it is marked failed
 * "interrupted by a restart"; pending jobs are queued again. Closing does the
 * same for jobs still running (they stop at their next file boundary).
 * Finished jobs older than the retention period are deleted.
 *
 * Types: "restore" (job_restore.h); "pitr" (job_pitr.h: at most one queued
 * or running at a time); "delete_data", "restore_data" and "verify"
 * (job_vault.h: atomic, so a restart marks them failed without a
 * rollback and logs whether their change had been committed).
 *
 * Replies are JSON in the seed's shapes, written into a caller's tsv_buf.
 * Errors: int 0/-1 with tsv_error: TSV_EINVALID for bad requests and query
 * parameters (the message names the field), TSV_ENOTFOUND for unknown jobs
 * or files, TSV_ECONFLICT for updates of finished jobs.
 * Ownership: tsv_jobs_open returns a manager freed by tsv_jobs_close (the
 * store and files handle are borrowed and must outlive it).
 * Thread-safety: every function is thread-safe.
 */
#ifndef TSV_JOBS_H
#define TSV_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "files_store.h"
#include "store.h"
#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_jobs tsv_jobs;

struct tsv_conns;
typedef struct tsv_jobs_options {
    int workers;             /* >= 1 */
    struct tsv_conns *conns; /* enables "backup" jobs and restores into
                              * connections (connections.h); NULL = none */
    int64_t retention_s;     /* finished jobs kept this long; < 0 = forever */
    struct tsv_tier *tier;   /* the S3 tier (s3_tier.h): a full verify checks its
                              * copies too; NULL = none */
} tsv_jobs_options;

int tsv_jobs_open(tsv_jobs **out, tsv_store *s, tsv_files *f, const tsv_jobs_options *opt,
                  tsv_error *err);
void tsv_jobs_close(tsv_jobs *j);

typedef struct tsv_job_user {
    char id[64]; /* "" when the token has no user */
    char name[256];
    char org_id[17];
} tsv_job_user;

int tsv_jobs_create(tsv_jobs *j, const char *body, size_t len, const tsv_job_user *u, tsv_buf *out,
                    tsv_error *err);
int tsv_jobs_get(tsv_jobs *j, const char *id, tsv_buf *out, tsv_error *err);
/* body: {"desiredExecutionStatus":"canceled"|"running"}. */
int tsv_jobs_update(tsv_jobs *j, const char *id, const char *body, size_t len,
                    const tsv_job_user *u, tsv_buf *out, tsv_error *err);
int tsv_jobs_logs(tsv_jobs *j, const char *id, tsv_buf *out, tsv_error *err);
int tsv_jobs_metrics(tsv_jobs *j, const char *id, tsv_buf *out, tsv_error *err);

#define TSV_JOBS_FILTER_MAX 16
typedef struct tsv_jobs_query {
    const char *status[TSV_JOBS_FILTER_MAX];
    int n_status;
    const char *health[TSV_JOBS_FILTER_MAX];
    int n_health;
    const char *type[TSV_JOBS_FILTER_MAX];
    int n_type;
    uint64_t limit; /* 1..1000 */
    uint64_t offset;
    const char *search;      /* NULL = none */
    const char *sort_column; /* validated by tsv_jobs_sort_column_valid */
    int ascending;
} tsv_jobs_query;

int tsv_jobs_status_valid(const char *s);
int tsv_jobs_health_valid(const char *s);
int tsv_jobs_type_valid(const char *s);
int tsv_jobs_sort_column_valid(const char *s);
int tsv_jobs_list(tsv_jobs *j, const tsv_jobs_query *q, tsv_buf *out, tsv_error *err);

/* Calls fn once per (type, executionStatus) of the jobs held, every status
 * of each type present (zeros included), outside the manager's lock. For
 * the metrics (docs/operations.md "Metrics"). Returns 0. */
typedef void (*tsv_jobs_count_fn)(void *ctx, const char *type, const char *status, uint64_t n);
int tsv_jobs_counts(tsv_jobs *j, tsv_jobs_count_fn fn, void *ctx);
/* 1 if a pending or running job holds lock key `key` exactly ("conn:<name>"
 * for a connection's pulls). */
int tsv_jobs_active_key(tsv_jobs *j, const char *key);

/* Point-in-time recovery (docs/api.md): body {"target_time", ...} becomes a
 * job of type "pitr"; *out gets {"status":"queued","jobId"}. TSV_EINVALID for
 * a bad or out-of-range target (the message says the range), TSV_ECONFLICT
 * when a PITR job is already queued or running. */
int tsv_jobs_pitr_create(tsv_jobs *j, const char *body, size_t len, const tsv_job_user *u,
                         tsv_buf *out, char *job_id, size_t job_id_len, tsv_error *err);
/* {"status": queued|running|done|failed|deleted, "jobId", "target_time",
 * "description"?}; TSV_ENOTFOUND unless id is a PITR job. */
int tsv_jobs_pitr_status(tsv_jobs *j, const char *id, tsv_buf *out, tsv_error *err);

#endif
