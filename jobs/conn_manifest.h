/*
 * conn_manifest: walking InfluxDB 2.x bucket manifests (the "buckets" part of
 * /api/v2/backup/metadata, docs/api.md) for their shards, shared by pulls
 * and pushes. Shard groups with deletedAt are skipped (their shards are
 * gone at the source).
 *
 * fn is called once per bucket (shard_id 0, rp NULL) and then once per
 * shard; returning 1 from the bucket call skips that bucket's shards.
 * Errors: int 0/-1 with tsv_error (TSV_EINVALID naming the broken field).
 * Thread-safety: reentrant.
 */
#ifndef TSV_CONN_MANIFEST_H
#define TSV_CONN_MANIFEST_H

#include <stdint.h>

#include "json.h"
#include "tsv_error.h"

typedef int (*tsv_manifest_fn)(void *ctx, const tsv_json *manifest, const char *bucket_id,
                               const char *rp, uint64_t shard_id, tsv_error *err);
int tsv_manifest_walk(const tsv_json *manifests, tsv_manifest_fn fn, void *ctx, tsv_error *err);

#endif
