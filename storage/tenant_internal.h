/*
 * tenant_internal: what tenant.c (records) and tenant_auth.c (authorizations,
 * passwords) share: InfluxDB's KV bucket names and the record helpers. Not
 * for other modules. All work inside the caller's transaction (one thread).
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

/* The top-level bucket `name` (TSV_ENOTFOUND if missing). */
int tenant__bucket_of(tsv_kv_txn *txn, const char *name, uint64_t *out, tsv_error *err);
/* Looks up bucket/key and parses the JSON value (*doc: free with tsv_json_free). */
int tenant__get_json(tsv_kv_txn *txn, const char *bucket, const void *key, size_t klen,
                     tsv_json_doc **doc, tsv_error *err);
/* Puts key -> val into a top-level bucket, creating the bucket if needed. */
int tenant__put_buf(tsv_kv_txn *txn, const char *bucket, const void *key, size_t klen,
                    const void *val, size_t vlen, tsv_error *err);
int tenant__put_str(tsv_kv_txn *txn, const char *bucket, const char *key, const char *val,
                    tsv_error *err);
/* A string member of obj (borrowed; NULL if absent or not a string). */
const char *tenant__jstr(const tsv_json *obj, const char *key, size_t *len);
/* A random ID not yet used as a key of `bucket`. */
int tenant__unique_id(tsv_kv_txn *txn, const char *bucket, char out[17], tsv_error *err);

/* Stores the bcrypt hash of password for user_id (tenant_auth.c).
 * TSV_EINVALID if the password is shorter than 8 characters. */
int tenant__password_store(tsv_kv_txn *txn, const char *user_id, const char *password,
                           tsv_error *err);

#endif
