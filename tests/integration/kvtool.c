/*
 * tsv_kvtool: edits a stopped tsvault's KV store through the C API, so the
 * integration tests can create state the HTTP API cannot (inactive tokens,
 * org-scoped tokens, hashed-only tokens, inactive users).
 *
 *   tsv_kvtool KVDIR put BUCKET KEY VALUE   top-level bucket (created if
 *                                           missing), key and value as given
 *   tsv_kvtool KVDIR get BUCKET KEY         prints the value, exit 1 if absent
 *
 * Each command is one KV transaction. Exit status 0 on success, 1 on error
 * (message on stderr), 2 on bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "kv.h"

int main(int argc, char **argv)
{
    if (argc < 5 || (strcmp(argv[2], "put") == 0 && argc != 6) ||
        (strcmp(argv[2], "get") == 0 && argc != 5) ||
        (strcmp(argv[2], "put") != 0 && strcmp(argv[2], "get") != 0)) {
        fprintf(stderr, "usage: tsv_kvtool KVDIR put BUCKET KEY VALUE | get BUCKET KEY\n");
        return 2;
    }
    int write = strcmp(argv[2], "put") == 0;
    const char *bname = argv[3], *key = argv[4];
    tsv_error err = {0};
    tsv_kv *kv = NULL;
    tsv_kv_txn *t = NULL;
    uint64_t b;
    if (tsv_kv_open(&kv, argv[1], 0, &err) != 0 || tsv_kv_begin(kv, write, &t, &err) != 0)
        goto fail;
    if (write) {
        if (tsv_kv_bucket_create(t, TSV_KV_ROOT, bname, strlen(bname), 0, 1, &b, &err) != 0 ||
            tsv_kv_put(t, b, key, strlen(key), argv[5], strlen(argv[5]), &err) != 0)
            goto fail;
        int rc = tsv_kv_commit(t, &err); /* frees t either way */
        t = NULL;
        if (rc != 0)
            goto fail;
    } else {
        const uint8_t *v;
        size_t n;
        if (tsv_kv_bucket(t, TSV_KV_ROOT, bname, strlen(bname), &b, &err) != 0 ||
            tsv_kv_get(t, b, key, strlen(key), &v, &n, &err) != 0)
            goto fail;
        fwrite(v, 1, n, stdout);
        tsv_kv_abort(t);
    }
    tsv_kv_close(kv);
    return 0;
fail:
    fprintf(stderr, "tsv_kvtool: %s\n", err.message);
    tsv_kv_abort(t);
    tsv_kv_close(kv);
    return 1;
}
