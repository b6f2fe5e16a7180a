/*
 * Unit tests for corrupt marks on the local object store (object_store.h,
 * object_marks.c): marking is persistent (a marker file written atomically,
 * seen again after a reopen), refused when the object changed since it was
 * read, keeps the first mark; a live file (hard link) is recognised by its
 * inode; a verified put/adopt of the same name repairs the inode in place
 * (every link sees the good bytes) and clears the mark; delete clears it; the
 * error names what, the object, the time and the way out.
 */
#include "harness.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "object_store.h"

/* sha256("abc") */
#define ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* Overwrites the object's bytes through a hard link, as damage would. */
static void damage(const char *path, const char *bytes)
{
    assert_int_equal(chmod(path, 0644), 0);
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
    close(fd);
    assert_int_equal(chmod(path, 0444), 0);
}

static void slurp(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t k = fread(out, 1, n - 1, f);
    out[k] = '\0';
    fclose(f);
}

static int count_marks(void *ctx, const tsv_objstore_mark *m, tsv_error *err)
{
    (void)err;
    (void)m;
    (*(int *)ctx)++;
    return 0;
}

static tsv_objstore *open_store(char *objdir)
{
    tsv_objstore *os = NULL;
    harness_at(objdir, "objects");
    OK(tsv_objstore_open_local(&os, objdir, &E));
    return os;
}

static void put_abc(tsv_objstore *os, int want_created)
{
    char hex[TSV_OBJECT_HEX];
    uint64_t size;
    int created = -1;
    harness_str_reader r = harness_reader_of("abc");
    OK(tsv_objstore_put(os, &r.base, ABC, hex, &size, &created, &E));
    assert_int_equal(created, want_created);
}

/* A store in objdir holding "abc" (new), linked at live, the file rel of
 * the scratch directory. */
static tsv_objstore *store_with_abc(char *objdir, char *live, const char *rel)
{
    tsv_objstore *os = open_store(objdir);
    put_abc(os, 1);
    harness_at(live, "%s", rel);
    OK(tsv_objstore_link(os, ABC, live, &E));
    return os;
}

static void test_mark_persists_and_is_recognised(void **state)
{
    (void)state;
    char objdir[PATH_MAX], obj[PATH_MAX], live[PATH_MAX], marker[PATH_MAX], text[4096];
    tsv_objstore *os = store_with_abc(objdir, live, "live.tsm");
    harness_at(obj, "objects/ba/%s", ABC);

    /* Not marked yet. */
    int marked = -1;
    OK(tsv_objstore_is_corrupt(os, ABC, NULL, &marked, &E));
    assert_int_equal(marked, 0);

    /* What verify does: identity, read, mark with what it saw. */
    damage(live, "abd");
    tsv_objstore_id seen;
    OK(tsv_objstore_identity(os, ABC, &seen, &E));
    OK(tsv_objstore_mark_corrupt(os, ABC, "its 3 bytes hash to SHA-256 x", &seen, &marked, &E));
    assert_int_equal(marked, 1);
    harness_at(marker, "objects/corrupt/%s", ABC);
    slurp(marker, text, sizeof text);
    assert_non_null(strstr(text, "reason=its 3 bytes hash to SHA-256 x\n"));
    assert_non_null(strstr(text, "size=3\n"));

    /* A second mark keeps the first. */
    OK(tsv_objstore_mark_corrupt(os, ABC, "other", &seen, &marked, &E));
    assert_int_equal(marked, 1);
    tsv_objstore_mark m;
    OK(tsv_objstore_is_corrupt(os, ABC, &m, &marked, &E));
    assert_int_equal(marked, 1);
    assert_string_equal(m.reason, "its 3 bytes hash to SHA-256 x");
    assert_string_equal(m.hex, ABC);
    assert_true(m.marked_ns > 0);
    assert_int_equal(m.seen.ino, seen.ino);

    /* Persistent: another open sees it; list does not take it for an object. */
    tsv_objstore_close(os);
    os = open_store(objdir);
    int n = 0;
    OK(tsv_objstore_corrupt_list(os, count_marks, &n, &E));
    assert_int_equal(n, 1);

    /* The live file (a hard link) is recognised by its inode, a copy is not. */
    tsv_objstore_marks ms;
    OK(tsv_objstore_marks_load(os, &ms, &E));
    assert_int_equal(ms.n, 1);
    struct stat st;
    assert_int_equal(stat(live, &st), 0);
    const tsv_objstore_mark *hit = tsv_objstore_marks_match(&ms, st.st_dev, st.st_ino);
    assert_non_null(hit);
    assert_null(tsv_objstore_marks_match(&ms, st.st_dev, st.st_ino + 1));
    tsv_error e = {0};
    assert_int_equal(tsv_objstore_corrupt_error(&e, hit, "backup of shard 7, file live.tsm"), -1);
    assert_int_equal(e.code, TSV_EUNPROCESSABLE);
    assert_non_null(strstr(e.message, "backup of shard 7, file live.tsm: object " ABC
                                      " was marked corrupt by verify at 20"));
    assert_non_null(strstr(e.message, "(its 3 bytes hash to SHA-256 x); restore an older version "
                                      "or upload a good copy"));
    tsv_objstore_marks_clear(&ms);
    tsv_objstore_marks_clear(&ms); /* cleared twice: fine */

    OK(tsv_objstore_clear_corrupt(os, ABC, &E));
    OK(tsv_objstore_clear_corrupt(os, ABC, &E)); /* none: fine */
    OK(tsv_objstore_is_corrupt(os, ABC, NULL, &marked, &E));
    assert_int_equal(marked, 0);
    assert_false(tsv_path_exists(marker));
    tsv_objstore_close(os);
}

static void test_mark_refused_when_changed(void **state)
{
    (void)state;
    char objdir[PATH_MAX], live[PATH_MAX];
    tsv_objstore *os = store_with_abc(objdir, live, "live.tsm");
    tsv_objstore_id seen;
    OK(tsv_objstore_identity(os, ABC, &seen, &E));
    /* Rewritten after verify read it (e.g. repaired): its reading is stale. */
    usleep(10000);
    damage(live, "abz");
    int marked = -1;
    OK(tsv_objstore_mark_corrupt(os, ABC, "stale", &seen, &marked, &E));
    assert_int_equal(marked, 0);
    OK(tsv_objstore_is_corrupt(os, ABC, NULL, &marked, &E));
    assert_int_equal(marked, 0);
    /* Missing object: no identity. */
    FAILS(tsv_objstore_identity(
              os, "0000000000000000000000000000000000000000000000000000000000000000", &seen, &E),
          TSV_ENOTFOUND);
    FAILS(tsv_objstore_is_corrupt(os, "../x", NULL, &marked, &E), TSV_EINVALID);
    tsv_objstore_close(os);
}

static void mark_now(tsv_objstore *os)
{
    tsv_objstore_id seen;
    int marked = 0;
    OK(tsv_objstore_identity(os, ABC, &seen, &E));
    OK(tsv_objstore_mark_corrupt(os, ABC, "bad", &seen, &marked, &E));
    assert_int_equal(marked, 1);
}

static void test_repair_and_delete_clear(void **state)
{
    (void)state;
    char objdir[PATH_MAX], obj[PATH_MAX], live[PATH_MAX], live2[PATH_MAX], text[64];
    tsv_objstore *os = store_with_abc(objdir, live, "a.tsm");
    harness_at(obj, "objects/ba/%s", ABC);
    harness_at(live2, "b.tsm");
    OK(tsv_objstore_link(os, ABC, live2, &E));

    /* Same size, other bytes: dedup alone would keep them. A verified put
     * repairs the inode: both live links read the good bytes again. */
    damage(live, "abd");
    mark_now(os);
    put_abc(os, 0);
    int marked = -1;
    OK(tsv_objstore_is_corrupt(os, ABC, NULL, &marked, &E));
    assert_int_equal(marked, 0);
    slurp(live, text, sizeof text);
    assert_string_equal(text, "abc");
    slurp(live2, text, sizeof text);
    assert_string_equal(text, "abc");
    struct stat a, b;
    assert_int_equal(stat(live, &a), 0);
    assert_int_equal(stat(obj, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(b.st_mode & 0777, 0444);

    /* Truncated (longer here) and marked: adopt of a good file repairs it
     * too, to the right size, and the adopted file becomes the object. */
    damage(live, "abcdefgh");
    mark_now(os);
    char good[PATH_MAX];
    harness_at(good, "good.tsm");
    harness_put_file(good, "abc");
    int created = -1;
    OK(tsv_objstore_adopt(os, good, ABC, &created, &E));
    assert_int_equal(created, 0);
    OK(tsv_objstore_is_corrupt(os, ABC, NULL, &marked, &E));
    assert_int_equal(marked, 0);
    slurp(live2, text, sizeof text);
    assert_string_equal(text, "abc");
    assert_int_equal(stat(good, &a), 0);
    assert_int_equal(a.st_ino, b.st_ino);

    /* A bad put (bytes that do not hash to the name) repairs nothing. */
    damage(live, "abd");
    mark_now(os);
    char hex[TSV_OBJECT_HEX];
    harness_str_reader r = harness_reader_of("abd");
    FAILS(tsv_objstore_put(os, &r.base, ABC, hex, NULL, NULL, &E), TSV_EINVALID);
    OK(tsv_objstore_is_corrupt(os, ABC, NULL, &marked, &E));
    assert_int_equal(marked, 1);

    /* Delete removes the mark; a new object of that name starts clean. */
    OK(tsv_objstore_delete(os, ABC, &E));
    OK(tsv_objstore_is_corrupt(os, ABC, NULL, &marked, &E));
    assert_int_equal(marked, 0);
    put_abc(os, 1);
    tsv_objstore_close(os);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_SCRATCH_TEST(test_mark_persists_and_is_recognised),
        HARNESS_SCRATCH_TEST(test_mark_refused_when_changed),
        HARNESS_SCRATCH_TEST(test_repair_and_delete_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
