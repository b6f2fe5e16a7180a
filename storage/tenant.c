/* tenant: InfluxDB's org/bucket/user/authorization records in the KV tree. */
#include "tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fsutil.h"
#include "json.h"
#include "random.h"
#include "tenant_internal.h"
#include "tsv_time.h"

/* Buckets influxd creates at start-up or in its first migrations; an
 * exported KV must have them all (a missing bucket is an error there). */
static const char *const required_buckets[] = {
    B_AUTHS,     B_AUTH_INDEX,     B_BUCKETS,   B_BUCKET_INDEX,     "dashboardsv2",
    B_ORGS,      B_ORG_INDEX,      "scraperv2", "telegrafv1",       "telegrafPluginsv1",
    "remotesv2", "replicationsv2", B_USERS,     B_USER_INDEX,       B_USER_PASSWORDS,
    B_URM,       B_URM_BY_USER,    B_IDS,       "v1_tsm1_metadata",
};

void tsv_org_clear(tsv_org *o)
{
    if (!o)
        return;
    free(o->name);
    free(o->description);
    free(o->created_at);
    free(o->updated_at);
    memset(o, 0, sizeof *o);
}

void tsv_bucket_clear(tsv_bucket *b)
{
    if (!b)
        return;
    free(b->name);
    free(b->description);
    free(b->rp);
    free(b->created_at);
    free(b->updated_at);
    memset(b, 0, sizeof *b);
}

int tsv_id_parse(const char *s, uint64_t *out, tsv_error *err)
{
    if (!s || strlen(s) != TSV_ID_HEX_LEN)
        return tsv_error_set(err, TSV_EINVALID, "id must have a length of 16 bytes");
    uint64_t v = 0;
    for (int i = 0; i < TSV_ID_HEX_LEN; i++) {
        char c = s[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return tsv_error_set(err, TSV_EINVALID, "invalid ID");
        v = (v << 4) | (uint64_t)d;
    }
    if (v == 0)
        return tsv_error_set(err, TSV_EINVALID, "invalid ID");
    *out = v;
    return 0;
}

void tsv_id_format(uint64_t id, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)id);
}

uint64_t tsv_id_random(void)
{
    for (;;) {
        uint64_t v = tsv_random_u64();
        uint64_t r = 0;
        for (int i = 7; i >= 0; i--) {
            uint8_t b = (uint8_t)(v >> (i * 8));
            /* InfluxDB avoids '\\', ',' and ' ' bytes in IDs (they need
             * escaping in line protocol). */
            if (b == 0x5C || b == 0x2C || b == 0x20)
                b++;
            r = (r << 8) | b;
        }
        if (r != 0)
            return r;
    }
}

void tsv_tenant_now(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tsv_format_rfc3339nano((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec, out, 40);
}

int tenant__bucket_of(tsv_kv_txn *txn, const char *name, uint64_t *out, tsv_error *err)
{
    return tsv_kv_bucket(txn, TSV_KV_ROOT, name, strlen(name), out, err);
}

/* Looks up bucket/key and parses the JSON value. */
static int get_json(tsv_kv_txn *txn, const char *bucket, const void *key, size_t klen,
                    tsv_json_doc **doc, tsv_error *err)
{
    uint64_t b;
    if (tenant__bucket_of(txn, bucket, &b, err) != 0)
        return -1;
    const uint8_t *val;
    size_t vlen;
    if (tsv_kv_get(txn, b, key, klen, &val, &vlen, err) != 0)
        return -1;
    if (vlen == 0)
        return tsv_error_set(err, TSV_ENOTFOUND, "empty value");
    if (tsv_json_parse(doc, (const char *)val, vlen, err) != 0)
        return tsv_error_wrap(err, "corrupt record %s/%.*s", bucket, (int)(klen > 64 ? 64 : klen),
                              (const char *)key);
    return 0;
}

int tenant__get_json(tsv_kv_txn *txn, const char *bucket, const void *key, size_t klen,
                     const char *what, tsv_json_doc **doc, tsv_error *err)
{
    tsv_error e;
    if (get_json(txn, bucket, key, klen, doc, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return tsv_error_set(err, TSV_ENOTFOUND, "%s not found", what);
        if (err)
            *err = e;
        return -1;
    }
    return 0;
}

int tenant__put_buf(tsv_kv_txn *txn, const char *bucket, const void *key, size_t klen,
                    const void *val, size_t vlen, tsv_error *err)
{
    uint64_t b;
    if (tsv_kv_bucket_create(txn, TSV_KV_ROOT, bucket, strlen(bucket), 0, 1, &b, err) != 0)
        return -1;
    return tsv_kv_put(txn, b, key, klen, val, vlen, err);
}

int tenant__put_str(tsv_kv_txn *txn, const char *bucket, const char *key, const char *val,
                    tsv_error *err)
{
    return tenant__put_buf(txn, bucket, key, strlen(key), val, strlen(val), err);
}

int tenant__del(tsv_kv_txn *txn, const char *bucket, const void *key, size_t klen, tsv_error *err)
{
    uint64_t b;
    tsv_error e;
    if (tenant__bucket_of(txn, bucket, &b, &e) != 0 || tsv_kv_del(txn, b, key, klen, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    return 0;
}

const char *tenant__jstr(const tsv_json *obj, const char *key, size_t *len)
{
    const tsv_json *v = tsv_json_get(obj, key);
    if (!v || v->type != TSV_JSON_STRING)
        return NULL;
    if (len)
        *len = v->len;
    return v->str;
}

char *tenant__jdup(const tsv_json *obj, const char *key)
{
    size_t n = 0;
    const char *s = tenant__jstr(obj, key, &n);
    return s ? strndup(s, n) : strndup("", 0);
}

int tsv_tenant_init(tsv_kv_txn *txn, tsv_error *err)
{
    for (size_t i = 0; i < sizeof required_buckets / sizeof required_buckets[0]; i++) {
        uint64_t b;
        if (tsv_kv_bucket_create(txn, TSV_KV_ROOT, required_buckets[i], strlen(required_buckets[i]),
                                 0, 1, &b, err) != 0)
            return -1;
    }
    uint64_t ids;
    if (tenant__bucket_of(txn, B_IDS, &ids, err) != 0)
        return -1;
    const uint8_t *v;
    size_t vlen;
    tsv_error gerr;
    if (tsv_kv_get(txn, ids, "id", 2, &v, &vlen, &gerr) == 0)
        return 0;
    if (gerr.code != TSV_ENOTFOUND) {
        if (err)
            *err = gerr;
        return -1;
    }
    char id[17];
    tsv_id_format(tsv_id_random(), id);
    return tsv_kv_put(txn, ids, "id", 2, id, 16, err);
}

int tenant__bucket_nonempty(tsv_kv_txn *txn, const char *name, int *out, tsv_error *err)
{
    *out = 0;
    uint64_t b;
    tsv_error e;
    if (tenant__bucket_of(txn, name, &b, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    tsv_kv_cursor *c;
    if (tsv_kv_cursor_open(txn, b, &c, err) != 0)
        return -1;
    tsv_kv_entry ent;
    int rc = tsv_kv_cursor_next(c, &ent, err);
    tsv_kv_cursor_close(c);
    if (rc < 0)
        return -1;
    *out = rc == 1;
    return 0;
}

int tsv_tenant_onboarded(tsv_kv_txn *txn, int *out, tsv_error *err)
{
    int users, orgs;
    if (tenant__bucket_nonempty(txn, B_USERS, &users, err) != 0 ||
        tenant__bucket_nonempty(txn, B_ORGS, &orgs, err) != 0)
        return -1;
    *out = users || orgs;
    return 0;
}

/* ---- organizations ----------------------------------------------------- */

static int org_from_json(const tsv_json *j, tsv_org *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = 0;
    const char *id = tenant__jstr(j, "id", &n);
    if (!id || n != 16)
        return tsv_error_set(err, TSV_EINTERNAL, "organization record without a valid id");
    memcpy(out->id, id, 16);
    out->name = tenant__jdup(j, "name");
    out->description = tenant__jdup(j, "description");
    out->created_at = tenant__jdup(j, "createdAt");
    out->updated_at = tenant__jdup(j, "updatedAt");
    if (!out->name || !out->description || !out->created_at || !out->updated_at) {
        tsv_org_clear(out);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    return 0;
}

TENANT__DEFINE_GET(tsv_tenant_org_get, tsv_org, org_from_json, B_ORGS, "organization")

int tsv_tenant_org_by_name(tsv_kv_txn *txn, const char *name, tsv_org *out, tsv_error *err)
{
    uint64_t idx;
    const uint8_t *v;
    size_t vlen;
    tsv_error e;
    if (tenant__bucket_of(txn, B_ORG_INDEX, &idx, &e) != 0 ||
        tsv_kv_get(txn, idx, name, strlen(name), &v, &vlen, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return tsv_error_set(err, TSV_ENOTFOUND, "organization name \"%s\" not found", name);
        if (err)
            *err = e;
        return -1;
    }
    char id[17];
    if (vlen != 16)
        return tsv_error_set(err, TSV_EINTERNAL, "corrupt organization index entry for \"%s\"",
                             name);
    memcpy(id, v, 16);
    id[16] = '\0';
    return tsv_tenant_org_get(txn, id, out, err);
}

int tenant__set_str(char **field, const char *val, tsv_error *err)
{
    char *copy = strdup(val);
    if (!copy)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    free(*field);
    *field = copy;
    return 0;
}

int tenant__unique_id(tsv_kv_txn *txn, const char *bucket, char out[17], tsv_error *err)
{
    uint64_t b;
    if (tsv_kv_bucket_create(txn, TSV_KV_ROOT, bucket, strlen(bucket), 0, 1, &b, err) != 0)
        return -1;
    for (int tries = 0; tries < 100; tries++) {
        tsv_id_format(tsv_id_random(), out);
        const uint8_t *v;
        size_t vlen;
        tsv_error e;
        if (tsv_kv_get(txn, b, out, 16, &v, &vlen, &e) != 0) {
            if (e.code == TSV_ENOTFOUND)
                return 0;
            if (err)
                *err = e;
            return -1;
        }
    }
    return tsv_error_set(err, TSV_EINTERNAL, "could not generate a unique ID in %s", bucket);
}

static int write_org(tsv_kv_txn *txn, const tsv_org *o, tsv_error *err)
{
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "id", o->id);
    tsv_jw_field_string(&w, "name", o->name);
    tsv_jw_field_string(&w, "description", o->description);
    tsv_jw_field_string(&w, "createdAt", o->created_at);
    tsv_jw_field_string(&w, "updatedAt", o->updated_at);
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);
    if (rc == 0)
        rc = tenant__put_buf(txn, B_ORGS, o->id, 16, buf.data, buf.len, err);
    if (rc == 0)
        rc = tenant__put_str(txn, B_ORG_INDEX, o->name, o->id, err);
    tsv_buf_free(&buf);
    return rc;
}

static int create_system_bucket(tsv_kv_txn *txn, const char *org_id, const char *name,
                                int64_t retention_ns, tsv_error *err);

int tsv_tenant_org_create(tsv_kv_txn *txn, const char *name, const char *description, tsv_org *out,
                          tsv_error *err)
{
    if (!name || !*name)
        return tsv_error_set(err, TSV_EEMPTY, "org name is empty");
    if (strlen(name) > TSV_KV_MAX_KEY)
        return tsv_error_set(err, TSV_EINVALID, "org name is longer than %d bytes", TSV_KV_MAX_KEY);
    tsv_org existing;
    tsv_error e;
    if (tsv_tenant_org_by_name(txn, name, &existing, &e) == 0) {
        tsv_org_clear(&existing);
        return tsv_error_set(err, TSV_ECONFLICT, "organization with name %s already exists", name);
    }
    if (e.code != TSV_ENOTFOUND) {
        if (err)
            *err = e;
        return -1;
    }
    tsv_org o;
    memset(&o, 0, sizeof o);
    if (tenant__unique_id(txn, B_ORGS, o.id, err) != 0)
        return -1;
    char now[40];
    tsv_tenant_now(now);
    o.name = strdup(name);
    o.description = strdup(description ? description : "");
    o.created_at = strdup(now);
    o.updated_at = strdup(now);
    if (!o.name || !o.description || !o.created_at || !o.updated_at) {
        tsv_org_clear(&o);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    if (write_org(txn, &o, err) != 0 ||
        create_system_bucket(txn, o.id, "_monitoring", 7 * 24 * 3600 * 1000000000LL, err) != 0 ||
        create_system_bucket(txn, o.id, "_tasks", 3 * 24 * 3600 * 1000000000LL, err) != 0) {
        tsv_org_clear(&o);
        return -1;
    }
    if (out)
        *out = o;
    else
        tsv_org_clear(&o);
    return 0;
}

typedef struct record_walk {
    const char *what;
    tenant__record_fn visit;
    void *ctx;
} record_walk;

static int record_visit(void *ctx, const tsv_kv_entry *ent, tsv_error *err)
{
    record_walk *w = ctx;
    if (ent->is_bucket || ent->vlen == 0)
        return 0;
    tsv_json_doc *doc;
    if (tsv_json_parse(&doc, (const char *)ent->val, ent->vlen, w->what ? err : NULL) != 0) {
        if (!w->what)
            return 0;
        return tsv_error_wrap(err, "corrupt %s record", w->what);
    }
    int rc = w->visit(w->ctx, tsv_json_root(doc), err);
    tsv_json_free(doc);
    return rc;
}

/* Calls visit for every JSON record of a top-level bucket, in key order.
 * A record that does not parse stops the walk with an error naming `what`. */

int tenant__foreach_record(tsv_kv_txn *txn, const char *bucket, const char *what,
                           tenant__record_fn visit, void *ctx, tsv_error *err)
{
    uint64_t b;
    tsv_error e;
    if (tenant__bucket_of(txn, bucket, &b, &e) != 0)
        return e.code == TSV_ENOTFOUND ? 0 : (err ? (*err = e, -1) : -1);
    record_walk w = {.what = what, .visit = visit, .ctx = ctx};
    return tsv_kv_walk(txn, b, NULL, 0, record_visit, &w, err) < 0 ? -1 : 0;
}

TENANT__DEFINE_FOREACH(tsv_tenant_org_foreach, tsv_org, tsv_org_visit_fn, org_from_json,
                       tsv_org_clear, B_ORGS, "organization")

/* ---- buckets ----------------------------------------------------------- */

int tsv_tenant_bucket_name_check(const char *name, tsv_error *err)
{
    if (!name || !*name)
        return tsv_error_set(err, TSV_EEMPTY, "bucket name is empty");
    if (name[0] == '_')
        return tsv_error_set(err, TSV_EINVALID,
                             "bucket name %s is invalid. Buckets may not start with underscore",
                             name);
    if (strchr(name, '"'))
        return tsv_error_set(err, TSV_EINVALID,
                             "bucket name %s is invalid. Bucket names may not include quotation "
                             "marks",
                             name);
    if (strlen(name) + 16 > TSV_KV_MAX_KEY)
        return tsv_error_set(err, TSV_EINVALID, "bucket name is longer than %d bytes",
                             TSV_KV_MAX_KEY - 16);
    return 0;
}

static int bucket_from_json(const tsv_json *j, tsv_bucket *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = 0, m = 0; /* jstr sets them when it returns non-NULL; -O2 cannot see it */
    const char *id = tenant__jstr(j, "id", &n);
    const char *org = tenant__jstr(j, "orgID", &m);
    if (!id || n != 16 || !org || m != 16)
        return tsv_error_set(err, TSV_EINTERNAL, "bucket record without valid id/orgID");
    memcpy(out->id, id, 16);
    memcpy(out->org_id, org, 16);
    const tsv_json *t = tsv_json_get(j, "type");
    int64_t v = 0;
    if (t && tsv_json_i64(t, &v, "type", NULL) == 0)
        out->type = (int)v;
    out->name = tenant__jdup(j, "name");
    out->description = tenant__jdup(j, "description");
    size_t rl = 0;
    const char *rp = tenant__jstr(j, "rp", &rl);
    out->rp = rp ? strndup(rp, rl) : NULL;
    const tsv_json *rpd = tsv_json_get(j, "retentionPeriod");
    const tsv_json *sgd = tsv_json_get(j, "shardGroupDuration");
    if ((rpd && tsv_json_i64(rpd, &out->retention_ns, "retentionPeriod", err) != 0) ||
        (sgd && tsv_json_i64(sgd, &out->shard_group_duration_ns, "shardGroupDuration", err) != 0)) {
        tsv_bucket_clear(out);
        return -1;
    }
    out->created_at = tenant__jdup(j, "createdAt");
    out->updated_at = tenant__jdup(j, "updatedAt");
    if (!out->name || !out->description || !out->created_at || !out->updated_at ||
        (rp && !out->rp)) {
        tsv_bucket_clear(out);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    return 0;
}

TENANT__DEFINE_GET(tsv_tenant_bucket_get, tsv_bucket, bucket_from_json, B_BUCKETS, "bucket")

/* The bucket index key: org ID (16) then name. Its length, 0 when it would
 * be longer than a KV key may be. */
static size_t bucket_index_key(char key[TSV_KV_MAX_KEY + 1], const char *org_id, const char *name)
{
    size_t nlen = strlen(name);
    if (nlen + 16 > TSV_KV_MAX_KEY)
        return 0;
    memcpy(key, org_id, 16);
    memcpy(key + 16, name, nlen);
    return 16 + nlen;
}

int tsv_tenant_bucket_by_name(tsv_kv_txn *txn, const char *org_id, const char *name,
                              tsv_bucket *out, tsv_error *err)
{
    char key[TSV_KV_MAX_KEY + 1];
    size_t klen = bucket_index_key(key, org_id, name);
    if (!klen)
        return tsv_error_set(err, TSV_ENOTFOUND, "bucket not found");
    uint64_t idx;
    const uint8_t *v;
    size_t vlen;
    tsv_error e;
    if (tenant__bucket_of(txn, B_BUCKET_INDEX, &idx, &e) != 0 ||
        tsv_kv_get(txn, idx, key, klen, &v, &vlen, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return tsv_error_set(err, TSV_ENOTFOUND, "bucket \"%s\" not found", name);
        if (err)
            *err = e;
        return -1;
    }
    if (vlen != 16)
        return tsv_error_set(err, TSV_EINTERNAL, "corrupt bucket index entry for \"%s\"", name);
    char id[17];
    memcpy(id, v, 16);
    id[16] = '\0';
    return tsv_tenant_bucket_get(txn, id, out, err);
}

static int write_bucket(tsv_kv_txn *txn, const tsv_bucket *b, tsv_error *err)
{
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "id", b->id);
    tsv_jw_field_string(&w, "orgID", b->org_id);
    tsv_jw_field_i64(&w, "type", b->type);
    tsv_jw_field_string(&w, "name", b->name);
    tsv_jw_field_string(&w, "description", b->description);
    if (b->rp && *b->rp) {
        tsv_jw_field_string(&w, "rp", b->rp);
    }
    tsv_jw_field_i64(&w, "retentionPeriod", b->retention_ns);
    tsv_jw_field_i64(&w, "shardGroupDuration", b->shard_group_duration_ns);
    tsv_jw_field_string(&w, "createdAt", b->created_at);
    tsv_jw_field_string(&w, "updatedAt", b->updated_at);
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);
    if (rc == 0)
        rc = tenant__put_buf(txn, B_BUCKETS, b->id, 16, buf.data, buf.len, err);
    if (rc == 0) {
        char key[TSV_KV_MAX_KEY + 1];
        size_t nlen = strlen(b->name);
        memcpy(key, b->org_id, 16);
        memcpy(key + 16, b->name, nlen);
        rc = tenant__put_buf(txn, B_BUCKET_INDEX, key, 16 + nlen, b->id, 16, err);
    }
    tsv_buf_free(&buf);
    return rc;
}

int tsv_tenant_bucket_restore(tsv_kv_txn *txn, const tsv_bucket *b, tsv_error *err)
{
    tsv_org org;
    if (tsv_tenant_org_get(txn, b->org_id, &org, err) != 0)
        return tsv_error_wrap(err, "organization %s of bucket %s", b->org_id, b->id);
    tsv_org_clear(&org);
    tsv_bucket other;
    tsv_error e;
    if (tsv_tenant_bucket_get(txn, b->id, &other, &e) == 0) {
        tsv_bucket_clear(&other);
        return tsv_error_set(err, TSV_ECONFLICT, "bucket %s exists", b->id);
    }
    if (tsv_tenant_bucket_by_name(txn, b->org_id, b->name, &other, &e) == 0) {
        int rc = tsv_error_set(err, TSV_ECONFLICT,
                               "bucket with name %s already exists (ID %s): rename it first",
                               b->name, other.id);
        tsv_bucket_clear(&other);
        return rc;
    }
    if (e.code != TSV_ENOTFOUND)
        return err ? (*err = e, -1) : -1;
    return write_bucket(txn, b, err);
}

int tsv_tenant_bucket_create(tsv_kv_txn *txn, const char *org_id, const char *name,
                             const char *description, int type, int64_t retention_ns,
                             int64_t sgd_ns, tsv_bucket *out, tsv_error *err)
{
    if (type == 0 && tsv_tenant_bucket_name_check(name, err) != 0)
        return -1;
    uint64_t oid;
    if (tsv_id_parse(org_id, &oid, err) != 0)
        return -1;
    /* IDs are stored lowercase; an upper-case org ID (valid hex, as influxd
     * accepts it) must find the org and the bucket index all the same. */
    char oid_hex[17];
    tsv_id_format(oid, oid_hex);
    org_id = oid_hex;
    tsv_org org;
    if (tsv_tenant_org_get(txn, org_id, &org, err) != 0)
        return -1;
    tsv_org_clear(&org);
    tsv_bucket existing;
    tsv_error e;
    if (tsv_tenant_bucket_by_name(txn, org_id, name, &existing, &e) == 0) {
        tsv_bucket_clear(&existing);
        return tsv_error_set(err, TSV_ECONFLICT, "bucket with name %s already exists", name);
    }
    if (e.code != TSV_ENOTFOUND) {
        if (err)
            *err = e;
        return -1;
    }
    tsv_bucket b;
    memset(&b, 0, sizeof b);
    if (tenant__unique_id(txn, B_BUCKETS, b.id, err) != 0)
        return -1;
    memcpy(b.org_id, org_id, 16);
    char now[40];
    tsv_tenant_now(now);
    b.type = type;
    b.name = strdup(name);
    b.description = strdup(description ? description : "");
    b.retention_ns = retention_ns;
    b.shard_group_duration_ns = sgd_ns;
    b.created_at = strdup(now);
    b.updated_at = strdup(now);
    if (!b.name || !b.description || !b.created_at || !b.updated_at) {
        tsv_bucket_clear(&b);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    if (write_bucket(txn, &b, err) != 0) {
        tsv_bucket_clear(&b);
        return -1;
    }
    if (out)
        *out = b;
    else
        tsv_bucket_clear(&b);
    return 0;
}

static int create_system_bucket(tsv_kv_txn *txn, const char *org_id, const char *name,
                                int64_t retention_ns, tsv_error *err)
{
    /* System buckets get a 1-day shard-group duration, as influxd gives them. */
    const char *desc = strcmp(name, "_tasks") == 0 ? "System bucket for task logs"
                                                   : "System bucket for monitoring logs";
    return tsv_tenant_bucket_create(txn, org_id, name, desc, 1, retention_ns,
                                    24 * 3600 * 1000000000LL, NULL, err);
}

int tsv_tenant_bucket_delete(tsv_kv_txn *txn, const char *id, tsv_error *err)
{
    tsv_bucket b;
    if (tsv_tenant_bucket_get(txn, id, &b, err) != 0)
        return -1;
    uint64_t bk, idx;
    int rc = 0;
    if (tenant__bucket_of(txn, B_BUCKETS, &bk, err) != 0 || tsv_kv_del(txn, bk, b.id, 16, err) != 0)
        rc = -1;
    if (rc == 0) {
        char key[TSV_KV_MAX_KEY + 1];
        size_t klen = bucket_index_key(key, b.org_id, b.name);
        if (klen && (tenant__bucket_of(txn, B_BUCKET_INDEX, &idx, err) != 0 ||
                     tsv_kv_del(txn, idx, key, klen, err) != 0))
            rc = -1;
    }
    tsv_bucket_clear(&b);
    return rc;
}

TENANT__DEFINE_FOREACH(tsv_tenant_bucket_foreach, tsv_bucket, tsv_bucket_visit_fn, bucket_from_json,
                       tsv_bucket_clear, B_BUCKETS, "bucket")

/* ---- updates ----------------------------------------------------------- */

int tsv_tenant_org_update(tsv_kv_txn *txn, const char *id, const char *name,
                          const char *description, tsv_org *out, tsv_error *err)
{
    tsv_org o;
    if (tsv_tenant_org_get(txn, id, &o, err) != 0)
        return -1;
    int rc = 0;
    if (name && strcmp(name, o.name) != 0) {
        tsv_org other;
        tsv_error e;
        if (!*name)
            rc = tsv_error_set(err, TSV_EEMPTY, "org name is empty");
        else if (strlen(name) > TSV_KV_MAX_KEY)
            rc = tsv_error_set(err, TSV_EINVALID, "org name is longer than %d bytes",
                               TSV_KV_MAX_KEY);
        else if (tsv_tenant_org_by_name(txn, name, &other, &e) == 0) {
            tsv_org_clear(&other);
            rc =
                tsv_error_set(err, TSV_ECONFLICT, "organization with name %s already exists", name);
        } else if (e.code != TSV_ENOTFOUND) {
            rc = -1;
            if (err)
                *err = e;
        }
        if (rc == 0)
            rc = tenant__del(txn, B_ORG_INDEX, o.name, strlen(o.name), err);
        if (rc == 0)
            rc = tenant__set_str(&o.name, name, err);
    }
    if (rc == 0 && description)
        rc = tenant__set_str(&o.description, description, err);
    char now[40];
    tsv_tenant_now(now);
    if (rc == 0)
        rc = tenant__set_str(&o.updated_at, now, err);
    if (rc == 0)
        rc = write_org(txn, &o, err);
    if (rc == 0 && out)
        *out = o;
    else
        tsv_org_clear(&o);
    return rc;
}

int tsv_tenant_org_delete(tsv_kv_txn *txn, const char *id, tsv_error *err)
{
    tsv_org o;
    if (tsv_tenant_org_get(txn, id, &o, err) != 0)
        return -1;
    int rc = tenant__del(txn, B_ORG_INDEX, o.name, strlen(o.name), err);
    if (rc == 0)
        rc = tenant__del(txn, B_ORGS, o.id, 16, err);
    tsv_org_clear(&o);
    return rc;
}

int tsv_tenant_bucket_update(tsv_kv_txn *txn, const char *id, const char *name,
                             const char *description, int set_retention, int64_t retention_ns,
                             int64_t sgd_ns, tsv_bucket *out, tsv_error *err)
{
    tsv_bucket b;
    if (tsv_tenant_bucket_get(txn, id, &b, err) != 0)
        return -1;
    int rc = 0;
    if (name && strcmp(name, b.name) != 0) {
        tsv_bucket other;
        tsv_error e;
        if (b.type == 1)
            rc = tsv_error_set(err, TSV_EINVALID, "system buckets cannot be renamed");
        else if (tsv_tenant_bucket_name_check(name, err) != 0)
            rc = -1;
        else if (tsv_tenant_bucket_by_name(txn, b.org_id, name, &other, &e) == 0) {
            tsv_bucket_clear(&other);
            rc = tsv_error_set(err, TSV_ECONFLICT, "bucket with name %s already exists", name);
        } else if (e.code != TSV_ENOTFOUND) {
            rc = -1;
            if (err)
                *err = e;
        }
        if (rc == 0) {
            char key[TSV_KV_MAX_KEY + 1];
            size_t klen = bucket_index_key(key, b.org_id, b.name);
            if (klen)
                rc = tenant__del(txn, B_BUCKET_INDEX, key, klen, err);
        }
        if (rc == 0)
            rc = tenant__set_str(&b.name, name, err);
    }
    if (rc == 0 && description)
        rc = tenant__set_str(&b.description, description, err);
    if (rc == 0 && set_retention) {
        b.retention_ns = retention_ns;
        b.shard_group_duration_ns = sgd_ns;
    }
    char now[40];
    tsv_tenant_now(now);
    if (rc == 0)
        rc = tenant__set_str(&b.updated_at, now, err);
    if (rc == 0)
        rc = write_bucket(txn, &b, err);
    if (rc == 0 && out)
        *out = b;
    else
        tsv_bucket_clear(&b);
    return rc;
}
