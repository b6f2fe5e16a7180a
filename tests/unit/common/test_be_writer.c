/*
 * Unit tests for common/be_writer: the exact bytes of each kind of field
 * (the vault catalogue's records are these bytes on disk), and growth past
 * the first allocation.
 */
#include "harness.h"

#include "be_writer.h"

static void test_layout(void **state)
{
    (void)state;
    tsv_bew b = {0};
    tsv_bew_u8(&b, 0xab);
    tsv_bew_u32(&b, 0x01020304u);
    tsv_bew_u64(&b, 0x1122334455667788ull);
    tsv_bew_str16(&b, "hi");
    tsv_bew_bytes32(&b, "xyz", 3);
    tsv_bew_str16(&b, "");
    static const uint8_t want[] = {0xab, 1,    2,    3,    4,   0x11, 0x22, 0x33, 0x44,
                                   0x55, 0x66, 0x77, 0x88, 0,   2,    'h',  'i',  0,
                                   0,    0,    3,    'x',  'y', 'z',  0,    0};
    assert_false(b.oom);
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.p, want, sizeof want);
    tsv_bew_free(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
}

static void test_growth(void **state)
{
    (void)state;
    tsv_bew b = {0};
    for (uint32_t i = 0; i < 100000; i++)
        tsv_bew_u32(&b, i);
    assert_false(b.oom);
    assert_int_equal(b.len, 400000);
    assert_int_equal(b.p[4 * 70000 + 1], (70000 >> 16) & 0xff);
    assert_int_equal(b.p[4 * 70000 + 3], 70000 & 0xff);
    tsv_bew_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
