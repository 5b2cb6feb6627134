/* cli/top.c - `tspool top`: the running service's GET /server/activity as a table that
 * refreshes in the terminal (like pg_activity), blocking chains first; --once prints one.
 * SPDX-License-Identifier: MIT
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_client_int.h"
#include "tspool/cli.h"

#define QUERY_WIDTH_MIN 20

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tspool top [--once] [--interval S] [--min-duration MS] [--application NAME]\n"
            "                  [--state STATE] [--json] [--url URL] [--timeout S]\n\n"
            "Every application's sessions on the database server, from a running tspool\n"
            "(GET /server/activity): the blocking chains, then the sessions, longest first.\n"
            "  --once             print one snapshot and exit (else refresh until Ctrl-C)\n"
            "  --interval S       seconds between refreshes (default 2)\n"
            "  --min-duration MS  only sessions running (or idle in a transaction) that long\n"
            "  --application NAME only this application_name\n"
            "  --state STATE      active, idle, idle_in_transaction,\n"
            "                     idle_in_transaction_aborted, fastpath_function_call, disabled\n"
            "  --json             print the raw JSON document (implies --once)\n"
            "  --url URL          service URL (default: TSPOOL_URL, else from TSPOOL_LISTEN,\n"
            "                     else http://127.0.0.1:8080)\n"
            "  --timeout S        give up on a request after S seconds (default 10)\n"
            "Query texts need the admin token (TSPOOL_ADMIN_TOKEN); with the read token\n"
            "(TSPOOL_READ_TOKEN) they are hidden.\n");
}

struct top_options {
    bool once;
    bool as_json;
    long interval_s;
    long timeout_s;
    const char *url;
    const char *min_duration;
    const char *application;
    const char *state;
};

static const char *str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

/* "1.2s", "3m04s", "2h05m" */
static const char *fmt_duration(double ms, char *buf, size_t size)
{
    double s = ms / 1000.0;

    if (s < 60.0) {
        snprintf(buf, size, "%.1fs", s);
    } else if (s < 3600.0) {
        snprintf(buf, size, "%dm%02ds", (int)(s / 60.0), (int)s % 60);
    } else {
        snprintf(buf, size, "%dh%02dm", (int)(s / 3600.0), ((int)s % 3600) / 60);
    }
    return buf;
}

/* The query text on one line, cut to width. */
static void print_query(const json_t *session, int width)
{
    const char *q = json_string_value(json_object_get(session, "query"));
    int n = 0;

    if (q == NULL) {
        printf("(hidden: admin token)\n");
        return;
    }
    for (; *q != '\0' && n < width; q++) {
        putchar(*q == '\n' || *q == '\r' || *q == '\t' ? ' ' : *q);
        n++;
    }
    putchar('\n');
}

static void print_session(const json_t *s, int depth, int query_width)
{
    char dur[32];
    char wait[96];
    char blocked[64] = "";
    json_t *by = json_object_get(s, "blocked_by");
    size_t used = 0;

    snprintf(wait, sizeof(wait), "%s%s%s", str(s, "wait_event_type"),
             str(s, "wait_event_type")[0] != '\0' ? ":" : "", str(s, "wait_event"));
    for (size_t i = 0; i < json_array_size(by) && used + 12 < sizeof(blocked); i++) {
        used += (size_t)snprintf(blocked + used, sizeof(blocked) - used, "%s%lld", i > 0 ? "," : "",
                                 (long long)json_integer_value(json_array_get(by, i)));
    }
    printf("%*s%-*lld %-18.18s %-12.12s %-20.20s %-22.22s %9s %-10.10s ", depth * 2, "",
           8 - depth * 2 > 1 ? 8 - depth * 2 : 1,
           (long long)json_integer_value(json_object_get(s, "pid")), str(s, "application_name"),
           str(s, "user"), str(s, "state"), wait,
           fmt_duration(json_number_value(json_object_get(s, "duration_ms")), dur, sizeof(dur)),
           blocked[0] != '\0' ? blocked : "-");
    print_query(s, query_width);
}

static void print_chain(const json_t *node, int depth, int query_width)
{
    json_t *blocks = json_object_get(node, "blocks");

    print_session(node, depth < 3 ? depth : 3, query_width);
    for (size_t i = 0; i < json_array_size(blocks); i++) {
        print_chain(json_array_get(blocks, i), depth + 1, query_width);
    }
}

static int terminal_width(void)
{
    const char *cols = getenv("COLUMNS");
    long w = cols != NULL ? strtol(cols, NULL, 10) : 0;
    return w >= 80 && w <= 1000 ? (int)w : 160;
}

static void print_table(const char *url, const json_t *doc)
{
    json_t *summary = json_object_get(doc, "summary");
    json_t *sessions = json_object_get(doc, "sessions");
    json_t *blocking = json_object_get(doc, "blocking");
    json_t *apps = json_object_get(summary, "by_application");
    int query_width = terminal_width() - 107;
    char dur[32];

    if (query_width < QUERY_WIDTH_MIN) {
        query_width = QUERY_WIDTH_MIN;
    }
    printf("tspool top - %s - sampled %s%s\n", url, str(doc, "sampled_at"),
           json_is_false(json_object_get(doc, "last_sample_ok")) ? " (last sample FAILED)" : "");
    printf("sessions %lld, blocked %lld, oldest transaction %s",
           (long long)json_integer_value(json_object_get(summary, "sessions")),
           (long long)json_integer_value(json_object_get(summary, "blocked")),
           fmt_duration(json_number_value(json_object_get(summary, "oldest_transaction_ms")), dur,
                        sizeof(dur)));
    if (json_integer_value(json_object_get(summary, "oldest_transaction_pid")) > 0) {
        printf(" (pid %lld)",
               (long long)json_integer_value(json_object_get(summary, "oldest_transaction_pid")));
    }
    printf("\napplications:");
    for (size_t i = 0; i < json_array_size(apps) && i < 8; i++) {
        json_t *a = json_array_get(apps, i);
        printf(" %s=%lld",
               str(a, "application_name")[0] != '\0' ? str(a, "application_name") : "(none)",
               (long long)json_integer_value(json_object_get(a, "connections")));
    }
    printf("\n\n");
    if (json_array_size(blocking) > 0) {
        printf("BLOCKING CHAINS (root first)\n");
        for (size_t i = 0; i < json_array_size(blocking); i++) {
            print_chain(json_array_get(blocking, i), 0, query_width);
        }
        printf("\n");
    }
    printf("%-8s %-18s %-12s %-20s %-22s %9s %-10s %s\n", "PID", "APPLICATION", "USER", "STATE",
           "WAIT", "DURATION", "BLOCKED_BY", "QUERY");
    for (size_t i = 0; i < json_array_size(sessions); i++) {
        print_session(json_array_get(sessions, i), 0, query_width);
    }
    if (json_array_size(sessions) == 0) {
        printf("(no sessions match)\n");
    }
}

/* "/server/activity?min_duration_ms=..&application=..&state=.." with the values escaped. */
static bool build_path(const struct top_options *o, char *out, size_t size)
{
    const char *names[] = {"min_duration_ms", "application", "state"};
    const char *values[] = {o->min_duration, o->application, o->state};
    size_t used = (size_t)snprintf(out, size, "/server/activity");
    char sep = '?';

    for (size_t i = 0; i < 3; i++) {
        char *esc = NULL;
        if (values[i] == NULL) {
            continue;
        }
        esc = curl_easy_escape(NULL, values[i], 0);
        if (esc == NULL) {
            return false;
        }
        used += (size_t)snprintf(out + used, used < size ? size - used : 0, "%c%s=%s", sep,
                                 names[i], esc);
        curl_free(esc);
        sep = '&';
    }
    return used < size;
}

/* One fetch and print. Returns 0, or 1 when the service could not be asked. */
static int show_once(const struct top_options *o, const char *url, const char *path, bool clear)
{
    struct tsp_error err;
    struct tsp_http_reply reply = {0, NULL, 0};
    json_t *doc = NULL;
    json_error_t jerr;
    int code = 1;

    tsp_error_init(&err);
    if (tsp_http_get(url, path, tsp_http_admin_first_token(), o->timeout_s * 1000, &reply, &err) !=
        TSP_OK) {
        fprintf(stderr, "tspool top: cannot reach the service: %s\n", err.detail);
        goto done;
    }
    doc = json_loadb(reply.body, reply.len, 0, &jerr);
    if (reply.status != 200) {
        const char *detail = json_string_value(json_object_get(doc, "detail"));
        fprintf(stderr, "tspool top: %s answered %ld: %s\n", url, reply.status,
                detail != NULL ? detail : reply.body);
        goto done;
    }
    if (doc == NULL) {
        fprintf(stderr, "tspool top: %s answered with invalid JSON: %s\n", url, jerr.text);
        goto done;
    }
    if (o->as_json) {
        printf("%s\n", reply.body);
    } else {
        if (clear) {
            printf("\033[H\033[2J"); /* home, clear screen */
        }
        print_table(url, doc);
    }
    fflush(stdout);
    code = 0;
done:
    json_decref(doc);
    tsp_http_reply_fini(&reply);
    return code;
}

static bool parse_seconds(const char *text, long *out)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);

    if (end == text || *end != '\0' || v < 1 || v > 3600) {
        return false;
    }
    *out = v;
    return true;
}

static bool state_known(const char *state)
{
    static const char *const states[] = {"active",
                                         "idle",
                                         "idle_in_transaction",
                                         "idle_in_transaction_aborted",
                                         "fastpath_function_call",
                                         "disabled"};

    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        if (strcmp(state, states[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Parse argv; returns -1 to go on, else the exit code (0 for --help, 2 for a bad option). */
static int parse_args(int argc, char **argv, struct top_options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--once") == 0) {
            o->once = true;
        } else if (strcmp(a, "--json") == 0) {
            o->as_json = true;
            o->once = true;
        } else if (strcmp(a, "--interval") == 0 && next != NULL &&
                   parse_seconds(next, &o->interval_s)) {
            i++;
        } else if (tsp_http_client_option(argc, argv, &i, &o->url, &o->timeout_s)) {
            continue;
        } else if (strcmp(a, "--min-duration") == 0 && next != NULL &&
                   strspn(next, "0123456789") == strlen(next) && next[0] != '\0') {
            o->min_duration = argv[++i];
        } else if (strcmp(a, "--application") == 0 && next != NULL) {
            o->application = argv[++i];
        } else if (strcmp(a, "--state") == 0 && next != NULL && state_known(next)) {
            o->state = argv[++i];
        } else {
            fprintf(stderr, "tspool top: unknown option or bad value: '%s%s%s'\n", a,
                    next != NULL && a[0] == '-' && next[0] != '-' ? " " : "",
                    next != NULL && a[0] == '-' && next[0] != '-' ? next : "");
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

int tsp_cli_top(int argc, char **argv)
{
    struct top_options o = {.interval_s = 2, .timeout_s = 10};
    char url[1024];
    char path[1024];
    struct timespec pause;
    int code = parse_args(argc, argv, &o);

    if (code >= 0) {
        return code;
    }
    tsp_http_default_url(o.url, url, sizeof(url));
    if (!build_path(&o, path, sizeof(path))) {
        fprintf(stderr, "tspool top: the filters are too long\n");
        return 2;
    }
    if (o.once) {
        return show_once(&o, url, path, false);
    }
    for (;;) {
        /* a failed refresh is shown and retried: the service may come back */
        (void)show_once(&o, url, path, isatty(STDOUT_FILENO) != 0);
        pause.tv_sec = o.interval_s;
        pause.tv_nsec = 0;
        nanosleep(&pause, NULL);
    }
}
