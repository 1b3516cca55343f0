/*
 * Unit tests for the pure parts of plugins/compress: media type patterns,
 * the coding choice, and each codec's output decoded by the library's own
 * decoder, whole and after each flush (what a stream's client sees).
 */
#include <brotli/decode.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "compress_cache.h"
#include "compress_codec.h"
#include "compress_neg.h"
#include "compress_type.h"

#define NCASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* --- types ------------------------------------------------------------------ */

START_TEST(test_types_match)
{
    cz_types_t t;
    char why[160];
    ck_assert_int_eq(cz_types_parse(&t, " text/* ,application/*+json, IMAGE/SVG+XML,*/*+xml", why, sizeof why), 0);
    ck_assert_uint_eq(t.n, 4);
    static const struct {
        const char *ct;
        int match;
    } cases[] = {
        {"text/html", 1}, {"TEXT/Plain; charset=utf-8", 1}, {" text/css ;x=y", 1},
        {"application/ld+json", 1}, {"application/json", 0}, {"application/+json", 0},
        {"image/svg+xml", 1}, {"image/png", 0}, {"application/atom+xml", 1},
        {"text", 0}, {"text/", 0}, {"/html", 0}, {"", 0}, {"texts/html", 0},
    };
    for (int i = 0; i < NCASES(cases); i++)
        ck_assert_msg(cz_types_match(&t, cases[i].ct, strlen(cases[i].ct)) == cases[i].match, "%s", cases[i].ct);
}
END_TEST

START_TEST(test_types_refused)
{
    static const char *const bad[] = {"", "text", "text/", "/html", "text/html,", ", text/html", "te*t/html",
                                      "text/*html", "text/**", "*/html", "text/*+", "text/ht ml", "t\"/x"};
    cz_types_t t;
    char why[160];
    for (int i = 0; i < NCASES(bad); i++)
        ck_assert_msg(cz_types_parse(&t, bad[i], why, sizeof why) == -1, "%s", bad[i]);
    char many[2048] = "";
    for (int i = 0; i <= CZ_TYPES_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%stext/x%d", i ? "," : "", i);
    ck_assert_int_eq(cz_types_parse(&t, many, why, sizeof why), -1);
    ck_assert_str_eq(why, "more than 32 types");
}
END_TEST

/* --- the choice --------------------------------------------------------------- */

static const struct {
    const char *ae;
    int coding;
} choices[] = {
    {"gzip", CZ_GZIP}, {"br", CZ_BR}, {"zstd", CZ_ZSTD}, {"gzip, deflate, br, zstd", CZ_ZSTD},
    {"gzip, br", CZ_BR}, {"gzip;q=1, br;q=0.5", CZ_GZIP}, {"br;q=0.9, zstd;q=0.9", CZ_ZSTD},
    {"*", CZ_ZSTD}, {"zstd;q=0, *", CZ_BR}, {"gzip;q=0.5", CZ_GZIP}, {"gzip;q=0.5, identity", -1},
    {"identity", -1}, {"*;q=0", -1}, {"deflate", -1}, {"gzip;q=2", -1}, {"", -1}, {NULL, -1},
};

START_TEST(test_choose)
{
    static const cz_coding_t order[] = {CZ_ZSTD, CZ_BR, CZ_GZIP};
    const char *ae = choices[_i].ae;
    ck_assert_msg(cz_neg_choose(order, 3, ae, ae ? strlen(ae) : 0) == choices[_i].coding, "%s", ae ? ae : "(none)");
}
END_TEST

START_TEST(test_list_has)
{
    ck_assert(cz_list_has("public, no-transform", 20, "no-transform"));
    ck_assert(cz_list_has("No-Transform;x", 14, "no-transform"));
    ck_assert(!cz_list_has("no-transformed", 14, "no-transform"));
    ck_assert(cz_list_has("Origin,Accept-Encoding", 22, "accept-encoding"));
    ck_assert(cz_list_has(" * ", 3, "*"));
    ck_assert(!cz_list_has("", 0, "*"));
}
END_TEST

/* --- codecs -------------------------------------------------------------------- */

typedef struct sink {
    unsigned char *data;
    size_t len, cap;
    size_t max_piece;
} sink_t;

static int sink_add(void *arg, const void *d, size_t n)
{
    sink_t *s = arg;
    if (n > s->max_piece)
        s->max_piece = n;
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->data = realloc(s->data, s->cap);
        ck_assert_ptr_nonnull(s->data);
    }
    memcpy(s->data + s->len, d, n);
    s->len += n;
    return 0;
}

static int sink_refuse(void *arg, const void *d, size_t n)
{
    (void)arg;
    (void)d;
    (void)n;
    return -1;
}

/* Decodes what s holds so far (a prefix of the stream, cut after a flush):
 * the bytes it decodes to, in out[0..*outlen). */
static void decode(cz_coding_t c, const sink_t *s, unsigned char *out, size_t *outlen)
{
    size_t cap = *outlen;
    if (c == CZ_GZIP) {
        z_stream z = {0};
        ck_assert_int_eq(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
        z.next_in = s->data;
        z.avail_in = (uInt)s->len;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        int rc = inflate(&z, Z_SYNC_FLUSH);
        ck_assert_msg(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR, "inflate %d", rc);
        *outlen = cap - z.avail_out;
        inflateEnd(&z);
    } else if (c == CZ_BR) {
        BrotliDecoderState *d = BrotliDecoderCreateInstance(NULL, NULL, NULL);
        size_t avail_in = s->len, avail_out = cap;
        const uint8_t *next_in = s->data;
        uint8_t *next_out = out;
        BrotliDecoderResult r = BrotliDecoderDecompressStream(d, &avail_in, &next_in, &avail_out, &next_out, NULL);
        ck_assert_msg(r != BROTLI_DECODER_RESULT_ERROR, "brotli error");
        *outlen = cap - avail_out;
        BrotliDecoderDestroyInstance(d);
    } else {
        ZSTD_DCtx *d = ZSTD_createDCtx();
        ZSTD_inBuffer ib = {s->data, s->len, 0};
        ZSTD_outBuffer ob = {out, cap, 0};
        while (ib.pos < ib.size) {
            size_t rc = ZSTD_decompressStream(d, &ob, &ib);
            ck_assert_msg(!ZSTD_isError(rc), "zstd: %s", ZSTD_getErrorName(rc));
            if (rc == 0)
                break;
        }
        *outlen = ob.pos;
        ZSTD_freeDCtx(d);
    }
}

static unsigned char *text(size_t n)
{
    unsigned char *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)("the quick brown fox jumps over the lazy dog "[i % 44] + (i / 4096) % 3);
    return p;
}

/* The whole body, in pieces, with a flush after each: every prefix cut at
 * a flush decodes to exactly what went in so far. */
START_TEST(test_codec_flushes)
{
    cz_coding_t c = (cz_coding_t)_i;
    size_t total = 300000, piece = 16384;
    unsigned char *in = text(total), *out = malloc(total + 1);
    sink_t s = {0};
    char why[160];
    cz_codec_t *z = cz_codec_new(c, c == CZ_BR ? 4 : c == CZ_GZIP ? 5 : 3, -1, why, sizeof why);
    ck_assert_msg(z != NULL, "%s", why);
    for (size_t off = 0; off < total; off += piece) {
        size_t n = total - off < piece ? total - off : piece;
        ck_assert_int_eq(cz_codec_run(z, in + off, n, CZ_PROCESS, sink_add, &s, why, sizeof why), 0);
        if ((off / piece) % 4 != 3)
            continue;
        ck_assert_int_eq(cz_codec_run(z, NULL, 0, CZ_FLUSH, sink_add, &s, why, sizeof why), 0);
        size_t got = total + 1;
        decode(c, &s, out, &got);
        ck_assert_uint_eq(got, off + n);
        ck_assert(memcmp(out, in, got) == 0);
    }
    ck_assert_int_eq(cz_codec_run(z, NULL, 0, CZ_FINISH, sink_add, &s, why, sizeof why), 0);
    size_t got = total + 1;
    decode(c, &s, out, &got);
    ck_assert_uint_eq(got, total);
    ck_assert(memcmp(out, in, total) == 0);
    ck_assert_uint_lt(s.len, total / 4);
    ck_assert_uint_le(s.max_piece, CZ_OUT_BYTES);
    cz_codec_free(z);
    free(s.data);
    free(in);
    free(out);
}
END_TEST

/* A known length: the libraries size themselves to it; an empty body is a
 * valid stream too. */
START_TEST(test_codec_known_length)
{
    cz_coding_t c = (cz_coding_t)_i;
    static const size_t sizes[] = {0, 1, 300, 5000, 70000};
    char why[160];
    for (int k = 0; k < NCASES(sizes); k++) {
        unsigned char *in = text(sizes[k] + 1), *out = malloc(sizes[k] + 2);
        sink_t s = {0};
        cz_codec_t *z = cz_codec_new(c, cz_level_max(c), (int64_t)sizes[k], why, sizeof why);
        ck_assert_msg(z != NULL, "%s", why);
        ck_assert_int_eq(cz_codec_run(z, in, sizes[k], CZ_FINISH, sink_add, &s, why, sizeof why), 0);
        size_t got = sizes[k] + 2;
        decode(c, &s, out, &got);
        ck_assert_uint_eq(got, sizes[k]);
        ck_assert(memcmp(out, in, got) == 0);
        cz_codec_free(z);
        free(s.data);
        free(in);
        free(out);
    }
}
END_TEST

START_TEST(test_codec_sink_refuses)
{
    cz_coding_t c = (cz_coding_t)_i;
    char why[160] = "";
    unsigned char *in = text(100000);
    cz_codec_t *z = cz_codec_new(c, cz_level_min(c), -1, why, sizeof why);
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(cz_codec_run(z, in, 100000, CZ_FINISH, sink_refuse, NULL, why, sizeof why), -1);
    ck_assert_str_eq(why, "the compressed output could not be passed on");
    cz_codec_free(z);
    cz_codec_free(NULL);
    free(in);
}
END_TEST

/* A codec kept by the cache serves the thread's next body like a new one,
 * finished or cut short; another window size (gzip) gets a new one;
 * another thread's slot is its own. */
START_TEST(test_cache_reuse)
{
    cz_coding_t c = (cz_coding_t)_i;
    char why[160];
    cz_cache_t *cache = cz_cache_new(2);
    unsigned char *in = text(50000), *out = malloc(50001);
    cz_codec_t *first = NULL;
    for (int round = 0; round < 4; round++) {
        int64_t hint = round == 3 ? 300 : 50000; /* last: a small body */
        size_t n = (size_t)hint;
        sink_t s = {0};
        cz_codec_t *z = cz_cache_take(cache, 0, c, round % 2 ? 1 : cz_level_max(c), hint, why, sizeof why);
        ck_assert_msg(z != NULL, "%s", why);
        if (round == 0)
            first = z;
        else if (round < 3 && c != CZ_BR)
            /* brotli is never kept; its new codec may still land at the
             * freed one's address, so only the kept codings are checked */
            ck_assert_msg(z == first, "round %d: not kept", round);
        if (round == 1) { /* cut short: half the body, then given back */
            ck_assert_int_eq(cz_codec_run(z, in, n / 2, CZ_PROCESS, sink_add, &s, why, sizeof why), 0);
            cz_cache_put(cache, 0, c, z);
            free(s.data);
            continue;
        }
        ck_assert_int_eq(cz_codec_run(z, in, n, CZ_FINISH, sink_add, &s, why, sizeof why), 0);
        size_t got = 50001;
        decode(c, &s, out, &got);
        ck_assert_uint_eq(got, n);
        ck_assert(memcmp(out, in, n) == 0);
        cz_cache_put(cache, 0, c, z);
        free(s.data);
    }
    /* a thread out of range gets a codec that is never kept */
    cz_codec_t *z = cz_cache_take(cache, 7, c, cz_level_min(c), -1, why, sizeof why);
    ck_assert_ptr_nonnull(z);
    cz_cache_put(cache, 7, c, z);
    cz_cache_free(cache);
    free(in);
    free(out);
}
END_TEST

static Suite *compress_suite(void)
{
    Suite *s = suite_create("compress");
    TCase *tc = tcase_create("pure");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_types_match);
    tcase_add_test(tc, test_types_refused);
    tcase_add_loop_test(tc, test_choose, 0, NCASES(choices));
    tcase_add_test(tc, test_list_has);
    tcase_add_loop_test(tc, test_codec_flushes, 0, CZ_NCODINGS);
    tcase_add_loop_test(tc, test_codec_known_length, 0, CZ_NCODINGS);
    tcase_add_loop_test(tc, test_codec_sink_refuses, 0, CZ_NCODINGS);
    tcase_add_loop_test(tc, test_cache_reuse, 0, CZ_NCODINGS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(compress_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
