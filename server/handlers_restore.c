/*
 * handlers_restore: every /api/v2/restore endpoint. HTTP concerns only:
 * content decoding of the body stream, parameters, reply shapes; the work is
 * in storage/restore.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "body_gate.h"
#include "json.h"
#include "restore.h"
#include "router.h"
#include "tenant.h"
#include "tsv_log.h"

/* Wraps the request body in the decoder its Content-Encoding names
 * (body_gate.c refused unknown encodings before the body was sent). */
static int decoded_body(tsv_http_req *req, tsv_reader **out, tsv_error *err)
{
    tsv_reader *raw = tsv_http_body(req);
    tsv_codec codec;
    *out = NULL;
    if (tsv_http_body_codec(req, &codec, err) != 0)
        return -1;
    if (codec == TSV_CODEC_IDENTITY)
        return 0;
    return tsv_decoder_new(out, codec, raw, err);
}

static tsv_reader *body_stream(tsv_http_req *req, tsv_reader *decoded)
{
    return decoded ? decoded : tsv_http_body(req);
}

/* The three restores that stream the request body into the store. */
typedef enum body_restore {
    RESTORE_KV,
    RESTORE_SQL,
    RESTORE_SHARD
} body_restore;

/* Runs one restore over the request body, decoded as its Content-Encoding
 * says; kv writes the operator token to token (tlen bytes), shard restores
 * shard_id. */
static int restore_body(tsv_http_req *req, body_restore what, uint64_t shard_id, char *token,
                        size_t tlen, tsv_error *err)
{
    tsv_reader *dec;
    if (decoded_body(req, &dec, err) != 0)
        return -1;
    tsv_reader *body = body_stream(req, dec);
    tsv_store *s = req->server->store;
    int rc = what == RESTORE_KV    ? tsv_store_restore_kv(s, body, token, tlen, err)
             : what == RESTORE_SQL ? tsv_store_restore_sql(s, body, err)
                                   : tsv_store_restore_shard(s, shard_id, body, err);
    tsv_reader_free(dec);
    return rc;
}

int tsv_handle_restore_kv(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_error err;
    char token[512];
    if (restore_body(req, RESTORE_KV, 0, token, sizeof token, &err) != 0)
        return tsv_http_reply_error(req, &err);
    /* influxd's exact shape: tab-indented, no trailing newline; the token key
     * is always present (the influx CLI dereferences it). */
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, "\t");
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "token", token);
    tsv_jw_object_end(&w);
    memset(token, 0, sizeof token);
    return tsv_http_reply_jw(req, 200, &w, &buf);
}

int tsv_handle_restore_sql(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_error err;
    if (restore_body(req, RESTORE_SQL, 0, NULL, 0, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return tsv_http_reply_empty(req, 204);
}

/* Reads a whole (bounded) body through its content decoding. */
static int read_decoded(tsv_http_req *req, tsv_buf *buf, size_t max, tsv_error *err)
{
    tsv_reader *dec;
    if (decoded_body(req, &dec, err) != 0)
        return -1;
    tsv_reader *r = body_stream(req, dec);
    /* On the heap: civetweb's worker stacks are small, and the decoder
     * below needs its own share of stack. */
    enum {
        CHUNK = 65536
    };
    uint8_t *chunk = malloc(CHUNK);
    int rc = chunk ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    while (rc == 0) {
        ssize_t n = tsv_read(r, chunk, CHUNK, err);
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        if (buf->len + (size_t)n > max) {
            rc = tsv_error_set(err, TSV_ETOOLARGE, "request body exceeds %zu bytes", max);
            break;
        }
        if (tsv_buf_append(buf, chunk, (size_t)n, err) != 0) {
            rc = -1;
            break;
        }
    }
    free(chunk);
    tsv_reader_free(dec);
    return rc;
}

int tsv_handle_restore_bucket_metadata(tsv_http_req *req, const tsv_route_params *p,
                                       const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_error err;
    tsv_buf body = {0};
    if (read_decoded(req, &body, TSV_MANIFEST_MAX, &err) != 0) {
        tsv_buf_free(&body);
        return tsv_http_reply_error(req, &err);
    }
    tsv_bucket_restore_result res;
    int rc = tsv_store_restore_bucket_manifest(
        req->server->store, body.data ? (const char *)body.data : "", body.len, &res, &err);
    tsv_buf_free(&body);
    if (rc != 0)
        return tsv_http_reply_error(req, &err);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, "\t");
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "id", res.bucket_id);
    tsv_jw_field_string(&w, "name", res.bucket_name);
    tsv_jw_key(&w, "shardMappings");
    tsv_jw_array_begin(&w);
    for (size_t i = 0; i < res.count; i++) {
        tsv_jw_object_begin(&w);
        tsv_jw_field_u64(&w, "oldId", res.mappings[i].old_id);
        tsv_jw_field_u64(&w, "newId", res.mappings[i].new_id);
        tsv_jw_object_end(&w);
    }
    tsv_jw_array_end(&w);
    tsv_jw_object_end(&w);
    tsv_bucket_restore_result_clear(&res);
    return tsv_http_reply_jw(req, 201, &w, &buf);
}

int tsv_handle_restore_bucket_id(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    tsv_error err;
    const char *id = tsv_route_param(p, "bucketID");
    tsv_buf body = {0};
    if (read_decoded(req, &body, TSV_MANIFEST_MAX, &err) != 0) {
        tsv_buf_free(&body);
        return tsv_http_reply_error(req, &err);
    }
    tsv_bucket_restore_result res;
    int rc =
        tsv_store_restore_bucket_proto(req->server->store, id, body.data, body.len, &res, &err);
    tsv_buf_free(&body);
    if (rc != 0)
        return tsv_http_reply_error(req, &err);
    /* influxd 2.0 writes json.Encode(map[uint64]uint64): keys as decimal
     * strings in Go's sorted order, then a newline. */
    for (size_t i = 1; i < res.count; i++) {
        tsv_shard_mapping m = res.mappings[i];
        char km[24];
        snprintf(km, sizeof km, "%" PRIu64, m.old_id);
        size_t j = i;
        while (j > 0) {
            char kj[24];
            snprintf(kj, sizeof kj, "%" PRIu64, res.mappings[j - 1].old_id);
            if (strcmp(kj, km) <= 0)
                break;
            res.mappings[j] = res.mappings[j - 1];
            j--;
        }
        res.mappings[j] = m;
    }
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    for (size_t i = 0; i < res.count; i++) {
        char key[24];
        snprintf(key, sizeof key, "%" PRIu64, res.mappings[i].old_id);
        tsv_jw_field_u64(&w, key, res.mappings[i].new_id);
    }
    tsv_jw_object_end(&w);
    tsv_bucket_restore_result_clear(&res);
    if (tsv_jw_finish(&w, &err) != 0 || tsv_buf_append(&buf, "\n", 1, &err) != 0) {
        tsv_buf_free(&buf);
        return tsv_http_reply_error(req, &err);
    }
    rc = tsv_http_reply(req, 200, "text/plain; charset=utf-8", buf.data, buf.len);
    tsv_buf_free(&buf);
    return rc;
}

/* Shard IDs are decimal uint64 in URL paths. */
int tsv_parse_shard_id(const char *s, uint64_t *out, tsv_error *err)
{
    if (!s || !*s)
        return tsv_error_set(err, TSV_EINVALID, "missing shard ID");
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return tsv_error_set(err, TSV_EINVALID, "invalid shard ID \"%s\"", s);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE || *end || strlen(s) > 20)
        return tsv_error_set(err, TSV_EINVALID, "invalid shard ID \"%s\"", s);
    *out = v;
    return 0;
}

int tsv_handle_restore_shard(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    tsv_error err;
    uint64_t id;
    if (tsv_parse_shard_id(tsv_route_param(p, "shardID"), &id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    if (restore_body(req, RESTORE_SHARD, id, NULL, 0, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return tsv_http_reply_empty(req, 204);
}

/* Before the body: a valid shard ID of a shard that exists (404 otherwise). */
int tsv_precheck_restore_shard(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c,
                               tsv_error *err)
{
    (void)c;
    uint64_t id;
    if (tsv_parse_shard_id(tsv_route_param(p, "shardID"), &id, err) != 0)
        return -1;
    return tsv_store_restore_shard_check(req->server->store, id, err);
}

/* Before the body: a valid bucket ID (400) of a bucket that exists (404). */
int tsv_precheck_restore_bucket_id(tsv_http_req *req, const tsv_route_params *p,
                                   const tsv_caller *c, tsv_error *err)
{
    (void)c;
    uint64_t id;
    if (tsv_id_parse(tsv_route_param(p, "bucketID"), &id, err) != 0)
        return -1;
    tsv_bucket b;
    if (tsv_store_bucket_get(req->server->store, tsv_route_param(p, "bucketID"), &b, err) != 0)
        return -1;
    tsv_bucket_clear(&b);
    return 0;
}
