/*
 * connections: remote InfluxDB servers tsvault pulls backups from and pushes
 * restores to (docs/api.md "Connections API", docs/operations.md
 * "Continuous archiving").
 *
 * The API side (create/get/list/replace/patch/delete/test/snapshots) takes
 * and returns the seed's JSON shapes; secrets are write-only: sealed with
 * secret_box.h before they are stored, never in a reply, a log line or an
 * error. The work side is pull jobs (job_pull.h) and push restores
 * (job_push.h), run by the jobs manager; a scheduler thread creates pull
 * jobs on each connection's schedule (never two at once for a connection; a
 * run missed while the server was down runs once at start-up) and applies
 * the retention rules (keep policy, grace period, purge, object GC).
 *
 * Storage: <dir>/catalog.db (conn_catalog.h), <dir>/objects (the
 * snapshots' own content-addressed objects), <dir>/tmp, <dir>/secret.key.
 *
 * Ownership: tsv_conns_open returns a manager freed by tsv_conns_close
 * (stop the scheduler first: tsv_conns_stop_schedule). tsv_conn from
 * tsv_conns_load is released with tsv_conn_clear (wipes the token).
 * Thread-safety: every function is thread-safe. Errors: int 0/-1 with
 * tsv_error: bad requests TSV_EINVALID naming the field, unknown names
 * TSV_ENOTFOUND, existing names TSV_ECONFLICT; test failures keep the code
 * of what failed (TSV_EUNAVAILABLE, TSV_EUNAUTHORIZED, ...).
 */
#ifndef TSV_CONNECTIONS_H
#define TSV_CONNECTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "conn_catalog.h"
#include "object_store.h"
#include "schedule.h"
#include "stream.h"
#include "tsv_error.h"

struct tsv_jobs;
struct tsv_job_user;

typedef struct tsv_conns tsv_conns;

typedef struct tsv_conns_options {
    const char *dir;    /* <data-dir>/connections */
    int64_t grace_ns;   /* soft-deleted snapshots are kept this long */
    int64_t collect_ns; /* purge and object GC period (the vault's purge interval) */
} tsv_conns_options;

int tsv_conns_open(tsv_conns **out, const tsv_conns_options *opt, tsv_error *err);
void tsv_conns_close(tsv_conns *c);

/* API: replies are JSON written into out. */
int tsv_conns_create(tsv_conns *c, const char *body, size_t len, const struct tsv_job_user *u,
                     tsv_buf *out, tsv_error *err);
int tsv_conns_list(tsv_conns *c, tsv_buf *out, tsv_error *err);
int tsv_conns_get(tsv_conns *c, const char *name, tsv_buf *out, tsv_error *err);
/* patch 0: PUT (the body replaces every setting; secrets kept unless given);
 * patch 1: PATCH (JSON merge patch of the settings and secrets). */
int tsv_conns_update(tsv_conns *c, const char *name, const char *body, size_t len, int patch,
                     const struct tsv_job_user *u, tsv_buf *out, tsv_error *err);
int tsv_conns_delete(tsv_conns *c, const char *name, tsv_error *err);
/* Reachability, version, permissions; 0 with {"status":"ok","message"} or
 * -1 with the precise failure. */
int tsv_conns_test(tsv_conns *c, const char *name, tsv_buf *out, tsv_error *err);
int tsv_conns_snapshots(tsv_conns *c, const char *name, tsv_buf *out, tsv_error *err);
/* First and last retained snapshot times (TSV_ENOTFOUND: unknown
 * connection; *first = 0 when it has no snapshot). */
int tsv_conns_range(tsv_conns *c, const char *name, int64_t *first, int64_t *last, tsv_error *err);
int tsv_conns_exists(tsv_conns *c, const char *name);

/* ---- for the jobs ------------------------------------------------------- */

typedef struct tsv_conn_keep {
    int last, hourly, daily, weekly, monthly; /* 0 = not set */
} tsv_conn_keep;

typedef struct tsv_conn {
    char name[TSV_CONN_NAME_MAX + 1];
    char type[16];
    char url[1024];  /* influxdb2 */
    char *token;     /* influxdb2; malloc'd, wiped by clear */
    char org_id[17]; /* influxdb2 filter, "" = all */
    char host[300];  /* influxdb1 "h:p" */
    char **names;    /* influxdb2 buckets / influxdb1 databases filter; NULL = all */
    size_t n_names;
    char ca_file[1024];
    int skip_verify;
    int timeout_ms;
    int64_t clock_skew_ns; /* how far the source's clock may be from ours */
    tsv_schedule schedule;
    tsv_conn_keep keep;
} tsv_conn;
int tsv_conns_load(tsv_conns *c, const char *name, tsv_conn *out, tsv_error *err);
void tsv_conn_clear(tsv_conn *conn);
int tsv_conn_selected(const tsv_conn *conn, const char *name); /* the names filter */

tsv_conn_catalog *tsv_conns_catalog(tsv_conns *c);
tsv_objstore *tsv_conns_objects(tsv_conns *c);
const char *tsv_conns_tmp_dir(tsv_conns *c);
/* Creates "<tmp dir>/<prefix>-<random>.tmp" (its name into path, size
 * bytes) and unlinks it at once: only the returned fd keeps it; the caller
 * closes it. -1 with TSV_EINVALID (path too long), TSV_ENOSPACE or
 * TSV_EINTERNAL. */
int tsv_conns_temp_fd(tsv_conns *c, const char *prefix, char *path, size_t size, tsv_error *err);
/* Pulls hold the GC off while they store objects not yet committed. */
void tsv_conns_pull_begin(tsv_conns *c);
void tsv_conns_pull_end(tsv_conns *c);
/* Applies the keep policy of one connection (after a pull): snapshots it
 * does not keep are soft-deleted. */
int tsv_conns_apply_keep(tsv_conns *c, const tsv_conn *conn, tsv_error *err);
/* Purge of snapshots past the grace period and GC of unused objects (the
 * GC is skipped while a pull or push runs: the next pass does it). */
int tsv_conns_collect(tsv_conns *c, uint64_t *purged, uint64_t *objects_removed, tsv_error *err);

/* The scheduler: creates {"type":"backup","source":{"type":"connection",
 * "connectionName":N}} jobs through tsv_jobs_create. */
int tsv_conns_start_schedule(tsv_conns *c, struct tsv_jobs *jobs, tsv_error *err);
void tsv_conns_stop_schedule(tsv_conns *c);

#endif
