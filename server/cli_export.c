/*
 * cli_export: `tsvault export` and `tsvault stats` (cli.h). With --data-dir
 * the store is opened read-only in this process; with --host the running
 * server's /api/v2/export and /api/v2/buckets/{id}/stats are called through
 * remote/influx_client.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array_grow.h"
#include "bucket_layout.h"
#include "cli.h"
#include "cli_progress.h"
#include "export_lp.h"
#include "influx_client.h"
#include "json.h"
#include "store.h"
#include "tsm_stats.h"
#include "tsv_log.h"
#include "tsv_time.h"

typedef struct export_args {
    tsv_cli_target t;
    const char *bucket_id, *bucket, *org, *rp, *db, *out, *compress;
    const char *start_s, *stop_s;
    int64_t start, stop;
    const char **meas;
    size_t n_meas;
    size_t cap_meas; /* allocated length of meas (array_grow.h) */
    int quiet;
} export_args;

static void export_usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "Usage: tsvault %s (--data-dir DIR | [--host URL] [--token TOKEN])\n"
            "         (--bucket-id ID | --bucket NAME --org NAME)\n"
            "         [--ca-file PEM] [--skip-verify]   (https:// hosts; default: verify)\n",
            cmd);
    if (strcmp(cmd, "export") == 0)
        fprintf(f, "         [--rp NAME] [--start RFC3339] [--stop RFC3339] [--measurement M]...\n"
                   "         [--db NAME] [--out FILE] [--compress gzip|zstd] [--quiet]\n"
                   "Writes the bucket as line protocol in influx_inspect export's format, with\n"
                   "a progress display on stderr (bytes written, rate) unless --quiet.\n");
    else
        fprintf(f, "Prints the bucket's statistics (JSON).\n");
    tsv_cli_target_help(f);
    tsv_cli_exit_codes_help(f);
}

static int parse_args(int argc, char **argv, export_args *a, const char *cmd)
{
    static const struct option opts[] = {
        TSV_CLI_TARGET_OPTIONS,
        {"bucket-id", required_argument, 0, 'i'},
        {"bucket", required_argument, 0, 'b'},
        {"org", required_argument, 0, 'o'},
        {"rp", required_argument, 0, 'r'},
        {"db", required_argument, 0, 'D'},
        {"start", required_argument, 0, 's'},
        {"stop", required_argument, 0, 'S'},
        {"measurement", required_argument, 0, 'm'},
        {"out", required_argument, 0, 'O'},
        {"compress", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},
        TSV_CLI_TLS_OPTIONS,
        {"quiet", no_argument, 0, 'q'},
        {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    tsv_cli_target_init(&a->t);
    a->start = INT64_MIN;
    a->stop = INT64_MAX;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (tsv_cli_target_option(&a->t, c, optarg))
            continue;
        switch (c) {
        case 'i':
            a->bucket_id = optarg;
            break;
        case 'b':
            a->bucket = optarg;
            break;
        case 'o':
            a->org = optarg;
            break;
        case 'r':
            a->rp = optarg;
            break;
        case 'D':
            a->db = optarg;
            break;
        case 's':
            a->start_s = optarg;
            break;
        case 'S':
            a->stop_s = optarg;
            break;
        case 'O':
            a->out = optarg;
            break;
        case 'c':
            a->compress = optarg;
            break;
        case 'q':
            a->quiet = 1;
            break;
        case 'm': {
            if (TSV_ARRAY_GROW(a->meas, a->n_meas, a->cap_meas, NULL) != 0)
                return 2;
            a->meas[a->n_meas++] = optarg;
            break;
        }
        case 'h':
            export_usage(stdout, cmd);
            return 1;
        default:
            export_usage(stderr, cmd);
            return 2;
        }
    }
    tsv_cli_target_resolve(&a->t);
    if (optind != argc || (a->t.data_dir && a->t.host) ||
        (!a->bucket_id && !(a->bucket && a->org))) {
        export_usage(stderr, cmd);
        return 2;
    }
    if (a->t.host && !a->t.token) {
        fprintf(stderr, "tsvault %s: --host needs --token (or INFLUX_TOKEN)\n", cmd);
        return 2;
    }
    tsv_error err;
    if (a->start_s && tsv_parse_rfc3339(a->start_s, strlen(a->start_s), &a->start, &err) != 0) {
        fprintf(stderr, "tsvault %s: --start: %s\n", cmd, err.message);
        return 2;
    }
    if (a->stop_s && tsv_parse_rfc3339(a->stop_s, strlen(a->stop_s), &a->stop, &err) != 0) {
        fprintf(stderr, "tsvault %s: --stop: %s\n", cmd, err.message);
        return 2;
    }
    if (a->compress && strcmp(a->compress, "gzip") != 0 && strcmp(a->compress, "zstd") != 0) {
        fprintf(stderr, "tsvault %s: --compress must be gzip or zstd\n", cmd);
        return 2;
    }
    return 0;
}

/* Counts what goes to the output for the progress display. */
typedef struct progress_writer {
    tsv_writer base;
    tsv_writer *inner;
    tsv_progress p;
    uint64_t bytes;
} progress_writer;

static int pw_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    progress_writer *pw = (progress_writer *)w;
    if (tsv_write(pw->inner, buf, len, err) != 0)
        return -1;
    pw->bytes += len;
    tsv_progress_update(&pw->p, pw->bytes, 0, -1, -1, NULL, 0);
    return 0;
}

static void pw_free(tsv_writer *w) { (void)w; }

static int open_store(const char *dir, tsv_store **s, tsv_error *err)
{
    tsv_store_options o = {.data_dir = dir, .read_only = 1};
    return tsv_store_open(s, &o, err);
}

static int open_out(const char *path, int *fd)
{
    if (!path || strcmp(path, "-") == 0) {
        *fd = STDOUT_FILENO;
        return 0;
    }
    *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (*fd < 0) {
        fprintf(stderr, "tsvault export: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int tsv_cli_export(int argc, char **argv)
{
    export_args a;
    int rc = parse_args(argc, argv, &a, "export");
    if (rc != 0) {
        free(a.meas);
        return rc == 1 ? 0 : rc;
    }
    int fd;
    if (open_out(a.out, &fd) != 0) {
        free(a.meas);
        return 1;
    }
    tsv_writer *fw = tsv_fd_writer_new(fd);
    progress_writer pw = {.base = {.write = pw_write, .free = pw_free}, .inner = fw};
    tsv_progress_init(&pw.p, "export", 0, a.quiet);
    tsv_writer *enc = NULL, *w = fw ? &pw.base : NULL;
    tsv_error err;
    rc = 0;
    if (!fw)
        rc = tsv_error_set(&err, TSV_EINTERNAL, "out of memory");
    else if (a.compress && strcmp(a.compress, "gzip") == 0)
        rc = tsv_gzip_encoder_new(&enc, w, TSV_GZIP_ISAL, 3, TSV_STREAM_KEEP_INNER, &err);
    else if (a.compress)
        rc = tsv_zstd_encoder_new(&enc, w, 3, 0, TSV_STREAM_KEEP_INNER, &err);
    if (enc)
        w = enc;
    tsv_export_result res = {0};
    if (rc == 0 && a.t.data_dir) {
        tsv_store *s = NULL;
        rc = open_store(a.t.data_dir, &s, &err);
        tsv_export_plan *p = NULL;
        tsv_export_request req = {
            .bucket_id = a.bucket_id,
            .org = a.org,
            .bucket = a.bucket,
            .rp = a.rp,
            .database = a.db,
            .start = a.start,
            .stop = a.stop,
            .measurements = a.meas,
            .n_measurements = a.n_meas,
        };
        if (rc == 0)
            rc = tsv_store_export_prepare(s, &req, &p, &err);
        if (rc == 0)
            rc = tsv_export_plan_run(p, w, &res, &err);
        tsv_export_plan_free(p);
        tsv_store_close(s);
    } else if (rc == 0) {
        tsv_influx_client *cl = NULL;
        rc = tsv_cli_target_client(&a.t, &cl, &err);
        if (rc == 0) {
            tsv_remote_export_request rq = {
                .bucket_id = a.bucket_id,
                .org = a.org,
                .bucket = a.bucket,
                .rp = a.rp,
                .database = a.db,
                .start = a.start_s,
                .stop = a.stop_s,
                .measurements = a.meas,
                .n_measurements = a.n_meas,
            };
            rc = tsv_influx_client_export(cl, &rq, w, &err);
        }
        tsv_influx_client_free(cl);
    }
    if (rc == 0 && enc)
        rc = tsv_writer_close(enc, &err);
    if (pw.bytes)
        tsv_progress_update(&pw.p, pw.bytes, 0, -1, -1, rc == 0 ? "done" : "failed", 1);
    tsv_progress_end(&pw.p);
    tsv_writer_free(enc);
    tsv_writer_free(fw);
    if (fd != STDOUT_FILENO && close(fd) != 0 && rc == 0)
        rc = tsv_error_set_errno(&err, TSV_EINTERNAL, errno, "close %s", a.out);
    free(a.meas);
    if (rc != 0) {
        fprintf(stderr, "tsvault export: %s\n", err.message);
        return a.t.host ? tsv_cli_exit_code(&err) : TSV_EXIT_FAILED;
    }
    if (a.t.data_dir)
        fprintf(stderr,
                "tsvault export: %" PRIu64 " files, %" PRIu64 " TSM bytes, %" PRIu64
                " lines, %" PRIu64 " duplicates left out\n",
                res.files, res.tsm_bytes, res.lines, res.duplicates);
    return 0;
}

int tsv_cli_stats(int argc, char **argv)
{
    export_args a;
    int rc = parse_args(argc, argv, &a, "stats");
    free(a.meas);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    tsv_error err;
    tsv_buf out = {0};
    if (a.t.data_dir) {
        tsv_store *s = NULL;
        char id[17];
        const char *bid = a.bucket_id;
        rc = open_store(a.t.data_dir, &s, &err);
        if (rc == 0 && !bid) {
            rc = tsv_store_bucket_find(s, a.org, a.bucket, id, &err);
            bid = id;
        }
        if (rc == 0)
            rc = tsv_store_bucket_stats_json(s, bid, &out, &err);
        tsv_store_close(s);
    } else {
        tsv_influx_client *cl = NULL;
        rc = tsv_cli_target_client(&a.t, &cl, &err);
        if (rc == 0)
            rc = tsv_influx_client_bucket_stats(cl, a.bucket_id, a.org, a.bucket, &out, &err);
        tsv_influx_client_free(cl);
    }
    if (rc == 0)
        fwrite(out.data, 1, out.len, stdout);
    tsv_buf_free(&out);
    if (rc != 0) {
        fprintf(stderr, "tsvault stats: %s\n", err.message);
        return a.t.host ? tsv_cli_exit_code(&err) : TSV_EXIT_FAILED;
    }
    return 0;
}
