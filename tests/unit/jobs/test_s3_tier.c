/*
 * Unit tests for jobs/s3_tier: tsv_tier_url_parse, the split of an
 * --object-store URL into bucket and key prefix (the copy thread and the
 * recovery are covered against a real store by
 * tests/integration/test_s3_tier.sh).
 */
#include "harness.h"

#include "s3_tier.h"

static void parses(const char *url, const char *want_bucket, const char *want_prefix)
{
    char bucket[64] = "x", prefix[512] = "x";
    tsv_error_clear(&E);
    if (tsv_tier_url_parse(url, bucket, sizeof bucket, prefix, sizeof prefix, &E) != 0)
        fail_msg("%s: %s", url, E.message);
    if (strcmp(bucket, want_bucket) != 0 || strcmp(prefix, want_prefix) != 0)
        fail_msg("%s: bucket \"%s\" prefix \"%s\" (want \"%s\", \"%s\")", url, bucket, prefix,
                 want_bucket, want_prefix);
}

static void refused(const char *url, const char *want)
{
    char bucket[64], prefix[512];
    FAILS(tsv_tier_url_parse(url, bucket, sizeof bucket, prefix, sizeof prefix, &E), TSV_EINVALID);
    if (!strstr(E.message, want))
        fail_msg("%s: \"%s\" lacks \"%s\"", url ? url : "(null)", E.message, want);
}

static void test_url_parse(void **state)
{
    (void)state;
    parses("s3://bkt", "bkt", "");
    parses("s3://bkt/", "bkt", "");
    parses("s3://bucket/a/b/", "bucket", "a/b");
    parses("s3://bucket/a/b", "bucket", "a/b");
    parses("s3://tsvault/site-a/vault", "tsvault", "site-a/vault");
    parses("s3://my.bucket-1/x", "my.bucket-1", "x");
    /* Trailing slashes are dropped, however many. */
    parses("s3://bucket/a///", "bucket", "a");
    parses("s3://bucket//", "bucket", "");
    char b63[80];
    memset(b63, 'b', 63);
    b63[63] = '\0';
    char url[700];
    snprintf(url, sizeof url, "s3://%s/p", b63);
    parses(url, b63, "p");

    refused(NULL, "expected s3://bucket[/prefix]");
    refused("", "expected s3://bucket[/prefix]");
    refused("http://bkt/x", "object store \"http://bkt/x\": expected s3://bucket[/prefix]");
    refused("S3://bkt", "expected s3://bucket[/prefix]");
    refused("s3:/bkt", "expected s3://bucket[/prefix]");
    refused("s3://", "the bucket name must be 3-63 characters");
    refused("s3://b", "object store \"s3://b\": the bucket name must be 3-63 characters");
    refused("s3://bk/x", "the bucket name must be 3-63 characters");
    refused("s3:///x", "the bucket name must be 3-63 characters");
    snprintf(url, sizeof url, "s3://%sb", b63);
    refused(url, "the bucket name must be 3-63 characters");
    refused("s3://bkt//x", "object store \"s3://bkt//x\": empty path segment in the prefix");
    refused("s3://bkt/a//b", "empty path segment in the prefix");
    refused("s3://bkt/a//b/", "empty path segment in the prefix");

    /* The prefix must fit the caller's buffer (with its NUL). */
    char bucket[64], prefix[16];
    tsv_error_clear(&E);
    assert_int_equal(
        tsv_tier_url_parse("s3://bkt/0123456789abcde", bucket, sizeof bucket, prefix, 16, &E), 0);
    assert_string_equal(prefix, "0123456789abcde");
    FAILS(tsv_tier_url_parse("s3://bkt/0123456789abcdef", bucket, sizeof bucket, prefix, 16, &E),
          TSV_EINVALID);
    assert_string_equal(E.message, "object store prefix too long (16 bytes, at most 15)");
    /* Trailing slashes do not count against it. */
    tsv_error_clear(&E);
    assert_int_equal(
        tsv_tier_url_parse("s3://bkt/0123456789abcde//", bucket, sizeof bucket, prefix, 16, &E), 0);
    /* A long prefix in the tier's own buffer sizes. */
    char big[700], bigp[512];
    memset(bigp, 'p', 511);
    bigp[511] = '\0';
    snprintf(big, sizeof big, "s3://bkt/%s", bigp);
    parses(big, "bkt", bigp);
    snprintf(big, sizeof big, "s3://bkt/%sp", bigp);
    refused(big, "object store prefix too long (512 bytes, at most 511)");
    /* A bucket that does not fit the caller's buffer. */
    char small[4];
    FAILS(tsv_tier_url_parse("s3://abcd", small, sizeof small, prefix, sizeof prefix, &E),
          TSV_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
