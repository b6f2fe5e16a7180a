/*
 * kv_bolt_source: presents a tsv_kv read transaction as a tsv_bolt_source,
 * so the bolt writer can stream the KV tree into a bbolt file.
 *
 * The adapter is stateless: ctx is the transaction and each bolt cursor is a
 * tsv_kv cursor, whose entries already come in bolt order with sub-bucket
 * handles and sequences filled. Entry pointers stay valid until the next
 * cursor_next (they point into the transaction's snapshot).
 */
#include <string.h>

#include "kv.h"
#include "kv_internal.h"
#include "tsv_log.h"

static int source_cursor_open(void *ctx, uint64_t bucket, void **cursor, tsv_error *err)
{
    tsv_kv_txn *txn = ctx;
    *cursor = NULL;
    if (tsv_kv_source_check(txn, err) != 0)
        return -1;
    tsv_kv_cursor *c;
    if (tsv_kv_cursor_open(txn, bucket, &c, err) != 0)
        return -1;
    *cursor = c;
    return 0;
}

static int source_cursor_next(void *cursor, tsv_bolt_entry *e, tsv_error *err)
{
    tsv_kv_entry ke;
    int rc = tsv_kv_cursor_next(cursor, &ke, err);
    if (rc != 1)
        return rc;
    *e = (tsv_bolt_entry){
        .key = ke.key,
        .klen = ke.klen,
        .is_bucket = ke.is_bucket,
        .val = ke.val,
        .vlen = ke.vlen,
        .child = ke.child,
        .sequence = ke.sequence,
    };
    return 1;
}

static void source_cursor_close(void *cursor) { tsv_kv_cursor_close(cursor); }

void tsv_kv_bolt_source_init(tsv_bolt_source *src, tsv_kv_txn *txn)
{
    memset(src, 0, sizeof *src);
    src->ctx = txn;
    src->cursor_open = source_cursor_open;
    src->cursor_next = source_cursor_next;
    src->cursor_close = source_cursor_close;
    tsv_error err = {0};
    if (tsv_kv_root_sequence(txn, &src->root_sequence, &err) != 0) {
        /* No error return here: make the first cursor_open fail instead of
         * letting the writer emit a file with a wrong root sequence. */
        TSV_ERROR("msg=\"KV bolt source: cannot read root sequence\" err=\"%s\"", err.message);
        tsv_kv_source_mark_failed(txn, &err);
        src->root_sequence = 0;
    }
}
