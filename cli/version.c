/* cli/version.c - `tspool version`: the tspool version and the versions of the libraries
 * it runs with (libpq, jansson, libcurl).
 * SPDX-License-Identifier: MIT
 */
#include "tspool/cli.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tspool/db.h"

#ifndef TSPOOL_VERSION
#define TSPOOL_VERSION "unknown"
#endif

static void usage(FILE *out)
{
    fprintf(out, "usage: tspool version [--help]\n"
                 "\n"
                 "Print the tspool version and the libpq, jansson and libcurl versions in use.\n");
}

int tsp_cli_version(int argc, char **argv)
{
    const curl_version_info_data *curl = NULL;
    int pq = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "tspool version: unknown option '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    curl = curl_version_info(CURLVERSION_NOW);
    pq = tsp_db_libpq_version();
    printf("tspool %s\n", TSPOOL_VERSION);
    printf("libpq %d.%d\n", pq / 10000, pq % 10000);
    printf("jansson %s\n", jansson_version_str());
    printf("libcurl %s\n", curl != NULL ? curl->version : "unknown");
    return fflush(stdout) == 0 ? 0 : 1;
}
