/* base/strbuf.c - the string builder behind SQL text, the Prometheus exposition, .env values
 * and log lines: all-or-nothing appends, doubling growth, a sticky failure.
 * SPDX-License-Identifier: MIT
 */
#include "tspool/strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRBUF_FIRST_CAP 64

void tsp_strbuf_init_fixed(struct tsp_strbuf *sb, char *buf, size_t size)
{
    memset(sb, 0, sizeof(*sb));
    sb->data = buf;
    sb->cap = size;
    sb->fixed = true;
    if (size > 0) {
        buf[0] = '\0';
    } else {
        sb->failed = true;
    }
}

void tsp_strbuf_fini(struct tsp_strbuf *sb)
{
    if (sb == NULL) {
        return;
    }
    if (!sb->fixed) {
        free(sb->data);
        memset(sb, 0, sizeof(*sb));
        return;
    }
    tsp_strbuf_reset(sb);
}

void tsp_strbuf_reset(struct tsp_strbuf *sb)
{
    sb->len = 0;
    sb->failed = sb->fixed && sb->cap == 0;
    if (sb->data != NULL && sb->cap > 0) {
        sb->data[0] = '\0';
    }
}

/* Make room for `more` bytes of text plus the NUL; false (and failed) when impossible. */
static bool reserve(struct tsp_strbuf *sb, size_t more)
{
    size_t need = 0;
    size_t cap = 0;
    char *grown = NULL;

    if (sb->failed) {
        return false;
    }
    if (more > SIZE_MAX - sb->len - 1) {
        sb->failed = true;
        return false;
    }
    need = sb->len + more + 1;
    if (need <= sb->cap) {
        return true;
    }
    if (sb->fixed) {
        sb->failed = true;
        return false;
    }
    cap = sb->cap == 0 ? STRBUF_FIRST_CAP : sb->cap;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    grown = realloc(sb->data, cap);
    if (grown == NULL) {
        sb->failed = true;
        return false;
    }
    sb->data = grown;
    sb->cap = cap;
    return true;
}

bool tsp_strbuf_append(struct tsp_strbuf *sb, const char *s, size_t n)
{
    if (!reserve(sb, n)) {
        return false;
    }
    if (n > 0) {
        memcpy(sb->data + sb->len, s, n);
    }
    sb->len += n;
    sb->data[sb->len] = '\0';
    return true;
}

bool tsp_strbuf_putc(struct tsp_strbuf *sb, char c)
{
    return tsp_strbuf_append(sb, &c, 1);
}

bool tsp_strbuf_puts(struct tsp_strbuf *sb, const char *s)
{
    return tsp_strbuf_append(sb, s, strlen(s));
}

bool tsp_strbuf_vprintf(struct tsp_strbuf *sb, const char *fmt, va_list ap)
{
    va_list again;
    int n = 0;

    if (sb->failed) {
        return false;
    }
    va_copy(again, ap);
    n = vsnprintf(NULL, 0, fmt, again);
    va_end(again);
    if (n < 0 || !reserve(sb, (size_t)n)) {
        sb->failed = true;
        return false;
    }
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
    return true;
}

bool tsp_strbuf_printf(struct tsp_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    bool ok = false;

    va_start(ap, fmt);
    ok = tsp_strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
    return ok;
}

char *tsp_strbuf_take(struct tsp_strbuf *sb, size_t *len)
{
    char *text = NULL;

    if (sb->fixed) {
        return NULL;
    }
    if (sb->data == NULL) {
        (void)tsp_strbuf_append(sb, "", 0); /* "" rather than NULL for an empty text */
    }
    if (!sb->failed) {
        text = sb->data;
        sb->data = NULL;
        if (len != NULL) {
            *len = sb->len;
        }
    }
    tsp_strbuf_fini(sb);
    return text;
}
