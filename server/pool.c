#include "pool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16
#define BIG_BLOCK 16384 /* later blocks; larger requests get their own */

typedef struct block {
    struct block *next;
    size_t size, used;
    /* Data follows the header; the header is ALIGN-sized. */
    _Alignas(ALIGN) unsigned char data[];
} block_t;

typedef struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *arg;
} cleanup_t;

struct pool {
    block_t *head;  /* current block, most recent first */
    block_t *first; /* kept across resets */
    cleanup_t *cleanups;
    void *last;     /* most recent allocation, for pool_realloc */
    size_t last_size;
};

static block_t *block_new(size_t size)
{
    block_t *b = malloc(sizeof *b + size);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

pool_t *pool_new(size_t first_size)
{
    pool_t *p = malloc(sizeof *p);
    if (p == NULL)
        return NULL;
    p->first = block_new(first_size < 256 ? 256 : first_size);
    if (p->first == NULL) {
        free(p);
        return NULL;
    }
    p->head = p->first;
    p->cleanups = NULL;
    p->last = NULL;
    p->last_size = 0;
    return p;
}

void pool_run_cleanups(pool_t *p)
{
    while (p->cleanups) {
        cleanup_t *c = p->cleanups;
        p->cleanups = c->next;
        c->fn(c->arg);
    }
}

void pool_reset(pool_t *p)
{
    pool_run_cleanups(p);
    block_t *b = p->head;
    while (b != p->first) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
    p->head = p->first;
    p->first->used = 0;
    p->last = NULL;
}

void pool_free(pool_t *p)
{
    if (p == NULL)
        return;
    pool_reset(p);
    free(p->first);
    free(p);
}

void *pool_alloc(pool_t *p, size_t size)
{
    size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < size || need > SIZE_MAX - sizeof(block_t))
        return NULL;
    block_t *b = p->head;
    if (b->size - b->used < need) {
        size_t bsize = need > BIG_BLOCK / 2 ? need : BIG_BLOCK;
        b = block_new(bsize);
        if (b == NULL)
            return NULL;
        b->next = p->head;
        p->head = b;
    }
    void *ptr = b->data + b->used;
    b->used += need;
    p->last = ptr;
    p->last_size = need;
    return ptr;
}

void *pool_calloc(pool_t *p, size_t size)
{
    void *ptr = pool_alloc(p, size);
    if (ptr)
        memset(ptr, 0, size);
    return ptr;
}

char *pool_strndup(pool_t *p, const char *s, size_t len)
{
    char *d = pool_alloc(p, len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

void *pool_realloc(pool_t *p, void *old, size_t old_size, size_t new_size)
{
    if (old && old == p->last) {
        block_t *b = p->head;
        size_t need = (new_size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
        size_t start = (size_t)((unsigned char *)old - b->data);
        if (need >= new_size && need <= b->size - start) {
            b->used = start + need;
            p->last_size = need;
            return old;
        }
    }
    void *n = pool_alloc(p, new_size);
    if (n && old)
        memcpy(n, old, old_size < new_size ? old_size : new_size);
    return n;
}

int pool_cleanup_add(pool_t *p, void (*fn)(void *), void *arg)
{
    cleanup_t *c = pool_alloc(p, sizeof *c);
    if (c == NULL)
        return -1;
    c->fn = fn;
    c->arg = arg;
    c->next = p->cleanups;
    p->cleanups = c;
    p->last = NULL; /* the cleanup record sits after the last allocation */
    return 0;
}

size_t pool_capacity(const pool_t *p)
{
    size_t n = 0;
    for (const block_t *b = p->head; b; b = b->next)
        n += b->size;
    return n;
}
