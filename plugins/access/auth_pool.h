/*
 * auth_pool: a few threads of the auth_basic instance that run password
 * hash checks off the event loop. bcrypt and yescrypt cost milliseconds by
 * design; run on a loop thread they would stall every connection of that
 * thread, and a client sending wrong passwords could stall them at will.
 * The server's blocking pool is reachable only from coroutines, and an
 * access stage's on_head is not one, hence a pool of the plugin's own.
 */
#ifndef AUTH_POOL_H
#define AUTH_POOL_H

#include <stddef.h>

typedef struct auth_pool auth_pool_t;
typedef void (*auth_pool_fn)(void *arg);

/* threads >= 1 threads, at most max_queued jobs waiting. NULL when a
 * thread could not start or out of memory. */
auth_pool_t *auth_pool_new(unsigned threads, size_t max_queued);

/* Queues fn(arg) for a pool thread: 0, or -1 when max_queued jobs already
 * wait (the caller answers 503) or out of memory; fn then does not run.
 * Thread-safe. */
int auth_pool_submit(auth_pool_t *p, auth_pool_fn fn, void *arg);

/* Runs the jobs still queued, stops and joins the threads, frees p. */
void auth_pool_free(auth_pool_t *p);

#endif
