/* store_users: read-only user lookups the jobs layer needs (job owners). */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "kv.h"
#include "store_internal.h"
#include "store_users.h"

int tsv_store_user_name(tsv_store *s, const char *user_id, char *out, size_t outlen, tsv_error *err)
{
    if (outlen)
        out[0] = '\0';
    if (!user_id || strlen(user_id) != 16)
        return tsv_error_set(err, TSV_ENOTFOUND, "user not found");
    tsv_store_shared_lock(s);
    tsv_kv_txn *txn;
    int rc = tsv_kv_begin(s->kv, 0, &txn, err);
    if (rc == 0) {
        uint64_t b;
        const uint8_t *v;
        size_t vlen;
        rc = tsv_kv_bucket(txn, TSV_KV_ROOT, "usersv1", 7, &b, err);
        if (rc == 0)
            rc = tsv_kv_get(txn, b, user_id, 16, &v, &vlen, err);
        tsv_json_doc *doc = NULL;
        if (rc == 0)
            rc = tsv_json_parse(&doc, (const char *)v, vlen, err);
        if (rc == 0) {
            const tsv_json *n = tsv_json_get(tsv_json_root(doc), "name");
            if (n && n->type == TSV_JSON_STRING)
                snprintf(out, outlen, "%s", n->str);
            tsv_json_free(doc);
        }
        tsv_kv_abort(txn);
    }
    tsv_store_shared_unlock(s);
    return rc;
}
