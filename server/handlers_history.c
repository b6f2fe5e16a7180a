/*
 * handlers_history: KV and SQL versions of the vault (docs/api.md "Vault"):
 *   GET  /api/v2/vault/{kind}/versions                 kind = kv | sql
 *   POST /api/v2/vault/{kind}/versions/{version}/restore
 * The listing is every version, oldest first; restore makes a version
 * current again through restore/kv or restore/sql's own path
 * (storage/vault_history.h), synchronously like those endpoints.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "router.h"
#include "tsv_time.h"
#include "vault_history.h"

/* 0 and *k, or replies 404 and returns 1 with *rc the reply's result. */
static int parse_kind(tsv_http_req *req, const tsv_route_params *p, tsv_history_kind *k, int *rc)
{
    const char *s = tsv_route_param(p, "kind");
    if (s && strcmp(s, "kv") == 0) {
        *k = TSV_HISTORY_KV;
    } else if (s && strcmp(s, "sql") == 0) {
        *k = TSV_HISTORY_SQL;
    } else {
        *rc = tsv_http_reply_error_code(
            req, TSV_ENOTFOUND, "unknown version kind \"%s\": expected kv or sql", s ? s : "");
        return 1;
    }
    return 0;
}

static void jw_time(tsv_json_writer *w, const char *key, int64_t ns)
{
    if (ns == 0) {
        tsv_jw_key(w, key);
        tsv_jw_null(w);
        return;
    }
    tsv_jw_field_time(w, key, ns);
}

typedef struct list_ctx {
    tsv_json_writer *w;
    int64_t retention_s;
} list_ctx;

static int write_version(void *ctx, const tsv_history_version *v, tsv_error *err)
{
    (void)err;
    tsv_json_writer *w = ((list_ctx *)ctx)->w;
    tsv_jw_object_begin(w);
    tsv_jw_field_u64(w, "version", v->version);
    tsv_jw_field_string(w, "state", tsv_version_state_name(v->state));
    jw_time(w, "installedAt", v->installed_ns);
    jw_time(w, "replacedAt", v->replaced_ns);
    tsv_jw_field_string(w, "replacedBy", v->replaced_by);
    jw_time(w, "purgedAt", v->purged_ns);
    tsv_jw_field_string(w, "object", v->object);
    tsv_jw_field_u64(w, "size", v->size);
    if (v->kind == TSV_HISTORY_KV) {
        tsv_jw_field_string(w, "finalObject", v->final_object[0] ? v->final_object : NULL);
        tsv_jw_field_u64(w, "finalSize", v->final_size);
    }
    tsv_jw_object_end(w);
    return 0;
}

int tsv_handle_history_list(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    tsv_history_kind kind;
    int rc = 0;
    if (parse_kind(req, p, &kind, &rc) != 0)
        return rc;
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "kind", tsv_history_kind_name(kind));
    tsv_jw_key(&w, "versions");
    tsv_jw_array_begin(&w);
    list_ctx lc = {&w, 0};
    tsv_error err;
    rc = tsv_vault_history_list(req->server->store, kind, write_version, &lc, &err);
    return tsv_http_list_end(req, rc, &w, &buf, &err);
}

int tsv_handle_history_restore(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    tsv_history_kind kind;
    int rc = 0;
    if (parse_kind(req, p, &kind, &rc) != 0)
        return rc;
    const char *vs = tsv_route_param(p, "version");
    char *end = NULL;
    unsigned long long version = vs && *vs >= '1' && *vs <= '9' ? strtoull(vs, &end, 10) : 0;
    if (!version || !end || *end)
        return tsv_http_reply_error_code(
            req, TSV_EINVALID, "invalid version \"%s\": expected a positive integer", vs ? vs : "");
    tsv_error err;
    if (kind == TSV_HISTORY_SQL) {
        if (tsv_vault_restore_sql_version(req->server->store, version, &err) != 0)
            return tsv_http_reply_error(req, &err);
        return tsv_http_reply_empty(req, 204);
    }
    tsv_vault_result r;
    if (tsv_vault_restore_kv_version(req->server->store, version, 0, &r, &err) != 0) {
        tsv_vault_result_clear(&r);
        return tsv_http_reply_error(req, &err);
    }
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_u64(&w, "restoredVersion", version);
    tsv_jw_key(&w, "shards");
    tsv_jw_array_begin(&w);
    for (size_t i = 0; i < r.count; i++) {
        const tsv_vault_shard_result *s = &r.shards[i];
        tsv_jw_object_begin(&w);
        tsv_jw_field_u64(&w, "shardID", s->shard_id);
        tsv_jw_field_string(&w, "retentionPolicy", s->rp);
        jw_time(&w, "start", s->start_ns);
        jw_time(&w, "end", s->end_ns);
        tsv_jw_field_string(&w, "outcome", tsv_vault_outcome_name(s->outcome));
        tsv_jw_field_u64(&w, "version", s->to_version);
        tsv_jw_field_string(&w, "reason", s->reason);
        tsv_jw_object_end(&w);
    }
    tsv_jw_array_end(&w);
    tsv_jw_object_end(&w);
    tsv_vault_result_clear(&r);
    return tsv_http_reply_jw(req, 200, &w, &buf);
}
