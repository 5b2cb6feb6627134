/* fuzz_query.c - libFuzzer target: the query-string parser (URL decoding, repeated names,
 * names without a value, values that do not fit) and the boolean flag reader.
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"detailed", "verbose", "exclude", "older_than",
                                        "dry_run",  "a",       ""};
    static const size_t sizes[] = {0, 1, 2, 16, 128};
    char *query = malloc(size + 1);
    char out[128];

    if (query == NULL) {
        return 0;
    }
    memcpy(query, data, size);
    query[size] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct tsp_error err;
        bool flag = false;
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            for (int nth = 0; nth < 3; nth++) {
                int n = tsp_query_get(query, names[i], nth, out, sizes[s]);
                if (n >= 0 && ((size_t)n >= sizes[s] || out[n] != '\0')) {
                    abort(); /* a value is reported only when it fits with its NUL */
                }
            }
        }
        tsp_error_init(&err);
        (void)tsp_query_bool(query, names[i], &flag, &err);
    }
    free(query);
    return 0;
}
