/* test_config.c - unit tests of the configuration: defaults, each precedence level, the
 * error lines of tests/data/config_errors.cases, *_FILE, profiles and redaction
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config_int.h"

#define MAX_ENV 16

/* A loaded configuration per test (setup/teardown release it even when an assert fails). */
struct fixture {
    struct tsp_config cfg;
    struct tsp_error err;
    char *env[MAX_ENV + 1];
    size_t nenv;
    char tmp_paths[2][64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return -1;
    }
    tsp_error_init(&f->err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tsp_config_fini(&f->cfg);
    for (size_t i = 0; i < f->nenv; i++) {
        free(f->env[i]);
    }
    for (size_t i = 0; i < 2; i++) {
        if (f->tmp_paths[i][0] != '\0') {
            unlink(f->tmp_paths[i]);
        }
    }
    free(f);
    return 0;
}

/* Add prefix + rest (NAME=value) to the fixture's environment; "@DATA@" in rest becomes
 * the tests/data directory. */
static void env_add2(struct fixture *f, const char *prefix, const char *rest)
{
    char buf[2048];
    const char *data = strstr(rest, "@DATA@");

    if (data != NULL) {
        snprintf(buf, sizeof(buf), "%s%.*s%s/tests/data%s", prefix, (int)(data - rest), rest,
                 tsp_test_source_dir(), data + 6);
    } else {
        snprintf(buf, sizeof(buf), "%s%s", prefix, rest);
    }
    assert_true(f->nenv < MAX_ENV);
    f->env[f->nenv] = strdup(buf);
    assert_non_null(f->env[f->nenv]);
    f->nenv++;
    f->env[f->nenv] = NULL;
}

static void env_add(struct fixture *f, const char *text)
{
    env_add2(f, "", text);
}

static enum tsp_code load(struct fixture *f, const char *default_env_file)
{
    return tsp_config_load_with_default_env(&f->cfg, f->env, default_env_file, &f->err);
}

static void load_ok(struct fixture *f)
{
    enum tsp_code rc = load(f, NULL);
    if (rc != TSP_OK) {
        fail_msg("load failed: %s", f->err.detail);
    }
}

static size_t row(const char *name)
{
    const struct tsp_config_var *var = tsp_config_var_find(name);
    assert_non_null(var);
    return (size_t)(var - tsp_config_var_at(0));
}

static const struct tsp_config_origin *origin(const struct fixture *f, const char *name)
{
    return tsp_config_origin_at(&f->cfg, row(name));
}

static void data_path(const char *rel, char *buf, size_t size)
{
    snprintf(buf, size, "%s/tests/data/%s", tsp_test_source_dir(), rel);
}

/* Write text to a new temporary file whose path is kept in f->tmp_paths[slot]. */
static const char *write_tmp(struct fixture *f, int slot, const char *text)
{
    char *path = f->tmp_paths[slot];
    int fd = -1;
    FILE *fp = NULL;

    snprintf(path, sizeof(f->tmp_paths[slot]), "/tmp/tspool-test-config-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

static void test_tsp_config_load_defaults(void **state)
{
    struct fixture *f = *state;
    const struct tsp_config *c = &f->cfg;

    load_ok(f);
    assert_string_equal(c->db_host, "localhost");
    assert_string_equal(c->db_port, "5432");
    assert_string_equal(c->db_name, "postgres");
    assert_string_equal(c->db_user, "postgres");
    assert_null(c->db_pass);
    assert_int_equal(c->db_connect_timeout_s, 5);
    assert_int_equal(c->db_statement_timeout_ms, -1);
    assert_string_equal(c->db_sslmode, "prefer");
    assert_string_equal(c->db_application_name, "tspool");
    assert_string_equal(c->db_target_session_attrs, "read-write");
    assert_string_equal(c->db_session_settings, "");
    assert_int_equal(c->db_max_conns, 20);
    assert_int_equal(c->db_max_overflow, 10);
    assert_int_equal(c->db_max_conns_dev, 10);
    assert_int_equal(c->db_max_overflow_dev, 5);
    assert_int_equal(c->db_pool_recycle_s, 3600);
    assert_int_equal(c->db_pool_timeout_s, 30);
    assert_int_equal(c->db_min_conns, 0);
    assert_int_equal(c->db_slow_query_ms, 1000);
    assert_int_equal(c->db_leak_detection_ms, 60000);
    assert_int_equal(c->db_preping_idle_ms, 1000);
    assert_int_equal(c->db_idle_timeout_s, 600);
    assert_false(c->celery_worker_running);
    assert_int_equal(c->db_pool_mode, TSP_POOL_MODE_POOLED);
    assert_int_equal(c->pool_size, 20);
    assert_int_equal(c->pool_max_overflow, 10);
    assert_int_equal(c->pool_mode, TSP_POOL_MODE_POOLED);
    assert_string_equal(c->env, "production");
    assert_null(c->env_file);
    assert_string_equal(c->listen, "0.0.0.0:8080");
    assert_string_equal(c->listen_host, "0.0.0.0");
    assert_int_equal(c->listen_port, 8080);
    assert_null(c->admin_token);
    assert_null(c->read_token);
    assert_true(c->public_probes);
    assert_true(c->public_metrics);
    assert_string_equal(c->log_format, "json");
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->shutdown_delay_s, 5);
    assert_int_equal(c->shutdown_grace_s, 30);
    assert_int_equal(c->http_threads, 64);
    assert_int_equal(c->http_keep_alive_ms, 5000);
    assert_int_equal(c->http_request_timeout_ms, 10000);
    assert_int_equal(c->http_connection_queue, 1024);
    assert_int_equal(c->health_interval_ms, 2000);
    assert_int_equal(c->stats_log_interval_s, 60);
    assert_int_equal(c->ready_max_waiting, 0);
    assert_string_equal(c->db_read_hosts, "");
    assert_null(c->db_read_port);
    assert_int_equal(c->read_pool_size, 10); /* half of DB_MAX_CONNS=20 */
    assert_true(c->db_read_max_lag_bytes == 16LL * 1024 * 1024);
    assert_int_equal(c->db_read_max_lag_ms, 10000);
    assert_string_equal(c->db_read_fallback, "primary");
    assert_int_equal(c->timescaledb_refresh_ms, 30000);
    assert_int_equal(c->activity_interval_ms, 2000);
    assert_int_equal(c->statements_interval_ms, 60000);
    assert_int_equal(c->query_text_max, 1024);
    assert_int_equal(c->nwarnings, 0);
}

/* Every row's formatted value is its default text, with source "default". */
static void test_tsp_config_format_value_defaults_match_table(void **state)
{
    struct fixture *f = *state;
    char buf[256];

    load_ok(f);
    assert_int_equal(tsp_config_var_count(), 68);
    for (size_t i = 0; i < tsp_config_var_count(); i++) {
        const struct tsp_config_var *var = tsp_config_var_at(i);
        const char *expected = var->default_value != NULL ? var->default_value : "";
        if (var->type == TSP_CONFIG_BOOL && var->default_value == NULL) {
            expected = "false";
        }
        if (strcmp(var->name, "TSPOOL_ENV_FILE") == 0) {
            expected = ""; /* the default ./.env is shown only when it was read */
        }
        tsp_config_format_value(&f->cfg, i, true, buf, sizeof(buf));
        if (strcmp(buf, expected) != 0) {
            fail_msg("%s: \"%s\" != default \"%s\"", var->name, buf, expected);
        }
        assert_int_equal(f->cfg.origins[i].source, TSP_CONFIG_SRC_DEFAULT);
        assert_string_equal(f->cfg.origins[i].where, "");
        assert_non_null(var->help);
    }
    assert_null(tsp_config_var_at(tsp_config_var_count()));
    assert_null(tsp_config_var_find("NOPE"));
}

static void test_tsp_config_load_dotenv_level(void **state)
{
    struct fixture *f = *state;
    char where[1200];

    env_add(f, "TSPOOL_ENV_FILE=@DATA@/dotenv/precedence.env");
    load_ok(f);
    assert_int_equal(f->cfg.db_max_conns, 25);
    assert_int_equal(origin(f, "DB_MAX_CONNS")->source, TSP_CONFIG_SRC_DOTENV);
    data_path("dotenv/precedence.env:2", where, sizeof(where));
    assert_string_equal(origin(f, "DB_MAX_CONNS")->where, where);
    assert_string_equal(f->cfg.log_level, "debug");
    assert_string_equal(f->cfg.db_pass, "from-dotenv");
    assert_int_equal(origin(f, "DB_PASS")->source, TSP_CONFIG_SRC_DOTENV);
    data_path("dotenv/precedence.env", where, sizeof(where));
    assert_string_equal(f->cfg.env_file, where);
    assert_int_equal(origin(f, "TSPOOL_ENV_FILE")->source, TSP_CONFIG_SRC_ENV);
    assert_int_equal(origin(f, "DB_HOST")->source, TSP_CONFIG_SRC_DEFAULT);
}

static void test_tsp_config_load_environment_overrides_dotenv(void **state)
{
    struct fixture *f = *state;

    env_add(f, "TSPOOL_ENV_FILE=@DATA@/dotenv/precedence.env");
    env_add(f, "DB_MAX_CONNS=30");
    env_add(f, "DB_PASS=from-env");
    load_ok(f);
    assert_int_equal(f->cfg.db_max_conns, 30);
    assert_int_equal(origin(f, "DB_MAX_CONNS")->source, TSP_CONFIG_SRC_ENV);
    assert_string_equal(origin(f, "DB_MAX_CONNS")->where, "");
    assert_string_equal(f->cfg.db_pass, "from-env");
    assert_int_equal(f->cfg.db_max_overflow, 11); /* still from the .env */
    assert_int_equal(origin(f, "DB_MAX_OVERFLOW")->source, TSP_CONFIG_SRC_DOTENV);
}

static void test_tsp_config_load_default_dotenv_when_present(void **state)
{
    struct fixture *f = *state;
    char path[1024];

    data_path("dotenv/precedence.env", path, sizeof(path));
    assert_int_equal(load(f, path), TSP_OK);
    assert_int_equal(f->cfg.db_max_conns, 25);
    assert_string_equal(f->cfg.env_file, path);
    assert_int_equal(origin(f, "TSPOOL_ENV_FILE")->source, TSP_CONFIG_SRC_DEFAULT);
}

static void test_tsp_config_load_default_dotenv_absent_is_fine(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "/nonexistent/dir/.env"), TSP_OK);
    assert_null(f->cfg.env_file);
    assert_int_equal(f->cfg.db_max_conns, 20);
}

static void test_tsp_config_load_file_overrides_environment(void **state)
{
    struct fixture *f = *state;
    char text[1200];
    char secret[1024];
    const char *dotenv = NULL;

    data_path("secrets/pass_newline.txt", secret, sizeof(secret));
    snprintf(text, sizeof(text), "DB_PASS_FILE=%s\n", secret);
    dotenv = write_tmp(f, 0, text);
    env_add2(f, "TSPOOL_ENV_FILE=", dotenv);
    env_add(f, "DB_PASS=from-env");
    load_ok(f);
    assert_string_equal(f->cfg.db_pass, "s3cret-pass");
    assert_int_equal(origin(f, "DB_PASS")->source, TSP_CONFIG_SRC_FILE);
    assert_string_equal(origin(f, "DB_PASS")->where, secret);
}

static void test_tsp_config_load_env_file_var_overrides_dotenv_secret(void **state)
{
    struct fixture *f = *state;
    char secret[1024];

    env_add(f, "TSPOOL_ENV_FILE=@DATA@/dotenv/precedence.env");
    env_add(f, "DB_PASS_FILE=@DATA@/secrets/pass_crlf.txt");
    env_add(f, "TSPOOL_ADMIN_TOKEN_FILE=@DATA@/secrets/admin_token.txt");
    load_ok(f);
    assert_string_equal(f->cfg.db_pass, "s3cret-pass");
    data_path("secrets/pass_crlf.txt", secret, sizeof(secret));
    assert_string_equal(origin(f, "DB_PASS")->where, secret);
    assert_string_equal(f->cfg.admin_token, "admin-token-from-file");
    assert_int_equal(origin(f, "TSPOOL_ADMIN_TOKEN")->source, TSP_CONFIG_SRC_FILE);
}

static void test_tsp_config_load_secret_file_newlines(void **state)
{
    static const struct {
        const char *file;
        const char *value;
    } cases[] = {
        {"secrets/pass_newline.txt", "s3cret-pass"},
        {"secrets/pass_crlf.txt", "s3cret-pass"},
        {"secrets/pass_plain.txt", "s3cret-pass"},
        {"secrets/pass_two_newlines.txt", "s3cret-pass\n"}, /* only one newline is dropped */
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tsp_config cfg;
        struct tsp_error err;
        char path[1024];
        char var[1100];
        char *envp[] = {var, NULL};

        memset(&cfg, 0, sizeof(cfg));
        tsp_error_init(&err);
        data_path(cases[i].file, path, sizeof(path));
        snprintf(var, sizeof(var), "DB_PASS_FILE=%s", path);
        assert_int_equal(tsp_config_load_with_default_env(&cfg, envp, NULL, &err), TSP_OK);
        assert_string_equal(cfg.db_pass, cases[i].value);
        tsp_config_fini(&cfg);
    }
}

static void test_tsp_config_load_empty_values_as_unset(void **state)
{
    struct fixture *f = *state;

    env_add(f, "TSPOOL_PUBLIC_PROBES=");
    env_add(f, "CELERY_WORKER_RUNNING=");
    env_add(f, "DB_PASS=");
    env_add(f, "DB_PASS_FILE=");
    env_add(f, "TSPOOL_ENV_FILE=");
    assert_int_equal(load(f, "/nonexistent/.env"), TSP_OK);
    assert_true(f->cfg.public_probes);
    assert_int_equal(origin(f, "TSPOOL_PUBLIC_PROBES")->source, TSP_CONFIG_SRC_DEFAULT);
    assert_false(f->cfg.celery_worker_running);
    assert_null(f->cfg.db_pass);
    assert_null(f->cfg.env_file);
}

static void test_tsp_config_load_values_of_each_type(void **state)
{
    struct fixture *f = *state;

    env_add(f, "DB_HOST=db1,db2,/var/run/postgresql");
    env_add(f, "DB_PORT=5432,5433,5434");
    env_add(f, "DB_SSLMODE=verify-full");
    env_add(f, "TSPOOL_PUBLIC_METRICS=OFF");
    env_add(f, "DB_SESSION_SETTINGS=work_mem=64MB,search_path=app,pg_trgm.limit=0.5");
    env_add(f, "TSPOOL_LISTEN=[::1]:9000");
    env_add(f, "DB_MIN_CONNS=20");
    env_add(f, "DB_STATEMENT_TIMEOUT_MS=86400000");
    load_ok(f);
    assert_string_equal(f->cfg.db_host, "db1,db2,/var/run/postgresql");
    assert_string_equal(f->cfg.db_port, "5432,5433,5434");
    assert_string_equal(f->cfg.db_sslmode, "verify-full");
    assert_false(f->cfg.public_metrics);
    assert_string_equal(f->cfg.db_session_settings,
                        "work_mem=64MB,search_path=app,pg_trgm.limit=0.5");
    assert_string_equal(f->cfg.listen_host, "::1");
    assert_int_equal(f->cfg.listen_port, 9000);
    assert_int_equal(f->cfg.db_min_conns, 20);
    assert_int_equal(f->cfg.db_statement_timeout_ms, 86400000);
}

static void test_tsp_config_parse_bool_words(void **state)
{
    static const char *const yes[] = {"1", "true", "TRUE", "Yes", "on", "ON"};
    static const char *const no[] = {"0", "false", "False", "no", "off", "OfF"};
    static const char *const bad[] = {"", "2", "y", "n", "truee", " true", "enabled"};
    bool b = false;
    (void)state;

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        b = false;
        assert_true(tsp_config_parse_bool(yes[i], &b));
        assert_true(b);
        assert_true(tsp_config_parse_bool(no[i], &b));
        assert_false(b);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(tsp_config_parse_bool(bad[i], &b));
    }
}

static void test_tsp_config_load_development_profile(void **state)
{
    struct fixture *f = *state;
    char buf[64];

    env_add(f, "TSPOOL_ENV=development");
    env_add(f, "DB_MAX_CONNS_DEV=7");
    load_ok(f);
    assert_int_equal(f->cfg.db_max_conns, 20);
    assert_int_equal(f->cfg.pool_size, 7);
    assert_int_equal(f->cfg.pool_max_overflow, 5);
    assert_int_equal(f->cfg.pool_size_origin.source, TSP_CONFIG_SRC_PROFILE);
    assert_string_equal(f->cfg.pool_size_origin.where, "TSPOOL_ENV=development: DB_MAX_CONNS_DEV");
    assert_int_equal(f->cfg.pool_max_overflow_origin.source, TSP_CONFIG_SRC_PROFILE);
    assert_string_equal(f->cfg.pool_max_overflow_origin.where,
                        "TSPOOL_ENV=development: DB_MAX_OVERFLOW_DEV");
    assert_int_equal(f->cfg.pool_mode, TSP_POOL_MODE_POOLED);
    assert_string_equal(tsp_config_format_value(&f->cfg, row("TSPOOL_ENV"), true, buf, sizeof(buf)),
                        "development");
}

static void test_tsp_config_load_production_origins(void **state)
{
    struct fixture *f = *state;

    env_add(f, "DB_MAX_CONNS=12");
    load_ok(f);
    assert_int_equal(f->cfg.pool_size, 12);
    assert_int_equal(f->cfg.pool_size_origin.source, TSP_CONFIG_SRC_ENV);
    assert_string_equal(f->cfg.pool_size_origin.where, "DB_MAX_CONNS");
    assert_int_equal(f->cfg.pool_max_overflow_origin.source, TSP_CONFIG_SRC_DEFAULT);
    assert_string_equal(f->cfg.pool_mode_origin.where, "DB_POOL_MODE");
}

static void test_tsp_config_load_celery_mode(void **state)
{
    static const char *const on[] = {"CELERY_WORKER_RUNNING=1", "CELERY_WORKER_RUNNING=True"};
    (void)state;

    for (size_t i = 0; i < 2; i++) {
        struct tsp_config cfg;
        struct tsp_error err;
        char *envp[] = {(char *)(uintptr_t)on[i], NULL};

        memset(&cfg, 0, sizeof(cfg));
        tsp_error_init(&err);
        assert_int_equal(tsp_config_load_with_default_env(&cfg, envp, NULL, &err), TSP_OK);
        assert_true(cfg.celery_worker_running);
        assert_int_equal(cfg.db_pool_mode, TSP_POOL_MODE_POOLED);
        assert_int_equal(cfg.pool_mode, TSP_POOL_MODE_DIRECT);
        assert_int_equal(cfg.pool_mode_origin.source, TSP_CONFIG_SRC_PROFILE);
        assert_string_equal(cfg.pool_mode_origin.where, "CELERY_WORKER_RUNNING=true");
        tsp_config_fini(&cfg);
    }
}

static void test_tsp_config_load_celery_off_and_direct_mode(void **state)
{
    struct fixture *f = *state;

    env_add(f, "CELERY_WORKER_RUNNING=0");
    env_add(f, "DB_POOL_MODE=direct");
    load_ok(f);
    assert_false(f->cfg.celery_worker_running);
    assert_int_equal(f->cfg.db_pool_mode, TSP_POOL_MODE_DIRECT);
    assert_int_equal(f->cfg.pool_mode, TSP_POOL_MODE_DIRECT);
    assert_int_equal(f->cfg.pool_mode_origin.source, TSP_CONFIG_SRC_ENV);
    assert_string_equal(f->cfg.pool_mode_origin.where, "DB_POOL_MODE");
}

static void test_tsp_config_load_warns_unknown_names(void **state)
{
    struct fixture *f = *state;
    char expected[1200];

    env_add(f, "TSPOOL_ENV_FILE=@DATA@/dotenv/unknown.env");
    env_add(f, "TSPOOL_LSTEN=1");
    env_add(f, "HOME=/root");
    env_add(f, "DB_HOST_FILE=/x");
    load_ok(f);
    assert_int_equal(f->cfg.nwarnings, 4);
    data_path("dotenv/unknown.env:1: unknown variable TSPOOL_LSTEN ignored", expected,
              sizeof(expected));
    assert_string_equal(f->cfg.warnings[0], expected);
    data_path("dotenv/unknown.env:2: unknown variable DB_MAX_CON ignored", expected,
              sizeof(expected));
    assert_string_equal(f->cfg.warnings[1], expected);
    assert_string_equal(f->cfg.warnings[2], "environment: unknown variable TSPOOL_LSTEN ignored");
    assert_string_equal(f->cfg.warnings[3], "environment: unknown variable DB_HOST_FILE ignored");
}

/* Redaction: the secret never appears in the table or the JSON, "********" does. */
static void test_tsp_config_print_redacts_secrets(void **state)
{
    struct fixture *f = *state;
    char *table = NULL;
    char *json = NULL;
    size_t len = 0;
    FILE *out = NULL;
    char buf[64];

    env_add(f, "DB_PASS=hunter2-db-secret");
    env_add(f, "TSPOOL_ADMIN_TOKEN=admin-tok-secret");
    env_add(f, "TSPOOL_READ_TOKEN_FILE=@DATA@/secrets/pass_newline.txt");
    load_ok(f);
    out = open_memstream(&table, &len);
    assert_non_null(out);
    tsp_config_print_table(&f->cfg, out);
    fclose(out);
    out = open_memstream(&json, &len);
    assert_non_null(out);
    assert_int_equal(tsp_config_print_json(&f->cfg, out, &f->err), TSP_OK);
    fclose(out);
    for (int i = 0; i < 2; i++) {
        const char *text = i == 0 ? table : json;
        assert_null(strstr(text, "hunter2"));
        assert_null(strstr(text, "admin-tok"));
        assert_null(strstr(text, "s3cret"));
        assert_non_null(strstr(text, TSP_CONFIG_REDACTED));
    }
    assert_non_null(strstr(table, "\nDB_PASS "));
    assert_string_equal(tsp_config_format_value(&f->cfg, row("DB_PASS"), true, buf, sizeof(buf)),
                        "********");
    assert_string_equal(tsp_config_format_value(&f->cfg, row("DB_PASS"), false, buf, sizeof(buf)),
                        "hunter2-db-secret");
    free(table);
    free(json);
}

static void test_tsp_config_print_json_lists_every_variable(void **state)
{
    struct fixture *f = *state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = NULL;
    json_t *root = NULL;
    json_t *vars = NULL;
    json_error_t jerr;

    env_add(f, "DB_MAX_CONNS=12");
    env_add(f, "DB_PASS=hunter2");
    load_ok(f);
    out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(tsp_config_print_json(&f->cfg, out, &f->err), TSP_OK);
    fclose(out);
    root = json_loads(text, 0, &jerr);
    free(text);
    assert_non_null(root);
    vars = json_object_get(root, "variables");
    assert_int_equal(json_array_size(vars), tsp_config_var_count());
    for (size_t i = 0; i < tsp_config_var_count(); i++) {
        json_t *item = json_array_get(vars, i);
        assert_string_equal(json_string_value(json_object_get(item, "name")),
                            tsp_config_var_at(i)->name);
        assert_non_null(json_object_get(item, "value"));
        assert_non_null(json_string_value(json_object_get(item, "source")));
        assert_non_null(json_string_value(json_object_get(item, "help")));
    }
    json_t *mc = json_array_get(vars, row("DB_MAX_CONNS"));
    assert_int_equal(json_integer_value(json_object_get(mc, "value")), 12);
    assert_string_equal(json_string_value(json_object_get(mc, "source")), "environment");
    json_t *pass = json_array_get(vars, row("DB_PASS"));
    assert_string_equal(json_string_value(json_object_get(pass, "value")), "********");
    assert_true(json_is_true(json_object_get(pass, "secret")));
    json_t *tok = json_array_get(vars, row("TSPOOL_READ_TOKEN"));
    assert_true(json_is_null(json_object_get(tok, "value")));
    json_t *eff = json_object_get(root, "effective");
    assert_int_equal(json_array_size(eff), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(eff, 0), "name")),
                        "pool_size");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(eff, 0), "value")), 12);
    assert_string_equal(json_string_value(json_object_get(json_array_get(eff, 2), "value")),
                        "pooled");
    assert_int_equal(json_array_size(json_object_get(root, "warnings")), 0);
    json_decref(root);
}

static void test_tsp_config_print_table_effective_lines(void **state)
{
    struct fixture *f = *state;
    char *table = NULL;
    size_t len = 0;
    FILE *out = NULL;

    env_add(f, "TSPOOL_ENV=development");
    env_add(f, "CELERY_WORKER_RUNNING=yes");
    load_ok(f);
    out = open_memstream(&table, &len);
    assert_non_null(out);
    tsp_config_print_table(&f->cfg, out);
    fclose(out);
    assert_true(strncmp(table, "NAME ", 5) == 0);
    assert_non_null(strstr(table, "\neffective pool size             10            profile "
                                  "(TSPOOL_ENV=development: DB_MAX_CONNS_DEV)\n"));
    assert_non_null(strstr(table, "\neffective pool mode             direct        profile "
                                  "(CELERY_WORKER_RUNNING=true)\n"));
    assert_non_null(strstr(table, "\nDB_PASS                         (unset)       default\n"));
    free(table);
}

static void test_tsp_config_echo_escapes(void **state)
{
    char buf[TSP_CONFIG_ECHO_MAX * 4 + 8];
    (void)state;

    assert_string_equal(tsp_config_echo("a\"b\\c\n\x7f", buf, sizeof(buf)),
                        "a\\\"b\\\\c\\x0a\\x7f");
    assert_string_equal(tsp_config_echo("", buf, sizeof(buf)), "");
}

/* Substitute @DATA@ in a case line and, when decode is set (env lines), decode "\xNN" and
 * "\\"; error lines are compared as written. */
static void case_text(const char *in, bool decode, char *out, size_t size)
{
    char data[1024];
    size_t o = 0;

    snprintf(data, sizeof(data), "%s/tests/data", tsp_test_source_dir());
    for (const char *p = in; *p != '\0' && o + 1 < size; p++) {
        if (strncmp(p, "@DATA@", 6) == 0) {
            o += (size_t)snprintf(out + o, size - o, "%s", data);
            p += 5;
        } else if (decode && p[0] == '\\' && p[1] == 'x' && p[2] != '\0' && p[3] != '\0') {
            char hex[3] = {p[2], p[3], '\0'};
            out[o++] = (char)strtol(hex, NULL, 16);
            p += 3;
        } else if (decode && p[0] == '\\' && p[1] == '\\') {
            out[o++] = '\\';
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o < size ? o : size - 1] = '\0';
}

/* Run one case: load with its environment, compare the error line. Returns 1 on mismatch. */
static int run_case(const char *name, char **env, size_t nenv, const char *expected)
{
    struct tsp_config cfg;
    struct tsp_error err;
    enum tsp_code rc = TSP_OK;
    int failed = 0;

    memset(&cfg, 0, sizeof(cfg));
    tsp_error_init(&err);
    env[nenv] = NULL;
    rc = tsp_config_load_with_default_env(&cfg, env, NULL, &err);
    if (rc == TSP_OK) {
        printf("case %s: loaded, expected error: %s\n", name, expected);
        failed = 1;
    } else if (strcmp(err.detail, expected) != 0) {
        printf("case %s:\n  expected: %s\n  got:      %s\n", name, expected, err.detail);
        failed = 1;
    } else if (strstr(err.detail, "hunter2") != NULL || strchr(err.detail, '\n') != NULL) {
        printf("case %s: secret or newline in the error line\n", name);
        failed = 1;
    } else if (cfg.origins != NULL || cfg.db_host != NULL) {
        printf("case %s: cfg written on error\n", name);
        failed = 1;
    }
    tsp_config_fini(&cfg);
    return failed;
}

static void test_tsp_config_load_error_cases(void **state)
{
    char path[1024];
    char line[4096];
    char name[256] = "";
    char *env[MAX_ENV + 1];
    size_t nenv = 0;
    int ncases = 0;
    int failures = 0;
    FILE *fp = NULL;
    (void)state;

    data_path("config_errors.cases", path, sizeof(path));
    fp = fopen(path, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp) != NULL) {
        char text[4096];
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '[') {
            assert_int_equal(nenv, 0);
            snprintf(name, sizeof(name), "%.*s", (int)(strlen(line) - 2), line + 1);
        } else if (strncmp(line, "env ", 4) == 0) {
            assert_true(nenv < MAX_ENV);
            case_text(line + 4, true, text, sizeof(text));
            env[nenv++] = strdup(text);
        } else if (strncmp(line, "error ", 6) == 0) {
            case_text(line + 6, false, text, sizeof(text));
            failures += run_case(name, env, nenv, text);
            ncases++;
            for (size_t i = 0; i < nenv; i++) {
                free(env[i]);
            }
            nenv = 0;
        }
    }
    fclose(fp);
    assert_int_equal(nenv, 0);
    assert_true(ncases >= 60);
    if (failures != 0) {
        fail_msg("%d of %d cases in config_errors.cases failed", failures, ncases);
    }
}

/* Replace path's content the way a Secret volume does: a new file renamed over it. */
static void replace_file(const char *path, const char *text)
{
    char tmp[96];
    FILE *out = NULL;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    out = fopen(tmp, "w");
    assert_non_null(out);
    fputs(text, out);
    fclose(out);
    assert_int_equal(rename(tmp, path), 0);
}

static void test_tsp_file_watch_changed_once_per_replacement(void **state)
{
    struct fixture *f = *state;
    const char *path = write_tmp(f, 0, "old\n");
    struct tsp_file_watch *w = tsp_file_watch_new(path, 0);

    assert_non_null(w);
    assert_string_equal(tsp_file_watch_path(w), path);
    assert_false(tsp_file_watch_changed(w)); /* the file as it was is the baseline */
    replace_file(path, "new\n");
    assert_true(tsp_file_watch_changed(w));
    assert_false(tsp_file_watch_changed(w)); /* reported once */
    unlink(path);
    assert_false(tsp_file_watch_changed(w)); /* a missing file is not a change */
    replace_file(path, "newer\n");
    assert_true(tsp_file_watch_changed(w));
    tsp_file_watch_free(w);
    tsp_file_watch_free(NULL);
}

static void test_tsp_file_watch_changed_waits_for_its_interval(void **state)
{
    struct fixture *f = *state;
    const char *path = write_tmp(f, 0, "old\n");
    struct tsp_file_watch *w = tsp_file_watch_new(path, 60000);

    assert_non_null(w);
    replace_file(path, "new\n");
    assert_false(tsp_file_watch_changed(w)); /* not looked at again within the interval */
    tsp_file_watch_free(w);
}

static void test_tsp_config_read_secret_rules(void **state)
{
    struct fixture *f = *state;
    char *out = NULL;

    assert_int_equal(
        tsp_config_read_secret("DB_PASS", write_tmp(f, 0, "s3cret\r\n"), &out, &f->err), TSP_OK);
    assert_string_equal(out, "s3cret");
    free(out);
    out = NULL;
    assert_int_equal(tsp_config_read_secret("DB_PASS", write_tmp(f, 1, "\n"), &out, &f->err),
                     TSP_INVALID);
    assert_null(out);
    assert_string_equal(f->err.field, "DB_PASS");
    assert_non_null(strstr(f->err.detail, "DB_PASS_FILE: file"));
    assert_non_null(strstr(f->err.detail, "is empty"));
    tsp_error_init(&f->err);
    assert_int_equal(tsp_config_read_secret("DB_PASS", "/nonexistent/tspool-pass", &out, &f->err),
                     TSP_IO);
    assert_non_null(strstr(f->err.detail, "cannot read \"/nonexistent/tspool-pass\""));
}

static void test_tsp_config_file_of_names_the_secret_file(void **state)
{
    struct fixture *f = *state;
    char var[128];
    const char *path = write_tmp(f, 0, "pw\n");
    char *env[] = {var, NULL};

    snprintf(var, sizeof(var), "DB_PASS_FILE=%s", path);
    assert_int_equal(tsp_config_load_with_default_env(&f->cfg, env, "/nonexistent/.env", &f->err),
                     TSP_OK);
    assert_string_equal(tsp_config_file_of(&f->cfg, "DB_PASS"), path);
    assert_null(tsp_config_file_of(&f->cfg, "TSPOOL_ADMIN_TOKEN"));
}

int tsp_test_run(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_tsp_config_load_defaults),
        T(test_tsp_config_format_value_defaults_match_table),
        T(test_tsp_config_load_dotenv_level),
        T(test_tsp_config_load_environment_overrides_dotenv),
        T(test_tsp_config_load_default_dotenv_when_present),
        T(test_tsp_config_load_default_dotenv_absent_is_fine),
        T(test_tsp_config_load_file_overrides_environment),
        T(test_tsp_config_load_env_file_var_overrides_dotenv_secret),
        T(test_tsp_config_load_secret_file_newlines),
        T(test_tsp_config_load_empty_values_as_unset),
        T(test_tsp_config_load_values_of_each_type),
        T(test_tsp_config_parse_bool_words),
        T(test_tsp_config_load_development_profile),
        T(test_tsp_config_load_production_origins),
        T(test_tsp_config_load_celery_mode),
        T(test_tsp_config_load_celery_off_and_direct_mode),
        T(test_tsp_config_load_warns_unknown_names),
        T(test_tsp_config_print_redacts_secrets),
        T(test_tsp_config_print_json_lists_every_variable),
        T(test_tsp_config_print_table_effective_lines),
        T(test_tsp_config_echo_escapes),
        T(test_tsp_config_load_error_cases),
        T(test_tsp_file_watch_changed_once_per_replacement),
        T(test_tsp_file_watch_changed_waits_for_its_interval),
        T(test_tsp_config_read_secret_rules),
        T(test_tsp_config_file_of_names_the_secret_file),
    };
#undef T
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
