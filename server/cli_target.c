/*
 * cli_target: the options that say where `tsvault export`, `stats` and
 * `verify` read (cli.h): a stopped server's --data-dir, or a running
 * server's --host, --token, --ca-file and --skip-verify.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void tsv_cli_target_init(tsv_cli_target *t)
{
    memset(t, 0, sizeof *t);
    t->token = getenv("INFLUX_TOKEN");
    t->ca_file = getenv("SSL_CERT_FILE");
}

int tsv_cli_target_option(tsv_cli_target *t, int c, const char *arg)
{
    switch (c) {
    case 'd':
        t->data_dir = arg;
        return 1;
    case 'H':
        t->host = arg;
        return 1;
    case 't':
        t->token = arg;
        return 1;
    case 'k':
        t->insecure = 1;
        return 1;
    case 'C':
        t->ca_file = arg;
        return 1;
    default:
        return 0;
    }
}

void tsv_cli_target_resolve(tsv_cli_target *t)
{
    if (!t->data_dir && !t->host)
        t->host = tsv_cli_default_host();
}

int tsv_cli_target_client(const tsv_cli_target *t, tsv_influx_client **out, tsv_error *err)
{
    *out = NULL;
    tsv_influx_client *cl = NULL;
    if (tsv_influx_client_new(&cl, t->host, t->token, err) != 0)
        return -1;
    if (tsv_influx_client_set_tls(cl, t->ca_file, t->insecure, err) != 0) {
        tsv_influx_client_free(cl);
        return -1;
    }
    *out = cl;
    return 0;
}

void tsv_cli_target_help(FILE *f)
{
    fprintf(f, "Without --data-dir the server is --host, else $INFLUX_HOST, else "
               "http://localhost:8086;\nthe token --token, else $INFLUX_TOKEN.\n");
}
