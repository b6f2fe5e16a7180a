/*
 * tsm_stats: statistics of a bucket's TSM data, per bucket and per shard,
 * from the TSM indexes (docs/api.md, GET /api/v2/buckets/{id}/stats).
 *
 * What is read: each file's index (keys, types, block entries: time range,
 * blocks, bytes) and, for the value count, only the timestamp section of
 * each block (RLE and raw sections give the count from their header, packed
 * ones from their simple8b selectors); no value is decoded and nothing is
 * decompressed. Counts are of what is stored: values deleted by a tombstone
 * still count (the tombstone files are listed separately).
 * Distinct counts (series, measurements, fields per type) come from one
 * k-way merge of the sorted key streams of every file of the bucket, so
 * series are counted once however many files or shards hold them; memory is
 * one index buffer per file plus the set of (measurement, field, type)
 * names, which grows with the schema, never with the data.
 *
 * Results are cached per bucket and version: the version is a digest of
 * every shard's file set (names, sizes, modification times, inodes); any
 * change to a shard's files gives a new version and a recomputation.
 *
 * Errors: TSV_ENOTFOUND for an unknown bucket; damaged files are reported
 * in the shard's "state" rather than failing the whole call.
 * Thread-safety: thread-safe (the cache has its own lock).
 */
#ifndef TSV_TSM_STATS_H
#define TSV_TSM_STATS_H

#include "store.h"
#include "stream.h"
#include "tsv_error.h"

/* Appends the JSON document (see docs/api.md) to out. */
int tsv_store_bucket_stats_json(tsv_store *s, const char *bucket_id, tsv_buf *out, tsv_error *err);

#endif
