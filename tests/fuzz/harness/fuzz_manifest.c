/*
 * fuzz_manifest: the bucket manifest JSON (storage/manifest.c), as
 * POST /api/v2/restore/bucketMetadata and manifest files carry it.
 * Property: a parsed manifest written back (tsv_manifest_write) parses
 * again, and writing that gives the same bytes.
 */
#include "fuzz_util.h"
#include "manifest.h"

static void write_manifest(const tsv_manifest *m, tsv_buf *out)
{
    tsv_json_writer w;
    tsv_error err;
    tsv_jw_init(&w, out, NULL);
    /* An absent ID parses as ""; the writer is only ever given real IDs
     * (backups name the org and bucket), and "" is not one. */
    tsv_manifest_write(&w, m->org_id[0] ? m->org_id : "0000000000000001", m->org_name,
                       m->bucket_id[0] ? m->bucket_id : "0000000000000002", m->bucket_name,
                       m->description, m->db);
    FUZZ_CHECK(tsv_jw_finish(&w, &err) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tsv_manifest m, m2;
    tsv_error err;
    if (tsv_manifest_parse((const char *)data, size, &m, &err) != 0) {
        tsv_manifest_clear(&m);
        return 0;
    }
    tsv_buf a = {0}, b = {0};
    write_manifest(&m, &a);
    if (tsv_manifest_parse((const char *)a.data, a.len, &m2, &err) != 0) {
        fprintf(stderr, "written manifest does not parse: %s\n%.*s\n", err.message, (int)a.len,
                (const char *)a.data);
        FUZZ_CHECK(0);
    }
    write_manifest(&m2, &b);
    FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    tsv_buf_free(&a);
    tsv_buf_free(&b);
    tsv_manifest_clear(&m2);
    tsv_manifest_clear(&m);
    return 0;
}
