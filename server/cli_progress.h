/*
 * cli_progress: the progress display of the client commands
 * (docs/operations.md "Client"): on a terminal (stderr is a TTY) one line
 * redrawn in place, at most 10 times a second:
 *   upload  [#########...........]  45.0%  12.3 MiB / 27.2 MiB  3.1 MiB/s  ETA 0:05  running
 * when stderr is not a terminal, plain lines on stderr, at most one a second
 * and on every status change; with --json, NDJSON objects on stdout
 * {"type":"progress","label","bytesDone","bytesTotal","bytesPerSecond","etaSeconds","status"}
 * (etaSeconds null while unknown), at most one a second and at the end.
 *
 * Ownership: a value type, nothing to free. Thread-safety: one thread.
 */
#ifndef TSV_CLI_PROGRESS_H
#define TSV_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef enum tsv_progress_mode {
    TSV_PROGRESS_OFF,
    TSV_PROGRESS_TTY,
    TSV_PROGRESS_PLAIN,
    TSV_PROGRESS_JSON,
} tsv_progress_mode;

typedef struct tsv_progress {
    tsv_progress_mode mode;
    char label[48];
    double start, last;
    char last_status[32];
    int drawn; /* a TTY line is on screen */
} tsv_progress;

/* json: --json; quiet: no display at all (JSON lines still go out). */
void tsv_progress_init(tsv_progress *p, const char *label, int json, int quiet);
/* total 0: unknown. rate < 0: computed since init. eta < 0: computed from
 * the rate when total is known. status may be NULL. force: draw now. */
void tsv_progress_update(tsv_progress *p, uint64_t done, uint64_t total, double rate, double eta,
                         const char *status, int force);
/* Ends the TTY line (newline). */
void tsv_progress_end(tsv_progress *p);

/* "12.3 MiB" into buf. */
const char *tsv_progress_bytes(uint64_t n, char *buf, size_t len);

#endif
