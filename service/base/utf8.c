/* base/utf8.c - UTF-8 validation, replacement of invalid sequences with U+FFFD and cutting on a
 * character boundary, for problem documents, logs and server messages cut at a byte limit.
 * SPDX-License-Identifier: MIT
 */
#include "tspool/utf8.h"

#include <string.h>

/* Length of the well-formed character at s (at most `avail` bytes), or 0 when invalid or cut. */
static size_t char_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF; /* <= U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

bool tsp_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = char_len(p + i, len - i);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

size_t tsp_utf8_sanitize(const char *in, char *out, size_t outsize)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)in;
    size_t len = in != NULL ? strlen(in) : 0;
    size_t i = 0;
    size_t o = 0;

    if (outsize == 0) {
        return 0;
    }
    while (i < len) {
        size_t n = char_len(p + i, len - i);
        const char *src = n > 0 ? (const char *)p + i : replacement;
        size_t w = n > 0 ? n : sizeof(replacement) - 1;
        if (o + w + 1 > outsize) {
            break;
        }
        memcpy(out + o, src, w);
        o += w;
        i += n > 0 ? n : 1;
    }
    out[o] = '\0';
    return o;
}

size_t tsp_utf8_trim_partial(char *s)
{
    size_t len = strlen(s);
    size_t start = len;
    size_t back = 0;

    /* find the lead byte of the last character (at most 3 continuation bytes back) */
    while (start > 0 && back < 4 && ((unsigned char)s[start - 1] & 0xC0) == 0x80) {
        start--;
        back++;
    }
    if (start == 0) {
        return len;
    }
    start--; /* the lead byte (or an ASCII byte) */
    if (char_len((const unsigned char *)s + start, len - start) == 0 &&
        ((unsigned char)s[start] & 0xC0) == 0xC0) {
        /* a lead byte whose character is cut short: drop it and its continuation bytes */
        s[start] = '\0';
        return start;
    }
    return len;
}
