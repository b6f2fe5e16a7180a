/* job_pull: see job_pull.h. */
#include "job_pull.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array_grow.h"
#include "conn_manifest.h"
#include "influx1_rpc.h"
#include "influx2_backup.h"
#include "json.h"
#include "meta.h"
#include "tar_objects.h"
#include "tsv_log.h"

#define NS 1000000000LL

typedef struct shard_ref {
    uint64_t id;
    char db[256]; /* 2.x bucket ID, 1.x database */
    char rp[256];
} shard_ref;

typedef struct pull {
    tsv_conns *c;
    tsv_conn conn;
    const tsv_job_ops *ops;
    void *ctx;
    tsv_snapshot prev;
    tsv_snapshot snap;
    size_t shards_cap;
    tsv_influx2 *c2;
    tsv_influx1_client *c1;
    shard_ref *refs;
    size_t n_refs, refs_cap;
} pull;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

#define logf_(r, ...) tsv_job_logf((r)->ops, (r)->ctx, __VA_ARGS__)

/* ---- metadata blobs -------------------------------------------------------------------- */

static int put_reader(pull *p, tsv_reader *r, uint64_t len, char hex[TSV_OBJECT_HEX],
                      tsv_error *err)
{
    uint64_t size = 0;
    int created = 0;
    if (tsv_objstore_put(tsv_conns_objects(p->c), r, NULL, hex, &size, &created, err) != 0)
        return -1;
    (void)len;
    if (created)
        p->snap.bytes_new += size;
    return 0;
}

static int put_mem(pull *p, const void *data, size_t len, char hex[TSV_OBJECT_HEX], tsv_error *err)
{
    tsv_reader *r = tsv_mem_reader_new(data, len);
    if (!r)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int rc = put_reader(p, r, len, hex, err);
    tsv_reader_free(r);
    return rc;
}

/* A temp file (unlinked at once: only the fd keeps it) to download into. */
static int temp_fd(pull *p, tsv_error *err)
{
    char path[PATH_MAX];
    return tsv_conns_temp_fd(p->c, "meta", path, sizeof path, err);
}

static int put_fd(pull *p, int fd, char hex[TSV_OBJECT_HEX], tsv_error *err)
{
    off_t len = lseek(fd, 0, SEEK_CUR);
    if (lseek(fd, 0, SEEK_SET) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "seek");
    tsv_reader *r = tsv_fd_reader_new(fd);
    if (!r)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int rc = put_reader(p, r, (uint64_t)len, hex, err);
    tsv_reader_free(r); /* does not close fd */
    return rc;
}

/* ---- shard list ------------------------------------------------------------------------ */

static int add_ref(pull *p, uint64_t id, const char *db, const char *rp, tsv_error *err)
{
    for (size_t i = 0; i < p->n_refs; i++)
        if (p->refs[i].id == id)
            return 0;
    if (TSV_ARRAY_GROW(p->refs, p->n_refs, p->refs_cap, err) != 0)
        return -1;
    shard_ref *r = &p->refs[p->n_refs++];
    r->id = id;
    snprintf(r->db, sizeof r->db, "%s", db);
    snprintf(r->rp, sizeof r->rp, "%s", rp);
    return 0;
}

/* 2.x: the selected buckets' manifests (written to sel) and their shards. */
typedef struct select_ctx {
    pull *p;
    tsv_json_writer *w;
} select_ctx;

static int select_one(void *ctx, const tsv_json *m, const char *bucket_id, const char *rp,
                      uint64_t shard_id, tsv_error *err)
{
    select_ctx *s = ctx;
    if (!rp) {
        const char *org = tsv_json_get(m, "organizationID")->str;
        const char *name = tsv_json_get(m, "bucketName")->str;
        if ((s->p->conn.org_id[0] && strcmp(org, s->p->conn.org_id) != 0) ||
            !tsv_conn_selected(&s->p->conn, name))
            return 1;
        tsv_jw_node(s->w, m);
        return 0;
    }
    return add_ref(s->p, shard_id, bucket_id, rp, err);
}

static int select_buckets(pull *p, const tsv_buf *all, tsv_buf *sel, tsv_error *err)
{
    tsv_json_doc *doc = NULL;
    if (tsv_json_parse(&doc, all->data ? (const char *)all->data : "", all->len, err) != 0)
        return tsv_error_wrap(err, "source sent bucket manifests that are not JSON");
    tsv_json_writer w;
    tsv_jw_init(&w, sel, NULL);
    tsv_jw_array_begin(&w);
    select_ctx sc = {p, &w};
    int rc = tsv_manifest_walk(tsv_json_root(doc), select_one, &sc, err);
    if (rc != 0)
        tsv_error_wrap(err, "source sent bad bucket manifests");
    tsv_jw_array_end(&w);
    if (rc == 0)
        rc = tsv_jw_finish(&w, err);
    tsv_json_free(doc);
    return rc;
}

/* 1.x: the selected databases' shards of groups not deleted. */
static int select_databases(pull *p, const uint8_t *meta, size_t len, tsv_error *err)
{
    Meta__Data *md = meta__data__unpack(NULL, len, meta);
    if (!md)
        return tsv_error_set(err, TSV_EINVALID, "source sent a meta.Data that does not decode");
    int rc = 0;
    for (size_t d = 0; rc == 0 && d < md->n_databases; d++) {
        const Meta__DatabaseInfo *db = md->databases[d];
        if (!db->name || !tsv_conn_selected(&p->conn, db->name))
            continue;
        for (size_t r = 0; rc == 0 && r < db->n_retentionpolicies; r++) {
            const Meta__RetentionPolicyInfo *rp = db->retentionpolicies[r];
            for (size_t g = 0; rc == 0 && g < rp->n_shardgroups; g++) {
                const Meta__ShardGroupInfo *sg = rp->shardgroups[g];
                if (sg->deletedat)
                    continue;
                for (size_t s = 0; rc == 0 && s < sg->n_shards; s++)
                    rc = add_ref(p, sg->shards[s]->id, db->name, rp->name ? rp->name : "", err);
            }
        }
    }
    meta__data__free_unpacked(md, NULL);
    return rc;
}

/* ---- shards ---------------------------------------------------------------------------- */

static int fetch(pull *p, const shard_ref *r, int64_t since, tsv_writer *w, uint64_t *bytes,
                 tsv_error *err)
{
    if (p->c2)
        return tsv_influx2_fetch_shard(p->c2, r->id, since, w, bytes, err);
    return tsv_influx1_fetch_shard(p->c1, r->db, r->rp, r->id, since, w, bytes, err);
}

/* Entries must be "<db>/<rp>/<id>/<file>" with a TSM or tombstone file:
 * anything else means the tar does not belong to the shard the metadata
 * names. */
static int entry_file(const shard_ref *r, const tsv_tar_entry *e, const char **base, tsv_error *err)
{
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s/%s/%" PRIu64 "/", r->db, r->rp, r->id);
    size_t pl = strlen(prefix);
    const char *b = e->name + pl;
    size_t bl = strncmp(e->name, prefix, pl) == 0 ? strlen(b) : 0;
    int tsm = bl > 4 && strcmp(b + bl - 4, ".tsm") == 0;
    int tomb = bl > 10 && strcmp(b + bl - 10, ".tombstone") == 0;
    if (!bl || strchr(b, '/') || (!tsm && !tomb))
        return tsv_error_set(err, TSV_EINVALID,
                             "source sent shard %" PRIu64 " with entry \"%.200s\": expected "
                             "%s<TSM or tombstone file> (the tar does not match the metadata)",
                             r->id, e->name, prefix);
    *base = b;
    return 0;
}

static const tsv_snap_shard *prev_shard(const pull *p, uint64_t id)
{
    for (size_t i = 0; i < p->prev.n_shards; i++)
        if (p->prev.shards[i].id == id)
            return &p->prev.shards[i];
    return NULL;
}

static int known(const tsv_snap_shard *ps, const char *base, const tsv_tar_entry *e)
{
    for (size_t i = 0; i < ps->n_files; i++) {
        const tsv_snap_file *f = &ps->files[i];
        if (strcmp(f->name, base) == 0 && f->size == e->size && f->mtime == e->mtime &&
            strcmp(f->hex, e->hex) == 0)
            return 1;
    }
    return 0;
}

static tsv_snap_shard *new_shard(pull *p, tsv_error *err)
{
    if (TSV_ARRAY_GROW(p->snap.shards, p->snap.n_shards, p->shards_cap, err) != 0)
        return NULL;
    tsv_snap_shard *s = &p->snap.shards[p->snap.n_shards++];
    memset(s, 0, sizeof *s);
    return s;
}

/* 1: the probe found nothing new (the previous version stands). */
static int probe(pull *p, const shard_ref *r, const tsv_snap_shard *ps, uint64_t *bytes,
                 tsv_error *err)
{
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < ps->n_files; i++)
        if (ps->files[i].mtime > newest)
            newest = ps->files[i].mtime;
    if (newest == INT64_MIN)
        return 0; /* an empty shard: a full download costs nothing */
    /* A shard whose newest file is older than the previous pull by more
     * than the clock skew (plus the second tar times drop) is probed from
     * the second after that file: every file of that second was there when
     * it was downloaded. A younger one is probed from that file's own
     * second, as a file written later in the same second would otherwise be
     * missed; its newest files come again. */
    int64_t cold_before = p->prev.time - p->conn.clock_skew_ns - NS;
    int64_t since = (newest + 1) * NS <= cold_before ? (newest + 1) * NS - 1 : newest * NS - 1;
    tsv_tar_sink *sink = NULL;
    int rc = tsv_tar_sink_new(&sink, tsv_conns_objects(p->c), tsv_conns_tmp_dir(p->c), err);
    uint64_t got = 0;
    if (rc == 0)
        rc = fetch(p, r, since, tsv_tar_sink_writer(sink), &got, err);
    if (rc == 0)
        rc = tsv_tar_sink_finish(sink, err);
    *bytes += got;
    int same = 1;
    if (rc == 0) {
        size_t n;
        const tsv_tar_entry *e = tsv_tar_sink_entries(sink, &n);
        for (size_t i = 0; rc == 0 && same && i < n; i++) {
            const char *base;
            rc = entry_file(r, &e[i], &base, err);
            if (rc == 0 && !known(ps, base, &e[i]))
                same = 0;
        }
        p->snap.bytes_new += tsv_tar_sink_new_bytes(sink);
    }
    tsv_tar_sink_free(sink);
    return rc != 0 ? -1 : same;
}

static int download(pull *p, const shard_ref *r, tsv_snap_shard *out, uint64_t *bytes,
                    tsv_error *err)
{
    tsv_tar_sink *sink = NULL;
    uint64_t got = 0;
    int rc = tsv_tar_sink_new(&sink, tsv_conns_objects(p->c), tsv_conns_tmp_dir(p->c), err);
    if (rc == 0) {
        rc = fetch(p, r, INT64_MIN, tsv_tar_sink_writer(sink), &got, err);
        if (rc != 0 && err && err->code == TSV_ENOTFOUND) {
            /* removed between the metadata and now, as influx backup skips it */
            logf_(p, "warn", "shard %" PRIu64 " disappeared during the pull; skipped", r->id);
            tsv_tar_sink_free(sink);
            return 1;
        }
    }
    if (rc == 0)
        rc = tsv_tar_sink_finish(sink, err);
    *bytes += got;
    size_t n = 0;
    const tsv_tar_entry *e = rc == 0 ? tsv_tar_sink_entries(sink, &n) : NULL;
    if (rc == 0 && n && !(out->files = calloc(n, sizeof *out->files)))
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *base;
        rc = entry_file(r, &e[i], &base, err);
        if (rc != 0)
            break;
        tsv_snap_file *f = &out->files[out->n_files++];
        snprintf(f->name, sizeof f->name, "%s", base);
        snprintf(f->hex, sizeof f->hex, "%s", e[i].hex);
        f->size = e[i].size;
        f->mtime = e[i].mtime;
    }
    if (rc == 0)
        p->snap.bytes_new += tsv_tar_sink_new_bytes(sink);
    tsv_tar_sink_free(sink);
    return rc;
}

static int do_shard(pull *p, const shard_ref *r, tsv_error *err)
{
    const tsv_snap_shard *ps = prev_shard(p, r->id);
    uint64_t bytes = 0;
    int rc = 0;
    if (ps && strcmp(ps->db, r->db) == 0 && strcmp(ps->rp, r->rp) == 0) {
        rc = probe(p, r, ps, &bytes, err);
        if (rc == 1) {
            tsv_snap_shard *s = new_shard(p, err);
            if (!s)
                return -1;
            *s = *ps;
            s->changed = 0;
            s->files = NULL;
            s->n_files = 0; /* the version is reused: its files are not rewritten */
            p->snap.bytes_pulled += bytes;
            p->ops->advance(p->ctx, bytes, 1);
            return 0;
        }
        if (rc < 0)
            goto fail;
    }
    tsv_snap_shard *s = new_shard(p, err);
    if (!s)
        return -1;
    s->id = r->id;
    snprintf(s->db, sizeof s->db, "%s", r->db);
    snprintf(s->rp, sizeof s->rp, "%s", r->rp);
    s->changed = 1;
    rc = download(p, r, s, &bytes, err);
    if (rc == 1) {
        free(s->files);
        p->snap.n_shards--;
        rc = 0;
    } else if (rc == 0) {
        p->snap.shards_changed++;
    }
fail:
    p->snap.bytes_pulled += bytes;
    p->ops->advance(p->ctx, bytes, 1);
    if (rc != 0)
        return tsv_error_wrap(err, "shard %" PRIu64 " (%s/%s)", r->id, r->db, r->rp);
    return 0;
}

/* ---- the two kinds --------------------------------------------------------------------- */

static int metadata_2x(pull *p, tsv_error *err)
{
    int kv_fd = -1, sql_fd = -1, rc = 0;
    tsv_writer *kv_w = NULL, *sql_w = NULL;
    tsv_buf all = {0}, sel = {0};
    uint64_t bytes = 0;
    if ((kv_fd = temp_fd(p, err)) < 0 || (sql_fd = temp_fd(p, err)) < 0)
        rc = -1;
    if (rc == 0 && (!(kv_w = tsv_fd_writer_new(kv_fd)) || !(sql_w = tsv_fd_writer_new(sql_fd))))
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (rc == 0)
        rc = tsv_influx2_fetch_metadata(p->c2, kv_w, sql_w, &all, &bytes, err);
    if (rc != 0)
        tsv_error_wrap(err, "metadata");
    p->snap.bytes_pulled += bytes;
    if (rc == 0)
        rc = select_buckets(p, &all, &sel, err);
    if (rc == 0)
        rc = put_fd(p, kv_fd, p->snap.kv_hex, err);
    if (rc == 0 && lseek(sql_fd, 0, SEEK_CUR) > 0)
        rc = put_fd(p, sql_fd, p->snap.sql_hex, err);
    if (rc == 0)
        rc = put_mem(p, sel.data, sel.len, p->snap.buckets_hex, err);
    tsv_writer_free(kv_w);
    tsv_writer_free(sql_w);
    if (kv_fd >= 0)
        close(kv_fd);
    if (sql_fd >= 0)
        close(sql_fd);
    tsv_buf_free(&all);
    tsv_buf_free(&sel);
    return rc;
}

static int metadata_1x(pull *p, tsv_error *err)
{
    uint8_t *meta = NULL;
    size_t len = 0;
    int rc = tsv_influx1_fetch_meta(p->c1, &meta, &len, err);
    if (rc != 0)
        tsv_error_wrap(err, "metastore");
    if (rc == 0) {
        p->snap.bytes_pulled += len;
        rc = select_databases(p, meta, len, err);
    }
    if (rc == 0)
        rc = put_mem(p, meta, len, p->snap.meta_hex, err);
    free(meta);
    return rc;
}

int tsv_job_pull_run(tsv_conns *c, const char *connection, const char *job_id,
                     const tsv_job_ops *ops, void *ctx, tsv_error *err)
{
    pull p = {.c = c, .ops = ops, .ctx = ctx};
    if (tsv_conns_load(c, connection, &p.conn, err) != 0)
        return -1;
    tsv_error pe;
    int rc = 0;
    if (tsv_conn_snapshot_at(tsv_conns_catalog(c), connection, INT64_MAX, &p.prev, &pe) != 0) {
        if (pe.code != TSV_ENOTFOUND) {
            *err = pe;
            rc = -1;
        }
        memset(&p.prev, 0, sizeof p.prev);
    }
    snprintf(p.snap.connection, sizeof p.snap.connection, "%s", connection);
    snprintf(p.snap.kind, sizeof p.snap.kind, "%s", p.conn.type);
    snprintf(p.snap.job_id, sizeof p.snap.job_id, "%s", job_id);
    p.snap.time = now_ns();
    tsv_conns_pull_begin(c);
    int v2 = strcmp(p.conn.type, "influxdb2") == 0;
    if (rc == 0 && v2) {
        rc = tsv_influx2_new(&p.c2, p.conn.url, p.conn.token, err);
        if (rc == 0)
            rc = tsv_influx2_set_tls(p.c2, p.conn.ca_file[0] ? p.conn.ca_file : NULL,
                                     p.conn.skip_verify, err);
        if (rc == 0)
            tsv_influx2_set_timeout(p.c2, p.conn.timeout_ms);
    } else if (rc == 0) {
        rc = tsv_influx1_client_new(&p.c1, p.conn.host, p.conn.timeout_ms, err);
    }
    if (rc == 0) {
        logf_(&p, "info", "pulling from %s (%s)%s", v2 ? p.conn.url : p.conn.host, p.conn.type,
              p.prev.id ? "; incremental against the previous snapshot" : "; first snapshot");
        rc = v2 ? metadata_2x(&p, err) : metadata_1x(&p, err);
    }
    if (rc == 0) {
        ops->totals(ctx, 0, p.n_refs);
        logf_(&p, "info", "metadata stored; %zu shard(s) to check", p.n_refs);
    }
    for (size_t i = 0; rc == 0 && i < p.n_refs; i++) {
        if (ops->canceled(ctx)) {
            rc = 1;
            break;
        }
        rc = do_shard(&p, &p.refs[i], err);
    }
    if (rc == 0) {
        p.snap.shards_total = (uint32_t)p.snap.n_shards;
        p.snap.finished = now_ns();
        rc = tsv_conn_snapshot_commit(tsv_conns_catalog(c), &p.snap, err);
    }
    tsv_conns_pull_end(c);
    if (rc == 0) {
        logf_(&p, "info",
              "snapshot %" PRId64 " stored: %u shard(s), %u changed, %" PRIu64
              " bytes pulled, %" PRIu64 " bytes new",
              p.snap.id, p.snap.shards_total, p.snap.shards_changed, p.snap.bytes_pulled,
              p.snap.bytes_new);
        TSV_INFO("msg=\"pull done\" connection=%s snapshot=%" PRId64 " shards=%u changed=%u "
                 "bytes_pulled=%" PRIu64 " bytes_new=%" PRIu64,
                 connection, p.snap.id, p.snap.shards_total, p.snap.shards_changed,
                 p.snap.bytes_pulled, p.snap.bytes_new);
        tsv_error ke;
        if (tsv_conns_apply_keep(c, &p.conn, &ke) != 0)
            logf_(&p, "warn", "keep policy not applied: %s", ke.message);
    }
    tsv_influx2_free(p.c2);
    tsv_influx1_client_free(p.c1);
    tsv_snapshot_clear(&p.prev);
    /* reused versions borrowed nothing: their files pointer is NULL */
    tsv_snapshot_clear(&p.snap);
    free(p.refs);
    tsv_conn_clear(&p.conn);
    return rc;
}
