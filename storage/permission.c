/* permission: InfluxDB's permission values and matching rule. */
#include "permission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* influxd's operator permission set, in influxd's order. */
const char *const tsv_perm_operator_types[] = {
    "authorizations", "buckets",      "dashboards",        "orgs",
    "sources",        "tasks",        "telegrafs",         "users",
    "variables",      "scrapers",     "secrets",           "labels",
    "views",          "documents",    "notificationRules", "notificationEndpoints",
    "checks",         "dbrp",         "notebooks",         "annotations",
    "remotes",        "replications",
};
const int tsv_perm_operator_type_count =
    (int)(sizeof tsv_perm_operator_types / sizeof tsv_perm_operator_types[0]);
/* Operator tokens of servers before 2.1 hold only the first 18 types. */
#define OPER_REQUIRED_TYPES 18

const char *tsv_action_name(tsv_action a) { return a == TSV_ACTION_WRITE ? "write" : "read"; }

int tsv_perm_type_valid(const char *type)
{
    if (!type)
        return 0;
    if (strcmp(type, "instance") == 0)
        return 1;
    for (int i = 0; i < tsv_perm_operator_type_count; i++)
        if (strcmp(type, tsv_perm_operator_types[i]) == 0)
            return 1;
    return 0;
}

void tsv_perm_make(tsv_permission *p, tsv_action action, const char *type, const char *org_id,
                   const char *id)
{
    memset(p, 0, sizeof *p);
    p->action = action;
    snprintf(p->type, sizeof p->type, "%s", type ? type : "");
    snprintf(p->org_id, sizeof p->org_id, "%s", org_id ? org_id : "");
    snprintf(p->id, sizeof p->id, "%s", id ? id : "");
}

void tsv_perm_format(const tsv_permission *p, char *out, size_t outlen)
{
    const char *a = tsv_action_name(p->action);
    if (p->org_id[0] && p->id[0])
        snprintf(out, outlen, "%s:orgs/%s/%s/%s", a, p->org_id, p->type, p->id);
    else if (p->org_id[0])
        snprintf(out, outlen, "%s:orgs/%s/%s", a, p->org_id, p->type);
    else if (p->id[0])
        snprintf(out, outlen, "%s:%s/%s", a, p->type, p->id);
    else
        snprintf(out, outlen, "%s:%s", a, p->type);
}

/* A stored/wire ID: 16 hex digits, non-zero; normalised to lowercase. */
static int parse_id(const char *s, size_t n, char out[17])
{
    if (n != 16)
        return -1;
    int nonzero = 0;
    for (size_t i = 0; i < 16; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
        if (c != '0')
            nonzero = 1;
        out[i] = c;
    }
    out[16] = '\0';
    return nonzero ? 0 : -1;
}

static const char *str_field(const tsv_json *obj, const char *key, size_t *len)
{
    const tsv_json *v = obj && obj->type == TSV_JSON_OBJECT ? tsv_json_get(obj, key) : NULL;
    if (!v || v->type != TSV_JSON_STRING)
        return NULL;
    *len = v->len;
    return v->str;
}

/* One permission object; returns 1 if skipped (non-strict), 0 ok, -1 error. */
static int parse_one(const tsv_json *p, int strict, tsv_permission *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    size_t alen = 0, tlen = 0, ilen = 0, olen = 0;
    const char *action = str_field(p, "action", &alen);
    const tsv_json *res = p && p->type == TSV_JSON_OBJECT ? tsv_json_get(p, "resource") : NULL;
    const char *type = str_field(res, "type", &tlen);
    /* influxd checks the resource type first, then the action, then IDs. */
    if (!type || tlen >= sizeof out->type || memchr(type, '\0', tlen)) {
        if (!strict)
            return 1;
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid resource type for permission: unknown resource type for "
                             "permission");
    }
    memcpy(out->type, type, tlen);
    out->type[tlen] = '\0';
    if (!tsv_perm_type_valid(out->type)) {
        if (!strict)
            return 1;
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid resource type for permission: unknown resource type for "
                             "permission");
    }
    if (action && alen == 4 && memcmp(action, "read", 4) == 0)
        out->action = TSV_ACTION_READ;
    else if (action && alen == 5 && memcmp(action, "write", 5) == 0)
        out->action = TSV_ACTION_WRITE;
    else if (!strict)
        return 1;
    else
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid action type for permission: unknown action for permission");
    const tsv_json *idv = tsv_json_get(res, "id");
    const tsv_json *orgv = tsv_json_get(res, "orgID");
    const char *org = str_field(res, "orgID", &olen);
    const char *id = str_field(res, "id", &ilen);
    if (orgv && orgv->type != TSV_JSON_NULL && (!org || parse_id(org, olen, out->org_id) != 0)) {
        if (!strict)
            return 1;
        return tsv_error_set(err, TSV_EINVALID, "invalid org id for permission: invalid ID");
    }
    if (idv && idv->type != TSV_JSON_NULL && (!id || parse_id(id, ilen, out->id) != 0)) {
        if (!strict)
            return 1;
        return tsv_error_set(err, TSV_EINVALID, "invalid id for permission: invalid ID");
    }
    return 0;
}

int tsv_perm_set_parse(const tsv_json *arr, int strict, tsv_perm_set *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!arr || arr->type == TSV_JSON_NULL)
        return 0;
    if (arr->type != TSV_JSON_ARRAY) {
        if (!strict)
            return 0;
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid json structure: permissions must be a list");
    }
    if (arr->count == 0)
        return 0;
    out->items = calloc(arr->count, sizeof *out->items);
    if (!out->items)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (size_t i = 0; i < arr->count; i++) {
        int r = parse_one(arr->items[i], strict, &out->items[out->count], err);
        if (r < 0) {
            tsv_perm_set_free(out);
            return -1;
        }
        if (r == 0)
            out->count++;
    }
    return 0;
}

void tsv_perm_set_free(tsv_perm_set *s)
{
    if (!s)
        return;
    free(s->items);
    s->items = NULL;
    s->count = 0;
}

int tsv_perm_set_copy(tsv_perm_set *dst, const tsv_perm_set *src, tsv_error *err)
{
    memset(dst, 0, sizeof *dst);
    if (!src || src->count == 0)
        return 0;
    dst->items = malloc(src->count * sizeof *dst->items);
    if (!dst->items)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    memcpy(dst->items, src->items, src->count * sizeof *dst->items);
    dst->count = src->count;
    return 0;
}

void tsv_perm_set_write_json(tsv_json_writer *w, const tsv_perm_set *s)
{
    tsv_perm_set_write_json_named(w, s, NULL, NULL);
}

void tsv_perm_set_write_json_named(tsv_json_writer *w, const tsv_perm_set *s,
                                   const char *const *names, const char *const *orgs)
{
    tsv_jw_array_begin(w);
    for (size_t i = 0; s && i < s->count; i++) {
        const tsv_permission *p = &s->items[i];
        tsv_jw_object_begin(w);
        tsv_jw_field_string(w, "action", tsv_action_name(p->action));
        tsv_jw_key(w, "resource");
        tsv_jw_object_begin(w);
        tsv_jw_field_string(w, "type", p->type);
        if (p->id[0]) {
            tsv_jw_field_string(w, "id", p->id);
        }
        if (p->org_id[0]) {
            tsv_jw_field_string(w, "orgID", p->org_id);
        }
        if (names && names[i]) {
            tsv_jw_field_string(w, "name", names[i]);
        }
        if (orgs && orgs[i]) {
            tsv_jw_field_string(w, "org", orgs[i]);
        }
        tsv_jw_object_end(w);
        tsv_jw_object_end(w);
    }
    tsv_jw_array_end(w);
}

int tsv_perm_matches(const tsv_permission *held, const tsv_permission *need)
{
    if (held->action != need->action)
        return 0;
    if (strcmp(held->type, "instance") == 0)
        return 1;
    if (strcmp(held->type, need->type) != 0)
        return 0;
    if (!held->org_id[0] && !held->id[0])
        return 1;
    /* influxd keeps this older rule: the same resource ID under another
     * org ID still matches. */
    if (held->org_id[0] && need->org_id[0] && held->id[0] && need->id[0] &&
        strcmp(held->org_id, need->org_id) != 0 && strcmp(held->id, need->id) == 0)
        return 1;
    if (held->org_id[0] && !held->id[0] && need->org_id[0] &&
        strcmp(held->org_id, need->org_id) == 0)
        return 1;
    /* An org is its own org: influxd asks orgs/<id> as OrgID = ID = <id>, so
     * an org-scoped grant on type orgs (all-access tokens) covers it. */
    if (held->org_id[0] && !held->id[0] && !need->org_id[0] && need->id[0] &&
        strcmp(need->type, "orgs") == 0 && strcmp(held->org_id, need->id) == 0)
        return 1;
    if (held->id[0] && need->id[0] && strcmp(held->id, need->id) == 0)
        return 1;
    return 0;
}

int tsv_perm_set_allows(const tsv_perm_set *s, const tsv_permission *need)
{
    for (size_t i = 0; s && i < s->count; i++)
        if (tsv_perm_matches(&s->items[i], need))
            return 1;
    return 0;
}

int tsv_perm_set_is_operator(const tsv_perm_set *s, int write_too, char *missing, size_t mlen)
{
    if (missing && mlen)
        missing[0] = '\0';
    for (int i = 0; i < OPER_REQUIRED_TYPES; i++) {
        for (int a = 0; a < (write_too ? 2 : 1); a++) {
            tsv_permission need;
            tsv_perm_make(&need, a ? TSV_ACTION_WRITE : TSV_ACTION_READ, tsv_perm_operator_types[i],
                          NULL, NULL);
            if (!tsv_perm_set_allows(s, &need)) {
                if (missing && mlen)
                    tsv_perm_format(&need, missing, mlen);
                return 0;
            }
        }
    }
    return 1;
}

void tsv_perm_read_bucket(tsv_permission *need, int system, const char *org_id,
                          const char *bucket_id)
{
    if (system)
        tsv_perm_make(need, TSV_ACTION_READ, "orgs", NULL, org_id);
    else
        tsv_perm_make(need, TSV_ACTION_READ, "buckets", org_id, bucket_id);
}
