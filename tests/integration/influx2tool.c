/*
 * tsv_influx2tool: a small driver of the InfluxDB 2.x backup client
 * (remote/influx2_backup.h) for tests/integration/test_influx2_client.sh.
 *
 *   TSV_INFLUX2_TOKEN=T tsv_influx2tool [--timeout MS] [--cafile F] [--skip-verify] URL CMD ...
 *     probe
 *     metadata DIR              DIR/kv, DIR/sql, DIR/buckets.json
 *     shard ID OUT [SINCE]      SINCE: RFC 3339
 *     backup DIR                metadata + every shard of the manifests as DIR/<id>.tar
 *     restore DIR [--full] [--bucket B] [--org O] [--new-bucket B] [--new-org O]
 *
 * The token comes from the environment, so it is not on a command line.
 * Exit 0 ok, 1 with "error [<code>]: <message>" on stderr, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "influx2_backup.h"
#include "json.h"
#include "tsv_time.h"

static int usage(void)
{
    fprintf(stderr, "usage: tsv_influx2tool [--timeout MS] [--cafile F] [--skip-verify] URL "
                    "probe|metadata|shard|backup|restore ...\n");
    return 2;
}

static int die(const tsv_error *e)
{
    fprintf(stderr, "error [%s]: %s\n", tsv_code_string(e->code), e->message);
    return 1;
}

/* Writes into a new file; *fd for closing. */
static tsv_writer *file_writer(const char *path, int *fd, tsv_error *err)
{
    *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (*fd < 0) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "%s", path);
        return NULL;
    }
    return tsv_fd_writer_new(*fd);
}

static int read_file(const char *path, tsv_buf *b, tsv_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINVALID, errno, "%s", path);
    char buf[65536];
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "%s", path);
            break;
        }
        if (n == 0)
            break;
        if (tsv_buf_append(b, buf, (size_t)n, err) != 0) {
            rc = -1;
            break;
        }
    }
    close(fd);
    return rc;
}

static int cmd_metadata(tsv_influx2 *c, const char *dir, tsv_buf *buckets, tsv_error *err)
{
    char p[4096];
    int kfd = -1, sfd = -1, bfd = -1, rc = -1;
    tsv_writer *kw = NULL, *sw = NULL;
    uint64_t bytes = 0;
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/kv", dir);
    if (!(kw = file_writer(p, &kfd, err)))
        goto out;
    snprintf(p, sizeof p, "%s/sql", dir);
    if (!(sw = file_writer(p, &sfd, err)))
        goto out;
    if (tsv_influx2_fetch_metadata(c, kw, sw, buckets, &bytes, err) != 0)
        goto out;
    snprintf(p, sizeof p, "%s/buckets.json", dir);
    bfd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (bfd < 0 || write(bfd, buckets->data, buckets->len) != (ssize_t)buckets->len) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "%s", p);
        goto out;
    }
    printf("metadata ok bytes=%" PRIu64 " buckets=%zu\n", bytes, buckets->len);
    rc = 0;
out:
    tsv_writer_free(kw);
    tsv_writer_free(sw);
    if (kfd >= 0)
        close(kfd);
    if (sfd >= 0)
        close(sfd);
    if (bfd >= 0)
        close(bfd);
    return rc;
}

static int cmd_shard(tsv_influx2 *c, uint64_t id, const char *out, int64_t since, tsv_error *err)
{
    int fd = -1;
    uint64_t bytes = 0;
    tsv_writer *w = file_writer(out, &fd, err);
    int rc = w ? tsv_influx2_fetch_shard(c, id, since, w, &bytes, err) : -1;
    if (rc == 0)
        printf("shard %" PRIu64 " ok bytes=%" PRIu64 "\n", id, bytes);
    tsv_writer_free(w);
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(out);
    return rc;
}

static int cmd_backup(tsv_influx2 *c, const char *dir, tsv_error *err)
{
    tsv_buf b = {0};
    tsv_json_doc *doc = NULL;
    int rc = cmd_metadata(c, dir, &b, err);
    if (rc == 0)
        rc = tsv_json_parse(&doc, (const char *)b.data, b.len, err);
    const tsv_json *arr = rc == 0 ? tsv_json_root(doc) : NULL;
    for (size_t i = 0; rc == 0 && i < arr->count; i++) {
        const tsv_json *rps = tsv_json_get(arr->items[i], "retentionPolicies");
        for (size_t r = 0; rc == 0 && rps && r < rps->count; r++) {
            const tsv_json *sgs = tsv_json_get(rps->items[r], "shardGroups");
            for (size_t g = 0; rc == 0 && sgs && g < sgs->count; g++) {
                const tsv_json *sh = tsv_json_get(sgs->items[g], "shards");
                for (size_t k = 0; rc == 0 && sh && k < sh->count; k++) {
                    uint64_t id = 0;
                    rc = tsv_json_u64(tsv_json_get(sh->items[k], "id"), &id, "id", err);
                    char p[4096];
                    snprintf(p, sizeof p, "%s/%" PRIu64 ".tar", dir, id);
                    if (rc == 0 && cmd_shard(c, id, p, INT64_MIN, err) != 0) {
                        if (err->code == TSV_ENOTFOUND) {
                            printf("shard %" PRIu64 " skipped: %s\n", id, err->message);
                        } else {
                            rc = -1;
                        }
                    }
                }
            }
        }
    }
    tsv_json_free(doc);
    tsv_buf_free(&b);
    return rc;
}

typedef struct shard_ctx {
    const char *dir;
    int fd;
    unsigned opened;
} shard_ctx;

static int open_shard(void *ctx, uint64_t id, tsv_reader **tar, tsv_error *err)
{
    shard_ctx *s = ctx;
    char p[4096];
    snprintf(p, sizeof p, "%s/%" PRIu64 ".tar", s->dir, id);
    s->fd = open(p, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0)
        return tsv_error_set_errno(err, errno == ENOENT ? TSV_ENOTFOUND : TSV_EINTERNAL, errno,
                                   "%s", p);
    if (!(*tar = tsv_fd_reader_new(s->fd))) {
        close(s->fd);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    s->opened++;
    return 0;
}

static void close_shard(void *ctx, tsv_reader *tar)
{
    shard_ctx *s = ctx;
    tsv_reader_free(tar);
    close(s->fd);
    s->fd = -1;
}

static int cmd_restore(tsv_influx2 *c, int argc, char **argv, tsv_error *err)
{
    tsv_influx2_restore_request req = {0};
    const char *dir = argv[0];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") == 0)
            req.full = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--bucket") == 0)
            req.bucket_name = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--org") == 0)
            req.org_name = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--new-bucket") == 0)
            req.new_bucket_name = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--new-org") == 0)
            req.new_org_name = argv[++i];
        else
            return tsv_error_set(err, TSV_EINVALID, "unknown restore argument %s", argv[i]);
    }
    tsv_buf b = {0};
    int kfd = -1, sfd = -1, rc = -1;
    shard_ctx sc = {.dir = dir, .fd = -1};
    char p[4096];
    snprintf(p, sizeof p, "%s/buckets.json", dir);
    if (read_file(p, &b, err) != 0)
        goto out;
    if (req.full) {
        snprintf(p, sizeof p, "%s/kv", dir);
        if ((kfd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
            tsv_error_set_errno(err, TSV_EINVALID, errno, "%s", p);
            goto out;
        }
        req.kv = tsv_fd_reader_new(kfd);
        snprintf(p, sizeof p, "%s/sql", dir);
        struct stat st;
        if (stat(p, &st) == 0 && st.st_size > 0 && (sfd = open(p, O_RDONLY | O_CLOEXEC)) >= 0)
            req.sql = tsv_fd_reader_new(sfd);
    }
    req.buckets_json = (const char *)b.data;
    req.buckets_len = b.len;
    req.open_shard = open_shard;
    req.close_shard = close_shard;
    req.ctx = &sc;
    uint64_t sent = 0;
    if (tsv_influx2_restore(c, &req, &sent, err) != 0)
        goto out;
    printf("restore ok sent=%" PRIu64 " shards=%u token_switched=%d\n", sent, sc.opened,
           tsv_influx2_token_switched(c));
    rc = 0;
out:
    tsv_reader_free(req.kv);
    tsv_reader_free(req.sql);
    if (kfd >= 0)
        close(kfd);
    if (sfd >= 0)
        close(sfd);
    tsv_buf_free(&b);
    return rc;
}

int main(int argc, char **argv)
{
    int i = 1, timeout = 0, skip = 0;
    const char *cafile = NULL;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = atoi(argv[++i]);
        else if (strcmp(argv[i], "--cafile") == 0 && i + 1 < argc)
            cafile = argv[++i];
        else if (strcmp(argv[i], "--skip-verify") == 0)
            skip = 1;
        else
            return usage();
    }
    if (argc - i < 2)
        return usage();
    const char *url = argv[i], *cmd = argv[i + 1];
    char **rest = argv + i + 2;
    int nrest = argc - i - 2;
    tsv_error err = {0};
    tsv_influx2 *c = NULL;
    int rc = 1;
    if (tsv_influx2_new(&c, url, getenv("TSV_INFLUX2_TOKEN"), &err) != 0)
        return die(&err);
    tsv_influx2_set_timeout(c, timeout);
    if ((cafile || skip) && tsv_influx2_set_tls(c, cafile, skip, &err) != 0)
        goto out;
    if (strcmp(cmd, "probe") == 0) {
        char summary[256];
        if (tsv_influx2_probe(c, summary, sizeof summary, &err) == 0) {
            printf("%s\n", summary);
            rc = 0;
        }
    } else if (strcmp(cmd, "metadata") == 0 && nrest == 1) {
        tsv_buf b = {0};
        rc = cmd_metadata(c, rest[0], &b, &err) == 0 ? 0 : 1;
        tsv_buf_free(&b);
    } else if (strcmp(cmd, "shard") == 0 && (nrest == 2 || nrest == 3)) {
        int64_t since = INT64_MIN;
        if (nrest == 3 && tsv_parse_rfc3339(rest[2], strlen(rest[2]), &since, &err) != 0)
            goto out;
        rc = cmd_shard(c, strtoull(rest[0], NULL, 10), rest[1], since, &err) == 0 ? 0 : 1;
    } else if (strcmp(cmd, "backup") == 0 && nrest == 1) {
        rc = cmd_backup(c, rest[0], &err) == 0 ? 0 : 1;
    } else if (strcmp(cmd, "restore") == 0 && nrest >= 1) {
        rc = cmd_restore(c, nrest, rest, &err) == 0 ? 0 : 1;
    } else {
        tsv_influx2_free(c);
        return usage();
    }
out:
    if (rc != 0)
        die(&err);
    tsv_influx2_free(c);
    return rc;
}
