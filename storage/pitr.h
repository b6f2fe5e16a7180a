/*
 * pitr: point-in-time recovery of the whole store (docs/storage.md
 * "Point-in-time recovery"). Facade header: the jobs layer (jobs/job_pitr.c)
 * and the server (range) include it.
 *
 * Range: tsv_pitr_range gives [start, end]: end is now; start is the latest
 * of
 *   - the beginning of the KV change log (kv_history.h: when this data
 *     directory first ran with the log),
 *   - the last restore/kv or restore/sql (barriers: they replace the KV or
 *     SQL file whole and are not in the change log),
 *   - the soft-delete time of every purged shard version (its files are
 *     gone: a moment at which it was in use cannot be rebuilt).
 *
 * Restore to T (tsv_pitr_restore), under the store's exclusive lock:
 *   1. a new generation state.staging-<G>/ is built: the live KV copied
 *      (LMDB compact copy, job records and change log included) and rewound
 *      to T with the change log (the undo is itself logged, so the PITR can
 *      be undone by a later PITR); the live SQL file hard-linked (unchanged
 *      since T: no restore/sql barrier after T); for every shard of the
 *      rewound tsdb meta, the catalogue version that was in force at T
 *      (created <= T < soft-deleted, the latest such) hard-linked from its
 *      objects, marked with a fresh generation; a shard with no version in
 *      force at T gets an empty directory;
 *   2. the catalogue changes are written to <staging>/.tsv-pitr (one line per
 *      shard: the version to bring back as a new in-use version, and its
 *      marker), and the caller's final job record into the new KV;
 *   3. one renameat2(RENAME_EXCHANGE) of state/ and the staging directory
 *      (tsv_store_swap_generation); the previous generation goes to the trash
 *      (its shard files are objects: nothing is lost).
 *   4. opening the new generation applies .tsv-pitr to the catalogue in one
 *      transaction (tsv_pitr_apply_pending: every slot gets a new in-use
 *      version, copy of the chosen one; the version in use before is
 *      soft-deleted by "pitr"), then removes the file.
 * With a scope (options below), step 1 differs: the live KV is copied twice,
 * one copy rewound to T, and the scope's records and tsdb databases are
 * written from that copy into the other (pitr_scope.h); shards outside the
 * scope are hard-linked from the live generation as they are (same marker,
 * no catalogue change), the scope's shards are handled as above.
 * A crash before 3 leaves the old state (the staging directory is deleted at
 * start-up); after 3, start-up finishes 4 (it is idempotent). Nothing
 * half-restored is ever served: the exchange is one system call.
 *
 * Errors: TSV_EINVALID (target outside the range, the message says the
 * range; a malformed scope ID), TSV_ENOTFOUND (the scope's org or bucket
 * exists neither now nor at T; the message says which), TSV_ENOSPACE, others
 * as they come. Thread-safety: thread-safe
 * (takes the store's locks itself); one PITR at a time is the caller's rule
 * (the jobs layer allows one queued or running PITR job).
 */
#ifndef TSV_PITR_H
#define TSV_PITR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "tsv_error.h"

typedef struct tsv_pitr_range {
    int64_t start_ns, end_ns;
    char start_reason[160]; /* what bounds start ("change log begins", ...) */
} tsv_pitr_range;

int tsv_pitr_range_get(tsv_store *s, tsv_pitr_range *out, tsv_error *err);

/* Checks target_ns against the range: TSV_EINVALID "target time ... is
 * outside the restorable range [start, end]" (or "in the future"). */
int tsv_pitr_check_target(tsv_store *s, int64_t target_ns, tsv_error *err);

typedef struct tsv_pitr_options {
    const char *op_id; /* job ID (recorded in the catalogue and the log mark); may be NULL */
    /* Scope (docs/storage.md "Point-in-time recovery of one org or bucket"):
     * NULL or "" = the whole server; otherwise 16 hex digits, at most one of
     * the two. Only the org's (its buckets', tokens', DBRP mappings') or the
     * bucket's records, tsdb databases and shards go back to the target time;
     * everything else stays as it is now. */
    const char *org_id;
    const char *bucket_id;
    /* The caller's final record of its job, put into the new KV's job
     * database right before the exchange (so the job reads "completed" in
     * the new state and "running" in the old one). May be NULL. Returns a
     * malloc'd record (freed by the callee) or NULL. */
    char *(*final_job_record)(void *ctx, size_t *len);
    void *ctx;
    void (*log)(void *ctx, const char *level, const char *msg); /* may be NULL */
} tsv_pitr_options;

typedef struct tsv_pitr_result {
    uint64_t kv_changes_undone; /* with a scope: in the scratch copy rewound to T */
    uint64_t kv_records_put, kv_records_deleted; /* with a scope: records changed */
    size_t shards;                               /* shard directories in the new generation */
    size_t empty_shards;                         /* of which had no version in force at T */
    uint64_t files;                              /* files linked */
    uint64_t bytes;                              /* their size (linked, not copied) */
} tsv_pitr_result;

int tsv_pitr_restore(tsv_store *s, int64_t target_ns, const tsv_pitr_options *opt,
                     tsv_pitr_result *out, tsv_error *err);

/* Internal to storage/ (store_state.c): applies state/.tsv-pitr, if any. */
int tsv_pitr_apply_pending(tsv_store *s, tsv_error *err);

#endif
