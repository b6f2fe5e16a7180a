/* job_vault: delete_data, restore_data and verify jobs (job_vault.h). */
#include "job_vault.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_tier.h"
#include "store_vault.h"
#include "tenant.h"
#include "vault_ops.h"
#include "verify.h"

int tsv_job_vault_type(const char *type, tsv_vault_job_kind *kind)
{
    static const struct {
        const char *name;
        tsv_vault_job_kind kind;
    } t[] = {{"delete_data", TSV_VJOB_DELETE_DATA},
             {"restore_data", TSV_VJOB_RESTORE_DATA},
             {"verify", TSV_VJOB_VERIFY}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(type, t[i].name) == 0) {
            if (kind)
                *kind = t[i].kind;
            return 1;
        }
    return 0;
}

static const char *kind_name(tsv_vault_job_kind k)
{
    return k == TSV_VJOB_DELETE_DATA    ? "delete_data"
           : k == TSV_VJOB_RESTORE_DATA ? "restore_data"
                                        : "verify";
}

/* A non-empty string member, NULL if absent; *bad on a wrong type. */
static const char *str_field(const tsv_json *o, const char *key, const char *what, int *bad,
                             tsv_error *err)
{
    const tsv_json *v = o ? tsv_json_get(o, key) : NULL;
    if (!v || v->type == TSV_JSON_NULL)
        return NULL;
    if (v->type != TSV_JSON_STRING || v->len == 0 || strlen(v->str) != v->len) {
        *bad = 1;
        tsv_error_set(err, TSV_EINVALID, "%s%s must be a non-empty string", what, key);
        return NULL;
    }
    return v->str;
}

/* ---- bucket lookup ------------------------------------------------------------- */

typedef struct find_ctx {
    char id[17];
    char org_id[17];
    size_t hits;
} find_ctx;

static int find_bucket(void *ctx, const tsv_bucket *b, tsv_error *err)
{
    (void)err;
    find_ctx *f = ctx;
    if (f->hits++ == 0) {
        snprintf(f->id, sizeof f->id, "%s", b->id);
        snprintf(f->org_id, sizeof f->org_id, "%s", b->org_id);
    }
    return 0;
}

static int no_op_unused(void *ctx, const tsv_unused_shard *u, tsv_error *err)
{
    (void)ctx;
    (void)u;
    (void)err;
    return 0; /* (a non-zero return would be passed back as an error) */
}

static int resolve_bucket(tsv_store *s, const tsv_json *tgt, const char *creator_org,
                          tsv_vault_job *out, tsv_error *err)
{
    int bad = 0;
    const char *tt = str_field(tgt, "type", "target.", &bad, err);
    const char *table = bad ? NULL : str_field(tgt, "tableName", "target.", &bad, err);
    const char *bname = bad ? NULL : str_field(tgt, "bucketName", "target.", &bad, err);
    const char *bid = bad ? NULL : str_field(tgt, "bucketID", "target.", &bad, err);
    const char *org = bad ? NULL : str_field(tgt, "orgName", "target.", &bad, err);
    const char *org_id = bad ? NULL : str_field(tgt, "orgID", "target.", &bad, err);
    if (bad)
        return -1;
    if (!tt)
        return tsv_error_set(err, TSV_EINVALID, "target.type is required (table or bucket)");
    if (strcmp(tt, "table") != 0 && strcmp(tt, "bucket") != 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "target.type \"%s\" is not supported for %s jobs (table or bucket)",
                             tt, kind_name(out->kind));
    if (table && bname && strcmp(table, bname) != 0)
        return tsv_error_set(err, TSV_EINVALID, "target: tableName and bucketName differ");
    const char *name = bname ? bname : table;
    if (bid) {
        uint64_t idv;
        tsv_error e;
        if (strlen(bid) != 16 || tsv_id_parse(bid, &idv, &e) != 0)
            return tsv_error_set(err, TSV_EINVALID, "target.bucketID \"%.40s\" is not a bucket ID",
                                 bid);
        snprintf(out->bucket_id, sizeof out->bucket_id, "%s", bid);
        tsv_bucket b;
        memset(&b, 0, sizeof b);
        if (tsv_store_bucket_get(s, bid, &b, &e) == 0) {
            if (name && strcmp(name, b.name) != 0) {
                tsv_bucket_clear(&b);
                return tsv_error_set(err, TSV_EINVALID,
                                     "target: bucket %s is named \"%s\", not \"%s\"", bid, b.name,
                                     name);
            }
            snprintf(out->bucket_name, sizeof out->bucket_name, "%s", b.name);
            tsv_bucket_clear(&b);
            return 0;
        }
        if (e.code != TSV_ENOTFOUND) {
            if (err)
                *err = e;
            return -1;
        }
        /* A deleted bucket the vault still holds versions of. */
        if (tsv_store_unused_shards(s, bid, NULL, NULL, no_op_unused, NULL, &e) != 0)
            return tsv_error_set(err, TSV_EINVALID, "target.bucketID: bucket %s not found", bid);
        snprintf(out->bucket_name, sizeof out->bucket_name, "%s", name ? name : bid);
        return 0;
    }
    if (!name)
        return tsv_error_set(err, TSV_EINVALID,
                             "target.tableName (or bucketName, or bucketID) is required");
    find_ctx f;
    memset(&f, 0, sizeof f);
    tsv_bucket_filter flt = {0};
    flt.name = name;
    flt.org_name = org;
    flt.org_id = org_id ? org_id : (!org && creator_org && creator_org[0] ? creator_org : NULL);
    tsv_error e;
    if (tsv_store_buckets_list(s, &flt, 0, 0, find_bucket, &f, &e) != 0 &&
        e.code != TSV_ENOTFOUND) {
        if (err)
            *err = e;
        return -1;
    }
    if (f.hits == 0 && !org && !org_id && flt.org_id) {
        /* Not in the creator's organization: the seed's request names a
         * table only, so look in every organization (it must be unique). */
        flt.org_id = NULL;
        if (tsv_store_buckets_list(s, &flt, 0, 0, find_bucket, &f, &e) != 0 &&
            e.code != TSV_ENOTFOUND) {
            if (err)
                *err = e;
            return -1;
        }
    }
    if (f.hits == 0)
        return tsv_error_set(err, TSV_EINVALID, "target: bucket \"%s\" not found%s%s", name,
                             org || org_id ? " in organization " : "",
                             org      ? org
                             : org_id ? org_id
                                      : "");
    if (f.hits > 1)
        return tsv_error_set(err, TSV_EINVALID,
                             "target: %zu organizations have a bucket \"%s\"; give target.orgName",
                             f.hits, name);
    snprintf(out->bucket_id, sizeof out->bucket_id, "%s", f.id);
    snprintf(out->bucket_name, sizeof out->bucket_name, "%s", name);
    return 0;
}

/* ---- intervals -------------------------------------------------------------------- */

static int add_interval(tsv_vault_job *out, const tsv_json *v, const char *what, tsv_error *err)
{
    if (!v || v->type != TSV_JSON_STRING)
        return tsv_error_set(err, TSV_EINVALID,
                             "%s must be an ISO 8601 interval string \"<start>/<end>\"", what);
    if (out->n_intervals == TSV_JOB_MAX_INTERVALS)
        return tsv_error_set(err, TSV_EINVALID, "%s: more than %d intervals", what,
                             TSV_JOB_MAX_INTERVALS);
    if (tsv_interval_parse(v->str, v->len, &out->intervals[out->n_intervals], err) != 0)
        return tsv_error_wrap(err, "%s \"%.100s\"", what, v->str);
    out->n_intervals++;
    return 0;
}

static int add_intervals(tsv_vault_job *out, const tsv_json *arr, const char *what, tsv_error *err)
{
    if (!arr || arr->type == TSV_JSON_NULL)
        return 0;
    if (arr->type != TSV_JSON_ARRAY)
        return tsv_error_set(err, TSV_EINVALID, "%s must be an array of interval strings", what);
    for (size_t i = 0; i < arr->count; i++)
        if (add_interval(out, arr->items[i], what, err) != 0)
            return -1;
    return 0;
}

int tsv_job_vault_bind(tsv_store *s, tsv_vault_job_kind kind, const tsv_json *root,
                       const char *creator_org_id, const char *known_bucket_id, tsv_vault_job *out,
                       tsv_error *err)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    const tsv_json *tgt = tsv_json_get(root, "target");
    if (tgt && tgt->type != TSV_JSON_OBJECT && tgt->type != TSV_JSON_NULL)
        return tsv_error_set(err, TSV_EINVALID, "target must be an object");
    if (tgt && tgt->type == TSV_JSON_NULL)
        tgt = NULL;
    const tsv_json *src = tsv_json_get(root, "source");
    if (src && src->type != TSV_JSON_NULL)
        return tsv_error_set(err, TSV_EINVALID, "%s jobs take no source", kind_name(kind));

    if (kind == TSV_VJOB_VERIFY) {
        const tsv_json *rate = tsv_json_get(root, "maxBytesPerSecond");
        if (rate && rate->type != TSV_JSON_NULL &&
            tsv_json_u64(rate, &out->max_bytes_per_sec, "maxBytesPerSecond", err) != 0)
            return -1;
        int bad = 0;
        const char *tt = tgt ? str_field(tgt, "type", "target.", &bad, err) : NULL;
        if (bad)
            return -1;
        if (!tgt || (tt && strcmp(tt, "full") == 0)) {
            if (tgt && tgt->count > 1)
                return tsv_error_set(err, TSV_EINVALID,
                                     "target: a full verify cannot name a bucket");
            return 0;
        }
    } else if (!tgt) {
        return tsv_error_set(err, TSV_EINVALID,
                             "target is required: {\"type\":\"table\",\"tableName\":\"<bucket>\"}");
    }

    if (known_bucket_id && known_bucket_id[0]) {
        snprintf(out->bucket_id, sizeof out->bucket_id, "%s", known_bucket_id);
        int bad = 0;
        const char *n = str_field(tgt, "bucketName", "target.", &bad, err);
        if (!n && !bad)
            n = str_field(tgt, "tableName", "target.", &bad, err);
        snprintf(out->bucket_name, sizeof out->bucket_name, "%s", n ? n : known_bucket_id);
    } else if (resolve_bucket(s, tgt, creator_org_id, out, err) != 0) {
        return -1;
    }
    if (kind == TSV_VJOB_VERIFY)
        return 0;

    if (add_intervals(out, tsv_json_get(tgt, "intervals"), "target.intervals", err) != 0 ||
        add_intervals(out, tsv_json_get(root, "intervals"), "intervals", err) != 0)
        return -1;
    const tsv_json *one = tsv_json_get(root, "interval");
    if (one && one->type != TSV_JSON_NULL && add_interval(out, one, "interval", err) != 0)
        return -1;
    const tsv_json *da = tsv_json_get(root, "deleteAll");
    if (da && da->type == TSV_JSON_BOOL && da->boolean)
        return tsv_error_set(err, TSV_EINVALID,
                             "deleteAll is not supported: give the intervals to %s",
                             kind == TSV_VJOB_DELETE_DATA ? "delete" : "restore");
    if (out->n_intervals == 0)
        return tsv_error_set(err, TSV_EINVALID,
                             kind == TSV_VJOB_DELETE_DATA
                                 ? "target.intervals is required: [\"<start>/<end>\", ...]"
                                 : "interval is required: \"<start>/<end>\"");
    if (kind == TSV_VJOB_RESTORE_DATA) {
        if (out->n_intervals != 1)
            return tsv_error_set(err, TSV_EINVALID,
                                 "restore_data takes exactly one interval (got %zu); create one "
                                 "job per interval",
                                 out->n_intervals);
        const tsv_json *ver = tsv_json_get(root, "version");
        if (ver && ver->type != TSV_JSON_NULL &&
            (tsv_json_u64(ver, &out->version, "version", err) != 0 || out->version == 0))
            return tsv_error_set(err, TSV_EINVALID, "version must be a positive integer");
    } else if (tsv_json_get(root, "version")) {
        return tsv_error_set(err, TSV_EINVALID, "version applies to restore_data jobs only");
    }
    return 0;
}

/* ---- running ------------------------------------------------------------------------- */

typedef struct vrun {
    const tsv_job_ops *ops;
    void *ctx;
    size_t reported;
    uint64_t files_reported, bytes_reported;
} vrun;

#define logf_(r, ...) tsv_job_logf((r)->ops, (r)->ctx, __VA_ARGS__)

static int vault_progress(void *ctx, size_t done, size_t total, const tsv_vault_shard_result *last)
{
    vrun *r = ctx;
    (void)last;
    if (r->reported == 0)
        r->ops->totals(r->ctx, 0, total);
    if (done > r->reported) {
        r->ops->advance(r->ctx, 0, done - r->reported);
        r->reported = done;
    }
    return 0;
}

static void log_result(const vrun *r, const tsv_vault_shard_result *x)
{
    char iv[TSV_INTERVAL_MAX];
    tsv_interval in = {x->start_ns, x->end_ns};
    tsv_interval_format(&in, iv, sizeof iv);
    const char *level = x->outcome == TSV_VAULT_REFUSED ? "warn" : "info";
    logf_(r, level, "shard %" PRIu64 " (%s, %s): %s, version %" PRIu64 " to %" PRIu64 "%s%s",
          x->shard_id, x->rp, iv, tsv_vault_outcome_name(x->outcome), x->from_version,
          x->to_version, x->reason[0] ? ": " : "", x->reason);
}

static int run_vault_op(tsv_store *s, const tsv_vault_job *vj, const char *job_id,
                        const atomic_int *cancel, vrun *r, tsv_vault_job_outcome *out,
                        tsv_error *err)
{
    tsv_vault_op_options o = {
        .progress = vault_progress,
        .progress_ctx = r,
        .cancel = cancel,
        .op_id = job_id,
        .version = vj->version,
    };
    tsv_vault_result res;
    memset(&res, 0, sizeof res);
    for (size_t i = 0; i < vj->n_intervals; i++) {
        char iv[TSV_INTERVAL_MAX];
        tsv_interval_format(&vj->intervals[i], iv, sizeof iv);
        logf_(r, "info", "%s of bucket \"%s\" (%s), interval %s", kind_name(vj->kind),
              vj->bucket_name, vj->bucket_id, iv);
    }
    int rc =
        vj->kind == TSV_VJOB_DELETE_DATA
            ? tsv_vault_delete_data(s, vj->bucket_id, vj->intervals, vj->n_intervals, &o, &res, err)
            : tsv_vault_restore_data(s, vj->bucket_id, &vj->intervals[0], &o, &res, err);
    if (rc == 0 && res.cancelled) {
        logf_(r, "info", "canceled before the commit: nothing changed (%zu shards looked at)",
              res.total);
        tsv_vault_result_clear(&res);
        return 1;
    }
    size_t refused = 0, changed = 0;
    for (size_t i = 0; i < res.count; i++) {
        log_result(r, &res.shards[i]);
        if (res.shards[i].outcome == TSV_VAULT_REFUSED)
            refused++;
        else if (res.shards[i].outcome != TSV_VAULT_UNCHANGED)
            changed++;
    }
    if (rc == 0) {
        if (res.total > r->reported)
            r->ops->advance(r->ctx, 0, res.total - r->reported);
        logf_(r, "info", "%zu of %zu shards changed, %zu refused, %" PRIu64 " files linked",
              changed, res.count, refused, res.files);
        if (refused) {
            out->warn = 1;
            snprintf(out->message, sizeof out->message, "%zu of %zu shards refused (see the logs)",
                     refused, res.count);
        }
    }
    tsv_vault_result_clear(&res);
    return rc;
}

typedef struct verify_ctx {
    vrun *r;
    const atomic_int *cancel;
    uint64_t files, bytes;
} verify_ctx;

static int verify_problem(void *ctx, const tsv_verify_problem *p, tsv_error *err)
{
    (void)err;
    verify_ctx *c = ctx;
    char where[1024];
    int n = snprintf(where, sizeof where, "%s", p->file[0] ? p->file : "store");
    if (p->bucket_id[0] && n >= 0 && (size_t)n < sizeof where)
        n += snprintf(where + n, sizeof where - (size_t)n, " (bucket %s", p->bucket_id);
    if (p->bucket_id[0] && p->rp[0] && n >= 0 && (size_t)n < sizeof where)
        n += snprintf(where + n, sizeof where - (size_t)n, ", rp %s", p->rp);
    if (p->bucket_id[0] && p->shard_id && n >= 0 && (size_t)n < sizeof where)
        n += snprintf(where + n, sizeof where - (size_t)n, ", shard %" PRIu64, p->shard_id);
    if (p->bucket_id[0] && n >= 0 && (size_t)n < sizeof where)
        n += snprintf(where + n, sizeof where - (size_t)n, ")");
    if (p->offset >= 0 && n >= 0 && (size_t)n < sizeof where)
        snprintf(where + n, sizeof where - (size_t)n, " at offset %" PRId64, p->offset);
    logf_(c->r, "error", "problem: %s: %s", where, p->message);
    return 0;
}

static int verify_progress(void *ctx, const tsv_verify_progress *p)
{
    verify_ctx *c = ctx;
    c->r->ops->totals(c->r->ctx, p->bytes_total, p->files_total);
    if (p->bytes_done > c->bytes || p->files_done > c->files) {
        c->r->ops->advance(c->r->ctx, p->bytes_done - c->bytes, p->files_done - c->files);
        c->bytes = p->bytes_done;
        c->files = p->files_done;
    }
    return c->cancel && atomic_load(c->cancel);
}

static void tier_problem(void *ctx, const char *what, const char *message)
{
    verify_ctx *c = ctx;
    logf_(c->r, "error", "problem: S3 %s: %s", what, message);
}

static int tier_progress(void *ctx, uint64_t done, uint64_t total, uint64_t bytes)
{
    (void)done;
    (void)total;
    (void)bytes;
    verify_ctx *c = ctx;
    return c->cancel && atomic_load(c->cancel);
}

/* The copies in S3: what a recovery would read. */
static int verify_tier(struct tsv_tier *tier, verify_ctx *c, uint64_t *problems, tsv_error *err)
{
    tsv_tier_verify_summary ts;
    logf_(c->r, "info",
          "verify of the copies in the object store (newest checkpoint, its log "
          "segments, every object they list)");
    if (tsv_tier_verify(tier, tier_problem, tier_progress, c, &ts, err) != 0)
        return -1;
    logf_(c->r, ts.problems ? "error" : "info",
          "object store: checkpoint %s, %" PRIu64 " objects (%" PRIu64 " bytes) read back and "
          "checked, %" PRIu64 " repaired from local copies: %" PRIu64 " problems; %" PRIu64
          " log segments after the checkpoint read back",
          ts.checkpoint, ts.objects, ts.bytes, ts.repaired, ts.problems, ts.segments);
    *problems += ts.problems + ts.repaired; /* a repair is a problem found */
    return 0;
}

static int run_verify(tsv_store *s, struct tsv_tier *tier, const tsv_vault_job *vj,
                      const atomic_int *cancel, vrun *r, tsv_vault_job_outcome *out, tsv_error *err)
{
    verify_ctx c = {r, cancel, 0, 0};
    tsv_verify_options o = {
        .bucket_id = vj->bucket_id[0] ? vj->bucket_id : NULL,
        .max_bytes_per_sec = vj->max_bytes_per_sec,
        .on_problem = verify_problem,
        .on_progress = verify_progress,
        .ctx = &c,
    };
    if (vj->bucket_id[0])
        logf_(r, "info", "verify of bucket \"%s\" (%s)", vj->bucket_name, vj->bucket_id);
    else
        logf_(r, "info", "verify of the whole store (KV, shards, objects, catalogue)");
    if (vj->max_bytes_per_sec)
        logf_(r, "info", "read rate bounded to %" PRIu64 " bytes/s", vj->max_bytes_per_sec);
    tsv_verify_summary sum;
    tsv_error e;
    if (tsv_store_verify(s, &o, &sum, &e) != 0) {
        if (e.code == TSV_EUNAVAILABLE && cancel && atomic_load(cancel)) {
            logf_(r, "info", "canceled after %" PRIu64 " files (verify changes nothing)", c.files);
            return 1;
        }
        if (err)
            *err = e;
        return -1;
    }
    logf_(r, sum.problems ? "error" : "info",
          "verified %" PRIu64 " buckets, %" PRIu64 " shards, %" PRIu64 " TSM files (%" PRIu64
          " blocks, %" PRIu64 " values), %" PRIu64 " tombstone files, %" PRIu64
          " bytes in %.3f s: %" PRIu64 " problems",
          sum.buckets, sum.shards, sum.tsm_files, sum.blocks, sum.values, sum.tombstone_files,
          sum.bytes, sum.seconds, sum.problems);
    if (tier && !vj->bucket_id[0] && verify_tier(tier, &c, &sum.problems, &e) != 0) {
        if (e.code == TSV_EUNAVAILABLE && cancel && atomic_load(cancel)) {
            logf_(r, "info", "canceled (verify changes nothing)");
            return 1;
        }
        if (err)
            *err = e;
        return -1;
    }
    if (sum.problems) {
        out->warn = 1;
        snprintf(out->message, sizeof out->message,
                 "verify found %" PRIu64 " problems (see the logs)", sum.problems);
    }
    return 0;
}

int tsv_job_vault_run(tsv_store *s, struct tsv_tier *tier, const tsv_vault_job *vj,
                      const char *job_id, const atomic_int *cancel, const tsv_job_ops *ops,
                      void *ctx, tsv_vault_job_outcome *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    vrun r = {ops, ctx, 0, 0, 0};
    if (cancel && atomic_load(cancel))
        return 1;
    if (vj->kind == TSV_VJOB_VERIFY)
        return run_verify(s, tier, vj, cancel, &r, out, err);
    return run_vault_op(s, vj, job_id, cancel, &r, out, err);
}

typedef struct trace_ctx {
    char by[160];
    int hit;
} trace_ctx;

static int trace_one(void *ctx, const tsv_unused_shard *u, tsv_error *err)
{
    (void)err;
    trace_ctx *t = ctx;
    if (strcmp(u->v->deleted_by, t->by) == 0)
        t->hit = 1;
    return 0;
}

int tsv_job_vault_committed(tsv_store *s, const tsv_vault_job *vj, const char *job_id,
                            int *committed, tsv_error *err)
{
    *committed = 0;
    if (vj->kind == TSV_VJOB_VERIFY || !vj->bucket_id[0])
        return 0;
    trace_ctx t = {{0}, 0};
    snprintf(t.by, sizeof t.by, "%s:%s", kind_name(vj->kind), job_id);
    tsv_error e;
    if (tsv_store_unused_shards(s, vj->bucket_id, NULL, NULL, trace_one, &t, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    *committed = t.hit;
    return 0;
}
