/* cli/apply.c - `tspool apply FILE [--dry-run] [--prune] [--url URL]`: make the TimescaleDB
 * hypertables and continuous aggregates of a running service match a desired-state document,
 * through the HTTP API: read the current state, print each difference, apply only those.
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_int.h"
#include "http_client_int.h"
#include "tspool/cli.h"

struct session {
    char url[512];
    const char *token;
    long timeout_ms;
    bool dry_run;
    bool prune;
    int changes;  /* differences found */
    int applied;  /* differences applied */
    int failures; /* differences or objects that failed */
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: tspool apply FILE [--dry-run] [--prune] [--url URL] [--timeout S]\n"
        "\n"
        "Make the TimescaleDB hypertables and continuous aggregates of a running tspool match\n"
        "FILE (JSON or YAML; schema: desired-state.schema.json). Prints each difference as one\n"
        "line and applies only those; keys the file leaves out are left as they are.\n"
        "\n"
        "  --dry-run    print the differences, change nothing\n"
        "  --prune      also remove policies of the listed hypertables and aggregates of\n"
        "               them that the file does not mention (never a hypertable)\n"
        "  --url URL    the service (default: TSPOOL_URL, else from TSPOOL_LISTEN, else\n"
        "               http://127.0.0.1:8080)\n"
        "  --timeout S  seconds per request (default 60)\n"
        "\n"
        "Sends TSPOOL_ADMIN_TOKEN (or the file TSPOOL_ADMIN_TOKEN_FILE names).\n"
        "Exit: 0 applied or no changes, 2 --dry-run found changes (or a usage error),\n"
        "1 an error (the invalid line of FILE, or each object that failed).\n");
}

/* One request; *reply (may be NULL) receives the parsed JSON answer (NULL when not JSON). */
static enum tsp_code call(struct session *s, const char *method, const char *path,
                          const json_t *body, long *status, json_t **reply, struct tsp_error *err)
{
    struct tsp_http_reply r = {0, NULL, 0};
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    enum tsp_code rc;

    if (body != NULL && text == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    rc = tsp_http_request(method, s->url, path, s->token, text, s->timeout_ms, &r, err);
    free(text);
    if (rc != TSP_OK) {
        return rc;
    }
    *status = r.status;
    if (reply != NULL) {
        *reply = json_loadb(r.body, r.len, 0, NULL);
    }
    tsp_http_reply_fini(&r);
    return TSP_OK;
}

/* "409 Change in progress: another change ..." from a problem document. */
static void problem_line(long status, const json_t *reply, char *out, size_t size)
{
    const char *title = json_string_value(json_object_get(reply, "title"));
    const char *detail = json_string_value(json_object_get(reply, "detail"));

    snprintf(out, size, "%ld %s%s%s", status, title != NULL ? title : "error",
             detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

/* Print a difference and, unless this is a dry run, apply it. False when it failed. */
static bool change(struct session *s, const char *object, const char *what, const char *method,
                   const char *path, const json_t *body)
{
    struct tsp_error err;
    json_t *reply = NULL;
    long status = 0;
    char why[600];

    s->changes++;
    printf("%s: %s\n", object, what);
    if (s->dry_run) {
        return true;
    }
    tsp_error_init(&err);
    if (call(s, method, path, body, &status, &reply, &err) != TSP_OK) {
        snprintf(why, sizeof(why), "%s", err.detail);
    } else if (status >= 200 && status < 300) {
        json_decref(reply);
        s->applied++;
        return true;
    } else {
        problem_line(status, reply, why, sizeof(why));
    }
    json_decref(reply);
    s->failures++;
    fprintf(stderr, "%s: %s: FAILED: %s\n", object, what, why);
    return false;
}

/* GET path: TSP_OK with *out (200), TSP_NOT_FOUND (404), else an error naming the object. */
static enum tsp_code fetch(struct session *s, const char *object, const char *path, json_t **out)
{
    struct tsp_error err;
    json_t *reply = NULL;
    long status = 0;
    char why[600];

    tsp_error_init(&err);
    *out = NULL;
    if (call(s, "GET", path, NULL, &status, &reply, &err) != TSP_OK) {
        fprintf(stderr, "%s: cannot read the current state: %s\n", object, err.detail);
        return err.code;
    }
    if (status == 200 && reply != NULL) {
        *out = reply;
        return TSP_OK;
    }
    if (status == 404) {
        json_decref(reply);
        return TSP_NOT_FOUND;
    }
    problem_line(status, reply, why, sizeof(why));
    fprintf(stderr, "%s: cannot read the current state: %s\n", object, why);
    json_decref(reply);
    return TSP_DB_ERROR;
}

/* The current policy of `kind` in a hypertable document, or NULL. */
static const json_t *policy_of(const json_t *table, const char *kind)
{
    const json_t *p = NULL;
    size_t i;

    json_array_foreach(json_object_get(table, "policies"), i, p)
    {
        const char *k = json_string_value(json_object_get(p, "kind"));
        if (k != NULL && strcmp(k, kind) == 0) {
            return p;
        }
    }
    return NULL;
}

/* Short text of a value for the difference lines. */
static void text_of(const json_t *v, char *out, size_t size)
{
    char *dump = NULL;

    if (v == NULL || json_is_null(v)) {
        snprintf(out, size, "none");
        return;
    }
    if (json_is_string(v)) {
        snprintf(out, size, "%s", json_string_value(v));
        return;
    }
    dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out, size, "%s", dump != NULL ? dump : "?");
    free(dump);
}

/* Does the current policy match every key the desired body gives? */
static bool policy_matches(const json_t *desired, const json_t *current)
{
    const char *key = NULL;
    json_t *want = NULL;

    if (current == NULL) {
        return false;
    }
    json_object_foreach((json_t *)(uintptr_t)desired, key, want)
    {
        const json_t *have = json_object_get(current, key);
        if (strcmp(key, "index_name") == 0) {
            if (!json_equal(want, (json_t *)(uintptr_t)have)) {
                return false;
            }
        } else if (!tsp_apply_same_interval(want, have)) {
            return false;
        }
    }
    return true;
}

/* One policy (compression_policy, retention_policy, reorder_policy) of hypertable `name`. */
static void apply_policy(struct session *s, const char *object, const char *name,
                         const json_t *want, const json_t *table, const char *key, const char *kind,
                         const char *route)
{
    const json_t *have = table != NULL ? policy_of(table, kind) : NULL;
    char path[512];
    char line[1024];
    char was[256];
    char now[256];

    snprintf(path, sizeof(path), "/hypertables/%s/%s", name, route);
    if (want == NULL) {
        if (s->prune && have != NULL) {
            text_of(have, was, sizeof(was));
            snprintf(line, sizeof(line), "remove %s %s (--prune)", key, was);
            (void)change(s, object, line, "DELETE", path, NULL);
        }
        return;
    }
    if (policy_matches(want, have)) {
        return;
    }
    if (have != NULL) {
        /* the current values of the keys the file gives, not the whole job */
        json_t *shown = json_object();
        const char *k = NULL;
        json_t *v = NULL;
        json_object_foreach((json_t *)(uintptr_t)want, k, v)
        {
            (void)v;
            json_object_set(shown, k, json_object_get(have, k));
        }
        text_of(shown, was, sizeof(was));
        json_decref(shown);
    } else {
        text_of(have, was, sizeof(was));
    }
    text_of(want, now, sizeof(now));
    snprintf(line, sizeof(line), "%s %s -> %s", key, was, now);
    (void)change(s, object, line, "PUT", path, want);
}

/* Are the compression settings of `table` those the desired body gives? */
static bool compression_matches(const json_t *want, const json_t *table)
{
    const json_t *settings = json_object_get(table, "compression_settings");
    static const char *const keys[] = {"segment_by", "order_by"};

    if (!json_is_true(json_object_get(table, "compression_enabled"))) {
        return false;
    }
    for (size_t k = 0; k < 2; k++) {
        const json_t *w = json_object_get(want, keys[k]);
        const json_t *h = json_object_get(settings, keys[k]);
        const json_t *item = NULL;
        size_t i;
        if (w == NULL) {
            continue;
        }
        if (json_array_size(w) != json_array_size(h)) {
            return false;
        }
        json_array_foreach(w, i, item)
        {
            char a[300];
            char b[300];
            const char *have = json_string_value(json_array_get(h, i));
            if (k == 1) {
                tsp_apply_order_item(json_string_value(item), a, sizeof(a));
                tsp_apply_order_item(have, b, sizeof(b));
            } else {
                snprintf(a, sizeof(a), "%s", json_string_value(item));
                snprintf(b, sizeof(b), "%s", have != NULL ? have : "");
            }
            if (strcmp(a, b) != 0) {
                return false;
            }
        }
    }
    return true;
}

static void apply_hypertable(struct session *s, const json_t *want)
{
    const char *name = json_string_value(json_object_get(want, "name"));
    const json_t *interval = json_object_get(want, "chunk_interval");
    const json_t *compression = json_object_get(want, "compression");
    json_t *table = NULL;
    char object[128];
    char path[512];
    char line[1024];
    char was[128];
    char now[128];
    int failures = s->failures;
    enum tsp_code rc;

    snprintf(object, sizeof(object), "hypertable %s", name);
    snprintf(path, sizeof(path), "/hypertables/%s", name);
    rc = fetch(s, object, path, &table);
    if (rc == TSP_NOT_FOUND) {
        json_t *body = json_pack("{s:s, s:O?, s:O?}", "name", name, "time_column",
                                 json_object_get(want, "time_column"), "chunk_interval", interval);
        if (json_object_get(want, "time_column") == NULL || body == NULL) {
            fprintf(stderr, "%s: does not exist, and time_column is needed to create it\n", object);
            s->failures++;
            json_decref(body);
            return;
        }
        text_of(interval, now, sizeof(now));
        snprintf(line, sizeof(line), "create (time_column %s, chunk_interval %s)",
                 json_string_value(json_object_get(want, "time_column")),
                 interval != NULL ? now : "default");
        bool ok = change(s, object, line, "POST", "/hypertables", body);
        json_decref(body);
        if (!ok) {
            return;
        }
        interval = NULL; /* set by the creation */
        if (!s->dry_run && fetch(s, object, path, &table) != TSP_OK) {
            s->failures++;
            return;
        }
    } else if (rc != TSP_OK) {
        s->failures++;
        return;
    }
    if (interval != NULL &&
        !tsp_apply_same_interval(interval, json_object_get(table, "chunk_interval"))) {
        json_t *body = json_pack("{s:O}", "chunk_interval", interval);
        text_of(json_object_get(table, "chunk_interval"), was, sizeof(was));
        text_of(interval, now, sizeof(now));
        snprintf(line, sizeof(line), "chunk_interval %s -> %s", was, now);
        (void)change(s, object, line, "PATCH", path, body);
        json_decref(body);
    }
    if (compression != NULL && (table == NULL || !compression_matches(compression, table))) {
        char settings[256];
        text_of(compression, settings, sizeof(settings));
        snprintf(line, sizeof(line), "compression %s", settings);
        snprintf(path, sizeof(path), "/hypertables/%s/compression", name);
        (void)change(s, object, line, "PUT", path, compression);
    }
    apply_policy(s, object, name, json_object_get(want, "compression_policy"), table,
                 "compression_policy", "compression", "compression-policy");
    apply_policy(s, object, name, json_object_get(want, "retention_policy"), table,
                 "retention_policy", "retention", "retention-policy");
    apply_policy(s, object, name, json_object_get(want, "reorder_policy"), table, "reorder_policy",
                 "reorder", "reorder-policy");
    if (s->failures > failures) {
        fprintf(stderr, "%s: %d change(s) failed\n", object, s->failures - failures);
    }
    json_decref(table);
}

static bool refresh_policy_matches(const json_t *want, const json_t *have)
{
    static const char *const keys[] = {"start_offset", "end_offset", "schedule_interval"};

    if (have == NULL || json_is_null(have)) {
        return false;
    }
    for (size_t i = 0; i < 3; i++) {
        const json_t *w = json_object_get(want, keys[i]);
        if ((w != NULL || i < 2) && !tsp_apply_same_interval(w, json_object_get(have, keys[i]))) {
            return false;
        }
    }
    return true;
}

static void apply_aggregate(struct session *s, const json_t *want)
{
    const char *name = json_string_value(json_object_get(want, "name"));
    const json_t *policy = json_object_get(want, "policy");
    json_t *agg = NULL;
    json_t *body = NULL;
    char object[128];
    char path[512];
    char line[1024];
    char now[256];
    int failures = s->failures;
    enum tsp_code rc;

    snprintf(object, sizeof(object), "aggregate %s", name);
    snprintf(path, sizeof(path), "/aggregates/%s", name);
    rc = fetch(s, object, path, &agg);
    if (rc == TSP_NOT_FOUND) {
        body = json_deep_copy(want);
        if (body == NULL) {
            s->failures++;
            return;
        }
        json_object_del(body, "policy");
        snprintf(line, sizeof(line), "create (over %s, bucket %s)",
                 json_string_value(json_object_get(want, "hypertable")),
                 json_string_value(json_object_get(want, "bucket")));
        bool ok = change(s, object, line, "POST", "/aggregates", body);
        json_decref(body);
        if (!ok) {
            return;
        }
    } else if (rc != TSP_OK) {
        s->failures++;
        return;
    }
    snprintf(path, sizeof(path), "/aggregates/%s/policy", name);
    const json_t *have = agg != NULL ? json_object_get(agg, "refresh_policy") : NULL;
    if (policy != NULL && !refresh_policy_matches(policy, have)) {
        char was[256];
        text_of(have, was, sizeof(was));
        text_of(policy, now, sizeof(now));
        snprintf(line, sizeof(line), "policy %s -> %s", was, now);
        (void)change(s, object, line, "PUT", path, policy);
    } else if (policy == NULL && s->prune && have != NULL && !json_is_null(have)) {
        (void)change(s, object, "remove policy (--prune)", "DELETE", path, NULL);
    }
    if (s->failures > failures) {
        fprintf(stderr, "%s: %d change(s) failed\n", object, s->failures - failures);
    }
    json_decref(agg);
}

/* Does `name` (name or schema.name) in the file mean schema.rel? */
static bool names_match(const char *name, const char *schema, const char *rel)
{
    char qualified[256];

    snprintf(qualified, sizeof(qualified), "%s.%s", schema, rel);
    return strcmp(name, qualified) == 0 || (strchr(name, '.') == NULL && strcmp(name, rel) == 0);
}

static bool listed(const json_t *list, const char *schema, const char *rel)
{
    const json_t *item = NULL;
    size_t i;

    json_array_foreach(list, i, item)
    {
        const char *n = json_string_value(json_object_get(item, "name"));
        if (n != NULL && names_match(n, schema, rel)) {
            return true;
        }
    }
    return false;
}

/* --prune: the aggregates over the file's hypertables that the file does not list. */
static void prune_aggregates(struct session *s, const json_t *doc)
{
    const json_t *tables = json_object_get(doc, "hypertables");
    const json_t *wanted = json_object_get(doc, "aggregates");
    json_t *all = NULL;
    const json_t *agg = NULL;
    size_t i;

    if (fetch(s, "aggregates", "/aggregates", &all) != TSP_OK) {
        s->failures++;
        return;
    }
    json_array_foreach(json_object_get(all, "aggregates"), i, agg)
    {
        const char *schema = json_string_value(json_object_get(agg, "schema"));
        const char *rel = json_string_value(json_object_get(agg, "name"));
        const char *hs = json_string_value(json_object_get(agg, "hypertable_schema"));
        const char *hn = json_string_value(json_object_get(agg, "hypertable"));
        char object[160];
        char path[300];
        if (schema == NULL || rel == NULL || hs == NULL || hn == NULL || !listed(tables, hs, hn) ||
            listed(wanted, schema, rel)) {
            continue;
        }
        snprintf(object, sizeof(object), "aggregate %s.%s", schema, rel);
        snprintf(path, sizeof(path), "/aggregates/%s.%s", schema, rel);
        (void)change(s, object, "drop (not in the file; --prune)", "DELETE", path, NULL);
    }
    json_decref(all);
}

int tsp_cli_apply(int argc, char **argv)
{
    struct session s;
    struct tsp_apply_doc doc = {NULL, NULL};
    struct tsp_error err;
    const char *file = NULL;
    const char *url = NULL;
    long timeout_s = 60;
    const json_t *item = NULL;
    size_t i;
    int status = 1;

    memset(&s, 0, sizeof(s));
    tsp_error_init(&err);
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[a], "--dry-run") == 0) {
            s.dry_run = true;
        } else if (strcmp(argv[a], "--prune") == 0) {
            s.prune = true;
        } else if (tsp_http_client_option(argc, argv, &a, &url, &timeout_s)) {
            continue;
        } else if (argv[a][0] == '-' || file != NULL) {
            fprintf(stderr, "tspool apply: unexpected argument '%s'\n", argv[a]);
            usage(stderr);
            return 2;
        } else {
            file = argv[a];
        }
    }
    if (file == NULL) {
        fprintf(stderr, "tspool apply: FILE is required\n");
        usage(stderr);
        return 2;
    }
    tsp_http_default_url(url, s.url, sizeof(s.url));
    s.token = tsp_http_admin_token();
    s.timeout_ms = timeout_s * 1000;
    if (tsp_apply_doc_load(file, &doc, &err) != TSP_OK ||
        tsp_apply_doc_validate(&doc, file, &err) != TSP_OK) {
        fprintf(stderr, "tspool apply: %s\n", err.detail);
        goto done;
    }
    json_array_foreach(json_object_get(doc.root, "hypertables"), i, item)
    {
        apply_hypertable(&s, item);
    }
    json_array_foreach(json_object_get(doc.root, "aggregates"), i, item)
    {
        apply_aggregate(&s, item);
    }
    if (s.prune) {
        prune_aggregates(&s, doc.root);
    }
    if (s.changes == 0 && s.failures == 0) {
        printf("no changes\n");
        status = 0;
    } else if (s.failures > 0) {
        fprintf(stderr, "tspool apply: %d change(s) applied, %d failed\n", s.applied, s.failures);
        status = 1;
    } else if (s.dry_run) {
        printf("%d change(s) to apply (dry run: nothing changed)\n", s.changes);
        status = 2;
    } else {
        printf("%d change(s) applied\n", s.applied);
        status = 0;
    }
done:
    tsp_apply_doc_fini(&doc);
    return status;
}
