/*
 * fuzz_tsm_block: the decoders of one TSM block's data (storage/tsm_decode.c,
 * tsm_values.c), for every block type: the first input byte is the block's
 * type byte as in a file (0 float, 1 integer, 2 boolean, 3 string,
 * 4 unsigned), so the corpus holds real blocks of each type. Properties:
 * tsm_decode_block_prefix finds exactly the length tsm_decode_block accepts
 * (same result); tsm_values_decode accepts what the validator accepts and
 * produces `count` values with the same first/last timestamps; the
 * timestamp-only count agrees.
 */
#include "fuzz_util.h"
#include "tsm.h"
#include "tsm_decode.h"
#include "tsm_values.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > TSV_TSM_MAX_BLOCK_BYTES)
        return 0;
    char why[256];
    tsm_scratch scratch = {0};
    tsm_block_result r1, r2;
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    unsigned type = data[0];

    int rc1 = tsm_decode_block(data, size, type, &scratch, &r1, why, sizeof why);
    FUZZ_CHECK(rc1 == TSM_DEC_OK || rc1 == TSM_DEC_INVALID);
    FUZZ_CHECK(strlen(why) < sizeof why);

    size_t used = 0;
    int rc2 = tsm_decode_block_prefix(data, size, &scratch, &r2, &used, why, sizeof why);
    FUZZ_CHECK(rc2 == TSM_DEC_OK || rc2 == TSM_DEC_INVALID || rc2 == TSM_DEC_SHORT);
    if (rc2 == TSM_DEC_OK) {
        FUZZ_CHECK(used >= 1 && used <= size);
        tsm_block_result r3;
        FUZZ_CHECK(tsm_decode_block(data, used, type, &scratch, &r3, why, sizeof why) ==
                   TSM_DEC_OK);
        FUZZ_CHECK(r3.count == r2.count && r3.first == r2.first && r3.last == r2.last);
        if (rc1 == TSM_DEC_OK)
            FUZZ_CHECK(used == size); /* a valid block ends in one place only */
    }
    if (rc1 == TSM_DEC_OK) {
        FUZZ_CHECK(rc2 == TSM_DEC_OK && used == size);
        FUZZ_CHECK(r1.count == r2.count && r1.first == r2.first && r1.last == r2.last);
    }

    tsm_values vals;
    memset(&vals, 0, sizeof vals);
    int rc3 = tsm_values_decode(data, size, type, &vals, why, sizeof why);
    FUZZ_CHECK(rc3 == TSM_DEC_OK || rc3 == TSM_DEC_INVALID);
    FUZZ_CHECK((rc3 == TSM_DEC_OK) == (rc1 == TSM_DEC_OK));
    if (rc3 == TSM_DEC_OK) {
        FUZZ_CHECK(vals.n == r1.count && vals.n >= 1);
        FUZZ_CHECK(vals.ts[0] == r1.first && vals.ts[vals.n - 1] == r1.last);
        if (type == TSM_BLOCK_STRING)
            for (size_t k = 0; k < vals.n; k++)
                FUZZ_CHECK((uint64_t)vals.soff[k] + vals.slen[k] <= vals.str.cap);
        uint64_t count = 0;
        size_t need = 0;
        FUZZ_CHECK(tsm_values_count(data, size, &count, &need) == TSM_DEC_OK);
        FUZZ_CHECK(count == r1.count);
    } else {
        uint64_t count = 0;
        size_t need = 0;
        tsm_values_count(data, size, &count, &need);
    }
    tsm_values_decode_timestamps(data, size, &vals, why, sizeof why);
    tsm_values_free(&vals);

    /* The snappy decoder alone, on the bytes after the type byte. */
    const uint8_t *out;
    size_t out_len;
    if (tsm_snappy_decode(data + 1, size - 1, 1u << 20, &scratch, &out, &out_len, why,
                          sizeof why) == TSM_DEC_OK)
        FUZZ_CHECK(out_len <= 1u << 20 && (out_len == 0 || out != NULL));
    tsm_scratch_free(&scratch);
    return 0;
}
