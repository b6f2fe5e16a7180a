/* object_store_local: objects as read-only files under <dir>/<2 hex>/<64 hex>. */
#include "object_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "fsutil.h"
#include "random.h"
#include "tsv_log.h"
#include "tsv_time.h"

#define IO_CHUNK (1024 * 1024)

typedef struct local_store {
    tsv_objstore base;
    char dir[PATH_MAX];
    char tmp[PATH_MAX];
    char marks[PATH_MAX]; /* <dir>/corrupt: one marker file per corrupt object */
    /* Serialises marking, repairing and unmarking (one process owns the
     * data directory: its LOCK). */
    pthread_mutex_t mark_mu;
    /* Evicted objects come back through this (object_store.h). */
    tsv_objstore_fetch_fn fetch;
    void *fetch_ctx;
} local_store;

void tsv_objstore_local_set_fetch(tsv_objstore *os, tsv_objstore_fetch_fn fn, void *ctx)
{
    local_store *ls = (local_store *)os;
    __atomic_store_n(&ls->fetch_ctx, ctx, __ATOMIC_RELEASE);
    __atomic_store_n(&ls->fetch, fn, __ATOMIC_RELEASE);
}

/* A missing object: asks the remote tier for it. 1 = fetched (try again),
 * 0 = nobody has it, -1 = the tier failed (err set). */
static int fetch_missing(local_store *ls, const char *hex, tsv_error *err)
{
    tsv_objstore_fetch_fn fn = __atomic_load_n(&ls->fetch, __ATOMIC_ACQUIRE);
    if (!fn)
        return 0;
    tsv_error e;
    if (fn(__atomic_load_n(&ls->fetch_ctx, __ATOMIC_ACQUIRE), &ls->base, hex, &e) == 0)
        return 1;
    if (e.code == TSV_ENOTFOUND)
        return 0;
    *err = e;
    tsv_error_wrap(err, "object %s is not on local disk and the object store could not return it",
                   hex);
    return -1;
}

int tsv_object_hex_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[64] == '\0';
}

static void to_hex(const unsigned char *md, char hex[TSV_OBJECT_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

/* Up to IO_CHUNK bytes of fd: bytes read (0 at the end), -1 with err. */
static ssize_t read_chunk(int fd, unsigned char *buf, const char *path, tsv_error *err)
{
    for (;;) {
        ssize_t n = read(fd, buf, IO_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read %s", path);
        return n;
    }
}

/* Reads a source to its end through SHA-256, and into dst_fd as well when
 * it is >= 0 (with the "object-write" fault point): the hex digest and size
 * of what was read. The source is src_fd when >= 0 (src_name for errors),
 * else src. */
static int hash_copy(int src_fd, tsv_reader *src, const char *src_name, int dst_fd,
                     const char *dst_name, char hex[TSV_OBJECT_HEX], uint64_t *size, tsv_error *err)
{
    unsigned char *buf = malloc(IO_CHUNK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = -1;
    uint64_t total = 0;
    if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t n = src_fd >= 0 ? read_chunk(src_fd, buf, src_name, err)
                                : tsv_read(src, buf, IO_CHUNK, err);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)n);
        if (dst_fd >= 0 && (tsv_fault_check("object-write", err) != 0 ||
                            tsv_write_all(dst_fd, buf, (size_t)n, dst_name, err) != 0))
            goto out;
        total += (uint64_t)n;
    }
    unsigned char d[32];
    EVP_DigestFinal_ex(md, d, NULL);
    to_hex(d, hex);
    *size = total;
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    free(buf);
    return rc;
}

int tsv_sha256_file(const char *path, char hex[TSV_OBJECT_HEX], uint64_t *size, tsv_error *err)
{
    int fd;
    if (tsv_open_read(path, &fd, NULL, err) != 0)
        return -1;
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    uint64_t total;
    int rc = hash_copy(fd, NULL, path, -1, NULL, hex, &total, err);
    close(fd);
    if (rc == 0 && size)
        *size = total;
    return rc;
}

static int object_path(const local_store *ls, const char *hex, char *out, size_t outlen,
                       tsv_error *err)
{
    if (!tsv_object_hex_valid(hex))
        return tsv_error_set(err, TSV_EINVALID, "invalid object name \"%.70s\"",
                             hex ? hex : "(none)");
    return tsv_path_join(out, outlen, err, "%s/%.2s/%s", ls->dir, hex, hex);
}

/* ---- corrupt marks -------------------------------------------------------------- */

static int marker_path(const local_store *ls, const char *hex, char *out, size_t outlen,
                       tsv_error *err)
{
    if (!tsv_object_hex_valid(hex))
        return tsv_error_set(err, TSV_EINVALID, "invalid object name \"%.70s\"", hex);
    return tsv_path_join(out, outlen, err, "%s/%s", ls->marks, hex);
}

static int stat_id(const char *path, tsv_objstore_id *id)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    id->dev = (uint64_t)st.st_dev;
    id->ino = (uint64_t)st.st_ino;
    id->size = (uint64_t)st.st_size;
    id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return 0;
}

/* The marker: "key=value" lines (marked_ns, size, dev, ino, mtime_ns, time,
 * reason), small and readable with cat. */
static int read_marker(const local_store *ls, const char *hex, tsv_objstore_mark *m, int *marked,
                       tsv_error *err)
{
    char path[PATH_MAX];
    char *text = NULL;
    size_t len = 0;
    *marked = 0;
    if (marker_path(ls, hex, path, sizeof path, err) != 0)
        return -1;
    tsv_error e;
    if (tsv_read_file(path, 4096, &text, &len, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    memset(m, 0, sizeof *m);
    memcpy(m->hex, hex, TSV_OBJECT_HEX);
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(line, "marked_ns") == 0)
            m->marked_ns = strtoll(v, NULL, 10);
        else if (strcmp(line, "size") == 0)
            m->seen.size = strtoull(v, NULL, 10);
        else if (strcmp(line, "dev") == 0)
            m->seen.dev = strtoull(v, NULL, 10);
        else if (strcmp(line, "ino") == 0)
            m->seen.ino = strtoull(v, NULL, 10);
        else if (strcmp(line, "mtime_ns") == 0)
            m->seen.mtime_ns = strtoll(v, NULL, 10);
        else if (strcmp(line, "reason") == 0)
            snprintf(m->reason, sizeof m->reason, "%s", v);
    }
    free(text);
    *marked = 1;
    return 0;
}

/* Removes hex's marker (if any), durably. Caller holds mark_mu. */
static int unmark_locked(local_store *ls, const char *hex, int *removed, tsv_error *err)
{
    char path[PATH_MAX];
    if (removed)
        *removed = 0;
    if (marker_path(ls, hex, path, sizeof path, err) != 0)
        return -1;
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return 0;
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "unlink %s", path);
    }
    if (removed)
        *removed = 1;
    return tsv_fsync_dir(ls->marks, err);
}

static int local_identity(tsv_objstore *os, const char *hex, tsv_objstore_id *id, tsv_error *err)
{
    local_store *ls = (local_store *)os;
    char path[PATH_MAX];
    if (object_path(ls, hex, path, sizeof path, err) != 0)
        return -1;
    if (stat_id(path, id) != 0)
        return tsv_error_set_errno(err, errno == ENOENT ? TSV_ENOTFOUND : TSV_EINTERNAL, errno,
                                   "object %s", hex);
    return 0;
}

static int local_mark_corrupt(tsv_objstore *os, const char *hex, const char *reason,
                              const tsv_objstore_id *seen, int *marked, tsv_error *err)
{
    local_store *ls = (local_store *)os;
    char obj[PATH_MAX], path[PATH_MAX];
    *marked = 0;
    if (object_path(ls, hex, obj, sizeof obj, err) != 0 ||
        marker_path(ls, hex, path, sizeof path, err) != 0)
        return -1;
    int rc = -1;
    pthread_mutex_lock(&ls->mark_mu);
    tsv_objstore_mark old;
    int had = 0;
    tsv_objstore_id now;
    if (read_marker(ls, hex, &old, &had, err) != 0)
        goto out;
    if (had) {
        *marked = 1;
        rc = 0;
        goto out;
    }
    /* Changed (repaired, replaced or removed) since verify read it: its
     * reading says nothing about what is there now. */
    if (stat_id(obj, &now) != 0 || now.dev != seen->dev || now.ino != seen->ino ||
        now.size != seen->size || now.mtime_ns != seen->mtime_ns) {
        rc = 0;
        goto out;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t t = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    char when[64], text[1024];
    tsv_format_rfc3339nano(t, when, sizeof when);
    char clean[256];
    size_t k = 0;
    for (const char *p = reason ? reason : ""; *p && k + 1 < sizeof clean; p++)
        clean[k++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
    clean[k] = '\0';
    int n = snprintf(text, sizeof text,
                     "object=%s\ntime=%s\nmarked_ns=%lld\nsize=%llu\ndev=%llu\nino=%llu\n"
                     "mtime_ns=%lld\nreason=%s\n",
                     hex, when, (long long)t, (unsigned long long)seen->size,
                     (unsigned long long)seen->dev, (unsigned long long)seen->ino,
                     (long long)seen->mtime_ns, clean);
    if (n < 0 || (size_t)n >= sizeof text) {
        tsv_error_set(err, TSV_EINTERNAL, "corrupt marker of %s too long", hex);
        goto out;
    }
    if (tsv_mkdir_p(ls->marks, err) != 0 || tsv_write_file_atomic(path, text, (size_t)n, err) != 0)
        goto out;
    TSV_WARN("msg=\"object marked corrupt\" object=%s reason=\"%s\"", hex, clean);
    *marked = 1;
    rc = 0;
out:
    pthread_mutex_unlock(&ls->mark_mu);
    return rc;
}

static int local_corrupt_get(tsv_objstore *os, const char *hex, tsv_objstore_mark *m, int *marked,
                             tsv_error *err)
{
    local_store *ls = (local_store *)os;
    tsv_objstore_mark tmp;
    return read_marker(ls, hex, m ? m : &tmp, marked, err);
}

static int local_corrupt_clear(tsv_objstore *os, const char *hex, tsv_error *err)
{
    local_store *ls = (local_store *)os;
    pthread_mutex_lock(&ls->mark_mu);
    int removed = 0;
    int rc = unmark_locked(ls, hex, &removed, err);
    pthread_mutex_unlock(&ls->mark_mu);
    if (rc == 0 && removed)
        TSV_INFO("msg=\"corrupt mark cleared\" object=%s", hex);
    return rc;
}

static int local_corrupt_list(tsv_objstore *os, tsv_objstore_mark_fn fn, void *ctx, tsv_error *err)
{
    local_store *ls = (local_store *)os;
    DIR *d = opendir(ls->marks);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", ls->marks);
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!tsv_object_hex_valid(e->d_name))
            continue; /* ".", "..", a marker being written */
        tsv_objstore_mark m;
        int marked = 0;
        if (read_marker(ls, e->d_name, &m, &marked, err) != 0)
            rc = -1;
        else if (marked)
            rc = fn(ctx, &m, err);
    }
    closedir(d);
    return rc < 0 ? -1 : 0;
}

/* Writes the verified bytes of `from` into the marked object's own inode
 * (so every hard link to it is repaired), fsynced; then the mark goes.
 * Caller holds mark_mu. A crash before the mark is removed leaves the
 * object marked (refused) whatever its bytes are. */
static int repair_in_place(local_store *ls, const char *obj, const char *from, const char *hex,
                           tsv_error *err)
{
    int rc = -1, src = -1, dst = -1;
    uint64_t total = 0;
    unsigned char *buf = malloc(IO_CHUNK);
    if (!buf) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    if ((src = open(from, O_RDONLY | O_CLOEXEC)) < 0) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", from);
        goto out;
    }
    if (tsv_fault_check("object-repair", err) != 0)
        goto out;
    if (chmod(obj, 0644) != 0 || (dst = open(obj, O_WRONLY | O_CLOEXEC)) < 0) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s for its repair", obj);
        goto out;
    }
    for (;;) {
        ssize_t n = read_chunk(src, buf, from, err);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        if (tsv_write_all(dst, buf, (size_t)n, obj, err) != 0)
            goto out;
        total += (uint64_t)n;
    }
    if (ftruncate(dst, (off_t)total) != 0) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "truncate %s", obj);
        goto out;
    }
    if (tsv_fsync_fd(dst, obj, err) != 0 || unmark_locked(ls, hex, NULL, err) != 0)
        goto out;
    TSV_WARN("msg=\"corrupt object repaired from a verified copy\" object=%s size=%" PRIu64, hex,
             total);
    rc = 0;
out:
    if (dst >= 0 || rc != 0)
        (void)chmod(obj, 0444);
    if (dst >= 0)
        close(dst);
    if (src >= 0)
        close(src);
    free(buf);
    return rc;
}

/* Links `from` to the object's name. 1: created, 0: it already existed. */
static int link_into_place(local_store *ls, const char *from, const char *hex, tsv_error *err)
{
    char path[PATH_MAX], sub[PATH_MAX];
    if (object_path(ls, hex, path, sizeof path, err) != 0 ||
        tsv_path_join(sub, sizeof sub, err, "%s/%.2s", ls->dir, hex) != 0)
        return -1;
    if (mkdir(sub, 0755) == 0) {
        if (tsv_fsync_dir(ls->dir, err) != 0)
            return -1;
    } else if (errno != EEXIST) {
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "mkdir %s", sub);
    }
    if (tsv_fault_check("object-link", err) != 0)
        return -1;
    if (link(from, path) != 0) {
        if (errno != EEXIST)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "link %s", path);
        /* Marked corrupt by verify: `from` is a verified copy, repair. */
        pthread_mutex_lock(&ls->mark_mu);
        tsv_objstore_mark m;
        int marked = 0;
        int r = read_marker(ls, hex, &m, &marked, err);
        if (r == 0 && marked)
            r = repair_in_place(ls, path, from, hex, err);
        pthread_mutex_unlock(&ls->mark_mu);
        if (r != 0)
            return -1;
        if (marked)
            return 0;
        /* Dedup trusts the name only while the object still has the size of
         * the bytes that hash to it: a damaged object (e.g. truncated through
         * a hard link outside tsvault) is replaced by the verified new copy,
         * atomically, instead of being linked into a new version. */
        struct stat have, want;
        if (stat(path, &have) != 0 || stat(from, &want) != 0)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "stat %s", path);
        if (have.st_size == want.st_size)
            return 0;
        char repair[PATH_MAX];
        if (tsv_path_join(repair, sizeof repair, err, "%s.repair", path) != 0)
            return -1;
        unlink(repair);
        if (link(from, repair) != 0)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "link %s", repair);
        if (rename(repair, path) != 0) {
            int e = errno;
            unlink(repair);
            return tsv_error_set_errno(err, TSV_EINTERNAL, e, "rename %s", path);
        }
        TSV_WARN("msg=\"damaged object replaced\" object=%s size=%lld expected=%lld", hex,
                 (long long)have.st_size, (long long)want.st_size);
    }
    if (tsv_fsync_dir(sub, err) != 0)
        return -1;
    /* A marker left by an object of that name deleted before its marker
     * was (a crash in between) does not concern the new object. */
    pthread_mutex_lock(&ls->mark_mu);
    int r = unmark_locked(ls, hex, NULL, err);
    pthread_mutex_unlock(&ls->mark_mu);
    return r < 0 ? -1 : 1;
}

static int local_put(tsv_objstore *os, tsv_reader *in, const char *expect_hex,
                     char hex[TSV_OBJECT_HEX], uint64_t *size, int *created, tsv_error *err)
{
    local_store *ls = (local_store *)os;
    char tmp[PATH_MAX];
    if (tsv_path_join(tmp, sizeof tmp, err, "%s/put-%016" PRIx64, ls->tmp, tsv_random_u64()) != 0)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", tmp);
    int rc = -1;
    uint64_t total = 0;
    char got[TSV_OBJECT_HEX];
    if (hash_copy(-1, in, NULL, fd, tmp, got, &total, err) != 0)
        goto out;
    if (expect_hex && strcmp(expect_hex, got) != 0) {
        tsv_error_set(err, TSV_EINVALID, "object %s: the bytes hash to %s", expect_hex, got);
        goto out;
    }
    if (tsv_fsync_fd(fd, tmp, err) != 0)
        goto out;
    int r = link_into_place(ls, tmp, got, err);
    if (r < 0)
        goto out;
    if (created)
        *created = r;
    if (size)
        *size = total;
    memcpy(hex, got, TSV_OBJECT_HEX);
    rc = 0;
out:
    close(fd);
    unlink(tmp);
    return rc;
}

static int local_adopt(tsv_objstore *os, const char *path, const char *hex, int *created,
                       tsv_error *err)
{
    local_store *ls = (local_store *)os;
    /* Read-only first: the object and the file are one inode. */
    if (chmod(path, 0444) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "chmod %s", path);
    int r = link_into_place(ls, path, hex, err);
    if (r < 0)
        return -1;
    if (created)
        *created = r;
    if (r == 1)
        return 0;
    /* Already stored: make `path` the existing object (dedup), atomically. */
    char obj[PATH_MAX], tmp[PATH_MAX];
    if (object_path(ls, hex, obj, sizeof obj, err) != 0 ||
        tsv_path_join(tmp, sizeof tmp, err, "%s.dedup-%08" PRIx64, path,
                      tsv_random_u64() & 0xffffffffu) != 0)
        return -1;
    struct stat a, b;
    if (stat(path, &a) == 0 && stat(obj, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
        return 0;
    if (link(obj, tmp) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "link %s", obj);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return tsv_error_set_errno(err, TSV_EINTERNAL, e, "rename %s", tmp);
    }
    return 0;
}

typedef struct file_reader {
    tsv_reader base;
    int fd;
} file_reader;

static ssize_t file_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    file_reader *f = (file_reader *)r;
    for (;;) {
        ssize_t n = read(f->fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read object"), -1;
    }
}

static void file_free(tsv_reader *r)
{
    file_reader *f = (file_reader *)r;
    close(f->fd);
    free(f);
}

int tsv_objstore_local_open(tsv_objstore *os, const char *hex, int *fd, uint64_t *size,
                            tsv_error *err)
{
    local_store *ls = (local_store *)os;
    char path[PATH_MAX];
    if (object_path(ls, hex, path, sizeof path, err) != 0)
        return -1;
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return tsv_error_set_errno(err, errno == ENOENT ? TSV_ENOTFOUND : TSV_EINTERNAL, errno,
                                   "object %s", hex);
    struct stat st;
    if (fstat(f, &st) != 0) {
        int e = errno;
        close(f);
        return tsv_error_set_errno(err, TSV_EINTERNAL, e, "stat object %s", hex);
    }
    *fd = f;
    if (size)
        *size = (uint64_t)st.st_size;
    return 0;
}

static int local_get(tsv_objstore *os, const char *hex, tsv_reader **out, tsv_error *err)
{
    local_store *ls = (local_store *)os;
    char path[PATH_MAX];
    if (object_path(ls, hex, path, sizeof path, err) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        int f = fetch_missing(ls, hex, err);
        if (f < 0)
            return -1;
        if (f == 1)
            fd = open(path, O_RDONLY | O_CLOEXEC);
        else
            errno = ENOENT;
    }
    if (fd < 0)
        return tsv_error_set_errno(err, errno == ENOENT ? TSV_ENOTFOUND : TSV_EINTERNAL, errno,
                                   "object %s", hex);
    file_reader *f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    f->base.read = file_read;
    f->base.free = file_free;
    f->fd = fd;
    *out = &f->base;
    return 0;
}

static int local_link(tsv_objstore *os, const char *hex, const char *dest, tsv_error *err)
{
    local_store *ls = (local_store *)os;
    char path[PATH_MAX];
    if (object_path(ls, hex, path, sizeof path, err) != 0)
        return -1;
    int rc = link(path, dest);
    if (rc != 0 && errno == ENOENT && access(path, F_OK) != 0) {
        int f = fetch_missing(ls, hex, err);
        if (f < 0)
            return -1;
        if (f == 1)
            rc = link(path, dest);
        else
            errno = ENOENT;
    }
    if (rc != 0)
        return tsv_error_set_errno(err, errno == ENOENT ? TSV_ENOTFOUND : TSV_EINTERNAL, errno,
                                   "link object %s to %s", hex, dest);
    return 0;
}

static int local_exists(tsv_objstore *os, const char *hex, int *exists, uint64_t *size,
                        tsv_error *err)
{
    local_store *ls = (local_store *)os;
    char path[PATH_MAX];
    if (object_path(ls, hex, path, sizeof path, err) != 0)
        return -1;
    struct stat st;
    int rc = stat(path, &st);
    if (rc != 0 && errno == ENOENT) {
        int f = fetch_missing(ls, hex, err);
        if (f < 0)
            return -1;
        if (f == 1)
            rc = stat(path, &st);
        else
            errno = ENOENT;
    }
    if (rc != 0) {
        if (errno != ENOENT)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "stat %s", path);
        *exists = 0;
        return 0;
    }
    *exists = 1;
    if (size)
        *size = (uint64_t)st.st_size;
    return 0;
}

static int local_del(tsv_objstore *os, const char *hex, tsv_error *err)
{
    local_store *ls = (local_store *)os;
    char path[PATH_MAX];
    if (object_path(ls, hex, path, sizeof path, err) != 0)
        return -1;
    if (unlink(path) != 0 && errno != ENOENT)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "unlink %s", path);
    /* Its mark goes with it (after: a crash in between leaves a marker
     * without object, removed when that name is stored again). */
    pthread_mutex_lock(&ls->mark_mu);
    int rc = unmark_locked(ls, hex, NULL, err);
    pthread_mutex_unlock(&ls->mark_mu);
    return rc;
}

static int local_list(tsv_objstore *os, tsv_objstore_list_fn fn, void *ctx, tsv_error *err)
{
    local_store *ls = (local_store *)os;
    DIR *d = opendir(ls->dir);
    if (!d)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", ls->dir);
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strlen(e->d_name) != 2 || e->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        if (tsv_path_join(sub, sizeof sub, err, "%s/%s", ls->dir, e->d_name) != 0) {
            rc = -1;
            break;
        }
        DIR *sd = opendir(sub);
        if (!sd)
            continue;
        struct dirent *o;
        while (rc == 0 && (o = readdir(sd)) != NULL) {
            if (!tsv_object_hex_valid(o->d_name))
                continue;
            struct stat st;
            if (fstatat(dirfd(sd), o->d_name, &st, 0) != 0)
                continue; /* deleted meanwhile */
            rc = fn(ctx, o->d_name, (uint64_t)st.st_size, err);
        }
        closedir(sd);
    }
    closedir(d);
    return rc < 0 ? -1 : 0;
}

static void local_close(tsv_objstore *os)
{
    local_store *ls = (local_store *)os;
    pthread_mutex_destroy(&ls->mark_mu);
    free(ls);
}

static const tsv_objstore_ops local_ops = {
    .put = local_put,
    .adopt = local_adopt,
    .get = local_get,
    .link = local_link,
    .exists = local_exists,
    .del = local_del,
    .list = local_list,
    .identity = local_identity,
    .mark_corrupt = local_mark_corrupt,
    .corrupt_get = local_corrupt_get,
    .corrupt_clear = local_corrupt_clear,
    .corrupt_list = local_corrupt_list,
    .close = local_close,
};

int tsv_objstore_open_local(tsv_objstore **out, const char *dir, tsv_error *err)
{
    local_store *ls = calloc(1, sizeof *ls);
    if (!ls)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    ls->base.ops = &local_ops;
    pthread_mutex_init(&ls->mark_mu, NULL);
    /* tmp/ holds puts in progress; anything there at open is an unfinished
     * put (never an object) and is removed. */
    if (tsv_path_join(ls->dir, sizeof ls->dir, err, "%s", dir) != 0 ||
        tsv_path_join(ls->tmp, sizeof ls->tmp, err, "%s/tmp", dir) != 0 ||
        tsv_path_join(ls->marks, sizeof ls->marks, err, "%s/corrupt", dir) != 0 ||
        tsv_mkdir_p(ls->dir, err) != 0 || tsv_remove_tree(ls->tmp, err) != 0 ||
        tsv_mkdir_p(ls->tmp, err) != 0) {
        pthread_mutex_destroy(&ls->mark_mu);
        free(ls);
        return -1;
    }
    *out = &ls->base;
    return 0;
}
