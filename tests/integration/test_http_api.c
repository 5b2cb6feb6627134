/* test_http_api.c - integration tests of the HTTP layer against the built binary and the
 * PostgreSQL 15 test server: request ids, 404/405/413/415/400, auth 401/403, /config
 * redaction, /openapi.yaml, /metrics grammar, pool control (pause/resume/recycle/PATCH).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"
#include "service_harness.h"

#define ADMIN "admin-token-0123456789"
#define READ  "read-token-0123456789"

static struct tsp_test_service *svc;

static int setup(void **state)
{
    static const char *const env[] = {"TSPOOL_ADMIN_TOKEN=" ADMIN, "TSPOOL_READ_TOKEN=" READ,
                                      "DB_MAX_CONNS=3", "DB_MAX_OVERFLOW=1", NULL};
    (void)state;
    if (!tsp_test_pg_available()) {
        return -1;
    }
    svc = tsp_test_service_start(env);
    return svc != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tsp_test_service_stop(svc);
    svc = NULL;
    return 0;
}

static char *url(const char *path)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "%s%s", tsp_test_service_url(svc), path);
    return buf;
}

static void assert_problem(struct tsp_test_reply *r, long status, const char *code)
{
    char ctype[128];
    assert_int_equal(r->status, status);
    assert_true(tsp_test_reply_header(r, "Content-Type", ctype, sizeof(ctype)));
    assert_string_equal(ctype, "application/problem+json");
    assert_non_null(r->json);
    assert_int_equal(json_integer_value(json_object_get(r->json, "status")), status);
    assert_string_equal(tsp_test_json_str(r, "code"), code);
    assert_non_null(tsp_test_json_str(r, "title"));
    assert_non_null(tsp_test_json_str(r, "detail"));
    assert_non_null(tsp_test_json_str(r, "type"));
}

static void test_http_request_id_echo_and_generate(void **state)
{
    const char *sane[] = {"X-Request-Id: abc-123_x.y", NULL};
    const char *insane[] = {"X-Request-Id: bad id!", NULL};
    struct tsp_test_reply *r = NULL;
    char id[128];
    (void)state;

    r = tsp_test_http("GET", url("/livez"), sane, NULL);
    assert_true(tsp_test_reply_header(r, "X-Request-Id", id, sizeof(id)));
    assert_string_equal(id, "abc-123_x.y");
    assert_true(tsp_test_reply_header(r, "Cache-Control", id, sizeof(id)));
    assert_string_equal(id, "no-store");
    tsp_test_reply_free(r);
    r = tsp_test_http("GET", url("/livez"), insane, NULL);
    assert_true(tsp_test_reply_header(r, "X-Request-Id", id, sizeof(id)));
    assert_int_equal(strlen(id), 32);
    assert_string_not_equal(id, "bad id!");
    tsp_test_reply_free(r);
    /* errors carry it too, in the header and the body */
    r = tsp_test_http("GET", url("/nope"), sane, NULL);
    assert_problem(r, 404, "NOT_FOUND");
    assert_string_equal(tsp_test_json_str(r, "request_id"), "abc-123_x.y");
    assert_string_equal(tsp_test_json_str(r, "instance"), "/nope");
    tsp_test_reply_free(r);
}

static void test_http_method_not_allowed_has_allow(void **state)
{
    struct tsp_test_reply *r = tsp_test_http("DELETE", url("/pool/status"), NULL, NULL);
    char allow[64];
    (void)state;

    assert_problem(r, 405, "METHOD_NOT_ALLOWED");
    assert_true(tsp_test_reply_header(r, "Allow", allow, sizeof(allow)));
    assert_string_equal(allow, "GET");
    tsp_test_reply_free(r);
}

static void test_http_auth_401_403(void **state)
{
    struct tsp_test_reply *r = NULL;
    char value[128];
    (void)state;

    r = tsp_test_get(url("/pool/status"), NULL);
    assert_problem(r, 401, "UNAUTHORIZED");
    assert_true(tsp_test_reply_header(r, "WWW-Authenticate", value, sizeof(value)));
    assert_string_equal(value, "Bearer realm=\"tspool\"");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/pool/status"), "wrong");
    assert_problem(r, 401, "UNAUTHORIZED");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/pool/status"), READ);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/pool/status"), ADMIN);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/config"), READ);
    assert_problem(r, 403, "FORBIDDEN");
    tsp_test_reply_free(r);
    /* probes and metrics are public by default */
    r = tsp_test_get(url("/readyz"), NULL);
    assert_true(r->status == 200 || r->status == 503);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/metrics"), NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
}

static void test_http_config_redacts_secrets(void **state)
{
    struct tsp_test_reply *r = tsp_test_get(url("/config"), ADMIN);
    json_t *vars = NULL;
    size_t i = 0;
    json_t *row = NULL;
    int seen = 0;
    (void)state;

    assert_int_equal(r->status, 200);
    assert_null(strstr(r->body, tsp_test_pg_password()));
    assert_null(strstr(r->body, ADMIN));
    assert_null(strstr(r->body, READ));
    vars = json_object_get(r->json, "variables");
    json_array_foreach(vars, i, row)
    {
        const char *name = json_string_value(json_object_get(row, "name"));
        const char *value = json_string_value(json_object_get(row, "value"));
        const char *source = json_string_value(json_object_get(row, "source"));
        if (strcmp(name, "DB_PASS") == 0 || strcmp(name, "TSPOOL_ADMIN_TOKEN") == 0) {
            assert_string_equal(value, "********");
            assert_string_equal(source, "environment");
            seen++;
        }
        if (strcmp(name, "DB_MAX_CONNS") == 0) {
            assert_string_equal(value, "3");
            assert_string_equal(source, "environment");
            seen++;
        }
    }
    assert_int_equal(seen, 3);
    tsp_test_reply_free(r);
}

static void test_http_openapi_served(void **state)
{
    struct tsp_test_reply *r = tsp_test_get(url("/openapi.yaml"), NULL);
    char ctype[64];
    (void)state;

    assert_int_equal(r->status, 200);
    assert_true(tsp_test_reply_header(r, "Content-Type", ctype, sizeof(ctype)));
    assert_string_equal(ctype, "application/yaml");
    assert_int_equal(strncmp(r->body, "openapi: 3.1.0\n", 15), 0);
    assert_non_null(strstr(r->body, "operationId: getPoolStatus"));
    tsp_test_reply_free(r);
}

static void test_http_metrics_parse(void **state)
{
    struct tsp_test_reply *r = NULL;
    char why[512];
    char ctype[128];
    (void)state;

    tsp_test_reply_free(tsp_test_get(url("/livez"), NULL));
    r = tsp_test_get(url("/metrics"), NULL);
    assert_int_equal(r->status, 200);
    assert_true(tsp_test_reply_header(r, "Content-Type", ctype, sizeof(ctype)));
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
    if (!tsp_test_prometheus_valid(r->body, why, sizeof(why))) {
        fail_msg("%s", why);
    }
    assert_non_null(strstr(r->body, "\ntspool_up 1\n"));
    assert_non_null(strstr(r->body, "\ntspool_pool_size{pool=\"primary\"} 3\n"));
    assert_non_null(strstr(r->body, "tspool_build_info{version=\""));
    assert_non_null(strstr(
        r->body, "tspool_http_requests_total{route=\"/livez\",method=\"GET\",code=\"200\"}"));
    assert_non_null(
        strstr(r->body, "tspool_http_request_duration_seconds_bucket{route=\"/livez\""));
    assert_non_null(strstr(r->body, "# TYPE tspool_pool_acquire_wait_seconds histogram\n"));
    tsp_test_reply_free(r);
}

static struct tsp_test_reply *admin_call(const char *method, const char *path, const char *ctype,
                                         const char *body)
{
    char ct[128];
    const char *headers[3] = {"Authorization: Bearer " ADMIN, NULL, NULL};
    if (ctype != NULL) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        headers[1] = ct;
    }
    return tsp_test_http(method, url(path), headers, body);
}

static void test_http_patch_pool_errors(void **state)
{
    struct tsp_test_reply *r = NULL;
    char *big = NULL;
    (void)state;

    r = admin_call("PATCH", "/pool", "text/plain", "{\"size\":4}");
    assert_problem(r, 415, "UNSUPPORTED_MEDIA");
    tsp_test_reply_free(r);
    r = admin_call("PATCH", "/pool", "application/json", "{\"size\":");
    assert_problem(r, 400, "INVALID");
    assert_string_equal(tsp_test_json_str(r, "field"), "body");
    assert_non_null(strstr(tsp_test_json_str(r, "detail"), "invalid JSON at line 1, column 8"));
    tsp_test_reply_free(r);
    r = admin_call("PATCH", "/pool", "application/json", "{\"size\":0}");
    assert_problem(r, 400, "INVALID");
    assert_string_equal(tsp_test_json_str(r, "field"), "size");
    tsp_test_reply_free(r);
    r = admin_call("PATCH", "/pool", "application/json", "{\"colour\":\"red\"}");
    assert_problem(r, 400, "INVALID");
    assert_string_equal(tsp_test_json_str(r, "field"), "colour");
    tsp_test_reply_free(r);
    r = admin_call("PATCH", "/pool", "application/json", "{}");
    assert_problem(r, 400, "INVALID");
    tsp_test_reply_free(r);
    big = malloc(70 * 1024);
    assert_non_null(big);
    memset(big, ' ', 70 * 1024 - 1);
    big[0] = '{';
    big[70 * 1024 - 2] = '}';
    big[70 * 1024 - 1] = '\0';
    r = admin_call("PATCH", "/pool", "application/json", big);
    assert_problem(r, 413, "TOO_LARGE");
    tsp_test_reply_free(r);
    free(big);
    r = tsp_test_http("PATCH", url("/pool"), NULL, "{\"size\":4}");
    assert_problem(r, 401, "UNAUTHORIZED");
    tsp_test_reply_free(r);
}

static void test_http_pool_control(void **state)
{
    struct tsp_test_reply *r = NULL;
    (void)state;

    r = admin_call("PATCH", "/pool", "application/json", "{\"size\":5,\"max_overflow\":2}");
    assert_int_equal(r->status, 200);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r->json, "config"), "size")), 5);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r->json, "config"), "max_overflow")), 2);
    tsp_test_reply_free(r);

    r = admin_call("POST", "/pool/pause", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_true(json_is_true(json_object_get(r->json, "paused")));
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/readyz/pool"), NULL);
    assert_int_equal(r->status, 503);
    assert_string_equal(r->body, "[-]pool failed: pool paused");
    tsp_test_reply_free(r);
    r = admin_call("POST", "/pool/resume", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_false(json_is_true(json_object_get(r->json, "paused")));
    tsp_test_reply_free(r);

    r = admin_call("POST", "/pool/recycle", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_true(json_is_integer(json_object_get(r->json, "recycled")));
    tsp_test_reply_free(r);
    r = tsp_test_http("POST", url("/pool/pause"),
                      (const char *[]){"Authorization: Bearer " READ, NULL}, NULL);
    assert_problem(r, 403, "FORBIDDEN");
    tsp_test_reply_free(r);
}

/* Send raw bytes on a fresh connection and return what comes back (malloc'd). */
static char *raw_exchange(const char *request, size_t len)
{
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char *buf = calloc(1, 8192);
    size_t used = 0;
    ssize_t n = 0;

    assert_true(fd >= 0);
    assert_non_null(buf);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)tsp_test_service_port(svc));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(send(fd, request, len, 0), (ssize_t)len);
    while (used < 8191 && (n = recv(fd, buf + used, 8191 - used, 0)) > 0) {
        used += (size_t)n;
    }
    close(fd);
    return buf;
}

static void test_http_civetweb_errors_are_problems(void **state)
{
    size_t len = 30000;
    char *request = malloc(len + 1);
    char *reply = NULL;
    (void)state;

    assert_non_null(request);
    memset(request, 'a', len);
    static const char head[] = "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ";
    memcpy(request, head, sizeof(head) - 1);
    memcpy(request + len - 4, "\r\n\r\n", 4);
    request[len] = '\0';
    reply = raw_exchange(request, len);
    assert_int_equal(strncmp(reply, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
    assert_non_null(strstr(reply, "\r\nContent-Type: application/problem+json\r\n"));
    assert_non_null(strstr(reply, "\r\nX-Request-Id: "));
    assert_non_null(strstr(reply, "\"code\":\"INVALID\""));
    free(reply);
    free(request);
}

static void test_http_connection_close_honoured(void **state)
{
    static const char req[] = "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    static const char req10[] = "GET /livez HTTP/1.0\r\n\r\n";
    char *reply = raw_exchange(req, sizeof(req) - 1);
    (void)state;

    /* raw_exchange reads until the server closes: the reply proves the close */
    assert_non_null(strstr(reply, "\r\nConnection: close\r\n\r\nok"));
    free(reply);
    reply = raw_exchange(req10, sizeof(req10) - 1);
    assert_int_equal(strncmp(reply, "HTTP/1.1 200 OK\r\n", 17), 0);
    assert_non_null(strstr(reply, "\r\nConnection: close\r\n\r\nok"));
    free(reply);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_request_id_echo_and_generate),
        cmocka_unit_test(test_http_method_not_allowed_has_allow),
        cmocka_unit_test(test_http_auth_401_403),
        cmocka_unit_test(test_http_config_redacts_secrets),
        cmocka_unit_test(test_http_openapi_served),
        cmocka_unit_test(test_http_metrics_parse),
        cmocka_unit_test(test_http_patch_pool_errors),
        cmocka_unit_test(test_http_pool_control),
        cmocka_unit_test(test_http_civetweb_errors_are_problems),
        cmocka_unit_test(test_http_connection_close_honoured),
    };
    return cmocka_run_group_tests_name("http_api", tests, setup, teardown);
}
