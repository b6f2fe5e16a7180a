/* pitr_preview: what a PITR to T would change (pitr_preview.h). */
#include "pitr_preview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "catalog.h"
#include "pitr.h"
#include "store_internal.h"
#include "vault.h"

typedef struct slot_at {
    tsv_slot_key slot;
    uint64_t version;
} slot_at;

typedef struct slot_list {
    slot_at *v;
    size_t n, cap;
} slot_list;

static int collect_fn(void *ctx, const tsv_slot_key *slot, uint64_t version, tsv_error *err)
{
    slot_list *l = ctx;
    if (TSV_ARRAY_GROW(l->v, l->n, l->cap, err) != 0)
        return -1;
    l->v[l->n].slot = *slot;
    l->v[l->n].version = version;
    l->n++;
    return 0;
}

static int slot_cmp(const tsv_slot_key *a, const tsv_slot_key *b)
{
    int c = strcmp(a->bucket, b->bucket);
    if (!c)
        c = strcmp(a->rp, b->rp);
    if (!c)
        c = (a->start_ns > b->start_ns) - (a->start_ns < b->start_ns);
    if (!c)
        c = (a->end_ns > b->end_ns) - (a->end_ns < b->end_ns);
    return c;
}

static int at_cmp(const void *a, const void *b)
{
    return slot_cmp(&((const slot_at *)a)->slot, &((const slot_at *)b)->slot);
}

static int is_pseudo(const tsv_slot_key *k)
{
    return strcmp(k->bucket, TSV_CATALOG_SLOT_KV) == 0 ||
           strcmp(k->bucket, TSV_CATALOG_SLOT_SQL) == 0;
}

const char *tsv_pitr_change_name(tsv_pitr_change_kind k)
{
    switch (k) {
    case TSV_PITR_ADDED:
        return "added";
    case TSV_PITR_REMOVED:
        return "removed";
    default:
        return "changed";
    }
}

/* The differing slot's bucket name, shard ID and sizes from its versions. */
static int describe(tsv_catalog_txn *t, const tsv_slot_key *slot, uint64_t then, uint64_t now,
                    tsv_pitr_shard_change *c, tsv_error *err)
{
    memset(c, 0, sizeof *c);
    c->kind = !now ? TSV_PITR_ADDED : !then ? TSV_PITR_REMOVED : TSV_PITR_CHANGED;
    memcpy(c->bucket_id, slot->bucket, sizeof c->bucket_id);
    memcpy(c->rp, slot->rp, sizeof c->rp);
    c->start_ns = slot->start_ns;
    c->end_ns = slot->end_ns;
    c->version_then = then;
    c->version_now = now;
    uint64_t vs[2] = {then, now};
    for (int i = 0; i < 2; i++) {
        if (!vs[i])
            continue;
        tsv_version v;
        memset(&v, 0, sizeof v);
        if (tsv_catalog_get(t, slot, vs[i], &v, err) != 0)
            return -1;
        if (i == 0)
            c->bytes_then = tsv_version_bytes(&v);
        else
            c->bytes_now = tsv_version_bytes(&v);
        if (!c->shard_id || i == 0)
            c->shard_id = v.shard_id;
        if (v.bucket_name[0] && (!c->bucket_name[0] || i == 1))
            memcpy(c->bucket_name, v.bucket_name, sizeof c->bucket_name);
        tsv_version_clear(&v);
    }
    return 0;
}

static tsv_pitr_bucket_change *bucket_of(tsv_pitr_preview *p, const char *id, const char *name,
                                         size_t *cap, tsv_error *err)
{
    if (p->n_buckets && strcmp(p->buckets[p->n_buckets - 1].bucket_id, id) == 0)
        return &p->buckets[p->n_buckets - 1];
    if (TSV_ARRAY_GROW(p->buckets, p->n_buckets, *cap, err) != 0)
        return NULL;
    tsv_pitr_bucket_change *b = &p->buckets[p->n_buckets++];
    memset(b, 0, sizeof *b);
    snprintf(b->bucket_id, sizeof b->bucket_id, "%s", id);
    snprintf(b->bucket_name, sizeof b->bucket_name, "%s", name);
    return b;
}

/* Walks both sorted lists once: pseudo-slots to the kv/sql fields, every
 * differing shard slot to p->shards, and per bucket the counts. */
static int diff(tsv_catalog_txn *t, slot_list *then, slot_list *now, tsv_pitr_preview *p,
                tsv_error *err)
{
    size_t i = 0, j = 0, shard_cap = 0, bucket_cap = 0;
    while (i < then->n || j < now->n) {
        int c = i >= then->n ? 1 : j >= now->n ? -1 : slot_cmp(&then->v[i].slot, &now->v[j].slot);
        const tsv_slot_key *slot = c <= 0 ? &then->v[i].slot : &now->v[j].slot;
        uint64_t vt = c <= 0 ? then->v[i].version : 0, vn = c >= 0 ? now->v[j].version : 0;
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
        if (is_pseudo(slot)) {
            int kv = strcmp(slot->bucket, TSV_CATALOG_SLOT_KV) == 0;
            *(kv ? &p->kv_then : &p->sql_then) = vt;
            *(kv ? &p->kv_now : &p->sql_now) = vn;
            continue;
        }
        tsv_pitr_shard_change sc;
        if (vt == vn) {
            memset(&sc, 0, sizeof sc);
            p->shards_unchanged++;
        } else {
            if (describe(t, slot, vt, vn, &sc, err) != 0)
                return -1;
            if (TSV_ARRAY_GROW(p->shards, p->n_shards, shard_cap, err) != 0)
                return -1;
            p->shards[p->n_shards++] = sc;
        }
        tsv_pitr_bucket_change *b = bucket_of(p, slot->bucket, sc.bucket_name, &bucket_cap, err);
        if (!b)
            return -1;
        if (!b->bucket_name[0] && sc.bucket_name[0])
            memcpy(b->bucket_name, sc.bucket_name, sizeof b->bucket_name);
        b->shards_then += vt != 0;
        b->shards_now += vn != 0;
        b->shards_added += vt && !vn;
        b->shards_removed += vn && !vt;
        b->shards_changed += vt && vn && vt != vn;
    }
    /* Keep the buckets with a change; name the unnamed from any version. */
    size_t k = 0;
    for (size_t n = 0; n < p->n_buckets; n++) {
        tsv_pitr_bucket_change *b = &p->buckets[n];
        if (!b->shards_added && !b->shards_removed && !b->shards_changed)
            continue;
        b->kind = !b->shards_now    ? TSV_PITR_ADDED
                  : !b->shards_then ? TSV_PITR_REMOVED
                                    : TSV_PITR_CHANGED;
        p->buckets[k++] = *b;
    }
    p->n_buckets = k;
    return 0;
}

int tsv_pitr_preview_get(tsv_store *s, int64_t target_ns, tsv_pitr_preview *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    if (tsv_pitr_check_target(s, target_ns, err) != 0)
        return -1;
    int rc = -1;
    slot_list then = {0}, now = {0};
    tsv_catalog_txn *t = NULL;
    out->target_ns = target_ns;
    out->now_ns = tsv_vault_now_ns();
    tsv_store_shared_lock(s);
    if (tsv_catalog_begin(s->vault->catalog, 0, &t, err) != 0)
        goto out;
    if (tsv_catalog_foreach_in_use_at(t, NULL, target_ns, collect_fn, &then, err) < 0 ||
        tsv_catalog_foreach_in_use_at(t, NULL, out->now_ns, collect_fn, &now, err) < 0)
        goto out;
    if (then.n)
        qsort(then.v, then.n, sizeof *then.v, at_cmp);
    if (now.n)
        qsort(now.v, now.n, sizeof *now.v, at_cmp);
    if (diff(t, &then, &now, out, err) != 0)
        goto out;
    rc = 0;
out:
    tsv_catalog_abort(t);
    tsv_store_shared_unlock(s);
    free(then.v);
    free(now.v);
    if (rc != 0)
        tsv_pitr_preview_clear(out);
    return rc;
}

void tsv_pitr_preview_clear(tsv_pitr_preview *p)
{
    if (!p)
        return;
    free(p->shards);
    free(p->buckets);
    memset(p, 0, sizeof *p);
}
