/* test_identifiers.c - the identifier validators against the case table in
 * tests/data/identifiers.cases (one named case per line: name, accept/reject, kind, input).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/db.h"

#define LINE_MAX_LEN 1024

/* Decode the input column: \t \n \\ \xHH escapes, <empty>, <repeat:N:c>. */
static void decode_input(const char *in, char *out, size_t size)
{
    size_t o = 0;

    if (strcmp(in, "<empty>") == 0) {
        out[0] = '\0';
        return;
    }
    while (*in != '\0' && o + 1 < size) {
        if (strncmp(in, "<repeat:", 8) == 0) {
            char *end = NULL;
            long n = strtol(in + 8, &end, 10);
            assert_true(end[0] == ':' && end[1] != '\0' && end[2] == '>');
            for (long i = 0; i < n && o + 1 < size; i++) {
                out[o++] = end[1];
            }
            in = end + 3;
        } else if (in[0] == '\\' && in[1] == 't') {
            out[o++] = '\t';
            in += 2;
        } else if (in[0] == '\\' && in[1] == 'n') {
            out[o++] = '\n';
            in += 2;
        } else if (in[0] == '\\' && in[1] == '\\') {
            out[o++] = '\\';
            in += 2;
        } else if (in[0] == '\\' && in[1] == 'x') {
            char hex[3] = {in[2], in[3], '\0'};
            out[o++] = (char)strtol(hex, NULL, 16);
            in += 4;
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}

static void test_identifiers_cases_table(void **state)
{
    char path[1024];
    char line[LINE_MAX_LEN];
    FILE *f = NULL;
    int cases = 0;
    int failures = 0;
    (void)state;

    snprintf(path, sizeof(path), "%s/tests/data/identifiers.cases", tsp_test_source_dir());
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char input[LINE_MAX_LEN];
        char *name = NULL;
        char *expect = NULL;
        char *kind = NULL;
        char *raw = NULL;
        char *save = NULL;
        struct tsp_error err;
        enum tsp_code rc;

        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        name = strtok_r(line, "\t", &save);
        expect = strtok_r(NULL, "\t", &save);
        kind = strtok_r(NULL, "\t", &save);
        raw = strtok_r(NULL, "", &save);
        assert_non_null(name);
        assert_non_null(expect);
        assert_non_null(kind);
        assert_non_null(raw);
        decode_input(raw, input, sizeof(input));
        tsp_error_init(&err);
        if (strcmp(kind, "qualified") == 0) {
            rc = tsp_db_qualified_validate(input, "hypertable", &err);
        } else {
            assert_string_equal(kind, "plain");
            rc = tsp_db_identifier_validate(input, "hypertable", &err);
        }
        if (strcmp(expect, "accept") == 0 && rc != TSP_OK) {
            fprintf(stderr, "case %s: expected accept, got %s: %s\n", name, tsp_code_name(rc),
                    err.detail);
            failures++;
        } else if (strcmp(expect, "reject") == 0 &&
                   (rc != TSP_INVALID || strcmp(err.field, "hypertable") != 0 ||
                    strncmp(err.detail, "hypertable: ", 12) != 0)) {
            fprintf(stderr, "case %s: expected reject naming field hypertable, got %s (%s)\n", name,
                    tsp_code_name(rc), err.detail);
            failures++;
        } else if (strcmp(expect, "accept") != 0 && strcmp(expect, "reject") != 0) {
            fprintf(stderr, "case %s: bad expectation %s\n", name, expect);
            failures++;
        }
        cases++;
    }
    fclose(f);
    assert_true(cases >= 40);
    assert_int_equal(failures, 0);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identifiers_cases_table),
    };
    return cmocka_run_group_tests_name("identifiers", tests, NULL, NULL);
}
