/*
 * Unit tests for server/listener.c: the peer and local address text every
 * accepted connection gets (access log, echo, error messages).
 */
#include "listener.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

static void format_v4(const char *ip, unsigned port, char *buf, size_t size)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    ck_assert_int_eq(inet_pton(AF_INET, ip, &in.sin_addr), 1);
    listener_format_addr((struct sockaddr *)&in, sizeof in, buf, size);
}

static void format_v6(const char *ip, unsigned port, char *buf, size_t size)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6.sin6_addr), 1);
    listener_format_addr((struct sockaddr *)&in6, sizeof in6, buf, size);
}

START_TEST(ipv4)
{
    static const struct { const char *ip; unsigned port; const char *want; } cases[] = {
        {"127.0.0.1", 8080, "127.0.0.1:8080"},
        {"0.0.0.0", 0, "0.0.0.0:0"},
        {"255.255.255.255", 65535, "255.255.255.255:65535"},
        {"10.20.3.199", 443, "10.20.3.199:443"},
        {"1.0.10.100", 9, "1.0.10.100:9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[56];
        memset(buf, 'x', sizeof buf);
        format_v4(cases[i].ip, cases[i].port, buf, sizeof buf);
        ck_assert_str_eq(buf, cases[i].want);
    }
}
END_TEST

START_TEST(ipv6)
{
    char buf[56];
    format_v6("::1", 5, buf, sizeof buf);
    ck_assert_str_eq(buf, "[::1]:5");
    format_v6("2001:db8::8:800:200c:417a", 65535, buf, sizeof buf);
    ck_assert_str_eq(buf, "[2001:db8::8:800:200c:417a]:65535");
    format_v6("::ffff:10.1.2.3", 80, buf, sizeof buf);
    ck_assert_str_eq(buf, "[::ffff:10.1.2.3]:80");
    /* no group left out: the longest text inet_ntop() gives */
    format_v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, buf, sizeof buf);
    ck_assert_str_eq(buf, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}
END_TEST

/* A short buffer gets what fits, terminated, as snprintf would give. */
START_TEST(cut_to_fit)
{
    const char *full = "192.168.100.200:65535";
    for (size_t size = 1; size <= strlen(full) + 2; size++) {
        char buf[32], want[32];
        memset(buf, 'x', sizeof buf);
        format_v4("192.168.100.200", 65535, buf, size);
        snprintf(want, size, "%s", full);
        ck_assert_str_eq(buf, want);
        ck_assert_int_eq(buf[size], 'x'); /* nothing written past size */
    }
    char untouched = 'x';
    format_v4("1.2.3.4", 5, &untouched, 0);
    ck_assert_int_eq(untouched, 'x');
}
END_TEST

START_TEST(unix_and_other)
{
    char buf[56];
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path, "/run/x.sock");
    listener_format_addr((struct sockaddr *)&un, sizeof un, buf, sizeof buf);
    ck_assert_str_eq(buf, "unix:/run/x.sock");
    listener_format_addr((struct sockaddr *)&un, offsetof(struct sockaddr_un, sun_path), buf, sizeof buf);
    ck_assert_str_eq(buf, "unix");
    struct sockaddr other = {.sa_family = AF_UNSPEC};
    listener_format_addr(&other, sizeof other, buf, sizeof buf);
    ck_assert_str_eq(buf, "?");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("listener");
    TCase *tc = tcase_create("format_addr");
    tcase_add_test(tc, ipv4);
    tcase_add_test(tc, ipv6);
    tcase_add_test(tc, cut_to_fit);
    tcase_add_test(tc, unix_and_other);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
