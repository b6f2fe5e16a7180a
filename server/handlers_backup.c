/*
 * handlers_backup: GET /api/v2/backup/{kv,metadata,shards/{id}}.
 *
 * Responses are streamed through a "lazy" writer that sends the status and
 * headers only with the first body byte: an error found before that still
 * gets its proper status and JSON body; an error after it aborts the
 * connection so the client sees a broken transfer, never a clean 200 with a
 * truncated body (docs/influxdb-compat.md#b6).
 *
 * Compression: zstd when Accept-Encoding lists zstd; else gzip when it lists
 * gzip (q > 0), at the level Gzip-Compression-Level asks for: default = ISA-L
 * level 3, speedy = ISA-L level 1, full = zlib level 9, none = no gzip.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backup.h"
#include "random.h"
#include "response.h"
#include "router.h"
#include "tsv_log.h"
#include "tsv_time.h"

int tsv_handle_backup_kv(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_error err;
    tsv_encoding_choice ec;
    tsv_response_stream rs;
    /* influxd never compresses /backup/kv; neither do we. */
    if (tsv_response_choose_encoding(req, 0, &ec, &err) != 0 ||
        tsv_response_open(req, &rs, "application/octet-stream", &ec, &err) != 0)
        return tsv_http_reply_error(req, &err);
    int rc = tsv_store_backup_kv(req->server->store, rs.out, &err);
    return tsv_response_close(req, &rs, rc, &err);
}

static int write_str(tsv_writer *w, const char *s, tsv_error *err)
{
    return tsv_write(w, s, strlen(s), err);
}

int tsv_handle_backup_metadata(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_error err;
    tsv_encoding_choice ec;
    if (tsv_response_choose_encoding(req, 1, &ec, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_metadata_snapshot *snap;
    if (tsv_store_metadata_snapshot(req->server->store, &snap, &err) != 0)
        return tsv_http_reply_error(req, &err);
    /* Go's multipart writer: a boundary of 30 random bytes in hex. */
    char boundary[61];
    for (int i = 0; i < 60; i += 16) {
        char chunk[17];
        snprintf(chunk, sizeof chunk, "%016" PRIx64, tsv_random_u64());
        memcpy(boundary + i, chunk, i + 16 <= 60 ? 16 : (size_t)(60 - i));
    }
    boundary[60] = '\0';
    char ctype[128];
    snprintf(ctype, sizeof ctype, "multipart/mixed; boundary=%s", boundary);
    tsv_response_stream rs;
    int rc = tsv_response_open(req, &rs, ctype, &ec, &err);
    if (rc != 0) {
        tsv_metadata_snapshot_end(snap);
        return tsv_http_reply_error(req, &err);
    }
    char head[256];
    static const char *const names[] = {"kv", "sql", "buckets"};
    static const char *const types[] = {"application/octet-stream", "application/octet-stream",
                                        "application/json; charset=utf-8"};
    for (int part = 0; rc == 0 && part < 3; part++) {
        snprintf(
            head, sizeof head,
            "%s--%s\r\nContent-Disposition: attachment; name=\"%s\"\r\nContent-Type: %s\r\n\r\n",
            part ? "\r\n" : "", boundary, names[part], types[part]);
        rc = write_str(rs.out, head, &err);
        if (rc == 0) {
            if (part == 0)
                rc = tsv_metadata_snapshot_write_kv(snap, rs.out, &err);
            else if (part == 1)
                rc = tsv_metadata_snapshot_write_sql(snap, rs.out, &err);
            else
                rc = tsv_metadata_snapshot_write_buckets(snap, rs.out, &err);
        }
    }
    if (rc == 0) {
        snprintf(head, sizeof head, "\r\n--%s--\r\n", boundary);
        rc = write_str(rs.out, head, &err);
    }
    tsv_metadata_snapshot_end(snap);
    return tsv_response_close(req, &rs, rc, &err);
}

int tsv_handle_backup_shard(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    tsv_error err;
    uint64_t id;
    if (tsv_parse_shard_id(tsv_route_param(p, "shardID"), &id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    char since[128];
    int has = tsv_http_query(req, "since", since, sizeof since);
    int64_t since_ns = INT64_MIN;
    if (has < 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "invalid since: too long");
    if (has > 0 && since[0] && tsv_parse_rfc3339(since, strlen(since), &since_ns, &err) != 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "invalid since \"%s\": %s", since,
                                         err.message);
    tsv_encoding_choice ec;
    if (tsv_response_choose_encoding(req, 1, &ec, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_shard_snapshot *snap;
    if (tsv_store_shard_snapshot(req->server->store, id, since_ns, &snap, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_response_stream rs;
    int rc = tsv_response_open(req, &rs, "application/octet-stream", &ec, &err);
    if (rc != 0) {
        tsv_shard_snapshot_free(snap);
        return tsv_http_reply_error(req, &err);
    }
    rc = tsv_shard_snapshot_write_tar(snap, rs.out, &err);
    tsv_shard_snapshot_free(snap);
    return tsv_response_close(req, &rs, rc, &err);
}
