#include "gen.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "request.h"

static pthread_mutex_t dead_lock = PTHREAD_MUTEX_INITIALIZER;
static gen_t *dead;
static unsigned alive;
static gen_t *all; /* every generation built and not destroyed (main thread) */
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

static uint64_t route_signature(const cfg_route_t *r, uint64_t file_hash)
{
    uint64_t h = file_hash ^ 0xcbf29ce484222325ULL;
    h = mix(h, r->plugin_path);
    h = mix(h, r->prefix);
    h = mix(h, r->blocking ? "b" : "n");
    for (size_t i = 0; i < r->nkeys; i++) {
        h = mix(h, r->keys[i].key);
        h = mix(h, r->keys[i].value);
    }
    return h;
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
    plugin_unref(gi->lib);
    free(gi);
}

static void gen_destroy(gen_t *g)
{
    for (size_t i = 0; i < g->nroutes; i++)
        if (g->routes[i].inst)
            instance_unref(g->routes[i].inst);
    for (size_t i = 0; i < g->nlisteners; i++)
        if (g->listeners[i])
            listener_unref(g->listeners[i]);
    free(g->routes);
    free(g->members);
    free(g->listeners);
    router_free(g->router);
    cfg_free(g->cfg);
    gen_t **p = &all;
    while (*p && *p != g)
        p = &(*p)->next_all;
    if (*p)
        *p = g->next_all;
    free(g);
    alive--;
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
        log_info("reload: [route %s] plugin %s asked to be created anew (reload_check)", r->cfg->prefix,
                 gi->lib->desc->name);
    return gi->renew;
}

/* An instance of prev this generation can take over: same signature, and
 * at least as far along as this generation needs (a checked-only one of a
 * master cannot serve a single process's requests). */
static gen_instance_t *find_instance(gen_t *prev, uint64_t sig, gen_how_t how)
{
    for (size_t i = 0; prev && i < prev->nroutes; i++) {
        gen_instance_t *gi = prev->routes[i].inst;
        if (gi->signature == sig && (how != GEN_CREATE || gi->instance))
            return how == GEN_CREATE && asks_renewal(&prev->routes[i], gi) ? NULL : gi;
    }
    return NULL;
}

static int load_instance(gen_t *g, const cfg_route_t *r, uint64_t sig, gen_instance_t **out, char *err,
                         size_t errlen)
{
    cfg_t *cfg = g->cfg;
    plugin_lib_t *lib = NULL;
    char why[768];
    /* Routes of one generation naming the same file share its library. */
    for (size_t i = 0; i < g->nroutes; i++) {
        gen_instance_t *gi = g->routes[i].inst;
        if (gi && gi->born == g->id && strcmp(gi->lib->path, r->plugin_path) == 0) {
            lib = gi->lib;
            plugin_ref(lib);
            break;
        }
    }
    if (lib == NULL && plugin_open(r->plugin_path, &lib, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s:%d: [route %s]: %s", cfg->path, r->plugin_line, r->prefix, why);
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
    gi->signature = sig;
    *out = gi;
    return 0;
}

/* Calls the plugin's create() for route r into gi->instance; with
 * PH_CREATE_CHECK in flags, destroys the instance at once. */
static int create_instance(const gen_t *g, const cfg_route_t *r, gen_instance_t *gi, uint32_t flags, char *err,
                           size_t errlen)
{
    const cfg_t *cfg = g->cfg;
    const ph_plugin_t *d = gi->lib->desc;
    ph_kv_t *kv = calloc(r->nkeys + 1, sizeof *kv);
    if (kv == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < r->nkeys; i++)
        kv[i] = (ph_kv_t){r->keys[i].key, r->keys[i].value};
    ph_create_args_t args = {
        .size = sizeof args,
        .api = &request_api,
        .prefix = r->prefix,
        .config_dir = cfg->dir,
        .keys = kv,
        .nkeys = r->nkeys,
        .threads = cfg->threads,
        .flags = flags,
    };
    ph_error_t perr = {.msg = "", .key = -1};
    void *instance = NULL;
    int rc = d->create(&args, &instance, &perr);
    free(kv);
    if (rc != PH_OK) {
        int line = r->plugin_line;
        if (perr.key >= 0 && (size_t)perr.key < r->nkeys)
            line = r->keys[perr.key].line;
        snprintf(err, errlen, "%s:%d: [route %s] plugin %s refused its configuration: %s", cfg->path, line,
                 r->prefix, d->name, perr.msg[0] ? perr.msg : "(no reason given)");
        return -1;
    }
    if (flags & PH_CREATE_CHECK) {
        d->destroy(instance);
        gi->checked = 1;
    } else {
        gi->instance = instance;
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
    g->members[g->nmembers++] = (gen_member_t){gi, *hooks, r->cfg->prefix, gi->lib->desc->name};
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
            snprintf(err, errlen, "%s: [route %s] plugin %s: process_init failed", g->cfg->path, m->prefix,
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
    for (size_t i = 0; how != GEN_LOAD && i < g->nroutes; i++) {
        gen_instance_t *gi = g->routes[i].inst; /* build_routes sets one for every route it adds */
        if (gi == NULL || gi->instance || (how == GEN_CHECK && gi->checked))
            continue;
        uint32_t flags = how == GEN_CHECK ? PH_CREATE_CHECK : 0;
        if (create_instance(g, g->routes[i].cfg, gi, flags, err, errlen) < 0)
            return -1;
        stat_created++;
    }
    return 0;
}

void gen_hooks_of(const ph_plugin_t *d, ph_hooks_t *out)
{
    memset(out, 0, sizeof *out);
    if (d->size < offsetof(ph_plugin_t, hooks) + sizeof d->hooks || d->hooks == NULL)
        return;
    size_t n = d->hooks->size < sizeof *out ? d->hooks->size : sizeof *out;
    memcpy(out, d->hooks, n);
    out->size = (uint32_t)n;
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
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const cfg_route_t *r = &cfg->routes[i];
        uint64_t h = plugin_file_hash(r->plugin_path);
        uint64_t sig = route_signature(r, h);
        gen_instance_t *gi = h ? find_instance(prev, sig, how) : NULL;
        if (gi) {
            gi->refs++;
            stat_reused++;
        } else if (load_instance(g, r, sig, &gi, err, errlen) < 0) {
            return -1;
        }
        gen_route_t *gr = &g->routes[g->nroutes++];
        gr->cfg = r;
        gr->inst = gi;
        gr->desc = gi->lib->desc;
        gr->blocking = r->blocking || (gr->desc->flags & PH_PLUGIN_BLOCKING);
        gen_hooks_of(gr->desc, &gr->hooks);
        gr->max_body_bytes = cfg->max_body_bytes;
        if (router_add(g->router, r->prefix, gr) < 0) {
            snprintf(err, errlen, "%s:%d: cannot add route %s", cfg->path, r->line, r->prefix);
            return -1;
        }
    }
    return gen_create(g, how, err, errlen);
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
    g->next_all = all;
    all = g;
    stat_reused = stat_created = 0;
    g->refs = 1;
    g->id = id;
    g->cfg = cfg;
    g->limits.max_header_bytes = cfg->max_header_bytes;
    g->limits.max_uri_bytes = cfg->max_uri_bytes;
    if ((bind && build_listeners(g, prev, err, errlen) < 0) || build_routes(g, prev, how, err, errlen) < 0 ||
        (how == GEN_CREATE && gen_init_process(g, err, errlen) < 0)) {
        g->cfg = NULL; /* still the caller's */
        gen_destroy(g);
        return -1;
    }
    if (bind) {
        gen_apply_listener_access(g);
        note_dropped_passed(g, prev);
    }
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
        log_info("generation %lu released", list->id);
        gen_destroy(list);
        list = next;
        n++;
    }
    return n;
}
