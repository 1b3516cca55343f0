/*
 * Remote procedure calls of the data API, PostgREST's /rpc/<name>: the
 * callable functions read at start-up, and the SQL of one call. Pure: no
 * database (the backends fill the model, data_rpc_load.h).
 *
 * What a name calls, per backend:
 *   PostgreSQL  a function listed in `functions`, called with named
 *               arguments, each a text parameter cast to the argument's
 *               type: FROM fn("a" => $1::integer) AS "fn"
 *   MySQL       a stored function listed in `functions`, arguments by
 *               position: FROM (SELECT fn(?, ?) AS `fn`) AS `fn`
 *   SQLite      a named query of the route, rpc.NAME = SELECT ... :arg,
 *               its :names rewritten to ?N: FROM (SELECT ...) AS "NAME"
 * The call is a table source (data_table_t.from_sql) whose columns are
 * the function's shape, so the usual select list, filters, order and
 * paging of data_query.h apply to its result.
 */
#ifndef DATA_RPC_H
#define DATA_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "data_dialect.h"
#include "data_schema.h"
#include "data_sql.h"

/* What a call answers with. */
typedef enum data_rpc_ret {
    DATA_RPC_SCALAR, /* one value: the bare JSON value                  */
    DATA_RPC_ROW,    /* one composite row (PostgreSQL): a JSON object   */
    DATA_RPC_SET     /* rows: a JSON array of objects                   */
} data_rpc_ret_t;

typedef struct data_rpc_arg {
    char *name;
    char *cast;       /* PostgreSQL: the argument's type, as a cast; else NULL */
    bool has_default; /* PostgreSQL: may be left out of a call */
} data_rpc_arg_t;

typedef struct data_rpc_fn {
    char *name; /* as exposed: /rpc/<name> */
    char *call; /* PostgreSQL: the function's regproc text (quoted, qualified
                   when off the search path); MySQL: its name; SQLite: the
                   query with ?N placeholders, N the argument's index + 1 */
    data_rpc_arg_t *args;
    size_t nargs;
    data_rpc_ret_t ret;
    bool writes; /* may change data (volatile; an SQLite query that writes):
                    POST only, refused on read-only routes */
    char *row_table; /* PostgreSQL: the table whose rows it returns
                        (SETOF t, or one t), for embedding; else NULL */
    bool none;   /* returns nothing (PostgreSQL void): answers null, as
                    PostgREST does */
    bool plain;  /* runs as it is, never a derived table (an SQLite query
                    that writes, a MySQL procedure): its rows are answered
                    whole, without select, filters, order or paging */
} data_rpc_fn_t;

/* The callable functions; shapes.tables[i] holds the result columns of
 * fns[i] (named like it, without a primary key). Read-only after start-up. */
typedef struct data_rpc {
    data_rpc_fn_t *fns;
    size_t n;
    data_schema_t shapes;
} data_rpc_t;

/* Appends a function (strings copied) and its empty shape. Returns it, or
 * NULL when out of memory; valid until the next add. The shape is
 * data_rpc_shape(rpc, rpc->n - 1). */
data_rpc_fn_t *data_rpc_add(data_rpc_t *rpc, const char *name, const char *call, data_rpc_ret_t ret,
                            bool writes);

/* Appends an argument to fn (strings copied; cast may be NULL). PH_OK or
 * PH_ERROR (memory). */
int data_rpc_add_arg(data_rpc_fn_t *fn, const char *name, const char *cast, bool has_default);

data_table_t *data_rpc_shape(data_rpc_t *rpc, size_t i);

/* The function named name (len bytes) and its shape; NULL when none. */
const data_rpc_fn_t *data_rpc_find(const data_rpc_t *rpc, const char *name, size_t len,
                                   const data_table_t **shape);

void data_rpc_free(data_rpc_t *rpc);

/* Once the schema is linked (data_schema_link): a function returning the
 * rows of an exposed table gets that table's relationships on its shape,
 * so its result embeds like the table (the shape names the call's alias,
 * and embedding joins by column name). PH_OK or PH_ERROR (memory). */
int data_rpc_link(data_rpc_t *rpc, const data_schema_t *schema);

/* SQLite: rewrites the named parameters (:name, outside quotes and
 * comments) of sql into ?N placeholders, adding each distinct name to fn
 * as an argument in order of first use; *out (malloc'd) is the new text.
 * PH_OK, or PH_ERROR with a message in err. */
int data_rpc_sqlite_params(data_rpc_fn_t *fn, const char *sql, char **out, char *err, size_t errlen);

/* The values of one call, by argument index: given[i] says whether
 * vals[i] came with the request. */
typedef struct data_rpc_call {
    data_value_t *vals;
    bool *given;
    size_t n;
} data_rpc_call_t;

/* Reads the arguments of a POST body (a JSON object from data_num_loadb;
 * NULL: none): a string is text, a number or boolean its own kind (a
 * number kept as its text an exact DATA_VALUE_NUM, data_num.h), null
 * NULL, an object or array its JSON text. PH_OK; PH_ERROR with a message in err when a key names no
 * argument (*unknown set) or out of memory. Free with data_rpc_call_free. */
int data_rpc_call_json(const data_rpc_fn_t *fn, const json_t *obj, data_rpc_call_t *c, bool *unknown,
                       char *err, size_t errlen);

/* Prepares an empty call for fn, to be filled by data_rpc_call_text. */
int data_rpc_call_init(const data_rpc_fn_t *fn, data_rpc_call_t *c);

/* Sets argument i from the text s (len bytes, valid UTF-8, decoded): a
 * GET's query parameter. PH_OK or PH_ERROR (memory, or given twice). */
int data_rpc_call_text(data_rpc_call_t *c, size_t i, const char *s, size_t len);

/* Index of the argument named name (len bytes) of fn, or -1. */
long data_rpc_arg_index(const data_rpc_fn_t *fn, const char *name, size_t len);

/* Whether every argument without a default is given; else the first
 * missing one's name in *missing. */
bool data_rpc_call_complete(const data_rpc_fn_t *fn, const data_rpc_call_t *c, const char **missing);

void data_rpc_call_free(data_rpc_call_t *c);

/* Binds the call's values into the empty st (data_stmt_bind) and returns
 * the table source that uses them (malloc'd), or NULL when out of memory.
 * Its parameters come first, so the statement built on it numbers its own
 * after them. */
char *data_rpc_from(const data_rpc_fn_t *fn, const data_rpc_call_t *c, data_stmt_t *st);

/* A plain function's statement (the SQLite query as it is, MySQL's
 * CALL p(?, ...)), its arguments bound into the empty st. PH_OK or
 * PH_ERROR (memory). */
int data_rpc_plain(const data_rpc_fn_t *fn, const data_rpc_call_t *c, data_stmt_t *st);

#endif
