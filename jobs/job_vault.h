/*
 * job_vault: the job types over the vault (docs/api.md "Jobs API"):
 *   delete_data   target a bucket, one or more ISO 8601 intervals
 *                 (target.intervals, or "intervals" at the top level);
 *   restore_data  target a bucket, exactly ONE interval ("interval" at the
 *                 top level as in the seed's example, or a one-element
 *                 target.intervals / "intervals"); optional "version";
 *   verify        target {"type":"full"} (default) or a bucket; optional
 *                 "maxBytesPerSecond" (the verify I/O rate bound).
 * The target is {"type":"table","tableName":N} (the seed's shape, taken as
 * a bucket name) or {"type":"bucket","bucketName":N} or
 * {"type":"bucket","bucketID":ID}; a name is looked up in target.orgName /
 * target.orgID, else in the creator's organization, else (operator tokens
 * without one) in every organization, where it must be unique. A bucket ID
 * may name a deleted bucket the vault still holds versions of.
 *
 * The vault operations are atomic (storage/vault_ops.h): a cancel is
 * honoured until their single catalogue commit (then nothing changed); a
 * crash before it changes nothing, after it the change is complete. So a
 * restart needs no rollback; tsv_job_vault_committed tells which side of
 * the commit an interrupted job was on (from the catalogue's "soft deleted
 * by" = the job ID). verify never changes data.
 *
 * Errors: int 0/-1 with tsv_error; TSV_EINVALID naming the field for bad
 * requests (unknown buckets included). Thread-safety: reentrant.
 */
#ifndef TSV_JOB_VAULT_H
#define TSV_JOB_VAULT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "interval.h"
#include "job_ops.h"
#include "json.h"
#include "store.h"
#include "tsv_error.h"

#define TSV_JOB_MAX_INTERVALS 64

typedef enum tsv_vault_job_kind {
    TSV_VJOB_DELETE_DATA = 1,
    TSV_VJOB_RESTORE_DATA,
    TSV_VJOB_VERIFY,
} tsv_vault_job_kind;

typedef struct tsv_vault_job {
    tsv_vault_job_kind kind;
    char bucket_id[17];    /* "" = no bucket (verify of everything) */
    char bucket_name[256]; /* for logs, sorting and the lock key */
    tsv_interval intervals[TSV_JOB_MAX_INTERVALS];
    size_t n_intervals;
    uint64_t version;           /* restore_data: 0 = automatic */
    uint64_t max_bytes_per_sec; /* verify: 0 = unlimited */
} tsv_vault_job;

/* 1 if type is one of the three. */
int tsv_job_vault_type(const char *type, tsv_vault_job_kind *kind);

/* Checks the request `root` and resolves its bucket. known_bucket_id
 * (non-NULL when a persisted job is loaded): the ID resolved at creation,
 * used instead of a new lookup. */
int tsv_job_vault_bind(tsv_store *s, tsv_vault_job_kind kind, const tsv_json *root,
                       const char *creator_org_id, const char *known_bucket_id, tsv_vault_job *out,
                       tsv_error *err);

typedef struct tsv_vault_job_outcome {
    int warn;          /* finished, but with refusals (version rule) or problems */
    char message[512]; /* health message when warn */
} tsv_vault_job_outcome;

/* Runs the job. cancel: the job's flag (read between shards/files).
 * ops: log, totals/advance (shards; verify: bytes and files); created_bucket
 * is not used. Returns 0 done, 1 canceled (nothing changed), -1 error. */
struct tsv_tier;
/* tier (may be NULL): a full verify also checks the copies in S3. */
int tsv_job_vault_run(tsv_store *s, struct tsv_tier *tier, const tsv_vault_job *vj,
                      const char *job_id, const atomic_int *cancel, const tsv_job_ops *ops,
                      void *ctx, tsv_vault_job_outcome *out, tsv_error *err);

/* For a job interrupted by a restart: *committed = 1 if its change is in the
 * catalogue (some version was soft-deleted by job_id). verify: always 0. */
int tsv_job_vault_committed(tsv_store *s, const tsv_vault_job *vj, const char *job_id,
                            int *committed, tsv_error *err);

#endif
