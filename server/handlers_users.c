/*
 * handlers_users: /api/v2/users, /api/v2/me, passwords, and the members
 * and owners of organizations, in InfluxDB's JSON shapes and with influxd's
 * permission checks (docs/api.md, "Users" and "Members and owners").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "json.h"
#include "router.h"
#include "store.h"
#include "tenant.h"

/* influxd's UserResponse: links first, then the user's stored fields. */
static void write_user(tsv_json_writer *w, const tsv_user *u, const char *role)
{
    tsv_jw_object_begin(w);
    if (role) {
        tsv_jw_field_string(w, "role", role);
    }
    tsv_jw_key(w, "links");
    tsv_jw_object_begin(w);
    tsv_jw_field_stringf(w, "self", "/api/v2/users/%s", u->id);
    tsv_jw_object_end(w);
    tsv_jw_field_string(w, "id", u->id);
    tsv_jw_field_string(w, "name", u->name);
    if (u->oauth_id) {
        tsv_jw_field_string(w, "oauthID", u->oauth_id);
    }
    tsv_jw_field_string(w, "status", u->active ? "active" : "inactive");
    tsv_jw_object_end(w);
}

/* The end of a handler that fetched a user: rc 0 replies *u with status and
 * clears it, else replies *err (*u untouched). */
static int reply_user(tsv_http_req *req, int status, int rc, tsv_user *u, const char *role,
                      const tsv_error *err)
{
    if (rc != 0)
        return tsv_http_reply_error(req, err);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    write_user(&w, u, role);
    rc = tsv_http_reply_jw(req, status, &w, &buf);
    tsv_user_clear(u);
    return rc;
}

static int parse_id(const char *s, char out[17], tsv_error *err)
{
    uint64_t v;
    if (tsv_id_parse(s, &v, err) != 0)
        return -1;
    tsv_id_format(v, out);
    return 0;
}

static const char *body_str(const tsv_json *body, const char *key, int *bad)
{
    const tsv_json *v = tsv_json_get(body, key);
    if (!v || v->type == TSV_JSON_NULL)
        return NULL;
    if (v->type != TSV_JSON_STRING) {
        *bad = 1;
        return NULL;
    }
    return v->str;
}

/* Reads a user body: its "name", "status" and (password not NULL)
 * "password", each NULL when absent or null. The caller frees *doc, also on
 * failure (NULL when the body was not read). */
static int read_user_body(tsv_http_req *req, tsv_json_doc **doc, const char **name,
                          const char **status, const char **password, tsv_error *err)
{
    *doc = NULL;
    if (tsv_http_read_json(req, doc, err) != 0)
        return -1;
    int bad = 0;
    const tsv_json *body = tsv_json_root(*doc);
    *name = body_str(body, "name", &bad);
    *status = body_str(body, "status", &bad);
    if (password)
        *password = body_str(body, "password", &bad);
    if (bad)
        return tsv_error_set(err, TSV_EINVALID, "failed to unmarshal json: wrong member type");
    return 0;
}

/* ---- users ------------------------------------------------------------- */

typedef struct users_ctx {
    tsv_json_writer *w;
    const tsv_caller *caller;
    const char *id, *name;
} users_ctx;

static int users_visit(void *vctx, const tsv_user *u, tsv_error *err)
{
    (void)err;
    users_ctx *c = vctx;
    if ((c->id && strcmp(c->id, u->id) != 0) || (c->name && strcmp(c->name, u->name) != 0))
        return 0;
    if (!tsv_auth_allows(c->caller, TSV_ACTION_READ, "users", NULL, u->id))
        return 0; /* a token lists only the users it may read */
    write_user(c->w, u, NULL);
    return 0;
}

int tsv_handle_users_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    tsv_error err;
    char id[64], name[512], id_hex[17];
    int has_id = tsv_http_query(req, "id", id, sizeof id);
    int has_name = tsv_http_query(req, "name", name, sizeof name);
    if (has_id < 0 || has_name < 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "query parameter too long");
    users_ctx ctx = {.caller = c};
    if (has_id > 0 && *id) {
        if (parse_id(id, id_hex, &err) != 0)
            return tsv_http_reply_error(req, &err);
        ctx.id = id_hex;
    }
    if (has_name > 0 && *name)
        ctx.name = name;
    /* influxd answers a filter that finds nobody with 404. */
    if (ctx.id || ctx.name) {
        tsv_user u;
        int rc = ctx.id ? tsv_store_user_get(req->server->store, ctx.id, &u, &err)
                        : tsv_store_user_by_name(req->server->store, ctx.name, &u, &err);
        if (rc != 0)
            return tsv_http_reply_error(req, &err);
        tsv_user_clear(&u);
    }
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_http_list_begin(&w, &buf, "/api/v2/users", "users");
    ctx.w = &w;
    int rc = tsv_store_users_list(req->server->store, users_visit, &ctx, &err);
    return tsv_http_list_end(req, rc, &w, &buf, &err);
}

int tsv_handle_users_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    tsv_error err;
    if (tsv_auth_require(c, TSV_ACTION_WRITE, "users", NULL, NULL, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_json_doc *doc;
    const char *name, *status, *password;
    tsv_user u;
    int rc = read_user_body(req, &doc, &name, &status, &password, &err);
    if (rc == 0)
        rc = tsv_store_user_create(req->server->store, name ? name : "", password,
                                   status && *status ? status : NULL, &u, &err);
    tsv_json_free(doc);
    return reply_user(req, 201, rc, &u, NULL, &err);
}

/* {userID} of the path; `action` on that user is required. */
static int path_user(const tsv_route_params *p, const tsv_caller *c, tsv_action action, char id[17],
                     tsv_error *err)
{
    if (parse_id(tsv_route_param(p, "userID"), id, err) != 0)
        return -1;
    return tsv_auth_require(c, action, "users", NULL, id, err);
}

int tsv_handle_user_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    tsv_user u;
    int rc = path_user(p, c, TSV_ACTION_READ, id, &err);
    if (rc == 0)
        rc = tsv_store_user_get(req->server->store, id, &u, &err);
    return reply_user(req, 200, rc, &u, NULL, &err);
}

int tsv_handle_user_patch(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    if (path_user(p, c, TSV_ACTION_WRITE, id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_json_doc *doc;
    const char *name, *status;
    tsv_user u;
    int rc = read_user_body(req, &doc, &name, &status, NULL, &err);
    if (rc == 0 && name && !*name)
        rc = tsv_error_set(&err, TSV_EINVALID, "user name is empty");
    else if (rc == 0)
        rc = tsv_store_user_update(req->server->store, id, name, status, &u, &err);
    tsv_json_free(doc);
    return reply_user(req, 200, rc, &u, NULL, &err);
}

int tsv_handle_user_delete(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    if (path_user(p, c, TSV_ACTION_WRITE, id, &err) != 0 ||
        tsv_store_user_delete(req->server->store, id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return tsv_http_reply_empty(req, 204);
}

static int set_password(tsv_http_req *req, const char *id)
{
    tsv_error err;
    tsv_json_doc *doc;
    if (tsv_http_read_json(req, &doc, &err) != 0)
        return tsv_http_reply_error(req, &err);
    int bad = 0;
    const char *password = body_str(tsv_json_root(doc), "password", &bad);
    int rc;
    if (bad)
        rc = tsv_error_set(&err, TSV_EINVALID, "failed to unmarshal json: wrong member type");
    else
        rc = tsv_store_user_set_password(req->server->store, id, password ? password : "", &err);
    tsv_json_free(doc);
    if (rc != 0)
        return tsv_http_reply_error(req, &err);
    return tsv_http_reply_empty(req, 204);
}

int tsv_handle_user_password(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    if (path_user(p, c, TSV_ACTION_WRITE, id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return set_password(req, id);
}

int tsv_handle_me_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    tsv_error err;
    tsv_user u;
    if (!c->user_id[0])
        return tsv_http_reply_error_code(req, TSV_ENOTFOUND, "user not found");
    int rc = tsv_auth_require(c, TSV_ACTION_READ, "users", NULL, c->user_id, &err);
    if (rc == 0)
        rc = tsv_store_user_get(req->server->store, c->user_id, &u, &err);
    return reply_user(req, 200, rc, &u, NULL, &err);
}

int tsv_handle_me_password(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    tsv_error err;
    if (!c->user_id[0])
        return tsv_http_reply_error_code(req, TSV_ENOTFOUND, "user not found");
    if (tsv_auth_require(c, TSV_ACTION_WRITE, "users", NULL, c->user_id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return set_password(req, c->user_id);
}

/* ---- members and owners of an organization ----------------------------- */

/* {orgID}: must exist; influxd asks `action` on orgs/<org>/orgs/<org>. */
static int path_org(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c,
                    tsv_action action, char id[17], tsv_error *err)
{
    if (parse_id(tsv_route_param(p, "orgID"), id, err) != 0)
        return -1;
    tsv_org o;
    if (tsv_store_org_get(req->server->store, id, &o, err) != 0)
        return -1;
    tsv_org_clear(&o);
    return tsv_auth_require(c, action, "orgs", id, id, err);
}

typedef struct members_ctx {
    tsv_json_writer *w;
} members_ctx;

static int members_visit(void *vctx, const tsv_urm *m, const tsv_user *u, tsv_error *err)
{
    (void)err;
    members_ctx *c = vctx;
    write_user(c->w, u, m->user_type);
    return 0;
}

static int members_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c,
                       const char *user_type, const char *what)
{
    tsv_error err;
    char id[17];
    if (path_org(req, p, c, TSV_ACTION_READ, id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_buf buf = {0};
    tsv_json_writer w;
    char link[96];
    snprintf(link, sizeof link, "/api/v2/orgs/%s/%s", id, what);
    tsv_http_list_begin(&w, &buf, link, "users");
    members_ctx ctx = {.w = &w};
    int rc = tsv_store_members_list(req->server->store, id, user_type, members_visit, &ctx, &err);
    return tsv_http_list_end(req, rc, &w, &buf, &err);
}

static int members_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c,
                        const char *user_type)
{
    tsv_error err;
    char id[17], uid[17];
    if (path_org(req, p, c, TSV_ACTION_WRITE, id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_json_doc *doc;
    if (tsv_http_read_json(req, &doc, &err) != 0)
        return tsv_http_reply_error(req, &err);
    int bad = 0;
    const char *user = body_str(tsv_json_root(doc), "id", &bad);
    int rc = 0;
    if (bad || !user || !*user)
        rc = tsv_error_set(&err, TSV_EINVALID, "user id missing or invalid");
    else if (parse_id(user, uid, &err) != 0)
        rc = -1;
    tsv_json_free(doc);
    tsv_user u;
    if (rc == 0)
        rc = tsv_store_member_add(req->server->store, "orgs", id, uid, user_type, &u, &err);
    return reply_user(req, 201, rc, &u, user_type, &err);
}

static int members_delete(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17], uid[17];
    if (path_org(req, p, c, TSV_ACTION_WRITE, id, &err) != 0 ||
        parse_id(tsv_route_param(p, "userID"), uid, &err) != 0 ||
        tsv_store_member_remove(req->server->store, id, uid, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return tsv_http_reply_empty(req, 204);
}

int tsv_handle_org_members_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    return members_get(req, p, c, "member", "members");
}

int tsv_handle_org_owners_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    return members_get(req, p, c, "owner", "owners");
}

int tsv_handle_org_members_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    return members_post(req, p, c, "member");
}

int tsv_handle_org_owners_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    return members_post(req, p, c, "owner");
}

int tsv_handle_org_member_delete(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    return members_delete(req, p, c);
}
