/*
 * fuzz_s3_xml: the XML an S3 store answers with (remote/s3_xml.c): the
 * scanner, ListObjectsV2 pages, <Error> bodies.
 * Properties: a page the list parser accepts is one the scanner accepts;
 * every listed key is non-empty and NUL-free; a truncated page carries a
 * token; the error-body reader always leaves NUL-terminated strings.
 */
#include "fuzz_util.h"
#include "s3_internal.h"

static int count_keys(const tsv_s3_entry *e, void *ud, tsv_error *err)
{
    (void)err;
    FUZZ_CHECK(e->key && e->key[0]);
    FUZZ_CHECK(e->etag && e->last_modified);
    (*(size_t *)ud)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *xml = (const char *)data;
    tsv_error err;
    int scanned = s3__xml_scan(xml, size, NULL, NULL, &err);
    tsv_buf next = {0};
    size_t keys = 0;
    int truncated = 0;
    if (s3__list_page(xml, size, count_keys, &keys, &truncated, &next, &err) == 0) {
        FUZZ_CHECK(scanned == 0);
        FUZZ_CHECK(!truncated || next.len > 0);
        FUZZ_CHECK(next.len == 0 || next.data[next.len] == '\0');
    }
    tsv_buf_free(&next);
    char code[16], msg[32];
    if (s3__error_body(xml, size, code, sizeof code, msg, sizeof msg))
        FUZZ_CHECK(scanned == 0);
    FUZZ_CHECK(strlen(code) < sizeof code && strlen(msg) < sizeof msg);
    return 0;
}
