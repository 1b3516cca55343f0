#include "proxy_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(proxy_buf_t *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 512;
    while (cap - b->len < more) {
        if (cap > ((size_t)-1) / 2)
            return -1;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int proxy_buf_add(proxy_buf_t *b, const void *data, size_t len)
{
    if (reserve(b, len) < 0)
        return -1;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int proxy_buf_adds(proxy_buf_t *b, const char *s) { return proxy_buf_add(b, s, strlen(s)); }

int proxy_buf_field(proxy_buf_t *b, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (reserve(b, nlen + vlen + 4) < 0)
        return -1;
    proxy_buf_add(b, name, nlen);
    proxy_buf_add(b, ": ", 2);
    proxy_buf_add(b, value, vlen);
    proxy_buf_add(b, "\r\n", 2);
    return 0;
}

int proxy_buf_printf(proxy_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n + 1) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void proxy_buf_free(proxy_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
