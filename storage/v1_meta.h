/*
 * v1_meta: InfluxDB 1.x names and metadata on top of tsvault's 2.x model
 * (docs/storage.md "1.x databases and retention policies").
 *
 * Mapping, as `influxd upgrade` does it: each 1.x database/retention policy
 * "db"/"rp" is one 2.x bucket named "db/rp" (its tsdb database is the bucket
 * ID with the single RP "autogen", holding the 1.x RP's durations and shard
 * groups), plus a DBRP mapping record in the KV:
 *   dbrpv1                 mapping ID hex -> JSON {id, database,
 *                          retention_policy, default, virtual, orgID, bucketID}
 *   dbrpbyorganddbindexv1  orgID hex + db + "/" + mapping ID -> mapping ID
 *   dbrpbyorgv1            orgID hex + "/" + mapping ID -> mapping ID
 *   dbrpdefaultv1          orgID hex + db -> the default mapping's ID
 * Buckets without a stored mapping are visible as "virtual" mappings, as in
 * InfluxDB 2.x: bucket "a/b" is db "a" rp "b", bucket "a" is db "a" rp
 * "autogen". System buckets (type 1) are never mapped.
 *
 * Everything here works inside the caller's KV transaction or on plain
 * trees, so a caller (the 1.x RPC restore, a job importing an
 * influxdb1-portable archive) can combine it with other changes in one
 * commit. The whole-operation, store-level functions are in v1_restore.h and
 * v1_backup.h.
 *
 * Ownership: structs returned here own their memory; free them with the
 * matching *_free / *_clear. Pointers into a decoded meta.Data (import plan)
 * live as long as that tree.
 * Thread-safety: as the transaction / tree (one thread).
 * Errors: int 0/-1 with tsv_error: bad names or bytes TSV_EINVALID, unknown
 * databases/RPs/orgs TSV_ENOTFOUND, existing names TSV_ECONFLICT.
 */
#ifndef TSV_V1_META_H
#define TSV_V1_META_H

#include <stddef.h>
#include <stdint.h>

#include "kv.h"
#include "meta.h"
#include "stream.h"
#include "tsv_error.h"

#define TSV_V1_NAME_MAX 255

/* --- names ---------------------------------------------------------------- */

/* A 1.x database or RP name as the DBRP service accepts it: 1..255 bytes,
 * printable, not "." or "..", no '/' or '\\'. `what` names it in the error
 * ("database", "retention policy"). */
int tsv_v1_name_check(const char *name, const char *what, tsv_error *err);
/* "db/rp" into out (outlen >= 2 * TSV_V1_NAME_MAX + 2 always suffices). */
int tsv_v1_bucket_name(const char *db, const char *rp, char *out, size_t outlen, tsv_error *err);
/* The virtual mapping of a bucket name: "a/b" -> a, b; "a" -> a, autogen.
 * Outputs are truncated to TSV_V1_NAME_MAX + 1 bytes with NUL. */
void tsv_v1_split_bucket_name(const char *bucket_name, char db[TSV_V1_NAME_MAX + 1],
                              char rp[TSV_V1_NAME_MAX + 1]);

/* --- the portable backup's .meta file --------------------------------------- */

/* A portable backup's .meta file is protobuf PortableData {bytes Data = 1;
 * uint64 MaxNodeID = 2}. unwrap points *data into buf (no copy). */
int tsv_v1_portable_unwrap(const uint8_t *buf, size_t len, const uint8_t **data, size_t *dlen,
                           uint64_t *max_node_id, tsv_error *err);
int tsv_v1_portable_wrap(const uint8_t *data, size_t dlen, uint64_t max_node_id, tsv_buf *out,
                         tsv_error *err);

/* --- organizations -------------------------------------------------------- */

/* Resolves the org 1.x names live in: `org` is a name or a 16-hex ID;
 * NULL or "" = the first organization (ascending ID). TSV_ENOTFOUND if there
 * is none / no such org. */
int tsv_v1_resolve_org(tsv_kv_txn *txn, const char *org, char org_id[17], tsv_error *err);

/* --- DBRP mappings -------------------------------------------------------- */

typedef struct tsv_dbrp {
    char id[17];
    char org_id[17];
    char bucket_id[17];
    char database[TSV_V1_NAME_MAX + 1];
    char rp[TSV_V1_NAME_MAX + 1];
    int is_default;
    int is_virtual;
} tsv_dbrp;

/* Stores a mapping with a new random ID. It becomes the default of (org, db)
 * if make_default or if the pair has no default yet. TSV_ECONFLICT if a
 * stored mapping (org, db, rp) exists. The bucket must exist (TSV_ENOTFOUND). */
int tsv_dbrp_create(tsv_kv_txn *txn, const char *org_id, const char *db, const char *rp,
                    const char *bucket_id, int make_default, tsv_dbrp *out, tsv_error *err);

typedef int (*tsv_dbrp_visit_fn)(void *ctx, const tsv_dbrp *m, tsv_error *err);
/* Stored mappings of the org (ID order), then, if include_virtual, the
 * virtual ones of its user buckets that no stored mapping covers (neither
 * the bucket nor the same db/rp pair). A virtual mapping is the default of
 * its db when no stored mapping of that db is. */
int tsv_dbrp_foreach(tsv_kv_txn *txn, const char *org_id, int include_virtual, tsv_dbrp_visit_fn fn,
                     void *ctx, tsv_error *err);
/* Removes every stored mapping of bucket_id (a deleted bucket's); when one
 * was its database's default, another mapping of that database (the first in
 * index order) becomes the default, as influxd's DBRP service does. */
int tsv_dbrp_delete_bucket(tsv_kv_txn *txn, const char *bucket_id, tsv_error *err);
/* Stored mapping of (org, db, rp); TSV_ENOTFOUND if none. */
int tsv_dbrp_find(tsv_kv_txn *txn, const char *org_id, const char *db, const char *rp,
                  tsv_dbrp *out, tsv_error *err);

/* --- importing a 1.x meta.Data -------------------------------------------- */

/* One database/RP of a backup to import, with its target names. */
typedef struct tsv_v1_import_item {
    const Meta__DatabaseInfo *src_db;        /* into the backup tree */
    const Meta__RetentionPolicyInfo *src_rp; /* into the backup tree */
    char db[TSV_V1_NAME_MAX + 1];            /* target names */
    char rp[TSV_V1_NAME_MAX + 1];
    int is_default; /* the target RP is its database's default */
} tsv_v1_import_item;

/* What influxd's ImportData selects (snapshotter RequestMetaStoreUpdate):
 *   backup_db "" : every database except _internal, names kept;
 *   backup_db D  : D only, renamed restore_db (if non-empty); with backup_rp
 *                  R only R, renamed restore_rp (if non-empty), and it
 *                  becomes the default.
 * Names are checked (tsv_v1_name_check); D or R absent is TSV_ENOTFOUND; an
 * empty selection is TSV_EINVALID. *items is malloc'd (free()). */
int tsv_v1_import_plan(const Meta__Data *backup, const char *backup_db, const char *restore_db,
                       const char *backup_rp, const char *restore_rp, tsv_v1_import_item **items,
                       size_t *n, tsv_error *err);

/* --- the 1.x view of the store --------------------------------------------- */

/* Where a shard of the view lives. */
typedef struct tsv_v1_shard_ref {
    uint64_t id;
    char bucket_id[17];
    const char *db; /* into the view */
    const char *rp;
} tsv_v1_shard_ref;

typedef struct tsv_v1_view {
    /* A 1.x-shaped meta.Data: databases named as the mappings say, each RP
     * carrying its bucket's durations and shard groups (shard IDs as
     * stored: they are global). Term/Index/ClusterID/Max* of the live meta. */
    Meta__Data *meta;
    tsv_v1_shard_ref *shards; /* every shard of a non-deleted group */
    size_t n_shards;
    size_t cap_shards; /* allocated length of shards (array_grow.h) */
} tsv_v1_view;

/* Builds the view of org_id from the KV (mappings, stored and virtual) and
 * the live meta, inside txn. A mapping whose bucket has no tsdb database is
 * left out. Free with tsv_v1_view_free. */
int tsv_v1_view_build(tsv_kv_txn *txn, const char *org_id, tsv_v1_view **out, tsv_error *err);
void tsv_v1_view_free(tsv_v1_view *v);
const tsv_v1_shard_ref *tsv_v1_view_shard(const tsv_v1_view *v, uint64_t id);
/* "db/rp/id" of every shard of db (NULL = all) and rp (NULL = all), in meta
 * order. TSV_ENOTFOUND if db / rp is given and absent. Free with
 * tsv_v1_view_paths_free. */
int tsv_v1_view_paths(const tsv_v1_view *v, const char *db, const char *rp, char ***paths,
                      size_t *n, tsv_error *err);
void tsv_v1_view_paths_free(char **paths, size_t n); /* NULL is fine */

#endif
