/*
 * Row filters of PostgREST's query syntax: one condition on a column
 * ("eq.5", "not.in.(a,b)", "is.null") and logic trees of them
 * ("(a.eq.1,and(b.gt.2,c.is.null))"). Pure: no database, no I/O.
 *
 * Operators: eq neq gt gte lt lte like ilike in is isdistinct match
 * imatch fts plfts phfts wfts cs cd ov sl sr nxr nxl adj, each optionally preceded by
 * "not.". like and ilike take '*' as well as '%' for "any characters". in
 * takes a parenthesised list; is takes null, true or false. eq neq lt lte
 * gt gte like ilike match imatch take a modifier, "eq(any).{a,b}" (true
 * when one item matches; none: false) or "(all)" (every item; none:
 * true); the fts family a language, "fts(english).cat". match, imatch and
 * the fts family need a text column; cs cd ov take their operand as the
 * text of the column's type ("{a,b}", a JSON object), as do the range
 * operators sl sr nxr nxl adj ("[1,5)"), which need a range column. Which of them a
 * dialect can run is data_filter_check's question. Every value is typed by its column (data_value_parse) and later
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

#include "data_dialect.h"
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
    DATA_OP_IS,
    DATA_OP_ISDISTINCT,
    DATA_OP_MATCH,
    DATA_OP_IMATCH,
    DATA_OP_FTS,
    DATA_OP_PLFTS,
    DATA_OP_PHFTS,
    DATA_OP_WFTS,
    DATA_OP_CS,
    DATA_OP_CD,
    DATA_OP_OV,
    DATA_OP_SL, /* range operators, PostgreSQL only (data_op_range) */
    DATA_OP_SR,
    DATA_OP_NXR,
    DATA_OP_NXL,
    DATA_OP_ADJ
} data_op_t;

/* A modifier: the operator against every item of list, ORed or ANDed. */
typedef enum data_quant {
    DATA_QUANT_NONE,
    DATA_QUANT_ANY,
    DATA_QUANT_ALL
} data_quant_t;

/* One condition. value holds the operand (for is: a NULL or BOOL value);
 * list holds the items of in or of a modifier (nlist may be 0); lang the
 * language of an fts operator (NULL kind: the database's default). Owns
 * all three. */
struct data_jpath;

typedef struct data_filter {
    const data_column_t *col; /* points into the schema */
    data_op_t op;
    data_quant_t quant;
    bool negate;
    data_value_t value;
    data_value_t *list;
    size_t nlist;
    data_value_t lang;
    struct data_jpath *path; /* owned; NULL: the column itself */
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

/* The same for a filter on a JSON path into col (path owned from the
 * call on, freed with *f or on error): the value is compared as text. */
int data_filter_parse_path(const data_column_t *col, struct data_jpath *path, const char *v, size_t len,
                           size_t *budget, data_filter_t *f, data_qerr_t *e);

/* Parses "(item,...)" (the value of an "or=" or "and=" parameter) into *g
 * for table t; any and negate as the parameter's name says. PH_OK, or
 * PH_ERROR with *e filled and *g empty. */
int data_group_parse(const data_table_t *t, const char *v, size_t len, bool any, bool negate,
                     size_t *budget, data_group_t *g, data_qerr_t *e);

/* Whether dialect d can run f (or every filter of g): regular
 * expressions, full-text search and cs/cd/ov are PostgreSQL's (cs/cd/ov
 * on array, jsonb or range columns only). PH_OK, or PH_ERROR with *e
 * filled (PGRST100, for a 400). */
int data_filter_check(const data_filter_t *f, data_dialect_t d, data_qerr_t *e);
int data_group_check(const data_group_t *g, data_dialect_t d, data_qerr_t *e);

void data_filter_free(data_filter_t *f);
void data_group_free(data_group_t *g);

/* SQL spelling of the binary operators: "=", "<>", "<", "<=", ">", ">=",
 * "LIKE", "ILIKE", "~", "~*", "@>", "<@", "&&", "<<", ">>", "&<", "&>",
 * "-|-" (PostgreSQL's where only it has them). in, is, isdistinct and the
 * fts family are written by data_sql.c, which also knows SQLite's
 * spellings. */
const char *data_op_sql(data_op_t op);

/* Whether op is a range operator (sl sr nxr nxl adj): PostgreSQL defines
 * them for ranges and multiranges alike, so data_sql.c casts the operand
 * to the column's type to pick one. */
bool data_op_range(data_op_t op);

/* Fills *e (printf-style message). Returns PH_ERROR. */
int data_qerr_set(data_qerr_t *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes a name (len bytes) quoted into buf for a message when it is short
 * printable UTF-8, else "(unprintable)". Returns buf. */
const char *data_qerr_name(char *buf, size_t size, const char *name, size_t len);

#endif
