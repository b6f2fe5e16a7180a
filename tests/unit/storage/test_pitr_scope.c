/*
 * test_pitr_scope: narrowing a point-in-time restore to one bucket or one org
 * (storage/pitr_scope.h). Two KVs stand for "now" and "at T"; the merge must
 * give the scope's records (and index entries, and tsdb databases) their T
 * value, delete those that did not exist at T, leave everything else as it
 * is now, and renumber a T shard whose ID is taken now.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "kv.h"
#include "kv_fixture.h"
#include "meta.h"
#include "meta_store.h"
#include "pitr_scope.h"

#define OA "0000000000000a0a"
#define OB "0000000000000b0b"
#define BA "00000000000000ba"
#define BB "00000000000000bb"
#define BC "00000000000000bc"
#define TB "000000000000700b"
#define TB2 "000000000000700c"
#define US "0000000000000001"

typedef struct fixture {
    char tmp[PATH_MAX];
    tsv_kv *now, *then;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(harness_tmpdir(f->tmp, sizeof f->tmp, "pitr_scope"), 0);
    char d[PATH_MAX];
    harness_path(d, f->tmp, "now");
    OK(tsv_kv_open(&f->now, d, 0, &E));
    harness_path(d, f->tmp, "then");
    OK(tsv_kv_open(&f->then, d, 0, &E));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tsv_kv_close(f->now);
    tsv_kv_close(f->then);
    assert_int_equal(harness_rmtree(f->tmp), 0);
    free(f);
    return 0;
}

/* The value of bucket/key, or NULL (caller frees). */
static char *get(tsv_kv *kv, const char *bucket, const char *key)
{
    tsv_kv_txn *t;
    OK(tsv_kv_begin(kv, 0, &t, &E));
    uint64_t h;
    char *out = NULL;
    const uint8_t *v;
    size_t n;
    if (tsv_kv_bucket(t, TSV_KV_ROOT, bucket, strlen(bucket), &h, &E) == 0 &&
        tsv_kv_get(t, h, key, strlen(key), &v, &n, &E) == 0) {
        out = malloc(n + 1);
        assert_non_null(out);
        memcpy(out, v, n);
        out[n] = '\0';
    }
    tsv_kv_abort(t);
    return out;
}

static void assert_val(tsv_kv *kv, const char *bucket, const char *key, const char *want)
{
    char *got = get(kv, bucket, key);
    if (!want && got)
        fail_msg("%s/%s: expected absent, got %s", bucket, key, got);
    if (want && (!got || strcmp(got, want) != 0))
        fail_msg("%s/%s: expected %s, got %s", bucket, key, want, got ? got : "absent");
    free(got);
}

static void bucket_json(char *out, size_t len, const char *id, const char *org, const char *desc)
{
    snprintf(out, len, "{\"id\":\"%s\",\"orgID\":\"%s\",\"name\":\"n%s\",\"description\":\"%s\"}",
             id, org, id, desc);
}

/* Adds a shard group holding one shard to database db's first RP. */
static void add_shard(Meta__Data *m, const char *db, uint64_t group_id, uint64_t shard_id)
{
    Meta__DatabaseInfo *d = NULL;
    for (size_t i = 0; i < m->n_databases; i++)
        if (strcmp(m->databases[i]->name, db) == 0)
            d = m->databases[i];
    assert_non_null(d);
    Meta__RetentionPolicyInfo *rp = d->retentionpolicies[0];
    Meta__ShardGroupInfo *g = malloc(sizeof *g);
    Meta__ShardInfo *s = malloc(sizeof *s);
    assert_non_null(g);
    assert_non_null(s);
    meta__shard_group_info__init(g);
    meta__shard_info__init(s);
    s->id = shard_id;
    g->id = group_id;
    g->starttime = 0;
    g->endtime = 604800000000000LL;
    g->shards = malloc(sizeof *g->shards);
    assert_non_null(g->shards);
    g->shards[0] = s;
    g->n_shards = 1;
    rp->shardgroups = realloc(rp->shardgroups, (rp->n_shardgroups + 1) * sizeof *rp->shardgroups);
    assert_non_null(rp->shardgroups);
    rp->shardgroups[rp->n_shardgroups++] = g;
    if (shard_id > m->maxshardid)
        m->maxshardid = shard_id;
    if (group_id > m->maxshardgroupid)
        m->maxshardgroupid = group_id;
}

static void save_meta(tsv_kv *kv, const char *db1, uint64_t s1, const char *db2, uint64_t s2)
{
    Meta__Data *m;
    OK(tsv_meta_new_empty(1, &m, &E));
    OK(tsv_meta_create_database(m, db1, 0, 0, &E));
    add_shard(m, db1, s1, s1);
    OK(tsv_meta_create_database(m, db2, 0, 0, &E));
    add_shard(m, db2, s2, s2);
    tsv_kv_txn *t;
    OK(tsv_kv_begin(kv, 1, &t, &E));
    OK(tsv_meta_save(t, m, &E));
    OK(tsv_kv_commit(t, &E));
    tsv_meta_free(m);
}

static Meta__Data *load_meta(tsv_kv *kv)
{
    tsv_kv_txn *t;
    Meta__Data *m;
    OK(tsv_kv_begin(kv, 0, &t, &E));
    OK(tsv_meta_load(t, &m, NULL, &E));
    tsv_kv_abort(t);
    return m;
}

static uint64_t shard_of(const Meta__Data *m, const char *db)
{
    const Meta__DatabaseInfo *d = tsv_meta_find_database(m, db);
    if (!d)
        return 0;
    return d->retentionpolicies[0]->shardgroups[0]->shards[0]->id;
}

/* At T: orgs A and B; bucket BA (org A), BB (org B) with its index entry; a
 * token of B; user US "old". Now: BA's description changed, BB deleted, BC
 * created in org B, the token replaced by another, US renamed; the tsdb
 * meta: at T databases BA (shard 1) and BB (shard 2), now BA (shard 1)
 * and BC (shard 3). */
static void history(fixture *f)
{
    char j[256];
    for (int now = 0; now < 2; now++) {
        tsv_kv *kv = now ? f->now : f->then;
        kv_put(kv, "organizationsv1", OA, "{\"id\":\"" OA "\",\"name\":\"a\"}");
        kv_put(kv, "organizationsv1", OB, "{\"id\":\"" OB "\",\"name\":\"b\"}");
        kv_put(kv, "organizationindexv1", "a", OA);
        kv_put(kv, "organizationindexv1", "b", OB);
        bucket_json(j, sizeof j, BA, OA, now ? "changed" : "first");
        kv_put(kv, "bucketsv1", BA, j);
        kv_put(kv, "bucketindexv1", OA "nBA", BA);
        kv_put(kv, "usersv1", US, now ? "{\"name\":\"new\"}" : "{\"name\":\"old\"}");
    }
    bucket_json(j, sizeof j, BB, OB, "b's");
    kv_put(f->then, "bucketsv1", BB, j);
    kv_put(f->then, "bucketindexv1", OB "nBB", BB);
    kv_put(f->then, "userresourcemappingsv1", BB US, "{\"resourceID\":\"" BB "\"}");
    kv_put(f->then, "authorizationsv1", TB, "{\"id\":\"" TB "\",\"orgID\":\"" OB "\"}");
    kv_put(f->then, "authorizationindexv1", "token-one", TB);
    bucket_json(j, sizeof j, BC, OB, "new");
    kv_put(f->now, "bucketsv1", BC, j);
    kv_put(f->now, "bucketindexv1", OB "nBC", BC);
    kv_put(f->now, "authorizationsv1", TB2, "{\"id\":\"" TB2 "\",\"orgID\":\"" OB "\"}");
    kv_put(f->now, "authorizationindexv1", "token-two", TB2);
    save_meta(f->then, BA, 1, BB, 2);
    save_meta(f->now, BA, 1, BC, 3);
}

static void test_bucket_scope(void **state)
{
    fixture *f = *state;
    history(f);
    tsv_pitr_scope sc = {.bucket_id = BB};
    tsv_pitr_scope_ids *ids;
    tsv_pitr_scope_result r;
    OK(tsv_pitr_scope_merge(f->now, f->then, &sc, &ids, &r, &E));
    assert_true(tsv_pitr_scope_owns(ids, BB));
    assert_false(tsv_pitr_scope_owns(ids, BC));
    tsv_pitr_scope_ids_free(ids);
    /* BB back with its index entry and mapping... */
    char j[256];
    bucket_json(j, sizeof j, BB, OB, "b's");
    assert_val(f->now, "bucketsv1", BB, j);
    assert_val(f->now, "bucketindexv1", OB "nBB", BB);
    assert_val(f->now, "userresourcemappingsv1", BB US, "{\"resourceID\":\"" BB "\"}");
    /* ...everything else as now. */
    bucket_json(j, sizeof j, BA, OA, "changed");
    assert_val(f->now, "bucketsv1", BA, j);
    bucket_json(j, sizeof j, BC, OB, "new");
    assert_val(f->now, "bucketsv1", BC, j);
    assert_val(f->now, "authorizationsv1", TB, NULL);
    assert_val(f->now, "authorizationindexv1", "token-two", TB2);
    assert_val(f->now, "usersv1", US, "{\"name\":\"new\"}");
    assert_int_equal(r.records_put, 3);
    assert_int_equal(r.records_deleted, 0);
    Meta__Data *m = load_meta(f->now);
    assert_int_equal(m->n_databases, 3);
    assert_int_equal(shard_of(m, BA), 1);
    assert_int_equal(shard_of(m, BB), 2);
    assert_int_equal(shard_of(m, BC), 3);
    assert_int_equal(m->maxshardid, 3);
    tsv_meta_free(m);
}

static void test_org_scope(void **state)
{
    fixture *f = *state;
    history(f);
    tsv_pitr_scope sc = {.org_id = OB};
    tsv_pitr_scope_ids *ids;
    tsv_pitr_scope_result r;
    OK(tsv_pitr_scope_merge(f->now, f->then, &sc, &ids, &r, &E));
    /* The org's buckets and tokens, at T or now, are owned. */
    assert_true(tsv_pitr_scope_owns(ids, BB));
    assert_true(tsv_pitr_scope_owns(ids, BC));
    assert_false(tsv_pitr_scope_owns(ids, BA));
    tsv_pitr_scope_ids_free(ids);
    char j[256];
    bucket_json(j, sizeof j, BB, OB, "b's");
    assert_val(f->now, "bucketsv1", BB, j);
    assert_val(f->now, "bucketsv1", BC, NULL);
    assert_val(f->now, "bucketindexv1", OB "nBC", NULL);
    assert_val(f->now, "bucketindexv1", OB "nBB", BB);
    assert_val(f->now, "authorizationsv1", TB, "{\"id\":\"" TB "\",\"orgID\":\"" OB "\"}");
    assert_val(f->now, "authorizationsv1", TB2, NULL);
    assert_val(f->now, "authorizationindexv1", "token-one", TB);
    assert_val(f->now, "authorizationindexv1", "token-two", NULL);
    /* Org A and the (global) user: as now. */
    bucket_json(j, sizeof j, BA, OA, "changed");
    assert_val(f->now, "bucketsv1", BA, j);
    assert_val(f->now, "usersv1", US, "{\"name\":\"new\"}");
    assert_int_equal(r.records_deleted, 4);
    Meta__Data *m = load_meta(f->now);
    assert_int_equal(m->n_databases, 2);
    assert_non_null(tsv_meta_find_database(m, BA));
    assert_non_null(tsv_meta_find_database(m, BB));
    assert_null(tsv_meta_find_database(m, BC));
    tsv_meta_free(m);
}

static void test_renumber_taken_shard_id(void **state)
{
    fixture *f = *state;
    history(f);
    /* As after a whole-server PITR that rewound the counters: now, BC's
     * shard took ID 2, which BB had at T. */
    save_meta(f->now, BA, 1, BC, 2);
    tsv_pitr_scope sc = {.bucket_id = BB};
    tsv_pitr_scope_ids *ids;
    tsv_pitr_scope_result r;
    OK(tsv_pitr_scope_merge(f->now, f->then, &sc, &ids, &r, &E));
    tsv_pitr_scope_ids_free(ids);
    assert_int_equal(r.renumbered, 2); /* its group and its shard */
    Meta__Data *m = load_meta(f->now);
    assert_int_equal(shard_of(m, BC), 2);
    assert_int_equal(shard_of(m, BB), 3);
    assert_int_equal(m->maxshardid, 3);
    tsv_meta_free(m);
}

static void test_bad_scopes(void **state)
{
    fixture *f = *state;
    history(f);
    tsv_pitr_scope_ids *ids = NULL;
    tsv_pitr_scope_result r;
    tsv_pitr_scope none = {.bucket_id = "00000000000000ff"};
    FAILS(tsv_pitr_scope_merge(f->now, f->then, &none, &ids, &r, &E), TSV_ENOTFOUND);
    assert_non_null(strstr(E.message, "exists neither now nor at the target time"));
    tsv_pitr_scope both = {.org_id = OA, .bucket_id = BA};
    FAILS(tsv_pitr_scope_merge(f->now, f->then, &both, &ids, &r, &E), TSV_EINVALID);
    tsv_pitr_scope bad = {.org_id = "00000000000000XY"};
    FAILS(tsv_pitr_scope_merge(f->now, f->then, &bad, &ids, &r, &E), TSV_EINVALID);
    assert_null(ids);
    /* Nothing was written. */
    assert_val(f->now, "bucketsv1", BB, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bucket_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_org_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renumber_taken_shard_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_scopes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
