/* fuzz_identifier.c - libFuzzer target: the identifier validators (name and schema.name) and
 * the interval/schedule check builder and the chunk-listing cursor, on arbitrary text.
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timescale_int.h"
#include "tspool/db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    struct tsp_error err;
    struct tsp_ts_stmt stmt;
    enum tsp_code rc = TSP_OK;

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    tsp_error_init(&err);
    rc = tsp_db_identifier_validate(text, "name", &err);
    if (rc == TSP_OK && (strlen(text) == 0 || strlen(text) > 63)) {
        abort(); /* the documented limits must hold */
    }
    tsp_error_init(&err);
    (void)tsp_db_qualified_validate(text, "name", &err);
    memset(&stmt, 0, sizeof(stmt));
    tsp_error_init(&err);
    if (tsp_ts_sql_policy_check(TSP_TS_POLICY_RETENTION, text, text, &stmt, &err) == TSP_OK) {
        tsp_ts_stmt_fini(&stmt);
    }
    {
        /* a cursor that decodes encodes again, and that decodes to the same place */
        struct tsp_ts_keyset k;
        struct tsp_ts_keyset k2;
        char again[TSP_TS_CURSOR_MAX];
        memset(&k, 0, sizeof(k));
        memset(&k2, 0, sizeof(k2));
        tsp_error_init(&err);
        if (tsp_ts_cursor_decode(text, &k, &err) == TSP_OK) {
            tsp_error_init(&err);
            if (tsp_ts_cursor_encode(k.key, k.name, again, sizeof(again), &err) != TSP_OK ||
                tsp_ts_cursor_decode(again, &k2, &err) != TSP_OK || k2.key != k.key ||
                strcmp(k2.name, k.name) != 0) {
                abort();
            }
        }
    }
    free(text);
    return 0;
}
