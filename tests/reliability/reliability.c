/* reliability.c - helpers for the fault tests: background traffic and its tally, probes with
 * deadlines, pg_stat_activity counts, the fault report line, and a black-holing TCP proxy.
 * SPDX-License-Identifier: MIT
 */
#include "reliability.h"

#include "http_client.h"
#include "tsp_test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 512
#define MAX_PATHS   8

int64_t rel_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct rel_traffic {
    char base[128];
    const char *paths[MAX_PATHS];
    size_t npaths;
    int threads;
    long max_requests;
    int64_t deadline_ms;
    long request_timeout_ms;
    atomic_bool stop;
    atomic_long issued;
    pthread_mutex_t lock;
    struct rel_tally tally;
    pthread_t tids[MAX_THREADS];
};

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userp)
{
    (void)ptr;
    (void)userp;
    return size * nmemb;
}

static size_t saw_header(char *ptr, size_t size, size_t nmemb, void *userp)
{
    (void)ptr;
    *(bool *)userp = true;
    return size * nmemb;
}

/* One GET on curl (its connection reused when the server keeps it open): the status; 0 when
 * refused; -2 when the connection was closed before any byte of a response; -1 when a
 * response was cut or never finished. */
static long get_on(CURL *curl, const char *url, long timeout_ms, long *elapsed_ms)
{
    bool got_header = false;
    int64_t start = rel_now_ms();
    long status = -1;
    CURLcode cc;

    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, saw_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &got_header);
    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    } else if (cc == CURLE_COULDNT_CONNECT) {
        status = 0;
    } else if (!got_header &&
               (cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR)) {
        status = -2; /* closed before a single byte of response: never served */
    }
    if (elapsed_ms != NULL) {
        *elapsed_ms = (long)(rel_now_ms() - start);
    }
    return status;
}

/* One GET on a fresh connection. */
static long one_get(const char *url, long timeout_ms, long *elapsed_ms)
{
    CURL *curl = curl_easy_init();
    long status = -1;

    if (curl == NULL) {
        return -1;
    }
    status = get_on(curl, url, timeout_ms, elapsed_ms);
    curl_easy_cleanup(curl);
    return status;
}

static void *traffic_main(void *arg)
{
    struct rel_traffic *t = arg;
    /* one keep-alive client per thread, like a real one; it also keeps the number of sockets
     * in TIME_WAIT (which can hold a port a restarting server needs) small */
    CURL *curl = curl_easy_init();
    char url[512];

    if (curl == NULL) {
        return NULL;
    }
    for (;;) {
        long n = atomic_fetch_add(&t->issued, 1);
        long elapsed = 0;
        long status = 0;
        if (atomic_load(&t->stop) || n >= t->max_requests || rel_now_ms() >= t->deadline_ms) {
            break;
        }
        snprintf(url, sizeof(url), "%s%s", t->base, t->paths[(size_t)n % t->npaths]);
        status = get_on(curl, url, t->request_timeout_ms, &elapsed);
        pthread_mutex_lock(&t->lock);
        if (status > 0) {
            t->tally.requests++;
        }
        if (status >= 200 && status < 300) {
            t->tally.ok++;
        } else if (status == 503) {
            t->tally.status_503++;
        } else if (status == 0) {
            t->tally.refused++;
        } else if (status == -2) {
            t->tally.reset++;
        } else if (status < 0) {
            t->tally.cut++;
        } else {
            t->tally.other++;
            t->tally.last_other = status;
        }
        if (elapsed > t->tally.max_ms) {
            t->tally.max_ms = elapsed;
        }
        pthread_mutex_unlock(&t->lock);
        if (status == 0) {
            tsp_test_sleep_ms(20); /* nobody listens: do not spin */
        }
    }
    curl_easy_cleanup(curl);
    return NULL;
}

/* Traffic still running: a failed assertion leaves the test function early, and the threads
 * must not outlive the test (rel_teardown stops them). */
#define MAX_LIVE_TRAFFIC 8
static struct rel_traffic *live_traffic[MAX_LIVE_TRAFFIC];

static void traffic_track(struct rel_traffic *t, bool add)
{
    for (size_t i = 0; i < MAX_LIVE_TRAFFIC; i++) {
        if (add && live_traffic[i] == NULL) {
            live_traffic[i] = t;
            return;
        }
        if (!add && live_traffic[i] == t) {
            live_traffic[i] = NULL;
            return;
        }
    }
}

struct rel_traffic *rel_traffic_start(const char *base_url, const char *const *paths, int threads,
                                      long max_requests, long max_ms, long request_timeout_ms)
{
    struct rel_traffic *t = NULL;

    assert_true(threads > 0 && threads <= MAX_THREADS);
    t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->base, sizeof(t->base), "%s", base_url);
    while (t->npaths < MAX_PATHS && paths[t->npaths] != NULL) {
        t->paths[t->npaths] = paths[t->npaths];
        t->npaths++;
    }
    assert_true(t->npaths > 0);
    t->threads = threads;
    t->max_requests = max_requests;
    t->deadline_ms = rel_now_ms() + max_ms;
    t->request_timeout_ms = request_timeout_ms;
    atomic_init(&t->stop, false);
    atomic_init(&t->issued, 0);
    pthread_mutex_init(&t->lock, NULL);
    for (int i = 0; i < threads; i++) {
        assert_int_equal(pthread_create(&t->tids[i], NULL, traffic_main, t), 0);
    }
    traffic_track(t, true);
    return t;
}

struct rel_tally rel_traffic_stop(struct rel_traffic *t)
{
    struct rel_tally tally;

    traffic_track(t, false);
    atomic_store(&t->stop, true);
    for (int i = 0; i < t->threads; i++) {
        pthread_join(t->tids[i], NULL);
    }
    tally = t->tally;
    pthread_mutex_destroy(&t->lock);
    free(t);
    return tally;
}

long rel_get(const char *base_url, const char *path, long timeout_ms, long *elapsed_ms)
{
    char url[512];
    long status = 0;

    snprintf(url, sizeof(url), "%s%s", base_url, path);
    status = one_get(url, timeout_ms, elapsed_ms);
    return status > 0 ? status : 0;
}

long rel_wait_status(const char *base_url, const char *path, long expect, long timeout_ms)
{
    int64_t start = rel_now_ms();

    for (;;) {
        long elapsed = (long)(rel_now_ms() - start);
        if (rel_get(base_url, path, 2000, NULL) == expect) {
            return (long)(rel_now_ms() - start);
        }
        if (elapsed >= timeout_ms) {
            return -1;
        }
        tsp_test_sleep_ms(50);
    }
}

long rel_our_sessions(void)
{
    char *n = tsp_test_pg_query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" TSP_TEST_APP_NAME "'");
    long count = n != NULL ? atol(n) : -1;
    free(n);
    return count;
}

bool rel_wait_sessions(long expect, long timeout_ms)
{
    int64_t deadline = rel_now_ms() + timeout_ms;

    for (;;) {
        if (rel_our_sessions() == expect) {
            return true;
        }
        if (rel_now_ms() >= deadline) {
            return false;
        }
        tsp_test_sleep_ms(100);
    }
}

long long rel_json_int(const char *base_url, const char *path, const char *a, const char *b)
{
    char url[512];
    struct tsp_test_reply *r = NULL;
    long long v = -1;

    snprintf(url, sizeof(url), "%s%s", base_url, path);
    r = tsp_test_http_try("GET", url, NULL, NULL, 5000);
    if (r != NULL && r->status == 200) {
        json_t *node = json_object_get(json_object_get(r->json, a), b);
        if (json_is_integer(node)) {
            v = json_integer_value(node);
        }
    }
    tsp_test_reply_free(r);
    return v;
}

void rel_dump(struct tsp_test_service *s)
{
    static const char *const paths[] = {"/readyz?verbose", "/startupz?verbose", "/pool/status"};
    char *out = NULL;
    size_t len = 0;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char url[512];
        struct tsp_test_reply *r = NULL;
        snprintf(url, sizeof(url), "%s%s", tsp_test_service_url(s), paths[i]);
        r = tsp_test_http_try("GET", url, NULL, NULL, 5000);
        fprintf(stderr, "--- GET %s: %ld\n%s\n", paths[i], r != NULL ? r->status : 0L,
                r != NULL ? r->body : "(no response)");
        tsp_test_reply_free(r);
    }
    out = tsp_test_service_stdout(s);
    len = strlen(out);
    fprintf(stderr, "--- service log (tail):\n%s\n", out + (len > 4000 ? len - 4000 : 0));
    free(out);
}

void rel_report(const char *fault, const char *clients_saw, long recovery_ms, long sessions_after)
{
    printf("FAULT | %s | %s | %ld ms | %ld sessions\n", fault, clients_saw, recovery_ms,
           sessions_after);
    fflush(stdout);
}

/* lifecycle ---------------------------------------------------------------------------- */

static struct tsp_test_service *running;
static pid_t stopped_pids[64];
static size_t nstopped;

struct tsp_test_service *rel_start(const char *const *env)
{
    running = tsp_test_service_start(env);
    return running;
}

void rel_stop(struct tsp_test_service *s)
{
    if (s == running) {
        running = NULL;
    }
    tsp_test_service_stop(s);
}

void rel_remember_stopped(pid_t pid)
{
    if (nstopped < sizeof(stopped_pids) / sizeof(stopped_pids[0])) {
        stopped_pids[nstopped++] = pid;
    }
}

int rel_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < MAX_LIVE_TRAFFIC; i++) {
        if (live_traffic[i] != NULL) {
            (void)rel_traffic_stop(live_traffic[i]);
        }
    }
    for (size_t i = 0; i < nstopped; i++) {
        kill(stopped_pids[i], SIGCONT);
    }
    nstopped = 0;
    rel_stop(running);
    return tsp_test_pg_ctl("start >/dev/null") == 0 ? 0 : -1;
}

/* proxy -------------------------------------------------------------------------------- */

#define PROXY_PAIRS 64

struct rel_proxy {
    int listen_fd;
    int port;
    int upstream_port;
    int client[PROXY_PAIRS];
    int server[PROXY_PAIRS];
    atomic_bool stop;
    atomic_bool blackhole;
    pthread_t thread;
};

static int connect_upstream(int port)
{
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0) {
        return -1;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void close_pair(struct rel_proxy *p, size_t i)
{
    close(p->client[i]);
    close(p->server[i]);
    p->client[i] = -1;
    p->server[i] = -1;
}

/* Move what is readable from `from` to `to`; false when either side is done. */
static bool pump(int from, int to)
{
    char buf[16384];
    ssize_t n = read(from, buf, sizeof(buf));
    ssize_t off = 0;

    if (n <= 0) {
        return false;
    }
    while (off < n) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w <= 0) {
            return false;
        }
        off += w;
    }
    return true;
}

static void *proxy_main(void *arg)
{
    struct rel_proxy *p = arg;
    struct pollfd fds[1 + 2 * PROXY_PAIRS];

    while (!atomic_load(&p->stop)) {
        size_t nfds = 0;
        if (atomic_load(&p->blackhole)) {
            tsp_test_sleep_ms(20);
            continue;
        }
        fds[nfds++] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < PROXY_PAIRS; i++) {
            fds[nfds++] = (struct pollfd){.fd = p->client[i], .events = POLLIN};
            fds[nfds++] = (struct pollfd){.fd = p->server[i], .events = POLLIN};
        }
        if (poll(fds, nfds, 50) <= 0 || atomic_load(&p->blackhole)) {
            continue;
        }
        if (fds[0].revents & POLLIN) {
            int c = accept(p->listen_fd, NULL, NULL);
            int s = c >= 0 ? connect_upstream(p->upstream_port) : -1;
            size_t slot = PROXY_PAIRS;
            for (size_t i = 0; i < PROXY_PAIRS && s >= 0; i++) {
                if (p->client[i] < 0) {
                    slot = i;
                    break;
                }
            }
            if (slot < PROXY_PAIRS) {
                p->client[slot] = c;
                p->server[slot] = s;
            } else {
                if (c >= 0) {
                    close(c);
                }
                if (s >= 0) {
                    close(s);
                }
            }
        }
        for (size_t i = 0; i < PROXY_PAIRS; i++) {
            short cev = fds[1 + 2 * i].revents;
            short sev = fds[2 + 2 * i].revents;
            if (p->client[i] < 0) {
                continue;
            }
            if ((cev & (POLLIN | POLLHUP | POLLERR)) && !pump(p->client[i], p->server[i])) {
                close_pair(p, i);
                continue;
            }
            if ((sev & (POLLIN | POLLHUP | POLLERR)) && !pump(p->server[i], p->client[i])) {
                close_pair(p, i);
            }
        }
    }
    return NULL;
}

struct rel_proxy *rel_proxy_start(int upstream_port)
{
    struct rel_proxy *p = calloc(1, sizeof(*p));
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    int one = 1;

    assert_non_null(p);
    for (size_t i = 0; i < PROXY_PAIRS; i++) {
        p->client[i] = -1;
        p->server[i] = -1;
    }
    p->upstream_port = upstream_port;
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(p->listen_fd >= 0);
    setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(p->listen_fd, 64), 0);
    assert_int_equal(getsockname(p->listen_fd, (struct sockaddr *)&addr, &len), 0);
    p->port = ntohs(addr.sin_port);
    atomic_init(&p->stop, false);
    atomic_init(&p->blackhole, false);
    assert_int_equal(pthread_create(&p->thread, NULL, proxy_main, p), 0);
    return p;
}

int rel_proxy_port(const struct rel_proxy *p)
{
    return p->port;
}

void rel_proxy_blackhole(struct rel_proxy *p, bool on)
{
    atomic_store(&p->blackhole, on);
}

void rel_proxy_stop(struct rel_proxy *p)
{
    if (p == NULL) {
        return;
    }
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    for (size_t i = 0; i < PROXY_PAIRS; i++) {
        if (p->client[i] >= 0) {
            close_pair(p, i);
        }
    }
    close(p->listen_fd);
    free(p);
}
