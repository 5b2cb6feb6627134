/* api/ui_handlers.c - GET /, /ui/ and /ui/{asset}: the dashboard's HTML, CSS and JavaScript,
 * compiled into the binary from ui/ by cmake/TspoolEmbed.cmake; ETag revalidation and a
 * Content-Security-Policy that keeps the page on this origin.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ui_app_js.h"
#include "ui_index_html.h"
#include "ui_style_css.h"

/* Nothing but this origin: no CDN, no inline script or style, no framing, no form posts. */
#define UI_CSP                                                                                     \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct tsp_ui_asset assets[] = {
    {"index.html", tsp_embed_ui_index_html, &tsp_embed_ui_index_html_len,
     "text/html; charset=utf-8"},
    {"app.js", tsp_embed_ui_app_js, &tsp_embed_ui_app_js_len, "text/javascript; charset=utf-8"},
    {"style.css", tsp_embed_ui_style_css, &tsp_embed_ui_style_css_len, "text/css; charset=utf-8"},
};

const char *tsp_ui_csp(void)
{
    return UI_CSP;
}

const struct tsp_ui_asset *tsp_ui_asset_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(assets) / sizeof(assets[0]); i++) {
        if (strcmp(assets[i].name, name) == 0) {
            return &assets[i];
        }
    }
    return NULL;
}

void tsp_ui_etag(const struct tsp_ui_asset *asset, char *out, size_t outsize)
{
    /* FNV-1a over the content: changes with every rebuilt asset, stable across restarts */
    uint64_t h = 14695981039346656037u;
    size_t len = *asset->len;

    for (size_t i = 0; i < len; i++) {
        h ^= asset->data[i];
        h *= 1099511628211u;
    }
    snprintf(out, outsize, "\"%016llx\"", (unsigned long long)h);
}

bool tsp_ui_not_modified(const char *if_none_match, const char *etag)
{
    const char *p = if_none_match;

    if (p == NULL) {
        return false;
    }
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (strcmp(p, "*") == 0) {
        return true;
    }
    /* a list of entity tags, possibly weak (W/"..."): weak comparison is right for GET */
    return strstr(p, etag) != NULL;
}

static int send_asset(struct tsp_req *req, const struct tsp_ui_asset *asset)
{
    char etag[24];
    char headers[512];

    tsp_ui_etag(asset, etag, sizeof(etag));
    /* no-cache: the browser may keep a copy but revalidates it, so an upgraded binary's page is
     * picked up at the next load while an unchanged one costs a 304 */
    snprintf(headers, sizeof(headers),
             "ETag: %s\r\n"
             "Cache-Control: no-cache\r\n"
             "Content-Security-Policy: " UI_CSP "\r\n"
             "X-Content-Type-Options: nosniff\r\n"
             "X-Frame-Options: DENY\r\n"
             "Referrer-Policy: no-referrer\r\n",
             etag);
    if (tsp_ui_not_modified(tsp_req_header(req, "If-None-Match"), etag)) {
        return tsp_respond(req, 304, asset->content_type, headers, NULL, 0);
    }
    return tsp_respond(req, 200, asset->content_type, headers, (const char *)asset->data,
                       *asset->len);
}

int tsp_h_ui_index(struct tsp_req *req)
{
    return send_asset(req, tsp_ui_asset_find("index.html"));
}

int tsp_h_ui_asset(struct tsp_req *req)
{
    const char *name = tsp_req_param(req, "asset");
    const struct tsp_ui_asset *asset = tsp_ui_asset_find(name);

    if (asset == NULL) {
        return tsp_problem_sendf(req, TSP_NOT_FOUND, "asset", "no dashboard file named %s",
                                 name != NULL ? name : "");
    }
    return send_asset(req, asset);
}
