/*
 * JSON paths of PostgREST's query syntax: "data->a->0->>b" after a column
 * name, in select=, order= and a filter's name. Pure: no database, no I/O.
 *
 * Each step is "->" (the value, as JSON) or "->>" (the value as text; the
 * last step only) and a key: an object key, or an array index when it is
 * a decimal integer (at most 9 digits). The SQL is data_sql.c's: keys are
 * bound as parameters, never written into SQL text.
 */
#ifndef DATA_JPATH_H
#define DATA_JPATH_H

#include <stdbool.h>
#include <stddef.h>

#include "data_dialect.h"
#include "data_filter.h"
#include "data_schema.h"

typedef struct data_jpath_step {
    char *key;   /* owned, NUL-terminated */
    size_t len;
    bool index;  /* key is an array index: its decimal digits */
} data_jpath_step_t;

typedef struct data_jpath {
    data_jpath_step_t *steps;
    size_t nsteps;
    bool text; /* the last step is "->>" */
} data_jpath_t;

/* The length of the column name at the start of s[0..len): up to the
 * first "->", or len when there is none. */
size_t data_jpath_col_len(const char *s, size_t len);

/* Parses the path s[0..len) (starting with "->") for column col in
 * dialect d into a new *out (free with data_jpath_free). A column that
 * does not hold JSON (PostgreSQL: json/jsonb; others: text or untyped),
 * an empty key, "->>" before the last step, or a key the dialect cannot
 * address (SQLite, MySQL: one holding '"' or '\') is PH_ERROR with *e
 * filled (PGRST100). */
int data_jpath_parse(const data_column_t *col, data_dialect_t d, const char *s, size_t len,
                     data_jpath_t **out, data_qerr_t *e);

void data_jpath_free(data_jpath_t *p);

/* The name PostgREST gives the result: the last key. */
const char *data_jpath_name(const data_jpath_t *p);

/* The result's type class: JSON for "->", TEXT for "->>". */
data_type_t data_jpath_type(const data_jpath_t *p);

/* SQLite's and MySQL's path text for step i alone ("$.\"key\"", "$[3]")
 * or, with all, every step ("$.\"a\"[0].\"b\""). malloc'd; NULL when out
 * of memory. */
char *data_jpath_text(const data_jpath_t *p, size_t i, bool all);

#endif
