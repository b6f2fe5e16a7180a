/*
 * fuzz_time: RFC 3339 times (common/tsv_time.c) and ISO 8601 intervals
 * (common/interval.c). Properties: a parsed time formats (RFC 3339 nano,
 * UTC) to a string that parses to the same instant; a parsed interval is
 * non-empty and its formatted form parses to the same bounds.
 */
#include "fuzz_util.h"
#include "interval.h"
#include "tsv_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    tsv_error err;
    int64_t ns, ns2;
    if (tsv_parse_rfc3339(s, size, &ns, &err) == 0) {
        char buf[TSV_RFC3339_MAX];
        tsv_format_rfc3339nano(ns, buf, sizeof buf);
        FUZZ_CHECK(tsv_parse_rfc3339(buf, strlen(buf), &ns2, &err) == 0);
        FUZZ_CHECK(ns == ns2);
    }
    tsv_interval iv, iv2;
    if (tsv_interval_parse(s, size, &iv, &err) == 0) {
        FUZZ_CHECK(iv.start_ns < iv.end_ns);
        char buf[TSV_INTERVAL_MAX];
        tsv_interval_format(&iv, buf, sizeof buf);
        FUZZ_CHECK(tsv_interval_parse(buf, strlen(buf), &iv2, &err) == 0);
        FUZZ_CHECK(iv.start_ns == iv2.start_ns && iv.end_ns == iv2.end_ns);
    }
    return 0;
}
