/*
 * fuzz_meta: meta.proto decoding (storage/meta.c), bare meta.Data and bare
 * DatabaseInfo. Property: decode -> encode -> decode gives a tree that
 * encodes to the same bytes (the canonical form of meta.h), and a clone
 * encodes alike.
 */
#include "fuzz_util.h"
#include "meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tsv_error err;
    Meta__Data *d = NULL;
    if (tsv_meta_decode(data, size, &d, &err) == 0) {
        uint8_t *e1 = NULL, *e2 = NULL, *e3 = NULL;
        size_t l1 = 0, l2 = 0, l3 = 0;
        FUZZ_CHECK(tsv_meta_encode(d, &e1, &l1, &err) == 0);
        Meta__Data *d2 = NULL, *c = NULL;
        FUZZ_CHECK(tsv_meta_decode(e1, l1, &d2, &err) == 0);
        FUZZ_CHECK(tsv_meta_encode(d2, &e2, &l2, &err) == 0);
        FUZZ_CHECK(l1 == l2 && memcmp(e1, e2, l1) == 0);
        FUZZ_CHECK(tsv_meta_clone(d, &c, &err) == 0);
        FUZZ_CHECK(tsv_meta_encode(c, &e3, &l3, &err) == 0);
        FUZZ_CHECK(l1 == l3 && memcmp(e1, e3, l1) == 0);
        /* The lookups and the shard walk trust the decoded tree. */
        tsv_meta_find_shard(d, 1, NULL, NULL, NULL, &err);
        if (d->n_databases && d->databases[0]->name)
            tsv_meta_find_database(d, d->databases[0]->name);
        free(e1);
        free(e2);
        free(e3);
        tsv_meta_free(d2);
        tsv_meta_free(c);
        tsv_meta_free(d);
    }
    Meta__DatabaseInfo *db = NULL;
    if (tsv_meta_decode_database(data, size, &db, &err) == 0)
        tsv_meta_free_database(db);
    return 0;
}
