/*
 * fuzz_kv_import: bolt -> KV import (storage/kv_import.c) into a scratch
 * LMDB environment, and the round trip property for the format tsvault
 * both reads and writes: bolt -> KV -> bolt -> KV equal. The exported file
 * must pass the validator, import again, and export to the same bytes; its
 * walk must equal the original file's walk (buckets, keys, values,
 * sequences, in order).
 */
#include "bolt.h"
#include "fuzz_util.h"
#include "kv.h"
#include "kv_import.h"
#include "stream.h"

/* The walk as one byte string: tag, lengths and bytes of every event. */
static int put(tsv_buf *b, const void *p, size_t n)
{
    tsv_error err;
    uint64_t len = n;
    FUZZ_CHECK(tsv_buf_append(b, &len, sizeof len, &err) == 0);
    FUZZ_CHECK(tsv_buf_append(b, p, n, &err) == 0);
    return 0;
}
static int w_begin(void *ctx, const uint8_t *name, size_t len, uint64_t seq, tsv_error *err)
{
    (void)err;
    put(ctx, "B", 1);
    put(ctx, name, len);
    return put(ctx, &seq, sizeof seq);
}
static int w_end(void *ctx, tsv_error *err)
{
    (void)err;
    return put(ctx, "E", 1);
}
static int w_value(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                   tsv_error *err)
{
    (void)err;
    put(ctx, "V", 1);
    put(ctx, k, kl);
    return put(ctx, v, vl);
}
static void walk_of(tsv_bolt_file *f, tsv_buf *out)
{
    tsv_error err;
    const tsv_bolt_visitor v = {w_begin, w_end, w_value};
    FUZZ_CHECK(tsv_bolt_walk(f, &v, out, &err) == 0);
    uint64_t seq = tsv_bolt_root_sequence(f);
    put(out, &seq, sizeof seq);
}

static int out_buf(void *octx, const void *buf, size_t len, tsv_error *err)
{
    return tsv_buf_append(octx, buf, len, err);
}

/* Imports f into a fresh environment in <scratch>/<name> and exports it.
 * Returns -1 if the import refuses the file. */
static int import_export(tsv_bolt_file *f, const char *name, tsv_buf *bolt_out)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", fuzz_scratch(), name);
    fuzz_empty_dir(dir);
    mkdir(dir, 0700);
    tsv_kv *kv = NULL;
    tsv_error err;
    /* Fuzz inputs are small: a small map keeps the environment cheap. */
    FUZZ_CHECK(tsv_kv_open(&kv, dir, (size_t)64 << 20, &err) == 0);
    tsv_kv_set_durable(kv, 0, &err);
    int rc = tsv_kv_import_bolt(kv, f, &err);
    if (rc == 0) {
        tsv_kv_txn *t = NULL;
        FUZZ_CHECK(tsv_kv_begin(kv, 0, &t, &err) == 0);
        uint64_t written = 0;
        if (tsv_kv_export_bolt(t, out_buf, bolt_out, &written, &err) != 0) {
            fprintf(stderr, "export of an imported KV failed: %s\n", err.message);
            FUZZ_CHECK(0);
        }
        FUZZ_CHECK(written == bolt_out->len);
        tsv_kv_abort(t);
    } else {
        FUZZ_CHECK(err.code == TSV_EINVALID || err.code == TSV_ETOOLARGE);
    }
    tsv_kv_close(kv);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_write_file("in.bolt", data, size, path, sizeof path);
    tsv_bolt_file *f = NULL;
    tsv_error err;
    if (tsv_bolt_open(&f, path, &err) != 0)
        return 0;
    tsv_buf e1 = {0}, e2 = {0}, w0 = {0}, w1 = {0};
    if (import_export(f, "kv1", &e1) != 0) {
        tsv_bolt_close(f);
        return 0;
    }
    walk_of(f, &w0);
    tsv_bolt_close(f);

    char p1[512];
    fuzz_write_file("e1.bolt", e1.data, e1.len, p1, sizeof p1);
    tsv_bolt_file *f1 = NULL;
    if (tsv_bolt_open(&f1, p1, &err) != 0) {
        fprintf(stderr, "exported bolt does not validate: %s\n", err.message);
        FUZZ_CHECK(0);
    }
    walk_of(f1, &w1);
    FUZZ_CHECK(w0.len == w1.len && memcmp(w0.data, w1.data, w0.len) == 0);
    FUZZ_CHECK(import_export(f1, "kv2", &e2) == 0);
    tsv_bolt_close(f1);
    FUZZ_CHECK(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);
    tsv_buf_free(&e1);
    tsv_buf_free(&e2);
    tsv_buf_free(&w0);
    tsv_buf_free(&w1);
    return 0;
}
