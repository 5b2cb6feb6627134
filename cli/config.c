/* cli/config.c - `tspool config [--json]`: load and validate the configuration, print it
 * as an aligned table or JSON (secrets redacted); exit 2 with one error line when invalid.
 * SPDX-License-Identifier: MIT
 */
#include "tspool/cli.h"
#include "tspool/config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out, "usage: tspool config [--json] [--help]\n"
                 "\n"
                 "Print the effective configuration: every variable with its value and where it\n"
                 "came from (default, .env file:line, environment, file), secrets redacted.\n"
                 "Exit status 2 with one error line when the configuration is invalid.\n"
                 "\n"
                 "  --json   print JSON instead of a table\n"
                 "  --help   print this help and the variables\n");
}

int tsp_cli_config(int argc, char **argv)
{
    struct tsp_config cfg;
    struct tsp_error err;
    bool json = false;
    int status = 0;
    enum tsp_code rc = TSP_OK;

    memset(&cfg, 0, sizeof(cfg));
    tsp_error_init(&err);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            printf("\nVariables (precedence: defaults < .env < environment < NAME_FILE):\n\n");
            tsp_config_print_help(stdout);
            return 0;
        } else {
            fprintf(stderr, "tspool config: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    rc = tsp_config_load(&cfg, environ, &err);
    if (rc != TSP_OK) {
        fprintf(stderr, "tspool: %s\n", err.detail);
        return 2;
    }
    for (size_t i = 0; i < cfg.nwarnings; i++) {
        fprintf(stderr, "tspool: warning: %s\n", cfg.warnings[i]);
    }
    if (json) {
        rc = tsp_config_print_json(&cfg, stdout, &err);
        if (rc != TSP_OK) {
            fprintf(stderr, "tspool: %s\n", err.detail);
            status = 1;
        }
    } else {
        tsp_config_print_table(&cfg, stdout);
    }
    if (fflush(stdout) != 0) {
        status = 1;
    }
    tsp_config_fini(&cfg);
    return status;
}
