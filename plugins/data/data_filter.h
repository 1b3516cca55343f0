/*
 * Row filters of PostgREST's query syntax: one condition on a column
 * ("eq.5", "not.in.(a,b)", "is.null") and logic trees of them
 * ("(a.eq.1,and(b.gt.2,c.is.null))"). Pure: no database, no I/O.
 *
 * Operators: eq neq gt gte lt lte like ilike in is, each optionally
 * preceded by "not.". like and ilike take '*' as well as '%' for "any
 * characters". in takes a parenthesised list; is takes null, true or
 * false. Every value is typed by its column (data_value_parse) and later
 * bound as a parameter; columns come only from the table's schema.
 *
 * In a logic tree an item is "col.op.value", "and(...)" or "or(...)", each
 * optionally preceded by "not."; a value ends at the next ',' or ')'
 * unless it is double-quoted ("a,b", with \" and \\ inside). Trees are
 * bounded: DATA_FILTER_MAX_DEPTH levels and DATA_FILTER_MAX_NODES
 * conditions, groups and list items per request; more is a 400.
 */
#ifndef DATA_FILTER_H
#define DATA_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "data_schema.h"
#include "data_value.h"

#define DATA_FILTER_MAX_DEPTH 16
#define DATA_FILTER_MAX_NODES 1000

typedef enum data_op {
    DATA_OP_EQ,
    DATA_OP_NEQ,
    DATA_OP_LT,
    DATA_OP_LTE,
    DATA_OP_GT,
    DATA_OP_GTE,
    DATA_OP_LIKE,
    DATA_OP_ILIKE,
    DATA_OP_IN,
    DATA_OP_IS
} data_op_t;

/* One condition. value holds the operand (for is: a NULL or BOOL value);
 * list holds in's items (nlist may be 0: matches nothing). Owns both. */
typedef struct data_filter {
    const data_column_t *col; /* points into the schema */
    data_op_t op;
    bool negate;
    data_value_t value;
    data_value_t *list;
    size_t nlist;
} data_filter_t;

/* A logic tree node: its filters and subgroups combined with AND, or with
 * OR when any is set, the whole negated when negate is set. */
typedef struct data_group {
    bool any, negate;
    data_filter_t *filters;
    size_t nfilters;
    struct data_group *groups;
    size_t ngroups;
} data_group_t;

/* Why a request's query was refused: a PostgREST error code ("PGRST100"
 * parse error, "42703" unknown column, "22P02" a value the column cannot
 * hold, "PGRST200"/"PGRST201" no or several relationships to embed) and a
 * message for the client. Answered with 400, PGRST201 with 300. */
typedef struct data_qerr {
    char code[10];
    char msg[256];
} data_qerr_t;

/* Parses the value of a "col=..." parameter (len bytes, decoded) into *f.
 * *budget is decremented per condition and list item. PH_OK, or PH_ERROR
 * with *e filled and *f empty. */
int data_filter_parse(const data_column_t *col, const char *v, size_t len, size_t *budget,
                      data_filter_t *f, data_qerr_t *e);

/* Parses "(item,...)" (the value of an "or=" or "and=" parameter) into *g
 * for table t; any and negate as the parameter's name says. PH_OK, or
 * PH_ERROR with *e filled and *g empty. */
int data_group_parse(const data_table_t *t, const char *v, size_t len, bool any, bool negate,
                     size_t *budget, data_group_t *g, data_qerr_t *e);

void data_filter_free(data_filter_t *f);
void data_group_free(data_group_t *g);

/* SQL spelling of the comparison operators: "=", "<>", "<", "<=", ">",
 * ">=", "LIKE" (ilike: "ILIKE", which only PostgreSQL has). in and is are
 * written by data_sql.c. */
const char *data_op_sql(data_op_t op);

/* Fills *e (printf-style message). Returns PH_ERROR. */
int data_qerr_set(data_qerr_t *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes a name (len bytes) quoted into buf for a message when it is short
 * printable UTF-8, else "(unprintable)". Returns buf. */
const char *data_qerr_name(char *buf, size_t size, const char *name, size_t len);

#endif
