/*
 * CSV (RFC 4180) for the data API, PostgREST's text/csv: listings out
 * (Accept: text/csv) and inserts in (Content-Type: text/csv). Pure: no
 * database, no I/O.
 *
 * Out: a header line of the result's column names, then one line per row,
 * fields separated by ',' and lines ended by '\n'. A field holding ',',
 * '"', CR or LF, or starting or ending with a space, is double-quoted with
 * inner quotes doubled. NULL is an empty field; booleans are true/false;
 * an embedded resource or JSON value is its compact JSON text.
 *
 * In: the first line names the columns (each once, each of the table);
 * every further line is a row with exactly as many fields. An unquoted
 * NULL is the SQL null, an empty field the empty string; each field is
 * read as its column's type (data_value_parse: an integer for an integer
 * column, base64 for a blob). Lines end with LF or CRLF; a last empty
 * line is ignored.
 */
#ifndef DATA_CSV_H
#define DATA_CSV_H

#include <jansson.h>
#include <stddef.h>

#include "data_schema.h"

/* Receives output text; returns 0, or -1 to stop (as jansson's dump
 * callbacks do). */
typedef int (*data_csv_put_fn)(const char *s, size_t len, void *arg);

/* Writes the header line of shape's columns. 0 or -1 (put refused). */
int data_csv_header(const data_table_t *shape, data_csv_put_fn put, void *arg);

/* Writes row (a JSON object keyed by shape's column names) as one line,
 * fields in shape's order. 0 or -1 (put refused, or out of memory). */
int data_csv_row(const data_table_t *shape, const json_t *row, data_csv_put_fn put, void *arg);

/* Reads a CSV body (len bytes) for table t into a new JSON array of row
 * objects typed by the columns, ready for data_json_rows. NULL with a
 * client message in err when the text is not such a CSV. */
json_t *data_csv_parse(const data_table_t *t, const char *s, size_t len, char *err, size_t errlen);

#endif
