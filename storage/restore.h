/*
 * restore: the storage side of every /api/v2/restore endpoint. Each
 * function is one whole operation: it validates everything first and
 * changes the live data only at its end, atomically; on any error the
 * previous data is untouched (and data it replaces goes to the trash).
 *
 * Errors: int 0/-1 with tsv_error carrying the InfluxDB code: TSV_EINVALID
 * for bad uploads, TSV_ENOTFOUND for unknown buckets/shards/orgs,
 * TSV_ECONFLICT for name clashes, TSV_ENOSPACE when the disk is full.
 * Thread-safety: all are safe to call concurrently.
 */
#ifndef TSV_RESTORE_H
#define TSV_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "stream.h"

/* restore/kv: body is the (decoded) bbolt file. token gets the restored
 * operator token ("" when only a hashed one is stored). */
int tsv_store_restore_kv(tsv_store *s, tsv_reader *body, char *token, size_t token_len,
                         tsv_error *err);
/* The check restore/sql applies to an SQLite file (header, PRAGMA
 * integrity_check): TSV_EINVALID "invalid SQL backup: ..." when unsound. */
int tsv_sqlite_validate(const char *path, tsv_error *err);
/* restore/sql: body is the (decoded) SQLite file. */
int tsv_store_restore_sql(tsv_store *s, tsv_reader *body, tsv_error *err);

typedef struct tsv_shard_mapping {
    uint64_t old_id;
    uint64_t new_id;
} tsv_shard_mapping;

typedef struct tsv_bucket_restore_result {
    char bucket_id[17];
    char *bucket_name;
    tsv_shard_mapping *mappings; /* shards that exist after the restore */
    size_t count;
} tsv_bucket_restore_result;
void tsv_bucket_restore_result_clear(tsv_bucket_restore_result *r);

/* restore/bucketMetadata: json is one BucketMetadataManifest. Creates the
 * bucket (new ID), its database and remapped shard groups/shards, and the
 * shard directories, in one KV transaction. */
int tsv_store_restore_bucket_manifest(tsv_store *s, const char *json, size_t len,
                                      tsv_bucket_restore_result *out, tsv_error *err);
/* restore/bucket/{id}: proto is a protobuf DatabaseInfo for an existing bucket. */
int tsv_store_restore_bucket_proto(tsv_store *s, const char *bucket_id, const uint8_t *proto,
                                   size_t len, tsv_bucket_restore_result *out, tsv_error *err);
/* restore/shards/{id}: tar is the (decoded) shard archive. */
int tsv_store_restore_shard(tsv_store *s, uint64_t shard_id, tsv_reader *tar, tsv_error *err);
struct tsv_tsm_trust;
/* The same for a tar from a staged upload: TSM files whose content the
 * upload validated (tsm_trust.h; NULL = none) are not validated again. */
int tsv_store_restore_shard_trusted(tsv_store *s, uint64_t shard_id, tsv_reader *tar,
                                    const struct tsv_tsm_trust *trust, tsv_error *err);
/* The same from a kept, validated shard directory (tsv_files_kept_shard):
 * its files are hard-linked in after their SHA-256 is checked against the
 * directory's list (shard_install.h tsv_shard_install_from_dir). */
int tsv_store_restore_shard_from_dir(tsv_store *s, uint64_t shard_id, const char *src_dir,
                                     tsv_error *err);
/* Whether a restore of this shard can start: the shard exists
 * (TSV_ENOTFOUND otherwise). Checked before an upload's body is read; the
 * restore itself checks again. */
int tsv_store_restore_shard_check(tsv_store *s, uint64_t shard_id, tsv_error *err);

#endif
