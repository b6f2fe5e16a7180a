/* pitr: point-in-time recovery of the whole store (pitr.h, docs/storage.md). */
#include "pitr.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "engine.h"
#include "fault.h"
#include "fsutil.h"
#include "kv.h"
#include "kv_history.h"
#include "meta.h"
#include "meta_store.h"
#include "object_store.h"
#include "pitr_scope.h"
#include "random.h"
#include "store_internal.h"
#include "trash.h"
#include "tsv_log.h"
#include "tsv_time.h"
#include "vault.h"
#include "vault_history_internal.h"
#include "vformat.h"

#define PENDING_NAME ".tsv-pitr"
#define SQL_NAME "influxd.sqlite"

/* ---- range ------------------------------------------------------------------ */

static int purged_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    (void)err;
    int64_t *latest = ctx;
    if (v->state == TSV_VERSION_PURGED && strlen(v->slot.bucket) == 16 && v->deleted_ns > *latest)
        *latest = v->deleted_ns;
    return 0;
}

/* Caller holds the shared or exclusive lock. */
static int range_locked(tsv_store *s, tsv_pitr_range *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    out->end_ns = tsv_vault_now_ns();
    tsv_kv_history_info hi;
    if (tsv_kv_history_info_get(s->kv, &hi, err) != 0)
        return -1;
    out->start_ns = hi.begin_ns ? hi.begin_ns : out->end_ns;
    snprintf(out->start_reason, sizeof out->start_reason, "the KV change log begins there");
    if (hi.barrier_ns > out->start_ns) {
        out->start_ns = hi.barrier_ns;
        snprintf(out->start_reason, sizeof out->start_reason, "a %s replaced the %s then",
                 hi.barrier_kind == TSV_KVH_RESTORE_KV ? "restore/kv" : "restore/sql",
                 hi.barrier_kind == TSV_KVH_RESTORE_KV ? "KV" : "SQL file");
    }
    int64_t purged = 0;
    tsv_catalog_txn *t;
    if (tsv_catalog_begin(s->vault->catalog, 0, &t, err) != 0)
        return -1;
    int rc = tsv_catalog_foreach(t, purged_fn, &purged, err);
    tsv_catalog_abort(t);
    if (rc < 0)
        return -1;
    if (purged > out->start_ns) {
        out->start_ns = purged;
        snprintf(out->start_reason, sizeof out->start_reason,
                 "shard versions in use before then were purged (soft-delete retention or "
                 "quota)");
    }
    if (out->start_ns > out->end_ns)
        out->start_ns = out->end_ns;
    return 0;
}

int tsv_pitr_range_get(tsv_store *s, tsv_pitr_range *out, tsv_error *err)
{
    tsv_store_shared_lock(s);
    int rc = range_locked(s, out, err);
    tsv_store_shared_unlock(s);
    return rc;
}

static int check_locked(tsv_store *s, int64_t target_ns, tsv_pitr_range *r, tsv_error *err)
{
    if (range_locked(s, r, err) != 0)
        return -1;
    char a[TSV_RFC3339_MAX], b[TSV_RFC3339_MAX], t[TSV_RFC3339_MAX];
    tsv_format_rfc3339nano(r->start_ns, a, sizeof a);
    tsv_format_rfc3339nano(r->end_ns, b, sizeof b);
    tsv_format_rfc3339nano(target_ns, t, sizeof t);
    if (target_ns > r->end_ns)
        return tsv_error_set(err, TSV_EINVALID,
                             "target_time %s is in the future; the restorable range is [%s, %s]", t,
                             a, b);
    if (target_ns < r->start_ns)
        return tsv_error_set(err, TSV_EINVALID,
                             "target_time %s is outside the restorable range [%s, %s] (%s)", t, a,
                             b, r->start_reason);
    return 0;
}

int tsv_pitr_check_target(tsv_store *s, int64_t target_ns, tsv_error *err)
{
    tsv_pitr_range r;
    tsv_store_shared_lock(s);
    int rc = check_locked(s, target_ns, &r, err);
    tsv_store_shared_unlock(s);
    return rc;
}

/* ---- building the generation --------------------------------------------------- */

typedef struct slot_pick {
    tsv_version best;
    int found;
    int purged;
} slot_pick;

typedef struct build_ctx {
    tsv_store *s;
    const char *staging;
    tsv_catalog_txn *cat;
    int64_t target;
    FILE *pending;
    tsv_pitr_result *res;
    const tsv_pitr_options *opt;
    const tsv_pitr_scope_ids *scope; /* NULL: the whole server */
} build_ctx;

static void logf_(const tsv_pitr_options *opt, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(const tsv_pitr_options *opt, const char *level, const char *fmt, ...)
{
    char msg[1024];
    TSV_VFORMAT(msg, fmt);
    TSV_INFO("msg=\"pitr: %s\"", msg);
    if (opt && opt->log)
        opt->log(opt->ctx, level, msg);
}

static int shard_fn(const Meta__DatabaseInfo *db, const Meta__RetentionPolicyInfo *rp,
                    const Meta__ShardGroupInfo *g, const Meta__ShardInfo *sh, void *ctx,
                    tsv_error *err)
{
    build_ctx *c = ctx;
    char dir[PATH_MAX];
    if (tsv_shard_path(dir, sizeof dir, c->staging, db->name, rp->name, sh->id, err) != 0 ||
        tsv_mkdir_p(dir, err) != 0)
        return -1;
    c->res->shards++;
    if (c->scope && !tsv_pitr_scope_owns(c->scope, db->name)) {
        /* Outside the scope: the shard as it is now, its files linked with
         * their generation marker (the catalogue's in-use version stays). */
        char live[PATH_MAX];
        if (tsv_shard_path(live, sizeof live, c->s->state_dir, db->name, rp->name, sh->id, err) !=
            0)
            return -1;
        if (!tsv_path_exists(live))
            return 0;
        return tsv_link_tree(live, dir, &c->res->files, &c->res->bytes, err);
    }
    if (strlen(db->name) > 16 || strlen(rp->name) > 255 || strchr(rp->name, '\t') ||
        strchr(rp->name, '\n')) {
        c->res->empty_shards++;
        return 0; /* not a 2.x bucket: not in the vault */
    }
    tsv_slot_key slot;
    memset(&slot, 0, sizeof slot);
    snprintf(slot.bucket, sizeof slot.bucket, "%s", db->name);
    snprintf(slot.rp, sizeof slot.rp, "%s", rp->name);
    slot.start_ns = g->starttime;
    slot.end_ns = g->endtime;
    /* The version in use at T, from the catalogue's event log (which keeps
     * every period a version was in use, also when restore_data put it
     * back later). */
    slot_pick p;
    memset(&p, 0, sizeof p);
    uint64_t ver = 0;
    if (tsv_catalog_in_use_at(c->cat, &slot, c->target, &ver, err) != 0)
        return -1;
    if (ver) {
        if (tsv_catalog_get(c->cat, &slot, ver, &p.best, err) != 0)
            return -1;
        p.found = 1;
        p.purged = p.best.state == TSV_VERSION_PURGED;
    }
    if (!p.found) {
        c->res->empty_shards++;
        return 0;
    }
    int rc = 0;
    if (p.purged)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "shard %" PRIu64 " of bucket %s: version %" PRIu64
                           " in use at the target time was purged",
                           sh->id, db->name, p.best.version);
    if (rc == 0) {
        char what[512];
        snprintf(what, sizeof what,
                 "point-in-time recovery of bucket %s, rp %s, shard %" PRIu64 ", version %" PRIu64,
                 db->name, rp->name, sh->id, p.best.version);
        rc = tsv_vault_check_version(c->s->vault, &p.best, what, err);
    }
    uint64_t gen = tsv_vault_new_gen();
    for (size_t i = 0; rc == 0 && i < p.best.n_files; i++) {
        char to[PATH_MAX];
        if (tsv_path_join(to, sizeof to, err, "%s/%s", dir, p.best.files[i].name) != 0 ||
            tsv_objstore_link(c->s->vault->objects, p.best.files[i].object, to, err) != 0)
            rc = -1;
        c->res->files++;
        c->res->bytes += p.best.files[i].size;
    }
    if (rc == 0)
        rc = tsv_gen_marker_write(dir, gen, err);
    if (rc == 0)
        rc = tsv_fsync_dir(dir, err);
    if (rc == 0 &&
        fprintf(c->pending,
                "%s\t%s\t%" PRId64 "\t%" PRId64 "\t%" PRIu64 "\t%016" PRIx64 "\t%" PRIu64 "\n",
                db->name, rp->name, slot.start_ns, slot.end_ns, p.best.version, gen, sh->id) < 0)
        rc = tsv_error_set(err, TSV_EINTERNAL, "write the PITR catalogue changes");
    tsv_version_clear(&p.best);
    return rc;
}

static int put_job_record(tsv_kv *kv, const tsv_pitr_options *opt, tsv_error *err)
{
    if (!opt || !opt->final_job_record || !opt->op_id)
        return 0;
    size_t len = 0;
    char *rec = opt->final_job_record(opt->ctx, &len);
    if (!rec)
        return 0;
    tsv_kv_txn *t;
    int rc = tsv_kv_begin(kv, 1, &t, err);
    if (rc == 0) {
        rc = tsv_kv_aux_put(t, TSV_KV_AUX_JOBS, opt->op_id, strlen(opt->op_id), rec, len, err);
        if (rc == 0)
            rc = tsv_kv_commit(t, err);
        else
            tsv_kv_abort(t);
    }
    free(rec);
    return rc;
}

/* A scoped restore's KV: a scratch copy of the live KV rewound to T, whose
 * scope records are written into kv (the copy that becomes the new
 * generation). The scratch copy is removed whatever happens. */
static int rewind_scoped(tsv_store *s, const char *staging, tsv_kv *kv, int64_t target_ns,
                         const char *org, const char *bucket, tsv_pitr_scope_ids **ids,
                         tsv_pitr_result *res, tsv_error *err)
{
    tsv_pitr_scope scope;
    memset(&scope, 0, sizeof scope);
    if (strlen(org) >= sizeof scope.org_id || strlen(bucket) >= sizeof scope.bucket_id)
        return tsv_error_set(err, TSV_EINVALID, "pitr: an orgID or bucketID is 16 hex digits");
    snprintf(scope.org_id, sizeof scope.org_id, "%s", org);
    snprintf(scope.bucket_id, sizeof scope.bucket_id, "%s", bucket);
    char dir[PATH_MAX];
    if (tsv_path_join(dir, sizeof dir, err, "%s/kv-at-target", staging) != 0 ||
        tsv_kv_copy_compact(s->kv, dir, err) != 0)
        return -1;
    tsv_kv *at_t = NULL;
    int rc = tsv_kv_open(&at_t, dir, s->opt.kv_map_size, err);
    if (rc == 0)
        rc = tsv_kv_history_rewind(at_t, target_ns, &res->kv_changes_undone, err);
    tsv_pitr_scope_result sr;
    if (rc == 0)
        rc = tsv_pitr_scope_merge(kv, at_t, &scope, ids, &sr, err);
    if (rc == 0) {
        res->kv_records_put = sr.records_put;
        res->kv_records_deleted = sr.records_deleted;
    }
    if (at_t)
        tsv_kv_close(at_t);
    tsv_error rerr;
    if (tsv_remove_tree(dir, &rerr) != 0 && rc == 0) {
        *err = rerr;
        rc = -1;
    }
    return rc;
}

/* Builds the new generation in `staging`. Caller holds the exclusive lock
 * and the GC lock shared. */
static int build(tsv_store *s, const char *staging, int64_t target_ns, const tsv_pitr_options *opt,
                 tsv_pitr_result *res, tsv_error *err)
{
    char kvdir[PATH_MAX], path[PATH_MAX];
    if (tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", staging) != 0 ||
        tsv_kv_copy_compact(s->kv, kvdir, err) != 0)
        return -1;
    tsv_kv *kv = NULL;
    if (tsv_kv_open(&kv, kvdir, s->opt.kv_map_size, err) != 0)
        return -1;
    /* The undo is logged like any change: a later PITR can cross it. */
    tsv_kv_set_history(kv, 1);
    char tt[TSV_RFC3339_MAX], note[256];
    tsv_format_rfc3339nano(target_ns, tt, sizeof tt);
    const char *org = opt && opt->org_id ? opt->org_id : "";
    const char *bucket = opt && opt->bucket_id ? opt->bucket_id : "";
    snprintf(note, sizeof note, "target=%s op=%s%s%s%s%s", tt, opt && opt->op_id ? opt->op_id : "",
             org[0] ? " org=" : "", org, bucket[0] ? " bucket=" : "", bucket);
    tsv_pitr_scope_ids *scope = NULL;
    int rc;
    if (org[0] || bucket[0]) {
        rc = rewind_scoped(s, staging, kv, target_ns, org, bucket, &scope, res, err);
        logf_(opt, "info",
              "%s %s taken back to %s: %" PRIu64 " KV records restored, %" PRIu64
              " removed (%" PRIu64 " changes undone in a scratch copy)",
              org[0] ? "org" : "bucket", org[0] ? org : bucket, tt, res->kv_records_put,
              res->kv_records_deleted, res->kv_changes_undone);
    } else {
        rc = tsv_kv_history_rewind(kv, target_ns, &res->kv_changes_undone, err);
        logf_(opt, "info", "KV rewound to %s: %" PRIu64 " changes undone", tt,
              res->kv_changes_undone);
    }
    if (rc == 0)
        rc = tsv_kv_history_mark(kv, TSV_KVH_PITR, note, NULL, err);
    Meta__Data *meta = NULL;
    if (rc == 0) {
        tsv_kv_txn *t;
        rc = tsv_kv_begin(kv, 0, &t, err);
        if (rc == 0) {
            rc = tsv_meta_load(t, &meta, NULL, err);
            tsv_kv_abort(t);
        }
    }
    tsv_fault_point("pitr-after-kv");
    FILE *pending = NULL;
    if (rc == 0)
        rc = tsv_path_join(path, sizeof path, err, "%s/%s", staging, PENDING_NAME);
    if (rc == 0 && !(pending = fopen(path, "wx")))
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", path);
    tsv_catalog_txn *cat = NULL;
    if (rc == 0)
        rc = tsv_catalog_begin(s->vault->catalog, 0, &cat, err);
    if (rc == 0) {
        build_ctx c = {s, staging, cat, target_ns, pending, res, opt, scope};
        rc = tsv_meta_foreach_shard(meta, 0, shard_fn, &c, err);
    }
    tsv_catalog_abort(cat);
    tsv_meta_free(meta);
    tsv_pitr_scope_ids_free(scope);
    if (pending) {
        if (rc == 0 && (fflush(pending) != 0 || fsync(fileno(pending)) != 0))
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "write %s", path);
        if (fclose(pending) != 0 && rc == 0)
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "close %s", path);
    }
    logf_(opt, "info",
          "%zu shards (%zu without a version at the target time), %" PRIu64
          " files linked (%" PRIu64 " bytes, no copy)",
          res->shards, res->empty_shards, res->files, res->bytes);
    tsv_fault_point("pitr-after-shards");
    /* SQL: unchanged since the target (no restore/sql after it: range). */
    char old_sql[PATH_MAX], new_sql[PATH_MAX];
    if (rc == 0 &&
        (tsv_path_join(old_sql, sizeof old_sql, err, "%s/%s", s->state_dir, SQL_NAME) != 0 ||
         tsv_path_join(new_sql, sizeof new_sql, err, "%s/%s", staging, SQL_NAME) != 0))
        rc = -1;
    if (rc == 0 && tsv_path_exists(old_sql) && link(old_sql, new_sql) != 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "link %s", old_sql);
    if (rc == 0)
        rc = put_job_record(kv, opt, err);
    if (rc == 0)
        rc = tsv_kv_sync(kv, err);
    tsv_kv_close(kv);
    return rc;
}

int tsv_pitr_restore(tsv_store *s, int64_t target_ns, const tsv_pitr_options *opt,
                     tsv_pitr_result *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    uint64_t gen;
    do
        gen = tsv_random_u64();
    while (gen == 0);
    char staging[PATH_MAX];
    if (tsv_path_join(staging, sizeof staging, err, "%s/state.staging-%016" PRIx64, s->data_dir,
                      gen) != 0)
        return -1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Exclusive: no KV write may land between the copy and the exchange
     * (it would be lost), and no backup sees a half-switched store. */
    tsv_store_exclusive_lock(s);
    tsv_vault_gc_shared(s->vault);
    tsv_pitr_range r;
    int rc = check_locked(s, target_ns, &r, err);
    if (rc == 0)
        rc = tsv_mkdir_p(staging, err);
    if (rc == 0)
        rc = build(s, staging, target_ns, opt, out, err);
    if (rc == 0)
        rc = tsv_gen_marker_write(staging, gen, err);
    if (rc == 0)
        rc = tsv_fsync_dir(staging, err);
    if (rc != 0) {
        tsv_vault_gc_unlock(s->vault);
        tsv_store_exclusive_unlock(s);
        tsv_error cerr;
        if (tsv_path_exists(staging) && tsv_remove_tree(staging, &cerr) != 0)
            TSV_WARN("msg=\"could not remove\" path=\"%s\" error=\"%s\"", staging, cerr.message);
        return -1;
    }
    tsv_fault_point("pitr-before-exchange");
    int staging_holds_old = 0;
    rc = tsv_store_swap_generation(s, staging, gen, &staging_holds_old, err);
    tsv_vault_gc_unlock(s->vault);
    tsv_store_exclusive_unlock(s);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    tsv_error terr;
    if (staging_holds_old) {
        /* As restore/kv: the replaced generation's KV becomes a soft-deleted
         * KV version (vault_history.h); only if that fails is it moved to
         * the trash whole. Its shard files are objects either way. */
        if (rc == 0 && vault__kv_replaced(s, staging, &terr) == 0) {
        } else if (tsv_trash_move(s->trash_dir, staging, "pitr-previous-state", &terr) != 0)
            TSV_WARN("msg=\"could not move previous state aside\" path=\"%s\" error=\"%s\"",
                     staging, terr.message);
    } else if (tsv_remove_tree(staging, &terr) != 0) {
        TSV_WARN("msg=\"could not remove\" path=\"%s\" error=\"%s\"", staging, terr.message);
    }
    if (rc == 0)
        logf_(opt, "info", "swapped in generation %016" PRIx64 " in %.3f s", gen,
              (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return rc;
}

/* ---- applying the catalogue changes ------------------------------------------ */

typedef struct gen_find {
    uint64_t gen;
    int found;
} gen_find;

static int gen_find_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    (void)err;
    gen_find *g = ctx;
    if (v->gen == g->gen)
        g->found = 1;
    return 0;
}

static int apply_line(tsv_catalog_txn *t, char *line, int64_t now, tsv_error *err)
{
    char *f[7];
    int n = 0;
    for (char *p = line; n < 7; n++) {
        f[n] = p;
        char *tab = strchr(p, '\t');
        if (!tab) {
            n++;
            break;
        }
        *tab = '\0';
        p = tab + 1;
    }
    if (n != 7)
        return tsv_error_set(err, TSV_EINTERNAL, "damaged %s line", PENDING_NAME);
    tsv_slot_key slot;
    memset(&slot, 0, sizeof slot);
    snprintf(slot.bucket, sizeof slot.bucket, "%s", f[0]);
    snprintf(slot.rp, sizeof slot.rp, "%s", f[1]);
    slot.start_ns = strtoll(f[2], NULL, 10);
    slot.end_ns = strtoll(f[3], NULL, 10);
    uint64_t ver = strtoull(f[4], NULL, 10), gen = strtoull(f[5], NULL, 16),
             shard = strtoull(f[6], NULL, 10);
    gen_find g = {gen, 0};
    if (tsv_catalog_slot_foreach(t, &slot, gen_find_fn, &g, err) < 0)
        return -1;
    if (g.found)
        return 0; /* applied before a crash */
    tsv_version chosen, cur, nv;
    memset(&nv, 0, sizeof nv);
    int found = 0;
    if (tsv_catalog_get(t, &slot, ver, &chosen, err) != 0)
        return -1;
    int rc = tsv_vault_in_use(t, &slot, &cur, &found, err);
    if (rc == 0 && found) {
        cur.state = TSV_VERSION_SOFT_DELETED;
        cur.deleted_ns = now;
        snprintf(cur.deleted_by, sizeof cur.deleted_by, "pitr");
        rc = tsv_catalog_put(t, &cur, err);
    }
    if (found)
        tsv_version_clear(&cur);
    if (rc == 0)
        rc = tsv_version_copy(&nv, &chosen, err);
    if (rc == 0) {
        nv.state = TSV_VERSION_IN_USE;
        nv.created_ns = now;
        nv.deleted_ns = 0;
        nv.deleted_by[0] = '\0';
        nv.purged_ns = 0;
        nv.derived_from = 0;
        nv.gen = gen;
        nv.shard_id = shard;
        rc = tsv_catalog_next_version(t, &slot, &nv.version, err);
    }
    if (rc == 0)
        rc = tsv_catalog_put(t, &nv, err);
    tsv_version_clear(&nv);
    tsv_version_clear(&chosen);
    return rc;
}

int tsv_pitr_apply_pending(tsv_store *s, tsv_error *err)
{
    char path[PATH_MAX];
    if (tsv_path_join(path, sizeof path, err, "%s/%s", s->state_dir, PENDING_NAME) != 0)
        return -1;
    if (!tsv_path_exists(path))
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    tsv_vault_gc_shared(s->vault);
    tsv_catalog_txn *t;
    int rc = tsv_catalog_begin(s->vault->catalog, 1, &t, err);
    int64_t now = tsv_vault_now_ns();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t lines = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        rc = apply_line(t, line, now, err);
        lines++;
    }
    free(line);
    fclose(f);
    tsv_fault_point("pitr-before-catalog");
    if (rc == 0)
        rc = tsv_catalog_commit(t, err);
    else
        tsv_catalog_abort(t);
    tsv_vault_gc_unlock(s->vault);
    if (rc != 0)
        return -1;
    TSV_INFO("msg=\"pitr: catalogue updated\" shards=%zu", lines);
    if (unlink(path) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "remove %s", path);
    return tsv_fsync_dir(s->state_dir, err);
}
