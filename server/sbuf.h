/*
 * A bounded writer over a caller's fixed buffer: the one way the core
 * formats text into a fixed-size array (log lines). Every write is cut at
 * the capacity, never past it, and a cut is remembered, so a caller can
 * neither overrun the array nor lose track of how much it holds: there is
 * no offset arithmetic left at the call site to get wrong.
 *
 * A writer may keep a few bytes in reserve for a tail (the closing quote
 * and newline of a log line) that must be present however long the fields
 * before it were: sbuf_finish() is the only call that writes into them.
 */
#ifndef PH_SBUF_H
#define PH_SBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sbuf {
    char *p;
    size_t cap;     /* bytes the ordinary writes may fill */
    size_t reserve; /* bytes after cap kept for sbuf_finish() */
    size_t len;
    int cut;        /* some write did not fit whole */
} sbuf_t;

/* Writes into p[0 .. size). reserve (< size) bytes at the end are left for
 * sbuf_finish(). */
void sbuf_init(sbuf_t *b, char *p, size_t size, size_t reserve);

void sbuf_put(sbuf_t *b, const void *s, size_t n);
void sbuf_puts(sbuf_t *b, const char *s);
void sbuf_putc(sbuf_t *b, char ch);
void sbuf_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_vprintf(sbuf_t *b, const char *fmt, va_list ap);

/* Appends s[0..n) with quotes, backslashes, control bytes and non-ASCII
 * bytes written as \xHH, so the text can neither end a quoted field nor
 * split a line. At most max output bytes are written for this field; an
 * escape sequence is never split. */
void sbuf_put_escaped(sbuf_t *b, const char *s, size_t n, size_t max);

/* Appends tail[0..n) into the reserve (at most reserve bytes of it) and
 * returns the final length. */
size_t sbuf_finish(sbuf_t *b, const char *tail, size_t n);

#endif
