/*
 * handlers_backup: GET /api/v2/backup/{kv,metadata,shards/{id}}.
 *
 * Responses are streamed through a "lazy" writer that sends the status and
 * headers only with the first body byte: an error found before that still
 * gets its proper status and JSON body; an error after it aborts the
 * connection so the client sees a broken transfer, never a clean 200 with a
 * truncated body (upstream B6).
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
#include "router.h"
#include "tsv_log.h"
#include "tsv_time.h"

typedef struct lazy_stream {
    tsv_writer base;
    tsv_http_req *req;
    const char *content_type;
    const char *headers[8];
    tsv_writer *inner;
} lazy_stream;

static int lazy_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    lazy_stream *ls = (lazy_stream *)w;
    if (!ls->inner) {
        ls->inner = tsv_http_stream_begin(ls->req, 200, ls->content_type, ls->headers);
        if (!ls->inner)
            return tsv_error_set(err, TSV_EINTERNAL, "client connection closed");
    }
    return tsv_write(ls->inner, buf, len, err);
}

static void lazy_free(tsv_writer *w) { (void)w; }

typedef enum { ENC_IDENTITY, ENC_GZIP, ENC_ZSTD } response_encoding;

/* Does Accept-Encoding list `coding` with q > 0? */
static int accepts(const char *ae, const char *coding)
{
    if (!ae)
        return 0;
    size_t clen = strlen(coding);
    const char *p = ae;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p + strcspn(p, ",");
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *name_end = semi ? semi : end;
        while (name_end > p && name_end[-1] == ' ')
            name_end--;
        if ((size_t)(name_end - p) == clen && strncasecmp(p, coding, clen) == 0) {
            if (!semi)
                return 1;
            const char *q = strstr(semi, "q=");
            return !(q && q < end && strtod(q + 2, NULL) <= 0.0);
        }
        p = end;
    }
    return 0;
}

typedef struct encoding_choice {
    response_encoding enc;
    tsv_gzip_engine engine;
    int level;
    int negotiated; /* the reply depends on Accept-Encoding: send Vary */
} encoding_choice;

static int choose_encoding(tsv_http_req *req, int allow_compression, encoding_choice *c,
                           tsv_error *err)
{
    c->enc = ENC_IDENTITY;
    c->engine = TSV_GZIP_ISAL;
    c->level = 3;
    c->negotiated = allow_compression;
    if (!allow_compression)
        return 0; /* like influxd's kv handler: no gzip wrapper, header ignored */
    const char *lvl = tsv_http_header(req, "Gzip-Compression-Level");
    int gzip_off = 0;
    if (lvl && *lvl && strcmp(lvl, "default") != 0) {
        if (strcmp(lvl, "full") == 0) {
            c->engine = TSV_GZIP_ZLIB;
            c->level = 9;
        } else if (strcmp(lvl, "speedy") == 0) {
            c->level = 1;
        } else if (strcmp(lvl, "none") == 0) {
            gzip_off = 1;
        } else {
            return tsv_error_set(err, TSV_EINVALID,
                                 "unknown compression level: \"%s\", valid values: [default, full, "
                                 "speedy, none]",
                                 lvl);
        }
    }
    const char *ae = tsv_http_header(req, "Accept-Encoding");
    if (accepts(ae, "zstd"))
        c->enc = ENC_ZSTD;
    else if (!gzip_off && accepts(ae, "gzip"))
        c->enc = ENC_GZIP;
    return 0;
}

typedef struct response_stream {
    lazy_stream lazy;
    tsv_writer *encoder;
    tsv_writer *out; /* where the body goes: encoder or lazy */
} response_stream;

static int response_open(tsv_http_req *req, response_stream *rs, const char *content_type,
                         const encoding_choice *c, tsv_error *err)
{
    memset(rs, 0, sizeof *rs);
    rs->lazy.base.write = lazy_write;
    rs->lazy.base.free = lazy_free;
    rs->lazy.req = req;
    rs->lazy.content_type = content_type;
    int h = 0;
    if (c->negotiated) {
        rs->lazy.headers[h++] = "Vary";
        rs->lazy.headers[h++] = "Accept-Encoding";
    }
    if (c->enc == ENC_GZIP) {
        rs->lazy.headers[h++] = "Content-Encoding";
        rs->lazy.headers[h++] = "gzip";
        if (tsv_gzip_encoder_new(&rs->encoder, &rs->lazy.base, c->engine, c->level,
                                 TSV_STREAM_KEEP_INNER, err) != 0)
            return -1;
    } else if (c->enc == ENC_ZSTD) {
        rs->lazy.headers[h++] = "Content-Encoding";
        rs->lazy.headers[h++] = "zstd";
        if (tsv_zstd_encoder_new(&rs->encoder, &rs->lazy.base, 3, 0, TSV_STREAM_KEEP_INNER, err) != 0)
            return -1;
    }
    rs->lazy.headers[h] = NULL;
    rs->out = rs->encoder ? rs->encoder : &rs->lazy.base;
    return 0;
}

/* Finishes (rc == 0) or fails the response. */
static int response_close(tsv_http_req *req, response_stream *rs, int rc, tsv_error *err)
{
    if (rc == 0 && rs->encoder)
        rc = tsv_writer_close(rs->encoder, err);
    tsv_writer_free(rs->encoder);
    rs->encoder = NULL;
    if (rc == 0 && !rs->lazy.inner) {
        /* Empty body: still a valid stream. */
        rs->lazy.inner = tsv_http_stream_begin(req, 200, rs->lazy.content_type, rs->lazy.headers);
        if (!rs->lazy.inner)
            rc = tsv_error_set(err, TSV_EINTERNAL, "client connection closed");
    }
    if (rc == 0)
        rc = tsv_http_stream_end(req, err);
    if (rc != 0) {
        if (rs->lazy.inner || req->status) {
            TSV_WARN("msg=\"backup stream aborted\" path=\"%s\" error=\"%s\"", req->path,
                     err->message);
            tsv_http_stream_abort(req);
        } else {
            tsv_http_reply_error(req, err);
        }
    }
    return rc;
}

int tsv_handle_backup_kv(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_error err;
    encoding_choice ec;
    response_stream rs;
    /* influxd never compresses /backup/kv; neither do we. */
    if (choose_encoding(req, 0, &ec, &err) != 0 ||
        response_open(req, &rs, "application/octet-stream", &ec, &err) != 0)
        return tsv_http_reply_error(req, &err);
    int rc = tsv_store_backup_kv(req->server->store, rs.out, &err);
    return response_close(req, &rs, rc, &err);
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
    encoding_choice ec;
    if (choose_encoding(req, 1, &ec, &err) != 0)
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
    response_stream rs;
    int rc = response_open(req, &rs, ctype, &ec, &err);
    if (rc != 0) {
        tsv_metadata_snapshot_end(snap);
        return tsv_http_reply_error(req, &err);
    }
    char head[256];
    static const char *const names[] = {"kv", "sql", "buckets"};
    static const char *const types[] = {"application/octet-stream", "application/octet-stream",
                                        "application/json; charset=utf-8"};
    for (int part = 0; rc == 0 && part < 3; part++) {
        snprintf(head, sizeof head,
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
    return response_close(req, &rs, rc, &err);
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
    encoding_choice ec;
    if (choose_encoding(req, 1, &ec, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_shard_snapshot *snap;
    if (tsv_store_shard_snapshot(req->server->store, id, since_ns, &snap, &err) != 0)
        return tsv_http_reply_error(req, &err);
    response_stream rs;
    int rc = response_open(req, &rs, "application/octet-stream", &ec, &err);
    if (rc != 0) {
        tsv_shard_snapshot_free(snap);
        return tsv_http_reply_error(req, &err);
    }
    rc = tsv_shard_snapshot_write_tar(snap, rs.out, &err);
    tsv_shard_snapshot_free(snap);
    return response_close(req, &rs, rc, &err);
}
