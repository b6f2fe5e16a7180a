/*
 * test_kv_bolt: bolt -> LMDB -> bolt -> LMDB is lossless (storage/kv_import.h).
 *
 * For both real InfluxDB files and for generated trees (branch pages on
 * several levels, overflow values of 20 KB and 100 KB, inline and paged
 * buckets, buckets nested 5 deep, empty buckets, non-zero and maximal
 * sequences, a non-zero root sequence), every step is compared exactly:
 *
 *   source.bolt --tsv_kv_import_bolt--> KV1 --tsv_kv_export_bolt--> e1.bolt
 *               --import--> KV2 --export--> e2.bolt
 *
 * The oracle is a canonical text dump in the format of tests/tools/boltcheck
 * ("B <path> <seq>" / "K <path> <hexkey> <hexval>"): for generated trees it
 * is computed from the in-memory model, for real files from our reader and,
 * independently, from bbolt itself. Each KV is dumped through the KV cursor
 * API; each bolt file through our reader AND through $TSV_BOLTCHECK (bbolt
 * 1.3.6: tx.Check() must report nothing, its dump must be byte-identical to
 * the source's). Root sequences are compared separately (the dump has no
 * line for the root). e1 and e2 must be byte-identical, and the exported
 * file's page structure is scanned to prove the generated tree really
 * exercised branch, overflow, inline and nested pages.
 *
 * The test fails if the checker is missing, unless TSV_ALLOW_NO_GO=1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include <errno.h>
#include <limits.h>
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
#include "kv.h"
#include "kv_import.h"
#include "kv_stage.h"

#ifndef TSV_TESTDATA
#error "TSV_TESTDATA must be defined by the build"
#endif

#define PAGE BOLT_PAGE

static int counter;

/* ---- files ---------------------------------------------------------------- */

static void next_path(char *out, size_t len, const char *what, const char *ext)
{
    snprintf(out, len, "%s/%03d-%s%s", bolt_tmpdir, counter++, what, ext);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* ---- the in-memory model (the oracle for generated trees) ---------------- */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void) { return harness_rng(&rng_state); }

static void mb_random(mem_bucket *b, const void *key, size_t klen, size_t vlen)
{
    uint8_t *v = malloc(vlen ? vlen : 1);
    assert_non_null(v);
    for (size_t i = 0; i < vlen; i++)
        v[i] = (uint8_t)rng();
    mb_put(b, key, klen, v, vlen);
    free(v);
}

static mem_bucket *mb_subs(mem_bucket *b, const char *name, uint64_t seq)
{
    return mb_sub(b, name, strlen(name), seq);
}

/* ---- the dump of a KV (cursor API) ------------------------------------------ */

static void kv_dump_rec(tsv_kv_txn *t, uint64_t bucket, sbuf *out, sbuf *path)
{
    tsv_kv_cursor *c;
    OK(tsv_kv_cursor_open(t, bucket, &c, &E));
    tsv_kv_entry e;
    tsv_error err = {0};
    int rc;
    while ((rc = tsv_kv_cursor_next(c, &e, &err)) == 1) {
        if (e.is_bucket) {
            size_t saved = path_push(path, e.key, e.klen);
            line_bucket(out, path, e.sequence);
            uint64_t seq = 0;
            OK(tsv_kv_sequence(t, e.child, &seq, &E));
            assert_int_equal(seq, e.sequence);
            kv_dump_rec(t, e.child, out, path);
            path_pop(path, saved);
        } else {
            line_value(out, path, e.key, e.klen, e.val, e.vlen);
        }
    }
    if (rc != 0)
        fail_msg("cursor_next: %s", err.message);
    tsv_kv_cursor_close(c);
}

static char *kv_dump(tsv_kv *kv, uint64_t *root_seq)
{
    tsv_kv_txn *t;
    OK(tsv_kv_begin(kv, 0, &t, &E));
    OK(tsv_kv_root_sequence(t, root_seq, &E));
    sbuf out = {0}, path = {0};
    sb_str(&out, "");
    kv_dump_rec(t, TSV_KV_ROOT, &out, &path);
    tsv_kv_abort(t);
    sb_free(&path);
    return (char *)out.p;
}

/* Lines of a dump: buckets ("B ") and all entries (values + bucket keys). */
static void dump_counts(const char *d, uint64_t *entries, uint64_t *buckets)
{
    *entries = *buckets = 0;
    for (const char *p = d; *p;) {
        if (p[0] == 'B')
            (*buckets)++;
        (*entries)++;
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        p = nl + 1;
    }
}

/* ---- KV steps ----------------------------------------------------------------- */

static tsv_kv *fresh_kv(const char *what)
{
    char dir[600];
    next_path(dir, sizeof dir, what, ".kv");
    tsv_kv *kv = NULL;
    OK(tsv_kv_open(&kv, dir, 0, &E));
    uint64_t entries = 1, buckets = 1;
    OK(tsv_kv_stat(kv, &entries, &buckets, &E));
    assert_int_equal(entries, 0);
    assert_int_equal(buckets, 0);
    return kv;
}

static void import_file(tsv_kv *kv, const char *path)
{
    tsv_bolt_file *f = bolt_open_ok(path);
    tsv_error err = {0};
    if (tsv_kv_import_bolt(kv, f, &err) != 0)
        fail_msg("import %s: %s", path, err.message);
    tsv_bolt_close(f);
}

static void export_file(tsv_kv *kv, const char *path)
{
    tsv_kv_txn *t;
    OK(tsv_kv_begin(kv, 0, &t, &E));
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint64_t written = 0;
    tsv_error err = {0};
    if (tsv_kv_export_bolt(t, out_file, fp, &written, &err) != 0)
        fail_msg("export %s: %s", path, err.message);
    tsv_kv_abort(t);
    assert_int_equal(fclose(fp), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, written);
    assert_int_equal(written % PAGE, 0);
}

/* ---- page structure of a file we wrote ---------------------------------- */

typedef struct shape {
    int branch_pages;
    int branch_over_branch; /* branch pages whose children are branches: 3+ levels */
    int leaf_pages;
    int overflow_pages; /* logical pages spanning more than one page */
    int inline_buckets;
    int paged_buckets;
} shape;

/* Our writer leaves no free pages: every page from 3 up is a node. */
static shape scan_shape(const char *path)
{
    size_t len;
    uint8_t *f = harness_read_bytes(path, &len);
    tsv_bolt_file *bf = NULL;
    tsv_error err = {0};
    if (tsv_bolt_open(&bf, path, &err) != 0)
        fail_msg("open %s: %s", path, err.message);
    uint64_t hw = tsv_bolt_high_water(bf);
    tsv_bolt_close(bf);
    assert_true(hw * PAGE <= len);
    shape s = {0};
    for (uint64_t p = 3; p < hw;) {
        const uint8_t *pg = f + p * PAGE;
        assert_int_equal(le64(pg), p);
        uint16_t flags = le16(pg + 8), count = le16(pg + 10);
        uint32_t ovf = le32(pg + 12);
        if (ovf)
            s.overflow_pages++;
        if (flags == 0x01) {
            s.branch_pages++;
            int over = 0;
            for (unsigned i = 0; i < count; i++) {
                uint64_t child = le64(pg + 16 + 16 * i + 8);
                assert_true(child < hw);
                if (le16(f + child * PAGE + 8) == 0x01)
                    over = 1;
            }
            s.branch_over_branch += over;
        } else {
            assert_int_equal(flags, 0x02);
            s.leaf_pages++;
            for (unsigned i = 0; i < count; i++) {
                const uint8_t *el = pg + 16 + 16 * i;
                if (!(le32(el) & 1))
                    continue;
                const uint8_t *val = el + le32(el + 4) + le32(el + 8);
                if (le64(val) == 0)
                    s.inline_buckets++;
                else
                    s.paged_buckets++;
            }
        }
        p += 1 + ovf;
    }
    free(f);
    return s;
}

/* ---- the round trip ------------------------------------------------------------ */

/* source -> KV1 -> e1 -> KV2 -> e2, everything compared with `want` (the
 * oracle dump) and want_root (root sequence). Returns e1's path in e1_out. */
static void roundtrip(const char *what, const char *source, const char *want, uint64_t want_root,
                      char *e1_out, size_t e1_len)
{
    uint64_t rs = 0;
    char *d = bolt_file_dump(source, &rs);
    assert_dump_equal("source (our reader) vs oracle", want, d);
    assert_int_equal(rs, want_root);
    free(d);
    char *go_src = go_dump(source, 0);
    if (go_src)
        assert_dump_equal("source: bbolt dump vs oracle", want, go_src);

    uint64_t want_entries, want_buckets;
    dump_counts(want, &want_entries, &want_buckets);

    const char *prev = source;
    char exported[2][600];
    for (int round = 0; round < 2; round++) {
        tsv_kv *kv = fresh_kv(what);
        import_file(kv, prev);
        d = kv_dump(kv, &rs);
        assert_dump_equal(round ? "KV2 vs oracle" : "KV1 vs oracle", want, d);
        assert_int_equal(rs, want_root);
        free(d);
        uint64_t entries, buckets;
        OK(tsv_kv_stat(kv, &entries, &buckets, &E));
        assert_int_equal(entries, want_entries);
        assert_int_equal(buckets, want_buckets);

        next_path(exported[round], sizeof exported[round], what, ".bolt");
        export_file(kv, exported[round]);
        tsv_kv_close(kv);

        d = bolt_file_dump(exported[round], &rs);
        assert_dump_equal("export (our reader) vs oracle", want, d);
        assert_int_equal(rs, want_root);
        free(d);
        char *go = go_dump(exported[round], 0);
        if (go) {
            assert_dump_equal("export: bbolt dump vs oracle", want, go);
            assert_dump_equal("export: bbolt dump vs bbolt dump of the source", go_src, go);
        }
        free(go);
        prev = exported[round];
    }
    size_t l1, l2;
    uint8_t *b1 = harness_read_bytes(exported[0], &l1), *b2 = harness_read_bytes(exported[1], &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    free(b1);
    free(b2);

    /* bbolt can go on writing to our export (StrictMode commit on a copy). */
    char copy[600];
    next_path(copy, sizeof copy, what, "-rw.bolt");
    size_t n;
    uint8_t *bytes = harness_read_bytes(exported[0], &n);
    FILE *fp = fopen(copy, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    free(bytes);
    free(go_dump(copy, 1));

    free(go_src);
    if (e1_out)
        snprintf(e1_out, e1_len, "%s", exported[0]);
}

/* ---- real files ---------------------------------------------------------------- */

static void real_file(const char *what, const char *path, int top_buckets, int keys)
{
    uint64_t rs = 0;
    char *want = bolt_file_dump(path, &rs);
    uint64_t entries, buckets;
    dump_counts(want, &entries, &buckets);
    assert_int_equal(buckets, (uint64_t)top_buckets); /* no nested buckets in the samples */
    assert_int_equal(entries - buckets, (uint64_t)keys);
    roundtrip(what, path, want, rs, NULL, 0);
    free(want);
}

static void test_real_live(void **state) { real_file("live", bolt_live, 54, 41); }

static void test_real_backup(void **state) { real_file("backup", bolt_backup, 62, 51); }

/* ---- generated trees -------------------------------------------------------------- */

static mem_bucket *generate(void)
{
    char key[600];
    mem_bucket *root = mb_new(0xDEADBEEFCAFEull);

    /* Thousands of keys: many leaves under a branch. */
    mem_bucket *big = mb_subs(root, "big", 12345);
    for (int i = 0; i < 6000; i++) {
        snprintf(key, sizeof key, "key%08d", i * 7);
        mb_random(big, key, strlen(key), rng() % 300);
    }
    /* Long keys: branch pages hold few entries, so the tree has 3 levels. */
    mem_bucket *tall = mb_subs(root, "tall", 3);
    for (int i = 0; i < 2500; i++) {
        memset(key, 't', 200);
        snprintf(key + 190, 11, "%010d", i);
        mb_random(tall, key, 200, 8);
    }
    /* Overflow values among small ones. */
    mem_bucket *ov = mb_subs(root, "overflow", UINT64_MAX);
    mb_puts(ov, "a", "small");
    mb_random(ov, "b20k", 4, 20000);
    mb_random(ov, "c100k", 5, 100 * 1024);
    mb_random(ov, "d4081", 5, PAGE - 16 - 16 - 5 + 1);
    mb_put(ov, "e-empty", 7, "", 0);
    /* Inline buckets and the inline size boundary (16 + 16 + 1 + v <= 1024). */
    mem_bucket *in = mb_subs(root, "inline", 1);
    mb_puts(in, "x", "1");
    mb_puts(in, "y", "2");
    mb_put(in, "z", 1, "", 0);
    mb_random(mb_subs(root, "inline-1024", 0), "x", 1, 1024 - 16 - 16 - 1);
    mb_random(mb_subs(root, "inline-1025", 0), "x", 1, 1025 - 16 - 16 - 1);
    /* Nested 5 deep: values, sequences and an empty bucket at every level,
     * an overflow value at depth 3 and a paged bucket at depth 4. */
    mem_bucket *lv = mb_subs(root, "nest", 1);
    for (int depth = 1; depth <= 5; depth++) {
        snprintf(key, sizeof key, "value-at-%d", depth);
        mb_puts(lv, key, key);
        snprintf(key, sizeof key, "empty-at-%d", depth);
        mb_subs(lv, key, (uint64_t)depth * 100);
        if (depth == 3)
            mb_random(lv, "big-at-3", 8, 20000);
        if (depth == 4)
            for (int i = 0; i < 300; i++) {
                snprintf(key, sizeof key, "deep%04d", i);
                mb_random(lv, key, strlen(key), 40);
            }
        if (depth < 5) {
            snprintf(key, sizeof key, "level-%d", depth + 1);
            lv = mb_subs(lv, key, (uint64_t)depth + 1);
        }
    }
    /* Empty buckets, and a bucket whose only child is empty. */
    mb_subs(root, "empty", 0);
    mb_subs(root, "empty-seq", 99);
    mb_subs(mb_subs(root, "only-empty-child", 5), "child", 6);
    /* Binary keys and names, and the longest key the KV holds. */
    mem_bucket *bin = gen_binary_bucket(root, mb_random);
    memset(key, 'm', TSV_KV_MAX_KEY);
    mb_random(bin, key, TSV_KV_MAX_KEY, 5000);
    key[TSV_KV_MAX_KEY - 1] = 'n';
    mb_sub(bin, key, TSV_KV_MAX_KEY, 7);
    gen_top_buckets(root, 300, mb_random);
    mb_sort(root);
    return root;
}

static void test_generated(void **state)
{
    mem_bucket *root = generate();
    char *want = model_dump(root);
    char src[600], e1[600];
    next_path(src, sizeof src, "generated-source", ".bolt");
    write_tree_ok(src, root);
    roundtrip("generated", src, want, root->sequence, e1, sizeof e1);

    /* Prove the tree exercised what it is meant to. */
    shape s = scan_shape(e1);
    assert_true(s.branch_pages >= 3);
    assert_true(s.branch_over_branch >= 1);
    assert_true(s.overflow_pages >= 4);
    assert_true(s.inline_buckets >= 300);
    assert_true(s.paged_buckets >= 10);
    free(want);
    mb_free(root);
}

static void test_small_trees(void **state)
{
    /* Empty root with a root sequence; one empty bucket; a nested chain;
     * the deepest nesting bolt, the writer and the import allow (64). */
    mem_bucket *roots[4];
    roots[0] = mb_new(1);
    roots[1] = mb_new(0);
    mb_subs(roots[1], "only", 0);
    roots[2] = mb_new(UINT64_MAX);
    mem_bucket *b = roots[2];
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof name, "d%d", i);
        b = mb_subs(b, name, (uint64_t)i * 1000);
    }
    roots[3] = mb_new(64);
    b = roots[3];
    for (int i = 1; i <= 64; i++) {
        char name[16];
        snprintf(name, sizeof name, "depth-%02d", i);
        b = mb_subs(b, name, (uint64_t)i);
        mb_puts(b, "at", name);
    }
    for (int i = 0; i < 4; i++) {
        mb_sort(roots[i]);
        char *want = model_dump(roots[i]);
        char src[600];
        next_path(src, sizeof src, "small-source", ".bolt");
        write_tree_ok(src, roots[i]);
        roundtrip("small", src, want, roots[i]->sequence, NULL, 0);
        free(want);
        mb_free(roots[i]);
    }
}

/* A key the KV cannot hold: the import fails as a whole, nothing remains. */
static void test_import_refuses_long_key(void **state)
{
    mem_bucket *root = mb_new(5);
    mem_bucket *a = mb_subs(root, "a", 1);
    mb_puts(a, "ok", "fine");
    char key[TSV_KV_MAX_KEY + 1];
    memset(key, 'k', sizeof key);
    mb_put(mb_subs(root, "b", 2), key, sizeof key, "x", 1);
    mb_sort(root);
    char src[600];
    next_path(src, sizeof src, "long-key", ".bolt");
    write_tree_ok(src, root);

    tsv_kv *kv = fresh_kv("long-key");
    tsv_bolt_file *f = NULL;
    OK(tsv_bolt_open(&f, src, &E));
    tsv_error err = {0};
    assert_int_equal(tsv_kv_import_bolt(kv, f, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    tsv_bolt_close(f);
    uint64_t rs = 1;
    char *d = kv_dump(kv, &rs);
    assert_string_equal(d, "");
    assert_int_equal(rs, 0);
    free(d);
    tsv_kv_close(kv);
    mb_free(root);
}

/* Many import batches, with boundaries inside nested buckets and a return
 * to the parent after them: the KV still equals the source exactly. */
static mem_bucket *batched_tree(size_t *payload)
{
    char key[64];
    mem_bucket *root = mb_new(77);
    mem_bucket *outer = mb_subs(root, "outer", 5);
    *payload = 0;
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "a%06d", i);
        mb_random(outer, key, strlen(key), 700);
        *payload += strlen(key) + 700;
    }
    mem_bucket *inner = mb_subs(outer, "b-inner", 9);
    mem_bucket *deep = mb_subs(inner, "deep", 11);
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "k%06d", i);
        mb_random(i % 2 ? inner : deep, key, strlen(key), 300 + (size_t)(i % 7) * 100);
        *payload += strlen(key) + 300 + (size_t)(i % 7) * 100;
    }
    mb_subs(inner, "z-empty", 3);
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "c%06d", i);
        mb_random(outer, key, strlen(key), 900);
        *payload += strlen(key) + 900;
    }
    mb_random(mb_subs(root, "overflow", 1), "big", 3, 3 * TSV_KV_IMPORT_BATCH);
    *payload += 3 * TSV_KV_IMPORT_BATCH;
    mb_sort(root);
    return root;
}

static void test_import_batches(void **state)
{
    size_t payload;
    mem_bucket *root = batched_tree(&payload);
    assert_true(payload > 10 * TSV_KV_IMPORT_BATCH);
    char *want = model_dump(root);
    char src[600];
    next_path(src, sizeof src, "batched-source", ".bolt");
    write_tree_ok(src, root);
    roundtrip("batched", src, want, root->sequence, NULL, 0);
    free(want);
    mb_free(root);
}

/* tsv_kv_stage_bolt: a durable environment equal to the file; on any
 * failure the directory it was to create does not exist. */
static void test_stage_bolt(void **state)
{
    size_t payload;
    mem_bucket *root = batched_tree(&payload);
    char *want = model_dump(root);
    char src[600], dir[600];
    next_path(src, sizeof src, "stage-source", ".bolt");
    write_tree_ok(src, root);

    next_path(dir, sizeof dir, "stage-ok", ".kv");
    tsv_kv *kv = NULL;
    OK(tsv_kv_stage_bolt(src, dir, &kv, &E));
    assert_non_null(kv);
    uint64_t rs = 0;
    char *d = kv_dump(kv, &rs);
    assert_dump_equal("staged KV vs oracle", want, d);
    assert_int_equal(rs, root->sequence);
    free(d);
    tsv_kv_close(kv);
    /* Reopens as an ordinary (durable) environment. */
    OK(tsv_kv_open(&kv, dir, 0, &E));
    d = kv_dump(kv, &rs);
    assert_dump_equal("reopened staged KV vs oracle", want, d);
    free(d);
    tsv_kv_close(kv);

    /* The directory exists already: refused, left alone. */
    tsv_error err = {0};
    kv = NULL;
    assert_int_equal(tsv_kv_stage_bolt(src, dir, &kv, &err), -1);
    assert_int_equal(err.code, TSV_EINTERNAL);
    assert_null(kv);
    assert_true(tsv_path_exists(dir));

    /* A damaged file (the root page's flags; the root page id is at offset
     * 32 of meta page 0, both metas name the same root): nothing created. */
    size_t n;
    uint8_t *bytes = harness_read_bytes(src, &n);
    uint64_t root_page = le64(bytes + 32);
    assert_true(root_page >= 2 && (root_page + 1) * PAGE <= n);
    bytes[root_page * PAGE + 8] = 0x99;
    char bad[600];
    next_path(bad, sizeof bad, "stage-bad", ".bolt");
    FILE *fp = fopen(bad, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    free(bytes);
    next_path(dir, sizeof dir, "stage-bad", ".kv");
    err = (tsv_error){0};
    assert_int_equal(tsv_kv_stage_bolt(bad, dir, &kv, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    assert_false(tsv_path_exists(dir));

    /* A key the KV cannot hold, after enough data for several batches:
     * refused before anything is written, nothing created. */
    char key[TSV_KV_MAX_KEY + 1];
    memset(key, 'k', sizeof key);
    mb_put(mb_subs(root, "zz-long", 1), key, sizeof key, "x", 1);
    mb_sort(root);
    next_path(bad, sizeof bad, "stage-long", ".bolt");
    write_tree_ok(bad, root);
    next_path(dir, sizeof dir, "stage-long", ".kv");
    err = (tsv_error){0};
    assert_int_equal(tsv_kv_stage_bolt(bad, dir, &kv, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    assert_false(tsv_path_exists(dir));
    free(want);
    mb_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_live),
        cmocka_unit_test(test_real_backup),
        cmocka_unit_test(test_generated),
        cmocka_unit_test(test_small_trees),
        cmocka_unit_test(test_import_refuses_long_key),
        cmocka_unit_test(test_import_batches),
        cmocka_unit_test(test_stage_bolt),
    };
    return cmocka_run_group_tests_name("kv_bolt", tests, bolt_fixture_setup, bolt_fixture_teardown);
}
