/* cli/apply_doc.c - the desired-state document of `tspool apply`: read as YAML with libyaml
 * (JSON is YAML too) into a jansson tree that remembers each value's line, and validated
 * against the JSON Schema shipped in the repository (desired-state.schema.json, embedded).
 * SPDX-License-Identifier: MIT
 */
#include "apply_int.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "desired_state_schema.h"
#include "tspool/strbuf.h"

/* ---- loading ---- */

struct loader {
    yaml_parser_t parser;
    json_t *lines; /* JSON pointer -> line (1-based) */
    char error[512];
};

static void mark(struct loader *l, const char *pointer, const yaml_event_t *ev)
{
    json_object_set_new(l->lines, pointer, json_integer((json_int_t)ev->start_mark.line + 1));
}

/* A plain scalar's YAML 1.1 core type; quoted scalars are always strings. */
static json_t *scalar_value(const yaml_event_t *ev)
{
    const char *text = (const char *)ev->data.scalar.value;
    char *end = NULL;
    long long n;
    double d;

    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return json_stringn(text, ev->data.scalar.length);
    }
    if (text[0] == '\0' || strcmp(text, "null") == 0 || strcmp(text, "~") == 0 ||
        strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0) {
        return json_null();
    }
    if (strcmp(text, "true") == 0 || strcmp(text, "True") == 0 || strcmp(text, "TRUE") == 0) {
        return json_true();
    }
    if (strcmp(text, "false") == 0 || strcmp(text, "False") == 0 || strcmp(text, "FALSE") == 0) {
        return json_false();
    }
    errno = 0;
    n = strtoll(text, &end, 10);
    if (errno == 0 && end != text && *end == '\0') {
        return json_integer((json_int_t)n);
    }
    errno = 0;
    d = strtod(text, &end);
    if (errno == 0 && end != text && *end == '\0' &&
        strspn(text, "+-0123456789.eE") == strlen(text)) {
        return json_real(d);
    }
    return json_stringn(text, ev->data.scalar.length);
}

static json_t *parse_node(struct loader *l, yaml_event_t *ev, const char *pointer, int depth);

static bool next_event(struct loader *l, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&l->parser, ev)) {
        snprintf(l->error, sizeof(l->error), "line %zu, column %zu: %s",
                 l->parser.problem_mark.line + 1, l->parser.problem_mark.column + 1,
                 l->parser.problem != NULL ? l->parser.problem : "not YAML or JSON");
        return false;
    }
    return true;
}

/* Escape a key for a JSON pointer (RFC 6901: ~ -> ~0, / -> ~1). */
static void pointer_child(char *out, size_t size, const char *parent, const char *key)
{
    struct tsp_strbuf sb;

    tsp_strbuf_init_fixed(&sb, out, size);
    tsp_strbuf_printf(&sb, "%s/", parent);
    for (const char *p = key; *p != '\0'; p++) {
        if (*p == '~') {
            tsp_strbuf_puts(&sb, "~0");
        } else if (*p == '/') {
            tsp_strbuf_puts(&sb, "~1");
        } else {
            tsp_strbuf_putc(&sb, *p);
        }
    }
}

static json_t *parse_mapping(struct loader *l, const char *pointer, int depth)
{
    json_t *obj = json_object();
    yaml_event_t ev;
    char child[512];

    while (obj != NULL && next_event(l, &ev)) {
        json_t *value = NULL;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return obj;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            snprintf(l->error, sizeof(l->error), "line %zu: a key must be a string",
                     ev.start_mark.line + 1);
            yaml_event_delete(&ev);
            break;
        }
        const char *key = (const char *)ev.data.scalar.value;
        size_t key_line = ev.start_mark.line + 1;
        if (json_object_get(obj, key) != NULL) {
            snprintf(l->error, sizeof(l->error), "line %zu: duplicate key \"%s\"", key_line, key);
            yaml_event_delete(&ev);
            break;
        }
        pointer_child(child, sizeof(child), pointer, key);
        char *key_copy = strdup(key);
        yaml_event_delete(&ev);
        if (key_copy == NULL || !next_event(l, &ev)) {
            free(key_copy);
            break;
        }
        value = parse_node(l, &ev, child, depth + 1);
        yaml_event_delete(&ev);
        if (value == NULL || json_object_set_new(obj, key_copy, value) != 0) {
            free(key_copy);
            break;
        }
        free(key_copy);
    }
    json_decref(obj);
    return NULL;
}

static json_t *parse_sequence(struct loader *l, const char *pointer, int depth)
{
    json_t *arr = json_array();
    yaml_event_t ev;
    char child[512];

    while (arr != NULL && next_event(l, &ev)) {
        json_t *value = NULL;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return arr;
        }
        snprintf(child, sizeof(child), "%s/%zu", pointer, json_array_size(arr));
        value = parse_node(l, &ev, child, depth + 1);
        yaml_event_delete(&ev);
        if (value == NULL || json_array_append_new(arr, value) != 0) {
            break;
        }
    }
    json_decref(arr);
    return NULL;
}

static json_t *parse_node(struct loader *l, yaml_event_t *ev, const char *pointer, int depth)
{
    if (depth > 32) {
        snprintf(l->error, sizeof(l->error), "line %zu: nested too deeply",
                 ev->start_mark.line + 1);
        return NULL;
    }
    mark(l, pointer, ev);
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return scalar_value(ev);
    case YAML_MAPPING_START_EVENT:
        return parse_mapping(l, pointer, depth);
    case YAML_SEQUENCE_START_EVENT:
        return parse_sequence(l, pointer, depth);
    case YAML_ALIAS_EVENT:
        snprintf(l->error, sizeof(l->error), "line %zu: aliases (*name) are not supported",
                 ev->start_mark.line + 1);
        return NULL;
    default:
        snprintf(l->error, sizeof(l->error), "line %zu: unexpected YAML event",
                 ev->start_mark.line + 1);
        return NULL;
    }
}

enum tsp_code tsp_apply_doc_load(const char *path, struct tsp_apply_doc *out, struct tsp_error *err)
{
    struct loader l;
    yaml_event_t ev;
    FILE *f = NULL;
    json_t *root = NULL;
    bool parser_ready = false;
    enum tsp_code rc = TSP_OK;

    memset(&l, 0, sizeof(l));
    memset(out, 0, sizeof(*out));
    f = fopen(path, "rb");
    if (f == NULL) {
        rc = tsp_error_set(err, TSP_IO, NULL, "%s: %s", path, strerror(errno));
        goto done;
    }
    l.lines = json_object();
    if (l.lines == NULL || !yaml_parser_initialize(&l.parser)) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    parser_ready = true;
    yaml_parser_set_input_file(&l.parser, f);
    /* STREAM-START, DOCUMENT-START, the root node, DOCUMENT-END */
    for (int i = 0; i < 2; i++) {
        if (!next_event(&l, &ev)) {
            goto parse_error;
        }
        yaml_event_type_t type = ev.type;
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT) {
            snprintf(l.error, sizeof(l.error), "line 1: the file is empty");
            goto parse_error;
        }
    }
    if (!next_event(&l, &ev)) {
        goto parse_error;
    }
    root = parse_node(&l, &ev, "", 0);
    yaml_event_delete(&ev);
    if (root == NULL) {
        goto parse_error;
    }
    if (!next_event(&l, &ev)) {
        goto parse_error;
    }
    yaml_event_delete(&ev);
    if (!next_event(&l, &ev)) {
        goto parse_error;
    }
    if (ev.type != YAML_STREAM_END_EVENT) {
        snprintf(l.error, sizeof(l.error), "line %zu: one document only", ev.start_mark.line + 1);
        yaml_event_delete(&ev);
        goto parse_error;
    }
    yaml_event_delete(&ev);
    out->root = root;
    out->lines = l.lines;
    root = NULL;
    l.lines = NULL;
    goto done;
parse_error:
    rc = tsp_error_set(err, TSP_INVALID, NULL, "%s: %s", path,
                       l.error[0] != '\0' ? l.error : "not YAML or JSON");
done:
    json_decref(root);
    json_decref(l.lines);
    if (parser_ready) {
        yaml_parser_delete(&l.parser);
    }
    if (f != NULL) {
        fclose(f);
    }
    return rc;
}

void tsp_apply_doc_fini(struct tsp_apply_doc *doc)
{
    if (doc == NULL) {
        return;
    }
    json_decref(doc->root);
    json_decref(doc->lines);
    memset(doc, 0, sizeof(*doc));
}

long tsp_apply_doc_line(const struct tsp_apply_doc *doc, const char *pointer)
{
    const json_t *line = json_object_get(doc->lines, pointer);
    return line != NULL ? (long)json_integer_value(line) : 0;
}

/* ---- validation against the shipped JSON Schema (the keywords it uses) ---- */

struct validator {
    const json_t *schema_root;
    const struct tsp_apply_doc *doc;
    const char *path;
    struct tsp_error *err;
};

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static bool type_matches(const char *want, const json_t *v)
{
    const char *have = type_of(v);
    return strcmp(want, have) == 0 || (strcmp(want, "number") == 0 && json_is_integer(v));
}

/* Report at the line of the value (or of its nearest parent that has one). */
static enum tsp_code fail(struct validator *va, const char *pointer, const char *fmt, ...)
    TSP_PRINTF(3, 4);

static enum tsp_code fail(struct validator *va, const char *pointer, const char *fmt, ...)
{
    char at[512];
    char what[256];
    long line = 0;
    va_list ap;

    snprintf(at, sizeof(at), "%s", pointer);
    while ((line = tsp_apply_doc_line(va->doc, at)) == 0 && at[0] != '\0') {
        char *slash = strrchr(at, '/');
        if (slash == NULL) {
            break;
        }
        *slash = '\0';
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return tsp_error_set(va->err, TSP_INVALID, pointer[0] != '\0' ? pointer : "/", "%s:%ld: %s: %s",
                         va->path, line > 0 ? line : 1, pointer[0] != '\0' ? pointer : "(document)",
                         what);
}

static const json_t *resolve_ref(struct validator *va, const json_t *schema)
{
    const json_t *ref = json_object_get(schema, "$ref");
    const char *text = json_string_value(ref);

    if (text == NULL || strncmp(text, "#/$defs/", 8) != 0) {
        return schema;
    }
    return json_object_get(json_object_get(va->schema_root, "$defs"), text + 8);
}

static enum tsp_code check(struct validator *va, const json_t *schema, const json_t *v,
                           const char *pointer);

static enum tsp_code check_type(struct validator *va, const json_t *schema, const json_t *v,
                                const char *pointer)
{
    const json_t *type = json_object_get(schema, "type");
    char want[64] = "";
    size_t i;
    const json_t *t;

    if (type == NULL) {
        return TSP_OK;
    }
    if (json_is_string(type)) {
        if (type_matches(json_string_value(type), v)) {
            return TSP_OK;
        }
        snprintf(want, sizeof(want), "%s", json_string_value(type));
    } else {
        json_array_foreach(type, i, t)
        {
            if (type_matches(json_string_value(t), v)) {
                return TSP_OK;
            }
            size_t used = strlen(want);
            snprintf(want + used, sizeof(want) - used, "%s%s", i > 0 ? " or " : "",
                     json_string_value(t));
        }
    }
    return fail(va, pointer, "must be %s", want);
}

static enum tsp_code check_object(struct validator *va, const json_t *schema, const json_t *v,
                                  const char *pointer)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *required = json_object_get(schema, "required");
    const json_t *item = NULL;
    const char *key = NULL;
    json_t *value = NULL;
    char child[512];
    size_t i;
    enum tsp_code rc;

    json_object_foreach((json_t *)(uintptr_t)v, key, value)
    {
        const json_t *sub = json_object_get(props, key);
        pointer_child(child, sizeof(child), pointer, key);
        if (sub == NULL) {
            if (json_is_false(json_object_get(schema, "additionalProperties"))) {
                return fail(va, child, "unknown key \"%s\"", key);
            }
            continue;
        }
        rc = check(va, sub, value, child);
        if (rc != TSP_OK) {
            return rc;
        }
    }
    /* after the members: a misspelt key is reported as such rather than as a missing one */
    json_array_foreach(required, i, item)
    {
        if (json_object_get(v, json_string_value(item)) == NULL) {
            return fail(va, pointer, "\"%s\" is required", json_string_value(item));
        }
    }
    return TSP_OK;
}

static enum tsp_code check_bounds(struct validator *va, const json_t *schema, const json_t *v,
                                  const char *pointer)
{
    const json_t *min = json_object_get(schema, "minimum");
    const json_t *max = json_object_get(schema, "maximum");
    const json_t *minlen = json_object_get(schema, "minLength");
    const json_t *maxlen = json_object_get(schema, "maxLength");
    const json_t *minitems = json_object_get(schema, "minItems");
    const json_t *maxitems = json_object_get(schema, "maxItems");
    const json_t *pattern = json_object_get(schema, "pattern");
    char num[32];

    if (json_is_number(v) && min != NULL && json_number_value(v) < json_number_value(min)) {
        return fail(va, pointer, "must be at least %g", json_number_value(min));
    }
    if (json_is_number(v) && max != NULL && json_number_value(v) > json_number_value(max)) {
        return fail(va, pointer, "must be at most %g", json_number_value(max));
    }
    if (json_is_string(v) && minlen != NULL &&
        json_string_length(v) < (size_t)json_integer_value(minlen)) {
        return fail(va, pointer, "must not be empty");
    }
    if (json_is_string(v) && maxlen != NULL &&
        json_string_length(v) > (size_t)json_integer_value(maxlen)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(maxlen));
        return fail(va, pointer, "must be at most %s characters", num);
    }
    if (json_is_array(v) && minitems != NULL &&
        json_array_size(v) < (size_t)json_integer_value(minitems)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(minitems));
        return fail(va, pointer, "needs at least %s items", num);
    }
    if (json_is_array(v) && maxitems != NULL &&
        json_array_size(v) > (size_t)json_integer_value(maxitems)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(maxitems));
        return fail(va, pointer, "has more than %s items", num);
    }
    if (json_is_string(v) && json_is_string(pattern)) {
        regex_t re;
        int bad = regcomp(&re, json_string_value(pattern), REG_EXTENDED | REG_NOSUB);
        int nomatch = bad == 0 ? regexec(&re, json_string_value(v), 0, NULL, 0) : 1;
        if (bad == 0) {
            regfree(&re);
        }
        if (nomatch != 0) {
            return fail(va, pointer, "\"%s\" is not a valid name", json_string_value(v));
        }
    }
    return TSP_OK;
}

static enum tsp_code check(struct validator *va, const json_t *schema, const json_t *v,
                           const char *pointer)
{
    const json_t *one_of = NULL;
    const json_t *enumv = NULL;
    const json_t *items = NULL;
    const json_t *item = NULL;
    char child[512];
    size_t i;
    enum tsp_code rc;

    schema = resolve_ref(va, schema);
    if (schema == NULL) {
        return tsp_error_set(va->err, TSP_INTERNAL, NULL, "the schema has a dangling $ref");
    }
    one_of = json_object_get(schema, "oneOf");
    if (one_of != NULL) {
        size_t matches = 0;
        json_array_foreach(one_of, i, item)
        {
            struct tsp_error ignored;
            struct validator quiet = *va;
            tsp_error_init(&ignored);
            quiet.err = &ignored;
            matches += check(&quiet, item, v, pointer) == TSP_OK;
        }
        if (matches != 1) {
            const json_t *desc = json_object_get(schema, "description");
            return fail(va, pointer, "must be %s",
                        desc != NULL ? json_string_value(desc) : "one of the allowed forms");
        }
    }
    rc = check_type(va, schema, v, pointer);
    if (rc != TSP_OK) {
        return rc;
    }
    enumv = json_object_get(schema, "enum");
    if (enumv != NULL) {
        bool found = false;
        json_array_foreach(enumv, i, item)
        {
            found = found || json_equal(item, (json_t *)(uintptr_t)v);
        }
        if (!found) {
            return fail(va, pointer, "is not one of the allowed values");
        }
    }
    rc = check_bounds(va, schema, v, pointer);
    if (rc != TSP_OK) {
        return rc;
    }
    if (json_is_object(v)) {
        return check_object(va, schema, v, pointer);
    }
    items = json_object_get(schema, "items");
    if (json_is_array(v) && items != NULL) {
        json_array_foreach(v, i, item)
        {
            snprintf(child, sizeof(child), "%s/%zu", pointer, i);
            rc = check(va, items, item, child);
            if (rc != TSP_OK) {
                return rc;
            }
        }
    }
    return TSP_OK;
}

enum tsp_code tsp_apply_doc_validate(const struct tsp_apply_doc *doc, const char *path,
                                     struct tsp_error *err)
{
    json_error_t jerr;
    json_t *schema = json_loadb((const char *)tsp_embed_desired_state_schema,
                                tsp_embed_desired_state_schema_len, 0, &jerr);
    struct validator va = {schema, doc, path, err};
    enum tsp_code rc;

    if (schema == NULL) {
        return tsp_error_set(err, TSP_INTERNAL, NULL, "the embedded schema is not JSON: %s",
                             jerr.text);
    }
    rc = check(&va, schema, doc->root, "");
    json_decref(schema);
    return rc;
}
