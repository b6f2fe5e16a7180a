/* bucket_layout: a bucket's RPs and shard directories (bucket_layout.h). */
#include "bucket_layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "kv.h"
#include "meta_store.h"
#include "store_internal.h"
#include "tenant.h"

void tsv_bucket_layout_free(tsv_bucket_layout *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_rps; i++) {
        free(l->rps[i].name);
        free(l->rps[i].shards);
    }
    free(l->rps);
    free(l->bucket_name);
    free(l);
}

static int rp_cmp(const void *a, const void *b)
{
    return strcmp(((const tsv_layout_rp *)a)->name, ((const tsv_layout_rp *)b)->name);
}

static int shard_cmp(const void *a, const void *b)
{
    uint64_t x = ((const tsv_layout_shard *)a)->id, y = ((const tsv_layout_shard *)b)->id;
    return x < y ? -1 : x > y;
}

static int build(tsv_store *s, const Meta__DatabaseInfo *db, const char *rp, tsv_bucket_layout *l,
                 tsv_error *err)
{
    l->rps = calloc(db->n_retentionpolicies ? db->n_retentionpolicies : 1, sizeof *l->rps);
    if (!l->rps)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (size_t r = 0; r < db->n_retentionpolicies; r++) {
        const Meta__RetentionPolicyInfo *ri = db->retentionpolicies[r];
        if (rp && strcmp(rp, ri->name) != 0)
            continue;
        tsv_layout_rp *lr = &l->rps[l->n_rps++];
        lr->name = strdup(ri->name);
        lr->duration = ri->duration;
        lr->shard_group_duration = ri->shardgroupduration;
        size_t n = 0;
        for (size_t g = 0; g < ri->n_shardgroups; g++)
            if (ri->shardgroups[g]->deletedat == 0)
                n += ri->shardgroups[g]->n_shards;
        lr->shards = calloc(n ? n : 1, sizeof *lr->shards);
        if (!lr->name || !lr->shards)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        for (size_t g = 0; g < ri->n_shardgroups; g++) {
            const Meta__ShardGroupInfo *sg = ri->shardgroups[g];
            if (sg->deletedat != 0)
                continue;
            for (size_t k = 0; k < sg->n_shards; k++) {
                tsv_layout_shard *ls = &lr->shards[lr->n_shards++];
                ls->id = sg->shards[k]->id;
                ls->group_id = sg->id;
                ls->start = sg->starttime;
                ls->end = sg->endtime;
                if (tsv_shard_path(ls->dir, sizeof ls->dir, s->state_dir, db->name, ri->name,
                                   ls->id, err) != 0)
                    return -1;
            }
        }
        qsort(lr->shards, lr->n_shards, sizeof *lr->shards, shard_cmp);
    }
    if (rp && l->n_rps == 0)
        return tsv_error_set(err, TSV_EINVALID, "retention policy \"%s\" not found in bucket %s",
                             rp, l->bucket_id);
    qsort(l->rps, l->n_rps, sizeof *l->rps, rp_cmp);
    return 0;
}

int tsv_store_bucket_layout(tsv_store *s, const char *bucket_id, const char *rp,
                            tsv_bucket_layout **out, tsv_error *err)
{
    *out = NULL;
    tsv_bucket_layout *l = calloc(1, sizeof *l);
    if (!l)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    tsv_store_shared_lock(s);
    tsv_kv_txn *txn = NULL;
    Meta__Data *meta = NULL;
    tsv_bucket b = {0};
    int rc = tsv_kv_begin(s->kv, 0, &txn, err);
    if (rc == 0)
        rc = tsv_tenant_bucket_get(txn, bucket_id, &b, err);
    if (rc == 0)
        rc = tsv_meta_load(txn, &meta, NULL, err);
    tsv_kv_abort(txn);
    tsv_store_shared_unlock(s);
    if (rc == 0) {
        memcpy(l->bucket_id, b.id, sizeof l->bucket_id);
        memcpy(l->org_id, b.org_id, sizeof l->org_id);
        l->bucket_name = strdup(b.name ? b.name : "");
        const Meta__DatabaseInfo *db = tsv_meta_find_database(meta, b.id);
        if (!l->bucket_name)
            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        else if (db)
            rc = build(s, db, rp, l, err);
        else if (rp)
            rc = tsv_error_set(err, TSV_EINVALID, "retention policy \"%s\" not found in bucket %s",
                               rp, b.id);
    }
    tsv_bucket_clear(&b);
    tsv_meta_free(meta);
    if (rc != 0) {
        tsv_bucket_layout_free(l);
        return -1;
    }
    *out = l;
    return 0;
}

typedef struct find_ctx {
    char *id;
    int found;
} find_ctx;

static int find_visit(void *ctx, const struct tsv_bucket *b, tsv_error *err)
{
    (void)err;
    find_ctx *c = ctx;
    if (!c->found)
        memcpy(c->id, b->id, 17);
    c->found = 1;
    return 0;
}

int tsv_store_bucket_find(tsv_store *s, const char *org_name, const char *bucket_name,
                          char id_out[17], tsv_error *err)
{
    tsv_bucket_filter f = {.org_name = org_name, .name = bucket_name};
    find_ctx c = {.id = id_out};
    tsv_error e;
    if (tsv_store_buckets_list(s, &f, 0, 1, find_visit, &c, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return tsv_error_set(err, TSV_ENOTFOUND, "organization \"%s\" not found", org_name);
        if (err)
            *err = e;
        return -1;
    }
    if (!c.found)
        return tsv_error_set(err, TSV_ENOTFOUND, "bucket \"%s\" not found", bucket_name);
    return 0;
}

int tsv_store_bucket_ids(tsv_store *s, char (**ids)[17], size_t *n, tsv_error *err)
{
    *ids = NULL;
    *n = 0;
    tsv_store_shared_lock(s);
    tsv_kv_txn *txn = NULL;
    Meta__Data *meta = NULL;
    int rc = tsv_kv_begin(s->kv, 0, &txn, err);
    if (rc == 0)
        rc = tsv_meta_load(txn, &meta, NULL, err);
    tsv_kv_abort(txn);
    tsv_store_shared_unlock(s);
    if (rc != 0)
        return -1;
    *ids = calloc(meta->n_databases ? meta->n_databases : 1, sizeof **ids);
    if (!*ids) {
        tsv_meta_free(meta);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    for (size_t i = 0; i < meta->n_databases; i++) {
        snprintf((*ids)[*n], 17, "%.16s", meta->databases[i]->name);
        (*n)++;
    }
    tsv_meta_free(meta);
    return 0;
}
