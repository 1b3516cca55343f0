/*
 * Unit tests for server/tls.c's expiry check, the one a long-running server
 * repeats: a certificate made with the openssl command (valid 30 days) is
 * loaded through cfg_load() and tls_ctx_build(), then judged as of
 * several dates. The log goes to a file the test reads back.
 */
#include "tls.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define DAY (24 * 3600)

static char dir[64];
static char log_path[128];
static tls_ctx_t *ctx;
static cfg_t *cfg;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/ph-test-tls-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 30 "
             "-subj /CN=expiry.test -keyout k.pem -out c.pem >/dev/null 2>&1",
             dir);
    ck_assert_int_eq(system(cmd), 0);
    char ini[160];
    snprintf(ini, sizeof ini, "%s/server.ini", dir);
    FILE *f = fopen(ini, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[server]\nlisten = 127.0.0.1:0 tls\n\n[tls]\ncertificate = c.pem\nkey = k.pem\n");
    ck_assert_int_eq(fclose(f), 0);
    char err[512] = "";
    ck_assert_msg(cfg_load(ini, &cfg, err, sizeof err) == 0, "%s", err);
    snprintf(log_path, sizeof log_path, "%s/error.log", dir);
    ck_assert_int_eq(log_error_open(log_path), 0);
    ck_assert_msg(tls_ctx_build(cfg, &ctx, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_nonnull(ctx);
}

static void teardown(void)
{
    tls_ctx_free(ctx);
    cfg_free(cfg);
    log_error_open(NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* The log's lines after offset *from, which moves to the end. */
static char *log_since(long *from)
{
    static char text[4096];
    FILE *f = fopen(log_path, "r");
    ck_assert_ptr_nonnull(f);
    fseek(f, *from, SEEK_SET);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    *from = ftell(f);
    fclose(f);
    return text;
}

START_TEST(test_far_from_expiry_says_nothing)
{
    long at = 0;
    log_since(&at);
    ck_assert_int_eq(tls_ctx_check_expiry(ctx, time(NULL)), 0);
    ck_assert_int_eq(tls_ctx_check_expiry(ctx, time(NULL) + 15 * DAY), 0);
    ck_assert_str_eq(log_since(&at), "");
}
END_TEST

START_TEST(test_within_14_days_warns)
{
    long at = 0;
    log_since(&at);
    ck_assert_int_eq(tls_ctx_check_expiry(ctx, time(NULL) + 20 * DAY + 3600), 1);
    const char *text = log_since(&at);
    ck_assert_msg(strstr(text, "[warn]") && strstr(text, "tls: certificate default (") &&
                      strstr(text, "/c.pem) expires in 9 days, on ") && strstr(text, ": renew it and reload"),
                  "log: %s", text);
}
END_TEST

START_TEST(test_expired_is_an_error)
{
    long at = 0;
    log_since(&at);
    ck_assert_int_eq(tls_ctx_check_expiry(ctx, time(NULL) + 31 * DAY), 1);
    const char *text = log_since(&at);
    ck_assert_msg(strstr(text, "[error]") && strstr(text, "/c.pem) expired on ") &&
                      strstr(text, ": clients refuse it; renew it and reload"),
                  "log: %s", text);
}
END_TEST

START_TEST(test_no_tls_is_nothing)
{
    ck_assert_int_eq(tls_ctx_check_expiry(NULL, time(NULL) + 31 * DAY), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("expiry");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_far_from_expiry_says_nothing);
    tcase_add_test(tc, test_within_14_days_warns);
    tcase_add_test(tc, test_expired_is_an_error);
    tcase_add_test(tc, test_no_tls_is_nothing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
