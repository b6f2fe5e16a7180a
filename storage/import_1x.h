/*
 * import_1x: what tsvault reads of an InfluxDB 1.x `influxd backup -portable`
 * directory (docs/storage.md "InfluxDB 1.x portable backups"): the .meta
 * file and how a 1.x database/retention policy becomes a 2.x bucket.
 *
 * .meta is protobuf PortableData { required bytes Data = 1; required uint64
 * MaxNodeID = 2; } with Data a meta.Data (no magic number in front).
 * A 1.x database `db` with retention policy `rp` becomes the bucket named
 * "db/rp", as InfluxDB's 1.x -> 2.x upgrade names them; the bucket's
 * database holds that RP's durations, shard groups and shards as its one
 * and default retention policy "autogen" (as every 2.x bucket's).
 *
 * Ownership: outputs are freed with tsv_meta_free / tsv_meta_free_database.
 * Errors: TSV_EINVALID naming what is wrong. Thread-safety: reentrant.
 */
#ifndef TSV_IMPORT_1X_H
#define TSV_IMPORT_1X_H

#include <stddef.h>
#include <stdint.h>

#include "meta.h"
#include "tsv_error.h"

int tsv_portable_meta_decode(const uint8_t *buf, size_t len, Meta__Data **out, tsv_error *err);

/* A copy of database db's RP rp as a one-RP DatabaseInfo named `name`
 * (TSV_ENOTFOUND if db or rp is absent). */
int tsv_1x_bucket_database(const Meta__Data *meta, const char *db, const char *rp, const char *name,
                           Meta__DatabaseInfo **out, tsv_error *err);

#endif
