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

#endif
