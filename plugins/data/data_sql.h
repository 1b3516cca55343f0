/*
 * SQL text for the data API, built from the schema and validated
 * descriptions. Pure: no database.
 *
 * Identifiers (table and column names) come only from the schema and are
 * quoted ("name", inner quotes doubled; `name` on MySQL); every value is
 * a placeholder ("?N" for SQLite, "$N" for PostgreSQL, "?" in order for
 * MySQL) whose value is in params. Row-returning statements list the table's columns in schema
 * order, so results have the table's shape.
 */
#ifndef DATA_SQL_H
#define DATA_SQL_H

#include <stdbool.h>
#include <stddef.h>

#include "data_dialect.h"
#include "data_query.h"
#include "data_schema.h"
#include "data_value.h"

/* A statement: NUL-terminated SQL text plus its parameters, in placeholder
 * order. Owns everything; start from DATA_STMT_INIT, free with
 * data_stmt_free. */
typedef struct data_stmt {
    data_dialect_t dialect;
    char *sql;
    size_t len, cap;
    data_value_t *params;
    size_t nparams;
    int oom; /* set when an append ran out of memory */
    bool dry_run; /* run in a transaction rolled back afterwards (data_db.h) */
    bool writes;  /* a SELECT that may change data (a function call): never retried */
    /* The request's role and its claims (JSON text), borrowed, NULL on a
     * route without roles: PostgreSQL runs the statement in a transaction
     * as that role, with the claims as request.jwt.claims (data_db.h). */
    const char *role, *claims;
    /* MySQL/MariaDB only, whose UPDATE has no RETURNING: an update there
     * is a plan of three statements that the backend runs in one
     * transaction. This statement lists the primary keys of the rows to
     * change, locking them (FOR UPDATE); `then` is "UPDATE ... SET ...
     * WHERE pk IN " and then->then "SELECT <list> ... WHERE pk IN ", each
     * completed by the backend with the keys as "(?, ...)". key_param is
     * the index in then's params of the new primary key when the update
     * sets it (the rows are read back by that key), else -1. NULL for
     * every other statement. */
    struct data_stmt *then;
    long key_param;
} data_stmt_t;

#define DATA_STMT_INIT(d) {.dialect = (d)}

/* One "column = value" of an INSERT or UPDATE. */
typedef struct data_assign {
    const data_column_t *col;
    data_value_t value;
} data_assign_t;

/* Rows to insert: see data_json_rows (data_json.h). missing (same
 * layout as vals) marks the values a row's object did not give; with
 * Prefer: missing=default they take the column's default instead of
 * NULL (defaults set). */
typedef struct data_rows {
    const data_column_t **cols;
    size_t ncols;
    data_value_t *vals; /* nrows * ncols, row after row */
    bool *missing;
    size_t nrows;
    bool defaults;
} data_rows_t;

/* Each builder appends one statement to an empty stmt and returns PH_OK, or
 * PH_ERROR when out of memory. Values are copied.
 *   select: q's select list (or every column), of the rows matching q's
 *           filters and logic trees, in q's order (then by primary key,
 *           so pages are stable), LIMIT q->limit OFFSET q->offset. Each
 *           condition is parenthesised; ilike is LIKE on SQLite (whose
 *           LIKE ignores ASCII case), ILIKE on PostgreSQL
 *   count:  one row {"count": N} of the rows matching q's conditions
 *   matching: "SELECT 1 FROM <table> WHERE q's conditions", the rows
 *           count counts, for statements wrapped around it (data_count.h)
 *   get:    the row whose primary key equals id
 *   insert: INSERT ... RETURNING the row; n == 0 inserts DEFAULT VALUES
 *   update: UPDATE ... SET the n assignments (n >= 1) WHERE pk = id
 *           RETURNING the row
 *   delete: DELETE ... WHERE pk = id RETURNING the primary key */
int data_sql_select(data_stmt_t *st, const data_table_t *t, const data_query_t *q);
int data_sql_count(data_stmt_t *st, const data_table_t *t, const data_query_t *q);
int data_sql_matching(data_stmt_t *st, const data_table_t *t, const data_query_t *q);
int data_sql_get(data_stmt_t *st, const data_table_t *t, const data_value_t *id);
int data_sql_insert(data_stmt_t *st, const data_table_t *t, const data_assign_t *a, size_t n);
int data_sql_update(data_stmt_t *st, const data_table_t *t, const data_assign_t *a, size_t n,
                    const data_value_t *id);
int data_sql_delete(data_stmt_t *st, const data_table_t *t, const data_value_t *id);

/* What an INSERT does with a row whose conflict column (the primary key
 * unless given) already holds its value. */
typedef enum data_conflict {
    DATA_CONFLICT_ERROR, /* the database refuses it (409) */
    DATA_CONFLICT_MERGE, /* the existing row takes the inserted columns */
    DATA_CONFLICT_IGNORE /* the row is skipped and not returned */
} data_conflict_t;

/* Writes of PostgREST's API, each RETURNING q's select list (or every
 * column), one statement each, so a bulk insert is one transaction:
 *   insert_rows: INSERT of rows->nrows rows of rows->ncols columns
 *           (ncols == 0: one row of defaults; nrows must then be 1); with
 *           rows->defaults a missing value is DEFAULT (SQLite, which has
 *           no DEFAULT in VALUES: the column's default expression from
 *           the schema, or NULL), with
 *           ON CONFLICT (conflict_col) DO UPDATE/NOTHING for MERGE/IGNORE
 *   update_where: UPDATE ... SET the n assignments (n >= 1) WHERE q's
 *           conditions (none: every row); on MySQL a plan (see `then`),
 *           or for a view (no primary key) the UPDATE alone, returning
 *           no rows
 *   delete_where: DELETE ... WHERE q's conditions (none: every row) */
int data_sql_insert_rows(data_stmt_t *st, const data_table_t *t, const data_rows_t *rows,
                         data_conflict_t conflict, const data_column_t *conflict_col,
                         const data_query_t *q);
int data_sql_update_where(data_stmt_t *st, const data_table_t *t, const data_assign_t *a, size_t n,
                          const data_query_t *q);
int data_sql_delete_where(data_stmt_t *st, const data_table_t *t, const data_query_t *q);

/* Adds a copy of v to st's parameters without writing a placeholder:
 * for text that already holds it (a table's from_sql), whose parameters
 * come first. PH_OK or PH_ERROR (memory; st->oom is then set). */
int data_stmt_bind(data_stmt_t *st, const data_value_t *v);

/* Appends SQL text (no values: those go through placeholders) to st,
 * before or after a builder's statement, to wrap it. PH_OK, or PH_ERROR
 * when out of memory (st->oom is then set). */
int data_stmt_puts(data_stmt_t *st, const char *text);

void data_stmt_free(data_stmt_t *st);

#endif
