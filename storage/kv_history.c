/* kv_history: the change log of the bolt tree (format and rules: kv_history.h). */
#include "kv_history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array_grow.h"
#include "be_bytes.h"
#include "kv_internal.h"
#include "tsv_log.h"

#define HKEY_LEN 12
#define BATCH_BYTES ((size_t)1 << 20)

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The key of the next record of t: the transaction's time (assigned at its
 * first record: after the last logged one) and its sequence number. */
static int next_key(tsv_kv_txn *t, uint8_t key[HKEY_LEN], int64_t *ts_out, tsv_error *err)
{
    tsv_kv_hist_state *h = tsv_kv__hist(t);
    if (h->ts == 0) {
        uint8_t lk[HKEY_LEN];
        int found = 0;
        if (tsv_kv_history_last_key(t, lk, &found, err) != 0)
            return -1;
        int64_t last = found ? (int64_t)tsv_get_be64(lk) : 0;
        int64_t now = wall_ns();
        h->ts = now > last ? now : last + 1;
        h->seq = 0;
    }
    tsv_put_be64(key, (uint64_t)h->ts);
    tsv_put_be32(key + 8, h->seq++);
    if (ts_out)
        *ts_out = h->ts;
    return 0;
}

static int put_record(tsv_kv_txn *t, const uint8_t key[HKEY_LEN], const uint8_t *val, size_t len,
                      tsv_error *err)
{
    MDB_dbi dbi;
    tsv_kv__dbi(tsv_kv__env(t), 'h', &dbi);
    MDB_val k = {.mv_size = HKEY_LEN, .mv_data = (void *)key};
    MDB_val v = {.mv_size = len, .mv_data = (void *)val};
    int rc = mdb_put(tsv_kv__mdb_txn(t), dbi, &k, &v, MDB_NOOVERWRITE);
    if (rc != 0)
        return tsv_kv__fail(t, rc, "write KV history record", err);
    return 0;
}

int tsv_kv_history__log(tsv_kv_txn *t, char db, const MDB_val *key, const void *a1, size_t l1,
                        const void *a2, size_t l2, int del, tsv_error *err)
{
    MDB_dbi dbi;
    if (tsv_kv__dbi(tsv_kv__env(t), db, &dbi) != 0 || key->mv_size > 0xffff)
        return tsv_error_set(err, TSV_EINTERNAL, "KV history: bad record");
    MDB_val bv;
    int rc = mdb_get(tsv_kv__mdb_txn(t), dbi, (MDB_val *)key, &bv);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return tsv_kv__fail(t, rc, "read KV record for the history", err);
    int has_before = rc == 0;
    size_t blen = has_before ? bv.mv_size : 0, alen = del ? 0 : l1 + l2;
    if (!has_before && del)
        return 0; /* nothing changes */
    size_t len = 1 + 1 + 2 + key->mv_size + 1 + 4 + blen + 1 + 4 + alen;
    /* A copy, not MDB_RESERVE: the before image points into LMDB's pages,
     * which the put into another database may move. Bounded by the change. */
    uint8_t *rec = malloc(len);
    if (!rec)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory logging a KV change");
    uint8_t *p = rec;
    *p++ = TSV_KVH_CHANGE;
    *p++ = (uint8_t)db;
    *p++ = (uint8_t)(key->mv_size >> 8);
    *p++ = (uint8_t)key->mv_size;
    memcpy(p, key->mv_data, key->mv_size);
    p += key->mv_size;
    *p++ = (uint8_t)has_before;
    tsv_put_be32(p, (uint32_t)blen);
    p += 4;
    if (blen)
        memcpy(p, bv.mv_data, blen);
    p += blen;
    *p++ = (uint8_t)!del;
    tsv_put_be32(p, (uint32_t)alen);
    p += 4;
    if (l1 && !del)
        memcpy(p, a1, l1);
    if (l2 && !del)
        memcpy(p + l1, a2, l2);
    uint8_t k[HKEY_LEN];
    int ret = next_key(t, k, NULL, err);
    if (ret == 0)
        ret = put_record(t, k, rec, len, err);
    free(rec);
    return ret;
}

int tsv_kv_history_mark_txn(tsv_kv_txn *t, char kind, const char *note, int64_t *ts_ns,
                            tsv_error *err)
{
    if (!tsv_kv__write(t))
        return tsv_error_set(err, TSV_EINTERNAL, "KV history mark needs a write transaction");
    size_t n = note ? strlen(note) : 0;
    uint8_t *rec = malloc(1 + n);
    if (!rec)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    rec[0] = (uint8_t)kind;
    if (n)
        memcpy(rec + 1, note, n);
    uint8_t k[HKEY_LEN];
    int rc = next_key(t, k, ts_ns, err);
    if (rc == 0)
        rc = put_record(t, k, rec, 1 + n, err);
    free(rec);
    return rc;
}

int tsv_kv_history_mark(tsv_kv *kv, char kind, const char *note, int64_t *ts_ns, tsv_error *err)
{
    tsv_kv_txn *t;
    if (tsv_kv_begin(kv, 1, &t, err) != 0)
        return -1;
    if (tsv_kv_history_mark_txn(t, kind, note, ts_ns, err) != 0) {
        tsv_kv_abort(t);
        return -1;
    }
    return tsv_kv_commit(t, err);
}

static int is_empty_fn(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                       tsv_error *err)
{
    (void)key, (void)klen, (void)val, (void)vlen, (void)err;
    *(int *)ctx = 0;
    return -1; /* stop at the first record */
}

int tsv_kv_history_start(tsv_kv *kv, tsv_error *err)
{
    tsv_kv_set_history(kv, 1);
    tsv_kv_txn *t;
    if (tsv_kv_begin(kv, 1, &t, err) != 0)
        return -1;
    int empty = 1;
    tsv_error e;
    int rc = tsv_kv_aux_each(t, TSV_KV_AUX_HISTORY, is_empty_fn, &empty, &e);
    if (rc != 0 && empty) {
        if (err)
            *err = e;
        tsv_kv_abort(t);
        return -1;
    }
    if (!empty) {
        tsv_kv_abort(t);
        return 0;
    }
    if (tsv_kv_history_mark_txn(t, TSV_KVH_BEGIN, "history started", NULL, err) != 0) {
        tsv_kv_abort(t);
        return -1;
    }
    return tsv_kv_commit(t, err);
}

/* A cursor on the history database of t's environment; an LMDB code. */
static int history_cursor(tsv_kv_txn *t, MDB_cursor **mc)
{
    MDB_dbi dbi;
    tsv_kv__dbi(tsv_kv__env(t), 'h', &dbi);
    return mdb_cursor_open(tsv_kv__mdb_txn(t), dbi, mc);
}

int tsv_kv_history_info_get(tsv_kv *kv, tsv_kv_history_info *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    tsv_kv_txn *t;
    if (tsv_kv_begin(kv, 0, &t, err) != 0)
        return -1;
    MDB_cursor *mc;
    int rc = history_cursor(t, &mc);
    if (rc != 0) {
        tsv_kv__fail(t, rc, "open KV history cursor", err);
        tsv_kv_abort(t);
        return -1;
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(mc, &k, &v, MDB_LAST); rc == 0;
         rc = mdb_cursor_get(mc, &k, &v, MDB_PREV)) {
        if (k.mv_size != HKEY_LEN || v.mv_size < 1)
            continue;
        int64_t ts = (int64_t)tsv_get_be64(k.mv_data);
        char kind = (char)((const uint8_t *)v.mv_data)[0];
        if (!out->last_ns)
            out->last_ns = ts;
        if ((kind == TSV_KVH_RESTORE_KV || kind == TSV_KVH_RESTORE_SQL) && !out->barrier_ns) {
            out->barrier_ns = ts;
            out->barrier_kind = kind;
        }
        if (!out->barrier_ns) {
            out->records++;
            out->bytes += v.mv_size + HKEY_LEN;
        }
        if (kind == TSV_KVH_BEGIN) {
            out->begin_ns = ts;
            break;
        }
    }
    mdb_cursor_close(mc);
    tsv_kv_abort(t);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return tsv_error_set(err, TSV_EINTERNAL, "read KV history: %s", mdb_strerror(rc));
    return 0;
}

/* One change record, parsed (pointers into a batch buffer). */
typedef struct change {
    char db;
    const uint8_t *key;
    size_t klen;
    int has_before;
    const uint8_t *before;
    size_t blen;
} change;

static int parse_change(const uint8_t *p, size_t len, change *c)
{
    if (len < 1 + 1 + 2 || p[0] != TSV_KVH_CHANGE)
        return -1;
    c->db = (char)p[1];
    c->klen = (size_t)p[2] << 8 | p[3];
    size_t off = 4;
    if (len < off + c->klen + 5)
        return -1;
    c->key = p + off;
    off += c->klen;
    c->has_before = p[off++];
    c->blen = tsv_get_be32(p + off);
    off += 4;
    if (len < off + c->blen + 5)
        return -1;
    c->before = p + off;
    return 0;
}

/* Puts one logged image of key k back in place: its value when present,
 * no record at all when not (a missing record is fine). what names the
 * step in the error. */
static int set_image(tsv_kv_txn *t, MDB_dbi dbi, MDB_val *k, int present, const uint8_t *val,
                     size_t len, const char *what, tsv_error *err)
{
    int rc;
    if (present) {
        MDB_val v = {.mv_size = len, .mv_data = (void *)val};
        rc = mdb_put(tsv_kv__mdb_txn(t), dbi, k, &v, 0);
    } else {
        rc = mdb_del(tsv_kv__mdb_txn(t), dbi, k, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc != 0)
        return tsv_kv__fail(t, rc, what, err);
    return 0;
}

/* Undoes one logged change in t (and logs the undo when history is on). */
static int undo_one(tsv_kv_txn *t, const change *c, tsv_error *err)
{
    MDB_dbi dbi;
    if ((c->db != 'e' && c->db != 'b' && c->db != 'i') ||
        tsv_kv__dbi(tsv_kv__env(t), c->db, &dbi) != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "KV history record names an unknown database");
    MDB_val k = {.mv_size = c->klen, .mv_data = (void *)c->key};
    if (tsv_kv_history_enabled(tsv_kv__env(t)) &&
        tsv_kv_history__log(t, c->db, &k, c->before, c->blen, NULL, 0, !c->has_before, err) != 0)
        return -1;
    return set_image(t, dbi, &k, c->has_before, c->before, c->blen, "undo a KV change", err);
}

typedef struct batch {
    uint8_t *buf;
    size_t len, cap;
    size_t *offs; /* record i: offs[2i] = offset, offs[2i+1] = length */
    size_t n, ncap;
} batch;

static int batch_add(batch *b, const void *p, size_t len)
{
    if (tsv_array_grow(&b->buf, &b->cap, b->len + len, 1, NULL) != 0)
        return -1;
    if (b->n == b->ncap) {
        size_t cap = b->ncap ? b->ncap * 2 : 256;
        size_t *no = realloc(b->offs, cap * 2 * sizeof *no);
        if (!no)
            return -1;
        b->offs = no;
        b->ncap = cap;
    }
    memcpy(b->buf + b->len, p, len);
    b->offs[2 * b->n] = b->len;
    b->offs[2 * b->n + 1] = len;
    b->len += len;
    b->n++;
    return 0;
}

int tsv_kv_history_rewind(tsv_kv *kv, int64_t target_ns, uint64_t *undone, tsv_error *err)
{
    if (undone)
        *undone = 0;
    tsv_kv_history_info info;
    if (tsv_kv_history_info_get(kv, &info, err) != 0)
        return -1;
    if (!info.begin_ns || target_ns < info.begin_ns)
        return tsv_error_set(err, TSV_EINVALID,
                             "the KV change log does not reach back to the target time");
    if (info.barrier_ns && target_ns < info.barrier_ns)
        return tsv_error_set(err, TSV_EINVALID,
                             "a %s replaced the KV after the target time; the change log cannot "
                             "cross it",
                             info.barrier_kind == TSV_KVH_RESTORE_KV ? "restore/kv"
                                                                     : "restore/sql");
    /* Undo from the last record present now, downwards; the undo records
     * this appends lie above `upper` and are never read back. */
    uint8_t upper[HKEY_LEN];
    int have_upper = 0, done = 0;
    batch b = {0};
    int ret = 0;
    while (!done && ret == 0) {
        tsv_kv_txn *t;
        if (tsv_kv_begin(kv, 1, &t, err) != 0) {
            ret = -1;
            break;
        }
        MDB_cursor *mc;
        int rc = history_cursor(t, &mc);
        MDB_val k, v;
        if (rc == 0) {
            if (!have_upper) {
                rc = mdb_cursor_get(mc, &k, &v, MDB_LAST);
            } else {
                k = (MDB_val){.mv_size = HKEY_LEN, .mv_data = upper};
                rc = mdb_cursor_get(mc, &k, &v, MDB_SET_RANGE);
                if (rc == 0)
                    rc = mdb_cursor_get(mc, &k, &v, MDB_PREV);
                else if (rc == MDB_NOTFOUND)
                    rc = mdb_cursor_get(mc, &k, &v, MDB_LAST);
            }
        }
        b.len = b.n = 0;
        while (rc == 0) {
            if (k.mv_size != HKEY_LEN) {
                rc = MDB_CORRUPTED;
                break;
            }
            int64_t ts = (int64_t)tsv_get_be64(k.mv_data);
            memcpy(upper, k.mv_data, HKEY_LEN);
            have_upper = 1;
            if (ts <= target_ns) {
                done = 1;
                break;
            }
            const uint8_t *p = v.mv_data;
            if (v.mv_size >= 1 && p[0] == TSV_KVH_CHANGE && batch_add(&b, p, v.mv_size) != 0) {
                rc = ENOMEM;
                break;
            }
            if (b.len >= BATCH_BYTES)
                break;
            rc = mdb_cursor_get(mc, &k, &v, MDB_PREV);
        }
        if (rc == MDB_NOTFOUND)
            done = 1, rc = 0;
        if (mc)
            mdb_cursor_close(mc);
        if (rc != 0) {
            ret = rc == ENOMEM ? tsv_error_set(err, TSV_EINTERNAL, "out of memory")
                               : tsv_kv__fail(t, rc, "read KV history", err);
            tsv_kv_abort(t);
            break;
        }
        for (size_t i = 0; i < b.n && ret == 0; i++) {
            change c;
            if (parse_change(b.buf + b.offs[2 * i], b.offs[2 * i + 1], &c) != 0)
                ret = tsv_error_set(err, TSV_EINTERNAL, "damaged KV history record");
            else
                ret = undo_one(t, &c, err);
        }
        if (ret == 0)
            ret = tsv_kv_commit(t, err);
        else
            tsv_kv_abort(t);
        if (ret == 0 && undone)
            *undone += b.n;
    }
    free(b.buf);
    free(b.offs);
    return ret;
}

typedef struct mark_ctx {
    char kind;
    const char *note;
} mark_ctx;

static int mark_carried(void *ctx, tsv_kv_txn *dst, tsv_error *err)
{
    mark_ctx *m = ctx;
    return m->kind ? tsv_kv_history_mark_txn(dst, m->kind, m->note, NULL, err) : 0;
}

int tsv_kv_history_carry(tsv_kv *from, tsv_kv *to, char kind, const char *note, tsv_error *err)
{
    mark_ctx m = {kind, note};
    return tsv_kv_aux_carry(from, to, TSV_KV_AUX_HISTORY, mark_carried, &m, err);
}

/* ---- the S3 tier's log (storage/tier_log.c) ------------------------------ */

int tsv_kv_history_last_key(tsv_kv_txn *t, uint8_t key[TSV_KVH_KEY_LEN], int *found, tsv_error *err)
{
    MDB_cursor *mc;
    int rc = history_cursor(t, &mc);
    if (rc != 0)
        return tsv_kv__fail(t, rc, "open KV history cursor", err);
    MDB_val k, v;
    rc = mdb_cursor_get(mc, &k, &v, MDB_LAST);
    *found = rc == 0 && k.mv_size == HKEY_LEN;
    if (*found)
        memcpy(key, k.mv_data, HKEY_LEN);
    mdb_cursor_close(mc);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return tsv_kv__fail(t, rc, "read KV history", err);
    return 0;
}

int tsv_kv_history_foreach_after(tsv_kv_txn *t, const uint8_t *after, tsv_kv_history_fn fn,
                                 void *ctx, tsv_error *err)
{
    MDB_cursor *mc;
    int rc = history_cursor(t, &mc);
    if (rc != 0)
        return tsv_kv__fail(t, rc, "open KV history cursor", err);
    MDB_val k = {.mv_size = HKEY_LEN, .mv_data = (void *)after}, v;
    rc = mdb_cursor_get(mc, &k, &v, after ? MDB_SET_RANGE : MDB_FIRST);
    if (rc == 0 && after && k.mv_size == HKEY_LEN && memcmp(k.mv_data, after, HKEY_LEN) == 0)
        rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT);
    int out = 0;
    for (; rc == 0; rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT)) {
        if (k.mv_size != HKEY_LEN)
            continue;
        if ((out = fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size, err)) != 0)
            break;
    }
    mdb_cursor_close(mc);
    if (out == 0 && rc != 0 && rc != MDB_NOTFOUND)
        return tsv_kv__fail(t, rc, "read KV history", err);
    return out;
}

/* The after image of a change record: what the change wrote. */
static int parse_after(const uint8_t *p, size_t len, change *c, int *has_after,
                       const uint8_t **after, size_t *alen)
{
    if (parse_change(p, len, c) != 0)
        return -1;
    size_t off = (size_t)(c->before - p) + c->blen;
    if (len < off + 5)
        return -1;
    *has_after = p[off] != 0;
    *alen = tsv_get_be32(p + off + 1);
    if (len != off + 5 + *alen || (!*has_after && *alen))
        return -1;
    *after = p + off + 5;
    return 0;
}

int tsv_kv_history_replay(tsv_kv_txn *t, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen, tsv_error *err)
{
    if (klen != HKEY_LEN || vlen < 1)
        return tsv_error_set(err, TSV_EINVALID, "KV history record malformed");
    if (val[0] == TSV_KVH_CHANGE) {
        change c;
        int has_after;
        const uint8_t *after;
        size_t alen;
        MDB_dbi dbi;
        if (parse_after(val, vlen, &c, &has_after, &after, &alen) != 0 ||
            (c.db != 'e' && c.db != 'b' && c.db != 'i') ||
            tsv_kv__dbi(tsv_kv__env(t), c.db, &dbi) != 0)
            return tsv_error_set(err, TSV_EINVALID, "KV history change record malformed");
        MDB_val k = {.mv_size = c.klen, .mv_data = (void *)c.key};
        if (set_image(t, dbi, &k, has_after, after, alen, "replay a KV change", err) != 0)
            return -1;
    } else if (val[0] != TSV_KVH_BEGIN && val[0] != TSV_KVH_RESTORE_KV &&
               val[0] != TSV_KVH_RESTORE_SQL && val[0] != TSV_KVH_PITR) {
        return tsv_error_set(err, TSV_EINVALID, "KV history record of unknown kind");
    }
    return put_record(t, key, val, vlen, err);
}
