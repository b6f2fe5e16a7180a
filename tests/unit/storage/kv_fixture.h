/*
 * kv_fixture: what the KV unit tests share (include after harness.h): a
 * store in a temporary directory of its own, and a put of one string value
 * into a bucket of the root.
 */
#ifndef TSV_TEST_KV_FIXTURE_H
#define TSV_TEST_KV_FIXTURE_H

#include "harness.h"
#include "kv.h"

typedef struct kv_fixture {
    char tmp[64];
    char dir[PATH_MAX]; /* the store: tmp/kv */
    tsv_kv *kv;
} kv_fixture;

/* A fresh store in a new temporary directory "tsv-<tag>-XXXXXX". */
static inline kv_fixture *kv_fixture_new(const char *tag)
{
    kv_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(harness_tmpdir(f->tmp, sizeof f->tmp, tag), 0);
    snprintf(f->dir, sizeof f->dir, "%s/kv", f->tmp);
    OK(tsv_kv_open(&f->kv, f->dir, 0, &E));
    return f;
}

/* Closes the store and removes its directory (a failure is only logged). */
static inline void kv_fixture_free(kv_fixture *f)
{
    tsv_kv_close(f->kv);
    harness_rmtree(f->tmp);
    free(f);
}

/* bucket (created when missing) / key = val, in a transaction of its own. */
static inline void kv_put(tsv_kv *kv, const char *bucket, const char *key, const char *val)
{
    tsv_kv_txn *t;
    OK(tsv_kv_begin(kv, 1, &t, &E));
    uint64_t h;
    OK(tsv_kv_bucket_create(t, TSV_KV_ROOT, bucket, strlen(bucket), 0, 1, &h, &E));
    OK(tsv_kv_put(t, h, key, strlen(key), val, strlen(val), &E));
    OK(tsv_kv_commit(t, &E));
}

#endif
