/*
 * tenant_auth: InfluxDB 2.x authorizations in the KV tree: operator tokens,
 * token lookup (raw "token" index and SHA-256/SHA-512 PHC hashed index),
 * permission checks; user passwords are stored as bcrypt hashes.
 *
 * All functions work inside a caller's KV transaction.
 * Errors: int 0/-1 with tsv_error. Unknown tokens or authorizations
 * TSV_ENOTFOUND; a token already in use TSV_ECONFLICT.
 * Ownership: outputs are caller buffers. Thread-safety: as the transaction.
 */
#ifndef TSV_TENANT_AUTH_H
#define TSV_TENANT_AUTH_H

#include <stddef.h>

#include "kv.h"
#include "store.h"
#include "tsv_error.h"

/* Creates an authorization holding the full operator permission set; writes
 * the new raw token (88 chars) to token_out. */
int tsv_tenant_auth_create_operator(tsv_kv_txn *txn, const char *user_id, const char *org_id,
                                    const char *description, char token_out[89],
                                    char auth_id_out[17], tsv_error *err);
/* Replaces the raw token of authorization auth_id (old_token -> new_token),
 * keeping the token index in step. TSV_ECONFLICT if new_token is in use. */
int tsv_tenant_auth_set_token(tsv_kv_txn *txn, const char *auth_id, const char *old_token,
                              const char *new_token, tsv_error *err);
/* Resolves a raw token (raw index or hashed index). */
int tsv_tenant_token_lookup(tsv_kv_txn *txn, const char *token, size_t len,
                            tsv_token_info *out, tsv_error *err);
/* The first active authorization (ascending ID) that passes the operator
 * check. *found = 0 if none. token_out gets its raw token, or "" when only a
 * hashed form is stored. */
int tsv_tenant_find_operator(tsv_kv_txn *txn, int *found, char *token_out, size_t token_len,
                             tsv_error *err);

#endif
