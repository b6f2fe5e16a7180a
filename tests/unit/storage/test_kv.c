/*
 * test_kv: the LMDB-backed bolt tree (storage/kv.h) and its bolt source.
 *
 * Every test gets a fresh mkdtemp directory under /tmp holding the store in
 * <tmp>/kv; it is closed and removed in teardown. Tree contents are compared
 * through a canonical serialization ("dump") so that reopen, compact copy
 * and the bolt source can be checked against the cursor API byte for byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include "bolt.h"
#include "fsutil.h"
#include "kv.h"
#include "kv_fixture.h"

typedef kv_fixture fixture;

static int setup(void **state)
{
    *state = kv_fixture_new("test-kv");
    return 0;
}

static int teardown(void **state)
{
    kv_fixture_free(*state);
    return 0;
}

static void reopen(fixture *f)
{
    tsv_kv_close(f->kv);
    f->kv = NULL;
    OK(tsv_kv_open(&f->kv, f->dir, 0, &E));
}

/* ---- helpers ------------------------------------------------------------ */

static uint64_t mkbucket(tsv_kv_txn *t, uint64_t parent, const char *name)
{
    uint64_t h = 0;
    OK(tsv_kv_bucket_create(t, parent, name, strlen(name), 0, 0, &h, &E));
    return h;
}

static void put_s(tsv_kv_txn *t, uint64_t b, const char *k, const char *v)
{
    OK(tsv_kv_put(t, b, k, strlen(k), v, strlen(v), &E));
}

static void expect_val(tsv_kv_txn *t, uint64_t b, const char *k, const char *v)
{
    const uint8_t *got;
    size_t n;
    OK(tsv_kv_get(t, b, k, strlen(k), &got, &n, &E));
    assert_int_equal(n, strlen(v));
    assert_memory_equal(got, v, n);
}

static void expect_stat(fixture *f, uint64_t entries, uint64_t buckets)
{
    uint64_t e, b;
    OK(tsv_kv_stat(f->kv, &e, &b, &E));
    assert_int_equal(e, entries);
    assert_int_equal(b, buckets);
}

typedef harness_buf buf;

static void buf_u64(buf *b, uint64_t v) { harness_buf_add(b, &v, sizeof v); }

/* One entry in canonical form; handles are deliberately not included (a
 * compact copy may keep them, but the tree is what must match). */
static void dump_entry(buf *out, int depth, const uint8_t *key, size_t klen, int is_bucket,
                       const uint8_t *val, size_t vlen, uint64_t seq)
{
    buf_u64(out, (uint64_t)depth);
    buf_u64(out, (uint64_t)is_bucket);
    buf_u64(out, klen);
    harness_buf_add(out, key, klen);
    if (is_bucket) {
        assert_null(val);
        buf_u64(out, seq);
    } else {
        buf_u64(out, vlen);
        harness_buf_add(out, val, vlen);
    }
}

static void dump_cursor(tsv_kv_txn *t, uint64_t bucket, int depth, buf *out)
{
    tsv_kv_cursor *c;
    OK(tsv_kv_cursor_open(t, bucket, &c, &E));
    tsv_kv_entry e;
    int rc;
    while ((rc = tsv_kv_cursor_next(c, &e, &E)) == 1) {
        dump_entry(out, depth, e.key, e.klen, e.is_bucket, e.val, e.vlen, e.sequence);
        if (e.is_bucket) {
            dump_cursor(t, e.child, depth + 1, out);
            buf_u64(out, UINT64_MAX); /* end of bucket */
        }
    }
    if (rc != 0)
        fail_msg("cursor_next: %s", E.message);
    tsv_kv_cursor_close(c);
}

static void dump_kv(tsv_kv *kv, buf *out)
{
    tsv_kv_txn *t;
    OK(tsv_kv_begin(kv, 0, &t, &E));
    uint64_t rs;
    OK(tsv_kv_root_sequence(t, &rs, &E));
    buf_u64(out, rs);
    dump_cursor(t, TSV_KV_ROOT, 0, out);
    tsv_kv_abort(t);
}

static void dump_source(const tsv_bolt_source *src, uint64_t bucket, int depth, buf *out)
{
    void *c;
    OK(src->cursor_open(src->ctx, bucket, &c, &E));
    tsv_bolt_entry e;
    int rc;
    while ((rc = src->cursor_next(c, &e, &E)) == 1) {
        dump_entry(out, depth, e.key, e.klen, e.is_bucket, e.is_bucket ? NULL : e.val, e.vlen,
                   e.sequence);
        if (e.is_bucket) {
            dump_source(src, e.child, depth + 1, out);
            buf_u64(out, UINT64_MAX);
        }
    }
    if (rc != 0)
        fail_msg("source cursor_next: %s", E.message);
    src->cursor_close(c);
}

static void assert_same_dump(const buf *a, const buf *b)
{
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->p, b->p, a->n);
}

/* A small but varied tree: nesting, empty buckets, binary keys, sequences. */
static void build_sample(tsv_kv *kv)
{
    tsv_kv_txn *t;
    OK(tsv_kv_begin(kv, 1, &t, &E));
    uint64_t a = 0, b, c, d, z;
    OK(tsv_kv_bucket_create(t, TSV_KV_ROOT, "a", 1, 5, 0, &a, &E));
    put_s(t, a, "k1", "v1");
    put_s(t, a, "k2", "");
    b = mkbucket(t, a, "b");
    put_s(t, b, "x", "in b");
    c = mkbucket(t, b, "c");
    OK(tsv_kv_set_sequence(t, c, 99, &E));
    d = mkbucket(t, c, "d");
    put_s(t, d, "deep", "value at depth 4");
    mkbucket(t, TSV_KV_ROOT, "empty");
    z = mkbucket(t, TSV_KV_ROOT, "z");
    const uint8_t k0[] = {0x00}, kff[] = {0xff, 0xff}, kmid[] = {'m', 0x00, 'n'};
    OK(tsv_kv_put(t, z, k0, sizeof k0, "zero", 4, &E));
    OK(tsv_kv_put(t, z, kff, sizeof kff, "ff", 2, &E));
    OK(tsv_kv_put(t, z, kmid, sizeof kmid, "\x00\x01\x02", 3, &E));
    OK(tsv_kv_set_sequence(t, TSV_KV_ROOT, 42, &E));
    OK(tsv_kv_commit(t, &E));
}

/* ---- tests ---------------------------------------------------------------- */

static void test_create_open_reopen(void **state)
{
    fixture *f = *state;
    expect_stat(f, 0, 0);
    build_sample(f->kv);
    buf before = {0}, after = {0};
    dump_kv(f->kv, &before);
    reopen(f);
    dump_kv(f->kv, &after);
    assert_same_dump(&before, &after);

    /* A second open of the same directory in one process is refused. */
    tsv_kv *again = NULL;
    FAILS(tsv_kv_open(&again, f->dir, 0, &E), TSV_ECONFLICT);
    assert_null(again);

    struct stat st;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(before.p);
    free(after.p);
}

/* Writes a raw LMDB env (not ours) with one named db holding one key. */
static void write_foreign_env(const char *dir, const char *db, const char *key, const char *val)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
    MDB_val k = {strlen(key), (void *)key}, v = {strlen(val), (void *)val};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_refuses_foreign_env(void **state)
{
    fixture *f = *state;
    char d1[PATH_MAX], d2[PATH_MAX], d3[PATH_MAX];
    snprintf(d1, sizeof d1, "%s/plain", f->tmp);
    snprintf(d2, sizeof d2, "%s/otherfmt", f->tmp);
    snprintf(d3, sizeof d3, "%s/nomarker", f->tmp);
    write_foreign_env(d1, NULL, "hello", "world");         /* data in the main db */
    write_foreign_env(d2, "info", "format", "other-kv-9"); /* wrong marker */
    write_foreign_env(d3, "info", "something", "else");    /* no marker */
    tsv_kv *kv = NULL;
    FAILS(tsv_kv_open(&kv, d1, 0, &E), TSV_EINTERNAL);
    assert_non_null(strstr(E.message, "not a tsvault KV store"));
    FAILS(tsv_kv_open(&kv, d2, 0, &E), TSV_EINTERNAL);
    assert_non_null(strstr(E.message, "other-kv-9"));
    FAILS(tsv_kv_open(&kv, d3, 0, &E), TSV_EINTERNAL);
    assert_non_null(strstr(E.message, "no format marker"));
    assert_null(kv);

    /* Refusal changed nothing: the foreign data is still there, no dbs added. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat ms;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, d2, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &ms), 0);
    assert_int_equal(ms.ms_entries, 1); /* only "info" */
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

static void test_nested_4_deep(void **state)
{
    fixture *f = *state;
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t h[4], parent = TSV_KV_ROOT;
    const char *names[4] = {"l1", "l2", "l3", "l4"};
    for (int i = 0; i < 4; i++) {
        h[i] = mkbucket(t, parent, names[i]);
        char k[16], v[16];
        snprintf(k, sizeof k, "key%d", i);
        snprintf(v, sizeof v, "val%d", i);
        put_s(t, h[i], k, v);
        parent = h[i];
    }
    OK(tsv_kv_commit(t, &E));
    reopen(f);
    OK(tsv_kv_begin(f->kv, 0, &t, &E));
    parent = TSV_KV_ROOT;
    for (int i = 0; i < 4; i++) {
        uint64_t got;
        OK(tsv_kv_bucket(t, parent, names[i], 2, &got, &E));
        assert_int_equal(got, h[i]);
        char k[16], v[16];
        snprintf(k, sizeof k, "key%d", i);
        snprintf(v, sizeof v, "val%d", i);
        expect_val(t, got, k, v);
        parent = got;
    }
    /* A name only exists in its own parent. */
    uint64_t nope;
    FAILS(tsv_kv_bucket(t, TSV_KV_ROOT, "l4", 2, &nope, &E), TSV_ENOTFOUND);
    tsv_kv_abort(t);
    expect_stat(f, 4 + 4, 4);
}

static void test_key_order(void **state)
{
    fixture *f = *state;
    /* Bolt (memcmp, shorter prefix first) order, inserted shuffled. */
    static const struct {
        const char *k;
        size_t n;
    } want[] = {
        {"\x00", 1},     {"\x00\x00", 2},     {"\x00\xff", 2}, {"\x01", 1}, {"a", 1},
        {"a\x00", 2},    {"a\x00\x00", 3},    {"ab", 2},       {"abc", 3},  {"b", 1},
        {"\x7f", 1},     {"\x80", 1},         {"\xfe\xff", 2}, {"\xff", 1}, {"\xff\x00", 2},
        {"\xff\xff", 2}, {"\xff\xff\xff", 3},
    };
    size_t n = sizeof want / sizeof want[0];
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t b = mkbucket(t, TSV_KV_ROOT, "order");
    for (size_t i = 0; i < n; i++) {
        size_t j = (i * 7 + 3) % n; /* 7 is coprime with 17: a permutation */
        if (j % 3 == 0) {
            uint64_t sub;
            OK(tsv_kv_bucket_create(t, b, want[j].k, want[j].n, j, 0, &sub, &E));
        } else {
            OK(tsv_kv_put(t, b, want[j].k, want[j].n, &j, sizeof j, &E));
        }
    }
    OK(tsv_kv_commit(t, &E));

    OK(tsv_kv_begin(f->kv, 0, &t, &E));
    tsv_kv_cursor *c;
    OK(tsv_kv_cursor_open(t, b, &c, &E));
    tsv_kv_entry e;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 1);
        assert_int_equal(e.klen, want[i].n);
        assert_memory_equal(e.key, want[i].k, e.klen);
        assert_int_equal(e.is_bucket, i % 3 == 0);
        if (e.is_bucket) {
            assert_int_equal(e.sequence, i);
        } else {
            assert_int_equal(e.vlen, sizeof i);
            assert_memory_equal(e.val, &i, sizeof i);
        }
    }
    assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 0);
    assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 0); /* end is sticky */
    tsv_kv_cursor_close(c);
    tsv_kv_abort(t);
}

static void test_sibling_buckets_do_not_mix(void **state)
{
    fixture *f = *state;
    /* 300 siblings: handles cross the 0xff -> 0x100 byte boundary, and each
     * holds the smallest and largest possible keys. */
    enum {
        N = 300
    };
    uint64_t h[N];
    uint8_t maxkey[TSV_KV_MAX_KEY];
    memset(maxkey, 0xff, sizeof maxkey);
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    int saw_ff = 0, saw_100 = 0;
    for (int i = 0; i < N; i++) {
        char name[16], own[16];
        snprintf(name, sizeof name, "b%03d", i);
        snprintf(own, sizeof own, "own-%d", i);
        h[i] = mkbucket(t, TSV_KV_ROOT, name);
        saw_ff |= h[i] == 0xff;
        saw_100 |= h[i] == 0x100;
        OK(tsv_kv_put(t, h[i], "\x00", 1, name, 4, &E));
        OK(tsv_kv_put(t, h[i], maxkey, sizeof maxkey, name, 4, &E));
        put_s(t, h[i], own, name);
    }
    assert_true(saw_ff && saw_100);
    OK(tsv_kv_commit(t, &E));

    OK(tsv_kv_begin(f->kv, 0, &t, &E));
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "b%03d", i);
        tsv_kv_cursor *c;
        OK(tsv_kv_cursor_open(t, h[i], &c, &E));
        tsv_kv_entry e;
        int count = 0;
        while (tsv_kv_cursor_next(c, &e, &E) == 1) {
            assert_int_equal(e.vlen, 4);
            assert_memory_equal(e.val, name, 4);
            count++;
        }
        assert_int_equal(count, 3);
        /* Seeking past the last key must not run into the next sibling. */
        OK(tsv_kv_cursor_seek(c, maxkey, sizeof maxkey, &E));
        assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 1);
        assert_int_equal(e.klen, sizeof maxkey);
        assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 0);
        tsv_kv_cursor_close(c);
    }
    tsv_kv_abort(t);
    expect_stat(f, N + 3 * N, N);
}

static void test_empty_buckets(void **state)
{
    fixture *f = *state;
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t e1 = mkbucket(t, TSV_KV_ROOT, "e1");
    uint64_t e2 = mkbucket(t, e1, "e2");
    OK(tsv_kv_commit(t, &E));
    reopen(f);
    OK(tsv_kv_begin(f->kv, 0, &t, &E));
    tsv_kv_cursor *c;
    tsv_kv_entry e;
    OK(tsv_kv_cursor_open(t, e2, &c, &E));
    assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 0);
    tsv_kv_cursor_close(c);
    OK(tsv_kv_cursor_open(t, e1, &c, &E));
    assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 1);
    assert_true(e.is_bucket);
    assert_int_equal(e.child, e2);
    assert_null(e.val);
    assert_int_equal(e.klen, 2);
    assert_memory_equal(e.key, "e2", 2);
    assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 0);
    tsv_kv_cursor_close(c);
    /* The empty root of a fresh store is fine too. */
    tsv_kv_abort(t);
    expect_stat(f, 2, 2);
}

static void test_sequences(void **state)
{
    fixture *f = *state;
    tsv_kv_txn *t;
    uint64_t s, b;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    OK(tsv_kv_root_sequence(t, &s, &E));
    assert_int_equal(s, 0);
    OK(tsv_kv_bucket_create(t, TSV_KV_ROOT, "s", 1, 7, 0, &b, &E));
    OK(tsv_kv_sequence(t, b, &s, &E));
    assert_int_equal(s, 7);
    OK(tsv_kv_set_sequence(t, b, UINT64_MAX, &E));
    OK(tsv_kv_set_sequence(t, TSV_KV_ROOT, 42, &E));
    FAILS(tsv_kv_sequence(t, 123456, &s, &E), TSV_ENOTFOUND);
    FAILS(tsv_kv_set_sequence(t, 123456, 1, &E), TSV_ENOTFOUND);
    OK(tsv_kv_commit(t, &E));
    reopen(f);
    OK(tsv_kv_begin(f->kv, 0, &t, &E));
    OK(tsv_kv_sequence(t, b, &s, &E));
    assert_int_equal(s, UINT64_MAX);
    OK(tsv_kv_root_sequence(t, &s, &E));
    assert_int_equal(s, 42);
    tsv_kv_cursor *c;
    tsv_kv_entry e;
    OK(tsv_kv_cursor_open(t, TSV_KV_ROOT, &c, &E));
    assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 1);
    assert_int_equal(e.sequence, UINT64_MAX);
    tsv_kv_cursor_close(c);
    /* Writes need a write transaction. */
    FAILS(tsv_kv_set_sequence(t, b, 1, &E), TSV_EINTERNAL);
    tsv_kv_abort(t);
}

static void test_kind_conflicts(void **state)
{
    fixture *f = *state;
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t p = mkbucket(t, TSV_KV_ROOT, "p");
    uint64_t sub = mkbucket(t, p, "sub");
    put_s(t, sub, "inner", "x");
    put_s(t, p, "val", "v");
    const uint8_t *v;
    size_t vn;
    uint64_t h;
    FAILS(tsv_kv_get(t, p, "sub", 3, &v, &vn, &E), TSV_ENOTFOUND);     /* bucket key */
    FAILS(tsv_kv_get(t, p, "missing", 7, &v, &vn, &E), TSV_ENOTFOUND); /* absent */
    FAILS(tsv_kv_put(t, p, "sub", 3, "x", 1, &E), TSV_ECONFLICT);      /* over a bucket */
    FAILS(tsv_kv_del(t, p, "sub", 3, &E), TSV_ECONFLICT);              /* would orphan */
    FAILS(tsv_kv_bucket(t, p, "val", 3, &h, &E), TSV_ENOTFOUND);       /* a value */
    FAILS(tsv_kv_bucket_create(t, p, "val", 3, 0, 1, &h, &E), TSV_ECONFLICT);
    FAILS(tsv_kv_bucket_delete(t, p, "val", 3, &E), TSV_ECONFLICT);
    FAILS(tsv_kv_bucket_delete(t, p, "missing", 7, &E), TSV_ENOTFOUND);
    FAILS(tsv_kv_put(t, TSV_KV_ROOT, "rootval", 7, "x", 1, &E), TSV_EINVALID);
    FAILS(tsv_kv_put(t, 987654, "k", 1, "x", 1, &E), TSV_ENOTFOUND); /* no such bucket */
    FAILS(tsv_kv_bucket_create(t, 987654, "k", 1, 0, 0, &h, &E), TSV_ENOTFOUND);
    tsv_kv_cursor *c;
    FAILS(tsv_kv_cursor_open(t, 987654, &c, &E), TSV_ENOTFOUND);
    OK(tsv_kv_del(t, p, "missing", 7, &E)); /* not an error */
    OK(tsv_kv_del(t, p, "val", 3, &E));
    FAILS(tsv_kv_get(t, p, "val", 3, &v, &vn, &E), TSV_ENOTFOUND);
    /* None of the refusals damaged the transaction. */
    OK(tsv_kv_commit(t, &E));
    OK(tsv_kv_begin(f->kv, 0, &t, &E));
    expect_val(t, sub, "inner", "x");
    tsv_kv_abort(t);
    expect_stat(f, 3, 2); /* "p", "sub", "inner" */
}

static void test_bucket_create_exist_ok(void **state)
{
    fixture *f = *state;
    tsv_kv_txn *t;
    uint64_t h1, h2, s;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    OK(tsv_kv_bucket_create(t, TSV_KV_ROOT, "x", 1, 3, 0, &h1, &E));
    FAILS(tsv_kv_bucket_create(t, TSV_KV_ROOT, "x", 1, 9, 0, &h2, &E), TSV_ECONFLICT);
    OK(tsv_kv_bucket_create(t, TSV_KV_ROOT, "x", 1, 9, 1, &h2, &E));
    assert_int_equal(h1, h2);
    OK(tsv_kv_sequence(t, h1, &s, &E));
    assert_int_equal(s, 3); /* existing bucket's sequence untouched */
    OK(tsv_kv_commit(t, &E));
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    OK(tsv_kv_bucket_create(t, TSV_KV_ROOT, "x", 1, 0, 1, &h2, &E));
    assert_int_equal(h1, h2);
    OK(tsv_kv_bucket_create(t, TSV_KV_ROOT, "y", 1, 0, 1, &h2, &E)); /* creates */
    assert_int_not_equal(h1, h2);
    OK(tsv_kv_commit(t, &E));
    expect_stat(f, 2, 2);
}

static void test_delete_subtree(void **state)
{
    fixture *f = *state;
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t keep = mkbucket(t, TSV_KV_ROOT, "keep");
    put_s(t, keep, "k", "v");
    OK(tsv_kv_commit(t, &E));
    expect_stat(f, 2, 1);

    /* A wide and deep subtree: 4 levels, several buckets per level. */
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t top = mkbucket(t, TSV_KV_ROOT, "doomed");
    uint64_t level[64], next[64];
    size_t nl = 1, nn;
    level[0] = top;
    uint64_t deep = 0;
    for (int depth = 0; depth < 3; depth++) {
        nn = 0;
        for (size_t i = 0; i < nl; i++) {
            for (int j = 0; j < 3; j++) {
                char name[8], k[8];
                snprintf(name, sizeof name, "s%d", j);
                snprintf(k, sizeof k, "v%d", j);
                put_s(t, level[i], k, "payload");
                next[nn++] = mkbucket(t, level[i], name);
            }
        }
        memcpy(level, next, nn * sizeof next[0]);
        nl = nn;
    }
    deep = level[0];
    put_s(t, deep, "leaf", "x");
    OK(tsv_kv_commit(t, &E));
    uint64_t e_full, b_full;
    OK(tsv_kv_stat(f->kv, &e_full, &b_full, &E));
    assert_true(e_full > 50 && b_full == 1 + 1 + 3 + 9 + 27);

    /* Deleting an inner bucket removes only its part. */
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t s0;
    OK(tsv_kv_bucket(t, top, "s0", 2, &s0, &E));
    OK(tsv_kv_bucket_delete(t, top, "s0", 2, &E));
    OK(tsv_kv_commit(t, &E));
    uint64_t e_part, b_part;
    OK(tsv_kv_stat(f->kv, &e_part, &b_part, &E));
    assert_int_equal(b_part, b_full - (1 + 3 + 9));

    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    OK(tsv_kv_bucket_delete(t, TSV_KV_ROOT, "doomed", 6, &E));
    /* Old handles are dead and never reused. */
    FAILS(tsv_kv_put(t, deep, "again", 5, "x", 1, &E), TSV_ENOTFOUND);
    uint64_t s;
    FAILS(tsv_kv_sequence(t, top, &s, &E), TSV_ENOTFOUND);
    uint64_t fresh = mkbucket(t, TSV_KV_ROOT, "doomed");
    assert_true(fresh > deep && fresh > top);
    OK(tsv_kv_bucket_delete(t, TSV_KV_ROOT, "doomed", 6, &E));
    OK(tsv_kv_commit(t, &E));
    expect_stat(f, 2, 1); /* back to just "keep": no orphans */
    OK(tsv_kv_begin(f->kv, 0, &t, &E));
    expect_val(t, keep, "k", "v");
    tsv_kv_abort(t);
}

static void test_abort_leaves_nothing(void **state)
{
    fixture *f = *state;
    build_sample(f->kv);
    buf before = {0}, after = {0};
    dump_kv(f->kv, &before);
    uint64_t e0, b0;
    OK(tsv_kv_stat(f->kv, &e0, &b0, &E));

    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t n1 = mkbucket(t, TSV_KV_ROOT, "new");
    put_s(t, n1, "k", "v");
    uint64_t a;
    OK(tsv_kv_bucket(t, TSV_KV_ROOT, "a", 1, &a, &E));
    put_s(t, a, "k1", "changed");
    OK(tsv_kv_bucket_delete(t, TSV_KV_ROOT, "z", 1, &E));
    OK(tsv_kv_set_sequence(t, TSV_KV_ROOT, 1000, &E));
    tsv_kv_abort(t);
    tsv_kv_abort(NULL);

    dump_kv(f->kv, &after);
    assert_same_dump(&before, &after);
    expect_stat(f, e0, b0);
    /* Even the handle allocator rolled back. */
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    assert_int_equal(mkbucket(t, TSV_KV_ROOT, "new"), n1);
    tsv_kv_abort(t);
    free(before.p);
    free(after.p);
}

typedef struct writer_arg {
    tsv_kv *kv;
    int rc;
    tsv_error err;
} writer_arg;

static void *writer_thread(void *p)
{
    writer_arg *w = p;
    tsv_kv_txn *t;
    uint64_t b;
    w->rc = -1;
    if (tsv_kv_begin(w->kv, 1, &t, &w->err) != 0)
        return NULL;
    if (tsv_kv_bucket(t, TSV_KV_ROOT, "snap", 4, &b, &w->err) != 0 ||
        tsv_kv_put(t, b, "k", 1, "v2", 2, &w->err) != 0 ||
        tsv_kv_bucket_create(t, TSV_KV_ROOT, "later", 5, 0, 0, &b, &w->err) != 0) {
        tsv_kv_abort(t);
        return NULL;
    }
    w->rc = tsv_kv_commit(t, &w->err);
    return NULL;
}

static void *reader_thread(void *p)
{
    writer_arg *w = p;
    tsv_kv_txn *t;
    uint64_t b;
    const uint8_t *v;
    size_t n;
    w->rc = -1;
    if (tsv_kv_begin(w->kv, 0, &t, &w->err) != 0)
        return NULL;
    if (tsv_kv_bucket(t, TSV_KV_ROOT, "snap", 4, &b, &w->err) == 0 &&
        tsv_kv_get(t, b, "k", 1, &v, &n, &w->err) == 0)
        w->rc = (n == 2 && memcmp(v, "v2", 2) == 0) ? 0 : 1; /* sees committed, not v3 */
    tsv_kv_abort(t);
    return NULL;
}

static void test_snapshot_while_writer_commits(void **state)
{
    fixture *f = *state;
    tsv_kv_txn *t, *r;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t b = mkbucket(t, TSV_KV_ROOT, "snap");
    put_s(t, b, "k", "v1");
    OK(tsv_kv_commit(t, &E));

    /* This thread holds a snapshot while another thread writes + commits. */
    OK(tsv_kv_begin(f->kv, 0, &r, &E));
    writer_arg w = {.kv = f->kv};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_thread, &w), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    if (w.rc != 0)
        fail_msg("writer: %s", w.err.message);
    expect_val(r, b, "k", "v1");
    uint64_t h;
    FAILS(tsv_kv_bucket(r, TSV_KV_ROOT, "later", 5, &h, &E), TSV_ENOTFOUND);
    tsv_kv_abort(r);
    OK(tsv_kv_begin(f->kv, 0, &r, &E));
    expect_val(r, b, "k", "v2");
    OK(tsv_kv_bucket(r, TSV_KV_ROOT, "later", 5, &h, &E));
    OK(tsv_kv_commit(r, &E)); /* commit of a read txn just ends it */

    /* And the reverse: a worker thread reads while this thread's write
     * transaction is open and uncommitted. */
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    put_s(t, b, "k", "v3");
    writer_arg rd = {.kv = f->kv};
    assert_int_equal(pthread_create(&th, NULL, reader_thread, &rd), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    if (rd.rc != 0)
        fail_msg("reader: rc %d %s", rd.rc, rd.err.message);
    OK(tsv_kv_commit(t, &E));
}

static void test_key_length_limits(void **state)
{
    fixture *f = *state;
    uint8_t k[TSV_KV_MAX_KEY + 1];
    for (size_t i = 0; i < sizeof k; i++)
        k[i] = (uint8_t)(i * 13);
    assert_int_equal(TSV_KV_MAX_KEY, 503);
    tsv_kv_txn *t;
    uint64_t b, h;
    const uint8_t *v;
    size_t vn;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    OK(tsv_kv_bucket_create(t, TSV_KV_ROOT, k, 503, 0, 0, &b, &E)); /* 503-byte name */
    OK(tsv_kv_bucket(t, TSV_KV_ROOT, k, 503, &h, &E));
    assert_int_equal(h, b);
    OK(tsv_kv_put(t, b, k, 503, "ok", 2, &E));
    OK(tsv_kv_get(t, b, k, 503, &v, &vn, &E));
    assert_int_equal(vn, 2);

    FAILS(tsv_kv_put(t, b, k, 504, "no", 2, &E), TSV_EINVALID);
    assert_non_null(strstr(E.message, "504"));
    FAILS(tsv_kv_get(t, b, k, 504, &v, &vn, &E), TSV_EINVALID);
    FAILS(tsv_kv_del(t, b, k, 504, &E), TSV_EINVALID);
    FAILS(tsv_kv_bucket_create(t, TSV_KV_ROOT, k, 504, 0, 0, &h, &E), TSV_EINVALID);
    assert_non_null(strstr(E.message, "504"));
    FAILS(tsv_kv_bucket(t, TSV_KV_ROOT, k, 504, &h, &E), TSV_EINVALID);
    FAILS(tsv_kv_bucket_delete(t, TSV_KV_ROOT, k, 504, &E), TSV_EINVALID);
    FAILS(tsv_kv_put(t, b, k, 0, "no", 2, &E), TSV_EINVALID);
    assert_non_null(strstr(E.message, "length 0"));
    FAILS(tsv_kv_get(t, b, "", 0, &v, &vn, &E), TSV_EINVALID);
    FAILS(tsv_kv_bucket_create(t, TSV_KV_ROOT, "", 0, 0, 0, &h, &E), TSV_EINVALID);
    tsv_kv_cursor *c;
    OK(tsv_kv_cursor_open(t, b, &c, &E));
    FAILS(tsv_kv_cursor_seek(c, k, 504, &E), TSV_EINVALID);
    OK(tsv_kv_cursor_seek(c, k, 503, &E));
    tsv_kv_entry e;
    assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 1);
    assert_int_equal(e.klen, 503);
    assert_memory_equal(e.key, k, 503);
    tsv_kv_cursor_close(c);
    OK(tsv_kv_commit(t, &E));
    expect_stat(f, 2, 1);
}

static size_t big_vlen(size_t i)
{
    if (i == 0)
        return 0;
    if (i == 1)
        return 64 * 1024;
    if (i % 97 == 0)
        return 64 * 1024 - (i % 5); /* a hundred-odd overflow-page values */
    return (i * 131) % 2048;
}

static void big_fill(uint8_t *p, size_t n, size_t i)
{
    for (size_t j = 0; j < n; j++)
        p[j] = (uint8_t)(i * 31 + j * 7);
}

static void test_ten_thousand_keys(void **state)
{
    fixture *f = *state;
    enum {
        N = 10000
    };
    uint8_t *val = malloc(64 * 1024), *want = malloc(64 * 1024);
    assert_non_null(val);
    assert_non_null(want);
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t b = mkbucket(t, TSV_KV_ROOT, "many");
    for (size_t n = 0; n < N; n++) {
        size_t i = (n * 7919) % N; /* insert out of order */
        char k[32];
        snprintf(k, sizeof k, "key-%06zu", i);
        size_t vl = big_vlen(i);
        big_fill(val, vl, i);
        OK(tsv_kv_put(t, b, k, strlen(k), val, vl, &E));
    }
    OK(tsv_kv_commit(t, &E));
    reopen(f);
    OK(tsv_kv_begin(f->kv, 0, &t, &E));
    tsv_kv_cursor *c;
    tsv_kv_entry e;
    OK(tsv_kv_cursor_open(t, b, &c, &E));
    for (size_t i = 0; i < N; i++) {
        char k[32];
        snprintf(k, sizeof k, "key-%06zu", i);
        assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 1);
        assert_int_equal(e.klen, strlen(k));
        assert_memory_equal(e.key, k, e.klen);
        assert_int_equal(e.vlen, big_vlen(i));
        big_fill(want, e.vlen, i);
        if (e.vlen)
            assert_memory_equal(e.val, want, e.vlen);
        const uint8_t *gv;
        size_t gn;
        OK(tsv_kv_get(t, b, k, strlen(k), &gv, &gn, &E));
        assert_int_equal(gn, e.vlen);
        assert_ptr_equal(gv, e.val);
    }
    assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 0);
    tsv_kv_cursor_close(c);
    tsv_kv_abort(t);
    expect_stat(f, N + 1, 1);
    free(val);
    free(want);
}

static void expect_next_key(tsv_kv_cursor *c, const char *k)
{
    tsv_kv_entry e;
    if (!k) {
        assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 0);
        return;
    }
    assert_int_equal(tsv_kv_cursor_next(c, &e, &E), 1);
    assert_int_equal(e.klen, strlen(k));
    assert_memory_equal(e.key, k, e.klen);
}

static void test_cursor_seek(void **state)
{
    fixture *f = *state;
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t b = mkbucket(t, TSV_KV_ROOT, "seek");
    uint64_t after = mkbucket(t, TSV_KV_ROOT, "seek2"); /* next handle: adjacent range */
    put_s(t, after, "a", "other bucket");
    put_s(t, after, "zzz", "other bucket");
    put_s(t, b, "b", "1");
    put_s(t, b, "bb", "2");
    put_s(t, b, "d", "3");
    mkbucket(t, b, "f");
    OK(tsv_kv_commit(t, &E));

    OK(tsv_kv_begin(f->kv, 0, &t, &E));
    tsv_kv_cursor *c;
    OK(tsv_kv_cursor_open(t, b, &c, &E));
    OK(tsv_kv_cursor_seek(c, "a", 1, &E));
    expect_next_key(c, "b");
    OK(tsv_kv_cursor_seek(c, "bb", 2, &E)); /* exact */
    expect_next_key(c, "bb");
    expect_next_key(c, "d");
    OK(tsv_kv_cursor_seek(c, "b\x00", 2, &E)); /* between "b" and "bb" */
    expect_next_key(c, "bb");
    OK(tsv_kv_cursor_seek(c, "c", 1, &E));
    expect_next_key(c, "d");
    expect_next_key(c, "f");
    expect_next_key(c, NULL);
    OK(tsv_kv_cursor_seek(c, "g", 1, &E)); /* past the end: not into "seek2" */
    expect_next_key(c, NULL);
    OK(tsv_kv_cursor_seek(c, NULL, 0, &E)); /* klen 0 = first */
    expect_next_key(c, "b");
    tsv_kv_cursor_close(c);

    /* A cursor whose transaction ended is detached; closing it is safe. */
    OK(tsv_kv_cursor_open(t, after, &c, &E));
    expect_next_key(c, "a");
    tsv_kv_abort(t);
    tsv_kv_entry e;
    FAILS(tsv_kv_cursor_next(c, &e, &E), TSV_EINTERNAL);
    tsv_kv_cursor_close(c);
    tsv_kv_cursor_close(NULL);
}

/* Records the keys tsv_kv_walk visits as "k1,k2,"; stops after `stop_after`
 * keys (0 = never) or fails at key `fail_at`. */
typedef struct walk_log {
    char keys[256];
    int n, stop_after;
    const char *fail_at;
} walk_log;

static int walk_visit(void *ctx, const tsv_kv_entry *e, tsv_error *err)
{
    walk_log *w = ctx;
    size_t len = strlen(w->keys);
    snprintf(w->keys + len, sizeof w->keys - len, "%.*s%s,", (int)e->klen, (const char *)e->key,
             e->is_bucket ? "/" : "");
    w->n++;
    if (w->fail_at && e->klen == strlen(w->fail_at) && memcmp(e->key, w->fail_at, e->klen) == 0)
        return tsv_error_set(err, TSV_ECONFLICT, "visit failed at %s", w->fail_at);
    return w->stop_after && w->n == w->stop_after ? 1 : 0;
}

static void test_walk(void **state)
{
    fixture *f = *state;
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t b = mkbucket(t, TSV_KV_ROOT, "walk");
    uint64_t after = mkbucket(t, TSV_KV_ROOT, "walk2"); /* adjacent range: never visited */
    put_s(t, after, "a", "other bucket");
    put_s(t, after, "pa", "other bucket");
    put_s(t, b, "a", "1");
    put_s(t, b, "p", "2");
    put_s(t, b, "pa", "3");
    mkbucket(t, b, "pb");
    put_s(t, b, "q", "4");
    uint64_t gone = mkbucket(t, TSV_KV_ROOT, "gone");
    OK(tsv_kv_bucket_delete(t, TSV_KV_ROOT, "gone", 4, &E));
    OK(tsv_kv_commit(t, &E));

    OK(tsv_kv_begin(f->kv, 0, &t, &E));
    walk_log w = {0};
    /* The whole bucket, NULL or an empty prefix. */
    assert_int_equal(tsv_kv_walk(t, b, NULL, 0, walk_visit, &w, &E), 0);
    assert_string_equal(w.keys, "a,p,pa,pb/,q,");
    w = (walk_log){0};
    assert_int_equal(tsv_kv_walk(t, b, "", 0, walk_visit, &w, &E), 0);
    assert_string_equal(w.keys, "a,p,pa,pb/,q,");
    /* A prefix: its keys only, stopping at the first key past it. */
    w = (walk_log){0};
    assert_int_equal(tsv_kv_walk(t, b, "p", 1, walk_visit, &w, &E), 0);
    assert_string_equal(w.keys, "p,pa,pb/,");
    w = (walk_log){0};
    assert_int_equal(tsv_kv_walk(t, b, "pa", 2, walk_visit, &w, &E), 0);
    assert_string_equal(w.keys, "pa,");
    w = (walk_log){0};
    assert_int_equal(tsv_kv_walk(t, b, "o", 1, walk_visit, &w, &E), 0);
    assert_string_equal(w.keys, "");
    w = (walk_log){0};
    assert_int_equal(tsv_kv_walk(t, b, "z", 1, walk_visit, &w, &E), 0);
    assert_string_equal(w.keys, "");
    /* An early stop is 1, not an error. */
    w = (walk_log){.stop_after = 2};
    assert_int_equal(tsv_kv_walk(t, b, NULL, 0, walk_visit, &w, &E), 1);
    assert_string_equal(w.keys, "a,p,");
    w = (walk_log){.stop_after = 1};
    assert_int_equal(tsv_kv_walk(t, b, "p", 1, walk_visit, &w, &E), 1);
    assert_string_equal(w.keys, "p,");
    /* The callback's error ends the walk with its err. */
    w = (walk_log){.fail_at = "pa"};
    FAILS(tsv_kv_walk(t, b, NULL, 0, walk_visit, &w, &E), TSV_ECONFLICT);
    assert_string_equal(w.keys, "a,p,pa,");
    assert_non_null(strstr(E.message, "visit failed at pa"));
    /* A missing bucket is TSV_ENOTFOUND; the callback is not called. */
    w = (walk_log){0};
    FAILS(tsv_kv_walk(t, gone, NULL, 0, walk_visit, &w, &E), TSV_ENOTFOUND);
    assert_int_equal(w.n, 0);
    /* A prefix longer than a key can be is refused. */
    char big[TSV_KV_MAX_KEY + 1];
    memset(big, 'p', sizeof big);
    FAILS(tsv_kv_walk(t, b, big, sizeof big, walk_visit, &w, &E), TSV_EINVALID);
    assert_int_equal(w.n, 0);
    tsv_kv_abort(t);
}

static void test_map_full(void **state)
{
    fixture *f = *state;
    char small[PATH_MAX];
    snprintf(small, sizeof small, "%s/small", f->tmp);
    tsv_kv *kv;
    OK(tsv_kv_open(&kv, small, 256 * 1024, &E));
    uint8_t *val = calloc(1, 64 * 1024);
    assert_non_null(val);
    tsv_kv_txn *t;
    uint64_t b;
    OK(tsv_kv_begin(kv, 1, &t, &E));
    b = mkbucket(t, TSV_KV_ROOT, "b");
    put_s(t, b, "survivor", "still here");
    OK(tsv_kv_commit(t, &E));

    /* One transaction fills the map: put (or commit) reports 507. */
    OK(tsv_kv_begin(kv, 1, &t, &E));
    int failed_at = -1;
    for (int i = 0; i < 64 && failed_at < 0; i++) {
        char k[16];
        snprintf(k, sizeof k, "big%02d", i);
        if (tsv_kv_put(t, b, k, strlen(k), val, 64 * 1024, &E) != 0)
            failed_at = i;
    }
    assert_true(failed_at > 0);
    assert_int_equal(E.code, TSV_ENOSPACE);
    assert_int_equal(tsv_code_http_status(E.code), 507);
    assert_non_null(strstr(E.message, "full"));
    /* The failed transaction cannot be committed, and says why. */
    FAILS(tsv_kv_commit(t, &E), TSV_ENOSPACE);

    /* The environment still works: nothing of the failed txn, new writes ok. */
    const uint8_t *v;
    size_t vn;
    OK(tsv_kv_begin(kv, 1, &t, &E));
    expect_val(t, b, "survivor", "still here");
    FAILS(tsv_kv_get(t, b, "big00", 5, &v, &vn, &E), TSV_ENOTFOUND);
    put_s(t, b, "after", "full");
    OK(tsv_kv_commit(t, &E));
    OK(tsv_kv_begin(kv, 0, &t, &E));
    expect_val(t, b, "after", "full");
    tsv_kv_abort(t);

    /* Filling it over several committed transactions ends the same way. */
    int i;
    for (i = 0; i < 64; i++) {
        char k[16];
        snprintf(k, sizeof k, "c%02d", i);
        OK(tsv_kv_begin(kv, 1, &t, &E));
        tsv_error_clear(&E);
        if (tsv_kv_put(t, b, k, strlen(k), val, 64 * 1024, &E) != 0) {
            tsv_kv_abort(t);
            break;
        }
        if (tsv_kv_commit(t, &E) != 0)
            break;
    }
    assert_true(i > 0 && i < 64);
    assert_int_equal(E.code, TSV_ENOSPACE);
    OK(tsv_kv_begin(kv, 1, &t, &E));
    OK(tsv_kv_del(t, b, "c00", 3, &E)); /* deleting still possible */
    OK(tsv_kv_commit(t, &E));
    tsv_kv_close(kv);
    free(val);
}

static void test_copy_compact(void **state)
{
    fixture *f = *state;
    build_sample(f->kv);
    /* Churn so the source has free pages the copy can drop. */
    tsv_kv_txn *t;
    uint8_t val[4096] = {0};
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t churn = mkbucket(t, TSV_KV_ROOT, "churn");
    for (int i = 0; i < 500; i++) {
        char k[16];
        snprintf(k, sizeof k, "c%04d", i);
        OK(tsv_kv_put(t, churn, k, strlen(k), val, sizeof val, &E));
    }
    OK(tsv_kv_commit(t, &E));
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    OK(tsv_kv_bucket_delete(t, TSV_KV_ROOT, "churn", 5, &E));
    OK(tsv_kv_commit(t, &E));

    /* Hot copy while a read txn is open (and a writer holds the lock). */
    tsv_kv_txn *r, *w;
    OK(tsv_kv_begin(f->kv, 0, &r, &E));
    OK(tsv_kv_begin(f->kv, 1, &w, &E));
    uint64_t a;
    OK(tsv_kv_bucket(w, TSV_KV_ROOT, "a", 1, &a, &E));
    put_s(w, a, "uncommitted", "not in the copy");
    char dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/copy/sub", f->tmp);
    OK(tsv_kv_copy_compact(f->kv, dst, &E));
    tsv_kv_abort(w);
    tsv_kv_abort(r);
    /* Never overwrites an existing copy. */
    FAILS(tsv_kv_copy_compact(f->kv, dst, &E), TSV_EINTERNAL);
    assert_non_null(strstr(E.message, "exists"));

    char src_path[PATH_MAX + 16], dst_path[PATH_MAX + 16];
    snprintf(src_path, sizeof src_path, "%s/data.mdb", f->dir);
    snprintf(dst_path, sizeof dst_path, "%s/data.mdb", dst);
    struct stat ss, ds;
    assert_int_equal(stat(src_path, &ss), 0);
    assert_int_equal(stat(dst_path, &ds), 0);
    assert_true(ds.st_size < ss.st_size);
    assert_int_equal(ds.st_mode & 0777, 0600);

    tsv_kv *copy;
    OK(tsv_kv_open(&copy, dst, 0, &E));
    buf b1 = {0}, b2 = {0};
    dump_kv(f->kv, &b1);
    dump_kv(copy, &b2);
    assert_same_dump(&b1, &b2);
    uint64_t e1, k1, e2, k2;
    OK(tsv_kv_stat(f->kv, &e1, &k1, &E));
    OK(tsv_kv_stat(copy, &e2, &k2, &E));
    assert_int_equal(e1, e2);
    assert_int_equal(k1, k2);
    /* The copy is a working store of its own. */
    OK(tsv_kv_begin(copy, 1, &t, &E));
    mkbucket(t, TSV_KV_ROOT, "only-in-copy");
    OK(tsv_kv_commit(t, &E));
    tsv_kv_close(copy);
    free(b1.p);
    free(b2.p);
}

static void test_bolt_source_matches_cursor(void **state)
{
    fixture *f = *state;
    build_sample(f->kv);
    buf via_cursor = {0}, via_source = {0};
    dump_kv(f->kv, &via_cursor);

    tsv_kv_txn *r;
    OK(tsv_kv_begin(f->kv, 0, &r, &E));
    tsv_bolt_source src;
    tsv_kv_bolt_source_init(&src, r);
    assert_ptr_equal(src.ctx, r);
    assert_int_equal(src.root_sequence, 42);
    buf_u64(&via_source, src.root_sequence);
    dump_source(&src, TSV_KV_ROOT, 0, &via_source);
    assert_same_dump(&via_cursor, &via_source);
    /* The writer walks twice: the snapshot must give the same answer. */
    buf second = {0};
    buf_u64(&second, src.root_sequence);
    dump_source(&src, TSV_KV_ROOT, 0, &second);
    assert_same_dump(&via_source, &second);
    void *c;
    FAILS(src.cursor_open(src.ctx, 424242, &c, &E), TSV_ENOTFOUND);
    tsv_kv_abort(r);
    free(via_cursor.p);
    free(via_source.p);
    free(second.p);
}

static int read_whole(const char *path, uint8_t **out, size_t *len)
{
    char *p;
    tsv_error err;
    if (tsv_read_file(path, (size_t)1 << 30, &p, len, &err) != 0)
        return -1;
    *out = (uint8_t *)p;
    return 0;
}

static void test_corrupt_refused_untouched(void **state)
{
    fixture *f = *state;
    build_sample(f->kv);
    tsv_kv_close(f->kv);
    f->kv = NULL;

    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    long page = sysconf(_SC_PAGESIZE);
    assert_true(page > 0);
    uint8_t *garbage = malloc((size_t)page);
    assert_non_null(garbage);
    memset(garbage, 0xa5, (size_t)page);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, garbage, (size_t)page, 0), page);
    assert_int_equal(close(fd), 0);

    uint8_t *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    assert_int_equal(read_whole(path, &before, &nb), 0);
    struct stat st0, st1;
    assert_int_equal(stat(path, &st0), 0);

    tsv_kv *kv = NULL;
    FAILS(tsv_kv_open(&kv, f->dir, 0, &E), TSV_EINTERNAL);
    assert_null(kv);
    assert_non_null(strstr(E.message, "corrupt"));
    FAILS(tsv_kv_open(&kv, f->dir, 0, &E), TSV_EINTERNAL); /* and again: still refused */

    assert_int_equal(read_whole(path, &after, &na), 0);
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(before, after, nb);
    assert_int_equal(st1.st_mtim.tv_sec, st0.st_mtim.tv_sec);
    assert_int_equal(st1.st_mtim.tv_nsec, st0.st_mtim.tv_nsec);
    free(garbage);
    free(before);
    free(after);
}

/* A truncated data.mdb: LMDB maps the file and would crash (SIGBUS) on the
 * first page past its end, and an empty one it would silently re-create.
 * Both are refused as corrupt, naming the store, with the file unchanged;
 * the untruncated file still opens with everything in it. */
static void test_truncated_refused_untouched(void **state)
{
    fixture *f = *state;
    build_sample(f->kv);
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t b = mkbucket(t, TSV_KV_ROOT, "bulk");
    uint8_t *val = malloc(20000);
    assert_non_null(val);
    for (int i = 0; i < 3000; i++) {
        char k[32];
        snprintf(k, sizeof k, "bulk-%05d", i);
        size_t vl = i % 100 == 0 ? 20000 : (size_t)(i % 300);
        memset(val, i & 0xff, vl);
        OK(tsv_kv_put(t, b, k, strlen(k), val, vl, &E));
    }
    OK(tsv_kv_commit(t, &E));
    free(val);
    buf want = {0};
    dump_kv(f->kv, &want);
    tsv_kv_close(f->kv);
    f->kv = NULL;

    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    uint8_t *orig = NULL;
    size_t size = 0;
    assert_int_equal(read_whole(path, &orig, &size), 0);
    long page = sysconf(_SC_PAGESIZE);
    assert_true(size > 16 * (size_t)page);
    const size_t cuts[] = {0,        2 * (size_t)page, 3 * (size_t)page,
                           size / 2, size / 2 + 100,   size - (size_t)page,
                           size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        int fd = open(path, O_WRONLY);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)cuts[i]), 0);
        assert_int_equal(close(fd), 0);
        tsv_kv *kv = NULL;
        tsv_error_clear(&E);
        if (tsv_kv_open(&kv, f->dir, 0, &E) != -1 || E.code != TSV_EINTERNAL)
            fail_msg("truncated to %zu of %zu bytes: rc/code %d: %s", cuts[i], size, (int)E.code,
                     E.message);
        assert_null(kv);
        assert_non_null(strstr(E.message, "corrupt"));
        assert_non_null(strstr(E.message, f->dir));
        uint8_t *after = NULL;
        size_t na = 0;
        assert_int_equal(read_whole(path, &after, &na), 0);
        assert_int_equal(na, cuts[i]);
        if (na)
            assert_memory_equal(after, orig, na);
        free(after);
        /* Put the whole file back for the next cut. */
        fd = open(path, O_WRONLY);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, orig, size, 0), (ssize_t)size);
        assert_int_equal(close(fd), 0);
    }
    OK(tsv_kv_open(&f->kv, f->dir, 0, &E));
    buf got = {0};
    dump_kv(f->kv, &got);
    assert_same_dump(&want, &got);
    free(want.p);
    free(got.p);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_create_open_reopen),
        T(test_refuses_foreign_env),
        T(test_nested_4_deep),
        T(test_key_order),
        T(test_sibling_buckets_do_not_mix),
        T(test_empty_buckets),
        T(test_sequences),
        T(test_kind_conflicts),
        T(test_bucket_create_exist_ok),
        T(test_delete_subtree),
        T(test_abort_leaves_nothing),
        T(test_snapshot_while_writer_commits),
        T(test_key_length_limits),
        T(test_ten_thousand_keys),
        T(test_cursor_seek),
        T(test_walk),
        T(test_map_full),
        T(test_copy_compact),
        T(test_bolt_source_matches_cursor),
        T(test_corrupt_refused_untouched),
        T(test_truncated_refused_untouched),
#undef T
    };
    return cmocka_run_group_tests_name("kv", tests, NULL, NULL);
}
