/* body_gate: the checks made before a request body is read (see body_gate.h). */
#include "body_gate.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "router.h"
#include "server.h"

/* Copies the first comma-separated element of a header value, trimmed. */
static void first_element(const char *v, char *out, size_t outlen)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strcspn(v, ",");
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    snprintf(out, outlen, "%.*s", (int)n, v);
}

int tsv_body_gate_expect(tsv_http_req *req, const char *http_version, tsv_error *err)
{
    req->expect_continue = 0;
    const char *e = tsv_http_header(req, "Expect");
    if (!e)
        return 0;
    char v[64];
    first_element(e, v, sizeof v);
    if (strcasecmp(v, "100-continue") != 0 || strchr(e, ','))
        return tsv_error_set(err, TSV_EEXPECTATION,
                             "unsupported expectation \"%.100s\" (only 100-continue is)", e);
    /* An HTTP/1.0 client cannot read an interim reply. */
    req->expect_continue = !(http_version && strcmp(http_version, "1.0") == 0);
    return 0;
}

int tsv_http_body_codec(const tsv_http_req *req, tsv_codec *out, tsv_error *err)
{
    *out = TSV_CODEC_IDENTITY;
    const char *ce = tsv_http_header(req, "Content-Encoding");
    if (!ce || !*ce)
        return 0;
    char first[64];
    first_element(ce, first, sizeof first);
    if (strcasecmp(first, "gzip") == 0 || strcasecmp(first, "x-gzip") == 0)
        *out = TSV_CODEC_GZIP;
    else if (strcasecmp(first, "zstd") == 0)
        *out = TSV_CODEC_ZSTD;
    else if (first[0] && strcasecmp(first, "identity") != 0)
        return tsv_error_set(err, TSV_EUNSUPPORTED,
                             "unsupported Content-Encoding \"%s\" (use gzip, zstd or identity)",
                             first);
    return 0;
}

static int reject(tsv_http_req *req, const tsv_error *err)
{
    tsv_http_reply_error(req, err);
    return -1;
}

int tsv_body_gate_open(tsv_http_req *req, const tsv_route *route, const tsv_route_params *params,
                       const tsv_caller *caller)
{
    tsv_error err;
    if (route->body == TSV_BODY_NONE)
        return 0;
    tsv_codec codec;
    if (route->encoded) {
        if (tsv_http_body_codec(req, &codec, &err) != 0)
            return reject(req, &err);
    } else if (tsv_http_body_codec(req, &codec, &err) != 0 || codec != TSV_CODEC_IDENTITY) {
        tsv_error_set(&err, TSV_EUNSUPPORTED, "this endpoint takes no Content-Encoding");
        return reject(req, &err);
    }
    uint64_t limit = req->server->cfg.max_body_size;
    if (route->body_max && (!limit || route->body_max < limit))
        limit = route->body_max;
    if (limit && req->content_length > 0 && (uint64_t)req->content_length > limit) {
        tsv_error_set(&err, TSV_ETOOLARGE,
                      "request body of %lld bytes exceeds the limit of %llu bytes",
                      req->content_length, (unsigned long long)limit);
        return reject(req, &err);
    }
    if (route->body == TSV_BODY_UPLOAD) {
        int max = req->server->cfg.max_uploads;
        int n = atomic_fetch_add(&req->server->uploads, 1);
        if (n >= max) {
            atomic_fetch_sub(&req->server->uploads, 1);
            req->retry_after_s = TSV_UPLOAD_RETRY_AFTER_S;
            tsv_error_set(&err, TSV_EUNAVAILABLE,
                          "too many uploads in progress (%d, --max-concurrent-uploads); "
                          "retry later",
                          max);
            return reject(req, &err);
        }
        req->upload_slot = 1;
    }
    if (route->precheck && route->precheck(req, params, caller, &err) != 0) {
        tsv_body_gate_close(req);
        return reject(req, &err);
    }
    return 0;
}

void tsv_body_gate_close(tsv_http_req *req)
{
    if (req->upload_slot) {
        req->upload_slot = 0;
        atomic_fetch_sub(&req->server->uploads, 1);
    }
}
