/*
 * pitr_preview: what a point-in-time restore to T would change, without
 * changing anything (docs/api.md "GET /api/v2/pitr/preview"). Read from the
 * vault's catalogue history: for every shard slot, the version in use at T
 * (what tsv_pitr_restore would bring back) against the version in use now;
 * the KV and SQL pseudo-slots likewise. Buckets are summarised from their
 * shards, so a bucket that never held a shard does not appear.
 *
 * Ownership: tsv_pitr_preview_get fills a caller-owned struct; release it
 * with tsv_pitr_preview_clear. Thread-safety: thread-safe (takes the store's
 * shared lock). Errors: TSV_EINVALID (T outside the restorable range, as
 * tsv_pitr_check_target says), TSV_EINTERNAL, others from the catalogue.
 */
#ifndef TSV_PITR_PREVIEW_H
#define TSV_PITR_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "tsv_error.h"

typedef enum tsv_pitr_change_kind {
    TSV_PITR_ADDED = 1,   /* in use at T, not now: the restore brings it back */
    TSV_PITR_REMOVED = 2, /* in use now, not at T: the restore removes it */
    TSV_PITR_CHANGED = 3, /* both, another version: the restore swaps it */
} tsv_pitr_change_kind;

const char *tsv_pitr_change_name(tsv_pitr_change_kind k); /* "added", "removed", "changed" */

typedef struct tsv_pitr_shard_change {
    tsv_pitr_change_kind kind;
    char bucket_id[17];
    char bucket_name[256];
    char rp[256];
    int64_t start_ns, end_ns; /* the shard group interval */
    uint64_t shard_id;
    uint64_t version_then, version_now; /* 0: none */
    uint64_t bytes_then, bytes_now;
} tsv_pitr_shard_change;

typedef struct tsv_pitr_bucket_change {
    tsv_pitr_change_kind kind; /* added: no shard now; removed: no shard at T */
    char bucket_id[17];
    char bucket_name[256];
    size_t shards_then, shards_now;
    size_t shards_added, shards_removed, shards_changed;
} tsv_pitr_bucket_change;

typedef struct tsv_pitr_preview {
    int64_t target_ns, now_ns;
    uint64_t kv_then, kv_now, sql_then, sql_now; /* versions in use (0: none) */
    tsv_pitr_shard_change *shards;               /* only the slots that differ */
    size_t n_shards;
    size_t shards_unchanged;
    tsv_pitr_bucket_change *buckets; /* only buckets with a change */
    size_t n_buckets;
} tsv_pitr_preview;

int tsv_pitr_preview_get(tsv_store *s, int64_t target_ns, tsv_pitr_preview *out, tsv_error *err);
void tsv_pitr_preview_clear(tsv_pitr_preview *p);

#endif
