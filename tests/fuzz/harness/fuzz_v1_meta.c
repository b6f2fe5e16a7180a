/*
 * fuzz_v1_meta: a 1.x portable backup's .meta file (storage/v1_meta.c):
 * the PortableData wrapper, the meta.Data inside it, and the import plan
 * influxd's restore would select from it (all databases, then the first
 * database and RP by name, as `influxd restore -db -rp` asks). Property:
 * wrap(unwrap(x)) unwraps to the same payload and node ID.
 */
#include "fuzz_util.h"
#include "meta.h"
#include "v1_meta.h"

static void plan(const Meta__Data *d, const char *db, const char *rdb, const char *rp,
                 const char *rrp)
{
    tsv_v1_import_item *items = NULL;
    size_t n = 0;
    tsv_error err;
    if (tsv_v1_import_plan(d, db, rdb, rp, rrp, &items, &n, &err) == 0) {
        FUZZ_CHECK(n >= 1);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(items[i].src_db && items[i].src_rp && items[i].db[0] && items[i].rp[0]);
    }
    free(items);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *payload;
    size_t plen;
    uint64_t node;
    tsv_error err;
    if (tsv_v1_portable_unwrap(data, size, &payload, &plen, &node, &err) != 0)
        return 0;
    FUZZ_CHECK(payload >= data && payload + plen <= data + size);
    tsv_buf w = {0};
    FUZZ_CHECK(tsv_v1_portable_wrap(payload, plen, node, &w, &err) == 0);
    const uint8_t *p2;
    size_t l2;
    uint64_t n2;
    FUZZ_CHECK(tsv_v1_portable_unwrap(w.data, w.len, &p2, &l2, &n2, &err) == 0);
    FUZZ_CHECK(l2 == plen && memcmp(p2, payload, plen) == 0 && n2 == node);
    tsv_buf_free(&w);

    Meta__Data *d = NULL;
    if (tsv_meta_decode(payload, plen, &d, &err) != 0)
        return 0;
    plan(d, "", "", "", "");
    if (d->n_databases && d->databases[0]->name) {
        const Meta__DatabaseInfo *db = d->databases[0];
        plan(d, db->name, "", "", "");
        if (db->n_retentionpolicies && db->retentionpolicies[0]->name)
            plan(d, db->name, "restored", db->retentionpolicies[0]->name, "rp2");
    }
    tsv_meta_free(d);
    return 0;
}
