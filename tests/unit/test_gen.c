/*
 * Unit tests for the stacked-route part of server/gen.c: each listed
 * plugin lands in its role (content handler, access stage, output
 * filter), the route's body limits, and a reload's reuse decided per stage
 * (built with GEN_LOAD: libraries loaded, no create() called).
 */
#include "gen.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GATE TEST_PLUGIN_DIR "/gate.so"
#define UPPER TEST_PLUGIN_DIR "/upper.so"

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static cfg_t *load(const char *server, const char *routes)
{
    char dir[64], ini[128];
    snprintf(dir, sizeof dir, "/tmp/ph-test-gen-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(ini, sizeof ini, "%s/server.ini", dir);
    FILE *f = fopen(ini, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[server]\nlisten = 127.0.0.1:0\n%s%s", server, routes);
    fclose(f);
    cfg_t *cfg;
    char err[512];
    ck_assert_msg(cfg_load(ini, &cfg, err, sizeof err) == 0, "%s", err);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return cfg;
}

static gen_t *build(const char *server, const char *routes, gen_t *prev, unsigned long id)
{
    gen_t *g;
    char err[1024];
    cfg_t *cfg = load(server, routes);
    ck_assert_msg(gen_build(cfg, prev, id, GEN_LOAD, &g, err, sizeof err) == 0, "%s", err);
    return g;
}

#define STACK(gate_tag, status) \
    "[route /app]\nplugin = " UPPER ", " GATE ", " ECHO_PLUGIN "\ngate.tag = " gate_tag "\nstatus = " status \
    "\nmax_body_bytes = 2k\nbody_spill = 1k\n[route /plain]\nplugin = " ECHO_PLUGIN "\n"

START_TEST(roles_and_limits)
{
    gen_t *g = build("max_body_bytes = 5k\n", STACK("a", "201"), NULL, 1);
    ck_assert_uint_eq(g->nroutes, 2);
    const gen_route_t *gr = &g->routes[0];
    ck_assert_str_eq(gr->desc->name, "echo");
    ck_assert_str_eq(gr->stage->name, "echo");
    ck_assert_ptr_eq(gr->desc, gr->inst->lib->desc);
    ck_assert_uint_eq(gr->naccess, 1);
    ck_assert_str_eq(gr->access[0].desc->name, "gate");
    ck_assert_str_eq(gr->access[0].cfg->name, "gate");
    ck_assert_ptr_nonnull(gr->access[0].hooks.on_head);
    ck_assert_uint_eq(gr->nfilters, 1);
    ck_assert_str_eq(gr->filters[0].desc->name, "upper");
    ck_assert_ptr_nonnull(gr->filters[0].hooks.filter_body);
    ck_assert_uint_eq(gr->max_body_bytes, 2048);
    ck_assert_uint_eq(gr->body_spill, 1024);
    ck_assert_ptr_nonnull(gr->stats);
    gr = &g->routes[1];
    ck_assert_uint_eq(gr->naccess + gr->nfilters, 0);
    ck_assert_uint_eq(gr->max_body_bytes, 5 * 1024); /* the server's */
    ck_assert_uint_eq(gr->body_spill, 0);
    gen_discard(g);
}
END_TEST

/* Reuse is per stage: a stage's key recreates that stage only; a bare key
 * recreates the content handler only. */
START_TEST(reuse_per_stage)
{
    gen_t *g1 = build("", STACK("a", "201"), NULL, 1);
    gen_t *g2 = build("", STACK("a", "201"), g1, 2);
    const gen_route_t *a = &g1->routes[0], *b = &g2->routes[0];
    ck_assert_ptr_eq(a->inst, b->inst);
    ck_assert_ptr_eq(a->access[0].inst, b->access[0].inst);
    ck_assert_ptr_eq(a->filters[0].inst, b->filters[0].inst);
    ck_assert_ptr_eq(g1->routes[1].inst, g2->routes[1].inst);

    gen_t *g3 = build("", STACK("b", "201"), g2, 3);
    const gen_route_t *c = &g3->routes[0];
    ck_assert_ptr_eq(b->inst, c->inst);
    ck_assert_ptr_ne(b->access[0].inst, c->access[0].inst);
    ck_assert_ptr_eq(b->filters[0].inst, c->filters[0].inst);

    gen_t *g4 = build("", STACK("b", "202"), g3, 4);
    const gen_route_t *d = &g4->routes[0];
    ck_assert_ptr_ne(c->inst, d->inst);
    ck_assert_ptr_eq(c->access[0].inst, d->access[0].inst);
    ck_assert_ptr_eq(c->filters[0].inst, d->filters[0].inst);
    /* /plain's echo and /app's echo never share an instance */
    ck_assert_ptr_ne(d->inst, g4->routes[1].inst);
    unsigned reused, created;
    gen_build_stats(&reused, &created);
    ck_assert_uint_eq(reused, 3);
    gen_discard(g1);
    gen_discard(g2);
    gen_discard(g3);
    gen_discard(g4);
}
END_TEST

static Suite *gen_suite(void)
{
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("stacks");
    tcase_add_test(tc, roles_and_limits);
    tcase_add_test(tc, reuse_per_stage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gen_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
