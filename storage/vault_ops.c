/* vault_ops: delete_data and restore_data (vault_ops.h). */
#include "vault_ops.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array_grow.h"
#include "engine.h"
#include "fault.h"
#include "fsutil.h"
#include "random.h"
#include "store_internal.h"
#include "store_vault.h"
#include "tombstone.h"
#include "tombstone_write.h"
#include "tsm.h"
#include "tsv_log.h"
#include "vault.h"

#define MAX_INTERVALS 64

const char *tsv_vault_outcome_name(tsv_vault_outcome o)
{
    switch (o) {
    case TSV_VAULT_SOFT_DELETED:
        return "soft_deleted";
    case TSV_VAULT_TOMBSTONED:
        return "tombstoned";
    case TSV_VAULT_RESTORED:
        return "restored";
    case TSV_VAULT_UNCHANGED:
        return "unchanged";
    case TSV_VAULT_REFUSED:
        return "refused";
    }
    return "unknown";
}

void tsv_vault_result_clear(tsv_vault_result *r)
{
    if (!r)
        return;
    free(r->shards);
    memset(r, 0, sizeof *r);
}

static int cancelled(const tsv_vault_op_options *opt)
{
    return opt && opt->cancel && atomic_load(opt->cancel) != 0;
}

int tsv_vault_result_add(tsv_vault_result *r, const tsv_vault_shard_result *sr, tsv_error *err)
{
    if (TSV_ARRAY_GROW(r->shards, r->count, r->cap, err) != 0)
        return -1;
    r->shards[r->count++] = *sr;
    return 0;
}

static int check_bucket_id(const char *id, tsv_error *err)
{
    if (!id || strlen(id) != 16)
        return tsv_error_set(err, TSV_EINVALID, "invalid bucket ID \"%.40s\": 16 hex digits",
                             id ? id : "");
    for (int i = 0; i < 16; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return tsv_error_set(err, TSV_EINVALID,
                                 "invalid bucket ID \"%s\": 16 lowercase hex digits", id);
    return 0;
}

static void op_name(char *out, size_t n, const char *kind, const tsv_vault_op_options *opt)
{
    if (opt && opt->op_id && opt->op_id[0])
        snprintf(out, n, "%s:%s", kind, opt->op_id);
    else
        snprintf(out, n, "%s", kind);
}

static void init_result(tsv_vault_shard_result *sr, const tsv_live_shard *l)
{
    memset(sr, 0, sizeof *sr);
    sr->shard_id = l->shard_id;
    snprintf(sr->rp, sizeof sr->rp, "%s", l->slot.rp);
    sr->start_ns = l->slot.start_ns;
    sr->end_ns = l->slot.end_ns;
}

/* ---- delete_data ------------------------------------------------------------ */

/* Makes the tombstone version of `cur` for `ranges`; *nv gets its files
 * (objects stored). *changed = 0 if no TSM file has data in the ranges.
 * Called under the shard lock, with the GC lock shared. */
static int build_tombstone_version(tsv_store *s, const tsv_live_shard *l, const tsv_version *cur,
                                   const tsv_time_range *ranges, size_t n_ranges,
                                   const tsv_vault_op_options *opt, tsv_version *nv, int *changed,
                                   int *stop, tsv_error *err)
{
    tsv_vault *vault = s->vault;
    *changed = 0;
    char scratch[PATH_MAX];
    if (tsv_path_join(scratch, sizeof scratch, err, "%s/vault-%016" PRIx64, s->tmp_dir,
                      tsv_random_u64()) != 0 ||
        tsv_mkdir_p(scratch, err) != 0)
        return -1;
    int rc = -1;
    /* Files of cur that are replaced: tombstones of TSM files that got new records. */
    char *replaced = calloc(cur->n_files ? cur->n_files : 1, 1);
    if (!replaced) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < cur->n_files; i++) {
        const char *name = cur->files[i].name;
        if (!tsv_tsm_name_valid(name))
            continue;
        if (cancelled(opt)) {
            *stop = 1;
            rc = 0;
            goto out;
        }
        char stem[64], tomb[80], tsm_path[PATH_MAX], out_path[PATH_MAX];
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(name) - 4), name);
        snprintf(tomb, sizeof tomb, "%s.tombstone", stem);
        size_t old_idx = cur->n_files;
        for (size_t j = 0; j < cur->n_files; j++)
            if (strcmp(cur->files[j].name, tomb) == 0)
                old_idx = j;
        if (tsv_path_join(tsm_path, sizeof tsm_path, err, "%s/%.2s/%s", vault->objects_dir,
                          cur->files[i].object, cur->files[i].object) != 0 ||
            tsv_path_join(out_path, sizeof out_path, err, "%s/%s", scratch, tomb) != 0)
            goto out;
        tsv_reader *old = NULL;
        if (old_idx < cur->n_files &&
            tsv_objstore_get(vault->objects, cur->files[old_idx].object, &old, err) != 0)
            goto out;
        uint64_t records = 0;
        if (tsv_fault_check("vault-write", err) != 0) {
            tsv_reader_free(old);
            goto out;
        }
        int r =
            tsv_tombstone_write_ranges(tsm_path, old, ranges, n_ranges, out_path, &records, err);
        tsv_reader_free(old);
        if (r != 0)
            goto out;
        if (records == 0)
            continue;
        char hex[TSV_OBJECT_HEX];
        uint64_t size;
        if (tsv_sha256_file(out_path, hex, &size, err) != 0 ||
            tsv_objstore_adopt(vault->objects, out_path, hex, NULL, err) != 0 ||
            tsv_version_add_file(nv, tomb, hex, size, err) != 0)
            goto out;
        if (old_idx < cur->n_files)
            replaced[old_idx] = 1;
        *changed = 1;
    }
    for (size_t i = 0; i < cur->n_files; i++)
        if (!replaced[i] && tsv_version_add_file(nv, cur->files[i].name, cur->files[i].object,
                                                 cur->files[i].size, err) != 0)
            goto out;
    rc = 0;
out:
    free(replaced);
    tsv_error e;
    if (tsv_remove_tree(scratch, &e) != 0)
        TSV_WARN("msg=\"could not remove\" path=\"%s\" error=\"%s\"", scratch, e.message);
    return rc;
}

/* One slot of a delete_data: what it holds now and what it will hold. */
typedef struct del_plan {
    tsv_live_shard *l;
    tsv_version cur; /* in use now (has_cur) */
    int has_cur;
    int whole;
    tsv_version nv; /* the tombstone version (changed) */
    int changed;
    uint64_t gen;
    tsv_vault_shard_result sr;
} del_plan;

/* Phase 1 for one slot: read its in-use version, build the tombstone
 * version's objects if the slot is covered in part. Nothing is committed. */
static int delete_prepare(tsv_store *s, del_plan *p, const tsv_interval *iv, size_t n,
                          const tsv_vault_op_options *opt, int *stop, tsv_error *err)
{
    tsv_vault *vault = s->vault;
    const tsv_live_shard *l = p->l;
    tsv_time_range ranges[MAX_INTERVALS];
    size_t n_ranges = 0;
    for (size_t i = 0; i < n; i++) {
        if (iv[i].start_ns >= l->slot.end_ns || l->slot.start_ns >= iv[i].end_ns)
            continue;
        if (iv[i].start_ns <= l->slot.start_ns && l->slot.end_ns <= iv[i].end_ns)
            p->whole = 1;
        ranges[n_ranges].min =
            iv[i].start_ns > l->slot.start_ns ? iv[i].start_ns : l->slot.start_ns;
        ranges[n_ranges].max = (iv[i].end_ns < l->slot.end_ns ? iv[i].end_ns : l->slot.end_ns) - 1;
        n_ranges++;
    }
    init_result(&p->sr, l);
    p->gen = tsv_vault_new_gen();
    tsv_catalog_txn *t;
    if (tsv_catalog_begin(vault->catalog, 0, &t, err) != 0)
        return -1;
    int rc = tsv_vault_in_use(t, &l->slot, &p->cur, &p->has_cur, err);
    tsv_catalog_abort(t);
    if (rc != 0)
        return -1;
    if (!p->has_cur) {
        p->sr.outcome = TSV_VAULT_UNCHANGED;
        snprintf(p->sr.reason, sizeof p->sr.reason, "no version in use");
        return 0;
    }
    p->sr.from_version = p->cur.version;
    if (p->whole) {
        p->sr.outcome = TSV_VAULT_SOFT_DELETED;
        return 0;
    }
    /* New tombstones are built from the current files: not from bytes
     * verify marked corrupt (they would be stored under a new, valid name). */
    char what[512];
    snprintf(what, sizeof what,
             "delete_data of bucket %s, rp %s, shard %" PRIu64 ", version %" PRIu64, l->slot.bucket,
             l->slot.rp, l->shard_id, p->cur.version);
    if (tsv_vault_check_version(vault, &p->cur, what, err) != 0 ||
        build_tombstone_version(s, l, &p->cur, ranges, n_ranges, opt, &p->nv, &p->changed, stop,
                                err) != 0)
        return -1;
    if (!*stop && !p->changed) {
        p->sr.outcome = TSV_VAULT_UNCHANGED;
        p->sr.to_version = p->cur.version;
        snprintf(p->sr.reason, sizeof p->sr.reason, "no data in the interval");
    } else {
        p->sr.outcome = TSV_VAULT_TOMBSTONED;
    }
    return 0;
}

/* Phase 2: every slot's change in one catalogue transaction. */
static int delete_commit(tsv_store *s, del_plan *plans, size_t n, const char *by, tsv_error *err)
{
    tsv_catalog_txn *t;
    if (tsv_catalog_begin(s->vault->catalog, 1, &t, err) != 0)
        return -1;
    int64_t now = tsv_vault_now_ns();
    for (size_t i = 0; i < n; i++) {
        del_plan *p = &plans[i];
        if (!p->has_cur || (!p->whole && !p->changed))
            continue;
        /* The shard locks keep the in-use version as it was read. */
        if (!p->whole) {
            tsv_version *nv = &p->nv;
            nv->slot = p->l->slot;
            nv->shard_id = p->l->shard_id;
            nv->gen = p->gen;
            nv->state = TSV_VERSION_IN_USE;
            nv->created_ns = now;
            nv->derived_from = p->cur.version;
            snprintf(nv->org_id, sizeof nv->org_id, "%s", p->l->org_id);
            snprintf(nv->bucket_name, sizeof nv->bucket_name, "%s", p->l->bucket_name);
            if (tsv_catalog_next_version(t, &nv->slot, &nv->version, err) != 0 ||
                tsv_catalog_put(t, nv, err) != 0)
                goto fail;
            p->sr.to_version = nv->version;
        }
        if (tsv_catalog_put_soft_deleted(t, &p->cur, now, by, err) != 0)
            goto fail;
    }
    tsv_fault_point("vault-delete-before-commit");
    return tsv_catalog_commit(t, err);
fail:
    tsv_catalog_abort(t);
    return -1;
}

/* Phase 3: shard directories follow the committed catalogue. A failure
 * here leaves the change committed: the next start-up rebuilds the
 * directory (store_vault.c). */
static int rebuild_dir(tsv_store *s, const tsv_live_shard *l, const tsv_version *v, uint64_t gen,
                       tsv_error *err)
{
    if (tsv_vault_materialize(s->vault, l->dir, v, gen, s->trash_dir, err) == 0)
        return 0;
    TSV_WARN("msg=\"shard directory not rebuilt; the next start-up rebuilds it from the "
             "catalogue\" dir=\"%s\" error=\"%s\"",
             l->dir, err ? err->message : "");
    return -1;
}

static void plans_free(del_plan *plans, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tsv_version_clear(&plans[i].cur);
        tsv_version_clear(&plans[i].nv);
    }
    free(plans);
}

static uint64_t *shard_ids(const tsv_live_shard *live, size_t n)
{
    uint64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    for (size_t i = 0; ids && i < n; i++)
        ids[i] = live[i].shard_id;
    return ids;
}

int tsv_vault_delete_data(tsv_store *s, const char *bucket_id, const tsv_interval *intervals,
                          size_t n, const tsv_vault_op_options *opt, tsv_vault_result *out,
                          tsv_error *err)
{
    memset(out, 0, sizeof *out);
    if (check_bucket_id(bucket_id, err) != 0)
        return -1;
    if (n == 0)
        return tsv_error_set(err, TSV_EINVALID, "delete_data needs at least one interval");
    if (n > MAX_INTERVALS)
        return tsv_error_set(err, TSV_EINVALID, "delete_data takes at most %d intervals",
                             MAX_INTERVALS);
    for (size_t i = 0; i < n; i++)
        if (intervals[i].start_ns >= intervals[i].end_ns)
            return tsv_error_set(err, TSV_EINVALID,
                                 "invalid interval %zu: the start must be before the end", i + 1);
    tsv_store_shared_lock(s);
    tsv_live_shard *live = NULL;
    size_t n_live = 0;
    int exists = 0;
    int rc = tsv_store_live_shards(s, bucket_id, &live, &n_live, &exists, err);
    if (rc == 0 && !exists)
        rc = tsv_error_set(err, TSV_ENOTFOUND, "bucket %s not found", bucket_id);
    size_t n_todo = 0;
    for (size_t i = 0; rc == 0 && i < n_live; i++)
        for (size_t k = 0; k < n; k++)
            if (intervals[k].start_ns < live[i].slot.end_ns &&
                live[i].slot.start_ns < intervals[k].end_ns) {
                live[n_todo++] = live[i];
                break;
            }
    del_plan *plans = rc == 0 ? calloc(n_todo ? n_todo : 1, sizeof *plans) : NULL;
    uint64_t *ids = rc == 0 ? shard_ids(live, n_todo) : NULL;
    if (rc == 0 && (!plans || !ids))
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (rc != 0) {
        free(plans);
        free(ids);
        free(live);
        tsv_store_shared_unlock(s);
        return -1;
    }
    out->total = n_todo;
    char by[128];
    op_name(by, sizeof by, "delete_data", opt);
    tsv_shard_lock_many(ids, n_todo);
    tsv_vault_gc_shared(s->vault);
    int stop = 0;
    size_t prepared = 0;
    for (; rc == 0 && prepared < n_todo && !stop; prepared++) {
        if (cancelled(opt)) {
            stop = 1;
            break;
        }
        plans[prepared].l = &live[prepared];
        rc = delete_prepare(s, &plans[prepared], intervals, n, opt, &stop, err);
        if (rc == 0 && !stop && opt && opt->progress &&
            opt->progress(opt->progress_ctx, prepared + 1, n_todo, &plans[prepared].sr) != 0)
            stop = 1;
    }
    if (rc == 0 && !stop)
        rc = delete_commit(s, plans, n_todo, by, err);
    tsv_vault_gc_unlock(s->vault);
    if (rc == 0 && !stop) {
        for (size_t i = 0; i < n_todo; i++) {
            del_plan *p = &plans[i];
            if (p->has_cur && (p->whole || p->changed)) {
                tsv_error e;
                if (rebuild_dir(s, p->l, p->whole ? NULL : &p->nv, p->gen, &e) != 0 && rc == 0) {
                    rc = -1;
                    if (err)
                        *err = e;
                }
                TSV_INFO("msg=\"delete_data\" bucket=%s rp=%s shard=%" PRIu64 " outcome=%s "
                         "from=%" PRIu64 " to=%" PRIu64,
                         p->l->slot.bucket, p->l->slot.rp, p->l->shard_id,
                         tsv_vault_outcome_name(p->sr.outcome), p->sr.from_version,
                         p->sr.to_version);
            }
            if (tsv_vault_result_add(out, &p->sr, err) != 0)
                rc = -1;
        }
    }
    out->cancelled = stop;
    tsv_shard_unlock_many(ids, n_todo);
    plans_free(plans, n_todo);
    free(ids);
    free(live);
    tsv_store_shared_unlock(s);
    return rc;
}

/* ---- restore_data ------------------------------------------------------------ */

static tsv_version *find_version(tsv_version_list *c, uint64_t num)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].version == num)
            return &c->v[i];
    return NULL;
}

/* 1 if `cur` is a delete_data version made (directly or through further
 * delete_data versions) from version `base`. */
static int derived_from(tsv_version_list *c, const tsv_version *cur, uint64_t base)
{
    const tsv_version *v = cur;
    for (size_t steps = 0; v && v->derived_from && steps <= c->n; steps++) {
        if (v->derived_from == base)
            return 1;
        v = find_version(c, v->derived_from);
    }
    return 0;
}

/* Decides one slot inside the operation's write transaction: *to (copy) is
 * the version to materialise when the slot changes. */
static int restore_plan(tsv_vault *vault, tsv_catalog_txn *t, const tsv_live_shard *l,
                        const tsv_vault_op_options *opt, const char *by, int64_t now, uint64_t gen,
                        tsv_vault_shard_result *sr, tsv_version *to, int *change, tsv_error *err)
{
    tsv_version_list vc = {0};
    int rc = -1;
    *change = 0;
    tsv_version *cand = NULL, *cur = NULL;
    if (tsv_catalog_slot_foreach(t, &l->slot, tsv_version_list_collect, &vc, err) < 0)
        goto out;
    for (size_t i = 0; i < vc.n; i++) {
        tsv_version *v = &vc.v[i];
        if (v->state == TSV_VERSION_IN_USE)
            cur = v;
        /* Automatic: the newest version that holds data as written, never
         * a delete_data tombstone version (restoring one would delete
         * again; it can be chosen explicitly). */
        if (v->state == TSV_VERSION_SOFT_DELETED &&
            (opt && opt->version ? v->version == opt->version
                                 : (!v->derived_from && (!cand || v->version > cand->version))))
            cand = v;
    }
    sr->from_version = cur ? cur->version : 0;
    sr->to_version = sr->from_version;
    if (!cand) {
        sr->outcome = TSV_VAULT_UNCHANGED;
        if (opt && opt->version)
            snprintf(sr->reason, sizeof sr->reason, "no soft-deleted version %" PRIu64,
                     opt->version);
        else
            snprintf(sr->reason, sizeof sr->reason, "no soft-deleted version");
        rc = 0;
        goto out;
    }
    if (cur && cur->version > cand->version && !derived_from(&vc, cur, cand->version)) {
        sr->outcome = TSV_VAULT_REFUSED;
        snprintf(sr->reason, sizeof sr->reason,
                 "version %" PRIu64 " is in use; soft-delete it first", cur->version);
        rc = 0;
        goto out;
    }
    /* A version listing an object verify marked corrupt is not installed:
     * the whole operation fails, nothing is committed. */
    char what[512];
    snprintf(what, sizeof what,
             "restore_data of bucket %s, rp %s, shard %" PRIu64 ", version %" PRIu64,
             l->slot.bucket, l->slot.rp, l->shard_id, cand->version);
    if (tsv_vault_check_version(vault, cand, what, err) != 0)
        goto out;
    if (cur) {
        cur->state = TSV_VERSION_SOFT_DELETED;
        cur->deleted_ns = now;
        snprintf(cur->deleted_by, sizeof cur->deleted_by, "%s", by);
        if (tsv_catalog_put(t, cur, err) != 0)
            goto out;
    }
    cand->state = TSV_VERSION_IN_USE;
    cand->deleted_ns = 0;
    cand->deleted_by[0] = '\0';
    cand->gen = gen;
    cand->created_ns = now;
    cand->shard_id = l->shard_id;
    if (tsv_catalog_put(t, cand, err) != 0 || tsv_version_copy(to, cand, err) != 0)
        goto out;
    sr->outcome = TSV_VAULT_RESTORED;
    sr->to_version = cand->version;
    *change = 1;
    rc = 0;
out:
    tsv_version_list_clear(&vc);
    return rc;
}

/* Slots of a deleted bucket that have versions in the interval: reported,
 * refused (there is no database to hold them). */
typedef struct deleted_ctx {
    const tsv_interval *iv;
    tsv_vault_result *out;
    tsv_slot_key last;
    int have_last;
} deleted_ctx;

static int deleted_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    deleted_ctx *c = ctx;
    if (v->state != TSV_VERSION_SOFT_DELETED || v->slot.start_ns >= c->iv->end_ns ||
        c->iv->start_ns >= v->slot.end_ns)
        return 0;
    if (c->have_last && strcmp(c->last.rp, v->slot.rp) == 0 &&
        c->last.start_ns == v->slot.start_ns && c->last.end_ns == v->slot.end_ns)
        return 0;
    c->last = v->slot;
    c->have_last = 1;
    tsv_vault_shard_result sr;
    memset(&sr, 0, sizeof sr);
    sr.shard_id = v->shard_id;
    snprintf(sr.rp, sizeof sr.rp, "%s", v->slot.rp);
    sr.start_ns = v->slot.start_ns;
    sr.end_ns = v->slot.end_ns;
    sr.outcome = TSV_VAULT_REFUSED;
    snprintf(sr.reason, sizeof sr.reason,
             "the bucket was deleted and its definition was not kept; it cannot be recreated");
    return tsv_vault_result_add(c->out, &sr, err);
}

int tsv_vault_restore_data(tsv_store *s, const char *bucket_id, const tsv_interval *interval,
                           const tsv_vault_op_options *opt, tsv_vault_result *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    if (check_bucket_id(bucket_id, err) != 0)
        return -1;
    if (!interval)
        return tsv_error_set(err, TSV_EINVALID, "restore_data needs one interval");
    if (interval->start_ns >= interval->end_ns)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid interval: the start must be before the end");
    tsv_store_shared_lock(s);
    tsv_live_shard *live = NULL;
    size_t n_live = 0;
    int exists = 0;
    int rc = tsv_store_live_shards(s, bucket_id, &live, &n_live, &exists, err);
    if (rc == 0 && !exists) {
        /* A deleted bucket: recreated as it was (vault_bucket.c), then its
         * versions restore like any bucket's. */
        int undeleted = 0;
        rc = tsv_store_vault_bucket_undelete(s, bucket_id, &undeleted, err);
        if (rc == 0 && undeleted) {
            free(live);
            live = NULL;
            n_live = 0;
            rc = tsv_store_live_shards(s, bucket_id, &live, &n_live, &exists, err);
        }
        if (rc != 0) {
            free(live);
            tsv_store_shared_unlock(s);
            return -1;
        }
    }
    if (rc == 0 && !exists) {
        /* Known to the catalogue only? */
        tsv_catalog_txn *t;
        deleted_ctx dc;
        memset(&dc, 0, sizeof dc);
        dc.iv = interval;
        dc.out = out;
        rc = tsv_catalog_begin(s->vault->catalog, 0, &t, err);
        if (rc == 0) {
            rc = tsv_catalog_bucket_foreach(t, bucket_id, deleted_fn, &dc, err) < 0 ? -1 : 0;
            tsv_catalog_abort(t);
        }
        if (rc == 0 && out->count == 0) {
            /* Nothing anywhere: an unknown bucket. */
            tsv_catalog_txn *t2;
            int any = 0;
            if (tsv_catalog_begin(s->vault->catalog, 0, &t2, err) == 0) {
                tsv_version_list vc = {0};
                if (tsv_catalog_bucket_foreach(t2, bucket_id, tsv_version_list_collect, &vc, err) >=
                    0)
                    any = vc.n > 0;
                tsv_version_list_clear(&vc);
                tsv_catalog_abort(t2);
            }
            if (!any)
                rc = tsv_error_set(err, TSV_ENOTFOUND, "bucket %s not found", bucket_id);
        }
        out->total = out->count;
        free(live);
        tsv_store_shared_unlock(s);
        return rc;
    }
    size_t n_todo = 0;
    for (size_t i = 0; rc == 0 && i < n_live; i++)
        if (interval->start_ns < live[i].slot.end_ns && live[i].slot.start_ns < interval->end_ns)
            live[n_todo++] = live[i];
    out->total = n_todo;
    uint64_t *ids = rc == 0 ? shard_ids(live, n_todo) : NULL;
    tsv_vault_shard_result *srs = calloc(n_todo ? n_todo : 1, sizeof *srs);
    tsv_version *to = calloc(n_todo ? n_todo : 1, sizeof *to);
    uint64_t *gens = calloc(n_todo ? n_todo : 1, sizeof *gens);
    int *change = calloc(n_todo ? n_todo : 1, sizeof *change);
    if (rc == 0 && (!ids || !srs || !to || !gens || !change))
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int stop = 0;
    if (rc == 0) {
        char by[128];
        op_name(by, sizeof by, "restore_data", opt);
        tsv_shard_lock_many(ids, n_todo);
        /* One transaction decides and records every slot: the whole
         * operation is committed or not (its objects all exist already:
         * soft-deleted versions are never collected). */
        tsv_catalog_txn *t = NULL;
        int64_t now = tsv_vault_now_ns();
        rc = tsv_catalog_begin(s->vault->catalog, 1, &t, err);
        for (size_t j = 0; rc == 0 && j < n_todo; j++) {
            if (cancelled(opt)) {
                stop = 1;
                break;
            }
            init_result(&srs[j], &live[j]);
            gens[j] = tsv_vault_new_gen();
            rc = restore_plan(s->vault, t, &live[j], opt, by, now, gens[j], &srs[j], &to[j],
                              &change[j], err);
            if (rc == 0 && opt && opt->progress &&
                opt->progress(opt->progress_ctx, j + 1, n_todo, &srs[j]) != 0)
                stop = 1;
        }
        if (rc == 0 && !stop) {
            tsv_fault_point("vault-restore-before-commit");
            rc = tsv_catalog_commit(t, err);
            t = NULL;
        }
        tsv_catalog_abort(t);
        for (size_t j = 0; rc == 0 && !stop && j < n_todo; j++) {
            if (change[j]) {
                tsv_error e;
                if (rebuild_dir(s, &live[j], &to[j], gens[j], &e) != 0 && rc == 0) {
                    rc = -1;
                    if (err)
                        *err = e;
                }
                TSV_INFO("msg=\"restore_data\" bucket=%s rp=%s shard=%" PRIu64 " from=%" PRIu64
                         " to=%" PRIu64,
                         live[j].slot.bucket, live[j].slot.rp, live[j].shard_id,
                         srs[j].from_version, srs[j].to_version);
            }
            if (tsv_vault_result_add(out, &srs[j], err) != 0)
                rc = -1;
        }
        tsv_shard_unlock_many(ids, n_todo);
    }
    for (size_t j = 0; to && j < n_todo; j++)
        tsv_version_clear(&to[j]);
    free(to);
    free(srs);
    free(gens);
    free(change);
    free(ids);
    out->cancelled = stop;
    free(live);
    tsv_store_shared_unlock(s);
    return rc;
}
