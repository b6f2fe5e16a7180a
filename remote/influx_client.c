/* influx_client: libcurl client for tsvault's HTTP API (influx_client.h). */
#include "influx_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_common.h"
#include "json.h"

struct tsv_influx_client {
    http_common__endpoint ep;
    struct curl_slist *headers; /* ep.auth */
    http_common__tls tls;
};

int tsv_influx_client_new(tsv_influx_client **out, const char *base_url, const char *token,
                          tsv_error *err)
{
    *out = NULL;
    tsv_influx_client *c = calloc(1, sizeof *c);
    if (!c)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (http_common__endpoint_init(&c->ep, base_url, 0, token, err) != 0 ||
        !(c->headers = curl_slist_append(NULL, c->ep.auth))) {
        tsv_influx_client_free(c);
        return tsv_error_set(err, TSV_EINTERNAL, "cannot initialise libcurl");
    }
    *out = c;
    return 0;
}

void tsv_influx_client_free(tsv_influx_client *c)
{
    if (!c)
        return;
    curl_slist_free_all(c->headers);
    http_common__endpoint_clear(&c->ep);
    http_common__tls_clear(&c->tls);
    free(c);
}

int tsv_influx_client_set_tls(tsv_influx_client *c, const char *ca_file, int skip_verify,
                              tsv_error *err)
{
    return http_common__tls_set(&c->tls, ca_file, skip_verify, err);
}

/* One request; method "GET" or "POST" (empty body). */
static int request(tsv_influx_client *c, const char *method, const char *path_query, tsv_writer *w,
                   tsv_buf *collect, tsv_error *err)
{
    char *url = http_common__endpoint_url(&c->ep, path_query);
    if (!url)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    tsv_writer *bw = NULL;
    if (collect) {
        bw = tsv_buf_writer_new(collect);
        if (!bw) {
            free(url);
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        }
        w = bw;
    }
    CURL *curl = c->ep.curl;
    http_common__reply s = {.body = w};
    curl_easy_reset(curl);
    http_common__endpoint_setup(&c->ep, url, c->headers, &s);
    /* curl_easy_reset restored libcurl's defaults: verify peer and host. */
    http_common__tls_apply(&c->tls, curl);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
    }
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    int rc = 0;
    if (s.write_failed) {
        if (err)
            *err = s.werr;
        rc = -1;
    } else if (cc != CURLE_OK) {
        /* Not reaching the server at all is TSV_EUNAVAILABLE (exit code 3 of the CLI). */
        rc = tsv_error_set(err, http_common__unreachable(cc) ? TSV_EUNAVAILABLE : TSV_EINTERNAL,
                           "%s %s: transfer failed or incomplete: %s", method, url,
                           curl_easy_strerror(cc));
    } else if (status < 200 || status >= 300) {
        rc = http_common__status_error(status, &s.errbody, err);
    }
    tsv_buf_free(&s.errbody);
    tsv_writer_free(bw);
    free(url);
    return rc;
}

int tsv_influx_client_export(tsv_influx_client *c, const tsv_remote_export_request *r,
                             tsv_writer *w, tsv_error *err)
{
    tsv_buf q = {0};
    int rc = tsv_buf_append(&q, "/api/v2/export", 14, err);
    tsv_buf params = {0};
    if (rc == 0)
        rc = http_common__param(c->ep.curl, &params, "bucketID", r->bucket_id, err) ||
             http_common__param(c->ep.curl, &params, "org", r->org, err) ||
             http_common__param(c->ep.curl, &params, "bucket", r->bucket, err) ||
             http_common__param(c->ep.curl, &params, "rp", r->rp, err) ||
             http_common__param(c->ep.curl, &params, "db", r->database, err) ||
             http_common__param(c->ep.curl, &params, "start", r->start, err) ||
             http_common__param(c->ep.curl, &params, "stop", r->stop, err);
    for (size_t i = 0; rc == 0 && i < r->n_measurements; i++)
        rc = http_common__param(c->ep.curl, &params, "measurement", r->measurements[i], err);
    if (rc == 0 && params.len)
        rc = tsv_buf_append(&q, params.data, params.len, err);
    if (rc == 0)
        rc = tsv_buf_append(&q, "", 1, err);
    if (rc == 0)
        rc = request(c, "GET", (const char *)q.data, w, NULL, err);
    tsv_buf_free(&q);
    tsv_buf_free(&params);
    return rc ? -1 : 0;
}

int tsv_influx_client_bucket_stats(tsv_influx_client *c, const char *bucket_id, const char *org,
                                   const char *bucket, tsv_buf *out, tsv_error *err)
{
    char id[17];
    if (!bucket_id) {
        tsv_buf q = {0}, params = {0}, body = {0};
        int rc = http_common__param(c->ep.curl, &params, "org", org, err) ||
                 http_common__param(c->ep.curl, &params, "name", bucket, err) ||
                 tsv_buf_append(&q, "/api/v2/buckets", 15, err) ||
                 tsv_buf_append(&q, params.data, params.len, err) || tsv_buf_append(&q, "", 1, err);
        tsv_buf_free(&params);
        if (rc == 0)
            rc = request(c, "GET", (const char *)q.data, NULL, &body, err);
        tsv_json_doc *doc = NULL;
        if (rc == 0 && tsv_json_parse(&doc, (const char *)body.data, body.len, err) != 0)
            rc = -1;
        if (rc == 0) {
            const tsv_json *b = tsv_json_get(tsv_json_root(doc), "buckets");
            const tsv_json *first =
                b && b->type == TSV_JSON_ARRAY && b->count > 0 ? b->items[0] : NULL;
            const tsv_json *idv = first ? tsv_json_get(first, "id") : NULL;
            if (!idv || idv->type != TSV_JSON_STRING || strlen(idv->str) != 16)
                rc = tsv_error_set(err, TSV_ENOTFOUND, "bucket \"%s\" not found", bucket);
            else
                memcpy(id, idv->str, 17);
        }
        tsv_json_free(doc);
        tsv_buf_free(&q);
        tsv_buf_free(&body);
        if (rc != 0)
            return -1;
        bucket_id = id;
    }
    char path[128];
    snprintf(path, sizeof path, "/api/v2/buckets/%.16s/stats", bucket_id);
    return request(c, "GET", path, NULL, out, err);
}

int tsv_influx_client_verify(tsv_influx_client *c, const char *query, tsv_writer *w, tsv_error *err)
{
    size_t n = 32 + (query ? strlen(query) : 0);
    char *path = malloc(n);
    if (!path)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    snprintf(path, n, "/api/v2/verify%s%s", query && *query ? "?" : "", query ? query : "");
    int rc = request(c, "POST", path, w, NULL, err);
    free(path);
    return rc;
}
