/*
 * Unit tests for common/byte_pipe: bytes written on one thread in writes of
 * every size come out on another in order, whole; the end of the stream, a
 * failure given at close, and a reader that stops (the writer never blocks
 * then) behave as the header says.
 */
#include "harness.h"

#include <pthread.h>

#include "byte_pipe.h"

#define TOTAL (5 * 1024 * 1024 + 12345)

static uint8_t pattern(size_t i) { return (uint8_t)(i * 2654435761u >> 13); }

typedef struct writer_arg {
    tsv_byte_pipe *p;
    size_t total;
    int fail_at_end;
} writer_arg;

/* Writes `total` pattern bytes in writes of 1 byte to ~300 KiB. */
static void *writer(void *arg)
{
    writer_arg *w = arg;
    uint8_t *buf = malloc(300 * 1024);
    size_t done = 0, step = 1;
    while (done < w->total) {
        size_t n = step < w->total - done ? step : w->total - done;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(done + i);
        tsv_byte_pipe_write(w->p, buf, n);
        done += n;
        step = step * 7 % (300 * 1024) + 1;
    }
    free(buf);
    tsv_error e;
    tsv_error_set(&e, TSV_EINVALID, "client went away");
    tsv_byte_pipe_close_write(w->p, w->fail_at_end ? &e : NULL);
    return NULL;
}

/* Reads everything in reads of varying sizes; returns the count read and
 * the last read's result. */
static size_t drain(tsv_reader *r, ssize_t *last, tsv_error *err)
{
    uint8_t buf[70000];
    size_t got = 0, want = 1;
    for (;;) {
        ssize_t n = tsv_read(r, buf, want, err);
        *last = n;
        if (n <= 0)
            return got;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pattern(got + (size_t)i))
                fail_msg("byte %zu differs", got + (size_t)i);
        got += (size_t)n;
        want = want * 5 % sizeof buf + 1;
    }
}

static void test_in_order_whole(void **state)
{
    (void)state;
    tsv_byte_pipe *p;
    OK(tsv_byte_pipe_new(&p, 64 * 1024, 3, &E));
    writer_arg w = {p, TOTAL, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, &w), 0);
    ssize_t last;
    tsv_error err;
    assert_int_equal(drain(tsv_byte_pipe_reader(p), &last, &err), TOTAL);
    assert_int_equal(last, 0);
    /* The end stays the end. */
    uint8_t b;
    assert_int_equal(tsv_read(tsv_byte_pipe_reader(p), &b, 1, &err), 0);
    pthread_join(t, NULL);
    tsv_byte_pipe_free(p);
}

/* A failure at close comes after every byte written before it. */
static void test_failure_after_the_bytes(void **state)
{
    (void)state;
    tsv_byte_pipe *p;
    OK(tsv_byte_pipe_new(&p, 4096, 2, &E));
    writer_arg w = {p, 100000, 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, &w), 0);
    ssize_t last;
    tsv_error err;
    size_t got = drain(tsv_byte_pipe_reader(p), &last, &err);
    assert_int_equal(last, -1);
    assert_string_equal(err.message, "client went away");
    /* Whole slots before the failure were delivered; at most the one being
     * filled is dropped. */
    assert_true(got + 4096 >= 100000 - 4096 && got <= 100000);
    pthread_join(t, NULL);
    tsv_byte_pipe_free(p);
}

/* A reader that stops: the writer finishes without blocking. */
static void test_reader_stops(void **state)
{
    (void)state;
    tsv_byte_pipe *p;
    OK(tsv_byte_pipe_new(&p, 1024, 2, &E));
    uint8_t b[10];
    tsv_error err;
    writer_arg w = {p, TOTAL, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, &w), 0);
    assert_int_equal(tsv_read(tsv_byte_pipe_reader(p), b, sizeof b, &err), sizeof b);
    assert_int_equal(b[3], pattern(3));
    tsv_byte_pipe_close_read(p);
    pthread_join(t, NULL); /* would hang if the writer blocked */
    tsv_byte_pipe_free(p);
}

/* Nothing written, closed: an empty stream. */
static void test_empty(void **state)
{
    (void)state;
    tsv_byte_pipe *p;
    OK(tsv_byte_pipe_new(&p, 16, 1, &E));
    tsv_byte_pipe_close_write(p, NULL);
    uint8_t b;
    tsv_error err;
    assert_int_equal(tsv_read(tsv_byte_pipe_reader(p), &b, 1, &err), 0);
    tsv_byte_pipe_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_whole),
        cmocka_unit_test(test_failure_after_the_bytes),
        cmocka_unit_test(test_reader_stops),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
