/*
 * store_tenant: onboarding, organizations and buckets as whole operations
 * (one KV transaction each, under the store's shared lock). A bucket and its
 * tsdb database are created and deleted together.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"
#include "fsutil.h"
#include "meta_store.h"
#include "store_internal.h"
#include "store_vault.h"
#include "tenant.h"
#include "tenant_auth.h"
#include "trash.h"
#include "tsv_log.h"
#include "v1_meta.h"

int tsv_store_setup_allowed(tsv_store *s, int *allowed, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    int onboarded = 0;
    int rc = tsv_tenant_onboarded(txn, &onboarded, err);
    *allowed = !onboarded;
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

/* Creates bucket record + tsdb database in txn. */
static int create_bucket_in(tsv_kv_txn *txn, const char *org_id, const char *name,
                            const char *description, int64_t retention_ns, int64_t sgd_ns,
                            tsv_bucket *out, tsv_error *err)
{
    if (retention_ns < 0 || sgd_ns < 0)
        return tsv_error_set(err, TSV_EUNPROCESSABLE, "durations must not be negative");
    int64_t sgd = tsv_meta_normalise_shard_group_duration(retention_ns, sgd_ns);
    if (retention_ns != 0 && retention_ns < 3600LL * 1000000000LL)
        return tsv_error_set(err, TSV_EUNPROCESSABLE,
                             "retention policy duration must be at least 1h0m0s");
    tsv_bucket b;
    if (tsv_tenant_bucket_create(txn, org_id, name, description, 0, retention_ns, sgd, &b, err) !=
        0)
        return -1;
    Meta__Data *meta = NULL;
    int rc = tsv_meta_load(txn, &meta, NULL, err);
    if (rc == 0)
        rc = tsv_meta_create_database(meta, b.id, retention_ns, sgd, err);
    if (rc == 0)
        rc = tsv_meta_save(txn, meta, err);
    tsv_meta_free(meta);
    if (rc == 0 && out)
        *out = b;
    else
        tsv_bucket_clear(&b);
    return rc;
}

/* System buckets of an org also need their tsdb databases. */
static int add_system_databases(tsv_kv_txn *txn, const char *org_id, tsv_error *err)
{
    static const char *const names[] = {"_monitoring", "_tasks"};
    Meta__Data *meta = NULL;
    if (tsv_meta_load(txn, &meta, NULL, err) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        tsv_bucket b;
        if (tsv_tenant_bucket_by_name(txn, org_id, names[i], &b, err) != 0) {
            rc = -1;
            break;
        }
        if (!tsv_meta_find_database(meta, b.id))
            rc = tsv_meta_create_database(meta, b.id, b.retention_ns, b.shard_group_duration_ns,
                                          err);
        tsv_bucket_clear(&b);
    }
    if (rc == 0)
        rc = tsv_meta_save(txn, meta, err);
    tsv_meta_free(meta);
    return rc;
}

int tsv_store_setup(tsv_store *s, const tsv_setup_request *req, tsv_setup_result *out,
                    tsv_error *err)
{
    memset(out, 0, sizeof *out);
    if (req->token && strlen(req->token) >= sizeof out->token)
        return tsv_error_set(err, TSV_EINVALID, "token is too long");
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int onboarded = 0;
    int rc = tsv_tenant_onboarded(txn, &onboarded, err);
    if (rc == 0 && onboarded)
        rc = tsv_error_set(err, TSV_ECONFLICT, "onboarding has already been completed");
    tsv_org org = {0};
    tsv_bucket bucket = {0};
    if (rc == 0)
        rc = tsv_tenant_user_create(txn, req->username, req->password, out->user_id, err);
    if (rc == 0)
        rc = tsv_tenant_org_create(txn, req->org, "", &org, err);
    if (rc == 0)
        rc = add_system_databases(txn, org.id, err);
    if (rc == 0)
        rc = create_bucket_in(txn, org.id, req->bucket, "", req->retention_ns, 0, &bucket, err);
    /* influxd's onboarding maps the user as owner of the org only (the
     * real influxd.bolt has exactly that one mapping). */
    if (rc == 0)
        rc = tsv_tenant_urm_create(txn, out->user_id, "owner", "orgs", org.id, err);
    char token[89];
    char desc[300];
    snprintf(desc, sizeof desc, "%s's Token", req->username ? req->username : "");
    if (rc == 0)
        rc = tsv_tenant_auth_create_operator(txn, out->user_id, org.id, desc, token, out->auth_id,
                                             err);
    if (rc == 0 && req->token && *req->token) {
        /* A caller-chosen operator token replaces the generated one. */
        rc = tsv_tenant_auth_set_token(txn, out->auth_id, token, req->token, err);
        snprintf(token, sizeof token, "%s", "");
        if (rc == 0)
            snprintf(out->token, sizeof out->token, "%s", req->token);
    } else if (rc == 0) {
        memcpy(out->token, token, sizeof token);
    }
    if (rc == 0) {
        memcpy(out->org_id, org.id, 17);
        memcpy(out->bucket_id, bucket.id, 17);
    }
    tsv_org_clear(&org);
    tsv_bucket_clear(&bucket);
    rc = tsv_store_txn_end(s, txn, rc, 1, err);
    if (rc == 0)
        TSV_INFO("msg=\"onboarding complete\" user_id=%s org_id=%s bucket_id=%s", out->user_id,
                 out->org_id, out->bucket_id);
    return rc;
}

typedef struct org_filter_ctx {
    const char *name;
    tsv_store_org_fn fn;
    void *ctx;
} org_filter_ctx;

int tsv_store_orgs_list(tsv_store *s, const char *name, tsv_store_org_fn fn, void *ctx,
                        tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    int rc;
    if (name) {
        tsv_org o;
        tsv_error e;
        rc = tsv_tenant_org_by_name(txn, name, &o, &e);
        if (rc == 0) {
            rc = fn(ctx, &o, err);
            tsv_org_clear(&o);
        } else if (e.code == TSV_ENOTFOUND) {
            rc = 0;
        } else if (err) {
            *err = e;
        }
    } else {
        rc = tsv_tenant_org_foreach(txn, (tsv_org_visit_fn)fn, ctx, err);
    }
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_org_get(tsv_store *s, const char *id, tsv_org *out, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_org_get(txn, id, out, err);
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_org_create(tsv_store *s, const char *name, const char *description, tsv_org *out,
                         tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_org_create(txn, name, description, out, err);
    if (rc == 0) {
        rc = add_system_databases(txn, out->id, err);
        if (rc != 0)
            tsv_org_clear(out);
    }
    return tsv_store_txn_end(s, txn, rc, 1, err);
}

typedef struct bucket_filter_ctx {
    const tsv_bucket_filter *f;
    const char *org_id; /* resolved from org_name */
    uint64_t skip, limit, emitted;
    tsv_store_bucket_fn fn;
    void *ctx;
} bucket_filter_ctx;

static int bucket_filter_visit(void *vctx, const tsv_bucket *b, tsv_error *err)
{
    bucket_filter_ctx *c = vctx;
    if (c->f->id && strcasecmp(c->f->id, b->id) != 0)
        return 0;
    if (c->f->org_id && strcasecmp(c->f->org_id, b->org_id) != 0)
        return 0;
    if (c->org_id && strcmp(c->org_id, b->org_id) != 0)
        return 0;
    if (c->f->name && strcmp(c->f->name, b->name) != 0)
        return 0;
    if (c->f->visible) {
        tsv_permission need;
        tsv_perm_read_bucket(&need, b->type == 1, b->org_id, b->id);
        if (!tsv_perm_set_allows(c->f->visible, &need))
            return 0;
    }
    if (c->skip > 0) {
        c->skip--;
        return 0;
    }
    if (c->limit && c->emitted >= c->limit)
        return 0;
    c->emitted++;
    return c->fn(c->ctx, b, err);
}

int tsv_store_buckets_list(tsv_store *s, const tsv_bucket_filter *f, uint64_t offset,
                           uint64_t limit, tsv_store_bucket_fn fn, void *ctx, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    bucket_filter_ctx c = {.f = f, .skip = offset, .limit = limit, .fn = fn, .ctx = ctx};
    tsv_org org = {0};
    int rc = 0;
    if (f->org_name) {
        rc = tsv_tenant_org_by_name(txn, f->org_name, &org, err);
        c.org_id = org.id;
    }
    if (rc == 0)
        rc = tsv_tenant_bucket_foreach(txn, bucket_filter_visit, &c, err);
    tsv_org_clear(&org);
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_bucket_get(tsv_store *s, const char *id, tsv_bucket *out, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_bucket_get(txn, id, out, err);
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_bucket_create(tsv_store *s, const char *org_id, const char *name,
                            const char *description, int64_t retention_ns, int64_t sgd_ns,
                            tsv_bucket *out, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = create_bucket_in(txn, org_id, name, description, retention_ns, sgd_ns, out, err);
    return tsv_store_txn_end(s, txn, rc, 1, err);
}

int tsv_store_bucket_delete(tsv_store *s, const char *id, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    char lower[17];
    snprintf(lower, sizeof lower, "%s", id);
    for (int i = 0; lower[i]; i++)
        if (lower[i] >= 'A' && lower[i] <= 'F')
            lower[i] = (char)(lower[i] - 'A' + 'a');
    /* What the KV knows of the bucket stays restorable (vault_bucket.c). */
    int rc = tsv_store_vault_bucket_remember(s, txn, lower, err);
    if (rc == 0)
        rc = tsv_tenant_bucket_delete(txn, lower, err);
    if (rc == 0)
        rc = tsv_dbrp_delete_bucket(txn, lower, err); /* its 1.x names go with it */
    Meta__Data *meta = NULL;
    if (rc == 0)
        rc = tsv_meta_load(txn, &meta, NULL, err);
    if (rc == 0 && tsv_meta_find_database(meta, lower)) {
        rc = tsv_meta_drop_database(meta, lower, NULL, err);
        if (rc == 0)
            rc = tsv_meta_save(txn, meta, err);
    }
    tsv_meta_free(meta);
    if (rc == 0)
        rc = tsv_kv_commit(txn, err);
    else
        tsv_kv_abort(txn);
    if (rc == 0) {
        /* The bucket is gone from the KV; its shard versions stay in the
         * vault, soft-deleted (a crash before this is completed at start-up:
         * store_vault.c). */
        tsv_error verr;
        if (tsv_store_vault_bucket_deleted(s, lower, &verr) != 0)
            TSV_WARN("msg=\"could not soft-delete the deleted bucket's shards now; the next "
                     "start-up does it\" bucket=%s error=\"%s\"",
                     lower, verr.message);
    }
    tsv_store_shared_unlock(s);
    return rc;
}
