/*
 * manifest: InfluxDB's BucketMetadataManifest JSON (docs/api.md, "GET /api/v2/backup/metadata"),
 * both ways. Parsing follows Go's encoding/json rules as influxd applies
 * them: member names match case-insensitively, unknown members are ignored,
 * organizationID/bucketID must be valid 16-hex IDs when present, durations
 * are integer nanoseconds, times RFC 3339. The retention policies become a
 * protobuf DatabaseInfo, ready for tsv_meta_restore_bucket.
 * Writing produces the exact field order and omissions of docs/formats.md#bucket-manifest.
 *
 * Ownership: tsv_manifest_clear frees a parsed manifest (including db).
 * Errors: TSV_EINVALID "failed to unmarshal json: ..." for malformed input.
 */
#ifndef TSV_MANIFEST_H
#define TSV_MANIFEST_H

#include <stddef.h>

#include "json.h"
#include "meta.h"
#include "tsv_error.h"

typedef struct tsv_manifest {
    char org_id[17]; /* "" when absent */
    char *org_name;
    char bucket_id[17]; /* "" when absent */
    char *bucket_name;
    char *description;      /* NULL when absent or null */
    Meta__DatabaseInfo *db; /* name = bucketName, RPs, groups, shards */
} tsv_manifest;

int tsv_manifest_parse(const char *json, size_t len, tsv_manifest *out, tsv_error *err);
void tsv_manifest_clear(tsv_manifest *m);

/* Appends one manifest object to w for a bucket and its database. */
void tsv_manifest_write(tsv_json_writer *w, const char *org_id, const char *org_name,
                        const char *bucket_id, const char *bucket_name, const char *description,
                        const Meta__DatabaseInfo *db);

#endif
