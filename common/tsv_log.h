/*
 * tsv_log: leveled logging to stderr, one line per event.
 *
 * Format: "2026-11-21T11:46:55.123Z level=info msg=..." (logfmt-ish, easy to
 * grep). Thread-safe: each line is written with a single write(2).
 * Never log secrets (tokens): callers are responsible.
 */
#ifndef TSV_LOG_H
#define TSV_LOG_H

typedef enum tsv_log_level {
    TSV_LOG_DEBUG = 0,
    TSV_LOG_INFO = 1,
    TSV_LOG_WARN = 2,
    TSV_LOG_ERROR = 3,
} tsv_log_level;

void tsv_log_set_level(tsv_log_level level);
tsv_log_level tsv_log_get_level(void);
/* Parses "debug|info|warn|error"; returns 0 on success, -1 if unknown. */
int tsv_log_parse_level(const char *s, tsv_log_level *out);

void tsv_log(tsv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define TSV_DEBUG(...) tsv_log(TSV_LOG_DEBUG, __VA_ARGS__)
#define TSV_INFO(...) tsv_log(TSV_LOG_INFO, __VA_ARGS__)
#define TSV_WARN(...) tsv_log(TSV_LOG_WARN, __VA_ARGS__)
#define TSV_ERROR(...) tsv_log(TSV_LOG_ERROR, __VA_ARGS__)

#endif
