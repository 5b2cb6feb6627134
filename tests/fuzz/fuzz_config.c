/* fuzz_config.c - libFuzzer target: the configuration loader and every validator. Each input
 * line "NAME=value" becomes one environment entry.
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "tspool/config.h"

#define MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char *envp[MAX_LINES + 1];
    size_t n = 0;
    struct tsp_config cfg;
    struct tsp_error err;

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *line = text; line != NULL && n < MAX_LINES;) {
        char *next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        /* *_FILE variables would read files: keep the fuzzer off the file system */
        if (strstr(line, "_FILE=") == NULL && strchr(line, '=') != NULL) {
            envp[n++] = line;
        }
        line = next;
    }
    envp[n] = NULL;
    memset(&cfg, 0, sizeof(cfg));
    tsp_error_init(&err);
    if (tsp_config_load_with_default_env(&cfg, envp, "/nonexistent/.env", &err) == TSP_OK) {
        tsp_config_fini(&cfg);
    }
    free(text);
    return 0;
}
