/* cli_progress: progress bar, plain lines or NDJSON for the client commands (cli_progress.h). */
#include "cli_progress.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 24

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void tsv_progress_init(tsv_progress *p, const char *label, int json, int quiet)
{
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->start = now_s();
    p->last = -1e9;
    if (json)
        p->mode = TSV_PROGRESS_JSON;
    else if (quiet)
        p->mode = TSV_PROGRESS_OFF;
    else if (isatty(STDERR_FILENO))
        p->mode = TSV_PROGRESS_TTY;
    else
        p->mode = TSV_PROGRESS_PLAIN;
}

const char *tsv_progress_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%" PRIu64 " B", n);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}

static void eta_text(double eta, char *buf, size_t len)
{
    if (eta < 0) {
        snprintf(buf, len, "--:--");
        return;
    }
    uint64_t s = (uint64_t)(eta + 0.5);
    if (s >= 3600)
        snprintf(buf, len, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%" PRIu64 ":%02" PRIu64, s / 60, s % 60);
}

void tsv_progress_update(tsv_progress *p, uint64_t done, uint64_t total, double rate, double eta,
                         const char *status, int force)
{
    if (p->mode == TSV_PROGRESS_OFF)
        return;
    double t = now_s();
    int status_changed = status && strcmp(status, p->last_status) != 0;
    double every = p->mode == TSV_PROGRESS_TTY ? 0.1 : 1.0;
    if (!force && !status_changed && t - p->last < every)
        return;
    p->last = t;
    if (status)
        snprintf(p->last_status, sizeof p->last_status, "%s", status);
    double elapsed = t - p->start;
    if (rate < 0)
        rate = elapsed > 0.05 ? (double)done / elapsed : 0;
    if (eta < 0 && total && rate > 0)
        eta = done >= total ? 0 : (double)(total - done) / rate;
    if (total && done >= total)
        eta = 0;
    double pct = total ? 100.0 * (double)done / (double)total : 0;
    if (pct > 100)
        pct = 100;
    if (p->mode == TSV_PROGRESS_JSON) {
        printf("{\"type\":\"progress\",\"label\":\"%s\",\"bytesDone\":%" PRIu64
               ",\"bytesTotal\":%" PRIu64 ",\"bytesPerSecond\":%.0f,\"etaSeconds\":",
               p->label, done, total, rate);
        if (eta < 0)
            printf("null");
        else
            printf("%.1f", eta);
        printf(",\"status\":\"%s\"}\n", status ? status : "");
        fflush(stdout);
        return;
    }
    char db[32], tb[32], rb[32], et[32];
    tsv_progress_bytes(done, db, sizeof db);
    tsv_progress_bytes(total, tb, sizeof tb);
    tsv_progress_bytes((uint64_t)rate, rb, sizeof rb);
    eta_text(eta, et, sizeof et);
    if (p->mode == TSV_PROGRESS_TTY) {
        char bar[BAR_WIDTH + 1];
        int fill = total ? (int)(pct / 100.0 * BAR_WIDTH) : 0;
        for (int i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        /* \r and erase-line: redraw in place. */
        if (total)
            fprintf(stderr, "\r\033[K%s [%s] %5.1f%%  %s / %s  %s/s  ETA %s%s%s", p->label, bar,
                    pct, db, tb, rb, et, status ? "  " : "", status ? status : "");
        else
            fprintf(stderr, "\r\033[K%s [%s]  %s  %s/s%s%s", p->label, bar, db, rb,
                    status ? "  " : "", status ? status : "");
        p->drawn = 1;
    } else if (total) {
        fprintf(stderr, "%s: %.1f%% %" PRIu64 "/%" PRIu64 " bytes, %.0f bytes/s, eta %s%s%s\n",
                p->label, pct, done, total, rate, et, status ? ", " : "", status ? status : "");
    } else {
        fprintf(stderr, "%s: %" PRIu64 " bytes, %.0f bytes/s%s%s\n", p->label, done, rate,
                status ? ", " : "", status ? status : "");
    }
    fflush(stderr);
}

void tsv_progress_end(tsv_progress *p)
{
    if (p->mode == TSV_PROGRESS_TTY && p->drawn) {
        fputc('\n', stderr);
        fflush(stderr);
    }
    p->drawn = 0;
}
