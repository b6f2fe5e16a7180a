/*
 * Unit tests for storage/trash: link keeps the original, move takes it away,
 * every entry gets its own time-named slot, purge removes only slots older
 * than the retention (whole trees) and leaves names it does not know, and a
 * failure loses nothing.
 */
#include "harness.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "trash.h"

static int trash_has(const char *name, const char *content)
{
    char t[PATH_MAX];
    harness_at(t, "trash");
    return harness_trash_has(t, name, content);
}

/* Link keeps the original; move removes it; purge deletes only entries older
 * than the retention; a negative retention keeps everything. */
static void test_link_move_purge(void **state)
{
    (void)state;
    char trash[PATH_MAX], f[PATH_MAX], old_entry[PATH_MAX];
    harness_at(trash, "trash");
    OK(tsv_mkdir_p(trash, &E));
    harness_put("live.sqlite", "v1");
    harness_at(f, "live.sqlite");
    OK(tsv_trash_link(trash, f, "sql-restore-previous", &E));
    assert_true(harness_exists("live.sqlite"));
    assert_true(trash_has("live.sqlite", "v1"));
    harness_put("gone/x", "x");
    harness_at(f, "gone");
    OK(tsv_trash_move(trash, f, "bucket-deleted", &E));
    assert_false(harness_exists("gone"));
    assert_true(trash_has("gone/x", "x"));
    assert_int_equal(harness_count("trash"), 2);
    harness_at(old_entry, "trash/20000101T000000Z-old-00000000");
    OK(tsv_mkdir_p(old_entry, &E));
    assert_int_equal(harness_count("trash"), 3);
    OK(tsv_trash_purge(trash, 3600, &E));
    assert_int_equal(harness_count("trash"), 2); /* only the year-2000 entry went */
    OK(tsv_trash_purge(trash, -1, &E));
    assert_int_equal(harness_count("trash"), 2);
    /* A missing path is not an error for either operation. */
    harness_at(f, "nothing-here");
    OK(tsv_trash_move(trash, f, "x", &E));
    OK(tsv_trash_link(trash, f, "x", &E));
    assert_int_equal(harness_count("trash"), 2);
}

/* A slot is "<UTC time>-<reason>-<8 hex>/<base name>", timed now. */
static void test_slot_name(void **state)
{
    (void)state;
    char trash[PATH_MAX], f[PATH_MAX], slot[256];
    harness_at(trash, "trash");
    harness_put("shards/7/000000001-000000001.tsm", "tsm");
    harness_at(f, "shards/7");
    time_t before = time(NULL);
    /* The trash directory is made on demand. */
    OK(tsv_trash_move(trash, f, "shard-7-replaced", &E));
    time_t after = time(NULL);
    harness_only_entry(trash, slot, sizeof slot);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char reason[64], hex[16];
    int used = 0;
    assert_int_equal(sscanf(slot, "%4d%2d%2dT%2d%2d%2dZ-%63[a-z0-9-]%n", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, reason, &used),
                     7);
    assert_int_equal(used, (int)strlen(slot));
    /* The reason is followed by "-" and 8 hex digits of randomness. */
    size_t rl = strlen(reason);
    assert_true(rl > 9);
    snprintf(hex, sizeof hex, "%s", reason + rl - 8);
    reason[rl - 9] = '\0';
    assert_string_equal(reason, "shard-7-replaced");
    assert_int_equal(strspn(hex, "0123456789abcdef"), 8);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    assert_true(t >= before && t <= after);
    assert_true(trash_has("7/000000001-000000001.tsm", "tsm"));
    assert_false(harness_exists("shards/7"));
}

/* Two entries with the same base name, even within one second, keep both. */
static void test_same_name_twice(void **state)
{
    (void)state;
    char trash[PATH_MAX], f[PATH_MAX];
    harness_at(trash, "trash");
    harness_put("a/x", "first");
    harness_put("b/x", "second");
    harness_at(f, "a/x");
    OK(tsv_trash_move(trash, f, "r", &E));
    harness_at(f, "b/x");
    OK(tsv_trash_move(trash, f, "r", &E));
    assert_int_equal(harness_count("trash"), 2);
    assert_true(trash_has("x", "first"));
    assert_true(trash_has("x", "second"));
}

/* Purge removes whole trees, keeps names that are not slots, and copes with
 * a trash directory that does not exist yet. */
static void test_purge(void **state)
{
    (void)state;
    char trash[PATH_MAX];
    harness_at(trash, "trash");
    OK(tsv_trash_purge(trash, 0, &E)); /* no trash yet: nothing to do */
    harness_put("trash/19990101T000000Z-old-0000abcd/shard/a/b/c.tsm", "deep");
    harness_put("trash/20000101T120000Z-old-0000abce/file", "f");
    harness_put("trash/notes.txt", "not a slot");
    harness_put("trash/.hidden", "dot");
    harness_put("trash/2000-01-01-not-our-format/x", "x");
    assert_int_equal(harness_count("trash"), 5);
    OK(tsv_trash_purge(trash, 86400, &E));
    assert_int_equal(harness_count("trash"), 3);
    assert_false(harness_exists("trash/19990101T000000Z-old-0000abcd"));
    assert_false(harness_exists("trash/20000101T120000Z-old-0000abce"));
    assert_true(harness_exists("trash/notes.txt"));
    assert_true(harness_exists("trash/.hidden"));
    assert_true(harness_exists("trash/2000-01-01-not-our-format/x"));
}

/* Failures say why and lose nothing. */
static void test_failures_keep_data(void **state)
{
    (void)state;
    char trash[PATH_MAX], f[PATH_MAX], notdir[PATH_MAX];
    /* A trash "directory" that is a file: purge cannot read it. */
    harness_put("plain", "file");
    harness_at(notdir, "plain");
    FAILS(tsv_trash_purge(notdir, 0, &E), TSV_EINTERNAL);
    /* A trash below a file cannot be made: the source stays where it is. */
    harness_put("data/keep", "precious");
    harness_at(trash, "plain/trash");
    harness_at(f, "data/keep");
    assert_int_equal(tsv_trash_move(trash, f, "r", &E), -1);
    assert_true(E.message[0] != '\0');
    assert_true(harness_exists("data/keep"));
    assert_int_equal(tsv_trash_link(trash, f, "r", &E), -1);
    assert_true(harness_exists("data/keep"));
    /* A directory cannot be hard-linked: link refuses, the original stays. */
    harness_at(trash, "trash");
    harness_at(f, "data");
    FAILS(tsv_trash_link(trash, f, "r", &E), TSV_EINTERNAL);
    assert_true(harness_exists("data/keep"));
    assert_false(trash_has("data/keep", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_SCRATCH_TEST(test_link_move_purge),    HARNESS_SCRATCH_TEST(test_slot_name),
        HARNESS_SCRATCH_TEST(test_same_name_twice),    HARNESS_SCRATCH_TEST(test_purge),
        HARNESS_SCRATCH_TEST(test_failures_keep_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
