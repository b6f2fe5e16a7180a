/* Unit tests of the InfluxDB 2.x backup client's body checks (remote/influx2_parse.c):
 * the /backup/metadata multipart reader, fed crafted bodies directly (the transfers are covered by
 * tests/integration/test_influx2_client.sh). */
#include "harness.h"

#include "influx2_internal.h"

#define B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
#define CT "multipart/mixed; boundary=" B

static step_reader reader_of(const tsv_buf *b, size_t step)
{
    return step_reader_of(b->data, b->len, step);
}

static void add(tsv_buf *b, const void *p, size_t n)
{
    assert_int_equal(tsv_buf_append(b, p, n, NULL), 0);
}
static void adds(tsv_buf *b, const char *s) { add(b, s, strlen(s)); }

/* "--B\r\nheaders\r\n\r\n<data>\r\n" */
static void part(tsv_buf *b, const char *name, const void *data, size_t n)
{
    char h[256];
    snprintf(h, sizeof h,
             "--" B "\r\nContent-Disposition: attachment; name=\"%s\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n",
             name);
    adds(b, h);
    add(b, data, n);
    adds(b, "\r\n");
}

static void finish(tsv_buf *b) { adds(b, "--" B "--\r\n"); }

static const char MANIFESTS[] = "[{\"bucketName\":\"b\"}]\n";

typedef struct parsed {
    tsv_buf kv, sql, buckets;
    influx2_parts parts;
} parsed;

static int parse(const tsv_buf *body, const char *ct, size_t step, parsed *out, size_t max)
{
    memset(out, 0, sizeof *out);
    tsv_writer *kw = tsv_buf_writer_new(&out->kv), *sw = tsv_buf_writer_new(&out->sql);
    out->parts.kv_w = kw;
    out->parts.sql_w = sw;
    out->parts.buckets = &out->buckets;
    out->parts.buckets_max = max;
    step_reader r = reader_of(body, step);
    tsv_error_clear(&E);
    int rc = influx2__parse_metadata(&r.base, ct, &out->parts, &E);
    tsv_writer_free(kw);
    tsv_writer_free(sw);
    return rc;
}

static void parsed_free(parsed *p)
{
    tsv_buf_free(&p->kv);
    tsv_buf_free(&p->sql);
    tsv_buf_free(&p->buckets);
}

#define EXPECT_FAIL(call, want, substr)                                                            \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != -1 || E.code != (want) || !strstr(E.message, (substr)))                         \
            fail_msg("%s: rc %d code %d (want %d) message \"%s\" (want \"%s\")", #call, rc_,       \
                     (int)E.code, (int)(want), E.message, (substr));                               \
    } while (0)

/* A part of a crafted body: its name and data (n bytes). */
typedef struct part_spec {
    const char *name;
    const char *data;
    size_t n;
} part_spec;

/* The parts given, then the end. */
#define PARTS(...) ((const part_spec[]){__VA_ARGS__, {0}})

/* The two parts a body must have. */
static const part_spec good_parts[] = {
    {"kv", "k", 1}, {"buckets", MANIFESTS, sizeof MANIFESTS - 1}, {0}};

/* A body (its parts, up to one with a NULL name) and the error its parse
 * gets. */
typedef struct bad_body {
    const part_spec *parts;
    const char *ct;    /* NULL: CT */
    size_t max;        /* buckets_max; 0: 1 MiB */
    tsv_code code;     /* 0: TSV_EINVALID */
    const char *error; /* a substring of the message */
} bad_body;

/* Every body of bad fails its parse (64 bytes a read) as it says. */
static void bodies_fail(const bad_body *bad, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tsv_buf body = {0};
        for (size_t j = 0; bad[i].parts[j].name; j++)
            part(&body, bad[i].parts[j].name, bad[i].parts[j].data, bad[i].parts[j].n);
        finish(&body);
        parsed p;
        EXPECT_FAIL(
            parse(&body, bad[i].ct ? bad[i].ct : CT, 64, &p, bad[i].max ? bad[i].max : 1 << 20),
            bad[i].code ? bad[i].code : TSV_EINVALID, bad[i].error);
        parsed_free(&p);
        tsv_buf_free(&body);
    }
}

/* A KV that contains near-misses of the delimiter and crosses the 64 KiB window. */
static void big_kv(tsv_buf *kv)
{
    uint32_t x = 12345;
    for (int i = 0; i < 300000; i++) {
        x = x * 1103515245u + 12345u;
        uint8_t ch = (uint8_t)(x >> 16);
        add(kv, &ch, 1);
        if (i % 65531 == 7)
            adds(kv, "\r\n--" B "X"); /* not a delimiter: the boundary continues */
        if (i % 40000 == 3)
            adds(kv, "\r\n--0123456789"); /* a delimiter prefix */
    }
}

static void test_multipart_good(void **state)
{
    (void)state;
    tsv_buf kv = {0}, body = {0};
    big_kv(&kv);
    part(&body, "kv", kv.data, kv.len);
    part(&body, "sql", "SQLite format 3", 15);
    part(&body, "buckets", MANIFESTS, strlen(MANIFESTS));
    finish(&body);
    size_t steps[] = {1, 7, 511, 4096, 1 << 20};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        parsed p;
        if (parse(&body, CT, steps[i], &p, 1 << 20) != 0)
            fail_msg("step %zu: %s", steps[i], E.message);
        assert_int_equal(p.kv.len, kv.len);
        assert_memory_equal(p.kv.data, kv.data, kv.len);
        assert_int_equal(p.parts.kv_bytes, kv.len);
        assert_int_equal(p.sql.len, 15);
        assert_int_equal(p.buckets.len, strlen(MANIFESTS));
        assert_memory_equal(p.buckets.data, MANIFESTS, strlen(MANIFESTS));
        assert_true(p.parts.have_kv && p.parts.have_sql && p.parts.have_buckets);
        parsed_free(&p);
    }
    tsv_buf_free(&kv);
    tsv_buf_free(&body);
}

static void test_multipart_without_sql_and_quoted_boundary(void **state)
{
    (void)state;
    tsv_buf body = {0};
    part(&body, "buckets", MANIFESTS, strlen(MANIFESTS));
    part(&body, "kv", "", 0); /* empty part, other order */
    finish(&body);
    adds(&body, "epilogue is ignored");
    parsed p;
    OK(parse(&body, "Multipart/Mixed; charset=x; boundary=\"" B "\"", 3, &p, 1 << 20));
    assert_int_equal(p.parts.have_sql, 0);
    assert_int_equal(p.kv.len, 0);
    assert_int_equal(p.sql.len, 0);
    parsed_free(&p);
    /* NULL writers discard. */
    influx2_parts parts = {.buckets = &p.buckets, .buckets_max = 1 << 20};
    memset(&p, 0, sizeof p);
    step_reader r = reader_of(&body, 100);
    OK(influx2__parse_metadata(&r.base, CT, &parts, &E));
    tsv_buf_free(&p.buckets);
    tsv_buf_free(&body);
}

static void test_multipart_missing_parts(void **state)
{
    (void)state;
    const bad_body bad[] = {
        {PARTS({"sql", "s", 1}, {"buckets", MANIFESTS, sizeof MANIFESTS - 1}),
         .error = "multipart body has no \"kv\" part"},
        {PARTS({"kv", "k", 1}), .error = "multipart body has no \"buckets\" part"},
        {PARTS({"kv", "k", 1}, {"kv", "k", 1}), .error = "part \"kv\" appears twice"},
        {PARTS({"kv", "k", 1}, {"extra", "x", 1}), .error = "unexpected part \"extra\""},
    };
    bodies_fail(bad, sizeof bad / sizeof bad[0]);
}

static void test_multipart_truncated(void **state)
{
    (void)state;
    tsv_buf full = {0}, body = {0};
    part(&full, "kv", "0123456789abcdef", 16);
    part(&full, "buckets", MANIFESTS, strlen(MANIFESTS));
    finish(&full);
    parsed p;
    /* Every cut shorter than the whole body fails, never succeeds. */
    for (size_t cut = 0; cut + 2 < full.len; cut++) {
        body.len = 0;
        add(&body, full.data, cut);
        if (parse(&body, CT, 5, &p, 1 << 20) == 0)
            fail_msg("a body cut at %zu of %zu bytes was accepted", cut, full.len);
        assert_int_equal(E.code, TSV_EINVALID);
        parsed_free(&p);
    }
    body.len = 0;
    add(&body, full.data, 150); /* inside kv's data */
    EXPECT_FAIL(parse(&body, CT, 5, &p, 1 << 20), TSV_EINVALID,
                "multipart body is truncated: part \"kv\"");
    parsed_free(&p);
    body.len = 0;
    add(&body, full.data, 100); /* inside kv's headers */
    EXPECT_FAIL(parse(&body, CT, 5, &p, 1 << 20), TSV_EINVALID, "it ends inside the part headers");
    parsed_free(&p);
    EXPECT_FAIL(parse(&(tsv_buf){0}, CT, 5, &p, 1 << 20), TSV_EINVALID, "multipart body is empty");
    parsed_free(&p);
    tsv_buf_free(&full);
    tsv_buf_free(&body);
}

static void test_multipart_bad_boundary(void **state)
{
    (void)state;
    char longb[120] = "multipart/mixed; boundary=";
    memset(longb + strlen(longb), 'x', 71);
    const bad_body bad[] = {
        {good_parts, "multipart/mixed; boundary=other",
         .error = "does not start with the boundary \"other\""},
        {good_parts, "application/json", .error = "is not multipart"},
        {good_parts, "multipart/mixed", .error = "has no multipart boundary"},
        {good_parts, "", .error = "has no Content-Type"},
        {good_parts, longb, .error = "invalid multipart boundary"},
        /* A boundary that is a prefix of the real one. */
        {good_parts, "multipart/mixed; boundary=0123456789",
         .error = "unexpected bytes after a boundary"},
    };
    bodies_fail(bad, sizeof bad / sizeof bad[0]);
}

static void test_multipart_buckets_checked(void **state)
{
    (void)state;
    const bad_body bad[] = {
        {PARTS({"kv", "k", 1}, {"buckets", "{\"a\":1}", 7}),
         .error = "is a JSON object, not an array"},
        {PARTS({"kv", "k", 1}, {"buckets", "[{\"a\":", 6}),
         .error = "the \"buckets\" part is not JSON"},
        {good_parts, .max = 8, .code = TSV_ETOOLARGE, .error = "larger than 8 bytes"},
    };
    bodies_fail(bad, sizeof bad / sizeof bad[0]);
}

/* The token never survives in a message. */
static void test_scrub_token(void **state)
{
    (void)state;
    tsv_influx2 *c = NULL;
    OK(tsv_influx2_new(&c, "127.0.0.1:1/", "s3cr3t-t0k3n", &E));
    tsv_error e;
    tsv_error_set(&e, TSV_EINVALID, "server said s3cr3t-t0k3n is bad: s3cr3t-t0k3ns3cr3t-t0k3n");
    influx2__scrub(c, &e);
    assert_string_equal(e.message, "server said <token> is bad: <token><token>");
    assert_int_equal(e.code, TSV_EINVALID);
    char longmsg[600];
    memset(longmsg, 'x', sizeof longmsg);
    memcpy(longmsg + 495, "s3cr3t-t0k3n", 12);
    longmsg[sizeof longmsg - 1] = '\0';
    tsv_error_set(&e, TSV_EINVALID, "%s", longmsg);
    influx2__scrub(c, &e);
    assert_null(strstr(e.message, "s3cr3"));
    assert_true(strlen(e.message) < TSV_ERROR_MSG_MAX);
    assert_string_equal(c->base, "http://127.0.0.1:1");
    tsv_influx2_free(c);
    /* A token that is part of the mask itself cannot loop. */
    OK(tsv_influx2_new(&c, "http://h", "oken", &E));
    tsv_error_set(&e, TSV_EINVALID, "a oken b oken");
    influx2__scrub(c, &e);
    assert_string_equal(e.message, "a <token> b <token>");
    tsv_influx2_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multipart_good),
        cmocka_unit_test(test_multipart_without_sql_and_quoted_boundary),
        cmocka_unit_test(test_multipart_missing_parts),
        cmocka_unit_test(test_multipart_truncated),
        cmocka_unit_test(test_multipart_bad_boundary),
        cmocka_unit_test(test_multipart_buckets_checked),
        cmocka_unit_test(test_scrub_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
