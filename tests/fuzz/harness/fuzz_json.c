/*
 * fuzz_json: the JSON parser (common/json.c) and its writer. Property: a
 * document the parser accepts, written back with tsv_jw_node, parses to the
 * same tree, and writing that tree again gives the same bytes (write ->
 * parse equal). The typed accessors run on every node.
 */
#include "fuzz_util.h"
#include "json.h"

static int node_equal(const tsv_json *a, const tsv_json *b)
{
    if (a->type != b->type || a->count != b->count)
        return 0;
    switch (a->type) {
    case TSV_JSON_NULL:
        return 1;
    case TSV_JSON_BOOL:
        return a->boolean == b->boolean;
    case TSV_JSON_NUMBER:
    case TSV_JSON_STRING:
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case TSV_JSON_ARRAY:
    case TSV_JSON_OBJECT:
        for (size_t i = 0; i < a->count; i++) {
            if (a->type == TSV_JSON_OBJECT && (a->key_lens[i] != b->key_lens[i] ||
                                               memcmp(a->keys[i], b->keys[i], a->key_lens[i]) != 0))
                return 0;
            if (!node_equal(a->items[i], b->items[i]))
                return 0;
        }
        return 1;
    }
    return 0;
}

static void accessors(const tsv_json *v)
{
    uint64_t u;
    int64_t i;
    const char *s;
    size_t n;
    int b;
    tsv_error err;
    tsv_json_u64(v, &u, "v", &err);
    tsv_json_i64(v, &i, "v", &err);
    tsv_json_string(v, &s, &n, "v", &err);
    tsv_json_bool(v, &b, "v", &err);
    if (v->type == TSV_JSON_OBJECT || v->type == TSV_JSON_ARRAY) {
        for (size_t k = 0; k < v->count; k++)
            accessors(v->items[k]);
        if (v->type == TSV_JSON_OBJECT && v->count) {
            /* Lookups take C strings: a key holding a NUL ("a\u0000b") must
             * be found by none of them, in particular not by its prefix. */
            size_t n0 = strlen(v->keys[0]);
            if (n0 == v->key_lens[0])
                FUZZ_CHECK(tsv_json_get_ci(v, v->keys[0]) != NULL);
            else
                FUZZ_CHECK(tsv_json_get(v, v->keys[0]) != v->items[0] &&
                           tsv_json_get_ci(v, v->keys[0]) != v->items[0]);
            tsv_json_get(v, "type");
        }
    }
}

static void write_doc(const tsv_json *root, tsv_buf *out, const char *indent)
{
    tsv_json_writer w;
    tsv_error err;
    tsv_jw_init(&w, out, indent);
    tsv_jw_node(&w, root);
    FUZZ_CHECK(tsv_jw_finish(&w, &err) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tsv_json_doc *doc = NULL;
    tsv_error err;
    if (tsv_json_parse(&doc, (const char *)data, size, &err) != 0)
        return 0;
    const tsv_json *root = tsv_json_root(doc);
    accessors(root);
    for (int pass = 0; pass < 2; pass++) {
        const char *indent = pass ? "\t" : NULL;
        tsv_buf a = {0}, b = {0};
        write_doc(root, &a, indent);
        tsv_json_doc *doc2 = NULL;
        if (tsv_json_parse(&doc2, (const char *)a.data, a.len, &err) != 0) {
            fprintf(stderr, "written JSON does not parse: %s\n%.*s\n", err.message, (int)a.len,
                    (const char *)a.data);
            FUZZ_CHECK(0);
        }
        FUZZ_CHECK(node_equal(root, tsv_json_root(doc2)));
        write_doc(tsv_json_root(doc2), &b, indent);
        FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        tsv_json_free(doc2);
        tsv_buf_free(&a);
        tsv_buf_free(&b);
    }
    tsv_json_free(doc);
    return 0;
}
