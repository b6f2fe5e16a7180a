/*
 * Unit tests for storage/files_store (names, upload flow: digest check,
 * conflict, nothing kept on failure, records, delete), storage/import_1x
 * (the portable .meta wrapper, db/rp -> bucket database) and
 * storage/archive_detect (formats of small inputs).
 */
#include "harness.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files_store.h"
#include "fsutil.h"
#include "import_1x.h"

static void test_names(void **state)
{
    (void)state;
    tsv_error err;
    assert_int_equal(tsv_files_name_check("backup.tar.gz", &err), 0);
    assert_int_equal(tsv_files_name_check("a b-c_d.1", &err), 0);
    const char *bad[] = {"", ".", "..", ".hidden", "a/b", "a\\b", "x..y", "tab\there", "del\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tsv_files_name_check(bad[i], &err), -1);
        assert_int_equal(err.code, TSV_EINVALID);
    }
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(tsv_files_name_check(longname, &err), -1);
    longname[255] = '\0';
    assert_int_equal(tsv_files_name_check(longname, &err), 0);
}

static void test_upload_flow(void **state)
{
    (void)state;
    tsv_error err;
    tsv_files_options opt = {.data_dir = harness_scratch, .max_file_size = 1000};
    tsv_files *f;
    assert_int_equal(tsv_files_open(&f, &opt, &err), 0);
    char tmp[PATH_MAX], data[PATH_MAX];
    harness_at(tmp, "files/tmp");
    harness_at(data, "files/data");

    /* A good upload, in pieces. */
    tsv_files_upload *u;
    assert_int_equal(tsv_files_upload_begin(f, "notes.txt", &u, &err), 0);
    /* The name is reserved while it uploads. */
    tsv_files_upload *u2;
    assert_int_equal(tsv_files_upload_begin(f, "notes.txt", &u2, &err), -1);
    assert_int_equal(err.code, TSV_ECONFLICT);
    assert_int_equal(tsv_files_upload_write(u, "hel", 3, &err), 0);
    assert_int_equal(tsv_files_upload_write(u, "lo", 2, &err), 0);
    static const uint8_t md5_hello[16] = {0x5d, 0x41, 0x40, 0x2a, 0xbc, 0x4b, 0x2a, 0x76,
                                          0xb9, 0x71, 0x9d, 0x91, 0x10, 0x17, 0xc5, 0x92};
    tsv_file_info info;
    assert_int_equal(tsv_files_upload_commit(u, md5_hello, "0123456789abcdef", &info, &err), 0);
    assert_string_equal(info.name, "notes.txt");
    assert_int_equal(info.size, 5);
    assert_string_equal(info.md5, "5D41402ABC4B2A76B9719D911017C592");
    assert_string_equal(info.sha256,
                        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_int_equal(info.format, TSV_FORMAT_UNKNOWN);
    assert_int_equal(info.compression, TSV_COMPRESSION_NONE);
    assert_int_equal(strlen(info.id), 36);

    tsv_file_info got;
    assert_int_equal(tsv_files_get(f, "notes.txt", &got, &err), 0);
    assert_string_equal(got.id, info.id);
    assert_string_equal(got.user_id, "0123456789abcdef");
    assert_int_equal(got.uploaded_ns, info.uploaded_ns);

    /* Same name again: conflict at begin. */
    assert_int_equal(tsv_files_upload_begin(f, "notes.txt", &u, &err), -1);
    assert_int_equal(err.code, TSV_ECONFLICT);

    /* Wrong digest: refused, nothing kept. */
    assert_int_equal(tsv_files_upload_begin(f, "other.txt", &u, &err), 0);
    assert_int_equal(tsv_files_upload_write(u, "hello", 5, &err), 0);
    static const uint8_t wrong[16] = {1};
    assert_int_equal(tsv_files_upload_commit(u, wrong, "", &info, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    assert_non_null(strstr(err.message, "MD5 digest mismatch"));
    assert_int_equal(harness_count_entries(data), 1);
    assert_int_equal(harness_count_entries(tmp), 0);

    /* Over the size limit. */
    assert_int_equal(tsv_files_upload_begin(f, "big.bin", &u, &err), 0);
    char block[600] = {0};
    assert_int_equal(tsv_files_upload_write(u, block, sizeof block, &err), 0);
    assert_int_equal(tsv_files_upload_write(u, block, sizeof block, &err), -1);
    assert_int_equal(err.code, TSV_ETOOLARGE);
    tsv_files_upload_abort(u);
    assert_int_equal(harness_count_entries(tmp), 0);

    /* A gzip stream that is damaged is refused even as unknown content. */
    assert_int_equal(tsv_files_upload_begin(f, "bad.gz", &u, &err), 0);
    static const uint8_t gz[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff, 0xde, 0xad};
    assert_int_equal(tsv_files_upload_write(u, gz, sizeof gz, &err), 0);
    assert_int_equal(tsv_files_upload_commit(u, NULL, "", &info, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    assert_int_equal(harness_count_entries(data), 1);

    tsv_files_space sp;
    assert_int_equal(tsv_files_space_get(f, &sp, &err), 0);
    assert_int_equal(sp.used, 5);
    assert_true(sp.allocated >= sp.used);

    assert_int_equal(tsv_files_delete(f, "notes.txt", &err), 0);
    assert_int_equal(tsv_files_delete(f, "notes.txt", &err), -1);
    assert_int_equal(err.code, TSV_ENOTFOUND);
    assert_int_equal(tsv_files_get(f, "notes.txt", &got, &err), -1);
    assert_int_equal(err.code, TSV_ENOTFOUND);
    tsv_files_close(f);
}

/* A file left without its record (a crash between rename and record) is
 * removed when the staging area opens. */
static void test_reconcile(void **state)
{
    (void)state;
    tsv_error err;
    tsv_files_options opt = {.data_dir = harness_scratch};
    tsv_files *f;
    assert_int_equal(tsv_files_open(&f, &opt, &err), 0);
    tsv_files_close(f);
    char p[PATH_MAX];
    harness_at(p, "files/data/orphan");
    assert_int_equal(tsv_write_file_atomic(p, "x", 1, &err), 0);
    harness_at(p, "files/tmp/upload-1");
    assert_int_equal(tsv_write_file_atomic(p, "x", 1, &err), 0);
    assert_int_equal(tsv_files_open(&f, &opt, &err), 0);
    harness_at(p, "files/data");
    assert_int_equal(harness_count_entries(p), 0);
    harness_at(p, "files/tmp");
    assert_int_equal(harness_count_entries(p), 0);
    tsv_files_close(f);
}

static void test_portable_meta(void **state)
{
    (void)state;
    tsv_error err;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/influxdb-1.6-portable/backup/20261121T112622Z.meta",
             TSV_TESTDATA);
    char *buf;
    size_t len;
    assert_int_equal(tsv_read_file(path, 1 << 20, &buf, &len, &err), 0);
    Meta__Data *m;
    assert_int_equal(tsv_portable_meta_decode((const uint8_t *)buf, len, &m, &err), 0);
    const Meta__DatabaseInfo *db = tsv_meta_find_database(m, "fixture");
    assert_non_null(db);
    assert_int_equal(db->n_retentionpolicies, 2);
    Meta__DatabaseInfo *b;
    assert_int_equal(tsv_1x_bucket_database(m, "fixture", "daily", "fixture/daily", &b, &err), 0);
    assert_string_equal(b->name, "fixture/daily");
    assert_int_equal(b->n_retentionpolicies, 1);
    assert_string_equal(b->retentionpolicies[0]->name, "autogen");
    assert_string_equal(b->defaultretentionpolicy, "autogen");
    assert_int_equal(b->retentionpolicies[0]->n_shardgroups, 2);
    tsv_meta_free_database(b);
    assert_int_equal(tsv_1x_bucket_database(m, "fixture", "nope", "x", &b, &err), -1);
    assert_int_equal(err.code, TSV_ENOTFOUND);
    tsv_meta_free(m);
    /* Truncated and foreign wrappers. */
    assert_int_equal(tsv_portable_meta_decode((const uint8_t *)buf, len - 3, &m, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    static const uint8_t foreign[] = {0x1a, 0x01, 0x00};
    assert_int_equal(tsv_portable_meta_decode(foreign, sizeof foreign, &m, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        HARNESS_SCRATCH_TEST(test_upload_flow),
        HARNESS_SCRATCH_TEST(test_reconcile),
        cmocka_unit_test(test_portable_meta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
