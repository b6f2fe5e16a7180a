/* Unit tests of tar_stream's completeness check (storage/tar_stream.c): whole
 * tars in any write size, every cut refused, corrupt headers, data after the
 * end (upstream B6: an error written into a streamed body). */
#include "harness.h"

#include "stream.h"
#include "tar_stream.h"

static void add(tsv_buf *b, const void *p, size_t n)
{
    assert_int_equal(tsv_buf_append(b, p, n, NULL), 0);
}
static void adds(tsv_buf *b, const char *s) { add(b, s, strlen(s)); }

/* ---- tar ---------------------------------------------------------------------- */

static void tar_entry(tsv_buf *b, const char *name, size_t size, char type)
{
    uint8_t h[512];
    harness_tar_header(h, name, size, type, 1700000000);
    add(b, h, 512);
    if (type == '0') {
        for (size_t i = 0; i < size; i++) {
            uint8_t c = (uint8_t)('a' + i % 26);
            add(b, &c, 1);
        }
        static const uint8_t zero[512];
        if (size % 512)
            add(b, zero, 512 - size % 512);
    }
}

static void tar_end(tsv_buf *b, int blocks)
{
    static const uint8_t zero[512];
    for (int i = 0; i < blocks; i++)
        add(b, zero, 512);
}

/* Feeds b in `step`-byte writes through a check writer (and on to a
 * buffer, which must get every byte). */
static int tar_feed(const tsv_buf *b, size_t step)
{
    tsv_buf copy = {0};
    tsv_writer *inner = tsv_buf_writer_new(&copy), *w = NULL;
    assert_non_null(inner);
    OK(tsv_tar_check_writer_new(&w, inner, &E));
    tsv_error_clear(&E);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < b->len; off += step) {
        size_t n = b->len - off < step ? b->len - off : step;
        rc = tsv_write(w, b->data + off, n, &E);
    }
    if (rc == 0)
        rc = tsv_tar_check_finish(w, NULL, &E);
    if (rc == 0)
        assert_true(copy.len == b->len && memcmp(copy.data, b->data, b->len) == 0);
    tsv_writer_free(w);
    tsv_writer_free(inner);
    tsv_buf_free(&copy);
    return rc;
}

static void test_tar_complete(void **state)
{
    (void)state;
    tsv_buf b = {0};
    tar_entry(&b, "0a1b2c3d4e5f6071/autogen/1/000000001-000000001.tombstone", 0, '0');
    tar_entry(&b, "0a1b2c3d4e5f6071/autogen/1/000000001-000000001.tsm", 5005, '0');
    tar_entry(&b, "dir", 0, '5');
    tar_entry(&b, "0a1b2c3d4e5f6071/autogen/1/000000002-000000001.tsm", 512, '0');
    tar_end(&b, 2);
    size_t steps[] = {1, 100, 512, 513, 1 << 20};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        OK(tar_feed(&b, steps[i]));
    tar_end(&b, 18); /* GNU tar pads to a 10 KiB record: fine */
    OK(tar_feed(&b, 777));
    tsv_buf empty = {0};
    tar_end(&empty, 2); /* since= with nothing new */
    OK(tar_feed(&empty, 1024));
    tsv_buf_free(&empty);
    tsv_buf_free(&b);
}

static void test_tar_incomplete(void **state)
{
    (void)state;
    tsv_buf full = {0}, b = {0};
    tar_entry(&full, "x/autogen/1/000000001-000000001.tsm", 5005, '0');
    tar_end(&full, 2);
    /* Every prefix (but the full archive) is refused. */
    for (size_t cut = 0; cut < full.len; cut += 97) {
        b.len = 0;
        add(&b, full.data, cut);
        if (tar_feed(&b, 4096) == 0)
            fail_msg("a tar cut at %zu of %zu bytes was accepted", cut, full.len);
        assert_int_equal(E.code, TSV_EINVALID);
    }
    b.len = 0;
    add(&b, full.data, 3000);
    FAILS(tar_feed(&b, 4096), TSV_EINVALID);
    assert_non_null(strstr(E.message, "(\"x/autogen/1/000000001-000000001.tsm\""));
    b.len = 0;
    add(&b, full.data, 512 + 5120); /* entries complete, no end marker */
    FAILS(tar_feed(&b, 4096), TSV_EINVALID);
    assert_non_null(strstr(E.message, "no closing zero blocks"));
    b.len = 0;
    add(&b, full.data, 512 + 5120 + 512); /* one zero block */
    FAILS(tar_feed(&b, 4096), TSV_EINVALID);
    b.len = 0;
    add(&b, full.data, 200);
    FAILS(tar_feed(&b, 4096), TSV_EINVALID);
    assert_non_null(strstr(E.message, "inside a header block"));
    FAILS(tar_feed(&(tsv_buf){0}, 1), TSV_EINVALID);
    assert_non_null(strstr(E.message, "no bytes at all"));
    tsv_buf_free(&full);
    tsv_buf_free(&b);
}

static void test_tar_corrupt(void **state)
{
    (void)state;
    tsv_buf b = {0};
    tar_entry(&b, "a.tsm", 10, '0');
    tar_end(&b, 2);
    b.data[3] ^= 1; /* name changed, checksum not */
    FAILS(tar_feed(&b, 512), TSV_EINVALID);
    assert_non_null(strstr(E.message, "header checksum mismatch at offset 0"));
    b.data[3] ^= 1;
    OK(tar_feed(&b, 512));
    /* An error JSON written into the stream after the end (upstream B6). */
    adds(&b, "{\"code\":\"internal error\"}");
    tar_end(&b, 1);
    FAILS(tar_feed(&b, 512), TSV_EINVALID);
    assert_non_null(strstr(E.message, "data after the end of the archive"));
    /* A lone zero block between entries. */
    tsv_buf c = {0};
    tar_entry(&c, "a.tsm", 10, '0');
    tar_end(&c, 1);
    tar_entry(&c, "b.tsm", 10, '0');
    tar_end(&c, 2);
    FAILS(tar_feed(&c, 512), TSV_EINVALID);
    assert_non_null(strstr(E.message, "lone zero block"));
    tsv_buf_free(&c);
    tsv_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tar_complete),
        cmocka_unit_test(test_tar_incomplete),
        cmocka_unit_test(test_tar_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
