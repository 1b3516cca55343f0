/*
 * Typed values bound as statement parameters, and their text forms: parsing
 * a query-string or URL text into the type of a column, UTF-8 validation,
 * base64 for blobs.
 */
#ifndef DATA_VALUE_H
#define DATA_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_schema.h"

typedef enum data_value_kind {
    DATA_VALUE_NULL,
    DATA_VALUE_INT,
    DATA_VALUE_REAL,
    DATA_VALUE_TEXT, /* ptr: len bytes of valid UTF-8, NUL-terminated */
    DATA_VALUE_BLOB, /* ptr: len bytes                                */
    DATA_VALUE_BOOL, /* i: 0 or 1                                     */
    DATA_VALUE_NUM   /* ptr: an exact number's decimal text (data_num.h),
                        NUL-terminated                                */
} data_value_kind_t;

/* A value owns ptr (malloc) when kind is TEXT, BLOB or NUM. */
typedef struct data_value {
    data_value_kind_t kind;
    int64_t i;
    double d;
    char *ptr;
    size_t len;
} data_value_t;

/* Parses len bytes of text (already percent-decoded) into a value for a
 * column of the given type:
 *   INTEGER  optional '-', decimal digits, within int64
 *   REAL     a finite decimal number (strtod syntax, no hex, no inf/nan)
 *   BOOL     "true" or "false"
 *   BLOB     base64
 *   TEXT/ANY the text itself; it must be valid UTF-8 without NUL
 * Returns PH_OK, or PH_ERROR with a message (naming the expectation, not
 * the value) in err. */
int data_value_parse(data_type_t type, const char *s, size_t len, data_value_t *out,
                     char *err, size_t errlen);

/* Copies a TEXT (len bytes, a NUL is added) or BLOB value. PH_OK or
 * PH_ERROR (memory). */
int data_value_set_text(data_value_t *v, const char *s, size_t len);
int data_value_set_blob(data_value_t *v, const void *p, size_t len);

/* Deep copy. PH_OK or PH_ERROR (memory). */
int data_value_copy(data_value_t *dst, const data_value_t *src);

/* Frees what v owns and makes it NULL. */
void data_value_clear(data_value_t *v);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
bool data_utf8_valid(const char *s, size_t len);

/* Standard base64 with padding. encode: returns a malloc'd NUL-terminated
 * string or NULL (memory). decode: accepts padded or unpadded input without
 * whitespace; returns a malloc'd buffer and its length, or NULL when the
 * input is not base64 (or out of memory). */
char *data_base64_encode(const void *p, size_t len);
unsigned char *data_base64_decode(const char *s, size_t len, size_t *outlen);

#endif
