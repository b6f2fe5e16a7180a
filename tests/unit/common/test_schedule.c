/* Unit tests for schedule: durations, "every" and five-field cron. */
#include "harness.h"

#include <time.h>

#include "schedule.h"

#define NS 1000000000LL

static int64_t at(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return (int64_t)timegm(&tm) * NS;
}

/* Fails unless the cron expression parses and its next time after from is
 * want. */
static void cron_next(const char *expr, int64_t from, int64_t want)
{
    tsv_schedule s;
    OK(tsv_schedule_cron(expr, &s, &E));
    int64_t got = tsv_schedule_next(&s, from);
    if (got != want)
        fail_msg("\"%s\" after %lld: %lld, want %lld", expr, (long long)from, (long long)got,
                 (long long)want);
}

static void test_duration(void **state)
{
    (void)state;
    int64_t ns;
    OK(tsv_duration_parse("15m", &ns, &E));
    assert_true(ns == 900 * NS);
    OK(tsv_duration_parse("1h30m", &ns, &E));
    assert_true(ns == 5400 * NS);
    OK(tsv_duration_parse("1d", &ns, &E));
    assert_true(ns == 86400 * NS);
    FAILS(tsv_duration_parse("", &ns, &E), TSV_EINVALID);
    FAILS(tsv_duration_parse("15", &ns, &E), TSV_EINVALID);
    FAILS(tsv_duration_parse("m", &ns, &E), TSV_EINVALID);
    FAILS(tsv_duration_parse("5y", &ns, &E), TSV_EINVALID);
    FAILS(tsv_duration_parse("0s", &ns, &E), TSV_EINVALID);
    FAILS(tsv_duration_parse("99999999d", &ns, &E), TSV_EINVALID);
}

static void test_every(void **state)
{
    (void)state;
    tsv_schedule s;
    OK(tsv_schedule_every("15m", &s, &E));
    assert_true(tsv_schedule_next(&s, 1000 * NS) == 1900 * NS);
    FAILS(tsv_schedule_every("30s", &s, &E), TSV_EINVALID);
    assert_non_null(strstr(E.message, "at least 1m"));
}

static void test_cron(void **state)
{
    (void)state;
    tsv_schedule s;
    cron_next("*/15 * * * *", at(2026, 12, 6, 10, 7), at(2026, 12, 6, 10, 15));
    /* strictly after: a time on the boundary goes to the next one */
    cron_next("*/15 * * * *", at(2026, 12, 6, 10, 15), at(2026, 12, 6, 10, 30));
    cron_next("30 2 * * *", at(2026, 12, 6, 10, 0), at(2026, 12, 7, 2, 30));
    /* Sundays (0 and 7) at 03:00; 2026-12-06 is a Sunday */
    cron_next("0 3 * * 7", at(2026, 12, 6, 4, 0), at(2026, 12, 13, 3, 0));
    /* the 1st of the month, or Mondays (either day field matches) */
    cron_next("0 0 1 * 1", at(2026, 12, 6, 4, 0), at(2026, 12, 7, 0, 0));
    cron_next("0 0 1 1-3 *", at(2026, 12, 6, 4, 0), at(2027, 1, 1, 0, 0));
    cron_next("5,35 1-2 * * *", at(2026, 12, 6, 1, 35), at(2026, 12, 6, 2, 5));
    /* Feb 30th never comes */
    cron_next("0 0 30 2 *", at(2026, 1, 1, 0, 0), INT64_MAX);

    FAILS(tsv_schedule_cron("* * * *", &s, &E), TSV_EINVALID);
    assert_non_null(strstr(E.message, "five fields"));
    FAILS(tsv_schedule_cron("* * * * * *", &s, &E), TSV_EINVALID);
    FAILS(tsv_schedule_cron("60 * * * *", &s, &E), TSV_EINVALID);
    assert_non_null(strstr(E.message, "minute"));
    FAILS(tsv_schedule_cron("* 5-2 * * *", &s, &E), TSV_EINVALID);
    FAILS(tsv_schedule_cron("* * 0 * *", &s, &E), TSV_EINVALID);
    FAILS(tsv_schedule_cron("*/0 * * * *", &s, &E), TSV_EINVALID);
    FAILS(tsv_schedule_cron("a * * * *", &s, &E), TSV_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_every),
        cmocka_unit_test(test_cron),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
