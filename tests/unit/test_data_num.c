/*
 * Unit tests of the data plugin's exact numbers (data_num.c) and answer
 * writer (data_jout.c): number grammar, SQLite's exact storage, shortest
 * doubles, bodies whose numbers keep their text.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "data_jout.h"
#include "data_num.h"

static bool valid(const char *s)
{
    return data_num_valid(s, strlen(s));
}

START_TEST(json_number_grammar)
{
    ck_assert(valid("0"));
    ck_assert(valid("-0.5"));
    ck_assert(valid("12345678901234567890.123456789"));
    ck_assert(valid("1E+400"));
    ck_assert(!valid(""));
    ck_assert(!valid("+1"));
    ck_assert(!valid("01"));
    ck_assert(!valid(".5"));
    ck_assert(!valid("5."));
    ck_assert(!valid("1e"));
    ck_assert(!valid("NaN"));
    ck_assert(!valid("1 "));
}
END_TEST

static int sqlite_kind(const char *s, long long *i, double *d)
{
    return data_num_sqlite(s, strlen(s), i, d);
}

START_TEST(sqlite_stores_only_what_it_holds_exactly)
{
    long long i = 0;
    double d = 0;
    ck_assert_int_eq(sqlite_kind("9007199254740993", &i, &d), 1);
    ck_assert(i == 9007199254740993LL);
    ck_assert_int_eq(sqlite_kind("1.50e2", &i, &d), 1);
    ck_assert(i == 150);
    ck_assert_int_eq(sqlite_kind("-9223372036854775808", &i, &d), 1);
    ck_assert_int_eq(sqlite_kind("0.1", &i, &d), 2);
    ck_assert(d == 0.1);
    ck_assert_int_eq(sqlite_kind("0.30000000000000004", &i, &d), 2);
    ck_assert_int_eq(sqlite_kind("-0.000000001", &i, &d), 2);
    ck_assert_int_eq(sqlite_kind("1e20", &i, &d), 2); /* beyond int64, a double exactly */
    ck_assert_int_eq(sqlite_kind("0.3000000000000000444", &i, &d), 0);
    ck_assert_int_eq(sqlite_kind("12345678901234567890.123456789", &i, &d), 0);
    ck_assert_int_eq(sqlite_kind("9223372036854775809", &i, &d), 0);
    ck_assert_int_eq(sqlite_kind("1e400", &i, &d), 0);
}
END_TEST

static const char *fmt(double d)
{
    static char buf[40];
    data_num_format_double(d, buf, sizeof buf);
    return buf;
}

START_TEST(doubles_take_their_shortest_spelling)
{
    ck_assert_str_eq(fmt(0.1), "0.1");
    ck_assert_str_eq(fmt(0.1 + 0.2), "0.30000000000000004");
    ck_assert_str_eq(fmt(3), "3.0");
    ck_assert_str_eq(fmt(1e20), "1e20");
    ck_assert_str_eq(fmt(-1e-9), "-1e-9");
    ck_assert_str_eq(fmt(1.5e300), "1.5e300");
}
END_TEST

START_TEST(bodies_keep_their_numbers_text)
{
    const char *body = "{\"a\":12345678901234567890.123456789,\"b\":[1,-2e3,\"x\\\"1.5\"],\"c\":9223372036854775808}";
    json_error_t e;
    json_t *j = data_num_loadb(body, strlen(body), JSON_REJECT_DUPLICATES, &e);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_integer(json_array_get(json_object_get(j, "b"), 0)));
    char *out = data_jout_dumps(j);
    ck_assert_str_eq(out, body); /* raw numbers verbatim, the string untouched */
    free(out);
    json_decref(j);
    /* A NUL in a string would be taken for the mark: refused. */
    const char *nul = "{\"a\":\"x\\u0000\"}";
    ck_assert_ptr_null(data_num_loadb(nul, strlen(nul), 0, &e));
    ck_assert_str_eq(e.text, "\\u0000 is not allowed in strings");
    /* Text from a database may hold a NUL: it stays a string. */
    json_t *nul_text = json_stringn("\0{}", 3);
    out = data_jout_dumps(nul_text);
    ck_assert_str_eq(out, "\"\\u0000{}\"");
    free(out);
    json_decref(nul_text);
    /* Malformed JSON is still jansson's error. */
    ck_assert_ptr_null(data_num_loadb("{\"a\":1.}", 8, 0, &e));
}
END_TEST

START_TEST(database_json_is_compacted_not_reformatted)
{
    const char *pg = "{\"a\": 1.10, \"b\": [\"x y\", 1e2]}";
    json_t *j = data_num_raw_json(pg, strlen(pg));
    char *out = data_jout_dumps(j);
    ck_assert_str_eq(out, "{\"a\":1.10,\"b\":[\"x y\",1e2]}");
    free(out);
    json_decref(j);
    ck_assert_ptr_null(data_num_raw_json("{\"a\":", 5));
}
END_TEST

static Suite *num_suite(void)
{
    Suite *s = suite_create("data_num");
    TCase *t = tcase_create("numbers");
    tcase_add_test(t, json_number_grammar);
    tcase_add_test(t, sqlite_stores_only_what_it_holds_exactly);
    tcase_add_test(t, doubles_take_their_shortest_spelling);
    tcase_add_test(t, bodies_keep_their_numbers_text);
    tcase_add_test(t, database_json_is_compacted_not_reformatted);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(num_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
