/* openapi_handlers.c - GET /openapi.yaml: the API contract, compiled into the binary from
 * openapi.yaml by cmake/TspoolEmbed.cmake.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include "openapi_yaml.h"

int tsp_h_openapi(struct tsp_req *req)
{
    return tsp_respond(req, 200, "application/yaml", NULL, (const char *)tsp_embed_openapi_yaml,
                       tsp_embed_openapi_yaml_len);
}
