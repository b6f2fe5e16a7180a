/* schedule: see schedule.h. */
#include "schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS 1000000000LL

int tsv_duration_parse(const char *s, int64_t *ns, tsv_error *err)
{
    const char *p = s;
    int64_t total = 0;
    if (!*p)
        return tsv_error_set(err, TSV_EINVALID, "empty duration");
    while (*p) {
        if (*p < '0' || *p > '9')
            return tsv_error_set(err, TSV_EINVALID,
                                 "duration \"%.40s\": expected a number before a unit (s, m, h, "
                                 "d)",
                                 s);
        char *end;
        long long v = strtoll(p, &end, 10);
        int64_t unit;
        switch (*end) {
        case 's':
            unit = NS;
            break;
        case 'm':
            unit = 60 * NS;
            break;
        case 'h':
            unit = 3600 * NS;
            break;
        case 'd':
            unit = 86400 * NS;
            break;
        default:
            return tsv_error_set(err, TSV_EINVALID, "duration \"%.40s\": unit must be s, m, h or d",
                                 s);
        }
        if (v > 3650LL * 86400 * NS / unit || total > INT64_MAX / 2)
            return tsv_error_set(err, TSV_EINVALID, "duration \"%.40s\" is too long", s);
        total += v * unit;
        p = end + 1;
    }
    if (total <= 0)
        return tsv_error_set(err, TSV_EINVALID, "duration \"%.40s\" must be positive", s);
    *ns = total;
    return 0;
}

int tsv_schedule_every(const char *duration, tsv_schedule *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t ns;
    if (tsv_duration_parse(duration, &ns, err) != 0)
        return tsv_error_wrap(err, "schedule.every");
    if (ns < 60 * NS)
        return tsv_error_set(err, TSV_EINVALID, "schedule.every must be at least 1m (got %s)",
                             duration);
    out->kind = 1;
    out->every_ns = ns;
    return 0;
}

/* One cron field into a bit set of [lo, hi]. */
static int cron_field(const char *f, size_t len, int lo, int hi, uint64_t *bits, int *star,
                      const char *what, tsv_error *err)
{
    char buf[128];
    if (len == 0 || len >= sizeof buf)
        return tsv_error_set(err, TSV_EINVALID, "schedule.cron: bad %s field", what);
    memcpy(buf, f, len);
    buf[len] = 0;
    *bits = 0;
    *star = strcmp(buf, "*") == 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        int a = lo, b = hi, step = 1;
        char *slash = strchr(item, '/');
        if (slash) {
            *slash = 0;
            char *e;
            long v = strtol(slash + 1, &e, 10);
            if (*e || v <= 0 || v > hi)
                return tsv_error_set(err, TSV_EINVALID, "schedule.cron: bad step in %s field",
                                     what);
            step = (int)v;
        }
        if (strcmp(item, "*") != 0) {
            char *e;
            long v = strtol(item, &e, 10);
            if (e == item)
                return tsv_error_set(err, TSV_EINVALID,
                                     "schedule.cron: %s field: \"%s\" is not a number", what, item);
            a = b = (int)v;
            if (*e == '-') {
                char *e2;
                long w = strtol(e + 1, &e2, 10);
                if (e2 == e + 1 || *e2)
                    return tsv_error_set(err, TSV_EINVALID, "schedule.cron: %s field: bad range",
                                         what);
                b = (int)w;
            } else if (*e) {
                return tsv_error_set(err, TSV_EINVALID,
                                     "schedule.cron: %s field: \"%s\" is not a number", what, item);
            } else if (slash) {
                b = hi;
            }
            if (a < lo || b > hi || a > b)
                return tsv_error_set(err, TSV_EINVALID,
                                     "schedule.cron: %s field: %d-%d outside %d-%d", what, a, b, lo,
                                     hi);
        }
        for (int v = a; v <= b; v += step)
            *bits |= 1ULL << v;
    }
    return 0;
}

int tsv_schedule_cron(const char *expr, tsv_schedule *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    const char *fields[5];
    size_t lens[5];
    int n = 0;
    const char *p = expr;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (n == 5)
            return tsv_error_set(err, TSV_EINVALID,
                                 "schedule.cron: more than five fields (minute hour "
                                 "day-of-month month day-of-week)");
        fields[n] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        lens[n] = (size_t)(p - fields[n]);
        n++;
    }
    if (n != 5)
        return tsv_error_set(err, TSV_EINVALID,
                             "schedule.cron: expected five fields (minute hour day-of-month "
                             "month day-of-week), got %d",
                             n);
    uint64_t b[5];
    int star[5];
    static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};
    static const char *const what[5] = {"minute", "hour", "day-of-month", "month", "day-of-week"};
    for (int i = 0; i < 5; i++)
        if (cron_field(fields[i], lens[i], lo[i], hi[i], &b[i], &star[i], what[i], err) != 0)
            return -1;
    out->kind = 2;
    out->minutes = b[0];
    out->hours = (uint32_t)b[1];
    out->days = (uint32_t)b[2];
    out->months = (uint32_t)b[3];
    out->weekdays = (uint8_t)((b[4] | (b[4] >> 7)) & 0x7f); /* 7 = Sunday */
    out->days_star = star[2];
    out->weekdays_star = star[4];
    return 0;
}

static int cron_day_ok(const tsv_schedule *s, const struct tm *tm)
{
    int dom = (s->days >> tm->tm_mday) & 1, dow = (s->weekdays >> tm->tm_wday) & 1;
    if (s->days_star && s->weekdays_star)
        return 1;
    if (s->days_star)
        return dow;
    if (s->weekdays_star)
        return dom;
    return dom || dow;
}

int64_t tsv_schedule_next(const tsv_schedule *s, int64_t after)
{
    if (s->kind == 1)
        return after > INT64_MAX - s->every_ns ? INT64_MAX : after + s->every_ns;
    if (s->kind != 2)
        return INT64_MAX;
    time_t t = (time_t)(after / NS);
    t = t - t % 60 + 60; /* the next whole minute strictly after */
    for (int i = 0; i < 5 * 366 * 24 * 60; i++) {
        struct tm tm;
        gmtime_r(&t, &tm);
        if (!((s->months >> (tm.tm_mon + 1)) & 1) || !cron_day_ok(s, &tm)) {
            t += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60); /* next day */
            continue;
        }
        if (!((s->hours >> tm.tm_hour) & 1)) {
            t += 3600 - tm.tm_min * 60;
            continue;
        }
        if ((s->minutes >> tm.tm_min) & 1)
            return (int64_t)t * NS;
        t += 60;
    }
    return INT64_MAX;
}
