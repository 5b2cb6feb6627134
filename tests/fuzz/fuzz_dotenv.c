/* fuzz_dotenv.c - libFuzzer target: the .env parser on arbitrary bytes.
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tsp_dotenv env;
    struct tsp_error err;

    memset(&env, 0, sizeof(env));
    tsp_error_init(&err);
    if (tsp_dotenv_parse((const char *)data, size, "fuzz.env", &env, &err) == TSP_OK) {
        tsp_dotenv_fini(&env);
    }
    return 0;
}
