/*
 * Unit tests for storage/manifest: InfluxDB's BucketMetadataManifest JSON
 * (docs/api.md, "POST /api/v2/restore/bucketMetadata") parsed into a
 * DatabaseInfo and written back byte for byte in Go's field order and
 * omissions; Go's encoding/json rules (case-insensitive member names,
 * unknown members ignored, null as absent); and the errors of bad input,
 * after which the manifest holds nothing.
 */
#include "harness.h"

#include "manifest.h"
#include "meta.h"
#include "tsv_time.h"

/* The example of docs/api.md, compact, in the order Go writes it. */
static const char DOC_EXAMPLE[] =
    "{\"organizationID\":\"49a36d172d283b48\",\"organizationName\":\"acme\","
    "\"bucketID\":\"0a1b2c3d4e5f6071\",\"bucketName\":\"restored\","
    "\"defaultRetentionPolicy\":\"autogen\",\"retentionPolicies\":[{\"name\":\"autogen\","
    "\"replicaN\":1,\"duration\":0,\"shardGroupDuration\":604800000000000,\"shardGroups\":["
    "{\"id\":1,\"startTime\":\"2024-01-01T00:00:00Z\",\"endTime\":\"2024-01-08T00:00:00Z\","
    "\"shards\":[{\"id\":1,\"shardOwners\":[]}]},"
    "{\"id\":2,\"startTime\":\"2024-01-08T00:00:00Z\",\"endTime\":\"2024-01-15T00:00:00Z\","
    "\"shards\":[{\"id\":2,\"shardOwners\":[{\"nodeID\":0}]}]},"
    "{\"id\":3,\"startTime\":\"2024-01-15T00:00:00Z\",\"endTime\":\"2024-01-22T00:00:00Z\","
    "\"deletedAt\":\"2024-02-01T00:00:00Z\",\"shards\":[{\"id\":3,\"shardOwners\":[]}]}],"
    "\"subscriptions\":[]}]}";

static int64_t ns_of(const char *rfc3339)
{
    int64_t ns;
    OK(tsv_parse_rfc3339(rfc3339, strlen(rfc3339), &ns, &E));
    return ns;
}

static void parse_ok(const char *json, tsv_manifest *m)
{
    OK(tsv_manifest_parse(json, strlen(json), m, &E));
}

/* Fails unless got is want (both NULL, or equal strings). */
static void same_str(const char *what, const char *got, const char *want)
{
    if (want ? !got || strcmp(got, want) != 0 : got != NULL)
        fail_msg("%s: \"%s\", want \"%s\"", what, got ? got : "(null)", want ? want : "(null)");
}

/* Fails unless m's organisation, bucket and description are these. */
static void manifest_names(const tsv_manifest *m, const char *org_id, const char *org_name,
                           const char *bucket_id, const char *bucket_name, const char *description)
{
    same_str("org_id", m->org_id, org_id);
    same_str("org_name", m->org_name, org_name);
    same_str("bucket_id", m->bucket_id, bucket_id);
    same_str("bucket_name", m->bucket_name, bucket_name);
    same_str("description", m->description, description);
}

/* Writes m back as compact JSON into *out (a NUL-terminated tsv_buf). */
static void write_back(const tsv_manifest *m, tsv_buf *out)
{
    tsv_json_writer w;
    tsv_jw_init(&w, out, NULL);
    tsv_manifest_write(&w, m->org_id, m->org_name, m->bucket_id, m->bucket_name, m->description,
                       m->db);
    OK(tsv_jw_finish(&w, &E));
    OK(tsv_buf_append(out, "", 1, &E));
}

static void test_parse_doc_example(void **state)
{
    (void)state;
    tsv_manifest m;
    parse_ok(DOC_EXAMPLE, &m);
    manifest_names(&m, "49a36d172d283b48", "acme", "0a1b2c3d4e5f6071", "restored", NULL);
    const Meta__DatabaseInfo *db = m.db;
    assert_non_null(db);
    assert_string_equal(db->name, "restored"); /* the database is named after the bucket */
    assert_string_equal(db->defaultretentionpolicy, "autogen");
    assert_int_equal(db->n_retentionpolicies, 1);
    const Meta__RetentionPolicyInfo *rp = db->retentionpolicies[0];
    assert_string_equal(rp->name, "autogen");
    assert_int_equal(rp->replican, 1);
    assert_int_equal(rp->duration, 0);
    assert_int_equal(rp->shardgroupduration, 604800000000000LL);
    assert_int_equal(rp->n_shardgroups, 3);
    assert_int_equal(rp->shardgroups[0]->id, 1);
    assert_int_equal(rp->shardgroups[0]->starttime, ns_of("2024-01-01T00:00:00Z"));
    assert_int_equal(rp->shardgroups[0]->endtime, ns_of("2024-01-08T00:00:00Z"));
    assert_int_equal(rp->shardgroups[0]->deletedat, 0);
    assert_int_equal(rp->shardgroups[2]->deletedat, ns_of("2024-02-01T00:00:00Z"));
    assert_int_equal(rp->shardgroups[1]->n_shards, 1);
    assert_int_equal(rp->shardgroups[1]->shards[0]->id, 2);
    assert_int_equal(rp->shardgroups[1]->shards[0]->n_owners, 1);
    assert_int_equal(rp->shardgroups[0]->shards[0]->n_owners, 0);
    assert_int_equal(rp->n_subscriptions, 0);
    tsv_manifest_clear(&m);
    assert_null(m.db);
    tsv_manifest_clear(&m); /* twice is fine */
    tsv_manifest_clear(NULL);
}

/* Writing what was parsed gives the same bytes: Go's order and omissions
 * (no description when empty, no deletedAt when zero). */
static void test_roundtrip_exact(void **state)
{
    (void)state;
    tsv_manifest m;
    parse_ok(DOC_EXAMPLE, &m);
    tsv_buf out = {0};
    write_back(&m, &out);
    assert_string_equal((const char *)out.data, DOC_EXAMPLE);
    tsv_buf_free(&out);
    tsv_manifest_clear(&m);
}

/* Member names match case-insensitively; unknown members and null values
 * are ignored; a description survives the round trip; a subscription without
 * destinations is written as null like Go's nil slice. */
static void test_go_rules(void **state)
{
    (void)state;
    const char *json =
        "{\"ORGANIZATIONID\":\"49a36d172d283b48\",\"organizationname\":\"acme\","
        "\"BucketId\":null,\"bucketName\":\"b\",\"Description\":\"d \\u00e9\\n\","
        "\"extra\":{\"nested\":[1,2,{\"x\":null}]},\"defaultRetentionPolicy\":null,"
        "\"retentionPolicies\":[{\"Name\":\"rp\",\"REPLICAN\":2,\"duration\":3600000000000,"
        "\"shardGroupDuration\":3600000000000,\"shardGroups\":null,"
        "\"subscriptions\":[{\"name\":\"s\",\"mode\":\"ANY\",\"destinations\":[]}]}]}";
    tsv_manifest m;
    parse_ok(json, &m);
    manifest_names(&m, "49a36d172d283b48", "acme", "", "b", "d \xc3\xa9\n");
    assert_string_equal(m.db->defaultretentionpolicy, "");
    assert_int_equal(m.db->n_retentionpolicies, 1);
    assert_string_equal(m.db->retentionpolicies[0]->name, "rp");
    assert_int_equal(m.db->retentionpolicies[0]->replican, 2);
    assert_int_equal(m.db->retentionpolicies[0]->n_shardgroups, 0);
    assert_int_equal(m.db->retentionpolicies[0]->n_subscriptions, 1);
    tsv_buf out = {0};
    write_back(&m, &out);
    const char *want =
        "{\"organizationID\":\"49a36d172d283b48\",\"organizationName\":\"acme\","
        "\"bucketID\":\"\",\"bucketName\":\"b\",\"description\":\"d \xc3\xa9\\n\","
        "\"defaultRetentionPolicy\":\"\",\"retentionPolicies\":[{\"name\":\"rp\","
        "\"replicaN\":2,\"duration\":3600000000000,\"shardGroupDuration\":3600000000000,"
        "\"shardGroups\":[],\"subscriptions\":[{\"name\":\"s\",\"mode\":\"ANY\","
        "\"destinations\":null}]}]}";
    assert_string_equal((const char *)out.data, want);
    tsv_buf_free(&out);
    tsv_manifest_clear(&m);

    /* The smallest manifest: an empty object. */
    parse_ok("{}", &m);
    assert_string_equal(m.org_id, "");
    assert_null(m.bucket_name);
    assert_non_null(m.db);
    assert_string_equal(m.db->name, "");
    assert_int_equal(m.db->n_retentionpolicies, 0);
    tsv_manifest_clear(&m);
}

static void test_bad_input(void **state)
{
    (void)state;
    const struct {
        const char *json;
        const char *want; /* in the message */
    } cases[] = {
        {"", "failed to unmarshal json"},
        {"{", "failed to unmarshal json"},
        {"not json", "failed to unmarshal json"},
        {"[]", "cannot unmarshal non-object into BucketMetadataManifest"},
        {"\"x\"", "non-object"},
        {"{\"bucketID\":\"0a1b2c3d4e5f607\"}", "bucketID: id must have a length of 16 bytes"},
        {"{\"bucketID\":\"0a1b2c3d4e5f60711\"}", "id must have a length of 16 bytes"},
        {"{\"organizationID\":\"0000000000000000\"}", "organizationID: invalid ID"},
        {"{\"organizationID\":\"0a1b2c3d4e5f607g\"}", "organizationID"},
        {"{\"organizationID\":49}", "non-string"},
        {"{\"bucketName\":5}", "bucketName"},
        {"{\"bucketName\":\"a\\u0000b\"}", "NUL byte"},
        {"{\"retentionPolicies\":{}}", "non-array into field retentionPolicies"},
        {"{\"retentionPolicies\":[{\"duration\":\"1h\"}]}", "duration"},
        {"{\"retentionPolicies\":[{\"replicaN\":-1}]}", "replicaN"},
        {"{\"retentionPolicies\":[{\"shardGroups\":[{\"startTime\":\"yesterday\"}]}]}",
         "startTime"},
        {"{\"retentionPolicies\":[{\"shardGroups\":[{\"endTime\":5}]}]}", "endTime"},
        {"{\"retentionPolicies\":[{\"shardGroups\":[{\"shards\":{}}]}]}", "shards"},
        {"{\"retentionPolicies\":[{\"shardGroups\":[{\"shards\":[{\"id\":1.5}]}]}]}", "id"},
        {"{\"retentionPolicies\":[{\"shardGroups\":[{\"shards\":[{\"shardOwners\":[{"
         "\"nodeID\":\"1\"}]}]}]}]}",
         "nodeID"},
        {"{\"retentionPolicies\":[{\"subscriptions\":[{\"destinations\":7}]}]}", "destinations"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsv_manifest m;
        memset(&m, 0x5A, sizeof m);
        tsv_error_clear(&E);
        int rc = tsv_manifest_parse(cases[i].json, strlen(cases[i].json), &m, &E);
        if (rc != -1 || E.code != TSV_EINVALID || !strstr(E.message, cases[i].want))
            fail_msg("%s: rc %d code %d \"%s\" (want EINVALID \"%s\")", cases[i].json, rc,
                     (int)E.code, E.message, cases[i].want);
        if (!strstr(E.message, "failed to unmarshal json"))
            fail_msg("%s: \"%s\" lacks InfluxDB's prefix", cases[i].json, E.message);
        /* Nothing is left to free after a failure. */
        assert_null(m.db);
        assert_null(m.org_name);
        assert_null(m.bucket_name);
        assert_null(m.description);
    }
}

/* Lengths count, not NUL terminators: a manifest is parsed from a body. */
static void test_length_bounded(void **state)
{
    (void)state;
    char body[] = "{\"bucketName\":\"abc\"}GARBAGE";
    tsv_manifest m;
    OK(tsv_manifest_parse(body, strlen("{\"bucketName\":\"abc\"}"), &m, &E));
    assert_string_equal(m.bucket_name, "abc");
    tsv_manifest_clear(&m);
    FAILS(tsv_manifest_parse(body, strlen("{\"bucketName\":\"ab"), &m, &E), TSV_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_doc_example), cmocka_unit_test(test_roundtrip_exact),
        cmocka_unit_test(test_go_rules),          cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_length_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
