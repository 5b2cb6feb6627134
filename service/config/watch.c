/* config/watch.c - files that change under a running service: a Kubernetes Secret or a
 * cert-manager certificate is updated by swapping a symlink, so a watched file is compared by
 * identity (device, inode, size, modification time), at most once per interval.
 * SPDX-License-Identifier: MIT
 */
#include "config_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tspool/clock.h"

struct tsp_file_watch {
    char *path;
    long interval_ms;
    struct stat seen;   /* identity at the last change reported (zeroed: none) */
    int64_t checked_ms; /* monotonic ms of the last stat */
};

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

struct tsp_file_watch *tsp_file_watch_new(const char *path, long interval_ms)
{
    struct tsp_file_watch *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        return NULL;
    }
    w->path = strdup(path);
    if (w->path == NULL) {
        free(w);
        return NULL;
    }
    w->interval_ms = interval_ms;
    if (stat(path, &w->seen) != 0) {
        memset(&w->seen, 0, sizeof(w->seen));
    }
    w->checked_ms = tsp_clock_mono_ms();
    return w;
}

void tsp_file_watch_free(struct tsp_file_watch *w)
{
    if (w == NULL) {
        return;
    }
    free(w->path);
    free(w);
}

const char *tsp_file_watch_path(const struct tsp_file_watch *w)
{
    return w->path;
}

bool tsp_file_watch_changed(struct tsp_file_watch *w)
{
    int64_t now = tsp_clock_mono_ms();
    struct stat st;

    if (now - w->checked_ms < w->interval_ms) {
        return false;
    }
    w->checked_ms = now;
    /* a file that vanished is not a change: Kubernetes swaps the link, never leaves a gap
     * a reader would need to act on, and the old content stays in use */
    if (stat(w->path, &st) != 0 || same_file(&st, &w->seen)) {
        return false;
    }
    w->seen = st;
    return true;
}

enum tsp_code tsp_config_read_secret(const char *name, const char *path, char **out,
                                     struct tsp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int e = tsp_config_read_file(path, &text, &len);
    enum tsp_code rc = TSP_OK;

    if (e != 0) {
        rc = tsp_error_set(err, e == ENOMEM ? TSP_NO_MEMORY : TSP_IO, name,
                           "%s_FILE: cannot read \"%s\": %s", name, path, strerror(e));
        goto done;
    }
    if (len > 0 && text[len - 1] == '\n') {
        text[--len] = '\0';
        if (len > 0 && text[len - 1] == '\r') {
            text[--len] = '\0';
        }
    }
    if (len == 0) {
        rc = tsp_error_set(err, TSP_INVALID, name, "%s_FILE: file \"%s\" is empty", name, path);
        goto done;
    }
    if (strlen(text) != len) {
        rc = tsp_error_set(err, TSP_INVALID, name, "%s_FILE: file \"%s\" contains a NUL byte", name,
                           path);
        goto done;
    }
    *out = text;
    text = NULL;
done:
    free(text);
    return rc;
}

const char *tsp_config_file_of(const struct tsp_config *cfg, const char *name)
{
    size_t n = tsp_config_var_count();

    for (size_t i = 0; i < n; i++) {
        const struct tsp_config_origin *origin = NULL;
        if (strcmp(tsp_config_var_at(i)->name, name) != 0) {
            continue;
        }
        origin = tsp_config_origin_at(cfg, i);
        if (origin != NULL && origin->source == TSP_CONFIG_SRC_FILE && origin->where[0] != '\0') {
            return origin->where;
        }
    }
    return NULL;
}
