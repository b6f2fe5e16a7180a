/*
 * fuzz_tombstone: tombstone validation, every version (storage/tombstone.c:
 * v1 text, v2 raw records, v3/v4 gzip members; the 4-byte header picks).
 */
#include "fuzz_util.h"
#include "tombstone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = fuzz_memfd(data, size);
    uint64_t entries = 0;
    tsv_error err;
    tsv_tombstone_verify_fd(fd, "0-1.tombstone", &entries, &err);
    close(fd);
    return 0;
}
