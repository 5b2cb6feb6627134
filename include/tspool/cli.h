/* cli.h - entry points of the tspool subcommands. Each takes the arguments after the
 * subcommand name (argv[0] is the subcommand) and returns the process exit code:
 * 0 success, 1 failure of the operation, 2 usage or configuration error.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_CLI_H
#define TSPOOL_CLI_H

/* `tspool config [--json]`: the effective configuration (secrets redacted). */
int tsp_cli_config(int argc, char **argv);

/* `tspool version`: version, build and library versions. */
int tsp_cli_version(int argc, char **argv);

/* `tspool serve`: run the HTTP service until SIGTERM/SIGINT, then drain. Exit 0 after a clean
 * drain, 1 on a start-up failure or a second signal, 2 on an invalid configuration. */
int tsp_cli_serve(int argc, char **argv);

/* `tspool status [--detailed] [--json] [--url URL]`: GET /pool/status from a running service
 * and print it as a table (or raw JSON). Exit 1 when the service is unreachable or answers
 * with an error. Token from TSPOOL_READ_TOKEN (or TSPOOL_ADMIN_TOKEN). */
int tsp_cli_status(int argc, char **argv);

/* `tspool probe live|ready|startup [--url URL] [--timeout S]`: exit 0 when the probe answers
 * 200, 1 otherwise (for Docker HEALTHCHECK and exec probes). */
int tsp_cli_probe(int argc, char **argv);

/* `tspool check`: connect directly with the configuration in pooled and in direct mode, run a
 * round trip, print the server version, TimescaleDB version and max_connections. Exit 0/1, or
 * 2 on an invalid configuration. */
int tsp_cli_check(int argc, char **argv);

/* `tspool apply FILE [--dry-run] [--prune] [--url URL] [--timeout S]`: make the TimescaleDB
 * hypertables and continuous aggregates of a running service match the desired-state document
 * FILE (JSON or YAML, checked against desired-state.schema.json with the line at fault),
 * through its HTTP API with TSPOOL_ADMIN_TOKEN. Prints one line per difference and applies
 * only those. Exit 0 applied or nothing to do, 2 --dry-run found changes or a usage error,
 * 1 an error (an invalid document, or each object whose change failed). Blocks on the
 * requests (each bounded by --timeout). */
int tsp_cli_apply(int argc, char **argv);

/* `tspool top [--once] [--interval S] [--min-duration MS] [--application NAME] [--state S]
 * [--json] [--url URL] [--timeout S]`: GET /server/activity from a running service as a
 * table, blocking chains first, refreshed every interval until interrupted (--once: one
 * table). Exit 0 (--once) / never returns (refreshing), 1 unreachable or an error answer with
 * --once, 2 usage. Token: TSPOOL_ADMIN_TOKEN (query texts), else TSPOOL_READ_TOKEN. */
int tsp_cli_top(int argc, char **argv);

#endif /* TSPOOL_CLI_H */
