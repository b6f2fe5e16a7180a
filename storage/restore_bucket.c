/*
 * restore_bucket: restore/bucketMetadata and restore/bucket/{id} on the
 * storage side (restore/shards/{id} is in restore_shard.c).
 *
 * A bucket restore is one KV write transaction: tenant bucket (new random
 * ID) + tsdb database + shard-group/shard remapping, with IDs allocated from
 * the meta inside that same transaction, so concurrent restores can neither
 * lose an update nor reuse an ID (docs/influxdb-compat.md#concurrency). Shard directories are
 * created before the commit and removed again if it fails, so a failed
 * restore leaves nothing behind. Groups that are deleted in the manifest get
 * new IDs in the meta but no directory and no mapping (docs/influxdb-compat.md#b14).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "fsutil.h"
#include "manifest.h"
#include "meta_store.h"
#include "restore.h"
#include "store_internal.h"
#include "tenant.h"
#include "trash.h"
#include "tsv_log.h"

void tsv_bucket_restore_result_clear(tsv_bucket_restore_result *r)
{
    if (!r)
        return;
    free(r->bucket_name);
    free(r->mappings);
    memset(r, 0, sizeof *r);
}

/* Creates the directories of the restored (non-deleted) shards; on failure
 * removes what it made. */
static int make_shard_dirs(tsv_store *s, const char *db, const Meta__DatabaseInfo *restored,
                           tsv_error *err)
{
    for (size_t r = 0; r < restored->n_retentionpolicies; r++) {
        const Meta__RetentionPolicyInfo *rp = restored->retentionpolicies[r];
        for (size_t g = 0; g < rp->n_shardgroups; g++) {
            const Meta__ShardGroupInfo *sg = rp->shardgroups[g];
            if (sg->deletedat)
                continue;
            for (size_t i = 0; i < sg->n_shards; i++) {
                char path[PATH_MAX];
                if (tsv_shard_path(path, sizeof path, s->state_dir, db, rp->name, sg->shards[i]->id,
                                   err) != 0 ||
                    tsv_mkdir_p(path, err) != 0)
                    return -1;
            }
        }
    }
    return 0;
}

static void remove_shard_dirs(tsv_store *s, const char *db, const Meta__DatabaseInfo *restored)
{
    for (size_t r = 0; r < restored->n_retentionpolicies; r++) {
        const Meta__RetentionPolicyInfo *rp = restored->retentionpolicies[r];
        for (size_t g = 0; g < rp->n_shardgroups; g++) {
            for (size_t i = 0; i < rp->shardgroups[g]->n_shards; i++) {
                char path[PATH_MAX];
                tsv_error e;
                if (tsv_shard_path(path, sizeof path, s->state_dir, db, rp->name,
                                   rp->shardgroups[g]->shards[i]->id, &e) == 0)
                    rmdir(path); /* only empty ones: never data */
            }
        }
    }
}

static int fill_result(tsv_bucket_restore_result *out, const char *bucket_id, const char *name,
                       const tsv_meta_shard_map *map, size_t n, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    memcpy(out->bucket_id, bucket_id, 17);
    out->bucket_name = strdup(name ? name : "");
    out->mappings = calloc(n ? n : 1, sizeof *out->mappings);
    if (!out->bucket_name || !out->mappings) {
        tsv_bucket_restore_result_clear(out);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (map[i].deleted)
            continue;
        out->mappings[out->count].old_id = map[i].old_id;
        out->mappings[out->count].new_id = map[i].new_id;
        out->count++;
    }
    return 0;
}

/* The shared part of both bucket restores: inside txn, remap `uploaded`
 * into database `db`, create directories, commit. */
static int restore_into(tsv_store *s, tsv_kv_txn *txn, Meta__Data *meta, const char *db,
                        const char *name, const Meta__DatabaseInfo *uploaded,
                        tsv_bucket_restore_result *out, tsv_error *err)
{
    tsv_meta_shard_map *map = NULL;
    size_t n = 0;
    const Meta__DatabaseInfo *restored = NULL;
    if (tsv_meta_restore_bucket(meta, db, uploaded, &map, &n, &restored, err) != 0) {
        tsv_kv_abort(txn);
        return -1;
    }
    int rc = tsv_meta_save(txn, meta, err);
    if (rc == 0 && (rc = make_shard_dirs(s, db, restored, err)) != 0)
        remove_shard_dirs(s, db, restored);
    if (rc == 0) {
        rc = tsv_kv_commit(txn, err);
        if (rc != 0)
            remove_shard_dirs(s, db, restored);
    } else {
        tsv_kv_abort(txn);
    }
    if (rc == 0)
        rc = fill_result(out, db, name, map, n, err);
    free(map);
    return rc;
}

/* The retention-policy rules both bucket restores share, with the status
 * bucketMetadata and POST /buckets give them (422), so the two restore paths
 * answer the same upload the same way. */
static int check_upload_rp(const Meta__DatabaseInfo *db, tsv_error *err)
{
    if (db->n_retentionpolicies != 1)
        return tsv_error_set(err, TSV_EUNPROCESSABLE,
                             "bucket must have 1 retention policy; attempting to restore %zu "
                             "retention policies",
                             db->n_retentionpolicies);
    int64_t retention = db->retentionpolicies[0]->duration;
    if (retention < 0 || (retention != 0 && retention < 3600LL * 1000000000LL))
        return tsv_error_set(err, TSV_EUNPROCESSABLE,
                             "retention policy duration must be at least 1h0m0s");
    return 0;
}

int tsv_store_restore_bucket_manifest(tsv_store *s, const char *json, size_t len,
                                      tsv_bucket_restore_result *out, tsv_error *err)
{
    tsv_manifest m;
    if (tsv_manifest_parse(json, len, &m, err) != 0)
        return -1;
    int rc = 0;
    if (!m.org_id[0])
        rc = tsv_error_set(err, TSV_ENOTFOUND, "organization not found");
    else if (tsv_tenant_bucket_name_check(m.bucket_name, err) != 0)
        rc = -1;
    else if (check_upload_rp(m.db, err) != 0)
        rc = -1;
    if (rc != 0) {
        tsv_manifest_clear(&m);
        return -1;
    }
    const Meta__RetentionPolicyInfo *rp0 = m.db->retentionpolicies[0];
    int64_t retention = rp0->duration;
    int64_t sgd = tsv_meta_normalise_shard_group_duration(retention, rp0->shardgroupduration);

    tsv_store_shared_lock(s);
    tsv_kv_txn *txn = NULL;
    tsv_bucket b = {0};
    Meta__Data *meta = NULL;
    rc = tsv_kv_begin(s->kv, 1, &txn, err);
    if (rc == 0)
        rc = tsv_tenant_bucket_create(txn, m.org_id, m.bucket_name, m.description, 0, retention,
                                      sgd, &b, err);
    if (rc == 0)
        rc = tsv_meta_load(txn, &meta, NULL, err);
    if (rc == 0)
        rc = tsv_meta_create_database(meta, b.id, retention, sgd, err);
    if (rc == 0) {
        /* restore_into commits or aborts the transaction itself. */
        rc = restore_into(s, txn, meta, b.id, m.bucket_name, m.db, out, err);
        txn = NULL;
    }
    if (txn)
        tsv_kv_abort(txn);
    tsv_store_shared_unlock(s);
    if (rc == 0)
        TSV_INFO("msg=\"bucket restored\" bucket_id=%s name=\"%s\" shards=%zu", b.id, m.bucket_name,
                 out->count);
    tsv_meta_free(meta);
    tsv_bucket_clear(&b);
    tsv_manifest_clear(&m);
    return rc;
}

/* Shard directories of database `db` in `meta`, for moving aside the ones a
 * restore into an existing bucket replaces. */
static int db_shard_paths(const Meta__Data *meta, const char *db, char ***paths, size_t *n,
                          tsv_error *err)
{
    char **all = NULL;
    size_t count = 0;
    if (tsv_meta_shard_paths(meta, &all, &count, err) != 0)
        return -1;
    size_t keep = 0, dlen = strlen(db);
    for (size_t i = 0; i < count; i++) {
        if (strncmp(all[i], db, dlen) == 0 && all[i][dlen] == '/')
            all[keep++] = all[i];
        else
            free(all[i]);
    }
    *paths = all;
    *n = keep;
    return 0;
}

int tsv_store_restore_bucket_proto(tsv_store *s, const char *bucket_id, const uint8_t *proto,
                                   size_t len, tsv_bucket_restore_result *out, tsv_error *err)
{
    /* The ID first, as influxd does: a bad URL is reported as such whatever
     * the body holds. */
    char id[17];
    uint64_t v;
    if (tsv_id_parse(bucket_id, &v, err) != 0)
        return -1;
    tsv_id_format(v, id);
    Meta__DatabaseInfo *uploaded = NULL;
    if (tsv_meta_decode_database(proto, len, &uploaded, err) != 0)
        return tsv_error_wrap(err, "invalid DatabaseInfo");
    if (check_upload_rp(uploaded, err) != 0) {
        tsv_meta_free_database(uploaded);
        return -1;
    }
    tsv_store_shared_lock(s);
    tsv_kv_txn *txn = NULL;
    tsv_bucket b = {0};
    Meta__Data *meta = NULL;
    char **old = NULL;
    size_t nold = 0;
    int rc = tsv_kv_begin(s->kv, 1, &txn, err);
    if (rc == 0)
        rc = tsv_tenant_bucket_get(txn, id, &b, err);
    if (rc == 0)
        rc = tsv_meta_load(txn, &meta, NULL, err);
    if (rc == 0 && !tsv_meta_find_database(meta, id))
        rc = tsv_meta_create_database(meta, id, b.retention_ns, b.shard_group_duration_ns, err);
    if (rc == 0)
        rc = db_shard_paths(meta, id, &old, &nold, err);
    if (rc == 0) {
        rc = restore_into(s, txn, meta, id, b.name, uploaded, out, err);
        txn = NULL;
    }
    if (txn)
        tsv_kv_abort(txn);
    if (rc == 0) {
        /* The bucket's previous shards are no longer in the meta: keep their
         * data in the trash rather than leave orphans in the engine. */
        for (size_t i = 0; i < nold; i++) {
            char path[PATH_MAX];
            tsv_error e;
            if (tsv_path_join(path, sizeof path, &e, "%s/engine/data/%s", s->state_dir, old[i]) ==
                    0 &&
                tsv_trash_move(s->trash_dir, path, "bucket-restore-replaced-shard", &e) != 0)
                TSV_WARN("msg=\"could not move replaced shard aside\" path=\"%s\" error=\"%s\"",
                         path, e.message);
        }
    }
    tsv_store_shared_unlock(s);
    tsv_meta_shard_paths_free(old, nold);
    tsv_meta_free(meta);
    tsv_bucket_clear(&b);
    tsv_meta_free_database(uploaded);
    return rc;
}
