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

#endif /* TSPOOL_CLI_H */
