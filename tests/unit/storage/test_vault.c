/*
 * Unit tests for the vault's building blocks: ISO 8601 intervals
 * (common/interval), the local object store (put with hash check, adopt
 * with dedup, get, link, list, delete) and the catalogue (records round
 * trip, slot order, next version, restart, soft-delete of a copy, version
 * arrays).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "fsutil.h"
#include "interval.h"
#include "object_store.h"

static void test_interval_parse(void **state)
{
    (void)state;
    tsv_interval iv;
    tsv_error err = {0};
    const char *s = "2022-07-01/2022-08-01";
    assert_int_equal(tsv_interval_parse(s, strlen(s), &iv, &err), 0);
    assert_int_equal(iv.start_ns, 1656633600LL * 1000000000LL);
    assert_int_equal(iv.end_ns, 1659312000LL * 1000000000LL);
    s = "2024-01-03T00:00:00Z/2024-01-03T00:00:00.000000001Z";
    assert_int_equal(tsv_interval_parse(s, strlen(s), &iv, &err), 0);
    assert_int_equal(iv.end_ns - iv.start_ns, 1);
    s = "2024-01-03T01:00:00+01:00/2024-01-04";
    assert_int_equal(tsv_interval_parse(s, strlen(s), &iv, &err), 0);
    assert_int_equal(iv.start_ns, 1704240000LL * 1000000000LL);
    char out[TSV_INTERVAL_MAX];
    tsv_interval_format(&iv, out, sizeof out);
    assert_string_equal(out, "2024-01-03T00:00:00Z/2024-01-04T00:00:00Z");

    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"", "empty"},
        {"2024-01-03", "expected <start>/<end>"},
        {"2024-01-04/2024-01-03", "reversed interval"},
        {"2024-01-03/2024-01-03", "empty interval"},
        {"../2024-01-03", "unbounded"},
        {"2024-01-03/", "unbounded"},
        {"2024-01-03/P1D", "durations"},
        {"2024-02-30/2024-03-01", "not a date"},
        {"2024-01-01/2024-01-02/2024-01-03", "more than one"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(tsv_interval_parse(bad[i].in, strlen(bad[i].in), &iv, &err), -1);
        assert_int_equal(err.code, TSV_EINVALID);
        if (!strstr(err.message, bad[i].msg))
            fail_msg("%s: %s", bad[i].in, err.message);
    }
}

/* sha256("abc") */
#define ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static int count_fn(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    (void)err;
    (void)hex;
    (void)size;
    (*(int *)ctx)++;
    return 0;
}

static void test_object_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/tsv-ut-objects.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char objdir[64], path[300], path2[300];
    snprintf(objdir, sizeof objdir, "%s/objects", dir);
    tsv_objstore *os;
    tsv_error err = {0};
    assert_int_equal(tsv_objstore_open_local(&os, objdir, &err), 0);

    char hex[TSV_OBJECT_HEX];
    uint64_t size;
    int created = -1;
    harness_str_reader r = harness_reader_of("abc");
    assert_int_equal(tsv_objstore_put(os, &r.base, NULL, hex, &size, &created, &err), 0);
    assert_string_equal(hex, ABC);
    assert_int_equal(size, 3);
    assert_int_equal(created, 1);
    /* Same bytes again: the same object. A wrong expected hash: refused. */
    r = harness_reader_of("abc");
    assert_int_equal(tsv_objstore_put(os, &r.base, ABC, hex, &size, &created, &err), 0);
    assert_int_equal(created, 0);
    r = harness_reader_of("abd");
    assert_int_equal(tsv_objstore_put(os, &r.base, ABC, hex, &size, &created, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);

    /* Adopting a file whose object exists makes it that object (dedup). */
    snprintf(path, sizeof path, "%s/f", dir);
    FILE *f = fopen(path, "w");
    fputs("abc", f);
    fclose(f);
    assert_int_equal(tsv_sha256_file(path, hex, &size, &err), 0);
    assert_string_equal(hex, ABC);
    assert_int_equal(tsv_objstore_adopt(os, path, hex, &created, &err), 0);
    assert_int_equal(created, 0);
    struct stat a, b;
    snprintf(path2, sizeof path2, "%s/ba/%s", objdir, ABC);
    assert_int_equal(stat(path, &a), 0);
    assert_int_equal(stat(path2, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(b.st_mode & 0777, 0444);

    /* link, get, exists, list, delete */
    snprintf(path2, sizeof path2, "%s/g", dir);
    assert_int_equal(tsv_objstore_link(os, ABC, path2, &err), 0);
    tsv_reader *g;
    assert_int_equal(tsv_objstore_get(os, ABC, &g, &err), 0);
    char buf[8] = {0};
    assert_int_equal(tsv_read_full(g, buf, sizeof buf, &err), 3);
    assert_string_equal(buf, "abc");
    tsv_reader_free(g);
    int n = 0, ex = 0;
    assert_int_equal(tsv_objstore_list(os, count_fn, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(tsv_objstore_delete(os, ABC, &err), 0);
    assert_int_equal(tsv_objstore_exists(os, ABC, &ex, NULL, &err), 0);
    assert_int_equal(ex, 0);
    assert_int_equal(tsv_objstore_get(os, ABC, &g, &err), -1);
    assert_int_equal(err.code, TSV_ENOTFOUND);
    assert_int_equal(tsv_objstore_delete(os, ABC, &err), 0); /* missing: fine */
    assert_int_equal(tsv_objstore_get(os, "../etc/passwd", &g, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    tsv_objstore_close(os);
    assert_int_equal(tsv_remove_tree(dir, &err), 0);
}

typedef struct seen {
    uint64_t versions[16];
    int64_t starts[16];
    int n;
} seen;

static int seen_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    (void)err;
    seen *s = ctx;
    s->versions[s->n] = v->version;
    s->starts[s->n] = v->slot.start_ns;
    s->n++;
    return 0;
}

static void put_version(tsv_catalog_txn *t, const char *bucket, int64_t start, uint64_t version,
                        tsv_version_state st)
{
    tsv_version v;
    memset(&v, 0, sizeof v);
    snprintf(v.slot.bucket, sizeof v.slot.bucket, "%s", bucket);
    snprintf(v.slot.rp, sizeof v.slot.rp, "autogen");
    v.slot.start_ns = start;
    v.slot.end_ns = start + 10;
    v.version = version;
    v.state = st;
    v.shard_id = 7;
    v.derived_from = version > 1 ? version - 1 : 0;
    snprintf(v.deleted_by, sizeof v.deleted_by, "delete_data:job-1");
    snprintf(v.bucket_name, sizeof v.bucket_name, "b");
    tsv_error err = {0};
    assert_int_equal(tsv_version_add_file(&v, "000000001-000000001.tsm", ABC, 3, &err), 0);
    assert_int_equal(tsv_version_add_file(&v, "000000001-000000001.tombstone", ABC, 3, &err), 0);
    assert_int_equal(tsv_catalog_put(t, &v, &err), 0);
    tsv_version_clear(&v);
}

/* A catalogue in a fresh temporary directory with a write transaction
 * open: a test's cmocka setup/teardown, the test gets it as *state and
 * ends t; the teardown closes c and removes dir. */
typedef struct scratch_catalog {
    char dir[PATH_MAX];
    tsv_catalog *c;
    tsv_catalog_txn *t;
} scratch_catalog;

static int catalog_setup(void **state)
{
    scratch_catalog *sc = calloc(1, sizeof *sc);
    assert_non_null(sc);
    assert_int_equal(harness_tmpdir(sc->dir, sizeof sc->dir, "ut-catalog"), 0);
    OK(tsv_catalog_open(&sc->c, sc->dir, &E));
    OK(tsv_catalog_begin(sc->c, 1, &sc->t, &E));
    *state = sc;
    return 0;
}

static int catalog_teardown(void **state)
{
    scratch_catalog *sc = *state;
    tsv_catalog_close(sc->c);
    assert_int_equal(harness_rmtree(sc->dir), 0);
    free(sc);
    return 0;
}

static void test_catalog(void **state)
{
    scratch_catalog *sc = *state;
    tsv_catalog_txn *t = sc->t;
    tsv_error err = {0};
    /* Negative times sort before positive ones; versions ascend in a slot. */
    put_version(t, "0123456789abcdef", 100, 2, TSV_VERSION_IN_USE);
    put_version(t, "0123456789abcdef", 100, 1, TSV_VERSION_SOFT_DELETED);
    put_version(t, "0123456789abcdef", -5, 1, TSV_VERSION_PURGED);
    put_version(t, "fedcba9876543210", 0, 1, TSV_VERSION_IN_USE);
    assert_int_equal(tsv_catalog_meta_put(t, "k", "v", &err), 0);
    assert_int_equal(tsv_catalog_commit(t, &err), 0);
    tsv_catalog_close(sc->c);

    assert_int_equal(tsv_catalog_open(&sc->c, sc->dir, &err), 0); /* survives a reopen */
    assert_int_equal(tsv_catalog_begin(sc->c, 0, &t, &err), 0);
    seen s = {0};
    assert_int_equal(tsv_catalog_bucket_foreach(t, "0123456789abcdef", seen_fn, &s, &err), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.starts[0], -5);
    assert_int_equal(s.versions[1], 1);
    assert_int_equal(s.versions[2], 2);
    tsv_slot_key k = {"0123456789abcdef", "autogen", 100, 110};
    uint64_t next;
    assert_int_equal(tsv_catalog_next_version(t, &k, &next, &err), 0);
    assert_int_equal(next, 3);
    tsv_version v;
    assert_int_equal(tsv_catalog_get(t, &k, 1, &v, &err), 0);
    assert_int_equal(v.state, TSV_VERSION_SOFT_DELETED);
    assert_int_equal(v.n_files, 2);
    assert_string_equal(v.files[1].name, "000000001-000000001.tombstone");
    assert_string_equal(v.files[0].object, ABC);
    assert_string_equal(v.deleted_by, "delete_data:job-1");
    assert_int_equal(tsv_version_bytes(&v), 6);
    tsv_version_clear(&v);
    assert_int_equal(tsv_catalog_get(t, &k, 9, &v, &err), -1);
    assert_int_equal(err.code, TSV_ENOTFOUND);
    char val[8];
    assert_int_equal(tsv_catalog_meta_get(t, "k", val, sizeof val, &err), 0);
    assert_string_equal(val, "v");
    char long_name[300];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(tsv_catalog_meta_get(t, long_name, val, sizeof val, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    s.n = 0;
    assert_int_equal(tsv_catalog_foreach(t, seen_fn, &s, &err), 0);
    assert_int_equal(s.n, 4);
    tsv_catalog_abort(t);
}

/* put_soft_deleted records a soft-deleted copy and leaves its source alone;
 * tsv_version_list_add deep-copies into a growing list. */
static void test_catalog_helpers(void **state)
{
    scratch_catalog *sc = *state;
    tsv_catalog_txn *t = sc->t;
    tsv_error err = {0};
    put_version(t, "0123456789abcdef", 100, 1, TSV_VERSION_IN_USE);
    tsv_slot_key k = {"0123456789abcdef", "autogen", 100, 110};
    tsv_version v;
    assert_int_equal(tsv_catalog_get(t, &k, 1, &v, &err), 0);
    assert_int_equal(tsv_catalog_put_soft_deleted(t, &v, 12345, "shard-restore", &err), 0);
    assert_int_equal(v.state, TSV_VERSION_IN_USE);
    assert_string_equal(v.deleted_by, "delete_data:job-1");

    tsv_version_list l = {0};
    for (int i = 0; i < 20; i++)
        assert_int_equal(tsv_version_list_add(&l, &v, &err), 0);
    assert_int_equal(l.n, 20);
    assert_true(l.cap >= 20);
    /* The collectors: every version, or only the in-use ones. */
    assert_int_equal(tsv_version_list_collect(&l, &v, &err), 0);
    assert_int_equal(tsv_version_list_collect_in_use(&l, &v, &err), 0);
    assert_int_equal(l.n, 22);
    v.state = TSV_VERSION_SOFT_DELETED;
    assert_int_equal(tsv_version_list_collect_in_use(&l, &v, &err), 0);
    assert_int_equal(l.n, 22);
    tsv_version_clear(&v);
    assert_int_equal(l.v[19].n_files, 2);
    assert_string_equal(l.v[19].files[1].name, "000000001-000000001.tombstone");
    assert_true(l.v[0].files != l.v[1].files);
    tsv_version_list_clear(&l);
    assert_null(l.v);
    assert_int_equal(l.n + l.cap, 0);

    assert_int_equal(tsv_catalog_get(t, &k, 1, &v, &err), 0);
    assert_int_equal(v.state, TSV_VERSION_SOFT_DELETED);
    assert_int_equal(v.deleted_ns, 12345);
    assert_string_equal(v.deleted_by, "shard-restore");
    assert_int_equal(v.n_files, 2);
    tsv_version_clear(&v);
    tsv_catalog_abort(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interval_parse),
        cmocka_unit_test(test_object_store),
        cmocka_unit_test_setup_teardown(test_catalog, catalog_setup, catalog_teardown),
        cmocka_unit_test_setup_teardown(test_catalog_helpers, catalog_setup, catalog_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
