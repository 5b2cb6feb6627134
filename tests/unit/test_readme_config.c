/* test_readme_config.c - the README's configuration table must list exactly the variables
 * of the configuration table (and each secret's NAME_FILE) with the same defaults.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <string.h>

#include "config_int.h"

#define MAX_ROWS 128

/* One row of the README table: the first two cells. */
struct readme_row {
    char name[96];
    char def[160];
};

/* Copy a trimmed cell [start, end) without surrounding backticks. */
static void cell(const char *start, const char *end, char *out, size_t size)
{
    while (start < end && (*start == ' ' || *start == '`')) {
        start++;
    }
    while (end > start && (end[-1] == ' ' || end[-1] == '`')) {
        end--;
    }
    snprintf(out, size, "%.*s", (int)(end - start), start);
}

/* Read the rows of the first "| variable | default | meaning |" table after
 * "## Configuration". Returns the row count. */
static size_t read_readme(struct readme_row *rows, size_t max)
{
    char path[1024];
    char line[2048];
    FILE *fp = NULL;
    bool in_section = false;
    bool in_table = false;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/README.md", tsp_test_source_dir());
    fp = fopen(path, "r");
    if (fp == NULL) {
        fail_msg("cannot open %s", path);
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "## ", 3) == 0) {
            if (in_table) {
                break;
            }
            in_section = strcmp(line, "## Configuration") == 0;
            continue;
        }
        if (!in_section) {
            continue;
        }
        if (!in_table) {
            in_table = strcmp(line, "| variable | default | meaning |") == 0;
            continue;
        }
        if (line[0] != '|') {
            break;
        }
        if (strncmp(line, "|---", 4) == 0) {
            continue;
        }
        const char *c1 = line + 1;
        const char *c2 = strchr(c1, '|');
        const char *c3 = c2 != NULL ? strchr(c2 + 1, '|') : NULL;
        if (c3 == NULL || n == max) {
            fclose(fp);
            fail_msg("README.md: malformed configuration row: %s", line);
        }
        cell(c1, c2, rows[n].name, sizeof(rows[n].name));
        cell(c2 + 1, c3, rows[n].def, sizeof(rows[n].def));
        n++;
    }
    fclose(fp);
    if (!in_table) {
        fail_msg("README.md: no \"| variable | default | meaning |\" table under ## Configuration");
    }
    return n;
}

static const struct readme_row *find_row(const struct readme_row *rows, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].name, name) == 0) {
            return &rows[i];
        }
    }
    return NULL;
}

/* Print the rows the README should have, so a failure shows the fix. */
static void print_expected(void)
{
    printf("The README configuration table should read:\n");
    tsp_config_print_markdown(stdout);
}

static int check_present(const struct readme_row *rows, size_t n, const char *name, const char *def)
{
    const struct readme_row *r = find_row(rows, n, name);

    if (r == NULL) {
        printf("README.md: variable %s missing from the configuration table\n", name);
        return 1;
    }
    if (strcmp(r->def, def) != 0) {
        printf("README.md: %s default \"%s\", the code says \"%s\"\n", name, r->def, def);
        return 1;
    }
    return 0;
}

static void test_readme_config_table_matches_code(void **state)
{
    static struct readme_row rows[MAX_ROWS]; /* static: a failing assert longjmps out */
    size_t n = 0;
    int problems = 0;
    char file_name[128];
    (void)state;

    n = read_readme(rows, MAX_ROWS);
    for (size_t i = 0; i < tsp_config_var_count(); i++) {
        const struct tsp_config_var *var = tsp_config_var_at(i);
        problems += check_present(rows, n, var->name, tsp_config_default_text(var));
        if (var->secret) {
            snprintf(file_name, sizeof(file_name), "%s_FILE", var->name);
            problems += check_present(rows, n, file_name, "(unset)");
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = rows[i].name;
        size_t len = strlen(name);
        const struct tsp_config_var *var = tsp_config_var_find(name);
        if (var == NULL && len > 5 && strcmp(name + len - 5, "_FILE") == 0) {
            snprintf(file_name, sizeof(file_name), "%.*s", (int)(len - 5), name);
            var = tsp_config_var_find(file_name);
            var = (var != NULL && var->secret) ? var : NULL;
        }
        if (var == NULL) {
            printf("README.md: row names unknown variable \"%s\"\n", name);
            problems++;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(rows[j].name, name) == 0) {
                printf("README.md: variable %s listed twice\n", name);
                problems++;
            }
        }
    }
    if (problems != 0) {
        print_expected();
        fail_msg("README.md configuration table differs from the code (%d problems)", problems);
    }
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_config_table_matches_code),
    };
    return cmocka_run_group_tests_name("readme_config", tests, NULL, NULL);
}
