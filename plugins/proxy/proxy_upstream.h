/*
 * proxy_upstream: the route's upstream servers, which one takes a request
 * (balance), and whether each is up (passive and active health).
 *
 * Threads: the set is built by create() and its addresses are read-only
 * afterwards; the counters (failures, down-until, in-flight) are shared by
 * every worker thread and change only through atomic operations, so no
 * lock is taken on the request path.
 */
#ifndef PROXY_UPSTREAM_H
#define PROXY_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

/* At most this many upstreams per route (a try set is one 64-bit mask). */
#define PROXY_UPSTREAMS_MAX 64

typedef enum { PROXY_ROUND_ROBIN, PROXY_LEAST_CONN, PROXY_HASH } proxy_balance_t;

typedef struct proxy_upstream {
    char *address;          /* as co_connect() takes it; owned */
    char *host;             /* Host for health checks ("127.0.0.1:9000",
                               "localhost" for unix:); owned */
    /* shared counters (atomic) */
    unsigned fails;         /* consecutive failures since the last success */
    int64_t down_until;     /* passive: monotonic ms before which it is down */
    int check_down;         /* active: the last health check failed */
    unsigned in_flight;     /* requests using it now (least-conn) */
} proxy_upstream_t;

typedef struct proxy_upstreams {
    proxy_upstream_t *list; /* owned, n entries */
    size_t n;
    proxy_balance_t balance;
    unsigned max_fails;     /* 0: failures never mark it down */
    int64_t fail_timeout_ms;
    unsigned rr;            /* round-robin cursor (atomic) */
} proxy_upstreams_t;

/* Checks the syntax of one address ("host:port", "[v6]:port",
 * "unix:/path"): 0, or -1 with why[0..cap) filled. */
int proxy_upstream_check(const char *address, char *why, size_t cap);
/* Appends address (copied). 0, or -1 (out of memory, or full). */
int proxy_upstreams_add(proxy_upstreams_t *u, const char *address);
void proxy_upstreams_free(proxy_upstreams_t *u);

/* Monotonic milliseconds. */
int64_t proxy_now_ms(void);

/* Picks an upstream that is up and not in the mask `tried` (bit i:
 * upstream i) for a client whose address is ip (hash). Returns its index,
 * or -1 when every untried one is down. Counts it in flight: the caller
 * calls proxy_upstream_release() when done with it. */
int proxy_upstream_pick(proxy_upstreams_t *u, uint64_t tried, const char *ip);
void proxy_upstream_release(proxy_upstreams_t *u, int i);

/* Passive health. A failure (connect, send, a response head that is bad,
 * late or missing) counts; max_fails in a row mark the upstream down for
 * fail_timeout. Return 1 when this call marked it down (the caller logs). */
int proxy_upstream_failed(proxy_upstreams_t *u, int i);
void proxy_upstream_succeeded(proxy_upstreams_t *u, int i);
/* Active health: the outcome of a check. Returns 1 when the state changed.
 * A check that brings an upstream back up also ends a passive mark; one
 * that finds it up again leaves a passive mark to run its course. */
int proxy_upstream_checked(proxy_upstreams_t *u, int i, int up);
int proxy_upstream_is_up(proxy_upstreams_t *u, int i, int64_t now);

#endif
