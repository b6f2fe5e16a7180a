/*
 * Unit tests for server/config: defaults, flags (--name=value and
 * --name value), TSVAULT_* environment variables, their precedence (flag
 * beats environment beats default), --help/--version, the size and duration
 * parsers, and the errors a bad value gets.
 */
#include "harness.h"

#include "config.h"

extern char **environ;

/* No TSVAULT_* variable of the caller's environment may leak into a test. */
static int clean_env(void **state)
{
    (void)state;
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e; e++) {
            if (strncmp(*e, "TSVAULT_", 8) == 0) {
                size_t n = strcspn(*e, "=");
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                }
                break;
            }
        }
        if (!name[0])
            return 0;
        unsetenv(name);
    }
}

/* Parses argv (NULL-terminated) with the usage/version text going to a
 * scratch stream; returns tsv_config_parse's result. */
static int parse(tsv_config *cfg, char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "tsvault";
    for (; args && args[argc - 1]; argc++)
        argv[argc] = args[argc - 1];
    argv[argc] = NULL;
    FILE *out = tmpfile();
    assert_non_null(out);
    tsv_error_clear(&E);
    int rc = tsv_config_parse(cfg, argc, argv, out, &E);
    fclose(out);
    return rc;
}

/* Asserts that args fail with TSV_EINVALID and a message holding want. */
static void parse_fails(char *const *args, const char *want)
{
    tsv_config cfg;
    int rc = parse(&cfg, args);
    if (rc != -1 || E.code != TSV_EINVALID || !strstr(E.message, want))
        fail_msg("rc %d code %d message \"%s\" (want -1, EINVALID, \"%s\")", rc, (int)E.code,
                 E.message, want);
}

/* Arguments (at most three, NULL-terminated) and the message they fail
 * with. */
typedef struct bad_args {
    const char *args[4];
    const char *msg;
} bad_args;

/* parse_fails on every row of bad. */
static void parse_fails_each(const bad_args *bad, size_t n)
{
    for (size_t i = 0; i < n; i++)
        parse_fails((char *const *)bad[i].args, bad[i].msg);
}

/* Fails unless tsv_config_usage names every one of words. */
static void usage_names(const char *const *words, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    tsv_config_usage(out);
    assert_int_equal(fclose(out), 0);
    for (size_t i = 0; i < n; i++)
        if (!strstr(text, words[i]))
            fail_msg("usage lacks %s", words[i]);
    free(text);
}

/* The S3 tier's settings (jobs/s3_tier.h) a parse should give; a NULL
 * string wants NULL. */
typedef struct s3_want {
    const char *object_store, *recover_from, *endpoint, *region, *credentials_file, *ca_file;
    int path_style, insecure, concurrency;
    int64_t checkpoint_interval_s, log_interval_s, lease_ttl_s;
    int keep_checkpoints;
} s3_want;

static void want_str(const char *what, const char *name, const char *got, const char *want)
{
    if (want ? !got || strcmp(got, want) != 0 : got != NULL)
        fail_msg("%s: %s is \"%s\", want \"%s\"", what, name, got ? got : "(null)",
                 want ? want : "(null)");
}

static void want_int(const char *what, const char *name, int64_t got, int64_t want)
{
    if (got != want)
        fail_msg("%s: %s is %lld, want %lld", what, name, (long long)got, (long long)want);
}

/* Fails unless every S3 setting of cfg is the one w holds. */
static void s3_settings(const char *what, const tsv_config *cfg, const s3_want *w)
{
    want_str(what, "object_store", cfg->object_store, w->object_store);
    want_str(what, "recover_from", cfg->recover_from, w->recover_from);
    want_str(what, "s3_endpoint", cfg->s3_endpoint, w->endpoint);
    want_str(what, "s3_region", cfg->s3_region, w->region);
    want_str(what, "s3_credentials_file", cfg->s3_credentials_file, w->credentials_file);
    want_str(what, "s3_ca_file", cfg->s3_ca_file, w->ca_file);
    want_int(what, "s3_path_style", cfg->s3_path_style, w->path_style);
    want_int(what, "s3_insecure", cfg->s3_insecure, w->insecure);
    want_int(what, "s3_concurrency", cfg->s3_concurrency, w->concurrency);
    want_int(what, "s3_checkpoint_interval_s", cfg->s3_checkpoint_interval_s,
             w->checkpoint_interval_s);
    want_int(what, "s3_log_interval_s", cfg->s3_log_interval_s, w->log_interval_s);
    want_int(what, "s3_lease_ttl_s", cfg->s3_lease_ttl_s, w->lease_ttl_s);
    want_int(what, "s3_keep_checkpoints", cfg->s3_keep_checkpoints, w->keep_checkpoints);
}

static void test_defaults(void **state)
{
    (void)state;
    tsv_config cfg;
    assert_int_equal(parse(&cfg, NULL), 0);
    assert_string_equal(cfg.http_bind_address, "8086");
    assert_string_equal(cfg.data_dir, "./tsvault-data");
    assert_int_equal(cfg.log_level, TSV_LOG_INFO);
    assert_null(cfg.operator_token);
    assert_int_equal(cfg.worker_threads, 512);
    assert_int_equal(cfg.max_body_size, 0);
    assert_int_equal(cfg.shutdown_timeout_s, 30);
    assert_int_equal(cfg.trash_retention_s, 168 * 3600);
    assert_int_equal(cfg.max_uploads, 8);
    assert_int_equal(cfg.files_max_size, 64ULL << 30);
    assert_int_equal(cfg.job_workers, 2);
    assert_string_equal(cfg.rpc_bind_address, "127.0.0.1:8088");
    assert_string_equal(cfg.rpc_org, "");
    /* tsv_config_defaults alone gives the same as parsing nothing. */
    tsv_config d;
    tsv_config_defaults(&d);
    assert_memory_equal(&d, &cfg, sizeof d);
}

static void test_flags(void **state)
{
    (void)state;
    tsv_config cfg;
    char *args[] = {"serve",
                    "--http-bind-address=127.0.0.1:9999",
                    "--data-dir",
                    "/srv/tsv",
                    "--log-level=debug",
                    "--operator-token",
                    "tok",
                    "--max-body-size=10MiB",
                    "--trash-retention",
                    "1h30m",
                    "--rpc-bind-address=",
                    NULL};
    assert_int_equal(parse(&cfg, args), 0);
    assert_string_equal(cfg.http_bind_address, "127.0.0.1:9999");
    assert_string_equal(cfg.data_dir, "/srv/tsv");
    assert_int_equal(cfg.log_level, TSV_LOG_DEBUG);
    assert_string_equal(cfg.operator_token, "tok");
    assert_int_equal(cfg.max_body_size, 10u << 20);
    assert_int_equal(cfg.trash_retention_s, 5400);
    assert_string_equal(cfg.rpc_bind_address, ""); /* empty = off */

    /* influxd's ":port" means every interface: civetweb's "port". */
    char *colon[] = {"--http-bind-address", ":8123", NULL};
    assert_int_equal(parse(&cfg, colon), 0);
    assert_string_equal(cfg.http_bind_address, "8123");
    /* An empty token is no token. */
    char *notok[] = {"--operator-token=", NULL};
    assert_int_equal(parse(&cfg, notok), 0);
    assert_null(cfg.operator_token);
    /* Boolean flags: alone (as influxd), or with a value after "=" or a space. */
    char *alone[] = {"--metrics-auth", "--tls-strict-ciphers", NULL};
    assert_int_equal(parse(&cfg, alone), 0);
    assert_int_equal(cfg.metrics_auth, 1);
    assert_int_equal(cfg.tls_strict_ciphers, 1);
    char *spaced[] = {"--metrics-auth", "true", "--tls-strict-ciphers", "false", NULL};
    assert_int_equal(parse(&cfg, spaced), 0);
    assert_int_equal(cfg.metrics_auth, 1);
    assert_int_equal(cfg.tls_strict_ciphers, 0);
    char *eq[] = {"--metrics-auth=0", NULL};
    assert_int_equal(parse(&cfg, eq), 0);
    assert_int_equal(cfg.metrics_auth, 0);
}

static void test_env_and_precedence(void **state)
{
    (void)state;
    tsv_config cfg;
    setenv("TSVAULT_WORKER_THREADS", "16", 1);
    setenv("TSVAULT_LOG_LEVEL", "warn", 1);
    setenv("TSVAULT_JOB_RETENTION", "2d", 1);
    assert_int_equal(parse(&cfg, NULL), 0);
    assert_int_equal(cfg.worker_threads, 16);
    assert_int_equal(cfg.log_level, TSV_LOG_WARN);
    assert_int_equal(cfg.job_retention_s, 2 * 86400);
    /* A flag beats the environment; the others keep the environment's. */
    char *args[] = {"--worker-threads=32", NULL};
    assert_int_equal(parse(&cfg, args), 0);
    assert_int_equal(cfg.worker_threads, 32);
    assert_int_equal(cfg.log_level, TSV_LOG_WARN);
    /* A malformed environment variable is an error naming it... */
    setenv("TSVAULT_MAX_BODY_SIZE", "lots", 1);
    parse_fails(NULL, "TSVAULT_MAX_BODY_SIZE: invalid size \"lots\"");
    /* ...even when a flag would override it: the environment is read first. */
    char *over[] = {"--max-body-size=1k", NULL};
    parse_fails(over, "TSVAULT_MAX_BODY_SIZE");
    /* --help still works, and says it printed (1). */
    char *help[] = {"--help", NULL};
    assert_int_equal(parse(&cfg, help), 1);
    clean_env(NULL);
}

static void test_help_and_version(void **state)
{
    (void)state;
    tsv_config cfg;
    const char *words[] = {"--help", "-h", "help", "--version", "version"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        char *args[] = {(char *)words[i], NULL};
        assert_int_equal(parse(&cfg, args), 1);
    }
    /* The usage names every flag with its variable. */
    const char *names[] = {"--data-dir", "TSVAULT_DATA_DIR", "--rpc-timeout"};
    usage_names(names, sizeof names / sizeof names[0]);
}

static void test_errors(void **state)
{
    (void)state;
    static const bad_args bad[] = {
        {{"--nope=1"}, "unknown flag \"--nope\""},
        {{"--data-dir"}, "flag --data-dir needs a value"},
        {{"extra"}, "unexpected argument \"extra\""},
        {{"--log-level=info", "serve"}, "unexpected argument \"serve\""},
        {{"--log-level=loud"}, "--log-level: unknown log level \"loud\""},
        {{"--worker-threads=1"}, "worker threads must be 2..4096"},
        {{"--worker-threads=8x"}, "worker threads must be 2..4096"},
        {{"--max-header-size=512"}, "header size must be 1KiB..1MiB"},
        {{"--http-idle-timeout=0s"}, "duration must be 1s..24h"},
        {{"--shutdown-timeout=2h"}, "--shutdown-timeout: invalid duration \"2h\""},
        {{"--max-concurrent-uploads="}, "concurrent uploads must be 1..4096"},
        {{"--job-workers=65"}, "job workers must be 1..64"},
        {{"--purge-interval=0s"}, "at least 1s"},
        {{"--data-dir="}, "data directory must not be empty"},
        {{"--http-bind-address=:"}, "invalid bind address"},
        {{"--rpc-timeout=0s"}, "timeout must be 1s..1h"},
        /* A flag's name must match whole. */
        {{"--data=x"}, "unknown flag \"--data\""},
    };
    parse_fails_each(bad, sizeof bad / sizeof bad[0]);
}

/* The S3 tier's flags (jobs/s3_tier.h): off by default, every value
 * checked, the same through TSVAULT_* variables, and --recover-from
 * implying --object-store. */
static void test_s3_flags(void **state)
{
    (void)state;
    tsv_config cfg;
    assert_int_equal(parse(&cfg, NULL), 0);
    s3_settings("defaults", &cfg,
                &(s3_want){.concurrency = 4,
                           .checkpoint_interval_s = 60,
                           .log_interval_s = 5,
                           .lease_ttl_s = 60,
                           .keep_checkpoints = 3});

    char *args[] = {"--object-store=s3://bkt/tsv/a",
                    "--s3-endpoint",
                    "https://s3.example.net:9000",
                    "--s3-region=eu-west-3",
                    "--s3-path-style",
                    "--s3-credentials-file=/etc/tsv/aws",
                    "--s3-ca-file",
                    "/etc/tsv/ca.pem",
                    "--s3-insecure-skip-verify",
                    "false",
                    "--s3-concurrency=64",
                    "--s3-checkpoint-interval=5m",
                    "--s3-log-interval=2m",
                    "--s3-lease-ttl",
                    "24h",
                    "--s3-keep-checkpoints=1000",
                    NULL};
    assert_int_equal(parse(&cfg, args), 0);
    s3_settings("flags", &cfg,
                &(s3_want){.object_store = "s3://bkt/tsv/a",
                           .endpoint = "https://s3.example.net:9000",
                           .region = "eu-west-3",
                           .credentials_file = "/etc/tsv/aws",
                           .ca_file = "/etc/tsv/ca.pem",
                           .path_style = 1,
                           .concurrency = 64,
                           .checkpoint_interval_s = 300,
                           .log_interval_s = 120,
                           .lease_ttl_s = 86400,
                           .keep_checkpoints = 1000});

    /* Lower bounds; an empty value is "off" / "default". */
    char *low[] = {"--s3-concurrency=1",
                   "--s3-keep-checkpoints=1",
                   "--s3-lease-ttl=1s",
                   "--s3-checkpoint-interval=1s",
                   "--s3-log-interval=0s",
                   "--s3-insecure-skip-verify=1",
                   "--s3-endpoint=http://127.0.0.1:8080",
                   "--object-store=",
                   "--s3-region=",
                   NULL};
    assert_int_equal(parse(&cfg, low), 0);
    s3_settings("lower bounds", &cfg,
                &(s3_want){.endpoint = "http://127.0.0.1:8080",
                           .insecure = 1,
                           .concurrency = 1,
                           .checkpoint_interval_s = 1,
                           .log_interval_s = 0, /* no log: checkpoints only */
                           .lease_ttl_s = 1,
                           .keep_checkpoints = 1});

    /* --recover-from alone also copies there afterwards. */
    char *rec[] = {"--recover-from", "s3://bkt/p", NULL};
    assert_int_equal(parse(&cfg, rec), 0);
    assert_string_equal(cfg.recover_from, "s3://bkt/p");
    assert_string_equal(cfg.object_store, "s3://bkt/p");
    char *same[] = {"--recover-from=s3://bkt/p", "--object-store=s3://bkt/p", NULL};
    assert_int_equal(parse(&cfg, same), 0);
    assert_string_equal(cfg.object_store, "s3://bkt/p");

    /* The same through the environment; a flag still wins. */
    setenv("TSVAULT_OBJECT_STORE", "s3://env-bucket", 1);
    setenv("TSVAULT_S3_ENDPOINT", "http://minio:9000", 1);
    setenv("TSVAULT_S3_REGION", "us-west-2", 1);
    setenv("TSVAULT_S3_PATH_STYLE", "true", 1);
    setenv("TSVAULT_S3_CREDENTIALS_FILE", "/run/creds", 1);
    setenv("TSVAULT_S3_CA_FILE", "/run/ca.pem", 1);
    setenv("TSVAULT_S3_INSECURE_SKIP_VERIFY", "TRUE", 1);
    setenv("TSVAULT_S3_CONCURRENCY", "8", 1);
    setenv("TSVAULT_S3_CHECKPOINT_INTERVAL", "2m", 1);
    setenv("TSVAULT_S3_LEASE_TTL", "90s", 1);
    setenv("TSVAULT_S3_KEEP_CHECKPOINTS", "5", 1);
    assert_int_equal(parse(&cfg, NULL), 0);
    s3_settings("environment", &cfg,
                &(s3_want){.object_store = "s3://env-bucket",
                           .endpoint = "http://minio:9000",
                           .region = "us-west-2",
                           .credentials_file = "/run/creds",
                           .ca_file = "/run/ca.pem",
                           .path_style = 1,
                           .insecure = 1,
                           .concurrency = 8,
                           .checkpoint_interval_s = 120,
                           .log_interval_s = 5,
                           .lease_ttl_s = 90,
                           .keep_checkpoints = 5});
    char *over[] = {"--s3-concurrency=2", "--object-store=s3://flag-bucket", NULL};
    assert_int_equal(parse(&cfg, over), 0);
    assert_int_equal(cfg.s3_concurrency, 2);
    assert_string_equal(cfg.object_store, "s3://flag-bucket");
    /* TSVAULT_RECOVER_FROM against the environment's object store. */
    setenv("TSVAULT_RECOVER_FROM", "s3://env-bucket", 1);
    assert_int_equal(parse(&cfg, NULL), 0);
    assert_string_equal(cfg.recover_from, "s3://env-bucket");
    assert_string_equal(cfg.object_store, "s3://env-bucket");
    setenv("TSVAULT_RECOVER_FROM", "s3://other", 1);
    parse_fails(NULL, "--recover-from s3://other and --object-store s3://env-bucket differ");
    setenv("TSVAULT_S3_CONCURRENCY", "0", 1);
    parse_fails(NULL, "TSVAULT_S3_CONCURRENCY: must be 1..64, got \"0\"");
    setenv("TSVAULT_OBJECT_STORE", "gs://x", 1);
    parse_fails(NULL, "TSVAULT_OBJECT_STORE: expected s3://bucket[/prefix], got \"gs://x\"");
    clean_env(NULL);

    /* Bad values. */
    static const bad_args bad[] = {
        {{"--object-store=bkt/prefix"},
         "--object-store: expected s3://bucket[/prefix], got \"bkt/prefix\""},
        {{"--object-store=S3://bkt"}, "--object-store: expected s3://bucket[/prefix]"},
        {{"--recover-from=https://bkt"}, "--recover-from: expected s3://bucket[/prefix]"},
        {{"--s3-endpoint=s3.amazonaws.com"},
         "--s3-endpoint: expected an http(s):// URL, got \"s3.amazonaws.com\""},
        {{"--s3-endpoint=ftp://host"}, "--s3-endpoint: expected an http(s):// URL"},
        {{"--s3-path-style=yes"}, "--s3-path-style: expected true or false, got \"yes\""},
        {{"--s3-insecure-skip-verify=2"}, "--s3-insecure-skip-verify: expected true or false"},
        {{"--s3-concurrency=0"}, "--s3-concurrency: must be 1..64, got \"0\""},
        {{"--s3-concurrency=65"}, "--s3-concurrency: must be 1..64, got \"65\""},
        {{"--s3-concurrency=4x"}, "--s3-concurrency: must be 1..64"},
        {{"--s3-concurrency="}, "--s3-concurrency: must be 1..64, got \"\""},
        {{"--s3-keep-checkpoints=0"}, "--s3-keep-checkpoints: must be 1..1000, got \"0\""},
        {{"--s3-keep-checkpoints=1001"}, "--s3-keep-checkpoints: must be 1..1000"},
        {{"--s3-keep-checkpoints=-3"}, "--s3-keep-checkpoints: must be 1..1000"},
        {{"--s3-checkpoint-interval=0s"},
         "--s3-checkpoint-interval: duration must be 1s..24h, got \"0s\""},
        {{"--s3-checkpoint-interval=60"}, "--s3-checkpoint-interval: duration must be 1s..24h"},
        {{"--s3-lease-ttl=25h"}, "--s3-lease-ttl: duration must be 1s..24h, got \"25h\""},
        {{"--s3-log-interval=25h"}, "--s3-log-interval: duration must be 0s..24h, got \"25h\""},
        {{"--s3-log-interval=5"}, "--s3-log-interval: duration must be 0s..24h"},
        {{"--s3-lease-ttl=soon"}, "--s3-lease-ttl: duration must be 1s..24h"},
        {{"--object-store"}, "flag --object-store needs a value"},
        {{"--object-store=s3://one/p", "--recover-from=s3://two/p"},
         "--recover-from s3://two/p and --object-store s3://one/p differ: a "
         "recovered server keeps copying where it recovered from"},
    };
    parse_fails_each(bad, sizeof bad / sizeof bad[0]);

    /* The usage lists the new flags with their variables. */
    const char *words[] = {
        "--object-store",       "TSVAULT_OBJECT_STORE",      "--recover-from",
        "TSVAULT_RECOVER_FROM", "--s3-insecure-skip-verify", "TSVAULT_S3_KEEP_CHECKPOINTS"};
    usage_names(words, sizeof words / sizeof words[0]);
}

static void test_parse_size(void **state)
{
    (void)state;
    const struct {
        const char *in;
        uint64_t want;
    } good[] = {
        {"0", 0},           {"1048576", 1048576}, {"512k", 512 << 10}, {"10MiB", 10 << 20},
        {"1g", 1ULL << 30}, {"2GB", 2ULL << 30},  {"1T", 1ULL << 40},  {"7b", 7},
        {"3Kb", 3 << 10},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 1234;
        if (tsv_parse_size(good[i].in, &v) != 0 || v != good[i].want)
            fail_msg("%s: got %llu", good[i].in, (unsigned long long)v);
    }
    const char *bad[] = {"",
                         "-1",
                         "k",
                         "1x",
                         "1kx",
                         "1bb",
                         "1 k",
                         "1.5g",
                         "18446744073709551615k",
                         "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v;
        if (tsv_parse_size(bad[i], &v) == 0)
            fail_msg("\"%s\" accepted as %llu", bad[i], (unsigned long long)v);
    }
    uint64_t v;
    assert_int_equal(tsv_parse_size(NULL, &v), -1);
}

static void test_parse_duration(void **state)
{
    (void)state;
    const struct {
        const char *in;
        int64_t want;
    } good[] = {
        {"10s", 10}, {"30m", 1800}, {"168h", 604800}, {"1h30m", 5400}, {"2d", 172800}, {"0s", 0},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -5;
        if (tsv_parse_duration_s(good[i].in, &v) != 0 || v != good[i].want)
            fail_msg("%s: got %lld", good[i].in, (long long)v);
    }
    const char *bad[] = {"", "10", "1h30", "1x", "-1s", "h", "1.5h", "9223372036854775807h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        if (tsv_parse_duration_s(bad[i], &v) == 0)
            fail_msg("\"%s\" accepted as %lld", bad[i], (long long)v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clean_env),
        cmocka_unit_test_setup(test_flags, clean_env),
        cmocka_unit_test_setup(test_env_and_precedence, clean_env),
        cmocka_unit_test_setup(test_help_and_version, clean_env),
        cmocka_unit_test_setup(test_errors, clean_env),
        cmocka_unit_test_setup(test_s3_flags, clean_env),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
