/* upload_check: an upload validated and extracted while it arrives. */
#include "upload_check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_members.h"
#include "archive_read.h"
#include "array_grow.h"
#include "byte_pipe.h"
#include "fsutil.h"
#include "shard_install.h"
#include "tsv_log.h"

/* 8 x 1 MiB between the HTTP thread and the check: enough to ride out a
 * slow fsync on either side, bounded whatever the upload's size. */
#define PIPE_CHUNK (1024 * 1024)
#define PIPE_SLOTS 16

typedef enum {
    KEPT_NONE = 0,
    KEPT_SHARD, /* validated, in keep_dir/<name>/ */
    KEPT_RAW,   /* copied as is to keep_dir/<name> */
    KEPT_BAD,   /* tried and failed: the stored-file check says why */
} kept_kind;

/* What the walk learnt of one member. */
typedef struct kept_info {
    kept_kind kind;
    /* uncompressed tar only: where the member's data lies in the upload,
     * and its first and last bytes as read (to check that offset) */
    int have_range;
    uint64_t start, length;
    uint8_t head[TSV_UPLOAD_EDGE], tail[TSV_UPLOAD_EDGE];
} kept_info;

struct tsv_upload_check {
    char keep[PATH_MAX];
    tsv_byte_pipe *pipe;
    pthread_t thread;
    int started, finished;
    /* results of the thread */
    int complete; /* walked the whole tar without an error */
    tsv_compression compression;
    archive_members members;
    kept_info *info; /* parallel to members.v */
    size_t info_cap;
    tsv_tsm_trust validated;
    tsv_upload_range *ranges; /* filled by finish */
    size_t n_ranges;
};

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Names kept under keep_dir: plain names only (never ".", "..", hidden). */
static int keepable(const char *name) { return name[0] && name[0] != '.' && !strchr(name, '/'); }

/* Passes a member's bytes through, keeping its first and last
 * TSV_UPLOAD_EDGE bytes and counting them. */
typedef struct edge_reader {
    tsv_reader base;
    tsv_reader *inner;
    kept_info *k;
    uint64_t count;
} edge_reader;

static ssize_t edge_read(tsv_reader *rd, void *buf, size_t len, tsv_error *err)
{
    edge_reader *r = (edge_reader *)rd;
    ssize_t n = tsv_read(r->inner, buf, len, err);
    if (n <= 0)
        return n;
    const uint8_t *b = buf;
    size_t u = (size_t)n, e = TSV_UPLOAD_EDGE;
    if (r->count < e) {
        size_t h = e - (size_t)r->count < u ? e - (size_t)r->count : u;
        memcpy(r->k->head + r->count, b, h);
    }
    if (u >= e) {
        memcpy(r->k->tail, b + u - e, e);
    } else {
        memmove(r->k->tail, r->k->tail + u, e - u);
        memcpy(r->k->tail + e - u, b, u);
    }
    r->count += u;
    return n;
}

static void edge_free(tsv_reader *rd) { (void)rd; }

/* One shard archive member through the shard restore's validation into
 * keep/<name>/ (fsynced, with its file list). */
static int keep_shard(tsv_upload_check *c, const char *name, tsv_reader *raw, int gzip,
                      tsv_error *err)
{
    char dir[PATH_MAX], trash[PATH_MAX];
    if (tsv_path_join(dir, sizeof dir, err, "%s/%s", c->keep, name) != 0 ||
        tsv_path_join(trash, sizeof trash, err, "%s/.trash", c->keep) != 0 ||
        tsv_mkdir_p(trash, err) != 0)
        return -1;
    tsv_reader *dec = NULL;
    if (gzip && tsv_decoder_new(&dec, TSV_CODEC_GZIP, raw, err) != 0)
        return -1;
    tsv_shard_install_opts o = {.validated = &c->validated, .list = 1, .defer_sync = 1};
    tsv_shard_install_stats st;
    int rc = tsv_shard_install_from_tar_opts(dir, trash, 0, dec ? dec : raw, &o, &st, err);
    tsv_reader_free(dec);
    if (rc == 0 && st.files == 0)
        rc = tsv_error_set(err, TSV_EINVALID, "%s holds no TSM or tombstone file", name);
    return rc;
}

/* The previous member's data ends where the header just read begins
 * (uncompressed tar only): its range, if its bytes were all seen. */
static void place_previous(tsv_archive *a, kept_info *k, uint64_t size, uint64_t seen, int sparse)
{
    int64_t end = tsv_archive_prev_end(a);
    uint64_t padded = (size + 511) / 512 * 512;
    if (!k || k->kind != KEPT_SHARD || sparse || seen != size || size < TSV_UPLOAD_EDGE ||
        end < 0 || (uint64_t)end < padded + 512)
        return;
    k->start = (uint64_t)end - padded;
    k->length = size;
    k->have_range = 1;
}

static int walk(tsv_upload_check *c, tsv_archive *a, tsv_error *err)
{
    c->members.shard_like = 1;
    tsv_archive_entry e;
    int rc;
    kept_info *prev = NULL;
    uint64_t prev_size = 0, prev_seen = 0;
    int prev_sparse = 0;
    while ((rc = tsv_archive_next(a, &e, err)) == 1) {
        place_previous(a, prev, prev_size, prev_seen, prev_sparse);
        prev = NULL;
        archive_member *x;
        if (archive_members__add(&c->members, e.name, e.size, &x, err) != 0)
            return -1;
        if (tsv_array_grow(&c->info, &c->info_cap, c->members.n, sizeof *c->info, err) != 0)
            return -1;
        kept_info *info = &c->info[c->members.n - 1];
        memset(info, 0, sizeof *info);
        kept_kind *kind = &info->kind;
        edge_reader edges = {{edge_read, edge_free}, tsv_archive_member(a), info, 0};
        tsv_reader *r = &edges.base;
        if (archive_members__is_text(e.name)) {
            if (tsv_archive_read_member(a, &e, ARCHIVE_TEXT_MAX, &x->text, &x->text_len, err) != 0)
                return -1;
            continue;
        }
        if (!keepable(e.name))
            continue;
        int gz = ends_with(e.name, ".tar.gz");
        tsv_error merr;
        if (gz || ends_with(e.name, ".tar")) {
            *kind = keep_shard(c, e.name, r, gz, &merr) == 0 ? KEPT_SHARD : KEPT_BAD;
            /* The rest of the member (gzip trailer, tar padding) through
             * the edge reader too, so that its tail is the member's. */
            uint8_t sink[4096];
            ssize_t n;
            while (*kind == KEPT_SHARD && (n = tsv_read(r, sink, sizeof sink, &merr)) > 0)
                ;
            prev = info;
            prev_size = e.size;
            prev_seen = edges.count;
            prev_sparse = e.sparse;
        } else if (ends_with(e.name, ".bolt") || ends_with(e.name, ".bolt.gz") ||
                   ends_with(e.name, ".sqlite") || ends_with(e.name, ".sqlite.gz")) {
            char path[PATH_MAX];
            *kind = tsv_path_join(path, sizeof path, &merr, "%s/%s", c->keep, e.name) == 0 &&
                            tsv_copy_to_new_file(r, path, 1, &merr) == 0
                        ? KEPT_RAW
                        : KEPT_BAD;
        }
        if (*kind == KEPT_BAD)
            TSV_DEBUG("msg=\"upload member left to the full check\" member=\"%s\" error=\"%s\"",
                      e.name, merr.message);
    }
    if (rc == 0)
        place_previous(a, prev, prev_size, prev_seen, prev_sparse);
    return rc;
}

static void *check_main(void *arg)
{
    tsv_upload_check *c = arg;
    tsv_reader *in = tsv_byte_pipe_reader(c->pipe);
    tsv_archive *a = NULL;
    tsv_error err;
    if (tsv_archive_open_reader(&a, in, &err) == 0) {
        c->compression = tsv_archive_compression(a);
        c->complete = walk(c, a, &err) == 0;
    }
    tsv_archive_close(a);
    /* Whatever follows the tar (or everything, if it was not one) is read
     * and dropped, so that the upload never waits on us. */
    tsv_byte_pipe_close_read(c->pipe);
    return NULL;
}

int tsv_upload_check_start(tsv_upload_check **out, const char *keep_dir, tsv_error *err)
{
    *out = NULL;
    tsv_upload_check *c = calloc(1, sizeof *c);
    if (!c)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    snprintf(c->keep, sizeof c->keep, "%s", keep_dir);
    if (tsv_byte_pipe_new(&c->pipe, PIPE_CHUNK, PIPE_SLOTS, err) != 0) {
        free(c);
        return -1;
    }
    if (pthread_create(&c->thread, NULL, check_main, c) != 0) {
        tsv_byte_pipe_free(c->pipe);
        free(c);
        return tsv_error_set(err, TSV_EINTERNAL, "cannot start the upload check thread");
    }
    c->started = 1;
    *out = c;
    return 0;
}

void tsv_upload_check_feed(tsv_upload_check *c, const void *data, size_t len)
{
    tsv_byte_pipe_write(c->pipe, data, len);
}

static void stop(tsv_upload_check *c, const tsv_error *failure)
{
    if (!c->started || c->finished)
        return;
    tsv_byte_pipe_close_write(c->pipe, failure);
    pthread_join(c->thread, NULL);
    c->finished = 1;
}

/* A raw KV/SQL copy through the same check as the stored-file path. */
static int check_raw(tsv_upload_check *c, const char *name, archive_check_kind kind, int gzip,
                     tsv_error *err)
{
    char path[PATH_MAX], scratch[PATH_MAX];
    if (tsv_path_join(path, sizeof path, err, "%s/%s", c->keep, name) != 0 ||
        tsv_path_join(scratch, sizeof scratch, err, "%s/.scratch", c->keep) != 0 ||
        tsv_mkdir_p(scratch, err) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    tsv_reader *r = tsv_fd_reader_new(fd);
    int rc = r ? archive_detect__check_stream(scratch, kind, 0, r,
                                              gzip ? TSV_CODEC_GZIP : TSV_CODEC_IDENTITY, NULL, err)
               : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    tsv_reader_free(r);
    close(fd);
    tsv_error e;
    tsv_remove_tree(scratch, &e);
    return rc;
}

static const kept_info *info_of(const tsv_upload_check *c, const char *name)
{
    const archive_member *x = archive_members__find(&c->members, name);
    return x ? &c->info[x - c->members.v] : NULL;
}

static kept_kind kind_of(const tsv_upload_check *c, const char *name)
{
    const kept_info *k = info_of(c, name);
    return k ? k->kind : KEPT_NONE;
}

/* The plan's shard members whose place in the upload is known. */
static int collect_ranges(tsv_upload_check *c, const tsv_backup_plan *p, tsv_error *err)
{
    c->ranges = calloc(p->n_shards ? p->n_shards : 1, sizeof *c->ranges);
    if (!c->ranges)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (size_t i = 0; i < p->n_shards; i++) {
        /* gzip members only: zeros read where a released member was fail
         * as gzip, where a plain tar would read as an empty shard. */
        const kept_info *k = info_of(c, p->shards[i].file);
        if (!k || !k->have_range || !p->shards[i].gzip)
            continue;
        tsv_upload_range *g = &c->ranges[c->n_ranges++];
        g->offset = k->start;
        g->length = k->length;
        memcpy(g->head, k->head, sizeof g->head);
        memcpy(g->tail, k->tail, sizeof g->tail);
    }
    return 0;
}

size_t tsv_upload_check_ranges(const tsv_upload_check *c, const tsv_upload_range **out)
{
    *out = c->ranges;
    return c->n_ranges;
}

int tsv_upload_check_finish(tsv_upload_check *c, tsv_data_format *format,
                            tsv_compression *compression, tsv_tsm_trust *validated, tsv_error *err)
{
    memset(validated, 0, sizeof *validated);
    stop(c, NULL);
    if (!c->complete || c->members.n == 0)
        return 0;
    tsv_backup_plan p;
    tsv_error perr;
    if (archive_members__plan(&c->members, &p, &perr) != 0)
        return 0;
    int covered = p.format == TSV_FORMAT_INFLUX_BACKUP || p.format == TSV_FORMAT_INFLUXDB1_PORTABLE;
    for (size_t i = 0; covered && i < p.n_shards; i++)
        covered = kind_of(c, p.shards[i].file) == KEPT_SHARD &&
                  p.shards[i].gzip == ends_with(p.shards[i].file, ".tar.gz");
    tsv_error cerr;
    if (covered && p.kv_file)
        covered = kind_of(c, p.kv_file) == KEPT_RAW &&
                  check_raw(c, p.kv_file, CHECK_BOLT, p.kv_gzip, &cerr) == 0;
    if (covered && p.sql_file)
        covered = kind_of(c, p.sql_file) == KEPT_RAW &&
                  check_raw(c, p.sql_file, CHECK_SQLITE, p.sql_gzip, &cerr) == 0;
    /* The shard installs' trash: empty (nothing was replaced), not kept. */
    char trash[PATH_MAX];
    tsv_error terr;
    if (tsv_path_join(trash, sizeof trash, &terr, "%s/.trash", c->keep) == 0 &&
        tsv_path_exists(trash) && tsv_remove_tree(trash, &terr) != 0)
        covered = 0;
    int rc = 0;
    /* The kept shards were written without fsyncs (defer_sync): they are
     * made durable once, now that the whole upload is in. */
    if (covered && (tsv_fsync_tree(c->keep, err) != 0 || collect_ranges(c, &p, err) != 0)) {
        rc = -1;
    } else if (covered) {
        *format = p.format;
        *compression = c->compression;
        *validated = c->validated;
        memset(&c->validated, 0, sizeof c->validated);
        tsv_tsm_trust_seal(validated);
        rc = 1;
    }
    tsv_backup_plan_clear(&p);
    return rc;
}

void tsv_upload_check_free(tsv_upload_check *c)
{
    if (!c)
        return;
    tsv_error aborted;
    tsv_error_set(&aborted, TSV_EINVALID, "upload aborted");
    stop(c, &aborted);
    tsv_byte_pipe_free(c->pipe);
    archive_members__free(&c->members);
    free(c->info);
    free(c->ranges);
    tsv_tsm_trust_clear(&c->validated);
    free(c);
}
