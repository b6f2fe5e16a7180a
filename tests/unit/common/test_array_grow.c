/*
 * Unit tests for common/array_grow: growth keeps what was collected, the
 * capacity doubles, a request that would overflow fails without touching the
 * array.
 */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>

#include "array_grow.h"

typedef struct pair {
    uint64_t a, b;
} pair;

static void test_push_keeps_elements(void **state)
{
    (void)state;
    pair *v = NULL;
    size_t n = 0, cap = 0;
    tsv_error err = {0};
    for (uint64_t i = 0; i < 1000; i++) {
        assert_int_equal(TSV_ARRAY_GROW(v, n, cap, &err), 0);
        assert_true(cap > n);
        v[n++] = (pair){i, i * 3};
    }
    assert_int_equal(cap, 1024); /* 16 doubled six times */
    for (uint64_t i = 0; i < 1000; i++) {
        assert_int_equal(v[i].a, i);
        assert_int_equal(v[i].b, i * 3);
    }
    /* Enough room already: nothing moves. */
    pair *before = v;
    assert_int_equal(tsv_array_grow(&v, &cap, 1000, sizeof *v, &err), 0);
    assert_ptr_equal(v, before);
    free(v);
}

static void test_reserve_many_at_once(void **state)
{
    (void)state;
    char *v = NULL;
    size_t cap = 0;
    tsv_error err = {0};
    assert_int_equal(tsv_array_grow(&v, &cap, 100, 1, &err), 0);
    assert_int_equal(cap, 128);
    free(v);
}

static void test_overflow_leaves_array(void **state)
{
    (void)state;
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;
    tsv_error err = {0};
    assert_int_equal(TSV_ARRAY_GROW(v, n, cap, &err), 0);
    v[0] = 42;
    uint64_t *before = v;
    size_t cap_before = cap;
    assert_int_equal(tsv_array_grow(&v, &cap, SIZE_MAX / 4, sizeof *v, &err), -1);
    assert_int_equal(err.code, TSV_EINTERNAL);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, cap_before);
    assert_int_equal(v[0], 42);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_keeps_elements),
        cmocka_unit_test(test_reserve_many_at_once),
        cmocka_unit_test(test_overflow_leaves_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
