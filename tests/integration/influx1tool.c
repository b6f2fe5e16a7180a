/*
 * tsv_influx1tool: test driver of remote/influx1_rpc.h (the 1.x snapshotter
 * client) for tests/integration/test_influx1_client.sh.
 *
 *   probe   HOST
 *   fetch   HOST DIR [SINCE]   metastore -> DIR/meta.bin, every live shard ->
 *                              DIR/shard-<id>.tar; one line per shard
 *                              ("<db> <rp> <id> <bytes>") and a closing
 *                              "fetched N shards, B bytes in S s" line
 *   shard   HOST DB RP ID OUT [SINCE]   one shard (SINCE: RFC 3339)
 *   restore HOST DIR DB NEWDB [RP NEWRP]   from a `fetch` directory
 *
 * Timeout: $TSV_INFLUX1_TIMEOUT_MS (default 10000). Exit 0 or 1 with the
 * error on stderr ("error: <code>: <message>").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "influx1_rpc.h"
#include "meta.h"
#include "stream.h"
#include "tsv_time.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_since(const char *s, int64_t *out, tsv_error *err)
{
    *out = INT64_MIN;
    if (!s || !*s)
        return 0;
    return tsv_parse_rfc3339(s, strlen(s), out, err);
}

static int fetch_one(tsv_influx1_client *c, const char *db, const char *rp, uint64_t id,
                     int64_t since, const char *path, uint64_t *bytes, tsv_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    tsv_writer *w = tsv_fd_writer_new(fd);
    int rc = w ? tsv_influx1_fetch_shard(c, db, rp, id, since, w, bytes, err)
               : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    tsv_writer_free(w);
    if (close(fd) != 0 && rc == 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "close %s", path);
    return rc;
}

typedef struct fetch_ctx {
    tsv_influx1_client *c;
    const char *dir;
    int64_t since;
    uint64_t shards, bytes;
} fetch_ctx;

static int fetch_shard_cb(const Meta__DatabaseInfo *db, const Meta__RetentionPolicyInfo *rp,
                          const Meta__ShardGroupInfo *group, const Meta__ShardInfo *shard,
                          void *ctx, tsv_error *err)
{
    (void)group;
    fetch_ctx *f = ctx;
    char path[4096];
    snprintf(path, sizeof path, "%s/shard-%" PRIu64 ".tar", f->dir, shard->id);
    uint64_t n = 0;
    if (fetch_one(f->c, db->name, rp->name, shard->id, f->since, path, &n, err) != 0)
        return -1;
    printf("%s %s %" PRIu64 " %" PRIu64 "\n", db->name, rp->name, shard->id, n);
    f->shards++;
    f->bytes += n;
    return 0;
}

static int write_file(const char *path, const void *buf, size_t len, tsv_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    int ok = fwrite(buf, 1, len, f) == len;
    ok &= fclose(f) == 0;
    return ok ? 0 : tsv_error_set_errno(err, TSV_EINTERNAL, errno, "write %s", path);
}

static int read_file(const char *path, uint8_t **buf, size_t *len, tsv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    tsv_buf b = {0};
    uint8_t chunk[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = tsv_buf_append(&b, chunk, n, err);
    fclose(f);
    if (rc != 0) {
        tsv_buf_free(&b);
        return -1;
    }
    *buf = b.data;
    *len = b.len;
    return 0;
}

static int cmd_fetch(tsv_influx1_client *c, const char *dir, const char *since_s, tsv_error *err)
{
    fetch_ctx f = {.c = c, .dir = dir};
    uint8_t *meta = NULL;
    size_t len = 0;
    Meta__Data *md = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.bin", dir);
    double t0 = now_s();
    int rc = parse_since(since_s, &f.since, err);
    if (rc == 0)
        rc = tsv_influx1_fetch_meta(c, &meta, &len, err);
    if (rc == 0)
        rc = write_file(path, meta, len, err);
    if (rc == 0)
        rc = tsv_meta_decode(meta, len, &md, err);
    if (rc == 0)
        rc = tsv_meta_foreach_shard(md, 0, fetch_shard_cb, &f, err);
    double dt = now_s() - t0;
    if (rc == 0)
        printf("fetched %" PRIu64 " shards, %" PRIu64 " bytes in %.3f s (%.1f MB/s), meta %zu "
               "bytes\n",
               f.shards, f.bytes, dt, dt > 0 ? f.bytes / dt / 1e6 : 0.0, len);
    tsv_meta_free(md);
    free(meta);
    return rc;
}

typedef struct restore_ctx {
    const char *dir;
    int fds[1024];
    tsv_reader *rds[1024];
    int n;
} restore_ctx;

static int open_shard(void *ctx, uint64_t old_id, tsv_reader **tar, tsv_error *err)
{
    restore_ctx *r = ctx;
    char path[4096];
    snprintf(path, sizeof path, "%s/shard-%" PRIu64 ".tar", r->dir, old_id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, errno == ENOENT ? TSV_ENOTFOUND : TSV_EINTERNAL, errno,
                                   "open %s", path);
    if (r->n == 1024) {
        close(fd);
        return tsv_error_set(err, TSV_EINTERNAL, "too many shards");
    }
    *tar = tsv_fd_reader_new(fd);
    r->fds[r->n] = fd;
    r->rds[r->n++] = *tar;
    return 0;
}

static void close_shard(void *ctx, tsv_reader *tar)
{
    restore_ctx *r = ctx;
    for (int i = 0; i < r->n; i++)
        if (r->rds[i] == tar) {
            tsv_reader_free(tar);
            close(r->fds[i]);
            r->rds[i] = NULL;
        }
}

static int cmd_restore(tsv_influx1_client *c, char **a, int n, tsv_error *err)
{
    restore_ctx r = {.dir = a[0]};
    uint8_t *meta = NULL;
    size_t len = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.bin", a[0]);
    if (read_file(path, &meta, &len, err) != 0)
        return -1;
    tsv_influx1_shard_pair *pairs = NULL;
    size_t np = 0;
    tsv_influx1_restore_request req = {.meta = meta,
                                       .meta_len = len,
                                       .backup_db = a[1],
                                       .restore_db = a[2],
                                       .backup_rp = n > 3 ? a[3] : NULL,
                                       .restore_rp = n > 4 ? a[4] : NULL,
                                       .open_shard = open_shard,
                                       .close_shard = close_shard,
                                       .ctx = &r,
                                       .pairs_out = &pairs,
                                       .n_pairs_out = &np};
    uint64_t sent = 0;
    double t0 = now_s();
    int rc = tsv_influx1_restore_database(c, &req, &sent, err);
    double dt = now_s() - t0;
    for (size_t i = 0; rc == 0 && i < np; i++)
        printf("shard %" PRIu64 " -> %" PRIu64 "\n", pairs[i].old_id, pairs[i].new_id);
    if (rc == 0)
        printf("restored %zu shards, %" PRIu64 " bytes sent in %.3f s\n", np, sent, dt);
    free(pairs);
    free(meta);
    return rc;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: tsv_influx1tool probe HOST | fetch HOST DIR [SINCE] |\n"
            "       shard HOST DB RP ID OUT [SINCE] | restore HOST DIR DB NEWDB [RP NEWRP]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    const char *t = getenv("TSV_INFLUX1_TIMEOUT_MS");
    int timeout = t && *t ? atoi(t) : 10000;
    tsv_error err = {0};
    tsv_influx1_client *c = NULL;
    int rc = tsv_influx1_client_new(&c, argv[2], timeout, &err);
    const char *cmd = argv[1];
    if (rc != 0) {
        /* reported below */
    } else if (strcmp(cmd, "probe") == 0 && argc == 3) {
        char sum[512];
        rc = tsv_influx1_probe(c, sum, sizeof sum, &err);
        if (rc == 0)
            printf("%s\n", sum);
    } else if (strcmp(cmd, "fetch") == 0 && (argc == 4 || argc == 5)) {
        rc = cmd_fetch(c, argv[3], argc == 5 ? argv[4] : NULL, &err);
    } else if (strcmp(cmd, "shard") == 0 && (argc == 7 || argc == 8)) {
        int64_t since;
        uint64_t n = 0;
        rc = parse_since(argc == 8 ? argv[7] : NULL, &since, &err);
        if (rc == 0)
            rc = fetch_one(c, argv[3], argv[4], strtoull(argv[5], NULL, 10), since, argv[6], &n,
                           &err);
        if (rc == 0)
            printf("%" PRIu64 " bytes\n", n);
    } else if (strcmp(cmd, "restore") == 0 && (argc == 6 || argc == 8)) {
        rc = cmd_restore(c, argv + 3, argc - 3, &err);
    } else {
        tsv_influx1_client_free(c);
        usage();
    }
    tsv_influx1_client_free(c);
    if (rc != 0) {
        fprintf(stderr, "error: %s: %s\n", tsv_code_string(err.code), err.message);
        return 1;
    }
    return 0;
}
