/* static_enc: Accept-Encoding; contract in static_enc.h. */
#include "static_enc.h"

#include <string.h>
#include <strings.h>

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* q-value of the parameters in [p, end) (";q=0.5;x=y"): 1 when absent or
 * non-zero, 0 when it is zero. */
static int q_nonzero(const char *p, const char *end)
{
    while (p < end) {
        const char *e = memchr(p, ';', (size_t)(end - p));
        const char *s = p;

        if (e == NULL)
            e = end;
        while (s < e && is_ows(*s))
            s++;
        if (e - s >= 2 && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=') {
            int nonzero = 0;
            for (s += 2; s < e && !is_ows(*s); s++)
                if (*s >= '1' && *s <= '9')
                    nonzero = 1;
            return nonzero;
        }
        p = e < end ? e + 1 : e;
    }
    return 1;
}

int se_accepts(const char *value, size_t len, const char *coding)
{
    const char *p = value, *end = value + len;
    size_t clen = strlen(coding);
    int star = -1; /* -1 absent, else its verdict */

    while (p < end) {
        const char *e = memchr(p, ',', (size_t)(end - p));
        const char *s = p, *t;

        if (e == NULL)
            e = end;
        while (s < e && is_ows(*s))
            s++;
        t = s;
        while (t < e && *t != ';' && !is_ows(*t))
            t++;
        if ((size_t)(t - s) == clen && strncasecmp(s, coding, clen) == 0)
            return q_nonzero(t, e);
        if (t - s == 1 && *s == '*')
            star = q_nonzero(t, e);
        p = e < end ? e + 1 : e;
    }
    return star == 1;
}
