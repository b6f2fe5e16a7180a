/*
 * kv: InfluxDB's bolt bucket tree kept in LMDB (layout and contract: kv.h).
 *
 * Every entry of a bucket lives in "entries" under the bucket's 8-byte
 * big-endian handle, so one bucket is one contiguous key range in LMDB's
 * memcmp order, which is bolt's order. Bucket records ("buckets") carry the
 * parent and the sequence; "info" carries the format marker and the handle
 * allocator. Subtree deletion walks bucket records with an explicit stack so
 * depth is bounded by memory, not by the C stack.
 */
#include "kv.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array_grow.h"
#include "be_bytes.h"
#include "fsutil.h"
#include "kv_internal.h"
#include "lmdb_changelog.h"
#include "tsv_log.h"
#include "vformat.h"

#define TAG_VALUE 0x00
#define TAG_BUCKET 0x01
#define HANDLE_LEN 8
#define BUCKET_REC_LEN 16 /* parent handle || sequence */
#define EKEY_MAX (HANDLE_LEN + TSV_KV_MAX_KEY)

struct tsv_kv {
    MDB_env *env;
    MDB_dbi entries;
    MDB_dbi buckets;
    MDB_dbi info;
    MDB_dbi aux[TSV_KV_AUX_COUNT];
    dev_t dev; /* identity of the directory, for the open-once registry */
    ino_t ino;
    struct tsv_kv *next_open;
    char dir[PATH_MAX];
    /* Change log on (kv_history.h): every write of the bolt tree logs its
     * before/after images in the "history" database, same transaction. */
    int history;
    int changelog; /* job record writes logged in aux "changes" (kv.h) */
};

struct tsv_kv_txn {
    tsv_kv *kv;
    MDB_txn *txn;
    int write;
    /* A write failed after changing the database: commit must not apply it,
     * and reports this first error (so a map-full stays a 507). */
    int poisoned;
    tsv_error poison_err;
    pthread_t owner;
    tsv_kv_cursor *cursors; /* open cursors, detached when the txn ends */
    /* Set by tsv_kv_bolt_source_init when the root sequence was unreadable. */
    int source_failed;
    tsv_error source_err;
    tsv_kv_hist_state hist; /* change-log time and sequence of this txn */
};

enum cursor_state {
    CUR_SEEK,
    CUR_ITER,
    CUR_EOF
};

struct tsv_kv_cursor {
    tsv_kv_txn *txn; /* NULL once detached */
    MDB_cursor *mc;
    tsv_kv_cursor *prev, *next;
    uint8_t prefix[HANDLE_LEN];
    enum cursor_state state;
    size_t seek_len; /* CUR_SEEK: key to position at (prefix included) */
    uint8_t seek[EKEY_MAX];
};

/* ---- process-wide registry: LMDB forbids opening one env twice ---------- */

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static tsv_kv *open_list;

static int registry_add(tsv_kv *kv, tsv_error *err)
{
    int rc = 0;
    pthread_mutex_lock(&open_lock);
    for (tsv_kv *o = open_list; o; o = o->next_open) {
        if (o->dev == kv->dev && o->ino == kv->ino) {
            rc = tsv_error_set(err, TSV_ECONFLICT,
                               "KV store %s is already open in this process (as %s)", kv->dir,
                               o->dir);
            break;
        }
    }
    if (rc == 0) {
        kv->next_open = open_list;
        open_list = kv;
    }
    pthread_mutex_unlock(&open_lock);
    return rc;
}

static void registry_remove(tsv_kv *kv)
{
    pthread_mutex_lock(&open_lock);
    for (tsv_kv **pp = &open_list; *pp; pp = &(*pp)->next_open) {
        if (*pp == kv) {
            *pp = kv->next_open;
            break;
        }
    }
    pthread_mutex_unlock(&open_lock);
}

/* ---- encoding ------------------------------------------------------------ */

/* ---- errors --------------------------------------------------------------- */

static int is_corruption(int rc)
{
    return rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED ||
           rc == MDB_PAGE_NOTFOUND;
}

/* Maps an LMDB/errno failure `rc` of operation `what` to a tsv_error. */
static int mdb_fail(tsv_kv *kv, tsv_error *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int mdb_fail(tsv_kv *kv, tsv_error *err, int rc, const char *fmt, ...)
{
    char what[256];
    TSV_VFORMAT(what, fmt);
    const char *dir = kv ? kv->dir : "?";

    if (rc == MDB_MAP_FULL) {
        MDB_envinfo info;
        size_t mapsize = 0;
        if (kv && mdb_env_info(kv->env, &info) == 0)
            mapsize = info.me_mapsize;
        return tsv_error_set(err, TSV_ENOSPACE,
                             "%s: KV store %s is full (LMDB map size %zu bytes reached); "
                             "the transaction was not applied",
                             what, dir, mapsize);
    }
    if (is_corruption(rc))
        return tsv_error_set(err, TSV_EINTERNAL, "%s: KV store %s is corrupt: %s", what, dir,
                             mdb_strerror(rc));
    switch (rc) {
    case MDB_NOTFOUND:
        return tsv_error_set(err, TSV_ENOTFOUND, "%s: not found", what);
    case MDB_READERS_FULL:
        return tsv_error_set(err, TSV_EUNAVAILABLE,
                             "%s: too many concurrent readers of KV store %s", what, dir);
    case MDB_TXN_FULL:
        return tsv_error_set(err, TSV_ETOOLARGE, "%s: transaction too large for KV store %s", what,
                             dir);
    case MDB_BAD_TXN:
        return tsv_error_set(err, TSV_EINTERNAL,
                             "%s: transaction unusable after an earlier failure", what);
    default:
        break;
    }
    if (rc > 0) /* an errno; ENOSPC/EDQUOT become TSV_ENOSPACE */
        return tsv_error_set_errno(err, TSV_EINTERNAL, rc, "%s (KV store %s)", what, dir);
    return tsv_error_set(err, TSV_EINTERNAL, "%s: KV store %s: %s", what, dir, mdb_strerror(rc));
}

/* Marks t unusable for commit, keeping the first reason; copies it to err. */
static int poison(tsv_kv_txn *t, const tsv_error *why, tsv_error *err)
{
    if (!t->poisoned) {
        t->poisoned = 1;
        t->poison_err = *why;
    }
    if (err && err != why)
        *err = *why;
    return -1;
}

/* A write-path failure after the transaction may have been changed. */
static int write_fail(tsv_kv_txn *t, tsv_error *err, int rc, const char *what)
{
    tsv_error why;
    mdb_fail(t->kv, &why, rc, "%s", what);
    return poison(t, &why, err);
}

static int corrupt(tsv_kv *kv, tsv_error *err, const char *what)
{
    return tsv_error_set(err, TSV_EINTERNAL, "KV store %s is corrupt: %s", kv->dir, what);
}

/* Keys are arbitrary bytes: messages show them escaped and shortened. */
typedef struct keytext {
    char s[4 * 40 + 8];
} keytext;

static keytext show(const void *key, size_t len)
{
    keytext kt;
    const uint8_t *p = key;
    size_t n = 0, shown = len > 40 ? 40 : len;
    for (size_t i = 0; i < shown; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            kt.s[n++] = (char)p[i];
        else
            n += (size_t)snprintf(kt.s + n, sizeof kt.s - n, "\\x%02x", p[i]);
    }
    if (shown < len)
        n += (size_t)snprintf(kt.s + n, sizeof kt.s - n, "...");
    kt.s[n] = '\0';
    return kt;
}

static int check_len(const void *p, size_t len, const char *what, tsv_error *err)
{
    if (len < 1 || len > TSV_KV_MAX_KEY)
        return tsv_error_set(err, TSV_EINVALID, "%s length %zu is out of range (1..%d bytes)", what,
                             len, TSV_KV_MAX_KEY);
    if (!p)
        return tsv_error_set(err, TSV_EINVALID, "%s is NULL", what);
    return 0;
}

static int require_write(tsv_kv_txn *t, const char *op, tsv_error *err)
{
    if (!t->write)
        return tsv_error_set(err, TSV_EINTERNAL, "%s needs a write transaction", op);
    return 0;
}

/* Logs the change of raw record (db, k) to after = a1 || a2 (del: removal)
 * before it is made (kv_history.c); a failure poisons the transaction. */
static int hist(tsv_kv_txn *t, char db, const MDB_val *k, const void *a1, size_t l1, const void *a2,
                size_t l2, int del, tsv_error *err)
{
    if (!t->kv->history)
        return 0;
    tsv_error why;
    if (tsv_kv_history__log(t, db, k, a1, l1, a2, l2, del, &why) != 0)
        return poison(t, &why, err);
    return 0;
}

/* ---- records ------------------------------------------------------------- */

static MDB_val entry_key(uint8_t *buf, uint64_t bucket, const void *key, size_t klen)
{
    tsv_put_be64(buf, bucket);
    memcpy(buf + HANDLE_LEN, key, klen);
    return (MDB_val){.mv_size = HANDLE_LEN + klen, .mv_data = buf};
}

/* Decoded "entries" value. */
typedef struct decoded {
    int is_bucket;
    const uint8_t *val;
    size_t vlen;
    uint64_t child;
} decoded;

static int decode_entry(tsv_kv *kv, const MDB_val *v, decoded *d, tsv_error *err)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < 1)
        return corrupt(kv, err, "entry without a tag byte");
    if (p[0] == TAG_VALUE) {
        *d = (decoded){.is_bucket = 0, .val = p + 1, .vlen = v->mv_size - 1};
        return 0;
    }
    if (p[0] == TAG_BUCKET && v->mv_size == 1 + HANDLE_LEN) {
        *d = (decoded){.is_bucket = 1, .child = tsv_get_be64(p + 1)};
        return 0;
    }
    return corrupt(kv, err, "entry with an unknown tag or a bad bucket reference");
}

/* Looks up (bucket, key). Returns 1 found (*d filled), 0 absent, -1 error. */
static int lookup_entry(tsv_kv_txn *t, uint64_t bucket, const void *key, size_t klen, decoded *d,
                        tsv_error *err)
{
    uint8_t buf[EKEY_MAX];
    MDB_val k = entry_key(buf, bucket, key, klen), v;
    int rc = mdb_get(t->txn, t->kv->entries, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return mdb_fail(t->kv, err, rc, "read KV entry");
    return decode_entry(t->kv, &v, d, err) == 0 ? 1 : -1;
}

/* Reads a bucket record. Returns 1 found, 0 absent, -1 error. */
static int read_bucket_rec(tsv_kv_txn *t, uint64_t bucket, uint64_t *parent, uint64_t *seq,
                           tsv_error *err)
{
    uint8_t kb[HANDLE_LEN];
    tsv_put_be64(kb, bucket);
    MDB_val k = {.mv_size = HANDLE_LEN, .mv_data = kb}, v;
    int rc = mdb_get(t->txn, t->kv->buckets, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return mdb_fail(t->kv, err, rc, "read KV bucket record");
    if (v.mv_size != BUCKET_REC_LEN)
        return corrupt(t->kv, err, "bucket record of the wrong size");
    if (parent)
        *parent = tsv_get_be64(v.mv_data);
    if (seq)
        *seq = tsv_get_be64((const uint8_t *)v.mv_data + HANDLE_LEN);
    return 1;
}

static int write_bucket_rec(tsv_kv_txn *t, uint64_t bucket, uint64_t parent, uint64_t seq,
                            tsv_error *err)
{
    uint8_t kb[HANDLE_LEN], vb[BUCKET_REC_LEN];
    tsv_put_be64(kb, bucket);
    tsv_put_be64(vb, parent);
    tsv_put_be64(vb + HANDLE_LEN, seq);
    MDB_val k = {.mv_size = sizeof kb, .mv_data = kb};
    MDB_val v = {.mv_size = sizeof vb, .mv_data = vb};
    if (hist(t, 'b', &k, vb, sizeof vb, NULL, 0, 0, err) != 0)
        return -1;
    int rc = mdb_put(t->txn, t->kv->buckets, &k, &v, 0);
    if (rc != 0)
        return write_fail(t, err, rc, "write KV bucket record");
    return 0;
}

/* TSV_ENOTFOUND unless the bucket exists; *seq (if given) gets its sequence. */
static int require_bucket_seq(tsv_kv_txn *t, uint64_t bucket, uint64_t *seq, tsv_error *err)
{
    int found = read_bucket_rec(t, bucket, NULL, seq, err);
    if (found < 0)
        return -1;
    if (!found)
        return tsv_error_set(err, TSV_ENOTFOUND, "KV bucket %llu does not exist",
                             (unsigned long long)bucket);
    return 0;
}

static int require_bucket(tsv_kv_txn *t, uint64_t bucket, tsv_error *err)
{
    return require_bucket_seq(t, bucket, NULL, err);
}

static int info_put(tsv_kv *kv, MDB_txn *txn, const char *key, const void *val, size_t vlen,
                    tsv_error *err)
{
    MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    int rc = mdb_put(txn, kv->info, &k, &v, 0);
    if (rc != 0)
        return mdb_fail(kv, err, rc, "write KV info/%s", key);
    return 0;
}

/* ---- truncation check ------------------------------------------------------------ */

/* LMDB reads pages straight from its map of data.mdb, so a page beyond the
 * end of a truncated file is a SIGBUS, not an error. LMDB 0.9 files may
 * legitimately end before their last allocated page (pages freed in the
 * transaction that allocated them are never written), so the check cannot
 * compare the size with the meta's last page: it walks every page reachable
 * from the current meta with pread (never through the map) and refuses the
 * store if one of them lies past the end of the file.
 * On-disk layout of LMDB 0.9 (mdb.c, DATA_VERSION 1), native byte order:
 *   page: pgno u64, pad u16, flags u16, lower u16, upper u16 (overflow:
 *         u32 page count instead of lower/upper), then u16 node offsets;
 *   node: lo u16, hi u16, flags u16, ksize u16, key, data (branch: the child
 *         is lo | hi<<16 | flags<<32; leaf: data size is lo | hi<<16);
 *   meta (at offset 16 of pages 0 and 1): magic u32, version u32, address,
 *         mapsize, MDB_db free, MDB_db main, last_pg u64, txnid u64;
 *   MDB_db (48 bytes): pad u32, flags u16, depth u16, 3 page counts,
 *         entries, root u64 (~0 = empty). */
#define LM_HDR 16
#define LM_P_BRANCH 0x01
#define LM_P_LEAF 0x02
#define LM_P_OVERFLOW 0x04
#define LM_P_LEAF2 0x20
#define LM_F_BIGDATA 0x01
#define LM_F_SUBDATA 0x02
#define LM_F_DUPDATA 0x04
#define LM_DB_SIZE 48
#define LM_DB_ROOT 40
#define LM_META_DBS 24
#define LM_META_TXNID (LM_META_DBS + 2 * LM_DB_SIZE + 8)
#define LM_MAX_DEPTH 64

typedef struct page_walk {
    int fd;
    uint64_t psize;
    uint64_t file_pages; /* whole pages in the file */
    uint64_t budget;     /* pages that may still be visited (cycle guard) */
    uint8_t *buf;        /* one page per tree level */
    tsv_kv *kv;
} page_walk;

static uint16_t ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int truncated(page_walk *w, uint64_t pgno, uint64_t pages, tsv_error *err)
{
    return tsv_error_set(err, TSV_EINTERNAL,
                         "KV store %s is corrupt: data.mdb is truncated (page %llu%s is "
                         "beyond its end, %llu pages of %llu bytes); refusing to open it, the "
                         "files are left untouched",
                         w->kv->dir, (unsigned long long)pgno, pages > 1 ? " and its overflow" : "",
                         (unsigned long long)w->file_pages, (unsigned long long)w->psize);
}

static int read_page(page_walk *w, uint64_t pgno, uint8_t *buf, tsv_error *err)
{
    if (w->budget-- == 0)
        return corrupt(w->kv, err, "a page is referenced more than once (cycle)");
    if (pgno >= w->file_pages)
        return truncated(w, pgno, 1, err);
    size_t got = 0;
    while (got < w->psize) {
        ssize_t n = pread(w->fd, buf + got, w->psize - got, (off_t)(pgno * w->psize + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read KV store %s/data.mdb",
                                       w->kv->dir);
        if (n == 0)
            return truncated(w, pgno, 1, err);
        got += (size_t)n;
    }
    return 0;
}

static int walk_tree(page_walk *w, uint64_t pgno, int depth, tsv_error *err);

/* Overflow pages of a big value: only their extent matters. */
static int walk_overflow(page_walk *w, uint64_t pgno, int depth, tsv_error *err)
{
    uint8_t *buf = w->buf + (size_t)depth * w->psize;
    if (read_page(w, pgno, buf, err) != 0)
        return -1;
    uint32_t pages;
    memcpy(&pages, buf + 12, sizeof pages);
    if (!(ld16(buf + 10) & LM_P_OVERFLOW) || pages == 0)
        return corrupt(w->kv, err, "a big value does not point at overflow pages");
    if (pages > w->file_pages || pgno > w->file_pages - pages)
        return truncated(w, pgno, pages, err);
    return 0;
}

static int walk_tree(page_walk *w, uint64_t pgno, int depth, tsv_error *err)
{
    if (depth >= LM_MAX_DEPTH)
        return corrupt(w->kv, err, "B-tree deeper than 64 levels");
    uint8_t *p = w->buf + (size_t)depth * w->psize;
    if (read_page(w, pgno, p, err) != 0)
        return -1;
    uint16_t flags = ld16(p + 10), lower = ld16(p + 12);
    if (!(flags & (LM_P_BRANCH | LM_P_LEAF)) || lower < LM_HDR || lower > w->psize) {
        char what[128];
        snprintf(what, sizeof what, "page %llu is neither branch nor leaf at offset %llu",
                 (unsigned long long)pgno, (unsigned long long)(pgno * w->psize));
        return corrupt(w->kv, err, what);
    }
    if (flags & LM_P_LEAF2)
        return 0; /* fixed-size keys, no nodes (DUPFIXED; not used here) */
    unsigned nkeys = (unsigned)(lower - LM_HDR) >> 1;
    for (unsigned i = 0; i < nkeys; i++) {
        uint16_t off = ld16(p + LM_HDR + 2 * i);
        if (off < LM_HDR || (uint64_t)off + 8 > w->psize)
            return corrupt(w->kv, err, "a node lies outside its page");
        const uint8_t *node = p + off;
        uint16_t lo = ld16(node), hi = ld16(node + 2), nflags = ld16(node + 4),
                 ksize = ld16(node + 6);
        if (flags & LM_P_BRANCH) {
            uint64_t child = (uint64_t)lo | (uint64_t)hi << 16 | (uint64_t)nflags << 32;
            if (walk_tree(w, child, depth + 1, err) != 0)
                return -1;
            continue;
        }
        uint64_t data = (uint64_t)off + 8 + ksize;
        if (nflags & LM_F_BIGDATA) {
            if (data + 8 > w->psize)
                return corrupt(w->kv, err, "a node lies outside its page");
            if (walk_overflow(w, ld64(p + data), depth + 1, err) != 0)
                return -1;
        } else if (nflags & LM_F_SUBDATA) {
            /* A named database (or a sub-database of duplicates). */
            if (data + LM_DB_SIZE > w->psize)
                return corrupt(w->kv, err, "a node lies outside its page");
            uint64_t root = ld64(p + data + LM_DB_ROOT);
            if (root != UINT64_MAX && walk_tree(w, root, depth + 1, err) != 0)
                return -1;
        }
    }
    return 0;
}

/* Called right after mdb_env_open, before anything touches the map. */
static int check_not_truncated(tsv_kv *kv, tsv_error *err)
{
    int fd;
    MDB_stat st;
    int rc;
    if ((rc = mdb_env_get_fd(kv->env, &fd)) != 0 || (rc = mdb_env_stat(kv->env, &st)) != 0)
        return mdb_fail(kv, err, rc, "inspect KV store");
    struct stat fst;
    if (fstat(fd, &fst) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "stat KV store %s/data.mdb", kv->dir);
    page_walk w = {
        .fd = fd,
        .psize = st.ms_psize,
        .file_pages = (uint64_t)fst.st_size / st.ms_psize,
        .kv = kv,
    };
    w.budget = w.file_pages + 1;
    if (w.psize < 512 || w.psize > 65536)
        return corrupt(kv, err, "unexpected page size");
    w.buf = malloc((size_t)w.psize * (LM_MAX_DEPTH + 1));
    if (!w.buf)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory checking KV store");
    /* The meta LMDB uses: of the two (both checked by mdb_env_open), the one
     * with the higher transaction id. */
    int ret = -1;
    uint64_t txnid[2], roots[2][2];
    for (uint64_t m = 0; m < 2; m++) {
        if (read_page(&w, m, w.buf, err) != 0)
            goto out;
        const uint8_t *meta = w.buf + LM_HDR;
        txnid[m] = ld64(meta + LM_META_TXNID);
        roots[m][0] = ld64(meta + LM_META_DBS + LM_DB_ROOT);              /* free pages */
        roots[m][1] = ld64(meta + LM_META_DBS + LM_DB_SIZE + LM_DB_ROOT); /* main */
    }
    int cur = txnid[1] > txnid[0];
    for (int i = 0; i < 2; i++)
        if (roots[cur][i] != UINT64_MAX && walk_tree(&w, roots[cur][i], 1, err) != 0)
            goto out;
    ret = 0;
out:
    free(w.buf);
    return ret;
}

int tsv_kv_check(tsv_kv *kv, tsv_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return mdb_fail(kv, err, rc, "begin KV check transaction");
    rc = check_not_truncated(kv, err);
    mdb_txn_abort(txn);
    return rc;
}

/* ---- environment ------------------------------------------------------------ */

static const char *const aux_names[TSV_KV_AUX_COUNT] = {"jobs", "history", "changes"};

/* The auxiliary databases are created on first use of an environment (an
 * older one simply gains them). */
static int open_aux(tsv_kv *kv, MDB_txn *txn)
{
    for (int i = 0; i < TSV_KV_AUX_COUNT; i++) {
        int rc = mdb_dbi_open(txn, aux_names[i], MDB_CREATE, &kv->aux[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* First open of an empty environment: databases, marker, allocator, root. */
static int init_fresh(tsv_kv *kv, MDB_txn *txn, tsv_error *err)
{
    int rc;
    if ((rc = mdb_dbi_open(txn, "entries", MDB_CREATE, &kv->entries)) != 0 ||
        (rc = mdb_dbi_open(txn, "buckets", MDB_CREATE, &kv->buckets)) != 0 ||
        (rc = mdb_dbi_open(txn, "info", MDB_CREATE, &kv->info)) != 0 ||
        (rc = open_aux(kv, txn)) != 0)
        return mdb_fail(kv, err, rc, "create KV databases");
    uint8_t next[HANDLE_LEN];
    tsv_put_be64(next, TSV_KV_ROOT + 1);
    if (info_put(kv, txn, "format", TSV_KV_FORMAT, strlen(TSV_KV_FORMAT), err) != 0 ||
        info_put(kv, txn, "next_bucket", next, sizeof next, err) != 0)
        return -1;
    uint8_t kb[HANDLE_LEN], vb[BUCKET_REC_LEN];
    tsv_put_be64(kb, TSV_KV_ROOT);
    tsv_put_be64(vb, TSV_KV_ROOT);
    tsv_put_be64(vb + HANDLE_LEN, 0);
    MDB_val k = {.mv_size = sizeof kb, .mv_data = kb};
    MDB_val v = {.mv_size = sizeof vb, .mv_data = vb};
    if ((rc = mdb_put(txn, kv->buckets, &k, &v, 0)) != 0)
        return mdb_fail(kv, err, rc, "write KV root bucket record");
    return 0;
}

/* Opens the databases of an environment that already holds data, refusing
 * anything that is not ours without changing it. */
static int open_existing(tsv_kv *kv, MDB_txn *txn, tsv_error *err)
{
    int rc = mdb_dbi_open(txn, "info", 0, &kv->info);
    if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
        return tsv_error_set(err, TSV_EINTERNAL,
                             "%s holds an LMDB environment that is not a tsvault KV store "
                             "(no format marker); refusing to use it",
                             kv->dir);
    if (rc != 0)
        return mdb_fail(kv, err, rc, "open KV info database");
    MDB_val k = {.mv_size = strlen("format"), .mv_data = "format"}, v;
    rc = mdb_get(txn, kv->info, &k, &v);
    if (rc == MDB_NOTFOUND)
        return tsv_error_set(err, TSV_EINTERNAL,
                             "KV store %s has no format marker; refusing to use it", kv->dir);
    if (rc != 0)
        return mdb_fail(kv, err, rc, "read KV format marker");
    if (v.mv_size != strlen(TSV_KV_FORMAT) || memcmp(v.mv_data, TSV_KV_FORMAT, v.mv_size) != 0) {
        return tsv_error_set(err, TSV_EINTERNAL,
                             "KV store %s has format \"%s\", expected \"%s\"; refusing to use it",
                             kv->dir, show(v.mv_data, v.mv_size).s, TSV_KV_FORMAT);
    }
    if ((rc = mdb_dbi_open(txn, "entries", 0, &kv->entries)) != 0 ||
        (rc = mdb_dbi_open(txn, "buckets", 0, &kv->buckets)) != 0) {
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
            return corrupt(kv, err, "a database is missing");
        return mdb_fail(kv, err, rc, "open KV databases");
    }
    if ((rc = open_aux(kv, txn)) != 0)
        return mdb_fail(kv, err, rc, "open KV auxiliary databases");
    uint8_t rk[HANDLE_LEN];
    tsv_put_be64(rk, TSV_KV_ROOT);
    k = (MDB_val){.mv_size = sizeof rk, .mv_data = rk};
    rc = mdb_get(txn, kv->buckets, &k, &v);
    if (rc == MDB_NOTFOUND)
        return corrupt(kv, err, "the root bucket record is missing");
    if (rc != 0)
        return mdb_fail(kv, err, rc, "read KV root bucket record");
    return 0;
}

int tsv_kv_open(tsv_kv **out, const char *dir, size_t map_size, tsv_error *err)
{
    *out = NULL;
    tsv_kv *kv = calloc(1, sizeof *kv);
    if (!kv)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory opening KV store");
    if (strlen(dir) >= sizeof kv->dir) {
        free(kv);
        return tsv_error_set(err, TSV_EINVALID, "KV directory path too long");
    }
    strcpy(kv->dir, dir);
    if (tsv_mkdir_p(dir, err) != 0) {
        free(kv);
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        int e = errno;
        free(kv);
        return tsv_error_set_errno(err, TSV_EINTERNAL, e, "stat %s", dir);
    }
    kv->dev = st.st_dev;
    kv->ino = st.st_ino;
    if (registry_add(kv, err) != 0) {
        free(kv);
        return -1;
    }

    int rc = mdb_env_create(&kv->env);
    if (rc != 0) {
        kv->env = NULL;
        mdb_fail(kv, err, rc, "create LMDB environment");
        goto fail;
    }
    if ((rc = mdb_env_set_maxdbs(kv->env, 8)) != 0 ||
        (rc = mdb_env_set_maxreaders(kv->env, 256)) != 0 ||
        (rc = mdb_env_set_mapsize(kv->env, map_size ? map_size : TSV_KV_DEFAULT_MAP_SIZE)) != 0) {
        mdb_fail(kv, err, rc, "configure LMDB environment");
        goto fail;
    }
    /* LMDB treats an empty data.mdb as a new environment and writes fresh
     * meta pages over it; but it writes them when it creates the file, so
     * an existing empty one was truncated. */
    char data_path[PATH_MAX + 16];
    snprintf(data_path, sizeof data_path, "%s/data.mdb", dir);
    struct stat dst;
    if (stat(data_path, &dst) == 0 && S_ISREG(dst.st_mode) && dst.st_size == 0) {
        tsv_error_set(err, TSV_EINTERNAL,
                      "KV store %s is corrupt: data.mdb is empty (truncated); refusing to "
                      "open it, the files are left untouched (if this store never held data, "
                      "remove %s)",
                      dir, data_path);
        goto fail;
    }
    rc = mdb_env_open(kv->env, dir, MDB_NOTLS, 0600);
    if (rc != 0) {
        if (is_corruption(rc))
            tsv_error_set(err, TSV_EINTERNAL,
                          "KV store %s is corrupt or not an LMDB environment (%s); "
                          "refusing to open it, the files are left untouched",
                          dir, mdb_strerror(rc));
        else
            mdb_fail(kv, err, rc, "open LMDB environment");
        goto fail;
    }
    if (check_not_truncated(kv, err) != 0)
        goto fail;
    /* Reader slots of processes that died would otherwise pin old pages. */
    int dead = 0;
    if ((rc = mdb_reader_check(kv->env, &dead)) != 0) {
        mdb_fail(kv, err, rc, "check KV reader table");
        goto fail;
    }
    if (dead > 0)
        TSV_INFO("msg=\"cleared stale KV readers\" dir=%s count=%d", dir, dead);

    /* One write transaction both decides "fresh or ours" and opens the
     * database handles; an existing foreign/invalid env is only read. */
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(kv->env, NULL, 0, &txn)) != 0) {
        mdb_fail(kv, err, rc, "begin KV open transaction");
        goto fail;
    }
    MDB_dbi main_dbi;
    MDB_stat ms;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) != 0 ||
        (rc = mdb_stat(txn, main_dbi, &ms)) != 0) {
        mdb_txn_abort(txn);
        mdb_fail(kv, err, rc, "read KV main database");
        goto fail;
    }
    /* Empty main database = nothing stored yet (a brand-new file, or one whose
     * first transaction never committed): safe to initialize. */
    int fresh = ms.ms_entries == 0;
    if ((fresh ? init_fresh(kv, txn, err) : open_existing(kv, txn, err)) != 0) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        mdb_fail(kv, err, rc, "commit KV open transaction");
        goto fail;
    }
    if (fresh)
        TSV_INFO("msg=\"created KV store\" dir=%s", dir);
    *out = kv;
    return 0;

fail:
    if (kv->env)
        mdb_env_close(kv->env);
    registry_remove(kv);
    free(kv);
    return -1;
}

void tsv_kv_close(tsv_kv *kv)
{
    if (!kv)
        return;
    mdb_env_close(kv->env);
    registry_remove(kv);
    free(kv);
}

int tsv_kv_sync(tsv_kv *kv, tsv_error *err)
{
    int rc = mdb_env_sync(kv->env, 1);
    if (rc != 0)
        return mdb_fail(kv, err, rc, "sync KV store");
    return 0;
}

int tsv_kv_set_durable(tsv_kv *kv, int durable, tsv_error *err)
{
    int rc = mdb_env_set_flags(kv->env, MDB_NOSYNC, durable ? 0 : 1);
    if (rc != 0)
        return mdb_fail(kv, err, rc, "set KV sync mode");
    return 0;
}

/* ---- transactions ------------------------------------------------------------ */

int tsv_kv_begin(tsv_kv *kv, int write, tsv_kv_txn **out, tsv_error *err)
{
    *out = NULL;
    /* The store closes its environment while swapping generations; a failed
     * swap can leave none open, which must be an error, not a crash. */
    if (!kv)
        return tsv_error_set(err, TSV_EUNAVAILABLE, "the KV store is not open");
    tsv_kv_txn *t = calloc(1, sizeof *t);
    if (!t)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory beginning KV transaction");
    t->kv = kv;
    t->write = write ? 1 : 0;
    t->owner = pthread_self();
    int rc = mdb_txn_begin(kv->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc != 0) {
        free(t);
        return mdb_fail(kv, err, rc, "begin KV %s transaction", write ? "write" : "read");
    }
    *out = t;
    return 0;
}

static void detach_cursors(tsv_kv_txn *t)
{
    tsv_kv_cursor *c = t->cursors;
    while (c) {
        tsv_kv_cursor *next = c->next;
        mdb_cursor_close(c->mc);
        c->mc = NULL;
        c->txn = NULL;
        c->prev = c->next = NULL;
        c = next;
    }
    t->cursors = NULL;
}

int tsv_kv_commit(tsv_kv_txn *t, tsv_error *err)
{
    if (!t)
        return tsv_error_set(err, TSV_EINTERNAL, "commit of a NULL KV transaction");
    /* LMDB's writer lock is a mutex: unlocking it on another thread is UB. */
    assert(!t->write || pthread_equal(t->owner, pthread_self()));
    detach_cursors(t);
    int ret = 0;
    if (!t->write) {
        mdb_txn_abort(t->txn); /* nothing to apply; releases the reader slot */
    } else if (t->poisoned) {
        mdb_txn_abort(t->txn);
        ret = tsv_error_set(err, t->poison_err.code,
                            "KV transaction not committed, an earlier write in it failed: %s",
                            t->poison_err.message);
    } else {
        int rc = mdb_txn_commit(t->txn);
        if (rc != 0)
            ret = mdb_fail(t->kv, err, rc, "commit KV transaction");
    }
    free(t);
    return ret;
}

void tsv_kv_abort(tsv_kv_txn *t)
{
    if (!t)
        return;
    assert(!t->write || pthread_equal(t->owner, pthread_self()));
    detach_cursors(t);
    mdb_txn_abort(t->txn);
    free(t);
}

/* ---- buckets --------------------------------------------------------------------- */

/* The entry `name` of parent, which must be a bucket: TSV_ENOTFOUND if
 * absent, `value_code` if it is a value. */
static int lookup_bucket(tsv_kv_txn *t, uint64_t parent, const void *name, size_t len,
                         tsv_code value_code, decoded *d, tsv_error *err)
{
    int found = lookup_entry(t, parent, name, len, d, err);
    if (found < 0)
        return -1;
    if (!found)
        return tsv_error_set(err, TSV_ENOTFOUND, "bucket \"%s\" not found", show(name, len).s);
    if (!d->is_bucket)
        return tsv_error_set(err, value_code, "\"%s\" is a value, not a bucket", show(name, len).s);
    return 0;
}

int tsv_kv_bucket(tsv_kv_txn *t, uint64_t parent, const void *name, size_t len, uint64_t *out,
                  tsv_error *err)
{
    decoded d;
    if (check_len(name, len, "bucket name", err) != 0 ||
        lookup_bucket(t, parent, name, len, TSV_ENOTFOUND, &d, err) != 0)
        return -1;
    *out = d.child;
    return 0;
}

static int alloc_handle(tsv_kv_txn *t, uint64_t *out, tsv_error *err)
{
    MDB_val k = {.mv_size = strlen("next_bucket"), .mv_data = "next_bucket"}, v;
    int rc = mdb_get(t->txn, t->kv->info, &k, &v);
    if (rc == MDB_NOTFOUND)
        return corrupt(t->kv, err, "info/next_bucket is missing");
    if (rc != 0)
        return mdb_fail(t->kv, err, rc, "read KV next_bucket");
    if (v.mv_size != HANDLE_LEN)
        return corrupt(t->kv, err, "info/next_bucket has the wrong size");
    uint64_t h = tsv_get_be64(v.mv_data);
    if (h == TSV_KV_ROOT || h == UINT64_MAX)
        return corrupt(t->kv, err, "info/next_bucket is out of range");
    uint8_t nb[HANDLE_LEN];
    tsv_put_be64(nb, h + 1);
    v = (MDB_val){.mv_size = sizeof nb, .mv_data = nb};
    if (hist(t, 'i', &k, nb, sizeof nb, NULL, 0, 0, err) != 0)
        return -1;
    if ((rc = mdb_put(t->txn, t->kv->info, &k, &v, 0)) != 0)
        return write_fail(t, err, rc, "write KV next_bucket");
    *out = h;
    return 0;
}

int tsv_kv_bucket_create(tsv_kv_txn *t, uint64_t parent, const void *name, size_t len,
                         uint64_t sequence, int exist_ok, uint64_t *out, tsv_error *err)
{
    if (require_write(t, "bucket_create", err) != 0 ||
        check_len(name, len, "bucket name", err) != 0 || require_bucket(t, parent, err) != 0)
        return -1;
    decoded d;
    int found = lookup_entry(t, parent, name, len, &d, err);
    if (found < 0)
        return -1;
    if (found && !d.is_bucket)
        return tsv_error_set(err, TSV_ECONFLICT, "\"%s\" exists as a value, not a bucket",
                             show(name, len).s);
    if (found) {
        if (!exist_ok)
            return tsv_error_set(err, TSV_ECONFLICT, "bucket \"%s\" already exists",
                                 show(name, len).s);
        if (out)
            *out = d.child;
        return 0;
    }
    uint64_t h = 0; /* set by alloc_handle; -O2 cannot prove it */
    if (alloc_handle(t, &h, err) != 0)
        return -1;
    uint8_t kb[EKEY_MAX], vb[1 + HANDLE_LEN];
    MDB_val k = entry_key(kb, parent, name, len);
    vb[0] = TAG_BUCKET;
    tsv_put_be64(vb + 1, h);
    MDB_val v = {.mv_size = sizeof vb, .mv_data = vb};
    if (hist(t, 'e', &k, vb, sizeof vb, NULL, 0, 0, err) != 0)
        return -1;
    int rc = mdb_put(t->txn, t->kv->entries, &k, &v, 0);
    if (rc != 0)
        return write_fail(t, err, rc, "write KV bucket entry");
    if (write_bucket_rec(t, h, parent, sequence, err) != 0)
        return -1;
    if (out)
        *out = h;
    return 0;
}

/* Growable stack of bucket handles still to be emptied. */
typedef struct handle_stack {
    uint64_t *v;
    size_t n, cap;
} handle_stack;

static int stack_push(handle_stack *s, uint64_t h)
{
    if (TSV_ARRAY_GROW(s->v, s->n, s->cap, NULL) != 0)
        return -1;
    s->v[s->n++] = h;
    return 0;
}

/* Deletes every entry of bucket h (pushing nested buckets) and its record. */
static int empty_bucket(tsv_kv_txn *t, MDB_cursor *mc, uint64_t h, handle_stack *todo,
                        tsv_error *err)
{
    uint8_t prefix[HANDLE_LEN];
    tsv_put_be64(prefix, h);
    for (;;) {
        /* Re-seek after each delete: the first remaining key of the bucket. */
        MDB_val k = {.mv_size = HANDLE_LEN, .mv_data = prefix}, v;
        int rc = mdb_cursor_get(mc, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND)
            break;
        if (rc != 0)
            return write_fail(t, err, rc, "scan KV bucket for delete");
        if (k.mv_size <= HANDLE_LEN || memcmp(k.mv_data, prefix, HANDLE_LEN) != 0)
            break;
        decoded d = {0}; /* -O3 cannot prove decode_entry sets it */
        if (decode_entry(t->kv, &v, &d, err) != 0)
            return -1;
        if (d.is_bucket && stack_push(todo, d.child) != 0)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory deleting KV bucket");
        if (t->kv->history) {
            /* The log write may move pages: copy the key, re-position. */
            uint8_t kc[EKEY_MAX];
            MDB_val kk = {.mv_size = k.mv_size, .mv_data = kc};
            memcpy(kc, k.mv_data, k.mv_size);
            if (tsv_kv_history__log(t, 'e', &kk, NULL, 0, NULL, 0, 1, err) != 0)
                return -1;
            if ((rc = mdb_cursor_get(mc, &kk, &v, MDB_SET)) != 0)
                return write_fail(t, err, rc, "re-seek KV bucket for delete");
        }
        if ((rc = mdb_cursor_del(mc, 0)) != 0)
            return write_fail(t, err, rc, "delete KV entry");
    }
    uint8_t kb[HANDLE_LEN];
    tsv_put_be64(kb, h);
    MDB_val k = {.mv_size = HANDLE_LEN, .mv_data = kb};
    if (t->kv->history && tsv_kv_history__log(t, 'b', &k, NULL, 0, NULL, 0, 1, err) != 0)
        return -1;
    int rc = mdb_del(t->txn, t->kv->buckets, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return corrupt(t->kv, err, "a nested bucket has no bucket record");
    if (rc != 0)
        return write_fail(t, err, rc, "delete KV bucket record");
    return 0;
}

int tsv_kv_bucket_delete(tsv_kv_txn *t, uint64_t parent, const void *name, size_t len,
                         tsv_error *err)
{
    if (require_write(t, "bucket_delete", err) != 0 ||
        check_len(name, len, "bucket name", err) != 0)
        return -1;
    decoded d;
    if (lookup_bucket(t, parent, name, len, TSV_ECONFLICT, &d, err) != 0)
        return -1;

    /* From here on a failure leaves a half-deleted subtree: poison. */
    tsv_error why;
    uint8_t kb[EKEY_MAX];
    MDB_val k = entry_key(kb, parent, name, len);
    if (hist(t, 'e', &k, NULL, 0, NULL, 0, 1, err) != 0)
        return -1;
    int rc = mdb_del(t->txn, t->kv->entries, &k, NULL);
    if (rc != 0)
        return write_fail(t, err, rc, "delete KV bucket entry");

    MDB_cursor *mc;
    if ((rc = mdb_cursor_open(t->txn, t->kv->entries, &mc)) != 0)
        return write_fail(t, err, rc, "open KV cursor for delete");
    handle_stack todo = {0};
    int ret = 0;
    if (stack_push(&todo, d.child) != 0)
        ret = tsv_error_set(&why, TSV_EINTERNAL, "out of memory deleting KV bucket");
    while (ret == 0 && todo.n > 0)
        ret = empty_bucket(t, mc, todo.v[--todo.n], &todo, &why);
    mdb_cursor_close(mc);
    free(todo.v);
    return ret == 0 ? 0 : poison(t, &why, err);
}

int tsv_kv_sequence(tsv_kv_txn *t, uint64_t bucket, uint64_t *out, tsv_error *err)
{
    return require_bucket_seq(t, bucket, out, err);
}

int tsv_kv_set_sequence(tsv_kv_txn *t, uint64_t bucket, uint64_t seq, tsv_error *err)
{
    if (require_write(t, "set_sequence", err) != 0)
        return -1;
    uint64_t parent;
    int found = read_bucket_rec(t, bucket, &parent, NULL, err);
    if (found < 0)
        return -1;
    if (!found)
        return tsv_error_set(err, TSV_ENOTFOUND, "KV bucket %llu does not exist",
                             (unsigned long long)bucket);
    return write_bucket_rec(t, bucket, parent, seq, err);
}

int tsv_kv_root_sequence(tsv_kv_txn *t, uint64_t *out, tsv_error *err)
{
    return tsv_kv_sequence(t, TSV_KV_ROOT, out, err);
}

/* ---- values ------------------------------------------------------------------------ */

int tsv_kv_get(tsv_kv_txn *t, uint64_t bucket, const void *key, size_t klen, const uint8_t **val,
               size_t *vlen, tsv_error *err)
{
    if (check_len(key, klen, "key", err) != 0)
        return -1;
    decoded d;
    int found = lookup_entry(t, bucket, key, klen, &d, err);
    if (found < 0)
        return -1;
    if (!found)
        return tsv_error_set(err, TSV_ENOTFOUND, "key \"%s\" not found", show(key, klen).s);
    if (d.is_bucket)
        return tsv_error_set(err, TSV_ENOTFOUND, "key \"%s\" is a bucket, not a value",
                             show(key, klen).s);
    *val = d.val;
    *vlen = d.vlen;
    return 0;
}

int tsv_kv_put(tsv_kv_txn *t, uint64_t bucket, const void *key, size_t klen, const void *val,
               size_t vlen, tsv_error *err)
{
    if (require_write(t, "put", err) != 0 || check_len(key, klen, "key", err) != 0)
        return -1;
    if (vlen > TSV_KV_MAX_VALUE)
        return tsv_error_set(err, TSV_ETOOLARGE, "value of %zu bytes exceeds the %zu-byte limit",
                             vlen, TSV_KV_MAX_VALUE);
    if (vlen > 0 && !val)
        return tsv_error_set(err, TSV_EINVALID, "value is NULL");
    if (bucket == TSV_KV_ROOT)
        return tsv_error_set(err, TSV_EINVALID,
                             "the root bucket holds only buckets (as in bolt), not values");
    if (require_bucket(t, bucket, err) != 0)
        return -1;
    decoded d;
    int found = lookup_entry(t, bucket, key, klen, &d, err);
    if (found < 0)
        return -1;
    if (found && d.is_bucket)
        return tsv_error_set(err, TSV_ECONFLICT, "key \"%s\" is a bucket; not overwriting it",
                             show(key, klen).s);
    uint8_t kb[EKEY_MAX];
    MDB_val k = entry_key(kb, bucket, key, klen);
    /* MDB_RESERVE: LMDB hands out the space, we fill tag + bytes, no copy. */
    MDB_val v = {.mv_size = 1 + vlen, .mv_data = NULL};
    static const uint8_t tag_value = TAG_VALUE;
    if (hist(t, 'e', &k, &tag_value, 1, val, vlen, 0, err) != 0)
        return -1;
    int rc = mdb_put(t->txn, t->kv->entries, &k, &v, MDB_RESERVE);
    if (rc != 0)
        return write_fail(t, err, rc, "write KV value");
    uint8_t *p = v.mv_data;
    p[0] = TAG_VALUE;
    if (vlen > 0)
        memcpy(p + 1, val, vlen);
    return 0;
}

int tsv_kv_del(tsv_kv_txn *t, uint64_t bucket, const void *key, size_t klen, tsv_error *err)
{
    if (require_write(t, "del", err) != 0 || check_len(key, klen, "key", err) != 0 ||
        require_bucket(t, bucket, err) != 0)
        return -1;
    decoded d;
    int found = lookup_entry(t, bucket, key, klen, &d, err);
    if (found <= 0)
        return found; /* absent: nothing to do */
    if (d.is_bucket)
        return tsv_error_set(err, TSV_ECONFLICT, "key \"%s\" is a bucket; use bucket_delete",
                             show(key, klen).s);
    uint8_t kb[EKEY_MAX];
    MDB_val k = entry_key(kb, bucket, key, klen);
    if (hist(t, 'e', &k, NULL, 0, NULL, 0, 1, err) != 0)
        return -1;
    int rc = mdb_del(t->txn, t->kv->entries, &k, NULL);
    if (rc != 0)
        return write_fail(t, err, rc, "delete KV value");
    return 0;
}

/* ---- cursors --------------------------------------------------------------------------- */

int tsv_kv_cursor_open(tsv_kv_txn *t, uint64_t bucket, tsv_kv_cursor **out, tsv_error *err)
{
    *out = NULL;
    if (require_bucket(t, bucket, err) != 0)
        return -1;
    tsv_kv_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory opening KV cursor");
    int rc = mdb_cursor_open(t->txn, t->kv->entries, &c->mc);
    if (rc != 0) {
        free(c);
        return mdb_fail(t->kv, err, rc, "open KV cursor");
    }
    c->txn = t;
    tsv_put_be64(c->prefix, bucket);
    memcpy(c->seek, c->prefix, HANDLE_LEN);
    c->seek_len = HANDLE_LEN;
    c->state = CUR_SEEK;
    c->next = t->cursors;
    if (t->cursors)
        t->cursors->prev = c;
    t->cursors = c;
    *out = c;
    return 0;
}

int tsv_kv_cursor_seek(tsv_kv_cursor *c, const void *key, size_t klen, tsv_error *err)
{
    if (klen > TSV_KV_MAX_KEY)
        return tsv_error_set(err, TSV_EINVALID, "seek key length %zu is out of range (0..%d bytes)",
                             klen, TSV_KV_MAX_KEY);
    if (klen > 0 && !key)
        return tsv_error_set(err, TSV_EINVALID, "seek key is NULL");
    if (klen > 0)
        memcpy(c->seek + HANDLE_LEN, key, klen);
    c->seek_len = HANDLE_LEN + klen;
    c->state = CUR_SEEK;
    return 0;
}

int tsv_kv_cursor_next(tsv_kv_cursor *c, tsv_kv_entry *e, tsv_error *err)
{
    if (!c->txn)
        return tsv_error_set(err, TSV_EINTERNAL, "KV cursor used after its transaction ended");
    if (c->state == CUR_EOF)
        return 0;
    MDB_val k, v;
    int rc;
    if (c->state == CUR_SEEK) {
        k = (MDB_val){.mv_size = c->seek_len, .mv_data = c->seek};
        rc = mdb_cursor_get(c->mc, &k, &v, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(c->mc, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) {
        c->state = CUR_EOF;
        return 0;
    }
    if (rc != 0)
        return mdb_fail(c->txn->kv, err, rc, "advance KV cursor");
    c->state = CUR_ITER;
    /* Past this bucket's prefix: the next bucket's entries begin. The handle
     * prefix never has a zero-length key under it, so k > 8 bytes here. */
    if (k.mv_size <= HANDLE_LEN || memcmp(k.mv_data, c->prefix, HANDLE_LEN) != 0) {
        c->state = CUR_EOF;
        return 0;
    }
    decoded d;
    if (decode_entry(c->txn->kv, &v, &d, err) != 0)
        return -1;
    *e = (tsv_kv_entry){
        .key = (const uint8_t *)k.mv_data + HANDLE_LEN,
        .klen = k.mv_size - HANDLE_LEN,
        .is_bucket = d.is_bucket,
        .val = d.val,
        .vlen = d.vlen,
    };
    if (d.is_bucket) {
        e->val = NULL;
        e->vlen = 0;
        e->child = d.child;
        int found = read_bucket_rec(c->txn, d.child, NULL, &e->sequence, err);
        if (found < 0)
            return -1;
        if (!found)
            return corrupt(c->txn->kv, err, "a nested bucket has no bucket record");
    }
    return 1;
}

int tsv_kv_walk(tsv_kv_txn *txn, uint64_t bucket, const void *prefix, size_t plen,
                tsv_kv_visit_fn fn, void *ctx, tsv_error *err)
{
    tsv_kv_cursor *c;
    if (tsv_kv_cursor_open(txn, bucket, &c, err) != 0)
        return -1;
    int rc = plen > 0 ? tsv_kv_cursor_seek(c, prefix, plen, err) : 0;
    while (rc == 0) {
        tsv_kv_entry e;
        int r = tsv_kv_cursor_next(c, &e, err);
        if (r <= 0) {
            rc = r;
            break;
        }
        if (plen > 0 && (e.klen < plen || memcmp(e.key, prefix, plen) != 0))
            break;
        r = fn(ctx, &e, err);
        if (r != 0)
            rc = r < 0 ? -1 : 1;
    }
    tsv_kv_cursor_close(c);
    return rc;
}

void tsv_kv_cursor_close(tsv_kv_cursor *c)
{
    if (!c)
        return;
    if (c->txn) {
        if (c->prev)
            c->prev->next = c->next;
        else
            c->txn->cursors = c->next;
        if (c->next)
            c->next->prev = c->prev;
        mdb_cursor_close(c->mc);
    }
    free(c);
}

/* ---- whole-store operations ---------------------------------------------------------- */

int tsv_kv_copy_compact(tsv_kv *kv, const char *dstdir, tsv_error *err)
{
    if (tsv_mkdir_p(dstdir, err) != 0)
        return -1;
    char path[PATH_MAX];
    if (tsv_path_join(path, sizeof path, err, "%s/data.mdb", dstdir) != 0)
        return -1;
    /* Our own fd (0600, O_EXCL) instead of mdb_env_copy2: KV data includes
     * tokens, and an existing copy must never be overwritten. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create KV copy %s", path);
    int rc = mdb_env_copyfd2(kv->env, fd, MDB_CP_COMPACT);
    if (rc != 0) {
        mdb_fail(kv, err, rc, "copy KV store to %s", path);
        goto fail;
    }
    if (tsv_fsync_fd(fd, path, err) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "close %s", path);
        goto fail;
    }
    fd = -1;
    if (tsv_fsync_dir(dstdir, err) != 0)
        goto fail;
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    if (unlink(path) != 0 && errno != ENOENT)
        TSV_WARN("msg=\"could not remove partial KV copy\" path=%s errno=%d", path, errno);
    return -1;
}

uint64_t tsv_kv_last_txn(tsv_kv *kv)
{
    MDB_envinfo info;
    if (mdb_env_info(kv->env, &info) != 0)
        return 0;
    return (uint64_t)info.me_last_txnid;
}

int tsv_kv_stat(tsv_kv *kv, uint64_t *entries, uint64_t *buckets, tsv_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return mdb_fail(kv, err, rc, "begin KV stat transaction");
    MDB_stat es, bs;
    if ((rc = mdb_stat(txn, kv->entries, &es)) != 0 ||
        (rc = mdb_stat(txn, kv->buckets, &bs)) != 0) {
        mdb_txn_abort(txn);
        return mdb_fail(kv, err, rc, "stat KV databases");
    }
    mdb_txn_abort(txn);
    if (bs.ms_entries < 1)
        return corrupt(kv, err, "the root bucket record is missing");
    if (entries)
        *entries = es.ms_entries;
    if (buckets)
        *buckets = bs.ms_entries - 1; /* the root is not counted */
    return 0;
}

/* ---- internal hooks for kv_bolt_source.c -------------------------------------------- */

void tsv_kv_source_mark_failed(tsv_kv_txn *t, const tsv_error *e)
{
    t->source_failed = 1;
    t->source_err = *e;
}

int tsv_kv_source_check(tsv_kv_txn *t, tsv_error *err)
{
    if (!t->source_failed)
        return 0;
    if (err)
        *err = t->source_err;
    return -1;
}

/* ---- auxiliary databases ------------------------------------------------------ */

static int aux_check(tsv_kv_txn *txn, tsv_kv_aux which, size_t klen, int write, tsv_error *err)
{
    if ((int)which < 0 || which >= TSV_KV_AUX_COUNT)
        return tsv_error_set(err, TSV_EINTERNAL, "unknown auxiliary KV database %d", (int)which);
    if (klen == 0 || klen > 511)
        return tsv_error_set(err, TSV_EINVALID, "auxiliary KV key must be 1..511 bytes");
    if (write && !txn->write)
        return tsv_error_set(err, TSV_EINTERNAL, "write in a read-only KV transaction");
    if (write && txn->poisoned)
        return tsv_error_set(err, txn->poison_err.code, "%s", txn->poison_err.message);
    return 0;
}

int tsv_kv_aux_get(tsv_kv_txn *txn, tsv_kv_aux which, const void *key, size_t klen,
                   const uint8_t **val, size_t *vlen, tsv_error *err)
{
    if (aux_check(txn, which, klen, 0, err) != 0)
        return -1;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
    int rc = mdb_get(txn->txn, txn->kv->aux[which], &k, &v);
    if (rc == MDB_NOTFOUND)
        return tsv_error_set(err, TSV_ENOTFOUND, "not found");
    if (rc != 0)
        return mdb_fail(txn->kv, err, rc, "read %s record", aux_names[which]);
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

int tsv_kv_aux_put(tsv_kv_txn *txn, tsv_kv_aux which, const void *key, size_t klen, const void *val,
                   size_t vlen, tsv_error *err)
{
    if (aux_check(txn, which, klen, 1, err) != 0)
        return -1;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    if (which == TSV_KV_AUX_JOBS && txn->kv->changelog &&
        tsv_changelog_append(txn->txn, txn->kv->aux[TSV_KV_AUX_CHANGES], 'j', &k, &v, err) != 0) {
        txn->poisoned = 1;
        if (err)
            txn->poison_err = *err;
        return -1;
    }
    int rc = mdb_put(txn->txn, txn->kv->aux[which], &k, &v, 0);
    if (rc != 0) {
        mdb_fail(txn->kv, err, rc, "write %s record", aux_names[which]);
        txn->poisoned = 1;
        if (err)
            txn->poison_err = *err;
        return -1;
    }
    return 0;
}

int tsv_kv_aux_del(tsv_kv_txn *txn, tsv_kv_aux which, const void *key, size_t klen, tsv_error *err)
{
    if (aux_check(txn, which, klen, 1, err) != 0)
        return -1;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, old;
    if (which == TSV_KV_AUX_JOBS && txn->kv->changelog &&
        mdb_get(txn->txn, txn->kv->aux[which], &k, &old) == 0 &&
        tsv_changelog_append(txn->txn, txn->kv->aux[TSV_KV_AUX_CHANGES], 'j', &k, NULL, err) != 0) {
        txn->poisoned = 1;
        if (err)
            txn->poison_err = *err;
        return -1;
    }
    int rc = mdb_del(txn->txn, txn->kv->aux[which], &k, NULL);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0) {
        mdb_fail(txn->kv, err, rc, "delete %s record", aux_names[which]);
        txn->poisoned = 1;
        if (err)
            txn->poison_err = *err;
        return -1;
    }
    return 0;
}

int tsv_kv_aux_each(tsv_kv_txn *txn, tsv_kv_aux which, tsv_kv_aux_fn fn, void *ctx, tsv_error *err)
{
    if (aux_check(txn, which, 1, 0, err) != 0)
        return -1;
    MDB_cursor *mc;
    int rc = mdb_cursor_open(txn->txn, txn->kv->aux[which], &mc);
    if (rc != 0)
        return mdb_fail(txn->kv, err, rc, "open %s cursor", aux_names[which]);
    MDB_val k, v;
    int ret = 0;
    for (rc = mdb_cursor_get(mc, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT)) {
        if (fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size, err) != 0) {
            ret = -1;
            break;
        }
    }
    if (ret == 0 && rc != MDB_NOTFOUND)
        ret = mdb_fail(txn->kv, err, rc, "walk %s records", aux_names[which]);
    mdb_cursor_close(mc);
    return ret;
}

typedef struct aux_carry_ctx {
    tsv_kv_txn *dst;
    tsv_kv_aux which;
} aux_carry_ctx;

static int aux_carry_one(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                         size_t vlen, tsv_error *err)
{
    aux_carry_ctx *c = ctx;
    return tsv_kv_aux_put(c->dst, c->which, key, klen, val, vlen, err);
}

int tsv_kv_aux_carry(tsv_kv *from, tsv_kv *to, tsv_kv_aux which, tsv_kv_txn_fn before_commit,
                     void *ctx, tsv_error *err)
{
    tsv_kv_txn *src, *dst;
    if (tsv_kv_begin(from, 0, &src, err) != 0)
        return -1;
    if (tsv_kv_begin(to, 1, &dst, err) != 0) {
        tsv_kv_abort(src);
        return -1;
    }
    aux_carry_ctx cc = {dst, which};
    int rc = tsv_kv_aux_each(src, which, aux_carry_one, &cc, err);
    tsv_kv_abort(src);
    if (rc == 0 && before_commit)
        rc = before_commit(ctx, dst, err);
    if (rc == 0)
        return tsv_kv_commit(dst, err);
    tsv_kv_abort(dst);
    return -1;
}

/* ---- internal hooks for kv_history.c -------------------------------------------- */

void tsv_kv_set_history(tsv_kv *kv, int on) { kv->history = on ? 1 : 0; }
void tsv_kv_set_changelog(tsv_kv *kv, int on) { kv->changelog = on ? 1 : 0; }

int tsv_kv_changes_last(tsv_kv_txn *txn, uint64_t *seq, tsv_error *err)
{
    return tsv_changelog_last(txn->txn, txn->kv->aux[TSV_KV_AUX_CHANGES], seq, err);
}

int tsv_kv_changes_foreach(tsv_kv_txn *txn, uint64_t after, uint64_t upto,
                           int (*fn)(void *ctx, const struct tsv_changelog_rec *r, tsv_error *err),
                           void *ctx, tsv_error *err)
{
    return tsv_changelog_foreach(txn->txn, txn->kv->aux[TSV_KV_AUX_CHANGES], after, upto, fn, ctx,
                                 err);
}

int tsv_kv_changes_trim(tsv_kv_txn *txn, uint64_t before, tsv_error *err)
{
    if (!txn->write)
        return tsv_error_set(err, TSV_EINTERNAL, "write in a read-only KV transaction");
    return tsv_changelog_trim(txn->txn, txn->kv->aux[TSV_KV_AUX_CHANGES], before, NULL, err);
}

int tsv_kv_change_apply(tsv_kv_txn *txn, const struct tsv_changelog_rec *r, tsv_error *err)
{
    if (r->tag != 'j' || r->klen == 0 || r->klen > 511)
        return tsv_error_set(err, TSV_EINVALID, "job record change malformed");
    if (!txn->write)
        return tsv_error_set(err, TSV_EINTERNAL, "write in a read-only KV transaction");
    return tsv_changelog_apply(txn->txn, txn->kv->aux[TSV_KV_AUX_JOBS], r, err);
}
int tsv_kv_history_enabled(const tsv_kv *kv) { return kv->history; }
MDB_txn *tsv_kv__mdb_txn(tsv_kv_txn *t) { return t->txn; }
tsv_kv *tsv_kv__env(tsv_kv_txn *t) { return t->kv; }
int tsv_kv__write(const tsv_kv_txn *t) { return t->write && !t->poisoned; }
tsv_kv_hist_state *tsv_kv__hist(tsv_kv_txn *t) { return &t->hist; }
int tsv_kv__dbi(tsv_kv *kv, char which, MDB_dbi *out)
{
    switch (which) {
    case 'e':
        *out = kv->entries;
        return 0;
    case 'b':
        *out = kv->buckets;
        return 0;
    case 'i':
        *out = kv->info;
        return 0;
    case 'h':
        *out = kv->aux[TSV_KV_AUX_HISTORY];
        return 0;
    case 'j':
        *out = kv->aux[TSV_KV_AUX_JOBS];
        return 0;
    case 'c':
        *out = kv->aux[TSV_KV_AUX_CHANGES];
        return 0;
    default:
        return -1;
    }
}
int tsv_kv__fail(tsv_kv_txn *t, int rc, const char *what, tsv_error *err)
{
    return mdb_fail(t->kv, err, rc, "%s", what);
}
