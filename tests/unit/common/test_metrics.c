/*
 * Unit tests for common/metrics: the text exposition of counters, gauges and
 * histograms (labels, escaping, cumulative buckets, +Inf, _sum/_count),
 * family lookup by name, and counts from concurrent threads adding up.
 * (The exposition is also checked by promtool in
 * tests/integration/test_metrics.sh.)
 */
#include "harness.h"

#include <pthread.h>

#include "metrics.h"

static char *render(void)
{
    tsv_buf b = {0};
    OK(tsv_metrics_render(&b, &E));
    /* b.data is not NUL-terminated: copy by length (strndup would scan past it). */
    char *s = malloc(b.len + 1);
    assert_non_null(s);
    if (b.len)
        memcpy(s, b.data, b.len);
    s[b.len] = '\0';
    tsv_buf_free(&b);
    return s;
}

static void assert_has(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("missing \"%s\" in:\n%s", line, text);
}

static void test_counter_labels_escaping(void **state)
{
    (void)state;
    tsv_metrics_count("t_requests_total", "Requests \\ by \"x\"\nnext.", "route", "/a/{id}",
                      "status", "200", 2);
    tsv_metrics_count("t_requests_total", "ignored", "route", "/a/{id}", "status", "200", 3);
    tsv_metrics_count("t_requests_total", "ignored", "route", "q\"\\\n", "status", "500", 1);
    char *s = render();
    assert_has(s, "# HELP t_requests_total Requests \\\\ by \"x\"\\nnext.\n");
    assert_has(s, "# TYPE t_requests_total counter\n");
    assert_has(s, "t_requests_total{route=\"/a/{id}\",status=\"200\"} 5\n");
    assert_has(s, "t_requests_total{route=\"q\\\"\\\\\\n\",status=\"500\"} 1\n");
    free(s);
}

static void test_gauge_and_unlabelled(void **state)
{
    (void)state;
    tsv_metric_family *g = tsv_metrics_family(TSV_METRIC_GAUGE, "t_bytes", "Bytes.", NULL, NULL, 0);
    assert_ptr_equal(g, tsv_metrics_family(TSV_METRIC_COUNTER, "t_bytes", "x", NULL, NULL, 0));
    tsv_metric_set(g, NULL, 12345678901.0);
    tsv_metric_gauge_add(g, NULL, -1);
    const char *ln[] = {"state", NULL};
    const char *lv[] = {"half"};
    tsv_metric_family *h = tsv_metrics_family(TSV_METRIC_GAUGE, "t_ratio", "Ratio.", ln, NULL, 0);
    tsv_metric_set(h, lv, 0.5);
    char *s = render();
    assert_has(s, "# TYPE t_bytes gauge\nt_bytes 12345678900\n");
    assert_has(s, "t_ratio{state=\"half\"} 0.5\n");
    free(s);
}

static void test_histogram(void **state)
{
    (void)state;
    const double b[] = {0.1, 1, 10};
    const char *ln[] = {"route", NULL};
    const char *lv[] = {"/x"};
    tsv_metric_family *f =
        tsv_metrics_family(TSV_METRIC_HISTOGRAM, "t_seconds", "Latency.", ln, b, 3);
    tsv_metric_observe(f, lv, 0.05);
    tsv_metric_observe(f, lv, 0.1); /* le is inclusive */
    tsv_metric_observe(f, lv, 5);
    tsv_metric_observe(f, lv, 100); /* only +Inf */
    char *s = render();
    assert_has(s, "# TYPE t_seconds histogram\n");
    assert_has(s, "t_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n");
    assert_has(s, "t_seconds_bucket{route=\"/x\",le=\"1\"} 2\n");
    assert_has(s, "t_seconds_bucket{route=\"/x\",le=\"10\"} 3\n");
    assert_has(s, "t_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n");
    assert_has(s, "t_seconds_sum{route=\"/x\"} 105.15\n");
    assert_has(s, "t_seconds_count{route=\"/x\"} 4\n");
    free(s);
}

#define THREADS 8
#define PER_THREAD 20000

static void *adder(void *arg)
{
    (void)arg;
    const double b[] = {1};
    tsv_metric_family *h =
        tsv_metrics_family(TSV_METRIC_HISTOGRAM, "t_conc_seconds", "C.", NULL, b, 1);
    for (int i = 0; i < PER_THREAD; i++) {
        tsv_metrics_count("t_conc_total", "Concurrent.", "k", i % 2 ? "odd" : "even", NULL, NULL,
                          1);
        tsv_metric_observe(h, NULL, 0.5);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, adder, NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        char *s = render(); /* rendering while others add must be safe */
        free(s);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char *s = render();
    char want[128];
    snprintf(want, sizeof want, "t_conc_total{k=\"odd\"} %d\n", THREADS * PER_THREAD / 2);
    assert_has(s, want);
    snprintf(want, sizeof want, "t_conc_total{k=\"even\"} %d\n", THREADS * PER_THREAD / 2);
    assert_has(s, want);
    snprintf(want, sizeof want, "t_conc_seconds_count %d\n", THREADS * PER_THREAD);
    assert_has(s, want);
    snprintf(want, sizeof want, "t_conc_seconds_sum %d\n", THREADS * PER_THREAD / 2);
    assert_has(s, want);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_labels_escaping),
        cmocka_unit_test(test_gauge_and_unlabelled),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
