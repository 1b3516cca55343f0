/* The access-log line formatter and the bounded writer under it. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sbuf.h"

#define T "[01/Dec/2026:10:00:00 +0000]"

static ph_str_t str(const char *s) { return (ph_str_t){s, strlen(s)}; }

START_TEST(test_line_exact)
{
    char line[LOG_LINE_MAX];
    log_access_entry_t e = {.peer = "127.0.0.1:5555", .time = T, .method = str("GET"),
                            .target = str("/a\"b\\c\x01\xff"), .version_minor = 1, .status = 200,
                            .bytes = 12, .referer = str("http://x/"), .user_agent = {NULL, 0}};
    size_t n = log_access_format(line, &e);
    const char *want = "127.0.0.1 - - " T " \"GET /a\\x22b\\x5Cc\\x01\\xFF HTTP/1.1\" 200 12 "
                       "\"http://x/\" \"-\"\n";
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_int_eq(memcmp(line, want, n), 0);
}
END_TEST

START_TEST(test_no_request_line)
{
    char line[LOG_LINE_MAX];
    log_access_entry_t e = {.peer = "[::1]:80", .time = T, .status = 408};
    size_t n = log_access_format(line, &e);
    const char *want = "[::1] - - " T " \"-\" 408 - \"-\" \"-\"\n";
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_int_eq(memcmp(line, want, n), 0);
}
END_TEST

/* The fields that overran the stack buffer once: a long method followed by
 * a target of quotes (each escaped to 4 bytes). Every field is cut to its
 * share, whole escapes only, and the line still ends in "\n. */
static char *filled(char ch, size_t n)
{
    char *p = malloc(n);
    memset(p, ch, n);
    return p;
}

START_TEST(test_huge_fields_are_cut)
{
    char line[LOG_LINE_MAX + 16];
    memset(line, 'Z', sizeof line);
    char *m = filled('A', 2100), *t = filled('"', 8000), *r = filled('\n', 5000), *u = filled('u', 5000);
    log_access_entry_t e = {.peer = "unix", .time = T, .method = {m, 2100}, .target = {t, 8000},
                            .version_minor = 1, .status = 405, .bytes = 0, .referer = {r, 5000},
                            .user_agent = {u, 5000}};
    size_t n = log_access_format(line, &e);
    ck_assert_uint_le(n, LOG_LINE_MAX);
    ck_assert_int_eq(line[LOG_LINE_MAX], 'Z'); /* nothing written past the line */
    ck_assert_int_eq(line[n - 1], '\n');
    ck_assert_int_eq(line[n - 2], '"');
    ck_assert_ptr_eq(memchr(line, '\n', n - 1), NULL);
    /* method: 128 bytes of it; target: 512 escapes of 4 bytes */
    const char *p = line + strlen("unix - - " T " \"");
    for (int i = 0; i < 128; i++)
        ck_assert_int_eq(p[i], 'A');
    ck_assert_int_eq(p[128], ' ');
    for (int i = 0; i < 512; i++)
        ck_assert_int_eq(memcmp(p + 129 + 4 * i, "\\x22", 4), 0);
    ck_assert_int_eq(memcmp(p + 129 + 2048, " HTTP/1.1\" 405 - \"", 18), 0);
    free(m);
    free(t);
    free(r);
    free(u);
}
END_TEST

START_TEST(test_sbuf_bounds)
{
    char mem[16];
    memset(mem, 'Z', sizeof mem);
    sbuf_t b;
    sbuf_init(&b, mem, 10, 2);
    sbuf_puts(&b, "abcdefghijk");
    ck_assert_uint_eq(b.len, 8);
    ck_assert(b.cut);
    sbuf_printf(&b, "%d", 12345);
    ck_assert_uint_eq(b.len, 8);
    ck_assert_uint_eq(sbuf_finish(&b, "\"\n", 2), 10);
    ck_assert_int_eq(memcmp(mem, "abcdefgh\"\n", 10), 0);
    ck_assert_int_eq(mem[10], 'Z');

    sbuf_init(&b, mem, 10, 1);
    sbuf_printf(&b, "%s", "123456789012");
    ck_assert_uint_eq(b.len, 8); /* room 9, one byte left to the NUL */
    ck_assert(b.cut);
    sbuf_init(&b, mem, 9, 0);
    sbuf_put_escaped(&b, "ab\"", 3, 100);
    ck_assert_uint_eq(b.len, 6);
    sbuf_put_escaped(&b, "\"", 1, 100); /* 4 more do not fit in 9: none */
    ck_assert_uint_eq(b.len, 6);
    ck_assert(b.cut);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("access");
    tcase_add_test(tc, test_line_exact);
    tcase_add_test(tc, test_no_request_line);
    tcase_add_test(tc, test_huge_fields_are_cut);
    tcase_add_test(tc, test_sbuf_bounds);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
