/*
 * handlers_files: the Files API (/api/v2/files and the seed's /v1/files):
 * multipart/form-data uploads parsed by civetweb's mg_handle_form_request,
 * the part "file" streamed chunk by chunk into the staging area
 * (storage/files_store.h), which validates and installs it. HTTP concerns
 * only: the digest headers, statuses, reply shapes.
 */
#include <civetweb.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "files_store.h"
#include "json.h"
#include "router.h"
#include "tsv_log.h"
#include "tsv_time.h"

/* Multipart headers and boundaries around a file part; a Content-Length
 * beyond the limit by more than this is refused before reading. */
#define MULTIPART_SLACK (1024 * 1024)

typedef struct form_state {
    tsv_files *files;
    tsv_files_upload *up;
    int files_seen;
    int failed;
    tsv_error err;
    int status; /* explicit status for err, 0 = from its code */
} form_state;

static int field_found(const char *key, const char *filename, char *path, size_t pathlen, void *ud)
{
    (void)path;
    (void)pathlen;
    form_state *st = ud;
    if (st->failed)
        return MG_FORM_FIELD_STORAGE_ABORT;
    if (!key || strcmp(key, "file") != 0 || !filename || !*filename)
        return MG_FORM_FIELD_STORAGE_SKIP; /* other form fields are not ours */
    if (++st->files_seen > 1) {
        st->failed = 1;
        tsv_error_set(&st->err, TSV_EINVALID,
                      "one file per request: the request holds more than one \"file\" part; "
                      "nothing was kept");
        return MG_FORM_FIELD_STORAGE_ABORT;
    }
    if (tsv_files_upload_begin(st->files, filename, &st->up, &st->err) != 0) {
        st->failed = 1;
        if (st->err.code == TSV_ECONFLICT)
            st->status = 409;
        return MG_FORM_FIELD_STORAGE_ABORT;
    }
    return MG_FORM_FIELD_STORAGE_GET;
}

static int field_get(const char *key, const char *value, size_t len, void *ud)
{
    (void)key;
    form_state *st = ud;
    if (st->failed || !st->up)
        return MG_FORM_FIELD_HANDLE_ABORT;
    if (len && tsv_files_upload_write(st->up, value, len, &st->err) != 0) {
        st->failed = 1;
        return MG_FORM_FIELD_HANDLE_ABORT;
    }
    return MG_FORM_FIELD_HANDLE_GET;
}

static int field_store(const char *path, long long size, void *ud)
{
    (void)path;
    (void)size;
    (void)ud;
    return MG_FORM_FIELD_HANDLE_ABORT; /* never asked to store */
}

/* Content-MD5: <base64 of 16 bytes>, or Digest: md5=<base64> (RFC 3230). */
static int expected_md5(tsv_http_req *req, uint8_t out[16], int *present, tsv_error *err)
{
    *present = 0;
    const char *v = tsv_http_header(req, "Content-MD5");
    char b64[64] = "";
    if (v && *v) {
        snprintf(b64, sizeof b64, "%s", v);
    } else if ((v = tsv_http_header(req, "Digest"))) {
        const char *p = v;
        while (*p) {
            while (*p == ' ' || *p == ',')
                p++;
            size_t n = strcspn(p, ",");
            if (n > 4 && strncasecmp(p, "md5=", 4) == 0) {
                snprintf(b64, sizeof b64, "%.*s", (int)(n - 4), p + 4);
                break;
            }
            p += n;
        }
    }
    if (!b64[0])
        return 0;
    size_t n = strlen(b64);
    while (n && (b64[n - 1] == ' ' || b64[n - 1] == '\t'))
        b64[--n] = '\0';
    unsigned char raw[48];
    int got = n == 24 ? EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n) : -1;
    if (got != 18 || b64[22] != '=' || b64[23] != '=')
        return tsv_error_set(err, TSV_EINVALID,
                             "Content-MD5/Digest md5 must be the base64 of 16 bytes, got \"%s\"",
                             b64);
    memcpy(out, raw, 16);
    *present = 1;
    return 0;
}

static void write_file(tsv_json_writer *w, const tsv_file_info *i, int with_user)
{
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "id", i->id);
    tsv_jw_field_string(w, "name", i->name);
    tsv_jw_field_u64(w, "sizeBytes", i->size);
    tsv_jw_field_string(w, "dataFormat", tsv_data_format_name(i->format));
    tsv_jw_field_string(w, "compressionFormat", tsv_compression_name(i->compression));
    tsv_jw_key(w, "digest");
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "algo", "md5");
    tsv_jw_field_string(w, "hash", i->md5);
    tsv_jw_object_end(w);
    tsv_jw_field_string(w, "sha256", i->sha256);
    if (with_user) {
        tsv_jw_field_string(w, "uploadedByUserId", i->user_id);
    }
    tsv_jw_field_time(w, "uploadedOnDatetime", i->uploaded_ns);
    tsv_jw_object_end(w);
}

static int reply_file(tsv_http_req *req, int status, const tsv_file_info *info)
{
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    write_file(&w, info, 1);
    tsv_error err;
    int rc = tsv_jw_finish(&w, &err) == 0 ? tsv_http_reply_json(req, status, &buf)
                                          : tsv_http_reply_error(req, &err);
    tsv_buf_free(&buf);
    return rc;
}

int tsv_handle_files_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    tsv_error err;
    tsv_files *files = req->server->files;
    const char *ct = tsv_http_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID,
                                         "request does not contain a file to upload (send "
                                         "multipart/form-data with a part named \"file\")");
    if (!strcasestr(ct, "boundary="))
        return tsv_http_reply_error_code(req, TSV_EINVALID,
                                         "multipart/form-data without a boundary parameter");
    uint8_t md5[16];
    int have_md5;
    if (expected_md5(req, md5, &have_md5, &err) != 0)
        return tsv_http_reply_error(req, &err);
    uint64_t max = req->server->cfg.files_max_size;
    if (max && req->content_length > 0 && (uint64_t)req->content_length > max + MULTIPART_SLACK)
        return tsv_http_reply_error_code(req, TSV_ETOOLARGE,
                                         "the upload (%lld bytes) is larger than the limit of "
                                         "%llu bytes (--files-max-size)",
                                         req->content_length, (unsigned long long)max);

    form_state st;
    memset(&st, 0, sizeof st);
    st.files = files;
    struct mg_form_data_handler fdh = {field_found, field_get, field_store, &st};
    if (tsv_http_continue(req, &err) != 0)
        return tsv_http_reply_error(req, &err);
    int n = mg_handle_form_request(req->conn, &fdh);
    if (st.failed || n < 0) {
        tsv_files_upload_abort(st.up);
        if (!st.failed)
            tsv_error_set(&st.err, TSV_EINVALID,
                          "malformed or truncated multipart/form-data body; nothing was kept");
        TSV_INFO("msg=\"upload refused\" error=\"%s\"", st.err.message);
        return tsv_http_reply_error_status(req, st.status, &st.err);
    }
    if (!st.up) {
        req->body_done = 1;
        return tsv_http_reply_error_code(req, TSV_EINVALID,
                                         "request does not contain a file to upload");
    }
    req->body_done = 1;
    req->bytes_in = tsv_files_upload_size(st.up);
    tsv_file_info info;
    if (tsv_files_upload_commit(st.up, have_md5 ? md5 : NULL, c->user_id, &info, &err) != 0)
        return tsv_http_reply_error_status(req, err.code == TSV_ECONFLICT ? 409 : 0, &err);
    return reply_file(req, 200, &info);
}

typedef struct list_ctx {
    tsv_json_writer *w;
} list_ctx;

static int list_one(void *ctx, const tsv_file_info *info, tsv_error *err)
{
    (void)err;
    write_file(((list_ctx *)ctx)->w, info, 1);
    return 0;
}

int tsv_handle_files_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_error err;
    tsv_files_space sp;
    if (tsv_files_space_get(req->server->files, &sp, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "files");
    tsv_jw_array_begin(&w);
    list_ctx lc = {&w};
    int rc = tsv_files_list(req->server->files, list_one, &lc, &err);
    tsv_jw_array_end(&w);
    tsv_jw_key(&w, "space");
    tsv_jw_object_begin(&w);
    tsv_jw_field_u64(&w, "allocatedBytes", sp.allocated);
    tsv_jw_field_u64(&w, "usedBytes", sp.used);
    tsv_jw_field_u64(&w, "remainingBytes", sp.remaining);
    tsv_jw_object_end(&w);
    tsv_jw_object_end(&w);
    if (rc == 0)
        rc = tsv_jw_finish(&w, &err);
    rc = rc == 0 ? tsv_http_reply_json(req, 200, &buf) : tsv_http_reply_error(req, &err);
    tsv_buf_free(&buf);
    return rc;
}

int tsv_handle_file_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    tsv_error err;
    tsv_file_info info;
    if (tsv_files_get(req->server->files, tsv_route_param(p, "name"), &info, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return reply_file(req, 200, &info);
}

int tsv_handle_file_delete(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    tsv_error err;
    if (tsv_files_delete(req->server->files, tsv_route_param(p, "name"), &err) != 0)
        return tsv_http_reply_error(req, &err);
    return tsv_http_reply_empty(req, 204);
}
