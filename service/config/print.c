/* config/print.c - the configuration as text: one value, the aligned table of `tspool
 * config`, --help, JSON for `--json` and GET /config, and the README table. Secrets redacted.
 * SPDX-License-Identifier: MIT
 */
#include "config_int.h"

#include <jansson.h>
#include <string.h>

/* The derived pool values shown after the variables. */
struct effective {
    const char *name;     /* JSON name */
    const char *label;    /* table label */
    size_t value_offset;  /* int or enum tsp_pool_mode */
    size_t origin_offset; /* struct tsp_config_origin */
    bool is_mode;
};

static const struct effective effectives[] = {
    {"pool_size", "effective pool size", offsetof(struct tsp_config, pool_size),
     offsetof(struct tsp_config, pool_size_origin), false},
    {"pool_max_overflow", "effective max overflow", offsetof(struct tsp_config, pool_max_overflow),
     offsetof(struct tsp_config, pool_max_overflow_origin), false},
    {"pool_mode", "effective pool mode", offsetof(struct tsp_config, pool_mode),
     offsetof(struct tsp_config, pool_mode_origin), true},
};
#define NEFFECTIVE (sizeof(effectives) / sizeof(effectives[0]))

static int field_int(const struct tsp_config *cfg, size_t offset)
{
    int v = 0;
    memcpy(&v, (const char *)cfg + offset, sizeof(v));
    return v;
}

static const char *field_str(const struct tsp_config *cfg, size_t offset)
{
    const char *s = NULL;
    memcpy(&s, (const char *)cfg + offset, sizeof(s));
    return s;
}

static bool field_bool(const struct tsp_config *cfg, size_t offset)
{
    bool b = false;
    memcpy(&b, (const char *)cfg + offset, sizeof(b));
    return b;
}

static const char *mode_name(int mode)
{
    return mode == TSP_POOL_MODE_DIRECT ? "direct" : "pooled";
}

const char *tsp_config_format_value(const struct tsp_config *cfg, size_t i, bool redact, char *buf,
                                    size_t bufsize)
{
    const struct tsp_config_var *var = tsp_config_var_at(i);
    const char *s = NULL;

    if (bufsize == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (var == NULL) {
        return buf;
    }
    switch (var->type) {
    case TSP_CONFIG_INT:
        if (field_int(cfg, var->offset) < var->min) {
            break; /* unset (an optional integer below its range): "" */
        }
        snprintf(buf, bufsize, "%d", field_int(cfg, var->offset));
        break;
    case TSP_CONFIG_BOOL:
        snprintf(buf, bufsize, "%s", field_bool(cfg, var->offset) ? "true" : "false");
        break;
    case TSP_CONFIG_ENUM_INDEX:
        snprintf(buf, bufsize, "%s", mode_name(field_int(cfg, var->offset)));
        break;
    case TSP_CONFIG_STRING:
    case TSP_CONFIG_ENUM:
        s = field_str(cfg, var->offset);
        if (s != NULL && var->secret && redact) {
            s = TSP_CONFIG_REDACTED;
        }
        snprintf(buf, bufsize, "%s", s != NULL ? s : "");
        break;
    }
    return buf;
}

static void format_origin(const struct tsp_config_origin *o, char *buf, size_t bufsize)
{
    const char *name = tsp_config_source_name(o->source);

    if (o->where[0] != '\0') {
        snprintf(buf, bufsize, "%s (%s)", name, o->where);
    } else {
        snprintf(buf, bufsize, "%s", name);
    }
}

static const struct tsp_config_origin *effective_origin(const struct tsp_config *cfg,
                                                        const struct effective *e)
{
    return (const struct tsp_config_origin *)(const void *)((const char *)cfg + e->origin_offset);
}

static void effective_value(const struct tsp_config *cfg, const struct effective *e, char *buf,
                            size_t bufsize)
{
    int v = field_int(cfg, e->value_offset);

    if (e->is_mode) {
        snprintf(buf, bufsize, "%s", mode_name(v));
    } else {
        snprintf(buf, bufsize, "%d", v);
    }
}

/* The table shows "(unset)" where tsp_config_format_value gives "" for a NULL string. */
static const char *table_value(const struct tsp_config *cfg, size_t i, char *buf, size_t bufsize)
{
    const struct tsp_config_var *var = &tsp_config_vars[i];
    bool is_text = var->type == TSP_CONFIG_STRING || var->type == TSP_CONFIG_ENUM;

    if ((is_text && field_str(cfg, var->offset) == NULL) ||
        (var->type == TSP_CONFIG_INT && field_int(cfg, var->offset) < var->min)) {
        snprintf(buf, bufsize, "(unset)");
        return buf;
    }
    return tsp_config_format_value(cfg, i, true, buf, bufsize);
}

void tsp_config_print_table(const struct tsp_config *cfg, FILE *out)
{
    char value[1024];
    char origin[TSP_CONFIG_WHERE_MAX + 32];
    int wname = (int)strlen("NAME");
    int wvalue = (int)strlen("VALUE");

    for (size_t i = 0; i < tsp_config_nvars; i++) {
        int n = (int)strlen(tsp_config_vars[i].name);
        int v = (int)strlen(table_value(cfg, i, value, sizeof(value)));
        wname = n > wname ? n : wname;
        wvalue = v > wvalue ? v : wvalue;
    }
    for (size_t i = 0; i < NEFFECTIVE; i++) {
        int n = (int)strlen(effectives[i].label);
        wname = n > wname ? n : wname;
    }
    fprintf(out, "%-*s  %-*s  %s\n", wname, "NAME", wvalue, "VALUE", "SOURCE");
    for (size_t i = 0; i < tsp_config_nvars; i++) {
        table_value(cfg, i, value, sizeof(value));
        format_origin(&cfg->origins[i], origin, sizeof(origin));
        fprintf(out, "%-*s  %-*s  %s\n", wname, tsp_config_vars[i].name, wvalue, value, origin);
    }
    fprintf(out, "\n");
    for (size_t i = 0; i < NEFFECTIVE; i++) {
        effective_value(cfg, &effectives[i], value, sizeof(value));
        format_origin(effective_origin(cfg, &effectives[i]), origin, sizeof(origin));
        fprintf(out, "%-*s  %-*s  %s\n", wname, effectives[i].label, wvalue, value, origin);
    }
}

/* What a row accepts, for --help and the README: "1..10000", "json|text", "true|false". */
static const char *accepted(const struct tsp_config_var *var, char *buf, size_t bufsize)
{
    buf[0] = '\0';
    if (var->type == TSP_CONFIG_INT) {
        snprintf(buf, bufsize, "%ld..%ld", var->min, var->max);
    } else if (var->type == TSP_CONFIG_BOOL) {
        snprintf(buf, bufsize, "true|false");
    } else if (var->allowed != NULL) {
        snprintf(buf, bufsize, "%s", var->allowed);
    }
    return buf;
}

void tsp_config_print_help(FILE *out)
{
    char acc[128];
    int wname = 0;
    int wdef = (int)strlen("DEFAULT");

    for (size_t i = 0; i < tsp_config_nvars; i++) {
        int n = (int)strlen(tsp_config_vars[i].name) + (tsp_config_vars[i].secret ? 6 : 0);
        int d = (int)strlen(tsp_config_default_text(&tsp_config_vars[i]));
        wname = n > wname ? n : wname;
        wdef = d > wdef ? d : wdef;
    }
    fprintf(out, "%-*s  %-*s  %s\n", wname, "VARIABLE", wdef, "DEFAULT", "MEANING");
    for (size_t i = 0; i < tsp_config_nvars; i++) {
        const struct tsp_config_var *var = &tsp_config_vars[i];
        fprintf(out, "%-*s  %-*s  %s", wname, var->name, wdef, tsp_config_default_text(var),
                var->help);
        if (accepted(var, acc, sizeof(acc))[0] != '\0') {
            fprintf(out, " (%s)", acc);
        }
        fprintf(out, "\n");
        if (var->secret) {
            fprintf(out, "%s_FILE%-*s  %-*s  file holding %s (one trailing newline ignored%s)\n",
                    var->name, wname - (int)strlen(var->name) - 5, "", wdef, "(unset)", var->name,
                    var->watched ? "; re-read when it changes" : "");
        }
    }
}

void tsp_config_print_markdown(FILE *out)
{
    char acc[128];

    fprintf(out, "| variable | default | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < tsp_config_nvars; i++) {
        const struct tsp_config_var *var = &tsp_config_vars[i];
        fprintf(out, "| %s | %s | %s", var->name, tsp_config_default_text(var), var->help);
        if (accepted(var, acc, sizeof(acc))[0] != '\0') {
            /* a "|" inside a table cell must be escaped, even in a code span (GFM) */
            fprintf(out, " (`");
            for (const char *p = acc; *p != '\0'; p++) {
                if (*p == '|') {
                    fputc('\\', out);
                }
                fputc(*p, out);
            }
            fprintf(out, "`)");
        }
        fprintf(out, " |\n");
        if (var->secret) {
            fprintf(out,
                    "| %s_FILE | (unset) | file holding %s; one trailing newline ignored%s |\n",
                    var->name, var->name, var->watched ? "; re-read when it changes" : "");
        }
    }
}

/* The typed JSON value of row i: number, boolean, string, null (unset), redacted secret. */
static json_t *json_value(const struct tsp_config *cfg, size_t i)
{
    const struct tsp_config_var *var = &tsp_config_vars[i];
    const char *s = NULL;

    switch (var->type) {
    case TSP_CONFIG_INT:
        if (field_int(cfg, var->offset) < var->min) {
            return json_null(); /* unset optional integer */
        }
        return json_integer(field_int(cfg, var->offset));
    case TSP_CONFIG_BOOL:
        return json_boolean(field_bool(cfg, var->offset));
    case TSP_CONFIG_ENUM_INDEX:
        return json_string(mode_name(field_int(cfg, var->offset)));
    case TSP_CONFIG_STRING:
    case TSP_CONFIG_ENUM:
        break;
    }
    s = field_str(cfg, var->offset);
    if (s == NULL) {
        return json_null();
    }
    return json_string(var->secret ? TSP_CONFIG_REDACTED : s);
}

static json_t *json_variables(const struct tsp_config *cfg)
{
    json_t *arr = json_array();
    int failed = arr == NULL;

    for (size_t i = 0; !failed && i < tsp_config_nvars; i++) {
        const struct tsp_config_var *var = &tsp_config_vars[i];
        json_t *def = var->default_value != NULL ? json_string(var->default_value) : json_null();
        json_t *item = json_pack("{s:s, s:o, s:o, s:s, s:s, s:b, s:s}", "name", var->name, "value",
                                 json_value(cfg, i), "default", def, "source",
                                 tsp_config_source_name(cfg->origins[i].source), "where",
                                 cfg->origins[i].where, "secret", var->secret, "help", var->help);
        failed = json_array_append_new(arr, item) != 0;
    }
    if (failed) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *json_effective(const struct tsp_config *cfg)
{
    json_t *arr = json_array();
    int failed = arr == NULL;

    for (size_t i = 0; !failed && i < NEFFECTIVE; i++) {
        const struct effective *e = &effectives[i];
        const struct tsp_config_origin *o = effective_origin(cfg, e);
        int v = field_int(cfg, e->value_offset);
        json_t *value = e->is_mode ? json_string(mode_name(v)) : json_integer(v);
        json_t *item = json_pack("{s:s, s:o, s:s, s:s}", "name", e->name, "value", value, "source",
                                 tsp_config_source_name(o->source), "where", o->where);
        failed = json_array_append_new(arr, item) != 0;
    }
    if (failed) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

enum tsp_code tsp_config_print_json(const struct tsp_config *cfg, FILE *out, struct tsp_error *err)
{
    json_t *root = NULL;
    json_t *warnings = json_array();
    enum tsp_code rc = TSP_OK;
    int failed = warnings == NULL;

    for (size_t i = 0; !failed && i < cfg->nwarnings; i++) {
        failed = json_array_append_new(warnings, json_string(cfg->warnings[i])) != 0;
    }
    if (failed) {
        json_decref(warnings);
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    root = json_pack("{s:o*, s:o*, s:o}", "variables", json_variables(cfg), "effective",
                     json_effective(cfg), "warnings", warnings);
    if (root == NULL || json_object_size(root) != 3) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    if (json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
        fputc('\n', out) == EOF) {
        rc = tsp_error_set(err, TSP_IO, NULL, "cannot write the configuration: %s", "write error");
    }
done:
    json_decref(root);
    return rc;
}
