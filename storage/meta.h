/*
 * meta: InfluxDB's tsdb metadata (protobuf meta.Data) -- decode, encode, and
 * the in-memory edits that bucket creation and restore need.
 *
 * The bytes are the value of key "meta.db" in bolt bucket "v1_tsm1_metadata"
 * (docs/formats.md#meta-storage). In 2.x each bucket is a DatabaseInfo named by the bucket ID
 * (16 lowercase hex) with one retention policy "autogen" that holds the shard
 * groups and shards (docs/formats.md#meta-buckets).
 *
 * Wire rules. Go's decoder rejects a message that lacks any proto2 `required`
 * field, so decode refuses the same input (with the field's name), and encode
 * always emits them. Canonical form, which decode produces and encode writes:
 * ShardGroupInfo.TruncatedAt is present iff non-zero, and the deprecated
 * ShardInfo.OwnerIDs are folded into Owners (they take precedence, as in Go).
 * Encoding a canonical tree decoded from Go's bytes gives the same bytes.
 *
 * Allocation -- one strategy for every tree this module takes or returns:
 * every message, string and array is its own malloc() block, shared with
 * nothing. That is exactly what protobuf-c's unpack builds with its default
 * allocator, so decoded trees and trees built or edited here are freed alike
 * (protobuf_c_message_free_unpacked with a NULL allocator). Code that edits a
 * tree by hand must keep the invariant: strdup strings, never point at string
 * literals or into another tree.
 *
 * Ownership: tsv_meta_decode/_new_empty/_clone return trees the caller frees
 * with tsv_meta_free; tsv_meta_decode_database and a database handed back by
 * tsv_meta_drop_database are freed with tsv_meta_free_database; encode's
 * buffer and restore_bucket's map with free(). Pointers returned by the
 * lookups point into the tree and live until the next edit of that tree.
 *
 * Edits are all-or-nothing: on error the tree is unchanged (everything is
 * validated and allocated before the first change). None of them bumps Index.
 * Commit pattern (avoids upstream bug B9, a lock left held when a commit
 * fails): clone the published tree, edit the clone, tsv_meta_touch, encode,
 * write to the KV; publish the clone only if the write succeeded, else free it.
 *
 * Thread-safety: none inside. A tree is plain data: any number of readers, or
 * one writer, under the caller's lock.
 * Errors: int 0/-1 with tsv_error (NULL allowed). Malformed bytes or invalid
 * values TSV_EINVALID; lookups TSV_ENOTFOUND; existing database TSV_ECONFLICT;
 * out of memory TSV_EINTERNAL.
 */
#ifndef TSV_META_H
#define TSV_META_H

#include <stddef.h>
#include <stdint.h>

#include "meta.pb-c.h"
#include "tsv_error.h"

#define TSV_META_NS_PER_HOUR INT64_C(3600000000000)
#define TSV_META_NS_PER_DAY (24 * TSV_META_NS_PER_HOUR)
/* The RP that 2.x creates for every bucket and writes into. */
#define TSV_META_DEFAULT_RP "autogen"

/* --- bytes <-> tree ------------------------------------------------------ */

/* Decodes a serialized meta.Data, checking every required field, recursively. */
int tsv_meta_decode(const uint8_t *buf, size_t len, Meta__Data **out, tsv_error *err);
/* Same for a bare DatabaseInfo (body of POST /api/v2/restore/buckets/{id}). */
int tsv_meta_decode_database(const uint8_t *buf, size_t len, Meta__DatabaseInfo **out,
                             tsv_error *err);
/* Serializes in field-number order. Refuses (TSV_EINVALID) a tree with an unset
 * required string or a NULL element; writes the canonical form without
 * changing `data`. *out is malloc'd. */
int tsv_meta_encode(const Meta__Data *data, uint8_t **out, size_t *len, tsv_error *err);

/* --- lifetime ------------------------------------------------------------ */

/* A fresh store as a new 2.x server has it: Term 0, Index 1, no databases.
 * cluster_id: 2.x uses a random 63-bit value (tsv_random_u64() & INT64_MAX). */
int tsv_meta_new_empty(uint64_t cluster_id, Meta__Data **out, tsv_error *err);
/* Deep copy (canonical form). */
int tsv_meta_clone(const Meta__Data *src, Meta__Data **out, tsv_error *err);
/* Deep copy of any message of meta.proto (a RetentionPolicyInfo, ...) by
 * pack/unpack, malloc'd piecewise like every tree here; NULL when out of
 * memory. Free with protobuf_c_message_free_unpacked(copy, NULL). */
void *tsv_meta_msg_clone(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d);
/* Deep copy of a retention policy under another name (TSV_EINTERNAL when
 * out of memory). */
int tsv_meta_rp_clone_as(const Meta__RetentionPolicyInfo *rp, const char *name,
                         Meta__RetentionPolicyInfo **out, tsv_error *err);
void tsv_meta_free(Meta__Data *data);                /* NULL is fine */
void tsv_meta_free_database(Meta__DatabaseInfo *db); /* NULL is fine */
/* Index += 1; call once per commit. */
void tsv_meta_touch(Meta__Data *data);

/* --- lookups ------------------------------------------------------------- */

/* NULL if absent. */
const Meta__DatabaseInfo *tsv_meta_find_database(const Meta__Data *data, const char *name);

/* Finds a live shard (its group's DeletedAt is 0; a deleted group's shards
 * have no data and count as absent: TSV_ENOTFOUND). Out pointers may be NULL. */
int tsv_meta_find_shard(const Meta__Data *data, uint64_t shard_id, const Meta__DatabaseInfo **db,
                        const Meta__RetentionPolicyInfo **rp, const Meta__ShardGroupInfo **group,
                        tsv_error *err);

/* Called per shard in storage order. Return 0 to go on; anything else stops
 * the walk and is returned by tsv_meta_foreach_shard (set err when returning
 * -1). The callback must not edit the tree. */
typedef int (*tsv_meta_shard_fn)(const Meta__DatabaseInfo *db, const Meta__RetentionPolicyInfo *rp,
                                 const Meta__ShardGroupInfo *group, const Meta__ShardInfo *shard,
                                 void *ctx, tsv_error *err);
/* include_deleted: also visit shards of groups with DeletedAt != 0. */
int tsv_meta_foreach_shard(const Meta__Data *data, int include_deleted, tsv_meta_shard_fn fn,
                           void *ctx, tsv_error *err);

/* --- edits --------------------------------------------------------------- */

/* 2.x's shard-group duration rule (docs/formats.md#meta-buckets): 0 -> 7d if retention is 0
 * or >= 180d, 1d if retention >= 2d, else 1h; any other value under 1h
 * (negative included) -> 1h; otherwise unchanged. */
int64_t tsv_meta_normalise_shard_group_duration(int64_t retention_ns, int64_t sgd_ns);

/* Adds database `bucket_id_hex` (16 lowercase hex, not all zero) with default
 * RP "autogen" {Duration retention_ns, ShardGroupDuration normalised, ReplicaN 1}.
 * TSV_ECONFLICT if it exists; TSV_EINVALID if retention is non-zero and under
 * 1h, or positive and under the normalised shard-group duration (Go's rules). */
int tsv_meta_create_database(Meta__Data *data, const char *bucket_id_hex, int64_t retention_ns,
                             int64_t sgd_ns, tsv_error *err);

/* Removes database `name` and every user privilege on it (as Go does).
 * If removed is non-NULL the caller gets the entry (to find its shards) and
 * frees it with tsv_meta_free_database; otherwise it is freed here.
 * TSV_ENOTFOUND if absent. */
int tsv_meta_drop_database(Meta__Data *data, const char *name, Meta__DatabaseInfo **removed,
                           tsv_error *err);

/* Adds a deep copy of `db` (from another Data tree) to data; *added (may be
 * NULL) points at the copy, owned by data. TSV_ECONFLICT if a database of
 * that name exists. */
int tsv_meta_add_database_copy(Meta__Data *data, const Meta__DatabaseInfo *db,
                               Meta__DatabaseInfo **added, tsv_error *err);

/* One shard of a restore, in request order. */
typedef struct tsv_meta_shard_map {
    uint64_t old_id;
    uint64_t new_id;
    /* 1: the shard's group is deleted. It got a new ID (IDs are consumed as
     * upstream does) but no shard will exist, so it must NOT be reported in
     * shardMappings or accepted as an upload target (fixes docs/influxdb-compat.md#b14). */
    int deleted;
} tsv_meta_shard_map;

/* RestoreBucket (docs/api.md, "POST /api/v2/restore/bucketMetadata") on database `db_name`:
 *  - `uploaded` must hold exactly one RP, whose name must be usable as a
 *    directory name (1..255 bytes, no '/', not "." or "..");
 *    Duration 0 or >= 1h; ShardGroupDuration is normalised as on create
 *    (docs/influxdb-compat.md#b8 kept the raw value); ReplicaN 0 becomes 1; each group's
 *    EndTime >= StartTime; no old shard ID may appear twice, even across
 *    deleted groups (the map is keyed by old ID: upstream silently drops one
 *    of the two, leaving a shard that no upload can reach);
 *  - the stored entry's RPs and continuous queries are replaced by copies of
 *    the uploaded ones, and DefaultRetentionPolicy becomes the uploaded RP's
 *    name so writes find it (docs/influxdb-compat.md#b8 left "autogen");
 *  - groups are renumbered in request order: ++MaxShardGroupID per group,
 *    ++MaxShardID per shard; owners are cleared.
 * On success *map (malloc'd, caller frees; *n_map entries, one per uploaded
 * shard, request order) and, if `restored` is non-NULL, the restored entry so
 * the caller can create directories for shards of non-deleted groups.
 * Errors: TSV_ENOTFOUND (no such database), TSV_EINVALID (as above). */
int tsv_meta_restore_bucket(Meta__Data *data, const char *db_name,
                            const Meta__DatabaseInfo *uploaded, tsv_meta_shard_map **map,
                            size_t *n_map, const Meta__DatabaseInfo **restored, tsv_error *err);

#endif
