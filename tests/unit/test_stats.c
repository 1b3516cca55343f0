/*
 * Unit tests for server/stats.c: route counters driven from several
 * threads (each with its own slot, and more threads than slots, which
 * share one), connection and reload counters, and routes_visit's order
 * over real generations (built from a server.ini naming the echo plugin);
 * ABI 1.6's latency histograms, loop lag, blocking pool and TLS counters,
 * and generations_visit.
 */
#include "stats.h"

#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen.h"

#define PER_THREAD 20000

/* A request ending with status and bytes_out, 1 us after its head. */
static void end(const gen_route_t *r, int status, uint64_t bytes_out)
{
    stats_end_t e = {status, bytes_out, 0, 1};
    stats_request_end(r, &e);
}

typedef struct run {
    gen_route_t *route;
    int status;
} run_t;

static void *requests(void *arg)
{
    run_t *r = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        stats_request_begin(r->route);
        end(r->route, r->status, 10);
    }
    stats_conn_open();
    return NULL;
}

/* threads threads, each ending PER_THREAD requests with its own status,
 * on a route made for slots threads: every count must be exact. */
static void count_from_threads(unsigned threads, unsigned slots)
{
    gen_route_t route;
    memset(&route, 0, sizeof route);
    route.stats = stats_route_new(slots);
    ck_assert_ptr_nonnull(route.stats);
    static const int statuses[] = {200, 404, 201, 503, 0, 302, 101, 99, 600, 204};
    pthread_t t[16];
    run_t runs[16];
    for (unsigned i = 0; i < threads; i++) {
        runs[i] = (run_t){&route, statuses[i % 10]};
        ck_assert_int_eq(pthread_create(&t[i], NULL, requests, &runs[i]), 0);
    }
    for (unsigned i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    ph_route_info_t ri;
    memset(&ri, 0, sizeof ri);
    stats_route_read(&route, &ri);
    uint64_t want[6] = {0};
    for (unsigned i = 0; i < threads; i++) {
        int s = statuses[i % 10];
        want[s >= 100 && s <= 599 ? s / 100 : 0] += PER_THREAD;
    }
    ck_assert_uint_eq(ri.requests, (uint64_t)threads * PER_THREAD);
    ck_assert_uint_eq(ri.in_flight, 0);
    for (int c = 0; c < 6; c++)
        ck_assert_msg(ri.status[c] == want[c], "status[%d] = %llu, want %llu", c,
                      (unsigned long long)ri.status[c], (unsigned long long)want[c]);
    ck_assert_uint_eq(ri.bytes_out, (uint64_t)threads * PER_THREAD * 10);
    ph_server_info_t si = {.size = sizeof si};
    ck_assert_int_eq(stats_server_info(&si), PH_OK);
    ck_assert_uint_eq(si.connections, threads);
    ck_assert_uint_eq(si.connections_total, threads);
    stats_route_free(route.stats);
}

START_TEST(route_counters_own_slots) { count_from_threads(4, 4); }
END_TEST

/* 16 threads on a route with room for 1: most share slot 0. */
START_TEST(route_counters_shared_slot) { count_from_threads(16, 1); }
END_TEST

START_TEST(in_flight_and_unrouted)
{
    gen_route_t route;
    memset(&route, 0, sizeof route);
    route.stats = stats_route_new(1);
    stats_request_begin(&route);
    stats_request_begin(&route);
    stats_request_begin(NULL); /* no route matched */
    ph_route_info_t ri;
    memset(&ri, 0, sizeof ri);
    stats_route_read(&route, &ri);
    ck_assert_uint_eq(ri.in_flight, 2);
    ck_assert_uint_eq(ri.requests, 0);
    end(&route, 200, 5);
    end(NULL, 400, 7);
    memset(&ri, 0, sizeof ri);
    stats_route_read(&route, &ri);
    ck_assert_uint_eq(ri.in_flight, 1);
    ck_assert_uint_eq(ri.requests, 1);
    ck_assert_uint_eq(ri.status[2], 1);
    ck_assert_uint_eq(ri.bytes_out, 5);
    ph_server_info_t si = {.size = sizeof si};
    ck_assert_int_eq(stats_server_info(&si), PH_OK);
    ck_assert_uint_eq(si.size, sizeof si);
    ck_assert_uint_eq(si.in_flight, 0); /* no generation holds this route */
    ck_assert_uint_eq(si.generations, 0);
    stats_route_free(route.stats);
}
END_TEST

START_TEST(connections_and_reloads)
{
    stats_conn_open();
    stats_conn_open();
    stats_conn_close();
    stats_generation_current(1); /* start-up: not a reload */
    stats_generation_current(1); /* a worker process forked on it */
    stats_generation_current(2);
    stats_generation_current(3);
    stats_reload_failed();
    stats_threads(3);
    ph_server_info_t si = {.size = sizeof si};
    ck_assert_int_eq(stats_server_info(&si), PH_OK);
    ck_assert_uint_eq(si.connections, 1);
    ck_assert_uint_eq(si.connections_total, 2);
    ck_assert_uint_eq(si.generation, 3);
    ck_assert_uint_eq(si.reloads, 2);
    ck_assert_uint_eq(si.reloads_failed, 1);
    ck_assert_uint_eq(si.threads, 3);
    ck_assert_int_eq(stats_server_info(NULL), PH_ERROR);
    ck_assert_int_eq(stats_routes_visit(NULL, NULL), PH_ERROR);
    /* an older plugin's shorter struct: nothing past its size is written */
    ph_server_info_t old;
    memset(&old, 0xab, sizeof old);
    old.size = (uint32_t)offsetof(ph_server_info_t, connections);
    ck_assert_int_eq(stats_server_info(&old), PH_OK);
    ck_assert_uint_eq(old.size, offsetof(ph_server_info_t, connections));
    ck_assert_uint_eq(old.threads, 3);
    ck_assert_uint_eq(old.connections, 0xababababababababull);
    ph_server_info_t none = {.size = 0};
    ck_assert_int_eq(stats_server_info(&none), PH_ERROR);
}
END_TEST

/* Each request lands in the first bucket whose bound it does not pass;
 * the reading is cumulative and never above the count. */
START_TEST(latency_histogram)
{
    gen_route_t route;
    memset(&route, 0, sizeof route);
    route.stats = stats_route_new(1);
    static const uint64_t us[] = {0, 100, 101, 250, 999, 1000, 10000000, 10000001, 99999999};
    for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) {
        stats_request_begin(&route);
        stats_end_t e = {200, 3, 7, us[i]};
        stats_request_end(&route, &e);
    }
    ph_route_info_t ri;
    memset(&ri, 0, sizeof ri);
    stats_route_read(&route, &ri);
    static const uint64_t bounds[PH_LATENCY_BUCKETS] = PH_LATENCY_BOUNDS_US;
    for (unsigned b = 0; b < PH_LATENCY_BUCKETS; b++) {
        uint64_t want = 0;
        for (size_t i = 0; i < sizeof us / sizeof us[0]; i++)
            want += us[i] <= bounds[b];
        ck_assert_msg(ri.latency_le[b] == want, "le %llu: %llu, want %llu", (unsigned long long)bounds[b],
                      (unsigned long long)ri.latency_le[b], (unsigned long long)want);
    }
    ck_assert_uint_eq(ri.latency_le[0], 2);
    ck_assert_uint_eq(ri.latency_le[PH_LATENCY_BUCKETS - 1], 7);
    ck_assert_uint_eq(ri.requests, 9);
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof us / sizeof us[0]; i++)
        sum += us[i];
    ck_assert_uint_eq(ri.latency_us_sum, sum);
    ck_assert_uint_eq(ri.bytes_in, 63);
    ck_assert_uint_eq(ri.bytes_out, 27);
    stats_route_free(route.stats);
}
END_TEST

START_TEST(lag_blocking_tls)
{
    stats_threads(2);
    stats_loop_lag(1, 300);
    stats_loop_lag(1, 1200);
    stats_loop_lag(1, 40);
    stats_loop_lag(1000, 5); /* past the probed workers: ignored */
    stats_threads(100);
    ph_worker_info_t far = {.size = sizeof far};
    ck_assert_int_eq(stats_worker_info(99, &far), PH_OK);
    ck_assert_uint_eq(far.index, 99);
    ck_assert_uint_eq(far.lag_checks, 0);
    stats_threads(2);
    ph_worker_info_t w = {.size = sizeof w};
    ck_assert_int_eq(stats_worker_info(1, &w), PH_OK);
    ck_assert_uint_eq(w.index, 1);
    ck_assert_uint_eq(w.lag_checks, 3);
    ck_assert_uint_eq(w.lag_us_last, 40);
    ck_assert_uint_eq(w.lag_us_max, 1200);
    ck_assert_uint_eq(w.lag_us_sum, 1540);
    ck_assert_int_eq(stats_worker_info(2, &w), PH_ERROR); /* 2 threads */
    ck_assert_int_eq(stats_worker_info(0, NULL), PH_ERROR);
    /* a shorter struct: nothing past its size is written */
    ph_worker_info_t old;
    memset(&old, 0xab, sizeof old);
    old.size = (uint32_t)offsetof(ph_worker_info_t, lag_us_last);
    ck_assert_int_eq(stats_worker_info(1, &old), PH_OK);
    ck_assert_uint_eq(old.lag_checks, 3);
    ck_assert_uint_eq(old.lag_us_last, 0xababababababababull);

    unsigned *depth = stats_blocking_depth();
    __atomic_add_fetch(depth, 4, __ATOMIC_RELAXED);
    stats_blocking_rejected();
    stats_blocking_timeout();
    stats_blocking_timeout();
    stats_tls_handshake(1);
    stats_tls_handshake(1);
    stats_tls_handshake(0);
    ph_server_info_t si = {.size = sizeof si};
    ck_assert_int_eq(stats_server_info(&si), PH_OK);
    ck_assert_uint_eq(si.blocking_queued, 4);
    ck_assert_uint_eq(si.blocking_rejected, 1);
    ck_assert_uint_eq(si.blocking_timeouts, 2);
    ck_assert_uint_eq(si.tls_handshakes, 2);
    ck_assert_uint_eq(si.tls_handshakes_failed, 1);
    /* a 1.5 plugin's struct ends before them */
    ph_server_info_t old5;
    memset(&old5, 0xab, sizeof old5);
    old5.size = (uint32_t)offsetof(ph_server_info_t, blocking_queued);
    ck_assert_int_eq(stats_server_info(&old5), PH_OK);
    ck_assert_uint_eq(old5.blocking_queued, 0xababababababababull);
}
END_TEST

/* --- routes_visit over real generations ----------------------------------- */

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static cfg_t *load(const char *routes)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ph-test-stats-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    char ini[128];
    snprintf(ini, sizeof ini, "%s/server.ini", tmpdir);
    FILE *f = fopen(ini, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[server]\nlisten = 127.0.0.1:0\n%s", routes);
    fclose(f);
    cfg_t *cfg;
    char err[512];
    ck_assert_msg(cfg_load(ini, &cfg, err, sizeof err) == 0, "%s", err);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return cfg;
}

typedef struct seen {
    char text[512];
    int stop_after;
    int n;
} seen_t;

static int note(void *arg, const ph_route_info_t *r)
{
    seen_t *s = arg;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof s->text - len, "%lu%s%s:%s:%llu;", r->generation, r->current ? "*" : "",
             r->prefix, r->plugins, (unsigned long long)r->requests);
    ck_assert_str_eq(r->file, ECHO_PLUGIN);
    ck_assert_uint_eq(r->size, sizeof *r);
    return ++s->n == s->stop_after ? 42 : 0;
}

START_TEST(visit_current_first)
{
    gen_t *g1, *g2;
    char err[512];
    cfg_t *c1 = load("[route /a]\nplugin = " ECHO_PLUGIN "\n[route /b]\nplugin = " ECHO_PLUGIN "\n");
    ck_assert_msg(gen_build(c1, NULL, 1, GEN_LOAD, &g1, err, sizeof err) == 0, "%s", err);
    cfg_t *c2 = load("[route /c]\nplugin = " ECHO_PLUGIN "\n");
    ck_assert_msg(gen_build(c2, g1, 2, GEN_LOAD, &g2, err, sizeof err) == 0, "%s", err);
    stats_request_begin(&g1->routes[1]);
    end(&g1->routes[1], 200, 1);

    stats_generation_current(1);
    seen_t s = {"", 0, 0};
    ck_assert_int_eq(stats_routes_visit(note, &s), 0);
    char want[512];
    snprintf(want, sizeof want, "1*/a:%s:0;1*/b:%s:1;2/c:%s:0;", ECHO_PLUGIN, ECHO_PLUGIN, ECHO_PLUGIN);
    ck_assert_str_eq(s.text, want);

    stats_generation_current(2);
    s = (seen_t){"", 0, 0};
    ck_assert_int_eq(stats_routes_visit(note, &s), 0);
    snprintf(want, sizeof want, "2*/c:%s:0;1/a:%s:0;1/b:%s:1;", ECHO_PLUGIN, ECHO_PLUGIN, ECHO_PLUGIN);
    ck_assert_str_eq(s.text, want);

    s = (seen_t){"", 2, 0}; /* fn's nonzero stops the walk and is returned */
    ck_assert_int_eq(stats_routes_visit(note, &s), 42);
    ck_assert_int_eq(s.n, 2);

    ph_server_info_t si = {.size = sizeof si};
    stats_server_info(&si);
    ck_assert_uint_eq(si.generations, 2);
    ck_assert_uint_eq(si.reloads, 1);
    gen_discard(g1);
    stats_server_info(&si);
    ck_assert_uint_eq(si.generations, 1);
    gen_discard(g2);
}
END_TEST

typedef struct gens_seen {
    char text[512];
} gens_seen_t;

static int note_gen(void *arg, const ph_generation_info_t *g)
{
    gens_seen_t *s = arg;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof s->text - len, "%lu%s:%llu:%zu;", g->id, g->current ? "*" : "",
             (unsigned long long)g->in_flight, g->nfiles);
    for (size_t i = 0; i < g->nfiles; i++)
        ck_assert_str_eq(g->files[i], ECHO_PLUGIN);
    ck_assert_uint_eq(g->size, sizeof *g);
    return 0;
}

/* Each generation once, current first, its plugin files each once. */
START_TEST(generations_visit)
{
    gen_t *g1, *g2;
    char err[512];
    cfg_t *c1 = load("[route /a]\nplugin = " ECHO_PLUGIN "\n[route /b]\nplugin = " ECHO_PLUGIN "\n");
    ck_assert_msg(gen_build(c1, NULL, 1, GEN_LOAD, &g1, err, sizeof err) == 0, "%s", err);
    cfg_t *c2 = load("[route /c]\nplugin = " ECHO_PLUGIN "\n");
    ck_assert_msg(gen_build(c2, g1, 2, GEN_LOAD, &g2, err, sizeof err) == 0, "%s", err);
    stats_request_begin(&g1->routes[0]);
    stats_request_begin(&g1->routes[1]);
    stats_generation_current(2);
    gens_seen_t s = {""};
    ck_assert_int_eq(stats_generations_visit(note_gen, &s), 0);
    ck_assert_str_eq(s.text, "2*:0:1;1:2:1;");
    ck_assert_int_eq(stats_generations_visit(NULL, NULL), PH_ERROR);
    gen_discard(g1);
    gen_discard(g2);
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("counters");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, route_counters_own_slots);
    tcase_add_test(tc, route_counters_shared_slot);
    tcase_add_test(tc, in_flight_and_unrouted);
    tcase_add_test(tc, connections_and_reloads);
    tcase_add_test(tc, visit_current_first);
    tcase_add_test(tc, latency_histogram);
    tcase_add_test(tc, lag_blocking_tls);
    tcase_add_test(tc, generations_visit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stats_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
