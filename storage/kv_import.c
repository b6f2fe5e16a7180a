/* kv_import: bbolt file -> KV environment (batched), and KV -> bbolt stream. */
#include "kv_import.h"

#include <string.h>

#define MAX_DEPTH 64
/* Per-record overhead counted towards a batch (LMDB node header, our
 * 8-byte bucket prefix and tag), so batches of tiny records stay bounded. */
#define RECORD_OVERHEAD 32

typedef struct import_ctx {
    tsv_kv *kv;
    tsv_kv_txn *txn;
    uint64_t stack[MAX_DEPTH + 1];
    int depth;
    size_t pending; /* bytes written by the open transaction */
    size_t batch;
} import_ctx;

/* ---- pass 1: what the KV cannot hold, before anything is written --------- */

static int check_key(size_t len, const char *what, tsv_error *err)
{
    if (len > TSV_KV_MAX_KEY)
        return tsv_error_set(err, TSV_EINVALID,
                             "bolt file has a %s of %zu bytes; the KV holds at most %d-byte keys",
                             what, len, TSV_KV_MAX_KEY);
    return 0;
}

static int check_bucket_begin(void *vctx, const uint8_t *name, size_t len, uint64_t sequence,
                              tsv_error *err)
{
    int *depth = vctx;
    if (*depth >= MAX_DEPTH)
        return tsv_error_set(err, TSV_EINVALID, "bolt file nests buckets deeper than %d",
                             MAX_DEPTH);
    (*depth)++;
    return check_key(len, "bucket name", err);
}

static int check_bucket_end(void *vctx, tsv_error *err)
{
    int *depth = vctx;
    (*depth)--;
    return 0;
}

static int check_value(void *vctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                       tsv_error *err)
{
    int *depth = vctx;
    if (*depth == 0)
        return tsv_error_set(err, TSV_EINVALID, "bolt file has a plain key in its root bucket");
    if (vlen > TSV_KV_MAX_VALUE)
        return tsv_error_set(err, TSV_ETOOLARGE,
                             "bolt file has a value of %zu bytes; the KV holds at most %zu", vlen,
                             TSV_KV_MAX_VALUE);
    return check_key(klen, "key", err);
}

/* ---- pass 2: the copy, committed in batches ------------------------------- */

static int account(import_ctx *c, size_t bytes, tsv_error *err)
{
    c->pending += bytes + RECORD_OVERHEAD;
    if (c->pending < c->batch)
        return 0;
    tsv_kv_txn *t = c->txn;
    c->txn = NULL;
    c->pending = 0;
    if (tsv_kv_commit(t, err) != 0)
        return -1;
    return tsv_kv_begin(c->kv, 1, &c->txn, err);
}

static int on_bucket_begin(void *vctx, const uint8_t *name, size_t len, uint64_t sequence,
                           tsv_error *err)
{
    import_ctx *c = vctx;
    if (c->depth >= MAX_DEPTH)
        return tsv_error_set(err, TSV_EINVALID, "bolt file nests buckets deeper than %d",
                             MAX_DEPTH);
    uint64_t child;
    if (tsv_kv_bucket_create(c->txn, c->stack[c->depth], name, len, sequence, 0, &child, err) != 0)
        return tsv_error_wrap(err, "importing bucket \"%.*s\"", (int)(len > 80 ? 80 : len), name);
    c->stack[++c->depth] = child;
    return account(c, len, err);
}

static int on_bucket_end(void *vctx, tsv_error *err)
{
    import_ctx *c = vctx;
    if (c->depth == 0)
        return tsv_error_set(err, TSV_EINTERNAL, "unbalanced bucket walk");
    c->depth--;
    return 0;
}

static int on_value(void *vctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                    tsv_error *err)
{
    import_ctx *c = vctx;
    if (c->depth == 0)
        return tsv_error_set(err, TSV_EINVALID, "bolt file has a plain key in its root bucket");
    if (tsv_kv_put(c->txn, c->stack[c->depth], key, klen, val, vlen, err) != 0)
        return tsv_error_wrap(err, "importing key of %zu bytes", klen);
    return account(c, klen + vlen, err);
}

int tsv_kv_import_bolt(tsv_kv *kv, tsv_bolt_file *bolt, tsv_error *err)
{
    int depth = 0;
    tsv_bolt_visitor check = {
        .bucket_begin = check_bucket_begin,
        .bucket_end = check_bucket_end,
        .value = check_value,
    };
    if (tsv_bolt_walk(bolt, &check, &depth, err) != 0)
        return -1;

    import_ctx c;
    memset(&c, 0, sizeof c);
    c.kv = kv;
    c.stack[0] = TSV_KV_ROOT;
    c.batch = TSV_KV_IMPORT_BATCH;
    if (tsv_kv_begin(kv, 1, &c.txn, err) != 0)
        return -1;
    tsv_bolt_visitor v = {
        .bucket_begin = on_bucket_begin,
        .bucket_end = on_bucket_end,
        .value = on_value,
    };
    /* bolt keeps a root sequence in its meta; so do we. */
    if (tsv_bolt_walk(bolt, &v, &c, err) != 0 ||
        tsv_kv_set_sequence(c.txn, TSV_KV_ROOT, tsv_bolt_root_sequence(bolt), err) != 0) {
        tsv_kv_abort(c.txn);
        return -1;
    }
    return tsv_kv_commit(c.txn, err);
}

int tsv_kv_export_bolt(tsv_kv_txn *txn, tsv_bolt_out_fn out, void *octx, uint64_t *written,
                       tsv_error *err)
{
    tsv_bolt_source src;
    tsv_kv_bolt_source_init(&src, txn);
    return tsv_bolt_write(&src, out, octx, written, err);
}
