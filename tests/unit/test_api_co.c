/*
 * Unit tests for server/api_co.c's parts that need no event loop: the
 * address format co_resolve() writes, the refusals of waiting calls made
 * off a coroutine, the socket calls on data that is already there
 * (socketpair), and the route keys coroutine / coroutine_stack.
 */
#include "api_co.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "coro.h"

START_TEST(formats_v4_and_v6)
{
    char out[64];
    struct in_addr a4;
    struct in6_addr a6;
    ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.1", &a4), 1);
    ck_assert_int_eq(apico_format_addr(AF_INET, &a4, 80, out, sizeof out), 0);
    ck_assert_str_eq(out, "192.0.2.1:80");
    ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", &a6), 1);
    ck_assert_int_eq(apico_format_addr(AF_INET6, &a6, 65535, out, sizeof out), 0);
    ck_assert_str_eq(out, "[2001:db8::1]:65535");
    /* exactly enough room, and one byte less */
    ck_assert_int_eq(apico_format_addr(AF_INET, &a4, 80, out, 13), 0);
    ck_assert_int_eq(apico_format_addr(AF_INET, &a4, 80, out, 12), -ENOSPC);
}
END_TEST

START_TEST(waits_refused_off_a_coroutine)
{
    ph_pollfd_t p = {0, PH_EV_READ, 0};
    char out[64];
    ph_sock_t *s = NULL;
    ck_assert_int_eq(apico_active(), 0);
    ck_assert_int_eq(apico_sleep(1), -EPERM);
    ck_assert_int_eq(apico_wait_fd(0, PH_EV_READ, 1), -EPERM);
    ck_assert_int_eq(apico_poll(&p, 1, 1), -EPERM);
    ck_assert_int_eq(apico_resolve("localhost:80", out, sizeof out, 1), -EPERM);
    ck_assert_int_eq(apico_connect("127.0.0.1:1", 1, &s), -EPERM);
    ck_assert_ptr_null(s);
}
END_TEST

static ph_sock_t *pair_sock(int *peer)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    *peer = sv[1];
    ph_sock_t *s = apico_sock_new(sv[0], 64);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(apico_sock_fd(s), sv[0]);
    return s;
}

START_TEST(sock_reads_what_is_there)
{
    int peer;
    ph_sock_t *s = pair_sock(&peer);
    ck_assert_int_eq(write(peer, "GET / HTTP/1.1\r\nHost: x\r\n\r\nrest", 31), 31);
    ph_str_t line;
    ck_assert_int_eq(apico_sock_read_until(s, "\r\n", 2, 0, &line, 0), 16);
    ck_assert_int_eq(memcmp(line.ptr, "GET / HTTP/1.1\r\n", 16), 0);
    ck_assert_int_eq(apico_sock_read_until(s, "\r\n\r\n", 4, 0, &line, 0), 11);
    ck_assert_int_eq(memcmp(line.ptr, "Host: x\r\n\r\n", 11), 0);
    ck_assert_uint_eq(apico_sock_buffered(s), 4);
    char buf[8];
    ck_assert_int_eq(apico_sock_read_exactly(s, buf, 4, 0), 4);
    ck_assert_int_eq(memcmp(buf, "rest", 4), 0);
    ck_assert_uint_eq(apico_sock_buffered(s), 0);
    /* nothing more: no wait asked, or no coroutine to wait on */
    ck_assert_int_eq(apico_sock_read(s, buf, sizeof buf, 0), -ETIMEDOUT);
    ck_assert_int_eq(apico_sock_read(s, buf, sizeof buf, -1), -EPERM);
    close(peer);
    ck_assert_int_eq(apico_sock_read(s, buf, sizeof buf, 0), 0);
    apico_sock_close(s);
}
END_TEST

START_TEST(sock_read_until_limits)
{
    int peer;
    ph_sock_t *s = pair_sock(&peer);
    char data[64];
    memset(data, 'a', sizeof data);
    ck_assert_int_eq(write(peer, data, 10), 10);
    ph_str_t line;
    /* ten bytes without the delimiter within max = 8 */
    ck_assert_int_eq(apico_sock_read_until(s, "\n", 1, 8, &line, 0), -ENOBUFS);
    ck_assert_int_eq(apico_sock_read_until(s, "", 0, 8, &line, 0), -EINVAL);
    close(peer);
    /* the stream ends before a delimiter */
    ck_assert_int_eq(apico_sock_read_until(s, "\n", 1, 0, &line, 0), -EPIPE);
    char buf[16];
    ck_assert_int_eq(apico_sock_read_exactly(s, buf, 16, 0), -EPIPE);
    apico_sock_close(s);
}
END_TEST

START_TEST(sock_write_never_raises_sigpipe)
{
    int peer;
    ph_sock_t *s = pair_sock(&peer);
    ck_assert_int_eq(apico_sock_write(s, "hello", 5, 0), 5);
    char buf[8];
    ck_assert_int_eq(read(peer, buf, sizeof buf), 5);
    close(peer);
    /* SIGPIPE's default action would end the test program here */
    ck_assert_int_eq(apico_sock_write(s, "x", 1, 0), -EPIPE);
    apico_sock_close(s);
}
END_TEST

/* --- the route keys ------------------------------------------------------- */

static char dir[64];

static int load_text(const char *text, cfg_t **cfg, char *err, size_t errlen)
{
    snprintf(dir, sizeof dir, "/tmp/ph-apico-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/server.ini", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    int rc = cfg_load(path, cfg, err, errlen);
    unlink(path);
    rmdir(dir);
    return rc;
}

START_TEST(route_keys)
{
    cfg_t *cfg = NULL;
    char err[512];
    int rc = load_text("[server]\nlisten = 127.0.0.1:0\n[route /a]\nplugin = echo\ncoroutine = yes\n"
                       "coroutine_stack = 128k\n[route /b]\nplugin = echo\n",
                       &cfg, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(cfg->routes[0].coroutine, 1);
    ck_assert_uint_eq(cfg->routes[0].coroutine_stack, 128 * 1024);
    ck_assert_int_eq(cfg->routes[1].coroutine, 0);
    ck_assert_uint_eq(cfg->routes[1].coroutine_stack, 0);
    ck_assert_uint_eq(cfg->routes[0].nkeys, 0); /* not handed to the plugin */
    cfg_free(cfg);
}
END_TEST

static const char *const bad_keys[] = {
    "coroutine = maybe",
    "coroutine_stack = 15k",  /* below CORO_STACK_MIN */
    "coroutine_stack = 9m",   /* above CORO_STACK_MAX */
    "coroutine_stack = big",
};

START_TEST(route_keys_refused)
{
    cfg_t *cfg = NULL;
    char err[512], text[256];
    snprintf(text, sizeof text, "[server]\nlisten = 127.0.0.1:0\n[route /a]\nplugin = echo\n%s\n", bad_keys[_i]);
    ck_assert_int_eq(load_text(text, &cfg, err, sizeof err), -1);
    ck_assert_msg(strstr(err, ":5:") != NULL, "no line in \"%s\"", err);
    ck_assert_msg(strstr(err, strchr(bad_keys[_i], '=') + 2) != NULL || strstr(err, "yes or no"), "%s", err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_co");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, formats_v4_and_v6);
    tcase_add_test(tc, waits_refused_off_a_coroutine);
    tcase_add_test(tc, sock_reads_what_is_there);
    tcase_add_test(tc, sock_read_until_limits);
    tcase_add_test(tc, sock_write_never_raises_sigpipe);
    tcase_add_test(tc, route_keys);
    tcase_add_loop_test(tc, route_keys_refused, 0, sizeof bad_keys / sizeof bad_keys[0]);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
