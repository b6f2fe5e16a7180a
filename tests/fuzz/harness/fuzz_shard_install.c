/*
 * fuzz_shard_install: the shard tar installer (storage/shard_install.c) fed
 * from memory into a scratch shard directory. The first byte picks the
 * options: bit 0 strict (the 1.x restore's rules), bit 1 the
 * "<prefix>/<file>" rule with prefix "db/rp/4", bit 2 an existing shard
 * file to carry over. Property: on failure the shard directory is as it was.
 */
#include "fuzz_util.h"
#include "shard_install.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    const char *root = fuzz_scratch();
    fuzz_empty_dir(root);
    char shard[512], trash[512], keep[600];
    snprintf(shard, sizeof shard, "%s/4", root);
    snprintf(trash, sizeof trash, "%s/trash", root);
    FUZZ_CHECK(mkdir(trash, 0755) == 0);
    if (sel & 4) {
        FUZZ_CHECK(mkdir(shard, 0755) == 0);
        snprintf(keep, sizeof keep, "%s/000000009-000000001.tombstone", shard);
        int fd = open(keep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        FUZZ_CHECK(fd >= 0);
        close(fd);
    }
    tsv_shard_install_opts opts = {.strict = sel & 1, .prefix = (sel & 2) ? "db/rp/4" : NULL};
    tsv_reader *r = tsv_mem_reader_new(data + 1, size - 1);
    FUZZ_CHECK(r != NULL);
    tsv_shard_install_stats st;
    tsv_error err;
    int rc = tsv_shard_install_from_tar_opts(shard, trash, 4, r, &opts, &st, &err);
    tsv_reader_free(r);
    if (rc != 0) {
        struct stat sb;
        if (sel & 4)
            FUZZ_CHECK(stat(keep, &sb) == 0);
        else
            FUZZ_CHECK(stat(shard, &sb) != 0);
    }
    return 0;
}
