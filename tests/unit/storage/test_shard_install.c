/*
 * Unit tests for storage/shard_install: a shard archive (tar) installed into
 * a shard directory in a scratch dir, all at once or not at all. Real TSM
 * files come from the InfluxDB 1.6 fixture (testdata/); the tars are built
 * here with libarchive so that every bad shape can be made: absolute and
 * ".." paths, links, devices, duplicates, invalid TSM data, truncation,
 * garbage and an empty body. After each refusal the shard directory is
 * exactly as before and no staging directory is left.
 */
#include "harness.h"
#include "store_fixture.h"
#include "tar_fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "fsutil.h"
#include "shard_install.h"

static char root[PATH_MAX], shard[PATH_MAX], trash[PATH_MAX];
/* The two real TSM files of the fixture's shard 1. */
static harness_buf tsm1, tsm2;

/* Reads one member of a gzip'd tar into out. */
static void read_member(const char *tar_gz, const char *name, harness_buf *out)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, tar_gz, 65536), ARCHIVE_OK);
    struct archive_entry *e;
    int found = 0;
    while (!found && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(e);
        size_t n = strlen(p), m = strlen(name);
        if (n < m || strcmp(p + n - m, name) != 0)
            continue;
        char chunk[8192];
        la_ssize_t r;
        while ((r = archive_read_data(a, chunk, sizeof chunk)) > 0)
            harness_buf_add(out, chunk, (size_t)r);
        assert_int_equal(r, 0);
        found = 1;
    }
    archive_read_free(a);
    if (!found)
        fail_msg("%s not in %s", name, tar_gz);
}

static int group_setup(void **state)
{
    (void)state;
    read_member(SHARD1_TAR, TSM1, &tsm1);
    read_member(SHARD1_TAR, TSM2, &tsm2);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(tsm1.p);
    free(tsm2.p);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(harness_tmpdir(root, sizeof root, "shard-install"), 0);
    harness_path(shard, root, "data/db/rp/1");
    harness_path(trash, root, "trash");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(harness_rmtree(root), 0);
    return 0;
}

/* ---- tar building ------------------------------------------------------ */

/* A ustar archive of the entries, in order. */
static harness_buf make_tar(const tar_entry *entries, size_t n)
{
    return tar_fixture_make(entries, n, 0);
}

static int install_opts(const void *body, size_t len, const tsv_shard_install_opts *opts,
                        tsv_shard_install_stats *st)
{
    tsv_reader *r = tsv_mem_reader_new(body, len);
    assert_non_null(r);
    tsv_error_clear(&E);
    int rc = opts ? tsv_shard_install_from_tar_opts(shard, trash, 1, r, opts, st, &E)
                  : tsv_shard_install_from_tar(shard, trash, 1, r, st, &E);
    tsv_reader_free(r);
    return rc;
}

static int install(const harness_buf *tar, tsv_shard_install_stats *st)
{
    return install_opts(tar->p, tar->n, NULL, st);
}

/* ---- what the shard directory holds --------------------------------------- */

/* "name:size:inode;" for each file of dir, sorted by name, into out. */
static void snapshot(const char *dir, char *out, size_t len)
{
    out[0] = '\0';
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0) {
        snprintf(out, len, "(none)");
        return;
    }
    for (int i = 0; i < n; i++) {
        if (list[i]->d_name[0] != '.') {
            char p[PATH_MAX];
            struct stat sb;
            harness_path(p, dir, "%s", list[i]->d_name);
            assert_int_equal(stat(p, &sb), 0);
            size_t o = strlen(out);
            snprintf(out + o, len - o, "%s:%lld:%llu;", list[i]->d_name, (long long)sb.st_size,
                     (unsigned long long)sb.st_ino);
        }
        free(list[i]);
    }
    free(list);
}

static void assert_file_bytes(const char *dir, const char *name, const harness_buf *want)
{
    char p[PATH_MAX];
    harness_path(p, dir, "%s", name);
    size_t len;
    uint8_t *got = harness_read_bytes(p, &len);
    assert_int_equal(len, want->n);
    assert_memory_equal(got, want->p, len);
    free(got);
}

/* Nothing but the shard directory (if any) is left next to it. */
static void assert_no_staging(void)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", shard);
    *strrchr(parent, '/') = '\0';
    int n = harness_count_entries(parent);
    assert_true(n == -1 || n == (tsv_path_exists(shard) ? 1 : 0));
}

/* ---- tests ------------------------------------------------------------ */

/* A new shard: TSM files are taken by base name; directories and other
 * names are skipped. */
static void test_install_new(void **state)
{
    (void)state;
    tar_entry e[] = {
        {"fixture/autogen/1/", AE_IFDIR, NULL, NULL},
        {"fixture/autogen/1/" TSM1, AE_IFREG, &tsm1, NULL},
        {"fixture/autogen/1/README", AE_IFREG, NULL, "not a shard file"},
        {"fixture/autogen/1/" TSM2, AE_IFREG, &tsm2, NULL},
    };
    harness_buf tar = make_tar(e, 4);
    tsv_shard_install_stats st;
    OK(install(&tar, &st));
    assert_int_equal(st.files, 2);
    assert_int_equal(st.bytes, tsm1.n + tsm2.n);
    assert_int_equal(st.skipped, 2);
    assert_int_equal(st.kept, 0);
    assert_file_bytes(shard, TSM1, &tsm1);
    assert_file_bytes(shard, TSM2, &tsm2);
    char p[PATH_MAX];
    harness_path(p, shard, "README");
    assert_false(tsv_path_exists(p));
    assert_no_staging();
    /* A new shard replaces nothing: the trash stays empty. */
    assert_true(harness_count_entries(trash) <= 0);
    free(tar.p);
}

/* Replacing one file: the other is carried over as a hard link, the old
 * directory goes to the trash whole. */
static void test_replace_keeps_others(void **state)
{
    (void)state;
    tar_entry first[] = {{TSM1, AE_IFREG, &tsm1, NULL}, {TSM2, AE_IFREG, &tsm2, NULL}};
    harness_buf tar = make_tar(first, 2);
    OK(install(&tar, NULL));
    free(tar.p);
    char p[PATH_MAX];
    struct stat before, after;
    harness_path(p, shard, TSM2);
    assert_int_equal(stat(p, &before), 0);

    /* New content for TSM1: the (valid) bytes of TSM2. */
    tar_entry second[] = {{"x/" TSM1, AE_IFREG, &tsm2, NULL}};
    tar = make_tar(second, 1);
    tsv_shard_install_stats st;
    OK(install(&tar, &st));
    free(tar.p);
    assert_int_equal(st.files, 1);
    assert_int_equal(st.kept, 1);
    assert_file_bytes(shard, TSM1, &tsm2);
    assert_file_bytes(shard, TSM2, &tsm2);
    assert_int_equal(stat(p, &after), 0);
    assert_true(after.st_ino == before.st_ino); /* linked, not copied */
    /* The trash holds one slot with the previous directory, old TSM1 and all. */
    char slot[NAME_MAX + 1], prev[NAME_MAX + 1], dir[PATH_MAX];
    harness_only_entry(trash, slot, sizeof slot);
    harness_path(dir, trash, "%s", slot);
    harness_only_entry(dir, prev, sizeof prev);
    assert_true(strncmp(prev, "1.staging-", 10) == 0);
    harness_path(dir, trash, "%s/%s", slot, prev);
    assert_file_bytes(dir, TSM1, &tsm1);
    assert_file_bytes(dir, TSM2, &tsm2);
    assert_no_staging();
}

/* Every refusal: TSV_EINVALID with a message, the shard unchanged. */
static void test_bad_archives(void **state)
{
    (void)state;
    tar_entry seed[] = {{TSM1, AE_IFREG, &tsm1, NULL}};
    harness_buf tar = make_tar(seed, 1);
    OK(install(&tar, NULL));
    free(tar.p);
    char want[4096], got[4096];
    snapshot(shard, want, sizeof want);

    const struct {
        tar_entry e[2];
        size_t n;
        const char *msg;
    } cases[] = {
        {{{"/abs/" TSM2, AE_IFREG, &tsm2, NULL}}, 1, "absolute path"},
        {{{"a/../" TSM2, AE_IFREG, &tsm2, NULL}}, 1, "escapes"},
        {{{"..", AE_IFDIR, NULL, NULL}}, 1, "escapes"},
        {{{TSM2, AE_IFLNK, NULL, "/etc/passwd"}}, 1, "symbolic link"},
        {{{TSM2, AE_IFCHR, NULL, NULL}}, 1, "device or special file"},
        {{{TSM2, AE_IFREG, &tsm2, NULL}, {"b/" TSM2, 0, NULL, TSM2}}, 2, "hard link"},
        {{{"a/" TSM2, AE_IFREG, &tsm2, NULL}, {"b/" TSM2, AE_IFREG, &tsm2, NULL}},
         2,
         "appears twice"},
        /* A valid name over bytes that are no TSM file. */
        {{{TSM2, AE_IFREG, NULL, "this is not a TSM file at all"}}, 1, ""},
        /* A valid file next to an invalid one: neither is installed. */
        {{{TSM2, AE_IFREG, &tsm2, NULL}, {"000000003-000000001.tsm", AE_IFREG, &tsm1, NULL}},
         0, /* filled below: truncated copy of tsm1 */
         ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        harness_buf short_tsm = {0};
        tar_entry e[2];
        size_t n = cases[i].n;
        memcpy(e, cases[i].e, sizeof e);
        if (n == 0) {
            harness_buf_add(&short_tsm, tsm1.p, tsm1.n - 10);
            e[1].data = &short_tsm;
            n = 2;
        }
        tar = make_tar(e, n);
        if (install(&tar, NULL) != -1 || E.code != TSV_EINVALID || !strstr(E.message, cases[i].msg))
            fail_msg("case %zu (%s): code %d \"%s\" (want EINVALID \"%s\")", i, e[0].path,
                     (int)E.code, E.message, cases[i].msg);
        free(tar.p);
        free(short_tsm.p);
        snapshot(shard, got, sizeof got);
        if (strcmp(got, want) != 0)
            fail_msg("case %zu changed the shard: %s (was %s)", i, got, want);
        assert_no_staging();
    }
    assert_true(harness_count_entries(trash) <= 0);
}

/* Bodies that are no complete tar: empty, garbage, cut short. */
static void test_bad_bodies(void **state)
{
    (void)state;
    tsv_shard_install_stats st;
    assert_int_equal(install_opts("", 0, NULL, &st), -1);
    assert_int_equal(E.code, TSV_EINVALID);
    assert_non_null(strstr(E.message, "empty request body"));
    assert_false(tsv_path_exists(shard));

    char garbage[2048];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (char)(i * 7 + 3);
    FAILS(install_opts(garbage, sizeof garbage, NULL, &st), TSV_EINVALID);
    assert_non_null(strstr(E.message, "invalid shard archive"));

    tar_entry e[] = {{TSM1, AE_IFREG, &tsm1, NULL}};
    harness_buf tar = make_tar(e, 1);
    /* Cut inside the file's data, then right after its header. */
    FAILS(install_opts(tar.p, 512 + tsm1.n / 2, NULL, &st), TSV_EINVALID);
    FAILS(install_opts(tar.p, 512, NULL, &st), TSV_EINVALID);
    assert_false(tsv_path_exists(shard));
    assert_no_staging();
    free(tar.p);
}

/* An archive with nothing to install leaves the shard as it is. */
static void test_nothing_to_install(void **state)
{
    (void)state;
    tar_entry e[] = {{"notes.txt", AE_IFREG, NULL, "hello"}, {"d/", AE_IFDIR, NULL, NULL}};
    harness_buf tar = make_tar(e, 2);
    tsv_shard_install_stats st;
    OK(install(&tar, &st));
    assert_int_equal(st.files, 0);
    assert_int_equal(st.skipped, 2);
    assert_false(tsv_path_exists(shard));
    assert_no_staging();
    free(tar.p);
}

/* The 1.x restore's stricter rules: no directories, no other names, every
 * entry under the prefix. */
static void test_strict_and_prefix(void **state)
{
    (void)state;
    tsv_shard_install_opts strict = {.strict = 1, .prefix = "7"};
    const struct {
        tar_entry e;
        const char *msg;
    } cases[] = {
        {{"7/", AE_IFDIR, NULL, NULL}, "directory entry"},
        {{"7/notes.txt", AE_IFREG, NULL, "x"}, "is not a TSM or tombstone file"},
        {{"8/" TSM1, AE_IFREG, &tsm1, NULL}, "is not in 7/"},
        {{"7/sub/" TSM1, AE_IFREG, &tsm1, NULL}, "is not in 7/"},
        {{TSM1, AE_IFREG, &tsm1, NULL}, "is not in 7/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        harness_buf tar = make_tar(&cases[i].e, 1);
        if (install_opts(tar.p, tar.n, &strict, NULL) != -1 || E.code != TSV_EINVALID ||
            !strstr(E.message, cases[i].msg))
            fail_msg("%s: code %d \"%s\" (want \"%s\")", cases[i].e.path, (int)E.code, E.message,
                     cases[i].msg);
        free(tar.p);
        assert_false(tsv_path_exists(shard));
        assert_no_staging();
    }
    tar_entry ok[] = {{"7/" TSM1, AE_IFREG, &tsm1, NULL}};
    harness_buf tar = make_tar(ok, 1);
    tsv_shard_install_stats st;
    OK(install_opts(tar.p, tar.n, &strict, &st));
    assert_int_equal(st.files, 1);
    assert_file_bytes(shard, TSM1, &tsm1);
    free(tar.p);
}

/* ---- a kept shard directory (an upload's, upload_check.h) -------------- */

/* Installs the tar into root/kept with opts.list (and opts.defer_sync if
 * `defer`, as the upload check does); its path (PATH_MAX bytes) into kept. */
static void make_kept_opts(char *kept, int defer)
{
    harness_path(kept, root, "kept");
    char keep_trash[PATH_MAX];
    harness_path(keep_trash, root, "keep-trash");
    tar_entry e[] = {{TSM1, AE_IFREG, &tsm1, NULL}, {TSM2, AE_IFREG, &tsm2, NULL}};
    harness_buf tar = make_tar(e, 2);
    tsv_reader *r = tsv_mem_reader_new(tar.p, tar.n);
    tsv_shard_install_opts o = {.list = 1, .defer_sync = defer};
    tsv_shard_install_stats st;
    OK(tsv_shard_install_from_tar_opts(kept, keep_trash, 0, r, &o, &st, &E));
    tsv_reader_free(r);
    free(tar.p);
    assert_int_equal(st.files, 2);
}

static void make_kept(char *kept) { make_kept_opts(kept, 0); }

static int install_dir(const char *kept, tsv_shard_install_stats *st)
{
    static const tsv_shard_install_opts none = {0};
    tsv_error_clear(&E);
    return tsv_shard_install_from_dir(shard, trash, 1, kept, &none, st, &E);
}

/* The listed files are hard-linked in (one inode, no copy), unchanged. */
static void test_from_dir_links(void **state)
{
    (void)state;
    char kept[PATH_MAX], list[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
    make_kept(kept);
    harness_path(list, kept, TSV_SHARD_LIST_FILE);
    assert_true(tsv_path_exists(list));
    tsv_shard_install_stats st;
    OK(install_dir(kept, &st));
    assert_int_equal(st.files, 2);
    assert_int_equal(st.bytes, tsm1.n + tsm2.n);
    assert_file_bytes(shard, TSM1, &tsm1);
    assert_file_bytes(shard, TSM2, &tsm2);
    struct stat x, y;
    harness_path(a, kept, TSM1);
    harness_path(b, shard, TSM1);
    assert_int_equal(stat(a, &x), 0);
    assert_int_equal(stat(b, &y), 0);
    assert_int_equal(x.st_ino, y.st_ino);
    /* The list itself is not installed. */
    harness_path(b, shard, TSV_SHARD_LIST_FILE);
    assert_false(tsv_path_exists(b));
    assert_no_staging();
    /* Twice from the same directory (a second restore job): fine. */
    OK(install_dir(kept, &st));
    assert_file_bytes(shard, TSM2, &tsm2);
}

/* Written without fsyncs (the upload check's defer_sync), the kept tree is
 * the same (files, list, generation marker) and tsv_fsync_tree makes it
 * durable as a whole; a missing tree is an error, not a success. */
static void test_from_dir_deferred_sync(void **state)
{
    (void)state;
    char kept[PATH_MAX], marker[PATH_MAX], list[PATH_MAX], missing[PATH_MAX];
    make_kept_opts(kept, 1);
    harness_path(list, kept, TSV_SHARD_LIST_FILE);
    harness_path(marker, kept, TSV_GEN_MARKER);
    assert_true(tsv_path_exists(list));
    assert_true(tsv_path_exists(marker));
    uint64_t gen = 0;
    OK(tsv_gen_marker_read(kept, &gen, &E));
    assert_true(gen != 0);
    OK(tsv_fsync_tree(root, &E));
    harness_path(missing, root, "no-such-tree");
    assert_int_equal(tsv_fsync_tree(missing, &E), -1);
    assert_int_equal(E.code, TSV_EINTERNAL);
    tsv_shard_install_stats st;
    OK(install_dir(kept, &st));
    assert_int_equal(st.files, 2);
    assert_file_bytes(shard, TSM1, &tsm1);
    assert_file_bytes(shard, TSM2, &tsm2);
    assert_no_staging();
}

/* A kept file written since it was listed (same size, other bytes) is
 * caught by its SHA-256; the shard stays as it was. */
static void test_from_dir_changed_file(void **state)
{
    (void)state;
    char kept[PATH_MAX], p[PATH_MAX], before[4096], after[4096];
    make_kept(kept);
    OK(install_dir(kept, NULL));
    snapshot(shard, before, sizeof before);
    harness_path(p, kept, TSM2);
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 100), 1);
    close(fd);
    FAILS(install_dir(kept, NULL), TSV_EINVALID);
    assert_non_null(strstr(E.message, "changed since it was validated"));
    snapshot(shard, after, sizeof after);
    assert_string_equal(before, after);
    assert_no_staging();
}

/* A missing file, a damaged list line, a name that is no shard file. */
static void test_from_dir_bad_lists(void **state)
{
    (void)state;
    char kept[PATH_MAX], list[PATH_MAX], p[PATH_MAX];
    make_kept(kept);
    harness_path(list, kept, TSV_SHARD_LIST_FILE);
    harness_path(p, kept, TSM1);
    assert_int_equal(unlink(p), 0);
    FAILS(install_dir(kept, NULL), TSV_ENOTFOUND);
    assert_false(tsv_path_exists(shard));
    const char *bad[] = {
        "not a list\n",
        "0123 1 2 3 " TSM1 "\n",
        "0000000000000000000000000000000000000000000000000000000000000000 1 2 3 ../etc\n",
        "0000000000000000000000000000000000000000000000000000000000000000 1 2 3 " TSM1 " x\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        harness_write_bytes(list, bad[i], strlen(bad[i]));
        FAILS(install_dir(kept, NULL), TSV_EINVALID);
        assert_false(tsv_path_exists(shard));
        assert_no_staging();
    }
    /* No list at all: not a kept directory. */
    assert_int_equal(unlink(list), 0);
    FAILS(install_dir(kept, NULL), TSV_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_install_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_keeps_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_archives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_to_install, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_and_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_dir_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_dir_deferred_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_dir_changed_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_dir_bad_lists, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
