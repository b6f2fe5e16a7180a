/*
 * tenant_internal: KV bucket names and the record helpers shared by the
 * tenant modules (tenant.c orgs/buckets, tenant_user.c users and mappings,
 * tenant_auth.c authorizations, tokens and passwords). Not for other layers.
 * All helpers work inside the caller's transaction; errors as tsv_error.
 */
#ifndef TSV_TENANT_INTERNAL_H
#define TSV_TENANT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "kv.h"
#include "tsv_error.h"

#define B_ORGS "organizationsv1"
#define B_ORG_INDEX "organizationindexv1"
#define B_BUCKETS "bucketsv1"
#define B_BUCKET_INDEX "bucketindexv1"
#define B_USERS "usersv1"
#define B_USER_INDEX "userindexv1"
#define B_USER_PASSWORDS "userspasswordv1"
#define B_AUTHS "authorizationsv1"
#define B_AUTH_INDEX "authorizationindexv1"
#define B_AUTH_HASHED_INDEX "authorizationhashedindexv1"
#define B_URM "userresourcemappingsv1"
#define B_URM_BY_USER "userresourcemappingsbyuserindexv1"
#define B_IDS "idsv1"

/* The top-level bucket `name` (TSV_ENOTFOUND if absent). */
int tenant__bucket_of(tsv_kv_txn *txn, const char *name, uint64_t *out, tsv_error *err);
/* Looks bucket/key up and parses the JSON value (caller frees *doc). A
 * missing bucket, key or value is TSV_ENOTFOUND "<what> not found". */
int tenant__get_json(tsv_kv_txn *txn, const char *bucket, const void *key, size_t klen,
                     const char *what, tsv_json_doc **doc, tsv_error *err);
/* Puts a value, creating the top-level bucket if needed. */
int tenant__put_buf(tsv_kv_txn *txn, const char *bucket, const void *key, size_t klen,
                    const void *val, size_t vlen, tsv_error *err);
int tenant__put_str(tsv_kv_txn *txn, const char *bucket, const char *key, const char *val,
                    tsv_error *err);
/* Deletes bucket/key; a missing key or bucket is not an error. */
int tenant__del(tsv_kv_txn *txn, const char *bucket, const void *key, size_t klen, tsv_error *err);
/* A string member (NULL if absent or not a string); *len gets its length. */
const char *tenant__jstr(const tsv_json *obj, const char *key, size_t *len);
/* strndup of a string member ("" if absent); NULL only when out of memory. */
char *tenant__jdup(const tsv_json *obj, const char *key);
/* *out = 1 when the top-level bucket `name` holds any entry, 0 when it is
 * empty or absent. */
int tenant__bucket_nonempty(tsv_kv_txn *txn, const char *name, int *out, tsv_error *err);
/* Replaces the malloc'd string *field by a copy of val (*field unchanged
 * when out of memory). */
int tenant__set_str(char **field, const char *val, tsv_error *err);
/* A random ID not yet used as a key of `bucket`. */
int tenant__unique_id(tsv_kv_txn *txn, const char *bucket, char out[17], tsv_error *err);

/* Calls visit for every JSON record of a top-level bucket, in key order;
 * visit returns 0 to go on, >0 to stop (the walk then returns 0), -1 with
 * err. A record that does not parse stops the walk with an error naming
 * `what`, or with what NULL is skipped (as influxd skips it). */
typedef int (*tenant__record_fn)(void *ctx, const tsv_json *record, tsv_error *err);
int tenant__foreach_record(tsv_kv_txn *txn, const char *bucket, const char *what,
                           tenant__record_fn visit, void *ctx, tsv_error *err);

/* Defines the public typed lookup `int name(txn, id, type *out, err)`: the
 * record under id in `bucket` decoded by from_json (TSV_ENOTFOUND naming
 * `what` when there is none). */
#define TENANT__DEFINE_GET(name, type, from_json, bucket, what)                                    \
    int name(tsv_kv_txn *txn, const char *id, type *out, tsv_error *err)                           \
    {                                                                                              \
        tsv_json_doc *doc;                                                                         \
        if (tenant__get_json(txn, bucket, id, strlen(id), what, &doc, err) != 0)                   \
            return -1;                                                                             \
        int rc = from_json(tsv_json_root(doc), out, err);                                          \
        tsv_json_free(doc);                                                                        \
        return rc;                                                                                 \
    }

/* Defines the public typed walk `int name(txn, fn, ctx, err)` over the records
 * of `bucket`: each record decoded by from_json into a `type`, handed to fn
 * (a `fn_type`), then released by clear. One definition for the org, bucket,
 * user and authorization walks, which differ only in these names. */
#define TENANT__DEFINE_FOREACH(name, type, fn_type, from_json, clear, bucket, what)                \
    typedef struct name##_ctx {                                                                    \
        fn_type fn;                                                                                \
        void *ctx;                                                                                 \
    } name##_ctx;                                                                                  \
    static int name##_record(void *vctx, const tsv_json *record, tsv_error *err)                   \
    {                                                                                              \
        name##_ctx *c = vctx;                                                                      \
        type rec;                                                                                  \
        if (from_json(record, &rec, err) != 0)                                                     \
            return -1;                                                                             \
        int rc = c->fn(c->ctx, &rec, err);                                                         \
        clear(&rec);                                                                               \
        return rc;                                                                                 \
    }                                                                                              \
    int name(tsv_kv_txn *txn, fn_type fn, void *ctx, tsv_error *err)                               \
    {                                                                                              \
        name##_ctx c = {.fn = fn, .ctx = ctx};                                                     \
        return tenant__foreach_record(txn, bucket, what, name##_record, &c, err);                  \
    }

#endif
