/*
 * rpc_snapshotter: the 1.x snapshotter protocol on one connection
 * (docs/api.md "InfluxDB 1.x backup protocol").
 *
 * Wire: byte 0x03 (mux header), one request-type byte, then for types 0-6 a
 * JSON Request and "\n" (type 6 then carries UploadSize bytes of meta.Data);
 * type 7 carries an 8-byte big-endian shard ID and a tar to the end of the
 * stream. Every read is bounded (JSON line, meta upload) and every recv has
 * the --rpc-timeout; bad input closes the connection with one log line and
 * changes nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "array_grow.h"
#include "json.h"
#include "rpc_internal.h"
#include "stream.h"
#include "tsv_log.h"
#include "tsv_time.h"
#include "v1_backup.h"
#include "v1_restore.h"

#define MUX_HEADER 0x03
#define MAGIC UINT64_C(0x59590101)
#define MAX_REQUEST_LINE (64 * 1024)
/* A metastore of 64 MiB holds millions of shards; more is not a meta.Data. */
#define MAX_META_UPLOAD (64 * 1024 * 1024)
/* Restores waiting for their shards at once: each holds reserved IDs and a
 * staging directory until it completes or goes idle. */
#define MAX_PENDING_RESTORES 8

enum {
    REQ_SHARD_BACKUP = 0,
    REQ_METASTORE_BACKUP = 1,
    REQ_SERIES_FILE_BACKUP = 2,
    REQ_DATABASE_INFO = 3,
    REQ_RP_INFO = 4,
    REQ_SHARD_EXPORT = 5,
    REQ_META_UPDATE = 6,
    REQ_SHARD_UPDATE = 7,
};

static time_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* ---- socket I/O ------------------------------------------------------------ */

typedef struct sock_reader {
    tsv_reader base;
    int fd;
    int timeout_s;
    const uint8_t *pre; /* bytes already received past the request line */
    size_t pre_len;
} sock_reader;

static ssize_t sock_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    sock_reader *s = (sock_reader *)r;
    if (len == 0)
        return 0;
    if (s->pre_len) {
        size_t n = len < s->pre_len ? len : s->pre_len;
        memcpy(buf, s->pre, n);
        s->pre += n;
        s->pre_len -= n;
        return (ssize_t)n;
    }
    for (;;) {
        ssize_t n = recv(s->fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return tsv_error_set(err, TSV_EINVALID, "peer sent nothing for %ds", s->timeout_s);
        return tsv_error_set_errno(err, TSV_EINVALID, errno, "receive");
    }
}

static void sock_reader_init(sock_reader *s, int fd, int timeout_s)
{
    memset(s, 0, sizeof *s);
    s->base.read = sock_read;
    s->base.free = NULL;
    s->fd = fd;
    s->timeout_s = timeout_s;
}

static int read_exact(sock_reader *s, void *buf, size_t len, tsv_error *err)
{
    ssize_t n = tsv_read_full(&s->base, buf, len, err);
    if (n < 0)
        return -1;
    if ((size_t)n != len)
        return tsv_error_set(err, TSV_EINVALID, "connection closed after %zd of %zu bytes", n, len);
    return 0;
}

typedef struct sock_writer {
    tsv_writer base;
    int fd;
} sock_writer;

static int sock_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    sock_writer *s = (sock_writer *)w;
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return tsv_error_set(err, TSV_EINVALID, "peer stopped reading");
        if (n <= 0)
            return tsv_error_set_errno(err, TSV_EINVALID, errno, "send");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void sock_writer_init(sock_writer *s, int fd)
{
    memset(s, 0, sizeof *s);
    s->base.write = sock_write;
    s->fd = fd;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* ---- the request line ---------------------------------------------------- */

typedef struct rpc_request {
    tsv_json_doc *doc;
    int type;
    char backup_db[TSV_V1_NAME_MAX + 1], restore_db[TSV_V1_NAME_MAX + 1];
    char backup_rp[TSV_V1_NAME_MAX + 1], restore_rp[TSV_V1_NAME_MAX + 1];
    uint64_t shard_id;
    int64_t since_ns;
    int64_t start_ns, end_ns; /* ExportStart/ExportEnd */
    int64_t upload_size;
} rpc_request;

/* Go's zero time (0001-01-01) and anything before int64 nanoseconds mean
 * "from the beginning". */
static int parse_time(const tsv_json *v, const char *what, int64_t *out, tsv_error *err)
{
    *out = INT64_MIN;
    if (!v)
        return 0;
    const char *s;
    size_t n;
    if (tsv_json_string(v, &s, &n, what, err) != 0)
        return -1;
    if (tsv_parse_rfc3339(s, n, out, NULL) == 0)
        return 0;
    /* Outside int64 nanoseconds: check the form with year 2000 (a leap
     * year, so every valid day still is), then clamp. */
    char tmp[64];
    int64_t ignored;
    if (n >= 4 && n < sizeof tmp && memchr(s, '\0', n) == NULL) {
        memcpy(tmp, s, n);
        memcpy(tmp, "2000", 4);
        if (tsv_parse_rfc3339(tmp, n, &ignored, NULL) == 0) {
            *out = strncmp(s, "1678", 4) < 0 ? INT64_MIN : INT64_MAX;
            return 0;
        }
    }
    return tsv_error_set(err, TSV_EINVALID, "%s: invalid time \"%.*s\"", what, (int)n, s);
}

static int get_name(const tsv_json *root, const char *key, char *out, size_t cap, tsv_error *err)
{
    out[0] = '\0';
    const tsv_json *v = tsv_json_get(root, key);
    if (!v || v->type == TSV_JSON_NULL)
        return 0;
    const char *s;
    size_t n;
    if (tsv_json_string(v, &s, &n, key, err) != 0)
        return -1;
    if (n >= cap || memchr(s, '\0', n))
        return tsv_error_set(err, TSV_EINVALID, "%s is too long or holds NUL", key);
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* Reads the JSON line (bounded) and keeps what came after it in *rest. */
static int read_request(sock_reader *sr, int type, rpc_request *req, uint8_t **line_buf,
                        tsv_error *err)
{
    memset(req, 0, sizeof *req);
    uint8_t *buf = malloc(MAX_REQUEST_LINE);
    if (!buf)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    *line_buf = buf;
    size_t have = 0, nl = 0;
    int found = 0;
    time_t deadline = now_s() + sr->timeout_s;
    while (!found) {
        if (have == MAX_REQUEST_LINE)
            return tsv_error_set(err, TSV_EINVALID, "request line longer than %d bytes",
                                 MAX_REQUEST_LINE);
        if (now_s() > deadline)
            return tsv_error_set(err, TSV_EINVALID, "request line not complete after %ds",
                                 sr->timeout_s);
        ssize_t n = tsv_read(&sr->base, buf + have, MAX_REQUEST_LINE - have, err);
        if (n < 0)
            return -1;
        if (n == 0)
            return tsv_error_set(err, TSV_EINVALID,
                                 "connection closed inside the request line "
                                 "(%zu bytes)",
                                 have);
        uint8_t *p = memchr(buf + have, '\n', (size_t)n);
        have += (size_t)n;
        if (p) {
            nl = (size_t)(p - buf);
            found = 1;
        }
    }
    sr->pre = buf + nl + 1;
    sr->pre_len = have - nl - 1;
    if (tsv_json_parse(&req->doc, (const char *)buf, nl, err) != 0)
        return tsv_error_wrap(err, "request JSON");
    const tsv_json *root = tsv_json_root(req->doc);
    if (root->type != TSV_JSON_OBJECT)
        return tsv_error_set(err, TSV_EINVALID, "request JSON is not an object");
    const tsv_json *t = tsv_json_get(root, "Type");
    uint64_t tv = (uint64_t)type;
    if (t && tsv_json_u64(t, &tv, "Type", err) != 0)
        return -1;
    if (tv != (uint64_t)type)
        return tsv_error_set(err, TSV_EINVALID, "request type byte %d but JSON Type %" PRIu64, type,
                             tv);
    req->type = type;
    if (get_name(root, "BackupDatabase", req->backup_db, sizeof req->backup_db, err) != 0 ||
        get_name(root, "RestoreDatabase", req->restore_db, sizeof req->restore_db, err) != 0 ||
        get_name(root, "BackupRetentionPolicy", req->backup_rp, sizeof req->backup_rp, err) != 0 ||
        get_name(root, "RestoreRetentionPolicy", req->restore_rp, sizeof req->restore_rp, err) != 0)
        return -1;
    const tsv_json *v;
    if ((v = tsv_json_get(root, "ShardID")) && tsv_json_u64(v, &req->shard_id, "ShardID", err) != 0)
        return -1;
    if ((v = tsv_json_get(root, "UploadSize")) &&
        tsv_json_i64(v, &req->upload_size, "UploadSize", err) != 0)
        return -1;
    if (parse_time(tsv_json_get(root, "Since"), "Since", &req->since_ns, err) != 0 ||
        parse_time(tsv_json_get(root, "ExportStart"), "ExportStart", &req->start_ns, err) != 0 ||
        parse_time(tsv_json_get(root, "ExportEnd"), "ExportEnd", &req->end_ns, err) != 0)
        return -1;
    return 0;
}

/* ---- backup requests ------------------------------------------------------- */

static int send_metastore(rpc_ctx *ctx, int fd, tsv_error *err)
{
    tsv_v1_view *v = NULL;
    uint8_t *meta = NULL;
    size_t len = 0;
    int rc = tsv_store_v1_view(ctx->store, ctx->org, &v, err);
    if (rc == 0)
        rc = tsv_v1_view_encode(v, &meta, &len, err);
    tsv_v1_view_free(v);
    if (rc != 0)
        return -1;
    /* influxd's node JSON: OSS has no node, json.Encoder writes "null\n". */
    static const char node[] = "null\n";
    uint8_t hdr[16], tail[8];
    put_u64(hdr, MAGIC);
    put_u64(hdr + 8, len);
    put_u64(tail, sizeof node - 1);
    sock_writer w;
    sock_writer_init(&w, fd);
    rc = tsv_write(&w.base, hdr, sizeof hdr, err);
    if (rc == 0)
        rc = tsv_write(&w.base, meta, len, err);
    if (rc == 0)
        rc = tsv_write(&w.base, tail, sizeof tail, err);
    if (rc == 0)
        rc = tsv_write(&w.base, node, sizeof node - 1, err);
    free(meta);
    return rc;
}

static int send_paths(rpc_ctx *ctx, int fd, const rpc_request *req, tsv_error *err)
{
    tsv_v1_view *v = NULL;
    char **paths = NULL;
    size_t n = 0;
    int rc = tsv_store_v1_view(ctx->store, ctx->org, &v, err);
    if (rc == 0 && req->type == REQ_RP_INFO && !req->backup_db[0])
        rc = tsv_error_set(err, TSV_ENOTFOUND, "database not found: \"\"");
    if (rc == 0)
        rc = tsv_v1_view_paths(v, req->backup_db, req->type == REQ_RP_INFO ? req->backup_rp : NULL,
                               &paths, &n, err);
    if (rc == 0 && req->type == REQ_RP_INFO && !req->backup_rp[0])
        rc = tsv_error_set(err, TSV_ENOTFOUND, "retention policy not found: \"\"");
    tsv_v1_view_free(v);
    if (rc != 0) {
        tsv_v1_view_paths_free(paths, n);
        return -1;
    }
    tsv_buf buf = {0};
    tsv_json_writer jw;
    tsv_jw_init(&jw, &buf, NULL);
    tsv_jw_object_begin(&jw);
    tsv_jw_key(&jw, "Paths");
    if (n == 0) {
        tsv_jw_null(&jw); /* Go encodes a nil slice as null */
    } else {
        tsv_jw_array_begin(&jw);
        for (size_t i = 0; i < n; i++)
            tsv_jw_string(&jw, paths[i]);
        tsv_jw_array_end(&jw);
    }
    tsv_jw_object_end(&jw);
    rc = tsv_jw_finish(&jw, err);
    tsv_v1_view_paths_free(paths, n);
    if (rc == 0)
        rc = tsv_buf_append(&buf, "\n", 1, err);
    sock_writer w;
    sock_writer_init(&w, fd);
    if (rc == 0)
        rc = tsv_write(&w.base, buf.data, buf.len, err);
    tsv_buf_free(&buf);
    return rc;
}

static int send_shard(rpc_ctx *ctx, int fd, const rpc_request *req, tsv_error *err)
{
    tsv_v1_view *v = NULL;
    tsv_shard_snapshot *snap = NULL;
    int rc = tsv_store_v1_view(ctx->store, ctx->org, &v, err);
    if (rc == 0 && req->type == REQ_SHARD_EXPORT)
        rc = tsv_store_v1_shard_export(ctx->store, v, req->shard_id, req->start_ns, req->end_ns,
                                       &snap, err);
    else if (rc == 0)
        rc = tsv_store_v1_shard_snapshot(ctx->store, v, req->shard_id, req->since_ns, &snap, err);
    tsv_v1_view_free(v);
    if (rc != 0)
        return -1;
    sock_writer w;
    sock_writer_init(&w, fd);
    rc = tsv_shard_snapshot_write_tar(snap, &w.base, err);
    tsv_shard_snapshot_free(snap);
    return rc;
}

/* ---- restore: sessions ------------------------------------------------------ */

static void session_free(rpc_session *s)
{
    tsv_v1_restore_free(s->restore);
    free(s->busy);
    free(s);
}

/* Unlinks s (ctx->mu held). */
static void session_unlink(rpc_ctx *ctx, rpc_session *s)
{
    for (rpc_session **p = &ctx->sessions; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            return;
        }
}

static void session_commit(rpc_session *s, const char *why)
{
    tsv_error e;
    if (tsv_v1_restore_commit(s->restore, &e) != 0)
        TSV_ERROR("msg=\"1.x restore failed at commit; nothing was installed\" reason=\"%s\" "
                  "error=\"%s\"",
                  why, e.message);
}

static int send_id_map(int fd, const tsv_shard_mapping *map, size_t n, tsv_error *err)
{
    sock_writer w;
    sock_writer_init(&w, fd);
    uint8_t hdr[16];
    put_u64(hdr, MAGIC);
    put_u64(hdr + 8, n);
    if (tsv_write(&w.base, hdr, sizeof hdr, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t pair[16];
        put_u64(pair, map[i].old_id);
        put_u64(pair + 8, map[i].new_id);
        if (tsv_write(&w.base, pair, sizeof pair, err) != 0)
            return -1;
    }
    return 0;
}

static int meta_update(rpc_ctx *ctx, int fd, sock_reader *sr, const rpc_request *req,
                       tsv_error *err)
{
    uint8_t *meta = NULL;
    int rc = 0;
    if (req->upload_size <= 0 || req->upload_size > MAX_META_UPLOAD)
        rc = tsv_error_set(err, TSV_EINVALID, "UploadSize %" PRId64 " out of range 1..%d",
                           req->upload_size, MAX_META_UPLOAD);
    else if (!(meta = malloc((size_t)req->upload_size)))
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    else
        rc = read_exact(sr, meta, (size_t)req->upload_size, err);
    if (rc == 0) {
        int pending = 0;
        pthread_mutex_lock(&ctx->mu);
        for (rpc_session *p = ctx->sessions; p; p = p->next)
            pending++;
        pthread_mutex_unlock(&ctx->mu);
        if (pending >= MAX_PENDING_RESTORES)
            rc = tsv_error_set(err, TSV_ETOOMANY, "%d restores are already waiting for shards",
                               pending);
    }
    tsv_v1_restore *r = NULL;
    if (rc == 0) {
        tsv_v1_restore_options o = {.org = ctx->org,
                                    .backup_db = req->backup_db,
                                    .restore_db = req->restore_db,
                                    .backup_rp = req->backup_rp,
                                    .restore_rp = req->restore_rp};
        rc = tsv_store_v1_restore_begin(ctx->store, meta, (size_t)req->upload_size, &o, &r, err);
    }
    free(meta);
    if (rc != 0) {
        /* influxd answers a refused import with an empty map (the client
         * then says "DB metadata not changed"). */
        tsv_error ignored;
        send_id_map(fd, NULL, 0, &ignored);
        return -1;
    }
    size_t n;
    const tsv_shard_mapping *map = tsv_v1_restore_map(r, &n);
    if (n == 0) {
        /* Nothing to upload: the databases are made now, as influxd does. */
        rc = tsv_v1_restore_commit(r, err);
        tsv_v1_restore_free(r);
        tsv_error ignored;
        send_id_map(fd, NULL, 0, &ignored);
        return rc;
    }
    rpc_session *s = calloc(1, sizeof *s);
    if (!s) {
        tsv_v1_restore_free(r);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    s->restore = r;
    s->last = now_s();
    /* Registered before the answer goes out: the client's first upload may
     * arrive right after it. */
    pthread_mutex_lock(&ctx->mu);
    s->next = ctx->sessions;
    ctx->sessions = s;
    pthread_mutex_unlock(&ctx->mu);
    TSV_INFO("msg=\"1.x restore waiting for shards\" shards=%zu", n);
    if (send_id_map(fd, map, n, err) != 0) {
        /* The client cannot upload without the map: the restore is dead. */
        pthread_mutex_lock(&ctx->mu);
        s->failed = 1;
        pthread_mutex_unlock(&ctx->mu);
        return -1;
    }
    return 0;
}

static int shard_update(rpc_ctx *ctx, sock_reader *sr, tsv_error *err)
{
    uint8_t idb[8];
    if (read_exact(sr, idb, sizeof idb, err) != 0)
        return tsv_error_wrap(err, "shard ID");
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | idb[i];
    pthread_mutex_lock(&ctx->mu);
    rpc_session *s = ctx->sessions;
    while (s && (s->failed || !tsv_v1_restore_has_shard(s->restore, id)))
        s = s->next;
    int busy = 0, grown = -1;
    if (s) {
        for (size_t i = 0; i < s->n_busy; i++)
            busy |= s->busy[i] == id;
        if (!busy && (grown = TSV_ARRAY_GROW(s->busy, s->n_busy, s->cap_busy, NULL)) == 0) {
            s->busy[s->n_busy++] = id;
            s->active++;
            s->last = now_s();
        }
    }
    pthread_mutex_unlock(&ctx->mu);
    if (!s)
        return tsv_error_set(err, TSV_ENOTFOUND,
                             "shard %" PRIu64 " is not part of any pending 1.x restore (send the "
                             "metadata first)",
                             id);
    if (busy)
        return tsv_error_set(err, TSV_ECONFLICT, "shard %" PRIu64 " is already being uploaded", id);
    if (grown != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");

    int rc = tsv_v1_restore_stage_shard(s->restore, id, &sr->base, err);

    rpc_session *to_free = NULL, *to_commit = NULL;
    pthread_mutex_lock(&ctx->mu);
    for (size_t i = 0; i < s->n_busy; i++)
        if (s->busy[i] == id) {
            s->busy[i] = s->busy[--s->n_busy];
            break;
        }
    s->active--;
    s->last = now_s();
    if (rc != 0)
        s->failed = 1; /* all or nothing: one bad shard drops the whole restore */
    if (s->active == 0 && (s->failed || tsv_v1_restore_missing(s->restore) == 0)) {
        session_unlink(ctx, s);
        if (s->failed)
            to_free = s;
        else
            to_commit = s;
    }
    pthread_mutex_unlock(&ctx->mu);
    if (to_free) {
        TSV_WARN("msg=\"1.x restore abandoned: nothing was installed\" shard=%" PRIu64, id);
        session_free(to_free);
    }
    if (to_commit) {
        session_commit(to_commit, "all shards received");
        session_free(to_commit);
    }
    if (rc != 0)
        return tsv_error_wrap(err, "shard %" PRIu64, id);
    return 0;
}

void rpc__tick(rpc_ctx *ctx)
{
    time_t now = now_s();
    rpc_session *done = NULL;
    pthread_mutex_lock(&ctx->mu);
    for (rpc_session **p = &ctx->sessions; *p;) {
        rpc_session *s = *p;
        if (s->active == 0 && (s->failed || now - s->last >= ctx->timeout_s)) {
            *p = s->next;
            s->next = done;
            done = s;
        } else {
            p = &s->next;
        }
    }
    pthread_mutex_unlock(&ctx->mu);
    while (done) {
        rpc_session *s = done;
        done = s->next;
        size_t n;
        tsv_v1_restore_map(s->restore, &n);
        /* All or nothing: a restore whose client stopped before sending
         * every shard of the metadata is dropped (influxd keeps such a
         * half-restored database). */
        TSV_WARN("msg=\"1.x restore abandoned: nothing was installed\" reason=\"%s\" "
                 "shards=%zu missing=%zu",
                 s->failed ? "a shard upload failed" : "no upload for --rpc-timeout", n,
                 tsv_v1_restore_missing(s->restore));
        session_free(s);
    }
}

void rpc__drop_all(rpc_ctx *ctx)
{
    pthread_mutex_lock(&ctx->mu);
    rpc_session *s = ctx->sessions;
    ctx->sessions = NULL;
    pthread_mutex_unlock(&ctx->mu);
    while (s) {
        rpc_session *next = s->next;
        TSV_WARN("msg=\"1.x restore dropped at shutdown: nothing was installed\"");
        session_free(s);
        s = next;
    }
}

/* ---- one connection -------------------------------------------------------- */

static const char *type_name(int t)
{
    static const char *const names[] = {
        "shard backup",          "metastore backup", "series file backup", "database info",
        "retention policy info", "shard export",     "metastore update",   "shard update"};
    return t >= 0 && t < 8 ? names[t] : "unknown";
}

void rpc__serve_conn(rpc_ctx *ctx, int fd, const char *peer)
{
    sock_reader sr;
    sock_reader_init(&sr, fd, ctx->timeout_s);
    uint8_t hdr[2];
    tsv_error err;
    int type = -1;
    uint8_t *line = NULL;
    rpc_request req = {0};
    int rc = read_exact(&sr, hdr, 1, &err);
    if (rc == 0 && hdr[0] != MUX_HEADER)
        rc = tsv_error_set(&err, TSV_EINVALID, "unknown mux header 0x%02x", hdr[0]);
    if (rc == 0)
        rc = read_exact(&sr, hdr + 1, 1, &err);
    if (rc == 0) {
        type = hdr[1];
        switch (type) {
        case REQ_SHARD_UPDATE:
            rc = shard_update(ctx, &sr, &err);
            break;
        case REQ_SHARD_BACKUP:
        case REQ_SHARD_EXPORT:
        case REQ_METASTORE_BACKUP:
        case REQ_DATABASE_INFO:
        case REQ_RP_INFO:
        case REQ_META_UPDATE:
            rc = read_request(&sr, type, &req, &line, &err);
            if (rc != 0)
                break;
            if (type == REQ_SHARD_BACKUP || type == REQ_SHARD_EXPORT)
                rc = send_shard(ctx, fd, &req, &err);
            else if (type == REQ_METASTORE_BACKUP)
                rc = send_metastore(ctx, fd, &err);
            else if (type == REQ_META_UPDATE)
                rc = meta_update(ctx, fd, &sr, &req, &err);
            else
                rc = send_paths(ctx, fd, &req, &err);
            break;
        default:
            rc = tsv_error_set(&err, TSV_EINVALID, "request type unknown: %d", type);
        }
    }
    if (rc != 0)
        TSV_WARN("msg=\"1.x rpc connection closed\" peer=%s request=\"%s\" reason=\"%s\"", peer,
                 type_name(type), err.message);
    else
        TSV_DEBUG("msg=\"1.x rpc request served\" peer=%s request=\"%s\" shard=%" PRIu64, peer,
                  type_name(type), req.shard_id);
    tsv_json_free(req.doc);
    free(line);
    /* Say we are done, then swallow a little of what the peer may still be
     * sending: closing with unread input makes the kernel send a reset,
     * which can destroy the answer before the peer reads it. */
    shutdown(fd, SHUT_WR);
    struct timeval tv = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char sink[4096];
    for (int i = 0; i < 64 && recv(fd, sink, sizeof sink, 0) > 0; i++)
        ;
}
