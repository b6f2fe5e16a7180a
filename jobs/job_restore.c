/* job_restore: `restore` jobs from staged backup archives. */
#include "job_restore.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_detect.h"
#include "archive_read.h"
#include "fault.h"
#include "import_1x.h"
#include "json.h"
#include "manifest.h"
#include "restore.h"
#include "tenant.h"
#include "tsm_trust.h"

typedef struct run {
    tsv_store *s;
    const tsv_restore_spec *spec;
    const tsv_job_ops *ops;
    void *ctx;
    tsv_files *f;
    /* TSM contents the upload validated: not validated again (NULL: all). */
    const tsv_tsm_trust *trust;
} run;

#define logf_(r, ...) tsv_job_logf((r)->ops, (r)->ctx, __VA_ARGS__)

/* Counts the archive bytes a restore consumes, for live progress. */
typedef struct counting_reader {
    tsv_reader base;
    tsv_reader *inner;
    run *r;
} counting_reader;

static ssize_t counting_read(tsv_reader *rd, void *buf, size_t len, tsv_error *err)
{
    counting_reader *c = (counting_reader *)rd;
    ssize_t n = tsv_read(c->inner, buf, len, err);
    if (n > 0)
        c->r->ops->advance(c->r->ctx, (uint64_t)n, 0);
    return n;
}

static void counting_free(tsv_reader *rd) { (void)rd; }

/* Streams the current member (gzip-decoded if gz) into fn. */
typedef int (*member_fn)(run *r, tsv_reader *body, void *arg, tsv_error *err);

static int with_member(run *r, tsv_archive *a, int gzip, member_fn fn, void *arg, tsv_error *err)
{
    counting_reader c = {{counting_read, counting_free}, tsv_archive_member(a), r};
    tsv_reader *dec = NULL;
    if (gzip && tsv_decoder_new(&dec, TSV_CODEC_GZIP, &c.base, err) != 0)
        return -1;
    int rc = fn(r, dec ? dec : &c.base, arg, err);
    tsv_reader_free(dec);
    return rc;
}

static int do_shard(run *r, tsv_reader *body, void *arg, tsv_error *err)
{
    return tsv_store_restore_shard_trusted(r->s, *(uint64_t *)arg, body, r->trust, err);
}

static int do_kv(run *r, tsv_reader *body, void *arg, tsv_error *err)
{
    (void)arg;
    char token[512];
    int rc = tsv_store_restore_kv(r->s, body, token, sizeof token, err);
    memset(token, 0, sizeof token);
    return rc;
}

static int do_sql(run *r, tsv_reader *body, void *arg, tsv_error *err)
{
    (void)arg;
    return tsv_store_restore_sql(r->s, body, err);
}

/* ---- orgs ---------------------------------------------------------------------- */

typedef struct org_hit {
    char id[17];
    char name[256];
    int found;
} org_hit;

static int org_take(void *ctx, const struct tsv_org *o, tsv_error *err)
{
    (void)err;
    org_hit *h = ctx;
    if (h->found)
        return 0;
    snprintf(h->id, sizeof h->id, "%s", o->id);
    snprintf(h->name, sizeof h->name, "%s", o->name ? o->name : "");
    h->found = 1;
    return 0;
}

/* Finds the org by name, creating it if missing (as the influx CLI does). */
static int org_resolve(run *r, const char *name, org_hit *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    if (tsv_store_orgs_list(r->s, name, org_take, out, err) != 0)
        return -1;
    if (out->found)
        return 0;
    tsv_org o;
    memset(&o, 0, sizeof o);
    if (tsv_store_org_create(r->s, name, NULL, &o, err) != 0)
        return tsv_error_wrap(err, "create organization \"%s\"", name);
    org_take(out, &o, NULL);
    tsv_org_clear(&o);
    logf_(r, "info", "created organization \"%s\" (%s)", out->name, out->id);
    return 0;
}

static int org_default(run *r, org_hit *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    if (r->spec->creator_org_id && r->spec->creator_org_id[0]) {
        tsv_org o;
        memset(&o, 0, sizeof o);
        if (tsv_store_org_get(r->s, r->spec->creator_org_id, &o, err) != 0)
            return tsv_error_wrap(err, "organization of the job's creator");
        org_take(out, &o, NULL);
        tsv_org_clear(&o);
        return 0;
    }
    if (tsv_store_orgs_list(r->s, NULL, org_take, out, err) != 0)
        return -1;
    if (!out->found)
        return tsv_error_set(err, TSV_EINVALID,
                             "no organization to restore into: give target.newOrgName");
    return 0;
}

/* ---- shared: bucket restore + the shard pass -------------------------------------- */

typedef struct target {
    tsv_bucket_restore_result res;
    int restored;
} target;

static int restore_bucket(run *r, const char *json, size_t len, target *t, const char *name,
                          tsv_error *err)
{
    if (tsv_store_restore_bucket_manifest(r->s, json, len, &t->res, err) != 0)
        return tsv_error_wrap(err, "restore bucket \"%s\"", name);
    t->restored = 1;
    if (r->ops->created_bucket(r->ctx, t->res.bucket_id, err) != 0)
        return -1;
    logf_(r, "info", "bucket \"%s\" created as %s with %zu shards", name, t->res.bucket_id,
          t->res.count);
    return 0;
}

static int map_shard(const target *t, uint64_t old_id, uint64_t *new_id)
{
    for (size_t i = 0; i < t->res.count; i++)
        if (t->res.mappings[i].old_id == old_id) {
            *new_id = t->res.mappings[i].new_id;
            return 1;
        }
    return 0;
}

/* One pass over the archive restoring the shards `pick` selects. Returns
 * 0, 1 (canceled) or -1. */
typedef int (*pick_fn)(run *r, const tsv_plan_shard *ps, void *arg, uint64_t *dest);

/* The shards the upload validated and kept (upload_check.h): hard links,
 * the archive not read. done[i] is 1 for each shard handled here; one whose
 * kept files fail their check is left to the archive pass (done[i] = 2). */
static int kept_pass(run *r, const tsv_backup_plan *p, pick_fn pick, void *arg, int cancelable,
                     unsigned char *done, tsv_error *err)
{
    for (size_t i = 0; i < p->n_shards; i++) {
        const tsv_plan_shard *ps = &p->shards[i];
        char dir[PATH_MAX];
        if (!tsv_files_kept_shard(r->f, r->spec->file, ps->file, dir, sizeof dir))
            continue;
        uint64_t dest;
        int sel = pick(r, ps, arg, &dest);
        if (sel < 0) {
            done[i] = 1;
            continue;
        }
        if (sel == 0) {
            logf_(r, "warn", "no new ID for shard %" PRIu64 " (%s), skipping", ps->id, ps->file);
            r->ops->advance(r->ctx, ps->size, 1);
            done[i] = 1;
            continue;
        }
        tsv_fault_point("job-member");
        if (cancelable && r->ops->canceled(r->ctx))
            return 1;
        tsv_error kerr;
        if (tsv_store_restore_shard_from_dir(r->s, dest, dir, &kerr) != 0) {
            if (kerr.code != TSV_EINVALID && kerr.code != TSV_ENOTFOUND) {
                *err = kerr;
                return tsv_error_wrap(err, "%s", ps->file);
            }
            logf_(r, "warn", "kept files of %s unusable (%s): restoring it from the archive",
                  ps->file, kerr.message);
            done[i] = 2;
            continue;
        }
        done[i] = 1;
        r->ops->advance(r->ctx, ps->size, 1);
        logf_(r, "info",
              "shard %" PRIu64 " restored from %s into shard %" PRIu64 " (validated on upload)",
              ps->id, ps->file, dest);
    }
    return 0;
}

static int shard_pass(run *r, const char *path, const tsv_backup_plan *p, pick_fn pick, void *arg,
                      int cancelable, tsv_error *err)
{
    unsigned char *done = calloc(p->n_shards ? p->n_shards : 1, 1);
    if (!done)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int rc = kept_pass(r, p, pick, arg, cancelable, done, err);
    size_t left = 0;
    for (size_t i = 0; i < p->n_shards; i++)
        left += done[i] != 1;
    if (rc != 0 || left == 0) {
        free(done);
        return rc;
    }
    tsv_archive *a;
    if (tsv_archive_open(&a, path, err) != 0) {
        free(done);
        return -1;
    }
    tsv_archive_entry e;
    while ((rc = tsv_archive_next(a, &e, err)) == 1) {
        const tsv_plan_shard *ps = NULL;
        size_t at = 0;
        for (size_t i = 0; i < p->n_shards && !ps; i++)
            if (done[i] != 1 && strcmp(p->shards[i].file, e.name) == 0) {
                ps = &p->shards[i];
                at = i;
            }
        if (!ps)
            continue;
        uint64_t dest;
        int sel = pick(r, ps, arg, &dest);
        if (sel < 0)
            continue;
        if (sel == 0) {
            logf_(r, "warn", "no new ID for shard %" PRIu64 " (%s), skipping", ps->id, e.name);
            r->ops->advance(r->ctx, ps->size, 1);
            continue;
        }
        tsv_fault_point("job-member");
        if (cancelable && r->ops->canceled(r->ctx)) {
            rc = 1;
            break;
        }
        rc = with_member(r, a, ps->gzip, do_shard, &dest, err);
        if (rc != 0) {
            /* An uncompressed tar keeps a kept member's bytes only as its
             * extracted files (files_store.c): nothing left to fall back to. */
            if (done[at] == 2)
                tsv_error_wrap(err,
                               "%s: its files kept at upload are damaged and the staged archive "
                               "holds no other copy (upload it again)",
                               e.name);
            else
                tsv_error_wrap(err, "%s", e.name);
            break;
        }
        r->ops->advance(r->ctx, 0, 1);
        logf_(r, "info", "shard %" PRIu64 " restored from %s into shard %" PRIu64, ps->id, e.name,
              dest);
    }
    tsv_archive_close(a);
    free(done);
    return rc;
}

/* ---- influx-backup ----------------------------------------------------------------- */

typedef struct v2_ctx {
    const tsv_backup_plan *p;
    const int *selected;
    target *targets;
} v2_ctx;

static int pick_v2(run *r, const tsv_plan_shard *ps, void *arg, uint64_t *dest)
{
    (void)r;
    v2_ctx *c = arg;
    if (!c->selected[ps->bucket])
        return -1;
    return map_shard(&c->targets[ps->bucket], ps->id, dest);
}

static int pick_full(run *r, const tsv_plan_shard *ps, void *arg, uint64_t *dest)
{
    (void)r;
    (void)arg;
    *dest = ps->id;
    return 1;
}

static const char *jstring(const tsv_json *o, const char *key)
{
    const tsv_json *v = tsv_json_get(o, key);
    return v && v->type == TSV_JSON_STRING ? v->str : "";
}

static int bucket_json(const tsv_json *bk, const char *org_id, const char *org_name,
                       const char *bucket_name, tsv_buf *out, tsv_error *err)
{
    tsv_json_writer w;
    tsv_jw_init(&w, out, NULL);
    tsv_jw_object_begin(&w);
    for (size_t i = 0; i < bk->count; i++) {
        const char *k = bk->keys[i];
        tsv_jw_key(&w, k);
        if (strcmp(k, "organizationID") == 0)
            tsv_jw_string(&w, org_id);
        else if (strcmp(k, "organizationName") == 0)
            tsv_jw_string(&w, org_name);
        else if (strcmp(k, "bucketName") == 0)
            tsv_jw_string(&w, bucket_name);
        else
            tsv_jw_node(&w, bk->items[i]);
    }
    tsv_jw_object_end(&w);
    return tsv_jw_finish(&w, err);
}

static int run_v2_partial(run *r, const char *path, const tsv_backup_plan *p, tsv_error *err)
{
    const tsv_restore_spec *sp = r->spec;
    int *selected = calloc(p->n_buckets ? p->n_buckets : 1, sizeof *selected);
    target *targets = calloc(p->n_buckets ? p->n_buckets : 1, sizeof *targets);
    int rc = selected && targets ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    size_t nsel = 0;
    for (size_t k = 0; rc == 0 && k < p->n_buckets; k++) {
        const char *bn = jstring(p->buckets[k], "bucketName");
        if (bn[0] == '_')
            continue;
        if (sp->bucket && strcmp(sp->bucket, bn) != 0)
            continue;
        selected[k] = 1;
        nsel++;
    }
    if (rc == 0 && sp->bucket && nsel == 0)
        rc = tsv_error_set(err, TSV_EINVALID, "bucket \"%s\" is not in the backup %s", sp->bucket,
                           sp->file);
    uint64_t bytes = 0, shards = 0;
    for (size_t i = 0; rc == 0 && i < p->n_shards; i++)
        if (selected[p->shards[i].bucket]) {
            bytes += p->shards[i].size;
            shards++;
        }
    if (rc == 0)
        r->ops->totals(r->ctx, bytes, shards);
    for (size_t k = 0; rc == 0 && k < p->n_buckets; k++) {
        if (!selected[k])
            continue;
        if (r->ops->canceled(r->ctx)) {
            rc = 1;
            break;
        }
        const tsv_json *bk = p->buckets[k];
        const char *bn = sp->new_bucket ? sp->new_bucket : jstring(bk, "bucketName");
        org_hit org;
        if (org_resolve(r, sp->new_org ? sp->new_org : jstring(bk, "organizationName"), &org,
                        err) != 0) {
            rc = -1;
            break;
        }
        tsv_buf json = {0};
        rc = bucket_json(bk, org.id, org.name, bn, &json, err);
        if (rc == 0)
            rc = restore_bucket(r, (const char *)json.data, json.len, &targets[k], bn, err);
        tsv_buf_free(&json);
    }
    if (rc == 0) {
        v2_ctx c = {p, selected, targets};
        rc = shard_pass(r, path, p, pick_v2, &c, 1, err);
    }
    for (size_t k = 0; targets && k < p->n_buckets; k++)
        tsv_bucket_restore_result_clear(&targets[k].res);
    free(targets);
    free(selected);
    return rc;
}

static int run_v2_full(run *r, const char *path, const tsv_backup_plan *p, tsv_error *err)
{
    uint64_t bytes = p->shard_bytes;
    r->ops->totals(r->ctx, bytes, p->n_shards);
    if (r->ops->canceled(r->ctx))
        return 1;
    /* KV and SQL first (any order: restore/kv carries the live SQL file into
     * the new generation), then the shards under their original IDs, which
     * the restored KV's meta holds. */
    tsv_archive *a;
    if (tsv_archive_open(&a, path, err) != 0)
        return -1;
    int need = 1 + (p->sql_file != NULL);
    tsv_archive_entry e;
    int rc;
    while (need > 0 && (rc = tsv_archive_next(a, &e, err)) == 1) {
        if (strcmp(e.name, p->kv_file) == 0) {
            rc = with_member(r, a, p->kv_gzip, do_kv, NULL, err);
            if (rc == 0)
                logf_(r, "info", "KV restored from %s (a cancel is no longer possible)", e.name);
        } else if (p->sql_file && strcmp(e.name, p->sql_file) == 0) {
            rc = with_member(r, a, p->sql_gzip, do_sql, NULL, err);
            if (rc == 0)
                logf_(r, "info", "SQL store restored from %s", e.name);
        } else {
            continue;
        }
        if (rc != 0) {
            tsv_error_wrap(err, "%s", e.name);
            break;
        }
        need--;
    }
    tsv_archive_close(a);
    if (rc < 0)
        return -1;
    return shard_pass(r, path, p, pick_full, NULL, 0, err);
}

/* ---- influxdb1-portable ----------------------------------------------------------- */

typedef struct pair {
    const char *db, *rp;
    char name[512];
    target t;
} pair;

typedef struct v1_ctx {
    pair *pairs;
    size_t n;
} v1_ctx;

static int pick_v1(run *r, const tsv_plan_shard *ps, void *arg, uint64_t *dest)
{
    (void)r;
    v1_ctx *c = arg;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->pairs[i].db, ps->db) == 0 && strcmp(c->pairs[i].rp, ps->rp) == 0)
            return map_shard(&c->pairs[i].t, ps->id, dest);
    return -1;
}

static int run_v1(run *r, const char *path, const tsv_backup_plan *p, tsv_error *err)
{
    const tsv_restore_spec *sp = r->spec;
    const Meta__Data *m = p->meta1;
    size_t cap = 0;
    for (size_t d = 0; d < m->n_databases; d++)
        cap += m->databases[d]->n_retentionpolicies;
    pair *pairs = calloc(cap ? cap : 1, sizeof *pairs);
    if (!pairs)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    size_t n = 0;
    for (size_t d = 0; d < m->n_databases; d++) {
        const Meta__DatabaseInfo *db = m->databases[d];
        if (strcmp(db->name, "_internal") == 0)
            continue;
        for (size_t i = 0; i < db->n_retentionpolicies; i++) {
            pair *x = &pairs[n];
            x->db = db->name;
            x->rp = db->retentionpolicies[i]->name;
            snprintf(x->name, sizeof x->name, "%s/%s", x->db, x->rp);
            if (sp->bucket && strcmp(sp->bucket, x->name) != 0 && strcmp(sp->bucket, x->db) != 0)
                continue;
            n++;
        }
    }
    int rc = 0;
    if (sp->bucket && n == 0)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "\"%s\" names no database/retention policy of the backup %s", sp->bucket,
                           sp->file);
    if (rc == 0 && sp->new_bucket) {
        if (n != 1)
            rc = tsv_error_set(err, TSV_EINVALID,
                               "newBucketName needs bucketName to select one database/retention "
                               "policy (\"db/rp\"); it selects %zu",
                               n);
        else
            snprintf(pairs[0].name, sizeof pairs[0].name, "%s", sp->new_bucket);
    }
    uint64_t bytes = 0, shards = 0;
    v1_ctx c = {pairs, n};
    for (size_t i = 0; rc == 0 && i < p->n_shards; i++) {
        uint64_t dummy;
        (void)dummy;
        for (size_t k = 0; k < n; k++)
            if (strcmp(pairs[k].db, p->shards[i].db) == 0 &&
                strcmp(pairs[k].rp, p->shards[i].rp) == 0) {
                bytes += p->shards[i].size;
                shards++;
            }
    }
    if (rc == 0)
        r->ops->totals(r->ctx, bytes, shards);
    org_hit org;
    if (rc == 0)
        rc = sp->new_org ? org_resolve(r, sp->new_org, &org, err) : org_default(r, &org, err);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        if (r->ops->canceled(r->ctx)) {
            rc = 1;
            break;
        }
        Meta__DatabaseInfo *dbi = NULL;
        rc = tsv_1x_bucket_database(m, pairs[k].db, pairs[k].rp, pairs[k].name, &dbi, err);
        tsv_buf json = {0};
        if (rc == 0) {
            tsv_json_writer w;
            tsv_jw_init(&w, &json, NULL);
            tsv_manifest_write(&w, org.id, org.name, NULL, pairs[k].name, NULL, dbi);
            rc = tsv_jw_finish(&w, err);
        }
        tsv_meta_free_database(dbi);
        if (rc == 0)
            rc = restore_bucket(r, (const char *)json.data, json.len, &pairs[k].t, pairs[k].name,
                                err);
        tsv_buf_free(&json);
    }
    if (rc == 0)
        rc = shard_pass(r, path, p, pick_v1, &c, 1, err);
    for (size_t k = 0; k < n; k++)
        tsv_bucket_restore_result_clear(&pairs[k].t.res);
    free(pairs);
    return rc;
}

int tsv_job_restore_run(tsv_store *s, tsv_files *f, const tsv_restore_spec *spec,
                        const tsv_job_ops *ops, void *ctx, tsv_error *err)
{
    run r = {s, spec, ops, ctx, f, NULL};
    char path[PATH_MAX];
    if (tsv_files_path(f, spec->file, path, sizeof path, err) != 0)
        return -1;
    tsv_tsm_trust trust;
    tsv_error terr;
    if (tsv_files_validated(f, spec->file, &trust, &terr) == 0) {
        r.trust = &trust;
        logf_(&r, "info", "%zu TSM files were validated on upload: checked by SHA-256 only",
              trust.n);
    } else if (terr.code != TSV_ENOTFOUND) {
        logf_(&r, "warn", "validation list unreadable (%s): every TSM file is validated again",
              terr.message);
    }
    tsv_backup_plan p;
    if (tsv_backup_plan_scan(path, &p, err) != 0) {
        tsv_tsm_trust_clear(&trust);
        return tsv_error_wrap(err, "%s", spec->file);
    }
    int rc;
    if (p.format == TSV_FORMAT_INFLUX_BACKUP)
        rc = spec->full ? run_v2_full(&r, path, &p, err) : run_v2_partial(&r, path, &p, err);
    else if (p.format == TSV_FORMAT_INFLUXDB1_PORTABLE)
        rc = spec->full ? tsv_error_set(err, TSV_EINVALID,
                                        "a full restore needs an influx-backup archive; %s is "
                                        "influxdb1-portable",
                                        spec->file)
                        : run_v1(&r, path, &p, err);
    else
        rc = tsv_error_set(err, TSV_EINVALID, "%s is not a backup archive (%s)", spec->file,
                           tsv_data_format_name(p.format));
    tsv_backup_plan_clear(&p);
    tsv_tsm_trust_clear(&trust);
    return rc;
}
