/* test_hostile_requests.c - hostile HTTP requests from tests/data/hostile_requests.cases sent
 * as raw bytes over a socket: each gets the documented 4xx as problem+json with the standard
 * headers (or, for a request that never completes, is ended by the server in bounded time),
 * and the service keeps serving. Also: slow clients do not starve the probes.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <jansson.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reliability.h"

#define ADMIN_TOKEN        "hostile-admin-token-0123456789"
#define REQUEST_TIMEOUT_MS 1000

static struct tsp_test_service *svc;

static int setup(void **state)
{
    static const char *const env[] = {"TSPOOL_ADMIN_TOKEN=" ADMIN_TOKEN,
                                      "TSPOOL_HTTP_REQUEST_TIMEOUT_MS=1000", NULL};
    (void)state;
    if (!tsp_test_pg_available()) {
        return -1;
    }
    svc = rel_start(env);
    return svc != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    svc = NULL;
    return rel_teardown(state);
}

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

static void put(struct buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static int hexval(char c)
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

/* Expand escapes, {R:n:text}, {ADMIN}; {CL} is resolved afterwards. */
static void expand(const char *src, size_t srclen, struct buf *out)
{
    for (size_t i = 0; i < srclen; i++) {
        char c = src[i];
        if (c == '\\' && i + 1 < srclen) {
            char e = src[++i];
            char v = e;
            if (e == 'r') {
                v = '\r';
            } else if (e == 'n') {
                v = '\n';
            } else if (e == 't') {
                v = '\t';
            } else if (e == '0') {
                v = '\0';
            } else if (e == 'x' && i + 2 < srclen) {
                v = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
                i += 2;
            }
            put(out, &v, 1);
        } else if (c == '{' && strncmp(src + i, "{R:", 3) == 0) {
            char *end = NULL;
            long count = strtol(src + i + 3, &end, 10);
            const char *text = end + 1;
            const char *close = strchr(text, '}');
            struct buf inner = {NULL, 0, 0};
            assert_non_null(close);
            expand(text, (size_t)(close - text), &inner);
            for (long k = 0; k < count; k++) {
                put(out, inner.data, inner.len);
            }
            free(inner.data);
            i = (size_t)(close - src);
        } else if (c == '{' && strncmp(src + i, "{ADMIN}", 7) == 0) {
            put(out, ADMIN_TOKEN, strlen(ADMIN_TOKEN));
            i += 6;
        } else {
            put(out, &c, 1);
        }
    }
}

/* Replace "{CL}" by the length of what follows the first blank line. */
static void resolve_content_length(struct buf *req)
{
    char *cl = strstr(req->data, "{CL}");
    char *body = NULL;
    char num[32];
    struct buf fixed = {NULL, 0, 0};

    if (cl == NULL) {
        return;
    }
    body = strstr(req->data, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    snprintf(num, sizeof(num), "%zu", req->len - (size_t)(body - req->data));
    put(&fixed, req->data, (size_t)(cl - req->data));
    put(&fixed, num, strlen(num));
    put(&fixed, cl + 4, req->len - (size_t)(cl + 4 - req->data));
    free(req->data);
    *req = fixed;
}

static int connect_service(void)
{
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)tsp_test_service_port(svc));
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

/* Send all of req (ignoring a peer that stops reading: it may answer early), then read until
 * the peer closes or timeout_ms. Returns what was read; *closed_ms is when it ended. */
static struct buf exchange(const struct buf *req, long timeout_ms, long *closed_ms)
{
    int fd = connect_service();
    struct buf resp = {NULL, 0, 0};
    int64_t start = rel_now_ms();
    size_t off = 0;

    while (off < req->len) {
        ssize_t n = send(fd, req->data + off, req->len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            break;
        }
        off += (size_t)n;
    }
    put(&resp, "", 0);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        long left = timeout_ms - (long)(rel_now_ms() - start);
        char chunk[8192];
        ssize_t n = 0;
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            break;
        }
        n = recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) {
            break;
        }
        put(&resp, chunk, (size_t)n);
    }
    *closed_ms = (long)(rel_now_ms() - start);
    close(fd);
    return resp;
}

static bool has_header(const char *head, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = head; *p != '\0'; p++) {
        if (strncasecmp(p, line, n) == 0) {
            return true;
        }
    }
    return false;
}

static void run_case(const char *name, const char *expect, const char *request)
{
    struct buf req = {NULL, 0, 0};
    struct buf resp = {NULL, 0, 0};
    long closed_ms = 0;
    bool slow = strcmp(expect, "slow") == 0;
    int status = 0;
    char head[8192];
    char want[64];
    bool matched = false;

    expand(request, strlen(request), &req);
    resolve_content_length(&req);
    resp = exchange(&req, slow ? 15000 : 10000, &closed_ms);
    if (slow) {
        /* the server ends a request that never completes: closes, or answers 408/400 */
        if (closed_ms >= 15000) {
            fail_msg("case %s: connection still open after %ld ms", name, closed_ms);
        }
        if (resp.len > 0 && sscanf(resp.data, "HTTP/1.%*d %d", &status) == 1 &&
            (status < 400 || status >= 500)) {
            fail_msg("case %s: status %d for an incomplete request", name, status);
        }
    } else {
        if (sscanf(resp.data, "HTTP/1.%*d %d", &status) != 1) {
            fail_msg("case %s: no HTTP response (got %zu bytes)", name, resp.len);
        }
        snprintf(want, sizeof(want), ",%s,", expect);
        for (char *p = want; *p != '\0'; p++) {
            if (*p == ' ') {
                *p = ',';
            }
        }
        {
            char got[16];
            snprintf(got, sizeof(got), ",%d,", status);
            matched = strstr(want, got) != NULL;
        }
        if (!matched) {
            fail_msg("case %s: status %d, expected %s; response:\n%.600s", name, status, expect,
                     resp.data);
        }
        snprintf(head, sizeof(head), "%s", resp.data);
        {
            char *end = strstr(head, "\r\n\r\n");
            if (end != NULL) {
                end[2] = '\0';
            }
        }
        if (!has_header(head, "\r\nX-Content-Type-Options: nosniff\r\n")) {
            fail_msg("case %s: no X-Content-Type-Options: nosniff in\n%s", name, head);
        }
        if (has_header(head, "\r\nServer:")) {
            fail_msg("case %s: a Server header in\n%s", name, head);
        }
        if (!has_header(head, "\r\nCache-Control: no-store\r\n")) {
            fail_msg("case %s: no Cache-Control: no-store in\n%s", name, head);
        }
        if (status >= 400 && !has_header(head, "\r\nContent-Type: application/problem+json\r\n")) {
            fail_msg("case %s: status %d is not problem+json:\n%s", name, status, head);
        }
        if (status >= 400) {
            /* the problem document parses (jansson accepts valid UTF-8 only) */
            const char *body = strstr(resp.data, "\r\n\r\n");
            json_error_t jerr;
            json_t *doc = body != NULL ? json_loads(body + 4, 0, &jerr) : NULL;
            if (doc == NULL) {
                fail_msg("case %s: the problem document is not valid JSON: %.300s", name,
                         body != NULL ? body + 4 : "(no body)");
            }
            json_decref(doc);
        }
    }
    free(req.data);
    free(resp.data);
    /* and the service keeps serving */
    if (rel_get(tsp_test_service_url(svc), "/livez", 5000, NULL) != 200) {
        fail_msg("case %s: /livez no longer answers 200", name);
    }
}

static void test_hostile_requests_cases(void **state)
{
    char path[1024];
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    int cases = 0;
    (void)state;

    snprintf(path, sizeof(path), "%s/tests/data/hostile_requests.cases", tsp_test_source_dir());
    f = fopen(path, "r");
    assert_non_null(f);
    while (getline(&line, &cap, f) > 0) {
        char *name = line;
        char *expect = NULL;
        char *request = NULL;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        expect = strstr(name, " | ");
        assert_non_null(expect);
        *expect = '\0';
        expect += 3;
        request = strstr(expect, " | ");
        assert_non_null(request);
        *request = '\0';
        request += 3;
        run_case(name, expect, request);
        cases++;
    }
    free(line);
    fclose(f);
    assert_true(cases >= 40);
    /* secrets never reach the log */
    {
        char *out = tsp_test_service_stdout(svc);
        char *err = tsp_test_service_stderr(svc);
        assert_null(strstr(out, ADMIN_TOKEN));
        assert_null(strstr(err, ADMIN_TOKEN));
        assert_null(strstr(out, tsp_test_pg_password()));
        assert_null(strstr(err, tsp_test_pg_password()));
        free(out);
        free(err);
    }
}

/* Slow clients hold connections; probes still get a worker within their budget. */
static void test_hostile_slow_clients_do_not_starve_probes(void **state)
{
    static const char partial[] = "GET /livez HTTP/1.1\r\nHost: t\r\nX-Slow: ";
    int fds[8];
    long live_ms = 0;
    (void)state;

    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        fds[i] = connect_service();
        assert_true(send(fds[i], partial, sizeof(partial) - 1, MSG_NOSIGNAL) > 0);
    }
    for (int i = 0; i < 10; i++) {
        assert_int_equal(rel_get(tsp_test_service_url(svc), "/livez", 2000, &live_ms), 200);
        assert_true(live_ms < 2000);
        tsp_test_sleep_ms(100);
    }
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        close(fds[i]);
    }
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_requests_cases),
        cmocka_unit_test(test_hostile_slow_clients_do_not_starve_probes),
    };
    return cmocka_run_group_tests_name("hostile_requests", tests, setup, teardown);
}
