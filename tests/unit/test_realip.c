/*
 * Unit tests for server/realip.c: the walk over X-Forwarded-For and
 * Forwarded fields from a table of cases (well-formed, multiple fields,
 * unknown and obfuscated nodes, malformed and hostile ones), trusted
 * peers, the peer text written, and X-Request-Id.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "realip.h"

/* A head of the given fields ("Name: value" each), spans as the parser
 * writes them. */
typedef struct head {
    char buf[200000];
    size_t len;
    hp_header_t h[8];
    unsigned n;
} head_t;

static void add(head_t *hd, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    ck_assert(hd->len + nl + vl + 4 < sizeof hd->buf && hd->n < 8);
    hp_header_t *h = &hd->h[hd->n++];
    h->name = (hp_span_t){(uint32_t)hd->len, (uint32_t)nl};
    memcpy(hd->buf + hd->len, name, nl);
    hd->len += nl;
    memcpy(hd->buf + hd->len, ": ", 2);
    hd->len += 2;
    h->value = (hp_span_t){(uint32_t)hd->len, (uint32_t)vl};
    memcpy(hd->buf + hd->len, value, vl);
    hd->len += vl;
    memcpy(hd->buf + hd->len, "\r\n", 2);
    hd->len += 2;
}

static cidr_t ranges[3];
static realip_trust_t trust;

static void setup(void)
{
    ck_assert_int_eq(cidr_parse("127.0.0.1", &ranges[0]), 0);
    ck_assert_int_eq(cidr_parse("10.0.0.0/8", &ranges[1]), 0);
    ck_assert_int_eq(cidr_parse("2001:db8:ffff::/48", &ranges[2]), 0);
    trust = (realip_trust_t){ranges, 3, 0};
}

/* The peer the walk gives, as api->peer() would say it, or "-" when the
 * direct peer stands. */
static const char *walk(head_t *hd, enum realip_header kind)
{
    static char out[64];
    realip_addr_t a;
    if (!realip_client(kind, hd->buf, hd->h, hd->n, &trust, &a))
        return "-";
    realip_format(&a, out, sizeof out);
    return out;
}

typedef struct wcase {
    const char *fields[3]; /* values of successive fields, NULL-ended */
    const char *want;
} wcase_t;

static const wcase_t xff_cases[] = {
    {{"203.0.113.7"}, "203.0.113.7:0"},
    {{"203.0.113.7, 10.0.0.1"}, "203.0.113.7:0"},
    {{"1.1.1.1, 203.0.113.7, 10.0.0.1, 127.0.0.1"}, "203.0.113.7:0"}, /* left of the client: not ours */
    {{"10.0.0.2, 10.0.0.1"}, "10.0.0.2:0"},                         /* all trusted: the leftmost */
    {{"127.0.0.1"}, "127.0.0.1:0"},
    {{"203.0.113.7:4711"}, "203.0.113.7:4711"},
    {{"2001:db8::1"}, "[2001:db8::1]:0"},
    {{"[2001:db8::1]"}, "[2001:db8::1]:0"},
    {{"[2001:db8::1]:443, 2001:db8:ffff::9"}, "[2001:db8::1]:443"},
    {{"::ffff:203.0.113.7"}, "203.0.113.7:0"},                      /* IPv4-mapped: IPv4 */
    {{"::ffff:10.1.2.3"}, "10.1.2.3:0"},                            /* ... and trusted as such */
    {{"  203.0.113.7  ,\t10.0.0.1  "}, "203.0.113.7:0"},
    {{"203.0.113.7,,10.0.0.1,"}, "203.0.113.7:0"},                  /* empty elements skipped */
    {{"203.0.113.7", "10.0.0.1"}, "203.0.113.7:0"},                 /* fields joined in order */
    {{"10.0.0.3", "203.0.113.7", "10.0.0.1"}, "203.0.113.7:0"},
    {{"198.51.100.1", "203.0.113.7, 10.0.0.1"}, "203.0.113.7:0"},
    {{"garbage, 203.0.113.7, 10.0.0.1"}, "203.0.113.7:0"},         /* garbage never reached */
    {{"garbage", "203.0.113.7"}, "203.0.113.7:0"},
    {{"203.0.113.7, garbage"}, "-"},                                /* malformed where walked */
    {{"203.0.113.7, 10.0.0.1, garbage"}, "-"},
    {{"10.0.0.1", "garbage"}, "-"},
    {{"unknown, 10.0.0.1"}, "10.0.0.1:0"},                          /* unknown: the last proxy */
    {{"203.0.113.7, unknown"}, "-"},
    {{""}, "-"},
    {{" , ,"}, "-"},
    {{"fe80::1%eth0"}, "-"},                                        /* zone id */
    {{"[fe80::1%25eth0]:80"}, "-"},
    {{"203.0.113.7:"}, "-"},
    {{"203.0.113.7:x"}, "-"},
    {{"203.0.113.7:65536"}, "-"},
    {{"203.0.113.7:123456"}, "-"},
    {{"[2001:db8::1]x"}, "-"},
    {{"[2001:db8::1"}, "-"},
    {{"2001:db8::1]"}, "-"},
    {{"203.0.113"}, "-"},
    {{"203.0.113.256"}, "-"},
    {{"0x7f.1"}, "-"},
    {{"01.2.3.4"}, "-"},                                            /* as inet_pton: no leading zero */
    {{"1.2.3.4."}, "-"},
    {{"1..2.3"}, "-"},
    {{".1.2.3"}, "-"},
    {{"1.2.3.0004"}, "-"},
    {{"1.2.3.-4"}, "-"},
    {{"255.255.255.255"}, "255.255.255.255:0"},
    {{"0.0.0.0:0"}, "0.0.0.0:0"},
    {{"203.0.113.7 10.0.0.1"}, "-"},
    {{"_hidden"}, "-"},                                             /* obfuscated: Forwarded only */
    {{"1111:2222:3333:4444:5555:6666:7777:8888:9999"}, "-"},
    {{"for=203.0.113.7"}, "-"},
};

static const wcase_t fwd_cases[] = {
    {{"for=203.0.113.7"}, "203.0.113.7:0"},
    {{"for=203.0.113.7;proto=https;by=10.0.0.1"}, "203.0.113.7:0"},
    {{"proto=https;for=203.0.113.7"}, "203.0.113.7:0"},
    {{"For=203.0.113.7"}, "203.0.113.7:0"},
    {{"for=\"203.0.113.7:4711\""}, "203.0.113.7:4711"},
    {{"for=\"[2001:db8::1]\""}, "[2001:db8::1]:0"},
    {{"for=\"[2001:db8::1]:4711\""}, "[2001:db8::1]:4711"},
    {{"for=\"[2001:db8::1]:_port\""}, "[2001:db8::1]:0"},           /* obfuscated port */
    {{"for=203.0.113.7, for=10.0.0.1"}, "203.0.113.7:0"},
    {{"for=198.51.100.1, for=203.0.113.7, for=10.0.0.1;proto=http"}, "203.0.113.7:0"},
    {{"for=10.0.0.2, for=127.0.0.1"}, "10.0.0.2:0"},
    {{"for=203.0.113.7", "for=10.0.0.1"}, "203.0.113.7:0"},
    {{"for=203.0.113.7 ,  for=10.0.0.1 ; proto=http"}, "203.0.113.7:0"},
    {{"for=203.0.113.7;host=\"a,b;c=d\", for=10.0.0.1"}, "203.0.113.7:0"},
    {{"for=unknown, for=10.0.0.1"}, "10.0.0.1:0"},                  /* unknown: the last proxy */
    {{"for=_hidden, for=10.0.0.1"}, "10.0.0.1:0"},
    {{"for=\"_hidden\""}, "-"},
    {{"for=10.0.0.5, proto=https"}, "-"},                           /* no for=: unknown */
    {{"for=unknown"}, "-"},
    {{"for=\"unclosed, for=203.0.113.7"}, "203.0.113.7:0"},        /* the client's bytes, never read */
    {{"for=\"[::1]:x\""}, "-"},
    {{"for=[2001:db8::1]"}, "-"},                                   /* unquoted: not a token */
    {{"for=\"2001:db8::1\""}, "[2001:db8::1]:0"},
    {{"for=\"[fe80::1%eth0]\""}, "-"},
    {{"for=203.0.113.7;for=198.51.100.1"}, "-"},                    /* for= twice */
    {{"for="}, "-"},
    {{"=203.0.113.7"}, "-"},
    {{"for203.0.113.7"}, "-"},
    {{"for=\"a\\\"b\""}, "-"},                                      /* an escaped quote */
    {{"for=203.0.113.7 x"}, "-"},
    {{"for=\"203.0.113.7\"x"}, "-"},
    {{"for=garbage"}, "-"},
    {{"garbage, for=203.0.113.7"}, "203.0.113.7:0"},
    {{"for=203.0.113.7, garbage"}, "-"},
    {{";;for=203.0.113.7;;"}, "203.0.113.7:0"},
    {{""}, "-"},
};

static void run_cases(const wcase_t *cases, size_t n, enum realip_header kind, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        head_t *hd = calloc(1, sizeof *hd);
        add(hd, "Host", "x");
        for (size_t f = 0; f < 3 && cases[i].fields[f]; f++)
            add(hd, name, cases[i].fields[f]);
        add(hd, "Accept", "*/*");
        const char *got = walk(hd, kind);
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "%s case %zu (%s): got %s, want %s", name, i,
                      cases[i].fields[0], got, cases[i].want);
        free(hd);
    }
}

START_TEST(xff_table) { run_cases(xff_cases, sizeof xff_cases / sizeof xff_cases[0], REALIP_XFF, "X-Forwarded-For"); }
END_TEST

START_TEST(forwarded_table)
{
    run_cases(fwd_cases, sizeof fwd_cases / sizeof fwd_cases[0], REALIP_FORWARDED, "Forwarded");
}
END_TEST

START_TEST(header_choice)
{
    head_t *hd = calloc(1, sizeof *hd);
    add(hd, "x-forwarded-FOR", "203.0.113.7");
    add(hd, "forwarded", "for=198.51.100.1");
    ck_assert_str_eq(walk(hd, REALIP_XFF), "203.0.113.7:0");
    ck_assert_str_eq(walk(hd, REALIP_FORWARDED), "198.51.100.1:0");
    ck_assert_str_eq(walk(hd, REALIP_NONE), "-");
    free(hd);
    hd = calloc(1, sizeof *hd);
    add(hd, "X-Forwarded-Fo", "203.0.113.7");
    add(hd, "X-Forwarded-Forx", "203.0.113.7");
    ck_assert_str_eq(walk(hd, REALIP_XFF), "-");
    free(hd);
}
END_TEST

/* A hostile client's lists: long, all trusted, with bytes of every kind. */
START_TEST(hostile)
{
    head_t *hd = calloc(1, sizeof *hd);
    char *v = malloc(200000);
    size_t n = 0;
    for (int i = 0; i < 10000; i++)
        n += (size_t)sprintf(v + n, "%s10.0.%d.%d", i ? "," : "", (i >> 8) & 255, i & 255);
    add(hd, "X-Forwarded-For", v);
    ck_assert_str_eq(walk(hd, REALIP_XFF), "10.0.0.0:0"); /* all trusted: the leftmost */
    free(hd);

    hd = calloc(1, sizeof *hd);
    n = 0;
    for (int i = 0; i < 10000; i++)
        n += (size_t)sprintf(v + n, "%sfor=10.0.%d.%d", i ? ", " : "", (i >> 8) & 255, i & 255);
    add(hd, "Forwarded", v);
    ck_assert_str_eq(walk(hd, REALIP_FORWARDED), "10.0.0.0:0");
    free(hd);

    /* every byte value in a field: never a crash, never a client */
    for (int kind = REALIP_XFF; kind <= REALIP_FORWARDED; kind++) {
        for (int c = 0; c < 256; c++) {
            hd = calloc(1, sizeof *hd);
            char f[64];
            snprintf(f, sizeof f, "for=\"1%c\", 1%c, 10.0.0.1", c ? c : 'x', c ? c : 'x');
            f[6] = (char)c; /* a NUL too, as the span allows */
            memcpy(hd->buf, f, sizeof f);
            hd->h[0] = (hp_header_t){{0, 0}, {0, (uint32_t)strlen(f + 7) + 7}};
            hd->n = 1;
            realip_addr_t a;
            (void)realip_client((enum realip_header)kind, hd->buf, hd->h, hd->n, &trust, &a);
            free(hd);
        }
    }
    /* a quoted value longer than any node */
    hd = calloc(1, sizeof *hd);
    memset(v, 'a', 100000);
    memcpy(v, "for=\"", 5);
    strcpy(v + 99998, "\"");
    add(hd, "Forwarded", v);
    ck_assert_str_eq(walk(hd, REALIP_FORWARDED), "-");
    free(hd);
    free(v);
}
END_TEST

START_TEST(peer_trusted)
{
    ck_assert(realip_peer_trusted(&trust, "127.0.0.1:5555"));
    ck_assert(realip_peer_trusted(&trust, "10.9.8.7:1"));
    ck_assert(realip_peer_trusted(&trust, "[::ffff:10.9.8.7]:1"));
    ck_assert(realip_peer_trusted(&trust, "[2001:db8:ffff:1::2]:80"));
    ck_assert(!realip_peer_trusted(&trust, "127.0.0.2:5555"));
    ck_assert(!realip_peer_trusted(&trust, "[::1]:5555"));
    ck_assert(!realip_peer_trusted(&trust, "unix"));
    ck_assert(!realip_peer_trusted(&trust, "-"));
    ck_assert(!realip_peer_trusted(&trust, ""));
    realip_trust_t u = {NULL, 0, 1};
    ck_assert(realip_peer_trusted(&u, "unix"));
    ck_assert(!realip_peer_trusted(&u, "127.0.0.1:5555"));
}
END_TEST

START_TEST(format)
{
    char b[64];
    realip_addr_t a = {.family = AF_INET, .addr = {192, 0, 2, 1}, .port = 65535};
    ck_assert_uint_eq(realip_format(&a, b, sizeof b), strlen("192.0.2.1:65535"));
    ck_assert_str_eq(b, "192.0.2.1:65535");
    realip_addr_t l = {.family = AF_INET6, .port = 0};
    memset(l.addr, 0xff, 16);
    realip_format(&l, b, sizeof b);
    ck_assert_str_eq(b, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:0");
}
END_TEST

/* The writer's own IPv6 and IPv4 text against inet_ntop's, for addresses
 * with zero groups in every place (inet_ntop writes some with a dotted
 * IPv4 tail; those are checked by parsing back). */
START_TEST(format_matches_inet_ntop)
{
    unsigned seed = 12345;
    for (int round = 0; round < 200000; round++) {
        realip_addr_t a = {.family = AF_INET6, .port = (unsigned)round % 65536};
        seed = seed * 1103515245 + 12345;
        unsigned zero = seed >> 8, fill = seed >> 16;
        for (int g = 0; g < 8; g++) {
            int z = (zero >> g) & 1;
            a.addr[2 * g] = z ? 0 : (unsigned char)((fill * (unsigned)(g + 1)) >> (g & 3) & ((g & 1) ? 0xff : 0x0f));
            a.addr[2 * g + 1] = z ? 0 : (unsigned char)(fill >> g);
        }
        if (round % 7 == 0) {
            a.family = AF_INET;
            memcpy(a.addr, &seed, 4);
        }
        char got[64], want[64], ip[INET6_ADDRSTRLEN];
        realip_format(&a, got, sizeof got);
        ck_assert(inet_ntop(a.family, a.addr, ip, sizeof ip) != NULL);
        snprintf(want, sizeof want, a.family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, a.port);
        if (a.family == AF_INET || strchr(ip, '.') == NULL) {
            ck_assert_msg(strcmp(got, want) == 0, "got %s want %s", got, want);
        } else {
            unsigned char back[16];
            *strrchr(got, ']') = '\0';
            ck_assert_int_eq(inet_pton(AF_INET6, got + 1, back), 1);
            ck_assert(memcmp(back, a.addr, 16) == 0);
        }
    }
}
END_TEST

static int req_id(const char *const *values, size_t n, char *out)
{
    head_t *hd = calloc(1, sizeof *hd);
    add(hd, "Host", "x");
    for (size_t i = 0; i < n; i++)
        add(hd, "X-Request-Id", values[i]);
    size_t off, len;
    int ok = realip_request_id(hd->buf, hd->h, hd->n, &off, &len);
    if (ok)
        snprintf(out, 256, "%.*s", (int)len, hd->buf + off);
    free(hd);
    return ok;
}

START_TEST(request_id)
{
    char out[256], long_ok[201], too_long[202];
    memset(long_ok, 'a', 200);
    long_ok[200] = '\0';
    memset(too_long, 'a', 201);
    too_long[201] = '\0';
    const char *good[] = {"abc-123", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "a/b+c=", "!", long_ok};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ck_assert_msg(req_id(&good[i], 1, out), "%s refused", good[i]);
        ck_assert_str_eq(out, good[i]);
    }
    const char *bad[] = {"", "a b", "a\"b", "a\\b", "a\tb", "\x7f", "\xc3\xa9", too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!req_id(&bad[i], 1, out), "case %zu accepted", i);
    const char *two[] = {"a", "b"};
    ck_assert(!req_id(two, 2, out));
    ck_assert(!req_id(NULL, 0, out));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("realip");
    TCase *tc = tcase_create("walk");
    /* 200,000 addresses formatted and parsed back: seconds under the
     * sanitizers on a loaded machine, beyond check's 4 s default */
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, xff_table);
    tcase_add_test(tc, forwarded_table);
    tcase_add_test(tc, header_choice);
    tcase_add_test(tc, hostile);
    tcase_add_test(tc, peer_trusted);
    tcase_add_test(tc, format);
    tcase_add_test(tc, format_matches_inet_ntop);
    tcase_add_test(tc, request_id);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
