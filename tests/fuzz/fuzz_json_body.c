/* fuzz_json_body.c - libFuzzer target: the request-body parser and every JSON request-body
 * decoder of the TimescaleDB endpoints, on arbitrary bytes.
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "api_int.h"
#include "ts_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = NULL;
    struct tsp_error err;
    struct tsp_ts_compression_spec comp;
    struct tsp_ts_chunk_filter filter;
    struct tsp_ts_aggregate_spec agg;
    const char *a = NULL, *b = NULL, *c = NULL;
    int scheduled = 0;

    tsp_error_init(&err);
    if (tsp_json_parse_body((const char *)data, size, &body, &err) != TSP_OK) {
        return 0;
    }
    memset(&comp, 0, sizeof(comp));
    memset(&filter, 0, sizeof(filter));
    memset(&agg, 0, sizeof(agg));
    tsp_error_init(&err);
    (void)tsp_ts_json_compression_spec(body, &comp, &err);
    {
        struct tsp_ts_hypertable_spec ht;
        char buf[32];
        tsp_error_init(&err);
        (void)tsp_ts_json_hypertable_spec(body, buf, sizeof(buf), &ht, &err);
        tsp_error_init(&err);
        (void)tsp_ts_json_hypertable_patch(body, buf, sizeof(buf), &a, &err);
        tsp_error_init(&err);
        (void)tsp_ts_json_reorder_policy(body, &a, &err);
    }
    tsp_error_init(&err);
    (void)tsp_ts_json_chunk_selection(body, true, &filter, &err);
    tsp_error_init(&err);
    (void)tsp_ts_json_chunk_selection(body, false, &filter, &err);
    tsp_error_init(&err);
    (void)tsp_ts_json_policy_body(body, "drop_after", &a, &b, &err);
    tsp_error_init(&err);
    (void)tsp_ts_json_policy_body(body, "compress_after", &a, &b, &err);
    tsp_error_init(&err);
    (void)tsp_ts_json_aggregate_spec(body, &agg, &err);
    tsp_error_init(&err);
    (void)tsp_ts_json_aggregate_policy(body, &a, &b, &c, &err);
    tsp_error_init(&err);
    (void)tsp_ts_json_refresh_window(body, &a, &b, &err);
    tsp_error_init(&err);
    (void)tsp_ts_json_job_patch(body, &a, &scheduled, &err);
    json_decref(body);
    return 0;
}
