/*
 * export_lp: line-protocol export of TSM data in exactly the format of
 * InfluxDB 1.x `influx_inspect export` (docs/api.md, GET /api/v2/export, has the rules).
 *
 * Output: the header ("# INFLUXDB EXPORT: start - end", "# DDL", one
 * "CREATE DATABASE <db> WITH NAME <rp>" per retention policy that holds TSM
 * files, "# DML"), then per such RP "# CONTEXT-DATABASE:", "# CONTEXT-
 * RETENTION-POLICY:", "# writing tsm data" and one line per field value:
 * files in string order of their "<shardID>/<file>" path, keys in each
 * file's (sorted) order, values in time order. Values deleted by the file's
 * tombstone are left out, as are values outside [start, stop] (both ends
 * inclusive, as influx_inspect's -start/-end) and keys of other measurements
 * when a measurement filter is given.
 *
 * Duplicates: where several files of a shard hold the same key and
 * timestamp, InfluxDB's readers return the value of the later file (files
 * ordered by generation and sequence, i.e. by name). influx_inspect prints
 * all of them; we print only the one InfluxDB would return, in the place
 * where the later file's lines come. Without duplicates the output is byte
 * for byte influx_inspect's. Within one file a key's blocks never overlap
 * (tsv_tsm_verify refuses files where they do).
 *
 * Consistency and memory: each shard's files (and tombstones) are opened
 * under the shard lock, so a concurrent restore of that shard is either
 * wholly seen or not at all; then the shard is streamed key by key with one
 * decoded block per file at a time (see tsm_file.h), so memory depends on
 * the number of files in a shard, never on their size.
 *
 * Errors: int 0/-1 with tsv_error. A damaged file stops the export with
 * TSV_EINVALID naming file and offset (influx_inspect skips it silently; a
 * backup tool must not). Writer errors are returned as they are, and
 * `cancelled` returning non-zero stops with TSV_EUNAVAILABLE.
 * Thread-safety: reentrant. Ownership: nothing is retained.
 */
#ifndef TSV_EXPORT_LP_H
#define TSV_EXPORT_LP_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_export_shard {
    uint64_t id;
    const char *dir; /* the shard's directory */
} tsv_export_shard;

typedef struct tsv_export_rp {
    const char *name;
    const tsv_export_shard *shards;
    size_t n_shards;
} tsv_export_rp;

typedef struct tsv_export_options {
    const char *database;            /* printed in the header */
    int64_t start, stop;             /* inclusive; INT64_MIN / INT64_MAX: unbounded */
    const char *const *measurements; /* NULL or n_measurements names (unescaped) */
    size_t n_measurements;
    int (*cancelled)(void *ctx); /* may be NULL */
    void *cancel_ctx;
    /* May be NULL: called for each shard under its lock, before its files
     * are opened; an error stops the export (the store refuses files
     * verify marked corrupt this way). */
    int (*check_shard)(void *ctx, const tsv_export_shard *sh, tsv_error *err);
    void *check_ctx;
} tsv_export_options;

typedef struct tsv_export_result {
    uint64_t files;
    uint64_t tsm_bytes;  /* sizes of the files read */
    uint64_t lines;      /* value lines written */
    uint64_t duplicates; /* values left out because a later file has them */
    uint64_t bytes_out;  /* bytes given to the writer */
} tsv_export_result;

/* Exports the given RPs (in the order given; callers sort by name). */
int tsv_export_lp(const tsv_export_rp *rps, size_t n_rps, const tsv_export_options *opt,
                  tsv_writer *w, tsv_export_result *res, tsv_error *err);

/* --- a bucket of the store (store_export.c) ------------------------------ */

struct tsv_store;

typedef struct tsv_export_request {
    const char *bucket_id; /* or NULL and org + bucket names */
    const char *org, *bucket;
    const char *rp;       /* NULL: every RP of the bucket */
    const char *database; /* NULL: the bucket name up to its first '/' */
    int64_t start, stop;  /* inclusive */
    const char *const *measurements;
    size_t n_measurements;
    int (*cancelled)(void *ctx);
    void *cancel_ctx;
} tsv_export_request;

typedef struct tsv_export_plan tsv_export_plan;

/* Resolves the bucket and RP before anything is written: TSV_ENOTFOUND for
 * an unknown bucket or organization, TSV_EINVALID for an unknown RP or
 * start > stop, TSV_EUNPROCESSABLE if a shard file is an object verify
 * marked corrupt (checked again as each shard is opened). The plan copies what it needs from req except the
 * measurement array and the cancel context, which must outlive it. */
int tsv_store_export_prepare(struct tsv_store *s, const tsv_export_request *req,
                             tsv_export_plan **out, tsv_error *err);
/* The resolved bucket (for permission checks). */
const char *tsv_export_plan_bucket_id(const tsv_export_plan *p);
const char *tsv_export_plan_org_id(const tsv_export_plan *p);
int tsv_export_plan_run(tsv_export_plan *p, tsv_writer *w, tsv_export_result *res, tsv_error *err);
void tsv_export_plan_free(tsv_export_plan *p);

/* Go's strconv.FormatFloat(v, 'g', -1, 64); out needs 32 bytes. Returns the
 * length. (Exposed for unit tests.) */
size_t export_lp__format_float(double v, char *out);
/* influxql.QuoteIdent of one segment; out needs 2 * strlen(s) + 3 bytes. */
void export_lp__quote_ident(const char *s, char *out);

#endif
