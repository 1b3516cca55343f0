/*
 * Unit tests for server/http_parse.c: table-driven request, chunked and path
 * cases, plus resumability (every input fed whole, byte by byte and split
 * at every position must give the same result).
 *
 * Every parse copies the input into an exact-size heap buffer, so a read
 * past the given length shows up under AddressSanitizer.
 */
#include "http_parse.h"
#include "request.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const hp_limits_t test_limits = {.max_uri_bytes = 256, .max_header_bytes = 2048};

/* Parse raw[0..len) in a fresh request, from an exact-size copy. */
static int parse_whole(hp_request_t *r, const char *raw, size_t len, const hp_limits_t *lim)
{
    char *b = malloc(len ? len : 1);
    int rc;

    memcpy(b, raw, len);
    hp_request_init(r);
    rc = hp_parse_request(r, b, len, lim);
    free(b);
    return rc;
}

/*
 * Feed raw to one request in growing prefixes: first `step` bytes, then
 * `step` more, ... Each call gets a new exact-size copy, as if the caller's
 * buffer had been reallocated. Returns the first result that is not
 * HP_INCOMPLETE (or HP_INCOMPLETE if the input ran out).
 */
static int parse_steps(hp_request_t *r, const char *raw, size_t len, size_t first, size_t step,
                       const hp_limits_t *lim)
{
    size_t have = first < len ? first : len;
    int rc;

    hp_request_init(r);
    for (;;) {
        char *b = malloc(have ? have : 1);

        memcpy(b, raw, have);
        rc = hp_parse_request(r, b, have, lim);
        free(b);
        if (rc != HP_INCOMPLETE || have == len)
            return rc;
        have = have + step < len ? have + step : len;
    }
}

static int span_is(const char *buf, hp_span_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(buf + s.off, want, s.len) == 0;
}

#define CHECK_SPAN(buf, sp, want, what)                                                            \
    ck_assert_msg(span_is(buf, sp, want), "case %d: %s is '%.*s', want '%s'", _i, what,            \
                  (int)(sp).len, (buf) + (sp).off, want)

/* ---- valid requests ------------------------------------------------------ */

typedef struct {
    const char *raw;
    const char *method, *path;
    const char *query; /* NULL: no '?' */
    const char *authority;
    int minor;
    unsigned nheaders;
    int64_t cl;
    int chunked, keep_alive, expect, head, asterisk;
} valid_case_t;

#define H "Host: a\r\n"
static const valid_case_t valid_cases[] = {
    {"GET / HTTP/1.1\r\n" H "\r\n", "GET", "/", NULL, "a", 1, 1, -1, 0, 1, 0, 0, 0},
    {"GET /x/y?a=1&b=2 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", "GET", "/x/y", "a=1&b=2",
     "example.com:8080", 1, 1, -1, 0, 1, 0, 0, 0},
    {"GET /? HTTP/1.1\r\n" H "\r\n", "GET", "/", "", "a", 1, 1, -1, 0, 1, 0, 0, 0},
    {"GET /a?b?c HTTP/1.1\r\n" H "\r\n", "GET", "/a", "b?c", "a", 1, 1, -1, 0, 1, 0, 0, 0},
    {"HEAD /h HTTP/1.1\r\n" H "\r\n", "HEAD", "/h", NULL, "a", 1, 1, -1, 0, 1, 0, 1, 0},
    {"HEADX / HTTP/1.1\r\n" H "\r\n", "HEADX", "/", NULL, "a", 1, 1, -1, 0, 1, 0, 0, 0},
    {"GET / HTTP/1.0\r\n\r\n", "GET", "/", NULL, "", 0, 0, -1, 0, 0, 0, 0, 0},
    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", "/", NULL, "", 0, 1, -1, 0, 1, 0,
     0, 0},
    {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\n\r\n", "GET", "/", NULL, "h", 0, 2,
     -1, 0, 1, 0, 0, 0},
    {"GET / HTTP/1.1\r\n" H "Connection: close\r\n\r\n", "GET", "/", NULL, "a", 1, 2, -1, 0, 0, 0,
     0, 0},
    {"GET / HTTP/1.1\r\n" H "Connection: keep-alive, CLOSE\r\n\r\n", "GET", "/", NULL, "a", 1, 2,
     -1, 0, 0, 0, 0, 0},
    {"GET / HTTP/1.1\r\n" H "Connection: Upgrade\r\n\r\n", "GET", "/", NULL, "a", 1, 2, -1, 0, 1,
     0, 0, 0},
    {"GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n", "GET", "/", NULL, "", 0, 1, -1, 0,
     0, 0, 0, 0},
    {"POST /p HTTP/1.1\r\n" H "Content-Length: 42\r\n\r\n", "POST", "/p", NULL, "a", 1, 2, 42, 0,
     1, 0, 0, 0},
    {"POST /p HTTP/1.1\r\n" H "Content-Length: 5\r\ncontent-length: 5\r\n\r\n", "POST", "/p", NULL,
     "a", 1, 3, 5, 0, 1, 0, 0, 0},
    {"POST /p HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\n", "POST", "/p", NULL, "a", 1, 2, 5, 0,
     1, 0, 0, 0},
    {"POST /p HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n", "POST", "/p", NULL, "a", 1, 2, 0, 0, 1,
     0, 0, 0},
    {"POST /p HTTP/1.1\r\n" H "Content-Length: 007\r\n\r\n", "POST", "/p", NULL, "a", 1, 2, 7, 0,
     1, 0, 0, 0},
    {"POST /p HTTP/1.1\r\n" H "Content-Length: 4611686018427387904\r\n\r\n", "POST", "/p", NULL,
     "a", 1, 2, INT64_C(4611686018427387904), 0, 1, 0, 0, 0},
    {"POST /p HTTP/1.0\r\nContent-Length: 3\r\n\r\n", "POST", "/p", NULL, "", 0, 1, 3, 0, 0, 0, 0,
     0},
    {"POST /p HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n", "POST", "/p", NULL, "a", 1, 2,
     -1, 1, 1, 0, 0, 0},
    {"POST /p HTTP/1.1\r\n" H "Transfer-Encoding:  CHUNKED \t\r\n\r\n", "POST", "/p", NULL, "a", 1,
     2, -1, 1, 1, 0, 0, 0},
    {"POST / HTTP/1.1\r\n" H "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n", "POST", "/",
     NULL, "a", 1, 3, 3, 0, 1, 1, 0, 0},
    {"POST / HTTP/1.1\r\n" H "expect: 100-Continue\r\nContent-Length: 3\r\n\r\n", "POST", "/",
     NULL, "a", 1, 3, 3, 0, 1, 1, 0, 0},
    /* RFC 9110 section 10.1.1: a 1.0 expectation is ignored, even an unknown one. */
    {"POST / HTTP/1.0\r\nExpect: 100-continue\r\nExpect: x\r\n\r\n", "POST", "/", NULL, "", 0, 2,
     -1, 0, 0, 0, 0, 0},
    {"GET http://example.com/a?b HTTP/1.1\r\nHost: other\r\n\r\n", "GET", "/a", "b", "example.com",
     1, 1, -1, 0, 1, 0, 0, 0},
    {"GET HTTPS://Example.com HTTP/1.1\r\n" H "\r\n", "GET", "/", NULL, "Example.com", 1, 1, -1, 0,
     1, 0, 0, 0},
    {"GET http://h:81?q HTTP/1.1\r\n" H "\r\n", "GET", "/", "q", "h:81", 1, 1, -1, 0, 1, 0, 0, 0},
    {"GET http://[::1]:8080/x HTTP/1.1\r\n" H "\r\n", "GET", "/x", NULL, "[::1]:8080", 1, 1, -1, 0,
     1, 0, 0, 0},
    {"OPTIONS * HTTP/1.1\r\n" H "\r\n", "OPTIONS", "*", NULL, "a", 1, 1, -1, 0, 1, 0, 0, 1},
    {"\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", "GET", "/", NULL, "a", 1, 1, -1, 0, 1, 0, 0, 0},
    /* RFC 9110 section 2.5: a higher 1.x minor is handled as 1.1. */
    {"GET / HTTP/1.2\r\n" H "\r\n", "GET", "/", NULL, "a", 1, 1, -1, 0, 1, 0, 0, 0},
    {"GET / HTTP/1.9\r\n" H "\r\n", "GET", "/", NULL, "a", 1, 1, -1, 0, 1, 0, 0, 0},
    {"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "GET", "/", NULL, "[::1]:8080", 1, 1, -1, 0, 1,
     0, 0, 0},
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", "GET", "/", NULL, "", 1, 1, -1, 0, 1, 0, 0, 0},
    {"GET / HTTP/1.1\r\nHost: h:\r\n\r\n", "GET", "/", NULL, "h:", 1, 1, -1, 0, 1, 0, 0, 0},
    {"GET / HTTP/1.1\r\nHost: x%41.y-z_~\r\n\r\n", "GET", "/", NULL, "x%41.y-z_~", 1, 1, -1, 0, 1,
     0, 0, 0},
    {"GET / HTTP/1.1\r\nHost: \t a.b \t\r\n\r\n", "GET", "/", NULL, "a.b", 1, 1, -1, 0, 1, 0, 0, 0},
    {"PURGE /x HTTP/1.1\r\n" H "\r\n", "PURGE", "/x", NULL, "a", 1, 1, -1, 0, 1, 0, 0, 0},
    {"M-SEARCH /a%20b/{x}|^ HTTP/1.1\r\n" H "\r\n", "M-SEARCH", "/a%20b/{x}|^", NULL, "a", 1, 1, -1,
     0, 1, 0, 0, 0},
    {"GET //x//y HTTP/1.1\r\n" H "\r\n", "GET", "//x//y", NULL, "a", 1, 1, -1, 0, 1, 0, 0, 0},
    {"GET / HTTP/1.1\r\n" H "X-!#$%&'*+-.^_`|~: v\r\nEmpty:\r\nSp:   \r\n\r\n", "GET", "/", NULL,
     "a", 1, 4, -1, 0, 1, 0, 0, 0},
    {"GET / HTTP/1.1\r\n" H "X: caf\xc3\xa9 \xff\r\n\r\n", "GET", "/", NULL, "a", 1, 2, -1, 0, 1, 0,
     0, 0},
    {"GET / HTTP/1.1\r\n" H "Transfer-Encoding-X: gzip\r\nContent-Lengthy: x\r\n\r\n", "GET", "/",
     NULL, "a", 1, 3, -1, 0, 1, 0, 0, 0},
};
#define N_VALID (int)(sizeof(valid_cases) / sizeof(valid_cases[0]))

static void check_valid(const valid_case_t *c, const hp_request_t *r, int rc, int _i)
{
    const char *b = c->raw;

    ck_assert_msg(rc == (int)strlen(b), "case %d: rc %d, want %d (status %d: %s)", _i, rc,
                  (int)strlen(b), r->status, r->error ? r->error : "-");
    CHECK_SPAN(b, r->method, c->method, "method");
    CHECK_SPAN(b, r->path, c->path, "path");
    ck_assert_int_eq(r->has_query, c->query != NULL);
    if (c->query)
        CHECK_SPAN(b, r->query, c->query, "query");
    else
        ck_assert_uint_eq(r->query.len, 0);
    CHECK_SPAN(b, r->authority, c->authority, "authority");
    ck_assert_int_eq(r->version_minor, c->minor);
    ck_assert_uint_eq(r->nheaders, c->nheaders);
    ck_assert_int_eq(r->content_length, c->cl);
    ck_assert_int_eq(r->chunked, c->chunked);
    ck_assert_int_eq(r->keep_alive, c->keep_alive);
    ck_assert_int_eq(r->expect_continue, c->expect);
    ck_assert_int_eq(r->is_head, c->head);
    ck_assert_int_eq(r->asterisk, c->asterisk);
}

START_TEST(test_valid_whole)
{
    const valid_case_t *c = &valid_cases[_i];
    hp_request_t r;
    int rc = parse_whole(&r, c->raw, strlen(c->raw), &test_limits);

    check_valid(c, &r, rc, _i);
}
END_TEST

START_TEST(test_valid_bytewise)
{
    const valid_case_t *c = &valid_cases[_i];
    size_t n = strlen(c->raw), k;
    hp_request_t r;

    check_valid(c, &r, parse_steps(&r, c->raw, n, 1, 1, &test_limits), _i);
    /* Two pieces, split at every position. */
    for (k = 0; k <= n; k++)
        check_valid(c, &r, parse_steps(&r, c->raw, n, k, n, &test_limits), _i);
}
END_TEST

START_TEST(test_valid_no_limits)
{
    const valid_case_t *c = &valid_cases[_i];
    hp_request_t r;

    check_valid(c, &r, parse_whole(&r, c->raw, strlen(c->raw), NULL), _i);
}
END_TEST

/* ---- malformed requests -------------------------------------------------- */

typedef struct {
    const char *raw;
    int status;
    size_t len; /* 0: strlen(raw); set for inputs holding NUL */
} bad_case_t;

#define RQ "GET / HTTP/1.1\r\n"
#define POST "POST / HTTP/1.1\r\n" H
static const bad_case_t bad_cases[] = {
    /* request line */
    {"G(T / HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"G@T / HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GE\x80T / HTTP/1.1\r\n" H "\r\n", 400, 0},
    {" GET / HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET  / HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET /  HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET\t/ HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET / HTTP/1.1 \r\n" H "\r\n", 400, 0},
    {"GET /\r\n" H "\r\n", 400, 0},
    {"GET / \r\n" H "\r\n", 400, 0},
    {"GET\r\n" H "\r\n", 400, 0},
    {"GET / http/1.1\r\n" H "\r\n", 400, 0},
    {"GET / HTTP/1.10\r\n" H "\r\n", 400, 0},
    {"GET / HTTP/11\r\n" H "\r\n", 400, 0},
    {"GET / HTTP/1.\r\n" H "\r\n", 400, 0},
    {"GET / HTTP/1.x\r\n" H "\r\n", 400, 0},
    {"GET / HTTPS/1.1\r\n" H "\r\n", 400, 0},
    {"GET / HTTP/2.0\r\n" H "\r\n", 505, 0},
    {"GET / HTTP/3.0\r\n" H "\r\n", 505, 0},
    {"GET / HTTP/0.9\r\n" H "\r\n", 505, 0},
    {"GET / HTTP/1.1\n" H "\r\n", 400, 0},
    {"GET / HTTP/1.1\r" H "\r\n", 400, 0},
    {"\nGET / HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"\rGET / HTTP/1.1\r\n" H "\r\n", 400, 0},
    /* request-target */
    {"GET /a#frag HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET /a\x01 HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET /a\x7f HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET /caf\xc3\xa9 HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET /a\tb HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET /a\0b HTTP/1.1\r\n" H "\r\n", 400, sizeof("GET /a\0b HTTP/1.1\r\n" H "\r\n") - 1},
    {"GET * HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"OPTIONS *x HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"CONNECT example.com:443 HTTP/1.1\r\n" H "\r\n", 501, 0},
    {"GET example.com:80 HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET ?x HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET ftp://x/ HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET http:/x HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET http:///x HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET http://user@h/ HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET http://h:8x/ HTTP/1.1\r\n" H "\r\n", 400, 0},
    {"GET http://:80/ HTTP/1.1\r\n" H "\r\n", 400, 0},
    /* Host */
    {RQ "\r\n", 400, 0},
    {RQ "Host: a\r\nHost: a\r\n\r\n", 400, 0},
    {RQ "Host: a\r\nhost: b\r\n\r\n", 400, 0},
    {"GET http://h/ HTTP/1.1\r\n\r\n", 400, 0},
    {"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, 0},
    {RQ "Host: a b\r\n\r\n", 400, 0},
    {RQ "Host: a/b\r\n\r\n", 400, 0},
    {RQ "Host: u@h\r\n\r\n", 400, 0},
    {RQ "Host: h:8x\r\n\r\n", 400, 0},
    {RQ "Host: [::1\r\n\r\n", 400, 0},
    {RQ "Host: []\r\n\r\n", 400, 0},
    {RQ "Host: %zz\r\n\r\n", 400, 0},
    {RQ "Host: :80\r\n\r\n", 400, 0},
    /* field lines */
    {RQ "Host : a\r\n\r\n", 400, 0},
    {RQ "Host\t: a\r\n\r\n", 400, 0},
    {RQ H "X: b\r\n c\r\n\r\n", 400, 0},
    {RQ H "X: b\r\n\tc\r\n\r\n", 400, 0},
    {RQ " " H "\r\n", 400, 0},
    {RQ H "X: a\0b\r\n\r\n", 400, sizeof(RQ H "X: a\0b\r\n\r\n") - 1},
    {RQ H "X: a\x01\r\n\r\n", 400, 0},
    {RQ H "X: a\x1b[0m\r\n\r\n", 400, 0},
    {RQ H "X: a\x7f\r\n\r\n", 400, 0},
    {RQ H "X: a\rb\r\n\r\n", 400, 0},
    {RQ H "X: a\r\r\n\r\n", 400, 0},
    {RQ H "X: a\nY: b\r\n\r\n", 400, 0},
    {RQ "Host: a\n\r\n", 400, 0},
    {RQ H "\n", 400, 0},
    {RQ H "\rX", 400, 0},
    {RQ H ": v\r\n\r\n", 400, 0},
    {RQ H "X(y: v\r\n\r\n", 400, 0},
    {RQ H "X y: v\r\n\r\n", 400, 0},
    {RQ H "X\r\n\r\n", 400, 0},
    {RQ H "\x80: v\r\n\r\n", 400, 0},
    /* Content-Length */
    {POST "Content-Length: +5\r\n\r\n", 400, 0},
    {POST "Content-Length: -1\r\n\r\n", 400, 0},
    {POST "Content-Length: 5, 6\r\n\r\n", 400, 0},
    {POST "Content-Length: 1 2\r\n\r\n", 400, 0},
    {POST "Content-Length:\r\n\r\n", 400, 0},
    {POST "Content-Length: 0x10\r\n\r\n", 400, 0},
    {POST "Content-Length: 5,\r\n\r\n", 400, 0},
    {POST "Content-Length: 5.0\r\n\r\n", 400, 0},
    {POST "Content-Length: 99999999999999999999\r\n\r\n", 400, 0},
    {POST "Content-Length: 4611686018427387905\r\n\r\n", 400, 0},
    {POST "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, 0},
    /* Transfer-Encoding */
    {POST "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding: gzip\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding: identity\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding: chunked, gzip\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding: chunked, chunked\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding: chunked,\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding: ,chunked\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding:\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding: chunked;x=y\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding: xchunked\r\n\r\n", 400, 0},
    {POST "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, 0},
    {POST "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501, 0},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0},
    /* Expect */
    {POST "Expect: something\r\n\r\n", 417, 0},
    {POST "Expect: 100-continue, x\r\n\r\n", 417, 0},
};
#define N_BAD (int)(sizeof(bad_cases) / sizeof(bad_cases[0]))

static size_t bad_len(const bad_case_t *c)
{
    return c->len ? c->len : strlen(c->raw);
}

START_TEST(test_bad_whole)
{
    const bad_case_t *c = &bad_cases[_i];
    hp_request_t r;
    int rc = parse_whole(&r, c->raw, bad_len(c), &test_limits);

    ck_assert_msg(rc == HP_ERROR, "case %d: rc %d, want HP_ERROR", _i, rc);
    ck_assert_msg(r.status == c->status, "case %d: status %d (%s), want %d", _i, r.status,
                  r.error ? r.error : "-", c->status);
    ck_assert_ptr_nonnull(r.error);
    ck_assert_int_gt((int)strlen(r.error), 0);
    /* The error sticks: calling again reports it again. */
    ck_assert_int_eq(hp_parse_request(&r, c->raw, bad_len(c), &test_limits), HP_ERROR);
    ck_assert_int_eq(r.status, c->status);
}
END_TEST

START_TEST(test_bad_bytewise)
{
    const bad_case_t *c = &bad_cases[_i];
    size_t n = bad_len(c), k;
    hp_request_t r;
    int rc = parse_steps(&r, c->raw, n, 1, 1, &test_limits);

    ck_assert_msg(rc == HP_ERROR && r.status == c->status, "case %d: rc %d status %d, want %d", _i,
                  rc, r.status, c->status);
    for (k = 0; k <= n; k++) {
        rc = parse_steps(&r, c->raw, n, k, n, &test_limits);
        ck_assert_msg(rc == HP_ERROR && r.status == c->status,
                      "case %d split %zu: rc %d status %d, want %d", _i, k, rc, r.status,
                      c->status);
    }
}
END_TEST

/* ---- header spans, pipelining, limits ------------------------------------ */

START_TEST(test_header_spans)
{
    const char *raw = "GET / HTTP/1.1\r\nHost: a\r\nX-Long:  one two\t \r\nEmpty:\r\n"
                      "Sp: \t \r\nCase-Kept: V\r\n\r\n";
    hp_request_t r;

    ck_assert_int_eq(parse_whole(&r, raw, strlen(raw), &test_limits), (int)strlen(raw));
    ck_assert_uint_eq(r.nheaders, 5);
    ck_assert(span_is(raw, r.headers[0].name, "Host"));
    ck_assert(span_is(raw, r.headers[0].value, "a"));
    ck_assert(span_is(raw, r.headers[1].name, "X-Long"));
    ck_assert(span_is(raw, r.headers[1].value, "one two"));
    ck_assert(span_is(raw, r.headers[2].name, "Empty"));
    ck_assert_uint_eq(r.headers[2].value.len, 0);
    ck_assert_uint_eq(r.headers[3].value.len, 0);
    ck_assert(span_is(raw, r.headers[4].name, "Case-Kept"));
    ck_assert(span_is(raw, r.headers[4].value, "V"));
    ck_assert(span_is(raw, r.target, "/"));
}
END_TEST

START_TEST(test_pipelined_and_done)
{
    const char *first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *raw = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    hp_request_t r;
    int rc = parse_whole(&r, raw, strlen(raw), &test_limits);

    ck_assert_int_eq(rc, (int)strlen(first));
    ck_assert(span_is(raw, r.path, "/1"));
    /* A finished parse keeps answering with the same head length. */
    ck_assert_int_eq(hp_parse_request(&r, raw, strlen(raw), &test_limits), rc);
    /* The next request starts at rc. */
    hp_request_init(&r);
    ck_assert_int_eq(hp_parse_request(&r, raw + rc, strlen(raw) - rc, &test_limits),
                     (int)strlen(first));
    ck_assert(span_is(raw + rc, r.path, "/2"));
}
END_TEST

START_TEST(test_incomplete_prefixes)
{
    const char *raw = "POST /x?y HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
    size_t n = strlen(raw), k;
    hp_request_t r;

    for (k = 0; k < n; k++)
        ck_assert_msg(parse_whole(&r, raw, k, &test_limits) == HP_INCOMPLETE, "prefix %zu", k);
}
END_TEST

static char *repeat(const char *head, char fill, size_t count, const char *tail)
{
    size_t h = strlen(head), t = strlen(tail);
    char *s = malloc(h + count + t + 1);

    memcpy(s, head, h);
    memset(s + h, fill, count);
    memcpy(s + h + count, tail, t + 1);
    return s;
}

START_TEST(test_uri_limit)
{
    hp_limits_t lim = {.max_uri_bytes = 64, .max_header_bytes = 1024};
    hp_request_t r;
    char *ok = repeat("GET /", 'a', 63, " HTTP/1.1\r\nHost: a\r\n\r\n");
    char *big = repeat("GET /", 'a', 64, " HTTP/1.1\r\nHost: a\r\n\r\n");
    char *partial = repeat("GET /", 'a', 64, "");
    char *short_partial = repeat("GET /", 'a', 63, "");

    ck_assert_int_eq(parse_whole(&r, ok, strlen(ok), &lim), (int)strlen(ok));
    ck_assert_uint_eq(r.target.len, 64);
    ck_assert_int_eq(parse_whole(&r, big, strlen(big), &lim), HP_ERROR);
    ck_assert_int_eq(r.status, 414);
    /* Detected before the request line ends. */
    ck_assert_int_eq(parse_whole(&r, partial, strlen(partial), &lim), HP_ERROR);
    ck_assert_int_eq(r.status, 414);
    ck_assert_int_eq(parse_steps(&r, partial, strlen(partial), 1, 1, &lim), HP_ERROR);
    ck_assert_int_eq(r.status, 414);
    ck_assert_int_eq(parse_whole(&r, short_partial, strlen(short_partial), &lim), HP_INCOMPLETE);
    /* The query counts toward the limit. */
    free(big);
    big = repeat("GET /?", 'q', 63, " HTTP/1.1\r\nHost: a\r\n\r\n");
    ck_assert_int_eq(parse_whole(&r, big, strlen(big), &lim), HP_ERROR);
    ck_assert_int_eq(r.status, 414);
    free(ok);
    free(big);
    free(partial);
    free(short_partial);
}
END_TEST

/* A method is refused with 501 once it passes HP_MAX_METHOD bytes, also
 * before its end has arrived; one of exactly that length is accepted. */
START_TEST(test_method_limit)
{
    hp_request_t r;
    char *ok = repeat("", 'M', HP_MAX_METHOD, " / HTTP/1.1\r\nHost: a\r\n\r\n");
    char *big = repeat("", 'M', HP_MAX_METHOD + 1, " / HTTP/1.1\r\nHost: a\r\n\r\n");
    char *partial = repeat("", 'M', HP_MAX_METHOD + 1, "");
    char *huge = repeat("", 'A', 2100, " / HTTP/1.1\r\nHost: a\r\n\r\n");

    ck_assert_int_eq(parse_whole(&r, ok, strlen(ok), NULL), (int)strlen(ok));
    ck_assert_uint_eq(r.method.len, HP_MAX_METHOD);
    ck_assert_int_eq(parse_whole(&r, big, strlen(big), NULL), HP_ERROR);
    ck_assert_int_eq(r.status, 501);
    ck_assert_int_eq(parse_whole(&r, partial, strlen(partial), NULL), HP_ERROR);
    ck_assert_int_eq(r.status, 501);
    ck_assert_int_eq(parse_steps(&r, huge, strlen(huge), 1, 1, NULL), HP_ERROR);
    ck_assert_int_eq(r.status, 501);
    free(ok);
    free(big);
    free(partial);
    free(huge);
}
END_TEST

START_TEST(test_header_limit)
{
    const char *pre = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
    size_t fixed = strlen(pre) + 4; /* "\r\n\r\n" */
    hp_limits_t lim = {.max_uri_bytes = 64, .max_header_bytes = 256};
    hp_request_t r;
    char *exact = repeat(pre, 'v', 256 - fixed, "\r\n\r\n");
    char *over = repeat(pre, 'v', 257 - fixed, "\r\n\r\n");
    char *endless = repeat(pre, 'v', 400, "");
    char *nearly = repeat(pre, 'v', 255 - strlen(pre), "");

    ck_assert_int_eq(parse_whole(&r, exact, strlen(exact), &lim), 256);
    ck_assert_int_eq(parse_whole(&r, over, strlen(over), &lim), HP_ERROR);
    ck_assert_int_eq(r.status, 431);
    /* No end in sight and the limit passed: 431, not HP_INCOMPLETE forever. */
    ck_assert_int_eq(parse_whole(&r, endless, strlen(endless), &lim), HP_ERROR);
    ck_assert_int_eq(r.status, 431);
    ck_assert_int_eq(parse_steps(&r, endless, strlen(endless), 1, 1, &lim), HP_ERROR);
    ck_assert_int_eq(r.status, 431);
    ck_assert_int_eq(parse_whole(&r, nearly, strlen(nearly), &lim), HP_INCOMPLETE);
    free(endless);
    free(exact);
    free(over);
    free(nearly);
}
END_TEST

START_TEST(test_leading_empty_lines_count)
{
    hp_limits_t lim = {.max_uri_bytes = 64, .max_header_bytes = 64};
    hp_request_t r;
    char buf[200];
    size_t i;

    for (i = 0; i < 80; i += 2)
        memcpy(buf + i, "\r\n", 2);
    ck_assert_int_eq(parse_whole(&r, buf, 80, &lim), HP_ERROR);
    ck_assert_int_eq(r.status, 431);
    ck_assert_int_eq(parse_whole(&r, buf, 40, &lim), HP_INCOMPLETE);
}
END_TEST

static char *many_headers(unsigned n)
{
    char *s = malloc(64 + n * 16);
    size_t off = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: a\r\n");
    unsigned i;

    for (i = 1; i < n; i++)
        off += (size_t)sprintf(s + off, "X-%u: %u\r\n", i, i);
    strcpy(s + off, "\r\n");
    return s;
}

START_TEST(test_header_count_limit)
{
    hp_limits_t lim = {.max_uri_bytes = 64, .max_header_bytes = 8192};
    hp_request_t r;
    char *ok = many_headers(HP_MAX_HEADERS);
    char *over = many_headers(HP_MAX_HEADERS + 1);

    ck_assert_int_eq(parse_whole(&r, ok, strlen(ok), &lim), (int)strlen(ok));
    ck_assert_uint_eq(r.nheaders, HP_MAX_HEADERS);
    ck_assert(span_is(ok, r.headers[HP_MAX_HEADERS - 1].value, "63"));
    ck_assert_int_eq(parse_whole(&r, over, strlen(over), &lim), HP_ERROR);
    ck_assert_int_eq(r.status, 431);
    free(ok);
    free(over);
}
END_TEST

/*
 * Long values and targets are skipped a word at a time: put each special
 * byte at every position of a 40-byte run and check it is still seen.
 */
START_TEST(test_long_runs_every_position)
{
    static const struct {
        char c;
        int in_value, in_target; /* expected status, 0 = accepted */
    } bytes[] = {
        {'\t', 0, 400}, {'\x01', 400, 400}, {'\x7f', 400, 400}, {'\x80', 0, 400},
        {'\xff', 0, 400}, {'#', 0, 400},     {'?', 0, 0},        {'\0', 400, 400},
        {'\x1f', 400, 400}, {'~', 0, 0},
    };
    char raw[256];
    size_t i, pos, n;
    hp_request_t r;
    int rc;

    for (i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
        for (pos = 0; pos < 40; pos++) {
            /* In a field value (not at its ends, where OWS trimming applies). */
            n = (size_t)sprintf(raw, "GET / HTTP/1.1\r\nHost: a\r\nX: <");
            memset(raw + n, 'v', 40);
            raw[n + pos] = bytes[i].c;
            n += 40;
            n += (size_t)sprintf(raw + n, ">\r\n\r\n");
            rc = parse_whole(&r, raw, n, &test_limits);
            if (bytes[i].in_value)
                ck_assert_msg(rc == HP_ERROR && r.status == bytes[i].in_value,
                              "value byte %#x at %zu: rc %d", (unsigned char)bytes[i].c, pos, rc);
            else
                ck_assert_msg(rc == (int)n && r.headers[1].value.len == 42,
                              "value byte %#x at %zu: rc %d", (unsigned char)bytes[i].c, pos, rc);

            /* In the request-target. */
            n = (size_t)sprintf(raw, "GET /");
            memset(raw + n, 't', 40);
            raw[n + pos] = bytes[i].c;
            n += 40;
            n += (size_t)sprintf(raw + n, " HTTP/1.1\r\nHost: a\r\n\r\n");
            rc = parse_whole(&r, raw, n, &test_limits);
            if (bytes[i].in_target) {
                ck_assert_msg(rc == HP_ERROR && r.status == bytes[i].in_target,
                              "target byte %#x at %zu: rc %d", (unsigned char)bytes[i].c, pos, rc);
            } else {
                ck_assert_msg(rc == (int)n && r.target.len == 41,
                              "target byte %#x at %zu: rc %d", (unsigned char)bytes[i].c, pos, rc);
                if (bytes[i].c == '?')
                    ck_assert(r.has_query && r.path.len == pos + 1 && r.query.len == 39 - pos);
            }
        }
    }
}
END_TEST

START_TEST(test_span_ieq)
{
    const char *b = "Content-LENGTH host";
    hp_span_t cl = {0, 14}, host = {15, 4}, part = {15, 3}, empty = {0, 0};

    ck_assert(hp_span_ieq(b, cl, "content-length"));
    ck_assert(!hp_span_ieq(b, cl, "content-lengt"));
    ck_assert(!hp_span_ieq(b, cl, "content-lengthx"));
    ck_assert(hp_span_ieq(b, host, "host"));
    ck_assert(!hp_span_ieq(b, part, "host"));
    ck_assert(hp_span_ieq(b, empty, ""));
    ck_assert(!hp_span_ieq(b, empty, "a"));
}
END_TEST

/* ---- chunked ------------------------------------------------------------- */

enum { R_DONE, R_MORE, R_ERR };

typedef struct {
    const char *in;
    int result;
    const char *out;      /* decoded bytes (for R_ERR: not checked) */
    const char *leftover; /* R_DONE: bytes after the terminator */
} chunk_case_t;

#define CHUNK_MAX_TRAILER 64
static const chunk_case_t chunk_cases[] = {
    {"0\r\n\r\n", R_DONE, "", ""},
    {"5\r\nhello\r\n0\r\n\r\n", R_DONE, "hello", ""},
    {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", R_DONE, "hello world", ""},
    {"A\r\n0123456789\r\n0\r\n\r\n", R_DONE, "0123456789", ""},
    {"a\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n", R_DONE, "0123456789!", ""},
    {"000\r\n\r\n", R_DONE, "", ""},
    {"0000000000000005\r\nhello\r\n0\r\n\r\n", R_DONE, "hello", ""},
    {"5;name=value\r\nhello\r\n0;last\r\n\r\n", R_DONE, "hello", ""},
    {"5 ;a=\"q v\"\r\nhello\r\n0\r\n\r\n", R_DONE, "hello", ""},
    {"5\t; a ; b=c\r\nhello\r\n0\r\n\r\n", R_DONE, "hello", ""},
    {"0\r\nX-Sum: abc\r\nY: \r\n\r\n", R_DONE, "", ""},
    {"2\r\nok\r\n0\r\nTrailer: \xc3\xa9\tz\r\n\r\n", R_DONE, "ok", ""},
    {"1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n", R_DONE, "a", "GET / HTTP/1.1\r\n"},
    {"0\r\n\r\n0\r\n\r\n", R_DONE, "", "0\r\n\r\n"},
    {"4\r\n\r\n\r\n\r\n0\r\n\r\n", R_DONE, "\r\n\r\n", ""},
    {"3\r\n0\r\n\r\n0\r\n\r\n", R_DONE, "0\r\n", ""},
    {"5\r\nhel", R_MORE, "hel", NULL},
    {"5\r\nhello", R_MORE, "hello", NULL},
    {"5\r\nhello\r\n0\r\n", R_MORE, "hello", NULL},
    {"5\r\nhello\r\n0\r\nX: y\r\n", R_MORE, "hello", NULL},
    {"", R_MORE, "", NULL},
    {"zz\r\n", R_ERR, NULL, NULL},
    {"\r\n", R_ERR, NULL, NULL},
    {";x\r\n", R_ERR, NULL, NULL},
    {"-5\r\nhello\r\n", R_ERR, NULL, NULL},
    {"0x5\r\nhello\r\n", R_ERR, NULL, NULL},
    {"5 \r\nhello\r\n0\r\n\r\n", R_ERR, NULL, NULL},
    {"00000000000000001\r\na\r\n0\r\n\r\n", R_ERR, NULL, NULL},
    {"8000000000000000\r\n", R_ERR, NULL, NULL},
    {"FFFFFFFFFFFFFFFF\r\n", R_ERR, NULL, NULL},
    {"5\r\nhelloX\r\n0\r\n\r\n", R_ERR, NULL, NULL},
    {"5\r\nhello\n0\r\n\r\n", R_ERR, NULL, NULL},
    {"5\r\nhello\r0\r\n\r\n", R_ERR, NULL, NULL},
    {"5\nhello\r\n0\r\n\r\n", R_ERR, NULL, NULL},
    {"5\rhello\r\n0\r\n\r\n", R_ERR, NULL, NULL},
    {"5;a\x01\r\nhello\r\n0\r\n\r\n", R_ERR, NULL, NULL},
    {"0\r\nX : v\r\n\r\n", R_ERR, NULL, NULL},
    {"0\r\nX: a\r\n b\r\n\r\n", R_ERR, NULL, NULL},
    {"0\r\nX: a\x01\r\n\r\n", R_ERR, NULL, NULL},
    {"0\r\nX: a\nY: b\r\n\r\n", R_ERR, NULL, NULL},
    {"0\r\n: v\r\n\r\n", R_ERR, NULL, NULL},
    {"0\r\nX\r\n\r\n", R_ERR, NULL, NULL},
    {"0\r\n\r\r", R_ERR, NULL, NULL},
    {"0\r\n\n", R_ERR, NULL, NULL},
    /* trailer section over CHUNK_MAX_TRAILER */
    {"0\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nY: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n",
     R_ERR, NULL, NULL},
    /* one chunk extension over CHUNK_MAX_TRAILER */
    {"1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\na\r\n0\r\n\r\n",
     R_ERR, NULL, NULL},
};
#define N_CHUNK (int)(sizeof(chunk_cases) / sizeof(chunk_cases[0]))

typedef struct {
    int result;
    char out[256];
    size_t outlen;
    char left[256];
    size_t leftlen;
} chunk_run_t;

/*
 * Decode `in` fed as pieces: the first `first` bytes, then `step` at a time.
 * Each piece is a fresh exact-size buffer. Output pieces are appended;
 * leftover = what the final call returned plus the bytes never fed.
 */
static void chunk_feed(const char *in, size_t n, size_t first, size_t step, chunk_run_t *run)
{
    hp_chunked_t c;
    size_t at = 0, piece = first;

    memset(run, 0, sizeof(*run));
    run->result = R_MORE;
    hp_chunked_init(&c);
    for (;;) {
        size_t len = piece < n - at ? piece : n - at;
        char *b = malloc(len ? len : 1);
        ssize_t rc;

        memcpy(b, in + at, len);
        rc = hp_chunked_decode(&c, b, &len, CHUNK_MAX_TRAILER);
        if (rc == HP_ERROR) {
            run->result = R_ERR;
            free(b);
            return;
        }
        ck_assert_uint_le(run->outlen + len, sizeof(run->out));
        memcpy(run->out + run->outlen, b, len);
        run->outlen += len;
        if (rc >= 0) {
            size_t before = at + (size_t)(piece < n - at ? piece : n - at);

            run->result = R_DONE;
            memcpy(run->left, b + len, (size_t)rc);
            memcpy(run->left + rc, in + before, n - before);
            run->leftlen = (size_t)rc + n - before;
            free(b);
            return;
        }
        ck_assert_int_eq(rc, HP_INCOMPLETE);
        free(b);
        at += piece < n - at ? piece : n - at;
        if (at >= n)
            return;
        piece = step;
    }
}

static void check_chunk(const chunk_case_t *c, const chunk_run_t *run, int _i, const char *how)
{
    ck_assert_msg(run->result == c->result, "case %d (%s): result %d, want %d", _i, how,
                  run->result, c->result);
    if (c->result == R_ERR)
        return;
    ck_assert_msg(run->outlen == strlen(c->out) && memcmp(run->out, c->out, run->outlen) == 0,
                  "case %d (%s): output '%.*s', want '%s'", _i, how, (int)run->outlen, run->out,
                  c->out);
    if (c->result == R_DONE)
        ck_assert_msg(run->leftlen == strlen(c->leftover) &&
                          memcmp(run->left, c->leftover, run->leftlen) == 0,
                      "case %d (%s): leftover '%.*s', want '%s'", _i, how, (int)run->leftlen,
                      run->left, c->leftover);
}

START_TEST(test_chunked_splits)
{
    const chunk_case_t *c = &chunk_cases[_i];
    size_t n = strlen(c->in), k;
    chunk_run_t run;
    char how[32];

    chunk_feed(c->in, n, n, n, &run);
    check_chunk(c, &run, _i, "whole");
    chunk_feed(c->in, n, 1, 1, &run);
    check_chunk(c, &run, _i, "bytewise");
    for (k = 0; k <= n; k++) {
        snprintf(how, sizeof(how), "split %zu", k);
        chunk_feed(c->in, n, k, n, &run);
        check_chunk(c, &run, _i, how);
    }
}
END_TEST

START_TEST(test_chunked_after_done_and_error)
{
    char buf[32];
    size_t len;
    hp_chunked_t c;

    hp_chunked_init(&c);
    memcpy(buf, "0\r\n\r\nabc", 8);
    len = 8;
    ck_assert_int_eq(hp_chunked_decode(&c, buf, &len, 0), 3);
    ck_assert_uint_eq(len, 0);
    ck_assert(memcmp(buf, "abc", 3) == 0);
    /* Once finished, everything handed in is leftover. */
    len = 3;
    ck_assert_int_eq(hp_chunked_decode(&c, buf, &len, 0), 3);
    ck_assert_uint_eq(len, 0);

    hp_chunked_init(&c);
    memcpy(buf, "g\r\n", 3);
    len = 3;
    ck_assert_int_eq(hp_chunked_decode(&c, buf, &len, 0), HP_ERROR);
    memcpy(buf, "0\r\n\r\n", 5);
    len = 5;
    ck_assert_int_eq(hp_chunked_decode(&c, buf, &len, 0), HP_ERROR);

    /* max_trailer_bytes 0: no trailers, no extensions. */
    hp_chunked_init(&c);
    memcpy(buf, "0\r\nX: y\r\n\r\n", 11);
    len = 11;
    ck_assert_int_eq(hp_chunked_decode(&c, buf, &len, 0), HP_ERROR);
}
END_TEST

START_TEST(test_chunked_large)
{
    /* A 100000-byte chunk split across many reads keeps its bytes in order. */
    size_t total = 100000, i, at, outlen = 0;
    size_t n = 0;
    char *in = malloc(total + 64), *out = malloc(total);
    hp_chunked_t c;

    n += (size_t)sprintf(in, "%zx\r\n", total);
    for (i = 0; i < total; i++)
        in[n + i] = (char)('a' + i % 26);
    n += total;
    memcpy(in + n, "\r\n0\r\n\r\n", 7);
    n += 7;
    hp_chunked_init(&c);
    for (at = 0; at < n;) {
        size_t piece = n - at < 4093 ? n - at : 4093, len = piece;
        char buf[4093];
        ssize_t rc;

        memcpy(buf, in + at, piece);
        rc = hp_chunked_decode(&c, buf, &len, 0);
        ck_assert_int_ne(rc, HP_ERROR);
        memcpy(out + outlen, buf, len);
        outlen += len;
        at += piece;
        if (rc >= 0) {
            ck_assert_int_eq(rc, 0);
            break;
        }
    }
    ck_assert_uint_eq(at, n);
    ck_assert_uint_eq(outlen, total);
    for (i = 0; i < total; i++)
        ck_assert_int_eq(out[i], 'a' + i % 26);
    free(in);
    free(out);
}
END_TEST

/* ---- path normalisation -------------------------------------------------- */

typedef struct {
    const char *in;
    const char *out; /* NULL: HP_ERROR */
} path_case_t;

static const path_case_t path_cases[] = {
    {"/", "/"},
    {"/a/b", "/a/b"},
    {"/a/b/", "/a/b/"},
    {"/../x", NULL},
    {"/..", NULL},
    {"/a/../../x", NULL},
    {"/a/../..", NULL},
    {"/./..", NULL},
    {"/%2e%2e/x", NULL},
    {"/%2E%2e%2fetc", NULL},
    {"/.%2e/x", NULL},
    {"/a/%2e/b", "/a/b"},
    {"/a//b", "/a//b"},
    {"//", "//"},
    {"/%00", NULL},
    {"/a%00b", NULL},
    {"/%zz", NULL},
    {"/%2", NULL},
    {"/%", NULL},
    {"/%g0", NULL},
    {"/%1f", NULL},
    {"/%7F", NULL},
    {"/%0a", NULL},
    {"/a\x01", NULL},
    {"/a%2fb", "/a/b"},
    {"/a%2Fb", "/a/b"},
    {"x", NULL},
    {"", NULL},
    {"%2fa", NULL},
    {".", NULL},
    {"/./", "/"},
    {"/.", "/"},
    {"/a/b/..", "/a/"},
    {"/a/b/../", "/a/"},
    {"/a/b/.", "/a/b/"},
    {"/a/./b/./c", "/a/b/c"},
    {"/a/b/../c", "/a/c"},
    {"/a/../b", "/b"},
    {"/a/..", "/"},
    {"/a/.%2E", "/"},
    {"/a/b/c/../../d", "/a/d"},
    {"/a/.b/..c/.../c.", "/a/.b/..c/.../c."},
    {"//..", "/"},
    {"/a//../b", "/a/b"},
    {"/a%20b", "/a b"},
    {"/%41%62", "/Ab"},
    {"/%C3%A9", "/\xc3\xa9"},
    {"/a?b", "/a?b"},
    {"/%25", "/%"},
    {"/%252e%252e/", "/%2e%2e/"},
};
#define N_PATH (int)(sizeof(path_cases) / sizeof(path_cases[0]))

START_TEST(test_path_normalize)
{
    const path_case_t *c = &path_cases[_i];
    size_t n = strlen(c->in), outlen = 12345;
    char *in = malloc(n ? n : 1), *out = malloc(n ? n : 1);
    int rc;

    memcpy(in, c->in, n);
    rc = hp_path_normalize(in, n, out, &outlen);
    if (!c->out) {
        ck_assert_msg(rc == HP_ERROR, "case %d '%s': accepted as '%.*s'", _i, c->in,
                      (int)(rc == HP_OK ? outlen : 0), out);
    } else {
        ck_assert_msg(rc == HP_OK, "case %d '%s': rejected", _i, c->in);
        ck_assert_msg(outlen == strlen(c->out) && memcmp(out, c->out, outlen) == 0,
                      "case %d '%s': '%.*s', want '%s'", _i, c->in, (int)outlen, out, c->out);
        /* In place gives the same answer. */
        ck_assert_int_eq(hp_path_normalize(in, n, in, &outlen), HP_OK);
        ck_assert(outlen == strlen(c->out) && memcmp(in, c->out, outlen) == 0);
    }
    free(in);
    free(out);
}
END_TEST

/* ---- response heads ------------------------------------------------------ */

/* Collects up to RESP_CAP fields; refuses the one after (a full array). */
#define RESP_CAP 8
typedef struct {
    hp_header_t h[RESP_CAP];
    unsigned n, cap;
} resp_sink_t;

static int resp_collect(void *arg, unsigned i, hp_span_t name, hp_span_t value)
{
    resp_sink_t *s = arg;

    ck_assert_uint_eq(i, s->n); /* in order, none skipped */
    if (i >= s->cap)
        return 1;
    s->h[i].name = name;
    s->h[i].value = value;
    s->n++;
    return 0;
}

/* Parse raw[0..len) from an exact-size copy; fields go to *sink. */
static int parse_resp(hp_response_t *r, const char *raw, size_t len, resp_sink_t *sink)
{
    char *b = malloc(len ? len : 1);
    int rc;

    memcpy(b, raw, len);
    sink->n = 0;
    if (sink->cap == 0)
        sink->cap = RESP_CAP;
    rc = hp_parse_response(r, b, len, resp_collect, sink);
    free(b);
    return rc;
}

typedef struct {
    const char *raw;
    size_t head; /* length of the head; 0: all of raw */
    int status, minor;
    const char *reason;
    unsigned nheaders;
    int64_t cl;
    int chunked, keep_alive;
} resp_case_t;

static const resp_case_t resp_valid[] = {
    {"HTTP/1.1 200 OK\r\n\r\n", 0, 200, 1, "OK", 0, -1, 0, 1},
    {"HTTP/1.0 200 OK\r\n\r\n", 0, 200, 0, "OK", 0, -1, 0, 0},
    /* an empty reason, and one with HTAB, SP and obs-text */
    {"HTTP/1.1 204 \r\n\r\n", 0, 204, 1, "", 0, -1, 0, 1},
    {"HTTP/1.1 404 Not\tFound \xe9t\xe9\r\n\r\n", 0, 404, 1, "Not\tFound \xe9t\xe9", 0, -1, 0, 1},
    {"HTTP/1.9 100 Continue\r\n\r\n", 0, 100, 1, "Continue", 0, -1, 0, 1},
    {"HTTP/1.1 999 x\r\n\r\n", 0, 999, 1, "x", 0, -1, 0, 1},
    /* the head ends at the empty line: the body is the caller's */
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 38, 200, 1, "OK", 1, 5, 0, 1},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5, 5\r\n\r\n", 0, 200, 1, "OK", 2, 5, 0, 1},
    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 200, 1, "OK", 1, 0, 0, 1},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 200, 1, "OK", 1, -1, 1, 1},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n\r\n", 0, 200, 1,
     "OK", 2, -1, 1, 1},
    /* a last coding other than chunked: read until close (chunked 0, no length) */
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 200, 1, "OK", 1, -1, 0, 1},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0, 200, 1, "OK", 1, -1, 0, 1},
    /* Connection: list-valued, case-insensitive; close wins */
    {"HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\n\r\n", 0, 200, 1, "OK", 1, -1, 0, 0},
    {"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nconnection: close\r\n\r\n", 0, 200, 1, "OK", 2, -1,
     0, 0},
    {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", 0, 200, 0, "OK", 1, -1, 0, 1},
    {"HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n\r\n", 0, 200, 0, "OK", 1, -1, 0, 0},
    {"HTTP/1.1 200 OK\r\nConnection: closed\r\n\r\n", 0, 200, 1, "OK", 1, -1, 0, 1},
    /* 1xx/204/304 fields are reported as they are: framing is the caller's */
    {"HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n", 0, 304, 1, "Not Modified", 1, 42, 0,
     1},
    {"HTTP/1.1 200 OK\r\nX-Empty:\r\nX-A:  a b \t\r\n\r\n", 0, 200, 1, "OK", 2, -1, 0, 1},
};
#define N_RESP_VALID (int)(sizeof(resp_valid) / sizeof(resp_valid[0]))

START_TEST(test_response_valid)
{
    const resp_case_t *c = &resp_valid[_i];
    size_t n = strlen(c->raw), head = c->head ? c->head : n;
    resp_sink_t sink = {.cap = RESP_CAP};
    hp_response_t r;
    int rc = parse_resp(&r, c->raw, n, &sink);

    ck_assert_msg(rc == (int)head, "case %d: %d, want %zu (%s)", _i, rc, head,
                  rc == HP_ERROR ? r.error : "");
    ck_assert_int_eq(r.status, c->status);
    ck_assert_int_eq(r.version_minor, c->minor);
    CHECK_SPAN(c->raw, r.reason, c->reason, "reason");
    ck_assert_uint_eq(r.nheaders, c->nheaders);
    ck_assert_uint_eq(sink.n, c->nheaders);
    ck_assert_int_eq(r.content_length, c->cl);
    ck_assert_int_eq(r.chunked, c->chunked);
    ck_assert_int_eq(r.keep_alive, c->keep_alive);
}
END_TEST

/* Every proper prefix of a valid head is a valid start: HP_INCOMPLETE. */
START_TEST(test_response_prefixes)
{
    const resp_case_t *c = &resp_valid[_i];
    size_t head = c->head ? c->head : strlen(c->raw), k;
    resp_sink_t sink = {.cap = RESP_CAP};
    hp_response_t r;

    for (k = 0; k < head; k++)
        ck_assert_msg(parse_resp(&r, c->raw, k, &sink) == HP_INCOMPLETE, "case %d prefix %zu: %s", _i, k,
                      r.error ? r.error : "not incomplete");
}
END_TEST

START_TEST(test_response_fields)
{
    const char *raw = "HTTP/1.1 200 OK\r\nServer:  up \r\nX-Multi: a, b\r\nX-Empty:\r\n\r\n";
    resp_sink_t sink = {.cap = RESP_CAP};
    hp_response_t r;

    ck_assert_int_eq(parse_resp(&r, raw, strlen(raw), &sink), (int)strlen(raw));
    ck_assert_uint_eq(sink.n, 3);
    CHECK_SPAN(raw, sink.h[0].name, "Server", "name 0");
    CHECK_SPAN(raw, sink.h[0].value, "up", "value 0");
    CHECK_SPAN(raw, sink.h[1].name, "X-Multi", "name 1");
    CHECK_SPAN(raw, sink.h[1].value, "a, b", "value 1");
    CHECK_SPAN(raw, sink.h[2].name, "X-Empty", "name 2");
    CHECK_SPAN(raw, sink.h[2].value, "", "value 2");
    /* No callback: fields are still validated and counted. */
    ck_assert_int_eq(hp_parse_response(&r, raw, strlen(raw), NULL, NULL), (int)strlen(raw));
    ck_assert_uint_eq(r.nheaders, 3);
}
END_TEST

/* Exactly cap fields fit; one more is an error, even before the head ends. */
START_TEST(test_response_cap)
{
    const char *two = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
    const char *three = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n";
    resp_sink_t sink = {.cap = 2};
    hp_response_t r;

    ck_assert_int_eq(parse_resp(&r, two, strlen(two), &sink), (int)strlen(two));
    ck_assert_uint_eq(sink.n, 2);
    ck_assert_int_eq(parse_resp(&r, three, strlen(three), &sink), HP_ERROR);
    ck_assert_str_eq(r.error, "too many header fields");
    ck_assert_uint_eq(sink.n, 2);
}
END_TEST

typedef struct {
    const char *raw;
    const char *error; /* r.error, exactly */
    size_t len;        /* of raw, which may hold a NUL */
} resp_bad_t;
#define BAD(raw, error) {raw, error, sizeof(raw) - 1}

#define OK_LINE "HTTP/1.1 200 OK\r\n"
static const resp_bad_t resp_bad[] = {
    /* status line */
    BAD("HTTP/2.0 200 OK\r\n\r\n", "HTTP version not supported"),
    BAD("HTTP/0.9 200 OK\r\n\r\n", "HTTP version not supported"),
    BAD("http/1.1 200 OK\r\n\r\n", "malformed HTTP version"),
    BAD("HTTP/1.x 200 OK\r\n\r\n", "malformed HTTP version"),
    BAD("HTTP/11 200 OK\r\n\r\n", "malformed HTTP version"),
    BAD("\r\nHTTP/1.1 200 OK\r\n\r\n", "malformed HTTP version"),
    BAD(" HTTP/1.1 200 OK\r\n\r\n", "malformed HTTP version"),
    BAD("HTTP/1.1  200 OK\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1 200\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1 20 OK\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1 2x0 OK\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1 099 OK\r\n\r\n", "status code below 100"),
    BAD("HTTP/1.1\t200 OK\r\n\r\n", "malformed status line"),
    BAD("HTTP/1.1 200 O\x01K\r\n\r\n", "control byte in reason phrase"),
    BAD("HTTP/1.1 200 O\x7fK\r\n\r\n", "control byte in reason phrase"),
    BAD("HTTP/1.1 200 OK\n\r\n", "status line not ended by CRLF"),
    BAD("HTTP/1.1 200 OK\rX\r\n\r\n", "bare CR in status line"),
    /* field lines: the request parser's rules */
    BAD(OK_LINE "Server : x\r\n\r\n", "whitespace before colon"),
    BAD(OK_LINE " folded\r\n\r\n", "line folding or whitespace before a field"),
    BAD(OK_LINE "A: 1\r\n\tfolded\r\n\r\n", "line folding or whitespace before a field"),
    BAD(OK_LINE "A(b): 1\r\n\r\n", "malformed field name"),
    BAD(OK_LINE ": 1\r\n\r\n", "malformed field name"),
    BAD(OK_LINE "A: 1\n\r\n", "control byte in field value"),
    BAD(OK_LINE "A: 1\x00x\r\n\r\n", "control byte in field value"),
    BAD(OK_LINE "A: 1\rx\r\n\r\n", "bare CR in field line"),
    BAD(OK_LINE "A: 1\r\n\n", "malformed field name"),
    BAD(OK_LINE "A: 1\r\n\rx", "bare CR"),
    /* Content-Length */
    BAD(OK_LINE "Content-Length: +5\r\n\r\n", "Content-Length is not a plain number"),
    BAD(OK_LINE "Content-Length: 0x5\r\n\r\n", "Content-Length is not a plain number"),
    BAD(OK_LINE "Content-Length:\r\n\r\n", "empty Content-Length"),
    BAD(OK_LINE "Content-Length: 5,\r\n\r\n", "empty Content-Length"),
    BAD(OK_LINE "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", "conflicting Content-Length values"),
    BAD(OK_LINE "Content-Length: 5, 6\r\n\r\n", "conflicting Content-Length values"),
    BAD(OK_LINE "Content-Length: 4611686018427387905\r\n\r\n", "Content-Length too large"),
    /* Transfer-Encoding */
    BAD(OK_LINE "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
     "both Content-Length and Transfer-Encoding"),
    BAD(OK_LINE "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n",
     "both Content-Length and Transfer-Encoding"),
    BAD("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding in an HTTP/1.0 response"),
    BAD(OK_LINE "Transfer-Encoding: chunked,\r\n\r\n", "empty Transfer-Encoding element"),
    BAD(OK_LINE "Transfer-Encoding:\r\n\r\n", "empty Transfer-Encoding element"),
    BAD(OK_LINE "Transfer-Encoding: chunked, chunked\r\n\r\n", "chunked applied more than once"),
    BAD(OK_LINE "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     "chunked applied more than once"),
};
#define N_RESP_BAD (int)(sizeof(resp_bad) / sizeof(resp_bad[0]))

/* Refused whole, with its own reason; and no prefix parses as complete. */
START_TEST(test_response_bad)
{
    const resp_bad_t *c = &resp_bad[_i];
    size_t n = c->len, k;
    resp_sink_t sink = {.cap = RESP_CAP};
    hp_response_t r;
    int rc;

    rc = parse_resp(&r, c->raw, n, &sink);
    ck_assert_msg(rc == HP_ERROR, "case %d: %d, want an error", _i, rc);
    ck_assert_str_eq(r.error, c->error);
    for (k = 0; k < n; k++) {
        rc = parse_resp(&r, c->raw, k, &sink);
        ck_assert_msg(rc == HP_INCOMPLETE || rc == HP_ERROR, "case %d prefix %zu: %d", _i, k, rc);
    }
}
END_TEST

/* ---- the plugin API table's HTTP/1 helpers --------------------------------- */

START_TEST(test_api_members)
{
    const ph_server_api_t *api = &request_api;

    ck_assert(PH_API_HAS(api, parse_response) && api->parse_response != NULL);
    ck_assert(PH_API_HAS(api, chunked_init) && api->chunked_init != NULL);
    ck_assert(PH_API_HAS(api, chunked_decode) && api->chunked_decode != NULL);
}
END_TEST

START_TEST(test_api_parse_response)
{
    const char *raw = "HTTP/1.1 201 Created\r\nLocation: /x\r\nContent-Length: 3\r\n\r\nabc";
    int head = (int)strlen(raw) - 3;
    ph_str_t names[2], values[2];
    ph_http_response_t out = {.size = sizeof out, .names = names, .values = values, .cap = 2};

    ck_assert_int_eq(request_api.parse_response(raw, strlen(raw), &out), head);
    ck_assert_int_eq(out.status, 201);
    ck_assert_int_eq(out.version, 11);
    ck_assert(out.reason.len == 7 && memcmp(out.reason.ptr, "Created", 7) == 0);
    ck_assert(out.reason.ptr == raw + 13);
    ck_assert_uint_eq(out.nheaders, 2);
    ck_assert(names[0].ptr == raw + 22 && names[0].len == 8);
    ck_assert(values[0].len == 2 && memcmp(values[0].ptr, "/x", 2) == 0);
    ck_assert(names[1].len == 14 && memcmp(names[1].ptr, "Content-Length", 14) == 0);
    ck_assert(values[1].len == 1 && values[1].ptr[0] == '3');
    ck_assert_int_eq(out.content_length, 3);
    ck_assert_int_eq(out.chunked, 0);
    ck_assert_int_eq(out.keep_alive, 1);

    /* More bytes needed: 0. Not a response head, or no room: PH_ERROR. */
    ck_assert_int_eq(request_api.parse_response(raw, (size_t)head - 1, &out), 0);
    ck_assert_int_eq(request_api.parse_response("HTTP/1.1 200 OK\n", 16, &out), PH_ERROR);
    out.cap = 1;
    ck_assert_int_eq(request_api.parse_response(raw, strlen(raw), &out), PH_ERROR);
    out.cap = 0;
    out.names = out.values = NULL;
    ck_assert_int_eq(request_api.parse_response("HTTP/1.0 200 OK\r\n\r\n", 19, &out), 19);
    ck_assert_int_eq(out.version, 10);
    ck_assert_int_eq(out.keep_alive, 0);
    ck_assert_uint_eq(out.nheaders, 0);
}
END_TEST

/* A struct shorter than today's: nothing past out->size is written or read. */
START_TEST(test_api_parse_response_size)
{
    const char *raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    ph_http_response_t out;

    memset(&out, 0x5a, sizeof out);
    out.size = (uint32_t)offsetof(ph_http_response_t, chunked);
    out.cap = 0;
    ck_assert_int_eq(request_api.parse_response(raw, strlen(raw), &out), PH_ERROR); /* no room */
    memset(&out, 0x5a, sizeof out);
    out.size = (uint32_t)offsetof(ph_http_response_t, chunked);
    out.cap = 1;
    out.names = &(ph_str_t){0};
    out.values = &(ph_str_t){0};
    ck_assert_int_eq(request_api.parse_response(raw, strlen(raw), &out), (int)strlen(raw));
    ck_assert_int_eq(out.status, 200);
    ck_assert_int_eq(out.content_length, -1);
    ck_assert_int_eq(out.chunked, 0x5a5a5a5a);
    ck_assert_int_eq(out.keep_alive, 0x5a5a5a5a);
    /* Too short to hold the arrays: they are not read, so no field fits. */
    memset(&out, 0x5a, sizeof out);
    out.size = (uint32_t)offsetof(ph_http_response_t, cap);
    ck_assert_int_eq(request_api.parse_response(raw, strlen(raw), &out), PH_ERROR);
    ck_assert_int_eq(request_api.parse_response("HTTP/1.1 200 OK\r\n\r\n", 19, &out), 19);
    ck_assert_int_eq(out.status, 200);
    ck_assert_uint_eq(out.cap, 0x5a5a5a5a5a5a5a5aull);
}
END_TEST

START_TEST(test_api_chunked)
{
    char buf[64];
    size_t len;
    ph_chunked_t c;

    memset(&c, 0xff, sizeof c); /* chunked_init must set every byte it uses */
    request_api.chunked_init(&c);
    /* The first piece ends inside a chunk: its data so far, PH_CHUNKED_MORE. */
    memcpy(buf, "5\r\nhel", 6);
    len = 6;
    ck_assert_int_eq(request_api.chunked_decode(&c, buf, &len, 64), PH_CHUNKED_MORE);
    ck_assert(len == 3 && memcmp(buf, "hel", 3) == 0);
    /* The rest, a trailer, then the next response: its bytes are left over. */
    memcpy(buf, "lo\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1", 25);
    len = 25;
    ck_assert_int_eq(request_api.chunked_decode(&c, buf, &len, 64), 8);
    ck_assert(len == 2 && memcmp(buf, "lo", 2) == 0);
    ck_assert(memcmp(buf + len, "HTTP/1.1", 8) == 0);
    /* Malformed: PH_ERROR, and it stays failed. */
    request_api.chunked_init(&c);
    memcpy(buf, "g\r\n", 3);
    len = 3;
    ck_assert_int_eq(request_api.chunked_decode(&c, buf, &len, 64), PH_ERROR);
    memcpy(buf, "0\r\n\r\n", 5);
    len = 5;
    ck_assert_int_eq(request_api.chunked_decode(&c, buf, &len, 64), PH_ERROR);
    /* Trailers over max_trailer_bytes: PH_ERROR. */
    request_api.chunked_init(&c);
    memcpy(buf, "0\r\nX-Trailer: 1\r\n\r\n", 19);
    len = 19;
    ck_assert_int_eq(request_api.chunked_decode(&c, buf, &len, 4), PH_ERROR);
}
END_TEST

/* ---- runner -------------------------------------------------------------- */

static Suite *http_parse_suite(void)
{
    Suite *s = suite_create("http_parse");
    TCase *tc;

    tc = tcase_create("valid");
    tcase_add_loop_test(tc, test_valid_whole, 0, N_VALID);
    tcase_add_loop_test(tc, test_valid_bytewise, 0, N_VALID);
    tcase_add_loop_test(tc, test_valid_no_limits, 0, N_VALID);
    tcase_add_test(tc, test_header_spans);
    tcase_add_test(tc, test_pipelined_and_done);
    tcase_add_test(tc, test_incomplete_prefixes);
    tcase_add_test(tc, test_span_ieq);
    tcase_add_test(tc, test_long_runs_every_position);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_bad_whole, 0, N_BAD);
    tcase_add_loop_test(tc, test_bad_bytewise, 0, N_BAD);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_test(tc, test_uri_limit);
    tcase_add_test(tc, test_method_limit);
    tcase_add_test(tc, test_header_limit);
    tcase_add_test(tc, test_leading_empty_lines_count);
    tcase_add_test(tc, test_header_count_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("chunked");
    tcase_add_loop_test(tc, test_chunked_splits, 0, N_CHUNK);
    tcase_add_test(tc, test_chunked_after_done_and_error);
    tcase_add_test(tc, test_chunked_large);
    suite_add_tcase(s, tc);

    tc = tcase_create("response");
    tcase_add_loop_test(tc, test_response_valid, 0, N_RESP_VALID);
    tcase_add_loop_test(tc, test_response_prefixes, 0, N_RESP_VALID);
    tcase_add_test(tc, test_response_fields);
    tcase_add_test(tc, test_response_cap);
    tcase_add_loop_test(tc, test_response_bad, 0, N_RESP_BAD);
    suite_add_tcase(s, tc);

    tc = tcase_create("api");
    tcase_add_test(tc, test_api_members);
    tcase_add_test(tc, test_api_parse_response);
    tcase_add_test(tc, test_api_parse_response_size);
    tcase_add_test(tc, test_api_chunked);
    suite_add_tcase(s, tc);

    tc = tcase_create("path");
    tcase_add_loop_test(tc, test_path_normalize, 0, N_PATH);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_parse_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
