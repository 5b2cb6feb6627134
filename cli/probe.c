/* cli/probe.c - `tspool probe live|ready|startup [--url URL] [--timeout S]`: exit 0 when the
 * probe answers 200, else 1; for Docker HEALTHCHECK and Kubernetes exec probes.
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "http_client_int.h"
#include "tspool/cli.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: tspool probe live|ready|startup [--url URL] [--timeout S] [--verbose]\n\n"
                 "Ask a running service's /livez, /readyz or /startupz; exit 0 when it answers\n"
                 "200, 1 otherwise (unreachable, 503, ...).\n"
                 "  --url URL    service URL (default: TSPOOL_URL, else from TSPOOL_LISTEN,\n"
                 "               else http://127.0.0.1:8080)\n"
                 "  --timeout S  give up after S seconds (default 5)\n"
                 "  --verbose    print every check\n");
}

int tsp_cli_probe(int argc, char **argv)
{
    struct tsp_error err;
    struct tsp_http_reply reply = {0, NULL, 0};
    const char *url_arg = NULL;
    const char *path = NULL;
    bool verbose = false;
    long timeout_s = 5;
    char url[1024];
    char full_path[64];
    int code = 1;
    enum tsp_code rc = TSP_OK;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (tsp_http_client_option(argc, argv, &i, &url_arg, &timeout_s)) {
            continue; /* --url, --timeout */
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else if (path == NULL && strcmp(argv[i], "live") == 0) {
            path = "/livez";
        } else if (path == NULL && strcmp(argv[i], "ready") == 0) {
            path = "/readyz";
        } else if (path == NULL && strcmp(argv[i], "startup") == 0) {
            path = "/startupz";
        } else {
            fprintf(stderr, "tspool probe: unknown or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "tspool probe: which probe? live, ready or startup\n");
        usage(stderr);
        return 2;
    }
    snprintf(full_path, sizeof(full_path), "%s%s", path, verbose ? "?verbose" : "");
    tsp_error_init(&err);
    tsp_http_default_url(url_arg, url, sizeof(url));
    rc = tsp_http_get(url, full_path, tsp_http_read_token(), timeout_s * 1000, &reply, &err);
    if (rc != TSP_OK) {
        fprintf(stderr, "tspool probe: %s\n", err.detail);
        goto done;
    }
    if (reply.status == 200) {
        code = 0;
        printf("%s\n", reply.body);
    } else {
        fprintf(stderr, "%s%s: %ld\n%s\n", url, full_path, reply.status, reply.body);
    }
done:
    tsp_http_reply_fini(&reply);
    return code;
}
