/* test_ui.c - unit tests of the dashboard files compiled into the binary: lookup, types, entity
 * tags and If-None-Match, the same-origin policy, and the response headers they rely on.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

/* The one URL-like text the page may contain: the SVG namespace, which is never fetched. */
#define SVG_NAMESPACE "http://www.w3.org/2000/svg"

static void test_tsp_ui_asset_find_known_files(void **state)
{
    const struct tsp_ui_asset *index = tsp_ui_asset_find("index.html");
    const struct tsp_ui_asset *js = tsp_ui_asset_find("app.js");
    const struct tsp_ui_asset *css = tsp_ui_asset_find("style.css");
    (void)state;

    assert_non_null(index);
    assert_non_null(js);
    assert_non_null(css);
    assert_string_equal(index->content_type, "text/html; charset=utf-8");
    assert_string_equal(js->content_type, "text/javascript; charset=utf-8");
    assert_string_equal(css->content_type, "text/css; charset=utf-8");
    assert_int_equal(strncmp((const char *)index->data, "<!DOCTYPE html>\n", 16), 0);
    assert_non_null(strstr((const char *)js->data, "'use strict';"));
    /* the generated arrays are NUL-terminated and the length excludes the NUL */
    assert_int_equal(strlen((const char *)index->data), *index->len);
    assert_int_equal(strlen((const char *)js->data), *js->len);
    assert_int_equal(strlen((const char *)css->data), *css->len);
}

static void test_tsp_ui_asset_find_unknown_names(void **state)
{
    (void)state;
    assert_null(tsp_ui_asset_find(NULL));
    assert_null(tsp_ui_asset_find(""));
    assert_null(tsp_ui_asset_find("INDEX.HTML"));
    assert_null(tsp_ui_asset_find("../index.html"));
    assert_null(tsp_ui_asset_find("app.js.map"));
    assert_null(tsp_ui_asset_find("favicon.ico"));
}

/* Every src= and href= in the page points at this origin (a path), a fragment or data:. */
static void test_tsp_ui_index_references_this_origin_only(void **state)
{
    const char *html = (const char *)tsp_ui_asset_find("index.html")->data;
    const char *attrs[] = {"src=\"", "href=\""};
    int seen = 0;
    (void)state;

    for (size_t a = 0; a < sizeof(attrs) / sizeof(attrs[0]); a++) {
        for (const char *p = strstr(html, attrs[a]); p != NULL; p = strstr(p + 1, attrs[a])) {
            const char *v = p + strlen(attrs[a]);
            bool local = (v[0] == '/' && v[1] != '/') || v[0] == '#' || strncmp(v, "data:", 5) == 0;
            if (!local) {
                fail_msg("index.html refers to %.40s", v);
            }
            seen++;
        }
    }
    assert_int_equal(seen, 5); /* icon, stylesheet, script, skip link, openapi.yaml */
}

/* No asset names another origin: no CDN, no fonts, no analytics. */
static void test_tsp_ui_assets_name_no_other_origin(void **state)
{
    const char *names[] = {"index.html", "app.js", "style.css"};
    (void)state;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *text = (const char *)tsp_ui_asset_find(names[i])->data;
        for (const char *p = strstr(text, "://"); p != NULL; p = strstr(p + 3, "://")) {
            const char *start = p >= text + 4 ? p - 4 : text;
            if (strncmp(start, SVG_NAMESPACE, strlen(SVG_NAMESPACE)) != 0) {
                fail_msg("%s names another origin near \"%.40s\"", names[i], start);
            }
        }
        assert_null(strstr(text, "@import"));
        assert_null(strstr(text, "eval("));
    }
}

static void test_tsp_ui_etag_format_and_stability(void **state)
{
    char a[24];
    char b[24];
    char c[24];
    (void)state;

    tsp_ui_etag(tsp_ui_asset_find("index.html"), a, sizeof(a));
    tsp_ui_etag(tsp_ui_asset_find("index.html"), b, sizeof(b));
    tsp_ui_etag(tsp_ui_asset_find("style.css"), c, sizeof(c));
    assert_int_equal(strlen(a), 18);
    assert_int_equal(a[0], '"');
    assert_int_equal(a[17], '"');
    assert_int_equal(strspn(a + 1, "0123456789abcdef"), 16);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
}

static void test_tsp_ui_not_modified_cases(void **state)
{
    const char *etag = "\"0123456789abcdef\"";
    (void)state;

    assert_false(tsp_ui_not_modified(NULL, etag));
    assert_false(tsp_ui_not_modified("", etag));
    assert_false(tsp_ui_not_modified("\"fedcba9876543210\"", etag));
    assert_false(tsp_ui_not_modified("0123456789abcdef", etag)); /* unquoted: not an ETag */
    assert_true(tsp_ui_not_modified("\"0123456789abcdef\"", etag));
    assert_true(tsp_ui_not_modified(" \"0123456789abcdef\"", etag));
    assert_true(tsp_ui_not_modified("W/\"0123456789abcdef\"", etag));
    assert_true(tsp_ui_not_modified("\"x\", \"0123456789abcdef\"", etag));
    assert_true(tsp_ui_not_modified("*", etag));
    assert_true(tsp_ui_not_modified("  *", etag));
}

static void test_tsp_ui_csp_allows_this_origin_only(void **state)
{
    (void)state;
    assert_string_equal(tsp_ui_csp(), "default-src 'none'; script-src 'self'; style-src 'self'; "
                                      "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                                      "form-action 'none'; frame-ancestors 'none'");
}

static void test_tsp_response_build_handler_cache_control_replaces_default(void **state)
{
    struct tsp_req req;
    char *out = NULL;
    size_t len = 0;
    (void)state;

    memset(&req, 0, sizeof(req));
    snprintf(req.request_id, sizeof(req.request_id), "r1");
    assert_int_equal(tsp_response_build(&req, 200, "text/css; charset=utf-8",
                                        "ETag: \"1\"\r\ncache-control: no-cache\r\n", "a{}", 3,
                                        &out, &len),
                     TSP_OK);
    assert_string_equal(out, "HTTP/1.1 200 OK\r\n"
                             "Content-Type: text/css; charset=utf-8\r\n"
                             "Content-Length: 3\r\n"
                             "X-Request-Id: r1\r\n"
                             "X-Content-Type-Options: nosniff\r\n"
                             "ETag: \"1\"\r\n"
                             "cache-control: no-cache\r\n"
                             "\r\n"
                             "a{}");
    free(out);
    out = NULL;
    /* a header whose name merely starts like Cache-Control does not count */
    assert_int_equal(tsp_response_build(&req, 200, "text/plain", "X-Cache-Control-Note: 1\r\n", "",
                                        0, &out, &len),
                     TSP_OK);
    assert_non_null(strstr(out, "Cache-Control: no-store\r\n"));
    free(out);
}

static void test_tsp_response_build_304_has_no_content_length(void **state)
{
    struct tsp_req req;
    char *out = NULL;
    size_t len = 0;
    (void)state;

    memset(&req, 0, sizeof(req));
    snprintf(req.request_id, sizeof(req.request_id), "r2");
    assert_int_equal(tsp_response_build(&req, 304, "text/html; charset=utf-8",
                                        "Cache-Control: no-cache\r\n", NULL, 0, &out, &len),
                     TSP_OK);
    assert_string_equal(out, "HTTP/1.1 304 Not Modified\r\n"
                             "Content-Type: text/html; charset=utf-8\r\n"
                             "X-Request-Id: r2\r\n"
                             "X-Content-Type-Options: nosniff\r\n"
                             "Cache-Control: no-cache\r\n"
                             "\r\n");
    assert_int_equal(len, strlen(out));
    free(out);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_ui_asset_find_known_files),
        cmocka_unit_test(test_tsp_ui_asset_find_unknown_names),
        cmocka_unit_test(test_tsp_ui_index_references_this_origin_only),
        cmocka_unit_test(test_tsp_ui_assets_name_no_other_origin),
        cmocka_unit_test(test_tsp_ui_etag_format_and_stability),
        cmocka_unit_test(test_tsp_ui_not_modified_cases),
        cmocka_unit_test(test_tsp_ui_csp_allows_this_origin_only),
        cmocka_unit_test(test_tsp_response_build_handler_cache_control_replaces_default),
        cmocka_unit_test(test_tsp_response_build_304_has_no_content_length),
    };
    return cmocka_run_group_tests_name("ui", tests, NULL, NULL);
}
