/* lmdb_changelog: see lmdb_changelog.h. */
#include "lmdb_changelog.h"

#include <stdlib.h>
#include <string.h>

#include "be_bytes.h"

#define HDR 4 /* tag, deleted, key length */

static int fail(tsv_error *err, int rc, const char *what)
{
    return tsv_error_set(err, rc == MDB_MAP_FULL ? TSV_ENOSPACE : TSV_EINTERNAL,
                         "change log: %s: %s", what, mdb_strerror(rc));
}

int tsv_changelog_last(MDB_txn *txn, MDB_dbi log, uint64_t *seq, tsv_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, log, &c);
    if (rc != 0)
        return fail(err, rc, "cursor");
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    mdb_cursor_close(c);
    *seq = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return fail(err, rc, "read the last record");
    if (k.mv_size == 8)
        *seq = tsv_get_be64(k.mv_data);
    return 0;
}

int tsv_changelog_append(MDB_txn *txn, MDB_dbi log, uint8_t tag, const MDB_val *key,
                         const MDB_val *val, tsv_error *err)
{
    if (key->mv_size > 0xffff || (val && val->mv_size > 0xffffffffu))
        return tsv_error_set(err, TSV_EINVALID, "change log: record too large");
    uint64_t seq;
    if (tsv_changelog_last(txn, log, &seq, err) != 0)
        return -1;
    size_t vlen = val ? val->mv_size : 0;
    uint8_t kb[8];
    tsv_put_be64(kb, seq + 1);
    MDB_val k = {8, kb}, v = {HDR + key->mv_size + 4 + vlen, NULL};
    int rc = mdb_put(txn, log, &k, &v, MDB_RESERVE | MDB_APPEND);
    if (rc != 0)
        return fail(err, rc, "append");
    uint8_t *p = v.mv_data;
    p[0] = tag;
    p[1] = val ? 0 : 1;
    p[2] = (uint8_t)(key->mv_size >> 8);
    p[3] = (uint8_t)key->mv_size;
    memcpy(p + HDR, key->mv_data, key->mv_size);
    p += HDR + key->mv_size;
    p[0] = (uint8_t)(vlen >> 24);
    p[1] = (uint8_t)(vlen >> 16);
    p[2] = (uint8_t)(vlen >> 8);
    p[3] = (uint8_t)vlen;
    if (vlen)
        memcpy(p + 4, val->mv_data, vlen);
    return 0;
}

int tsv_changelog_parse(const uint8_t *p, size_t len, tsv_changelog_rec *r)
{
    if (len < HDR + 4 || p[1] > 1)
        return -1;
    r->tag = p[0];
    r->deleted = p[1];
    r->klen = (size_t)p[2] << 8 | p[3];
    if (r->klen == 0 || len < HDR + r->klen + 4)
        return -1;
    r->key = p + HDR;
    const uint8_t *q = p + HDR + r->klen;
    r->vlen = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
    if (len != HDR + r->klen + 4 + r->vlen || (r->deleted && r->vlen))
        return -1;
    r->val = q + 4;
    return 0;
}

int tsv_changelog_foreach(MDB_txn *txn, MDB_dbi log, uint64_t after, uint64_t upto,
                          tsv_changelog_fn fn, void *ctx, tsv_error *err)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, log, &c);
    if (rc != 0)
        return fail(err, rc, "cursor");
    uint8_t kb[8];
    tsv_put_be64(kb, after + 1);
    MDB_val k = {8, kb}, v;
    int out = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8)
            continue;
        tsv_changelog_rec r;
        r.seq = tsv_get_be64(k.mv_data);
        if (r.seq > upto)
            break;
        if (tsv_changelog_parse(v.mv_data, v.mv_size, &r) != 0) {
            out = tsv_error_set(err, TSV_EINTERNAL, "change log: record %llu is malformed",
                                (unsigned long long)r.seq);
            break;
        }
        r.seq = tsv_get_be64(k.mv_data);
        if ((out = fn(ctx, &r, err)) != 0)
            break;
    }
    mdb_cursor_close(c);
    if (out == 0 && rc != 0 && rc != MDB_NOTFOUND)
        return fail(err, rc, "read");
    return out;
}

int tsv_changelog_trim(MDB_txn *txn, MDB_dbi log, uint64_t before, uint64_t *deleted,
                       tsv_error *err)
{
    uint64_t last, n = 0;
    if (tsv_changelog_last(txn, log, &last, err) != 0)
        return -1;
    if (before > last)
        before = last;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, log, &c);
    if (rc != 0)
        return fail(err, rc, "cursor");
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size == 8 && tsv_get_be64(k.mv_data) >= before)
            break;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
        n++;
    }
    mdb_cursor_close(c);
    if (deleted)
        *deleted = n;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : fail(err, rc, "trim");
}

int tsv_changelog_apply(MDB_txn *txn, MDB_dbi db, const tsv_changelog_rec *r, tsv_error *err)
{
    MDB_val k = {r->klen, (void *)r->key};
    int rc;
    if (r->deleted) {
        rc = mdb_del(txn, db, &k, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    } else {
        MDB_val v = {r->vlen, (void *)r->val};
        rc = mdb_put(txn, db, &k, &v, 0);
    }
    return rc == 0 ? 0 : fail(err, rc, "apply");
}
