/* test_apply.c - the pure parts of `tspool apply`: interval and order_by comparisons, the
 * document loader (YAML and JSON, with lines) and its validation against the shipped schema
 * (refused documents and their exact errors in tests/data/apply/invalid.cases).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply_int.h"

static void test_tsp_apply_interval_us_forms(void **state)
{
    long long a = 0;
    long long b = 0;
    (void)state;

    assert_true(tsp_apply_interval_us("1 day", &a));
    assert_true(tsp_apply_interval_us("24:00:00", &b));
    assert_int_equal(a, b);
    assert_true(tsp_apply_interval_us("12 hours", &a));
    assert_true(tsp_apply_interval_us("12:00:00", &b));
    assert_int_equal(a, b);
    assert_true(tsp_apply_interval_us("1 day 02:30:00", &a));
    assert_int_equal(a, (26LL * 3600 + 1800) * 1000000LL);
    assert_true(tsp_apply_interval_us("1 mon", &a));
    assert_true(tsp_apply_interval_us("30 days", &b));
    assert_int_equal(a, b);
    assert_true(tsp_apply_interval_us("7d", &a));
    assert_true(tsp_apply_interval_us("1 week", &b));
    assert_int_equal(a, b);
    assert_false(tsp_apply_interval_us("banana", &a));
    assert_false(tsp_apply_interval_us("", &a));
    assert_false(tsp_apply_interval_us("3", &a));
}

static void test_tsp_apply_same_interval_values(void **state)
{
    json_t *day = json_string("1 day");
    json_t *hours = json_string("24:00:00");
    json_t *week = json_string("7 days");
    json_t *n = json_integer(86400);
    json_t *ntext = json_string("86400");
    json_t *null = json_null();
    (void)state;

    assert_true(tsp_apply_same_interval(day, hours));
    assert_false(tsp_apply_same_interval(day, week));
    assert_true(tsp_apply_same_interval(n, ntext));
    assert_false(tsp_apply_same_interval(n, day));
    assert_true(tsp_apply_same_interval(null, NULL));
    assert_false(tsp_apply_same_interval(null, day));
    json_decref(day);
    json_decref(hours);
    json_decref(week);
    json_decref(n);
    json_decref(ntext);
    json_decref(null);
}

static void test_tsp_apply_order_item_canonical(void **state)
{
    char out[128];
    (void)state;

    tsp_apply_order_item("ts desc", out, sizeof(out));
    assert_string_equal(out, "ts DESC");
    tsp_apply_order_item("ts DESC NULLS FIRST", out, sizeof(out));
    assert_string_equal(out, "ts DESC");
    tsp_apply_order_item("ts ASC", out, sizeof(out));
    assert_string_equal(out, "ts");
    tsp_apply_order_item("ts asc nulls first", out, sizeof(out));
    assert_string_equal(out, "ts NULLS FIRST");
    tsp_apply_order_item("ts DESC NULLS LAST", out, sizeof(out));
    assert_string_equal(out, "ts DESC NULLS LAST");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_tsp_apply_doc_yaml_and_json_with_lines(void **state)
{
    struct tsp_apply_doc doc;
    struct tsp_error err;
    char path[64];
    (void)state;

    snprintf(path, sizeof(path), "apply-doc-%d.yaml", (int)getpid());
    write_file(path, "# desired\nhypertables:\n  - name: metrics\n    chunk_interval: 1 day\n"
                     "    compression: {segment_by: [device_id], order_by: ['ts DESC']}\n"
                     "    compression_policy: {compress_after: 7 days}\n");
    tsp_error_init(&err);
    assert_int_equal(tsp_apply_doc_load(path, &doc, &err), TSP_OK);
    assert_int_equal(tsp_apply_doc_validate(&doc, path, &err), TSP_OK);
    assert_int_equal(tsp_apply_doc_line(&doc, "/hypertables/0/chunk_interval"), 4);
    assert_int_equal(tsp_apply_doc_line(&doc, "/hypertables/0/compression/order_by/0"), 5);
    json_t *h = json_array_get(json_object_get(doc.root, "hypertables"), 0);
    assert_string_equal(json_string_value(json_object_get(h, "chunk_interval")), "1 day");
    tsp_apply_doc_fini(&doc);

    write_file(path, "{\"hypertables\": [{\"name\": \"ticks\",\n  \"chunk_interval\": 1000}]}\n");
    tsp_error_init(&err);
    assert_int_equal(tsp_apply_doc_load(path, &doc, &err), TSP_OK);
    assert_int_equal(tsp_apply_doc_validate(&doc, path, &err), TSP_OK);
    h = json_array_get(json_object_get(doc.root, "hypertables"), 0);
    assert_true(json_is_integer(json_object_get(h, "chunk_interval")));
    assert_int_equal(tsp_apply_doc_line(&doc, "/hypertables/0/chunk_interval"), 2);
    tsp_apply_doc_fini(&doc);

    tsp_error_init(&err);
    assert_int_equal(tsp_apply_doc_load("no-such-file.yaml", &doc, &err), TSP_IO);
    remove(path);
}

/* Check one case of invalid.cases: the document in `text`, the message in `expected`. */
static int check_case(const char *name, const char *expected, const char *text)
{
    struct tsp_apply_doc doc = {NULL, NULL};
    struct tsp_error err;
    char path[64];
    char want[1024];
    const char *file = strstr(expected, "FILE");
    enum tsp_code rc;

    snprintf(path, sizeof(path), "apply-case-%d.yaml", (int)getpid());
    write_file(path, text);
    snprintf(want, sizeof(want), "%.*s%s%s", file != NULL ? (int)(file - expected) : 0, expected,
             file != NULL ? path : "", file != NULL ? file + 4 : expected);
    tsp_error_init(&err);
    rc = tsp_apply_doc_load(path, &doc, &err);
    if (rc == TSP_OK) {
        rc = tsp_apply_doc_validate(&doc, path, &err);
    }
    tsp_apply_doc_fini(&doc);
    remove(path);
    if (rc == TSP_OK || strcmp(err.detail, want) != 0) {
        fprintf(stderr, "case %s:\n  expected: %s\n  got:      %s\n", name, want,
                rc == TSP_OK ? "(accepted)" : err.detail);
        return 1;
    }
    return 0;
}

static void test_tsp_apply_doc_invalid_cases(void **state)
{
    char path[1024];
    char line[1024];
    char name[128] = "";
    char expected[1024] = "";
    char text[8192] = "";
    int cases = 0;
    int failures = 0;
    FILE *f = NULL;
    (void)state;

    snprintf(path, sizeof(path), "%s/tests/data/apply/invalid.cases", tsp_test_source_dir());
    f = fopen(path, "r");
    assert_non_null(f);
    for (;;) {
        bool eof = fgets(line, sizeof(line), f) == NULL;
        if (eof || strncmp(line, "== ", 3) == 0) {
            if (name[0] != '\0') {
                failures += check_case(name, expected, text);
                cases++;
            }
            if (eof) {
                break;
            }
            snprintf(name, sizeof(name), "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
            expected[0] = '\0';
            text[0] = '\0';
        } else if (name[0] != '\0' && strncmp(line, "error: ", 7) == 0 && expected[0] == '\0') {
            snprintf(expected, sizeof(expected), "%.*s", (int)strcspn(line + 7, "\n"), line + 7);
        } else if (name[0] != '\0') {
            strncat(text, line, sizeof(text) - strlen(text) - 1);
        }
    }
    fclose(f);
    assert_true(cases >= 10);
    assert_int_equal(failures, 0);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_apply_interval_us_forms),
        cmocka_unit_test(test_tsp_apply_same_interval_values),
        cmocka_unit_test(test_tsp_apply_order_item_canonical),
        cmocka_unit_test(test_tsp_apply_doc_yaml_and_json_with_lines),
        cmocka_unit_test(test_tsp_apply_doc_invalid_cases),
    };
    return cmocka_run_group_tests_name("apply", tests, NULL, NULL);
}
