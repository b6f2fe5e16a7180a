/* Unit tests for tsv_time: RFC 3339 formatting and parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsv_time.h"

/* ---- RFC 3339 --------------------------------------------------------------- */

static void expect_parse(const char *s, int64_t want)
{
    int64_t got = 0;
    tsv_error err = {0};
    if (tsv_parse_rfc3339(s, strlen(s), &got, &err) != 0)
        fail_msg("parse(%s): %s", s, err.message);
    if (got != want)
        fail_msg("parse(%s) = %lld, want %lld", s, (long long)got, (long long)want);
}

/* want is what ns formats as, and it parses back to ns. */
static void expect_format(int64_t ns, const char *want)
{
    char out[TSV_RFC3339_MAX];
    tsv_format_rfc3339nano(ns, out, sizeof out);
    if (strcmp(out, want) != 0)
        fail_msg("format(%lld) = %s, want %s", (long long)ns, out, want);
    expect_parse(out, ns);
}

static void expect_parse_fails(const char *s, const char *part)
{
    int64_t got = 0;
    tsv_error err = {0};
    if (tsv_parse_rfc3339(s, strlen(s), &got, &err) == 0)
        fail_msg("parse(%s) should fail", s);
    assert_int_equal(err.code, TSV_EINVALID);
    if (part && !strstr(err.message, part))
        fail_msg("parse(%s): message \"%s\" lacks \"%s\"", s, err.message, part);
}

static void test_rfc3339_format(void **state)
{
    (void)state;
    expect_format(0, "1970-01-01T00:00:00Z");
    expect_format(1, "1970-01-01T00:00:00.000000001Z");
    expect_format(500000000, "1970-01-01T00:00:00.5Z");
    expect_format(-1, "1969-12-31T23:59:59.999999999Z");
    expect_format(-1000000000, "1969-12-31T23:59:59Z");
    expect_format(-500000000, "1969-12-31T23:59:59.5Z");
    expect_format(1704067200000000000LL, "2024-01-01T00:00:00Z");
    expect_format(1704067200120000000LL, "2024-01-01T00:00:00.12Z");
    expect_format(951782400000000000LL, "2000-02-29T00:00:00Z");  /* leap day, 400-year rule */
    expect_format(4107542400000000000LL, "2100-03-01T00:00:00Z"); /* 2100 is not leap */
    expect_format(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
    expect_format(INT64_MIN, "1677-09-21T00:12:43.145224192Z");
    expect_format(-2208988800000000000LL, "1900-01-01T00:00:00Z");
    expect_format(1234567890123456789LL, "2009-02-13T23:31:30.123456789Z");

    /* short buffers are truncated and terminated */
    char small[8];
    tsv_format_rfc3339nano(0, small, sizeof small);
    assert_string_equal(small, "1970-01");
    tsv_format_rfc3339nano(0, NULL, 0);
}

static void test_rfc3339_parse(void **state)
{
    (void)state;
    expect_parse("1970-01-01T00:00:00Z", 0);
    expect_parse("1970-01-01T02:00:00+02:00", 0);
    expect_parse("1969-12-31T19:30:00-04:30", 0);
    expect_parse("1970-01-01T00:00:00-00:00", 0);
    expect_parse("2024-01-01T00:00:00.5Z", 1704067200500000000LL);
    expect_parse("2024-01-01T00:00:00.000000001Z", 1704067200000000001LL);
    expect_parse("2024-01-01T01:00:00.25+01:00", 1704067200250000000LL);
    expect_parse("2262-04-11T23:47:16.854775807Z", INT64_MAX);
    expect_parse("1677-09-21T00:12:43.145224192Z", INT64_MIN);
    expect_parse("2262-04-12T01:47:16.854775807+02:00", INT64_MAX);
    expect_parse("2024-02-29T12:00:00Z", 1709208000000000000LL);
    expect_parse("2000-02-29T00:00:00Z", 951782400000000000LL);

    expect_parse_fails("2262-04-11T23:47:16.854775808Z", "int64 nanosecond range");
    expect_parse_fails("1677-09-21T00:12:43.145224191Z", "int64 nanosecond range");
    expect_parse_fails("9999-12-31T23:59:59Z", "int64 nanosecond range");
    expect_parse_fails("0001-01-01T00:00:00Z", "int64 nanosecond range");
    expect_parse_fails("2023-02-29T00:00:00Z", "day out of range");
    expect_parse_fails("2100-02-29T00:00:00Z", "day out of range");
    expect_parse_fails("2024-04-31T00:00:00Z", "day out of range");
    expect_parse_fails("2024-01-00T00:00:00Z", "day out of range");
    expect_parse_fails("2024-13-01T00:00:00Z", "month out of range");
    expect_parse_fails("2024-00-01T00:00:00Z", "month out of range");
    expect_parse_fails("2024-01-01T24:00:00Z", "hour out of range");
    expect_parse_fails("2024-01-01T00:60:00Z", "minute out of range");
    expect_parse_fails("2024-01-01T00:00:60Z", "second out of range");
    expect_parse_fails("2024-01-01T00:00:00.Z", "empty fraction");
    expect_parse_fails("2024-01-01T00:00:00.1234567890Z", "more than 9 fraction digits");
    expect_parse_fails("2024-01-01t00:00:00Z", "YYYY-MM-DDTHH:MM:SS");
    expect_parse_fails("2024-01-01 00:00:00Z", "YYYY-MM-DDTHH:MM:SS");
    expect_parse_fails("2024-01-01T00:00:00z", "want Z");
    expect_parse_fails("2024-01-01T00:00:00", "too short");
    expect_parse_fails("2024-01-01T00:00:00+0100", "bad time zone offset");
    expect_parse_fails("2024-01-01T00:00:00+01", "bad time zone offset");
    expect_parse_fails("2024-01-01T00:00:00+24:00", "offset out of range");
    expect_parse_fails("2024-01-01T00:00:00+01:60", "offset out of range");
    expect_parse_fails("2024-01-01T00:00:00ZZ", "extra text");
    expect_parse_fails("2024-1-01T00:00:00.5Z", "YYYY-MM-DDTHH:MM:SS");
    expect_parse_fails("+024-01-01T00:00:00Z", "YYYY-MM-DDTHH:MM:SS");
    expect_parse_fails("", "too short");

    /* not NUL-terminated: only len bytes count */
    int64_t got;
    assert_int_equal(tsv_parse_rfc3339("1970-01-01T00:00:01Zjunk", 20, &got, NULL), 0);
    assert_true(got == 1000000000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_format),
        cmocka_unit_test(test_rfc3339_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
