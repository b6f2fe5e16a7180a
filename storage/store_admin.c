/*
 * store_admin: the influx CLI's admin operations as whole store operations
 * (one KV transaction each, under the store's shared lock): authorizations,
 * users, org members/owners, org and bucket updates. No cache: every token
 * lookup reads the KV, so a deleted or deactivated token fails on the very
 * next request.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "engine.h"
#include "fsutil.h"
#include "meta_store.h"
#include "store_internal.h"
#include "store_vault.h"
#include "tenant.h"
#include "trash.h"
#include "tsv_log.h"

/* ---- authorizations ---------------------------------------------------- */

typedef struct auth_names_ctx {
    tsv_kv_txn *txn;
    tsv_store_auth_fn fn;
    void *ctx;
} auth_names_ctx;

/* The name of a resource a permission points at (NULL if none or unknown). */
static char *resource_name(tsv_kv_txn *txn, const char *type, const char *id)
{
    char *name = NULL;
    if (strcmp(type, "buckets") == 0) {
        tsv_bucket b;
        if (tsv_tenant_bucket_get(txn, id, &b, NULL) == 0) {
            name = strdup(b.name);
            tsv_bucket_clear(&b);
        }
    } else if (strcmp(type, "orgs") == 0) {
        tsv_org o;
        if (tsv_tenant_org_get(txn, id, &o, NULL) == 0) {
            name = strdup(o.name);
            tsv_org_clear(&o);
        }
    } else if (strcmp(type, "users") == 0) {
        tsv_user u;
        if (tsv_tenant_user_get(txn, id, &u, NULL) == 0) {
            name = strdup(u.name);
            tsv_user_clear(&u);
        }
    }
    return name;
}

static int with_names(tsv_kv_txn *txn, const tsv_authorization *a, tsv_store_auth_fn fn, void *ctx,
                      tsv_error *err)
{
    size_t n = a->perms.count;
    char **pname = calloc(n ? n : 1, sizeof *pname);
    char **porg = calloc(n ? n : 1, sizeof *porg);
    char *org = a->org_id[0] ? resource_name(txn, "orgs", a->org_id) : NULL;
    char *user = a->user_id[0] ? resource_name(txn, "users", a->user_id) : NULL;
    int rc = 0;
    if (!pname || !porg)
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const tsv_permission *p = &a->perms.items[i];
        if (p->id[0])
            pname[i] = resource_name(txn, p->type, p->id);
        if (p->org_id[0])
            porg[i] = resource_name(txn, "orgs", p->org_id);
    }
    if (rc == 0) {
        tsv_auth_names names = {.org = org,
                                .user = user,
                                .perm_name = (const char *const *)pname,
                                .perm_org = (const char *const *)porg};
        rc = fn(ctx, a, &names, err);
    }
    for (size_t i = 0; i < n && pname && porg; i++) {
        free(pname[i]);
        free(porg[i]);
    }
    free(pname);
    free(porg);
    free(org);
    free(user);
    return rc;
}

static int auth_names_visit(void *vctx, const tsv_authorization *a, tsv_error *err)
{
    auth_names_ctx *c = vctx;
    return with_names(c->txn, a, c->fn, c->ctx, err);
}

int tsv_store_auths_list(tsv_store *s, tsv_store_auth_fn fn, void *ctx, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    auth_names_ctx c = {.txn = txn, .fn = fn, .ctx = ctx};
    int rc = tsv_tenant_auth_foreach(txn, auth_names_visit, &c, err);
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_auth_get(tsv_store *s, const char *id, tsv_authorization *out, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_auth_get(txn, id, out, err);
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_auth_find(tsv_store *s, const char *id, const char *token, size_t token_len,
                        tsv_store_auth_fn fn, void *ctx, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    char tid[17];
    int rc = 0;
    if (!id) {
        tsv_token_info info;
        rc = tsv_tenant_token_lookup(txn, token, token_len, &info, err);
        if (rc == 0) {
            memcpy(tid, info.auth_id, sizeof tid);
            tsv_token_info_clear(&info);
            id = tid;
        }
    }
    tsv_authorization a;
    if (rc == 0)
        rc = tsv_tenant_auth_get(txn, id, &a, err);
    if (rc == 0) {
        rc = with_names(txn, &a, fn, ctx, err);
        tsv_authorization_clear(&a);
    }
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_auth_create(tsv_store *s, const char *org_id, const char *user_id,
                          const char *description, int active, const tsv_perm_set *perms,
                          char token_out[89], char id_out[17], tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    tsv_org o = {0};
    tsv_user u = {0};
    int rc = 0;
    /* influxd answers both a missing user and a missing org this way. */
    if (!user_id || tsv_tenant_user_get(txn, user_id, &u, NULL) != 0 ||
        tsv_tenant_org_get(txn, org_id, &o, NULL) != 0)
        rc = tsv_error_set(err, TSV_EINVALID, "unable to create token");
    tsv_org_clear(&o);
    tsv_user_clear(&u);
    tsv_authorization a;
    if (rc == 0)
        rc = tsv_tenant_auth_create(txn, org_id, user_id, description, active, perms, token_out, &a,
                                    err);
    if (rc == 0) {
        memcpy(id_out, a.id, 17);
        tsv_authorization_clear(&a);
    }
    rc = tsv_store_txn_end(s, txn, rc, 1, err);
    if (rc == 0)
        TSV_INFO("msg=\"authorization created\" auth_id=%s org_id=%s user_id=%s", id_out, org_id,
                 user_id);
    return rc;
}

int tsv_store_auth_update(tsv_store *s, const char *id, const char *status, const char *description,
                          tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_auth_update(txn, id, status, description, NULL, err);
    rc = tsv_store_txn_end(s, txn, rc, 1, err);
    if (rc == 0 && status)
        TSV_INFO("msg=\"authorization updated\" auth_id=%s status=%s", id, status);
    return rc;
}

int tsv_store_auth_delete(tsv_store *s, const char *id, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_auth_delete(txn, id, err);
    rc = tsv_store_txn_end(s, txn, rc, 1, err);
    if (rc == 0)
        TSV_INFO("msg=\"authorization deleted\" auth_id=%s", id);
    return rc;
}

/* ---- users ------------------------------------------------------------- */

int tsv_store_users_list(tsv_store *s, tsv_store_user_fn fn, void *ctx, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_user_foreach(txn, (tsv_user_visit_fn)fn, ctx, err);
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_user_get(tsv_store *s, const char *id, tsv_user *out, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_user_get(txn, id, out, err);
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_user_by_name(tsv_store *s, const char *name, tsv_user *out, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_user_by_name(txn, name, out, err);
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_user_create(tsv_store *s, const char *name, const char *password, const char *status,
                          tsv_user *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    char id[17];
    int rc = tsv_tenant_user_create(txn, name, password, id, err);
    if (rc == 0 && status && strcmp(status, "active") != 0)
        rc = tsv_tenant_user_update(txn, id, NULL, status, NULL, err);
    if (rc == 0)
        rc = tsv_tenant_user_get(txn, id, out, err);
    rc = tsv_store_txn_end(s, txn, rc, 1, err);
    if (rc != 0)
        tsv_user_clear(out);
    return rc;
}

int tsv_store_user_update(tsv_store *s, const char *id, const char *name, const char *status,
                          tsv_user *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_user_update(txn, id, name, status, out, err);
    rc = tsv_store_txn_end(s, txn, rc, 1, err);
    if (rc != 0)
        tsv_user_clear(out);
    return rc;
}

int tsv_store_user_delete(tsv_store *s, const char *id, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_user_delete(txn, id, err);
    return tsv_store_txn_end(s, txn, rc, 1, err);
}

int tsv_store_user_set_password(tsv_store *s, const char *id, const char *password, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_user_set_password(txn, id, password, err);
    return tsv_store_txn_end(s, txn, rc, 1, err);
}

/* ---- members and owners ------------------------------------------------ */

typedef struct member_ctx {
    tsv_kv_txn *txn;
    const char *user_type;
    tsv_store_member_fn fn;
    void *ctx;
} member_ctx;

static int member_visit(void *vctx, const tsv_urm *m, tsv_error *err)
{
    member_ctx *c = vctx;
    if (c->user_type && strcmp(c->user_type, m->user_type) != 0)
        return 0;
    tsv_user u;
    if (tsv_tenant_user_get(c->txn, m->user_id, &u, NULL) != 0)
        return 0; /* a mapping whose user is gone lists nobody */
    int rc = c->fn(c->ctx, m, &u, err);
    tsv_user_clear(&u);
    return rc;
}

int tsv_store_members_list(tsv_store *s, const char *resource_id, const char *user_type,
                           tsv_store_member_fn fn, void *ctx, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    member_ctx c = {.txn = txn, .user_type = user_type, .fn = fn, .ctx = ctx};
    int rc = tsv_tenant_urm_foreach(txn, resource_id, NULL, member_visit, &c, err);
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_member_add(tsv_store *s, const char *resource_type, const char *resource_id,
                         const char *user_id, const char *user_type, tsv_user *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_user_get(txn, user_id, out, err);
    if (rc == 0)
        rc = tsv_tenant_urm_create(txn, user_id, user_type, resource_type, resource_id, err);
    rc = tsv_store_txn_end(s, txn, rc, 1, err);
    if (rc != 0)
        tsv_user_clear(out);
    return rc;
}

int tsv_store_member_remove(tsv_store *s, const char *resource_id, const char *user_id,
                            tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_urm_delete(txn, resource_id, user_id, err);
    return tsv_store_txn_end(s, txn, rc, 1, err);
}

/* ---- org and bucket updates -------------------------------------------- */

int tsv_store_org_update(tsv_store *s, const char *id, const char *name, const char *description,
                         tsv_org *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_org_update(txn, id, name, description, out, err);
    rc = tsv_store_txn_end(s, txn, rc, 1, err);
    if (rc != 0)
        tsv_org_clear(out);
    return rc;
}

typedef struct id_list {
    char (*ids)[17];
    size_t n, cap;
    const char *org_id;
} id_list;

static int id_list_add(id_list *l, const char *id, tsv_error *err)
{
    if (TSV_ARRAY_GROW(l->ids, l->n, l->cap, err) != 0)
        return -1;
    memcpy(l->ids[l->n++], id, 17);
    return 0;
}

static int org_bucket_visit(void *ctx, const tsv_bucket *b, tsv_error *err)
{
    id_list *l = ctx;
    return strcmp(b->org_id, l->org_id) == 0 ? id_list_add(l, b->id, err) : 0;
}

static int org_urm_visit(void *ctx, const tsv_urm *m, tsv_error *err)
{
    id_list *l = ctx;
    return id_list_add(l, m->user_id, err);
}

int tsv_store_org_delete(tsv_store *s, const char *id, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    id_list buckets = {.org_id = id}, users = {0};
    tsv_org o = {0};
    int rc = tsv_tenant_org_get(txn, id, &o, err);
    tsv_org_clear(&o);
    /* Collected first: no writes while a cursor is open. */
    if (rc == 0)
        rc = tsv_tenant_bucket_foreach(txn, org_bucket_visit, &buckets, err);
    if (rc == 0)
        rc = tsv_tenant_urm_foreach(txn, id, NULL, org_urm_visit, &users, err);
    Meta__Data *meta = NULL;
    if (rc == 0)
        rc = tsv_meta_load(txn, &meta, NULL, err);
    for (size_t i = 0; rc == 0 && i < buckets.n; i++) {
        rc = tsv_tenant_bucket_delete(txn, buckets.ids[i], err);
        if (rc == 0 && tsv_meta_find_database(meta, buckets.ids[i]))
            rc = tsv_meta_drop_database(meta, buckets.ids[i], NULL, err);
    }
    if (rc == 0 && buckets.n)
        rc = tsv_meta_save(txn, meta, err);
    tsv_meta_free(meta);
    for (size_t i = 0; rc == 0 && i < users.n; i++)
        rc = tsv_tenant_urm_delete(txn, id, users.ids[i], err);
    if (rc == 0)
        rc = tsv_tenant_org_delete(txn, id, err);
    if (rc == 0)
        rc = tsv_kv_commit(txn, err);
    else
        tsv_kv_abort(txn);
    /* The org is gone from the KV; its buckets' shard versions stay in the
     * vault, soft-deleted (a crash before this is completed at start-up). */
    for (size_t i = 0; rc == 0 && i < buckets.n; i++) {
        tsv_error terr;
        if (tsv_store_vault_bucket_deleted(s, buckets.ids[i], &terr) != 0)
            TSV_WARN("msg=\"could not soft-delete the deleted bucket's shards now; the next "
                     "start-up does it\" bucket=%s error=\"%s\"",
                     buckets.ids[i], terr.message);
    }
    tsv_store_shared_unlock(s);
    free(buckets.ids);
    free(users.ids);
    if (rc == 0)
        TSV_INFO("msg=\"organization deleted\" org_id=%s buckets=%zu", id, buckets.n);
    return rc;
}

/* Sets the bucket's autogen (default) retention policy durations. */
static int update_rp(Meta__Data *meta, const char *db_name, int64_t retention_ns, int64_t sgd_ns,
                     tsv_error *err)
{
    for (size_t i = 0; i < meta->n_databases; i++) {
        Meta__DatabaseInfo *db = meta->databases[i];
        if (strcmp(db->name, db_name) != 0)
            continue;
        for (size_t k = 0; k < db->n_retentionpolicies; k++) {
            Meta__RetentionPolicyInfo *rp = db->retentionpolicies[k];
            if (strcmp(rp->name, db->defaultretentionpolicy) != 0)
                continue;
            rp->duration = retention_ns;
            rp->shardgroupduration = sgd_ns;
            tsv_meta_touch(meta);
            return 0;
        }
        return tsv_error_set(err, TSV_EINTERNAL, "bucket %s has no default retention policy",
                             db_name);
    }
    return 0; /* no tsdb database yet: the record alone is updated */
}

int tsv_store_bucket_update(tsv_store *s, const char *id, const tsv_bucket_update *upd,
                            tsv_bucket *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t retention = upd->retention_ns, sgd = 0;
    if (upd->set_retention) {
        if (upd->retention_ns < 0 || upd->sgd_ns < 0)
            return tsv_error_set(err, TSV_EUNPROCESSABLE, "durations must not be negative");
        if (retention != 0 && retention < 3600LL * 1000000000LL)
            return tsv_error_set(err, TSV_EUNPROCESSABLE,
                                 "retention policy duration must be at least 1h0m0s");
        sgd = tsv_meta_normalise_shard_group_duration(retention, upd->sgd_ns);
        if (retention != 0 && sgd > retention)
            return tsv_error_set(err, TSV_EUNPROCESSABLE,
                                 "retention policy duration must be greater than the shard "
                                 "duration");
    }
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_tenant_bucket_update(txn, id, upd->name, upd->description, upd->set_retention,
                                      retention, sgd, out, err);
    Meta__Data *meta = NULL;
    if (rc == 0 && upd->set_retention) {
        rc = tsv_meta_load(txn, &meta, NULL, err);
        if (rc == 0)
            rc = update_rp(meta, out->id, retention, sgd, err);
        if (rc == 0)
            rc = tsv_meta_save(txn, meta, err);
        tsv_meta_free(meta);
    }
    rc = tsv_store_txn_end(s, txn, rc, 1, err);
    if (rc != 0)
        tsv_bucket_clear(out);
    return rc;
}
