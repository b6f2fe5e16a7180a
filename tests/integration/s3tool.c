/*
 * tsv_s3tool: a small driver of the S3 client (remote/s3_client.h) for
 * tests/integration/test_s3_client.sh.
 *
 *   tsv_s3tool mb BUCKET
 *   tsv_s3tool put BUCKET KEY FILE     prints "size etag sha256"
 *   tsv_s3tool get BUCKET KEY FILE     prints "size etag sha256 verified"
 *   tsv_s3tool head BUCKET KEY         prints "size etag sha256"
 *   tsv_s3tool rm BUCKET KEY
 *   tsv_s3tool ls BUCKET [PREFIX]      prints "key size etag" per object
 *
 * Configuration from the environment, so secrets stay off command lines:
 * S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY (required), S3_REGION,
 * S3_SESSION_TOKEN, S3_VHOST=1, S3_CA_FILE, S3_INSECURE=1, S3_PART_SIZE,
 * S3_THRESHOLD, S3_ATTEMPTS, S3_BACKOFF_MS, S3_BACKOFF_MAX_MS,
 * S3_CONNECT_MS, S3_STALL_S, S3_MAX_KEYS.
 * Exit 0 ok, 1 with "error [<code>]: <message>" on stderr, 2 usage.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3_client.h"

static int usage(void)
{
    fprintf(stderr, "usage: tsv_s3tool mb|put|get|head|rm|ls BUCKET [KEY [FILE]]\n");
    return 2;
}

static int die(const tsv_error *e)
{
    fprintf(stderr, "error [%s]: %s\n", tsv_code_string(e->code), e->message);
    return 1;
}

static long num(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : 0;
}

static int print_entry(const tsv_s3_entry *e, void *ud, tsv_error *err)
{
    (void)ud, (void)err;
    printf("%s %" PRIu64 " %s\n", e->key, e->size, e->etag);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *cmd = argv[1], *bucket = argv[2];
    tsv_s3_config cfg = {0};
    cfg.endpoint = getenv("S3_ENDPOINT");
    cfg.region = getenv("S3_REGION");
    cfg.access_key = getenv("S3_ACCESS_KEY");
    cfg.secret_key = getenv("S3_SECRET_KEY");
    cfg.session_token = getenv("S3_SESSION_TOKEN");
    cfg.addressing = num("S3_VHOST") ? TSV_S3_VIRTUAL_HOST : TSV_S3_PATH_STYLE;
    cfg.ca_file = getenv("S3_CA_FILE");
    cfg.skip_verify = (int)num("S3_INSECURE");
    cfg.part_size = (size_t)num("S3_PART_SIZE");
    cfg.multipart_threshold = (uint64_t)num("S3_THRESHOLD");
    cfg.max_attempts = (int)num("S3_ATTEMPTS");
    cfg.backoff_base_ms = (int)num("S3_BACKOFF_MS");
    cfg.backoff_max_ms = (int)num("S3_BACKOFF_MAX_MS");
    cfg.connect_timeout_ms = (int)num("S3_CONNECT_MS");
    cfg.stall_timeout_s = (int)num("S3_STALL_S");
    cfg.list_max_keys = (int)num("S3_MAX_KEYS");
    tsv_error e = {0};
    tsv_s3 *c = NULL;
    if (tsv_s3_new(&c, &cfg, &e) != 0)
        return die(&e);
    int rc = 0, fd = -1;
    tsv_s3_object o = {0};
    if (strcmp(cmd, "mb") == 0 && argc == 3) {
        rc = tsv_s3_create_bucket(c, bucket, &e);
    } else if (strcmp(cmd, "put") == 0 && argc == 5) {
        if ((fd = open(argv[4], O_RDONLY | O_CLOEXEC)) < 0) {
            perror(argv[4]);
            tsv_s3_free(c);
            return 1;
        }
        rc = tsv_s3_put_file(c, bucket, argv[3], fd, &o, &e);
        if (rc == 0)
            printf("%" PRIu64 " %s %s\n", o.size, o.etag, o.sha256);
    } else if (strcmp(cmd, "get") == 0 && argc == 5) {
        if ((fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
            perror(argv[4]);
            tsv_s3_free(c);
            return 1;
        }
        rc = tsv_s3_get(c, bucket, argv[3], fd, &o, &e);
        if (rc == 0)
            printf("%" PRIu64 " %s %s %d\n", o.size, o.etag, o.sha256[0] ? o.sha256 : "-",
                   o.verified);
    } else if (strcmp(cmd, "head") == 0 && argc == 4) {
        rc = tsv_s3_head(c, bucket, argv[3], &o, &e);
        if (rc == 0)
            printf("%" PRIu64 " %s %s\n", o.size, o.etag, o.sha256[0] ? o.sha256 : "-");
    } else if (strcmp(cmd, "rm") == 0 && argc == 4) {
        rc = tsv_s3_delete(c, bucket, argv[3], &e);
    } else if (strcmp(cmd, "ls") == 0 && (argc == 3 || argc == 4)) {
        rc = tsv_s3_list(c, bucket, argc == 4 ? argv[3] : NULL, print_entry, NULL, &e);
    } else {
        tsv_s3_free(c);
        return usage();
    }
    if (fd >= 0)
        close(fd);
    tsv_s3_free(c);
    return rc == 0 ? 0 : die(&e);
}
