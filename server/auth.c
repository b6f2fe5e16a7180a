/*
 * auth: resolves "Authorization: Token <t>" / "Bearer <t>" (scheme compared
 * case-insensitively, as InfluxDB does) into a caller. Tokens are compared in
 * constant time and never logged.
 */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

#include "authz.h"
#include "server.h"
#include "store.h"
#include "tsv_log.h"

/* Compares two secrets without leaking where they differ or their lengths:
 * hash both, compare digests in constant time. */
static int token_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)a, alen, da);
    SHA256((const unsigned char *)b, blen, db);
    return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

/* Extracts the token; returns 0 and sets the token and its length, or -1 if absent/malformed. */
static int parse_authorization(const char *h, const char **tok, size_t *len)
{
    if (!h)
        return -1;
    const char *t;
    if (strncasecmp(h, "Token ", 6) == 0)
        t = h + 6;
    else if (strncasecmp(h, "Bearer ", 7) == 0)
        t = h + 7;
    else
        return -1;
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n == 0)
        return -1;
    *tok = t;
    *len = n;
    return 0;
}

void tsv_caller_clear(tsv_caller *c)
{
    if (!c)
        return;
    tsv_perm_set_free(&c->perms);
    memset(c, 0, sizeof *c);
}

int tsv_authenticate(tsv_http_req *req, tsv_auth_level need, tsv_caller *caller, tsv_error *err)
{
    memset(caller, 0, sizeof *caller);
    if (need == TSV_AUTH_NONE)
        return 0;
    const char *tok;
    size_t len;
    if (parse_authorization(tsv_http_header(req, "Authorization"), &tok, &len) != 0)
        return tsv_error_set(err, TSV_EUNAUTHORIZED, "unauthorized access");

    const tsv_config *cfg = &req->server->cfg;
    if (cfg->operator_token &&
        token_equal(tok, len, cfg->operator_token, strlen(cfg->operator_token))) {
        caller->authenticated = 1;
        caller->is_operator = 1;
        caller->all = 1;
        return 0;
    }
    if (!req->server->store)
        return tsv_error_set(err, TSV_EUNAUTHORIZED, "unauthorized access");
    /* Read from the KV on every request: no cache can outlive a deleted or
     * deactivated token. */
    tsv_token_info info;
    tsv_error lerr;
    if (tsv_store_lookup_token(req->server->store, tok, len, &info, &lerr) != 0) {
        if (lerr.code != TSV_ENOTFOUND) {
            TSV_ERROR("msg=\"token lookup failed\" error=\"%s\"", lerr.message);
            return tsv_error_set(err, TSV_EINTERNAL, "token lookup failed");
        }
        return tsv_error_set(err, TSV_EUNAUTHORIZED, "unauthorized access");
    }
    if (!info.active) {
        tsv_token_info_clear(&info);
        return tsv_error_set(err, TSV_EUNAUTHORIZED, "token is inactive");
    }
    if (!info.user_active) {
        tsv_token_info_clear(&info);
        return tsv_error_set(err, TSV_EFORBIDDEN, "User is inactive");
    }
    caller->authenticated = 1;
    caller->is_operator = info.is_operator;
    caller->perms = info.perms; /* ownership moves to the caller */
    info.perms.items = NULL;
    info.perms.count = 0;
    memcpy(caller->auth_id, info.auth_id, sizeof caller->auth_id);
    memcpy(caller->org_id, info.org_id, sizeof caller->org_id);
    memcpy(caller->user_id, info.user_id, sizeof caller->user_id);
    tsv_token_info_clear(&info);
    if (need == TSV_AUTH_OPERATOR)
        return tsv_auth_require_operator(caller, 1, err);
    if (need == TSV_AUTH_BACKUP)
        return tsv_auth_require_operator(caller, 0, err);
    return 0;
}
