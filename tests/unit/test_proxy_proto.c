/*
 * Unit tests for server/proxy_proto.c: PROXY protocol v1 and v2 headers,
 * whole, cut short at every length (more bytes needed, never a wrong
 * answer), and malformed.
 */
#include "proxy_proto.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static void addr_is(const struct sockaddr_storage *ss, const char *text, unsigned port)
{
    char got[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, got, sizeof got);
        ck_assert_uint_eq(ntohs(in->sin_port), port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        ck_assert_int_eq(ss->ss_family, AF_INET6);
        inet_ntop(AF_INET6, &in6->sin6_addr, got, sizeof got);
        ck_assert_uint_eq(ntohs(in6->sin6_port), port);
    }
    ck_assert_str_eq(got, text);
}

/* Every proper prefix of a whole header asks for more bytes. */
static void prefixes_need_more(const unsigned char *h, size_t len)
{
    pp_result_t r;
    for (size_t i = 0; i < len; i++)
        ck_assert_msg(pp_parse(h, i, &r) == 0, "prefix of %zu bytes", i);
}

START_TEST(v1_tcp4)
{
    const char *h = "PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\nGET / HTTP/1.1\r\n";
    size_t hl = strlen("PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n");
    pp_result_t r;
    ck_assert_int_eq(pp_parse((const unsigned char *)h, strlen(h), &r), (int)hl);
    ck_assert_int_eq(r.known, 1);
    addr_is(&r.src, "203.0.113.7", 56324);
    addr_is(&r.dst, "192.0.2.1", 443);
    prefixes_need_more((const unsigned char *)h, hl);
}
END_TEST

START_TEST(v1_tcp6_and_unknown)
{
    const char *h = "PROXY TCP6 2001:db8::7 2001:db8::1 65535 80\r\n";
    pp_result_t r;
    ck_assert_int_eq(pp_parse((const unsigned char *)h, strlen(h), &r), (int)strlen(h));
    addr_is(&r.src, "2001:db8::7", 65535);
    addr_is(&r.dst, "2001:db8::1", 80);
    const char *u = "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
    ck_assert_int_eq(pp_parse((const unsigned char *)u, strlen(u), &r), (int)strlen(u));
    ck_assert_int_eq(r.known, 0);
    ck_assert_int_eq(pp_parse((const unsigned char *)"PROXY UNKNOWN\r\n", 15, &r), 15);
}
END_TEST

START_TEST(v1_refused)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\n",
        "PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\n",     /* bare LF */
        "PROXY TCP4 203.0.113.7 192.0.2.1 56324\r\n",       /* a field short */
        "PROXY TCP4 203.0.113.7 192.0.2.1 56324 443 9\r\n", /* one too many */
        "PROXY TCP4 2001:db8::7 192.0.2.1 1 2\r\n",         /* family mismatch */
        "PROXY TCP4 203.0.113.7 192.0.2.1 65536 443\r\n",   /* port range */
        "PROXY TCP4 203.0.113.7 192.0.2.1 080 443\r\n",     /* leading zero */
        "PROXY TCP4 203.0.113.7  192.0.2.1 1 443\r\n",      /* double space */
        "PROXY UDP4 203.0.113.7 192.0.2.1 1 443\r\n",
        "proxy TCP4 203.0.113.7 192.0.2.1 1 443\r\n",
    };
    pp_result_t r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(pp_parse((const unsigned char *)bad[i], strlen(bad[i]), &r) == -1, "%s", bad[i]);
    /* no line end within 107 bytes */
    char longer[200];
    memset(longer, '1', sizeof longer);
    memcpy(longer, "PROXY TCP4 ", 11);
    ck_assert_int_eq(pp_parse((const unsigned char *)longer, sizeof longer, &r), -1);
}
END_TEST

static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static size_t v2(unsigned char *out, unsigned char vc, unsigned char fam, const unsigned char *addr, size_t alen,
                 size_t tlvs)
{
    memcpy(out, sig, 12);
    out[12] = vc;
    out[13] = fam;
    out[14] = (unsigned char)((alen + tlvs) >> 8);
    out[15] = (unsigned char)(alen + tlvs);
    memcpy(out + 16, addr, alen);
    memset(out + 16 + alen, 0xee, tlvs);
    return 16 + alen + tlvs;
}

START_TEST(v2_tcp4_with_tlvs)
{
    unsigned char a[12] = {203, 0, 113, 7, 192, 0, 2, 1, 0xdc, 0x04, 0x01, 0xbb}, h[128];
    size_t n = v2(h, 0x21, 0x11, a, sizeof a, 20);
    pp_result_t r;
    ck_assert_int_eq(pp_parse(h, n, &r), (int)n);
    ck_assert_int_eq(r.known, 1);
    addr_is(&r.src, "203.0.113.7", 0xdc04);
    addr_is(&r.dst, "192.0.2.1", 443);
    prefixes_need_more(h, n);
}
END_TEST

START_TEST(v2_tcp6_local_and_unix)
{
    unsigned char a[36] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7, [16] = 0x20, [17] = 0x01, [18] = 0x0d, [19] = 0xb8,
                           [31] = 1, [32] = 0x30, [33] = 0x39, [34] = 0, [35] = 80};
    unsigned char h[128];
    size_t n = v2(h, 0x21, 0x21, a, sizeof a, 0);
    pp_result_t r;
    ck_assert_int_eq(pp_parse(h, n, &r), (int)n);
    addr_is(&r.src, "2001:db8::7", 12345);
    addr_is(&r.dst, "2001:db8::1", 80);
    /* LOCAL: the proxy's own health check; the connection's addresses stand */
    n = v2(h, 0x20, 0x00, a, 0, 0);
    ck_assert_int_eq(pp_parse(h, n, &r), 16);
    ck_assert_int_eq(r.known, 0);
    /* unix addresses (0x31): skipped, known 0 */
    unsigned char u[108] = {0};
    n = v2(h, 0x21, 0x31, u, 0, 0);
    ck_assert_int_eq(pp_parse(h, n, &r), (int)n);
    ck_assert_int_eq(r.known, 0);
}
END_TEST

START_TEST(v2_refused)
{
    unsigned char a[12] = {0}, h[2048];
    pp_result_t r;
    size_t n = v2(h, 0x11, 0x11, a, sizeof a, 0); /* version 1 in a v2 header */
    ck_assert_int_eq(pp_parse(h, n, &r), -1);
    n = v2(h, 0x22, 0x11, a, sizeof a, 0); /* command 2 */
    ck_assert_int_eq(pp_parse(h, n, &r), -1);
    n = v2(h, 0x21, 0x11, a, 8, 0); /* too short for IPv4 addresses */
    ck_assert_int_eq(pp_parse(h, n, &r), -1);
    n = v2(h, 0x21, 0x11, a, sizeof a, PP_MAX_HEADER); /* longer than accepted */
    ck_assert_int_eq(pp_parse(h, 16, &r), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxy_proto");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, v1_tcp4);
    tcase_add_test(tc, v1_tcp6_and_unknown);
    tcase_add_test(tc, v1_refused);
    tcase_add_test(tc, v2_tcp4_with_tlvs);
    tcase_add_test(tc, v2_tcp6_local_and_unix);
    tcase_add_test(tc, v2_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
