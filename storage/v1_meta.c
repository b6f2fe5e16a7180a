/* v1_meta: 1.x names, DBRP mappings, import plans and the 1.x view. */
#include "v1_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "json.h"
#include "meta_store.h"
#include "tenant.h"
#include "tsv_log.h"
#include "varint.h"

#define B_DBRP "dbrpv1"
#define B_DBRP_BY_ORG_DB "dbrpbyorganddbindexv1"
#define B_DBRP_BY_ORG "dbrpbyorgv1"
#define B_DBRP_DEFAULT "dbrpdefaultv1"

/* ---- names -------------------------------------------------------------- */

int tsv_v1_name_check(const char *name, const char *what, tsv_error *err)
{
    if (!name || !*name)
        return tsv_error_set(err, TSV_EINVALID, "%s name is empty", what);
    size_t n = strlen(name);
    if (n > TSV_V1_NAME_MAX)
        return tsv_error_set(err, TSV_EINVALID, "%s name is longer than %d bytes", what,
                             TSV_V1_NAME_MAX);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strpbrk(name, "/\\"))
        return tsv_error_set(err, TSV_EINVALID,
                             "%s name \"%s\" is invalid: it may not be \".\" or \"..\" or "
                             "contain '/' or '\\'",
                             what, name);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return tsv_error_set(err, TSV_EINVALID, "%s name contains a control character", what);
    return 0;
}

int tsv_v1_bucket_name(const char *db, const char *rp, char *out, size_t outlen, tsv_error *err)
{
    if (tsv_v1_name_check(db, "database", err) != 0 ||
        tsv_v1_name_check(rp, "retention policy", err) != 0)
        return -1;
    int n = snprintf(out, outlen, "%s/%s", db, rp);
    if (n < 0 || (size_t)n >= outlen)
        return tsv_error_set(err, TSV_EINVALID, "bucket name %s/%s is too long", db, rp);
    return 0;
}

void tsv_v1_split_bucket_name(const char *bucket_name, char db[TSV_V1_NAME_MAX + 1],
                              char rp[TSV_V1_NAME_MAX + 1])
{
    const char *slash = strchr(bucket_name, '/');
    if (slash) {
        size_t n = (size_t)(slash - bucket_name);
        if (n > TSV_V1_NAME_MAX)
            n = TSV_V1_NAME_MAX;
        memcpy(db, bucket_name, n);
        db[n] = '\0';
        snprintf(rp, TSV_V1_NAME_MAX + 1, "%s", slash + 1);
    } else {
        snprintf(db, TSV_V1_NAME_MAX + 1, "%s", bucket_name);
        snprintf(rp, TSV_V1_NAME_MAX + 1, "%s", TSV_META_DEFAULT_RP);
    }
}

/* ---- .meta file ----------------------------------------------------------- */

int tsv_v1_portable_unwrap(const uint8_t *buf, size_t len, const uint8_t **data, size_t *dlen,
                           uint64_t *max_node_id, tsv_error *err)
{
    size_t pos = 0;
    int have_data = 0, have_node = 0;
    uint64_t node = 0;
    while (pos < len) {
        uint64_t key, v;
        if (tsv_uvarint_read(buf, len, &pos, &key) != 0)
            return tsv_error_set(err, TSV_EINVALID, "invalid .meta file: truncated field key");
        uint32_t field = (uint32_t)(key >> 3), wire = (uint32_t)(key & 7);
        if (wire == 0) {
            if (tsv_uvarint_read(buf, len, &pos, &v) != 0)
                return tsv_error_set(err, TSV_EINVALID, "invalid .meta file: truncated varint");
            if (field == 2) {
                node = v;
                have_node = 1;
            }
        } else if (wire == 2) {
            if (tsv_uvarint_read(buf, len, &pos, &v) != 0 || v > len - pos)
                return tsv_error_set(err, TSV_EINVALID, "invalid .meta file: truncated bytes");
            if (field == 1) {
                *data = buf + pos;
                *dlen = (size_t)v;
                have_data = 1;
            }
            pos += (size_t)v;
        } else if (wire == 1 && len - pos >= 8) {
            pos += 8;
        } else if (wire == 5 && len - pos >= 4) {
            pos += 4;
        } else {
            return tsv_error_set(err, TSV_EINVALID, "invalid .meta file: bad wire type %u", wire);
        }
    }
    /* Both fields are proto2 `required`: Go refuses a message without them. */
    if (!have_data || !have_node)
        return tsv_error_set(err, TSV_EINVALID, "invalid .meta file: missing required field %s",
                             have_data ? "MaxNodeID" : "Data");
    if (max_node_id)
        *max_node_id = node;
    return 0;
}

static int put_varint(tsv_buf *b, uint64_t v, tsv_error *err)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return tsv_buf_append(b, tmp, n, err);
}

int tsv_v1_portable_wrap(const uint8_t *data, size_t dlen, uint64_t max_node_id, tsv_buf *out,
                         tsv_error *err)
{
    static const uint8_t k1 = 0x0a, k2 = 0x10;
    if (tsv_buf_append(out, &k1, 1, err) != 0 || put_varint(out, dlen, err) != 0 ||
        tsv_buf_append(out, data, dlen, err) != 0 || tsv_buf_append(out, &k2, 1, err) != 0 ||
        put_varint(out, max_node_id, err) != 0)
        return -1;
    return 0;
}

/* ---- organizations ----------------------------------------------------- */

typedef struct first_org_ctx {
    char id[17];
    int found;
} first_org_ctx;

static int first_org_visit(void *ctx, const tsv_org *o, tsv_error *err)
{
    first_org_ctx *c = ctx;
    if (!c->found) {
        memcpy(c->id, o->id, 17);
        c->found = 1;
    }
    return 0;
}

int tsv_v1_resolve_org(tsv_kv_txn *txn, const char *org, char org_id[17], tsv_error *err)
{
    tsv_org o;
    if (!org || !*org) {
        first_org_ctx c = {0};
        if (tsv_tenant_org_foreach(txn, first_org_visit, &c, err) != 0)
            return -1;
        if (!c.found)
            return tsv_error_set(err, TSV_ENOTFOUND,
                                 "no organization exists (onboard the server first)");
        memcpy(org_id, c.id, 17);
        return 0;
    }
    tsv_error e;
    if (tsv_tenant_org_by_name(txn, org, &o, &e) == 0) {
        memcpy(org_id, o.id, 17);
        tsv_org_clear(&o);
        return 0;
    }
    if (e.code != TSV_ENOTFOUND)
        return err ? (*err = e, -1) : -1;
    uint64_t v;
    if (strlen(org) == 16 && tsv_id_parse(org, &v, NULL) == 0) {
        char hex[17];
        tsv_id_format(v, hex);
        if (tsv_tenant_org_get(txn, hex, &o, &e) == 0) {
            memcpy(org_id, o.id, 17);
            tsv_org_clear(&o);
            return 0;
        }
    }
    return tsv_error_set(err, TSV_ENOTFOUND, "organization %s not found", org);
}

/* ---- DBRP mappings -------------------------------------------------------- */

static int dbrp_buckets(tsv_kv_txn *txn, int create, uint64_t h[4], tsv_error *err)
{
    static const char *const names[4] = {B_DBRP, B_DBRP_BY_ORG_DB, B_DBRP_BY_ORG, B_DBRP_DEFAULT};
    for (int i = 0; i < 4; i++) {
        int rc = create ? tsv_kv_bucket_create(txn, TSV_KV_ROOT, names[i], strlen(names[i]), 0, 1,
                                               &h[i], err)
                        : tsv_kv_bucket(txn, TSV_KV_ROOT, names[i], strlen(names[i]), &h[i], err);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int dbrp_from_json(const uint8_t *v, size_t len, tsv_dbrp *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    tsv_json_doc *doc;
    if (tsv_json_parse(&doc, (const char *)v, len, err) != 0)
        return tsv_error_wrap(err, "stored DBRP mapping");
    const tsv_json *j = tsv_json_root(doc);
    struct {
        const char *key;
        char *dst;
        size_t cap;
    } f[] = {{"id", out->id, 17},
             {"orgID", out->org_id, 17},
             {"bucketID", out->bucket_id, 17},
             {"database", out->database, sizeof out->database},
             {"retention_policy", out->rp, sizeof out->rp}};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof f / sizeof f[0]; i++) {
        const char *s;
        size_t n;
        if (tsv_json_string(tsv_json_get(j, f[i].key), &s, &n, f[i].key, err) != 0 || n >= f[i].cap)
            rc = tsv_error_set(err, TSV_EINTERNAL, "stored DBRP mapping: bad %s", f[i].key);
        else
            memcpy(f[i].dst, s, n + 1);
    }
    int b = 0;
    const tsv_json *vj = tsv_json_get(j, "virtual");
    if (rc == 0 && vj && tsv_json_bool(vj, &b, "virtual", NULL) == 0)
        out->is_virtual = b;
    tsv_json_free(doc);
    return rc;
}

static int dbrp_default_id(tsv_kv_txn *txn, uint64_t hdef, const char *org_id, const char *db,
                           char out[17])
{
    char key[16 + TSV_V1_NAME_MAX + 1];
    int n = snprintf(key, sizeof key, "%s%s", org_id, db);
    const uint8_t *v;
    size_t vlen;
    out[0] = '\0';
    if (tsv_kv_get(txn, hdef, key, (size_t)n, &v, &vlen, NULL) != 0 || vlen != 16)
        return 0;
    memcpy(out, v, 16);
    out[16] = '\0';
    return 1;
}

/* Calls visit for every mapping an index bucket (h[1] or h[2]) lists under
 * `prefix`, read from the mappings bucket h[0]; dangling index entries are
 * skipped, as influxd skips them. visit returns 0 to go on, 1 to stop, -1
 * on error; so does the walk (0 when it ran to the end). */
typedef int (*dbrp_index_fn)(void *ctx, const tsv_dbrp *m, tsv_error *err);
typedef struct index_walk_ctx {
    tsv_kv_txn *txn;
    uint64_t mappings;
    dbrp_index_fn visit;
    void *ctx;
} index_walk_ctx;

static int index_walk_visit(void *vctx, const tsv_kv_entry *ent, tsv_error *err)
{
    index_walk_ctx *w = vctx;
    if (ent->is_bucket)
        return 0;
    const uint8_t *v;
    size_t vlen;
    tsv_dbrp m;
    if (tsv_kv_get(w->txn, w->mappings, ent->val, ent->vlen, &v, &vlen, NULL) != 0)
        return 0;
    return dbrp_from_json(v, vlen, &m, err) != 0 ? -1 : w->visit(w->ctx, &m, err);
}

static int dbrp_index_walk(tsv_kv_txn *txn, const uint64_t h[4], uint64_t index, const char *prefix,
                           size_t plen, dbrp_index_fn visit, void *ctx, tsv_error *err)
{
    index_walk_ctx w = {.txn = txn, .mappings = h[0], .visit = visit, .ctx = ctx};
    return tsv_kv_walk(txn, index, prefix, plen, index_walk_visit, &w, err);
}

typedef struct find_ctx {
    tsv_kv_txn *txn;
    uint64_t hdef;
    const char *org_id, *db, *rp;
    tsv_dbrp *out;
} find_ctx;

static int find_visit(void *vctx, const tsv_dbrp *m, tsv_error *err)
{
    (void)err;
    find_ctx *c = vctx;
    if (strcmp(m->rp, c->rp) != 0 || strcmp(m->database, c->db) != 0 ||
        strcmp(m->org_id, c->org_id) != 0)
        return 0;
    char def[17];
    *c->out = *m;
    c->out->is_default =
        dbrp_default_id(c->txn, c->hdef, c->org_id, c->db, def) && strcmp(def, m->id) == 0;
    return 1;
}

int tsv_dbrp_find(tsv_kv_txn *txn, const char *org_id, const char *db, const char *rp,
                  tsv_dbrp *out, tsv_error *err)
{
    uint64_t h[4];
    tsv_error e;
    if (dbrp_buckets(txn, 0, h, &e) != 0) {
        if (e.code == TSV_ENOTFOUND)
            return tsv_error_set(err, TSV_ENOTFOUND, "no DBRP mapping for %s/%s", db, rp);
        return err ? (*err = e, -1) : -1;
    }
    char prefix[16 + TSV_V1_NAME_MAX + 2];
    int plen = snprintf(prefix, sizeof prefix, "%s%s/", org_id, db);
    find_ctx c = {.txn = txn, .hdef = h[3], .org_id = org_id, .db = db, .rp = rp, .out = out};
    int rc = dbrp_index_walk(txn, h, h[1], prefix, (size_t)plen, find_visit, &c, err);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return tsv_error_set(err, TSV_ENOTFOUND, "no DBRP mapping for %s/%s", db, rp);
    return 0;
}

int tsv_dbrp_create(tsv_kv_txn *txn, const char *org_id, const char *db, const char *rp,
                    const char *bucket_id, int make_default, tsv_dbrp *out, tsv_error *err)
{
    if (tsv_v1_name_check(db, "database", err) != 0 ||
        tsv_v1_name_check(rp, "retention policy", err) != 0)
        return -1;
    tsv_bucket b;
    if (tsv_tenant_bucket_get(txn, bucket_id, &b, err) != 0)
        return -1;
    int same_org = strcmp(b.org_id, org_id) == 0;
    tsv_bucket_clear(&b);
    if (!same_org)
        return tsv_error_set(err, TSV_EINVALID, "bucket %s is not in organization %s", bucket_id,
                             org_id);
    tsv_dbrp m;
    tsv_error e;
    if (tsv_dbrp_find(txn, org_id, db, rp, &m, &e) == 0)
        return tsv_error_set(err, TSV_ECONFLICT,
                             "another DBRP mapping with same orgID, db, and rp exists");
    if (e.code != TSV_ENOTFOUND)
        return err ? (*err = e, -1) : -1;
    uint64_t h[4];
    if (dbrp_buckets(txn, 1, h, err) != 0)
        return -1;
    memset(&m, 0, sizeof m);
    tsv_id_format(tsv_id_random(), m.id);
    memcpy(m.org_id, org_id, 17);
    memcpy(m.bucket_id, bucket_id, 17);
    snprintf(m.database, sizeof m.database, "%s", db);
    snprintf(m.rp, sizeof m.rp, "%s", rp);
    char def[17];
    m.is_default = make_default || !dbrp_default_id(txn, h[3], org_id, db, def);

    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "id", m.id);
    tsv_jw_field_string(&w, "database", m.database);
    tsv_jw_field_string(&w, "retention_policy", m.rp);
    tsv_jw_field_bool(&w, "default", m.is_default);
    tsv_jw_field_bool(&w, "virtual", 0);
    tsv_jw_field_string(&w, "orgID", m.org_id);
    tsv_jw_field_string(&w, "bucketID", m.bucket_id);
    tsv_jw_object_end(&w);
    int rc = tsv_jw_finish(&w, err);

    char k1[16 + TSV_V1_NAME_MAX + 1 + 16 + 1], k2[16 + 1 + 16 + 1], k3[16 + TSV_V1_NAME_MAX + 1];
    int n1 = snprintf(k1, sizeof k1, "%s%s/%s", org_id, db, m.id);
    int n2 = snprintf(k2, sizeof k2, "%s/%s", org_id, m.id);
    int n3 = snprintf(k3, sizeof k3, "%s%s", org_id, db);
    if (rc == 0)
        rc = tsv_kv_put(txn, h[0], m.id, 16, buf.data, buf.len, err);
    if (rc == 0)
        rc = tsv_kv_put(txn, h[1], k1, (size_t)n1, m.id, 16, err);
    if (rc == 0)
        rc = tsv_kv_put(txn, h[2], k2, (size_t)n2, m.id, 16, err);
    if (rc == 0 && m.is_default)
        rc = tsv_kv_put(txn, h[3], k3, (size_t)n3, m.id, 16, err);
    tsv_buf_free(&buf);
    if (rc == 0 && out)
        *out = m;
    return rc;
}

/* The mappings of one bucket, collected by gone_visit. */
typedef struct gone_ctx {
    const char *bucket_id;
    tsv_dbrp *v;
    size_t n, cap;
} gone_ctx;

static int gone_visit(void *ctx, const tsv_kv_entry *ent, tsv_error *err)
{
    gone_ctx *g = ctx;
    tsv_dbrp m;
    if (ent->is_bucket || dbrp_from_json(ent->val, ent->vlen, &m, NULL) != 0 ||
        strcmp(m.bucket_id, g->bucket_id) != 0)
        return 0;
    if (TSV_ARRAY_GROW(g->v, g->n, g->cap, err) != 0)
        return -1;
    g->v[g->n++] = m;
    return 0;
}

int tsv_dbrp_delete_bucket(tsv_kv_txn *txn, const char *bucket_id, tsv_error *err)
{
    uint64_t h[4];
    tsv_error e;
    if (dbrp_buckets(txn, 0, h, &e) != 0)
        return e.code == TSV_ENOTFOUND ? 0 : (err ? (*err = e, -1) : -1);
    /* Collect first: no writes while a cursor is open. */
    gone_ctx g = {.bucket_id = bucket_id};
    int rc = tsv_kv_walk(txn, h[0], NULL, 0, gone_visit, &g, err) < 0 ? -1 : 0;
    tsv_dbrp *gone = g.v;
    size_t n = g.n;
    tsv_kv_cursor *c = NULL;
    tsv_kv_entry ent;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const tsv_dbrp *m = &gone[i];
        char k1[16 + TSV_V1_NAME_MAX + 1 + 16 + 1], k2[16 + 1 + 16 + 1],
            k3[16 + TSV_V1_NAME_MAX + 1];
        int n1 = snprintf(k1, sizeof k1, "%s%s/%s", m->org_id, m->database, m->id);
        int n2 = snprintf(k2, sizeof k2, "%s/%s", m->org_id, m->id);
        int n3 = snprintf(k3, sizeof k3, "%s%s", m->org_id, m->database);
        char def[17];
        int was_default =
            dbrp_default_id(txn, h[3], m->org_id, m->database, def) && strcmp(def, m->id) == 0;
        if (tsv_kv_del(txn, h[0], m->id, 16, err) != 0 ||
            tsv_kv_del(txn, h[1], k1, (size_t)n1, err) != 0 ||
            tsv_kv_del(txn, h[2], k2, (size_t)n2, err) != 0) {
            rc = -1;
            break;
        }
        if (!was_default)
            continue;
        if ((rc = tsv_kv_del(txn, h[3], k3, (size_t)n3, err)) != 0)
            break;
        /* The next mapping of the same org + database, if any, is the default now. */
        char prefix[16 + TSV_V1_NAME_MAX + 2];
        int plen = snprintf(prefix, sizeof prefix, "%s%s/", m->org_id, m->database);
        char next[17] = "";
        if ((rc = tsv_kv_cursor_open(txn, h[1], &c, err)) != 0)
            break;
        rc = tsv_kv_cursor_seek(c, prefix, (size_t)plen, err);
        if (rc == 0 && tsv_kv_cursor_next(c, &ent, err) == 1 && ent.klen >= (size_t)plen &&
            memcmp(ent.key, prefix, (size_t)plen) == 0 && !ent.is_bucket && ent.vlen == 16) {
            memcpy(next, ent.val, 16);
            next[16] = '\0';
        }
        tsv_kv_cursor_close(c);
        c = NULL;
        if (rc == 0 && next[0])
            rc = tsv_kv_put(txn, h[3], k3, (size_t)n3, next, 16, err);
    }
    free(gone);
    return rc;
}

/* A growable list of mappings (the org's, collected before visiting, so the
 * callback may use the transaction freely). */
typedef struct dbrp_list {
    tsv_dbrp *v;
    size_t n, cap;
} dbrp_list;

static int dbrp_list_add(dbrp_list *l, const tsv_dbrp *m, tsv_error *err)
{
    if (TSV_ARRAY_GROW(l->v, l->n, l->cap, err) != 0)
        return -1;
    l->v[l->n++] = *m;
    return 0;
}

typedef struct virt_ctx {
    const char *org_id;
    dbrp_list *stored;
    dbrp_list *out;
} virt_ctx;

static int virtual_visit(void *vctx, const tsv_bucket *b, tsv_error *err)
{
    virt_ctx *c = vctx;
    if (b->type != 0 || strcmp(b->org_id, c->org_id) != 0)
        return 0;
    tsv_dbrp m;
    memset(&m, 0, sizeof m);
    tsv_v1_split_bucket_name(b->name, m.database, m.rp);
    if (tsv_v1_name_check(m.database, "database", NULL) != 0 ||
        tsv_v1_name_check(m.rp, "retention policy", NULL) != 0)
        return 0; /* not expressible as a 1.x name */
    for (size_t i = 0; i < c->stored->n; i++) {
        const tsv_dbrp *s = &c->stored->v[i];
        if (strcmp(s->bucket_id, b->id) == 0 ||
            (strcmp(s->database, m.database) == 0 && strcmp(s->rp, m.rp) == 0))
            return 0;
    }
    memcpy(m.id, b->id, 17);
    memcpy(m.bucket_id, b->id, 17);
    memcpy(m.org_id, b->org_id, 17);
    m.is_virtual = 1;
    return dbrp_list_add(c->out, &m, err);
}

static int stored_visit(void *ctx, const tsv_dbrp *m, tsv_error *err)
{
    return dbrp_list_add(ctx, m, err) != 0 ? -1 : 0;
}

int tsv_dbrp_foreach(tsv_kv_txn *txn, const char *org_id, int include_virtual, tsv_dbrp_visit_fn fn,
                     void *ctx, tsv_error *err)
{
    dbrp_list stored = {0}, virt = {0};
    uint64_t h[4];
    tsv_error e;
    int rc = 0;
    if (dbrp_buckets(txn, 0, h, &e) == 0) {
        char prefix[18];
        int plen = snprintf(prefix, sizeof prefix, "%s/", org_id);
        rc = dbrp_index_walk(txn, h, h[2], prefix, (size_t)plen, stored_visit, &stored, err);
        for (size_t i = 0; rc == 0 && i < stored.n; i++) {
            char def[17];
            stored.v[i].is_default =
                dbrp_default_id(txn, h[3], org_id, stored.v[i].database, def) &&
                strcmp(def, stored.v[i].id) == 0;
        }
    } else if (e.code != TSV_ENOTFOUND) {
        rc = err ? (*err = e, -1) : -1;
    }
    if (rc == 0 && include_virtual) {
        virt_ctx vc = {.org_id = org_id, .stored = &stored, .out = &virt};
        rc = tsv_tenant_bucket_foreach(txn, virtual_visit, &vc, err);
        for (size_t i = 0; rc == 0 && i < virt.n; i++) {
            int has_default = 0;
            for (size_t j = 0; j < stored.n; j++)
                if (stored.v[j].is_default && strcmp(stored.v[j].database, virt.v[i].database) == 0)
                    has_default = 1;
            for (size_t j = 0; j < i; j++)
                if (virt.v[j].is_default && strcmp(virt.v[j].database, virt.v[i].database) == 0)
                    has_default = 1;
            virt.v[i].is_default = !has_default;
        }
    }
    for (size_t i = 0; rc == 0 && i < stored.n; i++)
        rc = fn(ctx, &stored.v[i], err);
    for (size_t i = 0; rc == 0 && i < virt.n; i++)
        rc = fn(ctx, &virt.v[i], err);
    free(stored.v);
    free(virt.v);
    return rc;
}

/* ---- import plan ---------------------------------------------------------- */

static int plan_add(tsv_v1_import_item **items, size_t *n, size_t *cap,
                    const Meta__DatabaseInfo *db, const Meta__RetentionPolicyInfo *rp,
                    const char *dst_db, const char *dst_rp, int is_default, tsv_error *err)
{
    if (tsv_v1_name_check(dst_db, "database", err) != 0 ||
        tsv_v1_name_check(dst_rp, "retention policy", err) != 0)
        return -1;
    if (TSV_ARRAY_GROW(*items, *n, *cap, err) != 0)
        return -1;
    tsv_v1_import_item *it = &(*items)[(*n)++];
    memset(it, 0, sizeof *it);
    it->src_db = db;
    it->src_rp = rp;
    snprintf(it->db, sizeof it->db, "%s", dst_db);
    snprintf(it->rp, sizeof it->rp, "%s", dst_rp);
    it->is_default = is_default;
    return 0;
}

static int plan_db(const Meta__DatabaseInfo *db, const char *dst_db, const char *backup_rp,
                   const char *restore_rp, tsv_v1_import_item **items, size_t *n, size_t *cap,
                   tsv_error *err)
{
    if (backup_rp && *backup_rp) {
        for (size_t r = 0; r < db->n_retentionpolicies; r++) {
            const Meta__RetentionPolicyInfo *rp = db->retentionpolicies[r];
            if (strcmp(rp->name, backup_rp) == 0)
                return plan_add(items, n, cap, db, rp, dst_db,
                                restore_rp && *restore_rp ? restore_rp : backup_rp, 1, err);
        }
        return tsv_error_set(err, TSV_ENOTFOUND, "retention Policy not found in meta backup: %s.%s",
                             db->name, backup_rp);
    }
    for (size_t r = 0; r < db->n_retentionpolicies; r++) {
        const Meta__RetentionPolicyInfo *rp = db->retentionpolicies[r];
        int def = db->defaultretentionpolicy && strcmp(db->defaultretentionpolicy, rp->name) == 0;
        if (plan_add(items, n, cap, db, rp, dst_db, rp->name, def, err) != 0)
            return -1;
    }
    return 0;
}

int tsv_v1_import_plan(const Meta__Data *backup, const char *backup_db, const char *restore_db,
                       const char *backup_rp, const char *restore_rp, tsv_v1_import_item **items,
                       size_t *n, tsv_error *err)
{
    *items = NULL;
    *n = 0;
    size_t cap = 0;
    int rc = 0;
    if (backup_db && *backup_db) {
        const Meta__DatabaseInfo *db = tsv_meta_find_database(backup, backup_db);
        if (!db)
            rc = tsv_error_set(err, TSV_ENOTFOUND,
                               "imported metadata does not have database named %s", backup_db);
        else
            rc = plan_db(db, restore_db && *restore_db ? restore_db : backup_db, backup_rp,
                         restore_rp, items, n, &cap, err);
    } else {
        for (size_t d = 0; rc == 0 && d < backup->n_databases; d++) {
            const Meta__DatabaseInfo *db = backup->databases[d];
            if (strcmp(db->name, "_internal") == 0)
                continue;
            rc = plan_db(db, db->name, NULL, NULL, items, n, &cap, err);
        }
    }
    if (rc == 0 && *n == 0)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "nothing to import: the metadata has no retention "
                           "policy to restore");
    /* Two items may not land on the same db/rp (e.g. a rename onto another). */
    for (size_t i = 0; rc == 0 && i < *n; i++)
        for (size_t j = i + 1; rc == 0 && j < *n; j++)
            if (strcmp((*items)[i].db, (*items)[j].db) == 0 &&
                strcmp((*items)[i].rp, (*items)[j].rp) == 0)
                rc = tsv_error_set(err, TSV_EINVALID, "%s/%s would be restored twice",
                                   (*items)[i].db, (*items)[i].rp);
    if (rc != 0) {
        free(*items);
        *items = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- the 1.x view ---------------------------------------------------------- */

typedef struct view_ctx {
    const Meta__Data *live;
    tsv_v1_view *v;
    tsv_error *err;
} view_ctx;

static Meta__DatabaseInfo *view_db(Meta__Data *meta, const char *name, tsv_error *err)
{
    for (size_t i = 0; i < meta->n_databases; i++)
        if (strcmp(meta->databases[i]->name, name) == 0)
            return meta->databases[i];
    Meta__DatabaseInfo *db = malloc(sizeof *db);
    Meta__DatabaseInfo **arr = realloc(meta->databases, (meta->n_databases + 1) * sizeof *arr);
    if (arr)
        meta->databases = arr;
    if (!db || !arr) {
        free(db);
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        return NULL;
    }
    meta__database_info__init(db);
    if (!(db->name = strdup(name)) || !(db->defaultretentionpolicy = strdup(""))) {
        free(db->name);
        free(db);
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        return NULL;
    }
    meta->databases[meta->n_databases++] = db;
    return db;
}

static int view_visit(void *vctx, const tsv_dbrp *m, tsv_error *err)
{
    view_ctx *c = vctx;
    const Meta__DatabaseInfo *src = tsv_meta_find_database(c->live, m->bucket_id);
    if (!src)
        return 0;
    const Meta__RetentionPolicyInfo *srp = NULL;
    for (size_t r = 0; r < src->n_retentionpolicies; r++)
        if (strcmp(src->retentionpolicies[r]->name, TSV_META_DEFAULT_RP) == 0)
            srp = src->retentionpolicies[r];
    if (!srp)
        return 0;
    Meta__DatabaseInfo *db = view_db(c->v->meta, m->database, err);
    if (!db)
        return -1;
    for (size_t r = 0; r < db->n_retentionpolicies; r++)
        if (strcmp(db->retentionpolicies[r]->name, m->rp) == 0)
            return 0; /* a stored mapping already took this db/rp */
    Meta__RetentionPolicyInfo **arr =
        realloc(db->retentionpolicies, (db->n_retentionpolicies + 1) * sizeof *arr);
    if (!arr)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    db->retentionpolicies = arr;
    Meta__RetentionPolicyInfo *rp;
    if (tsv_meta_rp_clone_as(srp, m->rp, &rp, err) != 0)
        return -1;
    /* 1.x subscriptions name 2.x internals; they mean nothing to a 1.x peer. */
    db->retentionpolicies[db->n_retentionpolicies++] = rp;
    if (m->is_default || !db->defaultretentionpolicy[0]) {
        char *d = strdup(m->rp);
        if (!d)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        free(db->defaultretentionpolicy);
        db->defaultretentionpolicy = d;
    }
    for (size_t g = 0; g < rp->n_shardgroups; g++) {
        const Meta__ShardGroupInfo *sg = rp->shardgroups[g];
        if (sg->deletedat)
            continue;
        for (size_t i = 0; i < sg->n_shards; i++) {
            if (TSV_ARRAY_GROW(c->v->shards, c->v->n_shards, c->v->cap_shards, err) != 0)
                return -1;
            tsv_v1_shard_ref *ref = &c->v->shards[c->v->n_shards++];
            ref->id = sg->shards[i]->id;
            memcpy(ref->bucket_id, m->bucket_id, 17);
            ref->db = db->name;
            ref->rp = rp->name;
        }
    }
    return 0;
}

/* DBRP records come in ID order, which is random; a 1.x server lists a
 * database's RPs in creation order, its default (made with the database)
 * first. Default first, then by name, gives peers a stable order. */
static int rp_cmp(const void *a, const void *b, void *ctx)
{
    const char *rp_sort_default = ctx;
    const Meta__RetentionPolicyInfo *x = *(Meta__RetentionPolicyInfo *const *)a;
    const Meta__RetentionPolicyInfo *y = *(Meta__RetentionPolicyInfo *const *)b;
    int dx = rp_sort_default && strcmp(x->name, rp_sort_default) == 0;
    int dy = rp_sort_default && strcmp(y->name, rp_sort_default) == 0;
    if (dx != dy)
        return dy - dx;
    return strcmp(x->name, y->name);
}

static void view_sort_rps(Meta__Data *meta)
{
    for (size_t i = 0; i < meta->n_databases; i++) {
        Meta__DatabaseInfo *db = meta->databases[i];
        if (db->n_retentionpolicies < 2)
            continue;
        qsort_r(db->retentionpolicies, db->n_retentionpolicies, sizeof *db->retentionpolicies,
                rp_cmp, db->defaultretentionpolicy);
    }
}

int tsv_v1_view_build(tsv_kv_txn *txn, const char *org_id, tsv_v1_view **out, tsv_error *err)
{
    tsv_v1_view *v = calloc(1, sizeof *v);
    if (!v)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    Meta__Data *live = NULL;
    int rc = tsv_meta_load(txn, &live, NULL, err);
    if (rc == 0)
        rc = tsv_meta_new_empty(live->clusterid, &v->meta, err);
    if (rc == 0) {
        v->meta->term = live->term;
        v->meta->index = live->index;
        v->meta->maxnodeid = live->maxnodeid;
        v->meta->maxshardgroupid = live->maxshardgroupid;
        v->meta->maxshardid = live->maxshardid;
        view_ctx c = {.live = live, .v = v, .err = err};
        if (org_id && *org_id)
            rc = tsv_dbrp_foreach(txn, org_id, 1, view_visit, &c, err);
        if (rc == 0)
            view_sort_rps(v->meta);
    }
    /* Shard refs point at the database and RP name strings, which are
     * allocations of their own: growing the arrays does not move them. */
    tsv_meta_free(live);
    if (rc != 0) {
        tsv_v1_view_free(v);
        return -1;
    }
    *out = v;
    return 0;
}

void tsv_v1_view_free(tsv_v1_view *v)
{
    if (!v)
        return;
    tsv_meta_free(v->meta);
    free(v->shards);
    free(v);
}

const tsv_v1_shard_ref *tsv_v1_view_shard(const tsv_v1_view *v, uint64_t id)
{
    for (size_t i = 0; i < v->n_shards; i++)
        if (v->shards[i].id == id)
            return &v->shards[i];
    return NULL;
}

void tsv_v1_view_paths_free(char **paths, size_t n) { tsv_meta_shard_paths_free(paths, n); }

int tsv_v1_view_paths(const tsv_v1_view *v, const char *db, const char *rp, char ***paths,
                      size_t *n, tsv_error *err)
{
    *paths = NULL;
    *n = 0;
    if (db && *db) {
        const Meta__DatabaseInfo *d = tsv_meta_find_database(v->meta, db);
        if (!d)
            return tsv_error_set(err, TSV_ENOTFOUND, "database not found: %s", db);
        if (rp && *rp) {
            int found = 0;
            for (size_t r = 0; r < d->n_retentionpolicies; r++)
                found |= strcmp(d->retentionpolicies[r]->name, rp) == 0;
            if (!found)
                return tsv_error_set(err, TSV_ENOTFOUND, "retention policy not found: %s", rp);
        }
    }
    char **out = calloc(v->n_shards ? v->n_shards : 1, sizeof *out);
    if (!out)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < v->n_shards; i++) {
        const tsv_v1_shard_ref *s = &v->shards[i];
        if (db && *db && strcmp(s->db, db) != 0)
            continue;
        if (rp && *rp && strcmp(s->rp, rp) != 0)
            continue;
        char buf[2 * TSV_V1_NAME_MAX + 32];
        snprintf(buf, sizeof buf, "%s/%s/%llu", s->db, s->rp, (unsigned long long)s->id);
        if (!(out[k] = strdup(buf))) {
            tsv_meta_shard_paths_free(out, k);
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        }
        k++;
    }
    *paths = out;
    *n = k;
    return 0;
}
