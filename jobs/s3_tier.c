/* s3_tier: copying the vault to S3 and recovering from it (s3_tier.h). */
#include "s3_tier.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "array_grow.h"
#include "connections.h"
#include "files_store.h"
#include "json.h"
#include "metrics.h"
#include "object_store.h"
#include "random.h"
#include "tier.h"
#include "tier_log.h"
#include "tsv_log.h"
#include "tsv_time.h"
#include "vformat.h"

#define CHECKPOINT_NAME_LEN 20
#define MARK_BATCH 64
#define MAX_JSON (64 * 1024)
#define SIZE_UNKNOWN UINT64_MAX /* the connections' catalogue lists names only */

/* The files of a checkpoint: scratch name (tier.h) and key in S3. The
 * connections' catalogue and the staged files' records are optional (a
 * server without them, or a checkpoint from before they were copied). */
enum {
    PART_CATALOG,
    PART_KV,
    PART_CONNECTIONS,
    PART_FILES,
    N_PARTS
};
static const struct {
    const char *scratch, *key;
    int required;
} parts[N_PARTS] = {{"catalog", "catalog.mdb", 1},
                    {"kv", "kv.mdb", 1},
                    {"connections", "connections.db", 0},
                    {"files", "files.json", 0}};

typedef struct manifest {
    uint64_t gen;
    int has[N_PARTS];
    char sha[N_PARTS][65];
    int has_log; /* "log": where its log segments start */
    tsv_tier_logpos log;
} manifest;

struct tsv_tier {
    tsv_store *store;
    tsv_tier_state *state;
    tsv_s3 *s3;
    char bucket[64];
    char prefix[512];
    char data_dir[PATH_MAX];
    char host[256];
    int concurrency;
    int64_t interval_ns, ttl_ns, evict_ns, gc_ns;
    int64_t last_gc_ns;
    int keep;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    /* thread-owned */
    int lease_lost;
    int64_t lease_renew_at;
    int have_checkpoint;
    tsv_tier_change last_change;
    tsv_tier_change log_change; /* covered by the shipped log */
    uint64_t last_conns_changes;
    tsv_conns *conns; /* NULL: no connections to copy */
    tsv_files *files; /* NULL: no staged files to copy */
    uint64_t last_files_digest;
    int64_t last_checkpoint_ns;
    /* The log between checkpoints (storage/tier_log.h). */
    int64_t log_ns, last_log_ns; /* log_ns 0: no log */
    char cp_name[CHECKPOINT_NAME_LEN + 1];
    tsv_tier_logpos cp_pos;                       /* the newest complete checkpoint's log start */
    tsv_tier_logpos log_pos;                      /* where the shipped log ends */
    uint64_t log_n;                               /* segments shipped after cp_name */
    uint64_t log_conns_changes, log_files_digest; /* as last shipped */
    int log_stale;                                /* the generation changed: a checkpoint first */
    atomic_int checkpoint_wanted;                 /* verify found a damaged segment */
    /* The last scan of the local objects that left nothing pending: what the
     * databases were when it began, and when. No write since, no scan before
     * OBJECT_RESCAN_NS (the scan's work grows with the store). */
    atomic_int scanned_clean; /* 0: scan at the next round (verify forgot a copy) */
    tsv_tier_change scan_change;
    uint64_t scan_conns_changes;
    int64_t scan_ns;
    int failures;
    char last_error[512];
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- metrics ---------------------------------------------------------- */

static void gauge(const char *name, const char *help, double v)
{
    tsv_metric_set(tsv_metrics_family(TSV_METRIC_GAUGE, name, help, NULL, NULL, 0), NULL, v);
}

static void count(const char *name, const char *help, const char *result, uint64_t n)
{
    static const char *const labels[] = {"result", NULL};
    const char *values[] = {result};
    tsv_metric_add(tsv_metrics_family(TSV_METRIC_COUNTER, name, help, labels, NULL, 0), values, n);
}

#define M_PENDING "tsvault_s3_pending_objects"
#define M_PENDING_H "vault objects not yet copied to the object store"
#define M_PENDING_B "tsvault_s3_pending_bytes"
#define M_PENDING_BH "bytes of the objects not yet copied to the object store"
#define M_LAG "tsvault_s3_lag_seconds"
#define M_LAG_H "age of the oldest object not yet copied to the object store (0: none)"
#define M_BEHIND "tsvault_s3_checkpoint_behind"
#define M_BEHIND_H                                                                                 \
    "1 while a change is covered by neither the last checkpoint nor a log segment in the object "  \
    "store"
#define M_CP_TIME "tsvault_s3_last_checkpoint_timestamp_seconds"
#define M_CP_TIME_H "when the newest checkpoint was completed in the object store (Unix time)"
#define M_LEASE "tsvault_s3_lease_held"
#define M_LEASE_H "1 while this server holds the object store prefix's lease"
#define M_OBJECTS "tsvault_s3_objects_copied_total"
#define M_OBJECTS_H "objects copied to the object store (result: uploaded, present, failed)"
#define M_BYTES "tsvault_s3_uploaded_bytes_total"
#define M_BYTES_H "bytes uploaded to the object store (objects and checkpoints)"
#define M_CPS "tsvault_s3_checkpoints_total"
#define M_CPS_H "checkpoints written to the object store (result: ok, failed)"
#define M_SEGMENTS "tsvault_s3_log_segments_total"
#define M_SEGMENTS_H                                                                               \
    "log segments written to the object store between checkpoints (result: ok, failed)"
#define M_SEG_RECORDS "tsvault_s3_log_records_total"
#define M_SEG_RECORDS_H "catalogue, job and KV change records shipped in log segments"
#define M_ROUNDS "tsvault_s3_rounds_total"
#define M_ROUNDS_H "copy rounds finished (result: ok, failed); the gauges are as of the last one"
#define M_SCANS "tsvault_s3_object_scans_total"
#define M_SCANS_H                                                                                  \
    "scans of the local objects for ones not yet copied (after a change, at least once a minute)"
#define M_EVICTED "tsvault_s3_evicted_objects_total"
#define M_EVICTED_H "local copies of objects deleted because the object store holds them"
#define M_GC "tsvault_s3_deleted_objects_total"
#define M_GC_H                                                                                     \
    "objects deleted from the object store: no kept checkpoint lists them and the local GC "       \
    "removed them"
#define M_FETCHED "tsvault_s3_fetched_objects_total"
#define M_FETCHED_H "evicted objects fetched back from the object store (result: ok, failed)"

/* ---- keys and small JSON objects ------------------------------------- */

int tsv_tier_url_parse(const char *url, char *bucket, size_t bucket_len, char *prefix,
                       size_t prefix_len, tsv_error *err)
{
    if (!url || strncmp(url, "s3://", 5) != 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "object store \"%s\": expected s3://bucket[/prefix]", url ? url : "");
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (bl < 3 || bl > 63 || bl >= bucket_len)
        return tsv_error_set(err, TSV_EINVALID,
                             "object store \"%s\": the bucket name must be 3-63 characters", url);
    memcpy(bucket, b, bl);
    bucket[bl] = '\0';
    const char *p = slash ? slash + 1 : "";
    size_t pl = strlen(p);
    while (pl > 0 && p[pl - 1] == '/')
        pl--;
    if (pl >= prefix_len)
        /* Without the URL: it would crowd the reason out of the message. */
        return tsv_error_set(err, TSV_EINVALID,
                             "object store prefix too long (%zu bytes, at most %zu)", pl,
                             prefix_len - 1);
    /* Only within the prefix: trailing slashes were dropped above. */
    for (size_t i = 0; i < pl; i++)
        if (p[i] == '/' && (i == 0 || p[i - 1] == '/'))
            return tsv_error_set(err, TSV_EINVALID,
                                 "object store \"%s\": empty path segment in the prefix", url);
    memcpy(prefix, p, pl);
    prefix[pl] = '\0';
    return 0;
}

static int key_of(char *out, size_t len, const char *prefix, tsv_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int key_of(char *out, size_t len, const char *prefix, tsv_error *err, const char *fmt, ...)
{
    int n = snprintf(out, len, "%s%s", prefix, prefix[0] ? "/" : "");
    if (n < 0 || (size_t)n >= len)
        return tsv_error_set(err, TSV_EINVALID, "object key too long");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(out + n, len - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)m >= len - (size_t)n)
        return tsv_error_set(err, TSV_EINVALID, "object key too long");
    return 0;
}

static int write_fd_all(int fd, const void *p, size_t n, tsv_error *err)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "write");
        off += (size_t)w;
    }
    return 0;
}

/* A small object (JSON) through an in-memory file: the S3 client streams
 * from and to file descriptors. */
static int put_bytes(tsv_s3 *s3, const char *bucket, const char *key, const void *p, size_t n,
                     tsv_error *err)
{
    int fd = memfd_create("tsv-s3-put", MFD_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "memfd_create");
    int rc = write_fd_all(fd, p, n, err);
    if (rc == 0)
        rc = tsv_s3_put_file(s3, bucket, key, fd, NULL, err);
    close(fd);
    return rc;
}

static int get_bytes(tsv_s3 *s3, const char *bucket, const char *key, char **out, size_t *len,
                     tsv_error *err)
{
    int fd = memfd_create("tsv-s3-get", MFD_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "memfd_create");
    tsv_s3_object info;
    int rc = tsv_s3_get(s3, bucket, key, fd, &info, err);
    if (rc == 0 && info.size > MAX_JSON)
        rc = tsv_error_set(err, TSV_EINVALID, "%s/%s: %" PRIu64 " bytes, not a tsvault record",
                           bucket, key, info.size);
    char *buf = NULL;
    if (rc == 0 && !(buf = malloc(info.size + 1)))
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (rc == 0 && pread(fd, buf, info.size, 0) != (ssize_t)info.size)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read memfd");
    close(fd);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    buf[info.size] = '\0';
    *out = buf;
    *len = info.size;
    return 0;
}

/* One download into a file, checked against the SHA-256 it must have. */
typedef struct download {
    tsv_s3 *s3;
    const char *bucket;
    const char *key;
    const char *want_sha256;
    const char *want_what; /* "its name", "the manifest" */
    tsv_s3_object info;
} download;

static int download_fill(void *ctx, int fd, tsv_error *err)
{
    download *d = ctx;
    if (tsv_s3_get(d->s3, d->bucket, d->key, fd, &d->info, err) != 0)
        return -1;
    if (strcmp(d->info.sha256, d->want_sha256) != 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "%s/%s: SHA-256 %s does not match %s (%s): altered or not written "
                             "by tsvault",
                             d->bucket, d->key, d->info.sha256[0] ? d->info.sha256 : "unknown",
                             d->want_what, d->want_sha256);
    return 0;
}

static int manifest_parse(const char *text, size_t len, manifest *m, tsv_error *err);

/* ---- the lease -------------------------------------------------------- */

typedef struct lease {
    char owner[64];
    char host[256];
    int64_t expires_ns;
} lease;

/* *found = 0 when there is no lease object. */
static int lease_read(tsv_s3 *s3, const char *bucket, const char *prefix, lease *l, int *found,
                      tsv_error *err)
{
    char key[1024];
    char *text = NULL;
    size_t len = 0;
    memset(l, 0, sizeof *l);
    *found = 0;
    if (key_of(key, sizeof key, prefix, err, "lease.json") != 0)
        return -1;
    if (get_bytes(s3, bucket, key, &text, &len, err) != 0) {
        if (err->code == TSV_ENOTFOUND)
            return 0;
        return -1;
    }
    tsv_json_doc *doc = NULL;
    int rc = tsv_json_parse(&doc, text, len, err);
    free(text);
    if (rc != 0)
        return tsv_error_wrap(err, "%s/%s", bucket, key);
    const tsv_json *root = tsv_json_root(doc);
    const char *owner = NULL, *host = NULL;
    size_t ol = 0, hl = 0;
    if (tsv_json_string(tsv_json_get(root, "owner"), &owner, &ol, "owner", err) != 0 ||
        tsv_json_i64(tsv_json_get(root, "expiresNs"), &l->expires_ns, "expiresNs", err) != 0) {
        tsv_json_free(doc);
        return tsv_error_wrap(err, "lease %s/%s", bucket, key);
    }
    if (tsv_json_string(tsv_json_get(root, "host"), &host, &hl, "host", err) != 0) {
        host = "?";
        hl = 1;
    }
    snprintf(l->owner, sizeof l->owner, "%.*s", (int)ol, owner);
    snprintf(l->host, sizeof l->host, "%.*s", (int)hl, host);
    tsv_json_free(doc);
    *found = 1;
    return 0;
}

static int lease_write(tsv_tier *t, int64_t expires_ns, tsv_error *err)
{
    char key[1024];
    if (key_of(key, sizeof key, t->prefix, err, "lease.json") != 0)
        return -1;
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    char when[64];
    tsv_format_rfc3339nano(expires_ns, when, sizeof when);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "owner", tsv_tier_state_id(t->state));
    tsv_jw_field_string(&w, "host", t->host);
    tsv_jw_field_i64(&w, "pid", (int64_t)getpid());
    tsv_jw_field_string(&w, "dataDir", t->data_dir);
    tsv_jw_field_string(&w, "expires", when);
    tsv_jw_field_i64(&w, "expiresNs", expires_ns);
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);
    if (rc == 0)
        rc = put_bytes(t->s3, t->bucket, key, b.data, b.len, err);
    tsv_buf_free(&b);
    return rc;
}

static int lease_conflict(const char *bucket, const char *prefix, const lease *l, tsv_error *err)
{
    char when[64];
    tsv_format_rfc3339nano(l->expires_ns, when, sizeof when);
    return tsv_error_set(err, TSV_ECONFLICT,
                         "s3://%s/%s is in use by another tsvault (owner %s on host %s, lease "
                         "valid until %s): two servers must never write one prefix; stop the "
                         "other server (its lease is released) or wait until its lease expires",
                         bucket, prefix, l->owner, l->host, when);
}

/* Takes or renews the lease. *lost = 1 if another owner holds it. */
static int lease_take(tsv_tier *t, int *lost, tsv_error *err)
{
    lease l;
    int found;
    *lost = 0;
    if (lease_read(t->s3, t->bucket, t->prefix, &l, &found, err) != 0)
        return -1;
    int64_t now = now_ns();
    if (found && strcmp(l.owner, tsv_tier_state_id(t->state)) != 0 && l.expires_ns > now) {
        *lost = 1;
        return lease_conflict(t->bucket, t->prefix, &l, err);
    }
    if (lease_write(t, now + t->ttl_ns, err) != 0)
        return -1;
    t->lease_renew_at = now + t->ttl_ns / 3;
    return 0;
}

/* ---- copying objects -------------------------------------------------- */

typedef struct copy_pool {
    tsv_tier *t;
    const tsv_tier_object *objs;
    size_t n;
    atomic_size_t next;
    pthread_mutex_t mu;
    tsv_tier_object batch[MARK_BATCH];
    size_t n_batch;
    size_t copied, failed;
    tsv_error first_err;
} copy_pool;

static int copy_object_key(tsv_tier *t, const char *hex, char *key, size_t len, tsv_error *err)
{
    return key_of(key, len, t->prefix, err, "objects/%.2s/%s", hex, hex);
}

/* A local object, from the vault or the connections' store. */
static int object_open(tsv_tier *t, const char *hex, int *fd, uint64_t *size, tsv_error *err)
{
    if (tsv_store_object_open(t->store, hex, fd, size, err) == 0)
        return 0;
    if (err->code != TSV_ENOTFOUND || !t->conns)
        return -1;
    return tsv_objstore_local_open(tsv_conns_objects(t->conns), hex, fd, size, err);
}

/* Uploads one object unless the store has it already (same SHA-256).
 * *gone = 1 if the local object no longer exists (collected). */
static int copy_one(tsv_tier *t, const char *hex, int *gone, tsv_error *err)
{
    char key[1024];
    *gone = 0;
    if (copy_object_key(t, hex, key, sizeof key, err) != 0)
        return -1;
    tsv_s3_object info;
    if (tsv_s3_head(t->s3, t->bucket, key, &info, err) == 0) {
        if (strcmp(info.sha256, hex) == 0) {
            count(M_OBJECTS, M_OBJECTS_H, "present", 1);
            return 0;
        }
    } else if (err->code != TSV_ENOTFOUND) {
        return -1;
    }
    int fd;
    uint64_t size;
    if (object_open(t, hex, &fd, &size, err) != 0) {
        if (err->code == TSV_ENOTFOUND)
            *gone = 1;
        return -1;
    }
    int rc = tsv_s3_put_file(t->s3, t->bucket, key, fd, &info, err);
    close(fd);
    if (rc != 0)
        return -1;
    if (strcmp(info.sha256, hex) != 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "object %s changed while it was uploaded (SHA-256 %s): not recorded",
                             hex, info.sha256);
    count(M_OBJECTS, M_OBJECTS_H, "uploaded", 1);
    tsv_metric_add(tsv_metrics_family(TSV_METRIC_COUNTER, M_BYTES, M_BYTES_H, NULL, NULL, 0), NULL,
                   size);
    return 0;
}

static void pool_flush(copy_pool *p)
{
    tsv_error err;
    if (p->n_batch && tsv_tier_mark_copied(p->t->state, p->batch, p->n_batch, &err) != 0) {
        TSV_WARN("msg=\"could not record copied objects (they will be checked again)\" "
                 "error=\"%s\"",
                 err.message);
    }
    p->n_batch = 0;
}

static void *pool_worker(void *arg)
{
    copy_pool *p = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        tsv_error err;
        int gone = 0;
        int rc = copy_one(p->t, p->objs[i].hex, &gone, &err);
        pthread_mutex_lock(&p->mu);
        if (rc == 0) {
            p->batch[p->n_batch++] = p->objs[i];
            p->copied++;
            if (p->n_batch == MARK_BATCH)
                pool_flush(p);
        } else if (!gone) {
            if (p->failed++ == 0)
                p->first_err = err;
            count(M_OBJECTS, M_OBJECTS_H, "failed", 1);
        }
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* Copies objs with t->concurrency threads; -1 with the first error if any
 * failed (the others are recorded). */
static int copy_objects(tsv_tier *t, const tsv_tier_object *objs, size_t n, tsv_error *err)
{
    if (n == 0)
        return 0;
    copy_pool p = {.t = t, .objs = objs, .n = n};
    atomic_init(&p.next, 0);
    pthread_mutex_init(&p.mu, NULL);
    int nt = t->concurrency < (int)n ? t->concurrency : (int)n;
    pthread_t th[64];
    int started = 0;
    for (; started < nt; started++) {
        if (pthread_create(&th[started], NULL, pool_worker, &p) != 0)
            break;
    }
    if (started == 0)
        pool_worker(&p);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pool_flush(&p);
    pthread_mutex_destroy(&p.mu);
    if (p.failed) {
        *err = p.first_err;
        return tsv_error_wrap(err, "%zu of %zu objects not copied", p.failed, n);
    }
    return 0;
}

/* ---- checkpoints ------------------------------------------------------ */

typedef struct cp_objects {
    tsv_tier *t;
    tsv_tier_object *missing;
    size_t n, cap;
    uint64_t objects, bytes;
} cp_objects;

/* Appends one object to c->missing. */
static int objects_append(cp_objects *c, const char *hex, uint64_t size, tsv_error *err)
{
    if (TSV_ARRAY_GROW(c->missing, c->n, c->cap, err) != 0)
        return -1;
    memcpy(c->missing[c->n].hex, hex, 65);
    c->missing[c->n].size = size;
    c->missing[c->n].mtime_ns = 0;
    c->n++;
    return 0;
}

static int cp_object_fn(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    cp_objects *c = ctx;
    c->objects++;
    c->bytes += size == SIZE_UNKNOWN ? 0 : size;
    int copied = 0;
    if (c->t && tsv_tier_is_copied(c->t->state, hex, &copied, err) != 0)
        return -1;
    if (copied)
        return 0;
    return objects_append(c, hex, size, err);
}

typedef struct cp_name {
    char name[CHECKPOINT_NAME_LEN + 1];
    int complete;
} cp_name;

typedef struct cp_list {
    const char *base; /* "<prefix>/checkpoints/" */
    size_t base_len;
    cp_name *v;
    size_t n, cap;
} cp_list;

static int cp_list_fn(const tsv_s3_entry *e, void *ud, tsv_error *err)
{
    cp_list *l = ud;
    if (strncmp(e->key, l->base, l->base_len) != 0)
        return 0;
    const char *rest = e->key + l->base_len, *slash = strchr(rest, '/');
    if (!slash || slash - rest != CHECKPOINT_NAME_LEN)
        return 0;
    size_t i = 0;
    for (; i < l->n; i++)
        if (strncmp(l->v[i].name, rest, CHECKPOINT_NAME_LEN) == 0)
            break;
    if (i == l->n) {
        if (TSV_ARRAY_GROW(l->v, l->n, l->cap, err) != 0)
            return -1;
        memcpy(l->v[i].name, rest, CHECKPOINT_NAME_LEN);
        l->v[i].name[CHECKPOINT_NAME_LEN] = '\0';
        l->v[i].complete = 0;
        l->n++;
    }
    if (strcmp(slash + 1, "manifest.json") == 0)
        l->v[i].complete = 1;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const cp_name *)a)->name, ((const cp_name *)b)->name);
}

/* Checkpoint names under the prefix, oldest first. */
static int cp_list_load(tsv_s3 *s3, const char *bucket, const char *prefix, cp_list *l, char *base,
                        size_t base_len, tsv_error *err)
{
    memset(l, 0, sizeof *l);
    if (key_of(base, base_len, prefix, err, "checkpoints/") != 0)
        return -1;
    l->base = base;
    l->base_len = strlen(base);
    if (tsv_s3_list(s3, bucket, base, cp_list_fn, l, err) != 0) {
        free(l->v);
        l->v = NULL;
        return -1;
    }
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, by_name);
    return 0;
}

static int cp_delete_fn(const tsv_s3_entry *e, void *ud, tsv_error *err)
{
    tsv_tier *t = ud;
    return tsv_s3_delete(t->s3, t->bucket, e->key, err);
}

/* Keeps the newest t->keep complete checkpoints; drops older ones and
 * incomplete ones older than the newest complete one. Failures only delay
 * the pruning. */
static void cp_prune(tsv_tier *t)
{
    tsv_error err;
    char base[1024];
    cp_list l;
    if (cp_list_load(t->s3, t->bucket, t->prefix, &l, base, sizeof base, &err) != 0) {
        TSV_WARN("msg=\"could not list checkpoints to prune them\" error=\"%s\"", err.message);
        return;
    }
    size_t complete = 0;
    for (size_t i = l.n; i-- > 0;) {
        int drop = l.v[i].complete ? complete >= (size_t)t->keep : complete > 0;
        if (l.v[i].complete)
            complete++;
        if (!drop)
            continue;
        char dir[1100];
        snprintf(dir, sizeof dir, "%s%s/", base, l.v[i].name);
        /* The manifest first: a checkpoint is never complete with parts
         * missing. */
        char manifest[1200];
        snprintf(manifest, sizeof manifest, "%smanifest.json", dir);
        if (tsv_s3_delete(t->s3, t->bucket, manifest, &err) != 0 ||
            tsv_s3_list(t->s3, t->bucket, dir, cp_delete_fn, t, &err) != 0) {
            TSV_WARN("msg=\"could not delete an old checkpoint\" checkpoint=%s error=\"%s\"",
                     l.v[i].name, err.message);
            break;
        }
        TSV_INFO("msg=\"old checkpoint deleted from the object store\" checkpoint=%s", l.v[i].name);
    }
    free(l.v);
}

static int upload_file(tsv_tier *t, const char *scratch, const char *name, const char *key,
                       tsv_s3_object *info, tsv_error *err)
{
    int fd;
    if (tsv_tier_scratch_open(scratch, name, &fd, err) != 0)
        return -1;
    int rc = tsv_s3_put_file(t->s3, t->bucket, key, fd, info, err);
    close(fd);
    if (rc == 0)
        tsv_metric_add(tsv_metrics_family(TSV_METRIC_COUNTER, M_BYTES, M_BYTES_H, NULL, NULL, 0),
                       NULL, info->size);
    return rc;
}

/* Every object the connections catalogue in scratch/connections lists
 * (sizes unknown: 0). */
static int conns_list(const char *scratch, cp_objects *objs, tsv_error *err);
static int files_objects(const char *scratch, cp_objects *objs, tsv_error *err);
static int collect_fn(void *ctx, const char *hex, uint64_t size, tsv_error *err);

typedef struct conns_obj_ctx {
    cp_objects *objs;
    tsv_error *err;
} conns_obj_ctx;

static int conns_obj_fn(void *ctx, const char *hex, tsv_error *err)
{
    return cp_object_fn(((conns_obj_ctx *)ctx)->objs, hex, SIZE_UNKNOWN, err);
}

/* The connections' objects the checkpoint's connections catalogue lists. */
static int conns_objects(const char *scratch, cp_objects *objs, tsv_error *err)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/connections", scratch);
    tsv_conn_catalog *cat;
    if (tsv_conn_catalog_open(&cat, dir, err) != 0)
        return -1;
    conns_obj_ctx c = {objs, err};
    int rc = tsv_conn_catalog_objects(cat, conns_obj_fn, &c, err);
    tsv_conn_catalog_close(cat);
    return rc;
}

static int conns_list(const char *scratch, cp_objects *objs, tsv_error *err)
{
    return conns_objects(scratch, objs, err);
}

static int by_object_hex(const void *a, const void *b);
static void cp_unique(cp_objects *c);

/* What the S3 garbage collection keeps: every object a kept checkpoint
 * lists (sorted, unique). */
typedef struct gc_ctx {
    tsv_tier *t;
    const cp_objects *keep;
    size_t base_len; /* of "<prefix>/objects/" */
    uint64_t deleted, bytes;
} gc_ctx;

static int gc_entry(const tsv_s3_entry *e, void *ud, tsv_error *err)
{
    gc_ctx *g = ud;
    const char *name = strrchr(e->key, '/');
    name = name ? name + 1 : e->key;
    if (!tsv_object_hex_valid(name))
        return 0;
    tsv_tier_object probe;
    memcpy(probe.hex, name, 65);
    probe.size = 0;
    if (bsearch(&probe, g->keep->missing, g->keep->n, sizeof probe, by_object_hex))
        return 0;
    /* Still on local disk: an operation stored it and has not committed
     * yet, or the local GC has not come to it: not garbage yet. */
    int fd;
    tsv_error e2;
    if (object_open(g->t, name, &fd, NULL, &e2) == 0) {
        close(fd);
        return 0;
    }
    if (e2.code != TSV_ENOTFOUND)
        return 0;
    /* Forgotten first: if the delete then fails, the next copy round
     * only finds it present again. */
    if (tsv_tier_forget(g->t->state, name, err) != 0 ||
        tsv_s3_delete(g->t->s3, g->t->bucket, e->key, err) != 0)
        return -1;
    g->deleted++;
    g->bytes += e->size;
    return 0;
}

/* Deletes from S3 the objects that no kept checkpoint lists and that are
 * gone from local disk (the local GC collected them): after the checkpoints
 * that listed them were pruned, nothing can ask for them. */
static int s3_gc(tsv_tier *t, tsv_error *err)
{
    char base[1024], key[1200], scratch[PATH_MAX] = "", cat[PATH_MAX + 16];
    cp_list l;
    cp_objects keep = {.t = NULL};
    int rc = -1;
    if (cp_list_load(t->s3, t->bucket, t->prefix, &l, base, sizeof base, err) != 0)
        return -1;
    for (size_t i = 0; i < l.n; i++) {
        if (!l.v[i].complete)
            continue;
        char *mtext = NULL;
        size_t mlen = 0;
        manifest m;
        if (key_of(key, sizeof key, t->prefix, err, "checkpoints/%s/manifest.json", l.v[i].name) !=
                0 ||
            get_bytes(t->s3, t->bucket, key, &mtext, &mlen, err) != 0)
            goto out;
        int pr = manifest_parse(mtext, mlen, &m, err);
        free(mtext);
        if (pr != 0 ||
            tsv_tier_scratch_create(t->data_dir, "tier-gc", scratch, sizeof scratch, err) != 0)
            goto out;
        for (int p = 0; p < N_PARTS; p++) {
            if (!m.has[p] || p == PART_KV)
                continue;
            if (key_of(key, sizeof key, t->prefix, err, "checkpoints/%s/%s", l.v[i].name,
                       parts[p].key) != 0)
                goto out;
            download d = {t->s3, t->bucket, key, m.sha[p], "the manifest", {0}};
            if (tsv_tier_scratch_fill(scratch, parts[p].scratch, download_fill, &d, err) != 0)
                goto out;
        }
        snprintf(cat, sizeof cat, "%s/catalog", scratch);
        if (tsv_tier_catalog_objects(cat, 0, collect_fn, &keep, err) != 0 ||
            (m.has[PART_CONNECTIONS] && conns_list(scratch, &keep, err) != 0) ||
            (m.has[PART_FILES] && files_objects(scratch, &keep, err) != 0))
            goto out;
        tsv_tier_scratch_remove(scratch);
        scratch[0] = '\0';
    }
    cp_unique(&keep);
    gc_ctx g = {t, &keep, 0, 0, 0};
    if (key_of(key, sizeof key, t->prefix, err, "objects/") != 0 ||
        tsv_s3_list(t->s3, t->bucket, key, gc_entry, &g, err) != 0)
        goto out;
    if (g.deleted) {
        tsv_metric_add(tsv_metrics_family(TSV_METRIC_COUNTER, M_GC, M_GC_H, NULL, NULL, 0), NULL,
                       g.deleted);
        TSV_INFO("msg=\"object store: unreferenced objects deleted\" objects=%" PRIu64
                 " bytes=%" PRIu64 " kept_checkpoints_list=%zu",
                 g.deleted, g.bytes, keep.n);
    }
    rc = 0;
out:
    tsv_tier_scratch_remove(scratch);
    free(keep.missing);
    free(l.v);
    return rc;
}

/* ---- staged files (Files API) ------------------------------------------ */

typedef struct files_ctx {
    tsv_file_info *v;
    size_t n, cap;
} files_ctx;

static int files_collect(void *ctx, const tsv_file_info *info, tsv_error *err)
{
    files_ctx *f = ctx;
    if (TSV_ARRAY_GROW(f->v, f->n, f->cap, err) != 0)
        return -1;
    f->v[f->n++] = *info;
    return 0;
}

/* The staged files in one number (FNV-1a of names and IDs): a change
 * means a new checkpoint. */
static uint64_t files_hash(const files_ctx *f)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < f->n; i++) {
        for (const char *p = f->v[i].name; *p; p++)
            h = (h ^ (uint8_t)*p) * 1099511628211ULL;
        for (const char *p = f->v[i].id; *p; p++)
            h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    }
    return h ^ f->n;
}

static uint64_t files_digest(tsv_tier *t)
{
    if (!t->files)
        return 0;
    files_ctx f = {0};
    tsv_error e;
    uint64_t h = tsv_files_list(t->files, files_collect, &f, &e) == 0 ? files_hash(&f) : 0;
    free(f.v);
    return h;
}

static int buf_fill(void *ctx, int fd, tsv_error *err)
{
    const tsv_buf *b = ctx;
    return write_fd_all(fd, b->data, b->len, err);
}

/* files.json: the records of the staged files, and each file's bytes as
 * the object named by its SHA-256 (uploaded now unless copied). */
static int checkpoint_files(tsv_tier *t, const char *scratch, uint64_t *digest, tsv_error *err)
{
    files_ctx f = {0};
    tsv_buf b = {0};
    int rc = tsv_files_list(t->files, files_collect, &f, err);
    uint64_t h = files_hash(&f);
    for (size_t i = 0; rc == 0 && i < f.n; i++) {
        int copied = 0;
        if (tsv_tier_is_copied(t->state, f.v[i].sha256, &copied, err) != 0) {
            rc = -1;
            break;
        }
        if (copied)
            continue;
        char path[PATH_MAX], key[1024];
        if (tsv_files_path(t->files, f.v[i].name, path, sizeof path, err) != 0 ||
            copy_object_key(t, f.v[i].sha256, key, sizeof key, err) != 0) {
            rc = -1;
            break;
        }
        tsv_tier_object o = {.size = f.v[i].size};
        memcpy(o.hex, f.v[i].sha256, 65);
        tsv_s3_object have;
        int hr = tsv_s3_head(t->s3, t->bucket, key, &have, err);
        if (hr == 0 && strcmp(have.sha256, f.v[i].sha256) == 0) {
            rc = tsv_tier_mark_copied(t->state, &o, 1, err);
            continue;
        }
        if (hr != 0 && err->code != TSV_ENOTFOUND) {
            rc = -1;
            break;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue; /* deleted meanwhile: the next checkpoint will not list it */
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
            break;
        }
        tsv_s3_object info;
        rc = tsv_s3_put_file(t->s3, t->bucket, key, fd, &info, err);
        close(fd);
        if (rc == 0 && strcmp(info.sha256, f.v[i].sha256) != 0)
            rc = tsv_error_set(err, TSV_EINVALID,
                               "staged file \"%s\" does not hash to its record's SHA-256",
                               f.v[i].name);
        if (rc == 0)
            rc = tsv_tier_mark_copied(t->state, &o, 1, err);
    }
    tsv_json_writer w;
    tsv_jw_init(&w, &b, "\t");
    tsv_jw_array_begin(&w);
    for (size_t i = 0; rc == 0 && i < f.n; i++) {
        tsv_jw_object_begin(&w);
        tsv_jw_field_string(&w, "id", f.v[i].id);
        tsv_jw_field_string(&w, "name", f.v[i].name);
        tsv_jw_field_u64(&w, "sizeBytes", f.v[i].size);
        tsv_jw_field_string(&w, "md5", f.v[i].md5);
        tsv_jw_field_string(&w, "sha256", f.v[i].sha256);
        tsv_jw_field_string(&w, "uploadedByUserId", f.v[i].user_id);
        tsv_jw_field_i64(&w, "uploadedNs", f.v[i].uploaded_ns);
        tsv_jw_object_end(&w);
    }
    tsv_jw_array_end(&w);
    if (rc == 0)
        rc = tsv_jw_finish(&w, err);
    if (rc == 0)
        rc = tsv_tier_scratch_fill(scratch, "files", buf_fill, &b, err);
    tsv_buf_free(&b);
    free(f.v);
    *digest = h;
    return rc;
}

/* The records of a checkpoint's files.json (in scratch). */
static int files_json_load(const char *scratch, files_ctx *out, tsv_error *err)
{
    int fd;
    if (tsv_tier_scratch_open(scratch, "files", &fd, err) != 0)
        return -1;
    tsv_buf b = {0};
    char chunk[65536];
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read files.json");
            break;
        }
        if (r == 0)
            break;
        if (b.len + (size_t)r > 64u * 1024 * 1024) {
            rc = tsv_error_set(err, TSV_EINVALID, "files.json over 64 MiB");
            break;
        }
        if ((rc = tsv_buf_append(&b, chunk, (size_t)r, err)) != 0)
            break;
    }
    close(fd);
    tsv_json_doc *doc = NULL;
    if (rc == 0)
        rc = tsv_json_parse(&doc, b.len ? (const char *)b.data : "[]", b.len ? b.len : 2, err);
    tsv_buf_free(&b);
    const tsv_json *root = rc == 0 ? tsv_json_root(doc) : NULL;
    if (rc == 0 && root->type != TSV_JSON_ARRAY)
        rc = tsv_error_set(err, TSV_EINVALID, "files.json is not an array");
    for (size_t i = 0; rc == 0 && i < root->count; i++) {
        const tsv_json *o = root->items[i];
        tsv_file_info fi;
        memset(&fi, 0, sizeof fi);
        const char *sv;
        size_t sl;
        static const struct {
            const char *key;
            size_t off, cap;
        } strs[] = {{"id", offsetof(tsv_file_info, id), sizeof fi.id},
                    {"name", offsetof(tsv_file_info, name), sizeof fi.name},
                    {"md5", offsetof(tsv_file_info, md5), sizeof fi.md5},
                    {"sha256", offsetof(tsv_file_info, sha256), sizeof fi.sha256},
                    {"uploadedByUserId", offsetof(tsv_file_info, user_id), sizeof fi.user_id}};
        for (size_t k = 0; rc == 0 && k < sizeof strs / sizeof strs[0]; k++) {
            if (tsv_json_string(tsv_json_get(o, strs[k].key), &sv, &sl, strs[k].key, err) != 0)
                rc = -1;
            else if (sl >= strs[k].cap)
                rc = tsv_error_set(err, TSV_EINVALID, "files.json: %s too long", strs[k].key);
            else
                snprintf((char *)&fi + strs[k].off, strs[k].cap, "%.*s", (int)sl, sv);
        }
        if (rc == 0 &&
            (tsv_json_u64(tsv_json_get(o, "sizeBytes"), &fi.size, "sizeBytes", err) != 0 ||
             tsv_json_i64(tsv_json_get(o, "uploadedNs"), &fi.uploaded_ns, "uploadedNs", err) != 0))
            rc = -1;
        if (rc == 0 && !tsv_object_hex_valid(fi.sha256))
            rc = tsv_error_set(err, TSV_EINVALID, "files.json: bad sha256 of \"%s\"", fi.name);
        if (rc == 0)
            rc = files_collect(out, &fi, err);
    }
    tsv_json_free(doc);
    return rc;
}

/* Adds the objects of a checkpoint's staged files (scratch/files) to objs. */
static int files_objects(const char *scratch, cp_objects *objs, tsv_error *err)
{
    files_ctx f = {0};
    int rc = files_json_load(scratch, &f, err);
    for (size_t i = 0; rc == 0 && i < f.n; i++)
        rc = collect_fn(objs, f.v[i].sha256, f.v[i].size, err);
    free(f.v);
    return rc;
}

static int checkpoint(tsv_tier *t, tsv_error *err)
{
    char dir[PATH_MAX], cat[PATH_MAX + 16], key[1200];
    if (tsv_tier_scratch_create(t->data_dir, "tier-checkpoint", dir, sizeof dir, err) != 0)
        return -1;
    snprintf(cat, sizeof cat, "%s/catalog", dir);
    int64_t taken = now_ns();
    tsv_tier_change ch;
    cp_objects objs = {.t = t};
    tsv_buf b = {0};
    int rc = -1;
    uint64_t conns_changes = t->conns ? tsv_conn_catalog_changes(tsv_conns_catalog(t->conns)) : 0;
    if (tsv_tier_checkpoint(t->store, dir, t->have_checkpoint ? &t->cp_pos : NULL, &ch, err) != 0 ||
        (t->conns && tsv_tier_checkpoint_connections(tsv_conns_catalog(t->conns), dir, err) != 0) ||
        tsv_tier_catalog_objects(cat, 0, cp_object_fn, &objs, err) != 0 ||
        (t->conns && conns_objects(dir, &objs, err) != 0))
        goto out;
    /* Every object the checkpoint lists goes first: an object collected
     * meanwhile fails the copy, and the next round takes a new checkpoint. */
    if (copy_objects(t, objs.missing, objs.n, err) != 0) {
        tsv_error_wrap(err, "checkpoint postponed");
        goto out;
    }
    char name[CHECKPOINT_NAME_LEN + 1];
    snprintf(name, sizeof name, "%020" PRId64, taken);
    uint64_t files_dg = 0;
    if (t->files && checkpoint_files(t, dir, &files_dg, err) != 0)
        goto out;
    tsv_s3_object info[N_PARTS];
    int present[N_PARTS] = {1, 1, t->conns != NULL, t->files != NULL};
    for (int i = 0; i < N_PARTS; i++) {
        if (!present[i])
            continue;
        if (key_of(key, sizeof key, t->prefix, err, "checkpoints/%s/%s", name, parts[i].key) != 0 ||
            upload_file(t, dir, parts[i].scratch, key, &info[i], err) != 0)
            goto out;
    }
    tsv_json_writer w;
    char when[64];
    tsv_format_rfc3339nano(taken, when, sizeof when);
    char gen[17];
    snprintf(gen, sizeof gen, "%016" PRIx64, ch.gen);
    tsv_jw_init(&w, &b, "\t");
    tsv_jw_object_begin(&w);
    tsv_jw_field_i64(&w, "format", 1);
    tsv_jw_field_string(&w, "name", name);
    tsv_jw_field_string(&w, "created", when);
    tsv_jw_field_string(&w, "generation", gen);
    tsv_jw_field_string(&w, "server", tsv_tier_state_id(t->state));
    tsv_jw_field_u64(&w, "objects", objs.objects);
    tsv_jw_field_u64(&w, "objectBytes", objs.bytes);
    char pos[64];
    tsv_tier_logpos_format(&ch.pos, pos);
    tsv_jw_field_string(&w, "log", pos);
    tsv_jw_key(&w, "files");
    tsv_jw_object_begin(&w);
    for (int i = 0; i < N_PARTS; i++) {
        if (!present[i])
            continue;
        tsv_jw_key(&w, parts[i].key);
        tsv_jw_object_begin(&w);
        tsv_jw_field_u64(&w, "size", info[i].size);
        tsv_jw_field_string(&w, "sha256", info[i].sha256);
        tsv_jw_object_end(&w);
    }
    tsv_jw_object_end(&w);
    tsv_jw_object_end(&w);
    if (tsv_jw_finish(&w, err) != 0 ||
        key_of(key, sizeof key, t->prefix, err, "checkpoints/%s/manifest.json", name) != 0 ||
        put_bytes(t->s3, t->bucket, key, b.data, b.len, err) != 0)
        goto out;
    t->last_change = ch;
    t->last_conns_changes = conns_changes;
    t->last_files_digest = files_dg;
    t->have_checkpoint = 1;
    t->last_checkpoint_ns = now_ns();
    memcpy(t->cp_name, name, sizeof t->cp_name);
    t->cp_pos = t->log_pos = ch.pos;
    t->log_change = ch;
    t->log_n = 0;
    t->log_conns_changes = conns_changes;
    t->log_files_digest = files_dg;
    t->log_stale = 0;
    t->last_log_ns = t->last_checkpoint_ns;
    gauge(M_CP_TIME, M_CP_TIME_H, (double)t->last_checkpoint_ns / 1e9);
    TSV_INFO("msg=\"checkpoint written to the object store\" checkpoint=%s objects=%" PRIu64
             " object_bytes=%" PRIu64 " kv_bytes=%" PRIu64 " catalog_bytes=%" PRIu64,
             name, objs.objects, objs.bytes, info[1].size, info[0].size);
    cp_prune(t);
    if (t->gc_ns > 0 && t->last_checkpoint_ns - t->last_gc_ns >= t->gc_ns) {
        tsv_error e2;
        if (s3_gc(t, &e2) != 0)
            TSV_WARN("msg=\"object store garbage collection failed (tried again later)\" "
                     "error=\"%s\"",
                     e2.message);
        else
            t->last_gc_ns = t->last_checkpoint_ns;
    }
    rc = 0;
out:
    count(M_CPS, M_CPS_H, rc == 0 ? "ok" : "failed", 1);
    tsv_buf_free(&b);
    free(objs.missing);
    tsv_tier_scratch_remove(dir);
    return rc;
}

/* ---- the log between checkpoints ---------------------------------------- */

typedef struct seg_fill_ctx {
    tsv_tier *t;
    const char *extra;
    uint64_t n, records;
    tsv_tier_logpos to;
    cp_objects *objs;
} seg_fill_ctx;

static int seg_fill(void *ctx, int fd, tsv_error *err)
{
    seg_fill_ctx *c = ctx;
    return tsv_tier_log_write(c->t->store, &c->t->log_pos, c->t->cp_name, c->n, c->extra, fd,
                              &c->to, &c->records, cp_object_fn, c->objs, err);
}

/* A part a segment carries whole (the staged files' or the connections'
 * records): uploaded beside it, named in its extra text. */
static int seg_part(tsv_tier *t, const char *dir, uint64_t n, int part, tsv_json_writer *w,
                    tsv_error *err)
{
    char key[1200];
    tsv_s3_object info;
    if (key_of(key, sizeof key, t->prefix, err, "checkpoints/%s/log/%010" PRIu64 ".%s", t->cp_name,
               n, parts[part].key) != 0 ||
        upload_file(t, dir, parts[part].scratch, key, &info, err) != 0)
        return -1;
    tsv_jw_key(w, parts[part].key);
    tsv_jw_object_begin(w);
    tsv_jw_field_u64(w, "size", info.size);
    tsv_jw_field_string(w, "sha256", info.sha256);
    tsv_jw_object_end(w);
    return 0;
}

/* Ships what changed since the end of the shipped log as segment n+1 of
 * the newest checkpoint: every object its version records list first, the
 * segment last (a segment never names an object the store lacks). */
static int log_segment(tsv_tier *t, uint64_t conns_changes, uint64_t files_dg, tsv_error *err)
{
    char dir[PATH_MAX], key[1200];
    if (tsv_tier_scratch_create(t->data_dir, "tier-log", dir, sizeof dir, err) != 0)
        return -1;
    cp_objects objs = {.t = t};
    tsv_buf extra = {0};
    int rc = -1;
    uint64_t n = t->log_n + 1, dg = files_dg;
    int with_conns = t->conns && conns_changes != t->log_conns_changes;
    int with_files = t->files && files_dg != t->log_files_digest;
    if ((with_conns &&
         (tsv_tier_checkpoint_connections(tsv_conns_catalog(t->conns), dir, err) != 0 ||
          conns_objects(dir, &objs, err) != 0)) ||
        (with_files && checkpoint_files(t, dir, &dg, err) != 0))
        goto out;
    tsv_json_writer w;
    tsv_jw_init(&w, &extra, NULL);
    tsv_jw_object_begin(&w);
    if ((with_conns && seg_part(t, dir, n, PART_CONNECTIONS, &w, err) != 0) ||
        (with_files && seg_part(t, dir, n, PART_FILES, &w, err) != 0))
        goto out;
    tsv_jw_object_end(&w);
    if (tsv_jw_finish(&w, err) != 0 || tsv_buf_append(&extra, "", 1, err) != 0)
        goto out;
    seg_fill_ctx sc = {t, (const char *)extra.data, n, 0, {0}, &objs};
    if (tsv_tier_scratch_fill(dir, "segment", seg_fill, &sc, err) != 0) {
        if (err->code == TSV_ECONFLICT)
            t->log_stale = 1;
        goto out;
    }
    if (sc.records == 0 && !with_conns && !with_files) {
        rc = 0; /* nothing happened since the last one */
        goto out;
    }
    cp_unique(&objs);
    if (copy_objects(t, objs.missing, objs.n, err) != 0) {
        tsv_error_wrap(err, "log segment postponed");
        goto out;
    }
    tsv_s3_object info;
    if (key_of(key, sizeof key, t->prefix, err, "checkpoints/%s/log/%010" PRIu64, t->cp_name, n) !=
            0 ||
        upload_file(t, dir, "segment", key, &info, err) != 0)
        goto out;
    t->log_pos = sc.to;
    t->log_n = n;
    t->log_conns_changes = conns_changes;
    t->log_files_digest = dg;
    count(M_SEGMENTS, M_SEGMENTS_H, "ok", 1);
    tsv_metric_add(
        tsv_metrics_family(TSV_METRIC_COUNTER, M_SEG_RECORDS, M_SEG_RECORDS_H, NULL, NULL, 0), NULL,
        sc.records);
    TSV_DEBUG("msg=\"log segment written to the object store\" checkpoint=%s segment=%" PRIu64
              " records=%" PRIu64 " bytes=%" PRIu64,
              t->cp_name, n, sc.records, info.size);
    rc = 0;
out:
    if (rc != 0)
        count(M_SEGMENTS, M_SEGMENTS_H, "failed", 1);
    tsv_buf_free(&extra);
    free(objs.missing);
    tsv_tier_scratch_remove(dir);
    return rc;
}

/* ---- the thread ------------------------------------------------------- */

static int same_change(const tsv_tier_change *a, const tsv_tier_change *b)
{
    return a->kv_txn == b->kv_txn && a->catalog_txn == b->catalog_txn && a->gen == b->gen;
}

/* Even with no write seen, the local objects are scanned this often: for
 * what a change counter does not show (an object put without a record yet,
 * a copy forgotten by verify). */
#define OBJECT_RESCAN_NS (60 * 1000000000LL)

/* The objects not yet copied, oldest first (NULL, 0: none), from a scan of
 * the local objects; skipped when the last scan left nothing pending and
 * neither the catalogue, the KV nor the connections have been written
 * since (every new object comes with such a write). */
static int pending_objects(tsv_tier *t, int64_t now, tsv_tier_object **out, size_t *n,
                           tsv_error *err)
{
    *out = NULL;
    *n = 0;
    tsv_tier_change before;
    tsv_tier_change_now(t->store, &before);
    uint64_t conns_before = t->conns ? tsv_conn_catalog_changes(tsv_conns_catalog(t->conns)) : 0;
    if (atomic_load(&t->scanned_clean) && same_change(&before, &t->scan_change) &&
        conns_before == t->scan_conns_changes && now - t->scan_ns < OBJECT_RESCAN_NS)
        return 0;
    atomic_store(&t->scanned_clean, 0);
    tsv_metric_add(tsv_metrics_family(TSV_METRIC_COUNTER, M_SCANS, M_SCANS_H, NULL, NULL, 0), NULL,
                   1);
    if (tsv_tier_pending(t->store, t->state, out, n, err) != 0 ||
        (t->conns &&
         tsv_tier_pending_add(tsv_conns_objects(t->conns), t->state, out, n, err) != 0)) {
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    /* Remembered now; tier_round sets scanned_clean once the copies succeed. */
    t->scan_change = before;
    t->scan_conns_changes = conns_before;
    t->scan_ns = now;
    return 0;
}

/* One round: lease, pending objects, checkpoint. */
static int tier_round(tsv_tier *t, int final, tsv_error *err)
{
    int64_t now = now_ns();
    if (t->lease_lost)
        return tsv_error_set(err, TSV_ECONFLICT, "the lease of s3://%s/%s was taken over",
                             t->bucket, t->prefix);
    if (now >= t->lease_renew_at) {
        int lost;
        if (lease_take(t, &lost, err) != 0) {
            if (lost) {
                t->lease_lost = 1;
                gauge(M_LEASE, M_LEASE_H, 0);
                TSV_ERROR("msg=\"another server took the object store's lease: this server "
                          "stops writing to it\" error=\"%s\"",
                          err->message);
            }
            return -1;
        }
        gauge(M_LEASE, M_LEASE_H, 1);
    }
    tsv_tier_object *pending = NULL;
    size_t n = 0;
    if (pending_objects(t, now, &pending, &n, err) != 0)
        return -1;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += pending[i].size;
    gauge(M_PENDING, M_PENDING_H, (double)n);
    gauge(M_PENDING_B, M_PENDING_BH, (double)bytes);
    gauge(M_LAG, M_LAG_H, n && pending[0].mtime_ns ? (double)(now - pending[0].mtime_ns) / 1e9 : 0);
    int rc = copy_objects(t, pending, n, err);
    free(pending);
    if (rc != 0)
        return -1;
    atomic_store(&t->scanned_clean, 1); /* everything the scan found is copied */
    if (n) {
        gauge(M_PENDING, M_PENDING_H, 0);
        gauge(M_PENDING_B, M_PENDING_BH, 0);
        gauge(M_LAG, M_LAG_H, 0);
    }
    tsv_tier_change ch;
    tsv_tier_change_now(t->store, &ch);
    uint64_t conns_changes = t->conns ? tsv_conn_catalog_changes(tsv_conns_catalog(t->conns)) : 0;
    uint64_t files_dg = files_digest(t);
    int changed = !t->have_checkpoint || !same_change(&ch, &t->last_change) ||
                  conns_changes != t->last_conns_changes || files_dg != t->last_files_digest;
    /* A restore/kv or PITR swap cannot be logged record by record: it is a
     * checkpoint at once. */
    int gen_changed = t->have_checkpoint && ch.gen != t->last_change.gen;
    int behind = changed;
    int wanted = atomic_exchange(&t->checkpoint_wanted, 0);
    if (wanted)
        changed = 1;
    if (changed && (final || !t->have_checkpoint || gen_changed || t->log_stale || wanted ||
                    now - t->last_checkpoint_ns >= t->interval_ns)) {
        if (checkpoint(t, err) != 0)
            return -1;
        tsv_tier_change_now(t->store, &ch);
        conns_changes = t->conns ? tsv_conn_catalog_changes(tsv_conns_catalog(t->conns)) : 0;
        files_dg = files_digest(t);
        changed = !same_change(&ch, &t->last_change) || conns_changes != t->last_conns_changes ||
                  files_dg != t->last_files_digest;
        behind = changed;
    } else if (changed && t->log_ns > 0) {
        /* Between checkpoints: the log, which covers at least ch. */
        if (now - t->last_log_ns >= t->log_ns) {
            t->last_log_ns = now;
            if (log_segment(t, conns_changes, files_dg, err) != 0)
                return -1;
            t->log_change = ch;
        }
        behind = t->log_stale || !same_change(&ch, &t->log_change) ||
                 conns_changes != t->log_conns_changes || files_dg != t->log_files_digest;
    }
    gauge(M_BEHIND, M_BEHIND_H, behind ? 1 : 0);
    if (t->evict_ns > 0 && !final) {
        uint64_t objects = 0, ebytes = 0;
        if (tsv_tier_evict(t->store, t->state, now - t->evict_ns, &objects, &ebytes, err) != 0)
            return -1;
        if (objects) {
            tsv_metric_add(
                tsv_metrics_family(TSV_METRIC_COUNTER, M_EVICTED, M_EVICTED_H, NULL, NULL, 0), NULL,
                objects);
            TSV_INFO("msg=\"objects evicted from local disk (kept in the object store)\" "
                     "objects=%" PRIu64 " bytes=%" PRIu64,
                     objects, ebytes);
        }
    }
    return 0;
}

static void *tier_main(void *arg)
{
    tsv_tier *t = arg;
    for (;;) {
        tsv_error err;
        int rc = tier_round(t, 0, &err);
        count(M_ROUNDS, M_ROUNDS_H, rc == 0 ? "ok" : "failed", 1);
        if (rc != 0) {
            t->failures++;
            /* The same error every round is logged once a minute at most. */
            if (strcmp(err.message, t->last_error) != 0 || t->failures % 30 == 1)
                TSV_WARN("msg=\"copy to the object store failed: retrying\" attempt=%d "
                         "error=\"%s\"",
                         t->failures, err.message);
            snprintf(t->last_error, sizeof t->last_error, "%s", err.message);
        } else {
            if (t->failures)
                TSV_INFO("msg=\"copy to the object store resumed\" after_failures=%d", t->failures);
            t->failures = 0;
            t->last_error[0] = '\0';
        }
        int wait_s = 1;
        for (int i = 1; i < t->failures && wait_s < 30; i++)
            wait_s *= 2;
        pthread_mutex_lock(&t->mu);
        if (!t->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += wait_s;
            pthread_cond_timedwait(&t->cv, &t->mu, &until);
        }
        int stop = t->stop;
        pthread_mutex_unlock(&t->mu);
        if (stop)
            break;
    }
    /* A last round when the store answered the previous one, so that a clean
     * shutdown leaves S3 up to date; then the lease goes. */
    tsv_error err;
    if (!t->failures && !t->lease_lost) {
        if (tier_round(t, 1, &err) != 0)
            TSV_WARN("msg=\"last copy to the object store failed\" error=\"%s\"", err.message);
        else if (lease_write(t, 0, &err) != 0)
            TSV_WARN("msg=\"could not release the object store's lease\" error=\"%s\"",
                     err.message);
    }
    return NULL;
}

/* The store's fetch hook: an object the store misses comes back from S3
 * if it was copied there (evicted, or after a lazy recovery). */
static int tier_fetch(void *ctx, tsv_objstore *os, const char *hex, tsv_error *err)
{
    tsv_tier *t = ctx;
    int copied = 0;
    if (tsv_tier_is_copied(t->state, hex, &copied, err) != 0)
        return -1;
    if (!copied)
        return tsv_error_set(err, TSV_ENOTFOUND, "object %s is not in the object store", hex);
    char key[1024], scratch[PATH_MAX];
    if (copy_object_key(t, hex, key, sizeof key, err) != 0 ||
        tsv_tier_scratch_create(t->data_dir, "tier-fetch", scratch, sizeof scratch, err) != 0)
        return -1;
    download d = {t->s3, t->bucket, key, hex, "its name", {0}};
    int rc = tsv_tier_fetch_object(os, scratch, hex, download_fill, &d, err);
    tsv_tier_scratch_remove(scratch);
    count(M_FETCHED, M_FETCHED_H, rc == 0 ? "ok" : "failed", 1);
    if (rc == 0)
        TSV_INFO("msg=\"object fetched back from the object store\" object=%s bytes=%" PRIu64, hex,
                 d.info.size);
    else if (err->code == TSV_ENOTFOUND)
        err->code = TSV_EUNAVAILABLE; /* recorded as copied: S3 lost it */
    return rc;
}

static int tier_new(tsv_tier **out, tsv_store *store, const char *data_dir,
                    const tsv_tier_options *o, tsv_error *err)
{
    tsv_tier *t = calloc(1, sizeof *t);
    if (!t)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    t->store = store;
    t->concurrency = o->concurrency > 0 ? (o->concurrency > 64 ? 64 : o->concurrency) : 4;
    t->interval_ns = (o->checkpoint_interval_s > 0 ? o->checkpoint_interval_s : 60) * 1000000000LL;
    t->log_ns = o->log_interval_s > 0 ? o->log_interval_s * 1000000000LL : 0;
    t->ttl_ns = (o->lease_ttl_s > 0 ? o->lease_ttl_s : 60) * 1000000000LL;
    t->keep = o->keep_checkpoints > 0 ? o->keep_checkpoints : 3;
    t->evict_ns = o->evict_after_s > 0 ? o->evict_after_s * 1000000000LL : 0;
    t->conns = o->conns;
    t->files = o->files;
    t->gc_ns = (o->gc_interval_s > 0 ? o->gc_interval_s : 3600) * 1000000000LL;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (gethostname(t->host, sizeof t->host) != 0)
        snprintf(t->host, sizeof t->host, "unknown");
    t->host[sizeof t->host - 1] = '\0';
    snprintf(t->data_dir, sizeof t->data_dir, "%s", data_dir);
    if (tsv_tier_url_parse(o->url, t->bucket, sizeof t->bucket, t->prefix, sizeof t->prefix, err) !=
            0 ||
        tsv_tier_state_open(&t->state, data_dir, err) != 0 ||
        tsv_s3_new(&t->s3, &o->s3, err) != 0) {
        tsv_tier_state_close(t->state);
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

static void tier_free(tsv_tier *t)
{
    tsv_s3_free(t->s3);
    tsv_tier_state_close(t->state);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}

int tsv_tier_start(tsv_tier **out, tsv_store *store, const char *data_dir,
                   const tsv_tier_options *o, tsv_error *err)
{
    tsv_tier *t = NULL; /* GCC -O2 cannot see that tier_new sets it on success */
    if (tier_new(&t, store, data_dir, o, err) != 0)
        return -1;
    /* Bucket present and credentials accepted: said now, at start (the
     * lease is the first read and write). A store that does not answer
     * does not keep the server down: the thread takes the lease, then
     * copies, when it answers. */
    int lost = 0, held = 1;
    if (lease_take(t, &lost, err) != 0) {
        if (lost || (err->code != TSV_EUNAVAILABLE && err->code != TSV_ETOOMANY)) {
            tsv_error_wrap(err, "object store s3://%s/%s", t->bucket, t->prefix);
            goto fail;
        }
        TSV_WARN("msg=\"the object store does not answer at start-up: copying starts when it "
                 "does\" url=\"s3://%s/%s\" error=\"%s\"",
                 t->bucket, t->prefix, err->message);
        held = 0;
        t->lease_renew_at = 0;
    }
    /* Two servers starting at once could both have found no lease: read it
     * back after a moment and give way if the other one's write won. */
    lease l;
    int found;
    if (held) {
        usleep(300 * 1000);
        if (lease_read(t->s3, t->bucket, t->prefix, &l, &found, err) != 0)
            goto fail;
        if (!found || strcmp(l.owner, tsv_tier_state_id(t->state)) != 0) {
            lease_conflict(t->bucket, t->prefix, &l, err);
            goto fail;
        }
    }
    gauge(M_LEASE, M_LEASE_H, held);
    gauge(M_BEHIND, M_BEHIND_H, 1);
    /* Before the first checkpoint: its log starts where the change logs
     * are on. */
    if (t->log_ns > 0)
        tsv_tier_log_enable(store);
    tsv_store_set_object_fetch(store, tier_fetch, t);
    if (pthread_create(&t->thread, NULL, tier_main, t) != 0) {
        tsv_store_set_object_fetch(store, NULL, NULL);
        tsv_error_set(err, TSV_EINTERNAL, "cannot start the object store thread");
        lease_write(t, 0, &(tsv_error){0});
        goto fail;
    }
    TSV_INFO("msg=\"copying the vault to the object store\" url=\"s3://%s/%s\" owner=%s "
             "concurrency=%d checkpoint_interval_s=%" PRId64 " log_interval_s=%" PRId64,
             t->bucket, t->prefix, tsv_tier_state_id(t->state), t->concurrency,
             (int64_t)(t->interval_ns / 1000000000LL), (int64_t)(t->log_ns / 1000000000LL));
    *out = t;
    return 0;
fail:
    tier_free(t);
    return -1;
}

void tsv_tier_stop(tsv_tier *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    tsv_store_set_object_fetch(t->store, NULL, NULL);
    tier_free(t);
}

/* ---- verify of the S3 copies ------------------------------------------- */

static int newest_checkpoint(tsv_s3 *s3, const char *bucket, const char *prefix, char *name,
                             size_t name_len, tsv_error *err);
static int manifest_parse(const char *text, size_t len, manifest *m, tsv_error *err);

/* ---- log segments in the store ----------------------------------------- */

typedef struct seg_list {
    const char *base; /* "<prefix>/checkpoints/<name>/log/" */
    size_t base_len;
    uint64_t *v;
    size_t n, cap;
} seg_list;

static int seg_list_fn(const tsv_s3_entry *e, void *ud, tsv_error *err)
{
    seg_list *l = ud;
    const char *rest = e->key + l->base_len;
    if (strncmp(e->key, l->base, l->base_len) != 0 || strlen(rest) != 10 ||
        strspn(rest, "0123456789") != 10)
        return 0; /* the parts a segment carries, or foreign keys */
    if (TSV_ARRAY_GROW(l->v, l->n, l->cap, err) != 0)
        return -1;
    l->v[l->n++] = strtoull(rest, NULL, 10);
    return 0;
}

static int by_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int raw_fill(void *ctx, int fd, tsv_error *err)
{
    download *d = ctx;
    return tsv_s3_get(d->s3, d->bucket, d->key, fd, &d->info, err);
}

/* The segment numbers of checkpoint `name`, sorted; base gets the prefix
 * of their keys. The caller frees l->v. */
static int seg_list_load(tsv_s3 *s3, const char *bucket, const char *prefix, const char *name,
                         seg_list *l, char *base, size_t base_len, tsv_error *err)
{
    memset(l, 0, sizeof *l);
    if (key_of(base, base_len, prefix, err, "checkpoints/%s/log/", name) != 0)
        return -1;
    l->base = base;
    l->base_len = strlen(base);
    if (tsv_s3_list(s3, bucket, base, seg_list_fn, l, err) != 0) {
        free(l->v);
        l->v = NULL;
        return tsv_error_wrap(err, "list the log of checkpoint %s", name);
    }
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, by_u64);
    return 0;
}

static int seg_parts(tsv_s3 *s3, const char *bucket, const char *seg_key, const char *extra,
                     const char *scratch, int carried[N_PARTS], tsv_error *err);
static int seg_parts_commit(const char *scratch, manifest *m, const int carried[N_PARTS],
                            tsv_error *err);

typedef struct tv_ctx {
    tsv_tier *t;
    tsv_tier_problem_fn problem;
    tsv_tier_progress_fn progress;
    void *ctx;
    tsv_tier_verify_summary *sum;
    uint64_t total;
} tv_ctx;

static void tv_problem(tv_ctx *c, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tv_problem(tv_ctx *c, const char *what, const char *fmt, ...)
{
    char msg[1024];
    TSV_VFORMAT(msg, fmt);
    c->sum->problems++;
    if (c->problem)
        c->problem(c->ctx, what, msg);
}

static int by_object_hex(const void *a, const void *b)
{
    const tsv_tier_object *x = a, *y = b;
    int c = strcmp(x->hex, y->hex);
    /* a known size first, so that it is the one kept */
    return c ? c : (x->size == SIZE_UNKNOWN) - (y->size == SIZE_UNKNOWN);
}

/* Sorts by name and keeps each object once. */
static void cp_unique(cp_objects *c)
{
    if (c->n < 2)
        return;
    qsort(c->missing, c->n, sizeof *c->missing, by_object_hex);
    size_t k = 1;
    for (size_t i = 1; i < c->n; i++)
        if (strcmp(c->missing[i].hex, c->missing[k - 1].hex) != 0)
            c->missing[k++] = c->missing[i];
    c->n = k;
}

/* Uploads the local copy again; 1 if it had the right bytes and went up. */
/* A staged file's bytes (stored in S3 as the object named by its SHA-256),
 * opened from the Files API's directory. */
static int staged_open(tsv_tier *t, const char *hex, int *fd)
{
    files_ctx f = {0};
    tsv_error e;
    int rc = -1;
    if (t->files && tsv_files_list(t->files, files_collect, &f, &e) == 0)
        for (size_t i = 0; rc != 0 && i < f.n; i++) {
            char path[PATH_MAX];
            if (strcmp(f.v[i].sha256, hex) == 0 &&
                tsv_files_path(t->files, f.v[i].name, path, sizeof path, &e) == 0 &&
                (*fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0)
                rc = 0;
        }
    free(f.v);
    return rc;
}

static int tv_repair(tsv_tier *t, const char *hex, const char *key)
{
    int fd;
    tsv_error e;
    if (object_open(t, hex, &fd, NULL, &e) != 0 && staged_open(t, hex, &fd) != 0)
        return 0;
    tsv_s3_object info;
    int rc = tsv_s3_put_file(t->s3, t->bucket, key, fd, &info, &e);
    close(fd);
    if (rc == 0 && strcmp(info.sha256, hex) == 0)
        return 1;
    if (rc == 0) { /* the local copy is bad too: verify of the store marks it */
        (void)tsv_tier_forget(t->state, hex, &e);
        atomic_store(&t->scanned_clean, 0);
        (void)tsv_s3_delete(t->s3, t->bucket, key, &e);
    }
    return 0;
}

static int tv_object(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    tv_ctx *c = ctx;
    char key[1024];
    if (copy_object_key(c->t, hex, key, sizeof key, err) != 0)
        return -1;
    tsv_s3_object info;
    tsv_error e;
    const char *what = key + strlen(c->t->prefix) + (c->t->prefix[0] ? 1 : 0);
    int rc = tsv_s3_get(c->t->s3, c->t->bucket, key, TSV_S3_DISCARD, &info, &e);
    if (rc == 0 && strcmp(info.sha256, hex) != 0)
        rc = tsv_error_set(&e, TSV_EINVALID, "its SHA-256 is %s, not its name",
                           info.sha256[0] ? info.sha256 : "not recorded");
    if (rc == 0 && size != SIZE_UNKNOWN && info.size != size)
        rc = tsv_error_set(&e, TSV_EINVALID, "%" PRIu64 " bytes, the catalogue says %" PRIu64,
                           info.size, size);
    if (rc != 0 && e.code != TSV_ENOTFOUND && e.code != TSV_EINVALID) {
        *err = e; /* the store failed, not the object: stop */
        return -1;
    }
    c->sum->objects++;
    if (rc == 0) {
        c->sum->bytes += info.size;
    } else if (tv_repair(c->t, hex, key)) {
        c->sum->repaired++;
        if (c->problem) {
            char msg[1200];
            snprintf(msg, sizeof msg, "%s; uploaded again from the local copy (repaired)",
                     e.message);
            c->problem(c->ctx, what, msg);
        }
    } else {
        tv_problem(c, what, "%s; no good local copy to repair it from: a recovery would fail",
                   e.message);
    }
    if (c->progress && c->progress(c->ctx, c->sum->objects, c->total, c->sum->bytes))
        return tsv_error_set(err, TSV_EUNAVAILABLE, "verify cancelled");
    return 0;
}

/* Every log segment of the verified checkpoint read back whole (its
 * digest) with the parts it carries; the objects they list join `all`. A
 * damaged one cannot be rebuilt as it was: the tier takes a new checkpoint
 * (which the log then follows) at its next round. */
static int tv_segments(tv_ctx *c, const char *scratch, manifest *m, cp_objects *all, tsv_error *err)
{
    tsv_tier *t = c->t;
    char base[1100];
    seg_list l;
    if (seg_list_load(t->s3, t->bucket, t->prefix, c->sum->checkpoint, &l, base, sizeof base,
                      err) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        char key[1200];
        snprintf(key, sizeof key, "%s%010" PRIu64, base, l.v[i]);
        download d = {t->s3, t->bucket, key, "", "", {0}};
        tsv_error e;
        int fd = -1, carried[N_PARTS] = {0};
        tsv_tier_log_info info = {0};
        if (tsv_tier_scratch_fill(scratch, "segment", raw_fill, &d, &e) != 0 ||
            tsv_tier_scratch_open(scratch, "segment", &fd, &e) != 0 ||
            tsv_tier_log_read_info(fd, &info, &e) != 0 ||
            (info.n != l.v[i] || i + 1 != l.v[i]
                 ? tsv_error_set(&e, TSV_EINVALID, "out of order (segment %zu expected)", i + 1)
                 : 0) != 0 ||
            (info.extra &&
             seg_parts(t->s3, t->bucket, key, info.extra, scratch, carried, &e) != 0) ||
            tsv_tier_log_objects(fd, collect_fn, all, &e) != 0 ||
            seg_parts_commit(scratch, m, carried, &e) != 0) {
            if (e.code == TSV_EUNAVAILABLE || e.code == TSV_ETOOMANY) {
                *err = e;
                rc = -1;
            } else {
                tv_problem(c, key,
                           "log segment %" PRIu64 " of checkpoint %s: %s; a recovery stops "
                           "before it (a new checkpoint is taken)",
                           l.v[i], c->sum->checkpoint, e.message);
                atomic_store(&t->checkpoint_wanted, 1);
            }
        } else {
            c->sum->segments++;
        }
        free(info.extra);
        if (fd >= 0)
            close(fd);
        if (rc == 0 && c->sum->problems && atomic_load(&t->checkpoint_wanted))
            break; /* what follows a damaged segment is not replayed either */
    }
    free(l.v);
    return rc;
}

int tsv_tier_verify(tsv_tier *t, tsv_tier_problem_fn problem, tsv_tier_progress_fn progress,
                    void *ctx, tsv_tier_verify_summary *sum, tsv_error *err)
{
    memset(sum, 0, sizeof *sum);
    tv_ctx c = {t, problem, progress, ctx, sum, 0};
    char scratch[PATH_MAX] = "", key[1200], cat[PATH_MAX + 16];
    char *mtext = NULL;
    size_t mlen = 0;
    manifest m;
    int rc = -1;
    if (newest_checkpoint(t->s3, t->bucket, t->prefix, sum->checkpoint, sizeof sum->checkpoint,
                          err) != 0)
        return -1;
    if (key_of(key, sizeof key, t->prefix, err, "checkpoints/%s/manifest.json", sum->checkpoint) !=
            0 ||
        get_bytes(t->s3, t->bucket, key, &mtext, &mlen, err) != 0)
        return -1;
    if (manifest_parse(mtext, mlen, &m, err) != 0) {
        tv_problem(&c, "manifest.json", "checkpoint %s: %s", sum->checkpoint, err->message);
        free(mtext);
        return 0;
    }
    free(mtext);
    if (tsv_tier_scratch_create(t->data_dir, "tier-verify", scratch, sizeof scratch, err) != 0)
        return -1;
    for (int i = 0; i < N_PARTS; i++) {
        if (!m.has[i])
            continue;
        if (key_of(key, sizeof key, t->prefix, err, "checkpoints/%s/%s", sum->checkpoint,
                   parts[i].key) != 0)
            goto out;
        download d = {t->s3, t->bucket, key, m.sha[i], "the manifest", {0}};
        tsv_error e;
        if (tsv_tier_scratch_fill(scratch, parts[i].scratch, download_fill, &d, &e) != 0) {
            if (e.code != TSV_ENOTFOUND && e.code != TSV_EINVALID) {
                *err = e;
                goto out;
            }
            tv_problem(&c, key, "checkpoint %s: %s", sum->checkpoint, e.message);
            rc = 0;
            goto out; /* without its catalogue the objects cannot be listed */
        }
    }
    snprintf(cat, sizeof cat, "%s/catalog", scratch);
    /* The vault's and the connections' objects, each once (a pull of data
     * the vault holds stores the same bytes under the same name); with the
     * log segments after the checkpoint and what they list. */
    cp_objects all = {.t = NULL};
    if ((m.has_log && tv_segments(&c, scratch, &m, &all, err) != 0) ||
        tsv_tier_catalog_objects(cat, 0, collect_fn, &all, err) != 0 ||
        (m.has[PART_CONNECTIONS] && conns_list(scratch, &all, err) != 0) ||
        (m.has[PART_FILES] && files_objects(scratch, &all, err) != 0))
        goto out;
    cp_unique(&all);
    c.total = all.n;
    for (size_t i = 0; i < all.n; i++)
        if (tv_object(&c, all.missing[i].hex, all.missing[i].size, err) != 0)
            goto out;
    rc = 0;
out:
    free(all.missing);
    tsv_tier_scratch_remove(scratch);
    return rc;
}

/* ---- recovery --------------------------------------------------------- */

typedef struct fetch_pool {
    tsv_s3 *s3;
    const char *bucket, *prefix, *scratch;
    tsv_objstore *os;
    tsv_tier_object *objs;
    size_t n;
    atomic_size_t next;
    pthread_mutex_t mu;
    size_t failed, done;
    uint64_t bytes;
    tsv_error first_err;
} fetch_pool;

static int fetch_one(fetch_pool *p, const tsv_tier_object *o, uint64_t *got, tsv_error *err)
{
    int exists = 0;
    uint64_t size = 0;
    *got = 0;
    if (tsv_objstore_exists(p->os, o->hex, &exists, &size, err) != 0)
        return -1;
    if (exists)
        return 0;
    char key[1024];
    if (key_of(key, sizeof key, p->prefix, err, "objects/%.2s/%s", o->hex, o->hex) != 0)
        return -1;
    download d = {p->s3, p->bucket, key, o->hex, "its name", {0}};
    if (tsv_tier_fetch_object(p->os, p->scratch, o->hex, download_fill, &d, err) != 0)
        return -1;
    *got = d.info.size;
    return 0;
}

static void *fetch_worker(void *arg)
{
    fetch_pool *p = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        tsv_error err;
        uint64_t got = 0;
        int rc = fetch_one(p, &p->objs[i], &got, &err);
        pthread_mutex_lock(&p->mu);
        if (rc != 0 && p->failed++ == 0)
            p->first_err = err;
        if (rc == 0) {
            p->done++;
            p->bytes += got;
            if (p->done % 1000 == 0)
                TSV_INFO("msg=\"recovering objects\" done=%zu of=%zu", p->done, p->n);
        }
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

static int collect_fn(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    cp_objects *c = ctx;
    c->bytes += size == SIZE_UNKNOWN ? 0 : size;
    return objects_append(c, hex, size, err);
}

static int manifest_parse(const char *text, size_t len, manifest *m, tsv_error *err)
{
    memset(m, 0, sizeof *m);
    tsv_json_doc *doc;
    if (tsv_json_parse(&doc, text, len, err) != 0)
        return -1;
    const tsv_json *root = tsv_json_root(doc);
    const char *g = NULL;
    size_t gl = 0;
    int64_t format = 0;
    int rc = 0;
    if (tsv_json_i64(tsv_json_get(root, "format"), &format, "format", err) != 0 ||
        tsv_json_string(tsv_json_get(root, "generation"), &g, &gl, "generation", err) != 0)
        rc = -1;
    else if (format != 1)
        rc = tsv_error_set(err, TSV_EINVALID, "checkpoint format %" PRId64 " is not known", format);
    else if (gl != 16 || sscanf(g, "%16" SCNx64, &m->gen) != 1)
        rc = tsv_error_set(err, TSV_EINVALID, "bad generation \"%.*s\"", (int)gl, g);
    const tsv_json *log = tsv_json_get(root, "log");
    if (rc == 0 && log) {
        const char *ls = NULL;
        size_t ll = 0;
        if (tsv_json_string(log, &ls, &ll, "log", err) != 0 ||
            tsv_tier_logpos_parse(ls, ll, &m->log) != 0)
            rc = tsv_error_set(err, TSV_EINVALID, "bad log position in the manifest");
        m->log.gen = m->gen;
        m->has_log = rc == 0;
    }
    const tsv_json *files = tsv_json_get(root, "files");
    for (int i = 0; rc == 0 && i < N_PARTS; i++) {
        const tsv_json *f = tsv_json_get(files, parts[i].key);
        if (!f && !parts[i].required)
            continue;
        const char *sh = NULL;
        size_t sl = 0;
        if (tsv_json_string(tsv_json_get(f, "sha256"), &sh, &sl, parts[i].key, err) != 0 ||
            sl != 64)
            rc = tsv_error_set(err, TSV_EINVALID, "files.%s.sha256 missing", parts[i].key);
        else {
            snprintf(m->sha[i], 65, "%.*s", (int)sl, sh);
            m->has[i] = 1;
        }
    }
    tsv_json_free(doc);
    return rc;
}

/* The newest complete checkpoint's name. */
static int newest_checkpoint(tsv_s3 *s3, const char *bucket, const char *prefix, char *name,
                             size_t name_len, tsv_error *err)
{
    char base[1024];
    cp_list l;
    if (cp_list_load(s3, bucket, prefix, &l, base, sizeof base, err) != 0)
        return -1;
    const cp_name *newest = NULL;
    for (size_t i = l.n; i-- > 0 && !newest;)
        if (l.v[i].complete)
            newest = &l.v[i];
    int rc = 0;
    if (!newest)
        rc = tsv_error_set(err, TSV_ENOTFOUND,
                           "s3://%s/%s holds no complete checkpoint (checkpoints/*/manifest.json): "
                           "nothing to recover from",
                           bucket, prefix);
    else
        snprintf(name, name_len, "%s", newest->name);
    free(l.v);
    return rc;
}

/* The staged files of the checkpoint (scratch/files): each downloaded and
 * staged again through the Files API's own checks, with its record's id,
 * user and time. A name already staged with the same content is skipped
 * (a recovery run again). */
static int recover_files(tsv_s3 *s3, const char *bucket, const char *prefix, const char *data_dir,
                         const char *scratch, size_t *n_files, tsv_error *err)
{
    files_ctx recs = {0};
    tsv_files *files = NULL;
    int rc = files_json_load(scratch, &recs, err);
    tsv_files_options fo = {.data_dir = data_dir};
    if (rc == 0 && recs.n)
        rc = tsv_files_open(&files, &fo, err);
    for (size_t i = 0; rc == 0 && i < recs.n; i++) {
        const tsv_file_info *r = &recs.v[i];
        tsv_file_info have;
        tsv_error e;
        if (tsv_files_get(files, r->name, &have, &e) == 0 && strcmp(have.sha256, r->sha256) == 0)
            continue;
        char sub[PATH_MAX], key[1024];
        if (key_of(key, sizeof key, prefix, err, "objects/%.2s/%s", r->sha256, r->sha256) != 0 ||
            tsv_tier_scratch_create(data_dir, "recover-file", sub, sizeof sub, err) != 0) {
            rc = -1;
            break;
        }
        download d = {s3, bucket, key, r->sha256, "its record", {0}};
        tsv_files_upload *u = NULL;
        int fd = -1;
        rc = tsv_tier_scratch_fill(sub, "staged", download_fill, &d, err);
        if (rc == 0)
            rc = tsv_tier_scratch_open(sub, "staged", &fd, err);
        if (rc == 0)
            rc = tsv_files_upload_begin(files, r->name, &u, err);
        char chunk[1 << 16];
        while (rc == 0) {
            ssize_t got = read(fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read");
            if (got <= 0)
                break;
            rc = tsv_files_upload_write(u, chunk, (size_t)got, err);
        }
        if (fd >= 0)
            close(fd);
        tsv_file_info info;
        if (rc == 0) {
            rc = tsv_files_upload_commit_record(u, r, &info, err);
            u = NULL;
        }
        if (u)
            tsv_files_upload_abort(u);
        tsv_tier_scratch_remove(sub);
        if (rc != 0)
            tsv_error_wrap(err, "staged file \"%s\"", r->name);
        else
            (*n_files)++;
    }
    tsv_files_close(files);
    free(recs.v);
    return rc;
}

/* Downloads objs into os (skipping those it has), `concurrency` at a time. */
static int fetch_all(tsv_s3 *s3, const char *bucket, const char *prefix, const char *scratch,
                     tsv_objstore *os, tsv_tier_object *objs, size_t n, int concurrency,
                     uint64_t *bytes, tsv_error *err)
{
    fetch_pool p = {.s3 = s3,
                    .bucket = bucket,
                    .prefix = prefix,
                    .scratch = scratch,
                    .os = os,
                    .objs = objs,
                    .n = n};
    atomic_init(&p.next, 0);
    pthread_mutex_init(&p.mu, NULL);
    int nt = concurrency > 0 ? (concurrency > 64 ? 64 : concurrency) : 4;
    pthread_t th[64];
    int started = 0;
    for (; started < nt && (size_t)started < p.n; started++)
        if (pthread_create(&th[started], NULL, fetch_worker, &p) != 0)
            break;
    if (started == 0)
        fetch_worker(&p);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
    *bytes = p.bytes;
    if (p.failed) {
        *err = p.first_err;
        return tsv_error_wrap(err, "%zu of %zu objects could not be recovered", p.failed, p.n);
    }
    return 0;
}

/* ---- replaying the log --------------------------------------------------- */

/* The whole parts a segment carries (its extra text): downloaded (checked
 * by SHA-256) as scratch/next-<part>; seg_parts_commit then makes them the
 * parts, once the segment's records are applied (the parts and the
 * catalogue never come from two different segments). */
static const char *const next_part[N_PARTS] = {NULL, NULL, "next-connections", "next-files"};

static int seg_parts(tsv_s3 *s3, const char *bucket, const char *seg_key, const char *extra,
                     const char *scratch, int carried[N_PARTS], tsv_error *err)
{
    tsv_json_doc *doc;
    if (tsv_json_parse(&doc, extra, strlen(extra), err) != 0)
        return tsv_error_wrap(err, "log segment's extra text");
    int rc = 0;
    for (int i = PART_CONNECTIONS; rc == 0 && i < N_PARTS; i++) {
        carried[i] = 0;
        const tsv_json *f = tsv_json_get(tsv_json_root(doc), parts[i].key);
        if (!f)
            continue;
        const char *sh = NULL;
        size_t sl = 0;
        char key[1300], sha[65];
        if (tsv_json_string(tsv_json_get(f, "sha256"), &sh, &sl, parts[i].key, err) != 0 ||
            sl != 64) {
            rc = tsv_error_set(err, TSV_EINVALID, "log segment: %s.sha256 missing", parts[i].key);
            break;
        }
        snprintf(sha, sizeof sha, "%.*s", (int)sl, sh);
        snprintf(key, sizeof key, "%s.%s", seg_key, parts[i].key);
        download d = {s3, bucket, key, sha, "the log segment", {0}};
        rc = tsv_tier_scratch_fill(scratch, next_part[i], download_fill, &d, err);
        carried[i] = rc == 0;
    }
    tsv_json_free(doc);
    return rc;
}

static int seg_parts_commit(const char *scratch, manifest *m, const int carried[N_PARTS],
                            tsv_error *err)
{
    for (int i = PART_CONNECTIONS; i < N_PARTS; i++) {
        if (!carried[i])
            continue;
        if (tsv_tier_scratch_move(scratch, next_part[i], parts[i].scratch, err) != 0)
            return -1;
        m->has[i] = 1;
    }
    return 0;
}

/* Replays the segments of checkpoint `name` onto its downloaded copy in
 * scratch, in order, each checked (digest, checkpoint, number, position).
 * The first one missing, damaged or out of order ends the log: the state
 * recovered is that of the last one applied (each is a consistent cut),
 * and a warning says so. A failure while applying fails the recovery. */
static int replay_log(tsv_s3 *s3, const char *bucket, const char *prefix, const char *name,
                      const char *scratch, manifest *m, uint64_t *applied, tsv_error *err)
{
    *applied = 0;
    char base[1100];
    seg_list l;
    if (seg_list_load(s3, bucket, prefix, name, &l, base, sizeof base, err) != 0)
        return -1;
    tsv_tier_logpos at = m->log;
    tsv_tier_log_replay *rp = NULL;
    int rc = l.n ? tsv_tier_log_replay_begin(scratch, &rp, err) : 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        tsv_error why;
        char key[1200];
        if (l.v[i] != i + 1) {
            TSV_WARN("msg=\"log segment missing: the recovery stops at the one before\" "
                     "checkpoint=%s segment=%zu",
                     name, i + 1);
            break;
        }
        snprintf(key, sizeof key, "%s%010" PRIu64, base, l.v[i]);
        download d = {s3, bucket, key, "", "", {0}};
        int fd = -1, carried[N_PARTS] = {0};
        tsv_tier_log_info info = {0};
        if (tsv_tier_scratch_fill(scratch, "segment", raw_fill, &d, &why) != 0 ||
            tsv_tier_scratch_open(scratch, "segment", &fd, &why) != 0 ||
            tsv_tier_log_read_info(fd, &info, &why) != 0 ||
            (strcmp(info.checkpoint, name) != 0 || info.n != l.v[i]
                 ? tsv_error_set(&why, TSV_EINVALID, "it names checkpoint %s, segment %" PRIu64,
                                 info.checkpoint, info.n)
                 : 0) != 0 ||
            (info.extra && seg_parts(s3, bucket, key, info.extra, scratch, carried, &why) != 0)) {
            TSV_WARN("msg=\"log segment unusable: the recovery stops at the one before\" "
                     "checkpoint=%s segment=%" PRIu64 " error=\"%s\"",
                     name, l.v[i], why.message);
            if (fd >= 0)
                close(fd);
            free(info.extra);
            break;
        }
        free(info.extra);
        if (tsv_tier_log_apply(rp, fd, &at, &why) != 0) {
            if (why.code == TSV_EINVALID && *applied == i) {
                /* Refused before anything was written (not its turn). */
                TSV_WARN("msg=\"log segment does not follow: the recovery stops at the one "
                         "before\" checkpoint=%s segment=%" PRIu64 " error=\"%s\"",
                         name, l.v[i], why.message);
                close(fd);
                break;
            }
            *err = why;
            rc = tsv_error_wrap(err, "replay log segment %" PRIu64 " of checkpoint %s", l.v[i],
                                name);
        } else if ((rc = seg_parts_commit(scratch, m, carried, err)) == 0) {
            (*applied)++;
        }
        close(fd);
    }
    tsv_tier_log_replay_end(rp);
    free(l.v);
    return rc;
}

/* Downloads checkpoint `name` into scratch and checks that a recovery can
 * use it: its manifest, every part (SHA-256 as the manifest says), a
 * catalogue that reads, staged files' records and connections' catalogue
 * that parse. TSV_EINVALID / TSV_ENOTFOUND: this checkpoint is unusable. */
static int load_checkpoint(tsv_s3 *s3, const char *bucket, const char *prefix, const char *name,
                           const char *scratch, manifest *m, tsv_error *err)
{
    char key[1200], cat[PATH_MAX + 16];
    char *mtext = NULL;
    size_t mlen = 0;
    for (int i = 0; i < N_PARTS; i++) /* what an unusable newer one left */
        tsv_tier_scratch_drop(scratch, parts[i].scratch);
    if (key_of(key, sizeof key, prefix, err, "checkpoints/%s/manifest.json", name) != 0 ||
        get_bytes(s3, bucket, key, &mtext, &mlen, err) != 0)
        return -1;
    int rc = manifest_parse(mtext, mlen, m, err);
    free(mtext);
    for (int i = 0; rc == 0 && i < N_PARTS; i++) {
        if (!m->has[i])
            continue;
        if (key_of(key, sizeof key, prefix, err, "checkpoints/%s/%s", name, parts[i].key) != 0)
            return -1;
        download d = {s3, bucket, key, m->sha[i], "the manifest", {0}};
        rc = tsv_tier_scratch_fill(scratch, parts[i].scratch, download_fill, &d, err);
    }
    cp_objects probe = {0};
    files_ctx recs = {0};
    snprintf(cat, sizeof cat, "%s/catalog", scratch);
    if (rc == 0 && (tsv_tier_catalog_objects(cat, 0, collect_fn, &probe, err) != 0 ||
                    (m->has[PART_CONNECTIONS] && conns_list(scratch, &probe, err) != 0) ||
                    (m->has[PART_FILES] && files_json_load(scratch, &recs, err) != 0))) {
        if (err->code == TSV_EINTERNAL)
            err->code = TSV_EINVALID; /* a part that does not read is a bad checkpoint */
        rc = -1;
    }
    free(probe.missing);
    free(recs.v);
    return rc;
}

/* The newest complete checkpoint a recovery can use, downloaded into
 * scratch: one whose manifest or parts are damaged or missing is skipped
 * with a warning (its predecessors are still whole), as long as the store
 * answers. */
static int choose_checkpoint(tsv_s3 *s3, const char *bucket, const char *prefix,
                             const char *scratch, char *name, manifest *m, tsv_error *err)
{
    char base[1024];
    cp_list l;
    if (cp_list_load(s3, bucket, prefix, &l, base, sizeof base, err) != 0)
        return -1;
    int rc = -1, tried = 0;
    tsv_error last = {0};
    for (size_t i = l.n; i-- > 0 && rc != 0;) {
        if (!l.v[i].complete)
            continue;
        tried++;
        if (load_checkpoint(s3, bucket, prefix, l.v[i].name, scratch, m, err) == 0) {
            snprintf(name, CHECKPOINT_NAME_LEN + 1, "%s", l.v[i].name);
            rc = 0;
        } else if (err->code == TSV_EINVALID || err->code == TSV_ENOTFOUND) {
            TSV_WARN("msg=\"checkpoint unusable: trying the one before\" checkpoint=%s "
                     "error=\"%s\"",
                     l.v[i].name, err->message);
            last = *err;
        } else {
            tsv_error_wrap(err, "checkpoint %s", l.v[i].name);
            break;
        }
    }
    free(l.v);
    if (rc != 0 && (tried == 0 || last.code)) {
        if (tried == 0)
            tsv_error_set(err, TSV_ENOTFOUND,
                          "s3://%s/%s holds no complete checkpoint (checkpoints/*/manifest.json): "
                          "nothing to recover from",
                          bucket, prefix);
        else if (err->code == TSV_EINVALID || err->code == TSV_ENOTFOUND)
            tsv_error_set(err, TSV_EINVALID,
                          "s3://%s/%s: none of its %d complete checkpoints is usable (the "
                          "newest: %s)",
                          bucket, prefix, tried, last.message);
    }
    return rc;
}

int tsv_tier_recover(const char *data_dir, const tsv_tier_options *o, tsv_error *err)
{
    char bucket[64], prefix[512];
    if (tsv_tier_url_parse(o->url, bucket, sizeof bucket, prefix, sizeof prefix, err) != 0)
        return -1;
    if (!tsv_tier_recover_target_ok(data_dir))
        return tsv_error_set(err, TSV_ECONFLICT,
                             "--recover-from: %s already holds a data directory (state/ or "
                             "catalog/); recovery fills an empty or new directory only",
                             data_dir);
    tsv_s3 *s3 = NULL;
    tsv_objstore *os = NULL, *cos = NULL;
    cp_objects need = {0}, all = {0}, conns = {0};
    char scratch[PATH_MAX] = "";
    int rc = -1;
    if (tsv_s3_new(&s3, &o->s3, err) != 0)
        return -1;
    lease ls;
    int found;
    if (lease_read(s3, bucket, prefix, &ls, &found, err) != 0)
        goto out;
    if (found && ls.expires_ns > now_ns()) {
        lease_conflict(bucket, prefix, &ls, err);
        goto out;
    }
    char newest_name[CHECKPOINT_NAME_LEN + 1];
    manifest m;
    char objects_dir[PATH_MAX], conn_objects[PATH_MAX];
    if (tsv_tier_scratch_create(data_dir, "recover", scratch, sizeof scratch, err) != 0)
        goto out;
    if ((size_t)snprintf(objects_dir, sizeof objects_dir, "%s/objects", data_dir) >=
            sizeof objects_dir ||
        (size_t)snprintf(conn_objects, sizeof conn_objects, "%s/connections/objects", data_dir) >=
            sizeof conn_objects) {
        tsv_error_set(err, TSV_EINVALID, "data directory path too long");
        goto out;
    }
    if (choose_checkpoint(s3, bucket, prefix, scratch, newest_name, &m, err) != 0)
        goto out;
    TSV_INFO("msg=\"recovering from the object store\" url=\"s3://%s/%s\" checkpoint=%s "
             "generation=%016" PRIx64 " connections=%s staged_files=%s",
             bucket, prefix, newest_name, m.gen, m.has[PART_CONNECTIONS] ? "yes" : "no",
             m.has[PART_FILES] ? "yes" : "no");
    if (tsv_objstore_open_local(&os, objects_dir, err) != 0)
        goto out;
    uint64_t segments = 0;
    if (m.has_log && replay_log(s3, bucket, prefix, newest_name, scratch, &m, &segments, err) != 0)
        goto out;
    if (segments)
        TSV_INFO("msg=\"log replayed\" checkpoint=%s segments=%" PRIu64, newest_name, segments);
    char cat[PATH_MAX + 16];
    snprintf(cat, sizeof cat, "%s/catalog", scratch);
    /* Every listed object is in the store (the checkpoint and each segment
     * were written after them); with eviction only what is in use is
     * downloaded now. */
    if (tsv_tier_catalog_objects(cat, 0, collect_fn, &all, err) != 0 ||
        (o->evict_after_s > 0 && tsv_tier_catalog_objects(cat, 1, collect_fn, &need, err) != 0) ||
        (m.has[PART_CONNECTIONS] && conns_list(scratch, &conns, err) != 0))
        goto out;
    if (o->evict_after_s <= 0)
        need = all, all = (cp_objects){0};
    const cp_objects *known = all.n ? &all : &need;
    uint64_t got = 0, conn_got = 0;
    if (fetch_all(s3, bucket, prefix, scratch, os, need.missing, need.n, o->concurrency, &got,
                  err) != 0)
        goto out;
    /* The connections' snapshots are not tiered: all of them come back. */
    if (conns.n && (tsv_objstore_open_local(&cos, conn_objects, err) != 0 ||
                    fetch_all(s3, bucket, prefix, scratch, cos, conns.missing, conns.n,
                              o->concurrency, &conn_got, err) != 0))
        goto out;
    size_t n_files = 0;
    if (m.has[PART_FILES] &&
        recover_files(s3, bucket, prefix, data_dir, scratch, &n_files, err) != 0)
        goto out;
    TSV_INFO("msg=\"objects recovered\" staged_files=%zu objects=%zu downloaded_bytes=%" PRIu64
             " listed_objects=%zu listed_bytes=%" PRIu64 " connection_objects=%zu "
             "connection_bytes=%" PRIu64,
             n_files, need.n, got, known->n, known->bytes, conns.n, conn_got);
    tsv_objstore_close(os);
    tsv_objstore_close(cos);
    os = cos = NULL;
    if (tsv_tier_recover_install(data_dir, scratch, m.gen, err) != 0)
        goto out;
    /* What the checkpoint lists is known to be in the store. */
    tsv_tier_state *ts;
    if (tsv_tier_state_open(&ts, data_dir, err) == 0) {
        tsv_error e2;
        if (tsv_tier_mark_copied(ts, known->missing, known->n, &e2) != 0 ||
            tsv_tier_mark_copied(ts, conns.missing, conns.n, &e2) != 0)
            TSV_WARN("msg=\"could not record the recovered objects as copied\" error=\"%s\"",
                     e2.message);
        tsv_tier_state_close(ts);
    }
    rc = 0;
out:
    tsv_tier_scratch_remove(scratch);
    tsv_objstore_close(os);
    tsv_objstore_close(cos);
    free(need.missing);
    free(all.missing);
    free(conns.missing);
    tsv_s3_free(s3);
    return rc;
}
