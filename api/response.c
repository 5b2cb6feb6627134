/* api/response.c - what goes out: status line, standard headers and body built in one buffer and
 * sent with one mg_write (two writes cost a round of Nagle/delayed-ACK per request).
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *tsp_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

/* True when a "Name: value\r\n" header block has a header called name. */
static bool has_header(const char *headers, const char *name)
{
    size_t nlen = strlen(name);
    const char *line = headers;

    while (line != NULL && *line != '\0') {
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            return true;
        }
        line = strstr(line, "\r\n");
        if (line != NULL) {
            line += 2;
        }
    }
    return false;
}

enum tsp_code tsp_response_build(const struct tsp_req *req, int status, const char *content_type,
                                 const char *extra_headers, const char *body, size_t body_len,
                                 char **out, size_t *out_len)
{
    char head[1024];
    const char *connection = "";
    const char *cache = "Cache-Control: no-store\r\n";
    char length[48];
    int hlen = 0;
    size_t extra_len = extra_headers != NULL ? strlen(extra_headers) : 0;
    char *buf = NULL;

    if (req->close_connection) {
        connection = "Connection: close\r\n";
    } else if (req->keep_alive_10) {
        connection = "Connection: keep-alive\r\n";
    }
    /* a handler may choose its own caching (the dashboard's files revalidate by ETag) */
    if (has_header(extra_headers, "Cache-Control")) {
        cache = "";
    }
    /* a 304 has no content, and a Content-Length would have to be the full 200's (RFC 9110) */
    length[0] = '\0';
    if (status != 304) {
        snprintf(length, sizeof(length), "Content-Length: %zu\r\n", body_len);
    }
    hlen = snprintf(head, sizeof(head),
                    "HTTP/1.1 %d %s\r\n"
                    "Content-Type: %s\r\n"
                    "%s"
                    "X-Request-Id: %s\r\n"
                    "%s"
                    "X-Content-Type-Options: nosniff\r\n"
                    "%s",
                    status, tsp_http_reason(status), content_type, length, req->request_id, cache,
                    connection);
    if (hlen < 0 || (size_t)hlen >= sizeof(head)) {
        return TSP_INTERNAL;
    }
    buf = malloc((size_t)hlen + extra_len + 2 + body_len + 1);
    if (buf == NULL) {
        return TSP_NO_MEMORY;
    }
    memcpy(buf, head, (size_t)hlen);
    if (extra_len > 0) {
        memcpy(buf + hlen, extra_headers, extra_len);
    }
    memcpy(buf + (size_t)hlen + extra_len, "\r\n", 2);
    if (body_len > 0) {
        memcpy(buf + (size_t)hlen + extra_len + 2, body, body_len);
    }
    *out_len = (size_t)hlen + extra_len + 2 + body_len;
    buf[*out_len] = '\0';
    *out = buf;
    return TSP_OK;
}

int tsp_respond(struct tsp_req *req, int status, const char *content_type,
                const char *extra_headers, const char *body, size_t body_len)
{
    char *buf = NULL;
    size_t len = 0;
    enum tsp_code rc =
        tsp_response_build(req, status, content_type, extra_headers, body, body_len, &buf, &len);

    if (rc != TSP_OK) {
        /* nothing sensible can be sent; make CivetWeb drop the connection */
        req->close_connection = true;
        status = 500;
        goto done;
    }
    if (req->conn != NULL) {
        if (req->close_connection) {
            mg_disable_keep_alive(req->conn);
        }
        if (mg_write(req->conn, buf, len) < 0) {
            req->close_connection = true;
        }
    }
done:
    free(buf);
    return status;
}

int tsp_respond_oom(struct tsp_req *req)
{
    static const char body[] = "{\"type\":\"urn:tspool:problem:no-memory\",\"title\":\"Out of "
                               "memory\",\"status\":500,\"code\":\"NO_MEMORY\"}";

    return tsp_respond(req, 500, "application/problem+json", NULL, body, sizeof(body) - 1);
}

int tsp_respond_json(struct tsp_req *req, int status, const json_t *json)
{
    return tsp_respond_json_headers(req, status, json, NULL);
}

int tsp_respond_json_headers(struct tsp_req *req, int status, const json_t *json,
                             const char *extra_headers)
{
    char *text = json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(15));
    int sent = 0;

    if (text == NULL) {
        return tsp_respond_oom(req);
    }
    sent = tsp_respond(req, status, "application/json", extra_headers, text, strlen(text));
    free(text);
    return sent;
}

int tsp_respond_text(struct tsp_req *req, int status, const char *text)
{
    return tsp_respond(req, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}
