/* catalog: versions of shard slots and generations, in LMDB (catalog.h). */
#include "catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array_grow.h"
#include "be_bytes.h"
#include "be_writer.h"
#include "fsutil.h"
#include "lmdb_changelog.h"
#include "rec_reader.h"

#define CATALOG_MAP_SIZE ((size_t)4 << 30) /* sparse */
#define REC_FORMAT 1

struct tsv_catalog {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_dbi changes; /* the S3 tier's change log (lmdb_changelog.h) */
    int changelog;   /* 1: every write is logged in `changes` */
};

struct tsv_catalog_txn {
    tsv_catalog *c;
    MDB_txn *txn;
};

const char *tsv_version_state_name(tsv_version_state s)
{
    switch (s) {
    case TSV_VERSION_IN_USE:
        return "in_use";
    case TSV_VERSION_SOFT_DELETED:
        return "soft_deleted";
    case TSV_VERSION_PURGED:
        return "purged";
    }
    return "unknown";
}

static int lmdb_error(tsv_error *err, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        return tsv_error_set(err, TSV_ENOSPACE, "catalogue full: %s", what);
    if (rc == ENOSPC || rc == EDQUOT)
        return tsv_error_set_errno(err, TSV_ENOSPACE, rc, "catalogue: %s", what);
    return tsv_error_set(err, TSV_EINTERNAL, "catalogue: %s: %s", what, mdb_strerror(rc));
}

void tsv_version_clear(tsv_version *v)
{
    if (!v)
        return;
    free(v->files);
    memset(v, 0, sizeof *v);
}

uint64_t tsv_version_bytes(const tsv_version *v)
{
    uint64_t n = 0;
    for (size_t i = 0; i < v->n_files; i++)
        n += v->files[i].size;
    return n;
}

int tsv_version_add_file(tsv_version *v, const char *name, const char *object, uint64_t size,
                         tsv_error *err)
{
    if (strlen(name) >= sizeof v->files[0].name || strlen(object) != 64)
        return tsv_error_set(err, TSV_EINTERNAL, "bad catalogue file entry %s", name);
    if (TSV_ARRAY_GROW(v->files, v->n_files, v->cap_files, err) != 0)
        return -1;
    tsv_catalog_file *f = &v->files[v->n_files++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    memcpy(f->object, object, 65);
    f->size = size;
    return 0;
}

int tsv_version_copy(tsv_version *dst, const tsv_version *src, tsv_error *err)
{
    *dst = *src;
    dst->files = NULL;
    dst->cap_files = 0;
    if (src->n_files) {
        dst->files = malloc(src->n_files * sizeof *dst->files);
        if (!dst->files) {
            dst->n_files = 0;
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        }
        dst->cap_files = src->n_files;
        memcpy(dst->files, src->files, src->n_files * sizeof *dst->files);
    }
    return 0;
}

int tsv_version_list_add(tsv_version_list *l, const tsv_version *v, tsv_error *err)
{
    if (TSV_ARRAY_GROW(l->v, l->n, l->cap, err) != 0)
        return -1;
    if (tsv_version_copy(&l->v[l->n], v, err) != 0)
        return -1;
    l->n++;
    return 0;
}

void tsv_version_list_clear(tsv_version_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        tsv_version_clear(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

int tsv_version_list_collect(void *list, const tsv_version *v, tsv_error *err)
{
    return tsv_version_list_add(list, v, err);
}

int tsv_version_list_collect_in_use(void *list, const tsv_version *v, tsv_error *err)
{
    return v->state == TSV_VERSION_IN_USE ? tsv_version_list_add(list, v, err) : 0;
}

/* ---- keys ----------------------------------------------------------------
 * 'V' | bucket (16 bytes, NUL padded) | rp length (1) | rp |
 * start (8, BE, sign bit flipped so negative times sort first) | end (8) |
 * version (8, BE). Settings: 'M' | name. */

#define KEY_MAX (1 + 16 + 1 + 255 + 24)

/* Writes the slot prefix (no version); returns its length, or 0 if the
 * slot cannot be keyed. With rp NULL only the bucket part. */
static size_t slot_prefix(uint8_t *k, const char *bucket, const char *rp, int64_t start,
                          int64_t end)
{
    size_t bl = strlen(bucket);
    if (bl == 0 || bl > 16)
        return 0;
    k[0] = 'V';
    memset(k + 1, 0, 16);
    memcpy(k + 1, bucket, bl);
    if (!rp)
        return 17;
    size_t rl = strlen(rp);
    if (rl > 255)
        return 0;
    k[17] = (uint8_t)rl;
    memcpy(k + 18, rp, rl);
    tsv_put_be64(k + 18 + rl, (uint64_t)start ^ (1ull << 63));
    tsv_put_be64(k + 26 + rl, (uint64_t)end ^ (1ull << 63));
    return 34 + rl;
}

/* slot_prefix of a whole slot, tagged `tag` ('V' versions, 'E' events);
 * 0 (and err) for a slot that does not fit a key. */
static size_t slot_key_prefix(uint8_t *k, uint8_t tag, const tsv_slot_key *s, tsv_error *err)
{
    size_t n = slot_prefix(k, s->bucket, s->rp, s->start_ns, s->end_ns);
    if (n == 0) {
        tsv_error_set(err, TSV_EINVALID, "bad catalogue slot %s/%s", s->bucket, s->rp);
        return 0;
    }
    k[0] = tag;
    return n;
}

static int slot_key(uint8_t *k, size_t *klen, const tsv_slot_key *s, uint64_t version,
                    tsv_error *err)
{
    size_t n = slot_key_prefix(k, 'V', s, err);
    if (n == 0)
        return -1;
    tsv_put_be64(k + n, version);
    *klen = n + 8;
    return 0;
}

/* ---- records -------------------------------------------------------------
 * u8 format | u8 state | u64 shard | u64 gen | i64 created | i64 deleted |
 * i64 purged | u64 derived | str deleted_by | str org | str bucket_name |
 * u32 n_files | n * (str name | 64 bytes object | u64 size).
 * str = u16 length + bytes. All integers big-endian. */

static int encode(const tsv_version *v, tsv_bew *b, tsv_error *err)
{
    uint8_t h[2] = {REC_FORMAT, (uint8_t)v->state};
    tsv_bew_put(b, h, 2);
    tsv_bew_u64(b, v->shard_id);
    tsv_bew_u64(b, v->gen);
    tsv_bew_u64(b, (uint64_t)v->created_ns);
    tsv_bew_u64(b, (uint64_t)v->deleted_ns);
    tsv_bew_u64(b, (uint64_t)v->purged_ns);
    tsv_bew_u64(b, v->derived_from);
    tsv_bew_str16(b, v->deleted_by);
    tsv_bew_str16(b, v->org_id);
    tsv_bew_str16(b, v->bucket_name);
    uint8_t n[4] = {(uint8_t)(v->n_files >> 24), (uint8_t)(v->n_files >> 16),
                    (uint8_t)(v->n_files >> 8), (uint8_t)v->n_files};
    tsv_bew_put(b, n, 4);
    for (size_t i = 0; i < v->n_files; i++) {
        tsv_bew_str16(b, v->files[i].name);
        tsv_bew_put(b, v->files[i].object, 64);
        tsv_bew_u64(b, v->files[i].size);
    }
    if (b->oom)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    return 0;
}

static void rb_str(tsv_rec_reader *r, char *out, size_t outlen)
{
    const uint8_t *p = tsv_rec_take(r, 2);
    out[0] = '\0';
    if (!p)
        return;
    size_t n = (size_t)p[0] << 8 | p[1];
    const uint8_t *s = tsv_rec_take(r, n);
    if (!s)
        return;
    if (n >= outlen) {
        r->bad = 1;
        return;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

static int decode_key(const uint8_t *k, size_t klen, tsv_version *v)
{
    if (klen < 42 || k[0] != 'V')
        return -1;
    memcpy(v->slot.bucket, k + 1, 16);
    v->slot.bucket[16] = '\0';
    size_t rl = k[17];
    if (klen != 42 + rl)
        return -1;
    memcpy(v->slot.rp, k + 18, rl);
    v->slot.rp[rl] = '\0';
    v->slot.start_ns = (int64_t)(tsv_get_be64(k + 18 + rl) ^ (1ull << 63));
    v->slot.end_ns = (int64_t)(tsv_get_be64(k + 26 + rl) ^ (1ull << 63));
    v->version = tsv_get_be64(k + 34 + rl);
    return 0;
}

static int decode(const MDB_val *key, const MDB_val *val, tsv_version *v, tsv_error *err)
{
    memset(v, 0, sizeof *v);
    if (decode_key(key->mv_data, key->mv_size, v) != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "catalogue: bad key");
    tsv_rec_reader r = {val->mv_data, val->mv_size, 0, 0};
    const uint8_t *h = tsv_rec_take(&r, 2);
    if (!h || h[0] != REC_FORMAT || h[1] < TSV_VERSION_IN_USE || h[1] > TSV_VERSION_PURGED)
        return tsv_error_set(err, TSV_EINTERNAL, "catalogue: unknown record format");
    v->state = (tsv_version_state)h[1];
    v->shard_id = tsv_rec_u64(&r);
    v->gen = tsv_rec_u64(&r);
    v->created_ns = (int64_t)tsv_rec_u64(&r);
    v->deleted_ns = (int64_t)tsv_rec_u64(&r);
    v->purged_ns = (int64_t)tsv_rec_u64(&r);
    v->derived_from = tsv_rec_u64(&r);
    rb_str(&r, v->deleted_by, sizeof v->deleted_by);
    rb_str(&r, v->org_id, sizeof v->org_id);
    rb_str(&r, v->bucket_name, sizeof v->bucket_name);
    size_t count = tsv_rec_u32(&r);
    if (!r.bad && count > 0) {
        if (count > (r.len - r.off) / 74) {
            r.bad = 1;
        } else {
            v->files = calloc(count, sizeof *v->files);
            if (!v->files)
                return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            v->n_files = count;
            v->cap_files = count;
            for (size_t i = 0; i < count && !r.bad; i++) {
                rb_str(&r, v->files[i].name, sizeof v->files[i].name);
                const uint8_t *o = tsv_rec_take(&r, 64);
                if (o) {
                    memcpy(v->files[i].object, o, 64);
                    v->files[i].object[64] = '\0';
                }
                v->files[i].size = tsv_rec_u64(&r);
            }
        }
    }
    if (r.bad || r.off != r.len) {
        tsv_version_clear(v);
        return tsv_error_set(err, TSV_EINTERNAL, "catalogue: truncated record");
    }
    return 0;
}

/* ---- environment ---------------------------------------------------------- */

static int catalog_events_init(tsv_catalog *c, tsv_error *err);

int tsv_catalog_open(tsv_catalog **out, const char *dir, tsv_error *err)
{
    if (tsv_mkdir_p(dir, err) != 0)
        return -1;
    tsv_catalog *c = calloc(1, sizeof *c);
    if (!c)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int rc = mdb_env_create(&c->env);
    if (rc != 0) {
        free(c);
        return lmdb_error(err, rc, "create environment");
    }
    MDB_txn *txn = NULL;
    if ((rc = mdb_env_set_maxdbs(c->env, 3)) != 0 ||
        (rc = mdb_env_set_mapsize(c->env, CATALOG_MAP_SIZE)) != 0 ||
        (rc = mdb_env_set_maxreaders(c->env, 256)) != 0 ||
        (rc = mdb_env_open(c->env, dir, MDB_NOTLS, 0600)) != 0) {
        lmdb_error(err, rc, "open environment");
        tsv_error_wrap(err, "%s", dir);
        goto fail;
    }
    int dead = 0;
    (void)mdb_reader_check(c->env, &dead);
    if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "catalog", MDB_CREATE, &c->dbi)) != 0 ||
        (rc = mdb_dbi_open(txn, "changes", MDB_CREATE, &c->changes)) != 0 ||
        (rc = mdb_txn_commit(txn)) != 0) {
        if (txn)
            mdb_txn_abort(txn);
        lmdb_error(err, rc, "open database \"catalog\"");
        goto fail;
    }
    if (catalog_events_init(c, err) != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    mdb_env_close(c->env);
    free(c);
    return -1;
}

void tsv_catalog_close(tsv_catalog *c)
{
    if (!c)
        return;
    mdb_env_close(c->env);
    free(c);
}

int tsv_catalog_copy_compact(tsv_catalog *c, const char *dstdir, tsv_error *err)
{
    char path[PATH_MAX];
    if (tsv_mkdir_p(dstdir, err) != 0 ||
        tsv_path_join(path, sizeof path, err, "%s/data.mdb", dstdir) != 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create catalogue copy %s", path);
    int rc = mdb_env_copyfd2(c->env, fd, MDB_CP_COMPACT);
    if (rc != 0) {
        lmdb_error(err, rc, "copy the catalogue");
        goto fail;
    }
    if (tsv_fsync_fd(fd, path, err) != 0)
        goto fail;
    rc = close(fd);
    fd = -1;
    if (rc != 0) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "close %s", path);
        goto fail;
    }
    return tsv_fsync_dir(dstdir, err);
fail:
    if (fd >= 0)
        close(fd);
    unlink(path);
    return -1;
}

uint64_t tsv_catalog_last_txn(tsv_catalog *c)
{
    MDB_envinfo info;
    if (mdb_env_info(c->env, &info) != 0)
        return 0;
    return (uint64_t)info.me_last_txnid;
}

int tsv_catalog_begin(tsv_catalog *c, int write, tsv_catalog_txn **out, tsv_error *err)
{
    tsv_catalog_txn *t = calloc(1, sizeof *t);
    if (!t)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int rc = mdb_txn_begin(c->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc != 0) {
        free(t);
        return lmdb_error(err, rc, "begin transaction");
    }
    t->c = c;
    *out = t;
    return 0;
}

int tsv_catalog_commit(tsv_catalog_txn *t, tsv_error *err)
{
    int rc = mdb_txn_commit(t->txn);
    free(t);
    return rc == 0 ? 0 : lmdb_error(err, rc, "commit");
}

void tsv_catalog_abort(tsv_catalog_txn *t)
{
    if (!t)
        return;
    mdb_txn_abort(t->txn);
    free(t);
}

/* ---- writes (logged when the change log is on) ------------------------------ */

/* Every write of the catalogue database goes through these two, so the
 * change log sees it (same transaction). */
static int cat_put(tsv_catalog_txn *t, MDB_val *key, MDB_val *val, const char *what, tsv_error *err)
{
    if (t->c->changelog && tsv_changelog_append(t->txn, t->c->changes, 'c', key, val, err) != 0)
        return -1;
    int rc = mdb_put(t->txn, t->c->dbi, key, val, 0);
    return rc == 0 ? 0 : lmdb_error(err, rc, what);
}

/* Deletes key (absent: nothing to do, nothing logged). */
static int cat_del(tsv_catalog_txn *t, MDB_val *key, const char *what, tsv_error *err)
{
    MDB_val v;
    int rc = mdb_get(t->txn, t->c->dbi, key, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && t->c->changelog &&
        tsv_changelog_append(t->txn, t->c->changes, 'c', key, NULL, err) != 0)
        return -1;
    if (rc == 0)
        rc = mdb_del(t->txn, t->c->dbi, key, NULL);
    return rc == 0 ? 0 : lmdb_error(err, rc, what);
}

void tsv_catalog_set_changelog(tsv_catalog *c, int on) { c->changelog = on ? 1 : 0; }

int tsv_catalog_changes_last(tsv_catalog_txn *t, uint64_t *seq, tsv_error *err)
{
    return tsv_changelog_last(t->txn, t->c->changes, seq, err);
}

int tsv_catalog_changes_foreach(tsv_catalog_txn *t, uint64_t after, uint64_t upto,
                                int (*fn)(void *ctx, const struct tsv_changelog_rec *r,
                                          tsv_error *err),
                                void *ctx, tsv_error *err)
{
    return tsv_changelog_foreach(t->txn, t->c->changes, after, upto, fn, ctx, err);
}

int tsv_catalog_changes_trim(tsv_catalog_txn *t, uint64_t before, tsv_error *err)
{
    return tsv_changelog_trim(t->txn, t->c->changes, before, NULL, err);
}

int tsv_catalog_change_apply(tsv_catalog_txn *t, const tsv_changelog_rec *r, tsv_error *err)
{
    return tsv_changelog_apply(t->txn, t->c->dbi, r, err);
}

int tsv_catalog_record_version(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                               tsv_version *v, int *is_version, tsv_error *err)
{
    *is_version = klen > 0 && key[0] == 'V';
    if (!*is_version)
        return 0;
    MDB_val k = {klen, (void *)key}, d = {vlen, (void *)val};
    return decode(&k, &d, v, err);
}

/* ---- event log ------------------------------------------------------------
 * 'E' | slot prefix (as 'V' keys) | time (8, BE, sign flipped) | version (8)
 * -> u8 state: every change of a version's state, at the wall-clock time of
 * the write, so "which version of a slot was in use at T" survives versions
 * being put back in use (restore_data) or rewritten. Keys of one slot are
 * contiguous and in time order. */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int event_put(tsv_catalog_txn *t, const tsv_slot_key *s, uint64_t version,
                     tsv_version_state state, int64_t at, tsv_error *err)
{
    uint8_t k[KEY_MAX + 8];
    size_t n = slot_key_prefix(k, 'E', s, err);
    if (n == 0)
        return -1;
    tsv_put_be64(k + n, (uint64_t)at ^ (1ull << 63));
    tsv_put_be64(k + n + 8, version);
    uint8_t st = (uint8_t)state;
    MDB_val key = {n + 16, k}, val = {1, &st};
    return cat_put(t, &key, &val, "put event", err);
}

/* Walks the events under prefix (a slot, a bucket or all), calling fn per
 * slot with its events replayed up to t_ns. */
typedef struct replay {
    uint8_t slot[KEY_MAX];
    size_t slot_len;
    uint64_t in_use;
    int have;
} replay;

static int replay_emit(tsv_catalog_txn *t, replay *r, tsv_catalog_at_fn fn, void *ctx,
                       tsv_error *err)
{
    (void)t;
    if (!r->have || !r->in_use)
        return 0;
    tsv_version v;
    memset(&v, 0, sizeof v);
    uint8_t k[KEY_MAX + 8];
    memcpy(k, r->slot, r->slot_len);
    k[0] = 'V';
    tsv_put_be64(k + r->slot_len, r->in_use);
    if (decode_key(k, r->slot_len + 8, &v) != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "catalogue: bad event key");
    return fn(ctx, &v.slot, r->in_use, err);
}

static int events_walk(tsv_catalog_txn *t, const uint8_t *prefix, size_t plen, int64_t t_ns,
                       tsv_catalog_at_fn fn, void *ctx, tsv_error *err)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->c->dbi, &cur);
    if (rc != 0)
        return lmdb_error(err, rc, "cursor");
    replay r;
    memset(&r, 0, sizeof r);
    MDB_val key = {plen, (void *)prefix}, val;
    int ret = 0;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
        const uint8_t *k = key.mv_data;
        if (key.mv_size < plen || memcmp(k, prefix, plen) != 0)
            break;
        if (key.mv_size < 18 + 16 + 16 || val.mv_size != 1) {
            ret = tsv_error_set(err, TSV_EINTERNAL, "catalogue: bad event");
            break;
        }
        size_t slen = key.mv_size - 16;
        if (!r.have || r.slot_len != slen || memcmp(r.slot, k, slen) != 0) {
            if ((ret = replay_emit(t, &r, fn, ctx, err)) != 0)
                break;
            memcpy(r.slot, k, slen);
            r.slot_len = slen;
            r.in_use = 0;
            r.have = 1;
        }
        int64_t at = (int64_t)(tsv_get_be64(k + slen) ^ (1ull << 63));
        uint64_t version = tsv_get_be64(k + slen + 8);
        uint8_t state = *(const uint8_t *)val.mv_data;
        if (at <= t_ns) {
            if (state == TSV_VERSION_IN_USE)
                r.in_use = version;
            else if (r.in_use == version)
                r.in_use = 0;
        }
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = lmdb_error(err, rc, "cursor");
    if (ret == 0)
        ret = replay_emit(t, &r, fn, ctx, err);
    mdb_cursor_close(cur);
    return ret < 0 ? -1 : ret;
}

typedef struct one_at {
    uint64_t version;
} one_at;

static int one_at_fn(void *ctx, const tsv_slot_key *slot, uint64_t version, tsv_error *err)
{
    (void)slot;
    (void)err;
    ((one_at *)ctx)->version = version;
    return 0;
}

int tsv_catalog_in_use_at(tsv_catalog_txn *t, const tsv_slot_key *slot, int64_t t_ns,
                          uint64_t *version, tsv_error *err)
{
    uint8_t k[KEY_MAX];
    size_t n = slot_key_prefix(k, 'E', slot, err);
    if (n == 0)
        return -1;
    one_at o = {0};
    if (events_walk(t, k, n, t_ns, one_at_fn, &o, err) < 0)
        return -1;
    *version = o.version;
    return 0;
}

int tsv_catalog_foreach_in_use_at(tsv_catalog_txn *t, const char *bucket, int64_t t_ns,
                                  tsv_catalog_at_fn fn, void *ctx, tsv_error *err)
{
    uint8_t k[KEY_MAX];
    size_t n = 1;
    k[0] = 'E';
    if (bucket) {
        n = slot_prefix(k, bucket, NULL, 0, 0);
        if (n == 0)
            return tsv_error_set(err, TSV_EINVALID, "bad catalogue bucket");
        k[0] = 'E';
    }
    return events_walk(t, k, n, t_ns, fn, ctx, err);
}

/* Data directories catalogued before the event log: one event per recorded
 * time of every version, once (the setting "events" marks it done). */
static int events_bootstrap(tsv_catalog_txn *t, const tsv_version *v, tsv_error *err)
{
    if (event_put(t, &v->slot, v->version, TSV_VERSION_IN_USE, v->created_ns, err) != 0)
        return -1;
    if (v->state != TSV_VERSION_IN_USE && v->deleted_ns &&
        event_put(t, &v->slot, v->version, TSV_VERSION_SOFT_DELETED, v->deleted_ns, err) != 0)
        return -1;
    if (v->state == TSV_VERSION_PURGED &&
        event_put(t, &v->slot, v->version, TSV_VERSION_PURGED, v->purged_ns, err) != 0)
        return -1;
    return 0;
}

typedef struct boot_ctx {
    tsv_version *v;
    size_t n, cap;
} boot_ctx;

static int boot_collect(void *ctx, const tsv_version *v, tsv_error *err)
{
    boot_ctx *b = ctx;
    if (TSV_ARRAY_GROW(b->v, b->n, b->cap, err) != 0)
        return -1;
    b->v[b->n] = *v;
    b->v[b->n].files = NULL; /* events need no files */
    b->v[b->n].n_files = 0;
    b->v[b->n].cap_files = 0;
    b->n++;
    return 0;
}

static int catalog_events_init(tsv_catalog *c, tsv_error *err)
{
    tsv_catalog_txn *t = NULL;
    char val[8];
    tsv_error e;
    if (tsv_catalog_begin(c, 1, &t, err) != 0)
        return -1;
    if (tsv_catalog_meta_get(t, "events", val, sizeof val, &e) == 0) {
        tsv_catalog_abort(t);
        return 0;
    }
    boot_ctx b = {0};
    int rc = tsv_catalog_foreach(t, boot_collect, &b, err) < 0 ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < b.n; i++)
        rc = events_bootstrap(t, &b.v[i], err);
    free(b.v);
    if (rc == 0)
        rc = tsv_catalog_meta_put(t, "events", "1", err);
    if (rc == 0)
        return tsv_catalog_commit(t, err);
    tsv_catalog_abort(t);
    return -1;
}

int tsv_catalog_put(tsv_catalog_txn *t, const tsv_version *v, tsv_error *err)
{
    uint8_t k[KEY_MAX];
    size_t klen = 0;
    if (slot_key(k, &klen, &v->slot, v->version, err) != 0)
        return -1;
    tsv_bew b = {0};
    if (encode(v, &b, err) != 0) {
        free(b.p);
        return -1;
    }
    MDB_val key = {klen, k}, val = {b.len, b.p}, old;
    /* A new version or a change of state is an event (see above). */
    int rc = mdb_get(t->txn, t->c->dbi, &key, &old);
    int changed = rc == MDB_NOTFOUND ||
                  (rc == 0 && (old.mv_size < 2 || ((const uint8_t *)old.mv_data)[1] != v->state));
    if (rc != 0 && rc != MDB_NOTFOUND) {
        free(b.p);
        return lmdb_error(err, rc, "get");
    }
    rc = cat_put(t, &key, &val, "put", err);
    free(b.p);
    if (rc != 0)
        return -1;
    if (changed && event_put(t, &v->slot, v->version, v->state, now_ns(), err) != 0)
        return -1;
    return 0;
}

int tsv_catalog_put_soft_deleted(tsv_catalog_txn *t, const tsv_version *v, int64_t now_ns,
                                 const char *by, tsv_error *err)
{
    tsv_version old = *v; /* shallow: the file list is only read */
    old.state = TSV_VERSION_SOFT_DELETED;
    old.deleted_ns = now_ns;
    snprintf(old.deleted_by, sizeof old.deleted_by, "%s", by);
    return tsv_catalog_put(t, &old, err);
}

int tsv_catalog_get(tsv_catalog_txn *t, const tsv_slot_key *slot, uint64_t version,
                    tsv_version *out, tsv_error *err)
{
    uint8_t k[KEY_MAX];
    size_t klen = 0;
    if (slot_key(k, &klen, slot, version, err) != 0)
        return -1;
    MDB_val key = {klen, k}, val;
    int rc = mdb_get(t->txn, t->c->dbi, &key, &val);
    if (rc == MDB_NOTFOUND)
        return tsv_error_set(err, TSV_ENOTFOUND, "version %llu of %s/%s not found",
                             (unsigned long long)version, slot->bucket, slot->rp);
    if (rc != 0)
        return lmdb_error(err, rc, "get");
    return decode(&key, &val, out, err);
}

int tsv_catalog_del(tsv_catalog_txn *t, const tsv_slot_key *slot, uint64_t version, tsv_error *err)
{
    uint8_t k[KEY_MAX];
    size_t klen = 0;
    if (slot_key(k, &klen, slot, version, err) != 0)
        return -1;
    MDB_val key = {klen, k};
    if (cat_del(t, &key, "delete", err) != 0)
        return -1;
    int rc;
    /* An undone version never was: its events go too. */
    size_t plen = klen - 8;
    k[0] = 'E';
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(t->txn, t->c->dbi, &cur)) != 0)
        return lmdb_error(err, rc, "cursor");
    MDB_val ek = {plen, k}, ev;
    rc = mdb_cursor_get(cur, &ek, &ev, MDB_SET_RANGE);
    while (rc == 0 && ek.mv_size == plen + 16 && memcmp(ek.mv_data, k, plen) == 0) {
        if (tsv_get_be64((const uint8_t *)ek.mv_data + plen + 8) == version) {
            if (t->c->changelog &&
                tsv_changelog_append(t->txn, t->c->changes, 'c', &ek, NULL, err) != 0) {
                mdb_cursor_close(cur);
                return -1;
            }
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
        }
        rc = mdb_cursor_get(cur, &ek, &ev, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : lmdb_error(err, rc, "delete events");
}

/* Walks keys starting with prefix[0..plen). */
static int walk(tsv_catalog_txn *t, const uint8_t *prefix, size_t plen, tsv_catalog_fn fn,
                void *ctx, tsv_error *err)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->c->dbi, &cur);
    if (rc != 0)
        return lmdb_error(err, rc, "cursor");
    MDB_val key = {plen, (void *)prefix}, val;
    int ret = 0;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
        if (key.mv_size < plen || memcmp(key.mv_data, prefix, plen) != 0)
            break;
        tsv_version v;
        if (decode(&key, &val, &v, err) != 0) {
            ret = -1;
            break;
        }
        ret = fn(ctx, &v, err);
        tsv_version_clear(&v);
        if (ret != 0)
            break;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = lmdb_error(err, rc, "cursor");
    mdb_cursor_close(cur);
    return ret;
}

int tsv_catalog_slot_foreach(tsv_catalog_txn *t, const tsv_slot_key *slot, tsv_catalog_fn fn,
                             void *ctx, tsv_error *err)
{
    uint8_t k[KEY_MAX];
    size_t n = slot_key_prefix(k, 'V', slot, err);
    if (n == 0)
        return -1;
    return walk(t, k, n, fn, ctx, err);
}

int tsv_catalog_bucket_foreach(tsv_catalog_txn *t, const char *bucket, tsv_catalog_fn fn, void *ctx,
                               tsv_error *err)
{
    uint8_t k[KEY_MAX];
    size_t n = slot_prefix(k, bucket, NULL, 0, 0);
    if (n == 0)
        return tsv_error_set(err, TSV_EINVALID, "bad catalogue bucket");
    return walk(t, k, n, fn, ctx, err);
}

int tsv_catalog_foreach(tsv_catalog_txn *t, tsv_catalog_fn fn, void *ctx, tsv_error *err)
{
    const uint8_t v = 'V';
    return walk(t, &v, 1, fn, ctx, err);
}

static int max_version(void *ctx, const tsv_version *v, tsv_error *err)
{
    (void)err;
    uint64_t *m = ctx;
    if (v->version > *m)
        *m = v->version;
    return 0;
}

int tsv_catalog_next_version(tsv_catalog_txn *t, const tsv_slot_key *slot, uint64_t *out,
                             tsv_error *err)
{
    uint64_t m = 0;
    if (tsv_catalog_slot_foreach(t, slot, max_version, &m, err) < 0)
        return -1;
    *out = m + 1;
    return 0;
}

/* Settings are stored under 'M' | name; a name that does not fit is refused
 * (snprintf's return value is the length it wanted, not what it wrote). */
#define META_KEY_MAX 256
static int meta_key(char k[META_KEY_MAX], const char *key, MDB_val *mk, tsv_error *err)
{
    int n = snprintf(k, META_KEY_MAX, "M%s", key);
    if (n < 0 || n >= META_KEY_MAX)
        return tsv_error_set(err, TSV_EINVALID, "catalogue setting name too long");
    mk->mv_size = (size_t)n;
    mk->mv_data = k;
    return 0;
}

static int meta_get(tsv_catalog_txn *t, const char *key, MDB_val *mv, tsv_error *err)
{
    char k[META_KEY_MAX];
    MDB_val mk;
    if (meta_key(k, key, &mk, err) != 0)
        return -1;
    int rc = mdb_get(t->txn, t->c->dbi, &mk, mv);
    if (rc == MDB_NOTFOUND)
        return tsv_error_set(err, TSV_ENOTFOUND, "catalogue setting %s not set", key);
    if (rc != 0)
        return lmdb_error(err, rc, "get setting");
    return 0;
}

static int meta_put(tsv_catalog_txn *t, const char *key, const void *val, size_t len,
                    tsv_error *err)
{
    char k[META_KEY_MAX];
    MDB_val mk, mv = {len, (void *)val};
    if (meta_key(k, key, &mk, err) != 0)
        return -1;
    return cat_put(t, &mk, &mv, "put setting", err);
}

int tsv_catalog_meta_get(tsv_catalog_txn *t, const char *key, char *val, size_t vallen,
                         tsv_error *err)
{
    MDB_val mv;
    if (meta_get(t, key, &mv, err) != 0)
        return -1;
    size_t m = mv.mv_size < vallen ? mv.mv_size : vallen - 1;
    memcpy(val, mv.mv_data, m);
    val[m] = '\0';
    return 0;
}

int tsv_catalog_meta_put(tsv_catalog_txn *t, const char *key, const char *val, tsv_error *err)
{
    return meta_put(t, key, val, strlen(val), err);
}

int tsv_catalog_meta_get_bin(tsv_catalog_txn *t, const char *key, uint8_t **val, size_t *len,
                             tsv_error *err)
{
    MDB_val mv;
    if (meta_get(t, key, &mv, err) != 0)
        return -1;
    *val = malloc(mv.mv_size ? mv.mv_size : 1);
    if (!*val)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    memcpy(*val, mv.mv_data, mv.mv_size);
    *len = mv.mv_size;
    return 0;
}

int tsv_catalog_meta_put_bin(tsv_catalog_txn *t, const char *key, const void *val, size_t len,
                             tsv_error *err)
{
    return meta_put(t, key, val, len, err);
}

int tsv_catalog_meta_del(tsv_catalog_txn *t, const char *key, tsv_error *err)
{
    char k[META_KEY_MAX];
    MDB_val mk;
    if (meta_key(k, key, &mk, err) != 0)
        return -1;
    return cat_del(t, &mk, "delete setting", err);
}
