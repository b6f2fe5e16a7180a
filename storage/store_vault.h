/*
 * store_vault: the store's side of the vault (internal to storage/): which
 * shards are live, recording shard uploads as versions, bucket deletion,
 * and the listing behind unusedShards. Callers hold the store's shared
 * lock unless said otherwise. Errors: int 0/-1 with tsv_error.
 */
#ifndef TSV_STORE_VAULT_H
#define TSV_STORE_VAULT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "shard_install.h"
#include "store.h"

typedef struct tsv_live_shard {
    tsv_slot_key slot;
    uint64_t shard_id;
    char dir[PATH_MAX];
    char org_id[17];
    char bucket_name[256];
} tsv_live_shard;

/* Shards of non-deleted groups in the live meta, of database `bucket`
 * (NULL: all), ordered by interval then rp. *out is malloc'd (caller
 * frees). *db_exists (may be NULL): whether `bucket` is a tsdb database. */
int tsv_store_live_shards(tsv_store *s, const char *bucket, tsv_live_shard **out, size_t *n,
                          int *db_exists, tsv_error *err);

/* One live shard by ID (TSV_ENOTFOUND "shard N not found"). */
int tsv_store_live_shard(tsv_store *s, uint64_t shard_id, tsv_live_shard *out, tsv_error *err);

/* The hook shard uploads pass to tsv_shard_restore_from_tar: records the
 * staging directory's files as the slot's new in-use version and
 * soft-deletes the previous one ("shard-restore"). */
typedef struct tsv_upload_hook_ctx {
    tsv_store *s;
    tsv_live_shard shard;
    tsv_version prev; /* the version soft-deleted, if had_prev */
    int had_prev;
    uint64_t new_version;
} tsv_upload_hook_ctx;
void tsv_store_vault_upload_hook(tsv_upload_hook_ctx *ctx, tsv_shard_install_hook *hook);

/* Records a shard directory that was installed by other means than an
 * upload hook (the 1.x restore's commit renames staged shards into place)
 * as its slot's new in-use version; the previous in-use version, if any, is
 * soft-deleted. names/hex/n: the files written into `dir` and their SHA-256
 * (as shard_install's hook gives them); gen: dir's generation marker.
 * Caller holds the store's shared lock. */
int tsv_store_vault_record_installed(tsv_store *s, uint64_t shard_id, const char *dir, uint64_t gen,
                                     const char *const *names, const char (*hex)[65], size_t n,
                                     tsv_error *err);

/* After DELETE /api/v2/buckets/{id} committed: every in-use version of the
 * bucket becomes soft-deleted ("bucket-delete") and its shard directories
 * are removed (their files are objects). */
int tsv_store_vault_bucket_deleted(tsv_store *s, const char *bucket_id, tsv_error *err);

/* Before DELETE /api/v2/buckets/{id} removes the bucket from the KV (in the
 * same KV transaction, before its commit): keeps the bucket's tenant record
 * and tsdb database in the catalogue ("deleted-bucket:<id>",
 * vault_bucket.c), so the bucket can be recreated. An unknown bucket is 0. */
struct tsv_kv_txn;
int tsv_store_vault_bucket_remember(tsv_store *s, struct tsv_kv_txn *txn, const char *bucket_id,
                                    tsv_error *err);
/* Recreates a deleted bucket exactly as it was (same ID, name, org, dates,
 * retention policy and shard groups, empty shard directories) from that
 * record; *undeleted = 0 if the catalogue has no record of it. TSV_ECONFLICT
 * when its name or shard IDs are taken meanwhile, or its org is gone
 * (TSV_ENOTFOUND). Its shard versions stay soft-deleted: restore_data brings
 * them back. The caller holds the shared lock. */
int tsv_store_vault_bucket_undelete(tsv_store *s, const char *bucket_id, int *undeleted,
                                    tsv_error *err);

/* Runs the purge (grace period, quota) and the GC once, now. */
int tsv_store_vault_purge_now(tsv_store *s, tsv_error *err);

/* One soft-deleted shard version, for unusedShards. */
typedef struct tsv_unused_shard {
    const tsv_version *v; /* borrowed for the call */
    int64_t purge_due_ns; /* INT64_MAX: never (retention < 0) */
} tsv_unused_shard;
typedef int (*tsv_unused_shard_fn)(void *ctx, const tsv_unused_shard *u, tsv_error *err);

/* The soft-deleted versions of a bucket, ordered by interval then version.
 * The bucket is found by ID (live or only in the catalogue), or, with
 * bucket_id NULL, by org ID and bucket name. TSV_ENOTFOUND if neither the
 * tenant store nor the catalogue knows it. Takes the shared lock itself. */
int tsv_store_unused_shards(tsv_store *s, const char *bucket_id, const char *org_id,
                            const char *bucket_name, tsv_unused_shard_fn fn, void *ctx,
                            tsv_error *err);

#endif
