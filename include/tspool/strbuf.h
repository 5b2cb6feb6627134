/* strbuf.h - the one string builder: a NUL-terminated text that grows on the heap, or fills a
 * caller's fixed buffer; a failure (out of memory, a full fixed buffer) sticks.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_STRBUF_H
#define TSPOOL_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "tspool/error.h"

/* Zero-initialised ({0}) it is an empty growable builder. Not thread-safe: one owner. */
struct tsp_strbuf {
    char *data;  /* NUL-terminated text of len bytes; NULL while nothing was added (growable) */
    size_t len;  /* bytes of text, the NUL not counted */
    size_t cap;  /* bytes at data, the NUL included */
    bool fixed;  /* data is the caller's buffer: never grown nor freed */
    bool failed; /* an append did not fit or could not allocate; every later append is refused */
};

/* An empty builder over the caller's buffer of `size` bytes (the NUL included; size > 0). It
 * never allocates: an append that does not fit whole is refused and marks the builder failed,
 * so the text never ends in half an append. */
void tsp_strbuf_init_fixed(struct tsp_strbuf *sb, char *buf, size_t size);

/* Release a growable builder's text (a fixed one keeps its buffer) and make it empty again.
 * NULL is a no-op. */
void tsp_strbuf_fini(struct tsp_strbuf *sb);

/* Forget the text but keep the memory and clear `failed`. */
void tsp_strbuf_reset(struct tsp_strbuf *sb);

/* Append n bytes of s (which may hold NULs), the single byte c, the C string s, or formatted
 * text. Each is all or nothing; false when refused (the builder is then failed). */
bool tsp_strbuf_append(struct tsp_strbuf *sb, const char *s, size_t n);
bool tsp_strbuf_putc(struct tsp_strbuf *sb, char c);
bool tsp_strbuf_puts(struct tsp_strbuf *sb, const char *s);
bool tsp_strbuf_printf(struct tsp_strbuf *sb, const char *fmt, ...) TSP_PRINTF(2, 3);
bool tsp_strbuf_vprintf(struct tsp_strbuf *sb, const char *fmt, va_list ap) TSP_PRINTF(2, 0);

/* Hand over a growable builder's text: the malloc'd NUL-terminated text (free it), "" as a
 * malloc'd string when nothing was added, or NULL when the builder failed or memory ran out
 * (the text is then freed). *len (if not NULL) receives its length. The builder is empty
 * afterwards. Not for fixed builders (NULL). */
char *tsp_strbuf_take(struct tsp_strbuf *sb, size_t *len);

#endif /* TSPOOL_STRBUF_H */
