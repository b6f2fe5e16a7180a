/* readahead: the read-ahead reader (tsv_readahead_new, stream.h). */
#include "stream.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Read-ahead reader: one producer thread fills a ring of slots from the inner
 * reader; the consumer takes them in order. A slot holds bytes and, in the
 * last one, the end of stream or the inner reader's error.
 * ------------------------------------------------------------------------- */

typedef struct ra_slot {
    uint8_t *data;
    size_t len;
    bool eof, failed;
    tsv_error err;
} ra_slot;

typedef struct readahead {
    tsv_reader base;
    tsv_reader *inner;
    size_t bufsize;
    unsigned n;
    ra_slot *slots;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t filled;      /* consumer waits: a slot was filled */
    pthread_cond_t freed;       /* producer waits: a slot was released, or stop */
    unsigned head, tail, count; /* producer fills head, consumer takes tail */
    bool stop;
    /* consumer side */
    ra_slot *cur; /* slot held by the consumer (its bytes are cur->data) */
    size_t pos;   /* bytes of cur already handed out */
    bool finished, failed;
    tsv_error error;
} readahead;

static void *ra_produce(void *arg)
{
    readahead *ra = arg;
    pthread_setname_np(pthread_self(), "tsv-readahead");
    for (;;) {
        pthread_mutex_lock(&ra->mu);
        while (ra->count == ra->n && !ra->stop)
            pthread_cond_wait(&ra->freed, &ra->mu);
        bool stop = ra->stop;
        ra_slot *s = &ra->slots[ra->head];
        pthread_mutex_unlock(&ra->mu);
        if (stop)
            return NULL;
        s->len = 0;
        s->eof = s->failed = false;
        while (s->len < ra->bufsize) {
            ssize_t k = tsv_read(ra->inner, s->data + s->len, ra->bufsize - s->len, &s->err);
            if (k < 0) {
                s->failed = true;
                break;
            }
            if (k == 0) {
                s->eof = true;
                break;
            }
            s->len += (size_t)k;
        }
        pthread_mutex_lock(&ra->mu);
        ra->head = (ra->head + 1) % ra->n;
        ra->count++;
        pthread_cond_signal(&ra->filled);
        pthread_mutex_unlock(&ra->mu);
        if (s->eof || s->failed)
            return NULL;
    }
}

/* Gives the held slot back; its end-of-stream or error becomes the reader's. */
static void ra_release(readahead *ra)
{
    ra_slot *s = ra->cur;
    if (!s)
        return;
    if (s->failed) {
        ra->failed = true;
        ra->error = s->err;
    } else if (s->eof) {
        ra->finished = true;
    }
    ra->cur = NULL;
    ra->pos = 0;
    pthread_mutex_lock(&ra->mu);
    ra->tail = (ra->tail + 1) % ra->n;
    ra->count--;
    pthread_cond_signal(&ra->freed);
    pthread_mutex_unlock(&ra->mu);
}

/* Makes bytes available in ra->cur: >0 bytes, 0 end of stream, -1 error. */
static ssize_t ra_next(readahead *ra, tsv_error *err)
{
    for (;;) {
        if (ra->cur && ra->pos < ra->cur->len)
            return (ssize_t)(ra->cur->len - ra->pos);
        ra_release(ra);
        if (ra->failed) {
            if (err)
                *err = ra->error;
            return -1;
        }
        if (ra->finished)
            return 0;
        pthread_mutex_lock(&ra->mu);
        while (ra->count == 0)
            pthread_cond_wait(&ra->filled, &ra->mu);
        ra->cur = &ra->slots[ra->tail];
        pthread_mutex_unlock(&ra->mu);
        ra->pos = 0;
    }
}

ssize_t tsv_readahead_borrow(tsv_reader *r, const void **p, tsv_error *err)
{
    readahead *ra = (readahead *)r;
    ssize_t n = ra_next(ra, err);
    if (n > 0) {
        *p = ra->cur->data + ra->pos;
        ra->pos = ra->cur->len;
    }
    return n;
}

static ssize_t ra_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    readahead *ra = (readahead *)r;
    if (len == 0)
        return 0;
    ssize_t n = ra_next(ra, err);
    if (n <= 0)
        return n;
    if ((size_t)n > len)
        n = (ssize_t)len;
    memcpy(buf, ra->cur->data + ra->pos, (size_t)n);
    ra->pos += (size_t)n;
    return n;
}

static void ra_free(tsv_reader *r)
{
    readahead *ra = (readahead *)r;
    if (!ra)
        return;
    if (ra->started) {
        pthread_mutex_lock(&ra->mu);
        ra->stop = true;
        pthread_cond_signal(&ra->freed);
        pthread_mutex_unlock(&ra->mu);
        pthread_join(ra->thread, NULL);
    }
    pthread_cond_destroy(&ra->filled);
    pthread_cond_destroy(&ra->freed);
    pthread_mutex_destroy(&ra->mu);
    if (ra->slots)
        for (unsigned i = 0; i < ra->n; i++)
            free(ra->slots[i].data);
    free(ra->slots);
    free(ra);
}

int tsv_readahead_new(tsv_reader **out, tsv_reader *inner, size_t bufsize, unsigned nbufs,
                      tsv_error *err)
{
    *out = NULL;
    if (!inner || bufsize == 0 || nbufs == 0 || bufsize > SSIZE_MAX)
        return tsv_error_set(err, TSV_EINTERNAL, "readahead: bad arguments");
    readahead *ra = calloc(1, sizeof *ra);
    if (!ra)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    ra->base.read = ra_read;
    ra->base.free = ra_free;
    ra->inner = inner;
    ra->bufsize = bufsize;
    ra->n = nbufs;
    pthread_mutex_init(&ra->mu, NULL);
    pthread_cond_init(&ra->filled, NULL);
    pthread_cond_init(&ra->freed, NULL);
    ra->slots = calloc(nbufs, sizeof *ra->slots);
    if (!ra->slots)
        goto oom;
    for (unsigned i = 0; i < nbufs; i++)
        if (!(ra->slots[i].data = malloc(bufsize)))
            goto oom;
    /* The thread takes no signals: they stay with the threads that expect them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&ra->thread, NULL, ra_produce, ra);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        ra_free(&ra->base);
        return tsv_error_set_errno(err, TSV_EINTERNAL, rc, "readahead: start thread");
    }
    ra->started = true;
    *out = &ra->base;
    return 0;
oom:
    ra_free(&ra->base);
    return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
}
