#include "sbuf.h"

#include <stdio.h>
#include <string.h>

void sbuf_init(sbuf_t *b, char *p, size_t size, size_t reserve)
{
    if (reserve > size)
        reserve = size;
    b->p = p;
    b->cap = size - reserve;
    b->reserve = reserve;
    b->len = 0;
    b->cut = 0;
}

static size_t room(const sbuf_t *b) { return b->cap - b->len; }

void sbuf_put(sbuf_t *b, const void *s, size_t n)
{
    if (n > room(b)) {
        n = room(b);
        b->cut = 1;
    }
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

void sbuf_puts(sbuf_t *b, const char *s) { sbuf_put(b, s, strlen(s)); }

void sbuf_putc(sbuf_t *b, char ch) { sbuf_put(b, &ch, 1); }

void sbuf_vprintf(sbuf_t *b, const char *fmt, va_list ap)
{
    /* vsnprintf ends what it writes with a NUL inside the size it is given,
     * so a cut result holds one byte less than the room: harmless. */
    size_t r = room(b);
    if (r == 0) {
        b->cut = 1;
        return;
    }
    int n = vsnprintf(b->p + b->len, r, fmt, ap);
    if (n < 0) {
        b->cut = 1;
        return;
    }
    if ((size_t)n >= r) {
        b->len += r - 1;
        b->cut = 1;
        return;
    }
    b->len += (size_t)n;
}

void sbuf_printf(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void sbuf_put_escaped(sbuf_t *b, const char *s, size_t n, size_t max)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t limit = room(b) < max ? room(b) : max;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int esc = ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\';
        size_t w = esc ? 4 : 1;
        if (o + w > limit) {
            b->cut = 1;
            break;
        }
        if (esc) {
            char e[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
            memcpy(b->p + b->len + o, e, 4);
        } else {
            b->p[b->len + o] = (char)ch;
        }
        o += w;
    }
    b->len += o;
}

size_t sbuf_finish(sbuf_t *b, const char *tail, size_t n)
{
    if (n > b->reserve) {
        n = b->reserve;
        b->cut = 1;
    }
    memcpy(b->p + b->len, tail, n);
    b->len += n;
    b->cap = b->len; /* nothing more goes in */
    b->reserve = 0;
    return b->len;
}
