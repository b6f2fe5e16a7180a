/*
 * tsv_vaulttool: runs the vault operations of storage/vault_ops.h on a
 * stopped tsvault's data directory through the C API, as the jobs layer
 * will, so integration tests can drive delete_data / restore_data before
 * the jobs API exists.
 *
 *   tsv_vaulttool DATADIR delete  BUCKETID INTERVAL [INTERVAL...]
 *   tsv_vaulttool DATADIR restore BUCKETID INTERVAL [--version N]
 *   tsv_vaulttool DATADIR purge            purge due versions + GC now
 *   tsv_vaulttool DATADIR history kv|sql   list the KV / SQL versions
 *   tsv_vaulttool DATADIR at kv|sql TIME   the version in force at TIME (RFC 3339)
 *   tsv_vaulttool DATADIR restore-kv N [--installed]   KV version N current again
 *   tsv_vaulttool DATADIR restore-sql N    SQL version N current again
 *
 * Intervals are parsed with tsv_interval_parse. Prints one JSON object:
 * {"elapsedMs":<the operation alone>,"cancelled":false,"total":N,"shards":[{"shardID":..,"rp":..,"start":..,
 * "end":..,"outcome":..,"fromVersion":..,"toVersion":..,"reason":..}]}.
 * Exit status: 0 done, 1 error (message on stderr, as "<code>: <message>"),
 * 2 bad usage. The environment's TSVAULT_SOFT_DELETE_RETENTION_S (seconds)
 * sets the grace period used by purge (default 30 days).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "interval.h"
#include "json.h"
#include "store.h"
#include "store_vault.h"
#include "tsv_time.h"
#include "vault_history.h"
#include "vault_ops.h"

static void print_result(const tsv_vault_result *r, double ms)
{
    printf("{\"elapsedMs\":%.3f,\"cancelled\":%s,\"total\":%zu,\"shards\":[", ms,
           r->cancelled ? "true" : "false", r->total);
    for (size_t i = 0; i < r->count; i++) {
        const tsv_vault_shard_result *s = &r->shards[i];
        char a[TSV_RFC3339_MAX], b[TSV_RFC3339_MAX];
        tsv_format_rfc3339nano(s->start_ns, a, sizeof a);
        tsv_format_rfc3339nano(s->end_ns, b, sizeof b);
        printf("%s{\"shardID\":%" PRIu64 ",\"rp\":\"%s\",\"start\":\"%s\",\"end\":\"%s\","
               "\"outcome\":\"%s\",\"fromVersion\":%" PRIu64 ",\"toVersion\":%" PRIu64
               ",\"reason\":\"%s\"}",
               i ? "," : "", s->shard_id, s->rp, a, b, tsv_vault_outcome_name(s->outcome),
               s->from_version, s->to_version, s->reason);
    }
    printf("]}\n");
}

static void print_time(const char *key, int64_t ns)
{
    char t[TSV_RFC3339_MAX];
    if (ns == 0) {
        printf("\"%s\":null", key);
        return;
    }
    tsv_format_rfc3339nano(ns, t, sizeof t);
    printf("\"%s\":\"%s\"", key, t);
}

static void print_history(const tsv_history_version *v)
{
    printf("{\"kind\":\"%s\",\"version\":%" PRIu64 ",\"state\":\"%s\",",
           tsv_history_kind_name(v->kind), v->version, tsv_version_state_name(v->state));
    print_time("installedAt", v->installed_ns);
    printf(",");
    print_time("replacedAt", v->replaced_ns);
    printf(",\"replacedBy\":\"%s\",", v->replaced_by);
    print_time("purgedAt", v->purged_ns);
    printf(",\"object\":\"%s\",\"size\":%" PRIu64 ",\"finalObject\":\"%s\",\"finalSize\":%" PRIu64
           ",\"installedNs\":%" PRId64 ",\"replacedNs\":%" PRId64 "}",
           v->object, v->size, v->final_object, v->final_size, v->installed_ns, v->replaced_ns);
}

static int list_one(void *ctx, const tsv_history_version *v, tsv_error *err)
{
    (void)err;
    int *first = ctx;
    printf("%s", *first ? "" : ",");
    *first = 0;
    print_history(v);
    return 0;
}

static int parse_kind(const char *s, tsv_history_kind *k)
{
    if (strcmp(s, "kv") == 0)
        *k = TSV_HISTORY_KV;
    else if (strcmp(s, "sql") == 0)
        *k = TSV_HISTORY_SQL;
    else
        return -1;
    return 0;
}

/* The history commands; -2: not one of them. */
static int history_cmd(int argc, char **argv)
{
    const char *cmd = argv[2];
    int list = strcmp(cmd, "history") == 0, at = strcmp(cmd, "at") == 0,
        rkv = strcmp(cmd, "restore-kv") == 0, rsql = strcmp(cmd, "restore-sql") == 0;
    if (!list && !at && !rkv && !rsql)
        return -2;
    tsv_history_kind kind = TSV_HISTORY_KV;
    if (((list || at) && (argc < 4 || parse_kind(argv[3], &kind) != 0)) || (at && argc < 5) ||
        ((rkv || rsql) && argc < 4)) {
        fprintf(stderr, "usage: tsv_vaulttool DATADIR history kv|sql | at kv|sql TIME | "
                        "restore-kv N [--installed] | restore-sql N\n");
        return 2;
    }
    tsv_error err = {0};
    int64_t t_ns = 0;
    if (at && tsv_parse_rfc3339(argv[4], strlen(argv[4]), &t_ns, &err) != 0) {
        fprintf(stderr, "%s: %s\n", tsv_code_string(err.code), err.message);
        return 1;
    }
    tsv_store_options opt = {
        .data_dir = argv[1],
        .trash_retention_s = 168 * 3600,
        .soft_delete_retention_s = 720 * 3600,
    };
    tsv_store *s = NULL;
    if (tsv_store_open(&s, &opt, &err) != 0) {
        fprintf(stderr, "%s: %s\n", tsv_code_string(err.code), err.message);
        return 1;
    }
    int rc = 0;
    if (list) {
        int first = 1;
        printf("[");
        rc = tsv_vault_history_list(s, kind, list_one, &first, &err);
        printf("]\n");
    } else if (at) {
        tsv_history_version v;
        int found = 0;
        rc = tsv_vault_history_at(s, kind, t_ns, &v, &found, &err);
        if (rc == 0 && found) {
            print_history(&v);
            printf("\n");
        } else if (rc == 0) {
            printf("null\n");
        }
    } else if (rkv) {
        tsv_vault_result r;
        int installed = argc > 4 && strcmp(argv[4], "--installed") == 0;
        rc = tsv_vault_restore_kv_version(s, strtoull(argv[3], NULL, 10), installed, &r, &err);
        if (rc == 0)
            print_result(&r, 0);
        tsv_vault_result_clear(&r);
    } else {
        rc = tsv_vault_restore_sql_version(s, strtoull(argv[3], NULL, 10), &err);
        if (rc == 0)
            printf("{}\n");
    }
    tsv_store_close(s);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", tsv_code_string(err.code), err.message);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3) {
        int h = history_cmd(argc, argv);
        if (h != -2)
            return h;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: tsv_vaulttool DATADIR delete|restore BUCKETID INTERVAL... | "
                        "purge\n");
        return 2;
    }
    const char *cmd = argv[2];
    int del = strcmp(cmd, "delete") == 0, res = strcmp(cmd, "restore") == 0,
        purge = strcmp(cmd, "purge") == 0;
    if ((!del && !res && !purge) || ((del || res) && argc < 5)) {
        fprintf(stderr, "usage: tsv_vaulttool DATADIR delete|restore BUCKETID INTERVAL...\n");
        return 2;
    }
    tsv_error err = {0};
    tsv_interval iv[64];
    size_t n = 0;
    uint64_t version = 0;
    for (int i = 4; (del || res) && i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0 && i + 1 < argc) {
            version = strtoull(argv[++i], NULL, 10);
            continue;
        }
        if (n == 64) {
            fprintf(stderr, "too many intervals\n");
            return 2;
        }
        if (tsv_interval_parse(argv[i], strlen(argv[i]), &iv[n], &err) != 0) {
            fprintf(stderr, "%s: %s\n", tsv_code_string(err.code), err.message);
            return 1;
        }
        n++;
    }
    if (res && n != 1) {
        fprintf(stderr, "invalid: restore_data takes exactly one interval (got %zu)\n", n);
        return 1;
    }
    const char *ret = getenv("TSVAULT_SOFT_DELETE_RETENTION_S");
    tsv_store_options opt = {
        .data_dir = argv[1],
        .trash_retention_s = 168 * 3600,
        .soft_delete_retention_s = ret ? strtoll(ret, NULL, 10) : 720 * 3600,
    };
    tsv_store *s = NULL;
    if (tsv_store_open(&s, &opt, &err) != 0) {
        fprintf(stderr, "%s: %s\n", tsv_code_string(err.code), err.message);
        return 1;
    }
    int rc;
    if (purge) {
        rc = tsv_store_vault_purge_now(s, &err);
        if (rc == 0)
            printf("{}\n");
    } else {
        tsv_vault_result r;
        tsv_vault_op_options o = {.op_id = "vaulttool", .version = version};
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = del ? tsv_vault_delete_data(s, argv[3], iv, n, &o, &r, &err)
                 : tsv_vault_restore_data(s, argv[3], &iv[0], &o, &r, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (rc == 0)
            print_result(&r, (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        tsv_vault_result_clear(&r);
    }
    tsv_store_close(s);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", tsv_code_string(err.code), err.message);
        return 1;
    }
    return 0;
}
