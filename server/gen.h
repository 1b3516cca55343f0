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
 * not change (same listen text; same plugin file content, keys and prefix),
 * so a reload keeps sockets open and keeps instances' caches and database
 * connections.
 */
#ifndef PH_GEN_H
#define PH_GEN_H

#include <stddef.h>

#include "config.h"
#include "http_parse.h"
#include "listener.h"
#include "plugin.h"
#include "router.h"

typedef struct gen_listener {
    listener_t l;
    unsigned refs; /* generations holding it (main thread only) */
} gen_listener_t;

typedef struct gen_instance {
    plugin_lib_t *lib;
    void *instance;
    unsigned refs; /* generations holding it (main thread only) */
    unsigned long born; /* generation that created it */
    uint64_t signature; /* hash of file content + prefix + keys */
} gen_instance_t;

typedef struct gen_route {
    const cfg_route_t *cfg;
    gen_instance_t *inst;
    const ph_plugin_t *desc;
    int blocking;
} gen_route_t;

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
    int dry;   /* built for "-t": plugins are told (PH_CREATE_CHECK) */
    struct gen *next_dead;
} gen_t;

/* Builds generation id from cfg (taking ownership of cfg on success), reusing
 * what prev (may be NULL) has unchanged. Main thread only. Returns 0 and
 * *out with one reference, or -1 with err filled; on failure cfg is still
 * the caller's and nothing has changed. */
int gen_build(cfg_t *cfg, gen_t *prev, unsigned long id, gen_t **out, char *err, size_t errlen);

/* Like gen_build, but binds no socket: for "-t", which must work beside a
 * running server on the same ports; and plugins' create() is told it is a
 * check (PH_CREATE_CHECK), so they leave nothing behind. */
int gen_build_dry(cfg_t *cfg, gen_t **out, char *err, size_t errlen);

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

/* Route instances reused / created by the last gen_build (for the log). */
void gen_build_stats(unsigned *reused, unsigned *created);

#endif
