/*
 * Unit tests for the object-ID set of mark and sweep (object_store.h,
 * object_set.c): lookups after a sort, duplicates, an empty set, IDs cut to
 * 64 characters on both sides, growth past many entries, and a cleared set
 * that can be used again.
 */
#include "harness.h"

#include "object_store.h"

static void id_of(unsigned i, char out[TSV_OBJECT_HEX])
{
    /* 64 hex digits, distinct per i, not added in sorted order. */
    snprintf(out, TSV_OBJECT_HEX, "%08x%056x", (i * 2654435761u) ^ 0x5a5a5a5au, i);
}

static void test_empty_set_has_nothing(void **state)
{
    (void)state;
    tsv_objset s = {0};
    tsv_objset_sort(&s);
    char id[TSV_OBJECT_HEX];
    id_of(1, id);
    assert_int_equal(tsv_objset_has(&s, id), 0);
    tsv_objset_clear(&s);
    assert_null(s.v);
}

static void test_sorted_lookups(void **state)
{
    (void)state;
    tsv_objset s = {0};
    tsv_error err = {0};
    char id[TSV_OBJECT_HEX];
    for (unsigned i = 0; i < 5000; i += 2) {
        id_of(i, id);
        assert_int_equal(tsv_objset_add(&s, id, &err), 0);
    }
    id_of(10, id);
    assert_int_equal(tsv_objset_add(&s, id, &err), 0); /* a duplicate */
    assert_int_equal(s.n, 2501);
    tsv_objset_sort(&s);
    for (unsigned i = 0; i < 5000; i++) {
        id_of(i, id);
        assert_int_equal(tsv_objset_has(&s, id), i % 2 == 0);
    }
    tsv_objset_clear(&s);
    assert_int_equal(s.n + s.cap, 0);

    /* A cleared set is an empty one, ready again. */
    id_of(3, id);
    assert_int_equal(tsv_objset_add(&s, id, &err), 0);
    tsv_objset_sort(&s);
    assert_int_equal(tsv_objset_has(&s, id), 1);
    tsv_objset_clear(&s);
}

static void test_ids_are_cut_to_64(void **state)
{
    (void)state;
    tsv_objset s = {0};
    tsv_error err = {0};
    char id[TSV_OBJECT_HEX], longer[80];
    id_of(7, id);
    snprintf(longer, sizeof longer, "%s%s", id, "0123");
    assert_int_equal(tsv_objset_add(&s, longer, &err), 0);
    tsv_objset_sort(&s);
    assert_string_equal(s.v[0], id);
    assert_int_equal(tsv_objset_has(&s, id), 1);
    assert_int_equal(tsv_objset_has(&s, longer), 1);
    id[63] = id[63] == '0' ? '1' : '0';
    assert_int_equal(tsv_objset_has(&s, id), 0);
    tsv_objset_clear(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_set_has_nothing),
        cmocka_unit_test(test_sorted_lookups),
        cmocka_unit_test(test_ids_are_cut_to_64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
