/*
 * handlers_jobs: the Jobs API (/api/v2/jobs and the seed's /v1/jobs). HTTP
 * concerns only: body and query parameters, statuses; the jobs themselves
 * are in jobs/jobs.h.
 */
#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobs.h"
#include "router.h"
#include "store_users.h"

#define JOB_BODY_MAX (1024 * 1024)

void tsv_http_job_user(tsv_http_req *req, const tsv_caller *c, tsv_job_user *u)
{
    memset(u, 0, sizeof *u);
    snprintf(u->id, sizeof u->id, "%s", c->user_id);
    snprintf(u->org_id, sizeof u->org_id, "%s", c->org_id);
    tsv_error e;
    if (!c->user_id[0] ||
        tsv_store_user_name(req->server->store, c->user_id, u->name, sizeof u->name, &e) != 0)
        snprintf(u->name, sizeof u->name, "%s", c->user_id[0] ? "" : "operator");
}

int tsv_http_job_request(tsv_http_req *req, const tsv_caller *c, size_t max, tsv_buf *body,
                         tsv_job_user *u, tsv_error *err)
{
    if (tsv_http_read_body(req, body, max, err) != 0)
        return -1;
    tsv_http_job_user(req, c, u);
    return 0;
}

/* POST /jobs (create: 201) and PATCH or PUT /jobs/{jobId} (update: 200, and
 * 409 for a job that can no longer change): the body and the caller go to
 * the jobs layer as they are. */
static int job_write(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c, int update)
{
    tsv_error err;
    tsv_buf body = {0};
    tsv_job_user u;
    if (tsv_http_job_request(req, c, JOB_BODY_MAX, &body, &u, &err) != 0)
        return tsv_http_reply_error(req, &err);
    const char *text = body.data ? (const char *)body.data : "";
    tsv_buf out = {0};
    int rc = update ? tsv_jobs_update(req->server->jobs, tsv_route_param(p, "jobId"), text,
                                      body.len, &u, &out, &err)
                    : tsv_jobs_create(req->server->jobs, text, body.len, &u, &out, &err);
    tsv_buf_free(&body);
    if (rc != 0 && update && err.code == TSV_ECONFLICT) {
        tsv_buf_free(&out);
        return tsv_http_reply_error_status(req, 409, &err);
    }
    return tsv_http_reply_result(req, update ? 200 : 201, rc, &out, &err);
}

int tsv_handle_jobs_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    return job_write(req, p, c, 0);
}

/* Every value of a repeatable query parameter, each checked by valid(). */
static int multi(tsv_http_req *req, const char *name, int (*valid)(const char *), const char **out,
                 int *n, char (*store)[64], tsv_error *err)
{
    *n = 0;
    size_t qlen = strlen(req->query);
    for (int occ = 0;; occ++) {
        char v[256];
        int r = mg_get_var2(req->query, qlen, name, v, sizeof v, occ);
        if (r == -1)
            break;
        if (r < 0 || strlen(v) >= 64)
            return tsv_error_set(err, TSV_EINVALID, "%s: value too long", name);
        if (!valid(v))
            return tsv_error_set(err, TSV_EINVALID, "%s: invalid value \"%s\"", name, v);
        if (*n == TSV_JOBS_FILTER_MAX)
            return tsv_error_set(err, TSV_EINVALID, "%s: more than %d values", name,
                                 TSV_JOBS_FILTER_MAX);
        memcpy(store[*n], v, strlen(v) + 1); /* < 64, checked above */
        out[*n] = store[*n];
        (*n)++;
    }
    return 0;
}

static int uint_param(tsv_http_req *req, const char *name, uint64_t min, uint64_t max,
                      uint64_t *out, tsv_error *err)
{
    char v[64];
    int r = tsv_http_query(req, name, v, sizeof v);
    if (r == 0)
        return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (r < 0 || !v[0] || *end || errno || v[0] == '-' || v[0] == '+' || x < min || x > max)
        return tsv_error_set(
            err, TSV_EINVALID, "%s must be an integer from %llu to %llu, got \"%.40s\"", name,
            (unsigned long long)min, (unsigned long long)max, r < 0 ? "(too long)" : v);
    *out = x;
    return 0;
}

int tsv_handle_jobs_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_error err;
    tsv_jobs_query q;
    memset(&q, 0, sizeof q);
    static __thread char st_store[TSV_JOBS_FILTER_MAX][64], he_store[TSV_JOBS_FILTER_MAX][64],
        ty_store[TSV_JOBS_FILTER_MAX][64];
    char search[512] = "", sort_col[64] = "last_updated_date_time", order[16] = "DESC";
    q.limit = 100;
    int rc =
        multi(req, "executionStatus", tsv_jobs_status_valid, q.status, &q.n_status, st_store, &err);
    if (rc == 0)
        rc = multi(req, "healthStatus", tsv_jobs_health_valid, q.health, &q.n_health, he_store,
                   &err);
    if (rc == 0)
        rc = multi(req, "type", tsv_jobs_type_valid, q.type, &q.n_type, ty_store, &err);
    if (rc == 0)
        rc = uint_param(req, "paginationLimit", 1, 1000, &q.limit, &err);
    if (rc == 0)
        rc = uint_param(req, "paginationOffset", 0, UINT32_MAX, &q.offset, &err);
    if (rc == 0 && tsv_http_query(req, "searchString", search, sizeof search) < 0)
        rc = tsv_error_set(&err, TSV_EINVALID, "searchString: too long");
    int r;
    if (rc == 0 && (r = tsv_http_query(req, "sortColumn", sort_col, sizeof sort_col)) != 0 &&
        (r < 0 || !tsv_jobs_sort_column_valid(sort_col)))
        rc = tsv_error_set(&err, TSV_EINVALID, "sortColumn: invalid value \"%s\"",
                           r < 0 ? "(too long)" : sort_col);
    if (rc == 0 && (r = tsv_http_query(req, "sortOrder", order, sizeof order)) != 0 &&
        (r < 0 || (strcasecmp(order, "ASC") != 0 && strcasecmp(order, "DESC") != 0)))
        rc = tsv_error_set(&err, TSV_EINVALID, "sortOrder must be ASC or DESC, got \"%s\"",
                           r < 0 ? "(too long)" : order);
    if (rc != 0)
        return tsv_http_reply_error(req, &err);
    q.search = search[0] ? search : NULL;
    q.sort_column = sort_col;
    q.ascending = strcasecmp(order, "ASC") == 0;
    tsv_buf out = {0};
    rc = tsv_jobs_list(req->server->jobs, &q, &out, &err);
    return tsv_http_reply_result(req, 200, rc, &out, &err);
}

/* GET of one job's JSON ({jobId} of the path) through `get`. */
static int reply_job(tsv_http_req *req, const tsv_route_params *p,
                     int (*get)(tsv_jobs *, const char *, tsv_buf *, tsv_error *))
{
    tsv_error err;
    tsv_buf out = {0};
    int rc = get(req->server->jobs, tsv_route_param(p, "jobId"), &out, &err);
    return tsv_http_reply_result(req, 200, rc, &out, &err);
}

int tsv_handle_job_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    return reply_job(req, p, tsv_jobs_get);
}

int tsv_handle_job_update(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    return job_write(req, p, c, 1);
}

int tsv_handle_job_logs(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    return reply_job(req, p, tsv_jobs_logs);
}

int tsv_handle_job_metrics(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    return reply_job(req, p, tsv_jobs_metrics);
}
