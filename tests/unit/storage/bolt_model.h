/*
 * bolt_model: the in-memory bolt tree the bolt tests write from and compare
 * with (include after harness.h): buckets of entries, each a plain value or
 * a sub-bucket with its sequence, put in any order and sorted into bolt's
 * key order by mb_sort.
 */
#ifndef TSV_TEST_BOLT_MODEL_H
#define TSV_TEST_BOLT_MODEL_H

#include "harness.h"

typedef struct mem_bucket mem_bucket;
typedef struct mem_entry {
    uint8_t *key;
    size_t klen;
    int is_bucket; /* child is set */
    uint8_t *val;  /* plain value */
    size_t vlen;
    mem_bucket *child; /* non-NULL: a sub-bucket */
} mem_entry;

struct mem_bucket {
    uint64_t sequence;
    int opens; /* cursor_open count, for the changing-source tests */
    mem_entry *v;
    size_t n, cap;
};

static inline mem_bucket *mb_new(uint64_t sequence)
{
    mem_bucket *b = calloc(1, sizeof *b);
    assert_non_null(b);
    b->sequence = sequence;
    return b;
}

static inline mem_entry *mb_add(mem_bucket *b, const void *key, size_t klen)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->v = realloc(b->v, b->cap * sizeof *b->v);
        assert_non_null(b->v);
    }
    mem_entry *e = &b->v[b->n++];
    *e = (mem_entry){0};
    e->key = malloc(klen ? klen : 1);
    assert_non_null(e->key);
    if (klen)
        memcpy(e->key, key, klen);
    e->klen = klen;
    return e;
}

static inline void mb_put(mem_bucket *b, const void *key, size_t klen, const void *val, size_t vlen)
{
    mem_entry *e = mb_add(b, key, klen);
    e->val = malloc(vlen ? vlen : 1);
    assert_non_null(e->val);
    if (vlen)
        memcpy(e->val, val, vlen);
    e->vlen = vlen;
}

static inline void mb_puts(mem_bucket *b, const char *key, const char *val)
{
    mb_put(b, key, strlen(key), val, strlen(val));
}

static inline mem_bucket *mb_sub(mem_bucket *b, const void *name, size_t len, uint64_t sequence)
{
    mem_entry *e = mb_add(b, name, len);
    e->is_bucket = 1;
    e->child = mb_new(sequence);
    return e->child;
}

static inline void mb_free(mem_bucket *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].key);
        free(b->v[i].val);
        mb_free(b->v[i].child);
    }
    free(b->v);
    free(b);
}

/* bolt's key order: bytewise, a prefix first. */
static inline int mb_entry_cmp(const void *a, const void *b)
{
    const mem_entry *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

/* Sorts every bucket in bolt order (generators add in any order); fails the
 * test on a key added twice to one bucket. */
static inline void mb_sort(mem_bucket *b)
{
    if (b->n > 1)
        qsort(b->v, b->n, sizeof *b->v, mb_entry_cmp);
    for (size_t i = 0; i < b->n; i++) {
        if (i > 0)
            assert_true(mb_entry_cmp(&b->v[i - 1], &b->v[i]) < 0);
        if (b->v[i].child)
            mb_sort(b->v[i].child);
    }
}

#endif
