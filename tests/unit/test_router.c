/*
 * Unit tests for server/router.c: longest whole-segment prefix match, and
 * the choice of a host's routes (exact, wildcard, default, unknown).
 *
 * The match table is run against every insertion order of the routes
 * (all permutations), because the router sorts internally and the result
 * must never depend on the order of [route] sections in server.ini.
 */
#include "router.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Routes used by the match table; each target is the prefix string itself,
 * so a match can be checked by comparing strings. */
static const char *const routes[] = {"/", "/api", "/api/v1", "/a/b", "/a", "/static/img"};
#define NROUTES (sizeof routes / sizeof routes[0])

typedef struct match_case {
    const char *path;
    const char *want;   /* expected prefix (target), NULL for no match */
    size_t prefix_len;  /* expected *prefix_len when matched */
} match_case_t;

static const match_case_t cases[] = {
    {"/api", "/api", 4},
    {"/api/", "/api", 4},
    {"/api/x", "/api", 4},
    {"/api/x/y", "/api", 4},
    {"/apix", "/", 0},          /* never a partial segment */
    {"/api-v2/x", "/", 0},
    {"/api/v1", "/api/v1", 7},
    {"/api/v1/users", "/api/v1", 7},
    {"/api/v10", "/api", 4},    /* "/api/v1" is not a segment prefix of it */
    {"/a", "/a", 2},
    {"/a/", "/a", 2},
    {"/a/b", "/a/b", 4},        /* longer beats shorter */
    {"/a/b/c", "/a/b", 4},
    {"/a/bc", "/a", 2},
    {"/ab", "/", 0},
    {"/static", "/", 0},        /* only "/static/img" exists */
    {"/static/img/x.png", "/static/img", 11},
    {"/static/image", "/", 0},
    {"/", "/", 0},
    {"", "/", 0},               /* "/" matches everything */
    {"/x/y/z", "/", 0},
};

/* Builds a router from routes[] in the order given by perm. */
static router_t *build(const size_t *perm)
{
    router_t *r = router_new();
    ck_assert_ptr_nonnull(r);
    for (size_t i = 0; i < NROUTES; i++)
        ck_assert_int_eq(router_add(r, routes[perm[i]], (void *)routes[perm[i]]), 0);
    ck_assert_uint_eq(router_count(r), NROUTES);
    return r;
}

static void check_cases(const router_t *r, const size_t *perm)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const match_case_t *c = &cases[i];
        size_t plen = 12345;
        const char *got = router_match(r, c->path, strlen(c->path), &plen);
        ck_assert_msg(got != NULL, "\"%s\": no match (order starts with %s)", c->path, routes[perm[0]]);
        ck_assert_msg(strcmp(got, c->want) == 0, "\"%s\": matched %s, want %s (order starts with %s)", c->path,
                      got, c->want, routes[perm[0]]);
        ck_assert_msg(plen == c->prefix_len, "\"%s\": prefix_len %zu, want %zu", c->path, plen, c->prefix_len);
    }
}

/* Heap's algorithm over perm[0..n): calls fn for every permutation. */
static size_t npermutations;

static void permute(size_t *perm, size_t n)
{
    if (n == 1) {
        router_t *r = build(perm);
        check_cases(r, perm);
        router_free(r);
        npermutations++;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        permute(perm, n - 1);
        size_t j = n % 2 == 0 ? i : 0;
        size_t t = perm[j];
        perm[j] = perm[n - 1];
        perm[n - 1] = t;
    }
}

START_TEST(match_every_insertion_order)
{
    size_t perm[NROUTES];
    for (size_t i = 0; i < NROUTES; i++)
        perm[i] = i;
    npermutations = 0;
    permute(perm, NROUTES);
    ck_assert_uint_eq(npermutations, 720); /* 6! orders, all checked */
}
END_TEST

START_TEST(no_root_means_no_match)
{
    router_t *r = router_new();
    ck_assert_int_eq(router_add(r, "/api", "api"), 0);
    size_t plen = 99;
    ck_assert_ptr_null(router_match(r, "/", 1, &plen));
    ck_assert_ptr_null(router_match(r, "/apix", 5, &plen));
    ck_assert_ptr_null(router_match(r, "/ap", 3, &plen));
    ck_assert_ptr_null(router_match(r, "", 0, &plen));
    ck_assert_ptr_null(router_match(r, "/other/api", 10, &plen));
    ck_assert_str_eq(router_match(r, "/api/z", 6, &plen), "api");
    ck_assert_uint_eq(plen, 4);
    router_free(r);
}
END_TEST

START_TEST(empty_router)
{
    router_t *r = router_new();
    size_t plen = 0;
    ck_assert_uint_eq(router_count(r), 0);
    ck_assert_ptr_null(router_match(r, "/", 1, &plen));
    router_free(r);
    router_free(NULL); /* like free(): must not crash */
}
END_TEST

/* The length given is authoritative: bytes after it are not the path. */
START_TEST(match_respects_length)
{
    router_t *r = router_new();
    ck_assert_int_eq(router_add(r, "/", "root"), 0);
    ck_assert_int_eq(router_add(r, "/api", "api"), 0);
    size_t plen = 99;
    /* "/api" followed by junk that is not part of the path */
    ck_assert_str_eq(router_match(r, "/apixyz", 4, &plen), "api");
    ck_assert_uint_eq(plen, 4);
    /* only "/ap" of "/api/x" is the path */
    ck_assert_str_eq(router_match(r, "/api/x", 3, &plen), "root");
    ck_assert_uint_eq(plen, 0);
    router_free(r);
}
END_TEST

START_TEST(refuses_malformed_and_duplicates)
{
    router_t *r = router_new();
    ck_assert_int_eq(router_add(r, "/a", "a"), 0);
    ck_assert_int_eq(router_add(r, "/", "root"), 0);

    static const char *const bad[] = {"", "x", "a/b", "/a/", "/a/b/", "//"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(router_add(r, bad[i], "bad") == -1, "\"%s\" accepted", bad[i]);

    ck_assert_int_eq(router_add(r, "/a", "again"), -1);
    ck_assert_int_eq(router_add(r, "/", "again"), -1);
    ck_assert_uint_eq(router_count(r), 2);

    /* the refused adds changed nothing */
    size_t plen = 99;
    ck_assert_str_eq(router_match(r, "/a/x", 4, &plen), "a");
    ck_assert_uint_eq(plen, 2);
    ck_assert_str_eq(router_match(r, "/b", 2, &plen), "root");
    ck_assert_uint_eq(plen, 0);

    /* a prefix of an existing one, and an extension of it, are not duplicates */
    ck_assert_int_eq(router_add(r, "/ab", "ab"), 0);
    ck_assert_str_eq(router_match(r, "/ab/c", 5, &plen), "ab");
    ck_assert_str_eq(router_match(r, "/a/c", 4, &plen), "a");
    router_free(r);
}
END_TEST

/* The router keeps the caller's pointer, not a copy (documented). */
START_TEST(target_pointer_kept)
{
    int x = 0, y = 0;
    router_t *r = router_new();
    ck_assert_int_eq(router_add(r, "/x", &x), 0);
    ck_assert_int_eq(router_add(r, "/y", &y), 0);
    size_t plen;
    ck_assert_ptr_eq(router_match(r, "/x", 2, &plen), &x);
    ck_assert_ptr_eq(router_match(r, "/y/1", 4, &plen), &y);
    router_free(r);
}
END_TEST

/* Many routes: growth of the table keeps the order and the contents. */
START_TEST(many_routes)
{
    enum { N = 200 };
    static char names[N][16];
    router_t *r = router_new();
    for (int i = N - 1; i >= 0; i--) {
        snprintf(names[i], sizeof names[i], "/r%d", i);
        ck_assert_int_eq(router_add(r, names[i], names[i]), 0);
    }
    ck_assert_uint_eq(router_count(r), N);
    for (int i = 0; i < N; i++) {
        char path[32];
        int n = snprintf(path, sizeof path, "/r%d/leaf", i);
        size_t plen = 0;
        const char *got = router_match(r, path, (size_t)n, &plen);
        ck_assert_ptr_nonnull(got);
        ck_assert_str_eq(got, names[i]);
        ck_assert_uint_eq(plen, strlen(names[i]));
    }
    router_free(r);
}
END_TEST


/* Host routes: each target names its host and prefix ("h/p"), so a match
 * says which table answered. */
static const char *const host_routes[][2] = {
    {NULL, "/"}, {NULL, "/api"},
    {"example.com", "/"}, {"example.com", "/api"},
    {"*.example.com", "/"}, {"*.a.example.com", "/x"},
    {"only.example.com", "/docs"},
};
#define NHOST_ROUTES (sizeof host_routes / sizeof host_routes[0])

typedef struct host_case {
    const char *host, *path;
    const char *want; /* NULL: no route */
    int status;       /* when NULL */
} host_case_t;

static const host_case_t host_cases[] = {
    {"example.com", "/api/v", "example.com/api", 0},
    {"example.com", "/other", "example.com/", 0},
    {"www.example.com", "/api", "*.example.com/", 0},         /* no fall-through to /api elsewhere */
    {"b.c.example.com", "/", "*.example.com/", 0},            /* any depth */
    {"q.a.example.com", "/x/1", "*.a.example.com/x", 0},      /* longer suffix wins */
    {"q.a.example.com", "/y", NULL, 404},                     /* ... and is the only table asked */
    {"a.example.com", "/x", "*.example.com/", 0},             /* "*.a.example.com" is not a.example.com */
    {"only.example.com", "/docs/x", "only.example.com/docs", 0}, /* exact beats wildcard */
    {"only.example.com", "/", NULL, 404},
    {"other.org", "/api", "-/api", 0},                         /* unknown: the default host */
    {"", "/", "-/", 0},                                        /* none named: the default host */
    {"xexample.com", "/", "-/", 0},                            /* a suffix match needs the dot */
    {".example.com", "/", "-/", 0},                            /* and a label before it */
    {"example.co", "/", "-/", 0},
};

static router_t *build_hosts(const size_t *perm, char names[][48])
{
    router_t *r = router_new();
    for (size_t i = 0; i < NHOST_ROUTES; i++) {
        const char *const *hr = host_routes[perm[i]];
        snprintf(names[perm[i]], 48, "%s%s", hr[0] ? hr[0] : "-", hr[1]);
        ck_assert_int_eq(router_add_host(r, hr[0], hr[1], names[perm[i]]), 0);
    }
    ck_assert(router_has_hosts(r));
    ck_assert_uint_eq(router_count(r), NHOST_ROUTES);
    return r;
}

static void check_host_cases(const router_t *r)
{
    for (size_t i = 0; i < sizeof host_cases / sizeof host_cases[0]; i++) {
        const host_case_t *c = &host_cases[i];
        size_t plen = 99;
        int status = 0;
        const char *got = router_match_host(r, c->host, strlen(c->host), c->path, strlen(c->path), &plen, &status);
        if (c->want == NULL) {
            ck_assert_msg(got == NULL, "%s%s: matched %s, want none", c->host, c->path, got);
            ck_assert_int_eq(status, c->status);
        } else {
            ck_assert_msg(got && strcmp(got, c->want) == 0, "%s%s: matched %s, want %s", c->host, c->path,
                          got ? got : "(none)", c->want);
        }
    }
}

START_TEST(hosts_every_insertion_order)
{
    /* rotations and reversals are enough to vary where exact names and
     * wildcards of each length land */
    char names[NHOST_ROUTES][48];
    for (size_t rot = 0; rot < NHOST_ROUTES; rot++) {
        for (int rev = 0; rev < 2; rev++) {
            size_t perm[NHOST_ROUTES];
            for (size_t i = 0; i < NHOST_ROUTES; i++) {
                size_t k = (i + rot) % NHOST_ROUTES;
                perm[i] = rev ? NHOST_ROUTES - 1 - k : k;
            }
            router_t *r = build_hosts(perm, names);
            check_host_cases(r);
            router_free(r);
        }
    }
}
END_TEST

START_TEST(unknown_host_status)
{
    router_t *r = router_new();
    ck_assert_int_eq(router_add(r, "/", "dflt"), 0);
    ck_assert(!router_has_hosts(r));
    size_t plen;
    int status = 0;
    /* without host routes the host never matters */
    router_set_unknown_host(r, 421);
    ck_assert_str_eq(router_match_host(r, "any", 3, "/", 1, &plen, &status), "dflt");
    ck_assert_int_eq(router_add_host(r, "example.com", "/", "ex"), 0);
    ck_assert(router_has_hosts(r));
    ck_assert_ptr_null(router_match_host(r, "any", 3, "/", 1, &plen, &status));
    ck_assert_int_eq(status, 421);
    ck_assert_ptr_null(router_match_host(r, "", 0, "/", 1, &plen, &status));
    ck_assert_int_eq(status, 421);
    router_set_unknown_host(r, 404);
    ck_assert_ptr_null(router_match_host(r, "any", 3, "/", 1, &plen, &status));
    ck_assert_int_eq(status, 404);
    router_set_unknown_host(r, 0);
    ck_assert_str_eq(router_match_host(r, "any", 3, "/", 1, &plen, &status), "dflt");
    ck_assert_str_eq(router_match_host(r, "example.com", 11, "/", 1, &plen, &status), "ex");
    /* the host's length is authoritative */
    ck_assert_str_eq(router_match_host(r, "example.comX", 11, "/", 1, &plen, &status), "ex");
    ck_assert_str_eq(router_match(r, "/", 1, &plen), "dflt");
    router_free(r);
}
END_TEST

START_TEST(host_duplicates_and_bad_names)
{
    router_t *r = router_new();
    ck_assert_int_eq(router_add_host(r, "example.com", "/a", "1"), 0);
    ck_assert_int_eq(router_add_host(r, "example.com", "/a", "2"), -1);
    ck_assert_int_eq(router_add_host(r, "*.example.com", "/a", "3"), 0); /* another host */
    ck_assert_int_eq(router_add_host(r, NULL, "/a", "4"), 0);
    ck_assert_int_eq(router_add_host(r, "", "/a", "5"), -1);
    ck_assert_int_eq(router_add_host(r, "*x.com", "/a", "6"), -1);
    ck_assert_int_eq(router_add_host(r, "example.com", "a", "7"), -1);
    ck_assert_uint_eq(router_count(r), 3);
    router_free(r);
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, match_every_insertion_order);
    tcase_add_test(tc, no_root_means_no_match);
    tcase_add_test(tc, empty_router);
    tcase_add_test(tc, match_respects_length);
    tcase_add_test(tc, refuses_malformed_and_duplicates);
    tcase_add_test(tc, target_pointer_kept);
    tcase_add_test(tc, many_routes);
    tcase_add_test(tc, hosts_every_insertion_order);
    tcase_add_test(tc, unknown_host_status);
    tcase_add_test(tc, host_duplicates_and_bad_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(router_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
