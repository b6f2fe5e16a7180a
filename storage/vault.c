/* vault: objects + catalogue of a data directory; shared mechanics (vault.h). */
#include "vault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "fault.h"
#include "fsutil.h"
#include "metrics.h"
#include "object_store.h"
#include "random.h"
#include "tombstone.h"
#include "trash.h"
#include "tsm.h"
#include "tsv_log.h"

int64_t tsv_vault_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t tsv_vault_new_gen(void)
{
    uint64_t g;
    do
        g = tsv_random_u64();
    while (g == 0);
    return g;
}

int tsv_vault_open(tsv_vault **out, const char *data_dir, int64_t retention_s, uint64_t quota_bytes,
                   tsv_error *err)
{
    tsv_vault *v = calloc(1, sizeof *v);
    if (!v)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    pthread_rwlock_init(&v->gc_lock, NULL);
    pthread_mutex_init(&v->purge_mu, NULL);
    pthread_mutex_init(&v->stop_mu, NULL);
    pthread_cond_init(&v->stop_cv, NULL);
    v->retention_s = retention_s;
    v->quota_bytes = quota_bytes;
    char cat[PATH_MAX];
    if (tsv_path_join(v->objects_dir, sizeof v->objects_dir, err, "%s/objects", data_dir) != 0 ||
        tsv_path_join(cat, sizeof cat, err, "%s/catalog", data_dir) != 0 ||
        tsv_objstore_open_local(&v->objects, v->objects_dir, err) != 0 ||
        tsv_catalog_open(&v->catalog, cat, err) != 0) {
        tsv_vault_close(v);
        return tsv_error_wrap(err, "vault");
    }
    *out = v;
    return 0;
}

void tsv_vault_close(tsv_vault *v)
{
    if (!v)
        return;
    if (v->purge_running) {
        pthread_mutex_lock(&v->stop_mu);
        v->purge_stop = 1;
        pthread_cond_signal(&v->stop_cv);
        pthread_mutex_unlock(&v->stop_mu);
        pthread_join(v->purge_thread, NULL);
    }
    pthread_mutex_destroy(&v->stop_mu);
    pthread_cond_destroy(&v->stop_cv);
    tsv_catalog_close(v->catalog);
    tsv_objstore_close(v->objects);
    pthread_rwlock_destroy(&v->gc_lock);
    pthread_mutex_destroy(&v->purge_mu);
    free(v);
}

typedef struct in_use_ctx {
    tsv_version *out;
    int found;
    tsv_error *err;
} in_use_ctx;

static int in_use_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    in_use_ctx *c = ctx;
    if (v->state != TSV_VERSION_IN_USE)
        return 0;
    if (c->found) {
        /* Never written by us; keep the highest and say so. */
        TSV_WARN("msg=\"catalogue: two versions in use\" bucket=%s rp=%s versions=%" PRIu64
                 ",%" PRIu64,
                 v->slot.bucket, v->slot.rp, c->out->version, v->version);
        tsv_version_clear(c->out);
    }
    c->found = 1;
    return tsv_version_copy(c->out, v, err);
}

int tsv_vault_in_use(tsv_catalog_txn *t, const tsv_slot_key *slot, tsv_version *out, int *found,
                     tsv_error *err)
{
    memset(out, 0, sizeof *out);
    in_use_ctx c = {out, 0, err};
    if (tsv_catalog_slot_foreach(t, slot, in_use_fn, &c, err) < 0) {
        tsv_version_clear(out);
        return -1;
    }
    *found = c.found;
    return 0;
}

static const tsv_catalog_file *find_file(const tsv_version *v, const char *name)
{
    if (!v)
        return NULL;
    for (size_t i = 0; i < v->n_files; i++)
        if (strcmp(v->files[i].name, name) == 0)
            return &v->files[i];
    return NULL;
}

static int same_inode(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino &&
           sa.st_dev == sb.st_dev;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const tsv_catalog_file *)a)->name, ((const tsv_catalog_file *)b)->name);
}

int tsv_vault_adopt_dir(tsv_vault *v, const char *dir, const tsv_version *known,
                        const char *const *fresh_names, const char (*fresh_hex)[65], size_t n_fresh,
                        tsv_version *ver, tsv_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", dir);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (!tsv_tsm_name_valid(n) && !tsv_tombstone_name_valid(n))
            continue;
        char path[PATH_MAX], obj[PATH_MAX];
        if (tsv_path_join(path, sizeof path, err, "%s/%s", dir, n) != 0) {
            rc = -1;
            break;
        }
        const tsv_catalog_file *k = find_file(known, n);
        char hex[TSV_OBJECT_HEX];
        uint64_t size;
        size_t fi = 0;
        while (fi < n_fresh && strcmp(fresh_names[fi], n) != 0)
            fi++;
        if (fi < n_fresh && tsv_object_hex_valid(fresh_hex[fi])) {
            struct stat st;
            if (stat(path, &st) != 0) {
                rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "stat %s", path);
                break;
            }
            memcpy(hex, fresh_hex[fi], sizeof hex);
            size = (uint64_t)st.st_size;
            if (tsv_objstore_adopt(v->objects, path, hex, NULL, err) != 0) {
                rc = -1;
                break;
            }
        } else if (k &&
                   tsv_path_join(obj, sizeof obj, err, "%s/%.2s/%s", v->objects_dir, k->object,
                                 k->object) == 0 &&
                   same_inode(path, obj)) {
            memcpy(hex, k->object, sizeof hex);
            size = k->size;
        } else {
            if (tsv_sha256_file(path, hex, &size, err) != 0 ||
                tsv_objstore_adopt(v->objects, path, hex, NULL, err) != 0) {
                rc = -1;
                break;
            }
        }
        if (tsv_version_add_file(ver, n, hex, size, err) != 0) {
            rc = -1;
            break;
        }
    }
    closedir(d);
    if (rc == 0 && ver->n_files > 1)
        qsort(ver->files, ver->n_files, sizeof *ver->files, cmp_file);
    return rc;
}

/* 1 if every regular file under `path` (markers aside) has another link
 * (an object) and nothing else is there but directories. */
static int all_objects(int dirfd_, const char *name, int depth)
{
    int fd = openat(dirfd_, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    int ok = 1;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, TSV_GEN_MARKER) == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            ok = 0;
        else if (S_ISDIR(st.st_mode))
            ok = depth < 8 && all_objects(dirfd(d), e->d_name, depth + 1);
        else if (!S_ISREG(st.st_mode) || st.st_nlink < 2)
            ok = 0;
    }
    closedir(d);
    return ok;
}

void tsv_vault_drop_tree(const char *path, const char *trash_dir)
{
    if (!tsv_path_exists(path))
        return;
    tsv_error e;
    if (!all_objects(AT_FDCWD, path, 0)) {
        if (tsv_trash_move(trash_dir, path, "not-in-vault", &e) != 0)
            TSV_WARN("msg=\"could not move aside\" path=\"%s\" error=\"%s\"", path, e.message);
    } else if (tsv_remove_tree(path, &e) != 0) {
        TSV_WARN("msg=\"could not remove\" path=\"%s\" error=\"%s\"", path, e.message);
    }
}

int tsv_vault_materialize(tsv_vault *v, const char *shard_dir, const tsv_version *ver, uint64_t gen,
                          const char *trash_dir, tsv_error *err)
{
    char staging[PATH_MAX], parent[PATH_MAX];
    if (tsv_staging_create(shard_dir, gen, staging, parent, err) != 0)
        return -1;
    for (size_t i = 0; ver && i < ver->n_files; i++) {
        char to[PATH_MAX];
        if (tsv_path_join(to, sizeof to, err, "%s/%s", staging, ver->files[i].name) != 0 ||
            tsv_objstore_link(v->objects, ver->files[i].object, to, err) != 0)
            goto fail;
    }
    if (tsv_gen_marker_write(staging, gen, err) != 0 || tsv_fsync_dir(staging, err) != 0)
        goto fail;
    if (!tsv_path_exists(shard_dir) && mkdir(shard_dir, 0755) != 0 && errno != EEXIST) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "mkdir %s", shard_dir);
        goto fail;
    }
    tsv_fault_point("vault-before-exchange");
    if (tsv_rename_exchange(staging, shard_dir, err) != 0)
        goto fail;
    tsv_fault_point("vault-after-exchange");
    int rc = tsv_fsync_dir(parent, err);
    tsv_vault_drop_tree(staging, trash_dir);
    return rc;
fail:;
    tsv_error e;
    if (tsv_remove_tree(staging, &e) != 0)
        TSV_WARN("msg=\"could not remove staging\" path=\"%s\" error=\"%s\"", staging, e.message);
    return -1;
}

/* ---- corrupt objects ---------------------------------------------------- */

int tsv_vault_check_version(tsv_vault *v, const tsv_version *ver, const char *what, tsv_error *err)
{
    if (!v || !ver)
        return 0;
    for (size_t i = 0; i < ver->n_files; i++) {
        tsv_objstore_mark m;
        int marked = 0;
        if (!tsv_object_hex_valid(ver->files[i].object))
            continue;
        if (tsv_objstore_is_corrupt(v->objects, ver->files[i].object, &m, &marked, err) != 0)
            return -1;
        if (marked) {
            char w[512];
            snprintf(w, sizeof w, "%s, file %s", what, ver->files[i].name);
            return tsv_objstore_corrupt_error(err, &m, w);
        }
    }
    return 0;
}

int tsv_vault_check_dir(tsv_vault *v, const char *dir, const char *what, tsv_error *err)
{
    if (!v)
        return 0;
    tsv_objstore_marks marks;
    if (tsv_objstore_marks_load(v->objects, &marks, err) != 0)
        return -1;
    int rc = 0;
    DIR *d = marks.n ? opendir(dir) : NULL;
    if (marks.n && !d && errno != ENOENT)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", dir);
    struct dirent *e;
    while (rc == 0 && d && (e = readdir(d)) != NULL) {
        if (!tsv_tsm_name_valid(e->d_name) && !tsv_tombstone_name_valid(e->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) != 0)
            continue;
        const tsv_objstore_mark *m =
            tsv_objstore_marks_match(&marks, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
        if (m) {
            char w[512];
            snprintf(w, sizeof w, "%s, file %s", what, e->d_name);
            rc = tsv_objstore_corrupt_error(err, m, w);
        }
    }
    if (d)
        closedir(d);
    tsv_objstore_marks_clear(&marks);
    return rc;
}

/* ---- purge and garbage collection ------------------------------------- */

static int collect_referenced(void *ctx, const tsv_version *v, tsv_error *err)
{
    if (v->state == TSV_VERSION_PURGED)
        return 0;
    for (size_t i = 0; i < v->n_files; i++)
        if (tsv_objset_add(ctx, v->files[i].object, err) != 0)
            return -1;
    return 0;
}

typedef struct garbage_ctx {
    const tsv_objset *referenced;
    tsv_objset garbage;
    uint64_t bytes;
} garbage_ctx;

static int collect_garbage(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    garbage_ctx *g = ctx;
    if (tsv_objset_has(g->referenced, hex))
        return 0;
    if (tsv_objset_add(&g->garbage, hex, err) != 0)
        return -1;
    g->bytes += size;
    return 0;
}

int tsv_vault_gc(tsv_vault *v, tsv_vault_purge_stats *st, tsv_error *err)
{
    tsv_objset ref = {0};
    garbage_ctx g = {.referenced = &ref};
    int rc = -1;
    pthread_rwlock_wrlock(&v->gc_lock);
    tsv_catalog_txn *t;
    if (tsv_catalog_begin(v->catalog, 0, &t, err) != 0)
        goto out;
    int r = tsv_catalog_foreach(t, collect_referenced, &ref, err);
    tsv_catalog_abort(t);
    if (r < 0)
        goto out;
    tsv_objset_sort(&ref);
    if (tsv_objstore_list(v->objects, collect_garbage, &g, err) != 0)
        goto out;
    for (size_t i = 0; i < g.garbage.n; i++) {
        tsv_fault_point("gc-delete");
        if (tsv_objstore_delete(v->objects, g.garbage.v[i], err) != 0)
            goto out;
        if (st)
            st->objects_deleted++;
    }
    if (st)
        st->bytes_deleted += g.bytes;
    if (g.garbage.n)
        TSV_INFO("msg=\"vault garbage collected\" objects=%zu bytes=%" PRIu64, g.garbage.n,
                 g.bytes);
    tsv_metrics_count("tsvault_vault_gc_deleted_objects_total",
                      "Objects the vault's garbage collection deleted.", NULL, NULL, NULL, NULL,
                      g.garbage.n);
    tsv_metrics_count("tsvault_vault_gc_deleted_bytes_total",
                      "Bytes of the objects the vault's garbage collection deleted.", NULL, NULL,
                      NULL, NULL, g.bytes);
    rc = 0;
out:
    pthread_rwlock_unlock(&v->gc_lock);
    tsv_metrics_count("tsvault_vault_gc_runs_total",
                      "Garbage collections of the vault's objects, by result.", "result",
                      rc == 0 ? "success" : "failure", NULL, NULL, 1);
    tsv_objset_clear(&ref);
    tsv_objset_clear(&g.garbage);
    return rc;
}

typedef struct purge_ctx {
    int64_t cutoff_ns;
    tsv_version_list due;  /* copies to rewrite */
    tsv_version_list soft; /* for the quota */
    uint64_t live_bytes;
} purge_ctx;

static int purge_scan(void *ctx, const tsv_version *v, tsv_error *err)
{
    purge_ctx *p = ctx;
    if (v->state == TSV_VERSION_PURGED)
        return 0;
    p->live_bytes += tsv_version_bytes(v);
    if (v->state != TSV_VERSION_SOFT_DELETED)
        return 0;
    if (v->deleted_ns <= p->cutoff_ns)
        return tsv_version_list_add(&p->due, v, err);
    return tsv_version_list_add(&p->soft, v, err);
}

static int cmp_deleted(const void *a, const void *b)
{
    const tsv_version *x = a, *y = b;
    return x->deleted_ns < y->deleted_ns ? -1 : x->deleted_ns > y->deleted_ns;
}

int tsv_vault_purge(tsv_vault *v, int64_t now_ns, tsv_vault_purge_stats *st, tsv_error *err)
{
    tsv_vault_purge_stats local = {0};
    if (!st)
        st = &local;
    pthread_mutex_lock(&v->purge_mu);
    purge_ctx p = {0};
    p.cutoff_ns = v->retention_s < 0 ? INT64_MIN : now_ns - v->retention_s * 1000000000;
    int rc = -1;
    tsv_catalog_txn *t = NULL;
    if (tsv_catalog_begin(v->catalog, 1, &t, err) != 0)
        goto out;
    if (tsv_catalog_foreach(t, purge_scan, &p, err) < 0)
        goto out;
    for (size_t i = 0; i < p.due.n; i++) {
        tsv_version *d = &p.due.v[i];
        for (size_t j = 0; j < d->n_files; j++)
            p.live_bytes -= d->files[j].size;
        d->state = TSV_VERSION_PURGED;
        d->purged_ns = now_ns;
        if (tsv_catalog_put(t, d, err) != 0)
            goto out;
        TSV_INFO("msg=\"soft-deleted version purged\" reason=grace-period-over bucket=%s rp=%s "
                 "shard=%" PRIu64 " version=%" PRIu64,
                 d->slot.bucket, d->slot.rp, d->shard_id, d->version);
        st->purged_versions++;
    }
    if (v->quota_bytes && p.live_bytes > v->quota_bytes && p.soft.n) {
        /* Oldest soft-deleted first, until the catalogued bytes fit. The
         * count is an upper bound of what objects take (shared files are
         * counted per version), so this may purge a little early: it never
         * keeps more than the quota. */
        qsort(p.soft.v, p.soft.n, sizeof *p.soft.v, cmp_deleted);
        for (size_t i = 0; i < p.soft.n && p.live_bytes > v->quota_bytes; i++) {
            tsv_version *d = &p.soft.v[i];
            p.live_bytes -= tsv_version_bytes(d);
            d->state = TSV_VERSION_PURGED;
            d->purged_ns = now_ns;
            if (tsv_catalog_put(t, d, err) != 0)
                goto out;
            TSV_WARN("msg=\"soft-deleted version purged before its grace period ended\" "
                     "reason=space-quota quota_bytes=%" PRIu64 " bucket=%s rp=%s shard=%" PRIu64
                     " version=%" PRIu64,
                     v->quota_bytes, d->slot.bucket, d->slot.rp, d->shard_id, d->version);
            st->quota_versions++;
        }
    }
    tsv_fault_point("purge-before-commit");
    rc = tsv_catalog_commit(t, err);
    t = NULL;
    if (rc == 0) {
        tsv_metrics_count("tsvault_vault_purged_versions_total",
                          "Soft-deleted versions purged, by reason (grace_period, quota).",
                          "reason", "grace_period", NULL, NULL, st->purged_versions);
        tsv_metrics_count("tsvault_vault_purged_versions_total", "", "reason", "quota", NULL, NULL,
                          st->quota_versions);
    }
    tsv_fault_point("purge-after-commit");
    if (rc == 0)
        rc = tsv_vault_gc(v, st, err);
out:
    tsv_catalog_abort(t);
    tsv_version_list_clear(&p.due);
    tsv_version_list_clear(&p.soft);
    pthread_mutex_unlock(&v->purge_mu);
    return rc;
}

static void *purge_main(void *arg)
{
    tsv_vault *v = arg;
    pthread_mutex_lock(&v->stop_mu);
    while (!v->purge_stop) {
        pthread_mutex_unlock(&v->stop_mu);
        tsv_vault_purge_stats st = {0};
        tsv_error e;
        if (tsv_vault_purge(v, tsv_vault_now_ns(), &st, &e) != 0)
            TSV_WARN("msg=\"vault purge failed; retrying at the next interval\" error=\"%s\"",
                     e.message);
        else if (st.purged_versions || st.quota_versions || st.objects_deleted)
            TSV_INFO("msg=\"vault purge\" purged=%" PRIu64 " purged_for_quota=%" PRIu64
                     " objects_deleted=%" PRIu64 " bytes_freed=%" PRIu64,
                     st.purged_versions, st.quota_versions, st.objects_deleted, st.bytes_deleted);
        pthread_mutex_lock(&v->stop_mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += v->purge_interval_s;
        while (!v->purge_stop && pthread_cond_timedwait(&v->stop_cv, &v->stop_mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&v->stop_mu);
    return NULL;
}

int tsv_vault_start_purge_task(tsv_vault *v, int64_t interval_s, tsv_error *err)
{
    if (v->purge_running || interval_s <= 0)
        return 0;
    v->purge_interval_s = interval_s;
    int rc = pthread_create(&v->purge_thread, NULL, purge_main, v);
    if (rc != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, rc, "start the purge task");
    v->purge_running = 1;
    return 0;
}
