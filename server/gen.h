/*
 * A configuration generation: one server.ini with its listeners, loaded
 * plugins, route instances and route table, immutable once published.
 *
 * Every request holds a reference to the generation it started on, so a
 * reload (a new generation) never pulls a plugin out from under a running
 * request. Building is all or nothing: gen_build() either returns a complete
 * generation or undoes everything it did. The last reference hands the
 * generation to the main thread (gen_reap()), which destroys the instances
 * and closes the libraries: plugin destroy() always runs on the main thread.
 *
 * Listeners and route instances are shared between generations when they did
 * not change (same listen text; same plugin file content, keys, host and
 * prefix), so a reload keeps sockets open and keeps instances' caches and
 * database connections.
 *
 * With worker processes the master's generations only validate their routes
 * (GEN_CHECK): each worker process, once forked, forgets the others
 * (gen_forget_others) and creates the instances it serves (gen_create).
 */
#ifndef PH_GEN_H
#define PH_GEN_H

#include <stddef.h>

#include "config.h"
#include "http_parse.h"
#include "listener.h"
#include "plugin.h"
#include "router.h"
#include "zone.h"

typedef struct gen_listener {
    listener_t l;
    unsigned refs; /* generations holding it (main thread only) */
} gen_listener_t;

typedef struct gen_instance {
    plugin_lib_t *lib;
    void *instance;     /* NULL until created (see gen_how_t) */
    int checked;        /* create() with PH_CREATE_CHECK accepted the keys */
    unsigned refs; /* generations holding it (main thread only) */
    unsigned long born; /* generation that created it */
    uint64_t signature; /* hash of file content + host and prefix + keys */
    /* process_init succeeded in this process: process_exit is owed before
     * destroy() (main thread only) */
    void (*process_exit)(void *instance, unsigned index);
    int process_inited;
    unsigned long renew_round; /* reload_check asked in this build round */
    int renew;                 /* and its answer */
    zone_holding_t zones;      /* the zones its create() asked for: released
                                  with it (zone.h) */
} gen_instance_t;

/* One plugin of a route's stack: an access stage or an output filter. */
typedef struct gen_stage {
    gen_instance_t *inst;
    const cfg_stage_t *cfg;    /* its item of the route's plugin list */
    const ph_plugin_t *desc;
    ph_hooks_t hooks;   /* the plugin's, zero past what it has (or all
                           zero: a plugin before ABI 1.3 has none) */
} gen_stage_t;

typedef struct gen_route {
    const cfg_route_t *cfg;
    gen_instance_t *inst;      /* the content handler */
    const cfg_stage_t *stage;  /* its item of the route's plugin list */
    const ph_plugin_t *desc;
    ph_hooks_t hooks;          /* the content handler's, as in gen_stage */
    int blocking;
    int coroutine;             /* handle() runs on a coroutine (api_co.c) */
    size_t coroutine_stack;    /* its stack size */
    gen_stage_t *access;       /* on_head stages, in the order listed */
    size_t naccess;
    gen_stage_t *filters;      /* output filters, in the order listed */
    size_t nfilters;
    uint64_t max_body_bytes;   /* the route's limit (else the server's) */
    uint64_t body_spill;       /* buffered bodies above this go to a
                                  temporary file; 0: always in memory */
    void *stats;               /* the route's counters (stats.c) */
} gen_route_t;

/* Copies the plugin's hooks into out, zero past the size it was built
 * with: code reads every hook through this copy. */
void gen_hooks_of(const ph_plugin_t *d, ph_hooks_t *out);

typedef struct gen {
    long refs; /* atomic */
    unsigned long id;
    cfg_t *cfg;
    router_t *router;
    gen_route_t *routes;
    size_t nroutes;
    gen_listener_t **listeners;
    size_t nlisteners;
    hp_limits_t limits;
    struct tls_ctx *tls; /* the TLS listeners' certificates; NULL: none */
    struct gen *next_dead;
    struct gen *next_all; /* every generation not yet destroyed */
    struct gen_member *members; /* every distinct created-or-not instance */
    size_t nmembers;
    const char **files;  /* the plugin files its routes name, each once, in
                            route order (strings are cfg's) */
    size_t nfiles;
} gen_t;

/* One instance of a generation, listed once however many routes (content
 * handler or stage) share it, with its hooks and the first route using it
 * (for messages). Filled by gen_create; immutable afterwards, so worker
 * threads read it freely. */
typedef struct gen_member {
    gen_instance_t *inst;
    ph_hooks_t hooks;
    const char *route; /* the route's name ("/api", "example.com/api") */
    const char *name;  /* the plugin's descriptor name */
} gen_member_t;

/* Whether g uses the instance gi (route or stage). */
int gen_has_member(const gen_t *g, const gen_instance_t *gi);

/* This process's index among the worker processes (0..processes-1; 0 with
 * one process), passed to process_init and process_exit. Set by a worker
 * process before it creates its instances. */
void gen_set_process_index(unsigned index);

/* How far gen_build() and gen_create() take each route's instance. */
typedef enum gen_how {
    GEN_LOAD,   /* load and check the plugin library only */
    GEN_CHECK,  /* and call create() with PH_CREATE_CHECK, destroy() at
                   once: the master of worker processes, which serves
                   nothing itself, validates a configuration this way */
    GEN_CREATE, /* and create the instance that serves requests */
} gen_how_t;

/* Builds generation id from cfg (taking ownership of cfg on success), reusing
 * what prev (may be NULL) has unchanged: listeners, and route instances that
 * are at least as far along as how asks. Main thread only. Returns 0 and
 * *out with one reference, or -1 with err filled ("file:line: ..."); on
 * failure cfg is still the caller's and nothing has changed. */
int gen_build(cfg_t *cfg, gen_t *prev, unsigned long id, gen_how_t how, gen_t **out, char *err, size_t errlen);

/* Takes every route instance of g to how (GEN_CHECK or GEN_CREATE): the
 * start-up builds with GEN_LOAD as root, drops privileges, then creates, so
 * plugins always run as the server's user. Returns 0, or -1 with err
 * filled; g is then fit only for being discarded. Main thread only.
 *
 * A reload building with GEN_CREATE (gen_build) asks each instance it would
 * keep its reload_check hook (once per build): nonzero has it created
 * anew; and it ends with gen_init_process. */
int gen_create(gen_t *g, gen_how_t how, char *err, size_t errlen);

/* What only a serving process does, once g's instances are created (and,
 * at start-up, once its worker loops exist, so that process_init finds
 * them): process_init for each created instance new to this process, in
 * route order. A failure fails the whole step, and the start or reload
 * with it: that instance gets no process_exit, those before it get theirs
 * when g is discarded. process_exit always runs before destroy(). Returns
 * 0, or -1 with err filled. Main thread only. */
int gen_init_process(gen_t *g, char *err, size_t errlen);

/* In a process just forked: destroys every generation but keep without
 * calling any plugin (only libraries, listening sockets and memory are
 * released), so the child holds nothing of the generations it never serves.
 * The parent must hold no created instance (GEN_CHECK at most). */
void gen_forget_others(const gen_t *keep);

/* Like gen_build, but binds no socket: for "-t", which must work beside a
 * running server on the same ports; and plugins' create() is told it is a
 * check (PH_CREATE_CHECK), so they leave nothing behind. */
int gen_build_dry(cfg_t *cfg, gen_t **out, char *err, size_t errlen);

/* Gives g's listeners the defer_accept setting and g's unix sockets the
 * mode, owner and group its configuration names where they differ (logged
 * when that fails: the socket keeps its old access). A kept socket (its
 * clients with it) gets a reload's settings only once the generation is
 * complete, so a reload refused by its configuration leaves it as it was;
 * a reload that fails later (its worker processes) calls this again on the
 * generation that keeps serving. */
void gen_apply_listener_access(const gen_t *g);

/* Destroys a generation nobody else references (start-up failures, -t). */
void gen_discard(gen_t *g);

/* Thread-safe reference counting. */
void gen_ref(gen_t *g);
void gen_unref(gen_t *g);

/* Main thread: destroys generations whose last reference is gone. Returns
 * how many were destroyed. */
int gen_reap(void);
/* Main thread: number of generations built but not yet destroyed. */
unsigned gen_alive(void);

/* Any thread: fn(g, arg) for every complete generation not yet destroyed:
 * the one whose id is first (when alive) first, then the others newest
 * first; stops when fn returns nonzero and returns that value. The
 * generations cannot be destroyed during the walk (a read lock the main
 * thread's gen_reap waits for), so fn must be quick and must not block;
 * it may walk again (the lock prefers readers). */
int gen_each(unsigned long first, int (*fn)(const gen_t *g, void *arg), void *arg);

/* Route instances reused / created (or checked) by the last gen_build and
 * gen_create (for the log). */
void gen_build_stats(unsigned *reused, unsigned *created);

#endif
