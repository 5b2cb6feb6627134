/* conncheck.c - HTTP load check that counts responses per connection, for `make bench`.
 * wrk reports totals only, so a connection the server never answers is invisible to it; this tool
 * keeps N connections busy for D seconds and reports how many of them got no response within
 * those D seconds ("starved"), and how many got none even after waiting for the stragglers.
 * SPDX-License-Identifier: MIT
 *
 * usage: conncheck [-c CONNS] [-d SECONDS] [-T TIMEOUT_S] [--close] URL
 *        conncheck --wait [--since EPOCH_NS] [--pid PID] [-T TIMEOUT_S] URL
 * The first form prints one JSON line. The second polls URL until it answers 200 and prints the
 * milliseconds since EPOCH_NS (CLOCK_REALTIME nanoseconds; default: the tool's own start); with
 * --pid it gives up as soon as that process has exited.
 * Only plain http://HOST:PORT/PATH, responses with Content-Length or closed by the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 8192

enum phase { PH_IDLE, PH_CONNECTING, PH_WRITING, PH_READING };

struct conn {
    int fd;
    enum phase phase;
    size_t wpos;          /* bytes of the request already written */
    char head[HEAD_MAX];  /* response status line and headers */
    size_t head_len;      /* bytes in head */
    int head_done;        /* headers parsed; now counting body bytes */
    long long body_left;  /* body bytes still expected; -1 = until the server closes */
    int server_closes;    /* the server will close after this response */
    unsigned status;      /* status code of the response being read */
    uint64_t sent_ns;     /* when the request was sent (latency start) */
    unsigned long served; /* complete responses received on this slot */
    unsigned long late;   /* of those, completed after the run ended (while draining) */
};

struct target {
    char host[256];
    char port[16];
    char path[1024];
    struct addrinfo *ai;
};

struct stats {
    uint32_t *lat_us; /* one latency per response, sorted at the end */
    size_t n_lat;
    size_t cap_lat;
    unsigned long ok;       /* 2xx responses */
    unsigned long other;    /* non-2xx responses */
    unsigned long errors;   /* connect/read/write failures, malformed responses */
    unsigned long timeouts; /* requests unanswered after the timeout */
};

static uint64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_url(const char *url, struct target *t)
{
    const char *p = NULL;
    const char *slash = NULL;
    const char *colon = NULL;
    size_t hlen = 0;

    if (strncmp(url, "http://", 7) != 0) {
        fprintf(stderr, "conncheck: only http:// URLs are supported: %s\n", url);
        return -1;
    }
    p = url + 7;
    slash = strchr(p, '/');
    if (slash == NULL) {
        slash = p + strlen(p);
    }
    colon = memchr(p, ':', (size_t)(slash - p));
    hlen = (size_t)((colon != NULL ? colon : slash) - p);
    if (hlen == 0 || hlen >= sizeof(t->host)) {
        fprintf(stderr, "conncheck: bad host in %s\n", url);
        return -1;
    }
    memcpy(t->host, p, hlen);
    t->host[hlen] = '\0';
    if (colon != NULL) {
        size_t plen = (size_t)(slash - colon - 1);
        if (plen == 0 || plen >= sizeof(t->port)) {
            fprintf(stderr, "conncheck: bad port in %s\n", url);
            return -1;
        }
        memcpy(t->port, colon + 1, plen);
        t->port[plen] = '\0';
    } else {
        snprintf(t->port, sizeof(t->port), "80");
    }
    snprintf(t->path, sizeof(t->path), "%s", *slash != '\0' ? slash : "/");

    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(t->host, t->port, &hints, &t->ai);
    if (rc != 0) {
        fprintf(stderr, "conncheck: %s:%s: %s\n", t->host, t->port, gai_strerror(rc));
        return -1;
    }
    return 0;
}

/* Starts a non-blocking connect; returns the socket or -1. */
static int open_socket(const struct target *t)
{
    int fd = socket(t->ai->ai_family, t->ai->ai_socktype, t->ai->ai_protocol);
    if (fd < 0) {
        return -1;
    }
    int flags = fcntl(fd, F_GETFL, 0);
    int one = 1;
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        close(fd);
        return -1;
    }
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, t->ai->ai_addr, t->ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Case-insensitive search for a header line "name:" in a NUL-terminated header block; returns a
 * pointer to its value or NULL. */
static const char *find_header(const char *head, const char *name)
{
    size_t n = strlen(name);
    const char *line = strstr(head, "\r\n");
    while (line != NULL && line[2] != '\r') {
        line += 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            return v;
        }
        line = strstr(line, "\r\n");
    }
    return NULL;
}

/* Parses status line and framing headers; returns -1 on a malformed response. */
static int parse_head(struct conn *c, size_t head_len)
{
    const char *cl = NULL;
    const char *connhdr = NULL;
    char saved = c->head[head_len];

    c->head[head_len] = '\0';
    if (strncmp(c->head, "HTTP/1.", 7) != 0 || strlen(c->head) < 12) {
        return -1;
    }
    c->status = (unsigned)strtoul(c->head + 9, NULL, 10);
    c->server_closes = c->head[7] == '0';
    connhdr = find_header(c->head, "Connection");
    if (connhdr != NULL) {
        if (strncasecmp(connhdr, "close", 5) == 0) {
            c->server_closes = 1;
        } else if (strncasecmp(connhdr, "keep-alive", 10) == 0) {
            c->server_closes = 0;
        }
    }
    cl = find_header(c->head, "Content-Length");
    if (cl != NULL) {
        c->body_left = strtoll(cl, NULL, 10);
    } else if (find_header(c->head, "Transfer-Encoding") != NULL) {
        return -1; /* chunked bodies are not needed by the benchmark */
    } else {
        c->body_left = -1;
        c->server_closes = 1;
    }
    c->head[head_len] = saved;
    return 0;
}

static void record(struct stats *s, struct conn *c, uint64_t now, int late)
{
    if (s->n_lat == s->cap_lat) {
        size_t cap = s->cap_lat != 0 ? s->cap_lat * 2 : 65536;
        uint32_t *p = realloc(s->lat_us, cap * sizeof(*p));
        if (p == NULL) {
            fprintf(stderr, "conncheck: out of memory\n");
            exit(1);
        }
        s->lat_us = p;
        s->cap_lat = cap;
    }
    uint64_t us = (now - c->sent_ns) / 1000u;
    s->lat_us[s->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    if (c->status >= 200 && c->status < 300) {
        s->ok++;
    } else {
        s->other++;
    }
    c->served++;
    c->late += late != 0;
}

struct run {
    const struct target *t;
    struct conn *conns;
    int nconns;
    int close_mode;
    int ep;
    int running; /* new requests are still sent */
    char req[1400];
    size_t req_len;
    uint64_t timeout_ns;
    struct stats st;
};

static void drop(struct run *r, struct conn *c)
{
    if (c->fd >= 0) {
        (void)epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->phase = PH_IDLE;
}

static void watch(struct run *r, struct conn *c, uint32_t events, int op)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = c;
    if (epoll_ctl(r->ep, op, c->fd, &ev) < 0) {
        perror("conncheck: epoll_ctl");
        exit(1);
    }
}

/* Begins the next request on slot c: reuse the connection if open, else connect. */
static void start_request(struct run *r, struct conn *c)
{
    c->wpos = 0;
    c->head_len = 0;
    c->head_done = 0;
    c->status = 0;
    c->sent_ns = now_ns(CLOCK_MONOTONIC);
    if (c->fd >= 0) {
        c->phase = PH_WRITING;
        watch(r, c, EPOLLOUT, EPOLL_CTL_MOD);
        return;
    }
    c->fd = open_socket(r->t);
    if (c->fd < 0) {
        r->st.errors++;
        c->phase = PH_IDLE;
        return;
    }
    c->phase = PH_CONNECTING;
    watch(r, c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void fail(struct run *r, struct conn *c)
{
    r->st.errors++;
    drop(r, c);
}

static void finish_response(struct run *r, struct conn *c)
{
    record(&r->st, c, now_ns(CLOCK_MONOTONIC), !r->running);
    if (c->server_closes || r->close_mode || !r->running) {
        drop(r, c);
    } else {
        c->phase = PH_IDLE;
    }
    if (r->running) {
        start_request(r, c);
    }
}

static void on_readable(struct run *r, struct conn *c)
{
    char scratch[65536];
    for (;;) {
        char *dst = scratch;
        size_t room = sizeof(scratch);
        if (!c->head_done) {
            dst = c->head + c->head_len;
            room = HEAD_MAX - 1 - c->head_len;
            if (room == 0) {
                fail(r, c);
                return;
            }
        }
        ssize_t n = read(c->fd, dst, room);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n < 0) {
            fail(r, c);
            return;
        }
        if (n == 0) {
            if (c->head_done && c->body_left < 0) {
                finish_response(r, c);
            } else {
                fail(r, c);
                if (r->running) {
                    start_request(r, c);
                }
            }
            return;
        }
        size_t got = (size_t)n;
        if (!c->head_done) {
            c->head_len += got;
            c->head[c->head_len] = '\0';
            char *end = strstr(c->head, "\r\n\r\n");
            if (end == NULL) {
                continue;
            }
            size_t hl = (size_t)(end - c->head) + 4;
            if (parse_head(c, hl) < 0) {
                fail(r, c);
                return;
            }
            c->head_done = 1;
            got = c->head_len - hl;
        }
        if (c->body_left >= 0) {
            c->body_left -= (long long)got;
            if (c->body_left <= 0) {
                finish_response(r, c);
                return;
            }
        }
    }
}

static void on_writable(struct run *r, struct conn *c)
{
    if (c->phase == PH_CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
            fail(r, c);
            if (r->running) {
                start_request(r, c);
            }
            return;
        }
        c->phase = PH_WRITING;
    }
    while (c->wpos < r->req_len) {
        ssize_t n = write(c->fd, r->req + c->wpos, r->req_len - c->wpos);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n <= 0) {
            fail(r, c);
            if (r->running) {
                start_request(r, c);
            }
            return;
        }
        c->wpos += (size_t)n;
    }
    c->phase = PH_READING;
    watch(r, c, EPOLLIN, EPOLL_CTL_MOD);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t percentile(const struct stats *s, double q)
{
    if (s->n_lat == 0) {
        return 0;
    }
    size_t i = (size_t)(q * (double)(s->n_lat - 1));
    return s->lat_us[i];
}

static int run_load(const struct target *t, int nconns, double seconds, int close_mode,
                    double timeout_s)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    r.t = t;
    r.nconns = nconns;
    r.close_mode = close_mode;
    r.running = 1;
    r.timeout_ns = (uint64_t)(timeout_s * 1e9);
    int len = snprintf(r.req, sizeof(r.req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\n%s\r\n", t->path,
                       t->host, t->port, close_mode ? "Connection: close\r\n" : "");
    if (len < 0 || (size_t)len >= sizeof(r.req)) {
        fprintf(stderr, "conncheck: request too long\n");
        return 2;
    }
    r.req_len = (size_t)len;
    r.conns = calloc((size_t)nconns, sizeof(*r.conns));
    r.ep = epoll_create1(0);
    if (r.conns == NULL || r.ep < 0) {
        perror("conncheck");
        return 2;
    }
    for (int i = 0; i < nconns; i++) {
        r.conns[i].fd = -1;
        start_request(&r, &r.conns[i]);
    }

    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    uint64_t stop_at = t0 + (uint64_t)(seconds * 1e9);
    /* after the run, in-flight requests get up to the timeout to complete */
    uint64_t drain_until = stop_at + r.timeout_ns;
    uint64_t last_sweep = t0;
    struct epoll_event evs[256];
    for (;;) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (r.running && now >= stop_at) {
            r.running = 0;
        }
        if (!r.running) {
            int busy = 0;
            for (int i = 0; i < nconns; i++) {
                busy |= r.conns[i].phase != PH_IDLE;
            }
            if (!busy || now >= drain_until) {
                break;
            }
        }
        if (now - last_sweep >= 100000000u) {
            last_sweep = now;
            for (int i = 0; i < nconns; i++) {
                struct conn *c = &r.conns[i];
                if (c->phase == PH_IDLE && r.running) {
                    start_request(&r, c); /* a failed connect is retried */
                } else if (c->phase != PH_IDLE && r.running && now - c->sent_ns > r.timeout_ns) {
                    r.st.timeouts++;
                    drop(&r, c);
                    start_request(&r, c);
                }
            }
        }
        int n = epoll_wait(r.ep, evs, 256, 50);
        if (n < 0 && errno != EINTR) {
            perror("conncheck: epoll_wait");
            return 2;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->fd < 0) {
                continue;
            }
            if (c->phase == PH_READING) {
                on_readable(&r, c);
            } else {
                on_writable(&r, c);
            }
        }
    }
    uint64_t elapsed = now_ns(CLOCK_MONOTONIC) - t0;
    unsigned long in_flight = 0;
    unsigned long starved = 0;    /* no response within the run */
    unsigned long never = 0;      /* no response at all, even while draining */
    unsigned long late_total = 0; /* responses that completed only after the run */
    unsigned long min_served = (unsigned long)-1;
    unsigned long max_served = 0;
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &r.conns[i];
        unsigned long in_run = c->served - c->late;
        in_flight += c->phase != PH_IDLE;
        starved += in_run == 0;
        never += c->served == 0;
        late_total += c->late;
        min_served = in_run < min_served ? in_run : min_served;
        max_served = in_run > max_served ? in_run : max_served;
        drop(&r, c);
    }
    qsort(r.st.lat_us, r.st.n_lat, sizeof(uint32_t), cmp_u32);
    double secs = (double)(stop_at - t0) / 1e9;
    printf("{\"connections\":%d,\"close\":%s,\"duration_s\":%.3f,\"wall_s\":%.3f,"
           "\"responses\":%zu,\"rps\":%.1f,\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u,"
           "\"status_2xx\":%lu,\"status_other\":%lu,\"errors\":%lu,\"timeouts\":%lu,"
           "\"unanswered_at_end\":%lu,\"starved\":%lu,\"never_answered\":%lu,"
           "\"late_responses\":%lu,\"min_per_conn\":%lu,\"max_per_conn\":%lu}\n",
           nconns, close_mode ? "true" : "false", secs, (double)elapsed / 1e9, r.st.n_lat,
           (double)(r.st.n_lat - late_total) / secs, percentile(&r.st, 0.50),
           percentile(&r.st, 0.99), r.st.n_lat != 0 ? r.st.lat_us[r.st.n_lat - 1] : 0, r.st.ok,
           r.st.other, r.st.errors, r.st.timeouts, in_flight, starved, never, late_total,
           min_served, max_served);
    close(r.ep);
    free(r.conns);
    free(r.st.lat_us);
    return 0;
}

/* One blocking GET with a deadline; returns the status code or -1. */
static int probe_once(const struct target *t, uint64_t deadline)
{
    char req[1400];
    char resp[64];
    size_t have = 0;
    int status = -1;
    int fd = open_socket(t);
    if (fd < 0) {
        return -1;
    }
    int len =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n",
                 t->path, t->host, t->port);
    size_t sent = 0;
    while (len > 0 && have < 12) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= deadline) {
            break;
        }
        struct pollfd pfd = {.fd = fd, .events = sent < (size_t)len ? POLLOUT : POLLIN};
        int wait_ms = (int)((deadline - now) / 1000000u) + 1;
        if (poll(&pfd, 1, wait_ms) <= 0) {
            break; /* errors surface in the write or read below */
        }
        if (sent < (size_t)len) {
            ssize_t n = write(fd, req + sent, (size_t)len - sent);
            if (n <= 0) {
                break;
            }
            sent += (size_t)n;
            continue;
        }
        ssize_t n = read(fd, resp + have, sizeof(resp) - 1 - have);
        if (n <= 0) {
            break;
        }
        have += (size_t)n;
    }
    resp[have] = '\0';
    if (have >= 12 && strncmp(resp, "HTTP/1.", 7) == 0) {
        status = (int)strtol(resp + 9, NULL, 10);
    }
    close(fd);
    return status;
}

/* A process that exited but was not reaped yet is a zombie: kill(pid, 0) still succeeds, so
 * read its state from /proc instead. */
static int process_alive(long pid)
{
    char path[64];
    char buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    if (paren == NULL || paren[1] == '\0' || paren[2] == '\0') {
        return 0;
    }
    return paren[2] != 'Z' && paren[2] != 'X';
}

static int run_wait(const struct target *t, uint64_t since_real, long pid, double timeout_s)
{
    uint64_t start = now_ns(CLOCK_MONOTONIC);
    uint64_t deadline = start + (uint64_t)(timeout_s * 1e9);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 2000000};
    int last = -1;
    while (now_ns(CLOCK_MONOTONIC) < deadline) {
        if (pid > 0 && !process_alive(pid)) {
            fprintf(stderr, "conncheck: process %ld exited before http://%s:%s%s answered 200\n",
                    pid, t->host, t->port, t->path);
            return 1;
        }
        last = probe_once(t, deadline);
        if (last == 200) {
            uint64_t real = now_ns(CLOCK_REALTIME);
            double ms = since_real != 0 && real > since_real
                            ? (double)(real - since_real) / 1e6
                            : (double)(now_ns(CLOCK_MONOTONIC) - start) / 1e6;
            printf("%.1f\n", ms);
            return 0;
        }
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "conncheck: http://%s:%s%s not 200 after %.0f s (last status %d)\n", t->host,
            t->port, t->path, timeout_s, last);
    return 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: conncheck [-c CONNS] [-d SECONDS] [-T TIMEOUT_S] [--close] URL\n"
                    "       conncheck --wait [--since EPOCH_NS] [--pid PID] [-T TIMEOUT_S] URL\n");
}

int main(int argc, char **argv)
{
    int nconns = 64;
    double seconds = 5.0;
    double timeout_s = 10.0;
    int close_mode = 0;
    int wait_mode = 0;
    uint64_t since = 0;
    long pid = 0;
    const char *url = NULL;
    struct target t;
    int rc = 2;

    memset(&t, 0, sizeof(t));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--close") == 0) {
            close_mode = 1;
        } else if (strcmp(a, "--wait") == 0) {
            wait_mode = 1;
        } else if (strcmp(a, "-c") == 0 && v != NULL) {
            nconns = atoi(v);
            i++;
        } else if (strcmp(a, "-d") == 0 && v != NULL) {
            seconds = strtod(v, NULL);
            i++;
        } else if (strcmp(a, "-T") == 0 && v != NULL) {
            timeout_s = strtod(v, NULL);
            i++;
        } else if (strcmp(a, "--pid") == 0 && v != NULL) {
            pid = strtol(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--since") == 0 && v != NULL) {
            since = strtoull(v, NULL, 10);
            i++;
        } else if (a[0] != '-' && url == NULL) {
            url = a;
        } else {
            usage();
            return 2;
        }
    }
    if (url == NULL || nconns < 1 || seconds <= 0.0 || timeout_s <= 0.0) {
        usage();
        return 2;
    }
    if (parse_url(url, &t) < 0) {
        return 2;
    }
    if (wait_mode) {
        rc = run_wait(&t, since, pid, timeout_s);
    } else {
        rc = run_load(&t, nconns, seconds, close_mode, timeout_s);
    }
    freeaddrinfo(t.ai);
    return rc;
}
