/*
 * vault_ops: the two data operations of the vault, delete_data and
 * restore_data (docs/storage.md "The vault"), as storage-level functions.
 * The jobs layer runs them as the `delete_data` / `restore_data` job types;
 * tests call them directly.
 *
 * Model. A bucket's data lives in shard slots (retention policy, shard group
 * interval [start, end)); each slot has versions in the catalogue
 * (catalog.h): at most one version is *in use* (what backups and the influx
 * CLI see), the others are *soft-deleted* (restorable until purged) or
 * *purged*. Neither operation copies data: a version is a list of
 * content-addressed objects, and changing which version is in use is a
 * directory exchange of hard links plus one catalogue transaction.
 *
 * delete_data(bucket, intervals[n]) — every interval [start, end):
 *   - a slot whose group interval lies wholly inside an interval: its
 *     in-use version is soft-deleted (the live shard directory becomes
 *     empty). Outcome TSV_VAULT_SOFT_DELETED.
 *   - a slot that overlaps an interval only in part: a NEW version is made
 *     and put in use whose tombstones remove exactly the points of the
 *     overlap (every series and field of every TSM file, inclusive
 *     [max(start, group start), min(end, group end) - 1]); the previous
 *     version is soft-deleted. Data outside the interval is unchanged.
 *     Outcome TSV_VAULT_TOMBSTONED. A slot whose TSM files hold no key in
 *     the overlap is left alone (TSV_VAULT_UNCHANGED, "no data in the
 *     interval").
 *   - a slot with no version in use: TSV_VAULT_UNCHANGED.
 *   Several intervals are applied slot by slot (a partly covered slot gets
 *   one new version covering all its overlaps).
 *
 * restore_data(bucket, interval) — exactly ONE interval; for every slot
 * overlapping it that has a soft-deleted (not purged) version:
 *   - the candidate is opt->version if non-zero (slots without a
 *     soft-deleted version of that number: TSV_VAULT_UNCHANGED), else the
 *     slot's highest soft-deleted version that is not a delete_data
 *     tombstone version (restoring one would delete again; choose it
 *     explicitly if wanted). So restore_data undoes every delete_data on
 *     the slot since that version, and running it twice changes nothing
 *     the second time;
 *   - nothing in use, or a LOWER version in use: the candidate is put in
 *     use, the lower one soft-deleted (the higher version wins, as in
 *     Polaris). Outcome TSV_VAULT_RESTORED;
 *   - a HIGHER version in use that delete_data derived from the candidate
 *     (its tombstone version, directly or through further delete_data
 *     versions): the candidate is put back, that version soft-deleted.
 *     TSV_VAULT_RESTORED; the shard is then byte-identical to before the
 *     delete;
 *   - the version rule: any other HIGHER version in use: the slot is
 *     REFUSED with reason "version N is in use; soft-delete it first"
 *     (N = the in-use version); the other slots are still restored.
 *
 * Inputs: `bucket_id` is the 16-hex bucket ID. A bucket that no longer
 * exists (DELETE /api/v2/buckets/{id}) is looked up in the catalogue
 * instead: restore_data first recreates it exactly as it was (same ID,
 * name, org, retention policy, shard groups: tsv_store_vault_bucket_undelete,
 * store_vault.h; TSV_ECONFLICT if its name was taken meanwhile, nothing
 * changed), then restores the interval as for any bucket (the bucket's other
 * intervals stay soft-deleted: restore them with more restore_data calls).
 * A bucket deleted before tsvault kept deleted buckets' definitions cannot
 * be recreated: each of its slots is refused with the reason.
 * Intervals come from tsv_interval_parse (common/interval.h): half-open
 * [start_ns, end_ns), start < end, both bounded.
 *
 * Validation happens before anything changes: an unknown bucket is
 * TSV_ENOTFOUND, n == 0 or a bad interval TSV_EINVALID; then the function
 * returns 0 and every per-slot outcome, including refusals, is in *out.
 *
 * Atomicity: the whole operation is one catalogue transaction. delete_data
 * first prepares every slot (reads its in-use version, writes and stores
 * the new tombstones as objects), then commits all slots' new states at
 * once, then rebuilds each shard directory from the catalogue. A failure or
 * a crash before the commit changes nothing (objects already stored are
 * unreferenced: the GC removes them); after it, the operation is done (a
 * directory not yet rebuilt is rebuilt at the next start-up). So after any
 * error or kill -9 the bucket holds the old data or the new data, never a
 * mix. Errors: TSV_ENOSPACE for a full disk (HTTP 507), others as they come;
 * on -1 before the commit *out is empty; on -1 after it (a directory could
 * not be rebuilt now) *out has every slot's outcome.
 *
 * Progress: opt->progress (may be NULL) is called after each slot is
 * prepared (delete_data) or decided (restore_data), with (done, total, that
 * slot's planned result); a non-zero return cancels like the flag does.
 * Cancellation: *opt->cancel (may be NULL) is read before each slot and
 * between the TSM files of a slot, all before the commit: once seen, the
 * function returns 0 with out->cancelled = 1, out->count = 0 and NOTHING
 * changed (out->total says how many slots there were).
 *
 * opt->op_id (may be NULL) names the operation in the catalogue ("soft
 * deleted by"): pass the job ID; NULL records "delete_data" /
 * "restore_data" alone.
 *
 * Locks: takes the store's shared lock and the shard locks of every slot
 * it changes (for the whole operation: O(files), no data is copied); safe
 * to call concurrently with backups, restores and other vault operations.
 * Ownership: *out is filled by the call (zero it first or not: it is
 * overwritten) and released with tsv_vault_result_clear.
 */
#ifndef TSV_VAULT_OPS_H
#define TSV_VAULT_OPS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "interval.h"
#include "store.h"
#include "tsv_error.h"

typedef enum tsv_vault_outcome {
    TSV_VAULT_SOFT_DELETED = 1, /* the in-use version was soft-deleted */
    TSV_VAULT_TOMBSTONED,       /* a new version hides the interval's points */
    TSV_VAULT_RESTORED,         /* a soft-deleted version is in use again */
    TSV_VAULT_UNCHANGED,        /* nothing to do; reason says why */
    TSV_VAULT_REFUSED,          /* not done; reason says why (version rule, ...) */
} tsv_vault_outcome;

/* "soft_deleted", "tombstoned", "restored", "unchanged", "refused". */
const char *tsv_vault_outcome_name(tsv_vault_outcome o);

typedef struct tsv_vault_shard_result {
    uint64_t shard_id;
    char rp[256];
    int64_t start_ns, end_ns; /* the shard group's interval [start, end) */
    uint64_t from_version;    /* version in use before (0: none) */
    uint64_t to_version;      /* version in use after (0: none) */
    tsv_vault_outcome outcome;
    char reason[256]; /* set for UNCHANGED and REFUSED, else "" */
} tsv_vault_shard_result;

typedef struct tsv_vault_result {
    tsv_vault_shard_result *shards; /* malloc'd, `count` entries, by interval */
    size_t count;
    size_t cap;     /* allocated length of shards (array_grow.h) */
    size_t total;   /* slots the operation had to look at */
    int cancelled;  /* 1: stopped early by the cancel flag or progress */
    uint64_t files; /* files linked into shard directories */
} tsv_vault_result;

void tsv_vault_result_clear(tsv_vault_result *r);
/* Appends a copy of sr to r->shards (TSV_EINTERNAL when out of memory). */
int tsv_vault_result_add(tsv_vault_result *r, const tsv_vault_shard_result *sr, tsv_error *err);

/* Return non-zero to cancel. Called on the calling thread. */
typedef int (*tsv_vault_progress_fn)(void *ctx, size_t done, size_t total,
                                     const tsv_vault_shard_result *last);

typedef struct tsv_vault_op_options {
    tsv_vault_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    const atomic_int *cancel; /* may be NULL; non-zero = cancel */
    const char *op_id;        /* may be NULL; e.g. the job ID */
    uint64_t version;         /* restore_data: 0 = automatic */
} tsv_vault_op_options;

/* opt may be NULL (no progress, no cancel, automatic version). */
int tsv_vault_delete_data(tsv_store *s, const char *bucket_id, const tsv_interval *intervals,
                          size_t n, const tsv_vault_op_options *opt, tsv_vault_result *out,
                          tsv_error *err);
int tsv_vault_restore_data(tsv_store *s, const char *bucket_id, const tsv_interval *interval,
                           const tsv_vault_op_options *opt, tsv_vault_result *out, tsv_error *err);

#endif
