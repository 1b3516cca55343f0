/*
 * Counters behind the introspection part of the plugin API (ABI 1.3):
 * requests per route and status class, in-flight requests, connections,
 * reloads. Updated on the request path without locks: every counter has
 * one slot per thread (its own cache lines), written by that thread only
 * and summed when read, so worker threads never contend on a counter.
 * Threads past the slots a route has share one slot, updated with atomic
 * additions: still exact, only slower. Reads are a consistent-enough
 * snapshot: each counter is exact, the sums are not taken at one instant.
 */
#ifndef PH_STATS_H
#define PH_STATS_H

#include <stdint.h>

#include <plughttpd/plugin.h>

struct gen_route;

/* A route's counters (gen_route_t.stats), with room for threads worker
 * threads of their own. NULL when out of memory. Main thread. */
void *stats_route_new(unsigned threads);
void stats_route_free(void *stats);

/* A request started / ended on route r (NULL: no route matched). status 0:
 * it ended without a response (client gone). Any thread, lock-free; a
 * request's end may come on another thread than its start. */
void stats_request_begin(const struct gen_route *r);
void stats_request_end(const struct gen_route *r, int status, uint64_t bytes_out);
/* A connection was accepted / closed. Worker threads. */
void stats_conn_open(void);
void stats_conn_close(void);

/* Main thread. Generation id now takes new requests in this process: at
 * start-up, when a reload publishes it, in a worker process forked for
 * it. Counts a reload when it replaces another generation. */
void stats_generation_current(unsigned long id);
/* A reload failed: the current generation keeps serving. */
void stats_reload_failed(void);
/* This process's worker threads, and its index among the worker
 * processes of its generation (0 with processes = 1), for server_info. */
void stats_threads(unsigned n);
void stats_process_index(unsigned i);

/* The sums of route r's counters into out's counter fields. */
void stats_route_read(const struct gen_route *r, ph_route_info_t *out);

/* api->server_info and api->routes_visit. */
int stats_server_info(ph_server_info_t *out);
int stats_routes_visit(ph_route_visit_fn fn, void *arg);

#endif
