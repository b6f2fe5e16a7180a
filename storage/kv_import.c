/* kv_import: bbolt file -> KV environment, and KV -> bbolt stream. */
#include "kv_import.h"

#include <string.h>

#define MAX_DEPTH 64

typedef struct import_ctx {
    tsv_kv_txn *txn;
    uint64_t stack[MAX_DEPTH + 1];
    int depth;
} import_ctx;

static int on_bucket_begin(void *vctx, const uint8_t *name, size_t len, uint64_t sequence,
                           tsv_error *err)
{
    import_ctx *c = vctx;
    if (c->depth >= MAX_DEPTH)
        return tsv_error_set(err, TSV_EINVALID, "bolt file nests buckets deeper than %d", MAX_DEPTH);
    uint64_t child;
    if (tsv_kv_bucket_create(c->txn, c->stack[c->depth], name, len, sequence, 0, &child, err) != 0)
        return tsv_error_wrap(err, "importing bucket \"%.*s\"", (int)(len > 80 ? 80 : len), name);
    c->stack[++c->depth] = child;
    return 0;
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
    return 0;
}

int tsv_kv_import_bolt(tsv_kv *kv, tsv_bolt_file *bolt, tsv_error *err)
{
    import_ctx c;
    memset(&c, 0, sizeof c);
    c.stack[0] = TSV_KV_ROOT;
    if (tsv_kv_begin(kv, 1, &c.txn, err) != 0)
        return -1;
    tsv_bolt_visitor v = {
        .bucket_begin = on_bucket_begin,
        .bucket_end = on_bucket_end,
        .value = on_value,
    };
    if (tsv_bolt_walk(bolt, &v, &c, err) != 0) {
        tsv_kv_abort(c.txn);
        return -1;
    }
    /* bolt keeps a root sequence in its meta; so do we. */
    if (tsv_kv_set_sequence(c.txn, TSV_KV_ROOT, tsv_bolt_root_sequence(bolt), err) != 0) {
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
