/*
 * test_bolt: the bbolt reader/validator and writer (storage/bolt.h).
 *
 * Real InfluxDB files are opened and walked; generated and real trees are
 * written, read back and compared exactly; every written file and both real
 * files go through the independent Go checker (tests/tools/boltcheck, bbolt
 * 1.3.6 Check + a canonical dump compared byte for byte with ours); hostile
 * files must fail with TSV_EINVALID and never crash (run under ASan too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "bolt.h"
#include "bolt_fixture.h"
#include "bolt_model.h"
#include "fsutil.h"
#include "tsv_log.h"

#ifndef TSV_TESTDATA
#error "TSV_TESTDATA must be defined by the build"
#endif

#define PAGE BOLT_PAGE

static int file_counter;

/* ---- small helpers ------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) { return harness_rng(&rng_state); }

static void rng_fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng();
}

static void next_path(char *out, size_t len, const char *what)
{
    snprintf(out, len, "%s/%03d-%s.bolt", bolt_tmpdir, file_counter++, what);
}

/* ---- walking a file into a tree ---------------------------------------- */

typedef struct tree_sink {
    mem_bucket *stack[80];
    int depth;
} tree_sink;

static int sink_begin(void *ctx, const uint8_t *name, size_t len, uint64_t seq, tsv_error *err)
{
    tree_sink *t = ctx;
    assert_true(t->depth + 1 < 80);
    t->stack[t->depth + 1] = mb_sub(t->stack[t->depth], name, len, seq);
    t->depth++;
    return 0;
}

static int sink_end(void *ctx, tsv_error *err)
{
    tree_sink *t = ctx;
    assert_true(t->depth > 0);
    t->depth--;
    return 0;
}

static int sink_value(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                      tsv_error *err)
{
    tree_sink *t = ctx;
    mb_put(t->stack[t->depth], k, kl, v, vl);
    return 0;
}

static const tsv_bolt_visitor tree_visitor = {sink_begin, sink_end, sink_value};

static mem_bucket *walk_to_tree(tsv_bolt_file *f)
{
    tree_sink t = {.depth = 0};
    t.stack[0] = mb_new(tsv_bolt_root_sequence(f));
    tsv_error err = {0};
    if (tsv_bolt_walk(f, &tree_visitor, &t, &err) != 0)
        fail_msg("walk: %s", err.message);
    assert_int_equal(t.depth, 0);
    return t.stack[0];
}

/* ---- the Go checker ---------------------------------------------------- */

/* Independent check of a file we expect to be valid: bbolt's Check passes
 * and bbolt's dump equals ours. With rw, a copy also takes a StrictMode
 * commit and must still pass our own validator afterwards. */
static void independent_check(const char *path, const char *our_dump, int rw)
{
    char *go = go_dump(path, 0);
    if (!go)
        return;
    assert_dump_equal(path, go, our_dump);
    free(go);
    if (!rw)
        return;
    /* The copy goes to our temp dir, never next to a testdata file. */
    char copy[512];
    const char *slash = strrchr(path, '/');
    snprintf(copy, sizeof copy, "%s/%s.rw", bolt_tmpdir, slash ? slash + 1 : path);
    size_t len;
    uint8_t *bytes = harness_read_bytes(path, &len);
    harness_write_bytes(copy, bytes, len);
    free(bytes);
    go = go_dump(copy, 1);
    free(go);
    /* bbolt's own result (real freelist, pending pages, new txid) must pass
     * our validator, and hold the old tree plus the probe bucket. */
    tsv_bolt_file *f = bolt_open_ok(copy);
    char *after = walk_dump_of(f);
    tsv_bolt_close(f);
    assert_non_null(strstr(after, "B 626f6c74636865636b2d72772d70726f6265 0\n"));
    free(after);
}

/* ---- writing ----------------------------------------------------------- */

/* write -> open -> walk -> compare with the source; then walk -> write again
 * gives the identical file; finally the independent check. */
static void roundtrip(const char *what, mem_bucket *root)
{
    char path[512], again[512];
    next_path(path, sizeof path, what);
    write_tree_ok(path, root);
    char *want = model_dump(root);

    tsv_bolt_file *f = bolt_open_ok(path);
    assert_int_equal(tsv_bolt_txid(f), 2);
    assert_int_equal(tsv_bolt_root_sequence(f), root->sequence);
    assert_int_equal(tsv_bolt_page_size(f), PAGE);
    char *got = walk_dump_of(f);
    assert_dump_equal(what, want, got);
    mem_bucket *back = walk_to_tree(f);
    tsv_bolt_close(f);

    next_path(again, sizeof again, what);
    write_tree_ok(again, back);
    char *got2 = bolt_file_dump(again, NULL);
    assert_dump_equal(what, want, got2);
    size_t l1, l2;
    uint8_t *b1 = harness_read_bytes(path, &l1), *b2 = harness_read_bytes(again, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    free(b1);
    free(b2);

    independent_check(path, want, 1);
    mb_free(back);
    free(want);
    free(got);
    free(got2);
}

/* ---- real files -------------------------------------------------------- */

typedef struct count_ctx {
    int depth;
    int top_buckets;
    int keys;
    int buckets;
    char current[128]; /* name of the top-level bucket being walked */
    int current_keys;
    int authorizations_keys;
    int has_meta_db;
} count_ctx;

static int count_begin(void *ctx, const uint8_t *name, size_t len, uint64_t seq, tsv_error *err)
{
    count_ctx *c = ctx;
    c->depth++;
    c->buckets++;
    if (c->depth == 1) {
        c->top_buckets++;
        snprintf(c->current, sizeof c->current, "%.*s", (int)len, (const char *)name);
        c->current_keys = 0;
    }
    return 0;
}

static int count_end(void *ctx, tsv_error *err)
{
    count_ctx *c = ctx;
    if (c->depth == 1 && strcmp(c->current, "authorizationsv1") == 0)
        c->authorizations_keys = c->current_keys;
    c->depth--;
    return 0;
}

static int count_value(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                       tsv_error *err)
{
    count_ctx *c = ctx;
    c->keys++;
    c->current_keys++;
    if (strcmp(c->current, "v1_tsm1_metadata") == 0 && kl == 7 && memcmp(k, "meta.db", 7) == 0 &&
        vl > 0)
        c->has_meta_db = 1;
    return 0;
}

static const tsv_bolt_visitor count_visitor = {count_begin, count_end, count_value};

static void check_real(const char *path, uint64_t txid, uint64_t high_water, int top, int keys,
                       int auth_keys)
{
    tsv_bolt_file *f = bolt_open_ok(path);
    assert_int_equal(tsv_bolt_txid(f), txid);
    assert_int_equal(tsv_bolt_high_water(f), high_water);
    assert_int_equal(tsv_bolt_page_size(f), PAGE);
    assert_int_equal(tsv_bolt_root_sequence(f), 0);
    count_ctx c = {0};
    tsv_error err = {0};
    assert_int_equal(tsv_bolt_walk(f, &count_visitor, &c, &err), 0);
    assert_int_equal(c.depth, 0);
    assert_int_equal(c.top_buckets, top);
    assert_int_equal(c.buckets, top); /* no nested buckets in either sample */
    assert_int_equal(c.keys, keys);
    assert_int_equal(c.authorizations_keys, auth_keys);
    assert_true(c.has_meta_db);
    char *ours = walk_dump_of(f);
    tsv_bolt_close(f);
    independent_check(path, ours, 1);
    free(ours);
}

static void test_real_live_file(void **state)
{
    /* docs/formats.md#bolt-samples: current meta is meta 1 (txid 131), pgid 12. */
    check_real(bolt_live, 131, 12, 54, 41, 2);
}

static void test_real_backup_file(void **state)
{
    /* WriteTo backup: metas 121/120, pgid 13, 62 buckets. */
    check_real(bolt_backup, 121, 13, 62, 51, 1);
}

static void test_roundtrip_real_files(void **state)
{
    const char *paths[] = {bolt_live, bolt_backup};
    for (int i = 0; i < 2; i++) {
        tsv_bolt_file *f = bolt_open_ok(paths[i]);
        char *orig = walk_dump_of(f);
        mem_bucket *tree = walk_to_tree(f);
        tsv_bolt_close(f);
        char *mem = model_dump(tree);
        assert_dump_equal("real tree copy", orig, mem);
        roundtrip(i == 0 ? "live" : "backup", tree);
        mb_free(tree);
        free(orig);
        free(mem);
    }
}

/* ---- generated trees --------------------------------------------------- */

static void put_random(mem_bucket *b, const void *key, size_t klen, size_t vlen)
{
    uint8_t *v = malloc(vlen ? vlen : 1);
    assert_non_null(v);
    rng_fill(v, vlen);
    mb_put(b, key, klen, v, vlen);
    free(v);
}

static mem_bucket *generate_tree(void)
{
    char key[64];
    mem_bucket *root = mb_new(7);

    /* Thousands of keys: several leaves and a branch level. */
    mem_bucket *big = mb_sub(root, "big", 3, 12345);
    for (int i = 0; i < 6000; i++) {
        snprintf(key, sizeof key, "key%08d", i * 7);
        put_random(big, key, strlen(key), rng() % 300);
    }

    /* Values that need overflow pages, among small ones. */
    mem_bucket *ov = mb_sub(root, "overflow", 8, UINT64_MAX);
    mb_puts(ov, "a", "small");
    put_random(ov, "b20k", 4, 20000);
    put_random(ov, "c100k", 5, 100 * 1024);
    put_random(ov, "d4081", 5, PAGE - 16 - 16 - 5 + 1); /* one byte over a page */
    put_random(ov, "d4080", 5, PAGE - 16 - 16 - 5);     /* exactly one page */
    mb_put(ov, "e-empty", 7, "", 0);

    /* Inline buckets, and the inline size boundary (16 + 16 + 1 + v). */
    mem_bucket *in = mb_sub(root, "inline", 6, 1);
    mb_puts(in, "x", "1");
    mb_puts(in, "y", "2");
    mb_put(in, "z", 1, "", 0);
    put_random(mb_sub(root, "inline-1024", 11, 0), "x", 1, 1024 - 16 - 16 - 1);
    put_random(mb_sub(root, "inline-1025", 11, 0), "x", 1, 1025 - 16 - 16 - 1);

    /* Nested 4 deep, with values, sequences, empty buckets at each level. */
    mem_bucket *n1 = mb_sub(root, "nest", 4, 1);
    mb_puts(n1, "v1", "level1");
    mb_sub(n1, "empty1", 6, 0);
    mem_bucket *n2 = mb_sub(n1, "l2", 2, 2);
    mb_puts(n2, "v2", "level2");
    mb_sub(n2, "empty2", 6, 22);
    mem_bucket *n3 = mb_sub(n2, "l3", 2, 3);
    put_random(n3, "big3", 4, 20000);
    mem_bucket *n4 = mb_sub(n3, "l4", 2, 4);
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "deep%04d", i);
        put_random(n4, key, strlen(key), 40);
    }
    mb_sub(n4, "leaf-bucket", 11, 44);

    /* Empty buckets, and a bucket whose only child is an empty bucket (it
     * must not be inlined). */
    mb_sub(root, "empty", 5, 0);
    mb_sub(root, "empty-seq", 9, 99);
    mb_sub(mb_sub(root, "only-empty-child", 16, 5), "child", 5, 6);

    /* Keys that are prefixes of others, sub-bucket names among them. */
    mem_bucket *pre = mb_sub(root, "prefix", 6, 0);
    const char *pk[] = {"a", "aa", "aaa", "aaaa", "ab", "b", "ba", "bab"};
    for (size_t i = 0; i < sizeof pk / sizeof *pk; i++)
        mb_puts(pre, pk[i], pk[i]);
    mb_puts(mb_sub(pre, "aab", 3, 0), "a", "in aab");
    for (int i = 1; i <= 200; i++) {
        memset(key, 'p', (size_t)i % 60 + 1);
        snprintf(key + i % 60 + 1, 8, "%03d", i);
        mb_puts(pre, key, "prefix chain");
    }

    /* Binary keys with 0x00 and 0xFF, in a bucket with a binary name. */
    mem_bucket *bin = gen_binary_bucket(root, put_random);
    for (int i = 0; i < 500; i++) {
        uint8_t k[48];
        size_t kl = 4 + rng() % 40;
        rng_fill(k, kl);
        k[0] = 0x01; /* never collides with the short keys above */
        k[1] = (uint8_t)(i >> 8);
        k[2] = (uint8_t)i;
        put_random(bin, k, kl, rng() % 64);
    }

    /* Maximum-size keys: overflow leaves and branch pages over a page. */
    mem_bucket *hk = mb_sub(root, "hugekeys", 8, 0);
    uint8_t *huge = malloc(32768);
    assert_non_null(huge);
    for (int i = 0; i < 12; i++) {
        memset(huge, 'h', 32768);
        huge[0] = (uint8_t)('a' + i);
        huge[32767] = (uint8_t)i;
        put_random(hk, huge, 32768, i % 3 == 0 ? 5000 : 10);
    }
    /* A sub-bucket with a 32 KiB name whose value is an inline bucket. */
    memset(huge, 'z', 32768);
    mb_puts(mb_sub(hk, huge, 32768, 77), "inside", "an inline bucket behind a huge key");
    free(huge);
    mem_bucket *wide = mb_sub(root, "widekeys", 8, 0);
    char wk[3001];
    for (int i = 0; i < 60; i++) {
        memset(wk, 'w', 3000);
        snprintf(wk + 2990, 11, "%010d", i);
        mb_puts(wide, wk, "w");
    }

    gen_top_buckets(root, 400, put_random);
    mb_sort(root);
    return root;
}

static void test_roundtrip_generated(void **state)
{
    mem_bucket *root = generate_tree();
    roundtrip("generated", root);
    mb_free(root);
}

static void test_roundtrip_small_and_minimal(void **state)
{
    /* The empty tree: metas, freelist, one empty root leaf. */
    mem_bucket *empty = mb_new(0);
    roundtrip("empty-root", empty);
    char path[512];
    next_path(path, sizeof path, "empty-root-size");
    write_tree_ok(path, empty);
    size_t len;
    free(harness_read_bytes(path, &len));
    assert_int_equal(len, 4 * PAGE);
    mb_free(empty);

    mem_bucket *one = mb_new(0);
    mb_sub(one, "only", 4, 0);
    roundtrip("one-empty-bucket", one);
    mb_free(one);

    /* bbolt's inline rule, seen through the page count: a bucket inlines
     * iff it has no sub-buckets and 16 + sum(16 + k + v) <= 1024. */
    struct {
        size_t vlen;
        int with_child;
        uint64_t pgid;
    } cases[] = {
        {1024 - 16 - 16 - 1, 0, 4}, /* inline: metas, freelist, root leaf */
        {1025 - 16 - 16 - 1, 0, 5}, /* one leaf of its own */
        {1, 1, 5},                  /* tiny, but has an (inline) sub-bucket */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mem_bucket *r = mb_new(0);
        mem_bucket *b = mb_sub(r, "b", 1, 3);
        put_random(b, "x", 1, cases[i].vlen);
        if (cases[i].with_child)
            mb_sub(b, "y", 1, 0);
        char path[512];
        next_path(path, sizeof path, "inline-rule");
        write_tree_ok(path, r);
        tsv_bolt_file *f = bolt_open_ok(path);
        assert_int_equal(tsv_bolt_high_water(f), cases[i].pgid);
        char *d = walk_dump_of(f);
        tsv_bolt_close(f);
        independent_check(path, d, 0);
        free(d);
        mb_free(r);
    }
}

static mem_bucket *chain(int depth)
{
    mem_bucket *root = mb_new(0), *b = root;
    for (int i = 1; i <= depth; i++) {
        char name[16];
        snprintf(name, sizeof name, "d%02d", i);
        b = mb_sub(b, name, strlen(name), (uint64_t)i);
        mb_puts(b, "a-key", name);
    }
    mb_sort(root);
    return root;
}

static void test_nesting_limit(void **state)
{
    mem_bucket *ok = chain(64);
    roundtrip("depth64", ok);
    mb_free(ok);

    mem_bucket *deep = chain(65);
    char path[512];
    next_path(path, sizeof path, "depth65");
    tsv_error err = {0};
    assert_int_equal(write_tree(path, deep, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    mb_free(deep);
}

/* ---- writer input validation ------------------------------------------ */

static void expect_write_error(const char *what, mem_bucket *root, tsv_code code)
{
    char path[512];
    next_path(path, sizeof path, what);
    tsv_error err = {0};
    if (write_tree(path, root, &err) == 0)
        fail_msg("%s: write succeeded", what);
    if (err.code != code)
        fail_msg("%s: code %d (%s), want %d", what, err.code, err.message, code);
    mb_free(root);
}

static void test_writer_rejects_bad_input(void **state)
{
    mem_bucket *r;

    r = mb_new(0);
    mb_puts(mb_sub(r, "b", 1, 0), "", "empty key");
    expect_write_error("empty-key", r, TSV_EINVALID);

    r = mb_new(0);
    mem_bucket *b = mb_sub(r, "b", 1, 0);
    mb_puts(b, "b", "1");
    mb_puts(b, "a", "2");
    expect_write_error("unordered", r, TSV_EINVALID);

    r = mb_new(0);
    b = mb_sub(r, "b", 1, 0);
    mb_puts(b, "a", "1");
    mb_puts(b, "a", "2");
    expect_write_error("duplicate", r, TSV_EINVALID);

    r = mb_new(0);
    b = mb_sub(r, "b", 1, 0);
    mb_puts(b, "ab", "1");
    mb_puts(b, "a", "2"); /* prefix after the longer key */
    expect_write_error("prefix-order", r, TSV_EINVALID);

    r = mb_new(0);
    b = mb_sub(r, "b", 1, 0);
    uint8_t *k = calloc(1, 32769);
    assert_non_null(k);
    mb_put(b, k, 32769, "v", 1);
    free(k);
    expect_write_error("key-too-long", r, TSV_EINVALID);

    r = mb_new(0);
    mb_puts(r, "plain", "in the root");
    expect_write_error("root-value", r, TSV_EINVALID);

    /* The size is checked before any value byte is read. */
    r = mb_new(0);
    b = mb_sub(r, "b", 1, 0);
    mb_puts(b, "a", "x");
    b->v[0].vlen = 0x7FFFFFFFu;
    expect_write_error("value-too-large", r, TSV_EINVALID);
}

static void test_writer_source_changed(void **state)
{
    /* Open 2 of "big" is the leaf pass of the layout (within one pass);
     * open 3 is the first read of the emit pass (between passes). */
    for (int from = 2; from <= 3; from++) {
        mem_bucket *root = generate_tree();
        mem_bucket *big = NULL;
        for (size_t i = 0; i < root->n; i++)
            if (root->v[i].klen == 3 && memcmp(root->v[i].key, "big", 3) == 0)
                big = root->v[i].child;
        assert_non_null(big);
        mem_source ms = {.root = root, .mutate = big, .mutate_from = from};
        tsv_bolt_source src = mem_source_of(&ms, 0);
        char path[512];
        next_path(path, sizeof path, "changing-source");
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        tsv_error err = {0};
        assert_int_equal(tsv_bolt_write(&src, out_file, fp, NULL, &err), -1);
        assert_int_equal(err.code, TSV_EINTERNAL);
        assert_int_equal(fclose(fp), 0);
        mb_free(root);
    }
}

static int out_full(void *octx, const void *buf, size_t len, tsv_error *err)
{
    int *budget = octx;
    if (*budget <= 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, ENOSPC, "write");
    (*budget)--;
    return 0;
}

static void test_writer_output_error(void **state)
{
    mem_bucket *root = generate_tree();
    mem_source ms = {.root = root};
    tsv_bolt_source src = mem_source_of(&ms, 0);
    for (int budget0 = 0; budget0 < 40; budget0 += 7) {
        int budget = budget0;
        tsv_error err = {0};
        uint64_t written = 1;
        assert_int_equal(tsv_bolt_write(&src, out_full, &budget, &written, &err), -1);
        assert_int_equal(err.code, TSV_ENOSPACE);
        assert_int_equal(written, 0);
    }
    mb_free(root);
}

/* ---- walk callbacks ----------------------------------------------------- */

static int stop_value(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                      tsv_error *err)
{
    int *n = ctx;
    if (++*n == 3)
        return tsv_error_set(err, TSV_ECONFLICT, "stop here");
    return 0;
}

static void test_walk_stops_on_callback_error(void **state)
{
    tsv_bolt_file *f = bolt_open_ok(bolt_live);
    tsv_bolt_visitor v = {.value = stop_value};
    int n = 0;
    tsv_error err = {0};
    assert_int_equal(tsv_bolt_walk(f, &v, &n, &err), -1);
    assert_int_equal(n, 3);
    assert_int_equal(err.code, TSV_ECONFLICT);
    assert_string_equal(err.message, "stop here");
    tsv_bolt_close(f);
}

/* ---- hostile files ------------------------------------------------------ */

/* A small file with a known layout (post-order ids):
 *   "a"  inline {k1:v1, k2:v2}      "c" inline, empty
 *   "b"  3 values of 1500 bytes: leaves 3 (b1,b2) and 4 (b3), branch 5
 *   "d"  sub-bucket "e" (inline): leaf 6
 *   root leaf 7; pgid 8. */
static uint8_t *small_file(size_t *len)
{
    mem_bucket *root = mb_new(0);
    mem_bucket *a = mb_sub(root, "a", 1, 0);
    mb_puts(a, "k1", "v1");
    mb_puts(a, "k2", "v2");
    mem_bucket *b = mb_sub(root, "b", 1, 0);
    for (int i = 1; i <= 3; i++) {
        char k[4];
        snprintf(k, sizeof k, "b%d", i);
        uint8_t v[1500];
        memset(v, '0' + i, sizeof v);
        mb_put(b, k, 2, v, sizeof v);
    }
    mb_sub(root, "c", 1, 0);
    mb_puts(mb_sub(mb_sub(root, "d", 1, 0), "e", 1, 0), "x", "y");
    char path[512];
    next_path(path, sizeof path, "small");
    write_tree_ok(path, root);
    mb_free(root);
    uint8_t *buf = harness_read_bytes(path, len);
    assert_int_equal(*len, 8 * PAGE);
    /* The layout the mutations below rely on. */
    assert_int_equal(buf[3 * PAGE + 8], 0x02);
    assert_int_equal(buf[3 * PAGE + 10], 2);
    assert_int_equal(buf[4 * PAGE + 8], 0x02);
    assert_int_equal(buf[5 * PAGE + 8], 0x01);
    assert_int_equal(buf[6 * PAGE + 8], 0x02);
    assert_int_equal(buf[7 * PAGE + 8], 0x02);
    assert_int_equal(buf[7 * PAGE + 10], 4);
    return buf;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Independent FNV-1a for re-sealing mutated metas. */
static void reseal_meta(uint8_t *file, unsigned page)
{
    uint8_t *m = file + (size_t)page * PAGE + 16;
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 56; i++) {
        h ^= m[i];
        h *= 0x100000001b3ull;
    }
    put64(m + 56, h);
}

/* Sets a u64 meta field in both metas and re-seals them. */
static void set_meta64(uint8_t *file, size_t off, uint64_t v)
{
    for (unsigned p = 0; p < 2; p++) {
        put64(file + (size_t)p * PAGE + 16 + off, v);
        reseal_meta(file, p);
    }
}

static uint8_t *leaf_elem(uint8_t *file, unsigned page, unsigned i)
{
    return file + (size_t)page * PAGE + 16 + 16 * i;
}

static int try_open(const char *name, const uint8_t *buf, size_t len, tsv_error *err,
                    char *path_out)
{
    char path[512];
    next_path(path, sizeof path, name);
    harness_write_bytes(path, buf, len);
    if (path_out)
        strcpy(path_out, path);
    tsv_bolt_file *f = NULL;
    int rc = tsv_bolt_open(&f, path, err);
    if (rc == 0) {
        /* A file that validates must also walk cleanly. */
        char *d = walk_dump_of(f);
        free(d);
        tsv_bolt_close(f);
    } else {
        assert_null(f);
    }
    unlink(path);
    return rc;
}

static void expect_invalid(const char *name, const uint8_t *buf, size_t len, const char *substr)
{
    tsv_error err = {0};
    if (try_open(name, buf, len, &err, NULL) == 0)
        fail_msg("%s: opened a hostile file", name);
    if (err.code != TSV_EINVALID)
        fail_msg("%s: code %d (%s), want TSV_EINVALID", name, err.code, err.message);
    if (strncmp(err.message, "invalid bolt file: ", 19) != 0 ||
        (substr && !strstr(err.message, substr)))
        fail_msg("%s: message \"%s\" lacks \"%s\"", name, err.message, substr ? substr : "");
}

typedef void (*mutation)(uint8_t *file, size_t *len);

static void m_bad_checksums(uint8_t *f, size_t *len)
{
    f[16 + 56] ^= 1;
    f[PAGE + 16 + 56] ^= 1;
}
static void m_truncate(uint8_t *f, size_t *len) { *len -= PAGE; }
static void m_truncate_partial(uint8_t *f, size_t *len) { *len -= 100; }
static void m_tiny(uint8_t *f, size_t *len) { *len = 4000; }
static void m_empty(uint8_t *f, size_t *len) { *len = 0; }
static void m_magic(uint8_t *f, size_t *len)
{
    for (unsigned p = 0; p < 2; p++) {
        put32(f + p * PAGE + 16, 0xDEADBEEF);
        reseal_meta(f, p);
    }
}
static void m_version1(uint8_t *f, size_t *len)
{
    for (unsigned p = 0; p < 2; p++) {
        put32(f + p * PAGE + 16 + 4, 1);
        reseal_meta(f, p);
    }
}
static void m_page_size_1000(uint8_t *f, size_t *len)
{
    for (unsigned p = 0; p < 2; p++) {
        put32(f + p * PAGE + 16 + 8, 1000);
        reseal_meta(f, p);
    }
}
static void m_page_size_256(uint8_t *f, size_t *len)
{
    for (unsigned p = 0; p < 2; p++) {
        put32(f + p * PAGE + 16 + 8, 256);
        reseal_meta(f, p);
    }
}
static void m_root_ge_pgid(uint8_t *f, size_t *len) { set_meta64(f, 16, 8); }
static void m_root_is_meta(uint8_t *f, size_t *len) { set_meta64(f, 16, 1); }
static void m_pgid_beyond_file(uint8_t *f, size_t *len) { set_meta64(f, 40, 9); }
static void m_pgid_huge(uint8_t *f, size_t *len) { set_meta64(f, 40, UINT64_MAX / 2); }
static void m_freelist_ge_pgid(uint8_t *f, size_t *len) { set_meta64(f, 32, 8); }
static void m_freelist_not_freelist(uint8_t *f, size_t *len) { set_meta64(f, 32, 6); }
static void m_header_id(uint8_t *f, size_t *len) { put64(f + 3 * PAGE, 9); }
static void m_flags_08(uint8_t *f, size_t *len) { put16(f + 6 * PAGE + 8, 0x08); }
static void m_branch_as_meta(uint8_t *f, size_t *len) { put16(f + 5 * PAGE + 8, 0x04); }
static void m_pos_past_page(uint8_t *f, size_t *len) { put32(leaf_elem(f, 3, 0) + 4, 5000); }
static void m_pos_max(uint8_t *f, size_t *len) { put32(leaf_elem(f, 3, 1) + 4, UINT32_MAX); }
static void m_ksize_huge(uint8_t *f, size_t *len) { put32(leaf_elem(f, 3, 0) + 8, 0xFFFFFFF0u); }
static void m_ksize_over_page(uint8_t *f, size_t *len) { put32(leaf_elem(f, 3, 0) + 8, 5000); }
static void m_vsize_huge(uint8_t *f, size_t *len) { put32(leaf_elem(f, 3, 1) + 12, 0x7FFFFFFFu); }
static void m_ksize_zero(uint8_t *f, size_t *len) { put32(leaf_elem(f, 3, 0) + 8, 0); }
static void m_branch_ksize_huge(uint8_t *f, size_t *len)
{
    put32(leaf_elem(f, 5, 1) + 4, 1u << 30); /* branch element 1's ksize */
}
static void m_count_huge(uint8_t *f, size_t *len) { put16(f + 3 * PAGE + 10, 0xFFFF); }
static void m_keys_out_of_order(uint8_t *f, size_t *len)
{
    /* Page 3 holds b1, b2: make the second key "b0". */
    uint8_t *el = leaf_elem(f, 3, 1);
    uint32_t pos = (uint32_t)get64(el + 4) & 0xFFFFFFFFu;
    f[3 * PAGE + 16 + 16 + pos + 1] = '0';
}
static void m_duplicate_key(uint8_t *f, size_t *len)
{
    uint8_t *el = leaf_elem(f, 3, 1);
    uint32_t pos = (uint32_t)get64(el + 4) & 0xFFFFFFFFu;
    f[3 * PAGE + 16 + 16 + pos + 1] = '1';
}
static void m_branch_key_mismatch(uint8_t *f, size_t *len)
{
    /* Leaf 4 starts with b3; the branch says so too. Change the leaf. */
    uint8_t *el = leaf_elem(f, 4, 0);
    uint32_t pos = (uint32_t)get64(el + 4) & 0xFFFFFFFFu;
    f[4 * PAGE + 16 + pos + 1] = '4';
}
static void m_order_across_pages(uint8_t *f, size_t *len)
{
    /* Both the branch key and leaf 4's first key become "b2" (== last key
     * of leaf 3): consistent branch, but not increasing across pages. */
    uint8_t *el = leaf_elem(f, 4, 0);
    uint32_t pos = (uint32_t)get64(el + 4) & 0xFFFFFFFFu;
    f[4 * PAGE + 16 + pos + 1] = '2';
    uint8_t *br = leaf_elem(f, 5, 1);
    uint32_t bpos = (uint32_t)get64(br) & 0xFFFFFFFFu;
    f[5 * PAGE + 16 + 16 + bpos + 1] = '2';
}
static void m_duplicate_child(uint8_t *f, size_t *len) { put64(leaf_elem(f, 5, 1) + 8, 3); }
static void m_self_cycle(uint8_t *f, size_t *len) { put64(leaf_elem(f, 5, 0) + 8, 5); }
static void m_bucket_to_root(uint8_t *f, size_t *len)
{
    /* Root leaf element 3 is "d" (non-inline): point it at the root page. */
    uint8_t *el = leaf_elem(f, 7, 3);
    uint32_t pos = (uint32_t)get64(el + 4) & 0xFFFFFFFFu;
    put64(f + 7 * PAGE + 16 + 3 * 16 + pos + 1, 7);
}
static void m_bucket_to_meta(uint8_t *f, size_t *len)
{
    uint8_t *el = leaf_elem(f, 7, 3);
    uint32_t pos = (uint32_t)get64(el + 4) & 0xFFFFFFFFu;
    put64(f + 7 * PAGE + 16 + 3 * 16 + pos + 1, 1);
}
static void m_bucket_to_freelist(uint8_t *f, size_t *len)
{
    uint8_t *el = leaf_elem(f, 7, 3);
    uint32_t pos = (uint32_t)get64(el + 4) & 0xFFFFFFFFu;
    put64(f + 7 * PAGE + 16 + 3 * 16 + pos + 1, 2);
}
static void m_freelist_reachable(uint8_t *f, size_t *len)
{
    put16(f + 2 * PAGE + 10, 1);
    put64(f + 2 * PAGE + 16, 3);
}
static void m_freelist_meta(uint8_t *f, size_t *len)
{
    put16(f + 2 * PAGE + 10, 1);
    put64(f + 2 * PAGE + 16, 0);
}
static void m_freelist_itself(uint8_t *f, size_t *len)
{
    put16(f + 2 * PAGE + 10, 1);
    put64(f + 2 * PAGE + 16, 2);
}
static void m_freelist_count_overrun(uint8_t *f, size_t *len) { put16(f + 2 * PAGE + 10, 600); }
static void m_freelist_escape_huge(uint8_t *f, size_t *len)
{
    put16(f + 2 * PAGE + 10, 0xFFFF);
    put64(f + 2 * PAGE + 16, UINT64_MAX / 4);
}
/* One extra page at the end, pgid raised to cover it. */
static void add_page(uint8_t *f, size_t *len)
{
    memset(f + *len, 0, PAGE);
    *len += PAGE;
    set_meta64(f, 40, *len / PAGE);
}
static void m_unreachable_unfreed(uint8_t *f, size_t *len) { add_page(f, len); }
static void m_freelist_duplicate(uint8_t *f, size_t *len)
{
    add_page(f, len);
    put16(f + 2 * PAGE + 10, 2);
    put64(f + 2 * PAGE + 16, 8);
    put64(f + 2 * PAGE + 24, 8);
}
static void m_freelist_beyond_pgid(uint8_t *f, size_t *len)
{
    put16(f + 2 * PAGE + 10, 1);
    put64(f + 2 * PAGE + 16, 8);
}
/* Root leaf element 0 is the inline bucket "a": its value, and the field
 * holding the value's size. */
static uint8_t *inline_a_value(uint8_t *f)
{
    uint32_t pos = (uint32_t)get64(leaf_elem(f, 7, 0) + 4) & 0xFFFFFFFFu;
    return f + 7 * PAGE + 16 + pos + 1; /* key "a" is 1 byte */
}
static uint8_t *inline_a_vsize(uint8_t *f) { return leaf_elem(f, 7, 0) + 12; }
static void m_inline_too_short(uint8_t *f, size_t *len) { put32(inline_a_vsize(f), 20); }
static void m_bucket_value_under_16(uint8_t *f, size_t *len) { put32(inline_a_vsize(f), 8); }
static void m_inline_flags(uint8_t *f, size_t *len) { put16(inline_a_value(f) + 16 + 8, 0x01); }
static void m_inline_overflow(uint8_t *f, size_t *len) { put32(inline_a_value(f) + 16 + 12, 1); }
static void m_inline_count(uint8_t *f, size_t *len) { put16(inline_a_value(f) + 16 + 10, 40); }
static void m_inline_elem_out(uint8_t *f, size_t *len)
{
    put32(inline_a_value(f) + 32 + 16 + 12, 2000); /* element 1's vsize */
}
static void m_inline_sub_bucket(uint8_t *f, size_t *len)
{
    put32(inline_a_value(f) + 32, 1); /* element 0 flags = bucket */
}
static void m_leaf_flag_2(uint8_t *f, size_t *len) { put32(leaf_elem(f, 3, 0), 2); }
static void m_root_plain_value(uint8_t *f, size_t *len) { put32(leaf_elem(f, 7, 1), 0); }
static void m_branch_count_zero(uint8_t *f, size_t *len) { put16(f + 5 * PAGE + 10, 0); }
static void m_empty_leaf_under_branch(uint8_t *f, size_t *len) { put16(f + 4 * PAGE + 10, 0); }
static void m_overflow_past_pgid(uint8_t *f, size_t *len) { put32(f + 6 * PAGE + 12, 5); }
static void m_meta_header_flags(uint8_t *f, size_t *len) { put16(f + 8, 0x02); }
static void m_meta_page_sizes_differ(uint8_t *f, size_t *len)
{
    /* meta 0 (current) keeps 4096; meta 1 is broken so meta 0 is used... and
     * meta 0 is invalidated: bbolt then uses 4096 and meta 1, whose own page
     * size says 8192. */
    f[16 + 56] ^= 1;
    put32(f + PAGE + 16 + 8, 8192);
    reseal_meta(f, 1);
}

static void m_zero_checksum_current(uint8_t *f, size_t *len) { put64(f + 16 + 56, 0); }

static const struct {
    const char *name;
    mutation fn;
    const char *substr;
} hostile[] = {
    {"empty-file", m_empty, "shorter than one"},
    {"under-4096", m_tiny, "shorter than one"},
    {"both-checksums", m_bad_checksums, "neither meta"},
    {"truncated-page", m_truncate, "high-water mark"},
    {"truncated-bytes", m_truncate_partial, "high-water mark"},
    {"wrong-magic", m_magic, "neither meta"},
    {"version-1", m_version1, "neither meta"},
    {"page-size-1000", m_page_size_1000, "power of two"},
    {"page-size-256", m_page_size_256, "power of two"},
    {"meta-page-sizes-differ", m_meta_page_sizes_differ, "page size"},
    {"meta-header-flags", m_meta_header_flags, "meta page header"},
    {"zero-checksum-current", m_zero_checksum_current, "page 0: meta checksum is zero"},
    {"root-ge-pgid", m_root_ge_pgid, "root page 8"},
    {"root-is-meta", m_root_is_meta, "root page 1"},
    {"pgid-beyond-file", m_pgid_beyond_file, "high-water mark"},
    {"pgid-huge", m_pgid_huge, "high-water mark"},
    {"freelist-ge-pgid", m_freelist_ge_pgid, "freelist page 8"},
    {"freelist-not-a-freelist", m_freelist_not_freelist, "page 6: freelist page has flags"},
    {"header-id-mismatch", m_header_id, "page 3: header says page 9"},
    {"flags-0x08", m_flags_08, "page 6: flags 0x8"},
    {"branch-flags-meta", m_branch_as_meta, "page 5: flags 0x4"},
    {"pos-past-page", m_pos_past_page, "page 3: element 0 key out of bounds"},
    {"pos-max", m_pos_max, "page 3: element 1 key out of bounds"},
    {"ksize-huge", m_ksize_huge, "page 3: element 0 key of"},
    {"ksize-over-page", m_ksize_over_page, "page 3: element 0 key out of bounds"},
    {"vsize-huge", m_vsize_huge, "page 3: element 1 value out of bounds"},
    {"ksize-zero", m_ksize_zero, "page 3: element 0 has an empty key"},
    {"branch-ksize-huge", m_branch_ksize_huge, "page 5: element 1 key"},
    {"count-huge", m_count_huge, "page 3: 65535 elements do not fit"},
    {"keys-out-of-order", m_keys_out_of_order, "page 3: element 1 key out of order"},
    {"duplicate-key", m_duplicate_key, "page 3: element 1 key out of order"},
    {"branch-key-mismatch", m_branch_key_mismatch, "page 4: first key differs"},
    {"order-across-pages", m_order_across_pages, "out of order"},
    {"duplicate-child", m_duplicate_child, "page 3: referenced more than once"},
    {"self-cycle", m_self_cycle, "page 5: element 0 points at its own page"},
    {"bucket-to-root", m_bucket_to_root, "page 7: referenced more than once"},
    {"bucket-to-meta", m_bucket_to_meta, "page 1: bucket tree points at a meta page"},
    {"bucket-to-freelist", m_bucket_to_freelist, "page 2: flags 0x10"},
    {"freelist-lists-reachable", m_freelist_reachable, "page 3: reachable but listed"},
    {"freelist-lists-meta", m_freelist_meta, "outside [2, 8)"},
    {"freelist-lists-itself", m_freelist_itself, "freelist lists its own page 2"},
    {"freelist-beyond-pgid", m_freelist_beyond_pgid, "outside [2, 8)"},
    {"freelist-count-overrun", m_freelist_count_overrun, "does not fit"},
    {"freelist-escape-huge", m_freelist_escape_huge, "does not fit"},
    {"freelist-duplicate", m_freelist_duplicate, "page 2: freelist lists page 8 twice"},
    {"unreachable-unfreed", m_unreachable_unfreed, "page 8: neither reachable nor in the freelist"},
    {"inline-too-short", m_inline_too_short, "inline bucket value of 20 bytes is too short"},
    {"bucket-value-under-16", m_bucket_value_under_16, "shorter than 16"},
    {"inline-flags", m_inline_flags, "(inline bucket): element 0: flags 0x1"},
    {"inline-overflow", m_inline_overflow, "inline page has overflow"},
    {"inline-count", m_inline_count, "(inline bucket): 40 elements do not fit"},
    {"inline-element-out", m_inline_elem_out, "(inline bucket): element 1 value out of bounds"},
    {"inline-sub-bucket", m_inline_sub_bucket, "inline bucket holds a sub-bucket"},
    {"leaf-flag-2", m_leaf_flag_2, "page 3: element 0 has flags 0x2"},
    {"root-plain-value", m_root_plain_value, "root bucket holds a plain value"},
    {"branch-count-zero", m_branch_count_zero, "page 5: branch page without elements"},
    {"empty-leaf-under-branch", m_empty_leaf_under_branch, "page 4: empty leaf below a branch"},
    {"overflow-past-pgid", m_overflow_past_pgid, "page 6: 5 overflow pages"},
};

static void test_hostile_files(void **state)
{
    size_t len0;
    uint8_t *base = small_file(&len0);
    uint8_t *buf = malloc(len0 + PAGE);
    assert_non_null(buf);
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        memcpy(buf, base, len0);
        size_t len = len0;
        hostile[i].fn(buf, &len);
        expect_invalid(hostile[i].name, buf, len, hostile[i].substr);
    }
    free(buf);
    free(base);
}

static void test_meta_fallback_and_freelist(void **state)
{
    size_t len;
    uint8_t *base = small_file(&len);
    uint8_t *buf = malloc(len + PAGE);
    assert_non_null(buf);
    char path[512];
    tsv_error err = {0};
    char *want;
    {
        tsv_bolt_file *f = NULL;
        next_path(path, sizeof path, "small-ref");
        harness_write_bytes(path, base, len);
        f = bolt_open_ok(path);
        want = walk_dump_of(f);
        tsv_bolt_close(f);
    }

    /* Newer meta (0, txid 2) corrupt: fall back to meta 1, same tree. */
    memcpy(buf, base, len);
    buf[16 + 20] ^= 0x40;
    next_path(path, sizeof path, "meta0-corrupt");
    harness_write_bytes(path, buf, len);
    tsv_bolt_file *f = bolt_open_ok(path);
    assert_int_equal(tsv_bolt_txid(f), 1);
    char *got = walk_dump_of(f);
    assert_string_equal(got, want);
    free(got);
    tsv_bolt_close(f);
    independent_check(path, want, 0);

    /* Older meta corrupt: meta 0 as usual. */
    memcpy(buf, base, len);
    memset(buf + PAGE + 16, 0xAB, 64);
    assert_int_equal(try_open("meta1-corrupt", buf, len, &err, NULL), 0);

    /* A zero checksum on the older meta does not matter. */
    memcpy(buf, base, len);
    put64(buf + PAGE + 16 + 56, 0);
    assert_int_equal(try_open("meta1-zero-checksum", buf, len, &err, NULL), 0);

    /* A free page that is listed in the freelist is fine (and bbolt agrees). */
    memcpy(buf, base, len);
    size_t l2 = len;
    add_page(buf, &l2);
    put16(buf + 2 * PAGE + 10, 1);
    put64(buf + 2 * PAGE + 16, 8);
    next_path(path, sizeof path, "freelist-one-free");
    harness_write_bytes(path, buf, l2);
    f = bolt_open_ok(path);
    assert_int_equal(tsv_bolt_high_water(f), 9);
    tsv_bolt_close(f);
    independent_check(path, want, 1);

    /* The 0xFFFF count escape form of the same freelist. */
    put16(buf + 2 * PAGE + 10, 0xFFFF);
    put64(buf + 2 * PAGE + 16, 1);
    put64(buf + 2 * PAGE + 24, 8);
    assert_int_equal(try_open("freelist-escape", buf, l2, &err, NULL), 0);

    /* No stored freelist: unreachable pages count as free, as in bbolt. */
    memcpy(buf, base, len);
    l2 = len;
    add_page(buf, &l2);
    set_meta64(buf, 32, UINT64_MAX);
    put16(buf + 2 * PAGE + 8, 0); /* page 2 is just a free page now */
    assert_int_equal(try_open("no-freelist", buf, l2, &err, NULL), 0);

    /* Trailing bytes past pgid * P are ignored, as bbolt does. */
    memcpy(buf, base, len);
    memset(buf + len, 0xEE, PAGE);
    assert_int_equal(try_open("trailing-page", buf, len + 100, &err, NULL), 0);

    free(want);
    free(buf);
    free(base);
}

/* Hand-built files for limits the writer refuses to produce. */
static uint8_t *raw_file(unsigned npages)
{
    uint8_t *f = calloc(npages, PAGE);
    assert_non_null(f);
    for (unsigned p = 0; p < 2; p++) {
        uint8_t *pg = f + (size_t)p * PAGE;
        put64(pg, p);
        put16(pg + 8, 0x04);
        put32(pg + 16, 0xED0CDAEDu);
        put32(pg + 20, 2);
        put32(pg + 24, PAGE);
        put64(pg + 32, 3);      /* root */
        put64(pg + 48, 2);      /* freelist */
        put64(pg + 56, npages); /* pgid */
        put64(pg + 64, 2 - p);  /* txid */
        reseal_meta(f, p);
    }
    put64(f + 2 * PAGE, 2);
    put16(f + 2 * PAGE + 8, 0x10);
    return f;
}

/* A leaf page with one bucket element "k": child page, or 0 = an empty
 * inline bucket. */
static void raw_bucket_leaf(uint8_t *f, unsigned page, uint64_t child)
{
    uint8_t *pg = f + (size_t)page * PAGE;
    put64(pg, page);
    put16(pg + 8, 0x02);
    put16(pg + 10, 1);
    put32(pg + 16, 1);               /* bucket flag */
    put32(pg + 20, 16);              /* key right after the element */
    put32(pg + 24, 1);               /* ksize */
    put32(pg + 28, child ? 16 : 32); /* vsize */
    pg[32] = 'k';
    put64(pg + 33, child);
    if (!child)
        put16(pg + 33 + 16 + 8, 0x02); /* empty inline leaf */
}

/* A branch page with one element "k" -> child. */
static void raw_branch(uint8_t *f, unsigned page, uint64_t child)
{
    uint8_t *pg = f + (size_t)page * PAGE;
    put64(pg, page);
    put16(pg + 8, 0x01);
    put16(pg + 10, 1);
    put32(pg + 16, 16);
    put32(pg + 20, 1);
    put64(pg + 24, child);
    pg[32] = 'k';
}

static void test_depth_limits(void **state)
{
    tsv_error err = {0};
    /* Buckets nested `levels` deep, each level a page of its own except the
     * innermost (inline): pages 3 .. levels+2. */
    for (unsigned levels = 64; levels <= 65; levels++) {
        unsigned npages = levels + 3;
        uint8_t *f = raw_file(npages);
        for (unsigned d = 0; d < levels; d++)
            raw_bucket_leaf(f, 3 + d, d + 1 < levels ? 3 + d + 1 : 0);
        char path[512];
        int rc = try_open("nested", f, (size_t)npages * PAGE, &err, path);
        if (levels == 64) {
            if (rc != 0)
                fail_msg("64 levels: %s", err.message);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(err.code, TSV_EINVALID);
            assert_non_null(strstr(err.message, "nested deeper than 64"));
        }
        free(f);
    }
    /* One bucket whose B+tree is a chain of single-element branches. */
    for (unsigned levels = 40; levels <= 41; levels++) {
        unsigned npages = levels + 3;
        uint8_t *f = raw_file(npages);
        for (unsigned d = 0; d + 1 < levels; d++)
            raw_branch(f, 3 + d, 3 + d + 1);
        raw_bucket_leaf(f, 3 + levels - 1, 0);
        char path[512];
        next_path(path, sizeof path, "branch-chain");
        harness_write_bytes(path, f, (size_t)npages * PAGE);
        tsv_bolt_file *bf = NULL;
        int rc = tsv_bolt_open(&bf, path, &err);
        if (levels == 40) {
            if (rc != 0)
                fail_msg("40 tree levels: %s", err.message);
            char *d = walk_dump_of(bf);
            assert_string_equal(d, "B 6b 0\n");
            tsv_bolt_close(bf);
            independent_check(path, d, 0);
            free(d);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(err.code, TSV_EINVALID);
            assert_non_null(strstr(err.message, "deeper than 40 levels"));
        }
        free(f);
    }
}

/* Flips random bytes; open must give a valid file or TSV_EINVALID. Some
 * accepted variants also go through bbolt: it must agree they are sound and
 * read the same tree. */
static void fuzz_file(const uint8_t *base, size_t len, int iterations, int *opened)
{
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    for (int iter = 0; iter < iterations; iter++) {
        memcpy(buf, base, len);
        int flips = 1 + (int)(rng() % 6);
        for (int j = 0; j < flips; j++) {
            size_t pos;
            if (rng() % 2) /* headers, elements and metas are where it matters */
                pos = (size_t)(rng() % (len / PAGE)) * PAGE + (size_t)(rng() % 96);
            else
                pos = (size_t)(rng() % len);
            buf[pos] = (uint8_t)rng();
        }
        char path[512];
        next_path(path, sizeof path, "fuzz");
        harness_write_bytes(path, buf, len);
        tsv_bolt_file *f = NULL;
        tsv_error err = {0};
        if (tsv_bolt_open(&f, path, &err) == 0) {
            char *d = walk_dump_of(f);
            tsv_bolt_close(f);
            if (++*opened % 25 == 1)
                independent_check(path, d, 0);
            free(d);
        } else if (err.code != TSV_EINVALID) {
            fail_msg("fuzz %d: code %d: %s", iter, err.code, err.message);
        }
        unlink(path);
    }
    free(buf);
}

static void test_fuzz_flips(void **state)
{
    size_t small_len, live_len;
    uint8_t *small = small_file(&small_len);
    uint8_t *live = harness_read_bytes(bolt_live, &live_len);
    rng_state = 20261121;
    int opened = 0;
    /* Thousands of "meta page N is invalid" warnings say nothing here. */
    tsv_log_level saved_level = tsv_log_get_level();
    tsv_log_set_level(TSV_LOG_ERROR);
    fuzz_file(small, small_len, 1000, &opened);
    /* The live file adds a real freelist, free pages and a current meta 1. */
    fuzz_file(live, live_len, 1000, &opened);
    tsv_log_set_level(saved_level);
    /* Some flips land in padding or values and leave a valid file. */
    assert_true(opened > 0);
    assert_true(opened < 2000);
    free(small);
    free(live);
}

static void test_open_missing(void **state)
{
    tsv_bolt_file *f = (tsv_bolt_file *)1;
    tsv_error err = {0};
    assert_int_equal(tsv_bolt_open(&f, "/nonexistent/tsvault.bolt", &err), -1);
    assert_null(f);
    assert_int_equal(err.code, TSV_ENOTFOUND);
    assert_int_equal(tsv_bolt_open(&f, bolt_tmpdir, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_live_file),
        cmocka_unit_test(test_real_backup_file),
        cmocka_unit_test(test_roundtrip_real_files),
        cmocka_unit_test(test_roundtrip_small_and_minimal),
        cmocka_unit_test(test_roundtrip_generated),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_writer_rejects_bad_input),
        cmocka_unit_test(test_writer_source_changed),
        cmocka_unit_test(test_writer_output_error),
        cmocka_unit_test(test_walk_stops_on_callback_error),
        cmocka_unit_test(test_hostile_files),
        cmocka_unit_test(test_meta_fallback_and_freelist),
        cmocka_unit_test(test_depth_limits),
        cmocka_unit_test(test_fuzz_flips),
        cmocka_unit_test(test_open_missing),
    };
    return cmocka_run_group_tests_name("bolt", tests, bolt_fixture_setup, bolt_fixture_teardown);
}
