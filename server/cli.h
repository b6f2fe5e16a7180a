/*
 * cli: the offline and client subcommands of the tsvault binary
 * (docs/operations.md):
 *   tsvault export --data-dir D | --host URL --token T  ...   (cli_export.c)
 *   tsvault stats  --data-dir D | --host URL --token T  ...   (cli_export.c)
 *   tsvault verify --data-dir D | --host URL --token T  ...   (cli_verify.c)
 * --data-dir works on a stopped server's directory (read-only; refused while
 * a server holds it); --host asks a running server over HTTP (remote/).
 * Each returns the process exit code: 0 ok, 1 failure (or problems found by
 * verify), 2 usage error.
 */
#ifndef TSV_CLI_H
#define TSV_CLI_H

int tsv_cli_export(int argc, char **argv);
int tsv_cli_stats(int argc, char **argv);
int tsv_cli_verify(int argc, char **argv);

#endif
