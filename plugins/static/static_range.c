/* static_range: Range header parsing; contract in static_range.h. */
#include "static_range.h"

#include <strings.h>

/* One range-spec: first/last, -1 when absent. */
typedef struct spec {
    int64_t first;
    int64_t last;
} spec_t;

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Reads 1*DIGIT at *p (< end), saturating at INT64_MAX. Returns 0 when there
 * is at least one digit. */
static int read_num(const char **p, const char *end, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;

    if (s == end || *s < '0' || *s > '9')
        return -1;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        int d = *s - '0';
        v = v > (INT64_MAX - d) / 10 ? INT64_MAX : v * 10 + d;
    }
    *p = s;
    *out = v;
    return 0;
}

/* Parses exactly one range-spec spanning [s, end). */
static int parse_spec(const char *s, const char *end, spec_t *sp)
{
    sp->first = sp->last = -1;
    if (s < end && *s == '-') {
        s++;
        if (read_num(&s, end, &sp->last) < 0 || s != end)
            return -1;
        return 0; /* suffix: first == -1, last holds the suffix length */
    }
    if (read_num(&s, end, &sp->first) < 0 || s == end || *s != '-')
        return -1;
    s++;
    if (s == end)
        return 0;
    if (read_num(&s, end, &sp->last) < 0 || s != end)
        return -1;
    return sp->last < sp->first ? -1 : 0;
}

sr_result_t sr_parse(const char *value, size_t len, int64_t size, int64_t *start, int64_t *length)
{
    const char *p = value, *end = value + len;
    spec_t sp = {-1, -1};
    int count = 0;

    while (p < end && is_ows(*p))
        p++;
    if ((size_t)(end - p) < 6 || strncasecmp(p, "bytes=", 6) != 0)
        return SR_IGNORE;
    p += 6;
    while (p < end) {
        const char *e = p, *t;

        while (e < end && *e != ',')
            e++;
        t = e;
        while (p < t && is_ows(*p))
            p++;
        while (t > p && is_ows(t[-1]))
            t--;
        if (p < t) {
            if (parse_spec(p, t, &sp) < 0)
                return SR_IGNORE;
            count++;
        }
        p = e < end ? e + 1 : e;
    }
    if (count == 0)
        return SR_IGNORE;
    if (count > 1)
        return SR_MULTI;

    if (sp.first < 0) { /* suffix-range */
        if (sp.last == 0 || size == 0)
            return SR_UNSATISFIABLE;
        *length = sp.last < size ? sp.last : size;
        *start = size - *length;
        return SR_OK;
    }
    if (sp.first >= size)
        return SR_UNSATISFIABLE;
    *start = sp.first;
    *length = (sp.last < 0 || sp.last >= size - 1) ? size - sp.first : sp.last - sp.first + 1;
    return SR_OK;
}
