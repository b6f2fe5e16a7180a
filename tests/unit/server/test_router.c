/*
 * Unit tests for server/router: route matching (literal segments, path
 * parameters, methods), what a miss means (404: unknown path; 405: known
 * path, other method, with the Allow list) and properties of the whole table
 * (every route reachable, no duplicates, parameters within limits).
 * The HTTP replies themselves are checked end to end by
 * tests/integration/test_http_basics.sh.
 */
#include "harness.h"

#include "router.h"

static const tsv_route *find(const char *method, const char *path, tsv_route_params *p, char *allow,
                             size_t allow_len)
{
    memset(p, 0xA5, sizeof *p); /* stale content must not leak into a result */
    return tsv_router_find(method, path, p, allow, allow_len);
}

static void test_literal_route(void **state)
{
    (void)state;
    tsv_route_params p;
    char allow[256];
    const tsv_route *r = find("GET", "/health", &p, allow, sizeof allow);
    assert_non_null(r);
    assert_ptr_equal(r->handler, tsv_handle_health);
    assert_int_equal(p.count, 0);
    r = find("GET", "/api/v2/backup/kv", &p, allow, sizeof allow);
    assert_non_null(r);
    assert_ptr_equal(r->handler, tsv_handle_backup_kv);
    assert_int_equal(r->auth, TSV_AUTH_BACKUP);
}

static void test_path_params(void **state)
{
    (void)state;
    tsv_route_params p;
    char allow[256];
    const tsv_route *r = find("GET", "/api/v2/buckets/0123456789abcdef", &p, allow, sizeof allow);
    assert_non_null(r);
    assert_ptr_equal(r->handler, tsv_handle_bucket_get);
    assert_int_equal(p.count, 1);
    assert_string_equal(tsv_route_param(&p, "bucketID"), "0123456789abcdef");
    /* A name must match whole, not as a prefix of the pattern's name. */
    assert_null(tsv_route_param(&p, "bucket"));
    assert_null(tsv_route_param(&p, "bucketIDs"));
    assert_null(tsv_route_param(&p, "orgID"));

    r = find("DELETE", "/api/v2/orgs/aaaa/members/bbbb", &p, allow, sizeof allow);
    assert_non_null(r);
    assert_ptr_equal(r->handler, tsv_handle_org_member_delete);
    assert_int_equal(p.count, 2);
    assert_string_equal(tsv_route_param(&p, "orgID"), "aaaa");
    assert_string_equal(tsv_route_param(&p, "userID"), "bbbb");

    r = find("GET", "/v1/projects/o1/tables/db%2Frp/unusedSegments", &p, allow, sizeof allow);
    assert_non_null(r);
    assert_ptr_equal(r->handler, tsv_handle_unused_segments);
    assert_string_equal(tsv_route_param(&p, "orgID"), "o1");
    assert_string_equal(tsv_route_param(&p, "bucketName"), "db%2Frp");

    /* A literal segment after a parameter is matched exactly. */
    r = find("GET", "/api/v2/buckets/x/stats", &p, allow, sizeof allow);
    assert_non_null(r);
    assert_ptr_equal(r->handler, tsv_handle_bucket_stats);
    assert_null(find("GET", "/api/v2/buckets/x/Stats", &p, allow, sizeof allow));
    assert_string_equal(allow, "");
}

static void test_param_limits(void **state)
{
    (void)state;
    tsv_route_params p;
    char allow[256];
    /* An empty segment is no parameter. */
    assert_null(find("GET", "/api/v2/buckets/", &p, allow, sizeof allow));
    assert_string_equal(allow, "");
    assert_null(find("GET", "/api/v2/orgs//members", &p, allow, sizeof allow));
    assert_string_equal(allow, "");
    /* 255 bytes fit; 256 do not (the path is then unknown). */
    char path[400];
    int n = snprintf(path, sizeof path, "/api/v2/files/");
    memset(path + n, 'f', 255);
    path[n + 255] = '\0';
    assert_non_null(find("GET", path, &p, allow, sizeof allow));
    assert_int_equal(strlen(tsv_route_param(&p, "name")), 255);
    path[n + 255] = 'f';
    path[n + 256] = '\0';
    assert_null(find("GET", path, &p, allow, sizeof allow));
    assert_string_equal(allow, "");
}

static void test_method_not_allowed(void **state)
{
    (void)state;
    tsv_route_params p;
    char allow[256];
    assert_null(find("PUT", "/api/v2/buckets/0123456789abcdef", &p, allow, sizeof allow));
    assert_string_equal(allow, "GET, DELETE, PATCH");
    assert_null(find("DELETE", "/api/v2/backup/kv", &p, allow, sizeof allow));
    assert_string_equal(allow, "GET");
    /* Methods are case-sensitive (RFC 9110): "get" is another method. */
    assert_null(find("get", "/health", &p, allow, sizeof allow));
    assert_string_equal(allow, "GET, HEAD");
    /* A short buffer truncates the list but still says "known path". */
    char small[5];
    assert_null(find("POST", "/api/v2/buckets/x", &p, small, sizeof small));
    assert_string_equal(small, "GET,");
    /* No buffer at all is allowed. */
    assert_null(tsv_router_find("POST", "/api/v2/buckets/x", &p, NULL, 0));
}

/* The console's files are public and never shadow the API (docs/console.md). */
static void test_console_routes(void **state)
{
    (void)state;
    tsv_route_params p;
    char allow[256];
    const tsv_route *r = find("GET", "/", &p, allow, sizeof allow);
    assert_non_null(r);
    assert_ptr_equal(r->handler, tsv_handle_ui_index);
    assert_int_equal(r->auth, TSV_AUTH_NONE);
    r = find("GET", "/ui/app.js", &p, allow, sizeof allow);
    assert_non_null(r);
    assert_ptr_equal(r->handler, tsv_handle_ui_file);
    assert_string_equal(tsv_route_param(&p, "file"), "app.js");
    assert_null(find("GET", "/ui/a/b.js", &p, allow, sizeof allow));
    r = find("GET", "/health", &p, allow, sizeof allow);
    assert_ptr_equal(r->handler, tsv_handle_health);
    /* Only GET: a POST to the console is 405, not a file. */
    assert_null(find("POST", "/", &p, allow, sizeof allow));
    assert_string_equal(allow, "GET");
}

static void test_not_found(void **state)
{
    (void)state;
    tsv_route_params p;
    char allow[256];
    const char *paths[] = {"",       "/api",     "/api/v2/nope", "/api/v2/buckets/x/stats/y",
                           "health", "/healthz", "//health",     "/api/v2/backup/kv/extra"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        strcpy(allow, "stale");
        if (find("GET", paths[i], &p, allow, sizeof allow))
            fail_msg("%s matched a route", paths[i]);
        if (allow[0])
            fail_msg("%s: allow \"%s\" for an unknown path", paths[i], allow);
    }
}

/* The path a pattern describes, each "{name}" replaced by "v<name>". */
static void sample_path(const char *pattern, char *out, size_t len)
{
    size_t o = 0;
    for (const char *c = pattern; *c && o + 2 < len; c++) {
        if (*c == '{') {
            out[o++] = 'v';
            continue;
        }
        if (*c == '}')
            continue;
        out[o++] = *c;
    }
    out[o] = '\0';
}

static void test_table(void **state)
{
    (void)state;
    assert_true(tsv_route_count > 0);
    for (int i = 0; i < tsv_route_count; i++) {
        const tsv_route *r = &tsv_routes[i];
        assert_non_null(r->handler);
        assert_true(r->pattern[0] == '/');
        if (r->body == TSV_BODY_NONE && (r->encoded || r->body_max || r->precheck))
            fail_msg("%s %s: reads no body but declares one", r->method, r->pattern);
        for (int j = 0; j < i; j++)
            if (strcmp(tsv_routes[j].method, r->method) == 0 &&
                strcmp(tsv_routes[j].pattern, r->pattern) == 0)
                fail_msg("%s %s listed twice", r->method, r->pattern);
        /* Every route is reachable: no earlier route shadows it. */
        char path[512];
        sample_path(r->pattern, path, sizeof path);
        tsv_route_params p;
        char allow[256];
        const tsv_route *hit = find(r->method, path, &p, allow, sizeof allow);
        if (hit != r)
            fail_msg("%s %s: %s reaches %s", r->method, r->pattern, path,
                     hit ? hit->pattern : "nothing");
        int braces = 0;
        for (const char *c = r->pattern; *c; c++)
            braces += *c == '{';
        assert_int_equal(p.count, braces);
        assert_true(p.count <= TSV_ROUTE_MAX_PARAMS);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_route),
        cmocka_unit_test(test_console_routes),
        cmocka_unit_test(test_path_params),
        cmocka_unit_test(test_param_limits),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
