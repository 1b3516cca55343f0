/*
 * Unit tests for the pure parts of plugins/static: range parsing, validators
 * and preconditions, HTTP dates, the safe open beneath a root (both openat2
 * and the fallback walk, against a real directory tree with hostile
 * symlinks), Accept-Encoding, media types, escaping and the listing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "static_cond.h"
#include "static_dir.h"
#include "static_enc.h"
#include "static_mime.h"
#include "static_path.h"
#include "static_range.h"
#include "urlenc.h"

/* static_dir escapes through the API: the server's encoder, linked in. */
static const ph_server_api_t esc_api = {.size = sizeof(ph_server_api_t), .url_escape = urlenc_escape};

#define NCASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* --- ranges ----------------------------------------------------------- */

typedef struct range_case {
    const char *value;
    int64_t size;
    sr_result_t want;
    int64_t start, length;
} range_case_t;

static const range_case_t range_cases[] = {
    {"bytes=0-99", 1000, SR_OK, 0, 100},
    {"bytes=100-199", 1000, SR_OK, 100, 100},
    {"bytes=990-", 1000, SR_OK, 990, 10},
    {"bytes=-10", 1000, SR_OK, 990, 10},
    {"bytes=-5000", 1000, SR_OK, 0, 1000},
    {"bytes=0-0", 1000, SR_OK, 0, 1},
    {"bytes=999-999", 1000, SR_OK, 999, 1},
    {"bytes=500-5000", 1000, SR_OK, 500, 500},
    {"BYTES=1-2", 1000, SR_OK, 1, 2},
    {" bytes=1-2 ", 1000, SR_OK, 1, 2},
    {"bytes= 1-2 ,", 1000, SR_OK, 1, 2},
    {"bytes=0-99999999999999999999999", 1000, SR_OK, 0, 1000},
    {"bytes=-99999999999999999999999", 1000, SR_OK, 0, 1000},
    {"bytes=99999999999999999999999-", 1000, SR_UNSATISFIABLE, 0, 0},
    {"bytes=1000-", 1000, SR_UNSATISFIABLE, 0, 0},
    {"bytes=1000-2000", 1000, SR_UNSATISFIABLE, 0, 0},
    {"bytes=-0", 1000, SR_UNSATISFIABLE, 0, 0},
    {"bytes=0-", 0, SR_UNSATISFIABLE, 0, 0},
    {"bytes=-1", 0, SR_UNSATISFIABLE, 0, 0},
    {"bytes=5-3", 1000, SR_IGNORE, 0, 0},
    {"bytes=", 1000, SR_IGNORE, 0, 0},
    {"bytes=,", 1000, SR_IGNORE, 0, 0},
    {"bytes=-", 1000, SR_IGNORE, 0, 0},
    {"bytes=a-b", 1000, SR_IGNORE, 0, 0},
    {"bytes=1-2x", 1000, SR_IGNORE, 0, 0},
    {"bytes=--1", 1000, SR_IGNORE, 0, 0},
    {"bytes=+1-2", 1000, SR_IGNORE, 0, 0},
    {"bytes 0-1", 1000, SR_IGNORE, 0, 0},
    {"items=0-1", 1000, SR_IGNORE, 0, 0},
    {"", 1000, SR_IGNORE, 0, 0},
    {"bytes=0-1,5-6", 1000, SR_MULTI, 0, 0},
    {"bytes=0-1, -5", 1000, SR_MULTI, 0, 0},
    {"bytes=0-1,x", 1000, SR_IGNORE, 0, 0},
};

START_TEST(test_range_table)
{
    const range_case_t *c = &range_cases[_i];
    int64_t start = -7, length = -7;
    sr_result_t r = sr_parse(c->value, strlen(c->value), c->size, &start, &length);

    ck_assert_msg(r == c->want, "'%s' size %lld: got %d want %d", c->value, (long long)c->size, r, c->want);
    if (c->want == SR_OK) {
        ck_assert_int_eq(start, c->start);
        ck_assert_int_eq(length, c->length);
        ck_assert(start + length <= c->size);
    }
}
END_TEST

START_TEST(test_range_not_nul_terminated)
{
    /* The span ends before "9": a parser reading past len would see 0-19. */
    const char buf[] = "bytes=0-19";
    int64_t s, l;

    ck_assert_int_eq(sr_parse(buf, 9, 100, &s, &l), SR_OK);
    ck_assert_int_eq(l, 2);
}
END_TEST

/* --- validators ------------------------------------------------------- */

/* Empty strings are no entity-tags: they never match (found by fuzzing
 * under UBSan, which also flagged the memcmp of two NULL pointers). */
START_TEST(test_etag_equal_empty)
{
    ck_assert_int_eq(sc_etag_equal("", 0, "", 0, 1), 0);
    ck_assert_int_eq(sc_etag_equal("", 0, "", 0, 0), 0);
    ck_assert_int_eq(sc_etag_equal("\"a\"", 3, "", 0, 0), 0);
    ck_assert_int_eq(sc_etag_equal("\"a\"", 3, "\"a\"", 3, 1), 1);
}
END_TEST

START_TEST(test_etag_format)
{
    char buf[SC_ETAG_MAX];
    size_t n = sc_etag_format(buf, 0x1234, 1048576, 1700000000123456789ull);

    ck_assert_str_eq(buf, "\"1234-100000-17979cfe3d85cd15\"");
    ck_assert_uint_eq(n, strlen(buf));
    n = sc_etag_format(buf, UINT64_MAX, UINT64_MAX, UINT64_MAX);
    ck_assert_str_eq(buf, "\"ffffffffffffffff-ffffffffffffffff-ffffffffffffffff\"");
    ck_assert_uint_lt(n, SC_ETAG_MAX);
}
END_TEST

typedef struct etag_case {
    const char *list;
    int strong;
    int want;
} etag_case_t;

/* Evaluated against the ETag "\"abc\"". */
static const etag_case_t etag_cases[] = {
    {"\"abc\"", 1, 1},
    {"\"abc\"", 0, 1},
    {"W/\"abc\"", 0, 1},
    {"W/\"abc\"", 1, 0},
    {"\"ABC\"", 0, 0},
    {"\"ab\"", 0, 0},
    {"abc", 0, 0},
    {"\"x\", \"abc\"", 1, 1},
    {"\"x\",W/\"abc\"", 0, 1},
    {"\"x\",W/\"abc\"", 1, 0},
    {" , \"x\" ,, \"abc\" ", 1, 1},
    {"\"a,b\", \"abc\"", 1, 1},
    {"*", 1, 1},
    {"*", 0, 1},
    {" * ", 0, 1},
    {"\"x\", *", 0, 0},
    {"\"abc", 0, 0},
    {"\"x\" \"abc\"", 0, 0},
    {"", 0, 0},
};

START_TEST(test_etag_list_table)
{
    const etag_case_t *c = &etag_cases[_i];

    ck_assert_msg(sc_etag_list_match(c->list, strlen(c->list), "\"abc\"", c->strong) == c->want,
                  "list '%s' strong=%d", c->list, c->strong);
}
END_TEST

START_TEST(test_etag_equal_weak_self)
{
    /* A weak ETag never strongly equals anything, itself included. */
    ck_assert_int_eq(sc_etag_equal("W/\"a\"", 5, "W/\"a\"", 5, 1), 0);
    ck_assert_int_eq(sc_etag_equal("W/\"a\"", 5, "W/\"a\"", 5, 0), 1);
    ck_assert_int_eq(sc_etag_equal("\"a\"", 3, "\"a\"", 3, 1), 1);
}
END_TEST

/* --- dates ------------------------------------------------------------- */

typedef struct date_case {
    const char *s;
    int ok;
    time_t want;
} date_case_t;

static const date_case_t date_cases[] = {
    {"Sun, 06 Nov 1994 08:49:37 GMT", 1, 784111777},
    {"  Sun, 06 Nov 1994 08:49:37 GMT  ", 1, 784111777},
    {"Sunday, 06-Nov-94 08:49:37 GMT", 1, 784111777},
    {"Sun Nov  6 08:49:37 1994", 1, 784111777},
    {"Sun Nov 16 08:49:37 1994", 1, 784975777},
    {"Thu, 01 Jan 1970 00:00:00 GMT", 1, 0},
    {"Tue, 29 Feb 2000 12:00:00 GMT", 1, 951825600},
    {"Fri, 31 Dec 9999 23:59:59 GMT", 1, 253402300799},
    {"Tue, 29 Feb 2001 12:00:00 GMT", 0, 0},
    {"Sun, 31 Apr 1994 08:49:37 GMT", 0, 0},
    {"Sun, 06 Nov 1994 24:00:00 GMT", 0, 0},
    {"Sun, 06 Nov 1994 08:60:00 GMT", 0, 0},
    {"Sun, 06 Nov 1994 08:49:37 UTC", 0, 0},
    {"Sun, 06 Nov 1994 08:49:37", 0, 0},
    {"Sun, 6 Nov 1994 08:49:37 GMT", 0, 0},
    {"Sun, 06 nov 1994 08:49:37 GMT", 0, 0},
    {"Sun, 06 Nov 94 08:49:37 GMT", 0, 0},
    {"Sun, 06 Nov 1994 08:49:37 GMTx", 0, 0},
    {"Sunday, 06 Nov 1994 08:49:37 GMT", 0, 0},
    {"Sun Nov 6 08:49:37 1994", 0, 0},
    {"Xyz, 06 Nov 1994 08:49:37 GMT", 0, 0},
    {"784111777", 0, 0},
    {"", 0, 0},
};

START_TEST(test_date_parse_table)
{
    const date_case_t *c = &date_cases[_i];
    time_t t = -1;
    int rc = sc_date_parse(c->s, strlen(c->s), &t);

    ck_assert_msg((rc == 0) == c->ok, "'%s': rc %d", c->s, rc);
    if (c->ok)
        ck_assert_msg(t == c->want, "'%s': got %lld", c->s, (long long)t);
}
END_TEST

START_TEST(test_date_format)
{
    char buf[SC_DATE_MAX];

    ck_assert_int_eq(sc_date_format(784111777, buf), 0);
    ck_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert_int_eq(sc_date_format(0, buf), 0);
    ck_assert_str_eq(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    ck_assert_int_eq(sc_date_format(951825600, buf), 0);
    ck_assert_str_eq(buf, "Tue, 29 Feb 2000 12:00:00 GMT");
}
END_TEST

START_TEST(test_date_roundtrip)
{
    char buf[SC_DATE_MAX];
    time_t back;

    for (time_t t = 0; t < 4102444800; t += 86400 * 37 + 3671) {
        ck_assert_int_eq(sc_date_format(t, buf), 0);
        ck_assert_int_eq(sc_date_parse(buf, strlen(buf), &back), 0);
        ck_assert_int_eq(back, t);
    }
}
END_TEST

/* --- preconditions ------------------------------------------------------ */

#define ETAG "\"e1\""
#define LM 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */

typedef struct cond_case {
    const char *im, *ius, *inm, *ims;
    sc_result_t want;
} cond_case_t;

static const cond_case_t cond_cases[] = {
    {NULL, NULL, NULL, NULL, SC_PROCEED},
    /* If-None-Match: weak comparison, lists, "*" */
    {NULL, NULL, "\"e1\"", NULL, SC_NOT_MODIFIED},
    {NULL, NULL, "W/\"e1\"", NULL, SC_NOT_MODIFIED},
    {NULL, NULL, "\"zz\", \"e1\"", NULL, SC_NOT_MODIFIED},
    {NULL, NULL, "*", NULL, SC_NOT_MODIFIED},
    {NULL, NULL, "\"zz\"", NULL, SC_PROCEED},
    /* If-Modified-Since only counts without If-None-Match */
    {NULL, NULL, NULL, "Sun, 06 Nov 1994 08:49:37 GMT", SC_NOT_MODIFIED},
    {NULL, NULL, NULL, "Mon, 07 Nov 1994 08:49:37 GMT", SC_NOT_MODIFIED},
    {NULL, NULL, NULL, "Sun, 06 Nov 1994 08:49:36 GMT", SC_PROCEED},
    {NULL, NULL, NULL, "not a date", SC_PROCEED},
    {NULL, NULL, "\"zz\"", "Mon, 07 Nov 1994 08:49:37 GMT", SC_PROCEED},
    {NULL, NULL, "\"e1\"", "Sun, 06 Nov 1994 08:49:36 GMT", SC_NOT_MODIFIED},
    /* If-Match: strong comparison */
    {"\"e1\"", NULL, NULL, NULL, SC_PROCEED},
    {"W/\"e1\"", NULL, NULL, NULL, SC_PRECONDITION_FAILED},
    {"\"zz\"", NULL, NULL, NULL, SC_PRECONDITION_FAILED},
    {"\"zz\", \"e1\"", NULL, NULL, NULL, SC_PROCEED},
    {"*", NULL, NULL, NULL, SC_PROCEED},
    /* If-Unmodified-Since only without If-Match */
    {NULL, "Sun, 06 Nov 1994 08:49:36 GMT", NULL, NULL, SC_PRECONDITION_FAILED},
    {NULL, "Sun, 06 Nov 1994 08:49:37 GMT", NULL, NULL, SC_PROCEED},
    {NULL, "garbage", NULL, NULL, SC_PROCEED},
    {"\"e1\"", "Sun, 06 Nov 1994 08:49:36 GMT", NULL, NULL, SC_PROCEED},
    /* 412 wins over 304 */
    {"\"zz\"", NULL, "\"e1\"", NULL, SC_PRECONDITION_FAILED},
    {"\"e1\"", NULL, "\"e1\"", NULL, SC_NOT_MODIFIED},
};

static void set_hdr(const char **p, size_t *len, const char *v)
{
    *p = v;
    *len = v ? strlen(v) : 0;
}

START_TEST(test_cond_table)
{
    const cond_case_t *c = &cond_cases[_i];
    sc_request_t rq;

    set_hdr(&rq.if_match, &rq.if_match_len, c->im);
    set_hdr(&rq.if_unmodified_since, &rq.if_unmodified_since_len, c->ius);
    set_hdr(&rq.if_none_match, &rq.if_none_match_len, c->inm);
    set_hdr(&rq.if_modified_since, &rq.if_modified_since_len, c->ims);
    ck_assert_msg(sc_evaluate(&rq, ETAG, LM) == c->want, "case %d", _i);
}
END_TEST

START_TEST(test_if_range)
{
    const char *v;

    v = "\"e1\"";
    ck_assert_int_eq(sc_if_range(v, strlen(v), ETAG, LM), 1);
    v = " \"e1\" ";
    ck_assert_int_eq(sc_if_range(v, strlen(v), ETAG, LM), 1);
    v = "W/\"e1\"";
    ck_assert_int_eq(sc_if_range(v, strlen(v), ETAG, LM), 0);
    v = "\"e2\"";
    ck_assert_int_eq(sc_if_range(v, strlen(v), ETAG, LM), 0);
    v = "Sun, 06 Nov 1994 08:49:37 GMT";
    ck_assert_int_eq(sc_if_range(v, strlen(v), ETAG, LM), 1);
    /* A later date is not an exact match. */
    v = "Mon, 07 Nov 1994 08:49:37 GMT";
    ck_assert_int_eq(sc_if_range(v, strlen(v), ETAG, LM), 0);
    v = "nonsense";
    ck_assert_int_eq(sc_if_range(v, strlen(v), ETAG, LM), 0);
}
END_TEST

/* --- Accept-Encoding ----------------------------------------------------- */

START_TEST(test_accept_encoding)
{
#define AE(v, c) se_accepts((v), strlen(v), (c))
    ck_assert_int_eq(AE("gzip, br", "br"), 1);
    ck_assert_int_eq(AE("gzip, br", "gzip"), 1);
    ck_assert_int_eq(AE("gzip", "br"), 0);
    ck_assert_int_eq(AE("GZIP", "gzip"), 1);
    ck_assert_int_eq(AE("br;q=0, gzip", "br"), 0);
    ck_assert_int_eq(AE("br; q=0.000", "br"), 0);
    ck_assert_int_eq(AE("br;q=0.001", "br"), 1);
    ck_assert_int_eq(AE("br ;q=1.0", "br"), 1);
    ck_assert_int_eq(AE("*", "br"), 1);
    ck_assert_int_eq(AE("*;q=0", "br"), 0);
    ck_assert_int_eq(AE("br;q=0, *", "br"), 0);
    ck_assert_int_eq(AE("gzip;q=0.5, *;q=0", "gzip"), 1);
    ck_assert_int_eq(AE("gzip;q=0.5, *;q=0", "br"), 0);
    ck_assert_int_eq(AE("xgzip, gzipx", "gzip"), 0);
    ck_assert_int_eq(AE("", "gzip"), 0);
    ck_assert_int_eq(AE("identity", "gzip"), 0);
    ck_assert_int_eq(AE("x-gzip", "gzip"), 1);
    ck_assert_int_eq(AE("X-Gzip;q=0, br", "gzip"), 0);
    ck_assert_int_eq(AE("x-gzip", "br"), 0);
#undef AE
}
END_TEST

START_TEST(test_accept_encoding_quality)
{
#define Q(v, c) se_quality((v), strlen(v), (c))
    ck_assert_int_eq(Q("gzip", "gzip"), 1000);
    ck_assert_int_eq(Q("gzip;q=0.5", "gzip"), 500);
    ck_assert_int_eq(Q("gzip;Q=0.25", "gzip"), 250);
    ck_assert_int_eq(Q("gzip ; q=0.125 ", "gzip"), 125);
    ck_assert_int_eq(Q("gzip;q=1.000", "gzip"), 1000);
    ck_assert_int_eq(Q("gzip;q=1.001", "gzip"), 0);
    ck_assert_int_eq(Q("gzip;q=2", "gzip"), 0);
    ck_assert_int_eq(Q("gzip;q=0.0001", "gzip"), 0);
    ck_assert_int_eq(Q("gzip;q=.5", "gzip"), 0);
    ck_assert_int_eq(Q("gzip;q=", "gzip"), 0);
    ck_assert_int_eq(Q("gzip;q=0.", "gzip"), 0);
    ck_assert_int_eq(Q("gzip;level=9;q=0.3", "gzip"), 300);
    ck_assert_int_eq(Q("gzip;q=0.2, x-gzip;q=0.7", "gzip"), 700);
    ck_assert_int_eq(Q("*;q=0.4, br", "gzip"), 400);
    ck_assert_int_eq(Q("*;q=0.4, gzip;q=0", "gzip"), 0);
    ck_assert_int_eq(Q("br", "gzip"), SE_UNLISTED);
    ck_assert_int_eq(Q("", "gzip"), SE_UNLISTED);
#undef Q
}
END_TEST

/* se_rank() over {br, gzip, identity}: the order as a string of initials. */
static const char *rank(const char *ae)
{
    static const char *const c[] = {"br", "gzip", "identity"};
    static char out[4];
    size_t order[3], n = se_rank(ae, strlen(ae), c, 3, order);

    for (size_t i = 0; i < n; i++)
        out[i] = c[order[i]][0];
    out[n] = '\0';
    return out;
}

START_TEST(test_accept_encoding_rank)
{
    ck_assert_str_eq(rank("gzip, br"), "bgi");
    ck_assert_str_eq(rank("br;q=0.1, gzip;q=0.9"), "gbi");
    ck_assert_str_eq(rank("gzip;q=0.5"), "gi");
    ck_assert_str_eq(rank("gzip;q=0.5, identity"), "ig");
    ck_assert_str_eq(rank("gzip;q=0.5, identity;q=0.1"), "gi");
    ck_assert_str_eq(rank("gzip, identity;q=0"), "g");
    ck_assert_str_eq(rank("*;q=0"), "");
    ck_assert_str_eq(rank("*;q=0, identity"), "i");
    ck_assert_str_eq(rank("*;q=0.3, br;q=0"), "gi");
    ck_assert_str_eq(rank(""), "i");
    ck_assert_str_eq(rank("deflate"), "i");
}
END_TEST

/* --- media types ------------------------------------------------------- */

START_TEST(test_mime_builtin)
{
    char buf[128];

    ck_assert_str_eq(sm_lookup(NULL, "a/b/index.html"), "text/html");
    ck_assert_str_eq(sm_lookup(NULL, "STYLE.CSS"), "text/css");
    ck_assert_str_eq(sm_lookup(NULL, "x.tar.gz"), "application/gzip");
    ck_assert_str_eq(sm_lookup(NULL, "font.woff2"), "font/woff2");
    ck_assert_str_eq(sm_lookup(NULL, "logo.svg"), "image/svg+xml");
    ck_assert_ptr_null(sm_lookup(NULL, "README"));
    ck_assert_ptr_null(sm_lookup(NULL, ".bashrc"));
    ck_assert_ptr_null(sm_lookup(NULL, "dir.d/file"));
    ck_assert_ptr_null(sm_lookup(NULL, "trailing."));

    ck_assert_uint_gt(sm_content_type(NULL, "a.html", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "text/html; charset=utf-8");
    sm_content_type(NULL, "a.js", buf, sizeof(buf));
    ck_assert_str_eq(buf, "text/javascript; charset=utf-8");
    sm_content_type(NULL, "a.json", buf, sizeof(buf));
    ck_assert_str_eq(buf, "application/json; charset=utf-8");
    sm_content_type(NULL, "a.svg", buf, sizeof(buf));
    ck_assert_str_eq(buf, "image/svg+xml; charset=utf-8");
    sm_content_type(NULL, "a.png", buf, sizeof(buf));
    ck_assert_str_eq(buf, "image/png");
    sm_content_type(NULL, "noext", buf, sizeof(buf));
    ck_assert_str_eq(buf, "application/octet-stream");
    ck_assert_uint_eq(sm_content_type(NULL, "a.html", buf, 10), 0);

    ck_assert_int_eq(sm_compressible("text/css"), 1);
    ck_assert_int_eq(sm_compressible("application/wasm"), 1);
    ck_assert_int_eq(sm_compressible("image/png"), 0);
    ck_assert_int_eq(sm_compressible("application/gzip"), 0);
}
END_TEST

static char tmp_base[64];

START_TEST(test_mime_file)
{
    char path[128];
    FILE *f;
    sm_table_t *t;

    snprintf(path, sizeof(path), "%s/mime.types", tmp_base);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# comment line\n"
          "application/x-foo\tfoo FOOX\n"
          "text/x-bar bar # trailing comment\n"
          "bad\"type baz\n"
          "text/plain html\n"
          "notype\n",
          f);
    fclose(f);
    t = sm_table_load(path);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(sm_lookup(t, "a.foo"), "application/x-foo");
    ck_assert_str_eq(sm_lookup(t, "a.foox"), "application/x-foo");
    ck_assert_str_eq(sm_lookup(t, "a.bar"), "text/x-bar");
    ck_assert_ptr_null(sm_lookup(t, "a.baz"));
    ck_assert_ptr_null(sm_lookup(t, "a.comment"));
    /* the built-in table wins */
    ck_assert_str_eq(sm_lookup(t, "a.html"), "text/html");
    sm_table_free(t);
    ck_assert_ptr_null(sm_table_load("/nonexistent/mime.types"));
}
END_TEST

/* --- escaping ---------------------------------------------------------- */

START_TEST(test_html_escape)
{
    sd_buf_t b = {0};
    const char *s = "<a href=\"x\">Tom & Jerry's</a>";

    ck_assert_int_eq(sd_html_escape(&b, s, strlen(s)), 0);
    ck_assert_str_eq(b.ptr, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    sd_buf_free(&b);
    ck_assert_int_eq(sd_html_escape(&b, "plain", 5), 0);
    ck_assert_str_eq(b.ptr, "plain");
    sd_buf_free(&b);
}
END_TEST

START_TEST(test_url_escape)
{
    sd_buf_t b = {0};
    const char s[] = "a b/c?d#e%f:g\"<\xc3\xa9~._-";

    ck_assert_int_eq(sd_url_escape(&esc_api, &b, s, strlen(s)), 0);
    ck_assert_str_eq(b.ptr, "a%20b%2Fc%3Fd%23e%25f%3Ag%22%3C%C3%A9~._-");
    sd_buf_free(&b);
}
END_TEST

/* --- paths: a real tree ------------------------------------------------- */

static char tmp_root[96];
static int root_fd = -1;

static void put_file(const char *rel, const char *content)
{
    char p[256];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", tmp_root, rel);
    f = fopen(p, "w");
    if (f == NULL) {
        perror(p);
        exit(2);
    }
    fputs(content, f);
    fclose(f);
}

static void put_dir(const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", tmp_root, rel);
    if (mkdir(p, 0755) < 0) {
        perror(p);
        exit(2);
    }
}

static void put_link(const char *target, const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", tmp_root, rel);
    if (symlink(target, p) < 0) {
        perror(p);
        exit(2);
    }
}

/* base/outside.txt (must never be reachable), base/root/... (the root). */
static void make_tree(void)
{
    char p[160];

    strcpy(tmp_base, "/tmp/test_static.XXXXXX");
    if (mkdtemp(tmp_base) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(p, sizeof(p), "%s/outside.txt", tmp_base);
    FILE *f = fopen(p, "w");
    fputs("SECRET", f);
    fclose(f);
    snprintf(tmp_root, sizeof(tmp_root), "%s/root", tmp_base);
    mkdir(tmp_root, 0755);
    put_file("index.html", "INDEX");
    put_dir("a");
    put_file("a/file.txt", "AFILE");
    put_dir("a/b");
    put_file("a/b/deep.txt", "DEEP");
    put_dir(".git");
    put_file(".git/config", "GITCONFIG");
    put_file(".env", "ENV");
    put_file("a\\..\\b", "BACKSLASHNAME");
    put_link("a/file.txt", "in_link");
    put_link("a", "dir_link");
    put_link("../index.html", "a/up");
    put_link("../outside.txt", "out_link");
    put_link("../../outside.txt", "a/out_link2");
    put_link(tmp_base, "abs_dir_link");
    put_link("/etc/passwd", "abs_link");
    put_link("/etc", "etc_link");
    put_link("chain2", "chain1");
    put_link("dir_link/b/../file.txt", "chain2");
    put_link("chain_out2", "chain_out1");
    put_link("a/out_link2", "chain_out2");
    put_link("loop2", "loop1");
    put_link("loop1", "loop2");
    put_dir("esc");
    put_file("esc/<script>.txt", "S");
    put_file("esc/a b&c.txt", "S");
    put_dir("esc/zdir");
    put_file("esc/.hidden", "H");
    put_link("../../outside.txt", "esc/escape");
    put_link("../a", "esc/alink");
    put_link(".env", "link_dot");
    put_link(".git", "link_dotdir");
    put_link("a/../.env", "link_dot_up");
    put_link("../.git/config", "a/link_dot_parent");
    put_dir(".well-known");
    put_file(".well-known/acme", "ACME");
    put_file(".well-known/.hidden", "WKHIDDEN");
    put_link(".well-known/acme", "link_wk");
    put_dir("a/.well-known");
    put_file("a/.well-known/x", "NOTROOTWK");
    put_link("../.env", "esc/dotlink");
    root_fd = open(tmp_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        perror(tmp_root);
        exit(2);
    }
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

static void remove_tree(void)
{
    nftw(tmp_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct check_case {
    const char *path;
    unsigned flags;
    int ok;
} check_case_t;

static const check_case_t check_cases[] = {
    {"/index.html", 0, 1},
    {"/a//b/deep.txt", 0, 1},
    {"/a/", 0, 1},
    {"", 0, 1},
    {"/", 0, 1},
    {"../etc/passwd", 0, 0},
    {"/../etc/passwd", SP_ALLOW_DOTFILES, 0},
    {"a/../../x", 0, 0},
    {"a/..", SP_ALLOW_DOTFILES, 0},
    {"..", SP_ALLOW_DOTFILES, 0},
    {"a\\..\\b", 0, 0},
    {"a\\b", SP_ALLOW_DOTFILES, 0},
    {"/.well-known/acme-challenge/x", SP_ALLOW_WELL_KNOWN, 1},
    {"//.well-known/", SP_ALLOW_WELL_KNOWN, 1},
    {"/.well-known/.x", SP_ALLOW_WELL_KNOWN, 0},
    {"/.well-known", 0, 0},
    {"/a/.well-known/x", SP_ALLOW_WELL_KNOWN, 0},
    {"/.well-knownx", SP_ALLOW_WELL_KNOWN, 0},
    {"/.git", SP_ALLOW_WELL_KNOWN, 0},
    {".git/config", 0, 0},
    {"/a/.git/config", 0, 0},
    {".env", 0, 0},
    {".env", SP_ALLOW_DOTFILES, 1},
    {".git/config", SP_ALLOW_DOTFILES, 1},
    {"...", 0, 0},
    {"a/.", 0, 0},
    {"a.b/c.d", 0, 1},
};

START_TEST(test_check_table)
{
    const check_case_t *c = &check_cases[_i];

    ck_assert_msg((sp_check(c->path, strlen(c->path), c->flags) == 0) == c->ok, "'%s' flags %u",
                  c->path, c->flags);
}
END_TEST

START_TEST(test_check_nul)
{
    ck_assert_int_eq(sp_check("a\0b", 3, SP_ALLOW_DOTFILES), -1);
    /* the length bounds the check: the NUL past len is not looked at */
    ck_assert_int_eq(sp_check("ab\0", 2, 0), 0);
}
END_TEST

typedef struct open_case {
    const char *path;
    const char *inside;  /* content with symlinks=inside, NULL: must fail */
    const char *off;     /* content with symlinks=off, NULL: must fail */
} open_case_t;

static const open_case_t open_cases[] = {
    {"index.html", "INDEX", "INDEX"},
    {"/index.html", "INDEX", "INDEX"},
    {"a/file.txt", "AFILE", "AFILE"},
    {"a//b/./deep.txt", "DEEP", "DEEP"},
    {"a/../index.html", "INDEX", "INDEX"},
    {"a/b/../../a/file.txt", "AFILE", "AFILE"},
    {"../outside.txt", NULL, NULL},
    {"../etc/passwd", NULL, NULL},
    {"a/../../outside.txt", NULL, NULL},
    {"a/../../root/index.html", NULL, NULL},
    {"a\\..\\b", "BACKSLASHNAME", "BACKSLASHNAME"},
    {"missing", NULL, NULL},
    {"a/file.txt/x", NULL, NULL},
    {"in_link", "AFILE", NULL},
    {"dir_link/file.txt", "AFILE", NULL},
    {"dir_link/b/deep.txt", "DEEP", NULL},
    {"a/up", "INDEX", NULL},
    {"chain1", "AFILE", NULL},
    {"out_link", NULL, NULL},
    {"a/out_link2", NULL, NULL},
    {"abs_link", NULL, NULL},
    {"abs_dir_link/outside.txt", NULL, NULL},
    {"etc_link/passwd", NULL, NULL},
    {"etc_link/hostname", NULL, NULL},
    {"chain_out1", NULL, NULL},
    {"loop1", NULL, NULL},
    {"esc/escape", NULL, NULL},
};

typedef int (*open_fn)(int, const char *, int, sp_symlinks_t, unsigned);

/* Runs case c with dotfiles denied and allowed: none of its names starts
 * with '.', so both give the same answer. */
static void run_open_case_flags(open_fn fn, const open_case_t *c, sp_symlinks_t policy,
                                const char *name, unsigned flags)
{
    const char *want = policy == SP_SYMLINKS_INSIDE ? c->inside : c->off;
    int fd;

    errno = 0;
    fd = fn(root_fd, c->path, O_RDONLY | O_NONBLOCK, policy, flags);
    if (want == NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        ck_assert_msg(fd < 0, "%s '%s' policy %d: opened, must fail", name, c->path, policy);
        ck_assert_msg(sp_errno_status(e) == 404, "%s '%s': errno %d (%s) is not a 404", name,
                      c->path, e, strerror(e));
        return;
    }
    ck_assert_msg(fd >= 0, "%s '%s' policy %d: %s", name, c->path, policy, strerror(errno));
    char buf[64] = {0};
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    ck_assert_int_ge(n, 0);
    ck_assert_msg(strcmp(buf, want) == 0, "%s '%s': read '%s' want '%s'", name, c->path, buf, want);
}

static void run_open_case(open_fn fn, const open_case_t *c, sp_symlinks_t policy, const char *name)
{
    run_open_case_flags(fn, c, policy, name, 0);
    run_open_case_flags(fn, c, policy, name, SP_ALLOW_DOTFILES);
}

START_TEST(test_open_openat2)
{
    run_open_case(sp_open, &open_cases[_i], SP_SYMLINKS_INSIDE, "sp_open");
    run_open_case(sp_open, &open_cases[_i], SP_SYMLINKS_OFF, "sp_open");
}
END_TEST

START_TEST(test_open_walk)
{
    run_open_case(sp_open_walk, &open_cases[_i], SP_SYMLINKS_INSIDE, "walk");
    run_open_case(sp_open_walk, &open_cases[_i], SP_SYMLINKS_OFF, "walk");
}
END_TEST

static SRunner *runner; /* for the fork status */

/* Makes openat2 fail with ENOSYS in this (forked) test process, as on a
 * kernel older than 5.6, so sp_open() must take its fallback. */
static void deny_openat2(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof(f) / sizeof(f[0])), f};

    ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    ck_assert_int_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
    errno = 0;
    ck_assert_int_eq(syscall(SYS_openat2, AT_FDCWD, ".", NULL, 0), -1);
    ck_assert_int_eq(errno, ENOSYS);
}

START_TEST(test_open_without_openat2)
{
    /* Needs its own process: Check forks each test unless CK_FORK=no. */
    if (runner == NULL || srunner_fork_status(runner) == CK_NOFORK)
        return;
    deny_openat2();
    for (int i = 0; i < NCASES(open_cases); i++) {
        run_open_case(sp_open, &open_cases[i], SP_SYMLINKS_INSIDE, "sp_open/ENOSYS");
        run_open_case(sp_open, &open_cases[i], SP_SYMLINKS_OFF, "sp_open/ENOSYS");
    }
}
END_TEST

START_TEST(test_open_root_and_dirs)
{
    open_fn fns[2] = {sp_open, sp_open_walk};

    for (int i = 0; i < 2; i++) {
        struct stat st;
        int fd = fns[i](root_fd, "", O_RDONLY | O_DIRECTORY, SP_SYMLINKS_INSIDE, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fstat(fd, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        close(fd);
        fd = fns[i](root_fd, "a/b/", O_RDONLY, SP_SYMLINKS_INSIDE, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fstat(fd, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        close(fd);
        /* a trailing slash on a file fails as the kernel would */
        fd = fns[i](root_fd, "a/file.txt/", O_RDONLY, SP_SYMLINKS_INSIDE, 0);
        ck_assert_int_lt(fd, 0);
        ck_assert_int_eq(errno, ENOTDIR);
        /* escapes report EXDEV (absolute) or EXDEV/ELOOP, never success */
        fd = fns[i](root_fd, "abs_link", O_RDONLY, SP_SYMLINKS_INSIDE, 0);
        ck_assert_int_lt(fd, 0);
        ck_assert_int_eq(errno, EXDEV);
        fd = fns[i](root_fd, "loop1", O_RDONLY, SP_SYMLINKS_INSIDE, 0);
        ck_assert_int_lt(fd, 0);
        ck_assert_int_eq(errno, ELOOP);
        fd = fns[i](root_fd, "in_link", O_RDONLY, SP_SYMLINKS_OFF, 0);
        ck_assert_int_lt(fd, 0);
        ck_assert_int_eq(errno, ELOOP);
    }
}
END_TEST

START_TEST(test_open_long_path)
{
    char *p = malloc(SP_PATH_MAX + 2);

    memset(p, 'a', SP_PATH_MAX + 1);
    p[SP_PATH_MAX + 1] = '\0';
    ck_assert_int_lt(sp_open(root_fd, p, O_RDONLY, SP_SYMLINKS_INSIDE, 0), 0);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    ck_assert_int_lt(sp_open_walk(root_fd, p, O_RDONLY, SP_SYMLINKS_INSIDE, 0), 0);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    free(p);
}
END_TEST

START_TEST(test_errno_status)
{
    ck_assert_int_eq(sp_errno_status(ENOENT), 404);
    ck_assert_int_eq(sp_errno_status(EXDEV), 404);
    ck_assert_int_eq(sp_errno_status(ELOOP), 404);
    ck_assert_int_eq(sp_errno_status(EACCES), 403);
    ck_assert_int_eq(sp_errno_status(EIO), 500);
}
END_TEST

/* --- listing ------------------------------------------------------------ */

START_TEST(test_listing)
{
    sd_buf_t b = {0};
    char *dir, *file, *alink;

    ck_assert_int_eq(sd_listing(&esc_api, &b, root_fd, "esc/", "/files/<esc>/", 0, SP_SYMLINKS_INSIDE), 0);
    ck_assert_ptr_nonnull(strstr(b.ptr, "<title>Index of /files/&lt;esc&gt;/</title>"));
    ck_assert_ptr_nonnull(strstr(b.ptr, "<a href=\"%3Cscript%3E.txt\">&lt;script&gt;.txt</a>"));
    ck_assert_ptr_nonnull(strstr(b.ptr, "<a href=\"a%20b%26c.txt\">a b&amp;c.txt</a>"));
    ck_assert_ptr_null(strstr(b.ptr, "<script>"));
    ck_assert_ptr_nonnull(strstr(b.ptr, "<a href=\"../\">"));
    /* directories first and marked, also through an inside symlink */
    dir = strstr(b.ptr, "<a href=\"zdir/\">zdir/</a>");
    alink = strstr(b.ptr, "<a href=\"alink/\">alink/</a>");
    file = strstr(b.ptr, "a b&amp;c.txt");
    ck_assert_ptr_nonnull(dir);
    ck_assert_ptr_nonnull(alink);
    ck_assert(alink < dir && dir < file);
    /* hidden: dotfiles, escaping symlinks */
    ck_assert_ptr_null(strstr(b.ptr, "hidden"));
    ck_assert_ptr_null(strstr(b.ptr, "escape"));
    sd_buf_free(&b);

    ck_assert_int_eq(sd_listing(&esc_api, &b, root_fd, "esc/", "/esc/", SD_SHOW_DOTFILES, SP_SYMLINKS_OFF), 0);
    ck_assert_ptr_nonnull(strstr(b.ptr, ">.hidden</a>"));
    ck_assert_ptr_null(strstr(b.ptr, "alink"));
    sd_buf_free(&b);

    ck_assert_int_eq(sd_listing(&esc_api, &b, root_fd, "", "/", 0, SP_SYMLINKS_INSIDE), 0);
    ck_assert_ptr_null(strstr(b.ptr, "href=\"../\""));
    ck_assert_ptr_null(strstr(b.ptr, ".git"));
    ck_assert_ptr_null(strstr(b.ptr, "etc_link"));
    ck_assert_ptr_null(strstr(b.ptr, "loop1"));
    ck_assert_ptr_nonnull(strstr(b.ptr, ">chain1</a>"));
    ck_assert_ptr_nonnull(strstr(b.ptr, ">dir_link/</a>"));
    sd_buf_free(&b);

    ck_assert_int_eq(sd_listing(&esc_api, &b, root_fd, "missing/", "/missing/", 0, SP_SYMLINKS_INSIDE), -1);
    ck_assert_int_eq(errno, ENOENT);
    sd_buf_free(&b);
}
END_TEST

/* Dotfiles reached through symlinks: the rule holds for the resolved path. */
typedef struct dot_case {
    const char *path;
    unsigned flags;
    const char *want; /* content, NULL: must fail with a 404 errno */
} dot_case_t;

static const dot_case_t dot_cases[] = {
    {".env", 0, NULL},
    {".env", SP_ALLOW_DOTFILES, "ENV"},
    {"link_dot", 0, NULL},
    {"link_dot", SP_ALLOW_DOTFILES, "ENV"},
    {"link_dot", SP_ALLOW_WELL_KNOWN, NULL},
    {"link_dotdir/config", 0, NULL},
    {"link_dotdir/config", SP_ALLOW_DOTFILES, "GITCONFIG"},
    {"link_dot_up", 0, NULL},
    {"a/link_dot_parent", 0, NULL},
    {"a/link_dot_parent", SP_ALLOW_DOTFILES, "GITCONFIG"},
    {"a/../.env", 0, NULL},
    {".well-known/acme", 0, NULL},
    {".well-known/acme", SP_ALLOW_WELL_KNOWN, "ACME"},
    {".well-known/.hidden", SP_ALLOW_WELL_KNOWN, NULL},
    {"link_wk", 0, NULL},
    {"link_wk", SP_ALLOW_WELL_KNOWN, "ACME"},
    {"a/.well-known/x", SP_ALLOW_WELL_KNOWN, NULL},
    {"a/../.well-known/acme", SP_ALLOW_WELL_KNOWN, "ACME"},
    /* links without a dot on the way still resolve with dotfiles denied */
    {"in_link", 0, "AFILE"},
    {"chain1", 0, "AFILE"},
    {"dir_link/b/deep.txt", 0, "DEEP"},
    {"out_link", 0, NULL},
};

static void run_dot_case(open_fn fn, const dot_case_t *c, const char *name)
{
    char buf[64] = {0};
    int fd, e;

    errno = 0;
    fd = fn(root_fd, c->path, O_RDONLY | O_NONBLOCK, SP_SYMLINKS_INSIDE, c->flags);
    e = errno;
    if (c->want == NULL) {
        if (fd >= 0)
            close(fd);
        ck_assert_msg(fd < 0, "%s '%s' flags %u: opened, must fail", name, c->path, c->flags);
        ck_assert_msg(sp_errno_status(e) == 404, "%s '%s': errno %d", name, c->path, e);
        return;
    }
    ck_assert_msg(fd >= 0, "%s '%s' flags %u: %s", name, c->path, c->flags, strerror(e));
    ck_assert_int_ge(read(fd, buf, sizeof(buf) - 1), 0);
    close(fd);
    ck_assert_msg(strcmp(buf, c->want) == 0, "%s '%s': read '%s'", name, c->path, buf);
}

START_TEST(test_open_dotfiles)
{
    run_dot_case(sp_open, &dot_cases[_i], "sp_open");
    run_dot_case(sp_open_walk, &dot_cases[_i], "walk");
}
END_TEST

START_TEST(test_open_dotfiles_without_openat2)
{
    if (runner == NULL || srunner_fork_status(runner) == CK_NOFORK)
        return;
    deny_openat2();
    for (int i = 0; i < NCASES(dot_cases); i++)
        run_dot_case(sp_open, &dot_cases[i], "sp_open/ENOSYS");
}
END_TEST

START_TEST(test_listing_hides_dot_links)
{
    sd_buf_t b = {0};

    ck_assert_int_eq(sd_listing(&esc_api, &b, root_fd, "", "/", 0, SP_SYMLINKS_INSIDE), 0);
    ck_assert_ptr_null(strstr(b.ptr, "link_dot"));
    ck_assert_ptr_null(strstr(b.ptr, "link_wk"));
    ck_assert_ptr_nonnull(strstr(b.ptr, ">in_link</a>"));
    sd_buf_free(&b);
    ck_assert_int_eq(sd_listing(&esc_api, &b, root_fd, "esc/", "/esc/", 0, SP_SYMLINKS_INSIDE), 0);
    ck_assert_ptr_null(strstr(b.ptr, "dotlink"));
    sd_buf_free(&b);
    ck_assert_int_eq(sd_listing(&esc_api, &b, root_fd, "esc/", "/esc/", SD_SHOW_DOTFILES, SP_SYMLINKS_INSIDE), 0);
    ck_assert_ptr_nonnull(strstr(b.ptr, ">dotlink</a>"));
    sd_buf_free(&b);
    /* .well-known's own listing, when allowed */
    ck_assert_int_eq(sd_listing(&esc_api, &b, root_fd, ".well-known/", "/.well-known/", SD_WELL_KNOWN,
                                SP_SYMLINKS_INSIDE), 0);
    ck_assert_ptr_nonnull(strstr(b.ptr, ">acme</a>"));
    ck_assert_ptr_null(strstr(b.ptr, "hidden"));
    sd_buf_free(&b);
    ck_assert_int_eq(sd_listing(&esc_api, &b, root_fd, ".well-known/", "/.well-known/", 0, SP_SYMLINKS_INSIDE), -1);
    sd_buf_free(&b);
}
END_TEST

static Suite *static_suite(void)
{
    Suite *s = suite_create("static");
    TCase *tc;

    tc = tcase_create("range");
    tcase_add_loop_test(tc, test_range_table, 0, NCASES(range_cases));
    tcase_add_test(tc, test_range_not_nul_terminated);
    suite_add_tcase(s, tc);

    tc = tcase_create("cond");
    tcase_add_test(tc, test_etag_format);
    tcase_add_test(tc, test_etag_equal_empty);
    tcase_add_loop_test(tc, test_etag_list_table, 0, NCASES(etag_cases));
    tcase_add_test(tc, test_etag_equal_weak_self);
    tcase_add_loop_test(tc, test_date_parse_table, 0, NCASES(date_cases));
    tcase_add_test(tc, test_date_format);
    tcase_add_test(tc, test_date_roundtrip);
    tcase_add_loop_test(tc, test_cond_table, 0, NCASES(cond_cases));
    tcase_add_test(tc, test_if_range);
    suite_add_tcase(s, tc);

    tc = tcase_create("enc_mime_escape");
    tcase_add_test(tc, test_accept_encoding);
    tcase_add_test(tc, test_accept_encoding_quality);
    tcase_add_test(tc, test_accept_encoding_rank);
    tcase_add_test(tc, test_mime_builtin);
    tcase_add_test(tc, test_mime_file);
    tcase_add_test(tc, test_html_escape);
    tcase_add_test(tc, test_url_escape);
    suite_add_tcase(s, tc);

    tc = tcase_create("path");
    tcase_add_loop_test(tc, test_check_table, 0, NCASES(check_cases));
    tcase_add_test(tc, test_check_nul);
    tcase_add_loop_test(tc, test_open_openat2, 0, NCASES(open_cases));
    tcase_add_loop_test(tc, test_open_walk, 0, NCASES(open_cases));
    tcase_add_test(tc, test_open_without_openat2);
    tcase_add_loop_test(tc, test_open_dotfiles, 0, NCASES(dot_cases));
    tcase_add_test(tc, test_open_dotfiles_without_openat2);
    tcase_add_test(tc, test_open_root_and_dirs);
    tcase_add_test(tc, test_open_long_path);
    tcase_add_test(tc, test_errno_status);
    tcase_add_test(tc, test_listing);
    tcase_add_test(tc, test_listing_hides_dot_links);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    make_tree();
    sr = srunner_create(static_suite());
    runner = sr;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tree();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
