/* db/scrub.c - libpq message text made fit to show: one line, and no password (neither the
 * configured one nor a password=... or URI password libpq echoes). Pure string work, no libpq.
 * SPDX-License-Identifier: MIT
 */
#include "tspool/db.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#define MASK     "********"
#define MASK_LEN 8

void tsp_db_one_line(char *s)
{
    size_t len = 0;

    if (s == NULL) {
        return;
    }
    len = strlen(s);
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ')) {
        s[--len] = '\0';
    }
    for (; *s != '\0'; s++) {
        if (*s == '\n' || *s == '\r' || *s == '\t') {
            *s = ' ';
        }
    }
}

/* Replace text[start, start+len) by MASK (when len >= MASK_LEN, shifting the rest left) or
 * by len '*' (a shorter span cannot grow in place). Returns the masked span's new length. */
static size_t mask_span(char *text, size_t start, size_t len)
{
    size_t total = strlen(text);

    if (len >= MASK_LEN) {
        memcpy(text + start, MASK, MASK_LEN);
        memmove(text + start + MASK_LEN, text + start + len, total - start - len + 1);
        return MASK_LEN;
    }
    memset(text + start, '*', len);
    return len;
}

/* Length of a conninfo value at s: a '...' quoted value with backslash escapes, or up to the
 * next blank. */
static size_t conninfo_value_len(const char *s)
{
    size_t i = 0;

    if (s[0] == '\'') {
        for (i = 1; s[i] != '\0' && s[i] != '\''; i++) {
            if (s[i] == '\\' && s[i + 1] != '\0') {
                i++;
            }
        }
        return s[i] == '\'' ? i + 1 : i;
    }
    while (s[i] != '\0' && !isspace((unsigned char)s[i])) {
        i++;
    }
    return i;
}

static bool starts_with_nocase(const char *s, const char *prefix)
{
    for (; *prefix != '\0'; s++, prefix++) {
        if (tolower((unsigned char)*s) != *prefix) {
            return false;
        }
    }
    return true;
}

static void scrub_conninfo(char *text)
{
    size_t i = 0;

    while (text[i] != '\0') {
        if (starts_with_nocase(text + i, "password")) {
            size_t j = i + strlen("password");
            while (text[j] == ' ') {
                j++;
            }
            if (text[j] == '=') {
                size_t len;
                j++;
                while (text[j] == ' ') {
                    j++;
                }
                len = conninfo_value_len(text + j);
                i = j + (len > 0 ? mask_span(text, j, len) : 0);
                continue;
            }
        }
        i++;
    }
}

/* postgresql://user:secret@host -> postgresql://user:********@host */
static void scrub_uri(char *text)
{
    char *p = text;

    while ((p = strstr(p, "://")) != NULL) {
        char *userinfo = p + 3;
        size_t span = strcspn(userinfo, "@/ \t\n");
        char *colon = NULL;

        if (userinfo[span] == '@') {
            colon = memchr(userinfo, ':', span);
        }
        if (colon != NULL && colon + 1 < userinfo + span) {
            size_t start = (size_t)(colon + 1 - text);
            size_t len = (size_t)(userinfo + span - (colon + 1));
            mask_span(text, start, len);
        }
        p = userinfo;
    }
}

void tsp_db_scrub_password(char *text, const char *password)
{
    size_t plen;
    char *hit = NULL;

    if (text == NULL) {
        return;
    }
    if (password != NULL && password[0] != '\0') {
        plen = strlen(password);
        hit = strstr(text, password);
        while (hit != NULL) {
            size_t start = (size_t)(hit - text);
            size_t n = mask_span(text, start, plen);
            hit = strstr(text + start + n, password);
        }
    }
    scrub_conninfo(text);
    scrub_uri(text);
}
