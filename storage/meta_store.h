/*
 * meta_store: the tsdb meta (meta.Data) as kept in the KV tree, bucket
 * "v1_tsm1_metadata", key "meta.db" (docs/formats.md#kv-meta).
 *
 * load decodes it inside the caller's transaction (a missing value gives a
 * new empty meta with a random ClusterID); save bumps Index and writes it
 * back in the same transaction, so it commits or vanishes with everything
 * else the transaction did.
 * Ownership: *out from load is freed with tsv_meta_free. Errors: 0/-1.
 */
#ifndef TSV_META_STORE_H
#define TSV_META_STORE_H

#include "kv.h"
#include "meta.h"

#define TSV_META_BUCKET "v1_tsm1_metadata"
#define TSV_META_KEY "meta.db"

/* *present (optional) tells whether meta.db existed. */
int tsv_meta_load(tsv_kv_txn *txn, Meta__Data **out, int *present, tsv_error *err);
int tsv_meta_save(tsv_kv_txn *txn, Meta__Data *data, tsv_error *err);

/* Relative paths "<db>/<rp>/<id>" of every shard in a non-deleted group.
 * Free with tsv_meta_shard_paths_free. A database or RP name that is not
 * one directory name (empty, ".", "..", or holding '/') is TSV_EINVALID:
 * the paths are created and read under engine/data/. */
int tsv_meta_shard_paths(const Meta__Data *data, char ***paths, size_t *count, tsv_error *err);
void tsv_meta_shard_paths_free(char **paths, size_t count);

#endif
