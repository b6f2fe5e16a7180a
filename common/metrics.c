/* metrics: the process-wide metrics registry and its text rendering (metrics.h). */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_MAX 128

const double tsv_metrics_latency_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,     2.5,  5,     10,   30,  60};
const size_t tsv_metrics_latency_n =
    sizeof tsv_metrics_latency_buckets / sizeof tsv_metrics_latency_buckets[0];

typedef struct child {
    struct child *next;
    char values[TSV_METRIC_MAX_LABELS][LABEL_MAX];
    _Atomic uint64_t value;          /* counter; gauge: bits of a double */
    _Atomic uint64_t count;          /* histogram */
    _Atomic uint64_t sum;            /* histogram: bits of a double */
    _Atomic uint64_t *bucket_counts; /* histogram: n_buckets, not cumulative */
} child;

struct tsv_metric_family {
    struct tsv_metric_family *next;
    tsv_metric_kind kind;
    char *name, *help;
    int n_labels;
    char *labels[TSV_METRIC_MAX_LABELS];
    double *buckets;
    size_t n_buckets;
    pthread_mutex_t mu;
    child *children, *last;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static tsv_metric_family *families, *families_last;

static double bits_to_d(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t d_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void atomic_add_double(_Atomic uint64_t *a, double delta)
{
    uint64_t old = atomic_load(a);
    while (!atomic_compare_exchange_weak(a, &old, d_to_bits(bits_to_d(old) + delta)))
        ;
}

static void family_free(tsv_metric_family *f)
{
    free(f->name);
    free(f->help);
    for (int i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f->buckets);
    free(f);
}

tsv_metric_family *tsv_metrics_family(tsv_metric_kind kind, const char *name, const char *help,
                                      const char *const *label_names, const double *buckets,
                                      size_t n_buckets)
{
    pthread_mutex_lock(&reg_mu);
    tsv_metric_family *f;
    for (f = families; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            break;
    if (f) {
        pthread_mutex_unlock(&reg_mu);
        return f;
    }
    f = calloc(1, sizeof *f);
    int ok = f != NULL;
    if (ok) {
        f->kind = kind;
        f->name = strdup(name);
        f->help = strdup(help ? help : "");
        ok = f->name && f->help;
        pthread_mutex_init(&f->mu, NULL);
    }
    for (int i = 0; ok && label_names && label_names[i] && i < TSV_METRIC_MAX_LABELS; i++) {
        f->labels[i] = strdup(label_names[i]);
        ok = f->labels[i] != NULL;
        f->n_labels = i + 1;
    }
    if (ok && kind == TSV_METRIC_HISTOGRAM && n_buckets) {
        f->buckets = malloc(n_buckets * sizeof *f->buckets);
        ok = f->buckets != NULL;
        if (ok) {
            memcpy(f->buckets, buckets, n_buckets * sizeof *f->buckets);
            f->n_buckets = n_buckets;
        }
    }
    if (!ok) {
        if (f)
            family_free(f);
        pthread_mutex_unlock(&reg_mu);
        return NULL;
    }
    if (families_last)
        families_last->next = f;
    else
        families = f;
    families_last = f;
    pthread_mutex_unlock(&reg_mu);
    return f;
}

static child *find_child(tsv_metric_family *f, const char *const *lv)
{
    if (!f)
        return NULL;
    char key[TSV_METRIC_MAX_LABELS][LABEL_MAX];
    for (int i = 0; i < f->n_labels; i++)
        snprintf(key[i], LABEL_MAX, "%s", lv && lv[i] ? lv[i] : "");
    pthread_mutex_lock(&f->mu);
    child *c;
    for (c = f->children; c; c = c->next) {
        int i;
        for (i = 0; i < f->n_labels; i++)
            if (strcmp(c->values[i], key[i]) != 0)
                break;
        if (i == f->n_labels)
            break;
    }
    if (!c) {
        c = calloc(1, sizeof *c);
        if (c && f->n_buckets) {
            c->bucket_counts = calloc(f->n_buckets, sizeof *c->bucket_counts);
            if (!c->bucket_counts) {
                free(c);
                c = NULL;
            }
        }
        if (c) {
            memcpy(c->values, key, sizeof c->values[0] * (size_t)f->n_labels);
            if (f->last)
                f->last->next = c;
            else
                f->children = c;
            f->last = c;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return c;
}

void tsv_metric_add(tsv_metric_family *f, const char *const *lv, uint64_t n)
{
    child *c = find_child(f, lv);
    if (!c)
        return;
    if (f->kind == TSV_METRIC_GAUGE)
        atomic_add_double(&c->value, (double)n);
    else
        atomic_fetch_add(&c->value, n);
}

void tsv_metric_set(tsv_metric_family *f, const char *const *lv, double v)
{
    child *c = find_child(f, lv);
    if (c)
        atomic_store(&c->value, d_to_bits(v));
}

void tsv_metric_gauge_add(tsv_metric_family *f, const char *const *lv, double delta)
{
    child *c = find_child(f, lv);
    if (c)
        atomic_add_double(&c->value, delta);
}

void tsv_metric_observe(tsv_metric_family *f, const char *const *lv, double v)
{
    child *c = find_child(f, lv);
    if (!c)
        return;
    for (size_t i = 0; i < f->n_buckets; i++) {
        if (v <= f->buckets[i]) {
            atomic_fetch_add(&c->bucket_counts[i], 1);
            break;
        }
    }
    atomic_add_double(&c->sum, v);
    atomic_fetch_add(&c->count, 1);
}

void tsv_metrics_count(const char *name, const char *help, const char *l1, const char *v1,
                       const char *l2, const char *v2, uint64_t n)
{
    const char *names[3] = {l1, l1 ? l2 : NULL, NULL};
    const char *values[2] = {v1, v2};
    tsv_metric_family *f = tsv_metrics_family(TSV_METRIC_COUNTER, name, help, names, NULL, 0);
    tsv_metric_add(f, values, n);
}

/* --- rendering ------------------------------------------------------------ */

typedef struct out {
    tsv_buf *b;
    int failed;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (!o->failed && tsv_buf_append(o->b, s, n, NULL) != 0)
        o->failed = 1;
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static void printf_(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(out *o, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Escapes for HELP text (\\ and \n) or label values (also \"). */
static void escaped(out *o, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            puts_(o, "\\\\");
        else if (*s == '\n')
            puts_(o, "\\n");
        else if (quote && *s == '"')
            puts_(o, "\\\"");
        else
            put(o, s, 1);
    }
}

static void number(out *o, double v)
{
    if (isnan(v))
        puts_(o, "NaN");
    else if (isinf(v))
        puts_(o, v > 0 ? "+Inf" : "-Inf");
    else if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(int64_t)v)
        printf_(o, "%.0f", v);
    else {
        /* The shortest of 15..17 digits that reads back as the same double. */
        char tmp[64];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v);
            if (strtod(tmp, NULL) == v)
                break;
        }
        puts_(o, tmp);
    }
}

/* name{labels[,le="x"]} */
static void series(out *o, const tsv_metric_family *f, const char *suffix, const child *c,
                   const char *le)
{
    puts_(o, f->name);
    puts_(o, suffix);
    if (f->n_labels == 0 && !le)
        return;
    puts_(o, "{");
    for (int i = 0; i < f->n_labels; i++) {
        if (i)
            puts_(o, ",");
        puts_(o, f->labels[i]);
        puts_(o, "=\"");
        escaped(o, c->values[i], 1);
        puts_(o, "\"");
    }
    if (le) {
        if (f->n_labels)
            puts_(o, ",");
        puts_(o, "le=\"");
        puts_(o, le);
        puts_(o, "\"");
    }
    puts_(o, "}");
}

static void render_family(out *o, tsv_metric_family *f)
{
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    puts_(o, "# HELP ");
    puts_(o, f->name);
    puts_(o, " ");
    escaped(o, f->help, 0);
    puts_(o, "\n# TYPE ");
    puts_(o, f->name);
    puts_(o, " ");
    puts_(o, kinds[f->kind]);
    puts_(o, "\n");
    /* Updates hold the mutex only to find their child; values are atomics. */
    pthread_mutex_lock(&f->mu);
    for (child *c = f->children; c; c = c->next) {
        if (f->kind == TSV_METRIC_COUNTER) {
            series(o, f, "", c, NULL);
            printf_(o, " %llu\n", (unsigned long long)atomic_load(&c->value));
        } else if (f->kind == TSV_METRIC_GAUGE) {
            series(o, f, "", c, NULL);
            puts_(o, " ");
            number(o, bits_to_d(atomic_load(&c->value)));
            puts_(o, "\n");
        } else {
            /* Read the count first: buckets and sum may run ahead of it
             * under concurrent updates, never behind. Buckets are clamped
             * to the count so the exposition stays monotonic. */
            uint64_t count = atomic_load(&c->count), cum = 0;
            for (size_t i = 0; i < f->n_buckets; i++) {
                cum += atomic_load(&c->bucket_counts[i]);
                if (cum > count)
                    cum = count;
                char le[48];
                snprintf(le, sizeof le, "%g", f->buckets[i]);
                series(o, f, "_bucket", c, le);
                printf_(o, " %llu\n", (unsigned long long)cum);
            }
            series(o, f, "_bucket", c, "+Inf");
            printf_(o, " %llu\n", (unsigned long long)count);
            series(o, f, "_sum", c, NULL);
            puts_(o, " ");
            number(o, bits_to_d(atomic_load(&c->sum)));
            puts_(o, "\n");
            series(o, f, "_count", c, NULL);
            printf_(o, " %llu\n", (unsigned long long)count);
        }
    }
    pthread_mutex_unlock(&f->mu);
}

int tsv_metrics_render(tsv_buf *b, tsv_error *err)
{
    out o = {b, 0};
    pthread_mutex_lock(&reg_mu);
    for (tsv_metric_family *f = families; f; f = f->next)
        render_family(&o, f);
    pthread_mutex_unlock(&reg_mu);
    if (o.failed)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory rendering metrics");
    return 0;
}
