/* config/dotenv.c - the .env file parser: KEY=VALUE lines with `export`, comments, quotes and
 * escapes; errors name path:line and never echo a value.
 * SPDX-License-Identifier: MIT
 */
#include "config_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/strbuf.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_key_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_key_char(char c)
{
    return is_key_start(c) || (c >= '0' && c <= '9');
}

void tsp_dotenv_fini(struct tsp_dotenv *env)
{
    if (env == NULL) {
        return;
    }
    for (size_t i = 0; i < env->count; i++) {
        free(env->entries[i].key);
        free(env->entries[i].value);
    }
    free(env->entries);
    env->entries = NULL;
    env->count = 0;
}

/* After a closing quote only blanks and an optional comment may follow. */
static bool rest_is_comment(const char *p, const char *end)
{
    while (p < end && is_blank(*p)) {
        p++;
    }
    return p == end || *p == '#';
}

static char unescape(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return c;
    }
}

/* Parse the value part [p, end) of one line into *value. Returns NULL on success or the
 * error text. */
static const char *parse_value(const char *p, const char *end, struct tsp_strbuf *value)
{
    bool ok = true;
    const char *start = p;

    while (p < end && is_blank(*p)) {
        p++;
    }
    if (p < end && *p == '#' && p > start) {
        return NULL; /* "KEY= # comment": empty value */
    }
    if (p < end && *p == '\'') {
        const char *close = memchr(p + 1, '\'', (size_t)(end - p - 1));
        if (close == NULL) {
            return "unterminated single-quoted value";
        }
        for (const char *q = p + 1; ok && q < close; q++) {
            ok = tsp_strbuf_putc(value, *q);
        }
        if (ok && !rest_is_comment(close + 1, end)) {
            return "unexpected text after the closing quote";
        }
        return ok ? NULL : "out of memory";
    }
    if (p < end && *p == '"') {
        const char *q = p + 1;
        for (; ok && q < end && *q != '"'; q++) {
            if (*q == '\\' && q + 1 < end && strchr("nrt\"\\", q[1]) != NULL) {
                q++;
                ok = tsp_strbuf_putc(value, unescape(*q));
            } else {
                ok = tsp_strbuf_putc(value, *q);
            }
        }
        if (!ok) {
            return "out of memory";
        }
        if (q >= end) {
            return "unterminated double-quoted value";
        }
        if (!rest_is_comment(q + 1, end)) {
            return "unexpected text after the closing quote";
        }
        return NULL;
    }
    /* unquoted: up to " #" or the end, trailing blanks trimmed */
    const char *stop = p;
    while (stop < end && !(*stop == '#' && stop > p && is_blank(stop[-1]))) {
        stop++;
    }
    while (stop > p && is_blank(stop[-1])) {
        stop--;
    }
    for (const char *q = p; ok && q < stop; q++) {
        ok = tsp_strbuf_putc(value, *q);
    }
    return ok ? NULL : "out of memory";
}

static enum tsp_code add_entry(struct tsp_dotenv *env, size_t *cap, const char *key, size_t key_len,
                               struct tsp_strbuf *value, int line)
{
    char *k = NULL;
    char *v = NULL;

    if (env->count == *cap) {
        size_t ncap = *cap == 0 ? 16 : *cap * 2;
        struct tsp_dotenv_entry *n = realloc(env->entries, ncap * sizeof(*n));
        if (n == NULL) {
            return TSP_NO_MEMORY;
        }
        env->entries = n;
        *cap = ncap;
    }
    k = strndup(key, key_len);
    v = tsp_strbuf_take(value, NULL); /* the builder is empty again for the next line */
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return TSP_NO_MEMORY;
    }
    env->entries[env->count].key = k;
    env->entries[env->count].value = v;
    env->entries[env->count].line = line;
    env->count++;
    return TSP_OK;
}

enum tsp_code tsp_dotenv_parse(const char *text, size_t len, const char *path,
                               struct tsp_dotenv *out, struct tsp_error *err)
{
    struct tsp_dotenv env = {NULL, 0};
    struct tsp_strbuf value = {0};
    size_t cap = 0;
    const char *p = text;
    const char *text_end = text + len;
    const char *problem = NULL;
    int line = 0;
    enum tsp_code rc = TSP_OK;

    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
    }
    while (p < text_end && rc == TSP_OK) {
        const char *nl = memchr(p, '\n', (size_t)(text_end - p));
        size_t line_len = (size_t)((nl != NULL ? nl : text_end) - p);
        const char *next = nl != NULL ? nl + 1 : text_end;
        const char *end = NULL;
        const char *key = NULL;
        size_t key_len = 0;

        line++;
        if (line_len > 0 && p[line_len - 1] == '\r') {
            line_len--;
        }
        end = p + line_len;
        if (memchr(p, '\0', line_len) != NULL) {
            problem = "contains a NUL byte";
            break;
        }
        while (p < end && is_blank(*p)) {
            p++;
        }
        if (p == end || *p == '#') {
            p = next;
            continue;
        }
        if (end - p > 7 && memcmp(p, "export", 6) == 0 && is_blank(p[6])) {
            p += 7;
            while (p < end && is_blank(*p)) {
                p++;
            }
        }
        key = p;
        while (p < end && *p != '=') {
            p++;
        }
        if (p == end) {
            problem = "expected KEY=VALUE (no \"=\")";
            break;
        }
        key_len = (size_t)(p - key);
        while (key_len > 0 && is_blank(key[key_len - 1])) {
            key_len--;
        }
        bool key_ok = key_len > 0 && is_key_start(key[0]);
        for (size_t i = 1; key_ok && i < key_len; i++) {
            key_ok = is_key_char(key[i]);
        }
        if (!key_ok) {
            problem = "invalid variable name (expected letters, digits and _, not starting "
                      "with a digit)";
            break;
        }
        problem = parse_value(p + 1, end, &value);
        if (problem != NULL) {
            break;
        }
        rc = add_entry(&env, &cap, key, key_len, &value, line);
        p = next;
    }
    tsp_strbuf_fini(&value);
    if (rc != TSP_OK) {
        (void)tsp_error_set(err, rc, "TSPOOL_ENV_FILE", "%s:%d: out of memory", path, line);
        goto done;
    }
    if (problem != NULL) {
        rc = tsp_error_set(err, strcmp(problem, "out of memory") == 0 ? TSP_NO_MEMORY : TSP_INVALID,
                           "TSPOOL_ENV_FILE", "%s:%d: %s", path, line, problem);
        goto done;
    }
    *out = env;
    env.entries = NULL;
    env.count = 0;
done:
    tsp_dotenv_fini(&env);
    return rc;
}

int tsp_config_read_file(const char *path, char **out, size_t *len)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t n = 0;
    int rc = 0;

    f = fopen(path, "rb");
    if (f == NULL) {
        return errno;
    }
    buf = malloc(TSP_CONFIG_FILE_MAX + 1);
    if (buf == NULL) {
        rc = ENOMEM;
        goto done;
    }
    n = fread(buf, 1, TSP_CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) {
        rc = errno != 0 ? errno : EIO;
        goto done;
    }
    if (n > TSP_CONFIG_FILE_MAX) {
        rc = EFBIG;
        goto done;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
done:
    free(buf);
    fclose(f);
    return rc;
}

enum tsp_code tsp_dotenv_read(const char *path, struct tsp_dotenv *out, struct tsp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int e = tsp_config_read_file(path, &text, &len);
    enum tsp_code rc = TSP_OK;

    if (e != 0) {
        return tsp_error_set(err, TSP_IO, "TSPOOL_ENV_FILE",
                             "TSPOOL_ENV_FILE: cannot read \"%s\": %s", path, strerror(e));
    }
    rc = tsp_dotenv_parse(text, len, path, out, err);
    free(text);
    return rc;
}
