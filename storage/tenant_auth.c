/*
 * tenant_auth: authorizations (operator tokens, token lookup through the raw
 * and hashed indexes, permission checks) and user password hashing, over the
 * tenant records in the KV (tenant.c).
 */
#include "tenant_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "random.h"
#include "tenant.h"
#include "tenant_internal.h"

/* The operator permission set (influxdb-2-api.md §2.2), in InfluxDB's order. */
static const char *const oper_types[] = {
    "authorizations", "buckets", "dashboards", "orgs", "sources", "tasks", "telegrafs",
    "users", "variables", "scrapers", "secrets", "labels", "views", "documents",
    "notificationRules", "notificationEndpoints", "checks", "dbrp", "notebooks",
    "annotations", "remotes", "replications",
};
#define OPER_TYPE_COUNT ((int)(sizeof oper_types / sizeof oper_types[0]))
/* Operator tokens made by older servers hold only the first 18 types;
 * influxd's KV migrations 16, 17 and 19 append notebooks, annotations,
 * remotes and replications to exactly such tokens when the KV is restored
 * or upgraded (formats.md D.4/D.5). We accept them as operators too, which
 * is what they become in influxd. */
#define OPER_REQUIRED_TYPES 18

/* ---- passwords ----------------------------------------------------------- */

int tenant__password_store(tsv_kv_txn *txn, const char *user_id, const char *password,
                           tsv_error *err)
{
    int rc;
    if (strlen(password) < 8)
        return tsv_error_set(err, TSV_EINVALID, "passwords must be at least 8 characters long");
    /* influxd stores bcrypt hashes (cost 10); libxcrypt makes the same $2b$ form. */
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn("$2b$", 10, NULL, 0, salt, sizeof salt))
        return tsv_error_set(err, TSV_EINTERNAL, "cannot generate a password salt");
    /* struct crypt_data is ~32 KiB: keep it off the stack. */
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    const char *hash = crypt_r(password, salt, cd);
    if (!hash || hash[0] == '*')
        rc = tsv_error_set(err, TSV_EINTERNAL, "cannot hash the password");
    else
        rc = tenant__put_str(txn, B_USER_PASSWORDS, user_id, hash, err);
    OPENSSL_cleanse(cd, sizeof *cd);
    free(cd);
    return rc;
}

/* ---- authorizations ---------------------------------------------------- */

static void base64url(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    for (char *p = out; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    }
}

int tsv_tenant_auth_create_operator(tsv_kv_txn *txn, const char *user_id, const char *org_id,
                                    const char *description, char token_out[89],
                                    char auth_id_out[17], tsv_error *err)
{
    char id[17];
    if (tenant__unique_id(txn, B_AUTHS, id, err) != 0)
        return -1;
    /* influxd tokens: 64 random bytes, URL-safe base64 with padding (88 chars). */
    unsigned char raw[64];
    for (size_t i = 0; i < sizeof raw; i += 8) {
        uint64_t r = tsv_random_u64();
        memcpy(raw + i, &r, 8);
    }
    char token[89];
    base64url(raw, sizeof raw, token);
    OPENSSL_cleanse(raw, sizeof raw);
    char now[40];
    tsv_tenant_now(now);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "id");
    tsv_jw_string(&w, id);
    tsv_jw_key(&w, "token");
    tsv_jw_string(&w, token);
    tsv_jw_key(&w, "status");
    tsv_jw_string(&w, "active");
    tsv_jw_key(&w, "description");
    tsv_jw_string(&w, description ? description : "");
    tsv_jw_key(&w, "orgID");
    tsv_jw_string(&w, org_id);
    if (user_id && *user_id) {
        tsv_jw_key(&w, "userID");
        tsv_jw_string(&w, user_id);
    }
    tsv_jw_key(&w, "permissions");
    tsv_jw_array_begin(&w);
    for (int i = 0; i < OPER_TYPE_COUNT; i++) {
        for (int a = 0; a < 2; a++) {
            tsv_jw_object_begin(&w);
            tsv_jw_key(&w, "action");
            tsv_jw_string(&w, a == 0 ? "read" : "write");
            tsv_jw_key(&w, "resource");
            tsv_jw_object_begin(&w);
            tsv_jw_key(&w, "type");
            tsv_jw_string(&w, oper_types[i]);
            tsv_jw_object_end(&w);
            tsv_jw_object_end(&w);
        }
    }
    tsv_jw_array_end(&w);
    tsv_jw_key(&w, "createdAt");
    tsv_jw_string(&w, now);
    tsv_jw_key(&w, "updatedAt");
    tsv_jw_string(&w, now);
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);
    if (rc == 0)
        rc = tenant__put_buf(txn, B_AUTHS, id, 16, buf.data, buf.len, err);
    if (rc == 0)
        rc = tenant__put_buf(txn, B_AUTH_INDEX, token, 88, id, 16, err);
    tsv_buf_free(&buf);
    if (rc == 0) {
        memcpy(token_out, token, 89);
        if (auth_id_out)
            memcpy(auth_id_out, id, 17);
    }
    OPENSSL_cleanse(token, sizeof token);
    return rc;
}

/* Does the permission list satisfy every operator permission? On failure
 * names the first missing one ("read:authorizations"). */
static int check_operator(const tsv_json *perms, char *missing, size_t mlen)
{
    if (missing && mlen)
        missing[0] = '\0';
    for (int i = 0; i < OPER_REQUIRED_TYPES; i++) {
        for (int a = 0; a < 2; a++) {
            const char *action = a == 0 ? "read" : "write";
            int ok = 0;
            for (size_t k = 0; perms && perms->type == TSV_JSON_ARRAY && k < perms->count && !ok;
                 k++) {
                const tsv_json *p = perms->items[k];
                const char *pa = tenant__jstr(p, "action", NULL);
                const tsv_json *res = tsv_json_get(p, "resource");
                const char *pt = res ? tenant__jstr(res, "type", NULL) : NULL;
                if (!pa || !pt || strcmp(pa, action) != 0)
                    continue;
                if (strcmp(pt, "instance") == 0) {
                    ok = 1;
                    continue;
                }
                const tsv_json *rid = tsv_json_get(res, "id");
                const tsv_json *roid = tsv_json_get(res, "orgID");
                int scoped = (rid && rid->type != TSV_JSON_NULL) ||
                             (roid && roid->type != TSV_JSON_NULL);
                if (strcmp(pt, oper_types[i]) == 0 && !scoped)
                    ok = 1;
            }
            if (!ok) {
                if (missing)
                    snprintf(missing, mlen, "%s:%s", action, oper_types[i]);
                return 0;
            }
        }
    }
    return 1;
}

int tsv_perm_allows(const tsv_perm_scope *p, const char *org_id, const char *id)
{
    if (p->any)
        return 1;
    for (int i = 0; org_id && i < p->n_orgs; i++)
        if (strcasecmp(p->orgs[i], org_id) == 0)
            return 1;
    for (int i = 0; id && i < p->n_ids; i++)
        if (strcasecmp(p->ids[i], id) == 0)
            return 1;
    return 0;
}

static void scope_add(tsv_perm_scope *sc, const tsv_json *res)
{
    const char *id = tenant__jstr(res, "id", NULL);
    const char *org = tenant__jstr(res, "orgID", NULL);
    if (id && strlen(id) == 16) {
        if (sc->n_ids < TSV_PERM_SCOPES)
            snprintf(sc->ids[sc->n_ids++], 17, "%s", id);
    } else if (org && strlen(org) == 16) {
        if (sc->n_orgs < TSV_PERM_SCOPES)
            snprintf(sc->orgs[sc->n_orgs++], 17, "%s", org);
    } else {
        sc->any = 1;
    }
}

/* Condenses a permission list into the scopes the tenant API checks. */
static void summarize_permissions(const tsv_json *perms, tsv_token_perms *out)
{
    memset(out, 0, sizeof *out);
    for (size_t k = 0; perms && perms->type == TSV_JSON_ARRAY && k < perms->count; k++) {
        const tsv_json *p = perms->items[k];
        const char *action = tenant__jstr(p, "action", NULL);
        const tsv_json *res = tsv_json_get(p, "resource");
        const char *type = res ? tenant__jstr(res, "type", NULL) : NULL;
        if (!action || !type)
            continue;
        int write = strcmp(action, "write") == 0;
        if (!write && strcmp(action, "read") != 0)
            continue;
        if (strcmp(type, "instance") == 0) {
            tsv_perm_scope *all[] = {write ? &out->write_orgs : &out->read_orgs,
                                     write ? &out->write_buckets : &out->read_buckets};
            all[0]->any = all[1]->any = 1;
        } else if (strcmp(type, "orgs") == 0) {
            scope_add(write ? &out->write_orgs : &out->read_orgs, res);
        } else if (strcmp(type, "buckets") == 0) {
            scope_add(write ? &out->write_buckets : &out->read_buckets, res);
        }
    }
}

static void phc_hash(const char *token, size_t len, int sha512, char *out, size_t outlen)
{
    unsigned char digest[SHA512_DIGEST_LENGTH];
    size_t dlen;
    if (sha512) {
        SHA512((const unsigned char *)token, len, digest);
        dlen = SHA512_DIGEST_LENGTH;
    } else {
        SHA256((const unsigned char *)token, len, digest);
        dlen = SHA256_DIGEST_LENGTH;
    }
    char b64[100];
    base64url(digest, dlen, b64);
    snprintf(out, outlen, "$influxdb2-%s$%s", sha512 ? "sha512" : "sha256", b64);
}

/* Finds the auth ID for a raw token through the raw or the hashed index. */
static int auth_id_for_token(tsv_kv_txn *txn, const char *token, size_t len, char id[17],
                             tsv_error *err)
{
    uint64_t idx;
    const uint8_t *v;
    size_t vlen;
    tsv_error e;
    if (len <= TSV_KV_MAX_KEY && tenant__bucket_of(txn, B_AUTH_INDEX, &idx, &e) == 0 &&
        tsv_kv_get(txn, idx, token, len, &v, &vlen, &e) == 0 && vlen == 16) {
        memcpy(id, v, 16);
        id[16] = '\0';
        return 0;
    }
    for (int variant = 0; variant < 2; variant++) {
        char phc[128];
        phc_hash(token, len, variant, phc, sizeof phc);
        if (tenant__bucket_of(txn, B_AUTH_HASHED_INDEX, &idx, &e) == 0 &&
            tsv_kv_get(txn, idx, phc, strlen(phc), &v, &vlen, &e) == 0 && vlen == 16) {
            memcpy(id, v, 16);
            id[16] = '\0';
            return 0;
        }
    }
    return tsv_error_set(err, TSV_ENOTFOUND, "authorization not found");
}

static int token_matches(const tsv_json *auth, const char *token, size_t len)
{
    size_t n = 0;
    const char *stored = tenant__jstr(auth, "token", &n);
    if (stored && n > 0) {
        unsigned char a[32], b[32];
        SHA256((const unsigned char *)stored, n, a);
        SHA256((const unsigned char *)token, len, b);
        return CRYPTO_memcmp(a, b, 32) == 0;
    }
    const char *hashed = tenant__jstr(auth, "hashedToken", &n);
    if (!hashed)
        return 0;
    for (int variant = 0; variant < 2; variant++) {
        char phc[128];
        phc_hash(token, len, variant, phc, sizeof phc);
        if (strlen(phc) == n && CRYPTO_memcmp(phc, hashed, n) == 0)
            return 1;
    }
    return 0;
}

static void copy_id(char dst[17], const char *src, size_t n)
{
    if (src && n == 16) {
        memcpy(dst, src, 16);
        dst[16] = '\0';
    } else {
        dst[0] = '\0';
    }
}

int tsv_tenant_token_lookup(tsv_kv_txn *txn, const char *token, size_t len, tsv_token_info *out,
                            tsv_error *err)
{
    memset(out, 0, sizeof *out);
    char id[17];
    if (auth_id_for_token(txn, token, len, id, err) != 0)
        return -1;
    tsv_json_doc *doc;
    tsv_error e;
    if (tenant__get_json(txn, B_AUTHS, id, 16, &doc, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return tsv_error_set(err, TSV_ENOTFOUND, "authorization not found");
        if (err)
            *err = e;
        return -1;
    }
    const tsv_json *a = tsv_json_root(doc);
    if (!token_matches(a, token, len)) {
        tsv_json_free(doc);
        return tsv_error_set(err, TSV_ENOTFOUND, "authorization not found");
    }
    const char *status = tenant__jstr(a, "status", NULL);
    out->active = !status || strcmp(status, "inactive") != 0;
    size_t n = 0;
    const char *s;
    memcpy(out->auth_id, id, 17);
    s = tenant__jstr(a, "orgID", &n);
    copy_id(out->org_id, s, n);
    s = tenant__jstr(a, "userID", &n);
    copy_id(out->user_id, s, n);
    out->is_operator = check_operator(tsv_json_get(a, "permissions"), out->first_missing_permission,
                                      sizeof out->first_missing_permission);
    summarize_permissions(tsv_json_get(a, "permissions"), &out->perms);
    tsv_json_free(doc);
    out->user_active = 1;
    if (out->user_id[0]) {
        tsv_json_doc *udoc;
        if (tenant__get_json(txn, B_USERS, out->user_id, 16, &udoc, &e) == 0) {
            const char *us = tenant__jstr(tsv_json_root(udoc), "status", NULL);
            if (us && strcmp(us, "inactive") == 0)
                out->user_active = 0;
            tsv_json_free(udoc);
        }
    }
    return 0;
}

int tsv_tenant_find_operator(tsv_kv_txn *txn, int *found, char *token_out, size_t token_len,
                             tsv_error *err)
{
    *found = 0;
    if (token_len)
        token_out[0] = '\0';
    uint64_t b;
    tsv_error e;
    if (tenant__bucket_of(txn, B_AUTHS, &b, &e) != 0)
        return e.code == TSV_ENOTFOUND ? 0 : (err ? (*err = e, -1) : -1);
    tsv_kv_cursor *c;
    if (tsv_kv_cursor_open(txn, b, &c, err) != 0)
        return -1;
    int rc = 0;
    for (;;) {
        tsv_kv_entry ent;
        int r = tsv_kv_cursor_next(c, &ent, err);
        if (r <= 0) {
            rc = r;
            break;
        }
        if (ent.is_bucket || ent.vlen == 0)
            continue;
        tsv_json_doc *doc;
        if (tsv_json_parse(&doc, (const char *)ent.val, ent.vlen, NULL) != 0)
            continue; /* an unreadable record cannot be the operator token */
        const tsv_json *a = tsv_json_root(doc);
        const char *status = tenant__jstr(a, "status", NULL);
        int active = !status || strcmp(status, "inactive") != 0;
        if (active && check_operator(tsv_json_get(a, "permissions"), NULL, 0)) {
            size_t n = 0;
            const char *t = tenant__jstr(a, "token", &n);
            if (t && n < token_len) {
                memcpy(token_out, t, n);
                token_out[n] = '\0';
            }
            *found = 1;
            tsv_json_free(doc);
            break;
        }
        tsv_json_free(doc);
    }
    tsv_kv_cursor_close(c);
    return rc < 0 ? -1 : 0;
}

int tsv_tenant_auth_set_token(tsv_kv_txn *txn, const char *auth_id, const char *old_token,
                              const char *new_token, tsv_error *err)
{
    size_t nlen = strlen(new_token);
    if (nlen == 0 || nlen > TSV_KV_MAX_KEY)
        return tsv_error_set(err, TSV_EINVALID, "token must be 1..%d bytes", TSV_KV_MAX_KEY);
    char existing[17];
    tsv_error e;
    if (auth_id_for_token(txn, new_token, nlen, existing, &e) == 0)
        return tsv_error_set(err, TSV_ECONFLICT, "token is already in use");
    tsv_json_doc *doc;
    if (tenant__get_json(txn, B_AUTHS, auth_id, 16, &doc, err) != 0)
        return -1;
    /* Re-serialise the record with the new token, keeping every other field. */
    const tsv_json *a = tsv_json_root(doc);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    for (size_t i = 0; i < a->count; i++) {
        tsv_jw_key(&w, a->keys[i]);
        if (strcmp(a->keys[i], "token") == 0) {
            tsv_jw_string(&w, new_token);
            continue;
        }
        tsv_jw_node(&w, a->items[i]);
    }
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);
    tsv_json_free(doc);
    uint64_t idx;
    if (rc == 0)
        rc = tenant__put_buf(txn, B_AUTHS, auth_id, 16, buf.data, buf.len, err);
    tsv_buf_free(&buf);
    if (rc == 0 && tenant__bucket_of(txn, B_AUTH_INDEX, &idx, err) == 0)
        rc = tsv_kv_del(txn, idx, old_token, strlen(old_token), err);
    if (rc == 0)
        rc = tenant__put_buf(txn, B_AUTH_INDEX, new_token, nlen, auth_id, 16, err);
    return rc;
}
