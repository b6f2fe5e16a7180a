/* response: streamed, optionally compressed responses (response.h). */
#include "response.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tsv_log.h"

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

int tsv_response_choose_encoding(tsv_http_req *req, int allow_compression, tsv_encoding_choice *c,
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

int tsv_response_open(tsv_http_req *req, tsv_response_stream *rs, const char *content_type,
                      const tsv_encoding_choice *c, tsv_error *err)
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
        if (tsv_zstd_encoder_new(&rs->encoder, &rs->lazy.base, 3, 0, TSV_STREAM_KEEP_INNER, err) !=
            0)
            return -1;
    }
    rs->lazy.headers[h] = NULL;
    rs->out = rs->encoder ? rs->encoder : &rs->lazy.base;
    return 0;
}

/* Finishes (rc == 0) or fails the response. */
int tsv_response_close(tsv_http_req *req, tsv_response_stream *rs, int rc, tsv_error *err)
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
            TSV_WARN("msg=\"response stream aborted\" path=\"%s\" error=\"%s\"", req->path,
                     err->message);
            tsv_http_stream_abort(req);
        } else {
            tsv_http_reply_error(req, err);
        }
    }
    return rc;
}
