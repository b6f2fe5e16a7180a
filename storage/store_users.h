/*
 * store_users: user lookups outside the tenant write paths.
 * Errors: TSV_ENOTFOUND for an unknown user. Thread-safety: thread-safe
 * (store shared lock). out is always NUL-terminated ("" on error).
 */
#ifndef TSV_STORE_USERS_H
#define TSV_STORE_USERS_H

#include <stddef.h>

#include "store.h"

int tsv_store_user_name(tsv_store *s, const char *user_id, char *out, size_t outlen,
                        tsv_error *err);

#endif
