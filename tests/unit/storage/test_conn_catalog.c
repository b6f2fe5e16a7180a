/* Unit tests for conn_catalog: connections, snapshots, shard versions. */
#include "harness.h"

#include "conn_catalog.h"

static void record(tsv_conn_record *r, const char *name, const char *spec)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->type, sizeof r->type, "influxdb1");
    r->spec_json = strdup(spec);
    snprintf(r->submitted_by, sizeof r->submitted_by, "u1\talice");
    snprintf(r->modified_by, sizeof r->modified_by, "u1\talice");
    r->submitted_on = r->modified_on = 42;
}

static int count_cb(void *ctx, const tsv_conn_record *r, tsv_error *err)
{
    (void)r, (void)err;
    (*(int *)ctx)++;
    return 0;
}

static void test_connections(void **state)
{
    (void)state;
    tsv_conn_catalog *c = NULL;
    OK(tsv_conn_catalog_open(&c, harness_scratch, &E));
    tsv_conn_record r, got;
    record(&r, "src-1", "{\"host\":\"127.0.0.1:8088\"}");
    r.secrets = (uint8_t *)strdup("sealed");
    r.secrets_len = 6;
    OK(tsv_conn_catalog_put(c, &r, 1, &E));
    FAILS(tsv_conn_catalog_put(c, &r, 1, &E), TSV_ECONFLICT);
    OK(tsv_conn_catalog_get(c, "src-1", &got, &E));
    assert_string_equal(got.spec_json, "{\"host\":\"127.0.0.1:8088\"}");
    assert_int_equal(got.secrets_len, 6);
    assert_memory_equal(got.secrets, "sealed", 6);
    assert_true(got.submitted_on == 42 && got.last_run == 0);
    tsv_conn_record_clear(&got);
    OK(tsv_conn_catalog_set_last_run(c, "src-1", 99, &E));
    free(r.spec_json);
    r.spec_json = strdup("{\"host\":\"h:1\"}");
    OK(tsv_conn_catalog_put(c, &r, 0, &E));
    OK(tsv_conn_catalog_get(c, "src-1", &got, &E));
    assert_string_equal(got.spec_json, "{\"host\":\"h:1\"}");
    assert_true(got.last_run == 99);
    tsv_conn_record_clear(&got);
    tsv_conn_record_clear(&r);
    record(&r, "nope", "{}");
    FAILS(tsv_conn_catalog_put(c, &r, 0, &E), TSV_ENOTFOUND);
    tsv_conn_record_clear(&r);
    int n = 0;
    OK(tsv_conn_catalog_list(c, count_cb, &n, &E));
    assert_int_equal(n, 1);
    FAILS(tsv_conn_catalog_get(c, "nope", &got, &E), TSV_ENOTFOUND);
    OK(tsv_conn_catalog_delete(c, "src-1", 5, &E));
    FAILS(tsv_conn_catalog_delete(c, "src-1", 5, &E), TSV_ENOTFOUND);
    tsv_conn_catalog_close(c);
}

static void shard(tsv_snap_shard *s, uint64_t id, const char *hex)
{
    memset(s, 0, sizeof *s);
    s->id = id;
    snprintf(s->db, sizeof s->db, "db");
    snprintf(s->rp, sizeof s->rp, "autogen");
    s->changed = 1;
    s->files = calloc(1, sizeof *s->files);
    s->n_files = 1;
    snprintf(s->files[0].name, sizeof s->files[0].name, "000000001-000000001.tsm");
    snprintf(s->files[0].hex, sizeof s->files[0].hex, "%s", hex);
    s->files[0].size = 10;
    s->files[0].mtime = 1000;
}

typedef struct seen {
    int n;
    int64_t ids[8];
} seen;

static int snap_cb(void *ctx, const tsv_snapshot *s, tsv_error *err)
{
    (void)err;
    seen *x = ctx;
    x->ids[x->n++] = s->id;
    return 0;
}

static int hex_cb(void *ctx, const char *hex, tsv_error *err)
{
    (void)hex, (void)err;
    (*(int *)ctx)++;
    return 0;
}

static void test_snapshots(void **state)
{
    (void)state;
    tsv_conn_catalog *c = NULL;
    OK(tsv_conn_catalog_open(&c, harness_scratch, &E));
    tsv_snapshot s1 = {0};
    snprintf(s1.connection, sizeof s1.connection, "a");
    snprintf(s1.kind, sizeof s1.kind, "influxdb1");
    snprintf(s1.meta_hex, sizeof s1.meta_hex, "%064d", 1);
    s1.time = 100;
    s1.n_shards = 2;
    s1.shards = calloc(2, sizeof *s1.shards);
    shard(&s1.shards[0], 1, "aa");
    shard(&s1.shards[1], 2, "bb");
    OK(tsv_conn_snapshot_commit(c, &s1, &E));
    assert_true(s1.id > 0 && s1.shards[0].version > 0);

    /* the second pull: shard 1 unchanged (its version reused), 2 changed */
    tsv_snapshot s2 = {0};
    snprintf(s2.connection, sizeof s2.connection, "a");
    snprintf(s2.kind, sizeof s2.kind, "influxdb1");
    s2.time = 200;
    s2.n_shards = 2;
    s2.shards = calloc(2, sizeof *s2.shards);
    s2.shards[0] = s1.shards[0];
    s2.shards[0].files = NULL;
    s2.shards[0].n_files = 0;
    s2.shards[0].changed = 0;
    shard(&s2.shards[1], 2, "cc");
    OK(tsv_conn_snapshot_commit(c, &s2, &E));

    tsv_snapshot at;
    OK(tsv_conn_snapshot_at(c, "a", INT64_MAX, &at, &E));
    assert_true(at.id == s2.id);
    assert_int_equal(at.n_shards, 2);
    assert_string_equal(at.shards[0].files[0].hex, "aa"); /* from the reused version */
    assert_string_equal(at.shards[1].files[0].hex, "cc");
    assert_int_equal(at.shards[0].changed, 0);
    tsv_snapshot_clear(&at);
    OK(tsv_conn_snapshot_at(c, "a", 150, &at, &E));
    assert_true(at.id == s1.id);
    assert_string_equal(at.shards[1].files[0].hex, "bb");
    tsv_snapshot_clear(&at);
    FAILS(tsv_conn_snapshot_at(c, "a", 50, &at, &E), TSV_ENOTFOUND);
    FAILS(tsv_conn_snapshot_at(c, "b", INT64_MAX, &at, &E), TSV_ENOTFOUND);

    int objects = 0;
    OK(tsv_conn_catalog_objects(c, hex_cb, &objects, &E));
    assert_int_equal(objects, 4); /* aa bb cc and the meta */

    /* soft delete hides it; purge before the cutoff keeps it; after, drops it
     * and the version only it used */
    OK(tsv_conn_snapshot_delete(c, s1.id, 300, &E));
    seen x = {0};
    OK(tsv_conn_snapshots_list(c, "a", 0, snap_cb, &x, &E));
    assert_int_equal(x.n, 1);
    uint64_t purged = 0;
    OK(tsv_conn_snapshots_purge(c, 300, &purged, &E));
    assert_true(purged == 0);
    OK(tsv_conn_snapshots_purge(c, 301, &purged, &E));
    assert_true(purged == 1);
    objects = 0;
    OK(tsv_conn_catalog_objects(c, hex_cb, &objects, &E));
    assert_int_equal(objects, 2); /* aa (still used by s2) and cc */
    OK(tsv_conn_snapshot_at(c, "a", INT64_MAX, &at, &E));
    assert_string_equal(at.shards[0].files[0].hex, "aa");
    tsv_snapshot_clear(&at);
    tsv_snapshot_clear(&s1);
    s2.shards[0].files = NULL;
    tsv_snapshot_clear(&s2);
    tsv_conn_catalog_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_SCRATCH_TEST(test_connections),
        HARNESS_SCRATCH_TEST(test_snapshots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
