/* cli/http_client.c - the CLI's HTTP client (libcurl easy interface): GET with a bearer token
 * and a timeout, the default service URL and the token from the environment.
 * SPDX-License-Identifier: MIT
 */
#include "http_client_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/strbuf.h"

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct tsp_strbuf *body = userp;
    size_t n = size * nmemb;

    /* 0 makes curl fail with CURLE_WRITE_ERROR */
    return tsp_strbuf_append(body, data, n) ? n : 0;
}

enum tsp_code tsp_http_get(const char *base_url, const char *path, const char *token,
                           long timeout_ms, struct tsp_http_reply *out, struct tsp_error *err)
{
    return tsp_http_request("GET", base_url, path, token, NULL, timeout_ms, out, err);
}

enum tsp_code tsp_http_request(const char *method, const char *base_url, const char *path,
                               const char *token, const char *json_body, long timeout_ms,
                               struct tsp_http_reply *out, struct tsp_error *err)
{
    CURL *curl = NULL;
    struct curl_slist *headers = NULL;
    struct tsp_http_reply reply = {0, NULL, 0};
    struct tsp_strbuf body = {0};
    char url[1024];
    char auth[1024];
    char curl_err[CURL_ERROR_SIZE] = "";
    CURLcode cc = CURLE_OK;
    enum tsp_code rc = TSP_OK;

    snprintf(url, sizeof(url), "%s%s", base_url, path);
    curl = curl_easy_init();
    if (curl == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "cannot initialise libcurl");
        goto done;
    }
    if (token != NULL && token[0] != '\0') {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, auth);
    }
    if (json_body != NULL) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body);
    }
    if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        rc = tsp_error_set(err, TSP_UNAVAILABLE, NULL, "%s: %s", url,
                           curl_err[0] != '\0' ? curl_err : curl_easy_strerror(cc));
        goto done;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    reply.body = tsp_strbuf_take(&body, &reply.len); /* "" for an empty body */
    if (reply.body == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    *out = reply;
done:
    tsp_strbuf_fini(&body);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return rc;
}

void tsp_http_reply_fini(struct tsp_http_reply *reply)
{
    if (reply == NULL) {
        return;
    }
    free(reply->body);
    reply->body = NULL;
    reply->len = 0;
}

void tsp_http_default_url(const char *explicit_url, char *out, size_t outsize)
{
    const char *env = getenv("TSPOOL_URL");
    const char *listen = getenv("TSPOOL_LISTEN");
    const char *colon = NULL;

    if (explicit_url != NULL && explicit_url[0] != '\0') {
        snprintf(out, outsize, "%s", explicit_url);
    } else if (env != NULL && env[0] != '\0') {
        snprintf(out, outsize, "%s", env);
    } else if (listen != NULL && (colon = strrchr(listen, ':')) != NULL) {
        size_t hlen = (size_t)(colon - listen);
        char host[256];
        snprintf(host, sizeof(host), "%.*s", (int)hlen, listen);
        if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0 ||
            strcmp(host, "::") == 0) {
            snprintf(host, sizeof(host), "127.0.0.1");
        }
        snprintf(out, outsize, "http://%s:%s", host, colon + 1);
    } else {
        snprintf(out, outsize, "http://127.0.0.1:8080");
    }
    /* no trailing slash: paths start with one */
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == '/') {
        out[--len] = '\0';
    }
}

/* The token in NAME, else in the file NAME_FILE names (one trailing newline dropped), else
 * NULL. File contents live in a static buffer: the CLI is single-threaded. */
static const char *token_from(const char *name)
{
    static char buf[1024];
    char file_var[64];
    const char *token = getenv(name);
    const char *path = NULL;
    FILE *f = NULL;
    size_t n = 0;

    if (token != NULL && token[0] != '\0') {
        return token;
    }
    snprintf(file_var, sizeof(file_var), "%s_FILE", name);
    path = getenv(file_var);
    if (path == NULL || path[0] == '\0') {
        return NULL;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n') {
        buf[--n] = '\0';
    }
    if (n > 0 && buf[n - 1] == '\r') {
        buf[--n] = '\0';
    }
    return n > 0 ? buf : NULL;
}

const char *tsp_http_read_token(void)
{
    const char *token = token_from("TSPOOL_READ_TOKEN");
    return token != NULL ? token : token_from("TSPOOL_ADMIN_TOKEN");
}

const char *tsp_http_admin_token(void)
{
    return token_from("TSPOOL_ADMIN_TOKEN");
}

bool tsp_http_client_option(int argc, char **argv, int *i, const char **url, long *timeout_s)
{
    const char *arg = argv[*i];

    if (strcmp(arg, "--url") == 0 && *i + 1 < argc) {
        *url = argv[++*i];
        return true;
    }
    if (strncmp(arg, "--url=", 6) == 0) {
        *url = arg + 6;
        return true;
    }
    if (strcmp(arg, "--timeout") == 0 && *i + 1 < argc &&
        sscanf(argv[*i + 1], "%ld", timeout_s) == 1 && *timeout_s > 0) {
        ++*i;
        return true;
    }
    return false;
}

const char *tsp_http_admin_first_token(void)
{
    const char *token = token_from("TSPOOL_ADMIN_TOKEN");
    return token != NULL ? token : token_from("TSPOOL_READ_TOKEN");
}
