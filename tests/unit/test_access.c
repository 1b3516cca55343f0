/*
 * Unit tests for the pure part of plugins/access (over the server's
 * address sets, server/api_cidr.c): the allow/deny rules
 * (access_rule) and their first-match decision over api->peer() strings
 * (access_peer), the token buckets of ratelimit (ratelimit_table), and
 * auth_basic's credentials, htpasswd files, cache and pool (auth_*).
 * The plugin end to end is tests/integration/test_access.py.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access_peer.h"
#include "access_rule.h"
#include "api_cidr.h"
#include "auth_cache.h"
#include "auth_cred.h"
#include "auth_htpasswd.h"
#include "auth_pool.h"
#include "ratelimit_shm.h"
#include "ratelimit_table.h"

#include <crypt.h>
#include <pthread.h>
#include <unistd.h>

#define S 1000000000ull

/* The rules call only the address sets: the server's own, linked in. */
static const ph_server_api_t cidr_api = {
    .size = sizeof(ph_server_api_t),
    .cidr_new = api_cidr_new,
    .cidr_add = api_cidr_add,
    .cidr_match = api_cidr_match,
    .cidr_match_addr = api_cidr_match_addr,
    .cidr_free = api_cidr_free,
};

static void add(access_rules_t *r, const char *verb, const char *value)
{
    char why[200];
    ck_assert_msg(access_rules_add(r, verb, value, why, sizeof why) == 0, "%s = %s: %s", verb, value, why);
}

START_TEST(first_match_wins)
{
    access_rules_t r = {.api = &cidr_api};
    add(&r, "deny", "10.1.2.3");
    add(&r, "allow", "10.0.0.0/8, 2001:db8::/32");
    add(&r, "deny", "all");
    ck_assert_int_eq(access_rules_allow(&r, "10.1.2.3:80"), 0);
    ck_assert_int_eq(access_rules_allow(&r, "10.1.2.4:80"), 1);
    ck_assert_int_eq(access_rules_allow(&r, "[2001:db8::7]:443"), 1);
    ck_assert_int_eq(access_rules_allow(&r, "[2001:db9::7]:443"), 0);
    ck_assert_int_eq(access_rules_allow(&r, "[::ffff:10.9.9.9]:1"), 1); /* v4-mapped */
    ck_assert_int_eq(access_rules_allow(&r, "11.0.0.1:1"), 0);
    ck_assert_int_eq(access_rules_allow(&r, "unix"), 0);
    access_rules_free(&r);
}
END_TEST

START_TEST(unix_and_default)
{
    access_rules_t r = {.api = &cidr_api};
    add(&r, "allow", "unix");
    add(&r, "deny", "127.0.0.1 ::1");
    ck_assert_int_eq(access_rules_allow(&r, "unix"), 1);
    ck_assert_int_eq(access_rules_allow(&r, "127.0.0.1:5555"), 0);
    ck_assert_int_eq(access_rules_allow(&r, "[::1]:5555"), 0);
    ck_assert_int_eq(access_rules_allow(&r, "192.0.2.1:5555"), 1); /* no rule: allowed */
    access_rules_free(&r);
    add(&r, "deny", "unix");
    ck_assert_int_eq(access_rules_allow(&r, "unix"), 0);
    ck_assert_int_eq(access_rules_allow(&r, "127.0.0.1:1"), 1);
    /* Neither an address nor "unix": only "all" matches it. */
    ck_assert_int_eq(access_rules_allow(&r, "garbage"), 1);
    add(&r, "deny", "all");
    ck_assert_int_eq(access_rules_allow(&r, "garbage"), 0);
    access_rules_free(&r);
}
END_TEST

START_TEST(refused_lists)
{
    static const char *const bad[] = {"", " , ", "10.0.0.0/33", "::1/129", "example.com", "10.0.0.0/",
                                      "all10", "1.2.3.4:80"};
    access_rules_t r = {.api = &cidr_api};
    char why[200];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(access_rules_add(&r, "allow", bad[i], why, sizeof why) < 0, "\"%s\" accepted", bad[i]);
        ck_assert(why[0] != '\0');
    }
    ck_assert_int_eq(access_rules_add(&r, "permit", "all", why, sizeof why), -1);
    ck_assert_uint_eq(r.n, 0);
    add(&r, "allow", "1.2.3.4");
    ck_assert_int_eq(access_rules_add(&r, "allow", "1.2.3.4, bad", why, sizeof why), -1);
    ck_assert_uint_eq(r.n, 1); /* a refused key leaves the list as it was */
    access_rules_free(&r);
}
END_TEST


START_TEST(peer_ip)
{
    char ip[64];
    ck_assert_int_eq(access_peer_ip("127.0.0.1:5555", ip, sizeof ip), 0);
    ck_assert_str_eq(ip, "127.0.0.1");
    ck_assert_int_eq(access_peer_ip("[::1]:5555", ip, sizeof ip), 0);
    ck_assert_str_eq(ip, "::1");
    ck_assert_int_eq(access_peer_ip("unix", ip, sizeof ip), -1);
    ck_assert_int_eq(access_peer_ip("[::1", ip, sizeof ip), -1);
    ck_assert_int_eq(access_peer_ip(":80", ip, sizeof ip), -1);
    ck_assert_int_eq(access_peer_ip("[2001:db8::1]:1", ip, 4), -1); /* does not fit */
}
END_TEST

START_TEST(bucket_burst_and_refill)
{
    /* 10 r/s, burst 3: three at once, then one per 100 ms. */
    ratelimit_table_t *t = ratelimit_table_new(10, S, 3, 100);
    ck_assert_ptr_nonnull(t);
    uint64_t now = 5 * S;
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(ratelimit_take(t, "a", now), 0);
    ck_assert_uint_eq(ratelimit_take(t, "a", now), S / 10);
    ck_assert_uint_eq(ratelimit_take(t, "a", now + S / 20), S / 20); /* half refilled */
    ck_assert_uint_eq(ratelimit_take(t, "b", now), 0);               /* its own bucket */
    ck_assert_uint_eq(ratelimit_take(t, "a", now + S / 10), 0);
    ck_assert_uint_eq(ratelimit_take(t, "a", now + S / 10), S / 10);
    /* a long wait refills to burst, not beyond */
    now += 100 * S;
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(ratelimit_take(t, "a", now), 0);
    ck_assert_uint_gt(ratelimit_take(t, "a", now), 0);
    /* a clock read a little earlier on another thread: no wrap-around */
    ck_assert_uint_eq(ratelimit_take(t, "a", now - 1000), S / 10);
    ratelimit_table_free(t);
}
END_TEST

START_TEST(bucket_per_minute)
{
    ratelimit_table_t *t = ratelimit_table_new(1, 60 * S, 2, 10);
    ck_assert_uint_eq(ratelimit_take(t, "a", S), 0);
    ck_assert_uint_eq(ratelimit_take(t, "a", S), 0);
    ck_assert_uint_eq(ratelimit_take(t, "a", S), 60 * S);
    ck_assert_uint_eq(ratelimit_take(t, "a", 2 * S), 59 * S);
    ratelimit_table_free(t);
    ck_assert_ptr_null(ratelimit_table_new(0, S, 1, 1));
    ck_assert_ptr_null(ratelimit_table_new(1, S, 0, 1));
    ck_assert_ptr_null(ratelimit_table_new(1, S, 1, 0));
}
END_TEST

START_TEST(bounded_with_eviction)
{
    /* 64 stripes of one entry each: every new key beyond a stripe's one
     * evicts. Idle entries go first; busy ones are replaced oldest first,
     * and the size never passes the bound. */
    ratelimit_table_t *t = ratelimit_table_new(1, S, 1, 64);
    char k[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof k, "10.0.%d.%d", i / 256, i % 256);
        ratelimit_take(t, k, (uint64_t)i * 1000);
        ck_assert_uint_le(ratelimit_table_size(t), 64);
    }
    /* after a second every bucket is full again: all idle */
    ck_assert_uint_eq(ratelimit_take(t, "fresh", 3 * S), 0);
    ratelimit_table_free(t);
}
END_TEST

/* The shared-memory buckets: the same arithmetic as the table over
 * zeroed memory, formatted on first use, bounded, position-independent. */
START_TEST(shm_burst_refill_and_bounds)
{
    size_t size = ratelimit_shm_size(100);
    void *mem = aligned_alloc(16, size);
    ck_assert_ptr_nonnull(mem);
    memset(mem, 0, size);
    uint64_t now = 5 * S;
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(ratelimit_shm_take(mem, size, 10, S, 3, "a", now), 0);
    ck_assert_uint_eq(ratelimit_shm_take(mem, size, 10, S, 3, "a", now), S / 10);
    ck_assert_uint_eq(ratelimit_shm_take(mem, size, 10, S, 3, "a", now + S / 20), S / 20);
    ck_assert_uint_eq(ratelimit_shm_take(mem, size, 10, S, 3, "b", now), 0);
    ck_assert_uint_eq(ratelimit_shm_take(mem, size, 10, S, 3, "a", now + S / 10), 0);
    ck_assert_uint_eq(ratelimit_shm_take(mem, size, 10, S, 3, "a", now - 1000), S / 10); /* no wrap */
    ck_assert_uint_eq(ratelimit_shm_used(mem), 2);
    /* a copy elsewhere (another process's address) holds the same buckets */
    void *copy = aligned_alloc(16, size);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, mem, size);
    ck_assert_uint_gt(ratelimit_shm_take(copy, size, 10, S, 3, "a", now + S / 10), 0);
    free(copy);
    /* a flood of keys stays within the slots and evicts */
    char k[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "10.1.%d.%d", i / 256, i % 256);
        ratelimit_shm_take(mem, size, 10, S, 3, k, now + (uint64_t)i);
    }
    ck_assert_uint_le(ratelimit_shm_used(mem), 256);
    /* other bounds: formatted anew; reset forgets every bucket */
    ck_assert_uint_eq(ratelimit_shm_take(mem, size, 1, 60 * S, 1, "a", now), 0);
    ck_assert_uint_eq(ratelimit_shm_take(mem, size, 1, 60 * S, 1, "a", now), 60 * S);
    ratelimit_shm_reset(mem);
    ck_assert_uint_eq(ratelimit_shm_used(mem), 0);
    ck_assert_uint_eq(ratelimit_shm_take(mem, size, 1, 60 * S, 1, "a", now), 0);
    /* bad bounds or too little memory: pass */
    ck_assert_uint_eq(ratelimit_shm_take(mem, 100, 1, 60 * S, 1, "a", now), 0);
    ck_assert_uint_eq(ratelimit_shm_take(mem, size, 0, 60 * S, 1, "a", now), 0);
    free(mem);
}
END_TEST

typedef struct racer {
    ratelimit_table_t *t;
    unsigned passed;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    for (int i = 0; i < 10000; i++)
        if (ratelimit_take(r->t, i % 2 ? "shared" : "other", S) == 0)
            r->passed++;
    return NULL;
}

START_TEST(threads_share_one_bucket)
{
    /* At one instant, four threads together get exactly burst tokens per
     * key: no token is handed out twice. */
    ratelimit_table_t *t = ratelimit_table_new(1, S, 500, 1000);
    racer_t r[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (racer_t){t, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    unsigned total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += r[i].passed;
    }
    ck_assert_uint_eq(total, 1000);
    ratelimit_table_free(t);
}
END_TEST

static int cred(const char *header, const char **user, const char **pass)
{
    static char buf[128];
    return auth_cred_parse(header, strlen(header), buf, sizeof buf, user, pass);
}

START_TEST(basic_credentials)
{
    const char *u, *p;
    ck_assert_int_eq(cred("Basic YWxpY2U6czNjcjN0", &u, &p), 0); /* alice:s3cr3t */
    ck_assert_str_eq(u, "alice");
    ck_assert_str_eq(p, "s3cr3t");
    ck_assert_int_eq(cred("basic   YTpiOmM= ", &u, &p), 0); /* a:b:c */
    ck_assert_str_eq(u, "a");
    ck_assert_str_eq(p, "b:c");
    ck_assert_int_eq(cred("Basic YTo=", &u, &p), 0); /* a: (empty password) */
    ck_assert_str_eq(p, "");
    static const char *const bad[] = {
        "Bearer YWxpY2U6czNjcjN0", "Basic", "Basic ", "BasicYWxpY2U6czNjcjN0", "Basic YWxpY2U",
        "Basic YWxpY2U6czNjcjN0=", "Basic YW=pY2U6", "Basic OnBhc3M=" /* :pass */, "Basic YWxpY2U=" /* alice */,
        "Basic YQp4OnA=" /* a\nx:p */, "Basic !!!!",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(cred(bad[i], &u, &p) < 0, "\"%s\" accepted", bad[i]);
    char small[8];
    ck_assert_int_eq(auth_cred_parse("Basic YWxpY2U6czNjcjN0", 22, small, sizeof small, &u, &p), -1);
}
END_TEST

static char *write_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_access.XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

START_TEST(htpasswd_files)
{
    char text[1024], why[256];
    char *h6 = strdup(crypt("pw6", "$6$saltsalt$"));
    char *h2 = strdup(crypt("pw2", crypt_gensalt("$2b$", 4, NULL, 0)));
    snprintf(text, sizeof text, "# users\n\nbob:%s\nalice:%s\r\n", h6, h2);
    char *path = write_file(text);
    auth_htpasswd_t f;
    ck_assert_msg(auth_htpasswd_load(&f, path, why, sizeof why) == 0, "%s", why);
    ck_assert_uint_eq(f.n, 2);
    ck_assert_str_eq(auth_htpasswd_find(&f, "alice")->hash, h2);
    ck_assert_str_eq(auth_htpasswd_find(&f, "bob")->hash, h6);
    ck_assert_ptr_null(auth_htpasswd_find(&f, "carol"));
    ck_assert_int_eq(auth_htpasswd_changed(&f, path), 0);
    FILE *fp = fopen(path, "a");
    fputs("# more\n", fp);
    fclose(fp);
    ck_assert_int_eq(auth_htpasswd_changed(&f, path), 1);
    auth_htpasswd_free(&f);
    unlink(path);
    ck_assert_int_eq(auth_htpasswd_changed(&f, path), 1); /* gone */

    static const struct {
        const char *line, *why;
    } bad[] = {
        {"nocolon", ":2: not user:hash"},
        {":$6$saltsalt$x", ":2: empty user name"},
        {"u:$apr1$abc$def", ":2: hash is not bcrypt"},
        {"u:plain", ":2: hash is not bcrypt"},
        {"u:$6$", ":2: hash is malformed"},
        {"u:$6$saltsalt$abc", ":2: hash is malformed"}, /* a checksum cut short */
        {NULL, ":2: user listed twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (bad[i].line)
            snprintf(text, sizeof text, "bob:%s\n%s\n", h6, bad[i].line);
        else
            snprintf(text, sizeof text, "bob:%s\nbob:%s\n", h6, h2);
        path = write_file(text);
        ck_assert_msg(auth_htpasswd_load(&f, path, why, sizeof why) < 0, "%s accepted", bad[i].why);
        ck_assert_msg(strstr(why, path) == why && strstr(why, bad[i].why), "%s: %s", bad[i].why, why);
        unlink(path);
    }
    path = write_file("# nobody\n");
    ck_assert_int_eq(auth_htpasswd_load(&f, path, why, sizeof why), -1);
    ck_assert(strstr(why, "no user") != NULL);
    unlink(path);
    ck_assert_int_eq(auth_htpasswd_load(&f, "/nonexistent/htpasswd", why, sizeof why), -1);
    free(h6);
    free(h2);
}
END_TEST

START_TEST(cache_of_successes)
{
    auth_cache_t *c = auth_cache_new(4);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(auth_cache_hit(c, "alice", "pw"), 0);
    auth_cache_put(c, "alice", "pw");
    ck_assert_int_eq(auth_cache_hit(c, "alice", "pw"), 1);
    ck_assert_int_eq(auth_cache_hit(c, "alice", "pW"), 0);
    ck_assert_int_eq(auth_cache_hit(c, "alic", "epw"), 0); /* the boundary counts */
    auth_cache_put(c, "alice", "new");
    ck_assert_int_eq(auth_cache_hit(c, "alice", "pw"), 0);
    ck_assert_int_eq(auth_cache_hit(c, "alice", "new"), 1);
    auth_cache_free(c);
}
END_TEST

static void bump(void *arg)
{
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

START_TEST(pool_runs_everything_queued)
{
    int n = 0, accepted = 0;
    auth_pool_t *p = auth_pool_new(2, 100);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 1000; i++)
        accepted += auth_pool_submit(p, bump, &n) == 0;
    auth_pool_free(p); /* runs what is still queued */
    ck_assert_int_ge(accepted, 100);
    ck_assert_int_eq(n, accepted);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("access");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, first_match_wins);
    tcase_add_test(tc, unix_and_default);
    tcase_add_test(tc, refused_lists);
    suite_add_tcase(s, tc);
    TCase *rl = tcase_create("ratelimit");
    tcase_add_test(rl, peer_ip);
    tcase_add_test(rl, bucket_burst_and_refill);
    tcase_add_test(rl, bucket_per_minute);
    tcase_add_test(rl, bounded_with_eviction);
    tcase_add_test(rl, threads_share_one_bucket);
    tcase_add_test(rl, shm_burst_refill_and_bounds);
    suite_add_tcase(s, rl);
    TCase *au = tcase_create("auth_basic");
    tcase_add_test(au, basic_credentials);
    tcase_add_test(au, htpasswd_files);
    tcase_add_test(au, cache_of_successes);
    tcase_add_test(au, pool_runs_everything_queued);
    suite_add_tcase(s, au);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
