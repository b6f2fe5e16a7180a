/* backup: consistent metadata snapshots and hard-link shard snapshots. */
#include "backup.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array_grow.h"
#include "engine.h"
#include "fsutil.h"
#include "json.h"
#include "kv_import.h"
#include "manifest.h"
#include "meta_store.h"
#include "random.h"
#include "store_internal.h"
#include "store_vault.h"
#include "tenant.h"
#include "tombstone.h"
#include "tsm.h"
#include "tsm_filter.h"
#include "tsv_log.h"
#include "vault.h"

#define CHUNK (1024 * 1024)

struct tsv_metadata_snapshot {
    tsv_store *store;
    tsv_kv_txn *txn;
    char sql_copy[PATH_MAX];
};

static int writer_out(void *octx, const void *buf, size_t len, tsv_error *err)
{
    return tsv_write((tsv_writer *)octx, buf, len, err);
}

/* Copies the live SQL store (or an empty database) with SQLite's online
 * backup API into a private file. */
static int sql_snapshot(tsv_store *s, const char *dst, tsv_error *err)
{
    char live[PATH_MAX];
    if (tsv_path_join(live, sizeof live, err, "%s/influxd.sqlite", s->state_dir) != 0)
        return -1;
    sqlite3 *to = NULL, *from = NULL;
    int rc = sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        tsv_error_set(err, TSV_EINTERNAL, "create SQL snapshot: %s", to ? sqlite3_errmsg(to) : "?");
        sqlite3_close(to);
        return -1;
    }
    int ret = 0;
    if (tsv_path_exists(live)) {
        rc = sqlite3_open_v2(live, &from, SQLITE_OPEN_READONLY, NULL);
        sqlite3_backup *b = rc == SQLITE_OK ? sqlite3_backup_init(to, "main", from, "main") : NULL;
        if (!b) {
            ret = tsv_error_set(err, TSV_EINTERNAL, "SQL snapshot: %s",
                                sqlite3_errmsg(rc == SQLITE_OK ? to : from));
        } else {
            rc = sqlite3_backup_step(b, -1);
            sqlite3_backup_finish(b);
            if (rc != SQLITE_DONE)
                ret = tsv_error_set(err, rc == SQLITE_FULL ? TSV_ENOSPACE : TSV_EINTERNAL,
                                    "SQL snapshot: %s", sqlite3_errstr(rc));
        }
        sqlite3_close(from);
    } else {
        /* No SQL store was ever restored: send a valid, empty database
         * (VACUUM writes the header page of an empty file). */
        char *msg = NULL;
        if (sqlite3_exec(to, "PRAGMA page_size=4096; VACUUM;", NULL, NULL, &msg) != SQLITE_OK) {
            ret = tsv_error_set(err, TSV_EINTERNAL, "empty SQL snapshot: %s", msg ? msg : "?");
            sqlite3_free(msg);
        }
    }
    if (sqlite3_close(to) != SQLITE_OK && ret == 0)
        ret = tsv_error_set(err, TSV_EINTERNAL, "close SQL snapshot");
    return ret;
}

int tsv_store_metadata_snapshot(tsv_store *s, tsv_metadata_snapshot **out, tsv_error *err)
{
    tsv_metadata_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    snap->store = s;
    tsv_store_shared_lock(s);
    if (tsv_path_join(snap->sql_copy, sizeof snap->sql_copy, err, "%s/backup-%016" PRIx64 ".sqlite",
                      s->tmp_dir, tsv_random_u64()) != 0 ||
        tsv_kv_begin(s->kv, 0, &snap->txn, err) != 0 || sql_snapshot(s, snap->sql_copy, err) != 0) {
        tsv_metadata_snapshot_end(snap);
        return -1;
    }
    *out = snap;
    return 0;
}

int tsv_metadata_snapshot_write_kv(tsv_metadata_snapshot *snap, tsv_writer *w, tsv_error *err)
{
    uint64_t written;
    return tsv_kv_export_bolt(snap->txn, writer_out, w, &written, err);
}

/* The next chunk of fd, at most CHUNK and at most `left` (> 0) bytes: its
 * length, or -1 with err (an end of file before `left` bytes is EIO). */
static ssize_t read_chunk(int fd, uint8_t *buf, int64_t left, const char *path, tsv_error *err)
{
    for (;;) {
        ssize_t n = read(fd, buf, left < CHUNK ? (size_t)left : CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return tsv_error_set_errno(err, TSV_EINTERNAL, n < 0 ? errno : EIO, "read %s", path);
        return n;
    }
}

/* Streams exactly the size the file had when opened: a file that comes up
 * short is an error (the reply is then aborted), never a shorter part. */
static int stream_file(const char *path, tsv_writer *w, tsv_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return tsv_error_set_errno(err, TSV_EINTERNAL, e, "stat %s", path);
    }
    uint8_t *buf = malloc(CHUNK);
    int rc = buf ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (off_t left = st.st_size; rc == 0 && left > 0;) {
        ssize_t n = read_chunk(fd, buf, left, path, err);
        if (n < 0) {
            rc = -1;
            break;
        }
        rc = tsv_write(w, buf, (size_t)n, err);
        left -= n;
    }
    free(buf);
    close(fd);
    return rc;
}

int tsv_metadata_snapshot_write_sql(tsv_metadata_snapshot *snap, tsv_writer *w, tsv_error *err)
{
    return stream_file(snap->sql_copy, w, err);
}

typedef struct manifest_ctx {
    tsv_kv_txn *txn;
    const Meta__Data *meta;
    tsv_json_writer *jw;
} manifest_ctx;

static int manifest_visit(void *vctx, const tsv_bucket *b, tsv_error *err)
{
    manifest_ctx *c = vctx;
    const Meta__DatabaseInfo *db = tsv_meta_find_database(c->meta, b->id);
    if (!db) {
        /* As influxd 2.9: a bucket without tsdb meta is left out, with a log. */
        TSV_WARN("msg=\"bucket has no tsdb meta; left out of the backup manifest\" bucket=%s",
                 b->id);
        return 0;
    }
    tsv_org org;
    tsv_error e;
    const char *org_name = "";
    int have_org = tsv_tenant_org_get(c->txn, b->org_id, &org, &e) == 0;
    if (have_org)
        org_name = org.name;
    else if (e.code != TSV_ENOTFOUND)
        return err ? (*err = e, -1) : -1;
    tsv_manifest_write(c->jw, b->org_id, org_name, b->id, b->name, b->description, db);
    if (have_org)
        tsv_org_clear(&org);
    return 0;
}

int tsv_metadata_snapshot_write_buckets(tsv_metadata_snapshot *snap, tsv_writer *w, tsv_error *err)
{
    Meta__Data *meta = NULL;
    if (tsv_meta_load(snap->txn, &meta, NULL, err) != 0)
        return -1;
    tsv_buf buf = {0};
    tsv_json_writer jw;
    tsv_jw_init(&jw, &buf, NULL);
    tsv_jw_array_begin(&jw);
    manifest_ctx c = {.txn = snap->txn, .meta = meta, .jw = &jw};
    int rc = tsv_tenant_bucket_foreach(snap->txn, manifest_visit, &c, err);
    tsv_jw_array_end(&jw);
    if (rc == 0)
        rc = tsv_jw_finish(&jw, err);
    if (rc == 0)
        rc = tsv_buf_append(&buf, "\n", 1, err);
    if (rc == 0)
        rc = tsv_write(w, buf.data, buf.len, err);
    tsv_buf_free(&buf);
    tsv_meta_free(meta);
    return rc;
}

void tsv_metadata_snapshot_end(tsv_metadata_snapshot *snap)
{
    if (!snap)
        return;
    if (snap->txn)
        tsv_kv_abort(snap->txn);
    if (snap->sql_copy[0])
        unlink(snap->sql_copy);
    tsv_store_shared_unlock(snap->store);
    free(snap);
}

int tsv_store_backup_kv(tsv_store *s, tsv_writer *w, tsv_error *err)
{
    tsv_store_shared_lock(s);
    tsv_kv_txn *txn;
    int rc = tsv_kv_begin(s->kv, 0, &txn, err);
    if (rc == 0) {
        uint64_t written;
        rc = tsv_kv_export_bolt(txn, writer_out, w, &written, err);
        tsv_kv_abort(txn);
    }
    tsv_store_shared_unlock(s);
    return rc;
}

/* ---- shards ------------------------------------------------------------ */

typedef struct snap_file {
    char name[NAME_MAX + 1];
    int64_t size;
    int64_t mtime;
    mode_t mode;
} snap_file;

struct tsv_shard_snapshot {
    char dir[PATH_MAX];
    char prefix[PATH_MAX]; /* "<db>/<rp>/<id>" */
    snap_file *files;
    size_t count;
};

static int cmp_snap_file(const void *a, const void *b)
{
    return strcmp(((const snap_file *)a)->name, ((const snap_file *)b)->name);
}

/* When the shard's in-use vault version was installed (0 if unknown). A file
 * deduplicated into the vault is a hard link to an older object and keeps
 * that object's mtime, so "changed since" must also ask the catalogue. */
static int64_t shard_installed_ns(tsv_store *s, uint64_t shard_id)
{
    tsv_live_shard live;
    tsv_catalog_txn *t;
    tsv_version v;
    int found = 0;
    tsv_error e;
    if (tsv_store_live_shard(s, shard_id, &live, &e) != 0 ||
        tsv_catalog_begin(s->vault->catalog, 0, &t, &e) != 0)
        return 0;
    int rc = tsv_vault_in_use(t, &live.slot, &v, &found, &e);
    tsv_catalog_abort(t);
    if (rc != 0 || !found)
        return 0;
    int64_t ns = v.created_ns;
    tsv_version_clear(&v);
    return ns;
}

int tsv_store_shard_snapshot(tsv_store *s, uint64_t shard_id, int64_t since_ns,
                             tsv_shard_snapshot **out, tsv_error *err)
{
    tsv_shard_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    tsv_store_shared_lock(s);
    char shard_dir[PATH_MAX];
    int rc = tsv_store_locate_shard(s, shard_id, shard_dir, sizeof shard_dir, snap->prefix,
                                    sizeof snap->prefix, err);
    if (rc == 0)
        rc = tsv_path_join(snap->dir, sizeof snap->dir, err, "%s/snapshot-%016" PRIx64, s->tmp_dir,
                           tsv_random_u64());
    if (rc == 0 && mkdir(snap->dir, 0700) != 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "mkdir %s", snap->dir);
    if (rc != 0)
        snap->dir[0] = '\0'; /* nothing of ours to remove */
    if (rc == 0) {
        tsv_shard_lock(shard_id);
        /* A version installed after `since` is new as a whole. */
        if (since_ns != INT64_MIN && shard_installed_ns(s, shard_id) > since_ns)
            since_ns = INT64_MIN;
        DIR *d = opendir(shard_dir);
        if (!d && errno != ENOENT)
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", shard_dir);
        size_t cap = 0;
        struct dirent *e;
        while (rc == 0 && d && (e = readdir(d)) != NULL) {
            if (!tsv_tsm_name_valid(e->d_name) && !tsv_tombstone_name_valid(e->d_name))
                continue;
            char from[PATH_MAX], to[PATH_MAX];
            struct stat st;
            if (tsv_path_join(from, sizeof from, err, "%s/%s", shard_dir, e->d_name) != 0 ||
                tsv_path_join(to, sizeof to, err, "%s/%s", snap->dir, e->d_name) != 0) {
                rc = -1;
                break;
            }
            if (lstat(from, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
            if (since_ns != INT64_MIN && mtime <= since_ns)
                continue;
            if (link(from, to) != 0) {
                rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "link %s", from);
                break;
            }
            if (TSV_ARRAY_GROW(snap->files, snap->count, cap, err) != 0) {
                rc = -1;
                break;
            }
            snap_file *f = &snap->files[snap->count++];
            snprintf(f->name, sizeof f->name, "%s", e->d_name);
            f->size = st.st_size;
            f->mtime = st.st_mtim.tv_sec;
            /* Files in the vault are read-only objects (0444); the archive
             * keeps the mode influxd writes its shard files with. */
            f->mode = (st.st_mode & 07777) | 0200;
        }
        if (d)
            closedir(d);
        tsv_shard_unlock(shard_id);
    }
    tsv_store_shared_unlock(s);
    /* Nothing verify marked corrupt is served: refused before a byte of
     * the stream (the snapshot's links are the objects' inodes). */
    if (rc == 0 && snap->count) {
        const char *p = snap->prefix, *a = strchr(p, '/'), *b = strrchr(p, '/');
        char what[600];
        if (a && b && b > a)
            snprintf(what, sizeof what, "backup of bucket %.*s, rp %.*s, shard %" PRIu64,
                     (int)(a - p), p, (int)(b - a - 1), a + 1, shard_id);
        else
            snprintf(what, sizeof what, "backup of shard %" PRIu64, shard_id);
        rc = tsv_vault_check_dir(s->vault, snap->dir, what, err);
    }
    if (rc != 0) {
        tsv_shard_snapshot_free(snap);
        return -1;
    }
    /* influxd walks the snapshot lexically: a file's .tombstone before its .tsm. */
    if (snap->count > 1) /* qsort(NULL, 0, ...) is undefined (UBSan) */
        qsort(snap->files, snap->count, sizeof *snap->files, cmp_snap_file);
    *out = snap;
    return 0;
}

typedef struct tar_sink {
    tsv_writer *w;
    tsv_error err;
    int failed;
    int cut; /* the stream failed: nothing more may reach w */
} tar_sink;

static la_ssize_t tar_write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
    tar_sink *sink = ctx;
    if (sink->cut) {
        archive_set_error(a, EIO, "stream already failed");
        return -1;
    }
    if (tsv_write(sink->w, buf, len, &sink->err) != 0) {
        sink->failed = 1;
        archive_set_error(a, EIO, "%s", sink->err.message);
        return -1;
    }
    return (la_ssize_t)len;
}

int tsv_shard_snapshot_write_tar(tsv_shard_snapshot *snap, tsv_writer *w, tsv_error *err)
{
    struct archive *a = archive_write_new();
    if (!a)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    tar_sink sink = {.w = w};
    uint8_t *buf = malloc(CHUNK);
    int rc = 0;
    /* ustar like Go's tar for short names, pax when a name needs it; no
     * padding of the last block, as influxd's stream ends at the two zero
     * blocks. No blocking at all (bytes_per_block 0): every header and data
     * write goes straight to the sink, so the encoder and the socket get
     * CHUNK-sized writes instead of one call per 512-byte block. */
    if (!buf || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
        archive_write_open2(a, &sink, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK) {
        rc = tsv_error_set(err, TSV_EINTERNAL, "tar writer: %s",
                           archive_error_string(a) ? archive_error_string(a) : "out of memory");
        goto out;
    }
    for (size_t i = 0; rc == 0 && i < snap->count; i++) {
        const snap_file *f = &snap->files[i];
        char path[PATH_MAX], name[PATH_MAX];
        if (tsv_path_join(path, sizeof path, err, "%s/%s", snap->dir, f->name) != 0 ||
            tsv_path_join(name, sizeof name, err, "%s/%s", snap->prefix, f->name) != 0) {
            rc = -1;
            break;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
            break;
        }
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_size(e, f->size);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, f->mode);
        archive_entry_set_mtime(e, f->mtime, 0);
        if (archive_write_header(a, e) != ARCHIVE_OK) {
            rc = sink.failed
                     ? (err ? (*err = sink.err, -1) : -1)
                     : tsv_error_set(err, TSV_EINTERNAL, "tar header: %s", archive_error_string(a));
        }
        archive_entry_free(e);
        int64_t left = f->size;
        while (rc == 0 && left > 0) {
            ssize_t n = read_chunk(fd, buf, left, path, err);
            if (n < 0) {
                rc = -1;
                break;
            }
            if (archive_write_data(a, buf, (size_t)n) != n)
                rc = sink.failed ? (err ? (*err = sink.err, -1) : -1)
                                 : tsv_error_set(err, TSV_EINTERNAL, "tar data: %s",
                                                 archive_error_string(a));
            left -= n;
        }
        close(fd);
    }
    if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
        rc = sink.failed
                 ? (err ? (*err = sink.err, -1) : -1)
                 : tsv_error_set(err, TSV_EINTERNAL, "tar close: %s", archive_error_string(a));
out:
    /* archive_write_free closes an archive that is still open, which pads
     * the current entry with zeros and appends the end-of-archive blocks:
     * after an error that would turn a short read into a complete-looking
     * tar. Cut the sink first. */
    if (rc != 0)
        sink.cut = 1;
    archive_write_free(a);
    free(buf);
    return rc;
}

int tsv_shard_snapshot_time_filter(tsv_shard_snapshot *snap, int64_t start_ns, int64_t end_ns,
                                   tsv_error *err)
{
    size_t keep = 0;
    char *tsm_kept = calloc(snap->count ? snap->count : 1, 1);
    if (!tsm_kept)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int rc = 0;
    /* TSM files first: whole when inside the range, cut when they overlap it. */
    for (size_t i = 0; rc == 0 && i < snap->count; i++) {
        snap_file *f = &snap->files[i];
        size_t n = strlen(f->name);
        if (n < 4 || strcmp(f->name + n - 4, ".tsm") != 0)
            continue;
        char path[PATH_MAX], cut[PATH_MAX];
        int64_t mn, mx;
        if (tsv_path_join(path, sizeof path, err, "%s/%s", snap->dir, f->name) != 0 ||
            tsv_path_join(cut, sizeof cut, err, "%s/%s.cut", snap->dir, f->name) != 0 ||
            tsv_tsm_time_range(path, &mn, &mx, err) != 0) {
            rc = -1;
            break;
        }
        if (mn >= start_ns && mx <= end_ns) {
            tsm_kept[i] = 1;
        } else if (mn <= end_ns && mx >= start_ns) {
            uint64_t blocks;
            struct stat st;
            if (tsv_tsm_filter_range(path, cut, start_ns, end_ns, &blocks, err) != 0) {
                rc = -1;
                break;
            }
            if (blocks == 0)
                continue;
            /* Replaces the snapshot's hard link, never the live file. */
            if (rename(cut, path) != 0 || stat(path, &st) != 0) {
                rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "rename %s", cut);
                break;
            }
            f->size = st.st_size;
            tsm_kept[i] = 1;
        }
    }
    /* A tombstone goes with its TSM file. */
    for (size_t i = 0; rc == 0 && i < snap->count; i++) {
        snap_file *f = &snap->files[i];
        size_t n = strlen(f->name);
        if (n > 10 && strcmp(f->name + n - 10, ".tombstone") == 0) {
            char tsm[NAME_MAX + 1];
            snprintf(tsm, sizeof tsm, "%.*s.tsm", (int)(n - 10), f->name);
            for (size_t j = 0; j < snap->count; j++)
                if (tsm_kept[j] && strcmp(snap->files[j].name, tsm) == 0)
                    tsm_kept[i] = 1;
        }
    }
    if (rc == 0) {
        for (size_t i = 0; i < snap->count; i++)
            if (tsm_kept[i])
                snap->files[keep++] = snap->files[i];
        snap->count = keep;
    }
    free(tsm_kept);
    return rc;
}

int tsv_shard_snapshot_set_prefix(tsv_shard_snapshot *snap, const char *prefix, tsv_error *err)
{
    return tsv_path_join(snap->prefix, sizeof snap->prefix, err, "%s", prefix);
}

void tsv_shard_snapshot_free(tsv_shard_snapshot *snap)
{
    if (!snap)
        return;
    if (snap->dir[0]) {
        tsv_error e;
        if (tsv_remove_tree(snap->dir, &e) != 0)
            TSV_WARN("msg=\"could not remove snapshot\" path=\"%s\" error=\"%s\"", snap->dir,
                     e.message);
    }
    free(snap->files);
    free(snap);
}
