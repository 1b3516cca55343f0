/*
 * Unit tests for server/config.c: server.ini files written to a fresh
 * temporary folder (mkdtemp) and loaded with cfg_load(), plus tables for
 * the value parsers shared with the command line.
 *
 * Every error case checks the whole contract of a config error: the
 * message starts with "FILE:LINE: " for the line at fault, and says what is
 * wrong in words a user can act on.
 */
#include "config.h"
#include "realip.h"

#include <arpa/inet.h>
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <plughttpd/plugin.h>

/* --- fixture: one temporary folder per TCase ----------------------------
 * Unchecked (run in the parent process), so the folder is removed even when
 * a test fails; each test rewrites server.ini in it. */

static char tmpdir[64];        /* as created */
static char realdir[PATH_MAX]; /* realpath() of it: what cfg->dir must be */
static char ini_path[128];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ph-test-config-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    ck_assert_ptr_nonnull(realpath(tmpdir, realdir));
    snprintf(ini_path, sizeof ini_path, "%s/server.ini", tmpdir);
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text (len bytes) as the ini file. */
static void write_ini_n(const char *text, size_t len)
{
    FILE *f = fopen(ini_path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_ini(const char *text) { write_ini_n(text, strlen(text)); }

/* Loads text; the load must succeed. The caller frees the result. */
static cfg_t *load_ok(const char *text)
{
    char err[512] = "";
    cfg_t *cfg = NULL;
    write_ini(text);
    int rc = cfg_load(ini_path, &cfg, err, sizeof err);
    ck_assert_msg(rc == 0, "cfg_load failed: %s\n--- ini ---\n%s", err, text);
    ck_assert_ptr_nonnull(cfg);
    return cfg;
}

/* The file as written must be refused with "ini_path:line: " at the start of
 * the message and phrase somewhere in it. */
static void expect_error_file(int line, const char *phrase, const char *shown)
{
    char err[512] = "";
    char want[PATH_MAX + 32];
    cfg_t *cfg = NULL;
    int rc = cfg_load(ini_path, &cfg, err, sizeof err);
    ck_assert_msg(rc == -1, "accepted, but should fail at line %d (%s)\n--- ini ---\n%s", line, phrase, shown);
    ck_assert_ptr_null(cfg);
    snprintf(want, sizeof want, "%s:%d: ", ini_path, line);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "error \"%s\" does not start with \"%s\"\n--- ini ---\n%s",
                  err, want, shown);
    ck_assert_msg(strstr(err, phrase) != NULL, "error \"%s\" does not mention \"%s\"\n--- ini ---\n%s", err, phrase,
                  shown);
}

static void expect_error(const char *text, int line, const char *phrase)
{
    write_ini(text);
    expect_error_file(line, phrase, text);
}

/* realdir + "/" + rel */
static const char *in_dir(const char *rel)
{
    static char buf[PATH_MAX + 64];
    snprintf(buf, sizeof buf, "%s/%s", realdir, rel);
    return buf;
}

#define MINIMAL "[server]\nlisten = 127.0.0.1:8080\n"

/* --- valid files --------------------------------------------------------- */

START_TEST(defaults)
{
    cfg_t *cfg = load_ok(MINIMAL);
    ck_assert_str_eq(cfg->path, ini_path);
    ck_assert_str_eq(cfg->dir, realdir);
    ck_assert_uint_eq(cfg->nlistens, 1);
    ck_assert_uint_eq(cfg->threads, 1);
    ck_assert_uint_eq(cfg->processes, 1);
    ck_assert_uint_eq(cfg->blocking_threads, 16);
    ck_assert_uint_eq(cfg->blocking_queue, 1024);
    ck_assert_int_eq(cfg->log_level, PH_LOG_INFO);
    ck_assert_uint_eq(cfg->header_timeout, 60000);
    ck_assert_uint_eq(cfg->body_timeout, 60000);
    ck_assert_uint_eq(cfg->keepalive_timeout, 75000);
    ck_assert_uint_eq(cfg->send_timeout, 60000);
    ck_assert_uint_eq(cfg->shutdown_timeout, 30000);
    ck_assert_uint_eq(cfg->max_header_bytes, 32 * 1024);
    ck_assert_uint_eq(cfg->max_uri_bytes, 8 * 1024);
    ck_assert_uint_eq(cfg->max_body_bytes, 1024 * 1024);
    ck_assert_uint_eq(cfg->send_buffer, 0);
    ck_assert_uint_eq(cfg->handler_timeout, 60000);
    ck_assert_uint_eq(cfg->body_min_rate, 500);
    ck_assert_uint_eq(cfg->body_rate_grace, 10000);
    ck_assert_uint_eq(cfg->max_connections, 16384);
    ck_assert_uint_eq(cfg->max_keepalive_requests, 10000);
    ck_assert_str_eq(cfg->plugin_dir, PH_PLUGIN_DIR);
    ck_assert_str_eq(cfg->access_log, "-");
    ck_assert_str_eq(cfg->error_log, "-");
    ck_assert_ptr_null(cfg->user);
    ck_assert_ptr_null(cfg->group);
    ck_assert_ptr_null(cfg->pid_file);
    ck_assert_uint_eq(cfg->nroutes, 0);
    cfg_free(cfg);
}
END_TEST

START_TEST(every_server_key)
{
    cfg_t *cfg = load_ok("[server]\n"
                         "listen = 127.0.0.1:8080\n"
                         "threads = 4\n"
                         "processes = 2\n"
                         "max_connections = 100\n"
                         "max_keepalive_requests = 0\n"
                         "blocking_threads = 3\n"
                         "blocking_queue = 50\n"
                         "header_timeout = 30s\n"
                         "body_timeout = 500ms\n"
                         "keepalive_timeout = 2m\n"
                         "send_timeout = 1h\n"
                         "shutdown_timeout = 7\n"
                         "handler_timeout = 0\n"
                         "max_header_bytes = 8k\n"
                         "max_uri_bytes = 1k\n"
                         "max_body_bytes = 2m\n"
                         "send_buffer = 64k\n"
                         "body_min_rate = 1k\n"
                         "body_rate_grace = 2500ms\n"
                         "plugin_dir = lib/plugins\n"
                         "access_log = logs/access.log\n"
                         "error_log = /var/log/ph-error.log\n"
                         "pid_file = run/ph.pid\n"
                         "user = nobody\n"
                         "group = nogroup\n"
                         "log_level = debug\n");
    ck_assert_uint_eq(cfg->threads, 4);
    ck_assert_uint_eq(cfg->processes, 2);
    ck_assert_uint_eq(cfg->max_connections, 100);
    ck_assert_uint_eq(cfg->max_keepalive_requests, 0);
    ck_assert_uint_eq(cfg->blocking_threads, 3);
    ck_assert_uint_eq(cfg->blocking_queue, 50);
    ck_assert_uint_eq(cfg->header_timeout, 30000);
    ck_assert_uint_eq(cfg->body_timeout, 500);
    ck_assert_uint_eq(cfg->keepalive_timeout, 120000);
    ck_assert_uint_eq(cfg->send_timeout, 3600000);
    ck_assert_uint_eq(cfg->shutdown_timeout, 7000); /* bare number: seconds */
    ck_assert_uint_eq(cfg->handler_timeout, 0);     /* 0: no limit */
    ck_assert_uint_eq(cfg->max_header_bytes, 8192);
    ck_assert_uint_eq(cfg->max_uri_bytes, 1024);
    ck_assert_uint_eq(cfg->max_body_bytes, 2 * 1024 * 1024);
    ck_assert_uint_eq(cfg->send_buffer, 64 * 1024);
    ck_assert_uint_eq(cfg->body_min_rate, 1024);
    ck_assert_uint_eq(cfg->body_rate_grace, 2500);
    ck_assert_str_eq(cfg->plugin_dir, in_dir("lib/plugins"));
    ck_assert_str_eq(cfg->access_log, in_dir("logs/access.log"));
    ck_assert_str_eq(cfg->error_log, "/var/log/ph-error.log");
    ck_assert_str_eq(cfg->pid_file, in_dir("run/ph.pid"));
    ck_assert_str_eq(cfg->user, "nobody");
    ck_assert_str_eq(cfg->group, "nogroup");
    ck_assert_int_eq(cfg->log_level, PH_LOG_DEBUG);
    cfg_free(cfg);
}
END_TEST

START_TEST(log_values)
{
    cfg_t *cfg = load_ok(MINIMAL "access_log = off\nerror_log = -\nlog_level = error\n");
    ck_assert_str_eq(cfg->access_log, "off");
    ck_assert_str_eq(cfg->error_log, "-");
    ck_assert_int_eq(cfg->log_level, PH_LOG_ERROR);
    cfg_free(cfg);
    cfg = load_ok(MINIMAL "access_log = -\nlog_level = warn\n");
    ck_assert_str_eq(cfg->access_log, "-");
    ck_assert_int_eq(cfg->log_level, PH_LOG_WARN);
    cfg_free(cfg);
}
END_TEST

START_TEST(threads_auto)
{
    cfg_t *cfg = load_ok(MINIMAL "threads = auto\n");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    ck_assert_uint_eq(cfg->threads, n > 0 ? (unsigned)n : 1u);
    ck_assert_uint_ge(cfg->threads, 1);
    cfg_free(cfg);
}
END_TEST

/* max_uri_bytes can never exceed the header limit it is part of. */
START_TEST(uri_limit_clamped_to_header_limit)
{
    cfg_t *cfg = load_ok(MINIMAL "max_header_bytes = 4k\nmax_uri_bytes = 16k\n");
    ck_assert_uint_eq(cfg->max_header_bytes, 4096);
    ck_assert_uint_eq(cfg->max_uri_bytes, 4096);
    cfg_free(cfg);
}
END_TEST

static void assert_in4(const cfg_listen_t *l, const char *addr, unsigned port)
{
    const struct sockaddr_in *in = (const struct sockaddr_in *)&l->addr;
    char buf[INET_ADDRSTRLEN];
    ck_assert_int_eq(in->sin_family, AF_INET);
    ck_assert_uint_eq(l->addrlen, sizeof *in);
    ck_assert_str_eq(inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf), addr);
    ck_assert_uint_eq(ntohs(in->sin_port), port);
}

START_TEST(several_listens)
{
    cfg_t *cfg = load_ok("[server]\n"
                         "listen = 127.0.0.1:8080\n"
                         "listen = [::1]:8081\n"
                         "listen = unix:sock/ph.sock\n"
                         "listen = 8082\n"
                         "listen = unix:/run/abs.sock\n");
    ck_assert_uint_eq(cfg->nlistens, 5);

    assert_in4(&cfg->listens[0], "127.0.0.1", 8080);
    ck_assert_str_eq(cfg->listens[0].text, "127.0.0.1:8080");
    ck_assert_int_eq(cfg->listens[0].line, 2);

    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&cfg->listens[1].addr;
    ck_assert_int_eq(in6->sin6_family, AF_INET6);
    ck_assert_uint_eq(cfg->listens[1].addrlen, sizeof *in6);
    ck_assert(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
    ck_assert_uint_eq(ntohs(in6->sin6_port), 8081);
    ck_assert_int_eq(cfg->listens[1].line, 3);

    /* relative unix path: resolved against the ini's folder */
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want, "unix:%s", in_dir("sock/ph.sock"));
    ck_assert_str_eq(cfg->listens[2].text, want);
    const struct sockaddr_un *un = (const struct sockaddr_un *)&cfg->listens[2].addr;
    ck_assert_int_eq(un->sun_family, AF_UNIX);
    ck_assert_str_eq(un->sun_path, in_dir("sock/ph.sock"));
    ck_assert_uint_eq(cfg->listens[2].addrlen, offsetof(struct sockaddr_un, sun_path) + strlen(un->sun_path) + 1);
    ck_assert_int_eq(cfg->listens[2].line, 4);

    /* bare port: every IPv4 address */
    assert_in4(&cfg->listens[3], "0.0.0.0", 8082);
    ck_assert_int_eq(cfg->listens[3].line, 5);

    un = (const struct sockaddr_un *)&cfg->listens[4].addr;
    ck_assert_int_eq(un->sun_family, AF_UNIX);
    ck_assert_str_eq(un->sun_path, "/run/abs.sock");
    ck_assert_str_eq(cfg->listens[4].text, "unix:/run/abs.sock");
    cfg_free(cfg);
}
END_TEST

START_TEST(routes_and_plugins)
{
    cfg_t *cfg = load_ok("[server]\n"               /* 1 */
                         "listen = 8080\n"          /* 2 */
                         "plugin_dir = lib\n"       /* 3 */
                         "\n"                       /* 4 */
                         "[route /api/]\n"          /* 5 */
                         "header = X-A: 1\n"        /* 6 */
                         "plugin = echo\n"          /* 7 */
                         "status = 201\n"           /* 8 */
                         "header = X-B: 2\n"        /* 9 */
                         "\n"                       /* 10 */
                         "[route /]\n"              /* 11 */
                         "plugin = ./x/y.so\n"      /* 12 */
                         "blocking = Yes\n"         /* 13: any case */
                         "[route /abs/deep]\n"      /* 14 */
                         "; a comment\n"            /* 15 */
                         "plugin = /opt/p/z.so\n"   /* 16 */
                         "blocking = OFF\n");       /* 17 */
    ck_assert_uint_eq(cfg->nroutes, 3);

    const cfg_route_t *r = &cfg->routes[0];
    ck_assert_str_eq(r->prefix, "/api"); /* trailing slash normalised away */
    ck_assert_uint_eq(r->prefix_len, 4);
    ck_assert_str_eq(r->plugin, "echo");
    ck_assert_str_eq(r->plugin_path, in_dir("lib/echo.so"));
    ck_assert_int_eq(r->line, 5);
    ck_assert_int_eq(r->plugin_line, 7);
    ck_assert_int_eq(r->blocking, 0);
    ck_assert_uint_eq(r->nkeys, 3); /* "plugin" is not handed to the plugin */
    static const struct { const char *k, *v; int line; } want[] = {
        {"header", "X-A: 1", 6}, {"status", "201", 8}, {"header", "X-B: 2", 9}};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_str_eq(r->keys[i].key, want[i].k);
        ck_assert_str_eq(r->keys[i].value, want[i].v);
        ck_assert_int_eq(r->keys[i].line, want[i].line);
    }

    r = &cfg->routes[1];
    ck_assert_str_eq(r->prefix, "/");
    ck_assert_uint_eq(r->prefix_len, 1);
    ck_assert_str_eq(r->plugin, "./x/y.so");
    /* relative to the ini's folder (with or without the "./") */
    char a[PATH_MAX + 64], b[PATH_MAX + 64];
    snprintf(a, sizeof a, "%s/./x/y.so", realdir);
    snprintf(b, sizeof b, "%s/x/y.so", realdir);
    ck_assert_msg(strcmp(r->plugin_path, a) == 0 || strcmp(r->plugin_path, b) == 0, "plugin_path %s", r->plugin_path);
    ck_assert_int_eq(r->blocking, 1);
    ck_assert_uint_eq(r->nkeys, 0); /* "blocking" is the core's */
    ck_assert_int_eq(r->line, 11);
    ck_assert_int_eq(r->plugin_line, 12);

    r = &cfg->routes[2];
    ck_assert_str_eq(r->prefix, "/abs/deep");
    ck_assert_uint_eq(r->prefix_len, 9);
    ck_assert_str_eq(r->plugin_path, "/opt/p/z.so");
    ck_assert_int_eq(r->blocking, 0);
    ck_assert_int_eq(r->line, 14);
    ck_assert_int_eq(r->plugin_line, 16);
    cfg_free(cfg);
}
END_TEST

/* plugin_dir may come after the routes: names resolve once the file is read. */
START_TEST(plugin_dir_after_routes)
{
    cfg_t *cfg = load_ok("[route /e]\nplugin = echo\n[server]\nlisten = 8080\nplugin_dir = /srv/plugins\n");
    ck_assert_str_eq(cfg->routes[0].plugin_path, "/srv/plugins/echo.so");
    cfg_free(cfg);
    cfg = load_ok(MINIMAL "[route /e]\nplugin = echo\n");
    ck_assert_str_eq(cfg->routes[0].plugin_path, PH_PLUGIN_DIR "/echo.so");
    cfg_free(cfg);
}
END_TEST

/* Multi-line values are off: an indented line is a key of its own, never a
 * continuation glued onto the value above it. */
START_TEST(indented_key_is_a_key)
{
    cfg_t *cfg = load_ok("[server]\n"
                         "listen = 8080\n"
                         "  threads = 2\n"
                         "\tprocesses = 3\n"
                         "[route /a]\n"
                         "plugin = echo\n"
                         "    k = v\n");
    ck_assert_uint_eq(cfg->threads, 2);
    ck_assert_uint_eq(cfg->processes, 3);
    ck_assert_uint_eq(cfg->nlistens, 1);
    ck_assert_str_eq(cfg->listens[0].text, "8080");
    ck_assert_str_eq(cfg->routes[0].plugin, "echo");
    ck_assert_uint_eq(cfg->routes[0].nkeys, 1);
    ck_assert_str_eq(cfg->routes[0].keys[0].key, "k");
    ck_assert_str_eq(cfg->routes[0].keys[0].value, "v");
    ck_assert_int_eq(cfg->routes[0].keys[0].line, 7);
    cfg_free(cfg);
}
END_TEST

START_TEST(comments_blank_lines_and_crlf)
{
    cfg_t *cfg = load_ok("; leading comment\r\n"
                         "# another\r\n"
                         "\r\n"
                         "[server]\r\n"
                         "listen = 8080\r\n"
                         "threads = 3\r\n"
                         "  [route /a]  \r\n"
                         "plugin = echo\r\n"
                         "k = v\r\n");
    ck_assert_uint_eq(cfg->threads, 3);
    ck_assert_str_eq(cfg->listens[0].text, "8080");
    ck_assert_uint_eq(cfg->nroutes, 1);
    ck_assert_str_eq(cfg->routes[0].prefix, "/a");
    ck_assert_int_eq(cfg->routes[0].line, 7);
    ck_assert_str_eq(cfg->routes[0].keys[0].value, "v");
    ck_assert_int_eq(cfg->routes[0].keys[0].line, 9);
    cfg_free(cfg);
}
END_TEST

/* No newline at the end of the file: the last line still counts. */
START_TEST(last_line_without_newline)
{
    cfg_t *cfg = load_ok(MINIMAL "threads = 5");
    ck_assert_uint_eq(cfg->threads, 5);
    cfg_free(cfg);
}
END_TEST

/* Editors on some systems start UTF-8 files with a byte order mark; inih
 * skips it, and so must the section tracking. */
START_TEST(utf8_bom)
{
    cfg_t *cfg = load_ok("\xEF\xBB\xBF[server]\nlisten = 8080\n");
    ck_assert_uint_eq(cfg->nlistens, 1);
    cfg_free(cfg);
}
END_TEST

/* --- errors ---------------------------------------------------------------- */

START_TEST(error_unknown_server_key)
{
    expect_error(MINIMAL "bogus = 1\n", 3, "unknown key \"bogus\"");
    expect_error(MINIMAL "body_rate_grace = 999ms\n", 3, "body_rate_grace must be at least 1s");
    expect_error(MINIMAL "body_min_rate = fast\n", 3, "body_min_rate: bad size");
    expect_error(MINIMAL "Threads = 1\n", 3, "unknown key");
}
END_TEST

START_TEST(error_unknown_section)
{
    expect_error(MINIMAL "[serverx]\n", 3, "unknown section");
    expect_error(MINIMAL "\n[routes /a]\nplugin = echo\n", 4, "unknown section");
    expect_error(MINIMAL "[route]\nplugin = echo\n", 3, "[route /prefix]");
}
END_TEST

START_TEST(error_key_before_section)
{
    expect_error("threads = 2\n" MINIMAL, 1, "outside any section");
    expect_error("; comment\n\nlisten = 8080\n[server]\n", 3, "outside any section");
}
END_TEST

START_TEST(error_section_without_bracket)
{
    expect_error(MINIMAL "[route /a\nplugin = echo\n", 3, "without ']'");
}
END_TEST

START_TEST(error_bad_listen)
{
    static const char *const bad[] = {"1.2.3.4:99999", "nohost:80", "[::1]", "[::1]80", "unix:", ":80", "",
                                      "1.2.3.4:", "70000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "[server]\nthreads = 1\nlisten = %s\n", bad[i]);
        expect_error(text, 3, "bad listen");
    }
}
END_TEST

START_TEST(error_duplicate_listen)
{
    expect_error("[server]\nlisten = 8080\nlisten = 8081\nlisten = 8080\n", 4, "line 2");
}
END_TEST

START_TEST(trusted_proxies_and_friends)
{
    cfg_t *cfg = load_ok(MINIMAL);
    ck_assert_uint_eq(cfg->ntrusted, 0);
    ck_assert_int_eq(cfg->trust_unix, 0);
    ck_assert_int_eq(cfg->real_ip_header, REALIP_XFF);
    ck_assert_int_eq(cfg->send_request_id, 0);
    ck_assert_uint_eq(cfg->max_connections_per_address, 0);
    cfg_free(cfg);
    /* the key repeats, each line adding to the list */
    cfg = load_ok(MINIMAL "trusted_proxies = 10.0.0.0/8, 127.0.0.1\ntrusted_proxies = unix ::1\n"
                          "real_ip_header = Forwarded\nsend_request_id = yes\nmax_connections_per_address = 64\n");
    ck_assert_uint_eq(cfg->ntrusted, 3);
    ck_assert(cidr_match(cfg->trusted, cfg->ntrusted, "10.2.3.4"));
    ck_assert(cidr_match(cfg->trusted, cfg->ntrusted, "::1"));
    ck_assert(!cidr_match(cfg->trusted, cfg->ntrusted, "127.0.0.2"));
    ck_assert_int_eq(cfg->trust_unix, 1);
    ck_assert_int_eq(cfg->real_ip_header, REALIP_FORWARDED);
    ck_assert_int_eq(cfg->send_request_id, 1);
    ck_assert_uint_eq(cfg->max_connections_per_address, 64);
    cfg_free(cfg);
    cfg = load_ok(MINIMAL "real_ip_header = none\n");
    ck_assert_int_eq(cfg->real_ip_header, REALIP_NONE);
    cfg_free(cfg);
    expect_error(MINIMAL "trusted_proxies = 10.0.0.0/33\n", 3, "\"10.0.0.0/33\" is not an address");
    expect_error(MINIMAL "trusted_proxies = 10.0.0.1\ntrusted_proxies = example.com\n", 4, "example.com");
    expect_error(MINIMAL "trusted_proxies = \n", 3, "empty list");
    expect_error(MINIMAL "real_ip_header = x-real-ip\n", 3, "real_ip_header must be");
    expect_error(MINIMAL "send_request_id = maybe\n", 3, "send_request_id must be");
    expect_error(MINIMAL "max_connections_per_address = -1\n", 3, "max_connections_per_address must be");
    expect_error(MINIMAL "max_connections_per_address = 1\nmax_connections_per_address = 2\n", 4, "duplicate");
}
END_TEST

START_TEST(error_bad_duration)
{
    expect_error(MINIMAL "header_timeout = 5x\n", 3, "bad duration");
    expect_error(MINIMAL "\nbody_timeout = 1.5s\n", 4, "body_timeout");
    expect_error(MINIMAL "keepalive_timeout = -1\n", 3, "bad duration");
    expect_error(MINIMAL "send_timeout = \n", 3, "send_timeout");
}
END_TEST

START_TEST(error_bad_size)
{
    expect_error(MINIMAL "max_body_bytes = 1t\n", 3, "bad size");
    expect_error(MINIMAL "max_body_bytes = 1.5m\n", 3, "max_body_bytes");
    expect_error(MINIMAL "max_header_bytes = 100\n", 3, "at least 256"); /* below its minimum */
    expect_error(MINIMAL "max_uri_bytes = lots\n", 3, "bad size");
    expect_error(MINIMAL "send_buffer = 2g\n", 3, "at most 1073741824"); /* SO_SNDBUF is an int */
}
END_TEST

/* processes = 0: the one process serves, without a master (default 1). */
START_TEST(processes_zero_is_one_process)
{
    cfg_t *cfg = load_ok(MINIMAL "processes = 0\n");
    ck_assert_uint_eq(cfg->processes, 0);
    cfg_free(cfg);
}
END_TEST

START_TEST(error_bad_numbers)
{
    expect_error(MINIMAL "threads = 0\n", 3, "threads");
    expect_error(MINIMAL "threads = 1025\n", 3, "1..1024");
    expect_error(MINIMAL "threads = two\n", 3, "threads");
    expect_error(MINIMAL "processes = 257\n", 3, "processes must be a number from 0 to 256");
    expect_error(MINIMAL "processes = -1\n", 3, "processes must be a number from 0 to 256");
    expect_error(MINIMAL "blocking_threads = -3\n", 3, "blocking_threads");
    expect_error(MINIMAL "log_level = loud\n", 3, "log_level");
    expect_error(MINIMAL "user =\n", 3, "must not be empty");
}
END_TEST

START_TEST(error_duplicate_key)
{
    expect_error("[server]\nthreads = 2\nlisten = 8080\nthreads = 2\n", 4, "duplicate key \"threads\"");
    /* a second [server] section is the same section */
    expect_error(MINIMAL "max_body_bytes = 1k\n[route /a]\nplugin = echo\n[server]\nmax_body_bytes = 2k\n", 7,
                 "duplicate key");
    expect_error(MINIMAL "[route /a]\nplugin = echo\nplugin = echo\n", 5, "duplicate key \"plugin\"");
}
END_TEST

/* Route keys other than plugin may repeat: they are the plugin's business. */
START_TEST(repeated_route_key_allowed)
{
    cfg_t *cfg = load_ok(MINIMAL "[route /a]\nplugin = echo\nh = 1\nh = 2\n");
    ck_assert_uint_eq(cfg->routes[0].nkeys, 2);
    ck_assert_str_eq(cfg->routes[0].keys[1].value, "2");
    cfg_free(cfg);
}
END_TEST

START_TEST(error_duplicate_route)
{
    expect_error(MINIMAL "[route /a]\nplugin = echo\n[route /a/]\nplugin = echo\n", 5, "already defined on line 3");
    expect_error(MINIMAL "[route /]\nplugin = echo\n[route /]\nplugin = echo\n", 5, "already defined");
}
END_TEST

START_TEST(error_route_without_plugin)
{
    /* the line is the route's header */
    expect_error(MINIMAL "[route /a]\nk = v\n[route /b]\nplugin = echo\n", 3, "no plugin");
    /* empty section, last in the file */
    expect_error(MINIMAL "[route /b]\nplugin = echo\n[route /z]\n", 5, "[route /z] has no plugin");
    /* empty section followed by comments: still its header line */
    expect_error(MINIMAL "[route /z]\n; nothing\n\n", 3, "has no plugin");
    expect_error(MINIMAL "[route /a]\nplugin =\n", 4, "plugin must name");
    expect_error(MINIMAL "[route /a]\nplugin = echo\nblocking = maybe\n", 5, "blocking must be yes or no");
}
END_TEST

START_TEST(error_bad_route_prefix)
{
    static const char *const bad[] = {"api", "/a/../b", "/a/./b", "/a/..", "/a/.", "//a", "/a%20b", "/a?x",
                                      "/a#b", "/a b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, MINIMAL "[route %s]\nplugin = echo\n", bad[i]);
        expect_error(text, 3, "bad route prefix");
    }
}
END_TEST


START_TEST(host_routes)
{
    cfg_t *cfg = load_ok(MINIMAL "unknown_host = 421\n[route /]\nplugin = echo\n[route Example.COM./api/]\nplugin = echo\n"
                                 "[route *.example.com/]\nplugin = echo\n[route example.com/]\nplugin = echo\n");
    ck_assert_int_eq(cfg->unknown_host, 421);
    ck_assert_uint_eq(cfg->nroutes, 4);
    ck_assert_ptr_null(cfg->routes[0].host);
    ck_assert_str_eq(cfg->routes[0].name, "/");
    ck_assert_str_eq(cfg->routes[1].host, "example.com");
    ck_assert_str_eq(cfg->routes[1].prefix, "/api");
    ck_assert_str_eq(cfg->routes[1].name, "example.com/api");
    ck_assert_str_eq(cfg->routes[2].host, "*.example.com");
    ck_assert_str_eq(cfg->routes[2].name, "*.example.com/");
    cfg_free(cfg);
    cfg = load_ok(MINIMAL "unknown_host = 404\n");
    ck_assert_int_eq(cfg->unknown_host, 404);
    cfg_free(cfg);
    cfg = load_ok(MINIMAL "unknown_host = default\n");
    ck_assert_int_eq(cfg->unknown_host, 0);
    cfg_free(cfg);
    cfg = load_ok(MINIMAL);
    ck_assert_int_eq(cfg->unknown_host, 0);
    cfg_free(cfg);
}
END_TEST

START_TEST(error_host_routes)
{
    expect_error(MINIMAL "[route example.com/a]\nplugin = echo\n[route EXAMPLE.com./a/]\nplugin = echo\n", 5,
                 "route example.com/a is already defined on line 3");
    expect_error(MINIMAL "[route example.com]\nplugin = echo\n", 3,
                 "bad route prefix \"example.com\": expected [route /prefix] or [route HOST/prefix]");
    expect_error(MINIMAL "[route ex_ample.com/]\nplugin = echo\n", 3,
                 "bad host name in [route ex_ample.com/]: a host name holds only letters, digits, '-' and '.'");
    expect_error(MINIMAL "[route a.*.com/]\nplugin = echo\n", 3, "'*' is only allowed as the whole first label");
    expect_error(MINIMAL "[route *.com/x/../y]\nplugin = echo\n", 3, "bad route prefix \"/x/../y\"");
    expect_error(MINIMAL "[route */]\nplugin = echo\n", 3, "bad host name in [route */]");
    expect_error(MINIMAL "[route a..b/]\nplugin = echo\n", 3, "empty label in host name");
    expect_error(MINIMAL "unknown_host = 400\n", 3, "unknown_host must be default, 404 or 421, not \"400\"");
    expect_error(MINIMAL "[route example.com/a]\nk = v\n", 3, "[route example.com/a] has no plugin key");
}
END_TEST

START_TEST(error_no_listen)
{
    char err[512];
    cfg_t *cfg = NULL;
    write_ini("[server]\nthreads = 2\n[route /a]\nplugin = echo\n");
    ck_assert_int_eq(cfg_load(ini_path, &cfg, err, sizeof err), -1);
    ck_assert_ptr_null(cfg);
    char want[PATH_MAX + 8];
    snprintf(want, sizeof want, "%s:", ini_path);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "error \"%s\"", err);
    ck_assert_msg(strstr(err, "no listen") != NULL, "error \"%s\"", err);
}
END_TEST

START_TEST(error_syntax)
{
    expect_error(MINIMAL "garbage without equals\nthreads = 2\n", 3, "syntax error");
    expect_error("[server]\n\n\n\nlisten = 8080\noops\n", 6, "expected key = value");
}
END_TEST

START_TEST(error_missing_file)
{
    char err[512], missing[PATH_MAX];
    cfg_t *cfg = NULL;
    snprintf(missing, sizeof missing, "%s/missing.ini", tmpdir);
    ck_assert_int_eq(cfg_load(missing, &cfg, err, sizeof err), -1);
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_nonnull(strstr(err, missing));
}
END_TEST

/* A tiny buffer gets a truncated, terminated message. */
START_TEST(error_small_buffer)
{
    char err[8];
    memset(err, 'Z', sizeof err);
    cfg_t *cfg = NULL;
    write_ini(MINIMAL "bogus = 1\n");
    ck_assert_int_eq(cfg_load(ini_path, &cfg, err, sizeof err), -1);
    ck_assert_ptr_nonnull(memchr(err, '\0', sizeof err));
}
END_TEST

/* --- the long-line trap -------------------------------------------------- */

/* inih reads at most 200 bytes of a line and parses the rest as a line of
 * its own. Such a line must be a config error at its own line number. */
START_TEST(error_long_value_line)
{
    char text[1024];
    char line[301] = "user = ";
    memset(line + 7, 'v', 300 - 7);
    line[300] = '\0';
    ck_assert_uint_eq(strlen(line), 300);
    snprintf(text, sizeof text, "[server]\nlisten = 8080\n%s\nthreads = 2\n", line);
    expect_error(text, 3, "longer than");
}
END_TEST

/* The cut-off remainder of a long line must never be applied: here it would
 * read "threads = 99" (a comment) or duplicate a key (a value). */
START_TEST(long_line_remainder_never_applied)
{
    char text[2048];
    char pad[400];

    /* a comment whose tail, cut at any of the usual buffer sizes, looks like a key */
    memset(pad, 'c', 250);
    pad[250] = '\0';
    snprintf(text, sizeof text, "[server]\nlisten = 8080\n;%s threads = 99\n", pad);
    expect_error(text, 3, "longer than");

    /* a 200-byte buffer cuts exactly before "threads = 99" (fgets keeps 199
     * bytes): the remainder would be a valid key */
    memset(pad, 'c', 198);
    pad[198] = '\0';
    snprintf(text, sizeof text, "[server]\nlisten = 8080\n;%sthreads = 99\n", pad);
    expect_error(text, 3, "longer than");

    /* same, with a value line */
    memset(pad, 'u', 192);
    pad[192] = '\0';
    snprintf(text, sizeof text, "[server]\nlisten = 8080\nuser = %sthreads = 99\nthreads = 2\n", pad);
    expect_error(text, 3, "longer than");

    /* a long line on the last line, without a trailing newline */
    memset(pad, 'x', 300);
    pad[300] = '\0';
    snprintf(text, sizeof text, "[server]\nlisten = 8080\n; %s", pad);
    expect_error(text, 3, "longer than");

    /* a long section header */
    memset(pad, 'p', 250);
    pad[250] = '\0';
    snprintf(text, sizeof text, "[server]\nlisten = 8080\n[route /%s]\nplugin = echo\n", pad);
    expect_error(text, 3, "longer than");
}
END_TEST

/* Lines up to the documented limit (the message says "longer than N bytes")
 * load, with LF and with CRLF endings. */
START_TEST(long_line_at_limit_loads)
{
    char text[1024], err[512];
    cfg_t *cfg = NULL;

    /* Find N from the error message of an over-long line. */
    char pad[400];
    memset(pad, 'a', 350);
    pad[350] = '\0';
    snprintf(text, sizeof text, "[server]\nlisten = 8080\nuser = %s\n", pad);
    write_ini(text);
    ck_assert_int_eq(cfg_load(ini_path, &cfg, err, sizeof err), -1);
    const char *p = strstr(err, "longer than ");
    ck_assert_ptr_nonnull(p);
    int limit = atoi(p + strlen("longer than "));
    ck_assert_int_ge(limit, 190); /* inih's 200-byte buffer, minus CR LF NUL */

    /* a "user = ..." line of exactly limit bytes */
    size_t vlen = (size_t)limit - strlen("user = ");
    memset(pad, 'a', vlen);
    pad[vlen] = '\0';
    for (int crlf = 0; crlf <= 1; crlf++) {
        snprintf(text, sizeof text, "[server]\nlisten = 8080\nuser = %s%s", pad, crlf ? "\r\n" : "\n");
        cfg = load_ok(text);
        ck_assert_uint_eq(strlen(cfg->user), vlen);
        cfg_free(cfg);
    }
    /* limit + 2 bytes no longer fits the buffer, whatever the line ending */
    memset(pad, 'a', vlen + 2);
    pad[vlen + 2] = '\0';
    snprintf(text, sizeof text, "[server]\nlisten = 8080\nuser = %s\n", pad);
    expect_error(text, 3, "longer than");
}
END_TEST

/* --- stacked routes: plugin lists and name.key keys ---------------------- */

START_TEST(stack_list_and_keys)
{
    cfg_t *cfg = load_ok("[server]\n"                                  /* 1 */
                         "listen = 8080\n"                             /* 2 */
                         "plugin_dir = /p\n"                           /* 3 */
                         "[route /app]\n"                              /* 4 */
                         "gate.tag = early\n"                          /* 5: before the list */
                         "plugin =  gate ,./lib/auth.so,\t/x/proxy , upper.so\n" /* 6 */
                         "upstream = 127.0.0.1:9000\n"                 /* 7: bare */
                         "auth.realm = app\n"                          /* 8 */
                         "proxy.timeout = 5s\n"                        /* 9 */
                         "gate.deny.why = a.b\n"                       /* 10: dots after the name */
                         "max_body_bytes = 64k\n"                      /* 11 */
                         "body_spill = 8k\n"                           /* 12 */
                         "blocking = yes\n");                          /* 13 */
    const cfg_route_t *r = &cfg->routes[0];
    ck_assert_str_eq(r->plugin, "gate ,./lib/auth.so,\t/x/proxy , upper.so");
    ck_assert_uint_eq(r->nstages, 4);
    static const char *names[] = {"gate", "auth", "proxy", "upper"};
    static const char *items[] = {"gate", "./lib/auth.so", "/x/proxy", "upper.so"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_str_eq(r->stages[i].name, names[i]);
        ck_assert_str_eq(r->stages[i].plugin, items[i]);
    }
    ck_assert_str_eq(r->stages[0].path, "/p/gate.so");
    ck_assert_str_eq(r->stages[2].path, "/x/proxy");
    ck_assert_str_eq(r->stages[3].path, "/p/upper.so.so"); /* a name gets ".so" appended, as always */
    ck_assert_str_eq(r->plugin_path, "/p/gate.so");
    ck_assert_uint_eq(r->stages[0].nkeys, 2);
    ck_assert_str_eq(r->stages[0].keys[0].key, "tag");
    ck_assert_str_eq(r->stages[0].keys[0].value, "early");
    ck_assert_int_eq(r->stages[0].keys[0].line, 5);
    ck_assert_str_eq(r->stages[0].keys[1].key, "deny.why");
    ck_assert_str_eq(r->stages[0].keys[1].value, "a.b");
    ck_assert_uint_eq(r->stages[1].nkeys, 1);
    ck_assert_str_eq(r->stages[1].keys[0].key, "realm");
    ck_assert_int_eq(r->stages[1].keys[0].line, 8);
    ck_assert_uint_eq(r->stages[2].nkeys, 1);
    ck_assert_str_eq(r->stages[2].keys[0].key, "timeout");
    ck_assert_uint_eq(r->stages[3].nkeys, 0);
    ck_assert_uint_eq(r->nkeys, 1); /* the content handler's, whichever it is */
    ck_assert_str_eq(r->keys[0].key, "upstream");
    ck_assert_int_eq(r->keys[0].line, 7);
    ck_assert_int_eq(r->max_body_line, 11);
    ck_assert_uint_eq(r->max_body_bytes, 64 * 1024);
    ck_assert_uint_eq(r->body_spill, 8 * 1024);
    ck_assert_int_eq(r->blocking, 1);
    cfg_free(cfg);
}
END_TEST

/* One plugin: the value is one item exactly as written; a dotted key that
 * names another plugin stays the plugin's own, as before stacks. */
START_TEST(single_plugin_keys_as_before)
{
    cfg_t *cfg = load_ok(MINIMAL "[route /a]\nplugin = echo\nother.key = 1\necho.status = 201\nx = y\n");
    const cfg_route_t *r = &cfg->routes[0];
    ck_assert_uint_eq(r->nstages, 1);
    ck_assert_str_eq(r->stages[0].name, "echo");
    ck_assert_str_eq(r->stages[0].path, PH_PLUGIN_DIR "/echo.so");
    ck_assert_uint_eq(r->nkeys, 2);
    ck_assert_str_eq(r->keys[0].key, "other.key");
    ck_assert_str_eq(r->keys[1].key, "x");
    ck_assert_uint_eq(r->stages[0].nkeys, 1);
    ck_assert_str_eq(r->stages[0].keys[0].key, "status");
    ck_assert_int_eq(r->max_body_line, 0);
    ck_assert_uint_eq(r->body_spill, 0);
    cfg_free(cfg);
    /* a name with a dot in it: the longest listed name wins */
    cfg = load_ok(MINIMAL "[route /a]\nplugin = ./a.so, ./a.b.so\na.b.k = 1\na.k = 2\n");
    r = &cfg->routes[0];
    ck_assert_str_eq(r->stages[1].name, "a.b");
    ck_assert_uint_eq(r->stages[1].nkeys, 1);
    ck_assert_str_eq(r->stages[1].keys[0].key, "k");
    ck_assert_str_eq(r->stages[1].keys[0].value, "1");
    ck_assert_uint_eq(r->stages[0].nkeys, 1);
    ck_assert_str_eq(r->stages[0].keys[0].value, "2");
    cfg_free(cfg);
}
END_TEST

START_TEST(error_stack_lists)
{
    expect_error(MINIMAL "[route /a]\nplugin = gate, , echo\n", 4,
                 "[route /a] plugin: empty item in \"gate, , echo\" (expected plugin names or paths separated by commas)");
    expect_error(MINIMAL "[route /a]\nplugin = gate, echo,\n", 4, "empty item");
    expect_error(MINIMAL "[route /a]\nplugin = ,echo\n", 4, "empty item");
    expect_error(MINIMAL "[route /a]\nplugin = echo, ./lib/echo.so\n", 4,
                 "[route /a] plugin: echo is listed twice (\"echo\" and \"./lib/echo.so\"); a route runs each plugin "
                 "once");
    expect_error(MINIMAL "[route /a]\nplugin = gate, ./x/.so\n", 4, "[route /a] plugin: \"./x/.so\" names no file");
    expect_error(MINIMAL "[route /a]\nplugin = gate, echo\nk = 1\nauht.realm = x\n", 6,
                 "[route /a] key \"auht.realm\": no plugin named \"auht\" in this route's list \"gate, echo\"");
    expect_error(MINIMAL "[route /a]\ngate. = 1\nplugin = gate, echo\n", 4,
                 "[route /a] key \"gate.\": no key name after \"gate.\"");
    expect_error(MINIMAL "[route /a]\nplugin = echo\nmax_body_bytes = 1k\nmax_body_bytes = 2k\n", 6,
                 "duplicate key \"max_body_bytes\" in [route /a] (first on line 5)");
    expect_error(MINIMAL "[route /a]\nplugin = echo\nbody_spill = lots\n", 5,
                 "body_spill: bad size \"lots\" (e.g. 8k, 1m; 0 keeps every body in memory)");
    expect_error(MINIMAL "[route /a]\nplugin = echo\nmax_body_bytes = -1\n", 5,
                 "max_body_bytes: bad size \"-1\"");
}
END_TEST

/* --- value parsers ----------------------------------------------------- */

START_TEST(parse_size_table)
{
    static const struct { const char *s; size_t v; } ok[] = {
        {"0", 0}, {"1", 1}, {"512", 512}, {"8k", 8192}, {"8K", 8192}, {"8kb", 8192}, {"8KB", 8192},
        {"1m", 1048576}, {"2M", 2097152}, {"3mb", 3145728}, {"1g", 1073741824}, {"007", 7},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t v = 12345;
        ck_assert_msg(cfg_parse_size(ok[i].s, &v) == 0, "\"%s\" refused", ok[i].s);
        ck_assert_msg(v == ok[i].v, "\"%s\" -> %zu, want %zu", ok[i].s, v, ok[i].v);
    }
    static const char *const bad[] = {"", "k", "-1", "+1", " 1", "1 ", "1k ", "1 k", "1.5k", "1t", "1kk",
                                      "1kbb", "0x10", "99999999999999999999", "18014398509481984k"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t v;
        ck_assert_msg(cfg_parse_size(bad[i], &v) == -1, "\"%s\" accepted", bad[i]);
    }
}
END_TEST

START_TEST(parse_duration_table)
{
    static const struct { const char *s; uint64_t ms; } ok[] = {
        {"0", 0}, {"30", 30000}, {"30s", 30000}, {"500ms", 500}, {"0ms", 0}, {"2m", 120000},
        {"1h", 3600000}, {"1000000000ms", 1000000000}, {"1000000000s", 1000000000000ULL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t ms = 12345;
        ck_assert_msg(cfg_parse_duration(ok[i].s, &ms) == 0, "\"%s\" refused", ok[i].s);
        ck_assert_msg(ms == ok[i].ms, "\"%s\" -> %llu, want %llu", ok[i].s, (unsigned long long)ms,
                      (unsigned long long)ok[i].ms);
    }
    static const char *const bad[] = {"", "s", "ms", "-1", "+1", " 1s", "1.5s", "10x", "10 s", "5sec", "2mm",
                                      "1d", "1000000001", "99999999999999999999ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms;
        ck_assert_msg(cfg_parse_duration(bad[i], &ms) == -1, "\"%s\" accepted", bad[i]);
    }
}
END_TEST

START_TEST(parse_listen_table)
{
    static const struct { const char *s; int family; const char *addr; unsigned port; } ok[] = {
        {"127.0.0.1:8080", AF_INET, "127.0.0.1", 8080},
        {"0.0.0.0:65535", AF_INET, "0.0.0.0", 65535},
        {"8080", AF_INET, "0.0.0.0", 8080},
        {"*:80", AF_INET, "0.0.0.0", 80},
        {"localhost:81", AF_INET, "127.0.0.1", 81},
        {"10.1.2.3:0", AF_INET, "10.1.2.3", 0},
        {"[::1]:8080", AF_INET6, "::1", 8080},
        {"[::]:443", AF_INET6, "::", 443},
        {"[2001:db8::5]:9", AF_INET6, "2001:db8::5", 9},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        char buf[INET6_ADDRSTRLEN];
        ck_assert_msg(cfg_parse_listen(ok[i].s, &ss, &len) == 0, "\"%s\" refused", ok[i].s);
        ck_assert_int_eq(ss.ss_family, ok[i].family);
        if (ok[i].family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            ck_assert_uint_eq(len, sizeof *in);
            ck_assert_str_eq(inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf), ok[i].addr);
            ck_assert_uint_eq(ntohs(in->sin_port), ok[i].port);
        } else {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            ck_assert_uint_eq(len, sizeof *in6);
            ck_assert_str_eq(inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf), ok[i].addr);
            ck_assert_uint_eq(ntohs(in6->sin6_port), ok[i].port);
        }
    }

    struct sockaddr_storage ss;
    socklen_t len = 0;
    ck_assert_int_eq(cfg_parse_listen("unix:/run/ph.sock", &ss, &len), 0);
    const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;
    ck_assert_int_eq(un->sun_family, AF_UNIX);
    ck_assert_str_eq(un->sun_path, "/run/ph.sock");
    ck_assert_uint_eq(len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/ph.sock") + 1);

    char longpath[160] = "unix:/";
    memset(longpath + 6, 'l', sizeof longpath - 7);
    longpath[sizeof longpath - 1] = '\0';
    static const char *const bad[] = {"", ":80", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:80x",
                                      "host:80", "300.1.1.1:80", "[::1]", "[::1]:", "[::1]80", "[::1:80",
                                      "::1:80", "[1.2.3.4]:80", "[zz]:80", "unix:", "65536", "http://x:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(cfg_parse_listen(bad[i], &ss, &len) == -1, "\"%s\" accepted", bad[i]);
    ck_assert_msg(cfg_parse_listen(longpath, &ss, &len) == -1, "unix path longer than sun_path accepted");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");

    TCase *ok = tcase_create("valid");
    tcase_add_unchecked_fixture(ok, setup, teardown);
    tcase_add_test(ok, defaults);
    tcase_add_test(ok, host_routes);
    tcase_add_test(ok, every_server_key);
    tcase_add_test(ok, log_values);
    tcase_add_test(ok, threads_auto);
    tcase_add_test(ok, uri_limit_clamped_to_header_limit);
    tcase_add_test(ok, several_listens);
    tcase_add_test(ok, routes_and_plugins);
    tcase_add_test(ok, plugin_dir_after_routes);
    tcase_add_test(ok, indented_key_is_a_key);
    tcase_add_test(ok, comments_blank_lines_and_crlf);
    tcase_add_test(ok, last_line_without_newline);
    tcase_add_test(ok, utf8_bom);
    tcase_add_test(ok, repeated_route_key_allowed);
    tcase_add_test(ok, stack_list_and_keys);
    tcase_add_test(ok, single_plugin_keys_as_before);
    suite_add_tcase(s, ok);

    TCase *bad = tcase_create("errors");
    tcase_add_unchecked_fixture(bad, setup, teardown);
    tcase_add_test(bad, error_unknown_server_key);
    tcase_add_test(bad, error_unknown_section);
    tcase_add_test(bad, error_key_before_section);
    tcase_add_test(bad, error_section_without_bracket);
    tcase_add_test(bad, error_bad_listen);
    tcase_add_test(bad, error_duplicate_listen);
    tcase_add_test(bad, trusted_proxies_and_friends);
    tcase_add_test(bad, error_bad_duration);
    tcase_add_test(bad, error_bad_size);
    tcase_add_test(bad, processes_zero_is_one_process);
    tcase_add_test(bad, error_bad_numbers);
    tcase_add_test(bad, error_duplicate_key);
    tcase_add_test(bad, error_duplicate_route);
    tcase_add_test(bad, error_route_without_plugin);
    tcase_add_test(bad, error_bad_route_prefix);
    tcase_add_test(bad, error_host_routes);
    tcase_add_test(bad, error_no_listen);
    tcase_add_test(bad, error_syntax);
    tcase_add_test(bad, error_missing_file);
    tcase_add_test(bad, error_small_buffer);
    tcase_add_test(bad, error_stack_lists);
    suite_add_tcase(s, bad);

    TCase *longl = tcase_create("long lines");
    tcase_add_unchecked_fixture(longl, setup, teardown);
    tcase_add_test(longl, error_long_value_line);
    tcase_add_test(longl, long_line_remainder_never_applied);
    tcase_add_test(longl, long_line_at_limit_loads);
    suite_add_tcase(s, longl);

    TCase *parsers = tcase_create("parsers");
    tcase_add_test(parsers, parse_size_table);
    tcase_add_test(parsers, parse_duration_table);
    tcase_add_test(parsers, parse_listen_table);
    suite_add_tcase(s, parsers);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
