/* base/log.c - structured log lines: JSON (default) or text, RFC 3339 UTC millisecond timestamps,
 * escaping of quotes, backslashes, control characters and invalid UTF-8.
 * SPDX-License-Identifier: MIT
 */
#include "tspool/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tspool/clock.h"
#include "tspool/strbuf.h"

#define LOG_MSG_MAX  4096
#define LOG_LINE_MAX 16384

static atomic_int log_level = TSP_LOG_LEVEL_INFO;
static atomic_int log_format = TSP_LOG_FORMAT_JSON;
static FILE *log_out; /* NULL = stdout; set before threads start */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const level_upper[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void tsp_log_setup(enum tsp_log_level level, enum tsp_log_format format, FILE *out)
{
    atomic_store(&log_level, (int)level);
    atomic_store(&log_format, (int)format);
    log_out = out;
}

bool tsp_log_level_parse(const char *name, enum tsp_log_level *out)
{
    for (size_t i = 0; name != NULL && i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum tsp_log_level)i;
            return true;
        }
    }
    return false;
}

bool tsp_log_format_parse(const char *name, enum tsp_log_format *out)
{
    if (name != NULL && strcasecmp(name, "json") == 0) {
        *out = TSP_LOG_FORMAT_JSON;
        return true;
    }
    if (name != NULL && strcasecmp(name, "text") == 0) {
        *out = TSP_LOG_FORMAT_TEXT;
        return true;
    }
    return false;
}

bool tsp_log_enabled(enum tsp_log_level level)
{
    return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

char *tsp_log_timestamp(long long ms_since_epoch, char *buf, size_t bufsize)
{
    struct tm tm;
    time_t secs;
    size_t len;
    long long ms = ms_since_epoch;

    if (ms < 0) {
        ms = (long long)tsp_clock_real_ms();
    }
    secs = (time_t)(ms / 1000);
    gmtime_r(&secs, &tm);
    /* strftime + the milliseconds separately: a plain snprintf of every tm field makes GCC
     * warn (-Wformat-truncation) about years with more than four digits. */
    len = strftime(buf, bufsize, "%Y-%m-%dT%H:%M:%S", &tm);
    if (len == 0 || len + 6 > bufsize) {
        if (bufsize > 0) {
            buf[0] = '\0';
        }
        return buf;
    }
    snprintf(buf + len, bufsize - len, ".%03uZ", (unsigned)(ms % 1000) % 1000u);
    return buf;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when the bytes there are not one
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_sequence_length(const unsigned char *s)
{
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80) {
        return 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = s[0] & 0x1Fu;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = s[0] & 0x0Fu;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

/* JSON string body of s (no quotes); text mode uses the same escaping so a line stays one line. */
static void out_escaped(struct tsp_strbuf *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    char esc[8];

    while (*p != '\0') {
        size_t seq = utf8_sequence_length(p);
        if (seq == 0) {
            tsp_strbuf_puts(out, "\\ufffd");
            p++;
            continue;
        }
        if (seq > 1) {
            tsp_strbuf_append(out, (const char *)p, seq);
            p += seq;
            continue;
        }
        switch (*p) {
        case '"':
            tsp_strbuf_puts(out, "\\\"");
            break;
        case '\\':
            tsp_strbuf_puts(out, "\\\\");
            break;
        case '\n':
            tsp_strbuf_puts(out, "\\n");
            break;
        case '\r':
            tsp_strbuf_puts(out, "\\r");
            break;
        case '\t':
            tsp_strbuf_puts(out, "\\t");
            break;
        default:
            if (*p < 0x20 || *p == 0x7F) {
                snprintf(esc, sizeof(esc), "\\u%04x", *p);
                tsp_strbuf_puts(out, esc);
            } else {
                tsp_strbuf_append(out, (const char *)p, 1);
            }
            break;
        }
        p++;
    }
}

size_t tsp_log_escape_json(const char *s, char *out, size_t outsize)
{
    struct tsp_strbuf buf;

    if (outsize == 0) {
        return 0;
    }
    /* a fixed builder: an escape that does not fit whole ends the text */
    tsp_strbuf_init_fixed(&buf, out, outsize);
    out_escaped(&buf, s != NULL ? s : "");
    return buf.len;
}

static void json_str_field(struct tsp_strbuf *out, const char *key, const char *value)
{
    tsp_strbuf_puts(out, ",\"");
    out_escaped(out, key);
    tsp_strbuf_puts(out, "\":\"");
    out_escaped(out, value);
    tsp_strbuf_puts(out, "\"");
}

static void json_num_field(struct tsp_strbuf *out, const char *key, long long value)
{
    char num[32];

    snprintf(num, sizeof(num), "%lld", value);
    tsp_strbuf_puts(out, ",\"");
    out_escaped(out, key);
    tsp_strbuf_puts(out, "\":");
    tsp_strbuf_puts(out, num);
}

static void text_str_field(struct tsp_strbuf *out, const char *key, const char *value)
{
    tsp_strbuf_puts(out, " ");
    out_escaped(out, key);
    tsp_strbuf_puts(out, "=\"");
    out_escaped(out, value);
    tsp_strbuf_puts(out, "\"");
}

static void text_num_field(struct tsp_strbuf *out, const char *key, long long value)
{
    char num[32];

    snprintf(num, sizeof(num), "%lld", value);
    tsp_strbuf_puts(out, " ");
    out_escaped(out, key);
    tsp_strbuf_puts(out, "=");
    tsp_strbuf_puts(out, num);
}

static void format_line(struct tsp_strbuf *out, enum tsp_log_level level,
                        const struct tsp_log_ctx *ctx, const char *msg, bool json)
{
    char ts[32];
    void (*str_field)(struct tsp_strbuf *, const char *, const char *) =
        json ? json_str_field : text_str_field;
    void (*num_field)(struct tsp_strbuf *, const char *, long long) =
        json ? json_num_field : text_num_field;

    tsp_log_timestamp(-1, ts, sizeof(ts));
    if (json) {
        tsp_strbuf_puts(out, "{\"ts\":\"");
        tsp_strbuf_puts(out, ts);
        tsp_strbuf_puts(out, "\",\"level\":\"");
        tsp_strbuf_puts(out, level_names[level]);
        tsp_strbuf_puts(out, "\"");
        json_str_field(out, "msg", msg);
    } else {
        tsp_strbuf_puts(out, ts);
        tsp_strbuf_puts(out, " ");
        tsp_strbuf_puts(out, level_upper[level]);
        tsp_strbuf_puts(out, " ");
        out_escaped(out, msg);
    }
    if (ctx != NULL) {
        if (ctx->event != NULL) {
            str_field(out, "event", ctx->event);
        }
        if (ctx->request_id != NULL) {
            str_field(out, "request_id", ctx->request_id);
        }
        if (ctx->conn_id >= 0) {
            num_field(out, "conn_id", ctx->conn_id);
        }
        if (ctx->label != NULL) {
            str_field(out, "label", ctx->label);
        }
        for (size_t i = 0; i < ctx->nfields && ctx->fields != NULL; i++) {
            const struct tsp_log_field *f = &ctx->fields[i];
            if (f->key == NULL) {
                continue;
            }
            if (f->str != NULL) {
                str_field(out, f->key, f->str);
            } else {
                num_field(out, f->key, f->num);
            }
        }
    }
    if (json) {
        tsp_strbuf_puts(out, "}");
    }
}

void tsp_log_write(enum tsp_log_level level, const struct tsp_log_ctx *ctx, const char *fmt, ...)
{
    char msg[LOG_MSG_MAX];
    char line[LOG_LINE_MAX];
    struct tsp_strbuf out;
    bool json = atomic_load_explicit(&log_format, memory_order_relaxed) == TSP_LOG_FORMAT_JSON;
    FILE *stream = log_out != NULL ? log_out : stdout;
    va_list ap;

    if ((int)level < 0 || (int)level > TSP_LOG_LEVEL_DEBUG) {
        level = TSP_LOG_LEVEL_ERROR;
    }
    tsp_strbuf_init_fixed(&out, line, sizeof(line) - 1); /* one byte kept for the newline */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    format_line(&out, level, ctx, msg, json);
    if (json && (out.len == 0 || line[out.len - 1] != '}')) {
        /* truncated: still emit valid JSON, with the message cut instead */
        tsp_strbuf_init_fixed(&out, line, sizeof(line) - 1);
        msg[256] = '\0';
        format_line(&out, level, NULL, msg, json);
    }
    line[out.len++] = '\n';
    pthread_mutex_lock(&log_lock);
    fwrite(line, 1, out.len, stream);
    fflush(stream);
    pthread_mutex_unlock(&log_lock);
}
