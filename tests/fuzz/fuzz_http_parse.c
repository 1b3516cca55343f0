/*
 * libFuzzer harness for server/http_parse.c.
 *
 * Build and run (clang):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iserver \
 *       tests/fuzz/fuzz_http_parse.c server/http_parse.c -o fuzz_http_parse
 *   ./fuzz_http_parse -max_total_time=60 tests/fuzz/corpus/http_parse
 *
 * Besides memory safety it checks properties that must hold for any input:
 * parsing in two pieces gives the same answer as parsing at once; every
 * returned span lies inside the head; chunked decoding is the same whole
 * and byte by byte; a normalised path starts with '/', never grows and
 * holds no "." or ".." segment. Response heads (the input as is, and after
 * a fixed status line so request-shaped inputs reach the field rules too):
 * a prefix of a complete head is incomplete and a longer input gives the
 * same length, a prefix of an incomplete one is incomplete, the fields
 * reported lie inside the head, and a field cap fails exactly when there
 * are more fields than it. The PROXY protocol header parser
 * (server/proxy_proto.c), the other parser that meets a client's first
 * bytes: a header's length never exceeds the input, the header alone
 * parses to the same length while any shorter prefix asks for more, and an
 * address it reports is IPv4 or IPv6 on both sides.
 */
#include "http_parse.h"
#include "proxy_proto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static const hp_limits_t lim = {.max_uri_bytes = 512, .max_header_bytes = 4096};

static void span_inside(hp_span_t s, int head)
{
    REQUIRE((size_t)s.off + s.len <= (size_t)head);
}

static void fuzz_request(const char *buf, size_t size, size_t split)
{
    hp_request_t a, b;
    int ra, rb;
    unsigned i;

    hp_request_init(&a);
    ra = hp_parse_request(&a, buf, size, &lim);
    hp_request_init(&b);
    rb = hp_parse_request(&b, buf, split, &lim);
    if (rb == HP_INCOMPLETE)
        rb = hp_parse_request(&b, buf, size, &lim);
    REQUIRE(ra == rb);
    if (ra == HP_ERROR) {
        REQUIRE(a.status == b.status && a.error != NULL);
        return;
    }
    if (ra == HP_INCOMPLETE)
        return;
    REQUIRE(ra > 0 && (size_t)ra <= size && ra <= 4096);
    REQUIRE(a.nheaders == b.nheaders && a.nheaders <= HP_MAX_HEADERS);
    REQUIRE(a.content_length == b.content_length && a.chunked == b.chunked);
    REQUIRE(a.keep_alive == b.keep_alive && a.path.off == b.path.off && a.path.len == b.path.len);
    REQUIRE(!(a.chunked && a.content_length >= 0));
    REQUIRE(a.target.len <= 512 && a.path.len >= 1);
    span_inside(a.method, ra);
    span_inside(a.target, ra);
    span_inside(a.path, ra);
    span_inside(a.query, ra);
    span_inside(a.authority, ra);
    for (i = 0; i < a.nheaders; i++) {
        span_inside(a.headers[i].name, ra);
        span_inside(a.headers[i].value, ra);
    }
}

/* Decode data[0..size) at once and byte by byte; both must agree. */
static void fuzz_chunked(const uint8_t *data, size_t size)
{
    char *whole = malloc(size + 1), *bytes = malloc(size + 1);
    size_t wlen = size, blen = 0, i, len;
    ssize_t rw, rb = HP_INCOMPLETE;
    hp_chunked_t c;

    memcpy(whole, data, size);
    hp_chunked_init(&c);
    rw = hp_chunked_decode(&c, whole, &wlen, 256);
    REQUIRE(wlen <= size);
    hp_chunked_init(&c);
    for (i = 0; i < size; i++) {
        char one = (char)data[i];

        len = 1;
        rb = hp_chunked_decode(&c, &one, &len, 256);
        REQUIRE(len <= 1);
        if (len)
            bytes[blen++] = one;
        if (rb != HP_INCOMPLETE)
            break;
    }
    if (size == 0)
        rb = rw; /* nothing was fed */
    if (rw == HP_ERROR) {
        REQUIRE(rb == HP_ERROR);
    } else if (rw == HP_INCOMPLETE) {
        REQUIRE(rb == HP_INCOMPLETE && blen == wlen && memcmp(whole, bytes, wlen) == 0);
    } else {
        /* Finished: the leftover is everything after the terminator. */
        REQUIRE(rb >= 0 && blen == wlen && memcmp(whole, bytes, wlen) == 0);
        REQUIRE((size_t)rw == size - 1 - i && memcmp(whole + wlen, data + i + 1, (size_t)rw) == 0);
    }
    free(whole);
    free(bytes);
}

static void fuzz_path(const char *in, size_t size)
{
    char *out = malloc(size + 1);
    size_t n = 0, i;

    if (hp_path_normalize(in, size, out, &n) == HP_OK) {
        REQUIRE(n >= 1 && n <= size && out[0] == '/');
        for (i = 0; i < n; i++) {
            size_t e = i + 1;

            REQUIRE((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
            if (out[i] != '/')
                continue;
            while (e < n && out[e] != '/')
                e++;
            REQUIRE(!(e - i == 2 && out[i + 1] == '.'));
            REQUIRE(!(e - i == 3 && out[i + 1] == '.' && out[i + 2] == '.'));
        }
    }
    free(out);
}

typedef struct {
    unsigned n, cap;
    size_t len; /* bytes parsed: every span lies inside */
} resp_sink_t;

static int resp_field(void *arg, unsigned i, hp_span_t name, hp_span_t value)
{
    resp_sink_t *s = arg;

    REQUIRE(i == s->n && name.len > 0);
    REQUIRE((size_t)name.off + name.len <= s->len && (size_t)value.off + value.len <= s->len);
    if (i >= s->cap)
        return 1;
    s->n++;
    return 0;
}

static int parse_response(hp_response_t *r, const char *buf, size_t len, unsigned cap, resp_sink_t *s)
{
    s->n = 0;
    s->cap = cap;
    s->len = len;
    return hp_parse_response(r, buf, len, resp_field, s);
}

static void fuzz_response(const char *buf, size_t size, size_t split, unsigned cap)
{
    hp_response_t a, b;
    resp_sink_t sa, sb;
    int ra, rb;

    ra = parse_response(&a, buf, size, UINT_MAX, &sa);
    rb = parse_response(&b, buf, split, UINT_MAX, &sb);
    if (ra == HP_ERROR) {
        /* The fault lies inside the head, so no prefix completes it. */
        REQUIRE(a.error != NULL && (rb == HP_INCOMPLETE || rb == HP_ERROR));
        return;
    }
    if (ra == HP_INCOMPLETE) {
        REQUIRE(rb == HP_INCOMPLETE);
        return;
    }
    REQUIRE(ra > 0 && (size_t)ra <= size);
    REQUIRE(rb == (split >= (size_t)ra ? ra : HP_INCOMPLETE));
    REQUIRE(a.status >= 100 && a.status <= 999 && (a.version_minor == 0 || a.version_minor == 1));
    REQUIRE(sa.n == a.nheaders && (size_t)a.reason.off + a.reason.len <= (size_t)ra);
    REQUIRE(!(a.chunked && a.content_length >= 0) && a.content_length >= -1);
    REQUIRE(!(a.chunked && a.version_minor == 0));
    /* With a cap, the same head parses iff it has no more fields. */
    rb = parse_response(&b, buf, size, cap, &sb);
    if (a.nheaders <= cap)
        REQUIRE(rb == ra && b.nheaders == a.nheaders);
    else
        REQUIRE(rb == HP_ERROR && sb.n == cap && strcmp(b.error, "too many header fields") == 0);
}

static void fuzz_proxy_header(const uint8_t *data, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    pp_result_t r;
    memcpy(buf, data, size);
    int n = pp_parse(buf, size, &r);
    REQUIRE(n >= -1 && n <= (int)size);
    if (n == 0)
        REQUIRE(size < PP_MAX_HEADER);
    if (n > 0) {
        pp_result_t again;
        REQUIRE(pp_parse(buf, (size_t)n, &again) == n && again.known == r.known);
        REQUIRE(pp_parse(buf, (size_t)n - 1, &again) == 0);
        REQUIRE(pp_parse(buf, data[0] % (size_t)n, &again) == 0);
        if (r.known)
            REQUIRE(r.src.ss_family == r.dst.ss_family &&
                    (r.src.ss_family == AF_INET || r.src.ss_family == AF_INET6));
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact-size copy, so any read past the end is caught by ASan. */
    char *buf = malloc(size ? size : 1);

    memcpy(buf, data, size);
    fuzz_request(buf, size, size ? data[0] % (size + 1) : 0);
    fuzz_chunked(data, size);
    fuzz_proxy_header(data, size);
    fuzz_path(buf, size);
    free(buf);

    {
        static const char status[] = "HTTP/1.1 200 OK\r\n";
        size_t n = sizeof(status) - 1 + size;
        unsigned cap = size ? data[size - 1] % 8 : 0;

        buf = malloc(size ? size : 1);
        memcpy(buf, data, size);
        fuzz_response(buf, size, size ? data[0] % (size + 1) : 0, cap);
        free(buf);
        buf = malloc(n);
        memcpy(buf, status, sizeof(status) - 1);
        memcpy(buf + sizeof(status) - 1, data, size);
        fuzz_response(buf, n, size ? (data[0] + sizeof(status) - 1) % (n + 1) : 0, cap);
        free(buf);
    }
    return 0;
}
