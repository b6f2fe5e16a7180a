/*
 * fuzz_bolt_open: the bbolt reader/validator (storage/bolt_read.c). Any
 * bytes go through tsv_bolt_open; a file it accepts is walked completely,
 * since the walk trusts what the validator checked.
 */
#include "bolt.h"
#include "fuzz_util.h"

static int on_bucket(void *ctx, const uint8_t *name, size_t len, uint64_t seq, tsv_error *err)
{
    (void)name;
    (void)seq;
    (void)err;
    *(size_t *)ctx += len + 1;
    return 0;
}
static int on_end(void *ctx, tsv_error *err)
{
    (void)err;
    *(size_t *)ctx += 1;
    return 0;
}
static int on_value(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                    tsv_error *err)
{
    (void)err;
    /* Touch the first and last byte of each slice: ASan checks they are mapped. */
    volatile uint8_t sink = 0;
    if (kl)
        sink ^= k[0] ^ k[kl - 1];
    if (vl)
        sink ^= v[0] ^ v[vl - 1];
    (void)sink;
    *(size_t *)ctx += kl + vl;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_write_file("in.bolt", data, size, path, sizeof path);
    tsv_bolt_file *f = NULL;
    tsv_error err;
    if (tsv_bolt_open(&f, path, &err) == 0) {
        size_t total = 0;
        const tsv_bolt_visitor v = {on_bucket, on_end, on_value};
        FUZZ_CHECK(tsv_bolt_walk(f, &v, &total, &err) == 0);
        FUZZ_CHECK(tsv_bolt_high_water(f) * tsv_bolt_page_size(f) <= size);
        tsv_bolt_close(f);
    }
    return 0;
}
