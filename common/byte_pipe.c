/* byte_pipe: bounded chunk ring between one writer and one reader thread. */
#include "byte_pipe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A slot is owned by one side at a time, so that the copies run outside the
 * lock: the writer fills the slot after the published ones and publishes it
 * when it is full (or at close); the reader drains the oldest published slot
 * and frees it when empty. The lock only guards `count` and the flags. */
struct tsv_byte_pipe {
    tsv_reader reader; /* first: the reader callbacks find the pipe from it */
    pthread_mutex_t mu;
    pthread_cond_t can_read, can_write;
    uint8_t *mem;   /* n * size */
    size_t *len;    /* bytes in each published slot */
    unsigned n;     /* slots */
    unsigned head;  /* oldest published slot (the reader's) */
    unsigned count; /* published slots */
    size_t size;
    /* writer side: the slot it fills (valid while wslot_held) */
    int wslot_held;
    unsigned wslot;
    size_t wlen;
    /* reader side: how far into the head slot it has read */
    size_t roff;
    int write_closed, read_closed, failed;
    tsv_error failure;
};

int tsv_byte_pipe_new(tsv_byte_pipe **out, size_t chunk_size, unsigned slots, tsv_error *err)
{
    *out = NULL;
    tsv_byte_pipe *p = calloc(1, sizeof *p);
    if (!p)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    p->mem = malloc(chunk_size * slots);
    p->len = calloc(slots, sizeof *p->len);
    if (!p->mem || !p->len) {
        free(p->mem);
        free(p->len);
        free(p);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    p->n = slots;
    p->size = chunk_size;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->can_read, NULL);
    pthread_cond_init(&p->can_write, NULL);
    *out = p;
    return 0;
}

void tsv_byte_pipe_free(tsv_byte_pipe *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->can_read);
    pthread_cond_destroy(&p->can_write);
    free(p->mem);
    free(p->len);
    free(p);
}

/* Publishes the writer's slot (lock held). */
static void publish(tsv_byte_pipe *p)
{
    if (!p->wslot_held)
        return;
    p->wslot_held = 0;
    if (p->wlen == 0 || p->read_closed)
        return;
    p->len[p->wslot] = p->wlen;
    p->count++;
    pthread_cond_signal(&p->can_read);
}

void tsv_byte_pipe_write(tsv_byte_pipe *p, const void *data, size_t len)
{
    const uint8_t *d = data;
    while (len > 0) {
        if (!p->wslot_held) {
            pthread_mutex_lock(&p->mu);
            while (p->count == p->n && !p->read_closed)
                pthread_cond_wait(&p->can_write, &p->mu);
            int closed = p->read_closed;
            if (!closed) {
                p->wslot = (p->head + p->count) % p->n;
                p->wslot_held = 1;
                p->wlen = 0;
            }
            pthread_mutex_unlock(&p->mu);
            if (closed)
                return;
        }
        size_t k = p->size - p->wlen < len ? p->size - p->wlen : len;
        memcpy(p->mem + (size_t)p->wslot * p->size + p->wlen, d, k);
        p->wlen += k;
        d += k;
        len -= k;
        if (p->wlen == p->size) {
            pthread_mutex_lock(&p->mu);
            publish(p);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

void tsv_byte_pipe_close_write(tsv_byte_pipe *p, const tsv_error *failure)
{
    pthread_mutex_lock(&p->mu);
    if (!failure)
        publish(p);
    p->wslot_held = 0;
    p->write_closed = 1;
    if (failure) {
        p->failed = 1;
        p->failure = *failure;
    }
    pthread_cond_broadcast(&p->can_read);
    pthread_mutex_unlock(&p->mu);
}

void tsv_byte_pipe_close_read(tsv_byte_pipe *p)
{
    pthread_mutex_lock(&p->mu);
    p->read_closed = 1;
    pthread_cond_broadcast(&p->can_write);
    pthread_mutex_unlock(&p->mu);
}

static ssize_t pipe_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    tsv_byte_pipe *p = (tsv_byte_pipe *)r;
    if (len == 0)
        return 0;
    pthread_mutex_lock(&p->mu);
    while (p->count == 0 && !p->write_closed)
        pthread_cond_wait(&p->can_read, &p->mu);
    if (p->count == 0) {
        /* closed and drained (a failure is reported once the bytes before
         * it are read, as on a socket) */
        ssize_t rc = 0;
        if (p->failed) {
            if (err)
                *err = p->failure;
            rc = -1;
        }
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    unsigned slot = p->head;
    size_t avail = p->len[slot] - p->roff;
    pthread_mutex_unlock(&p->mu);
    size_t k = avail < len ? avail : len;
    memcpy(buf, p->mem + (size_t)slot * p->size + p->roff, k);
    p->roff += k;
    if (p->roff == p->len[slot]) {
        pthread_mutex_lock(&p->mu);
        p->roff = 0;
        p->head = (p->head + 1) % p->n;
        p->count--;
        pthread_cond_signal(&p->can_write);
        pthread_mutex_unlock(&p->mu);
    }
    return (ssize_t)k;
}

static void pipe_reader_free(tsv_reader *r) { (void)r; }

tsv_reader *tsv_byte_pipe_reader(tsv_byte_pipe *p)
{
    p->reader.read = pipe_read;
    p->reader.free = pipe_reader_free;
    return &p->reader;
}
