/*
 * fuzz_rpc: the InfluxDB 1.x snapshotter protocol (server/rpc_snapshotter.c)
 * on one connection, with a real store in a scratch directory (one org, one
 * bucket): the mux header and request type, the JSON request line, the
 * meta.Data payload of a metastore update (the 1.x restore's meta path:
 * PortableData-free meta.Data, import plan, bucket creation) and the shard
 * update's tar stream. The input is what the peer sends; a thread writes it
 * into a socketpair and drains the answer. Restores left pending are
 * dropped after each input, so every input starts from the same sessions
 * (the store itself keeps the buckets a successful update created).
 */
#include <pthread.h>
#include <sys/socket.h>

#include "fuzz_storage.h"
#include "rpc_internal.h"

static rpc_ctx ctx;

typedef struct peer {
    int fd;
    const uint8_t *data;
    size_t size;
} peer;

static void *peer_main(void *arg)
{
    peer *p = arg;
    size_t off = 0;
    while (off < p->size) {
        ssize_t n = send(p->fd, p->data + off, p->size - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server closed early: fine */
        off += (size_t)n;
    }
    shutdown(p->fd, SHUT_WR);
    char sink[4096];
    while (recv(p->fd, sink, sizeof sink, 0) > 0)
        ;
    return NULL;
}

static void setup(void)
{
    char dir[512];
    tsv_store *s = fuzz_store_open(dir, sizeof dir);
    tsv_error err;
    tsv_setup_request req = {.username = "fuzz",
                             .password = "fuzzfuzz1",
                             .org = "acme",
                             .bucket = "fixture/autogen",
                             .token = "fuzz-token"};
    tsv_setup_result res;
    if (tsv_store_setup(s, &req, &res, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.message);
        abort();
    }
    ctx.store = s;
    ctx.org = NULL;
    ctx.timeout_s = 2;
    pthread_mutex_init(&ctx.mu, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx.store)
        setup();
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    peer p = {sv[1], data, size};
    pthread_t th;
    FUZZ_CHECK(pthread_create(&th, NULL, peer_main, &p) == 0);
    rpc__serve_conn(&ctx, sv[0], "fuzz");
    close(sv[0]);
    pthread_join(th, NULL);
    close(sv[1]);
    rpc__drop_all(&ctx);
    return 0;
}
