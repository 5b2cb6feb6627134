/* api/health_handlers.c - /livez /readyz /startupz /healthz and their per-check paths in the
 * kube-apiserver text format, with ?verbose and ?exclude=name (repeatable).
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_EXCLUDES 8

static int probe(struct tsp_req *req, enum tsp_health_probe which)
{
    struct tsp_error err;
    struct tsp_health_report report;
    char excludes[MAX_EXCLUDES][64];
    const char *exclude_ptrs[MAX_EXCLUDES];
    size_t nexclude = 0;
    bool verbose = false;
    char body[4096];
    const char *only = tsp_req_param(req, "check");
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    rc = tsp_query_bool(req->query, "verbose", &verbose, &err);
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    while (nexclude < MAX_EXCLUDES) {
        int n = tsp_query_get(req->query, "exclude", (int)nexclude, excludes[nexclude],
                              sizeof(excludes[nexclude]));
        if (n == -1) {
            break;
        }
        if (n < 0) {
            return tsp_problem_sendf(req, TSP_INVALID, "exclude", "exclude value is too long");
        }
        exclude_ptrs[nexclude] = excludes[nexclude];
        nexclude++;
    }
    rc = tsp_health_check(req->api->health, which, only, exclude_ptrs, nexclude, &report, &err);
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    if (only != NULL && report.count == 1) {
        /* per-check path: "ok" or "[-]db failed: reason" (the last line names the probe) */
        if (report.ok) {
            return tsp_respond_text(req, 200, "ok");
        }
        snprintf(body, sizeof(body), "[-]%s failed: %s", report.checks[0].name,
                 report.checks[0].reason);
        return tsp_respond_text(req, 503, body);
    }
    tsp_health_format(&report, verbose, body, sizeof(body));
    return tsp_respond_text(req, report.ok ? 200 : 503, body);
}

int tsp_h_livez(struct tsp_req *req)
{
    return probe(req, TSP_PROBE_LIVE);
}

int tsp_h_readyz(struct tsp_req *req)
{
    return probe(req, TSP_PROBE_READY);
}

int tsp_h_startupz(struct tsp_req *req)
{
    return probe(req, TSP_PROBE_STARTUP);
}

int tsp_h_healthz(struct tsp_req *req)
{
    return probe(req, TSP_PROBE_HEALTH);
}
