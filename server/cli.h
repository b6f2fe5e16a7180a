/*
 * cli: the offline and client subcommands of the tsvault binary
 * (docs/operations.md "Client"):
 *   tsvault export --data-dir D | [--host URL] [--token T] ...   (cli_export.c)
 *   tsvault stats  --data-dir D | [--host URL] [--token T] ...   (cli_export.c)
 *   tsvault verify --data-dir D | [--host URL] [--token T] ...   (cli_verify.c)
 *   tsvault upload FILE | files ... | jobs ... | pitr ...        (cli_client.c)
 * --data-dir works on a stopped server's directory (read-only; refused while
 * a server holds it); otherwise a running server is asked over HTTP
 * (remote/): --host, else $INFLUX_HOST, else http://localhost:8086; --token,
 * else $INFLUX_TOKEN (the influx CLI's variables).
 * Each returns the process exit code (TSV_EXIT_*).
 */
#ifndef TSV_CLI_H
#define TSV_CLI_H

#include <stdio.h>

#include "influx_client.h"
#include "tsv_error.h"

enum {
    TSV_EXIT_OK = 0,
    TSV_EXIT_FAILED = 1,      /* server error, job failed/canceled, problems found, I/O */
    TSV_EXIT_USAGE = 2,       /* bad command line */
    TSV_EXIT_UNREACHABLE = 3, /* cannot connect (or 503) */
    TSV_EXIT_AUTH = 4,        /* 401 / 403 */
    TSV_EXIT_NOT_FOUND = 5,   /* 404 */
    TSV_EXIT_REJECTED = 6,    /* 400 / 409 / 413: the request was refused */
};

int tsv_cli_export(int argc, char **argv);
int tsv_cli_stats(int argc, char **argv);
int tsv_cli_verify(int argc, char **argv);
/* argv[0] is the command: "upload", "files", "jobs" or "pitr". */
int tsv_cli_client(int argc, char **argv);
void tsv_cli_client_help(FILE *f);

/* The exit code for a failed remote call's error. */
int tsv_cli_exit_code(const tsv_error *err);
/* $INFLUX_HOST or http://localhost:8086. */
const char *tsv_cli_default_host(void);
void tsv_cli_exit_codes_help(FILE *f);

/* cli_target.c: where export, stats and verify read, written once for the
 * three: a stopped server's --data-dir, or a running server's --host,
 * --token, --ca-file and --skip-verify. */
typedef struct tsv_cli_target {
    const char *data_dir, *host, *token;
    const char *ca_file; /* --ca-file, else $SSL_CERT_FILE (as the influx CLI) */
    int insecure;        /* --skip-verify */
} tsv_cli_target;

/* The getopt_long rows of those options, in two groups (the commands list
 * them first and after --help); tsv_cli_target_option takes their values
 * ('d', 'H', 't', 'k', 'C'), which a command's other options avoid. */
// clang-format off
#define TSV_CLI_TARGET_OPTIONS \
    {"data-dir", required_argument, 0, 'd'}, \
    {"host", required_argument, 0, 'H'}, \
    {"token", required_argument, 0, 't'}
#define TSV_CLI_TLS_OPTIONS \
    {"skip-verify", no_argument, 0, 'k'}, \
    {"ca-file", required_argument, 0, 'C'}
// clang-format on

/* Zeroes *t; the token from $INFLUX_TOKEN, the CA file from $SSL_CERT_FILE. */
void tsv_cli_target_init(tsv_cli_target *t);
/* 1 when getopt's c is one of the target options (arg stored), else 0. */
int tsv_cli_target_option(tsv_cli_target *t, int c, const char *arg);
/* After the options: neither --data-dir nor --host means tsv_cli_default_host(). */
void tsv_cli_target_resolve(tsv_cli_target *t);
/* The client of t's server, its TLS options set; *out NULL on failure. */
int tsv_cli_target_client(const tsv_cli_target *t, tsv_influx_client **out, tsv_error *err);
/* The closing lines of the commands' usage: where the server and token come from. */
void tsv_cli_target_help(FILE *f);

#endif
