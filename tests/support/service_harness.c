/* service_harness.c - the built tspool binary as a child process: environment, free port,
 * start and wait for /livez, signals, exit status, captured output, CLI runs.
 * SPDX-License-Identifier: MIT
 */
#include "service_harness.h"

#include "http_client.h"
#include "tsp_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct tsp_test_service {
    pid_t pid;
    int port;
    int status; /* exit status once reaped, else -1 */
    char url[64];
    char out_path[64];
    char err_path[64];
};

/* Services still running: a failed assertion skips tsp_test_service_stop(), so whatever is
 * left is killed when the test executable exits (no orphan servers holding sessions). */
#define MAX_LIVE 32
static pid_t live_pids[MAX_LIVE];
static bool reaper_installed;

static void kill_leftovers(void)
{
    for (size_t i = 0; i < MAX_LIVE; i++) {
        if (live_pids[i] > 0) {
            kill(live_pids[i], SIGKILL);
            waitpid(live_pids[i], NULL, 0);
            live_pids[i] = 0;
        }
    }
}

static void track(pid_t pid, bool add)
{
    if (!reaper_installed) {
        atexit(kill_leftovers);
        reaper_installed = true;
    }
    for (size_t i = 0; i < MAX_LIVE; i++) {
        if (add && live_pids[i] == 0) {
            live_pids[i] = pid;
            return;
        }
        if (!add && live_pids[i] == pid) {
            live_pids[i] = 0;
            return;
        }
    }
}

int tsp_test_free_port(void)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = 0;

    assert_true(fd >= 0);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

static bool stripped(const char *entry)
{
    return strncmp(entry, "DB_", 3) == 0 || strncmp(entry, "TSPOOL_", 7) == 0 ||
           strncmp(entry, "CELERY_", 7) == 0;
}

/* Replace NAME=... in env (same name) or append; env has room. */
static void env_put(char **env, size_t *n, const char *entry)
{
    size_t nlen = strcspn(entry, "=");
    for (size_t i = 0; i < *n; i++) {
        if (strncmp(env[i], entry, nlen) == 0 && env[i][nlen] == '=') {
            free(env[i]);
            env[i] = strdup(entry);
            return;
        }
    }
    env[(*n)++] = strdup(entry);
}

char **tsp_test_env(int port, const char *const *extra)
{
    size_t cap = 64, n = 0;
    char **env = NULL;
    char buf[512];

    for (size_t i = 0; environ[i] != NULL; i++) {
        cap++;
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        cap++;
    }
    env = calloc(cap + 1, sizeof(*env));
    assert_non_null(env);
    for (size_t i = 0; environ[i] != NULL; i++) {
        if (!stripped(environ[i])) {
            env[n++] = strdup(environ[i]);
        }
    }
    env_put(env, &n, "DB_HOST=127.0.0.1");
    snprintf(buf, sizeof(buf), "DB_PORT=%d", tsp_test_pg_port());
    env_put(env, &n, buf);
    env_put(env, &n, "DB_NAME=postgres");
    env_put(env, &n, "DB_USER=postgres");
    snprintf(buf, sizeof(buf), "DB_PASS=%s", tsp_test_pg_password());
    env_put(env, &n, buf);
    env_put(env, &n, "DB_SSLMODE=disable");
    env_put(env, &n, "DB_APPLICATION_NAME=" TSP_TEST_APP_NAME);
    env_put(env, &n, "DB_CONNECT_TIMEOUT=2");
    env_put(env, &n, "TSPOOL_HEALTH_INTERVAL_MS=200");
    env_put(env, &n, "TSPOOL_SHUTDOWN_DELAY=0");
    env_put(env, &n, "TSPOOL_SHUTDOWN_GRACE=10");
    env_put(env, &n, "TSPOOL_STATS_LOG_INTERVAL=0");
    env_put(env, &n, "TSPOOL_HTTP_THREADS=16");
    /* the activity sampler borrows pool connections on its own schedule: off unless a test
     * asks for it, so that pool tests count only their own borrows */
    env_put(env, &n, "TSPOOL_ACTIVITY_INTERVAL_MS=0");
    env_put(env, &n, "TSPOOL_STATEMENTS_INTERVAL_MS=0");
    snprintf(buf, sizeof(buf), "TSPOOL_LISTEN=127.0.0.1:%d", port);
    env_put(env, &n, buf);
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        env_put(env, &n, extra[i]);
    }
    env[n] = NULL;
    return env;
}

void tsp_test_env_free(char **env)
{
    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        free(env[i]);
    }
    free(env);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0;
    char chunk[4096];
    size_t got = 0;

    if (f == NULL) {
        return strdup("");
    }
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        memcpy(text + len, chunk, got);
        len += got;
    }
    fclose(f);
    if (text == NULL) {
        return strdup("");
    }
    text[len] = '\0';
    return text;
}

static pid_t spawn(const char *const *args, char **env, const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t nargs = 0;
        while (args[nargs] != NULL) {
            nargs++;
        }
        char **argv = calloc(nargs + 2, sizeof(*argv));
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (argv == NULL || out < 0 || err < 0) {
            _exit(127);
        }
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        argv[0] = (char *)(uintptr_t)tsp_test_binary();
        for (size_t i = 0; i < nargs; i++) {
            argv[i + 1] = (char *)(uintptr_t)args[i];
        }
        execve(tsp_test_binary(), argv, env);
        _exit(127);
    }
    return pid;
}

static int decode_status(int wstatus)
{
    if (WIFEXITED(wstatus)) {
        return WEXITSTATUS(wstatus);
    }
    if (WIFSIGNALED(wstatus)) {
        return 128 + WTERMSIG(wstatus);
    }
    return -1;
}

struct tsp_test_service *tsp_test_service_spawn(const char *const *extra)
{
    static const char *const args[] = {"serve", NULL};
    struct tsp_test_service *s = calloc(1, sizeof(*s));
    char **env = NULL;
    int fd = -1;

    assert_non_null(s);
    s->status = -1;
    s->port = tsp_test_free_port();
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    snprintf(s->out_path, sizeof(s->out_path), "/tmp/tspool-it-out-XXXXXX");
    snprintf(s->err_path, sizeof(s->err_path), "/tmp/tspool-it-err-XXXXXX");
    fd = mkstemp(s->out_path);
    assert_true(fd >= 0);
    close(fd);
    fd = mkstemp(s->err_path);
    assert_true(fd >= 0);
    close(fd);
    env = tsp_test_env(s->port, extra);
    s->pid = spawn(args, env, s->out_path, s->err_path);
    track(s->pid, true);
    tsp_test_env_free(env);
    return s;
}

struct tsp_test_service *tsp_test_service_start(const char *const *extra)
{
    struct tsp_test_service *s = tsp_test_service_spawn(extra);
    char url[128];

    snprintf(url, sizeof(url), "%s/livez", s->url);
    for (int i = 0; i < 200; i++) {
        struct tsp_test_reply *r = tsp_test_http_try("GET", url, NULL, NULL, 1000);
        long status = r != NULL ? r->status : 0;
        tsp_test_reply_free(r);
        if (status == 200) {
            return s;
        }
        if (tsp_test_service_wait(s, 0) >= 0) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    char *out = tsp_test_service_stdout(s);
    char *err = tsp_test_service_stderr(s);
    fprintf(stderr, "tspool serve did not come up (status %d)\nstdout:\n%s\nstderr:\n%s\n",
            s->status, out, err);
    free(out);
    free(err);
    tsp_test_service_stop(s);
    fail_msg("tspool serve did not answer /livez");
    return NULL;
}

const char *tsp_test_service_url(const struct tsp_test_service *s)
{
    return s->url;
}

int tsp_test_service_port(const struct tsp_test_service *s)
{
    return s->port;
}

pid_t tsp_test_service_pid(const struct tsp_test_service *s)
{
    return s->pid;
}

void tsp_test_service_signal(struct tsp_test_service *s, int sig)
{
    if (s->status < 0) {
        kill(s->pid, sig);
    }
}

int tsp_test_service_wait(struct tsp_test_service *s, long timeout_ms)
{
    long waited = 0;

    while (s->status < 0) {
        int wstatus = 0;
        pid_t got = waitpid(s->pid, &wstatus, WNOHANG);
        if (got == s->pid) {
            s->status = decode_status(wstatus);
            track(s->pid, false);
            break;
        }
        if (got < 0 && errno != EINTR) {
            break;
        }
        if (waited >= timeout_ms) {
            break;
        }
        tsp_test_sleep_ms(20);
        waited += 20;
    }
    return s->status;
}

char *tsp_test_service_stdout(const struct tsp_test_service *s)
{
    return slurp(s->out_path);
}

char *tsp_test_service_stderr(const struct tsp_test_service *s)
{
    return slurp(s->err_path);
}

void tsp_test_service_stop(struct tsp_test_service *s)
{
    if (s == NULL) {
        return;
    }
    if (s->status < 0) {
        kill(s->pid, SIGTERM);
        if (tsp_test_service_wait(s, 15000) < 0) {
            kill(s->pid, SIGKILL);
            tsp_test_service_wait(s, 5000);
        }
    }
    unlink(s->out_path);
    unlink(s->err_path);
    free(s);
}

bool tsp_test_wait_query(const char *sql, const char *expect, long timeout_ms)
{
    for (long waited = 0; waited <= timeout_ms; waited += 50) {
        char *got = tsp_test_pg_query(sql);
        bool match = got != NULL && strcmp(got, expect) == 0;
        free(got);
        if (match) {
            return true;
        }
        tsp_test_sleep_ms(50);
    }
    return false;
}

struct tsp_test_lock {
    pthread_t thread;
    char dsn[512]; /* copied in the caller's thread: the pg_harness buffers are not shared */
    char sql[256];
};

static void *lock_main(void *arg)
{
    struct tsp_test_lock *lock = arg;
    PGconn *conn = PQconnectdb(lock->dsn);

    if (PQstatus(conn) == CONNECTION_OK) {
        PQclear(PQexec(conn, lock->sql));
    } else {
        fprintf(stderr, "lock session: %s", PQerrorMessage(conn));
    }
    PQfinish(conn);
    return NULL;
}

struct tsp_test_lock *tsp_test_lock_catalog(int seconds)
{
    struct tsp_test_lock *lock = calloc(1, sizeof(*lock));

    assert_non_null(lock);
    snprintf(lock->dsn, sizeof(lock->dsn), "%s", tsp_test_pg_dsn());
    snprintf(lock->sql, sizeof(lock->sql),
             "BEGIN; LOCK TABLE pg_extension IN ACCESS EXCLUSIVE MODE; "
             "SELECT pg_sleep(%d); COMMIT",
             seconds);
    assert_int_equal(pthread_create(&lock->thread, NULL, lock_main, lock), 0);
    assert_true(tsp_test_wait_query("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = "
                                    "l.relation WHERE c.relname = 'pg_extension' AND l.mode = "
                                    "'AccessExclusiveLock' AND l.granted",
                                    "1", 10000));
    return lock;
}

void tsp_test_lock_join(struct tsp_test_lock *lock)
{
    if (lock == NULL) {
        return;
    }
    pthread_join(lock->thread, NULL);
    free(lock);
}

int tsp_test_run_cli(const char *const *args, int port, const char *const *extra, char **out,
                     char **err)
{
    char out_path[64] = "/tmp/tspool-cli-out-XXXXXX";
    char err_path[64] = "/tmp/tspool-cli-err-XXXXXX";
    char **env = tsp_test_env(port, extra);
    int fd = -1;
    int status = -1;
    pid_t pid;

    fd = mkstemp(out_path);
    assert_true(fd >= 0);
    close(fd);
    fd = mkstemp(err_path);
    assert_true(fd >= 0);
    close(fd);
    pid = spawn(args, env, out_path, err_path);
    tsp_test_env_free(env);
    for (int waited = 0; waited < 60000; waited += 20) {
        int wstatus = 0;
        if (waitpid(pid, &wstatus, WNOHANG) == pid) {
            status = decode_status(wstatus);
            break;
        }
        tsp_test_sleep_ms(20);
    }
    if (status < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    if (out != NULL) {
        *out = slurp(out_path);
    }
    if (err != NULL) {
        *err = slurp(err_path);
    }
    unlink(out_path);
    unlink(err_path);
    return status;
}
