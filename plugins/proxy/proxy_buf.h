/*
 * proxy_buf: a growable byte buffer for building request heads. The owner
 * frees it with proxy_buf_free(). Every append returns 0, or -1 when out of
 * memory (the buffer then keeps what it had).
 */
#ifndef PROXY_BUF_H
#define PROXY_BUF_H

#include <stddef.h>

typedef struct proxy_buf {
    char *data;
    size_t len;
    size_t cap;
} proxy_buf_t;

int proxy_buf_add(proxy_buf_t *b, const void *data, size_t len);
int proxy_buf_adds(proxy_buf_t *b, const char *s);
/* "Name: value\r\n" */
int proxy_buf_field(proxy_buf_t *b, const char *name, size_t nlen, const char *value, size_t vlen);
int proxy_buf_printf(proxy_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void proxy_buf_free(proxy_buf_t *b);

#endif
