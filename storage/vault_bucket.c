/*
 * vault_bucket: bucket undelete (store_vault.h). DELETE /api/v2/buckets/{id}
 * soft-deletes the bucket's shard versions; what the KV held about the
 * bucket (its tenant record and its tsdb database with retention policy and
 * shard groups) is kept in the catalogue as the setting
 * "deleted-bucket:<id>", so restore_data on the deleted bucket can first
 * recreate it exactly (same ID, name, dates, shard IDs) and then restore its
 * shard versions as for any bucket.
 *
 * Record: u8 format | i64 deleted_ns | i64 type | i64 retention | i64 sgd |
 * str id | str org | str name | str description | u8 has_rp | str rp |
 * str created_at | str updated_at | u32 len | DatabaseInfo (protobuf).
 * str = u32 length + bytes. Integers big-endian.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be_writer.h"
#include "engine.h"
#include "fsutil.h"
#include "kv.h"
#include "meta.h"
#include "meta_store.h"
#include "rec_reader.h"
#include "store_internal.h"
#include "store_vault.h"
#include "tenant.h"
#include "tsv_log.h"
#include "vault.h"

#define REC_FORMAT 1

/* u32 length + bytes; NULL as "". */
static void ob_str(tsv_bew *b, const char *s) { tsv_bew_bytes32(b, s ? s : "", s ? strlen(s) : 0); }

static const uint8_t *ib_bytes(tsv_rec_reader *r, size_t *n)
{
    *n = tsv_rec_u32(r);
    return tsv_rec_take(r, *n);
}

static char *ib_strdup(tsv_rec_reader *r)
{
    size_t n;
    const uint8_t *p = ib_bytes(r, &n);
    if (!p)
        return NULL;
    char *s = malloc(n + 1);
    if (!s) {
        r->bad = 1;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void setting_key(char *k, size_t len, const char *bucket_id)
{
    snprintf(k, len, "deleted-bucket:%s", bucket_id);
}

int tsv_store_vault_bucket_remember(tsv_store *s, tsv_kv_txn *txn, const char *bucket_id,
                                    tsv_error *err)
{
    tsv_bucket b;
    memset(&b, 0, sizeof b);
    tsv_error e;
    if (tsv_tenant_bucket_get(txn, bucket_id, &b, &e) != 0)
        return e.code == TSV_ENOTFOUND ? 0 : (err ? (*err = e, -1) : -1);
    Meta__Data *meta = NULL;
    tsv_bew ob = {0};
    uint8_t *db_bytes = NULL;
    size_t db_len = 0;
    int rc = tsv_meta_load(txn, &meta, NULL, err);
    if (rc == 0) {
        const Meta__DatabaseInfo *db = tsv_meta_find_database(meta, bucket_id);
        if (db) {
            db_len = meta__database_info__get_packed_size(db);
            db_bytes = malloc(db_len ? db_len : 1);
            if (!db_bytes)
                rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            else
                meta__database_info__pack(db, db_bytes);
        }
    }
    if (rc == 0) {
        uint8_t f = REC_FORMAT;
        tsv_bew_put(&ob, &f, 1);
        tsv_bew_u64(&ob, (uint64_t)tsv_vault_now_ns());
        tsv_bew_u64(&ob, (uint64_t)(int64_t)b.type);
        tsv_bew_u64(&ob, (uint64_t)b.retention_ns);
        tsv_bew_u64(&ob, (uint64_t)b.shard_group_duration_ns);
        ob_str(&ob, b.id);
        ob_str(&ob, b.org_id);
        ob_str(&ob, b.name);
        ob_str(&ob, b.description);
        uint8_t has_rp = b.rp != NULL;
        tsv_bew_put(&ob, &has_rp, 1);
        ob_str(&ob, b.rp);
        ob_str(&ob, b.created_at);
        ob_str(&ob, b.updated_at);
        tsv_bew_bytes32(&ob, db_bytes ? (const void *)db_bytes : "", db_len);
        if (ob.oom)
            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    tsv_catalog_txn *t = NULL;
    char key[64];
    setting_key(key, sizeof key, bucket_id);
    if (rc == 0)
        rc = tsv_catalog_begin(s->vault->catalog, 1, &t, err);
    if (rc == 0 && tsv_catalog_meta_put_bin(t, key, ob.p, ob.len, err) != 0)
        rc = -1;
    if (rc == 0) {
        rc = tsv_catalog_commit(t, err);
        t = NULL;
    }
    tsv_catalog_abort(t);
    free(ob.p);
    free(db_bytes);
    tsv_meta_free(meta);
    tsv_bucket_clear(&b);
    return rc;
}

/* Shard IDs of db that the meta already uses elsewhere. */
static uint64_t id_clash(const Meta__Data *meta, const Meta__DatabaseInfo *db, uint64_t *max_shard,
                         uint64_t *max_group)
{
    for (size_t r = 0; r < db->n_retentionpolicies; r++) {
        const Meta__RetentionPolicyInfo *rp = db->retentionpolicies[r];
        for (size_t g = 0; g < rp->n_shardgroups; g++) {
            const Meta__ShardGroupInfo *sg = rp->shardgroups[g];
            if (sg->id > *max_group)
                *max_group = sg->id;
            for (size_t i = 0; i < sg->n_shards; i++) {
                uint64_t id = sg->shards[i]->id;
                if (id > *max_shard)
                    *max_shard = id;
                tsv_error e;
                if (tsv_meta_find_shard(meta, id, NULL, NULL, NULL, &e) == 0)
                    return id;
            }
        }
    }
    return 0;
}

int tsv_store_vault_bucket_undelete(tsv_store *s, const char *bucket_id, int *undeleted,
                                    tsv_error *err)
{
    *undeleted = 0;
    char key[64];
    setting_key(key, sizeof key, bucket_id);
    tsv_catalog_txn *t;
    uint8_t *rec = NULL;
    size_t rec_len = 0;
    if (tsv_catalog_begin(s->vault->catalog, 0, &t, err) != 0)
        return -1;
    tsv_error e;
    int rc = tsv_catalog_meta_get_bin(t, key, &rec, &rec_len, &e);
    tsv_catalog_abort(t);
    if (rc != 0)
        return e.code == TSV_ENOTFOUND ? 0 : (err ? (*err = e, -1) : -1);

    tsv_bucket b;
    memset(&b, 0, sizeof b);
    tsv_rec_reader r = {rec, rec_len, 0, 0};
    const uint8_t *f = tsv_rec_take(&r, 1);
    if (!f || f[0] != REC_FORMAT)
        r.bad = 1;
    int64_t deleted_ns = (int64_t)tsv_rec_u64(&r);
    b.type = (int)(int64_t)tsv_rec_u64(&r);
    b.retention_ns = (int64_t)tsv_rec_u64(&r);
    b.shard_group_duration_ns = (int64_t)tsv_rec_u64(&r);
    char *id = ib_strdup(&r), *org = ib_strdup(&r);
    b.name = ib_strdup(&r);
    b.description = ib_strdup(&r);
    const uint8_t *has_rp = tsv_rec_take(&r, 1);
    char *rp = ib_strdup(&r);
    b.created_at = ib_strdup(&r);
    b.updated_at = ib_strdup(&r);
    size_t db_len = 0;
    const uint8_t *db_bytes = ib_bytes(&r, &db_len);
    if (!r.bad && has_rp && *has_rp)
        b.rp = rp;
    else
        free(rp);
    if (!r.bad && (!id || strlen(id) != 16 || !org || strlen(org) != 16))
        r.bad = 1;
    if (!r.bad) {
        memcpy(b.id, id, 17);
        memcpy(b.org_id, org, 17);
    }
    free(id);
    free(org);
    Meta__DatabaseInfo *db = NULL;
    Meta__Data *meta = NULL;
    tsv_kv_txn *txn = NULL;
    char **dirs = NULL;
    size_t n_dirs = 0;
    rc = -1;
    if (r.bad) {
        tsv_error_set(err, TSV_EINTERNAL, "catalogue: bad deleted-bucket record for %s", bucket_id);
        goto out;
    }
    if (db_len && tsv_meta_decode_database(db_bytes, db_len, &db, err) != 0)
        goto out;
    if (tsv_kv_begin(s->kv, 1, &txn, err) != 0)
        goto out;
    if (tsv_tenant_bucket_restore(txn, &b, err) != 0 || tsv_meta_load(txn, &meta, NULL, err) != 0)
        goto out;
    if (db) {
        if (tsv_meta_find_database(meta, bucket_id)) {
            tsv_error_set(err, TSV_ECONFLICT, "database %s exists", bucket_id);
            goto out;
        }
        uint64_t max_shard = 0, max_group = 0;
        uint64_t clash = id_clash(meta, db, &max_shard, &max_group);
        if (clash) {
            tsv_error_set(err, TSV_ECONFLICT,
                          "shard %" PRIu64 " of the deleted bucket is in use by another bucket "
                          "(a restore/kv renumbered shards since): cannot recreate the bucket",
                          clash);
            goto out;
        }
        Meta__DatabaseInfo **arr =
            realloc(meta->databases, (meta->n_databases + 1) * sizeof *meta->databases);
        if (!arr) {
            tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            goto out;
        }
        meta->databases = arr;
        meta->databases[meta->n_databases++] = db;
        db = NULL; /* owned by meta */
        if (meta->maxshardid < max_shard)
            meta->maxshardid = max_shard;
        if (meta->maxshardgroupid < max_group)
            meta->maxshardgroupid = max_group;
        if (tsv_meta_save(txn, meta, err) != 0)
            goto out;
    }
    if (tsv_meta_shard_paths(meta, &dirs, &n_dirs, err) != 0)
        goto out;
    rc = tsv_kv_commit(txn, err);
    txn = NULL;
    if (rc != 0)
        goto out;
    *undeleted = 1;
    TSV_INFO("msg=\"deleted bucket recreated from the vault\" bucket=%s name=\"%s\" "
             "deleted_at_ns=%" PRId64,
             bucket_id, b.name, deleted_ns);
    /* Empty directories for its shards (restore_data fills them), then the
     * record goes: the bucket exists again. */
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s/", bucket_id);
    for (size_t i = 0; i < n_dirs; i++) {
        if (strncmp(dirs[i], prefix, strlen(prefix)) != 0)
            continue;
        char dir[PATH_MAX];
        tsv_error me;
        if (tsv_path_join(dir, sizeof dir, &me, "%s/engine/data/%s", s->state_dir, dirs[i]) != 0 ||
            tsv_mkdir_p(dir, &me) != 0)
            TSV_WARN("msg=\"could not create shard directory\" dir=\"%s\" error=\"%s\"", dirs[i],
                     me.message);
    }
    tsv_catalog_txn *wt;
    tsv_error de;
    if (tsv_catalog_begin(s->vault->catalog, 1, &wt, &de) == 0) {
        if (tsv_catalog_meta_del(wt, key, &de) == 0)
            tsv_catalog_commit(wt, &de);
        else
            tsv_catalog_abort(wt);
    }
out:
    if (txn)
        tsv_kv_abort(txn);
    tsv_meta_shard_paths_free(dirs, n_dirs);
    tsv_meta_free(meta);
    tsv_meta_free_database(db);
    tsv_bucket_clear(&b);
    free(rec);
    return rc;
}
