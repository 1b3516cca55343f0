/*
 * Listing queries: parses the raw query string of GET /api/<table> into a
 * validated description. Pure: no database, no I/O.
 *
 * Grammar (parameters separated by '&', names and values percent-decoded,
 * '+' read as a space as in HTML forms):
 *   limit=N             rows to return, 0..; values above max_rows (even
 *                       ones too large for 64 bits) are capped to max_rows
 *   offset=N            rows to skip, 0..INT64_MAX
 *   order=c[.asc|.desc][,c2...]  sort keys, columns of the table
 *   <column>=<op>.<value>  filter, op one of eq neq lt lte gt gte like;
 *                       the value is typed by the column (data_value_parse);
 *                       like needs a text column
 * limit, offset and order may appear once each; filters may repeat and are
 * ANDed. Empty parameters ("a=1&&b=2") are ignored. Anything else is an
 * error meant for a 400 answer.
 */
#ifndef DATA_QUERY_H
#define DATA_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_schema.h"
#include "data_value.h"

typedef enum data_op {
    DATA_OP_EQ,
    DATA_OP_NEQ,
    DATA_OP_LT,
    DATA_OP_LTE,
    DATA_OP_GT,
    DATA_OP_GTE,
    DATA_OP_LIKE
} data_op_t;

typedef struct data_filter {
    const data_column_t *col; /* points into the schema */
    data_op_t op;
    data_value_t value; /* owned */
} data_filter_t;

typedef struct data_order {
    const data_column_t *col;
    bool desc;
} data_order_t;

typedef struct data_query {
    int64_t limit;
    int64_t offset;
    data_filter_t *filters;
    size_t nfilters;
    data_order_t *order;
    size_t norder;
} data_query_t;

/* Parses qs (len bytes, may be NULL when len is 0) against table. On
 * PH_OK *q holds the result (free with data_query_free); on PH_ERROR err
 * holds a message for the client and *q is empty. max_rows >= 1 is the
 * default and the cap of limit. */
int data_query_parse(const data_table_t *table, const char *qs, size_t len, int64_t max_rows,
                     data_query_t *q, char *err, size_t errlen);

void data_query_free(data_query_t *q);

/* Percent-decodes len bytes of in into out (room for len bytes), '+' as a
 * space when plus_space. Returns the decoded length, or -1 on a malformed
 * escape ("%", "%4", "%zz"). */
long data_pct_decode(const char *in, size_t len, char *out, bool plus_space);

/* SQL spelling of an operator: "=", "<>", "<", "<=", ">", ">=", "LIKE". */
const char *data_op_sql(data_op_t op);

#endif
