/*
 * Unit tests for common/json: parsing (strictness, escapes, depth, lookup),
 * integer accessors, the Go-compatible writer (compact and tab-indented,
 * compared byte for byte with what Go's encoding/json writes); RFC 3339 is
 * test_tsv_time.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static tsv_json_doc *parse_ok(const char *text)
{
    tsv_json_doc *doc = NULL;
    tsv_error err = {0};
    if (tsv_json_parse(&doc, text, strlen(text), &err) != 0)
        fail_msg("parse of %s failed: %s", text, err.message);
    assert_non_null(tsv_json_root(doc));
    return doc;
}

static void parse_fails(const char *text, size_t len, const char *msg_part)
{
    tsv_json_doc *doc = (tsv_json_doc *)0x1;
    tsv_error err = {0};
    if (tsv_json_parse(&doc, text, len, &err) == 0)
        fail_msg("parse of \"%.*s\" should fail", (int)len, text);
    assert_null(doc);
    assert_int_equal(err.code, TSV_EINVALID);
    if (msg_part && !strstr(err.message, msg_part))
        fail_msg("parse of \"%.*s\": message \"%s\" lacks \"%s\"", (int)len, text, err.message,
                 msg_part);
}

#undef FAILS /* this file's FAILS checks a parse, not a call */
#define FAILS(lit, part) parse_fails(lit, sizeof(lit) - 1, part)

/* ---- parser ---------------------------------------------------------------- */

static void test_parse_basic_and_lookup(void **state)
{
    (void)state;
    tsv_json_doc *doc =
        parse_ok(" {\"name\": \"bucket\", \"retentionRules\": [{\"type\": \"expire\", "
                 "\"everySeconds\": 3600}], \"flag\": true, \"none\": null, "
                 "\"neg\": -12.5e+3, \"OrgID\": \"abc\", \"orgid\": \"later\"}\n\t");
    const tsv_json *root = tsv_json_root(doc);
    assert_int_equal(root->type, TSV_JSON_OBJECT);
    assert_int_equal(root->count, 7);
    const tsv_json *name = tsv_json_get(root, "name");
    assert_non_null(name);
    assert_int_equal(name->type, TSV_JSON_STRING);
    assert_string_equal(name->str, "bucket");
    assert_int_equal(name->len, 6);
    const tsv_json *rules = tsv_json_get(root, "retentionRules");
    assert_int_equal(rules->type, TSV_JSON_ARRAY);
    assert_int_equal(rules->count, 1);
    uint64_t every = 0;
    assert_int_equal(tsv_json_u64(tsv_json_get(rules->items[0], "everySeconds"), &every,
                                  "retentionRules[0].everySeconds", NULL),
                     0);
    assert_int_equal(every, 3600);
    int b = 0;
    assert_int_equal(tsv_json_bool(tsv_json_get(root, "flag"), &b, "flag", NULL), 0);
    assert_true(b);
    assert_int_equal(tsv_json_get(root, "none")->type, TSV_JSON_NULL);
    const tsv_json *neg = tsv_json_get(root, "neg");
    assert_int_equal(neg->type, TSV_JSON_NUMBER);
    assert_string_equal(neg->str, "-12.5e+3");
    /* exact lookup is case-sensitive; _ci takes the last folding match */
    assert_null(tsv_json_get(root, "NAME"));
    assert_string_equal(tsv_json_get_ci(root, "NAME")->str, "bucket");
    assert_string_equal(tsv_json_get(root, "OrgID")->str, "abc");
    assert_string_equal(tsv_json_get_ci(root, "orgID")->str, "later");
    assert_null(tsv_json_get(root, "missing"));
    assert_null(tsv_json_get_ci(root, "missing"));
    assert_null(tsv_json_get(name, "x")); /* not an object */
    assert_null(tsv_json_get(NULL, "x"));
    const char *s;
    size_t slen;
    assert_int_equal(tsv_json_string(name, &s, &slen, "name", NULL), 0);
    assert_int_equal(slen, 6);
    tsv_error err = {0};
    assert_int_equal(tsv_json_string(rules, &s, &slen, "name", &err), -1);
    assert_string_equal(err.message, "json: cannot unmarshal array into name of type string");
    tsv_json_free(doc);
    tsv_json_free(NULL);

    /* scalars as the root, and empty containers */
    const char *roots[] = {"0",  "-0", "1e5",   "\"\"",   "true",      "false",   "null",
                           "[]", "{}", " [ ] ", "[[[]]]", "{\"\":{}}", "-0.0e-0", "1E+2"};
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
        tsv_json_free(parse_ok(roots[i]));
}

static void test_parse_duplicate_keys(void **state)
{
    (void)state;
    tsv_json_doc *doc = parse_ok("{\"a\": 1, \"b\": 2, \"a\": 3}");
    const tsv_json *root = tsv_json_root(doc);
    assert_int_equal(root->count, 3);
    assert_string_equal(tsv_json_get(root, "a")->str, "3");
    assert_string_equal(tsv_json_get_ci(root, "A")->str, "3");
    tsv_json_free(doc);
}

static void test_parse_escapes_and_unicode(void **state)
{
    (void)state;
    tsv_json_doc *doc = parse_ok("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u0041\\u00e9\\u20ac\","
                                 " \"\\ud83d\\ude00\", \"\\u0000x\", \"h\xc3\xa9llo \xe2\x82\xac "
                                 "\xf0\x9f\x98\x80\", \"\\uD834\\uDD1E\"]");
    const tsv_json *a = tsv_json_root(doc);
    assert_int_equal(a->count, 6);
    assert_string_equal(a->items[0]->str, "a\"b\\c/d\b\f\n\r\t");
    assert_string_equal(a->items[1]->str, "A\xc3\xa9\xe2\x82\xac");
    assert_string_equal(a->items[2]->str, "\xf0\x9f\x98\x80"); /* U+1F600 */
    assert_int_equal(a->items[3]->len, 2);                     /* embedded NUL kept */
    assert_memory_equal(a->items[3]->str, "\0x", 3);
    assert_string_equal(a->items[4]->str, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_string_equal(a->items[5]->str, "\xf0\x9d\x84\x9e"); /* U+1D11E, upper-case hex */
    tsv_json_free(doc);

    /* keys are decoded too */
    doc = parse_ok("{\"k\\u00e9y\": 1}");
    assert_non_null(tsv_json_get(tsv_json_root(doc), "k\xc3\xa9y"));
    tsv_json_free(doc);
}

static void test_parse_depth_limit(void **state)
{
    (void)state;
    char buf[512];
    /* 64 nested arrays parse, 65 do not */
    for (int depth = 63; depth <= 66; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++)
            buf[n++] = '[';
        for (int i = 0; i < depth; i++)
            buf[n++] = ']';
        tsv_json_doc *doc = NULL;
        tsv_error err = {0};
        int rc = tsv_json_parse(&doc, buf, n, &err);
        if (depth <= 64) {
            assert_int_equal(rc, 0);
            tsv_json_free(doc);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(err.code, TSV_EINVALID);
            assert_string_equal(err.message, "exceeded max depth 64 at offset 64");
        }
    }
    /* objects count too */
    size_t n = 0;
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"a\":");
    parse_fails(buf, n, "exceeded max depth 64");
}

static void test_parse_malformed(void **state)
{
    (void)state;
    FAILS("", "unexpected end of JSON input at offset 0");
    FAILS("   ", "unexpected end of JSON input at offset 3");
    FAILS("x", "invalid character 'x' looking for beginning of value at offset 0");
    FAILS("{,}", "invalid character ',' looking for beginning of object key string at offset 1");
    FAILS("[1,]", "invalid character ']' looking for beginning of value at offset 3");
    FAILS("{\"a\":1,}", "invalid character '}' looking for beginning of object key string");
    FAILS("[1 2]", "invalid character '2' after array element at offset 3");
    FAILS("{\"a\" 1}", "invalid character '1' after object key at offset 5");
    FAILS("{\"a\":1 \"b\":2}", "invalid character '\"' after object key:value pair at offset 7");
    FAILS("{a:1}", "invalid character 'a' looking for beginning of object key string");
    FAILS("{'a':1}", "invalid character '\\'' looking for beginning of object key string");
    FAILS("01", "invalid character '1' after top-level value at offset 1");
    FAILS("-01", "invalid character '1' after top-level value");
    FAILS("+1", "invalid character '+' looking for beginning of value");
    FAILS(".5", "invalid character '.' looking for beginning of value");
    FAILS("1.", "unexpected end of JSON input");
    FAILS("1.e5", "invalid character 'e' after decimal point in numeric literal");
    FAILS("1e", "unexpected end of JSON input");
    FAILS("1e+", "unexpected end of JSON input");
    FAILS("1ex", "invalid character 'x' in exponent of numeric literal");
    FAILS("-", "unexpected end of JSON input");
    FAILS("-x", "invalid character 'x' in numeric literal");
    FAILS("NaN", "invalid character 'N' looking for beginning of value");
    FAILS("Infinity", "invalid character 'I' looking for beginning of value");
    FAILS("-Infinity", "invalid character 'I' in numeric literal");
    FAILS("tru", "unexpected end of JSON input");
    FAILS("trUe", "invalid character 'U' in literal true (expecting 'u')");
    FAILS("nul", "unexpected end of JSON input");
    FAILS("falsy", "invalid character 'y' in literal false (expecting 'e')");
    FAILS("True", "invalid character 'T' looking for beginning of value");
    FAILS("\"abc", "unexpected end of JSON input");
    FAILS("\"a\nb\"", "invalid character '\\n' in string literal at offset 2");
    FAILS("\"a\tb\"", "invalid character '\\t' in string literal");
    FAILS("\"\\x\"", "invalid character 'x' in string escape code");
    FAILS("\"\\u12\"", "invalid character '\"' in \\u hexadecimal character escape");
    FAILS("\"\\u12G4\"", "invalid character 'G' in \\u hexadecimal character escape");
    FAILS("\"\\ud800\"", "unpaired high surrogate");
    FAILS("\"\\ud800x\"", "unpaired high surrogate");
    FAILS("\"\\ud800\\u0041\"", "unpaired high surrogate");
    FAILS("\"\\udc00\"", "unpaired low surrogate");
    FAILS("\"\\ud800\\", "unexpected end of JSON input");
    FAILS("\"\xff\"", "invalid UTF-8 in string literal at offset 1");
    FAILS("\"\xc0\xaf\"", "invalid UTF-8");         /* overlong '/' */
    FAILS("\"\xed\xa0\x80\"", "invalid UTF-8");     /* UTF-8-encoded surrogate */
    FAILS("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* > U+10FFFF */
    FAILS("\"\xe2\x82\"", "invalid UTF-8");         /* truncated sequence */
    FAILS("\xef\xbb\xbf{}", "invalid character '\\xef' looking for beginning of value");
    FAILS("{} {}", "invalid character '{' after top-level value at offset 3");
    FAILS("[] x", "invalid character 'x' after top-level value");
    FAILS("{\"a\":1}}", "invalid character '}' after top-level value");
    FAILS("// c\n{}", "invalid character '/' looking for beginning of value");
    FAILS("{\"a\":1 /* c */}", "invalid character '/' after object key:value pair");
    FAILS("[1,\n2,\n", "unexpected end of JSON input");
    FAILS("{\"a\"", "unexpected end of JSON input");
    FAILS("{\"a\":", "unexpected end of JSON input");
    FAILS("[\x0b]", "invalid character '\\v' looking for beginning of value");
    FAILS("\"\x7f\x01\"", "invalid character '\\x01' in string literal");
    parse_fails("[1]\0", 4, "invalid character '\\x00' after top-level value");
    parse_fails(NULL, 0, "unexpected end of JSON input");
}

static void test_json_integers(void **state)
{
    (void)state;
    tsv_json_doc *doc =
        parse_ok("[18446744073709551615, 18446744073709551616, -1, 1.5, 1e3, "
                 "-9223372036854775808, -9223372036854775809, 9223372036854775807, "
                 "9223372036854775808, \"12\", null, 0, -0, "
                 "123456789012345678901234567890123456789012345678901234567890123456789012345]");
    const tsv_json *a = tsv_json_root(doc);
    tsv_error err = {0};
    uint64_t u;
    int64_t i;
    assert_int_equal(tsv_json_u64(a->items[0], &u, "x", &err), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(tsv_json_u64(a->items[1], &u, "x", &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    assert_string_equal(err.message,
                        "json: cannot unmarshal number 18446744073709551616 into x of type uint64");
    assert_int_equal(tsv_json_u64(a->items[2], &u, "shardID", &err), -1);
    assert_string_equal(err.message,
                        "json: cannot unmarshal number -1 into shardID of type uint64");
    assert_int_equal(tsv_json_i64(a->items[2], &i, "x", &err), 0);
    assert_true(i == -1);
    assert_int_equal(tsv_json_i64(a->items[3], &i, "retentionPolicies[0].duration", &err), -1);
    assert_string_equal(err.message, "json: cannot unmarshal number 1.5 into "
                                     "retentionPolicies[0].duration of type int64");
    assert_int_equal(tsv_json_i64(a->items[4], &i, "x", &err), -1);
    assert_string_equal(err.message, "json: cannot unmarshal number 1e3 into x of type int64");
    assert_int_equal(tsv_json_i64(a->items[5], &i, "x", &err), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(tsv_json_i64(a->items[6], &i, "x", &err), -1);
    assert_int_equal(tsv_json_i64(a->items[7], &i, "x", &err), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(tsv_json_i64(a->items[8], &i, "x", &err), -1);
    assert_int_equal(tsv_json_u64(a->items[8], &u, "x", &err), 0);
    assert_true(u == 9223372036854775808ull);
    assert_int_equal(tsv_json_u64(a->items[9], &u, "orgID", &err), -1);
    assert_string_equal(err.message, "json: cannot unmarshal string into orgID of type uint64");
    assert_int_equal(tsv_json_i64(a->items[10], &i, NULL, &err), -1);
    assert_string_equal(err.message, "json: cannot unmarshal null into Go value of type int64");
    assert_int_equal(tsv_json_u64(a->items[11], &u, "x", &err), 0);
    assert_true(u == 0);
    assert_int_equal(tsv_json_i64(a->items[12], &i, "x", &err), 0);
    assert_true(i == 0);
    assert_int_equal(tsv_json_u64(a->items[12], &u, "x", &err), -1); /* "-0" like ParseUint */
    assert_int_equal(tsv_json_u64(a->items[13], &u, "x", &err), -1); /* long literal capped */
    assert_non_null(strstr(err.message, "1234567890123456789012345678901234567890123456789012"
                                        "345678901234..."));
    assert_int_equal(tsv_json_u64(NULL, &u, "bucketID", &err), -1);
    assert_string_equal(err.message, "json: missing bucketID (want uint64)");
    assert_int_equal(tsv_json_i64(a, &i, "x", &err), -1);
    assert_string_equal(err.message, "json: cannot unmarshal array into x of type int64");
    tsv_json_free(doc);
}

static void test_parse_large_document(void **state)
{
    (void)state;
    /* enough members to cross arena blocks and regrow the member stack */
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    tsv_jw_array_begin(&w);
    for (int i = 0; i < 20000; i++) {
        tsv_jw_object_begin(&w);
        tsv_jw_key(&w, "id");
        tsv_jw_u64(&w, (uint64_t)i);
        tsv_jw_key(&w, "name");
        tsv_jw_string(&w, "shard-group-with-a-longer-name");
        tsv_jw_object_end(&w);
    }
    tsv_jw_array_end(&w);
    assert_int_equal(tsv_jw_finish(&w, NULL), 0);
    tsv_json_doc *doc = NULL;
    assert_int_equal(tsv_json_parse(&doc, (const char *)b.data, b.len, NULL), 0);
    const tsv_json *a = tsv_json_root(doc);
    assert_int_equal(a->count, 20000);
    uint64_t id;
    assert_int_equal(tsv_json_u64(tsv_json_get(a->items[19999], "id"), &id, "id", NULL), 0);
    assert_int_equal(id, 19999);
    tsv_json_free(doc);
    tsv_buf_free(&b);
}

/* ---- writer ----------------------------------------------------------------- */

static char *finish_str(tsv_json_writer *w, tsv_buf *b)
{
    assert_int_equal(tsv_jw_finish(w, NULL), 0);
    assert_int_equal(tsv_buf_append(b, "", 1, NULL), 0);
    return (char *)b->data;
}

static void test_writer_compact(void **state)
{
    (void)state;
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "token");
    tsv_jw_string(&w, "abc");
    tsv_jw_key(&w, "n");
    tsv_jw_u64(&w, UINT64_MAX);
    tsv_jw_key(&w, "i");
    tsv_jw_i64(&w, INT64_MIN);
    tsv_jw_key(&w, "ok");
    tsv_jw_bool(&w, 1);
    tsv_jw_key(&w, "no");
    tsv_jw_bool(&w, 0);
    tsv_jw_key(&w, "nil");
    tsv_jw_null(&w);
    tsv_jw_key(&w, "empty");
    tsv_jw_array_begin(&w);
    tsv_jw_array_end(&w);
    tsv_jw_key(&w, "eo");
    tsv_jw_object_begin(&w);
    tsv_jw_object_end(&w);
    tsv_jw_key(&w, "list");
    tsv_jw_array_begin(&w);
    tsv_jw_u64(&w, 1);
    tsv_jw_raw(&w, "{\"pre\":true}");
    tsv_jw_string(&w, NULL);
    tsv_jw_array_end(&w);
    tsv_jw_object_end(&w);
    assert_string_equal(finish_str(&w, &b),
                        "{\"token\":\"abc\",\"n\":18446744073709551615,\"i\":-9223372036854775808,"
                        "\"ok\":true,\"no\":false,\"nil\":null,\"empty\":[],\"eo\":{},"
                        "\"list\":[1,{\"pre\":true},null]}");
    tsv_buf_free(&b);

    /* a bare root value */
    tsv_jw_init(&w, &b, NULL);
    tsv_jw_string(&w, "x");
    assert_string_equal(finish_str(&w, &b), "\"x\"");
    tsv_buf_free(&b);
}

static void test_writer_fields(void **state)
{
    (void)state;
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "s", "a\"b");
    tsv_jw_field_string(&w, "none", NULL);
    tsv_jw_field_u64(&w, "u", UINT64_MAX);
    tsv_jw_field_i64(&w, "i", -7);
    tsv_jw_field_bool(&w, "b", 2);
    tsv_jw_field_time(&w, "t", 1500000000123456789LL);
    tsv_jw_field_time(&w, "epoch", 0);
    tsv_jw_field_stringf(&w, "f", "/api/v2/orgs/%s/%d", "x", 5);
    tsv_jw_object_end(&w);
    assert_string_equal(finish_str(&w, &b),
                        "{\"s\":\"a\\\"b\",\"none\":null,\"u\":18446744073709551615,\"i\":-7,"
                        "\"b\":true,\"t\":\"2017-07-14T02:40:00.123456789Z\","
                        "\"epoch\":\"1970-01-01T00:00:00Z\",\"f\":\"/api/v2/orgs/x/5\"}");
    tsv_buf_free(&b);
}

static void test_writer_indent(void **state)
{
    (void)state;
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, "\t");
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "token");
    tsv_jw_string(&w, "abc");
    tsv_jw_object_end(&w);
    assert_string_equal(finish_str(&w, &b), "{\n\t\"token\": \"abc\"\n}");
    tsv_buf_free(&b);

    /* Expected text as written by Go's json.MarshalIndent(v, "", "\t") for
     * the equivalent map/slice value. */
    tsv_jw_init(&w, &b, "\t");
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "buckets");
    tsv_jw_array_begin(&w);
    for (int i = 0; i < 2; i++) {
        tsv_jw_object_begin(&w);
        tsv_jw_key(&w, "id");
        tsv_jw_u64(&w, (uint64_t)i + 1);
        tsv_jw_key(&w, "shards");
        tsv_jw_array_begin(&w);
        if (i == 1) {
            tsv_jw_array_begin(&w);
            tsv_jw_u64(&w, 7);
            tsv_jw_u64(&w, 8);
            tsv_jw_array_end(&w);
        }
        tsv_jw_array_end(&w);
        tsv_jw_key(&w, "meta");
        tsv_jw_object_begin(&w);
        tsv_jw_object_end(&w);
        tsv_jw_object_end(&w);
    }
    tsv_jw_array_end(&w);
    tsv_jw_key(&w, "empty");
    tsv_jw_array_begin(&w);
    tsv_jw_array_end(&w);
    tsv_jw_object_end(&w);
    assert_string_equal(finish_str(&w, &b), "{\n"
                                            "\t\"buckets\": [\n"
                                            "\t\t{\n"
                                            "\t\t\t\"id\": 1,\n"
                                            "\t\t\t\"shards\": [],\n"
                                            "\t\t\t\"meta\": {}\n"
                                            "\t\t},\n"
                                            "\t\t{\n"
                                            "\t\t\t\"id\": 2,\n"
                                            "\t\t\t\"shards\": [\n"
                                            "\t\t\t\t[\n"
                                            "\t\t\t\t\t7,\n"
                                            "\t\t\t\t\t8\n"
                                            "\t\t\t\t]\n"
                                            "\t\t\t],\n"
                                            "\t\t\t\"meta\": {}\n"
                                            "\t\t}\n"
                                            "\t],\n"
                                            "\t\"empty\": []\n"
                                            "}");
    tsv_buf_free(&b);

    tsv_jw_init(&w, &b, "\t");
    tsv_jw_array_begin(&w);
    tsv_jw_array_end(&w);
    assert_string_equal(finish_str(&w, &b), "[]");
    tsv_buf_free(&b);
}

static void test_writer_string_escaping(void **state)
{
    (void)state;
    struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
#define C(lit, want) {lit, sizeof(lit) - 1, want}
        C("plain", "\"plain\""),
        C("", "\"\""),
        C("q\"b\\s/", "\"q\\\"b\\\\s/\""),
        C("\n\r\t", "\"\\n\\r\\t\""),
        C("\b\f\x01\x1f\x7f", "\"\\u0008\\u000c\\u0001\\u001f\x7f\""),
        C("a\0b", "\"a\\u0000b\""),
        C("<script>&amp;</script>", "\"\\u003cscript\\u003e\\u0026amp;\\u003c/script\\u003e\""),
        C("\xe2\x80\xa8|\xe2\x80\xa9", "\"\\u2028|\\u2029\""),
        C("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""),
        C("bad\xff!", "\"bad\\ufffd!\""),
        C("\xe2\x82", "\"\\ufffd\\ufffd\""),            /* truncated: one per byte */
        C("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""), /* encoded surrogate */
        C("\xc0\xaf", "\"\\ufffd\\ufffd\""),            /* overlong */
        C("\xef\xbf\xbd", "\"\xef\xbf\xbd\""),          /* a real U+FFFD stays */
#undef C
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsv_buf b = {0};
        tsv_json_writer w;
        tsv_jw_init(&w, &b, NULL);
        tsv_jw_string_n(&w, cases[i].in, cases[i].len);
        const char *got = finish_str(&w, &b);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got %s want %s", i, got, cases[i].want);
        tsv_buf_free(&b);
    }
    /* keys are escaped the same way */
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "a<b");
    tsv_jw_u64(&w, 1);
    tsv_jw_object_end(&w);
    assert_string_equal(finish_str(&w, &b), "{\"a\\u003cb\":1}");
    tsv_buf_free(&b);
}

static void test_writer_roundtrip_through_parser(void **state)
{
    (void)state;
    const char *s = "tab\t \"quote\" <tag> \xe2\x80\xa8 \xf0\x9f\x98\x80 \x01";
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, "\t");
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, s);
    tsv_jw_string(&w, s);
    tsv_jw_object_end(&w);
    assert_int_equal(tsv_jw_finish(&w, NULL), 0);
    tsv_json_doc *doc = NULL;
    assert_int_equal(tsv_json_parse(&doc, (const char *)b.data, b.len, NULL), 0);
    const tsv_json *v = tsv_json_get(tsv_json_root(doc), s);
    assert_non_null(v);
    assert_string_equal(v->str, s);
    tsv_json_free(doc);
    tsv_buf_free(&b);
}

/* Found by tests/fuzz (fuzz_json): tsv_jw_node wrote object keys with
 * strlen, so a key holding "\u0000" came back cut at the NUL. */
static void test_writer_node_key_with_nul(void **state)
{
    (void)state;
    const char *in = "{\"siz\\u0000e\":1,\"a\":[\"x\\u0000y\"]}";
    tsv_json_doc *doc = NULL;
    assert_int_equal(tsv_json_parse(&doc, in, strlen(in), NULL), 0);
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    tsv_jw_node(&w, tsv_json_root(doc));
    assert_int_equal(tsv_jw_finish(&w, NULL), 0);
    assert_int_equal(b.len, strlen(in));
    assert_memory_equal(b.data, in, b.len);
    tsv_json_free(doc);
    tsv_buf_free(&b);
}

static void test_writer_misuse(void **state)
{
    (void)state;
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_error err = {0};

    tsv_jw_init(&w, &b, NULL); /* value in an object without a key */
    tsv_jw_object_begin(&w);
    tsv_jw_u64(&w, 1);
    tsv_jw_object_end(&w);
    assert_int_equal(tsv_jw_finish(&w, &err), -1);
    assert_int_equal(err.code, TSV_EINTERNAL);
    tsv_buf_free(&b);

    tsv_jw_init(&w, &b, NULL); /* key in an array */
    tsv_jw_array_begin(&w);
    tsv_jw_key(&w, "k");
    assert_int_equal(tsv_jw_finish(&w, &err), -1);
    tsv_buf_free(&b);

    tsv_jw_init(&w, &b, NULL); /* mismatched end */
    tsv_jw_array_begin(&w);
    tsv_jw_object_end(&w);
    assert_int_equal(tsv_jw_finish(&w, &err), -1);
    tsv_buf_free(&b);

    tsv_jw_init(&w, &b, NULL); /* left open */
    tsv_jw_object_begin(&w);
    assert_int_equal(tsv_jw_finish(&w, &err), -1);
    tsv_buf_free(&b);

    tsv_jw_init(&w, &b, NULL); /* end with nothing open */
    tsv_jw_array_end(&w);
    assert_int_equal(tsv_jw_finish(&w, &err), -1);
    tsv_buf_free(&b);

    tsv_jw_init(&w, &b, NULL); /* key without value */
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "k");
    tsv_jw_object_end(&w);
    assert_int_equal(tsv_jw_finish(&w, &err), -1);
    tsv_buf_free(&b);

    tsv_jw_init(&w, &b, NULL); /* 64 levels fit, 65 do not */
    for (int i = 0; i < 64; i++)
        tsv_jw_array_begin(&w);
    for (int i = 0; i < 64; i++)
        tsv_jw_array_end(&w);
    assert_int_equal(tsv_jw_finish(&w, &err), 0);
    tsv_buf_free(&b);
    tsv_jw_init(&w, &b, NULL);
    for (int i = 0; i < 65; i++)
        tsv_jw_array_begin(&w);
    assert_int_equal(tsv_jw_finish(&w, &err), -1);
    tsv_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_basic_and_lookup),
        cmocka_unit_test(test_parse_duplicate_keys),
        cmocka_unit_test(test_parse_escapes_and_unicode),
        cmocka_unit_test(test_parse_depth_limit),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_json_integers),
        cmocka_unit_test(test_parse_large_document),
        cmocka_unit_test(test_writer_compact),
        cmocka_unit_test(test_writer_fields),
        cmocka_unit_test(test_writer_indent),
        cmocka_unit_test(test_writer_string_escaping),
        cmocka_unit_test(test_writer_roundtrip_through_parser),
        cmocka_unit_test(test_writer_node_key_with_nul),
        cmocka_unit_test(test_writer_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
