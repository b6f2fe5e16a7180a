/* Unit tests of the pure parts of the S3 client (remote/s3_internal.h): the
 * XML scanner, ListObjectsV2 pages, <Error> bodies, URL building in both
 * addressing styles, bucket names, the backoff schedule, the client's
 * configuration checks. The network side is test_s3_client.sh's. */
#include "harness.h"

#include "s3_client.h"
#include "s3_internal.h"
#include "stream.h"

/* ---- XML ------------------------------------------------------------------ */

typedef struct seen {
    char log[2048];
} seen;

static int log_cb(void *ud, const char *path, const char *text, size_t len, int leaf,
                  tsv_error *err)
{
    seen *s = ud;
    (void)err;
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof s->log - n, "%s%s=%.*s;", path, leaf ? "" : "(n)", (int)len, text);
    return 0;
}

static void scans(const char *xml, const char *want)
{
    seen s = {{0}};
    OK(s3__xml_scan(xml, strlen(xml), log_cb, &s, &E));
    assert_string_equal(s.log, want);
}

static void refuses(const char *xml, const char *why)
{
    seen s = {{0}};
    FAILS(s3__xml_scan(xml, strlen(xml), log_cb, &s, &E), TSV_EINVALID);
    if (!strstr(E.message, why))
        fail_msg("'%s': message '%s' lacks '%s'", xml, E.message, why);
}

static void test_xml_scan(void **state)
{
    (void)state;
    scans("<?xml version='1.0' encoding='UTF-8'?>\n<a x=\"1>2\" y='/'><b>t</b><c/><!-- c -->"
          "<d><![CDATA[<raw>&amp;]]></d></a>\n",
          "a/b=t;a/c=;a/d=<raw>&amp;;a(n)=;");
    scans("<a>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#xe9;&#x1F600;</a>",
          "a=<>&\"'AB\xc3\xa9\xf0\x9f\x98\x80;");
    scans("\xEF\xBB\xBF<a>x</a>", "a=x;");
    scans("<a >x</a >", "a=x;");
    refuses("", "no root element");
    refuses("<a>", "ends inside an element");
    refuses("<a></b>", "mismatched end tag");
    refuses("<a></a><b></b>", "more than one root");
    refuses("x<a></a>", "text outside the root");
    refuses("<a>&foo;</a>", "unknown entity");
    refuses("<a>&#0;</a>", "out of range");
    refuses("<a>&#xD800;</a>", "out of range");
    refuses("<a>&#x110000;</a>", "out of range");
    refuses("<a>&#x;</a>", "empty character reference");
    refuses("<a>&amp</a>", "unterminated entity");
    refuses("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "DOCTYPE");
    refuses("<a><!-- x</a>", "unterminated comment");
    refuses("<a><![CDATA[x</a>", "unterminated CDATA");
    refuses("<a x=\"></a>", "unterminated tag");
    refuses("</a>", "end tag without a start");
    refuses("<>x</>", "empty tag name");
    char deep[512] = "";
    for (int i = 0; i < S3_XML_DEPTH_MAX + 1; i++)
        strcat(deep, "<a>");
    refuses(deep, "nested too deep");
    /* a NUL byte inside the text */
    const char nul[] = "<a>x\0y</a>";
    FAILS(s3__xml_scan(nul, sizeof nul - 1, NULL, NULL, &E), TSV_EINVALID);
}

static void test_xml_find(void **state)
{
    (void)state;
    tsv_buf b = {0};
    const char *x =
        "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Bucket>b</Bucket><Key>k</Key><UploadId>up&amp;id</UploadId>"
        "</InitiateMultipartUploadResult>";
    OK(s3__xml_find(x, strlen(x), "InitiateMultipartUploadResult/UploadId", &b, &E));
    assert_int_equal(b.len, 5);
    assert_string_equal((char *)b.data, "up&id");
    FAILS(s3__xml_find(x, strlen(x), "InitiateMultipartUploadResult/Nope", &b, &E), TSV_ENOTFOUND);
    FAILS(s3__xml_find("<a>", 3, "a", &b, &E), TSV_EINVALID);
    tsv_buf_free(&b);
}

static void test_error_body(void **state)
{
    (void)state;
    char code[32], msg[64];
    const char *x =
        "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>SignatureDoesNotMatch</Code>"
        "<Message>The request signature &amp; more</Message><RequestId>tx1</RequestId>"
        "</Error>";
    assert_int_equal(s3__error_body(x, strlen(x), code, sizeof code, msg, sizeof msg), 1);
    assert_string_equal(code, "SignatureDoesNotMatch");
    assert_string_equal(msg, "The request signature & more");
    /* truncated to the buffers */
    char small[5];
    assert_int_equal(s3__error_body(x, strlen(x), small, sizeof small, msg, sizeof msg), 1);
    assert_string_equal(small, "Sign");
    /* not an error document, not XML, nothing */
    const char *ok = "<ListBucketResult></ListBucketResult>";
    assert_int_equal(s3__error_body(ok, strlen(ok), code, sizeof code, msg, sizeof msg), 0);
    assert_int_equal(s3__error_body("<html>oops", 10, code, sizeof code, msg, sizeof msg), 0);
    assert_string_equal(code, "");
    assert_int_equal(s3__error_body(NULL, 0, code, sizeof code, msg, sizeof msg), 0);
}

/* ---- ListObjectsV2 ----------------------------------------------------------- */

typedef struct listed {
    char log[1024];
    int stop_at, n;
} listed;

static int list_cb(const tsv_s3_entry *e, void *ud, tsv_error *err)
{
    listed *l = ud;
    if (++l->n == l->stop_at)
        return tsv_error_set(err, TSV_ECONFLICT, "stopped at %s", e->key);
    size_t n = strlen(l->log);
    snprintf(l->log + n, sizeof l->log - n, "%s|%llu|%s|%s;", e->key, (unsigned long long)e->size,
             e->etag, e->last_modified);
    return 0;
}

#define PAGE_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"x\">"

static void test_list_page(void **state)
{
    (void)state;
    listed l = {{0}, 0, 0};
    tsv_buf next = {0};
    int trunc = -1;
    const char *p1 =
        PAGE_HEAD "<Name>b</Name><Prefix>a/</Prefix><KeyCount>2</KeyCount>"
                  "<IsTruncated>true</IsTruncated>"
                  "<Contents><Key>a/x &amp; y</Key><LastModified>2026-01-01T00:00:00.000Z"
                  "</LastModified><ETag>&quot;abc&quot;</ETag><Size>12</Size>"
                  "<StorageClass>STANDARD</StorageClass></Contents>"
                  "<Contents><Size>18446744073709551615</Size><Key>a/z</Key></Contents>"
                  "<NextContinuationToken>tok/+=</NextContinuationToken>"
                  "</ListBucketResult>";
    OK(s3__list_page(p1, strlen(p1), list_cb, &l, &trunc, &next, &E));
    assert_string_equal(l.log, "a/x & y|12|abc|2026-01-01T00:00:00.000Z;"
                               "a/z|18446744073709551615||;");
    assert_int_equal(trunc, 1);
    assert_string_equal((char *)next.data, "tok/+=");
    assert_int_equal(next.len, 6);

    const char *last = PAGE_HEAD "<IsTruncated>false</IsTruncated></ListBucketResult>";
    OK(s3__list_page(last, strlen(last), list_cb, &l, &trunc, &next, &E));
    assert_int_equal(trunc, 0);
    assert_int_equal(next.len, 0);

    /* the callback's error stops the page */
    listed stop = {{0}, 2, 0};
    FAILS(s3__list_page(p1, strlen(p1), list_cb, &stop, &trunc, &next, &E), TSV_ECONFLICT);
    assert_string_equal(E.message, "stopped at a/z");

    const char *bad[] = {
        PAGE_HEAD "<Contents><Key>k</Key></Contents></ListBucketResult>",
        PAGE_HEAD "<Contents><Size>1</Size></Contents></ListBucketResult>",
        PAGE_HEAD "<Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
        PAGE_HEAD "<Contents><Key>k</Key><Size>1x</Size></Contents></ListBucketResult>",
        PAGE_HEAD "<Contents><Key>k</Key><Size>184467440737095516150</Size></Contents>"
                  "</ListBucketResult>",
        PAGE_HEAD "<Contents><Key></Key><Size>1</Size></Contents></ListBucketResult>",
        PAGE_HEAD "<IsTruncated>yes</IsTruncated></ListBucketResult>",
        PAGE_HEAD "<IsTruncated>true</IsTruncated></ListBucketResult>",
        "<Error><Code>NoSuchBucket</Code></Error>",
        PAGE_HEAD "<Contents><Key>k</Key><Size>1</Size></Contents>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        listed z = {{0}, 0, 0};
        tsv_error_clear(&E);
        if (s3__list_page(bad[i], strlen(bad[i]), list_cb, &z, &trunc, &next, &E) != -1 ||
            E.code != TSV_EINVALID)
            fail_msg("bad page %zu accepted: %s", i, E.message);
    }
    tsv_buf_free(&next);
}

/* ---- URLs --------------------------------------------------------------------- */

static void url_is(const char *ep, tsv_s3_addressing st, const char *b, const char *k,
                   const char *q, const char *want)
{
    tsv_buf u = {0};
    OK(s3__url(ep, st, b, k, q, &u, &E));
    assert_string_equal((char *)u.data, want);
    assert_int_equal(u.len, strlen(want));
    tsv_buf_free(&u);
}

static void test_url(void **state)
{
    (void)state;
    url_is("http://127.0.0.1:9000", TSV_S3_PATH_STYLE, "bkt", "a/b c.txt", NULL,
           "http://127.0.0.1:9000/bkt/a/b%20c.txt");
    url_is("http://127.0.0.1:9000/", TSV_S3_PATH_STYLE, "bkt", NULL, "list-type=2",
           "http://127.0.0.1:9000/bkt?list-type=2");
    url_is("https://s3.eu-west-1.amazonaws.com", TSV_S3_VIRTUAL_HOST, "my-bkt",
           "x/\xc3\xbc+&=?#%~_-.", "uploads=",
           "https://my-bkt.s3.eu-west-1.amazonaws.com/x/%C3%BC%2B%26%3D%3F%23%25~_-.?uploads=");
    url_is("http://gw.example:8080/s3//", TSV_S3_PATH_STYLE, "B_old", "k", NULL,
           "http://gw.example:8080/s3/B_old/k");
    url_is("http://gw.example:8080/s3", TSV_S3_VIRTUAL_HOST, "bkt", "k", NULL,
           "http://bkt.gw.example:8080/s3/k");
    url_is("http://h", TSV_S3_PATH_STYLE, NULL, NULL, NULL, "http://h/");
    tsv_buf u = {0};
    FAILS(s3__url("127.0.0.1:9000", TSV_S3_PATH_STYLE, "bkt", "k", NULL, &u, &E), TSV_EINVALID);
    FAILS(s3__url("ftp://h", TSV_S3_PATH_STYLE, "bkt", "k", NULL, &u, &E), TSV_EINVALID);
    FAILS(s3__url("http://", TSV_S3_PATH_STYLE, "bkt", "k", NULL, &u, &E), TSV_EINVALID);
    FAILS(s3__url("http://u:p@h", TSV_S3_PATH_STYLE, "bkt", "k", NULL, &u, &E), TSV_EINVALID);
    FAILS(s3__url(NULL, TSV_S3_PATH_STYLE, "bkt", "k", NULL, &u, &E), TSV_EINVALID);
    FAILS(s3__url("http://h", TSV_S3_VIRTUAL_HOST, "B_old", "k", NULL, &u, &E), TSV_EINVALID);
    tsv_buf_free(&u);

    tsv_buf e = {0};
    OK(s3__uri_encode(&e, "a/b c", 0, &E));
    OK(tsv_buf_append(&e, "", 1, &E));
    assert_string_equal((char *)e.data, "a%2Fb%20c");
    tsv_buf_free(&e);
}

static void test_bucket_names(void **state)
{
    (void)state;
    OK(s3__check_bucket("abc", TSV_S3_VIRTUAL_HOST, &E));
    OK(s3__check_bucket("a.b-c.9", TSV_S3_VIRTUAL_HOST, &E));
    OK(s3__check_bucket("Old_Bucket", TSV_S3_PATH_STYLE, &E));
    FAILS(s3__check_bucket("ab", TSV_S3_PATH_STYLE, &E), TSV_EINVALID);
    FAILS(s3__check_bucket(NULL, TSV_S3_PATH_STYLE, &E), TSV_EINVALID);
    char longname[70];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    FAILS(s3__check_bucket(longname, TSV_S3_PATH_STYLE, &E), TSV_EINVALID);
    FAILS(s3__check_bucket("Old_Bucket", TSV_S3_VIRTUAL_HOST, &E), TSV_EINVALID);
    FAILS(s3__check_bucket("-abc", TSV_S3_VIRTUAL_HOST, &E), TSV_EINVALID);
    FAILS(s3__check_bucket("abc.", TSV_S3_VIRTUAL_HOST, &E), TSV_EINVALID);
    FAILS(s3__check_bucket("a/b", TSV_S3_PATH_STYLE, &E), TSV_EINVALID);
    FAILS(s3__check_bucket("a b", TSV_S3_PATH_STYLE, &E), TSV_EINVALID);
}

/* ---- retries ------------------------------------------------------------------- */

static void test_backoff(void **state)
{
    (void)state;
    /* without jitter (rnd 0) the wait is the upper half of the step */
    assert_int_equal(s3__backoff_ms(1, 200, 10000, 0), 100);
    assert_int_equal(s3__backoff_ms(2, 200, 10000, 0), 200);
    assert_int_equal(s3__backoff_ms(3, 200, 10000, 0), 400);
    assert_int_equal(s3__backoff_ms(6, 200, 10000, 0), 3200);
    assert_int_equal(s3__backoff_ms(7, 200, 10000, 0), 5000);
    assert_int_equal(s3__backoff_ms(8, 200, 10000, 0), 5000); /* step capped at 10 s */
    assert_int_equal(s3__backoff_ms(1000, 200, 10000, 0), 5000);
    /* jitter stays within [d/2, d] */
    for (uint64_t r = 0; r < 5000; r += 7) {
        int ms = s3__backoff_ms(3, 200, 10000, r * 2654435761u);
        assert_true(ms >= 400 && ms <= 800);
    }
    assert_int_equal(s3__backoff_ms(3, 200, 10000, 400), 800);
    assert_int_equal(s3__backoff_ms(0, 0, 1, 5), 1);
    assert_true(s3__backoff_ms(40, 1000, 2000000000, 99) <= 2000000000);

    assert_true(s3__retryable_status(500));
    assert_true(s3__retryable_status(503));
    assert_true(s3__retryable_status(429));
    assert_true(s3__retryable_status(408));
    assert_false(s3__retryable_status(400));
    assert_false(s3__retryable_status(403));
    assert_false(s3__retryable_status(404));
    assert_false(s3__retryable_status(200));
}

static void test_config(void **state)
{
    (void)state;
    tsv_s3 *c = NULL;
    tsv_s3_config cfg = {.endpoint = "http://127.0.0.1:1", .access_key = "a", .secret_key = "s"};
    OK(tsv_s3_new(&c, &cfg, &E));
    tsv_s3_free(c);
    tsv_s3_free(NULL);
    cfg.part_size = 1024;
    FAILS(tsv_s3_new(&c, &cfg, &E), TSV_EINVALID);
    assert_non_null(strstr(E.message, "part size"));
    cfg.part_size = 0;
    cfg.secret_key = "";
    FAILS(tsv_s3_new(&c, &cfg, &E), TSV_EINVALID);
    cfg.secret_key = "s";
    cfg.endpoint = "s3.amazonaws.com";
    FAILS(tsv_s3_new(&c, &cfg, &E), TSV_EINVALID);
    cfg.endpoint = "http://h";
    cfg.region = "a:b";
    FAILS(tsv_s3_new(&c, &cfg, &E), TSV_EINVALID);
    assert_null(c);
    /* bad arguments are refused before any network */
    cfg.region = NULL;
    OK(tsv_s3_new(&c, &cfg, &E));
    FAILS(tsv_s3_head(c, "bkt", "", NULL, &E), TSV_EINVALID);
    FAILS(tsv_s3_get(c, "bkt", "k", -1, NULL, &E), TSV_EINVALID);
    FAILS(tsv_s3_put_file(c, "bkt", "k", -1, NULL, &E), TSV_EINVALID);
    FAILS(tsv_s3_delete(c, "b", "k", &E), TSV_EINVALID);
    tsv_s3_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_scan),   cmocka_unit_test(test_xml_find),
        cmocka_unit_test(test_error_body), cmocka_unit_test(test_list_page),
        cmocka_unit_test(test_url),        cmocka_unit_test(test_bucket_names),
        cmocka_unit_test(test_backoff),    cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
