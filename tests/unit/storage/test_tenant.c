/*
 * test_tenant: organizations, buckets, users and authorizations as InfluxDB
 * stores them (storage/tenant.h), in a fresh KV per test.
 *
 * Records are checked at the KV level (the raw JSON values and the index
 * buckets), not only through the tenant API, and their JSON shapes (member
 * names, order and value types) are compared with the records of the real
 * influxd 2.x file in testdata. Authorization records in every form influxd
 * writes (raw token, hashed-only PHC sha256/sha512 as influxd 2.8+ does,
 * inactive, org-scoped all-access, the 18-type operator of older servers)
 * are written directly into the KV and looked up through the tenant API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bolt.h"
#include "fsutil.h"
#include "json.h"
#include "kv.h"
#include "meta_store.h"
#include "tenant.h"
#include "tenant_auth.h"
#include "tsv_time.h"

#ifndef TSV_TESTDATA
#error "TSV_TESTDATA must be defined by the build"
#endif

#define DAY_NS (24 * 3600 * 1000000000LL)

typedef struct fixture {
    char dir[64];
    tsv_kv *kv;
    tsv_kv_txn *t; /* a write transaction, after tsv_tenant_init */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(harness_tmpdir(f->dir, sizeof f->dir, "test-tenant"), 0);
    OK(tsv_kv_open(&f->kv, f->dir, 0, &E));
    OK(tsv_kv_begin(f->kv, 1, &f->t, &E));
    OK(tsv_tenant_init(f->t, &E));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tsv_kv_abort(f->t);
    tsv_kv_close(f->kv);
    harness_rmtree(f->dir);
    free(f);
    return 0;
}

/* ---- raw KV helpers --------------------------------------------------------- */

static uint64_t bucket(tsv_kv_txn *t, const char *name)
{
    uint64_t b = 0;
    OK(tsv_kv_bucket(t, TSV_KV_ROOT, name, strlen(name), &b, &E));
    return b;
}

/* The value of bucket/key as a NUL-terminated copy, or NULL if absent. */
static char *raw_get(tsv_kv_txn *t, const char *bname, const char *key, size_t klen)
{
    const uint8_t *v;
    size_t n;
    tsv_error err = {0};
    if (tsv_kv_get(t, bucket(t, bname), key, klen, &v, &n, &err) != 0) {
        assert_int_equal(err.code, TSV_ENOTFOUND);
        return NULL;
    }
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, v, n);
    s[n] = '\0';
    return s;
}

static char *raw_gets(tsv_kv_txn *t, const char *bname, const char *key)
{
    return raw_get(t, bname, key, strlen(key));
}

/* Creates the bucket if needed (authorizationhashedindexv1 comes from an
 * influxd migration, tsv_tenant_init does not make it). */
static void raw_put(tsv_kv_txn *t, const char *bname, const char *key, const char *val)
{
    uint64_t b;
    OK(tsv_kv_bucket_create(t, TSV_KV_ROOT, bname, strlen(bname), 0, 1, &b, &E));
    OK(tsv_kv_put(t, b, key, strlen(key), val, strlen(val), &E));
}

static size_t count_keys(tsv_kv_txn *t, const char *bname)
{
    tsv_kv_cursor *c;
    OK(tsv_kv_cursor_open(t, bucket(t, bname), &c, &E));
    tsv_kv_entry e;
    size_t n = 0;
    int rc;
    while ((rc = tsv_kv_cursor_next(c, &e, &E)) == 1)
        n++;
    assert_int_equal(rc, 0);
    tsv_kv_cursor_close(c);
    return n;
}

static tsv_json_doc *parse(const char *s)
{
    tsv_json_doc *d = NULL;
    OK(tsv_json_parse(&d, s, strlen(s), &E));
    return d;
}

static const char *str_of(const tsv_json *o, const char *key)
{
    const tsv_json *v = tsv_json_get(o, key);
    assert_non_null(v);
    assert_int_equal(v->type, TSV_JSON_STRING);
    return v->str;
}

static int64_t int_of(const tsv_json *o, const char *key)
{
    int64_t v = 0;
    OK(tsv_json_i64(tsv_json_get(o, key), &v, key, &E));
    return v;
}

/* An ID as InfluxDB makes them: 16 lowercase hex, non-zero, and none of its
 * 8 bytes is '\\', ',' or ' ' (they need escaping in line protocol). */
static void assert_good_id(const char *id)
{
    assert_non_null(id);
    assert_int_equal(strlen(id), 16);
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            fail_msg("id %s: not lowercase hex", id);
        v = v << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    assert_true(v != 0);
    for (int i = 0; i < 8; i++) {
        uint8_t b = (uint8_t)(v >> (8 * i));
        if (b == 0x5C || b == 0x2C || b == 0x20)
            fail_msg("id %s has byte 0x%02x", id, b);
    }
}

/* Every bucket record has its index entry and every index entry points at a
 * record with that org and name: bucketindexv1 and bucketsv1 agree. */
static void assert_bucket_index_consistent(tsv_kv_txn *t)
{
    size_t records = 0;
    tsv_kv_cursor *c;
    OK(tsv_kv_cursor_open(t, bucket(t, "bucketsv1"), &c, &E));
    tsv_kv_entry e;
    while (tsv_kv_cursor_next(c, &e, &E) == 1) {
        char *json = malloc(e.vlen + 1);
        assert_non_null(json);
        memcpy(json, e.val, e.vlen);
        json[e.vlen] = '\0';
        tsv_json_doc *d = parse(json);
        const tsv_json *r = tsv_json_root(d);
        assert_int_equal(e.klen, 16);
        assert_memory_equal(e.key, str_of(r, "id"), 16);
        char key[600];
        snprintf(key, sizeof key, "%s%s", str_of(r, "orgID"), str_of(r, "name"));
        char *id = raw_gets(t, "bucketindexv1", key);
        if (!id)
            fail_msg("bucket %s has no index entry %s", str_of(r, "id"), key);
        assert_string_equal(id, str_of(r, "id"));
        free(id);
        tsv_json_free(d);
        free(json);
        records++;
    }
    tsv_kv_cursor_close(c);
    assert_int_equal(count_keys(t, "bucketindexv1"), records);
}

/* ---- init and IDs ------------------------------------------------------------ */

static void test_init(void **state)
{
    fixture *f = *state;
    static const char *const required[] = {
        "authorizationsv1",
        "authorizationindexv1",
        "bucketsv1",
        "bucketindexv1",
        "dashboardsv2",
        "organizationsv1",
        "organizationindexv1",
        "scraperv2",
        "telegrafv1",
        "telegrafPluginsv1",
        "remotesv2",
        "replicationsv2",
        "usersv1",
        "userindexv1",
        "userspasswordv1",
        "userresourcemappingsv1",
        "userresourcemappingsbyuserindexv1",
        "idsv1",
        TSV_META_BUCKET,
    };
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        bucket(f->t, required[i]);
    char *id = raw_gets(f->t, "idsv1", "id");
    assert_good_id(id);
    /* Idempotent: the instance ID stays. */
    OK(tsv_tenant_init(f->t, &E));
    char *again = raw_gets(f->t, "idsv1", "id");
    assert_string_equal(id, again);
    free(id);
    free(again);
    int onboarded = 1;
    OK(tsv_tenant_onboarded(f->t, &onboarded, &E));
    assert_int_equal(onboarded, 0);
}

static void test_ids(void **state)
{
    char id[17];
    for (int i = 0; i < 200000; i++) {
        uint64_t v = tsv_id_random();
        tsv_id_format(v, id);
        assert_good_id(id);
        uint64_t back = 0;
        OK(tsv_id_parse(id, &back, &E));
        assert_true(back == v);
    }
    uint64_t v;
    FAILS(tsv_id_parse("", &v, &E), TSV_EINVALID);
    FAILS(tsv_id_parse("000000000000000", &v, &E), TSV_EINVALID);
    FAILS(tsv_id_parse("00000000000000001", &v, &E), TSV_EINVALID);
    FAILS(tsv_id_parse("0000000000000000", &v, &E), TSV_EINVALID);
    FAILS(tsv_id_parse("000000000000000g", &v, &E), TSV_EINVALID);
    OK(tsv_id_parse("dd7cd2292f6e974a", &v, &E));
    assert_true(v == 0xdd7cd2292f6e974aull);
    tsv_id_format(1, id);
    assert_string_equal(id, "0000000000000001");
}

/* ---- organizations ------------------------------------------------------------ */

typedef struct org_list {
    char ids[8][17];
    int n;
} org_list;

static int collect_org(void *ctx, const tsv_org *org, tsv_error *err)
{
    org_list *l = ctx;
    assert_true(l->n < 8);
    memcpy(l->ids[l->n++], org->id, 17);
    return 0;
}

static void test_org_create(void **state)
{
    fixture *f = *state;
    tsv_org o;
    OK(tsv_tenant_org_create(f->t, "myorg", "first", &o, &E));
    assert_good_id(o.id);
    assert_string_equal(o.name, "myorg");
    assert_string_equal(o.description, "first");
    assert_string_equal(o.created_at, o.updated_at);
    int64_t ns;
    OK(tsv_parse_rfc3339(o.created_at, strlen(o.created_at), &ns, &E));

    /* Record and name index. */
    char *idx = raw_gets(f->t, "organizationindexv1", "myorg");
    assert_string_equal(idx, o.id);
    free(idx);
    char *json = raw_get(f->t, "organizationsv1", o.id, 16);
    assert_non_null(json);
    tsv_json_doc *d = parse(json);
    assert_string_equal(str_of(tsv_json_root(d), "id"), o.id);
    assert_string_equal(str_of(tsv_json_root(d), "name"), "myorg");
    tsv_json_free(d);
    free(json);

    tsv_org g;
    OK(tsv_tenant_org_get(f->t, o.id, &g, &E));
    assert_string_equal(g.name, "myorg");
    tsv_org_clear(&g);
    OK(tsv_tenant_org_by_name(f->t, "myorg", &g, &E));
    assert_string_equal(g.id, o.id);
    tsv_org_clear(&g);
    FAILS(tsv_tenant_org_by_name(f->t, "other", &g, &E), TSV_ENOTFOUND);
    FAILS(tsv_tenant_org_get(f->t, "0000000000000001", &g, &E), TSV_ENOTFOUND);

    /* Conflicts and bad names change nothing. */
    FAILS(tsv_tenant_org_create(f->t, "myorg", "", &g, &E), TSV_ECONFLICT);
    FAILS(tsv_tenant_org_create(f->t, "", "", &g, &E), TSV_EEMPTY);
    assert_int_equal(count_keys(f->t, "organizationsv1"), 1);
    assert_int_equal(count_keys(f->t, "organizationindexv1"), 1);

    /* System buckets, as influxd makes them (docs/formats.md#kv-json: type 1). */
    static const struct {
        const char *name;
        int64_t retention;
    } sys[] = {{"_monitoring", 7 * DAY_NS}, {"_tasks", 3 * DAY_NS}};
    for (int i = 0; i < 2; i++) {
        tsv_bucket b;
        OK(tsv_tenant_bucket_by_name(f->t, o.id, sys[i].name, &b, &E));
        assert_good_id(b.id);
        assert_string_equal(b.org_id, o.id);
        assert_int_equal(b.type, 1);
        assert_int_equal(b.retention_ns, sys[i].retention);
        assert_int_equal(b.shard_group_duration_ns, DAY_NS);
        assert_null(b.rp);
        tsv_bucket_clear(&b);
    }
    assert_bucket_index_consistent(f->t);
    assert_int_equal(count_keys(f->t, "bucketsv1"), 2);

    /* A second org has its own system buckets; listing is by ascending ID. */
    tsv_org o2;
    OK(tsv_tenant_org_create(f->t, "second", NULL, &o2, &E));
    assert_string_equal(o2.description, "");
    assert_int_equal(count_keys(f->t, "bucketsv1"), 4);
    assert_bucket_index_consistent(f->t);
    org_list seen = {0};
    OK(tsv_tenant_org_foreach(f->t, collect_org, &seen, &E));
    assert_int_equal(seen.n, 2);
    assert_true(strcmp(seen.ids[0], seen.ids[1]) < 0);
    assert_true(strcmp(seen.ids[0], o.id) == 0 || strcmp(seen.ids[1], o.id) == 0);
    assert_true(strcmp(seen.ids[0], o2.id) == 0 || strcmp(seen.ids[1], o2.id) == 0);
    int onboarded = 0;
    OK(tsv_tenant_onboarded(f->t, &onboarded, &E));
    assert_int_equal(onboarded, 1);
    tsv_org_clear(&o);
    tsv_org_clear(&o2);
}

/* ---- buckets ----------------------------------------------------------------- */

static void test_bucket_crud(void **state)
{
    fixture *f = *state;
    tsv_org o, o2;
    OK(tsv_tenant_org_create(f->t, "org", "", &o, &E));
    OK(tsv_tenant_org_create(f->t, "org2", "", &o2, &E));

    tsv_bucket b, g;
    OK(tsv_tenant_bucket_create(f->t, o.id, "data", "my data", 0, 3 * DAY_NS, DAY_NS, &b, &E));
    assert_good_id(b.id);
    assert_int_equal(b.type, 0);
    assert_string_equal(b.org_id, o.id);
    OK(tsv_tenant_bucket_get(f->t, b.id, &g, &E));
    assert_string_equal(g.name, "data");
    assert_string_equal(g.description, "my data");
    assert_int_equal(g.retention_ns, 3 * DAY_NS);
    assert_int_equal(g.shard_group_duration_ns, DAY_NS);
    assert_string_equal(g.created_at, b.created_at);
    tsv_bucket_clear(&g);
    OK(tsv_tenant_bucket_by_name(f->t, o.id, "data", &g, &E));
    assert_string_equal(g.id, b.id);
    tsv_bucket_clear(&g);
    char key[64];
    snprintf(key, sizeof key, "%sdata", o.id); /* orgID + name, no separator */
    char *idx = raw_gets(f->t, "bucketindexv1", key);
    assert_string_equal(idx, b.id);
    free(idx);
    assert_bucket_index_consistent(f->t);

    /* Names: the same name in another org is fine; rules as influxd's. */
    tsv_bucket other;
    OK(tsv_tenant_bucket_create(f->t, o2.id, "data", "", 0, 0, 7 * DAY_NS, &other, &E));
    assert_string_not_equal(other.id, b.id);
    FAILS(tsv_tenant_bucket_create(f->t, o.id, "data", "", 0, 0, 0, &g, &E), TSV_ECONFLICT);
    FAILS(tsv_tenant_bucket_create(f->t, o.id, "_mine", "", 0, 0, 0, &g, &E), TSV_EINVALID);
    FAILS(tsv_tenant_bucket_create(f->t, o.id, "a\"b", "", 0, 0, 0, &g, &E), TSV_EINVALID);
    FAILS(tsv_tenant_bucket_create(f->t, o.id, "", "", 0, 0, 0, &g, &E), TSV_EEMPTY);
    FAILS(tsv_tenant_bucket_create(f->t, "0000000000000001", "x", "", 0, 0, 0, &g, &E),
          TSV_ENOTFOUND);
    FAILS(tsv_tenant_bucket_create(f->t, "nothex", "x", "", 0, 0, 0, &g, &E), TSV_EINVALID);
    assert_int_equal(count_keys(f->t, "bucketsv1"), 6);
    assert_bucket_index_consistent(f->t);

    /* Delete: record and index entry go, nothing else. */
    OK(tsv_tenant_bucket_delete(f->t, b.id, &E));
    FAILS(tsv_tenant_bucket_get(f->t, b.id, &g, &E), TSV_ENOTFOUND);
    FAILS(tsv_tenant_bucket_by_name(f->t, o.id, "data", &g, &E), TSV_ENOTFOUND);
    assert_null(raw_gets(f->t, "bucketindexv1", key));
    FAILS(tsv_tenant_bucket_delete(f->t, b.id, &E), TSV_ENOTFOUND);
    OK(tsv_tenant_bucket_get(f->t, other.id, &g, &E));
    tsv_bucket_clear(&g);
    assert_int_equal(count_keys(f->t, "bucketsv1"), 5);
    assert_bucket_index_consistent(f->t);

    /* The name is free again, under a new ID. */
    tsv_bucket again;
    OK(tsv_tenant_bucket_create(f->t, o.id, "data", "", 0, 0, 7 * DAY_NS, &again, &E));
    assert_string_not_equal(again.id, b.id);
    assert_bucket_index_consistent(f->t);

    /* An upper-case org ID is the same org (influxd decodes IDs as hex). */
    char upper[17];
    for (int i = 0; i < 17; i++)
        upper[i] = (char)toupper((unsigned char)o.id[i]);
    FAILS(tsv_tenant_bucket_create(f->t, upper, "data", "", 0, 0, 0, &g, &E), TSV_ECONFLICT);
    tsv_bucket up;
    OK(tsv_tenant_bucket_create(f->t, upper, "upper", "", 0, 0, 7 * DAY_NS, &up, &E));
    assert_string_equal(up.org_id, o.id);
    OK(tsv_tenant_bucket_by_name(f->t, o.id, "upper", &g, &E));
    assert_string_equal(g.id, up.id);
    tsv_bucket_clear(&g);
    assert_bucket_index_consistent(f->t);
    tsv_bucket_clear(&up);

    tsv_bucket_clear(&again);
    tsv_bucket_clear(&other);
    tsv_bucket_clear(&b);
    tsv_org_clear(&o);
    tsv_org_clear(&o2);
}

/* ---- authorizations ------------------------------------------------------------ */

/* The 22 resource types of the operator set, in InfluxDB's order. */
static const char *const oper_types[] = {
    "authorizations", "buckets",      "dashboards",        "orgs",
    "sources",        "tasks",        "telegrafs",         "users",
    "variables",      "scrapers",     "secrets",           "labels",
    "views",          "documents",    "notificationRules", "notificationEndpoints",
    "checks",         "dbrp",         "notebooks",         "annotations",
    "remotes",        "replications",
};

/* Permissions JSON for the first n operator types, each read and write;
 * org_id scopes every resource (an all-access token) when non-NULL. */
static char *perms_json(int n, const char *org_id)
{
    size_t cap = 8192;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t len = (size_t)snprintf(s, cap, "[");
    for (int i = 0; i < n; i++)
        for (int a = 0; a < 2; a++) {
            char scope[64] = "";
            if (org_id)
                snprintf(scope, sizeof scope, ",\"orgID\":\"%s\"", org_id);
            len += (size_t)snprintf(s + len, cap - len,
                                    "%s{\"action\":\"%s\",\"resource\":{\"type\":\"%s\"%s}}",
                                    len > 1 ? "," : "", a ? "write" : "read", oper_types[i], scope);
            assert_true(len < cap);
        }
    snprintf(s + len, cap - len, "]");
    return s;
}

/* Writes an authorization record in influxd's member order, with its index
 * entry: raw token -> authorizationindexv1, hashed -> ...hashedindexv1. */
static void put_auth(tsv_kv_txn *t, const char *id, const char *token, const char *hashed,
                     const char *status, const char *org_id, const char *user_id, const char *perms)
{
    char *json = malloc(strlen(perms) + 1024);
    assert_non_null(json);
    size_t n = (size_t)sprintf(json, "{\"id\":\"%s\"", id);
    if (token)
        n += (size_t)sprintf(json + n, ",\"token\":\"%s\"", token);
    if (hashed)
        n += (size_t)sprintf(json + n, ",\"hashedToken\":\"%s\"", hashed);
    n += (size_t)sprintf(json + n, ",\"status\":\"%s\",\"description\":\"test\",\"orgID\":\"%s\"",
                         status, org_id);
    if (user_id)
        n += (size_t)sprintf(json + n, ",\"userID\":\"%s\"", user_id);
    sprintf(json + n,
            ",\"permissions\":%s,\"createdAt\":\"2024-01-01T00:00:00Z\","
            "\"updatedAt\":\"2024-01-01T00:00:00Z\"}",
            perms);
    raw_put(t, "authorizationsv1", id, json);
    if (token)
        raw_put(t, "authorizationindexv1", token, id);
    if (hashed)
        raw_put(t, "authorizationhashedindexv1", hashed, id);
    free(json);
}

/* influxd's own test vectors for its PHC token hashes (authorization/
 * hasher influxdb2 variants): base64url with padding of the digest. */
#define TOK256 "c27cb2033ab304629d32e1dbcd0ca7186322d3be98af5dd4c329ab800ef85d73"
#define PHC256 "$influxdb2-sha256$kMrC1MoFhWvvKSgyqpMaLuo2O3LINv4_XByCSkfV9K0="
#define TOK512 "322be1195f22da43a88e5ef1e856b707d6b7d41a6068feec343decbc5d784e50"
#define PHC512                                                                                     \
    "$influxdb2-sha512$ffgzLTTAyWBDczT0kKzwLzLjlemQh6UiFvqIA0CPd-B7qgqAetWEuKRI9qOLeE4ak6mxcxwthy" \
    "KUO40sHf5V5w=="

static void lookup_ok(tsv_kv_txn *t, const char *token, tsv_token_info *info)
{
    OK(tsv_tenant_token_lookup(t, token, strlen(token), info, &E));
    tsv_perm_set_free(&info->perms); /* the tests check the scalar fields */
}

static void test_operator_authorization(void **state)
{
    fixture *f = *state;
    char user[17], token[89], auth_id[17];
    OK(tsv_tenant_user_create(f->t, "admin", "password1", user, &E));
    assert_good_id(user);
    tsv_org o;
    OK(tsv_tenant_org_create(f->t, "org", "", &o, &E));
    OK(tsv_tenant_auth_create_operator(f->t, user, o.id, "admin's Token", token, auth_id, &E));
    assert_good_id(auth_id);

    /* 64 random bytes as URL-safe base64 with padding: 88 chars ending "==". */
    assert_int_equal(strlen(token), 88);
    assert_string_equal(token + 86, "==");
    for (int i = 0; i < 86; i++)
        assert_true(isalnum((unsigned char)token[i]) || token[i] == '-' || token[i] == '_');
    char *idx = raw_gets(f->t, "authorizationindexv1", token);
    assert_string_equal(idx, auth_id);
    free(idx);

    /* Exactly 22 types x read/write, in order, no id/orgID on resources; the
     * authorization itself belongs to the org and user. */
    char *json = raw_get(f->t, "authorizationsv1", auth_id, 16);
    tsv_json_doc *d = parse(json);
    const tsv_json *a = tsv_json_root(d);
    assert_string_equal(str_of(a, "token"), token);
    assert_string_equal(str_of(a, "status"), "active");
    assert_string_equal(str_of(a, "orgID"), o.id);
    assert_string_equal(str_of(a, "userID"), user);
    assert_null(tsv_json_get(a, "hashedToken"));
    const tsv_json *perms = tsv_json_get(a, "permissions");
    assert_non_null(perms);
    assert_int_equal(perms->type, TSV_JSON_ARRAY);
    assert_int_equal(perms->count, 44);
    for (size_t i = 0; i < 44; i++) {
        const tsv_json *p = perms->items[i];
        assert_int_equal(p->count, 2);
        assert_string_equal(str_of(p, "action"), i % 2 ? "write" : "read");
        const tsv_json *r = tsv_json_get(p, "resource");
        assert_non_null(r);
        assert_int_equal(r->count, 1); /* type only: no id, no orgID */
        assert_string_equal(str_of(r, "type"), oper_types[i / 2]);
    }
    tsv_json_free(d);
    free(json);

    tsv_token_info info;
    lookup_ok(f->t, token, &info);
    assert_int_equal(info.active, 1);
    assert_int_equal(info.user_active, 1);
    assert_int_equal(info.is_operator, 1);
    assert_string_equal(info.auth_id, auth_id);
    assert_string_equal(info.org_id, o.id);
    assert_string_equal(info.user_id, user);
    assert_string_equal(info.first_missing_permission, "");

    /* Near misses are unknown tokens. */
    char wrong[89];
    memcpy(wrong, token, 89);
    wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
    FAILS(tsv_tenant_token_lookup(f->t, wrong, 88, &info, &E), TSV_ENOTFOUND);
    FAILS(tsv_tenant_token_lookup(f->t, token, 87, &info, &E), TSV_ENOTFOUND);
    FAILS(tsv_tenant_token_lookup(f->t, "", 0, &info, &E), TSV_ENOTFOUND);

    int found = 0;
    char op[256];
    OK(tsv_tenant_find_operator(f->t, &found, op, sizeof op, &E));
    assert_int_equal(found, 1);
    assert_string_equal(op, token);

    /* The password is stored as a bcrypt hash, cost 10. */
    char *hash = raw_gets(f->t, "userspasswordv1", user);
    assert_non_null(hash);
    assert_true(strncmp(hash, "$2b$10$", 7) == 0 || strncmp(hash, "$2a$10$", 7) == 0);
    assert_int_equal(strlen(hash), 60);
    free(hash);
    tsv_org_clear(&o);
}

static void test_hashed_tokens(void **state)
{
    fixture *f = *state;
    char *oper = perms_json(22, NULL);
    put_auth(f->t, "0000000000000a01", NULL, PHC256, "active", "00000000000000f1", NULL, oper);
    put_auth(f->t, "0000000000000a02", NULL, PHC512, "active", "00000000000000f1", NULL, oper);

    tsv_token_info info;
    lookup_ok(f->t, TOK256, &info);
    assert_string_equal(info.auth_id, "0000000000000a01");
    assert_int_equal(info.active, 1);
    assert_int_equal(info.is_operator, 1);
    assert_string_equal(info.org_id, "00000000000000f1");
    assert_string_equal(info.user_id, "");
    lookup_ok(f->t, TOK512, &info);
    assert_string_equal(info.auth_id, "0000000000000a02");
    assert_int_equal(info.is_operator, 1);

    /* influxd 2.9 may keep an empty "token" next to the hash. */
    char json[600];
    snprintf(json, sizeof json,
             "{\"id\":\"0000000000000a03\",\"token\":\"\",\"hashedToken\":\"%s\","
             "\"status\":\"active\",\"description\":\"\",\"orgID\":\"00000000000000f1\","
             "\"permissions\":[],\"createdAt\":\"2024-01-01T00:00:00Z\","
             "\"updatedAt\":\"2024-01-01T00:00:00Z\"}",
             "$influxdb2-sha256$LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564="); /* sha256("foo") */
    raw_put(f->t, "authorizationsv1", "0000000000000a03", json);
    raw_put(f->t, "authorizationhashedindexv1",
            "$influxdb2-sha256$LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564=", "0000000000000a03");
    lookup_ok(f->t, "foo", &info);
    assert_string_equal(info.auth_id, "0000000000000a03");
    assert_int_equal(info.is_operator, 0);
    FAILS(tsv_tenant_token_lookup(f->t, "", 0, &info, &E), TSV_ENOTFOUND);

    /* The stored hash is checked, not only the index: an index entry that
     * points at an authorization with another hash does not match. */
    raw_put(f->t, "authorizationhashedindexv1", /* sha512("hello") */
            "$influxdb2-sha512$m3HSJL1i83hdltRq0-o9czGb-8KJDKra4t_3JRlnPKcjI8PZm6XBHXx6zG4UuMXa"
            "DEZjR1wuXDre9G9zvN7AQw==",
            "0000000000000a01");
    FAILS(tsv_tenant_token_lookup(f->t, "hello", 5, &info, &E), TSV_ENOTFOUND);
    FAILS(tsv_tenant_token_lookup(f->t, TOK256 "x", strlen(TOK256) + 1, &info, &E), TSV_ENOTFOUND);

    /* An operator stored hashed only: found, but its token cannot be given. */
    int found = 0;
    char op[256] = "junk";
    OK(tsv_tenant_find_operator(f->t, &found, op, sizeof op, &E));
    assert_int_equal(found, 1);
    assert_string_equal(op, "");
    free(oper);
}

static void test_inactive(void **state)
{
    fixture *f = *state;
    char *oper = perms_json(22, NULL);
    char user[17];
    OK(tsv_tenant_user_create(f->t, "someone", NULL, user, &E));
    assert_null(raw_gets(f->t, "userspasswordv1", user)); /* no password, no hash */
    put_auth(f->t, "0000000000000b01", "tok-inactive", NULL, "inactive", "00000000000000f1", user,
             oper);
    put_auth(f->t, "0000000000000b02", "tok-active", NULL, "active", "00000000000000f1", user,
             oper);

    tsv_token_info info;
    lookup_ok(f->t, "tok-inactive", &info);
    assert_int_equal(info.active, 0);
    assert_int_equal(info.user_active, 1);
    lookup_ok(f->t, "tok-active", &info);
    assert_int_equal(info.active, 1);
    assert_int_equal(info.user_active, 1);
    assert_int_equal(info.is_operator, 1);

    /* The user is deactivated: the token is active, its user is not. */
    char json[256];
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"name\":\"someone\",\"status\":\"inactive\"}",
             user);
    raw_put(f->t, "usersv1", user, json);
    lookup_ok(f->t, "tok-active", &info);
    assert_int_equal(info.active, 1);
    assert_int_equal(info.user_active, 0);

    /* An inactive operator is never "the" operator token. */
    int found = 0;
    char op[256];
    OK(tsv_tenant_find_operator(f->t, &found, op, sizeof op, &E));
    assert_int_equal(found, 1);
    assert_string_equal(op, "tok-active");
    free(oper);
}

static void expect_not_operator(tsv_kv_txn *t, const char *token, const char *missing)
{
    tsv_token_info info;
    lookup_ok(t, token, &info);
    assert_int_equal(info.active, 1);
    if (info.is_operator)
        fail_msg("%s: counted as operator", token);
    assert_string_equal(info.first_missing_permission, missing);
}

static void test_operator_check(void **state)
{
    fixture *f = *state;
    const char *org = "00000000000000f1";
    /* influxd's org-scoped all-access token: every type, but with orgID. */
    char *all_access = perms_json(22, org);
    put_auth(f->t, "0000000000000c01", "tok-all-access", NULL, "active", org, NULL, all_access);
    expect_not_operator(f->t, "tok-all-access", "read:authorizations");

    /* Older servers' operator: the first 18 types (influxd's migrations add
     * the other 4 to exactly such tokens). */
    char *p18 = perms_json(18, NULL);
    put_auth(f->t, "0000000000000c02", "tok-18", NULL, "active", org, NULL, p18);
    tsv_token_info info;
    lookup_ok(f->t, "tok-18", &info);
    assert_int_equal(info.is_operator, 1);

    /* One type fewer is not an operator; the first missing one is named. */
    char *p17 = perms_json(17, NULL);
    put_auth(f->t, "0000000000000c03", "tok-17", NULL, "active", org, NULL, p17);
    expect_not_operator(f->t, "tok-17", "read:dbrp");

    /* Read-only on everything: first missing is a write. */
    put_auth(f->t, "0000000000000c04", "tok-read", NULL, "active", org, NULL,
             "[{\"action\":\"read\",\"resource\":{\"type\":\"authorizations\"}}]");
    expect_not_operator(f->t, "tok-read", "write:authorizations");
    /* A resource with an id is scoped too. */
    put_auth(f->t, "0000000000000c05", "tok-id", NULL, "active", org, NULL,
             "[{\"action\":\"read\",\"resource\":{\"type\":\"authorizations\","
             "\"id\":\"0000000000000001\"}}]");
    expect_not_operator(f->t, "tok-id", "read:authorizations");
    /* A read-buckets token like the live file's second token. */
    put_auth(f->t, "0000000000000c06", "tok-buckets", NULL, "active", org, NULL,
             "[{\"action\":\"read\",\"resource\":{\"type\":\"buckets\",\"orgID\":"
             "\"00000000000000f1\"}}]");
    expect_not_operator(f->t, "tok-buckets", "read:authorizations");
    /* The instance type satisfies everything (influxd's session rule). */
    put_auth(f->t, "0000000000000c07", "tok-instance", NULL, "active", org, NULL,
             "[{\"action\":\"read\",\"resource\":{\"type\":\"instance\"}},"
             "{\"action\":\"write\",\"resource\":{\"type\":\"instance\"}}]");
    lookup_ok(f->t, "tok-instance", &info);
    assert_int_equal(info.is_operator, 1);
    free(all_access);
    free(p18);
    free(p17);
}

static void test_find_operator(void **state)
{
    fixture *f = *state;
    const char *org = "00000000000000f1";
    int found = 1;
    char op[256] = "junk";
    OK(tsv_tenant_find_operator(f->t, &found, op, sizeof op, &E));
    assert_int_equal(found, 0);
    assert_string_equal(op, "");

    char *oper = perms_json(22, NULL), *all_access = perms_json(22, org);
    /* Ascending ID order: inactive and org-scoped ones are skipped; the first
     * operator wins, whatever comes after it. */
    put_auth(f->t, "0000000000000d05", "tok-later", NULL, "active", org, NULL, oper);
    put_auth(f->t, "0000000000000d01", "tok-off", NULL, "inactive", org, NULL, oper);
    put_auth(f->t, "0000000000000d02", "tok-scoped", NULL, "active", org, NULL, all_access);
    OK(tsv_tenant_find_operator(f->t, &found, op, sizeof op, &E));
    assert_int_equal(found, 1);
    assert_string_equal(op, "tok-later");
    put_auth(f->t, "0000000000000d03", "tok-first", NULL, "active", org, NULL, oper);
    OK(tsv_tenant_find_operator(f->t, &found, op, sizeof op, &E));
    assert_string_equal(op, "tok-first");
    /* A hashed-only operator before it: found, token "" (influxd replies
     * {"token": ""} and the CLI falls back to --operator-token). */
    put_auth(f->t, "0000000000000d00", NULL, PHC512, "active", org, NULL, oper);
    OK(tsv_tenant_find_operator(f->t, &found, op, sizeof op, &E));
    assert_int_equal(found, 1);
    assert_string_equal(op, "");
    free(oper);
    free(all_access);
}

static void test_set_token(void **state)
{
    fixture *f = *state;
    char user[17], token[89], auth_id[17];
    OK(tsv_tenant_user_create(f->t, "admin", NULL, user, &E));
    tsv_org o;
    OK(tsv_tenant_org_create(f->t, "org", "", &o, &E));
    OK(tsv_tenant_auth_create_operator(f->t, user, o.id, "d", token, auth_id, &E));
    char *before = raw_get(f->t, "authorizationsv1", auth_id, 16);
    OK(tsv_tenant_auth_set_token(f->t, auth_id, token, "my-own-token", &E));
    tsv_token_info info;
    FAILS(tsv_tenant_token_lookup(f->t, token, strlen(token), &info, &E), TSV_ENOTFOUND);
    lookup_ok(f->t, "my-own-token", &info);
    assert_string_equal(info.auth_id, auth_id);
    assert_int_equal(info.is_operator, 1);
    assert_int_equal(count_keys(f->t, "authorizationindexv1"), 1);
    /* Only the token changed in the record. */
    char *after = raw_get(f->t, "authorizationsv1", auth_id, 16);
    char *p = strstr(before, token);
    assert_non_null(p);
    char expect[4096];
    snprintf(expect, sizeof expect, "%.*smy-own-token%s", (int)(p - before), before, p + 88);
    assert_string_equal(after, expect);
    /* A token in use elsewhere is refused. */
    put_auth(f->t, "0000000000000e01", "taken", NULL, "active", o.id, NULL, "[]");
    FAILS(tsv_tenant_auth_set_token(f->t, auth_id, "my-own-token", "taken", &E), TSV_ECONFLICT);
    free(before);
    free(after);
    tsv_org_clear(&o);
}

/* ---- JSON shapes against the real influxd file ------------------------------ */

/* Shape: member names in order with value kinds, recursively; arrays by the
 * shape of their first element. */
static void shape_of(const tsv_json *v, char *out, size_t cap)
{
    size_t n = strlen(out);
    switch (v->type) {
    case TSV_JSON_OBJECT:
        snprintf(out + n, cap - n, "{");
        for (size_t i = 0; i < v->count; i++) {
            n = strlen(out);
            snprintf(out + n, cap - n, "%s%s:", i ? "," : "", v->keys[i]);
            shape_of(v->items[i], out, cap);
        }
        n = strlen(out);
        snprintf(out + n, cap - n, "}");
        break;
    case TSV_JSON_ARRAY:
        snprintf(out + n, cap - n, "[");
        if (v->count)
            shape_of(v->items[0], out, cap);
        n = strlen(out);
        snprintf(out + n, cap - n, "]");
        break;
    case TSV_JSON_STRING:
        snprintf(out + n, cap - n, "s");
        break;
    case TSV_JSON_NUMBER:
        snprintf(out + n, cap - n, "n");
        break;
    case TSV_JSON_BOOL:
        snprintf(out + n, cap - n, "b");
        break;
    case TSV_JSON_NULL:
        snprintf(out + n, cap - n, "null");
        break;
    }
}

static void shape_str(const char *json, char *out, size_t cap)
{
    out[0] = '\0';
    tsv_json_doc *d = parse(json);
    shape_of(tsv_json_root(d), out, cap);
    tsv_json_free(d);
}

/* Records of the live file, by bucket and key. */
typedef struct live_rec {
    char bucket[64];
    char key[128];
    char *val;
} live_rec;

typedef struct live_walk {
    int depth;
    char current[64];
    live_rec recs[64];
    int n;
} live_walk;

static int lw_begin(void *ctx, const uint8_t *name, size_t len, uint64_t seq, tsv_error *err)
{
    live_walk *w = ctx;
    if (++w->depth == 1)
        snprintf(w->current, sizeof w->current, "%.*s", (int)len, (const char *)name);
    return 0;
}

static int lw_end(void *ctx, tsv_error *err)
{
    live_walk *w = ctx;
    w->depth--;
    return 0;
}

static int lw_value(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                    tsv_error *err)
{
    live_walk *w = ctx;
    static const char *const wanted[] = {"organizationsv1", "bucketsv1", "usersv1",
                                         "authorizationsv1", "userresourcemappingsv1"};
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++) {
        if (strcmp(w->current, wanted[i]) != 0)
            continue;
        assert_true(w->n < 64);
        live_rec *r = &w->recs[w->n++];
        snprintf(r->bucket, sizeof r->bucket, "%s", w->current);
        snprintf(r->key, sizeof r->key, "%.*s", (int)kl, (const char *)k);
        r->val = malloc(vl + 1);
        assert_non_null(r->val);
        memcpy(r->val, v, vl);
        r->val[vl] = '\0';
    }
    return 0;
}

static const live_rec *live_find(const live_walk *w, const char *bucket, const char *member,
                                 const char *value)
{
    for (int i = 0; i < w->n; i++) {
        if (strcmp(w->recs[i].bucket, bucket) != 0)
            continue;
        if (!member)
            return &w->recs[i];
        tsv_json_doc *d = parse(w->recs[i].val);
        const tsv_json *v = tsv_json_get(tsv_json_root(d), member);
        int match = v && v->type == TSV_JSON_STRING && strcmp(v->str, value) == 0;
        tsv_json_free(d);
        if (match)
            return &w->recs[i];
    }
    fail_msg("live file: no %s record with %s=%s", bucket, member ? member : "-",
             value ? value : "-");
    return NULL;
}

static void assert_same_shape(const char *what, const char *ours, const char *theirs)
{
    char a[8192], b[8192];
    shape_str(ours, a, sizeof a);
    shape_str(theirs, b, sizeof b);
    if (strcmp(a, b) != 0)
        fail_msg("%s: JSON shape differs from influxd's\n ours:   %s\n influxd: %s", what, a, b);
}

/* name, type, description, retentionPeriod and shardGroupDuration equal. */
static void assert_same_system_bucket(const char *ours, const char *theirs)
{
    tsv_json_doc *a = parse(ours), *b = parse(theirs);
    const tsv_json *ra = tsv_json_root(a), *rb = tsv_json_root(b);
    assert_string_equal(str_of(ra, "name"), str_of(rb, "name"));
    assert_string_equal(str_of(ra, "description"), str_of(rb, "description"));
    assert_int_equal(int_of(ra, "type"), int_of(rb, "type"));
    assert_int_equal(int_of(ra, "retentionPeriod"), int_of(rb, "retentionPeriod"));
    assert_int_equal(int_of(ra, "shardGroupDuration"), int_of(rb, "shardGroupDuration"));
    tsv_json_free(a);
    tsv_json_free(b);
}

static void test_record_shapes(void **state)
{
    fixture *f = *state;
    live_walk w = {0};
    tsv_bolt_file *bf = NULL;
    OK(tsv_bolt_open(&bf, TSV_TESTDATA "/influxdb-2-kv/influxd-2.x-live.bolt", &E));
    static const tsv_bolt_visitor v = {lw_begin, lw_end, lw_value};
    OK(tsv_bolt_walk(bf, &v, &w, &E));
    tsv_bolt_close(bf);

    char user[17], token[89], auth_id[17];
    OK(tsv_tenant_user_create(f->t, "testuser", "password1", user, &E));
    tsv_org o;
    OK(tsv_tenant_org_create(f->t, "myorg", "", &o, &E));
    tsv_bucket b;
    OK(tsv_tenant_bucket_create(f->t, o.id, "mybucket", "", 0, 0, 7 * DAY_NS, &b, &E));
    OK(tsv_tenant_urm_create(f->t, user, "owner", "orgs", o.id, &E));
    OK(tsv_tenant_auth_create_operator(f->t, user, o.id, "testuser's Token", token, auth_id, &E));

    char *ours;
    ours = raw_get(f->t, "organizationsv1", o.id, 16);
    assert_same_shape("organization", ours, live_find(&w, "organizationsv1", NULL, NULL)->val);
    free(ours);
    ours = raw_get(f->t, "usersv1", user, 16);
    assert_same_shape("user", ours, live_find(&w, "usersv1", NULL, NULL)->val);
    free(ours);
    ours = raw_get(f->t, "bucketsv1", b.id, 16);
    assert_same_shape("bucket", ours, live_find(&w, "bucketsv1", "name", "mybucket")->val);
    free(ours);
    char key[33];
    snprintf(key, sizeof key, "%s%s", o.id, user);
    ours = raw_get(f->t, "userresourcemappingsv1", key, 32);
    assert_same_shape("user resource mapping", ours,
                      live_find(&w, "userresourcemappingsv1", NULL, NULL)->val);
    free(ours);
    char index[64];
    snprintf(index, sizeof index, "%s/%s", user, key);
    ours = raw_gets(f->t, "userresourcemappingsbyuserindexv1", index);
    assert_string_equal(ours, key);
    free(ours);
    ours = raw_get(f->t, "authorizationsv1", auth_id, 16);
    assert_same_shape("operator authorization", ours,
                      live_find(&w, "authorizationsv1", "description", "testuser's Token")->val);
    free(ours);

    /* System buckets: same name, type, description and durations as influxd's. */
    static const char *const sys[] = {"_monitoring", "_tasks"};
    for (int i = 0; i < 2; i++) {
        tsv_bucket sb;
        OK(tsv_tenant_bucket_by_name(f->t, o.id, sys[i], &sb, &E));
        ours = raw_get(f->t, "bucketsv1", sb.id, 16);
        const char *theirs = live_find(&w, "bucketsv1", "name", sys[i])->val;
        assert_same_shape(sys[i], ours, theirs);
        assert_same_system_bucket(ours, theirs);
        free(ours);
        tsv_bucket_clear(&sb);
    }

    for (int i = 0; i < w.n; i++)
        free(w.recs[i].val);
    tsv_bucket_clear(&b);
    tsv_org_clear(&o);
}

static tsv_perm_set read_buckets_set(tsv_permission *items, const char *org)
{
    tsv_perm_make(&items[0], TSV_ACTION_READ, "buckets", org, NULL);
    tsv_perm_set set = {1, items};
    return set;
}

static void test_auth_crud(void **state)
{
    fixture *f = *state;
    char user[17], token[89];
    OK(tsv_tenant_user_create(f->t, "ada", NULL, user, &E));
    tsv_org o;
    OK(tsv_tenant_org_create(f->t, "acme", "", &o, &E));
    tsv_permission items[1];
    tsv_perm_set set = read_buckets_set(items, o.id);
    tsv_authorization a;
    OK(tsv_tenant_auth_create(f->t, o.id, user, "reader", 1, &set, token, &a, &E));
    assert_int_equal(strlen(token), 88);
    assert_int_equal(a.hashed, 0);
    /* Stored raw, indexed by the raw token, in influxd's member order. */
    char *json = raw_get(f->t, "authorizationsv1", a.id, 16);
    char want[1024];
    snprintf(
        want, sizeof want,
        "{\"id\":\"%s\",\"token\":\"%s\",\"status\":\"active\",\"description\":\"reader\","
        "\"orgID\":\"%s\",\"userID\":\"%s\",\"permissions\":[{\"action\":\"read\",\"resource\":"
        "{\"type\":\"buckets\",\"orgID\":\"%s\"}}],\"createdAt\":\"%s\",\"updatedAt\":\"%s\"}",
        a.id, token, o.id, user, o.id, a.created_at, a.updated_at);
    assert_string_equal(json, want);
    free(json);
    char *idx = raw_gets(f->t, "authorizationindexv1", token);
    assert_string_equal(idx, a.id);
    free(idx);

    tsv_token_info info;
    lookup_ok(f->t, token, &info);
    assert_string_equal(info.auth_id, a.id);
    assert_int_equal(info.is_operator, 0);
    assert_string_equal(info.first_missing_permission, "read:authorizations");

    /* Update: only status, description and updatedAt change. */
    tsv_authorization b;
    OK(tsv_tenant_auth_update(f->t, a.id, "inactive", "paused", &b, &E));
    assert_int_equal(b.active, 0);
    assert_string_equal(b.description, "paused");
    assert_string_equal(b.created_at, a.created_at);
    assert_int_equal(b.perms.count, 1);
    lookup_ok(f->t, token, &info);
    assert_int_equal(info.active, 0);
    FAILS(tsv_tenant_auth_update(f->t, a.id, "asleep", NULL, NULL, &E), TSV_EINVALID);
    tsv_authorization_clear(&b);

    /* Delete: record and index entry gone, the token is unknown. */
    OK(tsv_tenant_auth_delete(f->t, a.id, &E));
    FAILS(tsv_tenant_token_lookup(f->t, token, 88, &info, &E), TSV_ENOTFOUND);
    assert_int_equal(count_keys(f->t, "authorizationindexv1"), 0);
    assert_int_equal(count_keys(f->t, "authorizationsv1"), 0);
    FAILS(tsv_tenant_auth_delete(f->t, a.id, &E), TSV_ENOTFOUND);
    tsv_authorization_clear(&a);
    tsv_org_clear(&o);
}

static void test_auth_hashed_kv(void **state)
{
    fixture *f = *state;
    /* A KV of influxd 2.8+ with hashing on: hashed index only. */
    char *oper = perms_json(22, NULL);
    put_auth(f->t, "0000000000000a01", NULL, PHC256, "active", "00000000000000f1", NULL, oper);
    free(oper);
    tsv_permission items[1];
    tsv_perm_set set = read_buckets_set(items, "00000000000000f1");
    char token[89];
    tsv_authorization a;
    OK(tsv_tenant_auth_create(f->t, "00000000000000f1", "", "hashed", 1, &set, token, &a, &E));
    assert_int_equal(a.hashed, 1);
    char *json = raw_get(f->t, "authorizationsv1", a.id, 16);
    assert_null(strstr(json, token));
    assert_null(strstr(json, "\"token\""));
    assert_non_null(strstr(json, "\"hashedToken\":\"$influxdb2-sha256$"));
    free(json);
    assert_int_equal(count_keys(f->t, "authorizationindexv1"), 0);
    assert_int_equal(count_keys(f->t, "authorizationhashedindexv1"), 2);
    tsv_token_info info;
    lookup_ok(f->t, token, &info);
    assert_string_equal(info.auth_id, a.id);
    OK(tsv_tenant_auth_delete(f->t, a.id, &E));
    assert_int_equal(count_keys(f->t, "authorizationhashedindexv1"), 1);
    FAILS(tsv_tenant_token_lookup(f->t, token, 88, &info, &E), TSV_ENOTFOUND);
    tsv_authorization_clear(&a);
}

static int count_urm(void *ctx, const tsv_urm *m, tsv_error *err)
{
    (void)err;
    (void)m;
    (*(int *)ctx)++;
    return 0;
}

static void test_users_and_mappings(void **state)
{
    fixture *f = *state;
    char ada[17], bob[17];
    FAILS(tsv_tenant_user_create(f->t, "ada", "short", ada, &E), TSV_EINVALID);
    assert_string_equal(E.message, "passwords must be at least 8 characters long");
    assert_int_equal(count_keys(f->t, "usersv1"), 0); /* nothing half-made */
    OK(tsv_tenant_user_create(f->t, "ada", "long-enough", ada, &E));
    OK(tsv_tenant_user_create(f->t, "bob", NULL, bob, &E));
    FAILS(tsv_tenant_user_create(f->t, "bob", NULL, bob, &E), TSV_ECONFLICT);
    assert_string_equal(E.message, "user with name bob already exists");

    /* Passwords: bcrypt, checked against the stored hash. */
    char *hash = raw_gets(f->t, "userspasswordv1", ada);
    OK(tsv_tenant_password_check(hash, "long-enough", &E));
    FAILS(tsv_tenant_password_check(hash, "long-enougH", &E), TSV_EFORBIDDEN);
    free(hash);
    FAILS(tsv_tenant_user_set_password(f->t, bob, "", &E), TSV_EINVALID);
    FAILS(tsv_tenant_user_set_password(f->t, "00000000000000ff", "long-enough", &E),
          TSV_EFORBIDDEN);
    OK(tsv_tenant_user_set_password(f->t, bob, "another-one", &E));

    /* Rename moves the index entry; status is kept as influxd writes it. */
    tsv_user u;
    OK(tsv_tenant_user_update(f->t, bob, "robert", "inactive", &u, &E));
    assert_string_equal(u.name, "robert");
    assert_int_equal(u.active, 0);
    tsv_user_clear(&u);
    FAILS(tsv_tenant_user_update(f->t, bob, "ada", NULL, NULL, &E), TSV_ECONFLICT);
    char *idx = raw_gets(f->t, "userindexv1", "robert");
    assert_string_equal(idx, bob);
    free(idx);
    assert_null(raw_gets(f->t, "userindexv1", "bob"));
    char *rec = raw_get(f->t, "usersv1", bob, 16);
    char want[128];
    snprintf(want, sizeof want, "{\"id\":\"%s\",\"name\":\"robert\",\"status\":\"inactive\"}", bob);
    assert_string_equal(rec, want);
    free(rec);

    /* Mappings and their by-user index; deleting a user removes its own. */
    tsv_org o;
    OK(tsv_tenant_org_create(f->t, "acme", "", &o, &E));
    OK(tsv_tenant_urm_create(f->t, ada, "owner", "orgs", o.id, &E));
    OK(tsv_tenant_urm_create(f->t, bob, "member", "orgs", o.id, &E));
    int n = 0;
    OK(tsv_tenant_urm_foreach(f->t, o.id, NULL, count_urm, &n, &E));
    assert_int_equal(n, 2);
    assert_int_equal(count_keys(f->t, "userresourcemappingsbyuserindexv1"), 2);
    OK(tsv_tenant_user_delete(f->t, bob, &E));
    n = 0;
    OK(tsv_tenant_urm_foreach(f->t, o.id, NULL, count_urm, &n, &E));
    assert_int_equal(n, 1);
    assert_int_equal(count_keys(f->t, "userresourcemappingsbyuserindexv1"), 1);
    assert_null(raw_gets(f->t, "userspasswordv1", bob));
    assert_null(raw_gets(f->t, "userindexv1", "robert"));
    FAILS(tsv_tenant_user_get(f->t, bob, &u, &E), TSV_ENOTFOUND);
    FAILS(tsv_tenant_urm_delete(f->t, o.id, bob, &E), TSV_ENOTFOUND);
    tsv_org_clear(&o);
}

static void test_updates(void **state)
{
    fixture *f = *state;
    tsv_org o, o2;
    OK(tsv_tenant_org_create(f->t, "acme", "", &o, &E));
    OK(tsv_tenant_org_create(f->t, "other", "", &o2, &E));
    tsv_bucket b, c;
    OK(tsv_tenant_bucket_create(f->t, o.id, "logs", "", 0, 0, 7 * DAY_NS, &b, &E));
    OK(tsv_tenant_bucket_create(f->t, o.id, "metrics", "", 0, 0, 7 * DAY_NS, &c, &E));
    tsv_bucket u;
    OK(tsv_tenant_bucket_update(f->t, b.id, "logs2", "app", 1, 2 * DAY_NS, DAY_NS, &u, &E));
    assert_string_equal(u.name, "logs2");
    assert_string_equal(u.description, "app");
    assert_int_equal(u.retention_ns, 2 * DAY_NS);
    tsv_bucket_clear(&u);
    FAILS(tsv_tenant_bucket_by_name(f->t, o.id, "logs", &u, &E), TSV_ENOTFOUND);
    OK(tsv_tenant_bucket_by_name(f->t, o.id, "logs2", &u, &E));
    tsv_bucket_clear(&u);
    FAILS(tsv_tenant_bucket_update(f->t, b.id, "metrics", NULL, 0, 0, 0, NULL, &E), TSV_ECONFLICT);
    tsv_bucket sys;
    OK(tsv_tenant_bucket_by_name(f->t, o.id, "_tasks", &sys, &E));
    FAILS(tsv_tenant_bucket_update(f->t, sys.id, "tasks", NULL, 0, 0, 0, NULL, &E), TSV_EINVALID);
    assert_string_equal(E.message, "system buckets cannot be renamed");

    tsv_org r;
    OK(tsv_tenant_org_update(f->t, o.id, "acme2", "d", &r, &E));
    assert_string_equal(r.name, "acme2");
    assert_string_equal(r.description, "d");
    tsv_org_clear(&r);
    FAILS(tsv_tenant_org_update(f->t, o.id, "other", NULL, NULL, &E), TSV_ECONFLICT);
    FAILS(tsv_tenant_org_by_name(f->t, "acme", &r, &E), TSV_ENOTFOUND);
    OK(tsv_tenant_org_delete(f->t, o2.id, &E));
    FAILS(tsv_tenant_org_get(f->t, o2.id, &r, &E), TSV_ENOTFOUND);
    FAILS(tsv_tenant_org_by_name(f->t, "other", &r, &E), TSV_ENOTFOUND);
    tsv_bucket_clear(&b);
    tsv_bucket_clear(&c);
    tsv_bucket_clear(&sys);
    tsv_org_clear(&o);
    tsv_org_clear(&o2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_init),
        T(test_ids),
        T(test_org_create),
        T(test_bucket_crud),
        T(test_operator_authorization),
        T(test_hashed_tokens),
        T(test_inactive),
        T(test_operator_check),
        T(test_find_operator),
        T(test_set_token),
        T(test_record_shapes),
        T(test_auth_crud),
        T(test_auth_hashed_kv),
        T(test_users_and_mappings),
        T(test_updates),
#undef T
    };
    return cmocka_run_group_tests_name("tenant", tests, NULL, NULL);
}
