/* proc_stats: resident memory, descriptors and CPU time of this process (proc_stats.h). */
#include "proc_stats.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int tsv_proc_stats_get(tsv_proc_stats *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open /proc/self/statm");
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    if (n != 2)
        return tsv_error_set(err, TSV_EINTERNAL, "cannot parse /proc/self/statm");
    out->virtual_bytes = (uint64_t)size * (uint64_t)page;
    out->rss_bytes = (uint64_t)resident * (uint64_t)page;

    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open /proc/self/fd");
    struct dirent *e;
    uint64_t fds = 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            fds++;
    closedir(d);
    out->open_fds = fds ? fds - 1 : 0; /* not the one opendir holds */

    d = opendir("/proc/self/task");
    if (d) {
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                out->threads++;
        closedir(d);
    }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        out->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        out->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return 0;
}
