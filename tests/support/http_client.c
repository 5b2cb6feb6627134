/* http_client.c - libcurl helpers for tests (requests, replies, headers, JSON) and the
 * Prometheus exposition checker.
 * SPDX-License-Identifier: MIT
 */
#include "http_client.h"

#include "tsp_test.h"

#include <curl/curl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct growbuf {
    char *data;
    size_t len;
};

static size_t append(char *ptr, size_t size, size_t nmemb, void *userp)
{
    struct growbuf *b = userp;
    size_t n = size * nmemb;
    char *grown = realloc(b->data, b->len + n + 1);
    if (grown == NULL) {
        return 0;
    }
    memcpy(grown + b->len, ptr, n);
    b->len += n;
    grown[b->len] = '\0';
    b->data = grown;
    return n;
}

/* Keep only the last response's headers (after a 100 Continue, for example). */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userp)
{
    struct growbuf *b = userp;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        b->len = 0;
        if (b->data != NULL) {
            b->data[0] = '\0';
        }
    }
    return append(ptr, size, nmemb, userp);
}

struct tsp_test_reply *tsp_test_http_try(const char *method, const char *url,
                                         const char *const *extra_headers, const char *body,
                                         long timeout_ms)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    struct growbuf hbuf = {NULL, 0};
    struct growbuf bbuf = {NULL, 0};
    struct tsp_test_reply *reply = NULL;
    CURLcode cc;

    assert_non_null(curl);
    for (size_t i = 0; extra_headers != NULL && extra_headers[i] != NULL; i++) {
        headers = curl_slist_append(headers, extra_headers[i]);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &bbuf);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &hbuf);
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK) {
        reply = calloc(1, sizeof(*reply));
        assert_non_null(reply);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
        reply->headers = hbuf.data != NULL ? hbuf.data : strdup("");
        reply->body = bbuf.data != NULL ? bbuf.data : strdup("");
        reply->body_len = bbuf.len;
        reply->json = json_loadb(reply->body, reply->body_len, 0, NULL);
        hbuf.data = NULL;
        bbuf.data = NULL;
    }
    free(hbuf.data);
    free(bbuf.data);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return reply;
}

struct tsp_test_reply *tsp_test_http(const char *method, const char *url,
                                     const char *const *extra_headers, const char *body)
{
    struct tsp_test_reply *reply = tsp_test_http_try(method, url, extra_headers, body, 30000);
    if (reply == NULL) {
        fail_msg("%s %s: no response", method, url);
    }
    return reply;
}

struct tsp_test_reply *tsp_test_get(const char *url, const char *token)
{
    char auth[512];
    const char *headers[2] = {NULL, NULL};
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers[0] = auth;
    }
    return tsp_test_http("GET", url, headers, NULL);
}

void tsp_test_reply_free(struct tsp_test_reply *reply)
{
    if (reply == NULL) {
        return;
    }
    json_decref(reply->json);
    free(reply->headers);
    free(reply->body);
    free(reply);
}

bool tsp_test_reply_header(const struct tsp_test_reply *reply, const char *name, char *out,
                           size_t outsize)
{
    size_t nlen = strlen(name);
    const char *line = reply->headers;

    while (line != NULL && *line != '\0') {
        const char *end = strstr(line, "\r\n");
        size_t llen = end != NULL ? (size_t)(end - line) : strlen(line);
        if (llen > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ') {
                v++;
            }
            snprintf(out, outsize, "%.*s", (int)(llen - (size_t)(v - line)), v);
            return true;
        }
        line = end != NULL ? end + 2 : NULL;
    }
    return false;
}

const char *tsp_test_json_str(const struct tsp_test_reply *reply, const char *key)
{
    return json_string_value(json_object_get(reply->json, key));
}

bool tsp_test_prometheus_valid(const char *text, char *why, size_t whysize)
{
    static const char sample_re[] =
        "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
        "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*\\})? "
        "(-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|\\+Inf|-Inf|NaN)$";
    static const char comment_re[] = "^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$";
    regex_t sample, comment;
    regmatch_t m[3];
    char *copy = strdup(text);
    char *save = NULL;
    char helped[256][128];
    char typed[256][128];
    size_t nhelp = 0, ntype = 0;
    bool ok = true;

    assert_int_equal(regcomp(&sample, sample_re, REG_EXTENDED), 0);
    assert_int_equal(regcomp(&comment, comment_re, REG_EXTENDED), 0);
    for (char *line = strtok_r(copy, "\n", &save); line != NULL && ok;
         line = strtok_r(NULL, "\n", &save)) {
        char name[128];
        if (regexec(&comment, line, 3, m, 0) == 0) {
            snprintf(name, sizeof(name), "%.*s", (int)(m[2].rm_eo - m[2].rm_so), line + m[2].rm_so);
            if (line[2] == 'H' && nhelp < 256) {
                snprintf(helped[nhelp++], sizeof(helped[0]), "%s", name);
            } else if (line[2] == 'T' && ntype < 256) {
                snprintf(typed[ntype++], sizeof(typed[0]), "%s", name);
            }
            continue;
        }
        if (regexec(&sample, line, 2, m, 0) != 0) {
            snprintf(why, whysize, "not a sample line: %s", line);
            ok = false;
            break;
        }
        snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
        /* histogram samples belong to the family without the suffix */
        bool has_help = false, has_type = false;
        for (size_t i = 0; i < nhelp; i++) {
            size_t fl = strlen(helped[i]);
            if (strncmp(name, helped[i], fl) == 0 &&
                (name[fl] == '\0' || strcmp(name + fl, "_bucket") == 0 ||
                 strcmp(name + fl, "_sum") == 0 || strcmp(name + fl, "_count") == 0)) {
                has_help = true;
            }
        }
        for (size_t i = 0; i < ntype; i++) {
            size_t fl = strlen(typed[i]);
            if (strncmp(name, typed[i], fl) == 0 &&
                (name[fl] == '\0' || strcmp(name + fl, "_bucket") == 0 ||
                 strcmp(name + fl, "_sum") == 0 || strcmp(name + fl, "_count") == 0)) {
                has_type = true;
            }
        }
        if (!has_help || !has_type) {
            snprintf(why, whysize, "sample without HELP/TYPE: %s", line);
            ok = false;
        }
    }
    regfree(&sample);
    regfree(&comment);
    free(copy);
    return ok;
}
