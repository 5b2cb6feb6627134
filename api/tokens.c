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

#include "tspool/log.h"

/* How often a request may make us stat the file. */
#define RECHECK_MS 1000
/* A token file larger than this is refused (the previous token stays). */
#define TOKEN_FILE_MAX 4096

struct token_slot {
    const char *name;             /* "TSPOOL_ADMIN_TOKEN" */
    const char *path;             /* the *_FILE path (watch's), NULL when not from a file */
    char *value;                  /* current token; NULL when unset */
    struct tsp_file_watch *watch; /* the *_FILE, NULL when the token did not come from one */
};

struct tsp_tokens {
    pthread_mutex_t lock; /* guards both slots */
    struct token_slot admin;
    struct token_slot read;
};

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
static void refresh(struct token_slot *slot)
{
    const char *why = NULL;
    char *fresh = NULL;

    /* a file that cannot be used is not retried (nor logged) until it changes again */
    if (slot->watch == NULL || !tsp_file_watch_changed(slot->watch)) {
        return;
    }
    fresh = read_token(slot->path, &why);
    if (fresh == NULL) {
        log_rotation(slot->name, slot->path, why);
        return;
    }
    if (slot->value == NULL || strcmp(fresh, slot->value) != 0) {
        log_rotation(slot->name, slot->path, "changed; the new token is in effect");
    }
    free(slot->value);
    slot->value = fresh;
}

static bool slot_init(struct token_slot *slot, const struct tsp_config *cfg, const char *name,
                      const char *value)
{
    const char *path = tsp_config_file_of(cfg, name);

    slot->name = name;
    if (value != NULL) {
        slot->value = strdup(value);
        if (slot->value == NULL) {
            return false;
        }
    }
    if (path != NULL) {
        /* the value in cfg was read from this file just now: its state is the baseline */
        slot->watch = tsp_file_watch_new(path, RECHECK_MS);
        if (slot->watch == NULL) {
            return false;
        }
        slot->path = tsp_file_watch_path(slot->watch);
    }
    return true;
}

static void slot_fini(struct token_slot *slot)
{
    tsp_file_watch_free(slot->watch);
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
    bool ok = true;

    *admin = NULL;
    *read = NULL;
    pthread_mutex_lock(&t->lock);
    refresh(&t->admin);
    refresh(&t->read);
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
