/*
 * Unit tests for server/request.c's request calls that need no connection:
 * the ABI 1.5 notes (note_set/note), on a request set up the way
 * exchange_new() sets one up, in a pool of its own.
 */
#include "pool.h"
#include "request.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pool_t *pool;
static ph_request_t *req;

static void setup(void)
{
    pool = pool_new(1024);
    ck_assert_ptr_nonnull(pool);
    req = pool_calloc(pool, sizeof *req);
    ck_assert_ptr_nonnull(req);
    request_init(req, pool);
}

static void teardown(void) { pool_free(pool); }

START_TEST(note_set_and_read)
{
    ck_assert_ptr_null(request_api.note(req, "user"));
    ck_assert_int_eq(request_api.note_set(req, "user", "alice"), PH_OK);
    ck_assert_int_eq(request_api.note_set(req, "role", "admin"), PH_OK);
    ck_assert_str_eq(request_api.note(req, "user"), "alice");
    ck_assert_str_eq(request_api.note(req, "role"), "admin");
    /* names compare exactly */
    ck_assert_ptr_null(request_api.note(req, "User"));
    ck_assert_ptr_null(request_api.note(req, "use"));
}
END_TEST

START_TEST(note_copies_its_strings)
{
    char name[] = "user", value[] = "alice";
    ck_assert_int_eq(request_api.note_set(req, name, value), PH_OK);
    memset(value, 'x', sizeof value - 1);
    memset(name, 'y', sizeof name - 1);
    ck_assert_str_eq(request_api.note(req, "user"), "alice");
}
END_TEST

START_TEST(note_replaced_and_removed)
{
    ck_assert_int_eq(request_api.note_set(req, "a", "1"), PH_OK);
    ck_assert_int_eq(request_api.note_set(req, "b", "2"), PH_OK);
    ck_assert_int_eq(request_api.note_set(req, "c", "3"), PH_OK);
    ck_assert_int_eq(request_api.note_set(req, "b", "two"), PH_OK);
    ck_assert_str_eq(request_api.note(req, "b"), "two");
    /* removing the middle one keeps the others */
    ck_assert_int_eq(request_api.note_set(req, "b", NULL), PH_OK);
    ck_assert_ptr_null(request_api.note(req, "b"));
    ck_assert_str_eq(request_api.note(req, "a"), "1");
    ck_assert_str_eq(request_api.note(req, "c"), "3");
    /* removing what is not there is no error; a removed name can come back */
    ck_assert_int_eq(request_api.note_set(req, "b", NULL), PH_OK);
    ck_assert_int_eq(request_api.note_set(req, "b", ""), PH_OK);
    ck_assert_str_eq(request_api.note(req, "b"), "");
}
END_TEST

START_TEST(note_bad_names)
{
    ck_assert_int_eq(request_api.note_set(req, NULL, "v"), PH_ERROR);
    ck_assert_int_eq(request_api.note_set(req, "", "v"), PH_ERROR);
    ck_assert_ptr_null(request_api.note(req, NULL));
    ck_assert_ptr_null(request_api.note(req, ""));
}
END_TEST

START_TEST(note_many_and_long)
{
    char name[16], value[5000];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "n%d", i);
        ck_assert_int_eq(request_api.note_set(req, name, i % 50 ? name : value), PH_OK);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "n%d", i);
        ck_assert_str_eq(request_api.note(req, name), i % 50 ? name : value);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("notes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, note_set_and_read);
    tcase_add_test(tc, note_copies_its_strings);
    tcase_add_test(tc, note_replaced_and_removed);
    tcase_add_test(tc, note_bad_names);
    tcase_add_test(tc, note_many_and_long);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
