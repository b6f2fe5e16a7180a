/*
 * vault_trash: the old trash/ migrated into the vault (docs/storage.md "The
 * trash, migrated"). Data directories written before the vault kept
 * replaced and deleted data under trash/<time>-<reason>-<r>/<name>, where
 * nothing could find it. At start-up every entry is converted, once, into
 * catalogued versions soft-deleted at the entry's time (so the grace period
 * and purge apply) by "trash:<reason>":
 *   - a whole state generation (restore/kv's previous state, an interrupted
 *     swap): its KV (exported as bbolt) becomes a KV version, its
 *     influxd.sqlite an SQL version, each of its shard directories a shard
 *     version of the slot its own tsdb meta gives;
 *   - an influxd.sqlite file (restore/sql's previous file): an SQL version;
 *   - a bucket directory <bucketID>/<rp>/<shard>/ (bucket or org delete) or a
 *     shard directory <shard>[.staging-<G>] (replaced, orphan): shard
 *     versions of the slot the live tsdb meta gives for that shard ID (also
 *     deleted groups); when no meta knows the shard, the slot is the
 *     bucket's (or "orphan" if unknown), retention policy from the path,
 *     and the interval [first, last + 1 ns) of the data itself.
 * Versions migrated this way never were "in force" at a known time: their
 * installed time is the trash time too (created = deleted), so
 * tsv_vault_history_at never returns them.
 *
 * Crash safety: each entry's files are adopted as objects (hard links, no
 * copy), then ONE catalogue transaction records its versions together with
 * the setting "trash-migrated:<entry>", and only then is the entry removed.
 * A crash before the commit leaves the entry (migrated again at the next
 * start; objects are content-addressed, so nothing doubles); after it, the
 * setting says the entry is done and it is simply removed. An entry that
 * cannot be migrated (unreadable KV, unknown content) is left where it is,
 * logged, and tried again at the next start-up; the trash retention
 * (--trash-retention) still applies to it.
 */
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

#include "array_grow.h"
#include "engine.h"
#include "fault.h"
#include "fsutil.h"
#include "kv.h"
#include "meta.h"
#include "meta_store.h"
#include "store_internal.h"
#include "tenant.h"
#include "tombstone.h"
#include "tsm.h"
#include "tsv_log.h"
#include "vault.h"
#include "vault_history.h"
#include "vault_history_internal.h"

typedef struct mig {
    tsv_store *s;
    int64_t t_ns;
    char by[128];
    tsv_version *v;
    size_t n, cap;
} mig;

static int mig_push(mig *m, tsv_version *v, tsv_error *err)
{
    if (TSV_ARRAY_GROW(m->v, m->n, m->cap, err) != 0)
        return -1;
    m->v[m->n++] = *v;
    memset(v, 0, sizeof *v);
    return 0;
}

static void mig_free(mig *m)
{
    for (size_t i = 0; i < m->n; i++)
        tsv_version_clear(&m->v[i]);
    free(m->v);
    m->v = NULL;
    m->n = m->cap = 0;
}

static void base_version(mig *m, tsv_version *v)
{
    memset(v, 0, sizeof *v);
    v->state = TSV_VERSION_SOFT_DELETED;
    v->created_ns = m->t_ns;
    v->deleted_ns = m->t_ns;
    snprintf(v->deleted_by, sizeof v->deleted_by, "%s", m->by);
}

static int sql_file(mig *m, const char *path, tsv_error *err)
{
    tsv_version v;
    base_version(m, &v);
    snprintf(v.slot.bucket, sizeof v.slot.bucket, "%s", TSV_CATALOG_SLOT_SQL);
    char hex[65];
    uint64_t size;
    if (tsv_sha256_file(path, hex, &size, err) != 0 ||
        tsv_objstore_adopt(m->s->vault->objects, path, hex, NULL, err) != 0 ||
        tsv_version_add_file(&v, TSV_HISTORY_SQL_FILE, hex, size, err) != 0) {
        tsv_version_clear(&v);
        return -1;
    }
    return mig_push(m, &v, err);
}

/* The interval of the data: [min, max + 1) over the TSM files of dir. */
static int data_interval(const char *dir, int64_t *start, int64_t *end, tsv_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", dir);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!tsv_tsm_name_valid(e->d_name))
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s/%s", dir, e->d_name);
            break;
        }
        tsv_tsm_stats st;
        tsv_error ve;
        if (tsv_tsm_verify_fd(fd, e->d_name, &st, &ve) == 0 && st.keys > 0) {
            if (st.min_time < lo)
                lo = st.min_time;
            if (st.max_time > hi)
                hi = st.max_time;
        }
        close(fd);
    }
    closedir(d);
    if (rc != 0)
        return -1;
    if (lo > hi)
        lo = hi = 0;
    *start = lo;
    *end = hi == INT64_MAX ? hi : hi + 1;
    return 0;
}

typedef struct shard_loc {
    uint64_t id;
    int found;
    char db[256], rp[256];
    int64_t start, end;
} shard_loc;

static int loc_fn(const Meta__DatabaseInfo *db, const Meta__RetentionPolicyInfo *rp,
                  const Meta__ShardGroupInfo *g, const Meta__ShardInfo *sh, void *ctx,
                  tsv_error *err)
{
    (void)err;
    shard_loc *l = ctx;
    if (sh->id != l->id)
        return 0;
    l->found = 1;
    snprintf(l->db, sizeof l->db, "%s", db->name);
    snprintf(l->rp, sizeof l->rp, "%s", rp->name);
    l->start = g->starttime;
    l->end = g->endtime;
    return 1;
}

/* One shard directory -> one soft-deleted shard version. meta (may be
 * NULL) and txn (may be NULL) locate the slot; bucket/rp are what the path
 * says (may be ""). */
static int shard_dir(mig *m, const char *dir, uint64_t shard_id, const char *bucket, const char *rp,
                     const Meta__Data *meta, tsv_kv_txn *txn, tsv_error *err)
{
    if (tsv_dir_has_data(dir) != 1)
        return 0;
    tsv_version v;
    base_version(m, &v);
    v.shard_id = shard_id;
    shard_loc l = {.id = shard_id};
    if (meta && shard_id)
        (void)tsv_meta_foreach_shard(meta, 1, loc_fn, &l, err);
    if (l.found && strlen(l.db) <= 16) {
        memcpy(v.slot.bucket, l.db, strlen(l.db) + 1); /* <= 16 chars: checked above */
        snprintf(v.slot.rp, sizeof v.slot.rp, "%s", l.rp);
        v.slot.start_ns = l.start;
        v.slot.end_ns = l.end;
    } else {
        snprintf(v.slot.bucket, sizeof v.slot.bucket, "%s",
                 bucket && strlen(bucket) == 16 ? bucket : "orphan");
        snprintf(v.slot.rp, sizeof v.slot.rp, "%s", rp && *rp ? rp : "autogen");
        if (data_interval(dir, &v.slot.start_ns, &v.slot.end_ns, err) != 0)
            return -1;
    }
    if (txn && strlen(v.slot.bucket) == 16) {
        tsv_bucket b;
        memset(&b, 0, sizeof b);
        tsv_error e;
        if (tsv_tenant_bucket_get(txn, v.slot.bucket, &b, &e) == 0) {
            snprintf(v.org_id, sizeof v.org_id, "%s", b.org_id);
            snprintf(v.bucket_name, sizeof v.bucket_name, "%s", b.name ? b.name : "");
        }
        tsv_bucket_clear(&b);
    }
    if (tsv_vault_adopt_dir(m->s->vault, dir, NULL, NULL, NULL, 0, &v, err) != 0) {
        tsv_version_clear(&v);
        return -1;
    }
    if (v.n_files == 0) {
        tsv_version_clear(&v);
        return 0;
    }
    return mig_push(m, &v, err);
}

static int is_hex16(const char *s)
{
    if (strlen(s) != 16)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* "<digits>" or "<digits>.staging-<hex>": the shard ID, else 0. */
static uint64_t shard_name_id(const char *name)
{
    char *end;
    errno = 0;
    unsigned long long id = strtoull(name, &end, 10);
    if (errno || end == name || (*end && strncmp(end, ".staging-", 9) != 0))
        return 0;
    return id;
}

/* <dir>/<rp>/<shard>/: every shard of a bucket directory. */
static int bucket_dir(mig *m, const char *dir, const char *bucket, const Meta__Data *meta,
                      tsv_kv_txn *txn, tsv_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", dir);
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char rpdir[PATH_MAX];
        if (tsv_path_join(rpdir, sizeof rpdir, err, "%s/%s", dir, e->d_name) != 0) {
            rc = -1;
            break;
        }
        DIR *r = opendir(rpdir);
        if (!r)
            continue;
        struct dirent *f;
        while (rc == 0 && (f = readdir(r)) != NULL) {
            uint64_t id = shard_name_id(f->d_name);
            if (!id)
                continue;
            char sdir[PATH_MAX];
            if (tsv_path_join(sdir, sizeof sdir, err, "%s/%s", rpdir, f->d_name) != 0 ||
                shard_dir(m, sdir, id, bucket, e->d_name, meta, txn, err) != 0)
                rc = -1;
        }
        closedir(r);
    }
    closedir(d);
    return rc;
}

/* A whole state generation: KV, SQL file, shards (slots from its own meta). */
static int state_dir(mig *m, const char *dir, tsv_error *err)
{
    char kvdir[PATH_MAX], sql[PATH_MAX], data[PATH_MAX];
    if (tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", dir) != 0 ||
        tsv_path_join(sql, sizeof sql, err, "%s/influxd.sqlite", dir) != 0 ||
        tsv_path_join(data, sizeof data, err, "%s/engine/data", dir) != 0)
        return -1;
    tsv_kv *kv = NULL;
    if (tsv_kv_open(&kv, kvdir, 0, err) != 0)
        return tsv_error_wrap(err, "KV of %s", dir);
    tsv_version v;
    base_version(m, &v);
    snprintf(v.slot.bucket, sizeof v.slot.bucket, "%s", TSV_CATALOG_SLOT_KV);
    (void)tsv_gen_marker_read(dir, &v.gen, err);
    char hex[65];
    uint64_t size;
    int rc = vault__kv_export_object(m->s, kv, hex, &size, err);
    if (rc == 0)
        rc = tsv_version_add_file(&v, TSV_HISTORY_KV_INSTALLED, hex, size, err);
    if (rc == 0)
        rc = mig_push(m, &v, err);
    tsv_version_clear(&v);
    tsv_kv_txn *txn = NULL;
    Meta__Data *meta = NULL;
    if (rc == 0 && tsv_kv_begin(kv, 0, &txn, err) != 0)
        rc = -1;
    if (rc == 0 && tsv_meta_load(txn, &meta, NULL, err) != 0)
        rc = -1;
    if (rc == 0 && tsv_path_exists(sql))
        rc = sql_file(m, sql, err);
    if (rc == 0) {
        DIR *d = opendir(data);
        struct dirent *e;
        while (rc == 0 && d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char bdir[PATH_MAX];
            if (tsv_path_join(bdir, sizeof bdir, err, "%s/%s", data, e->d_name) != 0 ||
                bucket_dir(m, bdir, e->d_name, meta, txn, err) != 0)
                rc = -1;
        }
        if (d)
            closedir(d);
    }
    tsv_meta_free(meta);
    if (txn)
        tsv_kv_abort(txn);
    tsv_kv_close(kv);
    return rc;
}

static int parse_entry(const char *name, int64_t *t_ns, char *reason, size_t rlen)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(name, "%4d%2d%2dT%2d%2d%2dZ-", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6 ||
        strlen(name) < 17 + 9)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *t_ns = (int64_t)timegm(&tm) * 1000000000;
    const char *r = name + 17; /* after "yyyymmddThhmmssZ-" */
    const char *last = strrchr(r, '-');
    if (!last || last == r)
        return -1;
    snprintf(reason, rlen, "%.*s", (int)(last - r), r);
    return 0;
}

/* What the vault holds already is not recorded twice (an interrupted swap
 * the vault had versioned before the crash, an entry migrated by a run that
 * crashed before it was removed...):
 *   - a shard/SQL version whose files (names and objects) equal those of a
 *     version of the same slot: skipped;
 *   - a KV generation whose marker is that of a replaced KV version without
 *     final content: becomes that version's final content (it IS the
 *     generation as it was replaced); one whose content equals a version's:
 *     skipped. */
typedef struct known_ctx {
    const tsv_version *cand;
    int same;
    tsv_version gen_match;
    int have_gen_match;
} known_ctx;

static int same_files(const tsv_version *a, const tsv_version *b)
{
    if (a->n_files != b->n_files)
        return 0;
    for (size_t i = 0; i < a->n_files; i++) {
        size_t j = 0;
        while (j < b->n_files && (strcmp(a->files[i].name, b->files[j].name) != 0 ||
                                  strcmp(a->files[i].object, b->files[j].object) != 0))
            j++;
        if (j == b->n_files)
            return 0;
    }
    return 1;
}

static int known_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    known_ctx *c = ctx;
    const tsv_version *x = c->cand;
    if (strcmp(x->slot.bucket, TSV_CATALOG_SLOT_KV) == 0) {
        const char *obj = x->files[0].object;
        for (size_t i = 0; i < v->n_files; i++)
            if (strcmp(v->files[i].object, obj) == 0)
                c->same = 1;
        if (!c->same && x->gen && v->gen == x->gen && v->state != TSV_VERSION_IN_USE &&
            !c->have_gen_match) {
            int has_final = 0;
            for (size_t i = 0; i < v->n_files; i++)
                if (strcmp(v->files[i].name, TSV_HISTORY_KV_REPLACED) == 0)
                    has_final = 1;
            if (!has_final) {
                if (tsv_version_copy(&c->gen_match, v, err) != 0)
                    return -1;
                c->have_gen_match = 1;
            }
        }
        return 0;
    }
    if (same_files(x, v))
        c->same = 1;
    return 0;
}

static int record_known(tsv_catalog_txn *t, const tsv_version *cand, int *skip, tsv_error *err)
{
    known_ctx c;
    memset(&c, 0, sizeof c);
    c.cand = cand;
    *skip = 0;
    if (cand->n_files == 0)
        return 0;
    if (tsv_catalog_slot_foreach(t, &cand->slot, known_fn, &c, err) < 0)
        return -1;
    int rc = 0;
    if (c.same) {
        *skip = 1;
    } else if (c.have_gen_match) {
        rc = tsv_version_add_file(&c.gen_match, TSV_HISTORY_KV_REPLACED, cand->files[0].object,
                                  cand->files[0].size, err);
        if (rc == 0)
            rc = tsv_catalog_put(t, &c.gen_match, err);
        *skip = 1;
    }
    if (c.have_gen_match)
        tsv_version_clear(&c.gen_match);
    return rc;
}

/* Migrates one entry; 1 if it is not something the vault can hold. */
static int migrate_entry(tsv_store *s, const char *entry, const char *name, tsv_error *err)
{
    char reason[64];
    mig m = {.s = s};
    if (parse_entry(name, &m.t_ns, reason, sizeof reason) != 0)
        return 1;
    snprintf(m.by, sizeof m.by, "trash:%s", reason);
    DIR *d = opendir(entry);
    if (!d)
        return 1;
    struct dirent *e;
    char child[PATH_MAX] = "", cname[256] = "";
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        snprintf(cname, sizeof cname, "%s", e->d_name);
    }
    closedir(d);
    if (n != 1 || tsv_path_join(child, sizeof child, err, "%s/%s", entry, cname) != 0)
        return 1;
    struct stat st;
    if (lstat(child, &st) != 0)
        return 1;

    /* The live meta locates shards the trash name alone does not. */
    tsv_kv_txn *txn = NULL;
    Meta__Data *meta = NULL;
    if (tsv_kv_begin(s->kv, 0, &txn, err) != 0)
        return -1;
    int rc = tsv_meta_load(txn, &meta, NULL, err);
    char kvdir[PATH_MAX];
    int known = 1;
    tsv_vault_gc_shared(s->vault);
    if (rc == 0) {
        if (S_ISREG(st.st_mode) && strstr(cname, ".sqlite"))
            rc = sql_file(&m, child, err);
        else if (!S_ISDIR(st.st_mode))
            known = 0;
        else if (tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", child) == 0 &&
                 tsv_path_exists(kvdir))
            rc = state_dir(&m, child, err);
        else if (is_hex16(cname))
            rc = bucket_dir(&m, child, cname, meta, txn, err);
        else if (shard_name_id(cname))
            rc = shard_dir(&m, child, shard_name_id(cname), "", "", meta, txn, err);
        else
            known = 0;
    }
    tsv_meta_free(meta);
    tsv_kv_abort(txn);
    tsv_catalog_txn *t = NULL;
    if (rc == 0 && known) {
        char key[320];
        snprintf(key, sizeof key, "trash-migrated:%s", name);
        rc = tsv_catalog_begin(s->vault->catalog, 1, &t, err);
        for (size_t i = 0; rc == 0 && i < m.n; i++) {
            int skip = 0;
            if (record_known(t, &m.v[i], &skip, err) != 0) {
                rc = -1;
                break;
            }
            if (skip)
                continue;
            /* Numbered after what the slot has (several may share a slot). */
            if (tsv_catalog_next_version(t, &m.v[i].slot, &m.v[i].version, err) != 0 ||
                tsv_catalog_put(t, &m.v[i], err) != 0)
                rc = -1;
        }
        if (rc == 0)
            rc = tsv_catalog_meta_put(t, key, "1", err);
        if (rc == 0) {
            tsv_fault_point("trash-migrate-before-commit");
            rc = tsv_catalog_commit(t, err);
            t = NULL;
        }
    }
    tsv_catalog_abort(t);
    tsv_vault_gc_unlock(s->vault);
    if (rc == 0 && known)
        TSV_INFO("msg=\"trash entry migrated into the vault\" entry=\"%s\" versions=%zu", name,
                 m.n);
    mig_free(&m);
    if (rc != 0)
        return -1;
    return known ? 0 : 1;
}

int vault__migrate_trash(tsv_store *s, tsv_error *err)
{
    (void)err;
    DIR *d = opendir(s->trash_dir);
    if (!d)
        return 0;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (TSV_ARRAY_GROW(names, n, cap, NULL) != 0)
            break;
        if ((names[n] = strdup(e->d_name)) != NULL)
            n++;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        char entry[PATH_MAX], key[320], val[8];
        tsv_error e2;
        if (tsv_path_join(entry, sizeof entry, &e2, "%s/%s", s->trash_dir, names[i]) != 0)
            continue;
        snprintf(key, sizeof key, "trash-migrated:%s", names[i]);
        tsv_catalog_txn *t;
        int done = 0;
        if (tsv_catalog_begin(s->vault->catalog, 0, &t, &e2) == 0) {
            done = tsv_catalog_meta_get(t, key, val, sizeof val, &e2) == 0;
            tsv_catalog_abort(t);
        }
        int r = done ? 0 : migrate_entry(s, entry, names[i], &e2);
        if (r == 0) {
            tsv_fault_point("trash-migrate-after-commit");
            if (tsv_remove_tree(entry, &e2) != 0)
                TSV_WARN("msg=\"could not remove a migrated trash entry\" entry=\"%s\" "
                         "error=\"%s\"",
                         names[i], e2.message);
        } else if (r > 0) {
            TSV_WARN("msg=\"trash entry not migrated into the vault: unknown content; left in "
                     "place\" entry=\"%s\"",
                     names[i]);
        } else {
            TSV_WARN("msg=\"trash entry not migrated into the vault (tried again at the next "
                     "start-up)\" entry=\"%s\" error=\"%s\"",
                     names[i], e2.message);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}
