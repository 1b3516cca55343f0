/*
 * Unit tests for server/addrcount.c: which addresses count together, the
 * cap, entries gone at 0, and counts kept right by threads at once.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "addrcount.h"

static addrcount_key_t key_of(const char *ip)
{
    struct sockaddr_storage ss = {0};
    addrcount_key_t k;
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
    }
    ck_assert_int_eq(addrcount_key((struct sockaddr *)&ss, &k), 0);
    return k;
}

START_TEST(keys)
{
    addrcount_key_t a = key_of("192.0.2.1"), b = key_of("::ffff:192.0.2.1"), c = key_of("192.0.2.2");
    ck_assert_mem_eq(&a, &b, sizeof a); /* IPv4-mapped counts as IPv4 */
    ck_assert(memcmp(&a, &c, sizeof a) != 0);
    addrcount_key_t d = key_of("2001:db8:1:2::1"), e = key_of("2001:db8:1:2:ffff::9"), f = key_of("2001:db8:1:3::1");
    ck_assert_mem_eq(&d, &e, sizeof d); /* one /64 */
    ck_assert(memcmp(&d, &f, sizeof d) != 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    addrcount_key_t k;
    ck_assert_int_eq(addrcount_key((struct sockaddr *)&un, &k), -1);
}
END_TEST

START_TEST(cap_and_release)
{
    addrcount_key_t a = key_of("198.51.100.7"), b = key_of("198.51.100.8");
    ck_assert_uint_eq(addrcount_get(&a), 0);
    ck_assert_int_eq(addrcount_take(&a, 2), 1);
    ck_assert_int_eq(addrcount_take(&a, 2), 1);
    ck_assert_int_eq(addrcount_take(&a, 2), 0); /* the third: refused */
    ck_assert_uint_eq(addrcount_get(&a), 2);
    ck_assert_int_eq(addrcount_take(&b, 2), 1); /* another address: its own count */
    addrcount_drop(&a);
    ck_assert_uint_eq(addrcount_get(&a), 1);
    ck_assert_int_eq(addrcount_take(&a, 2), 1);
    addrcount_drop(&a);
    addrcount_drop(&a);
    addrcount_drop(&b);
    ck_assert_uint_eq(addrcount_get(&a), 0);
    ck_assert_uint_eq(addrcount_get(&b), 0);
    ck_assert_int_eq(addrcount_take(&a, 0), 0); /* a cap of 0 admits none */
}
END_TEST

/* Many addresses: entries come and go (the table holds only live ones). */
START_TEST(many)
{
    char ip[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 20000; i++) {
            snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
            addrcount_key_t k = key_of(ip);
            ck_assert_int_eq(addrcount_take(&k, 1), 1);
        }
        for (int i = 0; i < 20000; i++) {
            snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
            addrcount_key_t k = key_of(ip);
            ck_assert_uint_eq(addrcount_get(&k), 1);
            addrcount_drop(&k);
            ck_assert_uint_eq(addrcount_get(&k), 0);
        }
    }
}
END_TEST

static void *churn(void *arg)
{
    const addrcount_key_t *k = arg;
    for (int i = 0; i < 20000; i++) {
        if (addrcount_take(k, 1000000))
            addrcount_drop(k);
    }
    return NULL;
}

START_TEST(threads)
{
    addrcount_key_t k = key_of("203.0.113.50");
    ck_assert_int_eq(addrcount_take(&k, 10), 1); /* held throughout */
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, churn, &k), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_uint_eq(addrcount_get(&k), 1);
    addrcount_drop(&k);
    ck_assert_uint_eq(addrcount_get(&k), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("addrcount");
    TCase *tc = tcase_create("count");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, keys);
    tcase_add_test(tc, cap_and_release);
    tcase_add_test(tc, many);
    tcase_add_test(tc, threads);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
