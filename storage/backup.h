/*
 * backup: consistent snapshots for the /api/v2/backup endpoints.
 *
 * A metadata snapshot is taken under the store's shared lock (so no KV or
 * SQL swap can happen while it lives) with ONE LMDB read transaction for
 * both the bolt export and the bucket manifests, and an SQLite online-backup
 * copy of the SQL store: all three parts describe the same moment, and a
 * concurrent bucket restore is either wholly in or wholly out.
 *
 * A shard snapshot hard-links the shard's TSM and tombstone files into a
 * private directory under the shard lock (a few milliseconds), then streams
 * them as a tar without holding any lock; entry names are
 * "<bucketID>/<rp>/<shardID>/<file>" as influxd writes them.
 *
 * Writers receive bytes in order; an error in the middle is returned as is
 * (the HTTP layer then aborts the connection). Ownership: *_end / *_free
 * release a snapshot and its temp files. Errors: int 0/-1 with tsv_error.
 */
#ifndef TSV_BACKUP_H
#define TSV_BACKUP_H

#include <stdint.h>

#include "store.h"
#include "stream.h"

typedef struct tsv_metadata_snapshot tsv_metadata_snapshot;

int tsv_store_metadata_snapshot(tsv_store *s, tsv_metadata_snapshot **out, tsv_error *err);
int tsv_metadata_snapshot_write_kv(tsv_metadata_snapshot *snap, tsv_writer *w, tsv_error *err);
int tsv_metadata_snapshot_write_sql(tsv_metadata_snapshot *snap, tsv_writer *w, tsv_error *err);
/* JSON array of BucketMetadataManifest + "\n" (docs/api.md, "GET /api/v2/backup/metadata"). */
int tsv_metadata_snapshot_write_buckets(tsv_metadata_snapshot *snap, tsv_writer *w, tsv_error *err);
void tsv_metadata_snapshot_end(tsv_metadata_snapshot *snap);

/* GET /backup/kv: the bolt export alone (same consistency). */
int tsv_store_backup_kv(tsv_store *s, tsv_writer *w, tsv_error *err);

typedef struct tsv_shard_snapshot tsv_shard_snapshot;

/* since_ns: only files whose mtime is strictly after it, or every file when the
 * shard's in-use vault version was installed after it (INT64_MIN = all).
 * TSV_ENOTFOUND for a shard the meta does not list. */
int tsv_store_shard_snapshot(tsv_store *s, uint64_t shard_id, int64_t since_ns,
                             tsv_shard_snapshot **out, tsv_error *err);
int tsv_shard_snapshot_write_tar(tsv_shard_snapshot *snap, tsv_writer *w, tsv_error *err);
/* Keeps only what overlaps [start_ns, end_ns] (a 1.x shard export,
 * `influxd backup -start/-end`): TSM files inside the range whole, files that
 * overlap it cut to the overlapping blocks (tsm_filter.h, in the snapshot's
 * private directory), others and their tombstones dropped. */
int tsv_shard_snapshot_time_filter(tsv_shard_snapshot *snap, int64_t start_ns, int64_t end_ns,
                                   tsv_error *err);
/* Renames the entries' "<db>/<rp>/<id>" part (the 1.x view names them by
 * database and RP instead of bucket ID). */
int tsv_shard_snapshot_set_prefix(tsv_shard_snapshot *snap, const char *prefix, tsv_error *err);
void tsv_shard_snapshot_free(tsv_shard_snapshot *snap);

#endif
