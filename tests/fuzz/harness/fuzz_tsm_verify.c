/*
 * fuzz_tsm_verify: whole-file TSM validation (storage/tsm.c). Property: the
 * streamed validation (tsv_tsm_stream fed in uneven chunks, then
 * tsv_tsm_verify_fd_streamed) gives the verdict, message and stats of the
 * plain one, as tsm.h promises.
 */
#include "fuzz_util.h"
#include "tsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* The first byte picks the flags and the chunking; the rest is the file. */
    unsigned flags = (data[0] & 1) ? TSV_TSM_VERIFY_UTF8_KEYS : 0;
    size_t chunk = 1 + (size_t)(data[0] >> 1) * 37;
    data++, size--;
    int fd = fuzz_memfd(data, size);
    tsv_tsm_stats st1, st2;
    tsv_error e1, e2;
    memset(&st1, 0, sizeof st1);
    memset(&st2, 0, sizeof st2);
    int rc1 = tsv_tsm_verify_fd_ex(fd, "f.tsm", flags, &st1, &e1);

    tsv_tsm_stream *s = NULL;
    tsv_error err;
    FUZZ_CHECK(tsv_tsm_stream_new(&s, &err) == 0);
    for (size_t off = 0; off < size; off += chunk)
        tsv_tsm_stream_feed(s, data + off, size - off < chunk ? size - off : chunk);
    FUZZ_CHECK(tsv_tsm_stream_checked(s) <= size);
    int rc2 = tsv_tsm_verify_fd_streamed(fd, "f.tsm", flags, s, &st2, &e2);
    tsv_tsm_stream_free(s);
    close(fd);

    FUZZ_CHECK(rc1 == rc2);
    if (rc1 == 0) {
        FUZZ_CHECK(st1.keys == st2.keys && st1.blocks == st2.blocks && st1.values == st2.values &&
                   st1.min_time == st2.min_time && st1.max_time == st2.max_time);
    } else {
        FUZZ_CHECK(e1.code == e2.code);
        FUZZ_CHECK(strcmp(e1.message, e2.message) == 0);
    }
    return 0;
}
