/* engine: shard paths and locks, staged-swap recovery, reconciliation. */
#include "engine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "trash.h"
#include "tsv_log.h"

int tsv_shard_path(char *out, size_t outlen, const char *state_dir, const char *db, const char *rp,
                   uint64_t shard_id, tsv_error *err)
{
    return tsv_path_join(out, outlen, err, "%s/engine/data/%s/%s/%" PRIu64, state_dir, db, rp,
                         shard_id);
}

/* A small striped lock table: shards hash onto 64 mutexes. Two shards may
 * share a stripe, which only costs concurrency, never correctness. */
#define SHARD_STRIPES 64
static pthread_mutex_t shard_stripes[SHARD_STRIPES] = {
    [0 ... SHARD_STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER,
};

void tsv_shard_lock(uint64_t shard_id)
{
    pthread_mutex_lock(&shard_stripes[shard_id % SHARD_STRIPES]);
}

void tsv_shard_unlock(uint64_t shard_id)
{
    pthread_mutex_unlock(&shard_stripes[shard_id % SHARD_STRIPES]);
}

static void stripes_of(const uint64_t *ids, size_t n, unsigned char used[SHARD_STRIPES])
{
    memset(used, 0, SHARD_STRIPES);
    for (size_t i = 0; i < n; i++)
        used[ids[i] % SHARD_STRIPES] = 1;
}

void tsv_shard_lock_many(const uint64_t *ids, size_t n)
{
    unsigned char used[SHARD_STRIPES];
    stripes_of(ids, n, used);
    for (int i = 0; i < SHARD_STRIPES; i++)
        if (used[i])
            pthread_mutex_lock(&shard_stripes[i]);
}

void tsv_shard_unlock_many(const uint64_t *ids, size_t n)
{
    unsigned char used[SHARD_STRIPES];
    stripes_of(ids, n, used);
    for (int i = SHARD_STRIPES - 1; i >= 0; i--)
        if (used[i])
            pthread_mutex_unlock(&shard_stripes[i]);
}

int tsv_gen_marker_write(const char *dir, uint64_t gen, tsv_error *err)
{
    char path[PATH_MAX], buf[32];
    if (tsv_path_join(path, sizeof path, err, "%s/%s", dir, TSV_GEN_MARKER) != 0)
        return -1;
    int n = snprintf(buf, sizeof buf, "%016" PRIx64 "\n", gen);
    return tsv_write_file_atomic(path, buf, (size_t)n, err);
}

int tsv_gen_marker_write_unsynced(const char *dir, uint64_t gen, tsv_error *err)
{
    char path[PATH_MAX], buf[32];
    if (tsv_path_join(path, sizeof path, err, "%s/%s", dir, TSV_GEN_MARKER) != 0)
        return -1;
    int n = snprintf(buf, sizeof buf, "%016" PRIx64 "\n", gen);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", path);
    int rc = tsv_write_all(fd, buf, (size_t)n, path, err);
    if (close(fd) != 0 && rc == 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "close %s", path);
    return rc;
}

int tsv_staging_create(const char *target, uint64_t gen, char *staging, char *parent,
                       tsv_error *err)
{
    if (tsv_path_join(staging, PATH_MAX, err, "%s.staging-%016" PRIx64, target, gen) != 0 ||
        tsv_path_join(parent, PATH_MAX, err, "%s", target) != 0)
        return -1;
    char *slash = strrchr(parent, '/');
    if (!slash)
        return tsv_error_set(err, TSV_EINTERNAL, "bad shard path %s", target);
    *slash = '\0';
    if (tsv_mkdir_p(parent, err) != 0)
        return -1;
    if (mkdir(staging, 0755) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "mkdir %s", staging);
    return 0;
}

int tsv_gen_marker_read(const char *dir, uint64_t *gen, tsv_error *err)
{
    char path[PATH_MAX];
    *gen = 0;
    if (tsv_path_join(path, sizeof path, err, "%s/%s", dir, TSV_GEN_MARKER) != 0)
        return -1;
    char *text;
    tsv_error e;
    if (tsv_read_file(path, 64, &text, NULL, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    *gen = strtoull(text, NULL, 16);
    free(text);
    return 0;
}

int tsv_staging_recover(const char *parent_dir, const char *trash_dir, tsv_error *err)
{
    DIR *d = opendir(parent_dir);
    if (!d)
        return errno == ENOENT
                   ? 0
                   : tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", parent_dir);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        const char *tag = strstr(e->d_name, ".staging-");
        if (!tag)
            continue;
        char target_name[NAME_MAX + 1];
        size_t tlen = (size_t)(tag - e->d_name);
        memcpy(target_name, e->d_name, tlen);
        target_name[tlen] = '\0';
        uint64_t gen = strtoull(tag + 9, NULL, 16);
        char staging[PATH_MAX], target[PATH_MAX];
        if (tsv_path_join(staging, sizeof staging, err, "%s/%s", parent_dir, e->d_name) != 0 ||
            tsv_path_join(target, sizeof target, err, "%s/%s", parent_dir, target_name) != 0) {
            rc = -1;
            break;
        }
        uint64_t live = 0;
        if (tsv_gen_marker_read(target, &live, err) != 0) {
            rc = -1;
            break;
        }
        if (gen != 0 && live == gen) {
            /* The swap happened before the crash: staging holds the old data. */
            TSV_WARN(
                "msg=\"recovering interrupted swap: keeping previous data in trash\" path=\"%s\"",
                staging);
            if (tsv_trash_move(trash_dir, staging, "interrupted-swap", err) != 0) {
                rc = -1;
                break;
            }
        } else {
            TSV_WARN("msg=\"removing unfinished staging directory\" path=\"%s\"", staging);
            if (tsv_remove_tree(staging, err) != 0) {
                rc = -1;
                break;
            }
        }
    }
    closedir(d);
    if (rc == 0)
        rc = tsv_fsync_dir(parent_dir, err);
    return rc;
}

static int is_listed(const char *rel, const char *const *shards, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(shards[i], rel) == 0)
            return 1;
    return 0;
}

int tsv_dir_has_data(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL)
        found =
            strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, TSV_GEN_MARKER);
    closedir(d);
    return found;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int tsv_engine_reconcile(const char *state_dir, const char *trash_dir, const char *const *shards,
                         size_t count, tsv_error *err)
{
    char data[PATH_MAX];
    if (tsv_path_join(data, sizeof data, err, "%s/engine/data", state_dir) != 0 ||
        tsv_mkdir_p(data, err) != 0)
        return -1;
    /* Pass 1: staging recovery and orphan shard directories. */
    DIR *dd = opendir(data);
    if (!dd)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", data);
    struct dirent *db;
    int rc = 0;
    while (rc == 0 && (db = readdir(dd)) != NULL) {
        if (db->d_name[0] == '.')
            continue;
        char dbpath[PATH_MAX];
        if (tsv_path_join(dbpath, sizeof dbpath, err, "%s/%s", data, db->d_name) != 0) {
            rc = -1;
            break;
        }
        DIR *rd = opendir(dbpath);
        if (!rd)
            continue;
        struct dirent *rp;
        while (rc == 0 && (rp = readdir(rd)) != NULL) {
            if (rp->d_name[0] == '.' || strcmp(rp->d_name, "_series") == 0)
                continue;
            char rppath[PATH_MAX];
            if (tsv_path_join(rppath, sizeof rppath, err, "%s/%s", dbpath, rp->d_name) != 0 ||
                tsv_staging_recover(rppath, trash_dir, err) != 0) {
                rc = -1;
                break;
            }
            DIR *sd = opendir(rppath);
            if (!sd)
                continue;
            struct dirent *sh;
            while (rc == 0 && (sh = readdir(sd)) != NULL) {
                if (!all_digits(sh->d_name))
                    continue;
                char rel[PATH_MAX], full[PATH_MAX];
                if (tsv_path_join(rel, sizeof rel, err, "%s/%s/%s", db->d_name, rp->d_name,
                                  sh->d_name) != 0 ||
                    tsv_path_join(full, sizeof full, err, "%s/%s", rppath, sh->d_name) != 0) {
                    rc = -1;
                    break;
                }
                if (is_listed(rel, shards, count))
                    continue;
                if (tsv_dir_has_data(full) == 0) {
                    if (tsv_remove_tree(full, err) != 0)
                        rc = -1;
                } else {
                    TSV_WARN("msg=\"shard directory not in the tsdb meta\" path=\"%s\"", full);
                    if (tsv_trash_move(trash_dir, full, "orphan-shard", err) != 0)
                        rc = -1;
                }
            }
            closedir(sd);
        }
        closedir(rd);
    }
    closedir(dd);
    if (rc != 0)
        return -1;
    /* Pass 2: every listed shard has its directory. */
    for (size_t i = 0; i < count; i++) {
        char full[PATH_MAX];
        if (tsv_path_join(full, sizeof full, err, "%s/%s", data, shards[i]) != 0 ||
            tsv_mkdir_p(full, err) != 0)
            return -1;
    }
    return 0;
}
