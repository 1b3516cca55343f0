/*
 * static_mime: Content-Type from a file name's extension.
 *
 * A built-in table of the web's common types always wins; a table loaded
 * from a mime.types file (Debian's /etc/mime.types format: "type ext ext",
 * '#' comments) covers the rest. No plugin API.
 */
#ifndef PH_STATIC_MIME_H
#define PH_STATIC_MIME_H

#include <stddef.h>

/* Extensions loaded from a mime.types file. Immutable once loaded, so one
 * table may be read from several threads. */
typedef struct sm_table sm_table_t;

/* Reads path into a new table. Returns NULL when the file cannot be opened
 * or memory runs out; the caller then simply has no extra types. Free with
 * sm_table_free(). Lines with a malformed type are skipped. */
sm_table_t *sm_table_load(const char *path);

/* Frees t (NULL allowed). */
void sm_table_free(sm_table_t *t);

/* The media type for the file name (its last '.' suffix, case-insensitive),
 * from the built-in table, then t (may be NULL). NULL when unknown or the
 * name has no extension. The string lives as long as t (or forever). */
const char *sm_lookup(const sm_table_t *t, const char *name);

/* Writes the Content-Type header value for name into buf (cap bytes):
 * the looked-up type, "application/octet-stream" when unknown, with
 * "; charset=utf-8" added for text types. Returns the length, or 0 when cap
 * is too small. */
size_t sm_content_type(const sm_table_t *t, const char *name, char *buf, size_t cap);

/* 1 for types that are text (text/..., JSON, XML, JavaScript): they get a
 * charset parameter. */
int sm_is_text(const char *type);

/* 1 for types worth compressing (text types, SVG, WebAssembly, uncompressed
 * fonts and icons): the ones for which .gz/.br siblings are looked up and
 * Vary: Accept-Encoding is sent. */
int sm_compressible(const char *type);

#endif /* PH_STATIC_MIME_H */
