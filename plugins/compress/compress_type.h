/*
 * compress_type: the media types worth compressing (key "types"), as a
 * list of patterns read once at create(). Pure, no plugin API.
 *
 * A pattern is "type/subtype" (exact), or has "*" for a subtype: any
 * subtype; or "*" followed by "+suffix" for a subtype: a structured-syntax
 * suffix (RFC 6838 section 4.2.8: with "+json", application/ld+json
 * matches); "*" may stand for the type too, with a subtype of one of the
 * "*" forms. Names compare case-insensitively; a Content-Type's parameters
 * (";charset=utf-8") are ignored.
 */
#ifndef COMPRESS_TYPE_H
#define COMPRESS_TYPE_H

#include <stddef.h>

#define CZ_TYPES_MAX 32
#define CZ_TYPE_NAME_MAX 64 /* bytes of a type or subtype, NUL included */

typedef struct cz_pattern {
    char type[CZ_TYPE_NAME_MAX]; /* lower case; "*" for any */
    char sub[CZ_TYPE_NAME_MAX];  /* lower case; "*", or "*+suffix" */
} cz_pattern_t;

typedef struct cz_types {
    size_t n;
    cz_pattern_t pat[CZ_TYPES_MAX];
} cz_types_t;

/*
 * Reads the comma-separated list (spaces around items allowed) into *t.
 * 0, or -1 with a one-line reason in why[0..cap): an empty list or item,
 * a pattern of another form, a name too long, more than CZ_TYPES_MAX.
 */
int cz_types_parse(cz_types_t *t, const char *list, char *why, size_t cap);

/* 1 when the Content-Type value (len bytes) matches a pattern of t. */
int cz_types_match(const cz_types_t *t, const char *value, size_t len);

#endif
