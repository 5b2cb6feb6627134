/* cli/main.c - argv -> subcommand table -> tsp_cli_* ; nothing else lives here
 * (top of the dependency graph).
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "tspool/cli.h"

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct subcommand subcommands[] = {
    {"config", tsp_cli_config, "print the effective configuration (--json for JSON)"},
    {"version", tsp_cli_version, "print the version"},
    {"serve", tsp_cli_serve, "run the HTTP service"},
    {"status", tsp_cli_status,
     "show the pool status (or the PgBouncer fleet) of a running service"},
    {"probe", tsp_cli_probe, "probe a running service: live, ready or startup (exit 0/1)"},
    {"check", tsp_cli_check, "connect to the database directly and report what it is"},
    {"apply", tsp_cli_apply, "make TimescaleDB match a desired-state file (JSON or YAML)"},
    {"top", tsp_cli_top, "every application's sessions on the database server, refreshing"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tspool <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
        fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    }
    fprintf(out, "\nRun 'tspool <command> --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
    const char *name = NULL;

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0) {
        return tsp_cli_version(1, &argv[1]);
    }
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
        if (strcmp(name, subcommands[i].name) == 0) {
            return subcommands[i].run(argc - 1, &argv[1]);
        }
    }
    fprintf(stderr, "tspool: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
}
