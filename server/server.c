/* server: civetweb lifecycle, request set-up and logging (routing is router.c). */
#include "server.h"

#include <civetweb.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "body_gate.h"
#include "router.h"
#include "tls.h"
#include "tsv_log.h"
#include "version.h"

static double elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

typedef struct dispatch_job {
    struct mg_connection *conn;
    tsv_server *srv;
    int status;
} dispatch_job;

static int handle_request(struct mg_connection *conn, tsv_server *srv);

static void *dispatch_thread(void *arg)
{
    dispatch_job *job = arg;
    job->status = handle_request(job->conn, job->srv);
    return NULL;
}

/* civetweb's worker threads have 100 KiB stacks (fixed when Debian built
 * it). Restores walk directory trees, parse archives and inflate on the way,
 * so each request is handled on a thread with a roomy stack while the
 * worker waits for it; the pages are only committed as they are touched. */
#define HANDLER_STACK_SIZE (8u * 1024 * 1024)

static int dispatch(struct mg_connection *conn, void *cbdata)
{
    tsv_server *srv = cbdata;
    dispatch_job job = {.conn = conn, .srv = srv, .status = 500};
    pthread_attr_t attr;
    pthread_t t;
    int started = 0;
    if (pthread_attr_init(&attr) == 0) {
        if (pthread_attr_setstacksize(&attr, HANDLER_STACK_SIZE) == 0 &&
            pthread_create(&t, &attr, dispatch_thread, &job) == 0)
            started = 1;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        TSV_WARN("msg=\"cannot start a handler thread; handling on the worker\"");
        return handle_request(conn, srv);
    }
    pthread_join(t, NULL);
    return job.status;
}

static int handle_request(struct mg_connection *conn, tsv_server *srv)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    atomic_fetch_add(&srv->inflight, 1);

    tsv_http_req req;
    tsv_error experr;
    memset(&req, 0, sizeof req);
    req.conn = conn;
    req.server = srv;
    req.method = ri->request_method;
    req.http_version = ri->http_version;
    req.query = ri->query_string ? ri->query_string : "";
    req.content_length = ri->content_length;
    const char *uri = ri->local_uri ? ri->local_uri : "/";
    snprintf(req.path_buf, sizeof req.path_buf, "%s", uri);
    size_t plen = strlen(req.path_buf);
    while (plen > 1 && req.path_buf[plen - 1] == '/') /* InfluxDB strips trailing slashes */
        req.path_buf[--plen] = '\0';
    req.path = req.path_buf;

    size_t header_bytes = strlen(ri->request_method) + strlen(uri) + strlen(req.query) + 16;
    for (int i = 0; i < ri->num_headers; i++)
        header_bytes += strlen(ri->http_headers[i].name) + strlen(ri->http_headers[i].value) + 4;

    if (header_bytes > (size_t)srv->cfg.max_header_size) {
        tsv_http_reply_error_code(&req, TSV_ETOOLARGE,
                                  "request too large: request line and headers are %zu bytes, "
                                  "the limit is %d",
                                  header_bytes, srv->cfg.max_header_size);
    } else if (atomic_load(&srv->stopping)) {
        tsv_http_reply_error_code(&req, TSV_EUNAVAILABLE, "server is shutting down");
    } else if (tsv_body_gate_expect(&req, ri->http_version, &experr) != 0) {
        tsv_http_reply_error(&req, &experr);
    } else {
        tsv_router_dispatch(&req);
    }

    tsv_log(req.status >= 500 ? TSV_LOG_WARN : TSV_LOG_INFO,
            "msg=request method=%s path=\"%s\" status=%d bytes_in=%llu bytes_out=%llu "
            "duration_ms=%.1f remote=%s%s",
            req.method, req.path, req.status, (unsigned long long)req.bytes_in,
            (unsigned long long)req.bytes_out, elapsed_ms(&start), ri->remote_addr,
            req.aborted ? " aborted=true" : "");
    tsv_server_metrics_request(&req, elapsed_ms(&start) / 1e3);
    atomic_fetch_sub(&srv->inflight, 1);
    /* civetweb treats a return of 1..999 as the status it should log. */
    return req.status ? req.status : 500;
}

/* Errors civetweb finds itself (oversized headers, malformed requests) are
 * answered in InfluxDB's JSON shape too. */
static int on_http_error(struct mg_connection *conn, int status, const char *errmsg)
{
    tsv_code code;
    const char *msg;
    switch (status) {
    case 413:
    case 431:
        code = TSV_ETOOLARGE;
        msg = "request too large: request line and headers exceed the limit";
        status = 413;
        break;
    case 400:
        code = TSV_EINVALID;
        msg = errmsg && *errmsg ? errmsg : "bad request";
        break;
    case 404:
        code = TSV_ENOTFOUND;
        msg = "path not found";
        break;
    case 405:
        code = TSV_EMETHOD;
        msg = "method not allowed";
        break;
    default:
        if (status < 500)
            code = TSV_EINVALID;
        else
            code = TSV_EINTERNAL;
        msg = errmsg && *errmsg ? errmsg : "error";
    }
    tsv_buf body = {0};
    if (tsv_http_error_body(&body, tsv_code_string(code), msg) != 0) {
        tsv_buf_free(&body);
        return 1;
    }
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", body.len);
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
              "X-Platform-Error-Code: %s\r\nX-Influxdb-Build: OSS\r\nX-Influxdb-Version: %s\r\n"
              "Content-Length: %s\r\nConnection: close\r\n\r\n",
              status, status == 413 ? "Request Entity Too Large" : "Error", tsv_code_string(code),
              tsv_influx_compat_version(), cl);
    mg_write(conn, body.data, body.len);
    tsv_buf_free(&body);
    TSV_INFO("msg=request status=%d error=\"%s\"", status, msg);
    return 0;
}

static int on_log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    TSV_WARN("msg=civetweb detail=\"%s\"", message);
    return 1;
}

/* civetweb's SSL_CTX is set up by us (tls.c), certificate included. */
static int on_init_ssl(void *ssl_ctx, void *user_data)
{
    tsv_server *srv = user_data;
    tsv_error e;
    if (tsv_tls_setup_ctx(srv->tls, ssl_ctx, &e) != 0) {
        TSV_ERROR("msg=\"cannot set up TLS\" error=\"%s\"", e.message);
        return -1;
    }
    return 1;
}

/* "host:port[,...]" with civetweb's "s" (TLS) suffix on every port. */
static int tls_ports(char *out, size_t outlen, const char *bind)
{
    size_t o = 0;
    const char *p = bind;
    while (*p) {
        size_t n = strcspn(p, ",");
        int w = snprintf(out + o, outlen - o, "%s%.*ss", o ? "," : "", (int)n, p);
        if (w < 0 || (size_t)w >= outlen - o)
            return -1;
        o += (size_t)w;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int tls_start(tsv_server *srv, const tsv_config *cfg, char *ports, size_t portslen,
                     tsv_error *err)
{
    if (!(mg_check_feature(MG_FEATURES_TLS) & MG_FEATURES_TLS))
        return tsv_error_set(err, TSV_EINVALID,
                             "--tls-cert is set but this civetweb library was built without TLS");
    tsv_tls_options topt = {.cert_file = cfg->tls_cert,
                            .key_file = cfg->tls_key,
                            .min_version = cfg->tls_min_version,
                            .strict_ciphers = cfg->tls_strict_ciphers};
    if (tsv_tls_open(&srv->tls, &topt, err) != 0)
        return -1;
    /* civetweb loads libssl itself (dlopen) when asked for TLS; Debian's
     * build needs the compatibility library to find OpenSSL 3's (tls.h). */
    if (tsv_tls_preload_compat(err) != 0)
        return -1;
    if (!(mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS))
        return tsv_error_set(err, TSV_EINTERNAL,
                             "civetweb could not load OpenSSL (libssl.so, libcrypto.so; see "
                             "docs/operations.md, HTTPS requirements)");
    if (tls_ports(ports, portslen, cfg->http_bind_address) != 0)
        return tsv_error_set(err, TSV_EINVALID, "bind address too long");
    return 0;
}

int tsv_server_reload_tls(tsv_server *srv, tsv_error *err)
{
    if (!srv->tls)
        return tsv_error_set(err, TSV_EINVALID, "TLS is not configured (no --tls-cert)");
    return tsv_tls_reload(srv->tls, err);
}

int tsv_server_start(tsv_server **out, const tsv_config *cfg, const tsv_server_services *svc,
                     tsv_error *err)
{
    tsv_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    srv->cfg = *cfg;
    srv->store = svc->store;
    srv->files = svc->files;
    srv->jobs = svc->jobs;
    srv->conns = svc->conns;
    char listen_ports[sizeof cfg->http_bind_address + 16];
    snprintf(listen_ports, sizeof listen_ports, "%s", cfg->http_bind_address);
    if (cfg->tls_cert && tls_start(srv, cfg, listen_ports, sizeof listen_ports, err) != 0) {
        tsv_tls_free(srv->tls);
        free(srv);
        return -1;
    }
    char threads[16], header_size[16], header_timeout[24], idle_timeout[24];
    snprintf(threads, sizeof threads, "%d", cfg->worker_threads);
    snprintf(header_timeout, sizeof header_timeout, "%d", cfg->read_header_timeout_s * 1000);
    snprintf(idle_timeout, sizeof idle_timeout, "%d", cfg->idle_timeout_s * 1000);
    /* civetweb answers a request that overflows its buffer with a bare 400;
     * give it 1 MiB of room and enforce the configured limit in dispatch,
     * where it can be a proper 413. Beyond 1 MiB civetweb's 400 remains. */
    int civet_buf = 1048576; /* pages are only touched as headers arrive */
    snprintf(header_size, sizeof header_size, "%d", civet_buf);
    const char *options[] = {
        "listening_ports",
        listen_ports,
        "num_threads",
        threads,
        "max_request_size",
        header_size,
        "enable_keep_alive",
        "yes",
        /* Replies leave in more than one write (head, large bodies); without
         * this Nagle holds the second until the client's delayed ACK, ~40 ms
         * per request on a reused connection. */
        "tcp_nodelay",
        "1",
        /* civetweb's one timeout: the whole request head must arrive within
         * it (slow or stalled clients are cut, as influxd's
         * ReadHeaderTimeout), and it bounds each single wait for the client
         * within a request; body reads and response writes ride it out up
         * to --http-body-idle-timeout (http.c). */
        "request_timeout_ms",
        header_timeout,
        "keep_alive_timeout_ms",
        idle_timeout,
        "enable_auth_domain_check",
        "no",
        NULL,
    };
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.http_error = on_http_error;
    cb.log_message = on_log_message;
    if (srv->tls)
        cb.init_ssl = on_init_ssl;
    tsv_server_metrics_init();
    mg_init_library(0);
    char errtxt[256] = "";
    struct mg_init_data init = {
        .callbacks = &cb, .user_data = srv, .configuration_options = options};
    struct mg_error_data edata = {.text = errtxt, .text_buffer_size = sizeof errtxt};
    srv->ctx = mg_start2(&init, &edata);
    if (!srv->ctx) {
        tsv_tls_free(srv->tls);
        free(srv);
        return tsv_error_set(err, TSV_EINTERNAL, "cannot listen on %s: %s", cfg->http_bind_address,
                             errtxt[0] ? errtxt : "unknown error");
    }
    mg_set_request_handler(srv->ctx, "/", dispatch, srv);
    struct mg_server_port ports[4];
    int n = mg_get_server_ports(srv->ctx, 4, ports);
    srv->port = n > 0 ? ports[0].port : 0;
    if (srv->tls)
        tsv_tls_log_in_use(srv->tls, "TLS certificate in use");
    *out = srv;
    return 0;
}

typedef struct stop_args {
    tsv_server *srv;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} stop_args;

static void *stop_thread(void *arg)
{
    stop_args *a = arg;
    mg_stop(a->srv->ctx);
    pthread_mutex_lock(&a->mu);
    a->done = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* civetweb's listener thread sleeps in poll() for up to two seconds before it
 * looks at the stop flag, which would make every SIGTERM take ~2 s (a
 * container's stop timeout budget, issue 17). A connection to our own first
 * listening address wakes it; it is closed at once and never served. */
static void wake_listener(const tsv_server *srv)
{
    if (srv->port <= 0)
        return;
    char host[256];
    snprintf(host, sizeof host, "%s", srv->cfg.http_bind_address);
    char *comma = strchr(host, ',');
    if (comma)
        *comma = '\0';
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    else
        host[0] = '\0';
    const char *h = host;
    if (host[0] == '[') { /* [v6] */
        h = host + 1;
        char *end = strchr(host, ']');
        if (end)
            *end = '\0';
    }
    if (!h[0] || strcmp(h, "0.0.0.0") == 0)
        h = "127.0.0.1";
    else if (strcmp(h, "::") == 0)
        h = "::1";
    char port[16];
    snprintf(port, sizeof port, "%d", srv->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
    if (getaddrinfo(h, port, &hints, &res) != 0 || !res)
        return;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        (void)connect(fd, res->ai_addr, res->ai_addrlen);
        close(fd);
    }
    freeaddrinfo(res);
}

int tsv_server_stop(tsv_server *srv)
{
    atomic_store(&srv->stopping, 1);
    /* New requests now get 503; let the running ones finish first (civetweb's
     * mg_stop would cut off their request bodies), bounded by the timeout. */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (atomic_load(&srv->inflight) == 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= srv->cfg.shutdown_timeout_s) {
            TSV_WARN("msg=\"shutdown timeout: %d request(s) still running\"",
                     atomic_load(&srv->inflight));
            return -1;
        }
        struct timespec tick = {0, 20 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    /* mg_stop closes the listeners and joins the workers, which finish their
     * current request first; bound the wait. */
    static stop_args a;
    a.srv = srv;
    a.done = 0;
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.cv, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, stop_thread, &a) != 0) {
        mg_stop(srv->ctx);
        srv->ctx = NULL;
        return 0;
    }
    /* Only idle keep-alive connections are left: wait up to 10 s (200 steps
     * of 50 ms), waking the listener at each step (wake_listener). */
    pthread_mutex_lock(&a.mu);
    for (int step = 0; step < 200 && !a.done; step++) {
        pthread_mutex_unlock(&a.mu);
        wake_listener(srv);
        pthread_mutex_lock(&a.mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!a.done && pthread_cond_timedwait(&a.cv, &a.mu, &until) != ETIMEDOUT) {
        }
    }
    int finished = a.done;
    pthread_mutex_unlock(&a.mu);
    if (!finished) {
        TSV_WARN("msg=\"shutdown timeout: %d request(s) still running\"",
                 atomic_load(&srv->inflight));
        pthread_detach(t);
        return -1;
    }
    pthread_join(t, NULL);
    srv->ctx = NULL;
    return 0;
}

void tsv_server_free(tsv_server *srv)
{
    if (!srv)
        return;
    tsv_tls_free(srv->tls);
    free(srv);
}
