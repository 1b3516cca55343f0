/*
 * Arena allocator with cleanup callbacks, tied to one lifetime (a request).
 *
 * Allocations are never freed one by one: pool_reset() runs the cleanups (in
 * reverse order of registration) and releases every block but the first, so
 * the pool can serve the next request without calling malloc again;
 * pool_free() releases everything. Not thread-safe: one owner at a time.
 */
#ifndef PH_POOL_H
#define PH_POOL_H

#include <stddef.h>

typedef struct pool pool_t;

/* A pool whose first block holds about first_size bytes. NULL on OOM. */
pool_t *pool_new(size_t first_size);
void pool_free(pool_t *p);
void pool_reset(pool_t *p);

/* 16-byte aligned memory, or NULL when out of memory. */
void *pool_alloc(pool_t *p, size_t size);
void *pool_calloc(pool_t *p, size_t size);
char *pool_strndup(pool_t *p, const char *s, size_t len);
/* Grows the most recent allocation in place when possible, else copies. */
void *pool_realloc(pool_t *p, void *old, size_t old_size, size_t new_size);

/* fn(arg) runs at pool_reset()/pool_free(). Returns 0, or -1 on OOM (then
 * fn is NOT registered: the caller releases arg itself). */
int pool_cleanup_add(pool_t *p, void (*fn)(void *), void *arg);

/* Runs the cleanups now (pool_reset() then has none left to run), for an
 * owner that must release what they hold before the memory goes. */
void pool_run_cleanups(pool_t *p);
/* Bytes held in blocks (for tests and memory accounting). */
size_t pool_capacity(const pool_t *p);

#endif
