/*
 * Unit tests for the pure part of plugins/status: the Prometheus text
 * format's escaping and number formatting (status_expo), the JSON string
 * escaping (status_json) and the growing buffer under them (status_buf).
 * The plugin end to end is tests/integration/test_status.py.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "status_buf.h"
#include "status_expo.h"
#include "status_json.h"

static char *label(const char *s)
{
    static stbuf_t b;
    stbuf_free(&b);
    expo_label_value(&b, s);
    ck_assert_int_eq(b.failed, 0);
    return b.p ? b.p : "";
}

START_TEST(label_escaping)
{
    ck_assert_str_eq(label("/api"), "/api");
    ck_assert_str_eq(label(""), "");
    ck_assert_str_eq(label("a\"b"), "a\\\"b");
    ck_assert_str_eq(label("a\\b"), "a\\\\b");
    ck_assert_str_eq(label("a\nb"), "a\\nb");
    ck_assert_str_eq(label("\\\"\n"), "\\\\\\\"\\n");
    ck_assert_str_eq(label("tab\there"), "tab\there"); /* the format allows it */
    ck_assert_str_eq(label("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    /* not UTF-8: each bad byte becomes U+FFFD */
    ck_assert_str_eq(label("a\xff" "b"), "a\xef\xbf\xbd" "b");
    ck_assert_str_eq(label("\xc3"), "\xef\xbf\xbd");             /* cut short */
    ck_assert_str_eq(label("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong */
    ck_assert_str_eq(label("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
}
END_TEST

START_TEST(family_and_samples)
{
    stbuf_t b = {NULL, 0, 0, 0};
    expo_family(&b, "x_total", "counter", "Help with \\ and \"quotes\"\nand a line.");
    expo_label_t l[] = {{"route", "/a\"b"}, {"class", "2xx"}};
    expo_sample(&b, "x_total", l, 2, "3");
    expo_sample(&b, "x_total", NULL, 0, "0");
    ck_assert_str_eq(b.p, "# HELP x_total Help with \\\\ and \"quotes\"\\nand a line.\n"
                          "# TYPE x_total counter\n"
                          "x_total{route=\"/a\\\"b\",class=\"2xx\"} 3\n"
                          "x_total 0\n");
    stbuf_free(&b);
}
END_TEST

START_TEST(numbers)
{
    char n[32];
    ck_assert_str_eq(expo_u64(n, 0), "0");
    ck_assert_str_eq(expo_u64(n, UINT64_MAX), "18446744073709551615");
    ck_assert_str_eq(expo_seconds(n, 0), "0");
    ck_assert_str_eq(expo_seconds(n, 100), "0.0001");
    ck_assert_str_eq(expo_seconds(n, 250), "0.00025");
    ck_assert_str_eq(expo_seconds(n, 1000000), "1");
    ck_assert_str_eq(expo_seconds(n, 2500000), "2.5");
    ck_assert_str_eq(expo_seconds(n, 10000000), "10");
    ck_assert_str_eq(expo_seconds(n, 1234567), "1.234567");
}
END_TEST

START_TEST(json_strings)
{
    stbuf_t b = {NULL, 0, 0, 0};
    json_string(&b, "a\"b\\c\nd\x01\x7f/\xc3\xa9");
    ck_assert_str_eq(b.p, "\"a\\\"b\\\\c\\u000ad\\u0001\\u007f/\xc3\xa9\"");
    stbuf_free(&b);
}
END_TEST

/* A long text grows the buffer; printf of more than its first room. */
START_TEST(buffer_grows)
{
    stbuf_t b = {NULL, 0, 0, 0};
    for (int i = 0; i < 10000; i++)
        stbuf_printf(&b, "%05d,", i);
    ck_assert_int_eq(b.failed, 0);
    ck_assert_uint_eq(b.len, 60000);
    ck_assert_uint_eq(strlen(b.p), 60000);
    ck_assert(memcmp(b.p + 59994, "09999,", 6) == 0);
    stbuf_free(&b);
    ck_assert_ptr_null(b.p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status_expo");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, label_escaping);
    tcase_add_test(tc, family_and_samples);
    tcase_add_test(tc, numbers);
    tcase_add_test(tc, json_strings);
    tcase_add_test(tc, buffer_grows);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
