/*
 * Counters behind the introspection part of the plugin API (ABI 1.3,
 * 1.6): requests per route and status class, latency histograms and body
 * bytes per route, in-flight requests, connections, TLS handshakes,
 * reloads, the blocking pool, each worker loop's lag. Updated on the
 * request path without locks: every counter has one slot per thread (its
 * own cache lines), written by that thread only and summed when read, so worker threads never contend on a counter.
 * Threads past the slots a route has share one slot, updated with atomic
 * additions: still exact, only slower. Reads are a consistent-enough
 * snapshot: each counter is exact, the sums are not taken at one instant.
 */
#ifndef PH_STATS_H
#define PH_STATS_H

#include <stdint.h>

#include <plughttpd/plugin.h>

struct gen_route;

/* How a request ended, for stats_request_end. */
typedef struct stats_end {
    int status;         /* 0: ended without a response (client gone) */
    uint64_t bytes_out; /* response body bytes sent */
    uint64_t bytes_in;  /* request body bytes received */
    uint64_t us;        /* from the complete head to the end */
} stats_end_t;

/* A route's counters (gen_route_t.stats), with room for threads worker
 * threads of their own. NULL when out of memory. Main thread. */
void *stats_route_new(unsigned threads);
void stats_route_free(void *stats);

/* A request started / ended on route r (NULL: no route matched). Any
 * thread, lock-free; a request's end may come on another thread than its
 * start. */
void stats_request_begin(const struct gen_route *r);
void stats_request_end(const struct gen_route *r, const stats_end_t *e);
/* A connection was accepted / closed; a TLS handshake completed (ok = 1)
 * or failed (0). Worker threads. */
void stats_conn_open(void);
void stats_conn_close(void);
void stats_tls_handshake(int ok);
/* Worker loop number worker measured its lag probe us microseconds late.
 * That worker's thread only. */
void stats_loop_lag(unsigned worker, uint64_t us);
/* The counter the process's blocking pool keeps its queue depth in
 * (blocking_new), which server_info reports; a blocking job refused
 * because that queue was full; a blocking handler that overran
 * handler_timeout. Any thread. */
unsigned *stats_blocking_depth(void);
void stats_blocking_rejected(void);
void stats_blocking_timeout(void);

/* Main thread. Generation id now takes new requests: at start-up, or
 * when a reload publishes it (in the master, or the one process). Counts a
 * reload when it replaces another generation. */
void stats_generation_current(unsigned long id);
/* The same in a worker process, forked to serve id: counts nothing (its
 * master counts the reload). */
void stats_generation_adopt(unsigned long id);
/* Before worker processes fork: the reload counters go to memory they
 * share with the master. -1 (errno set) leaves them private. */
int stats_share_reloads(void);
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
/* api->worker_info and api->generations_visit (ABI 1.6). */
int stats_worker_info(unsigned i, ph_worker_info_t *out);
int stats_generations_visit(ph_generation_visit_fn fn, void *arg);

#endif
