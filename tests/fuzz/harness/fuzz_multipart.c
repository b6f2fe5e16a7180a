/*
 * fuzz_multipart: the InfluxDB 2.x client's reader of /backup/metadata's
 * multipart/mixed body (remote/influx2_parse.c), fed from memory through a
 * reader that hands out at most N bytes a call (the first byte picks N).
 * Properties: on success the kv and buckets parts were seen, the bytes the
 * writers got equal the counts the parser reports, and the buckets part is
 * within its bound.
 */
#include "fuzz_util.h"
#include "influx2_internal.h"
#include "step_reader.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t steps[4] = {1, 7, 4096, 1 << 20};
    step_reader r = step_reader_of(data + 1, size - 1, steps[data[0] & 3]);
    /* bit 2: a quoted boundary parameter, as some servers send it */
    const char *ct = (data[0] & 4) ? "multipart/mixed; boundary=\"b0undary\""
                                   : "multipart/mixed; boundary=b0undary";
    tsv_buf kv = {0}, sql = {0}, buckets = {0};
    tsv_writer *kw = tsv_buf_writer_new(&kv), *sw = tsv_buf_writer_new(&sql);
    FUZZ_CHECK(kw && sw);
    influx2_parts parts = {.kv_w = kw, .sql_w = sw, .buckets = &buckets, .buckets_max = 4096};
    tsv_error err;
    if (influx2__parse_metadata(&r.base, ct, &parts, &err) == 0) {
        FUZZ_CHECK(parts.have_kv && parts.have_buckets);
        FUZZ_CHECK(parts.kv_bytes == kv.len && parts.sql_bytes == sql.len);
        FUZZ_CHECK(buckets.len <= 4096);
    } else {
        FUZZ_CHECK(err.message[0] != '\0');
    }
    tsv_writer_free(kw);
    tsv_writer_free(sw);
    tsv_buf_free(&kv);
    tsv_buf_free(&sql);
    tsv_buf_free(&buckets);
    return 0;
}
