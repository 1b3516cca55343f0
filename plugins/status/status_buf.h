/*
 * A growing text buffer for the status plugin's answers. Every append
 * either succeeds or marks the buffer failed (out of memory), so a writer
 * appends without checking and looks at failed once at the end.
 */
#ifndef STATUS_BUF_H
#define STATUS_BUF_H

#include <stddef.h>

typedef struct stbuf {
    char *p;     /* NUL-terminated text, owned; NULL while empty */
    size_t len;
    size_t cap;
    int failed;  /* an append ran out of memory: the text is incomplete */
} stbuf_t;

void stbuf_put(stbuf_t *b, const char *s, size_t n);
void stbuf_puts(stbuf_t *b, const char *s);
void stbuf_printf(stbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees the text; b is empty again. */
void stbuf_free(stbuf_t *b);

#endif
