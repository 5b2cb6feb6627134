/* cli/apply_compare.c - the pure comparisons of `tspool apply`: interval texts as durations and
 * order_by entries in the service's canonical form, so a second run finds nothing to change.
 * SPDX-License-Identifier: MIT
 */
#include "apply_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define US_SECOND 1000000LL
#define US_DAY    (86400LL * US_SECOND)

struct unit {
    const char *name;
    long long us;
};

static const struct unit units[] = {
    {"microsecond", 1},
    {"microseconds", 1},
    {"us", 1},
    {"millisecond", 1000},
    {"milliseconds", 1000},
    {"ms", 1000},
    {"second", US_SECOND},
    {"seconds", US_SECOND},
    {"sec", US_SECOND},
    {"secs", US_SECOND},
    {"s", US_SECOND},
    {"minute", 60 * US_SECOND},
    {"minutes", 60 * US_SECOND},
    {"min", 60 * US_SECOND},
    {"mins", 60 * US_SECOND},
    {"m", 60 * US_SECOND},
    {"hour", 3600 * US_SECOND},
    {"hours", 3600 * US_SECOND},
    {"hr", 3600 * US_SECOND},
    {"hrs", 3600 * US_SECOND},
    {"h", 3600 * US_SECOND},
    {"day", US_DAY},
    {"days", US_DAY},
    {"d", US_DAY},
    {"week", 7 * US_DAY},
    {"weeks", 7 * US_DAY},
    {"w", 7 * US_DAY},
    {"mon", 30 * US_DAY},
    {"mons", 30 * US_DAY},
    {"month", 30 * US_DAY},
    {"months", 30 * US_DAY},
    {"year", 360 * US_DAY},
    {"years", 360 * US_DAY},
    {"y", 360 * US_DAY},
};

/* "[-]HH:MM[:SS[.ffffff]]" -> microseconds. */
static bool clock_us(const char *word, long long *out)
{
    double h = 0;
    double m = 0;
    double sec = 0;
    char tail = '\0';
    bool neg = word[0] == '-';
    int n = sscanf(neg ? word + 1 : word, "%lf:%lf:%lf%c", &h, &m, &sec, &tail);

    if (n < 2 || n > 3) {
        return false;
    }
    *out = (long long)((h * 3600.0 + m * 60.0 + sec) * (double)US_SECOND + 0.5);
    if (neg) {
        *out = -*out;
    }
    return true;
}

bool tsp_apply_interval_us(const char *text, long long *out)
{
    char copy[128];
    char *save = NULL;
    char *word = NULL;
    long long total = 0;
    bool any = false;

    if (text == NULL || strlen(text) >= sizeof(copy)) {
        return false;
    }
    snprintf(copy, sizeof(copy), "%s", text);
    word = strtok_r(copy, " ", &save);
    while (word != NULL) {
        char *end = NULL;
        double value;
        long long part = 0;
        if (strchr(word, ':') != NULL) {
            if (!clock_us(word, &part)) {
                return false;
            }
            total += part;
            any = true;
            word = strtok_r(NULL, " ", &save);
            continue;
        }
        errno = 0;
        value = strtod(word, &end);
        if (errno != 0 || end == word) {
            return false;
        }
        const char *unit = end;
        if (*unit == '\0') {
            unit = strtok_r(NULL, " ", &save);
            if (unit == NULL) {
                return false;
            }
        }
        bool known = false;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (strcasecmp(unit, units[i].name) == 0) {
                total += (long long)(value * (double)units[i].us + (value < 0 ? -0.5 : 0.5));
                known = true;
                break;
            }
        }
        if (!known) {
            return false;
        }
        any = true;
        word = strtok_r(NULL, " ", &save);
    }
    if (!any) {
        return false;
    }
    *out = total;
    return true;
}

/* An integer value (JSON integer or text of digits). */
static bool integer_of(const json_t *v, long long *out)
{
    const char *text = json_string_value(v);
    char *end = NULL;

    if (json_is_integer(v)) {
        *out = (long long)json_integer_value(v);
        return true;
    }
    if (text == NULL || text[0] == '\0') {
        return false;
    }
    errno = 0;
    *out = strtoll(text, &end, 10);
    return errno == 0 && *end == '\0';
}

bool tsp_apply_same_interval(const json_t *a, const json_t *b)
{
    long long x = 0;
    long long y = 0;

    if (a == NULL || json_is_null(a) || b == NULL || json_is_null(b)) {
        return (a == NULL || json_is_null(a)) && (b == NULL || json_is_null(b));
    }
    if (integer_of(a, &x) && integer_of(b, &y)) {
        return x == y;
    }
    if (json_is_string(a) && json_is_string(b) && tsp_apply_interval_us(json_string_value(a), &x) &&
        tsp_apply_interval_us(json_string_value(b), &y)) {
        return x == y;
    }
    return json_is_string(a) && json_is_string(b) &&
           strcmp(json_string_value(a), json_string_value(b)) == 0;
}

void tsp_apply_order_item(const char *item, char *out, size_t size)
{
    char copy[256];
    char *save = NULL;
    char *words[5] = {NULL, NULL, NULL, NULL, NULL};
    size_t n = 0;
    bool desc = false;
    int nulls = -1; /* -1 default, 0 last, 1 first */

    snprintf(copy, sizeof(copy), "%s", item != NULL ? item : "");
    for (char *w = strtok_r(copy, " ", &save); w != NULL && n < 5; w = strtok_r(NULL, " ", &save)) {
        words[n++] = w;
    }
    if (n == 0) {
        snprintf(out, size, "%s", "");
        return;
    }
    for (size_t i = 1; i < n; i++) {
        if (strcasecmp(words[i], "DESC") == 0) {
            desc = true;
        } else if (strcasecmp(words[i], "NULLS") == 0 && i + 1 < n) {
            nulls = strcasecmp(words[i + 1], "FIRST") == 0 ? 1 : 0;
            i++;
        }
    }
    if (nulls == (desc ? 1 : 0)) {
        nulls = -1; /* the default for the direction */
    }
    snprintf(out, size, "%s%s%s", words[0], desc ? " DESC" : "",
             nulls < 0 ? "" : (nulls == 1 ? " NULLS FIRST" : " NULLS LAST"));
}
