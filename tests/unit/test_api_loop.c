/*
 * Unit tests for server/api_loop.c's pure part: the address the plugin
 * API's connect() takes (api_addr_parse), and connect()'s refusals that
 * need no network.
 */
#include "api_loop.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct good_case {
    const char *in;
    int unix_path, bracketed;
    const char *host, *port, *path;
} good_case_t;

static const good_case_t good[] = {
    {"127.0.0.1:8080", 0, 0, "127.0.0.1", "8080", ""},
    {"127.0.0.1:1", 0, 0, "127.0.0.1", "1", ""},
    {"127.0.0.1:65535", 0, 0, "127.0.0.1", "65535", ""},
    {"localhost:80", 0, 0, "localhost", "80", ""},
    {"db-1.internal_x.example:5432", 0, 0, "db-1.internal_x.example", "5432", ""},
    {"[::1]:443", 0, 1, "::1", "443", ""},
    {"[fe80::1%lo]:22", 0, 1, "fe80::1%lo", "22", ""},
    {"unix:/run/app.sock", 1, 0, "", "", "/run/app.sock"},
    {"unix:/", 1, 0, "", "", "/"},
};

START_TEST(accepts_each_form)
{
    const good_case_t *c = &good[_i];
    api_addr_t a;
    ck_assert_msg(api_addr_parse(c->in, &a) == 0, "%s refused", c->in);
    ck_assert_int_eq(a.unix_path, c->unix_path);
    ck_assert_int_eq(a.bracketed, c->bracketed);
    ck_assert_str_eq(a.host, c->host);
    ck_assert_str_eq(a.port, c->port);
    ck_assert_str_eq(a.path, c->path);
}
END_TEST

static const char *const malformed[] = {
    "",
    "127.0.0.1",          /* no port */
    "127.0.0.1:",         /* empty port */
    ":80",                /* empty host */
    "127.0.0.1:0",        /* port 0 */
    "127.0.0.1:65536",    /* out of range */
    "127.0.0.1:123456",   /* six digits */
    "127.0.0.1:+80",
    "127.0.0.1:-1",
    "127.0.0.1: 80",
    "127.0.0.1:80 ",
    "127.0.0.1:8a",
    "::1:80",             /* IPv6 without brackets */
    "[::1]",              /* no port */
    "[::1]80",
    "[::1:80",
    "[]:80",
    "[[::1]]:80",
    "host name:80",
    "host/x:80",
    "user@host:80",
    "unix:",
    "unix:relative.sock",
    "unix:@abstract",
    "UNIX:/tmp/x",        /* the prefix is lower case; then a bad host */
};

START_TEST(refuses_malformed)
{
    api_addr_t a;
    ck_assert_msg(api_addr_parse(malformed[_i], &a) == EINVAL, "\"%s\" not refused", malformed[_i]);
}
END_TEST

START_TEST(refuses_too_long)
{
    char path[200] = "unix:/";
    memset(path + 6, 'p', 107); /* "/" + 107 bytes + NUL = 109 > sun_path */
    path[6 + 107] = '\0';
    api_addr_t a;
    ck_assert_int_eq(api_addr_parse(path, &a), ENAMETOOLONG);
    path[6 + 106] = '\0'; /* 107 bytes and the NUL fit */
    ck_assert_int_eq(api_addr_parse(path, &a), 0);

    char host[400];
    memset(host, 'h', 300);
    strcpy(host + 300, ":80");
    ck_assert_int_eq(api_addr_parse(host, &a), EINVAL);
    ck_assert_int_eq(api_addr_parse(NULL, &a), EINVAL);
}
END_TEST

/* connect() refuses before any socket exists: errno says why. */
START_TEST(connect_refusals)
{
    errno = 0;
    ck_assert_int_eq(api_connect("127.0.0.1"), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(api_connect("[127.0.0.1]:80"), -1); /* brackets are for IPv6 */
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(api_connect("[zz::1]:80"), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(api_connect("unix:/nonexistent-dir-for-test/x.sock"), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("api_loop");
    TCase *tc = tcase_create("addr");
    tcase_add_loop_test(tc, accepts_each_form, 0, (int)(sizeof good / sizeof good[0]));
    tcase_add_loop_test(tc, refuses_malformed, 0, (int)(sizeof malformed / sizeof malformed[0]));
    tcase_add_test(tc, refuses_too_long);
    tcase_add_test(tc, connect_refusals);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
