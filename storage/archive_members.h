/*
 * archive_members: what archive_detect.c and upload_check.c share: the
 * member list of a backup archive (names, sizes, manifest texts), the plan
 * built from it, and the check of one KV/SQL/shard member. Internal to
 * storage/. Ownership: archive_members__free frees the list and its
 * strings. Errors: int 0/-1 with tsv_error. Thread-safety: reentrant.
 */
#ifndef TSV_ARCHIVE_MEMBERS_H
#define TSV_ARCHIVE_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "archive_detect.h"
#include "stream.h"
#include "tsv_error.h"

#define ARCHIVE_TEXT_MAX ((size_t)64 << 20) /* manifests and .meta files */

typedef struct archive_member {
    char *name;
    uint64_t size;
    char *text; /* manifests and .meta files, whole */
    size_t text_len;
} archive_member;

typedef struct archive_members {
    archive_member *v;
    size_t n, cap;
    int shard_like; /* every member is a TSM or tombstone file (set to 1 before adding) */
} archive_members;

void archive_members__free(archive_members *m);
archive_member *archive_members__find(const archive_members *m, const char *name);
/* Appends a member (TSV_EINVALID if the name is there already). */
int archive_members__add(archive_members *m, const char *name, uint64_t size, archive_member **out,
                         tsv_error *err);
/* Members whose whole text the plan needs (.manifest, .meta). */
int archive_members__is_text(const char *name);
/* The plan of a backup whose members are m (tsv_backup_plan_scan's rules). */
int archive_members__plan(archive_members *m, tsv_backup_plan *out, tsv_error *err);

typedef enum {
    CHECK_BOLT,
    CHECK_SQLITE,
    CHECK_SHARD
} archive_check_kind;
struct tsv_tsm_trust;
/* One member's bytes (raw) through its decoder into the check for its kind;
 * scratch: an empty directory for temporary files. */
int archive_detect__check_stream(const char *scratch, archive_check_kind kind, uint64_t id,
                                 tsv_reader *raw, tsv_codec codec, struct tsv_tsm_trust *validated,
                                 tsv_error *err);

#endif
