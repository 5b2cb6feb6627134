/* test_cli_config.c - runs the built tspool binary (TSPOOL_BINARY) for `config` and
 * `version`: output, redaction, exit codes. Needs no server, so it is a unit test.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "tspool/config.h"

/* One finished run of the binary. */
struct run {
    int status; /* exit code, or -1 when it did not exit normally */
    char *out;  /* stdout, NUL-terminated */
    char *err;  /* stderr */
};

struct fixture {
    char dir[64]; /* empty working directory of the child */
    struct run run;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/tspool-test-cli-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[128];

    snprintf(path, sizeof(path), "%s/.env", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f->run.out);
    free(f->run.err);
    free(f);
    return 0;
}

static char *slurp(int fd)
{
    size_t len = 0;
    size_t cap = 4096;
    char *buf = malloc(cap);
    ssize_t n = 0;

    assert_non_null(buf);
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    return buf;
}

/* Run `tspool args...` in f->dir with exactly the environment envp; outputs go to temporary
 * files (no pipe deadlock on large output). */
static void run_tspool(struct fixture *f, const char *const *args, const char *const *envp)
{
    char *argv[8] = {NULL};
    char *envv[8] = {NULL};
    char out_path[96];
    char err_path[96];
    int out_fd = -1;
    int err_fd = -1;
    int wstatus = 0;
    pid_t pid = 0;

    argv[0] = (char *)(uintptr_t)tsp_test_binary();
    for (size_t i = 0; args[i] != NULL && i < 6; i++) {
        argv[i + 1] = (char *)(uintptr_t)args[i];
    }
    for (size_t i = 0; envp[i] != NULL && i < 7; i++) {
        envv[i] = (char *)(uintptr_t)envp[i];
    }
    snprintf(out_path, sizeof(out_path), "%s/stdout-XXXXXX", f->dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr-XXXXXX", f->dir);
    out_fd = mkstemp(out_path);
    err_fd = mkstemp(err_path);
    assert_true(out_fd >= 0 && err_fd >= 0);
    unlink(out_path);
    unlink(err_path);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(f->dir) != 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) {
            _exit(127);
        }
        execve(argv[0], argv, envv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    f->run.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    lseek(out_fd, 0, SEEK_SET);
    lseek(err_fd, 0, SEEK_SET);
    free(f->run.out);
    free(f->run.err);
    f->run.out = slurp(out_fd);
    f->run.err = slurp(err_fd);
    close(out_fd);
    close(err_fd);
}

static void test_tsp_cli_config_invalid_value_exits_2(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"config", NULL};
    const char *envp[] = {"DB_MAX_CONNS=abc", NULL};

    run_tspool(f, args, envp);
    assert_int_equal(f->run.status, 2);
    assert_string_equal(f->run.out, "");
    assert_string_equal(
        f->run.err,
        "tspool: DB_MAX_CONNS: invalid value \"abc\": expected an integer from 1 to 10000\n");
}

static void test_tsp_cli_config_json_invalid_exits_2(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"config", "--json", NULL};
    const char *envp[] = {"TSPOOL_LISTEN=0.0.0.0", NULL};

    run_tspool(f, args, envp);
    assert_int_equal(f->run.status, 2);
    assert_string_equal(f->run.out, "");
    assert_string_equal(f->run.err, "tspool: TSPOOL_LISTEN: invalid value \"0.0.0.0\": expected "
                                    "host:port or [ipv6]:port with a port from 1 to 65535\n");
}

static void test_tsp_cli_config_table_redacts(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"config", NULL};
    const char *envp[] = {"DB_PASS=hunter2-cli-secret", "TSPOOL_READ_TOKEN=read-cli-secret",
                          "DB_MAX_CONNS=33", NULL};

    run_tspool(f, args, envp);
    assert_int_equal(f->run.status, 0);
    assert_string_equal(f->run.err, "");
    assert_null(strstr(f->run.out, "hunter2"));
    assert_null(strstr(f->run.out, "read-cli"));
    assert_true(strncmp(f->run.out, "NAME ", 5) == 0);
    assert_non_null(
        strstr(f->run.out, "\nDB_PASS                         ********      environment\n"));
    assert_non_null(
        strstr(f->run.out, "\nDB_MAX_CONNS                    33            environment\n"));
    assert_non_null(
        strstr(f->run.out,
               "\neffective pool size             33            environment (DB_MAX_CONNS)\n"));
    for (size_t i = 0; i < tsp_config_var_count(); i++) {
        char needle[96];
        snprintf(needle, sizeof(needle), "\n%s ", tsp_config_var_at(i)->name);
        assert_non_null(strstr(f->run.out, needle));
    }
}

static void test_tsp_cli_config_json_every_variable(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"config", "--json", NULL};
    const char *envp[] = {"DB_PASS=hunter2-cli-secret", NULL};
    json_t *root = NULL;
    json_t *vars = NULL;
    json_error_t jerr;

    run_tspool(f, args, envp);
    assert_int_equal(f->run.status, 0);
    assert_null(strstr(f->run.out, "hunter2"));
    root = json_loads(f->run.out, 0, &jerr);
    assert_non_null(root);
    vars = json_object_get(root, "variables");
    assert_int_equal(json_array_size(vars), tsp_config_var_count());
    for (size_t i = 0; i < json_array_size(vars); i++) {
        json_t *item = json_array_get(vars, i);
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *source = json_string_value(json_object_get(item, "source"));
        assert_string_equal(name, tsp_config_var_at(i)->name);
        assert_non_null(json_object_get(item, "value"));
        assert_non_null(source);
        if (strcmp(name, "DB_PASS") == 0) {
            assert_string_equal(json_string_value(json_object_get(item, "value")), "********");
            assert_string_equal(source, "environment");
        } else {
            assert_string_equal(source, "default");
        }
    }
    json_decref(root);
}

static void test_tsp_cli_config_reads_dotenv_in_cwd(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"config", "--json", NULL};
    const char *envp[] = {NULL};
    char path[128];
    FILE *fp = NULL;
    json_t *root = NULL;
    json_t *item = NULL;
    json_error_t jerr;

    snprintf(path, sizeof(path), "%s/.env", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("# local settings\nDB_MAX_CONNS=44\nTSPOOL_LSTEN=typo\n", fp);
    fclose(fp);
    run_tspool(f, args, envp);
    assert_int_equal(f->run.status, 0);
    assert_string_equal(f->run.err,
                        "tspool: warning: ./.env:3: unknown variable TSPOOL_LSTEN ignored\n");
    root = json_loads(f->run.out, 0, &jerr);
    assert_non_null(root);
    item = json_array_get(json_object_get(root, "variables"),
                          (size_t)(tsp_config_var_find("DB_MAX_CONNS") - tsp_config_var_at(0)));
    assert_int_equal(json_integer_value(json_object_get(item, "value")), 44);
    assert_string_equal(json_string_value(json_object_get(item, "source")), ".env");
    assert_string_equal(json_string_value(json_object_get(item, "where")), "./.env:2");
    json_decref(root);
}

static void test_tsp_cli_config_unknown_flag_exits_2(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"config", "--yaml", NULL};
    const char *envp[] = {NULL};

    run_tspool(f, args, envp);
    assert_int_equal(f->run.status, 2);
    assert_string_equal(f->run.out, "");
    assert_true(strncmp(f->run.err, "tspool config: unknown option '--yaml'\nusage: tspool config",
                        59) == 0);
}

static void test_tsp_cli_config_help_lists_variables(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"config", "--help", NULL};
    const char *envp[] = {"DB_MAX_CONNS=abc", NULL}; /* --help does not load the configuration */

    run_tspool(f, args, envp);
    assert_int_equal(f->run.status, 0);
    assert_string_equal(f->run.err, "");
    assert_true(strncmp(f->run.out, "usage: tspool config [--json] [--help]\n", 39) == 0);
    for (size_t i = 0; i < tsp_config_var_count(); i++) {
        char needle[96];
        snprintf(needle, sizeof(needle), "\n%s ", tsp_config_var_at(i)->name);
        assert_non_null(strstr(f->run.out, needle));
    }
    assert_non_null(strstr(f->run.out, "\nDB_PASS_FILE "));
    assert_non_null(strstr(f->run.out, "\nDB_MAX_CONNS                    20 "));
}

static void test_tsp_cli_version_prints_libraries(void **state)
{
    struct fixture *f = *state;
    const char *args[] = {"version", NULL};
    const char *envp[] = {NULL};

    run_tspool(f, args, envp);
    assert_int_equal(f->run.status, 0);
    assert_true(strncmp(f->run.out, "tspool ", 7) == 0);
    assert_non_null(strstr(f->run.out, "\nlibpq "));
    assert_non_null(strstr(f->run.out, "\njansson "));
    assert_non_null(strstr(f->run.out, "\nlibcurl "));
    assert_string_equal(f->run.err, "");
}

static void test_tsp_cli_version_flags(void **state)
{
    struct fixture *f = *state;
    const char *help[] = {"version", "--help", NULL};
    const char *bad[] = {"version", "--short", NULL};
    const char *envp[] = {NULL};

    run_tspool(f, help, envp);
    assert_int_equal(f->run.status, 0);
    assert_true(strncmp(f->run.out, "usage: tspool version", 21) == 0);
    run_tspool(f, bad, envp);
    assert_int_equal(f->run.status, 2);
    assert_string_equal(f->run.out, "");
    assert_true(strncmp(f->run.err, "tspool version: unknown option '--short'\n", 41) == 0);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tsp_cli_config_invalid_value_exits_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsp_cli_config_json_invalid_exits_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsp_cli_config_table_redacts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsp_cli_config_json_every_variable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsp_cli_config_reads_dotenv_in_cwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsp_cli_config_unknown_flag_exits_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsp_cli_config_help_lists_variables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsp_cli_version_prints_libraries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsp_cli_version_flags, setup, teardown),
    };
    return cmocka_run_group_tests_name("cli_config", tests, NULL, NULL);
}
