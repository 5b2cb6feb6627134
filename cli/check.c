/* cli/check.c - `tspool check`: connect with the configuration through a one-off pool, in
 * pooled and in direct mode (as the old worker-process test did), run a round trip and print
 * the server version, TimescaleDB version and max_connections.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "tspool/cli.h"
#include "tspool/config.h"
#include "tspool/dbinfo.h"
#include "tspool/log.h"
#include "tspool/pool.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out, "usage: tspool check [--help]\n\n"
                 "Connect to the database with the effective configuration (DB_* variables),\n"
                 "once through a pooled and once through a direct connection, run a round trip\n"
                 "and print what the server is. Exit 0 when both work, 1 otherwise, 2 on an\n"
                 "invalid configuration.\n");
}

/* One mode: a pool of one connection, one ping, the server's max_connections. */
static int check_mode(const struct tsp_config *cfg, enum tsp_pool_mode mode)
{
    struct tsp_pool_options opts;
    struct tsp_connector connector;
    struct tsp_pool *pool = NULL;
    struct tsp_error err;
    struct tsp_dbinfo_ping ping;
    struct tsp_dbinfo_server_view view;
    const char *name = mode == TSP_POOL_MODE_DIRECT ? "direct" : "pooled";
    int code = 1;
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    memset(&connector, 0, sizeof(connector));
    tsp_pool_options_from_config(cfg, &opts);
    opts.mode = mode;
    opts.size = 1;
    opts.max_overflow = 0;
    opts.min_idle = 0;
    opts.stats_log_interval_ms = 0;
    opts.timeout_ms = (long)cfg->db_connect_timeout_s * 1000L + 1000L;
    rc = tsp_pool_pg_connector(cfg, &connector, &err);
    if (rc == TSP_OK) {
        rc = tsp_pool_new(&opts, &connector, &pool, &err);
    }
    if (rc != TSP_OK) {
        printf("%-7s FAILED: %s\n", name, err.detail);
        goto done;
    }
    rc = tsp_dbinfo_ping(pool, "check", &ping, &err);
    if (rc != TSP_OK) {
        printf("%-7s FAILED: %s\n", name, err.detail);
        goto done;
    }
    printf("%-7s ok: round trip %.2f ms, connect+wait %.2f ms, backend pid %d\n", name,
           ping.round_trip_ms, ping.wait_ms, ping.backend_pid);
    if (mode == TSP_POOL_MODE_POOLED) {
        printf("  server version       %s (%d)\n", ping.server_version, ping.server_version_num);
        printf("  role                 %s\n", ping.primary ? "primary" : "standby (in recovery)");
        printf("  timescaledb          %s\n",
               ping.timescaledb_version[0] != '\0' ? ping.timescaledb_version : "not installed");
        rc = tsp_dbinfo_server_view(pool, cfg->db_application_name, -1, NULL, &view, &err);
        if (rc == TSP_OK) {
            printf("  max_connections      %d (reserved %d, in use %lld)\n", view.max_connections,
                   view.superuser_reserved_connections + view.reserved_connections,
                   view.client_connections);
        } else {
            printf("  max_connections      unknown: %s\n", err.detail);
        }
    }
    code = 0;
done:
    if (pool != NULL) {
        (void)tsp_pool_shutdown(pool, 1000);
    }
    tsp_pool_free(pool);
    return code;
}

int tsp_cli_check(int argc, char **argv)
{
    struct tsp_config cfg;
    struct tsp_error err;
    int failures = 0;
    enum tsp_code rc = TSP_OK;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "tspool check: unknown option '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    memset(&cfg, 0, sizeof(cfg));
    tsp_error_init(&err);
    rc = tsp_config_load(&cfg, environ, &err);
    if (rc != TSP_OK) {
        fprintf(stderr, "tspool: %s\n", err.detail);
        return 2;
    }
    /* only errors: the pool's own info lines would interleave with the report */
    tsp_log_setup(TSP_LOG_LEVEL_ERROR, TSP_LOG_FORMAT_TEXT, stderr);
    printf("checking %s@%s:%s/%s\n", cfg.db_user, cfg.db_host, cfg.db_port, cfg.db_name);
    failures += check_mode(&cfg, TSP_POOL_MODE_POOLED);
    failures += check_mode(&cfg, TSP_POOL_MODE_DIRECT);
    printf("%s\n", failures == 0 ? "check passed" : "check failed");
    tsp_config_fini(&cfg);
    return failures == 0 ? 0 : 1;
}
