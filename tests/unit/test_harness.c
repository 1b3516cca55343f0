/*
 * libplughttpd-test (harness/, include/plughttpd/test.h) on real plugins:
 * the bundled echo, and fixtures that answer later (PH_PENDING + resume
 * from a thread), stream the body (PH_PLUGIN_STREAM_BODY) and run as
 * coroutines. Each test starts its own server (Check forks per test).
 */
#include <plughttpd/test.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE(name) TEST_PLUGIN_DIR "/" name ".so"

static ph_test_server_t *start(const char *so, const char *const *keys)
{
    char err[2048];
    ph_test_server_t *t = ph_test_plugin_start(so, keys, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    return t;
}

START_TEST(echo_keys_headers_body_peer)
{
    static const char *const keys[] = {"status = 201", "header = X-Kit: yes", NULL};
    ph_test_server_t *t = start(ECHO_PLUGIN, keys);
    static const char *const headers[] = {"X-Asked: 42", NULL};
    ph_test_request_t req = {.method = "POST", .target = "/a/b?q=1", .headers = headers,
                             .body = "hello body", .body_len = 10, .peer = "203.0.113.7"};
    ph_test_response_t res;
    ck_assert_int_eq(ph_test_request(t, &req, &res), 0);
    ck_assert_int_eq(res.status, 201);
    ck_assert_str_eq(ph_test_header(&res, "x-kit"), "yes");
    ck_assert_ptr_nonnull(strstr(res.body, "hello body"));
    ck_assert_ptr_nonnull(strstr(res.body, "X-Asked: 42"));
    ck_assert_ptr_nonnull(strstr(res.body, "203.0.113.7"));
    ck_assert_ptr_nonnull(strstr(res.body, "/a/b?q=1"));
    ph_test_response_free(&res);
    /* Without a peer: a direct connection from 127.0.0.1. */
    ck_assert_int_eq(ph_test_get(t, "/", &res), 0);
    ck_assert_ptr_nonnull(strstr(res.body, "127.0.0.1"));
    ph_test_response_free(&res);
    char *access = ph_test_access_log(t);
    ck_assert_ptr_nonnull(access);
    ck_assert_ptr_nonnull(strstr(access, "203.0.113.7"));
    free(access);
    ph_test_server_stop(t);
}
END_TEST

/* A body sent in pieces reaches a streaming plugin in pieces, whole. */
START_TEST(streamed_body)
{
    static const char *const keys[] = {"pause_every = 16k", "pause_for = 5ms", NULL};
    ph_test_server_t *t = start(FIXTURE("sink"), keys);
    size_t len = 200000;
    char *body = malloc(len);
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < len; i++)
        body[i] = (char)('a' + i % 26);
    ph_test_request_t req = {.method = "POST", .target = "/up", .body = body, .body_len = len, .chunk = 8192};
    ph_test_response_t res;
    ck_assert_int_eq(ph_test_request(t, &req, &res), 0);
    ck_assert_int_eq(res.status, 200);
    unsigned long n = 0, pieces = 0, pauses = 0, early = 1;
    ck_assert_int_eq(sscanf(res.body, "len=%lu pieces=%lu pauses=%lu early=%lu", &n, &pieces, &pauses, &early), 4);
    ck_assert_uint_eq(n, len);
    ck_assert_uint_gt(pieces, 1);
    ck_assert_uint_gt(pauses, 0);
    ck_assert_uint_eq(early, 0);
    ph_test_response_free(&res);
    free(body);
    ph_test_server_stop(t);
}
END_TEST

/* PH_PENDING, then resume() from the plugin's own thread. */
START_TEST(async_answer)
{
    static const char *const keys[] = {"name = kit", "delay = 50ms", NULL};
    ph_test_server_t *t = start(FIXTURE("later"), keys);
    ph_test_response_t res;
    ck_assert_int_eq(ph_test_get(t, "/x?tag=one", &res), 0);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.body, "later kit 50\n");
    ph_test_response_free(&res);
    ck_assert_int_eq(ph_test_wait_log(t, "later kit: pending tag=one", 2000), 0);
    ck_assert_int_eq(ph_test_wait_log(t, "later kit: resume tag=one cancelled=0 returned PH_OK", 2000), 0);
    ph_test_server_stop(t);
}
END_TEST

/* A coroutine handler, and the same one reading a streamed body. */
START_TEST(coroutine)
{
    ph_test_server_t *t = start(FIXTURE("cofx"), NULL);
    ph_test_response_t res;
    ck_assert_int_eq(ph_test_get(t, "/sleep?ms=20", &res), 0);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.body, "sleep 20: 0\n");
    ph_test_response_free(&res);
    ph_test_server_stop(t);
}
END_TEST

/* New keys take effect on a reload; a refused reload changes nothing. */
START_TEST(reload_new_keys)
{
    static const char *const keys[] = {"name = first", "delay = 1ms", NULL};
    ph_test_server_t *t = start(FIXTURE("later"), keys);
    ph_test_response_t res;
    ck_assert_int_eq(ph_test_get(t, "/x", &res), 0);
    ck_assert_str_eq(res.body, "later first 1\n");
    ph_test_response_free(&res);
    char config[512], err[2048];
    snprintf(config, sizeof config, "[route /]\nplugin = %s\nname = second\ndelay = 2ms\n", FIXTURE("later"));
    ck_assert_msg(ph_test_server_reload(t, config, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ph_test_get(t, "/x", &res), 0);
    ck_assert_str_eq(res.body, "later second 2\n");
    ph_test_response_free(&res);
    ck_assert_int_eq(ph_test_server_reload(t, "[route /]\nplugin = /nonexistent/x.so\n", err, sizeof err), -1);
    ck_assert_int_eq(ph_test_get(t, "/x", &res), 0);
    ck_assert_str_eq(res.body, "later second 2\n");
    ph_test_response_free(&res);
    ph_test_server_stop(t);
}
END_TEST

START_TEST(refused_plugin)
{
    char err[2048] = "";
    ph_test_server_t *t = ph_test_plugin_start(FIXTURE("bad_abi"), NULL, err, sizeof err);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, "bad_abi") != NULL, "%s", err);
}
END_TEST

/* Two servers one after the other in one process. */
START_TEST(start_stop_start)
{
    for (int i = 0; i < 2; i++) {
        ph_test_server_t *t = start(ECHO_PLUGIN, NULL);
        ck_assert_int_gt(ph_test_server_port(t), 0);
        ph_test_response_t res;
        ck_assert_int_eq(ph_test_get(t, "/", &res), 0);
        ck_assert_int_eq(res.status, 200);
        ph_test_response_free(&res);
        ph_test_server_stop(t);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("harness");
    TCase *tc = tcase_create("harness");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, echo_keys_headers_body_peer);
    tcase_add_test(tc, streamed_body);
    tcase_add_test(tc, async_answer);
    tcase_add_test(tc, coroutine);
    tcase_add_test(tc, reload_new_keys);
    tcase_add_test(tc, refused_plugin);
    tcase_add_test(tc, start_stop_start);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
