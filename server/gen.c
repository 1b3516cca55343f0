#include "gen.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro.h"
#include "tls.h"
#include "log.h"
#include "request.h"
#include "stats.h"

static pthread_mutex_t dead_lock = PTHREAD_MUTEX_INITIALIZER;
static gen_t *dead;
static unsigned alive;
/* Every complete generation not yet destroyed. Changed by the main thread
 * under the write lock; read by introspection on any thread (gen_each). */
static gen_t *all;
static pthread_rwlock_t all_lock = PTHREAD_RWLOCK_INITIALIZER;
static unsigned stat_reused, stat_created;
static unsigned process_index; /* passed to process_init/process_exit */
static unsigned long build_round; /* one per build: reload_check asked once */

void gen_build_stats(unsigned *reused, unsigned *created)
{
    *reused = stat_reused;
    *created = stat_created;
}

unsigned gen_alive(void) { return alive; }

static uint64_t mix(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    h ^= 0xff; /* separator, so "ab"+"c" differs from "a"+"bc" */
    return h * 0x100000001b3ULL;
}

/* A stage's keys as create() gets them: its own "name.key" keys and, for
 * the content handler, the route's bare keys, in the order written. */
typedef struct stage_keys {
    const cfg_kv_t **kv;
    size_t n;
} stage_keys_t;

static int keys_of(const cfg_route_t *r, const cfg_stage_t *s, int handler, stage_keys_t *out)
{
    size_t nb = handler ? r->nkeys : 0;
    out->n = nb + s->nkeys;
    out->kv = calloc(out->n + 1, sizeof *out->kv);
    if (out->kv == NULL)
        return -1;
    size_t i = 0, j = 0, k = 0;
    while (i < nb || j < s->nkeys) /* both lists are in file order */
        if (j == s->nkeys || (i < nb && r->keys[i].line < s->keys[j].line))
            out->kv[k++] = &r->keys[i++];
        else
            out->kv[k++] = &s->keys[j++];
    return 0;
}

/* What decides whether an instance can be kept across a reload: the
 * plugin file's content, its path, the route (host and prefix), its name
 * and its keys (and
 * for the content handler the route's blocking). */
static uint64_t stage_signature(const cfg_route_t *r, const cfg_stage_t *s, const stage_keys_t *keys, int handler,
                                uint64_t file_hash)
{
    uint64_t h = file_hash ^ 0xcbf29ce484222325ULL;
    h = mix(h, s->path);
    h = mix(h, r->name);
    h = mix(h, handler ? (r->blocking ? "b" : "n") : "s");
    h = mix(h, s->name);
    for (size_t i = 0; i < keys->n; i++) {
        h = mix(h, keys->kv[i]->key);
        h = mix(h, keys->kv[i]->value);
    }
    return h;
}

/* Instance k of route gr: the content handler (k = 0), then the access
 * stages, then the filters; NULL past the last. */
static gen_instance_t *route_inst(const gen_route_t *gr, size_t k)
{
    if (k == 0)
        return gr->inst;
    if (--k < gr->naccess)
        return gr->access[k].inst;
    k -= gr->naccess;
    return k < gr->nfilters ? gr->filters[k].inst : NULL;
}

/* The plugin-list item instance k of gr stands for (see route_inst). */
static const cfg_stage_t *route_stage(const gen_route_t *gr, size_t k)
{
    if (k == 0)
        return gr->stage;
    if (--k < gr->naccess)
        return gr->access[k].cfg;
    k -= gr->naccess;
    return k < gr->nfilters ? gr->filters[k].cfg : NULL;
}

static void listener_unref(gen_listener_t *gl)
{
    if (--gl->refs > 0)
        return;
    listener_close(&gl->l);
    free(gl);
}

static void instance_unref(gen_instance_t *gi)
{
    if (--gi->refs > 0)
        return;
    if (gi->instance && gi->process_inited && gi->process_exit)
        gi->process_exit(gi->instance, process_index);
    if (gi->instance)
        gi->lib->desc->destroy(gi->instance);
    zone_release(&gi->zones); /* after destroy(), which may still use them */
    plugin_unref(gi->lib);
    free(gi);
}

static void route_release(gen_route_t *gr)
{
    if (gr->inst)
        instance_unref(gr->inst);
    for (size_t k = 0; k < gr->naccess; k++)
        instance_unref(gr->access[k].inst);
    for (size_t k = 0; k < gr->nfilters; k++)
        instance_unref(gr->filters[k].inst);
    free(gr->access);
    free(gr->filters);
    stats_route_free(gr->stats);
}

static void gen_destroy(gen_t *g)
{
    pthread_rwlock_wrlock(&all_lock);
    gen_t **p = &all;
    while (*p && *p != g)
        p = &(*p)->next_all;
    if (*p)
        *p = g->next_all;
    pthread_rwlock_unlock(&all_lock);
    for (size_t i = 0; i < g->nroutes; i++)
        route_release(&g->routes[i]);
    for (size_t i = 0; i < g->nlisteners; i++)
        if (g->listeners[i])
            listener_unref(g->listeners[i]);
    free(g->routes);
    free(g->members);
    free(g->files);
    free(g->listeners);
    router_free(g->router);
    tls_ctx_free(g->tls); /* open sessions keep what they use */
    cfg_free(g->cfg);
    free(g);
    alive--;
}

/* Whether path is among files[0..n). */
static int listed(const char *const *files, size_t n, const char *path)
{
    for (size_t j = 0; j < n; j++)
        if (files[j] && strcmp(files[j], path) == 0)
            return 1;
    return 0;
}

/* Fills g->files (introspection: generations_visit). */
static int list_files(gen_t *g)
{
    const cfg_t *cfg = g->cfg;
    size_t cap = 0;
    for (size_t i = 0; i < cfg->nroutes; i++)
        cap += cfg->routes[i].nstages;
    g->files = calloc(cap ? cap : 1, sizeof *g->files);
    if (g->files == NULL)
        return -1;
    for (size_t i = 0; i < cfg->nroutes; i++)
        for (size_t k = 0; k < cfg->routes[i].nstages; k++) {
            const char *path = cfg->routes[i].stages[k].path;
            if (path != NULL && !listed(g->files, g->nfiles, path)) /* NULL: not resolved */
                g->files[g->nfiles++] = path;
        }
    return 0;
}

static int build_listeners(gen_t *g, gen_t *prev, char *err, size_t errlen)
{
    cfg_t *cfg = g->cfg;
    g->listeners = calloc(cfg->nlistens, sizeof *g->listeners);
    if (g->listeners == NULL && cfg->nlistens) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->nlisteners = cfg->nlistens;
    for (size_t i = 0; i < cfg->nlistens; i++) {
        gen_listener_t *found = NULL;
        for (size_t j = 0; prev && j < prev->nlisteners; j++)
            if (strcmp(prev->listeners[j]->l.text, cfg->listens[i].text) == 0)
                found = prev->listeners[j];
        if (found) {
            found->refs++;
            g->listeners[i] = found;
            continue; /* its options change only once g is complete */
        }
        gen_listener_t *gl = calloc(1, sizeof *gl);
        char why[512];
        if (gl == NULL || listener_open(&cfg->listens[i], &gl->l, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%d: %s", cfg->path, cfg->listens[i].line, gl ? why : "out of memory");
            free(gl);
            return -1;
        }
        gl->refs = 1;
        g->listeners[i] = gl;
        listener_set_defer(&gl->l, cfg->defer_accept);
    }
    /* Two lines served by one socket passed by systemd ("80" and "[::]:80"
     * on a dual-stack socket, "localhost:80" and "127.0.0.1:80"): refused
     * as binding the address twice would be. */
    for (size_t i = 0; i < g->nlisteners; i++)
        for (size_t k = 0; k < i; k++)
            if (g->listeners[k]->l.fd == g->listeners[i]->l.fd) {
                snprintf(err, errlen, "%s:%d: listen %s: served by the same socket passed by systemd as "
                         "listen %s on line %d", cfg->path, cfg->listens[i].line, cfg->listens[i].text,
                         cfg->listens[k].text, cfg->listens[k].line);
                return -1;
            }
    return 0;
}

void gen_apply_listener_access(const gen_t *g)
{
    const cfg_t *cfg = g->cfg;
    for (size_t i = 0; i < g->nlisteners; i++) {
        char why[512];
        listener_set_defer(&g->listeners[i]->l, cfg->defer_accept);
        if (listener_access_differs(&g->listeners[i]->l, &cfg->listens[i]) &&
            listener_set_access(&g->listeners[i]->l, &cfg->listens[i], why, sizeof why) < 0)
            log_warn("%s:%d: %s; the socket keeps its old access until it is created again", cfg->path,
                     cfg->listens[i].line, why);
    }
}

/* A socket passed by systemd is never closed (listener.h): say what
 * becomes of one whose listen line this generation dropped. */
static void note_dropped_passed(const gen_t *g, const gen_t *prev)
{
    for (size_t i = 0; prev && i < prev->nlisteners; i++) {
        const listener_t *old = &prev->listeners[i]->l;
        size_t j = 0;
        while (j < g->nlisteners && g->listeners[j]->l.fd != old->fd)
            j++;
        if (old->passed && j == g->nlisteners)
            log_warn("listen %s removed: the socket passed by systemd for %s stays open, unused, until "
                     "the address is listed again; connections to it wait in its backlog",
                     old->text, old->name);
    }
}

/* An instance a reload would keep: its reload_check hook (asked once per
 * build however many routes find it) may want it created anew. */
static int asks_renewal(const gen_route_t *r, gen_instance_t *gi)
{
    if (gi->renew_round == build_round)
        return gi->renew;
    ph_hooks_t h;
    gen_hooks_of(gi->lib->desc, &h);
    gi->renew_round = build_round;
    gi->renew = h.reload_check && h.reload_check(gi->instance) != 0;
    if (gi->renew)
        log_info("reload: [route %s] plugin %s asked to be created anew (reload_check)", r->cfg->name,
                 gi->lib->desc->name);
    return gi->renew;
}

/* An instance of prev this generation can take over: same signature, and
 * at least as far along as this generation needs (a checked-only one of a
 * master cannot serve a single process's requests). */
static gen_instance_t *find_instance(gen_t *prev, uint64_t sig, gen_how_t how)
{
    for (size_t i = 0; prev && i < prev->nroutes; i++) {
        gen_instance_t *gi;
        for (size_t k = 0; (gi = route_inst(&prev->routes[i], k)) != NULL; k++)
            if (gi->signature == sig && (how != GEN_CREATE || gi->instance))
                return how == GEN_CREATE && asks_renewal(&prev->routes[i], gi) ? NULL : gi;
    }
    return NULL;
}

/* A library this generation already loaded from path (routes and stages
 * naming the same file share it), with a new reference; NULL if none. */
static plugin_lib_t *loaded_lib(const gen_t *g, const gen_route_t *building, const char *path)
{
    for (size_t i = 0; i <= g->nroutes; i++) {
        const gen_route_t *gr = i < g->nroutes ? &g->routes[i] : building;
        gen_instance_t *gi;
        for (size_t k = 0; gr && (gi = route_inst(gr, k)) != NULL; k++) {
            if (gi->born == g->id && strcmp(gi->lib->path, path) == 0) {
                plugin_ref(gi->lib);
                return gi->lib;
            }
        }
    }
    return NULL;
}

static int load_instance(gen_t *g, const gen_route_t *building, const cfg_route_t *r, const cfg_stage_t *s,
                         gen_instance_t **out, char *err, size_t errlen)
{
    cfg_t *cfg = g->cfg;
    char why[768];
    plugin_lib_t *lib = loaded_lib(g, building, s->path);
    if (lib == NULL && plugin_open(s->path, &lib, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s:%d: [route %s]: %s", cfg->path, r->plugin_line, r->name, why);
        return -1;
    }
    gen_instance_t *gi = calloc(1, sizeof *gi);
    if (gi == NULL) {
        plugin_unref(lib);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    gi->lib = lib;
    gi->refs = 1;
    gi->born = g->id;
    *out = gi;
    return 0;
}

/* Calls the plugin's create() for stage s of route r into gi->instance;
 * with PH_CREATE_CHECK in flags, destroys the instance at once. */
static int create_instance(const gen_t *g, const cfg_route_t *r, const cfg_stage_t *s, int handler,
                           gen_instance_t *gi, uint32_t flags, char *err, size_t errlen)
{
    const cfg_t *cfg = g->cfg;
    const ph_plugin_t *d = gi->lib->desc;
    stage_keys_t keys;
    ph_kv_t *kv = NULL;
    if (keys_of(r, s, handler, &keys) < 0 || (kv = calloc(keys.n + 1, sizeof *kv)) == NULL) {
        free(keys.kv);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < keys.n; i++)
        kv[i] = (ph_kv_t){keys.kv[i]->key, keys.kv[i]->value};
    ph_create_args_t args = {
        .size = sizeof args,
        .api = &request_api,
        .prefix = r->prefix,
        .config_dir = cfg->dir,
        .keys = kv,
        .nkeys = keys.n,
        .threads = cfg->threads,
        .flags = flags,
        .name = s->name,
        .processes = cfg->processes > 0 ? cfg->processes : 1,
    };
    ph_error_t perr = {.msg = "", .key = -1, .size = sizeof perr, .hint = ""};
    void *instance = NULL;
    zone_collect(&gi->zones);
    int rc = d->create(&args, &instance, &perr);
    zone_collect(NULL);
    free(kv);
    if (rc != PH_OK) {
        int line = r->plugin_line;
        if (perr.key >= 0 && (size_t)perr.key < keys.n)
            line = keys.kv[perr.key]->line;
        free(keys.kv);
        perr.msg[sizeof perr.msg - 1] = perr.hint[sizeof perr.hint - 1] = '\0';
        snprintf(err, errlen, "%s:%d: [route %s] plugin %s refused its configuration: %s%s%s", cfg->path, line,
                 r->name, d->name, perr.msg[0] ? perr.msg : "(no reason given)", perr.hint[0] ? " (" : "",
                 perr.hint[0] ? perr.hint : "");
        if (perr.hint[0])
            snprintf(err + strlen(err), errlen - strlen(err), ")");
        return -1;
    }
    free(keys.kv);
    if (flags & PH_CREATE_CHECK) {
        d->destroy(instance);
        gi->checked = 1;
    } else {
        gi->instance = instance;
    }
    return 0;
}

/* Takes instance gi (stage s of route r) to how, unless it is there. */
static int create_to(const gen_t *g, const cfg_route_t *r, const cfg_stage_t *s, int handler, gen_instance_t *gi,
                     gen_how_t how, char *err, size_t errlen)
{
    if (gi == NULL || gi->instance || (how == GEN_CHECK && gi->checked))
        return 0;
    uint32_t flags = how == GEN_CHECK ? PH_CREATE_CHECK : 0;
    if (g->cfg->processes > 0)
        flags |= PH_CREATE_WORKER;
    if (create_instance(g, r, s, handler, gi, flags, err, errlen) < 0)
        return -1;
    stat_created++;
    return 0;
}

/* A route's instances in the order listed, so that a plugin that refuses
 * its keys is the first one reported. */
static int create_route(const gen_t *g, const gen_route_t *gr, gen_how_t how, char *err, size_t errlen)
{
    const cfg_route_t *r = gr->cfg;
    size_t a = 0, f = 0;
    for (size_t i = 0; i < r->nstages; i++) {
        const cfg_stage_t *s = &r->stages[i];
        int rc;
        if (gr->stage == s)
            rc = create_to(g, r, s, 1, gr->inst, how, err, errlen);
        else if (a < gr->naccess && gr->access[a].cfg == s)
            rc = create_to(g, r, s, 0, gr->access[a++].inst, how, err, errlen);
        else if (f < gr->nfilters && gr->filters[f].cfg == s)
            rc = create_to(g, r, s, 0, gr->filters[f++].inst, how, err, errlen);
        else
            continue; /* a route build_routes stopped in the middle of */
        if (rc < 0)
            return -1;
    }
    return 0;
}

void gen_set_process_index(unsigned index) { process_index = index; }

static int member_index(const gen_t *g, const gen_instance_t *gi)
{
    for (size_t i = 0; i < g->nmembers; i++)
        if (g->members[i].inst == gi)
            return (int)i;
    return -1;
}

int gen_has_member(const gen_t *g, const gen_instance_t *gi) { return member_index(g, gi) >= 0; }

static void add_member(gen_t *g, gen_instance_t *gi, const ph_hooks_t *hooks, const gen_route_t *r)
{
    if (gi == NULL || member_index(g, gi) >= 0)
        return;
    g->members[g->nmembers++] = (gen_member_t){gi, *hooks, r->cfg->name, gi->lib->desc->name};
}

/* Lists g's distinct instances once its routes are complete. */
static int collect_members(gen_t *g)
{
    if (g->members)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < g->nroutes; i++)
        n += 1 + g->routes[i].naccess + g->routes[i].nfilters;
    g->members = calloc(n ? n : 1, sizeof *g->members);
    if (g->members == NULL)
        return -1;
    for (size_t i = 0; i < g->nroutes; i++) {
        const gen_route_t *r = &g->routes[i];
        add_member(g, r->inst, &r->hooks, r);
        for (size_t k = 0; k < r->naccess; k++)
            add_member(g, r->access[k].inst, &r->access[k].hooks, r);
        for (size_t k = 0; k < r->nfilters; k++)
            add_member(g, r->filters[k].inst, &r->filters[k].hooks, r);
    }
    return 0;
}

/* process_init for each created instance new to this process, in route
 * order. One that fails gets no process_exit; those before it do, when
 * the failed generation is discarded. */
int gen_init_process(gen_t *g, char *err, size_t errlen)
{
    for (size_t i = 0; i < g->nmembers; i++) {
        const gen_member_t *m = &g->members[i];
        gen_instance_t *gi = m->inst;
        if (gi->instance == NULL || gi->process_inited)
            continue;
        if (m->hooks.process_init && m->hooks.process_init(gi->instance, process_index) != PH_OK) {
            snprintf(err, errlen, "%s: [route %s] plugin %s: process_init failed", g->cfg->path, m->route,
                     m->name);
            return -1;
        }
        gi->process_inited = 1;
        gi->process_exit = m->hooks.process_exit;
    }
    return 0;
}

int gen_create(gen_t *g, gen_how_t how, char *err, size_t errlen)
{
    if (collect_members(g) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; how != GEN_LOAD && i < g->nroutes; i++)
        if (create_route(g, &g->routes[i], how, err, errlen) < 0)
            return -1;
    return 0;
}

void gen_hooks_of(const ph_plugin_t *d, ph_hooks_t *out) { plugin_hooks(d, out); }

/* The instance for stage s of route r: prev's when unchanged, else a new
 * one (its library loaded). *handler says which role it has, from its
 * descriptor: the content handler's keys include the route's bare keys,
 * so its signature does too. */
static int stage_instance(gen_t *g, gen_t *prev, const gen_route_t *building, const cfg_stage_t *s,
                          gen_how_t how, gen_instance_t **out, char *err, size_t errlen)
{
    const cfg_route_t *r = building->cfg;
    uint64_t hash = plugin_file_hash(s->path);
    uint64_t sig[2] = {0, 0};
    for (int handler = 0; handler < 2; handler++) {
        stage_keys_t keys;
        if (keys_of(r, s, handler, &keys) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        sig[handler] = stage_signature(r, s, &keys, handler, hash);
        free(keys.kv);
        gen_instance_t *gi = hash ? find_instance(prev, sig[handler], how) : NULL;
        /* the file's content (in the signature) fixes the role */
        if (gi && (gi->lib->desc->handle != NULL) == handler) {
            gi->refs++;
            stat_reused++;
            *out = gi;
            return 0;
        }
    }
    if (load_instance(g, building, r, s, out, err, errlen) < 0)
        return -1;
    (*out)->signature = sig[(*out)->lib->desc->handle != NULL];
    return 0;
}

/* Puts instance gi of stage s where its role says. Returns 0, or -1 with
 * err filled (gi is then the caller's). */
static int place_stage(const gen_t *g, gen_route_t *gr, const cfg_stage_t *s, gen_instance_t *gi, char *err,
                       size_t errlen)
{
    const cfg_t *cfg = g->cfg;
    const cfg_route_t *r = gr->cfg;
    const ph_plugin_t *d = gi->lib->desc;
    plugin_role_t role = plugin_role(d);
    if (role == PLUGIN_ROLE_AMBIGUOUS) {
        snprintf(err, errlen, "%s:%d: [route %s]: plugin %s has no handle() but both on_head and filter_body "
                 "hooks: neither an access stage nor an output filter, it cannot be placed", cfg->path,
                 r->plugin_line, r->name, s->name);
        return -1;
    }
    if (role == PLUGIN_ROLE_HANDLER) {
        if (gr->inst) {
            snprintf(err, errlen, "%s:%d: [route %s]: plugins %s and %s both have handle(); a route has exactly "
                     "one content handler", cfg->path, r->plugin_line, r->name, gr->stage->name, s->name);
            return -1;
        }
        /* refusals first: on failure gi goes back to the caller, and gr
         * must not keep it */
        int blocking = r->blocking || (d->flags & PH_PLUGIN_BLOCKING);
        int coroutine = r->coroutine || (d->flags & PH_PLUGIN_COROUTINE);
        if (coroutine && blocking) {
            snprintf(err, errlen, "%s:%d: [route %s]: plugin %s: a coroutine handler cannot be blocking (coroutine "
                     "and blocking exclude each other)", cfg->path, r->plugin_line, r->name, s->name);
            return -1;
        }
        if ((d->flags & PH_PLUGIN_UPGRADE) && !coroutine) {
            snprintf(err, errlen, "%s:%d: [route %s]: plugin %s takes Upgrade requests (PH_PLUGIN_UPGRADE) and needs "
                     "a coroutine (PH_PLUGIN_COROUTINE or coroutine = yes)", cfg->path, r->plugin_line, r->name,
                     s->name);
            return -1;
        }
        gr->inst = gi;
        gr->stage = s;
        gr->desc = d;
        gen_hooks_of(d, &gr->hooks);
        gr->blocking = blocking;
        gr->coroutine = coroutine;
        gr->coroutine_stack = r->coroutine_stack ? r->coroutine_stack : CORO_STACK_DEFAULT;
        return 0;
    }
    gen_stage_t *list = role == PLUGIN_ROLE_ACCESS ? gr->access : gr->filters;
    size_t *n = role == PLUGIN_ROLE_ACCESS ? &gr->naccess : &gr->nfilters;
    list[*n] = (gen_stage_t){.inst = gi, .cfg = s, .desc = d};
    gen_hooks_of(d, &list[*n].hooks);
    (*n)++;
    return 0;
}

/* Fills gr from route r: every stage's instance in its role, the
 * route's limits and counters. On failure what gr holds is released with
 * the generation. */
static int build_route(gen_t *g, gen_t *prev, gen_route_t *gr, const cfg_route_t *r, gen_how_t how, char *err,
                       size_t errlen)
{
    const cfg_t *cfg = g->cfg;
    gr->cfg = r;
    gr->max_body_bytes = r->max_body_line ? r->max_body_bytes : cfg->max_body_bytes;
    gr->body_spill = r->body_spill;
    gr->access = calloc(r->nstages, sizeof *gr->access);
    gr->filters = calloc(r->nstages, sizeof *gr->filters);
    gr->stats = stats_route_new(cfg->threads);
    if (gr->access == NULL || gr->filters == NULL || gr->stats == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < r->nstages; k++) {
        gen_instance_t *gi;
        if (stage_instance(g, prev, gr, &r->stages[k], how, &gi, err, errlen) < 0)
            return -1;
        if (place_stage(g, gr, &r->stages[k], gi, err, errlen) < 0) {
            instance_unref(gi);
            return -1;
        }
    }
    if (gr->inst == NULL) {
        snprintf(err, errlen, "%s:%d: [route %s]: no plugin of \"%s\" has handle(); a route needs exactly one "
                 "content handler", cfg->path, r->plugin_line, r->name, r->plugin);
        return -1;
    }
    return 0;
}

static int build_routes(gen_t *g, gen_t *prev, gen_how_t how, char *err, size_t errlen)
{
    cfg_t *cfg = g->cfg;
    g->router = router_new();
    g->routes = calloc(cfg->nroutes ? cfg->nroutes : 1, sizeof *g->routes);
    if (g->router == NULL || g->routes == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    router_set_unknown_host(g->router, cfg->unknown_host);
    g->nroutes = 0; /* counts the routes built so far (gen_create walks these) */
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const cfg_route_t *r = &cfg->routes[i];
        gen_route_t *gr = &g->routes[g->nroutes];
        int rc = build_route(g, prev, gr, r, how, err, errlen);
        g->nroutes++; /* even half built: gen_destroy releases what it holds */
        if (rc < 0)
            return -1;
        if (router_add_host(g->router, r->host, r->prefix, gr) < 0) {
            snprintf(err, errlen, "%s:%d: cannot add route %s", cfg->path, r->line, r->name);
            return -1;
        }
    }
    if (list_files(g) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return gen_create(g, how, err, errlen);
}

/* The instance of prev that new instance k of route gr replaces: same
 * route, same name in the plugin list, same plugin, and not kept by g;
 * NULL if none. */
static gen_instance_t *replaced(const gen_t *g, const gen_t *prev, const gen_route_t *gr, size_t k)
{
    const cfg_stage_t *s = route_stage(gr, k);
    const char *plugin = route_inst(gr, k)->lib->desc->name;
    for (size_t i = 0; s && i < prev->nroutes; i++) {
        const gen_route_t *pr = &prev->routes[i];
        if (strcmp(pr->cfg->name, gr->cfg->name) != 0)
            continue;
        gen_instance_t *old;
        for (size_t j = 0; (old = route_inst(pr, j)) != NULL; j++)
            if (old->instance && strcmp(route_stage(pr, j)->name, s->name) == 0 &&
                strcmp(old->lib->desc->name, plugin) == 0 && !gen_has_member(g, old))
                return old;
    }
    return NULL;
}

/* take_over for every instance g created that replaces one of prev. Runs
 * once the build can no longer fail: the old instances stay untouched by
 * a reload that does not happen. */
static void hand_over(const gen_t *g, const gen_t *prev)
{
    for (size_t i = 0; prev && i < g->nroutes; i++) {
        const gen_route_t *gr = &g->routes[i];
        gen_instance_t *gi;
        for (size_t k = 0; (gi = route_inst(gr, k)) != NULL; k++) {
            if (gi->born != g->id || gi->instance == NULL)
                continue;
            ph_hooks_t h;
            gen_hooks_of(gi->lib->desc, &h);
            gen_instance_t *old = h.take_over ? replaced(g, prev, gr, k) : NULL;
            if (old == NULL)
                continue;
            log_info("reload: [route %s] plugin %s takes over from the instance it replaces (version %s)",
                     gr->cfg->name, route_stage(gr, k)->name, old->lib->desc->version ? old->lib->desc->version : "?");
            h.take_over(gi->instance, old->instance, old->lib->desc);
        }
    }
}

static int build(cfg_t *cfg, gen_t *prev, unsigned long id, int bind, gen_how_t how, gen_t **out, char *err,
                 size_t errlen)
{
    gen_t *g = calloc(1, sizeof *g);
    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    alive++;
    build_round++;
    stat_reused = stat_created = 0;
    g->refs = 1;
    g->id = id;
    g->cfg = cfg;
    g->limits.max_header_bytes = cfg->max_header_bytes;
    g->limits.max_uri_bytes = cfg->max_uri_bytes;
    if (tls_ctx_build(cfg, &g->tls, err, errlen) < 0 || (bind && build_listeners(g, prev, err, errlen) < 0) || build_routes(g, prev, how, err, errlen) < 0 ||
        (how == GEN_CREATE && gen_init_process(g, err, errlen) < 0)) {
        g->cfg = NULL; /* still the caller's */
        gen_destroy(g);
        return -1;
    }
    if (bind) {
        gen_apply_listener_access(g);
        note_dropped_passed(g, prev);
    }
    if (how == GEN_CREATE)
        hand_over(g, prev);
    /* complete: from now on introspection sees it (gen_each) */
    pthread_rwlock_wrlock(&all_lock);
    g->next_all = all;
    all = g;
    pthread_rwlock_unlock(&all_lock);
    *out = g;
    return 0;
}

int gen_build(cfg_t *cfg, gen_t *prev, unsigned long id, gen_how_t how, gen_t **out, char *err, size_t errlen)
{
    return build(cfg, prev, id, 1, how, out, err, errlen);
}

int gen_build_dry(cfg_t *cfg, gen_t **out, char *err, size_t errlen)
{
    return build(cfg, NULL, 0, 0, GEN_CHECK, out, err, errlen);
}

void gen_forget_others(const gen_t *keep)
{
    pthread_mutex_lock(&dead_lock);
    dead = NULL; /* all of them are in the list below too */
    pthread_mutex_unlock(&dead_lock);
    gen_t *g = all;
    while (g) {
        gen_t *next = g->next_all;
        if (g != keep)
            gen_destroy(g);
        g = next;
    }
}

void gen_discard(gen_t *g) { gen_destroy(g); }

int gen_each(unsigned long first, int (*fn)(const gen_t *g, void *arg), void *arg)
{
    int rc = 0;
    pthread_rwlock_rdlock(&all_lock);
    for (const gen_t *g = all; g && rc == 0; g = g->next_all)
        if (g->id == first)
            rc = fn(g, arg);
    for (const gen_t *g = all; g && rc == 0; g = g->next_all)
        if (g->id != first)
            rc = fn(g, arg);
    pthread_rwlock_unlock(&all_lock);
    return rc;
}

void gen_ref(gen_t *g) { __atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED); }

void gen_unref(gen_t *g)
{
    if (__atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    pthread_mutex_lock(&dead_lock);
    g->next_dead = dead;
    dead = g;
    pthread_mutex_unlock(&dead_lock);
}

int gen_reap(void)
{
    pthread_mutex_lock(&dead_lock);
    gen_t *list = dead;
    dead = NULL;
    pthread_mutex_unlock(&dead_lock);
    int n = 0;
    while (list) {
        gen_t *next = list->next_dead;
        unsigned long id = list->id;
        gen_destroy(list);
        /* after: whoever reads the line finds it gone (server_info) */
        log_info("generation %lu released", id);
        list = next;
        n++;
    }
    plugin_unload_pending(); /* a barrier posted earlier may have passed */
    return n;
}
