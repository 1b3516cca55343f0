/* static_enc: Accept-Encoding; contract in static_enc.h. */
#include "static_enc.h"

#include <string.h>
#include <strings.h>

#define SE_MAX_CANDIDATES 8

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* A qvalue (RFC 9110 section 12.4.2) in [s, e): "0", "0.5", "1.000".
 * Returns 0-1000, or 0 for anything that is not one. */
static int qvalue(const char *s, const char *e)
{
    int q, scale = 100;

    if (s == e || (*s != '0' && *s != '1'))
        return 0;
    q = (*s++ - '0') * 1000;
    if (s == e)
        return q;
    if (*s++ != '.' || e - s > 3)
        return 0;
    for (; s < e; s++, scale /= 10) {
        if (*s < '0' || *s > '9')
            return 0;
        q += (*s - '0') * scale;
    }
    return q > 1000 ? 0 : q;
}

/* Quality from the parameters in [p, end) (";q=0.5;x=y"): 1000 without q. */
static int params_q(const char *p, const char *end)
{
    while (p < end) {
        const char *e = memchr(p, ';', (size_t)(end - p));
        const char *s = p, *t;

        if (e == NULL)
            e = end;
        while (s < e && is_ows(*s))
            s++;
        t = e;
        while (t > s && is_ows(t[-1]))
            t--;
        if (t - s >= 2 && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=')
            return qvalue(s + 2, t);
        p = e < end ? e + 1 : e;
    }
    return 1000;
}

static int name_is(const char *s, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(s, name, n) == 0;
}

int se_quality(const char *value, size_t len, const char *coding)
{
    const char *p = value, *end = value + len;
    int gzip = strcmp(coding, "gzip") == 0;
    int own = SE_UNLISTED, star = SE_UNLISTED;

    while (p < end) {
        const char *e = memchr(p, ',', (size_t)(end - p));
        const char *s = p, *t;
        size_t n;

        if (e == NULL)
            e = end;
        while (s < e && is_ows(*s))
            s++;
        t = s;
        while (t < e && *t != ';' && !is_ows(*t))
            t++;
        n = (size_t)(t - s);
        if (name_is(s, n, coding) || (gzip && name_is(s, n, "x-gzip"))) {
            int q = params_q(t, e);
            if (q > own)
                own = q;
        } else if (name_is(s, n, "*")) {
            int q = params_q(t, e);
            if (q > star)
                star = q;
        }
        p = e < end ? e + 1 : e;
    }
    return own != SE_UNLISTED ? own : star;
}

int se_accepts(const char *value, size_t len, const char *coding)
{
    return se_quality(value, len, coding) > 0;
}

size_t se_rank(const char *value, size_t len, const char *const *codings, size_t n, size_t *order)
{
    int q[SE_MAX_CANDIDATES];
    size_t count = 0;

    if (n > SE_MAX_CANDIDATES)
        n = SE_MAX_CANDIDATES;
    for (size_t i = 0; i < n; i++) {
        q[i] = se_quality(value, len, codings[i]);
        /* Unlisted identity: acceptable, but after every coding the client
         * named (a client that lists "gzip;q=0.5" wants gzip). */
        if (q[i] == SE_UNLISTED && strcmp(codings[i], "identity") == 0)
            q[i] = 1;
        if (q[i] <= 0)
            continue;
        /* Insertion sort: stable, so equal qualities keep candidate order. */
        size_t j = count++;
        while (j > 0 && q[order[j - 1]] < q[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    return count;
}
