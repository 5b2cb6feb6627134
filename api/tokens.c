/* api/tokens.c - bearer tokens that follow their *_FILE: a token read from TSPOOL_ADMIN_TOKEN_FILE
 * or TSPOOL_READ_TOKEN_FILE is re-read when the file changes (Kubernetes Secret rotation),
 * at most once a second, without a restart.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tspool/clock.h"
#include "tspool/log.h"

/* How often a request may make us stat the file. */
#define RECHECK_MS 1000
/* A token file larger than this is refused (the previous token stays). */
#define TOKEN_FILE_MAX 4096

struct token_slot {
    const char *name;   /* "TSPOOL_ADMIN_TOKEN" */
    char *path;         /* the *_FILE path, or NULL when the token did not come from a file */
    char *value;        /* current token; NULL when unset */
    struct stat seen;   /* identity of the file the value was read from */
    int64_t checked_ms; /* last stat */
};

struct tsp_tokens {
    pthread_mutex_t lock; /* guards both slots */
    struct token_slot admin;
    struct token_slot read;
};

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void log_rotation(const char *name, const char *path, const char *what)
{
    struct tsp_log_field fields[2] = {{.key = "variable", .str = name},
                                      {.key = "file", .str = path}};
    struct tsp_log_ctx ctx = {
        .event = "auth.token_file", .conn_id = -1, .fields = fields, .nfields = 2};

    TSP_LOG_WARN(&ctx, "%s_FILE %s: %s", name, path, what);
}

/* Read the token file by the rules of the configuration loader: one trailing newline (CRLF
 * too) removed, not empty, no NUL byte. Returns a malloc'd token or NULL (why in *why). */
static char *read_token(const char *path, const char **why)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;

    if (f == NULL) {
        *why = "cannot be read; keeping the previous token";
        return NULL;
    }
    buf = malloc(TOKEN_FILE_MAX + 2);
    if (buf != NULL) {
        len = fread(buf, 1, TOKEN_FILE_MAX + 1, f);
    }
    fclose(f);
    if (buf == NULL) {
        *why = "out of memory; keeping the previous token";
        return NULL;
    }
    buf[len] = '\0';
    if (len > TOKEN_FILE_MAX) {
        *why = "is larger than 4096 bytes; keeping the previous token";
        free(buf);
        return NULL;
    }
    if (len > 0 && buf[len - 1] == '\n') {
        buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '\r') {
            buf[--len] = '\0';
        }
    }
    if (len == 0 || strlen(buf) != len) {
        *why = "is empty or contains a NUL byte; keeping the previous token";
        free(buf);
        return NULL;
    }
    return buf;
}

/* Re-read the slot's file when it changed. Lock held. */
static void refresh(struct token_slot *slot, int64_t now)
{
    struct stat st;
    const char *why = NULL;
    char *fresh = NULL;

    if (slot->path == NULL || now - slot->checked_ms < RECHECK_MS) {
        return;
    }
    slot->checked_ms = now;
    if (stat(slot->path, &st) != 0 || same_file(&st, &slot->seen)) {
        return;
    }
    fresh = read_token(slot->path, &why);
    if (fresh == NULL) {
        log_rotation(slot->name, slot->path, why);
        slot->seen = st; /* do not retry (and log) until it changes again */
        return;
    }
    if (slot->value == NULL || strcmp(fresh, slot->value) != 0) {
        log_rotation(slot->name, slot->path, "changed; the new token is in effect");
    }
    free(slot->value);
    slot->value = fresh;
    slot->seen = st;
}

static bool slot_init(struct token_slot *slot, const struct tsp_config *cfg, const char *name,
                      const char *value)
{
    size_t n = tsp_config_var_count();

    slot->name = name;
    if (value != NULL) {
        slot->value = strdup(value);
        if (slot->value == NULL) {
            return false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct tsp_config_origin *origin = NULL;
        if (strcmp(tsp_config_var_at(i)->name, name) != 0) {
            continue;
        }
        origin = tsp_config_origin_at(cfg, i);
        if (origin != NULL && origin->source == TSP_CONFIG_SRC_FILE && origin->where[0] != '\0') {
            slot->path = strdup(origin->where);
            if (slot->path == NULL) {
                return false;
            }
            /* the value in cfg was read from this file just now */
            if (stat(slot->path, &slot->seen) != 0) {
                memset(&slot->seen, 0, sizeof(slot->seen));
            }
            slot->checked_ms = tsp_clock_mono_ms();
        }
    }
    return true;
}

static void slot_fini(struct token_slot *slot)
{
    free(slot->path);
    free(slot->value);
}

struct tsp_tokens *tsp_tokens_new(const struct tsp_config *cfg)
{
    struct tsp_tokens *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    if (!slot_init(&t->admin, cfg, "TSPOOL_ADMIN_TOKEN", cfg->admin_token) ||
        !slot_init(&t->read, cfg, "TSPOOL_READ_TOKEN", cfg->read_token)) {
        tsp_tokens_free(t);
        return NULL;
    }
    return t;
}

void tsp_tokens_free(struct tsp_tokens *t)
{
    if (t == NULL) {
        return;
    }
    slot_fini(&t->admin);
    slot_fini(&t->read);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

bool tsp_tokens_get(struct tsp_tokens *t, char **admin, char **read)
{
    int64_t now = tsp_clock_mono_ms();
    bool ok = true;

    *admin = NULL;
    *read = NULL;
    pthread_mutex_lock(&t->lock);
    refresh(&t->admin, now);
    refresh(&t->read, now);
    if (t->admin.value != NULL) {
        *admin = strdup(t->admin.value);
        ok = *admin != NULL;
    }
    if (ok && t->read.value != NULL) {
        *read = strdup(t->read.value);
        ok = *read != NULL;
    }
    pthread_mutex_unlock(&t->lock);
    if (!ok) {
        free(*admin);
        free(*read);
        *admin = NULL;
        *read = NULL;
    }
    return ok;
}
