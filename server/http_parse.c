/*
 * Strict HTTP/1.1 request parser: see http_parse.h for the contract.
 *
 * The head parser is a byte-resumable state machine. Every state runs a
 * tight loop over one lookup table until it meets a delimiter or the end of
 * the usable bytes, so each byte is looked at once, and a call that runs out
 * of input saves (pos, state) and the partial spans in the request itself.
 * Semantic checks (Host, Content-Length, Transfer-Encoding, ...) run once the
 * head is complete, over the recorded header spans only.
 *
 * Choices where the RFCs leave room (all in the direction of refusing
 * anything two parsers might read differently, i.e. request smuggling):
 *   - Lines end in CRLF only. A bare LF is rejected like a bare CR (RFC 9112
 *     section 2.2 allows, but does not require, accepting a bare LF).
 *   - HTTP/1.x with x > 1 is accepted and handled as HTTP/1.1 (RFC 9110
 *     section 2.5: process as the highest minor version we conform to);
 *     any other major version -> 505; anything not "HTTP/" DIGIT "." DIGIT
 *     -> 400.
 *   - CONNECT (authority-form) -> 501: this server is not a proxy.
 *   - "*" is accepted only with OPTIONS; other non-origin, non-absolute
 *     targets -> 400.
 *   - Empty list elements in Content-Length and Transfer-Encoding -> 400.
 */
#include "http_parse.h"

#include <limits.h>
#include <string.h>

/* ---- character classes, built at compile time ------------------------ */

enum {
    C_TCHAR = 1,   /* token character (RFC 9110 section 5.6.2) */
    C_FIELD = 2,   /* field-value byte: HTAB, SP, VCHAR, obs-text */
    C_TARGET = 4,  /* request-target byte other than '?' and '#' */
    C_HEX = 8,     /* HEXDIG */
    C_REGNAME = 16 /* reg-name byte: unreserved, sub-delims, '%' */
};

#define IN(c, a, b) ((c) >= (a) && (c) <= (b))
#define IS_DIGIT(c) IN(c, '0', '9')
#define IS_ALPHA(c) (IN(c, 'a', 'z') || IN(c, 'A', 'Z'))
#define IS_TCHAR(c)                                                                                \
    (IS_DIGIT(c) || IS_ALPHA(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' ||        \
     (c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' ||          \
     (c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')
#define IS_FIELD(c) ((c) == '\t' || IN(c, 0x20, 0x7e) || (c) >= 0x80)
#define IS_TARGET(c) (IN(c, 0x21, 0x7e) && (c) != '?' && (c) != '#')
#define IS_HEX(c) (IS_DIGIT(c) || IN(c, 'a', 'f') || IN(c, 'A', 'F'))
#define IS_REGNAME(c)                                                                              \
    (IS_DIGIT(c) || IS_ALPHA(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~' ||        \
     (c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || (c) == ')' ||          \
     (c) == '*' || (c) == '+' || (c) == ',' || (c) == ';' || (c) == '=' || (c) == '%')
#define CLS(c)                                                                                     \
    ((IS_TCHAR(c) ? C_TCHAR : 0) | (IS_FIELD(c) ? C_FIELD : 0) | (IS_TARGET(c) ? C_TARGET : 0) |  \
     (IS_HEX(c) ? C_HEX : 0) | (IS_REGNAME(c) ? C_REGNAME : 0))
#define R4(c) CLS(c), CLS((c) + 1), CLS((c) + 2), CLS((c) + 3)
#define R16(c) R4(c), R4((c) + 4), R4((c) + 8), R4((c) + 12)
#define R64(c) R16(c), R16((c) + 16), R16((c) + 32), R16((c) + 48)

static const unsigned char cls[256] = {R64(0), R64(64), R64(128), R64(192)};

/*
 * Word-at-a-time skipping for the two long runs (request-target and field
 * values): test 8 bytes per step for "any byte that could end or break the
 * run", then let the byte loop find which one it is. Exact tests, not
 * heuristics: has_less(x, n) is nonzero iff some byte < n (n <= 128), and
 * has_byte(x, c) iff some byte == c.
 */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
#define has_less(x, n) (((x) - ONES * (n)) & ~(x) & HIGHS)
#define has_zero(x) (((x) - ONES) & ~(x) & HIGHS)
#define has_byte(x, c) has_zero((x) ^ (ONES * (c)))

static inline uint64_t load8(const unsigned char *p)
{
    uint64_t x;

    memcpy(&x, p, sizeof(x));
    return x;
}

/* Skip 8-byte words of field-value bytes without HTAB (SP..~ and 0x80+). */
static inline size_t skip_field_words(const unsigned char *b, size_t p, size_t end)
{
    while (end - p >= 8) {
        uint64_t x = load8(b + p);

        if (has_less(x, 0x20) | has_byte(x, 0x7f))
            break;
        p += 8;
    }
    return p;
}

/* Skip 8-byte words of target bytes (0x21..0x7e but '?' and '#'). */
static inline size_t skip_target_words(const unsigned char *b, size_t p, size_t end)
{
    while (end - p >= 8) {
        uint64_t x = load8(b + p);

        if (has_less(x, 0x21) | (x & HIGHS) | has_byte(x, 0x7f) | has_byte(x, '?') |
            has_byte(x, '#'))
            break;
        p += 8;
    }
    return p;
}

static inline int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static inline unsigned hexval(unsigned char c)
{
    return IS_DIGIT(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

static inline unsigned char lower(unsigned char c)
{
    return IN(c, 'A', 'Z') ? (unsigned char)(c | 0x20) : c;
}

int hp_span_ieq(const char *buf, hp_span_t s, const char *lowername)
{
    const unsigned char *p = (const unsigned char *)buf + s.off;
    uint32_t i;

    for (i = 0; i < s.len; i++) {
        if (lowername[i] == '\0' || lower(p[i]) != (unsigned char)lowername[i])
            return 0;
    }
    return lowername[s.len] == '\0';
}

static hp_span_t span(size_t off, size_t len)
{
    hp_span_t s = {(uint32_t)off, (uint32_t)len};
    return s;
}

/* ---- request head ------------------------------------------------------ */

enum {
    S_START,    /* before the request line; skipping empty lines */
    S_START_LF, /* after a CR of a leading empty line */
    S_METHOD,
    S_TARGET,
    S_VERSION,
    S_FIELD_START, /* at the start of a field line or of the final CRLF */
    S_NAME,
    S_OWS,      /* after the colon */
    S_VALUE,
    S_VALUE_LF, /* after the CR ending a field line */
    S_END_LF,   /* after the CR of the empty line */
    S_DONE,
    S_FAILED
};

static int fail(hp_request_t *r, int status, const char *why)
{
    r->status = status;
    r->error = why;
    r->state = S_FAILED;
    return HP_ERROR;
}

/* What scan_field_line() found, besides HP_INCOMPLETE. */
enum {
    FL_FIELD = 1, /* a whole field line, in *h */
    FL_END,       /* the empty line that ends the head */
    FL_FULL,      /* a field starts and h is NULL: no room for it */
    FL_ERROR      /* malformed; *why says how */
};

/*
 * The field section, shared by requests and responses: scans b[*pp..end)
 * from *state (S_FIELD_START .. S_VALUE_LF or S_END_LF) through one field
 * line or the final empty line, and leaves *pp and *state where it
 * stopped, so a later call with more bytes resumes. The spans of a field
 * in progress live in *h, which must be the same slot on resumption.
 * Field names are tokens with no whitespace before the colon; values are
 * HTAB, SP, VCHAR and obs-text with leading and trailing OWS trimmed; a
 * line starting with whitespace (obs-fold) is refused; lines end in CRLF
 * only. Forced inline: as a call it cost the request parser about 7% more
 * instructions per typical request (cachegrind); inlined, none.
 */
static inline __attribute__((always_inline)) int
scan_field_line(const unsigned char *b, size_t *pp, size_t end, int *state, hp_header_t *h, const char **why)
{
    size_t p = *pp, q;
    int rc;

    switch (*state) {
    case S_FIELD_START:
        if (p >= end)
            goto more;
        if (b[p] == '\r') {
            p++;
            *state = S_END_LF;
            goto end_lf;
        }
        if (!(cls[b[p]] & C_TCHAR)) {
            *why = is_ows(b[p]) ? "line folding or whitespace before a field" : "malformed field name";
            return FL_ERROR;
        }
        if (h == NULL)
            return FL_FULL;
        h->name.off = (uint32_t)p;
        *state = S_NAME;
        /* fall through */
    case S_NAME:
        while (p < end && (cls[b[p]] & C_TCHAR))
            p++;
        if (p >= end)
            goto more;
        if (b[p] != ':') {
            *why = is_ows(b[p]) ? "whitespace before colon" : "malformed field name";
            return FL_ERROR;
        }
        h->name.len = (uint32_t)(p - h->name.off);
        p++;
        *state = S_OWS;
        /* fall through */
    case S_OWS:
        while (p < end && is_ows(b[p]))
            p++;
        if (p >= end)
            goto more;
        h->value.off = (uint32_t)p;
        *state = S_VALUE;
        /* fall through */
    case S_VALUE:
        p = skip_field_words(b, p, end);
        while (p < end && (cls[b[p]] & C_FIELD))
            p++;
        if (p >= end)
            goto more;
        if (b[p] != '\r') {
            *why = "control byte in field value";
            return FL_ERROR;
        }
        for (q = p; q > h->value.off && is_ows(b[q - 1]); q--)
            ;
        h->value.len = (uint32_t)(q - h->value.off);
        p++;
        *state = S_VALUE_LF;
        /* fall through */
    case S_VALUE_LF:
        if (p >= end)
            goto more;
        if (b[p] != '\n') {
            *why = "bare CR in field line";
            return FL_ERROR;
        }
        p++;
        *state = S_FIELD_START;
        rc = FL_FIELD;
        break;
    default: /* S_END_LF */
    end_lf:
        if (p >= end)
            goto more;
        if (b[p] != '\n') {
            *why = "bare CR";
            return FL_ERROR;
        }
        p++;
        rc = FL_END;
        break;
    }
    *pp = p;
    return rc;
more:
    *pp = p;
    return HP_INCOMPLETE;
}

void hp_request_init(hp_request_t *r)
{
    /* headers[] is left alone: only the first nheaders entries are valid. */
    r->method = r->target = r->path = r->query = r->authority = span(0, 0);
    r->has_query = 0;
    r->version_minor = 0;
    r->nheaders = 0;
    r->content_length = -1;
    r->chunked = 0;
    r->keep_alive = 0;
    r->expect_continue = 0;
    r->is_head = 0;
    r->asterisk = 0;
    r->status = 0;
    r->error = NULL;
    r->pos = 0;
    r->state = S_START;
}

/* A zero limit means none; offsets are 32-bit and the result is an int. */
static size_t eff_limit(const hp_limits_t *lim, int uri)
{
    size_t v = lim ? (uri ? lim->max_uri_bytes : lim->max_header_bytes) : 0;
    return (v == 0 || v > INT_MAX) ? INT_MAX : v;
}

/*
 * Validate host [":" port] (RFC 3986 section 3.2.2): an IP-literal in
 * brackets or a non-empty reg-name with valid %-escapes, then an optional
 * port of digits. Userinfo ('@'), '/', '?', whitespace and controls fail.
 */
static int valid_authority(const unsigned char *b, hp_span_t s)
{
    size_t i = s.off, e = (size_t)s.off + s.len;

    if (i < e && b[i] == '[') {
        for (i++; i < e && b[i] != ']'; i++) {
            if (!(cls[b[i]] & C_REGNAME) && b[i] != ':')
                return 0;
        }
        if (i >= e || i == (size_t)s.off + 1)
            return 0;
        i++;
    } else {
        while (i < e && (cls[b[i]] & C_REGNAME)) {
            if (b[i] == '%') {
                if (e - i < 3 || !(cls[b[i + 1]] & C_HEX) || !(cls[b[i + 2]] & C_HEX))
                    return 0;
                i += 3;
            } else {
                i++;
            }
        }
        if (i == s.off)
            return 0; /* empty host */
    }
    if (i < e) {
        if (b[i] != ':')
            return 0;
        for (i++; i < e && IS_DIGIT(b[i]); i++)
            ;
    }
    return i == e;
}

/* Split the complete request-target into its form, path and query. */
static int split_target(hp_request_t *r, const unsigned char *b)
{
    size_t t = r->target.off, n = r->target.len;
    size_t end = r->has_query ? (size_t)r->query.off - 1 : t + n; /* end of path part */
    size_t a, p;

    if (r->has_query)
        r->query.len = (uint32_t)(t + n - r->query.off);
    if (b[t] == '/') {
        r->path = span(t, end - t);
        return HP_OK;
    }
    if (n == 1 && b[t] == '*') {
        if (r->method.len != 7 || memcmp(b + r->method.off, "OPTIONS", 7) != 0)
            return fail(r, 400, "asterisk-form target with a method other than OPTIONS");
        r->asterisk = 1;
        r->path = r->target;
        return HP_OK;
    }
    /* absolute-form: scheme "://" authority [path] ["?" query] */
    if (end - t >= 7 && hp_span_ieq((const char *)b, span(t, 7), "http://"))
        a = t + 7;
    else if (end - t >= 8 && hp_span_ieq((const char *)b, span(t, 8), "https://"))
        a = t + 8;
    else
        return fail(r, 400, "unsupported request-target form");
    for (p = a; p < end && b[p] != '/'; p++)
        ;
    r->authority = span(a, p - a);
    if (!valid_authority(b, r->authority))
        return fail(r, 400, "invalid authority in absolute-form target");
    /* An empty path reads as "/": borrow the slash that ends "://". */
    r->path = p < end ? span(p, end - p) : span(a - 1, 1);
    return HP_OK;
}

/*
 * Iterate over the comma-separated elements of a field value. Yields each
 * element with OWS trimmed (possibly empty); returns 0 when done.
 */
typedef struct {
    const unsigned char *b;
    size_t i, e;
    int done;
} list_iter_t;

static void list_start(list_iter_t *it, const unsigned char *b, hp_span_t v)
{
    it->b = b;
    it->i = v.off;
    it->e = (size_t)v.off + v.len;
    it->done = 0;
}

static int list_next(list_iter_t *it, hp_span_t *el)
{
    size_t s, q;

    if (it->done)
        return 0;
    for (s = it->i; s < it->e && is_ows(it->b[s]); s++)
        ;
    for (q = s; q < it->e && it->b[q] != ','; q++)
        ;
    it->done = q >= it->e;
    it->i = q + 1;
    while (q > s && is_ows(it->b[q - 1]))
        q--;
    *el = span(s, q - s);
    return 1;
}

/*
 * Every element must be 1*DIGIT, at most 2^62, all equal to *cl (or set it
 * when it is -1). HP_OK, or HP_ERROR with *why set.
 */
static int parse_content_length(int64_t *cl, const unsigned char *b, hp_span_t v, const char **why)
{
    list_iter_t it;
    hp_span_t el;

    list_start(&it, b, v);
    while (list_next(&it, &el)) {
        int64_t n = 0;
        size_t i;

        if (el.len == 0) {
            *why = "empty Content-Length";
            return HP_ERROR;
        }
        for (i = el.off; i < (size_t)el.off + el.len; i++) {
            if (!IS_DIGIT(b[i])) {
                *why = "Content-Length is not a plain number";
                return HP_ERROR;
            }
            if (n > ((INT64_C(1) << 62) - (b[i] - '0')) / 10) {
                *why = "Content-Length too large";
                return HP_ERROR;
            }
            n = n * 10 + (b[i] - '0');
        }
        if (*cl >= 0 && *cl != n) {
            *why = "conflicting Content-Length values";
            return HP_ERROR;
        }
        *cl = n;
    }
    return HP_OK;
}

/* Connection: note the "close" and "keep-alive" options (case-insensitive). */
static void scan_connection(const unsigned char *b, hp_span_t v, int *close, int *keep)
{
    list_iter_t it;
    hp_span_t el;

    list_start(&it, b, v);
    while (list_next(&it, &el)) {
        if (hp_span_ieq((const char *)b, el, "close"))
            *close = 1;
        else if (hp_span_ieq((const char *)b, el, "keep-alive"))
            *keep = 1;
    }
}

typedef struct {
    unsigned seen : 1;       /* a Transfer-Encoding field was present */
    unsigned bad : 1;        /* an empty element */
    unsigned last_chunked : 1;
    unsigned other : 1;      /* a coding other than plain "chunked" */
    unsigned nchunked;
} te_state_t;

static void scan_transfer_encoding(te_state_t *te, const unsigned char *b, hp_span_t v)
{
    list_iter_t it;
    hp_span_t el;

    te->seen = 1;
    list_start(&it, b, v);
    while (list_next(&it, &el)) {
        if (el.len == 0) {
            te->bad = 1;
        } else if (hp_span_ieq((const char *)b, el, "chunked")) {
            te->nchunked++;
            te->last_chunked = 1;
        } else {
            te->other = 1;
            te->last_chunked = 0;
        }
    }
}

static int finish_transfer_encoding(hp_request_t *r, const te_state_t *te)
{
    if (r->content_length >= 0)
        return fail(r, 400, "both Content-Length and Transfer-Encoding");
    if (r->version_minor == 0)
        return fail(r, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (te->bad)
        return fail(r, 400, "empty Transfer-Encoding element");
    if (!te->last_chunked)
        return fail(r, 400, "final transfer coding is not chunked");
    if (te->nchunked > 1)
        return fail(r, 400, "chunked applied more than once");
    if (te->other)
        return fail(r, 501, "unsupported transfer coding");
    r->chunked = 1;
    return HP_OK;
}

/* Checks that need the whole head: framing, Host, Connection, Expect. */
static int check_head(hp_request_t *r, const unsigned char *b)
{
    const char *cb = (const char *)b;
    te_state_t te = {0};
    unsigned nhost = 0, i;
    hp_span_t host = span(0, 0);
    int conn_close = 0, conn_keep = 0;
    const char *why;
    list_iter_t it;
    hp_span_t el;

    for (i = 0; i < r->nheaders; i++) {
        const hp_header_t *h = &r->headers[i];

        switch (h->name.len) {
        case 4:
            if (hp_span_ieq(cb, h->name, "host")) {
                if (++nhost > 1)
                    return fail(r, 400, "more than one Host header");
                host = h->value;
            }
            break;
        case 6:
            if (hp_span_ieq(cb, h->name, "expect") && r->version_minor > 0) {
                /* An HTTP/1.0 expectation is ignored (RFC 9110 section 10.1.1). */
                list_start(&it, b, h->value);
                while (list_next(&it, &el)) {
                    if (el.len == 0)
                        continue;
                    if (!hp_span_ieq(cb, el, "100-continue"))
                        return fail(r, 417, "unsupported expectation");
                    r->expect_continue = 1;
                }
            }
            break;
        case 10:
            if (hp_span_ieq(cb, h->name, "connection"))
                scan_connection(b, h->value, &conn_close, &conn_keep);
            break;
        case 14:
            if (hp_span_ieq(cb, h->name, "content-length") &&
                parse_content_length(&r->content_length, b, h->value, &why) != HP_OK)
                return fail(r, 400, why);
            break;
        case 17:
            if (hp_span_ieq(cb, h->name, "transfer-encoding"))
                scan_transfer_encoding(&te, b, h->value);
            break;
        default:
            break;
        }
    }

    if (nhost == 0 && r->version_minor > 0)
        return fail(r, 400, "missing Host header");
    if (nhost == 1 && host.len > 0 && !valid_authority(b, host))
        return fail(r, 400, "invalid Host header");
    /* absolute-form already set the authority; it overrides Host. */
    if (b[r->target.off] == '/' || r->asterisk)
        r->authority = host;
    if (te.seen && finish_transfer_encoding(r, &te) != HP_OK)
        return HP_ERROR;
    if (conn_close)
        r->keep_alive = 0;
    else
        r->keep_alive = r->version_minor > 0 || conn_keep;
    r->is_head = r->method.len == 4 && memcmp(cb + r->method.off, "HEAD", 4) == 0;
    return HP_OK;
}

int hp_parse_request(hp_request_t *r, const char *buf, size_t len, const hp_limits_t *lim)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t hmax = eff_limit(lim, 0);
    size_t end = len < hmax ? len : hmax; /* never look past the head limit */
    size_t p = r->pos;

    for (;;) {
        switch (r->state) {
        case S_START:
            if (p >= end)
                goto need_more;
            if (b[p] == '\r') {
                p++;
                r->state = S_START_LF;
                continue;
            }
            if (!(cls[b[p]] & C_TCHAR))
                return fail(r, 400, "malformed request line");
            r->method.off = (uint32_t)p;
            r->state = S_METHOD;
            /* fall through */
        case S_METHOD: {
            /* No method this server could implement is longer: a longer one
             * is refused as soon as it is seen, not after 8 KiB of it. */
            size_t mend = r->method.off + HP_MAX_METHOD + 1;
            if (mend > end)
                mend = end;
            while (p < mend && (cls[b[p]] & C_TCHAR))
                p++;
            if (p - r->method.off > HP_MAX_METHOD)
                return fail(r, 501, "method too long");
            if (p >= end)
                goto need_more;
            if (b[p] != ' ')
                return fail(r, 400, "malformed method");
            r->method.len = (uint32_t)(p - r->method.off);
            if (r->method.len == 7 && memcmp(b + r->method.off, "CONNECT", 7) == 0)
                return fail(r, 501, "CONNECT is not supported");
            p++;
            r->target.off = (uint32_t)p;
            r->has_query = 0;
            r->state = S_TARGET;
        }
            /* fall through */
        case S_TARGET: {
            size_t umax = eff_limit(lim, 1);
            size_t tend = r->target.off + umax + 1; /* first byte that is too many */

            if (tend > end)
                tend = end;
            for (;;) {
                p = skip_target_words(b, p, tend);
                while (p < tend && (cls[b[p]] & C_TARGET))
                    p++;
                if (p >= tend || b[p] != '?')
                    break;
                if (!r->has_query) {
                    r->has_query = 1;
                    r->query.off = (uint32_t)(p + 1);
                }
                p++;
            }
            if (p - r->target.off > umax)
                return fail(r, 414, "request-target too long");
            if (p >= end)
                goto need_more;
            if (b[p] != ' ')
                return fail(r, 400, b[p] == '#' ? "fragment in request-target"
                                                : "invalid byte in request-target");
            r->target.len = (uint32_t)(p - r->target.off);
            if (r->target.len == 0)
                return fail(r, 400, "empty request-target");
            if (split_target(r, b) != HP_OK)
                return HP_ERROR;
            p++;
            r->state = S_VERSION;
        }
            /* fall through */
        case S_VERSION: {
            size_t avail = end - p;

            /* "HTTP/" DIGIT "." DIGIT CRLF; fail early on a wrong prefix. */
            if (memcmp(b + p, "HTTP/", avail < 5 ? avail : 5) != 0)
                return fail(r, 400, "malformed HTTP version");
            if (avail < 10)
                goto need_more;
            if (!IS_DIGIT(b[p + 5]) || b[p + 6] != '.' || !IS_DIGIT(b[p + 7]))
                return fail(r, 400, "malformed HTTP version");
            if (b[p + 8] != '\r' || b[p + 9] != '\n')
                return fail(r, 400, "request line not ended by CRLF");
            if (b[p + 5] != '1')
                return fail(r, 505, "HTTP version not supported");
            r->version_minor = b[p + 7] == '0' ? 0 : 1;
            p += 10;
            r->state = S_FIELD_START;
        }
            /* fall through */
        case S_FIELD_START:
        case S_NAME:
        case S_OWS:
        case S_VALUE:
        case S_VALUE_LF:
        case S_END_LF: {
            const char *why = NULL;
            int rc;

            /* A field in progress has its slot: only a new one can overflow. */
            for (;;) {
                hp_header_t *h = r->nheaders < HP_MAX_HEADERS ? &r->headers[r->nheaders] : NULL;

                rc = scan_field_line(b, &p, end, &r->state, h, &why);
                if (rc != FL_FIELD)
                    break;
                r->nheaders++;
            }
            if (rc == HP_INCOMPLETE)
                goto need_more;
            if (rc == FL_FULL)
                return fail(r, 431, "too many header fields");
            if (rc == FL_ERROR)
                return fail(r, 400, why);
            r->pos = p;
            r->state = S_DONE;
            if (check_head(r, b) != HP_OK)
                return HP_ERROR;
            return (int)p;
        }
        case S_START_LF:
            if (p >= end)
                goto need_more;
            if (b[p] != '\n')
                return fail(r, 400, "bare CR");
            p++;
            r->state = S_START;
            continue;
        case S_DONE:
            return (int)r->pos;
        default: /* S_FAILED: keep reporting the first error */
            return HP_ERROR;
        }
    }

need_more:
    /* Everything up to the limit is used and the head has not ended. */
    if (len >= hmax)
        return fail(r, 431, "request header section too large");
    r->pos = p;
    return HP_INCOMPLETE;
}

/* ---- response head ------------------------------------------------------ */

static int resp_fail(hp_response_t *r, const char *why)
{
    r->error = why;
    return HP_ERROR;
}

/*
 * The status line's fixed part, "HTTP/1.x NNN ", checked byte by byte so a
 * wrong byte fails at once, however few have arrived. Returns the bytes
 * checked (13 when all are there) or HP_ERROR.
 */
static int status_prefix(hp_response_t *r, const unsigned char *b, size_t end)
{
    static const char shape[] = "HTTP/#.# ### "; /* '#': DIGIT */
    size_t i, n = end < 13 ? end : 13;

    for (i = 0; i < n; i++) {
        unsigned char c = b[i];

        if (shape[i] == '#' ? !IS_DIGIT(c) : c != (unsigned char)shape[i])
            return resp_fail(r, i < 8 ? "malformed HTTP version" : "malformed status line");
        if (i == 5 && c != '1')
            return resp_fail(r, "HTTP version not supported");
        if (i == 9 && c == '0')
            return resp_fail(r, "status code below 100");
    }
    return (int)n;
}

/* Content-Length, Transfer-Encoding and Connection, one field at a time. */
static int response_field(hp_response_t *r, const unsigned char *b, const hp_header_t *h, te_state_t *te,
                          int *conn_close, int *conn_keep)
{
    const char *cb = (const char *)b, *why;

    switch (h->name.len) {
    case 10:
        if (hp_span_ieq(cb, h->name, "connection"))
            scan_connection(b, h->value, conn_close, conn_keep);
        break;
    case 14:
        if (hp_span_ieq(cb, h->name, "content-length") &&
            parse_content_length(&r->content_length, b, h->value, &why) != HP_OK)
            return resp_fail(r, why);
        break;
    case 17:
        if (hp_span_ieq(cb, h->name, "transfer-encoding"))
            scan_transfer_encoding(te, b, h->value);
        break;
    default:
        break;
    }
    return HP_OK;
}

/* Framing checks once the head is complete (see hp_parse_response()). */
static int finish_response(hp_response_t *r, const te_state_t *te, int conn_close, int conn_keep)
{
    if (te->seen) {
        if (r->content_length >= 0)
            return resp_fail(r, "both Content-Length and Transfer-Encoding");
        if (r->version_minor == 0)
            return resp_fail(r, "Transfer-Encoding in an HTTP/1.0 response");
        if (te->bad)
            return resp_fail(r, "empty Transfer-Encoding element");
        if (te->nchunked > 1)
            return resp_fail(r, "chunked applied more than once");
        r->chunked = te->last_chunked;
    }
    r->keep_alive = !conn_close && (r->version_minor > 0 || conn_keep);
    return HP_OK;
}

int hp_parse_response(hp_response_t *r, const char *buf, size_t len, hp_field_fn fn, void *arg)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t end = len < INT_MAX ? len : INT_MAX, p;
    te_state_t te = {0};
    int state = S_FIELD_START, conn_close = 0, conn_keep = 0, rc;
    const char *why = NULL;
    hp_header_t h;

    memset(r, 0, sizeof(*r));
    r->content_length = -1;
    rc = status_prefix(r, b, end);
    if (rc < 13)
        return rc == HP_ERROR ? HP_ERROR : HP_INCOMPLETE;
    r->version_minor = b[7] == '0' ? 0 : 1;
    r->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
    p = skip_field_words(b, 13, end);
    while (p < end && (cls[b[p]] & C_FIELD))
        p++;
    if (p < end && b[p] != '\r')
        return resp_fail(r, b[p] == '\n' ? "status line not ended by CRLF" : "control byte in reason phrase");
    if (p + 1 >= end)
        goto need_more;
    if (b[p + 1] != '\n')
        return resp_fail(r, "bare CR in status line");
    r->reason = span(13, p - 13);
    p += 2;

    while ((rc = scan_field_line(b, &p, end, &state, &h, &why)) == FL_FIELD) {
        if (response_field(r, b, &h, &te, &conn_close, &conn_keep) != HP_OK)
            return HP_ERROR;
        if (fn != NULL && fn(arg, r->nheaders, h.name, h.value) != 0)
            return resp_fail(r, "too many header fields");
        r->nheaders++;
    }
    if (rc == FL_ERROR)
        return resp_fail(r, why);
    if (rc == HP_INCOMPLETE)
        goto need_more;
    if (finish_response(r, &te, conn_close, conn_keep) != HP_OK)
        return HP_ERROR;
    return (int)p;

need_more:
    /* The head would end past INT_MAX: its length could not be returned. */
    if (len >= INT_MAX)
        return resp_fail(r, "response head too large");
    return HP_INCOMPLETE;
}

/* ---- chunked body -------------------------------------------------------- */

enum {
    CS_SIZE0,   /* first HEXDIG of a chunk-size */
    CS_SIZE,
    CS_SIZE_WS, /* BWS after the size: only ";" may follow */
    CS_EXT,
    CS_SIZE_LF,
    CS_DATA,
    CS_DATA_CR,
    CS_DATA_LF,
    CS_TR_START, /* start of a trailer line or of the final CRLF */
    CS_TR_NAME,
    CS_TR_VALUE,
    CS_TR_LF,
    CS_END_LF,
    CS_DONE,
    CS_FAILED
};

void hp_chunked_init(hp_chunked_t *c)
{
    c->remaining = 0;
    c->trailer_bytes = 0;
    c->state = CS_SIZE0;
    c->hex_digits = 0;
}

ssize_t hp_chunked_decode(hp_chunked_t *c, char *buf, size_t *len, size_t max_trailer_bytes)
{
    unsigned char *b = (unsigned char *)buf;
    size_t n = *len, i = 0, w = 0, s, left;

    if (c->state == CS_DONE) {
        *len = 0;
        return (ssize_t)n;
    }
    while (i < n) {
        switch (c->state) {
        case CS_SIZE0:
            if (!(cls[b[i]] & C_HEX))
                goto bad;
            c->remaining = 0;
            c->hex_digits = 0;
            c->state = CS_SIZE;
            /* fall through */
        case CS_SIZE:
            while (i < n && (cls[b[i]] & C_HEX)) {
                if (++c->hex_digits > 16)
                    goto bad;
                c->remaining = (c->remaining << 4) | hexval(b[i]);
                i++;
            }
            if (i >= n)
                goto out;
            if (c->remaining > (uint64_t)INT64_MAX)
                goto bad; /* must fit an off_t / int64_t downstream */
            c->trailer_bytes = 0; /* counts this chunk's extension bytes */
            if (b[i] == '\r')
                c->state = CS_SIZE_LF;
            else if (is_ows(b[i]))
                c->state = CS_SIZE_WS;
            else if (b[i] == ';')
                c->state = CS_EXT;
            else
                goto bad;
            i++;
            continue;
        case CS_SIZE_WS:
            for (s = i; i < n && is_ows(b[i]); i++)
                ;
            c->trailer_bytes += i - s;
            if (c->trailer_bytes > max_trailer_bytes)
                goto bad;
            if (i >= n)
                goto out;
            if (b[i] != ';')
                goto bad;
            i++;
            c->state = CS_EXT;
            continue;
        case CS_EXT:
            /* chunk-ext is ignored: accept any field-value bytes up to CR. */
            for (s = i; i < n && (cls[b[i]] & C_FIELD); i++)
                ;
            c->trailer_bytes += i - s;
            if (c->trailer_bytes > max_trailer_bytes)
                goto bad;
            if (i >= n)
                goto out;
            if (b[i] != '\r')
                goto bad;
            i++;
            c->state = CS_SIZE_LF;
            continue;
        case CS_SIZE_LF:
            if (b[i++] != '\n')
                goto bad;
            c->trailer_bytes = 0;
            c->state = c->remaining ? CS_DATA : CS_TR_START;
            continue;
        case CS_DATA:
            s = n - i < c->remaining ? n - i : (size_t)c->remaining;
            if (w != i)
                memmove(b + w, b + i, s);
            w += s;
            i += s;
            c->remaining -= s;
            if (c->remaining == 0)
                c->state = CS_DATA_CR;
            continue;
        case CS_DATA_CR:
            if (b[i++] != '\r')
                goto bad;
            c->state = CS_DATA_LF;
            continue;
        case CS_DATA_LF:
            if (b[i++] != '\n')
                goto bad;
            c->state = CS_SIZE0;
            continue;
        case CS_TR_START:
            if (b[i] == '\r') {
                i++;
                c->state = CS_END_LF;
                continue;
            }
            if (!(cls[b[i]] & C_TCHAR))
                goto bad;
            c->state = CS_TR_NAME;
            /* fall through */
        case CS_TR_NAME:
            for (s = i; i < n && (cls[b[i]] & C_TCHAR); i++)
                ;
            c->trailer_bytes += i - s;
            if (c->trailer_bytes > max_trailer_bytes)
                goto bad;
            if (i >= n)
                goto out;
            if (b[i] != ':')
                goto bad;
            i++;
            c->trailer_bytes++;
            c->state = CS_TR_VALUE;
            continue;
        case CS_TR_VALUE:
            for (s = i; i < n && (cls[b[i]] & C_FIELD); i++)
                ;
            c->trailer_bytes += i - s;
            if (c->trailer_bytes > max_trailer_bytes)
                goto bad;
            if (i >= n)
                goto out;
            if (b[i] != '\r')
                goto bad;
            i++;
            c->state = CS_TR_LF;
            continue;
        case CS_TR_LF:
            if (b[i++] != '\n')
                goto bad;
            c->state = CS_TR_START;
            continue;
        case CS_END_LF:
            if (b[i++] != '\n')
                goto bad;
            c->state = CS_DONE;
            left = n - i;
            if (left && w != i)
                memmove(b + w, b + i, left);
            *len = w;
            return (ssize_t)left;
        default: /* CS_FAILED */
            goto bad;
        }
    }
out:
    *len = w;
    return HP_INCOMPLETE;
bad:
    c->state = CS_FAILED;
    *len = w;
    return HP_ERROR;
}

/* ---- path normalisation ------------------------------------------------- */

int hp_path_normalize(const char *in, size_t len, char *out, size_t *outlen)
{
    size_t i, n = 0, r, w, e;

    if (len == 0 || in[0] != '/')
        return HP_ERROR;
    /* Decode first (in and out may be the same buffer: n <= i). */
    for (i = 0; i < len;) {
        unsigned char c = (unsigned char)in[i];

        if (c == '%') {
            if (len - i < 3 || !(cls[(unsigned char)in[i + 1]] & C_HEX) ||
                !(cls[(unsigned char)in[i + 2]] & C_HEX))
                return HP_ERROR;
            c = (unsigned char)(hexval((unsigned char)in[i + 1]) << 4 |
                                hexval((unsigned char)in[i + 2]));
            i += 3;
        } else {
            i++;
        }
        if (c < 0x20 || c == 0x7f)
            return HP_ERROR;
        out[n++] = (char)c;
    }

    /*
     * remove_dot_segments over "/"-led segments, in place (w <= r): "." is
     * dropped, ".." drops the previous output segment, and either one as the
     * last segment leaves a trailing "/". ".." with nothing to drop would
     * climb above the root: refuse rather than clamp.
     */
    for (r = 0, w = 0; r < n; r = e) {
        size_t sl;

        for (e = r + 1; e < n && out[e] != '/'; e++)
            ;
        sl = e - r - 1;
        if (sl == 1 && out[r + 1] == '.') {
            if (e == n)
                out[w++] = '/';
        } else if (sl == 2 && out[r + 1] == '.' && out[r + 2] == '.') {
            if (w == 0)
                return HP_ERROR;
            while (out[--w] != '/')
                ;
            if (e == n)
                out[w++] = '/';
        } else {
            if (w != r)
                memmove(out + w, out + r, e - r);
            w += e - r;
        }
    }
    *outlen = w;
    return HP_OK;
}
