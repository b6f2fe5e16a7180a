/*
 * job_pitr: the `pitr` job type, a point-in-time restore of the whole store,
 * or of one org or bucket when org_id or bucket_id is non-empty (storage/pitr.h; docs/api.md "Point-in-time recovery"). The job runs
 * tsv_pitr_restore: one exchange of the state generation, nothing to roll
 * back if it fails (the old generation stays live). It cannot be canceled
 * once started (the build holds the store's exclusive lock and takes
 * milliseconds to seconds: links, not copies).
 *
 * final_record (may be NULL) gives the job's record as it must read in the
 * new state ("completed"): it is written into the new generation's job
 * database before the exchange, so a crash right after the exchange does
 * not make the restored state report the job as interrupted.
 *
 * Returns 0 done, -1 error (err). Thread-safety: one run per call.
 */
#ifndef TSV_JOB_PITR_H
#define TSV_JOB_PITR_H

#include <stddef.h>
#include <stdint.h>

#include "job_restore.h"
#include "store.h"
#include "tsv_error.h"

int tsv_job_pitr_run(tsv_store *s, const char *job_id, int64_t target_ns, const char *org_id,
                     const char *bucket_id, const tsv_job_ops *ops, void *ctx,
                     char *(*final_record)(void *ctx, size_t *len), tsv_error *err);

#endif
