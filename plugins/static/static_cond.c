/* static_cond: validators and preconditions; contracts in static_cond.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm */
#endif
#include "static_cond.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const day_short[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const day_long[7] = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

size_t sc_etag_format(char *buf, uint64_t ino, uint64_t size, uint64_t mtime_ns)
{
    int n = snprintf(buf, SC_ETAG_MAX, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", ino, size, mtime_ns);
    return n < 0 ? 0 : (size_t)n;
}

/* Writes v as exactly n decimal digits at p; returns p + n. */
static char *put_digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

int sc_date_format(time_t t, char *buf)
{
    struct tm tm;
    char *p = buf;

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return -1;
    /* Built by hand: strftime would follow the locale's day and month names. */
    memcpy(p, day_short[tm.tm_wday], 3);
    p = put_digits(p + 3 + 2, tm.tm_mday, 2);
    buf[3] = ',';
    buf[4] = ' ';
    *p++ = ' ';
    memcpy(p, months[tm.tm_mon], 3);
    p += 3;
    *p++ = ' ';
    p = put_digits(p, tm.tm_year + 1900, 4);
    *p++ = ' ';
    p = put_digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_min, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_sec, 2);
    memcpy(p, " GMT", 5);
    return 0;
}

/* --- date parsing: a cursor over [p, end) --------------------------------- */

typedef struct cur {
    const char *p;
    const char *end;
} cur_t;

static int lit(cur_t *c, const char *s)
{
    size_t n = strlen(s);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return -1;
    c->p += n;
    return 0;
}

/* Exactly n digits. */
static int digits(cur_t *c, int n, int *out)
{
    int v = 0;

    if (c->end - c->p < n)
        return -1;
    for (int i = 0; i < n; i++) {
        char ch = c->p[i];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    c->p += n;
    *out = v;
    return 0;
}

/* One name out of table (exact, case-sensitive as the grammar says). */
static int name_of(cur_t *c, const char *const *table, int count)
{
    for (int i = 0; i < count; i++)
        if (lit(c, table[i]) == 0)
            return i;
    return -1;
}

/* "HH:MM:SS" */
static int time_of_day(cur_t *c, struct tm *tm)
{
    if (digits(c, 2, &tm->tm_hour) < 0 || lit(c, ":") < 0 || digits(c, 2, &tm->tm_min) < 0
        || lit(c, ":") < 0 || digits(c, 2, &tm->tm_sec) < 0)
        return -1;
    return tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec <= 60 ? 0 : -1;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int year, int mon)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mon == 1 && is_leap(year) ? 29 : days[mon];
}

/* RFC 9110 5.6.7: a two-digit year more than 50 years ahead is in the past. */
static int widen_year(int yy)
{
    time_t now = time(NULL);
    struct tm tm;
    int cur, y;

    gmtime_r(&now, &tm);
    cur = tm.tm_year + 1900;
    y = cur / 100 * 100 + yy;
    if (y > cur + 50)
        y -= 100;
    return y;
}

static int parse_imf(cur_t *c, struct tm *tm, int *year)
{
    if (lit(c, " ") < 0 || digits(c, 2, &tm->tm_mday) < 0 || lit(c, " ") < 0
        || (tm->tm_mon = name_of(c, months, 12)) < 0 || lit(c, " ") < 0 || digits(c, 4, year) < 0
        || lit(c, " ") < 0 || time_of_day(c, tm) < 0 || lit(c, " GMT") < 0)
        return -1;
    return 0;
}

static int parse_rfc850(cur_t *c, struct tm *tm, int *year)
{
    int yy;

    if (lit(c, " ") < 0 || digits(c, 2, &tm->tm_mday) < 0 || lit(c, "-") < 0
        || (tm->tm_mon = name_of(c, months, 12)) < 0 || lit(c, "-") < 0 || digits(c, 2, &yy) < 0
        || lit(c, " ") < 0 || time_of_day(c, tm) < 0 || lit(c, " GMT") < 0)
        return -1;
    *year = widen_year(yy);
    return 0;
}

static int parse_asctime(cur_t *c, struct tm *tm, int *year)
{
    if (lit(c, " ") < 0 || (tm->tm_mon = name_of(c, months, 12)) < 0 || lit(c, " ") < 0)
        return -1;
    if (lit(c, " ") == 0) {
        if (digits(c, 1, &tm->tm_mday) < 0)
            return -1;
    } else if (digits(c, 2, &tm->tm_mday) < 0) {
        return -1;
    }
    if (lit(c, " ") < 0 || time_of_day(c, tm) < 0 || lit(c, " ") < 0 || digits(c, 4, year) < 0)
        return -1;
    return 0;
}

int sc_date_parse(const char *s, size_t len, time_t *out)
{
    cur_t c = {s, s + len};
    struct tm tm;
    int year = 0, rc;

    memset(&tm, 0, sizeof(tm));
    while (c.p < c.end && (*c.p == ' ' || *c.p == '\t'))
        c.p++;
    while (c.end > c.p && (c.end[-1] == ' ' || c.end[-1] == '\t'))
        c.end--;
    /* Long names first: "Sunday," must not be read as "Sun" + garbage. */
    if (name_of(&c, day_long, 7) >= 0)
        rc = lit(&c, ",") == 0 ? parse_rfc850(&c, &tm, &year) : -1;
    else if (name_of(&c, day_short, 7) >= 0)
        rc = lit(&c, ",") == 0 ? parse_imf(&c, &tm, &year) : parse_asctime(&c, &tm, &year);
    else
        rc = -1;
    if (rc < 0 || c.p != c.end || tm.tm_mday < 1 || tm.tm_mday > month_days(year, tm.tm_mon))
        return -1;
    tm.tm_year = year - 1900;
    *out = timegm(&tm);
    return 0;
}

/* --- entity-tags -------------------------------------------------------- */

/* Splits one entity-tag at [p, end) into its weak flag and the opaque-tag
 * (quotes included). Returns the bytes consumed, 0 when malformed. */
static size_t etag_split(const char *p, const char *end, int *weak, const char **op, size_t *oplen)
{
    const char *s = p, *q;

    *weak = 0;
    if (end - s >= 2 && s[0] == 'W' && s[1] == '/') {
        *weak = 1;
        s += 2;
    }
    if (s >= end || *s != '"')
        return 0;
    q = memchr(s + 1, '"', (size_t)(end - s - 1));
    if (q == NULL)
        return 0;
    *op = s;
    *oplen = (size_t)(q - s) + 1;
    return (size_t)(q + 1 - p);
}

int sc_etag_equal(const char *a, size_t alen, const char *b, size_t blen, int strong)
{
    const char *ao = NULL, *bo = NULL;
    size_t al = 0, bl = 0;
    int aw, bw;

    if (etag_split(a, a + alen, &aw, &ao, &al) != alen || etag_split(b, b + blen, &bw, &bo, &bl) != blen)
        return 0;
    if (ao == NULL || bo == NULL) /* empty: no entity-tag at all */
        return 0;
    if (strong && (aw || bw))
        return 0;
    return al == bl && memcmp(ao, bo, al) == 0;
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

int sc_etag_list_match(const char *list, size_t len, const char *etag, int strong)
{
    const char *p = list, *end = list + len;
    size_t elen = strlen(etag);

    p = skip_ows(p, end);
    if (end - p >= 1 && *p == '*' && skip_ows(p + 1, end) == end)
        return 1;
    while (p < end) {
        const char *op;
        size_t oplen, n;
        int weak;

        p = skip_ows(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p == end)
            break;
        n = etag_split(p, end, &weak, &op, &oplen);
        if (n == 0)
            return 0;
        if (sc_etag_equal(p, n, etag, elen, strong))
            return 1;
        p = skip_ows(p + n, end);
        if (p < end && *p != ',')
            return 0;
    }
    return 0;
}

sc_result_t sc_evaluate(const sc_request_t *rq, const char *etag, time_t last_modified)
{
    time_t t;

    if (rq->if_match != NULL) {
        if (!sc_etag_list_match(rq->if_match, rq->if_match_len, etag, 1))
            return SC_PRECONDITION_FAILED;
    } else if (rq->if_unmodified_since != NULL
               && sc_date_parse(rq->if_unmodified_since, rq->if_unmodified_since_len, &t) == 0
               && last_modified > t) {
        return SC_PRECONDITION_FAILED;
    }
    if (rq->if_none_match != NULL) {
        if (sc_etag_list_match(rq->if_none_match, rq->if_none_match_len, etag, 0))
            return SC_NOT_MODIFIED;
    } else if (rq->if_modified_since != NULL
               && sc_date_parse(rq->if_modified_since, rq->if_modified_since_len, &t) == 0
               && last_modified <= t) {
        return SC_NOT_MODIFIED;
    }
    return SC_PROCEED;
}

int sc_if_range(const char *value, size_t len, const char *etag, time_t last_modified)
{
    const char *p = skip_ows(value, value + len), *end = value + len;
    time_t t;

    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (p < end && (*p == '"' || *p == 'W'))
        if (*p == '"' || (end - p >= 2 && p[1] == '/'))
            return sc_etag_equal(p, (size_t)(end - p), etag, strlen(etag), 1);
    return sc_date_parse(p, (size_t)(end - p), &t) == 0 && t == last_modified;
}
