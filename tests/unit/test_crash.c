/*
 * Unit tests for server/crash.c: the report line a crashing worker leaves
 * its master, the count of crashes within the window, and the quarantine
 * it sets; and the crash line itself, from a child process that crashes.
 */
#include "crash.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

static int parse(const char *s, unsigned long *gen, size_t *index)
{
    return crash_parse_report(s, strlen(s), gen, index);
}

START_TEST(report_lines)
{
    unsigned long gen;
    size_t index;
    ck_assert_int_eq(parse("C7 12", &gen, &index), 0);
    ck_assert_uint_eq(gen, 7);
    ck_assert_uint_eq(index, 12);
    ck_assert_int_eq(parse("C1 0", &gen, &index), 0);
    ck_assert_uint_eq(index, 0);
    static const char *bad[] = {"", "C", "C1", "C1 ", "C 1", "R1 2", "C1 2 ", "C1  2", "C1 2x", "C-1 2", "CRS"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(parse(bad[i], &gen, &index) < 0, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(quarantine_after_limit_within_window)
{
    ck_assert_int_eq(crash_table_init(), 0);
    /* 3 within 60 s: the third quarantines route 2 of generation 5 */
    ck_assert_int_eq(crash_record(5, 2, 1000, 3, 60000), 0);
    ck_assert_int_eq(crash_record(5, 2, 2000, 3, 60000), 0);
    ck_assert(!crash_quarantined(5, 2));
    ck_assert_int_eq(crash_record(5, 2, 3000, 3, 60000), 1);
    ck_assert(crash_quarantined(5, 2));
    /* another route, another generation: not */
    ck_assert(!crash_quarantined(5, 3));
    ck_assert(!crash_quarantined(6, 2));
    /* crashes farther apart than the window never add up */
    ck_assert_int_eq(crash_record(6, 1, 100000, 2, 1000), 0);
    ck_assert_int_eq(crash_record(6, 1, 101000, 2, 1000), 0);
    ck_assert_int_eq(crash_record(6, 1, 102500, 2, 1000), 0);
    ck_assert_int_eq(crash_record(6, 1, 102900, 2, 1000), 1);
    /* limit 0: never */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(crash_record(6, 4, 200000, 0, 60000), 0);
    ck_assert(!crash_quarantined(6, 4));
}
END_TEST

/* A child with a site current crashes: the log line names the site, the
 * report names generation and route, and the child dies of the signal. */
START_TEST(crash_line_and_report)
{
    int logp[2], rep[2];
    ck_assert_int_eq(pipe(logp), 0);
    ck_assert_int_eq(pipe(rep), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(logp[1], STDERR_FILENO); /* the error log until one is opened */
        crash_install(rep[1]);
        static const char head[] = "GET /x?\"y HTTP/1.1";
        crash_site_t site = {.route = "example.com/api", .file = "/p/boom.so", .method = head,
                             .method_len = 3, .target = head + 4, .target_len = 5, .gen = 4,
                             .route_index = 9};
        crash_enter(&site);
        abort();
    }
    close(logp[1]);
    close(rep[1]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGABRT);
    char buf[8192];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(logp[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    ck_assert_msg(strstr(buf, "crash: SIGABRT on route example.com/api, plugin /p/boom.so, "
                              "request \"GET /x?\\x22y\"\n") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "crash: backtrace:\n") != NULL, "%s", buf);
    n = 0;
    while (n < sizeof buf - 1 && (r = read(rep[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    ck_assert_str_eq(buf, "C4 9\n");
    close(logp[0]);
    close(rep[0]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, report_lines);
    tcase_add_test(tc, quarantine_after_limit_within_window);
    tcase_add_test(tc, crash_line_and_report);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
