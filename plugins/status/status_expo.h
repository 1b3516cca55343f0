/*
 * The Prometheus text exposition format, version 0.0.4: metric families
 * (a HELP and a TYPE line), samples with labels, and the escaping both
 * need. Pure: it only appends to a stbuf_t.
 */
#ifndef STATUS_EXPO_H
#define STATUS_EXPO_H

#include <stdint.h>

#include "status_buf.h"

/* The Content-Type of this format. */
#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct expo_label {
    const char *name;  /* a valid label name: the caller's constant */
    const char *value; /* any bytes; escaped, invalid UTF-8 replaced */
} expo_label_t;

/* "# HELP name help" (help escaped) and "# TYPE name type". */
void expo_family(stbuf_t *b, const char *name, const char *type, const char *help);
/* One sample line: name{labels} value. n may be 0 (no braces). value is
 * already formatted (expo_u64, expo_seconds). */
void expo_sample(stbuf_t *b, const char *name, const expo_label_t *labels, unsigned n, const char *value);

/* A label value as the format wants it between its quotes: backslash,
 * double quote and line feed escaped as \\, \" and \n; bytes that are
 * not valid UTF-8 replaced by U+FFFD (Prometheus refuses them). */
void expo_label_value(stbuf_t *b, const char *s);

/* Formats v into out (at least 24 bytes); returns out. */
const char *expo_u64(char *out, uint64_t v);
/* Formats us microseconds as seconds, exactly and without trailing
 * zeros ("0.00025", "2.5", "10"), into out (at least 32 bytes). */
const char *expo_seconds(char *out, uint64_t us);

#endif
