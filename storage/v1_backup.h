/*
 * v1_backup: the store seen as an InfluxDB 1.x server, for backups in 1.x
 * form (the snapshotter protocol's metastore, database-info and shard
 * requests; docs/api.md "InfluxDB 1.x backup protocol").
 *
 * tsv_store_v1_view builds the 1.x view (v1_meta.h) of one org under the
 * shared lock in one read transaction; the shard snapshot is backup.h's
 * (hard-linked files, streamed without a lock) with entry names
 * "<db>/<rp>/<shardID>/<file>" as influxd writes them.
 *
 * Ownership: the view is freed with tsv_v1_view_free, the meta bytes with
 * free(), the snapshot with tsv_shard_snapshot_free.
 * Thread-safety: all functions are thread-safe.
 * Errors: int 0/-1 with tsv_error; a shard the view does not hold is
 * TSV_ENOTFOUND.
 */
#ifndef TSV_V1_BACKUP_H
#define TSV_V1_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "backup.h"
#include "store.h"
#include "v1_meta.h"

/* org: name or ID; NULL/"" = the first organization. With no organization at
 * all the view is empty (not an error). */
int tsv_store_v1_view(tsv_store *s, const char *org, tsv_v1_view **out, tsv_error *err);
/* The view's meta.Data, encoded. *out is malloc'd. */
int tsv_v1_view_encode(const tsv_v1_view *v, uint8_t **out, size_t *len, tsv_error *err);
/* since_ns: only files modified strictly after it (INT64_MIN = all). */
int tsv_store_v1_shard_snapshot(tsv_store *s, const tsv_v1_view *v, uint64_t shard_id,
                                int64_t since_ns, tsv_shard_snapshot **out, tsv_error *err);
/* The shard cut to [start_ns, end_ns] (tsv_shard_snapshot_time_filter). */
int tsv_store_v1_shard_export(tsv_store *s, const tsv_v1_view *v, uint64_t shard_id,
                              int64_t start_ns, int64_t end_ns, tsv_shard_snapshot **out,
                              tsv_error *err);

#endif
