/*
 * handlers_authorizations: /api/v2/authorizations in InfluxDB's JSON shapes
 * and with influxd's permission checks (docs/api.md, "Authorizations").
 * The raw token appears only in the reply that created it; lists and reads
 * answer "token": "".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "json.h"
#include "router.h"
#include "store.h"
#include "tenant.h"

/* influxd's permission reply: the stored resource plus "name" and "org". */
static void write_perms(tsv_json_writer *w, const tsv_authorization *a, const tsv_auth_names *n)
{
    tsv_perm_set_write_json_named(w, &a->perms, n->perm_name, n->perm_org);
}

static void write_auth(tsv_json_writer *w, const tsv_authorization *a, const tsv_auth_names *n,
                       const char *token)
{
    const char *org_name = n->org, *user_name = n->user;
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "id", a->id);
    tsv_jw_field_string(w, "token", token ? token : "");
    tsv_jw_field_string(w, "status", a->active ? "active" : "inactive");
    tsv_jw_field_string(w, "description", a->description ? a->description : "");
    tsv_jw_field_string(w, "orgID", a->org_id);
    tsv_jw_field_string(w, "org", org_name ? org_name : "");
    tsv_jw_field_string(w, "userID", a->user_id);
    tsv_jw_field_string(w, "user", user_name ? user_name : "");
    tsv_jw_key(w, "permissions");
    write_perms(w, a, n);
    tsv_jw_key(w, "links");
    tsv_jw_object_begin(w);
    tsv_jw_field_stringf(w, "self", "/api/v2/authorizations/%s", a->id);
    tsv_jw_field_stringf(w, "user", "/api/v2/users/%s", a->user_id);
    tsv_jw_object_end(w);
    tsv_jw_field_string(w, "createdAt", a->created_at);
    tsv_jw_field_string(w, "updatedAt", a->updated_at);
    tsv_jw_object_end(w);
}

/* influxd's checks to see an authorization: read on it (within its org)
 * and read on its user. */
static int require_auth_access(const tsv_caller *c, tsv_action action, const tsv_authorization *a,
                               tsv_error *err)
{
    if (tsv_auth_require(c, action, "authorizations", a->org_id, a->id, err) != 0)
        return -1;
    if (a->user_id[0] && tsv_auth_require(c, action, "users", NULL, a->user_id, err) != 0)
        return -1;
    return 0;
}

static int parse_id_param(const char *s, char out[17], tsv_error *err)
{
    uint64_t v;
    if (tsv_id_parse(s, &v, err) != 0)
        return -1;
    tsv_id_format(v, out);
    return 0;
}

static int org_id_visit(void *ctx, const tsv_org *o, tsv_error *err)
{
    (void)err;
    memcpy(ctx, o->id, 17);
    return 0;
}

typedef struct created_ctx {
    tsv_json_writer w;
    tsv_buf buf;
    const char *token;
} created_ctx;

static int write_created(void *vctx, const tsv_authorization *a, const tsv_auth_names *n,
                         tsv_error *err)
{
    (void)err;
    created_ctx *c = vctx;
    write_auth(&c->w, a, n, c->token);
    return 0;
}

typedef struct list_ctx {
    tsv_json_writer *w;
    const tsv_caller *caller;
    const char *user_id, *org_id, *id;
} list_ctx;

static int list_visit(void *vctx, const tsv_authorization *a, const tsv_auth_names *n,
                      tsv_error *err)
{
    (void)err;
    list_ctx *c = vctx;
    if ((c->user_id && strcmp(c->user_id, a->user_id) != 0) ||
        (c->org_id && strcmp(c->org_id, a->org_id) != 0) || (c->id && strcmp(c->id, a->id) != 0))
        return 0;
    if (!tsv_auth_allows(c->caller, TSV_ACTION_READ, "authorizations", a->org_id, a->id) ||
        (a->user_id[0] && !tsv_auth_allows(c->caller, TSV_ACTION_READ, "users", NULL, a->user_id)))
        return 0; /* a token lists only what it may read */
    if (!n->org || !n->user)
        return 0; /* influxd skips authorizations whose org or user is gone */
    write_auth(c->w, a, n, NULL);
    return 0;
}

int tsv_handle_auths_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    tsv_error err;
    char user[512], user_id[64], org[512], org_id[64], id[64], token[600];
    int has_user = tsv_http_query(req, "user", user, sizeof user);
    int has_uid = tsv_http_query(req, "userID", user_id, sizeof user_id);
    int has_org = tsv_http_query(req, "org", org, sizeof org);
    int has_oid = tsv_http_query(req, "orgID", org_id, sizeof org_id);
    int has_id = tsv_http_query(req, "id", id, sizeof id);
    int has_token = tsv_http_query(req, "token", token, sizeof token);
    if (has_user < 0 || has_uid < 0 || has_org < 0 || has_oid < 0 || has_id < 0 || has_token < 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "query parameter too long");
    list_ctx ctx = {.caller = c};
    char uid_hex[17], oid_hex[17], id_hex[17];
    if (has_uid > 0 && *user_id) {
        if (parse_id_param(user_id, uid_hex, &err) != 0)
            return tsv_http_reply_error(req, &err);
        ctx.user_id = uid_hex;
    }
    if (has_oid > 0 && *org_id) {
        if (parse_id_param(org_id, oid_hex, &err) != 0)
            return tsv_http_reply_error(req, &err);
        ctx.org_id = oid_hex;
    }
    if (has_id > 0 && *id) {
        if (parse_id_param(id, id_hex, &err) != 0)
            return tsv_http_reply_error(req, &err);
        ctx.id = id_hex;
    }
    /* Names resolve to IDs first, as influxd does (404 when unknown). */
    if (!ctx.user_id && has_user > 0 && *user) {
        tsv_user u;
        if (tsv_store_user_by_name(req->server->store, user, &u, &err) != 0)
            return tsv_http_reply_error(req, &err);
        memcpy(uid_hex, u.id, sizeof uid_hex);
        tsv_user_clear(&u);
        ctx.user_id = uid_hex;
    }
    if (!ctx.org_id && has_org > 0 && *org) {
        oid_hex[0] = '\0';
        if (tsv_store_orgs_list(req->server->store, org, org_id_visit, oid_hex, &err) != 0)
            return tsv_http_reply_error(req, &err);
        if (!oid_hex[0])
            return tsv_http_reply_error_code(req, TSV_ENOTFOUND,
                                             "organization name \"%s\" not found", org);
        ctx.org_id = oid_hex;
    }
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_http_list_begin(&w, &buf, "/api/v2/authorizations", "authorizations");
    ctx.w = &w;
    int rc;
    if (has_token > 0 && *token) {
        rc = tsv_store_auth_find(req->server->store, NULL, token, strlen(token), list_visit, &ctx,
                                 &err);
        if (rc != 0 && err.code == TSV_ENOTFOUND)
            rc = 0; /* no such token: an empty list, and nothing said about it */
    } else {
        rc = tsv_store_auths_list(req->server->store, list_visit, &ctx, &err);
    }
    memset(token, 0, sizeof token);
    return tsv_http_list_end(req, rc, &w, &buf, &err);
}

int tsv_handle_auths_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    tsv_error err;
    tsv_json_doc *doc;
    if (tsv_http_read_json(req, &doc, &err) != 0) {
        tsv_error_wrap(&err, "invalid json structure");
        return tsv_http_reply_error(req, &err);
    }
    const tsv_json *body = tsv_json_root(doc);
    tsv_perm_set perms = {0};
    char org_id[17] = "", user_id[17] = "";
    const char *desc = NULL, *status = "active";
    int rc = 0;
    const tsv_json *v;
    /* Checked in influxd's order: permissions, org ID, status. */
    const tsv_json *pa = tsv_json_get(body, "permissions");
    if (pa && pa->type != TSV_JSON_ARRAY && pa->type != TSV_JSON_NULL)
        rc =
            tsv_error_set(&err, TSV_EINVALID, "invalid json structure: permissions must be a list");
    if (rc == 0 && (!pa || pa->type != TSV_JSON_ARRAY || pa->count == 0))
        rc = tsv_error_set(&err, TSV_EINVALID, "authorization must include permissions");
    if (rc == 0)
        rc = tsv_perm_set_parse(pa, 1, &perms, &err);
    if (rc == 0) {
        v = tsv_json_get(body, "orgID");
        if (!v || v->type != TSV_JSON_STRING || v->len == 0)
            rc = tsv_error_set(&err, TSV_EINVALID, "org id required: invalid ID");
        else if (parse_id_param(v->str, org_id, &err) != 0)
            rc = tsv_error_wrap(&err, "invalid json structure");
    }
    if (rc == 0 && (v = tsv_json_get(body, "userID")) && v->type != TSV_JSON_NULL) {
        if (v->type != TSV_JSON_STRING || parse_id_param(v->str, user_id, &err) != 0)
            rc = tsv_error_wrap(&err, "invalid json structure");
    }
    if (rc == 0 && (v = tsv_json_get(body, "description")) && v->type == TSV_JSON_STRING)
        desc = v->str;
    if (rc == 0 && (v = tsv_json_get(body, "status")) && v->type == TSV_JSON_STRING && v->len) {
        status = v->str;
        if (strcmp(status, "active") != 0 && strcmp(status, "inactive") != 0)
            rc = tsv_error_set(&err, TSV_EINVALID, "status must be active or inactive");
    }
    /* The token's user: the body's userID, else the caller's own user. */
    if (rc == 0 && !user_id[0]) {
        if (!c->user_id[0])
            rc = tsv_error_set(&err, TSV_EINVALID, "unable to create token");
        else
            memcpy(user_id, c->user_id, sizeof user_id);
    }
    /* influxd's authorizer: create in the org, write the user, and hold
     * every permission handed out. */
    if (rc == 0)
        rc = tsv_auth_require(c, TSV_ACTION_WRITE, "authorizations", org_id, NULL, &err);
    if (rc == 0)
        rc = tsv_auth_require(c, TSV_ACTION_WRITE, "users", NULL, user_id, &err);
    if (rc == 0)
        rc = tsv_auth_require_all(c, &perms, &err);
    for (size_t i = 0; rc == 0 && i < perms.count; i++) {
        if (perms.items[i].org_id[0] && strcmp(perms.items[i].org_id, org_id) != 0) {
            char text[128];
            tsv_perm_format(&perms.items[i], text, sizeof text);
            rc = tsv_error_set(&err, TSV_EINVALID, "permission %s is not for org id %s", text,
                               org_id);
        }
    }
    char token[89] = "", id[17] = "";
    if (rc == 0)
        rc = tsv_store_auth_create(req->server->store, org_id, user_id, desc ? desc : "",
                                   strcmp(status, "active") == 0, &perms, token, id, &err);
    tsv_perm_set_free(&perms);
    tsv_json_free(doc);
    if (rc != 0)
        return tsv_http_reply_error(req, &err);
    /* Read back in its stored form, with org and user names. */
    created_ctx cr = {.buf = {0}, .token = token};
    tsv_jw_init(&cr.w, &cr.buf, NULL);
    rc = tsv_store_auth_find(req->server->store, id, NULL, 0, write_created, &cr, &err);
    memset(token, 0, sizeof token);
    if (rc != 0) {
        tsv_buf_free(&cr.buf);
        return tsv_http_reply_error(req, &err);
    }
    /* The reply holds the token: wipe it from memory once sent. */
    tsv_error ferr;
    if (tsv_jw_finish(&cr.w, &ferr) != 0) {
        tsv_buf_free(&cr.buf);
        return tsv_http_reply_error(req, &ferr);
    }
    rc = tsv_http_reply_json(req, 201, &cr.buf);
    memset(cr.buf.data, 0, cr.buf.len);
    tsv_buf_free(&cr.buf);
    return rc;
}

/* Loads {authID} and checks `action` on it as influxd does. */
static int load_path_auth(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c,
                          tsv_action action, char id[17], tsv_error *err)
{
    if (parse_id_param(tsv_route_param(p, "authID"), id, err) != 0)
        return -1;
    tsv_authorization a;
    if (tsv_store_auth_get(req->server->store, id, &a, err) != 0)
        return -1;
    int rc = require_auth_access(c, TSV_ACTION_READ, &a, err);
    if (rc == 0 && action == TSV_ACTION_WRITE)
        rc = require_auth_access(c, TSV_ACTION_WRITE, &a, err);
    tsv_authorization_clear(&a);
    return rc;
}

static int reply_auth(tsv_http_req *req, const char *id, int status)
{
    tsv_error err;
    created_ctx cr = {.buf = {0}, .token = NULL};
    tsv_jw_init(&cr.w, &cr.buf, NULL);
    if (tsv_store_auth_find(req->server->store, id, NULL, 0, write_created, &cr, &err) != 0) {
        tsv_buf_free(&cr.buf);
        return tsv_http_reply_error(req, &err);
    }
    return tsv_http_reply_jw(req, status, &cr.w, &cr.buf);
}

int tsv_handle_auth_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    if (load_path_auth(req, p, c, TSV_ACTION_READ, id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return reply_auth(req, id, 200);
}

int tsv_handle_auth_patch(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    tsv_json_doc *doc;
    if (tsv_http_read_json(req, &doc, &err) != 0)
        return tsv_http_reply_error(req, &err);
    const tsv_json *body = tsv_json_root(doc);
    const tsv_json *st = tsv_json_get(body, "status");
    const tsv_json *de = tsv_json_get(body, "description");
    int rc = 0;
    if ((st && st->type != TSV_JSON_STRING && st->type != TSV_JSON_NULL) ||
        (de && de->type != TSV_JSON_STRING && de->type != TSV_JSON_NULL))
        rc = tsv_error_set(&err, TSV_EINVALID, "invalid json structure");
    if (rc == 0)
        rc = load_path_auth(req, p, c, TSV_ACTION_WRITE, id, &err);
    if (rc == 0)
        rc = tsv_store_auth_update(req->server->store, id,
                                   st && st->type == TSV_JSON_STRING ? st->str : NULL,
                                   de && de->type == TSV_JSON_STRING ? de->str : NULL, &err);
    tsv_json_free(doc);
    if (rc != 0)
        return tsv_http_reply_error(req, &err);
    return reply_auth(req, id, 200);
}

int tsv_handle_auth_delete(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    if (load_path_auth(req, p, c, TSV_ACTION_WRITE, id, &err) != 0 ||
        tsv_store_auth_delete(req->server->store, id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return tsv_http_reply_empty(req, 204);
}
