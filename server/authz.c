/* authz: the permission check every route calls (see authz.h). */
#include "authz.h"

#include <stdio.h>

static int unauthorized(const tsv_permission *need, tsv_error *err)
{
    char text[128];
    tsv_perm_format(need, text, sizeof text);
    return tsv_error_set(err, TSV_EUNAUTHORIZED, "%s is unauthorized", text);
}

int tsv_auth_allows(const tsv_caller *c, tsv_action action, const char *type, const char *org_id,
                    const char *id)
{
    if (!c || !c->authenticated)
        return 0;
    if (c->all)
        return 1;
    tsv_permission need;
    tsv_perm_make(&need, action, type, org_id, id);
    return tsv_perm_set_allows(&c->perms, &need);
}

int tsv_auth_require(const tsv_caller *c, tsv_action action, const char *type, const char *org_id,
                     const char *id, tsv_error *err)
{
    if (tsv_auth_allows(c, action, type, org_id, id))
        return 0;
    tsv_permission need;
    tsv_perm_make(&need, action, type, org_id, id);
    return unauthorized(&need, err);
}

int tsv_auth_require_read_bucket(const tsv_caller *c, int system, const char *org_id,
                                 const char *bucket_id, tsv_error *err)
{
    tsv_permission need;
    tsv_perm_read_bucket(&need, system, org_id, bucket_id);
    if (c && c->authenticated && (c->all || tsv_perm_set_allows(&c->perms, &need)))
        return 0;
    return unauthorized(&need, err);
}

int tsv_auth_require_operator(const tsv_caller *c, int write_too, tsv_error *err)
{
    if (c && c->authenticated && c->all)
        return 0;
    char missing[96] = "read:authorizations";
    if (c && c->authenticated &&
        tsv_perm_set_is_operator(&c->perms, write_too, missing, sizeof missing))
        return 0;
    return tsv_error_set(err, TSV_EUNAUTHORIZED, "%s is unauthorized", missing);
}

int tsv_auth_require_all(const tsv_caller *c, const tsv_perm_set *set, tsv_error *err)
{
    if (c && c->authenticated && c->all)
        return 0;
    for (size_t i = 0; set && i < set->count; i++) {
        if (c && c->authenticated && tsv_perm_set_allows(&c->perms, &set->items[i]))
            continue;
        char text[128];
        tsv_perm_format(&set->items[i], text, sizeof text);
        return tsv_error_set(err, TSV_EFORBIDDEN,
                             "permission %s is not allowed: %s is unauthorized", text, text);
    }
    return 0;
}
