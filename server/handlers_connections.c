/*
 * handlers_connections: the Connections API (/api/v2/connections and the
 * seed's /v1/connections). HTTP concerns only: bodies, names, statuses; the
 * connections themselves are in jobs/connections.h.
 */
#include <stdio.h>
#include <string.h>

#include "connections.h"
#include "jobs.h"
#include "router.h"
#include "store_users.h"

#define CONN_BODY_MAX (64 * 1024)

int tsv_handle_connections_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    tsv_error err;
    tsv_buf body = {0}, out = {0};
    tsv_job_user u;
    if (tsv_http_job_request(req, c, CONN_BODY_MAX, &body, &u, &err) != 0)
        return tsv_http_reply_error(req, &err);
    int rc = tsv_conns_create(req->server->conns, body.data ? (const char *)body.data : "",
                              body.len, &u, &out, &err);
    if (body.data)
        memset(body.data, 0, body.len); /* it held the secrets */
    tsv_buf_free(&body);
    return tsv_http_reply_result(req, 201, rc, &out, &err);
}

int tsv_handle_connections_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_error err;
    tsv_buf out = {0};
    int rc = tsv_conns_list(req->server->conns, &out, &err);
    return tsv_http_reply_result(req, 200, rc, &out, &err);
}

/* GET of one connection's JSON ({name} of the path) through `get`. */
static int reply_conn(tsv_http_req *req, const tsv_route_params *p,
                      int (*get)(tsv_conns *, const char *, tsv_buf *, tsv_error *))
{
    tsv_error err;
    tsv_buf out = {0};
    int rc = get(req->server->conns, tsv_route_param(p, "name"), &out, &err);
    return tsv_http_reply_result(req, 200, rc, &out, &err);
}

int tsv_handle_connection_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    return reply_conn(req, p, tsv_conns_get);
}

static int update(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c, int patch)
{
    tsv_error err;
    tsv_buf body = {0}, out = {0};
    tsv_job_user u;
    if (tsv_http_job_request(req, c, CONN_BODY_MAX, &body, &u, &err) != 0)
        return tsv_http_reply_error(req, &err);
    int rc =
        tsv_conns_update(req->server->conns, tsv_route_param(p, "name"),
                         body.data ? (const char *)body.data : "", body.len, patch, &u, &out, &err);
    if (body.data)
        memset(body.data, 0, body.len);
    tsv_buf_free(&body);
    return tsv_http_reply_result(req, 200, rc, &out, &err);
}

int tsv_handle_connection_put(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    return update(req, p, c, 0);
}

int tsv_handle_connection_patch(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    return update(req, p, c, 1);
}

int tsv_handle_connection_delete(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    tsv_error err;
    if (tsv_conns_delete(req->server->conns, tsv_route_param(p, "name"), &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_buf out = {0};
    tsv_buf_append(&out, "{}", 2, NULL);
    return tsv_http_reply_result(req, 200, 0, &out, &err);
}

int tsv_handle_connection_test(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    return reply_conn(req, p, tsv_conns_test);
}

int tsv_handle_connection_snapshots(tsv_http_req *req, const tsv_route_params *p,
                                    const tsv_caller *c)
{
    (void)c;
    return reply_conn(req, p, tsv_conns_snapshots);
}
