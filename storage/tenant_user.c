/* tenant_user: InfluxDB's user records, passwords and user-resource
 * mappings in the KV tree (docs/storage.md, "Tenant records"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "json.h"
#include "tenant.h"
#include "tenant_internal.h"

void tsv_user_clear(tsv_user *u)
{
    if (!u)
        return;
    free(u->name);
    free(u->oauth_id);
    memset(u, 0, sizeof *u);
}

static int user_from_json(const tsv_json *j, tsv_user *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = 0;
    const char *id = tenant__jstr(j, "id", &n);
    if (!id || n != 16)
        return tsv_error_set(err, TSV_EINTERNAL, "user record without a valid id");
    memcpy(out->id, id, 16);
    out->name = tenant__jdup(j, "name");
    size_t on = 0;
    const char *oauth = tenant__jstr(j, "oauthID", &on);
    out->oauth_id = oauth && on ? strndup(oauth, on) : NULL;
    const char *status = tenant__jstr(j, "status", NULL);
    out->active = !status || strcmp(status, "inactive") != 0;
    if (!out->name || (oauth && on && !out->oauth_id)) {
        tsv_user_clear(out);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    return 0;
}

/* Stored shape (Go struct order): id, name, oauthID (omitempty), status. */
static int write_user(tsv_kv_txn *txn, const tsv_user *u, tsv_error *err)
{
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "id", u->id);
    tsv_jw_field_string(&w, "name", u->name);
    if (u->oauth_id && *u->oauth_id) {
        tsv_jw_field_string(&w, "oauthID", u->oauth_id);
    }
    tsv_jw_field_string(&w, "status", u->active ? "active" : "inactive");
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);
    if (rc == 0)
        rc = tenant__put_buf(txn, B_USERS, u->id, 16, buf.data, buf.len, err);
    if (rc == 0)
        rc = tenant__put_str(txn, B_USER_INDEX, u->name, u->id, err);
    tsv_buf_free(&buf);
    return rc;
}

static int check_user_name(tsv_kv_txn *txn, const char *name, const char *self_id, tsv_error *err)
{
    if (!name || !*name)
        return tsv_error_set(err, TSV_EEMPTY, "user name is empty");
    if (strlen(name) > TSV_KV_MAX_KEY)
        return tsv_error_set(err, TSV_EINVALID, "user name too long");
    tsv_user other;
    tsv_error e;
    if (tsv_tenant_user_by_name(txn, name, &other, &e) == 0) {
        int same = self_id && strcmp(other.id, self_id) == 0;
        tsv_user_clear(&other);
        if (!same)
            return tsv_error_set(err, TSV_ECONFLICT, "user with name %s already exists", name);
        return 0;
    }
    if (e.code != TSV_ENOTFOUND) {
        if (err)
            *err = e;
        return -1;
    }
    return 0;
}

int tsv_tenant_user_create(tsv_kv_txn *txn, const char *name, const char *password, char id_out[17],
                           tsv_error *err)
{
    if (check_user_name(txn, name, NULL, err) != 0)
        return -1;
    /* Checked before anything is written, so a short password leaves no user. */
    if (password && *password && strlen(password) < 8)
        return tsv_error_set(err, TSV_EINVALID, "passwords must be at least 8 characters long");
    tsv_user u = {.active = 1, .name = (char *)name};
    if (tenant__unique_id(txn, B_USERS, u.id, err) != 0 || write_user(txn, &u, err) != 0)
        return -1;
    if (password && *password && tsv_tenant_user_set_password(txn, u.id, password, err) != 0)
        return -1;
    memcpy(id_out, u.id, 17);
    return 0;
}

TENANT__DEFINE_GET(tsv_tenant_user_get, tsv_user, user_from_json, B_USERS, "user")

int tsv_tenant_user_by_name(tsv_kv_txn *txn, const char *name, tsv_user *out, tsv_error *err)
{
    uint64_t idx;
    const uint8_t *v;
    size_t vlen;
    tsv_error e;
    if (strlen(name) > TSV_KV_MAX_KEY)
        return tsv_error_set(err, TSV_ENOTFOUND, "user not found");
    if (tenant__bucket_of(txn, B_USER_INDEX, &idx, &e) != 0 ||
        tsv_kv_get(txn, idx, name, strlen(name), &v, &vlen, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return tsv_error_set(err, TSV_ENOTFOUND, "user not found");
        if (err)
            *err = e;
        return -1;
    }
    if (vlen != 16)
        return tsv_error_set(err, TSV_EINTERNAL, "corrupt user index entry");
    char id[17];
    memcpy(id, v, 16);
    id[16] = '\0';
    return tsv_tenant_user_get(txn, id, out, err);
}

int tsv_tenant_user_update(tsv_kv_txn *txn, const char *id, const char *name, const char *status,
                           tsv_user *out, tsv_error *err)
{
    if (status && strcmp(status, "active") != 0 && strcmp(status, "inactive") != 0)
        return tsv_error_set(err, TSV_EINVALID, "invalid user status provided");
    tsv_user u;
    if (tsv_tenant_user_get(txn, id, &u, err) != 0)
        return -1;
    int rc = 0;
    if (name && strcmp(name, u.name) != 0) {
        rc = check_user_name(txn, name, u.id, err);
        if (rc == 0)
            rc = tenant__del(txn, B_USER_INDEX, u.name, strlen(u.name), err);
        if (rc == 0)
            rc = tenant__set_str(&u.name, name, err);
    }
    if (rc == 0 && status)
        u.active = strcmp(status, "active") == 0;
    if (rc == 0)
        rc = write_user(txn, &u, err);
    if (rc == 0 && out)
        *out = u;
    else
        tsv_user_clear(&u);
    return rc;
}

typedef struct urm_collect {
    tsv_urm *items;
    size_t n, cap;
} urm_collect;

static int collect_urm(void *ctx, const tsv_urm *m, tsv_error *err)
{
    urm_collect *c = ctx;
    if (TSV_ARRAY_GROW(c->items, c->n, c->cap, err) != 0)
        return -1;
    c->items[c->n++] = *m;
    return 0;
}

int tsv_tenant_user_delete(tsv_kv_txn *txn, const char *id, tsv_error *err)
{
    tsv_user u;
    if (tsv_tenant_user_get(txn, id, &u, err) != 0)
        return -1;
    /* Mappings are collected first: no writes while a cursor is open. */
    urm_collect c = {0};
    int rc = tsv_tenant_urm_foreach(txn, NULL, u.id, collect_urm, &c, err);
    for (size_t i = 0; rc == 0 && i < c.n; i++)
        rc = tsv_tenant_urm_delete(txn, c.items[i].resource_id, c.items[i].user_id, err);
    free(c.items);
    if (rc == 0)
        rc = tenant__del(txn, B_USER_PASSWORDS, u.id, 16, err);
    if (rc == 0)
        rc = tenant__del(txn, B_USER_INDEX, u.name, strlen(u.name), err);
    if (rc == 0)
        rc = tenant__del(txn, B_USERS, u.id, 16, err);
    tsv_user_clear(&u);
    return rc;
}

int tsv_tenant_user_set_password(tsv_kv_txn *txn, const char *id, const char *password,
                                 tsv_error *err)
{
    if (!password || strlen(password) < 8)
        return tsv_error_set(err, TSV_EINVALID, "passwords must be at least 8 characters long");
    tsv_user u;
    tsv_error e;
    if (tsv_tenant_user_get(txn, id, &u, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return tsv_error_set(err, TSV_EFORBIDDEN, "your userID is incorrect");
        if (err)
            *err = e;
        return -1;
    }
    tsv_user_clear(&u);
    char hash[128];
    if (tsv_tenant_password_hash(password, hash, sizeof hash, err) != 0)
        return -1;
    return tenant__put_str(txn, B_USER_PASSWORDS, id, hash, err);
}

TENANT__DEFINE_FOREACH(tsv_tenant_user_foreach, tsv_user, tsv_user_visit_fn, user_from_json,
                       tsv_user_clear, B_USERS, "user")

/* ---- user-resource mappings -------------------------------------------- */

int tsv_tenant_urm_create(tsv_kv_txn *txn, const char *user_id, const char *user_type,
                          const char *resource_type, const char *resource_id, tsv_error *err)
{
    /* Key: resourceID + userID; by-user index: userID "/" key -> key. */
    char key[33];
    memcpy(key, resource_id, 16);
    memcpy(key + 16, user_id, 16);
    key[32] = '\0';
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "userID", user_id);
    tsv_jw_field_string(&w, "userType", user_type);
    tsv_jw_field_string(&w, "mappingType", "user");
    tsv_jw_field_string(&w, "resourceType", resource_type);
    tsv_jw_field_string(&w, "resourceID", resource_id);
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);
    if (rc == 0)
        rc = tenant__put_buf(txn, B_URM, key, 32, buf.data, buf.len, err);
    tsv_buf_free(&buf);
    if (rc == 0) {
        char ikey[50];
        snprintf(ikey, sizeof ikey, "%.16s/%s", user_id, key);
        rc = tenant__put_buf(txn, B_URM_BY_USER, ikey, strlen(ikey), key, 32, err);
    }
    return rc;
}

int tsv_tenant_urm_delete(tsv_kv_txn *txn, const char *resource_id, const char *user_id,
                          tsv_error *err)
{
    char key[33];
    memcpy(key, resource_id, 16);
    memcpy(key + 16, user_id, 16);
    key[32] = '\0';
    uint64_t b;
    const uint8_t *v;
    size_t vlen;
    tsv_error e;
    if (tenant__bucket_of(txn, B_URM, &b, &e) != 0 ||
        tsv_kv_get(txn, b, key, 32, &v, &vlen, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return tsv_error_set(err, TSV_ENOTFOUND, "user to resource mapping not found");
        if (err)
            *err = e;
        return -1;
    }
    char ikey[50];
    snprintf(ikey, sizeof ikey, "%.16s/%s", user_id, key);
    if (tenant__del(txn, B_URM, key, 32, err) != 0 ||
        tenant__del(txn, B_URM_BY_USER, ikey, strlen(ikey), err) != 0)
        return -1;
    return 0;
}

typedef struct urm_visit_ctx {
    const char *resource_id, *user_id;
    tsv_urm_visit_fn fn;
    void *ctx;
} urm_visit_ctx;

static int visit_urm_record(void *vctx, const tsv_json *j, tsv_error *err)
{
    urm_visit_ctx *c = vctx;
    tsv_urm m;
    memset(&m, 0, sizeof m);
    size_t un = 0, rn = 0, tn = 0, yn = 0;
    const char *uid = tenant__jstr(j, "userID", &un);
    const char *rid = tenant__jstr(j, "resourceID", &rn);
    const char *ut = tenant__jstr(j, "userType", &tn);
    const char *rt = tenant__jstr(j, "resourceType", &yn);
    if (!uid || un != 16 || !rid || rn != 16)
        return 0; /* not a mapping this server can use; kept as it is */
    memcpy(m.user_id, uid, 16);
    memcpy(m.resource_id, rid, 16);
    snprintf(m.user_type, sizeof m.user_type, "%.*s", ut ? (int)tn : 0, ut ? ut : "");
    snprintf(m.resource_type, sizeof m.resource_type, "%.*s", rt ? (int)yn : 0, rt ? rt : "");
    if (c->resource_id && strcmp(c->resource_id, m.resource_id) != 0)
        return 0;
    if (c->user_id && strcmp(c->user_id, m.user_id) != 0)
        return 0;
    return c->fn(c->ctx, &m, err);
}

int tsv_tenant_urm_foreach(tsv_kv_txn *txn, const char *resource_id, const char *user_id,
                           tsv_urm_visit_fn fn, void *ctx, tsv_error *err)
{
    urm_visit_ctx c = {.resource_id = resource_id, .user_id = user_id, .fn = fn, .ctx = ctx};
    return tenant__foreach_record(txn, B_URM, "user resource mapping", visit_urm_record, &c, err);
}
