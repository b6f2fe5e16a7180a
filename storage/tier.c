/* tier: the data directory's side of the S3 tier (tier.h). */
#include "tier.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array_grow.h"
#include "catalog.h"
#include "conn_catalog.h"
#include "engine.h"
#include "fault.h"
#include "fsutil.h"
#include "kv.h"
#include "kv_history.h"
#include "random.h"
#include "store_internal.h"
#include "tsv_log.h"
#include "vault.h"

#define TIER_MAP_SIZE ((size_t)1 << 30) /* sparse; ~100 bytes per object */

struct tsv_tier_state {
    MDB_env *env;
    MDB_dbi copied; /* hex (64) -> size (8, BE) */
    MDB_dbi meta;   /* "id" -> 32 hex */
    char id[33];
};

static int tier_lmdb_error(tsv_error *err, int rc, const char *what)
{
    return tsv_error_set(err, rc == MDB_MAP_FULL ? TSV_ENOSPACE : TSV_EINTERNAL,
                         "tier state: %s: %s", what, mdb_strerror(rc));
}

static int state_load_id(tsv_tier_state *ts, tsv_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(ts->env, NULL, 0, &txn);
    if (rc != 0)
        return tier_lmdb_error(err, rc, "begin");
    MDB_val k = {2, (void *)"id"}, v;
    rc = mdb_get(txn, ts->meta, &k, &v);
    if (rc == 0 && v.mv_size == 32) {
        memcpy(ts->id, v.mv_data, 32);
        mdb_txn_abort(txn);
        return 0;
    }
    snprintf(ts->id, sizeof ts->id, "%016" PRIx64 "%016" PRIx64, tsv_random_u64(),
             tsv_random_u64());
    v.mv_size = 32;
    v.mv_data = ts->id;
    if ((rc = mdb_put(txn, ts->meta, &k, &v, 0)) != 0 || (rc = mdb_txn_commit(txn)) != 0) {
        if (rc != 0)
            mdb_txn_abort(txn);
        return tier_lmdb_error(err, rc, "write the identity");
    }
    return 0;
}

int tsv_tier_state_open(tsv_tier_state **out, const char *data_dir, tsv_error *err)
{
    char dir[PATH_MAX];
    if (tsv_path_join(dir, sizeof dir, err, "%s/tier", data_dir) != 0 || tsv_mkdir_p(dir, err) != 0)
        return -1;
    tsv_tier_state *ts = calloc(1, sizeof *ts);
    if (!ts)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int rc = mdb_env_create(&ts->env);
    if (rc != 0) {
        free(ts);
        return tier_lmdb_error(err, rc, "create environment");
    }
    MDB_txn *txn = NULL;
    if ((rc = mdb_env_set_maxdbs(ts->env, 2)) != 0 ||
        (rc = mdb_env_set_mapsize(ts->env, TIER_MAP_SIZE)) != 0 ||
        (rc = mdb_env_open(ts->env, dir, MDB_NOTLS, 0600)) != 0 ||
        (rc = mdb_txn_begin(ts->env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "copied", MDB_CREATE, &ts->copied)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ts->meta)) != 0 ||
        (rc = mdb_txn_commit(txn)) != 0) {
        if (txn && rc != 0)
            mdb_txn_abort(txn);
        tier_lmdb_error(err, rc, "open");
        tsv_error_wrap(err, "%s", dir);
        goto fail;
    }
    if (state_load_id(ts, err) != 0)
        goto fail;
    *out = ts;
    return 0;
fail:
    mdb_env_close(ts->env);
    free(ts);
    return -1;
}

void tsv_tier_state_close(tsv_tier_state *ts)
{
    if (!ts)
        return;
    mdb_env_close(ts->env);
    free(ts);
}

const char *tsv_tier_state_id(const tsv_tier_state *ts) { return ts->id; }

int tsv_tier_is_copied(tsv_tier_state *ts, const char *hex, int *copied, tsv_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(ts->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return tier_lmdb_error(err, rc, "begin");
    MDB_val k = {64, (void *)hex}, v;
    rc = mdb_get(txn, ts->copied, &k, &v);
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return tier_lmdb_error(err, rc, "read");
    *copied = rc == 0;
    return 0;
}

int tsv_tier_mark_copied(tsv_tier_state *ts, const tsv_tier_object *objs, size_t n, tsv_error *err)
{
    if (n == 0)
        return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(ts->env, NULL, 0, &txn);
    if (rc != 0)
        return tier_lmdb_error(err, rc, "begin");
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t be[8];
        for (int b = 0; b < 8; b++)
            be[b] = (uint8_t)(objs[i].size >> (56 - 8 * b));
        MDB_val k = {64, (void *)objs[i].hex}, v = {8, be};
        rc = mdb_put(txn, ts->copied, &k, &v, 0);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return tier_lmdb_error(err, rc, "record copied objects");
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return tier_lmdb_error(err, rc, "commit");
    return 0;
}

int tsv_tier_forget(tsv_tier_state *ts, const char *hex, tsv_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(ts->env, NULL, 0, &txn);
    if (rc != 0)
        return tier_lmdb_error(err, rc, "begin");
    MDB_val k = {64, (void *)hex};
    rc = mdb_del(txn, ts->copied, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return tier_lmdb_error(err, rc, "forget a copied object");
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return tier_lmdb_error(err, rc, "commit");
    return 0;
}

typedef struct pending_ctx {
    MDB_txn *txn;
    MDB_dbi dbi;
    const char *objects_dir;
    tsv_tier_object *v;
    size_t n, cap;
} pending_ctx;

static int pending_fn(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    pending_ctx *p = ctx;
    MDB_val k = {64, (void *)hex}, v;
    int rc = mdb_get(p->txn, p->dbi, &k, &v);
    if (rc == 0)
        return 0;
    if (rc != MDB_NOTFOUND)
        return tier_lmdb_error(err, rc, "read");
    if (TSV_ARRAY_GROW(p->v, p->n, p->cap, err) != 0)
        return -1;
    tsv_tier_object *o = &p->v[p->n];
    memcpy(o->hex, hex, 65);
    o->size = size;
    o->mtime_ns = 0;
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%.2s/%s", p->objects_dir, hex, hex) < (int)sizeof path &&
        stat(path, &st) == 0)
        o->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    p->n++;
    return 0;
}

static int by_mtime(const void *a, const void *b)
{
    const tsv_tier_object *x = a, *y = b;
    return (x->mtime_ns > y->mtime_ns) - (x->mtime_ns < y->mtime_ns);
}

int tsv_tier_pending(tsv_store *s, tsv_tier_state *ts, tsv_tier_object **out, size_t *n,
                     tsv_error *err)
{
    *out = NULL;
    *n = 0;
    if (!s->vault)
        return tsv_error_set(err, TSV_EINVALID, "the store has no vault (read-only)");
    pending_ctx p = {.objects_dir = s->vault->objects_dir, .dbi = ts->copied};
    int rc = mdb_txn_begin(ts->env, NULL, MDB_RDONLY, &p.txn);
    if (rc != 0)
        return tier_lmdb_error(err, rc, "begin");
    rc = tsv_objstore_list(s->vault->objects, pending_fn, &p, err);
    mdb_txn_abort(p.txn);
    if (rc != 0) {
        free(p.v);
        return -1;
    }
    if (p.n > 1)
        qsort(p.v, p.n, sizeof *p.v, by_mtime);
    *out = p.v;
    *n = p.n;
    return 0;
}

int tsv_store_object_open(tsv_store *s, const char *hex, int *fd, uint64_t *size, tsv_error *err)
{
    if (!s->vault)
        return tsv_error_set(err, TSV_EINVALID, "the store has no vault (read-only)");
    if (!tsv_object_hex_valid(hex))
        return tsv_error_set(err, TSV_EINVALID, "invalid object name \"%s\"", hex);
    if (tsv_objstore_local_open(s->vault->objects, hex, fd, size, err) == 0)
        return 0;
    if (err->code == TSV_ENOTFOUND)
        tsv_error_set(err, TSV_ENOTFOUND, "object %s is not in the local store", hex);
    return -1;
}

void tsv_tier_change_now(tsv_store *s, tsv_tier_change *c)
{
    memset(c, 0, sizeof *c);
    tsv_store_shared_lock(s);
    c->kv_txn = s->kv ? tsv_kv_last_txn(s->kv) : 0;
    c->catalog_txn = s->vault ? tsv_catalog_last_txn(s->vault->catalog) : 0;
    c->gen = s->generation;
    tsv_store_shared_unlock(s);
}

void tsv_tier_log_enable(tsv_store *s)
{
    tsv_store_exclusive_lock(s);
    s->tier_log = 1;
    if (s->kv)
        tsv_kv_set_changelog(s->kv, 1);
    if (s->vault)
        tsv_catalog_set_changelog(s->vault->catalog, 1);
    tsv_store_exclusive_unlock(s);
}

/* Deletes the change-log records up to `trim` (the previous complete
 * checkpoint's position: they are in it). Under the shared lock, like any
 * other writer (store lock, then LMDB's writer mutex: never the other way
 * round). */
static int trim_logs(tsv_store *s, const tsv_tier_logpos *trim, tsv_error *err)
{
    tsv_store_shared_lock(s);
    tsv_catalog_txn *ct = NULL;
    tsv_kv_txn *kt = NULL;
    int rc = tsv_catalog_begin(s->vault->catalog, 1, &ct, err);
    if (rc == 0 && (tsv_catalog_changes_trim(ct, trim->catalog_seq, err) != 0))
        rc = -1;
    if (rc == 0) {
        rc = tsv_catalog_commit(ct, err);
        ct = NULL;
    }
    /* Job records of another generation: numbered afresh, nothing to trim. */
    if (rc == 0 && trim->gen == s->generation) {
        rc = tsv_kv_begin(s->kv, 1, &kt, err);
        if (rc == 0 && tsv_kv_changes_trim(kt, trim->jobs_seq, err) != 0)
            rc = -1;
        if (rc == 0) {
            rc = tsv_kv_commit(kt, err);
            kt = NULL;
        }
    }
    tsv_catalog_abort(ct);
    tsv_kv_abort(kt);
    tsv_store_shared_unlock(s);
    return rc;
}

/* Under the exclusive lock: where the log of a checkpoint taken now starts
 * (read transactions only). */
static int log_position(tsv_store *s, tsv_tier_logpos *pos, tsv_error *err)
{
    memset(pos, 0, sizeof *pos);
    pos->gen = s->generation;
    tsv_catalog_txn *ct;
    tsv_kv_txn *kt;
    int found = 0;
    if (tsv_store_read_views(s, &ct, &kt, err) != 0)
        return -1;
    int rc = 0;
    if (tsv_catalog_changes_last(ct, &pos->catalog_seq, err) != 0 ||
        tsv_kv_changes_last(kt, &pos->jobs_seq, err) != 0 ||
        tsv_kv_history_last_key(kt, pos->kv_key, &found, err) != 0)
        rc = -1;
    tsv_catalog_abort(ct);
    tsv_kv_abort(kt);
    return rc;
}

int tsv_tier_checkpoint(tsv_store *s, const char *dir, const tsv_tier_logpos *trim,
                        tsv_tier_change *c, tsv_error *err)
{
    if (!s->vault || !s->kv)
        return tsv_error_set(err, TSV_EINVALID, "the store has no vault (read-only)");
    char cat[PATH_MAX], kv[PATH_MAX];
    if (tsv_path_join(cat, sizeof cat, err, "%s/catalog", dir) != 0 ||
        tsv_path_join(kv, sizeof kv, err, "%s/kv", dir) != 0)
        return -1;
    if (trim && trim_logs(s, trim, err) != 0)
        return -1;
    /* Exclusive: no KV swap (restore/kv, PITR) between the two copies, and
     * no operation between its catalogue commit and its KV commit. The
     * copies are compacted reads of a few MB at most in practice. */
    tsv_store_exclusive_lock(s);
    int rc = log_position(s, &c->pos, err);
    c->kv_txn = tsv_kv_last_txn(s->kv);
    c->catalog_txn = tsv_catalog_last_txn(s->vault->catalog);
    c->gen = s->generation;
    if (rc == 0)
        rc = tsv_kv_copy_compact(s->kv, kv, err);
    if (rc == 0)
        rc = tsv_catalog_copy_compact(s->vault->catalog, cat, err);
    tsv_store_exclusive_unlock(s);
    return rc;
}

/* Distinct objects: collected, sorted, then reported once each. */
typedef struct objects_ctx {
    tsv_tier_object *v;
    size_t n, cap;
    int in_use_only;
} objects_ctx;

static int collect_version(void *ctx, const tsv_version *ver, tsv_error *err)
{
    objects_ctx *o = ctx;
    if (ver->state == TSV_VERSION_PURGED || (o->in_use_only && ver->state != TSV_VERSION_IN_USE))
        return 0;
    for (size_t i = 0; i < ver->n_files; i++) {
        if (TSV_ARRAY_GROW(o->v, o->n, o->cap, err) != 0)
            return -1;
        memcpy(o->v[o->n].hex, ver->files[i].object, 65);
        o->v[o->n].size = ver->files[i].size;
        o->n++;
    }
    return 0;
}

static int by_hex(const void *a, const void *b)
{
    return strcmp(((const tsv_tier_object *)a)->hex, ((const tsv_tier_object *)b)->hex);
}

int tsv_tier_catalog_objects(const char *catalog_dir, int in_use_only, tsv_tier_object_fn fn,
                             void *ctx, tsv_error *err)
{
    /* tsv_catalog_open would create an empty catalogue, which needs no
     * object: a missing file must not read as "nothing to fetch". */
    char file[PATH_MAX];
    if (tsv_path_join(file, sizeof file, err, "%s/data.mdb", catalog_dir) != 0)
        return -1;
    if (!tsv_path_exists(file))
        return tsv_error_set(err, TSV_ENOTFOUND, "no catalogue at %s", file);
    tsv_catalog *c;
    if (tsv_catalog_open(&c, catalog_dir, err) != 0)
        return -1;
    objects_ctx o = {.in_use_only = in_use_only};
    tsv_catalog_txn *t = NULL;
    int rc = tsv_catalog_begin(c, 0, &t, err);
    if (rc == 0)
        rc = tsv_catalog_foreach(t, collect_version, &o, err);
    tsv_catalog_abort(t);
    tsv_catalog_close(c);
    if (rc == 0 && o.n > 1)
        qsort(o.v, o.n, sizeof *o.v, by_hex);
    for (size_t i = 0; rc == 0 && i < o.n; i++) {
        if (i > 0 && strcmp(o.v[i].hex, o.v[i - 1].hex) == 0)
            continue;
        rc = fn(ctx, o.v[i].hex, o.v[i].size, err) != 0 ? -1 : 0;
    }
    free(o.v);
    return rc;
}

typedef struct evict_ctx {
    tsv_tier_state *ts;
    MDB_txn *txn;
    const char *objects_dir;
    int64_t before_ns;
    uint64_t objects, bytes;
} evict_ctx;

static int evict_fn(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    evict_ctx *e = ctx;
    MDB_val k = {64, (void *)hex}, v;
    int rc = mdb_get(e->txn, e->ts->copied, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return tier_lmdb_error(err, rc, "read");
    char path[PATH_MAX];
    struct stat st;
    if (tsv_path_join(path, sizeof path, err, "%s/%.2s/%s", e->objects_dir, hex, hex) != 0)
        return -1;
    if (stat(path, &st) != 0 || st.st_nlink != 1)
        return 0;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    if (mtime >= e->before_ns)
        return 0;
    if (unlink(path) != 0) {
        TSV_WARN("msg=\"could not evict an object\" object=%s errno=%d", hex, errno);
        return 0;
    }
    e->objects++;
    e->bytes += size;
    return 0;
}

int tsv_tier_evict(tsv_store *s, tsv_tier_state *ts, int64_t before_ns, uint64_t *objects,
                   uint64_t *bytes, tsv_error *err)
{
    *objects = *bytes = 0;
    if (!s->vault)
        return tsv_error_set(err, TSV_EINVALID, "the store has no vault (read-only)");
    evict_ctx e = {.ts = ts, .objects_dir = s->vault->objects_dir, .before_ns = before_ns};
    int rc = mdb_txn_begin(ts->env, NULL, MDB_RDONLY, &e.txn);
    if (rc != 0)
        return tier_lmdb_error(err, rc, "begin");
    pthread_rwlock_wrlock(&s->vault->gc_lock);
    rc = tsv_objstore_list(s->vault->objects, evict_fn, &e, err);
    pthread_rwlock_unlock(&s->vault->gc_lock);
    mdb_txn_abort(e.txn);
    if (rc == 0 && e.objects) {
        char dir[PATH_MAX];
        /* One fsync per subdirectory would be exact; the objects are in
         * the remote store, so a lost unlink only keeps a local copy. */
        if (tsv_path_join(dir, sizeof dir, err, "%s", s->vault->objects_dir) == 0)
            (void)tsv_fsync_dir(dir, err);
    }
    *objects = e.objects;
    *bytes = e.bytes;
    return rc;
}

void tsv_store_set_object_fetch(tsv_store *s, tsv_objstore_fetch_fn fn, void *ctx)
{
    if (s->vault)
        tsv_objstore_local_set_fetch(s->vault->objects, fn, ctx);
}

int tsv_tier_recover_target_ok(const char *data_dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/state", data_dir);
    if (tsv_path_exists(p))
        return 0;
    snprintf(p, sizeof p, "%s/catalog", data_dir);
    if (!tsv_path_exists(p))
        return 1;
    snprintf(p, sizeof p, "%s/tier/recovering", data_dir);
    return tsv_path_exists(p);
}

static int link_object(const char *objects_dir, const char *hex, const char *path, tsv_error *err)
{
    char src[PATH_MAX];
    if (tsv_path_join(src, sizeof src, err, "%s/%.2s/%s", objects_dir, hex, hex) != 0)
        return -1;
    if (link(src, path) != 0)
        return tsv_error_set_errno(err, errno == ENOENT ? TSV_ENOTFOUND : TSV_EINTERNAL, errno,
                                   "link object %s to %s", hex, path);
    return 0;
}

/* state.recover-<r>/: KV, marker, SQL file, shard directories. */
static int build_state(const char *data_dir, const char *from, const char *staging, uint64_t gen,
                       const tsv_version_list *u, tsv_error *err)
{
    char objects[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
    if (tsv_path_join(objects, sizeof objects, err, "%s/objects", data_dir) != 0 ||
        tsv_path_join(dst, sizeof dst, err, "%s/kv", staging) != 0 || tsv_mkdir_p(dst, err) != 0 ||
        tsv_path_join(src, sizeof src, err, "%s/kv/data.mdb", from) != 0 ||
        tsv_path_join(dst, sizeof dst, err, "%s/kv/data.mdb", staging) != 0)
        return -1;
    /* Durable: the marker written last must not outlive the KV's entry. */
    if (tsv_rename_durable(src, dst, err) != 0)
        return -1;
    for (size_t i = 0; i < u->n; i++) {
        const tsv_version *v = &u->v[i];
        if (strcmp(v->slot.bucket, TSV_CATALOG_SLOT_KV) == 0)
            continue;
        if (strcmp(v->slot.bucket, TSV_CATALOG_SLOT_SQL) == 0) {
            if (v->n_files != 1)
                continue;
            if (tsv_path_join(dst, sizeof dst, err, "%s/influxd.sqlite", staging) != 0 ||
                link_object(objects, v->files[0].object, dst, err) != 0)
                return -1;
            continue;
        }
        char dir[PATH_MAX];
        if (tsv_path_join(dir, sizeof dir, err, "%s/engine/data/%s/%s/%" PRIu64, staging,
                          v->slot.bucket, v->slot.rp, v->shard_id) != 0 ||
            tsv_mkdir_p(dir, err) != 0)
            return -1;
        for (size_t f = 0; f < v->n_files; f++) {
            if (tsv_path_join(dst, sizeof dst, err, "%s/%s", dir, v->files[f].name) != 0 ||
                link_object(objects, v->files[f].object, dst, err) != 0)
                return -1;
        }
        if (tsv_gen_marker_write(dir, v->gen, err) != 0 || tsv_fsync_dir(dir, err) != 0)
            return -1;
    }
    /* The marker last: a state directory is complete once it has one. */
    if (tsv_gen_marker_write(staging, gen, err) != 0 || tsv_fsync_dir(staging, err) != 0)
        return -1;
    return 0;
}

/* state.recover-* left by a crashed recovery: never live, removed. */
static void remove_stale_staging(const char *data_dir)
{
    DIR *d = opendir(data_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "state.recover-", 14) != 0)
            continue;
        char path[PATH_MAX];
        tsv_error err;
        if (tsv_path_join(path, sizeof path, &err, "%s/%s", data_dir, e->d_name) == 0 &&
            tsv_remove_tree(path, &err) != 0)
            TSV_WARN("msg=\"could not remove an interrupted recovery's state\" path=\"%s\"", path);
    }
    closedir(d);
}

int tsv_tier_recover_install(const char *data_dir, const char *from, uint64_t gen, tsv_error *err)
{
    char mark[PATH_MAX], cat_src[PATH_MAX], cat_dst[PATH_MAX], staging[PATH_MAX], state[PATH_MAX];
    if (!tsv_tier_recover_target_ok(data_dir))
        return tsv_error_set(err, TSV_ECONFLICT,
                             "%s already holds a data directory (state/ or catalog/): recovery "
                             "only fills an empty one",
                             data_dir);
    remove_stale_staging(data_dir);
    if (tsv_path_join(mark, sizeof mark, err, "%s/tier/recovering", data_dir) != 0 ||
        tsv_path_join(cat_src, sizeof cat_src, err, "%s/catalog", from) != 0 ||
        tsv_path_join(cat_dst, sizeof cat_dst, err, "%s/catalog", data_dir) != 0 ||
        tsv_path_join(staging, sizeof staging, err, "%s/state.recover-%016" PRIx64, data_dir,
                      tsv_random_u64()) != 0 ||
        tsv_path_join(state, sizeof state, err, "%s/state", data_dir) != 0)
        return -1;
    char gen_text[32], tier_dir[PATH_MAX];
    int gl = snprintf(gen_text, sizeof gen_text, "%016" PRIx64 "\n", gen);
    if (tsv_path_join(tier_dir, sizeof tier_dir, err, "%s/tier", data_dir) != 0 ||
        tsv_mkdir_p(tier_dir, err) != 0 ||
        tsv_write_file_atomic(mark, gen_text, (size_t)gl, err) != 0)
        return -1;
    /* A catalogue of an interrupted recovery is replaced. */
    if (tsv_path_exists(cat_dst) && tsv_remove_tree(cat_dst, err) != 0)
        return -1;
    if (tsv_rename_durable(cat_src, cat_dst, err) != 0)
        return -1;
    tsv_catalog *c = NULL;
    tsv_catalog_txn *t = NULL;
    tsv_version_list u = {0}; /* in-use versions, copied out of the transaction */
    int rc = -1;
    if (tsv_catalog_open(&c, cat_dst, err) != 0 || tsv_catalog_begin(c, 0, &t, err) != 0 ||
        tsv_catalog_foreach(t, tsv_version_list_collect_in_use, &u, err) != 0)
        goto out;
    tsv_catalog_abort(t);
    t = NULL;
    char conn_src[PATH_MAX], conn_dir[PATH_MAX], conn_dst[PATH_MAX];
    if (tsv_path_join(conn_src, sizeof conn_src, err, "%s/connections/catalog.db", from) != 0 ||
        tsv_path_join(conn_dir, sizeof conn_dir, err, "%s/connections", data_dir) != 0 ||
        tsv_path_join(conn_dst, sizeof conn_dst, err, "%s/catalog.db", conn_dir) != 0)
        goto out;
    if (tsv_fault_check("tier-recover-after-catalog", err) != 0)
        goto out;
    if (tsv_path_exists(conn_src)) {
        /* A catalogue of an interrupted run (its WAL files too) is replaced. */
        const char *const stale[] = {"catalog.db-wal", "catalog.db-shm"};
        for (size_t i = 0; i < 2; i++) {
            char p[PATH_MAX];
            if (tsv_path_join(p, sizeof p, err, "%s/%s", conn_dir, stale[i]) != 0)
                goto out;
            if (unlink(p) != 0 && errno != ENOENT) {
                tsv_error_set_errno(err, TSV_EINTERNAL, errno, "remove %s", p);
                goto out;
            }
        }
        if (tsv_mkdir_p(conn_dir, err) != 0 || tsv_rename_durable(conn_src, conn_dst, err) != 0)
            goto out;
    }
    if (tsv_mkdir_p(staging, err) != 0 || build_state(data_dir, from, staging, gen, &u, err) != 0)
        goto out;
    if (tsv_fault_check("tier-recover-before-state", err) != 0 ||
        tsv_rename_durable(staging, state, err) != 0)
        goto out;
    if (unlink(mark) != 0 && errno != ENOENT) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "remove %s", mark);
        goto out;
    }
    if (tsv_fsync_dir(tier_dir, err) != 0)
        goto out;
    TSV_INFO(
        "msg=\"recovered state installed\" dir=\"%s\" versions_in_use=%zu generation=%016" PRIx64,
        data_dir, u.n, gen);
    rc = 0;
out:
    tsv_catalog_abort(t);
    tsv_catalog_close(c);
    tsv_version_list_clear(&u);
    if (rc != 0 && tsv_path_exists(staging)) {
        tsv_error e2;
        (void)tsv_remove_tree(staging, &e2);
    }
    return rc;
}

int tsv_tier_scratch_create(const char *data_dir, const char *kind, char *out, size_t outlen,
                            tsv_error *err)
{
    if (tsv_path_join(out, outlen, err, "%s/tmp/%s-%016" PRIx64, data_dir, kind,
                      tsv_random_u64()) != 0)
        return -1;
    return tsv_mkdir_p(out, err);
}

void tsv_tier_scratch_remove(const char *scratch)
{
    tsv_error err;
    if (scratch && scratch[0] && tsv_path_exists(scratch) && tsv_remove_tree(scratch, &err) != 0)
        TSV_WARN("msg=\"could not remove a scratch directory\" path=\"%s\" error=\"%s\"", scratch,
                 err.message);
}

static const char *scratch_file(const char *name)
{
    if (strcmp(name, "connections") == 0)
        return "catalog.db";
    if (strcmp(name, "files") == 0)
        return "files.json";
    return "data.mdb";
}

int tsv_tier_scratch_move(const char *scratch, const char *from, const char *to, tsv_error *err)
{
    char src[PATH_MAX], dir[PATH_MAX], dst[PATH_MAX];
    if (tsv_path_join(src, sizeof src, err, "%s/%s/%s", scratch, from, scratch_file(from)) != 0 ||
        tsv_path_join(dir, sizeof dir, err, "%s/%s", scratch, to) != 0 ||
        tsv_mkdir_p(dir, err) != 0 ||
        tsv_path_join(dst, sizeof dst, err, "%s/%s", dir, scratch_file(to)) != 0)
        return -1;
    if (rename(src, dst) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "rename %s to %s", src, dst);
    return 0;
}

void tsv_tier_scratch_drop(const char *scratch, const char *name)
{
    char path[PATH_MAX];
    tsv_error e;
    if (tsv_path_join(path, sizeof path, &e, "%s/%s/%s", scratch, name, scratch_file(name)) == 0)
        (void)unlink(path);
}

int tsv_tier_scratch_open(const char *scratch, const char *name, int *fd, tsv_error *err)
{
    char path[PATH_MAX];
    if (tsv_path_join(path, sizeof path, err, "%s/%s/%s", scratch, name, scratch_file(name)) != 0)
        return -1;
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    return 0;
}

static int fill_file(const char *path, tsv_tier_fill_fn fill, void *ctx, tsv_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", path);
    int rc = fill(ctx, fd, err);
    if (rc == 0)
        rc = tsv_fsync_fd(fd, path, err);
    close(fd);
    if (rc != 0)
        unlink(path);
    return rc;
}

int tsv_tier_scratch_fill(const char *scratch, const char *name, tsv_tier_fill_fn fill, void *ctx,
                          tsv_error *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (tsv_path_join(dir, sizeof dir, err, "%s/%s", scratch, name) != 0 ||
        tsv_mkdir_p(dir, err) != 0 ||
        tsv_path_join(path, sizeof path, err, "%s/%s", dir, scratch_file(name)) != 0)
        return -1;
    if (unlink(path) != 0 && errno != ENOENT)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "replace %s", path);
    return fill_file(path, fill, ctx, err);
}

int tsv_tier_fetch_object(tsv_objstore *os, const char *scratch, const char *hex,
                          tsv_tier_fill_fn fill, void *ctx, tsv_error *err)
{
    char path[PATH_MAX];
    if (!tsv_object_hex_valid(hex))
        return tsv_error_set(err, TSV_EINVALID, "invalid object name \"%s\"", hex);
    if (tsv_path_join(path, sizeof path, err, "%s/obj-%s", scratch, hex) != 0 ||
        fill_file(path, fill, ctx, err) != 0)
        return -1;
    int rc = tsv_objstore_adopt(os, path, hex, NULL, err);
    unlink(path);
    return rc;
}

int tsv_tier_checkpoint_connections(tsv_conn_catalog *cat, const char *scratch, tsv_error *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (tsv_path_join(dir, sizeof dir, err, "%s/connections", scratch) != 0 ||
        tsv_mkdir_p(dir, err) != 0 ||
        tsv_path_join(path, sizeof path, err, "%s/catalog.db", dir) != 0)
        return -1;
    return tsv_conn_catalog_export(cat, path, err);
}

typedef struct pending_add_ctx {
    tsv_objstore *os;
    tsv_tier_state *ts;
    MDB_txn *txn;
    tsv_tier_object **arr;
    size_t *n, cap;
} pending_add_ctx;

static int pending_add_fn(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    pending_add_ctx *p = ctx;
    MDB_val k = {64, (void *)hex}, v;
    int rc = mdb_get(p->txn, p->ts->copied, &k, &v);
    if (rc == 0)
        return 0;
    if (rc != MDB_NOTFOUND)
        return tier_lmdb_error(err, rc, "read");
    if (TSV_ARRAY_GROW(*p->arr, *p->n, p->cap, err) != 0)
        return -1;
    tsv_tier_object *o = &(*p->arr)[(*p->n)++];
    memcpy(o->hex, hex, 65);
    o->size = size;
    tsv_objstore_id id;
    tsv_error e;
    o->mtime_ns = tsv_objstore_identity(p->os, hex, &id, &e) == 0 ? id.mtime_ns : 0;
    return 0;
}

int tsv_tier_pending_add(tsv_objstore *os, tsv_tier_state *ts, tsv_tier_object **arr, size_t *n,
                         tsv_error *err)
{
    /* The array may have been sized exactly: grow from its current count. */
    pending_add_ctx p = {os, ts, NULL, arr, n, *n};
    int rc = mdb_txn_begin(ts->env, NULL, MDB_RDONLY, &p.txn);
    if (rc != 0)
        return tier_lmdb_error(err, rc, "begin");
    rc = tsv_objstore_list(os, pending_add_fn, &p, err);
    mdb_txn_abort(p.txn);
    if (rc == 0 && *n > 1)
        qsort(*arr, *n, sizeof **arr, by_mtime);
    return rc;
}
