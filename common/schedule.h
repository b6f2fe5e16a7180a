/*
 * schedule: when a connection pulls (docs/api.md "Connections API"):
 * {"every":"15m"} (a Go-style duration: "90s", "15m", "1h30m", "1d"; at
 * least 1 minute) or {"cron":"*\/15 * * * *"} (five fields: minute hour
 * day-of-month month day-of-week, UTC; "*", numbers, ranges "a-b", lists
 * "a,b", steps "/n"; day-of-week 0-7 with 0 and 7 Sunday; when both day
 * fields are restricted either one matching is enough, as in cron).
 *
 * Thread-safety: reentrant, no allocation. Errors: int 0/-1 with tsv_error
 * (TSV_EINVALID naming the bad field).
 */
#ifndef TSV_SCHEDULE_H
#define TSV_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

typedef struct tsv_schedule {
    int kind; /* 0 none, 1 every, 2 cron */
    int64_t every_ns;
    uint64_t minutes; /* bit m: minute m */
    uint32_t hours, days, months;
    uint8_t weekdays; /* bit 0 = Sunday */
    int days_star, weekdays_star;
} tsv_schedule;

/* "1h30m" etc. into nanoseconds (> 0). */
int tsv_duration_parse(const char *s, int64_t *ns, tsv_error *err);
int tsv_schedule_every(const char *duration, tsv_schedule *out, tsv_error *err);
int tsv_schedule_cron(const char *expr, tsv_schedule *out, tsv_error *err);
/* The first run time strictly after `after` (unix ns); INT64_MAX if none
 * within 5 years or kind 0. For "every": after + every. */
int64_t tsv_schedule_next(const tsv_schedule *s, int64_t after);

#endif
