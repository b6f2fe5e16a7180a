/* trash: data moved aside instead of deleted, and its purge by age. */
#include "trash.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "random.h"
#include "tsv_log.h"

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Makes a fresh trash slot and the destination path for `path` inside it. */
static int trash_slot(const char *trash_dir, const char *path, const char *reason, char *dest,
                      size_t destlen, tsv_error *err)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char slot[PATH_MAX];
    if (tsv_path_join(slot, sizeof slot, err, "%s/%04d%02d%02dT%02d%02d%02dZ-%s-%08llx", trash_dir,
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, reason, (unsigned long long)(tsv_random_u64() & 0xffffffffu)) != 0)
        return -1;
    if (tsv_mkdir_p(slot, err) != 0)
        return -1;
    return tsv_path_join(dest, destlen, err, "%s/%s", slot, base_name(path));
}

int tsv_trash_link(const char *trash_dir, const char *path, const char *reason, tsv_error *err)
{
    if (!tsv_path_exists(path))
        return 0;
    char dest[PATH_MAX], parent[PATH_MAX];
    if (trash_slot(trash_dir, path, reason, dest, sizeof dest, err) != 0)
        return -1;
    if (link(path, dest) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "link %s", path);
    snprintf(parent, sizeof parent, "%s", dest);
    *strrchr(parent, '/') = '\0';
    if (tsv_fsync_dir(parent, err) != 0)
        return -1;
    TSV_INFO("msg=\"kept previous version\" path=\"%s\" copy=\"%s\" reason=%s", path, dest, reason);
    return 0;
}

int tsv_trash_move(const char *trash_dir, const char *path, const char *reason, tsv_error *err)
{
    if (!tsv_path_exists(path))
        return 0;
    char dest[PATH_MAX];
    if (trash_slot(trash_dir, path, reason, dest, sizeof dest, err) != 0)
        return -1;
    if (tsv_rename_durable(path, dest, err) != 0)
        return -1;
    TSV_INFO("msg=\"moved aside\" from=\"%s\" to=\"%s\" reason=%s", path, dest, reason);
    return 0;
}

static int parse_trash_time(const char *name, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(name, "%4d%2d%2dT%2d%2d%2dZ-", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return 0;
}

int tsv_trash_purge(const char *trash_dir, int64_t max_age_s, tsv_error *err)
{
    if (max_age_s < 0)
        return 0;
    DIR *d = opendir(trash_dir);
    if (!d)
        return errno == ENOENT
                   ? 0
                   : tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", trash_dir);
    time_t now = time(NULL);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        time_t t;
        if (e->d_name[0] == '.' || parse_trash_time(e->d_name, &t) != 0)
            continue;
        if ((int64_t)(now - t) <= max_age_s)
            continue;
        char path[PATH_MAX];
        if (tsv_path_join(path, sizeof path, err, "%s/%s", trash_dir, e->d_name) != 0 ||
            tsv_remove_tree(path, err) != 0) {
            rc = -1;
            break;
        }
        TSV_INFO("msg=\"trash purged\" path=\"%s\"", path);
    }
    closedir(d);
    return rc;
}
