/*
 * rpc_internal: what the 1.x RPC listener and the snapshotter protocol
 * share. Not for other modules.
 */
#ifndef TSV_RPC_INTERNAL_H
#define TSV_RPC_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "store.h"
#include "v1_restore.h"

/* A 1.x restore between its metadata request and its shard uploads. */
typedef struct rpc_session {
    tsv_v1_restore *restore;
    int active;     /* shard uploads running */
    int failed;     /* an upload failed: free once none is active */
    time_t last;    /* last activity (monotonic seconds) */
    uint64_t *busy; /* shard IDs being uploaded */
    size_t n_busy;
    size_t cap_busy; /* allocated length of busy (array_grow.h) */
    struct rpc_session *next;
} rpc_session;

typedef struct rpc_ctx {
    tsv_store *store;
    const char *org;    /* --rpc-org; NULL = first org */
    int timeout_s;      /* idle peer / idle restore */
    pthread_mutex_t mu; /* guards sessions */
    rpc_session *sessions;
} rpc_ctx;

/* Serves one connection; the caller closes fd. peer is for logs. */
void rpc__serve_conn(rpc_ctx *ctx, int fd, const char *peer);
/* Drops restores with no upload for timeout_s (their client stopped before
 * sending every shard: all or nothing). Called once a second. */
void rpc__tick(rpc_ctx *ctx);
/* Drops every pending restore (shutdown). */
void rpc__drop_all(rpc_ctx *ctx);

#endif
