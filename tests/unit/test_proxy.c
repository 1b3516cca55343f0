/*
 * Unit tests for the pure parts of plugins/proxy: hop-by-hop fields
 * (proxy_hop), upstream addresses,
 * balancing and passive health (proxy_upstream). The plugin end to end is
 * tests/integration/test_proxy.py.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_hop.h"
#include "proxy_upstream.h"

static ph_str_t S(const char *s) { return (ph_str_t){s, strlen(s)}; }

START_TEST(hop_fields)
{
    proxy_hop_t h = {0};
    proxy_hop_add(&h, S("keep-alive, X-Foo ,Upgrade"));
    proxy_hop_add(&h, S("close"));
    ck_assert(h.upgrade && h.close);
    ck_assert(proxy_hop_is(&h, S("x-foo")));
    ck_assert(proxy_hop_is(&h, S("Keep-Alive")));
    ck_assert(proxy_hop_is(&h, S("te")));
    ck_assert(proxy_hop_is(&h, S("Proxy-Authorization")));
    ck_assert(!proxy_hop_is(&h, S("X-Fo")));
    ck_assert(!proxy_hop_is(&h, S("Accept")));
    proxy_hop_t many = {0};
    for (int i = 0; i < PROXY_HOP_TOKENS_MAX + 1; i++)
        proxy_hop_add(&many, S("a"));
    ck_assert(many.overflow);
}
END_TEST

START_TEST(upstream_addresses)
{
    char why[128];
    const char *good[] = {"127.0.0.1:9000", "[::1]:80", "unix:/run/app.sock", "backend.local:8080"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(proxy_upstream_check(good[i], why, sizeof why) == 0, "%s: %s", good[i], why);
    const char *bad[] = {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":80", "[::1]80", "[]:80",
                         "unix:relative", "a b:80", "host:80x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(proxy_upstream_check(bad[i], why, sizeof why) < 0, "%s accepted", bad[i]);
}
END_TEST

static void three(proxy_upstreams_t *u, proxy_balance_t b)
{
    memset(u, 0, sizeof *u);
    u->balance = b;
    u->max_fails = 2;
    u->fail_timeout_ms = 60000;
    ck_assert_int_eq(proxy_upstreams_add(u, "127.0.0.1:1"), 0);
    ck_assert_int_eq(proxy_upstreams_add(u, "127.0.0.1:2"), 0);
    ck_assert_int_eq(proxy_upstreams_add(u, "unix:/x"), 0);
    ck_assert_str_eq(u->list[2].host, "localhost");
}

START_TEST(round_robin_and_down)
{
    proxy_upstreams_t u;
    three(&u, PROXY_ROUND_ROBIN);
    int seen[6];
    for (int i = 0; i < 6; i++) {
        seen[i] = proxy_upstream_pick(&u, 0, "1.2.3.4");
        proxy_upstream_release(&u, seen[i]);
    }
    int want[6] = {0, 1, 2, 0, 1, 2};
    ck_assert_mem_eq(seen, want, sizeof want);
    /* two failures in a row mark 1 down, once */
    ck_assert_int_eq(proxy_upstream_failed(&u, 1), 0);
    proxy_upstream_succeeded(&u, 1); /* a success in between resets */
    ck_assert_int_eq(proxy_upstream_failed(&u, 1), 0);
    ck_assert_int_eq(proxy_upstream_failed(&u, 1), 1);
    for (int i = 0; i < 6; i++) {
        int k = proxy_upstream_pick(&u, 0, "");
        ck_assert_int_ne(k, 1);
        proxy_upstream_release(&u, k);
    }
    /* tried ones are skipped; none left: -1 */
    ck_assert_int_eq(proxy_upstream_pick(&u, 1u | 4u, ""), -1);
    /* a passing check leaves a passive mark; coming back up ends it */
    ck_assert_int_eq(proxy_upstream_checked(&u, 1, 1), 0);
    ck_assert(!proxy_upstream_is_up(&u, 1, proxy_now_ms()));
    ck_assert_int_eq(proxy_upstream_checked(&u, 1, 0), 1);
    ck_assert_int_eq(proxy_upstream_checked(&u, 1, 1), 1);
    ck_assert(proxy_upstream_is_up(&u, 1, proxy_now_ms()));
    ck_assert_int_eq(proxy_upstream_checked(&u, 0, 0), 1);
    ck_assert(!proxy_upstream_is_up(&u, 0, proxy_now_ms()));
    proxy_upstreams_free(&u);
}
END_TEST

START_TEST(least_conn_and_hash)
{
    proxy_upstreams_t u;
    three(&u, PROXY_LEAST_CONN);
    int a = proxy_upstream_pick(&u, 0, "");
    int b = proxy_upstream_pick(&u, 0, "");
    int c = proxy_upstream_pick(&u, 0, "");
    ck_assert(a != b && b != c && a != c); /* each busy once */
    proxy_upstream_release(&u, b);
    ck_assert_int_eq(proxy_upstream_pick(&u, 0, ""), b);
    proxy_upstreams_free(&u);

    three(&u, PROXY_HASH);
    int first = proxy_upstream_pick(&u, 0, "10.0.0.7");
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(proxy_upstream_pick(&u, 0, "10.0.0.7"), first);
    /* its upstream down: the next live one, still the same each time */
    proxy_upstream_checked(&u, first, 0);
    int next = proxy_upstream_pick(&u, 0, "10.0.0.7");
    ck_assert_int_eq(next, (first + 1) % 3);
    proxy_upstreams_free(&u);
}
END_TEST

START_TEST(upstream_limit)
{
    proxy_upstreams_t u = {0};
    for (int i = 0; i < PROXY_UPSTREAMS_MAX; i++)
        ck_assert_int_eq(proxy_upstreams_add(&u, "127.0.0.1:1"), 0);
    ck_assert_int_eq(proxy_upstreams_add(&u, "127.0.0.1:1"), -1);
    proxy_upstreams_free(&u);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proxy");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, hop_fields);
    tcase_add_test(tc, upstream_addresses);
    tcase_add_test(tc, round_robin_and_down);
    tcase_add_test(tc, least_conn_and_hash);
    tcase_add_test(tc, upstream_limit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
