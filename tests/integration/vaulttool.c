/*
 * tsv_vaulttool: runs the vault operations of storage/vault_ops.h on a
 * stopped tsvault's data directory through the C API, as the jobs layer
 * will, so integration tests can drive delete_data / restore_data before
 * the jobs API exists.
 *
 *   tsv_vaulttool DATADIR delete  BUCKETID INTERVAL [INTERVAL...]
 *   tsv_vaulttool DATADIR restore BUCKETID INTERVAL [--version N]
 *   tsv_vaulttool DATADIR purge            purge due versions + GC now
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
#include "tsv_time.h"
#include "store.h"
#include "store_vault.h"
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

int main(int argc, char **argv)
{
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
