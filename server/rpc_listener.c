/* rpc_listener: the 1.x RPC socket, peer checks and connection threads. */
#include "rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc_internal.h"
#include "tsv_log.h"

/* Beyond this many connections at once, new ones are closed at once: a
 * restore uses one at a time, a backup one at a time. */
#define MAX_CONNS 32
#define MAX_ALLOW 32

typedef struct allow_rule {
    int family;
    uint8_t addr[16];
    int bits;
} allow_rule;

struct tsv_rpc {
    rpc_ctx ctx;
    int fd;
    int port;
    int wake[2]; /* pipe: stop the accept loop */
    pthread_t thread;
    allow_rule allow[MAX_ALLOW];
    int n_allow;
    pthread_mutex_t mu; /* guards conns */
    pthread_cond_t cv;
    int conns;
};

typedef struct conn_arg {
    tsv_rpc *rpc;
    int fd;
    char peer[INET6_ADDRSTRLEN + 8];
} conn_arg;

static int parse_allow(tsv_rpc *rpc, const char *list, tsv_error *err)
{
    char buf[1024];
    if (strlen(list) >= sizeof buf)
        return tsv_error_set(err, TSV_EINVALID, "--rpc-allowed-hosts is too long");
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (rpc->n_allow == MAX_ALLOW)
            return tsv_error_set(err, TSV_EINVALID, "--rpc-allowed-hosts: more than %d entries",
                                 MAX_ALLOW);
        allow_rule *r = &rpc->allow[rpc->n_allow];
        char *slash = strchr(tok, '/');
        if (slash)
            *slash = '\0';
        if (inet_pton(AF_INET, tok, r->addr) == 1) {
            r->family = AF_INET;
            r->bits = 32;
        } else if (inet_pton(AF_INET6, tok, r->addr) == 1) {
            r->family = AF_INET6;
            r->bits = 128;
        } else {
            return tsv_error_set(err, TSV_EINVALID,
                                 "--rpc-allowed-hosts: \"%s\" is not an IP address or CIDR", tok);
        }
        if (slash) {
            char *end;
            long b = strtol(slash + 1, &end, 10);
            if (*end || end == slash + 1 || b < 0 || b > r->bits)
                return tsv_error_set(err, TSV_EINVALID, "--rpc-allowed-hosts: bad prefix /%s",
                                     slash + 1);
            r->bits = (int)b;
        }
        rpc->n_allow++;
    }
    return 0;
}

static int prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

static int peer_allowed(const tsv_rpc *rpc, const struct sockaddr_storage *ss)
{
    if (rpc->n_allow == 0)
        return 1;
    uint8_t v4[4], v6[16];
    int has4 = 0, has6 = 0;
    if (ss->ss_family == AF_INET) {
        memcpy(v4, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        has4 = 1;
    } else if (ss->ss_family == AF_INET6) {
        memcpy(v6, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
        has6 = 1;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(v6, mapped, 12) == 0) {
            memcpy(v4, v6 + 12, 4);
            has4 = 1;
        }
    }
    for (int i = 0; i < rpc->n_allow; i++) {
        const allow_rule *r = &rpc->allow[i];
        if (r->family == AF_INET && has4 && prefix_match(r->addr, v4, r->bits))
            return 1;
        if (r->family == AF_INET6 && has6 && prefix_match(r->addr, v6, r->bits))
            return 1;
    }
    return 0;
}

static void peer_string(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
    }
    snprintf(out, len, "%s:%d", host, port);
}

static void *conn_main(void *p)
{
    conn_arg *a = p;
    tsv_rpc *rpc = a->rpc;
    rpc__serve_conn(&rpc->ctx, a->fd, a->peer);
    close(a->fd);
    free(a);
    pthread_mutex_lock(&rpc->mu);
    rpc->conns--;
    pthread_cond_broadcast(&rpc->cv);
    pthread_mutex_unlock(&rpc->mu);
    return NULL;
}

static void accept_one(tsv_rpc *rpc)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(rpc->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            TSV_WARN("msg=\"1.x rpc accept failed\" error=\"%s\"", strerror(errno));
        if (errno == EMFILE || errno == ENFILE)
            usleep(100 * 1000);
        return;
    }
    char peer[INET6_ADDRSTRLEN + 8];
    peer_string(&ss, peer, sizeof peer);
    if (!peer_allowed(rpc, &ss)) {
        TSV_WARN("msg=\"1.x rpc connection refused\" peer=%s reason=\"not in --rpc-allowed-hosts\"",
                 peer);
        close(fd);
        return;
    }
    pthread_mutex_lock(&rpc->mu);
    int full = rpc->conns >= MAX_CONNS;
    if (!full)
        rpc->conns++;
    pthread_mutex_unlock(&rpc->mu);
    if (full) {
        TSV_WARN("msg=\"1.x rpc connection refused\" peer=%s reason=\"%d connections already\"",
                 peer, MAX_CONNS);
        close(fd);
        return;
    }
    struct timeval tv = {.tv_sec = rpc->ctx.timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    conn_arg *a = malloc(sizeof *a);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (a) {
        a->rpc = rpc;
        a->fd = fd;
        snprintf(a->peer, sizeof a->peer, "%s", peer);
    }
    if (!a || pthread_create(&t, &attr, conn_main, a) != 0) {
        TSV_WARN("msg=\"1.x rpc connection refused\" peer=%s reason=\"no thread\"", peer);
        free(a);
        close(fd);
        pthread_mutex_lock(&rpc->mu);
        rpc->conns--;
        pthread_cond_broadcast(&rpc->cv);
        pthread_mutex_unlock(&rpc->mu);
    }
    pthread_attr_destroy(&attr);
}

static void *accept_main(void *p)
{
    tsv_rpc *rpc = p;
    for (;;) {
        struct pollfd fds[2] = {{.fd = rpc->fd, .events = POLLIN},
                                {.fd = rpc->wake[0], .events = POLLIN}};
        int n = poll(fds, 2, 1000);
        if (n < 0 && errno != EINTR)
            break;
        if (fds[1].revents)
            break;
        if (n > 0 && (fds[0].revents & POLLIN))
            accept_one(rpc);
        rpc__tick(&rpc->ctx);
    }
    return NULL;
}

/* host:port, :port, [v6]:port */
static int split_host_port(const char *addr, char *host, size_t hlen, char *port, size_t plen,
                           tsv_error *err)
{
    const char *colon;
    if (addr[0] == '[') {
        const char *close_b = strchr(addr, ']');
        if (!close_b || close_b[1] != ':')
            return tsv_error_set(err, TSV_EINVALID, "--rpc-bind-address: bad address \"%s\"", addr);
        snprintf(host, hlen, "%.*s", (int)(close_b - addr - 1), addr + 1);
        colon = close_b + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return tsv_error_set(err, TSV_EINVALID,
                                 "--rpc-bind-address: \"%s\" needs a port (host:port)", addr);
        snprintf(host, hlen, "%.*s", (int)(colon - addr), addr);
    }
    snprintf(port, plen, "%s", colon + 1);
    if (!port[0])
        return tsv_error_set(err, TSV_EINVALID, "--rpc-bind-address: \"%s\" needs a port", addr);
    return 0;
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

int tsv_rpc_start(tsv_rpc **out, const tsv_config *cfg, tsv_store *store, tsv_error *err)
{
    *out = NULL;
    tsv_rpc *rpc = calloc(1, sizeof *rpc);
    if (!rpc)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    rpc->fd = -1;
    rpc->wake[0] = rpc->wake[1] = -1;
    rpc->ctx.store = store;
    rpc->ctx.org = cfg->rpc_org[0] ? cfg->rpc_org : NULL;
    rpc->ctx.timeout_s = cfg->rpc_timeout_s;
    pthread_mutex_init(&rpc->ctx.mu, NULL);
    pthread_mutex_init(&rpc->mu, NULL);
    pthread_cond_init(&rpc->cv, NULL);
    char host[256], port[32];
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = parse_allow(rpc, cfg->rpc_allowed_hosts, err);
    if (rc == 0)
        rc = split_host_port(cfg->rpc_bind_address, host, sizeof host, port, sizeof port, err);
    if (rc == 0) {
        int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
        if (g != 0)
            rc = tsv_error_set(err, TSV_EINVALID, "--rpc-bind-address %s: %s",
                               cfg->rpc_bind_address, gai_strerror(g));
    }
    if (rc == 0) {
        rc = -1;
        int last_errno = 0;
        for (struct addrinfo *p = ai; p && rc != 0; p = p->ai_next) {
            int fd =
                socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, p->ai_protocol);
            if (fd < 0) {
                last_errno = errno;
                continue;
            }
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (bind(fd, p->ai_addr, p->ai_addrlen) != 0 || listen(fd, 64) != 0) {
                last_errno = errno;
                close(fd);
                continue;
            }
            rpc->fd = fd;
            rc = 0;
            if (!is_loopback(p->ai_addr) && rpc->n_allow == 0)
                TSV_WARN("msg=\"the 1.x RPC service has no authentication and listens beyond "
                         "loopback; limit peers with --rpc-allowed-hosts\" bind=%s",
                         cfg->rpc_bind_address);
        }
        if (rc != 0)
            tsv_error_set_errno(err, TSV_EINTERNAL, last_errno, "--rpc-bind-address %s",
                                cfg->rpc_bind_address);
    }
    if (ai)
        freeaddrinfo(ai);
    if (rc == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(rpc->fd, (struct sockaddr *)&ss, &sl);
        rpc->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                  : ((struct sockaddr_in6 *)&ss)->sin6_port);
        if (pipe2(rpc->wake, O_CLOEXEC) != 0)
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "pipe");
    }
    if (rc == 0 && pthread_create(&rpc->thread, NULL, accept_main, rpc) != 0)
        rc = tsv_error_set(err, TSV_EINTERNAL, "cannot start the 1.x rpc thread");
    if (rc != 0) {
        if (rpc->fd >= 0)
            close(rpc->fd);
        if (rpc->wake[0] >= 0) {
            close(rpc->wake[0]);
            close(rpc->wake[1]);
        }
        free(rpc);
        return -1;
    }
    TSV_INFO("msg=\"1.x rpc listening\" bind=%s rpc_port=%d org=\"%s\" allowed_hosts=\"%s\"",
             cfg->rpc_bind_address, rpc->port, cfg->rpc_org[0] ? cfg->rpc_org : "(first)",
             cfg->rpc_allowed_hosts[0] ? cfg->rpc_allowed_hosts : "(any)");
    *out = rpc;
    return 0;
}

int tsv_rpc_port(const tsv_rpc *rpc) { return rpc->port; }

void tsv_rpc_stop(tsv_rpc *rpc)
{
    if (!rpc)
        return;
    if (write(rpc->wake[1], "x", 1) < 0)
        TSV_WARN("msg=\"could not wake the 1.x rpc thread\"");
    pthread_join(rpc->thread, NULL);
    close(rpc->fd);
    /* Running connections end by themselves within the receive timeout. */
    pthread_mutex_lock(&rpc->mu);
    while (rpc->conns > 0)
        pthread_cond_wait(&rpc->cv, &rpc->mu);
    pthread_mutex_unlock(&rpc->mu);
    rpc__drop_all(&rpc->ctx);
    close(rpc->wake[0]);
    close(rpc->wake[1]);
    pthread_mutex_destroy(&rpc->ctx.mu);
    pthread_mutex_destroy(&rpc->mu);
    pthread_cond_destroy(&rpc->cv);
    free(rpc);
}
