/*
 * fuzz_codec: the streaming gzip (ISA-L) and zstd decoders behind request
 * bodies and archives (common/codec_*.c, tsv_decoder_new). The first byte
 * picks the codec and the read size; the decoder is drained to the end,
 * and after a failure it must keep failing (sticky error, stream.h).
 */
#include "fuzz_util.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    tsv_codec codec = (data[0] & 1) ? TSV_CODEC_ZSTD : TSV_CODEC_GZIP;
    size_t rd = 1 + ((size_t)(data[0] >> 1) << 7);
    tsv_reader *mem = tsv_mem_reader_new(data + 1, size - 1);
    FUZZ_CHECK(mem != NULL);
    tsv_reader *dec = NULL;
    tsv_error err;
    FUZZ_CHECK(tsv_decoder_new(&dec, codec, mem, &err) == 0);
    static uint8_t buf[1 << 14];
    uint64_t total = 0;
    for (;;) {
        ssize_t n = tsv_read(dec, buf, rd < sizeof buf ? rd : sizeof buf, &err);
        if (n < 0) {
            FUZZ_CHECK(tsv_read(dec, buf, 16, &err) < 0);
            break;
        }
        if (n == 0)
            break;
        total += (uint64_t)n;
        if (total > (64u << 20)) /* a bomb: the callers cap sizes */
            break;
    }
    tsv_reader_free(dec);
    tsv_reader_free(mem);
    return 0;
}
