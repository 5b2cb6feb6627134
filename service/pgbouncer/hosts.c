/* pgbouncer/hosts.c - PGBOUNCER_HOSTS parsing, name resolution with a deadline (getaddrinfo in
 * a thread nobody waits for past the deadline), the names of listings, states, commands and
 * outcomes, and the options.
 * SPDX-License-Identifier: MIT
 */
#include "pgbouncer_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "tspool/clock.h"

static const char *const show_names[TSP_PGB_SHOW_COUNT] = {
    "pools", "stats", "databases", "servers", "clients", "config", "lists"};
static const char *const state_names[] = {"pending", "up", "down", "misconfigured"};
static const char *const cmd_names[TSP_PGB_CMD_COUNT] = {"pause",   "resume", "reconnect", "reload",
                                                         "disable", "enable", "kill"};
static const char *const outcome_names[] = {"ok", "pausing", "failed", "unreachable"};

const char *tsp_pgb_show_name(enum tsp_pgb_show show)
{
    return (int)show >= 0 && show < TSP_PGB_SHOW_COUNT ? show_names[show] : "unknown";
}

enum tsp_pgb_show tsp_pgb_show_find(const char *name)
{
    for (int i = 0; name != NULL && i < TSP_PGB_SHOW_COUNT; i++) {
        if (strcmp(name, show_names[i]) == 0) {
            return (enum tsp_pgb_show)i;
        }
    }
    return TSP_PGB_SHOW_COUNT;
}

const char *tsp_pgb_state_name(enum tsp_pgb_state state)
{
    return (int)state >= 0 && state <= TSP_PGB_MISCONFIGURED ? state_names[state] : "unknown";
}

const char *tsp_pgb_cmd_name(enum tsp_pgb_cmd cmd)
{
    return (int)cmd >= 0 && cmd < TSP_PGB_CMD_COUNT ? cmd_names[cmd] : "unknown";
}

const char *tsp_pgb_outcome_name(enum tsp_pgb_outcome outcome)
{
    return (int)outcome >= 0 && outcome <= TSP_PGB_UNREACHABLE ? outcome_names[outcome] : "unknown";
}

bool tsp_pgb_database_valid(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;

    if (n == 0 || n > 63) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

/* One element "host:port" or "[v6]:port" of length len into h; false when malformed. */
static bool parse_host(const char *s, size_t len, struct tsp_pgb_host *h)
{
    const char *colon = NULL;
    const char *host = s;
    size_t host_len = 0;
    long port = 0;
    size_t plen = 0;

    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL || (size_t)(close - s) + 1 >= len || close[1] != ':') {
            return false;
        }
        host = s + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        for (size_t i = 0; i < len; i++) {
            if (s[i] == ':') {
                if (colon != NULL) {
                    return false; /* an IPv6 address needs brackets */
                }
                colon = s + i;
            }
        }
        if (colon == NULL) {
            return false;
        }
        host_len = (size_t)(colon - s);
    }
    plen = len - (size_t)(colon + 1 - s);
    if (host_len == 0 || host_len >= sizeof(h->host) || plen == 0 || plen > 5) {
        return false;
    }
    for (size_t i = 0; i < host_len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '[' || c == ']' || c == ',') {
            return false;
        }
    }
    for (size_t i = 0; i < plen; i++) {
        char c = colon[1 + i];
        if (c < '0' || c > '9') {
            return false;
        }
        port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) {
        return false;
    }
    memcpy(h->host, host, host_len);
    h->host[host_len] = '\0';
    h->port = (int)port;
    return true;
}

enum tsp_code tsp_pgb_hosts_parse(const char *text, struct tsp_pgb_host **out, size_t *count,
                                  struct tsp_error *err)
{
    struct tsp_pgb_host *hosts = NULL;
    size_t n = 0;
    size_t cap = 1;
    const char *start = text;
    enum tsp_code code = TSP_OK;

    *out = NULL;
    *count = 0;
    if (text == NULL || text[0] == '\0') {
        return TSP_OK;
    }
    for (const char *p = text; *p != '\0'; p++) {
        cap += *p == ',' ? 1u : 0u;
    }
    hosts = calloc(cap, sizeof(*hosts));
    if (hosts == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, "PGBOUNCER_HOSTS", "out of memory");
    }
    for (const char *p = text;; p++) {
        if (*p != ',' && *p != '\0') {
            continue;
        }
        if (!parse_host(start, (size_t)(p - start), &hosts[n])) {
            code = tsp_error_set(err, TSP_INVALID, "PGBOUNCER_HOSTS",
                                 "element %zu \"%.*s\" is not host:port or [ipv6]:port with a port "
                                 "from 1 to 65535 (comma-separated, no spaces)",
                                 n + 1, (int)((p - start) > 64 ? 64 : (p - start)), start);
            goto done;
        }
        n++;
        if (*p == '\0') {
            break;
        }
        start = p + 1;
    }
    *out = hosts;
    *count = n;
    hosts = NULL;
done:
    free(hosts);
    return code;
}

void tsp_pgb_format_address(const char *addr, int port, char *out, size_t outsize)
{
    if (strchr(addr, ':') != NULL) {
        snprintf(out, outsize, "[%s]:%d", addr, port);
    } else {
        snprintf(out, outsize, "%s:%d", addr, port);
    }
}

void tsp_pgb_addrs_free(char **addrs, size_t count)
{
    for (size_t i = 0; addrs != NULL && i < count; i++) {
        free(addrs[i]);
    }
    free(addrs);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One lookup, shared by the caller and the thread running getaddrinfo: whoever lets go of it
 * last frees it, so a caller that gave up at its deadline never waits for the resolver. */
struct lookup {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    bool done;
    int rc;
    struct addrinfo *result;
    char host[256];
};

static void lookup_release(struct lookup *lk)
{
    bool last = false;

    pthread_mutex_lock(&lk->lock);
    last = --lk->refs == 0;
    pthread_mutex_unlock(&lk->lock);
    if (last) {
        if (lk->result != NULL) {
            freeaddrinfo(lk->result);
        }
        pthread_cond_destroy(&lk->cond);
        pthread_mutex_destroy(&lk->lock);
        free(lk);
    }
}

static void *lookup_main(void *arg)
{
    struct lookup *lk = arg;
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    int rc = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(lk->host, NULL, &hints, &res);
    pthread_mutex_lock(&lk->lock);
    lk->rc = rc;
    lk->result = rc == 0 ? res : NULL;
    lk->done = true;
    pthread_cond_broadcast(&lk->cond);
    pthread_mutex_unlock(&lk->lock);
    lookup_release(lk);
    return NULL;
}

/* The numeric addresses of ai, sorted, without duplicates. */
static enum tsp_code collect(const struct addrinfo *first, const char *host, char ***out,
                             size_t *count, struct tsp_error *err)
{
    char **addrs = NULL;
    size_t n = 0;
    size_t cap = 0;
    enum tsp_code code = TSP_OK;

    for (const struct addrinfo *ai = first; ai != NULL; ai = ai->ai_next) {
        cap++;
    }
    addrs = calloc(cap > 0 ? cap : 1, sizeof(*addrs));
    if (addrs == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    for (const struct addrinfo *ai = first; ai != NULL; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN];
        const void *a = NULL;
        bool dup = false;
        if (ai->ai_family == AF_INET) {
            a = &((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr;
        } else if (ai->ai_family == AF_INET6) {
            a = &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr;
        } else {
            continue;
        }
        if (inet_ntop(ai->ai_family, a, text, sizeof(text)) == NULL) {
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            dup = dup || strcmp(addrs[i], text) == 0;
        }
        if (dup) {
            continue;
        }
        addrs[n] = strdup(text);
        if (addrs[n] == NULL) {
            code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
            goto done;
        }
        n++;
    }
    if (n == 0) {
        code = tsp_error_set(err, TSP_UNAVAILABLE, NULL, "%s has no address", host);
        goto done;
    }
    qsort(addrs, n, sizeof(*addrs), cmp_str);
    *out = addrs;
    *count = n;
    addrs = NULL;
done:
    tsp_pgb_addrs_free(addrs, n);
    return code;
}

enum tsp_code tsp_pgb_resolve(const char *host, int64_t deadline_ms, char ***out, size_t *count,
                              struct tsp_error *err)
{
    struct lookup *lk = NULL;
    pthread_t thread;
    pthread_attr_t attr;
    pthread_condattr_t cattr;
    struct timespec until;
    int64_t left = deadline_ms - tsp_clock_mono_ms();
    enum tsp_code code = TSP_OK;

    *out = NULL;
    *count = 0;
    lk = calloc(1, sizeof(*lk));
    if (lk == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    snprintf(lk->host, sizeof(lk->host), "%s", host);
    pthread_mutex_init(&lk->lock, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&lk->cond, &cattr);
    pthread_condattr_destroy(&cattr);
    lk->refs = 2;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, lookup_main, lk) != 0) {
        pthread_attr_destroy(&attr);
        lk->refs = 1;
        lookup_release(lk);
        return tsp_error_set(err, TSP_INTERNAL, NULL, "cannot start a name lookup");
    }
    pthread_attr_destroy(&attr);
    if (left < 0) {
        left = 0;
    }
    until = tsp_clock_timespec(tsp_clock_mono_ns() + left * 1000000LL);
    pthread_mutex_lock(&lk->lock);
    while (!lk->done) {
        if (pthread_cond_timedwait(&lk->cond, &lk->lock, &until) != 0) {
            break;
        }
    }
    if (!lk->done) {
        code = tsp_error_set(err, TSP_TIMEOUT, NULL, "resolving %s timed out", host);
    } else if (lk->rc != 0) {
        code = tsp_error_set(err, TSP_UNAVAILABLE, NULL, "cannot resolve %s: %s", host,
                             gai_strerror(lk->rc));
    } else {
        code = collect(lk->result, host, out, count, err);
    }
    pthread_mutex_unlock(&lk->lock);
    lookup_release(lk);
    return code;
}

void tsp_pgb_options_from_config(const struct tsp_config *cfg, struct tsp_pgb_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->hosts = cfg->pgbouncer_hosts != NULL ? cfg->pgbouncer_hosts : "";
    opts->user = cfg->pgbouncer_user != NULL ? cfg->pgbouncer_user : "pgbouncer";
    opts->password = cfg->pgbouncer_pass;
    opts->connect_timeout_s = cfg->pgbouncer_connect_timeout_s;
    opts->command_timeout_ms = cfg->pgbouncer_command_timeout_ms;
    opts->refresh_ms = cfg->pgbouncer_refresh_ms;
}
