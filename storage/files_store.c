/* files_store: the Files API staging area on disk. */
#include "files_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "array_grow.h"
#include "fsutil.h"
#include "json.h"
#include "random.h"
#include "tsm_trust.h"
#include "tsv_log.h"
#include "tsv_time.h"
#include "upload_check.h"

#define RECORD_MAX (64 * 1024)
#define MAX_RESERVED 64
/* Uploads checked while they arrive at once (each holds ~20 MiB of buffers
 * and two threads); more are checked after they are stored. */
#define MAX_CHECKS 4

struct tsv_files {
    tsv_files_options opt;
    char root[PATH_MAX], data[PATH_MAX], meta[PATH_MAX], tmp[PATH_MAX];
    char validated[PATH_MAX]; /* validated/<name>: tsm_trust.h lists */
    char extracted[PATH_MAX]; /* extracted/<name>/: what the upload check kept */
    pthread_mutex_t mu;
    char *reserved[MAX_RESERVED]; /* names being uploaded */
    int checks;                   /* uploads with an upload_check running (under mu) */
};

struct tsv_files_upload {
    tsv_files *f;
    char name[256];
    char path[PATH_MAX];
    int fd;
    uint64_t size;
    uint64_t used_at_begin;
    EVP_MD_CTX *md5, *sha;
    /* civetweb hands the part over in small chunks: gather them so the
     * file is written in large writes. */
    uint8_t *wbuf;
    size_t wlen;
    /* validates and keeps the archive's contents while it arrives */
    tsv_upload_check *check;
    int holds_check; /* counted in f->checks */
    char keep[PATH_MAX];
};

#define WBUF_SIZE (1024 * 1024)

int tsv_files_name_check(const char *name, tsv_error *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0)
        return tsv_error_set(err, TSV_EINVALID, "file name is empty");
    if (n > 255)
        return tsv_error_set(err, TSV_EINVALID, "file name is longer than 255 bytes");
    if (name[0] == '.')
        return tsv_error_set(err, TSV_EINVALID, "file name \"%s\" may not start with '.'", name);
    if (strstr(name, ".."))
        return tsv_error_set(err, TSV_EINVALID, "file name \"%s\" may not contain \"..\"", name);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p == '/' || *p == '\\' || *p < 0x20 || *p == 0x7f)
            return tsv_error_set(err, TSV_EINVALID,
                                 "file name \"%.200s\" may not contain path separators or control "
                                 "characters",
                                 name);
    return 0;
}

static int clear_dir(const char *dir, tsv_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", dir);
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char p[PATH_MAX];
        if (tsv_path_join(p, sizeof p, err, "%s/%s", dir, de->d_name) != 0 ||
            tsv_remove_tree(p, err) != 0) {
            rc = -1;
            break;
        }
    }
    closedir(d);
    return rc;
}

/* Removes every entry of dir that has no namesake in `partner` (left by a
 * crash or a delete), whole trees if `tree`; `warn` is logged for each. */
static int drop_unpaired(const char *dir, const char *partner, int tree, const char *warn,
                         tsv_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", dir);
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char mate[PATH_MAX], p[PATH_MAX];
        if (tsv_path_join(mate, sizeof mate, err, "%s/%s", partner, de->d_name) != 0 ||
            tsv_path_join(p, sizeof p, err, "%s/%s", dir, de->d_name) != 0) {
            rc = -1;
            break;
        }
        if (tsv_path_exists(mate))
            continue;
        if (warn)
            TSV_WARN("msg=\"%s\" name=\"%s\"", warn, de->d_name);
        tsv_error e;
        if (tree ? tsv_remove_tree(p, &e) != 0 : unlink(p) != 0)
            TSV_WARN("msg=\"cannot remove\" path=\"%s\"", p);
    }
    closedir(d);
    return rc;
}

/* Start-up: data without a record is an install a crash interrupted,
 * records without data are stale; both go. A file's validation list and
 * kept files are only shortcuts and go with its record. */
static int reconcile(tsv_files *f, tsv_error *err)
{
    return drop_unpaired(f->data, f->meta, 0, "removing staged file without a record", err) ||
                   drop_unpaired(f->meta, f->data, 0, NULL, err) ||
                   drop_unpaired(f->validated, f->meta, 0, NULL, err) ||
                   drop_unpaired(f->extracted, f->meta, 1,
                                 "removing kept upload files without a record", err)
               ? -1
               : 0;
}

int tsv_files_open(tsv_files **out, const tsv_files_options *opt, tsv_error *err)
{
    *out = NULL;
    tsv_files *f = calloc(1, sizeof *f);
    if (!f)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    f->opt = *opt;
    pthread_mutex_init(&f->mu, NULL);
    if (tsv_path_join(f->root, sizeof f->root, err, "%s/files", opt->data_dir) != 0 ||
        tsv_path_join(f->data, sizeof f->data, err, "%s/data", f->root) != 0 ||
        tsv_path_join(f->meta, sizeof f->meta, err, "%s/meta", f->root) != 0 ||
        tsv_path_join(f->tmp, sizeof f->tmp, err, "%s/tmp", f->root) != 0 ||
        tsv_path_join(f->validated, sizeof f->validated, err, "%s/validated", f->root) != 0 ||
        tsv_path_join(f->extracted, sizeof f->extracted, err, "%s/extracted", f->root) != 0 ||
        tsv_mkdir_p(f->extracted, err) != 0 || tsv_mkdir_p(f->validated, err) != 0 ||
        tsv_mkdir_p(f->data, err) != 0 || tsv_mkdir_p(f->meta, err) != 0 ||
        tsv_mkdir_p(f->tmp, err) != 0 || clear_dir(f->tmp, err) != 0 || reconcile(f, err) != 0) {
        tsv_files_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

void tsv_files_close(tsv_files *f)
{
    if (!f)
        return;
    for (int i = 0; i < MAX_RESERVED; i++)
        free(f->reserved[i]);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ---- records ------------------------------------------------------------------ */

static int record_write(tsv_files *f, const tsv_file_info *i, tsv_error *err)
{
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "id", i->id);
    tsv_jw_field_string(&w, "name", i->name);
    tsv_jw_field_u64(&w, "sizeBytes", i->size);
    tsv_jw_field_string(&w, "dataFormat", tsv_data_format_name(i->format));
    tsv_jw_field_string(&w, "compressionFormat", tsv_compression_name(i->compression));
    tsv_jw_field_string(&w, "md5", i->md5);
    tsv_jw_field_string(&w, "sha256", i->sha256);
    tsv_jw_field_string(&w, "uploadedByUserId", i->user_id);
    tsv_jw_field_i64(&w, "uploadedOnNs", i->uploaded_ns);
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);
    char path[PATH_MAX];
    if (rc == 0)
        rc = tsv_path_join(path, sizeof path, err, "%s/%s", f->meta, i->name);
    if (rc == 0)
        rc = tsv_write_file_atomic(path, b.data, b.len, err);
    tsv_buf_free(&b);
    return rc;
}

static int copy_str(const tsv_json *o, const char *key, char *out, size_t outlen)
{
    const tsv_json *v = tsv_json_get(o, key);
    if (!v || v->type != TSV_JSON_STRING || v->len >= outlen)
        return -1;
    memcpy(out, v->str, v->len + 1);
    return 0;
}

static tsv_data_format format_from(const char *s)
{
    for (int i = 0; i <= TSV_FORMAT_SQLITE; i++)
        if (strcmp(s, tsv_data_format_name((tsv_data_format)i)) == 0)
            return (tsv_data_format)i;
    return TSV_FORMAT_UNKNOWN;
}

static int record_read(tsv_files *f, const char *name, tsv_file_info *out, tsv_error *err)
{
    char path[PATH_MAX];
    if (tsv_path_join(path, sizeof path, err, "%s/%s", f->meta, name) != 0)
        return -1;
    char *text = NULL;
    size_t len = 0;
    if (tsv_read_file(path, RECORD_MAX, &text, &len, err) != 0) {
        if (err && (errno == ENOENT || !tsv_path_exists(path)))
            return tsv_error_set(err, TSV_ENOTFOUND, "file \"%s\" not found", name);
        return -1;
    }
    tsv_json_doc *doc;
    int rc = tsv_json_parse(&doc, text, len, err);
    free(text);
    if (rc != 0)
        return tsv_error_wrap(err, "record of staged file \"%s\"", name);
    const tsv_json *o = tsv_json_root(doc);
    memset(out, 0, sizeof *out);
    char fmt[32] = "", comp[8] = "";
    if (copy_str(o, "id", out->id, sizeof out->id) != 0 ||
        copy_str(o, "name", out->name, sizeof out->name) != 0 ||
        copy_str(o, "dataFormat", fmt, sizeof fmt) != 0 ||
        copy_str(o, "compressionFormat", comp, sizeof comp) != 0 ||
        copy_str(o, "md5", out->md5, sizeof out->md5) != 0 ||
        copy_str(o, "sha256", out->sha256, sizeof out->sha256) != 0 ||
        copy_str(o, "uploadedByUserId", out->user_id, sizeof out->user_id) != 0 ||
        tsv_json_u64(tsv_json_get(o, "sizeBytes"), &out->size, "sizeBytes", err) != 0 ||
        tsv_json_i64(tsv_json_get(o, "uploadedOnNs"), &out->uploaded_ns, "uploadedOnNs", err) != 0)
        rc = tsv_error_set(err, TSV_EINTERNAL, "record of staged file \"%s\" is damaged", name);
    out->format = format_from(fmt);
    out->compression = strcmp(comp, "gz") == 0    ? TSV_COMPRESSION_GZ
                       : strcmp(comp, "zst") == 0 ? TSV_COMPRESSION_ZST
                                                  : TSV_COMPRESSION_NONE;
    tsv_json_free(doc);
    return rc;
}

int tsv_files_get(tsv_files *f, const char *name, tsv_file_info *out, tsv_error *err)
{
    if (tsv_files_name_check(name, err) != 0)
        return -1;
    char data[PATH_MAX];
    if (tsv_path_join(data, sizeof data, err, "%s/%s", f->data, name) != 0)
        return -1;
    if (!tsv_path_exists(data))
        return tsv_error_set(err, TSV_ENOTFOUND, "file \"%s\" not found", name);
    return record_read(f, name, out, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tsv_files_list(tsv_files *f, tsv_files_fn fn, void *ctx, tsv_error *err)
{
    DIR *d = opendir(f->meta);
    if (!d)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", f->meta);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (TSV_ARRAY_GROW(names, n, cap, err) != 0) {
            rc = -1;
            break;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        tsv_file_info info;
        tsv_error e;
        if (tsv_files_get(f, names[i], &info, &e) != 0) {
            if (e.code != TSV_ENOTFOUND) /* deleted meanwhile: skip */
                TSV_WARN("msg=\"staged file record unreadable\" name=\"%s\" error=\"%s\"", names[i],
                         e.message);
            continue;
        }
        rc = fn(ctx, &info, err);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int tsv_files_delete(tsv_files *f, const char *name, tsv_error *err)
{
    if (tsv_files_name_check(name, err) != 0)
        return -1;
    char data[PATH_MAX], meta[PATH_MAX];
    if (tsv_path_join(data, sizeof data, err, "%s/%s", f->data, name) != 0 ||
        tsv_path_join(meta, sizeof meta, err, "%s/%s", f->meta, name) != 0)
        return -1;
    pthread_mutex_lock(&f->mu);
    int rc = 0;
    /* The record goes first: without it the file no longer exists for the
     * API, and a crash leaves data that the next open removes. */
    if (unlink(meta) != 0)
        rc = errno == ENOENT ? tsv_error_set(err, TSV_ENOTFOUND, "file \"%s\" not found", name)
                             : tsv_error_set_errno(err, TSV_EINTERNAL, errno, "unlink %s", meta);
    if (rc == 0 && unlink(data) != 0 && errno != ENOENT)
        TSV_WARN("msg=\"cannot remove staged data\" path=\"%s\" errno=%d", data, errno);
    char vpath[PATH_MAX];
    if (rc == 0 && tsv_path_join(vpath, sizeof vpath, NULL, "%s/%s", f->validated, name) == 0)
        unlink(vpath);
    tsv_error xerr;
    if (rc == 0 && tsv_path_join(vpath, sizeof vpath, NULL, "%s/%s", f->extracted, name) == 0 &&
        tsv_path_exists(vpath) && tsv_remove_tree(vpath, &xerr) != 0)
        TSV_WARN("msg=\"cannot remove kept upload files\" path=\"%s\" error=\"%s\"", vpath,
                 xerr.message);
    pthread_mutex_unlock(&f->mu);
    if (rc == 0) {
        tsv_error e;
        tsv_fsync_dir(f->meta, &e);
        tsv_fsync_dir(f->data, &e);
        TSV_INFO("msg=\"staged file deleted\" name=\"%s\"", name);
    }
    return rc;
}

int tsv_files_path(tsv_files *f, const char *name, char *out, size_t outlen, tsv_error *err)
{
    tsv_file_info info;
    if (tsv_files_get(f, name, &info, err) != 0)
        return -1;
    return tsv_path_join(out, outlen, err, "%s/%s", f->data, name);
}

static int sum_size(void *ctx, const tsv_file_info *info, tsv_error *err)
{
    (void)err;
    *(uint64_t *)ctx += info->size;
    return 0;
}

int tsv_files_space_get(tsv_files *f, tsv_files_space *out, tsv_error *err)
{
    uint64_t used = 0;
    if (tsv_files_list(f, sum_size, &used, err) != 0)
        return -1;
    struct statvfs vfs;
    if (statvfs(f->root, &vfs) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "statvfs %s", f->root);
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    out->used = used;
    if (f->opt.quota) {
        out->allocated = f->opt.quota;
        out->remaining = used >= f->opt.quota ? 0 : f->opt.quota - used;
        if (out->remaining > avail)
            out->remaining = avail;
    } else {
        out->allocated = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        out->remaining = avail;
    }
    return 0;
}

/* ---- uploads ------------------------------------------------------------------ */

static void unreserve(tsv_files *f, const char *name)
{
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < MAX_RESERVED; i++)
        if (f->reserved[i] && strcmp(f->reserved[i], name) == 0) {
            free(f->reserved[i]);
            f->reserved[i] = NULL;
            break;
        }
    pthread_mutex_unlock(&f->mu);
}

int tsv_files_upload_begin(tsv_files *f, const char *name, tsv_files_upload **out, tsv_error *err)
{
    *out = NULL;
    if (tsv_files_name_check(name, err) != 0)
        return -1;
    char data[PATH_MAX];
    if (tsv_path_join(data, sizeof data, err, "%s/%s", f->data, name) != 0)
        return -1;
    uint64_t used = 0;
    if (f->opt.quota && tsv_files_list(f, sum_size, &used, err) != 0)
        return -1;
    pthread_mutex_lock(&f->mu);
    int rc = 0, slot = -1;
    if (tsv_path_exists(data))
        rc = tsv_error_set(err, TSV_ECONFLICT, "file \"%s\" already exists", name);
    for (int i = 0; rc == 0 && i < MAX_RESERVED; i++) {
        if (f->reserved[i] && strcmp(f->reserved[i], name) == 0)
            rc = tsv_error_set(err, TSV_ECONFLICT, "file \"%s\" is being uploaded", name);
        else if (!f->reserved[i] && slot < 0)
            slot = i;
    }
    if (rc == 0 && slot < 0)
        rc = tsv_error_set(err, TSV_ETOOMANY, "too many uploads in progress");
    if (rc == 0 && !(f->reserved[slot] = strdup(name)))
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    pthread_mutex_unlock(&f->mu);
    if (rc != 0)
        return -1;
    tsv_files_upload *u = calloc(1, sizeof *u);
    if (!u) {
        unreserve(f, name);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    u->f = f;
    u->fd = -1;
    u->used_at_begin = used;
    snprintf(u->name, sizeof u->name, "%s", name);
    u->md5 = EVP_MD_CTX_new();
    u->sha = EVP_MD_CTX_new();
    u->wbuf = malloc(WBUF_SIZE);
    if (!u->md5 || !u->sha || !u->wbuf || EVP_DigestInit_ex(u->md5, EVP_md5(), NULL) != 1 ||
        EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL) != 1) {
        tsv_files_upload_abort(u);
        return tsv_error_set(err, TSV_EINTERNAL, "cannot initialise digests");
    }
    if (tsv_path_join(u->path, sizeof u->path, err, "%s/upload-%016" PRIx64, f->tmp,
                      tsv_random_u64()) != 0) {
        tsv_files_upload_abort(u);
        return -1;
    }
    u->fd = open(u->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", u->path);
        u->path[0] = '\0';
        tsv_files_upload_abort(u);
        return -1;
    }
    /* The check while it arrives is an optimisation: if it cannot start,
     * the stored file is checked after the upload, as it always can be. */
    tsv_error cerr;
    pthread_mutex_lock(&f->mu);
    int may_check = f->checks < MAX_CHECKS;
    f->checks += may_check;
    pthread_mutex_unlock(&f->mu);
    if (!may_check) {
        TSV_DEBUG("msg=\"upload checked after it is stored\" reason=\"%d checks running\"",
                  MAX_CHECKS);
    } else if (tsv_path_join(u->keep, sizeof u->keep, &cerr, "%s/keep-%016" PRIx64, f->tmp,
                             tsv_random_u64()) != 0 ||
               mkdir(u->keep, 0700) != 0) {
        u->keep[0] = '\0';
    } else if (tsv_upload_check_start(&u->check, u->keep, &cerr) != 0) {
        TSV_WARN("msg=\"upload checked after it is stored\" error=\"%s\"", cerr.message);
        u->check = NULL;
    }
    u->holds_check = may_check;
    *out = u;
    return 0;
}

uint64_t tsv_files_upload_size(const tsv_files_upload *u) { return u->size; }

static int flush(tsv_files_upload *u, tsv_error *err)
{
    if (u->wlen && tsv_write_all(u->fd, u->wbuf, u->wlen, u->path, err) != 0)
        return -1;
    u->wlen = 0;
    return 0;
}

int tsv_files_upload_write(tsv_files_upload *u, const void *data, size_t len, tsv_error *err)
{
    if (u->f->opt.max_file_size && u->size + len > u->f->opt.max_file_size)
        return tsv_error_set(err, TSV_ETOOLARGE,
                             "file is larger than the limit of %" PRIu64
                             " bytes (--files-max-size)",
                             u->f->opt.max_file_size);
    if (u->f->opt.quota && u->used_at_begin + u->size + len > u->f->opt.quota)
        return tsv_error_set(err, TSV_ETOOLARGE,
                             "the staging area's quota of %" PRIu64 " bytes would be exceeded",
                             u->f->opt.quota);
    if (u->wlen + len > WBUF_SIZE && flush(u, err) != 0)
        return -1;
    if (len >= WBUF_SIZE) {
        if (tsv_write_all(u->fd, data, len, u->path, err) != 0)
            return -1;
    } else {
        memcpy(u->wbuf + u->wlen, data, len);
        u->wlen += len;
    }
    if (u->check)
        tsv_upload_check_feed(u->check, data, len);
    EVP_DigestUpdate(u->md5, data, len);
    EVP_DigestUpdate(u->sha, data, len);
    u->size += len;
    return 0;
}

void tsv_files_upload_abort(tsv_files_upload *u)
{
    if (!u)
        return;
    if (u->fd >= 0)
        close(u->fd);
    if (u->path[0])
        unlink(u->path);
    tsv_upload_check_free(u->check);
    if (u->holds_check) {
        pthread_mutex_lock(&u->f->mu);
        u->f->checks--;
        pthread_mutex_unlock(&u->f->mu);
    }
    if (u->keep[0]) {
        tsv_error e;
        if (tsv_remove_tree(u->keep, &e) != 0)
            TSV_WARN("msg=\"cannot remove\" path=\"%s\" error=\"%s\"", u->keep, e.message);
    }
    EVP_MD_CTX_free(u->md5);
    EVP_MD_CTX_free(u->sha);
    free(u->wbuf);
    unreserve(u->f, u->name);
    free(u);
}

static void hex(const uint8_t *b, size_t n, char *out, int upper)
{
    static const char *lo = "0123456789abcdef", *up = "0123456789ABCDEF";
    const char *d = upper ? up : lo;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* 1 if the len bytes at off in fd are `want`. */
static int bytes_at(int fd, uint64_t off, const uint8_t *want, size_t len)
{
    uint8_t got[TSV_UPLOAD_EDGE];
    return len <= sizeof got && pread(fd, got, len, (off_t)off) == (ssize_t)len &&
           memcmp(got, want, len) == 0;
}

/* The shard members of an uncompressed tar whose validated files the upload
 * kept are stored once, as those files: their bytes in the staged archive
 * become a hole (the file keeps its size, its tar layout and its small
 * members; most of these pages are still in the page cache and are never
 * written). A range whose edges do not read back as the check saw them is
 * left alone; so is everything if the file system cannot punch holes. */
static void release_kept_members(tsv_files_upload *u)
{
    const tsv_upload_range *g;
    size_t n = tsv_upload_check_ranges(u->check, &g);
    uint64_t released = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t end = g[i].offset + g[i].length;
        if (end > u->size || !bytes_at(u->fd, g[i].offset, g[i].head, TSV_UPLOAD_EDGE) ||
            !bytes_at(u->fd, end - TSV_UPLOAD_EDGE, g[i].tail, TSV_UPLOAD_EDGE)) {
            TSV_WARN("msg=\"kept upload member not found where expected; its bytes stay\" "
                     "name=\"%s\" offset=%" PRIu64,
                     u->name, g[i].offset);
            continue;
        }
        if (fallocate(u->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)g[i].offset,
                      (off_t)g[i].length) != 0) {
            TSV_DEBUG("msg=\"cannot release kept upload members\" name=\"%s\" error=\"%s\"",
                      u->name, strerror(errno));
            return;
        }
        released += g[i].length;
    }
    if (released)
        TSV_DEBUG("msg=\"upload members stored as their kept files\" name=\"%s\" "
                  "members=%zu bytes=%" PRIu64,
                  u->name, n, released);
}

/* rec (may be NULL): the record of a file staged before (a recovery from
 * an object store): its id, user and time are kept, its digests must match. */
static int upload_commit(tsv_files_upload *u, const uint8_t *expected_md5, const char *user_id,
                         const tsv_file_info *rec, tsv_file_info *info, tsv_error *err)
{
    tsv_files *f = u->f;
    memset(info, 0, sizeof *info);
    uint8_t md5[16], sha[32];
    unsigned int l1 = 0, l2 = 0;
    int rc = 0;
    if (EVP_DigestFinal_ex(u->md5, md5, &l1) != 1 || EVP_DigestFinal_ex(u->sha, sha, &l2) != 1)
        rc = tsv_error_set(err, TSV_EINTERNAL, "digest failed");
    if (rc == 0 && expected_md5 && memcmp(expected_md5, md5, 16) != 0) {
        char got[33], want[33];
        hex(md5, 16, got, 1);
        hex(expected_md5, 16, want, 1);
        rc = tsv_error_set(err, TSV_EINVALID,
                           "%s: MD5 digest mismatch: the request says %s, the upload has %s; "
                           "nothing was kept",
                           u->name, want, got);
    }
    if (rc == 0 && rec) {
        char got_md5[33], got_sha[65];
        hex(md5, 16, got_md5, 1);
        hex(sha, 32, got_sha, 0);
        if (strcmp(got_sha, rec->sha256) != 0 || strcasecmp(got_md5, rec->md5) != 0)
            rc = tsv_error_set(err, TSV_EINVALID,
                               "%s: the content is not the one recorded (SHA-256 %s, recorded "
                               "%s); nothing was kept",
                               u->name, got_sha, rec->sha256);
    }
    if (rc == 0)
        rc = flush(u, err);
    tsv_tsm_trust validated = {0};
    int kept = 0;
    if (rc == 0 && u->check) {
        kept =
            tsv_upload_check_finish(u->check, &info->format, &info->compression, &validated, err);
        if (kept < 0)
            rc = -1;
    }
    if (rc == 0 && kept)
        release_kept_members(u);
    if (rc == 0)
        rc = tsv_fsync_fd(u->fd, u->path, err);
    if (rc == 0) {
        close(u->fd);
        u->fd = -1;
    }
    char scratch[PATH_MAX];
    if (rc == 0 && !kept)
        rc = tsv_path_join(scratch, sizeof scratch, err, "%s/check-%016" PRIx64, f->tmp,
                           tsv_random_u64());
    if (rc == 0 && !kept && (rc = tsv_mkdir_p(scratch, err)) == 0) {
        rc = tsv_archive_inspect_ex(u->path, scratch, &info->format, &info->compression, &validated,
                                    err);
        tsv_error e;
        tsv_remove_tree(scratch, &e);
        if (rc != 0 && err && err->code == TSV_EINVALID)
            tsv_error_wrap(err, "invalid %s file \"%s\"", tsv_data_format_name(info->format),
                           u->name);
    }
    if (rc == 0) {
        uuid_t id;
        uuid_generate_random(id);
        uuid_unparse_lower(id, info->id);
        snprintf(info->name, sizeof info->name, "%s", u->name);
        info->size = u->size;
        hex(md5, 16, info->md5, 1);
        hex(sha, 32, info->sha256, 0);
        snprintf(info->user_id, sizeof info->user_id, "%s", user_id ? user_id : "");
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        info->uploaded_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        if (rec) {
            snprintf(info->id, sizeof info->id, "%s", rec->id);
            snprintf(info->user_id, sizeof info->user_id, "%s", rec->user_id);
            info->uploaded_ns = rec->uploaded_ns;
        }
        char data[PATH_MAX];
        rc = tsv_path_join(data, sizeof data, err, "%s/%s", f->data, u->name);
        /* NOREPLACE: of two uploads racing for one name, one wins. */
        if (rc == 0 && renameat2(AT_FDCWD, u->path, AT_FDCWD, data, RENAME_NOREPLACE) != 0)
            rc = errno == EEXIST
                     ? tsv_error_set(err, TSV_ECONFLICT, "file \"%s\" already exists", u->name)
                     : tsv_error_set_errno(err, TSV_EINTERNAL, errno, "rename to %s", data);
        if (rc == 0) {
            u->path[0] = '\0';
            rc = tsv_fsync_dir(f->data, err);
            /* The list of validated TSM contents goes before the record (a
             * record never points at an older list); failing to write it
             * only costs a second validation at restore time. */
            char vpath[PATH_MAX];
            tsv_error verr;
            if (rc == 0 && validated.n &&
                (tsv_path_join(vpath, sizeof vpath, &verr, "%s/%s", f->validated, u->name) != 0 ||
                 tsv_tsm_trust_save(&validated, vpath, &verr) != 0))
                TSV_WARN("msg=\"cannot save the validation list\" name=\"%s\" error=\"%s\"",
                         u->name, verr.message);
            /* What the check kept goes in before the record too (a
             * directory without a record is removed at start-up); failing to
             * move it only costs the restore job an extraction. */
            char xpath[PATH_MAX];
            if (rc == 0 && kept &&
                (tsv_path_join(xpath, sizeof xpath, &verr, "%s/%s", f->extracted, u->name) != 0 ||
                 (tsv_path_exists(xpath) && tsv_remove_tree(xpath, &verr) != 0) ||
                 rename(u->keep, xpath) != 0 || tsv_fsync_dir(f->extracted, &verr) != 0)) {
                TSV_WARN("msg=\"cannot keep the upload's validated files\" name=\"%s\"", u->name);
            } else if (rc == 0 && kept) {
                u->keep[0] = '\0';
            }
            if (rc == 0)
                rc = record_write(f, info, err);
            if (rc != 0) {
                unlink(data);
                if (kept && !u->keep[0])
                    tsv_remove_tree(xpath, &verr);
            }
        }
    }
    if (rc == 0)
        TSV_INFO("msg=\"file staged\" name=\"%s\" id=%s bytes=%" PRIu64 " format=%s "
                 "compression=%s checked=%s",
                 info->name, info->id, info->size, tsv_data_format_name(info->format),
                 tsv_compression_name(info->compression),
                 kept ? "while-uploading" : "after-upload");
    tsv_tsm_trust_clear(&validated);
    tsv_files_upload_abort(u);
    return rc;
}

int tsv_files_upload_commit(tsv_files_upload *u, const uint8_t *expected_md5, const char *user_id,
                            tsv_file_info *info, tsv_error *err)
{
    return upload_commit(u, expected_md5, user_id, NULL, info, err);
}

int tsv_files_upload_commit_record(tsv_files_upload *u, const tsv_file_info *rec,
                                   tsv_file_info *info, tsv_error *err)
{
    return upload_commit(u, NULL, NULL, rec, info, err);
}

int tsv_files_validated(tsv_files *f, const char *name, tsv_tsm_trust *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    char path[PATH_MAX];
    if (tsv_files_name_check(name, err) != 0 ||
        tsv_path_join(path, sizeof path, err, "%s/%s", f->validated, name) != 0)
        return -1;
    return tsv_tsm_trust_load(out, path, err);
}

int tsv_files_kept_shard(tsv_files *f, const char *name, const char *member, char *out,
                         size_t outlen)
{
    char list[PATH_MAX];
    tsv_error e;
    if (tsv_files_name_check(name, &e) != 0 || !member[0] || member[0] == '.' ||
        strchr(member, '/') ||
        tsv_path_join(out, outlen, &e, "%s/%s/%s", f->extracted, name, member) != 0 ||
        tsv_path_join(list, sizeof list, &e, "%s/.tsv-files", out) != 0)
        return 0;
    return tsv_path_exists(list);
}
