/*
 * Unit tests for storage/fault: spec parsing, points that do not match,
 * the one-shot enospc action (507 "unavailable"), and disarming. The pause
 * action never returns, so test_crash.sh covers it with a real process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include <string.h>

#include "fault.h"

static void test_unarmed_costs_nothing(void **state)
{
    (void)state;
    assert_int_equal(tsv_fault_configure(NULL), 0);
    tsv_error err = {0};
    assert_int_equal(tsv_fault_check("shard-write", &err), 0);
    assert_int_equal(err.code, TSV_OK);
    tsv_fault_point("shard-before-exchange"); /* returns */
}

static void test_malformed_specs_disarm(void **state)
{
    (void)state;
    static const char *bad[] = {
        "shard-write", ":enospc", "shard-write:", "shard-write:explode",
        "a-point-name-that-is-much-too-long-for-the-fixed-buffer-in-fault:pause"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tsv_fault_configure(bad[i]), -1);
        tsv_error err = {0};
        assert_int_equal(tsv_fault_check("shard-write", &err), 0);
    }
}

static void test_enospc_fires_once_at_its_point(void **state)
{
    (void)state;
    assert_int_equal(tsv_fault_configure("upload-write:enospc"), 0);
    tsv_error err = {0};
    assert_int_equal(tsv_fault_check("shard-write", &err), 0);
    tsv_fault_point("upload-write"); /* a void point cannot fail: not consumed */
    assert_int_equal(tsv_fault_check("upload-write", &err), -1);
    assert_int_equal(err.code, TSV_ENOSPACE);
    assert_int_equal(tsv_code_http_status(err.code), 507);
    assert_string_equal(tsv_code_string(err.code), "unavailable");
    assert_non_null(strstr(err.message, "upload-write"));
    assert_non_null(strstr(err.message, "No space left on device"));
    tsv_error_clear(&err);
    assert_int_equal(tsv_fault_check("upload-write", &err), 0);
    /* Re-arming resets the one-shot. */
    assert_int_equal(tsv_fault_configure("upload-write:enospc"), 0);
    assert_int_equal(tsv_fault_check("upload-write", &err), -1);
    assert_int_equal(tsv_fault_configure(""), 0);
    assert_int_equal(tsv_fault_check("upload-write", &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unarmed_costs_nothing),
        cmocka_unit_test(test_malformed_specs_disarm),
        cmocka_unit_test(test_enospc_fires_once_at_its_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
