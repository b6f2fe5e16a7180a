/*
 * permission: InfluxDB 2.x permissions ({action, resource:{type, id, orgID}})
 * as values, and the matching rule influxd applies (docs/api.md, "Permissions").
 *
 * A permission held by a token allows a required one when the actions are
 * equal and either the held type is "instance", or the types are equal and
 * the held resource has neither id nor orgID, or its orgID (without id)
 * equals the required orgID, or its id equals the required id.
 *
 * Ownership: a tsv_perm_set owns its array; release with tsv_perm_set_free.
 * Thread-safety: plain values; a set may be read by several threads.
 * Errors: int 0/-1 with tsv_error, TSV_EINVALID with influxd's messages.
 */
#ifndef TSV_PERMISSION_H
#define TSV_PERMISSION_H

#include <stddef.h>

#include "json.h"
#include "tsv_error.h"

typedef enum tsv_action {
    TSV_ACTION_READ = 0,
    TSV_ACTION_WRITE = 1
} tsv_action;

typedef struct tsv_permission {
    tsv_action action;
    char type[32];   /* a resource type (tsv_perm_type_valid) */
    char id[17];     /* "" = any resource of the type */
    char org_id[17]; /* "" = any organization */
} tsv_permission;

typedef struct tsv_perm_set {
    size_t count;
    tsv_permission *items;
} tsv_perm_set;

/* The operator set: read and write on each of these types, unscoped. */
extern const char *const tsv_perm_operator_types[];
extern const int tsv_perm_operator_type_count;

const char *tsv_action_name(tsv_action a);
/* 1 if `type` is one of influxd's resource types (incl. "instance"). */
int tsv_perm_type_valid(const char *type);

/* Builds a required permission; org_id / id may be NULL or "". */
void tsv_perm_make(tsv_permission *p, tsv_action action, const char *type, const char *org_id,
                   const char *id);
/* influxd's text form, e.g. "read:orgs/<org>/buckets/<id>". */
void tsv_perm_format(const tsv_permission *p, char *out, size_t outlen);

/* Parses a "permissions" array. strict: unknown types/actions and bad IDs
 * are errors with influxd's messages (request bodies); not strict: such
 * entries are skipped (stored records from newer servers). */
int tsv_perm_set_parse(const tsv_json *arr, int strict, tsv_perm_set *out, tsv_error *err);
void tsv_perm_set_free(tsv_perm_set *s);
/* Deep copy (dst is overwritten). */
int tsv_perm_set_copy(tsv_perm_set *dst, const tsv_perm_set *src, tsv_error *err);
/* Writes the array in InfluxDB's stored/wire shape. */
void tsv_perm_set_write_json(tsv_json_writer *w, const tsv_perm_set *s);
/* The same with influxd's resource "name" and "org" after each resource's
 * own fields: names[i] / orgs[i] for permission i when not NULL (either
 * array may be NULL). */
void tsv_perm_set_write_json_named(tsv_json_writer *w, const tsv_perm_set *s,
                                   const char *const *names, const char *const *orgs);

int tsv_perm_matches(const tsv_permission *held, const tsv_permission *need);
int tsv_perm_set_allows(const tsv_perm_set *s, const tsv_permission *need);

/* Does the set hold the operator set? write_too = 0 checks only the read
 * half (what tsvault asks of a backup). On failure writes the first missing
 * permission ("read:authorizations") to missing. Sets made by servers older
 * than 2.1 lack the last four types (notebooks, annotations, remotes,
 * replications); influxd's KV migrations add them to such tokens, so they
 * count as operator sets here too. */
int tsv_perm_set_is_operator(const tsv_perm_set *s, int write_too, char *missing, size_t mlen);

/* What influxd asks to read a bucket: a system bucket needs read on its
 * org (read:orgs/<org>), a user bucket read:orgs/<org>/buckets/<id>. */
void tsv_perm_read_bucket(tsv_permission *need, int system, const char *org_id,
                          const char *bucket_id);

#endif
