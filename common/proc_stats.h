/*
 * proc_stats: this process's resource figures for the metrics, from Linux's
 * /proc/self (statm for the resident set, fd/ for open descriptors) and
 * getrlimit/getrusage.
 *
 * Errors: int 0/-1 with tsv_error (a /proc that cannot be read).
 * Thread-safety: thread-safe (no shared state).
 */
#ifndef TSV_PROC_STATS_H
#define TSV_PROC_STATS_H

#include <stdint.h>

#include "tsv_error.h"

typedef struct tsv_proc_stats {
    uint64_t rss_bytes;
    uint64_t virtual_bytes;
    uint64_t open_fds;
    uint64_t max_fds;   /* RLIMIT_NOFILE soft limit */
    double cpu_seconds; /* user + system */
    uint64_t threads;
} tsv_proc_stats;

int tsv_proc_stats_get(tsv_proc_stats *out, tsv_error *err);

#endif
