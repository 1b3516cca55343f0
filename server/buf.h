/* A growable byte buffer with a read offset: the connection's output queue. */
#ifndef PH_BUF_H
#define PH_BUF_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *p;
    size_t len;  /* bytes held */
    size_t off;  /* bytes already consumed (sent) */
    size_t cap;
} buf_t;

/* Room for more bytes after len; returns 0 or -1 on OOM. Compacts first. */
static inline int buf_reserve(buf_t *b, size_t more)
{
    if (b->off == b->len)
        b->off = b->len = 0;
    if (b->len + more <= b->cap)
        return 0;
    if (b->off > 0) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->len + more <= b->cap)
            return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int buf_append(buf_t *b, const void *data, size_t n)
{
    if (n == 0) /* an empty buffer has no memory yet: NULL + 0 is undefined */
        return 0;
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static inline size_t buf_pending(const buf_t *b) { return b->len - b->off; }

static inline void buf_release(buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->off = b->cap = 0;
}

#endif
