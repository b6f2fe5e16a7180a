/* jobs: the job manager (records, worker pool, API replies). */
#include "jobs.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uuid/uuid.h>

#include "array_grow.h"
#include "job_pitr.h"
#include "job_pull.h"
#include "job_push.h"
#include "job_restore.h"
#include "job_vault.h"
#include "jobs_store.h"
#include "json.h"
#include "metrics.h"
#include "pitr.h"
#include "tenant.h"
#include "tsv_log.h"
#include "tsv_time.h"
#include "vformat.h"

#define MAX_LOGS 1000
#define WORKER_STACK (8u * 1024 * 1024)
#define JANITOR_PERIOD_S 30

enum {
    ST_PENDING,
    ST_RUNNING,
    ST_COMPLETED,
    ST_FAILED,
    ST_CANCELED,
    ST_COUNT
};
static const char *const st_names[ST_COUNT] = {"pending", "running", "completed", "failed",
                                               "canceled"};

/* Metrics of finished jobs (docs/operations.md "Metrics"); restore jobs also
 * count as restores of kind "job". */
static void tsv_jobs_count_finished(const char *type, const char *status)
{
    tsv_metrics_count("tsvault_jobs_finished_total",
                      "Jobs that reached a final executionStatus, by type and status.", "type",
                      type, "status", status, 1);
    if (strcmp(type, "restore") == 0)
        tsv_metrics_count(TSV_METRIC_RESTORES, TSV_METRIC_RESTORES_HELP, "kind", "job", "result",
                          strcmp(status, "completed") == 0  ? "success"
                          : strcmp(status, "canceled") == 0 ? "canceled"
                                                            : "failure",
                          1);
}

typedef struct log_entry {
    int64_t ts;
    char level[8];
    char *msg;
} log_entry;

typedef struct job {
    char id[37];
    char type[32];
    char *spec_text;
    tsv_json_doc *spec;
    tsv_job_user created_by, modified_by;
    int64_t created, updated, started, completed;
    int desired_canceled;
    int status;
    char health[8];
    char health_msg[512];
    log_entry *logs;
    size_t n_logs;
    uint64_t bytes_total, bytes_done, shards_total, shards_done;
    char **created_buckets;
    size_t n_created;
    size_t cap_created; /* allocated length of created_buckets (array_grow.h) */
    char lock_key[512];
    /* restore spec, pointing into spec */
    const char *file, *bucket, *new_bucket, *new_org;
    int full;
    /* delete_data / restore_data / verify (job_vault.h) */
    int vault;
    tsv_vault_job vj;
    /* Set with desired_canceled (and at shutdown): read by the vault
     * operations between shards, without the jobs mutex. */
    atomic_int cancel_flag;
    int64_t target_ns; /* pitr: the target time */
    char pitr_org[17]; /* pitr: scope, "" = the whole server */
    char pitr_bucket[17];
    /* backup (pull) and restore to a connection (push) */
    int conn_job;                                         /* 1 pull, 2 push */
    const char *conn_source, *conn_target, *conn_new_org; /* conn_source NULL: local */
    const char *conn_source_org;
    int64_t conn_time; /* push: the snapshot's target time, INT64_MAX = latest */
    int conn_full;
    const char **rename_from, **rename_to;
    size_t n_rename;
} job;

struct tsv_jobs {
    tsv_store *s;
    tsv_conns *conns; /* NULL: no connection jobs */
    tsv_files *f;
    tsv_jobs_options opt;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t persist_mu;
    job **v;
    size_t n, cap;
    pthread_t *threads;
    int nthreads;
    int stopping;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void job_free(job *jb)
{
    if (jb) {
        free(jb->rename_from);
        free(jb->rename_to);
    }
    if (!jb)
        return;
    free(jb->spec_text);
    tsv_json_free(jb->spec);
    for (size_t i = 0; i < jb->n_logs; i++)
        free(jb->logs[i].msg);
    free(jb->logs);
    for (size_t i = 0; i < jb->n_created; i++)
        free(jb->created_buckets[i]);
    free(jb->created_buckets);
    free(jb);
}

/* Caller holds mu. */
static void job_log(job *jb, const char *level, const char *msg)
{
    if (jb->n_logs == MAX_LOGS) {
        free(jb->logs[0].msg);
        memmove(jb->logs, jb->logs + 1, (MAX_LOGS - 1) * sizeof *jb->logs);
        jb->n_logs--;
    }
    if (!jb->logs) {
        jb->logs = calloc(MAX_LOGS, sizeof *jb->logs);
        if (!jb->logs)
            return;
    }
    log_entry *e = &jb->logs[jb->n_logs];
    e->ts = now_ns();
    snprintf(e->level, sizeof e->level, "%s", level);
    e->msg = strdup(msg);
    if (e->msg)
        jb->n_logs++;
}

static void job_logf(job *jb, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void job_logf(job *jb, const char *level, const char *fmt, ...)
{
    char msg[1024];
    TSV_VFORMAT(msg, fmt);
    job_log(jb, level, msg);
}

/* ---- spec ------------------------------------------------------------------------ */

static const char *opt_string(const tsv_json *o, const char *key, const char *what, int *bad,
                              tsv_error *err)
{
    const tsv_json *v = tsv_json_get(o, key);
    if (!v || v->type == TSV_JSON_NULL)
        return NULL;
    if (v->type != TSV_JSON_STRING || v->len == 0 || strlen(v->str) != v->len) {
        *bad = 1;
        tsv_error_set(err, TSV_EINVALID, "%s.%s must be a non-empty string", what, key);
        return NULL;
    }
    return v->str;
}

/* Fills the restore fields of jb from its parsed spec; checks the request. */
static int spec_bind_pitr(tsv_jobs *j, job *jb, int check, tsv_error *err)
{
    const tsv_json *root = tsv_json_root(jb->spec);
    const tsv_json *tt = tsv_json_get(root, "target_time");
    if (!tt || tt->type != TSV_JSON_STRING)
        return tsv_error_set(err, TSV_EINVALID,
                             "target_time is required: an RFC 3339 time, e.g. "
                             "\"2026-01-02T15:04:05.000Z\"");
    if (tsv_parse_rfc3339(tt->str, tt->len, &jb->target_ns, err) != 0)
        return tsv_error_wrap(err, "target_time");
    /* Scope: one org or one bucket (IDs as influxd writes them). */
    const char *const names[2] = {"orgID", "bucketID"};
    char *const dest[2] = {jb->pitr_org, jb->pitr_bucket};
    for (int i = 0; i < 2; i++) {
        const tsv_json *v = tsv_json_get(root, names[i]);
        dest[i][0] = '\0';
        if (!v || v->type == TSV_JSON_NULL)
            continue;
        uint64_t idv;
        tsv_error ierr;
        if (v->type != TSV_JSON_STRING || strlen(v->str) != v->len ||
            tsv_id_parse(v->str, &idv, &ierr) != 0)
            return tsv_error_set(err, TSV_EINVALID,
                                 "%s must be an ID of 16 hex digits, not all zero (as influxd "
                                 "writes them)",
                                 names[i]);
        tsv_id_format(idv, dest[i]);
    }
    if (jb->pitr_org[0] && jb->pitr_bucket[0])
        return tsv_error_set(err, TSV_EINVALID,
                             "give orgID or bucketID, not both: a point-in-time restore covers "
                             "the whole server, one org or one bucket");
    if (check && tsv_pitr_check_target(j->s, jb->target_ns, err) != 0)
        return -1;
    snprintf(jb->lock_key, sizeof jb->lock_key, "*");
    return 0;
}

static int conn_name(tsv_jobs *j, const tsv_json *o, const char *what, int check, const char **out,
                     tsv_error *err)
{
    int bad = 0;
    *out = opt_string(o, "connectionName", what, &bad, err);
    if (bad)
        return -1;
    if (!*out)
        return tsv_error_set(err, TSV_EINVALID, "%s.connectionName is required", what);
    if (!j->conns)
        return tsv_error_set(err, TSV_EINVALID, "connections are not enabled on this server");
    if (check && !tsv_conns_exists(j->conns, *out))
        return tsv_error_set(err, TSV_EINVALID, "%s.connectionName: connection \"%.64s\" not found",
                             what, *out);
    return 0;
}

/* {"type":"backup","source":{"type":"connection","connectionName":N}} */
static int spec_bind_pull(tsv_jobs *j, job *jb, int check, tsv_error *err)
{
    const tsv_json *src = tsv_json_get(tsv_json_root(jb->spec), "source");
    int bad = 0;
    const char *st =
        src && src->type == TSV_JSON_OBJECT ? opt_string(src, "type", "source", &bad, err) : NULL;
    if (bad)
        return -1;
    if (!st || strcmp(st, "connection") != 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "backup jobs need source {\"type\":\"connection\",\"connectionName\":"
                             "\"...\"}");
    if (conn_name(j, src, "source", check, &jb->conn_source, err) != 0)
        return -1;
    jb->conn_job = 1;
    snprintf(jb->lock_key, sizeof jb->lock_key, "conn:%s", jb->conn_source);
    return 0;
}

/* A restore from a connection's snapshot into a connection. */
static int spec_bind_push(tsv_jobs *j, job *jb, const tsv_json *src, const tsv_json *tgt, int check,
                          tsv_error *err)
{
    int bad = 0;
    const char *st = opt_string(src, "type", "source", &bad, err);
    if (bad)
        return -1;
    int local = st && strcmp(st, "local") == 0;
    if (!st || (!local && strcmp(st, "connection") != 0))
        return tsv_error_set(err, TSV_EINVALID,
                             "a restore into a connection takes source {\"type\":\"connection\","
                             "\"connectionName\":\"...\",\"targetTime\":\"...\"} or "
                             "{\"type\":\"local\"}");
    if ((!local && conn_name(j, src, "source", check, &jb->conn_source, err) != 0) ||
        conn_name(j, tgt, "target", check, &jb->conn_target, err) != 0)
        return -1;
    if (local) {
        jb->conn_source = NULL;
        jb->conn_source_org = opt_string(src, "orgName", "source", &bad, err);
        if (bad)
            return -1;
        if (tsv_json_get(src, "targetTime"))
            return tsv_error_set(err, TSV_EINVALID,
                                 "source.targetTime: a local source is this server as it is now; "
                                 "to push an earlier moment, run a pitr job first");
    }
    const char *tt = opt_string(src, "targetTime", "source", &bad, err);
    jb->conn_new_org = bad ? NULL : opt_string(tgt, "newOrgName", "target", &bad, err);
    if (bad)
        return -1;
    jb->conn_time = INT64_MAX;
    if (tt && tsv_parse_rfc3339(tt, strlen(tt), &jb->conn_time, err) != 0)
        return tsv_error_wrap(err, "source.targetTime");
    const tsv_json *full = tsv_json_get(tgt, "full");
    if (full && tsv_json_bool(full, &jb->conn_full, "target.full", err) != 0)
        return -1;
    const tsv_json *ren = tsv_json_get(tgt, "rename");
    if (ren && ren->type != TSV_JSON_NULL) {
        if (ren->type != TSV_JSON_OBJECT)
            return tsv_error_set(err, TSV_EINVALID,
                                 "target.rename must be an object {\"old name\":\"new name\"}");
        jb->rename_from = calloc(ren->count ? ren->count : 1, sizeof *jb->rename_from);
        jb->rename_to = calloc(ren->count ? ren->count : 1, sizeof *jb->rename_to);
        if (!jb->rename_from || !jb->rename_to)
            return tsv_error_set(err, TSV_EINVALID, "out of memory");
        for (size_t i = 0; i < ren->count; i++) {
            if (ren->items[i]->type != TSV_JSON_STRING || ren->items[i]->len == 0)
                return tsv_error_set(err, TSV_EINVALID, "target.rename.%.60s must be a new name",
                                     ren->keys[i]);
            jb->rename_from[i] = ren->keys[i];
            jb->rename_to[i] = ren->items[i]->str;
        }
        jb->n_rename = ren->count;
    }
    if (jb->conn_full && (jb->n_rename || jb->conn_new_org))
        return tsv_error_set(err, TSV_EINVALID,
                             "target: a full restore cannot rename (rename, newOrgName)");
    jb->conn_job = 2;
    snprintf(jb->lock_key, sizeof jb->lock_key, "push:%s", jb->conn_target);
    return 0;
}

static int spec_bind(tsv_jobs *j, job *jb, int check_file, tsv_error *err)
{
    if (strcmp(jb->type, "pitr") == 0)
        return spec_bind_pitr(j, jb, check_file, err);
    if (strcmp(jb->type, "backup") == 0)
        return spec_bind_pull(j, jb, check_file, err);
    const tsv_json *root = tsv_json_root(jb->spec);
    const tsv_json *src = tsv_json_get(root, "source");
    const tsv_json *tgt = tsv_json_get(root, "target");
    int bad = 0;
    if (src && src->type == TSV_JSON_OBJECT && tgt && tgt->type == TSV_JSON_OBJECT) {
        const char *tt = opt_string(tgt, "type", "target", &bad, err);
        if (bad)
            return -1;
        if (tt && strcmp(tt, "connection") == 0)
            return spec_bind_push(j, jb, src, tgt, check_file, err);
    }
    if (!src || src->type != TSV_JSON_OBJECT)
        return tsv_error_set(err, TSV_EINVALID,
                             "source is required: {\"type\":\"file\",\"fileName\":\"...\"}");
    const char *st = opt_string(src, "type", "source", &bad, err);
    if (bad)
        return -1;
    if (!st || strcmp(st, "file") != 0)
        return tsv_error_set(err, TSV_EINVALID, "source.type must be \"file\" for restore jobs");
    jb->file = opt_string(src, "fileName", "source", &bad, err);
    if (bad)
        return -1;
    if (!jb->file)
        return tsv_error_set(err, TSV_EINVALID, "source.fileName is required");
    if (!tgt || tgt->type != TSV_JSON_OBJECT)
        return tsv_error_set(
            err, TSV_EINVALID,
            "target is required: {\"type\":\"bucket\",...} or {\"type\":\"full\"}");
    const char *tt = opt_string(tgt, "type", "target", &bad, err);
    if (bad)
        return -1;
    if (!tt)
        return tsv_error_set(err, TSV_EINVALID, "target.type is required (bucket or full)");
    jb->bucket = opt_string(tgt, "bucketName", "target", &bad, err);
    const char *table = bad ? NULL : opt_string(tgt, "tableName", "target", &bad, err);
    jb->new_bucket = bad ? NULL : opt_string(tgt, "newBucketName", "target", &bad, err);
    jb->new_org = bad ? NULL : opt_string(tgt, "newOrgName", "target", &bad, err);
    if (bad)
        return -1;
    if (strcmp(tt, "full") == 0) {
        jb->full = 1;
        if (jb->bucket || table || jb->new_bucket || jb->new_org)
            return tsv_error_set(err, TSV_EINVALID,
                                 "target: a full restore cannot be limited to a bucket or renamed");
    } else if (strcmp(tt, "bucket") == 0 || strcmp(tt, "table") == 0) {
        if (table && jb->bucket && strcmp(table, jb->bucket) != 0)
            return tsv_error_set(err, TSV_EINVALID, "target: tableName and bucketName differ");
        if (!jb->bucket)
            jb->bucket = table;
        if (jb->new_bucket && !jb->bucket)
            return tsv_error_set(err, TSV_EINVALID, "target.newBucketName needs target.bucketName");
    } else {
        return tsv_error_set(err, TSV_EINVALID,
                             "target.type \"%s\" is not supported (bucket, table or full)", tt);
    }
    if (check_file) {
        tsv_file_info fi;
        tsv_error fe;
        if (tsv_files_get(j->f, jb->file, &fi, &fe) != 0)
            return tsv_error_set(err, fe.code == TSV_ENOTFOUND ? TSV_EINVALID : fe.code,
                                 "source.fileName: %s", fe.message);
        if (fi.format != TSV_FORMAT_INFLUX_BACKUP && fi.format != TSV_FORMAT_INFLUXDB1_PORTABLE)
            return tsv_error_set(err, TSV_EINVALID,
                                 "source.fileName: \"%s\" is %s; restore jobs take influx-backup "
                                 "or influxdb1-portable archives",
                                 jb->file, tsv_data_format_name(fi.format));
        if (jb->full && fi.format != TSV_FORMAT_INFLUX_BACKUP)
            return tsv_error_set(err, TSV_EINVALID,
                                 "target: a full restore needs an influx-backup archive; \"%s\" "
                                 "is %s",
                                 jb->file, tsv_data_format_name(fi.format));
    }
    const char *key = jb->new_bucket ? jb->new_bucket : jb->bucket;
    snprintf(jb->lock_key, sizeof jb->lock_key, "%s", jb->full || !key ? "*" : key);
    return 0;
}

/* The vault job types: request checked and bucket resolved now (by ID when
 * loading a persisted job). */
static int vault_bind(tsv_jobs *j, job *jb, tsv_vault_job_kind kind, const char *org_id,
                      const char *known_id, tsv_error *err)
{
    if (tsv_job_vault_bind(j->s, kind, tsv_json_root(jb->spec), org_id, known_id, &jb->vj, err) !=
        0)
        return -1;
    jb->vault = 1;
    /* Verifies only read: they queue behind each other, not behind restores. */
    snprintf(jb->lock_key, sizeof jb->lock_key, "%s",
             kind == TSV_VJOB_VERIFY ? "~verify" : jb->vj.bucket_name);
    return 0;
}

static const char *target_name(const job *jb)
{
    if (jb->conn_job)
        return jb->conn_job == 1 ? jb->conn_source : jb->conn_target;
    if (jb->vault)
        return jb->vj.bucket_name;
    if (jb->new_bucket)
        return jb->new_bucket;
    return jb->bucket ? jb->bucket : "";
}

/* ---- JSON ------------------------------------------------------------------------- */

static void jw_time(tsv_json_writer *w, const char *key, int64_t ns)
{
    if (ns)
        tsv_jw_field_time(w, key, ns);
}

static void jw_user(tsv_json_writer *w, const char *key, const tsv_job_user *u)
{
    tsv_jw_key(w, key);
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "username", u->name);
    tsv_jw_field_string(w, "userId", u->id);
    tsv_jw_object_end(w);
}

/* The seed's job shape. Caller holds mu. */
static void job_public(tsv_json_writer *w, const job *jb)
{
    const tsv_json *root = tsv_json_root(jb->spec);
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "id", jb->id);
    tsv_jw_field_string(w, "type", jb->type);
    tsv_jw_key(w, "spec");
    tsv_jw_node(w, root);
    const char *parts[] = {"target", "source"};
    for (int i = 0; i < 2; i++) {
        const tsv_json *v = tsv_json_get(root, parts[i]);
        tsv_jw_key(w, parts[i]);
        if (v)
            tsv_jw_node(w, v);
        else
            tsv_jw_raw(w, "{}");
    }
    jw_user(w, "createdBy", &jb->created_by);
    jw_user(w, "lastModifiedBy", &jb->modified_by);
    jw_time(w, "createdTimestamp", jb->created);
    jw_time(w, "lastUpdatedTimestamp", jb->updated);
    jw_time(w, "startedTimestamp", jb->started);
    jw_time(w, "completedTimestamp", jb->completed);
    tsv_jw_field_string(w, "desiredExecutionStatus", jb->desired_canceled ? "canceled" : "running");
    tsv_jw_field_string(w, "executionStatus", st_names[jb->status]);
    tsv_jw_key(w, "health");
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "status", jb->health);
    if (jb->health_msg[0]) {
        tsv_jw_field_string(w, "message", jb->health_msg);
    }
    tsv_jw_object_end(w);
    tsv_jw_object_end(w);
}

/* The persisted record. Caller holds mu. */
static void job_record(tsv_json_writer *w, const job *jb)
{
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "id", jb->id);
    tsv_jw_field_string(w, "type", jb->type);
    tsv_jw_key(w, "spec");
    tsv_jw_node(w, tsv_json_root(jb->spec));
    const tsv_job_user *us[2] = {&jb->created_by, &jb->modified_by};
    const char *uk[2] = {"createdBy", "lastModifiedBy"};
    for (int i = 0; i < 2; i++) {
        tsv_jw_key(w, uk[i]);
        tsv_jw_object_begin(w);
        tsv_jw_field_string(w, "id", us[i]->id);
        tsv_jw_field_string(w, "name", us[i]->name);
        tsv_jw_field_string(w, "org", us[i]->org_id);
        tsv_jw_object_end(w);
    }
    const char *tk[4] = {"created", "updated", "started", "completed"};
    const int64_t tv[4] = {jb->created, jb->updated, jb->started, jb->completed};
    for (int i = 0; i < 4; i++) {
        tsv_jw_field_i64(w, tk[i], tv[i]);
    }
    tsv_jw_field_bool(w, "desiredCanceled", jb->desired_canceled);
    tsv_jw_field_string(w, "status", st_names[jb->status]);
    tsv_jw_field_string(w, "health", jb->health);
    tsv_jw_field_string(w, "healthMessage", jb->health_msg);
    tsv_jw_key(w, "metrics");
    tsv_jw_array_begin(w);
    tsv_jw_u64(w, jb->bytes_total);
    tsv_jw_u64(w, jb->bytes_done);
    tsv_jw_u64(w, jb->shards_total);
    tsv_jw_u64(w, jb->shards_done);
    tsv_jw_array_end(w);
    if (jb->vault && jb->vj.bucket_id[0]) {
        tsv_jw_field_string(w, "bucketID", jb->vj.bucket_id);
    }
    tsv_jw_key(w, "createdBuckets");
    tsv_jw_array_begin(w);
    for (size_t i = 0; i < jb->n_created; i++)
        tsv_jw_string(w, jb->created_buckets[i]);
    tsv_jw_array_end(w);
    tsv_jw_key(w, "logs");
    tsv_jw_array_begin(w);
    for (size_t i = 0; i < jb->n_logs; i++) {
        tsv_jw_array_begin(w);
        tsv_jw_i64(w, jb->logs[i].ts);
        tsv_jw_string(w, jb->logs[i].level);
        tsv_jw_string(w, jb->logs[i].msg);
        tsv_jw_array_end(w);
    }
    tsv_jw_array_end(w);
    tsv_jw_object_end(w);
}

/* Writes jb's record durably. persist_mu orders the writes of one job. */
static int persist(tsv_jobs *j, job *jb, tsv_error *err)
{
    pthread_mutex_lock(&j->persist_mu);
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    pthread_mutex_lock(&j->mu);
    job_record(&w, jb);
    char id[37];
    memcpy(id, jb->id, sizeof id);
    pthread_mutex_unlock(&j->mu);
    int rc = tsv_jw_finish(&w, err);
    if (rc == 0)
        rc = tsv_store_job_put(j->s, id, b.data, b.len, err);
    tsv_buf_free(&b);
    pthread_mutex_unlock(&j->persist_mu);
    if (rc != 0)
        TSV_ERROR("msg=\"cannot persist job\" id=%s error=\"%s\"", id, err ? err->message : "");
    return rc;
}

static void persist_quiet(tsv_jobs *j, job *jb)
{
    tsv_error e;
    persist(j, jb, &e);
}

/* ---- loading ------------------------------------------------------------------------ */

static int jcopy(const tsv_json *o, const char *key, char *out, size_t outlen)
{
    const tsv_json *v = tsv_json_get(o, key);
    out[0] = '\0';
    if (!v || v->type != TSV_JSON_STRING)
        return -1;
    snprintf(out, outlen, "%s", v->str);
    return 0;
}

static int64_t ji64(const tsv_json *o, const char *key)
{
    int64_t v = 0;
    tsv_json_i64(tsv_json_get(o, key), &v, key, NULL);
    return v;
}

static int spec_from_node(job *jb, const tsv_json *node, tsv_error *err)
{
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    tsv_jw_node(&w, node);
    if (tsv_jw_finish(&w, err) != 0 || tsv_buf_append(&b, "", 1, err) != 0) {
        tsv_buf_free(&b);
        return -1;
    }
    jb->spec_text = (char *)b.data;
    return tsv_json_parse(&jb->spec, jb->spec_text, b.len - 1, err);
}

static job *job_from_record(tsv_jobs *j, const uint8_t *rec, size_t len, tsv_error *err)
{
    tsv_json_doc *doc;
    if (tsv_json_parse(&doc, (const char *)rec, len, err) != 0)
        return NULL;
    const tsv_json *o = tsv_json_root(doc);
    job *jb = calloc(1, sizeof *jb);
    int rc = jb ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    char status[16] = "";
    if (rc == 0 && (jcopy(o, "id", jb->id, sizeof jb->id) != 0 ||
                    jcopy(o, "type", jb->type, sizeof jb->type) != 0 ||
                    jcopy(o, "status", status, sizeof status) != 0 || !tsv_json_get(o, "spec")))
        rc = tsv_error_set(err, TSV_EINTERNAL, "damaged job record");
    if (rc == 0)
        rc = spec_from_node(jb, tsv_json_get(o, "spec"), err);
    if (rc == 0) {
        tsv_job_user *us[2] = {&jb->created_by, &jb->modified_by};
        const char *uk[2] = {"createdBy", "lastModifiedBy"};
        for (int i = 0; i < 2; i++) {
            const tsv_json *u = tsv_json_get(o, uk[i]);
            if (u) {
                jcopy(u, "id", us[i]->id, sizeof us[i]->id);
                jcopy(u, "name", us[i]->name, sizeof us[i]->name);
                jcopy(u, "org", us[i]->org_id, sizeof us[i]->org_id);
            }
        }
        jb->created = ji64(o, "created");
        jb->updated = ji64(o, "updated");
        jb->started = ji64(o, "started");
        jb->completed = ji64(o, "completed");
        const tsv_json *dc = tsv_json_get(o, "desiredCanceled");
        jb->desired_canceled = dc && dc->type == TSV_JSON_BOOL && dc->boolean;
        jb->status = ST_FAILED;
        for (int i = 0; i < ST_COUNT; i++)
            if (strcmp(status, st_names[i]) == 0)
                jb->status = i;
        jcopy(o, "health", jb->health, sizeof jb->health);
        jcopy(o, "healthMessage", jb->health_msg, sizeof jb->health_msg);
        const tsv_json *m = tsv_json_get(o, "metrics");
        uint64_t *mv[4] = {&jb->bytes_total, &jb->bytes_done, &jb->shards_total, &jb->shards_done};
        for (size_t i = 0; m && m->type == TSV_JSON_ARRAY && i < 4 && i < m->count; i++)
            tsv_json_u64(m->items[i], mv[i], "metric", NULL);
        const tsv_json *cb = tsv_json_get(o, "createdBuckets");
        for (size_t i = 0; cb && cb->type == TSV_JSON_ARRAY && i < cb->count; i++) {
            if (cb->items[i]->type != TSV_JSON_STRING)
                continue;
            if (TSV_ARRAY_GROW(jb->created_buckets, jb->n_created, jb->cap_created, NULL) != 0)
                break;
            if ((jb->created_buckets[jb->n_created] = strdup(cb->items[i]->str)))
                jb->n_created++;
        }
        const tsv_json *lg = tsv_json_get(o, "logs");
        for (size_t i = 0; lg && lg->type == TSV_JSON_ARRAY && i < lg->count; i++) {
            const tsv_json *e = lg->items[i];
            if (e->type != TSV_JSON_ARRAY || e->count != 3 ||
                e->items[1]->type != TSV_JSON_STRING || e->items[2]->type != TSV_JSON_STRING)
                continue;
            job_log(jb, e->items[1]->str, e->items[2]->str);
            if (jb->n_logs)
                tsv_json_i64(e->items[0], &jb->logs[jb->n_logs - 1].ts, "ts", NULL);
        }
        tsv_vault_job_kind kind;
        if ((strcmp(jb->type, "restore") == 0 || strcmp(jb->type, "pitr") == 0) &&
            spec_bind(j, jb, 0, err) != 0)
            rc = -1;
        if (tsv_job_vault_type(jb->type, &kind)) {
            char bid[17] = "";
            jcopy(o, "bucketID", bid, sizeof bid);
            if (vault_bind(j, jb, kind, jb->created_by.org_id, bid, err) != 0)
                rc = -1;
        }
        atomic_store(&jb->cancel_flag, jb->desired_canceled);
    }
    tsv_json_free(doc);
    if (rc != 0) {
        job_free(jb);
        return NULL;
    }
    return jb;
}

static int add_job(tsv_jobs *j, job *jb, tsv_error *err)
{
    if (TSV_ARRAY_GROW(j->v, j->n, j->cap, err) != 0)
        return -1;
    j->v[j->n++] = jb;
    return 0;
}

static int load_one(void *ctx, const char *id, const uint8_t *rec, size_t len, tsv_error *err)
{
    tsv_jobs *j = ctx;
    tsv_error e;
    job *jb = job_from_record(j, rec, len, &e);
    if (!jb) {
        TSV_ERROR("msg=\"skipping unreadable job record\" id=%s error=\"%s\"", id, e.message);
        return 0;
    }
    return add_job(j, jb, err);
}

/* Deletes the buckets a stopped job created. Caller does not hold mu. */
static void rollback(tsv_jobs *j, job *jb)
{
    pthread_mutex_lock(&j->mu);
    size_t n = jb->n_created;
    char **ids = jb->created_buckets;
    jb->created_buckets = NULL;
    jb->n_created = 0;
    jb->cap_created = 0;
    pthread_mutex_unlock(&j->mu);
    for (size_t i = 0; i < n; i++) {
        tsv_error e;
        int rc = tsv_store_bucket_delete(j->s, ids[i], &e);
        pthread_mutex_lock(&j->mu);
        if (rc == 0)
            job_logf(jb, "info", "rolled back: bucket %s deleted", ids[i]);
        else if (e.code == TSV_ENOTFOUND)
            job_logf(jb, "info", "rolled back: bucket %s was already gone", ids[i]);
        else
            job_logf(jb, "error", "rollback: cannot delete bucket %s: %s", ids[i], e.message);
        pthread_mutex_unlock(&j->mu);
        free(ids[i]);
    }
    free(ids);
}

/* A vault job found running at start-up. Its operation is atomic (one
 * catalogue commit, directories rebuilt from the catalogue at start-up), so
 * there is no partial work to undo: say which side of the commit it was on.
 * Called before the workers start. */
static void vault_interrupted(tsv_jobs *j, job *jb)
{
    if (jb->vj.kind == TSV_VJOB_VERIFY) {
        job_log(jb, "info", "verify changes nothing: nothing to roll back");
        return;
    }
    int committed = 0;
    tsv_error e;
    if (tsv_job_vault_committed(j->s, &jb->vj, jb->id, &committed, &e) != 0)
        job_logf(jb, "error", "cannot tell whether its change was committed: %s", e.message);
    else if (committed)
        job_log(jb, "warn",
                "its change was committed before the restart and is complete (the operation "
                "is atomic); the versions it soft-deleted are listed by unusedShards");
    else if (jb->vj.kind == TSV_VJOB_DELETE_DATA)
        job_log(jb, "info", "it had not committed: nothing changed");
    else
        job_log(jb, "info",
                "no version was soft-deleted by it: nothing changed, unless it only restored "
                "slots that had no version in use (check unusedShards)");
}

/* Finished jobs past the retention period go. Caller holds mu. */
static void purge_expired(tsv_jobs *j)
{
    if (j->opt.retention_s < 0)
        return;
    int64_t limit = now_ns() - j->opt.retention_s * 1000000000LL;
    size_t k = 0;
    for (size_t i = 0; i < j->n; i++) {
        job *jb = j->v[i];
        if (jb->status >= ST_COMPLETED && jb->completed && jb->completed < limit) {
            tsv_error e;
            if (tsv_store_job_delete(j->s, jb->id, &e) == 0) {
                TSV_INFO("msg=\"job expired\" id=%s", jb->id);
                job_free(jb);
                continue;
            }
            TSV_WARN("msg=\"cannot delete expired job\" id=%s error=\"%s\"", jb->id, e.message);
        }
        j->v[k++] = jb;
    }
    j->n = k;
}

/* ---- running -------------------------------------------------------------------------- */

typedef struct run_ctx {
    tsv_jobs *j;
    job *jb;
} run_ctx;

static int op_canceled(void *ctx)
{
    run_ctx *c = ctx;
    pthread_mutex_lock(&c->j->mu);
    int v = c->jb->desired_canceled || c->j->stopping;
    pthread_mutex_unlock(&c->j->mu);
    return v;
}

static void op_log(void *ctx, const char *level, const char *msg)
{
    run_ctx *c = ctx;
    pthread_mutex_lock(&c->j->mu);
    job_log(c->jb, level, msg);
    pthread_mutex_unlock(&c->j->mu);
}

static void op_totals(void *ctx, uint64_t bytes, uint64_t shards)
{
    run_ctx *c = ctx;
    pthread_mutex_lock(&c->j->mu);
    c->jb->bytes_total = bytes;
    c->jb->shards_total = shards;
    pthread_mutex_unlock(&c->j->mu);
}

static void op_advance(void *ctx, uint64_t bytes, uint64_t shards)
{
    run_ctx *c = ctx;
    pthread_mutex_lock(&c->j->mu);
    c->jb->bytes_done += bytes;
    c->jb->shards_done += shards;
    pthread_mutex_unlock(&c->j->mu);
}

static int op_created(void *ctx, const char *bucket_id, tsv_error *err)
{
    run_ctx *c = ctx;
    pthread_mutex_lock(&c->j->mu);
    job *jb = c->jb;
    int rc = TSV_ARRAY_GROW(jb->created_buckets, jb->n_created, jb->cap_created, err);
    if (rc == 0) {
        if ((jb->created_buckets[jb->n_created] = strdup(bucket_id)))
            jb->n_created++;
        else
            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    pthread_mutex_unlock(&c->j->mu);
    return rc == 0 ? persist(c->j, c->jb, err) : rc;
}

static const tsv_job_ops run_ops = {op_canceled, op_log, op_totals, op_advance, op_created};

static int keys_conflict(const char *a, const char *b)
{
    return strcmp(a, "*") == 0 || strcmp(b, "*") == 0 || strcmp(a, b) == 0;
}

/* Oldest pending job that conflicts with no running one. Caller holds mu. */
static job *pick(tsv_jobs *j)
{
    job *best = NULL;
    for (size_t i = 0; i < j->n; i++) {
        job *c = j->v[i];
        if (c->status != ST_PENDING)
            continue;
        int blocked = 0;
        for (size_t k = 0; k < j->n && !blocked; k++)
            if (j->v[k]->status == ST_RUNNING && keys_conflict(c->lock_key, j->v[k]->lock_key))
                blocked = 1;
        /* An older pending job on the same key keeps its turn. */
        for (size_t k = 0; k < j->n && !blocked; k++)
            if (j->v[k] != c && j->v[k]->status == ST_PENDING && j->v[k]->created < c->created &&
                keys_conflict(c->lock_key, j->v[k]->lock_key))
                blocked = 1;
        if (!blocked && (!best || c->created < best->created))
            best = c;
    }
    return best;
}

/* The record a PITR job must have in the state it restores: completed. */
static char *pitr_final_record(void *ctx, size_t *len)
{
    run_ctx *c = ctx;
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    pthread_mutex_lock(&c->j->mu);
    job tmp = *c->jb; /* shallow: only read by job_record */
    tmp.status = ST_COMPLETED;
    tmp.completed = tmp.updated = now_ns();
    snprintf(tmp.health, sizeof tmp.health, "ok");
    tmp.health_msg[0] = '\0';
    job_record(&w, &tmp);
    pthread_mutex_unlock(&c->j->mu);
    tsv_error e;
    if (tsv_jw_finish(&w, &e) != 0) {
        tsv_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return (char *)b.data;
}

static void execute(tsv_jobs *j, job *jb)
{
    run_ctx c = {j, jb};
    tsv_restore_spec spec = {
        .file = jb->file,
        .full = jb->full,
        .bucket = jb->bucket,
        .new_bucket = jb->new_bucket,
        .new_org = jb->new_org,
        .creator_org_id = jb->created_by.org_id,
    };
    tsv_error err;
    tsv_error_clear(&err);
    tsv_vault_job_outcome vo = {0, ""};
    int rc;
    if (jb->vault)
        rc = tsv_job_vault_run(j->s, j->opt.tier, &jb->vj, jb->id, &jb->cancel_flag, &run_ops, &c,
                               &vo, &err);
    else if (jb->conn_job == 1)
        rc = tsv_job_pull_run(j->conns, jb->conn_source, jb->id, &run_ops, &c, &err);
    else if (jb->conn_job == 2) {
        tsv_push_spec ps = {
            .source = jb->conn_source,
            .source_org = jb->conn_source_org,
            .target_time = jb->conn_time,
            .target = jb->conn_target,
            .full = jb->conn_full,
            .new_org = jb->conn_new_org,
            .rename_from = jb->rename_from,
            .rename_to = jb->rename_to,
            .n_rename = jb->n_rename,
        };
        rc = tsv_job_push_run(j->conns, j->s, &ps, &run_ops, &c, &err);
    } else if (strcmp(jb->type, "pitr") == 0)
        rc = tsv_job_pitr_run(j->s, jb->id, jb->target_ns, jb->pitr_org, jb->pitr_bucket, &run_ops,
                              &c, pitr_final_record, &err);
    else
        rc = tsv_job_restore_run(j->s, j->f, &spec, &run_ops, &c, &err);
    if (rc != 0 && !jb->vault)
        rollback(j, jb);
    pthread_mutex_lock(&j->mu);
    int64_t t = now_ns();
    jb->completed = jb->updated = t;
    if (rc == 0) {
        jb->status = ST_COMPLETED;
        snprintf(jb->health, sizeof jb->health, "%s", vo.warn ? "warn" : "ok");
        if (vo.warn)
            snprintf(jb->health_msg, sizeof jb->health_msg, "%s", vo.message);
        job_log(jb, "info", "completed");
    } else if (rc == 1 && jb->desired_canceled) {
        jb->status = ST_CANCELED;
        snprintf(jb->health, sizeof jb->health, "ok");
        job_log(jb, "info", "canceled; previous data left as it was");
    } else if (rc == 1) {
        jb->status = ST_FAILED;
        snprintf(jb->health, sizeof jb->health, "error");
        snprintf(jb->health_msg, sizeof jb->health_msg, "interrupted by a restart");
        job_log(jb, "error",
                jb->vault ? "interrupted by a restart (server shutting down) before its commit; "
                            "nothing changed"
                          : "interrupted by a restart (server shutting down); rolled back");
    } else {
        jb->status = ST_FAILED;
        snprintf(jb->health, sizeof jb->health, "error");
        snprintf(jb->health_msg, sizeof jb->health_msg, "%s", err.message);
        job_logf(jb, "error", "failed: %s", err.message);
    }
    TSV_INFO("msg=\"job finished\" id=%s type=%s status=%s", jb->id, jb->type,
             st_names[jb->status]);
    tsv_jobs_count_finished(jb->type, st_names[jb->status]);
    pthread_mutex_unlock(&j->mu);
    persist_quiet(j, jb);
}

static void *worker(void *arg)
{
    tsv_jobs *j = arg;
    pthread_mutex_lock(&j->mu);
    while (!j->stopping) {
        job *jb = pick(j);
        if (!jb) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += JANITOR_PERIOD_S;
            if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) != 0)
                purge_expired(j);
            continue;
        }
        jb->status = ST_RUNNING;
        jb->started = jb->updated = now_ns();
        snprintf(jb->health, sizeof jb->health, "ok");
        job_log(jb, "info", "started");
        TSV_INFO("msg=\"job started\" id=%s type=%s", jb->id, jb->type);
        pthread_mutex_unlock(&j->mu);
        persist_quiet(j, jb);
        execute(j, jb);
        pthread_mutex_lock(&j->mu);
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* ---- lifetime -------------------------------------------------------------------------- */

static int cmp_created(const void *a, const void *b)
{
    const job *x = *(job *const *)a, *y = *(job *const *)b;
    return x->created < y->created ? -1 : x->created > y->created ? 1 : strcmp(x->id, y->id);
}

int tsv_jobs_open(tsv_jobs **out, tsv_store *s, tsv_files *f, const tsv_jobs_options *opt,
                  tsv_error *err)
{
    *out = NULL;
    tsv_jobs *j = calloc(1, sizeof *j);
    if (!j)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    j->s = s;
    j->f = f;
    j->opt = *opt;
    j->conns = opt->conns;
    if (j->opt.workers < 1)
        j->opt.workers = 1;
    pthread_mutex_init(&j->mu, NULL);
    pthread_mutex_init(&j->persist_mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    if (tsv_store_jobs_load(s, load_one, j, err) != 0) {
        tsv_jobs_close(j);
        return -1;
    }
    if (j->n) /* (qsort of NULL is undefined, even for 0 items) */
        qsort(j->v, j->n, sizeof *j->v, cmp_created);
    /* A job still "running" was interrupted: undo its partial work. */
    size_t interrupted = 0, pending = 0;
    for (size_t i = 0; i < j->n; i++) {
        job *jb = j->v[i];
        if (jb->status == ST_PENDING)
            pending++;
        if (jb->status != ST_RUNNING)
            continue;
        interrupted++;
        if (jb->vault)
            vault_interrupted(j, jb);
        else
            rollback(j, jb);
        jb->status = ST_FAILED;
        jb->completed = jb->updated = now_ns();
        snprintf(jb->health, sizeof jb->health, "error");
        snprintf(jb->health_msg, sizeof jb->health_msg, "interrupted by a restart");
        job_log(jb, "error", "interrupted by a restart; partial work rolled back");
        if (persist(j, jb, err) != 0) {
            tsv_jobs_close(j);
            return -1;
        }
    }
    purge_expired(j);
    TSV_INFO("msg=\"jobs loaded\" total=%zu pending=%zu interrupted=%zu workers=%d", j->n, pending,
             interrupted, j->opt.workers);
    j->threads = calloc((size_t)j->opt.workers, sizeof *j->threads);
    if (!j->threads) {
        tsv_jobs_close(j);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK);
    for (int i = 0; i < j->opt.workers; i++) {
        if (pthread_create(&j->threads[i], &attr, worker, j) != 0) {
            pthread_attr_destroy(&attr);
            tsv_jobs_close(j);
            return tsv_error_set(err, TSV_EINTERNAL, "cannot start job worker threads");
        }
        j->nthreads++;
    }
    pthread_attr_destroy(&attr);
    *out = j;
    return 0;
}

void tsv_jobs_close(tsv_jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stopping = 1;
    for (size_t i = 0; i < j->n; i++)
        if (j->v[i]->status == ST_RUNNING)
            atomic_store(&j->v[i]->cancel_flag, 1);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    for (int i = 0; i < j->nthreads; i++)
        pthread_join(j->threads[i], NULL);
    free(j->threads);
    for (size_t i = 0; i < j->n; i++)
        job_free(j->v[i]);
    free(j->v);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    pthread_mutex_destroy(&j->persist_mu);
    free(j);
}

/* ---- API ---------------------------------------------------------------------------------- */

static job *find(tsv_jobs *j, const char *id)
{
    for (size_t i = 0; i < j->n; i++)
        if (strcmp(j->v[i]->id, id) == 0)
            return j->v[i];
    return NULL;
}

static int reply_job(tsv_jobs *j, job *jb, tsv_buf *out, tsv_error *err)
{
    tsv_json_writer w;
    tsv_jw_init(&w, out, NULL);
    pthread_mutex_lock(&j->mu);
    job_public(&w, jb);
    pthread_mutex_unlock(&j->mu);
    return tsv_jw_finish(&w, err);
}

/* 1 (err set, TSV_ECONFLICT) if a PITR job is queued or running. Caller
 * holds mu. */
static int pitr_active_locked(tsv_jobs *j, tsv_error *err)
{
    for (size_t i = 0; i < j->n; i++)
        if (strcmp(j->v[i]->type, "pitr") == 0 &&
            (j->v[i]->status == ST_PENDING || j->v[i]->status == ST_RUNNING)) {
            tsv_error_set(err, TSV_ECONFLICT, "a point-in-time restore is already %s (job %s)",
                          j->v[i]->status == ST_PENDING ? "queued" : "running", j->v[i]->id);
            return 1;
        }
    return 0;
}

static int pitr_active(tsv_jobs *j, tsv_error *err)
{
    pthread_mutex_lock(&j->mu);
    int r = pitr_active_locked(j, err);
    pthread_mutex_unlock(&j->mu);
    return r;
}

int tsv_jobs_create(tsv_jobs *j, const char *body, size_t len, const tsv_job_user *u, tsv_buf *out,
                    tsv_error *err)
{
    tsv_json_doc *doc;
    if (tsv_json_parse(&doc, body, len, err) != 0)
        return tsv_error_wrap(err, "invalid JSON request");
    const tsv_json *root = tsv_json_root(doc);
    int rc = 0;
    const tsv_json *type = root->type == TSV_JSON_OBJECT ? tsv_json_get(root, "type") : NULL;
    const tsv_json *des =
        root->type == TSV_JSON_OBJECT ? tsv_json_get(root, "desiredExecutionStatus") : NULL;
    if (root->type != TSV_JSON_OBJECT)
        rc = tsv_error_set(err, TSV_EINVALID, "the request must be a JSON object");
    else if (!type || type->type != TSV_JSON_STRING)
        rc = tsv_error_set(err, TSV_EINVALID, "type is required (a string)");
    else if (strcmp(type->str, "restore") != 0 && strcmp(type->str, "pitr") != 0 &&
             strcmp(type->str, "backup") != 0 && !tsv_job_vault_type(type->str, NULL))
        rc = tsv_error_set(err, TSV_EINVALID,
                           "unknown job type \"%.100s\": this server runs restore, backup, pitr, "
                           "delete_data, restore_data and verify jobs",
                           type->str);
    else if (des && (des->type != TSV_JSON_STRING ||
                     (strcmp(des->str, "running") != 0 && strcmp(des->str, "canceled") != 0)))
        rc = tsv_error_set(err, TSV_EINVALID,
                           "desiredExecutionStatus must be \"running\" or \"canceled\"");
    /* One PITR at a time; decided before anything waits for the store
     * (a running PITR holds its exclusive lock). */
    if (rc == 0 && strcmp(type->str, "pitr") == 0 && pitr_active(j, err))
        rc = -1;
    job *jb = NULL;
    if (rc == 0 && !(jb = calloc(1, sizeof *jb)))
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (rc == 0) {
        snprintf(jb->type, sizeof jb->type, "%s", type->str);
        rc = spec_from_node(jb, root, err);
    }
    tsv_json_free(doc);
    tsv_vault_job_kind kind;
    if (rc == 0 && tsv_job_vault_type(jb->type, &kind))
        rc = vault_bind(j, jb, kind, u->org_id, NULL, err);
    else if (rc == 0)
        rc = spec_bind(j, jb, 1, err);
    if (rc != 0) {
        job_free(jb);
        return -1;
    }
    uuid_t uid;
    uuid_generate_random(uid);
    uuid_unparse_lower(uid, jb->id);
    jb->created_by = jb->modified_by = *u;
    jb->created = jb->updated = now_ns();
    jb->status = ST_PENDING;
    snprintf(jb->health, sizeof jb->health, "ok");
    job_logf(jb, "info", "created by %s", u->name[0] ? u->name : "the operator token");
    if (persist(j, jb, err) != 0) {
        job_free(jb);
        return -1;
    }
    pthread_mutex_lock(&j->mu);
    if (strcmp(jb->type, "pitr") == 0 && pitr_active_locked(j, err))
        rc = -1;
    if (rc == 0)
        rc = add_job(j, jb, err);
    if (rc == 0)
        pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (rc != 0) {
        tsv_error e;
        tsv_store_job_delete(j->s, jb->id, &e);
        job_free(jb);
        return -1;
    }
    TSV_INFO("msg=\"job created\" id=%s type=%s file=\"%s\" target=\"%s\"", jb->id, jb->type,
             jb->file ? jb->file : "", jb->lock_key);
    return reply_job(j, jb, out, err);
}

static job *find_locked(tsv_jobs *j, const char *id, tsv_error *err)
{
    pthread_mutex_lock(&j->mu);
    job *jb = find(j, id);
    pthread_mutex_unlock(&j->mu);
    if (!jb)
        tsv_error_set(err, TSV_ENOTFOUND, "job \"%.100s\" not found", id);
    return jb;
}

int tsv_jobs_get(tsv_jobs *j, const char *id, tsv_buf *out, tsv_error *err)
{
    job *jb = find_locked(j, id, err);
    return jb ? reply_job(j, jb, out, err) : -1;
}

int tsv_jobs_update(tsv_jobs *j, const char *id, const char *body, size_t len,
                    const tsv_job_user *u, tsv_buf *out, tsv_error *err)
{
    job *jb = find_locked(j, id, err);
    if (!jb)
        return -1;
    tsv_json_doc *doc;
    if (tsv_json_parse(&doc, body, len, err) != 0)
        return tsv_error_wrap(err, "invalid JSON request");
    const tsv_json *root = tsv_json_root(doc);
    const tsv_json *d =
        root->type == TSV_JSON_OBJECT ? tsv_json_get(root, "desiredExecutionStatus") : NULL;
    int rc = 0, cancel = 0;
    if (!d || d->type != TSV_JSON_STRING)
        rc = tsv_error_set(err, TSV_EINVALID, "desiredExecutionStatus is required");
    else if (strcmp(d->str, "canceled") == 0)
        cancel = 1;
    else if (strcmp(d->str, "running") != 0)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "desiredExecutionStatus must be \"running\" or \"canceled\"");
    tsv_json_free(doc);
    if (rc != 0)
        return -1;
    pthread_mutex_lock(&j->mu);
    int changed = 0;
    if (cancel && !jb->desired_canceled) {
        if (jb->status >= ST_COMPLETED) {
            rc = tsv_error_set(err, TSV_ECONFLICT, "job %s is already %s", jb->id,
                               st_names[jb->status]);
        } else {
            jb->desired_canceled = 1;
            atomic_store(&jb->cancel_flag, 1);
            jb->modified_by = *u;
            jb->updated = now_ns();
            job_logf(jb, "info", "cancel requested by %s",
                     u->name[0] ? u->name : "the operator token");
            if (jb->status == ST_PENDING) {
                jb->status = ST_CANCELED;
                jb->completed = jb->updated;
                job_log(jb, "info", "canceled before it started");
                tsv_jobs_count_finished(jb->type, st_names[jb->status]);
            }
            changed = 1;
        }
    } else if (!cancel && jb->desired_canceled) {
        rc = tsv_error_set(err, TSV_ECONFLICT, "job %s was canceled; it cannot run again", jb->id);
    }
    pthread_mutex_unlock(&j->mu);
    if (rc != 0)
        return -1;
    if (changed && persist(j, jb, err) != 0)
        return -1;
    return reply_job(j, jb, out, err);
}

int tsv_jobs_logs(tsv_jobs *j, const char *id, tsv_buf *out, tsv_error *err)
{
    job *jb = find_locked(j, id, err);
    if (!jb)
        return -1;
    tsv_json_writer w;
    tsv_jw_init(&w, out, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "logs");
    tsv_jw_array_begin(&w);
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < jb->n_logs; i++) {
        tsv_jw_object_begin(&w);
        jw_time(&w, "timestamp", jb->logs[i].ts);
        tsv_jw_field_string(&w, "level", jb->logs[i].level);
        tsv_jw_field_string(&w, "message", jb->logs[i].msg);
        tsv_jw_object_end(&w);
    }
    pthread_mutex_unlock(&j->mu);
    tsv_jw_array_end(&w);
    tsv_jw_object_end(&w);
    return tsv_jw_finish(&w, err);
}

int tsv_jobs_metrics(tsv_jobs *j, const char *id, tsv_buf *out, tsv_error *err)
{
    job *jb = find_locked(j, id, err);
    if (!jb)
        return -1;
    pthread_mutex_lock(&j->mu);
    uint64_t bt = jb->bytes_total, bd = jb->bytes_done, st = jb->shards_total, sd = jb->shards_done;
    int64_t started = jb->started, end = jb->completed ? jb->completed : now_ns();
    int status = jb->status;
    pthread_mutex_unlock(&j->mu);
    double elapsed = started ? (double)(end - started) / 1e9 : 0;
    double rate = elapsed > 0 ? (double)bd / elapsed : 0;
    double percent = status == ST_COMPLETED ? 100.0
                     : bt                   ? 100.0 * (double)bd / (double)bt
                     : st                   ? 100.0 * (double)sd / (double)st
                                            : 0;
    if (percent > 100)
        percent = 100;
    tsv_json_writer w;
    tsv_jw_init(&w, out, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "totals");
    tsv_jw_object_begin(&w);
    tsv_jw_field_u64(&w, "bytesTotal", bt);
    tsv_jw_field_u64(&w, "bytesDone", bd);
    tsv_jw_field_u64(&w, "shardsTotal", st);
    tsv_jw_field_u64(&w, "shardsDone", sd);
    char num[64];
    snprintf(num, sizeof num, "%.1f", percent);
    tsv_jw_key(&w, "percentDone");
    tsv_jw_raw(&w, num);
    snprintf(num, sizeof num, "%.0f", rate);
    tsv_jw_key(&w, "bytesPerSecond");
    tsv_jw_raw(&w, num);
    snprintf(num, sizeof num, "%.3f", elapsed);
    tsv_jw_key(&w, "elapsedSeconds");
    tsv_jw_raw(&w, num);
    tsv_jw_key(&w, "etaSeconds");
    if (status == ST_RUNNING && rate > 0 && bt >= bd) {
        snprintf(num, sizeof num, "%.1f", (double)(bt - bd) / rate);
        tsv_jw_raw(&w, num);
    } else if (status >= ST_COMPLETED) {
        tsv_jw_raw(&w, "0");
    } else {
        tsv_jw_null(&w);
    }
    tsv_jw_object_end(&w);
    tsv_jw_object_end(&w);
    return tsv_jw_finish(&w, err);
}

/* ---- list -------------------------------------------------------------------------------------- */

static int in_list(const char *s, const char *const *v, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, v[i]) == 0)
            return 1;
    return 0;
}

int tsv_jobs_status_valid(const char *s)
{
    static const char *const v[] = {"pending",  "running", "completed", "idle",
                                    "canceled", "failed",  "unknown"};
    return in_list(s, v, 7);
}

int tsv_jobs_health_valid(const char *s)
{
    static const char *const v[] = {"ok", "warn", "error"};
    return in_list(s, v, 3);
}

int tsv_jobs_type_valid(const char *s)
{
    static const char *const v[] = {"batch",   "delete_data",  "drop_table", "streaming", "sql",
                                    "restore", "restore_data", "verify",     "pitr",      "backup"};
    return in_list(s, v, 10);
}

static const char *const sort_columns[] = {
    "created_by_user_name",   "created_date_time", "execution_status",
    "last_updated_date_time", "source_type",       "source_connection_name",
    "source_table_name",      "target_table_name", "type"};

int tsv_jobs_sort_column_valid(const char *s) { return in_list(s, sort_columns, 9); }

static int cmp_i64(int64_t a, int64_t b) { return a < b ? -1 : a > b; }

static int cmp_jobs(const void *a, const void *b, void *arg)
{
    const tsv_jobs_query *sort_q = arg;
    const job *x = *(job *const *)a, *y = *(job *const *)b;
    const char *c = sort_q->sort_column;
    int r = 0;
    if (strcmp(c, "created_date_time") == 0)
        r = cmp_i64(x->created, y->created);
    else if (strcmp(c, "last_updated_date_time") == 0)
        r = cmp_i64(x->updated, y->updated);
    else if (strcmp(c, "execution_status") == 0)
        r = strcmp(st_names[x->status], st_names[y->status]);
    else if (strcmp(c, "type") == 0)
        r = strcmp(x->type, y->type);
    else if (strcmp(c, "target_table_name") == 0)
        r = strcmp(target_name(x), target_name(y));
    else if (strcmp(c, "created_by_user_name") == 0)
        r = strcmp(x->created_by.name, y->created_by.name);
    else if (strcmp(c, "source_table_name") == 0)
        r = strcmp(x->file ? x->file : "", y->file ? y->file : "");
    if (r == 0)
        r = cmp_i64(x->created, y->created);
    if (r == 0)
        r = strcmp(x->id, y->id);
    return sort_q->ascending ? r : -r;
}

int tsv_jobs_list(tsv_jobs *j, const tsv_jobs_query *q, tsv_buf *out, tsv_error *err)
{
    pthread_mutex_lock(&j->mu);
    job **sel = calloc(j->n ? j->n : 1, sizeof *sel);
    size_t n = 0;
    int rc = sel ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (size_t i = 0; rc == 0 && i < j->n; i++) {
        job *jb = j->v[i];
        if (q->n_status && !in_list(st_names[jb->status], q->status, q->n_status))
            continue;
        if (q->n_health && !in_list(jb->health, q->health, q->n_health))
            continue;
        if (q->n_type && !in_list(jb->type, q->type, q->n_type))
            continue;
        if (q->search && *q->search) {
            tsv_buf b = {0};
            tsv_json_writer w;
            tsv_jw_init(&w, &b, NULL);
            job_public(&w, jb);
            int hit = tsv_jw_finish(&w, NULL) == 0 && tsv_buf_append(&b, "", 1, NULL) == 0 &&
                      strcasestr((const char *)b.data, q->search) != NULL;
            tsv_buf_free(&b);
            if (!hit)
                continue;
        }
        sel[n++] = jb;
    }
    if (rc == 0) {
        qsort_r(sel, n, sizeof *sel, cmp_jobs, (void *)q);
        tsv_json_writer w;
        tsv_jw_init(&w, out, NULL);
        tsv_jw_object_begin(&w);
        tsv_jw_key(&w, "values");
        tsv_jw_array_begin(&w);
        size_t end = q->offset >= n ? n : (size_t)q->offset;
        size_t i;
        for (i = end; i < n && i - end < q->limit; i++)
            job_public(&w, sel[i]);
        tsv_jw_array_end(&w);
        tsv_jw_field_bool(&w, "moreResultsAvailable", i < n);
        tsv_jw_object_end(&w);
        rc = tsv_jw_finish(&w, err);
    }
    pthread_mutex_unlock(&j->mu);
    free(sel);
    return rc;
}

int tsv_jobs_active_key(tsv_jobs *j, const char *key)
{
    int found = 0;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->n && !found; i++)
        found = (j->v[i]->status == ST_PENDING || j->v[i]->status == ST_RUNNING) &&
                strcmp(j->v[i]->lock_key, key) == 0;
    pthread_mutex_unlock(&j->mu);
    return found;
}

int tsv_jobs_counts(tsv_jobs *j, tsv_jobs_count_fn fn, void *ctx)
{
    /* (type, status) pairs: types are few, so a small table does. */
    enum {
        MAX_TYPES = 16
    };
    char types[MAX_TYPES][32];
    uint64_t counts[MAX_TYPES][ST_COUNT];
    int nt = 0;
    memset(counts, 0, sizeof counts);
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->n; i++) {
        const job *jb = j->v[i];
        int t;
        for (t = 0; t < nt; t++)
            if (strcmp(types[t], jb->type) == 0)
                break;
        if (t == nt) {
            if (nt == MAX_TYPES)
                continue;
            snprintf(types[nt++], sizeof types[0], "%s", jb->type);
        }
        counts[t][jb->status]++;
    }
    pthread_mutex_unlock(&j->mu);
    for (int t = 0; t < nt; t++)
        for (int st = 0; st < ST_COUNT; st++)
            fn(ctx, types[t], st_names[st], counts[t][st]);
    return 0;
}

/* ---- point-in-time recovery ---------------------------------------------------- */

int tsv_jobs_pitr_status(tsv_jobs *j, const char *id, tsv_buf *out, tsv_error *err)
{
    pthread_mutex_lock(&j->mu);
    job *jb = find(j, id);
    if (!jb || strcmp(jb->type, "pitr") != 0) {
        pthread_mutex_unlock(&j->mu);
        return tsv_error_set(err, TSV_ENOTFOUND, "point-in-time restore job \"%.100s\" not found",
                             id);
    }
    /* The seed's statuses: queued, running, done, failed, deleted. */
    static const char *const seed[ST_COUNT] = {"queued", "running", "done", "failed", "deleted"};
    tsv_json_writer w;
    tsv_jw_init(&w, out, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "status", seed[jb->status]);
    tsv_jw_field_string(&w, "jobId", jb->id);
    tsv_jw_field_time(&w, "target_time", jb->target_ns);
    if (jb->pitr_org[0]) {
        tsv_jw_field_string(&w, "orgID", jb->pitr_org);
    }
    if (jb->pitr_bucket[0]) {
        tsv_jw_field_string(&w, "bucketID", jb->pitr_bucket);
    }
    if (jb->health_msg[0]) {
        tsv_jw_field_string(&w, "description", jb->health_msg);
    }
    tsv_jw_object_end(&w);
    pthread_mutex_unlock(&j->mu);
    return tsv_jw_finish(&w, err);
}

int tsv_jobs_pitr_create(tsv_jobs *j, const char *body, size_t len, const tsv_job_user *u,
                         tsv_buf *out, char *job_id, size_t job_id_len, tsv_error *err)
{
    tsv_json_doc *doc;
    if (tsv_json_parse(&doc, body, len, err) != 0)
        return tsv_error_wrap(err, "invalid JSON request");
    const tsv_json *root = tsv_json_root(doc);
    if (root->type != TSV_JSON_OBJECT) {
        tsv_json_free(doc);
        return tsv_error_set(err, TSV_EINVALID, "the request must be a JSON object");
    }
    /* A normal job of type "pitr" whose spec is the request. */
    tsv_buf req = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &req, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "type", "pitr");
    for (size_t i = 0; i < root->count; i++) {
        if (strcmp(root->keys[i], "type") == 0)
            continue;
        tsv_jw_key(&w, root->keys[i]);
        tsv_jw_node(&w, root->items[i]);
    }
    tsv_jw_object_end(&w);
    tsv_json_free(doc);
    if (tsv_jw_finish(&w, err) != 0) {
        tsv_buf_free(&req);
        return -1;
    }
    tsv_buf tmp = {0};
    int rc = tsv_jobs_create(j, (const char *)req.data, req.len, u, &tmp, err);
    tsv_buf_free(&req);
    if (rc == 0) {
        tsv_json_doc *d2;
        rc = tsv_json_parse(&d2, (const char *)tmp.data, tmp.len, err);
        if (rc == 0) {
            const tsv_json *id = tsv_json_get(tsv_json_root(d2), "id");
            snprintf(job_id, job_id_len, "%s", id && id->type == TSV_JSON_STRING ? id->str : "");
            tsv_json_writer w2;
            tsv_jw_init(&w2, out, NULL);
            tsv_jw_object_begin(&w2);
            tsv_jw_field_string(&w2, "status", "queued");
            tsv_jw_field_string(&w2, "jobId", job_id);
            tsv_jw_object_end(&w2);
            rc = tsv_jw_finish(&w2, err);
            tsv_json_free(d2);
        }
    }
    tsv_buf_free(&tmp);
    return rc;
}
