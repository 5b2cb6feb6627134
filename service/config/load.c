/* config/load.c - the table-driven loader: defaults < .env < environment < *_FILE, validation
 * with one-line errors, the origin of every value, and the derived pool settings.
 * SPDX-License-Identifier: MIT
 */
#include "config_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sources a variable can be set in, lowest first (defaults are not a level). */
enum level { LEVEL_DOTENV = 0, LEVEL_ENV = 1, LEVEL_COUNT = 2 };

/* The text chosen for one row before it is parsed. */
struct raw {
    const char *text; /* borrowed (default, .env entry, envp, file_text); NULL = unset */
    struct tsp_config_origin origin;
    bool plain_in[LEVEL_COUNT]; /* NAME set (non-empty) at this level */
    bool file_in[LEVEL_COUNT];  /* NAME_FILE set (non-empty) at this level; secrets only */
    const char *file_path;      /* NAME_FILE of the highest level that set it */
    char *file_text;            /* contents read from file_path */
};

/* Everything one load works on; freed by load_fini(). */
struct load {
    struct raw *raws;
    struct tsp_dotenv dotenv;
    char *env_file; /* the .env path read, or NULL */
    bool env_file_explicit;
    char **warnings;
    size_t nwarnings;
};

static const char *level_name(enum level level, const struct load *ld)
{
    return level == LEVEL_ENV ? "the environment" : ld->env_file;
}

static enum tsp_code add_warning(struct load *ld, const char *fmt, ...) TSP_PRINTF(2, 3);

static enum tsp_code add_warning(struct load *ld, const char *fmt, ...)
{
    char line[TSP_ERROR_DETAIL_MAX];
    char **grown = NULL;
    char *copy = NULL;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    copy = strdup(line);
    grown = realloc(ld->warnings, (ld->nwarnings + 1) * sizeof(*grown));
    if (copy == NULL || grown == NULL) {
        free(copy);
        if (grown != NULL) {
            ld->warnings = grown;
        }
        return TSP_NO_MEMORY;
    }
    ld->warnings = grown;
    ld->warnings[ld->nwarnings++] = copy;
    return TSP_OK;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Row index of a secret's NAME_FILE spelling, or -1. */
static long file_var_index(const char *name)
{
    size_t n = strlen(name);

    if (n <= 5 || strcmp(name + n - 5, "_FILE") != 0) {
        return -1;
    }
    for (size_t i = 0; i < tsp_config_nvars; i++) {
        const struct tsp_config_var *var = &tsp_config_vars[i];
        if (var->secret && strlen(var->name) == n - 5 && strncmp(var->name, name, n - 5) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static long var_index(const char *name)
{
    const struct tsp_config_var *var = tsp_config_var_find(name);
    return var != NULL ? (long)(var - tsp_config_vars) : -1;
}

/* Apply one NAME=value assignment from `level`; where is "path:line" for .env. */
static enum tsp_code apply(struct load *ld, enum level level, const char *name, const char *value,
                           const char *where)
{
    long i = var_index(name);
    long fi = file_var_index(name);

    if (i >= 0) {
        const struct tsp_config_var *var = &tsp_config_vars[i];
        struct raw *raw = &ld->raws[i];
        bool empty_is_unset = var->type == TSP_CONFIG_BOOL || var->secret;
        if (strcmp(name, "TSPOOL_ENV_FILE") == 0) {
            return level == LEVEL_DOTENV
                       ? add_warning(ld, "%s: TSPOOL_ENV_FILE has no effect in a .env file", where)
                       : TSP_OK;
        }
        if (value[0] == '\0' && empty_is_unset) {
            return TSP_OK;
        }
        raw->text = value;
        raw->origin.source = level == LEVEL_ENV ? TSP_CONFIG_SRC_ENV : TSP_CONFIG_SRC_DOTENV;
        snprintf(raw->origin.where, sizeof(raw->origin.where), "%s", where);
        raw->plain_in[level] = true;
        return TSP_OK;
    }
    if (fi >= 0) {
        struct raw *raw = &ld->raws[fi];
        if (value[0] != '\0') {
            raw->file_in[level] = true;
            raw->file_path = value;
        }
        return TSP_OK;
    }
    if (has_prefix(name, "TSPOOL_") || has_prefix(name, "DB_")) {
        return add_warning(ld, "%s: unknown variable %s ignored",
                           level == LEVEL_ENV ? "environment" : where, name);
    }
    return TSP_OK;
}

static const char *env_lookup(char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=') {
            return envp[i] + n + 1;
        }
    }
    return NULL;
}

static enum tsp_code read_dotenv(struct load *ld, char *const *envp, const char *default_path,
                                 struct tsp_error *err)
{
    const char *path = env_lookup(envp, "TSPOOL_ENV_FILE");
    char where[TSP_CONFIG_WHERE_MAX];
    enum tsp_code rc = TSP_OK;

    if (path != NULL && path[0] != '\0') {
        ld->env_file_explicit = true;
    } else {
        path = default_path;
        if (path == NULL || (access(path, F_OK) != 0 && errno == ENOENT)) {
            return TSP_OK;
        }
    }
    ld->env_file = strdup(path);
    if (ld->env_file == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, "TSPOOL_ENV_FILE", "out of memory");
    }
    rc = tsp_dotenv_read(path, &ld->dotenv, err);
    for (size_t i = 0; rc == TSP_OK && i < ld->dotenv.count; i++) {
        const struct tsp_dotenv_entry *e = &ld->dotenv.entries[i];
        snprintf(where, sizeof(where), "%s:%d", path, e->line);
        rc = apply(ld, LEVEL_DOTENV, e->key, e->value, where);
    }
    if (rc == TSP_NO_MEMORY) {
        (void)tsp_error_set(err, rc, "TSPOOL_ENV_FILE", "out of memory");
    }
    return rc;
}

static enum tsp_code apply_envp(struct load *ld, char *const *envp, struct tsp_error *err)
{
    char name[128];
    enum tsp_code rc = TSP_OK;

    for (size_t i = 0; rc == TSP_OK && envp != NULL && envp[i] != NULL; i++) {
        const char *eq = strchr(envp[i], '=');
        size_t n = eq != NULL ? (size_t)(eq - envp[i]) : 0;
        if (n == 0 || n >= sizeof(name)) {
            continue;
        }
        memcpy(name, envp[i], n);
        name[n] = '\0';
        rc = apply(ld, LEVEL_ENV, name, eq + 1, "");
    }
    if (rc != TSP_OK) {
        (void)tsp_error_set(err, rc, NULL, "out of memory");
    }
    return rc;
}

/* Resolve a secret's NAME / NAME_FILE: the file wins over NAME from any level, both at the
 * same level is an error, the file's one trailing newline is dropped. */
static enum tsp_code resolve_secret(struct load *ld, size_t i, struct tsp_error *err)
{
    const struct tsp_config_var *var = &tsp_config_vars[i];
    struct raw *raw = &ld->raws[i];
    size_t len = 0;
    int e = 0;

    for (int level = 0; level < LEVEL_COUNT; level++) {
        if (raw->plain_in[level] && raw->file_in[level]) {
            return tsp_error_set(err, TSP_INVALID, var->name,
                                 "%s: both %s and %s_FILE are set in %s: set only one of them",
                                 var->name, var->name, var->name,
                                 level_name((enum level)level, ld));
        }
    }
    if (raw->file_path == NULL) {
        return TSP_OK;
    }
    e = tsp_config_read_file(raw->file_path, &raw->file_text, &len);
    if (e != 0) {
        return tsp_error_set(err, e == ENOMEM ? TSP_NO_MEMORY : TSP_IO, var->name,
                             "%s_FILE: cannot read \"%s\": %s", var->name, raw->file_path,
                             strerror(e));
    }
    if (len > 0 && raw->file_text[len - 1] == '\n') {
        raw->file_text[--len] = '\0';
        if (len > 0 && raw->file_text[len - 1] == '\r') {
            raw->file_text[--len] = '\0';
        }
    }
    if (len == 0) {
        return tsp_error_set(err, TSP_INVALID, var->name, "%s_FILE: file \"%s\" is empty",
                             var->name, raw->file_path);
    }
    if (strlen(raw->file_text) != len) {
        return tsp_error_set(err, TSP_INVALID, var->name,
                             "%s_FILE: file \"%s\" contains a NUL byte", var->name, raw->file_path);
    }
    raw->text = raw->file_text;
    raw->origin.source = TSP_CONFIG_SRC_FILE;
    snprintf(raw->origin.where, sizeof(raw->origin.where), "%s", raw->file_path);
    return TSP_OK;
}

/* Strict decimal integer: optional '-', digits only, no spaces, no overflow. */
static bool parse_long(const char *text, long *out)
{
    const char *p = text[0] == '-' ? text + 1 : text;
    char *end = NULL;
    long v = 0;

    if (*p < '0' || *p > '9') {
        return false;
    }
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno == ERANGE || *end != '\0') {
        return false;
    }
    *out = v;
    return true;
}

static enum tsp_code enum_position(const struct tsp_config_var *var, const char *text, int *pos_out,
                                   struct tsp_error *err)
{
    char list[TSP_ERROR_DETAIL_MAX];
    size_t o = 0;
    const char *p = var->allowed;
    size_t tlen = strlen(text);
    int pos = 0;

    while (*p != '\0') {
        size_t n = strcspn(p, "|");
        if (n == tlen && strncmp(p, text, n) == 0) {
            *pos_out = pos;
            return TSP_OK;
        }
        p += n + (p[n] == '|' ? 1 : 0);
        pos++;
    }
    for (p = var->allowed; *p != '\0' && o + 3 < sizeof(list); p++) {
        if (*p == '|') {
            list[o++] = ',';
            list[o++] = ' ';
        } else {
            list[o++] = *p;
        }
    }
    list[o] = '\0';
    return tsp_config_invalid(err, var, text, "expected one of %s", list);
}

/* Parse and store one row's text into cfg. */
static enum tsp_code store(struct tsp_config *cfg, const struct tsp_config_var *var,
                           const char *text, struct tsp_error *err)
{
    char *base = (char *)cfg;
    enum tsp_code rc = TSP_OK;
    long v = 0;
    int pos = 0;
    bool b = false;
    char *copy = NULL;

    switch (var->type) {
    case TSP_CONFIG_INT:
        if (!parse_long(text, &v) || v < var->min || v > var->max) {
            return tsp_config_invalid(err, var, text, "expected an integer from %ld to %ld",
                                      var->min, var->max);
        }
        int iv = (int)v;
        memcpy(base + var->offset, &iv, sizeof(iv));
        return TSP_OK;
    case TSP_CONFIG_BOOL:
        if (!tsp_config_parse_bool(text, &b)) {
            return tsp_config_invalid(err, var, text,
                                      "expected one of 1, 0, true, false, yes, no, on, off");
        }
        memcpy(base + var->offset, &b, sizeof(b));
        return TSP_OK;
    case TSP_CONFIG_ENUM_INDEX:
        rc = enum_position(var, text, &pos, err);
        if (rc == TSP_OK) {
            _Static_assert(sizeof(enum tsp_pool_mode) == sizeof(int), "enum stored as int");
            memcpy(base + var->offset, &pos, sizeof(pos));
        }
        return rc;
    case TSP_CONFIG_ENUM:
        rc = enum_position(var, text, &pos, err);
        break;
    case TSP_CONFIG_STRING:
        rc = var->check != NULL ? var->check(var, text, err) : TSP_OK;
        break;
    }
    if (rc != TSP_OK) {
        return rc;
    }
    copy = strdup(text);
    if (copy == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, var->name, "out of memory");
    }
    memcpy(base + var->offset, &copy, sizeof(copy));
    return TSP_OK;
}

static void set_origin(struct tsp_config_origin *o, enum tsp_config_source source,
                       const char *where)
{
    o->source = source;
    snprintf(o->where, sizeof(o->where), "%s", where);
}

/* Cross-variable rules and the values the pool uses (profile and celery mode applied). */
static enum tsp_code derive(struct tsp_config *cfg, const struct raw *raws, struct tsp_error *err)
{
    bool dev = strcmp(cfg->env, "development") == 0;
    size_t hosts = tsp_config_list_count(cfg->db_host);
    size_t ports = tsp_config_list_count(cfg->db_port);
    size_t read_hosts = cfg->db_read_hosts != NULL && cfg->db_read_hosts[0] != '\0'
                            ? tsp_config_list_count(cfg->db_read_hosts)
                            : 0;
    long i_min = var_index("DB_MIN_CONNS");
    long i_size = var_index(dev ? "DB_MAX_CONNS_DEV" : "DB_MAX_CONNS");
    long i_over = var_index("DB_MAX_OVERFLOW");
    long i_mode = var_index("DB_POOL_MODE");

    if (ports > 1 && ports != hosts) {
        return tsp_config_invalid(err, tsp_config_var_find("DB_PORT"), cfg->db_port,
                                  "expected one port, or one per DB_HOST entry (%zu)", hosts);
    }
    if (cfg->db_read_port != NULL && tsp_config_list_count(cfg->db_read_port) > 1 &&
        tsp_config_list_count(cfg->db_read_port) != read_hosts) {
        return tsp_config_invalid(err, tsp_config_var_find("DB_READ_PORT"), cfg->db_read_port,
                                  "expected one port, or one per DB_READ_HOSTS entry (%zu)",
                                  read_hosts);
    }
    if (!tsp_config_parse_bytes(cfg->db_read_max_lag_bytes_text, &cfg->db_read_max_lag_bytes)) {
        cfg->db_read_max_lag_bytes = 0;
    }
    if (dev) {
        cfg->pool_size = cfg->db_max_conns_dev;
        cfg->pool_max_overflow = cfg->db_max_overflow_dev;
        set_origin(&cfg->pool_size_origin, TSP_CONFIG_SRC_PROFILE,
                   "TSPOOL_ENV=development: DB_MAX_CONNS_DEV");
        set_origin(&cfg->pool_max_overflow_origin, TSP_CONFIG_SRC_PROFILE,
                   "TSPOOL_ENV=development: DB_MAX_OVERFLOW_DEV");
    } else {
        cfg->pool_size = cfg->db_max_conns;
        cfg->pool_max_overflow = cfg->db_max_overflow;
        set_origin(&cfg->pool_size_origin, raws[i_size].origin.source, "DB_MAX_CONNS");
        set_origin(&cfg->pool_max_overflow_origin, raws[i_over].origin.source, "DB_MAX_OVERFLOW");
    }
    cfg->read_pool_size =
        cfg->db_read_max_conns > 0 ? cfg->db_read_max_conns : (cfg->pool_size + 1) / 2;
    if (raws[var_index("DB_STATEMENT_TIMEOUT_MS")].text == NULL) {
        cfg->db_statement_timeout_ms = -1; /* unset: leave the server's setting alone */
    }
    if (cfg->celery_worker_running) {
        cfg->pool_mode = TSP_POOL_MODE_DIRECT;
        set_origin(&cfg->pool_mode_origin, TSP_CONFIG_SRC_PROFILE, "CELERY_WORKER_RUNNING=true");
    } else {
        cfg->pool_mode = cfg->db_pool_mode;
        set_origin(&cfg->pool_mode_origin, raws[i_mode].origin.source, "DB_POOL_MODE");
    }
    if ((cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL)) {
        const char *missing =
            cfg->tls_cert_file == NULL ? "TSPOOL_TLS_CERT_FILE" : "TSPOOL_TLS_KEY_FILE";
        return tsp_error_set(
            err, TSP_INVALID, missing,
            "%s: not set, but needed with %s (HTTPS needs a certificate and its key)", missing,
            cfg->tls_cert_file == NULL ? "TSPOOL_TLS_KEY_FILE" : "TSPOOL_TLS_CERT_FILE");
    }
    if (cfg->db_min_conns > cfg->pool_size) {
        return tsp_config_invalid(err, &tsp_config_vars[i_min], raws[i_min].text,
                                  "expected an integer from 0 to %d (the pool size, %s)",
                                  cfg->pool_size, tsp_config_vars[i_size].name);
    }
    return TSP_OK;
}

static void load_fini(struct load *ld)
{
    for (size_t i = 0; ld->raws != NULL && i < tsp_config_nvars; i++) {
        free(ld->raws[i].file_text);
    }
    free(ld->raws);
    tsp_dotenv_fini(&ld->dotenv);
    free(ld->env_file);
    for (size_t i = 0; i < ld->nwarnings; i++) {
        free(ld->warnings[i]);
    }
    free(ld->warnings);
}

enum tsp_code tsp_config_load_with_default_env(struct tsp_config *cfg, char *const *envp,
                                               const char *default_env_file, struct tsp_error *err)
{
    struct tsp_config tmp;
    struct load ld;
    size_t i_env_file = (size_t)var_index("TSPOOL_ENV_FILE");
    enum tsp_code rc = TSP_OK;

    memset(&tmp, 0, sizeof(tmp));
    memset(&ld, 0, sizeof(ld));
    ld.raws = calloc(tsp_config_nvars, sizeof(*ld.raws));
    tmp.origins = calloc(tsp_config_nvars, sizeof(*tmp.origins));
    if (ld.raws == NULL || tmp.origins == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < tsp_config_nvars; i++) {
        ld.raws[i].text = tsp_config_vars[i].default_value;
    }
    rc = read_dotenv(&ld, envp, default_env_file, err);
    if (rc == TSP_OK) {
        rc = apply_envp(&ld, envp, err);
    }
    for (size_t i = 0; rc == TSP_OK && i < tsp_config_nvars; i++) {
        rc = tsp_config_vars[i].secret ? resolve_secret(&ld, i, err) : TSP_OK;
    }
    if (rc != TSP_OK) {
        goto done;
    }
    /* TSPOOL_ENV_FILE shows the file actually read (NULL when none) */
    ld.raws[i_env_file].text = ld.env_file;
    ld.raws[i_env_file].origin.source =
        ld.env_file_explicit ? TSP_CONFIG_SRC_ENV : TSP_CONFIG_SRC_DEFAULT;
    for (size_t i = 0; rc == TSP_OK && i < tsp_config_nvars; i++) {
        tmp.origins[i] = ld.raws[i].origin;
        if (ld.raws[i].text != NULL) {
            rc = store(&tmp, &tsp_config_vars[i], ld.raws[i].text, err);
        }
    }
    if (rc == TSP_OK) {
        tmp.listen_host = NULL;
        if (!tsp_config_parse_listen(tmp.listen, &tmp.listen_host, &tmp.listen_port)) {
            rc = tsp_error_set(err, TSP_NO_MEMORY, "TSPOOL_LISTEN", "out of memory");
        }
        tmp.probe_listen_host = NULL;
        if (rc == TSP_OK && tmp.probe_listen != NULL &&
            !tsp_config_parse_listen(tmp.probe_listen, &tmp.probe_listen_host,
                                     &tmp.probe_listen_port)) {
            rc = tsp_error_set(err, TSP_NO_MEMORY, "TSPOOL_PROBE_LISTEN", "out of memory");
        }
    }
    if (rc == TSP_OK) {
        rc = derive(&tmp, ld.raws, err);
    }
    if (rc != TSP_OK) {
        goto done;
    }
    tmp.warnings = ld.warnings;
    tmp.nwarnings = ld.nwarnings;
    ld.warnings = NULL;
    ld.nwarnings = 0;
    *cfg = tmp;
    memset(&tmp, 0, sizeof(tmp));
done:
    load_fini(&ld);
    tsp_config_fini(&tmp);
    return rc;
}

enum tsp_code tsp_config_load(struct tsp_config *cfg, char *const *envp, struct tsp_error *err)
{
    return tsp_config_load_with_default_env(cfg, envp, "./.env", err);
}

void tsp_config_fini(struct tsp_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    for (size_t i = 0; i < tsp_config_nvars; i++) {
        const struct tsp_config_var *var = &tsp_config_vars[i];
        char *s = NULL;
        if (var->type == TSP_CONFIG_STRING || var->type == TSP_CONFIG_ENUM) {
            memcpy(&s, (char *)cfg + var->offset, sizeof(s));
            free(s);
        }
    }
    free(cfg->listen_host);
    free(cfg->probe_listen_host);
    free(cfg->origins);
    for (size_t i = 0; i < cfg->nwarnings; i++) {
        free(cfg->warnings[i]);
    }
    free(cfg->warnings);
    memset(cfg, 0, sizeof(*cfg));
}

const struct tsp_config_origin *tsp_config_origin_at(const struct tsp_config *cfg, size_t i)
{
    return (cfg->origins != NULL && i < tsp_config_nvars) ? &cfg->origins[i] : NULL;
}

const char *tsp_config_source_name(enum tsp_config_source source)
{
    switch (source) {
    case TSP_CONFIG_SRC_DEFAULT:
        return "default";
    case TSP_CONFIG_SRC_DOTENV:
        return ".env";
    case TSP_CONFIG_SRC_ENV:
        return "environment";
    case TSP_CONFIG_SRC_FILE:
        return "file";
    case TSP_CONFIG_SRC_PROFILE:
        return "profile";
    }
    return "unknown";
}
