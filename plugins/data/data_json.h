/*
 * Rows <-> JSON with jansson.
 *
 * Out: a database value becomes a JSON integer, real, string, true/false
 * (boolean columns), null, or a base64 string (blobs). Text that is not
 * valid UTF-8 cannot be JSON and is reported, never passed through.
 * In: a JSON object becomes column assignments typed by the schema; a value
 * of the wrong JSON type for its column is refused with a message.
 */
#ifndef DATA_JSON_H
#define DATA_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "data_schema.h"
#include "data_sql.h"
#include "data_value.h"

/* JSON for one value read from the database in a column of type `type`
 * (DATA_TYPE_ANY when unknown). v is not consumed. New reference, or NULL
 * when text is not valid UTF-8 or memory ran out. */
json_t *data_json_from_value(data_type_t type, const data_value_t *v);

/* Converts one JSON value for column col into *out (owned by the caller).
 * PH_OK, or PH_ERROR with a client message in err. */
int data_json_to_value(const data_column_t *col, const json_t *j, data_value_t *out,
                       char *err, size_t errlen);

typedef enum data_json_mode {
    DATA_JSON_INSERT, /* the columns given                                */
    DATA_JSON_PATCH,  /* the columns given; at least one                  */
    DATA_JSON_PUT     /* the columns given; every other column without a
                         default and outside the primary key becomes NULL */
} data_json_mode_t;

/* Turns the request object obj into assignments for table t. For PATCH and
 * PUT, id is the row's key from the URL: a primary key in the body must
 * equal it and is then left out. Unknown columns are refused. On PH_OK
 * *out (free with data_json_assign_free) holds *n assignments. */
int data_json_assignments(const data_table_t *t, const json_t *obj, data_json_mode_t mode,
                          const data_value_t *id, data_assign_t **out, size_t *n,
                          char *err, size_t errlen);

void data_json_assign_free(data_assign_t *a, size_t n);

/* Rows to insert (data_rows_t, data_sql.h), from a JSON object (one row)
 * or an array of objects: cols are the union of the keys, in the table's
 * column order; vals is NULL where a row lacks a key (as PostgREST inserts
 * them) and missing marks those places. Unknown columns and non-object
 * items are refused. Free with data_json_rows_free.
 * PH_OK, or PH_ERROR with a client message in err and *rows empty. */
int data_json_rows(const data_table_t *t, const json_t *body, data_rows_t *rows, char *err,
                   size_t errlen);

void data_json_rows_free(data_rows_t *rows);

/* True when a Content-Type value (len bytes) is the media type
 * application/json: type and subtype compared case-insensitively, optional
 * whitespace around them, parameters allowed after ';' except a charset
 * other than utf-8 (JSON text is UTF-8, RFC 8259). Anything else, such as
 * "application/jsonx", "text/plain" or an empty value, is not. */
bool data_json_media_type_ok(const char *ct, size_t len);

/* The same test for another media type want (lower case, no parameters),
 * such as "text/csv". */
bool data_media_type_is(const char *ct, size_t len, const char *want);

#endif
