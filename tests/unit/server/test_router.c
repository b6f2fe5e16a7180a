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

/* The parameters and the Allow list of the last hit or miss. */
static tsv_route_params P;
static char allow[256];

/* The route that method and path reach; fails the test unless there is one
 * and its handler is h. */
static const tsv_route *hit(const char *method, const char *path, tsv_handler_fn h)
{
    const tsv_route *r = find(method, path, &P, allow, sizeof allow);
    if (!r)
        fail_msg("%s %s: no route", method, path);
    if (r->handler != h)
        fail_msg("%s %s: %s %s, another handler", method, path, r->method, r->pattern);
    return r;
}

/* Fails the test when method and path reach a route, or when want_allow
 * is not NULL and not the Allow list. */
static void miss(const char *method, const char *path, const char *want_allow)
{
    const tsv_route *r = find(method, path, &P, allow, sizeof allow);
    if (r)
        fail_msg("%s %s matched %s %s", method, path, r->method, r->pattern);
    if (want_allow && strcmp(allow, want_allow) != 0)
        fail_msg("%s %s: allow \"%s\", want \"%s\"", method, path, allow, want_allow);
}

static void test_literal_route(void **state)
{
    (void)state;
    hit("GET", "/health", tsv_handle_health);
    assert_int_equal(P.count, 0);
    const tsv_route *r = hit("GET", "/api/v2/backup/kv", tsv_handle_backup_kv);
    assert_int_equal(r->auth, TSV_AUTH_BACKUP);
}

static void test_path_params(void **state)
{
    (void)state;
    hit("GET", "/api/v2/buckets/0123456789abcdef", tsv_handle_bucket_get);
    assert_int_equal(P.count, 1);
    assert_string_equal(tsv_route_param(&P, "bucketID"), "0123456789abcdef");
    /* A name must match whole, not as a prefix of the pattern's name. */
    assert_null(tsv_route_param(&P, "bucket"));
    assert_null(tsv_route_param(&P, "bucketIDs"));
    assert_null(tsv_route_param(&P, "orgID"));

    hit("DELETE", "/api/v2/orgs/aaaa/members/bbbb", tsv_handle_org_member_delete);
    assert_int_equal(P.count, 2);
    assert_string_equal(tsv_route_param(&P, "orgID"), "aaaa");
    assert_string_equal(tsv_route_param(&P, "userID"), "bbbb");

    hit("GET", "/v1/projects/o1/tables/db%2Frp/unusedSegments", tsv_handle_unused_segments);
    assert_string_equal(tsv_route_param(&P, "orgID"), "o1");
    assert_string_equal(tsv_route_param(&P, "bucketName"), "db%2Frp");

    /* A literal segment after a parameter is matched exactly. */
    hit("GET", "/api/v2/buckets/x/stats", tsv_handle_bucket_stats);
    miss("GET", "/api/v2/buckets/x/Stats", "");
}

static void test_param_limits(void **state)
{
    (void)state;
    /* An empty segment is no parameter. */
    miss("GET", "/api/v2/buckets/", "");
    miss("GET", "/api/v2/orgs//members", "");
    /* 255 bytes fit; 256 do not (the path is then unknown). */
    char path[400];
    int n = snprintf(path, sizeof path, "/api/v2/files/");
    memset(path + n, 'f', 255);
    path[n + 255] = '\0';
    assert_non_null(find("GET", path, &P, allow, sizeof allow));
    assert_int_equal(strlen(tsv_route_param(&P, "name")), 255);
    path[n + 255] = 'f';
    path[n + 256] = '\0';
    miss("GET", path, "");
}

static void test_method_not_allowed(void **state)
{
    (void)state;
    miss("PUT", "/api/v2/buckets/0123456789abcdef", "GET, DELETE, PATCH");
    miss("DELETE", "/api/v2/backup/kv", "GET");
    /* Methods are case-sensitive (RFC 9110): "get" is another method. */
    miss("get", "/health", "GET, HEAD");
    /* A short buffer truncates the list but still says "known path". */
    char small[5];
    assert_null(find("POST", "/api/v2/buckets/x", &P, small, sizeof small));
    assert_string_equal(small, "GET,");
    /* No buffer at all is allowed. */
    assert_null(tsv_router_find("POST", "/api/v2/buckets/x", &P, NULL, 0));
}

/* The console's files are public and never shadow the API (docs/console.md). */
static void test_console_routes(void **state)
{
    (void)state;
    const tsv_route *r = hit("GET", "/", tsv_handle_ui_index);
    assert_int_equal(r->auth, TSV_AUTH_NONE);
    r = hit("GET", "/ui/app.js", tsv_handle_ui_file);
    assert_string_equal(tsv_route_param(&P, "file"), "app.js");
    miss("GET", "/ui/a/b.js", NULL);
    hit("GET", "/health", tsv_handle_health);
    /* Only GET: a POST to the console is 405, not a file. */
    miss("POST", "/", "GET");
}

static void test_not_found(void **state)
{
    (void)state;
    const char *paths[] = {"",       "/api",     "/api/v2/nope", "/api/v2/buckets/x/stats/y",
                           "health", "/healthz", "//health",     "/api/v2/backup/kv/extra"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        strcpy(allow, "stale");
        miss("GET", paths[i], "");
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
        const tsv_route *got = find(r->method, path, &P, allow, sizeof allow);
        if (got != r)
            fail_msg("%s %s: %s reaches %s", r->method, r->pattern, path,
                     got ? got->pattern : "nothing");
        int braces = 0;
        for (const char *c = r->pattern; *c; c++)
            braces += *c == '{';
        assert_int_equal(P.count, braces);
        assert_true(P.count <= TSV_ROUTE_MAX_PARAMS);
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
