/* fsutil: fsync/rename/mkdir primitives used by every crash-safe write. */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "random.h"

int tsv_fsync_fd(int fd, const char *what, tsv_error *err)
{
    if (fsync(fd) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "fsync %s", what);
    return 0;
}

int tsv_fsync_dir(const char *path, tsv_error *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open directory %s", path);
    int rc = tsv_fsync_fd(fd, path, err);
    close(fd);
    return rc;
}

static int parent_of(const char *path, char *out, size_t outlen)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    while (n > 0 && path[n - 1] != '/')
        n--;
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n == 0) {
        snprintf(out, outlen, ".");
        return 0;
    }
    if (n >= outlen)
        return -1;
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

int tsv_mkdir_p(const char *path, tsv_error *err)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof buf)
        return tsv_error_set(err, TSV_EINTERNAL, "path too long: %s", path);
    strcpy(buf, path);
    size_t len = strlen(buf);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) == 0) {
            char parent[PATH_MAX];
            if (parent_of(buf, parent, sizeof parent) == 0 && tsv_fsync_dir(parent, err) != 0)
                return -1;
        } else if (errno != EEXIST) {
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "mkdir %s", buf);
        } else {
            struct stat st;
            if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
                return tsv_error_set(err, TSV_EINTERNAL, "%s exists and is not a directory", buf);
        }
        buf[i] = saved;
    }
    return 0;
}

int tsv_rename_exchange(const char *a, const char *b, tsv_error *err)
{
    if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "exchange %s and %s", a, b);
    return 0;
}

int tsv_rename_durable(const char *from, const char *to, tsv_error *err)
{
    if (rename(from, to) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "rename %s to %s", from, to);
    char pf[PATH_MAX], pt[PATH_MAX];
    if (parent_of(to, pt, sizeof pt) != 0 || parent_of(from, pf, sizeof pf) != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "path too long");
    if (tsv_fsync_dir(pt, err) != 0)
        return -1;
    if (strcmp(pf, pt) != 0 && tsv_fsync_dir(pf, err) != 0)
        return -1;
    return 0;
}

int tsv_write_all(int fd, const void *buf, size_t len, const char *what, tsv_error *err)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "write %s", what);
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tsv_copy_to_new_file(tsv_reader *r, const char *path, int durable, tsv_error *err)
{
    enum {
        COPY_CHUNK = 1024 * 1024
    };
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", path);
    uint8_t *buf = malloc(COPY_CHUNK);
    int rc = buf ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    while (rc == 0) {
        ssize_t n = tsv_read(r, buf, COPY_CHUNK, err);
        if (n < 0)
            rc = -1;
        else if (n == 0)
            break;
        else
            rc = tsv_write_all(fd, buf, (size_t)n, path, err);
    }
    if (rc == 0 && durable)
        rc = tsv_fsync_fd(fd, path, err);
    free(buf);
    close(fd);
    if (rc != 0)
        unlink(path);
    return rc;
}

int tsv_write_file_atomic(const char *path, const void *buf, size_t len, tsv_error *err)
{
    char tmp[PATH_MAX];
    if (tsv_path_join(tmp, sizeof tmp, err, "%s.tmp-%016llx", path,
                      (unsigned long long)tsv_random_u64()) != 0)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", tmp);
    if (tsv_write_all(fd, buf, len, tmp, err) != 0 || tsv_fsync_fd(fd, tmp, err) != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0) {
        unlink(tmp);
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "close %s", tmp);
    }
    if (tsv_rename_durable(tmp, path, err) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int tsv_open_read(const char *path, int *fd, struct stat *st, tsv_error *err)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return tsv_error_set_errno(err, errno == ENOENT ? TSV_ENOTFOUND : TSV_EINTERNAL, errno,
                                   "open %s", path);
    if (st && fstat(*fd, st) != 0) {
        int e = errno;
        close(*fd);
        *fd = -1;
        return tsv_error_set_errno(err, TSV_EINTERNAL, e, "stat %s", path);
    }
    return 0;
}

int tsv_read_file(const char *path, size_t max, char **out, size_t *len, tsv_error *err)
{
    int fd;
    struct stat st;
    if (tsv_open_read(path, &fd, &st, err) != 0)
        return -1;
    if ((size_t)st.st_size > max) {
        close(fd);
        return tsv_error_set(err, TSV_EINTERNAL, "%s is larger than %zu bytes", path, max);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory reading %s", path);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return tsv_error_set_errno(err, TSV_EINTERNAL, e, "read %s", path);
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    if (len)
        *len = got;
    return 0;
}

static int remove_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int tsv_remove_tree(const char *path, tsv_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0
                               : tsv_error_set_errno(err, TSV_EINTERNAL, errno, "stat %s", path);
    if (nftw(path, remove_cb, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "remove %s", path);
    return 0;
}

int tsv_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int tsv_path_join(char *out, size_t outlen, tsv_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= outlen)
        return tsv_error_set(err, TSV_EINTERNAL, "path too long");
    return 0;
}

static int link_tree_at(const char *src, const char *dst, int depth, uint64_t *files,
                        uint64_t *bytes, tsv_error *err)
{
    if (depth > 8)
        return tsv_error_set(err, TSV_EINTERNAL, "%s: directory tree too deep", src);
    if (tsv_mkdir_p(dst, err) != 0)
        return -1;
    DIR *d = opendir(src);
    if (!d)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open directory %s", src);
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char from[PATH_MAX], to[PATH_MAX];
        struct stat st;
        if (tsv_path_join(from, sizeof from, err, "%s/%s", src, e->d_name) != 0 ||
            tsv_path_join(to, sizeof to, err, "%s/%s", dst, e->d_name) != 0)
            rc = -1;
        else if (lstat(from, &st) != 0)
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "stat %s", from);
        else if (S_ISDIR(st.st_mode))
            rc = link_tree_at(from, to, depth + 1, files, bytes, err);
        else if (!S_ISREG(st.st_mode))
            rc = tsv_error_set(err, TSV_EINTERNAL, "%s: not a regular file or directory", from);
        else if (link(from, to) != 0)
            rc = tsv_error_set_errno(
                err, errno == ENOSPC || errno == EDQUOT ? TSV_ENOSPACE : TSV_EINTERNAL, errno,
                "link %s to %s", from, to);
        else {
            if (files)
                (*files)++;
            if (bytes)
                *bytes += (uint64_t)st.st_size;
        }
    }
    if (rc == 0 && errno != 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read directory %s", src);
    closedir(d);
    if (rc == 0)
        rc = tsv_fsync_dir(dst, err);
    return rc;
}

int tsv_link_tree(const char *src, const char *dst, uint64_t *files, uint64_t *bytes,
                  tsv_error *err)
{
    return link_tree_at(src, dst, 0, files, bytes, err);
}

static int fsync_tree_at(const char *dir, int depth, tsv_error *err)
{
    if (depth > 8)
        return tsv_error_set(err, TSV_EINTERNAL, "%s: directory tree too deep", dir);
    DIR *d = opendir(dir);
    if (!d)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open directory %s", dir);
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (errno = 0, e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[PATH_MAX];
        struct stat st;
        if (tsv_path_join(path, sizeof path, err, "%s/%s", dir, e->d_name) != 0) {
            rc = -1;
        } else if (lstat(path, &st) != 0) {
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "stat %s", path);
        } else if (S_ISDIR(st.st_mode)) {
            rc = fsync_tree_at(path, depth + 1, err);
        } else if (S_ISREG(st.st_mode)) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
            else {
                rc = tsv_fsync_fd(fd, path, err);
                close(fd);
            }
        }
    }
    if (rc == 0 && errno != 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read directory %s", dir);
    closedir(d);
    return rc == 0 ? tsv_fsync_dir(dir, err) : rc;
}

int tsv_fsync_tree(const char *dir, tsv_error *err) { return fsync_tree_at(dir, 0, err); }
