/* api/config_handlers.c - GET /config: the effective configuration with the source of every
 * value; secrets redacted (admin token required by the route table).
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"
#include "render.h"

int tsp_h_config(struct tsp_req *req)
{
    json_t *doc = tsp_render_config(req->api->cfg);
    int status = 0;

    if (doc == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory rendering the config");
    }
    status = tsp_respond_json(req, 200, doc);
    json_decref(doc);
    return status;
}
