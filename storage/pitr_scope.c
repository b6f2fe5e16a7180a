/* pitr_scope: one org's or one bucket's records taken from the KV at T
 * (pitr_scope.h). */
#include "pitr_scope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "json.h"
#include "meta.h"
#include "meta_store.h"
#include "tenant.h"

/* ---- the set of owned IDs ------------------------------------------------------ */

struct tsv_pitr_scope_ids {
    char (*v)[17];
    size_t n, cap;
    int sorted;
};

static int is_id(const uint8_t *p, size_t len)
{
    if (len < 16)
        return 0;
    for (size_t i = 0; i < 16; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

static int ids_add(tsv_pitr_scope_ids *ids, const void *p, size_t len, tsv_error *err)
{
    if (len != 16 || !is_id(p, len))
        return 0; /* not an ID influxd would write: owns nothing */
    if (TSV_ARRAY_GROW(ids->v, ids->n, ids->cap, NULL) != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "pitr: out of memory (scope IDs)");
    memcpy(ids->v[ids->n], p, 16);
    ids->v[ids->n][16] = '\0';
    ids->n++;
    ids->sorted = 0;
    return 0;
}

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, 16); }

static void ids_sort(tsv_pitr_scope_ids *ids)
{
    if (ids->sorted)
        return;
    if (ids->n > 1)
        qsort(ids->v, ids->n, sizeof ids->v[0], cmp_id);
    size_t w = 0;
    for (size_t i = 0; i < ids->n; i++)
        if (w == 0 || memcmp(ids->v[w - 1], ids->v[i], 16) != 0)
            memmove(ids->v[w++], ids->v[i], sizeof ids->v[0]);
    ids->n = w;
    ids->sorted = 1;
}

/* Owns a value or key whose first 16 bytes are an owned ID. */
static int ids_has_prefix(const tsv_pitr_scope_ids *ids, const uint8_t *p, size_t len)
{
    if (!p || !ids->n || !is_id(p, len))
        return 0;
    return bsearch(p, ids->v, ids->n, sizeof ids->v[0], cmp_id) != NULL;
}

int tsv_pitr_scope_owns(const tsv_pitr_scope_ids *ids, const char *db_name)
{
    return ids && strlen(db_name) == 16 && ids_has_prefix(ids, (const uint8_t *)db_name, 16);
}

void tsv_pitr_scope_ids_free(tsv_pitr_scope_ids *ids)
{
    if (!ids)
        return;
    free(ids->v);
    free(ids);
}

/* Opens top-level bucket `name` of txn; *h = 0 when it does not exist. */
static int top_bucket(tsv_kv_txn *txn, const char *name, uint64_t *h, tsv_error *err)
{
    tsv_error e;
    *h = 0;
    if (tsv_kv_bucket(txn, TSV_KV_ROOT, name, strlen(name), h, &e) == 0)
        return 0;
    *h = 0;
    if (e.code == TSV_ENOTFOUND)
        return 0;
    *err = e;
    return -1;
}

typedef struct collect_ctx {
    const char *field, *want;
    tsv_pitr_scope_ids *ids;
} collect_ctx;

static int collect_visit(void *ctx, const tsv_kv_entry *e, tsv_error *err)
{
    collect_ctx *cc = ctx;
    if (e->is_bucket || e->klen != 16)
        return 0;
    tsv_json_doc *doc;
    tsv_error jerr;
    if (tsv_json_parse(&doc, (const char *)e->val, e->vlen, &jerr) != 0)
        return 0;
    int rc = 0;
    const tsv_json *v = tsv_json_get(tsv_json_root(doc), cc->field);
    if (v && v->type == TSV_JSON_STRING && v->len == 16 && memcmp(v->str, cc->want, 16) == 0)
        rc = ids_add(cc->ids, e->key, e->klen, err);
    tsv_json_free(doc);
    return rc;
}

/* Adds the key of every record of `bucket` whose JSON field `field` equals
 * `want`. A record that is not JSON owns nothing (influxd would not read it
 * either). */
static int collect(tsv_kv_txn *txn, const char *bucket, const char *field, const char *want,
                   tsv_pitr_scope_ids *ids, tsv_error *err)
{
    uint64_t h;
    if (top_bucket(txn, bucket, &h, err) != 0)
        return -1;
    if (!h)
        return 0;
    collect_ctx cc = {.field = field, .want = want, .ids = ids};
    return tsv_kv_walk(txn, h, NULL, 0, collect_visit, &cc, err) < 0 ? -1 : 0;
}

/* ---- the records the scope owns ------------------------------------------------- */

typedef enum {
    BY_KEY,
    BY_VALUE
} owner_rule;

static const struct {
    const char *bucket;
    owner_rule rule;
} owned_buckets[] = {
    {"organizationsv1", BY_KEY},
    {"organizationindexv1", BY_VALUE},
    {"bucketsv1", BY_KEY},
    {"bucketindexv1", BY_VALUE},
    {"authorizationsv1", BY_KEY},
    {"authorizationindexv1", BY_VALUE},
    {"authorizationhashedindexv1", BY_VALUE},
    {"userresourcemappingsv1", BY_KEY},
    {"userresourcemappingsbyuserindexv1", BY_VALUE},
    {"dbrpv1", BY_KEY},
    {"dbrpbyorganddbindexv1", BY_VALUE},
    {"dbrpbyorgv1", BY_VALUE},
    {"dbrpdefaultv1", BY_VALUE},
};

typedef struct op {
    uint8_t *key;
    size_t klen;
    uint8_t *val; /* NULL: delete */
    size_t vlen;
} op;

typedef struct ops {
    op *v;
    size_t n, cap;
} ops;

static void ops_free(ops *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].key);
        free(o->v[i].val);
    }
    free(o->v);
    memset(o, 0, sizeof *o);
}

static int ops_add(ops *o, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                   tsv_error *err)
{
    if (TSV_ARRAY_GROW(o->v, o->n, o->cap, NULL) != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "pitr: out of memory (scope changes)");
    op *p = &o->v[o->n];
    memset(p, 0, sizeof *p);
    p->key = malloc(klen ? klen : 1);
    p->klen = klen;
    if (p->key)
        memcpy(p->key, key, klen);
    if (val) {
        p->val = malloc(vlen ? vlen : 1);
        p->vlen = vlen;
        if (p->val)
            memcpy(p->val, val, vlen);
    }
    if (!p->key || (val && !p->val)) {
        free(p->key);
        free(p->val);
        return tsv_error_set(err, TSV_EINTERNAL, "pitr: out of memory (scope changes)");
    }
    o->n++;
    return 0;
}

/* The value of key in bucket h of txn: 1 found, 0 absent (or a nested
 * bucket), -1 error. */
static int lookup(tsv_kv_txn *txn, uint64_t h, const uint8_t *key, size_t klen, const uint8_t **val,
                  size_t *vlen, tsv_error *err)
{
    *val = NULL;
    *vlen = 0;
    if (!h)
        return 0;
    tsv_error e;
    if (tsv_kv_get(txn, h, key, klen, val, vlen, &e) == 0)
        return 1;
    if (e.code == TSV_ENOTFOUND)
        return 0;
    *err = e;
    return -1;
}

static int owned(const tsv_pitr_scope_ids *ids, owner_rule rule, const uint8_t *key, size_t klen,
                 const uint8_t *val, size_t vlen)
{
    return rule == BY_KEY ? ids_has_prefix(ids, key, klen) : ids_has_prefix(ids, val, vlen);
}

typedef struct plan_ctx {
    int pass;              /* 0: walking live's bucket, 1: at_t's */
    tsv_kv_txn *other_txn; /* the other side */
    uint64_t other_h;
    owner_rule rule;
    const tsv_pitr_scope_ids *ids;
    ops *o;
} plan_ctx;

static int plan_visit(void *ctx, const tsv_kv_entry *e, tsv_error *err)
{
    plan_ctx *p = ctx;
    if (e->is_bucket)
        return 0;
    const uint8_t *other;
    size_t olen;
    int found = lookup(p->other_txn, p->other_h, e->key, e->klen, &other, &olen, err);
    if (found < 0)
        return -1;
    if (!owned(p->ids, p->rule, e->key, e->klen, e->val, e->vlen) &&
        !(found && owned(p->ids, p->rule, e->key, e->klen, other, olen)))
        return 0;
    if (p->pass == 0) {
        /* Now: back to its value at T, or gone if it did not exist. */
        if (!found)
            return ops_add(p->o, e->key, e->klen, NULL, 0, err);
        if (olen != e->vlen || memcmp(other, e->val, olen) != 0)
            return ops_add(p->o, e->key, e->klen, other, olen, err);
    } else if (!found) {
        /* At T only: back. */
        return ops_add(p->o, e->key, e->klen, e->val, e->vlen, err);
    }
    return 0;
}

/* Plans the writes that give `live`'s bucket the owned records of `at_t`'s. */
static int plan_bucket(tsv_kv_txn *live, tsv_kv_txn *at_t, const char *bucket, owner_rule rule,
                       const tsv_pitr_scope_ids *ids, ops *o, tsv_error *err)
{
    uint64_t hl, ht;
    if (top_bucket(live, bucket, &hl, err) != 0 || top_bucket(at_t, bucket, &ht, err) != 0)
        return -1;
    for (int pass = 0; pass < 2; pass++) {
        tsv_kv_txn *txn = pass == 0 ? live : at_t;
        uint64_t h = pass == 0 ? hl : ht;
        if (!h)
            continue;
        plan_ctx p = {.pass = pass,
                      .other_txn = pass == 0 ? at_t : live,
                      .other_h = pass == 0 ? ht : hl,
                      .rule = rule,
                      .ids = ids,
                      .o = o};
        if (tsv_kv_walk(txn, h, NULL, 0, plan_visit, &p, err) < 0)
            return -1;
    }
    return 0;
}

static int apply_ops(tsv_kv_txn *live, const char *bucket, const ops *o, tsv_pitr_scope_result *res,
                     tsv_error *err)
{
    if (o->n == 0)
        return 0;
    uint64_t h;
    if (tsv_kv_bucket_create(live, TSV_KV_ROOT, bucket, strlen(bucket), 0, 1, &h, err) != 0)
        return -1;
    for (size_t i = 0; i < o->n; i++) {
        const op *p = &o->v[i];
        if (p->val) {
            if (tsv_kv_put(live, h, p->key, p->klen, p->val, p->vlen, err) != 0)
                return -1;
            res->records_put++;
        } else {
            if (tsv_kv_del(live, h, p->key, p->klen, err) != 0)
                return -1;
            res->records_deleted++;
        }
    }
    return 0;
}

/* ---- the tsdb meta ------------------------------------------------------------------ */

typedef struct id_list {
    uint64_t *v;
    size_t n, cap;
} id_list;

static int idl_add(id_list *l, uint64_t id, tsv_error *err)
{
    if (TSV_ARRAY_GROW(l->v, l->n, l->cap, NULL) != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "pitr: out of memory (shard IDs)");
    l->v[l->n++] = id;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int idl_has(const id_list *l, uint64_t id)
{
    return l->n && bsearch(&id, l->v, l->n, sizeof id, cmp_u64) != NULL;
}

/* The shard and group IDs used by the databases outside the scope. */
static int used_ids(const Meta__Data *m, id_list *shards, id_list *groups, tsv_error *err)
{
    for (size_t d = 0; d < m->n_databases; d++)
        for (size_t r = 0; r < m->databases[d]->n_retentionpolicies; r++) {
            const Meta__RetentionPolicyInfo *rp = m->databases[d]->retentionpolicies[r];
            for (size_t g = 0; g < rp->n_shardgroups; g++) {
                if (idl_add(groups, rp->shardgroups[g]->id, err) != 0)
                    return -1;
                for (size_t s = 0; s < rp->shardgroups[g]->n_shards; s++)
                    if (idl_add(shards, rp->shardgroups[g]->shards[s]->id, err) != 0)
                        return -1;
            }
        }
    if (shards->n > 1) /* qsort of NULL, even with 0 items, is undefined */
        qsort(shards->v, shards->n, sizeof(uint64_t), cmp_u64);
    if (groups->n > 1)
        qsort(groups->v, groups->n, sizeof(uint64_t), cmp_u64);
    return 0;
}

/* A database brought back from T must not share a shard or group ID with one
 * that stayed (possible when an earlier whole-server PITR rewound the
 * counters and new shards took the IDs again). */
static size_t renumber(Meta__Data *m, Meta__DatabaseInfo *db, const id_list *shards,
                       const id_list *groups)
{
    size_t n = 0;
    for (size_t r = 0; r < db->n_retentionpolicies; r++) {
        Meta__RetentionPolicyInfo *rp = db->retentionpolicies[r];
        for (size_t g = 0; g < rp->n_shardgroups; g++) {
            Meta__ShardGroupInfo *grp = rp->shardgroups[g];
            if (idl_has(groups, grp->id)) {
                grp->id = ++m->maxshardgroupid;
                n++;
            }
            for (size_t s = 0; s < grp->n_shards; s++)
                if (idl_has(shards, grp->shards[s]->id)) {
                    grp->shards[s]->id = ++m->maxshardid;
                    n++;
                }
        }
    }
    return n;
}

static int merge_meta(tsv_kv_txn *live, tsv_kv_txn *at_t, const tsv_pitr_scope_ids *ids,
                      tsv_pitr_scope_result *res, tsv_error *err)
{
    Meta__Data *now = NULL, *then = NULL;
    int present_now = 0, present_then = 0;
    if (tsv_meta_load(live, &now, &present_now, err) != 0)
        return -1;
    if (tsv_meta_load(at_t, &then, &present_then, err) != 0) {
        tsv_meta_free(now);
        return -1;
    }
    int rc = 0;
    int changed = 0;
    for (size_t i = now->n_databases; rc == 0 && i-- > 0;)
        if (tsv_pitr_scope_owns(ids, now->databases[i]->name)) {
            char name[17];
            snprintf(name, sizeof name, "%s", now->databases[i]->name);
            rc = tsv_meta_drop_database(now, name, NULL, err);
            changed = 1;
        }
    id_list shards = {0}, groups = {0};
    if (rc == 0)
        rc = used_ids(now, &shards, &groups, err);
    if (rc == 0) {
        if (then->maxshardid > now->maxshardid)
            now->maxshardid = then->maxshardid;
        if (then->maxshardgroupid > now->maxshardgroupid)
            now->maxshardgroupid = then->maxshardgroupid;
    }
    for (size_t i = 0; rc == 0 && i < then->n_databases; i++) {
        if (!tsv_pitr_scope_owns(ids, then->databases[i]->name))
            continue;
        Meta__DatabaseInfo *added;
        rc = tsv_meta_add_database_copy(now, then->databases[i], &added, err);
        if (rc == 0) {
            res->renumbered += renumber(now, added, &shards, &groups);
            res->databases++;
            changed = 1;
        }
    }
    free(shards.v);
    free(groups.v);
    if (rc == 0 && changed)
        rc = tsv_meta_save(live, now, err);
    tsv_meta_free(now);
    tsv_meta_free(then);
    return rc;
}

/* ---- merge -------------------------------------------------------------------------- */

static int exists_in(tsv_kv_txn *txn, const char *bucket, const char *id, int *found,
                     tsv_error *err)
{
    uint64_t h;
    const uint8_t *v;
    size_t vlen;
    if (top_bucket(txn, bucket, &h, err) != 0)
        return -1;
    int r = lookup(txn, h, (const uint8_t *)id, 16, &v, &vlen, err);
    if (r < 0)
        return -1;
    *found |= r;
    return 0;
}

static int valid_id(const char *id)
{
    uint64_t v;
    tsv_error e;
    char norm[17];
    if (tsv_id_parse(id, &v, &e) != 0)
        return 0;
    /* Lowercase only: the scope is compared byte for byte with stored IDs. */
    tsv_id_format(v, norm);
    return strcmp(norm, id) == 0;
}

int tsv_pitr_scope_merge(tsv_kv *live, tsv_kv *at_t, const tsv_pitr_scope *scope,
                         tsv_pitr_scope_ids **out, tsv_pitr_scope_result *res, tsv_error *err)
{
    memset(res, 0, sizeof *res);
    *out = NULL;
    const int by_org = scope->org_id[0] != '\0';
    const char *id = by_org ? scope->org_id : scope->bucket_id;
    if (!valid_id(id) || (by_org && scope->bucket_id[0]))
        return tsv_error_set(err, TSV_EINVALID,
                             "pitr: the scope is one orgID or one bucketID (16 hex digits)");
    tsv_pitr_scope_ids *ids = calloc(1, sizeof *ids);
    if (!ids)
        return tsv_error_set(err, TSV_EINTERNAL, "pitr: out of memory");
    tsv_kv_txn *tl = NULL, *tt = NULL;
    int rc = tsv_kv_begin(at_t, 0, &tt, err);
    if (rc == 0)
        rc = tsv_kv_begin(live, 1, &tl, err);
    int found = 0;
    const char *rec_bucket = by_org ? "organizationsv1" : "bucketsv1";
    if (rc == 0)
        rc = exists_in(tl, rec_bucket, id, &found, err);
    if (rc == 0)
        rc = exists_in(tt, rec_bucket, id, &found, err);
    if (rc == 0 && !found)
        rc = tsv_error_set(err, TSV_ENOTFOUND, "%s %s exists neither now nor at the target time",
                           by_org ? "org" : "bucket", id);
    if (rc == 0)
        rc = ids_add(ids, id, 16, err);
    for (int pass = 0; rc == 0 && pass < 2; pass++) {
        tsv_kv_txn *txn = pass == 0 ? tl : tt;
        if (by_org) {
            rc = collect(txn, "bucketsv1", "orgID", id, ids, err);
            if (rc == 0)
                rc = collect(txn, "authorizationsv1", "orgID", id, ids, err);
            if (rc == 0)
                rc = collect(txn, "dbrpv1", "orgID", id, ids, err);
        } else {
            rc = collect(txn, "dbrpv1", "bucketID", id, ids, err);
        }
    }
    if (rc == 0)
        ids_sort(ids);
    for (size_t b = 0; rc == 0 && b < sizeof owned_buckets / sizeof owned_buckets[0]; b++) {
        ops o = {0};
        rc = plan_bucket(tl, tt, owned_buckets[b].bucket, owned_buckets[b].rule, ids, &o, err);
        if (rc == 0)
            rc = apply_ops(tl, owned_buckets[b].bucket, &o, res, err);
        ops_free(&o);
    }
    if (rc == 0)
        rc = merge_meta(tl, tt, ids, res, err);
    tsv_kv_abort(tt);
    if (rc == 0)
        rc = tsv_kv_commit(tl, err);
    else
        tsv_kv_abort(tl);
    if (rc != 0) {
        tsv_pitr_scope_ids_free(ids);
        return -1;
    }
    *out = ids;
    return 0;
}
