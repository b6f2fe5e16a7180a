/*
 * Unit tests for storage/permission (influxd's matching rule, parsing with
 * influxd's messages, the operator set and tsvault's read-only backup set)
 * and for the public form of error messages (common/tsv_error: no server
 * paths in replies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "permission.h"

#define ORG "00000000000000f1"
#define ORG2 "00000000000000f2"
#define BKT "0000000000000b01"

static tsv_permission perm(tsv_action a, const char *type, const char *org, const char *id)
{
    tsv_permission p;
    tsv_perm_make(&p, a, type, org, id);
    return p;
}

static int held_allows(tsv_permission held, tsv_permission need)
{
    return tsv_perm_matches(&held, &need);
}

static void test_matching(void **state)
{
    (void)state;
    const tsv_action R = TSV_ACTION_READ, W = TSV_ACTION_WRITE;
    /* Unscoped: any resource of the type. */
    assert_true(held_allows(perm(R, "buckets", NULL, NULL), perm(R, "buckets", ORG, BKT)));
    assert_true(held_allows(perm(R, "buckets", NULL, NULL), perm(R, "buckets", NULL, NULL)));
    /* The action must be equal: write does not imply read. */
    assert_false(held_allows(perm(W, "buckets", NULL, NULL), perm(R, "buckets", ORG, BKT)));
    /* Types must be equal, except "instance" which allows everything. */
    assert_false(held_allows(perm(R, "orgs", NULL, NULL), perm(R, "buckets", ORG, BKT)));
    assert_true(held_allows(perm(R, "instance", NULL, NULL), perm(R, "users", NULL, "1")));
    /* Org-scoped: only requirements within that org. */
    assert_true(held_allows(perm(R, "buckets", ORG, NULL), perm(R, "buckets", ORG, BKT)));
    assert_false(held_allows(perm(R, "buckets", ORG, NULL), perm(R, "buckets", ORG2, BKT)));
    assert_false(held_allows(perm(R, "buckets", ORG, NULL), perm(R, "buckets", NULL, NULL)));
    /* Resource-scoped: only that ID. */
    assert_true(held_allows(perm(R, "buckets", ORG, BKT), perm(R, "buckets", ORG, BKT)));
    assert_true(held_allows(perm(R, "buckets", NULL, BKT), perm(R, "buckets", ORG, BKT)));
    assert_false(held_allows(perm(R, "buckets", ORG, BKT), perm(R, "buckets", ORG, NULL)));
    assert_false(
        held_allows(perm(R, "buckets", ORG, BKT), perm(R, "buckets", ORG, "0000000000000b02")));
}

static void test_format(void **state)
{
    (void)state;
    char out[128];
    tsv_permission p = perm(TSV_ACTION_READ, "buckets", ORG, BKT);
    tsv_perm_format(&p, out, sizeof out);
    assert_string_equal(out, "read:orgs/" ORG "/buckets/" BKT);
    p = perm(TSV_ACTION_WRITE, "orgs", NULL, ORG);
    tsv_perm_format(&p, out, sizeof out);
    assert_string_equal(out, "write:orgs/" ORG);
    p = perm(TSV_ACTION_WRITE, "authorizations", ORG, NULL);
    tsv_perm_format(&p, out, sizeof out);
    assert_string_equal(out, "write:orgs/" ORG "/authorizations");
    p = perm(TSV_ACTION_READ, "authorizations", NULL, NULL);
    tsv_perm_format(&p, out, sizeof out);
    assert_string_equal(out, "read:authorizations");
}

static void parse_fails(const char *json, const char *message)
{
    tsv_json_doc *doc;
    tsv_error err = {0};
    assert_int_equal(tsv_json_parse(&doc, json, strlen(json), &err), 0);
    tsv_perm_set set;
    assert_int_equal(tsv_perm_set_parse(tsv_json_root(doc), 1, &set, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    assert_string_equal(err.message, message);
    /* Not strict (stored records): the bad entry is skipped. */
    assert_int_equal(tsv_perm_set_parse(tsv_json_root(doc), 0, &set, &err), 0);
    assert_int_equal(set.count, 0);
    tsv_perm_set_free(&set);
    tsv_json_free(doc);
}

static void test_parse(void **state)
{
    (void)state;
    const char *ok =
        "[{\"action\":\"read\",\"resource\":{\"type\":\"buckets\",\"id\":\"0000000000000B01\","
        "\"orgID\":\"" ORG "\"}},{\"action\":\"write\",\"resource\":{\"type\":\"orgs\"}}]";
    tsv_json_doc *doc;
    tsv_error err = {0};
    assert_int_equal(tsv_json_parse(&doc, ok, strlen(ok), &err), 0);
    tsv_perm_set set;
    assert_int_equal(tsv_perm_set_parse(tsv_json_root(doc), 1, &set, &err), 0);
    assert_int_equal(set.count, 2);
    assert_string_equal(set.items[0].id, BKT); /* normalised to lowercase */
    assert_string_equal(set.items[0].org_id, ORG);
    assert_int_equal(set.items[1].action, TSV_ACTION_WRITE);
    /* Written back in influxd's shape (type, id, orgID). */
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_perm_set_write_json(&w, &set);
    assert_int_equal(tsv_jw_finish(&w, &err), 0);
    const char *want = "[{\"action\":\"read\",\"resource\":{\"type\":\"buckets\",\"id\":\"" BKT
                       "\",\"orgID\":\"" ORG "\"}},{\"action\":\"write\",\"resource\":{\"type\":"
                       "\"orgs\"}}]";
    /* buf is not NUL-terminated: copy by length (strndup would scan past it). */
    char *got = malloc(buf.len + 1);
    assert_non_null(got);
    memcpy(got, buf.data, buf.len);
    got[buf.len] = '\0';
    assert_string_equal(got, want);
    free(got);
    tsv_buf_free(&buf);
    tsv_perm_set_free(&set);
    tsv_json_free(doc);

    parse_fails("[{\"action\":\"read\",\"resource\":{\"type\":\"nope\"}}]",
                "invalid resource type for permission: unknown resource type for permission");
    parse_fails("[{\"action\":\"delete\",\"resource\":{\"type\":\"buckets\"}}]",
                "invalid action type for permission: unknown action for permission");
    parse_fails("[{\"action\":\"read\",\"resource\":{\"type\":\"buckets\",\"orgID\":\"xyz\"}}]",
                "invalid org id for permission: invalid ID");
    parse_fails(
        "[{\"action\":\"read\",\"resource\":{\"type\":\"buckets\",\"id\":\"0000000000000000\"}}]",
        "invalid id for permission: invalid ID");
}

static void make_set(tsv_perm_set *s, tsv_permission *items, int types, int write_too,
                     const char *org)
{
    s->count = 0;
    s->items = items;
    for (int i = 0; i < types; i++)
        for (int a = 0; a < (write_too ? 2 : 1); a++)
            items[s->count++] =
                perm(a ? TSV_ACTION_WRITE : TSV_ACTION_READ, tsv_perm_operator_types[i], org, NULL);
}

static void test_operator_sets(void **state)
{
    (void)state;
    tsv_permission items[64];
    tsv_perm_set s;
    char missing[96];
    make_set(&s, items, tsv_perm_operator_type_count, 1, NULL);
    assert_true(tsv_perm_set_is_operator(&s, 1, missing, sizeof missing));
    assert_true(tsv_perm_set_is_operator(&s, 0, missing, sizeof missing));
    /* Read on every type: enough to back up, not to restore. */
    make_set(&s, items, tsv_perm_operator_type_count, 0, NULL);
    assert_true(tsv_perm_set_is_operator(&s, 0, missing, sizeof missing));
    assert_false(tsv_perm_set_is_operator(&s, 1, missing, sizeof missing));
    assert_string_equal(missing, "write:authorizations");
    /* Without read:authorizations even a backup is refused. */
    s.items = items + 1;
    s.count--;
    assert_false(tsv_perm_set_is_operator(&s, 0, missing, sizeof missing));
    assert_string_equal(missing, "read:authorizations");
    /* An org-scoped all-access set is not the operator set. */
    make_set(&s, items, tsv_perm_operator_type_count, 1, ORG);
    assert_false(tsv_perm_set_is_operator(&s, 0, missing, sizeof missing));
    assert_string_equal(missing, "read:authorizations");
}

static void test_bucket_read(void **state)
{
    (void)state;
    tsv_permission need, held[1] = {perm(TSV_ACTION_READ, "buckets", ORG, BKT)};
    tsv_perm_set s = {1, held};
    tsv_perm_read_bucket(&need, 0, ORG, BKT);
    assert_true(tsv_perm_set_allows(&s, &need));
    tsv_perm_read_bucket(&need, 0, ORG, "0000000000000b02");
    assert_false(tsv_perm_set_allows(&s, &need));
    /* A system bucket asks read on its org. */
    tsv_perm_read_bucket(&need, 1, ORG, BKT);
    assert_string_equal(need.type, "orgs");
    assert_string_equal(need.id, ORG);
    assert_false(tsv_perm_set_allows(&s, &need));
}

static void test_public_message(void **state)
{
    (void)state;
    char out[TSV_ERROR_MSG_MAX];
    assert_int_equal(
        tsv_error_public_message("write /srv/tsv/state/engine/data/7451ab8b9b7df592/autogen/"
                                 "1.staging-2f3a/000000047-000000002.tsm: No space left on device",
                                 "/srv/tsv", out, sizeof out),
        1);
    assert_string_equal(out, "write bucket 7451ab8b9b7df592, shard 1, file "
                             "000000047-000000002.tsm: No space left on device");
    assert_int_equal(
        tsv_error_public_message("open /srv/tsv/state.staging-9/kv/data.mdb: I/O error",
                                 "/srv/tsv/", out, sizeof out),
        1);
    assert_string_equal(out, "open data.mdb: I/O error");
    /* A relative data directory, quoted. */
    assert_int_equal(
        tsv_error_public_message("rename \"data/tmp/upload-1\" failed", "data", out, sizeof out),
        1);
    assert_string_equal(out, "rename \"upload-1\" failed");
    /* Nothing outside the data directory changes: the client's own names. */
    assert_int_equal(tsv_error_public_message("invalid shard archive: absolute path "
                                              "\"/etc/x/000000002-000000001.tsm\" refused",
                                              "/srv/tsv", out, sizeof out),
                     0);
    assert_int_equal(tsv_error_public_message("read:orgs/0000000000000001/buckets is unauthorized",
                                              "/srv/tsv", out, sizeof out),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matching),    cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse),       cmocka_unit_test(test_operator_sets),
        cmocka_unit_test(test_bucket_read), cmocka_unit_test(test_public_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
