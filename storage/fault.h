/*
 * fault: named fault-injection points for crash and disk-full tests (in the
 * style of pgBackRest's and libgit2's test hooks).
 *
 * The environment variable TSVAULT_FAULT selects at most one point and what
 * happens there, as "<point>:<action>":
 *   pause   the first thread that reaches the point logs
 *             msg="fault point reached" point=<point>
 *           and then sleeps forever, so a test can kill -9 the process at
 *           exactly that step and check what recovery makes of it;
 *   enospc  the first call of tsv_fault_check at the point fails with
 *           TSV_ENOSPACE, as if write(2) had reported ENOSPC; later calls
 *           pass, so the same server can show that it recovers;
 *   slow[N] every pass through the point logs it and sleeps N seconds
 *           (default 2),
 *           so a test can act while an operation is in progress.
 * Any other value is ignored with a warning at start-up.
 *
 * Points (the call sites): shard-before-exchange, shard-after-exchange,
 * shard-write (shard_install.c); kv-before-exchange, kv-after-exchange
 * (restore_kv.c); upload-write (upload.c); job-member (before each archive
 * member a restore job restores, jobs/job_restore.c); tier-recover-after-catalog,
 * tier-recover-before-state (a recovery from S3, tier.c).
 *
 * The variable is read once, before main (a constructor), so an unset
 * TSVAULT_FAULT costs one relaxed atomic load per call and nothing else.
 * tsv_fault_configure replaces the setting at run time (for unit tests).
 * Thread-safety: all functions are thread-safe; a one-shot action fires in
 * exactly one thread.
 */
#ifndef TSV_FAULT_H
#define TSV_FAULT_H

#include <stdatomic.h>

#include "tsv_error.h"

/* Non-zero while some point is armed (internal: read by the inline checks). */
extern atomic_int tsv_fault_armed_;

int tsv_fault_check_slow_(const char *name, tsv_error *err);

/* A point where the process may pause (a crash site). Never fails. */
static inline void tsv_fault_point(const char *name)
{
    if (atomic_load_explicit(&tsv_fault_armed_, memory_order_relaxed))
        (void)tsv_fault_check_slow_(name, NULL);
}

/* A point that may also fail: returns -1 with TSV_ENOSPACE when an enospc
 * action fires here, else 0 (after pausing forever for a pause action). */
static inline int tsv_fault_check(const char *name, tsv_error *err)
{
    if (atomic_load_explicit(&tsv_fault_armed_, memory_order_relaxed))
        return tsv_fault_check_slow_(name, err);
    return 0;
}

/* Re-arms from a "<point>:<action>" spec; NULL or "" disarms. Returns -1
 * (and disarms) if the spec is malformed. */
int tsv_fault_configure(const char *spec);

#endif
