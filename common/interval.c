/* interval: ISO 8601 "<start>/<end>" intervals (see interval.h). */
#include "interval.h"

#include <stdio.h>
#include <string.h>

#include "tsv_time.h"

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* One bound: a date (midnight UTC) or an RFC 3339 date-time. */
static int parse_bound(const char *s, size_t len, const char *which, int64_t *out, tsv_error *err)
{
    if (len == 0 || (len == 2 && s[0] == '.' && s[1] == '.'))
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid interval: the %s is missing (unbounded intervals are not "
                             "accepted; give both ends, e.g. 2022-07-01/2022-08-01)",
                             which);
    if (s[0] == 'P' || s[0] == 'p')
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid interval: durations such as \"%.*s\" are not supported; "
                             "give the %s as a date or an RFC 3339 time",
                             (int)(len > 40 ? 40 : len), s, which);
    if (len == 10 && is_digit(s[0]) && s[4] == '-' && s[7] == '-') {
        char buf[32];
        snprintf(buf, sizeof buf, "%.10sT00:00:00Z", s);
        tsv_error e;
        if (tsv_parse_rfc3339(buf, strlen(buf), out, &e) == 0)
            return 0;
    } else {
        tsv_error e;
        if (tsv_parse_rfc3339(s, len, out, &e) == 0)
            return 0;
    }
    return tsv_error_set(err, TSV_EINVALID,
                         "invalid interval: the %s \"%.*s\" is not a date (YYYY-MM-DD) or an "
                         "RFC 3339 time (YYYY-MM-DDTHH:MM:SSZ)",
                         which, (int)(len > 64 ? 64 : len), s);
}

int tsv_interval_parse(const char *text, size_t len, tsv_interval *out, tsv_error *err)
{
    if (!text || len == 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid interval: empty (expected <start>/<end>, e.g. "
                             "2022-07-01/2022-08-01)");
    const char *slash = memchr(text, '/', len);
    if (!slash)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid interval \"%.*s\": expected <start>/<end>, e.g. "
                             "2022-07-01/2022-08-01",
                             (int)(len > 64 ? 64 : len), text);
    size_t a = (size_t)(slash - text);
    if (memchr(slash + 1, '/', len - a - 1))
        return tsv_error_set(err, TSV_EINVALID, "invalid interval \"%.*s\": more than one '/'",
                             (int)(len > 64 ? 64 : len), text);
    tsv_interval iv;
    if (parse_bound(text, a, "start", &iv.start_ns, err) != 0 ||
        parse_bound(slash + 1, len - a - 1, "end", &iv.end_ns, err) != 0)
        return -1;
    if (iv.start_ns >= iv.end_ns)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid interval \"%.*s\": the start must be before the end (%s)",
                             (int)(len > 64 ? 64 : len), text,
                             iv.start_ns == iv.end_ns ? "empty interval" : "reversed interval");
    *out = iv;
    return 0;
}

void tsv_interval_format(const tsv_interval *iv, char *out, size_t outlen)
{
    char a[TSV_RFC3339_MAX], b[TSV_RFC3339_MAX];
    tsv_format_rfc3339nano(iv->start_ns, a, sizeof a);
    tsv_format_rfc3339nano(iv->end_ns, b, sizeof b);
    snprintf(out, outlen, "%s/%s", a, b);
}
