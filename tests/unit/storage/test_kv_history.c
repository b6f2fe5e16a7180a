/*
 * test_kv_history: the KV change log (storage/kv_history.h): every write of
 * the bolt tree logged in its own transaction, rewinds to a past time give
 * exactly the tree of that time (compared through a canonical dump), a
 * rewind is itself logged and can be rewound, barriers and the log's
 * beginning bound the rewind, and the cost of a change is its own size.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "fsutil.h"
#include "kv.h"
#include "kv_fixture.h"
#include "kv_history.h"

typedef struct dbuf {
    char *p;
    size_t len, cap;
} dbuf;

static void dput(dbuf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void dumpf(dbuf *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    dput(b, tmp, (size_t)n);
}

static void dump_bucket(tsv_kv_txn *t, uint64_t h, int depth, dbuf *b)
{
    uint64_t seq;
    OK(tsv_kv_sequence(t, h, &seq, &E));
    dumpf(b, "%*sseq=%llu\n", depth, "", (unsigned long long)seq);
    tsv_kv_cursor *c;
    OK(tsv_kv_cursor_open(t, h, &c, &E));
    tsv_kv_entry e;
    int r;
    /* Collect children first: no nested cursor use while iterating. */
    uint64_t kids[64];
    char names[64][64];
    int nk = 0;
    while ((r = tsv_kv_cursor_next(c, &e, &E)) == 1) {
        dumpf(b, "%*s%.*s", depth, "", (int)e.klen, (const char *)e.key);
        if (e.is_bucket) {
            dumpf(b, "/\n");
            assert_true(nk < 64);
            kids[nk] = e.child;
            snprintf(names[nk], sizeof names[nk], "%.*s", (int)e.klen, (const char *)e.key);
            nk++;
        } else {
            dumpf(b, "=%.*s\n", (int)e.vlen, (const char *)e.val);
        }
    }
    assert_int_equal(r, 0);
    tsv_kv_cursor_close(c);
    for (int i = 0; i < nk; i++) {
        dumpf(b, "%*s[%s]\n", depth, "", names[i]);
        dump_bucket(t, kids[i], depth + 2, b);
    }
}

static char *dump(tsv_kv *kv)
{
    dbuf b = {0};
    tsv_kv_txn *t;
    OK(tsv_kv_begin(kv, 0, &t, &E));
    dump_bucket(t, TSV_KV_ROOT, 0, &b);
    tsv_kv_abort(t);
    return b.p;
}

typedef kv_fixture fixture;

static int setup(void **state)
{
    fixture *f = kv_fixture_new("test-kvh");
    OK(tsv_kv_history_start(f->kv, &E));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    kv_fixture_free(*state);
    return 0;
}

static int64_t last_ts(tsv_kv *kv)
{
    tsv_kv_history_info hi;
    OK(tsv_kv_history_info_get(kv, &hi, &E));
    return hi.last_ns;
}

/* Opens a compact copy of f's store in <tmp>/<name> with history on. */
static tsv_kv *copy_of(fixture *f, const char *name)
{
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s/%s", f->tmp, name);
    OK(tsv_kv_copy_compact(f->kv, d, &E));
    tsv_kv *c;
    OK(tsv_kv_open(&c, d, 0, &E));
    tsv_kv_set_history(c, 1);
    return c;
}

static void test_rewind_exact(void **state)
{
    fixture *f = *state;
    kv_put(f->kv, "orgs", "o1", "first");
    kv_put(f->kv, "orgs", "o2", "second");
    kv_put(f->kv, "tokens", "t1", "tok");
    char *d1 = dump(f->kv);
    int64_t t1 = last_ts(f->kv);

    /* Every kind of change: overwrite, delete, nested bucket, sequence,
     * whole-subtree delete, new top-level bucket. */
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t orgs, tok, nest, deep;
    OK(tsv_kv_bucket(t, TSV_KV_ROOT, "orgs", 4, &orgs, &E));
    OK(tsv_kv_put(t, orgs, "o1", 2, "changed", 7, &E));
    OK(tsv_kv_del(t, orgs, "o2", 2, &E));
    OK(tsv_kv_set_sequence(t, orgs, 42, &E));
    OK(tsv_kv_bucket_create(t, orgs, "nested", 6, 7, 0, &nest, &E));
    OK(tsv_kv_put(t, nest, "k", 1, "v", 1, &E));
    OK(tsv_kv_bucket_create(t, nest, "deep", 4, 0, 0, &deep, &E));
    OK(tsv_kv_put(t, deep, "x", 1, "y", 1, &E));
    OK(tsv_kv_bucket(t, TSV_KV_ROOT, "tokens", 6, &tok, &E));
    OK(tsv_kv_commit(t, &E));
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    OK(tsv_kv_bucket_delete(t, TSV_KV_ROOT, "tokens", 6, &E));
    OK(tsv_kv_commit(t, &E));
    kv_put(f->kv, "users", "u1", "alice");
    char *d2 = dump(f->kv);
    int64_t t2 = last_ts(f->kv);
    assert_true(t2 > t1);
    assert_string_not_equal(d1, d2);

    /* Rewind a copy to t1: exactly the tree of t1. */
    tsv_kv *c = copy_of(f, "c1");
    uint64_t undone = 0;
    OK(tsv_kv_history_rewind(c, t1, &undone, &E));
    assert_true(undone > 0);
    char *r1 = dump(c);
    assert_string_equal(r1, d1);
    /* The rewind was logged: rewinding to t2 undoes the undo. */
    OK(tsv_kv_history_rewind(c, t2, &undone, &E));
    char *r2 = dump(c);
    assert_string_equal(r2, d2);
    /* Rewinding to now changes nothing. */
    OK(tsv_kv_history_rewind(c, last_ts(c), &undone, &E));
    assert_int_equal(undone, 0);
    /* And the tree still works: a new bucket gets a fresh handle. */
    kv_put(c, "after", "a", "b");
    tsv_kv_close(c);
    free(d1);
    free(d2);
    free(r1);
    free(r2);
}

static void test_barrier_and_begin(void **state)
{
    fixture *f = *state;
    kv_put(f->kv, "orgs", "o1", "first");
    int64_t t1 = last_ts(f->kv);
    tsv_kv_history_info hi;
    OK(tsv_kv_history_info_get(f->kv, &hi, &E));
    assert_true(hi.begin_ns > 0 && hi.begin_ns <= t1);
    tsv_kv *c = copy_of(f, "c2");
    FAILS(tsv_kv_history_rewind(c, hi.begin_ns - 1, NULL, &E), TSV_EINVALID);
    tsv_kv_close(c);
    int64_t tb;
    OK(tsv_kv_history_mark(f->kv, TSV_KVH_RESTORE_KV, "restore/kv", &tb, &E));
    kv_put(f->kv, "orgs", "o2", "second");
    OK(tsv_kv_history_info_get(f->kv, &hi, &E));
    assert_int_equal(hi.barrier_ns, tb);
    assert_int_equal(hi.barrier_kind, TSV_KVH_RESTORE_KV);
    c = copy_of(f, "c3");
    FAILS(tsv_kv_history_rewind(c, t1, NULL, &E), TSV_EINVALID);
    OK(tsv_kv_history_rewind(c, tb, NULL, &E)); /* after the barrier: fine */
    tsv_kv_close(c);
}

static void test_cost_is_the_change(void **state)
{
    fixture *f = *state;
    /* A KV of 2000 keys, then one small change. */
    tsv_kv_txn *t;
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    uint64_t h;
    OK(tsv_kv_bucket_create(t, TSV_KV_ROOT, "big", 3, 0, 0, &h, &E));
    char k[32], v[256];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(k, sizeof k, "key-%06d", i);
        OK(tsv_kv_put(t, h, k, (size_t)n, v, sizeof v, &E));
    }
    OK(tsv_kv_commit(t, &E));
    tsv_kv_history_info a, b;
    OK(tsv_kv_history_info_get(f->kv, &a, &E));
    OK(tsv_kv_begin(f->kv, 1, &t, &E));
    OK(tsv_kv_bucket(t, TSV_KV_ROOT, "big", 3, &h, &E));
    OK(tsv_kv_put(t, h, "key-000007", 10, "tiny", 4, &E));
    OK(tsv_kv_commit(t, &E));
    OK(tsv_kv_history_info_get(f->kv, &b, &E));
    assert_int_equal(b.records, a.records + 1);
    /* key (8 + 10) + before (257) + after (5) + framing */
    assert_true(b.bytes - a.bytes < 8 + 10 + 257 + 5 + 64);
}

static void test_history_off_logs_nothing(void **state)
{
    fixture *f = *state;
    tsv_kv_history_info a, b;
    OK(tsv_kv_history_info_get(f->kv, &a, &E));
    tsv_kv_set_history(f->kv, 0);
    kv_put(f->kv, "orgs", "o1", "x");
    OK(tsv_kv_history_info_get(f->kv, &b, &E));
    assert_int_equal(a.records, b.records);
    tsv_kv_set_history(f->kv, 1);
    kv_put(f->kv, "orgs", "o1", "y");
    OK(tsv_kv_history_info_get(f->kv, &b, &E));
    assert_true(b.records > a.records);
}

static void test_carry(void **state)
{
    fixture *f = *state;
    kv_put(f->kv, "orgs", "o1", "x");
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s/other", f->tmp);
    tsv_kv *o;
    OK(tsv_kv_open(&o, d, 0, &E));
    OK(tsv_kv_history_carry(f->kv, o, TSV_KVH_RESTORE_KV, "restore/kv", &E));
    tsv_kv_history_info a, b;
    OK(tsv_kv_history_info_get(f->kv, &a, &E));
    OK(tsv_kv_history_info_get(o, &b, &E));
    assert_int_equal(a.begin_ns, b.begin_ns);
    assert_int_equal(b.barrier_kind, TSV_KVH_RESTORE_KV);
    assert_true(b.barrier_ns > a.last_ns);
    tsv_kv_close(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rewind_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_barrier_and_begin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cost_is_the_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_off_logs_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_carry, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
