/*
 * Unit tests for storage/engine: staged-swap recovery (the generation-marker
 * rule) and reconciliation of shard directories with the meta. The trash:
 * test_trash.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "fsutil.h"

/* Finds the single file named `name` anywhere below trash/. */
static int trash_has(const char *name, const char *content)
{
    char t[PATH_MAX];
    harness_at(t, "trash");
    return harness_trash_has(t, name, content);
}

/* rp/7 holds "old" (generation 0x1111) and its unfinished upload
 * rp/7.staging-0000000000002222 holds "new" (0x2222); their paths into live
 * and staging (PATH_MAX bytes each). */
static void put_live_and_staging(char *live, char *staging)
{
    tsv_error err;
    harness_put("rp/7/000000001-000000001.tsm", "old");
    harness_at(live, "rp/7");
    assert_int_equal(tsv_gen_marker_write(live, 0x1111, &err), 0);
    harness_put("rp/7.staging-0000000000002222/000000001-000000001.tsm", "new");
    harness_at(staging, "rp/7.staging-0000000000002222");
    assert_int_equal(tsv_gen_marker_write(staging, 0x2222, &err), 0);
}

/* Runs the start-up recovery of rp/ (into trash/), which must leave no
 * staging directory, and asserts the live shard file then reads `want`. */
static void recover_and_expect_live(const char *want)
{
    tsv_error err;
    char trash[PATH_MAX], parent[PATH_MAX];
    harness_at(trash, "trash");
    harness_at(parent, "rp");
    assert_int_equal(tsv_mkdir_p(trash, &err), 0);
    assert_int_equal(tsv_staging_recover(parent, trash, &err), 0);
    assert_false(harness_exists("rp/7.staging-0000000000002222"));
    char *text;
    char f[PATH_MAX];
    harness_at(f, "rp/7/000000001-000000001.tsm");
    assert_int_equal(tsv_read_file(f, 100, &text, NULL, &err), 0);
    assert_string_equal(text, want);
    free(text);
}

/* Recovery after a crash BEFORE the exchange: the staging directory is an
 * unfinished upload and is deleted; the live data stays. */
static void test_recover_before_exchange(void **state)
{
    (void)state;
    char live[PATH_MAX], staging[PATH_MAX];
    put_live_and_staging(live, staging);
    recover_and_expect_live("old");
    assert_int_equal(harness_count("trash"), 0);
}

/* Recovery after a crash AFTER the exchange: the live directory carries the
 * staging generation, so the staging path holds the OLD data: it goes to
 * the trash, never away. */
static void test_recover_after_exchange(void **state)
{
    (void)state;
    tsv_error err;
    char a[PATH_MAX], b[PATH_MAX];
    put_live_and_staging(a, b);
    assert_int_equal(tsv_rename_exchange(b, a, &err), 0); /* crash right after this */
    recover_and_expect_live("new");
    assert_true(trash_has("7.staging-0000000000002222/000000001-000000001.tsm", "old"));
}

/* Reconciliation: listed shards get directories, unlisted non-empty ones go
 * to the trash, unlisted empty ones are removed; _series is left alone. */
static void test_reconcile(void **state)
{
    (void)state;
    tsv_error err;
    char state_dir[PATH_MAX], trash[PATH_MAX];
    harness_at(state_dir, "state");
    harness_at(trash, "trash");
    assert_int_equal(tsv_mkdir_p(trash, &err), 0);
    harness_put("state/engine/data/aaaaaaaaaaaaaaaa/autogen/1/000000001-000000001.tsm", "keep");
    harness_put("state/engine/data/aaaaaaaaaaaaaaaa/autogen/9/000000001-000000001.tsm", "orphan");
    char empty[PATH_MAX];
    harness_at(empty, "state/engine/data/aaaaaaaaaaaaaaaa/autogen/10");
    assert_int_equal(tsv_mkdir_p(empty, &err), 0);
    harness_put("state/engine/data/aaaaaaaaaaaaaaaa/_series/00/0000", "series");
    const char *shards[] = {"aaaaaaaaaaaaaaaa/autogen/1", "bbbbbbbbbbbbbbbb/autogen/2"};
    assert_int_equal(tsv_engine_reconcile(state_dir, trash, shards, 2, &err), 0);
    assert_true(
        harness_exists("state/engine/data/aaaaaaaaaaaaaaaa/autogen/1/000000001-000000001.tsm"));
    assert_true(harness_exists("state/engine/data/bbbbbbbbbbbbbbbb/autogen/2"));
    assert_false(harness_exists("state/engine/data/aaaaaaaaaaaaaaaa/autogen/9"));
    assert_false(harness_exists("state/engine/data/aaaaaaaaaaaaaaaa/autogen/10"));
    assert_true(harness_exists("state/engine/data/aaaaaaaaaaaaaaaa/_series/00/0000"));
    assert_true(trash_has("9/000000001-000000001.tsm", "orphan"));
}

static void test_gen_marker(void **state)
{
    (void)state;
    tsv_error err;
    char d[PATH_MAX];
    harness_at(d, "g");
    assert_int_equal(tsv_mkdir_p(d, &err), 0);
    uint64_t g = 1;
    assert_int_equal(tsv_gen_marker_read(d, &g, &err), 0);
    assert_int_equal(g, 0);
    assert_int_equal(tsv_gen_marker_write(d, 0xdeadbeefcafef00dULL, &err), 0);
    assert_int_equal(tsv_gen_marker_read(d, &g, &err), 0);
    assert_true(g == 0xdeadbeefcafef00dULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_SCRATCH_TEST(test_recover_before_exchange),
        HARNESS_SCRATCH_TEST(test_recover_after_exchange),
        HARNESS_SCRATCH_TEST(test_reconcile),
        HARNESS_SCRATCH_TEST(test_gen_marker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
