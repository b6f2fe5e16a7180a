/*
 * cli_client: the client commands of the tsvault binary (cli.h,
 * docs/operations.md "Client"): upload, files, jobs and pitr against a
 * running server through remote/tsvault_client, with the progress display
 * of cli_progress.h. Results go to stdout (text, or the server's JSON with
 * --json), messages and progress to stderr; the exit code says what
 * happened (cli.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_progress.h"
#include "json.h"
#include "tsvault_client.h"

enum {
    O_HOST = 1000,
    O_TOKEN,
    O_JSON,
    O_QUIET,
    O_HELP,
    O_NAME,
    O_NO_CHECKSUM,
    O_INTERVAL,
    O_STATUS,
    O_TYPE,
    O_LIMIT,
    O_OFFSET,
    O_SEARCH,
    O_TIME,
    O_WATCH,
    O_LOGS,
};

/* Options each command takes beyond --host --token --json --quiet --help. */
#define A(o) (1u << ((o)-O_NAME))

typedef struct cmd_args {
    const char *host, *token;
    int json, quiet;
    const char *name, *search, *time;
    int no_checksum, watch, logs;
    double interval;
    const char *status[16], *type[16];
    int n_status, n_type;
    const char *limit, *offset;
    char **pos; /* positional arguments */
    int n_pos;
} cmd_args;

typedef struct command {
    const char *group, *verb; /* verb NULL: the group is the command */
    unsigned allowed;
    int min_pos, max_pos;
    const char *synopsis, *help;
    int (*run)(tsv_client *c, cmd_args *a);
} command;

int tsv_cli_exit_code(const tsv_error *err)
{
    switch (err->code) {
    case TSV_EUNAVAILABLE:
        return TSV_EXIT_UNREACHABLE;
    case TSV_EUNAUTHORIZED:
    case TSV_EFORBIDDEN:
        return TSV_EXIT_AUTH;
    case TSV_ENOTFOUND:
        return TSV_EXIT_NOT_FOUND;
    case TSV_EINVALID:
    case TSV_EEMPTY:
    case TSV_ECONFLICT:
    case TSV_EUNPROCESSABLE:
    case TSV_ETOOLARGE:
    case TSV_EMETHOD:
        return TSV_EXIT_REJECTED;
    default:
        return TSV_EXIT_FAILED;
    }
}

const char *tsv_cli_default_host(void)
{
    const char *h = getenv("INFLUX_HOST");
    return h && *h ? h : "http://localhost:8086";
}

void tsv_cli_exit_codes_help(FILE *f)
{
    fprintf(f, "Exit codes: 0 ok; 1 failed (server error, job failed or canceled, problems "
               "found); 2 usage;\n"
               "  3 server unreachable; 4 token refused (401/403); 5 not found (404); 6 request "
               "rejected (400/409/413).\n");
}

/* --- output helpers ------------------------------------------------------- */

static const char *jstr(const tsv_json *o, const char *key)
{
    const tsv_json *v = tsv_json_get(o, key);
    return v && (v->type == TSV_JSON_STRING || v->type == TSV_JSON_NUMBER) ? v->str : "";
}

static uint64_t ju64(const tsv_json *o, const char *key)
{
    uint64_t u = 0;
    const tsv_json *v = tsv_json_get(o, key);
    if (v && v->type == TSV_JSON_NUMBER && tsv_json_u64(v, &u, NULL, NULL) != 0)
        u = (uint64_t)strtod(v->str, NULL);
    return u;
}

static double jdouble(const tsv_json *o, const char *key, double dflt)
{
    const tsv_json *v = tsv_json_get(o, key);
    return v && v->type == TSV_JSON_NUMBER ? strtod(v->str, NULL) : dflt;
}

static int parse_doc(const tsv_buf *b, tsv_json_doc **doc, tsv_error *err)
{
    if (tsv_json_parse(doc, b->data ? (const char *)b->data : "", b->len, err) != 0)
        return tsv_error_wrap(err, "the server's reply is not JSON");
    return 0;
}

static void print_raw(const tsv_buf *b)
{
    if (b->len)
        fwrite(b->data, 1, b->len, stdout);
    if (!b->len || b->data[b->len - 1] != '\n')
        fputc('\n', stdout);
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* --- upload ---------------------------------------------------------------- */

static int upload_progress(void *ctx, uint64_t done, uint64_t total)
{
    tsv_progress_update(ctx, done, total, -1, -1, total && done >= total ? "validating" : "sending",
                        0);
    return 0;
}

static int run_upload(tsv_client *c, cmd_args *a)
{
    if (access(a->pos[0], R_OK) != 0) {
        fprintf(stderr, "tsvault upload: %s: %s\n", a->pos[0], strerror(errno));
        return TSV_EXIT_USAGE;
    }
    tsv_progress p;
    tsv_progress_init(&p, "upload", 0, a->quiet || a->json);
    tsv_buf out = {0};
    tsv_error err;
    int rc =
        tsv_client_upload(c, a->pos[0], a->name, !a->no_checksum, upload_progress, &p, &out, &err);
    tsv_progress_end(&p);
    tsv_json_doc *doc = NULL;
    if (rc == 0 && !a->json)
        rc = parse_doc(&out, &doc, &err);
    if (rc != 0) {
        tsv_buf_free(&out);
        fprintf(stderr, "tsvault upload: %s\n", err.message);
        return tsv_cli_exit_code(&err);
    }
    if (a->json) {
        print_raw(&out);
    } else {
        const tsv_json *r = tsv_json_root(doc);
        const tsv_json *dg = tsv_json_get(r, "digest");
        printf("staged %s: %s bytes, %s (%s), md5 %s, id %s\n", jstr(r, "name"),
               jstr(r, "sizeBytes"), jstr(r, "dataFormat"), jstr(r, "compressionFormat"),
               dg ? jstr(dg, "hash") : "", jstr(r, "id"));
    }
    tsv_json_free(doc);
    tsv_buf_free(&out);
    return 0;
}

/* --- files ----------------------------------------------------------------- */

static int fail(const char *cmd, const tsv_error *err)
{
    fprintf(stderr, "tsvault %s: %s\n", cmd, err->message);
    return tsv_cli_exit_code(err);
}

static int run_files_list(tsv_client *c, cmd_args *a)
{
    tsv_buf out = {0};
    tsv_error err;
    tsv_json_doc *doc = NULL;
    int rc = tsv_client_call(c, "GET", "/api/v2/files", NULL, NULL, &out, &err);
    if (rc == 0 && !a->json)
        rc = parse_doc(&out, &doc, &err);
    if (rc != 0) {
        tsv_buf_free(&out);
        return fail("files list", &err);
    }
    if (a->json) {
        print_raw(&out);
    } else {
        const tsv_json *r = tsv_json_root(doc);
        const tsv_json *fl = tsv_json_get(r, "files");
        printf("%-40s %14s  %-18s %-5s %s\n", "NAME", "BYTES", "FORMAT", "COMP", "UPLOADED");
        for (size_t i = 0; fl && fl->type == TSV_JSON_ARRAY && i < fl->count; i++) {
            const tsv_json *f = fl->items[i];
            printf("%-40s %14s  %-18s %-5s %s\n", jstr(f, "name"), jstr(f, "sizeBytes"),
                   jstr(f, "dataFormat"), jstr(f, "compressionFormat"),
                   jstr(f, "uploadedOnDatetime"));
        }
        const tsv_json *sp = tsv_json_get(r, "space");
        char u[32], t[32], rem[32];
        printf("space: %s used of %s, %s remaining\n",
               tsv_progress_bytes(ju64(sp, "usedBytes"), u, sizeof u),
               tsv_progress_bytes(ju64(sp, "allocatedBytes"), t, sizeof t),
               tsv_progress_bytes(ju64(sp, "remainingBytes"), rem, sizeof rem));
    }
    tsv_json_free(doc);
    tsv_buf_free(&out);
    return 0;
}

/* GET or DELETE /api/v2/files/{name} for each name. */
static int run_files_each(tsv_client *c, cmd_args *a, const char *method, const char *cmd)
{
    int worst = 0;
    for (int i = 0; i < a->n_pos; i++) {
        tsv_buf path = {0}, out = {0};
        tsv_error err;
        int rc = tsv_buf_append(&path, "/api/v2/files", 13, &err) ||
                 tsv_client_segment(c, &path, a->pos[i], &err) ||
                 tsv_buf_append(&path, "", 1, &err);
        if (rc == 0)
            rc = tsv_client_call(c, method, (const char *)path.data, NULL, NULL, &out, &err);
        if (rc != 0) {
            int code = fail(cmd, &err);
            if (!worst)
                worst = code;
        } else if (strcmp(method, "GET") == 0) {
            print_raw(&out);
        } else if (a->json) {
            printf("{\"deleted\":true,\"name\":");
            tsv_buf esc = {0};
            tsv_json_writer w;
            tsv_jw_init(&w, &esc, NULL);
            tsv_jw_string(&w, a->pos[i]);
            if (tsv_jw_finish(&w, NULL) == 0)
                fwrite(esc.data, 1, esc.len, stdout);
            tsv_buf_free(&esc);
            printf("}\n");
        } else {
            printf("deleted %s\n", a->pos[i]);
        }
        tsv_buf_free(&path);
        tsv_buf_free(&out);
    }
    return worst;
}

static int run_files_get(tsv_client *c, cmd_args *a)
{
    return run_files_each(c, a, "GET", "files get");
}

static int run_files_delete(tsv_client *c, cmd_args *a)
{
    return run_files_each(c, a, "DELETE", "files delete");
}

/* --- jobs ------------------------------------------------------------------ */

static int job_path(tsv_client *c, const char *id, const char *suffix, tsv_buf *path,
                    tsv_error *err)
{
    if (tsv_buf_append(path, "/api/v2/jobs", 12, err) || tsv_client_segment(c, path, id, err) ||
        (suffix && tsv_buf_append(path, suffix, strlen(suffix), err)) ||
        tsv_buf_append(path, "", 1, err))
        return -1;
    return 0;
}

/* GET of a job sub-resource, parsed. */
static int job_fetch(tsv_client *c, const char *id, const char *suffix, tsv_buf *raw,
                     tsv_json_doc **doc, tsv_error *err)
{
    tsv_buf path = {0};
    int rc = job_path(c, id, suffix, &path, err);
    if (rc == 0)
        rc = tsv_client_call(c, "GET", (const char *)path.data, NULL, NULL, raw, err);
    tsv_buf_free(&path);
    if (rc == 0 && doc)
        rc = parse_doc(raw, doc, err);
    return rc;
}

static int is_final(const char *st)
{
    return strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0 || strcmp(st, "canceled") == 0;
}

static int run_jobs_list(tsv_client *c, cmd_args *a)
{
    tsv_buf q = {0}, out = {0};
    tsv_error err;
    int rc = tsv_buf_append(&q, "/api/v2/jobs", 12, &err);
    for (int i = 0; rc == 0 && i < a->n_status; i++)
        rc = tsv_client_param(c, &q, "executionStatus", a->status[i], &err);
    for (int i = 0; rc == 0 && i < a->n_type; i++)
        rc = tsv_client_param(c, &q, "type", a->type[i], &err);
    if (rc == 0)
        rc = tsv_client_param(c, &q, "paginationLimit", a->limit, &err) ||
             tsv_client_param(c, &q, "paginationOffset", a->offset, &err) ||
             tsv_client_param(c, &q, "searchString", a->search, &err) ||
             tsv_buf_append(&q, "", 1, &err);
    if (rc == 0)
        rc = tsv_client_call(c, "GET", (const char *)q.data, NULL, NULL, &out, &err);
    tsv_json_doc *doc = NULL;
    if (rc == 0 && !a->json)
        rc = parse_doc(&out, &doc, &err);
    tsv_buf_free(&q);
    if (rc != 0) {
        tsv_buf_free(&out);
        return fail("jobs list", &err);
    }
    if (a->json) {
        print_raw(&out);
    } else {
        const tsv_json *r = tsv_json_root(doc);
        const tsv_json *v = tsv_json_get(r, "values");
        printf("%-36s %-8s %-10s %-6s %-30s %s\n", "ID", "TYPE", "STATUS", "HEALTH", "CREATED",
               "SOURCE");
        for (size_t i = 0; v && v->type == TSV_JSON_ARRAY && i < v->count; i++) {
            const tsv_json *j = v->items[i];
            const tsv_json *h = tsv_json_get(j, "health"), *s = tsv_json_get(j, "source");
            printf("%-36s %-8s %-10s %-6s %-30s %s\n", jstr(j, "id"), jstr(j, "type"),
                   jstr(j, "executionStatus"), jstr(h, "status"), jstr(j, "createdTimestamp"),
                   jstr(s, "fileName"));
        }
        const tsv_json *more = tsv_json_get(r, "moreResultsAvailable");
        if (more && more->type == TSV_JSON_BOOL && more->boolean)
            printf("(more results: use --offset)\n");
    }
    tsv_json_free(doc);
    tsv_buf_free(&out);
    return 0;
}

static int run_jobs_get(tsv_client *c, cmd_args *a)
{
    tsv_buf raw = {0}, mraw = {0}, lraw = {0};
    tsv_json_doc *doc = NULL, *mdoc = NULL, *ldoc = NULL;
    tsv_error err;
    int rc = job_fetch(c, a->pos[0], NULL, &raw, a->json ? NULL : &doc, &err);
    if (rc == 0 && a->json) {
        print_raw(&raw);
    } else if (rc == 0) {
        rc = job_fetch(c, a->pos[0], "/metrics", &mraw, &mdoc, &err);
        if (rc == 0 && a->logs)
            rc = job_fetch(c, a->pos[0], "/logs", &lraw, &ldoc, &err);
    }
    if (rc == 0 && !a->json) {
        const tsv_json *j = tsv_json_root(doc), *h = tsv_json_get(j, "health"),
                       *s = tsv_json_get(j, "source");
        const tsv_json *t = tsv_json_get(tsv_json_root(mdoc), "totals");
        printf("id:        %s\ntype:      %s\nstatus:    %s\nhealth:    %s%s%s\nsource:    %s\n"
               "created:   %s\n",
               jstr(j, "id"), jstr(j, "type"), jstr(j, "executionStatus"), jstr(h, "status"),
               *jstr(h, "message") ? ": " : "", jstr(h, "message"), jstr(s, "fileName"),
               jstr(j, "createdTimestamp"));
        if (*jstr(j, "startedTimestamp"))
            printf("started:   %s\n", jstr(j, "startedTimestamp"));
        if (*jstr(j, "completedTimestamp"))
            printf("completed: %s\n", jstr(j, "completedTimestamp"));
        char d[32], tt[32];
        printf("progress:  %.1f%% (%s of %s)\n", jdouble(t, "percentDone", 0),
               tsv_progress_bytes(ju64(t, "bytesDone"), d, sizeof d),
               tsv_progress_bytes(ju64(t, "bytesTotal"), tt, sizeof tt));
        const tsv_json *logs = tsv_json_get(tsv_json_root(ldoc), "logs");
        for (size_t i = 0; logs && logs->type == TSV_JSON_ARRAY && i < logs->count; i++)
            printf("log:       %s %-5s %s\n", jstr(logs->items[i], "timestamp"),
                   jstr(logs->items[i], "level"), jstr(logs->items[i], "message"));
    }
    tsv_json_free(doc);
    tsv_json_free(mdoc);
    tsv_json_free(ldoc);
    tsv_buf_free(&raw);
    tsv_buf_free(&mraw);
    tsv_buf_free(&lraw);
    return rc == 0 ? 0 : fail("jobs get", &err);
}

/* Follows a job until it is final: the progress display from its metrics. */
static int watch_job(tsv_client *c, const char *id, cmd_args *a, const char *cmd)
{
    char label[64];
    snprintf(label, sizeof label, "job %.8s", id);
    tsv_progress p;
    tsv_progress_init(&p, label, a->json, a->quiet);
    tsv_error err;
    int rc = 0;
    char status[32] = "";
    tsv_buf raw = {0};
    for (;;) {
        tsv_json_doc *doc = NULL, *mdoc = NULL;
        tsv_buf mraw = {0};
        rc = job_fetch(c, id, NULL, &raw, &doc, &err);
        if (rc == 0)
            rc = job_fetch(c, id, "/metrics", &mraw, &mdoc, &err);
        if (rc == 0) {
            snprintf(status, sizeof status, "%s", jstr(tsv_json_root(doc), "executionStatus"));
            const tsv_json *t = tsv_json_get(tsv_json_root(mdoc), "totals");
            double eta = jdouble(t, "etaSeconds", -1);
            int final = is_final(status);
            tsv_progress_update(&p, ju64(t, "bytesDone"), ju64(t, "bytesTotal"),
                                jdouble(t, "bytesPerSecond", 0), eta, status, final);
            if (final) {
                const tsv_json *h = tsv_json_get(tsv_json_root(doc), "health");
                tsv_progress_end(&p);
                if (a->json)
                    print_raw(&raw);
                else
                    printf("job %s %s%s%s\n", id, status, *jstr(h, "message") ? ": " : "",
                           jstr(h, "message"));
            }
        }
        tsv_json_free(doc);
        tsv_json_free(mdoc);
        tsv_buf_free(&mraw);
        if (rc != 0 || is_final(status))
            break;
        sleep_s(a->interval);
    }
    tsv_progress_end(&p);
    tsv_buf_free(&raw);
    if (rc != 0)
        return fail(cmd, &err);
    return strcmp(status, "completed") == 0 ? 0 : TSV_EXIT_FAILED;
}

static int run_jobs_watch(tsv_client *c, cmd_args *a)
{
    return watch_job(c, a->pos[0], a, "jobs watch");
}

static int run_jobs_cancel(tsv_client *c, cmd_args *a)
{
    tsv_buf path = {0}, out = {0};
    tsv_error err;
    tsv_json_doc *doc = NULL;
    int rc = job_path(c, a->pos[0], NULL, &path, &err);
    if (rc == 0)
        rc = tsv_client_call(c, "PATCH", (const char *)path.data,
                             "{\"desiredExecutionStatus\":\"canceled\"}", NULL, &out, &err);
    if (rc == 0 && !a->json)
        rc = parse_doc(&out, &doc, &err);
    if (rc == 0 && a->json)
        print_raw(&out);
    else if (rc == 0)
        printf("job %s: cancel requested, executionStatus %s\n", a->pos[0],
               jstr(tsv_json_root(doc), "executionStatus"));
    tsv_json_free(doc);
    tsv_buf_free(&path);
    tsv_buf_free(&out);
    return rc == 0 ? 0 : fail("jobs cancel", &err);
}

/* --- pitr ------------------------------------------------------------------ */

static int run_pitr_range(tsv_client *c, cmd_args *a)
{
    tsv_buf out = {0};
    tsv_error err;
    tsv_json_doc *doc = NULL;
    int rc = tsv_client_call(c, "GET", "/api/v2/pitr", NULL, NULL, &out, &err);
    if (rc == 0 && !a->json)
        rc = parse_doc(&out, &doc, &err);
    if (rc == 0 && a->json)
        print_raw(&out);
    else if (rc == 0)
        printf("start_time: %s\nend_time:   %s\n", jstr(tsv_json_root(doc), "start_time"),
               jstr(tsv_json_root(doc), "end_time"));
    tsv_json_free(doc);
    tsv_buf_free(&out);
    return rc == 0 ? 0 : fail("pitr range", &err);
}

static int run_pitr_restore(tsv_client *c, cmd_args *a)
{
    tsv_error err;
    if (!a->time) {
        fprintf(stderr, "tsvault pitr restore: --time RFC3339 is required\n");
        return TSV_EXIT_USAGE;
    }
    tsv_buf body = {0}, out = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &body, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "target_time", a->time);
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, &err) || tsv_buf_append(&body, "", 1, &err) ? -1 : 0;
    if (rc == 0)
        rc = tsv_client_call(c, "POST", "/api/v2/pitr/restore", (const char *)body.data, NULL, &out,
                             &err);
    tsv_json_doc *doc = NULL;
    if (rc == 0)
        rc = parse_doc(&out, &doc, &err);
    char job[128] = "";
    if (rc == 0) {
        snprintf(job, sizeof job, "%s", jstr(tsv_json_root(doc), "jobId"));
        if (a->json)
            print_raw(&out);
        else
            printf("restore to %s: job %s, %s\n", a->time, job, jstr(tsv_json_root(doc), "status"));
        fflush(stdout);
    }
    tsv_json_free(doc);
    tsv_buf_free(&body);
    tsv_buf_free(&out);
    if (rc != 0)
        return fail("pitr restore", &err);
    if (a->watch && job[0])
        return watch_job(c, job, a, "pitr restore");
    return 0;
}

/* --- commands and parsing ---------------------------------------------------- */

static const command commands[] = {
    {"upload", NULL, A(O_NAME) | A(O_NO_CHECKSUM), 1, 1,
     "upload FILE [--name NAME] [--no-checksum]",
     "Stages FILE in the server's Files API (POST /api/v2/files) with a progress bar. The MD5\n"
     "is computed first and sent as Content-MD5 unless --no-checksum. Prints the staged file.",
     run_upload},
    {"files", "list", 0, 0, 0, "files list", "Lists the staged files and the staging area's space.",
     run_files_list},
    {"files", "get", 0, 1, 64, "files get NAME...", "Prints the staged files' records (JSON).",
     run_files_get},
    {"files", "delete", 0, 1, 64, "files delete NAME...", "Deletes staged files.",
     run_files_delete},
    {"jobs", "list", A(O_STATUS) | A(O_TYPE) | A(O_LIMIT) | A(O_OFFSET) | A(O_SEARCH), 0, 0,
     "jobs list [--status S]... [--type T]... [--limit N] [--offset N] [--search TEXT]",
     "Lists jobs, most recently updated first.", run_jobs_list},
    {"jobs", "get", A(O_LOGS), 1, 1, "jobs get ID [--logs]",
     "Prints a job: status, health, progress (and its logs with --logs).", run_jobs_get},
    {"jobs", "watch", A(O_INTERVAL), 1, 1, "jobs watch ID [--interval SECONDS]",
     "Follows a job until it finishes, with a progress bar (bytes, rate, ETA).\n"
     "Exit code 0 when it completed, 1 when it failed or was canceled.",
     run_jobs_watch},
    {"jobs", "cancel", 0, 1, 1, "jobs cancel ID", "Asks the server to cancel a job.",
     run_jobs_cancel},
    {"pitr", "range", 0, 0, 0, "pitr range",
     "Prints the time range a point-in-time restore can reach (GET /api/v2/pitr).", run_pitr_range},
    {"pitr", "restore", A(O_TIME) | A(O_WATCH) | A(O_INTERVAL), 0, 0,
     "pitr restore --time RFC3339 [--watch] [--interval SECONDS]",
     "Starts a point-in-time restore (POST /api/v2/pitr/restore) and prints its job;\n"
     "--watch follows the job as `jobs watch` does.",
     run_pitr_restore},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void common_help(FILE *f)
{
    fprintf(f, "Common options:\n"
               "  --host URL     the server (default $INFLUX_HOST, else http://localhost:8086)\n"
               "  --token TOKEN  the API token (default $INFLUX_TOKEN)\n"
               "  --json         print the server's JSON (NDJSON progress lines for watch)\n"
               "  --quiet        no progress display\n"
               "  --help         this help\n");
    tsv_cli_exit_codes_help(f);
}

static void command_help(FILE *f, const command *cmd)
{
    fprintf(f, "Usage: tsvault %s [options]\n%s\n", cmd->synopsis, cmd->help);
    common_help(f);
}

static void group_help(FILE *f, const char *group)
{
    fprintf(f, "Usage:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        if (!group || strcmp(commands[i].group, group) == 0)
            fprintf(f, "  tsvault %s\n", commands[i].synopsis);
    fprintf(f, "Run `tsvault %s%s--help` for a command's options.\n", group ? group : "COMMAND",
            group ? " VERB " : " ");
    common_help(f);
}

static int parse(const command *cmd, int argc, char **argv, cmd_args *a)
{
    static const struct option opts[] = {
        {"host", required_argument, 0, O_HOST},
        {"token", required_argument, 0, O_TOKEN},
        {"json", no_argument, 0, O_JSON},
        {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, O_HELP},
        {"name", required_argument, 0, O_NAME},
        {"no-checksum", no_argument, 0, O_NO_CHECKSUM},
        {"interval", required_argument, 0, O_INTERVAL},
        {"status", required_argument, 0, O_STATUS},
        {"type", required_argument, 0, O_TYPE},
        {"limit", required_argument, 0, O_LIMIT},
        {"offset", required_argument, 0, O_OFFSET},
        {"search", required_argument, 0, O_SEARCH},
        {"time", required_argument, 0, O_TIME},
        {"watch", no_argument, 0, O_WATCH},
        {"logs", no_argument, 0, O_LOGS},
        {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    a->host = tsv_cli_default_host();
    a->token = getenv("INFLUX_TOKEN");
    a->interval = 0.5;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c >= O_NAME && !(cmd->allowed & A(c))) {
            fprintf(stderr, "tsvault %s: option %s does not apply here\n", cmd->synopsis,
                    argv[optind - 1]);
            return TSV_EXIT_USAGE;
        }
        switch (c) {
        case O_HOST:
            a->host = optarg;
            break;
        case O_TOKEN:
            a->token = optarg;
            break;
        case O_JSON:
            a->json = 1;
            break;
        case O_QUIET:
            a->quiet = 1;
            break;
        case O_HELP:
            command_help(stdout, cmd);
            return -1;
        case O_NAME:
            a->name = optarg;
            break;
        case O_NO_CHECKSUM:
            a->no_checksum = 1;
            break;
        case O_INTERVAL: {
            char *end;
            a->interval = strtod(optarg, &end);
            if (*end || end == optarg || !(a->interval >= 0.05 && a->interval <= 3600)) {
                fprintf(stderr, "tsvault: --interval must be 0.05..3600 seconds, got \"%s\"\n",
                        optarg);
                return TSV_EXIT_USAGE;
            }
            break;
        }
        case O_STATUS:
        case O_TYPE: {
            const char **arr = c == O_STATUS ? a->status : a->type;
            int *n = c == O_STATUS ? &a->n_status : &a->n_type;
            if (*n == 16) {
                fprintf(stderr, "tsvault: at most 16 --status/--type values\n");
                return TSV_EXIT_USAGE;
            }
            arr[(*n)++] = optarg;
            break;
        }
        case O_LIMIT:
            a->limit = optarg;
            break;
        case O_OFFSET:
            a->offset = optarg;
            break;
        case O_SEARCH:
            a->search = optarg;
            break;
        case O_TIME:
            a->time = optarg;
            break;
        case O_WATCH:
            a->watch = 1;
            break;
        case O_LOGS:
            a->logs = 1;
            break;
        default:
            fprintf(stderr, "tsvault: unknown option or missing value: %s\n", argv[optind - 1]);
            command_help(stderr, cmd);
            return TSV_EXIT_USAGE;
        }
    }
    a->pos = argv + optind;
    a->n_pos = argc - optind;
    if (a->n_pos < cmd->min_pos || a->n_pos > cmd->max_pos) {
        fprintf(stderr, "tsvault: wrong number of arguments\n");
        command_help(stderr, cmd);
        return TSV_EXIT_USAGE;
    }
    if (!a->token || !*a->token) {
        fprintf(stderr, "tsvault %s: needs --token (or INFLUX_TOKEN)\n", cmd->synopsis);
        return TSV_EXIT_USAGE;
    }
    return 0;
}

int tsv_cli_client(int argc, char **argv)
{
    const char *group = argv[0];
    const command *cmd = NULL;
    int skip = 1;
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].group, group) != 0)
            continue;
        if (!commands[i].verb) {
            cmd = &commands[i];
            break;
        }
        if (argc > 1 && strcmp(commands[i].verb, argv[1]) == 0) {
            cmd = &commands[i];
            skip = 1;
            break;
        }
    }
    if (!cmd) {
        int help = argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0);
        if (!help && argc > 1)
            fprintf(stderr, "tsvault %s: unknown command \"%s\"\n", group, argv[1]);
        group_help(help ? stdout : stderr, group);
        return help ? 0 : TSV_EXIT_USAGE;
    }
    /* getopt sees the verb (or the command) as its program name. */
    cmd_args a;
    int rc = parse(cmd, argc - (cmd->verb ? skip : 0), argv + (cmd->verb ? skip : 0), &a);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    tsv_client *c = NULL;
    tsv_error err;
    if (tsv_client_new(&c, a.host, a.token, &err) != 0)
        return fail(cmd->group, &err);
    rc = cmd->run(c, &a);
    tsv_client_free(c);
    fflush(stdout);
    return rc;
}

void tsv_cli_client_help(FILE *f) { group_help(f, NULL); }
