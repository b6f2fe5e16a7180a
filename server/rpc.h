/*
 * rpc: the InfluxDB 1.x "snapshotter" TCP service (influxd's port 8088), so
 * that the real `influxd backup -portable` and `influxd restore -portable`
 * work against tsvault (docs/api.md "InfluxDB 1.x backup protocol").
 *
 * rpc_listener.c owns the socket: bind (host:port, ":port", "[v6]:port";
 * port 0 picks a free one), the peer allow-list, a cap on concurrent
 * connections, per-connection threads with receive/send timeouts, and a
 * once-a-second tick that expires idle restores. rpc_snapshotter.c speaks
 * the protocol on one connection; all disk work is storage's (v1_backup.h,
 * v1_restore.h).
 *
 * The protocol has no authentication: the listener binds to loopback by
 * default; --rpc-allowed-hosts limits peers; a non-loopback bind without it
 * logs a warning at start-up.
 *
 * Ownership: tsv_rpc_start returns a service stopped and freed by
 * tsv_rpc_stop (which waits for running connections). The store is borrowed.
 * Thread-safety: start/stop from one thread; connections run concurrently.
 * Errors: int 0/-1 with tsv_error (bind failures, bad allow-list).
 */
#ifndef TSV_RPC_H
#define TSV_RPC_H

#include "config.h"
#include "store.h"
#include "tsv_error.h"

typedef struct tsv_rpc tsv_rpc;

int tsv_rpc_start(tsv_rpc **out, const tsv_config *cfg, tsv_store *store, tsv_error *err);
int tsv_rpc_port(const tsv_rpc *rpc);
void tsv_rpc_stop(tsv_rpc *rpc);

#endif
