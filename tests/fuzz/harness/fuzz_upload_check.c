/*
 * fuzz_upload_check: an upload validated while it arrives
 * (storage/upload_check.h), fed in writes of 1 byte to 64 KiB as civetweb
 * would hand them over, then finished or (first byte odd) abandoned half
 * way as a dropped connection is.
 * Properties: the check never accepts what the stored-file validation
 * refuses (finish = 1 implies tsv_archive_inspect_ex accepts the same bytes
 * with the same format and compression); every released range lies inside
 * the upload and starts and ends with the bytes the check saw there.
 */
#include "fuzz_storage.h"
#include "upload_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    const char *root = fuzz_scratch();
    fuzz_empty_dir(root);
    char keep[512];
    snprintf(keep, sizeof keep, "%s/keep", root);
    FUZZ_CHECK(mkdir(keep, 0755) == 0);
    tsv_upload_check *c;
    tsv_error err;
    FUZZ_CHECK(tsv_upload_check_start(&c, keep, &err) == 0);
    size_t step = (size_t)(mode >> 1) * 257 + 1, off = 0;
    size_t stop = mode & 1 ? size / 2 : size;
    while (off < stop) {
        size_t n = step < stop - off ? step : stop - off;
        tsv_upload_check_feed(c, data + off, n);
        off += n;
        step = step * 5 % 65536 + 1;
    }
    if (mode & 1) {
        tsv_upload_check_free(c);
        return 0;
    }
    tsv_data_format format;
    tsv_compression compression;
    tsv_tsm_trust validated = {0};
    int kept = tsv_upload_check_finish(c, &format, &compression, &validated, &err);
    FUZZ_CHECK(kept == 0 || kept == 1);
    if (kept == 1) {
        const tsv_upload_range *g;
        size_t n = tsv_upload_check_ranges(c, &g);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(g[i].length >= TSV_UPLOAD_EDGE && g[i].offset + g[i].length <= size);
            FUZZ_CHECK(memcmp(data + g[i].offset, g[i].head, TSV_UPLOAD_EDGE) == 0);
            FUZZ_CHECK(memcmp(data + g[i].offset + g[i].length - TSV_UPLOAD_EDGE, g[i].tail,
                              TSV_UPLOAD_EDGE) == 0);
        }
        char path[512], scratch[512];
        tsv_data_format f2;
        tsv_compression c2;
        tsv_tsm_trust t2 = {0};
        FUZZ_CHECK(fuzz_inspect_staged(data, size, path, sizeof path, scratch, sizeof scratch, &f2,
                                       &c2, &t2, &err) == 0);
        FUZZ_CHECK(f2 == format && c2 == compression);
        tsv_tsm_trust_clear(&t2);
    }
    tsv_tsm_trust_clear(&validated);
    tsv_upload_check_free(c);
    return 0;
}
