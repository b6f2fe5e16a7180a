/* job_push: see job_push.h. */
#include "job_push.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array_grow.h"
#include "backup.h"
#include "conn_manifest.h"
#include "influx1_rpc.h"
#include "influx2_backup.h"
#include "json.h"
#include "meta.h"
#include "tar_objects.h"
#include "tsv_log.h"
#include "v1_backup.h"

typedef struct push {
    tsv_conns *c;
    const tsv_push_spec *spec;
    const tsv_job_ops *ops;
    void *ctx;
    tsv_snapshot snap;
    size_t shards_cap; /* allocated length of snap.shards (array_grow.h) */
    uint64_t bytes;
} push;

#define logf_(r, ...) tsv_job_logf((r)->ops, (r)->ctx, __VA_ARGS__)

/* The shard's files as a tar, entries "<db>/<rp>/<id>/<file>" (the names
 * the source's backup API used); a shard the snapshot lacks is empty. */
static int open_shard(void *ctx, uint64_t id, tsv_reader **tar, tsv_error *err)
{
    push *p = ctx;
    if (p->ops->canceled(p->ctx))
        return tsv_error_set(err, TSV_EINTERNAL, "canceled");
    const tsv_snap_shard *sh = NULL;
    for (size_t i = 0; i < p->snap.n_shards && !sh; i++)
        if (p->snap.shards[i].id == id)
            sh = &p->snap.shards[i];
    tsv_tar_entry *e = NULL;
    size_t n = sh ? sh->n_files : 0;
    if (n && !(e = calloc(n, sizeof *e)))
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const tsv_snap_file *f = &sh->files[i];
        if ((size_t)snprintf(e[i].name, sizeof e[i].name, "%s/%s/%" PRIu64 "/%s", sh->db, sh->rp,
                             sh->id, f->name) >= sizeof e[i].name) {
            free(e);
            return tsv_error_set(err, TSV_EINVALID, "shard %" PRIu64 ": entry name too long", id);
        }
        snprintf(e[i].hex, sizeof e[i].hex, "%s", f->hex);
        e[i].size = f->size;
        e[i].mtime = f->mtime;
        bytes += f->size;
    }
    int rc = tsv_tar_source_new(tar, tsv_conns_objects(p->c), e, n, err);
    free(e);
    if (rc == 0) {
        p->bytes += bytes;
        p->ops->advance(p->ctx, bytes, 1);
    }
    return rc;
}

static void close_shard(void *ctx, tsv_reader *tar)
{
    (void)ctx;
    tsv_reader_free(tar);
}

static int read_object(push *p, const char *hex, tsv_buf *out, tsv_error *err)
{
    tsv_reader *r = NULL;
    if (tsv_objstore_get(tsv_conns_objects(p->c), hex, &r, err) != 0)
        return -1;
    tsv_writer *w = tsv_buf_writer_new(out);
    int rc = w ? tsv_copy(w, r, NULL, err) : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    tsv_writer_free(w);
    tsv_reader_free(r);
    return rc;
}

/* ---- a local source: this server's state, captured as objects ------------------------ */

/* Stores one writer-produced stream as an object (through a temp file). */
typedef int (*write_fn)(void *arg, tsv_writer *w, tsv_error *err);

static int capture_object(push *p, write_fn fn, void *arg, char hex[TSV_OBJECT_HEX], tsv_error *err)
{
    /* through an unlinked temp file: a KV of any size in bounded memory */
    char path[4096];
    int fd = tsv_conns_temp_fd(p->c, "local", path, sizeof path, err);
    if (fd < 0)
        return -1;
    tsv_writer *w = tsv_fd_writer_new(fd);
    tsv_reader *r = NULL;
    int rc = w ? fn(arg, w, err) : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (rc == 0 && lseek(fd, 0, SEEK_SET) != 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "seek %s", path);
    if (rc == 0 && !(r = tsv_fd_reader_new(fd)))
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (rc == 0) {
        uint64_t size;
        int created;
        rc = tsv_objstore_put(tsv_conns_objects(p->c), r, NULL, hex, &size, &created, err);
    }
    tsv_reader_free(r);
    tsv_writer_free(w);
    close(fd);
    return rc;
}

static int add_shard(push *p, uint64_t id, const char *db, const char *rp, tsv_tar_sink *sink,
                     tsv_error *err)
{
    if (TSV_ARRAY_GROW(p->snap.shards, p->snap.n_shards, p->shards_cap, err) != 0)
        return -1;
    tsv_snap_shard *sh = &p->snap.shards[p->snap.n_shards];
    memset(sh, 0, sizeof *sh);
    sh->id = id;
    snprintf(sh->db, sizeof sh->db, "%s", db);
    snprintf(sh->rp, sizeof sh->rp, "%s", rp);
    size_t n;
    const tsv_tar_entry *e = tsv_tar_sink_entries(sink, &n);
    if (n && !(sh->files = calloc(n, sizeof *sh->files)))
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    p->snap.n_shards++;
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(e[i].name, '/');
        tsv_snap_file *f = &sh->files[sh->n_files++];
        if ((size_t)snprintf(f->name, sizeof f->name, "%s", base ? base + 1 : e[i].name) >=
            sizeof f->name)
            return tsv_error_set(err, TSV_EINVALID, "shard %" PRIu64 ": file name too long: %.300s",
                                 id, e[i].name);
        snprintf(f->hex, sizeof f->hex, "%s", e[i].hex);
        f->size = e[i].size;
        f->mtime = e[i].mtime;
    }
    return 0;
}

static int shard_to_objects(push *p, tsv_shard_snapshot *ss, uint64_t id, const char *db,
                            const char *rp, tsv_error *err)
{
    tsv_tar_sink *sink = NULL;
    int rc = tsv_tar_sink_new(&sink, tsv_conns_objects(p->c), tsv_conns_tmp_dir(p->c), err);
    if (rc == 0)
        rc = tsv_shard_snapshot_write_tar(ss, tsv_tar_sink_writer(sink), err);
    if (rc == 0)
        rc = tsv_tar_sink_finish(sink, err);
    if (rc == 0)
        rc = add_shard(p, id, db, rp, sink, err);
    tsv_tar_sink_free(sink);
    return rc;
}

static int meta_kv(void *arg, tsv_writer *w, tsv_error *err)
{
    return tsv_metadata_snapshot_write_kv(arg, w, err);
}
static int meta_sql(void *arg, tsv_writer *w, tsv_error *err)
{
    return tsv_metadata_snapshot_write_sql(arg, w, err);
}
static int meta_buckets(void *arg, tsv_writer *w, tsv_error *err)
{
    return tsv_metadata_snapshot_write_buckets(arg, w, err);
}

typedef struct local_walk {
    push *p;
    tsv_store *s;
} local_walk;

static int local_shard(void *ctx, const tsv_json *m, const char *bucket_id, const char *rp,
                       uint64_t id, tsv_error *err)
{
    (void)m;
    local_walk *lw = ctx;
    if (!rp)
        return 0;
    tsv_shard_snapshot *ss = NULL;
    if (tsv_store_shard_snapshot(lw->s, id, INT64_MIN, &ss, err) != 0)
        return err && err->code == TSV_ENOTFOUND ? 0 : -1; /* deleted meanwhile */
    int rc = shard_to_objects(lw->p, ss, id, bucket_id, rp, err);
    tsv_shard_snapshot_free(ss);
    return rc;
}

static int capture_2x(push *p, tsv_store *s, tsv_error *err)
{
    tsv_metadata_snapshot *ms = NULL;
    tsv_buf buckets = {0};
    tsv_json_doc *doc = NULL;
    int rc = tsv_store_metadata_snapshot(s, &ms, err);
    if (rc == 0)
        rc = capture_object(p, meta_kv, ms, p->snap.kv_hex, err);
    if (rc == 0)
        rc = capture_object(p, meta_sql, ms, p->snap.sql_hex, err);
    if (rc == 0)
        rc = capture_object(p, meta_buckets, ms, p->snap.buckets_hex, err);
    if (ms)
        tsv_metadata_snapshot_end(ms);
    if (rc == 0)
        rc = read_object(p, p->snap.buckets_hex, &buckets, err);
    if (rc == 0)
        rc = tsv_json_parse(&doc, (const char *)buckets.data, buckets.len, err);
    local_walk lw = {p, s};
    if (rc == 0)
        rc = tsv_manifest_walk(tsv_json_root(doc), local_shard, &lw, err);
    tsv_json_free(doc);
    tsv_buf_free(&buckets);
    return rc;
}

static int capture_1x(push *p, tsv_store *s, const char *org, tsv_error *err)
{
    tsv_v1_view *v = NULL;
    uint8_t *meta = NULL;
    size_t len = 0;
    int rc = tsv_store_v1_view(s, org, &v, err);
    if (rc == 0)
        rc = tsv_v1_view_encode(v, &meta, &len, err);
    if (rc == 0) {
        tsv_reader *r = tsv_mem_reader_new(meta, len);
        uint64_t size;
        int created;
        rc = r ? tsv_objstore_put(tsv_conns_objects(p->c), r, NULL, p->snap.meta_hex, &size,
                                  &created, err)
               : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        tsv_reader_free(r);
    }
    for (size_t i = 0; rc == 0 && i < v->n_shards; i++) {
        const tsv_v1_shard_ref *ref = &v->shards[i];
        tsv_shard_snapshot *ss = NULL;
        if (tsv_store_v1_shard_snapshot(s, v, ref->id, INT64_MIN, &ss, err) != 0) {
            rc = err && err->code == TSV_ENOTFOUND ? 0 : -1;
            continue;
        }
        rc = shard_to_objects(p, ss, ref->id, ref->db, ref->rp, err);
        tsv_shard_snapshot_free(ss);
    }
    free(meta);
    tsv_v1_view_free(v);
    return rc;
}

static int push_2x(push *p, const tsv_conn *tgt, tsv_error *err)
{
    tsv_influx2 *cl = NULL;
    tsv_buf buckets = {0};
    tsv_reader *kv = NULL, *sql = NULL;
    int rc = tsv_influx2_new(&cl, tgt->url, tgt->token, err);
    if (rc == 0)
        rc = tsv_influx2_set_tls(cl, tgt->ca_file[0] ? tgt->ca_file : NULL, tgt->skip_verify, err);
    if (rc == 0) {
        tsv_influx2_set_timeout(cl, tgt->timeout_ms);
        rc = read_object(p, p->snap.buckets_hex, &buckets, err);
    }
    tsv_influx2_restore_request rq = {
        .buckets_json = (const char *)buckets.data,
        .buckets_len = buckets.len,
        .open_shard = open_shard,
        .close_shard = close_shard,
        .ctx = p,
    };
    if (rc == 0 && p->spec->full) {
        rq.full = 1;
        rc = tsv_objstore_get(tsv_conns_objects(p->c), p->snap.kv_hex, &kv, err);
        if (rc == 0 && p->snap.sql_hex[0])
            rc = tsv_objstore_get(tsv_conns_objects(p->c), p->snap.sql_hex, &sql, err);
        rq.kv = kv;
        rq.sql = sql;
        if (rc == 0)
            rc = tsv_influx2_restore(cl, &rq, NULL, err);
    } else if (rc == 0 && p->spec->n_rename) {
        rq.new_org_name = p->spec->new_org;
        for (size_t i = 0; rc == 0 && i < p->spec->n_rename; i++) {
            rq.bucket_name = p->spec->rename_from[i];
            rq.new_bucket_name = p->spec->rename_to[i];
            logf_(p, "info", "restoring bucket %s as %s", rq.bucket_name, rq.new_bucket_name);
            rc = tsv_influx2_restore(cl, &rq, NULL, err);
        }
    } else if (rc == 0) {
        rq.new_org_name = p->spec->new_org;
        rc = tsv_influx2_restore(cl, &rq, NULL, err);
    }
    tsv_reader_free(kv);
    tsv_reader_free(sql);
    tsv_buf_free(&buckets);
    tsv_influx2_free(cl);
    return rc;
}

static int has_database(const Meta__Data *md, const char *db, const char *rp)
{
    for (size_t d = 0; d < md->n_databases; d++) {
        if (strcmp(md->databases[d]->name, db) != 0)
            continue;
        if (!rp)
            return 1;
        for (size_t r = 0; r < md->databases[d]->n_retentionpolicies; r++)
            if (strcmp(md->databases[d]->retentionpolicies[r]->name, rp) == 0)
                return 1;
    }
    return 0;
}

/* One `influxd restore -portable -db D -newdb N [-rp R -newrp M]`. */
static int restore_1x(push *p, tsv_influx1_client *cl, const tsv_buf *meta, const char *db,
                      const char *rp, const char *new_db, const char *new_rp, tsv_error *err)
{
    tsv_influx1_restore_request rq = {
        .meta = meta->data,
        .meta_len = meta->len,
        .backup_db = db,
        .restore_db = new_db,
        .backup_rp = rp,
        .restore_rp = new_rp,
        .open_shard = open_shard,
        .close_shard = close_shard,
        .ctx = p,
    };
    if (rp)
        logf_(p, "info", "restoring %s/%s as %s/%s", db, rp, new_db, new_rp);
    else
        logf_(p, "info", "restoring database %s as %s", db, new_db);
    if (tsv_influx1_restore_database(cl, &rq, NULL, err) != 0)
        return rp ? tsv_error_wrap(err, "%s/%s", db, rp) : tsv_error_wrap(err, "database %s", db);
    return 0;
}

/* Without renames every database the snapshot holds shards of; with them
 * only the named ones: "db":"newdb" (every RP) or "db/rp":"newdb/newrp". */
static int push_1x(push *p, const tsv_conn *tgt, tsv_error *err)
{
    tsv_buf meta = {0};
    tsv_influx1_client *cl = NULL;
    Meta__Data *md = NULL;
    int rc = read_object(p, p->snap.meta_hex, &meta, err);
    if (rc == 0 && !(md = meta__data__unpack(NULL, meta.len, meta.data)))
        rc = tsv_error_set(err, TSV_EINTERNAL, "stored meta.Data does not decode");
    if (rc == 0)
        rc = tsv_influx1_client_new(&cl, tgt->host, tgt->timeout_ms, err);
    size_t done = 0;
    for (size_t i = 0; rc == 0 && i < p->spec->n_rename; i++) {
        char db[256], rp[256], ndb[256], nrp[256];
        const char *from = p->spec->rename_from[i], *to = p->spec->rename_to[i];
        const char *fs = strchr(from, '/'), *ts = strchr(to, '/');
        if (!fs != !ts || strlen(from) >= sizeof db || strlen(to) >= sizeof ndb) {
            rc = tsv_error_set(err, TSV_EINVALID,
                               "target.rename \"%.100s\":\"%.100s\": rename a database "
                               "(\"db\":\"newdb\") or a retention policy "
                               "(\"db/rp\":\"newdb/newrp\")",
                               from, to);
            break;
        }
        snprintf(db, sizeof db, "%.*s", fs ? (int)(fs - from) : (int)strlen(from), from);
        snprintf(rp, sizeof rp, "%s", fs ? fs + 1 : "");
        snprintf(ndb, sizeof ndb, "%.*s", ts ? (int)(ts - to) : (int)strlen(to), to);
        snprintf(nrp, sizeof nrp, "%s", ts ? ts + 1 : "");
        if (!has_database(md, db, fs ? rp : NULL)) {
            rc =
                tsv_error_set(err, TSV_EINVALID, "target.rename: the snapshot has no %s \"%.200s\"",
                              fs ? "retention policy" : "database", from);
            break;
        }
        rc = restore_1x(p, cl, &meta, db, fs ? rp : NULL, ndb, fs ? nrp : NULL, err);
        done++;
    }
    for (size_t d = 0; rc == 0 && !p->spec->n_rename && d < md->n_databases; d++) {
        const char *db = md->databases[d]->name;
        int has = 0;
        for (size_t i = 0; i < p->snap.n_shards && !has; i++)
            has = strcmp(p->snap.shards[i].db, db) == 0;
        if (!has)
            continue;
        rc = restore_1x(p, cl, &meta, db, NULL, db, NULL, err);
        done++;
    }
    if (rc == 0 && done == 0)
        rc = tsv_error_set(err, TSV_EINVALID, "the snapshot holds no database");
    if (md)
        meta__data__free_unpacked(md, NULL);
    tsv_influx1_client_free(cl);
    tsv_buf_free(&meta);
    return rc;
}

int tsv_job_push_run(tsv_conns *c, tsv_store *local, const tsv_push_spec *spec,
                     const tsv_job_ops *ops, void *ctx, tsv_error *err)
{
    push p = {.c = c, .spec = spec, .ops = ops, .ctx = ctx};
    tsv_conn tgt;
    if (tsv_conns_load(c, spec->target, &tgt, err) != 0)
        return tsv_error_wrap(err, "target");
    /* GC off: the snapshot's objects must stay while they are sent (a local
     * capture's are in no snapshot at all) */
    tsv_conns_pull_begin(c);
    int rc;
    if (spec->source) {
        rc = tsv_conn_snapshot_at(tsv_conns_catalog(c), spec->source, spec->target_time, &p.snap,
                                  err);
    } else {
        snprintf(p.snap.kind, sizeof p.snap.kind, "%s", tgt.type);
        logf_(&p, "info", "capturing this server's state as %s", tgt.type);
        rc = strcmp(tgt.type, "influxdb2") == 0 ? capture_2x(&p, local, err)
                                                : capture_1x(&p, local, spec->source_org, err);
        if (rc != 0)
            tsv_error_wrap(err, "local state");
    }
    if (rc == 0 && strcmp(p.snap.kind, tgt.type) != 0)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "snapshot %" PRId64 " of \"%s\" is an %s snapshot; \"%s\" is an %s "
                           "server",
                           p.snap.id, spec->source ? spec->source : "local", p.snap.kind,
                           spec->target, tgt.type);
    if (rc == 0 && spec->full && strcmp(tgt.type, "influxdb2") != 0)
        rc = tsv_error_set(err, TSV_EINVALID, "target.full is for influxdb2 targets");
    if (rc == 0) {
        uint64_t total = 0;
        for (size_t i = 0; i < p.snap.n_shards; i++)
            for (size_t k = 0; k < p.snap.shards[i].n_files; k++)
                total += p.snap.shards[i].files[k].size;
        ops->totals(ctx, total, p.snap.n_shards);
        if (spec->source)
            logf_(&p, "info", "pushing snapshot %" PRId64 " of %s to %s (%s)", p.snap.id,
                  spec->source, spec->target, tgt.type);
        else
            logf_(&p, "info", "pushing this server's state to %s (%s)", spec->target, tgt.type);
        rc = strcmp(tgt.type, "influxdb2") == 0 ? push_2x(&p, &tgt, err) : push_1x(&p, &tgt, err);
    }
    if (rc != 0 && ops->canceled(ctx))
        rc = 1;
    tsv_conns_pull_end(c);
    if (rc == 0)
        logf_(&p, "info", "pushed %" PRIu64 " bytes of shard data", p.bytes);
    tsv_snapshot_clear(&p.snap);
    tsv_conn_clear(&tgt);
    return rc;
}
