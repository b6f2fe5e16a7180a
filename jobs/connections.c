/* connections: see connections.h. */
#include "connections.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array_grow.h"
#include "influx1_rpc.h"
#include "influx2_backup.h"
#include "jobs.h"
#include "json.h"
#include "object_store.h"
#include "random.h"
#include "secret_box.h"
#include "tar_objects.h"
#include "tsv_log.h"
#include "tsv_time.h"

#define NS 1000000000LL
#define SCHEDULE_TICK_S 5
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_CLOCK_SKEW_NS (10 * NS)

struct tsv_conns {
    char dir[PATH_MAX];
    char tmp[PATH_MAX];
    tsv_conn_catalog *cat;
    tsv_secret_box *box;
    tsv_objstore *os;
    int64_t grace_ns, collect_ns;
    /* pulls in progress (objects stored, snapshot not committed yet) hold
     * the object GC off */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pulls;
    int collecting;
    /* scheduler */
    struct tsv_jobs *jobs;
    pthread_t sched;
    int sched_running, stopping;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

int tsv_conns_open(tsv_conns **out, const tsv_conns_options *opt, tsv_error *err)
{
    tsv_conns *c = calloc(1, sizeof *c);
    if (!c)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->grace_ns = opt->grace_ns;
    c->collect_ns = opt->collect_ns > 0 ? opt->collect_ns : 60 * NS;
    char objects[PATH_MAX];
    int rc = 0;
    if ((size_t)snprintf(c->dir, sizeof c->dir, "%s", opt->dir) >= sizeof c->dir ||
        (size_t)snprintf(c->tmp, sizeof c->tmp, "%s/tmp", opt->dir) >= sizeof c->tmp ||
        (size_t)snprintf(objects, sizeof objects, "%s/objects", opt->dir) >= sizeof objects)
        rc = tsv_error_set(err, TSV_EINVALID, "connections directory path too long");
    if (rc == 0)
        rc = tsv_conn_catalog_open(&c->cat, c->dir, err);
    /* A pull interrupted by a crash left temp files only: nothing refers to them. */
    if (rc == 0)
        rc = tsv_tar_tmp_dir_reset(c->tmp, err);
    if (rc == 0)
        rc = tsv_secret_box_open(&c->box, c->dir, err);
    if (rc == 0)
        rc = tsv_objstore_open_local(&c->os, objects, err);
    if (rc != 0) {
        tsv_conns_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

void tsv_conns_close(tsv_conns *c)
{
    if (!c)
        return;
    tsv_conns_stop_schedule(c);
    if (c->os)
        tsv_objstore_close(c->os);
    tsv_secret_box_free(c->box);
    tsv_conn_catalog_close(c->cat);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

tsv_conn_catalog *tsv_conns_catalog(tsv_conns *c) { return c->cat; }
tsv_objstore *tsv_conns_objects(tsv_conns *c) { return c->os; }
const char *tsv_conns_tmp_dir(tsv_conns *c) { return c->tmp; }

int tsv_conns_temp_fd(tsv_conns *c, const char *prefix, char *path, size_t size, tsv_error *err)
{
    if ((size_t)snprintf(path, size, "%s/%s-%016llx.tmp", c->tmp, prefix,
                         (unsigned long long)tsv_random_u64()) >= size)
        return tsv_error_set(err, TSV_EINVALID, "temp path too long");
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return tsv_error_set_errno(err, errno == ENOSPC ? TSV_ENOSPACE : TSV_EINTERNAL, errno,
                                   "create %s", path);
    unlink(path);
    return fd;
}

void tsv_conns_pull_begin(tsv_conns *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->collecting)
        pthread_cond_wait(&c->cv, &c->mu);
    c->pulls++;
    pthread_mutex_unlock(&c->mu);
}

void tsv_conns_pull_end(tsv_conns *c)
{
    pthread_mutex_lock(&c->mu);
    c->pulls--;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* ---- validation ------------------------------------------------------------------------ */

static int name_valid(const char *s, size_t len)
{
    if (len < 1 || len > TSV_CONN_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static int check_name(const char *s, size_t len, tsv_error *err)
{
    if (!name_valid(s, len))
        return tsv_error_set(err, TSV_EINVALID,
                             "name must be 1-64 characters of ASCII letters, digits, '.', '_' "
                             "and '-'");
    return 0;
}

static const tsv_json *get(const tsv_json *o, const char *k) { return tsv_json_get(o, k); }

static int want_string(const tsv_json *o, const char *key, int required, size_t max,
                       const char **out, tsv_error *err)
{
    const tsv_json *v = get(o, key);
    *out = NULL;
    if (!v || v->type == TSV_JSON_NULL) {
        if (required)
            return tsv_error_set(err, TSV_EINVALID, "%s is required", key);
        return 0;
    }
    if (v->type != TSV_JSON_STRING)
        return tsv_error_set(err, TSV_EINVALID, "%s must be a string", key);
    if (v->len > max || strlen(v->str) != v->len)
        return tsv_error_set(err, TSV_EINVALID, "%s is too long (at most %zu bytes)", key, max);
    if (required && v->len == 0)
        return tsv_error_set(err, TSV_EINVALID, "%s must not be empty", key);
    *out = v->str;
    return 0;
}

static int check_names_array(const tsv_json *o, const char *key, tsv_error *err)
{
    const tsv_json *v = get(o, key);
    if (!v || v->type == TSV_JSON_NULL)
        return 0;
    if (v->type != TSV_JSON_ARRAY)
        return tsv_error_set(err, TSV_EINVALID, "%s must be an array of names", key);
    for (size_t i = 0; i < v->count; i++) {
        const tsv_json *x = v->items[i];
        if (x->type != TSV_JSON_STRING || x->len == 0 || x->len > 255 || strlen(x->str) != x->len)
            return tsv_error_set(err, TSV_EINVALID, "%s[%zu] must be a non-empty name", key, i);
    }
    return 0;
}

static int parse_schedule(const tsv_json *v, tsv_schedule *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!v || v->type == TSV_JSON_NULL)
        return 0;
    if (v->type != TSV_JSON_OBJECT || v->count != 1)
        return tsv_error_set(err, TSV_EINVALID,
                             "schedule must be {\"every\":\"15m\"} or {\"cron\":\"*/15 * * * "
                             "*\"}");
    const tsv_json *every = get(v, "every"), *cron = get(v, "cron");
    if (every && every->type == TSV_JSON_STRING)
        return tsv_schedule_every(every->str, out, err);
    if (cron && cron->type == TSV_JSON_STRING)
        return tsv_schedule_cron(cron->str, out, err);
    return tsv_error_set(err, TSV_EINVALID,
                         "schedule must be {\"every\":\"15m\"} or {\"cron\":\"*/15 * * * *\"}");
}

static int parse_keep(const tsv_json *v, tsv_conn_keep *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!v || v->type == TSV_JSON_NULL)
        return 0;
    if (v->type != TSV_JSON_OBJECT)
        return tsv_error_set(err, TSV_EINVALID,
                             "keep must be an object: {\"last\":N, \"hourly\":N, \"daily\":N, "
                             "\"weekly\":N, \"monthly\":N}");
    static const char *const keys[] = {"last", "hourly", "daily", "weekly", "monthly"};
    int *slots[] = {&out->last, &out->hourly, &out->daily, &out->weekly, &out->monthly};
    for (size_t i = 0; i < v->count; i++) {
        size_t k = 0;
        while (k < 5 && strcmp(v->keys[i], keys[k]) != 0)
            k++;
        if (k == 5)
            return tsv_error_set(err, TSV_EINVALID,
                                 "keep.%.40s: unknown rule (last, hourly, daily, weekly, monthly)",
                                 v->keys[i]);
        uint64_t n;
        char what[64];
        snprintf(what, sizeof what, "keep.%s", keys[k]);
        if (tsv_json_u64(v->items[i], &n, what, err) != 0)
            return -1;
        if (n < 1 || n > 100000)
            return tsv_error_set(err, TSV_EINVALID, "%s must be 1..100000", what);
        *slots[k] = (int)n;
    }
    return 0;
}

static const char *const settable[] = {
    "type", "description", "url",  "host",           "orgID", "buckets", "databases",
    "tls",  "schedule",    "keep", "timeoutSeconds", "name",  "secrets"};
static const char *const read_only[] = {"submittedByUser", "submittedOnTimestamp", "modifiedByUser",
                                        "modifiedOnTimestamp"};

static int in_set(const char *k, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, v[i]) == 0)
            return 1;
    return 0;
}

/* Checks a whole connection object (settings, no secrets) for its type. */
static int validate(const tsv_json *o, tsv_error *err)
{
    if (o->type != TSV_JSON_OBJECT)
        return tsv_error_set(err, TSV_EINVALID, "the request must be a JSON object");
    for (size_t i = 0; i < o->count; i++)
        if (!in_set(o->keys[i], settable, sizeof settable / sizeof *settable) &&
            !in_set(o->keys[i], read_only, sizeof read_only / sizeof *read_only))
            return tsv_error_set(err, TSV_EINVALID, "unknown field \"%.60s\"", o->keys[i]);
    const char *type, *s;
    if (want_string(o, "type", 1, 15, &type, err) != 0 ||
        want_string(o, "description", 0, 4096, &s, err) != 0)
        return -1;
    int v2 = strcmp(type, "influxdb2") == 0, v1 = strcmp(type, "influxdb1") == 0;
    if (!v1 && !v2)
        return tsv_error_set(err, TSV_EINVALID,
                             "type \"%.20s\" is not supported: influxdb2 or influxdb1", type);
    if (v2) {
        const char *url, *org;
        if (want_string(o, "url", 1, 1000, &url, err) != 0)
            return -1;
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
            return tsv_error_set(err, TSV_EINVALID, "url must start with http:// or https://");
        if (want_string(o, "orgID", 0, 16, &org, err) != 0)
            return -1;
        if (org && strspn(org, "0123456789abcdef") != 16)
            return tsv_error_set(err, TSV_EINVALID, "orgID must be 16 lowercase hex digits");
        if (check_names_array(o, "buckets", err) != 0)
            return -1;
        if (get(o, "host") || get(o, "databases"))
            return tsv_error_set(err, TSV_EINVALID,
                                 "host and databases are for influxdb1 connections");
        const tsv_json *tls = get(o, "tls");
        if (tls && tls->type != TSV_JSON_NULL) {
            if (tls->type != TSV_JSON_OBJECT)
                return tsv_error_set(err, TSV_EINVALID,
                                     "tls must be {\"caFile\":\"...\",\"skipVerify\":false}");
            for (size_t i = 0; i < tls->count; i++)
                if (strcmp(tls->keys[i], "caFile") != 0 && strcmp(tls->keys[i], "skipVerify") != 0)
                    return tsv_error_set(err, TSV_EINVALID,
                                         "tls.%.40s: unknown field (caFile, "
                                         "skipVerify)",
                                         tls->keys[i]);
            const char *ca;
            int skip;
            if (want_string(tls, "caFile", 0, 1000, &ca, err) != 0)
                return tsv_error_wrap(err, "tls");
            const tsv_json *sv = get(tls, "skipVerify");
            if (sv && tsv_json_bool(sv, &skip, "tls.skipVerify", err) != 0)
                return -1;
        }
    } else {
        const char *host;
        if (want_string(o, "host", 1, 299, &host, err) != 0)
            return -1;
        const char *colon = strrchr(host, ':');
        if (!colon || colon == host || !colon[1] ||
            strspn(colon + 1, "0123456789") != strlen(colon + 1))
            return tsv_error_set(err, TSV_EINVALID,
                                 "host must be \"host:port\" (the 1.x RPC endpoint, e.g. "
                                 "\"127.0.0.1:8088\")");
        if (check_names_array(o, "databases", err) != 0)
            return -1;
        if (get(o, "url") || get(o, "orgID") || get(o, "buckets") || get(o, "tls"))
            return tsv_error_set(err, TSV_EINVALID,
                                 "url, orgID, buckets and tls are for influxdb2 connections");
    }
    tsv_schedule sc;
    tsv_conn_keep keep;
    if (parse_schedule(get(o, "schedule"), &sc, err) != 0 ||
        parse_keep(get(o, "keep"), &keep, err) != 0)
        return -1;
    const tsv_json *to = get(o, "timeoutSeconds");
    if (to && to->type != TSV_JSON_NULL) {
        uint64_t t;
        if (tsv_json_u64(to, &t, "timeoutSeconds", err) != 0)
            return -1;
        if (t < 1 || t > 86400)
            return tsv_error_set(err, TSV_EINVALID, "timeoutSeconds must be 1..86400");
    }
    const tsv_json *sk = get(o, "clockSkewSeconds");
    if (sk && sk->type != TSV_JSON_NULL) {
        uint64_t t;
        if (tsv_json_u64(sk, &t, "clockSkewSeconds", err) != 0)
            return -1;
        if (t > 86400)
            return tsv_error_set(err, TSV_EINVALID, "clockSkewSeconds must be 0..86400");
    }
    return 0;
}

/* The settings to store: every settable field but name and secrets. */
static int settings_json(const tsv_json *o, char **out, tsv_error *err)
{
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    tsv_jw_object_begin(&w);
    for (size_t i = 0; i < o->count; i++) {
        const char *k = o->keys[i];
        if (strcmp(k, "name") == 0 || strcmp(k, "secrets") == 0 ||
            in_set(k, read_only, sizeof read_only / sizeof *read_only) ||
            o->items[i]->type == TSV_JSON_NULL)
            continue;
        tsv_jw_key(&w, k);
        tsv_jw_node(&w, o->items[i]);
    }
    tsv_jw_object_end(&w);
    if (tsv_jw_finish(&w, err) != 0 || tsv_buf_append(&b, "", 1, err) != 0) {
        tsv_buf_free(&b);
        return -1;
    }
    *out = (char *)b.data;
    return 0;
}

/* Secrets: {"token": "..."} (influxdb2); influxdb1 has none. Sealed as a
 * JSON object so that more kinds can come. */
static int seal_secrets(tsv_conns *c, const char *name, const char *type, const tsv_json *sec,
                        const tsv_json *old, tsv_conn_record *r, tsv_error *err)
{
    if (sec && sec->type != TSV_JSON_NULL && sec->type != TSV_JSON_OBJECT)
        return tsv_error_set(err, TSV_EINVALID, "secrets must be an object: {\"token\":\"...\"}");
    const tsv_json *tok = sec && sec->type == TSV_JSON_OBJECT ? get(sec, "token") : NULL;
    if (sec && sec->type == TSV_JSON_OBJECT)
        for (size_t i = 0; i < sec->count; i++)
            if (strcmp(sec->keys[i], "token") != 0)
                return tsv_error_set(err, TSV_EINVALID, "secrets.%.40s: unknown secret (token)",
                                     sec->keys[i]);
    if (tok && (tok->type != TSV_JSON_STRING || tok->len == 0 || tok->len > 4096 ||
                strlen(tok->str) != tok->len))
        return tsv_error_set(err, TSV_EINVALID, "secrets.token must be a non-empty string");
    if (!tok && old)
        tok = old;
    if (strcmp(type, "influxdb2") != 0) {
        if (tok)
            return tsv_error_set(err, TSV_EINVALID,
                                 "influxdb1 connections take no secrets (the 1.x RPC protocol has "
                                 "no authentication)");
        return 0;
    }
    if (!tok)
        return tsv_error_set(err, TSV_EINVALID,
                             "secrets.token is required for influxdb2 connections (an operator "
                             "token of the source)");
    tsv_buf plain = {0}, sealed = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &plain, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "token");
    tsv_jw_string_n(&w, tok->str, tok->len);
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);
    if (rc == 0)
        rc = tsv_secret_seal(c->box, name, plain.data, plain.len, &sealed, err);
    if (plain.data)
        memset(plain.data, 0, plain.len);
    tsv_buf_free(&plain);
    if (rc == 0) {
        r->secrets = sealed.data;
        r->secrets_len = sealed.len;
    } else {
        tsv_buf_free(&sealed);
    }
    return rc;
}

/* The stored secrets, opened: a parsed {"token"} document (token wiped
 * with the document's text by the caller through tsv_secret_wipe_free). */
static int open_secrets(tsv_conns *c, const tsv_conn_record *r, char **plain, size_t *len,
                        tsv_json_doc **doc, tsv_error *err)
{
    *plain = NULL;
    *doc = NULL;
    if (!r->secrets)
        return 0;
    if (tsv_secret_unseal(c->box, r->name, r->secrets, r->secrets_len, plain, len, err) != 0)
        return -1;
    if (tsv_json_parse(doc, *plain, *len, err) != 0) {
        tsv_secret_wipe_free(*plain, *len);
        *plain = NULL;
        return tsv_error_set(err, TSV_EINTERNAL, "stored secrets of \"%s\" are unreadable",
                             r->name);
    }
    return 0;
}

/* ---- replies --------------------------------------------------------------------------- */

static void jw_user(tsv_json_writer *w, const char *key, const char *packed)
{
    /* stored as "<id>\t<name>" */
    const char *tab = strchr(packed, '\t');
    tsv_jw_key(w, key);
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "username", tab ? tab + 1 : packed);
    tsv_jw_key(w, "userId");
    tsv_jw_string_n(w, packed, tab ? (size_t)(tab - packed) : 0);
    tsv_jw_object_end(w);
}

static int write_connection(tsv_json_writer *w, const tsv_conn_record *r, tsv_error *err)
{
    tsv_json_doc *doc = NULL;
    if (tsv_json_parse(&doc, r->spec_json, strlen(r->spec_json), err) != 0)
        return tsv_error_wrap(err, "stored connection \"%s\"", r->name);
    const tsv_json *o = tsv_json_root(doc);
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "name", r->name);
    for (size_t i = 0; i < o->count; i++) {
        tsv_jw_key(w, o->keys[i]);
        tsv_jw_node(w, o->items[i]);
    }
    tsv_jw_key(w, "secrets");
    tsv_jw_object_begin(w);
    tsv_jw_object_end(w);
    jw_user(w, "submittedByUser", r->submitted_by);
    tsv_jw_field_time(w, "submittedOnTimestamp", r->submitted_on);
    jw_user(w, "modifiedByUser", r->modified_by);
    tsv_jw_field_time(w, "modifiedOnTimestamp", r->modified_on);
    if (r->last_run)
        tsv_jw_field_time(w, "lastScheduledRun", r->last_run);
    tsv_jw_object_end(w);
    tsv_json_free(doc);
    return 0;
}

static int reply_record(const tsv_conn_record *r, tsv_buf *out, tsv_error *err)
{
    tsv_json_writer w;
    tsv_jw_init(&w, out, NULL);
    if (write_connection(&w, r, err) != 0)
        return -1;
    return tsv_jw_finish(&w, err);
}

static void pack_user(char *out, size_t len, const tsv_job_user *u)
{
    snprintf(out, len, "%s\t%s", u->id, u->name[0] ? u->name : "operator");
}

/* ---- API ------------------------------------------------------------------------------- */

int tsv_conns_create(tsv_conns *c, const char *body, size_t len, const tsv_job_user *u,
                     tsv_buf *out, tsv_error *err)
{
    tsv_json_doc *doc = NULL;
    if (tsv_json_parse(&doc, body, len, err) != 0)
        return tsv_error_wrap(err, "invalid JSON request");
    const tsv_json *o = tsv_json_root(doc);
    tsv_conn_record r;
    memset(&r, 0, sizeof r);
    const char *name = NULL;
    int rc = validate(o, err);
    if (rc == 0)
        rc = want_string(o, "name", 1, TSV_CONN_NAME_MAX + 100, &name, err);
    if (rc == 0)
        rc = check_name(name, strlen(name), err);
    if (rc == 0 && strcmp(name, "local") == 0)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "name \"local\" is reserved (it means this server's own state)");
    if (rc == 0) {
        snprintf(r.name, sizeof r.name, "%s", name);
        snprintf(r.type, sizeof r.type, "%s", get(o, "type")->str);
        rc = seal_secrets(c, r.name, r.type, get(o, "secrets"), NULL, &r, err);
    }
    if (rc == 0)
        rc = settings_json(o, &r.spec_json, err);
    if (rc == 0) {
        pack_user(r.submitted_by, sizeof r.submitted_by, u);
        pack_user(r.modified_by, sizeof r.modified_by, u);
        r.submitted_on = r.modified_on = now_ns();
        rc = tsv_conn_catalog_put(c->cat, &r, 1, err);
    }
    if (rc == 0) {
        TSV_INFO("msg=\"connection created\" name=%s type=%s", r.name, r.type);
        rc = reply_record(&r, out, err);
    }
    tsv_conn_record_clear(&r);
    tsv_json_free(doc);
    return rc;
}

typedef struct list_ctx {
    tsv_json_writer *w;
} list_ctx;

static int list_one(void *ctx, const tsv_conn_record *r, tsv_error *err)
{
    return write_connection(((list_ctx *)ctx)->w, r, err);
}

int tsv_conns_list(tsv_conns *c, tsv_buf *out, tsv_error *err)
{
    tsv_json_writer w;
    tsv_jw_init(&w, out, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "values");
    tsv_jw_array_begin(&w);
    list_ctx lc = {&w};
    if (tsv_conn_catalog_list(c->cat, list_one, &lc, err) != 0)
        return -1;
    tsv_jw_array_end(&w);
    tsv_jw_object_end(&w);
    return tsv_jw_finish(&w, err);
}

int tsv_conns_get(tsv_conns *c, const char *name, tsv_buf *out, tsv_error *err)
{
    tsv_conn_record r;
    if (tsv_conn_catalog_get(c->cat, name, &r, err) != 0)
        return -1;
    int rc = reply_record(&r, out, err);
    tsv_conn_record_clear(&r);
    return rc;
}

int tsv_conns_exists(tsv_conns *c, const char *name)
{
    tsv_conn_record r;
    if (tsv_conn_catalog_get(c->cat, name, &r, NULL) != 0)
        return 0;
    tsv_conn_record_clear(&r);
    return 1;
}

/* PATCH: stored settings with the patch's members replacing (null removes). */
static int merge(const tsv_json *base, const tsv_json *patch, tsv_buf *b, tsv_error *err)
{
    tsv_json_writer w;
    tsv_jw_init(&w, b, NULL);
    tsv_jw_object_begin(&w);
    for (size_t i = 0; i < base->count; i++) {
        if (get(patch, base->keys[i]))
            continue;
        tsv_jw_key(&w, base->keys[i]);
        tsv_jw_node(&w, base->items[i]);
    }
    for (size_t i = 0; i < patch->count; i++) {
        if (patch->items[i]->type == TSV_JSON_NULL || strcmp(patch->keys[i], "secrets") == 0)
            continue;
        tsv_jw_key(&w, patch->keys[i]);
        tsv_jw_node(&w, patch->items[i]);
    }
    tsv_jw_object_end(&w);
    return tsv_jw_finish(&w, err);
}

int tsv_conns_update(tsv_conns *c, const char *name, const char *body, size_t len, int patch,
                     const tsv_job_user *u, tsv_buf *out, tsv_error *err)
{
    tsv_conn_record old, r;
    memset(&r, 0, sizeof r);
    if (tsv_conn_catalog_get(c->cat, name, &old, err) != 0)
        return -1;
    tsv_json_doc *doc = NULL, *base = NULL, *merged = NULL, *sec = NULL;
    char *plain = NULL;
    size_t plain_len = 0;
    tsv_buf mb = {0};
    int rc = tsv_json_parse(&doc, body, len, err);
    if (rc != 0)
        tsv_error_wrap(err, "invalid JSON request");
    const tsv_json *o = rc == 0 ? tsv_json_root(doc) : NULL;
    if (rc == 0 && o->type != TSV_JSON_OBJECT)
        rc = tsv_error_set(err, TSV_EINVALID, "the request must be a JSON object");
    const tsv_json *nm = rc == 0 ? get(o, "name") : NULL;
    if (rc == 0 && nm && (nm->type != TSV_JSON_STRING || strcmp(nm->str, name) != 0))
        rc = tsv_error_set(err, TSV_EINVALID,
                           "name cannot be changed (create a new connection instead)");
    const tsv_json *settings = o;
    if (rc == 0 && patch) {
        rc = tsv_json_parse(&base, old.spec_json, strlen(old.spec_json), err);
        if (rc == 0)
            rc = merge(tsv_json_root(base), o, &mb, err);
        if (rc == 0)
            rc = tsv_json_parse(&merged, (const char *)mb.data, mb.len, err);
        if (rc == 0)
            settings = tsv_json_root(merged);
    }
    if (rc == 0)
        rc = validate(settings, err);
    const tsv_json *type = rc == 0 ? get(settings, "type") : NULL;
    if (rc == 0 && strcmp(type->str, old.type) != 0)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "type cannot be changed from %s (create a new connection instead)",
                           old.type);
    if (rc == 0)
        rc = open_secrets(c, &old, &plain, &plain_len, &sec, err);
    if (rc == 0) {
        snprintf(r.name, sizeof r.name, "%s", old.name);
        snprintf(r.type, sizeof r.type, "%s", old.type);
        const tsv_json *oldtok = sec ? get(tsv_json_root(sec), "token") : NULL;
        rc = seal_secrets(c, r.name, r.type, get(o, "secrets"), oldtok, &r, err);
    }
    if (rc == 0)
        rc = settings_json(settings, &r.spec_json, err);
    if (rc == 0) {
        snprintf(r.submitted_by, sizeof r.submitted_by, "%s", old.submitted_by);
        r.submitted_on = old.submitted_on;
        pack_user(r.modified_by, sizeof r.modified_by, u);
        r.modified_on = now_ns();
        r.last_run = old.last_run;
        rc = tsv_conn_catalog_put(c->cat, &r, 0, err);
    }
    if (rc == 0) {
        TSV_INFO("msg=\"connection updated\" name=%s", r.name);
        rc = reply_record(&r, out, err);
    }
    tsv_json_free(sec);
    tsv_secret_wipe_free(plain, plain_len);
    tsv_json_free(merged);
    tsv_json_free(base);
    tsv_json_free(doc);
    tsv_buf_free(&mb);
    tsv_conn_record_clear(&old);
    tsv_conn_record_clear(&r);
    return rc;
}

int tsv_conns_delete(tsv_conns *c, const char *name, tsv_error *err)
{
    if (tsv_conn_catalog_delete(c->cat, name, now_ns(), err) != 0)
        return -1;
    TSV_INFO("msg=\"connection deleted; its snapshots are soft-deleted\" name=%s", name);
    return 0;
}

/* ---- loading for the jobs -------------------------------------------------------------- */

void tsv_conn_clear(tsv_conn *conn)
{
    if (!conn)
        return;
    if (conn->token)
        tsv_secret_wipe_free(conn->token, strlen(conn->token));
    for (size_t i = 0; i < conn->n_names; i++)
        free(conn->names[i]);
    free(conn->names);
    memset(conn, 0, sizeof *conn);
}

int tsv_conn_selected(const tsv_conn *conn, const char *name)
{
    if (!conn->names)
        return 1;
    for (size_t i = 0; i < conn->n_names; i++)
        if (strcmp(conn->names[i], name) == 0)
            return 1;
    return 0;
}

static void copy_str(char *dst, size_t len, const tsv_json *o, const char *key)
{
    const tsv_json *v = o ? get(o, key) : NULL;
    snprintf(dst, len, "%s", v && v->type == TSV_JSON_STRING ? v->str : "");
}

int tsv_conns_load(tsv_conns *c, const char *name, tsv_conn *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    tsv_conn_record r;
    if (tsv_conn_catalog_get(c->cat, name, &r, err) != 0)
        return -1;
    tsv_json_doc *doc = NULL, *sec = NULL;
    char *plain = NULL;
    size_t plain_len = 0;
    int rc = tsv_json_parse(&doc, r.spec_json, strlen(r.spec_json), err);
    const tsv_json *o = rc == 0 ? tsv_json_root(doc) : NULL;
    if (rc == 0) {
        snprintf(out->name, sizeof out->name, "%s", r.name);
        snprintf(out->type, sizeof out->type, "%s", r.type);
        copy_str(out->url, sizeof out->url, o, "url");
        copy_str(out->org_id, sizeof out->org_id, o, "orgID");
        copy_str(out->host, sizeof out->host, o, "host");
        const tsv_json *tls = get(o, "tls");
        copy_str(out->ca_file, sizeof out->ca_file, tls, "caFile");
        const tsv_json *sv = tls ? get(tls, "skipVerify") : NULL;
        out->skip_verify = sv && sv->type == TSV_JSON_BOOL && sv->boolean;
        const tsv_json *to = get(o, "timeoutSeconds");
        uint64_t t = 0;
        out->timeout_ms = to && tsv_json_u64(to, &t, "timeoutSeconds", NULL) == 0
                              ? (int)(t * 1000)
                              : DEFAULT_TIMEOUT_MS;
        const tsv_json *sk = get(o, "clockSkewSeconds");
        out->clock_skew_ns = sk && tsv_json_u64(sk, &t, "clockSkewSeconds", NULL) == 0
                                 ? (int64_t)t * NS
                                 : DEFAULT_CLOCK_SKEW_NS;
        const tsv_json *names = get(o, strcmp(r.type, "influxdb2") == 0 ? "buckets" : "databases");
        if (names && names->type == TSV_JSON_ARRAY) {
            out->names = calloc(names->count ? names->count : 1, sizeof *out->names);
            if (!out->names)
                rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            for (size_t i = 0; rc == 0 && i < names->count; i++) {
                if (!(out->names[i] = strdup(names->items[i]->str)))
                    rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
                else
                    out->n_names++;
            }
        }
    }
    if (rc == 0)
        rc = parse_schedule(get(o, "schedule"), &out->schedule, err);
    if (rc == 0)
        rc = parse_keep(get(o, "keep"), &out->keep, err);
    if (rc == 0)
        rc = open_secrets(c, &r, &plain, &plain_len, &sec, err);
    if (rc == 0 && sec) {
        const tsv_json *tok = get(tsv_json_root(sec), "token");
        if (tok && tok->type == TSV_JSON_STRING && !(out->token = strdup(tok->str)))
            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    /* Secrets are not copied to an object store: a connection recovered
     * from one has none until it is given its token again. */
    if (rc == 0 && strcmp(out->type, "influxdb2") == 0 && !out->token)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "connection \"%s\" has no token (it was recovered from an object "
                           "store, which never holds secrets): set it again with PATCH "
                           "/api/v2/connections/%s {\"secrets\":{\"token\":\"...\"}}",
                           out->name, out->name);
    if (sec) {
        /* the parsed copy of the token: wipe it too */
        const tsv_json *tok = get(tsv_json_root(sec), "token");
        if (tok && tok->type == TSV_JSON_STRING)
            memset((char *)tok->str, 0, tok->len);
    }
    tsv_json_free(sec);
    tsv_secret_wipe_free(plain, plain_len);
    tsv_json_free(doc);
    tsv_conn_record_clear(&r);
    if (rc != 0)
        tsv_conn_clear(out);
    return rc;
}

/* ---- test ------------------------------------------------------------------------------ */

int tsv_conns_test(tsv_conns *c, const char *name, tsv_buf *out, tsv_error *err)
{
    tsv_conn conn;
    if (tsv_conns_load(c, name, &conn, err) != 0)
        return -1;
    char summary[512] = "";
    int rc;
    if (strcmp(conn.type, "influxdb2") == 0) {
        tsv_influx2 *cl = NULL;
        rc = tsv_influx2_new(&cl, conn.url, conn.token, err);
        if (rc == 0)
            rc = tsv_influx2_set_tls(cl, conn.ca_file[0] ? conn.ca_file : NULL, conn.skip_verify,
                                     err);
        if (rc == 0) {
            tsv_influx2_set_timeout(cl, conn.timeout_ms);
            rc = tsv_influx2_probe(cl, summary, sizeof summary, err);
        }
        tsv_influx2_free(cl);
    } else {
        tsv_influx1_client *cl = NULL;
        rc = tsv_influx1_client_new(&cl, conn.host, conn.timeout_ms, err);
        if (rc == 0)
            rc = tsv_influx1_probe(cl, summary, sizeof summary, err);
        tsv_influx1_client_free(cl);
    }
    tsv_conn_clear(&conn);
    if (rc != 0) {
        /* The source refusing the connection's token is not the caller's own
         * authentication failing: not a 401/403 of this API. */
        if (err && (err->code == TSV_EUNAUTHORIZED || err->code == TSV_EFORBIDDEN))
            err->code = TSV_EUNPROCESSABLE;
        return tsv_error_wrap(err, "connection \"%s\" test failed", name);
    }
    tsv_json_writer w;
    tsv_jw_init(&w, out, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "status", "ok");
    tsv_jw_field_string(&w, "message", summary);
    tsv_jw_object_end(&w);
    return tsv_jw_finish(&w, err);
}

/* ---- snapshots ------------------------------------------------------------------------- */

static int snap_one(void *ctx, const tsv_snapshot *s, tsv_error *err)
{
    (void)err;
    tsv_json_writer *w = ctx;
    tsv_jw_object_begin(w);
    tsv_jw_field_i64(w, "id", s->id);
    tsv_jw_field_time(w, "time", s->time);
    tsv_jw_field_time(w, "finished", s->finished);
    tsv_jw_field_string(w, "kind", s->kind);
    tsv_jw_field_string(w, "jobId", s->job_id);
    tsv_jw_field_u64(w, "bytesPulled", s->bytes_pulled);
    tsv_jw_field_u64(w, "bytesNew", s->bytes_new);
    tsv_jw_field_u64(w, "shards", s->shards_total);
    tsv_jw_field_u64(w, "shardsChanged", s->shards_changed);
    tsv_jw_object_end(w);
    return 0;
}

int tsv_conns_snapshots(tsv_conns *c, const char *name, tsv_buf *out, tsv_error *err)
{
    if (!tsv_conns_exists(c, name))
        return tsv_error_set(err, TSV_ENOTFOUND, "connection \"%.64s\" not found", name);
    tsv_json_writer w;
    tsv_jw_init(&w, out, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "connectionName", name);
    tsv_jw_key(&w, "values");
    tsv_jw_array_begin(&w);
    if (tsv_conn_snapshots_list(c->cat, name, 0, snap_one, &w, err) != 0)
        return -1;
    tsv_jw_array_end(&w);
    tsv_jw_object_end(&w);
    return tsv_jw_finish(&w, err);
}

typedef struct range_ctx {
    int64_t first, last;
} range_ctx;

static int range_one(void *ctx, const tsv_snapshot *s, tsv_error *err)
{
    (void)err;
    range_ctx *r = ctx;
    if (!r->first || s->time < r->first)
        r->first = s->time;
    if (s->time > r->last)
        r->last = s->time;
    return 0;
}

int tsv_conns_range(tsv_conns *c, const char *name, int64_t *first, int64_t *last, tsv_error *err)
{
    if (!tsv_conns_exists(c, name))
        return tsv_error_set(err, TSV_ENOTFOUND, "connection \"%.64s\" not found", name);
    range_ctx r = {0, 0};
    if (tsv_conn_snapshots_list(c->cat, name, 0, range_one, &r, err) != 0)
        return -1;
    *first = r.first;
    *last = r.last;
    return 0;
}

/* ---- retention ------------------------------------------------------------------------- */

typedef struct keep_list {
    int64_t *id, *t;
    size_t n, cap;
} keep_list;

static int keep_collect(void *ctx, const tsv_snapshot *s, tsv_error *err)
{
    keep_list *k = ctx;
    /* t grows first against a copy of cap: cap only moves once both hold n + 1. */
    size_t tcap = k->cap;
    if (tsv_array_grow(&k->t, &tcap, k->n + 1, sizeof *k->t, err) != 0 ||
        TSV_ARRAY_GROW(k->id, k->n, k->cap, err) != 0)
        return -1;
    k->id[k->n] = s->id;
    k->t[k->n] = s->time;
    k->n++;
    return 0;
}

/* restic's forget: newest first, "last N" keeps the N newest; each bucket
 * rule keeps the newest snapshot of each of the N newest periods. */
static int64_t period_of(int64_t t, int rule)
{
    time_t s = (time_t)(t / NS);
    struct tm tm;
    gmtime_r(&s, &tm);
    switch (rule) {
    case 1:
        return (int64_t)s / 3600;
    case 2:
        return (int64_t)s / 86400;
    case 3:
        return ((int64_t)s / 86400 + 3) / 7; /* weeks starting Monday */
    default:
        return (int64_t)(tm.tm_year * 12 + tm.tm_mon);
    }
}

int tsv_conns_apply_keep(tsv_conns *c, const tsv_conn *conn, tsv_error *err)
{
    const tsv_conn_keep *kp = &conn->keep;
    if (!kp->last && !kp->hourly && !kp->daily && !kp->weekly && !kp->monthly)
        return 0;
    keep_list k = {0};
    int rc = tsv_conn_snapshots_list(c->cat, conn->name, 0, keep_collect, &k, err);
    char *keep = rc == 0 ? calloc(k.n ? k.n : 1, 1) : NULL;
    if (rc == 0 && !keep)
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (rc == 0) {
        /* list is oldest first: walk from the newest */
        for (size_t i = 0; i < (size_t)kp->last && i < k.n; i++)
            keep[k.n - 1 - i] = 1;
        int counts[5] = {0, kp->hourly, kp->daily, kp->weekly, kp->monthly};
        for (int rule = 1; rule <= 4; rule++) {
            int left = counts[rule];
            int64_t prev = INT64_MIN;
            for (size_t i = k.n; i-- > 0 && left > 0;) {
                int64_t p = period_of(k.t[i], rule);
                if (p == prev)
                    continue;
                prev = p;
                keep[i] = 1;
                left--;
            }
        }
        int64_t now = now_ns();
        for (size_t i = 0; rc == 0 && i < k.n; i++)
            if (!keep[i]) {
                rc = tsv_conn_snapshot_delete(c->cat, k.id[i], now, err);
                if (rc == 0)
                    TSV_INFO("msg=\"snapshot forgotten by the keep policy\" connection=%s "
                             "snapshot=%" PRId64,
                             conn->name, k.id[i]);
            }
    }
    free(keep);
    free(k.id);
    free(k.t);
    return rc;
}

/* ---- object GC ------------------------------------------------------------------------- */

static int keep_add(void *ctx, const char *hex, tsv_error *err)
{
    return tsv_objset_add(ctx, hex, err);
}

typedef struct gc_ctx {
    const tsv_objset *keep;
    tsv_objset drop;
} gc_ctx;

static int gc_visit(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    (void)size;
    gc_ctx *g = ctx;
    if (tsv_objset_has(g->keep, hex))
        return 0;
    return tsv_objset_add(&g->drop, hex, err);
}

int tsv_conns_collect(tsv_conns *c, uint64_t *purged, uint64_t *objects_removed, tsv_error *err)
{
    *purged = *objects_removed = 0;
    if (tsv_conn_snapshots_purge(c->cat, now_ns() - c->grace_ns, purged, err) != 0)
        return -1;
    /* No pull may store objects while the referenced set is taken; with one
     * running, the objects wait for the next pass (the scheduler must not
     * block behind a long pull). */
    pthread_mutex_lock(&c->mu);
    if (c->pulls > 0 || c->collecting) {
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    c->collecting = 1;
    pthread_mutex_unlock(&c->mu);
    tsv_objset keep = {0};
    gc_ctx g = {.keep = &keep};
    int rc = tsv_conn_catalog_objects(c->cat, keep_add, &keep, err);
    tsv_objset_sort(&keep);
    if (rc == 0)
        rc = tsv_objstore_list(c->os, gc_visit, &g, err);
    for (size_t i = 0; rc == 0 && i < g.drop.n; i++)
        if (tsv_objstore_delete(c->os, g.drop.v[i], err) == 0)
            (*objects_removed)++;
        else
            rc = -1;
    pthread_mutex_lock(&c->mu);
    c->collecting = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    tsv_objset_clear(&keep);
    tsv_objset_clear(&g.drop);
    if (rc == 0 && (*purged || *objects_removed))
        TSV_INFO("msg=\"connection snapshots collected\" purged=%" PRIu64 " objects=%" PRIu64,
                 *purged, *objects_removed);
    return rc;
}

/* ---- scheduler ------------------------------------------------------------------------- */

typedef struct due_ctx {
    tsv_conns *c;
    int64_t now;
} due_ctx;

static int sched_one(void *ctx, const tsv_conn_record *r, tsv_error *err)
{
    (void)err;
    due_ctx *d = ctx;
    tsv_json_doc *doc = NULL;
    tsv_schedule sc;
    if (tsv_json_parse(&doc, r->spec_json, strlen(r->spec_json), NULL) != 0)
        return 0;
    int ok = parse_schedule(get(tsv_json_root(doc), "schedule"), &sc, NULL) == 0;
    tsv_json_free(doc);
    if (!ok || sc.kind == 0)
        return 0;
    /* A connection never run is due now; a run missed while the server was
     * down (next <= now) runs once, and the next one counts from now. */
    int64_t base = r->last_run ? r->last_run : 0;
    int64_t next = base ? tsv_schedule_next(&sc, base) : d->now;
    if (next > d->now)
        return 0;
    char key[128];
    snprintf(key, sizeof key, "conn:%s", r->name);
    if (tsv_jobs_active_key(d->c->jobs, key))
        return 0; /* never two at once; the next tick tries again */
    char body[256];
    snprintf(body, sizeof body,
             "{\"type\":\"backup\",\"source\":{\"type\":\"connection\",\"connectionName\":\"%s\"}}",
             r->name);
    tsv_job_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "scheduler");
    tsv_buf out = {0};
    tsv_error e;
    if (tsv_jobs_create(d->c->jobs, body, strlen(body), &u, &out, &e) != 0)
        TSV_WARN("msg=\"scheduled pull not created\" connection=%s error=\"%s\"", r->name,
                 e.message);
    else
        TSV_INFO("msg=\"scheduled pull created\" connection=%s", r->name);
    tsv_buf_free(&out);
    tsv_conn_catalog_set_last_run(d->c->cat, r->name, d->now, NULL);
    return 0;
}

static void *sched_main(void *arg)
{
    tsv_conns *c = arg;
    int64_t last_collect = 0;
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        pthread_mutex_unlock(&c->mu);
        due_ctx d = {c, now_ns()};
        tsv_error e;
        if (tsv_conn_catalog_list(c->cat, sched_one, &d, &e) != 0)
            TSV_WARN("msg=\"scheduler\" error=\"%s\"", e.message);
        if (d.now - last_collect >= c->collect_ns) {
            uint64_t p, o;
            if (tsv_conns_collect(c, &p, &o, &e) != 0)
                TSV_WARN("msg=\"connection snapshot collection\" error=\"%s\"", e.message);
            last_collect = d.now;
        }
        pthread_mutex_lock(&c->mu);
        if (c->stopping)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += SCHEDULE_TICK_S;
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int tsv_conns_start_schedule(tsv_conns *c, struct tsv_jobs *jobs, tsv_error *err)
{
    c->jobs = jobs;
    c->stopping = 0;
    if (pthread_create(&c->sched, NULL, sched_main, c) != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "cannot start the connection scheduler");
    c->sched_running = 1;
    return 0;
}

void tsv_conns_stop_schedule(tsv_conns *c)
{
    if (!c->sched_running)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->sched, NULL);
    c->sched_running = 0;
}
