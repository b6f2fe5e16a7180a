/*
 * test_v1_meta: 1.x names, the portable .meta wrapper, DBRP mapping records
 * (as influxd 2.x keys them), import plans of the real 1.6 fixture's
 * meta.Data, and the 1.x view of a KV (storage/v1_meta.h).
 */
#include "harness.h"

#include "fsutil.h"
#include "json.h"
#include "kv.h"
#include "meta_store.h"
#include "tenant.h"
#include "v1_meta.h"

#ifndef TSV_TESTDATA
#error "TSV_TESTDATA must be defined by the build"
#endif

#define META_FILE TSV_TESTDATA "/influxdb-1.6-portable/backup/20261121T112622Z.meta"

typedef struct fixture {
    char dir[64];
    tsv_kv *kv;
    tsv_kv_txn *t;
    char org[17];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/tsv-test-v1meta-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    OK(tsv_kv_open(&f->kv, f->dir, 0, &E));
    OK(tsv_kv_begin(f->kv, 1, &f->t, &E));
    OK(tsv_tenant_init(f->t, &E));
    tsv_org o;
    OK(tsv_tenant_org_create(f->t, "v1org", "", &o, &E));
    memcpy(f->org, o.id, 17);
    tsv_org_clear(&o);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tsv_kv_abort(f->t);
    tsv_kv_close(f->kv);
    tsv_error err = {0};
    if (tsv_remove_tree(f->dir, &err) != 0)
        fprintf(stderr, "cleanup: %s\n", err.message);
    free(f);
    return 0;
}

static Meta__Data *fixture_meta(void)
{
    char *buf;
    size_t len;
    OK(tsv_read_file(META_FILE, 1 << 20, &buf, &len, &E));
    const uint8_t *data;
    size_t dlen;
    uint64_t node = 99;
    OK(tsv_v1_portable_unwrap((const uint8_t *)buf, len, &data, &dlen, &node, &E));
    assert_int_equal(dlen, 236); /* the manifest's meta.size */
    assert_int_equal(node, 0);
    Meta__Data *m;
    OK(tsv_meta_decode(data, dlen, &m, &E));
    free(buf);
    return m;
}

static void test_names(void **state)
{
    (void)state;
    OK(tsv_v1_name_check("fixture", "database", &E));
    OK(tsv_v1_name_check("héllo wörld.x-y_z", "database", &E));
    FAILS(tsv_v1_name_check("", "database", &E), TSV_EINVALID);
    FAILS(tsv_v1_name_check(".", "database", &E), TSV_EINVALID);
    FAILS(tsv_v1_name_check("..", "retention policy", &E), TSV_EINVALID);
    FAILS(tsv_v1_name_check("a/b", "database", &E), TSV_EINVALID);
    FAILS(tsv_v1_name_check("a\\b", "database", &E), TSV_EINVALID);
    FAILS(tsv_v1_name_check("a\nb", "database", &E), TSV_EINVALID);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    FAILS(tsv_v1_name_check(longname, "database", &E), TSV_EINVALID);

    char name[2 * TSV_V1_NAME_MAX + 2];
    OK(tsv_v1_bucket_name("db", "rp", name, sizeof name, &E));
    assert_string_equal(name, "db/rp");
    FAILS(tsv_v1_bucket_name("d/b", "rp", name, sizeof name, &E), TSV_EINVALID);

    char db[TSV_V1_NAME_MAX + 1], rp[TSV_V1_NAME_MAX + 1];
    tsv_v1_split_bucket_name("telegraf/weekly", db, rp);
    assert_string_equal(db, "telegraf");
    assert_string_equal(rp, "weekly");
    tsv_v1_split_bucket_name("metrics", db, rp);
    assert_string_equal(db, "metrics");
    assert_string_equal(rp, "autogen");
    tsv_v1_split_bucket_name("a/b/c", db, rp); /* cut at the first '/' as InfluxDB does */
    assert_string_equal(db, "a");
    assert_string_equal(rp, "b/c");
}

static void test_portable_wrap(void **state)
{
    (void)state;
    char *buf;
    size_t len;
    OK(tsv_read_file(META_FILE, 1 << 20, &buf, &len, &E));
    const uint8_t *data;
    size_t dlen;
    OK(tsv_v1_portable_unwrap((const uint8_t *)buf, len, &data, &dlen, NULL, &E));
    tsv_buf out = {0};
    OK(tsv_v1_portable_wrap(data, dlen, 0, &out, &E));
    /* Byte-identical to what influxd backup wrote. */
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, buf, len);
    tsv_buf_free(&out);
    FAILS(tsv_v1_portable_unwrap((const uint8_t *)buf, len - 2, &data, &dlen, NULL, &E),
          TSV_EINVALID); /* MaxNodeID cut off: a required field is missing */
    FAILS(tsv_v1_portable_unwrap((const uint8_t *)buf, 100, &data, &dlen, NULL, &E),
          TSV_EINVALID); /* Data truncated */
    static const uint8_t junk[] = {0x0f, 0xff, 0xff};
    FAILS(tsv_v1_portable_unwrap(junk, sizeof junk, &data, &dlen, NULL, &E), TSV_EINVALID);
    free(buf);
}

static void test_import_plan(void **state)
{
    (void)state;
    Meta__Data *m = fixture_meta();
    tsv_v1_import_item *it;
    size_t n;
    OK(tsv_v1_import_plan(m, "", "", "", "", &it, &n, &E));
    assert_int_equal(n, 2);
    assert_string_equal(it[0].db, "fixture");
    assert_string_equal(it[0].rp, "autogen");
    assert_true(it[0].is_default);
    assert_string_equal(it[1].rp, "daily");
    assert_false(it[1].is_default);
    assert_int_equal(it[0].src_rp->n_shardgroups, 3);
    free(it);

    OK(tsv_v1_import_plan(m, "fixture", "copy", "daily", "day2", &it, &n, &E));
    assert_int_equal(n, 1);
    assert_string_equal(it[0].db, "copy");
    assert_string_equal(it[0].rp, "day2");
    assert_true(it[0].is_default); /* a single restored RP becomes the default, as influxd */
    assert_int_equal(it[0].src_rp->n_shardgroups, 2);
    free(it);

    FAILS(tsv_v1_import_plan(m, "nosuch", "", "", "", &it, &n, &E), TSV_ENOTFOUND);
    FAILS(tsv_v1_import_plan(m, "fixture", "", "nosuch", "", &it, &n, &E), TSV_ENOTFOUND);
    FAILS(tsv_v1_import_plan(m, "fixture", "bad/name", "", "", &it, &n, &E), TSV_EINVALID);
    /* _internal is never imported by a full restore. */
    free(m->databases[0]->name);
    m->databases[0]->name = strdup("_internal");
    FAILS(tsv_v1_import_plan(m, "", "", "", "", &it, &n, &E), TSV_EINVALID);
    tsv_meta_free(m);
}

typedef struct collect {
    tsv_dbrp m[8];
    int n;
} collect;

static int collect_fn(void *ctx, const tsv_dbrp *m, tsv_error *err)
{
    (void)err;
    collect *c = ctx;
    assert_true(c->n < 8);
    c->m[c->n++] = *m;
    return 0;
}

static void new_bucket(fixture *f, const char *name, char id[17])
{
    tsv_bucket b;
    OK(tsv_tenant_bucket_create(f->t, f->org, name, "", 0, 0, 7 * 86400000000000LL, &b, &E));
    memcpy(id, b.id, 17);
    tsv_bucket_clear(&b);
}

static void test_dbrp(void **state)
{
    fixture *f = *state;
    char b1[17], b2[17], b3[17], b4[17];
    new_bucket(f, "fixture/autogen", b1);
    new_bucket(f, "fixture/daily", b2);
    new_bucket(f, "plain", b3);
    new_bucket(f, "x/y", b4);
    tsv_dbrp m;
    OK(tsv_dbrp_create(f->t, f->org, "fixture", "daily", b2, 0, &m, &E));
    assert_true(m.is_default); /* the first mapping of a db is its default */
    OK(tsv_dbrp_create(f->t, f->org, "fixture", "autogen", b1, 1, &m, &E));
    assert_true(m.is_default); /* asked for: takes the default over */
    FAILS(tsv_dbrp_create(f->t, f->org, "fixture", "autogen", b3, 0, NULL, &E), TSV_ECONFLICT);
    FAILS(tsv_dbrp_create(f->t, f->org, "fixture", "other", "0123456789abcdef", 0, NULL, &E),
          TSV_ENOTFOUND);
    FAILS(tsv_dbrp_create(f->t, f->org, "fix/ture", "rp", b3, 0, NULL, &E), TSV_EINVALID);

    /* The records as influxd 2.x keys them. */
    uint64_t h;
    const uint8_t *v;
    size_t vlen;
    OK(tsv_kv_bucket(f->t, TSV_KV_ROOT, "dbrpv1", 6, &h, &E));
    OK(tsv_kv_get(f->t, h, m.id, 16, &v, &vlen, &E));
    char want[512];
    snprintf(want, sizeof want,
             "{\"id\":\"%s\",\"database\":\"fixture\",\"retention_policy\":\"autogen\","
             "\"default\":true,\"virtual\":false,\"orgID\":\"%s\",\"bucketID\":\"%s\"}",
             m.id, f->org, b1);
    assert_int_equal(vlen, strlen(want));
    assert_memory_equal(v, want, vlen);
    char key[128];
    OK(tsv_kv_bucket(f->t, TSV_KV_ROOT, "dbrpbyorganddbindexv1", 21, &h, &E));
    int kl = snprintf(key, sizeof key, "%sfixture/%s", f->org, m.id);
    OK(tsv_kv_get(f->t, h, key, (size_t)kl, &v, &vlen, &E));
    assert_memory_equal(v, m.id, 16);
    OK(tsv_kv_bucket(f->t, TSV_KV_ROOT, "dbrpbyorgv1", 11, &h, &E));
    kl = snprintf(key, sizeof key, "%s/%s", f->org, m.id);
    OK(tsv_kv_get(f->t, h, key, (size_t)kl, &v, &vlen, &E));
    OK(tsv_kv_bucket(f->t, TSV_KV_ROOT, "dbrpdefaultv1", 13, &h, &E));
    kl = snprintf(key, sizeof key, "%sfixture", f->org);
    OK(tsv_kv_get(f->t, h, key, (size_t)kl, &v, &vlen, &E));
    assert_memory_equal(v, m.id, 16);

    tsv_dbrp found;
    OK(tsv_dbrp_find(f->t, f->org, "fixture", "daily", &found, &E));
    assert_string_equal(found.bucket_id, b2);
    assert_false(found.is_default);
    FAILS(tsv_dbrp_find(f->t, f->org, "fixture", "nosuch", &found, &E), TSV_ENOTFOUND);

    collect c = {0};
    OK(tsv_dbrp_foreach(f->t, f->org, 1, collect_fn, &c, &E));
    /* 2 stored + virtual "plain"/autogen and "x"/"y"; the stored buckets are
     * not repeated as virtual ones. */
    assert_int_equal(c.n, 4);
    int virt = 0;
    for (int i = 0; i < c.n; i++) {
        if (c.m[i].is_virtual) {
            virt++;
            assert_true(c.m[i].is_default);
            assert_true(strcmp(c.m[i].bucket_id, b3) == 0 || strcmp(c.m[i].bucket_id, b4) == 0);
        }
    }
    assert_int_equal(virt, 2);
    c.n = 0;
    OK(tsv_dbrp_foreach(f->t, f->org, 0, collect_fn, &c, &E));
    assert_int_equal(c.n, 2);

    /* Deleting the default's bucket: the other mapping of the db becomes the default. */
    OK(tsv_dbrp_delete_bucket(f->t, b1, &E));
    FAILS(tsv_dbrp_find(f->t, f->org, "fixture", "autogen", &found, &E), TSV_ENOTFOUND);
    OK(tsv_dbrp_find(f->t, f->org, "fixture", "daily", &found, &E));
    assert_true(found.is_default);
    OK(tsv_dbrp_delete_bucket(f->t, b2, &E));
    c.n = 0;
    OK(tsv_dbrp_foreach(f->t, f->org, 0, collect_fn, &c, &E));
    assert_int_equal(c.n, 0);
    OK(tsv_kv_bucket(f->t, TSV_KV_ROOT, "dbrpdefaultv1", 13, &h, &E));
    kl = snprintf(key, sizeof key, "%sfixture", f->org);
    FAILS(tsv_kv_get(f->t, h, key, (size_t)kl, &v, &vlen, &E), TSV_ENOTFOUND);
    OK(tsv_dbrp_delete_bucket(f->t, b3, &E)); /* no mapping: nothing to do */
}

static void test_view(void **state)
{
    fixture *f = *state;
    /* A bucket whose tsdb database holds the fixture's autogen shard groups. */
    char b1[17];
    new_bucket(f, "fixture/autogen", b1);
    Meta__Data *live;
    OK(tsv_meta_load(f->t, &live, NULL, &E));
    OK(tsv_meta_create_database(live, b1, 0, 0, &E));
    Meta__Data *fx = fixture_meta();
    Meta__DatabaseInfo *db = (Meta__DatabaseInfo *)tsv_meta_find_database(live, b1);
    Meta__RetentionPolicyInfo *src = fx->databases[0]->retentionpolicies[0];
    Meta__RetentionPolicyInfo *dst = db->retentionpolicies[0];
    free(dst->shardgroups);
    dst->shardgroups = src->shardgroups;
    dst->n_shardgroups = src->n_shardgroups;
    src->shardgroups = NULL;
    src->n_shardgroups = 0;
    live->maxshardid = 5;
    OK(tsv_meta_save(f->t, live, &E));
    tsv_meta_free(live);
    tsv_meta_free(fx);
    OK(tsv_dbrp_create(f->t, f->org, "fixture", "autogen", b1, 0, NULL, &E));

    tsv_v1_view *v;
    OK(tsv_v1_view_build(f->t, f->org, &v, &E));
    assert_int_equal(v->meta->n_databases, 1);
    assert_string_equal(v->meta->databases[0]->name, "fixture");
    assert_string_equal(v->meta->databases[0]->defaultretentionpolicy, "autogen");
    assert_int_equal(v->meta->maxshardid, 5);
    assert_int_equal(v->n_shards, 3);
    const tsv_v1_shard_ref *r = tsv_v1_view_shard(v, 2);
    assert_non_null(r);
    assert_string_equal(r->bucket_id, b1);
    assert_string_equal(r->rp, "autogen");
    assert_null(tsv_v1_view_shard(v, 4));
    char **paths;
    size_t n;
    OK(tsv_v1_view_paths(v, "fixture", "autogen", &paths, &n, &E));
    assert_int_equal(n, 3);
    assert_string_equal(paths[0], "fixture/autogen/1");
    tsv_meta_shard_paths_free(paths, n);
    OK(tsv_v1_view_paths(v, NULL, NULL, &paths, &n, &E));
    assert_int_equal(n, 3);
    tsv_meta_shard_paths_free(paths, n);
    FAILS(tsv_v1_view_paths(v, "nosuch", NULL, &paths, &n, &E), TSV_ENOTFOUND);
    FAILS(tsv_v1_view_paths(v, "fixture", "nosuch", &paths, &n, &E), TSV_ENOTFOUND);
    /* The view encodes to a meta.Data that decodes again. */
    uint8_t *bytes;
    size_t blen;
    OK(tsv_meta_encode(v->meta, &bytes, &blen, &E));
    Meta__Data *back;
    OK(tsv_meta_decode(bytes, blen, &back, &E));
    assert_int_equal(back->databases[0]->retentionpolicies[0]->n_shardgroups, 3);
    tsv_meta_free(back);
    free(bytes);
    tsv_v1_view_free(v);

    /* No org: an empty view. */
    OK(tsv_v1_view_build(f->t, "", &v, &E));
    assert_int_equal(v->meta->n_databases, 0);
    tsv_v1_view_free(v);
    char org[17];
    OK(tsv_v1_resolve_org(f->t, NULL, org, &E));
    assert_string_equal(org, f->org);
    OK(tsv_v1_resolve_org(f->t, "v1org", org, &E));
    OK(tsv_v1_resolve_org(f->t, f->org, org, &E));
    FAILS(tsv_v1_resolve_org(f->t, "nosuch", org, &E), TSV_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_portable_wrap),
        cmocka_unit_test(test_import_plan),
        cmocka_unit_test_setup_teardown(test_dbrp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
