/*
 * server: the embedded civetweb HTTP server, authentication and request
 * logging (the route table and dispatch are router.h).
 *
 * Every request goes through one dispatcher: path normalisation (trailing
 * slashes stripped, as InfluxDB's router does), route match (404 "not found"
 * for unknown paths, 405 "method not allowed" with an Allow header for a
 * known path with the wrong method), authentication per route, the handler,
 * then one log line (method, path, status, bytes in/out, duration).
 *
 * Ownership: tsv_server_start returns a server the caller stops with
 * tsv_server_stop (which waits for in-flight requests, bounded by the
 * shutdown timeout) and frees with tsv_server_free. The store is borrowed.
 * Thread-safety: handlers run on civetweb worker threads concurrently.
 */
#ifndef TSV_SERVER_H
#define TSV_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "config.h"
#include "http.h"
#include "store.h"
#include "tsv_error.h"

struct tsv_store;
struct tsv_files;
struct tsv_jobs;
struct tsv_conns;
struct mg_context;
struct tsv_tls;

typedef struct tsv_server {
    tsv_config cfg;
    struct tsv_store *store;
    struct tsv_files *files; /* Files API staging area (borrowed) */
    struct tsv_jobs *jobs;   /* Jobs API manager (borrowed) */
    struct tsv_conns *conns; /* Connections API (borrowed) */
    struct mg_context *ctx;
    atomic_int inflight;
    atomic_int stopping;
    atomic_int uploads;  /* upload requests running (--max-concurrent-uploads) */
    int port;            /* the port actually bound (useful with :0) */
    struct tsv_tls *tls; /* HTTPS settings and certificate (tls.h); NULL = plain HTTP */
} tsv_server;

/* Captured path parameters of a matched route, e.g. {shardID}. */
#define TSV_ROUTE_MAX_PARAMS 4
typedef struct tsv_route_params {
    int count;
    const char *names[TSV_ROUTE_MAX_PARAMS]; /* "name}..." inside the route's pattern */
    char values[TSV_ROUTE_MAX_PARAMS][256];
} tsv_route_params;

/* The value captured for {name}, or NULL. (router.c) */
const char *tsv_route_param(const tsv_route_params *p, const char *name);

typedef enum tsv_auth_level {
    TSV_AUTH_NONE = 0,     /* public: /health, /ping, setup */
    TSV_AUTH_TOKEN = 1,    /* any active token */
    TSV_AUTH_OPERATOR = 2, /* the operator permission set, read and write (docs/api.md) */
    TSV_AUTH_BACKUP = 3,   /* read on every type of the operator set (tsvault's backup rule) */
} tsv_auth_level;

/* What the caller proved by its token. Owned by the dispatcher, which
 * releases it (tsv_caller_clear) after the handler returned. */
typedef struct tsv_caller {
    int authenticated;
    int is_operator;    /* holds the whole operator set */
    int all;            /* the bootstrap --operator-token: every permission */
    tsv_perm_set perms; /* the token's permissions (empty when `all`) */
    char auth_id[17];   /* "" for the bootstrap token */
    char org_id[17];    /* the authorization's org */
    char user_id[17];   /* its user, "" if none */
} tsv_caller;

void tsv_caller_clear(tsv_caller *c);

typedef int (*tsv_handler_fn)(tsv_http_req *req, const tsv_route_params *params,
                              const tsv_caller *caller);

/* The services the handlers use; all borrowed, outliving the server. */
typedef struct tsv_server_services {
    struct tsv_store *store;
    struct tsv_files *files;
    struct tsv_jobs *jobs;
    struct tsv_conns *conns;
} tsv_server_services;

int tsv_server_start(tsv_server **out, const tsv_config *cfg, const tsv_server_services *svc,
                     tsv_error *err);
/* Stops accepting, waits for in-flight requests (bounded), stops civetweb.
 * Returns 0 if everything finished in time, -1 if requests were still running. */
int tsv_server_stop(tsv_server *srv);
void tsv_server_free(tsv_server *srv);

/* SIGHUP: re-reads the TLS certificate and key (tls.h). New connections get
 * the new pair; if a file is bad the pair in use stays and err says why.
 * -1 (TSV_EINVALID) also when the server does not serve HTTPS. */
int tsv_server_reload_tls(tsv_server *srv, tsv_error *err);

/* Authentication (server/auth.c): resolves the Authorization header. */
int tsv_authenticate(tsv_http_req *req, tsv_auth_level need, tsv_caller *caller, tsv_error *err);

#endif
