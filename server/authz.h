/*
 * authz: the one permission check of tsvault's HTTP API. Every handler that
 * touches a resource calls tsv_auth_require (or its operator-set variant)
 * with the permission influxd would ask for; docs/api.md lists each route's
 * permission ("Permissions").
 *
 *   if (tsv_auth_require(c, TSV_ACTION_READ, "buckets", b.org_id, b.id, &err) != 0)
 *       return tsv_http_reply_error(req, &err);
 *
 * A failure is 401 {"code":"unauthorized","message":"<perm> is unauthorized"},
 * naming the permission as influxd does ("read:orgs/<org>/buckets/<id>").
 * The caller (server.h) comes from the Authorization header of this request,
 * read from the KV for this request, so a deleted or deactivated token is
 * refused on its next request.
 *
 * Thread-safety: pure functions of the caller. Errors: int 0/-1, tsv_error.
 */
#ifndef TSV_AUTHZ_H
#define TSV_AUTHZ_H

#include "permission.h"
#include "server.h"

/* Requires `action` on a resource of `type`. org_id and id may be NULL or
 * "": with both, the permission is orgs/<org>/<type>/<id> (held either
 * unscoped, for the org, or for that id); with org_id only, it asks for
 * the type within the org (creating); with id only, for that resource
 * itself (influxd's form for orgs and users); with neither, for the type
 * everywhere. */
int tsv_auth_require(const tsv_caller *c, tsv_action action, const char *type, const char *org_id,
                     const char *id, tsv_error *err);
/* Same check without an error: 1 if allowed (filters lists). */
int tsv_auth_allows(const tsv_caller *c, tsv_action action, const char *type, const char *org_id,
                    const char *id);
/* Reading a bucket as influxd asks it: a system bucket needs read on its
 * org, a user bucket read:orgs/<org>/buckets/<id>. */
int tsv_auth_require_read_bucket(const tsv_caller *c, int system, const char *org_id,
                                 const char *bucket_id, tsv_error *err);
/* The operator set: write_too = 1 read and write on every type (restore,
 * influxd's rule for everything backup/restore); 0 read only (tsvault's
 * rule for backups). Names the first missing permission. */
int tsv_auth_require_operator(const tsv_caller *c, int write_too, tsv_error *err);
/* Every permission of `set` is held by the caller (creating a token: nobody
 * hands out more than it holds). 403 "permission <p> is not allowed". */
int tsv_auth_require_all(const tsv_caller *c, const tsv_perm_set *set, tsv_error *err);

#endif
