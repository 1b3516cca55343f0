/*
 * One reading of the server's introspection calls (server_info,
 * routes_visit, worker_info, generations_visit), copied out of their
 * callbacks so the writers can walk it as often as their formats need.
 */
#ifndef STATUS_SNAP_H
#define STATUS_SNAP_H

#include <plughttpd/plugin.h>

typedef struct snap_route {
    ph_route_info_t info; /* prefix, plugins and file point into the copies */
    char gen_id[24];      /* the generation as text, for labels */
} snap_route_t;

typedef struct snap_gen {
    ph_generation_info_t info; /* files points at the copies */
    char gen_id[24];
} snap_gen_t;

typedef struct snap {
    ph_server_info_t server;
    snap_route_t *routes;
    size_t nroutes;
    ph_worker_info_t *workers; /* server.threads of them */
    snap_gen_t *gens;
    size_t ngens;
    int has_16;                /* the server has ABI 1.6's calls */
} snap_t;

/* Reads everything into s (zeroed by the caller). PH_OK, or PH_ERROR when
 * out of memory (s is then freed). Any thread. */
int snap_take(const ph_server_api_t *api, snap_t *s);
void snap_free(snap_t *s);

#endif
