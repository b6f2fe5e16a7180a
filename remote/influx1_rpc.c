/* influx1_rpc: client of InfluxDB 1.x's snapshotter protocol (influx1_rpc.h). */
#include "influx1_rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "array_grow.h"
#include "json.h"
#include "meta.h"
#include "tar_stream.h"
#include "tsv_time.h"

#define MUX_HEADER 0x03
#define MAGIC UINT64_C(0x59590101)
#define DEFAULT_PORT "8088"
/* Same cap as the server side's upload limit (server/rpc_snapshotter.c). */
#define MAX_META (64 * 1024 * 1024)
#define MAX_NODE_JSON (1024 * 1024)
#define MAX_PAIRS (1u << 20)
#define IO_CHUNK (64 * 1024)
/* Go's zero time: what influxd backup sends for "no -since". */
#define GO_ZERO_TIME "0001-01-01T00:00:00Z"

enum {
    REQ_SHARD_BACKUP = 0,
    REQ_METASTORE_BACKUP = 1,
    REQ_META_UPDATE = 6,
    REQ_SHARD_UPDATE = 7,
};

struct tsv_influx1_client {
    char *host; /* as given */
    char *node; /* without brackets */
    char *port;
    int timeout_ms;
    char tmo[32]; /* "5 s" / "250 ms" */
};

int tsv_influx1_client_new(tsv_influx1_client **out, const char *host, int timeout_ms,
                           tsv_error *err)
{
    *out = NULL;
    if (!host || !*host)
        return tsv_error_set(err, TSV_EINVALID, "no 1.x host given (want host:port)");
    if (timeout_ms <= 0)
        return tsv_error_set(err, TSV_EINVALID, "timeout must be positive, got %d ms", timeout_ms);
    const char *node = host, *port = NULL;
    size_t node_len;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (!close || close == host + 1 || (close[1] != '\0' && close[1] != ':'))
            return tsv_error_set(err, TSV_EINVALID, "bad 1.x host \"%s\" (want [v6]:port)", host);
        node = host + 1;
        node_len = (size_t)(close - node);
        port = close[1] == ':' ? close + 2 : NULL;
    } else {
        const char *colon = strchr(host, ':');
        if (colon && strchr(colon + 1, ':'))
            return tsv_error_set(err, TSV_EINVALID,
                                 "bad 1.x host \"%s\" (an IPv6 address needs brackets: [v6]:port)",
                                 host);
        node_len = colon ? (size_t)(colon - host) : strlen(host);
        port = colon ? colon + 1 : NULL;
    }
    if (port) {
        char *end;
        errno = 0;
        long p = strtol(port, &end, 10);
        if (!*port || *end || errno || p < 1 || p > 65535)
            return tsv_error_set(err, TSV_EINVALID, "bad port in 1.x host \"%s\"", host);
    }
    if (node_len == 0)
        return tsv_error_set(err, TSV_EINVALID, "no host name in \"%s\"", host);
    tsv_influx1_client *c = calloc(1, sizeof *c);
    if (!c)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    c->host = strdup(host);
    c->node = strndup(node, node_len);
    c->port = strdup(port ? port : DEFAULT_PORT);
    c->timeout_ms = timeout_ms;
    if (timeout_ms % 1000 == 0)
        snprintf(c->tmo, sizeof c->tmo, "%d s", timeout_ms / 1000);
    else
        snprintf(c->tmo, sizeof c->tmo, "%d ms", timeout_ms);
    if (!c->host || !c->node || !c->port) {
        tsv_influx1_client_free(c);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    *out = c;
    return 0;
}

void tsv_influx1_client_free(tsv_influx1_client *c)
{
    if (!c)
        return;
    free(c->host);
    free(c->node);
    free(c->port);
    free(c);
}

const char *tsv_influx1_client_host(const tsv_influx1_client *c) { return c->host; }

/* ---- connections ------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Nonblocking connect bounded by the remaining time; fd left blocking. */
static int connect_one(const tsv_influx1_client *c, const struct addrinfo *ai, int64_t deadline,
                       int *fd_out, int *errnum)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        *errnum = errno;
        return -1;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
        for (;;) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                *errnum = ETIMEDOUT;
                break;
            }
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int n = poll(&p, 1, (int)left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                *errnum = errno;
                break;
            }
            if (n == 0)
                continue; /* re-check the deadline */
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
                soerr = errno;
            if (soerr == 0)
                rc = 0;
            else
                *errnum = soerr;
            break;
        }
    } else if (rc != 0) {
        *errnum = errno;
    }
    if (rc == 0) {
        int fl = fcntl(fd, F_GETFL);
        struct timeval tv = {.tv_sec = c->timeout_ms / 1000,
                             .tv_usec = (c->timeout_ms % 1000) * 1000};
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
            *errnum = errno;
            rc = -1;
        }
    }
    if (rc != 0) {
        close(fd);
        return -1;
    }
    *fd_out = fd;
    return 0;
}

static int dial(const tsv_influx1_client *c, int *fd_out, tsv_error *err)
{
    *fd_out = -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(c->node, c->port, &hints, &res);
    if (g != 0)
        return tsv_error_set(err, TSV_EUNAVAILABLE, "resolve %s: %s", c->host,
                             g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    int64_t deadline = now_ms() + c->timeout_ms;
    int errnum = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (connect_one(c, ai, deadline, fd_out, &errnum) == 0)
            break;
    freeaddrinfo(res);
    if (*fd_out >= 0)
        return 0;
    if (errnum == ETIMEDOUT)
        return tsv_error_set(err, TSV_EUNAVAILABLE, "connect to %s: timed out after %s", c->host,
                             c->tmo);
    return tsv_error_set(err, TSV_EUNAVAILABLE, "connect to %s: %s", c->host, strerror(errnum));
}

/* what: "the metastore request", "shard 3" ... */
static int send_all(const tsv_influx1_client *c, int fd, const void *buf, size_t len,
                    const char *what, tsv_error *err)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return tsv_error_set(err, TSV_EUNAVAILABLE,
                                 "timed out after %s sending %s to %s (it stopped reading)", c->tmo,
                                 what, c->host);
        if (n <= 0)
            return tsv_error_set(err, TSV_EUNAVAILABLE, "send %s to %s: %s", what, c->host,
                                 strerror(n < 0 ? errno : EPIPE));
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One recv: bytes, 0 at end of stream, -1. */
static ssize_t recv_some(const tsv_influx1_client *c, int fd, void *buf, size_t len,
                         const char *what, tsv_error *err)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return tsv_error_set(err, TSV_EUNAVAILABLE, "timed out after %s waiting for %s from %s",
                                 c->tmo, what, c->host);
        return tsv_error_set(err, TSV_EUNAVAILABLE, "receive %s from %s: %s", what, c->host,
                             strerror(errno));
    }
}

static int recv_exact(const tsv_influx1_client *c, int fd, void *buf, size_t len, const char *what,
                      tsv_error *err)
{
    size_t have = 0;
    while (have < len) {
        ssize_t n = recv_some(c, fd, (uint8_t *)buf + have, len - have, what, err);
        if (n < 0)
            return -1;
        if (n == 0)
            return tsv_error_set(err, TSV_EINVALID,
                                 "%s closed the connection after %zu of %zu bytes of %s", c->host,
                                 have, len, what);
        have += (size_t)n;
    }
    return 0;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* ---- the request line --------------------------------------------------------- */

typedef struct request {
    int type;
    const char *backup_db, *restore_db, *backup_rp, *restore_rp;
    uint64_t shard_id;
    int64_t since_ns;
    int64_t upload_size;
} request;

/* Appends 0x03, the type byte and the JSON line as Go's json.Encoder writes
 * snapshotter.Request (field order, zero times, trailing newline). */
static int encode_request(const request *r, tsv_buf *out, tsv_error *err)
{
    uint8_t hdr[2] = {MUX_HEADER, (uint8_t)r->type};
    if (tsv_buf_append(out, hdr, 2, err) != 0)
        return -1;
    char since[TSV_RFC3339_MAX];
    if (r->since_ns == INT64_MIN)
        snprintf(since, sizeof since, "%s", GO_ZERO_TIME);
    else
        tsv_format_rfc3339nano(r->since_ns, since, sizeof since);
    tsv_json_writer jw;
    tsv_jw_init(&jw, out, NULL);
    tsv_jw_object_begin(&jw);
    tsv_jw_field_u64(&jw, "Type", (uint64_t)r->type);
    tsv_jw_field_string(&jw, "BackupDatabase", r->backup_db ? r->backup_db : "");
    tsv_jw_field_string(&jw, "RestoreDatabase", r->restore_db ? r->restore_db : "");
    tsv_jw_field_string(&jw, "BackupRetentionPolicy", r->backup_rp ? r->backup_rp : "");
    tsv_jw_field_string(&jw, "RestoreRetentionPolicy", r->restore_rp ? r->restore_rp : "");
    tsv_jw_field_u64(&jw, "ShardID", r->shard_id);
    tsv_jw_field_string(&jw, "Since", since);
    tsv_jw_field_string(&jw, "ExportStart", GO_ZERO_TIME);
    tsv_jw_field_string(&jw, "ExportEnd", GO_ZERO_TIME);
    tsv_jw_field_i64(&jw, "UploadSize", r->upload_size);
    tsv_jw_object_end(&jw);
    if (tsv_jw_finish(&jw, err) != 0)
        return -1;
    return tsv_buf_append(out, "\n", 1, err);
}

/* Connects and sends the request (plus payload, in the same write). */
static int start_request(const tsv_influx1_client *c, const request *r, const void *payload,
                         size_t payload_len, const char *what, int *fd_out, tsv_error *err)
{
    tsv_buf b = {0};
    int rc = encode_request(r, &b, err);
    if (rc == 0 && payload_len)
        rc = tsv_buf_append(&b, payload, payload_len, err);
    if (rc == 0)
        rc = dial(c, fd_out, err);
    if (rc == 0 && (rc = send_all(c, *fd_out, b.data, b.len, what, err)) != 0) {
        close(*fd_out);
        *fd_out = -1;
    }
    tsv_buf_free(&b);
    return rc;
}

/* ---- type 1: the metastore ---------------------------------------------------- */

static int read_meta(const tsv_influx1_client *c, int fd, uint8_t **meta, size_t *len,
                     tsv_error *err)
{
    const char *what = "the metastore";
    uint8_t hdr[16];
    ssize_t n = recv_some(c, fd, hdr, sizeof hdr, what, err);
    if (n < 0)
        return -1;
    if (n == 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "%s closed the connection without sending the metastore", c->host);
    if ((size_t)n < sizeof hdr && recv_exact(c, fd, hdr + n, sizeof hdr - (size_t)n, what, err))
        return -1;
    uint64_t magic = get_u64(hdr), mlen = get_u64(hdr + 8);
    if (magic != MAGIC)
        return tsv_error_set(err, TSV_EINVALID,
                             "bad magic 0x%016" PRIx64 " from %s (want 0x%08" PRIx64
                             "): not a 1.x metastore backup",
                             magic, c->host, MAGIC);
    if (mlen == 0 || mlen > MAX_META)
        return tsv_error_set(err, TSV_EINVALID,
                             "meta length %" PRIu64 " from %s %s (limit %d bytes)", mlen, c->host,
                             mlen == 0 ? "is empty" : "exceeds the limit", MAX_META);
    uint8_t *buf = malloc((size_t)mlen);
    if (!buf)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    uint8_t nl[8];
    int rc = recv_exact(c, fd, buf, (size_t)mlen, what, err);
    if (rc == 0)
        rc = recv_exact(c, fd, nl, sizeof nl, "the metastore's node length", err);
    uint64_t node_len = rc == 0 ? get_u64(nl) : 0;
    if (rc == 0 && node_len > MAX_NODE_JSON)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "node JSON length %" PRIu64 " from %s exceeds the limit (%d bytes)",
                           node_len, c->host, MAX_NODE_JSON);
    uint8_t sink[4096];
    while (rc == 0 && node_len > 0) {
        size_t k = node_len < sizeof sink ? (size_t)node_len : sizeof sink;
        rc = recv_exact(c, fd, sink, k, "the metastore's node JSON", err);
        node_len -= k;
    }
    Meta__Data *md = NULL;
    if (rc == 0 && tsv_meta_decode(buf, (size_t)mlen, &md, err) != 0)
        rc = tsv_error_wrap(err, "metastore from %s does not decode", c->host);
    tsv_meta_free(md);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *meta = buf;
    *len = (size_t)mlen;
    return 0;
}

int tsv_influx1_fetch_meta(tsv_influx1_client *c, uint8_t **meta, size_t *len, tsv_error *err)
{
    *meta = NULL;
    *len = 0;
    request r = {.type = REQ_METASTORE_BACKUP, .since_ns = INT64_MIN};
    int fd = -1;
    int rc = start_request(c, &r, NULL, 0, "the metastore request", &fd, err);
    if (rc == 0)
        rc = read_meta(c, fd, meta, len, err);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- type 0: one shard ---------------------------------------------------------- */

/* err = "shard N from H: source sent a truncated tar: ..." from the check's e. */
static int bad_tar(const tsv_influx1_client *c, uint64_t shard_id, const tsv_error *e,
                   tsv_error *err)
{
    return tsv_error_set(err, TSV_EINVALID, "shard %" PRIu64 " from %s: source sent a%s %s",
                         shard_id, c->host, e->message[0] == 'i' ? "n" : "", e->message);
}

int tsv_influx1_fetch_shard(tsv_influx1_client *c, const char *db, const char *rp,
                            uint64_t shard_id, int64_t since_ns, tsv_writer *w, uint64_t *bytes,
                            tsv_error *err)
{
    if (bytes)
        *bytes = 0;
    char what[64];
    snprintf(what, sizeof what, "shard %" PRIu64, shard_id);
    request r = {.type = REQ_SHARD_BACKUP,
                 .backup_db = db,
                 .backup_rp = rp,
                 .shard_id = shard_id,
                 .since_ns = since_ns};
    int fd = -1;
    uint64_t total = 0;
    tsv_writer *check = NULL; /* check only: the bytes go to w first */
    tsv_error e;
    uint8_t *buf = malloc(IO_CHUNK);
    int rc = buf ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (rc == 0)
        rc = tsv_tar_check_writer_new(&check, NULL, err);
    if (rc == 0)
        rc = start_request(c, &r, NULL, 0, "the shard request", &fd, err);
    while (rc == 0) {
        ssize_t n = recv_some(c, fd, buf, IO_CHUNK, what, err);
        if (n < 0) {
            rc = -1;
            if (total)
                tsv_error_wrap(err, "after %" PRIu64 " bytes", total);
            break;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (tsv_write(w, buf, (size_t)n, err) != 0)
            rc = -1;
        else if (tsv_write(check, buf, (size_t)n, &e) != 0)
            rc = bad_tar(c, shard_id, &e, err);
    }
    if (rc == 0 && total == 0)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "shard %" PRIu64 " from %s: source sent nothing (no such shard there, "
                           "or it failed: see its log)",
                           shard_id, c->host);
    if (rc == 0 && tsv_tar_check_finish(check, NULL, &e) != 0)
        rc = bad_tar(c, shard_id, &e, err);
    if (bytes)
        *bytes = total;
    if (fd >= 0)
        close(fd);
    tsv_writer_free(check);
    free(buf);
    return rc;
}

/* ---- restore ------------------------------------------------------------------ */

/* A shard of the backup's selection. */
typedef struct sel_shard {
    uint64_t old_id;
    const char *rp; /* source RP name, into the decoded tree */
    int deleted;    /* its group is deleted: influxd maps it, nothing to upload */
} sel_shard;

typedef struct selection {
    const char *db, *rp; /* rp NULL = every RP */
    sel_shard *v;
    size_t n, cap;
} selection;

static int select_shard(const Meta__DatabaseInfo *db, const Meta__RetentionPolicyInfo *rp,
                        const Meta__ShardGroupInfo *group, const Meta__ShardInfo *shard, void *ctx,
                        tsv_error *err)
{
    selection *s = ctx;
    if (strcmp(db->name, s->db) != 0 || (s->rp && strcmp(rp->name, s->rp) != 0))
        return 0;
    if (TSV_ARRAY_GROW(s->v, s->n, s->cap, err) != 0)
        return -1;
    s->v[s->n++] = (sel_shard){shard->id, rp->name, group->deletedat != 0};
    return 0;
}

static const sel_shard *find_sel(const selection *s, uint64_t old_id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].old_id == old_id)
            return &s->v[i];
    return NULL;
}

/* The socket as a tsv_writer (counts what it sent). */
typedef struct sock_writer {
    tsv_writer base;
    const tsv_influx1_client *c;
    int fd;
    uint64_t sent;
    const char *what;
} sock_writer;

static int sock_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    sock_writer *s = (sock_writer *)w;
    if (send_all(s->c, s->fd, buf, len, s->what, err) != 0)
        return -1;
    s->sent += len;
    return 0;
}

typedef struct rename_ctx {
    const char *db, *rp;
    uint64_t old_id, new_id;
} rename_ctx;

/* "<db>/<rp>/<id>/<rest>" -> "<newdb>/<rp>/<newID>/<rest>", as influxd
 * restore rewrites them (the target keeps only entries under the shard's
 * own path). */
static int rename_entry(void *ctx, const char *name, char *out, size_t outlen, tsv_error *err)
{
    rename_ctx *r = ctx;
    const char *p = name;
    for (int i = 0; i < 3 && p; i++) {
        p = strchr(p, '/');
        if (p)
            p++;
    }
    if (name[0] == '/' || !p || !*p || strstr(name, "//"))
        return tsv_error_set(err, TSV_EINVALID,
                             "entry \"%s\" of shard %" PRIu64 "'s tar is not <db>/<rp>/<id>/<file>",
                             name, r->old_id);
    for (const char *q = p; q; q = strchr(q, '/')) {
        q += *q == '/';
        if (strncmp(q, "..", 2) == 0 && (q[2] == '/' || q[2] == '\0'))
            return tsv_error_set(err, TSV_EINVALID,
                                 "entry \"%s\" of shard %" PRIu64 "'s tar has a \"..\" part", name,
                                 r->old_id);
    }
    int n = snprintf(out, outlen, "%s/%s/%" PRIu64 "/%s", r->db, r->rp, r->new_id, p);
    if (n < 0 || (size_t)n >= outlen)
        return tsv_error_set(err, TSV_EINVALID, "entry name \"%s\" is too long", name);
    return 1;
}

/* Waits until the peer closes its side (it has taken the whole upload). */
static int wait_close(const tsv_influx1_client *c, int fd, const char *what, tsv_error *err)
{
    uint8_t sink[512];
    for (;;) {
        ssize_t n = recv_some(c, fd, sink, sizeof sink, what, err);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
    }
}

static int upload_shard(const tsv_influx1_client *c, const rename_ctx *rn, tsv_reader *tar,
                        uint64_t *sent, tsv_error *err)
{
    char what[96];
    snprintf(what, sizeof what, "shard %" PRIu64 " (new ID %" PRIu64 ")", rn->old_id, rn->new_id);
    uint8_t hdr[10] = {MUX_HEADER, REQ_SHARD_UPDATE};
    put_u64(hdr + 2, rn->new_id);
    sock_writer sw = {.base = {.write = sock_write}, .c = c, .fd = -1, .what = what};
    int rc = dial(c, &sw.fd, err);
    /* one write: influxd reads the ID with a single read() */
    if (rc == 0)
        rc = send_all(c, sw.fd, hdr, sizeof hdr, what, err);
    if (rc == 0)
        rc = tsv_tar_rewrite(tar, &sw.base, rename_entry, (void *)rn, NULL, err);
    if (rc == 0 && shutdown(sw.fd, SHUT_WR) != 0)
        rc = tsv_error_set(err, TSV_EUNAVAILABLE, "send %s to %s: %s", what, c->host,
                           strerror(errno));
    if (rc == 0)
        rc = wait_close(c, sw.fd, what, err);
    if (rc != 0 && strstr(err ? err->message : "", what) == NULL)
        tsv_error_wrap(err, "%s", what);
    if (sw.fd >= 0)
        close(sw.fd);
    *sent += sw.sent;
    return rc;
}

/* The target's metastore shows db with every new shard (in the right RP). */
static int check_target(const Meta__Data *md, const char *db, const tsv_influx1_shard_pair *pairs,
                        const char *const *rps, size_t n, char *why, size_t whylen)
{
    if (!tsv_meta_find_database(md, db)) {
        snprintf(why, whylen, "database \"%s\" does not exist there", db);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const Meta__DatabaseInfo *d;
        const Meta__RetentionPolicyInfo *rp;
        if (!rps[i])
            continue; /* a deleted group's shard */
        if (tsv_meta_find_shard(md, pairs[i].new_id, &d, &rp, NULL, NULL) != 0 ||
            strcmp(d->name, db) != 0 || strcmp(rp->name, rps[i]) != 0) {
            snprintf(why, whylen, "shard %" PRIu64 " is not in %s/%s there", pairs[i].new_id, db,
                     rps[i]);
            return -1;
        }
    }
    return 0;
}

static int verify_target(tsv_influx1_client *c, const char *db, const tsv_influx1_shard_pair *pairs,
                         const char *const *rps, size_t n, tsv_error *err)
{
    int64_t deadline = now_ms() + (c->timeout_ms > 2000 ? c->timeout_ms : 2000);
    char why[256] = "";
    for (;;) {
        uint8_t *meta = NULL;
        size_t len = 0;
        Meta__Data *md = NULL;
        if (tsv_influx1_fetch_meta(c, &meta, &len, err) != 0)
            return tsv_error_wrap(err, "checking the restore");
        int rc = tsv_meta_decode(meta, len, &md, err);
        if (rc == 0)
            rc = check_target(md, db, pairs, rps, n, why, sizeof why) == 0 ? 0 : 1;
        tsv_meta_free(md);
        free(meta);
        if (rc <= 0)
            return rc;
        if (now_ms() > deadline)
            return tsv_error_set(err, TSV_EINTERNAL,
                                 "restore into %s not confirmed: %s (its metastore, after %s)",
                                 c->host, why, c->tmo);
        struct timespec ts = {.tv_nsec = 100 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static const char *nz(const char *s) { return s && *s ? s : NULL; }

/* Type 6: sends the meta, reads the ID map. */
static int send_meta(tsv_influx1_client *c, const tsv_influx1_restore_request *req,
                     const char *target_db, const char *target_rp, tsv_influx1_shard_pair **pairs,
                     size_t *n, tsv_error *err)
{
    request r = {.type = REQ_META_UPDATE,
                 .backup_db = req->backup_db,
                 .restore_db = target_db,
                 .backup_rp = nz(req->backup_rp),
                 .restore_rp = target_rp,
                 .since_ns = INT64_MIN,
                 .upload_size = (int64_t)req->meta_len};
    const char *what = "the shard ID map";
    int fd = -1;
    tsv_influx1_shard_pair *v = NULL;
    uint8_t hdr[16];
    uint64_t count = 0;
    int rc = start_request(c, &r, req->meta, req->meta_len, "the metadata", &fd, err);
    if (rc == 0)
        rc = recv_exact(c, fd, hdr, sizeof hdr, what, err);
    if (rc == 0 && get_u64(hdr) != MAGIC)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "bad magic 0x%016" PRIx64
                           " from %s in the shard ID map (want 0x%08" PRIx64 ")",
                           get_u64(hdr), c->host, MAGIC);
    if (rc == 0) {
        count = get_u64(hdr + 8);
        if (count == 0)
            rc = tsv_error_set(err, TSV_ECONFLICT,
                               "%s refused the metadata of database \"%s\" (restored as \"%s\"): "
                               "DB metadata not changed; the database may already exist there, or "
                               "the metadata was refused (see its log)",
                               c->host, req->backup_db, target_db);
        else if (count > MAX_PAIRS)
            rc = tsv_error_set(err, TSV_EINVALID,
                               "shard ID map of %" PRIu64 " pairs from %s exceeds the limit (%u)",
                               count, c->host, MAX_PAIRS);
    }
    if (rc == 0 && !(v = calloc((size_t)count, sizeof *v)))
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (uint64_t i = 0; rc == 0 && i < count; i++) {
        uint8_t pair[16];
        rc = recv_exact(c, fd, pair, sizeof pair, what, err);
        v[i].old_id = get_u64(pair);
        v[i].new_id = get_u64(pair + 8);
    }
    if (fd >= 0)
        close(fd);
    if (rc != 0) {
        free(v);
        return -1;
    }
    *pairs = v;
    *n = (size_t)count;
    return 0;
}

int tsv_influx1_restore_database(tsv_influx1_client *c, const tsv_influx1_restore_request *req,
                                 uint64_t *bytes_sent, tsv_error *err)
{
    uint64_t sent = 0;
    if (bytes_sent)
        *bytes_sent = 0;
    if (req->pairs_out)
        *req->pairs_out = NULL;
    if (req->n_pairs_out)
        *req->n_pairs_out = 0;
    if (!req->meta || req->meta_len == 0 || req->meta_len > MAX_META)
        return tsv_error_set(err, TSV_EINVALID, "restore: no metadata or more than %d bytes",
                             MAX_META);
    if (!nz(req->backup_db))
        return tsv_error_set(err, TSV_EINVALID, "restore: no database named");
    if (!req->open_shard)
        return tsv_error_set(err, TSV_EINVALID, "restore: no open_shard callback");
    if (nz(req->restore_rp) && !nz(req->backup_rp))
        return tsv_error_set(err, TSV_EINVALID, "restore: a new RP name needs the RP to restore");
    const char *target_db = nz(req->restore_db) ? req->restore_db : req->backup_db;
    const char *target_rp = nz(req->restore_rp) ? req->restore_rp : nz(req->backup_rp);

    int rc = -1;
    Meta__Data *md = NULL;
    selection sel = {.db = req->backup_db, .rp = nz(req->backup_rp)};
    tsv_influx1_shard_pair *pairs = NULL;
    const char **rps = NULL;
    size_t n = 0;
    static const uint8_t empty_tar[1024];

    if (tsv_meta_decode(req->meta, req->meta_len, &md, err) != 0) {
        tsv_error_wrap(err, "restore: the backup's metadata");
        goto out;
    }
    const Meta__DatabaseInfo *sdb = tsv_meta_find_database(md, req->backup_db);
    if (!sdb) {
        tsv_error_set(err, TSV_ENOTFOUND, "restore: database \"%s\" is not in the backup",
                      req->backup_db);
        goto out;
    }
    if (sel.rp) {
        size_t i = 0;
        while (i < sdb->n_retentionpolicies && strcmp(sdb->retentionpolicies[i]->name, sel.rp))
            i++;
        if (i == sdb->n_retentionpolicies) {
            tsv_error_set(
                err, TSV_ENOTFOUND,
                "restore: retention policy \"%s\" of database \"%s\" is not in the backup", sel.rp,
                req->backup_db);
            goto out;
        }
    }
    if (tsv_meta_foreach_shard(md, 1, select_shard, &sel, err) != 0)
        goto out;
    if (send_meta(c, req, target_db, target_rp, &pairs, &n, err) != 0)
        goto out;
    if (!(rps = calloc(n, sizeof *rps))) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    /* The map must be about the shards we sent, each once. */
    for (size_t i = 0; i < n; i++) {
        const sel_shard *s = find_sel(&sel, pairs[i].old_id);
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= pairs[j].old_id == pairs[i].old_id || pairs[j].new_id == pairs[i].new_id;
        if (!s || dup || pairs[i].new_id == 0) {
            tsv_error_set(err, TSV_EINVALID,
                          "%s answered a bad shard ID pair (%" PRIu64 " -> %" PRIu64 "): %s",
                          c->host, pairs[i].old_id, pairs[i].new_id,
                          !s ? "not a shard of the restored database" : "duplicate or zero ID");
            goto out;
        }
        rps[i] = s->deleted ? NULL : target_rp ? target_rp : s->rp;
    }
    for (size_t i = 0; i < n; i++) {
        if (!rps[i])
            continue;
        tsv_reader *tar = NULL;
        tsv_error oe = {0};
        int from_caller = 1;
        if (req->open_shard(req->ctx, pairs[i].old_id, &tar, &oe) != 0) {
            if (oe.code != TSV_ENOTFOUND) {
                if (err)
                    *err = oe;
                tsv_error_wrap(err, "restore: open shard %" PRIu64, pairs[i].old_id);
                goto out;
            }
            from_caller = 0; /* no tar in the backup: the shard is made empty */
            if (!(tar = tsv_mem_reader_new(empty_tar, sizeof empty_tar))) {
                tsv_error_set(err, TSV_EINTERNAL, "out of memory");
                goto out;
            }
        }
        rename_ctx rn = {target_db, rps[i], pairs[i].old_id, pairs[i].new_id};
        int up = upload_shard(c, &rn, tar, &sent, err);
        if (!from_caller)
            tsv_reader_free(tar);
        else if (req->close_shard)
            req->close_shard(req->ctx, tar);
        if (up != 0)
            goto out;
    }
    if (verify_target(c, target_db, pairs, rps, n, err) != 0)
        goto out;
    rc = 0;
    if (req->pairs_out) {
        *req->pairs_out = pairs;
        pairs = NULL;
    }
    if (req->n_pairs_out)
        *req->n_pairs_out = n;
out:
    if (bytes_sent)
        *bytes_sent = sent;
    free(pairs);
    free(rps);
    free(sel.v);
    tsv_meta_free(md);
    return rc;
}

/* ---- probe -------------------------------------------------------------------- */

static int count_shard(const Meta__DatabaseInfo *db, const Meta__RetentionPolicyInfo *rp,
                       const Meta__ShardGroupInfo *group, const Meta__ShardInfo *shard, void *ctx,
                       tsv_error *err)
{
    (void)db, (void)rp, (void)group, (void)shard, (void)err;
    (*(size_t *)ctx)++;
    return 0;
}

int tsv_influx1_probe(tsv_influx1_client *c, char *summary, size_t len, tsv_error *err)
{
    if (summary && len)
        summary[0] = '\0';
    uint8_t *meta = NULL;
    size_t mlen = 0, shards = 0;
    Meta__Data *md = NULL;
    int rc = tsv_influx1_fetch_meta(c, &meta, &mlen, err);
    if (rc == 0)
        rc = tsv_meta_decode(meta, mlen, &md, err);
    if (rc == 0)
        rc = tsv_meta_foreach_shard(md, 0, count_shard, &shards, err);
    if (rc == 0 && summary && len) {
        size_t used = (size_t)snprintf(summary, len, "%zu database%s", md->n_databases,
                                       md->n_databases == 1 ? "" : "s");
        for (size_t i = 0; i < md->n_databases && used < len; i++) {
            int k = snprintf(summary + used, len - used, "%s%s", i ? ", " : " (",
                             md->databases[i]->name);
            used += k > 0 ? (size_t)k : 0;
        }
        if (used < len)
            used += (size_t)snprintf(summary + used, len - used, "%s, %zu shard%s",
                                     md->n_databases ? ")" : "", shards, shards == 1 ? "" : "s");
    }
    tsv_meta_free(md);
    free(meta);
    return rc;
}
