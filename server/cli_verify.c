/*
 * cli_verify: `tsvault verify` (cli.h). Prints one line per problem
 * ("PROBLEM bucket=.. rp=.. shard=.. file=.. offset=..: message") and a
 * summary; exit code 1 when problems were found. --data-dir verifies a
 * stopped server's directory in this process (nothing is written to it);
 * --host asks a running server (POST /api/v2/verify) and prints its report.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_progress.h"
#include "config.h"
#include "influx_client.h"
#include "json.h"
#include "store.h"
#include "verify.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: tsvault verify (--data-dir DIR | [--host URL] [--token TOKEN])\n"
               "         [--bucket-id ID] [--max-bytes-per-second N[KiB|MiB|GiB]] [--progress]\n"
               "         [--ca-file PEM] [--skip-verify]   (https:// hosts; default: verify)\n"
               "Re-reads the KV store and every TSM and tombstone file; changes nothing.\n"
               "--progress: a progress bar on stderr (plain lines when it is not a terminal).\n");
    tsv_cli_target_help(f);
    tsv_cli_exit_codes_help(f);
}

typedef struct cli_ctx {
    int progress;
    tsv_progress p;
} cli_ctx;

static int print_problem(void *ctx, const tsv_verify_problem *p, tsv_error *err)
{
    (void)ctx;
    (void)err;
    printf("PROBLEM bucket=%s rp=%s shard=%" PRIu64 " file=%s offset=%" PRId64 ": %s\n",
           *p->bucket_id ? p->bucket_id : "-", *p->rp ? p->rp : "-", p->shard_id,
           *p->file ? p->file : "-", p->offset, p->message);
    fflush(stdout);
    return 0;
}

static int print_progress(void *ctx, const tsv_verify_progress *p)
{
    cli_ctx *c = ctx;
    if (c->progress) {
        char st[48];
        snprintf(st, sizeof st, "%" PRIu64 "/%" PRIu64 " files, %" PRIu64 " problems",
                 p->files_done, p->files_total, p->problems);
        tsv_progress_update(&c->p, p->bytes_done, p->bytes_total, -1, -1, st, 0);
    }
    return 0;
}

/* --host: the server's NDJSON report, printed like the local one. */
typedef struct remote_printer {
    tsv_writer base;
    tsv_buf line;
    uint64_t problems;
    int summary_ok;
    int have_summary;
    int progress;
    tsv_progress p;
} remote_printer;

static int rp_line(remote_printer *r, const char *s, size_t n, tsv_error *err)
{
    tsv_json_doc *doc;
    if (tsv_json_parse(&doc, s, n, err) != 0)
        return -1;
    const tsv_json *root = tsv_json_root(doc);
    const tsv_json *type = tsv_json_get(root, "type");
    const char *t = type && type->type == TSV_JSON_STRING ? type->str : "";
    if (strcmp(t, "problem") == 0) {
        const tsv_json *b = tsv_json_get(root, "bucketID"), *rp = tsv_json_get(root, "rp"),
                       *sh = tsv_json_get(root, "shardID"), *f = tsv_json_get(root, "file"),
                       *o = tsv_json_get(root, "offset"), *m = tsv_json_get(root, "message");
        printf("PROBLEM bucket=%s rp=%s shard=%s file=%s offset=%s: %s\n",
               b && *b->str ? b->str : "-", rp && *rp->str ? rp->str : "-", sh ? sh->str : "0",
               f && *f->str ? f->str : "-", o ? o->str : "-1", m ? m->str : "");
        r->problems++;
    } else if (strcmp(t, "summary") == 0) {
        const tsv_json *ok = tsv_json_get(root, "ok");
        r->have_summary = 1;
        r->summary_ok = ok && ok->type == TSV_JSON_BOOL && ok->boolean;
        tsv_progress_end(&r->p);
        printf("summary: %.*s\n", (int)n, s);
    } else if (strcmp(t, "progress") == 0 && r->progress) {
        const tsv_json *bd = tsv_json_get(root, "bytesDone"),
                       *bt = tsv_json_get(root, "bytesTotal");
        uint64_t done = 0, total = 0;
        if (bd)
            tsv_json_u64(bd, &done, NULL, NULL);
        if (bt)
            tsv_json_u64(bt, &total, NULL, NULL);
        tsv_progress_update(&r->p, done, total, -1, -1, NULL, 0);
    }
    tsv_json_free(doc);
    return 0;
}

static int rp_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    remote_printer *r = (remote_printer *)w;
    const char *p = buf;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '\n') {
            if (tsv_buf_append(&r->line, p + i, 1, err) != 0)
                return -1;
            continue;
        }
        if (r->line.len && rp_line(r, (const char *)r->line.data, r->line.len, err) != 0)
            return -1;
        r->line.len = 0;
    }
    return 0;
}

static void rp_free(tsv_writer *w) { (void)w; }

int tsv_cli_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        TSV_CLI_TARGET_OPTIONS,
        {"bucket-id", required_argument, 0, 'i'},
        {"max-bytes-per-second", required_argument, 0, 'r'},
        {"progress", no_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},
        TSV_CLI_TLS_OPTIONS,
        {0, 0, 0, 0},
    };
    tsv_cli_target t;
    tsv_cli_target_init(&t);
    const char *bucket = NULL, *rate_s = NULL;
    int progress = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (tsv_cli_target_option(&t, c, optarg))
            continue;
        switch (c) {
        case 'i':
            bucket = optarg;
            break;
        case 'r':
            rate_s = optarg;
            break;
        case 'p':
            progress = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    uint64_t rate = 0;
    tsv_cli_target_resolve(&t);
    if (optind != argc || (t.data_dir && t.host) || (t.host && !t.token) ||
        (rate_s && tsv_parse_size(rate_s, &rate) != 0)) {
        usage(stderr);
        return 2;
    }
    tsv_error err;
    if (t.host) {
        tsv_influx_client *cl = NULL;
        remote_printer rp = {.base = {.write = rp_write, .free = rp_free}, .progress = progress};
        tsv_progress_init(&rp.p, "verify", 0, !progress);
        char q[256] = "";
        int n = 0;
        if (bucket)
            n += snprintf(q + n, sizeof q - (size_t)n, "bucketID=%.16s", bucket);
        if (rate_s)
            n += snprintf(q + n, sizeof q - (size_t)n, "%smaxBytesPerSecond=%" PRIu64, n ? "&" : "",
                          rate);
        int rc = tsv_cli_target_client(&t, &cl, &err);
        if (rc == 0)
            rc = tsv_influx_client_verify(cl, q, &rp.base, &err);
        tsv_influx_client_free(cl);
        tsv_buf_free(&rp.line);
        if (rc == 0 && !rp.have_summary)
            rc = tsv_error_set(&err, TSV_EINTERNAL, "the report ended without a summary");
        tsv_progress_end(&rp.p);
        if (rc != 0) {
            fprintf(stderr, "tsvault verify: %s\n", err.message);
            return tsv_cli_exit_code(&err);
        }
        return rp.summary_ok ? 0 : TSV_EXIT_FAILED;
    }
    tsv_store_options so = {.data_dir = t.data_dir, .read_only = 1, .tolerate_kv_failure = 1};
    tsv_store *s = NULL;
    if (tsv_store_open(&s, &so, &err) != 0) {
        fprintf(stderr, "tsvault verify: %s\n", err.message);
        return 1;
    }
    cli_ctx cc = {.progress = progress};
    tsv_progress_init(&cc.p, "verify", 0, !progress);
    tsv_verify_options o = {
        .bucket_id = bucket,
        .max_bytes_per_sec = rate,
        .on_problem = print_problem,
        .on_progress = print_progress,
        .ctx = &cc,
    };
    tsv_verify_summary sum;
    int rc = tsv_store_verify(s, &o, &sum, &err);
    tsv_store_close(s);
    tsv_progress_end(&cc.p);
    if (rc != 0) {
        fprintf(stderr, "tsvault verify: %s\n", err.message);
        return 1;
    }
    printf("summary: %s, %" PRIu64 " problems; kv %s; %" PRIu64 " buckets, %" PRIu64
           " shards, %" PRIu64 " TSM files, %" PRIu64 " tombstones, %" PRIu64 " blocks, %" PRIu64
           " values, %" PRIu64 " bytes in %.3f s\n",
           sum.problems ? "PROBLEMS" : "ok", sum.problems,
           sum.kv_checked ? "checked" : "unreadable", sum.buckets, sum.shards, sum.tsm_files,
           sum.tombstone_files, sum.blocks, sum.values, sum.bytes, sum.seconds);
    return sum.problems ? 1 : 0;
}
