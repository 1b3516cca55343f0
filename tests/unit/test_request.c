/*
 * Unit tests for server/request.c's request calls that need no connection:
 * the ABI 1.5 notes (note_set/note), on a request set up the way
 * exchange_new() sets one up, in a pool of its own; the ABI 1.6 host,
 * address sets (cidr_*) and url_escape.
 */
#include "exchange.h"
#include "gen.h"
#include "log.h"
#include "pool.h"
#include "request.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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


START_TEST(note_aliasing_and_order)
{
    /* a note set from another note's value, or from its own */
    ck_assert_int_eq(request_api.note_set(req, "a", "1"), PH_OK);
    ck_assert_int_eq(request_api.note_set(req, "b", request_api.note(req, "a")), PH_OK);
    ck_assert_int_eq(request_api.note_set(req, "a", request_api.note(req, "a")), PH_OK);
    ck_assert_str_eq(request_api.note(req, "a"), "1");
    ck_assert_str_eq(request_api.note(req, "b"), "1");
    /* the old value stays readable after a replacement (pool memory) */
    const char *old = request_api.note(req, "a");
    ck_assert_int_eq(request_api.note_set(req, "a", "2"), PH_OK);
    ck_assert_str_eq(old, "1");
    ck_assert_str_eq(request_api.note(req, "a"), "2");
    /* removing the first and the last of the list */
    ck_assert_int_eq(request_api.note_set(req, "c", "3"), PH_OK);
    ck_assert_int_eq(request_api.note_set(req, "a", NULL), PH_OK);
    ck_assert_int_eq(request_api.note_set(req, "c", NULL), PH_OK);
    ck_assert_ptr_null(request_api.note(req, "a"));
    ck_assert_ptr_null(request_api.note(req, "c"));
    ck_assert_str_eq(request_api.note(req, "b"), "1");
    ck_assert_int_eq(request_api.note_set(req, "b", NULL), PH_OK);
    ck_assert_ptr_null(req->notes);
    /* removal by the note's own name pointer; a NULL name with NULL value */
    ck_assert_int_eq(request_api.note_set(req, "d", "4"), PH_OK);
    ck_assert_int_eq(request_api.note_set(req, NULL, NULL), PH_ERROR);
    ck_assert_int_eq(request_api.note_set(req, "", NULL), PH_ERROR);
    ck_assert_int_eq(request_api.note_set(req, "d", NULL), PH_OK);
    ck_assert_ptr_null(request_api.note(req, "d"));
    /* a name of 10,000 bytes and arbitrary bytes in names and values */
    static char big[10001];
    memset(big, 'n', sizeof big - 1);
    ck_assert_int_eq(request_api.note_set(req, big, "\x01\xff\r\n"), PH_OK);
    ck_assert_str_eq(request_api.note(req, big), "\x01\xff\r\n");
    ck_assert_int_eq(request_api.note_set(req, "X", "y"), PH_OK);
    ck_assert_ptr_null(request_api.note(req, "x"));
}
END_TEST

/* --- response fields: add_header, set_header, add_trailer, early_hints -- */

static char log_path[] = "/tmp/test_request_log.XXXXXX";
static int log_fd = -1;
static ph_plugin_t up_desc, plain_desc;
static gen_route_t up_route, plain_route;

static void fields_setup(void)
{
    setup();
    log_fd = mkstemp(log_path);
    ck_assert_int_ge(log_fd, 0);
    ck_assert_int_eq(log_error_open(log_path), 0);
    up_desc.flags = PH_PLUGIN_UPGRADE;
    up_route.desc = &up_desc;
    plain_route.desc = &plain_desc;
}

static void fields_teardown(void)
{
    log_error_open(NULL);
    close(log_fd);
    unlink(log_path);
    strcpy(log_path, "/tmp/test_request_log.XXXXXX");
    teardown();
}

/* The log written since the last call. */
static const char *log_since(void)
{
    static char buf[4096];
    static off_t seen;
    off_t end = lseek(log_fd, 0, SEEK_END);
    if (end < seen)
        seen = 0;
    ssize_t n = pread(log_fd, buf, sizeof buf - 1, seen);
    buf[n > 0 ? n : 0] = '\0';
    seen = end;
    return buf;
}

enum { ADD, SET, TRAILER, HINT };
enum { OK, INVALID, CORE };

static const struct field_case {
    int call;
    int upgrade_route;
    const char *name, *value;
    int want;
} field_cases[] = {
    {ADD, 0, "X-A", "v", OK},
    {ADD, 0, "X-A", "", OK},
    {ADD, 0, "X-A", "a b\tc", OK},
    {ADD, 0, "X-A", "\x80\xff", OK},
    {ADD, 0, "!#$%&'*+-.^_`|~09azAZ", "v", OK},
    {ADD, 0, NULL, "v", INVALID},
    {ADD, 0, "X-A", NULL, INVALID},
    {ADD, 0, NULL, NULL, INVALID},
    {ADD, 0, "", "v", INVALID},
    {ADD, 0, "X A", "v", INVALID},
    {ADD, 0, "X:A", "v", INVALID},
    {ADD, 0, "X-\xc3\xa9", "v", INVALID},
    {ADD, 0, "X-A", " v", INVALID},
    {ADD, 0, "X-A", "v ", INVALID},
    {ADD, 0, "X-A", "\tv", INVALID},
    {ADD, 0, "X-A", "v\t", INVALID},
    {ADD, 0, "X-A", " ", INVALID},
    {ADD, 0, "X-A", "a\r\nb", INVALID},
    {ADD, 0, "X-A", "a\x7f", INVALID},
    {ADD, 0, "X-A", "a\x01", INVALID},
    {ADD, 0, "date", "x", CORE},
    {ADD, 0, "DATE", "x", CORE},
    {ADD, 0, "Connection", "close", CORE},
    {ADD, 0, "kEEp-aLIVE", "x", CORE},
    {ADD, 0, "Content-Length", "1", CORE},
    {ADD, 0, "TRANSFER-ENCODING", "chunked", CORE},
    {ADD, 0, "Trailer", "x", CORE},
    {ADD, 0, "Upgrade", "websocket", CORE},
    {ADD, 0, "Date", " x", INVALID},
    {ADD, 0, "Upgrade ", "websocket", INVALID},
    {ADD, 0, "Dates", "x", OK},
    {ADD, 0, "Upgrades", "x", OK},
    {ADD, 0, "Content-Lengt", "1", OK},
    {ADD, 1, "Upgrade", "websocket", OK},
    {ADD, 1, "UPGRADE", "websocket", OK},
    {ADD, 1, "Upgrade", "web socket ", INVALID},
    {ADD, 1, "Connection", "upgrade", CORE},
    {ADD, 1, "Trailer", "x", CORE},
    {SET, 0, "X-A", "v", OK},
    {SET, 0, NULL, "v", INVALID},
    {SET, 0, "X-A", NULL, INVALID},
    {SET, 0, "", "v", INVALID},
    {SET, 0, "Date", "x", CORE},
    {SET, 0, "Upgrade", "h2c", CORE},
    {SET, 1, "upgrade", "h2c", OK},
    {SET, 1, "Date", "x", CORE},
    {TRAILER, 0, "X-T", "v", OK},
    {TRAILER, 0, NULL, "v", INVALID},
    {TRAILER, 0, "X-T", " v", INVALID},
    {TRAILER, 0, "Content-Length", "1", CORE},
    {TRAILER, 0, "Upgrade", "x", CORE},
    {TRAILER, 1, "Upgrade", "x", CORE},
    {HINT, 0, "Link", "</a.css>; rel=preload", OK},
    {HINT, 0, "Link", " x", INVALID},
    {HINT, 0, "Connection", "x", INVALID},
    {HINT, 1, "Upgrade", "x", INVALID},
};

START_TEST(response_fields)
{
    const struct field_case *c = &field_cases[_i];
    req->route = c->upgrade_route ? &up_route : &plain_route;
    log_since();
    int rc;
    switch (c->call) {
    case ADD: rc = request_api.add_header(req, c->name, c->value); break;
    case SET: rc = request_api.set_header(req, c->name, c->value); break;
    case TRAILER: rc = request_api.add_trailer(req, c->name, c->value); break;
    default: {
        ph_kv_t kv = {c->name, c->value};
        rc = request_api.early_hints(req, &kv, 1);
        break;
    }
    }
    const char *log = log_since();
    char want[256];
    if (c->call == HINT) {
        /* no carrier here: a valid hint fails later, without the message */
        ck_assert_int_eq(rc, PH_ERROR);
        ck_assert_int_eq(strstr(log, "invalid early hint") != NULL, c->want != OK);
        ck_assert_int_eq(req->bad, 0);
        return;
    }
    if (c->want == OK) {
        ck_assert_msg(rc == PH_OK, "case %d refused: %s", _i, log);
        ck_assert_int_eq(req->bad, 0);
        resp_header_t *h = c->call == TRAILER ? req->trailers : req->headers;
        ck_assert_ptr_nonnull(h);
        ck_assert_str_eq(h->name, c->name);
        ck_assert_uint_eq(h->nlen, strlen(c->name));
        ck_assert_str_eq(h->value, c->value);
        ck_assert_uint_eq(h->vlen, strlen(c->value));
        return;
    }
    ck_assert_msg(rc == PH_ERROR, "case %d taken", _i);
    ck_assert_int_eq(req->bad, 1);
    ck_assert_ptr_null(c->call == TRAILER ? req->trailers : req->headers);
    size_t nlen = c->name ? strlen(c->name) : 0;
    snprintf(want, sizeof want, "plugin added %s header \"%.*s\": answering 500",
             c->want == CORE ? "a core-owned" : "an invalid", (int)(nlen > 64 ? 64 : nlen),
             c->name ? c->name : "(null)");
    ck_assert_msg(strstr(log, want) != NULL, "case %d: want \"%s\" in \"%s\"", _i, want, log);
}
END_TEST

START_TEST(set_header_replaces)
{
    req->route = &up_route;
    ck_assert_int_eq(request_api.add_header(req, "X-A", "1"), PH_OK);
    ck_assert_int_eq(request_api.add_header(req, "Upgrade", "a"), PH_OK);
    ck_assert_int_eq(request_api.add_header(req, "x-a", "2"), PH_OK);
    ck_assert_int_eq(request_api.set_header(req, "X-a", "3"), PH_OK);
    ck_assert_int_eq(request_api.set_header(req, "upgrade", "b"), PH_OK);
    ck_assert_str_eq(req->headers->name, "X-a");
    ck_assert_str_eq(req->headers->value, "3");
    ck_assert_str_eq(req->headers->next->value, "b");
    ck_assert_ptr_null(req->headers->next->next);
    /* a refused set_header leaves what was there */
    ck_assert_int_eq(request_api.set_header(req, "X-a", "bad "), PH_ERROR);
    ck_assert_str_eq(req->headers->value, "3");
    /* a long name is cut to 64 bytes in the message */
    char name[100];
    memset(name, 'k', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    log_since();
    ck_assert_int_eq(request_api.add_header(req, name, "\x01"), PH_ERROR);
    const char *log = log_since();
    ck_assert_ptr_nonnull(strstr(log, "an invalid header \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\":"));
}
END_TEST

/* api->host(): "" until routing made it, then the normalised authority,
 * the same pointer on every call (made once, read after). */
START_TEST(host_normalised_once)
{
    static const struct {
        const char *authority, *host;
    } cases[] = {
        {"Example.COM.:8080", "example.com"},
        {"[::1]:80", "[::1]"},
        {"www.example.org", "www.example.org"},
        {"", ""},
    };
    ph_str_t h = request_api.host(req);
    ck_assert_ptr_nonnull(h.ptr);
    ck_assert_uint_eq(h.len, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].authority), len;
        char *head = pool_alloc(pool, n + 1);
        memcpy(head, cases[i].authority, n + 1);
        req->head = head;
        req->hp.authority.off = 0;
        req->hp.authority.len = (unsigned)n;
        req->host = NULL;
        exchange_host(req, &len);
        h = request_api.host(req);
        ck_assert_uint_eq(h.len, strlen(cases[i].host));
        ck_assert(memcmp(h.ptr, cases[i].host, h.len) == 0);
        ck_assert_ptr_eq(request_api.host(req).ptr, h.ptr);
    }
}
END_TEST

START_TEST(cidr_sets)
{
    char why[120];
    ph_cidr_t *set = request_api.cidr_new();
    ck_assert_ptr_nonnull(set);
    ck_assert(!request_api.cidr_match(set, "10.1.2.3")); /* empty */
    ck_assert_int_eq(request_api.cidr_add(set, "10.0.0.0/8, 2001:db8::/32", why, sizeof why), PH_OK);
    ck_assert_int_eq(request_api.cidr_add(set, "192.168.1.5 10.1.2.3/12", why, sizeof why), PH_OK);
    ck_assert_int_eq(request_api.cidr_add(set, "", why, sizeof why), PH_OK);
    ck_assert(request_api.cidr_match(set, "10.255.1.2"));
    ck_assert(!request_api.cidr_match(set, "11.0.0.1"));
    ck_assert(request_api.cidr_match(set, "2001:db8:1::7"));
    ck_assert(!request_api.cidr_match(set, "2001:db9::1"));
    ck_assert(request_api.cidr_match(set, "192.168.1.5"));
    ck_assert(!request_api.cidr_match(set, "192.168.1.6"));
    ck_assert(request_api.cidr_match(set, "::ffff:10.1.2.3")); /* v4-mapped */
    ck_assert(!request_api.cidr_match(set, "unknown"));
    ck_assert(!request_api.cidr_match(set, "10.1.2.3:80"));
    ck_assert(!request_api.cidr_match(NULL, "10.1.2.3"));

    struct sockaddr_in a4 = {.sin_family = AF_INET};
    inet_pton(AF_INET, "10.9.8.7", &a4.sin_addr);
    ck_assert(request_api.cidr_match_addr(set, (const struct sockaddr *)&a4));
    inet_pton(AF_INET, "172.16.0.1", &a4.sin_addr);
    ck_assert(!request_api.cidr_match_addr(set, (const struct sockaddr *)&a4));
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
    ck_assert(request_api.cidr_match_addr(set, (const struct sockaddr *)&a6));
    inet_pton(AF_INET6, "::ffff:192.168.1.5", &a6.sin6_addr);
    ck_assert(request_api.cidr_match_addr(set, (const struct sockaddr *)&a6));
    struct sockaddr other = {.sa_family = AF_UNIX};
    ck_assert(!request_api.cidr_match_addr(set, &other));

    /* a refused list names the entry and leaves the set as it was */
    const char *bad[] = {"/8", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "host", "10.0.0.0/8/8",
                         "172.16.0.0/12 nope"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(request_api.cidr_add(set, bad[i], why, sizeof why) == PH_ERROR, "%s accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(why, "is not an address or ADDRESS/BITS"));
    }
    ck_assert_str_eq(why, "\"nope\" is not an address or ADDRESS/BITS");
    ck_assert(!request_api.cidr_match(set, "172.16.0.1")); /* 172.16/12 not kept */
    ck_assert_int_eq(request_api.cidr_add(set, "bad", NULL, 0), PH_ERROR);
    request_api.cidr_free(set);
    request_api.cidr_free(NULL);

    /* a range written in IPv4-mapped form is the IPv4 range it maps:
     * addresses are matched as IPv4 once unmapped */
    ph_cidr_t *mapped = request_api.cidr_new();
    ck_assert_int_eq(request_api.cidr_add(mapped, "::ffff:203.0.113.0/120", why, sizeof why), PH_OK);
    ck_assert(request_api.cidr_match(mapped, "203.0.113.9"));
    ck_assert(request_api.cidr_match(mapped, "::ffff:203.0.113.9"));
    ck_assert(!request_api.cidr_match(mapped, "203.0.114.9"));
    request_api.cidr_free(mapped);
    mapped = request_api.cidr_new();
    ck_assert_int_eq(request_api.cidr_add(mapped, "::ffff:10.0.0.1", why, sizeof why), PH_OK);
    ck_assert(request_api.cidr_match(mapped, "10.0.0.1"));
    ck_assert(!request_api.cidr_match(mapped, "10.0.0.2"));
    request_api.cidr_free(mapped);
    mapped = request_api.cidr_new();
    ck_assert_int_eq(request_api.cidr_add(mapped, "::ffff:0:0/96", why, sizeof why), PH_OK);
    ck_assert(request_api.cidr_match(mapped, "192.0.2.1"));
    request_api.cidr_free(mapped);
}
END_TEST

START_TEST(url_escape_bytes)
{
    char out[64];
    const char all[] = "az AZ09-._~/!$&'()*+,;=:@%?#\\\"<>\x01\x7f\xc3\xa9";
    size_t n = request_api.url_escape(all, sizeof all - 1, 0, out, sizeof out);
    const char *want = "az%20AZ09-._~/%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A%40%25%3F%23%5C%22%3C%3E%01%7F%C3%A9";
    /* too long for out: snprintf-like */
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_uint_lt(strlen(out), sizeof out);
    ck_assert(strncmp(out, want, strlen(out)) == 0);
    char big[256];
    ck_assert_uint_eq(request_api.url_escape(all, sizeof all - 1, 0, big, sizeof big), strlen(want));
    ck_assert_str_eq(big, want);
    ck_assert_uint_eq(request_api.url_escape("a/b c", 5, PH_URL_ESCAPE_SLASH, big, sizeof big), 9);
    ck_assert_str_eq(big, "a%2Fb%20c");
    /* never a partial escape: "a%20" does not fit in 4 bytes */
    ck_assert_uint_eq(request_api.url_escape("a b", 3, 0, big, 4), 5);
    ck_assert_str_eq(big, "a");
    ck_assert_uint_eq(request_api.url_escape("ab", 2, 0, big, 3), 2);
    ck_assert_str_eq(big, "ab");
    ck_assert_uint_eq(request_api.url_escape("ab", 2, 0, NULL, 0), 2);
    ck_assert_uint_eq(request_api.url_escape("", 0, 0, big, 1), 0);
    ck_assert_str_eq(big, "");
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
    tcase_add_test(tc, note_aliasing_and_order);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("fields");
    tcase_add_checked_fixture(tf, fields_setup, fields_teardown);
    tcase_add_loop_test(tf, response_fields, 0, (int)(sizeof field_cases / sizeof field_cases[0]));
    tcase_add_test(tf, set_header_replaces);
    suite_add_tcase(s, tf);
    TCase *t6 = tcase_create("abi16");
    tcase_add_checked_fixture(t6, setup, teardown);
    tcase_add_test(t6, host_normalised_once);
    tcase_add_test(t6, cidr_sets);
    tcase_add_test(t6, url_escape_bytes);
    suite_add_tcase(s, t6);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
