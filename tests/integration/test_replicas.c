/* test_replicas.c - the read pool on real streaming replication: reads land on the replica,
 * a paused replay pushes the replica out of rotation (probes, /cluster, fallback, metrics) and
 * back, a frozen replica leaves it within the check's deadline, and a failover (promote the
 * replica, stop the old primary) is followed without a restart.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_client.h"
#include "service_harness.h"
#include "tspool/clock.h"

#define INTERVAL_MS 300

static char *url_of(const struct tsp_test_service *svc, const char *path)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "%s%s", tsp_test_service_url(svc), path);
    return buf;
}

/* Poll path until it answers `status`; returns the milliseconds it took, or -1. */
static long wait_status(const struct tsp_test_service *svc, const char *path, long status,
                        long timeout_ms)
{
    int64_t start = tsp_clock_mono_ms();
    long got = 0;

    while (tsp_clock_mono_ms() - start <= timeout_ms) {
        struct tsp_test_reply *r = tsp_test_get(url_of(svc, path), NULL);
        got = r->status;
        tsp_test_reply_free(r);
        if (got == status) {
            return (long)(tsp_clock_mono_ms() - start);
        }
        tsp_test_sleep_ms(50);
    }
    fprintf(stderr, "%s: still %ld after %ld ms (wanted %ld)\n", path, got, timeout_ms, status);
    return -1;
}

/* X-Tspool-Server of a read (GET /timescaledb), into out. */
static void read_server(const struct tsp_test_service *svc, char *out, size_t size)
{
    struct tsp_test_reply *r = tsp_test_get(url_of(svc, "/timescaledb"), NULL);

    assert_int_equal(r->status, 200);
    assert_true(tsp_test_reply_header(r, "X-Tspool-Server", out, size));
    /* the document says the same */
    assert_non_null(tsp_test_json_str(r, "server"));
    assert_string_equal(tsp_test_json_str(r, "server"), out);
    tsp_test_reply_free(r);
}

/* GET /cluster as JSON (the reply owns it). */
static struct tsp_test_reply *cluster(const struct tsp_test_service *svc)
{
    struct tsp_test_reply *r = tsp_test_get(url_of(svc, "/cluster"), NULL);

    assert_int_equal(r->status, 200);
    assert_non_null(r->json);
    return r;
}

static json_t *replica_member(struct tsp_test_reply *r, size_t i)
{
    json_t *m = json_array_get(json_object_get(r->json, "replicas"), i);
    assert_non_null(m);
    return m;
}

/* The service of the running test, stopped by the teardown also when an assertion failed. */
static struct tsp_test_service *current;
static struct tsp_test_service *current_strict;

static int stop_services(void **state)
{
    (void)state;
    tsp_test_service_stop(current);
    tsp_test_service_stop(current_strict);
    current = NULL;
    current_strict = NULL;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return tsp_test_replica_available() ? 0 : -1;
}

static int teardown(void **state)
{
    char *v = NULL;
    (void)stop_services(state);
    /* whatever happened, the shared replica replays again */
    v = tsp_test_replica_query("SELECT pg_wal_replay_resume()");
    free(v);
    v = tsp_test_pg_query("DROP TABLE IF EXISTS tspool_replica_lag");
    free(v);
    return 0;
}

static void test_replicas_reads_land_on_the_replica(void **state)
{
    char env_port[64];
    char expected[64];
    char server[128];
    const char *env[] = {"DB_READ_HOSTS=127.0.0.1", env_port, NULL};
    struct tsp_test_service *svc = NULL;
    struct tsp_test_reply *r = NULL;
    char *count = NULL;
    json_t *m = NULL;
    (void)state;

    snprintf(env_port, sizeof(env_port), "DB_READ_PORT=%d", tsp_test_replica_port());
    snprintf(expected, sizeof(expected), "127.0.0.1:%d", tsp_test_replica_port());
    svc = tsp_test_service_start(env);
    current = svc;
    assert_true(wait_status(svc, "/readyz/replica", 200, 15000) >= 0);
    assert_true(wait_status(svc, "/readyz/primary", 200, 15000) >= 0);

    for (int i = 0; i < 5; i++) {
        read_server(svc, server, sizeof(server));
        assert_string_equal(server, expected);
    }
    /* the replica itself sees tspool's sessions */
    count = tsp_test_replica_query("SELECT count(*) FROM pg_stat_activity WHERE application_name "
                                   "= '" TSP_TEST_APP_NAME "'");
    assert_non_null(count);
    assert_true(atoi(count) >= 1);
    free(count);

    /* the primary's pg_stat_replication row appears once the WAL receiver streams (after a
     * restart of the test server by an earlier test it reconnects within seconds) */
    for (int i = 0; i < 100; i++) {
        r = cluster(svc);
        if (json_is_string(json_object_get(replica_member(r, 0), "sent_lsn"))) {
            break;
        }
        tsp_test_reply_free(r);
        r = NULL;
        tsp_test_sleep_ms(100);
    }
    assert_non_null(r);
    m = replica_member(r, 0);
    assert_string_equal(json_string_value(json_object_get(m, "host")), expected);
    assert_string_equal(json_string_value(json_object_get(m, "role")), "replica");
    assert_true(json_is_true(json_object_get(m, "in_rotation")));
    assert_true(json_integer_value(json_object_get(m, "timeline")) >= 1);
    assert_true(json_is_string(json_object_get(m, "replayed_lsn")));
    assert_true(json_is_string(json_object_get(m, "sent_lsn")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r->json, "primary"), "role")), "primary");
    assert_true(json_array_size(json_object_get(r->json, "replication")) >= 1);
    tsp_test_reply_free(r);

    /* both pools in /pool/status and /metrics */
    r = tsp_test_get(url_of(svc, "/pool/status"), NULL);
    assert_int_equal(r->status, 200);
    assert_true(json_is_object(json_object_get(r->json, "read_pool")));
    assert_true(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(r->json, "read_pool"), "counters"), "borrows")) >= 5);
    tsp_test_reply_free(r);
    r = tsp_test_get(url_of(svc, "/metrics"), NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "tspool_pool_size{pool=\"read\"} 10\n"));
    assert_non_null(strstr(r->body, "tspool_pool_size{pool=\"primary\"} 20\n"));
    snprintf(server, sizeof(server), "tspool_replica_in_rotation{server=\"%s\"} 1\n", expected);
    assert_non_null(strstr(r->body, server));
    snprintf(server, sizeof(server), "tspool_replica_lag_bytes{server=\"%s\"} ", expected);
    assert_non_null(strstr(r->body, server));
    tsp_test_reply_free(r);

    /* a bad bound is a problem document naming the parameter */
    r = tsp_test_get(url_of(svc, "/readyz/replica?lag=16MiB"), NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "lag");
    tsp_test_reply_free(r);
    r = tsp_test_get(url_of(svc, "/readyz/replica?lag_ms=-5"), NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "lag_ms");
    tsp_test_reply_free(r);
}

static void test_replicas_lagging_replica_leaves_rotation_and_returns(void **state)
{
    char env_port[64];
    char replica[64];
    char primary[64];
    char server[128];
    const char *env[] = {"DB_READ_HOSTS=127.0.0.1",       env_port,
                         "DB_READ_MAX_LAG_BYTES=1MB",     "DB_READ_MAX_LAG_MS=0",
                         "TSPOOL_HEALTH_INTERVAL_MS=300", NULL};
    const char *env_fail[] = {"DB_READ_HOSTS=127.0.0.1",
                              env_port,
                              "DB_READ_MAX_LAG_BYTES=1MB",
                              "DB_READ_MAX_LAG_MS=0",
                              "TSPOOL_HEALTH_INTERVAL_MS=300",
                              "DB_READ_FALLBACK=fail",
                              NULL};
    struct tsp_test_service *svc = NULL;
    struct tsp_test_service *strict = NULL;
    struct tsp_test_reply *r = NULL;
    char *v = NULL;
    json_t *m = NULL;
    long took = 0;
    (void)state;

    snprintf(env_port, sizeof(env_port), "DB_READ_PORT=%d", tsp_test_replica_port());
    snprintf(replica, sizeof(replica), "127.0.0.1:%d", tsp_test_replica_port());
    snprintf(primary, sizeof(primary), "127.0.0.1:%d", tsp_test_pg_port());
    svc = tsp_test_service_start(env);
    current = svc;
    assert_true(wait_status(svc, "/readyz/replica?lag=1MB", 200, 15000) >= 0);
    read_server(svc, server, sizeof(server));
    assert_string_equal(server, replica);

    /* replay stops; 3 MB of WAL arrive on the primary */
    v = tsp_test_replica_query("SELECT pg_wal_replay_pause()");
    assert_non_null(v);
    free(v);
    v = tsp_test_pg_query("CREATE TABLE IF NOT EXISTS tspool_replica_lag (x text); "
                          "INSERT INTO tspool_replica_lag SELECT repeat('x', 1000) "
                          "FROM generate_series(1, 3000)");
    assert_non_null(v);
    free(v);
    took = wait_status(svc, "/readyz/replica?lag=1MB", 503, 10000);
    assert_true(took >= 0);
    printf("replica left the rotation %ld ms after the writes (check interval %d ms)\n", took,
           INTERVAL_MS);
    r = tsp_test_get(url_of(svc, "/readyz/replica?lag=1MB"), NULL);
    assert_non_null(strstr(r->body, "over DB_READ_MAX_LAG_BYTES (1048576)"));
    tsp_test_reply_free(r);
    /* the configured bound (1MB) fails too; a looser one given to the probe passes */
    assert_true(wait_status(svc, "/readyz/replica", 503, 2000) >= 0);
    assert_true(wait_status(svc, "/readyz/replica?lag=1GB", 200, 2000) >= 0);

    r = cluster(svc);
    m = replica_member(r, 0);
    assert_true(json_is_false(json_object_get(m, "in_rotation")));
    assert_true(json_is_true(json_object_get(m, "replay_paused")));
    assert_string_equal(json_string_value(json_object_get(m, "state")), "paused");
    assert_true(json_integer_value(json_object_get(m, "lag_bytes")) > 1024 * 1024);
    assert_non_null(strstr(json_string_value(json_object_get(m, "reason")), "replay lag"));
    tsp_test_reply_free(r);

    /* reads fall back to the primary */
    read_server(svc, server, sizeof(server));
    assert_string_equal(server, primary);
    r = tsp_test_get(url_of(svc, "/metrics"), NULL);
    snprintf(server, sizeof(server), "tspool_replica_in_rotation{server=\"%s\"} 0\n", replica);
    assert_non_null(strstr(r->body, server));
    assert_null(strstr(r->body, "tspool_read_borrows_total{target=\"primary_fallback\"} 0\n"));
    tsp_test_reply_free(r);

    /* with DB_READ_FALLBACK=fail the same read is refused */
    strict = tsp_test_service_start(env_fail);
    current_strict = strict;
    assert_true(wait_status(strict, "/readyz/primary", 200, 15000) >= 0);
    tsp_test_sleep_ms(2 * INTERVAL_MS);
    r = tsp_test_get(url_of(strict, "/timescaledb"), NULL);
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(tsp_test_json_str(r, "detail"), "DB_READ_FALLBACK=fail"));
    tsp_test_reply_free(r);
    tsp_test_service_stop(strict);
    current_strict = NULL;

    /* replay resumes: the replica catches up and comes back */
    v = tsp_test_replica_query("SELECT pg_wal_replay_resume()");
    assert_non_null(v);
    free(v);
    took = wait_status(svc, "/readyz/replica?lag=1MB", 200, 15000);
    assert_true(took >= 0);
    printf("replica back in the rotation %ld ms after the resume\n", took);
    read_server(svc, server, sizeof(server));
    assert_string_equal(server, replica);
}

/* The replica's server processes: the postmaster (first line of postmaster.pid) and its
 * children. At most max; returns how many. */
static size_t replica_pids(pid_t *out, size_t max)
{
    char path[1200];
    char line[512];
    FILE *f = NULL;
    DIR *proc = NULL;
    struct dirent *e = NULL;
    pid_t postmaster = 0;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/data/postmaster.pid", tsp_test_replica_dir());
    f = fopen(path, "r");
    if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
        if (f != NULL) {
            fclose(f);
        }
        return 0;
    }
    fclose(f);
    postmaster = (pid_t)atoi(line);
    out[n++] = postmaster;
    proc = opendir("/proc");
    while (proc != NULL && (e = readdir(proc)) != NULL && n < max) {
        int pid = atoi(e->d_name);
        int ppid = 0;
        char *close_paren = NULL;
        if (pid <= 0) {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        if (fgets(line, sizeof(line), f) != NULL && (close_paren = strrchr(line, ')')) != NULL &&
            sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == (int)postmaster) {
            out[n++] = (pid_t)pid;
        }
        fclose(f);
    }
    if (proc != NULL) {
        closedir(proc);
    }
    return n;
}

static pid_t frozen[256];
static size_t nfrozen;

static void thaw(void)
{
    for (size_t i = 0; i < nfrozen; i++) {
        (void)kill(frozen[i], SIGCONT);
    }
    nfrozen = 0;
}

static int thaw_teardown(void **state)
{
    thaw();
    return stop_services(state);
}

/* A replica that stops answering (every process of it stopped, connections left open) leaves
 * the rotation within the check's deadline and reads go to the primary; thawed, it returns. */
static void test_replicas_frozen_replica_leaves_rotation(void **state)
{
    char env_port[64];
    char primary[64];
    char replica[64];
    char server[128];
    const char *env[] = {"DB_READ_HOSTS=127.0.0.1", env_port, "DB_CONNECT_TIMEOUT=2",
                         "TSPOOL_HEALTH_INTERVAL_MS=300", NULL};
    struct tsp_test_service *svc = NULL;
    struct tsp_test_reply *r = NULL;
    int64_t start = 0;
    long took = 0;
    (void)state;

    snprintf(env_port, sizeof(env_port), "DB_READ_PORT=%d", tsp_test_replica_port());
    snprintf(primary, sizeof(primary), "127.0.0.1:%d", tsp_test_pg_port());
    snprintf(replica, sizeof(replica), "127.0.0.1:%d", tsp_test_replica_port());
    svc = tsp_test_service_start(env);
    current = svc;
    assert_true(wait_status(svc, "/readyz/replica", 200, 15000) >= 0);
    read_server(svc, server, sizeof(server));
    assert_string_equal(server, replica);

    nfrozen = replica_pids(frozen, sizeof(frozen) / sizeof(frozen[0]));
    assert_true(nfrozen >= 2);
    for (size_t i = 0; i < nfrozen; i++) {
        assert_int_equal(kill(frozen[i], SIGSTOP), 0);
    }
    /* the check's ping runs into its deadline (the connect timeout, 2 s), then a new
     * connection cannot start: out of rotation within a few seconds */
    took = wait_status(svc, "/readyz/replica", 503, 15000);
    assert_true(took >= 0);
    printf("frozen replica out of the rotation after %ld ms\n", took);
    r = tsp_test_get(url_of(svc, "/readyz/replica"), NULL);
    assert_non_null(strstr(r->body, "unreachable"));
    tsp_test_reply_free(r);
    /* a read does not hang on it: the primary answers */
    start = tsp_clock_mono_ms();
    read_server(svc, server, sizeof(server));
    assert_string_equal(server, primary);
    printf("a read during the freeze took %lld ms\n", (long long)(tsp_clock_mono_ms() - start));
    /* liveness and the cached probes answer at once throughout */
    r = tsp_test_get(url_of(svc, "/livez"), NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);

    thaw();
    took = wait_status(svc, "/readyz/replica", 200, 20000);
    assert_true(took >= 0);
    printf("thawed replica back in the rotation after %ld ms\n", took);
}

/* A pair of our own: the shared test server must survive. */
struct pair {
    char base[1024];
    char primary[1100];
    char replica[1100];
};

static void pair_cleanup(struct pair *p)
{
    char cmd[1200];

    (void)tsp_test_replica_ctl_in(p->primary, p->replica, "stop >/dev/null 2>&1");
    (void)tsp_test_devdb_ctl_in(p->primary, "stop >/dev/null 2>&1");
    (void)tsp_test_devdb_ctl_in(p->replica, "stop >/dev/null 2>&1");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->base);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", p->base);
    }
}

static struct pair failover_pair;
static struct tsp_test_service *failover_svc;

static int failover_teardown(void **state)
{
    (void)state;
    tsp_test_service_stop(failover_svc);
    failover_svc = NULL;
    if (failover_pair.base[0] != '\0') {
        pair_cleanup(&failover_pair);
    }
    return 0;
}

static void test_replicas_failover_is_followed(void **state)
{
    struct pair p;
    char hosts_port[128];
    char read_port[128];
    char name1[64];
    char name2[64];
    char server[128];
    const char *env[] = {"DB_HOST=127.0.0.1,127.0.0.1",
                         hosts_port,
                         "DB_READ_HOSTS=127.0.0.1,127.0.0.1",
                         read_port,
                         "DB_CONNECT_TIMEOUT=2",
                         "DB_MIN_CONNS=1",
                         "TSPOOL_HEALTH_INTERVAL_MS=300",
                         NULL};
    struct tsp_test_service *svc = NULL;
    struct tsp_test_reply *r = NULL;
    json_t *prim = NULL;
    int p1 = 0;
    int p2 = 0;
    long took = 0;
    int64_t start = 0;
    bool followed = false;
    (void)state;

    {
        /* absolute: the servers run as another user from another directory */
        char cwd[512] = "";
        const char *src = tsp_test_source_dir();
        if (src[0] != '/') {
            assert_non_null(getcwd(cwd, sizeof(cwd)));
        }
        snprintf(p.base, sizeof(p.base), "%s%s%s/.tspool/it-failover-%d", cwd,
                 cwd[0] != '\0' ? "/" : "", src, (int)getpid());
    }
    snprintf(p.primary, sizeof(p.primary), "%s/pg", p.base);
    snprintf(p.replica, sizeof(p.replica), "%s/pg-replica", p.base);
    failover_pair = p;
    assert_int_equal(tsp_test_devdb_ctl_in(p.primary, "start"), 0);
    assert_int_equal(tsp_test_replica_ctl_in(p.primary, p.replica, "start"), 0);
    p1 = tsp_test_port_in(p.primary);
    p2 = tsp_test_port_in(p.replica);
    snprintf(name1, sizeof(name1), "127.0.0.1:%d", p1);
    snprintf(name2, sizeof(name2), "127.0.0.1:%d", p2);
    snprintf(hosts_port, sizeof(hosts_port), "DB_PORT=%d,%d", p1, p2);
    snprintf(read_port, sizeof(read_port), "DB_READ_PORT=%d,%d", p1, p2);

    svc = tsp_test_service_start(env);
    failover_svc = svc;
    assert_true(wait_status(svc, "/readyz/replica", 200, 15000) >= 0);
    r = tsp_test_get(url_of(svc, "/pool/ping"), NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(tsp_test_json_str(r, "server"), name1);
    tsp_test_reply_free(r);
    r = cluster(svc);
    prim = json_object_get(r->json, "primary");
    assert_string_equal(json_string_value(json_object_get(prim, "host")), name1);
    assert_int_equal(json_integer_value(json_object_get(prim, "timeline")), 1);
    /* the primary listed among the read hosts is no replica: out of rotation */
    assert_true(json_is_false(json_object_get(replica_member(r, 0), "in_rotation")));
    assert_true(json_is_true(json_object_get(replica_member(r, 1), "in_rotation")));
    tsp_test_reply_free(r);
    read_server(svc, server, sizeof(server));
    assert_string_equal(server, name2);

    /* failover: promote the replica, stop the old primary */
    assert_int_equal(tsp_test_replica_ctl_in(p.primary, p.replica, "promote"), 0);
    assert_int_equal(tsp_test_devdb_ctl_in(p.primary, "stop"), 0);
    start = tsp_clock_mono_ms();
    while (tsp_clock_mono_ms() - start < 10000 && !followed) {
        r = tsp_test_get(url_of(svc, "/pool/ping"), NULL);
        followed = r->status == 200 && tsp_test_json_str(r, "server") != NULL &&
                   strcmp(tsp_test_json_str(r, "server"), name2) == 0 &&
                   json_is_true(json_object_get(r->json, "primary"));
        tsp_test_reply_free(r);
        if (!followed) {
            tsp_test_sleep_ms(50);
        }
    }
    took = (long)(tsp_clock_mono_ms() - start);
    assert_true(followed);
    printf("the main pool reached the new primary %ld ms after the old one stopped\n", took);

    /* /cluster shows the new primary and its timeline within a health interval or two */
    start = tsp_clock_mono_ms();
    followed = false;
    while (tsp_clock_mono_ms() - start < 5000 && !followed) {
        r = cluster(svc);
        prim = json_object_get(r->json, "primary");
        followed = strcmp(json_string_value(json_object_get(prim, "host")), name2) == 0 &&
                   json_integer_value(json_object_get(prim, "timeline")) == 2 &&
                   json_integer_value(json_object_get(r->json, "failovers")) >= 1 &&
                   json_is_false(json_object_get(replica_member(r, 1), "in_rotation"));
        if (followed) {
            assert_string_equal(json_string_value(json_object_get(replica_member(r, 1), "state")),
                                "promoted");
        } else if (tsp_clock_mono_ms() - start >= 4900) {
            fprintf(stderr, "last /cluster: %s\n", r->body);
        }
        tsp_test_reply_free(r);
        if (!followed) {
            tsp_test_sleep_ms(50);
        }
    }
    took = (long)(tsp_clock_mono_ms() - start);
    assert_true(followed);
    printf("/cluster showed the new primary on timeline 2 after %ld more ms\n", took);
    assert_true(wait_status(svc, "/readyz/primary", 200, 3000) >= 0);
    assert_true(wait_status(svc, "/readyz/replica", 503, 3000) >= 0);
    /* no replica: reads on the new primary */
    read_server(svc, server, sizeof(server));
    assert_string_equal(server, name2);

    /* the old primary comes back as a replica of the new one (same port): it joins the
     * rotation without a restart of tspool */
    assert_int_equal(tsp_test_replica_ctl_in(p.replica, p.primary, "rebuild >/dev/null"), 0);
    assert_int_equal(tsp_test_port_in(p.primary), p1);
    took = wait_status(svc, "/readyz/replica", 200, 15000);
    assert_true(took >= 0);
    read_server(svc, server, sizeof(server));
    assert_string_equal(server, name1);
    r = tsp_test_get(url_of(svc, "/pool/ping"), NULL);
    assert_string_equal(tsp_test_json_str(r, "server"), name2);
    tsp_test_reply_free(r);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_replicas_reads_land_on_the_replica, stop_services),
        cmocka_unit_test_teardown(test_replicas_lagging_replica_leaves_rotation_and_returns,
                                  teardown),
        cmocka_unit_test_teardown(test_replicas_frozen_replica_leaves_rotation, thaw_teardown),
        cmocka_unit_test_teardown(test_replicas_failover_is_followed, failover_teardown),
    };
    return cmocka_run_group_tests_name("replicas", tests, setup, teardown);
}
