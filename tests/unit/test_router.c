/* test_router.c - unit tests of the route table and path matcher: found, 404, 405 + Allow,
 * path parameters, and the table's agreement with openapi.yaml (paths and operationIds).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

static void test_tsp_router_match_exact_path(void **state)
{
    const struct tsp_route *route = NULL;
    struct tsp_route_params params;
    char allow[64];
    (void)state;

    assert_int_equal(tsp_router_match("GET", "/pool/status", &route, &params, allow, sizeof(allow)),
                     TSP_ROUTE_FOUND);
    assert_string_equal(route->operation_id, "getPoolStatus");
    assert_int_equal(route->role, TSP_ROLE_READ);
    assert_int_equal(params.count, 0);
}

static void test_tsp_router_match_path_param(void **state)
{
    const struct tsp_route *route = NULL;
    struct tsp_route_params params;
    struct tsp_req req;
    (void)state;

    assert_int_equal(tsp_router_match("GET", "/readyz/db", &route, &params, NULL, 0),
                     TSP_ROUTE_FOUND);
    assert_string_equal(route->operation_id, "getReadyzCheck");
    assert_int_equal(params.count, 1);
    assert_string_equal(params.items[0].value, "db");
    memset(&req, 0, sizeof(req));
    req.params = params;
    assert_string_equal(tsp_req_param(&req, "check"), "db");
    assert_null(tsp_req_param(&req, "che"));
    assert_null(tsp_req_param(&req, "other"));
}

static void test_tsp_router_match_not_found(void **state)
{
    const struct tsp_route *route = NULL;
    char allow[64];
    (void)state;

    assert_int_equal(tsp_router_match("GET", "/nope", &route, NULL, allow, sizeof(allow)),
                     TSP_ROUTE_NOT_FOUND);
    assert_int_equal(tsp_router_match("GET", "/readyz/", &route, NULL, allow, sizeof(allow)),
                     TSP_ROUTE_NOT_FOUND);
    assert_int_equal(tsp_router_match("GET", "/readyz/db/x", &route, NULL, allow, sizeof(allow)),
                     TSP_ROUTE_NOT_FOUND);
    assert_int_equal(tsp_router_match("GET", "/pool/statu", &route, NULL, allow, sizeof(allow)),
                     TSP_ROUTE_NOT_FOUND);
    assert_int_equal(tsp_router_match("GET", "", &route, NULL, allow, sizeof(allow)),
                     TSP_ROUTE_NOT_FOUND);
    assert_string_equal(allow, "");
}

static void test_tsp_router_match_bad_method_lists_allow(void **state)
{
    const struct tsp_route *route = NULL;
    char allow[64];
    (void)state;

    assert_int_equal(tsp_router_match("DELETE", "/pool/status", &route, NULL, allow, sizeof(allow)),
                     TSP_ROUTE_BAD_METHOD);
    assert_string_equal(allow, "GET");
    assert_int_equal(tsp_router_match("GET", "/pool/pause", &route, NULL, allow, sizeof(allow)),
                     TSP_ROUTE_BAD_METHOD);
    assert_string_equal(allow, "POST");
    assert_int_equal(tsp_router_match("GET", "/pool", &route, NULL, allow, sizeof(allow)),
                     TSP_ROUTE_BAD_METHOD);
    assert_string_equal(allow, "PATCH");
}

static void test_tsp_router_pattern_match_cases(void **state)
{
    struct tsp_route_params params;
    (void)state;

    assert_true(tsp_router_pattern_match("/a/{x}/b/{y}", "/a/1/b/2", &params));
    assert_int_equal(params.count, 2);
    assert_string_equal(params.items[0].value, "1");
    assert_string_equal(params.items[1].value, "2");
    assert_false(tsp_router_pattern_match("/a/{x}", "/a", &params));
    assert_false(tsp_router_pattern_match("/a", "/a/", &params));
    assert_false(tsp_router_pattern_match("/a", "a", &params));
    assert_true(tsp_router_pattern_match("/", "/", &params));
}

static void test_tsp_router_index_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < tsp_router_count(); i++) {
        assert_int_equal(tsp_router_index(tsp_router_at(i)), i);
    }
    assert_null(tsp_router_at(tsp_router_count()));
    assert_int_equal(tsp_router_index(NULL), tsp_router_count());
}

static char *read_spec(void)
{
    char path[1024];
    FILE *f = NULL;
    char *text = NULL;
    long size = 0;

    snprintf(path, sizeof(path), "%s/openapi.yaml", tsp_test_source_dir());
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

/* Every route's path and operationId are in openapi.yaml, and every operationId in
 * openapi.yaml is a route: the contract and the code cannot drift apart. */
static void test_tsp_router_table_matches_openapi(void **state)
{
    char *spec = read_spec();
    char needle[256];
    const char *p = spec;
    (void)state;

    for (size_t i = 0; i < tsp_router_count(); i++) {
        const struct tsp_route *r = tsp_router_at(i);
        snprintf(needle, sizeof(needle), "\n  %s:\n", r->pattern);
        if (strstr(spec, needle) == NULL) {
            fail_msg("path %s missing from openapi.yaml", r->pattern);
        }
        snprintf(needle, sizeof(needle), "operationId: %s\n", r->operation_id);
        if (strstr(spec, needle) == NULL) {
            fail_msg("operationId %s missing from openapi.yaml", r->operation_id);
        }
    }
    while ((p = strstr(p, "operationId: ")) != NULL) {
        char id[128];
        bool found = false;
        p += strlen("operationId: ");
        snprintf(id, sizeof(id), "%.*s", (int)strcspn(p, "\n"), p);
        for (size_t i = 0; i < tsp_router_count(); i++) {
            found = found || strcmp(tsp_router_at(i)->operation_id, id) == 0;
        }
        if (!found) {
            fail_msg("openapi.yaml operationId %s has no route", id);
        }
    }
    free(spec);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_router_match_exact_path),
        cmocka_unit_test(test_tsp_router_match_path_param),
        cmocka_unit_test(test_tsp_router_match_not_found),
        cmocka_unit_test(test_tsp_router_match_bad_method_lists_allow),
        cmocka_unit_test(test_tsp_router_pattern_match_cases),
        cmocka_unit_test(test_tsp_router_index_roundtrip),
        cmocka_unit_test(test_tsp_router_table_matches_openapi),
    };
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
