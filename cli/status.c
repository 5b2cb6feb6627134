/* cli/status.c - `tspool status [--detailed] [--pgbouncer] [--json] [--url URL]`: the running
 * service's GET /pool/status (or GET /pgbouncer) as a readable table, or raw JSON.
 * SPDX-License-Identifier: MIT
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "http_client_int.h"
#include "status_int.h"
#include "tspool/cli.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: tspool status [--detailed] [--pgbouncer] [--json] [--url URL] "
                 "[--timeout S]\n\n"
                 "Show the pool status of a running tspool service.\n"
                 "  --detailed   add each connection and the database server's view\n"
                 "  --pgbouncer  the PgBouncer fleet instead: instances up or down, pause\n"
                 "               state, and per-database clients, servers and waits\n"
                 "  --json       print the raw JSON document\n"
                 "  --url URL    service URL (default: TSPOOL_URL, else from TSPOOL_LISTEN,\n"
                 "               else http://127.0.0.1:8080)\n"
                 "  --timeout S  give up after S seconds (default 10)\n"
                 "The token is taken from TSPOOL_READ_TOKEN (or TSPOOL_ADMIN_TOKEN).\n");
}

static long long num(const json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key));
}

static double real(const json_t *obj, const char *key)
{
    return json_number_value(json_object_get(obj, key));
}

static const char *str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "-";
}

static void print_groups(const char *title, json_t *groups)
{
    const char *key = NULL;
    json_t *value = NULL;
    const char *sep = "";

    printf("  %-22s ", title);
    json_object_foreach(groups, key, value)
    {
        printf("%s%s=%lld", sep, key[0] != '\0' ? key : "(none)",
               (long long)json_integer_value(value));
        sep = ", ";
    }
    printf("\n");
}

static void print_table(const char *url, const json_t *doc)
{
    json_t *config = json_object_get(doc, "config");
    json_t *gauges = json_object_get(doc, "gauges");
    json_t *counters = json_object_get(doc, "counters");
    json_t *closes = json_object_get(doc, "closes");
    json_t *wait = json_object_get(doc, "acquire_wait");
    json_t *conns = json_object_get(doc, "connections");
    json_t *server = json_object_get(doc, "server");
    const char *key = NULL;
    json_t *value = NULL;
    size_t i = 0;

    printf("tspool pool status (%s)\n", url);
    printf("  %-22s %s%s%s\n", "mode", str(doc, "mode"),
           json_is_true(json_object_get(doc, "paused")) ? ", paused" : "",
           json_is_true(json_object_get(doc, "shutting_down")) ? ", shutting down" : "");
    printf("  %-22s %lld (+%lld overflow, %lld kept warm)\n", "size", num(config, "size"),
           num(config, "max_overflow"), num(config, "min_idle"));
    printf("  %-22s %.1f s\n", "timeout", (double)num(config, "timeout_ms") / 1000.0);
    printf("  %-22s %.0f s\n", "recycle", (double)num(config, "recycle_ms") / 1000.0);
    printf("connections\n");
    printf("  %-22s %lld\n", "open", num(gauges, "open"));
    printf("  %-22s %lld\n", "idle", num(gauges, "idle"));
    printf("  %-22s %lld (overflow %lld)\n", "in use", num(gauges, "in_use"),
           num(gauges, "in_use_overflow"));
    printf("  %-22s %lld\n", "connecting", num(gauges, "connecting"));
    printf("  %-22s %lld\n", "waiting", num(gauges, "waiting"));
    printf("  %-22s %lld\n", "available", num(gauges, "available"));
    printf("counters\n");
    json_object_foreach(counters, key, value)
    {
        printf("  %-22s %lld\n", key, (long long)json_integer_value(value));
    }
    print_groups("closes", closes);
    printf("acquire wait           p50 %.3f s, p99 %.3f s, total %.3f s\n", real(wait, "p50_s"),
           real(wait, "p99_s"), real(wait, "total_s"));
    printf("uptime                 %.1f s\n", real(doc, "uptime_s"));
    if (json_is_array(conns)) {
        printf("\n%6s %-11s %9s %9s %7s %8s %-24s %8s\n", "ID", "STATE", "AGE(s)", "IDLE(s)",
               "USES", "PID", "HOLDER", "HELD(s)");
        json_array_foreach(conns, i, value)
        {
            printf("%6lld %-11s %9.1f %9.1f %7lld %8lld %-24s %8.1f\n", num(value, "id"),
                   str(value, "state"), real(value, "age_s"), real(value, "idle_s"),
                   num(value, "uses"), num(value, "backend_pid"), str(value, "holder"),
                   real(value, "held_s"));
        }
    }
    if (json_is_object(server)) {
        printf("\ndatabase server\n");
        printf("  %-22s %lld (superuser reserved %lld, reserved %lld)\n", "max_connections",
               num(server, "max_connections"), num(server, "superuser_reserved_connections"),
               num(server, "reserved_connections"));
        printf("  %-22s %lld (ours %lld)\n", "client connections",
               num(server, "client_connections"), num(server, "ours"));
        printf("  %-22s %lld\n", "available", num(server, "available"));
        printf("  %-22s %lld%s\n", "headroom at full pool", num(server, "headroom_at_full_pool"),
               num(server, "headroom_at_full_pool") < 0 ? "  (a full pool exceeds max_connections)"
                                                        : "");
        print_groups("by state", json_object_get(server, "by_state"));
        print_groups("by application", json_object_get(server, "by_application"));
    } else if (json_object_get(doc, "server_error") != NULL) {
        printf("\ndatabase server        unavailable: %s\n", str(doc, "server_error"));
    }
}

int tsp_cli_status(int argc, char **argv)
{
    struct tsp_error err;
    struct tsp_http_reply reply = {0, NULL, 0};
    const char *url_arg = NULL;
    bool detailed = false, as_json = false, pgbouncer = false;
    const char *path = NULL;
    long timeout_s = 10;
    char url[1024];
    json_t *doc = NULL;
    json_error_t jerr;
    int code = 1;
    enum tsp_code rc = TSP_OK;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--detailed") == 0) {
            detailed = true;
        } else if (strcmp(argv[i], "--pgbouncer") == 0) {
            pgbouncer = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (tsp_http_client_option(argc, argv, &i, &url_arg, &timeout_s)) {
            continue; /* --url, --timeout */
        } else {
            fprintf(stderr, "tspool status: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (pgbouncer && detailed) {
        fprintf(stderr, "tspool status: --detailed and --pgbouncer cannot be combined\n");
        usage(stderr);
        return 2;
    }
    tsp_error_init(&err);
    tsp_http_default_url(url_arg, url, sizeof(url));
    path = pgbouncer ? "/pgbouncer" : detailed ? "/pool/status?detailed=true" : "/pool/status";
    rc = tsp_http_get(url, path, tsp_http_read_token(), timeout_s * 1000, &reply, &err);
    if (rc != TSP_OK) {
        fprintf(stderr, "tspool status: cannot reach the service: %s\n", err.detail);
        goto done;
    }
    doc = json_loadb(reply.body, reply.len, 0, &jerr);
    if (reply.status != 200) {
        const char *detail = json_string_value(json_object_get(doc, "detail"));
        fprintf(stderr, "tspool status: %s answered %ld: %s\n", url, reply.status,
                detail != NULL ? detail : reply.body);
        goto done;
    }
    if (doc == NULL) {
        fprintf(stderr, "tspool status: %s answered with invalid JSON: %s\n", url, jerr.text);
        goto done;
    }
    if (as_json) {
        printf("%s\n", reply.body);
    } else if (pgbouncer) {
        tsp_cli_print_pgbouncer(stdout, url, doc);
    } else {
        print_table(url, doc);
    }
    code = 0;
done:
    json_decref(doc);
    tsp_http_reply_fini(&reply);
    return code;
}
