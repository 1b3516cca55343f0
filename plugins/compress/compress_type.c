/* compress_type: media type patterns; contract in compress_type.h. */
#include "compress_type.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 token characters, the only ones a type or subtype may hold. */
static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Copies the token [s, e) lower-cased into out; 0, or -1 when it is empty,
 * too long or holds a character a token may not. */
static int copy_token(const char *s, const char *e, char *out)
{
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= CZ_TYPE_NAME_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar(s[i]))
            return -1;
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    }
    out[n] = '\0';
    return 0;
}

/* A '*' may only be a whole name or the start of "*+suffix". */
static int wildcard_ok(const char *name, int suffix_allowed)
{
    const char *star = strchr(name, '*');
    if (star == NULL)
        return 1;
    if (star != name || strchr(star + 1, '*') != NULL)
        return 0;
    return name[1] == '\0' || (suffix_allowed && name[1] == '+' && name[2] != '\0');
}

static int parse_item(cz_pattern_t *p, const char *s, const char *e)
{
    const char *slash = memchr(s, '/', (size_t)(e - s));
    if (slash == NULL || copy_token(s, slash, p->type) < 0 || copy_token(slash + 1, e, p->sub) < 0)
        return -1;
    if (!wildcard_ok(p->type, 0) || !wildcard_ok(p->sub, 1))
        return -1;
    /* "*" as the type with an exact subtype ("*" + "/json") means nothing */
    return strcmp(p->type, "*") == 0 && p->sub[0] != '*' ? -1 : 0;
}

int cz_types_parse(cz_types_t *t, const char *list, char *why, size_t cap)
{
    const char *p = list, *end = list + strlen(list);
    t->n = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end, *s = p;
        while (s < e && is_ows(*s))
            s++;
        while (e > s && is_ows(e[-1]))
            e--;
        if (s == e) {
            snprintf(why, cap, "an empty item in the list of types");
            return -1;
        }
        if (t->n == CZ_TYPES_MAX) {
            snprintf(why, cap, "more than %d types", CZ_TYPES_MAX);
            return -1;
        }
        if (parse_item(&t->pat[t->n], s, e) < 0) {
            snprintf(why, cap, "\"%.*s\" is not a media type pattern", (int)(e - s > 80 ? 80 : e - s), s);
            return -1;
        }
        t->n++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int name_matches(const char *pat, const char *s, size_t n)
{
    if (strcmp(pat, "*") == 0)
        return 1;
    if (pat[0] == '*') { /* "*+json": the subtype ends with "+json" */
        size_t k = strlen(pat + 1);
        return n > k && strncasecmp(s + n - k, pat + 1, k) == 0;
    }
    return strlen(pat) == n && strncasecmp(pat, s, n) == 0;
}

int cz_types_match(const cz_types_t *t, const char *value, size_t len)
{
    const char *s = value, *end = value + len;
    while (s < end && is_ows(*s))
        s++;
    const char *semi = memchr(s, ';', (size_t)(end - s));
    const char *e = semi ? semi : end;
    while (e > s && is_ows(e[-1]))
        e--;
    const char *slash = memchr(s, '/', (size_t)(e - s));
    if (slash == NULL || slash == s || slash + 1 == e)
        return 0;
    size_t tn = (size_t)(slash - s), sn = (size_t)(e - slash - 1);
    for (size_t i = 0; i < t->n; i++)
        if (name_matches(t->pat[i].type, s, tn) && name_matches(t->pat[i].sub, slash + 1, sn))
            return 1;
    return 0;
}
