/*
 * Unit tests for server/hostname.c: a request's host in canonical form,
 * and the host names [route HOST/prefix] accepts.
 */
#include "hostname.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *in, *want;
} norm_cases[] = {
    {"example.com", "example.com"},
    {"Example.COM", "example.com"},
    {"example.com.", "example.com"},        /* one trailing dot */
    {"example.com..", "example.com."},      /* only one */
    {"example.com:8080", "example.com"},
    {"EXAMPLE.com.:443", "example.com"},
    {"example.com:", "example.com"},         /* empty port */
    {"127.0.0.1:80", "127.0.0.1"},
    {"[::1]:8080", "[::1]"},
    {"[::1]", "[::1]"},
    {"[FE80::A]", "[fe80::a]"},
    {".", "."},                             /* not emptied */
    {"", ""},
    {"a%41b", "a%41b"},                     /* escapes stay: no section has them */
    {"\xc3\x89x", "\xc3\x89x"},             /* bytes above ASCII untouched */
};

START_TEST(normalise)
{
    for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
        char out[64];
        size_t n = hostname_normalise(norm_cases[i].in, strlen(norm_cases[i].in), out);
        ck_assert_msg(n == strlen(norm_cases[i].want) && memcmp(out, norm_cases[i].want, n) == 0,
                      "\"%s\": got \"%.*s\", want \"%s\"", norm_cases[i].in, (int)n, out, norm_cases[i].want);
    }
}
END_TEST

/* The output may be the input. */
START_TEST(normalise_in_place)
{
    char buf[] = "WWW.Example.ORG.:80";
    size_t n = hostname_normalise(buf, strlen(buf), buf);
    ck_assert_uint_eq(n, 15);
    ck_assert_int_eq(memcmp(buf, "www.example.org", n), 0);
}
END_TEST

static const struct {
    const char *name, *want;
    int kind; /* 0: refused */
} pattern_cases[] = {
    {"example.com", "example.com", 1},
    {"Example.COM.", "example.com", 1},
    {"localhost", "localhost", 1},
    {"127.0.0.1", "127.0.0.1", 1},
    {"a-b.c-d.example", "a-b.c-d.example", 1},
    {"*.example.com", "*.example.com", 2},
    {"*.COM", "*.com", 2},
    {"", NULL, 0},
    {".", NULL, 0},
    {"*", NULL, 0},
    {"*.", NULL, 0},
    {"*.*.com", NULL, 0},
    {"a.*.com", NULL, 0},
    {"*example.com", NULL, 0},
    {"ex..com", NULL, 0},
    {".example.com", NULL, 0},
    {"-a.com", NULL, 0},
    {"a-.com", NULL, 0},
    {"a_b.com", NULL, 0},
    {"a b.com", NULL, 0},
    {"[::1]", NULL, 0},
    {"host:80", NULL, 0},
    {"\xc3\xa9.com", NULL, 0},
};

START_TEST(patterns)
{
    for (size_t i = 0; i < sizeof pattern_cases / sizeof pattern_cases[0]; i++) {
        char out[HOSTNAME_MAX + 1];
        const char *why = NULL;
        int kind = hostname_pattern(pattern_cases[i].name, out, &why);
        ck_assert_msg(kind == pattern_cases[i].kind, "\"%s\": kind %d, want %d", pattern_cases[i].name, kind,
                      pattern_cases[i].kind);
        if (kind)
            ck_assert_str_eq(out, pattern_cases[i].want);
        else
            ck_assert_msg(why && why[0], "\"%s\": no reason", pattern_cases[i].name);
    }
}
END_TEST

START_TEST(pattern_lengths)
{
    char name[400], out[HOSTNAME_MAX + 1];
    const char *why;
    memset(name, 'a', 63);
    strcpy(name + 63, ".com");
    ck_assert_int_eq(hostname_pattern(name, out, &why), 1);
    memset(name, 'a', 64);
    strcpy(name + 64, ".com");
    ck_assert_int_eq(hostname_pattern(name, out, &why), 0);
    /* 253 bytes in labels of 9 and dots: accepted; one more byte: refused */
    size_t n = 0;
    while (n + 10 <= 250) {
        memcpy(name + n, "abcdefghi.", 10);
        n += 10;
    }
    memcpy(name + n, "abc", 3);
    name[n + 3] = '\0';
    ck_assert_uint_eq(strlen(name), 253);
    ck_assert_int_eq(hostname_pattern(name, out, &why), 1);
    strcat(name, "d");
    ck_assert_int_eq(hostname_pattern(name, out, &why), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostname");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, normalise);
    tcase_add_test(tc, normalise_in_place);
    tcase_add_test(tc, patterns);
    tcase_add_test(tc, pattern_lengths);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
