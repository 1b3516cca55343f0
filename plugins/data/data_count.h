/*
 * Totals of a listing other than the exact count, for PostgREST's
 * Prefer: count=planned and count=estimated: the statements that ask the
 * database's planner how many rows a query matches, and the reading of
 * its answer. Pure: builds SQL and reads JSON, runs nothing.
 *
 *   planned    the planner's row estimate for the rows the filters match
 *              (PostgreSQL: "Plan Rows" of the top node of EXPLAIN (FORMAT
 *              JSON); MySQL/MariaDB: the product over the joined tables of
 *              EXPLAIN FORMAT=JSON's "rows" times "filtered" percent)
 *   estimated  the exact count when it is at most max_rows, else the
 *              planned figure: the exact count stops at max_rows + 1 rows
 *              (data_count_capped_sql), so a large table is not walked
 *
 * SQLite keeps no row estimates (data_count_has_plan is false there): both
 * answer the exact count. A plan without a figure (MariaDB's "Impossible
 * WHERE") also falls back to the exact count.
 */
#ifndef DATA_COUNT_H
#define DATA_COUNT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data_dialect.h"
#include "data_query.h"
#include "data_schema.h"
#include "data_sql.h"

typedef enum data_count_mode {
    DATA_COUNT_NONE, /* no count asked for */
    DATA_COUNT_EXACT,
    DATA_COUNT_PLANNED,
    DATA_COUNT_ESTIMATED
} data_count_mode_t;

/* The count a Prefer value (len bytes, may be NULL when len is 0) asks
 * for: count=exact, count=planned or count=estimated; the first of them in
 * that order when several are given; DATA_COUNT_NONE for none. */
data_count_mode_t data_count_mode(const char *prefer, size_t len);

/* Whether the dialect's planner gives a row estimate (false: SQLite). */
bool data_count_has_plan(data_dialect_t d);

/* Builds into the empty st the statement whose one row holds the
 * planner's estimate of the rows matching q's conditions on t (see
 * data_count_plan_rows). Only where data_count_has_plan. PH_OK, or
 * PH_ERROR when out of memory. */
int data_count_plan_sql(data_stmt_t *st, const data_table_t *t, const data_query_t *q);

/* Builds into the empty st a count of the rows matching q's conditions
 * that stops at cap + 1 (cap >= 0): one row {"count": N}, N <= cap + 1, so
 * N > cap means "more than cap". PH_OK, or PH_ERROR when out of memory. */
int data_count_capped_sql(data_stmt_t *st, const data_table_t *t, const data_query_t *q, int64_t cap);

/* Reads the estimate from row, the one row of data_count_plan_sql's
 * statement in dialect d: PostgreSQL's {"QUERY PLAN": [{"Plan": {"Plan
 * Rows": N}}]} (the plan as JSON, as its text or as a raw value of
 * data_num.h), MySQL's {"EXPLAIN":
 * "<JSON text>"}. True with *rows (rounded to the nearest integer, at
 * least 0), false when the plan has no figure. */
bool data_count_plan_rows(data_dialect_t d, const json_t *row, int64_t *rows);

#endif
