/* store_vault: live shards <-> catalogue (store_vault.h, vault.h). */
#include "store_vault.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "engine.h"
#include "fsutil.h"
#include "kv.h"
#include "meta.h"
#include "meta_store.h"
#include "store_internal.h"
#include "tenant.h"
#include "tsv_log.h"
#include "vault.h"

/* ---- live shards ------------------------------------------------------- */

typedef struct live_ctx {
    tsv_store *s;
    tsv_kv_txn *txn;
    const char *bucket;
    tsv_live_shard *arr;
    size_t n, cap;
    char last_db[256];
    char org_id[17];
    char name[256];
} live_ctx;

static int live_fn(const Meta__DatabaseInfo *db, const Meta__RetentionPolicyInfo *rp,
                   const Meta__ShardGroupInfo *g, const Meta__ShardInfo *sh, void *ctx,
                   tsv_error *err)
{
    live_ctx *c = ctx;
    if (c->bucket && strcmp(db->name, c->bucket) != 0)
        return 0;
    if (strlen(db->name) > 16 || strlen(rp->name) > 255)
        return 0; /* not a 2.x bucket: not in the vault */
    if (strcmp(c->last_db, db->name) != 0) {
        snprintf(c->last_db, sizeof c->last_db, "%s", db->name);
        c->org_id[0] = c->name[0] = '\0';
        tsv_bucket b;
        memset(&b, 0, sizeof b);
        tsv_error e;
        if (tsv_tenant_bucket_get(c->txn, db->name, &b, &e) == 0) {
            snprintf(c->org_id, sizeof c->org_id, "%s", b.org_id);
            snprintf(c->name, sizeof c->name, "%s", b.name ? b.name : "");
        }
        tsv_bucket_clear(&b);
    }
    if (TSV_ARRAY_GROW(c->arr, c->n, c->cap, err) != 0)
        return -1;
    tsv_live_shard *l = &c->arr[c->n];
    memset(l, 0, sizeof *l);
    snprintf(l->slot.bucket, sizeof l->slot.bucket, "%s", db->name);
    snprintf(l->slot.rp, sizeof l->slot.rp, "%s", rp->name);
    l->slot.start_ns = g->starttime;
    l->slot.end_ns = g->endtime;
    l->shard_id = sh->id;
    snprintf(l->org_id, sizeof l->org_id, "%s", c->org_id);
    snprintf(l->bucket_name, sizeof l->bucket_name, "%s", c->name);
    if (tsv_shard_path(l->dir, sizeof l->dir, c->s->state_dir, db->name, rp->name, sh->id, err) !=
        0)
        return -1;
    c->n++;
    return 0;
}

static int cmp_live(const void *a, const void *b)
{
    const tsv_live_shard *x = a, *y = b;
    if (x->slot.start_ns != y->slot.start_ns)
        return x->slot.start_ns < y->slot.start_ns ? -1 : 1;
    if (x->slot.end_ns != y->slot.end_ns)
        return x->slot.end_ns < y->slot.end_ns ? -1 : 1;
    int r = strcmp(x->slot.bucket, y->slot.bucket);
    return r ? r : strcmp(x->slot.rp, y->slot.rp);
}

int tsv_store_live_shards(tsv_store *s, const char *bucket, tsv_live_shard **out, size_t *n,
                          int *db_exists, tsv_error *err)
{
    live_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.bucket = bucket;
    Meta__Data *meta = NULL;
    if (tsv_kv_begin(s->kv, 0, &c.txn, err) != 0)
        return -1;
    int rc = tsv_meta_load(c.txn, &meta, NULL, err);
    if (rc == 0)
        rc = tsv_meta_foreach_shard(meta, 0, live_fn, &c, err);
    if (rc == 0 && db_exists)
        *db_exists = bucket && tsv_meta_find_database(meta, bucket) != NULL;
    tsv_kv_abort(c.txn);
    tsv_meta_free(meta);
    if (rc != 0) {
        free(c.arr);
        return -1;
    }
    if (c.n > 1)
        qsort(c.arr, c.n, sizeof *c.arr, cmp_live);
    *out = c.arr;
    *n = c.n;
    return 0;
}

int tsv_store_live_shard(tsv_store *s, uint64_t shard_id, tsv_live_shard *out, tsv_error *err)
{
    live_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    Meta__Data *meta = NULL;
    if (tsv_kv_begin(s->kv, 0, &c.txn, err) != 0)
        return -1;
    int rc = tsv_meta_load(c.txn, &meta, NULL, err);
    const Meta__DatabaseInfo *db;
    const Meta__RetentionPolicyInfo *rp;
    const Meta__ShardGroupInfo *g;
    if (rc == 0 && tsv_meta_find_shard(meta, shard_id, &db, &rp, &g, err) != 0)
        rc = tsv_error_set(err, TSV_ENOTFOUND, "shard %" PRIu64 " not found", shard_id);
    if (rc == 0) {
        for (size_t i = 0; i < g->n_shards; i++)
            if (g->shards[i]->id == shard_id)
                rc = live_fn(db, rp, g, g->shards[i], &c, err);
        if (rc == 0 && c.n != 1)
            rc = tsv_error_set(err, TSV_EINVALID,
                               "shard %" PRIu64 " is not in a 2.x bucket (database \"%s\")",
                               shard_id, db->name);
    }
    tsv_kv_abort(c.txn);
    tsv_meta_free(meta);
    if (rc == 0)
        *out = c.arr[0];
    free(c.arr);
    return rc;
}

/* ---- start-up reconciliation ---------------------------------------------- */

typedef struct gen_match_ctx {
    uint64_t gen;
    int match;
} gen_match_ctx;

static int gen_match_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    (void)err;
    gen_match_ctx *c = ctx;
    if (v->gen == c->gen && v->state != TSV_VERSION_IN_USE)
        c->match = 1;
    return 0;
}

typedef struct todo {
    tsv_live_shard shard;
    tsv_version v; /* n_files == 0 && !has: make empty */
    int has;
} todo;

typedef struct stray_ctx {
    const tsv_live_shard *live;
    size_t n_live;
    tsv_version_list stray;
} stray_ctx;

static int is_live_slot(const stray_ctx *c, const tsv_slot_key *k)
{
    for (size_t i = 0; i < c->n_live; i++) {
        const tsv_slot_key *l = &c->live[i].slot;
        if (l->start_ns == k->start_ns && l->end_ns == k->end_ns &&
            strcmp(l->bucket, k->bucket) == 0 && strcmp(l->rp, k->rp) == 0)
            return 1;
    }
    return 0;
}

static int stray_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    stray_ctx *c = ctx;
    if (v->state != TSV_VERSION_IN_USE || strlen(v->slot.bucket) != 16 || is_live_slot(c, &v->slot))
        return 0;
    return tsv_version_list_add(&c->stray, v, err);
}

int tsv_store_vault_reconcile(tsv_store *s, tsv_error *err)
{
    tsv_vault *vault = s->vault;
    tsv_live_shard *live = NULL;
    size_t n_live = 0;
    if (tsv_store_live_shards(s, NULL, &live, &n_live, NULL, err) != 0)
        return -1;
    todo *work = calloc(n_live ? n_live : 1, sizeof *work);
    size_t n_work = 0;
    stray_ctx sc = {.live = live, .n_live = n_live};
    int rc = -1;
    tsv_catalog_txn *t = NULL;
    if (!work) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    tsv_vault_gc_shared(vault);
    if (tsv_catalog_begin(vault->catalog, 1, &t, err) != 0)
        goto out_unlock;
    int64_t now = tsv_vault_now_ns();
    for (size_t i = 0; i < n_live; i++) {
        tsv_live_shard *l = &live[i];
        tsv_version cur;
        int found;
        uint64_t marker = 0;
        if (tsv_vault_in_use(t, &l->slot, &cur, &found, err) != 0 ||
            tsv_gen_marker_read(l->dir, &marker, err) != 0)
            goto out_unlock;
        if (found && marker == 0 && tsv_dir_has_data(l->dir) != 1) {
            /* A fresh, empty directory (restore/kv's new generation, a
             * bucket restore's new shards): the version in use before was
             * replaced by that restore; it stays restorable, soft-deleted. */
            cur.state = TSV_VERSION_SOFT_DELETED;
            cur.deleted_ns = now;
            snprintf(cur.deleted_by, sizeof cur.deleted_by, "%s",
                     s->vault_label[0] ? s->vault_label : "replaced-by-restore");
            TSV_INFO("msg=\"shard version replaced by a restore: soft-deleted\" dir=\"%s\" "
                     "version=%" PRIu64,
                     l->dir, cur.version);
            int r = tsv_catalog_put(t, &cur, err);
            tsv_version_clear(&cur);
            if (r != 0)
                goto out_unlock;
            continue;
        }
        if (found) {
            if (marker != cur.gen) {
                TSV_WARN("msg=\"shard directory does not hold its in-use version: rebuilding it "
                         "from the vault\" dir=\"%s\" version=%" PRIu64,
                         l->dir, cur.version);
                work[n_work].shard = *l;
                work[n_work].v = cur;
                work[n_work].has = 1;
                n_work++;
            } else {
                tsv_version_clear(&cur);
            }
            continue;
        }
        int data = tsv_dir_has_data(l->dir);
        if (data != 1)
            continue;
        gen_match_ctx gm = {marker, 0};
        if (marker && tsv_catalog_slot_foreach(t, &l->slot, gen_match_fn, &gm, err) < 0)
            goto out_unlock;
        if (gm.match) {
            /* A soft delete committed, its directory change did not happen. */
            TSV_WARN("msg=\"shard directory holds a soft-deleted version: emptying it\" dir=\"%s\"",
                     l->dir);
            work[n_work].shard = *l;
            n_work++;
            continue;
        }
        /* Data the vault does not know yet (written before the vault
         * existed): it becomes the slot's in-use version. */
        tsv_version v = {
            .slot = l->slot,
            .shard_id = l->shard_id,
            .state = TSV_VERSION_IN_USE,
            .created_ns = now,
        };
        snprintf(v.org_id, sizeof v.org_id, "%s", l->org_id);
        snprintf(v.bucket_name, sizeof v.bucket_name, "%s", l->bucket_name);
        if (tsv_catalog_next_version(t, &l->slot, &v.version, err) != 0 ||
            tsv_vault_adopt_dir(vault, l->dir, NULL, NULL, NULL, 0, &v, err) != 0) {
            tsv_version_clear(&v);
            goto out_unlock;
        }
        if (marker == 0) {
            marker = tsv_vault_new_gen();
            if (tsv_gen_marker_write(l->dir, marker, err) != 0) {
                tsv_version_clear(&v);
                goto out_unlock;
            }
        }
        v.gen = marker;
        int r = tsv_catalog_put(t, &v, err);
        TSV_INFO("msg=\"shard directory adopted into the vault\" dir=\"%s\" version=%" PRIu64
                 " files=%zu",
                 l->dir, v.version, v.n_files);
        tsv_version_clear(&v);
        if (r != 0)
            goto out_unlock;
    }
    /* In-use versions of shards the meta no longer lists. */
    if (tsv_catalog_foreach(t, stray_fn, &sc, err) < 0)
        goto out_unlock;
    for (size_t i = 0; i < sc.stray.n; i++) {
        tsv_version *v = &sc.stray.v[i];
        v->state = TSV_VERSION_SOFT_DELETED;
        v->deleted_ns = now;
        snprintf(v->deleted_by, sizeof v->deleted_by, "%s",
                 s->vault_label[0] ? s->vault_label : "bucket-delete");
        TSV_WARN("msg=\"in-use version of a shard the meta does not list: soft-deleted\" "
                 "bucket=%s rp=%s shard=%" PRIu64 " version=%" PRIu64,
                 v->slot.bucket, v->slot.rp, v->shard_id, v->version);
        if (tsv_catalog_put(t, v, err) != 0)
            goto out_unlock;
    }
    rc = tsv_catalog_commit(t, err);
    t = NULL;
out_unlock:
    tsv_catalog_abort(t);
    tsv_vault_gc_unlock(vault);
    for (size_t i = 0; rc == 0 && i < n_work; i++) {
        uint64_t gen = work[i].has ? work[i].v.gen : tsv_vault_new_gen();
        if (tsv_vault_materialize(vault, work[i].shard.dir, work[i].has ? &work[i].v : NULL, gen,
                                  s->trash_dir, err) != 0)
            rc = -1;
    }
out:
    for (size_t i = 0; i < n_work; i++)
        tsv_version_clear(&work[i].v);
    tsv_version_list_clear(&sc.stray);
    free(work);
    free(live);
    return rc;
}

/* ---- shard uploads --------------------------------------------------------- */

static int upload_before_exchange(void *ctx, const char *staging, uint64_t gen,
                                  const char *const *names, const char (*hex)[65], size_t n,
                                  tsv_error *err)
{
    tsv_upload_hook_ctx *c = ctx;
    tsv_vault *vault = c->s->vault;
    tsv_version nv;
    memset(&nv, 0, sizeof nv);
    int rc = -1;
    tsv_catalog_txn *t = NULL;
    tsv_vault_gc_shared(vault);
    if (tsv_catalog_begin(vault->catalog, 1, &t, err) != 0)
        goto out;
    if (tsv_vault_in_use(t, &c->shard.slot, &c->prev, &c->had_prev, err) != 0)
        goto out;
    nv.slot = c->shard.slot;
    nv.shard_id = c->shard.shard_id;
    nv.gen = gen;
    nv.state = TSV_VERSION_IN_USE;
    int64_t now = tsv_vault_now_ns();
    nv.created_ns = now;
    snprintf(nv.org_id, sizeof nv.org_id, "%s", c->shard.org_id);
    snprintf(nv.bucket_name, sizeof nv.bucket_name, "%s", c->shard.bucket_name);
    if (tsv_catalog_next_version(t, &nv.slot, &nv.version, err) != 0 ||
        tsv_vault_adopt_dir(vault, staging, c->had_prev ? &c->prev : NULL, names, hex, n, &nv,
                            err) != 0 ||
        tsv_catalog_put(t, &nv, err) != 0)
        goto out;
    if (c->had_prev && tsv_catalog_put_soft_deleted(t, &c->prev, now, "shard-restore", err) != 0)
        goto out;
    rc = tsv_catalog_commit(t, err);
    t = NULL;
    if (rc == 0)
        c->new_version = nv.version;
out:
    tsv_catalog_abort(t);
    tsv_vault_gc_unlock(vault);
    tsv_version_clear(&nv);
    return rc;
}

/* The exchange failed: the live directory still holds the previous version. */
static void upload_exchange_failed(void *ctx)
{
    tsv_upload_hook_ctx *c = ctx;
    tsv_catalog_txn *t;
    tsv_error e;
    int rc = tsv_catalog_begin(c->s->vault->catalog, 1, &t, &e);
    if (rc == 0) {
        rc = tsv_catalog_del(t, &c->shard.slot, c->new_version, &e);
        if (rc == 0 && c->had_prev)
            rc = tsv_catalog_put(t, &c->prev, &e);
        if (rc == 0)
            rc = tsv_catalog_commit(t, &e);
        else
            tsv_catalog_abort(t);
    }
    if (rc != 0)
        TSV_WARN("msg=\"could not undo the catalogue change of a failed shard install; the next "
                 "start-up rebuilds the shard from the catalogue\" dir=\"%s\" error=\"%s\"",
                 c->shard.dir, e.message);
}

void tsv_store_vault_upload_hook(tsv_upload_hook_ctx *ctx, tsv_shard_install_hook *hook)
{
    hook->before_exchange = upload_before_exchange;
    hook->exchange_failed = upload_exchange_failed;
    hook->ctx = ctx;
}

int tsv_store_vault_record_installed(tsv_store *s, uint64_t shard_id, const char *dir, uint64_t gen,
                                     const char *const *names, const char (*hex)[65], size_t n,
                                     tsv_error *err)
{
    tsv_upload_hook_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    if (tsv_store_live_shard(s, shard_id, &c.shard, err) != 0)
        return -1;
    int rc = upload_before_exchange(&c, dir, gen, names, hex, n, err);
    tsv_version_clear(&c.prev);
    return rc;
}

/* ---- bucket delete ------------------------------------------------------------ */

int tsv_store_vault_bucket_deleted(tsv_store *s, const char *bucket_id, tsv_error *err)
{
    tsv_vault *vault = s->vault;
    tsv_version_list c = {0};
    tsv_catalog_txn *t;
    if (tsv_catalog_begin(vault->catalog, 1, &t, err) != 0)
        return -1;
    int rc = tsv_catalog_bucket_foreach(t, bucket_id, tsv_version_list_collect_in_use, &c, err) < 0
                 ? -1
                 : 0;
    int64_t now = tsv_vault_now_ns();
    for (size_t i = 0; rc == 0 && i < c.n; i++) {
        c.v[i].state = TSV_VERSION_SOFT_DELETED;
        c.v[i].deleted_ns = now;
        snprintf(c.v[i].deleted_by, sizeof c.v[i].deleted_by, "bucket-delete");
        rc = tsv_catalog_put(t, &c.v[i], err);
    }
    if (rc == 0)
        rc = tsv_catalog_commit(t, err);
    else
        tsv_catalog_abort(t);
    tsv_version_list_clear(&c);
    if (rc != 0)
        return -1;
    TSV_INFO("msg=\"bucket deleted: its shard versions are soft-deleted\" bucket=%s versions=%zu",
             bucket_id, c.n);
    /* Every shard file is an object now; anything else is moved aside. */
    char dir[PATH_MAX];
    if (tsv_path_join(dir, sizeof dir, err, "%s/engine/data/%s", s->state_dir, bucket_id) != 0)
        return -1;
    tsv_vault_drop_tree(dir, s->trash_dir);
    return 0;
}

/* ---- unusedShards -------------------------------------------------------------- */

/* Collects the soft-deleted versions into the tsv_version_list ctx. */
static int unused_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    return v->state == TSV_VERSION_SOFT_DELETED ? tsv_version_list_add(ctx, v, err) : 0;
}

/* Newest record of a deleted bucket with this org and name. */
typedef struct by_name_ctx {
    const char *org_id, *name;
    char bucket[17];
    int64_t newest;
} by_name_ctx;

static int by_name_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    (void)err;
    by_name_ctx *c = ctx;
    if (strcmp(v->org_id, c->org_id) == 0 && strcmp(v->bucket_name, c->name) == 0 &&
        v->created_ns >= c->newest) {
        c->newest = v->created_ns;
        snprintf(c->bucket, sizeof c->bucket, "%s", v->slot.bucket);
    }
    return 0;
}

static int cmp_unused(const void *a, const void *b)
{
    const tsv_version *x = a, *y = b;
    if (x->slot.start_ns != y->slot.start_ns)
        return x->slot.start_ns < y->slot.start_ns ? -1 : 1;
    if (x->slot.end_ns != y->slot.end_ns)
        return x->slot.end_ns < y->slot.end_ns ? -1 : 1;
    if (x->version != y->version)
        return x->version < y->version ? -1 : 1;
    return strcmp(x->slot.rp, y->slot.rp);
}

typedef struct find_bucket_ctx {
    const char *org_id, *name;
    char id[17];
    int found;
} find_bucket_ctx;

static int find_bucket_fn(void *ctx, const struct tsv_bucket *b, tsv_error *err)
{
    (void)err;
    find_bucket_ctx *c = ctx;
    snprintf(c->id, sizeof c->id, "%s", b->id);
    c->found = 1;
    return 1;
}

int tsv_store_unused_shards(tsv_store *s, const char *bucket_id, const char *org_id,
                            const char *bucket_name, tsv_unused_shard_fn fn, void *ctx,
                            tsv_error *err)
{
    char id[17] = "";
    int known = 0;
    if (bucket_id) {
        snprintf(id, sizeof id, "%s", bucket_id);
        tsv_bucket b;
        memset(&b, 0, sizeof b);
        tsv_error e;
        if (tsv_store_bucket_get(s, id, &b, &e) == 0)
            known = 1;
        else if (e.code != TSV_ENOTFOUND)
            return err ? (*err = e, -1) : -1;
        tsv_bucket_clear(&b);
    } else {
        find_bucket_ctx fb = {org_id, bucket_name, "", 0};
        tsv_bucket_filter f = {.org_id = org_id, .name = bucket_name};
        tsv_error e;
        if (tsv_store_buckets_list(s, &f, 0, 1, find_bucket_fn, &fb, &e) != 0 &&
            e.code != TSV_ENOTFOUND)
            return err ? (*err = e, -1) : -1;
        if (fb.found) {
            snprintf(id, sizeof id, "%s", fb.id);
            known = 1;
        }
    }
    tsv_store_shared_lock(s);
    tsv_vault *vault = s->vault;
    tsv_version_list c = {0};
    tsv_catalog_txn *t;
    int rc = tsv_catalog_begin(vault->catalog, 0, &t, err);
    if (rc == 0) {
        if (!bucket_id && !known) {
            by_name_ctx bn = {org_id, bucket_name, "", INT64_MIN};
            rc = tsv_catalog_foreach(t, by_name_fn, &bn, err) < 0 ? -1 : 0;
            if (rc == 0 && bn.bucket[0]) {
                snprintf(id, sizeof id, "%s", bn.bucket);
                known = 1;
            }
        }
        if (rc == 0 && id[0] && strlen(id) == 16)
            rc = tsv_catalog_bucket_foreach(t, id, unused_fn, &c, err) < 0 ? -1 : 0;
        tsv_catalog_abort(t);
    }
    tsv_store_shared_unlock(s);
    if (rc == 0 && !known && c.n == 0)
        rc = bucket_id ? tsv_error_set(err, TSV_ENOTFOUND, "bucket %s not found", bucket_id)
                       : tsv_error_set(err, TSV_ENOTFOUND, "table %s not found", bucket_name);
    if (rc == 0 && c.n > 1)
        qsort(c.v, c.n, sizeof *c.v, cmp_unused);
    for (size_t i = 0; rc == 0 && i < c.n; i++) {
        tsv_unused_shard u = {&c.v[i], INT64_MAX};
        if (vault->retention_s >= 0 &&
            c.v[i].deleted_ns <= INT64_MAX - vault->retention_s * 1000000000)
            u.purge_due_ns = c.v[i].deleted_ns + vault->retention_s * 1000000000;
        rc = fn(ctx, &u, err);
    }
    tsv_version_list_clear(&c);
    return rc;
}

int tsv_store_vault_purge_now(tsv_store *s, tsv_error *err)
{
    tsv_vault_purge_stats st = {0};
    int rc = tsv_vault_purge(s->vault, tsv_vault_now_ns(), &st, err);
    if (rc == 0)
        TSV_INFO("msg=\"vault purge\" purged=%" PRIu64 " purged_for_quota=%" PRIu64
                 " objects_deleted=%" PRIu64 " bytes_freed=%" PRIu64,
                 st.purged_versions, st.quota_versions, st.objects_deleted, st.bytes_deleted);
    return rc;
}
