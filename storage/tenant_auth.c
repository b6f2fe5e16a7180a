/* tenant_auth: InfluxDB's authorization records, token lookup and
 * generation, and password hashing (docs/storage.md, "Tenant records"). */
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tenant.h"
#include "tenant_internal.h"

#define TOKEN_LEN 88

void tsv_authorization_clear(tsv_authorization *a)
{
    if (!a)
        return;
    free(a->description);
    free(a->created_at);
    free(a->updated_at);
    tsv_perm_set_free(&a->perms);
    memset(a, 0, sizeof *a);
}

void tsv_token_info_clear(tsv_token_info *info)
{
    if (!info)
        return;
    tsv_perm_set_free(&info->perms);
    memset(info, 0, sizeof *info);
}

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

/* influxd's PHC form of a token hash: "$influxdb2-sha256$<base64url>". */
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

static void copy_id(char dst[17], const char *src, size_t n)
{
    if (src && n == 16) {
        memcpy(dst, src, 16);
        dst[16] = '\0';
    } else {
        dst[0] = '\0';
    }
}

static int auth_from_json(const tsv_json *j, tsv_authorization *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = 0;
    const char *s = tenant__jstr(j, "id", &n);
    if (!s || n != 16)
        return tsv_error_set(err, TSV_EINTERNAL, "authorization record without a valid id");
    copy_id(out->id, s, n);
    s = tenant__jstr(j, "orgID", &n);
    copy_id(out->org_id, s, s ? n : 0);
    s = tenant__jstr(j, "userID", &n);
    copy_id(out->user_id, s, s ? n : 0);
    const char *status = tenant__jstr(j, "status", NULL);
    out->active = !status || strcmp(status, "inactive") != 0;
    size_t tn = 0;
    const char *tok = tenant__jstr(j, "token", &tn);
    out->hashed = !tok || tn == 0;
    out->description = tenant__jdup(j, "description");
    out->created_at = tenant__jdup(j, "createdAt");
    out->updated_at = tenant__jdup(j, "updatedAt");
    if (!out->description || !out->created_at || !out->updated_at) {
        tsv_authorization_clear(out);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    /* Entries this server does not know (newer types) are skipped, not fatal. */
    if (tsv_perm_set_parse(tsv_json_get(j, "permissions"), 0, &out->perms, err) != 0) {
        tsv_authorization_clear(out);
        return -1;
    }
    return 0;
}

TENANT__DEFINE_GET(tsv_tenant_auth_get, tsv_authorization, auth_from_json, B_AUTHS, "authorization")

/* Does this KV keep tokens hashed only? Yes when the hashed index has
 * entries and the raw index has none (influxd 2.8+ with hashing on). */
static int kv_hashes_tokens(tsv_kv_txn *txn, int *out, tsv_error *err)
{
    *out = 0;
    static const char *const idx[2] = {B_AUTH_HASHED_INDEX, B_AUTH_INDEX};
    int nonempty[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        if (tenant__bucket_nonempty(txn, idx[i], &nonempty[i], err) != 0)
            return -1;
    *out = nonempty[0] && !nonempty[1];
    return 0;
}

/* Writes the record in influxd's field order: id, token | hashedToken,
 * status, description, orgID, userID (omitempty), permissions, createdAt,
 * updatedAt. */
static int write_auth(tsv_kv_txn *txn, const tsv_authorization *a, const char *token,
                      const char *hashed, tsv_error *err)
{
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "id", a->id);
    if (token) {
        tsv_jw_field_string(&w, "token", token);
    }
    if (hashed) {
        tsv_jw_field_string(&w, "hashedToken", hashed);
    }
    tsv_jw_field_string(&w, "status", a->active ? "active" : "inactive");
    tsv_jw_field_string(&w, "description", a->description ? a->description : "");
    tsv_jw_field_string(&w, "orgID", a->org_id);
    if (a->user_id[0]) {
        tsv_jw_field_string(&w, "userID", a->user_id);
    }
    tsv_jw_key(&w, "permissions");
    tsv_perm_set_write_json(&w, &a->perms);
    tsv_jw_field_string(&w, "createdAt", a->created_at);
    tsv_jw_field_string(&w, "updatedAt", a->updated_at);
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);
    if (rc == 0)
        rc = tenant__put_buf(txn, B_AUTHS, a->id, 16, buf.data, buf.len, err);
    OPENSSL_cleanse(buf.data, buf.len);
    tsv_buf_free(&buf);
    return rc;
}

int tsv_tenant_auth_create(tsv_kv_txn *txn, const char *org_id, const char *user_id,
                           const char *description, int active, const tsv_perm_set *perms,
                           char token_out[89], tsv_authorization *out, tsv_error *err)
{
    tsv_authorization a;
    memset(&a, 0, sizeof a);
    int hashed = 0;
    if (kv_hashes_tokens(txn, &hashed, err) != 0 || tenant__unique_id(txn, B_AUTHS, a.id, err) != 0)
        return -1;
    snprintf(a.org_id, sizeof a.org_id, "%s", org_id ? org_id : "");
    snprintf(a.user_id, sizeof a.user_id, "%s", user_id ? user_id : "");
    a.active = active;
    a.hashed = hashed;
    char now[40];
    tsv_tenant_now(now);
    a.description = strdup(description ? description : "");
    a.created_at = strdup(now);
    a.updated_at = strdup(now);
    if (!a.description || !a.created_at || !a.updated_at ||
        tsv_perm_set_copy(&a.perms, perms, err) != 0) {
        tsv_authorization_clear(&a);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    /* influxd tokens: 64 CSPRNG bytes, URL-safe base64 with padding. */
    unsigned char raw[64];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        tsv_authorization_clear(&a);
        return tsv_error_set(err, TSV_EINTERNAL, "no random bytes for a token");
    }
    char token[TOKEN_LEN + 1];
    base64url(raw, sizeof raw, token);
    OPENSSL_cleanse(raw, sizeof raw);
    char phc[128];
    int rc;
    if (hashed) {
        phc_hash(token, TOKEN_LEN, 0, phc, sizeof phc);
        rc = write_auth(txn, &a, NULL, phc, err);
        if (rc == 0)
            rc = tenant__put_buf(txn, B_AUTH_HASHED_INDEX, phc, strlen(phc), a.id, 16, err);
    } else {
        rc = write_auth(txn, &a, token, NULL, err);
        if (rc == 0)
            rc = tenant__put_buf(txn, B_AUTH_INDEX, token, TOKEN_LEN, a.id, 16, err);
    }
    if (rc == 0)
        memcpy(token_out, token, sizeof token);
    OPENSSL_cleanse(token, sizeof token);
    if (rc == 0 && out)
        *out = a;
    else
        tsv_authorization_clear(&a);
    return rc;
}

int tsv_tenant_auth_create_operator(tsv_kv_txn *txn, const char *user_id, const char *org_id,
                                    const char *description, char token_out[89],
                                    char auth_id_out[17], tsv_error *err)
{
    tsv_permission items[2 * 32];
    tsv_perm_set set = {.count = 0, .items = items};
    for (int i = 0; i < tsv_perm_operator_type_count; i++)
        for (int a = 0; a < 2; a++)
            tsv_perm_make(&items[set.count++], a ? TSV_ACTION_WRITE : TSV_ACTION_READ,
                          tsv_perm_operator_types[i], NULL, NULL);
    tsv_authorization out;
    if (tsv_tenant_auth_create(txn, org_id, user_id, description, 1, &set, token_out, &out, err) !=
        0)
        return -1;
    if (auth_id_out)
        memcpy(auth_id_out, out.id, 17);
    tsv_authorization_clear(&out);
    return 0;
}

/* Re-serialises the stored record with some members replaced, keeping every
 * other member (and its order) as it is. */
static int rewrite_record(tsv_kv_txn *txn, const char *id, const char *const *keys,
                          const char *const *values, int n, tsv_error *err)
{
    tsv_json_doc *doc;
    if (tenant__get_json(txn, B_AUTHS, id, 16, "authorization", &doc, err) != 0)
        return -1;
    const tsv_json *a = tsv_json_root(doc);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    for (size_t i = 0; a->type == TSV_JSON_OBJECT && i < a->count; i++) {
        /* Keys may hold NULs ("\u0000"): keep them whole, and do not let
         * "status\u0000x" pass for "status". */
        tsv_jw_key_n(&w, a->keys[i], a->key_lens[i]);
        int replaced = 0;
        for (int k = 0; k < n && !replaced; k++) {
            if (values[k] && a->key_lens[i] == strlen(keys[k]) &&
                memcmp(a->keys[i], keys[k], a->key_lens[i]) == 0) {
                tsv_jw_string(&w, values[k]);
                replaced = 1;
            }
        }
        if (!replaced)
            tsv_jw_node(&w, a->items[i]);
    }
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);
    tsv_json_free(doc);
    if (rc == 0)
        rc = tenant__put_buf(txn, B_AUTHS, id, 16, buf.data, buf.len, err);
    OPENSSL_cleanse(buf.data, buf.len);
    tsv_buf_free(&buf);
    return rc;
}

int tsv_tenant_auth_update(tsv_kv_txn *txn, const char *id, const char *status,
                           const char *description, tsv_authorization *out, tsv_error *err)
{
    if (status && strcmp(status, "active") != 0 && strcmp(status, "inactive") != 0)
        return tsv_error_set(err, TSV_EINVALID, "status must be active or inactive");
    tsv_authorization cur;
    if (tsv_tenant_auth_get(txn, id, &cur, err) != 0)
        return -1;
    tsv_authorization_clear(&cur);
    char now[40];
    tsv_tenant_now(now);
    static const char *const keys[] = {"status", "description", "updatedAt"};
    const char *values[] = {status, description, now};
    if (rewrite_record(txn, id, keys, values, 3, err) != 0)
        return -1;
    return out ? tsv_tenant_auth_get(txn, id, out, err) : 0;
}

int tsv_tenant_auth_delete(tsv_kv_txn *txn, const char *id, tsv_error *err)
{
    tsv_json_doc *doc;
    if (tenant__get_json(txn, B_AUTHS, id, strlen(id), "authorization", &doc, err) != 0)
        return -1;
    const tsv_json *a = tsv_json_root(doc);
    size_t tn = 0, hn = 0;
    const char *tok = tenant__jstr(a, "token", &tn);
    const char *hashed = tenant__jstr(a, "hashedToken", &hn);
    int rc = 0;
    if (tok && tn > 0 && tn <= TSV_KV_MAX_KEY)
        rc = tenant__del(txn, B_AUTH_INDEX, tok, tn, err);
    if (rc == 0 && hashed && hn > 0 && hn <= TSV_KV_MAX_KEY)
        rc = tenant__del(txn, B_AUTH_HASHED_INDEX, hashed, hn, err);
    if (rc == 0 && tok && tn > 0) {
        /* influxd may also index a raw token by its hash (migration 21). */
        for (int variant = 0; rc == 0 && variant < 2; variant++) {
            char phc[128];
            phc_hash(tok, tn, variant, phc, sizeof phc);
            rc = tenant__del(txn, B_AUTH_HASHED_INDEX, phc, strlen(phc), err);
        }
    }
    tsv_json_free(doc);
    if (rc == 0)
        rc = tenant__del(txn, B_AUTHS, id, strlen(id), err);
    return rc;
}

TENANT__DEFINE_FOREACH(tsv_tenant_auth_foreach, tsv_authorization, tsv_auth_visit_fn,
                       auth_from_json, tsv_authorization_clear, B_AUTHS, "authorization")

int tsv_tenant_auth_id_for_token(tsv_kv_txn *txn, const char *token, size_t len, char id[17],
                                 tsv_error *err)
{
    uint64_t idx;
    const uint8_t *v;
    size_t vlen;
    tsv_error e;
    if (len > 0 && len <= TSV_KV_MAX_KEY && tenant__bucket_of(txn, B_AUTH_INDEX, &idx, &e) == 0 &&
        tsv_kv_get(txn, idx, token, len, &v, &vlen, &e) == 0 && vlen == 16) {
        memcpy(id, v, 16);
        id[16] = '\0';
        return 0;
    }
    for (int variant = 0; len > 0 && variant < 2; variant++) {
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

/* The index led here; the record itself must hold this token (constant time). */
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
    int ok = 0;
    for (int variant = 0; variant < 2; variant++) {
        char phc[128];
        phc_hash(token, len, variant, phc, sizeof phc);
        if (strlen(phc) == n && CRYPTO_memcmp(phc, hashed, n) == 0)
            ok = 1;
    }
    return ok;
}

int tsv_tenant_token_lookup(tsv_kv_txn *txn, const char *token, size_t len, tsv_token_info *out,
                            tsv_error *err)
{
    memset(out, 0, sizeof *out);
    char id[17];
    if (tsv_tenant_auth_id_for_token(txn, token, len, id, err) != 0)
        return -1;
    tsv_json_doc *doc;
    if (tenant__get_json(txn, B_AUTHS, id, 16, "authorization", &doc, err) != 0)
        return -1;
    const tsv_json *j = tsv_json_root(doc);
    if (!token_matches(j, token, len)) {
        tsv_json_free(doc);
        return tsv_error_set(err, TSV_ENOTFOUND, "authorization not found");
    }
    tsv_authorization a;
    int rc = auth_from_json(j, &a, err);
    tsv_json_free(doc);
    if (rc != 0)
        return -1;
    out->active = a.active;
    memcpy(out->auth_id, a.id, 17);
    memcpy(out->org_id, a.org_id, 17);
    memcpy(out->user_id, a.user_id, 17);
    out->perms = a.perms; /* ownership moves to the info */
    a.perms.items = NULL;
    a.perms.count = 0;
    tsv_authorization_clear(&a);
    out->is_operator = tsv_perm_set_is_operator(&out->perms, 1, out->first_missing_permission,
                                                sizeof out->first_missing_permission);
    out->user_active = 1;
    if (out->user_id[0]) {
        tsv_user u;
        if (tsv_tenant_user_get(txn, out->user_id, &u, NULL) == 0) {
            out->user_active = u.active;
            tsv_user_clear(&u);
        }
    }
    return 0;
}

typedef struct find_oper_ctx {
    int found;
    char *token_out;
    size_t token_len;
} find_oper_ctx;

static int find_oper_visit(void *vctx, const tsv_json *j, tsv_error *err)
{
    (void)err;
    find_oper_ctx *c = vctx;
    const char *status = tenant__jstr(j, "status", NULL);
    if (status && strcmp(status, "inactive") == 0)
        return 0;
    tsv_perm_set set;
    if (tsv_perm_set_parse(tsv_json_get(j, "permissions"), 0, &set, NULL) != 0)
        return 0; /* an unreadable record cannot be the operator token */
    int oper = tsv_perm_set_is_operator(&set, 1, NULL, 0);
    tsv_perm_set_free(&set);
    if (!oper)
        return 0;
    size_t n = 0;
    const char *t = tenant__jstr(j, "token", &n);
    if (t && n < c->token_len) {
        memcpy(c->token_out, t, n);
        c->token_out[n] = '\0';
    }
    c->found = 1;
    return 1;
}

int tsv_tenant_find_operator(tsv_kv_txn *txn, int *found, char *token_out, size_t token_len,
                             tsv_error *err)
{
    if (token_len)
        token_out[0] = '\0';
    find_oper_ctx c = {.token_out = token_out, .token_len = token_len};
    /* A record that does not parse as JSON is skipped like influxd skips it. */
    int rc = tenant__foreach_record(txn, B_AUTHS, NULL, find_oper_visit, &c, err);
    *found = c.found;
    return rc;
}

int tsv_tenant_auth_set_token(tsv_kv_txn *txn, const char *auth_id, const char *old_token,
                              const char *new_token, tsv_error *err)
{
    size_t nlen = strlen(new_token);
    if (nlen == 0 || nlen > TSV_KV_MAX_KEY)
        return tsv_error_set(err, TSV_EINVALID, "token must be 1..%d bytes", TSV_KV_MAX_KEY);
    char existing[17];
    tsv_error e;
    if (tsv_tenant_auth_id_for_token(txn, new_token, nlen, existing, &e) == 0)
        return tsv_error_set(err, TSV_ECONFLICT, "token is already in use");
    static const char *const keys[] = {"token"};
    const char *values[] = {new_token};
    if (rewrite_record(txn, auth_id, keys, values, 1, err) != 0)
        return -1;
    if (tenant__del(txn, B_AUTH_INDEX, old_token, strlen(old_token), err) != 0)
        return -1;
    return tenant__put_buf(txn, B_AUTH_INDEX, new_token, nlen, auth_id, 16, err);
}

/* ---- passwords --------------------------------------------------------- */

int tsv_tenant_password_hash(const char *password, char *out, size_t outlen, tsv_error *err)
{
    /* influxd stores bcrypt hashes (cost 10); libxcrypt makes the same $2b$ form. */
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn("$2b$", 10, NULL, 0, salt, sizeof salt))
        return tsv_error_set(err, TSV_EINTERNAL, "cannot generate a password salt");
    /* struct crypt_data is ~32 KiB: keep it off the stack. */
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    const char *hash = crypt_r(password, salt, cd);
    int rc = 0;
    if (!hash || hash[0] == '*' || strlen(hash) >= outlen)
        rc = tsv_error_set(err, TSV_EINTERNAL, "cannot hash the password");
    else
        snprintf(out, outlen, "%s", hash);
    OPENSSL_cleanse(cd, sizeof *cd);
    free(cd);
    return rc;
}

int tsv_tenant_password_check(const char *hash, const char *password, tsv_error *err)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    const char *h = crypt_r(password, hash, cd);
    size_t n = strlen(hash);
    int ok = h && h[0] != '*' && strlen(h) == n && CRYPTO_memcmp(h, hash, n) == 0;
    OPENSSL_cleanse(cd, sizeof *cd);
    free(cd);
    return ok ? 0 : tsv_error_set(err, TSV_EFORBIDDEN, "your username or password is incorrect");
}
