/* api/openapi_handlers.c - GET /openapi.yaml (the API contract) and GET /docs (its reference page,
 * api/docs.html rendered from openapi.yaml by Redocly), both compiled into the binary by
 * cmake/TspoolEmbed.cmake.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include "docs_html.h"
#include "openapi_yaml.h"

/* The page carries its scripts and styles inline. The policy lets the browser load nothing
 * from anywhere (no CDN, no fonts, no telemetry): the page works offline or not at all. */
#define DOCS_HEADERS                                                                               \
    "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "                    \
    "style-src 'unsafe-inline'; img-src data:; font-src data:; connect-src 'none'; "               \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"                              \
    "X-Content-Type-Options: nosniff\r\n"

int tsp_h_openapi(struct tsp_req *req)
{
    return tsp_respond(req, 200, "application/yaml", NULL, (const char *)tsp_embed_openapi_yaml,
                       tsp_embed_openapi_yaml_len);
}

int tsp_h_docs(struct tsp_req *req)
{
    return tsp_respond(req, 200, "text/html; charset=utf-8", DOCS_HEADERS,
                       (const char *)tsp_embed_docs_html, tsp_embed_docs_html_len);
}
