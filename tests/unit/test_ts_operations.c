/* test_ts_operations.c - unit tests of the TimescaleDB operations table: every TimescaleDB
 * route has its row, changes are exactly the admin routes, bodies are read where one is sent.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <string.h>

#include "ts_handlers_int.h"

static void test_tsp_ts_operation_find_every_route(void **state)
{
    size_t rows = 0;
    (void)state;

    for (size_t i = 0; i < tsp_router_count(); i++) {
        const struct tsp_route *route = tsp_router_at(i);
        const struct tsp_ts_operation *op = tsp_ts_operation_find(route->operation_id);
        if (route->handler != tsp_h_timescale) {
            assert_null(op);
            continue;
        }
        rows++;
        assert_non_null(op);
        assert_non_null(op->run);
        /* a change needs the admin token; a read must not */
        assert_int_equal(op->change, route->role == TSP_ROLE_ADMIN);
        /* bodies come with PUT, POST and PATCH changes only */
        if (op->body) {
            assert_true(op->change);
            assert_true(strcmp(route->method, "GET") != 0 && strcmp(route->method, "DELETE") != 0);
        }
        /* the {id} parameter is exactly the job routes' */
        assert_int_equal(op->job_id, strstr(route->pattern, "{id}") != NULL);
        assert_true(op->status == 200 || op->status == 201);
    }
    assert_int_equal(rows, 32);
}

static void test_tsp_ts_operation_find_unknown(void **state)
{
    (void)state;

    assert_null(tsp_ts_operation_find(NULL));
    assert_null(tsp_ts_operation_find("getPoolStatus"));
    assert_null(tsp_ts_operation_find("listhypertables"));
    assert_int_equal(tsp_ts_operation_find("createAggregate")->status, 201);
    assert_int_equal(tsp_ts_operation_find("createHypertable")->status, 201);
    assert_true(tsp_ts_operation_find("alterHypertable")->body);
    assert_false(tsp_ts_operation_find("getReorderPolicy")->change);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_ts_operation_find_every_route),
        cmocka_unit_test(test_tsp_ts_operation_find_unknown),
    };
    return cmocka_run_group_tests_name("ts_operations", tests, NULL, NULL);
}
