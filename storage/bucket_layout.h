/*
 * bucket_layout: where a bucket's data lives, read from the live KV in one
 * transaction: the bucket record, its retention policies (sorted by name)
 * and the shards of their non-deleted shard groups (sorted by ID), each with
 * its directory and time range. Used by export, statistics and verify.
 *
 * Errors: TSV_ENOTFOUND "bucket not found" / "retention policy ... not
 * found". Ownership: tsv_bucket_layout_free. Thread-safety: the store's
 * (takes the shared lock while it reads).
 */
#ifndef TSV_BUCKET_LAYOUT_H
#define TSV_BUCKET_LAYOUT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "tsv_error.h"

typedef struct tsv_layout_shard {
    uint64_t id;
    uint64_t group_id;
    int64_t start, end; /* the shard group's [start, end) */
    char dir[PATH_MAX];
} tsv_layout_shard;

typedef struct tsv_layout_rp {
    char *name;
    int64_t duration, shard_group_duration;
    size_t n_shards;
    tsv_layout_shard *shards;
} tsv_layout_rp;

typedef struct tsv_bucket_layout {
    char bucket_id[17];
    char org_id[17];
    char *bucket_name;
    size_t n_rps;
    tsv_layout_rp *rps;
} tsv_bucket_layout;

/* rp: NULL for every RP, else only that one (TSV_ENOTFOUND if absent). */
int tsv_store_bucket_layout(tsv_store *s, const char *bucket_id, const char *rp,
                            tsv_bucket_layout **out, tsv_error *err);
void tsv_bucket_layout_free(tsv_bucket_layout *l);

/* Finds a bucket by organization name and bucket name. */
int tsv_store_bucket_find(tsv_store *s, const char *org_name, const char *bucket_name,
                          char id_out[17], tsv_error *err);

/* Every user/system bucket ID that has a tsdb database (ascending). */
int tsv_store_bucket_ids(tsv_store *s, char (**ids)[17], size_t *n, tsv_error *err);

#endif
