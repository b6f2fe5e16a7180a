/* Unit tests for tar_objects: a tar stream into objects and back. */
#include "harness.h"
#include "tar_fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "object_store.h"
#include "tar_objects.h"

/* pax: names past 100 bytes get a PAX header, as Go's tar writes them */
static harness_buf make_tar(const tar_entry *v, size_t n) { return tar_fixture_make(v, n, 1); }

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Feeds the tar in `chunk`-byte writes; returns finish's result. */
static int feed(tsv_objstore *os, const harness_buf *tar, size_t chunk, size_t upto,
                tsv_tar_sink **out)
{
    char tmp[PATH_MAX];
    harness_at(tmp, "tmp");
    OK(tsv_tar_sink_new(out, os, tmp, &E));
    tsv_writer *w = tsv_tar_sink_writer(*out);
    tsv_error_clear(&E);
    for (size_t off = 0; off < upto; off += chunk) {
        size_t n = upto - off < chunk ? upto - off : chunk;
        if (tsv_write(w, tar->p + off, n, &E) != 0)
            return -1;
    }
    return tsv_tar_sink_finish(*out, &E);
}

static char long_name[300];

static void test_sink_and_source(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    harness_at(dir, "objects");
    tsv_objstore *os = NULL;
    OK(tsv_objstore_open_local(&os, dir, &E));
    memset(long_name, 0, sizeof long_name);
    snprintf(long_name, sizeof long_name, "0123456789abcdef/autogen/7/%0200d.tsm", 1);
    const tar_entry v[] = {
        {"0123456789abcdef/autogen/7", AE_IFDIR, NULL, NULL},
        {"0123456789abcdef/autogen/7/000000001-000000001.tsm", AE_IFREG, NULL, "first file"},
        {"0123456789abcdef/autogen/7/000000001-000000001.tombstone", AE_IFREG, NULL, ""},
        {long_name, AE_IFREG, NULL, "second file, under a long name"},
    };
    harness_buf tar = make_tar(v, 4);
    size_t chunks[] = {1, 7, 512, 100000};
    for (size_t c = 0; c < 4; c++) {
        tsv_tar_sink *s = NULL;
        OK(feed(os, &tar, chunks[c], tar.n, &s));
        size_t n;
        const tsv_tar_entry *e = tsv_tar_sink_entries(s, &n);
        assert_int_equal(n, 3);
        assert_string_equal(e[0].name, v[1].path);
        assert_string_equal(e[2].name, long_name);
        char hex[65];
        sha256_hex("first file", hex);
        assert_string_equal(e[0].hex, hex);
        assert_int_equal(e[0].size, 10);
        assert_int_equal(e[0].mtime, 1700000001);
        assert_int_equal(e[1].size, 0);
        /* the first run stores, the others find the objects */
        assert_int_equal(e[0].created, c == 0);
        assert_true(tsv_tar_sink_new_bytes(s) == (c == 0 ? 10u + 30u : 0u));

        if (c == 0) {
            /* and back: a tar of the objects, read by libarchive */
            tsv_reader *r = NULL;
            OK(tsv_tar_source_new(&r, os, e, n, &E));
            harness_buf back = {0};
            char buf[333];
            ssize_t got;
            while ((got = tsv_read(r, buf, sizeof buf, &E)) > 0)
                harness_buf_add(&back, buf, (size_t)got);
            if (got != 0)
                fail_msg("tar source: %s", E.message);
            tsv_reader_free(r);
            assert_int_equal(back.n % 512, 0);
            struct archive *a = archive_read_new();
            archive_read_support_format_tar(a);
            assert_int_equal(archive_read_open_memory(a, back.p, back.n), ARCHIVE_OK);
            struct archive_entry *ae;
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(archive_read_next_header(a, &ae), ARCHIVE_OK);
                assert_string_equal(archive_entry_pathname(ae), e[i].name);
                assert_int_equal(archive_entry_size(ae), (la_int64_t)e[i].size);
                assert_int_equal(archive_entry_mtime(ae), e[i].mtime);
                char data[64] = {0};
                assert_int_equal(archive_read_data(a, data, sizeof data - 1),
                                 (la_ssize_t)e[i].size);
                assert_string_equal(data, v[i + 1].text);
            }
            assert_int_equal(archive_read_next_header(a, &ae), ARCHIVE_EOF);
            archive_read_free(a);
            /* the source's tar goes through the sink again, same objects */
            tsv_tar_sink *s2 = NULL;
            OK(feed(os, &back, 4096, back.n, &s2));
            size_t n2;
            const tsv_tar_entry *e2 = tsv_tar_sink_entries(s2, &n2);
            assert_int_equal(n2, 3);
            assert_string_equal(e2[2].hex, e[2].hex);
            tsv_tar_sink_free(s2);
            free(back.p);
        }
        tsv_tar_sink_free(s);
    }

    /* cut anywhere before the end blocks: truncated */
    tsv_tar_sink *s = NULL;
    assert_int_equal(feed(os, &tar, 512, tar.n - 1024, &s), -1);
    assert_int_equal(E.code, TSV_EINVALID);
    assert_non_null(strstr(E.message, "truncated tar"));
    tsv_tar_sink_free(s);
    assert_int_equal(feed(os, &tar, 512, 700, &s), -1);
    assert_non_null(strstr(E.message, "truncated tar"));
    tsv_tar_sink_free(s);
    /* an empty body is an empty tar */
    OK(feed(os, &tar, 512, 0, &s));
    tsv_tar_sink_free(s);

    /* a damaged header */
    harness_buf bad = {0};
    harness_buf_add(&bad, tar.p, tar.n);
    bad.p[600] ^= 0x55; /* inside the second header's name */
    assert_int_equal(feed(os, &bad, 512, bad.n, &s), -1);
    assert_non_null(strstr(E.message, "checksum"));
    tsv_tar_sink_free(s);
    free(bad.p);

    /* links are refused */
    const tar_entry l[] = {{"a/b/1/x.tsm", AE_IFLNK, NULL, "/etc/passwd"}};
    harness_buf lt = make_tar(l, 1);
    assert_int_equal(feed(os, &lt, 512, lt.n, &s), -1);
    assert_non_null(strstr(E.message, "only regular files"));
    tsv_tar_sink_free(s);
    free(lt.p);

    /* the tmp directory holds nothing after all this */
    char tmp[PATH_MAX];
    harness_at(tmp, "tmp");
    assert_int_equal(harness_count_entries(tmp), 0);
    OK(tsv_tar_tmp_dir_reset(tmp, &E));
    free(tar.p);
    tsv_objstore_close(os);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_SCRATCH_TEST(test_sink_and_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
