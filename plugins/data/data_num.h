/*
 * Exact numbers: numeric/decimal values travel as their decimal text, never
 * through a double.
 *
 * A value of kind DATA_VALUE_NUM (data_value.h) holds a number's text for a
 * column of an exact type (PostgreSQL numeric, MySQL DECIMAL, an SQLite
 * column declared DECIMAL or NUMERIC). The drivers bind it as that text
 * (SQLite, whose values are 64-bit integers or doubles, binds the integer or
 * the double it equals, and refuses a number neither can hold exactly) and
 * read such columns back as their text.
 *
 * In JSON trees a number kept as its text is a "raw" value: a jansson
 * string whose first byte is 0xFF, followed by the number's JSON text.
 * 0xFF never occurs in UTF-8, and every other string in a tree is
 * checked UTF-8 (jansson's loader, json_stringn), so no text from a
 * client or a database can pass for one. data_jout.c writes raw values
 * verbatim; json_dumps() must not see them.
 */
#ifndef DATA_NUM_H
#define DATA_NUM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "data_schema.h"
#include "data_value.h"

/* True when s[0..len) is a number in JSON's grammar (RFC 8259 section 6):
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
bool data_num_valid(const char *s, size_t len);

/* True when the column's type is exact: a REAL column declared NUMERIC or
 * DECIMAL (any case, with or without precision). */
bool data_num_exact_column(const data_column_t *col);

/* Parses a query-string or CSV text for a column: for an exact column a
 * number in JSON's grammar, or with a leading '+', a leading or trailing
 * '.' (the spellings databases take), kept as DATA_VALUE_NUM; otherwise
 * data_value_parse(). PH_OK, or PH_ERROR with a message in err. */
int data_num_parse(const data_column_t *col, const char *s, size_t len, data_value_t *out,
                   char *err, size_t errlen);

/* Sets *v to DATA_VALUE_NUM holding a copy of s[0..len) (not checked).
 * PH_OK or PH_ERROR (memory). */
int data_num_set(data_value_t *v, const char *s, size_t len);

/* How SQLite can store the number s[0..len) (a decimal number) exactly:
 * 1 and *i set when it is an integer within 64 bits (also "1.50e2"),
 * 2 and *d set when it equals the double nearest to it (0.1 does: its
 * shortest spelling is "0.1"), 0 when neither. */
int data_num_sqlite(const char *s, size_t len, long long *i, double *d);

/* The shortest spelling of a finite d that reads back as d, as jansson
 * writes reals (".0" added to an integral value, exponent without '+' and
 * leading zeros): 0.1 -> "0.1", 1e20 -> "1e20", 3 -> "3.0". buf of at
 * least 32 bytes; returns the length. */
size_t data_num_format_double(double d, char *buf, size_t size);

/* A raw JSON value standing for the JSON text s[0..len) (not checked): a
 * number, or (data_num_raw_json) any JSON text, compacted. New reference,
 * NULL when out of memory or, for data_num_raw_json, when s is not JSON. */
json_t *data_num_raw(const char *s, size_t len);
json_t *data_num_raw_json(const char *s, size_t len);

/* When j is a raw value: true, and its JSON text in *s, *len. */
bool data_num_is_raw(const json_t *j, const char **s, size_t *len);

/* json_loadb(flags) for request bodies, keeping numbers that a jansson
 * number cannot hold exactly (a fraction, an exponent, an integer beyond 64
 * bits) as raw values; integers within 64 bits stay JSON integers. A string
 * holding \u0000 is refused. NULL with *e filled on error, as json_loadb. */
json_t *data_num_loadb(const char *buf, size_t len, size_t flags, json_error_t *e);

#endif
