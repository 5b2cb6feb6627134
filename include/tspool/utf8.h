/* utf8.h - UTF-8 checks for text that leaves the process: replace invalid sequences, cut a
 * string on a character boundary. Pure functions, thread-safe, never allocate.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_UTF8_H
#define TSPOOL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF). */
bool tsp_utf8_valid(const char *s, size_t len);

/* Copy the NUL-terminated `in` into out (outsize bytes, always NUL-terminated when outsize > 0),
 * replacing each invalid byte with U+FFFD and never splitting a character at the end.
 * Returns the length written. in and out must not overlap. */
size_t tsp_utf8_sanitize(const char *in, char *out, size_t outsize);

/* Shorten the NUL-terminated s in place so that it does not end in the middle of a multi-byte
 * character (a string cut at a byte limit). Returns the new length. */
size_t tsp_utf8_trim_partial(char *s);

#endif /* TSPOOL_UTF8_H */
