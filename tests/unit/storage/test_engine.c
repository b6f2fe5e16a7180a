/*
 * Unit tests for storage/engine: staged-swap recovery (the generation-marker
 * rule), reconciliation of shard directories with the meta, and the trash.
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
#include "trash.h"

static char root[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    assert_int_equal(harness_tmpdir(root, sizeof root, "engine"), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tsv_error err;
    assert_int_equal(tsv_remove_tree(root, &err), 0);
    return 0;
}

/* out = root + "/" + formatted relative path (PATH_MAX buffer). */
static void path(char *out, const char *fmt, ...)
{
    size_t n = strlen(root);
    memcpy(out, root, n);
    out[n++] = '/';
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(out + n, PATH_MAX - n, fmt, ap);
    va_end(ap);
    assert_true(m > 0 && (size_t)m < PATH_MAX - n);
}

static void make_file(const char *rel, const char *content)
{
    char p[PATH_MAX];
    path(p, "%s", rel);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", p);
    *strrchr(dir, '/') = '\0';
    tsv_error err;
    assert_int_equal(tsv_mkdir_p(dir, &err), 0);
    assert_int_equal(tsv_write_file_atomic(p, content, strlen(content), &err), 0);
}

static int exists(const char *rel)
{
    char p[PATH_MAX];
    path(p, "%s", rel);
    return tsv_path_exists(p);
}

static int count_entries(const char *rel)
{
    char p[PATH_MAX];
    path(p, "%s", rel);
    DIR *d = opendir(p);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Finds the single file named `name` anywhere below trash/. */
static int trash_has(const char *name, const char *content)
{
    char t[PATH_MAX];
    path(t, "trash");
    DIR *d = opendir(t);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char f[PATH_MAX + 300];
        snprintf(f, sizeof f, "%s/%s/%s", t, e->d_name, name);
        char *text;
        tsv_error err;
        if (tsv_read_file(f, 4096, &text, NULL, &err) == 0) {
            found = !content || strcmp(text, content) == 0;
            free(text);
        }
    }
    closedir(d);
    return found;
}

/* Recovery after a crash BEFORE the exchange: the staging directory is an
 * unfinished upload and is deleted; the live data stays. */
static void test_recover_before_exchange(void **state)
{
    (void)state;
    tsv_error err;
    char live[PATH_MAX], staging[PATH_MAX], trash[PATH_MAX], parent[PATH_MAX];
    make_file("rp/7/000000001-000000001.tsm", "old");
    path(live, "rp/7");
    assert_int_equal(tsv_gen_marker_write(live, 0x1111, &err), 0);
    make_file("rp/7.staging-0000000000002222/000000001-000000001.tsm", "new");
    path(staging, "rp/7.staging-0000000000002222");
    assert_int_equal(tsv_gen_marker_write(staging, 0x2222, &err), 0);
    path(trash, "trash");
    path(parent, "rp");
    assert_int_equal(tsv_mkdir_p(trash, &err), 0);
    assert_int_equal(tsv_staging_recover(parent, trash, &err), 0);
    assert_false(exists("rp/7.staging-0000000000002222"));
    char *text;
    char f[PATH_MAX];
    path(f, "rp/7/000000001-000000001.tsm");
    assert_int_equal(tsv_read_file(f, 100, &text, NULL, &err), 0);
    assert_string_equal(text, "old");
    free(text);
    assert_int_equal(count_entries("trash"), 0);
}

/* Recovery after a crash AFTER the exchange: the live directory carries the
 * staging generation, so the staging path holds the OLD data: it goes to
 * the trash, never away. */
static void test_recover_after_exchange(void **state)
{
    (void)state;
    tsv_error err;
    char a[PATH_MAX], b[PATH_MAX], trash[PATH_MAX], parent[PATH_MAX];
    make_file("rp/7/000000001-000000001.tsm", "old");
    path(a, "rp/7");
    assert_int_equal(tsv_gen_marker_write(a, 0x1111, &err), 0);
    make_file("rp/7.staging-0000000000002222/000000001-000000001.tsm", "new");
    path(b, "rp/7.staging-0000000000002222");
    assert_int_equal(tsv_gen_marker_write(b, 0x2222, &err), 0);
    assert_int_equal(tsv_rename_exchange(b, a, &err), 0); /* crash right after this */
    path(trash, "trash");
    path(parent, "rp");
    assert_int_equal(tsv_mkdir_p(trash, &err), 0);
    assert_int_equal(tsv_staging_recover(parent, trash, &err), 0);
    assert_false(exists("rp/7.staging-0000000000002222"));
    char *text;
    char f[PATH_MAX];
    path(f, "rp/7/000000001-000000001.tsm");
    assert_int_equal(tsv_read_file(f, 100, &text, NULL, &err), 0);
    assert_string_equal(text, "new");
    free(text);
    assert_true(trash_has("7.staging-0000000000002222/000000001-000000001.tsm", "old"));
}

/* Reconciliation: listed shards get directories, unlisted non-empty ones go
 * to the trash, unlisted empty ones are removed; _series is left alone. */
static void test_reconcile(void **state)
{
    (void)state;
    tsv_error err;
    char state_dir[PATH_MAX], trash[PATH_MAX];
    path(state_dir, "state");
    path(trash, "trash");
    assert_int_equal(tsv_mkdir_p(trash, &err), 0);
    make_file("state/engine/data/aaaaaaaaaaaaaaaa/autogen/1/000000001-000000001.tsm", "keep");
    make_file("state/engine/data/aaaaaaaaaaaaaaaa/autogen/9/000000001-000000001.tsm", "orphan");
    char empty[PATH_MAX];
    path(empty, "state/engine/data/aaaaaaaaaaaaaaaa/autogen/10");
    assert_int_equal(tsv_mkdir_p(empty, &err), 0);
    make_file("state/engine/data/aaaaaaaaaaaaaaaa/_series/00/0000", "series");
    const char *shards[] = {"aaaaaaaaaaaaaaaa/autogen/1", "bbbbbbbbbbbbbbbb/autogen/2"};
    assert_int_equal(tsv_engine_reconcile(state_dir, trash, shards, 2, &err), 0);
    assert_true(exists("state/engine/data/aaaaaaaaaaaaaaaa/autogen/1/000000001-000000001.tsm"));
    assert_true(exists("state/engine/data/bbbbbbbbbbbbbbbb/autogen/2"));
    assert_false(exists("state/engine/data/aaaaaaaaaaaaaaaa/autogen/9"));
    assert_false(exists("state/engine/data/aaaaaaaaaaaaaaaa/autogen/10"));
    assert_true(exists("state/engine/data/aaaaaaaaaaaaaaaa/_series/00/0000"));
    assert_true(trash_has("9/000000001-000000001.tsm", "orphan"));
}

/* Trash: link keeps the original; move removes it; purge deletes only
 * entries older than the retention. */
static void test_trash(void **state)
{
    (void)state;
    tsv_error err;
    char trash[PATH_MAX], f[PATH_MAX], old_entry[PATH_MAX];
    path(trash, "trash");
    assert_int_equal(tsv_mkdir_p(trash, &err), 0);
    make_file("live.sqlite", "v1");
    path(f, "live.sqlite");
    assert_int_equal(tsv_trash_link(trash, f, "sql-restore-previous", &err), 0);
    assert_true(exists("live.sqlite"));
    assert_true(trash_has("live.sqlite", "v1"));
    make_file("gone/x", "x");
    path(f, "gone");
    assert_int_equal(tsv_trash_move(trash, f, "bucket-deleted", &err), 0);
    assert_false(exists("gone"));
    assert_true(trash_has("gone/x", "x"));
    assert_int_equal(count_entries("trash"), 2);
    path(old_entry, "trash/20000101T000000Z-old-00000000");
    assert_int_equal(tsv_mkdir_p(old_entry, &err), 0);
    assert_int_equal(count_entries("trash"), 3);
    assert_int_equal(tsv_trash_purge(trash, 3600, &err), 0);
    assert_int_equal(count_entries("trash"), 2); /* only the year-2000 entry went */
    assert_int_equal(tsv_trash_purge(trash, -1, &err), 0);
    assert_int_equal(count_entries("trash"), 2);
    /* A missing path is not an error for either operation. */
    path(f, "nothing-here");
    assert_int_equal(tsv_trash_move(trash, f, "x", &err), 0);
    assert_int_equal(tsv_trash_link(trash, f, "x", &err), 0);
}

static void test_gen_marker(void **state)
{
    (void)state;
    tsv_error err;
    char d[PATH_MAX];
    path(d, "g");
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
        cmocka_unit_test_setup_teardown(test_recover_before_exchange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_after_exchange, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gen_marker, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
