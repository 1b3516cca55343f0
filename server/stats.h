/*
 * Counters behind the introspection part of the plugin API (ABI 1.3):
 * requests per route and status class, in-flight requests, connections,
 * reloads. Updated on the request path without locks.
 */
#ifndef PH_STATS_H
#define PH_STATS_H

#include <stdint.h>

#include <plughttpd/plugin.h>

struct gen_route;

/* A request started / ended on route r (NULL: no route matched). status 0:
 * it ended without a response (client gone). Worker threads. */
void stats_request_begin(const struct gen_route *r);
void stats_request_end(const struct gen_route *r, int status, uint64_t bytes_out);
/* A connection was accepted / closed. Worker threads. */
void stats_conn_open(void);
void stats_conn_close(void);

/* api->server_info and api->routes_visit. */
int stats_server_info(ph_server_info_t *out);
int stats_routes_visit(ph_route_visit_fn fn, void *arg);

#endif
