/* api/request.c - what comes in: request ids, query parameters, headers, and the JSON body
 * (Content-Type check, 64 KiB limit, parse errors with their position).
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <civetweb.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tspool/clock.h"

bool tsp_request_id_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL) {
        return false;
    }
    for (n = 0; s[n] != '\0'; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= TSP_REQUEST_ID_MAX) {
            return false;
        }
    }
    return n > 0;
}

/* A random per-process prefix plus a counter: unique, unpredictable across restarts, and
 * costs one atomic increment per request instead of a read from the kernel. */
static atomic_uint_fast64_t id_counter;
static atomic_uint_fast64_t id_prefix;

static uint64_t prefix_seed(void)
{
    uint64_t seed = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t got = read(fd, &seed, sizeof(seed));
        (void)got;
        close(fd);
    }
    if (seed == 0) {
        int64_t ns = tsp_clock_real_ns();
        seed =
            ((uint64_t)(ns / 1000000000) << 32) ^ (uint64_t)(ns % 1000000000) ^ (uint64_t)getpid();
    }
    return seed | 1u;
}

void tsp_request_id_generate(char *out, size_t outsize)
{
    uint64_t prefix = atomic_load_explicit(&id_prefix, memory_order_relaxed);
    if (prefix == 0) {
        uint64_t expected = 0;
        uint64_t fresh = prefix_seed();
        /* first caller wins; everybody then uses the same prefix */
        atomic_compare_exchange_strong(&id_prefix, &expected, fresh);
        prefix = atomic_load(&id_prefix);
    }
    uint64_t n = atomic_fetch_add_explicit(&id_counter, 1, memory_order_relaxed) + 1;
    snprintf(out, outsize, "%016llx%016llx", (unsigned long long)prefix, (unsigned long long)n);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* URL-decode src[0..len) into out; '+' is a space. Returns the length or -2 when too long. */
static int url_decode(const char *src, size_t len, char *out, size_t outsize)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%' && i + 2 < len && hex_value(src[i + 1]) >= 0 && hex_value(src[i + 2]) >= 0) {
            c = (char)(hex_value(src[i + 1]) * 16 + hex_value(src[i + 2]));
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= outsize) {
            return -2;
        }
        out[o++] = c;
    }
    if (outsize == 0) {
        return -2;
    }
    out[o] = '\0';
    return (int)o;
}

int tsp_query_get(const char *query, const char *name, int nth, char *out, size_t outsize)
{
    const char *p = query;
    size_t nlen = strlen(name);
    int seen = 0;

    if (query == NULL) {
        return -1;
    }
    while (*p != '\0') {
        size_t plen = strcspn(p, "&");
        size_t klen = strcspn(p, "=&");
        if (klen == nlen && strncmp(p, name, nlen) == 0) {
            if (seen == nth) {
                if (klen == plen) {
                    if (outsize == 0) {
                        return -2;
                    }
                    out[0] = '\0';
                    return 0;
                }
                return url_decode(p + klen + 1, plen - klen - 1, out, outsize);
            }
            seen++;
        }
        p += plen;
        if (*p == '&') {
            p++;
        }
    }
    return -1;
}

bool tsp_query_repeated(const char *query, const char *name)
{
    char second[8];

    /* -2 (the second value does not fit) still means it is there */
    return tsp_query_get(query, name, 1, second, sizeof(second)) != -1;
}

enum tsp_code tsp_query_bool(const char *query, const char *name, bool *out, struct tsp_error *err)
{
    char value[16];
    int n = tsp_query_get(query, name, 0, value, sizeof(value));

    if (tsp_query_repeated(query, name)) {
        return tsp_error_set(err, TSP_INVALID, name, "query parameter '%s' is given more than once",
                             name);
    }
    if (n == -1) {
        *out = false;
        return TSP_OK;
    }
    if (n >= 0 && (value[0] == '\0' || strcmp(value, "1") == 0 || strcmp(value, "true") == 0 ||
                   strcmp(value, "yes") == 0)) {
        *out = true;
        return TSP_OK;
    }
    if (n >= 0 &&
        (strcmp(value, "0") == 0 || strcmp(value, "false") == 0 || strcmp(value, "no") == 0)) {
        *out = false;
        return TSP_OK;
    }
    return tsp_error_set(err, TSP_INVALID, name,
                         "query parameter '%s' must be true or false (or given without a value)",
                         name);
}

bool tsp_content_type_is_json(const char *value)
{
    static const char json[] = "application/json";
    size_t n = sizeof(json) - 1;

    if (value == NULL) {
        return false;
    }
    while (*value == ' ') {
        value++;
    }
    if (strncasecmp(value, json, n) != 0) {
        return false;
    }
    return value[n] == '\0' || value[n] == ';' || value[n] == ' ';
}

/* Request bodies are small flat objects; jansson recurses once per level and, on a worker
 * thread's stack, thousands of levels overflow it. */
#define JSON_MAX_DEPTH 32

/* Deepest nesting of arrays/objects in a JSON text, strings skipped. Pure. */
static size_t json_depth(const char *body, size_t len)
{
    size_t depth = 0, max = 0;
    bool in_string = false;

    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            depth++;
            max = depth > max ? depth : max;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return max;
}

enum tsp_code tsp_json_parse_body(const char *body, size_t len, json_t **out, struct tsp_error *err)
{
    json_error_t jerr;
    json_t *doc = NULL;

    if (len == 0) {
        return tsp_error_set(err, TSP_INVALID, "body",
                             "request body is empty; a JSON object is "
                             "expected");
    }
    if (memchr(body, '\0', len) != NULL) {
        /* jansson takes a NUL byte for the end of the text and accepts what came before */
        return tsp_error_set(err, TSP_INVALID, "body", "request body contains a NUL byte");
    }
    if (json_depth(body, len) > JSON_MAX_DEPTH) {
        return tsp_error_set(err, TSP_INVALID, "body", "JSON nested deeper than %d levels",
                             JSON_MAX_DEPTH);
    }
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        return tsp_error_set(err, TSP_INVALID, "body",
                             "invalid JSON at line %d, column %d (byte %d): %s", jerr.line,
                             jerr.column, jerr.position, jerr.text);
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return tsp_error_set(err, TSP_INVALID, "body", "request body must be a JSON object");
    }
    *out = doc;
    return TSP_OK;
}

const char *tsp_req_header(const struct tsp_req *req, const char *name)
{
    if (req->conn == NULL) {
        return NULL;
    }
    return mg_get_header(req->conn, name);
}

enum tsp_code tsp_req_read_json(struct tsp_req *req, json_t **out, struct tsp_error *err)
{
    const struct mg_request_info *info = mg_get_request_info(req->conn);
    const char *ctype = tsp_req_header(req, "Content-Type");
    char *body = NULL;
    size_t used = 0;
    enum tsp_code rc = TSP_OK;

    if (info->content_length > TSP_BODY_LIMIT) {
        /* do not read a body we refuse; the connection cannot be reused after that */
        req->close_connection = true;
        rc = tsp_error_set(err, TSP_TOO_LARGE, "body",
                           "request body of %lld bytes exceeds the limit of %d bytes",
                           info->content_length, TSP_BODY_LIMIT);
        goto done;
    }
    if (!tsp_content_type_is_json(ctype)) {
        rc = tsp_error_set(err, TSP_UNSUPPORTED_MEDIA, "Content-Type",
                           "Content-Type must be application/json, not '%s'",
                           ctype != NULL ? ctype : "(none)");
        goto done;
    }
    body = malloc(TSP_BODY_LIMIT + 1);
    if (body == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory reading the body");
        goto done;
    }
    for (;;) {
        int n = mg_read(req->conn, body + used, TSP_BODY_LIMIT + 1 - used);
        if (n <= 0) {
            break;
        }
        used += (size_t)n;
        if (used > TSP_BODY_LIMIT) {
            req->close_connection = true;
            rc = tsp_error_set(err, TSP_TOO_LARGE, "body",
                               "request body exceeds the limit of %d bytes", TSP_BODY_LIMIT);
            goto done;
        }
    }
    rc = tsp_json_parse_body(body, used, out, err);
done:
    free(body);
    return rc;
}

const char *tsp_req_param(const struct tsp_req *req, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < req->params.count; i++) {
        const char *pname = req->params.items[i].name;
        /* names point into the pattern: "check}" */
        if (strncmp(pname, name, nlen) == 0 && pname[nlen] == '}') {
            return req->params.items[i].value;
        }
    }
    return NULL;
}
