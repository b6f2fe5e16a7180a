/*
 * job_restore: the `restore` job type. Restores a staged influx-backup or
 * influxdb1-portable archive through the same storage functions as the HTTP
 * restore API (storage/restore.h), doing what `influx restore` does:
 *   partial (target type "bucket"): per bucket of the archive (system
 *     buckets "_..." skipped, optionally only bucketName), resolve or create
 *     the org (newOrgName or the backed-up org), restore/bucketMetadata with
 *     the new names, then every shard into its mapped new ID;
 *   full (target type "full", influx-backup only): restore/kv, restore/sql,
 *     then every shard under its original ID.
 * influxdb1-portable: each 1.x database/RP becomes the bucket "db/rp" in
 * newOrgName or the job creator's org (import_1x.h).
 *
 * Cancellation is checked before every archive member; a partial restore
 * that stops (cancel, error, shutdown) is rolled back by deleting the buckets
 * it created (the caller does that from the IDs reported through
 * created_bucket, which it persists first, so a restart can do it too).
 * A full restore honours a cancel only before its KV swap: after it, the
 * previous KV generation is in the trash and the restore runs to its end.
 *
 * Returns 0 done, 1 canceled (nothing of it kept beyond what rollback
 * removes), -1 error (err). Thread-safety: one run per call; the callbacks
 * are called from the calling thread.
 */
#ifndef TSV_JOB_RESTORE_H
#define TSV_JOB_RESTORE_H

#include <stdint.h>

#include "files_store.h"
#include "job_ops.h"
#include "store.h"
#include "tsv_error.h"

typedef struct tsv_restore_spec {
    const char *file; /* staged file name */
    int full;
    const char *bucket;         /* NULL: every bucket */
    const char *new_bucket;     /* NULL: keep */
    const char *new_org;        /* NULL: keep (1.x: the creator's org) */
    const char *creator_org_id; /* "" if the creator's token has none */
} tsv_restore_spec;

int tsv_job_restore_run(tsv_store *s, tsv_files *f, const tsv_restore_spec *spec,
                        const tsv_job_ops *ops, void *ctx, tsv_error *err);

#endif
