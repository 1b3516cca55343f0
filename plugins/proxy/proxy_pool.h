/*
 * proxy_pool: each worker thread's idle upstream connections (keepalive =
 * N per upstream), and the thread's health-check coroutine handle.
 *
 * Threads: a proxy_thread_t belongs to one worker thread. thread_init()
 * opens it, thread_exit() closes it (idle connections closed, no more
 * pooling; requests still running there after a reload close theirs);
 * destroy() frees it. Nothing here is touched from another thread, so no
 * lock is taken.
 */
#ifndef PROXY_POOL_H
#define PROXY_POOL_H

#include "proxy.h"

typedef struct proxy_idle {
    ph_sock_t *sock;
    int64_t since; /* proxy_now_ms() when it went idle */
} proxy_idle_t;

struct proxy_thread {
    proxy_t *p;
    unsigned index;    /* the loop's index (api->loop_at) */
    ph_loop_t *loop;   /* NULL until thread_init() */
    int open;          /* between thread_init() and thread_exit() */
    proxy_idle_t *idle;/* conf.ups.n * conf.keepalive slots */
    unsigned *nidle;   /* per upstream: slots in use (a stack) */
    void *health;      /* co_spawn() handle while the check runs */
};

/* The calling thread's slot, or NULL (not a worker, or not opened). */
proxy_thread_t *proxy_thread_current(proxy_t *p);
/* The slot of the calling thread, found by its loop. NULL when the loop is
 * not one of the process's. */
proxy_thread_t *proxy_thread_find(proxy_t *p);

int proxy_pool_open(proxy_thread_t *t);
void proxy_pool_close(proxy_thread_t *t);
void proxy_pool_free(proxy_thread_t *t);

/* An idle connection to upstream i that still looks usable (nothing
 * buffered, not closed by the upstream, not idle past keepalive_timeout),
 * or NULL. The caller owns it. */
ph_sock_t *proxy_pool_get(proxy_thread_t *t, int i);
/* Gives s back to t's pool (or closes it: no pool, pool closed, or
 * something buffered; a full pool closes its oldest). s must have nothing
 * buffered and a complete exchange behind it. */
void proxy_pool_put(proxy_t *p, proxy_thread_t *t, int i, ph_sock_t *s);

#endif
