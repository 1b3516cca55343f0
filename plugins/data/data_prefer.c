/* PostgREST's headers: see data_prefer.h. */
#include "data_prefer.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

bool data_prefer_has(const char *v, size_t len, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i < len;) {
        while (i < len && (ows(v[i]) || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && ows(v[end - 1]))
            end--;
        if (end - start == tl && strncasecmp(v + start, token, tl) == 0)
            return true;
    }
    return false;
}

/* Decimal digits s[0..n) into *out; n is 1..18, so no overflow. */
static bool digits(const char *s, size_t n, int64_t *out)
{
    int64_t acc = 0;
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        acc = acc * 10 + (s[i] - '0');
    }
    *out = acc;
    return true;
}

bool data_range_parse(const char *v, size_t len, int64_t *first, int64_t *last)
{
    const char *dash = len ? memchr(v, '-', len) : NULL;
    if (dash == NULL || !digits(v, (size_t)(dash - v), first))
        return false;
    size_t rest = len - (size_t)(dash - v) - 1;
    if (rest == 0) {
        *last = -1;
        return true;
    }
    return digits(dash + 1, rest, last) && *last >= *first;
}

int data_content_range(int64_t offset, size_t rows, bool counted, int64_t total, char *cr, size_t crlen)
{
    char tot[24] = "*";
    if (counted)
        snprintf(tot, sizeof tot, "%" PRId64, total);
    if (rows > 0)
        snprintf(cr, crlen, "%" PRId64 "-%" PRId64 "/%s", offset, offset + (int64_t)rows - 1, tot);
    else
        snprintf(cr, crlen, "*/%s", tot);
    if (!counted)
        return 200;
    if (offset > total)
        return 416;
    return (int64_t)rows < total ? 206 : 200;
}
