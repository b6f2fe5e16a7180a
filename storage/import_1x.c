/* import_1x: InfluxDB 1.x portable backup metadata. */
#include "import_1x.h"

#include <stdlib.h>
#include <string.h>

#include "varint.h"

int tsv_portable_meta_decode(const uint8_t *buf, size_t len, Meta__Data **out, tsv_error *err)
{
    *out = NULL;
    size_t pos = 0;
    const uint8_t *data = NULL;
    uint64_t data_len = 0;
    int have_node = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (tsv_uvarint_read(buf, len, &pos, &tag) != 0)
            return tsv_error_set(err, TSV_EINVALID, ".meta: truncated field tag at offset %zu",
                                 pos);
        if (tag == ((1 << 3) | 2)) {
            if (tsv_uvarint_read(buf, len, &pos, &v) != 0 || v > len - pos)
                return tsv_error_set(err, TSV_EINVALID, ".meta: truncated Data field");
            data = buf + pos;
            data_len = v;
            pos += v;
        } else if (tag == ((2 << 3) | 0)) {
            if (tsv_uvarint_read(buf, len, &pos, &v) != 0)
                return tsv_error_set(err, TSV_EINVALID, ".meta: truncated MaxNodeID field");
            have_node = 1;
        } else {
            return tsv_error_set(err, TSV_EINVALID,
                                 ".meta: not an influxd portable metadata file (field tag %llu)",
                                 (unsigned long long)tag);
        }
    }
    if (!data || !have_node)
        return tsv_error_set(err, TSV_EINVALID, ".meta: required field %s missing",
                             data ? "MaxNodeID" : "Data");
    if (tsv_meta_decode(data, data_len, out, err) != 0)
        return tsv_error_wrap(err, ".meta");
    return 0;
}

int tsv_1x_bucket_database(const Meta__Data *meta, const char *db, const char *rp, const char *name,
                           Meta__DatabaseInfo **out, tsv_error *err)
{
    *out = NULL;
    const Meta__DatabaseInfo *d = tsv_meta_find_database(meta, db);
    if (!d)
        return tsv_error_set(err, TSV_ENOTFOUND, "database \"%s\" not in the backup's metadata",
                             db);
    const Meta__RetentionPolicyInfo *r = NULL;
    for (size_t i = 0; i < d->n_retentionpolicies; i++)
        if (strcmp(d->retentionpolicies[i]->name, rp) == 0)
            r = d->retentionpolicies[i];
    if (!r)
        return tsv_error_set(err, TSV_ENOTFOUND,
                             "retention policy \"%s\" of database \"%s\" not in the backup's "
                             "metadata",
                             rp, db);
    /* Round-trip through the encoder: a deep copy without hand-written
     * cloning of every nested message. */
    Meta__DatabaseInfo tmp = META__DATABASE_INFO__INIT;
    tmp.name = (char *)name;
    tmp.defaultretentionpolicy = (char *)TSV_META_DEFAULT_RP;
    Meta__RetentionPolicyInfo *rps[1] = {(Meta__RetentionPolicyInfo *)r};
    tmp.n_retentionpolicies = 1;
    tmp.retentionpolicies = rps;
    size_t n = meta__database_info__get_packed_size(&tmp);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    meta__database_info__pack(&tmp, buf);
    int rc = tsv_meta_decode_database(buf, n, out, err);
    free(buf);
    if (rc == 0) {
        /* The bucket's one RP is "autogen", as in every 2.x bucket. */
        char *name_copy = strdup(TSV_META_DEFAULT_RP);
        if (!name_copy) {
            tsv_meta_free_database(*out);
            *out = NULL;
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        }
        free((*out)->retentionpolicies[0]->name);
        (*out)->retentionpolicies[0]->name = name_copy;
    }
    return rc;
}
